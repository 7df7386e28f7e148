"""Does the gradient of a gradient-penalty loss depend on the process's past? On CUDA the nodes
that backward(create_graph=True) creates are numbered by the device's autograd worker thread, the
forward's by the calling thread, and the engine runs ready nodes in sequence-number order; if the
order of summing several gradient contributions follows the two counters, repeating the same
computation in one process gives other bits. This repeats one WGAN-GP critic step (a layer-norm
critic as gantry's `wgan-gp` preset has) from the same weights and inputs `--repeats` times,
plainly and then with the calling thread's counter advanced by `--bump` nodes before each repeat
(what gantry's loop does on CUDA), and prints how many distinct gradients each gave.

    python3 bench/reference/order_probe.py --device cuda
"""
import argparse, json, os
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
import torch
from torch import nn

p = argparse.ArgumentParser()
p.add_argument("--device", default="cpu")
p.add_argument("--repeats", type=int, default=6)
p.add_argument("--bump", type=int, default=20000)
p.add_argument("--norm", default="layer", choices=["layer", "none"])
a = p.parse_args()
torch.manual_seed(0)
torch.use_deterministic_algorithms(True)
dev = torch.device(a.device)
norm = (lambda s: nn.LayerNorm(s)) if a.norm == "layer" else (lambda s: nn.Identity())
D = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
                  nn.Conv2d(64, 128, 4, 2, 1), norm([128, 7, 7]), nn.LeakyReLU(0.2),
                  nn.Conv2d(128, 256, 3, 2, 1), norm([256, 4, 4]), nn.LeakyReLU(0.2),
                  nn.Flatten(), nn.Linear(256 * 16, 1)).to(dev)
real = torch.randn(64, 1, 28, 28, device=dev)
fake = torch.randn(64, 1, 28, 28, device=dev)
eps = torch.rand(64, 1, 1, 1, device=dev)


def step():
    for q in D.parameters():
        q.grad = None
    x = (eps * real + (1 - eps) * fake).requires_grad_(True)
    g, = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    gp = ((g.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
    loss = D(fake).mean() - D(real).mean() + 10 * gp
    loss.backward()
    return torch.cat([q.grad.flatten() for q in D.parameters()]).cpu()


def bump(n):
    z = torch.zeros(1, requires_grad=True)
    for _ in range(n):
        z * 1.0  # each makes one autograd node on this thread


def distinct(results):
    out = []
    for r in results:
        if not any(torch.equal(r, o) for o in out):
            out.append(r)
    return len(out)


plain = [step() for _ in range(a.repeats)]
bumped = []
for _ in range(a.repeats):
    bump(a.bump)
    bumped.append(step())
print(json.dumps({"device": a.device, "norm": a.norm, "repeats": a.repeats,
                  "distinct_plain": distinct(plain), "distinct_bumped": distinct(bumped),
                  "max_abs_diff_plain": max(float((r - plain[0]).abs().max()) for r in plain)}))
