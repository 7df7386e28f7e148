"""PyTorch twin of gantry's `toy-wgan-gp` preset, for speed comparison.

gan_toy.py's setting: G and D are 2-512-512-512-{2,1} ReLU MLPs, batch 256, 5 critic steps per
generator step, gradient penalty with lambda 0.1 and one epsilon per sample, Adam 1e-4
betas (0.5, 0.9). Data: PacGAN's grid25 ({-4..4 step 2}^2, std 0.05), sampled per batch.
Prints one JSON line: steps, seconds, steps_per_s, peak RSS.
"""
import argparse, json, resource, time
import timing
import torch
from torch import nn

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=100)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--device", default="cpu")
timing.add_args(p)
a = p.parse_args()
torch.manual_seed(a.seed)
# modules and tensors made from here on live on the device
torch.set_default_device(a.device)

def mlp(i, o):
    return nn.Sequential(nn.Linear(i, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                         nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, o))

G, D = mlp(2, 2), mlp(2, 1)
opt_g = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.5, 0.9))
opt_d = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.5, 0.9))
centers = torch.tensor([[x, y] for x in (-4., -2., 0., 2., 4.) for y in (-4., -2., 0., 2., 4.)])
B = 256

def real_batch():
    return centers[torch.randint(25, (B,))] + 0.05 * torch.randn(B, 2)

def critic_step():
    real = real_batch()
    with torch.no_grad():
        fake = G(torch.randn(B, 2))
    v, u = D(real), D(fake)
    eps = torch.rand(B, 1)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    g, = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    gp = ((g.norm(2, dim=1) - 1) ** 2).mean()
    loss = u.mean() - v.mean() + 0.1 * gp
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()

def gen_step():
    for q in D.parameters():
        q.requires_grad_(False)
    loss = -D(G(torch.randn(B, 2))).mean()
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()
    for q in D.parameters():
        q.requires_grad_(True)

def step(_):
    for _ in range(5):
        critic_step()
    gen_step()


timing.run(step, a, "toy-wgan-gp")
