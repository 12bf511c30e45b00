# Shared by the benchmarks: a throwaway PostgreSQL 15 cluster with the
# extension preloaded, owned by user postgres, removed on exit.
# Source it; then use `sql`, `sql_time_ms` and `$PGPORT`.
set -Eeuo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
export PG_CONFIG=$PG_BIN/pg_config

[[ $(id -u) -eq 0 ]] || { echo "run as root (installs, then runs PostgreSQL as postgres)" >&2; exit 1; }
need=()
for pkg in postgresql-15 postgresql-server-dev-15 build-essential; do
	dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
fi
make -C "$REPO_ROOT" -s >/dev/null
make -C "$REPO_ROOT" -s install >/dev/null

BENCH_TMP=$(mktemp -d /tmp/pg_dataproduct_bench.XXXXXX)
chown postgres: "$BENCH_TMP"
export PGHOST=$BENCH_TMP PGPORT=${BENCH_PORT:-5477} PGUSER=postgres PGDATABASE=bench
cleanup() {
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$BENCH_TMP/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$BENCH_TMP"
}
trap cleanup EXIT
runuser -u postgres -- "$PG_BIN/initdb" -D "$BENCH_TMP/data" -A trust >/dev/null
cat >> "$BENCH_TMP/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$BENCH_TMP'
port = $PGPORT
shared_preload_libraries = 'pg_dataproduct'
shared_buffers = 2GB
work_mem = 64MB
maintenance_work_mem = 512MB
max_wal_size = 16GB
checkpoint_timeout = 30min
autovacuum = off
CONF
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$BENCH_TMP/data" -l "$BENCH_TMP/log" -w start >/dev/null
runuser -u postgres -- "$PG_BIN/createdb" bench

sql() {
	runuser -u postgres --preserve-environment -- "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"
}

# the wall time of one statement, in milliseconds, as psql measures it
sql_time_ms() {
	runuser -u postgres --preserve-environment -- "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
		-c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
}

# several statements in one session; prints each one's time in ms, a line each
sql_times_ms() {
	local args=(-c '\timing on')
	for stmt in "$@"; do args+=(-c "$stmt"); done
	runuser -u postgres --preserve-environment -- "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
		"${args[@]}" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

machine() {
	echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}')"
}
