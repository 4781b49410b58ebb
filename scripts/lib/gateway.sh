# Set up and run sluice-gateway and sluice-agent on one machine (tests, demo). Source this file.
#   gateway_setup GATEWAY_BIN DIR DATABASE_URL  -> DIR/{certs/,tokens.csv,*.token,gateway.yaml}
#                                                  (certs/client-ca.* signs client certificates)
#   gateway_start GATEWAY_BIN DIR               -> serves on free ports; DIR/https_port, DIR/agent_port
#   agent_start GATEWAY_BIN AGENT_BIN DIR CLUSTER KUBECONFIG  -> registers CLUSTER if new, starts its agent
#   gateway_kubeconfig GATEWAY_BIN DIR CLUSTER TOKEN_FILE      -> prints a kubeconfig through the gateway
#   agent_stop DIR CLUSTER; gateway_stop DIR
# Identities in tokens.csv: automation-bot (bot.token; groups ci, bots) and a reviewer
# (reviewer.token; group sluice-reviewers).

gateway_setup() {
  local bin=$1 dir=$2 url=$3 t
  mkdir -p "$dir"
  "$bin" certs --dir "$dir/certs" >/dev/null
  # A CA for client certificates (kubectl's client-certificate login: CN = user, O = groups).
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj /CN=sluice-client-ca \
    -keyout "$dir/certs/client-ca.key" -out "$dir/certs/client-ca.crt" 2>/dev/null
  chmod 600 "$dir/certs/client-ca.key"
  for t in bot reviewer; do head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/$t.token"; echo >>"$dir/$t.token"; done
  chmod 600 "$dir"/*.token
  {
    echo "# token,user,uid,\"groups\" (kube-apiserver --token-auth-file format)"
    echo "$(cat "$dir/bot.token"),automation-bot,uid-automation-bot,\"ci,bots\""
    echo "$(cat "$dir/reviewer.token"),alice-reviewer,uid-alice,\"sluice-reviewers\""
  } >"$dir/tokens.csv"
  chmod 600 "$dir/tokens.csv"
  cat >"$dir/gateway.yaml" <<YAML
listen: 127.0.0.1:${SLUICE_GATEWAY_PORT:-0}
agent_listen: 127.0.0.1:${SLUICE_AGENT_PORT:-0}
tls:
  cert_file: certs/tls.crt
  key_file: certs/tls.key
  ca_file: certs/ca.crt
database:
  url: "$url"
auth:
  static_tokens_file: tokens.csv
  client_ca_file: certs/client-ca.crt
limits:
  exchange_wait_seconds: 10
YAML
}

gateway_start() {
  local bin=$1 dir=$2 i
  rm -f "$dir/ready.json"
  setsid "$bin" serve --config "$dir/gateway.yaml" --ready-file "$dir/ready.json" >"$dir/gateway.log" 2>&1 </dev/null &
  echo $! >"$dir/gateway.pid"
  for i in $(seq 1 100); do
    if [ -s "$dir/ready.json" ]; then
      sed -n 's/.*"https_port": \([0-9]*\).*/\1/p' "$dir/ready.json" >"$dir/https_port"
      sed -n 's/.*"agent_port": \([0-9]*\).*/\1/p' "$dir/ready.json" >"$dir/agent_port"
      return 0
    fi
    kill -0 "$(cat "$dir/gateway.pid")" 2>/dev/null || { echo "gateway_start: the gateway exited:" >&2; cat "$dir/gateway.log" >&2; return 1; }
    sleep 0.1
  done
  echo "gateway_start: not ready after 10 s" >&2
  return 1
}

agent_start() {
  local gw=$1 agent=$2 dir=$3 cluster=$4 kubeconfig=$5
  if [ ! -s "$dir/agent-$cluster.token" ]; then
    "$gw" cluster add "$cluster" --config "$dir/gateway.yaml" >"$dir/agent-$cluster.token" 2>/dev/null || return 1
    chmod 600 "$dir/agent-$cluster.token"
  fi
  setsid "$agent" --gateway "127.0.0.1:$(cat "$dir/agent_port")" --cluster "$cluster" \
    --token-file "$dir/agent-$cluster.token" --gateway-ca "$dir/certs/ca.crt" --kubeconfig "$kubeconfig" \
    --grace-seconds 5 >"$dir/agent-$cluster.log" 2>&1 </dev/null &
  echo $! >"$dir/agent-$cluster.pid"
  local i
  for i in $(seq 1 100); do
    grep -q "tunnel .* open" "$dir/agent-$cluster.log" 2>/dev/null && return 0
    kill -0 "$(cat "$dir/agent-$cluster.pid")" 2>/dev/null || { echo "agent_start: the agent exited:" >&2; cat "$dir/agent-$cluster.log" >&2; return 1; }
    sleep 0.1
  done
  echo "agent_start: no tunnel after 10 s" >&2
  return 1
}

gateway_kubeconfig() {
  local bin=$1 dir=$2 cluster=$3 token_file=$4
  "$bin" kubeconfig --cluster "$cluster" --token-file "$token_file" --server "https://127.0.0.1:$(cat "$dir/https_port")" \
    --ca-file "$dir/certs/ca.crt"
}

_stop_pidfile() {
  local f=$1 pid i
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

agent_stop() { _stop_pidfile "$1/agent-$2.pid"; }

gateway_stop() {
  local dir=$1 f
  for f in "$dir"/agent-*.pid; do [ -e "$f" ] && _stop_pidfile "$f"; done
  _stop_pidfile "$dir/gateway.pid"
}
