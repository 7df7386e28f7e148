//! The command line: clap types stay here; each command turns its flags into library calls.
use clap::{Args, Parser, Subcommand};
use gantry::config::{self, Config, Sources};
use gantry::data::unpaired::Transform;
use gantry::error::{Error, Result};
use gantry::evaluate::Features;
use gantry::method;
use gantry::sample;
use gantry::train::run::{self, RunOptions};
use gantry::viz;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "gantry", version, about = "Train, sample and evaluate generative adversarial networks")]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// CPU threads libtorch uses (default: `train.threads` when training, else OMP_NUM_THREADS,
    /// else every core). Results can differ in the last bits between thread counts.
    #[arg(long, global = true, value_name = "N")]
    threads: Option<usize>,
}

#[derive(Subcommand)]
enum Command {
    /// Train a preset (dcgan on Fashion-MNIST when no preset is given).
    Train(TrainArgs),
    /// Draw samples from a trained run.
    Sample(SampleArgs),
    /// Rows of spherical interpolations between random latents.
    Interpolate(InterpolateArgs),
    /// DCGAN latent vector arithmetic: mean z of A − B + C.
    Arithmetic(ArithmeticArgs),
    /// InfoGAN: rows = categories, columns = a sweep of one continuous code from −2 to 2.
    Traverse(TraverseArgs),
    /// Translate images with a translation run (CycleGAN, DiscoGAN, …): one PNG per input, at
    /// the input's own size, and an index.html of the pairs.
    Translate(TranslateArgs),
    /// Score a trained run's samples (or, for a translation run, its translations of the test
    /// folders), or a folder of images; prints one JSON object.
    Eval(EvalArgs),
    /// Data sets gantry makes from what is on the machine.
    #[command(subcommand)]
    Data(DataCommand),
    /// InfoGAN restarts: name the run whose categorical code agrees best with the others' on
    /// unlabelled training images (no labels used); prints one JSON object.
    Select(SelectArgs),
    /// Evaluation classifiers (the feature network of FCD, KID and the rest).
    #[command(subcommand)]
    Classifier(ClassifierCommand),
    /// Text encoders of captioned folders (the caption embeddings of text-to-image methods).
    #[command(subcommand)]
    Text(TextCommand),
    /// Attribute judges of gantry's captioned scenes (what `gantry eval` scores text-to-image
    /// samples with).
    #[command(subcommand)]
    Judge(JudgeCommand),
    /// Write a run's generator as a TorchScript module for PyTorch (`torch.jit.load`); a
    /// translation run gives one per direction (OUT-a2b.pt, OUT-b2a.pt), a text-to-image run its
    /// caption encoder beside it (OUT-text.pt).
    Export(ExportArgs),
    /// An HTML report of a run (curves, sample grids, eval results, configuration), or of
    /// several runs compared; self-contained, opened in any browser.
    Report(ReportArgs),
    /// List the presets.
    Presets,
}

#[derive(Args, Default)]
struct TrainArgs {
    /// Preset to start from (see `gantry presets`).
    #[arg(long)]
    preset: Option<String>,
    /// Training data: ring8, grid25, gaussians8, gaussians25, swissroll, fashion-mnist, a folder of
    /// MNIST-format IDX files, or a .csv/.npy file of points.
    #[arg(long)]
    data: Option<String>,
    /// Run folder.
    #[arg(long, default_value = "runs/latest")]
    out: PathBuf,
    /// Total generator updates.
    #[arg(long)]
    steps: Option<u64>,
    #[arg(long)]
    seed: Option<u64>,
    /// Semi-supervised GAN: size of the class-balanced labelled subset (semi.labels).
    #[arg(long)]
    labels: Option<i64>,
    /// Domain adaptation (CoGAN, UNIT): train a classifier head on the discriminator's shared
    /// layers with this domain's labels (`a` or `b`); eval reports the other domain's accuracy.
    #[arg(long)]
    labels_from: Option<String>,
    /// StackGAN Stage II: the Stage-I run it refines (stackgan.stage1).
    #[arg(long)]
    stage1: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long)]
    device: Option<String>,
    /// A TOML file of overrides.
    #[arg(long)]
    config: Option<PathBuf>,
    /// key=value override, e.g. --set train.g_lr=1e-4 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Continue the run in --out from its newest complete checkpoint.
    #[arg(long)]
    resume: bool,
    /// Data-parallel training on N local processes (torch.distributed's Gloo process group):
    /// each draws its share of every batch and the gradients are averaged. Under torchrun
    /// (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set) each process is one rank and this is
    /// ignored.
    #[arg(long, default_value_t = 1)]
    nproc: i64,
    /// Print the resolved configuration and exit.
    #[arg(long)]
    dry_run: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
struct SampleArgs {
    #[arg(long)]
    run: PathBuf,
    #[arg(long, default_value_t = 64)]
    n: i64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A grid PNG (images), a scatter PNG or a CSV (points).
    #[arg(long, required_unless_present_any = ["out_dir", "npy"])]
    out: Option<PathBuf>,
    /// The samples as a float32 .npy array ([n, c, h, w] in [−1, 1], or [n, d] points).
    #[arg(long)]
    npy: Option<PathBuf>,
    /// The generator inputs the samples were drawn from, as a float32 .npy array [n, input_dim]
    /// (what an exported generator's forward takes; for a text-to-image run the noise
    /// [n, noise_dim]: z, then each stage's conditioning-augmentation ε).
    #[arg(long)]
    latents_npy: Option<PathBuf>,
    /// One PNG per sample.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// For a conditional run: samples of this class only (default: one row per class). For an
    /// InfoGAN run: this category of the first categorical code (default: random categories).
    #[arg(long)]
    class: Option<i64>,
    /// Use the run's checkpoint of this step (default: its newest).
    #[arg(long)]
    step: Option<u64>,
    #[arg(long, default_value = "auto")]
    device: String,
    /// A text-to-image run: --n samples of this caption (one row; Stage-II runs show each
    /// Stage-I image beside its refinement). Repeat for more rows.
    #[arg(long, conflicts_with = "class")]
    caption: Vec<String>,
    /// A text-to-image run: a file of captions, one a line, each a row of --n samples.
    #[arg(long, conflicts_with = "class")]
    captions: Option<PathBuf>,
    #[command(flatten)]
    chain: ChainArgs,
    /// PPGN: write every N-th iteration of each chain (one chain per sample) to
    /// --out-dir/chain-NNNNN/, and their rows to --out-dir/chains.png.
    #[arg(long, requires = "out_dir", value_name = "N")]
    chain_every: Option<u64>,
}

/// A PPGN run's chain sampler: its settings (default: the run's `[ppgn]` section) and the
/// classifier it conditions on.
#[derive(Args, Default)]
struct ChainArgs {
    /// The sampler: `ppgn` (a PPGN run's chain; the only sampler of such a run).
    #[arg(long, value_parser = ["ppgn"])]
    sampler: Option<String>,
    /// PPGN: iterations of each chain.
    #[arg(long)]
    iterations: Option<u64>,
    /// PPGN: weight of the prior (the autoencoder's residual C_h(G(h)) − h); 0: no prior (DGN-AM).
    #[arg(long)]
    eps1: Option<f64>,
    /// PPGN: weight of the class's gradient ∂log p(y | G(h))/∂h.
    #[arg(long)]
    eps2: Option<f64>,
    /// PPGN: standard deviation of the noise added to each update.
    #[arg(long)]
    eps3: Option<f64>,
    /// PPGN: step size (the update is normalised to a mean absolute value of 1 first).
    #[arg(long)]
    lr: Option<f64>,
    /// PPGN: the step size at the last iteration (linear from --lr; default: --lr).
    #[arg(long)]
    lr_end: Option<f64>,
    /// PPGN, plug and play: condition on this classifier (from `gantry classifier train`)
    /// instead of the one G was trained to invert.
    #[arg(long)]
    condition: Option<PathBuf>,
}

impl ChainArgs {
    fn ask(&self) -> sample::ChainAsk {
        sample::ChainAsk {
            named: self.sampler.is_some(),
            iterations: self.iterations,
            eps1: self.eps1,
            eps2: self.eps2,
            eps3: self.eps3,
            lr: self.lr,
            lr_end: self.lr_end,
            condition: self.condition.clone(),
        }
    }
}

#[derive(Args)]
struct ReportArgs {
    /// The run to report on (default page: RUN/report.html).
    #[arg(long, conflicts_with = "runs", required_unless_present = "runs")]
    run: Option<PathBuf>,
    /// Runs to compare: curves overlaid and a table of final figures (needs --out).
    #[arg(long, num_args = 2.., requires = "out")]
    runs: Vec<PathBuf>,
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct ExportArgs {
    #[arg(long)]
    run: PathBuf,
    /// The .pt file to write.
    #[arg(long)]
    out: PathBuf,
    /// Use the run's checkpoint of this step (default: its newest).
    #[arg(long)]
    step: Option<u64>,
    /// The device the module is traced on (and loads onto by default).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// `torchscript` (any generator), or `safetensors`: plain weights with PyTorch-style names
    /// and a Python file defining the matching nn.Module.
    #[arg(long, default_value = "torchscript", value_parser = ["torchscript", "safetensors"])]
    format: String,
    /// Also trace and check every layer on its own (as export does by itself, to name the layer,
    /// when the whole generator fails), and check that the layers make up the generator.
    #[arg(long)]
    check_layers: bool,
}

#[derive(Args)]
struct InterpolateArgs {
    #[arg(long)]
    run: PathBuf,
    #[arg(long)]
    out: PathBuf,
    /// A text-to-image run: two captions walk the text from the first to the second (one row
    /// per noise draw); one caption walks the noise with the text fixed.
    #[arg(long)]
    caption: Vec<String>,
    #[arg(long, default_value_t = 8)]
    rows: i64,
    #[arg(long, default_value_t = 10)]
    cols: i64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value = "auto")]
    device: String,
}

#[derive(Args)]
struct TraverseArgs {
    #[arg(long)]
    run: PathBuf,
    #[arg(long)]
    out: PathBuf,
    /// Which continuous code to sweep.
    #[arg(long, default_value_t = 0)]
    code: i64,
    #[arg(long, default_value_t = 10)]
    cols: i64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value = "auto")]
    device: String,
}

#[derive(Args)]
struct ArithmeticArgs {
    #[arg(long)]
    run: PathBuf,
    /// Indices (comma-separated) of group A in `gantry sample --n N --seed S`'s grid.
    #[arg(long, value_delimiter = ',', required = true)]
    a: Vec<i64>,
    #[arg(long, value_delimiter = ',', required = true)]
    b: Vec<i64>,
    #[arg(long, value_delimiter = ',', required = true)]
    c: Vec<i64>,
    #[arg(long, default_value_t = 64)]
    n: i64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value = "auto")]
    device: String,
}

#[derive(Args)]
struct SelectArgs {
    /// Three or more InfoGAN run folders: restarts of one configuration with different seeds.
    #[arg(long, num_args = 1.., required = true)]
    runs: Vec<PathBuf>,
    /// Unlabelled training images each run's Q reads.
    #[arg(long, default_value_t = 2000)]
    samples: i64,
    /// Compare every run at its checkpoint of this step (default: each run's newest).
    #[arg(long)]
    step: Option<u64>,
    /// What picks the run: neighbourhood consistency of Q's categories, or agreement with the
    /// other runs.
    #[arg(long, value_enum, default_value_t = gantry::select::Criterion::Consistency)]
    by: gantry::select::Criterion,
    /// Where neighbours are found: deskewed pixels, or raw pixels.
    #[arg(long, value_enum, default_value_t = gantry::select::Space::Deskewed)]
    space: gantry::select::Space,
    /// Nearest neighbours per image for consistency.
    #[arg(long, default_value_t = 10)]
    neighbours: i64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value = "auto")]
    device: String,
}

#[derive(Args)]
struct TranslateArgs {
    #[arg(long)]
    run: PathBuf,
    /// An image file or a folder of PNG/JPEG images.
    #[arg(long)]
    input: PathBuf,
    /// Folder for the translations and index.html.
    #[arg(long)]
    out: PathBuf,
    /// a2b (domain A to B) or b2a.
    #[arg(long, default_value = "a2b")]
    direction: String,
    /// Use the run's checkpoint of this step (default: its newest).
    #[arg(long)]
    step: Option<u64>,
    #[arg(long, default_value = "auto")]
    device: String,
}

#[derive(Subcommand)]
enum DataCommand {
    /// Write a built-in two-domain set in the trainA/ trainB/ testA/ testB/ layout, or the
    /// captioned scenes `shapes-captions`.
    Make(DataMakeArgs),
    /// Write a built-in image set or an IDX folder as an image-folder tree
    /// (OUT/train/CLASS/N.png, OUT/test/CLASS/N.png) that `--data OUT` trains on identically.
    Export(DataExportArgs),
}

#[derive(Args)]
struct DataExportArgs {
    /// fashion-mnist, stacked:DATA, or a folder of MNIST-format IDX files.
    name: String,
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct DataMakeArgs {
    /// One of: digits-edges, digits-negative, fashion-edges, digits-typeset, modes5-modes10,
    /// shapes-captions (captioned scenes: train/ and test/, each images/, text/, scenes.jsonl).
    name: String,
    #[arg(long)]
    out: PathBuf,
    /// MNIST-format folder the digit sets are made from (default: ../shared/data/mnist-10k, or
    /// $GANTRY_MNIST).
    #[arg(long)]
    mnist: Option<PathBuf>,
    /// Images per domain and split at most (0: all the source has; shapes-captions: 10,000
    /// train and 1,000 test scenes).
    #[arg(long, default_value_t = 0)]
    limit: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(Subcommand)]
enum ClassifierCommand {
    /// Train the evaluation CNN on a labelled IDX folder; prints its test accuracy.
    Train(ClassifierTrainArgs),
}

#[derive(Subcommand)]
enum JudgeCommand {
    /// Train the attribute judge of a captioned set made by `gantry data make shapes-captions`
    /// at one image side; prints its test accuracies.
    Train(JudgeTrainArgs),
}

#[derive(Args)]
struct JudgeTrainArgs {
    #[arg(long)]
    data: String,
    /// The image side it reads (16, 32, 64, 128 or 256).
    #[arg(long, default_value_t = 128)]
    size: i64,
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 3000)]
    steps: u64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value = "auto")]
    device: String,
    #[arg(long)]
    quiet: bool,
}

#[derive(Subcommand)]
enum TextCommand {
    /// Train a text encoder on a captioned folder's training split (joint image–text
    /// embedding); prints its test retrieval as one JSON object.
    Train(TextTrainArgs),
    /// List the words a text encoder knows, one a line.
    Words(TextWordsArgs),
}

#[derive(Args)]
struct TextTrainArgs {
    /// A captioned folder: images/ and text/ (one caption file per image), optionally under
    /// train/ and test/.
    #[arg(long)]
    data: String,
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 3000)]
    steps: u64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value = "auto")]
    device: String,
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
struct TextWordsArgs {
    /// A file from `gantry text train`.
    #[arg(long, required_unless_present = "run", conflicts_with = "run")]
    encoder: Option<PathBuf>,
    /// A text-to-image run (its checkpointed encoder).
    #[arg(long)]
    run: Option<PathBuf>,
}

#[derive(Args)]
struct ClassifierTrainArgs {
    /// fashion-mnist or a folder of MNIST-format IDX files with train and t10k splits.
    #[arg(long)]
    data: String,
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 8)]
    epochs: u64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value = "auto")]
    device: String,
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
struct EvalArgs {
    /// A run folder (or use --images / --real with --reference).
    #[arg(long, required_unless_present_any = ["images", "real"])]
    run: Option<PathBuf>,
    /// Score real data (its training split) as if it were samples: the real-data floor.
    #[arg(long, requires = "reference", conflicts_with_all = ["run", "images"])]
    real: Option<String>,
    /// A folder of PNG/JPEG images to score instead of a run.
    #[arg(long, requires = "reference", conflicts_with = "run")]
    images: Option<PathBuf>,
    /// The data set the images are compared with (as --data of `gantry train`).
    #[arg(long)]
    reference: Option<String>,
    /// A text-to-image run: an attribute judge from `gantry judge train` (one per side; default:
    /// the cached ones of the data).
    #[arg(long)]
    judge: Vec<PathBuf>,
    /// A classifier from `gantry classifier train` (default: the cached one for the data).
    #[arg(long, conflicts_with = "weights")]
    classifier: Option<PathBuf>,
    /// Feature network: `classifier` (FCD) or `inception` (FID; needs --weights).
    #[arg(long, default_value = "classifier", value_parser = ["classifier", "inception"])]
    features: String,
    /// FID Inception weights converted by scripts/convert_inception.py.
    #[arg(long)]
    weights: Option<PathBuf>,
    #[arg(long)]
    quiet: bool,
    #[arg(long, default_value_t = 2500)]
    samples: i64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value = "auto")]
    device: String,
    /// Score the run's checkpoint of this step (default: its newest).
    #[arg(long)]
    step: Option<u64>,
    #[command(flatten)]
    chain: ChainArgs,
    /// A pair run (CoGAN, or a two-class cGAN on a two-domain folder): report pixel agreement,
    /// and fail if the data does not say which transform relates the domains.
    #[arg(long, requires = "run")]
    pixel_agreement: bool,
    /// The transform relating a pair run's domains (B = t(A)), for data without transform.txt:
    /// `edges` or `negative`.
    #[arg(long, requires = "run")]
    transform: Option<String>,
}

/// Turns `gantry train`'s flags into a configuration.
fn train_config(a: &TrainArgs) -> Result<Config> {
    let mut sets = vec![];
    if let Some(d) = &a.data {
        sets.push(format!("data.source={}", toml::Value::String(d.clone())));
    }
    if let Some(s) = a.steps {
        sets.push(format!("steps={s}"));
    }
    if let Some(s) = a.seed {
        sets.push(format!("seed={s}"));
    }
    if let Some(n) = a.labels {
        sets.push(format!("semi.labels={n}"));
    }
    if let Some(r) = &a.stage1 {
        // absolute, so that a resume from another folder finds it
        let r = std::fs::canonicalize(r).unwrap_or_else(|_| r.clone());
        sets.push(format!("stackgan.stage1={}", toml::Value::String(r.display().to_string())));
    }
    if let Some(d) = &a.device {
        sets.push(format!("device={}", toml::Value::String(d.clone())));
    }
    // Resuming without naming a preset or file continues with the run's own configuration.
    let saved = a.out.join("config.toml");
    let mut src = if a.resume && a.preset.is_none() && a.config.is_none() && saved.is_file() {
        let cfg = method::load_config(&saved)?;
        Sources { preset: Some(cfg.preset.clone()), file: Some(saved), sets: [sets, a.sets.clone()].concat() }
    } else {
        sets.extend(a.sets.iter().cloned());
        Sources { preset: a.preset.clone(), file: a.config.clone(), sets }
    };
    let cfg = method::resolve(&src)?;
    let Some(from) = &a.labels_from else { return Ok(cfg) };
    // --labels-from sets the key of the run's method that reads it
    if !["a", "b"].contains(&from.as_str()) {
        return Err(Error::Usage(format!("--labels-from `{from}` is not one of a, b")));
    }
    let sections = (method::spec(&cfg.method)?.sections)();
    if sections.get(&cfg.method).and_then(|t| t.get("labels_from")).is_none() {
        return Err(Error::Usage(format!(
            "--labels-from trains a classifier head on a weight-sharing method's discriminator (method = \"cogan\" or \"unit\"); this run is method = \"{}\"",
            cfg.method
        )));
    }
    src.sets.push(format!("{}.labels_from=\"{from}\"", cfg.method));
    method::resolve(&src)
}

/// Samples a command draws at most: 10⁶ 28 × 28 images are 3 GB in memory.
const MAX_SAMPLES: i64 = 1_000_000;

fn check_n(flag: &str, n: i64) -> Result<()> {
    if !(1..=MAX_SAMPLES).contains(&n) {
        return Err(Error::Usage(format!("{flag} must be 1 to {MAX_SAMPLES}, not {n}")));
    }
    Ok(())
}

pub fn run(cli: Cli) -> Result<()> {
    if let Some(n) = cli.threads {
        if n == 0 {
            return Err(Error::Usage("--threads must be at least 1 (omit it for the default)".into()));
        }
        gantry::threads::set(n);
    }
    match cli.command.unwrap_or(Command::Train(TrainArgs { out: "runs/latest".into(), ..Default::default() })) {
        Command::Train(a) => {
            gantry::progress::set_quiet(a.quiet);
            let cfg = train_config(&a)?;
            if cli.threads.is_none() {
                gantry::threads::set(cfg.train.threads);
            }
            if a.dry_run {
                print!("{}", cfg.to_toml());
                return Ok(());
            }
            if a.nproc < 1 {
                return Err(Error::Usage(format!("--nproc {}: give 1 or more processes", a.nproc)));
            }
            if a.nproc > 1 && gantry::dist::env()?.is_none() {
                // settings every rank would refuse are refused once, here
                run::check_ranks(&cfg, a.nproc)?;
                // the ranks share the cores unless the user chose a thread count
                let threads = if cli.threads.is_some()
                    || cfg.train.threads > 0
                    || std::env::var_os("OMP_NUM_THREADS").is_some()
                {
                    0
                } else {
                    (std::thread::available_parallelism().map_or(1, |n| n.get()) / a.nproc as usize).max(1)
                };
                return gantry::dist::launch(a.nproc, threads);
            }
            let s = run::train(&cfg, &RunOptions { out: a.out.clone(), resume: a.resume, quiet: a.quiet })?;
            if !gantry::dist::leads() {
                return Ok(());
            }
            eprintln!(
                "trained steps {}..{} in {:.1} s ({:.2} steps/s); run folder {}",
                s.first_step,
                s.first_step + s.steps,
                s.seconds,
                s.steps_per_s,
                s.run.display()
            );
            println!("{}", serde_json::to_string(&s).expect("summary serialises"));
        }
        Command::Sample(a) => {
            check_n("--n", a.n)?;
            let t = sample::load_run_at(&a.run, &a.device, a.step)?;
            if !a.caption.is_empty() || a.captions.is_some() || t.method.captions().is_some() {
                let mut caps = a.caption.clone();
                let origin = match &a.captions {
                    Some(f) => {
                        caps.extend(gantry::data::captions::read_caption_file(f)?);
                        f.display().to_string()
                    }
                    None => "--caption".into(),
                };
                if caps.is_empty() {
                    return Err(Error::Usage(format!(
                        "{} draws images from captions; give one with --caption \"…\" or a file of them with --captions FILE",
                        a.run.display()
                    )));
                }
                let sample::CaptionRows { grid, columns, last, noise } = t.caption_rows(&caps, a.n, a.seed, &origin)?;
                if let Some(out) = &a.out {
                    viz::save_grid(&grid, columns, out)?;
                }
                write_npys(&[(&a.npy, &last), (&a.latents_npy, &noise)])?;
                if let Some(dir) = &a.out_dir {
                    std::fs::create_dir_all(dir).map_err(gantry::error::io_err(dir))?;
                    for i in 0..last.size()[0] {
                        viz::save_grid(&last.narrow(0, i, 1), 1, &dir.join(format!("{i:05}.png")))?;
                    }
                }
                return Ok(());
            }
            t.use_chain(&a.chain.ask())?;
            if let Some(every) = a.chain_every {
                let dir = a.out_dir.as_ref().expect("clap requires --out-dir");
                let x = t.chains(a.n, a.seed, a.class, every, dir)?;
                if let Some(out) = &a.out {
                    sample::save_samples(&x, t.shape, 0, out)?;
                }
                write_npys(&[(&a.npy, &x)])?;
                return Ok(());
            }
            if t.method.noise().is_none()
                && let Some(p) = t.pairs()
            {
                if a.class.is_some() {
                    return Err(Error::Usage(
                        "--class: this run generates pairs, one image of each domain, and takes no class".into(),
                    ));
                }
                let z = gantry::coupled::latents(p.as_ref(), a.n, a.seed, 0);
                let (x, y) = gantry::coupled::pairs_of(p.as_ref(), &z);
                write_npys(&[(&a.npy, &tch::Tensor::stack(&[&x, &y], 0)), (&a.latents_npy, &z)])?;
                if let Some(out) = &a.out {
                    viz::save_grid(&gantry::method::cogan::pair_rows(&x, &y, 8), 8, out)?;
                }
                if let Some(dir) = &a.out_dir {
                    for (side, imgs) in [("A", &x), ("B", &y)] {
                        let d = dir.join(side);
                        std::fs::create_dir_all(&d).map_err(gantry::error::io_err(&d))?;
                        for i in 0..a.n {
                            viz::save_grid(&imgs.narrow(0, i, 1), 1, &d.join(format!("{i:05}.png")))?;
                        }
                    }
                }
                return Ok(());
            }
            let s = t.sampler()?;
            let classes = s.classes();
            // InfoGAN: --class fixes the first categorical code (a category, unlabelled)
            let categories = s.codes().and_then(|(c, _)| c.categorical.first().copied()).unwrap_or(0);
            let (count, what) = if classes > 0 { (classes, "classes") } else { (categories, "categories") };
            match a.class {
                Some(k) if t.method.chain().is_some() && !(0..classes).contains(&k) => {
                    return Err(Error::Usage(format!(
                        "--class {k} is out of range: the classifier this PPGN run samples with has classes 0 to {}",
                        classes - 1
                    )));
                }
                Some(_) if count == 0 => {
                    return Err(Error::Usage(format!(
                        "--class: {} is not a conditional run (only method = \"cgan\" and \"acgan\" runs take a class, and \"infogan\" runs a category of their first categorical code)",
                        a.run.display()
                    )));
                }
                Some(k) if !(0..count).contains(&k) => {
                    return Err(Error::Usage(format!(
                        "--class {k} is out of range: this run has {what} 0 to {}",
                        count - 1
                    )));
                }
                _ => {}
            }
            let z = t.latents_of(a.n, a.seed, a.class)?;
            let x = t.generate(&z)?;
            write_npys(&[(&a.npy, &x), (&a.latents_npy, &z)])?;
            // a conditional grid without --class has one row per class
            let ncol = if classes > 0 && a.class.is_none() { (a.n / classes).max(1) } else { 0 };
            if let Some(out) = &a.out {
                sample::save_samples(&x, t.shape, ncol, out)?;
            }
            if let Some(dir) = &a.out_dir {
                std::fs::create_dir_all(dir).map_err(gantry::error::io_err(dir))?;
                for i in 0..a.n {
                    sample::save_samples(&x.narrow(0, i, 1), t.shape, 1, &dir.join(format!("{i:05}.png")))?;
                }
            }
        }
        Command::Report(a) => {
            let runs = match &a.run {
                Some(r) => vec![r.clone()],
                None => a.runs.clone(),
            };
            let out = a.out.clone().unwrap_or_else(|| runs[0].join("report.html"));
            gantry::report::write(&runs, &out)?;
            println!("{}", serde_json::json!({ "report": out, "runs": runs }));
        }
        Command::Export(a) => {
            let t = sample::load_run_at(&a.run, &a.device, a.step)?;
            let done = if a.format == "safetensors" {
                gantry::export::plain(&t, &a.run, &a.out)?
            } else {
                gantry::export::torchscript(&t, &a.run, &a.out, a.check_layers)?
            };
            println!("{}", serde_json::to_string(&done).expect("a summary serialises"));
        }
        Command::Interpolate(a) => {
            if a.rows < 1 || a.cols < 2 {
                return Err(Error::Usage("--rows must be at least 1 and --cols at least 2".into()));
            }
            let t = sample::load_run(&a.run, &a.device)?;
            if !a.caption.is_empty() || t.method.captions().is_some() {
                let x = t.caption_interpolate(&a.caption, a.rows, a.cols, a.seed, "--caption")?;
                viz::save_grid(&x, a.cols, &a.out)?;
                return Ok(());
            }
            if t.method.noise().is_none()
                && let Some(p) = t.pairs()
            {
                // each A row followed by its B row: both domains walk the same latents
                let x = gantry::coupled::interpolate(p.as_ref(), a.rows, a.cols, a.seed);
                viz::save_grid(&x, a.cols, &a.out)?;
                return Ok(());
            }
            let x = t.interpolate(a.rows, a.cols, a.seed)?;
            sample::save_samples(&x, t.shape, a.cols, &a.out)?;
        }
        Command::Traverse(a) => {
            if a.cols < 2 {
                return Err(Error::Usage("--cols must be at least 2".into()));
            }
            let t = sample::load_run(&a.run, &a.device)?;
            let (x, cols) = t.traverse(a.code, a.cols, a.seed)?;
            sample::save_samples(&x, t.shape, cols, &a.out)?;
        }
        Command::Arithmetic(a) => {
            check_n("--n", a.n)?;
            let t = sample::load_run(&a.run, &a.device)?;
            let (x, cols) = t.arithmetic(a.n, a.seed, [&a.a, &a.b, &a.c])?;
            sample::save_samples(&x, t.shape, cols, &a.out)?;
        }
        Command::Translate(a) => {
            let dir = gantry::method::Direction::parse(&a.direction)?;
            let t = sample::load_run_at(&a.run, &a.device, a.step)?;
            let w = gantry::translate::translate_files(t.translator()?, &a.input, &a.out, dir, t.device)?;
            println!("{}", serde_json::to_string(&w).expect("a summary serialises"));
        }
        Command::Data(DataCommand::Make(a)) => {
            let o = gantry::datamake::Options { mnist: a.mnist, limit: a.limit, seed: a.seed };
            let made = gantry::datamake::make(&a.name, &a.out, &o)?;
            println!("{}", serde_json::to_string(&made).expect("a summary serialises"));
        }
        Command::Data(DataCommand::Export(a)) => {
            let done = gantry::data::folder::export(&a.name, &a.out)?;
            println!("{}", serde_json::to_string(&done).expect("a summary serialises"));
        }
        Command::Eval(a) => {
            gantry::progress::set_quiet(a.quiet);
            check_n("--samples", a.samples)?;
            if a.run.is_none() && a.chain.ask().any() {
                return Err(Error::Usage(
                    "--sampler and its settings sample a PPGN run (--run); --images and --real have none".into(),
                ));
            }
            if a.step.is_some() && a.run.is_none() {
                return Err(Error::Usage("--step picks a checkpoint of --run; --images and --real have none".into()));
            }
            let features = match (a.features.as_str(), &a.weights, &a.classifier) {
                ("inception", Some(w), _) => Features::Inception(w.clone()),
                ("inception", None, _) => {
                    return Err(Error::Usage(format!(
                        "--features inception needs --weights FILE: pytorch-fid's weights ({}) converted with scripts/convert_inception.py",
                        gantry::metrics::suite::INCEPTION_URL
                    )));
                }
                (_, _, Some(c)) => Features::Classifier(c.clone()),
                _ => Features::CachedClassifier,
            };
            if let Some(run) = &a.run {
                let t = sample::load_run_at(run, &a.device, a.step)?;
                if t.method.captions().is_some() {
                    let judges =
                        a.judge.iter().map(|f| gantry::judge::Judge::load(f, t.device)).collect::<Result<_>>()?;
                    let features = match &features {
                        Features::Inception(_) => Some(features.load(&t.cfg.data.source, t.device, a.quiet)?),
                        Features::Classifier(_) => {
                            return Err(Error::Usage(
                                "--classifier: a captioned folder has no class labels to train or check one on; a text-to-image run is scored by its captions (the judge, R-precision) and, with --features inception --weights FILE, by FID".into(),
                            ));
                        }
                        Features::CachedClassifier => None,
                    };
                    let ask = gantry::captioning::Ask { n: a.samples, seed: a.seed, quiet: a.quiet, judges, features };
                    let result = t.evaluate_captions(&ask)?;
                    if let Err(e) = gantry::report::save_eval(run, t.step, &result) {
                        eprintln!("note: the result was not saved in the run folder ({e})");
                    }
                    println!("{result}");
                    return Ok(());
                }
                if !a.judge.is_empty() {
                    return Err(Error::Usage(
                        "--judge scores a text-to-image (StackGAN) run's samples against their captions".into(),
                    ));
                }
                t.use_chain(&a.chain.ask())?;
                let transform = match &a.transform {
                    Some(name) => Some(Transform::parse(name).ok_or_else(|| {
                        Error::Usage(format!("--transform `{name}` is not one of {}", Transform::NAMES.join(", ")))
                    })?),
                    None => None,
                };
                if transform.is_some() || a.pixel_agreement {
                    let ask = gantry::coupled::Ask {
                        n: a.samples,
                        seed: a.seed,
                        transform,
                        need_agreement: true,
                        quiet: a.quiet,
                    };
                    println!("{}", t.evaluate_pairs(&ask)?);
                    return Ok(());
                }
                let result = t.evaluate(a.samples, a.seed, &features, a.quiet)?;
                // kept beside the run for `gantry report`; a read-only run folder only loses that
                if let Err(e) = gantry::report::save_eval(run, t.step, &result) {
                    eprintln!("note: the result was not saved in the run folder ({e})");
                }
                println!("{result}");
            } else if let Some(reference) = &a.reference {
                let device = config::parse_device(&a.device)?;
                let net = features.load(reference, device, a.quiet)?;
                let channels = match &net {
                    gantry::metrics::suite::FeatureNet::Classifier(c) => c.meta.channels,
                    gantry::metrics::suite::FeatureNet::Inception(_) => 3,
                };
                let fake = match (&a.images, &a.real) {
                    (Some(dir), _) => gantry::imagefolder::read(dir, channels)?,
                    (None, Some(real)) => {
                        let cfg = gantry::data::DataConfig { source: real.clone(), ..Default::default() };
                        gantry::data::Dataset::load(&cfg, device)?.reference(a.samples, a.seed + 1)
                    }
                    (None, None) => unreachable!("clap requires --run, --images or --real"),
                };
                let data = gantry::data::DataConfig { source: reference.clone(), ..Default::default() };
                let real = gantry::evaluate::reference_images(&data, fake.size()[0], a.seed, device)?;
                let r = gantry::metrics::suite::Reference::new(&net, &real);
                let m = gantry::metrics::suite::image_metrics(&net, &fake.to_device(device), &r, a.seed)?;
                println!("{}", serde_json::Value::Object(m));
            }
        }
        Command::Select(a) => {
            check_n("--samples", a.samples)?;
            let o = gantry::select::Options {
                samples: a.samples,
                seed: a.seed,
                device: a.device,
                step: a.step,
                by: a.by,
                space: a.space,
                neighbours: a.neighbours,
            };
            let s = gantry::select::select(&a.runs, &o)?;
            println!("{}", serde_json::to_string(&s).expect("a selection serialises"));
        }
        Command::Classifier(ClassifierCommand::Train(a)) => {
            gantry::progress::set_quiet(a.quiet);
            let device = config::parse_device(&a.device)?;
            let opts = gantry::classifier::TrainOptions {
                epochs: a.epochs,
                seed: a.seed,
                quiet: a.quiet,
                ..Default::default()
            };
            let c = gantry::classifier::Classifier::train(&a.data, &opts, device)?;
            c.save(&a.out)?;
            println!(
                "{}",
                serde_json::json!({ "test_accuracy": c.meta.test_accuracy, "path": a.out, "feature_network": c.identity, "data": c.meta.data })
            );
        }
        Command::Text(TextCommand::Train(a)) => {
            gantry::progress::set_quiet(a.quiet);
            let device = config::parse_device(&a.device)?;
            let opts =
                gantry::text::TrainOptions { steps: a.steps, seed: a.seed, quiet: a.quiet, ..Default::default() };
            let e = gantry::text::TextEncoder::train(&a.data, &opts, device)?;
            e.save(&a.out)?;
            let m = &e.meta;
            println!(
                "{}",
                serde_json::json!({ "path": a.out, "text_encoder": e.identity, "data": m.data, "words": m.vocab.len(),
                    "text_to_image_r1": m.text_to_image_r1, "text_to_image_r5": m.text_to_image_r5, "test_images": m.test_images })
            );
        }
        Command::Judge(JudgeCommand::Train(a)) => {
            gantry::progress::set_quiet(a.quiet);
            let device = config::parse_device(&a.device)?;
            let j = gantry::judge::Judge::train(&a.data, a.size, a.steps, a.seed, a.quiet, device)?;
            j.save(&a.out)?;
            println!(
                "{}",
                serde_json::json!({ "path": a.out, "judge": j.identity, "size": a.size, "test": j.meta.test })
            );
        }
        Command::Text(TextCommand::Words(a)) => {
            let vocab = match (&a.encoder, &a.run) {
                (Some(f), _) => gantry::text::TextEncoder::load(f, tch::Device::Cpu)?.meta.vocab,
                (None, Some(r)) => sample::load_run(r, "cpu")?.caption_sampler()?.encoder().meta.vocab.clone(),
                (None, None) => unreachable!("clap requires one"),
            };
            for w in &vocab {
                println!("{w}");
            }
        }
        Command::Presets => {
            for p in config::PRESETS {
                println!("{:<20} {}", p.name, config::preset_description(p));
            }
        }
    }
    Ok(())
}

/// Writes each tensor whose path was given as a float32 .npy file.
fn write_npys(files: &[(&Option<PathBuf>, &tch::Tensor)]) -> Result<()> {
    for (path, v) in files {
        if let Some(path) = path {
            v.to_device(tch::Device::Cpu)
                .write_npy(path)
                .map_err(|e| Error::Usage(format!("cannot write {} ({e})", path.display())))?;
        }
    }
    Ok(())
}
