#!/usr/bin/env bash
# The masking and recording benchmark (run by hand; not part of ctest). One gateway, one agent, an
# nginx upstream serving canned lists over TLS:
#   - a 100 MB list of 20,000 Secrets (every value masked) and a 100 MB list of pods (nothing to
#     mask: passed through unparsed) through the gateway, with the gateway's peak RSS;
#   - the same lists and small GETs (wrk, c=32) with recording on and off, interleaved.
# Also the masker alone (build/tests/masking_bench). Prints Markdown tables.
# Usage: tests/bench/masking_bench.sh [BUILD_DIR]   (needs: apt-get install -y wrk nginx-light)
#   BENCH_ROUNDS=2, BENCH_SECONDS=10 (wrk), BENCH_LISTS="secrets pods" ("pods" alone: the small-GET
#   comparison runs with the pods list)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
seconds=${BENCH_SECONDS:-10} rounds=${BENCH_ROUNDS:-2} lists=${BENCH_LISTS:-secrets pods}
source "$root/scripts/lib/pg.sh"
source "$root/scripts/lib/gateway.sh"
source "$root/tests/bench/nginx_upstream.sh"
for tool in wrk nginx python3 curl; do
  command -v $tool >/dev/null || { echo "masking_bench.sh needs $tool (apt-get install -y wrk nginx-light)" >&2; exit 2; }
done
work=$(mktemp -d /tmp/sluice-mbench.XXXXXX)
chmod 755 "$work"
cleanup() {
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  gateway_stop "$work/gw" 2>/dev/null || true
  pg_stop "$work/pg" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hwm_mb() { awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
reset_hwm() { echo 5 >"/proc/$1/clear_refs"; }
log() { echo "# $*" >&2; }

www=$work/www
mkdir -p "$www/api/v1/namespaces/default/configmaps"
python3 "$root/tests/gateway/make_lists.py" "$www" 20000
echo '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"small","namespace":"default"},"data":{"a":"b"}}' \
  >"$www/api/v1/namespaces/default/configmaps/small"
nginx_upstream_start "$build/gateway/sluice-gateway" "$work" "$www"

pg_start "$work/pg" >/dev/null
export SLUICE_GATEWAY_PORT=$(free_port) SLUICE_AGENT_PORT=$(free_port)
gateway_setup "$build/gateway/sluice-gateway" "$work/gw" "$(cat "$work/pg/url")"
cp "$work/gw/gateway.yaml" "$work/gateway.base.yaml"
start_gateway() {  # on|off: recording
  cp "$work/gateway.base.yaml" "$work/gw/gateway.yaml"
  printf 'recording:\n  enabled: %s\n' "$([ "$1" = on ] && echo true || echo false)" >>"$work/gw/gateway.yaml"
  gateway_start "$build/gateway/sluice-gateway" "$work/gw"
  [ -f "$work/gw/agent-bench.pid" ] || agent_start "$build/gateway/sluice-gateway" "$build/agent/sluice-agent" "$work/gw" bench "$work/upstream.kubeconfig"
  for i in $(seq 1 100); do get /api/v1/namespaces/default/configmaps/small >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "the gateway did not come up" >&2; return 1
}
stop_gateway() { _stop_pidfile "$work/gw/gateway.pid"; }
base() { echo "https://127.0.0.1:$(cat "$work/gw/https_port")/clusters/bench"; }
get() { curl -sf --cacert "$work/gw/certs/ca.crt" -H "Authorization: Bearer $(cat "$work/gw/bot.token")" -o /dev/null -w '%{time_total} %{size_download}' "$(base)$1"; }
direct() { curl -sf --cacert "$work/up-certs/ca.crt" -o /dev/null -w '%{time_total}' "https://127.0.0.1:$nginx_port$1"; }

echo "## The masker alone (64 KiB pieces, best of 3)"
"$build/tests/masking_bench" "$www/api/v1/secrets" secrets
"$build/tests/masking_bench" "$www/api/v1/pods" pods-env
echo
echo "## Through gateway and agent (MB/s of the upstream's bytes; peak RSS of the gateway)"
echo "| round | recording | list | direct s | sluice s | MB/s | bytes to client | gateway peak RSS MB | small GET req/s c=32 |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|"
for r in $(seq 1 "$rounds"); do
  for rec in on off; do
    start_gateway "$rec"
    pid=$(cat "$work/gw/gateway.pid")
    for list in $lists; do
      d=$(direct "/api/v1/$list")
      reset_hwm "$pid"
      read -r t size <<<"$(get "/api/v1/$list")"
      mbs=$(awk -v b="$(stat -c %s "$www/api/v1/$list")" -v t="$t" 'BEGIN {printf "%.0f", b / 1e6 / t}')
      rps=""
      if [ "$list" = pods ]; then
        rps=$(wrk -t2 -c32 -d"${seconds}s" -H "Authorization: Bearer $(cat "$work/gw/bot.token")" \
              "$(base)/api/v1/namespaces/default/configmaps/small" | awk '/Requests\/sec/ {printf "%.0f", $2}')
      fi
      echo "| $r | $rec | $list | $d | $t | $mbs | $size | $(hwm_mb "$pid") | $rps |"
    done
    stop_gateway
  done
done
