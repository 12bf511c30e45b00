--
-- Lineage: derived from the analysed output queries, through plain views,
-- across products; never typed by hand.
--
CREATE EXTENSION pg_dataproduct;
CREATE SCHEMA ln_sor;
CREATE TABLE ln_sor.accounts (account_id int PRIMARY KEY, country text);
CREATE TABLE ln_sor.plays (account_id int, track_id int, ms int);
CREATE TABLE ln_sor.tracks (track_id int PRIMARY KEY, artist text);
CREATE TABLE ln_sor.events (at date, kind text) PARTITION BY RANGE (at);
CREATE TABLE ln_sor.events_2026 PARTITION OF ln_sor.events
  FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE VIEW ln_sor.eu_accounts AS SELECT * FROM ln_sor.accounts WHERE country IN ('de', 'fr');
CREATE VIEW ln_sor.eu_plays AS
  SELECT p.* FROM ln_sor.plays p JOIN ln_sor.eu_accounts a USING (account_id);
INSERT INTO ln_sor.accounts VALUES (1, 'de'), (2, 'us'), (3, 'fr');
INSERT INTO ln_sor.tracks VALUES (10, 'a'), (11, 'b');
INSERT INTO ln_sor.plays VALUES (1, 10, 100), (2, 10, 50), (3, 11, 70), (1, 11, 30);
INSERT INTO ln_sor.events VALUES ('2026-05-01', 'signup');

SELECT dataproduct.create_domain('ln');
SELECT dataproduct.create_product('ln.listening');
SELECT dataproduct.create_product('ln.reports');

-- tables, twice-read tables, subqueries, CTEs
SELECT dataproduct.add_output('ln.listening', 'artist_ms',
       $$WITH t AS (SELECT * FROM ln_sor.tracks)
         SELECT t.artist, sum(p.ms) AS ms
           FROM ln_sor.plays p JOIN t USING (track_id)
          WHERE p.account_id IN (SELECT account_id FROM ln_sor.accounts)
            AND p.track_id IN (SELECT track_id FROM ln_sor.tracks)
          GROUP BY t.artist$$);
-- through two levels of views
SELECT dataproduct.add_output('ln.listening', 'eu_ms',
       'SELECT track_id, sum(ms) AS ms FROM ln_sor.eu_plays GROUP BY track_id');
-- a partitioned table
SELECT dataproduct.add_output('ln.listening', 'event_kinds',
       'SELECT kind, count(*) AS n FROM ln_sor.events GROUP BY kind');
-- another product's output (populated first: it is maintained incrementally)
SELECT dataproduct.refresh('ln.artist_ms') > 0 AS populated;
SELECT dataproduct.add_output('ln.reports', 'top_artist',
       'SELECT artist, ms FROM ln.artist_ms ORDER BY ms DESC LIMIT 1');

SELECT output, product, source, source_kind, source_product, via, depth
  FROM dataproduct.lineage ORDER BY output::text, depth, source::text;

-- the same as a graph for tools: edges between schema-qualified names
SELECT from_schema, from_name, from_kind, from_product, to_schema, to_name, to_kind, to_product
  FROM dataproduct.lineage_edges ORDER BY to_schema, to_name, from_schema, from_name;
-- every edge's ends are the lineage rows' relations
SELECT count(*) AS unmatched FROM dataproduct.lineage_edges e
 WHERE NOT EXISTS (SELECT 1 FROM dataproduct.lineage l
                    WHERE l.source = e.from_relation AND coalesce(l.via, l.output) = e.to_relation);

SELECT * FROM ln.top_artist;

-- lineage is read live: redefining a view in the chain shows at once
CREATE OR REPLACE VIEW ln_sor.eu_accounts AS
  SELECT a.* FROM ln_sor.accounts a JOIN ln_sor.tracks t ON t.track_id = a.account_id;
SELECT source, via, depth FROM dataproduct.lineage
 WHERE output = 'ln.eu_ms'::regclass ORDER BY depth, source::text;

-- outputs downstream of a table, the question a source owner asks
SELECT DISTINCT output FROM dataproduct.lineage
 WHERE source = 'ln_sor.tracks'::regclass ORDER BY 1;

SELECT dataproduct.drop_domain('ln', cascade => true);
DROP SCHEMA ln_sor CASCADE;

-- the extension goes cleanly once nothing is declared
DROP EXTENSION pg_dataproduct;
