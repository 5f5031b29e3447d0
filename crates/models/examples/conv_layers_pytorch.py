"""PyTorch's twin of `conv_layers.rs`: the same layer sets (`semantic`: the semantic
autoencoder's 3 x 3 "same" convolutions; `gan`: the pix2pix generator's 4 x 4 stride-2
convolutions and transposed convolutions; `dcgan`: the DCGAN's transposed convolutions and
convolutions at the cosmo_gan config's size), batch and passes (forward; forward with the weight
gradient; with both gradients), timed the same way.

`python conv_layers_pytorch.py [semantic|gan|dcgan] [batch]` (one thread); prints milliseconds per call."""

import sys
import time

import torch

# (transposed, channels, filters, side, kernel, stride, padding)
SEMANTIC = [(False, c, f, s, 3, 1, 1) for c, f, s in
            [(1, 32, 64), (32, 32, 64), (32, 64, 32), (64, 64, 32), (64, 128, 16), (128, 128, 16)]]
GAN = [(False, c, f, s, 4, 2, 1) for c, f, s in
       [(3, 32, 64), (32, 64, 32), (64, 128, 16), (128, 256, 8), (256, 256, 4), (256, 256, 2)]] + \
      [(True, c, f, s, 4, 2, 1) for c, f, s in
       [(256, 256, 1), (512, 256, 2), (512, 128, 4), (256, 64, 8), (128, 32, 16), (64, 3, 32)]]
DCGAN = [(True, c, f, s, 4, 2, 1) for c, f, s in [(256, 128, 4), (128, 64, 8), (64, 32, 16), (32, 1, 32)]] + \
        [(False, c, f, s, 4, 2, 1) for c, f, s in [(1, 32, 64), (32, 64, 32), (64, 128, 16), (128, 256, 8)]]
SETS = {"semantic": SEMANTIC, "gan": GAN, "dcgan": DCGAN}


def milliseconds(step):
    """Milliseconds per call of `step`, over 20 calls after 2."""
    step()
    step()
    start = time.perf_counter()
    for _ in range(20):
        step()
    return (time.perf_counter() - start) / 20 * 1e3


def main():
    args = sys.argv[1:]
    layers = SEMANTIC
    if args and args[0] in SETS:
        layers = SETS[args.pop(0)]
    batch = int(args[0]) if args else 10
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"pytorch {torch.__version__}, batch {batch}; ms per call: forward, forward + weight gradient, forward + both gradients")
    for transposed, channels, filters, side, kernel, stride, padding in layers:
        kind = torch.nn.ConvTranspose2d if transposed else torch.nn.Conv2d
        conv = kind(channels, filters, kernel, stride=stride, padding=padding)
        x = torch.rand(batch, channels, side, side) * 2 - 1
        tracked = x.clone().requires_grad_()
        with torch.no_grad():
            out_side = conv(x[:1]).shape[-1]
        g = torch.rand(batch, filters, out_side, out_side) * 2 - 1

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
        name = "transposed" if transposed else "conv"
        print(f"{name:>10} {channels:>3} -> {filters:>3} on {side:>2} x {side:<2}  " + " ".join(f"{t:7.2f}" for t in times))


if __name__ == "__main__":
    main()
