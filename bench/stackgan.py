"""StackGAN on gantry's captioned scenes: Stage I, Stage II, and Stage II without conditioning
augmentation, scored on the held-out captions by the attribute judge.

The data: `gantry data make shapes-captions` (10,000 training scenes, 1,000 test scenes, half of
those holding a colour–shape pair training never shows). One text encoder (`gantry text
train`, 3000 steps) and two attribute judges (`gantry judge train` at 32 and 128 px) are trained
once and shared by every run. Per seed: a `stackgan-1` run, a `stackgan-2` run on it, and a
`stackgan-2` run with `stackgan.augment = false` (c = μ, no KL term). Each is evaluated with
`gantry eval --samples N` (one sample per test image and caption): the accuracy of what the
captions say (colour, shape, the fine attributes — stroke, texture, letter — and relations),
captions right in every respect, the same on the held-out compositions, and FCD. Stage II's
evaluation also scores its Stage-I input under the same 128-px judge (upsampled), which is the
fair Stage I / Stage II comparison. References: the real test images against their own captions
(the judge's ceiling) and the samples against another image's caption (the chance level).

    python3 bench/stackgan.py [--seeds 1] [--samples 1000] [--stage1-steps 6000] [--stage2-steps 6000] [--workdir DIR]

Runs use their presets' settings (both threads); finished runs and evaluations found in
--workdir are reused.
"""
import argparse, json, os, sys, tempfile, time
import report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--stage1-steps", type=int, default=6000)
    ap.add_argument("--stage2-steps", type=int, default=6000)
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    report.build()
    tmp = a.workdir or tempfile.mkdtemp(prefix="gantry-stackgan-")
    data = os.path.join(tmp, "shapes")
    if not os.path.exists(os.path.join(data, "test", "scenes.jsonl")):
        report.gantry("data", "make", "shapes-captions", "--out", data)
    text = os.path.join(tmp, "text.safetensors")
    if not os.path.exists(text):
        report.gantry("text", "train", "--data", data, "--out", text, "--quiet")
    judges = {side: os.path.join(tmp, f"judge-{side}.safetensors") for side in (32, 128)}

    def judged():
        # trained when first needed, after the first run (a judge trained beside it is reused)
        for side, path in judges.items():
            if not os.path.exists(path):
                j = report.gantry("judge", "train", "--data", data, "--size", side, "--out", path, "--quiet")
                json.dump(j, open(path.replace(".safetensors", ".json"), "w"))
                print("judge", side, j["test"], flush=True)
    enc = ["--set", f'stackgan.text_encoder="{text}"']

    def write(pending):
        # after every evaluation, so a benchmark spread over several sittings is on record as it goes
        json.dump([r[:3] for r in rows], open(os.path.join(tmp, "stackgan-results.json"), "w"))

        def pct(v):
            return "–" if v is None else f"{100 * v:.1f} %"

        def line(label, seed, e, p, fcd, steps):
            return (f"| {label} | {seed} | {steps} | {pct(e.get(p + 'colour_accuracy'))} | {pct(e.get(p + 'shape_accuracy'))} | "
                    f"{pct(e.get(p + 'stroke_accuracy'))} | {pct(e.get(p + 'texture_accuracy'))} | "
                    f"{pct(e.get(p + 'glyph_accuracy'))} | {pct(e.get(p + 'relation_accuracy'))} | "
                    f"{pct(e.get(p + 'attribute_accuracy'))} | {pct(e.get(p + 'exact'))} | "
                    f"{pct(e.get(p.replace('caption_', 'caption_held_out_') + 'exact'))} | "
                    f"{pct(e.get(p + 'r_precision'))} | {fcd} |")

        lines = [f"## StackGAN on captioned scenes ({report.stamp()})", "",
                 f"`python3 bench/stackgan.py {report.shown_args(sys.argv[1:])}` on {report.machine()}, CPU. "
                 f"{a.samples} samples, one per held-out test image and caption. Every figure is the attribute judge's "
                 "(a detector trained on the scenes' ground truth, `gantry judge train`): the fraction of the things "
                 "captions say that the sample shows — colour, shape, the fine attributes Stage I's 32 px cannot "
                 "resolve (stroke, texture, letter), relations — and of captions right in every respect (exact), "
                 "overall and on the test scenes holding a colour–shape pair training never showed (held-out exact). "
                 "Stage I and Stage II are judged at 128 px (Stage I upsampled; Stage I's own run also at 32 px by the "
                 "32-px judge). FCD: the judge's features against the test images, at the stage's side, and for Stage "
                 "I also upsampled to 128 px (comparable with Stage II's). Targets from the issue: colour and shape ≥ "
                 "90 %, relations ≥ 75 %, Stage II above Stage I on the fine attributes and on FCD. R-precision: "
                 "the fraction of samples whose own caption the text encoder ranks above 99 other test captions "
                 "(chance 1 %).", "",
                 "| samples | seed | steps | colour | shape | stroke | texture | letter | relations | all attributes | exact | held-out exact | R-precision | FCD |",
                 "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for label, seed, e, t in rows:
            # the run's last step (a resumed run's summary counts the steps of its last sitting)
            steps = t.get("first_step", 0) + t.get("steps", 0) if t else ""
            if label == "Stage I":
                lines.append(line("Stage I (its own run, 32-px judge)", seed, e, "caption_", f"{e['fcd']:.2f} (32 px)", steps))
                lines.append(line("real test images, own captions (32-px judge)", seed, e, "caption_real_", "–", ""))
            else:
                lines.append(line(f"{label}: its Stage-I input (128-px judge)", seed, e, "stage1_caption_",
                                  f"{e['stage1_fcd']:.2f} (32 px), {e['stage1_fcd_upsampled']:.2f} (upsampled)", ""))
                lines.append(line(label, seed, e, "caption_", f"{e['fcd']:.2f} (128 px)", steps))
                lines.append(line("shuffled captions (chance)", seed, e, "caption_shuffled_", "–", ""))
                lines.append(line("real test images, own captions (128-px judge)", seed, e, "caption_real_", "–", ""))
        # the judges on the real test images: what each side resolves (the fine attributes should be
        # near chance at 32 px: stroke and texture ½, letter ⅛)
        lines += ["", "The judges on the real test objects (accuracy per attribute; found: objects detected):", "",
                  "| judge | found | colour | shape | fill | stroke | texture | letter |", "|---|---|---|---|---|---|---|---|"]
        for side, path in judges.items():
            meta = path.replace(".safetensors", ".json")
            if os.path.exists(meta):
                t = json.load(open(meta))["test"]
                lines.append(f"| {side} px | " + " | ".join(pct(t.get(k)) for k in
                                                            ("found", "colour", "shape", "fill", "stroke", "texture", "glyph")) + " |")
        if pending:
            lines += ["", "Still to come (the benchmark resumes where it stopped, reusing what is done): "
                      + "; ".join(f"{label}, seed {seed}" for label, seed in pending) + "."]
        report.write_section("stackgan", "\n".join(lines))

    labels = ["Stage I", "Stage II", "Stage II without conditioning augmentation"]
    plan = [(label, seed) for seed in range(a.seeds) for label in labels]
    rows = []
    for seed in range(a.seeds):
        s1 = os.path.join(tmp, f"stage1-{seed}")
        runs = [
            ("Stage I", s1, ["--preset", "stackgan-1", "--steps", a.stage1_steps, *enc]),
            ("Stage II", os.path.join(tmp, f"stage2-{seed}"),
             ["--preset", "stackgan-2", "--stage1", s1, "--steps", a.stage2_steps]),
            ("Stage II without conditioning augmentation", os.path.join(tmp, f"stage2-noca-{seed}"),
             ["--preset", "stackgan-2", "--stage1", s1, "--steps", a.stage2_steps, "--set", "stackgan.augment=false"]),
        ]
        for label, out, args in runs:
            t = report.trained(out, ["--data", data, "--seed", seed, "--set", "train.sample_every=500",
                                     "--set", "train.checkpoint_every=500", *args], threads=2)
            done = os.path.join(out, f"bench-eval-{a.samples}.json")
            if not os.path.exists(done):
                judged()
                t0 = time.time()
                e = report.gantry("eval", "--run", out, "--samples", a.samples, "--seed", 1000 + seed,
                                  "--judge", judges[32], "--judge", judges[128], "--quiet")
                e["bench_seconds"] = time.time() - t0
                json.dump(e, open(done, "w"))
            e = json.load(open(done))
            print(label, seed, {k: e.get(k) for k in ("caption_colour_accuracy", "caption_shape_accuracy",
                                                      "caption_fine_accuracy", "caption_relation_accuracy",
                                                      "caption_exact", "fcd")}, flush=True)
            rows.append((label, seed, e, t))
            write(plan[len(rows):])


if __name__ == "__main__":
    main()
