--
-- Every kind of bad input gets a clear error (code, message, hint) and
-- leaves nothing behind.
--
CREATE EXTENSION pg_dataproduct;
\set VERBOSITY default
CREATE SCHEMA sor;
CREATE TABLE sor.orders (id int PRIMARY KEY, amount numeric, status text);
INSERT INTO sor.orders VALUES (1, 10, 'open'), (2, 20, 'paid');
CREATE TEMP TABLE scratch (x int);
SELECT dataproduct.create_domain('shop');
SELECT dataproduct.create_product('shop.sales');

-- names
SELECT dataproduct.create_domain('Shop');
SELECT dataproduct.create_domain('');
SELECT dataproduct.create_domain('1shop');
SELECT dataproduct.create_domain('pg_shop');
SELECT dataproduct.create_domain('dataproduct_x');
SELECT dataproduct.create_domain(repeat('x', 64));
SELECT dataproduct.create_domain(NULL);
SELECT dataproduct.create_product('sales');
SELECT dataproduct.create_product('a.b.c');
SELECT dataproduct.create_product('shop.Sales');
SELECT dataproduct.create_product('nowhere.sales');
SELECT dataproduct.add_output('shop.sales', 'Bad Name', 'SELECT 1 AS x');
SELECT dataproduct.add_output('shop.sales', '__dp_x', 'SELECT 1 AS x');
SELECT dataproduct.add_output('shop.nothing', 'x', 'SELECT 1 AS x');
SELECT dataproduct.add_output('shop.sales', 'x', NULL);

-- roles
SELECT dataproduct.create_domain('ops', owner => 'nobody_at_all');

-- versions, tags
SELECT dataproduct.create_product('shop.v1', version => '1.0');
SELECT dataproduct.create_product('shop.v2', version => '01.0.0');
SELECT dataproduct.create_product('shop.v3', version => '1.0.0-');
SELECT dataproduct.create_product('shop.v4', version => 'v1.0.0');
SELECT dataproduct.create_product('shop.v5', tags => '{a,NULL}');
SELECT dataproduct.create_product('shop.v6', tags => '{a,""}');
SELECT dataproduct.create_product('shop.v7', tags => '{{a},{b}}');

-- refresh modes
SELECT dataproduct.add_output('shop.sales', 'x', 'SELECT 1 AS x', refresh => 'sometimes');

-- output queries: empty, several statements, not a SELECT
SELECT dataproduct.add_output('shop.sales', 'x', '');
SELECT dataproduct.add_output('shop.sales', 'x', '   ;  ');
SELECT dataproduct.add_output('shop.sales', 'x', 'SELECT 1 AS a; SELECT 2 AS b');
SELECT dataproduct.add_output('shop.sales', 'x', 'DELETE FROM sor.orders');
SELECT dataproduct.add_output('shop.sales', 'x', 'INSERT INTO sor.orders VALUES (3, 1, $$x$$)');
SELECT dataproduct.add_output('shop.sales', 'x', 'DROP TABLE sor.orders');
SELECT dataproduct.add_output('shop.sales', 'x', 'SELECT 1 AS a; DROP TABLE sor.orders');
SELECT dataproduct.add_output('shop.sales', 'x', 'SELECT * INTO sor.copy FROM sor.orders');
SELECT dataproduct.add_output('shop.sales', 'x',
       'WITH d AS (DELETE FROM sor.orders RETURNING *) SELECT * FROM d');
SELECT dataproduct.add_output('shop.sales', 'x', 'SELECT * FROM sor.orders FOR UPDATE');
-- syntax errors and missing objects are reported by the parser
SELECT dataproduct.add_output('shop.sales', 'x', 'SELEC 1');
SELECT dataproduct.add_output('shop.sales', 'x', 'SELECT * FROM sor.missing');
SELECT dataproduct.add_output('shop.sales', 'x', 'SELECT nope FROM sor.orders');
SELECT dataproduct.add_output('shop.sales', 'x', 'SELECT * FROM sor.orders WHERE id = $1');
-- temporary relations do not outlive the session
SELECT dataproduct.add_output('shop.sales', 'x', 'SELECT x FROM scratch');
-- columns must have usable, distinct names and storable types
-- (an aggregate's own name is a usable name, as in CREATE VIEW)
SELECT dataproduct.add_output('shop.sales', 'by_status', 'SELECT status, count(*) FROM sor.orders GROUP BY 1');
SELECT attname FROM pg_attribute WHERE attrelid = 'shop.by_status'::regclass AND attnum > 0 ORDER BY attnum;
SELECT dataproduct.add_output('shop.sales', 'x', 'SELECT id, 1 + 1 FROM sor.orders');
SELECT dataproduct.add_output('shop.sales', 'x', 'SELECT id, amount AS id FROM sor.orders');
SELECT dataproduct.add_output('shop.sales', 'x', 'SELECT id AS __dp_count FROM sor.orders');
SELECT dataproduct.add_output('shop.sales', 'x', 'SELECT FROM sor.orders');
SELECT dataproduct.add_output('shop.sales', 'x', 'SELECT ROW(id, amount) AS r FROM sor.orders');

-- volatile functions are allowed, with a warning
SELECT dataproduct.add_output('shop.sales', 'sampled',
       'SELECT id, random() < 2 AS kept FROM sor.orders');

-- nothing was left behind by the failures
SELECT name FROM dataproduct.output ORDER BY name;
SELECT name FROM dataproduct.product ORDER BY name;
SELECT relname FROM pg_class WHERE relnamespace = 'dataproduct_internal'::regnamespace ORDER BY relname;
SELECT relname FROM pg_class WHERE relnamespace = 'shop'::regnamespace ORDER BY relname;

-- lookups of things that do not exist
SELECT dataproduct.refresh('sor.orders');
SELECT dataproduct.drop_output('sor.orders');
SELECT dataproduct.drop_product('shop.nothing');
SELECT dataproduct.drop_domain('nowhere');
SELECT dataproduct.alter_product('shop.nothing', description => 'x');

-- event trigger function cannot be called directly
SELECT dataproduct_internal.on_sql_drop();

SELECT dataproduct.drop_domain('shop', cascade => true);
DROP SCHEMA sor CASCADE;

-- the extension goes cleanly once nothing is declared
DROP EXTENSION pg_dataproduct;
