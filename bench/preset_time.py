"""How long each preset the translation and CoGAN/UNIT benchmarks train takes on this machine, alone.

    python3 bench/preset_time.py [--presets cyclegan-small,...] [--fraction 3] [--threads 0] [--workdir DIR]

The issues ask that each preset used in those benchmarks train in at most 15 minutes on the 2 cores.
Each preset's timing is kept in --workdir (times.json); a later invocation with --presets times
those again and writes the section from every timing kept there.
Each preset trains alone (nothing else may run: the script refuses to start while the load average
is busy) with gantry's default threads, on the data its benchmark uses, for
1 / `--fraction` of its steps (whole sampling and checkpoint periods, so their cost is counted in
proportion); the full run is estimated as `--fraction` times that wall time. Start-up (reading the
data, building the networks) is counted `--fraction` times over, so the estimate is an upper bound.
Presets of 5,000 steps or fewer that finish in well under a minute are simply run whole.
`--fraction 1` runs every preset whole.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time
import report

# preset -> (data the benchmarks train it on, extra train arguments)
PRESETS = {
    "discogan-toy": ("modes5-modes10", []),
    "cyclegan-toy": ("modes5-modes10", []),
    "cyclegan-small": ("digits-typeset", []),
    "discogan-digits": ("digits-typeset", []),
    "unit-digits": ("digits-typeset", []),
    "unit-digits-da": ("digits-typeset", ["--labels-from", "b"]),
    "cogan-digits": ("digits-edges", []),
    # the CoGAN benchmark's baseline: cgan with the domain as the class, at cogan-digits' steps and batch
    "cgan": ("digits-edges", ["--set", "data.batch_size=32"]),
}
STEPS = {"cgan": 3000}  # steps of the benchmark's run where it sets them, not the preset
TARGET_MINUTES = 15


def busy(seconds=3.0):
    """The share of the machine's CPU time spent outside idle over `seconds` (0 to 1), from /proc/stat."""
    def read():
        f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
        return sum(f), f[3] + f[4]
    t0, i0 = read()
    time.sleep(seconds)
    t1, i1 = read()
    return 1 - (i1 - i0) / max(t1 - t0, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--fraction", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="--threads for gantry train; 0: gantry's default")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--mnist", default=os.path.join(report.ROOT, "..", "shared", "data", "mnist-10k"))
    a = ap.parse_args()
    names = a.presets.split(",")
    for n in names:
        if n not in PRESETS:
            sys.exit(f"bench/preset_time.py: unknown preset {n!r}; known: {', '.join(PRESETS)}")
    if a.fraction < 1:
        sys.exit("bench/preset_time.py: --fraction must be 1 or more")
    report.build()
    tmp = a.workdir or tempfile.mkdtemp(prefix="gantry-preset-time-")

    def data(name):
        d = os.path.join(tmp, "data", name)
        if not os.path.isdir(d):
            report.gantry("data", "make", name, "--out", d, "--mnist", os.path.abspath(a.mnist))
        return d

    for n in names:  # make every data set before the first timing
        data(PRESETS[n][0])
    kept = os.path.join(tmp, "times.json")
    times = json.load(open(kept)) if os.path.exists(kept) else {}
    for n in names:
        ds, extra = PRESETS[n]
        p = report.preset(n)
        steps = STEPS.get(n, p["steps"])
        part = max(1, steps // a.fraction)
        # whole periods of the preset's sampling and checkpointing that fit in the part
        periods = [v for v in (p.get("train", {}).get(k, 0) for k in ("checkpoint_every", "sample_every")) if 0 < v <= part]
        period = max(periods, default=1)
        run = steps if a.fraction == 1 else part // period * period
        use = busy()
        if use > 0.1:
            sys.exit(f"bench/preset_time.py: the CPUs are {100 * use:.0f} % busy; this benchmark times runs alone, so stop other work first")
        out = os.path.join(tmp, n)
        shutil.rmtree(out, ignore_errors=True)
        threads = ["--threads", str(a.threads)] if a.threads else []
        t0 = time.time()
        r = subprocess.run([report.GANTRY, "train", "--preset", n, "--data", data(ds), "--out", out, "--seed", "0", "--quiet",
                            *threads, *extra, "--steps", str(run)], capture_output=True, text=True)
        wall = time.time() - t0
        if r.returncode != 0:
            sys.exit(f"gantry train --preset {n} failed:\n{r.stderr}")
        est = wall * steps / run
        commit = os.environ.get("BENCH_COMMIT") or report._commit()
        times[n] = {"data": ds, "steps": steps, "timed_steps": run, "seconds": wall, "estimate": est, "commit": commit, "date": report.stamp()}
        open(kept, "w").write(json.dumps(times, indent=1))
        print(f"{n}: {run} of {steps} steps in {wall:.1f} s; full run about {est / 60:.1f} min", flush=True)
    rows = [(n, t["data"], t["steps"], t["timed_steps"], t["seconds"], t["estimate"], t.get("commit", "?"), t.get("date", "?")) for n, t in times.items()]

    how = "each run whole" if a.fraction == 1 else f"the first 1/{a.fraction} of each run's steps (whole sampling and checkpoint periods), scaled to the full run (toys of 5,000 steps: the first 1,000)"
    lines = [f"## Training time of the benchmarks' presets, alone ({report.stamp()})", "",
             f"`python3 bench/preset_time.py {report.shown_args(sys.argv[1:])}` (the last invocation; each row names the binary "
             "that timed it and when: rows of earlier invocations are kept in the work folder's times.json) "
             f"on {report.machine()}, CPU, one run at a time "
             f"with the machine otherwise idle (under 10 % CPU use for 3 s before each), gantry's default threads; {how}. "
             "The estimate counts start-up once per fraction, so it is an upper bound. Target from the issues: each preset "
             f"used in the translation and CoGAN/UNIT benchmarks trains in ≤ {TARGET_MINUTES} minutes on the 2 cores.", "",
             "| preset | data | steps | steps timed | seconds timed | minutes for the full run | ≤ 15 minutes | binary (commit) | timed on |",
             "|---|---|---|---|---|---|---|---|---|"]
    for n, ds, steps, run, wall, est, commit, date in rows:
        lines.append(f"| `{n}` | {ds} | {steps} | {run} | {wall:.1f} | {est / 60:.1f} | {'met' if est <= TARGET_MINUTES * 60 else 'missed'} | {commit} | {date} |")
    report.write_section("preset-time", "\n".join(lines))


if __name__ == "__main__":
    main()
