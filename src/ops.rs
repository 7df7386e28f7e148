//! Safe wrappers over `csrc/ops.cpp`: ATen operators that tch's bindings lack.
use std::ffi::CStr;
use tch::Tensor;
use torch_sys::C_tensor;

unsafe extern "C" {
    fn gantry_last_error() -> *const std::os::raw::c_char;
    fn gantry_set_deterministic(on: i32) -> i32;
    fn gantry_leaky_relu(x: *mut C_tensor, slope: f64) -> *mut C_tensor;
    #[allow(clippy::too_many_arguments)]
    fn gantry_jit_finish(
        input: *const std::os::raw::c_char,
        out: *const std::os::raw::c_char,
        int_names: *const *const std::os::raw::c_char,
        int_values: *const i64,
        n_int: i32,
        str_names: *const *const std::os::raw::c_char,
        str_values: *const *const std::os::raw::c_char,
        n_str: i32,
        methods: *const std::os::raw::c_char,
    ) -> i32;
    fn gantry_fused_adam(
        params: *mut *mut C_tensor,
        grads: *mut *mut C_tensor,
        exp_avgs: *mut *mut C_tensor,
        exp_avg_sqs: *mut *mut C_tensor,
        steps: *mut *mut C_tensor,
        n: i32,
        lr: f64,
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
        eps: f64,
    ) -> i32;
}

fn last_error() -> String {
    // SAFETY: the C side returns a pointer to its thread-local, NUL-terminated string.
    unsafe { CStr::from_ptr(gantry_last_error()) }.to_string_lossy().into_owned()
}

/// Restricts libtorch to deterministic kernels (`torch.use_deterministic_algorithms(on)`,
/// `cudnn.deterministic = on`, `cudnn.benchmark = False`). cuBLAS is deterministic only with a
/// fixed workspace: the process must have `CUBLAS_WORKSPACE_CONFIG=:4096:8` (or `:16:8`) in its
/// environment before its first CUDA matrix product, as the `gantry` binary arranges at start.
pub fn set_deterministic(on: bool) {
    // SAFETY: plain setters on libtorch's global context.
    let rc = unsafe { gantry_set_deterministic(i32::from(on)) };
    assert!(rc == 0, "set_deterministic: {}", last_error());
}

/// LeakyReLU with negative slope `slope`, one fused kernel with autograd support.
pub fn leaky_relu(x: &Tensor, slope: f64) -> Tensor {
    // SAFETY: `x` outlives the call; ownership of the returned handle passes to the Tensor.
    let p = unsafe { gantry_leaky_relu(x.as_ptr() as *mut C_tensor, slope) };
    assert!(!p.is_null(), "leaky_relu: {}", last_error());
    unsafe { Tensor::from_ptr(p) }
}

/// torch.optim.Adam(fused=True)'s update of every parameter in place; `steps` are one-element
/// float tensors holding the step count, already advanced for this update.
#[allow(clippy::too_many_arguments)]
pub fn fused_adam(
    params: &[Tensor],
    grads: &[Tensor],
    m: &[Tensor],
    v: &[Tensor],
    steps: &[Tensor],
    lr: f64,
    beta1: f64,
    beta2: f64,
    weight_decay: f64,
    eps: f64,
) {
    let ptrs = |ts: &[Tensor]| ts.iter().map(|t| t.as_ptr() as *mut C_tensor).collect::<Vec<_>>();
    let (mut p, mut g, mut a, mut b, mut s) = (ptrs(params), ptrs(grads), ptrs(m), ptrs(v), ptrs(steps));
    // SAFETY: all handles are live for the call; the kernel updates them in place.
    let rc = unsafe {
        gantry_fused_adam(
            p.as_mut_ptr(),
            g.as_mut_ptr(),
            a.as_mut_ptr(),
            b.as_mut_ptr(),
            s.as_mut_ptr(),
            p.len() as i32,
            lr,
            beta1,
            beta2,
            weight_decay,
            eps,
        )
    };
    assert_eq!(rc, 0, "fused adam: {}", last_error());
}

/// Spherical interpolation between latents a and b (Shoemake 1985; White 2016 for GANs).
pub fn slerp(a: &Tensor, b: &Tensor, t: f64) -> Tensor {
    let cos = (a.dot(b) / (a.norm() * b.norm())).clamp(-1.0, 1.0).double_value(&[]);
    let omega = cos.acos();
    if omega.abs() < 1e-6 {
        return a * (1.0 - t) + b * t;
    }
    let s = omega.sin();
    a * (((1.0 - t) * omega).sin() / s) + b * ((t * omega).sin() / s)
}

/// Reloads the TorchScript module at `input`, adds integer and string attributes and the methods
/// `methods` (TorchScript source, may be empty) defines, and saves it at `out`.
pub fn jit_finish(
    input: &std::path::Path,
    out: &std::path::Path,
    ints: &[(&str, i64)],
    strs: &[(&str, &str)],
    methods: &str,
) -> std::result::Result<(), String> {
    use std::ffi::CString;
    let c = |s: &str| CString::new(s).map_err(|_| format!("`{s}` holds a NUL byte"));
    let path = |p: &std::path::Path| c(&p.to_string_lossy());
    let (input, out, methods) = (path(input)?, path(out)?, c(methods)?);
    let int_names = ints.iter().map(|(k, _)| c(k)).collect::<std::result::Result<Vec<_>, _>>()?;
    let int_values: Vec<i64> = ints.iter().map(|(_, v)| *v).collect();
    let str_names = strs.iter().map(|(k, _)| c(k)).collect::<std::result::Result<Vec<_>, _>>()?;
    let str_values = strs.iter().map(|(_, v)| c(v)).collect::<std::result::Result<Vec<_>, _>>()?;
    let ptrs = |v: &[CString]| v.iter().map(|s| s.as_ptr()).collect::<Vec<_>>();
    let (ip, sp, sv) = (ptrs(&int_names), ptrs(&str_names), ptrs(&str_values));
    // SAFETY: every pointer refers to a live CString or slice of the stated length.
    let rc = unsafe {
        gantry_jit_finish(
            input.as_ptr(),
            out.as_ptr(),
            ip.as_ptr(),
            int_values.as_ptr(),
            ip.len() as i32,
            sp.as_ptr(),
            sv.as_ptr(),
            sp.len() as i32,
            methods.as_ptr(),
        )
    };
    if rc == 0 { Ok(()) } else { Err(last_error()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slerp_endpoints_and_norm() {
        let a = Tensor::from_slice(&[1.0f32, 0.0]);
        let b = Tensor::from_slice(&[0.0f32, 1.0]);
        let mid = slerp(&a, &b, 0.5);
        let v: Vec<f32> = mid.try_into().unwrap();
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!((v[0] - h).abs() < 1e-6 && (v[1] - h).abs() < 1e-6);
        let end: Vec<f32> = slerp(&a, &b, 1.0).try_into().unwrap();
        assert!((end[1] - 1.0).abs() < 1e-6);
    }
}
