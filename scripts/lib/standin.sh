# Start/stop the API-server stand-in in the background. Source this file; then
#   standin_start BINARY DIR  -> waits until DIR/ready exists (DIR/kubeconfig, DIR/token, DIR/port)
#   standin_stop DIR

standin_start() {
  local bin=$1 dir=$2 i
  mkdir -p "$dir"
  rm -f "$dir/ready"
  setsid "$bin" --dir "$dir" >"$dir/standin.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
  for i in $(seq 1 100); do
    [ -f "$dir/ready" ] && return 0
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      echo "standin_start: the stand-in exited:" >&2; cat "$dir/standin.log" >&2; return 1
    fi
    sleep 0.1
  done
  echo "standin_start: not ready after 10 s" >&2
  return 1
}

standin_stop() {
  local dir=$1 pid i
  [ -f "$dir/pid" ] || return 0
  pid=$(cat "$dir/pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/pid" "$dir/ready"
}
