//! Every loader fuzzed: valid files of each format, mutated by proptest (bytes overwritten,
//! header fields set to extreme sizes, truncated, extended), fed to the loader that reads them.
//! None may panic, and none may make one allocation larger than a bound proportional to the
//! input (images: the decoder's cap), which a counting allocator checks.
//!
//! Each loader runs for a fixed time from a fixed seed: `GANTRY_FUZZ_SECONDS` (default 2) each;
//! `GANTRY_FAULT_REPORT=DIR` writes the figures there as JSON (`bench/faults.py` runs this with a
//! longer budget and records them in docs/benchmarks.md).
use gantry::data::{idx, points, unpaired};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// The system allocator, noting the largest single request of each thread.
struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|c| {
        if size > c.get() {
            c.set(size)
        }
    });
}

// SAFETY: forwards every call to the system allocator unchanged; only records sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note(l.size());
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note(l.size());
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        note(new);
        unsafe { System.realloc(p, l, new) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Changes applied to a valid file.
#[derive(Debug, Clone)]
enum Edit {
    /// Overwrite one byte.
    Byte(prop::sample::Index, u8),
    /// Overwrite four bytes with an extreme size, big- or little-endian (IDX dimensions, npy and
    /// safetensors header lengths, image sizes).
    Size(prop::sample::Index, u32, bool),
    /// Cut the file here.
    Truncate(prop::sample::Index),
    /// Insert bytes here.
    Insert(prop::sample::Index, Vec<u8>),
}

fn edit() -> impl Strategy<Value = Edit> {
    let sizes = prop::sample::select(vec![0u32, 1, 2, 255, 65_535, 16_385, 0x7fff_ffff, 0x8000_0000, u32::MAX]);
    prop_oneof![
        4 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Byte(i, b)),
        2 => (any::<prop::sample::Index>(), sizes, any::<bool>()).prop_map(|(i, v, be)| Edit::Size(i, v, be)),
        1 => any::<prop::sample::Index>().prop_map(Edit::Truncate),
        1 => (any::<prop::sample::Index>(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(i, v)| Edit::Insert(i, v)),
    ]
}

/// A seed file (one of `seeds`) with up to six edits, early bytes (headers) favoured.
fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    (0..n, prop::collection::vec(edit(), 0..6), any::<bool>()).prop_map(move |(k, edits, header)| {
        let mut b = seeds[k].clone();
        for e in edits {
            if b.is_empty() {
                break;
            }
            // half the edits land in the first 64 bytes, where the headers are
            let at = |i: &prop::sample::Index, len: usize| if header { i.index(len.min(64)) } else { i.index(len) };
            match e {
                Edit::Byte(i, v) => {
                    let j = at(&i, b.len());
                    b[j] = v;
                }
                Edit::Size(i, v, be) => {
                    let j = at(&i, b.len());
                    let bytes = if be { v.to_be_bytes() } else { v.to_le_bytes() };
                    for (k, x) in bytes.iter().enumerate() {
                        if let Some(slot) = b.get_mut(j + k) {
                            *slot = *x;
                        }
                    }
                }
                Edit::Truncate(i) => b.truncate(at(&i, b.len())),
                Edit::Insert(i, v) => {
                    let j = at(&i, b.len());
                    b.splice(j..j, v);
                }
            }
        }
        b
    })
}

thread_local! {
    /// Set while this thread feeds a loader, whose panics are counted rather than printed.
    static FUZZING: Cell<bool> = const { Cell::new(false) };
}

/// A panic hook that stays silent in fuzzing threads and prints as usual elsewhere.
fn quiet_panics_while_fuzzing() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !FUZZING.with(|c| c.get()) {
                default(info)
            }
        }));
    });
}

/// What one loader's fuzzing found.
#[derive(Default, Debug, serde::Serialize)]
struct Figures {
    loader: String,
    cases: u64,
    accepted: u64,
    refused: u64,
    panics: u64,
    over_bound: u64,
    seconds: f64,
    /// The largest single allocation seen, in bytes.
    largest_bytes: usize,
    failures: Vec<String>,
}

fn budget() -> Duration {
    let s = std::env::var("GANTRY_FUZZ_SECONDS").ok().and_then(|v| v.parse::<f64>().ok()).unwrap_or(2.0);
    Duration::from_secs_f64(s)
}

/// Feeds `strategy`'s inputs to `load` for the time budget, from a fixed seed. `bound(len)` is
/// the largest single allocation allowed for an input of `len` bytes.
fn fuzz<T: std::fmt::Debug>(
    name: &str,
    strategy: impl Strategy<Value = Vec<u8>>,
    bound: impl Fn(usize) -> usize,
    load: impl Fn(&[u8]) -> Result<T, String>,
) {
    let mut runner = TestRunner::deterministic();
    let mut f = Figures { loader: name.into(), ..Default::default() };
    let t0 = Instant::now();
    quiet_panics_while_fuzzing();
    FUZZING.with(|c| c.set(true));
    while t0.elapsed() < budget() {
        let input = strategy.new_tree(&mut runner).expect("strategy").current();
        LARGEST.with(|c| c.set(0));
        let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load(&input)));
        let largest = LARGEST.with(|c| c.get());
        f.cases += 1;
        f.largest_bytes = f.largest_bytes.max(largest);
        let head: String = input.iter().take(24).map(|b| format!("{b:02x}")).collect();
        match got {
            Ok(Ok(_)) => f.accepted += 1,
            Ok(Err(_)) => f.refused += 1,
            Err(p) => {
                f.panics += 1;
                let msg =
                    p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
                f.failures.push(format!("panic {msg:?} on {} bytes starting {head}", input.len()));
            }
        }
        if largest > bound(input.len()) {
            f.over_bound += 1;
            f.failures.push(format!("allocated {largest} bytes at once for {} bytes starting {head}", input.len()));
        }
    }
    FUZZING.with(|c| c.set(false));
    f.seconds = t0.elapsed().as_secs_f64();
    if let Ok(dir) = std::env::var("GANTRY_FAULT_REPORT") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(Path::new(&dir).join(format!("fuzz-{name}.json")), serde_json::to_string_pretty(&f).unwrap())
            .unwrap();
    }
    eprintln!("{name}: {} cases ({} accepted, {} refused) in {:.1} s", f.cases, f.accepted, f.refused, f.seconds);
    f.failures.truncate(5);
    assert!(f.cases > 0);
    assert_eq!((f.panics, f.over_bound), (0, 0), "{name}: {:#?}", f.failures);
}

/// Up to 64 bytes per input byte and 1 MiB besides: what parsing a small file may take.
fn linear(len: usize) -> usize {
    64 * len + (1 << 20)
}

fn lcg_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 33) as u8
        })
        .collect()
}

fn idx_seeds() -> Vec<Vec<u8>> {
    vec![
        idx::encode(&[3, 4, 4], &lcg_bytes(48, 1)),
        idx::encode(&[10], &lcg_bytes(10, 2)),
        idx::encode(&[2, 28, 28], &lcg_bytes(2 * 784, 3)),
    ]
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn idx_files() {
    fuzz("idx", mutated(idx_seeds()), linear, |b| {
        idx::parse(b, 3).map(|a| a.data.len()).or_else(|_| idx::parse(b, 1).map(|a| a.data.len()))
    });
}

#[test]
fn gzipped_idx_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x-images-idx3-ubyte.gz");
    // the gzip stream itself mutated, and valid gzip of mutated IDX bytes
    let seeds: Vec<Vec<u8>> = idx_seeds().iter().map(|s| gz(s)).collect();
    let strategy = prop_oneof![mutated(seeds), mutated(idx_seeds()).prop_map(|b| gz(&b))];
    // a valid stream inflates to what its header claims; the seeds are small, so that is bounded
    // by the mutated header's sizes, which the IDX cap limits for anything larger
    fuzz(
        "idx-gz",
        strategy,
        |len| linear(len) + (1 << 22),
        |b| {
            std::fs::write(&path, b).unwrap();
            idx::read(&path, 3).map(|a| a.data.len()).map_err(|e| e.to_string())
        },
    );
}

fn npy(shape: &str, descr: &str, body: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(header.len() as u16).to_le_bytes());
    b.extend_from_slice(header.as_bytes());
    b.extend_from_slice(body);
    b
}

#[test]
fn npy_files() {
    let f32s: Vec<u8> = (0..8).flat_map(|i| (i as f32 * 0.5).to_le_bytes()).collect();
    let f64s: Vec<u8> = (0..6).flat_map(|i| (i as f64 - 2.0).to_le_bytes()).collect();
    let seeds = vec![npy("(4, 2)", "<f4", &f32s), npy("(3, 2)", "<f8", &f64s), npy("(8,)", "<f4", &f32s)];
    fuzz("npy", mutated(seeds), linear, |b| points::parse_npy(b).map(|p| p.n));
}

#[test]
fn csv_point_files() {
    let seeds = vec![
        b"x,y\n0.5,1.0\n-2,3e-2\n4,5\n".to_vec(),
        b"\xef\xbb\xbf1,2,3\n4,5,6\n".to_vec(),
        b"1.5\n2.5\n\n3.5\n".to_vec(),
    ];
    fuzz("csv", mutated(seeds), linear, |b| points::parse_csv(&String::from_utf8_lossy(b)).map(|p| p.n));
}

#[test]
fn label_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labelsA.csv");
    let seeds = vec![b"file,label\ntrainA/0001.png,3\ntestA/x.png,0\n".to_vec(), b"a.png,1\nb.png,9\n".to_vec()];
    fuzz("labels-csv", mutated(seeds), linear, |b| {
        std::fs::write(&path, b).unwrap();
        unpaired::read_labels(&path).map(|m| m.map_or(0, |m| m.len())).map_err(|e| e.to_string())
    });
}

fn png(w: u32, h: u32, colour: bool) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let raw = lcg_bytes((w * h * if colour { 3 } else { 1 }) as usize, w as u64 * 31 + h as u64);
    if colour {
        image::RgbImage::from_raw(w, h, raw).unwrap().write_to(&mut out, image::ImageFormat::Png).unwrap();
    } else {
        image::GrayImage::from_raw(w, h, raw).unwrap().write_to(&mut out, image::ImageFormat::Png).unwrap();
    }
    out.into_inner()
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let raw = lcg_bytes((w * h * 3) as usize, 7);
    image::RgbImage::from_raw(w, h, raw).unwrap().write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// The decoder's own cap (512 MiB) and the decoded copy: what any image may take.
fn image_bound(_: usize) -> usize {
    (1 << 29) + (1 << 28)
}

#[test]
fn png_and_jpeg_images() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = vec![png(8, 6, false), png(5, 7, true), jpeg(16, 8)];
    fuzz("images", mutated(seeds), image_bound, |b| {
        // the folder reader guesses the format from the bytes; the name only selects the file
        let p = dir.path().join("x.png");
        std::fs::write(&p, b).unwrap();
        unpaired::decode(&p, 3).map(|(raw, _, _)| raw.len()).map_err(|e| e.to_string())
    });
}

#[test]
fn image_folders() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("imgs");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("a.png"), png(8, 8, false)).unwrap();
    let seeds = vec![png(8, 8, false), png(8, 8, true), jpeg(8, 8)];
    fuzz("image-folder", mutated(seeds), image_bound, |b| {
        std::fs::write(folder.join("b.jpg"), b).unwrap();
        gantry::imagefolder::read(&folder, 1).map(|t| t.size()).map_err(|e| e.to_string())
    });
}

#[test]
fn safetensors_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.safetensors");
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let _ = vs.root().sub("fc").var("weight", &[3, 4], tch::nn::Init::Const(0.5));
    let _ = vs.root().sub("fc").var("bias", &[3], tch::nn::Init::Const(0.0));
    let seed = |kind: tch::Kind| {
        let tensors: Vec<(String, tch::Tensor)> =
            gantry::train::checkpoint::named_variables(&vs).into_iter().map(|(n, t)| (n, t.to_kind(kind))).collect();
        tch::Tensor::write_safetensors(&tensors, &path).unwrap();
        std::fs::read(&path).unwrap()
    };
    let seeds = vec![seed(tch::Kind::Float), seed(tch::Kind::Double), seed(tch::Kind::Int)];
    fuzz("safetensors", mutated(seeds), linear, |b| {
        std::fs::write(&path, b).unwrap();
        gantry::train::checkpoint::load_store(&vs, &path).map_err(|e| e.to_string())
    });
}

#[test]
fn config_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.toml");
    let seeds = vec![
        b"[train]\ng_lr = 1e-4\ncritic_steps = 5\n[objective]\nloss = \"wasserstein\"\ngp_weight = 10.0\n".to_vec(),
        b"method = \"cyclegan\"\nsteps = 100\n[data]\nbatch_size = 4\n[cyclegan]\ncycle_weight = 10.0\n".to_vec(),
        b"[model]\nlatent_dim = 100\n[data]\nsource = \"ring8\"\n".to_vec(),
    ];
    fuzz("config-toml", mutated(seeds), linear, |b| {
        std::fs::write(&path, b).unwrap();
        let src = gantry::config::Sources { preset: Some("dcgan".into()), file: Some(path.clone()), sets: vec![] };
        gantry::method::resolve(&src).map(|c| c.steps).map_err(|e| e.to_string())
    });
}
