"""Fashion-MNIST after one epoch: `dcgan`, `lsgan` and `wgan-gp` each train for 938 generator
steps of batch 64 (60,000 images: one epoch of generator batches; WGAN-GP's critic sees five
batches per generator step) and their sample grids (fixed latents) are committed under
docs/images/. The dcgan run also gets an interpolation and a latent-arithmetic figure.

    python3 bench/fashion.py [--steps 938] [--presets dcgan,lsgan,wgan-gp]
"""
import argparse, os, shutil, tempfile, time
import report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=938)
    ap.add_argument("--presets", default="dcgan,lsgan,wgan-gp")
    a = ap.parse_args()
    report.build()
    tmp = tempfile.mkdtemp(prefix="gantry-fashion-")
    img = os.path.join(report.ROOT, "docs", "images")
    os.makedirs(img, exist_ok=True)
    rows = []
    for p in a.presets.split(","):
        out = os.path.join(tmp, p)
        t0 = time.time()
        s = report.gantry("train", "--preset", p, "--out", out, "--steps", a.steps, "--quiet",
                          "--set", f"train.sample_every={a.steps}", "--set", f"train.checkpoint_every={a.steps}")
        secs = time.time() - t0
        shutil.copy(os.path.join(out, "samples", f"step-{a.steps:07d}.png"), os.path.join(img, f"fashion-{p}-epoch1.png"))
        last = open(os.path.join(out, "metrics.jsonl")).read().strip().splitlines()[-1]
        rows.append((p, secs, s["steps_per_s"], last))
        if p == "dcgan":
            report.gantry("interpolate", "--run", out, "--out", os.path.join(img, "fashion-dcgan-interpolate.png"), "--rows", 6, "--cols", 10)
            report.gantry("sample", "--run", out, "--n", 64, "--seed", 3, "--out", os.path.join(img, "fashion-dcgan-sample-seed3.png"))
            report.gantry("arithmetic", "--run", out, "--seed", 3, "--a", "0,1,2", "--b", "3,4,5", "--c", "6,7,8",
                          "--out", os.path.join(img, "fashion-dcgan-arithmetic.png"))
    lines = [f"## Fashion-MNIST after one epoch ({report.stamp()})", "",
             f"`python3 bench/fashion.py --steps {a.steps}` on {report.machine()}, CPU. {a.steps} generator steps of batch 64 "
             "(one pass of generator batches over the 60,000 training images); fixed latents, EMA off. Wall times are "
             "of a shared machine (other benchmarks ran alongside); bench/speed.py measures speed.", "",
             "| preset | wall time | steps/s | grid | last logged metrics |", "|---|---|---|---|---|"]
    for p, secs, sps, last in rows:
        lines.append(f"| `{p}` | {secs:.0f} s | {sps:.2f} | ![{p}](images/fashion-{p}-epoch1.png) | `{last}` |")
    if any(r[0] == "dcgan" for r in rows):
        lines += ["", "DCGAN's latent space after the same epoch: `gantry interpolate` (rows of spherical interpolations) and "
                  "`gantry arithmetic --seed 3 --a 0,1,2 --b 3,4,5 --c 6,7,8` (rows: A, B, C with their mean latent's image last; "
                  "then A − B + C and seven variations), indices into `gantry sample --n 64 --seed 3` "
                  "([grid](images/fashion-dcgan-sample-seed3.png)).", "",
                  "![interpolation](images/fashion-dcgan-interpolate.png) ![arithmetic](images/fashion-dcgan-arithmetic.png)"]
    report.write_section("fashion", "\n".join(lines))


if __name__ == "__main__":
    main()
