--
-- Product lifecycle and versions: alter_product.
--
CREATE EXTENSION pg_dataproduct;
CREATE ROLE lc_team NOLOGIN;
CREATE ROLE lc_other NOLOGIN;
SELECT dataproduct.create_domain('lc', owner => 'lc_team');
SELECT dataproduct.create_product('lc.p', version => '1.0.0', description => 'first');

-- NULL arguments leave fields alone; updated_at moves
SELECT updated_at AS before FROM dataproduct.products WHERE product = 'lc.p' \gset
SELECT pg_sleep(0.01);
SELECT dataproduct.alter_product('lc.p', description => 'second', tags => '{a,b}',
                                 contact => '#lc-team');
SELECT description, version, status, tags, contact, owner, updated_at > :'before' AS touched
  FROM dataproduct.products WHERE product = 'lc.p';

-- versions move forward by semver precedence, never back
SELECT dataproduct.alter_product('lc.p', version => '1.0.1');
SELECT dataproduct.alter_product('lc.p', version => '1.0.0');
SELECT dataproduct.alter_product('lc.p', version => '1.10.0');
SELECT dataproduct.alter_product('lc.p', version => '1.9.9');
SELECT dataproduct.alter_product('lc.p', version => '2.0.0-rc.1');
SELECT dataproduct.alter_product('lc.p', version => '2.0.0-alpha');
SELECT dataproduct.alter_product('lc.p', version => '2.0.0-rc.2+build.7');
SELECT dataproduct.alter_product('lc.p', version => '2.0.0-rc.11');
SELECT dataproduct.alter_product('lc.p', version => '2.0.0');
SELECT dataproduct.alter_product('lc.p', version => '2.0.0-rc.12');
SELECT dataproduct.alter_product('lc.p', version => '2.0.0');
SELECT dataproduct.alter_product('lc.p', version => 'two');
SELECT version FROM dataproduct.products WHERE product = 'lc.p';

-- lifecycle: draft -> published -> deprecated -> published -> deprecated -> retired
SELECT dataproduct.alter_product('lc.p', status => 'deprecated');
SELECT dataproduct.alter_product('lc.p', status => 'published');
SELECT dataproduct.alter_product('lc.p', status => 'published');
SELECT dataproduct.alter_product('lc.p', status => 'draft');
SELECT dataproduct.alter_product('lc.p', status => 'retired');
SELECT dataproduct.alter_product('lc.p', status => 'deprecated');
SELECT dataproduct.alter_product('lc.p', status => 'published');
SELECT dataproduct.alter_product('lc.p', status => 'deprecated');
SELECT dataproduct.alter_product('lc.p', status => 'sunset');
SELECT status FROM dataproduct.products WHERE product = 'lc.p';

-- an output of a product to be retired
CREATE TABLE lc_source (k int, v int);
INSERT INTO lc_source VALUES (1, 10), (1, 20), (2, 5);
GRANT SELECT ON lc_source TO lc_team;
SELECT dataproduct.add_output('lc.p', 'totals', 'SELECT k, sum(v) AS v FROM public.lc_source GROUP BY k');
SELECT dataproduct.refresh('lc.totals');
SELECT dataproduct.alter_product('lc.p', status => 'retired');
-- retired is final, and a retired product gets no new outputs or refreshes,
-- while its last data stays readable
SELECT dataproduct.alter_product('lc.p', status => 'published');
SELECT dataproduct.alter_product('lc.p', status => 'draft');
SELECT dataproduct.add_output('lc.p', 'more', 'SELECT 1 AS one');
INSERT INTO lc_source VALUES (3, 1);
SELECT dataproduct.refresh('lc.totals');
SELECT * FROM lc.totals ORDER BY k;

-- draft products can be retired directly
SELECT dataproduct.create_product('lc.q');
SELECT dataproduct.alter_product('lc.q', status => 'retired');

-- a transfer of ownership moves every object of the product
SELECT dataproduct.create_product('lc.r');
SELECT dataproduct.add_output('lc.r', 'r_totals', 'SELECT k, count(*) AS n FROM public.lc_source GROUP BY k');
SELECT dataproduct.refresh('lc.r_totals');
GRANT SELECT ON lc_source TO lc_other;
SELECT dataproduct.alter_product('lc.r', owner => 'lc_other');
SELECT owner FROM dataproduct.products WHERE product = 'lc.r';
SELECT DISTINCT c.relowner::regrole FROM dataproduct.output o
  JOIN pg_class c ON c.oid IN (o.view, o.store, o.query_view)
 WHERE o.view = 'lc.r_totals'::regclass;
SELECT dataproduct.refresh('lc.r_totals');

-- ... and is refused, undone, if the new owner cannot read the sources
REVOKE SELECT ON lc_source FROM lc_team;
SELECT dataproduct.alter_product('lc.r', owner => 'lc_team');
SELECT owner FROM dataproduct.products WHERE product = 'lc.r';
SELECT DISTINCT c.relowner::regrole FROM dataproduct.output o
  JOIN pg_class c ON c.oid IN (o.view, o.store, o.query_view)
 WHERE o.view = 'lc.r_totals'::regclass;

SELECT dataproduct.drop_domain('lc', cascade => true);
DROP TABLE lc_source;
DROP ROLE lc_team, lc_other;

-- the extension goes cleanly once nothing is declared
DROP EXTENSION pg_dataproduct;
