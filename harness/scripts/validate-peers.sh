#!/usr/bin/env bash
# Checks paybench's figures against the tool each community trusts, one per family, on the same
# `paybench serve` (or the same broker), the same request bytes and the same concurrency:
#
#   grpc      ghz (GOMAXPROCS=1) and h2load, closed loop, C calls in flight on one connection,
#             against paybench's replay and full-stack clients: calls/s and p50.
#   nats      `nats bench service request` (natscli) against the nats arm's worker, with the suite's
#             request bytes and headers: round-trip p50 at 1 in flight, calls/s at C in flight.
#   kafka     Apache Kafka's EndToEndLatency tool: one hop (produce, then consume) at the suite's
#             producer and consumer settings. paybench's round trip is two hops plus the worker:
#             its mean is compared with twice the tool's mean.
#   rabbitmq  PerfTest: one publish -> consume hop at a light fixed rate, non-persistent, the
#             suite's prefetch. paybench's round trip is compared with twice its median.
#
# Each peer runs alone on CPU 0, the server or worker alone on CPU 1 (the brokers float). A peer
# that is not installed (harness/scripts/install-peers.sh says why) is reported as such in the
# table and the JSON, and the others still run. Writes results/validate-peers.json, which
# `paybench docs` renders into docs/load-generator.md.
#
# Usage: harness/scripts/validate-peers.sh [DURATION_S=4] [CONCURRENCY=16]
# Take the measurement lock on a shared machine: flock /tmp/paybench-measure.lock harness/scripts/validate-peers.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

duration="${1:-4}"
concurrency="${2:-16}"
for tool in h2load taskset python3 java; do
  command -v "$tool" >/dev/null || { echo "validate-peers: $tool not found (harness/scripts/install-deps.sh installs it)" >&2; exit 2; }
done
bash harness/scripts/install-peers.sh || echo "validate-peers: some peers are missing; their rows say so" >&2
cargo build --release -q -p paybench
bin="${CARGO_TARGET_DIR:-target}/release/paybench"
peers="${CARGO_TARGET_DIR:-$PWD/target}/peers"
kafka_lib="${PAYBENCH_KAFKA_LIB:-${PAYBENCH_BROKERS_DIR:-${CARGO_TARGET_DIR:-$PWD/target}/brokers}/kafka/lib}"
perftest_cp="$(ls -d "$peers"/perf-test-*/ 2>/dev/null | tail -1)"
"$bin" brokers up > /dev/null
amqp_url="${AMQP_URL:-amqp://guest:guest@127.0.0.1:5673/%2f}"
kafka_brokers="${KAFKA_BROKERS:-127.0.0.1:19092}"
nats_url="${NATS_URL:-nats://127.0.0.1:4223}"

tmp="$(mktemp -d)"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
"$bin" serve --dump-bodies "$tmp/bodies"
body="$tmp/bodies/small.pb"
body_bytes="$(stat -c %s "$body")"

# start_server ARM (sets $addr, $server_pid) and stop_server.
source harness/scripts/serve-lib.sh

runs=0
# paybench closed loop on CPU 0 against the running server: $1 arm, $2 client, $3 concurrency.
# Prints "calls/s p50_us mean_us".
paybench_point() {
  runs=$((runs + 1))
  local out="$tmp/run-$runs"
  cat > "$tmp/scenario.toml" <<TOML
name = "peers"
transports = ["$1"]
profiles = ["small"]
repetitions = 1
warmup_ms = 1000
duration_ms = $((duration * 1000))
timeout_ms = 10000
[[load]]
model = "closed"
concurrency = $3
TOML
  if ! "$bin" run "$tmp/scenario.toml" --transports "$1" --client "$2" --client-threads 1 --client-cpus 0 \
      --target "$addr" --server-pid "$server_pid" --codec-batches 0 --out "$out" > "$tmp/run.log" 2>&1; then
    echo "validate-peers: paybench run $1 --client $2 failed: $(tail -3 "$tmp/run.log")" >&2
    exit 2
  fi
  awk -F, 'NR == 2 { print $15, $17, $22 }' "$out/results.csv"
}

# paybench's closed loop at 1 in flight through broker endpoint $2, against `paybench serve $1`'s
# worker on CPU 1. Prints "calls/s p50_us mean_us".
broker_point() { start_server "$1"; addr="$2"; paybench_point "$1" full 1; stop_server; }

rows=()
# One row: family, arm, peer command, measure, unit, peer value, paybench client, paybench value,
# hops (how many of the peer's units one paybench call is: 1, or 2 for a one-hop peer).
row() {
  rows+=("$(python3 -c 'import json,sys; a=sys.argv[1:]; print(json.dumps({"family":a[0],"arm":a[1],"peer":a[2],"measure":a[3],"unit":a[4],"peer_value":float(a[5]),"paybench_client":a[6],"paybench_value":float(a[7]),"peer_hops_per_call":int(a[8])}))' "$@")")
}
missing=()
not_installed() { missing+=("$(python3 -c 'import json,sys; print(json.dumps({"family":sys.argv[1],"peer":sys.argv[2],"why":sys.argv[3]}))' "$@")"); }

# ---- gRPC: ghz and h2load against `paybench serve grpc` ---------------------------------------
start_server grpc
read -r pb_replay_rate pb_replay_p50 _ <<< "$(paybench_point grpc replay "$concurrency")"
read -r pb_full_rate pb_full_p50 _ <<< "$(paybench_point grpc full "$concurrency")"
read -r _ pb_full_p50_c1 _ <<< "$(paybench_point grpc full 1)"
if [ -x "$peers/bin/ghz" ]; then
  ghz() {  # $1 calls in flight: prints "OK calls/s p50_us"
    GOMAXPROCS=1 taskset -c 0 "$peers/bin/ghz" --insecure --proto proto/payment/v1/payment.proto --import-paths proto \
      --call payment.v1.PaymentService.Authorize -B "$body" -c "$1" --connections 1 -z "${duration}s" \
      -O json "$addr" > "$tmp/ghz.json" 2> "$tmp/ghz.err" || true
    # Calls cut off by the end of the run fail with Unavailable: count only the OK ones.
    python3 -c '
import json,sys
d=json.load(open(sys.argv[1])); ok=d["statusCodeDistribution"].get("OK",0)
p50=[l["latency"] for l in d["latencyDistribution"] if l["percentage"]==50][0]
print(ok/(d["total"]/1e9), p50/1e3)' "$tmp/ghz.json"
  }
  read -r ghz_rate ghz_p50 <<< "$(ghz "$concurrency")"
  read -r _ ghz_p50_c1 <<< "$(ghz 1)"
  ghz_cmd="ghz -c $concurrency --connections 1 (GOMAXPROCS=1)"
  row grpc grpc "$ghz_cmd" "calls/s, $concurrency in flight" "calls/s" "$ghz_rate" replay "$pb_replay_rate" 1
  row grpc grpc "$ghz_cmd" "calls/s, $concurrency in flight" "calls/s" "$ghz_rate" full-stack "$pb_full_rate" 1
  row grpc grpc "$ghz_cmd" "p50, $concurrency in flight" "µs" "$ghz_p50" full-stack "$pb_full_p50" 1
  row grpc grpc "ghz -c 1 --connections 1 (GOMAXPROCS=1)" "p50, 1 in flight" "µs" "$ghz_p50_c1" full-stack "$pb_full_p50_c1" 1
else
  not_installed grpc ghz "not installed: $(tail -1 "$peers/ghz-install.log" 2>/dev/null)"
fi
# h2load prints no percentiles, so it checks throughput only.
taskset -c 0 h2load -t1 -c1 -m"$concurrency" -D "$duration" -d "$tmp/bodies/small.grpc-pb" \
  -H "content-type: application/grpc" -H 'te: trailers' "http://$addr/payment.v1.PaymentService/Authorize" > "$tmp/h2load.out"
h2_rate="$(awk '/^requests:/ { print $8 / '"$duration"' }' "$tmp/h2load.out")"
row grpc grpc "h2load -t1 -c1 -m$concurrency" "calls/s, $concurrency in flight" "calls/s" "$h2_rate" replay "$pb_replay_rate" 1
row grpc grpc "h2load -t1 -c1 -m$concurrency" "calls/s, $concurrency in flight" "calls/s" "$h2_rate" full-stack "$pb_full_rate" 1
stop_server

# ---- NATS: nats bench against the nats arm's worker --------------------------------------------
if [ -x "$peers/bin/nats" ]; then
  start_server nats
  nats_bench() {  # $1 clients, $2 messages: prints "calls/s p50_us"
    GOMAXPROCS=1 taskset -c 0 "$peers/bin/nats" bench service request payments.authorize -s "$nats_url" \
      --clients "$1" --msgs "$2" --payload "$body" -H Content-Type:application/x-protobuf -H Correlation-Id:peer \
      --no-progress > "$tmp/nats.out" 2>&1
    python3 -c '
import re,sys
t=open(sys.argv[1]).read()
rate=re.search(r"aggregated stats: ([\d,]+) msgs/sec", t) or re.search(r"stats: ([\d,]+) msgs/sec", t)
lat=re.search(r"latencies per operation.*?P50 ([\d,.]+)(us|ms)", t) or re.search(r"P50: ([\d,.]+)(us|ms)", t)
p50=float(lat.group(1).replace(",",""))*(1000 if lat.group(2)=="ms" else 1)
print(rate.group(1).replace(",",""), p50)' "$tmp/nats.out"
  }
  read -r _ nats_p50 <<< "$(nats_bench 1 2000)"
  read -r nats_rate _ <<< "$(nats_bench "$concurrency" $((concurrency * 2500)))"
  read -r _ pb_p50 _ <<< "$(paybench_point nats full 1)"
  read -r pb_rate _ _ <<< "$(paybench_point nats full "$concurrency")"
  row nats nats "nats bench service request --clients 1" "round-trip p50, 1 in flight" "µs" "$nats_p50" full-stack "$pb_p50" 1
  row nats nats "nats bench service request --clients $concurrency" "calls/s, $concurrency in flight" "calls/s" "$nats_rate" full-stack "$pb_rate" 1
  stop_server
else
  not_installed nats "nats bench" "not installed: $(cat "$peers/nats-install.log" 2>/dev/null | tail -1)"
fi

# ---- Kafka: Apache Kafka's own end-to-end latency tool, one hop -------------------------------
if [ -f "$kafka_lib/kafka-tools-4.4.0.jar" ]; then
  # The suite's settings (transport/kafka.rs): linger.ms 0, acks 1, fetch wait 5 ms, fetch.min.bytes 1.
  printf 'linger.ms=0\nfetch.max.wait.ms=5\nfetch.min.bytes=1\n' > "$tmp/e2e.properties"
  records=5000
  taskset -c 0 java -Xmx256m -cp "$kafka_lib/*" org.apache.kafka.tools.EndToEndLatency \
    --bootstrap-server "$kafka_brokers" --topic "paybench.peer.e2e.$$" --num-records "$records" --producer-acks 1 \
    --record-size "$body_bytes" --command-config "$tmp/e2e.properties" > "$tmp/e2e.out" 2>&1 || true
  e2e_mean_us="$(awk '/Avg latency:/ { print $3 * 1000 }' "$tmp/e2e.out")"
  if [ -n "$e2e_mean_us" ]; then
    read -r _ _ pb_mean <<< "$(broker_point kafka "$kafka_brokers")"
    row kafka kafka "EndToEndLatency, $records records, acks 1" "mean, 1 in flight" "µs" "$e2e_mean_us" full-stack "$pb_mean" 2
  else
    not_installed kafka EndToEndLatency "ran but printed no average: $(grep -v SLF4J "$tmp/e2e.out" | tail -2 | tr '\n' ' ')"
  fi
else
  not_installed kafka EndToEndLatency "no kafka-tools jar in $kafka_lib (harness/scripts/install-deps.sh)"
fi

# ---- RabbitMQ: PerfTest, one publish -> consume hop -------------------------------------------
if [ -n "$perftest_cp" ]; then
  rate=500
  taskset -c 0 java -Xmx256m -cp "$perftest_cp*" com.rabbitmq.perf.PerfTest -h "$amqp_url" -x 1 -y 1 \
    -s "$body_bytes" -z $((duration + 3)) -r "$rate" -q 64 -u "paybench.peer.perftest.$$" > "$tmp/perftest.out" 2>&1 || true
  # Per-second lines after the first two (the JVM's warm-up): the median of their medians.
  perftest_p50="$(python3 -c '
import re,statistics,sys
lines=re.findall(r"time (\d+)\.\d+ s, .*?consumer latency: \d+/(\d+)/", open(sys.argv[1]).read())
med=[int(b) for a,b in lines if int(a) > 2]
print(statistics.median(med) if med else "")' "$tmp/perftest.out")"
  if [ -n "$perftest_p50" ]; then
    read -r _ pb_p50 _ <<< "$(broker_point amqp "$amqp_url")"
    row rabbitmq amqp "PerfTest -x1 -y1 -r $rate -q 64" "p50, light load" "µs" "$perftest_p50" full-stack "$pb_p50" 2
  else
    not_installed rabbitmq PerfTest "ran but printed no consumer latency: $(tail -2 "$tmp/perftest.out" | tr '\n' ' ')"
  fi
else
  not_installed rabbitmq PerfTest "not installed: $(grep -m1 ERROR "$peers/perftest-install.log" 2>/dev/null)"
fi

out=results/validate-peers.json
{
  printf '{\n  "command": "harness/scripts/validate-peers.sh %s %s",\n' "$duration" "$concurrency"
  printf '  "measured_at": "%s",\n  "git_commit": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- harness proto Cargo.toml Cargo.lock || echo +dirty)"
  printf '  "cpu_model": "%s",\n  "duration_s": %s,\n  "concurrency": %s,\n' "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)" "$duration" "$concurrency"
  printf '  "brokers": %s,\n' "$(python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().strip().splitlines()))' < <("$bin" brokers status 2>&1 || true))"
  printf '  "rows": [\n    %s\n  ],\n' "$(IFS=$'\n'; echo "${rows[*]}" | paste -sd, - | sed 's/},{/},\n    {/g')"
  printf '  "missing": [%s]\n}\n' "$(IFS=$'\n'; echo "${missing[*]:-}" | paste -sd, -)"
} > "$out.tmp"
python3 -m json.tool "$out.tmp" > /dev/null
mv "$out.tmp" "$out"
python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
for r in d["rows"]:
    ratio=r["paybench_value"]/(r["peer_value"]*r["peer_hops_per_call"])
    print("{family:9} {peer:48} {measure:30} peer {peer_value:9.0f} x{peer_hops_per_call}  paybench {paybench_client:10} {paybench_value:9.0f}  ratio {ratio:.2f}".format(ratio=ratio, **r))
for m in d["missing"]:
    print("{family:9} {peer}: {why}".format(**m))' "$out"
echo "wrote $out; \`cargo run -q -p paybench -- docs\` renders it into docs/load-generator.md"
