"""Speed against PyTorch on the same machine, in one run: gantry's `dcgan` (batch 64, one D and
one G update per step), `toy-wgan-gp` (3x512 MLPs, batch 256, 5 critic steps with gradient
penalty), `cyclegan` (ResNet-9 generators and 70x70 PatchGANs at 256x256, batch 1) and
`cyclegan-small` at 64x64 (batch 4) against the PyTorch twins in bench/reference/. The two implementations alternate,
`--repeats` times each, and the median steps/s of each is compared; peak memory is the peak
resident set of each process (os.wait4). Both use libtorch's default threads (all cores).

    python3 bench/speed.py [--repeats 3] [--dcgan-steps 200] [--wgan-gp-steps 50] [--cyclegan-steps 10]
                           [--only dcgan,toy-wgan-gp,cyclegan,cyclegan-small] [--device cuda]

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


def run(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    if status != 0:
        sys.exit(f"{' '.join(cmd)} failed")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dcgan-steps", type=int, default=200)
    ap.add_argument("--wgan-gp-steps", type=int, default=50)
    ap.add_argument("--cyclegan-steps", type=int, default=10)
    ap.add_argument("--only", default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    report.build()
    tmp = tempfile.mkdtemp(prefix="gantry-speed-")
    ref = os.path.join(report.ROOT, "bench", "reference")
    cases = [
        ("dcgan", a.dcgan_steps, [sys.executable, os.path.join(ref, "dcgan.py"), "--steps", str(a.dcgan_steps), "--data", a.data, "--device", a.device], ["--data", a.data]),
        ("toy-wgan-gp", a.wgan_gp_steps, [sys.executable, os.path.join(ref, "toy_wgan_gp.py"), "--steps", str(a.wgan_gp_steps), "--device", a.device], []),
        # the reference at 256x256 (images of that size: no resize, no crop), batch 1
        ("cyclegan", a.cyclegan_steps, [sys.executable, os.path.join(ref, "cyclegan.py"), "--steps", str(a.cyclegan_steps), "--device", a.device],
         ["--data", domains(os.path.join(tmp, "d256"), 256), "--set", "data.load_size=0", "--set", "data.crop_size=0", "--set", "data.flip=false"]),
        ("cyclegan-small", 5 * a.cyclegan_steps,
         [sys.executable, os.path.join(ref, "cyclegan.py"), "--steps", str(5 * a.cyclegan_steps), "--size", "64", "--batch", "4",
          "--ngf", "32", "--blocks", "6", "--d-layers", "2", "--device", a.device],
         ["--data", domains(os.path.join(tmp, "d64"), 64)]),
    ]
    cases = [c for c in cases if not a.only or c[0] in a.only.split(",")]
    rows = []
    for preset, steps, torch_cmd, data in cases:
        g, t, gm, tm = [], [], [], []
        for i in range(a.repeats):
            out = os.path.join(tmp, f"{preset}-{i}")
            s, m = run([report.GANTRY, "train", "--preset", preset, "--out", out, "--steps", str(steps), "--quiet",
                        "--device", a.device, *data, "--set", "train.sample_every=0", "--set", "train.checkpoint_every=0"])
            g.append(s["steps_per_s"]); gm.append(m)
            s, m = run(torch_cmd)
            t.append(s["steps_per_s"]); tm.append(m)
            torch_version = s["torch"]
            print(preset, i, g[-1], t[-1], flush=True)
        rows.append((preset, steps, statistics.median(g), statistics.median(t), max(gm), max(tm), g, t, torch_version))
    cuda = a.device != "cpu"
    where = f"{report.gpu(a.device)} (host: {report.machine()})" if cuda else f"{report.machine()}, CPU"
    flag = f" --device {a.device}" if cuda else ""
    lines = [f"## Speed against PyTorch{', GPU' if cuda else ''} ({report.stamp()})", "",
             f"`python3 bench/speed.py {report.shown_args(sys.argv[1:])}` "
             f"on {where}, PyTorch {rows[0][8]} (the same libtorch gantry links).",
             "Steps are generator steps with their discriminator steps (a CycleGAN step: both generators, then both "
             "discriminators); the implementations alternate and the median of "
             f"{a.repeats} runs each is compared. Peak memory is the process's peak resident set.", "",
             "| model | steps per run | gantry steps/s | PyTorch steps/s | ratio (gantry / PyTorch) | gantry peak MiB | PyTorch peak MiB | runs (gantry; PyTorch) |",
             "|---|---|---|---|---|---|---|---|"]
    for preset, steps, gs, ts, gm, tm, g, t, _ in rows:
        lines.append(f"| {preset} | {steps} | {gs:.2f} | {ts:.2f} | **{gs / ts:.2f}×** | {gm:.0f} | {tm:.0f} | "
                     f"{', '.join(f'{x:.2f}' for x in g)}; {', '.join(f'{x:.2f}' for x in t)} |")
    lines += ["", "Where gantry's step differs from the idiomatic PyTorch loop: gradients are taken only for the "
              "variables being updated (`run_backward`; the PyTorch twin freezes D during G's step to the same effect), "
              "Adam runs PyTorch's fused kernel over all of a player's parameters at once (the twin uses torch.optim's "
              "default: a per-tensor loop on CPU, the multi-tensor `foreach` kernels on CUDA), LeakyReLU is ATen's fused kernel, and a critic without batch norm scores the real and generated batches in one forward pass (identical outputs, larger matrix products)."]
    name = "speed-cuda" if cuda else "speed"
    if a.only:
        name += "-" + a.only.replace(",", "-")
    report.write_section(name, "\n".join(lines))


if __name__ == "__main__":
    main()
