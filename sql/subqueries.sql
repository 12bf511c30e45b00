--
-- Incremental maintenance of WITH queries, semi- and anti-joins (EXISTS,
-- NOT EXISTS, IN, NOT IN) and UNION ALL; what still falls back, and why.
-- (Exactness over random workloads: test/t/003_differential.pl.)
--
CREATE EXTENSION pg_dataproduct;
SET client_min_messages = warning;
CREATE SCHEMA sq_sor;
CREATE TABLE sq_sor.customers (id int PRIMARY KEY, region text);
CREATE TABLE sq_sor.orders (id int PRIMARY KEY, cust int, amount int);
CREATE TABLE sq_sor.blocked (cust int, why text);
INSERT INTO sq_sor.customers VALUES (1, 'north'), (2, 'south'), (3, NULL), (4, 'north');
INSERT INTO sq_sor.orders VALUES (1, 1, 10), (2, 1, 20), (3, 2, 5), (4, 3, 7), (5, NULL, 1), (6, 4, 2);
INSERT INTO sq_sor.blocked VALUES (2, 'fraud');
SELECT dataproduct.create_domain('sq');
SELECT dataproduct.create_product('sq.p');

-- an output equals its query recomputed (multisets of rows, by text form)
CREATE FUNCTION sq_same(output regclass, query text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((SELECT (q)::text FROM (%s) q EXCEPT ALL SELECT (o)::text FROM %s o)
                  UNION ALL (SELECT (o)::text FROM %s o EXCEPT ALL SELECT (q)::text FROM (%s) q)) d',
                 query, output, output, query) INTO n;
  RETURN n = 0;
END $$;

-- WITH: inlined, each reference a subquery of its own
SELECT dataproduct.add_output('sq.p', 'cte_join',
  $$WITH big AS (SELECT id, cust, amount FROM sq_sor.orders WHERE amount > 3),
         c AS (SELECT id, region FROM sq_sor.customers)
    SELECT c.region, count(*) AS n, sum(big.amount) AS total
      FROM big JOIN c ON c.id = big.cust GROUP BY c.region$$, refresh => 'incremental');
SELECT dataproduct.add_output('sq.p', 'cte_twice',
  $$WITH o AS (SELECT id, cust, amount FROM sq_sor.orders)
    SELECT a.id, b.id AS other FROM o a JOIN o b ON b.cust = a.cust AND b.id > a.id$$,
  refresh => 'incremental');
-- nested: a WITH inside a WITH query, and one referring to an earlier one
SELECT dataproduct.add_output('sq.p', 'cte_nested',
  $$WITH a AS (WITH x AS (SELECT cust, amount FROM sq_sor.orders) SELECT cust, amount FROM x WHERE amount < 20),
         b AS (SELECT cust, amount * 2 AS dbl FROM a)
    SELECT cust, sum(dbl) AS s FROM b GROUP BY cust$$, refresh => 'incremental');
-- what still falls back
SELECT dataproduct.add_output('sq.p', 'cte_recursive',
  $$WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3)
    SELECT o.id FROM sq_sor.orders o JOIN r ON r.n = o.cust$$);
SELECT dataproduct.add_output('sq.p', 'cte_agg',
  $$WITH t AS (SELECT cust, sum(amount) AS s FROM sq_sor.orders GROUP BY cust) SELECT cust, s FROM t$$);
SELECT dataproduct.add_output('sq.p', 'cte_materialized',
  $$WITH t AS MATERIALIZED (SELECT cust FROM sq_sor.orders) SELECT cust FROM t$$);
SELECT dataproduct.add_output('sq.p', 'cte_insist',
  $$WITH t AS (SELECT DISTINCT cust FROM sq_sor.orders) SELECT cust FROM t$$, refresh => 'incremental');

-- semi- and anti-joins: EXISTS, NOT EXISTS, IN, NOT IN, ALL, correlated or not
SELECT dataproduct.add_output('sq.p', 'semi_exists',
  $$SELECT o.id, o.amount FROM sq_sor.orders o
     WHERE EXISTS (SELECT 1 FROM sq_sor.customers c WHERE c.id = o.cust AND c.region = 'north')$$,
  refresh => 'incremental');
SELECT dataproduct.add_output('sq.p', 'anti_agg',
  $$SELECT c.region, count(*) AS n FROM sq_sor.customers c
     WHERE NOT EXISTS (SELECT FROM sq_sor.orders o WHERE o.cust = c.id AND o.amount > 15)
     GROUP BY c.region$$, refresh => 'incremental');
SELECT dataproduct.add_output('sq.p', 'in_join_agg',
  $$SELECT c.region, count(*) AS n, sum(o.amount) AS total
      FROM sq_sor.orders o JOIN sq_sor.customers c ON c.id = o.cust
     WHERE o.cust IN (SELECT b.cust FROM sq_sor.blocked b) AND o.amount > 1
     GROUP BY c.region$$, refresh => 'incremental');
SELECT dataproduct.add_output('sq.p', 'not_in',
  $$SELECT id, cust FROM sq_sor.orders WHERE cust NOT IN (SELECT cust FROM sq_sor.blocked)$$,
  refresh => 'incremental');
SELECT dataproduct.add_output('sq.p', 'not_in_both',
  $$SELECT o.id FROM sq_sor.orders o
     WHERE o.cust NOT IN (SELECT b.cust FROM sq_sor.blocked b WHERE b.why <> 'test')
       AND o.cust IN (SELECT c.id FROM sq_sor.customers c)$$, refresh => 'incremental');
SELECT dataproduct.add_output('sq.p', 'not_in_row',
  $$SELECT o.id FROM sq_sor.orders o
     WHERE (o.cust, o.amount > 5) NOT IN (SELECT b.cust, b.why = 'fraud' FROM sq_sor.blocked b)$$,
  refresh => 'incremental');
SELECT dataproduct.add_output('sq.p', 'uncorrelated',
  $$SELECT id FROM sq_sor.orders WHERE EXISTS (SELECT FROM sq_sor.blocked WHERE why = 'fraud')$$,
  refresh => 'incremental');
SELECT dataproduct.add_output('sq.p', 'all_self',
  $$SELECT o.id FROM sq_sor.orders o
     WHERE o.amount > ALL (SELECT o2.amount FROM sq_sor.orders o2 WHERE o2.cust = o.cust AND o2.id <> o.id)$$,
  refresh => 'incremental');
SELECT dataproduct.add_output('sq.p', 'cte_semi',
  $$WITH n AS (SELECT id FROM sq_sor.customers WHERE region = 'north')
    SELECT count(*) AS orders FROM sq_sor.orders o WHERE o.cust IN (SELECT id FROM n)$$,
  refresh => 'incremental');
-- what still falls back
SELECT dataproduct.add_output('sq.p', 'semi_or',
  $$SELECT id FROM sq_sor.orders o WHERE o.amount > 10 OR EXISTS (SELECT FROM sq_sor.blocked b WHERE b.cust = o.cust)$$);
SELECT dataproduct.add_output('sq.p', 'scalar_select',
  $$SELECT id, (SELECT region FROM sq_sor.customers c WHERE c.id = o.cust) AS r FROM sq_sor.orders o$$);
SELECT dataproduct.add_output('sq.p', 'scalar_where',
  $$SELECT id FROM sq_sor.orders o WHERE amount > (SELECT avg(amount) FROM sq_sor.orders)$$);
SELECT dataproduct.add_output('sq.p', 'semi_agg',
  $$SELECT id FROM sq_sor.orders o WHERE cust IN (SELECT cust FROM sq_sor.orders GROUP BY cust HAVING count(*) > 1)$$);
SELECT dataproduct.add_output('sq.p', 'semi_nested',
  $$SELECT id FROM sq_sor.orders o WHERE EXISTS (SELECT FROM sq_sor.customers c WHERE c.id = o.cust
      AND NOT EXISTS (SELECT FROM sq_sor.blocked b WHERE b.cust = c.id))$$);
SELECT dataproduct.add_output('sq.p', 'semi_on',
  $$SELECT o.id FROM sq_sor.orders o JOIN sq_sor.customers c
      ON c.id = o.cust AND EXISTS (SELECT FROM sq_sor.blocked b WHERE b.cust = c.id)$$);
-- UNION ALL: at the top, and under an aggregate, of joins and semi-joins
SELECT dataproduct.add_output('sq.p', 'union_top',
  $$SELECT id, cust FROM sq_sor.orders WHERE amount > 5
    UNION ALL SELECT id, cust FROM sq_sor.orders WHERE amount <= 5 AND cust IS NOT NULL
    UNION ALL SELECT c.id, c.id FROM sq_sor.customers c ORDER BY 1$$, refresh => 'incremental');
SELECT dataproduct.add_output('sq.p', 'union_agg',
  $$SELECT cust, count(*) AS n, sum(amount) AS s
      FROM (SELECT cust, amount FROM sq_sor.orders UNION ALL SELECT b.cust, 100 FROM sq_sor.blocked b) u
     GROUP BY cust$$, refresh => 'incremental');
SELECT dataproduct.add_output('sq.p', 'union_join',
  $$SELECT c.region, count(*) AS n
      FROM (SELECT o.cust AS id FROM sq_sor.orders o JOIN sq_sor.customers c2 ON c2.id = o.cust
            UNION ALL
            SELECT cust FROM sq_sor.blocked WHERE cust NOT IN (SELECT id FROM sq_sor.customers WHERE region IS NULL)) u
      JOIN sq_sor.customers c ON c.id = u.id
     GROUP BY c.region$$, refresh => 'incremental');
-- UNION at the top of UNIONs: DISTINCT over the UNION ALL
SELECT dataproduct.add_output('sq.p', 'union_distinct',
  $$SELECT cust FROM sq_sor.orders UNION ALL SELECT id FROM sq_sor.customers UNION SELECT cust FROM sq_sor.blocked$$,
  refresh => 'incremental');
SELECT dataproduct.add_output('sq.p', 'union_under_all',
  $$SELECT cust FROM sq_sor.orders UNION ALL (SELECT id FROM sq_sor.customers UNION SELECT cust FROM sq_sor.blocked)$$);
SELECT dataproduct.add_output('sq.p', 'except_all',
  $$SELECT cust FROM sq_sor.orders EXCEPT ALL SELECT cust FROM sq_sor.blocked$$);

SELECT name, mode, mode_reason FROM dataproduct.outputs WHERE product = 'sq.p' ORDER BY name;
SELECT dataproduct.refresh(output) >= 0 AS populated FROM dataproduct.outputs
 WHERE product = 'sq.p' AND mode = 'incremental' ORDER BY name;

-- after each batch, every incremental output was refreshed incrementally
-- and equals its query
\set refresh 'SELECT count(dataproduct.refresh(output)) AS refreshed FROM dataproduct.outputs WHERE product = ''sq.p'' AND mode = ''incremental'';'
\set check 'SELECT name, last_refresh_kind, sq_same(output, definition) AS same FROM dataproduct.outputs WHERE product = ''sq.p'' AND mode = ''incremental'' ORDER BY name;'

-- several tables at once: a NULL joins the NOT IN list, customers move
BEGIN;
INSERT INTO sq_sor.orders VALUES (7, 4, 30), (8, 2, 4);
UPDATE sq_sor.customers SET region = 'east' WHERE id = 1;
DELETE FROM sq_sor.orders WHERE id = 2;
INSERT INTO sq_sor.blocked VALUES (NULL, 'unknown'), (4, 'test');
COMMIT;
:refresh
:check
SELECT * FROM sq.not_in ORDER BY id;
SELECT * FROM sq.in_join_agg ORDER BY region NULLS FIRST;
SELECT * FROM sq.anti_agg ORDER BY region NULLS FIRST;
SELECT * FROM sq.cte_join ORDER BY region NULLS FIRST;
SELECT * FROM sq.cte_twice ORDER BY 1, 2;

-- the NULL leaves again; deletes on three tables at once
BEGIN;
DELETE FROM sq_sor.blocked WHERE cust IS NULL;
DELETE FROM sq_sor.customers WHERE id = 4;
DELETE FROM sq_sor.orders WHERE id IN (1, 7);
UPDATE sq_sor.customers SET region = 'north' WHERE id = 3;
COMMIT;
:refresh
:check
SELECT * FROM sq.not_in ORDER BY id;
SELECT * FROM sq.semi_exists ORDER BY id;

-- the subquery becomes empty: NOT IN holds for every row, NULLs included
DELETE FROM sq_sor.blocked;
:refresh
:check
SELECT * FROM sq.not_in ORDER BY id;
SELECT * FROM sq.uncorrelated ORDER BY id;

-- and filled again, with a key change on both sides
BEGIN;
INSERT INTO sq_sor.blocked VALUES (1, 'fraud'), (3, 'fraud'), (3, 'fraud');
UPDATE sq_sor.orders SET cust = 3 WHERE id = 3;
UPDATE sq_sor.customers SET id = 5 WHERE id = 2;
INSERT INTO sq_sor.orders VALUES (9, 5, 40), (10, NULL, 50);
COMMIT;
:refresh
:check
SELECT * FROM sq.uncorrelated ORDER BY id;
SELECT * FROM sq.all_self ORDER BY id;
SELECT * FROM sq.union_agg ORDER BY cust NULLS FIRST;
SELECT * FROM sq.union_join ORDER BY region NULLS FIRST;
SELECT * FROM sq.union_distinct ORDER BY cust NULLS FIRST;

SELECT dataproduct.drop_domain('sq', cascade => true);
DROP SCHEMA sq_sor CASCADE;
DROP FUNCTION sq_same(regclass, text);
DROP EXTENSION pg_dataproduct;
