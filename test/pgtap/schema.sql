-- pgTAP: the shape of the extension's schema, and who may use what.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION pg_dataproduct;
SELECT plan(103);

SELECT has_schema('dataproduct');
SELECT has_schema('dataproduct_internal');
SELECT tables_are('dataproduct', ARRAY['domain', 'product', 'output', 'source', 'output_source', 'refresh_history',
                                      'quality_check', 'check_result', 'access_request']);
SELECT views_are('dataproduct', ARRAY['domains', 'products', 'outputs', 'lineage', 'freshness', 'checks', 'check_results',
                                     'refreshes', 'visible_product', 'visible_output', 'statistics', 'access', 'lineage_edges',
                                     'access_requests', 'load_progress']);
SELECT sequences_are('dataproduct', ARRAY['domain_id_seq', 'product_id_seq', 'output_id_seq', 'source_id_seq',
                                         'quality_check_check_id_seq', 'check_result_result_id_seq',
                                         'access_request_request_id_seq']);

-- keys and constraints of the catalog
SELECT col_is_pk('dataproduct', 'domain', 'domain_id', 'col_is_pk');
SELECT col_is_pk('dataproduct', 'product', 'product_id', 'col_is_pk');
SELECT col_is_pk('dataproduct', 'output', 'output_id', 'col_is_pk');
SELECT col_is_fk('dataproduct', 'product', 'domain_id', 'col_is_fk');
SELECT col_is_fk('dataproduct', 'output', 'product_id', 'col_is_fk');
SELECT col_is_unique('dataproduct', 'domain', 'name', 'col_is_unique');
SELECT col_is_unique('dataproduct', 'product', ARRAY['domain_id', 'name'], 'col_is_unique');
SELECT col_is_unique('dataproduct', 'output', 'view', 'col_is_unique');
SELECT col_type_is('dataproduct', 'output', 'view', 'regclass', 'col_type_is');
SELECT col_type_is('dataproduct', 'output', 'store', 'regclass', 'col_type_is');
SELECT col_type_is('dataproduct', 'product', 'owner', 'regrole', 'col_type_is');
SELECT col_type_is('dataproduct', 'product', 'tags', 'text[]', 'col_type_is');
SELECT col_has_check('dataproduct', 'product', 'status', 'col_has_check');
SELECT col_has_check('dataproduct', 'output', 'mode', 'col_has_check');

-- the columns the outputs view promises
SELECT columns_are('dataproduct', 'outputs', ARRAY[
    'output', 'product', 'name', 'mode', 'requested_mode', 'mode_reason', 'status',
    'last_refresh', 'last_refresh_kind', 'refresh_ms', 'min_interval', 'schedule', 'failures',
    'last_error', 'next_retry', 'rows_changed', 'row_count', 'description',
    'definition', 'created_at', 'last_error_code']);
SELECT has_column('dataproduct', 'output', 'last_error_code', 'the SQLSTATE of a failed refresh is recorded');
SELECT col_type_is('dataproduct', 'output', 'history', 'boolean', 'history outputs are marked');
SELECT has_column('dataproduct', 'refresh_history', 'error_code', 'and in the history');
SELECT columns_are('dataproduct', 'refreshes', ARRAY[
    'output', 'product', 'started_at', 'finished_at', 'kind', 'rows_changed', 'row_count',
    'error', 'error_code', 'by_worker']);
SELECT columns_are('dataproduct', 'statistics', ARRAY[
    'output', 'product', 'mode', 'incremental_refreshes', 'rebuilds', 'full_refreshes', 'failed_refreshes',
    'rows_changed', 'total_ms', 'last_refresh', 'last_ms', 'last_failure', 'row_count',
    'apply_fixed_ms', 'apply_ms_per_row', 'rebuild_ms']);
SELECT columns_are('dataproduct', 'load_progress', ARRAY[
    'output', 'product', 'pid', 'kind', 'started', 'rows_read', 'rows_total', 'percent', 'relations']);
SELECT col_type_is('dataproduct', 'outputs', 'output', 'regclass', 'col_type_is');
SELECT col_type_is('dataproduct', 'lineage', 'source', 'regclass', 'col_type_is');

-- the API, with its exact signatures
SELECT has_function('dataproduct', 'create_domain', ARRAY['text', 'regrole', 'text']);
SELECT has_function('dataproduct', 'drop_domain', ARRAY['text', 'boolean']);
SELECT has_function('dataproduct', 'create_product', ARRAY['text', 'regrole', 'text', 'text', 'text[]', 'text', 'interval']);
SELECT has_function('dataproduct', 'alter_product', ARRAY['text', 'text', 'text', 'text[]', 'regrole', 'text', 'text', 'interval']);
SELECT has_function('dataproduct', 'drop_product', ARRAY['text', 'boolean']);
SELECT has_function('dataproduct', 'add_output', ARRAY['text', 'text', 'text', 'text', 'text', 'interval', 'interval', 'boolean']);
SELECT has_function('dataproduct', 'as_of', ARRAY['anyelement', 'timestamp with time zone']);
SELECT volatility_is('dataproduct', 'as_of', ARRAY['anyelement', 'timestamp with time zone'], 'stable');
SELECT has_function('dataproduct', 'alter_output', ARRAY['regclass', 'interval', 'interval', 'text']);
SELECT has_function('dataproduct', 'drop_output', ARRAY['regclass', 'boolean']);
SELECT has_function('dataproduct', 'refresh', ARRAY['regclass']);
SELECT function_returns('dataproduct', 'add_output', ARRAY['text', 'text', 'text', 'text', 'text', 'interval', 'interval', 'boolean'], 'regclass');
SELECT function_returns('dataproduct', 'refresh', ARRAY['regclass'], 'bigint');
SELECT has_function('dataproduct', 'comment_column', ARRAY['regclass', 'text', 'text']);
SELECT has_function('dataproduct', 'add_check', ARRAY['regclass', 'text', 'text', 'text', 'text', 'text', 'text[]',
                    'text[]', 'text', 'text', 'regclass', 'text', 'interval', 'text']);
SELECT has_function('dataproduct', 'alter_check', ARRAY['regclass', 'text', 'text', 'text']);
SELECT has_function('dataproduct', 'drop_check', ARRAY['regclass', 'text']);
SELECT function_returns('dataproduct', 'run_checks', ARRAY['text'], 'setof record');
SELECT columns_are('dataproduct', 'check_results', ARRAY[
    'check_name', 'output', 'kind', 'severity', 'checked_at', 'passed', 'observed', 'sample',
    'snapshot', 'run_by', 'incremental']);
SELECT table_privs_are('dataproduct', 'check_result', 'public', ARRAY[]::text[],
                       'check results (with samples of data) are read only through check_results');
SELECT fk_ok('dataproduct', 'quality_check', 'output_id', 'dataproduct', 'output', 'output_id');
SELECT has_function('dataproduct', 'health', ARRAY['text']);
SELECT has_function('dataproduct', 'export', ARRAY['text', 'text']);
SELECT has_function('dataproduct', 'apply', ARRAY['jsonb', 'boolean', 'boolean']);
SELECT has_function('dataproduct', 'output_contract', ARRAY['regclass']);
SELECT has_function('dataproduct', 'compare_versions', ARRAY['text', 'text']);
SELECT function_returns('dataproduct', 'search', ARRAY['text'], 'setof record');
SELECT function_returns('dataproduct', 'describe', ARRAY['text'], 'jsonb');
SELECT function_returns('dataproduct_internal', 'word_similarity', ARRAY['text', 'text'], 'real');
SELECT volatility_is('dataproduct_internal', 'word_similarity', ARRAY['text', 'text'], 'immutable');
-- tools list the API in \df dataproduct.*; the helpers are internal
SELECT functions_are('dataproduct', ARRAY[
    'add_check', 'add_output', 'alter_check', 'alter_output', 'alter_product', 'apply',
    'approve_access', 'as_of', 'comment_column', 'compare_versions', 'create_domain', 'create_product',
    'deny_access', 'describe', 'drop_check', 'drop_domain', 'drop_output', 'drop_product',
    'expire_access', 'explain', 'export', 'health', 'output_contract', 'pending_changes',
    'publish', 'refresh', 'request_access', 'revoke_access', 'run_checks', 'search', 'wake_workers']);
SELECT function_returns('dataproduct', 'explain', ARRAY['regclass'], 'setof record');
SELECT volatility_is('dataproduct', 'explain', ARRAY['regclass'], 'stable');
SELECT function_returns('dataproduct', 'publish', ARRAY['text', 'text'], 'text');
SELECT functions_are('dataproduct_internal', ARRAY[
    'assert_populated', 'capture', 'load_progress', 'on_ddl_end', 'on_sql_drop', 'output_comment', 'visible',
    'word_similarity']);
SELECT isnt(obj_description('dataproduct'::regnamespace, 'pg_namespace'), NULL, 'schema dataproduct has a comment');
SELECT is_empty($$SELECT p.proname FROM pg_proc p
                   WHERE p.pronamespace = 'dataproduct_internal'::regnamespace
                     AND (obj_description(p.oid, 'pg_proc') IS NULL OR p.prosecdef
                          OR (p.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'c')
                              AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)))$$,
                'every internal function has a comment, none runs with its owner''s rights, SQL ones pin search_path');
SELECT volatility_is('dataproduct', 'search', ARRAY['text'], 'stable');
SELECT volatility_is('dataproduct', 'describe', ARRAY['text'], 'stable');
SELECT columns_are('dataproduct', 'products', ARRAY[
    'product', 'domain', 'name', 'owner', 'description', 'version', 'status', 'tags',
    'contact', 'outputs', 'max_staleness', 'created_at', 'updated_at', 'health', 'consumers']);
SELECT col_type_is('dataproduct', 'product', 'max_staleness', 'interval', 'col_type_is');

-- no function runs with its owner's rights; the engine is C, the read-only
-- discovery functions are SQL and PL/pgSQL with a pinned search_path, and so
-- are export() and apply() of descriptors (apply() only calls the C API)
SELECT is_empty($$SELECT proname FROM pg_proc
                   WHERE pronamespace = 'dataproduct'::regnamespace AND prosecdef$$,
                'no SECURITY DEFINER function');
SELECT is_empty($$SELECT proname FROM pg_proc
                   WHERE pronamespace = 'dataproduct'::regnamespace
                     AND prolang <> (SELECT oid FROM pg_language WHERE lanname = 'c')
                     AND proname NOT IN ('health', 'search', 'describe', 'export', 'apply')$$,
                'every function but the discovery and descriptor ones is a C function');
SELECT is_empty($$SELECT proname FROM pg_proc
                   WHERE pronamespace = 'dataproduct'::regnamespace
                     AND prolang <> (SELECT oid FROM pg_language WHERE lanname = 'c')
                     AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (proconfig), false)$$,
                'every SQL and PL/pgSQL function pins its search_path');
SELECT is_empty($$SELECT proname FROM pg_proc
                   WHERE pronamespace = 'dataproduct'::regnamespace AND proparallel <> 'u'
                     AND proname NOT IN ('pending_changes', 'explain',
                                         'health', 'search', 'describe',
                                         'export', 'output_contract', 'compare_versions', 'as_of')$$,
                'every function that writes is parallel unsafe');
-- from 0.2.0 anyone may reference capture(), which runs only in the extension's
-- own triggers (PostgreSQL checks EXECUTE when it clones one to a new partition)
SELECT function_privs_are('dataproduct_internal', 'capture', ARRAY[]::text[], 'public', ARRAY['EXECUTE'],
                          'capture() is executable by PUBLIC from 0.2.0 on');
SELECT is((SELECT count(*)::int FROM pg_event_trigger
            WHERE evtname = 'dataproduct_ddl_create' AND evtevent = 'ddl_command_end'),
          CASE WHEN (SELECT extversion FROM pg_extension WHERE extname = 'pg_dataproduct') = '0.1.0'
               THEN 0 ELSE 1 END,
          'ddl_command_end event trigger for new partitions installed from 0.2.0 on');
SELECT is((SELECT count(*)::int FROM pg_event_trigger WHERE evtname = 'dataproduct_ddl_end' AND evtevent = 'ddl_command_end'),
          1, 'ddl_command_end event trigger installed');

-- catalog tables: read through the views, which show each role what it may
-- see; nobody but the extension owner reads or writes the tables describing
-- products (drafts, descriptions, error texts quoting source values)
SELECT table_privs_are('dataproduct', 'domain', 'public', ARRAY[]::text[]);
SELECT table_privs_are('dataproduct', 'product', 'public', ARRAY[]::text[]);
SELECT table_privs_are('dataproduct', 'output', 'public', ARRAY[]::text[]);
SELECT table_privs_are('dataproduct', 'refresh_history', 'public', ARRAY[]::text[]);
SELECT table_privs_are('dataproduct', 'quality_check', 'public', ARRAY[]::text[]);
SELECT is_empty($$SELECT attname FROM pg_attribute
                   WHERE attrelid IN ('dataproduct.domain'::regclass, 'dataproduct.product'::regclass,
                                      'dataproduct.output'::regclass, 'dataproduct.refresh_history'::regclass,
                                      'dataproduct.quality_check'::regclass, 'dataproduct.check_result'::regclass)
                     AND attacl IS NOT NULL$$,
                'no column grants on them either');
-- the change logs' tables name only captured relations and ids
SELECT table_privs_are('dataproduct', 'source', 'public', ARRAY['SELECT']);
SELECT table_privs_are('dataproduct', 'output_source', 'public', ARRAY['SELECT']);
SELECT table_privs_are('dataproduct', 'products', 'public', ARRAY['SELECT']);
SELECT table_privs_are('dataproduct', 'outputs', 'public', ARRAY['SELECT']);
SELECT table_privs_are('dataproduct', 'lineage', 'public', ARRAY['SELECT']);
SELECT table_privs_are('dataproduct', 'lineage_edges', 'public', ARRAY['SELECT']);
SELECT table_privs_are('dataproduct', 'refreshes', 'public', ARRAY['SELECT']);
SELECT table_privs_are('dataproduct', 'statistics', 'public', ARRAY['SELECT']);
SELECT table_privs_are('dataproduct', 'load_progress', 'public', ARRAY['SELECT']);
SELECT table_privs_are('dataproduct', 'visible_product', 'public', ARRAY['SELECT']);
SELECT table_privs_are('dataproduct', 'visible_output', 'public', ARRAY['SELECT']);
-- views that filter rows by the visibility rule are security barriers
SELECT is_empty($$SELECT c.relname FROM pg_class c
                   WHERE c.relnamespace = 'dataproduct'::regnamespace AND c.relkind = 'v'
                     AND c.relname <> 'domains'
                     AND NOT coalesce('security_barrier=true' = ANY (c.reloptions), false)$$,
                'every catalog view but domains is a security barrier');
SELECT schema_privs_are('dataproduct', 'public', ARRAY['USAGE']);
-- only product owners may look names up in the internal schema
SELECT schema_privs_are('dataproduct_internal', 'public', ARRAY[]::text[]);
SELECT function_privs_are('dataproduct', 'refresh', ARRAY['regclass'], 'public', ARRAY['EXECUTE']);

-- pg_dump keeps every catalog table and sequence
SELECT set_eq($$SELECT unnest(extconfig)::regclass::text FROM pg_extension WHERE extname = 'pg_dataproduct'$$,
              ARRAY['dataproduct.domain', 'dataproduct.product', 'dataproduct.output',
                    'dataproduct.source', 'dataproduct.output_source', 'dataproduct.refresh_history',
                    'dataproduct.domain_id_seq', 'dataproduct.product_id_seq',
                    'dataproduct.output_id_seq', 'dataproduct.source_id_seq',
                    'dataproduct.quality_check', 'dataproduct.quality_check_check_id_seq',
                    'dataproduct.check_result', 'dataproduct.check_result_result_id_seq',
                    'dataproduct.access_request', 'dataproduct.access_request_request_id_seq'],
              'every catalog table and sequence is dumped');

-- the event trigger that keeps the catalog consistent
SELECT is((SELECT evtevent FROM pg_event_trigger WHERE evtname = 'dataproduct_sql_drop'), 'sql_drop'::name,
          'sql_drop event trigger installed');
SELECT is((SELECT evtenabled FROM pg_event_trigger WHERE evtname = 'dataproduct_sql_drop'), 'O'::"char",
          'and enabled');

-- the extension cannot move
SELECT is((SELECT extrelocatable FROM pg_extension WHERE extname = 'pg_dataproduct'), false, 'not relocatable');

-- everything is documented
SELECT is_empty($$SELECT c.relname FROM pg_class c
                   WHERE c.relnamespace = 'dataproduct'::regnamespace AND c.relkind IN ('r', 'v', 'S')
                     AND obj_description(c.oid, 'pg_class') IS NULL AND c.relkind <> 'S'$$,
                'every catalog table and view has a comment');
SELECT is_empty($$SELECT p.proname FROM pg_proc p
                   WHERE p.pronamespace = 'dataproduct'::regnamespace
                     AND obj_description(p.oid, 'pg_proc') IS NULL$$,
                'every function has a comment');

SELECT * FROM finish();
ROLLBACK;
