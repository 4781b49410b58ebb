#!/usr/bin/env bash
# Approval latency (run by hand; not part of ctest): from the moment a reviewer's approve call
# starts to the moment the held client has its response. N requests (default 200), one at a
# time: each is held, found in PostgreSQL, approved through the REST API, and the held curl's
# completion time recorded.
# Everything (PostgreSQL, stand-in, gateway, agent, curl) runs on this machine.
# Usage: tests/bench/approval_bench.sh [BUILD_DIR]   (env: BENCH_APPROVALS=200)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
n=${BENCH_APPROVALS:-200}
source "$root/scripts/lib/pg.sh"
source "$root/scripts/lib/standin.sh"
source "$root/scripts/lib/gateway.sh"
work=$(mktemp -d /tmp/sluice-approval-bench.XXXXXX)
chmod 755 "$work"
cleanup() {
  gateway_stop "$work/gw" 2>/dev/null || true
  standin_stop "$work/standin" 2>/dev/null || true
  pg_stop "$work/pg" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
gw=$build/gateway/sluice-gateway
pg_start "$work/pg" >/dev/null
db=$(cat "$work/pg/url")
standin_start "$build/tests/apiserver-stand-in/apiserver-stand-in" "$work/standin"
gateway_setup "$gw" "$work/gw" "$db"
cat >"$work/gw/policy.yaml" <<'YAML'
rules:
  - name: bench
    match: {verbs: [create], resources: [configmaps], namespaces: [default]}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m}
YAML
printf 'policy:\n  file: policy.yaml\n' >>"$work/gw/gateway.yaml"
gateway_start "$gw" "$work/gw"
agent_start "$gw" "$build/agent/sluice-agent" "$work/gw" bench "$work/standin/kubeconfig"
base="https://127.0.0.1:$(cat "$work/gw/https_port")"
ca=$work/gw/certs/ca.crt bot=$(cat "$work/gw/bot.token") reviewer=$(cat "$work/gw/reviewer.token")
until curl -sf --cacert "$ca" -H "Authorization: Bearer $bot" "$base/clusters/bench/api/v1/namespaces" >/dev/null; do sleep 0.2; done

now_ns() { date +%s%N; }
: >"$work/latencies"
for i in $(seq 1 "$n"); do
  ( curl -sS --cacert "$ca" -H "Authorization: Bearer $bot" -H 'Content-Type: application/json' -o /dev/null \
      -w '%{http_code}' -d "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"bench-$i\"}}" \
      "$base/clusters/bench/api/v1/namespaces/default/configmaps" >"$work/code"; now_ns >"$work/done" ) &
  held=$!
  id=""
  until [ -n "$id" ]; do
    id=$(psql "$db" -qAt -c "SELECT id FROM approval_requests WHERE state = 'pending' LIMIT 1")
    [ -n "$id" ] || sleep 0.005
  done
  rm -f "$work/done"
  t0=$(now_ns)
  curl -sS --cacert "$ca" -H "Authorization: Bearer $reviewer" -o /dev/null -X POST -d '{}' "$base/api/v1/approvals/$id/approve"
  t_vote=$(now_ns)
  wait $held
  [ "$(cat "$work/code")" = 201 ] || { echo "request $i: HTTP $(cat "$work/code")" >&2; exit 1; }
  echo "$(( ($(cat "$work/done") - t0) / 1000 )) $(( (t_vote - t0) / 1000 ))" >>"$work/latencies"
done
pct() { sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int(NR*p/100+0.999); if (i<1) i=1; printf "%.1f", a[i]/1000}'; }
echo "| $n approvals | p50 (ms) | p99 (ms) | max (ms) |"
echo "|---|---:|---:|---:|"
echo "| approve call starts -> held response complete | $(cut -d' ' -f1 "$work/latencies" | pct 50) | $(cut -d' ' -f1 "$work/latencies" | pct 99) | $(cut -d' ' -f1 "$work/latencies" | pct 100) |"
echo "| the approve call alone | $(cut -d' ' -f2 "$work/latencies" | pct 50) | $(cut -d' ' -f2 "$work/latencies" | pct 99) | $(cut -d' ' -f2 "$work/latencies" | pct 100) |"
