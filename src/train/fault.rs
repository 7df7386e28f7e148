//! Faults injected at fixed points, for the fault campaign (`tests/faults.rs`,
//! `bench/faults.py`). `GANTRY_TEST_FAULT=POINT@N[,POINT@N…]` fires a fault the N-th time (from
//! 1) the process passes POINT:
//! - `kill-ckpt-files`: SIGKILL while a checkpoint's files are half written;
//! - `kill-ckpt-renamed`: SIGKILL after a checkpoint is in place, before older ones are deleted;
//! - `kill-ckpt-trash`: SIGKILL after an old checkpoint left the namespace, before it is removed;
//! - `kill-step`: SIGKILL after a training step, before its logging and checkpoint;
//! - `poison-step`: a NaN written into the first network's first weight after a training step
//!   (a divergence that no loss shows yet).
//!
//! With `GANTRY_TEST_FAULT_RANK=R` only rank R of a data-parallel run (`RANK`) has faults.
//!
//! Unset, as in every normal run, each point costs one relaxed atomic load.
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

pub const POINTS: [&str; 5] = ["kill-ckpt-files", "kill-ckpt-renamed", "kill-ckpt-trash", "kill-step", "poison-step"];

struct Plan {
    /// (point index, pass that fires)
    faults: Vec<(usize, u64)>,
    passes: [AtomicU64; POINTS.len()],
}

fn plan() -> Option<&'static Plan> {
    static PLAN: OnceLock<Option<Plan>> = OnceLock::new();
    PLAN.get_or_init(|| {
        let spec = std::env::var("GANTRY_TEST_FAULT").ok()?;
        if let Ok(r) = std::env::var("GANTRY_TEST_FAULT_RANK")
            && std::env::var("RANK").unwrap_or_else(|_| "0".into()) != r
        {
            return None;
        }
        let faults = spec
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|item| {
                let parsed = item.trim().split_once('@').and_then(|(p, n)| {
                    Some((POINTS.iter().position(|q| *q == p)?, n.parse::<u64>().ok().filter(|n| *n > 0)?))
                });
                parsed.unwrap_or_else(|| {
                    // a test harness's mistake, not a user's: say so loudly and refuse to run
                    eprintln!(
                        "error: GANTRY_TEST_FAULT item `{item}` is not POINT@N with N ≥ 1 and POINT one of {}",
                        POINTS.join(", ")
                    );
                    std::process::exit(2)
                })
            })
            .collect();
        Some(Plan { faults, passes: Default::default() })
    })
    .as_ref()
}

/// Counts a pass of `point`; true when a fault is planned for this pass.
pub fn fires(point: &str) -> bool {
    let Some(plan) = plan() else { return false };
    let i = POINTS.iter().position(|q| *q == point).expect("a known fault point");
    let pass = plan.passes[i].fetch_add(1, Ordering::Relaxed) + 1;
    plan.faults.iter().any(|&(p, n)| p == i && n == pass)
}

/// Kills the process with SIGKILL, as `kill -9` would, when a fault is planned for this pass
/// of `point`.
pub fn kill_point(point: &str) {
    if fires(point) {
        // SAFETY: signals this very process; SIGKILL cannot be caught, so nothing runs after it.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
