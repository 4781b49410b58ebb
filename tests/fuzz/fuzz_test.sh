#!/usr/bin/env bash
# A short fuzz run, part of the suite: FUZZER SEEDS_FILE SECONDS. The seeds file holds one input per
# line; a crash or a broken invariant (abort) fails the test, and libFuzzer leaves the input in $work.
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
i=0
while IFS= read -r line; do printf '%s' "$line" >"$work/corpus/seed-$i"; i=$((i + 1)); done <"$seeds"
cd "$work"
help=$("$fuzzer" -help=1 2>&1 || true)
if grep -q max_total_time <<<"$help"; then
  "$fuzzer" -max_total_time="$seconds" -max_len=512 -print_final_stats=1 corpus 2>"$work/fuzz.log" ||
    { tail -40 "$work/fuzz.log"; for c in "$work"/crash-*; do [ -f "$c" ] && { echo "crashing input (base64): $(base64 -w0 "$c")"; }; done; exit 1; }
  grep -E '^(stat::|Done)' "$work/fuzz.log"
else
  "$fuzzer" -runs=$((seconds * 20000)) corpus
fi
