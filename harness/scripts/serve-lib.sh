# Sourced by the validation scripts: one `paybench serve` at a time, alone on CPU 1.
# Needs $bin (the paybench binary) and $tmp (a scratch folder); sets $addr and $server_pid.

# Starts `paybench serve $1` on CPU 1 with one thread and waits for its `serving ... on ADDR` line
# (10 s at most); exits 2, quoting its output, if it does not come.
start_server() {
  taskset -c 1 "$bin" serve "$1" --threads 1 > "$tmp/serve.out" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    addr="$(awk '/^serving/{print $4}' "$tmp/serve.out")"
    [ -n "$addr" ] && return 0
    sleep 0.1
  done
  echo "$(basename "$0"): server for $1 did not start: $(cat "$tmp/serve.out")" >&2
  exit 2
}

stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""; }
