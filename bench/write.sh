#!/usr/bin/env bash
# Write overhead of change capture: an OLTP mix of single-row inserts and
# updates from 4 pgbench clients on a table read by three incrementally
# maintained outputs, throughput with capture vs without, measured side by
# side in one run (alternating, several times, best of each).
#
#   bash bench/write.sh            (as root; about 6 minutes)
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

run_pgbench() {
	runuser -u postgres --preserve-environment -- "$PGBENCH" -n -c 4 -j 2 -T "$DURATION" \
		-f "$BENCH_TMP/oltp.sql" bench 2>&1 | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
with_capture() {
	sql <<'SQL' >/dev/null
SELECT dataproduct.add_output('wb.p', 'by_track', 'SELECT track_id, count(*) AS plays, sum(ms) AS ms FROM w.plays GROUP BY track_id');
SELECT dataproduct.add_output('wb.p', 'by_account', 'SELECT account_id, count(*) AS plays, max(played_at) AS last_play FROM w.plays GROUP BY account_id');
SELECT dataproduct.add_output('wb.p', 'by_genre', 'SELECT t.genre, count(*) AS plays, avg(p.ms) AS avg_ms FROM w.plays p JOIN w.tracks t USING (track_id) GROUP BY t.genre');
SQL
	sql -c "SELECT dataproduct.refresh(output) FROM dataproduct.outputs" >/dev/null
}
without_capture() {
	sql -c "SELECT dataproduct.drop_product('wb.p', cascade => true)" -c "SELECT dataproduct.create_product('wb.p')" >/dev/null
}

echo
machine
echo "mix: 50 % single-row INSERT, 50 % single-row UPDATE of a listened time; 4 clients, ${DURATION}s runs, synchronous_commit on"
best_off=0; best_on=0
for run in $(seq 1 "$RUNS"); do
	without_capture
	sql -c "CHECKPOINT" >/dev/null
	off=$(run_pgbench)
	with_capture
	sql -c "CHECKPOINT" >/dev/null
	on=$(run_pgbench)
	printf 'run %d: without capture %8.1f tps, with capture (3 outputs) %8.1f tps, ratio %s\n' \
		"$run" "$off" "$on" "$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')"
	best_off=$(awk -v a="$best_off" -v b="$off" 'BEGIN { print (b > a ? b : a) }')
	best_on=$(awk -v a="$best_on" -v b="$on" 'BEGIN { print (b > a ? b : a) }')
	sql -c "SELECT dataproduct.refresh(output) FROM dataproduct.outputs" >/dev/null
done
printf '\nbest of %d: without %.1f tps, with %.1f tps: throughput ratio %s\n' "$RUNS" "$best_off" "$best_on" \
	"$(awk -v a="$best_on" -v b="$best_off" 'BEGIN { printf "%.3f", a / b }')"
diff=$(sql -c "SELECT count(*) FROM ((SELECT track_id, count(*), sum(ms) FROM w.plays GROUP BY 1 EXCEPT ALL SELECT * FROM wb.by_track)
               UNION ALL (SELECT * FROM wb.by_track EXCEPT ALL SELECT track_id, count(*), sum(ms) FROM w.plays GROUP BY 1)) d")
echo "after the last run and a refresh, wb.by_track differs from its query by $diff rows"
[ "$diff" = 0 ]
