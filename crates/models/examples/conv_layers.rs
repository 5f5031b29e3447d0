//! Times single 3 x 3 "same" convolution layers on `flex`, one after another: the forward pass,
//! the forward pass with the weight gradient (the input carries none, as a network's first
//! layer), and with both gradients. The layers are the semantic autoencoder's at full widths on
//! its 64 x 64 images; `conv_layers_pytorch.py` beside this file times PyTorch's the same way.
//!
//! `RAYON_NUM_THREADS=1 MIMALLOC_PURGE_DELAY=-1 cargo run --release -p astro-models --example
//! conv_layers [batch]` (`torch.set_num_threads(1)` in the twin); prints milliseconds per call.
//! The allocator is the trainer's (mimalloc), which with that setting keeps freed memory as the
//! trainer does (`crates/trainer/src/allocator.rs`): the system allocator gives large outputs back
//! to the kernel and takes them again one zeroed page at a time.

use std::io::Write;
use std::time::Instant;

use astro_models::conv2d::conv2d;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::{Device, Distribution, Tensor};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The layers: input channels, filters, side.
const LAYERS: [(usize, usize, usize); 6] =
    [(1, 32, 64), (32, 32, 64), (32, 64, 32), (64, 64, 32), (64, 128, 16), (128, 128, 16)];

/// Milliseconds per call of `step`, over 20 calls after 2.
fn milliseconds(mut step: impl FnMut()) -> f64 {
    step();
    step();
    let start = Instant::now();
    for _ in 0..20 {
        step();
    }
    start.elapsed().as_secs_f64() / 20.0 * 1e3
}

fn main() {
    let batch = match std::env::args().nth(1).map(|arg| arg.parse::<usize>()) {
        None => 10,
        Some(Ok(batch)) if batch > 0 => batch,
        Some(_) => {
            eprintln!("usage: conv_layers [batch, a positive whole number]");
            std::process::exit(2);
        }
    };
    let device = Device::flex().autodiff();
    let mut out = std::io::stdout();
    // Lines that cannot be written (a closed pipe) end the run quietly.
    let mut say = |line: String| {
        if writeln!(out, "{line}").is_err() {
            std::process::exit(0);
        }
    };
    say(format!("batch {batch}; ms per call: forward, forward + weight gradient, forward + both gradients"));
    for (channels, filters, side) in LAYERS {
        let conv = Conv2dConfig::new([channels, filters], [3, 3]).with_padding(PaddingConfig2d::Same).init(&device);
        let shape = [batch, channels, side, side];
        let x = Tensor::<4>::random(shape, Distribution::Uniform(-1.0, 1.0), &device);
        let tracked = x.clone().require_grad();
        let g = Tensor::<4>::random([batch, filters, side, side], Distribution::Uniform(-1.0, 1.0), &device);
        let forward = milliseconds(|| {
            conv2d(&conv, x.clone()).into_data();
        });
        let weight_gradient = milliseconds(|| {
            let grads = (conv2d(&conv, x.clone()) * g.clone()).sum().backward();
            conv.weight.grad(&grads).expect("a weight gradient").into_data();
        });
        let both = milliseconds(|| {
            let grads = (conv2d(&conv, tracked.clone()) * g.clone()).sum().backward();
            conv.weight.grad(&grads).expect("a weight gradient").into_data();
            tracked.grad(&grads).expect("an input gradient").into_data();
        });
        say(format!(
            "{channels:>3} -> {filters:>3} on {side:>2} x {side:<2}  {forward:7.2} {weight_gradient:7.2} {both:7.2}"
        ));
    }
}
