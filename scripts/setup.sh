#!/usr/bin/env bash
# Installs what gantry needs to build and run (idempotent): libtorch 2.11.0 from the PyPI wheel
# torch==2.11.0, then builds gantry in release mode. Sourced by quickstart.sh and test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! python3 -c 'import sys, torch; sys.exit(torch.__version__.split("+")[0] != "2.11.0")' 2>/dev/null; then
  echo "== installing libtorch: python3 -m pip install torch==2.11.0"
  python3 -m pip install -q torch==2.11.0 || python3 -m pip install -q --break-system-packages torch==2.11.0
fi
# `gantry data make digits-typeset` renders digits from the machine's TrueType fonts; its test
# needs one, and the benchmarks use these three families.
if [ ! -d /usr/share/fonts/truetype/dejavu ] || [ ! -d /usr/share/fonts/truetype/liberation2 ] || [ ! -d /usr/share/fonts/truetype/freefont ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing fonts: apt-get install fonts-dejavu-core fonts-liberation2 fonts-freefont-ttf"
    (apt-get install -y -qq fonts-dejavu-core fonts-liberation2 fonts-freefont-ttf >/dev/null 2>&1 ||
      (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq fonts-dejavu-core fonts-liberation2 fonts-freefont-ttf >/dev/null 2>&1)) ||
      echo "note: could not install the fonts; digits-typeset will use what /usr/share/fonts holds"
  fi
fi
# .cargo/config.toml sets LIBTORCH_USE_PYTORCH=1, so tch links the torch that pip installed, and
# build.rs puts its lib folder on the binary's rpath.
cargo build --release --quiet
