#!/usr/bin/env bash
# Installs the peer tools that check paybench's figures, one per family, each at a pinned version,
# into target/peers/ (nothing system-wide). harness/scripts/validate-peers.sh runs it first.
#
#   ghz        gRPC's community benchmark tool     go install github.com/bojand/ghz/cmd/ghz@GHZ_VERSION
#   nats       natscli's `nats bench`              go install github.com/nats-io/natscli/nats@NATSCLI_VERSION
#   PerfTest   RabbitMQ's benchmark tool           Maven: com.rabbitmq:perf-test:PERFTEST_VERSION
#   Kafka's end-to-end latency tool                already in the Kafka jars (install-deps.sh)
#
# A peer that cannot be installed is named with the reason, and the others are still installed;
# the exit status is 0 only when all were. Usage: harness/scripts/install-peers.sh
set -uo pipefail
cd "$(dirname "$0")/../.."

GHZ_VERSION="${GHZ_VERSION:-v0.120.0}"
NATSCLI_VERSION="${NATSCLI_VERSION:-v0.5.0}"
PERFTEST_VERSION="${PERFTEST_VERSION:-2.22.1}"
peers="${CARGO_TARGET_DIR:-$PWD/target}/peers"
mkdir -p "$peers/bin"
failed=()

go_peer() {  # $1 name, $2 module path of the command, $3 version, $4 version check (grep pattern)
  local name="$1" module="$2" version="$3"
  if [ -x "$peers/bin/$name" ] && [ -f "$peers/bin/$name.version" ] && [ "$(cat "$peers/bin/$name.version")" = "$version" ]; then
    echo "install-peers: $name $version present"
    return
  fi
  if ! command -v go >/dev/null 2>&1; then
    failed+=("$name: go not on PATH (needed for go install $module@$version)")
    return
  fi
  echo "install-peers: go install $module@$version (a few minutes on 2 cores the first time)"
  if GOBIN="$peers/bin" go install "$module@$version" > "$peers/$name-install.log" 2>&1; then
    echo "$version" > "$peers/bin/$name.version"
  else
    failed+=("$name: go install $module@$version failed: $(tail -2 "$peers/$name-install.log" | tr '\n' ' ')")
  fi
}

go_peer ghz github.com/bojand/ghz/cmd/ghz "$GHZ_VERSION"
go_peer nats github.com/nats-io/natscli/nats "$NATSCLI_VERSION"

perftest_dir="$peers/perf-test-$PERFTEST_VERSION"
if [ -f "$perftest_dir/perf-test-$PERFTEST_VERSION.jar" ]; then
  echo "install-peers: RabbitMQ PerfTest $PERFTEST_VERSION present"
elif ! command -v mvn >/dev/null 2>&1; then
  failed+=("PerfTest: mvn not on PATH (needed to resolve com.rabbitmq:perf-test:$PERFTEST_VERSION)")
else
  echo "install-peers: RabbitMQ PerfTest $PERFTEST_VERSION with Maven"
  # A one-dependency pom, so that Maven resolves PerfTest's runtime class path as for Kafka.
  cat > "$peers/perftest-pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>paybench</groupId><artifactId>perftest-peer</artifactId><version>0</version><packaging>pom</packaging>
  <dependencies><dependency><groupId>com.rabbitmq</groupId><artifactId>perf-test</artifactId><version>$PERFTEST_VERSION</version></dependency></dependencies>
</project>
POM
  if mvn -q -B -f "$peers/perftest-pom.xml" dependency:copy-dependencies -DoutputDirectory="$perftest_dir.partial" \
      > "$peers/perftest-install.log" 2>&1; then
    rm -rf "$perftest_dir" && mv "$perftest_dir.partial" "$perftest_dir"
  else
    failed+=("PerfTest: Maven could not resolve com.rabbitmq:perf-test:$PERFTEST_VERSION: $(grep -m1 ERROR "$peers/perftest-install.log")")
  fi
fi

if [ ${#failed[@]} -gt 0 ]; then
  for f in "${failed[@]}"; do echo "install-peers: NOT INSTALLED: $f" >&2; done
  exit 1
fi
echo "install-peers: done ($peers)"
