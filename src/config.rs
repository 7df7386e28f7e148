//! Typed configuration, generic over methods: the keys every run has (seed, steps, device,
//! method, `[data]` and `[train]`, each defined by the module that reads it) and the sections of
//! the run's method (`[model]`, `[objective]`, `[infogan]`, `[cyclegan]`, …), whose defaults and
//! checks live in the method's own file and reach this module through a `Registry`. Presets are
//! TOML files embedded in the binary that hold only their differences, then a user TOML file and
//! `--set key=value` overrides go on top. Every overlay is checked against the defaults' keys
//! and types, so an unknown or mistyped key — including a key of another method's section — is
//! refused with the list of valid ones.
use crate::data::DataConfig;
use crate::error::{Error, Result};
use crate::train::TrainConfig;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use toml::{Table, Value};

/// A whole run's settings; `config.toml` in a run folder is this, serialised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The preset this configuration started from.
    pub preset: String,
    /// One line saying what the preset trains.
    pub description: String,
    /// Seed of every random draw of the run (weights, batches, noise).
    pub seed: u64,
    /// Total number of generator updates.
    pub steps: u64,
    /// `auto`, `cpu`, `cuda` or `cuda:N`.
    pub device: String,
    /// The training method, by its registry name (`gan`, `cgan`, `acgan`, `infogan`, `semi`,
    /// `cyclegan`, …; `gantry presets` shows them).
    pub method: String,
    pub data: DataConfig,
    pub train: TrainConfig,
    /// The method's own sections, checked against its defaults; read them with `section`.
    #[serde(flatten)]
    pub sections: Table,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            preset: "dcgan".into(),
            description: String::new(),
            seed: 0,
            steps: 2000,
            device: "auto".into(),
            method: "gan".into(),
            data: DataConfig::default(),
            train: TrainConfig::default(),
            sections: Table::new(),
        }
    }
}

/// What the configuration needs to know of the methods, given by `method::REGISTRY`.
pub struct Registry {
    /// The sections a method reads beside `[data]` and `[train]`, with their defaults; an error
    /// names the known methods.
    pub sections: fn(&str) -> Result<Table>,
    /// The method that owns a section, for the message when another method's key is set.
    pub owner: fn(&str) -> Option<&'static str>,
}

type Hint<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// A preset: its name and its TOML (differences from the defaults only).
pub struct Preset {
    pub name: &'static str,
    pub toml: &'static str,
}

/// Every preset shipped in the binary: the files of `src/presets/`, listed by build.rs.
pub const PRESETS: &[Preset] = include!(concat!(env!("OUT_DIR"), "/presets.rs"));

pub fn preset(name: &str) -> Result<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name).ok_or_else(|| {
        let names: Vec<_> = PRESETS.iter().map(|p| p.name).collect();
        Error::Config(format!("unknown preset `{name}`; the presets are: {} (see `gantry presets`)", names.join(", ")))
    })
}

/// The one-line description of a preset.
pub fn preset_description(p: &Preset) -> String {
    let v: Value = toml::from_str(p.toml).expect("embedded preset parses");
    v.get("description").and_then(Value::as_str).unwrap_or("").to_string()
}

/// Keys that moved from the shared sections into a method's own, as (old section, old key,
/// method, new key). A run folder written before the move still loads: its old keys are moved
/// when the key belongs to the run's method and dropped otherwise (they had no effect).
const MOVED: &[(&str, &str, &str, &str)] = &[
    ("model", "categorical_codes", "infogan", "categorical_codes"),
    ("model", "continuous_codes", "infogan", "continuous_codes"),
    ("model", "q_hidden", "infogan", "q_hidden"),
    ("objective", "info_weight", "infogan", "weight"),
    ("objective", "info_continuous_weight", "infogan", "continuous_weight"),
    ("model", "d_input_noise", "semi", "d_input_noise"),
    ("model", "d_hidden_noise", "semi", "d_hidden_noise"),
    ("objective", "unlabeled_weight", "semi", "unlabeled_weight"),
    ("data", "labels", "semi", "labels"),
];

/// Lines left out of the hash, so that runs of an older gantry keep theirs: `[train]` keys that
/// only act once a run diverges or that choose outputs beside the run, and keys added since
/// whose default changes nothing (matched with that value).
const UNHASHED_LINES: [&str; 14] = [
    "on_divergence = ",
    "rollback_lr_factor = ",
    "max_rollbacks = ",
    "report = ",
    "tensorboard = ",
    "skip_bad = false",
    "precision = \"fp32\"",
    "threads = ",
    "dist_timeout = ",
    "dist_bucket_mb = ",
    "batch_per_rank = 0",
    "sync_bn = false",
    // began.arch's default (no other section has an `arch` of "paper")
    "arch = \"paper\"",
    // stackgan.uncond_logit's default (no other section has the key)
    "uncond_logit = false",
];

/// Rewrites a configuration file of an older gantry (keys of `MOVED`) into today's layout.
fn migrate(v: &mut Value) {
    let method = v.get("method").and_then(Value::as_str).unwrap_or("gan").to_string();
    let Some(t) = v.as_table_mut() else { return };
    for (section, key, owner, new_key) in MOVED {
        let Some(old) = t.get_mut(*section).and_then(Value::as_table_mut).and_then(|s| s.remove(*key)) else {
            continue;
        };
        if method == *owner {
            let dest = t.entry(owner.to_string()).or_insert_with(|| Value::Table(Table::new()));
            if let Some(d) = dest.as_table_mut() {
                d.entry(new_key.to_string()).or_insert(old);
            }
        }
    }
}

/// The method a stack of overlays names (the last one that names it wins).
fn method_of(layers: &[&Value]) -> String {
    layers.iter().rev().find_map(|v| v.get("method").and_then(Value::as_str)).unwrap_or("gan").to_string()
}

/// Where a configuration comes from: preset, then file, then `--set` pairs, in that order.
#[derive(Default, Clone, Debug)]
pub struct Sources {
    pub preset: Option<String>,
    pub file: Option<std::path::PathBuf>,
    pub sets: Vec<String>,
}

impl Config {
    /// Resolves a configuration from its sources: the method's defaults, then the preset, file
    /// and `--set` pairs. Values are not checked here; `method::resolve` checks them.
    pub fn resolve_with(src: &Sources, reg: &Registry) -> Result<Config> {
        let name = src.preset.as_deref().unwrap_or("dcgan");
        let p = preset(name)?;
        let pv: Value = toml::from_str(p.toml).expect("embedded preset parses");
        let fv = match &src.file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(crate::error::io_err(path))?;
                let mut fv: Value =
                    toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
                migrate(&mut fv);
                Some((path.display().to_string(), fv))
            }
            None => None,
        };
        let sets: Vec<(String, Value)> =
            src.sets.iter().map(|kv| Ok((format!("--set {kv}"), parse_set(kv)?))).collect::<Result<_>>()?;
        let mut layers = vec![&pv];
        layers.extend(fv.iter().map(|(_, v)| v));
        layers.extend(sets.iter().map(|(_, v)| v));
        let method = method_of(&layers);
        let mut v = base(&method, reg)?;
        let hint = hinter(&method, reg);
        overlay(&mut v, &pv, &format!("preset `{name}`"), "", &hint)?;
        if let Some((origin, fv)) = &fv {
            overlay(&mut v, fv, origin, "", &hint)?;
        }
        for (origin, sv) in &sets {
            overlay(&mut v, sv, origin, "", &hint)?;
        }
        v.as_table_mut().expect("table").insert("preset".into(), Value::String(name.into()));
        Config::from_value(v)
    }

    /// Reads a run's `config.toml` (of this or an older gantry), unchecked.
    pub fn load_with(path: &std::path::Path, reg: &Registry) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(crate::error::io_err(path))?;
        let mut v: Value = toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        migrate(&mut v);
        let method = method_of(&[&v]);
        let mut base = base(&method, reg)?;
        overlay(&mut base, &v, &path.display().to_string(), "", &hinter(&method, reg))?;
        Config::from_value(base)
    }

    fn from_value(v: Value) -> Result<Config> {
        let text = toml::to_string(&v).expect("value serialises");
        toml::from_str(&text).map_err(|e| Error::Config(e.to_string()))
    }

    /// The method's section `name`, typed.
    pub fn section<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        let v = self.sections.get(name).cloned().unwrap_or(Value::Table(Table::new()));
        v.try_into().map_err(|e| Error::Config(format!("[{name}]: {e}")))
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serialises")
    }

    /// Checks the keys every run has; `two_domains` says whether the method reads a two-domain
    /// folder. The method's own sections are checked by the method.
    pub fn check_common(&self, two_domains: bool) -> Result<()> {
        if self.steps == 0 {
            return Err(Error::Config("`steps` (--steps) must be at least 1".into()));
        }
        self.data.check(two_domains)?;
        self.train.check()?;
        self.device()?;
        Ok(())
    }

    /// Refuses `[data]` and `[train]` keys that the method does not read when they differ from
    /// their defaults: `keys` are their names (`train.critic_steps`), `why` what the method does
    /// instead.
    pub fn refuse_unread(&self, keys: &[&str], why: &str) -> Result<()> {
        let base = Config { data: DataConfig::default(), train: TrainConfig::default(), ..Config::default() };
        let (a, b) = (Value::try_from(self).expect("serialises"), Value::try_from(&base).expect("serialises"));
        for key in keys {
            let get = |v: &Value| key.split('.').try_fold(v.clone(), |v, k| v.get(k).cloned());
            if get(&a) != get(&b) {
                return Err(Error::Config(format!(
                    "`{key}` does not apply to method = \"{}\": {why}; leave it at its default",
                    self.method
                )));
            }
        }
        Ok(())
    }

    /// The device named by `device`.
    pub fn device(&self) -> Result<tch::Device> {
        parse_device(&self.device)
    }

    /// Hash of everything that determines the weights; the cadence of logging, sampling and
    /// checkpointing, the step count and the device may change on resume.
    pub fn hash(&self) -> String {
        let mut c = self.clone();
        c.steps = 0;
        c.device = String::new();
        c.description = String::new();
        c.train.log_every = 0;
        c.train.sample_every = 0;
        c.train.checkpoint_every = 0;
        c.train.keep_checkpoints = 0;
        c.train.grid_samples = 0;
        c.train.eval_every = 0;
        c.train.eval_samples = 0;
        c.train.classifier = String::new();
        c.train.deterministic = true;
        c.train.divergence_bound = 0.0;
        // a method's `sampler` sub-table holds how its samples are drawn, not how it trains
        for (_, section) in c.sections.iter_mut() {
            if let Some(t) = section.as_table_mut() {
                t.remove("sampler");
            }
        }
        // keys added after the hash was defined that it leaves out, dropped from the text so
        // that runs written before them keep their hash
        let text: String = c
            .to_toml()
            .lines()
            .filter(|l| !UNHASHED_LINES.iter().any(|k| l.starts_with(k)))
            .map(|l| format!("{l}\n"))
            .collect();
        let digest = Sha256::digest(text.as_bytes());
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// Keys whose values differ between two configurations, for resume errors.
    pub fn differences(&self, other: &Config) -> Vec<String> {
        let a = Value::try_from(self).expect("serialises");
        let b = Value::try_from(other).expect("serialises");
        let mut out = vec![];
        diff_values(&a, &b, "", &mut out);
        out
    }
}

/// The defaults of a run of `method`: the common keys and the method's sections.
fn base(method: &str, reg: &Registry) -> Result<Value> {
    let mut v = Value::try_from(Config { method: method.into(), ..Config::default() }).expect("defaults serialise");
    let t = v.as_table_mut().expect("table");
    for (k, s) in (reg.sections)(method)? {
        t.insert(k, s);
    }
    Ok(v)
}

/// Explains an unknown key that belongs to another method, or that moved.
fn hinter<'a>(method: &'a str, reg: &'a Registry) -> impl Fn(&str) -> Option<String> + 'a {
    move |path: &str| {
        let mut parts = path.splitn(2, '.');
        let (section, key) = (parts.next()?, parts.next());
        if let Some((s, k, owner, new_key)) = MOVED.iter().find(|(s, k, _, _)| Some(*k) == key && *s == section) {
            let _ = (s, k);
            return Some(format!(
                "it is now `{owner}.{new_key}`, a key of method = \"{owner}\" (this run's method is \"{method}\")"
            ));
        }
        let owner = (reg.owner)(section)?;
        (owner != method).then(|| {
            format!(
                "[{section}] is a section of method = \"{owner}\"; this run's method is \"{method}\", whose sections are: data, train{}",
                (reg.sections)(method).map(|t| t.keys().map(|k| format!(", {k}")).collect::<String>()).unwrap_or_default()
            )
        })
    }
}

/// Overlays `over` onto `base`, refusing keys that `base` lacks and values whose type differs.
/// `origin` names where the overlay came from, for the message.
fn overlay(base: &mut Value, over: &Value, origin: &str, prefix: &str, hint: &Hint) -> Result<()> {
    let (Value::Table(bt), Value::Table(ot)) = (&mut *base, over) else {
        unreachable!("overlay is only called on tables")
    };
    for (key, val) in ot {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        let Some(slot) = bt.get_mut(key) else {
            let mut valid: Vec<_> = bt.keys().cloned().collect();
            valid.sort();
            if let Some(h) = hint(&path) {
                return Err(Error::Config(format!("unknown key `{path}` in {origin}: {h}")));
            }
            return Err(Error::Config(format!(
                "unknown key `{path}` in {origin}; valid keys{}: {}",
                if prefix.is_empty() { String::new() } else { format!(" in [{prefix}]") },
                valid.join(", ")
            )));
        };
        let non_finite = match val {
            Value::Float(f) => !f.is_finite(),
            Value::Array(items) => items.iter().any(|v| v.as_float().is_some_and(|f| !f.is_finite())),
            _ => false,
        };
        if non_finite {
            return Err(Error::Config(format!(
                "`{path}` in {origin} is {val}; every number in a configuration must be finite"
            )));
        }
        match (&mut *slot, val) {
            (Value::Table(_), Value::Table(_)) => overlay(slot, val, origin, &path, hint)?,
            (Value::Float(_), Value::Integer(i)) => *slot = Value::Float(*i as f64),
            (Value::Array(_), Value::Array(items)) => {
                let elem_float = slot.as_array().and_then(|a| a.first()).is_some_and(Value::is_float);
                let items = items
                    .iter()
                    .map(|v| match v {
                        Value::Integer(i) if elem_float => Value::Float(*i as f64),
                        other => other.clone(),
                    })
                    .collect();
                *slot = Value::Array(items);
            }
            (s, v) if s.type_str() == v.type_str() => *s = v.clone(),
            (s, v) => {
                return Err(Error::Config(format!(
                    "`{path}` in {origin} must be a {}, not a {} ({v})",
                    s.type_str(),
                    v.type_str()
                )));
            }
        }
    }
    Ok(())
}

/// Parses `key=value`; a value that is not TOML (an unquoted word) is taken as a string.
fn parse_set(kv: &str) -> Result<Value> {
    let (key, raw) = kv
        .split_once('=')
        .ok_or_else(|| Error::Config(format!("--set `{kv}` must have the form key=value, e.g. train.g_lr=1e-4")))?;
    let key = key.trim();
    let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").expect("parsed key"),
        Err(_) => Value::String(raw.to_string()),
    };
    let mut v = value;
    for part in key.rsplit('.') {
        if part.is_empty() {
            return Err(Error::Config(format!("--set `{kv}`: empty key segment")));
        }
        let mut t = toml::Table::new();
        t.insert(part.to_string(), v);
        v = Value::Table(t);
    }
    Ok(v)
}

fn diff_values(a: &Value, b: &Value, prefix: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Table(ta), Value::Table(tb)) => {
            for (k, va) in ta {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                match tb.get(k) {
                    Some(vb) => diff_values(va, vb, &path, out),
                    None => out.push(path),
                }
            }
        }
        _ if a != b => out.push(format!("{prefix} ({a} vs {b})")),
        _ => {}
    }
}

/// Parses `auto`, `cpu`, `cuda` or `cuda:N`.
pub fn parse_device(s: &str) -> Result<tch::Device> {
    let cuda_n = |n: usize| {
        if tch::Cuda::is_available() && n < tch::Cuda::device_count() as usize {
            Ok(tch::Device::Cuda(n))
        } else {
            Err(Error::Config(format!(
                "device `{s}` is not available here ({} CUDA devices); use `cpu` or `auto`",
                if tch::Cuda::is_available() { tch::Cuda::device_count() } else { 0 }
            )))
        }
    };
    match s {
        "auto" => Ok(tch::Device::cuda_if_available()),
        "cpu" => Ok(tch::Device::Cpu),
        "cuda" => cuda_n(0),
        _ => match s.strip_prefix("cuda:").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => cuda_n(n),
            None => Err(Error::Config(format!("device `{s}` is not one of auto, cpu, cuda, cuda:N"))),
        },
    }
}
