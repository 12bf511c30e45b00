-- pgTAP: invariants that hold between the catalog and the objects it names,
-- after a series of declarations, changes and drops; and the error codes
-- the API raises.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION pg_dataproduct;
SELECT plan(48);

CREATE ROLE tap_team;
CREATE ROLE tap_other;
CREATE ROLE tap_outsider;
CREATE TABLE public.tap_src (k int, v numeric, note text);
INSERT INTO public.tap_src SELECT g % 5, g, 'n' || g FROM generate_series(1, 100) g;
GRANT SELECT ON public.tap_src TO tap_team, tap_other;
CREATE TABLE public.tap_part (k int, v int) PARTITION BY LIST (k);
CREATE TABLE public.tap_part_1 PARTITION OF public.tap_part FOR VALUES IN (1);
GRANT SELECT ON public.tap_part TO tap_team, tap_other;

SELECT lives_ok($$SELECT dataproduct.create_domain('tap', owner => 'tap_team')$$, 'create_domain');
SELECT lives_ok($$SELECT dataproduct.create_product('tap.a')$$, 'create_product a');
SELECT lives_ok($$SELECT dataproduct.create_product('tap.b', owner => 'tap_other')$$, 'create_product b');
SELECT lives_ok($$SELECT dataproduct.add_output('tap.a', 'sums', 'SELECT k, sum(v) AS v FROM public.tap_src GROUP BY k')$$, 'add_output sums');
SELECT lives_ok($$SELECT dataproduct.add_output('tap.a', 'notes', 'SELECT k, note FROM public.tap_src')$$, 'add_output notes');
SELECT lives_ok($$SELECT dataproduct.refresh('tap.sums')$$, 'first refresh loads');
SELECT lives_ok($$SELECT dataproduct.add_output('tap.a', 'parts', 'SELECT k, count(*) AS n FROM public.tap_part GROUP BY k')$$, 'add_output on a partitioned table');
CREATE TABLE public.tap_part_2 (k int, v int);
SELECT lives_ok($$ALTER TABLE public.tap_part ATTACH PARTITION public.tap_part_2 FOR VALUES IN (2)$$, 'a partition attached');
GRANT USAGE ON SCHEMA tap TO tap_other;
SET ROLE tap_team;
GRANT SELECT ON tap.sums TO tap_other;
RESET ROLE;
SELECT lives_ok($$SELECT dataproduct.add_output('tap.b', 'top', 'SELECT k FROM tap.sums WHERE v > 1000')$$, 'add_output on an output');
SELECT lives_ok($$SELECT dataproduct.alter_product('tap.a', owner => 'tap_other')$$, 'owner change');
SELECT lives_ok($$SELECT dataproduct.drop_output('tap.notes')$$, 'drop_output');
SELECT lives_ok($$SELECT dataproduct.refresh('tap.top')$$, 'refresh on an output');

-- the invariants
SELECT is_empty($$SELECT o.output_id FROM dataproduct.output o
                   WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = o.view AND c.relkind = 'v')
                      OR NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = o.store AND c.relkind = 'r')
                      OR NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = o.query_view AND c.relkind = 'v')$$,
                'every output names an existing view, store and query view');
SELECT is_empty($$SELECT o.output_id FROM dataproduct.output o
                   JOIN dataproduct.product p USING (product_id)
                   JOIN pg_class c ON c.oid IN (o.view, o.store, o.query_view)
                  WHERE c.relowner <> p.owner$$,
                'the product owner owns every relation of its outputs');
SELECT is_empty($$SELECT o.output_id FROM dataproduct.output o
                   JOIN dataproduct.product p USING (product_id)
                   JOIN dataproduct.domain d USING (domain_id)
                   JOIN pg_class c ON c.oid = o.view
                  WHERE c.relnamespace <> d.schema OR c.relname <> o.name$$,
                'every output view is <domain>.<name>');
SELECT is_empty($$SELECT o.output_id FROM dataproduct.output o
                   JOIN pg_class c ON c.oid IN (o.store, o.query_view, o.pre_view)
                  WHERE c.relnamespace <> 'dataproduct_internal'::regnamespace$$,
                'stores, query and pre views are internal');
SELECT is_empty($$SELECT o.output_id FROM dataproduct.output o
                   JOIN dataproduct.product p USING (product_id)
                   JOIN pg_class c ON c.oid = o.pre_view
                  WHERE c.relowner <> p.owner$$,
                'the product owner owns the pre views');
SELECT is_empty($$SELECT s.source_id FROM dataproduct.source s
                   WHERE NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = s.relation
                                       AND t.tgname = '__dp_capture' AND t.tgenabled = 'A')
                      OR NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = s.relation
                                       AND t.tgname = '__dp_capture_truncate' AND t.tgenabled = 'A')$$,
                'every captured relation has both capture triggers, always enabled');
SELECT is_empty($$SELECT p.relid FROM dataproduct.source s, pg_partition_tree(s.relation) p
                   WHERE NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = p.relid
                                       AND t.tgname = '__dp_capture' AND t.tgenabled = 'A')
                      OR NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = p.relid
                                       AND t.tgname = '__dp_capture_truncate' AND t.tgenabled = 'A')$$,
                'every partition of a captured relation has both capture triggers, always enabled');
SELECT is_empty($$SELECT s.source_id FROM dataproduct.source s
                   WHERE NOT EXISTS (SELECT 1 FROM dataproduct.output_source os WHERE os.source_id = s.source_id)$$,
                'every captured relation has a consumer');
SELECT is_empty($$SELECT o.output_id FROM dataproduct.output o
                   WHERE (o.mode = 'incremental') <> (o.pre_view IS NOT NULL)
                      OR (o.mode = 'incremental' AND o.snapshot IS NULL)$$,
                'incremental outputs have a pre view and a snapshot, full ones no pre view');
SELECT is_empty($$SELECT o.output_id, a.attname FROM dataproduct.output o
                   JOIN pg_attribute a ON a.attrelid = o.view AND a.attnum > 0
                  WHERE NOT EXISTS (SELECT 1 FROM pg_attribute b
                                     WHERE b.attrelid = o.query_view AND b.attname = a.attname
                                       AND b.atttypid = a.atttypid AND b.attnum = a.attnum)$$,
                'every output view has its query''s columns, in order and type');
SELECT is_empty($$SELECT d.domain_id FROM dataproduct.domain d
                   WHERE NOT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.oid = d.schema AND n.nspname = d.name)$$,
                'every domain has its schema');
SELECT is_empty($$SELECT c.relname FROM pg_class c
                   WHERE c.relnamespace = 'dataproduct_internal'::regnamespace
                     AND c.oid NOT IN (SELECT store FROM dataproduct.output UNION ALL SELECT query_view FROM dataproduct.output
                                       UNION ALL SELECT pre_view FROM dataproduct.output WHERE pre_view IS NOT NULL
                                       UNION ALL SELECT log FROM dataproduct.source)
                     AND c.relkind IN ('r', 'v')$$,
                'no orphan relation in dataproduct_internal');
SELECT is((SELECT count(*)::int FROM dataproduct.outputs WHERE status = 'ok'), 2, 'both outputs refreshed');
SELECT bag_eq($$SELECT * FROM tap.top$$, $$SELECT k FROM tap.sums WHERE v > 1000$$, 'an output on an output equals its query');
SELECT bag_eq($$SELECT * FROM tap.sums$$, $$SELECT k, sum(v) FROM public.tap_src GROUP BY k$$,
              'the store equals its query');

-- privileges hold
SET ROLE tap_outsider;
SELECT throws_ok($$SELECT dataproduct.refresh('tap.sums')$$, '42501', NULL, 'outsider cannot refresh');
SELECT throws_ok($$SELECT dataproduct.create_product('tap.c')$$, '42501', NULL, 'outsider cannot create products');
SELECT throws_ok($$UPDATE dataproduct.product SET owner = 'tap_outsider'$$, '42501', NULL, 'outsider cannot write the catalog');
SELECT throws_ok($$SELECT * FROM dataproduct.product$$, '42501', NULL, 'nor read its tables');
SELECT is((SELECT count(*)::int FROM dataproduct.products) + (SELECT count(*)::int FROM dataproduct.outputs)
          + (SELECT count(*)::int FROM dataproduct.lineage), 0,
          'and sees no draft product, output or lineage in the views');
SELECT throws_ok($$SELECT dataproduct.describe('tap.a')$$, '42704', 'data product "tap.a" does not exist',
                 'describe of a draft: does not exist');
SELECT throws_ok($$SELECT dataproduct.health('tap.a')$$, '42704', 'data product "tap.a" does not exist',
                 'health of a draft: does not exist');
RESET ROLE;

-- error codes
SELECT throws_ok($$SELECT dataproduct.create_domain('Bad')$$, '42602', NULL, 'invalid name: 42602');
SELECT throws_ok($$SELECT dataproduct.create_domain('pg_x')$$, '42939', NULL, 'reserved name: 42939');
SELECT throws_ok($$SELECT dataproduct.create_domain('tap')$$, '42710', NULL, 'duplicate domain: 42710');
SELECT throws_ok($$SELECT dataproduct.create_product('nope.x')$$, '42704', NULL, 'unknown domain: 42704');
SELECT throws_ok($$SELECT dataproduct.create_product('tap.x', version => '1')$$, '22023', NULL, 'bad version: 22023');
SELECT throws_ok($$SELECT dataproduct.add_output('tap.a', 'x', 'DELETE FROM public.tap_src')$$, '22023', NULL, 'not a SELECT: 22023');
SELECT throws_ok($$SELECT dataproduct.add_output('tap.a', 'x', 'SELECT 1')$$, '42611', NULL, 'unnamed column: 42611');
SELECT throws_ok($$SELECT dataproduct.add_output('tap.a', 'x', 'SELECT 1 AS a, 2 AS a')$$, '42701', NULL, 'duplicate column: 42701');
SELECT throws_ok($$SELECT dataproduct.add_output('tap.a', 'sums', 'SELECT 1 AS a')$$, '42P07', NULL, 'existing output name: 42P07');
SELECT throws_ok($$SELECT dataproduct.add_output('tap.a', 'x', 'SELECT k FROM public.tap_src LIMIT 3', refresh => 'incremental')$$, '0A000', NULL, 'not incremental: 0A000');
SELECT throws_ok($$SELECT dataproduct.drop_output('tap.sums')$$, '2BP01', NULL, 'drop with readers: 2BP01');
SELECT throws_ok($$SELECT dataproduct.alter_product('tap.a', status => 'deprecated')$$, '22023', NULL, 'draft cannot be deprecated: 22023');
SELECT throws_ok($$SELECT dataproduct.add_output('tap.a', NULL, 'SELECT 1 AS a')$$, '22004', NULL, 'null name: 22004');

-- a transaction that wrote a source cannot refresh its outputs
INSERT INTO public.tap_src VALUES (9, 5000, 'x');
SELECT throws_ok($$SELECT dataproduct.refresh('tap.sums')$$, '55000', NULL,
                 'refresh in the transaction that wrote a source: 55000');

SELECT * FROM finish();
ROLLBACK;
