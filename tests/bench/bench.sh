#!/usr/bin/env bash
# The relay benchmark (run by hand; not part of ctest). On one upstream, in one run, it compares:
#   direct         wrk/curl -> upstream (HTTPS)
#   kubectl proxy  wrk/curl -> kubectl proxy (HTTP) -> upstream: the same kind of L7 relay
#   sluice         wrk/curl -> sluice-gateway (HTTPS) -> gRPC tunnel -> sluice-agent -> upstream
# Upstream for throughput and the 100 MB list: nginx serving canned JSON over TLS (it does not
# limit what is measured). For idle watches: the API-server stand-in, whose watches stay open.
# Prints a Markdown table. Usage: tests/bench/bench.sh [BUILD_DIR]   (env: BENCH_SECONDS=10,
# BENCH_WATCHES=2000, BENCH_LIST_MB=100)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
seconds=${BENCH_SECONDS:-10} watches=${BENCH_WATCHES:-2000} list_mb=${BENCH_LIST_MB:-100}
source "$root/scripts/lib/pg.sh"
source "$root/scripts/lib/standin.sh"
source "$root/scripts/lib/gateway.sh"
source "$root/tests/bench/nginx_upstream.sh"
for tool in wrk nginx python3 curl kubectl; do
  command -v $tool >/dev/null || { echo "bench.sh needs $tool (apt-get install -y wrk nginx-light nghttp2-client)" >&2; exit 2; }
done
ulimit -n 20000

work=$(mktemp -d /tmp/sluice-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  gateway_stop "$work/gw" 2>/dev/null || true
  standin_stop "$work/standin" 2>/dev/null || true
  pg_stop "$work/pg" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k/1024}'; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
reset_hwm() { echo 5 >"/proc/$1/clear_refs"; }
log() { echo "# $*" >&2; }

# --- upstream: nginx with canned JSON -------------------------------------------------------
www=$work/www
mkdir -p "$www/api/v1/namespaces/default/configmaps"
python3 - "$www" "$list_mb" <<'PY'
import json, sys
www, mb = sys.argv[1], int(sys.argv[2])
small = {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "small", "namespace": "default", "uid": "4f6c3c1e-0000-4000-8000-000000000001",
                      "resourceVersion": "1", "creationTimestamp": "2026-01-01T00:00:00Z"},
         "data": {"greeting": "hello", "mode": "bench"}}
open(f"{www}/api/v1/namespaces/default/configmaps/small", "w").write(json.dumps(small))
item = dict(small, data={"blob": "x" * 5000})
with open(f"{www}/api/v1/configmaps", "w") as f:
    f.write('{"apiVersion":"v1","kind":"ConfigMapList","metadata":{"resourceVersion":"1"},"items":[')
    n = mb * 1024 * 1024 // 5300
    for i in range(n):
        item["metadata"] = dict(small["metadata"], name=f"cm-{i}")
        f.write(("," if i else "") + json.dumps(item))
    f.write("]}")
PY
nginx_upstream_start "$build/gateway/sluice-gateway" "$work" "$www"

# --- kubectl proxy ------------------------------------------------------------------------------
proxy_port=$(free_port)
kubectl proxy --kubeconfig "$work/upstream.kubeconfig" --port "$proxy_port" >"$work/proxy.log" 2>&1 &
proxy_pid=$!; pids+=($proxy_pid)

# --- gateway + agents -----------------------------------------------------------------------------
pg_start "$work/pg" >/dev/null
export SLUICE_GATEWAY_PORT=$(free_port) SLUICE_AGENT_PORT=$(free_port)  # fixed: the gateway restarts below
gateway_setup "$build/gateway/sluice-gateway" "$work/gw" "$(cat "$work/pg/url")"
gateway_start "$build/gateway/sluice-gateway" "$work/gw"
agent_start "$build/gateway/sluice-gateway" "$build/agent/sluice-agent" "$work/gw" bench "$work/upstream.kubeconfig"
standin_start "$build/tests/apiserver-stand-in/apiserver-stand-in" "$work/standin"
agent_start "$build/gateway/sluice-gateway" "$build/agent/sluice-agent" "$work/gw" watch "$work/standin/kubeconfig"
gw_pid=$(cat "$work/gw/gateway.pid") agent_pid=$(cat "$work/gw/agent-bench.pid") watch_agent_pid=$(cat "$work/gw/agent-watch.pid")
gw_port=$(cat "$work/gw/https_port") token=$(cat "$work/gw/bot.token")
for i in $(seq 1 50); do curl -sf "http://127.0.0.1:$proxy_port/api/v1/namespaces/default/configmaps/small" >/dev/null && break; sleep 0.1; done

declare -A url=(
  [direct]="https://127.0.0.1:$nginx_port"
  [proxy]="http://127.0.0.1:$proxy_port"
  [sluice]="https://127.0.0.1:$gw_port/clusters/bench"
)
auth() { [ "$1" = sluice ] && echo "Authorization: Bearer $token" || echo "X-Bench: 1"; }

# --- BENCH_ONLY=audit: the intent audit's cost alone, variants interleaved against noise ------
# BENCH_AUDIT_VARIANTS lists audit settings ("off", "on", or key=value pairs joined by commas,
# e.g. "gather_us=0"); BENCH_AUDIT_ROUNDS runs each that many times, in turn. Prints req/s at
# c=32, PostgreSQL's CPU per request (all its processes) and requests per transaction.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.3f", v}' <<<"$1"; }
wait_gateway_ready() {
  for i in $(seq 1 100); do
    curl -sf --cacert "$work/gw/certs/ca.crt" -H "Authorization: Bearer $token" \
      "${url[sluice]}/api/v1/namespaces/default/configmaps/small" >/dev/null && return 0
    sleep 0.2
  done
  return 1
}
pg_cpu_ticks() {  # the postmaster and all its children
  local t=0 p pm; pm=$(head -1 "$(cat "$work/pg/pgdir")/data/postmaster.pid")
  for p in $pm $(pgrep -P "$pm"); do
  t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }
pg_commits() { psql "$(cat "$work/pg/url")" -qAt -c "SELECT sum(xact_commit) FROM pg_stat_database"; }
restart_gateway_with_audit() {  # VARIANT
  _stop_pidfile "$work/gw/gateway.pid"
  cp "$work/gw/gateway.yaml.base" "$work/gw/gateway.yaml"
  case "$1" in
    off) printf 'audit:\n  enabled: false\n' >>"$work/gw/gateway.yaml" ;;
    on) ;;
    *) printf 'audit:\n' >>"$work/gw/gateway.yaml"
       tr ',' '\n' <<<"$1" | sed 's/^/  /; s/=/: /' >>"$work/gw/gateway.yaml" ;;
  esac
  gateway_start "$build/gateway/sluice-gateway" "$work/gw"
  gw_pid=$(cat "$work/gw/gateway.pid")
  wait_gateway_ready
}
if [ "${BENCH_ONLY:-}" = audit ]; then
  cp "$work/gw/gateway.yaml" "$work/gw/gateway.yaml.base"
  printf '| audit | round | req/s c=32 | p99 (ms) | gateway CPU/request (us) | PostgreSQL CPU/request (us) | requests/transaction |\n|---|---|---:|---:|---:|---:|---:|\n'
  for round in $(seq 1 "${BENCH_AUDIT_ROUNDS:-3}"); do
    for v in ${BENCH_AUDIT_VARIANTS:-on off}; do
      restart_gateway_with_audit "$v"
      wrk -t 2 -c 32 -d 2s "${url[sluice]}/api/v1/namespaces/default/configmaps/small" -H "$(auth sluice)" >/dev/null
      t0=$(pg_cpu_ticks) x0=$(pg_commits) g0=$(awk '{print $14 + $15}' "/proc/$gw_pid/stat")
      out=$(wrk -t 2 -c 32 -d "${seconds}s" --latency -H "$(auth sluice)" "${url[sluice]}/api/v1/namespaces/default/configmaps/small")
      t1=$(pg_cpu_ticks) x1=$(pg_commits) g1=$(awk '{print $14 + $15}' "/proc/$gw_pid/stat")
      n=$(awk '/requests in/ {print $1}' <<<"$out")
      per_request() { awk -v t="$1" -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.0f", t*1e6/hz/n}'; }
      printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$v" "$round" "$(awk '/^Requests\/sec/ {printf "%.0f", $2}' <<<"$out")" \
        "$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")" "$(per_request $((g1 - g0)))" \
        "$(per_request $((t1 - t0)))" \
        "$(awk -v x=$((x1 - x0 - 2)) -v n="$n" -v v="$v" 'BEGIN {if (v == "off" || x <= 0) print "–"; else printf "%.1f", n/x}')"
    done
  done
  exit 0
fi

# --- BENCH_ONLY=list: the big list through sluice, BENCH_LIST_ROUNDS times (default 3); with
# BENCH_PERF=PREFIX, `perf record -g` samples the gateway and the agent during each round
# (PREFIX.gateway.N, PREFIX.agent.N) to show where the time goes.
if [ "${BENCH_ONLY:-}" = list ]; then
  printf '| round | seconds | MB/s | gateway CPU (s) | agent CPU (s) | gateway peak RSS (MB) | agent peak RSS (MB) |\n|---|---:|---:|---:|---:|---:|---:|\n'
  cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
  for round in $(seq 1 "${BENCH_LIST_ROUNDS:-3}"); do
    reset_hwm "$gw_pid"; reset_hwm "$agent_pid"
    perf_pids=()
    if [ -n "${BENCH_PERF:-}" ]; then
      perf record -q -g -o "$BENCH_PERF.gateway.$round" -p "$gw_pid" 2>/dev/null & perf_pids+=($!)
      perf record -q -g -o "$BENCH_PERF.agent.$round" -p "$agent_pid" 2>/dev/null & perf_pids+=($!)
      sleep 0.5
    fi
    g0=$(cpu_s "$gw_pid") a0=$(cpu_s "$agent_pid")
    read -r t bytes < <(curl -sS -o /dev/null --cacert "$work/gw/certs/ca.crt" -H "$(auth sluice)" \
      -w '%{time_total} %{size_download}\n' "${url[sluice]}/api/v1/configmaps")
    g1=$(cpu_s "$gw_pid") a1=$(cpu_s "$agent_pid")
    for p in "${perf_pids[@]}"; do kill -INT "$p"; wait "$p" 2>/dev/null || true; done
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$round" "$t" "$(awk -v b="$bytes" -v t="$t" 'BEGIN {printf "%.0f", b/1048576/t}')" \
      "$(awk -v a="$g0" -v b="$g1" 'BEGIN {printf "%.2f", b-a}')" "$(awk -v a="$a0" -v b="$a1" 'BEGIN {printf "%.2f", b-a}')" \
      "$(mb "$(hwm_kb "$gw_pid")")" "$(mb "$(hwm_kb "$agent_pid")")"
  done
  exit 0
fi

# --- memory per idle watch (first, while the heaps are fresh) ------------------------------------
# measure_watches PID... -- MODE PORT PATH: RSS growth per watch of each PID with $watches open.
measure_watches() {
  local pids_=() before=() after=() i
  while [ "$1" != -- ]; do pids_+=("$1"); shift; done; shift
  local mode=$1 port=$2 path=$3
  sleep 1
  for i in "${!pids_[@]}"; do before[$i]=$(rss_kb "${pids_[$i]}"); done
  log "opening $watches idle watches ($mode)"
  coproc WATCHERS { /usr/bin/python3 "$root/tests/bench/watch_clients.py" 127.0.0.1 "$port" "$work/gw/certs/ca.crt" "$token" \
    "$path" "$watches" "$mode"; }
  read -r line <&"${WATCHERS[0]}"
  [ "$line" = "open $watches" ] || { echo "watch clients: $line" >&2; exit 1; }
  sleep 3
  for i in "${!pids_[@]}"; do after[$i]=$(rss_kb "${pids_[$i]}"); done
  exec {WATCHERS[1]}>&-
  wait "$WATCHERS_PID" 2>/dev/null || true
  per_watch=()
  for i in "${!pids_[@]}"; do per_watch[$i]=$(( (after[$i] - before[$i]) * 1024 / watches )); done
}
restart_watch_side() {  # a fresh gateway and watch agent: the next measurement starts from clean heaps
  _stop_pidfile "$work/gw/agent-watch.pid"
  _stop_pidfile "$work/gw/gateway.pid"
  gateway_start "$build/gateway/sluice-gateway" "$work/gw"
  agent_start "$build/gateway/sluice-gateway" "$build/agent/sluice-agent" "$work/gw" watch "$work/standin/kubeconfig"
  gw_pid=$(cat "$work/gw/gateway.pid") watch_agent_pid=$(cat "$work/gw/agent-watch.pid")
  wait_gateway_ready || { echo "bench.sh: the restarted gateway does not answer" >&2; exit 1; }
}
watch_path=/clusters/watch/api/v1/namespaces/default/configmaps?watch=true
measure_watches "$gw_pid" "$watch_agent_pid" -- h2 "$gw_port" "$watch_path"
per_watch_gw_h2=${per_watch[0]} per_watch_agent_h2=${per_watch[1]}
restart_watch_side
measure_watches "$gw_pid" "$watch_agent_pid" -- http1 "$gw_port" "$watch_path"
per_watch_gw=${per_watch[0]} per_watch_agent=${per_watch[1]}
# kubectl proxy to the same stand-in, its clients on plain HTTP/1.1 (it speaks h2 to the cluster)
watch_proxy_port=$(free_port)
kubectl proxy --kubeconfig "$work/standin/kubeconfig" --port "$watch_proxy_port" >"$work/watch-proxy.log" 2>&1 &
watch_proxy_pid=$!; pids+=($watch_proxy_pid)
for i in $(seq 1 50); do curl -sf "http://127.0.0.1:$watch_proxy_port/api/v1/namespaces" >/dev/null && break; sleep 0.1; done
measure_watches "$watch_proxy_pid" -- plain "$watch_proxy_port" /api/v1/namespaces/default/configmaps?watch=true
per_watch_proxy=${per_watch[0]}

# --- a fresh gateway for the rest, so the watches' heap does not hide the list's peak ----------
log "restarting the gateway; agents reconnect"
_stop_pidfile "$work/gw/gateway.pid"
gateway_start "$build/gateway/sluice-gateway" "$work/gw"
gw_pid=$(cat "$work/gw/gateway.pid")
wait_gateway_ready || { echo "bench.sh: the restarted gateway does not answer" >&2; exit 1; }

# --- the big list (before wrk: peak RSS of fresh processes) -------------------------------------
declare -A list_s
for path in direct proxy sluice; do
  reset_hwm "$gw_pid"; reset_hwm "$agent_pid"; reset_hwm "$proxy_pid"
  log "$list_mb MB list via $path"
  list_s[$path]=$(curl -sS -o /dev/null --cacert "$work/up-certs/ca.crt" --cacert "$work/gw/certs/ca.crt" -k \
    -H "$(auth $path)" -w '%{time_total} %{size_download}' "${url[$path]}/api/v1/configmaps")
  [ "$path" = proxy ] && proxy_hwm=$(hwm_kb "$proxy_pid")
  [ "$path" = sluice ] && { gw_hwm=$(hwm_kb "$gw_pid"); agent_hwm=$(hwm_kb "$agent_pid"); }
done

# --- small GET: latency and throughput ---------------------------------------------------------
declare -A p50 p99 rps
for path in direct proxy sluice; do
  for c in 1 32; do
    log "wrk $path c=$c for ${seconds}s"
    out=$(wrk -t $([ $c = 1 ] && echo 1 || echo 2) -c $c -d "${seconds}s" --latency -H "$(auth $path)" \
      "${url[$path]}/api/v1/namespaces/default/configmaps/small")
    p50[$path.$c]=$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")")
    p99[$path.$c]=$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")
    rps[$path.$c]=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
    errors=$(grep -E "Non-2xx|Socket errors" <<<"$out" || true)
    [ -z "$errors" ] || log "$path c=$c: $errors"
  done
done

# --- small GET over h2 (client-go's protocol): 32 streams on 4 connections -----------------------
# h2load is nghttp2-client's; nginx here and kubectl proxy serve HTTP/1.1 to it only, so the
# comparison is their HTTP/1.1 row above.
rps[sluice_h2.32]="–"
if command -v h2load >/dev/null; then
  log "h2load sluice 32 streams for ${seconds}s"
  out=$(h2load -D "$seconds" -c 4 -m 8 -t 1 -H "$(auth sluice)" "${url[sluice]}/api/v1/namespaces/default/configmaps/small" 2>&1)
  rps[sluice_h2.32]=$(awk '/^finished in/ {v=$4; gsub(",", "", v); printf "%.0f", v}' <<<"$out")
  grep -q "^status codes: [0-9]* 2xx, 0 3xx, 0 4xx, 0 5xx" <<<"$out" || log "h2load: $(grep -E '^(requests|status codes)' <<<"$out")"
fi

# --- the cost of the intent audit: the same c=32 run with audit.enabled false -------------------
log "restarting the gateway with the intent audit off"
audit_rows=$(psql "$(cat "$work/pg/url")" -qAt -c "SELECT count(*) FROM audit_events" 2>/dev/null || echo "?")
_stop_pidfile "$work/gw/gateway.pid"
printf 'audit:\n  enabled: false\n' >>"$work/gw/gateway.yaml"
gateway_start "$build/gateway/sluice-gateway" "$work/gw"
wait_gateway_ready || { echo "bench.sh: the restarted gateway does not answer" >&2; exit 1; }
out=$(wrk -t 1 -c 1 -d "${seconds}s" --latency -H "$(auth sluice)" "${url[sluice]}/api/v1/namespaces/default/configmaps/small")
p50[noaudit.1]=$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")")
out=$(wrk -t 2 -c 32 -d "${seconds}s" --latency -H "$(auth sluice)" "${url[sluice]}/api/v1/namespaces/default/configmaps/small")
p99[noaudit.32]=$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")
rps[noaudit.32]=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' <<<"$out")

size=$(awk '{printf "%.0f", $2/1048576}' <<<"${list_s[direct]}")
cat <<TABLE

Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(date -u +%Y-%m-%d). Upstream: nginx $(nginx -v 2>&1 | sed 's/.*\///') (TLS); wrk ${seconds}s per cell.

| small GET (~300 B)          | direct | kubectl proxy | sluice gateway+agent |
|-----------------------------|-------:|--------------:|---------------------:|
| p50 latency, c=1 (ms)       | ${p50[direct.1]} | ${p50[proxy.1]} | ${p50[sluice.1]} |
| p99 latency, c=1 (ms)       | ${p99[direct.1]} | ${p99[proxy.1]} | ${p99[sluice.1]} |
| p50 latency, c=32 (ms)      | ${p50[direct.32]} | ${p50[proxy.32]} | ${p50[sluice.32]} |
| p99 latency, c=32 (ms)      | ${p99[direct.32]} | ${p99[proxy.32]} | ${p99[sluice.32]} |
| requests/s, c=1             | ${rps[direct.1]} | ${rps[proxy.1]} | ${rps[sluice.1]} |
| requests/s, c=32            | ${rps[direct.32]} | ${rps[proxy.32]} | ${rps[sluice.32]} |
| requests/s, 32 h2 streams   | – | – | ${rps[sluice_h2.32]} |
| ${size} MB list: seconds         | $(cut -d' ' -f1 <<<"${list_s[direct]}") | $(cut -d' ' -f1 <<<"${list_s[proxy]}") | $(cut -d' ' -f1 <<<"${list_s[sluice]}") |
| ${size} MB list: peak RSS (MB)   | – | $(mb "$proxy_hwm") | gateway $(mb "$gw_hwm"), agent $(mb "$agent_hwm") |

Idle watches ($watches through one tunnel to the stand-in), RSS growth per watch: over h2 (streams of $(( (watches + 999) / 1000 )) connections) gateway $per_watch_gw_h2 B + agent $per_watch_agent_h2 B = $((per_watch_gw_h2 + per_watch_agent_h2)) B; over HTTP/1.1 (a TLS connection each) gateway $per_watch_gw B + agent $per_watch_agent B = $((per_watch_gw + per_watch_agent)) B; kubectl proxy (plain HTTP/1.1 clients) $per_watch_proxy B.
Intent audit at c=32: on ${rps[sluice.32]} req/s (p99 ${p99[sluice.32]} ms), off ${rps[noaudit.32]} req/s (p99 ${p99[noaudit.32]} ms): audit costs $(awk -v on="${rps[sluice.32]}" -v off="${rps[noaudit.32]}" 'BEGIN {printf "%.1f", (off-on)*100/off}') % of throughput ($audit_rows rows written in the run).
Added p50 latency over direct at c=1: $(awk -v a="${p50[sluice.1]}" -v b="${p50[direct.1]}" 'BEGIN {printf "%.3f", a-b}') ms with the intent audit, $(awk -v a="${p50[noaudit.1]}" -v b="${p50[direct.1]}" 'BEGIN {printf "%.3f", a-b}') ms without (kubectl proxy: $(awk -v a="${p50[proxy.1]}" -v b="${p50[direct.1]}" 'BEGIN {printf "%.3f", a-b}') ms).
TABLE
