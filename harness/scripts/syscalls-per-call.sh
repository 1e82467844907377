#!/usr/bin/env bash
# Where an arm's unloaded latency goes: socket syscalls per call at one call in flight.
#
# Runs `paybench run` under `strace -f -c` for each direct arm (closed loop, concurrency 1,
# typical profile, 2 s) and divides the syscall counts by the calls the run accounted for. Every
# extra writev/recvfrom pair is one more loopback segment and one more epoll wake-up on each side,
# which is what separates the HTTP/2 arms from the HTTP/1.1 and raw-TCP arms at low load.
# strace slows the process, so read the counts, not the call rates.
#
# Usage: harness/scripts/syscalls-per-call.sh [transport ...]   (default: all direct arms)
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v strace >/dev/null || { echo "syscalls-per-call: strace is not installed (apt-get install strace)" >&2; exit 2; }
arms=("$@")
[ ${#arms[@]} -gt 0 ] || arms=(tcp rest rest-proto rest-h2 grpc-json grpc)
cargo build --release -q -p paybench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
list=$(printf '"%s", ' "${arms[@]}")
cat > "$work/c1.toml" <<TOML
name = "syscalls-c1"
description = "one call in flight, for counting syscalls per call"
transports = [${list%, }]
profiles = ["typical"]
repetitions = 1
warmup_ms = 200
duration_ms = 2000
timeout_ms = 5000

[[load]]
model = "closed"
concurrency = 1
TOML
echo "| transport | calls | writev / call | recvfrom / call | epoll_wait / call |"
echo "|---|---:|---:|---:|---:|"
for t in "${arms[@]}"; do
  strace -f -c -o "$work/$t.strace" ./target/release/paybench run "$work/c1.toml" --transports "$t" --out "$work/$t" >/dev/null 2>&1
  python3 - "$t" "$work" <<'PY'
import json, sys
t, work = sys.argv[1], sys.argv[2]
calls = json.load(open(f"{work}/{t}/results.json"))["arms"][0]["points"][0]["repetitions"][0]["accounting"]["sent"]
counts = {}
for line in open(f"{work}/{t}.strace"):
    p = line.split()
    if len(p) >= 5 and p[3].isdigit():
        counts[p[-1]] = int(p[3])
print(f"| {t} | {calls} | " + " | ".join(f"{counts.get(k, 0) / calls:.2f}" for k in ("writev", "recvfrom", "epoll_wait")) + " |")
PY
done
