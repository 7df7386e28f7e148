"""The improved techniques of Salimans et al. 2016, one at a time, on the 2-D mixtures under the
PacGAN protocol: the `toy-gan` preset (non-saturating GAN, PacGAN's networks) with and without
each switch, same seeds and budget. Shows what each technique does to mode coverage and sample
quality at a short budget.

    python3 bench/techniques.py [--seeds 3] [--steps 1500] [--data grid25,ring8] [--workers 2] [--workdir DIR]
"""
import argparse, concurrent.futures as cf, os, tempfile
import report

CONFIGS = [
    ("none (non-saturating GAN)", []),
    ("feature matching (last hidden layer)", ["objective.feature_matching=true"]),
    ("minibatch discrimination (50 kernels × 5)", ["model.minibatch_kernels=50"]),
    ("historical averaging (λ = 0.01, both players)", ["objective.g_historical=0.01", "objective.d_historical=0.01"]),
    ("one-sided label smoothing (0.9)", ["objective.real_target=0.9"]),
    ("virtual batch norm in G", ['model.g_norm="virtual"']),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--data", default="grid25,ring8")
    a = ap.parse_args()
    report.build()
    tmp = a.workdir or tempfile.mkdtemp(prefix="gantry-tech-")

    def one(i, sets, data, seed):
        out = os.path.join(tmp, f"tech{i}-{data}-{seed}")
        args = ["--preset", "toy-gan", "--data", data, "--steps", a.steps, "--seed", seed, "--set", "train.sample_every=0"]
        for s in sets:
            args += ["--set", s]
        s = report.trained(out, args)
        if s is None:
            return None
        e = report.gantry("eval", "--run", out, "--samples", 2500, "--seed", 1000 + seed, env={"OMP_NUM_THREADS": "1"})
        print(CONFIGS[i][0], data, seed, e["modes"], e["high_quality"], flush=True)
        e["wall_seconds"] = s["wall_seconds"]
        return e

    datas = a.data.split(",")
    with cf.ThreadPoolExecutor(a.workers) as ex:
        futs = {(i, d): [ex.submit(one, i, sets, d, seed) for seed in range(a.seeds)]
                for i, (_, sets) in enumerate(CONFIGS) for d in datas}
        res = {k: [f.result() for f in fs] for k, fs in futs.items()}
    lines = [f"## Improved techniques, one at a time, on 2-D mixtures ({report.stamp()})", "",
             f"`python3 bench/techniques.py --seeds {a.seeds} --steps {a.steps} --data {a.data}` on {report.machine()}, CPU, "
             f"{report.side_by_side(a.workers)} with one thread each. `toy-gan` preset (non-saturating loss, PacGAN's networks), "
             f"{a.steps} generator steps, each technique switched on alone; scored as the 2-D table (2,500 samples, "
             "high quality = within 3 std of a mode). Mean ± sd over seeds; diverged runs (stopped by the non-finite guard) "
             "are counted, not scored.", "",
             "| technique | " + " | ".join(f"{d} modes (of {8 if d == 'ring8' else 25}) | {d} high quality" for d in datas) + " | diverged |",
             "|---|" + "---|---|" * len(datas) + "---|"]
    for i, (name, _) in enumerate(CONFIGS):
        cells, div = [], 0
        for d in datas:
            rs = [e for e in res[(i, d)] if e is not None]
            div += len(res[(i, d)]) - len(rs)
            if rs:
                m = report.mean_sd(e["modes"] for e in rs)
                hq = report.mean_sd(100 * e["high_quality"] for e in rs)
                cells += [f"{m[0]:.1f} ± {m[1]:.1f}", f"{hq[0]:.1f} ± {hq[1]:.1f} %"]
            else:
                cells += ["—", "—"]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {div} of {len(datas) * a.seeds} |")
    report.write_section("techniques", "\n".join(lines))


if __name__ == "__main__":
    main()
