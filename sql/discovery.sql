--
-- Discovery and self-description: documented columns, freshness promises,
-- health, search and describe.
--
CREATE EXTENSION pg_dataproduct;
CREATE ROLE ds_team;
CREATE ROLE ds_reader;
CREATE ROLE ds_stranger;
CREATE SCHEMA ds_sor;
CREATE TABLE ds_sor.plays (id int PRIMARY KEY, track int, ms int, skipped boolean);
CREATE TABLE ds_sor.subscriptions (id int PRIMARY KEY, plan text, price numeric);
INSERT INTO ds_sor.plays SELECT g, g % 7, g * 100, g % 5 = 0 FROM generate_series(1, 50) g;
INSERT INTO ds_sor.subscriptions SELECT g, (ARRAY['free', 'family'])[1 + g % 2], g FROM generate_series(1, 10) g;
GRANT USAGE ON SCHEMA ds_sor TO ds_team;
GRANT SELECT ON ALL TABLES IN SCHEMA ds_sor TO ds_team;

SELECT dataproduct.create_domain('listening', owner => 'ds_team', description => 'What people play');
SELECT dataproduct.create_domain('money', owner => 'ds_team');
SELECT dataproduct.create_product('listening.plays',
       description => 'Listening activity per track: plays and skips',
       version => '1.2.0', tags => '{engagement,streaming}', contact => '#listening',
       max_staleness => '5 minutes');
SELECT dataproduct.create_product('money.revenue',
       description => 'Recurring revenue by plan, including the family plan',
       tags => '{finance}');
SELECT dataproduct.create_product('money.secret_forecast',
       description => 'Confidential plays forecast');
SELECT dataproduct.add_output('listening.plays', 'track_plays',
       'SELECT track, count(*) AS plays, count(*) FILTER (WHERE skipped) AS skips FROM ds_sor.plays GROUP BY track',
       description => 'Plays and skips per track');
SELECT dataproduct.add_output('money.revenue', 'by_plan',
       'SELECT plan, sum(price) AS mrr FROM ds_sor.subscriptions GROUP BY plan',
       refresh => 'full', description => 'Monthly recurring revenue per plan');
-- (an output on another output cannot load before that one is)
SELECT dataproduct.add_output('money.secret_forecast', 'forecast',
       'SELECT track, plays * 2 AS expected_plays FROM listening.track_plays', refresh => 'full');

-- columns are documented as comments on the output views
SELECT dataproduct.comment_column('listening.track_plays', 'skips', 'Plays stopped before the end of the track');
SELECT dataproduct.comment_column('listening.track_plays', 'plays', 'Every time the track started');
SELECT attname, col_description(attrelid, attnum) FROM pg_attribute
 WHERE attrelid = 'listening.track_plays'::regclass AND attnum > 0 ORDER BY attnum;
SELECT dataproduct.comment_column('listening.track_plays', 'nope', 'x');
SELECT dataproduct.comment_column('ds_sor.plays', 'ms', 'x');

-- health: an output never loaded is a warning
SELECT * FROM dataproduct.health('listening.plays');
SELECT dataproduct.refresh('listening.track_plays');
SELECT dataproduct.add_output('money.secret_forecast', 'forecast',
       'SELECT track, plays * 2 AS expected_plays FROM listening.track_plays', refresh => 'full');
SELECT * FROM dataproduct.health('listening.plays');
SELECT product, health FROM dataproduct.products ORDER BY product;
-- a broken freshness promise makes it stale
UPDATE dataproduct.output SET last_refresh = now() - interval '1 hour' WHERE name = 'by_plan';
SELECT dataproduct.alter_product('money.revenue', max_staleness => '10 minutes');
SELECT status, reasons FROM dataproduct.health('money.revenue');
SELECT dataproduct.alter_product('money.revenue', max_staleness => '0');
SELECT status FROM dataproduct.health('money.revenue');
SELECT dataproduct.alter_product('money.revenue', max_staleness => '-1 minute');
SELECT * FROM dataproduct.health('money.nothing');

-- publish two products; the forecast stays a draft
SELECT dataproduct.alter_product('listening.plays', status => 'published');
SELECT dataproduct.alter_product('money.revenue', status => 'published');

-- search: an exact name outranks a mention in a description
SELECT kind, address, owner, status, health FROM dataproduct.search('plays');
SELECT kind, address FROM dataproduct.search('family plan');
-- column names and their comments are searched too
SELECT kind, address FROM dataproduct.search('skips');
SELECT kind, address FROM dataproduct.search('stopped before the end');
-- a typo still finds the product
SELECT kind, address FROM dataproduct.search('revenew');
SELECT kind, address FROM dataproduct.search('listning');
-- nothing matches
SELECT count(*) FROM dataproduct.search('xylophone');
-- a private product stays hidden from a role without access
SET ROLE ds_stranger;
SELECT kind, address FROM dataproduct.search('forecast');
SELECT dataproduct.describe('money.secret_forecast');
RESET ROLE;
SELECT kind, address FROM dataproduct.search('forecast');
-- ... and is found by a role that may read one of its outputs
GRANT USAGE ON SCHEMA money TO ds_reader;
SET ROLE ds_team;
GRANT SELECT ON money.forecast TO ds_reader;
RESET ROLE;
SET ROLE ds_reader;
SELECT kind, address FROM dataproduct.search('forecast');
RESET ROLE;

-- describe: one document with everything a consumer needs
SELECT jsonb_pretty(dataproduct.describe('listening.plays') - 'outputs' - 'health');
SELECT jsonb_pretty(dataproduct.describe('listening.plays') -> 'health');
SELECT o - 'last_refresh' - 'staleness' AS output
  FROM jsonb_array_elements(dataproduct.describe('listening.plays') -> 'outputs') o;
SELECT jsonb_pretty(dataproduct.describe('money.secret_forecast') -> 'outputs' -> 0 -> 'reads');
SELECT dataproduct.describe('nowhere.nothing');

-- the similarity behind typo tolerance
SELECT dataproduct_internal.word_similarity('revenue', 'recurring revenue by plan'),
       dataproduct_internal.word_similarity('revenew', 'revenue'),
       dataproduct_internal.word_similarity('xylophone', 'revenue');

SELECT dataproduct.drop_domain('money', cascade => true);
SELECT dataproduct.drop_domain('listening', cascade => true);
DROP SCHEMA ds_sor CASCADE;
DROP ROLE ds_team, ds_reader, ds_stranger;

-- the extension goes cleanly once nothing is declared
DROP EXTENSION pg_dataproduct;
