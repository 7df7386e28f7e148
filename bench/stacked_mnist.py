"""Stacked MNIST built from the MNIST-10k subset (`--data stacked:DIR`): modes covered of 1000
and KL of the mode histogram to uniform, for `dcgan` and `wgan-gp`, beside VEEGAN's, PacGAN's and
GDPP's rows. Protocol differences: those papers stack the full 60,000-image MNIST, draw 26,000
samples and use their own digit classifier; gantry stacks 9,001 images, scores `--samples`
samples with its evaluation classifier trained on MNIST-10k, and trains for a fixed budget.

    python3 bench/stacked_mnist.py [--mnist ../shared/data/mnist-10k] [--steps 2000] [--seeds 2] [--samples 26000] [--workers 2]
"""
import argparse, concurrent.futures as cf, os, statistics, tempfile, time
import report

PUBLISHED = "VEEGAN Table 2, DCGAN: 99 modes, KL 3.4; PacGAN Table 2, PacDCGAN2: 1000 modes, KL 0.06; GDPP Table 3, WGAN-GP: 995 modes, KL 0.148"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnist", default=os.path.join(report.ROOT, "..", "shared", "data", "mnist-10k"))
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--samples", type=int, default=26000)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    report.build()
    tmp = tempfile.mkdtemp(prefix="gantry-stacked-")
    data = "stacked:" + os.path.abspath(a.mnist)
    env = {"OMP_NUM_THREADS": "1"} if a.workers > 1 else None

    def one(preset, seed):
        out = os.path.join(tmp, f"{preset}-{seed}")
        t0 = time.time()
        report.gantry("train", "--preset", preset, "--data", data, "--out", out, "--steps", a.steps, "--seed", seed,
                      "--quiet", "--set", "train.sample_every=0", env=env)
        secs = time.time() - t0
        e = report.gantry("eval", "--run", out, "--samples", a.samples, "--seed", seed, "--quiet", env=env)
        print(preset, seed, e["modes"], e["kl"], f"{secs:.0f}s", flush=True)
        e["secs"] = secs
        return e

    with cf.ThreadPoolExecutor(a.workers) as ex:
        futs = [(p, [ex.submit(one, p, seed) for seed in range(a.seeds)]) for p in ["dcgan", "wgan-gp"]]
        rows = [(p, [f.result() for f in fs]) for p, fs in futs]
    lines = [f"## Stacked MNIST from MNIST-10k ({report.stamp()})", "",
             f"`python3 bench/stacked_mnist.py --steps {a.steps} --seeds {a.seeds} --samples {a.samples} --workers {a.workers}` on {report.machine()}, CPU"
             + (f", {a.workers} runs side by side with one thread each." if a.workers > 1 else ".") + " Training minutes per run: "
             + ", ".join(f"`{p}` {statistics.mean(e['secs'] for e in res) / 60:.1f}" for p, res in rows) + ".",
             f"Published (other protocol): {PUBLISHED}.", "",
             "| preset | modes (of 1000) | KL to uniform | per seed |", "|---|---|---|---|"]
    for preset, res in rows:
        modes = [e["modes"] for e in res]
        kls = [e["kl"] for e in res]
        lines.append(f"| `{preset}` | {statistics.mean(modes):.0f} | {statistics.mean(kls):.2f} | "
                     f"{', '.join(f'{x} / {y:.2f}' for x, y in zip(modes, kls))} |")
    report.write_section("stacked-mnist", "\n".join(lines))


if __name__ == "__main__":
    main()
