/*
 * demo/explore.sql
 *
 * The catalog, as a superuser sees it (the catalog views are readable by
 * every role, each seeing the products it may), then a session of an
 * analyst: find products, query them, and run into the walls that protect
 * the systems of record and the products nobody granted; at the end it asks
 * for access to an output, and the owning team approves (self-service
 * access).
 *
 * Run by demo/run.sh after demo/workload.sql, as a superuser who switches to
 * the analyst role with SET ROLE.
 */

\set ON_ERROR_STOP 1

\echo '--- dataproduct.domains: the business areas and who owns them'
SELECT domain, owner, products, description
  FROM dataproduct.domains
 ORDER BY domain;

\echo '--- dataproduct.products: owner, version, lifecycle status, tags, purpose'
SELECT product, owner, version, status, outputs,
       array_to_string(tags, ', ') AS tags
  FROM dataproduct.products
 ORDER BY product;

SELECT product, description
  FROM dataproduct.products
 ORDER BY product;

\echo '--- dataproduct.outputs: every output port and the state of its last refresh'
SELECT output, product, mode, status, row_count, rows_changed,
       round(refresh_ms::numeric, 1) AS refresh_ms,
       to_char(last_refresh, 'HH24:MI:SS') AS last_refresh
  FROM dataproduct.outputs
 ORDER BY product, output::text;

\echo 'Why the outputs are refreshed in full (column mode_reason):'
SELECT mode, requested_mode, mode_reason, count(*) AS outputs
  FROM dataproduct.outputs
 GROUP BY 1, 2, 3;

\echo '--- dataproduct.lineage: what each output reads, derived from its query (never typed by hand)'
SELECT output, source, source_kind, source_product
  FROM dataproduct.lineage
 ORDER BY product, output::text, source_kind DESC, source::text;

\echo 'Products built on products (downstream lineage of each output that others read):'
SELECT source AS output, source_product AS "owned by", output AS "read by", product AS "in product"
  FROM dataproduct.lineage
 WHERE source_kind = 'output'
 ORDER BY source::text, output::text;

-- ---------------------------------------------------------------------------
-- the store behind player.daily_track_plays, for the analyst to try below (the
-- catalog tables themselves are read only through the catalog views)
SELECT set_config('demo.daily_store', store::text, false) AS daily_store
  FROM dataproduct.output WHERE view = 'player.daily_track_plays'::regclass \gset

\echo '--- an analyst logs in (SET ROLE analyst)'
SET ROLE analyst;
SELECT current_user AS "connected as";

\echo 'Which products are about revenue?  (dataproduct.search: full-text over names, tags,'
\echo 'descriptions, columns and their comments; only what this role may find)'
SELECT kind, address, rank, owner, health, description
  FROM dataproduct.search('revenue');

\echo 'A typo still finds it (search(''listners'')):'
SELECT kind, address, rank, description FROM dataproduct.search('listners') LIMIT 3;

\echo 'How healthy is billing.revenue, and what does it promise?  (dataproduct.health, describe)'
SELECT * FROM dataproduct.health('billing.revenue');
SELECT jsonb_pretty(jsonb_build_object(
         'product', d -> 'product', 'owner', d -> 'owner', 'version', d -> 'version',
         'freshness_promise', d -> 'freshness_promise', 'health', d -> 'health',
         'first output', (d -> 'outputs' -> 0) - 'reads'))
  FROM dataproduct.describe('billing.revenue') d;

\echo 'Which outputs may I read?  (the descriptions are also the COMMENTs of the views)'
SELECT output, description
  FROM dataproduct.outputs
 WHERE has_table_privilege(output, 'SELECT')
 ORDER BY output::text;

\echo 'psql sees those comments too (\\dv+ billing.*):'
\dv+ billing.*

\echo 'Monthly recurring revenue per plan (billing.mrr_by_plan):'
SELECT plan, active_subscriptions, mrr_eur, arpu_eur
  FROM billing.mrr_by_plan
 ORDER BY mrr_eur DESC;

\echo 'Net subscription growth over the last six months (billing.monthly_movements):'
SELECT month,
       sum(new_subscriptions) AS new_subscriptions,
       sum(cancellations)     AS cancellations,
       sum(new_subscriptions) - sum(cancellations) AS net
  FROM billing.monthly_movements
 WHERE month >= date_trunc('month', current_date) - interval '5 months'
 GROUP BY month
 ORDER BY month;

\echo 'Family-plan active subscribers over time, from the history of billing.subscription_history'
\echo '(dataproduct.as_of: the subscriptions as they were at each moment a family-plan subscription'
\echo 'changed; the history starts when the output was declared, a minute ago, so the moments are'
\echo 'this demo''s commits -- over a real history, take generate_series(current_date - 6, current_date,'
\echo '''1 day'') as the moments for the last days):'
WITH moments AS (SELECT DISTINCT v.at
                   FROM billing.subscription_history h,
                        LATERAL (VALUES (h.valid_from), (h.valid_to)) v(at)
                  WHERE h.plan = 'family' AND v.at IS NOT NULL),
     counts AS (SELECT m.at, (SELECT count(*) FROM dataproduct.as_of(NULL::billing.subscription_history, m.at) s
                               WHERE s.plan = 'family' AND s.status = 'active') AS subscribers
                  FROM moments m)
SELECT to_char(at, 'HH24:MI:SS.MS') AS at, subscribers,
       subscribers - lag(subscribers) OVER (ORDER BY at) AS change,
       repeat('#', 10 + coalesce(30 * (subscribers - min(subscribers) OVER ())
                                 / nullif(max(subscribers) OVER () - min(subscribers) OVER (), 0), 0)::int) AS chart
  FROM counts ORDER BY at;

\echo 'The versions of one upgraded subscriber''s subscriptions (billing.subscription_history):'
SELECT h.subscription_id, h.plan, h.price, h.status,
       to_char(h.valid_from, 'HH24:MI:SS.MS') AS valid_from, to_char(h.valid_to, 'HH24:MI:SS.MS') AS valid_to
  FROM billing.subscription_history h
 WHERE h.account_id = (SELECT account_id FROM billing.subscription_history
                        WHERE plan = 'individual' AND status = 'cancelled' AND valid_to IS NULL
                          AND valid_from > (SELECT min(valid_from) FROM billing.subscription_history)
                        ORDER BY account_id LIMIT 1)
 ORDER BY h.valid_from, h.subscription_id;

\echo 'This week''s most played tracks (player.daily_track_plays joined with catalog.track_dim):'
SELECT t.track_title, t.artist_name, t.genre,
       sum(d.plays) AS plays, sum(d.skips) AS skips,
       round(sum(d.minutes_played) / 60, 1) AS hours
  FROM player.daily_track_plays d
  JOIN catalog.track_dim t USING (track_id)
 WHERE d.play_date > current_date - 7
 GROUP BY t.track_id, t.track_title, t.artist_name, t.genre
 ORDER BY plays DESC
 LIMIT 5;

\echo 'Plays and skip rate per day, last 7 days (player.daily_track_plays):'
SELECT play_date, sum(plays) AS plays,
       round(100.0 * sum(skips) / sum(plays), 1) AS skip_rate_pct
  FROM player.daily_track_plays
 WHERE play_date > current_date - 7
 GROUP BY play_date
 ORDER BY play_date;

\echo 'Number one artist in each country (player.top_artists_by_country):'
SELECT country, artist_name, hours_played, plays, listeners
  FROM player.top_artists_by_country
 WHERE rank = 1
 ORDER BY hours_played DESC;

\echo 'Skip rate per genre (player.skip_rate_by_genre):'
SELECT genre, plays, skip_rate_pct, avg_seconds_played
  FROM player.skip_rate_by_genre
 ORDER BY skip_rate_pct DESC;

\echo 'What the analyst cannot do (each attempt is made, and fails):'
CREATE TEMP TABLE attempts (n int, attempt text, outcome text);
DO $$
DECLARE
    attempts text[] := ARRAY[
        'SELECT count(*) FROM player_sor.play_events',
        'SELECT count(*) FROM accounts_sor.accounts',
        'SELECT count(*) FROM player.device_daily',
        format('SELECT count(*) FROM %s',  -- the store table behind player.daily_track_plays
               current_setting('demo.daily_store')),
        'SELECT dataproduct.refresh(''billing.mrr_by_plan'')',
        'SELECT dataproduct.alter_product(''billing.revenue'', status => ''deprecated'')'];
BEGIN
    FOR i IN 1 .. array_length(attempts, 1) LOOP
        BEGIN
            EXECUTE attempts[i];
            INSERT INTO attempts VALUES (i, attempts[i], 'allowed (unexpected!)');
        EXCEPTION WHEN insufficient_privilege THEN
            INSERT INTO attempts VALUES (i, attempts[i], SQLERRM);
        END;
    END LOOP;
END
$$;
SELECT attempt, outcome FROM attempts ORDER BY n;

RESET ROLE;

-- ---------------------------------------------------------------------------
\echo '--- self-service access: player.engagement is published; the analyst asks for one output, the player team approves'
SET ROLE player_team;
SELECT '  product player.engagement is now published'
  FROM dataproduct.alter_product('player.engagement', status => 'published');
RESET ROLE;
SET ROLE analyst;
SELECT kind, address, access FROM dataproduct.search('devices') ORDER BY rank DESC, address;
SELECT dataproduct.request_access('player.device_daily', 'Device mix for the app roadmap',
                                  until => now() + interval '30 days') AS request_id \gset
RESET ROLE;
SET ROLE player_team;
SELECT request_id, role, output, reason, status FROM dataproduct.access_requests WHERE status = 'pending';
SELECT dataproduct.approve_access(:request_id, note => 'for 30 days; the numbers may still change');
RESET ROLE;
SET ROLE analyst;
SELECT device, sum(plays) AS plays FROM player.device_daily GROUP BY device ORDER BY plays DESC;
RESET ROLE;
SELECT output, role, grounds, until::date AS until
  FROM dataproduct.access WHERE product = 'player.engagement' ORDER BY 1, 2;
