"""The PyTorch side of the `deeplens_resnet` row of `cargo bench -p trainer --bench train_step`:
the same network, shapes, batch, loss and optimiser, timed the same way, on the CPU.

The network is configs/deeplens_resnet.toml's model (CMU DeepLens, Lanusse et al. 2018, at half
widths), as crates/models/src/resnet: a 7 x 7 convolution of 16 filters (stride 1, no bias),
batch norm, ELU; five stages of three pre-activation bottleneck units (batch norm, ELU, 1 x 1
convolution to a quarter of the width, batch norm, ELU, 3 x 3 convolution with the stage's
stride, batch norm, ELU, 1 x 1 convolution to the width; a 1 x 1 projection of the
pre-activated input as the shortcut where the width or stride changes) of widths 16, 32, 64,
128, 256, stride 2 from the second stage on; batch norm, ELU, global average pooling, dense 2.
Input 45 x 45 x 1, batch 64, cross-entropy, Adam (lr 1e-3). The paper's widths (the
`deeplens_resnet_paper` row): `--stem 32 --widths 32,64,128,256,512`.

    python crates/trainer/benches/deeplens_resnet_pytorch.py [--threads 2] [--seconds 15] [--batch 64]
        [--stem 16] [--widths 16,32,64,128,256]

Prints training and inference throughput in images per second and the peak memory of each
(pytorch_timing.py).
"""

import torch
from torch import nn

from pytorch_timing import main, sizes, supervised_steps


def conv(cin, cout, kernel, stride=1):
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False)


class PreactBottleneck(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        inner = max(cout // 4, 1)
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), conv(cin, inner, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(inner), conv(inner, inner, 3, stride)
        self.bn3, self.conv3 = nn.BatchNorm2d(inner), conv(inner, cout, 1)
        self.shortcut = conv(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x):
        pre = nn.functional.elu(self.bn1(x))
        shortcut = self.shortcut(pre) if self.shortcut is not None else x
        y = self.conv1(pre)
        y = self.conv2(nn.functional.elu(self.bn2(y)))
        y = self.conv3(nn.functional.elu(self.bn3(y)))
        return y + shortcut


class DeepLens(nn.Module):
    def __init__(self, channels=1, stem=16, widths=(16, 32, 64, 128, 256), units=3, classes=2):
        super().__init__()
        self.conv1, self.bn1 = conv(channels, stem, 7), nn.BatchNorm2d(stem)
        layers, cin = [], stem
        for i, w in enumerate(widths):
            for j in range(units):
                layers.append(PreactBottleneck(cin if j == 0 else w, w, (1 if i == 0 else 2) if j == 0 else 1))
            cin = w
        self.layers = nn.Sequential(*layers)
        self.final_bn = nn.BatchNorm2d(cin)
        self.head = nn.Linear(cin, classes)

    def forward(self, x):
        x = nn.functional.elu(self.bn1(self.conv1(x)))
        x = nn.functional.elu(self.final_bn(self.layers(x)))
        return self.head(x.mean(dim=(2, 3)))


def build(args):
    model = DeepLens(stem=args.stem, widths=args.widths)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(args.batch, 1, 45, 45)
    y = torch.randint(0, 2, (args.batch,))
    loss_fn = nn.CrossEntropyLoss()
    train, infer = supervised_steps(model, optimiser, lambda out: loss_fn(out, y), x)
    return train, infer, args.batch


if __name__ == "__main__":
    main("deeplens_resnet", "img", build, [("--batch", int, 64), ("--stem", int, 16), ("--widths", sizes, "16,32,64,128,256")])
