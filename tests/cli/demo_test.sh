#!/usr/bin/env bash
# scripts/demo.sh end to end, as a user runs it:
#   default:    --detach, the reviewer UI's URL and login printed work, `source .demo/env; kubectl get ns` goes through gateway and agent to the
#               stand-in (which sees the caller impersonated), then --stop leaves nothing running;
#   kubeconfig: --detach --kubeconfig FILE relays to the cluster in FILE, and starts no stand-in.
# Usage: demo_test.sh CASE SOURCE_DIR BUILD_DIR
set -euo pipefail
case_name=$1 root=$2 build_dir=$3
source "$root/scripts/lib/standin.sh"
export SLUICE_DEMO_DIR=$(mktemp -d /tmp/sluice-demo-test.XXXXXX)
export SLUICE_BUILD_DIR=$build_dir
outside=$SLUICE_DEMO_DIR.cluster
cleanup() {
  bash "$root/scripts/demo.sh" --stop >/dev/null 2>&1 || true
  standin_stop "$outside" 2>/dev/null || true
  rm -rf "$SLUICE_DEMO_DIR" "$outside" "$SLUICE_DEMO_DIR.out"
}
trap cleanup EXIT
fail() { echo "FAIL [$case_name]: $*" >&2; exit 1; }

args=(--detach)
if [ "$case_name" = kubeconfig ]; then
  standin_start "$build_dir/tests/apiserver-stand-in/apiserver-stand-in" "$outside"
  KUBECONFIG=$outside/kubeconfig kubectl create ns only-outside >/dev/null
  args+=(--kubeconfig "$outside/kubeconfig")
fi
bash "$root/scripts/demo.sh" "${args[@]}" >"$SLUICE_DEMO_DIR.out" 2>&1 || { cat "$SLUICE_DEMO_DIR.out"; fail "demo.sh --detach failed"; }
grep -q 'export KUBECONFIG=' "$SLUICE_DEMO_DIR.out" || fail "no KUBECONFIG printed"

source "$SLUICE_DEMO_DIR/env"
# the reviewer UI's address and login, as printed, work at once
grep -q "Reviewer UI: $SLUICE_UI_URL" "$SLUICE_DEMO_DIR.out" || fail "the UI's URL is not printed: $(cat "$SLUICE_DEMO_DIR.out")"
ui_token=$(sed -n 's/.*log in as alice-reviewer with the token \([0-9a-f]*\)$/\1/p' "$SLUICE_DEMO_DIR.out")
[ -n "$ui_token" ] || fail "no reviewer login printed"
login=$(curl -sS --cacert "$SLUICE_CA_FILE" -H 'Content-Type: application/json' -d "{\"token\": \"$ui_token\"}" \
  "${SLUICE_UI_URL}api/login")
[ "$(jq -r .user <<<"$login")" = alice-reviewer ] || fail "the printed reviewer login does not log in: $login"
curl -sS --cacert "$SLUICE_CA_FILE" "$SLUICE_UI_URL" | grep -q 'src="/ui/app.js"' || fail "the UI page is not served"
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
[ "$server" = "$SLUICE_SERVER/clusters/demo" ] || fail "the demo kubeconfig does not point at the gateway: $server"
out=$(kubectl get ns -o name) || fail "kubectl get ns through the demo"
grep -q namespace/kube-system <<<"$out" || fail "kubectl get ns: $out"
# the cluster saw the demo identity, impersonated by the agent's credentials
who=$(KUBECONFIG=$SLUICE_CLUSTER_KUBECONFIG kubectl get --raw '/_standin/requests?since=0' |
  jq -r '[.items[] | select(.uri == "/api/v1/namespaces?limit=500")][-1].impersonate.user')
[ "$who" = automation-bot ] || fail "the cluster saw '$who', not automation-bot"
# the demo loads the default policy: deleting a namespace waits for the reviewer, who (with
# nothing but .demo/env) finds it pending and rejects it; it never reaches the cluster
[ -f "$SLUICE_POLICY_FILE" ] || fail "no SLUICE_POLICY_FILE in .demo/env"
gwbin=$build_dir/gateway/sluice-gateway
kubectl delete ns default >"$SLUICE_DEMO_DIR.delete" 2>&1 &
deleter=$!
for i in $(seq 1 100); do
  pending=$("$gwbin" approvals --pending -o json | jq -r '[.items[] | select(.rule == "namespace-deletion")][0].id // empty')
  [ -n "$pending" ] && break
  sleep 0.2
done
[ -n "$pending" ] || fail "the namespace deletion is not pending approval: $(cat "$SLUICE_DEMO_DIR.delete")"
"$gwbin" reject "$pending" --reason "demo: keep it" >/dev/null || fail "the reviewer could not reject with .demo/env"
if wait $deleter; then fail "the namespace deletion went through"; fi
grep -q "rejected by alice-reviewer: demo: keep it" "$SLUICE_DEMO_DIR.delete" || fail "kubectl: $(cat "$SLUICE_DEMO_DIR.delete")"
rm -f "$SLUICE_DEMO_DIR.delete"
psql "$SLUICE_DATABASE_URL" -qAt -c "SELECT name FROM clusters" | grep -qx demo || fail "cluster demo not registered"
"$build_dir/gateway/sluice-gateway" cluster list --config "$SLUICE_GATEWAY_CONFIG" -o json |
  jq -e '.items[] | select(.name == "demo" and .connected)' >/dev/null || fail "cluster list does not show demo connected"

case "$case_name" in
default)
  [ -n "$SLUICE_STANDIN_PID" ] || fail "no stand-in PID in .demo/env"
  ;;
kubeconfig)
  [ -z "$SLUICE_STANDIN_PID" ] || fail "the demo started its own stand-in despite --kubeconfig"
  grep -q namespace/only-outside <<<"$out" || fail "the agent does not relay to the --kubeconfig cluster: $out"
  ;;
esac

pids=("$SLUICE_GATEWAY_PID" "$SLUICE_AGENT_PID")
[ -n "$SLUICE_STANDIN_PID" ] && pids+=("$SLUICE_STANDIN_PID")
bash "$root/scripts/demo.sh" --stop >/dev/null
for pid in "${pids[@]}"; do
  if kill -0 "$pid" 2>/dev/null; then fail "process $pid still running after --stop"; fi
done
[ ! -f "$SLUICE_DEMO_DIR/env" ] || fail ".demo/env left behind"
echo "PASS [$case_name]"
