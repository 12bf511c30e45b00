#!/usr/bin/env bash
#
# Runs every test of pg_dataproduct and exits non-zero if any fails.
#
#   sudo bash test/run-all.sh
#
# On a fresh Debian 12 machine, as root: installs what is missing
# (PostgreSQL 15 server and headers, pgTAP, IPC::Run, a C toolchain; for the
# client program libpq, libyaml and pkg-config, and chromium, whose headless
# mode checks the HTML catalog it writes), builds
# the extension with warnings as errors, installs it, then runs, as the
# unprivileged postgres user on a copy of the tree, every suite:
#   pg_regress (sql/, expected/), isolation (test/isolation/),
#   TAP (test/t/, which also runs the pgTAP suites in test/pgtap/).
# Each suite starts its own throwaway, preloaded PostgreSQL instance.
#
# Not as root, it assumes all of that is installed and runs the suites as the
# current user.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
export PG_CONFIG

if [ "$(id -u)" -eq 0 ]; then
	need=()
	for pkg in postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap \
		libtap-parser-sourcehandler-pgtap-perl libipc-run-perl build-essential \
		python3-jsonschema libpq-dev libyaml-dev pkg-config chromium; do
		dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
	done
	if [ ${#need[@]} -gt 0 ]; then
		echo "== installing ${need[*]}"
		apt-get update
		DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
	fi

	echo "== building (warnings are errors) and installing"
	make -C "$repo" -s clean
	make -C "$repo" -s COPT=-Werror
	make -C "$repo" -s install

	# PostgreSQL refuses to run as root: test a copy owned by postgres
	work=$(mktemp -d /tmp/pg_dataproduct-test.XXXXXX)
	trap 'rm -rf "$work"' EXIT
	cp -a "$repo"/. "$work"/
	chown -R postgres: "$work"
	runner=(runuser -u postgres --)
	tree=$work
else
	runner=()
	tree=$repo
fi

status=0
echo "== pg_regress, isolation and TAP tests"
(cd /tmp && "${runner[@]}" make -C "$tree" installcheck) || status=$?

if [ "$status" -ne 0 ]; then
	echo "== FAILED; what the failing suites left behind:"
	for f in "$tree"/regression.diffs "$tree"/output_iso/regression.diffs; do
		[ -f "$f" ] && { echo "---- $f"; cat "$f"; }
	done
	for f in "$tree"/tmp_check/log/* "$tree"/tmp_check_iso/log/* "$tree"/log/*; do
		[ -f "$f" ] && { echo "---- $f (last 100 lines)"; tail -n 100 "$f"; }
	done
	exit "$status"
fi
echo "== all tests passed"
