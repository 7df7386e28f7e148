#!/usr/bin/env bash
# The whole test suite (unit and integration), after the same set-up as the quickstart.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# tests read TensorBoard files with TensorBoard's own reader
if ! python3 -c 'import tensorboard' 2>/dev/null; then
  echo "== installing the test reader: python3 -m pip install tensorboard"
  python3 -m pip install -q tensorboard || python3 -m pip install -q --break-system-packages tensorboard
fi
cargo test --release
