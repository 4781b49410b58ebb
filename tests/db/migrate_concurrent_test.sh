#!/usr/bin/env bash
# `sluice-gateway migrate` run by several processes at once: all succeed, exactly one applies.
set -euo pipefail
gateway=$1 state=$2
url=$(cat "$state/url")
db="mig_$$_$RANDOM"
psql "$url" -qAt -c "CREATE DATABASE $db" >/dev/null
target="$url dbname=$db"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pids=()
for i in 1 2 3 4 5; do
  "$gateway" migrate --database "$target" >"$out/$i.out" 2>"$out/$i.err" &
  pids+=($!)
done
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then echo "FAIL: migrate run $((i + 1)) failed:"; cat "$out/$((i + 1)).err"; exit 1; fi
done
applied=$(cat "$out"/*.out | grep -c '^applied' || true)
uptodate=$(cat "$out"/*.out | grep -c '^schema is up to date' || true)
echo "runs that applied: $applied, runs that found the schema current: $uptodate"
[ "$applied" = 1 ] || { echo "FAIL: expected exactly one run to apply"; cat "$out"/*.out; exit 1; }
[ "$uptodate" = 4 ] || { echo "FAIL: expected four runs to find nothing to do"; exit 1; }
versions=$(psql "$target" -qAt -c "SELECT count(*) FROM schema_migrations")
files=$(ls "$(dirname "$0")/../../migrations/"*.sql | wc -l)
[ "$versions" = "$files" ] || { echo "FAIL: schema_migrations has $versions rows, migrations/ has $files files"; exit 1; }
"$gateway" migrate --database "$target" | grep -q '^schema is up to date' || { echo "FAIL: a later run was not idempotent"; exit 1; }
if "$gateway" migrate >/dev/null 2>"$out/nourl.err"; then echo "FAIL: migrate without a database succeeded"; exit 1; fi
grep -q -- '--database URL is required' "$out/nourl.err" || { echo "FAIL: unclear error without --database"; exit 1; }
echo PASS
