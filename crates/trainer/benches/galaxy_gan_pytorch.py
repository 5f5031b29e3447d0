"""The PyTorch side of the `galaxy_gan` row of `cargo bench -p trainer --bench train_step`: the
same networks, shapes, batch, losses and optimisers, one adversarial update timed the same way,
on the CPU.

The networks are configs/galaxy_gan.toml's pix2pix (GalaxyGAN, Schawinski et al. 2017, at half
filters), as crates/models/src/gan/pix2pix.rs: a U-Net of six 4 x 4 stride-2 convolutions (32,
64, 128, 256, 256, 256 filters; bias on the first only; batch norm on all but the first and the
innermost; leaky ReLU 0.2) and five 4 x 4 stride-2 transposed convolutions back (256, 256, 128,
64, 32; no bias; batch norm; dropout 0.5 on the first three; ReLU; the skip of the same level
concatenated), then a transposed convolution to 3 channels with tanh; a patch discriminator on
condition and image stacked (6 channels): four 4 x 4 stride-2 convolutions (32, 64, 128, 256;
batch norm from the second; leaky ReLU 0.2), a 3 x 3 convolution to one logit per patch, the
patches' mean. One update: two discriminator steps, then one generator step on the adversarial
loss plus 100 times the L1 distance; Adam (lr 2e-4, beta1 0.5) each. 64 x 64 x 3, batch 16.
Weights drawn from N(0, 0.02) as ours. The paper's size (the `galaxy_gan_paper` row; the U-Net
halves down to 1 x 1, eight times on 256 pixels): `--filters 64 --size 256 --batch 1`.

    python crates/trainer/benches/galaxy_gan_pytorch.py [--threads 2] [--seconds 15] [--batch 16]
        [--filters 32] [--size 64]

Prints training and inference throughput in images per second and the peak memory of each
(pytorch_timing.py).
"""

import torch
from torch import nn

from pytorch_timing import adversarial_steps, bce_with_logits, main


def width(filters, level):
    return filters << min(level, 3)


def down(cin, cout, bias, bn):
    layers = [nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=bias)]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)


class UNet(nn.Module):
    def __init__(self, channels=3, filters=32, depth=6):
        super().__init__()
        self.down = nn.ModuleList(
            down(channels if l == 0 else width(filters, l - 1), width(filters, l), l == 0, 0 < l < depth - 1)
            for l in range(depth))
        ups = []
        for l in reversed(range(depth - 1)):
            cin = width(filters, l + 1) if l + 2 == depth else 2 * width(filters, l + 1)
            block = [nn.ConvTranspose2d(cin, width(filters, l), 4, stride=2, padding=1, bias=False),
                     nn.BatchNorm2d(width(filters, l))]
            if depth - 2 - l < 3:
                block.append(nn.Dropout(0.5))
            ups.append(nn.Sequential(*block))
        self.up = nn.ModuleList(ups)
        self.last = nn.ConvTranspose2d(2 * width(filters, 0), channels, 4, stride=2, padding=1)

    def forward(self, x):
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        skips.pop()
        for block in self.up:
            x = torch.cat([torch.relu(block(x)), skips.pop()], dim=1)
        return torch.tanh(self.last(x))


class PatchDiscriminator(nn.Module):
    def __init__(self, channels=3, filters=32, layers=4):
        super().__init__()
        self.convs = nn.Sequential(*(
            down(2 * channels if l == 0 else width(filters, l - 1), width(filters, l), l == 0, l > 0)
            for l in range(layers)))
        self.to_logit = nn.Conv2d(width(filters, layers - 1), 1, 3, padding=1)

    def forward(self, condition, image):
        patches = self.to_logit(self.convs(torch.cat([condition, image], dim=1)))
        return patches.flatten(1).mean(dim=1, keepdim=True)


def gan_init(module):
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)


def build(args):
    depth = args.size.bit_length() - 1  # every halving down to 1 x 1, as ours by default
    g, d = UNet(filters=args.filters, depth=depth), PatchDiscriminator(filters=args.filters)
    gan_init(g)
    gan_init(d)
    condition = torch.rand(args.batch, 3, args.size, args.size) * 2 - 1
    real = torch.rand(args.batch, 3, args.size, args.size) * 2 - 1

    def d_loss():
        fake = g(condition).detach()
        return bce_with_logits(d(condition, real), 1.0).mean() + bce_with_logits(d(condition, fake), 0.0).mean()

    def g_loss():
        fake = g(condition)
        return bce_with_logits(d(condition, fake), 1.0).mean() + 100.0 * (fake - real).abs().mean()

    train, infer = adversarial_steps(g, d, d_loss, g_loss, lambda: g(condition), d_steps=2)
    return train, infer, args.batch


if __name__ == "__main__":
    main("galaxy_gan", "img", build, [("--batch", int, 16), ("--filters", int, 32), ("--size", int, 64)])
