--
-- Declaring domains, products and outputs; the catalog views that show them.
--
CREATE EXTENSION pg_dataproduct;

-- the extension lives in its own schema and cannot move
SELECT extname, extnamespace::regnamespace, extrelocatable, extversion
  FROM pg_extension WHERE extname = 'pg_dataproduct';

CREATE ROLE player_team NOLOGIN;
CREATE ROLE catalog_team NOLOGIN;

-- a small operational schema
CREATE SCHEMA player_sor;
CREATE TABLE player_sor.tracks (
    track_id  integer PRIMARY KEY,
    title     text NOT NULL,
    genre     text
);
CREATE TABLE player_sor.play_events (
    event_id  bigserial PRIMARY KEY,
    track_id  integer REFERENCES player_sor.tracks,
    played_at timestamptz NOT NULL,
    ms_played integer NOT NULL
);
INSERT INTO player_sor.tracks
SELECT g, 'track ' || g, (ARRAY['rock', 'jazz', NULL])[1 + g % 3]
  FROM generate_series(1, 20) g;
INSERT INTO player_sor.play_events (track_id, played_at, ms_played)
SELECT 1 + g % 20, '2026-03-01 00:00+00'::timestamptz + g * interval '37 minutes', 1000 * (g % 240)
  FROM generate_series(1, 500) g;
GRANT USAGE ON SCHEMA player_sor TO player_team;
GRANT SELECT ON ALL TABLES IN SCHEMA player_sor TO player_team;

-- domains: the owner defaults to the calling role
SELECT dataproduct.create_domain('player', owner => 'player_team',
                                 description => 'Everything users listen to');
SELECT dataproduct.create_domain('catalog');
SELECT domain, owner, description, schema, products FROM dataproduct.domains ORDER BY domain;
-- the domain's schema exists, belongs to the domain owner and carries the description
SELECT nspname, nspowner::regrole, obj_description(oid, 'pg_namespace')
  FROM pg_namespace WHERE nspname IN ('player', 'catalog') ORDER BY 1;

-- a schema that already exists can become a domain, and is kept on drop
CREATE SCHEMA billing;
SELECT dataproduct.create_domain('billing', description => 'Money');
SELECT name, created_schema FROM dataproduct.domain ORDER BY name;

-- products: owner defaults to the domain owner, version to 0.1.0, status is draft
SELECT dataproduct.create_product('player.plays',
       description => 'Listening activity per track and day',
       version => '1.0.0', tags => '{streaming,engagement}',
       contact => 'player-team@example.com');
SELECT dataproduct.create_product('catalog.tracks', owner => 'catalog_team');
SELECT product, domain, name, owner, version, status, tags, contact, outputs
  FROM dataproduct.products ORDER BY product;

-- an output: the view <domain>.<name>, returned as regclass
SELECT dataproduct.add_output('player.plays', 'daily_track_plays',
       $$SELECT track_id, played_at::date AS day, count(*) AS plays, sum(ms_played) AS ms
           FROM player_sor.play_events GROUP BY 1, 2$$,
       refresh => 'full', description => 'Plays and listening time per track and day');

-- it is an ordinary view, owned by the product owner, with the description as comment
SELECT c.relname, c.relkind, c.relowner::regrole, obj_description(c.oid, 'pg_class')
  FROM pg_class c WHERE c.oid = 'player.daily_track_plays'::regclass;
\d player.daily_track_plays

-- the store and query view are internal and owned by the product owner too
SELECT c.relkind, c.relowner::regrole, obj_description(c.oid, 'pg_class')
  FROM dataproduct.output o
  JOIN pg_class c ON c.oid IN (o.store, o.query_view)
 WHERE o.view = 'player.daily_track_plays'::regclass
 ORDER BY c.relkind;

-- the view holds exactly what its query returns
SELECT count(*) AS rows, sum(plays) AS plays FROM player.daily_track_plays;
(SELECT track_id, played_at::date, count(*), sum(ms_played) FROM player_sor.play_events GROUP BY 1, 2
 EXCEPT ALL SELECT * FROM player.daily_track_plays)
UNION ALL
(SELECT * FROM player.daily_track_plays
 EXCEPT ALL SELECT track_id, played_at::date, count(*), sum(ms_played) FROM player_sor.play_events GROUP BY 1, 2);

-- 'auto' is the default mode; a join output with a column reading through a view
CREATE VIEW player_sor.rock_tracks AS SELECT * FROM player_sor.tracks WHERE genre = 'rock';
GRANT SELECT ON player_sor.rock_tracks TO player_team;
SELECT dataproduct.add_output('player.plays', 'rock_plays',
       $$SELECT t.title, count(*) AS plays
           FROM player_sor.play_events e JOIN player_sor.rock_tracks t USING (track_id)
          GROUP BY t.title$$);
SELECT dataproduct.refresh('player.rock_plays');

SELECT output, product, name, mode, requested_mode, mode_reason, status, rows_changed, row_count,
       last_refresh IS NOT NULL AS refreshed, refresh_ms >= 0 AS timed
  FROM dataproduct.outputs ORDER BY output::text;

-- the query is kept as written, and its analysed form is independent of search_path
SELECT definition FROM dataproduct.outputs WHERE name = 'rock_plays';
SET search_path = player_sor, public;
SELECT dataproduct.add_output('player.plays', 'tracks_by_genre',
       'SELECT genre, count(*) AS tracks FROM tracks GROUP BY genre');
RESET search_path;
-- an incrementally maintained output refuses to be read before its first refresh
SELECT * FROM player.tracks_by_genre ORDER BY genre NULLS FIRST;
SELECT dataproduct.refresh('player.tracks_by_genre');
SELECT * FROM player.tracks_by_genre ORDER BY genre NULLS FIRST;
SELECT source FROM dataproduct.lineage WHERE output = 'player.tracks_by_genre'::regclass;

-- duplicates of every kind are refused
SELECT dataproduct.create_domain('player');
SELECT dataproduct.create_product('player.plays');
SELECT dataproduct.add_output('player.plays', 'daily_track_plays', 'SELECT 1 AS one');

-- a NULL tag list means no tags
SELECT dataproduct.create_product('catalog.artists', tags => NULL);
SELECT tags FROM dataproduct.products WHERE product = 'catalog.artists';

-- every catalog table, view and function is documented
SELECT c.relname FROM pg_class c
 WHERE c.relnamespace = 'dataproduct'::regnamespace AND c.relkind IN ('r', 'v')
   AND obj_description(c.oid, 'pg_class') IS NULL;
SELECT c.relname, a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
 WHERE c.relnamespace = 'dataproduct'::regnamespace AND c.relkind IN ('r', 'v')
   AND a.attnum > 0 AND NOT a.attisdropped AND col_description(c.oid, a.attnum) IS NULL;
SELECT p.oid::regprocedure FROM pg_proc p
 WHERE p.pronamespace = 'dataproduct'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL;
-- and none of them is SECURITY DEFINER
SELECT p.oid::regprocedure FROM pg_proc p
 WHERE p.pronamespace = 'dataproduct'::regnamespace AND p.prosecdef;

-- clean up
SELECT dataproduct.drop_domain('player', cascade => true);
SELECT dataproduct.drop_domain('catalog', cascade => true);
SELECT dataproduct.drop_domain('billing');
SELECT count(*) FROM dataproduct.output;
SELECT nspname FROM pg_namespace WHERE nspname IN ('player', 'catalog', 'billing');
DROP SCHEMA billing;
DROP SCHEMA player_sor CASCADE;
DROP ROLE player_team, catalog_team;

-- the extension goes cleanly once nothing is declared
DROP EXTENSION pg_dataproduct;
