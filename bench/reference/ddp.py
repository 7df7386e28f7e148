"""PyTorch twins of gantry's `dcgan` and `wgan-gp` presets under DistributedDataParallel (Gloo),
for the data-parallel scaling benchmark (bench/ddp.py). Start it with torchrun:

    torchrun --nproc-per-node 2 bench/reference/ddp.py --model dcgan --steps 40 --warmup 10

or plainly for one process (no DDP wrapper then). The global batch is 64, split evenly over the
ranks; each rank draws its own noise and its own shard of a shared per-epoch permutation.

Models as gantry's presets (and bench/reference/dcgan.py):
- G: z(100) -> linear 128*7*7 + BN + ReLU -> convT 128->64 k4 s2 p1 + BN + ReLU -> convT 64->1 -> tanh;
- D (dcgan): conv 1->64 k4 s2 p1 + LeakyReLU(0.2) -> conv 64->128 + BN + LeakyReLU -> linear -> 1;
  non-saturating loss, Adam 2e-4 (0.5, 0.999), one D step per G step;
- D (wgan-gp): the same with layer norm over [128, 7, 7] for batch norm; Wasserstein loss with
  gradient penalty 10 on interpolates, 5 critic steps per G step, Adam 1e-4 (0.5, 0.9).
Layers followed by a norm have no bias. Batch norm keeps per-rank statistics
(broadcast_buffers=False), as gantry's ranks do. In G's step D's module is used without its DDP
wrapper (its parameters are frozen and get no gradient); the gradient penalty's create_graph
pass goes through the DDP-wrapped critic, whose reducer fires in the loss's backward.

Rank 0 prints one JSON line: steps per second over the timed steps (after --warmup), between
two barriers.
"""
import argparse, gzip, json, os, struct, time
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

p = argparse.ArgumentParser()
p.add_argument("--model", choices=["dcgan", "wgan-gp"], required=True)
p.add_argument("--steps", type=int, default=40)
p.add_argument("--warmup", type=int, default=10)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
a = p.parse_args()

world = int(os.environ.get("WORLD_SIZE", "1"))
rank = int(os.environ.get("RANK", "0"))
if world > 1:
    dist.init_process_group("gloo")
torch.manual_seed(a.seed)

raw = gzip.open(f"{a.data}/train-images-idx3-ubyte.gz").read()
n, h, w = struct.unpack(">III", raw[4:16])
x = torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8).view(n, 1, h, w).float() / 127.5 - 1

wgan = a.model == "wgan-gp"
G = nn.Sequential(nn.Linear(100, 128 * 7 * 7, bias=False), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU(),
                  nn.Unflatten(1, (128, 7, 7)),
                  nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                  nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
D = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
                  nn.Conv2d(64, 128, 4, 2, 1, bias=False),
                  nn.LayerNorm([128, 7, 7]) if wgan else nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
                  nn.Flatten(), nn.Linear(128 * 7 * 7, 1))
for m in list(G.modules()) + list(D.modules()):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
lr, betas, critic_steps = (1e-4, (0.5, 0.9), 5) if wgan else (2e-4, (0.5, 0.999), 1)
opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
if world > 1:
    Gw, Dw = DDP(G, broadcast_buffers=False), DDP(D, broadcast_buffers=False)
else:
    Gw, Dw = G, D
B = 64 // world
perm_gen = torch.Generator().manual_seed(a.seed)
perm, pos = torch.randperm(n, generator=perm_gen), 0


def real_batch():
    # the global batch's rows of this rank, from one permutation every rank shares
    global perm, pos
    if pos + B * world > n:
        perm, pos = torch.randperm(n, generator=perm_gen), 0
    idx = perm[pos + rank * B:pos + (rank + 1) * B]
    pos += B * world
    return x.index_select(0, idx)


def set_frozen(m, frozen):
    for q in m.parameters():
        q.requires_grad_(not frozen)


def step():
    for _ in range(critic_steps):
        real = real_batch()
        with torch.no_grad():
            fake = Gw(torch.randn(B, 100))
        v, u = Dw(real).squeeze(1), Dw(fake).squeeze(1)
        if wgan:
            eps = torch.rand(B, 1, 1, 1)
            xh = (eps * real + (1 - eps) * fake).requires_grad_(True)
            g, = torch.autograd.grad(Dw(xh).sum(), xh, create_graph=True)
            gp = (g.flatten(1).norm(2, dim=1) - 1).square().mean()
            d_loss = u.mean() - v.mean() + 10 * gp
        else:
            d_loss = F.softplus(-v).mean() + F.softplus(u).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
    set_frozen(D, True)
    out = D(Gw(torch.randn(B, 100))).squeeze(1)
    g_loss = -out.mean() if wgan else F.softplus(-out).mean()
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    set_frozen(D, False)


barrier = dist.barrier if world > 1 else (lambda: None)
for _ in range(a.warmup):
    step()
barrier()
t0 = time.perf_counter()
for _ in range(a.steps):
    step()
barrier()
dt = time.perf_counter() - t0
if rank == 0:
    print(json.dumps({"impl": "pytorch-ddp", "model": a.model, "ranks": world, "steps": a.steps, "warmup": a.warmup,
                      "seconds": dt, "steps_per_s": a.steps / dt, "threads": torch.get_num_threads(),
                      "torch": torch.__version__}))
if world > 1:
    dist.destroy_process_group()
