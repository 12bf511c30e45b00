--
-- Incremental maintenance: which queries qualify, change capture and its
-- guards, batches, rebuilds, and the settings an output is evaluated under.
-- (Exactness over random workloads: test/t/003_differential.pl.)
--
CREATE EXTENSION pg_dataproduct;
CREATE SCHEMA inc_sor;
CREATE TABLE inc_sor.plays (id bigint PRIMARY KEY, track int, ms int, at timestamptz, device text, note text);
CREATE TABLE inc_sor.tracks (track int PRIMARY KEY, genre text);
INSERT INTO inc_sor.tracks VALUES (1, 'rock'), (2, 'jazz'), (3, NULL);
INSERT INTO inc_sor.plays
SELECT g, 1 + g % 3, 1000 * g, '2026-03-01 22:00+00'::timestamptz + g * interval '1 hour', 'ios', NULL
  FROM generate_series(1, 6) g;
SELECT dataproduct.create_domain('inc');
SELECT dataproduct.create_product('inc.p');

-- queries that cannot be maintained incrementally fall back to full refresh in
-- auto mode, with a notice naming the construct; in incremental mode, an error
SELECT dataproduct.add_output('inc.p', 'o1', 'SELECT p.id, s.i FROM inc_sor.plays p LEFT JOIN LATERAL generate_series(1, p.track) s(i) ON true');
SELECT dataproduct.add_output('inc.p', 'o2', 'SELECT id, rank() OVER (ORDER BY ms) AS r FROM inc_sor.plays');
SELECT dataproduct.add_output('inc.p', 'o3', 'SELECT track FROM inc_sor.plays INTERSECT SELECT track FROM inc_sor.tracks');
SELECT dataproduct.add_output('inc.p', 'o4', 'SELECT id FROM inc_sor.plays ORDER BY id LIMIT 2');
SELECT dataproduct.add_output('inc.p', 'o5', 'SELECT id FROM inc_sor.plays WHERE ms > (SELECT avg(ms) FROM inc_sor.plays)');
SELECT dataproduct.add_output('inc.p', 'o6', 'SELECT g.n FROM (SELECT count(*) AS n FROM inc_sor.plays) g');
SELECT dataproduct.add_output('inc.p', 'o7', 'SELECT id FROM inc_sor.plays WHERE at > now() - interval ''1 day''');
SELECT dataproduct.add_output('inc.p', 'o8', 'WITH RECURSIVE x(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM x WHERE n < 3) SELECT id FROM inc_sor.plays JOIN x ON x.n = track');
SELECT dataproduct.add_output('inc.p', 'o9', 'SELECT track, count(*) AS n FROM inc_sor.plays GROUP BY ROLLUP (track)');
SELECT dataproduct.add_output('inc.p', 'o10', 'SELECT DISTINCT ON (track) track, id FROM inc_sor.plays ORDER BY track, id');
SELECT dataproduct.add_output('inc.p', 'o11', 'SELECT id, random() < 2 AS r FROM inc_sor.plays');
SELECT dataproduct.add_output('inc.p', 'o12', 'SELECT ctid::text AS t FROM inc_sor.plays');
SELECT name, mode, mode_reason FROM dataproduct.outputs WHERE product = 'inc.p' ORDER BY created_at, name;
SELECT dataproduct.add_output('inc.p', 'o13', 'SELECT id FROM inc_sor.plays ORDER BY id LIMIT 2',
                              refresh => 'incremental');

-- a maintained output: its store is keyed, its view computes the columns
SELECT dataproduct.add_output('inc.p', 'by_genre',
       $$SELECT t.genre, count(*) AS plays, sum(p.ms) AS ms, avg(p.ms) AS avg_ms,
                max(p.at) AS last_play, p.at::date AS day
           FROM inc_sor.plays p JOIN inc_sor.tracks t USING (track)
          GROUP BY t.genre, p.at::date$$,
       refresh => 'incremental');
SELECT name, mode, status FROM dataproduct.outputs WHERE name = 'by_genre';
-- both tables are captured, with the columns the output reads only
SELECT relation, columns FROM dataproduct.source ORDER BY relation::text;
SELECT tgrelid::regclass, tgname, tgenabled FROM pg_trigger WHERE tgname LIKE '\_\_dp%' ORDER BY 1, 2;

-- not readable before its first refresh, which must not share a transaction
-- with changes to its sources
SELECT * FROM inc.by_genre;
BEGIN;
INSERT INTO inc_sor.plays VALUES (100, 1, 5, '2026-03-02 10:00+00', 'web', NULL);
SELECT dataproduct.refresh('inc.by_genre');
ROLLBACK;
SELECT dataproduct.refresh('inc.by_genre');
SELECT * FROM inc.by_genre ORDER BY genre NULLS FIRST, day;

-- changes: an insert, an update of a fact, a dimension change, a delete
INSERT INTO inc_sor.plays VALUES (7, 1, 500, '2026-03-02 10:00+00', 'web', NULL);
UPDATE inc_sor.plays SET ms = ms + 1 WHERE id = 2;
UPDATE inc_sor.tracks SET genre = 'blues' WHERE track = 2;
DELETE FROM inc_sor.plays WHERE id = 3;
SELECT count(*) AS pending FROM dataproduct_internal.source_1_log;
SELECT dataproduct.refresh('inc.by_genre');
SELECT * FROM inc.by_genre ORDER BY genre NULLS FIRST, day;
SELECT count(*) = 0 AS equal FROM (
  (SELECT t.genre, count(*), sum(p.ms), avg(p.ms), max(p.at), p.at::date
     FROM inc_sor.plays p JOIN inc_sor.tracks t USING (track) GROUP BY 1, 6
   EXCEPT ALL SELECT * FROM inc.by_genre)
  UNION ALL
  (SELECT * FROM inc.by_genre EXCEPT ALL
   SELECT t.genre, count(*), sum(p.ms), avg(p.ms), max(p.at), p.at::date
     FROM inc_sor.plays p JOIN inc_sor.tracks t USING (track) GROUP BY 1, 6)) d;
-- applied changes are trimmed from the logs
SELECT (SELECT count(*) FROM dataproduct_internal.source_1_log) AS log1,
       (SELECT count(*) FROM dataproduct_internal.source_2_log) AS log2;

-- an update that leaves every captured column as it was logs nothing
UPDATE inc_sor.plays SET device = 'android', note = 'x';
SELECT count(*) AS logged FROM dataproduct_internal.source_1_log;
-- a refresh with nothing to apply changes nothing
SELECT dataproduct.refresh('inc.by_genre');

-- every way of writing is captured: COPY, multi-row statements, writable CTEs
COPY inc_sor.plays (id, track, ms, at, device) FROM stdin;
20	1	100	2026-03-02 12:00:00+00	web
21	2	200	2026-03-02 12:00:00+00	web
\.
INSERT INTO inc_sor.plays (id, track, ms, at)
VALUES (22, 1, 1, '2026-03-02 13:00+00'), (23, 3, 2, '2026-03-02 13:00+00');
WITH moved AS (DELETE FROM inc_sor.plays WHERE id IN (20, 23) RETURNING *)
INSERT INTO inc_sor.plays (id, track, ms, at) SELECT id + 100, track, ms * 2, at FROM moved;
SELECT dataproduct.refresh('inc.by_genre') > 0 AS changed;
SELECT count(*) = 0 AS equal FROM (
  (SELECT t.genre, count(*), sum(p.ms), avg(p.ms), max(p.at), p.at::date
     FROM inc_sor.plays p JOIN inc_sor.tracks t USING (track) GROUP BY 1, 6
   EXCEPT ALL SELECT * FROM inc.by_genre)
  UNION ALL
  (SELECT * FROM inc.by_genre EXCEPT ALL
   SELECT t.genre, count(*), sum(p.ms), avg(p.ms), max(p.at), p.at::date
     FROM inc_sor.plays p JOIN inc_sor.tracks t USING (track) GROUP BY 1, 6)) d;

-- partitioned sources: rows routed to partitions, moved between them, and
-- a partition truncated on its own
CREATE TABLE inc_sor.events (at date, kind text) PARTITION BY RANGE (at);
CREATE TABLE inc_sor.events_1 PARTITION OF inc_sor.events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TABLE inc_sor.events_2 PARTITION OF inc_sor.events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
INSERT INTO inc_sor.events VALUES ('2026-01-05', 'a'), ('2026-02-05', 'b');
SELECT dataproduct.add_output('inc.p', 'kinds', 'SELECT kind, count(*) AS n FROM inc_sor.events GROUP BY kind');
SELECT dataproduct.refresh('inc.kinds');
INSERT INTO inc_sor.events VALUES ('2026-01-06', 'b');
UPDATE inc_sor.events SET at = '2026-02-07' WHERE at = '2026-01-05';
TRUNCATE inc_sor.events_2;
SELECT dataproduct.refresh('inc.kinds');
SELECT * FROM inc.kinds ORDER BY kind;
SELECT kind, count(*) FROM inc_sor.events GROUP BY kind ORDER BY kind;

-- the output is evaluated under the settings it was declared with
SET TimeZone = 'Asia/Tokyo';
INSERT INTO inc_sor.plays VALUES (8, 1, 1, '2026-03-01 23:30+00', 'web', NULL);
SELECT dataproduct.refresh('inc.by_genre');
SELECT genre, day, plays FROM inc.by_genre WHERE genre = 'rock' ORDER BY day;
RESET TimeZone;
SELECT timezone FROM dataproduct.output WHERE name = 'by_genre';

-- a second output needing more columns of a captured table extends its log
SELECT dataproduct.add_output('inc.p', 'by_device',
       'SELECT device, count(*) AS n FROM inc_sor.plays GROUP BY device');
SELECT columns FROM dataproduct.source WHERE relation = 'inc_sor.plays'::regclass;
SELECT dataproduct.refresh('inc.by_device');
UPDATE inc_sor.plays SET device = 'tv' WHERE id = 1;
SELECT dataproduct.refresh('inc.by_device'), dataproduct.refresh('inc.by_genre');
SELECT * FROM inc.by_device ORDER BY device;

-- TRUNCATE and ALTER TABLE of a source make its outputs rebuild
TRUNCATE inc_sor.plays;
SELECT dataproduct.refresh('inc.by_genre');
SELECT count(*) FROM inc.by_genre;
INSERT INTO inc_sor.plays VALUES (1, 1, 10, '2026-03-01 10:00+00', 'ios', NULL);
ALTER TABLE inc_sor.plays ADD COLUMN extra int;
SELECT count(*) AS markers FROM dataproduct_internal.source_1_log WHERE __dp_weight = 0;
SELECT dataproduct.refresh('inc.by_genre');
SELECT * FROM inc.by_genre;

-- capture triggers cannot be dropped or disabled by hand
DROP TRIGGER __dp_capture ON inc_sor.plays;
ALTER TABLE inc_sor.plays DISABLE TRIGGER ALL;
ALTER TABLE inc_sor.plays DISABLE TRIGGER __dp_capture_truncate;
-- and nobody else can make one write a change log (from 0.2.0 anyone may
-- reference the function, which then refuses to run: see partitions.sql)
CREATE TABLE inc_sor.other (x int);
CREATE ROLE inc_user;
GRANT ALL ON inc_sor.other TO inc_user;
GRANT USAGE ON SCHEMA inc_sor TO inc_user;
SET ROLE inc_user;
DO $$BEGIN
  CREATE TRIGGER fake AFTER INSERT ON inc_sor.other FOR EACH ROW
    EXECUTE FUNCTION dataproduct_internal.capture('dataproduct_internal.source_1_log');
  INSERT INTO inc_sor.other VALUES (1);
  RAISE EXCEPTION 'a trigger of inc_user wrote a change log';
EXCEPTION WHEN insufficient_privilege THEN
  -- it owns no product: it may not even look the function up
  RAISE NOTICE 'refused: %', sqlerrm;
END$$;
RESET ROLE;

-- dropping the outputs removes capture
SELECT dataproduct.drop_product('inc.p', cascade => true);
SELECT count(*) FROM dataproduct.source;
SELECT count(*) FROM pg_trigger WHERE tgname LIKE '\_\_dp%';

SELECT dataproduct.drop_domain('inc', cascade => true);
DROP SCHEMA inc_sor CASCADE;
DROP ROLE inc_user;

-- the extension goes cleanly once nothing is declared
DROP EXTENSION pg_dataproduct;
