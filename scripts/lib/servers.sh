# scripts/lib/servers.sh — owns the throwaway Redis and PostgreSQL servers that
# the tests and the demo run against (127.0.0.1 only, private ports, no
# persistence). Source it, then:
#
#     dir=$(mktemp -d); trap at_servers_stop EXIT
#     at_servers_start "$dir"       # exports AT_TEST_REDIS_PORT, AT_TEST_REDIS_SOCKET,
#                                   # AT_TEST_PG_PORT, AT_TEST_PG_ADMIN_URL, AT_TEST_PG_SOCKET_DIR
#     ...
#     at_servers_stop               # safe to call twice; removes what start created
#
# Call at_servers_start in the shell itself (not in $(...) or a pipeline): it
# records the server pids in shell variables. PostgreSQL refuses to run as
# root, so as root its programs run as the `postgres` user (runuser).
# Knobs: AT_REDIS_BASE_PORT (56379), AT_PG_BASE_PORT (55432), AT_SERVERS_KEEP=1
# (leave the data directories behind for inspection).

at__srv_log() { printf 'servers: %s\n' "$*" >&2; }

# True when something accepts connections on 127.0.0.1:$1.
at__srv_port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# True when process $1 has exited (a zombie waiting to be reaped counts).
at__srv_gone() {
  ! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" = Z ]
}

# Stop process $1: SIGTERM, up to 5 s grace, then SIGKILL.
at__srv_kill() {
  local i
  kill "$1" 2>/dev/null || return 0
  for i in $(seq 1 50); do
    at__srv_gone "$1" && return 0
    sleep 0.1
  done
  kill -9 "$1" 2>/dev/null || true
}

at__srv_tail() { # file: show the end of a server log after a failure
  [ -f "$1" ] || return 0
  at__srv_log "--- last lines of $1 ---"
  tail -n 20 "$1" >&2 || true
}

# Run a PostgreSQL program as the unprivileged owner of the cluster.
at__srv_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

at__srv_redis_start() {
  local dir=$1 port=${AT_REDIS_BASE_PORT:-56379} tries=0 pid i
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    at__srv_log "redis-server/redis-cli not found (run scripts/deps)"
    return 1
  fi
  while [ "$tries" -lt 40 ]; do
    if at__srv_port_busy "$port"; then
      port=$((port + 1)); tries=$((tries + 1)); continue
    fi
    rm -f "$dir/redis.sock" "$dir/redis.pid"
    # setsid: a Ctrl-C meant for the console (or the demo) must not reach
    # Redis, which shuts down on SIGINT. In a non-interactive shell setsid
    # execs in place, so $! is Redis itself; the pidfile covers the rest.
    setsid redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes \
      --save '' --appendonly no --daemonize no \
      --pidfile "$dir/redis.pid" --dir "$dir" --logfile "$dir/redis.log" \
      --unixsocket "$dir/redis.sock" --unixsocketperm 700 \
      </dev/null >/dev/null 2>&1 &
    pid=$!
    AT__SRV_REDIS_PID=$pid
    for i in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null ||
        { [ -s "$dir/redis.pid" ] && kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null; } || break
      # The socket is ours alone: a PONG there proves this server is up and,
      # since Redis exits when it cannot bind, that it owns the TCP port.
      if [ "$(redis-cli -s "$dir/redis.sock" ping 2>/dev/null)" = PONG ] &&
         [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then
        export AT_TEST_REDIS_PORT=$port AT_TEST_REDIS_SOCKET=$dir/redis.sock
        AT__SRV_REDIS_PIDFILE_PID=$(cat "$dir/redis.pid" 2>/dev/null || true)
        return 0
      fi
      sleep 0.1
    done
    at__srv_kill "$pid"
    [ -s "$dir/redis.pid" ] && at__srv_kill "$(cat "$dir/redis.pid")"
    wait "$pid" 2>/dev/null || true
    AT__SRV_REDIS_PID=
    tries=$((tries + 1))
    if [ "$tries" -ge 3 ] && ! grep -qi 'address already in use' "$dir/redis.log" 2>/dev/null; then
      break # not a port race: give up now instead of trying 40 ports
    fi
    port=$((port + 1))
  done
  at__srv_log "could not start redis-server (last port tried: $port)"
  at__srv_tail "$dir/redis.log"
  return 1
}

at__srv_pg_start() {
  local dir=$1 port=${AT_PG_BASE_PORT:-55432} tries=0 bin locale_opt
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    at__srv_log "PostgreSQL server binaries not found under /usr/lib/postgresql (run scripts/deps)"
    return 1
  fi
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    at__srv_log "running as root but there is no 'postgres' user to run PostgreSQL as"
    return 1
  fi
  AT_PG_BIN=$bin
  mkdir -p "$dir/pg" "$dir/pgsock"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir/pg" "$dir/pgsock"; fi
  chmod 700 "$dir/pg"
  AT__SRV_PG_DIR=$dir/pg
  # C.UTF-8 keeps sorting byte-wise but lets lower()/ILIKE handle non-ASCII.
  if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then locale_opt=--locale=C.UTF-8
  else locale_opt=--no-locale; fi
  if ! at__srv_pg "$bin/initdb" -D "$dir/pg/data" -U postgres -A trust -E UTF8 "$locale_opt" \
       --no-sync >"$dir/initdb.log" 2>&1; then
    at__srv_log "initdb failed"
    at__srv_tail "$dir/initdb.log"
    return 1
  fi
  cat >>"$dir/pg/data/postgresql.conf" <<EOF
# --- aethertop throwaway test cluster ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/pgsock'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
logging_collector = off
log_min_messages = warning
EOF
  while [ "$tries" -lt 40 ]; do
    if at__srv_port_busy "$port"; then
      port=$((port + 1)); tries=$((tries + 1)); continue
    fi
    if at__srv_pg "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -o "-p $port" \
         -w -t 60 start >/dev/null 2>&1; then
      AT__SRV_PG_DATA=$dir/pg/data
      if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 30; then
        export AT_TEST_PG_PORT=$port AT_TEST_PG_SOCKET_DIR=$dir/pgsock
        export AT_TEST_PG_ADMIN_URL="postgresql://postgres@127.0.0.1:$port/postgres"
        return 0
      fi
      at__srv_log "PostgreSQL started but does not answer on 127.0.0.1:$port"
      at__srv_tail "$dir/pg/server.log"
      return 1
    fi
    tries=$((tries + 1))
    if ! grep -qi 'address already in use\|could not bind' "$dir/pg/server.log" 2>/dev/null; then
      break
    fi
    port=$((port + 1))
  done
  at__srv_log "could not start PostgreSQL (last port tried: $port)"
  at__srv_tail "$dir/pg/server.log"
  return 1
}

# at_servers_start DIR — start both servers with their files under DIR.
at_servers_start() {
  local dir=${1:-}
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    at__srv_log "at_servers_start: need an existing directory (got '${dir}')"
    return 1
  fi
  dir=$(cd "$dir" && pwd -P)
  AT__SRV_DIR=$dir
  chmod 755 "$dir" # the postgres user must reach DIR/pg and DIR/pgsock
  if ! at__srv_redis_start "$dir" || ! at__srv_pg_start "$dir"; then
    at_servers_stop
    return 1
  fi
  return 0
}

# at_servers_stop — stop what at_servers_start started; idempotent, never fails.
at_servers_stop() {
  local pid
  if [ -n "${AT__SRV_PG_DATA:-}" ]; then
    at__srv_pg "$AT_PG_BIN/pg_ctl" -D "$AT__SRV_PG_DATA" -m immediate -w -t 30 stop \
      >/dev/null 2>&1 || true
    AT__SRV_PG_DATA=
  fi
  if [ -n "${AT__SRV_REDIS_PID:-}" ]; then
    for pid in ${AT__SRV_REDIS_PIDFILE_PID:-} "$AT__SRV_REDIS_PID"; do
      at__srv_kill "$pid"
    done
    wait "$AT__SRV_REDIS_PID" 2>/dev/null || true
    AT__SRV_REDIS_PID=
    AT__SRV_REDIS_PIDFILE_PID=
  fi
  if [ -n "${AT__SRV_DIR:-}" ]; then
    if [ "${AT_SERVERS_KEEP:-0}" != 1 ]; then
      rm -rf "${AT__SRV_DIR:?}/pg" "${AT__SRV_DIR:?}/pgsock"
      rm -f "$AT__SRV_DIR/redis.sock" "$AT__SRV_DIR/redis.pid" "$AT__SRV_DIR/redis.log" \
            "$AT__SRV_DIR/initdb.log"
    else
      at__srv_log "kept server files in $AT__SRV_DIR"
    fi
    AT__SRV_DIR=
  fi
  unset AT_TEST_REDIS_PORT AT_TEST_REDIS_SOCKET AT_TEST_PG_PORT AT_TEST_PG_ADMIN_URL \
        AT_TEST_PG_SOCKET_DIR
  return 0
}
