//! Dense math of the deep model: matrix products through `matrixmultiply`'s SIMD kernels, and Adam updates.

use super::deep::{BETA1, BETA2, EPSILON};

/// `c (m×n) = beta·c + A·B`, where `A` is `a` (row-major `m×k`, or `k×m` when `a_t`: then `A = aᵀ`) and `B` is
/// `b` (row-major `k×n`, or `n×k` when `b_t`).
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    a_t: bool,
    b: &[f32],
    b_t: bool,
    beta: f32,
    c: &mut [f32],
) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    let (rsa, csa) = if a_t {
        (1, m as isize)
    } else {
        (k as isize, 1)
    };
    let (rsb, csb) = if b_t {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    // SAFETY: the strides address elements within the first m×k of `a`, k×n of `b` and m×n of `c`, whose
    // lengths are checked above; `c` is borrowed mutably, so it overlaps neither input.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// One Adam update of `params` with the sum of the threads' gradients (then zeroed) plus `l2 × params`.
pub(super) fn adam(
    params: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    grads: &mut [&mut [f32]],
    l2: f32,
    step: f32,
) {
    // The threads' gradients summed into the first, in thread order, then one pass of straight-line
    // element-wise code the compiler vectorizes (a loop over the threads inside the element loop kept it
    // scalar: a fifth of the deep model's training time on 27,000 rows).
    let Some((first, rest)) = grads.split_first_mut() else {
        return;
    };
    let n = params.len();
    let (params, m, v, first) = (&mut params[..n], &mut m[..n], &mut v[..n], &mut first[..n]);
    for (i, g) in first.iter_mut().enumerate() {
        *g += l2 * params[i];
    }
    for t in rest.iter_mut() {
        for (g, d) in first.iter_mut().zip(t[..n].iter_mut()) {
            *g += *d;
            *d = 0.0;
        }
    }
    for (((p, m), v), g) in params
        .iter_mut()
        .zip(m.iter_mut())
        .zip(v.iter_mut())
        .zip(first.iter_mut())
    {
        *m = BETA1 * *m + (1.0 - BETA1) * *g;
        *v = BETA2 * *v + (1.0 - BETA2) * *g * *g;
        *p -= step * *m / (v.sqrt() + EPSILON);
        *g = 0.0;
    }
}

/// The same over `threads` contiguous parts of the arrays at once.
pub(super) fn adam_parallel(
    threads: usize,
    params: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    grads: Vec<&mut [f32]>,
    l2: f32,
    step: f32,
) {
    let len = params.len();
    if threads <= 1 || len < 65_536 {
        let mut grads = grads;
        adam(params, m, v, &mut grads, l2, step);
        return;
    }
    let chunk = len.div_ceil(threads);
    let mut per_part: Vec<Vec<&mut [f32]>> = (0..threads).map(|_| Vec::new()).collect();
    for g in grads {
        for (part, piece) in g.chunks_mut(chunk).enumerate() {
            per_part[part].push(piece);
        }
    }
    std::thread::scope(|s| {
        let mut parts = params
            .chunks_mut(chunk)
            .zip(m.chunks_mut(chunk))
            .zip(v.chunks_mut(chunk))
            .zip(per_part.iter_mut());
        let first = parts.next();
        for (((p, m), v), g) in parts {
            s.spawn(move || adam(p, m, v, g, l2, step));
        }
        if let Some((((p, m), v), g)) = first {
            adam(p, m, v, g, l2, step);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_multiplies_with_either_side_transposed() {
        // A = [[1, 2], [3, 4]], B = [[5, 6], [7, 8]]: A·B = [[19, 22], [43, 50]].
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [5.0, 6.0, 7.0, 8.0];
        let mut c = [0.0; 4];
        gemm(2, 2, 2, &a, false, &b, false, 0.0, &mut c);
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
        // Aᵀ·B with A stored as [[1, 3], [2, 4]].
        gemm(2, 2, 2, &[1.0, 3.0, 2.0, 4.0], true, &b, false, 0.0, &mut c);
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
        // A·Bᵀ with B stored as [[5, 7], [6, 8]], accumulated onto c.
        gemm(2, 2, 2, &a, false, &[5.0, 7.0, 6.0, 8.0], true, 1.0, &mut c);
        assert_eq!(c, [38.0, 44.0, 86.0, 100.0]);
    }
}
