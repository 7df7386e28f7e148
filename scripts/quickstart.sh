#!/usr/bin/env bash
# The main job on a fresh machine: install libtorch and Fashion-MNIST when missing, build gantry,
# train the default preset (DCGAN on Fashion-MNIST) briefly and write a sample grid.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  echo "== installing Fashion-MNIST: apt-get install dataset-fashion-mnist"
  sudo_=""; [ "$(id -u)" -ne 0 ] && sudo_="sudo"
  $sudo_ apt-get update -q && $sudo_ apt-get install -y -q dataset-fashion-mnist
fi
steps="${STEPS:-300}"
rm -rf runs/quickstart
./target/release/gantry train --out runs/quickstart --steps "$steps"
./target/release/gantry sample --run runs/quickstart --n 64 --out runs/quickstart/grid.png
echo "== samples after $steps steps: runs/quickstart/grid.png (progress grids in runs/quickstart/samples/)"
