#!/usr/bin/env bash
# scripts/demo.sh --detach, then `source .demo/env; kubectl get ns`, then --stop: nothing left running.
set -euo pipefail
root=$1 build_dir=$2
export SLUICE_DEMO_DIR=$(mktemp -d /tmp/sluice-demo-test.XXXXXX)
export SLUICE_BUILD_DIR=$build_dir
trap 'bash "$root/scripts/demo.sh" --stop >/dev/null 2>&1 || true; rm -rf "$SLUICE_DEMO_DIR"' EXIT
bash "$root/scripts/demo.sh" --detach >"$SLUICE_DEMO_DIR.out" 2>&1 || { cat "$SLUICE_DEMO_DIR.out"; exit 1; }
grep -q 'export KUBECONFIG=' "$SLUICE_DEMO_DIR.out" || { echo "FAIL: no KUBECONFIG printed"; exit 1; }
(
  source "$SLUICE_DEMO_DIR/env"
  kubectl get ns | grep -q kube-system || { echo "FAIL: kubectl get ns through the demo"; exit 1; }
  psql "$SLUICE_DATABASE_URL" -qAt -c 'SELECT count(*) FROM clusters' | grep -qx 0 || { echo "FAIL: schema not migrated"; exit 1; }
)
source "$SLUICE_DEMO_DIR/env"
pid=$SLUICE_STANDIN_PID
bash "$root/scripts/demo.sh" --stop >/dev/null
if kill -0 "$pid" 2>/dev/null; then echo "FAIL: stand-in still running after --stop"; exit 1; fi
[ ! -f "$SLUICE_DEMO_DIR/env" ] || { echo "FAIL: .demo/env left behind"; exit 1; }
rm -f "$SLUICE_DEMO_DIR.out"
echo PASS
