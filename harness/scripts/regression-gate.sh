#!/usr/bin/env bash
# Instruction-count regression gate: runs benches/instructions.rs under callgrind (gungraun) and
# compares every count with the committed baseline through `paybench compare` (threshold:
# harness/compare.toml, instructions_pct, 2 % by default).
#
# Usage: harness/scripts/regression-gate.sh [--update] [--baseline FILE] [--features LIST] [FILTER]
#        harness/scripts/regression-gate.sh --self-test
#   --self-test      prove the gate bites: harness/tests/compare_gate.rs injects a real slowdown
#                    (feature paybench/inject-slowdown) and checks that the gate and compare fail,
#                    and pass without it; then runs the gate as usual
#   --update         rewrite the baseline from this run instead of comparing (commit the result)
#   --baseline FILE  baseline to compare with / write (default benches/baselines/instructions.json)
#   --features LIST  cargo features for the bench build, e.g. paybench/inject-slowdown (self-test)
#   FILTER           gungraun filter over `instructions::GROUP::FUNCTION::ID`, e.g.
#                    'instructions::codec::encode_*'; a filtered run needs a baseline of the same set
# Env: PAYBENCH_GATE_DIR  where gungraun writes (default target/regression-gate); emptied first so
#                         no stale summary of a removed bench is compared.
#      PAYBENCH_GATE_FORMAT  compare's output format (default table; markdown for a CI comment).
#
# Exit status: that of `paybench compare`: 0 nothing regressed, 1 regressed, 2 error,
# 3 baseline missing or not comparable (different bench set). 2 also when valgrind or
# gungraun-runner is missing (harness/scripts/install-deps.sh installs both); 4 when --self-test
# fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

baseline=benches/baselines/instructions.json
features=""
update=0
self_test=0
filter=()
while [ $# -gt 0 ]; do
  case "$1" in
    --update) update=1 ;;
    --self-test) self_test=1 ;;
    --baseline) baseline="$2"; shift ;;
    --features) features="$2"; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    -*) echo "regression-gate: unknown option $1" >&2; exit 2 ;;
    *) filter=("$1") ;;
  esac
  shift
done

for tool in valgrind gungraun-runner; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "regression-gate: $tool not found; run harness/scripts/install-deps.sh" >&2
    exit 2
  fi
done

started=$(date +%s)
if [ "$self_test" = 1 ]; then
  echo "regression-gate: self-test (injected slowdown must fail the gate)" >&2
  cargo test --quiet -p paybench --test compare_gate -- --ignored --nocapture || {
    echo "regression-gate: self-test FAILED: the gate does not catch an injected slowdown" >&2
    exit 4
  }
  echo "regression-gate: self-test passed in $(( $(date +%s) - started )) s" >&2
fi
gate_dir="${PAYBENCH_GATE_DIR:-target/regression-gate}"
rm -rf "$gate_dir"
mkdir -p "$gate_dir"
gate_dir="$(cd "$gate_dir" && pwd)"
feature_args=()
[ -n "$features" ] && feature_args=(--features "$features")

echo "regression-gate: cargo bench --bench instructions ${feature_args[*]} ${filter[*]:-}" >&2
# GUNGRAUN_HOME keeps this run's summaries apart from interactive `cargo bench` runs; the summary
# JSON is what `paybench compare` reads.
GUNGRAUN_HOME="$gate_dir/gungraun" GUNGRAUN_SAVE_SUMMARY=json \
  cargo bench --quiet --bench instructions "${feature_args[@]}" -- "${filter[@]}" >"$gate_dir/bench.log" 2>&1 || {
    echo "regression-gate: the instruction benches failed; log: $gate_dir/bench.log" >&2
    tail -20 "$gate_dir/bench.log" >&2
    exit 2
  }

cargo build --quiet -p paybench --bin paybench
paybench=target/debug/paybench
[ -n "${CARGO_TARGET_DIR:-}" ] && paybench="$CARGO_TARGET_DIR/debug/paybench"
snapshot="$gate_dir/instructions.json"
"$paybench" compare --snapshot-instructions "$gate_dir/gungraun" --output "$snapshot"

if [ "$update" = 1 ]; then
  mkdir -p "$(dirname "$baseline")"
  cp "$snapshot" "$baseline"
  echo "regression-gate: wrote $baseline ($(( $(date +%s) - started )) s)" >&2
  exit 0
fi

status=0
"$paybench" compare "$baseline" "$snapshot" --format "${PAYBENCH_GATE_FORMAT:-table}" || status=$?
count=$(grep -c '": [0-9]' "$snapshot" || true)
case "$status" in
  0) verdict="pass: no instruction count rose beyond the threshold" ;;
  1) verdict="FAIL: instruction counts regressed" ;;
  3) verdict="FAIL: baseline missing or not comparable (update it with --update if the bench set changed on purpose)" ;;
  *) verdict="FAIL: error ($status)" ;;
esac
echo "regression-gate: checked $count instruction counts against $baseline in $(( $(date +%s) - started )) s; $verdict" >&2
exit "$status"
