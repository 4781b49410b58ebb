#!/usr/bin/env bash
# The main job on one machine: installs packages, builds, starts a throwaway PostgreSQL (schema
# migrated) and the Kubernetes API-server stand-in, and prints how to point kubectl at it.
#
#   scripts/demo.sh                     run in the foreground; Ctrl-C stops everything
#   scripts/demo.sh --detach            start in the background; writes .demo/env
#   scripts/demo.sh --stop              stop what --detach started
#   scripts/demo.sh --kubeconfig FILE   use a real cluster instead of the stand-in
#
# .demo/env is shell-sourceable: KUBECONFIG, SLUICE_DATABASE_URL, ports and PIDs.
# SLUICE_DEMO_DIR and SLUICE_BUILD_DIR override .demo/ and build/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib/deps.sh"
source "$root/scripts/lib/pg.sh"
source "$root/scripts/lib/standin.sh"
state=${SLUICE_DEMO_DIR:-$root/.demo}
build_dir=${SLUICE_BUILD_DIR:-$root/build}

mode=foreground kubeconfig=""
while [ $# -gt 0 ]; do
  case "$1" in
    --detach) mode=detach ;;
    --stop) mode=stop ;;
    --kubeconfig) [ $# -ge 2 ] || { echo "demo.sh: --kubeconfig needs a file" >&2; exit 2; }; kubeconfig=$2; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

stop_all() {
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

cat >"$state/env" <<ENV
# Written by scripts/demo.sh; source it: . .demo/env
export KUBECONFIG='$kubeconfig'
export SLUICE_DATABASE_URL='$database_url'
export SLUICE_PG_URL='$(cat "$state/pg/tcp_url")'
export SLUICE_PG_PORT='$(cat "$state/pg/port")'
export SLUICE_STANDIN_PORT='$standin_port'
export SLUICE_STANDIN_PID='$standin_pid'
export SLUICE_DEMO_DIR='$state'
ENV

cat <<MSG

Sluice demo is up.
  PostgreSQL:  $(cat "$state/pg/tcp_url")  (schema migrated)
  Cluster:     $( [ -n "$standin_port" ] && echo "API-server stand-in on https://127.0.0.1:$standin_port" || echo "from $kubeconfig")

  export KUBECONFIG=$kubeconfig
  kubectl get ns
  kubectl create deployment web --image=nginx
  kubectl run box --image=busybox -- sleep 3600 && kubectl exec box -- ls

(The gateway and agent join this path as they are built; see README, "Status".)
MSG

if [ "$mode" = detach ]; then
  echo "Running in the background. Environment: source $state/env   Stop: scripts/demo.sh --stop"
  exit 0
fi

trap 'echo; echo "Stopping..."; stop_all; exit 0' INT TERM
echo "Press Ctrl-C to stop."
while :; do
  if [ -n "$standin_pid" ] && ! kill -0 "$standin_pid" 2>/dev/null; then
    echo "The stand-in exited; see $state/standin/standin.log" >&2
    stop_all
    exit 1
  fi
  sleep 1
done
