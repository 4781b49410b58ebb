# A canned "API server" for benchmarks: nginx serving the files under WWW as JSON over TLS (it never
# limits what is measured). Source this file; then
#   nginx_upstream_start GATEWAY_BIN WORK WWW   -> $nginx_port, WORK/up-certs/, WORK/upstream.kubeconfig
# and stop it with: kill "$(cat WORK/nginx.pid)"
nginx_upstream_start() {
  local gw=$1 work=$2 www=$3
  "$gw" certs --dir "$work/up-certs" >/dev/null
  chmod -R a+rX "$work/up-certs" "$www"
  nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.error.log;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  sendfile on;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    ssl_certificate $work/up-certs/tls.crt;
    ssl_certificate_key $work/up-certs/tls.key;
    root $www;
    default_type application/json;
    location / { try_files \$uri =404; }
  }
}
NGINX
  nginx -c "$work/nginx.conf"
  cat >"$work/upstream.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: up, cluster: {server: "https://127.0.0.1:$nginx_port", certificate-authority: "$work/up-certs/ca.crt"}}]
users: [{name: up, user: {token: bench-token-not-checked-by-nginx}}]
contexts: [{name: up, context: {cluster: up, user: up}}]
current-context: up
KC
}
