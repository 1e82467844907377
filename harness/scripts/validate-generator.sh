#!/usr/bin/env bash
# Checks that paybench's own load generator is not the bottleneck: drives the same server with an
# independent generator and with `paybench run --target`, at the same connection count and
# concurrency, and prints paybench's throughput as a ratio to the peer's (target >= 0.9).
#
#   rest:  wrk    -t1 -c C  (C HTTP/1.1 keep-alive connections, one request in flight each)
#          vs paybench closed loop, concurrency C (reqwest's pool opens C connections)
#   grpc:  h2load -t1 -c1 -m C  (one HTTP/2 connection, C concurrent streams)
#          vs paybench closed loop, concurrency C on one tonic channel
#
# Both generators send the suite's own `small` request bytes (dumped by `paybench serve
# --dump-bodies`). The server runs alone on CPU 1 and each generator alone on CPU 0, one thread
# each, so neither generator steals the server's core.
#
# Usage: harness/scripts/validate-generator.sh [DURATION_S=5] [CONCURRENCY=16]
set -euo pipefail
cd "$(dirname "$0")/../.."

duration="${1:-5}"
concurrency="${2:-16}"
for tool in wrk h2load taskset; do
  command -v "$tool" >/dev/null || { echo "validate-generator: $tool not found (harness/scripts/install-deps.sh installs it)" >&2; exit 2; }
done
cargo build --release -q -p paybench
bin=target/release/paybench
tmp="$(mktemp -d)"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

"$bin" serve --dump-bodies "$tmp/bodies"
cat > "$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
local f = assert(io.open("$tmp/bodies/small.json", "rb"))
wrk.body = f:read("*a")
f:close()
LUA
cat > "$tmp/scenario.toml" <<TOML
name = "validate"
transports = ["rest", "grpc", "inproc"]
profiles = ["small"]
repetitions = 1
warmup_ms = 1000
duration_ms = $((duration * 1000))
timeout_ms = 5000
[[load]]
model = "closed"
concurrency = $concurrency
TOML

# Starts `paybench serve $1` on CPU 1 and sets $addr and $server_pid (polls its output, 10 s max).
start_server() {
  taskset -c 1 "$bin" serve "$1" --threads 1 > "$tmp/serve.out" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    addr="$(awk '/^serving/{print $4}' "$tmp/serve.out")"
    [ -n "$addr" ] && return 0
    sleep 0.1
  done
  echo "validate-generator: server for $1 did not start: $(cat "$tmp/serve.out")" >&2
  exit 2
}

stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""; }

paybench_rate() {  # $1 transport, then extra flags: prints "ok calls/s|client CPU µs per call"
  local arm="$1"; shift
  "$bin" run "$tmp/scenario.toml" --transports "$arm" --client-threads 1 --client-cpus 0 \
    --out "$tmp/run-$arm" "$@" > /dev/null 2>&1
  awk -F, 'NR == 2 { print $15 "|" $29 }' "$tmp/run-$arm/results.csv"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

rows=()
start_server rest
url="http://$addr/v1/payments/authorize"
taskset -c 0 wrk -t1 -c"$concurrency" -d1s -s "$tmp/post.lua" "$url" > /dev/null  # warm-up
wrk_rate="$(taskset -c 0 wrk -t1 -c"$concurrency" -d"${duration}s" -s "$tmp/post.lua" "$url" | awk '/^Requests\/sec/ { print $2 }')"
IFS='|' read -r pb_rest cpu_rest <<< "$(paybench_rate rest --target "$addr" --server-pid "$server_pid")"
rows+=("rest|wrk 4.1 -t1 -c$concurrency|$concurrency conns x 1|$wrk_rate|$pb_rest|$cpu_rest|$(ratio "$pb_rest" "$wrk_rate")")
stop_server

start_server grpc
taskset -c 0 h2load -t1 -c1 -m"$concurrency" -D "$duration" --warm-up-time=1 \
  -d "$tmp/bodies/small.grpc-pb" -H 'content-type: application/grpc' -H 'te: trailers' \
  "http://$addr/payment.v1.PaymentService/Authorize" > "$tmp/h2load.out"
h2_rate="$(awk '/^finished in/ { print $4 }' "$tmp/h2load.out")"
# gRPC errors travel as HTTP 200 + grpc-status trailers, so h2load counts them as successes; a
# rejected request has no DATA frame, so zero response data means the body was not accepted.
if awk '/^traffic:/ { exit !($(NF-2) == "0B") }' "$tmp/h2load.out"; then
  echo "validate-generator: h2load got no response data: the server rejected the gRPC body" >&2
  exit 2
fi
IFS='|' read -r pb_grpc cpu_grpc <<< "$(paybench_rate grpc --target "$addr" --server-pid "$server_pid")"
rows+=("grpc|h2load -t1 -c1 -m$concurrency|1 conn x $concurrency streams|$h2_rate|$pb_grpc|$cpu_grpc|$(ratio "$pb_grpc" "$h2_rate")")
stop_server

# The generator's own ceiling: the same closed loop over `inproc` (codec round trip and business
# function on the calling thread, no network) on the same single core. Its CPU per call bounds
# what the generator itself costs per call; the rest of a network arm's client CPU is the client
# library (reqwest/hyper, tonic).
IFS='|' read -r pb_inproc cpu_inproc <<< "$(paybench_rate inproc)"
rows+=("inproc|(none: generator ceiling)|$concurrency|0|$pb_inproc|$cpu_inproc|-")

echo "generator validation: ${duration} s windows, server on CPU 1, generator on CPU 0, small payload"
echo
echo "| arm | peer | in flight | peer req/s | paybench ok/s | paybench client CPU µs/call | paybench / peer |"
echo "|---|---|---|---|---|---|---|"
for row in "${rows[@]}"; do
  IFS='|' read -r arm peer inflight peer_rate pb_rate cpu r <<< "$row"
  printf '| %s | %s | %s | %.0f | %.0f | %.1f | %s |\n' "$arm" "$peer" "$inflight" "$peer_rate" "$pb_rate" "$cpu" "$r"
done
