#!/usr/bin/env bash
# ctest fixture: start|stop a gateway with cluster "c1" served by an agent in front of the
# stand-in. Writes DIR/kubeconfig (the automation bot through the gateway).
#   gateway_fixture.sh start GATEWAY_BIN AGENT_BIN DIR PG_STATE_DIR STANDIN_DIR
#   gateway_fixture.sh stop DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/gateway.sh"
action=$1
if [ "$action" = stop ]; then gateway_stop "$2"; exit 0; fi
gw=$2 agent=$3 dir=$4 pg=$5 standin=$6
gateway_stop "$dir" 2>/dev/null || true
rm -rf "$dir"
mkdir -p "$dir"
url=$(cat "$pg/url")
db="gw_$RANDOM$RANDOM"
psql "$url" -qAt -c "CREATE DATABASE $db" >/dev/null
gateway_setup "$gw" "$dir" "$url dbname=$db"
echo "$url dbname=$db" >"$dir/database_url"
gateway_start "$gw" "$dir"
agent_start "$gw" "$agent" "$dir" c1 "$standin/kubeconfig"
gateway_kubeconfig "$gw" "$dir" c1 "$dir/bot.token" >"$dir/kubeconfig"
echo automation-bot >"$dir/expected-user"   # who the cluster sees: the gateway impersonates the caller
KUBECONFIG="$dir/kubeconfig" kubectl get ns >/dev/null
echo "gateway on https://127.0.0.1:$(cat "$dir/https_port"), agents on $(cat "$dir/agent_port"); cluster c1 is up"
