--
-- History outputs: add_output(..., history => true), as_of(), and the
-- errors of both.  (Exactness over random workloads: test/t/015_history.pl.)
--
CREATE EXTENSION pg_dataproduct;
CREATE SCHEMA hist_sor;
CREATE TABLE hist_sor.subs (id int PRIMARY KEY, plan text NOT NULL, status text, seats int);
CREATE TABLE hist_sor.plans (plan text PRIMARY KEY, price int);
CREATE TABLE hist_sor.nokey (a int, b int);
CREATE TABLE hist_sor.ukey (code text NOT NULL UNIQUE, n int, u int UNIQUE);
CREATE TABLE hist_sor.parted (id int PRIMARY KEY, v int) PARTITION BY RANGE (id);
CREATE VIEW hist_sor.subs_view AS SELECT * FROM hist_sor.subs;
INSERT INTO hist_sor.subs VALUES (1, 'basic', 'active', 1), (2, 'pro', 'active', 5), (3, 'basic', 'trial', 1);
SELECT dataproduct.create_domain('hist');
SELECT dataproduct.create_product('hist.p');

-- what a history output cannot be
SELECT dataproduct.add_output('hist.p', 'e1', 'SELECT s.id, p.price FROM hist_sor.subs s JOIN hist_sor.plans p USING (plan)', history => true);
SELECT dataproduct.add_output('hist.p', 'e2', 'SELECT plan, count(*) AS n FROM hist_sor.subs GROUP BY plan', history => true);
SELECT dataproduct.add_output('hist.p', 'e3', 'SELECT DISTINCT id, plan FROM hist_sor.subs', history => true);
SELECT dataproduct.add_output('hist.p', 'e4', 'SELECT id, rank() OVER (ORDER BY seats) AS r FROM hist_sor.subs', history => true);
SELECT dataproduct.add_output('hist.p', 'e5', 'SELECT id FROM hist_sor.subs ORDER BY id LIMIT 2', history => true);
SELECT dataproduct.add_output('hist.p', 'e6', 'SELECT id FROM hist_sor.subs WHERE plan IN (SELECT plan FROM hist_sor.plans)', history => true);
SELECT dataproduct.add_output('hist.p', 'e7', 'SELECT id, plan FROM hist_sor.subs_view', history => true);
SELECT dataproduct.add_output('hist.p', 'e8', 'SELECT a, b FROM hist_sor.nokey', history => true);
SELECT dataproduct.add_output('hist.p', 'e9', 'SELECT plan, status FROM hist_sor.subs', history => true);
SELECT dataproduct.add_output('hist.p', 'e10', 'SELECT id, status AS valid_from FROM hist_sor.subs', history => true);
SELECT dataproduct.add_output('hist.p', 'e11', 'SELECT id, plan FROM hist_sor.subs', refresh => 'full', history => true);
SELECT dataproduct.add_output('hist.p', 'e12', 'SELECT id, v FROM hist_sor.parted', history => true);
SELECT dataproduct.add_output('hist.p', 'e13', 'SELECT id, random() AS r FROM hist_sor.subs', history => true);
SELECT dataproduct.add_output('hist.p', 'e14', 'SELECT id + 1 AS id, plan FROM hist_sor.subs', history => true);
SELECT dataproduct.add_output('hist.p', 'e15', 'SELECT n FROM hist_sor.ukey', history => true);
SELECT count(*) AS outputs FROM dataproduct.outputs WHERE product = 'hist.p';

-- a unique key on NOT NULL columns will do when there is no primary key
SELECT dataproduct.add_output('hist.p', 'codes', 'SELECT code, n FROM hist_sor.ukey', history => true);
SELECT dataproduct.refresh('hist.codes');
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'hist.codes'::regclass AND attnum > 0 ORDER BY attnum;

-- the history of subscriptions, active and trial ones
SELECT dataproduct.add_output('hist.p', 'subs', $$SELECT id, plan, seats FROM hist_sor.subs WHERE status IN ('active', 'trial')$$,
                              description => 'subscriptions as they were', history => true);
SELECT * FROM hist.subs;   -- not loaded yet
SELECT name, mode FROM dataproduct.outputs WHERE output = 'hist.subs'::regclass;
SELECT history FROM dataproduct.output WHERE view = 'hist.subs'::regclass;
SELECT dataproduct.refresh('hist.subs');
SELECT id, plan, seats, valid_to IS NULL AS current FROM hist.subs ORDER BY id, valid_from;

-- states remembered after each commit, with the commit's time
CREATE TABLE hist_sor.states (n int, at timestamptz, id int, plan text, seats int);
CREATE FUNCTION hist_sor.remember(n int) RETURNS void LANGUAGE sql AS $$
  INSERT INTO hist_sor.states SELECT n, clock_timestamp(), id, plan, seats FROM hist_sor.subs
   WHERE status IN ('active', 'trial');
  INSERT INTO hist_sor.states SELECT n, clock_timestamp(), NULL, NULL, NULL;
$$;
SELECT hist_sor.remember(0);
UPDATE hist_sor.subs SET seats = 2 WHERE id = 1;
SELECT hist_sor.remember(1);
UPDATE hist_sor.subs SET seats = 3 WHERE id = 1;     -- same row again, same batch
SELECT hist_sor.remember(2);
UPDATE hist_sor.subs SET status = 'cancelled' WHERE id = 2;   -- leaves the filter
SELECT hist_sor.remember(3);
UPDATE hist_sor.subs SET id = 30 WHERE id = 3;      -- a key change
SELECT hist_sor.remember(4);
INSERT INTO hist_sor.subs VALUES (4, 'pro', 'active', 9);
UPDATE hist_sor.subs SET status = 'paused' WHERE id = 4;   -- hidden column only? no: leaves the filter
SELECT hist_sor.remember(5);
UPDATE hist_sor.subs SET status = 'trial' WHERE id = 1;    -- stays in the filter, same output row
SELECT hist_sor.remember(6);
SELECT dataproduct.refresh('hist.subs');
-- one version per state a row had; the one without a column change is not one
SELECT id, plan, seats, valid_to IS NULL AS current FROM hist.subs ORDER BY id, valid_from;
SELECT bool_and(valid_to > valid_from) AS ordered FROM hist.subs WHERE valid_to IS NOT NULL;

-- as_of at each remembered time equals the state then
CREATE FUNCTION hist_sor.mismatches() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM (SELECT DISTINCT n, at FROM hist_sor.states WHERE id IS NULL) t,
   LATERAL (
     (SELECT id, plan, seats FROM dataproduct.as_of(NULL::hist.subs, t.at)
      EXCEPT ALL SELECT id, plan, seats FROM hist_sor.states s WHERE s.n = t.n AND s.id IS NOT NULL)
     UNION ALL
     (SELECT id, plan, seats FROM hist_sor.states s WHERE s.n = t.n AND s.id IS NOT NULL
      EXCEPT ALL SELECT id, plan, seats FROM dataproduct.as_of(NULL::hist.subs, t.at))) d
$$;
SELECT hist_sor.mismatches();
SELECT count(*) AS states FROM (SELECT DISTINCT n FROM hist_sor.states) s;
-- and the documented SQL says the same
SELECT count(*) FROM hist.subs v, (SELECT max(at) AS at FROM hist_sor.states WHERE n = 2) t
 WHERE v.valid_from <= t.at AND (v.valid_to IS NULL OR v.valid_to > t.at);

-- TRUNCATE closes every current version; rows written after it open new ones
BEGIN;
INSERT INTO hist_sor.subs VALUES (5, 'basic', 'active', 1);   -- gone with the TRUNCATE
TRUNCATE hist_sor.subs;
INSERT INTO hist_sor.subs VALUES (1, 'basic', 'active', 3), (6, 'pro', 'trial', 2);
COMMIT;
SELECT hist_sor.remember(7);
TRUNCATE hist_sor.subs;
SELECT hist_sor.remember(8);
INSERT INTO hist_sor.subs VALUES (7, 'pro', 'active', 4);
SELECT hist_sor.remember(9);
SELECT dataproduct.refresh('hist.subs');
SELECT id, plan, seats, valid_to IS NULL AS current FROM hist.subs ORDER BY id, valid_from;
SELECT hist_sor.mismatches();

-- ALTER TABLE of the table: the current versions are compared, nothing changed
ALTER TABLE hist_sor.subs ADD COLUMN note text;
UPDATE hist_sor.subs SET seats = 5 WHERE id = 7;
SELECT hist_sor.remember(10);
SELECT dataproduct.refresh('hist.subs');
SELECT hist_sor.mismatches();
SELECT count(*) FILTER (WHERE valid_to IS NULL) AS current, count(*) AS versions FROM hist.subs;
-- a refresh with nothing to do changes nothing
SELECT dataproduct.refresh('hist.subs');

-- an ordinary output over a history output's view is maintained incrementally
SELECT dataproduct.add_output('hist.p', 'plan_versions',
       'SELECT plan, count(*) AS versions, count(*) FILTER (WHERE valid_to IS NULL) AS current FROM hist.subs GROUP BY plan');
SELECT dataproduct.refresh('hist.plan_versions');
UPDATE hist_sor.subs SET plan = 'basic' WHERE id = 7;
SELECT dataproduct.refresh('hist.subs');
SELECT dataproduct.refresh('hist.plan_versions');
SELECT mode FROM dataproduct.outputs WHERE output = 'hist.plan_versions'::regclass;
SELECT * FROM hist.plan_versions ORDER BY plan;
SELECT plan, count(*) AS versions, count(*) FILTER (WHERE valid_to IS NULL) AS current
  FROM hist.subs GROUP BY plan ORDER BY plan;

-- describe() says which outputs keep history
SELECT o ->> 'output' AS output, o ->> 'history' AS history
  FROM jsonb_array_elements(dataproduct.describe('hist.p') -> 'outputs') o ORDER BY 1;

-- as_of() errors
SELECT * FROM dataproduct.as_of('hist.subs', now());
SELECT * FROM dataproduct.as_of(NULL::hist_sor.subs, now());
SELECT dataproduct.add_output('hist.p', 'plain', 'SELECT id, plan FROM hist_sor.subs');
SELECT * FROM dataproduct.as_of(NULL::hist.plain, now());
SELECT * FROM dataproduct.as_of(NULL::hist.subs, NULL);
-- a consumer reads with its own rights
CREATE ROLE hist_reader;
SET ROLE hist_reader;
SELECT count(*) FROM dataproduct.as_of(NULL::hist.subs, now());
RESET ROLE;
GRANT USAGE ON SCHEMA hist TO hist_reader;
GRANT SELECT ON hist.subs TO hist_reader;
SET ROLE hist_reader;
SELECT count(*) FROM dataproduct.as_of(NULL::hist.subs, now());
RESET ROLE;

-- a history output that can no longer be kept fails its refresh, and keeps its history
ALTER TABLE hist_sor.subs ENABLE ROW LEVEL SECURITY;
SELECT dataproduct.refresh('hist.subs');
SELECT count(*) AS versions FROM hist.subs;
ALTER TABLE hist_sor.subs DISABLE ROW LEVEL SECURITY;

SELECT dataproduct.drop_product('hist.p', "cascade" => true);
DROP ROLE hist_reader;
DROP EXTENSION pg_dataproduct;
DROP SCHEMA hist_sor CASCADE;
