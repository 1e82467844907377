#!/usr/bin/env bash
# The README's benchmark command: installs what is missing, starts the local brokers, runs
# criterion. Extra arguments go to criterion, e.g. `harness/scripts/bench.sh --bench latency`.
set -euo pipefail
cd "$(dirname "$0")/../.."
harness/scripts/install-deps.sh
# Idempotent: reuses brokers that already answer; with AMQP_URL / KAFKA_BROKERS / NATS_URL set it
# only probes those.
cargo run -q -p paybench -- brokers up
cargo bench --workspace "$@"
