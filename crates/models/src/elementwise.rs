//! Value-by-value passes over `flex` tensors (`f32`) for the kernels of the activations
//! (`rectifier`, `host_elu`): split between rayon's threads in tasks of [`PER_TASK`] values,
//! each task's loop compiled for the CPU's vector instructions ([`vectorised_loop`]), and
//! written into the input's own buffer where no other tensor shares it, instead of a new one
//! that would first be zeroed.

use burn::backend::flex::FlexTensor;
use burn::tensor::TensorData;
use rayon::prelude::*;

use crate::on_flex::{unshared, whole};
use crate::vectorised::vectorised_loop;

/// Values a rayon task takes at least (a task costs more than a few thousand simple operations).
const PER_TASK: usize = 1 << 15;

/// `op` of each value of `a`: in `a`'s own buffer where no other tensor shares it, else in a
/// new one.
///
/// `op` should take what it reads by value (`move` a scalar in): a value read through a
/// reference is reloaded after every store, as it might alias the output, and the loop stays
/// scalar.
pub(crate) fn map(a: FlexTensor, op: impl Fn(f32) -> f32 + Sync) -> FlexTensor {
    match unshared(a) {
        Ok(mut a) => {
            a.storage_mut::<f32>()
                .par_chunks_mut(PER_TASK)
                .for_each(|a| vectorised_loop(|| a.iter_mut().for_each(|v| *v = op(*v))));
            a
        }
        Err(a) => {
            let mut out = crate::on_flex::zeros::<f32>(a.layout().num_elements());
            out.par_chunks_mut(PER_TASK).zip(a.storage::<f32>().par_chunks(PER_TASK)).for_each(|(out, a)| {
                vectorised_loop(|| {
                    for (o, &a) in out.iter_mut().zip(a) {
                        *o = op(a);
                    }
                })
            });
            FlexTensor::from_data(TensorData::new(out, a.layout().shape().clone()))
        }
    }
}

/// `op(a, b)` of each pair of values of `a` and `b` (of one shape): in `b`'s own buffer where no
/// other tensor shares it, else in a new one. `op` as [`map`]'s.
///
/// # Panics
/// Where the shapes differ (the kernels pass a tensor and its own gradient).
pub(crate) fn zip_map(a: FlexTensor, b: FlexTensor, op: impl Fn(f32, f32) -> f32 + Sync) -> FlexTensor {
    let a = whole(a);
    assert_eq!(a.layout().shape(), b.layout().shape(), "an element-wise pass's tensors differ in shape");
    let a: &[f32] = a.storage();
    match unshared(b) {
        Ok(mut b) => {
            b.storage_mut::<f32>().par_chunks_mut(PER_TASK).zip(a.par_chunks(PER_TASK)).for_each(|(b, a)| {
                vectorised_loop(|| {
                    for (b, &a) in b.iter_mut().zip(a) {
                        *b = op(a, *b);
                    }
                })
            });
            b
        }
        Err(b) => {
            let mut out = crate::on_flex::zeros::<f32>(a.len());
            out.par_chunks_mut(PER_TASK)
                .zip(a.par_chunks(PER_TASK))
                .zip(b.storage::<f32>().par_chunks(PER_TASK))
                .for_each(|((out, a), b)| {
                    vectorised_loop(|| {
                        for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
                            *o = op(a, b);
                        }
                    })
                });
            FlexTensor::from_data(TensorData::new(out, b.layout().shape().clone()))
        }
    }
}
