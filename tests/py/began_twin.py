"""A PyTorch twin of one BEGAN training step, written from the paper and the carpedm20 code, not
from gantry's source, to check gantry's step: from a run's checkpoint of step A (weights, Adam
state, k_t), it repeats step A + 1 and compares with gantry's checkpoint of step A + 1. Prints
one JSON object.

    began_twin.py RUN A IMAGES SEED WIDTH HIDDEN LATENT GAMMA LAMBDA_K LR

IMAGES is the IDX file of the training images; the run's batch must be all of them, so that the
step's batch is known whatever its order (D has no batch norm: each image's error is its own,
and the losses are means). z is drawn as gantry draws it: libtorch's generator seeded with
(derive(SEED, STEP, A) >> 1), then U(−1, 1) of [batch, LATENT].
"""
import gzip, json, struct, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

MASK = (1 << 64) - 1


def splitmix(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def derive(seed, stream, index):
    return splitmix(splitmix(splitmix(seed) ^ ((stream * 0xD6E8FEB86659FD93) & MASK)) ^ index)


def read_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    kinds = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "U8": torch.uint8}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        buf = bytearray(raw[8 + n + a:8 + n + b])
        out[name] = torch.frombuffer(buf, dtype=kinds[h["dtype"]]).reshape(h["shape"]).clone() if b > a else \
            torch.zeros(h["shape"], dtype=kinds[h["dtype"]])
    return out


def read_idx(path):
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    dims = raw[3]
    shape = struct.unpack(">" + "I" * dims, raw[4:4 + 4 * dims])
    x = torch.frombuffer(bytearray(raw[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)
    return x.float().unsqueeze(1) / 127.5 - 1.0


def levels_of(side):
    levels, s = 1, side
    while s > 8 and s % 2 == 0:
        s //= 2
        levels += 1
    return levels, s


def conv(i, o, stride=1):
    return nn.Conv2d(i, o, 3, stride=stride, padding=1)


class Level(nn.Module):
    def __init__(self, i, o, down):
        super().__init__()
        self.conv0, self.conv1 = conv(i, o), conv(o, o)
        if down:
            self.down = conv(o, o, 2)


class Decoder(nn.Module):
    """FC to s0×s0×n; per level two 3×3 convolutions with ELU, nearest ×2 between levels; a last
    3×3 convolution to the image, linear."""

    def __init__(self, hidden, width, channels, side):
        super().__init__()
        self.n_levels, self.start = levels_of(side)
        self.width = width
        self.fc = nn.Linear(hidden, self.start * self.start * width)
        for l in range(self.n_levels):
            setattr(self, f"l{l}", Level(width, width, False))
        self.out = conv(width, channels)

    def forward(self, h):
        x = self.fc(h).view(-1, self.width, self.start, self.start)
        for l in range(self.n_levels):
            lv = getattr(self, f"l{l}")
            x = F.elu(lv.conv1(F.elu(lv.conv0(x))))
            if l + 1 < self.n_levels:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.out(x)


class Encoder(nn.Module):
    """A 3×3 convolution to n; per level ℓ two 3×3 convolutions of n·(ℓ+1) channels with ELU and,
    between levels, a stride-2 3×3 convolution; FC to the code."""

    def __init__(self, hidden, width, channels, side):
        super().__init__()
        self.n_levels, start = levels_of(side)
        self.first = conv(channels, width)
        prev = width
        for l in range(self.n_levels):
            c = width * (l + 1)
            setattr(self, f"l{l}", Level(prev, c, l + 1 < self.n_levels))
            prev = c
        self.fc = nn.Linear(start * start * prev, hidden)

    def forward(self, x):
        x = F.elu(self.first(x))
        for l in range(self.n_levels):
            lv = getattr(self, f"l{l}")
            x = F.elu(lv.conv1(F.elu(lv.conv0(x))))
            if hasattr(lv, "down"):
                x = F.elu(lv.down(x))
        return self.fc(x.flatten(1))


class AutoEncoder(nn.Module):
    def __init__(self, hidden, width, channels, side):
        super().__init__()
        self.enc = Encoder(hidden, width, channels, side)
        self.dec = Decoder(hidden, width, channels, side)

    def forward(self, x):
        return self.dec(self.enc(x))


def load(module, weights):
    own = dict(module.named_parameters())
    assert set(own) == set(weights), (sorted(set(own) ^ set(weights)))
    with torch.no_grad():
        for k, p in own.items():
            p.copy_(weights[k])


def adam(module, opt_state, steps, lr):
    opt = torch.optim.Adam(module.parameters(), lr=lr, betas=(0.5, 0.999), eps=1e-8, fused=True)
    for name, p in module.named_parameters():
        opt.state[p] = {"step": torch.tensor(float(steps)), "exp_avg": opt_state[f"{name}.m"].clone(),
                        "exp_avg_sq": opt_state[f"{name}.v"].clone()}
    return opt


def main():
    run, a, images, seed, width, hidden, latent, gamma, lambda_k, lr = sys.argv[1:11]
    a, seed, width, hidden, latent = int(a), int(seed), int(width), int(hidden), int(latent)
    gamma, lambda_k, lr = float(gamma), float(lambda_k), float(lr)
    torch.set_num_threads(1)
    x = read_idx(images)
    n, channels, side = x.shape[0], x.shape[1], x.shape[2]
    ck = lambda s: f"{run}/checkpoints/step-{s:07d}"
    state = json.load(open(f"{ck(a)}/state.json"))
    g, d = Decoder(latent, width, channels, side), AutoEncoder(hidden, width, channels, side)
    load(g, read_safetensors(f"{ck(a)}/g.safetensors"))
    load(d, read_safetensors(f"{ck(a)}/d.safetensors"))
    k = read_safetensors(f"{ck(a)}/state.safetensors")["k"].reshape(()).item()
    opt_g = adam(g, read_safetensors(f"{ck(a)}/opt_g.safetensors"), state["optimizer_steps"]["g"], lr)
    opt_d = adam(d, read_safetensors(f"{ck(a)}/opt_d.safetensors"), state["optimizer_steps"]["d"], lr)
    before = {**{f"g.{k_}": v.detach().clone() for k_, v in g.named_parameters()},
              **{f"d.{k_}": v.detach().clone() for k_, v in d.named_parameters()}}

    # step a + 1 (0-based index a): the reference's losses, both gradients at the same weights
    torch.manual_seed(derive(seed, 1, a) >> 1)
    z = torch.rand(n, latent) * 2 - 1
    fake = g(z)
    both = torch.cat([fake, x])
    err = (d(both) - both).abs().flatten(1).mean(1)
    loss_fake, loss_real = err[:n].mean(), err[n:].mean()
    loss_d = loss_real - k * loss_fake
    gd = torch.autograd.grad(loss_d, list(d.parameters()), retain_graph=True)
    gg = torch.autograd.grad(loss_fake, list(g.parameters()))
    for p, gr in zip(d.parameters(), gd):
        p.grad = gr
    for p, gr in zip(g.parameters(), gg):
        p.grad = gr
    opt_d.step()
    opt_g.step()
    k_next = min(max(k + lambda_k * (gamma * loss_real.item() - loss_fake.item()), 0.0), 1.0)

    theirs = {**{f"g.{k_}": v for k_, v in read_safetensors(f"{ck(a + 1)}/g.safetensors").items()},
              **{f"d.{k_}": v for k_, v in read_safetensors(f"{ck(a + 1)}/d.safetensors").items()}}
    mine = {**{f"g.{k_}": v.detach() for k_, v in g.named_parameters()},
            **{f"d.{k_}": v.detach() for k_, v in d.named_parameters()}}
    worst, name = 0.0, None
    for key in mine:
        step_mine, step_theirs = mine[key] - before[key], theirs[key] - before[key]
        rel = ((step_mine - step_theirs).abs().max() / step_theirs.abs().max().clamp_min(1e-30)).item()
        if rel > worst:
            worst, name = rel, key
    k_theirs = read_safetensors(f"{ck(a + 1)}/state.safetensors")["k"].reshape(()).item()
    print(json.dumps({"loss_real": loss_real.item(), "loss_fake": loss_fake.item(), "k_before": k,
                      "k_twin": k_next, "k_gantry": k_theirs, "worst_update_difference": worst,
                      "worst_tensor": name, "tensors": len(mine)}))


if __name__ == "__main__":
    main()
