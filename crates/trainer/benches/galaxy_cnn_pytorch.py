"""The PyTorch side of the `galaxy_cnn` row of `cargo bench -p trainer --bench train_step`: the
same network at the same widths, shapes, batch, loss and optimiser, timed the same way, on the CPU.

The network is configs/galaxy_cnn.toml's model (Dieleman, Willett & Dambre 2015 at quarter
widths): 16 parts of 45 x 45 cut from each 98 x 98 RGB image (two views, the image and the image
rotated by 45 degrees, each also flipped; each view's four 45-pixel corners of its central 69,
turned so that the centre sits in one corner), every part pixel a fixed bilinear combination of
four input pixels gathered with `index_select` as crates/models/src/dieleman/parts.rs does; one
shared conv stack 8@6x6, pool, 16@5x5, pool, 32@3x3, 32@3x3, pool (ReLU); the 16 parts' features
concatenated; two dense layers of 512 with maxout(2) -> 256 and dropout 0.5; 37 outputs through
the Galaxy Zoo decision-tree layer (ReLU, each question's answers normalised to sum to one, the
answers below the first question scaled by the answer that leads there). MSE loss, Adam (lr 1e-3),
batch 32. The paper's size (the `galaxy_cnn_paper` row): `--channels 32,64,128,128 --dense 2048
--batch 16`.

    python crates/trainer/benches/galaxy_cnn_pytorch.py [--threads 2] [--seconds 15] [--batch 32]
        [--channels 8,16,32,32] [--dense 256]

Prints training and inference throughput in images per second and the peak memory of each
(pytorch_timing.py).
"""

import math
import numpy as np
import torch
from torch import nn

from pytorch_timing import main, sizes, supervised_steps

# Galaxy Zoo 2's 11 questions as (first answer, number of answers) over the 37 outputs, and the
# output column (already scaled, so the products are cumulative) that each question's fractions
# are scaled by (-1: asked of every galaxy): Q2 by A1.2, Q3-Q5 by A2.2, Q7 by A1.1, Q8 by A6.1,
# Q9 by A2.1, Q10 and Q11 by A4.1.
QUESTIONS = [(0, 3), (3, 2), (5, 2), (7, 2), (9, 4), (13, 2), (15, 3), (18, 7), (25, 3), (28, 6), (34, 3)]
PARENT = [-1, 1, 4, 4, 4, -1, 0, 13, 3, 7, 7]


def part_taps(input_size=98, view_size=69, part_size=45):
    """Four (index, weight) bilinear taps per part pixel, part-major, into the flattened plane."""
    idx = np.zeros((4, 16 * part_size * part_size), dtype=np.int64)
    wts = np.zeros((4, 16 * part_size * part_size), dtype=np.float32)
    centre = (input_size - 1) / 2.0
    p = 0
    for angle in (0.0, math.pi / 4):
        for flip in (False, True):
            for corner in range(4):
                for r in range(part_size):
                    for c in range(part_size):
                        # Turn the part so the centre is in its top-left corner, then place it.
                        rr, cc = [(r, c), (c, part_size - 1 - r), (part_size - 1 - r, part_size - 1 - c),
                                  (part_size - 1 - c, r)][corner]
                        y = rr - (view_size - 1) / 2.0 + (corner // 2) * (view_size - part_size)
                        x = cc - (view_size - 1) / 2.0 + (corner % 2) * (view_size - part_size)
                        if flip:
                            x = -x
                        sy = centre + y * math.cos(angle) - x * math.sin(angle)
                        sx = centre + y * math.sin(angle) + x * math.cos(angle)
                        y0, x0 = math.floor(sy), math.floor(sx)
                        for k, (dy, dx) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
                            yy, xx = y0 + dy, x0 + dx
                            w = (1 - abs(sy - yy)) * (1 - abs(sx - xx))
                            inside = 0 <= yy < input_size and 0 <= xx < input_size
                            idx[k, p] = yy * input_size + xx if inside else 0
                            wts[k, p] = w if inside else 0.0
                        p += 1
    return torch.from_numpy(idx), torch.from_numpy(wts)


class Maxout(nn.Module):
    def __init__(self, inputs, units, pieces=2):
        super().__init__()
        self.linear = nn.Linear(inputs, units * pieces)
        self.units, self.pieces = units, pieces

    def forward(self, x):
        return self.linear(x).view(x.shape[0], self.units, self.pieces).max(dim=2).values


class Dieleman(nn.Module):
    def __init__(self, channels=(8, 16, 32, 32), dense=256, outputs=37, input_size=98, part_size=45):
        super().__init__()
        self.index, self.weight = part_taps(input_size, 69, part_size)
        self.part_size = part_size
        c1, c2, c3, c4 = channels
        self.convs = nn.Sequential(
            nn.Conv2d(3, c1, 6), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c2, c3, 3), nn.ReLU(),
            nn.Conv2d(c3, c4, 3), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.dropout = nn.Dropout(0.5)
        self.dense1 = Maxout(16 * c4 * 2 * 2, dense)
        self.dense2 = Maxout(dense, dense)
        self.out = nn.Linear(dense, outputs)

    def parts(self, x):
        b, ch, h, w = x.shape
        flat = x.reshape(b, ch, h * w)
        cut = sum(flat.index_select(2, self.index[k]) * self.weight[k] for k in range(4))
        s = self.part_size
        return cut.view(b, ch, 16, s, s).permute(0, 2, 1, 3, 4).reshape(b * 16, ch, s, s)

    def forward(self, x):
        b = x.shape[0]
        features = self.convs(self.parts(x)).reshape(b, -1)
        hidden = self.dense2(self.dropout(self.dense1(self.dropout(features))))
        return galaxy_zoo(self.out(self.dropout(hidden)))


def galaxy_zoo(z):
    z = torch.relu(z)
    fractions = [z[:, a:a + n] / (z[:, a:a + n].sum(dim=1, keepdim=True) + 1e-12) for a, n in QUESTIONS]
    out = []
    for q, f in enumerate(fractions):
        parent = PARENT[q]
        out.append(f if parent < 0 else f * torch.cat(out, dim=1)[:, parent:parent + 1])
    return torch.cat(out, dim=1)


def build(args):
    model = Dieleman(args.channels, args.dense)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(args.batch, 3, 98, 98)
    y = torch.rand(args.batch, 37)
    train, infer = supervised_steps(model, optimiser, lambda out: ((out - y) ** 2).mean(), x)
    return train, infer, args.batch


if __name__ == "__main__":
    main("galaxy_cnn", "img", build, [("--batch", int, 32), ("--channels", sizes, "8,16,32,32"), ("--dense", int, 256)])
