"""Unpaired image-to-image translation on the built-in two-domain sets (`gantry data make`),
each run trained with its preset's own settings and scored by `gantry eval` on the test folders.

    python3 bench/translation.py --task toy|typeset|fashion|edges|negative [--seeds 3] [--workers 2] [--workdir DIR]
                                 [--methods cyclegan-small,discogan-digits]

- `toy` (modes5-modes10): GAN only, GAN + one-way reconstruction, DiscoGAN (`discogan-toy` with
  discogan.arch gan, recongan, discogan) and CycleGAN (`cyclegan-toy`): how many distinct B modes
  the 5 A modes map to, and how pure each mapping is. Target: DiscoGAN and CycleGAN map the 5 A
  modes onto 5 distinct B modes.
- `typeset` (digits-typeset): translation accuracy against the untranslated baseline, both
  directions. Target: translation beats the baseline by at least 10 points in each direction.
- `fashion` (fashion-edges, A = items, B = edge maps): edges -> items L1 to the truth, FCD and the
  item classifier's accuracy on the translations; items -> edges L1 to the truth.
- `edges` (digits-edges): the same figures on MNIST-10k and its edge maps.
- `negative` (digits-negative): MNIST-10k's two halves, the second inverted (1 - x): a check of the
  translation mechanism on a pair whose mapping is known and learnable. Its rule was fixed before
  the first run: a gain of at least 10 points over the untranslated baseline in a direction means
  the translation carries digit identity there.

Runs train with one libtorch thread each, `--workers` at a time; finished runs in --workdir are
reused. A picture of seed 0's last progress grid of each method goes to docs/images.
"""
import argparse, concurrent.futures as cf, json, math, os, shutil, subprocess, sys, tempfile
import report

TASKS = {
    "toy": ("modes5-modes10", [("GAN only", "discogan-toy", ["--set", 'discogan.arch="gan"'], "gan"),
                               ("GAN + reconstruction (A→B→A)", "discogan-toy", ["--set", 'discogan.arch="recongan"'], "recongan"),
                               ("DiscoGAN", "discogan-toy", [], "discogan"),
                               ("CycleGAN", "cyclegan-toy", [], "cyclegan")]),
    "typeset": ("digits-typeset", None),
    "fashion": ("fashion-edges", None),
    "edges": ("digits-edges", None),
    "negative": ("digits-negative", None),
}
DEFAULT_METHODS = "cyclegan-small,discogan-digits"


def mean_se(xs):
    m, sd = report.mean_sd(xs)
    return m, sd / math.sqrt(len(xs))


def fmt(xs, scale=1.0, digits=3):
    m, se = mean_se([x * scale for x in xs])
    return f"{m:.{digits}f} ± {se:.{digits}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", required=True, choices=sorted(TASKS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--methods", default=DEFAULT_METHODS)
    ap.add_argument("--mnist", default=os.path.join(report.ROOT, "..", "shared", "data", "mnist-10k"))
    a = ap.parse_args()
    report.build()
    tmp = a.workdir or tempfile.mkdtemp(prefix="gantry-translation-")
    data_name, variants = TASKS[a.task]
    data = os.path.join(tmp, "data", data_name)
    if not os.path.isdir(data):
        report.gantry("data", "make", data_name, "--out", data, "--mnist", os.path.abspath(a.mnist))
    if variants is None:
        variants = [(m, m, [], m) for m in a.methods.split(",")]

    def one(label, preset, extra, slug, seed):
        out = os.path.join(tmp, f"{slug}-{seed}")
        s = report.trained(out, ["--preset", preset, "--data", data, "--seed", seed, *extra])
        ev = os.path.join(out, "bench-eval.json")
        if not os.path.exists(ev):
            e = report.gantry("eval", "--run", out, "--quiet", env={"OMP_NUM_THREADS": "1"})
            open(ev, "w").write(json.dumps(e))
        e = json.load(open(ev))
        print(label, seed, json.dumps({d: {k: v for k, v in e[d].items() if isinstance(v, (int, float, list))} for d in ["a2b", "b2a"]}), flush=True)
        return label, preset, seed, s, e, out, slug

    jobs = [(label, preset, extra, slug, seed) for seed in range(a.seeds) for label, preset, extra, slug in variants]
    with cf.ThreadPoolExecutor(a.workers) as ex:
        res = [f.result() for f in [ex.submit(one, *j) for j in jobs]]

    images = os.path.join(report.ROOT, "docs", "images")
    os.makedirs(images, exist_ok=True)
    pictures = []
    for label, preset, seed, s, e, out, slug in res:
        if seed == 0:
            name = f"translation-{a.task}-{slug}.png"
            pictures.append((label, name))
            if report.restored(out):  # trained in an earlier sitting: its picture was copied then
                continue
            grids = sorted(os.listdir(os.path.join(out, "samples")))
            shutil.copy(os.path.join(out, "samples", grids[-1]), os.path.join(images, name))

    minutes = {label: report.mean_sd([r[3]["wall_seconds"] / 60 for r in res if r[0] == label])[0] for label, _, _, _ in variants}
    head = [f"## Translation: {data_name} ({report.stamp()})", "",
            f"`python3 bench/translation.py {report.shown_args(sys.argv[1:])}` on {report.machine()}, CPU, "
            f"{report.side_by_side(a.workers)} with one thread each, beside other work "
            f"(minutes are wall time under that load); each preset's own settings and steps, seeds 0–{a.seeds - 1}; "
            "mean ± standard error over the seeds. Figures from `gantry eval --run RUN` on the test files "
            "(README, *Two-domain data* and *Translation*).", ""]
    lines = []
    if a.task == "toy":
        lines += ["Each test point of A belongs to its nearest A mode, each translated point to its nearest B mode; "
                  "`mapping` lists, per A mode, the B mode most of its points reach; `modes hit` counts the distinct B modes "
                  "there; `purity` is the mean share of an A mode's points that reach its mapped mode; `on a mode` the share of "
                  "translated points within 3σ of a B mode. Target (issue): DiscoGAN and CycleGAN map the 5 A modes onto 5 "
                  "distinct B modes; the baselines are expected to collapse.", "",
                  "| model | preset | modes hit per seed (of 5) | mapping per seed | purity | on a mode | minutes per run |",
                  "|---|---|---|---|---|---|---|"]
        for label, preset, _, _ in variants:
            rs = [r for r in res if r[0] == label]
            hits = [r[4]["a2b"]["modes_hit"] for r in rs]
            lines.append(f"| {label} | `{preset}` | {', '.join(map(str, hits))} | "
                         f"{'; '.join(str(r[4]['a2b']['mapping']) for r in rs)} | {fmt([r[4]['a2b']['mapping_purity'] for r in rs])} | "
                         f"{fmt([r[4]['a2b']['on_mode'] for r in rs])} | {minutes[label]:.1f} |")
        verdict = []
        for label in ["DiscoGAN", "CycleGAN"]:
            hits = [r[4]["a2b"]["modes_hit"] for r in res if r[0] == label]
            verdict.append(f"{label}: {'met' if all(h == 5 for h in hits) else 'missed'} ({', '.join(map(str, hits))} of 5)")
        base = []
        for label in ["GAN only", "GAN + reconstruction (A→B→A)"]:
            hits = [r[4]["a2b"]["modes_hit"] for r in res if r[0] == label]
            base.append(f"{label} {'collapsed (' if min(hits) < 5 else 'did not collapse ('}{', '.join(map(str, hits))} of 5)")
        lines += ["", "Target: " + "; ".join(verdict) + ". Baselines: " + "; ".join(base) + "."]
    else:
        lines += ["| method | direction | translation accuracy per seed | translation accuracy | baseline accuracy | gain (points) | "
                  "L1 to truth | PSNR dB | FCD | cycle L1 | minutes per run |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        verdict = []
        for label, preset, _, _ in variants:
            rs = [r for r in res if r[0] == label]
            for d, name in [("a2b", "A → B"), ("b2a", "B → A")]:
                es = [r[4][d] for r in rs]
                get = lambda k: [e[k] for e in es if k in e]
                acc, base = get("translation_accuracy"), get("baseline_accuracy")
                cells = [f"`{preset}`", name]
                if acc:
                    gain = [100 * (x - y) for x, y in zip(acc, base)]
                    cells += [", ".join(f"{100 * x:.1f}" for x in acc), fmt(acc, 100, 1), fmt(base, 100, 1), fmt(gain, 1, 1)]
                    if a.task in ("typeset", "negative"):
                        mean_gain = sum(gain) / len(gain)
                        verdict.append(f"{preset} {name}: {'met' if mean_gain >= 10 else 'missed'} (mean gain {mean_gain:.1f}; "
                                       f"per seed {', '.join(f'{g:.1f}' for g in gain)})")
                else:
                    cells += ["—"] * 4
                for k, digits in [("l1_to_truth", 4), ("psnr", 2), ("fcd", 2), ("cycle_l1", 4)]:
                    cells.append(fmt(get(k), 1, digits) if get(k) else "—")
                cells.append(f"{minutes[label]:.1f}")
                lines.append("| " + " | ".join(cells) + " |")
        lines += ["", "`translation accuracy`: a classifier trained on the target domain's labelled training images (gantry's "
                  "evaluation CNN, cached per domain) on the translated test images, scored against the source images' labels; "
                  "`baseline accuracy`: the same classifier on the untranslated test images; `gain` their difference. "
                  "`L1 to truth` and `PSNR` compare with the true translation (truth folders), pixels in [0, 1]; `FCD` is "
                  "on the target classifier's features against the target domain's test images; `cycle L1` is the "
                  "round trip's mean absolute error."]
        if verdict and a.task == "typeset":
            lines += ["", "Target (translation beats the baseline by ≥ 10 points in each direction, mean over the seeds): " + "; ".join(verdict) + "."]
        elif verdict:
            lines += ["", "Rule of this check, fixed before its first run (a gain of ≥ 10 points means the translation "
                      "carries digit identity in that direction; 'met' below): " + "; ".join(verdict) + "."]
    reused = sorted({f"{r[0]} seed {r[2]}" for r in res if r[3].get("reused_from")})
    if reused:
        lines += ["", "Reused from an earlier run of the same preset, seed and data with the same code (its wall time "
                  "was measured under heavier load): " + ", ".join(reused) + "."]
    lines += ["", "Pictures (seed 0, the last progress grid): " + ", ".join(f"{label}: `docs/images/{n}`" for label, n in pictures) + "."]
    report.write_section(f"translation-{a.task}", "\n".join(head + lines))


if __name__ == "__main__":
    main()
