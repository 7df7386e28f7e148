"""The fault campaign with a longer budget than the suite's: `tests/faults.rs` and `tests/fuzz.rs`
run with every injection pass, more random kills and signals, and more fuzzing time; the figures
they write are gathered into docs/benchmarks.md.

    python3 bench/faults.py [--trials 20] [--fuzz-seconds 30] [--seed 17] [--smoke]

- kills: `kill -9` by the test harness at random moments, and SIGKILL from inside gantry at every
  checkpoint write, rename and delete point and after steps (`GANTRY_TEST_FAULT`);
- signals: SIGINT and SIGTERM at random moments (the interrupted step must be checkpointed);
- a second trainer on a busy run folder; learning-rate bombs and a poisoned weight;
- fuzzing: every loader fed mutated files for `--fuzz-seconds` each.
After each fault every listed checkpoint must load with `gantry sample` and be finite, no step
may be lost beyond the checkpoint interval, and resuming must reach the straight run's weights
byte for byte. `--smoke` runs the suite's budget and prints instead of writing.
"""
import argparse, glob, json, os, subprocess, sys, tempfile, time
import report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=15)
    ap.add_argument("--fuzz-seconds", type=float, default=30)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--report-only", metavar="DIR", help="write the section from a finished campaign's figures in DIR")
    ap.add_argument("--minutes", type=float, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.report_only:
        return render(a, a.report_only, 0, a.minutes or 0)
    out = tempfile.mkdtemp(prefix="gantry-faults-")
    env = dict(os.environ, GANTRY_FAULT_REPORT=out, GANTRY_FAULT_SEED=str(a.seed))
    if not a.smoke:
        env.update(GANTRY_FAULT_LONG="1", GANTRY_FAULT_TRIALS=str(a.trials), GANTRY_FUZZ_SECONDS=str(a.fuzz_seconds))
    t0 = time.time()
    # the campaign's own assertions fail the run on any bad outcome; the figures are written first
    r = subprocess.run(["cargo", "test", "--release", "--test", "faults", "--test", "fuzz", "--", "--test-threads", "2"],
                       cwd=report.ROOT, env=env)
    minutes = (time.time() - t0) / 60
    print(f"figures in {out}")
    render(a, out, r.returncode, minutes)
    sys.exit(r.returncode)


def render(a, out, returncode, minutes):
    runs = {os.path.basename(p)[:-5]: json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, "*.json")))}
    head = [f"## Fault campaign ({report.stamp()})", "",
            f"`python3 bench/faults.py {'--smoke' if a.smoke else f'--trials {a.trials} --fuzz-seconds {a.fuzz_seconds:g} --seed {a.seed}'}` on {report.machine()}, CPU, {minutes:.0f} minutes "
            + ("(`cargo test --release --test faults --test fuzz` at the suite's budget). " if a.smoke else
               f"(`cargo test --release --test faults --test fuzz` with GANTRY_FAULT_LONG=1, {a.trials} random trials per signal, "
               f"{a.fuzz_seconds:g} s of fuzzing per loader, seed {a.seed}). ") + "Runs are `toy-gan` on ring8, 30 steps, a "
            "checkpoint every 5 steps, two kept. After each fault: every listed checkpoint loads (`gantry sample --step`) and "
            "holds only finite values (*corrupt* otherwise); the newest checkpoint is at least the last one completed before "
            "the fault, and after a signal the interrupted step itself (*lost* otherwise); resuming to step 30 gives the "
            "straight run's checkpoint files byte for byte (*non-exact* otherwise); no exit 101 or panic message (*panics*).",
            "", "| campaign | trials | faults injected | corrupt | lost | non-exact | panics |", "|---|---|---|---|---|---|---|"]
    names = {"kill-points": "SIGKILL at checkpoint write / rename / delete and after steps (GANTRY_TEST_FAULT)",
             "random-kill-9": "kill -9 at random moments", "random-sigint": "SIGINT at random moments",
             "random-sigterm": "SIGTERM at random moments", "second-trainer": "a second trainer on a busy folder",
             "divergence": "learning-rate bombs (SGD 1e8, Adam 1e6, 1e4) and a poisoned weight"}
    lines, total = [], {k: 0 for k in ["trials", "faults", "corrupt", "lost", "non_exact", "panics"]}
    for key, label in names.items():
        f = runs.get(key)
        if not f:
            lines.append(f"| {label} | not run | | | | | |")
            continue
        for k in total:
            total[k] += f[k]
        lines.append(f"| {label} | {f['trials']} | {f['faults']} | {f['corrupt']} | {f['lost']} | {f['non_exact']} | {f['panics']} |")
    lines.append(f"| **all** | {total['trials']} | {total['faults']} | {total['corrupt']} | {total['lost']} | {total['non_exact']} | {total['panics']} |")
    lines += ["", "| loader fuzzed | cases | accepted | refused | panics | allocations past the bound | largest single allocation |",
              "|---|---|---|---|---|---|---|"]
    for key, f in runs.items():
        if key.startswith("fuzz-"):
            lines.append(f"| {f['loader']} | {f['cases']} | {f['accepted']} | {f['refused']} | {f['panics']} | {f['over_bound']} | {f['largest_bytes'] / 1024:,.1f} KiB |")
    lines += ["", "The bound on one allocation is 64 bytes per input byte plus 1 MiB (4 MiB more for gzip), and for images the "
              "decoder's cap of 512 MiB plus the decoded copy (`tests/fuzz.rs`). "
              + "A random signal counts as a fault injected when it reached the trainer while it trained; the others came "
              "after the run had finished (exit 0), and those runs were checked all the same. "
              + ("Every figure of harm is zero." if returncode == 0 else f"**The campaign failed (exit {returncode}); see the notes in {out}.**")]
    body = "\n".join(head + lines)
    if a.smoke:
        print(body)
    else:
        report.write_section("faults", body)


if __name__ == "__main__":
    main()
