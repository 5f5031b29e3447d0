"""The PyTorch side of the `cosmo_gan` row of `cargo bench -p trainer --bench train_step`: the
same networks, shapes, batch, losses and optimisers, one adversarial update timed the same way,
on the CPU.

The networks are configs/cosmo_gan.toml's DCGAN (Rodriguez et al. 2018, at half filters), as
crates/models/src/gan/dcgan.rs: the generator maps 100 Gaussian numbers by a dense layer to
256 x 4 x 4, batch norm, ReLU, then three 4 x 4 stride-2 transposed convolutions (128, 64, 32; no
bias; batch norm; ReLU) and one to 1 channel with tanh (64 x 64); the discriminator has four
4 x 4 stride-2 convolutions (32, 64, 128, 256; bias on the first only; batch norm from the
second; leaky ReLU 0.2) and a dense layer to one logit. One update: one discriminator step, then
one generator step, each drawing fresh noise; Adam (lr 2e-4, beta1 0.5) each. Batch 32. Weights
drawn from N(0, 0.02) as ours. The paper's size (the `cosmo_gan_paper` row: 512 channels at
16 x 16 up to 256 x 256 slices): `--filters 64 --size 256 --batch 16` (the paper's code takes 64;
one update would take half a minute on 2 cores, and the rate per slice hardly depends on it).

    python crates/trainer/benches/cosmo_gan_pytorch.py [--threads 2] [--seconds 15] [--batch 32]
        [--filters 32] [--size 64]

Prints training and inference throughput in slices per second and the peak memory of each
(pytorch_timing.py).
"""

import torch
from torch import nn

from pytorch_timing import adversarial_steps, bce_with_logits, main
from galaxy_gan_pytorch import gan_init

LATENT = 100


class Generator(nn.Module):
    def __init__(self, f, size):
        super().__init__()
        base = size // 16
        self.dense = nn.Linear(LATENT, 8 * f * base * base)
        self.dense_norm = nn.BatchNorm2d(8 * f)
        ups = []
        for a, b in [(8, 4), (4, 2), (2, 1)]:
            ups += [nn.ConvTranspose2d(a * f, b * f, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(b * f), nn.ReLU()]
        self.ups = nn.Sequential(*ups)
        self.last = nn.ConvTranspose2d(f, 1, 4, stride=2, padding=1)
        self.base = (8 * f, base)

    def forward(self, z):
        c, s = self.base
        x = torch.relu(self.dense_norm(self.dense(z).reshape(-1, c, s, s)))
        return torch.tanh(self.last(self.ups(x)))


class Discriminator(nn.Module):
    def __init__(self, f, size):
        super().__init__()
        layers, cin = [], 1
        for k, mult in enumerate([1, 2, 4, 8]):
            layers.append(nn.Conv2d(cin, mult * f, 4, stride=2, padding=1, bias=k == 0))
            if k > 0:
                layers.append(nn.BatchNorm2d(mult * f))
            layers.append(nn.LeakyReLU(0.2))
            cin = mult * f
        self.convs = nn.Sequential(*layers)
        self.to_logit = nn.Linear(8 * f * (size // 16) ** 2, 1)

    def forward(self, x):
        return self.to_logit(self.convs(x).flatten(1))


def build(args):
    g, d = Generator(args.filters, args.size), Discriminator(args.filters, args.size)
    gan_init(g)
    gan_init(d)
    real = torch.rand(args.batch, 1, args.size, args.size) * 2 - 1
    generate = lambda: g(torch.randn(args.batch, LATENT))

    def d_loss():
        fake = generate().detach()
        return bce_with_logits(d(real), 1.0).mean() + bce_with_logits(d(fake), 0.0).mean()

    def g_loss():
        return bce_with_logits(d(generate()), 1.0).mean()

    train, infer = adversarial_steps(g, d, d_loss, g_loss, generate, d_steps=1)
    return train, infer, args.batch


if __name__ == "__main__":
    main("cosmo_gan", "slice", build, [("--batch", int, 32), ("--filters", int, 32), ("--size", int, 64)])
