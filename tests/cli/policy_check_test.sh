#!/usr/bin/env bash
# `sluice-gateway policy check` against the shipped default policy: kubectl-style and raw
# requests, live objects and namespace labels from files, JSON output, and a broken policy file
# refused with its line and column.
set -euo pipefail
gateway=$1 policy=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
check() { "$gateway" policy check --policy "$policy" "$@"; }
decision() { check -o json "$@" | python3 -c 'import json,sys; print(" ".join(i["decision"]+":"+i["rule"] for i in json.load(sys.stdin)["items"]))'; }

[ "$(decision --as bot -- create clusterrolebinding x --clusterrole=view --user=bot)" = "approve:cluster-rbac-changes" ] ||
  fail "a new ClusterRoleBinding must need approval"
[ "$(decision --as bot -- create rolebinding x -n shop --clusterrole=admin --user=bot)" = "approve:rolebinding-grants-admin" ] ||
  fail "a RoleBinding to admin must need approval"
[ "$(decision --as bot -- create rolebinding x -n shop --clusterrole=view --user=bot)" = "allow:" ] ||
  fail "a RoleBinding to view must flow"
[ "$(decision -- get pods -A)" = "allow:" ] || fail "reads must flow"
[ "$(decision -- delete ns shop)" = "approve:namespace-deletion" ] || fail "namespace deletion"
[ "$(decision -- delete cm --all -n shop)" = "approve:delete-collection" ] || fail "deletecollection"
[ "$(decision -- scale deploy coredns -n kube-system --replicas 0)" = "approve:kube-system-writes" ] || fail "kube-system"

cat >"$work/privileged.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: node-shell, namespace: shop}
spec:
  containers:
    - name: sh
      image: busybox
      securityContext: {privileged: true}
YAML
cat >"$work/plain.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: shop}
spec:
  containers: [{name: web, image: nginx}]
YAML
[ "$(decision --live "$work/privileged.yaml" -- exec -it node-shell -n shop -- sh)" = "approve:exec-into-privileged-pod" ] ||
  fail "exec into a privileged pod must need approval"
[ "$(decision --live "$work/plain.yaml" -- exec -it web-0 -n shop -- sh)" = "allow:" ] || fail "exec into a plain pod must flow"
out=$(check -- exec web-0 -n shop -- ls)
grep -q "assumed to hold: the live object could not be read" <<<"$out" || fail "an unknown pod must be assumed privileged: $out"
[ "$(decision --namespace-labels environment=production,team=web -- delete pod web-0 -n shop)" = "approve:production-pod-deletion" ] ||
  fail "pod deletion in production"
[ "$(decision --namespace-labels environment=staging -- delete pod web-0 -n shop)" = "allow:" ] || fail "pod deletion in staging"
[ "$(decision --method POST --path /apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings \
      --body <(printf '{"kind":"RoleBinding","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"a"},"roleRef":{"kind":"ClusterRole","name":"cluster-admin"}}'))" \
  = "approve:rolebinding-grants-admin" ] || fail "--method/--path/--body"

text=$(check --as bot --groups ci -- delete ns shop)
grep -q "approve by rule 'namespace-deletion' (.*default-policy.yaml:[0-9]*): deleting a namespace" <<<"$text" ||
  fail "the text names the rule and its line: $text"
grep -q "approvers: groups \[sluice-reviewers\]" <<<"$text" || fail "the text names the approvers: $text"

printf 'rules:\n  - name: a\n    match: {verb: [delete]}\n    action: deny\n' >"$work/bad.yaml"
if "$gateway" policy check --policy "$work/bad.yaml" -- get pods 2>"$work/err"; then fail "a broken policy was accepted"; fi
grep -q "bad.yaml:3:13: unknown key 'verb' in match" "$work/err" || fail "the error names the place: $(cat "$work/err")"
if check -- frobnicate x 2>"$work/err"; then fail "an unknown kubectl command was accepted"; fi
grep -q "not understood" "$work/err" || fail "$(cat "$work/err")"
echo PASS
