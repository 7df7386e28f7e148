//! The training loop: iterate, log, sample, checkpoint, guard. It knows nothing of the GAN it
//! trains; the `Method` does the maths. Every step's randomness is seeded from (seed, step), so
//! resuming from a checkpoint repeats exactly what a straight run would have done.
//!
//! Costs: reading a loss from the device is a synchronisation point, so metrics are read only
//! at logging and checkpoint steps; in between, the loop only queues work.
use super::OnDivergence;
use super::checkpoint::{self, State};
use crate::config::Config;
use crate::data::{Data, Dataset, unpaired::Unpaired};
use crate::error::{Error, Result, io_err};
use crate::evaluate::{Evaluator, Features};
use crate::method::{self, Batch, DataInfo, FigureContext, Metrics};
use crate::rng;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::{Kind, Tensor};

pub struct RunOptions {
    pub out: PathBuf,
    pub resume: bool,
    pub quiet: bool,
}

/// What a finished run reports.
#[derive(Debug, serde::Serialize)]
pub struct Summary {
    pub run: PathBuf,
    pub first_step: u64,
    pub steps: u64,
    pub seconds: f64,
    pub steps_per_s: f64,
    /// libtorch's CPU threads, and how idle ones waited (`OMP_WAIT_POLICY`; see `threads`).
    pub threads: i32,
    pub wait_policy: String,
    /// Data-parallel runs: how many gradient buckets of the last gradient computation started
    /// their sums over the ranks while its backward pass still ran (`dist::gradients`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overlapped_buckets: Option<i32>,
    pub checkpoint: Option<PathBuf>,
    /// The method's own figures at the end (a semi-supervised run's `test_error`, …).
    #[serde(flatten)]
    pub figures: serde_json::Map<String, serde_json::Value>,
}

fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// Keeps only the metric lines at or before `step`, so a resumed run does not repeat lines.
fn truncate_metrics(path: &Path, step: u64) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["step"].as_u64())
                .is_some_and(|s| s <= step)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    write_atomic(path, &kept)
}

/// How far the calling thread's autograd counter moves at least per step on CUDA (see
/// `ops::bump_sequence`): more nodes than any step's backward passes make on the device's worker
/// thread (about one per node of the penalised forward pass: a few hundred for five critic
/// steps through a convolutional critic). A step that numbers fewer nodes itself is topped up,
/// at about 5 ns a node.
const SEQUENCE_STRIDE: u64 = 8192;

/// Reads a step's metrics from the device in one transfer.
fn read_metrics(m: &Metrics) -> Vec<(&'static str, f64)> {
    if m.is_empty() {
        return vec![];
    }
    let stacked = Tensor::stack(&m.iter().map(|(_, t)| t.to_kind(Kind::Double).reshape([1])).collect::<Vec<_>>(), 0);
    let values: Vec<f64> =
        Vec::try_from(stacked.to_device(tch::Device::Cpu).flatten(0, -1)).expect("metrics are scalars");
    m.iter().map(|(k, _)| *k).zip(values).collect()
}

/// 1 on the device when a metric of the step is not finite or its magnitude exceeds `bound`
/// (0: finiteness only), else 0; None for a step without metrics.
fn diverged(m: &Metrics, bound: f64) -> Option<Tensor> {
    if m.is_empty() {
        return None;
    }
    let v = Tensor::stack(&m.iter().map(|(_, t)| t.detach().to_kind(Kind::Double).reshape([1])).collect::<Vec<_>>(), 0);
    let mut bad = v.isfinite().logical_not();
    if bound > 0.0 {
        bad = bad.logical_or(&v.abs().gt(bound));
    }
    Some(bad.any().to_kind(Kind::Int64))
}

/// Whether the steps since `since` diverged: the device flag of their losses (`tripped`), then
/// every weight, optimiser value and state tensor of `method` — one device read when all is well.
fn check_divergence(
    method: &mut dyn method::Method,
    tripped: Option<Tensor>,
    bound: f64,
    step: u64,
    since: u64,
    last: &Option<PathBuf>,
) -> Option<Error> {
    let what = if tripped.is_some_and(|n| n.int64_value(&[]) > 0) {
        if bound > 0.0 {
            format!("a loss was not finite or beyond ±{bound:e} (train.divergence_bound)")
        } else {
            "a loss was not finite".into()
        }
    } else {
        let (file, tensor) = checkpoint::diverged_tensor(method, bound)?;
        if bound > 0.0 && !file.starts_with("opt_") && file != "state.safetensors" {
            format!("`{tensor}` of {file} is no longer finite or beyond ±{bound:e} (train.divergence_bound)")
        } else {
            format!("`{tensor}` of {file} is no longer finite")
        }
    };
    Some(Error::Diverged {
        step,
        since,
        what,
        kept: match last {
            Some(p) => format!("The last checkpoint, {}, is kept; nothing after it was saved", p.display()),
            None => "No checkpoint was written".into(),
        },
    })
}

/// Whether a data source is an image folder with class sub-folders.
fn is_class_folder(source: &str) -> bool {
    let p = std::path::Path::new(source);
    crate::data::folder::is_image_folder(p)
        && crate::data::folder::split_dir(p, "train")
            .and_then(|d| crate::data::folder::list(&d))
            .is_ok_and(|l| !l.classes.is_empty())
}

/// Loads the training data of the kind a method consumes.
pub fn load_data(cfg: &Config, batch: Batch, device: tch::Device) -> Result<Data> {
    match batch {
        Batch::Examples | Batch::Labelled => Ok(Data::One(Dataset::load(&cfg.data, device)?)),
        Batch::Unpaired => Ok(Data::Two(Unpaired::load(&cfg.data, device)?)),
        Batch::Captioned => Ok(Data::Captioned(crate::data::captions::Captioned::load(&cfg.data, "train", device)?)),
    }
}

/// Trains `cfg` into `opts.out`.
/// Checks that `cfg` can train on `ranks` data-parallel ranks; returns each rank's batch size.
pub fn check_ranks(cfg: &Config, ranks: i64) -> Result<i64> {
    if ranks > 1 && cfg.train.on_divergence == OnDivergence::Rollback {
        return Err(Error::Config(
            "`train.on_divergence = \"rollback\"` is not available in data-parallel training (each rank would roll back alone); use \"stop\" and resume from the last checkpoint".into(),
        ));
    }
    cfg.data.per_rank(ranks)
}

pub fn train(cfg: &Config, opts: &RunOptions) -> Result<Summary> {
    let out = &opts.out;
    let device = cfg.device()?;
    if device.is_cuda() {
        crate::ops::set_deterministic(cfg.train.deterministic);
    }
    cfg.train.check_precision(device)?;
    let profile = super::profile::range_from_env()?;
    // data-parallel training: this process is one rank of a group; rank 0 alone writes the run
    let group = crate::dist::init(std::time::Duration::from_secs(cfg.train.dist_timeout), cfg.train.dist_bucket_mb)?;
    let ranks = group.map_or(1, |g| g.world);
    let lead = crate::dist::leads();
    // the method draws this rank's share of each batch; `dist` makes it a slice of the global one
    let per_rank = check_ranks(cfg, ranks)?;
    let local = if ranks > 1 {
        let mut c = cfg.clone();
        c.data.batch_size = per_rank;
        c
    } else {
        cfg.clone()
    };
    // On CUDA the calling thread's autograd counter is advanced before each step (see
    // `ops::bump_sequence`), so that a resumed process runs a step's backward nodes in the order a
    // straight one does. GANTRY_SEQUENCE_BUMP=0 turns it off, to show the drift it removes.
    let bump = device.is_cuda() && std::env::var("GANTRY_SEQUENCE_BUMP").map_or(true, |v| v != "0");
    std::fs::create_dir_all(out).map_err(|e| {
        Error::Usage(format!("cannot create the output folder {} ({e}); choose a writable --out", out.display()))
    })?;
    let probe = out.join(".gantry-write-test");
    std::fs::write(&probe, b"").map_err(|e| {
        Error::Usage(format!("the output folder {} is not writable ({e}); choose another --out", out.display()))
    })?;
    let _ = std::fs::remove_file(&probe);
    // one trainer per folder, until this function returns (or the process dies)
    let _lock = if lead { Some(super::guard::RunLock::acquire(out)?) } else { None };

    let latest = checkpoint::latest(out)?;
    if !opts.resume && latest.is_some() {
        return Err(Error::Usage(format!(
            "{} already holds a run with checkpoints; pass --resume to continue it, or choose another --out",
            out.display()
        )));
    }

    let spec = method::spec(&cfg.method)?;
    let data = load_data(cfg, spec.batch, device)?;
    let info = DataInfo { shape: data.shape(), classes: data.classes(), shape_b: data.shape_b() };
    let mut method = method::build(&local, info, device)?;
    if lead && !opts.quiet && spec.batch == Batch::Examples && info.classes > 0 && is_class_folder(&cfg.data.source) {
        eprintln!(
            "note: {} has {} class folders; method = \"{}\" is unconditional, so the labels are not used",
            cfg.data.source, info.classes, cfg.method
        );
    }

    let mut start = 0;
    // the learning-rate factor and rollback count that checkpoints carry
    let (mut lr_scale, mut rollbacks) = (1.0, 0);
    if opts.resume {
        let Some((path, state)) = latest else {
            return Err(Error::Usage(format!(
                "--resume: {} has no complete checkpoint under checkpoints/; train without --resume first",
                out.display()
            )));
        };
        // The run's config.toml, read with today's defaults for keys added since it was written,
        // vouches for a checkpoint whose hash an older gantry computed over fewer keys.
        let saved = method::load_config(&out.join("config.toml")).ok();
        if state.config_hash != cfg.hash() && saved.as_ref().is_none_or(|old| old.hash() != cfg.hash()) {
            let diff = saved.map(|old| old.differences(cfg).join(", ")).unwrap_or_default();
            return Err(Error::Checkpoint {
                path,
                msg: format!(
                    "was written by another configuration (hash {} vs {}); differing keys: {}. Resume with the run's own settings (omit --preset to use its config.toml) or train into another --out",
                    state.config_hash,
                    cfg.hash(),
                    if diff.is_empty() { "unknown".into() } else { diff }
                ),
            });
        }
        if state.step >= cfg.steps {
            return Err(Error::Usage(format!(
                "--resume: {} is already at step {}, and --steps is {}: there is nothing to train; pass a larger --steps to continue it",
                out.display(),
                state.step,
                cfg.steps
            )));
        }
        checkpoint::load(&path, &state, method.as_mut())?;
        start = state.step;
        (lr_scale, rollbacks) = (state.lr_scale, state.rollbacks);
        if lead {
            truncate_metrics(&out.join("metrics.jsonl"), start)?;
        }
    } else if lead {
        let _ = std::fs::remove_file(out.join("metrics.jsonl"));
    }
    method.prepare(&data, !opts.resume)?;
    let mut figures = serde_json::Map::new();
    if lead {
        write_atomic(&out.join("config.toml"), &cfg.to_toml())?;
    }
    let samples_dir = out.join("samples");
    std::fs::create_dir_all(&samples_dir).map_err(io_err(&samples_dir))?;

    let evaluator = if lead && cfg.train.eval_every > 0 {
        let features = if cfg.train.classifier.is_empty() {
            Features::CachedClassifier
        } else {
            Features::Classifier(cfg.train.classifier.clone().into())
        };
        Some(Evaluator::new(cfg, info, cfg.train.eval_samples, cfg.seed, &features, device, opts.quiet)?)
    } else {
        None
    };

    rng::seed_torch(cfg.seed, rng::stream::FIXED_LATENTS, 0);
    let fixed = method.grid_inputs(&data, cfg.train.grid_samples);

    let metrics_path = out.join("metrics.jsonl");
    // the other ranks log nowhere: rank 0's file is the run's
    let mut log: Box<dyn Write> = if lead {
        Box::new(
            std::fs::OpenOptions::new().create(true).append(true).open(&metrics_path).map_err(io_err(&metrics_path))?,
        )
    } else {
        Box::new(std::io::sink())
    };

    let mut tb = if lead && cfg.train.tensorboard {
        Some(super::tensorboard::EventWriter::create(&out.join("tb"))?)
    } else {
        None
    };

    let total = cfg.steps;
    let bar = crate::progress::bar(total, &cfg.preset, opts.quiet || !lead);
    bar.set_position(start);

    let mut last_ckpt: Option<PathBuf> = checkpoint::list(out)?.pop().map(|(p, _)| p);
    let t0 = Instant::now();
    let (mut t_log, mut step_log) = (Instant::now(), start);
    let t = &cfg.train;
    let state_for = |step: u64, lr_scale: f64, rollbacks: u64| State {
        step,
        seed: cfg.seed,
        config_hash: cfg.hash(),
        shape: checkpoint::shape_vec(info.shape),
        optimizer_steps: Default::default(),
        gantry_version: env!("CARGO_PKG_VERSION").into(),
        classes: info.classes,
        shape_b: info.shape_b.map(checkpoint::shape_vec),
        lr_scale,
        rollbacks,
    };
    let signals = super::guard::StopSignals::install();
    // steps since the last read whose losses were not finite or beyond the bound, counted on the
    // device so that no step waits for the host
    let mut tripped: Option<Tensor> = None;
    let kept = |last: &Option<PathBuf>| {
        last.as_ref().map_or("no checkpoint (none was written yet)".into(), |p| p.display().to_string())
    };
    let mut step = start;
    let mut write_report = false;
    let mut seq_target = crate::ops::sequence_peek();
    while step < total {
        rng::seed_torch(cfg.seed, rng::stream::STEP, step);
        if bump {
            // each step starts at least SEQUENCE_STRIDE past the last one's start, so that this
            // thread's counter stays ahead of the worker thread's, which starts at 0 in this
            // process and advances less than that per step
            seq_target += SEQUENCE_STRIDE;
            let now = crate::ops::sequence_peek();
            if now < seq_target {
                crate::ops::bump_sequence((seq_target - now) as i64);
            }
            seq_target = seq_target.max(now);
        }
        if profile.is_some_and(|(a, b)| a.max(start) == step && step < b) {
            super::profile::start(device.is_cuda())?;
        }
        let metrics = crate::dist::sharded(|| {
            if t.precision == super::Precision::Bf16 {
                crate::ops::autocast_bf16(device, || method.train_step(step, &data))
            } else {
                method.train_step(step, &data)
            }
        });
        if let Some((a, b)) = profile
            && step + 1 == b
            && a.max(start) < b
        {
            let c = super::profile::finish(&out.join("profile.json"), b - a.max(start), device)?;
            if !opts.quiet {
                bar.println(format!("profiled steps {}..{b}: {c:?}", a.max(start)));
            }
        }
        super::fault::kill_point("kill-step");
        if super::fault::fires("poison-step") {
            checkpoint::poison(method.as_mut());
        }
        let done = step + 1;
        let is_last = done == total;
        let want_ckpt = is_last || (t.checkpoint_every > 0 && done % t.checkpoint_every == 0);
        if let Some(bad) = diverged(&metrics, t.divergence_bound) {
            tripped = Some(match tripped.take() {
                Some(n) => n + bad,
                None => bad,
            });
        }
        let mut trouble: Option<Error> = None;
        if done % t.log_every == 0 || want_ckpt {
            trouble = check_divergence(method.as_mut(), tripped.take(), t.divergence_bound, done, step_log, &last_ckpt);
            if trouble.is_none() {
                // data-parallel: the logged figures are the means over the ranks
                let values = if ranks > 1 {
                    let keys: Vec<&'static str> = metrics.iter().map(|(k, _)| *k).collect();
                    let means = crate::dist::average(
                        &metrics.iter().map(|(_, v)| v.to_kind(tch::Kind::Float)).collect::<Vec<_>>(),
                    );
                    read_metrics(&keys.into_iter().zip(means).collect())
                } else {
                    read_metrics(&metrics)
                };
                if let Some((k, v)) = values.iter().find(|(_, v)| !v.is_finite()) {
                    trouble =
                        Some(Error::NonFinite { step: done, key: k.to_string(), value: *v, kept: kept(&last_ckpt) });
                } else {
                    let rate = (done - step_log) as f64 / t_log.elapsed().as_secs_f64().max(1e-9);
                    (t_log, step_log) = (Instant::now(), done);
                    let mut obj = serde_json::Map::new();
                    obj.insert("step".into(), done.into());
                    for (k, v) in &values {
                        obj.insert(k.to_string(), (*v).into());
                    }
                    obj.insert("time/steps_per_s".into(), rate.into());
                    writeln!(log, "{}", serde_json::Value::Object(obj)).map_err(io_err(&metrics_path))?;
                    if let Some(w) = tb.as_mut() {
                        let mut scalars: Vec<(String, f64)> = values.iter().map(|(k, v)| (k.to_string(), *v)).collect();
                        scalars.push(("time/steps_per_s".into(), rate));
                        w.scalars(done, &scalars)?;
                        w.flush()?;
                    }
                    let shown: Vec<String> = values
                        .iter()
                        .filter(|(k, _)| k.ends_with("loss"))
                        .map(|(k, v)| format!("{k} {v:.4}"))
                        .collect();
                    bar.set_message(shown.join(" "));
                }
            }
        }
        if let Some(e) = trouble {
            if t.on_divergence == OnDivergence::Rollback && rollbacks < t.max_rollbacks {
                // back to the last good checkpoint (or the start), at lower learning rates
                let to = match checkpoint::latest(out)? {
                    Some((path, state)) => {
                        checkpoint::load(&path, &state, method.as_mut())?;
                        state.step
                    }
                    None => {
                        method = method::build(&local, info, device)?;
                        method.prepare(&data, true)?;
                        0
                    }
                };
                rollbacks += 1;
                lr_scale *= t.rollback_lr_factor;
                for (_, opt) in method.optimizers() {
                    opt.lr_scale = lr_scale;
                }
                truncate_metrics(&metrics_path, to)?;
                log = Box::new(
                    std::fs::OpenOptions::new().append(true).open(&metrics_path).map_err(io_err(&metrics_path))?,
                );
                let reason = e.to_string();
                // "training stopped at step N: <what>. <what was kept> …" → "<what>"
                let reason = reason.split_once(": ").map_or(reason.as_str(), |(_, r)| r);
                let reason = reason.split(". ").next().unwrap_or(reason).to_string();
                let event = serde_json::json!({
                    "step": to,
                    "event": "rollback",
                    "diverged_at": done,
                    "reason": reason,
                    "lr_scale": lr_scale,
                    "rollback": rollbacks,
                });
                writeln!(log, "{event}").map_err(io_err(&metrics_path))?;
                if !opts.quiet {
                    bar.println(format!(
                        "diverged at step {done} ({reason}); rolled back to step {to} with the learning rates ×{lr_scale} (rollback {rollbacks} of {})",
                        t.max_rollbacks
                    ));
                }
                tripped = None;
                (t_log, step_log) = (Instant::now(), to);
                bar.set_position(to);
                step = to;
                continue;
            }
            bar.abandon();
            return Err(if rollbacks > 0 { e.after_rollbacks(rollbacks) } else { e });
        }
        if lead && t.sample_every > 0 && (done % t.sample_every == 0 || is_last) {
            let grid = samples_dir.join(format!("step-{done:07}.png"));
            method.write_grid(&fixed, &data, &grid, cfg.seed)?;
            if let Some(w) = tb.as_mut() {
                w.image_file(done, "samples", &grid)?;
                w.flush()?;
            }
            write_report = t.report;
        }
        let eval_now = lead && (is_last || (t.eval_every > 0 && done % t.eval_every == 0));
        if eval_now {
            // Evaluation seeds its own draws and uses eval mode; the next step reseeds, so a
            // resumed run is unaffected by where evaluations fell. Without a feature network
            // only the method's own figures (a classifier's test error) are computed.
            let m = match evaluator.as_ref() {
                Some(ev) => ev.evaluate(method.as_ref(), t.eval_samples, cfg.seed)?,
                None => {
                    let ctx = FigureContext {
                        data: &cfg.data,
                        device,
                        classifier: None,
                        samples: t.eval_samples,
                        seed: cfg.seed,
                        drawn: None,
                    };
                    method.figures(&ctx)?.into_iter().collect()
                }
            };
            if is_last {
                figures = m.clone();
            }
            let mut obj = serde_json::Map::new();
            obj.insert("step".into(), done.into());
            for (k, v) in m {
                if v.is_number() {
                    obj.insert(format!("eval/{k}"), v);
                }
            }
            if obj.len() > 1 {
                if let Some(w) = tb.as_mut() {
                    let scalars: Vec<(String, f64)> = obj
                        .iter()
                        .filter(|(k, _)| *k != "step")
                        .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                        .collect();
                    w.scalars(done, &scalars)?;
                    w.flush()?;
                }
                writeln!(log, "{}", serde_json::Value::Object(obj)).map_err(io_err(&metrics_path))?;
            }
        }
        if lead && (write_report || (is_last && t.report)) {
            write_report = false;
            // the page is a view of the run; failing to write it does not stop training
            if let Err(e) = crate::report::write(std::slice::from_ref(out), &out.join("report.html")) {
                bar.println(format!("note: report.html not written ({e})"));
            }
        }
        if lead && want_ckpt {
            last_ckpt =
                Some(checkpoint::save(out, method.as_mut(), state_for(done, lr_scale, rollbacks), t.keep_checkpoints)?);
        }
        bar.inc(1);
        // the ranks agree (one small collective) so that all stop after the same step
        let signal = match signals.received() {
            Some(s) => crate::dist::any(true).then_some(s),
            None if ranks > 1 => crate::dist::any(false).then_some(libc::SIGTERM),
            None => None,
        };
        if let Some(signal) = signal
            && !is_last
        {
            // the step is complete: keep it, then stop
            bar.abandon();
            let path = if !lead {
                // rank 0 keeps it
                out.join("checkpoints")
            } else if want_ckpt {
                last_ckpt.clone().expect("just written")
            } else {
                checkpoint::save(out, method.as_mut(), state_for(done, lr_scale, rollbacks), t.keep_checkpoints)?
            };
            return Err(Error::Interrupted { signal, step: done, checkpoint: path, run: out.clone() });
        }
        step = done;
    }
    bar.finish_and_clear();
    let seconds = t0.elapsed().as_secs_f64();
    let steps = total.saturating_sub(start);
    Ok(Summary {
        run: out.clone(),
        first_step: start,
        steps,
        seconds,
        steps_per_s: steps as f64 / seconds.max(1e-9),
        threads: tch::get_num_threads(),
        wait_policy: std::env::var("OMP_WAIT_POLICY").unwrap_or_else(|_| "default".into()),
        overlapped_buckets: crate::dist::group().map(|_| crate::dist::last_overlapped()),
        checkpoint: last_ckpt,
        figures,
    })
}
