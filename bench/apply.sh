#!/usr/bin/env bash
# Apply throughput and memory: batches of 100,000 and 1,000,000 changed rows
# applied incrementally to an aggregate output (recomputation disabled so the
# batch really is applied), in changed source rows per second, with the peak
# private memory of the backend that applied each batch, at two work_mem
# settings.  Memory is bounded by work_mem, not by the batch: deltas go
# through tuplestores and hash aggregates that spill to disk past it.
#
#   bash bench/apply.sh            (as root; about 3 minutes)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

sql <<'SQL'
CREATE EXTENSION pg_dataproduct;
CREATE SCHEMA a;
CREATE TABLE a.plays (id bigint PRIMARY KEY, track_id int NOT NULL, day date NOT NULL, ms int NOT NULL);
INSERT INTO a.plays SELECT g, 1 + (g * 7919) % 20000, date '2026-01-01' + (g % 30)::int, (g * 31) % 300000
  FROM generate_series(1::bigint, 2000000) g;
VACUUM ANALYZE a.plays;
SELECT dataproduct.create_domain('ab');
SELECT dataproduct.create_product('ab.p');
SELECT dataproduct.add_output('ab.p', 'agg',
  'SELECT track_id, day, count(*) AS plays, sum(ms) AS ms, avg(ms) AS avg_ms FROM a.plays GROUP BY track_id, day');
SQL
sql -c "SELECT dataproduct.refresh('ab.agg')" >/dev/null

echo
machine
echo "settings: dataproduct.full_refresh_fraction = -1 (always apply)"
printf '\n%9s %12s %12s %14s %22s\n' "work_mem" "changed rows" "apply time" "rows/second" "backend peak RssAnon"
next=2000001
for run in 64MB:100000 64MB:1000000 4MB:100000 4MB:1000000; do
	wm=${run%%:*}
	n=${run##*:}
	# n new plays, in one transaction
	sql -c "INSERT INTO a.plays SELECT g, 1 + (g * 7919) % 20000, date '2026-01-01' + (g % 30)::int, (g * 31) % 300000
	        FROM generate_series($next::bigint, $((next + n - 1))) g" >/dev/null
	next=$((next + n))
	# refresh in a fresh backend; sample its private (anonymous) memory meanwhile
	PGAPPNAME=apply_bench runuser -u postgres --preserve-environment -- "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
		-c "SET dataproduct.full_refresh_fraction = -1" -c "SET work_mem = '$wm'" -c '\timing on' \
		-c "SELECT dataproduct.refresh('ab.agg')" > "$BENCH_TMP/apply.out" 2>&1 &
	client=$!
	peak=0
	while kill -0 "$client" 2>/dev/null; do
		pid=$(sql -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'apply_bench'" || true)
		if [ -n "$pid" ] && [ -r "/proc/$pid/status" ]; then
			kb=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
			[ -n "$kb" ] && [ "$kb" -gt "$peak" ] && peak=$kb
		fi
		sleep 0.05
	done
	wait "$client"
	ms=$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' "$BENCH_TMP/apply.out" | tail -1)
	kind=$(sql -c "SELECT last_refresh_kind FROM dataproduct.outputs WHERE name = 'agg'")
	[ "$kind" = incremental ] || { echo "batch was not applied incrementally ($kind)" >&2; exit 1; }
	printf '%9s %12s %9.0f ms %14.0f %19s MB\n' "$wm" "$n" "$ms" \
		"$(awk -v n="$n" -v t="$ms" 'BEGIN { print n / (t / 1000) }')" "$(awk -v k="$peak" 'BEGIN { printf "%.1f", k / 1024 }')"
done
diff=$(sql -c "SELECT count(*) FROM ((SELECT track_id, day, count(*), sum(ms), avg(ms) FROM a.plays GROUP BY 1, 2 EXCEPT ALL SELECT * FROM ab.agg)
               UNION ALL (SELECT * FROM ab.agg EXCEPT ALL SELECT track_id, day, count(*), sum(ms), avg(ms) FROM a.plays GROUP BY 1, 2)) d")
echo
echo "the output equals its query after both batches: $diff rows differ"
[ "$diff" = 0 ]
