#!/usr/bin/env python3
"""Can `cyclegan-small`'s discriminator tell the two domains of a two-domain folder apart?

A probe for the digits-typeset miss (issue 14): the translations keep the source's style, and one
explanation would be a discriminator blind to it. Instance norm removes each channel's mean and
spread per image, which is where a style such as stroke weight lives, so the question is whether a
PatchGAN with it can separate untranslated source images (as "fake") from target images ("real").

The network is cyclegan-small's PatchGAN rebuilt in PyTorch (conv 4 stride 2 to 64, LeakyReLU
0.2; conv 4 stride 2 to 128 and conv 4 stride 1 to 256, each with the norm; conv 4 to one map of
patch logits), trained with the least-squares loss of CycleGAN's discriminator (½(D(real) − 1)²
+ ½ D(fake)²) at its batch (4) and Adam (2e-4, β 0.5, 0.999), one norm at a time from the same
seed. Scored on the held-out test images: a test image counts as called right when its mean patch
score is on its side of 0.5.

    gantry data make digits-typeset --out typeset
    python3 bench/typeset_probe.py --data typeset            # instance and none, 600 steps, seed 0
"""
import argparse
import glob
import os

import numpy as np
import torch
import torch.nn as nn
from PIL import Image


def load(folder):
    files = sorted(glob.glob(os.path.join(folder, "*.png")))
    if not files:
        raise SystemExit(f"{folder}: no PNG files (make the data with `gantry data make digits-typeset --out DIR`)")
    x = np.stack([np.asarray(Image.open(f).convert("L"), dtype=np.float32) for f in files])
    return torch.from_numpy(x).unsqueeze(1) / 127.5 - 1


def patchgan(norm):
    layers, width = [nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2)], 64
    for i, stride in ((1, 2), (2, 1)):
        nxt = 64 << i
        layers.append(nn.Conv2d(width, nxt, 4, stride, 1))
        if norm == "instance":
            layers.append(nn.InstanceNorm2d(nxt))
        layers.append(nn.LeakyReLU(0.2))
        width = nxt
    layers.append(nn.Conv2d(width, 1, 4, 1, 1))
    return nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="a two-domain folder (trainA, trainB, testA, testB)")
    ap.add_argument("--norms", default="instance,none")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real", default="B", choices=["A", "B"], help="the target domain (the other is 'fake')")
    a = ap.parse_args()
    torch.set_num_threads(1)
    src, dst = ("A", "B") if a.real == "B" else ("B", "A")
    fake, real = load(os.path.join(a.data, "train" + src)), load(os.path.join(a.data, "train" + dst))
    test_fake, test_real = load(os.path.join(a.data, "test" + src)), load(os.path.join(a.data, "test" + dst))
    for norm in a.norms.split(","):
        torch.manual_seed(a.seed)
        d = patchgan(norm)
        opt = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
        for step in range(1, a.steps + 1):
            i, j = torch.randint(0, len(real), (4,)), torch.randint(0, len(fake), (4,))
            loss = 0.5 * ((d(real[i]) - 1) ** 2).mean() + 0.5 * (d(fake[j]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 200 == 0 or step == a.steps:
                with torch.no_grad():
                    sr, sf = d(test_real).mean((1, 2, 3)), d(test_fake).mean((1, 2, 3))
                right = 0.5 * ((sr > 0.5).float().mean() + (sf < 0.5).float().mean()).item()
                print(f"norm {norm:8s} step {step:5d}  held-out images called right {right:.3f}  "
                      f"mean score: target {sr.mean():.3f}, untranslated source {sf.mean():.3f}", flush=True)


if __name__ == "__main__":
    main()
