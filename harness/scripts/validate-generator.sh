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
# Usage: harness/scripts/validate-generator.sh [DURATION_S=4] [CONCURRENCY=16] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/../.."

duration="${1:-4}"
concurrency="${2:-16}"
rounds="${3:-3}"
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
warmup_ms = 500
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

paybench_rate() {  # $1 transport, then extra flags: prints "ok calls/s client-CPU-µs-per-call"
  local arm="$1"; shift
  "$bin" run "$tmp/scenario.toml" --transports "$arm" --client-threads 1 --client-cpus 0 \
    --out "$tmp/run-$arm" "$@" > /dev/null 2>&1
  awk -F, 'NR == 2 { print $15, $29 }' "$tmp/run-$arm/results.csv"
}

# Runs a peer command on CPU 0; prints "req/s CPU-µs-per-call" from its output ($1: awk program
# printing the request count) and bash's `time` (user + system CPU of the peer).
peer_rate() {
  local count_prog="$1"; shift
  { TIMEFORMAT='%3U %3S'; time taskset -c 0 "$@" > "$tmp/peer.out" 2>&1; } 2> "$tmp/peer.cpu"
  local requests; requests="$(awk "$count_prog" "$tmp/peer.out")"
  awk -v n="$requests" -v d="$duration" '{ printf "%.0f %.1f\n", n / d, ($1 + $2) * 1e6 / n }' "$tmp/peer.cpu"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }

# The machine may be shared: alternate peer and paybench for $rounds rounds and keep each side's
# best throughput (and the CPU per call of that round), so a busy moment penalises neither.
best_of() {  # $1 arm label, $2 peer label, $3 in-flight label, $4 peer function, then paybench flags
  local arm="$1" peer="$2" inflight="$3" peer_fn="$4"; shift 4
  local peer_best=0 peer_cpu=0 pb_best=0 pb_cpu=0 r p c
  for _ in $(seq "$rounds"); do
    read -r r c <<< "$($peer_fn)"
    if [ "$(max "$r" "$peer_best")" = "$r" ]; then peer_best="$r"; peer_cpu="$c"; fi
    read -r r c <<< "$(paybench_rate "$arm" "$@")"
    if [ "$(max "$r" "$pb_best")" = "$r" ]; then pb_best="$r"; pb_cpu="$c"; fi
  done
  rows+=("$arm|$peer|$inflight|$peer_best|$peer_cpu|$pb_best|$pb_cpu|$(ratio "$pb_best" "$peer_best")")
}

run_wrk() {
  peer_rate '/requests in/ { print $1 }' wrk -t1 -c"$concurrency" -d"${duration}s" -s "$tmp/post.lua" "$url"
}

run_h2load() {
  peer_rate '/^requests:/ { print $8 }' h2load -t1 -c1 -m"$concurrency" -D "$duration" \
    -d "$tmp/bodies/small.grpc-pb" -H 'content-type: application/grpc' -H 'te: trailers' "$url"
  # gRPC errors travel as HTTP 200 + grpc-status trailers, so h2load counts them as successes; a
  # rejected request has no DATA frame, so zero response data means the body was not accepted.
  if awk '/^traffic:/ { exit !($(NF-2) == "0B") }' "$tmp/peer.out"; then
    echo "validate-generator: h2load got no response data: the server rejected the gRPC body" >&2
    exit 2
  fi
}

rows=()
start_server rest
url="http://$addr/v1/payments/authorize"
taskset -c 0 wrk -t1 -c"$concurrency" -d1s -s "$tmp/post.lua" "$url" > /dev/null  # warm-up
best_of rest "wrk -t1 -c$concurrency" "$concurrency conns x 1" run_wrk --target "$addr" --server-pid "$server_pid"
stop_server

start_server grpc
url="http://$addr/payment.v1.PaymentService/Authorize"
best_of grpc "h2load -t1 -c1 -m$concurrency" "1 conn x $concurrency streams" run_h2load --target "$addr" --server-pid "$server_pid"
stop_server

# The generator's own ceiling: the same closed loop over `inproc` (codec round trip and business
# function on the calling thread, no network) on the same single core. Its CPU per call bounds
# what the generator itself costs per call; the rest of a network arm's client CPU is the client
# library (reqwest/hyper, tonic).
read -r pb_inproc cpu_inproc <<< "$(paybench_rate inproc)"
rows+=("inproc|(none: generator ceiling)|$concurrency|0|0|$pb_inproc|$cpu_inproc|-")

echo "generator validation: best of $rounds alternating rounds of ${duration} s, server on CPU 1, generator on CPU 0, small payload"
echo
echo "| arm | peer | in flight | peer req/s | peer CPU µs/call | paybench ok/s | paybench client CPU µs/call | paybench / peer |"
echo "|---|---|---|---|---|---|---|---|"
for row in "${rows[@]}"; do
  IFS='|' read -r arm peer inflight peer_rate peer_cpu pb_rate pb_cpu r <<< "$row"
  printf '| %s | %s | %s | %.0f | %.1f | %.0f | %.1f | %s |\n' "$arm" "$peer" "$inflight" "$peer_rate" "$peer_cpu" "$pb_rate" "$pb_cpu" "$r"
done
