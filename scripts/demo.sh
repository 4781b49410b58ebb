#!/usr/bin/env bash
# The main job on one machine: installs packages, builds, starts a throwaway PostgreSQL (schema
# migrated), the Kubernetes API-server stand-in, sluice-gateway and a sluice-agent for cluster
# "demo", and prints a kubeconfig that goes kubectl -> gateway -> tunnel -> agent -> cluster.
#
#   scripts/demo.sh                     run in the foreground; Ctrl-C stops everything
#   scripts/demo.sh --detach            start in the background; writes .demo/env
#   scripts/demo.sh --stop              stop what --detach started
#   scripts/demo.sh --kubeconfig FILE   the agent relays to that cluster instead of the stand-in
#                                       (its identity needs RBAC to impersonate users and groups)
#
# .demo/env is shell-sourceable: KUBECONFIG (through the gateway, as the bot), SLUICE_SERVER,
# SLUICE_TOKEN_FILE and SLUICE_CA_FILE (the reviewer, for approvals/approve/reject),
# SLUICE_GATEWAY_CONFIG, SLUICE_DATABASE_URL, ports and PIDs.
# SLUICE_DEMO_DIR and SLUICE_BUILD_DIR override .demo/ and build/; SLUICE_GATEWAY_PORT and
# SLUICE_AGENT_PORT fix the gateway's ports (default: free ones).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib/deps.sh"
source "$root/scripts/lib/pg.sh"
source "$root/scripts/lib/standin.sh"
source "$root/scripts/lib/gateway.sh"
state=${SLUICE_DEMO_DIR:-$root/.demo}
build_dir=${SLUICE_BUILD_DIR:-$root/build}

mode=foreground kubeconfig=""
while [ $# -gt 0 ]; do
  case "$1" in
    --detach) mode=detach ;;
    --stop) mode=stop ;;
    --kubeconfig) [ $# -ge 2 ] || { echo "demo.sh: --kubeconfig needs a file" >&2; exit 2; }; kubeconfig=$2; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

stop_all() {
  gateway_stop "$state/gateway" 2>/dev/null || true
  standin_stop "$state/standin" 2>/dev/null || true
  pg_stop "$state/pg" 2>/dev/null || true
  rm -f "$state/env"
}

if [ "$mode" = stop ]; then
  stop_all
  echo "Sluice demo stopped."
  exit 0
fi

if [ -n "$kubeconfig" ]; then
  [ -f "$kubeconfig" ] || { echo "demo.sh: no such kubeconfig: $kubeconfig" >&2; exit 2; }
  kubeconfig=$(cd "$(dirname "$kubeconfig")" && pwd)/$(basename "$kubeconfig")
fi

install_deps
build_tree "$build_dir" sluice-gateway sluice-agent apiserver-stand-in
stop_all   # a previous demo in the same directory
mkdir -p "$state"

pg_start "$state/pg"
database_url=$(cat "$state/pg/url")
"$build_dir/gateway/sluice-gateway" migrate --database "$database_url"

if [ -z "$kubeconfig" ]; then
  standin_start "$build_dir/tests/apiserver-stand-in/apiserver-stand-in" "$state/standin"
  kubeconfig=$state/standin/kubeconfig
  standin_pid=$(cat "$state/standin/pid")
  standin_port=$(cat "$state/standin/port")
else
  standin_pid="" standin_port=""
fi

gw_bin=$build_dir/gateway/sluice-gateway
gw_dir=$state/gateway
rm -rf "$gw_dir"   # tokens and certificates of an earlier demo belong to its database
gateway_setup "$gw_bin" "$gw_dir" "$database_url"
# The gateway's keys, tokens and policy are its user's alone (the stand-in's pods also run
# sandboxed, as nobody when the demo runs as root, and see none of this).
chmod 700 "$gw_dir" "$gw_dir/certs"
# The shipped default policy (gateway/policy/default-policy.yaml): edit $gw_dir/policy.yaml and
# the gateway reloads it.
cp "$root/gateway/policy/default-policy.yaml" "$gw_dir/policy.yaml"
printf 'policy:\n  file: policy.yaml\n' >>"$gw_dir/gateway.yaml"
gateway_start "$gw_bin" "$gw_dir"
agent_start "$gw_bin" "$build_dir/agent/sluice-agent" "$gw_dir" demo "$kubeconfig"
gateway_kubeconfig "$gw_bin" "$gw_dir" demo "$gw_dir/bot.token" >"$state/kubeconfig"
gateway_kubeconfig "$gw_bin" "$gw_dir" demo "$gw_dir/reviewer.token" >"$state/kubeconfig-reviewer"
chmod 600 "$state"/kubeconfig*
https_port=$(cat "$gw_dir/https_port")
agent_port=$(cat "$gw_dir/agent_port")

cat >"$state/env" <<ENV
# Written by scripts/demo.sh; source it: . .demo/env
export KUBECONFIG='$state/kubeconfig'
export SLUICE_SERVER='https://127.0.0.1:$https_port'
export SLUICE_CLUSTER='demo'
# The admin subcommands (approvals, approve, reject) act as the reviewer; kubectl as the bot.
export SLUICE_TOKEN_FILE='$gw_dir/reviewer.token'
export SLUICE_CA_FILE='$gw_dir/certs/ca.crt'
export SLUICE_BOT_TOKEN_FILE='$gw_dir/bot.token'
export SLUICE_REVIEWER_KUBECONFIG='$state/kubeconfig-reviewer'
export SLUICE_GATEWAY_CONFIG='$gw_dir/gateway.yaml'
export SLUICE_POLICY_FILE='$gw_dir/policy.yaml'
export SLUICE_GATEWAY_PORT='$https_port'
export SLUICE_AGENT_PORT='$agent_port'
export SLUICE_GATEWAY_PID='$(cat "$gw_dir/gateway.pid")'
export SLUICE_AGENT_PID='$(cat "$gw_dir/agent-demo.pid")'
export SLUICE_CLUSTER_KUBECONFIG='$kubeconfig'
export SLUICE_DATABASE_URL='$database_url'
export SLUICE_PG_URL='$(cat "$state/pg/tcp_url")'
export SLUICE_PG_PORT='$(cat "$state/pg/port")'
export SLUICE_STANDIN_PORT='$standin_port'
export SLUICE_STANDIN_PID='$standin_pid'
export SLUICE_DEMO_DIR='$state'
export SLUICE_UI_URL='https://127.0.0.1:$https_port/ui/'
ENV

cat <<MSG

Sluice demo is up.
  PostgreSQL:  $(cat "$state/pg/tcp_url")  (schema migrated)
  Cluster:     $( [ -n "$standin_port" ] && echo "API-server stand-in on https://127.0.0.1:$standin_port" || echo "from $kubeconfig") as "demo"
  Gateway:     https://127.0.0.1:$https_port (kubectl), agents on 127.0.0.1:$agent_port (gRPC/TLS)
  Agent:       connected for cluster "demo"; logs in $gw_dir/*.log
  Identities:  automation-bot (\$KUBECONFIG), alice-reviewer (\$SLUICE_REVIEWER_KUBECONFIG)
  Reviewer UI: https://127.0.0.1:$https_port/ui/  (the gateway's CA is $gw_dir/certs/ca.crt)
               log in as alice-reviewer with the token $(cat "$gw_dir/reviewer.token")

  export KUBECONFIG=$state/kubeconfig
  kubectl get ns
  kubectl create deployment web --image=nginx
  kubectl run box --image=busybox -- sleep 3600 && kubectl exec box -- ls
  $gw_bin cluster list --config $gw_dir/gateway.yaml
  curl -s --cacert $gw_dir/certs/ca.crt https://127.0.0.1:$https_port/metrics | head
MSG

if [ "$mode" = detach ]; then
  echo "Running in the background. Environment: source $state/env   Stop: scripts/demo.sh --stop"
  exit 0
fi

trap 'echo; echo "Stopping..."; stop_all; exit 0' INT TERM
echo "Press Ctrl-C to stop."
gateway_pid=$(cat "$gw_dir/gateway.pid") agent_pid=$(cat "$gw_dir/agent-demo.pid")
while :; do
  if [ -n "$standin_pid" ] && ! kill -0 "$standin_pid" 2>/dev/null; then
    echo "The stand-in exited; see $state/standin/standin.log" >&2
    stop_all
    exit 1
  fi
  for p in gateway agent; do
    pid_var=${p}_pid
    if ! kill -0 "${!pid_var}" 2>/dev/null; then
      echo "sluice-$p exited; see $gw_dir/$( [ $p = gateway ] && echo gateway.log || echo agent-demo.log)" >&2
      stop_all
      exit 1
    fi
  done
  sleep 1
done
