#!/usr/bin/env bash
#
# demo/run.sh -- the pg_dataproduct demo, end to end, in one command.
#
#     bash demo/run.sh            as root, on Debian 12, from any directory
#
# Tunewave, a fictional music-streaming company, keeps its operational data
# in PostgreSQL.  Its domain teams (catalog, player, billing) turn those
# tables into data products that analysts query.  The script:
#
#   1. installs what is missing: postgresql-15, postgresql-server-dev-15,
#      build-essential (apt-get update runs only if something is missing);
#   2. builds and installs the extension from this repository (make, make
#      install, with PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config);
#   3. starts a throwaway cluster as user postgres, in a mktemp directory
#      (data and unix socket there, no TCP), on port 5488 or the next free
#      one, with shared_preload_libraries = 'pg_dataproduct';
#   4. demo/schema.sql    the systems of record, 1,000,000 play events, roles;
#   5. demo/products.sql  domains, products, output ports, grants;
#   6. demo/workload.sql  writes to the sources, refresh, before and after;
#   7. demo/explore.sql   the catalog views, then an analyst's session.
#
# The cluster is stopped and removed when the script exits, whether it
# succeeded or not.  Any SQL error stops the demo with a non-zero status.
#
# Environment: DEMO_PORT   first port to try (default 5488).

set -Eeuo pipefail

# libpq settings of the caller's environment must not redirect our clients
while read -r var; do unset "$var"; done < <(compgen -e | grep '^PG' || true)

DEMO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$DEMO_DIR/.." && pwd)
PG_BIN=/usr/lib/postgresql/15/bin
PG_CONFIG=$PG_BIN/pg_config
DB=streaming
START_TIME=$SECONDS

RULE='=============================================================================='
section() {
    printf '\n%s\n  %s\n%s\n' "$RULE" "$*" "$RULE"
}
info() {
    printf '  %s\n' "$*"
}
die() {
    printf 'run.sh: %s\n' "$*" >&2
    exit 1
}

[[ $(id -u) -eq 0 ]] || die "run me as root (bash demo/run.sh): I install packages and switch to user postgres"

cat <<'EOF'

  pg_dataproduct demo: data products inside PostgreSQL

  Tunewave streams music.  Its apps write to operational tables (the systems
  of record); its domain teams declare data products on them -- owned,
  described, versioned views, kept in store tables by pg_dataproduct -- and
  analysts query those products instead of the operational tables.
EOF

# ---------------------------------------------------------------------------
section "1. Prerequisites: PostgreSQL 15, its server headers, a C toolchain"

missing=()
for pkg in postgresql-15 postgresql-server-dev-15; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done
if ! command -v gcc >/dev/null || ! command -v make >/dev/null; then
    missing+=(build-essential)
fi
if ((${#missing[@]} > 0)); then
    info "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    info "already installed: postgresql-15, postgresql-server-dev-15, gcc, make"
fi
[[ -x $PG_CONFIG ]] || die "$PG_CONFIG not found"
id postgres >/dev/null 2>&1 || die "user postgres does not exist (it comes with postgresql-15)"
info "$("$PG_BIN/postgres" --version)"

# ---------------------------------------------------------------------------
section "2. Build and install pg_dataproduct from $REPO_ROOT"

make -C "$REPO_ROOT" -s PG_CONFIG="$PG_CONFIG"
make -C "$REPO_ROOT" -s PG_CONFIG="$PG_CONFIG" install
info "installed $("$PG_CONFIG" --pkglibdir)/pg_dataproduct.so"
info "and the extension files in $("$PG_CONFIG" --sharedir)/extension/"

# ---------------------------------------------------------------------------
section "3. A throwaway PostgreSQL 15 cluster"

WORKDIR=$(mktemp -d /tmp/pg_dataproduct_demo.XXXXXX)
PGDATA=$WORKDIR/data
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if [[ -f $PGDATA/postmaster.pid ]]; then
        if ((rc != 0)) && [[ -f $WORKDIR/server.log ]]; then
            printf '\n--- last lines of the server log ---\n' >&2
            tail -n 30 "$WORKDIR/server.log" >&2
        fi
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w -t 30 stop >/dev/null 2>&1 ||
            runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1
    fi
    rm -rf "$WORKDIR"
    printf '\n  the throwaway cluster is stopped and %s is removed\n' "$WORKDIR"
    if ((rc == 0)); then
        printf '  demo finished in %d s\n\n' $((SECONDS - START_TIME))
    else
        printf '  demo FAILED (exit status %d)\n\n' "$rc" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

chown postgres:postgres "$WORKDIR"
chmod 700 "$WORKDIR"
cd "$WORKDIR"    # a directory user postgres may enter, wherever we were started

# The first free port from DEMO_PORT on.  The server listens on its unix
# socket only (in $WORKDIR), so this is only to stay clear of other servers.
PORT=${DEMO_PORT:-5488}
while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
    PORT=$((PORT + 1))
done

as_postgres() {
    runuser -u postgres -- "$@"
}

as_postgres "$PG_BIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 \
    --locale=C.UTF-8 --no-sync >"$WORKDIR/initdb.log" 2>&1 ||
    { cat "$WORKDIR/initdb.log" >&2; die "initdb failed"; }

cat >>"$PGDATA/postgresql.conf" <<EOF

# --- pg_dataproduct demo ---
port = $PORT
listen_addresses = ''
unix_socket_directories = '$WORKDIR'
shared_preload_libraries = 'pg_dataproduct'
# history outputs (billing.subscription_history) take commit times from here
track_commit_timestamp = on
# a throwaway cluster: speed over durability
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 256MB
work_mem = 64MB
maintenance_work_mem = 256MB
max_wal_size = 4GB
checkpoint_timeout = 30min
# works where /dev/shm is small, as in containers
dynamic_shared_memory_type = mmap
lc_messages = 'C'
EOF

as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$WORKDIR/server.log" -w -t 60 start >/dev/null
info "data directory  $PGDATA"
info "unix socket     $WORKDIR, port $PORT (no TCP)"
info "preloaded       $(as_postgres "$PG_BIN/psql" -X -At -h "$WORKDIR" -p "$PORT" -U postgres -d postgres -c 'SHOW shared_preload_libraries')"

as_postgres "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WORKDIR" -p "$PORT" -U postgres -d postgres \
    -c "CREATE DATABASE $DB"
info "database        $DB"

# Run one of the demo's SQL files.  The file is read by root and piped in,
# so user postgres never needs access to the repository.
run_sql() {
    local file=$DEMO_DIR/$1
    as_postgres "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -P pager=off \
        -h "$WORKDIR" -p "$PORT" -U postgres -d "$DB" -f - <"$file" 2>&1
}

# ---------------------------------------------------------------------------
section "4. The systems of record: catalog_sor, accounts_sor, player_sor (demo/schema.sql)"
t0=$SECONDS
run_sql schema.sql
info "loaded in $((SECONDS - t0)) s"

# ---------------------------------------------------------------------------
section "5. Domain teams declare their data products (demo/products.sql)"
t0=$SECONDS
run_sql products.sql
info "declared in $((SECONDS - t0)) s"

# ---------------------------------------------------------------------------
section "6. The apps keep writing; the outputs are refreshed (demo/workload.sql)"
t0=$SECONDS
run_sql workload.sql
info "done in $((SECONDS - t0)) s"

# ---------------------------------------------------------------------------
section "7. The catalog, and an analyst at work (demo/explore.sql)"
run_sql explore.sql
