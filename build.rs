//! Puts libtorch's `lib` folder on the binary's rpath, so `gantry` runs without the user
//! setting `LD_LIBRARY_PATH`, and compiles `csrc/ops.cpp` (ATen operators tch does not expose)
//! and `csrc/dist.cpp` (torch.distributed's TCPStore and Gloo process group) against the same
//! libtorch. torch-sys (links = "tch") exports the folder it linked against.
use std::path::PathBuf;

/// Writes `$OUT_DIR/presets.rs`: every `src/presets/*.toml`, sorted by name, embedded in the
/// binary, so that a preset is added by adding its file.
fn presets() {
    println!("cargo:rerun-if-changed=src/presets");
    let mut names: Vec<String> = std::fs::read_dir("src/presets")
        .expect("src/presets exists")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".toml").map(str::to_string))
        .collect();
    names.sort();
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let mut out = String::from("&[\n");
    for n in &names {
        println!("cargo:rerun-if-changed=src/presets/{n}.toml");
        out += &format!(
            "    Preset {{ name: {n:?}, toml: include_str!({:?}) }},\n",
            format!("{manifest}/src/presets/{n}.toml")
        );
    }
    out += "]\n";
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("presets.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

fn main() {
    presets();
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    println!("cargo:rerun-if-changed=csrc/ops.cpp");
    println!("cargo:rerun-if-changed=csrc/dist.cpp");
    let lib = PathBuf::from(std::env::var("DEP_TCH_LIBTORCH_LIB").expect("torch-sys exports DEP_TCH_LIBTORCH_LIB"));
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    // A CUDA build of libtorch registers its CUDA backend from libtorch_cuda.so, which nothing in
    // gantry names: without --no-as-needed the linker drops it and CUDA is "not available".
    println!("cargo:rustc-env=GANTRY_LIBTORCH_LIB={}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
    let root = lib.parent().expect("libtorch lib folder has a parent");
    let shim = |file: &str, lib: &str, extra: &[&str]| {
        let mut b = cc::Build::new();
        b.cpp(true)
            .pic(true)
            .warnings(false)
            .include(root.join("include"))
            .include(root.join("include/torch/csrc/api/include"))
            .include("csrc/third_party")
            .flag("-std=c++17")
            .flag("-D_GLIBCXX_USE_CXX11_ABI=1")
            .flag("-DGLOG_USE_GLOG_EXPORT");
        for f in extra {
            b.flag(f);
        }
        b.file(file).compile(lib);
    };
    shim("csrc/ops.cpp", "gantry_ops", &[]);
    // torch.distributed's Gloo process group (the wheel is built with it; csrc/third_party holds
    // the Gloo headers its header includes)
    shim("csrc/dist.cpp", "gantry_dist", &["-DUSE_C10D_GLOO"]);
}
