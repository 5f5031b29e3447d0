"""Timing shared by the PyTorch twins beside the `train_step` bench (`*_pytorch.py`): the
training step and inference of one network on one fixed batch, items per second, timed as
criterion times ours (a warm-up, then repeated steps for a fixed time), and the peak memory
each needs.

Each phase runs in a fresh process of the twin (`--phase train` or `--phase inference`): the
process builds the network and its batch, then resets the kernel's peak resident size
(`/proc/self/clear_refs`) and reports how far above its resident size at that point the peak
went during the phase. The bench measures ours the same way but in bytes allocated (exact, a
counting allocator): the most held above what was held before the row's first steps. Both
leave out the network and its batch and count the optimiser state made in the first step;
PyTorch's resident size also counts the allocator's own keeping and the threads' stacks.
"""

import argparse
import subprocess
import sys
import time

import torch


def rate(step, batch, seconds):
    """Items per second of `step` over about `seconds` after a warm-up."""
    for _ in range(3):
        step()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        done += 1
    return done * batch / (time.perf_counter() - start)


def supervised_steps(model, optimiser, loss_of, x, clip_norm=None):
    """The (training step, inference) of `model` on the batch `x`; `loss_of(output)` is the loss,
    and gradients are clipped to `clip_norm` when given."""

    def train_step():
        model.train()
        optimiser.zero_grad(set_to_none=True)
        loss = loss_of(model(x))
        loss.backward()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        optimiser.step()

    def inference():
        model.eval()
        with torch.no_grad():
            model(x)

    return train_step, inference


def adversarial_steps(generator, discriminator, d_loss, g_loss, generate, d_steps, lr=2e-4, beta1=0.5):
    """The (adversarial update, inference) of a GAN, as the trainer's loop: `d_steps`
    discriminator steps on `d_loss()`, then one generator step on `g_loss()`, each player with
    its own Adam (betas `beta1`, 0.999); inference is `generate()` in evaluation mode."""
    optim_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=(beta1, 0.999))
    optim_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(beta1, 0.999))

    def train_step():
        generator.train()
        discriminator.train()
        for _ in range(d_steps):
            optim_d.zero_grad(set_to_none=True)
            loss = d_loss()
            loss.backward()
            optim_d.step()
            loss.item()  # the trainer logs each loss: one sync per step, as here
        optim_g.zero_grad(set_to_none=True)
        loss = g_loss()
        loss.backward()
        optim_g.step()
        loss.item()

    def inference():
        generator.eval()
        with torch.no_grad():
            generate()

    return train_step, inference


def bce_with_logits(logits, target):
    """Per-item binary cross-entropy on logits against a constant target, as the trainer's."""
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target), reduction="none")


def _resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def _peak_resident_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def _measure(phase, build, seconds):
    """Rate and peak memory above the start of one phase, in this process."""
    train_step, inference, batch = build()
    step = train_step if phase == "train" else inference
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # the peak resident size restarts from the present one
        base = _resident_bytes()
    except OSError:
        base = None
    items_per_second = rate(step, batch, seconds)
    peak = _peak_resident_bytes()
    grew = "none" if base is None or peak is None else str(max(peak - base, 0))
    print(f"phase {phase} rate {items_per_second:.3f} peak_bytes {grew}")


def _run_phase(phase):
    """Runs this twin again for one phase; returns (rate, peak bytes or None)."""
    argv = [sys.executable] + sys.argv + ["--phase", phase]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
    rate_value = float(out[out.index("rate") + 1])
    peak = out[out.index("peak_bytes") + 1]
    return rate_value, (None if peak == "none" else int(peak))


def sizes(text):
    """A comma-separated list of layer sizes from the command line: "32,64,128" -> (32, 64, 128)."""
    return tuple(int(v) for v in text.split(","))


def main(name, unit, build, arguments=()):
    """The twin's command line: `--threads` (2), `--seconds` (15) and the twin's own
    `arguments` (`(flag, type, default)`); `build(args)` makes the network and its batch and
    returns (training step, inference, batch size). Prints one line:
    `pytorch <version> threads <n>: <name> train_step <rate> <unit>/s, inference <rate> <unit>/s,
    peak_train_mb <MB>, peak_inference_mb <MB>`."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--phase", choices=["train", "inference"])
    for flag, kind, default in arguments:
        parser.add_argument(flag, type=kind, default=default)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.phase is not None:
        _measure(args.phase, lambda: build(args), args.seconds)
        return
    (train, train_peak), (infer, infer_peak) = _run_phase("train"), _run_phase("inference")
    mb = lambda b: "not measured (no /proc)" if b is None else f"{b / 2**20:.0f}"
    # Three significant figures below 100 items/s (the paper-size GANs run at a few).
    shown = lambda r: f"{r:.0f}" if r >= 100 else f"{r:.3g}"
    print(
        f"pytorch {torch.__version__} threads {args.threads}: {name} train_step {shown(train)} {unit}/s, "
        f"inference {shown(infer)} {unit}/s, peak_train_mb {mb(train_peak)}, peak_inference_mb {mb(infer_peak)}"
    )
