--
-- Exactness: what incremental maintenance accepts, and what it does when it
-- cannot be exact -- functions whose results depend on more than their
-- arguments, keys that compare equal but differ, row locks, temporary
-- objects, sources that change after declaration -- and clear errors for
-- odd but valid input.
--
CREATE EXTENSION pg_dataproduct;
\set VERBOSITY default
CREATE SCHEMA ex_sor;
CREATE TABLE ex_sor.events (id int PRIMARY KEY, at timestamptz, amount numeric(10,2),
                            label text, price money, payload bytea, note text, hm text);
INSERT INTO ex_sor.events VALUES
  (1, '2026-03-01 10:00+00', 1.50, 'a', 2, '\x01', '2026-03-01', '10:00'),
  (2, '2026-03-02 23:30+00', 2.25, 'b', 3, '\x02', '2026-03-02', '23:30');
SELECT dataproduct.create_domain('ex');
SELECT dataproduct.create_product('ex.p');

--
-- 1. Stable functions: only those whose result depends on their arguments
--    and the settings every refresh pins (TimeZone, DateStyle,
--    IntervalStyle) are maintained incrementally.
--
SELECT dataproduct.add_output('ex.p', 's1', 'SELECT id, current_setting(''work_mem'') AS v FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 's2', 'SELECT id, pg_backend_pid() AS v FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 's3', 'SELECT id, inet_client_addr() AS v FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 's4', 'SELECT id, txid_current() AS v FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 's5', 'SELECT id, session_user AS v FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 's6', 'SELECT id, current_user AS v FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 's7', 'SELECT id, current_schema AS v FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 's8', 'SELECT id, localtimestamp AS v FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 's9', 'SELECT id, age(at) AS v FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 's10', 'SELECT id, at > now() - interval ''1 day'' AS v FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 's11', 'SELECT id, greatest(at, statement_timestamp()) AS v FROM ex_sor.events');
-- formats that read lc_time, lc_numeric or lc_monetary, or are not constants
SELECT dataproduct.add_output('ex.p', 's12', 'SELECT id, to_char(at, ''TMMonth'') AS v FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 's13', 'SELECT id, to_char(amount, ''L999D99'') AS v FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 's14', 'SELECT id, to_char(at, label) AS v FROM ex_sor.events');
-- casts and formatting through text forms that depend on the session
SELECT dataproduct.add_output('ex.p', 's15', 'SELECT id, price::text AS v FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 's16', 'SELECT id, label || price AS v FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 's17', 'SELECT id, jsonb_build_object(''p'', price) AS v FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 's18', 'SELECT id, to_regclass(label) AS v FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 's19', 'SELECT id, hm::timetz AS v FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 's20', 'SELECT id, to_tsvector(label) AS v FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 's21', 'SELECT id, xmlelement(name p, payload)::text AS v FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 's22', 'SELECT id, has_table_privilege(''ex_sor.events'', ''SELECT'') AS v FROM ex_sor.events');
SELECT name, mode, mode_reason FROM dataproduct.outputs
 WHERE name ~ '^s[0-9]+$' ORDER BY substr(name, 2)::int;
-- insisting on incremental maintenance is an error with a hint
SELECT dataproduct.add_output('ex.p', 'insist', 'SELECT id, current_user AS v FROM ex_sor.events',
                              refresh => 'incremental');
-- what depends only on the arguments and the pinned settings is maintained
SELECT dataproduct.add_output('ex.p', 'stable_ok',
       $$SELECT id, date_trunc('day', at) AS day, extract(hour FROM at) AS h,
                to_char(at, 'YYYY-MM-DD HH24:MI') AS stamp, to_char(amount, 'FM999.00') AS amt,
                age(at, '2026-01-01') AS since, at::date AS d, at::text AS t, note::date AS nd,
                concat(id, '/', at) AS c, label || at AS la, format('%s:%s', id, amount) AS f,
                to_jsonb(at) AS j, at + interval '1 month' AS next,
                row_to_json(row(id, at))::text AS r, xmlelement(name e, at)::text AS x
           FROM ex_sor.events$$, refresh => 'incremental');
SELECT dataproduct.add_output('ex.p', 'stable_agg',
       $$SELECT date_trunc('month', at) AS month, count(*) AS n,
                jsonb_agg(amount ORDER BY id) AS amounts
           FROM ex_sor.events GROUP BY 1$$, refresh => 'incremental');
SELECT dataproduct.refresh('ex.stable_ok'), dataproduct.refresh('ex.stable_agg');
-- evaluated under the settings they were declared with, whoever refreshes
SET TimeZone = 'Asia/Tokyo';
SET DateStyle = 'German';
INSERT INTO ex_sor.events VALUES (3, '2026-03-03 23:30+00', 3.00, 'c', 4, '\x03', '2026-03-03', '23:30');
SELECT dataproduct.refresh('ex.stable_ok'), dataproduct.refresh('ex.stable_agg');
RESET TimeZone;
RESET DateStyle;
SELECT id, day, h, stamp, amt, since, d, t, nd, c, la, f, j, next, r, x
  FROM ex.stable_ok ORDER BY id;
SELECT * FROM ex.stable_agg;
-- the same as the query evaluated now, under those settings
SELECT query_view AS stable_ok_query FROM dataproduct.output WHERE name = 'stable_ok' \gset
SELECT (SELECT count(*) FROM (SELECT * FROM ex.stable_ok EXCEPT ALL
                              SELECT * FROM :stable_ok_query) d) AS stale_rows,
       (SELECT count(*) FROM (SELECT * FROM :stable_ok_query EXCEPT ALL
                              SELECT * FROM ex.stable_ok) d) AS missing_rows;
-- a full refresh recomputes everything, so anything goes there: the query
-- runs as the product owner
SELECT dataproduct.add_output('ex.p', 'who', 'SELECT DISTINCT current_user = (SELECT rolname FROM pg_roles WHERE oid = p.owner) AS as_owner FROM ex_sor.events, dataproduct.product p WHERE p.name = ''p''',
                              refresh => 'full');
SELECT * FROM ex.who;

--
-- 2. Keys that compare equal but differ: the store keeps what the query
--    returns.
--
CREATE COLLATION ex_sor.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TYPE ex_sor.pair AS (x numeric, f float8);
CREATE TABLE ex_sor.words (id int PRIMARY KEY, w text COLLATE ex_sor.ci, x numeric, f float8,
                           i interval, j jsonb, r numrange, p ex_sor.pair, xs int[]);
INSERT INTO ex_sor.words VALUES (1, 'B', 1.0, 0, '1 day', '{"v": 1.0}', '[1.0,2)', '(1.0,0)', '{1}'),
                                (2, 'c', 2, 1, '1 hour', '{}', '[2,3)', '(2,1)', '{2}');
-- plain rows: maintained, each value kept as it is
SELECT dataproduct.add_output('ex.p', 'rows_ci', 'SELECT w, x, f, i, j, r FROM ex_sor.words',
                              refresh => 'incremental');
-- a column that depends on a grouped primary key: the same
SELECT dataproduct.add_output('ex.p', 'by_id', 'SELECT id, w, count(*) AS n FROM ex_sor.words GROUP BY id',
                              refresh => 'incremental');
-- group keys and DISTINCT columns of such types are refreshed in full
SELECT dataproduct.add_output('ex.p', 'group_ci', 'SELECT w, count(*) AS n FROM ex_sor.words GROUP BY w');
SELECT dataproduct.add_output('ex.p', 'distinct_ci', 'SELECT DISTINCT w FROM ex_sor.words');
SELECT dataproduct.add_output('ex.p', 'group_num', 'SELECT x, count(*) AS n FROM ex_sor.words GROUP BY x');
SELECT dataproduct.add_output('ex.p', 'group_interval', 'SELECT i, count(*) AS n FROM ex_sor.words GROUP BY i');
-- ... as are plain rows of a type without an exact form the same in every
-- session (a float's text follows extra_float_digits), and arrays
SELECT dataproduct.add_output('ex.p', 'rows_pair', 'SELECT id, p FROM ex_sor.words');
SELECT dataproduct.add_output('ex.p', 'rows_array', 'SELECT id, xs FROM ex_sor.words');
SELECT dataproduct.add_output('ex.p', 'group_ci_insist', 'SELECT w, count(*) AS n FROM ex_sor.words GROUP BY w',
                              refresh => 'incremental');
SELECT name, mode, mode_reason FROM dataproduct.outputs
 WHERE name IN ('rows_ci', 'by_id', 'group_ci', 'distinct_ci', 'group_num', 'group_interval',
                'rows_pair', 'rows_array')
 ORDER BY name;
SELECT dataproduct.refresh('ex.rows_ci'), dataproduct.refresh('ex.by_id');
UPDATE ex_sor.words SET w = 'b', x = 1.00, f = '-0', i = '24 hours', j = '{"v": 1.00}', r = '[1.00,2)'
 WHERE id = 1;
SELECT dataproduct.refresh('ex.rows_ci'), dataproduct.refresh('ex.by_id'),
       dataproduct.refresh('ex.group_ci'), dataproduct.refresh('ex.distinct_ci');
SELECT * FROM ex.rows_ci ORDER BY w COLLATE "C";
SELECT * FROM ex.by_id ORDER BY id;
SELECT * FROM ex.group_ci ORDER BY w COLLATE "C";
SELECT * FROM ex.distinct_ci ORDER BY w COLLATE "C";
-- a NaN whose sign changes (its text stays 'NaN'; binary clients see it) is
-- a new value in every mode, counted alike
SELECT dataproduct.add_output('ex.p', 'rows_full', 'SELECT w, x, f, i, j, r FROM ex_sor.words',
                              refresh => 'full');
UPDATE ex_sor.words SET f = 'NaN' WHERE id = 2;
SELECT dataproduct.refresh('ex.rows_ci') AS incremental, dataproduct.refresh('ex.rows_full') AS full;
UPDATE ex_sor.words SET f = -f WHERE id = 2;
SELECT dataproduct.refresh('ex.rows_ci') AS incremental, dataproduct.refresh('ex.rows_full') AS full;
SELECT (SELECT array_agg(float8send(f) ORDER BY float8send(f)) FROM ex.rows_ci) =
       (SELECT array_agg(float8send(f) ORDER BY float8send(f)) FROM ex_sor.words) AS incremental_exact,
       (SELECT array_agg(float8send(f) ORDER BY float8send(f)) FROM ex.rows_full) =
       (SELECT array_agg(float8send(f) ORDER BY float8send(f)) FROM ex_sor.words) AS full_exact;

--
-- 3. Row locks: never, at any level, in any mode.
--
CREATE VIEW ex_sor.locking AS SELECT id, label FROM ex_sor.events FOR SHARE;
CREATE VIEW ex_sor.on_locking AS SELECT id FROM ex_sor.locking;
CREATE VIEW ex_sor.plain AS SELECT id, label FROM ex_sor.events;
SELECT dataproduct.add_output('ex.p', 'x', 'SELECT * FROM (SELECT id FROM ex_sor.events FOR UPDATE) s');
SELECT dataproduct.add_output('ex.p', 'x', 'SELECT id FROM ex_sor.events WHERE id IN (SELECT id FROM ex_sor.events FOR KEY SHARE)');
SELECT dataproduct.add_output('ex.p', 'x', 'WITH w AS (SELECT id FROM ex_sor.events FOR NO KEY UPDATE) SELECT id FROM w',
                              refresh => 'full');
SELECT dataproduct.add_output('ex.p', 'x', 'SELECT id FROM ex_sor.on_locking', refresh => 'full');
-- a view redefined to lock rows stops the refreshes
SELECT dataproduct.add_output('ex.p', 'via_plain', 'SELECT id, label FROM ex_sor.plain', refresh => 'full');
CREATE OR REPLACE VIEW ex_sor.plain AS SELECT id, label FROM ex_sor.events FOR UPDATE;
SELECT dataproduct.refresh('ex.via_plain');
CREATE OR REPLACE VIEW ex_sor.plain AS SELECT id, label FROM ex_sor.events;
SELECT dataproduct.refresh('ex.via_plain');

--
-- 4. Temporary objects go at the end of the session: refused, wherever the
--    query uses them.
--
CREATE FUNCTION pg_temp.twice(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 2 * $1';
CREATE TYPE pg_temp.mood AS ENUM ('ok', 'bad');
CREATE FUNCTION pg_temp.same(int, int) RETURNS bool LANGUAGE sql IMMUTABLE AS 'SELECT $1 = $2';
CREATE OPERATOR pg_temp.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = pg_temp.same);
CREATE COLLATION pg_temp.tc (locale = 'C');
CREATE VIEW ex_sor.uses_temp AS SELECT id, pg_temp.twice(id) AS d FROM ex_sor.events;
SELECT dataproduct.add_output('ex.p', 'x', 'SELECT id, pg_temp.twice(id) AS d FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 'x', 'SELECT id, ''ok''::pg_temp.mood AS m FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 'x', 'SELECT id FROM ex_sor.events WHERE id OPERATOR(pg_temp.===) 1');
SELECT dataproduct.add_output('ex.p', 'x', 'SELECT label COLLATE pg_temp.tc AS l FROM ex_sor.events', refresh => 'full');
SELECT dataproduct.add_output('ex.p', 'x', 'SELECT id, d FROM ex_sor.uses_temp');
DROP VIEW ex_sor.uses_temp;

--
-- 5. Sources that change after declaration: the output switches to full
--    refresh, once, with a notice, and never fails forever.
--
CREATE TABLE ex_sor.t (id int PRIMARY KEY, k text, v text);
CREATE TABLE ex_sor.t2 (id int PRIMARY KEY, k text);
INSERT INTO ex_sor.t VALUES (1, 'a', '10'), (2, 'b', '20');
INSERT INTO ex_sor.t2 VALUES (3, 'c');
CREATE VIEW ex_sor.tv AS SELECT id, k FROM ex_sor.t;
CREATE FUNCTION ex_sor.show(ex_sor.t) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT $1::text';
SELECT dataproduct.create_product('ex.later');
SELECT dataproduct.add_output('ex.later', 'by_k', 'SELECT k, count(*) AS n FROM ex_sor.t GROUP BY k');
SELECT dataproduct.add_output('ex.later', 'rows', 'SELECT id, k FROM ex_sor.t');
SELECT dataproduct.add_output('ex.later', 'whole', 'SELECT id, ex_sor.show(t) AS r FROM ex_sor.t');
SELECT dataproduct.add_output('ex.later', 'via_view', 'SELECT k, count(*) AS n FROM ex_sor.tv GROUP BY k');
SELECT dataproduct.add_output('ex.later', 'on_output', 'SELECT k, sum(n) AS n FROM ex.via_view GROUP BY k');
SELECT dataproduct.refresh('ex.by_k'), dataproduct.refresh('ex.rows'), dataproduct.refresh('ex.whole'),
       dataproduct.refresh('ex.via_view');
SELECT dataproduct.refresh('ex.on_output');
GRANT SELECT ON ex.by_k TO PUBLIC;
COMMENT ON COLUMN ex.by_k.n IS 'rows per k';
-- row level security
ALTER TABLE ex_sor.t ENABLE ROW LEVEL SECURITY;
SELECT dataproduct.refresh('ex.by_k');
ALTER TABLE ex_sor.t DISABLE ROW LEVEL SECURITY;
-- the view kept its grants and comments, and shows the query's rows
SELECT * FROM ex.by_k ORDER BY k;
SELECT has_table_privilege('public', 'ex.by_k', 'SELECT') AS granted,
       col_description('ex.by_k'::regclass, 2) AS comment;
-- a column retyped, read through a whole-row reference: writers go on
ALTER TABLE ex_sor.t ALTER COLUMN v TYPE int USING v::int;
INSERT INTO ex_sor.t VALUES (4, 'd', 40);
SELECT dataproduct.refresh('ex.whole');
SELECT * FROM ex.whole ORDER BY id;
-- inheritance children
CREATE TABLE ex_sor.t_child () INHERITS (ex_sor.t);
INSERT INTO ex_sor.t_child VALUES (9, 'z', 90);
SELECT dataproduct.refresh('ex.rows');
SELECT * FROM ex.rows ORDER BY id;
-- a view redefined to read another table; the output built on it switches
-- too, keeping its rows until its own next refresh
CREATE OR REPLACE VIEW ex_sor.tv AS SELECT id, k FROM ex_sor.t2;
SELECT dataproduct.refresh('ex.via_view');
SELECT * FROM ex.on_output ORDER BY k;
SELECT dataproduct.refresh('ex.on_output');
SELECT * FROM ex.on_output ORDER BY k;
-- a second refresh is an ordinary full one
SELECT dataproduct.refresh('ex.via_view');
SELECT name, mode, mode_reason, last_refresh_kind FROM dataproduct.outputs
 WHERE product = 'ex.later' ORDER BY name;
-- capture is released from the sources no incremental output reads
SELECT relation FROM dataproduct.source ORDER BY relation::text;
SELECT tgrelid::regclass, tgname FROM pg_trigger WHERE tgname LIKE '\_\_dp%' ORDER BY 1, 2;

--
-- 6. Odd but valid input gets clear errors.
--
SELECT dataproduct.create_product('ex.late', max_staleness => '-5 minutes');
SELECT dataproduct.create_product('ex.late', max_staleness => '1 month -40 days');
SELECT dataproduct.alter_product('ex.p', max_staleness => '1 day -25 hours');
SELECT dataproduct.alter_product('ex.p', max_staleness => '1 month -30 days');
SELECT dataproduct.add_check('ex.rows_ci', 'freshness', max_staleness => '-1 hour');
SELECT dataproduct.add_output('ex.p', 'x', 'SELECT 1 AS one', min_interval => '1 month -40 days');
SELECT dataproduct.alter_output('ex.rows_ci', schedule => '-1 second');
SELECT dataproduct.alter_output('ex.rows_ci', min_interval => '1 day -1 hour');
SELECT min_interval FROM dataproduct.outputs WHERE name = 'rows_ci';
SELECT dataproduct.add_output('ex.p', 'x', 'SELECT xmin, id FROM ex_sor.events');
SELECT dataproduct.add_output('ex.p', 'x', 'SELECT id AS ctid FROM ex_sor.events');
SELECT dataproduct_internal.assert_populated(0);
SELECT dataproduct_internal.assert_populated('pg_class');
-- reasons read as the end of "its query ..."
CREATE TABLE ex_sor.shapes (id int, b box, doc json);
SELECT dataproduct.add_output('ex.p', 'r1', 'SELECT id, b FROM ex_sor.shapes');
SELECT dataproduct.add_output('ex.p', 'r2', 'SELECT id, doc FROM ex_sor.shapes');
SELECT dataproduct.add_output('ex.p', 'r3', 'SELECT xmin::text AS x FROM ex_sor.shapes');
SELECT dataproduct.add_output('ex.p', 'r4', 'SELECT id FROM ex_sor.shapes', refresh => 'full');
ALTER TABLE ex_sor.shapes ENABLE ROW LEVEL SECURITY;
SELECT dataproduct.add_output('ex.p', 'r5', 'SELECT id FROM ex_sor.shapes', refresh => 'incremental');

--
-- 7. Wide and long keys: never an output that fails forever on ordinary data.
--
-- more key columns than an index can hold: refreshed in full, with the reason
SELECT dataproduct.add_output('ex.p', 'wide', 'SELECT ' ||
       (SELECT string_agg(format('%s AS c%s', i, i), ', ') FROM generate_series(1, 33) i) ||
       ' FROM ex_sor.events');
SELECT mode, mode_reason FROM dataproduct.outputs WHERE name = 'wide';
-- a key value too large for the store's index switches the output to full
CREATE TABLE ex_sor.notes (id int PRIMARY KEY, body text);
INSERT INTO ex_sor.notes VALUES (1, 'short');
SELECT dataproduct.add_output('ex.p', 'by_body', 'SELECT body, count(*) AS n FROM ex_sor.notes GROUP BY body',
       refresh => 'incremental');
SELECT dataproduct.refresh('ex.by_body');
INSERT INTO ex_sor.notes SELECT 2, string_agg(md5(i::text), '') FROM generate_series(1, 300) i;
SELECT dataproduct.refresh('ex.by_body');
SELECT mode, mode_reason LIKE 'its query groups by a value too large for its store''s index%' AS too_large
  FROM dataproduct.outputs WHERE name = 'by_body';
SELECT length(body), n FROM ex.by_body ORDER BY 1;
-- and it stays exact
DELETE FROM ex_sor.notes WHERE id = 1;
SELECT dataproduct.refresh('ex.by_body');
SELECT length(body), n FROM ex.by_body ORDER BY 1;

--
-- 8. Captured columns of domain types: logs keep the base type, the delta
-- casts back (as the owner), and the output stays exact.
--
CREATE DOMAIN ex_sor.amount AS int CHECK (VALUE > 0);
CREATE TABLE ex_sor.pay (id int PRIMARY KEY, g ex_sor.amount, v ex_sor.amount);
INSERT INTO ex_sor.pay VALUES (1, 1, 5), (2, 2, 6);
SELECT dataproduct.add_output('ex.p', 'pay_by_g', 'SELECT g, sum(v) AS s, count(*) AS n FROM ex_sor.pay GROUP BY g',
       refresh => 'incremental');
SELECT dataproduct.refresh('ex.pay_by_g');
SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
  JOIN dataproduct.source s ON a.attrelid = s.log
 WHERE s.relation = 'ex_sor.pay'::regclass AND a.attname IN ('g', 'v') ORDER BY a.attname;
INSERT INTO ex_sor.pay VALUES (3, 1, 7);
UPDATE ex_sor.pay SET v = 9 WHERE id = 2;
TRUNCATE ex_sor.pay;
INSERT INTO ex_sor.pay VALUES (4, 3, 1);
SELECT dataproduct.refresh('ex.pay_by_g');
SELECT * FROM ex.pay_by_g ORDER BY g;
INSERT INTO ex_sor.pay VALUES (5, 3, 2), (6, 4, 4);
UPDATE ex_sor.pay SET v = 8 WHERE id = 4;
SELECT dataproduct.refresh('ex.pay_by_g');
SELECT last_refresh_kind FROM dataproduct.outputs WHERE name = 'pay_by_g';
SELECT * FROM ex.pay_by_g ORDER BY g;

--
-- 9. An UPDATE of columns an output does not read cancels out in its
-- batch: the group is not touched (its max is not recomputed, so the
-- source is not scanned), and the output stays exact.  Images cancel only
-- when identical: 1.0 -> 1.00 and 0 -> -0 in a read column are changes.
--
CREATE TABLE ex_sor.reading (id int PRIMARY KEY, k int, v numeric, f float8, note text);
INSERT INTO ex_sor.reading VALUES (1, 1, 1.0, 0, 'a'), (2, 1, 0.5, 1, 'b'), (3, 2, 2, 2, 'c');
SELECT dataproduct.add_output('ex.p', 'reading_max',
       'SELECT k, max(v) AS top, max(f) AS ftop, min(f) AS fmin, count(*) AS n FROM ex_sor.reading GROUP BY k',
       refresh => 'incremental');
SELECT dataproduct.refresh('ex.reading_max');
UPDATE ex_sor.reading SET note = note || '!';
-- (the transaction's scan counts, before and after: no flush in between)
BEGIN;
SELECT pg_stat_get_xact_numscans('ex_sor.reading'::regclass) AS scans_before \gset
SELECT dataproduct.refresh('ex.reading_max') AS rows_changed;
SELECT pg_stat_get_xact_numscans('ex_sor.reading'::regclass) - :scans_before AS source_scans;
COMMIT;
-- a max that loses its row is recomputed from the source
UPDATE ex_sor.reading SET v = 1.00, note = 'x' WHERE id = 1;
UPDATE ex_sor.reading SET f = '-0' WHERE id = 1;
UPDATE ex_sor.reading SET v = 1 WHERE id = 3;
BEGIN;
SELECT pg_stat_get_xact_numscans('ex_sor.reading'::regclass) AS scans_before \gset
SELECT dataproduct.refresh('ex.reading_max') AS rows_changed;
SELECT pg_stat_get_xact_numscans('ex_sor.reading'::regclass) - :scans_before > 0 AS source_scanned;
COMMIT;
SELECT k, top, ftop, fmin::text, n FROM ex.reading_max ORDER BY k;
SELECT count(*) AS mismatches FROM
  ((SELECT * FROM ex.reading_max EXCEPT ALL
    SELECT k, max(v), max(f), min(f), count(*) FROM ex_sor.reading GROUP BY k)
   UNION ALL
   (SELECT k, max(v), max(f), min(f), count(*) FROM ex_sor.reading GROUP BY k
    EXCEPT ALL SELECT * FROM ex.reading_max)) d;

SELECT dataproduct.drop_domain('ex', cascade => true);
DROP SCHEMA ex_sor CASCADE;

-- the extension goes cleanly once nothing is declared
DROP EXTENSION pg_dataproduct;
