"""Timing shared by the PyTorch twins beside the `train_step` bench (`*_pytorch.py`): the
training step and inference of one model on one fixed batch, items per second, timed as
criterion times ours (a warm-up, then repeated steps for a fixed time)."""

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


def train_and_infer(model, optimiser, loss_of, x, seconds, clip_norm=None):
    """(training step, inference) throughput of `model` on the batch `x`; `loss_of(output)` is
    the loss, and gradients are clipped to `clip_norm` when given."""

    def train_step():
        optimiser.zero_grad(set_to_none=True)
        loss = loss_of(model(x))
        loss.backward()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        optimiser.step()

    def inference():
        with torch.no_grad():
            model(x)

    model.train()
    train = rate(train_step, x.shape[0], seconds)
    model.eval()
    return train, rate(inference, x.shape[0], seconds)
