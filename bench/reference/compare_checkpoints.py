"""The largest absolute difference between two gantry checkpoint folders' floating-point tensors
(every .safetensors file), read with torch alone.

    python3 bench/reference/compare_checkpoints.py RUN_A/checkpoints/step-N RUN_B/checkpoints/step-N
"""
import json, os, struct, sys
import torch

KINDS = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "BF16": torch.bfloat16, "F16": torch.float16}


def read(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = bytearray(f.read())
    out = {}
    for k, h in header.items():
        if k == "__metadata__":
            continue
        a, b = h["data_offsets"]
        out[k] = torch.frombuffer(data[a:b], dtype=KINDS[h["dtype"]]).reshape(h["shape"]).clone()
    return out


worst = 0.0
for name in sorted(os.listdir(sys.argv[1])):
    if name.endswith(".safetensors"):
        x, y = read(os.path.join(sys.argv[1], name)), read(os.path.join(sys.argv[2], name))
        for k, t in x.items():
            if t.is_floating_point():
                worst = max(worst, (t.float() - y[k].float()).abs().max().item())
print(worst)
