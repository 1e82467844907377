#!/usr/bin/env bash
# The README's test command: installs what is missing, starts the local brokers, runs every test.
set -euo pipefail
cd "$(dirname "$0")/../.."
harness/scripts/install-deps.sh
# Idempotent: reuses brokers that already answer; with AMQP_URL / KAFKA_BROKERS / NATS_URL set it
# only probes those.
cargo run -q -p paybench -- brokers up
cargo test --workspace --all-targets "$@"
