"""Data-parallel scaling on this machine: `dcgan` and `wgan-gp` on Fashion-MNIST with 1 and 2
ranks of one thread each, gantry (`--nproc`) against PyTorch's DistributedDataParallel over Gloo
running the same models (bench/reference/ddp.py, under torchrun), in the same run.

    python3 bench/ddp.py [--repeats 2] [--steps 30] [--ranks 1,2] [--only dcgan,wgan-gp]

Both sides train `--steps` steps untimed, then time as many: gantry over its last logging
interval (rank 0's loop; the ranks move in step), the twin between two barriers. The global batch
is 64 in every case (32 per rank with 2 ranks). The implementations alternate; the median of
`--repeats` runs each is compared. Time it on an otherwise idle machine.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile
import report
from speed import gantry_rate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument("--only", default="dcgan,wgan-gp")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    report.build()
    tmp = tempfile.mkdtemp(prefix="gantry-ddp-")
    twin = os.path.join(report.ROOT, "bench", "reference", "ddp.py")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    # the models' own step counts differ: wgan-gp's step holds 5 critic steps
    steps_of = {"dcgan": a.steps, "wgan-gp": max(a.steps // 3, 5)}
    rows = []
    for model in a.only.split(","):
        steps = steps_of[model]
        for ranks in [int(r) for r in a.ranks.split(",")]:
            g, g1, t = [], [], []

            def gantry(out, extra=()):
                cmd = [report.GANTRY, "train", "--preset", model, "--data", a.data, "--out", out, "--steps", str(2 * steps),
                       "--quiet", "--nproc", str(ranks), "--set", "train.sample_every=0", "--set", "train.checkpoint_every=0",
                       "--set", f"train.log_every={steps}", *extra]
                r = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if r.returncode != 0:
                    sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr}")
                return gantry_rate(out, 2 * steps)

            for i in range(a.repeats):
                g.append(gantry(os.path.join(tmp, f"{model}-{ranks}-{i}")))
                if ranks > 1:  # the gradients summed in one collective after backward, no overlap
                    g1.append(gantry(os.path.join(tmp, f"{model}-{ranks}-{i}-one"), ["--set", "train.dist_bucket_mb=0"]))
                launch = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(ranks)] if ranks > 1 else [sys.executable]
                tc = launch + [twin, "--model", model, "--steps", str(steps), "--warmup", str(steps), "--data", a.data]
                r = subprocess.run(tc, capture_output=True, text=True, env=env)
                if r.returncode != 0:
                    sys.exit(f"{' '.join(tc)} failed:\n{r.stderr}")
                s = json.loads([l for l in r.stdout.splitlines() if l.startswith("{")][-1])
                t.append(s["steps_per_s"])
                print(model, ranks, i, g[-1], g1[-1] if g1 else None, t[-1], flush=True)
            rows.append((model, ranks, steps, statistics.median(g), statistics.median(t), g, t, s["torch"],
                         statistics.median(g1) if g1 else None))
    lines = [f"## Data-parallel scaling against PyTorch DDP ({report.stamp()})", "",
             f"`python3 bench/ddp.py {report.shown_args(sys.argv[1:])}` on {report.machine()}, CPU, PyTorch {rows[0][7]}; "
             "one thread per rank, the machine otherwise idle. gantry: `gantry train --nproc N` (torch.distributed's Gloo "
             "process group through gantry's shim); PyTorch: the same models under `DistributedDataParallel` over Gloo, "
             "started by torchrun (bench/reference/ddp.py), one plain process for 1 rank. The global batch is 64 in every row. "
             "Each run trains the stated steps untimed, then times as many; the implementations alternate and the median of "
             f"{a.repeats} runs each is shown.", "",
             "| model | ranks | steps per run (+ as many warm-up) | gantry steps/s | gantry, one sum after backward | PyTorch steps/s | ratio (gantry / PyTorch) | gantry scaling (N ranks / 1) | PyTorch scaling | runs (gantry; PyTorch) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    one = {(m, "g"): gs for m, r, _, gs, ts, *_ in rows if r == 1} | {(m, "t"): ts for m, r, _, gs, ts, *_ in rows if r == 1}
    for model, ranks, steps, gs, ts, g, t, _, g1 in rows:
        sg = f"{gs / one[(model, 'g')]:.2f}×" if (model, "g") in one else "–"
        st = f"{ts / one[(model, 't')]:.2f}×" if (model, "t") in one else "–"
        lines.append(f"| {model} | {ranks} | {steps} | {gs:.2f} | {'–' if g1 is None else f'{g1:.2f}'} | {ts:.2f} | **{gs / ts:.2f}×** | {sg} | {st} | "
                     f"{', '.join(f'{x:.2f}' for x in g)}; {', '.join(f'{x:.2f}' for x in t)} |")
    lines += ["", "On 2 cores each rank of 2 has a core to itself, so the ideal scaling is 2×; what falls short is the "
              "gradient exchange and the per-step agreement on stop signals (gantry: one 4-byte all-reduce). Both gantry and "
              "DDP sum the gradients in buckets (the first of 1 MiB, then 25 MiB) that start from autograd hooks while the "
              "backward pass runs; `gantry, one sum after backward` is gantry with `train.dist_bucket_mb = 0`, one "
              "collective per player after the backward pass."]
    report.write_section("ddp", "\n".join(lines))


if __name__ == "__main__":
    main()
