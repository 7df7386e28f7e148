//! CPU threads: how many libtorch uses, and how its idle threads wait.
//!
//! libtorch's OpenMP threads spin at every barrier by default. Alone on a machine that is fastest;
//! beside another busy process it is ruinous: a descheduled thread stalls the rest while they
//! spin (measured on 2 cores, `toy-wgan-gp`: 7.6 steps/s alone, 1.8 each for two side by side,
//! 4.3 each when both wait passively; docs/benchmarks.md "Sharing a machine"). GNU OpenMP reads
//! its wait policy once, when it is loaded, before `main`; so when the machine is busy as gantry
//! starts and the environment does not choose, `prepare` re-executes the binary once with
//! `OMP_WAIT_POLICY=PASSIVE`. The policy changes speed only, never results. The thread count can
//! change results (reductions split by thread), so it is left to the user: `--threads N`,
//! `train.threads`, `OMP_NUM_THREADS`, else every core.

/// Processes other than this one that are runnable now (/proc/stat's `procs_running` − 1).
pub fn others_running() -> usize {
    std::fs::read_to_string("/proc/stat").ok().and_then(|s| parse_procs_running(&s)).map_or(0, |n| n.saturating_sub(1))
}

fn parse_procs_running(stat: &str) -> Option<usize> {
    stat.lines().find_map(|l| l.strip_prefix("procs_running")?.trim().parse().ok())
}

/// Re-executes the process with `OMP_WAIT_POLICY=PASSIVE` when another process is running and
/// the environment sets no policy; returns only when it does not (or the exec failed). Only the
/// commands that compute in parallel for long (train, eval, classifier, select, text, judge) and only with more
/// than one thread: a second start loads libtorch again (a few tenths of a second).
pub fn prepare() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if std::env::var_os("OMP_WAIT_POLICY").is_some()
        || std::env::var("OMP_NUM_THREADS").is_ok_and(|n| n.trim() == "1")
        || !worth_passive(&args)
        || others_running() == 0
    {
        return;
    }
    use std::os::unix::process::CommandExt;
    let Ok(exe) = std::env::current_exe() else { return };
    // exec returns only on failure; then the default policy stays, which is merely slower
    let _ = std::process::Command::new(exe).args(std::env::args_os().skip(1)).env("OMP_WAIT_POLICY", "PASSIVE").exec();
}

/// Whether a command line runs a long parallel computation on more than one thread.
fn worth_passive(args: &[String]) -> bool {
    let mut it = args.iter().peekable();
    let mut command = None;
    while let Some(a) = it.next() {
        if a == "--threads" {
            if it.peek().is_some_and(|n| n.as_str() == "1") {
                return false;
            }
            it.next();
        } else if a == "--threads=1" {
            return false;
        } else if command.is_none() && !a.starts_with('-') {
            command = Some(a.as_str());
        }
    }
    // no command trains the default preset
    matches!(command, None | Some("train" | "eval" | "classifier" | "select" | "text" | "judge"))
}

/// Sets libtorch's CPU threads to `n` (0 leaves its default: `OMP_NUM_THREADS`, else every core).
pub fn set(n: usize) {
    if n > 0 {
        tch::set_num_threads(n as i32);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_procs_running() {
        // the lines of a real /proc/stat around the one read
        let stat = "ctxt 123\nbtime 1700000000\nprocesses 4242\nprocs_running 3\nprocs_blocked 0\n";
        assert_eq!(super::parse_procs_running(stat), Some(3));
        assert_eq!(super::parse_procs_running("cpu 1 2 3\n"), None);
    }

    #[test]
    fn only_long_parallel_commands_restart() {
        let args = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert!(super::worth_passive(&args("train --preset dcgan")));
        assert!(super::worth_passive(&args("--threads 2 eval --run r")));
        assert!(super::worth_passive(&args("judge train --data d --out j")));
        assert!(super::worth_passive(&args("")));
        assert!(!super::worth_passive(&args("presets")));
        assert!(!super::worth_passive(&args("train --preset dcgan --threads 1")));
        assert!(!super::worth_passive(&args("train --threads=1")));
        assert!(!super::worth_passive(&args("sample --run r --out x.png")));
    }
}
