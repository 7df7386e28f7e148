"""Loads gantry-exported TorchScript generators in PyTorch and compares them with gantry's own
output. Prints one JSON object.

    export_check.py noise G.pt z.npy x.npy      # forward(z) against gantry sample's images
    export_check.py labels G.pt z.npy y         # forward_labels(z[:, :latent_dim], y) == forward(z)
    export_check.py translate G.pt x.npy y.npy  # the translated batch, written as y.npy
    export_check.py pairs G.pt z.npy x.npy      # forward(z) ([2, n, c, h, w]) against gantry sample's pairs
    export_check.py plain G.py G.safetensors z.npy x.npy   # the plain nn.Module and its weights
    export_check.py plain-pairs C.py C.safetensors z.npy x.npy   # CoGAN's plain module: g(z) and forward_pair
    export_check.py plain-translation G.py G-a2b.safetensors a2b G-a2b.pt
        # the plain module of one direction against the TorchScript export (itself checked
        # against gantry), on a random batch, and translate() on an odd-sized image
    export_check.py captions G.pt G-text.pt caps.txt n noise.npy x.npy
        # a StackGAN run's TorchScript pair: embed(captions), each n times, with gantry's noise
    export_check.py plain-captions G.py G.safetensors caps.txt n noise.npy x.npy
        # the same through the plain modules, and sample() drawing its own noise
"""
import ast, json, struct, sys
import torch


def read_npy(path):
    # float32 .npy without numpy: magic, version, header length, a Python-literal header, data
    raw = open(path, "rb").read()
    assert raw[:6] == b"\x93NUMPY", path
    major = raw[6]
    (hlen,), start = (struct.unpack("<H", raw[8:10]), 10) if major == 1 else (struct.unpack("<I", raw[8:12]), 12)
    header = ast.literal_eval(raw[start:start + hlen].decode("latin1"))
    assert header["descr"] == "<f4" and not header["fortran_order"], header
    data = bytearray(raw[start + hlen:])
    return torch.frombuffer(data, dtype=torch.float32).reshape(header["shape"])


def write_npy(path, t):
    t = t.contiguous().to(torch.float32)
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % (tuple(t.shape),)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        f.write(bytes(t.untyped_storage()))


def load_module(path):
    """The Python file gantry wrote next to plain weights, imported."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("exported", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


mode = sys.argv[1]
if mode in ("captions", "plain-captions"):
    caps = [l.strip() for l in open(sys.argv[4]) if l.strip()]
    n, noise, want = int(sys.argv[5]), read_npy(sys.argv[6]), read_npy(sys.argv[7])
    with torch.no_grad():
        if mode == "captions":
            g, text = torch.jit.load(sys.argv[2]), torch.jit.load(sys.argv[3])
            e = text.embed(caps).repeat_interleave(n, 0)
            got = g(torch.cat([e, noise], 1))
            out = {"attributes": {k: getattr(g, k) for k in ["text_dim", "noise_dim", "z_dim", "side", "stages", "step"]}}
            try:
                text.embed(["a zqxv circle"])
                out["unknown_refused"] = False
            except Exception as err:
                out["unknown_refused"] = "never saw the word zqxv" in str(err)
        else:
            g = load_module(sys.argv[2]).load(sys.argv[3])
            got = g(g.embed(caps).repeat_interleave(n, 0), noise)
            both = g.sample(caps[:1], n=2, stages=True)
            out = {"sample_shapes": [list(x.shape) for x in both], "noise_dim": g.noise_dim}
    out["max_abs_diff"] = (got - want).abs().max().item()
    out["shape"] = list(got.shape)
    print(json.dumps(out))
    sys.exit(0)
if mode == "plain":
    # export_check.py plain G.py G.safetensors z.npy x.npy: the nn.Module file and its weights
    g = load_module(sys.argv[2]).load(sys.argv[3])
    with torch.no_grad():
        got = g(read_npy(sys.argv[4]))
    print(json.dumps({"max_abs_diff": (got - read_npy(sys.argv[5])).abs().max().item(), "shape": list(got.shape),
                      "attributes": {"latent_dim": g.latent_dim, "num_classes": g.num_classes, "prior": g.prior}}))
    sys.exit(0)
if mode == "plain-pairs":
    g = load_module(sys.argv[2]).load(sys.argv[3])
    with torch.no_grad():
        z = read_npy(sys.argv[4])
        got = g(z)
        a, b = g.forward_pair(z)
    want = read_npy(sys.argv[5])
    print(json.dumps({"max_abs_diff": (got - want).abs().max().item(), "shape": list(got.shape),
                      "pair_diff": max((a - got[0]).abs().max().item(), (b - got[1]).abs().max().item())}))
    sys.exit(0)
if mode == "plain-translation":
    mod = load_module(sys.argv[2])
    g = mod.load(sys.argv[3], sys.argv[4])
    ts = torch.jit.load(sys.argv[5])
    torch.manual_seed(0)
    if hasattr(ts, "side_multiple"):
        side = -(-32 // ts.side_multiple) * ts.side_multiple
        x = torch.rand(3, ts.in_channels, side, side) * 2 - 1
    else:
        x = torch.randn(3, ts.input_dim)
    with torch.no_grad():
        got, want = g(x), ts(x)
    out = {"max_abs_diff": (got - want).abs().max().item(), "shape": list(got.shape)}
    if x.dim() == 4:
        # an odd-sized image through translate(): the padded batch through TorchScript, cropped
        odd = torch.rand(1, ts.in_channels, 37, 29) * 2 - 1
        y = mod.translate(g, odd)
        m = mod.SIDE_MULTIPLE
        ph, pw = (-37) % m, (-29) % m
        with torch.no_grad():
            ref = ts(torch.nn.functional.pad(odd, [0, pw, 0, ph], mode="reflect"))[..., :37, :29]
        out["odd_shape"] = list(y.shape)
        out["odd_diff"] = (y - ref).abs().max().item()
    print(json.dumps(out))
    sys.exit(0)
g = torch.jit.load(sys.argv[2])
out = {"attributes": {k: getattr(g, k) for k in ["latent_dim", "input_dim", "num_classes", "prior", "in_channels",
                                                   "out_channels", "direction", "method", "value_range", "step"]
                      if hasattr(g, k)}}
with torch.no_grad():
    if mode == "noise":
        z, want = read_npy(sys.argv[3]), read_npy(sys.argv[4])
        got = g(z)
        out["max_abs_diff"] = (got - want).abs().max().item()
        out["shape"] = list(got.shape)
    elif mode == "labels":
        z, y = read_npy(sys.argv[3]), torch.tensor([int(v) for v in sys.argv[4].split(",")])
        got = g.forward_labels(z[:, :g.latent_dim], y)
        out["max_abs_diff"] = (got - g(z)).abs().max().item()
    elif mode == "translate":
        x = read_npy(sys.argv[3])
        y = g(x)
        write_npy(sys.argv[4], y)
        out["shape"] = list(y.shape)
    elif mode == "pairs":
        got = g(read_npy(sys.argv[3]))
        out["shape"] = list(got.shape)
        out["max_abs_diff"] = (got - read_npy(sys.argv[4])).abs().max().item()
print(json.dumps(out))
