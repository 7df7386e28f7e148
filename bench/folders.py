"""Image folders as training data, on real data.

    python3 bench/folders.py [--workdir DIR] [--steps 3000] [--samples 800] [--smoke]

1. `identity`: Fashion-MNIST written out by `gantry data export` as a class-folder tree; `dcgan`
   trained 200 steps (seed 0) from the IDX files and from the tree; every checkpoint file
   compared byte for byte, and the data loading time of each.
2. `icons`: `dcgan-64` (the DCGAN paper's 64x64 colour networks at a quarter of the width,
   `model.base_channels=32`, batch 64, one seed) on a real colour folder a Debian package ships:
   the Oxygen icon theme's 64x64 PNGs (`apt-get install oxygen-icon-theme`,
   /usr/share/icons/oxygen/base/64x64: 823 icons in 9 category folders, alpha laid over white).
   Scored by `gantry eval` (the evaluation classifier trained on the folder, a seeded sixth held
   out) at each checkpoint, beside the untrained generator (1 step).

Runs are kept in --workdir and reused. `--smoke` runs a few steps and prints the section.
"""
import argparse, filecmp, glob, json, os, tempfile, time
import report

ICONS = "/usr/share/icons/oxygen/base/64x64"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--samples", type=int, default=800)
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args()
    report.build()
    tmp = a.workdir or tempfile.mkdtemp(prefix="gantry-folders-")
    lines = [f"`python3 bench/folders.py --steps {a.steps} --samples {a.samples}` on {report.machine()}, CPU, {report.stamp()}.", ""]

    # 1. identity
    tree = os.path.join(tmp, "fashion-tree")
    if not os.path.isdir(tree):
        report.gantry("data", "export", "fashion-mnist", "--out", tree)
    steps = 5 if a.smoke else 200
    common = ["--preset", "dcgan", "--steps", steps, "--seed", 0, "--set", f"train.checkpoint_every={steps}", "--set", "train.sample_every=0"]
    runs = {}
    for name, data in [("idx", "fashion-mnist"), ("tree", tree)]:
        out = os.path.join(tmp, f"identity-{name}")
        t0 = time.time()
        s = report.trained(out, [*common, "--data", data])
        runs[name] = (out, s, time.time() - t0)
    ck = lambda out: sorted(glob.glob(os.path.join(out, "checkpoints", "step-*", "*.safetensors")))
    files_a, files_b = ck(runs["idx"][0]), ck(runs["tree"][0])
    same = [os.path.basename(x) for x, y in zip(files_a, files_b) if filecmp.cmp(x, y, shallow=False)]
    lines += [
        "### Fashion-MNIST from IDX files and from an exported image tree",
        "",
        f"`gantry data export fashion-mnist --out TREE` (60,000 + 10,000 PNG files in 10 class folders), then `gantry train "
        f"--preset dcgan --steps {steps} --seed 0` with `--data fashion-mnist` and with `--data TREE`:",
        "",
        "| | IDX files | image tree |",
        "|---|---|---|",
        f"| train wall time (s, {steps} steps, load included) | {runs['idx'][1]['wall_seconds']:.1f} | {runs['tree'][1]['wall_seconds']:.1f} |",
        f"| checkpoint files byte-identical | {len(same)} of {len(files_a)} ({', '.join(same)}) | |",
        "",
    ]

    # 2. icons
    if not os.path.isdir(ICONS):
        lines += [f"The icon run needs {ICONS}: `apt-get install oxygen-icon-theme`."]
    else:
        isteps = 6 if a.smoke else a.steps
        every = max(1, isteps // 3)
        args = ["--preset", "dcgan-64", "--data", ICONS, "--steps", isteps, "--seed", 1, "--set", "model.base_channels=32",
                "--set", "data.batch_size=64", "--set", f"train.sample_every={max(1, isteps // 12)}", "--set", "train.tensorboard=true",
                "--set", f"train.checkpoint_every={every}", "--set", "train.keep_checkpoints=4"]
        out = os.path.join(tmp, "icons-dcgan64")
        s = report.trained(out, args)
        base = os.path.join(tmp, "icons-dcgan64-untrained")
        report.trained(base, [*args[:4], "--steps", 1, *args[6:]])
        rows = []
        for run, step in [(base, 1)] + [(out, every * (i + 1)) for i in range(3)]:
            path = os.path.join(run, f"bench-eval-{step}.json")
            if not os.path.exists(path):
                e = report.gantry("eval", "--run", run, "--step", step, "--samples", a.samples, "--seed", 1, "--quiet")
                open(path, "w").write(json.dumps(e))
            e = json.load(open(path))
            rows.append(f"| {step} | {e['fcd']:.2f} | {e.get('precision', float('nan')):.3f} | {e.get('recall', float('nan')):.3f} | {e.get('classifier_score', float('nan')):.2f} |")
        lines += [
            "### dcgan-64 on a real colour folder: the Oxygen icon theme",
            "",
            f"{ICONS} (Debian's `oxygen-icon-theme`): 823 colour icons of 64x64 in 9 category folders (unconditional: the labels are unused). "
            f"`dcgan-64` at `model.base_channels=32`, batch 64, {isteps} steps, seed 1: {s['steps_per_s']:.2f} steps/s with one thread. "
            f"`gantry eval --samples {a.samples}` against the folder's images on the evaluation classifier gantry trained on the folder "
            "(a seeded sixth held out as its test split); step 1 is the untrained generator. One seed: a demonstration that the "
            "folder path learns, not a quality benchmark.",
            "",
            "| step | FCD | precision | recall | classifier score |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"Samples at the last step: docs/img/icons-dcgan64.png.",
        ]
        grids = sorted(glob.glob(os.path.join(out, "samples", "step-*.png")))
        if grids and not a.smoke:
            os.makedirs(os.path.join(report.ROOT, "docs", "img"), exist_ok=True)
            import shutil
            shutil.copy(grids[-1], os.path.join(report.ROOT, "docs", "img", "icons-dcgan64.png"))
    body = "## Image folders\n\n" + "\n".join(lines)
    if a.smoke:
        print(body)
    else:
        report.write_section("folders", body)
        print(body)


if __name__ == "__main__":
    main()
