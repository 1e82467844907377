#!/usr/bin/env bash
# Checks that paybench's own load generator is not the bottleneck: drives the same server with an
# independent generator and with `paybench run --target`, at the same connection count and
# concurrency, with both paybench clients: `--client replay` (pre-encoded bytes, like the peers)
# and `--client full` (the transport's own client, encoding and decoding every call). Prints each
# one's throughput as a ratio to the peer's (target for replay: >= 0.9) and writes the table's
# figures to results/validate-generator.json, which `paybench docs` renders into
# docs/load-generator.md.
#
#   rest, rest-proto:         wrk    -t1 -c C       (C HTTP/1.1 keep-alive connections, one request in flight each)
#   rest-h2, grpc, grpc-json: h2load -t1 -c1 -m C   (one HTTP/2 connection, C concurrent streams)
#   vs paybench closed loop, concurrency C: replay opens the same connections (C pooled HTTP/1.1
#   connections, or one HTTP/2 connection); the full-stack clients do what reqwest and tonic do
#   (C pooled connections, or one channel).
#
# All generators send the suite's own `small` request bytes (dumped by `paybench serve
# --dump-bodies`). The server runs alone on CPU 1 and each generator alone on CPU 0, one thread
# each, so no generator steals the server's core.
#
# Usage: harness/scripts/validate-generator.sh [DURATION_S=4] [CONCURRENCY=16] [ROUNDS=3]
# Take the measurement lock on a shared machine: flock /tmp/paybench-measure.lock harness/scripts/validate-generator.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

duration="${1:-4}"
concurrency="${2:-16}"
rounds="${3:-3}"
for tool in wrk h2load taskset; do
  command -v "$tool" >/dev/null || { echo "validate-generator: $tool not found (harness/scripts/install-deps.sh installs it)" >&2; exit 2; }
done
cargo build --release -q -p paybench
bin="${CARGO_TARGET_DIR:-target}/release/paybench"
tmp="$(mktemp -d)"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

"$bin" serve --dump-bodies "$tmp/bodies"
# wrk's request for one REST arm: $1 the body file, $2 its content type.
wrk_script() {
  cat > "$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "$2"
wrk.headers["Accept"] = "$2"
local f = assert(io.open("$1", "rb"))
wrk.body = f:read("*a")
f:close()
LUA
}
cat > "$tmp/scenario.toml" <<TOML
name = "validate"
transports = ["rest", "rest-proto", "rest-h2", "grpc", "grpc-json", "inproc"]
profiles = ["small"]
repetitions = 1
warmup_ms = 500
duration_ms = $((duration * 1000))
timeout_ms = 5000
[[load]]
model = "closed"
concurrency = $concurrency
TOML

# start_server ARM (sets $addr, $server_pid) and stop_server.
source harness/scripts/serve-lib.sh

runs=0
paybench_rate() {  # $1 transport, $2 client (full|replay), then extra flags: prints "ok calls/s client-CPU-µs-per-call"
  local arm="$1" client="$2"; shift 2
  runs=$((runs + 1))
  local out="$tmp/run-$runs-$arm-$client"
  if ! "$bin" run "$tmp/scenario.toml" --transports "$arm" --client "$client" --client-threads 1 --client-cpus 0 \
    --out "$out" "$@" > "$tmp/run.log" 2>&1; then
    echo "validate-generator: paybench run $arm --client $client failed: $(tail -5 "$tmp/run.log")" >&2
    exit 2
  fi
  awk -F, 'NR == 2 { print $15, $29 }' "$out/results.csv"
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

# The machine may be shared: alternate peer, replay and full-stack for $rounds rounds and keep
# each side's best throughput (and the CPU per call of that round), so a busy moment penalises
# none of them.
best_of() {  # $1 arm, $2 peer label, $3 in-flight label, $4 peer function, then paybench flags
  local arm="$1" peer="$2" inflight="$3" peer_fn="$4"; shift 4
  local peer_best=0 peer_cpu=0 replay_best=0 replay_cpu=0 full_best=0 full_cpu=0 r c
  for _ in $(seq "$rounds"); do
    read -r r c <<< "$($peer_fn)"
    if [ "$(max "$r" "$peer_best")" = "$r" ]; then peer_best="$r"; peer_cpu="$c"; fi
    read -r r c <<< "$(paybench_rate "$arm" replay "$@")"
    if [ "$(max "$r" "$replay_best")" = "$r" ]; then replay_best="$r"; replay_cpu="$c"; fi
    read -r r c <<< "$(paybench_rate "$arm" full "$@")"
    if [ "$(max "$r" "$full_best")" = "$r" ]; then full_best="$r"; full_cpu="$c"; fi
  done
  rows+=("$arm|$peer|$inflight|$peer_best|$peer_cpu|$replay_best|$replay_cpu|$full_best|$full_cpu")
}

run_wrk() {
  peer_rate '/requests in/ { print $1 }' wrk -t1 -c"$concurrency" -d"${duration}s" -s "$tmp/post.lua" "$url"
}

h2load_body="" h2load_type=""
run_h2load() {
  peer_rate '/^requests:/ { print $8 }' h2load -t1 -c1 -m"$concurrency" -D "$duration" \
    -d "$h2load_body" -H "content-type: $h2load_type" -H 'te: trailers' -H "accept: $h2load_type" "$url"
  # gRPC errors travel as HTTP 200 + grpc-status trailers, so h2load counts them as successes; a
  # rejected request has no DATA frame, so zero response data means the body was not accepted.
  if awk '/^traffic:/ { exit !($(NF-2) == "0B") }' "$tmp/peer.out"; then
    echo "validate-generator: h2load got no response data from $url: the server rejected the body" >&2
    exit 2
  fi
}

rows=()
wrk_arm() {  # $1 arm, $2 body file, $3 content type
  start_server "$1"
  url="http://$addr/v1/payments/authorize"
  wrk_script "$2" "$3"
  taskset -c 0 wrk -t1 -c"$concurrency" -d1s -s "$tmp/post.lua" "$url" > /dev/null  # warm-up
  best_of "$1" "wrk -t1 -c$concurrency" "$concurrency conns x 1" run_wrk --target "$addr" --server-pid "$server_pid"
  stop_server
}
h2load_arm() {  # $1 arm, $2 path, $3 body file, $4 content type
  start_server "$1"
  url="http://$addr$2"
  h2load_body="$3" h2load_type="$4"
  best_of "$1" "h2load -t1 -c1 -m$concurrency" "1 conn x $concurrency streams" run_h2load --target "$addr" --server-pid "$server_pid"
  stop_server
}

wrk_arm rest "$tmp/bodies/small.json" application/json
wrk_arm rest-proto "$tmp/bodies/small.pb" application/x-protobuf
h2load_arm rest-h2 /v1/payments/authorize "$tmp/bodies/small.json" application/json
h2load_arm grpc /payment.v1.PaymentService/Authorize "$tmp/bodies/small.grpc-pb" application/grpc
# tonic's client sends `application/grpc` for the JSON codec too; so does replay.
h2load_arm grpc-json /payment.v1.PaymentService/Authorize "$tmp/bodies/small.grpc-json" application/grpc

# The generator's own ceiling: the same closed loop over `inproc` (codec round trip and business
# function on the calling thread, no network) on the same single core. Its CPU per call bounds
# what the generator itself costs per call; the rest of a network arm's client CPU is the client.
read -r pb_inproc cpu_inproc <<< "$(paybench_rate inproc full)"

echo "generator validation: best of $rounds alternating rounds of ${duration} s, server on CPU 1, generator on CPU 0, small payload"
echo
echo "| arm | peer | in flight | peer calls/s | peer CPU µs/call | replay calls/s | replay / peer | replay CPU µs/call | full-stack calls/s | full-stack / peer | full-stack CPU µs/call |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
json_rows=()
for row in "${rows[@]}"; do
  IFS='|' read -r arm peer inflight peer_rate peer_cpu replay_rate replay_cpu full_rate full_cpu <<< "$row"
  printf '| %s | %s | %s | %.0f | %.1f | %.0f | %s | %.1f | %.0f | %s | %.1f |\n' "$arm" "$peer" "$inflight" \
    "$peer_rate" "$peer_cpu" "$replay_rate" "$(ratio "$replay_rate" "$peer_rate")" "$replay_cpu" \
    "$full_rate" "$(ratio "$full_rate" "$peer_rate")" "$full_cpu"
  json_rows+=("$(printf '{"arm":"%s","peer":"%s","in_flight":"%s","peer_calls_per_s":%s,"peer_cpu_us_per_call":%s,"replay_calls_per_s":%s,"replay_client_cpu_us_per_call":%s,"full_stack_calls_per_s":%s,"full_stack_client_cpu_us_per_call":%s}' \
    "$arm" "$peer" "$inflight" "$peer_rate" "$peer_cpu" "$replay_rate" "${replay_cpu:-null}" "$full_rate" "${full_cpu:-null}")")
done
printf '| inproc | (none: generator ceiling) | %s | | | | | | %.0f | | %.1f |\n' "$concurrency" "$pb_inproc" "$cpu_inproc"

out=results/validate-generator.json
{
  printf '{\n  "command": "harness/scripts/validate-generator.sh %s %s %s",\n' "$duration" "$concurrency" "$rounds"
  printf '  "measured_at": "%s",\n  "git_commit": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- harness proto Cargo.toml Cargo.lock || echo +dirty)"
  printf '  "cpu_model": "%s",\n' "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
  printf '  "duration_s": %s,\n  "concurrency": %s,\n  "rounds": %s,\n' "$duration" "$concurrency" "$rounds"
  printf '  "generator_ceiling": {"arm":"inproc","calls_per_s":%s,"client_cpu_us_per_call":%s},\n' "$pb_inproc" "${cpu_inproc:-null}"
  printf '  "rows": [\n    %s\n  ]\n}\n' "$(IFS=$'\n'; echo "${json_rows[*]}" | paste -sd, - | sed 's/},{/},\n    {/g')"
} > "$out.tmp"
mv "$out.tmp" "$out"
echo
echo "wrote $out; \`cargo run -q -p paybench -- docs\` renders it into docs/load-generator.md"
