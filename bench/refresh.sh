#!/usr/bin/env bash
# Incremental refresh vs REFRESH MATERIALIZED VIEW of the same query, on a
# 5,000,000-row source, after 0.1 %, 1 %, 10 % and 30 % of its rows changed.
#
#   bash bench/refresh.sh          (as root; about 8 minutes on 2 cores)
#   ROWS=2000000 bash bench/refresh.sh
#
# Outputs: an aggregate of the fact table (track x day, ~600,000 groups) and a
# join with a dimension (genre x day, ~600 groups).  Both are declared with
# refresh => 'auto', so a batch too large to apply is recomputed instead.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ROWS=${ROWS:-5000000}

echo "== loading $ROWS play events"
# refreshes are timed by hand: the background worker must not apply the
# batches first
sql -c "ALTER SYSTEM SET dataproduct.enabled = off" -c "SELECT pg_reload_conf()" >/dev/null
sql <<SQL
CREATE EXTENSION pg_dataproduct;
CREATE SCHEMA b;
CREATE TABLE b.tracks (track_id int PRIMARY KEY, genre text NOT NULL);
INSERT INTO b.tracks SELECT g, 'genre ' || (g % 20) FROM generate_series(1, 20000) g;
CREATE TABLE b.plays (id bigint PRIMARY KEY, track_id int NOT NULL, day date NOT NULL, ms int NOT NULL);
INSERT INTO b.plays SELECT g, 1 + (g::bigint * 7919) % 20000, date '2026-01-01' + (g % 30)::int, (g::bigint * 31) % 300000
  FROM generate_series(1::bigint, $ROWS) g;
VACUUM ANALYZE b.plays, b.tracks;
SELECT dataproduct.create_domain('bench');
SELECT dataproduct.create_product('bench.p');
SELECT dataproduct.add_output('bench.p', 'agg',
  'SELECT track_id, day, count(*) AS plays, sum(ms) AS ms FROM b.plays GROUP BY track_id, day');
SELECT dataproduct.add_output('bench.p', 'joined',
  'SELECT t.genre, p.day, count(*) AS plays, sum(p.ms) AS ms FROM b.plays p JOIN b.tracks t USING (track_id) GROUP BY t.genre, p.day');
CREATE MATERIALIZED VIEW b.mv_agg AS
  SELECT track_id, day, count(*) AS plays, sum(ms) AS ms FROM b.plays GROUP BY track_id, day;
CREATE MATERIALIZED VIEW b.mv_joined AS
  SELECT t.genre, p.day, count(*) AS plays, sum(p.ms) AS ms FROM b.plays p JOIN b.tracks t USING (track_id) GROUP BY t.genre, p.day;
SQL
sql -c "SELECT dataproduct.refresh('bench.agg')" >/dev/null
sql -c "SELECT dataproduct.refresh('bench.joined')" >/dev/null
sql -c "VACUUM ANALYZE" >/dev/null

sql -c "CREATE UNIQUE INDEX ON b.mv_agg (track_id, day)" -c "CREATE UNIQUE INDEX ON b.mv_joined (genre, day)"

echo
machine
echo "commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "settings: shared_buffers 2GB, work_mem 64MB, dataproduct.full_refresh_fraction $(sql -c 'SHOW dataproduct.full_refresh_fraction')"

# a refresh with nothing to apply, in one session: pgbench's latency per call
# (the round trip included) over 2,000 calls of each output
echo "SELECT dataproduct.refresh('bench.agg'); SELECT dataproduct.refresh('bench.joined');" > "$BENCH_TMP/empty.sql"
chown postgres "$BENCH_TMP/empty.sql"
empty=$(runuser -u postgres --preserve-environment -- "$PG_BIN/pgbench" -n -t 1000 -f "$BENCH_TMP/empty.sql" bench 2>&1 |
	sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
printf 'refresh with nothing to apply: %.3f ms per refresh (pgbench, one session, round trip included)\n' \
	"$(awk -v l="$empty" 'BEGIN { print l / 2 }')"
printf '\n%-7s %-7s %8s %12s %12s %12s %9s %9s  %s\n' "changed" "output" "rows" "refresh" "matview" "concurrent" "vs mv" "vs conc." "how"
for pct in 0.1 1 10 30; do
	n=$(awk -v r="$ROWS" -v p="$pct" 'BEGIN { printf "%d", r * p / 100 }')
	# one session, warmed by a refresh with nothing to do (as the worker's is);
	# the changes commit in a transaction of their own before the timed refreshes:
	# n rows change their listening time and, one in ten, their day
	mapfile -t t < <(sql_times_ms \
		"SELECT dataproduct.refresh('bench.agg'), dataproduct.refresh('bench.joined')" \
		"UPDATE b.plays SET ms = ms + 1, day = CASE WHEN id % 10 = 0 THEN day + 1 ELSE day END WHERE id % ($ROWS / $n) = 0" \
		"CHECKPOINT" \
		"SELECT dataproduct.refresh('bench.agg')" \
		"SELECT dataproduct.refresh('bench.joined')" \
		"REFRESH MATERIALIZED VIEW b.mv_agg" \
		"REFRESH MATERIALIZED VIEW b.mv_joined" \
		"REFRESH MATERIALIZED VIEW CONCURRENTLY b.mv_agg" \
		"REFRESH MATERIALIZED VIEW CONCURRENTLY b.mv_joined")
	for i in 0 1; do
		out=$([ $i = 0 ] && echo agg || echo joined)
		t_inc=${t[$((3 + i))]}
		t_mv=${t[$((5 + i))]}
		t_conc=${t[$((7 + i))]}
		kind=$(sql -c "SELECT last_refresh_kind FROM dataproduct.outputs WHERE name = '$out'")
		diff=$(sql -c "SELECT count(*) FROM ((SELECT * FROM bench.$out EXCEPT ALL SELECT * FROM b.mv_$out)
		               UNION ALL (SELECT * FROM b.mv_$out EXCEPT ALL SELECT * FROM bench.$out)) d")
		[ "$diff" = 0 ] || { echo "output bench.$out differs from the matview by $diff rows" >&2; exit 1; }
		printf '%-7s %-7s %8s %9.1f ms %9.1f ms %9.1f ms %8sx %8sx  %s\n' "$pct %" "$out" "$n" \
			"$t_inc" "$t_mv" "$t_conc" "$(ratio "$t_mv" "$t_inc")" "$(ratio "$t_conc" "$t_inc")" "$kind"
	done
done
echo
echo "refresh: dataproduct.refresh(); matview: REFRESH MATERIALIZED VIEW (blocks readers);"
echo "concurrent: REFRESH MATERIALIZED VIEW CONCURRENTLY (does not, like dataproduct.refresh);"
echo "every output was checked equal to its matview after each refresh."
