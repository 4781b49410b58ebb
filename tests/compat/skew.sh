#!/usr/bin/env bash
# Version skew, end to end, run by hand: builds sluice-gateway and sluice-agent of an earlier
# commit (default: the one before the tunnel protocol's version fields, 3fb7f6c) in a git
# worktree, then serves kubectl through each pairing of old and new binaries against the
# API-server stand-in: new gateway + old agent, old gateway + new agent.
#   tests/compat/skew.sh BUILD_DIR [OLD_COMMIT]
# Not in ctest: building the old release takes minutes and needs the repository's history.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: skew.sh BUILD_DIR [OLD_COMMIT]}" && pwd)
old_commit=${2:-3fb7f6c}
work=$(mktemp -d)
chmod 755 "$work"  # the stand-in's pods run as nobody under it
source "$root/scripts/lib/deps.sh"
source "$root/scripts/lib/pg.sh"
source "$root/scripts/lib/standin.sh"
source "$root/scripts/lib/gateway.sh"
cleanup() {
  gateway_stop "$work/gw" 2>/dev/null || true
  standin_stop "$work/standin" 2>/dev/null || true
  pg_stop "$work/pg" 2>/dev/null || true
  git -C "$root" worktree remove --force "$work/old" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

old=${SKEW_OLD_BUILD:-}
if [ -z "$old" ]; then
  git -C "$root" worktree add -f "$work/old" "$old_commit" >/dev/null
  (cd "$work/old" && source scripts/lib/deps.sh && build_tree "$work/old/build" sluice-agent sluice-gateway >/dev/null)
  old=$work/old/build
fi
pg_start "$work/pg" >/dev/null
standin_start "$build/tests/apiserver-stand-in/apiserver-stand-in" "$work/standin"

pair() {  # NAME GATEWAY_BUILD AGENT_BUILD
  local name=$1 gw_bin=$2/gateway/sluice-gateway agent_bin=$3/agent/sluice-agent
  rm -rf "$work/gw"
  gateway_setup "$gw_bin" "$work/gw" "$(cat "$work/pg/url")"
  "$build/gateway/sluice-gateway" migrate --database "$(cat "$work/pg/url")" >/dev/null  # the newer schema serves both
  gateway_start "$gw_bin" "$work/gw"
  agent_start "$gw_bin" "$agent_bin" "$work/gw" "skew$name" "$work/standin/kubeconfig"
  gateway_kubeconfig "$gw_bin" "$work/gw" "skew$name" "$work/gw/bot.token" >"$work/bot.kubeconfig"
  local ns="skew-$name-$RANDOM"
  kubectl --kubeconfig "$work/standin/kubeconfig" create ns "$ns" >/dev/null
  kubectl --kubeconfig "$work/bot.kubeconfig" -n "$ns" create configmap c --from-literal=k=v >/dev/null
  kubectl --kubeconfig "$work/bot.kubeconfig" -n "$ns" get configmap c -o jsonpath='{.data.k}' | grep -qx v
  kubectl --kubeconfig "$work/bot.kubeconfig" -n "$ns" run box --image=busybox -- sleep 3600 >/dev/null
  kubectl --kubeconfig "$work/bot.kubeconfig" -n "$ns" exec box -- echo exec-ok | grep -qx exec-ok
  echo "$name: $("$gw_bin" cluster list --config "$work/gw/gateway.yaml" 2>/dev/null | grep "skew$name" | tr -s ' \t' ' ')"
  grep -h "agent connected" "$work/gw/gateway.log" | tail -1
  gateway_stop "$work/gw"
}
pair new-gateway-old-agent "$build" "$old"
pair old-gateway-new-agent "$old" "$build"
echo "skew: both pairings served kubectl (create, get, exec)"
