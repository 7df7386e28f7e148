"""Two diagnostics of a StackGAN Stage-II run that draws a grey field (docs/benchmarks.md,
*StackGAN Stage II: the reference's unconditional logit, and the grey background*).

    python3 bench/stackgan_stage2_probe.py background RUN/samples/step-S.png [...]
    python3 bench/stackgan_stage2_probe.py d-gradient --run RUN --step S --data DATA [--n 32]

`background`: the mean 0-255 value of a Stage-II progress grid's Stage-II cells where their Stage-I
input is black (the grid holds 8 rows of 8 pairs, Stage I upsampled beside Stage II, 2-px gaps).

`d-gradient`: the generator's adversarial loss through the run's discriminator, for Stage-II
images of the first `n` training scenes' first captions, and its gradient with respect to those
images: its mean over background pixels (where the Stage-I input is black; positive: a descent
step darkens them) beside its mean magnitude, with D's batch norm on the generated batch alone
(as training does) and on [real; generated] together. Then D's mean conditional logit on the
generated images, on the same with the background set black, and on the real images. Needs
torch, numpy, pillow and safetensors, and exports the run with `gantry export --format
safetensors` into a temporary folder.
"""
import argparse, importlib.util, json, os, subprocess, sys, tempfile

GANTRY = os.environ.get("GANTRY", os.path.join(os.path.dirname(__file__), "..", "target", "release", "gantry"))


def background(paths):
    import numpy as np
    from PIL import Image

    for path in paths:
        a = np.asarray(Image.open(path).convert("RGB")).astype(float)
        side = (a.shape[0] - 2) // 8 - 2
        step = side + 2
        vals = []
        for r in range(8):
            for c in range(0, 16, 2):
                y, x = 2 + step * r, 2 + step * c
                low, high = a[y : y + side, x : x + side], a[y : y + side, x + step : x + step + side]
                vals.append(high[low.max(-1) < 20].mean())
        print(f"{path}: mean background pixel of the Stage-II cells {np.mean(vals):.1f} / 255")


def d_gradient(run, step, data, n):
    import numpy as np
    import torch
    import torch.nn.functional as F
    from PIL import Image
    from safetensors.torch import load_file

    tmp = tempfile.mkdtemp()
    out = os.path.join(tmp, "g.safetensors")
    subprocess.run([GANTRY, "export", "--run", run, "--step", str(step), "--format", "safetensors", "--out", out], check=True, stdout=subprocess.DEVNULL)
    spec = importlib.util.spec_from_file_location("exported", os.path.join(tmp, "g.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    g = mod.load(out)
    w = load_file(os.path.join(run, "checkpoints", f"step-{step:07d}", "d.safetensors"))
    downs = sum(1 for k in w if k.startswith("down") and k.endswith(".weight"))
    reduces = sum(1 for k in w if k.startswith("reduce") and k.endswith(".weight"))

    def bn(x, name):
        return F.batch_norm(x, w[name + ".running_mean"].clone(), w[name + ".running_var"].clone(), w[name + ".weight"], w[name + ".bias"], training=True)

    def features(x):
        h = F.leaky_relu(F.conv2d(x, w["down0.weight"], stride=2, padding=1), 0.2)
        for i in range(1, downs):
            h = F.leaky_relu(bn(F.conv2d(h, w[f"down{i}.weight"], stride=2, padding=1), f"norm_down{i}"), 0.2)
        for i in range(reduces):
            h = F.leaky_relu(bn(F.conv2d(h, w[f"reduce{i}.weight"], padding=1), f"norm_reduce{i}"), 0.2)
        return h

    def logits(h, mu):
        t = mu.view(mu.shape[0], -1, 1, 1).expand(-1, -1, h.shape[2], h.shape[3])
        j = F.leaky_relu(bn(F.conv2d(torch.cat([h, t], 1), w["joint.weight"], padding=1), "norm_joint"), 0.2)
        return F.conv2d(j, w["logit.weight"], w["logit.bias"], stride=4).view(-1)

    torch.manual_seed(0)
    names = sorted(os.listdir(os.path.join(data, "train", "images")))[:n]
    stems = [os.path.splitext(f)[0] for f in names]
    caps = [open(os.path.join(data, "train", "text", s + ".txt")).readline().strip() for s in stems]
    real = torch.stack(
        [torch.tensor(np.array(Image.open(os.path.join(data, "train", "images", f)).convert("RGB"))).permute(2, 0, 1).float() / 127.5 - 1 for f in names]
    )
    with torch.no_grad():
        e = g.embed(caps)
        noise = torch.randn(n, g.noise_dim)
        stages = g.stages(e, noise)
        g.stage2.train()
        at = g.noise_dim - (g.plan[-1]["c_dim"] if g.plan[-1]["augment"] else 0)
        fake = g.stage2(stages[0], e, noise[:, at:] if g.plan[-1]["augment"] else None)
        mu = g.stage2.ca(e)
    if real.shape[2] != fake.shape[2]:
        real = F.interpolate(real, size=fake.shape[2:], mode="bilinear", align_corners=False)
    bg = (F.interpolate(stages[0], size=fake.shape[2:]).max(1, keepdim=True).values < -0.9).expand(-1, 3, -1, -1)
    res = {"fake_background_mean": fake[bg].mean().item(), "fake_object_mean": fake[~bg].mean().item()}
    for mode in ["separate", "joint"]:
        x = fake.clone().requires_grad_(True)
        h = features(x) if mode == "separate" else features(torch.cat([real, x]))[n:]
        loss = F.binary_cross_entropy_with_logits(logits(h, mu), torch.ones(n))
        (grad,) = torch.autograd.grad(loss, x)
        res[mode] = {"g_loss": loss.item(), "background_grad_mean": grad[bg].mean().item(), "background_grad_abs_mean": grad[bg].abs().mean().item()}
    with torch.no_grad():
        black = torch.where(bg, torch.full_like(fake, -1.0), fake)
        for name, x in [("fake", fake), ("fake_black_background", black), ("real", real)]:
            res[f"d_logit_{name}"] = logits(features(x), mu).mean().item()
    print(json.dumps(res, indent=1))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    b = sub.add_parser("background")
    b.add_argument("grids", nargs="+")
    d = sub.add_parser("d-gradient")
    d.add_argument("--run", required=True)
    d.add_argument("--step", type=int, required=True)
    d.add_argument("--data", required=True)
    d.add_argument("--n", type=int, default=32)
    a = ap.parse_args()
    if a.what == "background":
        background(a.grids)
    else:
        d_gradient(a.run, a.step, a.data, a.n)


if __name__ == "__main__":
    sys.exit(main())
