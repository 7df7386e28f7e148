"""Fashion-MNIST comparison in the spirit of "Are GANs Created Equal?" (Lucic et al. 2018):
MM GAN, NS GAN, LSGAN, WGAN, WGAN-GP (and hinge) with one architecture (the `dcgan` preset's
networks), one equal budget of generator steps, several seeds; each scored on 2,500 samples
against the test split with the evaluation classifier's features (FCD, KID, precision, recall),
beside the real-data floor (train split vs test split, same feature network) and Lucic et al.'s
Table 2 best FIDs (Inception features: only the ranking transfers).

    python3 bench/fashion_compare.py [--steps 2000] [--seeds 2] [--samples 2500] [--workers 2]

With --workers N, N runs train side by side, one thread each.
"""
import argparse, concurrent.futures as cf, os, statistics, tempfile, time
import report

LOSSES = [
    ("MM GAN", "dcgan", ['objective.loss="minimax"']),
    ("NS GAN", "dcgan", []),
    ("LSGAN", "lsgan", []),
    ("WGAN", "wgan", []),
    ("WGAN-GP", "wgan-gp", []),
    ("hinge", "hinge", []),
]
LUCIC = {"MM GAN": 29.6, "NS GAN": 26.5, "LSGAN": 30.7, "WGAN": 21.5, "WGAN-GP": 24.5, "BEGAN": 22.9}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--samples", type=int, default=2500)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    report.build()
    tmp = tempfile.mkdtemp(prefix="gantry-compare-")
    floor = report.gantry("eval", "--real", "fashion-mnist", "--reference", "fashion-mnist", "--samples", a.samples, "--quiet")
    env = {"OMP_NUM_THREADS": "1"} if a.workers > 1 else None

    def one(name, preset, sets, seed, out):
        args = ["train", "--preset", preset, "--out", out, "--steps", a.steps, "--seed", seed, "--quiet",
                "--set", "train.sample_every=0"]
        for s in sets:
            args += ["--set", s]
        t0 = time.time()
        report.gantry(*args, env=env)
        secs = time.time() - t0
        e = report.gantry("eval", "--run", out, "--samples", a.samples, "--seed", seed, "--quiet", env=env)
        print(name, seed, e["fcd"], f"{secs:.0f}s", flush=True)
        return e, secs

    with cf.ThreadPoolExecutor(a.workers) as ex:
        futs = [(name, [ex.submit(one, name, preset, sets, seed, os.path.join(tmp, f"{preset}-{i}-{seed}"))
                        for seed in range(a.seeds)])
                for i, (name, preset, sets) in enumerate(LOSSES)]
        rows = [(name, [f.result() for f in fs]) for name, fs in futs]
    m = lambda xs: (statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0)
    lines = [f"## Fashion-MNIST: losses compared on one architecture ({report.stamp()})", "",
             f"`python3 bench/fashion_compare.py --steps {a.steps} --seeds {a.seeds} --samples {a.samples} --workers {a.workers}` on {report.machine()}, CPU"
             + (f", {a.workers} runs side by side with one thread each." if a.workers > 1 else "."),
             f"Each loss trains the `dcgan` networks for {a.steps} generator steps (its preset's optimiser and critic steps); "
             f"{a.samples} samples against the test split, feature network `{floor['feature_network']}`. Mean ± std over seeds. "
             "Lucic et al.'s numbers are FIDs on Inception features after a large hyperparameter search: compare rankings only.", "",
             "| loss | FCD | KID ×10³ | precision | recall | minutes per run | Lucic et al. best FID |", "|---|---|---|---|---|---|---|"]
    for name, res in rows:
        f, k = m([r[0]["fcd"] for r in res]), m([1000 * r[0]["kid"] for r in res])
        p, r_ = m([r[0]["precision"] for r in res]), m([r[0]["recall"] for r in res])
        secs = statistics.mean(r[1] for r in res) / 60
        lines.append(f"| {name} | {f[0]:.2f} ± {f[1]:.2f} | {k[0]:.2f} ± {k[1]:.2f} | {p[0]:.3f} ± {p[1]:.3f} | "
                     f"{r_[0]:.3f} ± {r_[1]:.3f} | {secs:.1f} | {LUCIC.get(name, '—')} |")
    lines.append(f"| real data (train vs test) | {floor['fcd']:.2f} | {1000 * floor['kid']:.2f} | {floor['precision']:.3f} | "
                 f"{floor['recall']:.3f} | — | — |")
    ours = sorted(rows, key=lambda r: statistics.mean(x[0]["fcd"] for x in r[1]))
    lucic = sorted(LUCIC, key=LUCIC.get)
    lines += ["", "Ranking, best first. gantry (FCD, this budget): " + " < ".join(n for n, _ in ours)
              + ". Lucic et al. (best FID on Fashion-MNIST): " + " < ".join(lucic) + ".",
              "Minutes per run are wall time with other benchmarks sharing the two cores; compare them with each other only."]
    report.write_section("fashion-compare", "\n".join(lines))


if __name__ == "__main__":
    main()
