#!/usr/bin/env bash
# Commit-to-visible latency of an output kept fresh by the background worker,
# under a sustained OLTP write load, and the load's throughput with the worker
# on vs off, measured side by side in one run.
#
#   bash bench/latency.sh          (as root; about 5 minutes)
#
# Load: pgbench, 4 clients, single-row INSERTs into a 1,000,000-row table read
# by two incrementally maintained outputs, first at a sustained 2,000 rows per
# second (RATE), then as fast as the machine goes.  Probe (during the first):
# a procedure commits a marker row, then polls the output view every 2 ms
# until the marker's group shows, and records the time from commit to
# visible; 150 probes, 100 ms apart.  Then the freshness/CPU curve of
# min_interval: the saturating load with the worker on, the outputs'
# min_interval at 0, 100 ms, 1 s and 5 s; for each, the load's throughput
# (as a ratio to the worker off), the worker's refreshes per second, and the
# commit-to-visible time of 6 probes taken during the load.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
DURATION=${DURATION:-30}
RATE=${RATE:-2000}
PGBENCH=$PG_BIN/pgbench

sql <<'SQL'
CREATE EXTENSION pg_dataproduct;
CREATE SCHEMA l;
CREATE TABLE l.tracks (track_id int PRIMARY KEY, genre text NOT NULL);
INSERT INTO l.tracks SELECT g, 'genre ' || (g % 20) FROM generate_series(-1000, 20000) g;
CREATE TABLE l.plays (id bigserial PRIMARY KEY, track_id int NOT NULL, ms int NOT NULL, at timestamptz NOT NULL DEFAULT now());
INSERT INTO l.plays (track_id, ms) SELECT 1 + g % 20000, g % 300000 FROM generate_series(1, 1000000) g;
VACUUM ANALYZE l.plays, l.tracks;
SELECT dataproduct.create_domain('lat');
SELECT dataproduct.create_product('lat.p');
SELECT dataproduct.add_output('lat.p', 'by_track', 'SELECT track_id, count(*) AS plays, sum(ms) AS ms FROM l.plays GROUP BY track_id');
SELECT dataproduct.add_output('lat.p', 'by_genre', 'SELECT t.genre, count(*) AS plays FROM l.plays p JOIN l.tracks t USING (track_id) GROUP BY t.genre');
CREATE TABLE l.latency (probe int, ms double precision);
CREATE PROCEDURE l.probe(n int, base int DEFAULT 0) LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz;
BEGIN
  FOR i IN 1 .. n LOOP
    INSERT INTO l.plays (track_id, ms) VALUES (-(base + i), 1);
    COMMIT;
    t0 := clock_timestamp();
    LOOP
      PERFORM 1 FROM lat.by_track WHERE track_id = -(base + i);
      EXIT WHEN FOUND;
      PERFORM pg_sleep(0.002);
      IF clock_timestamp() - t0 > interval '30 s' THEN
        RAISE EXCEPTION 'probe % not visible after 30 s', i;
      END IF;
    END LOOP;
    INSERT INTO l.latency VALUES (i, extract(epoch FROM clock_timestamp() - t0) * 1000);
    COMMIT;
    PERFORM pg_sleep(0.1);
  END LOOP;
END $$;
SQL
# the worker loads both outputs
for i in $(seq 1 600); do
	[ "$(sql -c "SELECT count(*) FROM dataproduct.outputs WHERE status = 'ok'")" = 2 ] && break
	sleep 0.5
done

cat > "$BENCH_TMP/load.sql" <<'EOF2'
\set track random(1, 20000)
\set ms random(1, 300000)
INSERT INTO l.plays (track_id, ms) VALUES (:track, :ms);
EOF2
chown postgres "$BENCH_TMP/load.sql"
load() {
	runuser -u postgres --preserve-environment -- "$PGBENCH" -n -c 4 -j 2 -T "$DURATION" "$@" \
		-f "$BENCH_TMP/load.sql" bench 2>&1 | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
set_worker() {
	sql -c "ALTER SYSTEM SET dataproduct.enabled = $1" -c "SELECT pg_reload_conf()" >/dev/null
	sleep 2
}

echo
machine
echo "commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "load: 4 pgbench clients, single-row INSERTs, ${DURATION}s runs; synchronous_commit on"

# sustained load, worker off then on (with the probes)
set_worker off
sql -c CHECKPOINT >/dev/null
tps_off=$(load -R "$RATE")
set_worker on
sql -c CHECKPOINT >/dev/null
load -R "$RATE" > "$BENCH_TMP/tps_on" &
sleep 2
sql -c "CALL l.probe(150)"
wait
tps_on=$(cat "$BENCH_TMP/tps_on")
echo
echo "sustained load of $RATE rows per second:"
sql -c "SELECT format('  commit to visible, 150 probes: p50 %s ms, p90 %s ms, p99 %s ms, max %s ms',
                      round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
                      round(percentile_cont(0.9) WITHIN GROUP (ORDER BY ms)::numeric, 1),
                      round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
                      round(max(ms)::numeric, 1)) FROM l.latency"
printf '  load throughput: worker off %.1f tps, worker on %.1f tps: ratio %s\n' "$tps_off" "$tps_on" \
	"$(awk -v a="$tps_on" -v b="$tps_off" 'BEGIN { printf "%.3f", a / b }')"

# saturating load: the worker and the writers share the cores
set_worker off
sql -c CHECKPOINT >/dev/null
sat_off=$(load)
set_worker on
sql -c CHECKPOINT >/dev/null
sat_on=$(load)
echo "saturating load (as fast as it goes):"
printf '  load throughput: worker off %.1f tps, worker on %.1f tps: ratio %s\n' "$sat_off" "$sat_on" \
	"$(awk -v a="$sat_on" -v b="$sat_off" 'BEGIN { printf "%.3f", a / b }')"
sql -c "SELECT format('refreshes by the worker during the run: %s, %s rows applied', count(*), sum(rows_changed))
          FROM dataproduct.refresh_history WHERE by_worker"

echo
echo "min_interval: freshness traded for CPU (saturating load, worker on; throughput as a ratio to worker off)"
printf '  %-12s %10s %8s %14s %14s %14s\n' min_interval tps ratio refreshes/s "p50 visible" "max visible"
base=150
for mi in 0 100ms 1s 5s; do
	sql -c "SELECT dataproduct.alter_output(output, min_interval => '$mi') FROM dataproduct.outputs" >/dev/null
	sql -c "TRUNCATE l.latency" -c CHECKPOINT >/dev/null
	before=$(sql -c "SELECT count(*) FROM dataproduct.refresh_history WHERE by_worker")
	load > "$BENCH_TMP/tps_curve" &
	sleep 5
	sql -c "CALL l.probe(6, $base)"
	wait
	after=$(sql -c "SELECT count(*) FROM dataproduct.refresh_history WHERE by_worker")
	sql -c "SELECT format('  %-12s %10s %8s %14s %11s ms %11s ms', '$mi', round($(cat "$BENCH_TMP/tps_curve"), 1),
	                      round($(cat "$BENCH_TMP/tps_curve") / $sat_off, 3), round(($after - $before) / $DURATION.0, 1),
	                      round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1), round(max(ms)::numeric, 1))
	          FROM l.latency"
	base=$((base + 6))	# the next setting's probes have markers of their own
done
sql -c "SELECT dataproduct.alter_output(output, min_interval => '0') FROM dataproduct.outputs" >/dev/null
for i in $(seq 1 120); do
	[ "$(sql -c "SELECT pending FROM dataproduct.freshness WHERE output = 'lat.by_track'::regclass")" = 0 ] && break
	sleep 0.5
done
diff=$(sql -c "SELECT count(*) FROM ((SELECT track_id, count(*), sum(ms) FROM l.plays GROUP BY 1 EXCEPT ALL SELECT * FROM lat.by_track)
               UNION ALL (SELECT * FROM lat.by_track EXCEPT ALL SELECT track_id, count(*), sum(ms) FROM l.plays GROUP BY 1)) d")
echo "lat.by_track differs from its query by $diff rows (after the worker caught up)"
[ "$diff" = 0 ]
