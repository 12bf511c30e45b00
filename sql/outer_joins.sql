--
-- Outer joins maintained incrementally: LEFT, RIGHT and FULL joins, alone,
-- chained, mixed with inner joins, under aggregates and as plain rows, with
-- NULL-extended rows coming and going as matches do.  After every batch each
-- output must equal its query, and its refresh must have been incremental.
-- (Random workloads over more shapes: test/t/003_differential.pl.)
--
CREATE EXTENSION pg_dataproduct;
SET dataproduct.full_refresh_fraction = -1;
CREATE SCHEMA oj;
-- duplicates on both sides, NULLs in join columns
CREATE TABLE oj.a (id int PRIMARY KEY, k int, v int);
CREATE TABLE oj.b (k int, w int, tag text);
CREATE TABLE oj.c (w int, label text);
INSERT INTO oj.a VALUES (1, 1, 10), (2, 1, 20), (3, 2, 30), (4, NULL, 40), (5, 9, NULL);
INSERT INTO oj.b VALUES (1, 100, 'x'), (1, 100, 'x'), (2, 200, NULL), (NULL, 300, 'z'), (7, NULL, 'y');
INSERT INTO oj.c VALUES (100, 'hundred'), (200, NULL), (200, 'two hundred'), (NULL, 'none');
SELECT dataproduct.create_domain('ojd');
SELECT dataproduct.create_product('ojd.p');

SELECT dataproduct.add_output('ojd.p', 'left_rows',
  'SELECT a.id, a.k, b.w, b.tag FROM oj.a LEFT JOIN oj.b ON b.k = a.k', refresh => 'incremental');
SELECT dataproduct.add_output('ojd.p', 'right_agg',
  'SELECT b.k, b.tag, count(*) AS n, count(a.id) AS na, sum(a.v) AS sv, min(a.v) AS mn, max(a.id) AS mx, avg(a.v) AS av
     FROM oj.a RIGHT JOIN oj.b ON a.k = b.k GROUP BY b.k, b.tag', refresh => 'incremental');
-- a condition that is not an equality
SELECT dataproduct.add_output('ojd.p', 'full_rows',
  'SELECT a.id, a.v, b.k, b.w FROM oj.a FULL JOIN oj.b ON a.k = b.k AND a.v * 10 < b.w', refresh => 'incremental');
SELECT dataproduct.add_output('ojd.p', 'chain_agg',
  'SELECT a.k, count(*) AS n, count(c.label) AS nl, string_agg(c.label, '','' ORDER BY c.label) AS labels
     FROM oj.a LEFT JOIN oj.b ON b.k = a.k LEFT JOIN oj.c ON c.w = b.w GROUP BY a.k', refresh => 'incremental');
SELECT dataproduct.add_output('ojd.p', 'mixed',
  'SELECT b.tag, c.label, a.id FROM oj.b JOIN oj.c ON c.w = b.w FULL JOIN oj.a ON a.k = b.k', refresh => 'incremental');
-- a filter on the nullable side makes the join inner, as the query says
SELECT dataproduct.add_output('ojd.p', 'filtered',
  'SELECT a.id, b.w FROM oj.a LEFT JOIN oj.b ON b.k = a.k WHERE b.w > 100 OR a.id > 3', refresh => 'incremental');
SELECT dataproduct.add_output('ojd.p', 'using_full',
  'SELECT k, count(*) AS n, count(b.w) AS nw, sum(a.v) AS sv FROM oj.a FULL JOIN oj.b USING (k) GROUP BY k', refresh => 'incremental');
SELECT dataproduct.add_output('ojd.p', 'using_right',
  'SELECT k, a.id, b.tag FROM oj.a RIGHT JOIN oj.b USING (k) LEFT JOIN oj.c USING (w)', refresh => 'incremental');
SELECT dataproduct.add_output('ojd.p', 'global',
  'SELECT count(*) AS n, count(b.tag) AS nt, count(c.w) AS nc FROM oj.c RIGHT JOIN oj.b ON b.w = c.w RIGHT JOIN oj.a ON a.k = b.k', refresh => 'incremental');
-- VALUES in FROM are a subquery, which can be read as empty
SELECT dataproduct.add_output('ojd.p', 'values_list',
  'SELECT a.id, v.n FROM oj.a LEFT JOIN (VALUES (1, ''one''), (NULL, ''none'')) v(k, n) ON v.k = a.k', refresh => 'incremental');
SELECT name, mode, mode_reason FROM dataproduct.outputs WHERE product = 'ojd.p' ORDER BY name;

-- every output against its query, and how it was last refreshed
CREATE FUNCTION oj.mismatches(out name text, out missing bigint, out extra bigint, out kind text)
RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
  o record;
BEGIN
  FOR o IN SELECT ou.name AS n, ou.output, ou.definition, ou.last_refresh_kind
             FROM dataproduct.outputs ou WHERE ou.product = 'ojd.p' ORDER BY ou.name LOOP
    name := o.n;
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL SELECT * FROM %s) x', o.definition, o.output) INTO missing;
    EXECUTE format('SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL (%s)) x', o.output, o.definition) INTO extra;
    kind := o.last_refresh_kind;
    RETURN NEXT;
  END LOOP;
END $$;
CREATE FUNCTION oj.refresh_all() RETURNS void LANGUAGE sql AS $$
  SELECT dataproduct.refresh(output) FROM dataproduct.outputs WHERE product = 'ojd.p' ORDER BY name
$$;
SELECT oj.refresh_all();
SELECT * FROM oj.mismatches();
SELECT * FROM ojd.left_rows ORDER BY id, w, tag;

-- a first match: the NULL-extended row of a.id = 5 goes; b's lone row too
INSERT INTO oj.b VALUES (9, 900, 'n');
SELECT oj.refresh_all();
SELECT * FROM oj.mismatches();
SELECT * FROM ojd.left_rows WHERE id = 5;

-- the last match goes: the NULL-extended row comes back
DELETE FROM oj.b WHERE k = 9;
SELECT oj.refresh_all();
SELECT * FROM oj.mismatches();
SELECT * FROM ojd.left_rows WHERE id = 5;

-- one of two duplicates goes: the other still matches
DELETE FROM oj.b WHERE ctid = (SELECT min(ctid) FROM oj.b WHERE k = 1);
SELECT oj.refresh_all();
SELECT * FROM oj.mismatches();

-- key changes on both sides in one batch, and a row matching nothing yet
UPDATE oj.a SET k = 7 WHERE id = 3;
UPDATE oj.b SET k = 2 WHERE k = 7;
INSERT INTO oj.a VALUES (6, 2, 60);
UPDATE oj.c SET w = 300 WHERE w IS NULL;
SELECT oj.refresh_all();
SELECT * FROM oj.mismatches();
SELECT * FROM ojd.using_full ORDER BY k;

-- deletes on three tables at once, and NULLs written into join columns
BEGIN;
DELETE FROM oj.a WHERE id IN (1, 6);
DELETE FROM oj.b WHERE w = 300;
DELETE FROM oj.c WHERE label = 'two hundred';
UPDATE oj.a SET k = NULL WHERE id = 2;
UPDATE oj.b SET k = NULL WHERE k = 2;
COMMIT;
SELECT oj.refresh_all();
SELECT * FROM oj.mismatches();
SELECT * FROM ojd.right_agg ORDER BY k, tag;

-- everything goes, then comes back
DELETE FROM oj.a;
DELETE FROM oj.c;
SELECT oj.refresh_all();
SELECT * FROM oj.mismatches();
SELECT * FROM ojd.global;
INSERT INTO oj.a SELECT g, g % 3, g FROM generate_series(1, 12) g;
INSERT INTO oj.b SELECT g % 4, 100 * (g % 3), 't' || g % 2 FROM generate_series(1, 8) g;
INSERT INTO oj.c SELECT 100 * (g % 4), 'l' || g FROM generate_series(1, 6) g;
SELECT oj.refresh_all();
SELECT * FROM oj.mismatches();
SELECT * FROM ojd.chain_agg ORDER BY k;

-- what still falls back, and why
SELECT dataproduct.add_output('ojd.p', 'in_view',
  'SELECT x.id FROM (SELECT a.id FROM oj.a LEFT JOIN oj.b ON b.k = a.k) x');
SELECT dataproduct.add_output('ojd.p', 'aliased',
  'SELECT j.id FROM (oj.a LEFT JOIN oj.b ON b.k = a.k) AS j');
SELECT dataproduct.add_output('ojd.p', 'lateral_fn',
  'SELECT a.id, s.i FROM oj.a LEFT JOIN LATERAL generate_series(1, a.k) s(i) ON true');
SELECT dataproduct.add_output('ojd.p', 'function_side',
  'SELECT a.id, s.i FROM oj.a LEFT JOIN generate_series(1, 3) s(i) ON s.i = a.k');
SELECT name, mode, mode_reason FROM dataproduct.outputs
 WHERE product = 'ojd.p' AND mode = 'full' ORDER BY name;
SELECT dataproduct.add_output('ojd.p', 'in_view_inc',
  'SELECT x.id FROM (SELECT a.id FROM oj.a LEFT JOIN oj.b ON b.k = a.k) x', refresh => 'incremental');

SELECT dataproduct.drop_domain('ojd', cascade => true);
DROP SCHEMA oj CASCADE;
DROP EXTENSION pg_dataproduct;
