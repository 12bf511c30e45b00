#!/usr/bin/env bash
# Write overhead of change capture and of the background worker: an OLTP mix
# of single-row inserts and updates from 4 pgbench clients, as fast as they
# go (a load that saturates the machine), on a table read by three
# incrementally maintained outputs.  Three configurations measured side by
# side in one run, alternating, several times, best of each:
#
#   none        no outputs (no capture)
#   capture     the three outputs, worker off (capture alone)
#   worker      the three outputs, worker on and keeping them fresh
#
# Each prints throughput and the p99 latency of a write.
#
#   bash bench/write.sh            (as root; about 8 minutes)
#
# DURATION (seconds per run, default 30) and RUNS (default 3) tune it.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
DURATION=${DURATION:-30}
RUNS=${RUNS:-3}
PGBENCH=$PG_BIN/pgbench

sql <<'SQL'
CREATE EXTENSION pg_dataproduct;
CREATE SCHEMA w;
CREATE TABLE w.tracks (track_id int PRIMARY KEY, genre text NOT NULL);
INSERT INTO w.tracks SELECT g, 'genre ' || (g % 20) FROM generate_series(1, 20000) g;
CREATE TABLE w.plays (id bigserial PRIMARY KEY, account_id int NOT NULL, track_id int NOT NULL,
                      played_at timestamptz NOT NULL, ms int NOT NULL, device text);
INSERT INTO w.plays (account_id, track_id, played_at, ms, device)
SELECT g % 50000, 1 + g % 20000, now() - (g % 720) * interval '1 hour', g % 300000, 'ios'
  FROM generate_series(1, 1000000) g;
VACUUM ANALYZE w.plays;
SELECT dataproduct.create_domain('wb');
SELECT dataproduct.create_product('wb.p');
SQL

cat > "$BENCH_TMP/oltp.sql" <<'EOF2'
\set id random(1, 1000000)
\set track random(1, 20000)
\set account random(1, 50000)
\set ms random(1, 300000)
\set choice random(1, 2)
\if :choice = 1
INSERT INTO w.plays (account_id, track_id, played_at, ms, device) VALUES (:account, :track, now(), :ms, 'web');
\else
UPDATE w.plays SET ms = :ms WHERE id = :id;
\endif
EOF2
chown postgres "$BENCH_TMP/oltp.sql"

# prints "tps p99_ms": throughput, and the 99th percentile of the latency of
# a write (from pgbench's per-transaction log)
run_pgbench() {
	rm -f "$BENCH_TMP"/pgbench_log.*
	local tps
	tps=$(cd "$BENCH_TMP" && runuser -u postgres --preserve-environment -- "$PGBENCH" -n -c 4 -j 2 -T "$DURATION" \
		-l --log-prefix="$BENCH_TMP/pgbench_log" -f "$BENCH_TMP/oltp.sql" bench 2>&1 | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
	local p99
	p99=$(cat "$BENCH_TMP"/pgbench_log.* | awk '{ print $3 }' | sort -n | awk '{ v[NR] = $1 } END { i = int(NR * 0.99); if (i < 1) i = 1; printf "%.2f", v[i] / 1000 }')
	echo "$tps $p99"
}
declare_outputs() {
	sql <<'SQL' >/dev/null
SELECT dataproduct.add_output('wb.p', 'by_track', 'SELECT track_id, count(*) AS plays, sum(ms) AS ms FROM w.plays GROUP BY track_id');
SELECT dataproduct.add_output('wb.p', 'by_account', 'SELECT account_id, count(*) AS plays, max(played_at) AS last_play FROM w.plays GROUP BY account_id');
SELECT dataproduct.add_output('wb.p', 'by_genre', 'SELECT t.genre, count(*) AS plays, avg(p.ms) AS avg_ms FROM w.plays p JOIN w.tracks t USING (track_id) GROUP BY t.genre');
SQL
	sql -c "SELECT dataproduct.refresh(output) FROM dataproduct.outputs" >/dev/null
}
drop_outputs() {
	sql -c "SELECT dataproduct.drop_product('wb.p', cascade => true)" -c "SELECT dataproduct.create_product('wb.p')" >/dev/null
}
set_worker() {
	sql -c "ALTER SYSTEM SET dataproduct.enabled = $1" -c "SELECT pg_reload_conf()" >/dev/null
	sleep 2
}
catch_up() {
	sql -c "SELECT dataproduct.refresh(output) FROM dataproduct.outputs" >/dev/null
}

echo
machine
echo "commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "mix: 50 % single-row INSERT, 50 % single-row UPDATE of a listened time; 4 clients, ${DURATION}s runs, as fast as they go, synchronous_commit on"
declare -A best_tps best_p99
for c in none capture worker; do best_tps[$c]=0; best_p99[$c]=1000000; done
for run in $(seq 1 "$RUNS"); do
	line="run $run:"
	for c in none capture worker; do
		case $c in
			none)    set_worker off; drop_outputs ;;
			capture) declare_outputs ;;
			worker)  catch_up; set_worker on ;;
		esac
		sql -c "CHECKPOINT" >/dev/null
		read -r tps p99 < <(run_pgbench)
		line+=$(printf '  %s %8.1f tps p99 %6.2f ms' "$c" "$tps" "$p99")
		best_tps[$c]=$(awk -v a="${best_tps[$c]}" -v b="$tps" 'BEGIN { print (b > a ? b : a) }')
		best_p99[$c]=$(awk -v a="${best_p99[$c]}" -v b="$p99" 'BEGIN { print (b < a ? b : a) }')
	done
	echo "$line"
	set_worker off
	catch_up
done
ratio3() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
echo
printf 'best of %d:  none %.1f tps (p99 %s ms)  capture %.1f tps (p99 %s ms)  worker %.1f tps (p99 %s ms)\n' "$RUNS" \
	"${best_tps[none]}" "${best_p99[none]}" "${best_tps[capture]}" "${best_p99[capture]}" "${best_tps[worker]}" "${best_p99[worker]}"
printf 'throughput ratio to no capture: capture, worker off %s; capture, worker on %s\n' \
	"$(ratio3 "${best_tps[capture]}" "${best_tps[none]}")" "$(ratio3 "${best_tps[worker]}" "${best_tps[none]}")"
sql -c "SELECT format('refreshes by the worker: %s, %s rows applied', count(*), sum(rows_changed))
          FROM dataproduct.refresh_history WHERE by_worker"
diff=$(sql -c "SELECT count(*) FROM ((SELECT track_id, count(*), sum(ms) FROM w.plays GROUP BY 1 EXCEPT ALL SELECT * FROM wb.by_track)
               UNION ALL (SELECT * FROM wb.by_track EXCEPT ALL SELECT track_id, count(*), sum(ms) FROM w.plays GROUP BY 1)) d")
echo "after the last run and a refresh, wb.by_track differs from its query by $diff rows"
[ "$diff" = 0 ]
