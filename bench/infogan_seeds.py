"""How often InfoGAN's categorical code finds the digits: many seeds of the `infogan` preset and
of variants of it, each scored by `code_accuracy` (Q's first code on the MNIST-10k test split,
Hungarian-matched to the labels). Made for a GPU, where a run takes seconds; each run's line is
appended to OUT/infogan-seeds.jsonl as it finishes, with the run's last logged losses, so that
an unsupervised criterion for picking a restart can be checked against the accuracy.

    python3 bench/infogan_seeds.py --out DIR [--device cuda] [--seeds 8] [--workers 8]
        [--variants preset,preset-9000,authors,cat2] [--data MNIST_DIR] [--report-only]

The figures of every line in OUT/infogan-seeds.jsonl (this run's and earlier ones') go to the
section `infogan-seeds-cuda` (or `-cpu`) of docs/benchmarks.md; `--report-only` writes that section and trains
nothing.

Variants: `preset` (as shipped, 4,500 steps); `preset-9000` (the same run resumed to 9,000
steps); `authors` (openai/InfoGAN's MNIST launcher: batch 128, 5,000 steps, z ~ U(-1, 1),
LeakyReLU 0.01, lambda 1 on the continuous codes with unit variance); `cat2` (lambda 2 on the
categorical code).
"""
import argparse, json, os, statistics, subprocess, threading, time
from concurrent.futures import ThreadPoolExecutor
import report

VARIANTS = {
    "preset": [],
    "authors": ["--set", "data.batch_size=128", "--set", "model.latent_prior=uniform",
                "--set", "model.leaky_slope=0.01", "--set", "infogan.continuous_weight=1.0"],
    "cat2": ["--set", "infogan.weight=2.0"],
}


def last_losses(run):
    keep = {}
    for line in open(os.path.join(run, "metrics.jsonl")):
        m = json.loads(line)
        keep.update({k: v for k, v in m.items() if k in ("d/loss", "g/loss", "g/info", "d/info")})
    return keep


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--variants", default="preset,preset-9000,authors,cat2")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every run's steps (a rehearsal)")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--device-name", help="the machine's words for the report (default: asked of PyTorch)")
    ap.add_argument("--data", default=os.path.join(report.ROOT, "..", "shared", "data", "mnist-10k"))
    a = ap.parse_args()
    report.pin_classifiers()
    os.makedirs(a.out, exist_ok=True)
    results = os.path.join(a.out, "infogan-seeds.jsonl")
    lock = threading.Lock()
    wanted = a.variants.split(",")

    def run(variant, seed):
        base = "preset" if variant == "preset-9000" else variant
        rows = []
        d = os.path.join(a.out, "runs", f"{base}-{seed}")
        n = {"preset": 4500, "preset-9000": 9000, "authors": 5000, "cat2": 4500}
        steps = [("preset", 4500), ("preset-9000", 9000)] if base == "preset" else [(variant, n[variant])]
        for name, more in steps:
            if name not in wanted:
                continue
            t0 = time.time()
            args = [report.GANTRY, "train", "--preset", "infogan", "--data", a.data, "--seed", str(seed),
                    "--device", a.device, "--out", d, "--quiet", "--set", "train.eval_every=0",
                    "--set", "train.sample_every=0", *VARIANTS[base], "--steps", str(round(more * a.scale))]
            if name == "preset-9000":
                args.append("--resume")
            r = subprocess.run(args, capture_output=True, text=True)
            row = {"variant": name, "seed": seed, "train_seconds": round(time.time() - t0, 1)}
            if r.returncode != 0:
                row["error"] = r.stderr.strip()[-300:]
            else:
                e = subprocess.run([report.GANTRY, "eval", "--run", d, "--device", a.device, "--samples", "500",
                                    "--quiet"], capture_output=True, text=True)
                if e.returncode != 0:
                    row["error"] = e.stderr.strip()[-300:]
                else:
                    m = json.loads(e.stdout.strip().splitlines()[-1])
                    row.update(code_accuracy=m.get("code_accuracy"), fcd=m.get("fcd"), **last_losses(d))
            with lock:
                open(results, "a").write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)
            rows.append(row)
        return rows

    jobs = [(v, s) for v in ("preset", "authors", "cat2") for s in range(a.seeds)
            if v in wanted or (v == "preset" and "preset-9000" in wanted)]
    if not a.report_only:
        with ThreadPoolExecutor(a.workers) as ex:
            list(ex.map(lambda j: run(*j), jobs))
    report_section(results, a)


def report_section(results, a):
    rows = [json.loads(line) for line in open(results)] if os.path.exists(results) else []
    device = a.device_name or (f"{report.machine()}, CPU" if a.device == "cpu" else report.gpu(a.device))
    lines = [f"## InfoGAN over many seeds ({report.stamp()})", "",
             f"`python3 bench/infogan_seeds.py --out DIR --device {a.device} --seeds {a.seeds} --workers {a.workers}` on "
             f"{device}, MNIST-10k; `code_accuracy` is Q's first categorical code on the test images, "
             "Hungarian-matched to the labels. Runs on a GPU are not bit-identical to the CPU runs of the "
             "`conditional` section (other kernels), so seed k here is another draw than seed k there.", "",
             "| variant | seeds | mean | median | best | runs ≥ 0.90 | seed: accuracy |", "|---|---|---|---|---|---|---|"]
    for v in ("preset", "preset-9000", "authors", "cat2"):
        got = sorted((r["seed"], r["code_accuracy"]) for r in rows if r["variant"] == v and r.get("code_accuracy") is not None)
        if not got:
            continue
        acc = [x for _, x in got]
        lines.append(f"| {v} | {len(acc)} | {statistics.mean(acc):.3f} | {statistics.median(acc):.3f} | {max(acc):.3f} | "
                     f"{sum(x >= 0.9 for x in acc)} | {', '.join(f'{k}: {x:.3f}' for k, x in got)} |")
        print(lines[-1])
    report.write_section(f"infogan-seeds-{'cpu' if a.device == 'cpu' else 'cuda'}", "\n".join(lines))


if __name__ == "__main__":
    main()
