"""Fashion-MNIST comparison in the spirit of "Are GANs Created Equal?" (Lucic et al. 2018):
MM GAN, NS GAN, LSGAN, WGAN, WGAN-GP (and hinge) with one architecture (the `dcgan` preset's
networks), and BEGAN twice: with its reference's networks (`began`) and on the `dcgan` networks
with an autoencoder discriminator made of their layers (`began-dcgan`, as Lucic et al. run it), one equal budget of
generator steps of batch 64, several seeds; each scored on 2,500 samples against the test split
with the evaluation classifier's features (FCD, KID, precision, recall), beside the real-data floor
(train split vs test split, same feature network) and Lucic et al.'s Table 2 best FIDs (Inception
features: only the ranking transfers).

    python3 bench/fashion_compare.py [--steps 1000] [--seeds 2] [--samples 2500] [--workers 2]
                                     [--losses "BEGAN,NS GAN"] [--workdir DIR]

With --workers N, N runs train side by side, one thread each. With --losses only those rows are
trained; the other rows are carried over unchanged from the section as it stands, and the section
says which sitting each row comes from. Rows are carried only when the step budget, seeds, sample
count and feature network are the ones of this invocation. Runs go through the bench ledger
(report.trained), so BENCH_LEDGER=1 keeps them in bench/results/fashion_compare/.
"""
import argparse, concurrent.futures as cf, json, os, re, sys, tempfile
import report

LOSSES = [
    ("MM GAN", "dcgan", ['objective.loss="minimax"']),
    ("NS GAN", "dcgan", []),
    ("LSGAN", "lsgan", []),
    ("WGAN", "wgan", []),
    ("WGAN-GP", "wgan-gp", []),
    ("hinge", "hinge", []),
    # the reference's batch is 16; the table's budget is steps of batch 64, as Lucic et al. train every model
    ("BEGAN", "began", ["data.batch_size=64"]),
    # Lucic et al.'s BEGAN: the shared networks, the discriminator an autoencoder of their layers
    ("BEGAN (dcgan networks)", "began-dcgan", []),
]
LUCIC = {"MM GAN": 29.6, "NS GAN": 26.5, "LSGAN": 30.7, "WGAN": 21.5, "WGAN-GP": 24.5, "BEGAN": 22.9}
SECTION = "fashion-compare"


def slug(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def carried_rows(a, run_names, feature_network):
    """The rows of the losses not trained now, from the section as it stands; exits when they were measured otherwise."""
    old = report.read_section(SECTION)
    wanted = [n for n, _, _ in LOSSES if n not in run_names]
    if not wanted:
        return {}, {}, []
    if old is None:
        sys.exit(f"fashion_compare: there is no section to carry {', '.join(wanted)} from; run without --losses")
    for what, value in (("--steps", a.steps), ("--seeds", a.seeds), ("--samples", a.samples)):
        shown = re.findall(rf"{what} (\d+)", old)
        if shown and any(int(v) != value for v in shown):
            sys.exit(f"fashion_compare: the rows in docs/benchmarks.md were measured with {what} {shown[0]}, not {value}; "
                     f"run with {what} {shown[0]}, or without --losses to measure every row again")
    if f"`{feature_network}`" not in old:
        sys.exit(f"fashion_compare: the rows in docs/benchmarks.md were scored with another feature network than "
                 f"{feature_network}; run without --losses to measure every row again")
    rows = {l.split(" | ")[0][2:]: l for l in old.splitlines() if l.startswith("| ")}
    missing = [n for n in wanted if n not in rows]
    if missing:
        sys.exit(f"fashion_compare: the section has no row for {', '.join(missing)}; add it to --losses")
    where = report.sittings(old, lambda cells: cells[0])
    # a carried row's per-seed line (and a note added by hand, "NAME (added ..."), carried with it
    notes = [l for l in old.splitlines() if any(l.startswith(f"{n} per seed:") or l.startswith(f"{n} (added") for n in wanted)]
    return {n: rows[n] for n in wanted}, {n: where[n] for n in wanted}, notes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--samples", type=int, default=2500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--losses", default=None, help="comma-separated row names to train; the rest are carried over")
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    names = [n for n, _, _ in LOSSES]
    run_names = names if a.losses is None else [x.strip() for x in a.losses.split(",")]
    unknown = [n for n in run_names if n not in names]
    if unknown:
        sys.exit(f"fashion_compare: --losses names {', '.join(unknown)}; the rows are {', '.join(names)}")
    report.build()
    tmp = a.workdir or tempfile.mkdtemp(prefix="gantry-compare-")
    floor = report.gantry("eval", "--real", "fashion-mnist", "--reference", "fashion-mnist", "--samples", a.samples, "--quiet")
    carried, where, notes = carried_rows(a, run_names, floor["feature_network"])
    threads = 1 if a.workers > 1 else os.cpu_count()

    def one(name, preset, sets, seed):
        out = os.path.join(tmp, f"{slug(name)}-{seed}")
        s = report.trained(out, ["--preset", preset, "--steps", a.steps, "--seed", seed, "--set", "train.sample_every=0",
                                 *[x for kv in sets for x in ("--set", kv)]], threads=threads)
        path = os.path.join(out, "bench-eval.json")
        if not os.path.exists(path):
            e = report.gantry("eval", "--run", out, "--samples", a.samples, "--seed", seed, "--quiet",
                              env={"OMP_NUM_THREADS": str(threads)})
            open(path, "w").write(json.dumps(e))
        e = json.load(open(path))
        print(name, seed, e["fcd"], f"{s['wall_seconds']:.0f}s", flush=True)
        return e, s["wall_seconds"]

    todo = [(n, p, sets) for n, p, sets in LOSSES if n in run_names]
    with cf.ThreadPoolExecutor(a.workers) as ex:
        # seed by seed: a sitting that ends early leaves whole seeds in the ledger
        futs = [(name, ex.submit(one, name, preset, sets, seed)) for seed in range(a.seeds) for name, preset, sets in todo]
        trained = {}
        for name, f in futs:
            trained.setdefault(name, []).append(f.result())

    cmd = f"`python3 bench/fashion_compare.py {report.shown_args(sys.argv[1:])}`".replace(" `", "`")
    here = f"{cmd} on {report.machine()}, CPU, {report.stamp()}"
    lines = [f"## Fashion-MNIST: losses compared on one architecture ({report.stamp()})", "",
             f"{cmd} on {report.machine()}, CPU" + (f", {a.workers} runs side by side with one thread each." if a.workers > 1 else "."),
             f"Each loss trains the `dcgan` networks for {a.steps} generator steps of batch 64 (its preset's optimiser and critic "
             f"steps), BEGAN its own `began` networks (autoencoder discriminator, width 64) with its preset's optimiser and batch 64, "
             f"and BEGAN (dcgan networks) the `began-dcgan` preset: the `dcgan` generator, an autoencoder discriminator of the `dcgan` "
             f"layers, the `dcgan` rows' optimiser and batch 64, BEGAN's γ 0.5 and λ_k 0.001; "
             f"budget `--steps {a.steps} --seeds {a.seeds} --samples {a.samples}`; the samples scored against the test split, feature network `{floor['feature_network']}`. "
             "Mean ± std over seeds. Lucic et al.'s numbers are FIDs on Inception features after a large hyperparameter search: "
             "compare rankings only.", "",
             "| loss | FCD | KID ×10³ | precision | recall | minutes per run | Lucic et al. best FID |", "|---|---|---|---|---|---|---|"]
    fcd = {}
    for name in names:
        if name in carried:
            lines.append(carried[name])
            fcd[name] = float(carried[name].split(" | ")[1].split(" ± ")[0])
            continue
        res = trained[name]
        f, k = report.mean_sd([r[0]["fcd"] for r in res]), report.mean_sd([1000 * r[0]["kid"] for r in res])
        p, r_ = report.mean_sd([r[0]["precision"] for r in res]), report.mean_sd([r[0]["recall"] for r in res])
        fcd[name] = f[0]
        lines.append(f"| {name} | {f[0]:.2f} ± {f[1]:.2f} | {k[0]:.2f} ± {k[1]:.2f} | {p[0]:.3f} ± {p[1]:.3f} | "
                     f"{r_[0]:.3f} ± {r_[1]:.3f} | {report.mean_sd(r[1] for r in res)[0] / 60:.1f} | {LUCIC.get(name.split(' (')[0], '—')} |")
    lines.append(f"| real data (train vs test) | {floor['fcd']:.2f} | {1000 * floor['kid']:.2f} | {floor['precision']:.3f} | "
                 f"{floor['recall']:.3f} | — | — |")
    for name in names:
        if name in trained:
            per = [(r[0]["fcd"], r[0]["recall"], max(r[0]["class_histogram"]) / sum(r[0]["class_histogram"])) for r in trained[name]]
            notes.append(f"{name} per seed: " + "; ".join(f"seed {i}: FCD {f:.1f}, recall {rc:.3f}, largest class {100 * c:.0f} %"
                                                        for i, (f, rc, c) in enumerate(per))
                         + " (largest class: the share of the samples in the evaluation classifier's most frequent class).")
    ours = sorted(fcd, key=fcd.get)
    lucic = sorted(LUCIC, key=LUCIC.get)
    lines += ["", "Ranking, best first. gantry (FCD, this budget): " + " < ".join(ours)
              + ". Lucic et al. (best FID on Fashion-MNIST): " + " < ".join(lucic) + ".",
              "Minutes per run are wall time with other benchmarks sharing the two cores; compare them with each other only "
              "(and only within one sitting)."]
    if notes:
        lines += [""] + [x for n in notes for x in (n, "")][:-1]
    if carried:
        lines += ["", report.sittings_line(where, names, here)]
    report.write_section(SECTION, "\n".join(lines))


if __name__ == "__main__":
    main()
