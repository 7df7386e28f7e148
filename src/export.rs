//! `gantry export`: a run's generators as TorchScript modules a PyTorch user loads with
//! `torch.jit.load` and calls without gantry.
//!
//! The module is traced from the very generator `gantry sample` uses (the weight average when the
//! run keeps one, eval mode), so its images equal gantry's for the same inputs. Attributes tell a
//! user how to feed it:
//!
//! - noise generators: `forward(x)` with `x = cat(z, extra)`, `z` of `latent_dim` columns drawn
//!   from `prior` (`normal`: N(0, I); `uniform`: U(−1, 1)), `extra` the `input_dim − latent_dim`
//!   columns of conditioning: a one-hot class for `num_classes > 0` (and then `forward_labels(z,
//!   y)` builds it), InfoGAN's codes otherwise;
//! - translation runs: one module per direction, `forward(x)` an image batch of the source
//!   domain, `in_channels` and `out_channels` as attributes;
//! - pair generators (CoGAN): `forward(z)` returns the pair stacked, `[2, n, c, h, w]`: A, then
//!   B (one traced method returns one tensor).
//!
//! Images are `[n, c, h, w]` in [−1, 1] (attribute `value_range = "[-1, 1]"`).
use crate::error::{Error, Result};
use crate::method::Direction;
use crate::sample::Trained;
use serde::Serialize;
use std::path::{Path, PathBuf};
use tch::{CModule, Tensor};

/// What `gantry export` wrote.
#[derive(Debug, Serialize)]
pub struct Exported {
    pub run: PathBuf,
    pub step: u64,
    pub files: Vec<PathBuf>,
    pub kind: &'static str,
    pub input: Vec<i64>,
}

/// One traced module, finished with its attributes at `out`.
fn write_module(
    out: &Path,
    example: &Tensor,
    ints: &[(&str, i64)],
    strs: &[(&str, &str)],
    methods: &str,
    f: &mut dyn FnMut(&Tensor) -> Vec<Tensor>,
) -> Result<()> {
    let traced = CModule::create_by_tracing("Generator", "forward", std::slice::from_ref(example), &mut |xs| f(&xs[0]))
        .map_err(|e| {
            Error::Usage(format!(
                "the generator could not be traced to TorchScript ({}); please report it with the run's config.toml",
                crate::error::torch_message(&e)
            ))
        })?;
    let tmp = out.with_extension("traced.tmp");
    traced.save(&tmp).map_err(|e| Error::Usage(format!("cannot write {} ({e})", tmp.display())))?;
    let done = crate::ops::jit_finish(&tmp, out, ints, strs, methods)
        .map_err(|e| Error::Usage(format!("cannot finish the TorchScript module {} ({e})", out.display())));
    let _ = std::fs::remove_file(&tmp);
    done
}

/// Writes `t`'s generators as TorchScript next to `out` (`out` itself for one generator;
/// `STEM-a2b.pt` and `STEM-b2a.pt` for a translation run).
pub fn torchscript(t: &Trained, run: &Path, out: &Path) -> Result<Exported> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(crate::error::io_err(dir))?;
    }
    // the weights enter the trace as constants, which must not require gradients
    for (_, vs) in t.method.stores() {
        for (_, v) in vs.variables() {
            let _ = v.set_requires_grad(false);
        }
    }
    let common_strs =
        [("method", t.cfg.method.as_str()), ("preset", t.cfg.preset.as_str()), ("value_range", "[-1, 1]")];
    let step = t.step as i64;
    if let Some(s) = t.method.noise() {
        let example = s.latents(2);
        let input_dim = example.size()[1];
        let classes = s.classes();
        let latent_dim = s.codes().map_or(input_dim - classes, |(_, d)| d);
        let prior = s.prior();
        let mut strs = common_strs.to_vec();
        strs.push(("prior", prior));
        let ints = [("latent_dim", latent_dim), ("input_dim", input_dim), ("num_classes", classes), ("step", step)];
        let methods = if classes > 0 {
            "def forward_labels(self, z: Tensor, y: Tensor) -> Tensor:\n    onehot = torch.eye(self.num_classes, dtype=z.dtype, device=z.device).index_select(0, y)\n    return self.forward(torch.cat([z, onehot], 1))\n"
        } else {
            ""
        };
        write_module(out, &example, &ints, &strs, methods, &mut |z| vec![s.generate(z)])?;
        return Ok(Exported {
            run: run.into(),
            step: t.step,
            files: vec![out.into()],
            kind: "noise",
            input: vec![input_dim],
        });
    }
    if let Some(tr) = t.method.translator() {
        let m = tr.side_multiple().max(1);
        let side = (tr.min_side().max(32) + m - 1) / m * m;
        let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "G".into());
        let mut files = vec![];
        for (dir, name) in [(Direction::AtoB, "a2b"), (Direction::BtoA, "b2a")] {
            let (cin, cout) = tr.channels(dir);
            let path = out.with_file_name(format!("{stem}-{name}.pt"));
            let example = Tensor::rand([2, cin, side, side], (tch::Kind::Float, t.device)) * 2.0 - 1.0;
            let mut strs = common_strs.to_vec();
            strs.push(("direction", name));
            let ints =
                [("in_channels", cin), ("out_channels", cout), ("side_multiple", tr.side_multiple()), ("step", step)];
            write_module(&path, &example, &ints, &strs, "", &mut |x| vec![tr.translate(x, dir)])?;
            files.push(path);
        }
        return Ok(Exported { run: run.into(), step: t.step, files, kind: "translation", input: vec![] });
    }
    if let Some(p) = t.method.pairs() {
        let example = p.latents(2);
        let input_dim = example.size()[1];
        let mut strs = common_strs.to_vec();
        strs.push(("prior", "normal"));
        let ints = [("latent_dim", input_dim), ("input_dim", input_dim), ("num_classes", 0), ("step", step)];
        write_module(out, &example, &ints, &strs, "", &mut |z| {
            let (a, b) = p.generate_pair(z);
            vec![Tensor::stack(&[a, b], 0)]
        })?;
        return Ok(Exported {
            run: run.into(),
            step: t.step,
            files: vec![out.into()],
            kind: "pairs",
            input: vec![input_dim],
        });
    }
    Err(Error::Usage(format!("this run (method = \"{}\") has no generator to export", t.cfg.method)))
}

/// Writes a DCGAN-family generator as plain weights (`STEM.safetensors`, PyTorch-style names,
/// the averaged weights when the run keeps them) and `STEM.py`, a PyTorch `nn.Module` of the same
/// layers with a loader that needs neither gantry nor the safetensors package.
pub fn plain(t: &Trained, run: &Path, out: &Path) -> Result<Exported> {
    use crate::nets::{Arch, GeneratorKind, ModelConfig, Norm};
    let s = t.method.noise().ok_or_else(|| {
        Error::Usage("--format safetensors writes noise generators; export a translation or pair run as TorchScript (the default format)".into())
    })?;
    let not_plain = |why: String| {
        Error::Usage(format!(
            "--format safetensors: {why}; export it as TorchScript (the default format), which takes any network"
        ))
    };
    if !["gan", "cgan", "acgan", "infogan"].contains(&t.cfg.method.as_str()) {
        return Err(not_plain(format!(
            "method = \"{}\" has no plain-module writer (the DCGAN family's generators do)",
            t.cfg.method
        )));
    }
    let m: ModelConfig = t.cfg.section("model")?;
    if m.arch != Arch::Dcgan || m.generator != GeneratorKind::Net {
        return Err(not_plain("the plain module is written for model.arch = \"dcgan\" generators".into()));
    }
    if m.g_norm == Norm::Virtual {
        return Err(not_plain("virtual batch norm carries a reference batch that a plain module lacks".into()));
    }
    let crate::data::Shape::Image { channels, size } = t.shape else {
        return Err(not_plain("this run's data are points".into()));
    };
    let (levels, start) = crate::nets::dcgan::plan(size)?;
    let example = s.latents(1);
    let input_dim = example.size()[1];
    let classes = s.classes();
    let latent_dim = s.codes().map_or(input_dim - classes, |(_, d)| d);
    let stores = t.method.stores();
    let (_, g) = stores
        .iter()
        .find(|(n, _)| *n == "g_ema")
        .or_else(|| stores.iter().find(|(n, _)| *n == "g"))
        .ok_or_else(|| Error::Usage("this run holds no generator store `g`".into()))?;
    let mut vars: Vec<(String, Tensor)> =
        g.variables().into_iter().map(|(k, v)| (k, v.to_device(tch::Device::Cpu))).collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let weights = out.with_extension("safetensors");
    let module = out.with_extension("py");
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(crate::error::io_err(dir))?;
    }
    Tensor::write_safetensors(&vars, &weights)
        .map_err(|e| Error::Usage(format!("cannot write {} ({e})", weights.display())))?;
    let top = m.base_channels << (levels - 1);
    let bias = m.g_norm == Norm::None;
    let norm = |name: &str, shape: &str, dims: usize| -> String {
        match (m.g_norm, dims) {
            (Norm::None, _) => String::new(),
            (Norm::Batch, 1) => format!("        self.{name} = nn.BatchNorm1d({shape})\n"),
            (Norm::Batch, _) => format!("        self.{name} = nn.BatchNorm2d({shape})\n"),
            _ => format!("        self.{name} = nn.LayerNorm({shape})\n"),
        }
    };
    let apply = |name: &str, x: &str| if m.g_norm == Norm::None { x.to_string() } else { format!("self.{name}({x})") };
    let mut init = String::new();
    let mut fwd = String::from("        x = z\n");
    let fc_in = if m.g_fc > 0 {
        init += &format!("        self.pre = nn.Linear({input_dim}, {}, bias={})\n", m.g_fc, py_bool(bias));
        init += &norm("norm_pre", &m.g_fc.to_string(), 1);
        fwd += &format!("        x = torch.relu({})\n", apply("norm_pre", "self.pre(x)"));
        m.g_fc
    } else {
        input_dim
    };
    let flat = top * start * start;
    init += &format!("        self.fc = nn.Linear({fc_in}, {flat}, bias={})\n", py_bool(bias));
    init += &match m.g_norm {
        Norm::Layer => format!("        self.norm_fc = nn.LayerNorm([{flat}])\n"),
        _ => norm("norm_fc", &flat.to_string(), 1),
    };
    fwd += &format!("        x = torch.relu({}).view(-1, {top}, {start}, {start})\n", apply("norm_fc", "self.fc(x)"));
    let (mut ch, mut side) = (top, start);
    for i in 0..levels - 1 {
        side *= 2;
        init +=
            &format!("        self.up{i} = nn.ConvTranspose2d({ch}, {}, 4, 2, 1, bias={})\n", ch / 2, py_bool(bias));
        init += &match m.g_norm {
            Norm::Layer => format!("        self.norm{i} = nn.LayerNorm([{}, {side}, {side}])\n", ch / 2),
            _ => norm(&format!("norm{i}"), &(ch / 2).to_string(), 2),
        };
        fwd += &format!("        x = torch.relu({})\n", apply(&format!("norm{i}"), &format!("self.up{i}(x)")));
        ch /= 2;
    }
    init += &format!("        self.out = nn.ConvTranspose2d({ch}, {channels}, 4, 2, 1)\n");
    fwd += "        return torch.tanh(self.out(x))\n";
    let prior = s.prior();
    let text = format!(
        r#""""A generator trained by gantry, as a plain PyTorch module.

Run: {run} (preset {preset}, method {method}), step {step}.
Weights: {weights} (safetensors, PyTorch names; the loader below reads the format itself).

    from {stem} import load
    g = load("{weights}")                      # eval mode, CPU
    z = {sample}
    x = g(z)                                   # [n, {channels}, {size}, {size}] in [-1, 1]
{labels}"""
import json
import struct

import torch
from torch import nn

LATENT_DIM = {latent_dim}
INPUT_DIM = {input_dim}
NUM_CLASSES = {classes}
PRIOR = "{prior}"


class Generator(nn.Module):
    """gantry's DCGAN generator: linear projection, {ups} transposed convolutions (kernel 4,
    stride 2), {norm_name}, ReLU, tanh."""

    latent_dim = LATENT_DIM
    input_dim = INPUT_DIM
    num_classes = NUM_CLASSES
    prior = PRIOR

    def __init__(self):
        super().__init__()
{init}
    def forward(self, z):
{fwd}
    def forward_labels(self, z, y):
        """Class-conditional runs: z [n, latent_dim] and integer classes y [n]."""
        onehot = torch.nn.functional.one_hot(y, self.num_classes).to(z.dtype)
        return self.forward(torch.cat([z, onehot], 1))


def read_safetensors(path):
    """The tensors of a safetensors file (little-endian float32/int64 as gantry writes them)."""
    kinds = {{"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "F16": torch.float16, "BF16": torch.bfloat16}}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = bytearray(f.read())
    out = {{}}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        out[name] = torch.frombuffer(data[a:b], dtype=kinds[h["dtype"]]).reshape(h["shape"]).clone()
    return out


def load(path="{weights}"):
    g = Generator()
    weights = read_safetensors(path)
    # batch norm's num_batches_tracked is PyTorch's own counter; gantry does not keep it
    result = g.load_state_dict(weights, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise ValueError(f"{{path}} does not fit this module: missing {{missing}}, unexpected {{result.unexpected_keys}}")
    return g.eval()
"#,
        run = run.display(),
        preset = t.cfg.preset,
        method = t.cfg.method,
        step = t.step,
        weights = weights.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        stem = module.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        sample =
            if prior == "normal" { "torch.randn(16, g.latent_dim)" } else { "torch.rand(16, g.latent_dim) * 2 - 1" },
        labels = if classes > 0 { "    x = g.forward_labels(z, torch.arange(16) % g.num_classes)\n" } else { "" },
        ups = levels,
        norm_name = match m.g_norm {
            Norm::Batch => "batch norm",
            Norm::Layer => "layer norm",
            _ => "no norm",
        },
    );
    std::fs::write(&module, text).map_err(crate::error::io_err(&module))?;
    Ok(Exported { run: run.into(), step: t.step, files: vec![weights, module], kind: "noise", input: vec![input_dim] })
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}
