"""BEGAN's two claims checked on Fashion-MNIST.

    python3 bench/began.py --task gamma|convergence [--steps 3000] [--seeds 3] [--workers 2]
                           [--samples 2500] [--checkpoints 10] [--preset began|began-dcgan]
                           [--workdir DIR] [--smoke]

- `gamma`: the `began` preset with γ = 0.3, 0.5 and 0.7, each seed scored by `gantry eval` (FCD,
  precision, recall on the evaluation classifier's features against the test split). The paper:
  lower γ gives sharper but less varied images, i.e. higher precision and lower recall.
- `convergence`: one run per seed with `--checkpoints` checkpoints spread over training; at each,
  FCD from `gantry eval --step` and M_global = L(x) + |γ·L(x) − L(G(z))| averaged over the logged
  steps since the previous checkpoint. The paper: M_global falls as the images improve, a
  convergence measure. Reported: Spearman's ρ between M_global and FCD over each run's
  checkpoints (positive: they fall together).

Every run trains with one libtorch thread, `--workers` at a time; finished runs in --workdir are
reused. `--smoke` trains a few steps and prints the section instead of writing it.
"""
import argparse, concurrent.futures as cf, json, math, os, sys, tempfile
import report

GAMMAS = [0.3, 0.5, 0.7]


mean_se, fmt = report.mean_se, report.fmt


def ranks(xs):
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2
        i = j + 1
    return r


def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = math.sqrt(sum((x - ma) ** 2 for x in ra))
    vb = math.sqrt(sum((y - mb) ** 2 for y in rb))
    return cov / (va * vb) if va > 0 and vb > 0 else float("nan")


def largest_class(e):
    """The share of the samples in the evaluation classifier's most frequent class."""
    h = e["class_histogram"]
    return max(h) / sum(h)


def networks(res):
    """The feature network(s) the runs were scored with, as `code`."""
    return ", ".join(f"`{n}`" for n in sorted({e["feature_network"] for r in res for e in r[3].values()}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", required=True, choices=["gamma", "convergence"])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--samples", type=int, default=2500)
    ap.add_argument("--checkpoints", type=int, default=10)
    ap.add_argument("--preset", default="began")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args()
    report.build()
    tmp = a.workdir or tempfile.mkdtemp(prefix="gantry-began-")
    env = {"OMP_NUM_THREADS": "1"}
    every = max(1, a.steps // a.checkpoints)
    extra = ["--set", "began.width=8", "--set", "data.batch_size=8"] if a.smoke else []

    def one(gamma, seed):
        # runs of another preset (began-dcgan) keep their own names in the workdir and the ledger
        tag = "" if a.preset == "began" else f"{a.preset}-"
        out = os.path.join(tmp, f"{tag}{a.task}-g{gamma}-{seed}")
        cadence = ["--set", f"train.checkpoint_every={every}", "--set", f"train.keep_checkpoints={a.checkpoints + 1}",
                   "--set", f"train.log_every={max(1, every // 20)}"] if a.task == "convergence" else []
        s = report.trained(out, ["--preset", a.preset, "--steps", a.steps, "--seed", seed, "--set", f"began.gamma={gamma}",
                                 "--set", "train.sample_every=0", *cadence, *extra])
        steps = [every * (i + 1) for i in range(a.checkpoints) if every * (i + 1) <= a.steps] if a.task == "convergence" else [a.steps]
        evals = {}
        for st in steps:
            path = os.path.join(out, f"bench-eval-{st}.json")
            if not os.path.exists(path):
                e = report.gantry("eval", "--run", out, "--step", st, "--samples", a.samples, "--seed", seed, "--quiet", env=env)
                open(path, "w").write(json.dumps(e))
            evals[st] = json.load(open(path))
        logged = os.path.join(out, "bench-metrics.json")  # the controller's log, kept with the run's results (report's ledger)
        if not os.path.exists(logged):
            open(logged, "w").write(json.dumps([json.loads(l) for l in open(os.path.join(out, "metrics.jsonl")) if '"d/m_global"' in l]))
        metrics = json.load(open(logged))
        print(a.task, gamma, seed, {st: round(e["fcd"], 2) for st, e in evals.items()}, flush=True)
        return gamma, seed, s, evals, metrics

    gammas = GAMMAS if a.task == "gamma" else [0.5]
    with cf.ThreadPoolExecutor(a.workers) as ex:
        res = [f.result() for f in [ex.submit(one, g, seed) for seed in range(a.seeds) for g in gammas]]

    batch = report.preset(a.preset).get("data", {}).get("batch_size", 64)
    cmd = f"`python3 bench/began.py {report.shown_args(sys.argv[1:])}` on {report.machine()}, CPU, {report.side_by_side(a.workers)} with one thread each, beside other work"
    if a.task == "gamma":
        lines = [f"## BEGAN: γ against quality and diversity ({report.stamp()})", "",
                 f"{cmd}; `{a.preset}` for {a.steps} steps of batch {batch}, seeds 0–{a.seeds - 1}, mean ± standard error; "
                 f"{a.samples} samples scored against the test split, feature network {networks(res)}. The paper: a "
                 "lower γ gives higher quality (precision) and lower diversity (recall). Largest class: the share of the "
                 "samples the evaluation classifier puts in its most frequent class (0.1 for a generator that covers the "
                 "ten classes evenly; near 1 for one collapsed onto a class).", "",
                 "| γ | FCD | precision | recall | largest class | k_t at the end | M_global at the end | minutes per run |",
                 "|---|---|---|---|---|---|---|---|"]
        for g in gammas:
            rs = [r for r in res if r[0] == g]
            last = [r[4][-1] for r in rs]
            lines.append(f"| {g} | {fmt([r[3][a.steps]['fcd'] for r in rs], 1)} | {fmt([r[3][a.steps]['precision'] for r in rs])} | "
                         f"{fmt([r[3][a.steps]['recall'] for r in rs])} | {fmt([largest_class(r[3][a.steps]) for r in rs], 2)} | "
                         f"{fmt([m['d/k'] for m in last], 4)} | "
                         f"{fmt([m['d/m_global'] for m in last], 4)} | {report.mean_sd([r[2]['wall_seconds'] / 60 for r in rs])[0]:.1f} |")
        p = {g: mean_se([r[3][a.steps]["precision"] for r in res if r[0] == g])[0] for g in gammas}
        rc = {g: mean_se([r[3][a.steps]["recall"] for r in res if r[0] == g])[0] for g in gammas}
        prec_falls = p[gammas[0]] > p[gammas[-1]]
        rec_rises = rc[gammas[0]] < rc[gammas[-1]]
        lines += ["", f"From γ {gammas[0]} to {gammas[-1]}: precision {'falls' if prec_falls else 'does not fall'} "
                  f"({p[gammas[0]]:.3f} → {p[gammas[-1]]:.3f}) and recall {'rises' if rec_rises else 'does not rise'} "
                  f"({rc[gammas[0]]:.3f} → {rc[gammas[-1]]:.3f}): the paper's claim is "
                  + ("confirmed." if prec_falls and rec_rises else "not confirmed here.")]
        shares = [largest_class(r[3][a.steps]) for r in res]
        if max(rc.values()) < 0.01 and min(shares) > 0.5:
            lines.append(f"Every run collapsed (largest class {min(shares):.2f} to {max(shares):.2f} of the samples, recall "
                         "0): at this budget the runs say nothing about diversity either way, and precision measures only how "
                         "real the one collapsed class looks.")
    else:
        lines = [f"## BEGAN: M_global as a convergence measure ({report.stamp()})", "",
                 f"{cmd}; `{a.preset}` (γ 0.5) for {a.steps} steps, a checkpoint every {every}; at each checkpoint FCD "
                 f"({a.samples} samples against the test split, feature network {networks(res)}) and M_global averaged over the steps logged since the previous "
                 "checkpoint. Spearman's ρ over a run's checkpoints: positive when M_global and FCD fall together.", "",
                 "| seed | ρ(M_global, FCD) | FCD at the checkpoints | M_global at the checkpoints |", "|---|---|---|---|"]
        rhos = []
        for g, seed, s, evals, metrics in res:
            steps = sorted(evals)
            mg, prev = [], 0
            for st in steps:
                window = [m["d/m_global"] for m in metrics if prev < m["step"] <= st]
                mg.append(sum(window) / len(window) if window else float("nan"))
                prev = st
            fcd = [evals[st]["fcd"] for st in steps]
            rho = spearman(mg, fcd)
            rhos.append(rho)
            lines.append(f"| {seed} | {rho:.2f} | {', '.join(f'{x:.1f}' for x in fcd)} | {', '.join(f'{x:.4f}' for x in mg)} |")
        lines += ["", f"Mean ρ over seeds: {fmt(rhos, 2)}."]
    body = "\n".join(lines)
    if a.smoke:
        print(body)
    else:
        # the reference networks' sections keep their names; another preset's go beside them
        report.write_section(f"began-{a.task}" + ("" if a.preset == "began" else f"-{a.preset}"), body)


if __name__ == "__main__":
    main()
