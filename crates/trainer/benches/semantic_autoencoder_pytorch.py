"""The PyTorch side of the `semantic_autoencoder` row of `cargo bench -p trainer --bench
train_step`: the same network, renderer, shapes, batch, loss and optimiser, timed the same way,
on the CPU.

The network is configs/semantic_autoencoder.toml's model (Aragon-Calvo & Carvajal 2020, the
encoder at half widths), as crates/models/src/semantic: three blocks of two 3 x 3 convolutions
("same", ReLU) and 2 x 2 max pooling, of 16, 32 and 64 filters; flatten; dense 64, 32 and 3,
each with a sigmoid; the three outputs scaled to the parameters' ranges (scale [0, 1],
ellipticity [0, 1], angle [0, 180] degrees). The decoder has no weights: it renders the
exponential profile exp(-r) of the predicted parameters on the 64 x 64 grid over
[-0.0625, 0.0625], and the loss is the mean absolute difference from the profile rendered from
the true parameters. Input 64 x 64 x 1, batch 20, Adadelta (lr 1, rho 0.9, eps 1e-6). The paper's widths (the
`semantic_autoencoder_paper` row): `--widths 32,64,128`.

    python crates/trainer/benches/semantic_autoencoder_pytorch.py [--threads 2] [--seconds 15] [--batch 20]
        [--widths 16,32,64]

Prints training and inference throughput in images per second and the peak memory of each
(pytorch_timing.py).
"""

import math

import torch
from torch import nn

from pytorch_timing import main, sizes, supervised_steps

SIZE, HALF_SPAN = 64, 4.0 / 64.0
LOW = torch.tensor([[0.0, 0.0, 0.0]])
WIDTH = torch.tensor([[1.0, 1.0, 180.0]])


def encoder(widths=(16, 32, 64), dense=(64, 32), parameters=3):
    layers, cin = [], 1
    for w in widths:
        layers += [nn.Conv2d(cin, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        cin = w
    layers.append(nn.Flatten())
    width = cin * (SIZE // 2 ** len(widths)) ** 2
    for units in list(dense) + [parameters]:
        layers += [nn.Linear(width, units), nn.Sigmoid()]
        width = units
    return nn.Sequential(*layers)


def render(params):
    """The exponential profile of `params` [batch, 3] (scale, ellipticity, angle in degrees)."""
    a, e = params[:, 0:1, None], params[:, 1:2, None]
    theta = params[:, 2:3, None] * (math.pi / 180.0)
    x = torch.linspace(-HALF_SPAN, HALF_SPAN, SIZE).reshape(1, 1, SIZE)
    y = x.reshape(1, SIZE, 1)
    u = x * torch.cos(theta) + y * torch.sin(theta)
    v = y * torch.cos(theta) - x * torch.sin(theta)
    b = a * (1.0 - e)
    r2 = (u / a) ** 2 + (v / b) ** 2 + 1e-12
    return torch.exp(-torch.sqrt(r2)).reshape(-1, 1, SIZE, SIZE)


class SemanticAutoencoder(nn.Module):
    def __init__(self, widths):
        super().__init__()
        self.encoder = encoder(widths)

    def forward(self, images):
        return self.encoder(images) * WIDTH + LOW


def build(args):
    model = SemanticAutoencoder(args.widths)
    optimiser = torch.optim.Adadelta(model.parameters(), lr=1.0, rho=0.9, eps=1e-6)
    x = torch.rand(args.batch, 1, SIZE, SIZE)
    truth = torch.stack(
        [torch.empty(args.batch).uniform_(0.01, 0.05), torch.empty(args.batch).uniform_(0.0, 0.6),
         torch.empty(args.batch).uniform_(0.0, 180.0)], dim=1)

    def loss_of(predicted):
        # As the trainer's loss, the clean image is rendered from the truth at every step.
        return (render(predicted) - render(truth)).abs().flatten(1).mean(dim=1).mean()

    train, infer = supervised_steps(model, optimiser, loss_of, x)
    return train, infer, args.batch


if __name__ == "__main__":
    main("semantic_autoencoder", "img", build, [("--batch", int, 20), ("--widths", sizes, "16,32,64")])
