--
-- Quality checks: every kind passing and failing, blocking checks rolling a
-- refresh back, warnings recorded, history, health and describe.
--
CREATE EXTENSION pg_dataproduct;
CREATE ROLE qc_team;
CREATE ROLE qc_outsider;
CREATE SCHEMA qc_sor;
CREATE TABLE qc_sor.customers (id int PRIMARY KEY, country text);
CREATE TABLE qc_sor.orders (id int PRIMARY KEY, customer int, status text, amount numeric);
INSERT INTO qc_sor.customers SELECT g, (ARRAY['FR', 'DE', 'NL'])[1 + g % 3] FROM generate_series(1, 6) g;
INSERT INTO qc_sor.orders SELECT g, 1 + g % 6, (ARRAY['open', 'paid'])[1 + g % 2], g * 10 FROM generate_series(1, 20) g;
GRANT USAGE ON SCHEMA qc_sor TO qc_team;
GRANT SELECT ON ALL TABLES IN SCHEMA qc_sor TO qc_team;

SELECT dataproduct.create_domain('sales', owner => 'qc_team');
SELECT dataproduct.create_product('sales.orders', description => 'Orders and revenue');
SELECT dataproduct.add_output('sales.orders', 'order_facts',
       'SELECT o.id, o.customer, o.status, o.amount FROM qc_sor.orders o');
SELECT dataproduct.refresh('sales.order_facts');
SELECT dataproduct.add_output('sales.orders', 'by_customer',
       'SELECT customer, count(*) AS orders, sum(amount) AS revenue FROM qc_sor.orders GROUP BY customer');
SELECT dataproduct.refresh('sales.by_customer');

-- every kind, passing
SELECT dataproduct.add_check('sales.order_facts', 'not_null', "column" => 'customer');
SELECT dataproduct.add_check('sales.order_facts', 'unique', columns => '{id}');
SELECT dataproduct.add_check('sales.order_facts', 'accepted_values', "column" => 'status',
       "values" => '{open,paid}', description => 'The order lifecycle');
SELECT dataproduct.add_check('sales.order_facts', 'range', "column" => 'amount', min => '0', max => '1000');
SELECT dataproduct.add_check('sales.order_facts', 'row_count', min => '1');
SELECT dataproduct.add_check('sales.order_facts', 'relationship', "column" => 'customer',
       to_relation => 'qc_sor.customers', to_column => 'id');
SELECT dataproduct.add_check('sales.by_customer', 'freshness', max_staleness => '1 hour');
SELECT dataproduct.add_check('sales.by_customer', 'custom', name => 'revenue_positive',
       sql => 'SELECT * FROM sales.by_customer WHERE revenue <= 0');
SELECT output, name, kind, severity, params FROM dataproduct.checks ORDER BY output::text, name;

SELECT * FROM dataproduct.run_checks('sales.orders') ORDER BY output::text, check_name;
SELECT check_name, passed, observed, run_by, snapshot IS NOT NULL AS certified
  FROM dataproduct.check_results ORDER BY output::text, check_name;

-- bad declarations
SELECT dataproduct.add_check('sales.order_facts', 'not_null', "column" => 'nope');
SELECT dataproduct.add_check('sales.order_facts', 'not_null');
SELECT dataproduct.add_check('sales.order_facts', 'sometimes');
SELECT dataproduct.add_check('sales.order_facts', 'range', "column" => 'amount', min => 'cheap');
SELECT dataproduct.add_check('sales.order_facts', 'range', "column" => 'amount');
SELECT dataproduct.add_check('sales.order_facts', 'range', "column" => 'amount', min => '10', max => '9');
SELECT dataproduct.add_check('sales.order_facts', 'row_count', min => '10', max => '9');
SELECT dataproduct.add_check('sales.order_facts', 'row_count', min => 'many');
SELECT dataproduct.add_check('sales.order_facts', 'unique', columns => '{}');
SELECT dataproduct.add_check('sales.order_facts', 'accepted_values', "column" => 'status');
SELECT dataproduct.add_check('sales.order_facts', 'custom', sql => 'DELETE FROM qc_sor.orders');
SELECT dataproduct.add_check('sales.order_facts', 'custom', sql => 'SELECT * FROM');
SELECT dataproduct.add_check('sales.order_facts', 'custom', sql => 'SELECT 1; SELECT 2');
SELECT dataproduct.add_check('sales.order_facts', 'custom', sql => 'SELECT * FROM no_such_table');
SELECT dataproduct.add_check('sales.order_facts', 'relationship', "column" => 'customer',
       to_relation => 'qc_sor.customers', to_column => 'nope');
SELECT dataproduct.add_check('sales.order_facts', 'not_null', "column" => 'customer');
SELECT dataproduct.add_check('sales.order_facts', 'not_null', "column" => 'id', severity => 'fatal');
SELECT dataproduct.add_check('qc_sor.orders', 'not_null', "column" => 'id');
SELECT dataproduct.drop_check('sales.order_facts', 'nope');
SET ROLE qc_outsider;
SELECT dataproduct.add_check('sales.order_facts', 'not_null', "column" => 'id');
SELECT * FROM dataproduct.run_checks('sales.order_facts');
RESET ROLE;
SELECT * FROM dataproduct.run_checks('sales.nothing');

-- a blocking check that fails rolls the refresh back: the last good data stays
INSERT INTO qc_sor.orders VALUES (100, NULL, 'open', 5);
SELECT dataproduct.refresh('sales.order_facts');
SELECT count(*) AS rows_still_served FROM sales.order_facts;
-- (the output still serves the data certified last time)
SELECT check_name, passed, observed, sample FROM dataproduct.run_checks('sales.order_facts')
 WHERE NOT passed;

-- the same check as a warning: the refresh goes through, the failure is recorded
SELECT dataproduct.alter_check('sales.order_facts', 'not_null_customer', severity => 'warning');
SELECT dataproduct.refresh('sales.order_facts');
SELECT count(*) AS rows_served FROM sales.order_facts;
SELECT check_name, passed, observed, sample, run_by FROM dataproduct.check_results
 WHERE check_name = 'not_null_customer' ORDER BY checked_at DESC, run_by LIMIT 1;
SELECT * FROM dataproduct.health('sales.orders');

-- row-by-row checks that passed before look only at the rows a batch writes
SELECT dataproduct.alter_check('sales.order_facts', 'not_null_customer', severity => 'blocking');
UPDATE qc_sor.orders SET customer = 1 WHERE id = 100;
SELECT dataproduct.refresh('sales.order_facts');
SELECT check_name, passed, observed, incremental FROM dataproduct.check_results
 WHERE output = 'sales.order_facts'::regclass AND run_by = 'refresh'
   AND checked_at = (SELECT max(checked_at) FROM dataproduct.check_results
                      WHERE check_name = 'row_count' AND run_by = 'refresh')
 ORDER BY check_name;
UPDATE qc_sor.orders SET amount = 2000 WHERE id = 3;
UPDATE qc_sor.orders SET customer = NULL WHERE id = 4;
SELECT dataproduct.refresh('sales.order_facts');
SELECT count(*) AS rows_still_served FROM sales.order_facts WHERE customer IS NULL;
SELECT dataproduct.alter_check('sales.order_facts', 'not_null_customer', severity => 'warning');
SELECT dataproduct.alter_check('sales.order_facts', 'range_amount', severity => 'warning');
SELECT dataproduct.refresh('sales.order_facts');
SELECT check_name, passed, observed, sample, incremental FROM dataproduct.check_results
 WHERE check_name IN ('not_null_customer', 'range_amount') AND run_by = 'refresh'
 ORDER BY checked_at DESC, check_name LIMIT 2;
-- ... and, having failed, the next run looks at everything again
UPDATE qc_sor.orders SET customer = 2, amount = 30 WHERE id IN (3, 4);
SELECT dataproduct.refresh('sales.order_facts');
SELECT check_name, passed, incremental FROM dataproduct.check_results
 WHERE check_name IN ('not_null_customer', 'range_amount') AND run_by = 'refresh'
 ORDER BY checked_at DESC, check_name LIMIT 2;
-- on an incremental output, through its view's expressions
SELECT dataproduct.add_check('sales.by_customer', 'range', "column" => 'revenue', max => '10000', severity => 'warning');
SELECT check_name, passed FROM dataproduct.run_checks('sales.by_customer')
 WHERE check_name = 'range_revenue';
UPDATE qc_sor.orders SET amount = 20000 WHERE id = 5;
SELECT dataproduct.refresh('sales.by_customer');
SELECT passed, observed, sample, incremental FROM dataproduct.check_results
 WHERE check_name = 'range_revenue' ORDER BY checked_at DESC LIMIT 1;
UPDATE qc_sor.orders SET amount = 50 WHERE id = 5;
SELECT dataproduct.refresh('sales.by_customer');
SELECT dataproduct.drop_check('sales.by_customer', 'range_revenue');

-- every kind failing
INSERT INTO qc_sor.orders VALUES (101, 99, 'lost', 5000);
UPDATE qc_sor.orders SET amount = -amount WHERE customer = 2;
SELECT dataproduct.alter_check('sales.order_facts', name, severity => 'warning')
  FROM dataproduct.checks WHERE output = 'sales.order_facts'::regclass;
SELECT dataproduct.add_check('sales.order_facts', 'row_count', name => 'small', max => '3', severity => 'warning');
SELECT dataproduct.add_check('sales.order_facts', 'custom', name => 'broken', severity => 'warning',
       sql => 'SELECT 1 / (amount - amount) FROM sales.order_facts');
SELECT dataproduct.refresh('sales.order_facts');
SELECT dataproduct.refresh('sales.by_customer');
SELECT check_name, passed, CASE WHEN check_name <> 'freshness' THEN observed END AS observed
  FROM dataproduct.run_checks('sales.orders') ORDER BY 1;
SELECT check_name, CASE WHEN jsonb_array_length(sample) > 1 THEN jsonb_array_length(sample) || ' rows'
                         ELSE sample::text END AS sample
  FROM dataproduct.check_results
 WHERE check_name IN ('accepted_values_status', 'relationship_customer', 'range_amount')
   AND run_by = 'on demand' AND sample IS NOT NULL ORDER BY 1;

-- a duplicate key
CREATE TABLE qc_sor.dup (k int, v int);
INSERT INTO qc_sor.dup VALUES (1, 1), (1, 2), (2, 3), (NULL, 4), (NULL, 5);
GRANT SELECT ON qc_sor.dup TO qc_team;
SELECT dataproduct.add_output('sales.orders', 'dup', 'SELECT k, v FROM qc_sor.dup', refresh => 'full');
SELECT dataproduct.add_check('sales.dup', 'unique', "column" => 'k');
SELECT check_name, passed, observed, sample FROM dataproduct.run_checks('sales.dup');

-- freshness failing: changes committed but not applied
SELECT dataproduct.alter_check('sales.by_customer', 'freshness', severity => 'warning');
SELECT dataproduct.drop_check('sales.by_customer', 'freshness');
SELECT dataproduct.add_check('sales.by_customer', 'freshness', max_staleness => '1 microsecond', severity => 'warning');
UPDATE qc_sor.orders SET amount = amount + 1 WHERE id = 1;
SELECT check_name, passed FROM dataproduct.run_checks('sales.by_customer') WHERE check_name = 'freshness';

-- health reports failing blocking checks, describe shows every check
SELECT dataproduct.alter_check('sales.order_facts', 'not_null_customer', severity => 'blocking');
SELECT status, array_length(reasons, 1) > 0 AS has_reasons FROM dataproduct.health('sales.orders');
SELECT r FROM dataproduct.health('sales.orders'), unnest(reasons) r WHERE r LIKE '%not_null%';
SELECT c ->> 'name' AS name, c ->> 'severity' AS severity, c ->> 'passed' AS passed, c ->> 'observed' AS observed
  FROM jsonb_array_elements(dataproduct.describe('sales.orders') -> 'outputs') o,
       jsonb_array_elements(o -> 'checks') c
 WHERE o ->> 'output' = 'sales.order_facts' ORDER BY 1;

-- samples are only for those who may read the output (and results of draft
-- products only for those who may see them)
SET ROLE qc_outsider;
SELECT count(*) AS results, count(sample) AS samples FROM dataproduct.check_results;
RESET ROLE;
SELECT count(*) > 0 AS has_samples FROM dataproduct.check_results WHERE sample IS NOT NULL;

-- checks compare in the column's type, with the type's own operators
CREATE EXTENSION citext;
CREATE TABLE qc_sor.flags (id int, ok boolean, code citext, price numeric);
INSERT INTO qc_sor.flags VALUES (1, true, 'abc', 1.50), (2, false, 'XYZ', 2);
CREATE TABLE qc_sor.codes (code citext);
INSERT INTO qc_sor.codes VALUES ('ABC'), ('xyz');
GRANT SELECT ON qc_sor.flags, qc_sor.codes TO qc_team;
SELECT dataproduct.add_output('sales.orders', 'flags', 'SELECT id, ok, code, price FROM qc_sor.flags', refresh => 'full');
SELECT dataproduct.add_check('sales.flags', 'accepted_values', "column" => 'ok', "values" => '{t,f}');
SELECT dataproduct.add_check('sales.flags', 'accepted_values', "column" => 'price', "values" => '{1.5,2.0}');
SELECT dataproduct.add_check('sales.flags', 'accepted_values', "column" => 'code', "values" => '{ABC,xyz}');
SELECT dataproduct.add_check('sales.flags', 'relationship', "column" => 'code',
       to_relation => 'qc_sor.codes', to_column => 'code');
SELECT dataproduct.add_check('sales.flags', 'range', "column" => 'code', min => 'AAA', max => 'zzz');
SELECT check_name, passed, observed FROM dataproduct.run_checks('sales.flags') ORDER BY 1;
SELECT dataproduct.add_check('sales.flags', 'range', "column" => 'price', name => 'bad_bound', max => 'ten');
-- values of a char(n) column are compared whole (not cut to one character)
CREATE TABLE qc_sor.countries (c char(2), name varchar(20));
INSERT INTO qc_sor.countries VALUES ('US', 'United States'), ('FR', 'France');
GRANT SELECT ON qc_sor.countries TO qc_team;
SELECT dataproduct.add_output('sales.orders', 'countries', 'SELECT c, name FROM qc_sor.countries', refresh => 'full');
SELECT dataproduct.add_check('sales.countries', 'accepted_values', "column" => 'c', "values" => '{US,FR}');
SELECT dataproduct.add_check('sales.countries', 'accepted_values', "column" => 'c', name => 'us_only', "values" => '{US}');
SELECT dataproduct.add_check('sales.countries', 'range', "column" => 'c', min => 'AA', max => 'GB');
SELECT dataproduct.add_check('sales.countries', 'accepted_values', "column" => 'name', name => 'names',
       "values" => '{United States,France}');
SELECT check_name, passed, observed FROM dataproduct.run_checks('sales.countries') ORDER BY 1;
SELECT dataproduct.drop_output('sales.countries');
-- bounds are read under the output's DateStyle, whoever runs the check
CREATE TABLE qc_sor.days (d date);
INSERT INTO qc_sor.days VALUES ('2024-01-05');
GRANT SELECT ON qc_sor.days TO qc_team;
SET datestyle = 'ISO, MDY';
SELECT dataproduct.add_output('sales.orders', 'days', 'SELECT d FROM qc_sor.days', refresh => 'full');
SELECT dataproduct.add_check('sales.days', 'range', "column" => 'd', min => '01/02/2024');
SET datestyle = 'ISO, DMY';
SELECT check_name, passed FROM dataproduct.run_checks('sales.days');
RESET datestyle;
SELECT dataproduct.drop_output('sales.days');
-- a renamed relation is still the check's relation
ALTER TABLE qc_sor.codes RENAME TO code_list;
SELECT check_name, passed FROM dataproduct.run_checks('sales.flags') WHERE check_name LIKE 'relationship%';
-- custom SQL: a trailing semicolon or comment is fine
SELECT dataproduct.add_check('sales.flags', 'custom', name => 'semicolon',
       sql => 'SELECT * FROM sales.flags WHERE price < 0; -- none');
-- a temporary relation cannot be referenced
CREATE TEMP TABLE tmp_codes (code citext);
SELECT dataproduct.add_check('sales.flags', 'relationship', "column" => 'code',
       to_relation => 'tmp_codes', to_column => 'code');
-- what the owner may not read is refused at declaration, not at the next refresh
CREATE TABLE qc_sor.secret (code citext);
SELECT dataproduct.add_check('sales.flags', 'custom', name => 'peek',
       sql => 'SELECT * FROM sales.flags f WHERE f.code NOT IN (SELECT code FROM qc_sor.secret)');
-- a reader runs the checks as the owner: names resolve with the owner's rights
CREATE SCHEMA qc_hidden;
CREATE VIEW qc_hidden.neg AS SELECT * FROM qc_sor.flags WHERE price < 0;
GRANT USAGE ON SCHEMA qc_hidden TO qc_team;
GRANT SELECT ON qc_hidden.neg TO qc_team;
SELECT dataproduct.add_check('sales.flags', 'custom', name => 'hidden', sql => 'SELECT * FROM qc_hidden.neg');
GRANT USAGE ON SCHEMA sales TO qc_outsider;
SET ROLE qc_team;
GRANT SELECT ON sales.flags TO qc_outsider;
RESET ROLE;
SET ROLE qc_outsider;
SELECT check_name, passed, observed FROM dataproduct.run_checks('sales.flags') WHERE check_name = 'hidden';
RESET ROLE;
-- a cancelled check stops the refresh; it is not recorded as failing
SELECT dataproduct.add_check('sales.flags', 'custom', name => 'slow', severity => 'warning',
       sql => 'SELECT * FROM sales.flags WHERE pg_sleep(1) IS NULL');
\set VERBOSITY terse
SET statement_timeout = '200ms';
SELECT dataproduct.refresh('sales.flags');
RESET statement_timeout;
\set VERBOSITY default
SELECT count(*) AS slow_results FROM dataproduct.check_results WHERE check_name = 'slow';
SELECT dataproduct.drop_output('sales.flags');
DROP SCHEMA qc_hidden CASCADE;
DROP EXTENSION citext CASCADE;

-- dropping an output drops its checks and their history
SELECT dataproduct.drop_output('sales.dup');
SELECT count(*) FROM dataproduct.checks WHERE name = 'unique_k';

SELECT dataproduct.drop_domain('sales', cascade => true);
SELECT count(*) AS checks_left FROM dataproduct.quality_check;
SELECT count(*) AS results_left FROM dataproduct.check_result;
DROP SCHEMA qc_sor CASCADE;
DROP ROLE qc_team, qc_outsider;
DROP EXTENSION pg_dataproduct;
