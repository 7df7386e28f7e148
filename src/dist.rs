//! Data-parallel training on torch.distributed's process groups (Gloo, through `csrc/dist.cpp`).
//!
//! One process per rank joins the group from the environment `torchrun` sets (`RANK`,
//! `WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT`); `gantry train --nproc N` starts N such processes
//! on this machine (`launch`). Every rank holds the whole model. Within a training step
//! (`sharded`) every random draw and every batch is made at the global size, from the same
//! seeded stream on every rank, and each rank keeps its own rows (`draw`, `span`): the ranks'
//! shards together are exactly the batch one process would draw. Before each optimiser step the
//! gradients are averaged over the ranks (`average`), so with equal shards the update is the one
//! of the combined batch's mean loss. Batch norm keeps per-rank statistics, as PyTorch's DDP does.
use crate::error::{Error, Result};
use std::cell::Cell;
use std::ffi::{CStr, CString, c_void};
use std::sync::OnceLock;
use tch::Tensor;
use torch_sys::C_tensor;

unsafe extern "C" {
    fn gantry_dist_error() -> *const std::os::raw::c_char;
    fn gantry_dist_init(
        addr: *const std::os::raw::c_char,
        port: i32,
        rank: i32,
        world: i32,
        timeout_ms: i64,
        local: i32,
    ) -> *mut c_void;
    fn gantry_dist_allreduce_sum(group: *mut c_void, t: *mut C_tensor) -> i32;
    fn gantry_dist_broadcast(group: *mut c_void, t: *mut C_tensor, root: i32) -> i32;
    #[allow(clippy::too_many_arguments)]
    fn gantry_dist_grad_average(
        group: *mut c_void,
        loss: *mut C_tensor,
        inputs: *const *mut C_tensor,
        n: i32,
        keep_graph: i32,
        first_bytes: i64,
        bucket_bytes: i64,
        out: *mut *mut C_tensor,
    ) -> i32;
    fn gantry_dist_last_overlapped() -> i32;
    #[allow(clippy::too_many_arguments)]
    fn gantry_dist_sync_batch_norm(
        group: *mut c_void,
        x: *mut C_tensor,
        weight: *mut C_tensor,
        bias: *mut C_tensor,
        running_mean: *mut C_tensor,
        running_var: *mut C_tensor,
        momentum: f64,
        eps: f64,
    ) -> *mut C_tensor;
}

fn last_error() -> String {
    // SAFETY: the shim returns a pointer to its thread-local, NUL-terminated message.
    unsafe { CStr::from_ptr(gantry_dist_error()) }.to_string_lossy().into_owned()
}

/// This process's place in a group of ranks.
pub struct Group {
    handle: *mut c_void,
    pub rank: i64,
    pub world: i64,
    /// Gradient buckets' capacity in bytes (0: one collective after the backward pass).
    bucket_bytes: i64,
}

/// The first bucket's capacity, as PyTorch's DDP: small, so the first sum starts early.
const FIRST_BUCKET_BYTES: i64 = 1 << 20;

// SAFETY: the process group is thread-safe (Gloo serialises its collectives); gantry calls it
// from the training thread only.
unsafe impl Send for Group {}
unsafe impl Sync for Group {}

static GROUP: OnceLock<Group> = OnceLock::new();

/// The rank variables of the environment, when they describe a group of more than one process.
pub struct Env {
    pub rank: i64,
    pub world: i64,
    pub addr: String,
    pub port: u16,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Reads `RANK`, `WORLD_SIZE`, `MASTER_ADDR` and `MASTER_PORT` (as torchrun sets them). None when
/// `WORLD_SIZE` is unset or 1.
pub fn env() -> Result<Option<Env>> {
    let Some(world) = var("WORLD_SIZE") else { return Ok(None) };
    let bad = |name: &str, v: &str, what: &str| {
        Error::Usage(format!("the environment variable {name}={v} is not {what} (torchrun sets it for each rank)"))
    };
    let world: i64 = world.parse().ok().filter(|w| *w >= 1).ok_or_else(|| bad("WORLD_SIZE", &world, "a count ≥ 1"))?;
    if world == 1 {
        return Ok(None);
    }
    let rank = var("RANK").ok_or_else(|| {
        Error::Usage(format!("WORLD_SIZE={world} is set but RANK is not; start the ranks with torchrun or --nproc"))
    })?;
    let rank: i64 = rank
        .parse()
        .ok()
        .filter(|r| (0..world).contains(r))
        .ok_or_else(|| bad("RANK", &rank, "0 to WORLD_SIZE − 1"))?;
    let addr = var("MASTER_ADDR").unwrap_or_else(|| "127.0.0.1".into());
    let port = var("MASTER_PORT").unwrap_or_else(|| "29500".into());
    let port: u16 = port.parse().ok().filter(|p| *p > 0).ok_or_else(|| bad("MASTER_PORT", &port, "a port number"))?;
    Ok(Some(Env { rank, world, addr, port }))
}

/// Joins the group the environment describes (once per process); None for a single process.
/// `timeout` bounds the rendezvous and every collective: a rank that died or hangs ends the
/// others' wait with an error after it. `bucket_mb` caps the gradient buckets whose sums overlap
/// the backward pass (`train.dist_bucket_mb`; 0: one sum after it).
pub fn init(timeout: std::time::Duration, bucket_mb: f64) -> Result<Option<&'static Group>> {
    if let Some(g) = GROUP.get() {
        return Ok(Some(g));
    }
    let Some(e) = env()? else { return Ok(None) };
    let local = e.addr == "localhost" || e.addr.starts_with("127.");
    let addr = CString::new(e.addr.clone()).map_err(|_| Error::Usage("MASTER_ADDR holds a NUL byte".into()))?;
    // SAFETY: the address outlives the call; the shim returns an owned handle or null.
    let handle = unsafe {
        gantry_dist_init(
            addr.as_ptr(),
            e.port as i32,
            e.rank as i32,
            e.world as i32,
            timeout.as_millis() as i64,
            local as i32,
        )
    };
    if handle.is_null() {
        return Err(Error::Usage(format!(
            "rank {} of {} could not join the group at {}:{} ({}); check MASTER_ADDR and MASTER_PORT and that every rank starts within {} s",
            e.rank,
            e.world,
            e.addr,
            e.port,
            last_error(),
            timeout.as_secs()
        )));
    }
    let bucket_bytes = (bucket_mb * (1 << 20) as f64) as i64;
    Ok(Some(GROUP.get_or_init(|| Group { handle, rank: e.rank, world: e.world, bucket_bytes })))
}

/// The group this process joined, if any.
pub fn group() -> Option<&'static Group> {
    GROUP.get()
}

/// This process's rank (0 without a group).
pub fn rank() -> i64 {
    group().map_or(0, |g| g.rank)
}

/// Whether this process writes the run's files: rank 0, or the only process.
pub fn leads() -> bool {
    rank() == 0
}

/// A failed collective means another rank stopped or hangs: this rank cannot go on, and nothing
/// it holds is newer than rank 0's last checkpoint, so it ends here.
fn fail(what: &str) -> ! {
    eprintln!(
        "error: rank {}: {what} failed ({}): another rank has stopped or stopped answering; the run's last complete checkpoint is intact",
        rank(),
        last_error()
    );
    std::process::exit(1)
}

impl Group {
    /// Sums `t` over the ranks, in place.
    pub fn sum_(&self, t: &Tensor) {
        // SAFETY: the handle is live for the process; the tensor handle for the call.
        if unsafe { gantry_dist_allreduce_sum(self.handle, t.as_ptr() as *mut C_tensor) } != 0 {
            fail("summing over the ranks");
        }
    }

    /// Batch norm in training mode with the statistics of every rank's rows (and the backward
    /// pass's two sums over every rank), as PyTorch's SyncBatchNorm; `b`'s running statistics are
    /// updated in place. tch's batch norm defaults: momentum 0.1, ε 1e-5.
    pub fn sync_batch_norm(&self, x: &Tensor, b: &tch::nn::BatchNorm) -> Tensor {
        let c = x.size()[1];
        let ones = || Tensor::ones([c], (tch::Kind::Float, x.device()));
        let zeros = || Tensor::zeros([c], (tch::Kind::Float, x.device()));
        let w = b.ws.as_ref().map_or_else(ones, |t| t.shallow_clone());
        let s = b.bs.as_ref().map_or_else(zeros, |t| t.shallow_clone());
        // SAFETY: every handle is live for the call; the shim returns an owned tensor or null.
        let out = unsafe {
            gantry_dist_sync_batch_norm(
                self.handle,
                x.as_ptr() as *mut C_tensor,
                w.as_ptr() as *mut C_tensor,
                s.as_ptr() as *mut C_tensor,
                b.running_mean.as_ptr() as *mut C_tensor,
                b.running_var.as_ptr() as *mut C_tensor,
                0.1,
                1e-5,
            )
        };
        if out.is_null() {
            fail("synchronised batch norm");
        }
        // SAFETY: a fresh tensor handle the shim allocated, owned from here on.
        unsafe { Tensor::from_ptr(out) }
    }

    /// Rank `root`'s `t`, copied into every rank's, in place.
    pub fn broadcast_(&self, t: &Tensor, root: i64) {
        // SAFETY: as `sum_`.
        if unsafe { gantry_dist_broadcast(self.handle, t.as_ptr() as *mut C_tensor, root as i32) } != 0 {
            fail("a broadcast from rank 0");
        }
    }
}

/// The mean over the ranks of each rank's `grads`: one flat buffer summed in one collective,
/// divided by the number of ranks, and cut back into the gradients' shapes. Without a group the
/// gradients are returned as they are.
pub fn average(grads: &[Tensor]) -> Vec<Tensor> {
    let Some(g) = group() else { return grads.iter().map(|t| t.shallow_clone()).collect() };
    if grads.is_empty() {
        return vec![];
    }
    let flat = Tensor::cat(&grads.iter().map(|t| t.detach().flatten(0, -1)).collect::<Vec<_>>(), 0);
    g.sum_(&flat);
    let flat = flat / g.world as f64;
    let mut at = 0;
    grads
        .iter()
        .map(|t| {
            let n = t.numel() as i64;
            let part = flat.narrow(0, at, n).view(t.size().as_slice());
            at += n;
            part
        })
        .collect()
}

/// A player's gradients, averaged over the ranks in data-parallel training (`gradients`).
pub struct Gradients(Vec<Tensor>);

impl Gradients {
    pub fn tensors(&self) -> &[Tensor] {
        &self.0
    }
}

/// The gradients of `loss` with respect to `params` (autograd.grad; `keep_graph` keeps the graph
/// for another pass), averaged over the ranks in data-parallel training. The ranks' sums run in
/// buckets that start while the backward pass is still producing the earlier layers' gradients,
/// as PyTorch's DDP does (`csrc/dist.cpp`); with `train.dist_bucket_mb = 0`, one sum after it.
/// Both give the same values for two ranks (a sum of two numbers does not depend on the
/// bucketing); beyond two, Gloo's ring adds in an order that depends on where a value sits in
/// its buffer, so they can differ in the last bit.
pub fn gradients(loss: &Tensor, params: &[Tensor], keep_graph: bool) -> Gradients {
    let Some(g) = group() else { return Gradients(Tensor::run_backward(&[loss], params, keep_graph, false)) };
    if g.bucket_bytes == 0 || params.is_empty() {
        return Gradients(average(&Tensor::run_backward(&[loss], params, keep_graph, false)));
    }
    let inputs: Vec<*mut C_tensor> = params.iter().map(|p| p.as_ptr() as *mut C_tensor).collect();
    let mut out: Vec<*mut C_tensor> = vec![std::ptr::null_mut(); params.len()];
    // SAFETY: every handle is live for the call; the shim writes `n` owned tensor handles to
    // `out` on success.
    let rc = unsafe {
        gantry_dist_grad_average(
            g.handle,
            loss.as_ptr() as *mut C_tensor,
            inputs.as_ptr(),
            params.len() as i32,
            keep_graph as i32,
            FIRST_BUCKET_BYTES.min(g.bucket_bytes),
            g.bucket_bytes,
            out.as_mut_ptr(),
        )
    };
    if rc != 0 {
        fail("averaging the gradients over the ranks");
    }
    // SAFETY: fresh handles the shim allocated, owned from here on.
    Gradients(out.into_iter().map(|t| unsafe { Tensor::from_ptr(t) }).collect())
}

/// How many gradient buckets of the last `gradients` call started their sums before its
/// backward pass finished.
pub fn last_overlapped() -> i32 {
    // SAFETY: reads a counter.
    unsafe { gantry_dist_last_overlapped() }
}

/// Every rank's `flag` or-ed together (one small collective): the ranks agree to stop at the
/// same step when any of them received a signal.
pub fn any(flag: bool) -> bool {
    let Some(g) = group() else { return flag };
    let t = Tensor::from_slice(&[flag as i32]);
    g.sum_(&t);
    t.int64_value(&[0]) > 0
}

thread_local! {
    static SHARDED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` (a training step) with this rank's shards of every batch and draw.
pub fn sharded<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            SHARDED.with(|s| s.set(self.0));
        }
    }
    let _reset = Reset(SHARDED.with(|s| s.replace(group().is_some())));
    f()
}

/// (rank, ranks) inside a sharded step with a group; None otherwise.
fn sharding() -> Option<(i64, i64)> {
    if SHARDED.with(|s| s.get()) { group().map(|g| (g.rank, g.world)) } else { None }
}

/// `n` rows of a draw: inside a sharded step `f` draws the global `n × ranks` rows and this
/// rank keeps its block of `n`; otherwise `f(n)`.
pub fn draw(n: i64, f: impl FnOnce(i64) -> Tensor) -> Tensor {
    match sharding() {
        Some((rank, world)) => f(n * world).narrow(0, rank * n, n),
        None => f(n),
    }
}

/// For a batch of `n` rows per rank: (this rank's first row, the global batch's rows). Batches
/// are read as `n` rows at `first` of a global batch of `total`; without sharding (0, n).
pub fn span(n: i64) -> (i64, i64) {
    match sharding() {
        Some((rank, world)) => (rank * n, n * world),
        None => (0, n),
    }
}

/// `gantry train … --nproc N`: starts N ranks of this very command on this machine (the
/// environment torchrun would set, on a free local port), each with `threads` CPU threads, and
/// waits for them. Rank 0 prints the summary. When a rank fails, the others are stopped (SIGTERM,
/// then SIGKILL after 10 s) and the error names it; checkpoints are written whole or not at all,
/// so the last complete one is intact.
pub fn launch(nproc: i64, threads: usize) -> Result<()> {
    use std::process::{Command, Stdio};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| Error::Usage(format!("--nproc: cannot find a free local port for the ranks' rendezvous ({e})")))?
        .port();
    let exe = std::env::current_exe()
        .map_err(|e| Error::Usage(format!("--nproc: cannot find gantry's own executable to start the ranks ({e})")))?;
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let mut ranks = vec![];
    for r in 0..nproc {
        let mut c = Command::new(&exe);
        c.args(&args)
            .env("RANK", r.to_string())
            .env("LOCAL_RANK", r.to_string())
            .env("WORLD_SIZE", nproc.to_string())
            .env("LOCAL_WORLD_SIZE", nproc.to_string())
            .env("MASTER_ADDR", "127.0.0.1")
            .env("MASTER_PORT", port.to_string());
        if threads > 0 {
            c.env("OMP_NUM_THREADS", threads.to_string());
        }
        if r > 0 {
            c.stdout(Stdio::null());
        }
        match c.spawn() {
            Ok(child) => ranks.push(child),
            Err(e) => {
                stop(&mut ranks);
                return Err(Error::Usage(format!("--nproc: cannot start rank {r} ({e})")));
            }
        }
    }
    let signals = crate::train::guard::StopSignals::install();
    let mut forwarded = false;
    let mut done = vec![false; ranks.len()];
    loop {
        if let Some(sig) = signals.received()
            && !forwarded
        {
            // every rank stops at the same step and rank 0 keeps it (`any`)
            for c in &ranks {
                // SAFETY: signals a child this process started and has not reaped.
                unsafe { libc::kill(c.id() as i32, sig) };
            }
            forwarded = true;
        }
        for (r, c) in ranks.iter_mut().enumerate() {
            if done[r] {
                continue;
            }
            match c.try_wait() {
                Ok(Some(status)) if status.success() => done[r] = true,
                Ok(Some(status)) => {
                    done[r] = true;
                    let how = match (status.code(), std::os::unix::process::ExitStatusExt::signal(&status)) {
                        (Some(code), _) => format!("exited with status {code}"),
                        (None, Some(s)) => format!("was killed by signal {s}"),
                        _ => "ended".into(),
                    };
                    // the ranks still running when one fails: one of them may be the cause (a rank
                    // that hangs makes the others' collectives time out first)
                    let running: Vec<String> = (0..ranks.len()).filter(|&q| !done[q]).map(|q| q.to_string()).collect();
                    let others = running.len();
                    stop_all(&mut ranks, &mut done);
                    return Err(Error::Usage(format!(
                        "rank {r} of {nproc} {how}{}; {}; the run's last complete checkpoint is intact (resume with --resume)",
                        if forwarded { " after the stop signal" } else { " (its message is above)" },
                        match others {
                            0 => "no other rank was left to be stopped".to_string(),
                            1 => format!("rank {} was still running and was stopped", running[0]),
                            _ => format!("ranks {} were still running and were stopped", running.join(", ")),
                        }
                    )));
                }
                Ok(None) => {}
                Err(e) => {
                    stop_all(&mut ranks, &mut done);
                    return Err(Error::Usage(format!("--nproc: cannot wait for rank {r} ({e})")));
                }
            }
        }
        if done.iter().all(|d| *d) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn stop(ranks: &mut [std::process::Child]) {
    let mut done = vec![false; ranks.len()];
    stop_all(ranks, &mut done);
}

/// SIGTERM to every rank still running, SIGKILL to any left after 10 s; reaps them all.
fn stop_all(ranks: &mut [std::process::Child], done: &mut [bool]) {
    for (r, c) in ranks.iter_mut().enumerate() {
        if !done[r] && c.try_wait().ok().flatten().is_none() {
            // SAFETY: signals a child this process started and has not reaped.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    for (r, c) in ranks.iter_mut().enumerate() {
        loop {
            match c.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if std::time::Instant::now() >= deadline => {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(std::time::Duration::from_millis(50)),
            }
        }
        done[r] = true;
    }
}
