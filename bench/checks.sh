#!/usr/bin/env bash
# What quality checks cost a refresh: an aggregate output of 600,000 groups,
# refreshed incrementally after 1,000 changed source rows, with no checks,
# with three row-by-row checks (not_null, accepted_values, range) that look
# only at the rows the refresh wrote (their previous run passed), and with the
# same three checks as custom SQL, which always scans the whole output.
#
#   bash bench/checks.sh            (as root; about 2 minutes)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

sql <<'SQL'
CREATE EXTENSION pg_dataproduct;
CREATE SCHEMA c;
CREATE TABLE c.plays (id bigint PRIMARY KEY, track_id int NOT NULL, day date NOT NULL,
                      device text NOT NULL, ms int NOT NULL);
INSERT INTO c.plays SELECT g, 1 + (g * 7919) % 20000, date '2026-01-01' + ((g / 20000) % 30)::int,
                           (ARRAY['phone', 'desktop', 'speaker'])[1 + g % 3], (g * 31) % 300000
  FROM generate_series(1::bigint, 1200000) g;
VACUUM ANALYZE c.plays;
SELECT dataproduct.create_domain('cb');
SELECT dataproduct.create_product('cb.p');
SELECT dataproduct.add_output('cb.p', 'agg',
  'SELECT track_id, day, min(device) AS device, count(*) AS plays, sum(ms) AS ms
     FROM c.plays GROUP BY track_id, day');
SQL
sql -c "SELECT dataproduct.refresh('cb.agg')" >/dev/null
rows=$(sql -c "SELECT count(*) FROM cb.agg")

next=1200001
# one refresh after 1,000 new plays; prints its time in ms
refresh_after_changes() {
	sql -c "INSERT INTO c.plays SELECT g, 1 + (g * 7919) % 20000, date '2026-01-01' + ((g / 20000) % 30)::int,
	               (ARRAY['phone', 'desktop', 'speaker'])[1 + g % 3], (g * 31) % 300000
	          FROM generate_series($next::bigint, $((next + 999))) g" >/dev/null
	next=$((next + 1000))
	sql_time_ms "SELECT dataproduct.refresh('cb.agg')"
}
# the median of five refreshes
median_refresh() {
	local t=()
	for _ in 1 2 3 4 5; do t+=("$(refresh_after_changes)"); done
	printf '%s\n' "${t[@]}" | sort -n | sed -n 3p
}

none=$(median_refresh)

sql <<'SQL' >/dev/null
SELECT dataproduct.add_check('cb.agg', 'not_null', "column" => 'device');
SELECT dataproduct.add_check('cb.agg', 'accepted_values', "column" => 'device', "values" => '{phone,desktop,speaker}');
SELECT dataproduct.add_check('cb.agg', 'range', "column" => 'plays', min => '1');
SELECT * FROM dataproduct.run_checks('cb.agg');
SQL
incremental=$(median_refresh)
inc_runs=$(sql -c "SELECT count(*) FILTER (WHERE incremental) || ' of ' || count(*) FROM dataproduct.check_results WHERE run_by = 'refresh'")

sql <<'SQL' >/dev/null
SELECT dataproduct.drop_check('cb.agg', name) FROM dataproduct.checks;
SELECT dataproduct.add_check('cb.agg', 'custom', name => 'a', sql => 'SELECT * FROM cb.agg WHERE device IS NULL');
SELECT dataproduct.add_check('cb.agg', 'custom', name => 'b', sql => $$SELECT * FROM cb.agg WHERE device NOT IN ('phone', 'desktop', 'speaker')$$);
SELECT dataproduct.add_check('cb.agg', 'custom', name => 'c', sql => 'SELECT * FROM cb.agg WHERE plays < 1');
SQL
full=$(median_refresh)

echo
machine
echo "output: $rows groups; each refresh applies 1,000 new source rows; median of 5 refreshes"
printf '\n%-44s %10s %14s\n' "checks" "refresh" "check cost"
printf '%-44s %7.1f ms %14s\n' "none" "$none" "-"
printf '%-44s %7.1f ms %11.1f ms\n' "3 row-by-row checks, changed rows only" "$incremental" \
	"$(awk -v a="$incremental" -v b="$none" 'BEGIN { print a - b }')"
printf '%-44s %7.1f ms %11.1f ms\n' "the same 3 as custom SQL, whole output" "$full" \
	"$(awk -v a="$full" -v b="$none" 'BEGIN { print a - b }')"
echo
echo "incremental check runs: $inc_runs"
echo "whole-output checks cost / changed-rows checks cost: $(awk -v a="$full" -v b="$incremental" -v n="$none" 'BEGIN { d = b - n; if (d < 0.1) d = 0.1; printf "%.1f", (a - n) / d }')x"
