--
-- Who may do what: owners, members, consumers, and the owner's privileges
-- as the only ones an output query ever runs with.
--
CREATE EXTENSION pg_dataproduct;
-- failures below come from the owner's privileges; the generated statement
-- they happened in is not the point
\set SHOW_CONTEXT never
CREATE ROLE pv_team NOLOGIN;
CREATE ROLE pv_alice LOGIN IN ROLE pv_team;      -- member of the team
CREATE ROLE pv_bob LOGIN;                        -- not a member
CREATE ROLE pv_analyst LOGIN;                    -- a consumer
CREATE SCHEMA pv_sor;
CREATE TABLE pv_sor.sales (id int, region text, amount numeric);
CREATE TABLE pv_sor.secrets (id int, salary numeric);
INSERT INTO pv_sor.sales VALUES (1, 'north', 10), (2, 'south', 20), (3, 'north', 5);
INSERT INTO pv_sor.secrets VALUES (1, 100000);
GRANT USAGE ON SCHEMA pv_sor TO pv_team, pv_bob;
GRANT SELECT ON pv_sor.sales TO pv_team;

SELECT dataproduct.create_domain('pv', owner => 'pv_team');
SELECT dataproduct.create_product('pv.sales');

-- a member of the owner role acts for it
SET ROLE pv_alice;
SELECT dataproduct.add_output('pv.sales', 'by_region',
       'SELECT region, sum(amount) AS amount FROM pv_sor.sales GROUP BY region');
SELECT dataproduct.alter_product('pv.sales', description => 'Sales by region');
SELECT dataproduct.refresh('pv.by_region');
SELECT dataproduct.create_product('pv.more');
-- but cannot give things to a role it is not a member of
SELECT dataproduct.create_product('pv.mine', owner => 'pv_bob');
SELECT dataproduct.alter_product('pv.sales', owner => 'pv_bob');
RESET ROLE;

-- anybody else may not, even when allowed to see the domain's schema
GRANT USAGE ON SCHEMA pv TO pv_bob;
SET ROLE pv_bob;
SELECT dataproduct.create_product('pv.bobs');
SELECT dataproduct.add_output('pv.sales', 'x', 'SELECT 1 AS one');
SELECT dataproduct.alter_product('pv.sales', description => 'mine now');
SELECT dataproduct.alter_product('pv.sales', status => 'published');
SELECT dataproduct.refresh('pv.by_region');
SELECT dataproduct.drop_output('pv.by_region');
SELECT dataproduct.drop_product('pv.sales', cascade => true);
SELECT dataproduct.drop_domain('pv', cascade => true);
SELECT dataproduct.create_domain('bobs', owner => 'pv_team');
-- nor can the catalog be written directly
INSERT INTO dataproduct.domain (name, schema, owner, created_schema) VALUES ('x', 'public', 'pv_bob', false);
UPDATE dataproduct.product SET owner = 'pv_bob';
DELETE FROM dataproduct.output;
-- nor can the internal objects be changed
DELETE FROM dataproduct_internal.output_1_store;
RESET ROLE;

-- everyone can read the catalog, but sees draft products only if it owns them
-- or may read one of their outputs
SET ROLE pv_bob;
SELECT product, owner, description FROM dataproduct.products WHERE domain = 'pv' ORDER BY 1;
RESET ROLE;

-- consumers read what they are granted, and only through the output view
SET ROLE pv_analyst;
SELECT * FROM pv.by_region;
RESET ROLE;
GRANT USAGE ON SCHEMA pv TO pv_analyst;
SET ROLE pv_alice;
GRANT SELECT ON pv.by_region TO pv_analyst;
RESET ROLE;
SET ROLE pv_analyst;
SELECT * FROM pv.by_region ORDER BY region;
SELECT * FROM dataproduct_internal.output_1_store;
SELECT * FROM dataproduct_internal.output_1_query;
SELECT * FROM pv_sor.sales;
RESET ROLE;

-- output queries run with the product owner's privileges, never the caller's:
-- a superuser cannot publish, in pv_team's product, a table pv_team cannot read
SELECT dataproduct.add_output('pv.sales', 'leak', 'SELECT id, salary FROM pv_sor.secrets');
SELECT count(*) FROM dataproduct.output WHERE name = 'leak';
SELECT to_regclass('pv.leak');
-- nor through a view that its owner may read
CREATE VIEW pv_sor.secret_view AS SELECT * FROM pv_sor.secrets;
GRANT SELECT ON pv_sor.secret_view TO pv_team;
SELECT dataproduct.add_output('pv.sales', 'leak', 'SELECT id, salary FROM pv_sor.secret_view');
SELECT dataproduct.refresh('pv.leak');
-- (a view reads with its owner's privileges, as everywhere in PostgreSQL)
SELECT count(*) FROM pv.leak;
SELECT dataproduct.drop_output('pv.leak');

-- a granted source that is later revoked makes the refresh fail, as the owner
REVOKE SELECT ON pv_sor.sales FROM pv_team;
SELECT dataproduct.refresh('pv.by_region');
GRANT SELECT ON pv_sor.sales TO pv_team;

-- output queries run in a security-restricted operation
CREATE FUNCTION pv_sor.sneaky(int) RETURNS int LANGUAGE plpgsql AS
$$BEGIN CREATE TEMP TABLE IF NOT EXISTS stash (x int); RETURN $1; END$$;
SELECT dataproduct.add_output('pv.sales', 'sneaky', 'SELECT pv_sor.sneaky(id) AS id FROM pv_sor.sales');
SELECT to_regclass('pv.sneaky');

-- a new domain needs the right to create schemas, and membership of its owner
SET ROLE pv_alice;
SELECT dataproduct.create_domain('alices', owner => 'pv_team');
RESET ROLE;
GRANT CREATE ON DATABASE contrib_regression TO pv_alice;
SET ROLE pv_alice;
SELECT dataproduct.create_domain('alices', owner => 'pv_team');
SELECT dataproduct.create_domain('bobs', owner => 'pv_bob');
-- and adopting an existing schema needs its ownership
SELECT dataproduct.create_domain('pv_sor');
RESET ROLE;
SELECT domain, owner FROM dataproduct.domains ORDER BY domain;
REVOKE CREATE ON DATABASE contrib_regression FROM pv_alice;

SELECT dataproduct.drop_domain('alices');
SELECT dataproduct.drop_domain('pv', cascade => true);
DROP SCHEMA pv_sor CASCADE;
DROP ROLE pv_alice, pv_bob, pv_analyst, pv_team;

-- the extension goes cleanly once nothing is declared
DROP EXTENSION pg_dataproduct;
