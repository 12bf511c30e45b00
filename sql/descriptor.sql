--
-- Descriptors: export() of a product as an ODCS data contract or an ODPS
-- data product, and apply() of a contract, idempotent, with version rules.
--
CREATE EXTENSION pg_dataproduct;
CREATE ROLE dsc_team;
CREATE ROLE dsc_dev IN ROLE dsc_team;
CREATE ROLE dsc_reader;
CREATE ROLE dsc_other;
CREATE SCHEMA dsc_sor;
CREATE TABLE dsc_sor.plays (id int PRIMARY KEY, track int NOT NULL, ms bigint,
                            day date, country varchar(2));
CREATE TABLE dsc_sor.tracks (track int PRIMARY KEY, title text);
INSERT INTO dsc_sor.tracks SELECT g, 'track ' || g FROM generate_series(0, 6) g;
INSERT INTO dsc_sor.plays SELECT g, g % 7, g * 100, date '2024-01-01' + g % 3,
                                 (ARRAY['SE', 'FR'])[1 + g % 2]
  FROM generate_series(1, 40) g;
GRANT USAGE ON SCHEMA dsc_sor TO dsc_team;
GRANT SELECT ON ALL TABLES IN SCHEMA dsc_sor TO dsc_team;
GRANT CREATE ON DATABASE contrib_regression TO dsc_team;

SET ROLE dsc_dev;
SELECT dataproduct.create_domain('listen', owner => 'dsc_team');
SELECT dataproduct.create_product('listen.plays', description => 'Listening per track and day',
       version => '1.0.0', tags => '{streaming}', contact => '#listen',
       max_staleness => '5 minutes');
SELECT dataproduct.add_output('listen.plays', 'daily',
       'SELECT p.track, t.title, p.day, count(*) AS plays, sum(p.ms) AS ms
          FROM dsc_sor.plays p JOIN dsc_sor.tracks t USING (track) GROUP BY 1, 2, 3',
       description => 'Plays per track and day');
SELECT dataproduct.add_output('listen.plays', 'raw', 'SELECT id, track, country FROM dsc_sor.plays',
       refresh => 'full', schedule => '1 hour');
SELECT dataproduct.comment_column('listen.daily', 'plays', 'Times the track started');
SELECT dataproduct.add_check('listen.daily', 'not_null', "column" => 'title');
SELECT dataproduct.add_check('listen.daily', 'range', "column" => 'plays', min => '1', severity => 'warning');
SELECT dataproduct.add_check('listen.daily', 'unique', columns => '{track,day}');
SELECT dataproduct.add_check('listen.daily', 'row_count', min => '1', max => '1000');
SELECT dataproduct.add_check('listen.raw', 'accepted_values', "column" => 'country', "values" => '{SE,FR,DE}',
       description => 'Countries we serve');
SELECT dataproduct.add_check('listen.raw', 'relationship', "column" => 'track',
       to_relation => 'dsc_sor.tracks', to_column => 'track');
SELECT dataproduct.add_check('listen.raw', 'freshness', max_staleness => '1 hour');
SELECT dataproduct.add_check('listen.raw', 'custom', name => 'no_negative_ids',
       sql => 'SELECT * FROM listen.raw WHERE id < 0');
GRANT SELECT ON listen.daily TO dsc_reader;
RESET ROLE;
SELECT dataproduct.refresh('listen.daily');

-- the contract: the server's host and the creation time vary from run to run
CREATE FUNCTION pg_temp.shown(d jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_set(d - 'contractCreatedTs' - 'productCreatedTs', '{servers,0,host}', '"(host)"', false)
$$;
SELECT jsonb_pretty(pg_temp.shown(dataproduct.export('listen.plays')));
SELECT jsonb_pretty(pg_temp.shown(dataproduct.export('listen.plays', 'odps')));
SELECT dataproduct.export('listen.plays', 'yaml');
SELECT dataproduct.export('listen.nope');
-- a role that may not see the product does not find it
SET ROLE dsc_other;
SELECT dataproduct.export('listen.plays');
RESET ROLE;

-- the grain: the group keys, or none for plain rows
SELECT key FROM dataproduct.output_contract('listen.daily');
SELECT key FROM dataproduct.output_contract('listen.raw');
SELECT dataproduct.compare_versions('1.0.0', '1.0.0-rc.1'), dataproduct.compare_versions('1.2.0', '1.10.0'),
       dataproduct.compare_versions('2.0.0+b1', '2.0.0');
SELECT dataproduct.compare_versions('1.0', '1.0.0');

-- applying the export changes nothing
CREATE TABLE pg_temp.contract AS SELECT dataproduct.export('listen.plays') AS doc;
GRANT ALL ON pg_temp.contract TO dsc_dev;
SET ROLE dsc_dev;
SELECT * FROM dataproduct.apply((SELECT doc FROM pg_temp.contract));
-- a change at the same version is refused; so is going back
SELECT * FROM dataproduct.apply(jsonb_set((SELECT doc FROM pg_temp.contract),
       '{description,purpose}', '"Listening, per track and day"'));
SELECT * FROM dataproduct.apply(jsonb_set((SELECT doc FROM pg_temp.contract), '{version}', '"0.9.0"'));
-- a dry run plans, and changes nothing
SELECT * FROM dataproduct.apply(jsonb_set(jsonb_set((SELECT doc FROM pg_temp.contract),
       '{description,purpose}', '"Listening, per track and day"'), '{version}', '"1.1.0"'), dry_run => true);
SELECT version, description FROM dataproduct.products WHERE product = 'listen.plays';
-- applied: description, a check's severity, a column description, a new check
UPDATE pg_temp.contract SET doc = jsonb_set(jsonb_set(jsonb_set(jsonb_set(doc,
         '{description,purpose}', '"Listening, per track and day"'), '{version}', '"1.1.0"'),
         '{schema,0,properties,1,quality,0,severity}', '"warning"'),
         '{schema,0,properties,1,description}', '"Title of the track"');
-- ... the status, and a check's bound (the check is declared again)
UPDATE pg_temp.contract SET doc = jsonb_set(jsonb_set(doc, '{status}', '"active"'),
         '{schema,0,properties,3,quality,0,implementation,min}', '"0"');
UPDATE pg_temp.contract SET doc = jsonb_insert(doc, '{schema,1,quality,0}',
         '{"name": "some_rows", "type": "library", "metric": "rowCount", "mustBeGreaterThan": 0}');
SELECT * FROM dataproduct.apply((SELECT doc FROM pg_temp.contract));
SELECT * FROM dataproduct.apply((SELECT doc FROM pg_temp.contract));
SELECT version, status, description FROM dataproduct.products WHERE product = 'listen.plays';
SELECT output, name, kind, params, severity FROM dataproduct.checks WHERE product = 'listen.plays' ORDER BY 1, 2;
-- a removed output stays unless drop_missing; dropping it is breaking
UPDATE pg_temp.contract SET doc = jsonb_set(doc #- '{schema,1}', '{version}', '"1.2.0"');
SELECT * FROM dataproduct.apply((SELECT doc FROM pg_temp.contract));
SELECT * FROM dataproduct.apply((SELECT doc FROM pg_temp.contract), drop_missing => true);
UPDATE pg_temp.contract SET doc = jsonb_set(doc, '{version}', '"2.0.0"');
SELECT * FROM dataproduct.apply((SELECT doc FROM pg_temp.contract), drop_missing => true);
SELECT output FROM dataproduct.outputs WHERE product = 'listen.plays' ORDER BY 1;
-- a query whose columns change: a column removed is breaking
UPDATE pg_temp.contract SET doc = jsonb_set(jsonb_set(doc #- '{schema,0,properties,4}', '{version}', '"2.1.0"'),
         '{schema,0,customProperties,0,value}',
         '"SELECT p.track, t.title, p.day, count(*) AS plays FROM dsc_sor.plays p JOIN dsc_sor.tracks t USING (track) GROUP BY 1, 2, 3"');
SELECT * FROM dataproduct.apply((SELECT doc FROM pg_temp.contract));
UPDATE pg_temp.contract SET doc = jsonb_set(doc, '{version}', '"3.0.0"');
SELECT * FROM dataproduct.apply((SELECT doc FROM pg_temp.contract));
SELECT * FROM dataproduct.apply((SELECT doc FROM pg_temp.contract));
-- properties that are not the query's columns are refused
SELECT * FROM dataproduct.apply(jsonb_set(jsonb_set((SELECT doc FROM pg_temp.contract), '{version}', '"3.0.1"'),
       '{schema,0,properties,3,physicalType}', '"text"'));
RESET ROLE;

-- a new product from a document, in a new domain
SELECT * FROM dataproduct.apply(jsonb_set(jsonb_set((SELECT doc FROM pg_temp.contract), '{domain}', '"listen2"'),
       '{schema,0,customProperties,0,value}', '"SELECT track, count(*) AS plays FROM dsc_sor.plays GROUP BY track"')
       #- '{schema,0,properties}', dry_run => true);

-- bad documents
SELECT * FROM dataproduct.apply('[1]');
SELECT * FROM dataproduct.apply(NULL);
SELECT * FROM dataproduct.apply('{"kind": "DataProduct", "apiVersion": "v1.0.0"}');
SELECT * FROM dataproduct.apply('{"kind": "Table", "apiVersion": "v3.1.0"}');
SELECT * FROM dataproduct.apply('{"kind": "DataContract", "apiVersion": "v2.2.2"}');
SELECT * FROM dataproduct.apply('{"kind": "DataContract", "apiVersion": "v3.1.0", "domain": "listen"}');
SELECT * FROM dataproduct.apply('{"kind": "DataContract", "apiVersion": "v3.1.0", "domain": "listen", "name": 3}');
SELECT * FROM dataproduct.apply('{"kind": "DataContract", "apiVersion": "v3.1.0", "domain": "listen", "name": "x"}');
SELECT * FROM dataproduct.apply('{"kind": "DataContract", "apiVersion": "v3.1.0", "domain": "listen", "name": "x", "version": "1.0"}');
SELECT * FROM dataproduct.apply('{"kind": "DataContract", "apiVersion": "v3.1.0", "domain": "listen", "name": "x", "version": "1.0.0", "status": "live"}');
SELECT * FROM dataproduct.apply('{"kind": "DataContract", "apiVersion": "v3.1.0", "domain": "listen", "name": "x", "version": "1.0.0",
                                  "schema": [{"name": "o"}]}');
SELECT * FROM dataproduct.apply('{"kind": "DataContract", "apiVersion": "v3.1.0", "domain": "listen", "name": "x", "version": "1.0.0",
                                  "schema": [{"name": "o", "customProperties": [{"property": "query", "value": "SELECT 1 AS one"}],
                                              "quality": [{"name": "q", "type": "library", "metric": "missingValues", "mustBe": 0}]}]}');

DROP TABLE pg_temp.contract;
DROP EXTENSION pg_dataproduct CASCADE;
DROP SCHEMA listen CASCADE;
DROP SCHEMA dsc_sor CASCADE;
REVOKE CREATE ON DATABASE contrib_regression FROM dsc_team;
DROP ROLE dsc_dev, dsc_team, dsc_reader, dsc_other;
