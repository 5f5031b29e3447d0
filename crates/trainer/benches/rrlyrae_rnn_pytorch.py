"""The PyTorch side of the `rrlyrae_rnn` row of `cargo bench -p trainer --bench train_step`:
the same network, shapes, batch, loss and optimiser, timed the same way, on the CPU.

The network is configs/rrlyrae_rnn.toml's model (Dekany & Grebel 2020): two stacked
bidirectional LSTM layers of 32 + 32 units with dropout 0.1 after each, the last layer's final
states (forward after the last step, backward after the first) into a dense layer of 2 classes;
input 64 resampled steps of (phase, magnitude), batch 256, cross-entropy, Adam (lr 0.005,
gradient norm clipped at 1). Every sequence is full length (resampled), so no packing is needed.
The `rrlyrae_rnn_paper` row: `--steps 200 --batch 64`.

    python crates/trainer/benches/rrlyrae_rnn_pytorch.py [--threads 2] [--seconds 15] [--batch 256]
        [--steps 64]

Prints training and inference throughput in sequences per second and the peak memory of each
(pytorch_timing.py).
"""

import torch
from torch import nn

from pytorch_timing import main, supervised_steps


class BiLstmClassifier(nn.Module):
    def __init__(self, features=2, units=(32, 32), classes=2, dropout=0.1):
        super().__init__()
        layers, width = [], features
        for u in units:
            layers.append(nn.LSTM(width, u, batch_first=True, bidirectional=True))
            width = 2 * u
        self.layers = nn.ModuleList(layers)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(width, classes)

    def forward(self, x):
        for layer in self.layers:
            out, (h, _) = layer(x)
            x = self.dropout(out)
        # h: [2, batch, units]: the forward state after the last step, the backward after the first.
        last = torch.cat([h[0], h[1]], dim=1)
        return self.head(self.dropout(last))


def build(args):
    model = BiLstmClassifier()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.005)
    x = torch.randn(args.batch, args.steps, 2)
    y = torch.randint(0, 2, (args.batch,))
    loss_fn = nn.CrossEntropyLoss()
    train, infer = supervised_steps(model, optimiser, lambda out: loss_fn(out, y), x, clip_norm=1.0)
    return train, infer, args.batch


if __name__ == "__main__":
    main("rrlyrae_rnn", "seq", build, [("--batch", int, 256), ("--steps", int, 64)])
