#!/usr/bin/env bash
# The real kubectl against the API-server stand-in, directly or through the gateway.
# Usage: kubectl_test.sh CASE DIR [PREFIX]   (DIR/kubeconfig is used; PREFIX keeps namespaces apart)
# Each case works in its own namespace so cases are independent and may run in any order.
set -euo pipefail
case_name=$1 dir=$2 prefix=${3:-d}
export KUBECONFIG="$dir/kubeconfig"
ns="t-$prefix-${case_name//_/-}"
work=$(mktemp -d)
trap 'rm -rf "$work"; kubectl delete ns "$ns" --wait=false >/dev/null 2>&1 || true' EXIT

fail() { echo "FAIL [$case_name]: $*" >&2; exit 1; }
contains() { # contains HAYSTACK NEEDLE [what]
  grep -qF -- "$2" <<<"$1" || fail "${3:-output} does not contain '$2'; got:
$1"
}
lacks() { grep -qF -- "$2" <<<"$1" && fail "${3:-output} contains '$2'; got:
$1"; return 0; }
expect_fail() { # expect_fail "needle" cmd...
  local needle=$1 out; shift
  if out=$("$@" 2>&1); then fail "expected failure of: $*; got:
$out"; fi
  contains "$out" "$needle" "error of '$*'"
}
k() { kubectl -n "$ns" "$@"; }
# `kubectl get --raw PATH` sends PATH as is, without the kubeconfig server's own path
# (/clusters/<name> through the gateway), so raw paths get that prefix here.
raw_prefix=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}' | sed -E 's#^https://[^/]+##')
last_seq() { kubectl get --raw "$raw_prefix/_standin/requests?since=999999999" | jq -r .lastSeq; }
requests_since() { kubectl get --raw "$raw_prefix/_standin/requests?since=$1" | jq -c '.items[]'; }
wait_for() { # wait_for SECONDS cmd...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $deadline ] || return 1; sleep 0.2; done
}

kubectl create ns "$ns" >/dev/null

case "$case_name" in
discovery)
  out=$(kubectl version -o json); contains "$out" '"gitVersion": "v1.32.0-sluice-standin"'
  out=$(kubectl api-resources); for r in pods secrets configmaps services serviceaccounts namespaces deployments roles \
      rolebindings clusterroles clusterrolebindings validatingwebhookconfigurations mutatingwebhookconfigurations; do
    contains "$out" "$r" "api-resources"; done
  contains "$out" "deploy" "api-resources short names"
  out=$(kubectl api-versions); contains "$out" "rbac.authorization.k8s.io/v1"; contains "$out" "apps/v1"
  out=$(kubectl get --raw "$raw_prefix/openapi/v3" | jq -r '.paths | keys[]'); contains "$out" "apis/apps/v1"
  out=$(kubectl get ns); for n in default kube-system kube-public kube-node-lease; do contains "$out" "$n"; done
  ;;
get)
  for i in 1 2 3 4 5; do k create configmap "cm-$i" --from-literal=i="$i" >/dev/null; done
  k label cm cm-2 cm-4 tier=gold >/dev/null
  out=$(k get cm); contains "$out" "NAME"; contains "$out" "DATA"; contains "$out" "cm-5"
  out=$(k get cm -l tier=gold -o name); [ "$(wc -l <<<"$out")" = 2 ] || fail "label selector: $out"
  out=$(k get cm -l 'tier notin (gold)' -o name); lacks "$out" "cm-2"; contains "$out" "cm-1"
  out=$(k get cm --field-selector metadata.name=cm-3 -o name); [ "$out" = "configmap/cm-3" ] || fail "field selector: $out"
  out=$(k get cm --chunk-size=2 -o name -v=6 2>"$work/v6"); [ "$(grep -c '^configmap/cm-' <<<"$out")" = 5 ] || fail "pagination lost items: $out"
  grep -q 'continue=' "$work/v6" || fail "kubectl did not page (no continue token used)"
  out=$(k get cm cm-1 -o json | jq -r '.metadata | [.uid, .resourceVersion, .creationTimestamp] | map(length > 0) | all')
  [ "$out" = true ] || fail "server-set metadata missing"
  out=$(k get cm cm-1 -o yaml); contains "$out" "kind: ConfigMap"; contains "$out" "i: \"1\""
  out=$(k get cm cm-1 -o jsonpath='{.data.i}'); [ "$out" = 1 ] || fail "jsonpath: $out"
  k create deployment web --image=nginx:1.27 --replicas=3 >/dev/null
  out=$(k get deploy -o wide); contains "$out" "3/3"; contains "$out" "nginx:1.27"
  k run pod1 --image=busybox >/dev/null
  out=$(k get pods -o wide); contains "$out" "Running"; contains "$out" "standin-node"
  out=$(k get all); contains "$out" "pod/pod1"; contains "$out" "deployment.apps/web"
  out=$(kubectl get cm -A -o name); contains "$out" "configmap/cm-1"
  ;;
describe)
  k create deployment web --image=nginx:1.27 >/dev/null
  k create secret generic creds --from-literal=user=admin --from-literal=pass=s3cret >/dev/null
  k run pod1 --image=busybox --labels=app=x >/dev/null
  out=$(k describe deploy web); contains "$out" "Replicas:"; contains "$out" "RollingUpdateStrategy"
  out=$(k describe pod pod1); contains "$out" "Status:"; contains "$out" "Running"; contains "$out" "app=x"
  out=$(k describe secret creds); contains "$out" "user:"; contains "$out" "pass:"; lacks "$out" "s3cret"
  out=$(kubectl describe ns "$ns"); contains "$out" "Active"
  ;;
create_delete)
  k create deployment web --image=nginx:1.27 --port=80 >/dev/null
  k create service clusterip web --tcp=80:8080 >/dev/null
  k create secret generic s --from-literal=k=v >/dev/null
  k create serviceaccount bot >/dev/null
  k create role reader --verb=get,list --resource=pods >/dev/null
  k create rolebinding reader --role=reader --serviceaccount="$ns:bot" >/dev/null
  kubectl create clusterrolebinding "$ns-admin" --clusterrole=cluster-admin --user=alice >/dev/null
  out=$(kubectl get clusterrolebinding "$ns-admin" -o json | jq -r '.roleRef.name + " " + .subjects[0].name')
  [ "$out" = "cluster-admin alice" ] || fail "clusterrolebinding decoded wrong: $out"
  # Through the gateway a Secret's values are masked (base64 of ***MASKED***); the stand-in holds "v".
  want=dg==; [ "$prefix" = g ] && want=KioqTUFTS0VEKioq
  out=$(k get secret s -o jsonpath='{.data.k}'); [ "$out" = "$want" ] || fail "secret data: $out"
  out=$(k get svc web -o jsonpath='{.spec.ports[0].port}/{.spec.ports[0].targetPort}'); [ "$out" = "80/8080" ] || fail "service ports: $out"
  out=$(k get deploy web -o jsonpath='{.spec.template.spec.containers[0].ports[0].containerPort}'); [ "$out" = 80 ] || fail "container port: $out"
  cat >"$work/cm.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: from-file}
data: {a: "1"}
YAML
  out=$(k create -f "$work/cm.yaml"); contains "$out" "configmap/from-file created"
  expect_fail "already exists" k create -f "$work/cm.yaml"
  out=$(k create -f "$work/cm.yaml" --dry-run=server -o name 2>&1 || true); contains "$out" "already exists"
  # garbage collection: a dependent goes with its owner unless orphaned
  uid=$(k get deploy web -o jsonpath='{.metadata.uid}')
  for name in dep-a dep-b; do
    k create -f - >/dev/null <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: $name
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: "$uid"}]
YAML
  done
  out=$(k delete deploy web); contains "$out" 'deployment.apps "web" deleted'
  wait_for 5 bash -c "! kubectl -n $ns get cm dep-a" || fail "dependent was not garbage-collected"
  k create deployment web2 --image=x >/dev/null
  uid=$(k get deploy web2 -o jsonpath='{.metadata.uid}')
  k create -f - >/dev/null <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: orphan, ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web2, uid: "$uid"}]}
YAML
  k delete deploy web2 --cascade=orphan >/dev/null
  k get cm orphan >/dev/null || fail "--cascade=orphan deleted the dependent"
  k delete cm,secret,sa --all >/dev/null
  out=$(k get cm,secret -o name); [ -z "$out" ] || fail "delete --all left: $out"
  kubectl delete clusterrolebinding "$ns-admin" >/dev/null
  k create cm in-ns >/dev/null
  kubectl delete ns "$ns" >/dev/null
  expect_fail "not found" kubectl get ns "$ns"
  kubectl create ns "$ns" >/dev/null
  expect_fail "not found" k get cm in-ns
  ;;
apply)
  cat >"$work/app.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, labels: {app: api}}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - {name: api, image: example/api:1.0, env: [{name: MODE, value: prod}]}
      - {name: sidecar, image: example/sidecar:1.0}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {level: info, keep: "yes"}
YAML
  out=$(k apply -f "$work/app.yaml"); contains "$out" "deployment.apps/api created"; contains "$out" "configmap/settings created"
  out=$(k apply -f "$work/app.yaml"); contains "$out" "deployment.apps/api unchanged"; contains "$out" "configmap/settings unchanged"
  sed -i 's/level: info, keep: "yes"/level: debug/; s#example/api:1.0#example/api:1.1#' "$work/app.yaml"
  out=$(k apply -f "$work/app.yaml"); contains "$out" "deployment.apps/api configured"
  out=$(k get cm settings -o json | jq -c .data); [ "$out" = '{"level":"debug"}' ] || fail "three-way merge: $out"
  out=$(k get deploy api -o jsonpath='{.spec.template.spec.containers[*].image} {.metadata.generation}')
  [ "$out" = "example/api:1.1 example/sidecar:1.0 2" ] || fail "apply update: $out"
  out=$(k get deploy api -o jsonpath='{.metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration}')
  contains "$out" '"example/api:1.1"' "last-applied-configuration"
  out=$(k apply -f "$work/app.yaml" --dry-run=server); contains "$out" "(server dry run)"
  ;;
apply_server_side)
  cat >"$work/cm.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: ssa}
data: {a: "1", b: "2"}
YAML
  out=$(k apply --server-side -f "$work/cm.yaml"); contains "$out" "serverside-applied"
  out=$(k get cm ssa -o json --show-managed-fields | jq -r '.metadata.managedFields[] | .manager + "/" + .operation')
  [ "$out" = "kubectl/Apply" ] || fail "managedFields after apply: $out"
  k patch cm ssa --type=merge -p '{"data":{"a":"changed"}}' >/dev/null
  expect_fail 'conflict with "kubectl-patch"' k apply --server-side -f "$work/cm.yaml"
  out=$(k apply --server-side --force-conflicts -f "$work/cm.yaml"); contains "$out" "serverside-applied"
  out=$(k get cm ssa -o jsonpath='{.data.a}'); [ "$out" = 1 ] || fail "force-conflicts did not win: $out"
  # a field the manager stops applying is removed
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: "1"}\n' >"$work/cm2.yaml"
  k apply --server-side -f "$work/cm2.yaml" >/dev/null
  out=$(k get cm ssa -o json | jq -c .data); [ "$out" = '{"a":"1"}' ] || fail "dropped field kept: $out"
  # client-side apply followed by server-side apply migrates ownership without conflicts
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mig}\ndata: {x: "1"}\n' >"$work/mig.yaml"
  k apply -f "$work/mig.yaml" >/dev/null
  out=$(k apply --server-side -f "$work/mig.yaml" 2>&1); lacks "$out" "conflict"; lacks "$out" "Warning"
  ;;
patch)
  k create deployment web --image=nginx:1.26 >/dev/null
  k patch deploy web -p '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox"}]}}}}' >/dev/null
  out=$(k get deploy web -o jsonpath='{.spec.template.spec.containers[*].name}'); [ "$out" = "nginx sidecar" ] || fail "strategic merge: $out"
  k patch deploy web --type=merge -p '{"spec":{"replicas":4}}' >/dev/null
  k patch deploy web --type=json -p '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:1.27"}]' >/dev/null
  out=$(k get deploy web -o jsonpath='{.spec.replicas} {.spec.template.spec.containers[0].image}'); [ "$out" = "4 nginx:1.27" ] || fail "merge/json patch: $out"
  k patch deploy web --type=merge -p '{"spec":{"replicas":9}}' --dry-run=server >/dev/null
  out=$(k get deploy web -o jsonpath='{.spec.replicas}'); [ "$out" = 4 ] || fail "dry-run patch was persisted: $out"
  k scale deploy web --replicas=2 >/dev/null
  out=$(k get deploy web -o jsonpath='{.spec.replicas}'); [ "$out" = 2 ] || fail "scale: $out"
  k label deploy web team=a >/dev/null; k annotate deploy web note=x >/dev/null
  out=$(k get deploy web -o jsonpath='{.metadata.labels.team}{.metadata.annotations.note}'); [ "$out" = ax ] || fail "label/annotate: $out"
  expect_fail "test failed" k patch deploy web --type=json -p '[{"op":"test","path":"/spec/replicas","value":7}]'
  ;;
errors)
  expect_fail 'configmaps "nope" not found' k get cm nope
  k create cm dup >/dev/null
  expect_fail 'configmaps "dup" already exists' k create cm dup
  expect_fail 'is invalid' k run Bad_Name --image=x
  expect_fail 'spec.containers: Required value' k create -f - <<<'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[]}}'
  k get cm dup -o json | jq '.metadata.resourceVersion = "1"' >"$work/stale.json"
  expect_fail 'the object has been modified' k replace -f "$work/stale.json"
  expect_fail 'namespaces "no-such-ns" not found' kubectl -n no-such-ns create cm x
  server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
  ca=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.certificate-authority}')
  if [ -z "$ca" ]; then
    ca="$work/ca.crt"
    kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$ca"
  fi
  out=$(curl -sS --cacert "$ca" -H 'Authorization: Bearer wrong-token' -w ' %{http_code}' "$server/api/v1/namespaces")
  contains "$out" '"reason":"Unauthorized"'; contains "$out" ' 401'
  out=$(curl -sS --cacert "$ca" -w ' %{http_code}' "$server/api/v1/namespaces"); contains "$out" ' 401'
  token=$(kubectl config view --raw --minify -o jsonpath='{.users[0].user.token}')
  out=$(curl -sS --cacert "$ca" -H "Authorization: Bearer $token" -w ' %{http_code}' "$server/api/v1/nosuchthings")
  contains "$out" '"kind":"Status"'; contains "$out" ' 404'
  out=$(curl -sS --cacert "$ca" -H "Authorization: Bearer $token" -w ' %{http_code}' "$server/api/v1/namespaces/$ns/configmaps?labelSelector=a%20in%20(b")
  contains "$out" '"reason":"BadRequest"'; contains "$out" ' 400'
  out=$(curl -sS --cacert "$ca" -H "Authorization: Bearer $token" -X PATCH -H 'Content-Type: text/plain' -d x -w ' %{http_code}' \
        "$server/api/v1/namespaces/$ns/configmaps/dup"); contains "$out" ' 415'
  ;;
watch)
  k create cm before >/dev/null
  timeout 8 kubectl -n "$ns" get cm -w --output-watch-events >"$work/watch.out" 2>&1 &
  watcher=$!
  sleep 1.5
  k create cm live >/dev/null
  k label cm live x=y >/dev/null
  k delete cm live >/dev/null
  wait $watcher || true
  out=$(cat "$work/watch.out")
  contains "$out" "before" "watch (initial list)"
  grep -Eq 'ADDED +live' <<<"$out" || fail "no ADDED event: $out"
  grep -Eq 'MODIFIED +live' <<<"$out" || fail "no MODIFIED event: $out"
  grep -Eq 'DELETED +live' <<<"$out" || fail "no DELETED event: $out"
  # resourceVersion semantics: events after a given version replay; a version too old is 410
  rv=$(k get cm before -o jsonpath='{.metadata.resourceVersion}')
  k create cm after >/dev/null
  out=$(timeout 3 kubectl get --raw "$raw_prefix/api/v1/namespaces/$ns/configmaps?watch=true&resourceVersion=$rv&timeoutSeconds=1")
  contains "$out" '"type":"ADDED"'; contains "$out" '"name":"after"'; lacks "$out" '"name":"before"'
  out=$(timeout 3 kubectl get --raw "$raw_prefix/api/v1/namespaces/$ns/configmaps?watch=true&resourceVersion=1&timeoutSeconds=1")
  contains "$out" '"type":"ERROR"'; contains "$out" '"code":410'
  ;;
logs)
  k run counter --image=busybox --restart=Never -- sh -c 'for i in 1 2 3 4; do echo "line $i"; sleep 0.5; done'
  out=$(timeout 20 kubectl -n "$ns" logs -f counter) || fail "logs -f did not end with the container"
  [ "$(printf 'line 1\nline 2\nline 3\nline 4')" = "$out" ] || fail "logs -f: $out"
  wait_for 5 bash -c "[ \"\$(kubectl -n $ns get pod counter -o jsonpath='{.status.phase}')\" = Succeeded ]" || fail "pod did not succeed"
  out=$(k logs counter --tail=1); [ "$out" = "line 4" ] || fail "--tail: $out"
  out=$(k get pod counter); contains "$out" "Completed"
  k run failing --image=busybox --restart=Never -- sh -c 'echo bye; exit 2' >/dev/null
  wait_for 5 bash -c "[ \"\$(kubectl -n $ns get pod failing -o jsonpath='{.status.phase}')\" = Failed ]" || fail "failing pod not Failed"
  out=$(k get pod failing -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}'); [ "$out" = 2 ] || fail "exit code: $out"
  ;;
exec)
  k run box --image=busybox -- sleep 3600 >/dev/null
  out=$(k exec box -- sh -c 'echo to-stdout; echo to-stderr >&2' 2>"$work/err"); [ "$out" = to-stdout ] || fail "stdout: $out"
  [ "$(cat "$work/err")" = to-stderr ] || fail "stderr: $(cat "$work/err")"
  set +e; k exec box -- sh -c 'exit 3' 2>"$work/err"; code=$?; set -e
  [ $code = 3 ] || fail "exit code $code instead of 3"
  contains "$(cat "$work/err")" "command terminated with exit code 3"
  out=$(printf 'alpha\nbeta\n' | k exec -i box -- sh -c 'cat | wc -l'); [ "$(echo $out)" = 2 ] || fail "stdin: $out"
  out=$(head -c 200000 /dev/zero | k exec -i box -- wc -c); [ "$(echo $out)" = 200000 ] || fail "large stdin: $out"
  out=$(k exec box -- sh -c 'echo $HOSTNAME'); [ "$out" = box ] || fail "HOSTNAME: $out"
  expect_fail 'pods "nope" not found' k exec nope -- true
  set +e; k exec box -- no-such-binary 2>"$work/err"; code=$?; set -e
  [ $code = 127 ] || fail "missing binary exit code $code"
  ;;
exec_tty)
  k run box --image=busybox -- sleep 3600 >/dev/null
  out=$( (sleep 2) | script -qc "stty cols 100 rows 30; kubectl -n $ns exec -it box -- sh -c 'tty; stty size; echo done'" /dev/null 2>&1)
  contains "$out" "/dev/pts/" "tty"; contains "$out" "30 100" "terminal size"; contains "$out" "done"
  ;;
sandbox)
  # A pod is no shell on the stand-in's machine: it sees /usr, /etc and its own directory only,
  # cannot write /usr, and runs as nobody when the stand-in is root.
  k run box --image=busybox -- sleep 3600 >/dev/null
  out=$(k exec box -- sh -c "id -u; cat '$dir/token' '$dir/kubeconfig' 2>&1; touch /usr/sluice-x 2>&1; pwd; echo end")
  contains "$out" "end"
  lacks "$out" "$(cat "$dir/token")" "the pod's view of the stand-in's token"
  contains "$out" "$dir/token: No such file or directory"
  contains "$out" "Read-only file system"
  if [ "$(id -u)" = 0 ]; then [ "$(head -1 <<<"$out")" = 65534 ] || fail "a root stand-in's pod runs as uid $(head -1 <<<"$out")"; fi
  ;;
cp)
  k run box --image=busybox -- sleep 3600 >/dev/null
  head -c 300000 /dev/urandom >"$work/blob"
  mkdir -p "$work/tree/sub"; echo one >"$work/tree/a.txt"; echo two >"$work/tree/sub/b.txt"
  k cp "$work/blob" box:blob >/dev/null
  k cp "$work/tree" box:tree >/dev/null
  out=$(k exec box -- sh -c 'wc -c < blob; cat tree/sub/b.txt'); contains "$out" 300000; contains "$out" two
  k cp box:blob "$work/blob.back" >/dev/null
  cmp "$work/blob" "$work/blob.back" || fail "cp round trip changed the file"
  k cp box:tree "$work/tree.back" >/dev/null
  [ "$(cat "$work/tree.back/sub/b.txt")" = two ] || fail "directory copy from the pod"
  ;;
port_forward)
  k run box --image=busybox -- sleep 3600 >/dev/null
  k port-forward pod/box :8080 >"$work/pf.out" 2>&1 &
  pf=$!
  trap 'kill $pf 2>/dev/null || true; rm -rf "$work"; kubectl delete ns "$ns" --wait=false >/dev/null 2>&1 || true' EXIT
  wait_for 10 grep -q 'Forwarding from 127.0.0.1' "$work/pf.out" || fail "port-forward did not start: $(cat "$work/pf.out")"
  port=$(sed -n 's/.*Forwarding from 127.0.0.1:\([0-9]*\).*/\1/p' "$work/pf.out" | head -n 1)
  for i in 1 2 3; do
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf 'ping-%s\n' "$i" >&3
    read -r -t 5 reply <&3 || fail "no echo through port-forward (connection $i)"
    [ "$reply" = "ping-$i" ] || fail "echo mismatch: $reply"
    exec 3<&-
  done
  kill $pf
  ;;
attach)
  k run ticker --image=busybox --restart=Never -- sh -c 'sleep 1; for i in 1 2 3; do echo "tick $i"; sleep 0.3; done'
  out=$(timeout 20 kubectl -n "$ns" attach ticker 2>&1) || fail "attach did not end with the container: $out"
  contains "$out" "tick 3" "attach output"
  ;;
collections)
  for i in 1 2 3; do k create cm "c$i" >/dev/null; done
  k label cm c1 c2 sweep=yes >/dev/null
  kubectl delete --raw "$raw_prefix/api/v1/namespaces/$ns/configmaps?labelSelector=sweep%3Dyes" >/dev/null
  out=$(k get cm -o name); [ "$out" = "configmap/c3" ] || fail "deletecollection by label: $out"
  cat >"$work/hooks.yaml" <<YAML
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: $ns-policy}
webhooks:
- name: check.example.com
  admissionReviewVersions: [v1]
  sideEffects: None
  clientConfig: {url: "https://example.com/validate"}
  rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: $ns-mutate}
webhooks:
- name: mutate.example.com
  admissionReviewVersions: [v1]
  sideEffects: None
  clientConfig: {url: "https://example.com/mutate"}
YAML
  out=$(kubectl apply -f "$work/hooks.yaml"); contains "$out" "validatingwebhookconfiguration.admissionregistration.k8s.io/$ns-policy created"
  out=$(kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations -o name)
  contains "$out" "$ns-policy"; contains "$out" "$ns-mutate"
  kubectl delete -f "$work/hooks.yaml" >/dev/null
  ;;
auth)
  out=$(kubectl auth can-i create pods/exec -n "$ns"); [ "$out" = yes ] || fail "can-i: $out"
  out=$(kubectl auth can-i delete clusterrolebindings 2>/dev/null); [ "$out" = yes ] || fail "can-i cluster-scoped: $out"
  out=$(kubectl auth can-i --list -n "$ns"); contains "$out" "*.*"
  expected=standin-admin
  [ -f "$dir/expected-user" ] && expected=$(cat "$dir/expected-user")
  out=$(kubectl auth whoami -o jsonpath='{.status.userInfo.username}'); [ "$out" = "$expected" ] || fail "whoami: $out, expected $expected"
  ;;
impersonation)
  seq=$(last_seq)
  out=$(kubectl auth whoami --as alice --as-group devs --as-uid 42 -o json)
  [ "$(jq -r .status.userInfo.username <<<"$out")" = alice ] || fail "whoami as alice: $out"
  [ "$(jq -c .status.userInfo.groups <<<"$out")" = '["devs","system:authenticated"]' ] || fail "groups: $out"
  k get cm --as bob --as-group ops >/dev/null
  log=$(requests_since "$seq")
  rec=$(jq -c 'select(.uri | startswith("/api/v1/namespaces/'"$ns"'/configmaps"))' <<<"$log" | tail -n 1)
  [ "$(jq -r .impersonate.user <<<"$rec")" = bob ] || fail "stand-in did not record Impersonate-User: $rec"
  [ "$(jq -c .impersonate.groups <<<"$rec")" = '["ops"]' ] || fail "stand-in did not record Impersonate-Group: $rec"
  [ "$(jq -r .authenticatedUser <<<"$rec")" = standin-admin ] || fail "authenticated user: $rec"
  ;;
*)
  fail "unknown case"
  ;;
esac
echo "PASS [$case_name]"
