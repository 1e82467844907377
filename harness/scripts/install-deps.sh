#!/usr/bin/env bash
# Installs what paybench needs beyond the Rust toolchain, skipping whatever is already present.
#
#   RabbitMQ      Debian's rabbitmq-server (the `amqp` arm's broker)
#   NATS          Debian's nats-server (the `nats` arm's server)
#   Tansu         a Kafka-compatible broker from crates.io, pinned, with in-memory storage
#                 (`dynostore`); the `kafka` arm's broker. First build takes ~9 min on 2 cores.
#   valgrind      instruction-count regression gate
#   gungraun-runner  the matching runner of the gungraun crate (same gate), from crates.io
#   wrk, h2load   independent load generators used to validate paybench's own generator
#   chromium      headless browser for the report test (harness/tests/report_browser.rs)
#   python3       the JSON contract test's client written without paybench's code
#
# Usage: harness/scripts/install-deps.sh [--brokers-only]
# Set PAYBENCH_SKIP_INSTALL=1 to skip everything (e.g. when AMQP_URL / KAFKA_BROKERS / NATS_URL point elsewhere).
set -euo pipefail

TANSU_VERSION="${TANSU_VERSION:-0.6.0}"

if [ "${PAYBENCH_SKIP_INSTALL:-0}" = 1 ]; then
  echo "install-deps: PAYBENCH_SKIP_INSTALL=1, skipping"
  exit 0
fi

need_apt=()
command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/sbin/rabbitmq-server ] || need_apt+=(rabbitmq-server)
command -v nats-server >/dev/null 2>&1 || need_apt+=(nats-server)
if [ "${1:-}" != "--brokers-only" ]; then
  command -v valgrind >/dev/null 2>&1 || need_apt+=(valgrind)
  command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
  command -v h2load >/dev/null 2>&1 || need_apt+=(nghttp2-client)
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  # The JSON contract test's outside client (harness/tests/json_contract_client.py).
  command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "install-deps: apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  # The Debian package starts the broker through its init script on install; paybench manages
  # its own node (`paybench brokers up`, on port 5673), which a packaged one on 5672 does not disturb.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

tansu_bin="${CARGO_HOME:-$HOME/.cargo}/bin/tansu"
if [ -x "$tansu_bin" ] && "$tansu_bin" --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
  echo "install-deps: tansu $TANSU_VERSION present"
else
  echo "install-deps: cargo install tansu $TANSU_VERSION --features dynostore (about 9 minutes on 2 cores)"
  cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore --quiet
fi
# Instruction-count gate (benches/instructions.rs): the runner must match the `gungraun` crate's
# version pinned in the root Cargo.toml.
GUNGRAUN_VERSION="${GUNGRAUN_VERSION:-0.20.0}"
if [ "${1:-}" != "--brokers-only" ]; then
  if command -v gungraun-runner >/dev/null 2>&1 && gungraun-runner --version 2>/dev/null | grep -q "$GUNGRAUN_VERSION"; then
    echo "install-deps: gungraun-runner $GUNGRAUN_VERSION present"
  else
    echo "install-deps: cargo install gungraun-runner $GUNGRAUN_VERSION"
    cargo install gungraun-runner --version "$GUNGRAUN_VERSION" --locked --quiet
  fi
fi
echo "install-deps: done"
