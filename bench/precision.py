"""fp32 against bf16 (train.precision): the same preset, seeds and steps in both precisions, then
FCD, precision and recall on Fashion-MNIST's test split (the evaluation classifier's features,
as everywhere in docs/benchmarks.md), and the steady steps/s of each run. Quality runs may share
the cores; the speed ratios against PyTorch come from `bench/speed.py --precision bf16`, on an
idle machine.

    python3 bench/precision.py [--presets dcgan,wgan-gp] [--seeds 0,1,2] [--steps 2000]
                               [--workers 2] [--device cpu] [--data DIR]
"""
import argparse, concurrent.futures as cf, json, os, statistics, subprocess, sys
import report


def train(a, preset, seed, precision, out):
    steps = a.steps[preset]
    if not os.path.exists(os.path.join(out, "checkpoints", f"step-{steps:07d}")):
        env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
        subprocess.run([report.GANTRY, "train", "--preset", preset, "--data", a.data, "--seed", str(seed), "--steps", str(steps),
                        "--out", out, "--quiet", "--device", a.device, "--set", f"train.precision={precision}",
                        "--set", "train.sample_every=0", "--set", "train.report=false", "--set", f"train.log_every={steps // 4}"]
                       + (["--resume"] if os.path.exists(os.path.join(out, "checkpoints")) else []),
                       check=True, stdout=subprocess.DEVNULL, env=env)
    ev = report.gantry("eval", "--run", out, "--samples", a.samples, "--quiet", "--device", a.device,
                       env={"OMP_NUM_THREADS": str(a.threads)})
    rates = [json.loads(l)["time/steps_per_s"] for l in open(os.path.join(out, "metrics.jsonl")) if "time/steps_per_s" in l]
    return {"preset": preset, "seed": seed, "precision": precision, "fcd": ev["fcd"], "precision_k": ev.get("precision"),
            "recall": ev.get("recall"), "steps_per_s": statistics.median(rates[1:] or rates)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", default="dcgan,wgan-gp")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", default="dcgan=2000,wgan-gp=1000", help="steps per preset, PRESET=N,…")
    ap.add_argument("--samples", type=int, default=5000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--workdir", default=os.path.join(report.ROOT, "runs", "precision"))
    a = ap.parse_args()
    a.steps = {k: int(v) for k, v in (x.split("=") for x in a.steps.split(","))}
    report.build()
    jobs = [(p, int(s), prec) for p in a.presets.split(",") for s in a.seeds.split(",") for prec in ("fp32", "bf16")]
    with cf.ThreadPoolExecutor(a.workers) as ex:
        futs = {ex.submit(train, a, p, s, prec, os.path.join(a.workdir, f"{p}-{prec}-s{s}")): (p, s, prec) for p, s, prec in jobs}
        rows = []
        for f in cf.as_completed(futs):
            rows.append(f.result())
            print(json.dumps(rows[-1]), flush=True)
    cuda = a.device != "cpu"
    where = f"{report.gpu(a.device)} (host: {report.machine()})" if cuda else f"{report.machine()}, CPU"
    lines = [f"## fp32 against bf16 ({report.stamp()})", "",
             f"`python3 bench/precision.py {report.shown_args(sys.argv[1:])}` on {where}: each preset and seed trained "
             "in both precisions (`train.precision`), then scored on Fashion-MNIST's test split with "
             f"{a.samples} samples (FCD, and precision and recall at k = 3, in the evaluation classifier's features). "
             f"{a.workers} runs at a time with {a.threads} thread(s) each, so steps/s (the median of the run's logged rates) "
             "compares the two precisions with each other, not with anything timed alone.", "",
             "| preset | steps | precision | FCD per seed | mean FCD | precision | recall | steps/s |", "|---|---|---|---|---|---|---|---|"]
    for p in a.presets.split(","):
        for prec in ("fp32", "bf16"):
            rs = sorted((r for r in rows if r["preset"] == p and r["precision"] == prec), key=lambda r: r["seed"])
            m = lambda k: statistics.mean(r[k] for r in rs if r[k] is not None)
            lines.append(f"| {p} | {a.steps[p]} | {prec} | {', '.join(format(r['fcd'], '.2f') for r in rs)} | {m('fcd'):.2f} | "
                         f"{m('precision_k'):.3f} | {m('recall'):.3f} | {m('steps_per_s'):.2f} |")
    report.write_section("precision" + ("-cuda" if cuda else ""), "\n".join(lines))


if __name__ == "__main__":
    main()
