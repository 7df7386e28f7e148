#!/usr/bin/env bash
# The whole test suite (unit and integration), after the same set-up as the quickstart.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cargo test --release
