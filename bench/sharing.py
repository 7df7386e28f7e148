"""Two trainings side by side on one machine against one alone: libtorch's spinning OpenMP
threads against a passive wait policy and one thread each. `toy-wgan-gp` (a small model: many
short parallel regions, the worst case for spinning), whole-run steps/s of each process.

    python3 bench/sharing.py [--steps 100] [--repeats 2]

Cases: alone (gantry's default: spinning, the machine being idle); two started together
(gantry's default: each sees the other and waits passively); two with OpenMP's own default wait
(spin, then sleep: what gantry did before); two with OMP_WAIT_POLICY=ACTIVE (spinning only); two
staggered by 2 s (the first starts alone and spins); two with --threads 1.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
import report


def start(out, steps, env, extra=()):
    e = dict(os.environ)
    e.pop("OMP_WAIT_POLICY", None)
    e.pop("OMP_NUM_THREADS", None)
    e.update(env)
    return subprocess.Popen([report.GANTRY, "train", "--preset", "toy-wgan-gp", "--steps", str(steps), "--out", out, "--quiet",
                             "--set", "train.sample_every=0", "--set", "train.checkpoint_every=0", "--set", "train.report=false",
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=e)


def finish(p):
    out = p.stdout.read()
    if p.wait() != 0:
        sys.exit("gantry failed")
    s = json.loads(out.strip().splitlines()[-1])
    return s["steps_per_s"], s["wait_policy"] or "openmp-default", s["threads"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    report.build()
    tmp = tempfile.mkdtemp(prefix="gantry-sharing-")
    n = 0

    def out():
        nonlocal n
        n += 1
        return os.path.join(tmp, f"r{n}")

    cases = {
        "alone (default)": lambda: [finish(start(out(), a.steps, {}))],
        "two together (default)": lambda: [finish(p) for p in [start(out(), a.steps, {}), start(out(), a.steps, {})]],
        # an empty OMP_WAIT_POLICY keeps gantry from choosing, and GNU OpenMP ignores it: its
        # default (spin a while at each barrier, then sleep), which gantry had before
        "two together, OpenMP's default wait (as before)": lambda: [finish(p) for p in [start(out(), a.steps, {"OMP_WAIT_POLICY": ""}),
                                                                                         start(out(), a.steps, {"OMP_WAIT_POLICY": ""})]],
        "two together, OMP_WAIT_POLICY=ACTIVE": lambda: [finish(p) for p in [start(out(), a.steps, {"OMP_WAIT_POLICY": "ACTIVE"}),
                                                                              start(out(), a.steps, {"OMP_WAIT_POLICY": "ACTIVE"})]],
        "two staggered by 2 s (default)": lambda: (lambda p1: (time.sleep(2), [finish(p) for p in [p1, start(out(), a.steps, {})]])[1])(start(out(), a.steps, {})),
        "two together, --threads 1": lambda: [finish(p) for p in [start(out(), a.steps, {}, ["--threads", "1"]),
                                                                   start(out(), a.steps, {}, ["--threads", "1"])]],
    }
    rows = []
    for name, run in cases.items():
        got = [run() for _ in range(a.repeats)]
        rates = [r[0] for g in got for r in g]
        print(name, got, flush=True)
        rows.append((name, statistics.median(rates), got))
    alone = rows[0][1]
    lines = [f"## Sharing a machine ({report.stamp()})", "",
             f"`python3 bench/sharing.py {report.shown_args(sys.argv[1:])}` on {report.machine()}: `toy-wgan-gp`, {a.steps} steps per "
             "process, whole-run steps/s of each process (start-up included), median over processes and repeats; "
             "the wait policy each process used as it reported it (`wait_policy` in its summary).", "",
             "| case | steps/s per process | against alone | runs (steps/s, policy, threads) |", "|---|---|---|---|"]
    for name, med, got in rows:
        runs = "; ".join(", ".join(f"{r[0]:.2f} {r[1]} {r[2]}" for r in g) for g in got)
        lines.append(f"| {name} | {med:.2f} | {med / alone:.2f}× | {runs} |")
    report.write_section("sharing", "\n".join(lines))


if __name__ == "__main__":
    main()
