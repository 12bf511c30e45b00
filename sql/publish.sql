--
-- publish(): the stores of a product's loaded outputs in a publication for
-- logical replication, created if missing, as the product owner; published
-- stores keep refreshing (they have REPLICA IDENTITY FULL).
--
CREATE EXTENSION pg_dataproduct;
CREATE ROLE pb_team NOLOGIN;
CREATE ROLE pb_alice LOGIN IN ROLE pb_team;
CREATE ROLE pb_stranger LOGIN;
CREATE SCHEMA pb_sor;
CREATE TABLE pb_sor.orders (id int, region text, amount int);
INSERT INTO pb_sor.orders VALUES (1, 'north', 10), (2, 'south', 20);
GRANT USAGE ON SCHEMA pb_sor TO pb_team;
GRANT SELECT ON pb_sor.orders TO pb_team;
SELECT dataproduct.create_domain('pb', owner => 'pb_team');
SELECT dataproduct.create_product('pb.sales');
SELECT dataproduct.create_product('pb.empty');
SELECT dataproduct.add_output('pb.sales', 'by_region',
       'SELECT region, sum(amount) AS amount FROM pb_sor.orders GROUP BY region');
SELECT dataproduct.add_output('pb.sales', 'big_orders',
       'SELECT id, amount FROM pb_sor.orders WHERE amount > 15', refresh => 'full');
SELECT dataproduct.add_output('pb.sales', 'later',
       'SELECT id FROM pb_sor.orders');
SELECT dataproduct.refresh('pb.by_region');

\set VERBOSITY terse
SET ROLE pb_alice;
-- creating a publication needs CREATE on the database, as for anyone
SELECT dataproduct.publish('pb.sales');
RESET ROLE;
DO $$BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO pb_team', current_database()); END$$;
SET ROLE pb_alice;
-- the output not loaded yet is left out
SELECT dataproduct.publish('pb.sales');
RESET ROLE;
SELECT o.output, pt.pubname
  FROM dataproduct.outputs o
  JOIN dataproduct.output c ON c.view = o.output
  LEFT JOIN pg_publication_rel pr ON pr.prrelid = c.store
  LEFT JOIN pg_publication pt ON pt.oid = pr.prpubid
 ORDER BY o.output::text;
SELECT p.pubname, p.pubowner::regrole, count(pr.*) AS tables
  FROM pg_publication p LEFT JOIN pg_publication_rel pr ON pr.prpubid = p.oid
 GROUP BY 1, 2 ORDER BY 1;
-- again, after the missing one is loaded: it joins, the others stay
SET ROLE pb_alice;
SELECT dataproduct.refresh('pb.later');
SELECT dataproduct.publish('pb.sales');
SELECT dataproduct.publish('pb.sales', 'sales_feed');
RESET ROLE;
SELECT p.pubname, count(pr.*) AS tables
  FROM pg_publication p LEFT JOIN pg_publication_rel pr ON pr.prpubid = p.oid
 GROUP BY 1 ORDER BY 1;
-- published stores keep refreshing, incrementally and in full
INSERT INTO pb_sor.orders VALUES (3, 'north', 30);
UPDATE pb_sor.orders SET amount = 5 WHERE id = 2;
DELETE FROM pb_sor.orders WHERE id = 1;
SELECT dataproduct.refresh(output) > 0 AS changed, output FROM dataproduct.outputs ORDER BY output::text;
SELECT * FROM pb.by_region ORDER BY 1;
SELECT * FROM pb.big_orders ORDER BY 1;
-- refused: another role's product, a product without outputs, a bad name
SET ROLE pb_stranger;
SELECT dataproduct.publish('pb.sales');
RESET ROLE;
SELECT dataproduct.publish('pb.empty');
SELECT dataproduct.publish('pb.sales', '');
SELECT dataproduct.publish('pb.nothing');

DROP PUBLICATION dataproduct_pb_sales, sales_feed;
SELECT dataproduct.drop_domain('pb', cascade => true);
DO $$BEGIN EXECUTE format('REVOKE CREATE ON DATABASE %I FROM pb_team', current_database()); END$$;
DROP SCHEMA pb_sor CASCADE;
DROP ROLE pb_alice, pb_team, pb_stranger;
DROP EXTENSION pg_dataproduct;
