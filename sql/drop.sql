--
-- Dropping: the API's drop functions, and the catalog staying consistent
-- when users drop sources, views or schemas themselves.
--
CREATE EXTENSION pg_dataproduct;
CREATE SCHEMA dr_sor;
CREATE TABLE dr_sor.orders (id int PRIMARY KEY, customer text, amount numeric);
CREATE TABLE dr_sor.refunds (order_id int, amount numeric);
INSERT INTO dr_sor.orders VALUES (1, 'ann', 10), (2, 'bob', 20), (3, 'ann', 5);
INSERT INTO dr_sor.refunds VALUES (2, 5);
SELECT dataproduct.create_domain('dr');
SELECT dataproduct.create_product('dr.sales');
SELECT dataproduct.create_product('dr.finance');
SELECT dataproduct.add_output('dr.sales', 'by_customer',
       'SELECT customer, sum(amount) AS amount FROM dr_sor.orders GROUP BY customer');
-- an output on another output reads it once populated
SELECT dataproduct.add_output('dr.finance', 'too_early',
       'SELECT customer FROM dr.by_customer WHERE amount > 10');
SELECT dataproduct.refresh('dr.by_customer');
SELECT dataproduct.add_output('dr.finance', 'big_customers',
       'SELECT customer FROM dr.by_customer WHERE amount > 10');
SELECT dataproduct.add_output('dr.finance', 'refunds',
       'SELECT sum(amount) AS refunded FROM dr_sor.refunds');
CREATE VIEW dr_sor.report AS SELECT * FROM dr.refunds;
-- internal relations that no catalog row accounts for: there must never be any
CREATE VIEW public.dr_orphans AS
SELECT c.relname FROM pg_class c
 WHERE c.relnamespace = 'dataproduct_internal'::regnamespace AND c.relkind IN ('r', 'v')
   AND c.oid NOT IN (SELECT store FROM dataproduct.output UNION ALL
                     SELECT query_view FROM dataproduct.output UNION ALL
                     SELECT pre_view FROM dataproduct.output WHERE pre_view IS NOT NULL UNION ALL
                     SELECT log FROM dataproduct.source);

-- sources are protected by dependencies
DROP TABLE dr_sor.orders;
ALTER TABLE dr_sor.orders DROP COLUMN amount;
ALTER TABLE dr_sor.orders ALTER COLUMN amount TYPE float8;
-- (columns nobody reads may go)
ALTER TABLE dr_sor.orders ADD COLUMN note text;
ALTER TABLE dr_sor.orders DROP COLUMN note;

-- an output that others read is not dropped without cascade
SELECT dataproduct.drop_output('dr.by_customer');
-- nor one that a user's own view reads
SELECT dataproduct.drop_output('dr.refunds');
-- a product with outputs, a domain with products
SELECT dataproduct.drop_product('dr.sales');
SELECT dataproduct.drop_domain('dr');
SELECT output FROM dataproduct.outputs ORDER BY 1;

-- cascade drops the readers too, and the catalog follows
SELECT dataproduct.drop_output('dr.by_customer', cascade => true);
SELECT output FROM dataproduct.outputs ORDER BY 1;
SELECT to_regclass('dr.big_customers');
SELECT * FROM public.dr_orphans;

-- DROP ... CASCADE of a source drops the outputs that read it
SELECT dataproduct.add_output('dr.sales', 'by_customer',
       'SELECT customer, sum(amount) AS amount FROM dr_sor.orders GROUP BY customer');
DROP TABLE dr_sor.orders CASCADE;
SELECT output FROM dataproduct.outputs ORDER BY 1;
SELECT * FROM public.dr_orphans;

-- dropping an output view by hand forgets the output
DROP VIEW dr_sor.report;
DROP VIEW dr.refunds;
SELECT output FROM dataproduct.outputs ORDER BY 1;
SELECT * FROM public.dr_orphans;

-- so does dropping its store
SELECT dataproduct.add_output('dr.finance', 'refunds',
       'SELECT sum(amount) AS refunded FROM dr_sor.refunds');
SELECT store AS store FROM dataproduct.output WHERE name = 'refunds' \gset
DROP TABLE :store CASCADE;
SELECT output FROM dataproduct.outputs ORDER BY 1;

-- drop_product and drop_domain with cascade
SELECT dataproduct.add_output('dr.finance', 'refunds',
       'SELECT sum(amount) AS refunded FROM dr_sor.refunds');
SELECT dataproduct.drop_product('dr.finance', cascade => true);
SELECT product FROM dataproduct.products ORDER BY 1;
SELECT dataproduct.drop_product('dr.sales');
SELECT dataproduct.drop_domain('dr');
SELECT count(*) FROM dataproduct.domain;
-- the schema create_domain made is gone with the domain
SELECT to_regnamespace('dr');

-- but a schema with other objects in it stays
SELECT dataproduct.create_domain('dr2');
CREATE TABLE dr2.keep_me (x int);
SELECT dataproduct.drop_domain('dr2');
SELECT to_regnamespace('dr2') IS NOT NULL AS kept;
DROP SCHEMA dr2 CASCADE;

-- DROP SCHEMA of a domain forgets the domain, its products and outputs
SELECT dataproduct.create_domain('dr3');
SELECT dataproduct.create_product('dr3.p');
SELECT dataproduct.add_output('dr3.p', 'refunds',
       'SELECT sum(amount) AS refunded FROM dr_sor.refunds');
DROP SCHEMA dr3 CASCADE;
SELECT count(*) FROM dataproduct.domain;
SELECT count(*) FROM dataproduct.product;
SELECT count(*) FROM dataproduct.output;
SELECT * FROM public.dr_orphans;

-- a drop in a rolled-back transaction changes nothing
SELECT dataproduct.create_domain('dr4');
SELECT dataproduct.create_product('dr4.p');
SELECT dataproduct.add_output('dr4.p', 'refunds',
       'SELECT sum(amount) AS refunded FROM dr_sor.refunds');
SELECT dataproduct.refresh('dr4.refunds');
BEGIN;
SELECT dataproduct.drop_domain('dr4', cascade => true);
ROLLBACK;
SELECT * FROM dr4.refunds;
SELECT output FROM dataproduct.outputs;
SELECT dataproduct.drop_domain('dr4', cascade => true);
-- capture goes with the last output reading a table
SELECT count(*) FROM dataproduct.source;
SELECT tgname FROM pg_trigger WHERE tgname LIKE '\_\_dp%';
SELECT * FROM public.dr_orphans;
DROP VIEW public.dr_orphans;
DROP SCHEMA dr_sor CASCADE;

-- the extension goes cleanly once nothing is declared
DROP EXTENSION pg_dataproduct;
