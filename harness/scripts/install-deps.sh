#!/usr/bin/env bash
# Installs what paybench needs beyond the Rust toolchain, skipping whatever is already present.
#
#   RabbitMQ      Debian's rabbitmq-server (the `amqp` arm's broker)
#   NATS          Debian's nats-server (the `nats` arm's server)
#   Apache Kafka  4.4.0 (pinned), resolved with Maven from harness/brokers/kafka-pom.xml into
#                 target/brokers/kafka/lib and run on the machine's JDK (17) as one KRaft node;
#                 the `kafka` arm's broker. About 55 MB, a few seconds with a warm Maven cache.
#   valgrind      instruction-count regression gate
#   gungraun-runner  the matching runner of the gungraun crate (same gate), from crates.io
#   wrk, h2load   independent load generators used to validate paybench's own generator
#   chromium      headless browser for the report test (harness/tests/report_browser.rs)
#   python3       the JSON contract test's client written without paybench's code
#
# The peer tools that check paybench's figures (ghz, nats bench, PerfTest) are installed by
# harness/scripts/install-peers.sh, which harness/scripts/validate-generator.sh runs.
#
# Usage: harness/scripts/install-deps.sh [--brokers-only]
# Set PAYBENCH_SKIP_INSTALL=1 to skip everything (e.g. when AMQP_URL / KAFKA_BROKERS / NATS_URL point elsewhere).
set -euo pipefail

cd "$(dirname "$0")/../.."

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
  # The L4 balancer in front of N direct backends (experiments with `processes` > 1 on a direct arm).
  command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need_apt+=(haproxy)
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

# Apache Kafka: the version is pinned in the pom (and in harness/src/brokers/kafka.rs).
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' harness/brokers/kafka-pom.xml)
brokers_dir="${PAYBENCH_BROKERS_DIR:-${CARGO_TARGET_DIR:-$PWD/target}/brokers}"
kafka_lib="${PAYBENCH_KAFKA_LIB:-$brokers_dir/kafka/lib}"
if [ -f "$kafka_lib/kafka_2.13-$kafka_version.jar" ]; then
  echo "install-deps: Apache Kafka $kafka_version present in $kafka_lib"
elif [ -n "${KAFKA_BROKERS:-}" ]; then
  echo "install-deps: KAFKA_BROKERS=$KAFKA_BROKERS set, not installing Apache Kafka"
else
  command -v java >/dev/null 2>&1 || { echo "install-deps: Apache Kafka needs java (OpenJDK 17) on PATH, or set KAFKA_BROKERS" >&2; exit 1; }
  command -v mvn >/dev/null 2>&1 || { echo "install-deps: Apache Kafka is resolved with Maven: mvn not on PATH" >&2; exit 1; }
  echo "install-deps: Apache Kafka $kafka_version with Maven into $kafka_lib"
  mkdir -p "$brokers_dir"
  rm -rf "$kafka_lib.partial"
  if ! mvn -q -B -f harness/brokers/kafka-pom.xml dependency:copy-dependencies \
      -DoutputDirectory="$kafka_lib.partial" >"$brokers_dir/kafka-mvn.log" 2>&1; then
    echo "install-deps: Maven could not resolve org.apache.kafka:kafka_2.13:$kafka_version (log: $brokers_dir/kafka-mvn.log):" >&2
    grep -m3 ERROR "$brokers_dir/kafka-mvn.log" >&2 || true
    exit 1
  fi
  rm -rf "$kafka_lib" && mkdir -p "$(dirname "$kafka_lib")" && mv "$kafka_lib.partial" "$kafka_lib"
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
