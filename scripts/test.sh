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
# the report test renders pages in headless Chromium (Debian's package)
if ! [ -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== installing the test browser: apt-get install chromium"
  apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1) ||
    echo "note: could not install chromium; tests/report.rs will fail"
fi
cargo test --release
