/*
 * demo/products.sql
 *
 * The platform team installs pg_dataproduct and declares the domains; each
 * domain team then declares its own data products, as its own role (SET
 * ROLE), from the operational tables it may read -- and, for the player
 * team, from the catalog team's published product.  Finally each team grants
 * its published outputs to the analysts.
 *
 * Every add_output builds the view <domain>.<name> and returns it.  A query
 * that can be maintained incrementally gets change capture on its sources
 * and is loaded by its first refresh, in a transaction of its own; one that
 * cannot (such as one using LIMIT or a window function)
 * is refreshed in full and loaded at once.  Run by demo/run.sh after
 * demo/schema.sql, as a superuser.
 */

\set ON_ERROR_STOP 1

\echo '--- the platform team installs the extension and declares three domains'
CREATE EXTENSION pg_dataproduct;
\pset format unaligned
\t on

SELECT format('  domain  %-10s owned by catalog_team',
              dataproduct.create_domain('catalog', 'catalog_team',
                'The music catalog: artists, albums, tracks and their metadata'));
SELECT format('  domain  %-10s owned by player_team',
              dataproduct.create_domain('player', 'player_team',
                'What people listen to: plays, skips, listening time, devices'));
SELECT format('  domain  %-10s owned by billing_team',
              dataproduct.create_domain('billing', 'billing_team',
                'Subscriptions, plans and recurring revenue'));

-- ---------------------------------------------------------------------------
\echo
\echo '--- catalog team (SET ROLE catalog_team): product catalog.music_catalog'
SET ROLE catalog_team;

SELECT format('  product %s (draft)', dataproduct.create_product('catalog.music_catalog',
           description => 'The conformed track dimension (every track with its album and artist) and the shape of the catalog per genre.',
           version     => '1.0.0',
           tags        => ARRAY['catalog', 'dimension', 'tracks', 'artists', 'genre'],
           contact     => '#catalog-data on Slack, catalog-team@tunewave.example'));

SELECT format('  output  %s', dataproduct.add_output('catalog.music_catalog', 'track_dim', $q$
    SELECT t.track_id,
           t.title                                   AS track_title,
           t.genre,
           t.duration_ms,
           t.explicit,
           al.album_id,
           al.title                                  AS album_title,
           extract(year FROM al.release_date)::int   AS release_year,
           al.label,
           ar.artist_id,
           ar.name                                   AS artist_name,
           ar.country                                AS artist_country
      FROM catalog_sor.tracks  t
      JOIN catalog_sor.albums  al ON al.album_id  = t.album_id
      JOIN catalog_sor.artists ar ON ar.artist_id = al.artist_id
    $q$,
    description => 'One row per track, with its album and artist: the conformed track dimension'));
SELECT format('          %s: %s', mode, CASE WHEN mode = 'incremental' THEN 'loaded by its first refresh, ' || dataproduct.refresh(output) || ' rows' ELSE 'loaded, ' || row_count || ' rows' END) FROM dataproduct.outputs WHERE output = 'catalog.track_dim'::regclass;

SELECT format('  output  %s', dataproduct.add_output('catalog.music_catalog', 'genre_summary', $q$
    SELECT t.genre,
           count(*)                                        AS tracks,
           count(DISTINCT al.artist_id)                    AS artists,
           round(avg(t.duration_ms) / 60000.0, 2)          AS avg_minutes,
           round(100.0 * avg(t.explicit::int), 1)          AS explicit_pct
      FROM catalog_sor.tracks t
      JOIN catalog_sor.albums al ON al.album_id = t.album_id
     GROUP BY t.genre
    $q$,
    description => 'Per genre: tracks, artists, average length, share of explicit tracks'));
SELECT format('          %s: %s', mode, CASE WHEN mode = 'incremental' THEN 'loaded by its first refresh, ' || dataproduct.refresh(output) || ' rows' ELSE 'loaded, ' || row_count || ' rows' END) FROM dataproduct.outputs WHERE output = 'catalog.genre_summary'::regclass;

SELECT '  product catalog.music_catalog is now published'
  FROM dataproduct.alter_product('catalog.music_catalog', status => 'published');

-- Consumers: the player team builds on the track dimension; analysts read both.
GRANT USAGE ON SCHEMA catalog TO player_team, analyst;
GRANT SELECT ON catalog.track_dim TO player_team, analyst;
GRANT SELECT ON catalog.genre_summary TO analyst;
\echo '  granted catalog.track_dim to player_team and analyst, catalog.genre_summary to analyst'
RESET ROLE;

-- ---------------------------------------------------------------------------
\echo
\echo '--- player team (SET ROLE player_team): products player.listening and player.engagement'
SET ROLE player_team;

SELECT format('  product %s (draft)', dataproduct.create_product('player.listening',
           description => 'Listening behaviour per track, artist, country and genre, from every play event of the apps.',
           version     => '1.2.0',
           tags        => ARRAY['plays', 'listening', 'charts', 'skips', 'artists'],
           contact     => '#player-analytics on Slack, player-team@tunewave.example'));

SELECT format('  output  %s', dataproduct.add_output('player.listening', 'daily_track_plays', $q$
    SELECT (p.played_at AT TIME ZONE 'UTC')::date          AS play_date,
           p.track_id,
           count(*)                                        AS plays,
           count(DISTINCT p.account_id)                    AS listeners,
           count(*) FILTER (WHERE p.skipped)               AS skips,
           round(sum(p.ms_played) / 60000.0, 1)            AS minutes_played
      FROM player_sor.play_events p
     GROUP BY 1, 2
    $q$,
    description => 'Plays, distinct listeners, skips and minutes listened per track and day (UTC)'));
SELECT format('          %s: %s', mode, CASE WHEN mode = 'incremental' THEN 'loaded by its first refresh, ' || dataproduct.refresh(output) || ' rows' ELSE 'loaded, ' || row_count || ' rows' END) FROM dataproduct.outputs WHERE output = 'player.daily_track_plays'::regclass;

-- A product built on another product: track metadata comes from catalog.track_dim.
SELECT format('  output  %s', dataproduct.add_output('player.listening', 'top_artists_by_country', $q$
    SELECT country, rank, artist_id, artist_name, hours_played, plays, listeners
      FROM (SELECT a.country,
                   rank() OVER (PARTITION BY a.country
                                ORDER BY sum(p.ms_played) DESC, t.artist_id) AS rank,
                   t.artist_id,
                   t.artist_name,
                   round(sum(p.ms_played) / 3600000.0, 1)   AS hours_played,
                   count(*)                                 AS plays,
                   count(DISTINCT p.account_id)             AS listeners
              FROM player_sor.play_events p
              JOIN accounts_sor.accounts  a ON a.account_id = p.account_id
              JOIN catalog.track_dim      t ON t.track_id   = p.track_id
             GROUP BY a.country, t.artist_id, t.artist_name) ranked
     WHERE rank <= 10
    $q$,
    description => 'The 10 artists with the most listening time in each country (of the listeners)'));
SELECT format('          %s: %s', mode, CASE WHEN mode = 'incremental' THEN 'loaded by its first refresh, ' || dataproduct.refresh(output) || ' rows' ELSE 'loaded, ' || row_count || ' rows' END) FROM dataproduct.outputs WHERE output = 'player.top_artists_by_country'::regclass;

SELECT format('  output  %s', dataproduct.add_output('player.listening', 'skip_rate_by_genre', $q$
    SELECT t.genre,
           count(*)                                              AS plays,
           count(*) FILTER (WHERE p.skipped)                     AS skips,
           round(100.0 * count(*) FILTER (WHERE p.skipped) / count(*), 2) AS skip_rate_pct,
           round(avg(p.ms_played) / 1000.0, 1)                   AS avg_seconds_played
      FROM player_sor.play_events p
      JOIN catalog.track_dim t ON t.track_id = p.track_id
     GROUP BY t.genre
    $q$,
    description => 'Share of plays skipped before the end, per genre'));
SELECT format('          %s: %s', mode, CASE WHEN mode = 'incremental' THEN 'loaded by its first refresh, ' || dataproduct.refresh(output) || ' rows' ELSE 'loaded, ' || row_count || ' rows' END) FROM dataproduct.outputs WHERE output = 'player.skip_rate_by_genre'::regclass;

SELECT '  product player.listening is now published'
  FROM dataproduct.alter_product('player.listening', status => 'published');

-- A second product, still a draft: declared and refreshed, but not yet
-- promised to anyone, so nothing is granted on it.
SELECT format('  product %s (draft)', dataproduct.create_product('player.engagement',
           description => 'How and how much people listen: devices and daily active listeners. Draft, numbers may change.',
           tags        => ARRAY['engagement', 'devices', 'dau'],
           contact     => 'player-team@tunewave.example'));

SELECT format('  output  %s', dataproduct.add_output('player.engagement', 'device_daily', $q$
    SELECT (played_at AT TIME ZONE 'UTC')::date   AS play_date,
           device,
           count(*)                               AS plays,
           count(DISTINCT account_id)             AS listeners,
           round(avg(ms_played) / 60000.0, 2)     AS avg_minutes_per_play
      FROM player_sor.play_events
     GROUP BY 1, 2
    $q$,
    description => 'Plays and listeners per device and day (UTC)'));
SELECT format('          %s: %s', mode, CASE WHEN mode = 'incremental' THEN 'loaded by its first refresh, ' || dataproduct.refresh(output) || ' rows' ELSE 'loaded, ' || row_count || ' rows' END) FROM dataproduct.outputs WHERE output = 'player.device_daily'::regclass;

SELECT format('  output  %s', dataproduct.add_output('player.engagement', 'daily_active_listeners', $q$
    SELECT (p.played_at AT TIME ZONE 'UTC')::date AS play_date,
           a.country,
           count(DISTINCT p.account_id)           AS active_listeners
      FROM player_sor.play_events p
      JOIN accounts_sor.accounts a ON a.account_id = p.account_id
     GROUP BY 1, 2
    $q$,
    description => 'Distinct accounts that played at least one track, per day (UTC) and country'));
SELECT format('          %s: %s', mode, CASE WHEN mode = 'incremental' THEN 'loaded by its first refresh, ' || dataproduct.refresh(output) || ' rows' ELSE 'loaded, ' || row_count || ' rows' END) FROM dataproduct.outputs WHERE output = 'player.daily_active_listeners'::regclass;

-- Queries run with the owner's privileges: the player team may read the
-- country of an account but not its e-mail address, so no product of
-- theirs can publish e-mail addresses either.
CREATE TEMP TABLE refused (outcome text);
DO $$
BEGIN
    PERFORM dataproduct.add_output('player.engagement', 'listener_emails',
        'SELECT a.email, count(*) AS plays
           FROM player_sor.play_events p
           JOIN accounts_sor.accounts a ON a.account_id = p.account_id
          GROUP BY a.email');
    INSERT INTO refused VALUES ('  output  player.listener_emails (unexpected: it should have been refused!)');
EXCEPTION WHEN insufficient_privilege THEN
    INSERT INTO refused VALUES ('  refused player.listener_emails (e-mail addresses per listener): ' || SQLERRM);
END
$$;
TABLE refused;
DROP TABLE refused;

GRANT USAGE ON SCHEMA player TO analyst;
GRANT SELECT ON player.daily_track_plays, player.top_artists_by_country,
                player.skip_rate_by_genre TO analyst;
\echo '  granted the outputs of player.listening to analyst; player.engagement stays private'
RESET ROLE;

-- ---------------------------------------------------------------------------
\echo
\echo '--- billing team (SET ROLE billing_team): product billing.revenue'
SET ROLE billing_team;

SELECT format('  product %s (draft)', dataproduct.create_product('billing.revenue',
           description => 'Subscribers and monthly recurring revenue (MRR, EUR) per plan and country, and the monthly movements behind them.',
           version     => '2.0.0',
           tags        => ARRAY['revenue', 'mrr', 'subscriptions', 'finance', 'kpi'],
           contact     => '#billing-data on Slack, billing-team@tunewave.example'));

SELECT format('  output  %s', dataproduct.add_output('billing.revenue', 'mrr_by_plan_country', $q$
    SELECT s.plan,
           a.country,
           count(*) FILTER (WHERE s.status = 'active')               AS active_subscriptions,
           count(*) FILTER (WHERE s.status = 'past_due')             AS past_due_subscriptions,
           coalesce(sum(s.price) FILTER (WHERE s.status = 'active'), 0) AS mrr_eur
      FROM accounts_sor.subscriptions s
      JOIN accounts_sor.accounts a ON a.account_id = s.account_id
     WHERE s.status IN ('active', 'past_due')
     GROUP BY s.plan, a.country
    $q$,
    description => 'Active and past-due subscriptions, and MRR of the active ones, per plan and country'));
SELECT format('          %s: %s', mode, CASE WHEN mode = 'incremental' THEN 'loaded by its first refresh, ' || dataproduct.refresh(output) || ' rows' ELSE 'loaded, ' || row_count || ' rows' END) FROM dataproduct.outputs WHERE output = 'billing.mrr_by_plan_country'::regclass;

-- An output built on another output of the same product.
SELECT format('  output  %s', dataproduct.add_output('billing.revenue', 'mrr_by_plan', $q$
    SELECT plan,
           sum(active_subscriptions)::bigint                         AS active_subscriptions,
           sum(mrr_eur)                                              AS mrr_eur,
           round(sum(mrr_eur) / nullif(sum(active_subscriptions), 0), 2) AS arpu_eur
      FROM billing.mrr_by_plan_country
     GROUP BY plan
    $q$,
    description => 'MRR, active subscriptions and ARPU per plan, rolled up from mrr_by_plan_country'));
SELECT format('          %s: %s', mode, CASE WHEN mode = 'incremental' THEN 'loaded by its first refresh, ' || dataproduct.refresh(output) || ' rows' ELSE 'loaded, ' || row_count || ' rows' END) FROM dataproduct.outputs WHERE output = 'billing.mrr_by_plan'::regclass;

SELECT format('  output  %s', dataproduct.add_output('billing.revenue', 'monthly_movements', $q$
    SELECT month, plan,
           count(*) FILTER (WHERE movement = 'new')    AS new_subscriptions,
           count(*) FILTER (WHERE movement = 'churn')  AS cancellations
      FROM (SELECT date_trunc('month', started_at)::date AS month, plan, 'new' AS movement
              FROM accounts_sor.subscriptions
            UNION ALL
            SELECT date_trunc('month', ended_at)::date, plan, 'churn'
              FROM accounts_sor.subscriptions
             WHERE ended_at IS NOT NULL) m
     GROUP BY month, plan
    $q$,
    description => 'New subscriptions and cancellations per month and plan'));
SELECT format('          %s: %s', mode, CASE WHEN mode = 'incremental' THEN 'loaded by its first refresh, ' || dataproduct.refresh(output) || ' rows' ELSE 'loaded, ' || row_count || ' rows' END) FROM dataproduct.outputs WHERE output = 'billing.monthly_movements'::regclass;

-- A history output: every version of each subscription, with valid_from and
-- valid_to, built from the captured changes (the system of record updates
-- subscriptions in place).
SELECT format('  output  %s', dataproduct.add_output('billing.revenue', 'subscription_history', $q$
    SELECT subscription_id, account_id, plan, price, status
      FROM accounts_sor.subscriptions
    $q$,
    description => 'Every version of every subscription since the output was declared, valid from valid_from to valid_to (NULL: current); dataproduct.as_of(NULL::billing.subscription_history, t) gives them as they were at t',
    history => true));
SELECT format('          history: loaded by its first refresh, %s current versions', dataproduct.refresh('billing.subscription_history'));

SELECT '  product billing.revenue is now published'
  FROM dataproduct.alter_product('billing.revenue', status => 'published');

GRANT USAGE ON SCHEMA billing TO analyst;
GRANT SELECT ON billing.mrr_by_plan_country, billing.mrr_by_plan,
                billing.monthly_movements, billing.subscription_history TO analyst;
\echo '  granted the outputs of billing.revenue to analyst'
RESET ROLE;

-- ---------------------------------------------------------------------------
\echo
\echo '--- the teams make their products trustworthy: freshness promises, column docs, quality checks'
SELECT '  player.listening promises to be at most 1 minute behind its sources'
  FROM dataproduct.alter_product('player.listening', max_staleness => '1 minute');
SELECT '  billing.revenue promises to be at most 5 minutes behind its sources'
  FROM dataproduct.alter_product('billing.revenue', max_staleness => '5 minutes');
SELECT '  documented ' || count(*) || ' columns (COMMENTs on the views, shown by \d+ and BI tools)'
  FROM (VALUES
    ('player.daily_track_plays', 'play_date', 'Day of the plays, in UTC'),
    ('player.daily_track_plays', 'listeners', 'Distinct accounts that played the track that day'),
    ('player.daily_track_plays', 'skips', 'Plays stopped before 30 seconds'),
    ('billing.mrr_by_plan', 'mrr_eur', 'Monthly recurring revenue of the active subscriptions, in euros'),
    ('billing.mrr_by_plan', 'arpu_eur', 'Average revenue per active subscription, in euros'),
    ('catalog.track_dim', 'explicit', 'Whether the track carries an explicit-content label')) c(o, col, doc),
    LATERAL dataproduct.comment_column(o::regclass, col, doc);
SELECT format('  check %-32s on %-28s %s', dataproduct.add_check(o::regclass, kind, name => nm, severity => sev,
                  "column" => col, columns => cols, "values" => vals, min => lo,
                  to_relation => rel, to_column => relcol, sql => q), o, sev)
  FROM (VALUES
    ('catalog.track_dim', 'unique', NULL, 'blocking', NULL, '{track_id}'::text[], NULL::text[], NULL, NULL::regclass, NULL, NULL),
    ('catalog.track_dim', 'not_null', NULL, 'blocking', 'artist_name', NULL, NULL, NULL, NULL, NULL, NULL),
    ('player.daily_track_plays', 'range', NULL, 'blocking', 'plays', NULL, NULL, '1', NULL, NULL, NULL),
    ('player.daily_track_plays', 'relationship', NULL, 'warning', 'track_id', NULL, NULL, NULL, 'catalog.track_dim', 'track_id', NULL),
    ('billing.mrr_by_plan', 'accepted_values', NULL, 'blocking', 'plan', NULL, '{student,individual,duo,family}', NULL, NULL, NULL, NULL),
    ('billing.mrr_by_plan_country', 'custom', 'past_due_below_active', 'warning', NULL, NULL, NULL, NULL, NULL, NULL,
     'SELECT * FROM billing.mrr_by_plan_country WHERE past_due_subscriptions > active_subscriptions')
  ) c(o, kind, nm, sev, col, cols, vals, lo, rel, relcol, q);
\echo '  (checks run after every refresh, in its transaction: a failing blocking check rolls it back)'

\t off
\pset format aligned
\echo
\echo 'The checks, run once now (dataproduct.run_checks), all pass:'
SELECT r.output, r.check_name, r.severity, r.passed, r.observed
  FROM dataproduct.products p, dataproduct.run_checks(p.product) r
 ORDER BY 1, 2;

\echo
\echo 'Every output was filled once at declaration (refresh_ms: the time of that first load):'
SELECT output, product, row_count, round(refresh_ms::numeric) AS refresh_ms
  FROM dataproduct.outputs
 ORDER BY product, output::text;
