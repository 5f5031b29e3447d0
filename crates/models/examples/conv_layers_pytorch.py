"""PyTorch's twin of `conv_layers.rs`: the same 3 x 3 "same" convolution layers, batch and
passes (forward; forward with the weight gradient; with both gradients), timed the same way.

`python conv_layers_pytorch.py [batch]` (one thread); prints milliseconds per call."""

import sys
import time

import torch

LAYERS = [(1, 32, 64), (32, 32, 64), (32, 64, 32), (64, 64, 32), (64, 128, 16), (128, 128, 16)]


def milliseconds(step):
    """Milliseconds per call of `step`, over 20 calls after 2."""
    step()
    step()
    start = time.perf_counter()
    for _ in range(20):
        step()
    return (time.perf_counter() - start) / 20 * 1e3


def main():
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"pytorch {torch.__version__}, batch {batch}; ms per call: forward, forward + weight gradient, forward + both gradients")
    for channels, filters, side in LAYERS:
        conv = torch.nn.Conv2d(channels, filters, 3, padding=1)
        x = torch.rand(batch, channels, side, side) * 2 - 1
        tracked = x.clone().requires_grad_()
        g = torch.rand(batch, filters, side, side) * 2 - 1

        def forward():
            with torch.no_grad():
                conv(x)

        def weight_gradient():
            conv.weight.grad = None
            (conv(x) * g).sum().backward()

        def both():
            conv.weight.grad, tracked.grad = None, None
            (conv(tracked) * g).sum().backward()

        times = [milliseconds(step) for step in (forward, weight_gradient, both)]
        print(f"{channels:>3} -> {filters:>3} on {side:>2} x {side:<2}  " + " ".join(f"{t:7.2f}" for t in times))


if __name__ == "__main__":
    main()
