//! Times single convolution layers on `flex`, one after another: the forward pass, the forward
//! pass with the weight gradient (the input carries none, as a network's first layer), and with
//! both gradients. Three sets: `semantic`, the semantic autoencoder's 3 x 3 "same" layers at full
//! widths on its 64 x 64 images; `gan`, the pix2pix generator's 4 x 4 stride-2 layers at the
//! `galaxy_gan` config's size (32 filters, 64 x 64 images in 3 bands), its convolutions and transposed
//! convolutions; `dcgan`, the DCGAN's at the `cosmo_gan` config's size (32 filters, 64 x 64 slices),
//! the generator's transposed convolutions and the discriminator's convolutions.
//! `conv_layers_pytorch.py` beside this file times PyTorch's the same way.
//!
//! `RAYON_NUM_THREADS=1 MIMALLOC_PURGE_DELAY=-1 cargo run --release -p astro-models --example
//! conv_layers [semantic|gan|dcgan] [batch]` (`torch.set_num_threads(1)` in the twin); prints
//! milliseconds per call.
//! The allocator is the trainer's (mimalloc), which with that setting keeps freed memory as the
//! trainer does (`crates/trainer/src/allocator.rs`): the system allocator gives large outputs back
//! to the kernel and takes them again one zeroed page at a time.

use std::io::Write;
use std::time::Instant;

use astro_models::conv2d::{conv_transpose2d, conv2d};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
use burn::tensor::{Device, Distribution, Tensor};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One layer: a convolution or a transposed convolution from `channels` to `filters` on a
/// `side x side` input, square kernel, stride and padding.
#[derive(Clone, Copy)]
struct Layer {
    transposed: bool,
    channels: usize,
    filters: usize,
    side: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
}

/// A 3 x 3 "same" convolution.
const fn same(channels: usize, filters: usize, side: usize) -> Layer {
    Layer { transposed: false, channels, filters, side, kernel: 3, stride: 1, padding: 1 }
}

/// A 4 x 4 stride-2 convolution (`transposed` false) that halves the image, or a transposed one
/// that doubles it; padding 1.
const fn halving(transposed: bool, channels: usize, filters: usize, side: usize) -> Layer {
    Layer { transposed, channels, filters, side, kernel: 4, stride: 2, padding: 1 }
}

/// The semantic autoencoder's layers at full widths.
const SEMANTIC: [Layer; 6] =
    [same(1, 32, 64), same(32, 32, 64), same(32, 64, 32), same(64, 64, 32), same(64, 128, 16), same(128, 128, 16)];

/// The pix2pix generator's layers at the `galaxy_gan` config's size: the encoder's convolutions,
/// then the decoder's transposed convolutions (each fed its skip connection too).
const GAN: [Layer; 12] = [
    halving(false, 3, 32, 64),
    halving(false, 32, 64, 32),
    halving(false, 64, 128, 16),
    halving(false, 128, 256, 8),
    halving(false, 256, 256, 4),
    halving(false, 256, 256, 2),
    halving(true, 256, 256, 1),
    halving(true, 512, 256, 2),
    halving(true, 512, 128, 4),
    halving(true, 256, 64, 8),
    halving(true, 128, 32, 16),
    halving(true, 64, 3, 32),
];

/// The DCGAN's layers at the `cosmo_gan` config's size: the generator's transposed convolutions
/// from its 4 x 4 x 256 map, then the discriminator's convolutions.
const DCGAN: [Layer; 8] = [
    halving(true, 256, 128, 4),
    halving(true, 128, 64, 8),
    halving(true, 64, 32, 16),
    halving(true, 32, 1, 32),
    halving(false, 1, 32, 64),
    halving(false, 32, 64, 32),
    halving(false, 64, 128, 16),
    halving(false, 128, 256, 8),
];

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
    let usage = || -> ! {
        eprintln!("usage: conv_layers [semantic|gan|dcgan] [batch, a positive whole number]");
        std::process::exit(2);
    };
    let mut args = std::env::args().skip(1).peekable();
    let named: Option<&[Layer]> = match args.peek().map(String::as_str) {
        Some("semantic") => Some(&SEMANTIC),
        Some("gan") => Some(&GAN),
        Some("dcgan") => Some(&DCGAN),
        _ => None,
    };
    if named.is_some() {
        args.next();
    }
    let layers = named.unwrap_or(&SEMANTIC);
    let batch = match args.next().map(|arg| arg.parse::<usize>()) {
        None => 10,
        Some(Ok(batch)) if batch > 0 => batch,
        Some(_) => usage(),
    };
    if args.next().is_some() {
        usage();
    }
    let device = Device::flex().autodiff();
    let mut out = std::io::stdout();
    // Lines that cannot be written (a closed pipe) end the run quietly.
    let mut say = |line: String| {
        if writeln!(out, "{line}").is_err() {
            std::process::exit(0);
        }
    };
    say(format!("batch {batch}; ms per call: forward, forward + weight gradient, forward + both gradients"));
    for &layer in layers {
        let Layer { transposed, channels, filters, side, kernel, stride, padding } = layer;
        let out_side = if transposed {
            (side - 1) * stride + kernel - 2 * padding
        } else {
            (side + 2 * padding - kernel) / stride + 1
        };
        let (weight, forward): (_, Box<dyn Fn(Tensor<4>) -> Tensor<4>>) = if transposed {
            let conv = ConvTranspose2dConfig::new([channels, filters], [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding([padding, padding])
                .init(&device);
            (conv.weight.clone(), Box::new(move |x| conv_transpose2d(&conv, x)))
        } else {
            let conv = Conv2dConfig::new([channels, filters], [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(padding, padding, padding, padding))
                .init(&device);
            (conv.weight.clone(), Box::new(move |x| conv2d(&conv, x)))
        };
        let x = Tensor::<4>::random([batch, channels, side, side], Distribution::Uniform(-1.0, 1.0), &device);
        let tracked = x.clone().require_grad();
        let g = Tensor::<4>::random([batch, filters, out_side, out_side], Distribution::Uniform(-1.0, 1.0), &device);
        let forward_ms = milliseconds(|| {
            forward(x.clone()).into_data();
        });
        let weight_gradient = milliseconds(|| {
            let grads = (forward(x.clone()) * g.clone()).sum().backward();
            weight.grad(&grads).expect("a weight gradient").into_data();
        });
        let both = milliseconds(|| {
            let grads = (forward(tracked.clone()) * g.clone()).sum().backward();
            weight.grad(&grads).expect("a weight gradient").into_data();
            tracked.grad(&grads).expect("an input gradient").into_data();
        });
        let kind = if transposed { "transposed" } else { "conv" };
        say(format!(
            "{kind:>10} {channels:>3} -> {filters:>3} on {side:>2} x {side:<2}  {forward_ms:7.2} {weight_gradient:7.2} {both:7.2}"
        ));
    }
}
