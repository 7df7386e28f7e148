"""Converts pytorch-fid's Inception weights to the safetensors file that
`gantry eval --features inception --weights FILE` reads.

    # 1. get the weights (pytorch-fid's release asset; about 92 MB):
    #    https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth
    # 2. convert:
    python3 scripts/convert_inception.py pt_inception-2015-12-05-6726825d.pth pt_inception-2015-12-05.safetensors

Needs only torch (already installed for gantry).
"""
import os, sys
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io

if len(sys.argv) != 3:
    sys.exit(__doc__)
state = torch.load(sys.argv[1], map_location="cpu", weights_only=True)
tensors = {k: v.float() for k, v in state.items() if not k.endswith("num_batches_tracked")}
if "Mixed_7c.branch_pool.conv.weight" not in tensors or tensors["fc.weight"].shape[0] != 1008:
    sys.exit(f"{sys.argv[1]} is not pytorch-fid's pt_inception-2015-12-05 state dict")
safetensors_io.save(tensors, sys.argv[2])
print(f"wrote {sys.argv[2]} ({len(tensors)} tensors)")
