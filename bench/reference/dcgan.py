"""PyTorch twin of gantry's `dcgan` preset, for speed comparison.

The InfoGAN / Lucic et al. 28x28 model: G: z(100) -> linear 128*7*7 + BN + ReLU -> convT 128->64
k4 s2 p1 + BN + ReLU -> convT 64->1 k4 s2 p1 -> tanh. D: conv 1->64 k4 s2 p1 + LeakyReLU(0.2) ->
conv 64->128 k4 s2 p1 + BN + LeakyReLU(0.2) -> linear 6272->1. Layers followed by batch norm have
no bias, as in gantry. Adam 2e-4 (0.5, 0.999), batch 64, non-saturating loss; each generator
step is one discriminator step on a real batch and G(z) under no_grad, then one generator step on
fresh noise with D's parameters frozen. Data: Fashion-MNIST train split, one random permutation
per epoch. Prints one JSON line: steps, seconds, steps_per_s, peak RSS.
"""
import argparse, gzip, json, resource, struct, time
import timing
import torch
from torch import nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=200)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--device", default="cpu")
p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
timing.add_args(p)
a = p.parse_args()
torch.manual_seed(a.seed)

raw = gzip.open(f"{a.data}/train-images-idx3-ubyte.gz").read()
n, h, w = struct.unpack(">III", raw[4:16])
x = (torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8).view(n, 1, h, w).float() / 127.5 - 1).to(a.device)
# modules and tensors made from here on live on the device
torch.set_default_device(a.device)

G = nn.Sequential(nn.Linear(100, 128 * 7 * 7, bias=False), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU(),
                  nn.Unflatten(1, (128, 7, 7)),
                  nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                  nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
D = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
                  nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
                  nn.Flatten(), nn.Linear(128 * 7 * 7, 1))
for m in list(G.modules()) + list(D.modules()):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(m.weight, 1, 0.02)
        nn.init.zeros_(m.bias)
opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
B = 64
perm, pos = torch.randperm(n), 0

def real_batch():
    global perm, pos
    if pos + B > n:
        perm, pos = torch.randperm(n), 0
    idx = perm[pos:pos + B]
    pos += B
    return x.index_select(0, idx)

def step():
    real = real_batch()
    with torch.no_grad():
        fake = G(torch.randn(B, 100))
    v, u = D(real).squeeze(1), D(fake).squeeze(1)
    d_loss = F.softplus(-v).mean() + F.softplus(u).mean()
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    for q in D.parameters():
        q.requires_grad_(False)
    g_loss = F.softplus(-D(G(torch.randn(B, 100))).squeeze(1)).mean()
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    for q in D.parameters():
        q.requires_grad_(True)

timing.run(lambda _: step(), a, "dcgan")
