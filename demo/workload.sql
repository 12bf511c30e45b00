/*
 * demo/workload.sql
 *
 * A burst of operational writes -- the apps keep running while the data
 * products exist -- then a refresh of every output, showing how many rows
 * each refresh changed and that the product views now reflect the writes.
 *
 * A handful of "spotlight" numbers, read from the product views, are taken
 * three times: before the writes, after the writes (the outputs have not
 * moved yet: they change when refreshed), and after the refresh.
 *
 * Run by demo/run.sh after demo/products.sql, as a superuser (who writes to
 * the systems of record on behalf of the applications).
 */

\set ON_ERROR_STOP 1
SELECT setseed(0.1717) \gset

-- The spotlight: a track by a German indie artist that is about to go viral
-- in Germany (any such track well outside the charts will do).
SELECT track_id AS viral_track, track_title AS viral_title,
       artist_id AS viral_artist, artist_name AS viral_artist_name
  FROM catalog.track_dim
 WHERE artist_country = 'DE' AND genre = 'indie' AND track_id > 2000
 ORDER BY track_id
 LIMIT 1 \gset
-- The most played track of all, which the catalog team is about to move
-- from one genre to another.
SELECT track_id AS hit_track, track_title AS hit_title, genre AS hit_genre
  FROM catalog.track_dim WHERE track_id = 1 \gset

CREATE TEMP VIEW spotlight AS
SELECT 1 AS n,
       format('"%s" (%s): plays', :'viral_title', :'viral_artist_name') AS metric,
       'player.daily_track_plays' AS read_from,
       (SELECT coalesce(sum(plays), 0) FROM player.daily_track_plays
         WHERE track_id = :viral_track)::text AS value
UNION ALL
SELECT 2, format('%s: chart position in DE', :'viral_artist_name'),
       'player.top_artists_by_country',
       coalesce((SELECT '#' || rank FROM player.top_artists_by_country
                  WHERE country = 'DE' AND artist_id = :viral_artist), 'not in top 10')
UNION ALL
SELECT 3, 'number one artist in DE (hours)', 'player.top_artists_by_country',
       (SELECT format('%s (%s h)', artist_name, hours_played) FROM player.top_artists_by_country
         WHERE country = 'DE' AND rank = 1)
UNION ALL
SELECT 4, 'all plays', 'player.daily_track_plays',
       (SELECT to_char(sum(plays), 'FM9,999,999') FROM player.daily_track_plays)
UNION ALL
SELECT 5, format('genre of track %s "%s"', :hit_track, :'hit_title'), 'catalog.track_dim',
       (SELECT genre FROM catalog.track_dim WHERE track_id = :hit_track)
UNION ALL
SELECT 6, format('%s: plays (skip rate)', g.genre), 'player.skip_rate_by_genre',
       (SELECT format('%s (%s %%)', to_char(plays, 'FM9,999,999'), skip_rate_pct)
          FROM player.skip_rate_by_genre s WHERE s.genre = g.genre)
  FROM (VALUES (:'hit_genre'), ('pop')) AS g(genre)
UNION ALL
SELECT 7, 'family plan, DE: active subscriptions', 'billing.mrr_by_plan_country',
       (SELECT active_subscriptions::text FROM billing.mrr_by_plan_country
         WHERE plan = 'family' AND country = 'DE')
UNION ALL
SELECT 8, 'family plan, DE: MRR (EUR)', 'billing.mrr_by_plan_country',
       (SELECT to_char(mrr_eur, 'FM999,999.00') FROM billing.mrr_by_plan_country
         WHERE plan = 'family' AND country = 'DE')
UNION ALL
SELECT 9, 'family plan, all countries: MRR (EUR)', 'billing.mrr_by_plan',
       (SELECT to_char(mrr_eur, 'FM999,999.00') FROM billing.mrr_by_plan WHERE plan = 'family');

CREATE TEMP TABLE spotlight_history AS SELECT 1 AS phase, * FROM spotlight;

\echo '--- before the writes: the family plan in Germany (billing.mrr_by_plan_country)'
SELECT * FROM billing.mrr_by_plan_country WHERE plan = 'family' AND country = 'DE';

\echo '--- the apps write to the systems of record'
\set QUIET off

\echo
\echo '[player] normal traffic: 20,000 new play events in the last 15 minutes'
INSERT INTO player_sor.play_events (account_id, track_id, played_at, ms_played, device, skipped)
SELECT e.account_id, e.track_id, e.played_at,
       CASE WHEN e.skipped THEN (5000 + random() * 25000)::int ELSE t.duration_ms END,
       e.device, e.skipped
  FROM (SELECT 1 + (49999 * random() ^ 1.6)::int AS account_id,
               1 + (29999 * random() ^ 3)::int AS track_id,
               now() - random() * interval '15 minutes' AS played_at,
               (ARRAY['ios','android','web','desktop','smart_speaker','car','tv'])[1 + floor(random() * 7)::int] AS device,
               random() < 0.22 AS skipped
          FROM generate_series(1, 20000)) AS e
  JOIN catalog_sor.tracks t USING (track_id);

\echo
SELECT format('[player] a German radio show plays "%s" by %s: 1,500 listeners in DE stream it',
              :'viral_title', :'viral_artist_name') AS msg \gset
\echo :msg
INSERT INTO player_sor.play_events (account_id, track_id, played_at, ms_played, device, skipped)
SELECT a.account_id, :viral_track, now() - random() * interval '30 minutes',
       t.duration_ms, 'smart_speaker', false
  FROM (SELECT account_id FROM accounts_sor.accounts
         WHERE country = 'DE' ORDER BY account_id LIMIT 1500) a
  JOIN catalog_sor.tracks t ON t.track_id = :viral_track;

\echo
\echo '[player] bug fix: Android build 8.4.1 reported finished plays as skips; 2,000 events of the last day are corrected'
UPDATE player_sor.play_events p
   SET skipped = false, ms_played = t.duration_ms
  FROM catalog_sor.tracks t
 WHERE t.track_id = p.track_id
   AND p.play_id IN (SELECT play_id FROM player_sor.play_events
                      WHERE device = 'android' AND skipped
                        AND played_at > now() - interval '1 day'
                      ORDER BY play_id LIMIT 2000);

\echo
\echo '[accounts] account 1 asks to be forgotten (GDPR): the account, its subscriptions and its plays are deleted'
SELECT count(*) AS plays_of_account_1 FROM player_sor.play_events WHERE account_id = 1;
DELETE FROM accounts_sor.accounts WHERE account_id = 1;

\echo
SELECT format('[catalog] the catalog team re-classifies track %s "%s" from %s to pop',
              :hit_track, :'hit_title', :'hit_genre') AS msg \gset
\echo :msg
UPDATE catalog_sor.tracks SET genre = 'pop' WHERE track_id = :hit_track;

\echo
\echo '[billing] 300 people in Germany sign up for the family plan'
WITH new_accounts AS (
    INSERT INTO accounts_sor.accounts (account_id, email, display_name, country, birth_year, signup_date)
    SELECT 100000 + i, 'family' || i || '@example.de', 'familie_' || i, 'DE',
           1970 + (random() * 30)::int, current_date
      FROM generate_series(1, 300) AS i
    RETURNING account_id)
INSERT INTO accounts_sor.subscriptions (account_id, plan, price, status, started_at)
SELECT account_id, 'family', 15.29, 'active', current_date FROM new_accounts;

\echo
\echo '[billing] 120 German individual subscribers upgrade to family (old subscription ended, new one started)'
WITH upgraded AS (
    UPDATE accounts_sor.subscriptions
       SET status = 'cancelled', ended_at = current_date
     WHERE subscription_id IN (
           SELECT s.subscription_id FROM accounts_sor.subscriptions s
             JOIN accounts_sor.accounts a USING (account_id)
            WHERE a.country = 'DE' AND s.plan = 'individual' AND s.status = 'active'
            ORDER BY s.subscription_id LIMIT 120)
    RETURNING account_id)
INSERT INTO accounts_sor.subscriptions (account_id, plan, price, status, started_at)
SELECT account_id, 'family', 15.29, 'active', current_date FROM upgraded;

\echo
\echo '[billing] 80 German family subscribers cancel'
UPDATE accounts_sor.subscriptions
   SET status = 'cancelled', ended_at = current_date
 WHERE subscription_id IN (
       SELECT s.subscription_id FROM accounts_sor.subscriptions s
         JOIN accounts_sor.accounts a USING (account_id)
        WHERE a.country = 'DE' AND s.plan = 'family' AND s.status = 'active'
          AND s.started_at < current_date - 30
        ORDER BY s.subscription_id DESC LIMIT 80);

\echo
\echo '[billing] price rise: the family plan costs 1.00 EUR more in Germany from today'
UPDATE accounts_sor.subscriptions s
   SET price = price + 1.00
  FROM accounts_sor.accounts a
 WHERE a.account_id = s.account_id
   AND a.country = 'DE' AND s.plan = 'family' AND s.status IN ('active', 'past_due');

\echo
\echo '--- the writes are committed: at each commit, the background worker was woken and is'
\echo '    applying the captured changes to the incrementally maintained outputs. Freshness,'
\echo '    measured from the change stream, right after the last commit:'
SELECT output, mode, pending, round(extract(epoch FROM staleness)::numeric, 2) AS staleness_s
  FROM dataproduct.freshness ORDER BY product, output::text;
\echo '    ... and a moment later (nobody called refresh):'
SELECT pg_sleep(0.5) \gset
DO $$
BEGIN
  FOR i IN 1 .. 200 LOOP
    EXIT WHEN NOT EXISTS (SELECT 1 FROM dataproduct.freshness WHERE pending > 0);
    PERFORM pg_sleep(0.1);
  END LOOP;
END $$;
SELECT output, mode, pending, round(extract(epoch FROM staleness)::numeric, 2) AS staleness_s,
       last_refresh_kind AS how
  FROM dataproduct.freshness JOIN dataproduct.outputs USING (output, product, mode)
 ORDER BY product, output::text;

\set QUIET on
INSERT INTO spotlight_history SELECT 2, * FROM spotlight;

\echo
\echo '--- the views maintained incrementally have moved by themselves; those refreshed in full'
\echo '    (no change stream) have not:'
SELECT h1.metric, h1.read_from AS "read from", h1.value AS "before writes", h2.value AS "after writes"
  FROM spotlight_history h1
  JOIN spotlight_history h2 ON h2.phase = 2 AND h2.n = h1.n AND h2.metric = h1.metric
 WHERE h1.phase = 1
 ORDER BY h1.n, h1.metric;

\echo '--- dataproduct.refresh(output) for the outputs refreshed in full (they could also be'
\echo '    given a schedule: add_output(..., schedule => ...)); it returns the rows changed:'
\echo '    rows deleted plus rows inserted, so a row whose values change counts twice'
\pset format unaligned
\t on
SELECT format('SELECT format(%L, %L, dataproduct.refresh(%L))',
              '  %-32s %8s rows changed', o.view, o.view)
  FROM dataproduct.output o
 WHERE o.mode = 'full'
 ORDER BY o.output_id \gexec
\t off
\pset format aligned

\echo
\echo 'The catalog records each refresh (how: incremental by the worker, full by refresh()):'
SELECT output, mode, last_refresh_kind AS how, status, rows_changed, row_count, round(refresh_ms::numeric) AS refresh_ms,
       to_char(last_refresh, 'HH24:MI:SS') AS last_refresh
  FROM dataproduct.outputs
 ORDER BY product, output::text;

INSERT INTO spotlight_history SELECT 3, * FROM spotlight;

\echo '--- before and after: the product views now reflect the writes'
SELECT h1.metric, h1.read_from AS "read from", h1.value AS "before writes",
       h3.value AS "after refresh"
  FROM spotlight_history h1
  JOIN spotlight_history h3 ON h3.phase = 3 AND h3.n = h1.n AND h3.metric = h1.metric
 WHERE h1.phase = 1
 ORDER BY h1.n, h1.metric;

\echo 'The family plan in Germany (billing.mrr_by_plan_country), after refresh:'
SELECT * FROM billing.mrr_by_plan_country WHERE plan = 'family' AND country = 'DE';
\echo 'The top of the German chart (player.top_artists_by_country), after refresh:'
SELECT rank, artist_name, hours_played, plays, listeners
  FROM player.top_artists_by_country WHERE country = 'DE' AND rank <= 5 ORDER BY rank;

\echo '--- check: every output equals its query recomputed from scratch over the sources'
\echo '    (a history output: its current versions, valid_to IS NULL)'
\pset format unaligned
\t on
SELECT format($f$
SELECT format('  %%-32s %%s', %L,
              CASE WHEN count(*) = 0 THEN 'identical'
                   ELSE count(*) || ' rows differ' END)
  FROM ((%s EXCEPT ALL TABLE %s) UNION ALL (TABLE %s EXCEPT ALL %s)) AS diff
$f$, o.view, rows, o.query_view, o.query_view, rows)
  FROM dataproduct.output o,
       LATERAL (SELECT CASE WHEN o.history
                            THEN format('(SELECT %s FROM %s WHERE valid_to IS NULL)',
                                        (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
                                           FROM pg_attribute a
                                          WHERE a.attrelid = o.query_view AND a.attnum > 0 AND NOT a.attisdropped),
                                        o.view)
                            ELSE format('TABLE %s', o.view) END AS rows) r
 ORDER BY o.output_id \gexec
\t off
\pset format aligned

\echo
\echo '--- quality checks ran after every refresh, in its transaction (dataproduct.check_results);'
\echo '    row-by-row checks that passed before look only at the rows a refresh wrote (incremental)'
SELECT output, check_name, severity, count(*) AS runs,
       count(*) FILTER (WHERE incremental) AS incremental_runs,
       bool_and(passed) AS all_passed
  FROM dataproduct.check_results
 GROUP BY 1, 2, 3
 ORDER BY 1, 2;
