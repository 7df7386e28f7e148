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
//!   B (one traced method returns one tensor);
//! - text-to-image runs (StackGAN): see `export_captions`.
//!
//! Images are `[n, c, h, w]` in [−1, 1] (attribute `value_range = "[-1, 1]"`).
use crate::error::{Error, Result};
use crate::export_trace::write_module;
use crate::method::Direction;
use crate::sample::Trained;
use serde::Serialize;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// What `gantry export` wrote.
#[derive(Debug, Serialize)]
pub struct Exported {
    pub run: PathBuf,
    pub step: u64,
    pub files: Vec<PathBuf>,
    pub kind: &'static str,
    pub input: Vec<i64>,
}

/// Writes `t`'s generators as TorchScript next to `out` (`out` itself for one generator;
/// `STEM-a2b.pt` and `STEM-b2a.pt` for a translation run).
pub fn torchscript(t: &Trained, run: &Path, out: &Path, check_layers: bool) -> Result<Exported> {
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
        let classes = s.input_classes();
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
        write_module(
            out,
            &example,
            &s.latents(3),
            &ints,
            &strs,
            methods,
            &mut |z| vec![s.generate(z)],
            &s.stages(),
            check_layers,
        )?;
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
            // images [n, c, side, side] in [−1, 1]; the toys' points [n, dim]
            let input = |n: i64| match t.shape {
                crate::data::Shape::Points { .. } => Tensor::randn([n, cin], (tch::Kind::Float, t.device)),
                crate::data::Shape::Image { .. } => {
                    Tensor::rand([n, cin, side, side], (tch::Kind::Float, t.device)) * 2.0 - 1.0
                }
            };
            let (example, check) = (input(2), input(3));
            let mut strs = common_strs.to_vec();
            strs.push(("direction", name));
            // points carry their dimensions; images their channels and the side they need
            let ints = match t.shape {
                crate::data::Shape::Points { .. } => vec![("input_dim", cin), ("output_dim", cout), ("step", step)],
                crate::data::Shape::Image { .. } => vec![
                    ("in_channels", cin),
                    ("out_channels", cout),
                    ("side_multiple", tr.side_multiple()),
                    ("step", step),
                ],
            };
            write_module(
                &path,
                &example,
                &check,
                &ints,
                &strs,
                "",
                &mut |x| vec![tr.translate(x, dir)],
                &tr.stages(dir),
                check_layers,
            )?;
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
        write_module(
            out,
            &example,
            &p.latents(3),
            &ints,
            &strs,
            "",
            &mut |z| {
                let (a, b) = p.generate_pair(z);
                vec![Tensor::stack(&[a, b], 0)]
            },
            &p.stages(),
            check_layers,
        )?;
        return Ok(Exported {
            run: run.into(),
            step: t.step,
            files: vec![out.into()],
            kind: "pairs",
            input: vec![input_dim],
        });
    }
    if let Some(s) = t.method.captions() {
        let files = crate::export_captions::torchscript(t, s, out)?;
        let input = vec![s.encoder().meta.dim + s.noise_dim()];
        return Ok(Exported { run: run.into(), step: t.step, files, kind: "captions", input });
    }
    Err(no_export(t))
}

/// Why a run without a noise, translation, pair or caption generator does not export.
fn no_export(t: &Trained) -> Error {
    Error::Usage(format!("this run (method = \"{}\") has no generator to export", t.cfg.method))
}

/// A generator's layers as Python: `__init__` lines, `forward` lines (from `x = z`), and a phrase
/// for the class's docstring.
struct PyLayers {
    init: String,
    fwd: String,
    about: String,
}

/// Writes a run's generators as plain weights (safetensors, PyTorch-style names, the averaged
/// weights when the run keeps them) and a Python file defining a PyTorch `nn.Module` of the same
/// layers, with a loader that needs neither gantry nor the safetensors package:
/// - noise generators (`STEM.safetensors`, `STEM.py`): DCGAN-family and fully connected
///   generators (the GAN family, cGAN, AC-GAN, InfoGAN, f-GAN, the toys) and BEGAN's decoder;
/// - translation runs (`STEM-a2b.safetensors`, `STEM-b2a.safetensors`, `STEM.py`): CycleGAN's
///   ResNet, DiscoGAN's encoder–decoder and the toys' MLPs, UNIT's encoder and decoder pair;
/// - CoGAN pairs (`STEM.safetensors`, `STEM.py`);
/// - text-to-image runs (`export_captions`).
pub fn plain(t: &Trained, run: &Path, out: &Path) -> Result<Exported> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(crate::error::io_err(dir))?;
    }
    if t.method.noise().is_some() {
        return plain_noise(t, run, out);
    }
    let (files, kind) = if t.method.translator().is_some() {
        (crate::export_py::translation(t, run, out)?, "translation")
    } else if t.method.pairs().is_some() {
        (crate::export_py::pairs(t, run, out)?, "pairs")
    } else if let Some(s) = t.method.captions() {
        (crate::export_captions::plain(t, s, run, out)?, "captions")
    } else {
        return Err(no_export(t));
    };
    Ok(Exported { run: run.into(), step: t.step, files, kind, input: vec![] })
}

fn plain_noise(t: &Trained, run: &Path, out: &Path) -> Result<Exported> {
    use crate::nets::{Arch, GeneratorKind, ModelConfig, Norm};
    let s = t.method.noise().expect("a noise sampler");
    let not_plain = |why: String| {
        Error::Usage(format!(
            "--format safetensors: {why}; export it as TorchScript (the default format), which takes any network"
        ))
    };
    if !["gan", "cgan", "acgan", "infogan", "began", "semi", "ppgn"].contains(&t.cfg.method.as_str()) {
        return Err(not_plain(format!(
            "method = \"{}\" has no plain-module writer (gan, cgan, acgan, infogan, began, semi and ppgn have)",
            t.cfg.method
        )));
    }
    let example = s.latents(1);
    let input_dim = example.size()[1];
    let classes = s.input_classes();
    let latent_dim = s.codes().map_or(input_dim - classes, |(_, d)| d);
    let layers = if t.cfg.method == "semi" {
        let m: ModelConfig = t.cfg.section("model")?;
        semi_layers(&m, input_dim, t.shape)
    } else if t.cfg.method == "began" {
        let c: crate::method::began::BeganConfig = t.cfg.section("began")?;
        let crate::data::Shape::Image { channels, size } = t.shape else {
            return Err(not_plain("this run's data are points".into()));
        };
        match c.arch {
            crate::method::began::BeganArch::Paper => began_layers(&c, input_dim, channels, size)?,
            // tanh bounds the DCGAN generator, so the sampler's clip to [-1, 1] changes nothing
            crate::method::began::BeganArch::Dcgan => {
                dcgan_layers(&crate::method::began::dcgan_generator(&c), input_dim, channels, size)?
            }
        }
    } else {
        let m: ModelConfig = t.cfg.section("model")?;
        if m.generator != GeneratorKind::Net {
            return Err(not_plain("this run's generator is a fixed Gaussian with no weights".into()));
        }
        match (m.arch, t.shape) {
            (Arch::Dcgan, crate::data::Shape::Image { channels, size }) => dcgan_layers(&m, input_dim, channels, size)?,
            (Arch::Mlp, shape) => mlp_layers(&m, input_dim, shape),
            (Arch::Dcgan, _) => return Err(not_plain("this run's data are points".into())),
        }
    };
    let stores = t.method.stores();
    let (_, g) = stores
        .iter()
        .find(|(n, _)| *n == "g_ema")
        .or_else(|| stores.iter().find(|(n, _)| *n == "g"))
        .ok_or_else(|| Error::Usage("this run holds no generator store `g`".into()))?;
    let mut vars: Vec<(String, Tensor)> =
        g.variables().into_iter().map(|(k, v)| (k, v.to_device(tch::Device::Cpu))).collect();
    // virtual batch norm: the fixed reference latents ride along, a buffer of the module
    let vbn = t.cfg.method != "began"
        && t.cfg.method != "semi"
        && t.cfg.section::<ModelConfig>("model").is_ok_and(|m| m.g_norm == Norm::Virtual);
    if vbn {
        vars.push(("z_ref".into(), crate::nets::reference_latents(input_dim, tch::Device::Cpu)));
    }
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let weights = out.with_extension("safetensors");
    let module = out.with_extension("py");
    Tensor::write_safetensors(&vars, &weights)
        .map_err(|e| Error::Usage(format!("cannot write {} ({e})", weights.display())))?;
    let prior = s.prior();
    let shape_note = match t.shape {
        crate::data::Shape::Image { channels, size } => format!("[n, {channels}, {size}, {size}] in [-1, 1]"),
        crate::data::Shape::Points { dim } => format!("[n, {dim}] points"),
    };
    let PyLayers { mut init, mut fwd, about } = layers;
    if vbn {
        // the reference rows go through in front of every batch and are cut off at the output
        init += &format!(
            "        self.register_buffer(\"z_ref\", torch.zeros({}, {input_dim}))\n",
            crate::nets::REFERENCE_BATCH
        );
        fwd = format!("        x = torch.cat([self.z_ref, x], 0)\n{fwd}");
        let ret = fwd.rfind("        return ").expect("a return line");
        let line_end = fwd[ret..].find('\n').map_or(fwd.len(), |e| ret + e);
        let expr = fwd[ret + "        return ".len()..line_end].to_string();
        fwd.replace_range(ret..line_end, &format!("        return ({expr})[{}:]", crate::nets::REFERENCE_BATCH));
    }
    let text = format!(
        r#""""A generator trained by gantry, as a plain PyTorch module.

Run: {run} (preset {preset}, method {method}), step {step}.
Weights: {weights} (safetensors, PyTorch names; the loader below reads the format itself).

    from {stem} import load
    g = load("{weights}")                      # eval mode, CPU
    z = {sample}
    x = g(z)                                   # {shape_note}
{labels}"""
import json
import struct

import torch
from torch import nn

LATENT_DIM = {latent_dim}
INPUT_DIM = {input_dim}
NUM_CLASSES = {classes}
PRIOR = "{prior}"


class VirtualBatchNorm(nn.Module):
    """Virtual batch norm (Salimans et al. 2016) as gantry computes it: the first 64 rows are the
    reference batch, normalised by their own statistics; every other row by the reference's and
    its own, weighted 64 : 1; then scaled and shifted per channel."""

    REF = 64

    def __init__(self, channels):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        spatial = list(range(2, x.dim()))
        ref = x[: self.REF]
        mean_ref = ref.mean([0] + spatial, keepdim=True)
        sq_ref = ref.square().mean([0] + spatial, keepdim=True)
        mean_i = x.mean(spatial, keepdim=True) if spatial else x
        sq_i = x.square().mean(spatial, keepdim=True) if spatial else x.square()
        w = 1.0 / (self.REF + 1.0)
        mean = mean_i * w + mean_ref * (1.0 - w)
        sq = sq_i * w + sq_ref * (1.0 - w)
        is_ref = (torch.arange(x.shape[0], device=x.device) < self.REF).view([-1] + [1] * (x.dim() - 1))
        mean = torch.where(is_ref, mean_ref.expand_as(mean), mean)
        sq = torch.where(is_ref, sq_ref.expand_as(sq), sq)
        var = (sq - mean.square()).clamp_min(0)
        shape = [1, -1] + [1] * len(spatial)
        return (x - mean) / (var + 1e-5).sqrt() * self.weight.view(shape) + self.bias.view(shape)


class Generator(nn.Module):
    """gantry's generator: {about}."""

    latent_dim = LATENT_DIM
    input_dim = INPUT_DIM
    num_classes = NUM_CLASSES
    prior = PRIOR

    def __init__(self):
        super().__init__()
{init}
    def forward(self, z):
        x = z
{fwd}
    def forward_labels(self, z, y):
        """Class-conditional runs: z [n, latent_dim] and integer classes y [n]."""
        onehot = torch.nn.functional.one_hot(y, self.num_classes).to(z.dtype)
        return self.forward(torch.cat([z, onehot], 1))


{reader}

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
        reader = crate::export_py::READER,
    );
    std::fs::write(&module, text).map_err(crate::error::io_err(&module))?;
    Ok(Exported { run: run.into(), step: t.step, files: vec![weights, module], kind: "noise", input: vec![input_dim] })
}

/// The DCGAN generator (`nets::dcgan`): [linear pre-layer,] linear projection, transposed
/// convolutions (kernel 4, stride 2) with a norm and ReLU, tanh.
fn dcgan_layers(m: &crate::nets::ModelConfig, input_dim: i64, channels: i64, size: i64) -> Result<PyLayers> {
    use crate::nets::Norm;
    let (levels, start) = crate::nets::dcgan::plan(size)?;
    let top = m.base_channels << (levels - 1);
    let bias = m.g_norm == Norm::None;
    let norm = |name: &str, shape: &str, dims: usize| -> String {
        match (m.g_norm, dims) {
            (Norm::None, _) => String::new(),
            (Norm::Batch, 1) => format!("        self.{name} = nn.BatchNorm1d({shape})\n"),
            (Norm::Batch, _) => format!("        self.{name} = nn.BatchNorm2d({shape})\n"),
            (Norm::Virtual, _) => format!("        self.{name} = VirtualBatchNorm({shape})\n"),
            _ => format!("        self.{name} = nn.LayerNorm({shape})\n"),
        }
    };
    let apply = |name: &str, x: &str| if m.g_norm == Norm::None { x.to_string() } else { format!("self.{name}({x})") };
    let mut init = String::new();
    let mut fwd = String::new();
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
    let norm_name = match m.g_norm {
        Norm::Batch => "batch norm",
        Norm::Layer => "layer norm",
        Norm::Virtual => "virtual batch norm",
        _ => "no norm",
    };
    Ok(PyLayers {
        init,
        fwd,
        about: format!(
            "DCGAN's: linear projection, {levels} transposed convolutions (kernel 4, stride 2), {norm_name}, ReLU, tanh"
        ),
    })
}

/// The fully connected generator (`nets::mlp`): hidden layers linear → norm → activation, then a
/// linear read-out, through tanh and reshaped for images.
fn mlp_layers(m: &crate::nets::ModelConfig, input_dim: i64, shape: crate::data::Shape) -> PyLayers {
    use crate::nets::{Activation, Norm};
    let k = if m.g_activation == Activation::Maxout { m.maxout_pieces } else { 1 };
    let bias = m.g_norm == Norm::None || k > 1;
    let (mut init, mut fwd) = (String::new(), String::new());
    let mut prev = input_dim;
    for (i, &w) in m.g_hidden.iter().enumerate() {
        init += &format!("        self.fc{i} = nn.Linear({prev}, {}, bias={})\n", w * k, py_bool(bias));
        let normed = match m.g_norm {
            Norm::Batch => {
                init += &format!("        self.norm{i} = nn.BatchNorm1d({})\n", w * k);
                format!("self.norm{i}(self.fc{i}(x))")
            }
            Norm::Layer => {
                init += &format!("        self.norm{i} = nn.LayerNorm([{}])\n", w * k);
                format!("self.norm{i}(self.fc{i}(x))")
            }
            Norm::Virtual => {
                init += &format!("        self.norm{i} = VirtualBatchNorm({})\n", w * k);
                format!("self.norm{i}(self.fc{i}(x))")
            }
            _ => format!("self.fc{i}(x)"),
        };
        fwd += &match m.g_activation {
            Activation::Relu => format!("        x = torch.relu({normed})\n"),
            Activation::LeakyRelu => {
                format!("        x = torch.nn.functional.leaky_relu({normed}, {:?})\n", m.leaky_slope)
            }
            Activation::Softplus => format!("        x = torch.nn.functional.softplus({normed})\n"),
            Activation::Tanh => format!("        x = torch.tanh({normed})\n"),
            Activation::Maxout => format!("        x = {normed}.view(-1, {w}, {k}).amax(2)\n"),
        };
        prev = w;
    }
    init += &format!("        self.out = nn.Linear({prev}, {})\n", shape.numel());
    fwd += &match shape {
        crate::data::Shape::Image { channels, size } => {
            format!("        return torch.tanh(self.out(x)).view(-1, {channels}, {size}, {size})\n")
        }
        crate::data::Shape::Points { .. } => "        return self.out(x)\n".into(),
    };
    let act = format!("{:?}", m.g_activation).to_lowercase();
    PyLayers {
        init,
        fwd,
        about: format!("{} fully connected hidden layers ({act}), a linear read-out", m.g_hidden.len()),
    }
}

/// BEGAN's decoder (`nets::began`): linear to s₀×s₀×n, two 3×3 convolutions with ELU per level,
/// nearest-neighbour ×2 between levels, a last 3×3 convolution with no activation, clipped to
/// [−1, 1] as `gantry sample` clips it.
fn began_layers(c: &crate::method::began::BeganConfig, input_dim: i64, channels: i64, size: i64) -> Result<PyLayers> {
    let (levels, start) = crate::nets::began::plan(size)?;
    let n = c.width;
    let mut init = format!("        self.fc = nn.Linear({input_dim}, {})\n", start * start * n);
    let mut fwd = format!("        x = self.fc(x).view(-1, {n}, {start}, {start})\n");
    // nn.Module names with dots are not allowed: the levels are ModuleDicts named l0, l1, …
    for l in 0..levels {
        init += &format!(
            "        self.l{l} = nn.ModuleDict({{\"conv0\": nn.Conv2d({n}, {n}, 3, 1, 1), \"conv1\": nn.Conv2d({n}, {n}, 3, 1, 1)}})\n"
        );
        fwd += &format!(
            "        x = torch.nn.functional.elu(self.l{l}[\"conv1\"](torch.nn.functional.elu(self.l{l}[\"conv0\"](x))))\n"
        );
        if l + 1 < levels {
            fwd += "        x = torch.nn.functional.interpolate(x, scale_factor=2, mode=\"nearest\")\n";
        }
    }
    init += &format!("        self.out = nn.Conv2d({n}, {channels}, 3, 1, 1)\n");
    // the last layer is linear, as the reference's; gantry clips its images to [-1, 1]
    fwd += "        return self.out(x).clamp(-1, 1)\n";
    Ok(PyLayers {
        init,
        fwd,
        about: format!(
            "BEGAN's decoder: linear to {start}x{start}x{n}, {levels} levels of two 3x3 convolutions with ELU, nearest-neighbour upsampling between them, a last 3x3 convolution with no activation, clipped to [-1, 1]"
        ),
    })
}

/// The semi-supervised GAN's generator (`nets::semi`): per hidden layer a linear map without
/// bias, batch norm without scale, its own bias and softplus; a weight-normalised read-out
/// g · v / ‖v‖ + b, softplus, mapped to 2x − 1 and clipped to [−1, 1] as `gantry sample` clips.
fn semi_layers(m: &crate::nets::ModelConfig, input_dim: i64, shape: crate::data::Shape) -> PyLayers {
    let (mut init, mut fwd) = (String::new(), String::new());
    let mut prev = input_dim;
    for (i, &w) in m.g_hidden.iter().enumerate() {
        init += &format!("        self.fc{i} = nn.Linear({prev}, {w}, bias=False)\n");
        init += &format!("        self.norm{i} = nn.BatchNorm1d({w}, affine=False)\n");
        init += &format!("        self.bias{i} = nn.Parameter(torch.zeros({w}))\n");
        fwd += &format!("        x = torch.nn.functional.softplus(self.norm{i}(self.fc{i}(x)) + self.bias{i})\n");
        prev = w;
    }
    let n = shape.numel();
    init += &format!(
        "        self.out = nn.ParameterDict({{\"v\": nn.Parameter(torch.zeros({n}, {prev})), \"g\": nn.Parameter(torch.ones({n})), \"b\": nn.Parameter(torch.zeros({n}))}})\n"
    );
    fwd += "        o = self.out\n";
    fwd += "        w = o[\"v\"] * (o[\"g\"].unsqueeze(1) / o[\"v\"].square().sum(1, keepdim=True).sqrt())\n";
    let view = match shape {
        crate::data::Shape::Image { channels, size } => format!(".view(-1, {channels}, {size}, {size})"),
        crate::data::Shape::Points { dim } => format!(".view(-1, {dim})"),
    };
    fwd += &format!(
        "        return (torch.nn.functional.softplus(torch.nn.functional.linear(x, w, o[\"b\"])) * 2 - 1){view}.clamp(-1, 1)\n"
    );
    PyLayers {
        init,
        fwd,
        about: format!(
            "the semi-supervised GAN's: {} dense layers with batch norm and softplus, a weight-normalised softplus read-out",
            m.g_hidden.len()
        ),
    }
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}
