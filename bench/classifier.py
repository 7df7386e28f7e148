"""Accuracy of gantry's evaluation classifier (the feature network of FCD, KID, precision/recall):
`gantry classifier train` on Fashion-MNIST and on the MNIST-10k subset, test accuracy on each
set's t10k split. Targets: >= 92 % on Fashion-MNIST, >= 98 % on MNIST-10k.

    python3 bench/classifier.py [--mnist ../shared/data/mnist-10k] [--epochs 8]
"""
import argparse, os, tempfile, time
import report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnist", default=os.path.join(report.ROOT, "..", "shared", "data", "mnist-10k"))
    ap.add_argument("--epochs", type=int, default=8)
    a = ap.parse_args()
    report.build()
    tmp = tempfile.mkdtemp(prefix="gantry-classifier-")
    rows = []
    for name, data, target in [("Fashion-MNIST", "fashion-mnist", 0.92), ("MNIST-10k", os.path.abspath(a.mnist), 0.98)]:
        t0 = time.time()
        r = report.gantry("classifier", "train", "--data", data, "--out", os.path.join(tmp, f"{name}.safetensors"),
                          "--epochs", a.epochs, "--quiet")
        rows.append((name, r["test_accuracy"], target, r["feature_network"], time.time() - t0))
        print(rows[-1], flush=True)
    lines = [f"## Evaluation classifier ({report.stamp()})", "",
             f"`python3 bench/classifier.py --epochs {a.epochs}` on {report.machine()}, CPU. The CNN of `src/nets/classifier.rs` "
             "(three conv-BN-ReLU-maxpool blocks, 256 features), Adam 2e-3 decayed linearly to 0, batch 128, ±2-pixel shifts; "
             "test accuracy on the t10k split.", "",
             "| data | test accuracy | target | feature network | wall time |", "|---|---|---|---|---|"]
    for name, acc, target, ident, secs in rows:
        lines.append(f"| {name} | {100 * acc:.2f} % | ≥ {100 * target:.0f} % | `{ident}` | {secs:.0f} s |")
    report.write_section("classifier", "\n".join(lines))


if __name__ == "__main__":
    main()
