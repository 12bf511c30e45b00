--
-- explain(): how an output is maintained -- its mode and why, its store,
-- the change logs it reads and the statements a refresh runs (generated as
-- a refresh generates them; nothing is run) -- for the roles that may see
-- its product, and no one else.  Batch names carry the log's OID: masked.
--
CREATE EXTENSION pg_dataproduct;
CREATE ROLE ex_team NOLOGIN;
CREATE ROLE ex_reader LOGIN;
CREATE ROLE ex_stranger LOGIN;
CREATE SCHEMA ex_sor;
CREATE TABLE ex_sor.plays (day date, track int, ms int);
CREATE TABLE ex_sor.tracks (track int PRIMARY KEY, genre text);
INSERT INTO ex_sor.tracks VALUES (1, 'jazz'), (2, 'rock');
INSERT INTO ex_sor.plays VALUES ('2026-01-01', 1, 100), ('2026-01-01', 2, 50), ('2026-01-02', 1, 70);
GRANT USAGE ON SCHEMA ex_sor TO ex_team;
GRANT SELECT ON ALL TABLES IN SCHEMA ex_sor TO ex_team;
SELECT dataproduct.create_domain('exd', owner => 'ex_team');
SELECT dataproduct.create_product('exd.listening');
SELECT dataproduct.add_output('exd.listening', 'by_genre',
       $$SELECT t.genre, count(*) AS plays, sum(p.ms) AS ms, max(p.day) AS last_day
           FROM ex_sor.plays p JOIN ex_sor.tracks t USING (track)
          WHERE p.day >= '2026-01-01' GROUP BY t.genre$$);
SELECT dataproduct.add_output('exd.listening', 'recent',
       'SELECT day, track FROM ex_sor.plays WHERE ms > 60');
SELECT dataproduct.add_output('exd.listening', 'ranked',
       'SELECT track, ms, rank() OVER (ORDER BY ms DESC) AS r FROM ex_sor.plays');
SELECT dataproduct.refresh(output) FROM dataproduct.outputs ORDER BY output::text;

CREATE FUNCTION pg_temp.explained(o regclass) RETURNS TABLE (item text, detail text)
LANGUAGE sql AS $$
  SELECT e.item, regexp_replace(e.detail, '__dp_(batch_|b)\d+', '__dp_\1N', 'g')
    FROM dataproduct.explain(o) e
$$;

-- an aggregate with max (recomputed when a maximum goes), over a join;
-- statements shown here by their start (\x or \pset format wrapped in psql)
SELECT item, left(regexp_replace(detail, '\s+', ' ', 'g'), 110) AS detail
  FROM pg_temp.explained('exd.by_genre');
-- the delta reads both batches, and the join's other side at the snapshot
SELECT detail ~ 'FROM \(__dp_bN p\s+JOIN ex_sor.tracks t' AS reads_tracks,
       detail ~ 'FROM \(__dp_bN p\s+JOIN __dp_bN t' AS joins_batches,
       detail ~ '2026' AS keeps_filter
  FROM pg_temp.explained('exd.by_genre') WHERE item = '3. delta';
-- plain rows: the store counts duplicates
SELECT item FROM pg_temp.explained('exd.recent');
SELECT detail FROM pg_temp.explained('exd.recent') WHERE item LIKE '%. merge';
-- refreshed in full, and why
SELECT * FROM pg_temp.explained('exd.ranked');

-- the statements are those a refresh runs: the delta's result, applied,
-- gives what the query gives
INSERT INTO ex_sor.plays VALUES ('2026-01-03', 2, 500);
DELETE FROM ex_sor.plays WHERE ms = 100;
SELECT dataproduct.refresh('exd.by_genre');
SELECT last_refresh_kind FROM dataproduct.outputs WHERE output = 'exd.by_genre'::regclass;
SELECT (SELECT count(*) FROM (SELECT * FROM exd.by_genre EXCEPT ALL
          SELECT t.genre, count(*), sum(p.ms), max(p.day)
            FROM ex_sor.plays p JOIN ex_sor.tracks t USING (track) GROUP BY t.genre) d) AS differences;

-- visibility: a draft is explained to its owner's members and to roles that
-- may read an output, not to others, to whom it does not exist
SELECT count(*) > 0 AS explained FROM dataproduct.explain('exd.by_genre');
GRANT USAGE ON SCHEMA exd TO ex_reader, ex_stranger;
GRANT SELECT ON exd.recent TO ex_reader;
SET ROLE ex_reader;
SELECT count(*) > 0 AS explained FROM dataproduct.explain('exd.by_genre');
RESET ROLE;
SET ROLE ex_stranger;
SELECT * FROM dataproduct.explain('exd.by_genre');
RESET ROLE;
SELECT dataproduct.alter_product('exd.listening', status => 'published');
SET ROLE ex_stranger;
SELECT count(*) > 0 AS explained FROM dataproduct.explain('exd.by_genre');
RESET ROLE;
-- not an output
SELECT * FROM dataproduct.explain('ex_sor.plays');

SELECT dataproduct.drop_domain('exd', cascade => true);
DROP SCHEMA ex_sor CASCADE;
DROP ROLE ex_team, ex_reader, ex_stranger;
DROP EXTENSION pg_dataproduct;
