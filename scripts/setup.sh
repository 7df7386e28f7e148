#!/usr/bin/env bash
# Installs what gantry needs to build and run (idempotent): libtorch 2.11.0 from the PyPI wheel
# torch==2.11.0, then builds gantry in release mode. Sourced by quickstart.sh and test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! python3 -c 'import sys, torch; sys.exit(torch.__version__.split("+")[0] != "2.11.0")' 2>/dev/null; then
  echo "== installing libtorch: python3 -m pip install torch==2.11.0"
  python3 -m pip install -q torch==2.11.0 || python3 -m pip install -q --break-system-packages torch==2.11.0
fi
# .cargo/config.toml sets LIBTORCH_USE_PYTORCH=1, so tch links the torch that pip installed, and
# build.rs puts its lib folder on the binary's rpath.
cargo build --release --quiet
