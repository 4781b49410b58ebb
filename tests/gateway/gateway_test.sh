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
