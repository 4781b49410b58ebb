#!/bin/sh
# The quick-start's one-shot set-up (compose.yaml's `setup` service), idempotent: what exists is
# kept. Into /state: a demo CA and serving certificate, two static tokens (a bot and a reviewer),
# the schema, and the cluster the agent serves, with its token. Runs as root only to hand /state
# to the image's user (65532), which everything after runs as.
set -eu
cd /state
cluster=${SLUICE_CLUSTER:-local}
db=${SLUICE_DATABASE_URL:?SLUICE_DATABASE_URL is required}
run() { setpriv --reuid=65532 --regid=65532 --clear-groups "$@"; }
chown 65532:65532 /state
[ -f certs/tls.crt ] || run sluice-gateway certs --dir certs --hosts gateway,localhost,127.0.0.1 >/dev/null
if [ ! -f tokens.csv ]; then
  umask 077
  for t in bot reviewer; do head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$t.token"; echo >>"$t.token"; done
  {
    echo "# token,user,uid,\"groups\" (kube-apiserver --token-auth-file format)"
    echo "$(cat bot.token),automation-bot,uid-automation-bot,\"ci,bots\""
    echo "$(cat reviewer.token),alice-reviewer,uid-alice,\"sluice-reviewers\""
  } >tokens.csv
  chown 65532:65532 bot.token reviewer.token tokens.csv
fi
run sluice-gateway migrate --database "$db"
if [ ! -s "agent-$cluster.token" ]; then
  run sluice-gateway cluster add "$cluster" --database "$db" >"agent-$cluster.token.tmp"
  mv "agent-$cluster.token.tmp" "agent-$cluster.token"
  chown 65532:65532 "agent-$cluster.token"
fi
echo "set-up done: cluster $cluster; tokens in the sluice_state volume (bot.token, reviewer.token)"
