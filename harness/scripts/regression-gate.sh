#!/usr/bin/env bash
# Instruction-count regression gate: runs benches/instructions.rs under callgrind (gungraun) and
# compares every count with the committed baseline through `paybench compare` (threshold:
# harness/compare.toml, instructions_pct, 2 % by default).
#
# Usage: harness/scripts/regression-gate.sh [--update] [--baseline FILE] [--features LIST] [FILTER]
#        harness/scripts/regression-gate.sh --self-test
#        harness/scripts/regression-gate.sh --noise N
#   --noise N        measure the gate's run-to-run noise: run the benches N times on unchanged code,
#                    compare each run with the baseline, print the largest drift seen and how many
#                    runs the gate flagged (it should flag none)
#   --self-test      prove the gate bites: harness/tests/compare_gate.rs injects a real slowdown
#                    (feature paybench/inject-slowdown) and checks that the gate and compare fail,
#                    and pass without it; then runs the gate as usual
#   --update         rewrite the baseline from this run instead of comparing (commit the result)
#   --baseline FILE  baseline to compare with / write (default benches/baselines/instructions.json)
#   --features LIST  cargo features for the bench build, e.g. paybench/inject-slowdown (self-test)
#   FILTER           gungraun filter over `instructions::GROUP::FUNCTION::ID`, e.g.
#                    'instructions::codec::encode::*'; a filtered run needs a baseline of the same set
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
noise_runs=0
filter=()
while [ $# -gt 0 ]; do
  case "$1" in
    --update) update=1 ;;
    --self-test) self_test=1 ;;
    --noise) noise_runs="$2"; shift ;;
    --baseline) baseline="$2"; shift ;;
    --features) features="$2"; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
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
feature_args=()
[ -n "$features" ] && feature_args=(--features "$features")

# Runs the benches into $1 and writes $1/instructions.json.
run_benches() {
  local dir="$1"
  rm -rf "$dir"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  echo "regression-gate: cargo bench --bench instructions ${feature_args[*]} ${filter[*]:-}" >&2
  # GUNGRAUN_HOME keeps this run's summaries apart from interactive `cargo bench` runs; the summary
  # JSON is what `paybench compare` reads.
  GUNGRAUN_HOME="$dir/gungraun" GUNGRAUN_SAVE_SUMMARY=json \
    cargo bench --quiet --bench instructions "${feature_args[@]}" -- "${filter[@]}" >"$dir/bench.log" 2>&1 || {
      echo "regression-gate: the instruction benches failed; log: $dir/bench.log" >&2
      tail -20 "$dir/bench.log" >&2
      exit 2
    }
  "$compare" --snapshot-instructions "$dir/gungraun" --output "$dir/instructions.json"
}

# `paybench-compare` is `paybench compare` built from the model and report crates only: the gate
# reads counts and results without compiling any transport.
cargo build --quiet -p paybench-report --bin paybench-compare
compare="${CARGO_TARGET_DIR:-target}/debug/paybench-compare"
run_benches "$gate_dir"
snapshot="$gate_dir/instructions.json"

if [ "$update" = 1 ]; then
  mkdir -p "$(dirname "$baseline")"
  cp "$snapshot" "$baseline"
  echo "regression-gate: wrote $baseline ($(( $(date +%s) - started )) s)" >&2
  exit 0
fi

if [ "$noise_runs" -gt 0 ]; then
  # Run 0 above is discarded as warm-up of the build; each further run is compared with the baseline.
  max_drift=0; flagged=0
  for i in $(seq 1 "$noise_runs"); do
    run_benches "$gate_dir/noise-$i"
    code=0
    "$compare" "$baseline" "$gate_dir/noise-$i/instructions.json" --format json \
      --output "$gate_dir/noise-$i/compare.json" 2>/dev/null || code=$?
    [ "$code" -gt 1 ] && { echo "regression-gate: compare failed ($code) on run $i" >&2; exit "$code"; }
    [ "$code" = 1 ] && flagged=$((flagged + 1))
    drift=$(sed -n 's/.*"max_abs_change_pct": *\([0-9.e+-]*\).*/\1/p' "$gate_dir/noise-$i/compare.json")
    drift=$(awk -v d="$drift" 'BEGIN { printf "%.3f", d }')
    echo "regression-gate: noise run $i: largest |change| ${drift}%, exit $code" >&2
    max_drift=$(awk -v a="$max_drift" -v b="$drift" 'BEGIN { print (b > a) ? b : a }')
  done
  echo "regression-gate: noise over $noise_runs unchanged runs against $baseline: largest instruction-count drift ${max_drift}%, flagged $flagged of $noise_runs runs ($(( $(date +%s) - started )) s)"
  exit 0
fi

status=0
"$compare" "$baseline" "$snapshot" --format "${PAYBENCH_GATE_FORMAT:-table}" || status=$?
count=$(grep -c '": [0-9]' "$snapshot" || true)
case "$status" in
  0) verdict="pass: no instruction count rose beyond the threshold" ;;
  1) verdict="FAIL: instruction counts regressed" ;;
  3) verdict="FAIL: baseline missing or not comparable (update it with --update if the bench set changed on purpose)" ;;
  *) verdict="FAIL: error ($status)" ;;
esac
echo "regression-gate: checked $count instruction counts against $baseline in $(( $(date +%s) - started )) s; $verdict" >&2
exit "$status"
