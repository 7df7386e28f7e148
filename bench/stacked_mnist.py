"""Stacked MNIST built from the MNIST-10k subset (`--data stacked:DIR`): modes covered of 1000
and KL of the mode histogram to uniform, for `dcgan` and `wgan-gp`, beside VEEGAN's, PacGAN's and
GDPP's rows. Protocol differences: those papers stack the full 60,000-image MNIST, draw 26,000
samples and use their own digit classifier; gantry stacks 9,001 images, scores `--samples`
samples with its evaluation classifier trained on MNIST-10k, and trains for a fixed budget.

    python3 bench/stacked_mnist.py [--mnist ../shared/data/mnist-10k] [--steps 2000] [--seeds 2] [--samples 26000]
"""
import argparse, os, statistics, tempfile
import report

PUBLISHED = "VEEGAN Table 2, DCGAN: 99 modes, KL 3.4; PacGAN Table 2, PacDCGAN2: 1000 modes, KL 0.06; GDPP Table 3, WGAN-GP: 995 modes, KL 0.148"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnist", default=os.path.join(report.ROOT, "..", "shared", "data", "mnist-10k"))
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--samples", type=int, default=26000)
    a = ap.parse_args()
    report.build()
    tmp = tempfile.mkdtemp(prefix="gantry-stacked-")
    data = "stacked:" + os.path.abspath(a.mnist)
    rows = []
    for preset in ["dcgan", "wgan-gp"]:
        res = []
        for seed in range(a.seeds):
            out = os.path.join(tmp, f"{preset}-{seed}")
            report.gantry("train", "--preset", preset, "--data", data, "--out", out, "--steps", a.steps, "--seed", seed,
                          "--quiet", "--set", "train.sample_every=0")
            e = report.gantry("eval", "--run", out, "--samples", a.samples, "--seed", seed, "--quiet")
            res.append(e)
            print(preset, seed, e["modes"], e["kl"], flush=True)
        rows.append((preset, res))
    lines = [f"## Stacked MNIST from MNIST-10k ({report.stamp()})", "",
             f"`python3 bench/stacked_mnist.py --steps {a.steps} --seeds {a.seeds} --samples {a.samples}` on {report.machine()}, CPU.",
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
