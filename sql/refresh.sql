--
-- Full refresh: the store becomes exactly the query result, by a multiset
-- difference that reports how many rows really changed.  (Incremental
-- maintenance is tested in incremental.sql and test/t/003_differential.pl.)
--
CREATE EXTENSION pg_dataproduct;
CREATE SCHEMA rf_sor;
CREATE TABLE rf_sor.items (id int PRIMARY KEY, grp text, qty int, price numeric, doc json);
INSERT INTO rf_sor.items VALUES
  (1, 'a', 1, 1.0, '{"k": 1}'), (2, 'a', 1, 2.5, '{"k": 2}'),
  (3, 'b', 2, NULL, NULL), (4, NULL, 3, 4, '[]'), (5, 'b', 2, 7, '{}');
SELECT dataproduct.create_domain('rf');
SELECT dataproduct.create_product('rf.p');

-- an aggregate output, a projection with duplicate rows, and columns of types
-- whose equality is not identity (numeric) or that have none (json)
SELECT dataproduct.add_output('rf.p', 'per_group',
       'SELECT grp, count(*) AS n, sum(qty) AS qty, sum(price) AS value FROM rf_sor.items GROUP BY grp',
       refresh => 'full');
SELECT dataproduct.add_output('rf.p', 'qty_grp',
       'SELECT grp, qty FROM rf_sor.items', refresh => 'full');
SELECT dataproduct.add_output('rf.p', 'docs',
       'SELECT id, price, doc FROM rf_sor.items', refresh => 'full');

-- the store equals the query (EXCEPT ALL both ways), the counts agree
CREATE FUNCTION rf_sor.check_equal() RETURNS TABLE (output text, missing bigint, extra bigint, rows bigint)
LANGUAGE sql AS $$
  SELECT 'per_group',
         (SELECT count(*) FROM (SELECT grp, count(*), sum(qty), sum(price) FROM rf_sor.items GROUP BY grp
                                EXCEPT ALL SELECT * FROM rf.per_group) x),
         (SELECT count(*) FROM (SELECT * FROM rf.per_group EXCEPT ALL
                                SELECT grp, count(*), sum(qty), sum(price) FROM rf_sor.items GROUP BY grp) x),
         (SELECT count(*) FROM rf.per_group)
  UNION ALL
  SELECT 'qty_grp',
         (SELECT count(*) FROM (SELECT grp, qty FROM rf_sor.items EXCEPT ALL SELECT * FROM rf.qty_grp) x),
         (SELECT count(*) FROM (SELECT * FROM rf.qty_grp EXCEPT ALL SELECT grp, qty FROM rf_sor.items) x),
         (SELECT count(*) FROM rf.qty_grp)
  UNION ALL
  SELECT 'docs',
         (SELECT count(*) FROM (SELECT id, price::text, doc::text FROM rf_sor.items
                                EXCEPT ALL SELECT id, price::text, doc::text FROM rf.docs) x),
         (SELECT count(*) FROM (SELECT id, price::text, doc::text FROM rf.docs
                                EXCEPT ALL SELECT id, price::text, doc::text FROM rf_sor.items) x),
         (SELECT count(*) FROM rf.docs)
$$;
SELECT * FROM rf_sor.check_equal();
SELECT name, rows_changed, row_count FROM dataproduct.outputs WHERE product = 'rf.p' ORDER BY name;

-- nothing changed: nothing to do
SELECT dataproduct.refresh('rf.per_group'), dataproduct.refresh('rf.qty_grp'), dataproduct.refresh('rf.docs');

-- one insert: one new group row, one new projection row
INSERT INTO rf_sor.items VALUES (6, 'c', 1, 1, '{}');
SELECT dataproduct.refresh('rf.per_group'), dataproduct.refresh('rf.qty_grp'), dataproduct.refresh('rf.docs');

-- duplicates: ('b', 2) appears twice; removing one copy changes one row
DELETE FROM rf_sor.items WHERE id = 3;
SELECT dataproduct.refresh('rf.qty_grp');
SELECT grp, qty, count(*) FROM rf.qty_grp GROUP BY 1, 2 ORDER BY 1 NULLS FIRST, 2;
INSERT INTO rf_sor.items VALUES (7, 'b', 2, 0, NULL), (8, 'b', 2, 0, NULL);
SELECT dataproduct.refresh('rf.qty_grp');
SELECT grp, qty, count(*) FROM rf.qty_grp GROUP BY 1, 2 ORDER BY 1 NULLS FIRST, 2;

-- an update of an aggregated value replaces one group row (delete + insert)
UPDATE rf_sor.items SET qty = qty + 10 WHERE id = 1;
SELECT dataproduct.refresh('rf.per_group');

-- changes that equality would miss are applied: 1.0 -> 1.00, json text
UPDATE rf_sor.items SET price = 1.00 WHERE id = 1;
UPDATE rf_sor.items SET doc = '{"k":1}' WHERE id = 1;
SELECT dataproduct.refresh('rf.docs');
SELECT price, doc FROM rf.docs WHERE id = 1;

-- NULL group keys are groups like any other
UPDATE rf_sor.items SET grp = NULL WHERE id = 2;
SELECT dataproduct.refresh('rf.per_group');
SELECT * FROM rf.per_group ORDER BY grp NULLS FIRST;

-- emptying the source empties the output
DELETE FROM rf_sor.items;
SELECT dataproduct.refresh('rf.per_group'), dataproduct.refresh('rf.qty_grp'), dataproduct.refresh('rf.docs');
SELECT * FROM rf_sor.check_equal();

-- a bulk load, and a refresh in the same transaction as the writes sees them
BEGIN;
INSERT INTO rf_sor.items SELECT g, 'g' || (g % 7), g % 5, g / 3.0, NULL FROM generate_series(1, 5000) g;
SELECT dataproduct.refresh('rf.per_group'), dataproduct.refresh('rf.qty_grp'), dataproduct.refresh('rf.docs');
COMMIT;
SELECT * FROM rf_sor.check_equal();
UPDATE rf_sor.items SET qty = qty + 1 WHERE id % 10 = 0;
SELECT dataproduct.refresh('rf.per_group'), dataproduct.refresh('rf.qty_grp'), dataproduct.refresh('rf.docs');
SELECT * FROM rf_sor.check_equal();

-- a refresh rolled back leaves the previous rows and catalog state
SELECT row_count AS before FROM dataproduct.outputs WHERE name = 'docs' \gset
BEGIN;
DELETE FROM rf_sor.items WHERE id > 100;
SELECT dataproduct.refresh('rf.docs');
ROLLBACK;
SELECT count(*) = :before AS unchanged FROM rf.docs;
SELECT row_count = :before AS unchanged FROM dataproduct.outputs WHERE name = 'docs';

-- outputs on outputs refresh in order: upstream first
SELECT dataproduct.add_output('rf.p', 'big_groups',
       'SELECT grp FROM rf.per_group WHERE n > 700', refresh => 'full');
SELECT count(*) FROM rf.big_groups;
DELETE FROM rf_sor.items WHERE grp = 'g1';
SELECT dataproduct.refresh('rf.big_groups');
SELECT dataproduct.refresh('rf.per_group');
SELECT dataproduct.refresh('rf.big_groups');
SELECT count(*) FROM rf.big_groups;

-- what a refresh returns: the output's rows deleted plus its rows inserted
-- (an updated group is one of each, an unchanged one nothing), the same
-- whether the output is maintained incrementally or refreshed in full
-- (batches are applied, never recomputed for their size)
SET dataproduct.full_refresh_fraction = -1;
CREATE TABLE rf_sor.sales (id int PRIMARY KEY, shop text, amount int);
INSERT INTO rf_sor.sales SELECT g, 's' || (g % 3), g FROM generate_series(1, 9) g;
SELECT dataproduct.add_output('rf.p', 'c_' || kind || '_' || mode, query, refresh => mode)
  FROM (VALUES ('agg', 'SELECT shop, count(*) AS n, sum(amount) AS total FROM rf_sor.sales GROUP BY shop'),
               ('rows', 'SELECT shop, amount FROM rf_sor.sales'),
               ('top', 'SELECT shop, max(amount) AS top, min(amount) AS low FROM rf_sor.sales GROUP BY shop'),
               ('shops', 'SELECT DISTINCT shop FROM rf_sor.sales'),
               ('big', 'SELECT shop, avg(amount) AS mean FROM rf_sor.sales GROUP BY shop HAVING count(*) > 3'),
               ('all', 'SELECT count(*) AS n, sum(amount) AS total FROM rf_sor.sales'))
         AS q(kind, query),
       (VALUES ('incremental'), ('full')) AS m(mode)
 ORDER BY kind, mode;
SELECT count(dataproduct.refresh(output)) FROM dataproduct.outputs
 WHERE name LIKE 'c\_%\_incremental';
\set counts 'SELECT kind, dataproduct.refresh((''rf.c_'' || kind || ''_incremental'')::regclass) AS incremental, dataproduct.refresh((''rf.c_'' || kind || ''_full'')::regclass) AS "full" FROM unnest(''{agg,rows,top,shops,big,all}''::text[]) WITH ORDINALITY k(kind, n) ORDER BY n'
-- a row into an existing group, neither its min nor its max
INSERT INTO rf_sor.sales VALUES (10, 's1', 5);
:counts;
-- a row updated within its group, still neither min nor max
UPDATE rf_sor.sales SET amount = 6 WHERE id = 10;
:counts;
-- a row moved to another group
UPDATE rf_sor.sales SET shop = 's2' WHERE id = 10;
:counts;
-- a row deleted
DELETE FROM rf_sor.sales WHERE id = 10;
:counts;
-- a group's max raised, then its max row deleted
UPDATE rf_sor.sales SET amount = 90 WHERE id = 9;
:counts;
DELETE FROM rf_sor.sales WHERE id = 9;
:counts;
-- a row into a new group, then that group's only row deleted
INSERT INTO rf_sor.sales VALUES (11, 's9', 1);
:counts;
DELETE FROM rf_sor.sales WHERE id = 11;
:counts;
-- a duplicate row, and one inserted and deleted again between two refreshes
INSERT INTO rf_sor.sales VALUES (12, 's0', 3);
INSERT INTO rf_sor.sales VALUES (13, 's7', 1);
DELETE FROM rf_sor.sales WHERE id = 13;
:counts;
-- nothing changed
:counts;
-- a rebuild (after TRUNCATE) counts the same way
TRUNCATE rf_sor.sales;
INSERT INTO rf_sor.sales SELECT g, 's' || (g % 2), g FROM generate_series(1, 4) g;
:counts;
SELECT kind, last_refresh_kind, rows_changed FROM dataproduct.outputs, LATERAL substring(name FROM 'c_(.*)_incremental') AS kind
 WHERE kind IS NOT NULL ORDER BY kind;
RESET dataproduct.full_refresh_fraction;

-- cumulative statistics: refreshes by kind, rows changed, time; the sums
-- agree with the refreshes recorded
SELECT s.output, s.mode, s.incremental_refreshes, s.rebuilds, s.full_refreshes, s.failed_refreshes,
       s.rows_changed = (SELECT sum(h.rows_changed) FROM dataproduct.refreshes h WHERE h.output = s.output) AS rows_agree,
       s.incremental_refreshes + s.rebuilds + s.full_refreshes
         = (SELECT count(*) FROM dataproduct.refreshes h WHERE h.output = s.output AND h.kind IS NOT NULL) AS counts_agree,
       s.total_ms >= s.last_ms AS time_adds_up
  FROM dataproduct.statistics s ORDER BY s.output::text;

-- a refresh with nothing to apply leaves the change logs alone: no write,
-- no new file, no invalidation for the writers' backends (logs trimmed by
-- DELETE keep their pages until vacuum)
SELECT string_agg(pg_relation_filenode(log)::text || ':' || pg_relation_size(log), ',' ORDER BY source_id) AS logs
  FROM dataproduct.source \gset
SELECT count(*) AS refreshed FROM dataproduct.output o
 WHERE o.mode = 'incremental' AND dataproduct.refresh(o.view) = 0;
SELECT string_agg(pg_relation_filenode(log)::text || ':' || pg_relation_size(log), ',' ORDER BY source_id) = :'logs' AS logs_untouched
  FROM dataproduct.source;

-- a log trimmed by DELETE holds no row that every consumer has applied;
-- from dataproduct.log_truncate_size on, trimming truncates it instead
INSERT INTO rf_sor.sales VALUES (20, 's1', 1), (21, 's2', 2);
SELECT count(*) AS refreshed FROM dataproduct.output o
 WHERE o.mode = 'incremental' AND dataproduct.refresh(o.view) >= 0;
SELECT s.relation, pg_relation_size(s.log) > 0 AS has_pages,
       (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s', s.log), false, true, '')))[1]::text AS rows_left
  FROM dataproduct.source s ORDER BY s.source_id;
SET dataproduct.log_truncate_size = 0;
INSERT INTO rf_sor.sales VALUES (22, 's1', 1);
SELECT count(*) AS refreshed FROM dataproduct.output o
 WHERE o.mode = 'incremental' AND dataproduct.refresh(o.view) >= 0;
SELECT s.relation, pg_relation_size(s.log) AS size
  FROM dataproduct.source s JOIN pg_class c ON c.oid = s.relation
 WHERE c.relname = 'sales';
RESET dataproduct.log_truncate_size;

-- applying or recomputing, from the output's own measurements: batches of
-- several sizes fit a line, a rebuild (not the first load) is timed
CREATE TABLE rf_sor.events (id int PRIMARY KEY, kind text);
SELECT dataproduct.add_output('rf.p', 'by_kind',
       'SELECT kind, count(*) AS n FROM rf_sor.events GROUP BY kind');
SELECT dataproduct.refresh('rf.by_kind');
SELECT apply_ms_per_row IS NULL AS no_fit_yet, rebuild_ms IS NULL AS no_rebuild_timed
  FROM dataproduct.statistics WHERE output = 'rf.by_kind'::regclass;
INSERT INTO rf_sor.events SELECT g, 'k' || g % 2 FROM generate_series(1, 1) g;
SELECT dataproduct.refresh('rf.by_kind');
INSERT INTO rf_sor.events SELECT g, 'k' || g % 2 FROM generate_series(2, 4) g;
SELECT dataproduct.refresh('rf.by_kind');
INSERT INTO rf_sor.events SELECT g, 'k' || g % 2 FROM generate_series(5, 12) g;
SELECT dataproduct.refresh('rf.by_kind');
TRUNCATE rf_sor.events;
INSERT INTO rf_sor.events SELECT g, 'k' || g % 3 FROM generate_series(1, 6) g;
SELECT dataproduct.refresh('rf.by_kind');
SELECT last_refresh_kind FROM dataproduct.outputs WHERE name = 'by_kind';
SELECT apply_fixed_ms >= 0 AS fixed_fitted, apply_ms_per_row >= 0 AS per_row_fitted,
       rebuild_ms > 0 AS rebuild_timed
  FROM dataproduct.statistics WHERE output = 'rf.by_kind'::regclass;
-- a model that predicts batches (of 1,000 rows or more: smaller ones are
-- always applied) to cost far more than a rebuild recomputes them; after
-- four such rebuilds in a row one batch is applied, to measure it again
UPDATE dataproduct.output
   SET apply_samples = 3, apply_sum_rows = 6, apply_sum_ms = 6e6,
       apply_sum_rows2 = 14, apply_sum_rows_ms = 14e6
 WHERE name = 'by_kind';
SELECT round(apply_ms_per_row) AS per_row, round(apply_fixed_ms) AS fixed
  FROM dataproduct.statistics WHERE output = 'rf.by_kind'::regclass;
CREATE TABLE rf_sor.kinds_seen (step int, kind text, streak int);
DO $$
BEGIN
  FOR i IN 1 .. 6 LOOP
    INSERT INTO rf_sor.events SELECT 1000 * i + g, 'k9' FROM generate_series(1, 1000) g;
    COMMIT;
    PERFORM dataproduct.refresh('rf.by_kind');
    INSERT INTO rf_sor.kinds_seen
      SELECT i, o.last_refresh_kind, c.rebuild_streak
        FROM dataproduct.outputs o JOIN dataproduct.output c ON c.view = o.output
       WHERE o.name = 'by_kind';
    COMMIT;
  END LOOP;
END $$;
SELECT * FROM rf_sor.kinds_seen ORDER BY step;
SELECT n FROM rf.by_kind WHERE kind = 'k9';
-- a small batch is applied whatever the model says
INSERT INTO rf_sor.events VALUES (100, 'k9');
SELECT dataproduct.refresh('rf.by_kind');
SELECT last_refresh_kind FROM dataproduct.outputs WHERE name = 'by_kind';
-- with dataproduct.full_refresh_fraction = -1 batches are always applied
SET dataproduct.full_refresh_fraction = -1;
INSERT INTO rf_sor.events SELECT 10000 + g, 'k9' FROM generate_series(1, 1000) g;
SELECT dataproduct.refresh('rf.by_kind');
SELECT last_refresh_kind FROM dataproduct.outputs WHERE name = 'by_kind';
RESET dataproduct.full_refresh_fraction;

SELECT dataproduct.drop_domain('rf', cascade => true);
DROP SCHEMA rf_sor CASCADE;

-- the extension goes cleanly once nothing is declared
DROP EXTENSION pg_dataproduct;
