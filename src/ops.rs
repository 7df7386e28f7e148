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
    fn gantry_bump_sequence(n: i64);
    fn gantry_sequence_peek() -> u64;
    fn gantry_autocast_bf16(cuda: i32, on: i32) -> i32;
    fn gantry_cuda_bf16() -> i32;
    fn gantry_profile_start(cuda: i32) -> i32;
    fn gantry_profile_stop(counts: *mut i64) -> i32;
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

/// `x` (4-D) with channels-last strides: the same values and shape, laid out N, H, W, C in
/// memory, as PyTorch's `x.to(memory_format=torch.channels_last)`. libtorch's CPU convolutions
/// (oneDNN) then run in that layout and keep it in their outputs. Whether that pays depends on
/// the network: on UNIT's digit networks (batch 32, 16–64 channels, 32 px) single convolutions
/// ran 1.1–1.6× faster; on CycleGAN's small preset (batch 4, instance norm after every
/// convolution, which hands back the usual layout) the step was slower, so only UNIT uses it.
/// Autograd passes through; on other devices and ranks `x` is returned as it is.
pub fn channels_last(x: &Tensor) -> Tensor {
    if x.dim() != 4 || x.device() != tch::Device::Cpu {
        return x.shallow_clone();
    }
    x.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
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

/// Advances the calling thread's autograd sequence counter by `n` (see csrc/ops.cpp: it keeps
/// the order in which CUDA's backward pass runs ready nodes independent of the process's past).
pub fn bump_sequence(n: i64) {
    // SAFETY: increments a thread-local counter.
    unsafe { gantry_bump_sequence(n) }
}

/// The calling thread's autograd sequence counter.
pub fn sequence_peek() -> u64 {
    // SAFETY: reads a thread-local counter.
    unsafe { gantry_sequence_peek() }
}

/// Runs `f` under autocast to bfloat16 on `device` (matrix products and convolutions in bf16;
/// reductions, losses and norms in fp32, by ATen's autocast lists).
pub fn autocast_bf16<T>(device: tch::Device, f: impl FnOnce() -> T) -> T {
    let cuda = i32::from(device.is_cuda());
    // SAFETY: plain setters on libtorch's thread-local autocast state.
    let rc = unsafe { gantry_autocast_bf16(cuda, 1) };
    assert_eq!(rc, 0, "autocast: {}", last_error());
    let out = f();
    let rc = unsafe { gantry_autocast_bf16(cuda, 0) };
    assert_eq!(rc, 0, "autocast: {}", last_error());
    out
}

/// Whether the current CUDA device has bfloat16 arithmetic (compute capability 8.0 or later).
pub fn cuda_has_bf16() -> bool {
    // SAFETY: a query on libtorch's CUDA hooks.
    unsafe { gantry_cuda_bf16() == 1 }
}

/// What libtorch's profiler counted between `profile_start` and `profile_stop`.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ProfileCounts {
    /// ATen operators called (nested ones included: `linear` and the `addmm` it calls).
    pub aten_ops: i64,
    /// Activities on the GPU: kernels, copies and fills.
    pub gpu_activities: i64,
    /// Kernel launches from the host.
    pub kernel_launches: i64,
    /// Host synchronisations (stream, event and device).
    pub synchronisations: i64,
    /// Copies between host and device.
    pub copies: i64,
    /// CUDA graph launches.
    pub graph_launches: i64,
}

/// Starts libtorch's profiler on this thread (and the GPU when `cuda`).
pub fn profile_start(cuda: bool) -> std::result::Result<(), String> {
    // SAFETY: starts libtorch's profiler; errors come back as a code.
    if unsafe { gantry_profile_start(i32::from(cuda)) } == 0 { Ok(()) } else { Err(last_error()) }
}

/// Stops the profiler that `profile_start` started and counts its events.
pub fn profile_stop() -> std::result::Result<ProfileCounts, String> {
    let mut c = [0i64; 6];
    // SAFETY: `c` holds the six counts the C side writes.
    if unsafe { gantry_profile_stop(c.as_mut_ptr()) } != 0 {
        return Err(last_error());
    }
    Ok(ProfileCounts {
        aten_ops: c[0],
        gpu_activities: c[1],
        kernel_launches: c[2],
        synchronisations: c[3],
        copies: c[4],
        graph_launches: c[5],
    })
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
    fn channels_last_keeps_values_and_shape_and_lays_channels_innermost() {
        use tch::nn::{self, Module};
        use tch::{Device, Kind};
        let x = Tensor::rand([2, 3, 5, 4], (Kind::Float, Device::Cpu));
        let y = channels_last(&x);
        assert_eq!(y.size(), x.size());
        // N, H, W, C in memory: channel stride 1, width stride C, height stride W·C
        assert_eq!(y.stride(), vec![60, 1, 12, 3]);
        assert_eq!((&y - &x).abs().max().double_value(&[]), 0.0);
        // a convolution gives the same function in either layout (to float rounding), and the
        // gradient reaches the caller's tensor
        let vs = nn::VarStore::new(Device::Cpu);
        let conv = nn::conv2d(vs.root(), 3, 8, 3, Default::default());
        let xg = x.set_requires_grad(true);
        let a = conv.forward(&xg);
        let b = conv.forward(&channels_last(&xg));
        assert!((&a - &b).abs().max().double_value(&[]) < 1e-5);
        let ga = Tensor::run_backward(&[a.sum(Kind::Float)], &[&xg], false, false);
        let gb = Tensor::run_backward(&[b.sum(Kind::Float)], &[&xg], false, false);
        assert_eq!(gb[0].size(), x.size());
        assert!((&ga[0] - &gb[0]).abs().max().double_value(&[]) < 1e-5);
        // other ranks pass through unchanged
        let v = Tensor::rand([4, 3], (Kind::Float, Device::Cpu));
        assert_eq!(channels_last(&v).stride(), v.stride());
    }

    #[test]
    fn bump_advances_this_threads_autograd_counter() {
        let before = sequence_peek();
        bump_sequence(1000);
        assert_eq!(sequence_peek(), before + 1000);

        // a node made by an operation on a tensor that requires grad takes the next number
        let x = Tensor::ones([1], (tch::Kind::Float, tch::Device::Cpu)).set_requires_grad(true);
        let _y = &x * 2.0;
        assert_eq!(sequence_peek(), before + 1001);
    }

    #[test]
    fn autocast_bf16_casts_matrix_products_and_keeps_reductions_in_fp32() {
        // ATen's autocast lists: mm is cast to the autocast dtype, sum stays fp32 (and `mse_loss`
        // is on the fp32 list): torch.autocast("cpu", torch.bfloat16) gives the same dtypes.
        let a = Tensor::ones([4, 4], (tch::Kind::Float, tch::Device::Cpu));
        let (mm, loss) = autocast_bf16(tch::Device::Cpu, || {
            let mm = a.mm(&a);
            let loss = mm.mse_loss(&a, tch::Reduction::Mean);
            (mm, loss)
        });
        assert_eq!(mm.kind(), tch::Kind::BFloat16);
        assert_eq!(loss.kind(), tch::Kind::Float);
        assert_eq!(mm.to_kind(tch::Kind::Float).double_value(&[0, 0]), 4.0);
        // and it is off again afterwards
        assert_eq!(a.mm(&a).kind(), tch::Kind::Float);
    }

    #[test]
    fn profiler_counts_aten_operators() {
        let a = Tensor::ones([8, 8], (tch::Kind::Float, tch::Device::Cpu));
        profile_start(false).unwrap();
        for _ in 0..3 {
            let _ = a.mm(&a).relu();
        }
        let c = profile_stop().unwrap();
        // three aten::mm and three aten::relu at least (relu may call clamp_min inside)
        assert!(c.aten_ops >= 6, "{c:?}");
        assert_eq!((c.kernel_launches, c.gpu_activities), (0, 0));
    }

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
