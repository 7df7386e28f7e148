//! Checkpoints: `checkpoints/step-NNNNNNN/` holding each network's variables and each
//! optimiser's state as safetensors, and `state.json` (step, seed, configuration hash, data
//! shape), plus `state.safetensors` for a method's other training state (an image pool, a
//! controller's value). A checkpoint is written under a temporary name and renamed when complete, so a crash
//! never leaves a half-written folder that looks complete; the newest `keep` are kept.
use crate::data::Shape;
use crate::error::{Error, Result, io_err};
use crate::train::optim::Optimizer;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::Tensor;
use tch::nn::VarStore;

/// What a checkpoint holds of a method: networks, optimisers and any other state that must
/// survive a resume.
pub trait Saved {
    /// Networks saved in checkpoints, by file name.
    fn stores(&self) -> Vec<(&'static str, &VarStore)>;
    /// Optimisers saved in checkpoints, by file name.
    fn optimizers(&mut self) -> Vec<(&'static str, &mut Optimizer)>;
    /// Other training state, by tensor name (empty for most methods).
    fn state(&self) -> Vec<(String, Tensor)> {
        vec![]
    }
    /// Restores what `state` returned; `saved` is empty for a checkpoint without state.
    fn load_state(&mut self, saved: &BTreeMap<String, Tensor>) -> Result<()> {
        let _ = saved;
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub step: u64,
    pub seed: u64,
    pub config_hash: String,
    /// `[channels, size]` for images, `[dim]` for points.
    pub shape: Vec<i64>,
    pub optimizer_steps: BTreeMap<String, i64>,
    pub gantry_version: String,
    /// Classes of the run's training data (0 without labels): the conditional and
    /// semi-supervised methods are rebuilt with it.
    #[serde(default)]
    pub classes: i64,
    /// Domain B's shape, for translation runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape_b: Option<Vec<i64>>,
    /// The factor on every learning rate after divergences were rolled back (1 otherwise).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub lr_scale: f64,
    /// Divergences rolled back so far in this run.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rollbacks: u64,
}

fn one() -> f64 {
    1.0
}

fn is_one(x: &f64) -> bool {
    *x == 1.0
}

fn is_zero(x: &u64) -> bool {
    *x == 0
}

fn shape_of(v: &[i64]) -> Shape {
    match *v {
        [channels, size] => Shape::Image { channels, size },
        [dim] => Shape::Points { dim },
        _ => Shape::Points { dim: 0 },
    }
}

impl State {
    pub fn data_shape(&self) -> Shape {
        shape_of(&self.shape)
    }

    /// Domain B's shape, for translation runs.
    pub fn data_shape_b(&self) -> Option<Shape> {
        self.shape_b.as_deref().map(shape_of)
    }
}

pub fn shape_vec(shape: Shape) -> Vec<i64> {
    match shape {
        Shape::Image { channels, size } => vec![channels, size],
        Shape::Points { dim } => vec![dim],
    }
}

pub fn dir(run: &Path) -> PathBuf {
    run.join("checkpoints")
}

/// A store's variables, sorted by name.
pub fn named_variables(vs: &VarStore) -> Vec<(String, Tensor)> {
    let mut v: Vec<_> = vs.variables().into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Copies saved tensors into a store, checking names and shapes.
pub fn load_store(vs: &VarStore, path: &Path) -> Result<()> {
    let saved =
        Tensor::read_safetensors(path).map_err(|e| Error::Checkpoint { path: path.into(), msg: e.to_string() })?;
    let saved: BTreeMap<String, Tensor> = saved.into_iter().collect();
    copy_into(vs, &saved, "", path)
}

/// Copies the tensors of `saved` named `prefix` + a variable's name into a store, checking
/// names and shapes; `path` is where they came from, for the errors.
pub fn copy_into(vs: &VarStore, saved: &BTreeMap<String, Tensor>, prefix: &str, path: &Path) -> Result<()> {
    tch::no_grad(|| {
        for (name, mut var) in named_variables(vs) {
            let src = saved.get(&format!("{prefix}{name}")).ok_or_else(|| Error::Checkpoint {
                path: path.into(),
                msg: format!("has no variable `{name}`; it was written for another architecture"),
            })?;
            if src.size() != var.size() {
                return Err(Error::Checkpoint {
                    path: path.into(),
                    msg: format!(
                        "variable `{name}` has shape {:?} where the network has {:?}; it was written for another architecture",
                        src.size(),
                        var.size()
                    ),
                });
            }
            if src.kind() != var.kind() {
                return Err(Error::Checkpoint {
                    path: path.into(),
                    msg: format!(
                        "variable `{name}` is stored as {:?} where the network holds {:?}; the file was not written by gantry for this network",
                        src.kind(),
                        var.kind()
                    ),
                });
            }
            var.copy_(&src.to_device(var.device()));
        }
        Ok(())
    })
}

fn write(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    let cpu: Vec<(String, Tensor)> =
        tensors.iter().map(|(n, t)| (n.clone(), t.to_device(tch::Device::Cpu).contiguous())).collect();
    Tensor::write_safetensors(&cpu, path).map_err(|e| Error::Checkpoint { path: path.into(), msg: e.to_string() })
}

/// Writes a checkpoint of `method` at `state.step` and deletes all but the newest `keep`.
pub fn save(run: &Path, method: &mut dyn Saved, mut state: State, keep: u64) -> Result<PathBuf> {
    let root = dir(run);
    std::fs::create_dir_all(&root).map_err(io_err(&root))?;
    let name = format!("step-{:07}", state.step);
    let tmp = root.join(format!(".{name}.tmp"));
    let fin = root.join(&name);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
    }
    // everything this checkpoint would hold, checked finite before anything is written
    let (files, steps) = contents(method);
    state.optimizer_steps = steps;
    if let Some((file, tensor)) = first_non_finite(&files) {
        let kept = list(run)?.pop().map_or("no checkpoint was written before".into(), |(p, _)| {
            format!("the last checkpoint, {}, is finite and kept", p.display())
        });
        return Err(Error::NonFinite {
            step: state.step,
            key: format!("{tensor} (of {file})"),
            value: f64::NAN,
            kept: format!("Nothing was saved for this step; {kept}"),
        });
    }
    std::fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
    for (file, tensors) in &files {
        write(&tmp.join(file), tensors)?;
        super::fault::kill_point("kill-ckpt-files");
    }
    let json = serde_json::to_string_pretty(&state).expect("state serialises");
    std::fs::write(tmp.join("state.json"), json).map_err(io_err(tmp.join("state.json")))?;
    if fin.exists() {
        std::fs::remove_dir_all(&fin).map_err(io_err(&fin))?;
    }
    std::fs::rename(&tmp, &fin).map_err(io_err(&fin))?;
    super::fault::kill_point("kill-ckpt-renamed");
    let all = list(run)?;
    for (old, step) in all.iter().rev().skip(keep as usize) {
        // out of the checkpoint namespace first, so a kill mid-delete leaves no half checkpoint
        let trash = root.join(format!(".trash-step-{step:07}"));
        std::fs::rename(old, &trash).map_err(io_err(old))?;
        super::fault::kill_point("kill-ckpt-trash");
        std::fs::remove_dir_all(&trash).map_err(io_err(&trash))?;
    }
    clean_leftovers(&root, &name);
    Ok(fin)
}

/// Removes what an interrupted save or delete left behind (`.trash-…` folders, and temporary
/// folders other than the one being written); best effort.
fn clean_leftovers(root: &Path, writing: &str) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let stale_tmp = name.starts_with(".step-") && name.ends_with(".tmp") && name != format!(".{writing}.tmp");
        if name.starts_with(".trash-") || stale_tmp {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Everything a checkpoint of `method` holds, by file (networks, optimiser state, other state),
/// and each optimiser's update count.
type Files = Vec<(String, Vec<(String, Tensor)>)>;
fn contents(method: &mut dyn Saved) -> (Files, BTreeMap<String, i64>) {
    let mut files: Files =
        method.stores().into_iter().map(|(net, vs)| (format!("{net}.safetensors"), named_variables(vs))).collect();
    let mut steps = BTreeMap::new();
    for (name, opt) in method.optimizers() {
        files.push((format!("opt_{name}.safetensors"), opt.state_tensors()));
        steps.insert(name.to_string(), opt.steps);
    }
    let extra = method.state();
    if !extra.is_empty() {
        files.push(("state.safetensors".into(), extra));
    }
    (files, steps)
}

/// The first weight, optimiser value or state tensor of `method` that holds a NaN or an
/// infinity, or a network weight beyond ±`bound` (0: finiteness only), as (file, tensor); one
/// device read when all is well.
pub fn diverged_tensor(method: &mut dyn Saved, bound: f64) -> Option<(String, String)> {
    let networks = method.stores().len();
    let (files, _) = contents(method);
    first_bad(&files, |i| if i < networks { bound } else { 0.0 })
}

/// The first tensor holding a NaN or an infinity, by file and name; one device read in all
/// when every value is finite.
fn first_non_finite(files: &Files) -> Option<(String, String)> {
    first_bad(files, |_| 0.0)
}

/// The first floating-point tensor that is not finite, or whose magnitude exceeds the bound of
/// its file (`bound(file index)`, 0: none), by file and name.
fn first_bad(files: &Files, bound: impl Fn(usize) -> f64) -> Option<(String, String)> {
    let bad = |t: &Tensor, b: f64| {
        let mut x = t.isfinite().logical_not();
        if b > 0.0 {
            x = x.logical_or(&t.abs().gt(b));
        }
        x.sum(tch::Kind::Int64)
    };
    let tensors = || {
        files
            .iter()
            .enumerate()
            .flat_map(|(i, (file, ts))| ts.iter().map(move |(n, t)| (i, file, n, t)))
            .filter(|(_, _, _, t)| t.is_floating_point())
    };
    let counts: Vec<Tensor> = tensors().map(|(i, _, _, t)| bad(t, bound(i))).collect();
    if counts.is_empty() || Tensor::stack(&counts, 0).sum(tch::Kind::Int64).int64_value(&[]) == 0 {
        return None;
    }
    tensors().find(|(i, _, _, t)| bad(t, bound(*i)).int64_value(&[]) > 0).map(|(_, f, n, _)| (f.clone(), n.clone()))
}

/// Writes a NaN into the first weight of `method`'s first network: the fault campaign's
/// divergence that no loss has shown yet.
pub fn poison(method: &mut dyn Saved) {
    if let Some((_, vs)) = method.stores().first()
        && let Some((_, mut w)) = named_variables(vs).into_iter().next()
    {
        tch::no_grad(|| {
            let _ = w.fill_(f64::NAN);
        });
    }
}

/// Complete checkpoints, oldest first.
pub fn list(run: &Path) -> Result<Vec<(PathBuf, u64)>> {
    let root = dir(run);
    if !root.is_dir() {
        return Ok(vec![]);
    }
    let mut out = vec![];
    for entry in std::fs::read_dir(&root).map_err(io_err(&root))? {
        let entry = entry.map_err(io_err(&root))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(step) = name.strip_prefix("step-").and_then(|s| s.parse::<u64>().ok())
            && entry.path().join("state.json").is_file()
        {
            out.push((entry.path(), step));
        }
    }
    out.sort_by_key(|(_, s)| *s);
    Ok(out)
}

/// The newest complete checkpoint and its state.
pub fn latest(run: &Path) -> Result<Option<(PathBuf, State)>> {
    let Some((path, _)) = list(run)?.pop() else {
        return Ok(None);
    };
    Ok(Some((path.clone(), read_state(&path)?)))
}

/// The complete checkpoint of `step` and its state; an error lists the steps `run` has.
pub fn at(run: &Path, step: u64) -> Result<(PathBuf, State)> {
    let all = list(run)?;
    match all.iter().find(|(_, s)| *s == step) {
        Some((path, _)) => Ok((path.clone(), read_state(path)?)),
        None => Err(Error::Usage(format!(
            "{} has no checkpoint of step {step}; it has {}",
            run.display(),
            if all.is_empty() {
                "none".to_string()
            } else {
                all.iter().map(|(_, s)| s.to_string()).collect::<Vec<_>>().join(", ")
            }
        ))),
    }
}

fn read_state(path: &Path) -> Result<State> {
    let sp = path.join("state.json");
    let text = std::fs::read_to_string(&sp).map_err(io_err(&sp))?;
    let state: State = serde_json::from_str(&text)
        .map_err(|e| Error::Checkpoint { path: sp.clone(), msg: format!("unreadable state ({e})") })?;
    Ok(state)
}

/// Loads a checkpoint's networks into `method`, not its optimiser state: what sampling and
/// evaluation need.
pub fn load_networks(path: &Path, method: &mut dyn Saved) -> Result<()> {
    for (net, vs) in method.stores() {
        load_store(vs, &path.join(format!("{net}.safetensors")))?;
    }
    Ok(())
}

/// Loads a checkpoint folder into `method`.
pub fn load(path: &Path, state: &State, method: &mut dyn Saved) -> Result<()> {
    load_networks(path, method)?;
    for (name, opt) in method.optimizers() {
        let p = path.join(format!("opt_{name}.safetensors"));
        let saved =
            Tensor::read_safetensors(&p).map_err(|e| Error::Checkpoint { path: p.clone(), msg: e.to_string() })?;
        let steps = *state.optimizer_steps.get(name).unwrap_or(&0);
        opt.load_state(&saved, steps, &p)?;
        opt.lr_scale = state.lr_scale;
    }
    let extra = read_state_tensors(path)?;
    method
        .load_state(&extra)
        .map_err(|e| Error::Checkpoint { path: path.join("state.safetensors"), msg: e.to_string() })
}

/// A checkpoint folder's other training state (`state.safetensors`; empty without one).
pub fn read_state_tensors(path: &Path) -> Result<BTreeMap<String, Tensor>> {
    let p = path.join("state.safetensors");
    if !p.is_file() {
        return Ok(BTreeMap::new());
    }
    Ok(Tensor::read_safetensors(&p)
        .map_err(|e| Error::Checkpoint { path: p.clone(), msg: e.to_string() })?
        .into_iter()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A method of one network, for the checkpoint's own tests.
    struct One {
        vs: VarStore,
        opt: Optimizer,
    }

    impl Saved for One {
        fn stores(&self) -> Vec<(&'static str, &VarStore)> {
            vec![("g", &self.vs)]
        }
        fn optimizers(&mut self) -> Vec<(&'static str, &mut Optimizer)> {
            vec![("g", &mut self.opt)]
        }
    }

    #[test]
    fn a_non_finite_value_is_never_written_and_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let vs = VarStore::new(tch::Device::Cpu);
        let w = vs.root().var("w", &[3], tch::nn::Init::Const(1.0));
        let opt = Optimizer::new(&Default::default(), named_variables(&vs));
        let mut m = One { vs, opt };
        let state = |step| State {
            step,
            seed: 0,
            config_hash: String::new(),
            shape: vec![2],
            optimizer_steps: Default::default(),
            gantry_version: String::new(),
            classes: 0,
            shape_b: None,
            lr_scale: 1.0,
            rollbacks: 0,
        };
        save(dir.path(), &mut m, state(1), 3).unwrap();
        assert_eq!(diverged_tensor(&mut m, 1e8), None);
        // a weight beyond the bound counts as divergence, though it may be written
        let _ = tch::no_grad(|| w.shallow_clone().fill_(1e9));
        assert_eq!(diverged_tensor(&mut m, 1e8), Some(("g.safetensors".into(), "w".into())));
        assert_eq!(diverged_tensor(&mut m, 0.0), None);
        // an infinite optimiser value is named by its file, and nothing is written
        let _ = tch::no_grad(|| w.shallow_clone().fill_(1.0));
        let v = m.opt.state_tensors().remove(1).1;
        let _ = tch::no_grad(|| v.shallow_clone().fill_(f64::INFINITY));
        let e = save(dir.path(), &mut m, state(2), 3).unwrap_err().to_string();
        assert!(e.contains("w.v (of opt_g.safetensors) is not finite"), "{e}");
        assert!(e.contains("step-0000001, is finite and kept"), "{e}");
        assert_eq!(list(dir.path()).unwrap().len(), 1);
    }

    #[test]
    fn a_variable_of_another_dtype_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let vs = tch::nn::VarStore::new(tch::Device::Cpu);
        let _ = vs.root().var("w", &[2], tch::nn::Init::Const(1.0));
        let p = dir.path().join("x.safetensors");
        // the weight written as 32-bit integers instead of floats
        let ints = tch::Tensor::from_slice(&[1i32, 2]);
        tch::Tensor::write_safetensors(&[("w", ints)], &p).unwrap();
        let e = super::load_store(&vs, &p).unwrap_err().to_string();
        assert!(e.contains("is stored as Int where the network holds Float"), "{e}");
    }
}
