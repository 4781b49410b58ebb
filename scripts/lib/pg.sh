# Throwaway PostgreSQL for tests and the demo. Source this file; then
#   pg_start STATE_DIR   -> initdb + start; writes STATE_DIR/{url,tcp_url,port,pgdir}
#   pg_stop STATE_DIR    -> stop and delete the data
#   pg_pause STATE_DIR / pg_resume STATE_DIR -> stop the server keeping its data, start it again
#                           on the same port (tests of an outage)
# Data and socket live in a fresh /tmp directory (short socket path, readable by the
# postgres user whatever the checkout's location). initdb refuses root, so as root the
# server runs as the `postgres` user that Debian's package creates.

pg_bindir() {
  local d
  d=$(pg_config --bindir 2>/dev/null)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

_pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

_pg_port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

_pg_ctl_start() {
  local bin=$1 pgdir=$2 port=$3
  _pg_as_owner "$bin/pg_ctl" -D "$pgdir/data" -w -t 30 -l "$pgdir/server.log" \
    -o "-k $pgdir -p $port -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
}

pg_pause() {
  _pg_as_owner "$(pg_bindir)/pg_ctl" -D "$(cat "$1/pgdir")/data" -m immediate -w stop >/dev/null
}

pg_resume() {
  _pg_ctl_start "$(pg_bindir)" "$(cat "$1/pgdir")" "$(cat "$1/port")"
}

pg_start() {
  local state=$1 bin pgdir port tries=0
  bin=$(pg_bindir)
  if [ -z "$bin" ]; then echo "pg_start: PostgreSQL server binaries not found (install postgresql)" >&2; return 1; fi
  mkdir -p "$state"
  pgdir=$(mktemp -d /tmp/sluice-pg.XXXXXX)
  chmod 755 "$pgdir"
  [ "$(id -u)" = 0 ] && chown postgres: "$pgdir"
  if ! _pg_as_owner "$bin/initdb" -D "$pgdir/data" -U sluice -A trust -E UTF8 --locale=C --no-sync >"$pgdir/initdb.log" 2>&1; then
    echo "pg_start: initdb failed:" >&2; cat "$pgdir/initdb.log" >&2; return 1
  fi
  while :; do
    port=$(( 20000 + RANDOM % 30000 ))
    _pg_port_free "$port" || continue
    if _pg_ctl_start "$bin" "$pgdir" "$port"; then
      break
    fi
    tries=$((tries + 1))
    if [ $tries -ge 5 ]; then echo "pg_start: PostgreSQL did not start:" >&2; tail -n 20 "$pgdir/server.log" >&2; return 1; fi
  done
  echo "$pgdir" >"$state/pgdir"
  echo "$port" >"$state/port"
  echo "host=$pgdir port=$port user=sluice dbname=postgres" >"$state/url"
  echo "postgresql://sluice@127.0.0.1:$port/postgres" >"$state/tcp_url"
}

pg_stop() {
  local state=$1 bin pgdir
  [ -f "$state/pgdir" ] || return 0
  pgdir=$(cat "$state/pgdir")
  bin=$(pg_bindir)
  if [ -d "$pgdir/data" ]; then
    _pg_as_owner "$bin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$pgdir"
  rm -f "$state/pgdir" "$state/port" "$state/url" "$state/tcp_url"
}
