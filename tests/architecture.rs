//! The library's shape: no import cycles between its files (scripts/module_cycles.py reads
//! every `use crate::…` and `super::…` path; a cycle is printed with its edges).
#[test]
fn the_file_graph_has_no_cycles() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("python3")
        .arg(root.join("scripts/module_cycles.py"))
        .output()
        .expect("python3 runs (scripts/setup.sh needs it too)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "import cycles:\n{text}");
    assert!(text.contains(" 0 cycles"), "{text}");
}
