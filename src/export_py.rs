//! `gantry export --format safetensors` for translation runs and CoGAN pairs: each generator's
//! weights under their gantry names (PyTorch-style: `stem.conv.weight`, `a.enc.in.weight`, …)
//! and one Python file whose `nn.Module`s have exactly those names, so `load_state_dict` takes
//! them as they are. The noise generators' writer is in `export`.
use crate::error::{Error, Result};
use crate::method::Direction;
use crate::sample::Trained;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// Python that reads a safetensors file with nothing but torch (gantry writes F32 and I64).
pub const READER: &str = r#"def read_safetensors(path):
    """The tensors of a safetensors file (little-endian, as gantry writes them)."""
    kinds = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "F16": torch.float16, "BF16": torch.bfloat16}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = bytearray(f.read())
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        out[name] = torch.frombuffer(data[a:b], dtype=kinds[h["dtype"]]).reshape(h["shape"]).clone()
    return out


def load_weights(module, path):
    """Loads `path` into `module` by name; batch norm's num_batches_tracked is PyTorch's own counter."""
    result = module.load_state_dict(read_safetensors(path), strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise ValueError(f"{path} does not fit this module: missing {missing}, unexpected {result.unexpected_keys}")
    return module.eval()"#;

/// The layers every translation module file carries.
const LAYERS: &str = r#"def norm2d(kind, channels):
    # gantry's instance norm has no affine parameters and no running statistics
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()


class ConvNorm(nn.Module):
    """A convolution (`conv`) and, when given, its norm (`norm`)."""

    def __init__(self, conv, norm=None):
        super().__init__()
        self.conv = conv
        if norm is not None:
            self.norm = norm

    def forward(self, x):
        x = self.conv(x)
        return self.norm(x) if hasattr(self, "norm") else x


def reflect(x, p):
    return F.pad(x, [p, p, p, p], mode="reflect")


class ResnetBlock(nn.Module):
    def __init__(self, width, norm):
        super().__init__()
        self.a = ConvNorm(nn.Conv2d(width, width, 3), norm2d(norm, width))
        self.b = ConvNorm(nn.Conv2d(width, width, 3), norm2d(norm, width))

    def forward(self, x):
        return x + self.b(reflect(torch.relu(self.a(reflect(x, 1))), 1))


class Resnet(nn.Module):
    """CycleGAN's ResNet generator: reflect-pad 3, conv 7, `downs` stride-2 conv 3, `blocks`
    residual blocks, `downs` stride-2 transposed conv 3, reflect-pad 3, conv 7, tanh."""

    def __init__(self, cin, cout, ngf, downs, blocks, norm):
        super().__init__()
        self.stem = ConvNorm(nn.Conv2d(cin, ngf, 7), norm2d(norm, ngf))
        for i in range(downs):
            setattr(self, f"down{i}", ConvNorm(nn.Conv2d(ngf << i, ngf << (i + 1), 3, 2, 1), norm2d(norm, ngf << (i + 1))))
        for i in range(blocks):
            setattr(self, f"block{i}", ResnetBlock(ngf << downs, norm))
        for i in range(downs):
            cin_, cout_ = ngf << (downs - i), ngf << (downs - i - 1)
            setattr(self, f"up{i}", ConvNorm(nn.ConvTranspose2d(cin_, cout_, 3, 2, 1, output_padding=1), norm2d(norm, cout_)))
        self.head = nn.Conv2d(ngf, cout, 7)
        self.downs, self.blocks = downs, blocks

    def forward(self, x):
        h = torch.relu(self.stem(reflect(x, 3)))
        for i in range(self.downs):
            h = torch.relu(getattr(self, f"down{i}")(h))
        for i in range(self.blocks):
            h = getattr(self, f"block{i}")(h)
        for i in range(self.downs):
            h = torch.relu(getattr(self, f"up{i}")(h))
        return torch.tanh(self.head(reflect(h, 3)))


class Disco(nn.Module):
    """DiscoGAN's generator on gantry's [-1, 1] images: to [0, 1], `depth` stride-2 conv 4
    (LeakyReLU 0.2, batch norm from the second), `depth` stride-2 transposed conv 4 (batch norm
    and ReLU but the last), sigmoid, back to [-1, 1]."""

    def __init__(self, cin, cout, ngf, depth):
        super().__init__()
        for i in range(depth):
            a, b = (cin if i == 0 else ngf << (i - 1)), ngf << i
            setattr(self, f"enc{i}", ConvNorm(nn.Conv2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b) if i > 0 else None))
        for i in range(depth):
            last = i == depth - 1
            a, b = ngf << (depth - 1 - i), (cout if last else ngf << (depth - 2 - i))
            setattr(self, f"dec{i}", ConvNorm(nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), None if last else nn.BatchNorm2d(b)))
        self.depth = depth

    def forward(self, x):
        h = (x + 1) * 0.5
        for i in range(self.depth):
            h = F.leaky_relu(getattr(self, f"enc{i}")(h), 0.2)
        for i in range(self.depth):
            h = getattr(self, f"dec{i}")(h)
            if i < self.depth - 1:
                h = torch.relu(h)
        return torch.sigmoid(h) * 2 - 1


class Mlp(nn.Module):
    """The toys' translator of points: fully connected layers with ReLU between them."""

    def __init__(self, widths):
        super().__init__()
        for i in range(len(widths) - 1):
            setattr(self, f"fc{i}", nn.Linear(widths[i], widths[i + 1]))
        self.n = len(widths) - 1

    def forward(self, x):
        for i in range(self.n):
            x = getattr(self, f"fc{i}")(x)
            if i < self.n - 1:
                x = torch.relu(x)
        return x


class UnitRes(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, 1, 1)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1)

    def forward(self, x):
        n = lambda h: F.instance_norm(h, eps=1e-5)
        return x + n(self.conv2(torch.relu(n(self.conv1(x)))))


def unit_module(name, cin, cout):
    """A UNIT layer by its gantry name: in (conv 7), downN (stride-2 conv 3), upN (stride-2
    transposed conv 3), out (1x1 transposed conv), resN (a residual block)."""
    if name == "in":
        return nn.Conv2d(cin, cout, 7, 1, 3)
    if name.startswith("down"):
        return nn.Conv2d(cin, cout, 3, 2, 1)
    if name.startswith("up"):
        return nn.ConvTranspose2d(cin, cout, 3, 2, 1, output_padding=1)
    if name == "out":
        return nn.ConvTranspose2d(cin, cout, 1)
    return UnitRes(cin)


def unit_part(layers):
    # a ModuleDict keeps gantry's names: a.enc.in.weight, shared.gen.res0.conv1.weight, ...
    return nn.ModuleDict({name: unit_module(name, cin, cout) for name, cin, cout in layers})


def unit_run(part, h):
    for name, layer in part.items():
        h = layer(h)
        if name == "out":
            h = torch.tanh(h)
        elif not name.startswith("res"):
            h = F.leaky_relu(h, 0.01)  # in, downN, upN
    return h


class Unit(nn.Module):
    """UNIT's translation from domain `src` to `dst`: src's encoder, the shared encoder and
    generator blocks, dst's generator (no latent noise, as gantry translates)."""

    def __init__(self, src, dst, enc, enc_shared, gen_shared, gen):
        super().__init__()
        self.src, self.dst = src, dst
        setattr(self, src, nn.ModuleDict({"enc": unit_part(enc)}))
        setattr(self, dst, nn.ModuleDict({"gen": unit_part(gen)}))
        self.shared = nn.ModuleDict({"enc": unit_part(enc_shared), "gen": unit_part(gen_shared)})

    def forward(self, x):
        h = unit_run(getattr(self, self.src)["enc"], x)
        h = unit_run(self.shared["gen"], unit_run(self.shared["enc"], h))
        return unit_run(getattr(self, self.dst)["gen"], h)"#;

/// One generator's variables under `prefixes` (each kept or renamed as given), sorted, on the
/// CPU.
fn variables(t: &Trained, store: &str, keep: &dyn Fn(&str) -> Option<String>) -> Result<Vec<(String, Tensor)>> {
    let stores = t.method.stores();
    let (_, g) = stores
        .iter()
        .find(|(n, _)| *n == store)
        .ok_or_else(|| Error::Usage(format!("this run holds no generator store `{store}`")))?;
    let mut vars: Vec<(String, Tensor)> =
        g.variables().into_iter().filter_map(|(k, v)| keep(&k).map(|k| (k, v.to_device(tch::Device::Cpu)))).collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(vars)
}

fn write_weights(vars: &[(String, Tensor)], path: &Path) -> Result<()> {
    Tensor::write_safetensors(vars, path).map_err(|e| Error::Usage(format!("cannot write {} ({e})", path.display())))
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// A Python literal of UNIT layers `(name, in, out)`.
fn unit_layers(layers: &[(String, i64, i64)]) -> String {
    let items: Vec<String> = layers.iter().map(|(n, a, b)| format!("(\"{n}\", {a}, {b})")).collect();
    format!("[{}]", items.join(", "))
}

/// A translation run's two generators: `STEM-a2b.safetensors`, `STEM-b2a.safetensors` and
/// `STEM.py` with `load(path, direction)` and `translate(g, x)` for images of any size.
pub fn translation(t: &Trained, run: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    let tr = t.method.translator().expect("a translator");
    let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "G".into());
    let module = out.with_file_name(format!("{stem}.py"));
    let mut files = vec![];
    let mut builders = vec![];
    for dir in [Direction::AtoB, Direction::BtoA] {
        let name = dir.name();
        let (cin, cout) = tr.channels(dir);
        let store_prefix = match dir {
            Direction::AtoB => "g_ab.",
            Direction::BtoA => "g_ba.",
        };
        let builder = match t.cfg.method.as_str() {
            "cyclegan" | "discogan" => {
                let vars = variables(t, "g", &|k| k.strip_prefix(store_prefix).map(str::to_string))?;
                let images = matches!(t.shape, crate::data::Shape::Image { .. });
                if !images {
                    // the toys' MLPs: fc0 … fcN, widths from the weights ([out, in])
                    let mut fc: Vec<(usize, Vec<i64>)> = vars
                        .iter()
                        .filter_map(|(k, v)| {
                            let i = k.strip_prefix("fc")?.strip_suffix(".weight")?.parse().ok()?;
                            Some((i, v.size()))
                        })
                        .collect();
                    fc.sort_by_key(|(i, _)| *i);
                    let mut w = vec![fc[0].1[1]];
                    w.extend(fc.iter().map(|(_, s)| s[0]));
                    let widths: Vec<String> = w.iter().map(|x| x.to_string()).collect();
                    write_weights(&vars, &out.with_file_name(format!("{stem}-{name}.safetensors")))?;
                    format!("Mlp([{}])", widths.join(", "))
                } else if t.cfg.method == "cyclegan" {
                    let c: crate::method::cyclegan::CycleConfig = t.cfg.section("cyclegan")?;
                    write_weights(&vars, &out.with_file_name(format!("{stem}-{name}.safetensors")))?;
                    let norm = match c.norm {
                        crate::nets::resnet::Norm2d::Instance => "instance",
                        crate::nets::resnet::Norm2d::Batch => "batch",
                        crate::nets::resnet::Norm2d::None => "none",
                    };
                    format!("Resnet({cin}, {cout}, {}, {}, {}, \"{norm}\")", c.ngf, c.downs, c.blocks)
                } else {
                    let c: crate::method::discogan::DiscoConfig = t.cfg.section("discogan")?;
                    write_weights(&vars, &out.with_file_name(format!("{stem}-{name}.safetensors")))?;
                    format!("Disco({cin}, {cout}, {}, {})", c.ngf, c.depth)
                }
            }
            "unit" => {
                let (src, dst) = dir.orient(("a", "b"));
                let c: crate::method::unit::UnitConfig = t.cfg.section("unit")?;
                let s = c.shape();
                let top = s.latent_channels();
                let mut enc = vec![("in".to_string(), cin, s.ch)];
                for i in 1..s.enc_front {
                    enc.push((format!("down{i}"), s.ch << (i - 1), s.ch << i));
                }
                enc.extend((0..s.enc_res).map(|i| (format!("res{i}"), top, top)));
                let shared =
                    |n: i64| -> Vec<(String, i64, i64)> { (0..n).map(|i| (format!("res{i}"), top, top)).collect() };
                let mut dec: Vec<(String, i64, i64)> = (0..s.gen_res).map(|i| (format!("res{i}"), top, top)).collect();
                for i in 1..s.gen_front {
                    dec.push((format!("up{i}"), top >> (i - 1), top >> i));
                }
                dec.push(("out".into(), top >> (s.gen_front - 1), cout));
                let (enc_p, gen_p) = (format!("{src}.enc."), format!("{dst}.gen."));
                let vars = variables(t, "g", &|k| {
                    (k.starts_with(&enc_p) || k.starts_with(&gen_p) || k.starts_with("shared.")).then(|| k.to_string())
                })?;
                write_weights(&vars, &out.with_file_name(format!("{stem}-{name}.safetensors")))?;
                format!(
                    "Unit(\"{src}\", \"{dst}\", {}, {}, {}, {})",
                    unit_layers(&enc),
                    unit_layers(&shared(s.enc_shared)),
                    unit_layers(&shared(s.gen_shared)),
                    unit_layers(&dec)
                )
            }
            m => {
                return Err(Error::Usage(format!(
                    "--format safetensors has no writer for method = \"{m}\"; export it as TorchScript (the default format)"
                )));
            }
        };
        files.push(out.with_file_name(format!("{stem}-{name}.safetensors")));
        builders.push(format!("    \"{name}\": lambda: {builder},"));
    }
    let text = format!(
        r#""""The two generators of a translation run trained by gantry, as plain PyTorch modules.

Run: {run} (preset {preset}, method {method}), step {step}.
Weights: {stem}-a2b.safetensors and {stem}-b2a.safetensors (PyTorch names; read below with torch alone).
Images are [n, c, h, w] in [-1, 1]; a side must be a multiple of {multiple}, or use translate().

    from {module_stem} import load, translate
    g = load("{stem}-a2b.safetensors", "a2b")   # eval mode, CPU
    y = translate(g, x)                          # any size: reflect-padded, then cropped back
"""
import json
import struct

import torch
import torch.nn.functional as F
from torch import nn

SIDE_MULTIPLE = {multiple}


{layers}


{reader}


BUILD = {{
{builders}
}}


def load(path, direction):
    """The generator of `direction` ("a2b" or "b2a") with the weights at `path`."""
    return load_weights(BUILD[direction](), path)


def translate(g, x):
    """`g` on images of any size: padded up to a multiple of SIDE_MULTIPLE as gantry translate pads, then cropped."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % SIDE_MULTIPLE, (-w) % SIDE_MULTIPLE
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, [0, pw, 0, ph], mode=mode)
    with torch.no_grad():
        return g(x)[..., :h, :w]
"#,
        run = run.display(),
        preset = t.cfg.preset,
        method = t.cfg.method,
        step = t.step,
        multiple = tr.side_multiple(),
        module_stem = module.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        layers = LAYERS,
        reader = READER,
        builders = builders.join("\n"),
    );
    std::fs::write(&module, text).map_err(crate::error::io_err(&module))?;
    files.push(module);
    Ok(files)
}

/// CoGAN's pair of generators: `STEM.safetensors` and `STEM.py`, whose module returns the pair
/// stacked as `[2, n, c, h, w]` (as the TorchScript export) and `forward_pair(z)` the two images.
pub fn pairs(t: &Trained, run: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    if t.cfg.method != "cogan" {
        return Err(Error::Usage(format!(
            "--format safetensors has no writer for method = \"{}\"; export it as TorchScript (the default format)",
            t.cfg.method
        )));
    }
    let c: crate::method::cogan::CoConfig = t.cfg.section("cogan")?;
    let vars = variables(t, "g", &|k| Some(k.to_string()))?;
    let weight = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.size());
    let last = crate::nets::cogan::G_LAYERS - 1;
    let (Some(wa), Some(wb)) = (weight(&format!("a.l{last}.conv.weight")), weight(&format!("b.l{last}.conv.weight")))
    else {
        return Err(Error::Usage("this CoGAN run's generators lack their last layers".into()));
    };
    // a transposed convolution's weight is [in, out, k, k]; the last kernel is side − 22
    let (ca, cb, side) = (wa[1], wb[1], wa[2] + 22);
    let weights = out.with_extension("safetensors");
    let module = out.with_extension("py");
    write_weights(&vars, &weights)?;
    let [c0, c1, c2, c3] = c.g_channels;
    let text = format!(
        r#""""CoGAN's coupled generators trained by gantry, as a plain PyTorch module.

Run: {run} (preset {preset}), step {step}.
Weights: {weights} (PyTorch names; read below with torch alone).

    from {module_stem} import load
    g = load("{weights}")
    z = torch.randn(16, g.latent_dim)
    a, b = g.forward_pair(z)        # [16, c, {side}, {side}] each, in [-1, 1]; g(z) stacks them
"""
import json
import struct

import torch
from torch import nn

LATENT_DIM = {latent}
SHARED = {shared}


class Layer(nn.Module):
    """Transposed conv, then batch norm without affine parameters and PReLU, or for the last
    layer a sigmoid mapped to [-1, 1]."""

    def __init__(self, i, cin, cout, side):
        super().__init__()
        k, stride, padding = {{0: (4, 1, 0), 4: (side - 22, 1, 1)}}.get(i, (3, 2, 1))
        self.conv = nn.ConvTranspose2d(cin, cout, k, stride, padding)
        self.last = i == 4
        if not self.last:
            self.norm = nn.BatchNorm2d(cout, affine=False)
            self.prelu = nn.PReLU(1)

    def forward(self, x):
        h = self.conv(x)
        return torch.sigmoid(h) * 2 - 1 if self.last else self.prelu(self.norm(h))


class Generator(nn.Module):
    latent_dim = LATENT_DIM
    prior = "normal"

    def __init__(self):
        super().__init__()
        wa = [LATENT_DIM, {c0}, {c1}, {c2}, {c3}, {ca}]
        wb = [LATENT_DIM, {c0}, {c1}, {c2}, {c3}, {cb}]
        self.shared = nn.ModuleDict({{f"l{{i}}": Layer(i, wa[i], wa[i + 1], {side}) for i in range(SHARED)}})
        self.a = nn.ModuleDict({{f"l{{i}}": Layer(i, wa[i], wa[i + 1], {side}) for i in range(SHARED, 5)}})
        self.b = nn.ModuleDict({{f"l{{i}}": Layer(i, wb[i], wb[i + 1], {side}) for i in range(SHARED, 5)}})

    def forward_pair(self, z):
        h = z.view(-1, z.shape[1], 1, 1)
        for layer in self.shared.values():
            h = layer(h)
        a, b = h, h
        for layer in self.a.values():
            a = layer(a)
        for layer in self.b.values():
            b = layer(b)
        return a, b

    def forward(self, z):
        a, b = self.forward_pair(z)
        c = max(a.shape[1], b.shape[1])
        widen = lambda x: x.repeat(1, c, 1, 1) if x.shape[1] < c else x
        return torch.stack([widen(a), widen(b)], 0)


{reader}


def load(path="{weights}"):
    return load_weights(Generator(), path)
"#,
        run = run.display(),
        preset = t.cfg.preset,
        step = t.step,
        weights = file_name(&weights),
        module_stem = module.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        latent = c.latent_dim,
        shared = c.shared_g,
        reader = READER,
    );
    std::fs::write(&module, text).map_err(crate::error::io_err(&module))?;
    Ok(vec![weights, module])
}
