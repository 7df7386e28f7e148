"""PyTorch twin of gantry's FID Inception-v3 (src/nets/inception.rs), written from pytorch-fid's
FIDInceptionA/C/E_1/E_2 and torchvision's Inception3 layer names. With random weights and random
batch-norm statistics (seeded), it writes weights.safetensors, input.safetensors and
expected.safetensors (pool features and logits) into the folder given, for gantry's test.

    python3 bench/reference/inception_twin.py OUT_DIR
"""
import os, sys
import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import safetensors_io


class Basic(nn.Module):
    def __init__(self, i, o, **kw):
        super().__init__()
        self.conv = nn.Conv2d(i, o, bias=False, **kw)
        self.bn = nn.BatchNorm2d(o, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def avg3(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class A(nn.Module):
    def __init__(self, i, pool):
        super().__init__()
        self.branch1x1 = Basic(i, 64, kernel_size=1)
        self.branch5x5_1 = Basic(i, 48, kernel_size=1)
        self.branch5x5_2 = Basic(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = Basic(i, 64, kernel_size=1)
        self.branch3x3dbl_2 = Basic(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = Basic(96, 96, kernel_size=3, padding=1)
        self.branch_pool = Basic(i, pool, kernel_size=1)

    def forward(self, x):
        return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          self.branch_pool(avg3(x))], 1)


class B(nn.Module):
    def __init__(self, i):
        super().__init__()
        self.branch3x3 = Basic(i, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = Basic(i, 64, kernel_size=1)
        self.branch3x3dbl_2 = Basic(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = Basic(96, 96, kernel_size=3, stride=2)

    def forward(self, x):
        return torch.cat([self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class C(nn.Module):
    def __init__(self, i, c7):
        super().__init__()
        self.branch1x1 = Basic(i, 192, kernel_size=1)
        self.branch7x7_1 = Basic(i, c7, kernel_size=1)
        self.branch7x7_2 = Basic(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = Basic(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = Basic(i, c7, kernel_size=1)
        self.branch7x7dbl_2 = Basic(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = Basic(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = Basic(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = Basic(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = Basic(i, 192, kernel_size=1)

    def forward(self, x):
        s = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for k in range(1, 6):
            d = getattr(self, f"branch7x7dbl_{k}")(d)
        return torch.cat([self.branch1x1(x), s, d, self.branch_pool(avg3(x))], 1)


class D(nn.Module):
    def __init__(self, i):
        super().__init__()
        self.branch3x3_1 = Basic(i, 192, kernel_size=1)
        self.branch3x3_2 = Basic(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = Basic(i, 192, kernel_size=1)
        self.branch7x7x3_2 = Basic(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = Basic(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = Basic(192, 192, kernel_size=3, stride=2)

    def forward(self, x):
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class E(nn.Module):
    def __init__(self, i, max_pool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = Basic(i, 320, kernel_size=1)
        self.branch3x3_1 = Basic(i, 384, kernel_size=1)
        self.branch3x3_2a = Basic(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = Basic(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = Basic(i, 448, kernel_size=1)
        self.branch3x3dbl_2 = Basic(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = Basic(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = Basic(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = Basic(i, 192, kernel_size=1)

    def forward(self, x):
        b = self.branch3x3_1(x)
        b = torch.cat([self.branch3x3_2a(b), self.branch3x3_2b(b)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        p = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else avg3(x)
        return torch.cat([self.branch1x1(x), b, d, self.branch_pool(p)], 1)


class FidInception(nn.Module):
    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = Basic(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = Basic(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = Basic(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = Basic(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = Basic(80, 192, kernel_size=3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = A(192, 32), A(256, 64), A(288, 64)
        self.Mixed_6a = B(288)
        self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e = C(768, 128), C(768, 160), C(768, 160), C(768, 192)
        self.Mixed_7a = D(768)
        self.Mixed_7b, self.Mixed_7c = E(1280, False), E(2048, True)
        self.fc = nn.Linear(2048, 1008)

    def forward(self, x):  # x in [-1, 1]; as pytorch-fid: [0,1] -> resize 299 -> 2x-1
        x = (x + 1) / 2
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = F.max_pool2d(self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x))), 3, 2)
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, 2)
        for m in ["5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"]:
            x = getattr(self, f"Mixed_{m}")(x)
        pool = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return pool, self.fc(pool)


if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    net = FidInception().eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.8, 1.2)
                m.bias.normal_(0, 0.1)
        x = torch.rand(2, 1, 40, 40) * 2 - 1  # grayscale, off-size: exercises repeat and resize
        pool, logits = net(x.repeat(1, 3, 1, 1))
    sd = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    safetensors_io.save(sd, os.path.join(out, "weights.safetensors"))
    safetensors_io.save({"x": x}, os.path.join(out, "input.safetensors"))
    safetensors_io.save({"pool": pool, "logits": logits}, os.path.join(out, "expected.safetensors"))
