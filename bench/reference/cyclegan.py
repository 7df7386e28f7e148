"""PyTorch twin of gantry's CycleGAN presets, for speed comparison.

The reference architecture: ResNet generators (reflect-pad 3, conv 7 -> ngf, instance norm, ReLU;
two stride-2 conv 3; `--blocks` residual blocks of reflect-pad, conv 3, norm, ReLU, reflect-pad,
conv 3, norm, added to their input; two stride-2 transposed conv 3 with output padding 1;
reflect-pad 3, conv 7, tanh) and PatchGAN discriminators (conv 4 stride 2 + LeakyReLU 0.2, then
`--d-layers` - 1 stride-2 and one stride-1 conv 4 with instance norm + LeakyReLU, then conv 4 to
one map), instance norm without affine parameters, biased convolutions, N(0, 0.02) weights. One
iteration: both generators' forward passes, one Adam step of both generators on the least-squares
GAN terms + 10 * cycle L1 + 5 * identity L1 with the discriminators frozen, then one Adam step of
both discriminators on 1/2 (real, pooled fake) each, with pools of 50 (swap with probability 1/2
once full). Images are random tensors of the given size (gantry reads a folder of that size,
decoded once and held in memory). Prints one JSON line like bench/reference/dcgan.py.
"""
import argparse, json, random, resource, time
import timing
import torch
from torch import nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=20)
p.add_argument("--size", type=int, default=256)
p.add_argument("--batch", type=int, default=1)
p.add_argument("--channels", type=int, default=3)
p.add_argument("--ngf", type=int, default=64)
p.add_argument("--ndf", type=int, default=64)
p.add_argument("--blocks", type=int, default=9)
p.add_argument("--d-layers", type=int, default=3)
p.add_argument("--device", default="cpu")
p.add_argument("--seed", type=int, default=0)
timing.add_args(p)
a = p.parse_args()
torch.manual_seed(a.seed)
random.seed(a.seed)
torch.set_default_device(a.device)


def norm(c):
    return nn.InstanceNorm2d(c, affine=False, track_running_stats=False)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.f = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), norm(c), nn.ReLU(True),
                               nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), norm(c))

    def forward(self, x):
        return x + self.f(x)


def generator(c, ngf, blocks):
    layers = [nn.ReflectionPad2d(3), nn.Conv2d(c, ngf, 7), norm(ngf), nn.ReLU(True)]
    for i in range(2):
        layers += [nn.Conv2d(ngf << i, ngf << (i + 1), 3, 2, 1), norm(ngf << (i + 1)), nn.ReLU(True)]
    layers += [Block(ngf << 2) for _ in range(blocks)]
    for i in range(2):
        cin, cout = ngf << (2 - i), ngf << (1 - i)
        layers += [nn.ConvTranspose2d(cin, cout, 3, 2, 1, output_padding=1), norm(cout), nn.ReLU(True)]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, c, 7), nn.Tanh()]
    return nn.Sequential(*layers)


def discriminator(c, ndf, n):
    layers = [nn.Conv2d(c, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    width = ndf
    for i in range(1, n + 1):
        nxt = ndf * min(2 ** i, 8)
        layers += [nn.Conv2d(width, nxt, 4, 2 if i < n else 1, 1), norm(nxt), nn.LeakyReLU(0.2, True)]
        width = nxt
    layers += [nn.Conv2d(width, 1, 4, 1, 1)]
    return nn.Sequential(*layers)


G_AB, G_BA = generator(a.channels, a.ngf, a.blocks), generator(a.channels, a.ngf, a.blocks)
D_A, D_B = discriminator(a.channels, a.ndf, a.d_layers), discriminator(a.channels, a.ndf, a.d_layers)
for m in [*G_AB.modules(), *G_BA.modules(), *D_A.modules(), *D_B.modules()]:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0, 0.02)
        nn.init.zeros_(m.bias)
opt_g = torch.optim.Adam([*G_AB.parameters(), *G_BA.parameters()], lr=2e-4, betas=(0.5, 0.999))
opt_d = torch.optim.Adam([*D_A.parameters(), *D_B.parameters()], lr=2e-4, betas=(0.5, 0.999))


class Pool:
    def __init__(self, size=50):
        self.size, self.images = size, []

    def query(self, images):
        out = []
        for im in images:
            im = im.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(im)
                out.append(im)
            elif random.uniform(0, 1) > 0.5:
                j = random.randint(0, self.size - 1)
                out.append(self.images[j].clone())
                self.images[j] = im
            else:
                out.append(im)
        return torch.cat(out, 0)


pool_a, pool_b = Pool(), Pool()
shape = (a.batch, a.channels, a.size, a.size)
data_a, data_b = torch.rand(8, *shape[1:]) * 2 - 1, torch.rand(8, *shape[1:]) * 2 - 1


def mse(x, t):
    return ((x - t) ** 2).mean()


def step(i):
    idx = torch.randint(0, 8, (a.batch,))
    real_a, real_b = data_a[idx], data_b[idx]
    fake_b, fake_a = G_AB(real_a), G_BA(real_b)
    rec_a, rec_b = G_BA(fake_b), G_AB(fake_a)
    for q in [*D_A.parameters(), *D_B.parameters()]:
        q.requires_grad_(False)
    idt_a, idt_b = G_AB(real_b), G_BA(real_a)
    loss_g = (mse(D_B(fake_b), 1) + mse(D_A(fake_a), 1) + 10 * (rec_a - real_a).abs().mean()
              + 10 * (rec_b - real_b).abs().mean() + 5 * (idt_a - real_b).abs().mean()
              + 5 * (idt_b - real_a).abs().mean())
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    for q in [*D_A.parameters(), *D_B.parameters()]:
        q.requires_grad_(True)
    pb, pa = pool_b.query(fake_b.detach()), pool_a.query(fake_a.detach())
    loss_d = 0.5 * (mse(D_B(real_b), 1) + mse(D_B(pb), 0)) + 0.5 * (mse(D_A(real_a), 1) + mse(D_A(pa), 0))
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()


timing.run(step, a, f"cyclegan-{a.size}")
