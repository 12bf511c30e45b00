#!/usr/bin/env bash
# History outputs: applying a batch costs in proportion to the batch, not to
# the history.  A 200,000-row table gets a history output; the same kind of
# batch (10,000 rows updated, in 100 transactions) is applied while the
# history is small (the first load) and again after 30 batches of 100,000
# updates have made it about 3,200,000 versions; then a batch ten times
# smaller on the large history.  Each apply time is the median of three.
#
#   bash bench/history.sh            (as root; about 8 minutes)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# history outputs take exact commit times from here (README, History outputs)
echo "track_commit_timestamp = on" >> "$BENCH_TMP/data/postgresql.conf"
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$BENCH_TMP/data" -l "$BENCH_TMP/log" -w restart >/dev/null

sql <<'SQL'
CREATE EXTENSION pg_dataproduct;
CREATE SCHEMA h;
CREATE TABLE h.subs (id bigint PRIMARY KEY, plan int NOT NULL, seats int NOT NULL, status text NOT NULL);
INSERT INTO h.subs SELECT g, g % 5, 1 + g % 10, 'active' FROM generate_series(1::bigint, 200000) g;
VACUUM ANALYZE h.subs;
SELECT dataproduct.create_domain('hb');
SELECT dataproduct.create_product('hb.p');
SELECT dataproduct.add_output('hb.p', 'subs', $$SELECT id, plan, seats FROM h.subs WHERE status = 'active'$$, history => true);
SQL
sql -c "SELECT dataproduct.refresh('hb.subs')" >/dev/null

# $1 rows updated, in transactions of 100, then the refresh's time in ms, in
# a session warmed by a refresh with nothing to do (as the worker's is)
batch_ms() {
	local n=$1 round=$2 i
	local stmts=("SELECT dataproduct.refresh('hb.subs')")
	for ((i = 0; i < n / 100; i++)); do
		stmts+=("UPDATE h.subs SET seats = seats + 1 WHERE id IN (SELECT 1 + (g * 7919 + $round * 104729 + $i * 31) % 200000 FROM generate_series(1, 100) g)")
	done
	stmts+=("SELECT dataproduct.refresh('hb.subs')")
	sql_times_ms "${stmts[@]}" | tail -1
}
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
versions() { sql -c "SELECT count(*) FROM hb.subs"; }

echo
machine
echo "settings: track_commit_timestamp = $(sql -c 'SHOW track_commit_timestamp')"
printf '\n%-34s %10s %12s %12s\n' "" "batch rows" "versions" "apply time"
small=$(median3 "$(batch_ms 10000 1)" "$(batch_ms 10000 2)" "$(batch_ms 10000 3)")
small_v=$(versions)
printf '%-34s %10s %12s %9.0f ms\n' "small history" 10000 "$small_v" "$small"

# grow the history: 30 batches of 100,000 rows updated in one statement each
for r in $(seq 1 30); do
	sql -c "UPDATE h.subs SET seats = seats + 1 WHERE id % 2 = $((r % 2))" >/dev/null
	sql -c "SELECT dataproduct.refresh('hb.subs')" >/dev/null
done
# as autovacuum would (it is off here): the closed versions left dead index entries
sql -c "VACUUM ANALYZE" >/dev/null
large=$(median3 "$(batch_ms 10000 34)" "$(batch_ms 10000 35)" "$(batch_ms 10000 36)")
large_v=$(versions)
printf '%-34s %10s %12s %9.0f ms\n' "large history" 10000 "$large_v" "$large"
tenth=$(median3 "$(batch_ms 1000 37)" "$(batch_ms 1000 38)" "$(batch_ms 1000 39)")
printf '%-34s %10s %12s %9.0f ms\n' "large history, a tenth of the batch" 1000 "$(versions)" "$tenth"
echo
echo "apply time, large / small history, same batch: $(ratio "$large" "$small")x ($(ratio "$large_v" "$small_v")x the versions)"
echo "apply time, batch of 10,000 / of 1,000 on the large history: $(ratio "$large" "$tenth")x"

# exact: the current versions equal the query, one per key
diff=$(sql -c "SELECT count(*) FROM ((SELECT id, plan, seats FROM h.subs WHERE status = 'active'
                                      EXCEPT ALL SELECT id, plan, seats FROM hb.subs WHERE valid_to IS NULL)
               UNION ALL (SELECT id, plan, seats FROM hb.subs WHERE valid_to IS NULL
                          EXCEPT ALL SELECT id, plan, seats FROM h.subs WHERE status = 'active')) d")
echo "the current versions equal the query: $diff rows differ"
[ "$diff" = 0 ]
