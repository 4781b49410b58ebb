#!/usr/bin/env bash
# The gateway's own behaviour with real processes: authentication, routing, identity forwarding,
# several clusters, failures of agents and clients, many streams through one tunnel, reuse of
# Exchange calls, the agent's drain on SIGTERM, the agent's in-cluster mode with token rotation,
# and the gateway's limits on headers, bodies and slow or idle connections.
# Usage: gateway_test.sh CASE GATEWAY_BIN AGENT_BIN STANDIN_BIN GATEWAY_DIR STANDIN_DIR
set -euo pipefail
case_name=$1 gw=$2 agent=$3 standin_bin=$4 dir=$5 standin=$6
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/gateway.sh"
source "$here/../../scripts/lib/standin.sh"
work=$(mktemp -d)
cleanup_extra=()
cleanup() {
  for c in "${cleanup_extra[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL [$case_name]: $*" >&2
  [ -f "$work/gw/gateway.log" ] && { echo "--- the test's own gateway, last lines of its log:" >&2; tail -25 "$work/gw/gateway.log" >&2; }
  exit 1
}
contains() { grep -qF -- "$2" <<<"$1" || fail "${3:-output} does not contain '$2'; got:
$1"; }
# DATABASE SQL OP N: the count SQL selects compares with N (for wait_for, which runs it again each time)
sql_count() { [ "$(psql "$1" -qAt -c "$2")" "$3" "$4" ]; }
wait_for() { local deadline=$((SECONDS + $1)); shift; until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $deadline ] || return 1; sleep 0.2; done; }
port=$(cat "$dir/https_port")
base="https://127.0.0.1:$port"
ca="$dir/certs/ca.crt"
bot=$(cat "$dir/bot.token")
curl_gw() { curl -sS --cacert "$ca" "$@"; }
standin_log_since() { KUBECONFIG="$standin/kubeconfig" kubectl get --raw "/_standin/requests?since=$1" | jq -c '.items[]'; }
standin_seq() { KUBECONFIG="$standin/kubeconfig" kubectl get --raw "/_standin/requests?since=999999999" | jq -r .lastSeq; }
# The stand-in is shared by tests running in parallel: what one test looks for in its log must
# carry a mark of that test (a label selector nobody else sends, or the Audit-IDs of its cluster).
audit_ids_of() {  # DATABASE_URL CLUSTER: the Audit-IDs the gateway gave that cluster's requests, as a JSON array
  psql "$1" -qAt -c "SELECT coalesce(json_agg(id::text), '[]') FROM audit_events WHERE cluster = '$2'"
}
export KUBECONFIG="$dir/kubeconfig"
# Another cluster behind the gateway: its agent (stopped at exit), its own stand-in when asked
# ("own"; else the shared one), and $work/NAME.kubeconfig through the gateway.
extra_cluster() {
  local name=$1 upstream=$standin
  if [ "${2:-}" = own ]; then
    upstream=$work/standin-$name
    mkdir -p "$upstream"
    cleanup_extra+=("standin_stop '$upstream'")
    standin_start "$standin_bin" "$upstream"
  fi
  cleanup_extra+=("agent_stop '$dir' $name")
  agent_start "$gw" "$agent" "$dir" "$name" "$upstream/kubeconfig"
  "$gw" kubeconfig --cluster "$name" --token-file "$dir/bot.token" --server "$base" --ca-file "$ca" >"$work/$name.kubeconfig"
}

# Restarts the gateway of policy_gateway on the ports it had (its agent reconnects).
restart_policy_gateway() {
  local gwd=$work/gw
  _stop_pidfile "$gwd/gateway.pid"
  sed -i "s/^listen: .*/listen: 127.0.0.1:$(cat "$gwd/https_port")/; s/^agent_listen: .*/agent_listen: 127.0.0.1:$(cat "$gwd/agent_port")/" \
    "$gwd/gateway.yaml"
  gateway_start "$gw" "$gwd"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# A gateway of its own at $work/gw (on the fixture's database unless DATABASE_URL is given, and the
# fixture's stand-in) with the policy read from standard input, and an agent for cluster NAME:
# writes $work/NAME.kubeconfig (as the bot).
policy_gateway() {  # NAME [DATABASE_URL]
  local name=$1 gwd=$work/gw
  gateway_setup "$gw" "$gwd" "${2:-$(sed -n 's/^  url: "\(.*\)"$/\1/p' "$dir/gateway.yaml")}"
  [ -f "$work/extra-tokens.csv" ] && cat "$work/extra-tokens.csv" >>"$gwd/tokens.csv"  # more identities
  cat >"$gwd/policy.yaml"
  printf 'policy:\n  file: policy.yaml\n' >>"$gwd/gateway.yaml"
  [ -f "$work/extra-gateway.yaml" ] && cat "$work/extra-gateway.yaml" >>"$gwd/gateway.yaml"  # more settings
  cleanup_extra+=("gateway_stop '$gwd'" "agent_stop '$gwd' $name")
  gateway_start "$gw" "$gwd"
  agent_start "$gw" "$agent" "$gwd" "$name" "$standin/kubeconfig"
  "$gw" kubeconfig --cluster "$name" --token-file "$gwd/bot.token" --server "https://127.0.0.1:$(cat "$gwd/https_port")" \
    --ca-file "$gwd/certs/ca.crt" >"$work/$name.kubeconfig"
}

case "$case_name" in
attack_corpus)
  # tests/security/attack_corpus.jsonl: each row a request the bot may send and what must come of
  # it, against the default policy (approvals asked asynchronously, so "held" is a 403 at once).
  # Every held row waits at once: more than the default cap of pending approvals per identity, and
  # on a database of its own, since the cap counts the bot's approvals across all the gateways.
  printf 'approvals:\n  max_pending_per_identity: 200\n' >"$work/extra-gateway.yaml"
  fixture_url=$(sed -n 's/^  url: "\(.*\)"$/\1/p' "$dir/gateway.yaml")
  cdb=corpus_$RANDOM$RANDOM
  psql "$fixture_url" -qAt -c "CREATE DATABASE $cdb" >/dev/null
  db="$fixture_url dbname=$cdb"
  sed 's/mode: hold/mode: async/' "$(dirname "$0")/../../gateway/policy/default-policy.yaml" | policy_gateway corpus "$db"
  gwd=$work/gw cbase="https://127.0.0.1:$(cat "$work/gw/https_port")" ctok=$(cat "$work/gw/bot.token")
  KUBECONFIG="$standin/kubeconfig" kubectl -n default create secret generic corpus-s1 --from-literal=password=hunter2 \
    >/dev/null 2>&1 || true
  # a live hostIPC pod for the exec row (the policy reads it before deciding)
  KUBECONFIG="$standin/kubeconfig" kubectl -n default apply -f - >/dev/null <<'YAML'
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "corpus-ipc"},
 "spec": {"hostIPC": true, "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}}
YAML
  cleanup_extra+=("KUBECONFIG='$standin/kubeconfig' kubectl -n default delete pod corpus-ipc --wait=false")
  # a plain Deployment for the patch rows (every patch type is judged on its dry-run result)
  KUBECONFIG="$standin/kubeconfig" kubectl -n default create deployment corpus-deploy --image=busybox --dry-run=client -o yaml |
    KUBECONFIG="$standin/kubeconfig" kubectl apply -f - >/dev/null || fail "the corpus Deployment could not be created"
  cleanup_extra+=("KUBECONFIG='$standin/kubeconfig' kubectl -n default delete deployment corpus-deploy --wait=false")
  n=0
  while IFS= read -r row; do
    [ -n "$row" ] || continue
    name=$(jq -r .name <<<"$row") method=$(jq -r .method <<<"$row") path=$(jq -r .path <<<"$row")
    query=$(jq -r '.query // empty' <<<"$row") code=$(jq -r .expect.code <<<"$row")
    args=(-X "$method" -H "Authorization: Bearer $ctok")
    while IFS= read -r h; do [ -n "$h" ] && args+=(-H "$h"); done < <(jq -r '.headers // {} | to_entries[] | "\(.key): \(.value)"' <<<"$row")
    if jq -e 'has("body")' <<<"$row" >/dev/null; then jq -j .body <<<"$row" >"$work/body"; args+=(--data-binary "@$work/body"); fi
    seq=$(standin_seq)
    url="$cbase/clusters/corpus$path${query:+?$query}"
    out=$(curl -sS --cacert "$gwd/certs/ca.crt" --path-as-is -w '\n%{http_code}' "${args[@]}" "$url" 2>&1) ||
      fail "attack corpus: '$name' got no answer: $out"
    got=$(tail -1 <<<"$out") body=$(sed '$d' <<<"$out")
    [ "$got" = "$code" ] || fail "attack corpus: '$name' answered $got, expected $code: $body"
    if want=$(jq -er '.expect.contains // empty' <<<"$row"); then contains "$body" "$want" "'$name'"; fi
    grep -q 'hunter2\|aHVudGVyMg==' <<<"$body" && fail "attack corpus: '$name' answered with the Secret value"
    if user=$(jq -er '.expect.upstream_user // empty' <<<"$row"); then
      users=$(standin_log_since "$seq" | jq -r 'select(.uri | startswith("'"$path"'")) | .impersonate.user' | sort -u)
      [ "$users" = "$user" ] || fail "attack corpus: '$name' reached the cluster as '$users', not '$user'"
    elif [ "$code" != 200 ] && [ "$code" != 201 ] && ! jq -e '.expect.reached' <<<"$row" >/dev/null; then
      # refused before policy: the request itself never reached the cluster (dry runs may have)
      standin_log_since "$seq" | jq -r --arg m "$method" 'select(.method == $m) | .uri' | grep -v 'dryRun=All' | grep -qF "$path" &&
        fail "attack corpus: '$name' was refused with $got but reached the cluster"
    fi
    n=$((n + 1))
  done <"$(dirname "$0")/../security/attack_corpus.jsonl"
  [ "$n" -ge 58 ] || fail "the attack corpus ran only $n rows"
  # TokenRequest: held; once approved the cluster issues the token, and neither the client nor the
  # recording sees it
  export SLUICE_SERVER=$cbase SLUICE_CA_FILE=$gwd/certs/ca.crt SLUICE_TOKEN_FILE=$gwd/reviewer.token
  jwt_head=eyJhbGciOiJSUzI1NiIsImtpZCI6InN0YW5kaW4ifQ  # the stand-in's tokens all begin so
  direct=$(KUBECONFIG="$standin/kubeconfig" kubectl -n default create token default)
  [[ $direct == "$jwt_head".* ]] || fail "the stand-in issued no token: $direct"
  out=$(KUBECONFIG="$work/corpus.kubeconfig" kubectl -n default create token default 2>&1) && fail "a TokenRequest passed unheld: $out"
  id=$(sed -n 's/.*approval required: id \([0-9a-f-]*\), review at.*/\1/p' <<<"$out" | head -1)
  [ -n "$id" ] || fail "no approval for the TokenRequest: $out"
  "$gw" approve "$id" --reason "corpus" >/dev/null
  out=$(KUBECONFIG="$work/corpus.kubeconfig" kubectl -n default create token default 2>&1) || fail "the approved TokenRequest: $out"
  [ "$out" = '***MASKED***' ] || fail "the issued token reached the client: $out"
  tq="SELECT count(*) FROM recording_exchanges e JOIN recording_sessions s ON s.id = e.session_id
      WHERE s.cluster = 'corpus' AND e.request_uri LIKE '%/serviceaccounts/default/token%' AND e.finished_at IS NOT NULL AND e.response_code = 201"
  wait_for 10 sql_count "$db" "$tq" -ge 1 || fail "the approved TokenRequest was not recorded"
  for sid in $(psql "$db" -qAt -c "SELECT DISTINCT e.session_id FROM recording_exchanges e JOIN recording_sessions s ON s.id = e.session_id
                                   WHERE s.cluster = 'corpus' AND e.request_uri LIKE '%/token%'"); do
    rec=$("$gw" sessions show "$sid" --database "$db" -o json)
    grep -q "$jwt_head" <<<"$rec" && fail "the recording holds the issued token: $rec"
  done
  # the copy never happened: the Secret's annotations hold no value, and a read comes back masked
  out=$(KUBECONFIG="$work/corpus.kubeconfig" kubectl -n default get secret corpus-s1 -o json)
  grep -q 'hunter2\|aHVudGVyMg==' <<<"$out" && fail "the Secret's value came back: $out"
  # the gateway's own dry runs have audit rows of their own, linked to the client's row
  wait_for 10 sql_count "$db" "SELECT count(*) FROM audit_events c JOIN audit_events p ON c.parent_id = p.id
    WHERE c.decision = 'gateway' AND c.dry_run AND p.cluster = 'corpus' AND p.verb = 'create' AND p.resource = 'rolebindings'" -ge 1 || fail "the policy dry run has no linked audit row"
  "$gw" audit verify --database "$db" >/dev/null || fail "the audit chain does not verify with gateway rows in it"
  ;;
policy)
  # The policy in the data path, with the real kubectl: a deny rule with its message, a condition
  # on the request body (a RoleBinding to admin), a condition on the live pod of an exec
  # (privileged or not), an exec held for approval that nobody gives, the audit
  # row of a refusal, and a hot reload (a broken file keeps the policy in force).
  gwd=$work/gw pol=pol$RANDOM$RANDOM
  db=$(sed -n 's/^  url: "\(.*\)"$/\1/p' "$dir/gateway.yaml")
  policy_gateway "$pol" <<'YAML'
apiVersion: sluice.dev/v1
kind: Policy
rules:
  - name: protected-configmaps
    match: {verbs: [delete], resources: [configmaps], names: ["protected-*"]}
    action: deny
    message: protected configmaps are not deleted through automation
  - name: admin-bindings
    match: {verbs: [create, update, patch], resources: [rolebindings]}
    when: {grantsRole: [admin, cluster-admin]}
    action: deny
    message: nobody binds admin here
  - name: exec-privileged
    match: {verbs: [create], resources: [pods/exec, pods/attach]}
    when: {privileged: true}
    action: approve
    message: exec into a privileged pod needs a reviewer
    approval: {approvers: {users: [reviewer]}, timeout: 2s}
YAML
  k() { KUBECONFIG="$work/$pol.kubeconfig" kubectl -n default "$@"; }
  direct() { KUBECONFIG="$standin/kubeconfig" kubectl -n default "$@"; }
  wait_for 20 k get cm -o name || fail "no request passed the policy gateway"
  id=$RANDOM$RANDOM

  k create cm "protected-$id" >/dev/null
  cleanup_extra+=("KUBECONFIG='$standin/kubeconfig' kubectl delete cm protected-$id -n default")
  seq=$(standin_seq)
  set +e; out=$(k delete cm "protected-$id" 2>&1); code=$?; set -e
  [ $code != 0 ] || fail "the deny rule let the delete through"
  contains "$out" "protected configmaps are not deleted through automation (Sluice policy rule 'protected-configmaps')"
  [ "$(standin_log_since "$seq" | grep -c "protected-$id" || true)" = 0 ] || fail "the denied delete reached the cluster"
  direct get cm "protected-$id" >/dev/null || fail "the protected configmap is gone"
  k create cm "plain-$id" >/dev/null && k delete cm "plain-$id" >/dev/null || fail "a delete no rule names was refused"

  set +e; out=$(k create rolebinding "admins-$id" --clusterrole=admin --user=someone 2>&1); code=$?; set -e
  [ $code != 0 ] || fail "a RoleBinding to admin was created"
  contains "$out" "nobody binds admin here"
  k create rolebinding "viewers-$id" --clusterrole=view --user=someone >/dev/null || fail "a RoleBinding to view was refused"
  cleanup_extra+=("KUBECONFIG='$standin/kubeconfig' kubectl delete rolebinding viewers-$id -n default")

  cat >"$work/pods.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: priv-$id}
spec:
  containers: [{name: c, image: busybox, command: [sleep, "3600"], securityContext: {privileged: true}}]
---
apiVersion: v1
kind: Pod
metadata: {name: plain-$id}
spec:
  containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
YAML
  k apply -f "$work/pods.yaml" >/dev/null
  cleanup_extra+=("KUBECONFIG='$standin/kubeconfig' kubectl delete pod priv-$id plain-$id -n default --wait=false")
  out=$(k exec "plain-$id" -- sh -c 'echo exec-ok') || fail "exec into a plain pod was refused: $out"
  [ "$out" = exec-ok ] || fail "exec into the plain pod printed: $out"
  seq=$(standin_seq)
  set +e; out=$(k exec "priv-$id" -- sh -c 'echo should-not-run' 2>&1); code=$?; set -e
  [ $code != 0 ] || fail "exec into a privileged pod ran: $out"
  contains "$out" "approval timed out after 2s"  # held for a reviewer who never came
  log=$(standin_log_since "$seq")
  grep -q "priv-$id/exec" <<<"$log" && fail "the exec into the privileged pod reached the cluster"
  rec=$(grep "/pods/priv-$id\"" <<<"$log" | head -1)
  [ -n "$rec" ] || fail "the gateway did not read the live pod: $log"
  [ "$(jq -r .method <<<"$rec")" = GET ] && [ "$(jq -r .impersonate.user <<<"$rec")" = automation-bot ] ||
    fail "the live pod was not read with GET as the requester: $rec"

  wait_for 10 sql_count "$db" "SELECT count(*) FROM audit_log WHERE name = 'protected-$id' AND verb = 'delete'
    AND decision = 'denied' AND response_code = 403 AND decision_reason LIKE '%protected-configmaps%'" = 1 ||
    fail "no denied audit row for the protected delete"

  # Hot reload: the deny rule goes; a broken file afterwards changes nothing.
  sed -i 's/names: \["protected-\*"\]/names: ["guarded-*"]/' "$gwd/policy.yaml"
  wait_for 10 grep -q 'policy: reloaded 3 rules' "$gwd/gateway.log" || fail "the changed policy was not reloaded"
  printf 'rules:\n  - name: x\n    match: {verb: [get]}\n    action: deny\n' >"$gwd/policy.yaml"
  wait_for 10 grep -q "policy.yaml:3:13: unknown key 'verb' in match" "$gwd/gateway.log" ||
    fail "the broken policy was not reported with its place: $(grep policy "$gwd/gateway.log" | tail -3)"
  k get cm -o name >/dev/null || fail "the broken policy file changed the policy in force"
  k delete cm "protected-$id" >/dev/null || fail "the reloaded policy (no deny for protected-*) is not in force"
  ;;
approval)
  # Inline approval with the real kubectl: a held request waits until a reviewer approves it with
  # the CLI, then reaches the cluster exactly once; the requester cannot approve their own
  # request; a rejection reaches kubectl with its reason; a two-person rule needs two distinct
  # reviewers; an undecided request times out.
  gwd=$work/gw ac=apr$RANDOM$RANDOM
  db=$(sed -n 's/^  url: "\(.*\)"$/\1/p' "$dir/gateway.yaml")
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/bob.token"
  echo "$(cat "$work/bob.token"),bob-reviewer,uid-bob,\"sluice-reviewers\"" >"$work/extra-tokens.csv"
  policy_gateway "$ac" <<'YAML'
rules:
  - name: cluster-rbac
    match: {verbs: [create], resources: [clusterrolebindings]}
    action: approve
    message: cluster-wide RBAC needs a reviewer
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m}
  - name: two-people
    match: {verbs: [create], resources: [clusterroles]}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, minApprovals: 2, timeout: 10m}
  - name: quick
    match: {verbs: [create], resources: [configmaps], namespaces: [quick-approvals]}
    action: approve
    approval: {approvers: {users: [alice-reviewer]}, timeout: 2s}
YAML
  server="https://127.0.0.1:$(cat "$gwd/https_port")"
  k() { KUBECONFIG="$work/$ac.kubeconfig" kubectl "$@"; }
  export SLUICE_SERVER=$server SLUICE_CA_FILE=$gwd/certs/ca.crt SLUICE_TOKEN_FILE=$gwd/reviewer.token
  wait_for 20 k get ns -o name || fail "no request passed the gateway"
  pending_for() {  # the id of this cluster's newest pending approval (one at a time in this test)
    "$gw" approvals --pending -o json | jq -r --arg c "$ac" '[.items[] | select(.cluster == $c)][0].id // empty'
  }
  has_pending() { test -n "$(pending_for)"; }
  id=$RANDOM$RANDOM

  seq=$(standin_seq)
  k create clusterrolebinding "held-$id" --clusterrole=view --user=someone >"$work/held.out" 2>&1 &
  held=$!
  wait_for 20 has_pending || fail "no pending approval appeared: $(cat "$work/held.out")"
  appr=$(pending_for)
  sleep 1
  kill -0 $held 2>/dev/null || fail "kubectl did not wait for the approval: $(cat "$work/held.out")"
  [ "$(standin_log_since "$seq" | grep -c "held-$id" || true)" = 0 ] || fail "the held request reached the cluster early"
  # the requester cannot approve it, also not by asking for it with their own token
  if out=$(SLUICE_TOKEN_FILE=$gwd/bot.token "$gw" approve "$appr" 2>&1); then fail "the requester approved their own request"; fi
  contains "$out" "automation-bot requested this and cannot approve or reject it"
  contains "$out" "HTTP 403"
  t0=$(date +%s%N)
  "$gw" approve "$appr" --reason "looks right" >/dev/null || fail "the reviewer could not approve"
  wait $held || fail "kubectl failed after the approval: $(cat "$work/held.out")"
  t1=$(date +%s%N)
  echo "approve -> kubectl done: $(( (t1 - t0) / 1000000 )) ms"
  contains "$(cat "$work/held.out")" "clusterrolebinding.rbac.authorization.k8s.io/held-$id created"
  cleanup_extra+=("KUBECONFIG='$standin/kubeconfig' kubectl delete clusterrolebinding held-$id")
  ours=$(audit_ids_of "$db" "$ac")
  [ "$(standin_log_since "$seq" | jq -r --argjson ours "$ours" 'select(.method == "POST" and (.auditID | IN($ours[]))) | .uri' |
    grep clusterrolebindings | grep -vc dryRun=All || true)" = 1 ] ||
    fail "the approved request did not reach the cluster exactly once: $(standin_log_since "$seq")"
  [ "$("$gw" approvals show "$appr" -o json | jq -r .state)" = executed ] || fail "the approval is not executed"
  if "$gw" approve "$appr" >/dev/null 2>&1; then fail "a decided approval took another vote"; fi
  wait_for 10 sql_count "$db" "SELECT count(*) FROM audit_log WHERE resource = 'clusterrolebindings' AND decision = 'allowed'
    AND decision_reason LIKE 'approved by alice-reviewer (approval $appr)%' AND approval_id = '$appr' AND response_code = 201" = 1 ||
    fail "the executed request's audit row does not name its approval"

  k create clusterrolebinding "nope-$id" --clusterrole=view --user=someone >"$work/nope.out" 2>&1 &
  nope=$!
  wait_for 20 has_pending || fail "no pending approval for the second request"
  "$gw" reject "$(pending_for)" --reason "not during the freeze" >/dev/null || fail "the reviewer could not reject"
  if wait $nope; then fail "kubectl succeeded after a rejection"; fi
  contains "$(cat "$work/nope.out")" "rejected by alice-reviewer: not during the freeze"
  KUBECONFIG="$standin/kubeconfig" kubectl get clusterrolebinding "nope-$id" >/dev/null 2>&1 && fail "the rejected request reached the cluster"

  # Two approvers: one approval is not enough, the same reviewer twice does not count twice.
  k create clusterrole "two-$id" --verb=get --resource=pods >"$work/two.out" 2>&1 &
  two=$!
  wait_for 20 has_pending || fail "no pending approval for the two-person rule"
  appr=$(pending_for)
  "$gw" approve "$appr" >/dev/null || fail "the first reviewer could not approve"
  if "$gw" approve "$appr" >/dev/null 2>&1; then fail "one reviewer voted twice"; fi
  sleep 1
  kill -0 $two 2>/dev/null || fail "one approval of two let the request go: $(cat "$work/two.out")"
  [ "$("$gw" approvals show "$appr" -o json | jq -r .state)" = pending ] || fail "one approval of two decided it"
  SLUICE_TOKEN_FILE=$work/bob.token "$gw" approve "$appr" --reason "second pair of eyes" >/dev/null ||
    fail "the second reviewer could not approve"
  wait $two || fail "kubectl failed after two approvals: $(cat "$work/two.out")"
  cleanup_extra+=("KUBECONFIG='$standin/kubeconfig' kubectl delete clusterrole two-$id")
  [ "$("$gw" approvals show "$appr" -o json | jq -r .decidedBy)" = "alice-reviewer, bob-reviewer" ] ||
    fail "the approval does not name both approvers"

  seq=$(standin_seq)
  if out=$(k create cm "quick-$id" -n quick-approvals 2>&1); then fail "an undecided approval let the request through"; fi
  contains "$out" "approval timed out after 2s"
  [ "$(standin_log_since "$seq" | grep "quick-approvals" | grep -vc "dryRun=All" || true)" = 0 ] ||
    fail "the timed-out request reached the cluster (not as the reviewers' dry run)"
  ;;
approval_hold)
  # What reviewers are asked about, with the real kubectl: an exec into a privileged pod waits
  # (into a plain pod it does not), a delete in kube-system waits and shows the object it removes,
  # a patch shows the API server's dry run and its diff against the live object, a namespace
  # deletion shows what would go with it, and a kubectl that gives up cancels its approval.
  gwd=$work/gw hc=hold$RANDOM$RANDOM id=$RANDOM$RANDOM
  policy_gateway "$hc" <<'YAML'
rules:
  - name: exec-privileged
    match: {verbs: [create], resources: [pods/exec, pods/attach]}
    when: {privileged: true}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m}
  - name: kube-system-writes
    match: {verbs: [create, update, patch, delete, deletecollection], namespaces: [kube-system]}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m}
  - name: namespace-deletion
    match: {verbs: [delete], resources: [namespaces]}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m}
  - name: guarded-configmaps
    match: {verbs: [patch], resources: [configmaps], names: ["diffme-*"]}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m}
YAML
  export SLUICE_SERVER="https://127.0.0.1:$(cat "$gwd/https_port")" SLUICE_CA_FILE=$gwd/certs/ca.crt \
         SLUICE_TOKEN_FILE=$gwd/reviewer.token
  k() { KUBECONFIG="$work/$hc.kubeconfig" kubectl "$@"; }
  direct() { KUBECONFIG="$standin/kubeconfig" kubectl "$@"; }
  wait_for 20 k get ns -o name || fail "no request passed the gateway"
  pending_for() { "$gw" approvals --pending --cluster "$hc" --requester automation-bot -o json | jq -r '.items[0].id // empty'; }
  has_pending() { test -n "$(pending_for)"; }
  show() { "$gw" approvals show "$1" -o json; }

  cat >"$work/pods.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: priv-$id}
spec:
  containers: [{name: c, image: busybox, securityContext: {privileged: true}}]
---
apiVersion: v1
kind: Pod
metadata: {name: plain-$id}
spec:
  containers: [{name: c, image: busybox}]
YAML
  k apply -n default -f "$work/pods.yaml" >/dev/null
  cleanup_extra+=("KUBECONFIG='$standin/kubeconfig' kubectl delete pod priv-$id plain-$id -n default --wait=false")
  out=$(k exec -n default "plain-$id" -- sh -c 'echo plain-ok') || fail "exec into a plain pod was held or refused: $out"
  [ "$out" = plain-ok ] || fail "exec into the plain pod printed: $out"
  has_pending && fail "exec into a plain pod asked for approval"
  k exec -n default "priv-$id" -- sh -c 'echo priv-ok' >"$work/exec.out" 2>&1 &
  ex=$!
  wait_for 20 has_pending || fail "exec into a privileged pod did not wait: $(cat "$work/exec.out")"
  appr=$(pending_for)
  a=$(show "$appr")
  [ "$(jq -r '.subresource + " " + .name + " " + .rule' <<<"$a")" = "exec priv-$id exec-privileged" ] || fail "exec approval: $a"
  kill -0 $ex 2>/dev/null || fail "kubectl exec did not wait: $(cat "$work/exec.out")"
  "$gw" approve "$appr" >/dev/null || fail "the reviewer could not approve the exec"
  wait $ex || fail "the approved exec failed: $(cat "$work/exec.out")"
  [ "$(cat "$work/exec.out")" = priv-ok ] || fail "the approved exec printed: $(cat "$work/exec.out")"

  # a delete in kube-system waits; reviewers see the object it removes
  direct create cm "ks-$id" -n kube-system --from-literal=k=v >/dev/null
  k delete cm "ks-$id" -n kube-system >"$work/ks.out" 2>&1 &
  ks=$!
  wait_for 20 has_pending || fail "a delete in kube-system did not wait: $(cat "$work/ks.out")"
  appr=$(pending_for) a=$(show "$appr")
  [ "$(jq -r '.preview.kind + " " + .preview.live.metadata.name + " " + .preview.live.data.k' <<<"$a")" = "delete ks-$id v" ] ||
    fail "the delete's preview does not show the live object: $a"
  direct get cm "ks-$id" -n kube-system >/dev/null || fail "the held delete reached the cluster"
  "$gw" approve "$appr" >/dev/null
  wait $ks || fail "the approved delete failed: $(cat "$work/ks.out")"
  direct get cm "ks-$id" -n kube-system >/dev/null 2>&1 && fail "the approved delete did not happen"

  # a patch: the API server's dry run and the diff against the live object
  direct create cm "diffme-$id" -n default --from-literal=level=1 --from-literal=keep=same >/dev/null
  cleanup_extra+=("KUBECONFIG='$standin/kubeconfig' kubectl delete cm diffme-$id -n default")
  k patch cm "diffme-$id" -n default -p '{"data":{"level":"2"}}' >"$work/patch.out" 2>&1 &
  pt=$!
  wait_for 20 has_pending || fail "the guarded patch did not wait: $(cat "$work/patch.out")"
  appr=$(pending_for) a=$(show "$appr")
  [ "$(jq -r '.preview.kind + " " + (.preview.status | tostring) + " " + .preview.result.data.level' <<<"$a")" = "dryRun 200 2" ] ||
    fail "the patch's preview is not the dry run: $a"
  diff=$(jq -r .preview.diff <<<"$a")
  contains "$diff" "--- live/configmaps/diffme-$id"; contains "$diff" "+++ dry-run/configmaps/diffme-$id"
  contains "$diff" '-    "level": "1"'; contains "$diff" '+    "level": "2"'
  grep -q '^[-+].*keep' <<<"$diff" && fail "the diff shows an unchanged key: $diff"
  [ "$(direct get cm "diffme-$id" -n default -o jsonpath='{.data.level}')" = 1 ] || fail "the dry run changed the object"
  out=$("$gw" approvals show "$appr"); contains "$out" '+    "level": "2"'  # the table view prints the diff too
  "$gw" reject "$appr" --reason "no" >/dev/null
  if wait $pt; then fail "a rejected patch went through"; fi
  db=$(sed -n 's/^  url: "\(.*\)"$/\1/p' "$dir/gateway.yaml")
  wait_for 10 sql_count "$db" "SELECT count(*) FROM audit_log WHERE approval_id = '$appr' AND decision = 'denied'
    AND response_code = 403 AND decision_reason = 'rejected by alice-reviewer: no'" = 1 || fail "no audit row names the rejected approval"
  [ -z "$("$gw" approvals --cluster "$hc" --requester someone-else -o json | jq -r '.items[0].id // empty')" ] ||
    fail "the requester filter let another requester's approvals through"

  # a namespace deletion: what would go with it
  direct create ns "nsdel-$id" >/dev/null
  cleanup_extra+=("KUBECONFIG='$standin/kubeconfig' kubectl delete ns nsdel-$id --wait=false")
  for n in one two; do direct create cm "$n-$id" -n "nsdel-$id" >/dev/null; done
  nseq=$(standin_seq)
  k delete ns "nsdel-$id" >"$work/ns.out" 2>&1 &
  nd=$!
  wait_for 20 has_pending || fail "the namespace deletion did not wait: $(cat "$work/ns.out")"
  appr=$(pending_for) a=$(show "$appr")
  [ "$(jq -r '.preview.kind' <<<"$a")" = namespaceDelete ] || fail "namespace preview: $a"
  [ "$(jq -c '.preview.deletes.configmaps.names | map(select(endswith("-'"$id"'"))) | sort' <<<"$a")" = "[\"one-$id\",\"two-$id\"]" ] ||
    fail "the namespace preview does not list its configmaps: $a"
  [ "$(jq -r '.preview.count' <<<"$a")" -ge 2 ] || fail "the namespace preview has no count: $a"
  # its 14 lists are one page of names each: metadata only, at most 500 items
  lists=$(standin_log_since "$nseq" | jq -c 'select(.method == "GET" and (.uri | contains("/namespaces/nsdel-'"$id"'/")))')
  [ "$(wc -l <<<"$lists")" -ge 14 ] || fail "the preview listed too few collections: $lists"
  jq -e 'select((.uri | test("[?&]limit=500($|&)") | not) or (.accept | startswith("application/json;as=PartialObjectMetadataList") | not))' \
    <<<"$lists" >/dev/null && fail "a preview list was not one page of metadata: $lists"
  "$gw" reject "$appr" --reason "keep it" >/dev/null
  if wait $nd; then fail "a rejected namespace deletion went through"; fi
  contains "$(cat "$work/ns.out")" "rejected by alice-reviewer: keep it"

  # kubectl gives up while held: the approval is cancelled
  KUBECONFIG="$work/$hc.kubeconfig" kubectl create cm "gone-$id" -n kube-system >"$work/gone.out" 2>&1 &
  gone=$!  # kubectl's own pid (a shell function in the background would be a subshell)
  wait_for 20 has_pending || fail "no pending approval for the abandoned request"
  appr=$(pending_for)
  kill $gone; wait $gone 2>/dev/null || true
  is_cancelled() { [ "$(show "$appr" | jq -r .state)" = cancelled ]; }
  wait_for 10 is_cancelled || fail "the abandoned approval is $(show "$appr" | jq -r .state), not cancelled"
  direct get cm "gone-$id" -n kube-system >/dev/null 2>&1 && fail "the abandoned request reached the cluster"
  ;;
approval_async)
  # mode: async answers at once with the approval's id and where to review it; the identical
  # request passes once after the approval, a different body does not; a rejection is reported
  # to the retry. A held approval survives a gateway restart, and the retried command passes.
  gwd=$work/gw ac=async$RANDOM$RANDOM id=$RANDOM$RANDOM
  policy_gateway "$ac" <<'YAML'
rules:
  - name: async-configmaps
    match: {verbs: [create], resources: [configmaps], namespaces: ["async-*"]}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m, mode: async}
  - name: cluster-rbac
    match: {verbs: [create], resources: [clusterrolebindings]}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m}
YAML
  server="https://127.0.0.1:$(cat "$gwd/https_port")"
  export SLUICE_SERVER=$server SLUICE_CA_FILE=$gwd/certs/ca.crt SLUICE_TOKEN_FILE=$gwd/reviewer.token
  k() { KUBECONFIG="$work/$ac.kubeconfig" kubectl "$@"; }
  direct() { KUBECONFIG="$standin/kubeconfig" kubectl "$@"; }
  wait_for 20 k get ns -o name || fail "no request passed the gateway"
  ns=async-$id
  direct create ns "$ns" >/dev/null
  cleanup_extra+=("KUBECONFIG='$standin/kubeconfig' kubectl delete ns $ns --wait=false")
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: %s}\ndata: {mode: "%s"}\n' "$ns" blue >"$work/blue.yaml"
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: %s}\ndata: {mode: "%s"}\n' "$ns" green >"$work/green.yaml"
  id_in() { sed -n 's/.*approval required: id \([0-9a-f-]*\), review at.*/\1/p' <<<"$1" | head -1; }

  if out=$(k create -f "$work/blue.yaml" 2>&1); then fail "an async approval let the request through at once"; fi
  first=$(id_in "$out")
  [ -n "$first" ] || fail "no approval id in kubectl's message: $out"
  contains "$out" "review at $server/api/v1/approvals/$first"
  if out=$(k create -f "$work/blue.yaml" 2>&1); then fail "a pending async approval let a retry through"; fi
  [ "$(id_in "$out")" = "$first" ] || fail "a retry while pending opened another approval: $out"
  [ "$("$gw" approvals show "$first" -o json | jq -r .mode)" = async ] || fail "the approval is not async"
  direct get cm cfg -n "$ns" >/dev/null 2>&1 && fail "the pending request reached the cluster"
  "$gw" approve "$first" >/dev/null || fail "the reviewer could not approve"
  if out=$(k create -f "$work/green.yaml" 2>&1); then fail "another body passed on the approval of the first"; fi
  green=$(id_in "$out")
  [ -n "$green" ] && [ "$green" != "$first" ] || fail "a different body did not get its own approval: $out"
  out=$(k create -f "$work/blue.yaml" 2>&1) || fail "the identical retry after the approval was refused: $out"
  contains "$out" "configmap/cfg created"
  [ "$(direct get cm cfg -n "$ns" -o jsonpath='{.data.mode}')" = blue ] || fail "the cluster does not have the approved object"
  [ "$("$gw" approvals show "$first" -o json | jq -r .state)" = executed ] || fail "the approval is not executed"
  direct delete cm cfg -n "$ns" >/dev/null
  if out=$(k create -f "$work/blue.yaml" 2>&1); then fail "one approval let the request through twice"; fi
  again=$(id_in "$out")
  [ -n "$again" ] && [ "$again" != "$first" ] || fail "a second retry did not need a new approval: $out"
  "$gw" reject "$again" --reason "once is enough" >/dev/null
  if out=$(k create -f "$work/blue.yaml" 2>&1); then fail "a rejected async request went through"; fi
  contains "$out" "rejected by alice-reviewer: once is enough"

  # hold mode across a restart: the held connection is lost, the approval stays, the retry passes
  k create clusterrolebinding "rs-$id" --clusterrole=view --user=someone >"$work/rs.out" 2>&1 &
  held=$!
  pending_for() { "$gw" approvals --pending -o json | jq -r --arg c "$ac" '[.items[] | select(.cluster == $c and .resource == "clusterrolebindings")][0].id // empty'; }
  has_pending() { test -n "$(pending_for)"; }
  wait_for 20 has_pending || fail "no pending approval for the held request: $(cat "$work/rs.out")"
  appr=$(pending_for)
  restart_policy_gateway
  if wait $held; then fail "kubectl succeeded while its gateway restarted"; fi
  wait_for 20 k get ns -o name || fail "the restarted gateway does not serve"
  [ "$("$gw" approvals show "$appr" -o json | jq -r .state)" = pending ] || fail "the pending approval did not survive the restart"
  "$gw" approve "$appr" >/dev/null || fail "the approval could not be approved after the restart"
  out=$(k create clusterrolebinding "rs-$id" --clusterrole=view --user=someone 2>&1) || fail "the retry after the approval failed: $out"
  cleanup_extra+=("KUBECONFIG='$standin/kubeconfig' kubectl delete clusterrolebinding rs-$id")
  contains "$out" "clusterrolebinding.rbac.authorization.k8s.io/rs-$id created"
  [ "$("$gw" approvals show "$appr" -o json | jq -r .state)" = executed ] || fail "the retried approval is not executed"
  ;;
approval_notify)
  # Reviewers hear of an approval by webhook (HMAC-signed), Slack and email, delivered from the
  # outbox: the HTTPS receiver is down at first and the gateway restarts meanwhile; nothing is lost.
  gwd=$work/gw nc=notify$RANDOM$RANDOM id=$RANDOM$RANDOM
  hook_port=$(free_port) smtp_port=$(free_port)
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/hook.secret"
  cat >"$work/extra-gateway.yaml" <<YAML
notifications:
  review_url: https://sluice.example.test:8443
  retry_initial_ms: 200
  sinks:
  - {name: hook, type: webhook, url: "https://127.0.0.1:$hook_port/hook", secret_file: $work/hook.secret, ca_file: $gwd/certs/ca.crt}
  - {name: chat, type: slack, url: "https://127.0.0.1:$hook_port/slack", ca_file: $gwd/certs/ca.crt}
  - {name: mail, type: email, url: "smtp://127.0.0.1:$smtp_port", from: sluice@example.test, to: [oncall@example.test, sec@example.test]}
YAML
  python3 "$here/notify_receivers.py" smtp "$smtp_port" "$work/mail.jsonl" &
  cleanup_extra+=("kill $!")
  wait_for 10 test -e "$work/mail.jsonl.ready" || fail "the SMTP receiver did not start"
  policy_gateway "$nc" <<'YAML'
rules:
  - name: cluster-rbac
    match: {verbs: [create], resources: [clusterrolebindings]}
    action: approve
    message: cluster-wide RBAC needs a reviewer
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m}
YAML
  k() { KUBECONFIG="$work/$nc.kubeconfig" kubectl "$@"; }
  wait_for 20 k get ns -o name || fail "no request passed the gateway"
  k create clusterrolebinding "nt-$id" --clusterrole=view --user=someone >/dev/null 2>&1 &
  held=$!; cleanup_extra+=("kill $held")
  db=$(sed -n 's/^  url: "\(.*\)"$/\1/p' "$dir/gateway.yaml")
  appr_id() { psql "$db" -qAt -c "SELECT id FROM approval_requests WHERE cluster = '$nc' LIMIT 1"; }
  has_appr() { test -n "$(appr_id)"; }
  wait_for 20 has_appr || fail "no approval was stored"
  appr=$(appr_id)
  wait_for 20 test -s "$work/mail.jsonl" || fail "no email arrived: $(grep notifications "$gwd/gateway.log" | tail -3)"
  mail=$(head -1 "$work/mail.jsonl")
  [ "$(jq -c .to <<<"$mail")" = '["<oncall@example.test>","<sec@example.test>"]' ] || fail "email recipients: $mail"
  data=$(jq -r .data <<<"$mail")
  contains "$data" "Subject: [sluice] automation-bot wants to create clusterrolebindings on $nc"
  contains "$data" "Requester: automation-bot"; contains "$data" "Request: create clusterrolebindings"
  contains "$data" "Client's words (unverified): kubectl create clusterrolebinding"
  contains "$data" "Rule: cluster-rbac: cluster-wide RBAC needs a reviewer"
  grep -qE "Approval: $appr \(expires [0-9]{4}-[0-9]{2}-[0-9]{2}T" <<<"$data" || fail "the email does not say when the approval expires: $data"
  contains "$data" "Approve: POST https://sluice.example.test:8443/api/v1/approvals/$appr/approve"
  failing() { [ "$(psql "$db" -qAt -c "SELECT count(*) FROM notification_outbox WHERE approval_id = '$appr'
    AND state = 'pending' AND attempts >= 2 AND last_error <> ''")" = 2 ]; }
  wait_for 20 failing || fail "the webhook and Slack deliveries were not retried while their receiver was down"
  restart_policy_gateway
  python3 "$here/notify_receivers.py" https "$hook_port" "$gwd/certs/tls.crt" "$gwd/certs/tls.key" "$work/hooks.jsonl" &
  cleanup_extra+=("kill $!")
  delivered() { [ "$(psql "$db" -qAt -c "SELECT count(*) FROM notification_outbox WHERE approval_id = '$appr'
    AND state = 'delivered'")" = 3 ]; }
  wait_for 30 delivered || fail "not every notification was delivered after the receiver came back: $(psql "$db" -qAt -c \
    "SELECT sink, state, attempts, last_error FROM notification_outbox WHERE approval_id = '$appr'")"
  hook=$(jq -c 'select(.path == "/hook")' "$work/hooks.jsonl" | head -1)
  body=$(jq -r .body <<<"$hook")
  [ "$(jq -r '.type + " " + .approval.id + " " + .approval.requester.username' <<<"$body")" = "approval.requested $appr automation-bot" ] ||
    fail "webhook event: $body"
  want="sha256=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$(cat "$work/hook.secret")" | sed 's/^.*= //')"
  [ "$(jq -r '.headers["X-Sluice-Signature-256"]' <<<"$hook")" = "$want" ] || fail "the webhook signature does not verify: $hook"
  slack=$(jq -r 'select(.path == "/slack") | .body' "$work/hooks.jsonl" | head -1)
  [ "$(jq -r '.blocks[2].fields[0].text' <<<"$slack")" = $'*Requester*\nautomation-bot' ] || fail "Slack message: $slack"
  [ "$(jq -r '.blocks[3].elements[1].url' <<<"$slack")" = "https://sluice.example.test:8443/api/v1/approvals/$appr/approve" ] ||
    fail "Slack approve link: $slack"
  [ "$(jq -s 'length' "$work/mail.jsonl")" = 1 ] || fail "the email went out more than once"
  ;;
approval_store_down)
  # PostgreSQL goes away while a request is held for approval: the request is refused, nothing
  # reaches the cluster (fail closed). Own database, so the outage touches no other test.
  source "$here/../../scripts/lib/pg.sh"
  pg=$work/pg ad=ad$RANDOM$RANDOM
  cleanup_extra+=("pg_stop '$pg'")
  pg_start "$pg"
  "$gw" migrate --database "$(cat "$pg/url")" >/dev/null
  policy_gateway "$ad" "$(cat "$pg/url")" <<'YAML'
rules:
  - name: cluster-rbac
    match: {verbs: [create], resources: [clusterrolebindings]}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m}
YAML
  export SLUICE_SERVER="https://127.0.0.1:$(cat "$work/gw/https_port")" SLUICE_CA_FILE=$work/gw/certs/ca.crt \
         SLUICE_TOKEN_FILE=$work/gw/reviewer.token
  k() { KUBECONFIG="$work/$ad.kubeconfig" kubectl "$@"; }
  wait_for 20 k get ns -o name || fail "no request passed the gateway"
  id=$RANDOM$RANDOM seq=$(standin_seq)
  k create clusterrolebinding "down-$id" --clusterrole=view --user=someone >"$work/down.out" 2>&1 &
  held=$!
  has_pending() { [ "$("$gw" approvals --pending -o json | jq '.items | length')" = 1 ]; }
  wait_for 20 has_pending || fail "no pending approval: $(cat "$work/down.out")"
  pg_stop "$pg"
  deadline=$((SECONDS + 20))
  while kill -0 $held 2>/dev/null; do [ $SECONDS -lt $deadline ] || fail "kubectl still waits with PostgreSQL gone"; sleep 0.2; done
  if wait $held; then fail "the held request went through with PostgreSQL gone"; fi
  contains "$(cat "$work/down.out")" "the approval store is unavailable; the request was not forwarded"
  KUBECONFIG="$standin/kubeconfig" kubectl get clusterrolebinding "down-$id" >/dev/null 2>&1 && fail "the held request reached the cluster"
  ;;
client_cert)
  # kubectl logs in with a client certificate (CN = user, O = groups) signed by the configured
  # client CA; a certificate from another CA is refused in the handshake and reaches nothing.
  mint() {  # NAME SUBJECT CA_PREFIX -> $work/NAME.{crt,key}
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" -keyout "$work/$1.key" -out "$work/$1.csr" 2>/dev/null
    openssl x509 -req -in "$work/$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial -days 1 -out "$work/$1.crt" 2>/dev/null
  }
  cert_kubeconfig() {
    cat <<KC
apiVersion: v1
kind: Config
clusters: [{name: c1, cluster: {server: "$base/clusters/c1", certificate-authority: "$ca"}}]
users: [{name: u, user: {client-certificate: "$work/$1.crt", client-key: "$work/$1.key"}}]
contexts: [{name: c1, context: {cluster: c1, user: u}}]
current-context: c1
KC
  }
  mint carol "/O=platform/O=oncall/CN=carol" "$dir/certs/client-ca"
  cert_kubeconfig carol >"$work/carol.kubeconfig"
  seq=$(standin_seq) mark="probe%3Dcert-$$"
  KUBECONFIG="$work/carol.kubeconfig" kubectl get cm -n default -l "probe=cert-$$" >/dev/null || fail "client-certificate login failed"
  rec=$(standin_log_since "$seq" | jq -c --arg m "$mark" 'select(.uri | contains($m))' | tail -1)
  [ "$(jq -r .impersonate.user <<<"$rec")" = carol ] || fail "the cluster saw another user: $rec"
  [ "$(jq -c .impersonate.groups <<<"$rec")" = '["platform","oncall","system:authenticated"]' ] || fail "groups: $rec"
  db=$(cat "$dir/database_url")
  wait_for 10 sql_count "$db" "SELECT count(*) FROM audit_events WHERE username = 'carol' AND auth_method = 'x509'
    AND groups = ARRAY['platform','oncall']" -ge 1 || fail "no x509 audit row for carol"
  # another CA: refused before any request is read
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=rogue-ca \
    -keyout "$work/rogue-ca.key" -out "$work/rogue-ca.crt" 2>/dev/null
  mint mallory "/O=system:masters/CN=mallory" "$work/rogue-ca"
  cert_kubeconfig mallory >"$work/mallory.kubeconfig"
  seq=$(standin_seq)
  set +e; out=$(KUBECONFIG="$work/mallory.kubeconfig" kubectl get cm -n default --request-timeout=10s 2>&1); code=$?; set -e
  [ $code != 0 ] || fail "a certificate from an unknown CA was accepted"
  [ -z "$(standin_log_since "$seq" | jq -c 'select(.impersonate.user == "mallory")')" ] || fail "mallory reached the cluster"
  # a certificate without a CN names nobody: 401
  mint nocn "/O=platform" "$dir/certs/client-ca"
  out=$(curl -sS --cacert "$ca" --cert "$work/nocn.crt" --key "$work/nocn.key" -w ' %{http_code}' "$base/clusters/c1/api/v1/namespaces")
  contains "$out" ' 401'
  ;;
oidc)
  # OIDC end to end with a test issuer (HTTPS on 127.0.0.1, keys generated per run, tokens minted
  # per check): kubectl with an issuer's token, every accepted algorithm, every refusal, key
  # rotation with a rate-limited refresh, and cached keys while the issuer is down.
  source "$here/../../scripts/lib/pg.sh"
  tool=$(cd "$(dirname "$gw")/../tests" && pwd)/oidc_tool
  idp=$work/idp pg=$work/pg gwd=$work/gw
  mkdir -p "$idp"
  "$gw" certs --dir "$idp/certs" >/dev/null
  for k in "rsa-1 RSA" "p256-1 P-256" "p384-1 P-384" "ed-1 Ed25519" "rsa-2 RSA" "ghost RSA"; do
    set -- $k; "$tool" keygen "$idp" "$1" "$2"
  done
  "$tool" jwks "$idp" rsa-1 p256-1 p384-1 ed-1 >"$idp/jwks.json"
  python3 "$here/oidc_issuer.py" "$idp/certs/tls.crt" "$idp/certs/tls.key" "$idp" &
  issuer_pid=$!; cleanup_extra+=("kill $issuer_pid")
  wait_for 10 test -s "$idp/port" || fail "the test issuer did not start"
  iss="https://127.0.0.1:$(cat "$idp/port")"
  cleanup_extra+=("pg_stop '$pg'" "gateway_stop '$gwd'")
  pg_start "$pg"
  gateway_setup "$gw" "$gwd" "$(cat "$pg/url")"
  cat >"$work/oidc.yaml" <<YAML
  oidc:
  - issuer: "$iss"
    audiences: [kubernetes, sluice]
    username_claim: email
    username_prefix: "oidc:"
    groups_claim: groups
    groups_prefix: "oidc:"
    ca_file: $idp/certs/ca.crt
    min_refresh_seconds: 5
  - issuer: "$iss/ci"
    audiences: [sluice]
    username_prefix: "github:"
    required_claims: {repository: acme/deploy}
    ca_file: $idp/certs/ca.crt
YAML
  sed -i "/^  client_ca_file:/r $work/oidc.yaml" "$gwd/gateway.yaml"
  gateway_start "$gw" "$gwd"
  cleanup_extra+=("agent_stop '$gwd' oc")
  agent_start "$gw" "$agent" "$gwd" oc "$standin/kubeconfig"
  obase="https://127.0.0.1:$(cat "$gwd/https_port")/clusters/oc"
  now=$(date +%s)
  claims() { jq -nc --arg iss "${2:-$iss}" --argjson now "$now" '{iss: $iss, aud: "sluice", sub: "u-1",
    email: "ann@example.com", email_verified: true, groups: ["dev", "ops"], exp: ($now + 300), iat: $now}' | jq -c ". + ${1:-{\}}"; }
  mint() { "$tool" mint "$idp" "$@"; }
  code_for() { curl -sS --cacert "$gwd/certs/ca.crt" -H "Authorization: Bearer $1" -o /dev/null -w '%{http_code}' \
    "$obase/api/v1/namespaces/default/configmaps?limit=1"; }
  tokens=()
  refused() {  # TOKEN REASON: 401 and the reason in the gateway's log
    tokens+=("$1")
    [ "$(code_for "$1")" = 401 ] || fail "token accepted but should be refused: $2"
    wait_for 5 grep -qF -- "$2" "$gwd/gateway.log" || fail "the gateway log does not say '$2'"
  }
  wait_for 20 grep -q "keys of $iss fetched" "$gwd/gateway.log" || fail "the gateway did not fetch the issuer's keys"

  # kubectl with the issuer's token; the cluster sees the mapped identity
  good=$(mint rsa-1 RS256 "$(claims)"); tokens+=("$good")
  "$gw" kubeconfig --cluster oc --token-file <(echo "$good") --server "https://127.0.0.1:$(cat "$gwd/https_port")" \
    --ca-file "$gwd/certs/ca.crt" >"$work/oidc.kubeconfig"
  seq=$(standin_seq) mark="probe%3Doidc-$$"
  KUBECONFIG="$work/oidc.kubeconfig" kubectl get cm -n default -l "probe=oidc-$$" >/dev/null || fail "kubectl with an OIDC token failed"
  rec=$(standin_log_since "$seq" | jq -c --arg m "$mark" 'select(.uri | contains($m))' | tail -1)
  [ "$(jq -r .impersonate.user <<<"$rec")" = "oidc:ann@example.com" ] || fail "user: $rec"
  [ "$(jq -c .impersonate.groups <<<"$rec")" = '["oidc:dev","oidc:ops","system:authenticated"]' ] || fail "groups: $rec"
  [ "$(jq -c '.impersonate.extra' <<<"$rec")" = "{\"sluice.dev%2foidc-issuer\":[\"$iss\"],\"sluice.dev%2foidc-subject\":[\"u-1\"]}" ] ||
    fail "extra: $rec"
  wait_for 10 sql_count "$(cat "$pg/url")" "SELECT count(*) FROM audit_events WHERE auth_method = 'oidc'
    AND username = 'oidc:ann@example.com'" -ge 1 || fail "no oidc audit row"

  for k in "rsa-1 RS384" "rsa-1 RS512" "rsa-1 PS256" "rsa-1 PS512" "p256-1 ES256" "p384-1 ES384" "ed-1 EdDSA"; do
    set -- $k
    t=$(mint "$1" "$2" "$(claims)"); tokens+=("$t")
    [ "$(code_for "$t")" = 200 ] || fail "$2 with $1 refused"
  done
  t=$(mint rsa-1 RS256 "$(claims '{"aud": ["other", "kubernetes"]}')"); tokens+=("$t")
  [ "$(code_for "$t")" = 200 ] || fail "an audience list holding an accepted audience was refused"

  refused "$(mint rsa-1 none "$(claims)")" 'token algorithm "none" is not accepted'
  refused "$(mint rsa-1 HS256 "$(claims)")" 'token algorithm "HS256" is not accepted'
  refused "$(mint rsa-1 RS256 "$(claims '{"aud": "someone-else"}')")" "wrong audience"
  refused "$(mint rsa-1 RS256 "$(claims "{\"exp\": $((now - 600))}")")" "token expired"
  refused "$(mint rsa-1 RS256 "$(claims "{\"nbf\": $((now + 600))}")")" "token not yet valid"
  refused "$(mint rsa-1 RS256 "$(claims '{"email_verified": false}')")" "email not verified"
  refused "$(mint p256-1 ES256 "$(claims)" '{"kid": "rsa-1"}')" "no ES256 key with kid \"rsa-1\""
  refused "$(mint rsa-1 RS256 "$(claims)" '{"crit": ["b64"]}')" "critical extensions"
  t=$(mint rsa-1 RS256 "$(claims)"); refused "${t%.*}.!!!" "malformed token: invalid base64url"
  refused "$(mint rsa-1 RS256 "$(claims '{}' "$iss/ci")")" 'required claim "repository"'
  t=$(mint rsa-1 RS256 "$(claims '{"repository": "acme/deploy"}' "$iss/ci")"); tokens+=("$t")
  [ "$(code_for "$t")" = 200 ] || fail "the CI issuer's token with the required claim was refused"
  # a token for an issuer that is not configured, or over the size limit, is no OIDC token at all
  t=$(mint rsa-1 RS256 "$(claims '{}' "https://evil.example")"); tokens+=("$t")
  [ "$(code_for "$t")" = 401 ] || fail "a token of an unknown issuer was accepted"
  t=$(mint rsa-1 RS256 "$(claims "{\"pad\": \"$(head -c 20000 /dev/zero | tr '\0' x)\"}")"); tokens+=("$t")
  [ "$(code_for "$t")" = 401 ] || fail "an oversized token was accepted"

  # rotation: a new kid makes the gateway fetch the JWKS again, once; then unknown kids are refused
  # without another fetch until min_refresh (5 s) has passed
  "$tool" jwks "$idp" rsa-1 p256-1 p384-1 ed-1 rsa-2 >"$idp/jwks.json"
  sleep 5  # the fetch at start was less than min_refresh ago
  hits=$(cat "$idp/jwks_hits")
  t=$(mint rsa-2 RS256 "$(claims)"); tokens+=("$t")
  [ "$(code_for "$t")" = 200 ] || fail "a token signed with a rotated-in key was refused"
  [ "$(cat "$idp/jwks_hits")" = $((hits + 1)) ] || fail "expected one JWKS fetch for the new kid, got $(( $(cat "$idp/jwks_hits") - hits ))"
  for i in 1 2 3; do refused "$(mint ghost RS256 "$(claims)")" 'no RS256 key with kid "ghost"'; done
  [ "$(cat "$idp/jwks_hits")" = $((hits + 1)) ] || fail "unknown kids made the gateway fetch the JWKS again within min_refresh"

  # the issuer goes away: tokens whose key is cached still work
  kill "$issuer_pid"; wait "$issuer_pid" 2>/dev/null || true
  t=$(mint ed-1 EdDSA "$(claims)"); tokens+=("$t")
  [ "$(code_for "$t")" = 200 ] || fail "a cached key stopped working while the issuer is unreachable"
  for t in "${tokens[@]}"; do  # the signature part identifies a token ("none" has none)
    sig=${t##*.}
    [ ${#sig} -lt 16 ] || ! grep -qF -- "$sig" "$gwd/gateway.log" || fail "the gateway logged a token"
    grep -qF -- "${t%%.*}.${t#*.}" "$gwd/gateway.log" && fail "the gateway logged a token"
  done
  true
  ;;
*)
  fail "unknown case"
  ;;
esac
echo "PASS [$case_name]"
