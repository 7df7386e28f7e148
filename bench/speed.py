"""Speed against PyTorch on the same machine, in one run: gantry's `dcgan` (batch 64, one D and
one G update per step), `toy-wgan-gp` (3x512 MLPs, batch 256, 5 critic steps with gradient
penalty), `cyclegan` (ResNet-9 generators and 70x70 PatchGANs at 256x256, batch 1) and
`cyclegan-small` at 64x64 (batch 4) against the PyTorch twins in bench/reference/. The two implementations alternate,
`--repeats` times each, and the median steps/s of each is compared; peak memory is the peak
resident set of each process (os.wait4). Both use libtorch's default threads (all cores).

    python3 bench/speed.py [--repeats 3] [--dcgan-steps 200] [--wgan-gp-steps 50] [--cyclegan-steps 10]
                           [--only dcgan,toy-wgan-gp,cyclegan,cyclegan-small,wgan-gp] [--device cuda]
                           [--precision bf16] [--profile N]

Each run trains `steps` untimed steps, then times as many (see the section's text). `--profile N`
adds one run per model under libtorch's profiler and a table of operators, kernel launches and
host synchronisations per step, gantry beside the twin. `wgan-gp` (no twin yet) is timed only
when named in --only.

With `--device cuda` both run on the GPU (the twins synchronise before reading the clock; gantry's
last step reads its losses back, which synchronises too) and the figures go to the section
`speed-cuda`; `--data DIR` names the Fashion-MNIST IDX folder when it is not the Debian one.
"""
import argparse, json, os, statistics, struct, subprocess, sys, tempfile, zlib
import report


def png(path, size, seed):
    """A random RGB PNG of size x size (the standard library only)."""
    import random
    r = random.Random(seed)
    raw = b"".join(b"\x00" + bytes(r.getrandbits(8) for _ in range(3 * size)) for _ in range(size))
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def domains(root, size):
    """trainA/ and trainB/ of 8 random colour images each."""
    for d in ["trainA", "trainB"]:
        os.makedirs(os.path.join(root, d), exist_ok=True)
        for i in range(8):
            png(os.path.join(root, d, f"{i}.png"), size, hash((d, i)) & 0xFFFF)
    return root


def run(cmd, env=None):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    if status != 0:
        sys.exit(f"{' '.join(cmd)} failed")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss / 1024


def gantry_rate(run_dir, step):
    """steps/s over the logging interval that ends at `step` (metrics.jsonl's time/steps_per_s)."""
    for line in open(os.path.join(run_dir, "metrics.jsonl")):
        m = json.loads(line)
        if m.get("step") == step and "time/steps_per_s" in m:
            return m["time/steps_per_s"]
    sys.exit(f"{run_dir}/metrics.jsonl has no rate at step {step}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dcgan-steps", type=int, default=200)
    ap.add_argument("--wgan-gp-steps", type=int, default=50)
    ap.add_argument("--cyclegan-steps", type=int, default=10)
    ap.add_argument("--only", default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--profile", type=int, default=0,
                    help="also count ATen operators, kernel launches and synchronisations over this many steps (one run each)")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    report.build()
    tmp = tempfile.mkdtemp(prefix="gantry-speed-")
    ref = os.path.join(report.ROOT, "bench", "reference")
    twin = lambda script, steps, *rest: [sys.executable, os.path.join(ref, script), "--steps", str(steps), "--warmup", str(steps),
                                         "--device", a.device, *rest] + (["--bf16"] if a.precision == "bf16" else [])
    cases = [
        ("dcgan", a.dcgan_steps, twin("dcgan.py", a.dcgan_steps, "--data", a.data), ["--data", a.data]),
        ("wgan-gp", a.wgan_gp_steps, None, ["--data", a.data]),
        ("toy-wgan-gp", a.wgan_gp_steps, twin("toy_wgan_gp.py", a.wgan_gp_steps), []),
        # the reference at 256x256 (images of that size: no resize, no crop), batch 1
        ("cyclegan", a.cyclegan_steps, twin("cyclegan.py", a.cyclegan_steps),
         ["--data", domains(os.path.join(tmp, "d256"), 256), "--set", "data.load_size=0", "--set", "data.crop_size=0", "--set", "data.flip=false"]),
        ("cyclegan-small", 5 * a.cyclegan_steps,
         twin("cyclegan.py", 5 * a.cyclegan_steps, "--size", "64", "--batch", "4", "--ngf", "32", "--blocks", "6", "--d-layers", "2"),
         ["--data", domains(os.path.join(tmp, "d64"), 64)]),
    ]
    # wgan-gp has no twin yet: it is timed (and profiled) on gantry's side only, unless named in --only
    cases = [c for c in cases if (c[0] in a.only.split(",") if a.only else c[2] is not None)]
    rows, profiles = [], []
    for preset, steps, torch_cmd, data in cases:
        g, t, gm, tm = [], [], [], []
        torch_version = ""
        for i in range(a.repeats):
            out = os.path.join(tmp, f"{preset}-{i}")
            # 2 x steps: the first half warms up, the second is timed (the loop's rate over its last
            # logging interval, between two reads of the losses, each a synchronisation)
            _, m = run([report.GANTRY, "train", "--preset", preset, "--out", out, "--steps", str(2 * steps), "--quiet",
                        "--device", a.device, *data, "--set", "train.sample_every=0", "--set", "train.checkpoint_every=0",
                        "--set", f"train.log_every={steps}", "--set", f"train.precision={a.precision}"])
            g.append(gantry_rate(out, 2 * steps)); gm.append(m)
            if torch_cmd:
                s, m = run(torch_cmd)
                t.append(s["steps_per_s"]); tm.append(m)
                torch_version = s["torch"]
            print(preset, i, g[-1], t[-1] if t else "-", flush=True)
        rows.append((preset, steps, statistics.median(g), statistics.median(t) if t else None, max(gm), max(tm) if tm else None, g, t, torch_version))
        if a.profile:
            out = os.path.join(tmp, f"{preset}-profile")
            run([report.GANTRY, "train", "--preset", preset, "--out", out, "--steps", str(steps + a.profile), "--quiet",
                 "--device", a.device, *data, "--set", "train.sample_every=0", "--set", "train.checkpoint_every=0",
                 "--set", f"train.precision={a.precision}"],
                env=dict(os.environ, GANTRY_PROFILE=f"{steps}:{steps + a.profile}"))
            gp = json.load(open(os.path.join(out, "profile.json")))["per_step"]
            tp = run(torch_cmd[:torch_cmd.index("--steps") + 1] + ["1"] + torch_cmd[torch_cmd.index("--steps") + 2:]
                     + ["--profile", str(a.profile)])[0]["profile"]["per_step"] if torch_cmd else None
            profiles.append((preset, gp, tp))
            print(preset, "profile per step: gantry", json.dumps(gp), "pytorch", json.dumps(tp), flush=True)
    cuda = a.device != "cpu"
    where = f"{report.gpu(a.device)} (host: {report.machine()})" if cuda else f"{report.machine()}, CPU"
    version = next((r[8] for r in rows if r[8]), "")
    lines = [f"## Speed against PyTorch{', GPU' if cuda else ''}{', bf16' if a.precision == 'bf16' else ''} ({report.stamp()})", "",
             f"`python3 bench/speed.py {report.shown_args(sys.argv[1:])}` "
             f"on {where}, PyTorch {version} (the same libtorch gantry links).",
             "Steps are generator steps with their discriminator steps (a CycleGAN step: both generators, then both "
             "discriminators). Each run first trains the stated number of steps untimed (warm-up: CUDA's lazy kernel loading, "
             "cuBLAS and cuDNN handles, the caching allocator), then times as many: the PyTorch twin between two "
             "synchronisations, gantry over its last logging interval, which begins and ends with a read of the losses "
             "(a synchronisation). The implementations alternate and the median of "
             f"{a.repeats} runs each is compared. Peak memory is the process's peak resident set."
             + (" Both sides under autocast to bfloat16 (gantry `train.precision = \"bf16\"`, PyTorch `torch.autocast`)." if a.precision == "bf16" else ""), "",
             "| model | steps per run (+ as many warm-up) | gantry steps/s | PyTorch steps/s | ratio (gantry / PyTorch) | gantry peak MiB | PyTorch peak MiB | runs (gantry; PyTorch) |",
             "|---|---|---|---|---|---|---|---|"]
    for preset, steps, gs, ts, gm, tm, g, t, _ in rows:
        ratio = f"**{gs / ts:.2f}×**" if ts else "(no twin)"
        lines.append(f"| {preset} | {steps} | {gs:.2f} | {f'{ts:.2f}' if ts else '–'} | {ratio} | {gm:.0f} | {f'{tm:.0f}' if tm else '–'} | "
                     f"{', '.join(f'{x:.2f}' for x in g)}; {', '.join(f'{x:.2f}' for x in t) or '–'} |")
    if profiles:
        lines += ["", f"Per step, counted by libtorch's profiler (Kineto) over {a.profile} steps after as many warm-up steps as a timed run has, "
                  "gantry / PyTorch (gantry: `GANTRY_PROFILE=FROM:TO`; the twin: `--profile N`; both count events the same way, "
                  "bench/reference/timing.py and src/train/profile.rs). ATen operators include nested ones.", "",
                  "| model | ATen operators | kernel launches | GPU activities | host synchronisations | copies |", "|---|---|---|---|---|---|"]
        for preset, gp, tp in profiles:
            cell = lambda k: f"{gp[k]:.0f} / {tp[k]:.0f}" if tp else f"{gp[k]:.0f} / –"
            lines.append(f"| {preset} | {cell('aten_ops')} | {cell('kernel_launches')} | {cell('gpu_activities')} | {cell('synchronisations')} | {cell('copies')} |")
    lines += ["", "Where gantry's step differs from the idiomatic PyTorch loop: gradients are taken only for the "
              "variables being updated (`run_backward`; the PyTorch twin freezes D during G's step to the same effect), "
              "Adam runs PyTorch's fused kernel over all of a player's parameters at once (the twin uses torch.optim's "
              "default: a per-tensor loop on CPU, the multi-tensor `foreach` kernels on CUDA), LeakyReLU is ATen's fused kernel, and a critic without batch norm scores the real and generated batches in one forward pass (identical outputs, larger matrix products)."]
    name = "speed-cuda" if cuda else "speed"
    if a.precision == "bf16":
        name += "-bf16"
    if a.only:
        name += "-" + a.only.replace(",", "-")
    report.write_section(name, "\n".join(lines))


if __name__ == "__main__":
    main()
