"""Semi-supervised GAN (Salimans et al. 2016, §5, permutation-invariant model): test error with
100 labels on MNIST-10k and Fashion-MNIST, several seeds (each seed draws its own labelled
subset), beside the same discriminator architecture trained on the same labels alone
(`semi.unlabeled_weight=0`: no generator, no unlabelled data).

    python3 bench/semi.py [--mnist ../shared/data/mnist-10k] [--seeds 3] [--labels 100] [--workers 2] [--workdir DIR]
                          [--steps N] [--fashion-steps N] [--baseline-steps 5000]

GAN runs use the `improved-gan-semi` preset's steps unless --steps / --fashion-steps are given;
the labels-only baselines run --baseline-steps (they fit their 100 labels within ~100 steps).
One libtorch thread each, --workers side by side. Finished runs found in --workdir are reused.
"""
import argparse, concurrent.futures as cf, os, sys, tempfile
import report

PUBLISHED = ("Salimans et al. 2016, Table 1 (permutation-invariant MNIST, 60,000 images, 100 labels): "
             "93 ± 6.5 test errors of 10,000 (0.93 %) for one model")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnist", default=os.path.join(report.ROOT, "..", "shared", "data", "mnist-10k"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--labels", type=int, default=100)
    ap.add_argument("--steps", type=int, default=None, help="steps of the MNIST-10k GAN runs (default: the preset's)")
    ap.add_argument("--fashion-steps", type=int, default=None, help="steps of the Fashion-MNIST GAN runs (default: the preset's)")
    ap.add_argument("--baseline-steps", type=int, default=5000,
                    help="steps of the labels-only runs: they fit the 100 labels within ~100 steps")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    report.build()
    tmp = a.workdir or tempfile.mkdtemp(prefix="gantry-semi-")
    sets = [("MNIST-10k", os.path.abspath(a.mnist)), ("Fashion-MNIST", "fashion-mnist")]
    kinds = [("semi-supervised GAN", []), ("same D, labels only", ["--set", "semi.unlabeled_weight=0"])]

    preset_steps = report.preset("improved-gan-semi")["steps"]

    def one(data, kind, extra, seed):
        steps = a.baseline_steps if extra else (a.fashion_steps if data == "fashion-mnist" else a.steps) or preset_steps
        out = os.path.join(tmp, f"{os.path.basename(data)}-{'gan' if not extra else 'sup'}-{seed}-{steps}")
        args = ["--preset", "improved-gan-semi", "--data", data, "--labels", a.labels, "--seed", seed, *extra,
                "--steps", steps]
        s = report.trained(out, args)
        print(data, kind, seed, s["test_error"], f"{s['wall_seconds']:.0f}s", flush=True)
        return s

    with cf.ThreadPoolExecutor(a.workers) as ex:
        futs = {(name, kind): [ex.submit(one, data, kind, extra, seed) for seed in range(a.seeds)]
                for kind, extra in kinds for name, data in sets}
        res = {k: [f.result() for f in fs] for k, fs in futs.items()}
    lines = [f"## Semi-supervised GAN ({report.stamp()})", "",
             f"`python3 bench/semi.py {report.shown_args(sys.argv[1:])}` on {report.machine()}, CPU, "
             f"{report.side_by_side(a.workers)} with one thread each. Preset `improved-gan-semi`, batches of 100, the steps of each row; "
             f"{a.labels} labels, class-balanced, a different subset per seed; every training image also serves unlabelled "
             "(9,001 for MNIST-10k, 60,000 for Fashion-MNIST). Test error on the whole test split (999 / 10,000 images) "
             "from the discriminator without its noise. The baseline is the same discriminator trained on the same labels "
             "with `semi.unlabeled_weight=0`.", "",
             f"Published: {PUBLISHED}. gantry's MNIST-10k has 15 % of the unlabelled images and a far shorter run.", "",
             "| data | model | steps | test error (mean ± sd) | per seed | minutes per run |", "|---|---|---|---|---|---|"]
    for name, _ in sets:
        for kind, _ in kinds:
            rs = res[(name, kind)]
            m, sd = report.mean_sd(100 * r["test_error"] for r in rs)
            per = ", ".join(f"{100 * r['test_error']:.2f} %" for r in rs)
            mins = sum(r["wall_seconds"] for r in rs) / len(rs) / 60
            lines.append(f"| {name} | {kind} | {rs[0]['steps']} | {m:.2f} ± {sd:.2f} % | {per} | {mins:.1f} |")
    report.write_section("semi", "\n".join(lines))


if __name__ == "__main__":
    main()
