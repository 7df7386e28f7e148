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
