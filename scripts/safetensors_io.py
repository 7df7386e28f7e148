"""Minimal safetensors writer (float32 and uint8 tensors) that needs only torch, for the
conversion and reference scripts."""
import ctypes, json, struct
import torch

_DT = {torch.float32: "F32", torch.uint8: "U8", torch.int64: "I64", torch.float64: "F64"}


def save(tensors, path):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        data = _bytes(t)
        header[name] = {"dtype": _DT[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def _bytes(t):
    # raw little-endian bytes of a contiguous CPU tensor, copied straight from its memory
    return ctypes.string_at(t.data_ptr(), t.numel() * t.element_size())
