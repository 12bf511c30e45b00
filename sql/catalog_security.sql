--
-- What the catalog shows to whom, written as attacks by a role that owns
-- nothing and was granted nothing (cs_mallory):
--   - error texts of refreshes quote source values: only roles that may read
--     the output see them, others see that the refresh failed and its SQLSTATE;
--   - draft products are seen only by their owners and by roles that may read
--     one of their outputs, in every view and function, and the catalog
--     tables cannot be read around the views;
--   - refresh intervals are bounded at declaration;
--   - one huge description does not break search() for everyone.
--
CREATE EXTENSION pg_dataproduct;
\set SHOW_CONTEXT never
CREATE ROLE cs_team NOLOGIN;
CREATE ROLE cs_alice LOGIN IN ROLE cs_team;     -- member of the owner role
CREATE ROLE cs_reader LOGIN;                    -- granted one output
CREATE ROLE cs_mallory LOGIN;                   -- nothing
GRANT TEMPORARY ON DATABASE contrib_regression TO cs_mallory;
CREATE SCHEMA cs_sor;
CREATE TABLE cs_sor.patients (id int, ssn text, ward text);
INSERT INTO cs_sor.patients VALUES (1, '123-45-6789', 'north'), (2, '987-65-4321', 'south');
CREATE TABLE cs_sor.initech_sites (id int, ward text);
INSERT INTO cs_sor.initech_sites VALUES (10, 'north');
GRANT USAGE ON SCHEMA cs_sor TO cs_team;
GRANT SELECT ON cs_sor.patients, cs_sor.initech_sites TO cs_team;

SELECT dataproduct.create_domain('cs', owner => 'cs_team');
-- a published product whose refreshes fail on a source value
SELECT dataproduct.create_product('cs.wards', description => 'Patients per ward');
SELECT dataproduct.alter_product('cs.wards', status => 'published');
-- a draft nobody else should learn about
SELECT dataproduct.create_product('cs.merger', description => 'Takeover of Initech, due diligence',
       tags => '{initech,confidential}', contact => 'ceo@example.com');

-- the owner's members use the whole API, though the catalog tables are not theirs to read
SET ROLE cs_alice;
SELECT dataproduct.add_output('cs.wards', 'per_ward',
       'SELECT ward, count(*) AS patients FROM cs_sor.patients GROUP BY ward',
       description => 'Patients per ward');
SELECT dataproduct.add_output('cs.wards', 'ids',
       'SELECT id, ssn::int AS n FROM cs_sor.patients WHERE false', refresh => 'full');
SELECT dataproduct.add_output('cs.merger', 'targets',
       'SELECT id, ward FROM cs_sor.initech_sites', description => 'Initech sites to close');
SELECT dataproduct.alter_output('cs.targets', min_interval => '1 minute', schedule => '1 day');
SELECT dataproduct.add_check('cs.targets', 'not_null', "column" => 'ward',
       description => 'every Initech site has a ward');
SELECT dataproduct.alter_check('cs.targets', 'not_null_ward', severity => 'warning');
SELECT dataproduct.comment_column('cs.targets', 'ward', 'Ward absorbing the Initech site');
SELECT dataproduct.refresh('cs.per_ward');
SELECT dataproduct.refresh('cs.targets');
SELECT check_name, passed FROM dataproduct.run_checks('cs.merger');
SELECT product, status, health FROM dataproduct.products ORDER BY 1;
SELECT dataproduct.add_check('cs.targets', 'unique', "column" => 'id');
SELECT dataproduct.drop_check('cs.targets', 'unique_id');
RESET ROLE;

-- A failed automatic refresh, as the background worker records it (the
-- worker is off in these tests; test/t/007_scheduler_dos.pl has it write
-- these rows itself): the error text quotes a source value.
UPDATE dataproduct.output
   SET failures = 2, last_error = 'invalid input syntax for type integer: "123-45-6789"',
       last_error_code = '22P02', last_error_at = now(), next_retry = now() + interval '2 seconds'
 WHERE name = 'ids';
INSERT INTO dataproduct.refresh_history (output_id, started_at, finished_at, error, error_code, by_worker)
SELECT output_id, now(), now(), last_error, last_error_code, true FROM dataproduct.output WHERE name = 'ids';
GRANT USAGE ON SCHEMA cs TO cs_reader, cs_mallory;
SET ROLE cs_alice;
GRANT SELECT ON cs.ids TO cs_reader;
RESET ROLE;

-- item: error texts
-- mallory sees that cs.ids fails, and why in SQLSTATE terms, not the value
SET ROLE cs_mallory;
SELECT output, failures, last_error, last_error_code FROM dataproduct.outputs ORDER BY 1;
SELECT * FROM dataproduct.health('cs.wards');
SELECT output, kind, error, error_code FROM dataproduct.refreshes WHERE error IS NOT NULL;
SELECT view, last_error FROM dataproduct.visible_output ORDER BY 1;
-- nor through the tables
SELECT last_error FROM dataproduct.output;
SELECT error FROM dataproduct.refresh_history;
-- nor through a cheap function, claimed immutable so that the planner would
-- push it down, that prints what it is given when it looks like a secret
CREATE FUNCTION pg_temp.peek(text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE COST 0.0000001
  AS $$BEGIN
    IF $1 ~* 'initech|merger|confidential|ceo@|\d{3}-\d{2}-\d{4}' THEN RAISE NOTICE 'leaked: %', $1; END IF;
    RETURN true;
  END$$;
SELECT count(*) FROM dataproduct.outputs WHERE pg_temp.peek(last_error);
SELECT count(*) FROM dataproduct.refreshes WHERE pg_temp.peek(error);
RESET ROLE;
-- a role that may read the output sees the text, so do the owner's members
SET ROLE cs_reader;
SELECT output, last_error, last_error_code FROM dataproduct.outputs WHERE last_error IS NOT NULL;
SELECT error, error_code FROM dataproduct.refreshes WHERE error IS NOT NULL;
SELECT reasons FROM dataproduct.health('cs.wards');
RESET ROLE;
SET ROLE cs_alice;
SELECT output, last_error FROM dataproduct.outputs WHERE last_error IS NOT NULL;
RESET ROLE;

-- item: draft products
SET ROLE cs_mallory;
SELECT product, description FROM dataproduct.products ORDER BY 1;
SELECT domain, products FROM dataproduct.domains;
SELECT output FROM dataproduct.outputs ORDER BY 1;
SELECT output, source FROM dataproduct.lineage ORDER BY 1, 2;
SELECT from_schema, from_name, to_schema, to_name FROM dataproduct.lineage_edges ORDER BY 1, 2, 3, 4;
SELECT output FROM dataproduct.freshness ORDER BY 1;
-- nor the change activity of its outputs
SELECT pending FROM dataproduct.pending_changes('cs.per_ward');
SELECT pending FROM dataproduct.pending_changes('cs.targets');
SELECT output, name FROM dataproduct.checks;
SELECT output, check_name FROM dataproduct.check_results;
SELECT DISTINCT output FROM dataproduct.refreshes ORDER BY 1;
SELECT kind, address FROM dataproduct.search('initech');
SELECT kind, address FROM dataproduct.search('merger');
SELECT count(*) FROM dataproduct.visible_product WHERE name = 'merger';
RESET ROLE;
SELECT product_id AS merger_id FROM dataproduct.product WHERE name = 'merger' \gset
SET ROLE cs_mallory;
SELECT EXISTS (SELECT FROM dataproduct.visible_product WHERE product_id = :merger_id) AS mallory_sees_merger;
-- describe and health say the same of a draft as of what does not exist
SELECT dataproduct.describe('cs.merger');
SELECT dataproduct.describe('cs.nothing');
SELECT * FROM dataproduct.health('cs.merger');
SELECT * FROM dataproduct.health('cs.nothing');
-- the tables cannot be read around the views
SELECT name, description FROM dataproduct.product;
SELECT name FROM dataproduct.domain;
SELECT name, description FROM dataproduct.output;
SELECT description FROM dataproduct.quality_check;
SELECT count(*) FROM dataproduct.refresh_history;
SELECT count(*) FROM dataproduct.check_result;
-- nor a function slipped under the views' filter
SELECT count(*) FROM dataproduct.products WHERE pg_temp.peek(description);
SELECT count(*) FROM dataproduct.visible_product WHERE pg_temp.peek(contact);
SELECT count(*) FROM dataproduct.outputs WHERE pg_temp.peek(definition || description);
SELECT count(*) FROM dataproduct.products WHERE pg_temp.peek(array_to_string(tags, ','));
SELECT count(*) FROM dataproduct.lineage WHERE pg_temp.peek(source::text);
SELECT count(*) FROM dataproduct.checks WHERE pg_temp.peek(description);
SELECT count(*) FROM dataproduct.check_results WHERE pg_temp.peek(check_name);
SELECT count(*) FROM dataproduct.freshness WHERE pg_temp.peek(output::text);
RESET ROLE;
-- (the function does print what it sees: here, as the superuser)
SELECT count(*) FROM dataproduct.products WHERE pg_temp.peek(description);

-- a role granted one of the draft's outputs sees the draft
SET ROLE cs_alice;
GRANT SELECT ON cs.targets TO cs_reader;
RESET ROLE;
SET ROLE cs_reader;
SELECT product, description FROM dataproduct.products ORDER BY 1;
SELECT kind, address FROM dataproduct.search('initech') ORDER BY 2;
SELECT dataproduct.describe('cs.merger') -> 'contact';
RESET ROLE;
SET ROLE cs_alice;
REVOKE SELECT ON cs.targets FROM cs_reader;
RESET ROLE;

-- a published product reading the draft's output: its lineage names the
-- source, not the draft
SELECT dataproduct.create_product('cs.report');
SELECT dataproduct.alter_product('cs.report', status => 'published');
SET ROLE cs_alice;
SELECT dataproduct.add_output('cs.report', 'closing', 'SELECT ward FROM cs.targets', refresh => 'full');
SELECT output, source, source_kind, source_product FROM dataproduct.lineage WHERE output = 'cs.closing'::regclass;
RESET ROLE;
SET ROLE cs_mallory;
SELECT output, source, source_kind, source_product FROM dataproduct.lineage WHERE output = 'cs.closing'::regclass;
SELECT from_schema, from_name, from_kind, from_product, to_name, to_product
  FROM dataproduct.lineage_edges WHERE to_relation = 'cs.closing'::regclass;
SELECT dataproduct.describe('cs.report') -> 'outputs' -> 0 -> 'reads';
RESET ROLE;
-- the superuser sees everything
SELECT product, status FROM dataproduct.products ORDER BY 1;
SELECT count(*) FROM dataproduct.checks;

-- readers of an output not loaded yet get the output's error, not the catalog's
SET ROLE cs_alice;
SELECT dataproduct.add_output('cs.report', 'fresh', 'SELECT id FROM cs_sor.patients');
GRANT SELECT ON cs.fresh TO cs_reader;
RESET ROLE;
SET ROLE cs_reader;
SELECT * FROM cs.fresh;
RESET ROLE;

-- item: refresh intervals are bounded at declaration
SET ROLE cs_alice;
SELECT dataproduct.add_output('cs.report', 'rare', 'SELECT 1 AS one', refresh => 'full',
       min_interval => '1000000 years');
SELECT dataproduct.add_output('cs.report', 'rare', 'SELECT 1 AS one', refresh => 'full',
       schedule => '10 years 1 second');
SELECT dataproduct.alter_output('cs.closing', min_interval => '1 day -1 hour');
SELECT dataproduct.alter_output('cs.closing', schedule => '-1 hour');
SELECT dataproduct.alter_output('cs.closing', schedule => '1 mon -30 days');
SELECT dataproduct.alter_output('cs.closing', min_interval => '3601 days');
-- up to 10 years is fine
SELECT dataproduct.alter_output('cs.closing', min_interval => '10 years', schedule => '3600 days');
SELECT min_interval, schedule FROM dataproduct.outputs WHERE output = 'cs.closing'::regclass;
SELECT dataproduct.alter_output('cs.closing', min_interval => '0', schedule => '0');
RESET ROLE;

-- item: one huge description (about 100 MB of words; 100 MB broke search()
-- for every role with "invalid memory alloc request size") does not break
-- search() for others, and its first words are still found
SET ROLE cs_alice;
SELECT dataproduct.alter_product('cs.wards',
       description => 'Ward occupancy telemetry ' || repeat('ab ', 34000000));
RESET ROLE;
SELECT octet_length(description) > 100000000 AS huge FROM dataproduct.products WHERE product = 'cs.wards';
SET ROLE cs_mallory;
SELECT kind, address FROM dataproduct.search('occupancy');
SELECT kind, address FROM dataproduct.search('ward') ORDER BY 2;
SELECT count(*) FROM dataproduct.search('nothing matches this');
-- nor does a huge query
SELECT count(*) FROM dataproduct.search(repeat('ab ', 3400000));
RESET ROLE;
DROP FUNCTION pg_temp.peek(text);

-- item: catalog tools see the API, not the plumbing.  Only product owners
-- have USAGE on dataproduct_internal; consumers read output views (whose
-- store and guard are bound) and call the API, whose helpers moved there.
SELECT r.rolname, has_schema_privilege(r.oid, 'dataproduct_internal', 'USAGE') AS internal
  FROM pg_roles r WHERE r.rolname IN ('cs_team', 'cs_alice', 'cs_reader', 'cs_mallory') ORDER BY 1;
SELECT count(*) AS public_usage
  FROM pg_namespace n, aclexplode(n.nspacl) a
 WHERE n.nspname = 'dataproduct_internal' AND a.grantee = 0;
SELECT p.proname
  FROM pg_proc p WHERE p.pronamespace = 'dataproduct'::regnamespace ORDER BY 1;
SELECT p.proname
  FROM pg_proc p WHERE p.pronamespace = 'dataproduct_internal'::regnamespace ORDER BY 1;
SELECT obj_description('dataproduct'::regnamespace, 'pg_namespace') IS NOT NULL AS api_schema_commented;
GRANT SELECT ON cs.per_ward TO cs_reader;
SET ROLE cs_reader;
SELECT * FROM cs.per_ward ORDER BY 1;
SELECT kind, address, access FROM dataproduct.search('ward') ORDER BY 2;
SELECT pg_get_viewdef('cs.per_ward'::regclass) ~ 'dataproduct_internal\.output_\d+_store' AS viewdef_readable;
SELECT * FROM dataproduct_internal.output_1_store;
RESET ROLE;
REVOKE SELECT ON cs.per_ward FROM cs_reader;
-- the output view's COMMENT: description, then the product's metadata,
-- kept true when it changes; column comments stay
SELECT obj_description('cs.per_ward'::regclass, 'pg_class');
SET ROLE cs_alice;
SELECT dataproduct.alter_product('cs.wards', version => '1.1.0', max_staleness => '5 minutes');
SELECT dataproduct.alter_output('cs.per_ward', description => 'Patients in each ward');
RESET ROLE;
SELECT obj_description('cs.per_ward'::regclass, 'pg_class');
SELECT obj_description('cs.targets'::regclass, 'pg_class');
SELECT col_description('cs.targets'::regclass, 2);
-- a new owner gets USAGE, the old one loses it with its last product
CREATE ROLE cs_newteam NOLOGIN;
GRANT USAGE ON SCHEMA cs_sor TO cs_newteam;
GRANT SELECT ON cs_sor.patients TO cs_newteam;
SELECT dataproduct.create_product('cs.solo', owner => 'cs_reader');
SELECT has_schema_privilege('cs_reader', 'dataproduct_internal', 'USAGE') AS reader_owns_solo;
SELECT dataproduct.alter_product('cs.solo', owner => 'cs_newteam');
SELECT r.rolname, has_schema_privilege(r.oid, 'dataproduct_internal', 'USAGE') AS internal
  FROM pg_roles r WHERE r.rolname IN ('cs_reader', 'cs_newteam') ORDER BY 1;
SELECT dataproduct.drop_product('cs.solo');
SELECT has_schema_privilege('cs_newteam', 'dataproduct_internal', 'USAGE') AS newteam_after_drop;
DROP OWNED BY cs_newteam;
DROP ROLE cs_newteam;

-- drops by the owner's members still work
SET ROLE cs_alice;
SELECT dataproduct.drop_output('cs.closing');
SELECT dataproduct.drop_product('cs.merger', cascade => true);
SELECT dataproduct.drop_domain('cs', cascade => true);
RESET ROLE;
DROP SCHEMA cs_sor CASCADE;
REVOKE TEMPORARY ON DATABASE contrib_regression FROM cs_mallory;
DROP ROLE cs_alice, cs_reader, cs_mallory, cs_team;
DROP EXTENSION pg_dataproduct;
