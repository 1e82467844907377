#!/usr/bin/env bash
# The README's test command: installs what is missing, starts the local brokers, runs every test.
set -euo pipefail
cd "$(dirname "$0")/../.."
harness/scripts/install-deps.sh
cargo test --workspace --all-targets "$@"
