--
-- Partitions of a captured partitioned table: its (non-superuser) owner
-- keeps creating, attaching and detaching them, and every change to a new
-- partition reaches the outputs, TRUNCATE of that partition alone included.
-- dataproduct_internal.capture() runs only in the triggers the extension installs.
--
CREATE EXTENSION pg_dataproduct;
-- (the 0.2.0 upgrade script grants EXECUTE on capture() and adds the event
-- trigger for CREATE TABLE; until 0.2.0 is the default version, walk to it)
DO $$BEGIN
  IF (SELECT extversion FROM pg_extension WHERE extname = 'pg_dataproduct') = '0.1.0' THEN
    ALTER EXTENSION pg_dataproduct UPDATE TO '0.2.0';
  END IF;
END$$;
\set SHOW_CONTEXT never
CREATE ROLE pt_owner LOGIN;
CREATE ROLE pt_other LOGIN;
DO $$BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO pt_owner, pt_other', current_database()); END$$;

SET ROLE pt_owner;
CREATE SCHEMA pt_sor;
CREATE TABLE pt_sor.events (at date, kind text, qty int) PARTITION BY RANGE (at);
CREATE TABLE pt_sor.events_01 PARTITION OF pt_sor.events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
INSERT INTO pt_sor.events VALUES ('2026-01-05', 'a', 1), ('2026-01-06', 'b', 2);
SELECT dataproduct.create_domain('pt');
SELECT dataproduct.create_product('pt.p');
SELECT dataproduct.add_output('pt.p', 'kinds',
       'SELECT kind, count(*) AS n, sum(qty) AS qty FROM pt_sor.events GROUP BY kind');
SELECT dataproduct.refresh('pt.kinds');
-- the output equals its query, and how it was last refreshed
\set same 'SELECT (SELECT count(*) FROM ((SELECT kind, count(*), sum(qty) FROM pt_sor.events GROUP BY kind EXCEPT ALL SELECT * FROM pt.kinds) UNION ALL (SELECT * FROM pt.kinds EXCEPT ALL SELECT kind, count(*), sum(qty) FROM pt_sor.events GROUP BY kind)) d) = 0 AS same, (SELECT last_refresh_kind FROM dataproduct.outputs WHERE name = ''kinds'') AS kind'

-- the owner creates a partition: it gets both capture triggers, and its rows
-- are applied like any other
CREATE TABLE pt_sor.events_02 PARTITION OF pt_sor.events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
SELECT tgname, tgenabled, tgparentid <> 0 AS cloned FROM pg_trigger
 WHERE tgrelid = 'pt_sor.events_02'::regclass ORDER BY tgname;
INSERT INTO pt_sor.events VALUES ('2026-02-01', 'a', 10), ('2026-02-02', 'c', 20);
UPDATE pt_sor.events SET qty = qty + 1 WHERE at = '2026-02-02';
SELECT dataproduct.refresh('pt.kinds');
:same;
-- TRUNCATE of that partition alone is seen
TRUNCATE pt_sor.events_02;
SELECT dataproduct.refresh('pt.kinds');
:same;

-- ... attaches a table with rows: the outputs rebuild, and then follow it
CREATE TABLE pt_sor.events_03 (at date, kind text, qty int);
INSERT INTO pt_sor.events_03 VALUES ('2026-03-03', 'd', 3);
ALTER TABLE pt_sor.events ATTACH PARTITION pt_sor.events_03 FOR VALUES FROM ('2026-03-01') TO ('2026-04-01');
SELECT tgname, tgenabled, tgparentid <> 0 AS cloned FROM pg_trigger
 WHERE tgrelid = 'pt_sor.events_03'::regclass ORDER BY tgname;
SELECT dataproduct.refresh('pt.kinds');
:same;
DELETE FROM pt_sor.events_03 WHERE kind = 'd';
INSERT INTO pt_sor.events_03 VALUES ('2026-03-04', 'a', 4);
SELECT dataproduct.refresh('pt.kinds');
:same;
TRUNCATE pt_sor.events_03;
SELECT dataproduct.refresh('pt.kinds');
:same;

-- ... partitions of partitions, at any depth: created, attached, truncated
CREATE TABLE pt_sor.events_04 PARTITION OF pt_sor.events FOR VALUES FROM ('2026-04-01') TO ('2026-05-01')
  PARTITION BY LIST (kind);
CREATE TABLE pt_sor.events_04a PARTITION OF pt_sor.events_04 FOR VALUES IN ('a');
CREATE TABLE pt_sor.events_04b (at date, kind text, qty int);
INSERT INTO pt_sor.events_04b VALUES ('2026-04-04', 'b', 40);
ALTER TABLE pt_sor.events_04 ATTACH PARTITION pt_sor.events_04b FOR VALUES IN ('b');
INSERT INTO pt_sor.events VALUES ('2026-04-01', 'a', 41);
SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relname LIKE 'events\_04%' ORDER BY 1, 2;
SELECT dataproduct.refresh('pt.kinds');
:same;
TRUNCATE pt_sor.events_04a;
SELECT dataproduct.refresh('pt.kinds');
:same;

-- ... and detaches one: the outputs rebuild, the table is no longer captured
-- and can be truncated like any other
ALTER TABLE pt_sor.events DETACH PARTITION pt_sor.events_04;
SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relname LIKE 'events\_04%' ORDER BY 1, 2;
SELECT dataproduct.refresh('pt.kinds');
:same;
TRUNCATE pt_sor.events_04;
INSERT INTO pt_sor.events_04 VALUES ('2026-04-02', 'a', 1);
SELECT dataproduct.refresh('pt.kinds');
:same;
SELECT * FROM pt.kinds ORDER BY kind;

-- ... and drops one, rows and all, at any depth: no trigger sees those rows
-- go, the outputs rebuild
CREATE TABLE pt_sor.events_05 PARTITION OF pt_sor.events FOR VALUES FROM ('2026-05-01') TO ('2026-06-01')
  PARTITION BY LIST (kind);
CREATE TABLE pt_sor.events_05a PARTITION OF pt_sor.events_05 FOR VALUES IN ('a');
CREATE TABLE pt_sor.events_05b PARTITION OF pt_sor.events_05 FOR VALUES IN ('b');
INSERT INTO pt_sor.events VALUES ('2026-05-01', 'a', 50), ('2026-05-02', 'b', 51), ('2026-02-03', 'b', 52);
SELECT dataproduct.refresh('pt.kinds');
:same;
DROP TABLE pt_sor.events_05a;
SELECT dataproduct.refresh('pt.kinds');
:same;
DROP TABLE pt_sor.events_05, pt_sor.events_02;
SELECT dataproduct.refresh('pt.kinds');
:same;
SELECT * FROM pt.kinds ORDER BY kind;
-- a table that is not a partition (any more) is dropped as any other
DROP TABLE pt_sor.events_04;
INSERT INTO pt_sor.events VALUES ('2026-01-10', 'a', 5);
SELECT dataproduct.refresh('pt.kinds');
:same;

-- capture() runs only in the triggers the extension installed: not in a
-- trigger of one's own on another table, nor under another name on a
-- captured one, pointing at a change log
SELECT log AS log FROM dataproduct.source WHERE relation = 'pt_sor.events'::regclass \gset
RESET ROLE;
-- a role that owns no product may not even name the function (no USAGE on
-- dataproduct_internal); a product owner may, and the function refuses
SET ROLE pt_other;
CREATE SCHEMA pt_theirs;
CREATE TABLE pt_theirs.t (at date, kind text, qty int);
SELECT format('CREATE TRIGGER sneak AFTER INSERT ON pt_theirs.t FOR EACH ROW EXECUTE FUNCTION dataproduct_internal.capture(%L)', :'log') \gexec
DROP SCHEMA pt_theirs CASCADE;
RESET ROLE;
SET ROLE pt_owner;
CREATE SCHEMA pt_mine;
CREATE TABLE pt_mine.t (at date, kind text, qty int);
SELECT format('CREATE TRIGGER sneak AFTER INSERT ON pt_mine.t FOR EACH ROW EXECUTE FUNCTION dataproduct_internal.capture(%L)', :'log') \gexec
INSERT INTO pt_mine.t VALUES ('2026-01-01', 'x', 1);
SELECT format('CREATE TRIGGER __dp_capture AFTER INSERT ON pt_mine.t FOR EACH ROW EXECUTE FUNCTION dataproduct_internal.capture(%L)', :'log') \gexec
INSERT INTO pt_mine.t VALUES ('2026-01-01', 'x', 1);
DROP SCHEMA pt_mine CASCADE;
SELECT format('CREATE TRIGGER again AFTER INSERT ON pt_sor.events_01 FOR EACH ROW EXECUTE FUNCTION dataproduct_internal.capture(%L)', :'log') \gexec
INSERT INTO pt_sor.events VALUES ('2026-01-09', 'x', 1);
DROP TRIGGER again ON pt_sor.events_01;
INSERT INTO pt_sor.events VALUES ('2026-01-09', 'x', 1);
SELECT dataproduct.refresh('pt.kinds');
:same;

SELECT dataproduct.drop_domain('pt', cascade => true);
-- capture went with the last output, from every partition
SELECT count(*) FROM pg_trigger WHERE tgname LIKE '\_\_dp%';
DROP SCHEMA pt_sor CASCADE;
RESET ROLE;
DO $$BEGIN EXECUTE format('REVOKE CREATE ON DATABASE %I FROM pt_owner, pt_other', current_database()); END$$;
DROP ROLE pt_owner, pt_other;
DROP EXTENSION pg_dataproduct;
