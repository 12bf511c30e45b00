/* pg_dataproduct--0.1.0.sql
 *
 * Catalog, views and SQL API of pg_dataproduct 0.1.0.
 *
 * The catalog tables below are the single source of truth for domains,
 * products and outputs.  They are written only by the extension's C
 * functions, which check the caller's rights themselves and then write as
 * the extension owner; everyone may read them.  Every table and its id
 * sequence is registered with pg_extension_config_dump so that pg_dump keeps
 * the declarations together with the views and stores they describe.
 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pg_dataproduct" to load this file. \quit

/* The API and catalog schema is for everyone to use (see the grants below). */
GRANT USAGE ON SCHEMA dataproduct TO PUBLIC;

/* Internal objects: one store table and one query view per output. */
CREATE SCHEMA dataproduct_internal;
COMMENT ON SCHEMA dataproduct_internal IS
  'pg_dataproduct internals: the store table and the query view of every output; query the output views instead';
REVOKE ALL ON SCHEMA dataproduct_internal FROM PUBLIC;
-- Owners of products refresh their outputs by name, so they need to look
-- names up here; the objects themselves carry no grants.
GRANT USAGE ON SCHEMA dataproduct_internal TO PUBLIC;

/* ------------------------------------------------------------------------
 * Catalog tables
 * ------------------------------------------------------------------------ */

CREATE SEQUENCE dataproduct.domain_id_seq;
CREATE SEQUENCE dataproduct.product_id_seq;
CREATE SEQUENCE dataproduct.output_id_seq;

CREATE TABLE dataproduct.domain (
    domain_id       bigint PRIMARY KEY DEFAULT nextval('dataproduct.domain_id_seq'),
    name            text NOT NULL UNIQUE
                    CHECK (name ~ '^[a-z_][a-z0-9_]*$' AND octet_length(name) < 64),
    schema          regnamespace NOT NULL,
    owner           regrole NOT NULL,
    description     text,
    created_schema  boolean NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE dataproduct.domain IS 'Business areas that own data products; one row per domain';
COMMENT ON COLUMN dataproduct.domain.domain_id IS 'Internal identifier';
COMMENT ON COLUMN dataproduct.domain.name IS 'Domain name, also the name of the schema that holds its output views';
COMMENT ON COLUMN dataproduct.domain.schema IS 'Schema holding the output views of the domain''s products';
COMMENT ON COLUMN dataproduct.domain.owner IS 'Role owning the domain; its members create products in it';
COMMENT ON COLUMN dataproduct.domain.description IS 'What the business area is about';
COMMENT ON COLUMN dataproduct.domain.created_schema IS 'Whether create_domain created the schema (drop_domain then drops it)';
COMMENT ON COLUMN dataproduct.domain.created_at IS 'When the domain was declared';

CREATE TABLE dataproduct.product (
    product_id      bigint PRIMARY KEY DEFAULT nextval('dataproduct.product_id_seq'),
    domain_id       bigint NOT NULL REFERENCES dataproduct.domain,
    name            text NOT NULL
                    CHECK (name ~ '^[a-z_][a-z0-9_]*$' AND octet_length(name) < 64),
    owner           regrole NOT NULL,
    description     text,
    version         text NOT NULL,
    status          text NOT NULL DEFAULT 'draft'
                    CHECK (status IN ('draft', 'published', 'deprecated', 'retired')),
    tags            text[] NOT NULL DEFAULT '{}',
    contact         text,
    max_staleness   interval CHECK (max_staleness > '0'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (domain_id, name)
);
COMMENT ON TABLE dataproduct.product IS 'Data products: units of analytical data with an owner, a purpose and promises';
COMMENT ON COLUMN dataproduct.product.product_id IS 'Internal identifier';
COMMENT ON COLUMN dataproduct.product.domain_id IS 'Domain the product belongs to';
COMMENT ON COLUMN dataproduct.product.name IS 'Product name, unique within its domain; the address is domain.name';
COMMENT ON COLUMN dataproduct.product.owner IS 'Role owning the product, its views and stores; refreshes run with its privileges';
COMMENT ON COLUMN dataproduct.product.description IS 'Purpose of the product, shown to consumers';
COMMENT ON COLUMN dataproduct.product.version IS 'Semantic version (MAJOR.MINOR.PATCH); it only moves forward';
COMMENT ON COLUMN dataproduct.product.status IS 'Lifecycle status: draft, published, deprecated or retired';
COMMENT ON COLUMN dataproduct.product.tags IS 'Free-form tags for discovery';
COMMENT ON COLUMN dataproduct.product.contact IS 'How consumers reach the owning team';
COMMENT ON COLUMN dataproduct.product.max_staleness IS 'Freshness promise: how far behind its sources an output may be, measured from the change stream';
COMMENT ON COLUMN dataproduct.product.created_at IS 'When the product was declared';
COMMENT ON COLUMN dataproduct.product.updated_at IS 'When the product''s declaration last changed';

CREATE TABLE dataproduct.output (
    output_id       bigint PRIMARY KEY DEFAULT nextval('dataproduct.output_id_seq'),
    product_id      bigint NOT NULL REFERENCES dataproduct.product,
    name            text NOT NULL
                    CHECK (name ~ '^[a-z_][a-z0-9_]*$' AND octet_length(name) < 64),
    view            regclass NOT NULL UNIQUE,
    store           regclass NOT NULL UNIQUE,
    query_view      regclass NOT NULL UNIQUE,
    pre_view        regclass UNIQUE,
    definition      text NOT NULL,
    refresh_mode    text NOT NULL CHECK (refresh_mode IN ('auto', 'incremental', 'full')),
    mode            text NOT NULL CHECK (mode IN ('incremental', 'full')),
    mode_reason     text,
    description     text,
    status          text NOT NULL DEFAULT 'empty' CHECK (status IN ('empty', 'ok')),
    snapshot        pg_snapshot,
    origin          text,
    timezone        text NOT NULL,
    datestyle       text NOT NULL,
    intervalstyle   text NOT NULL,
    min_interval    interval NOT NULL DEFAULT '0',
    schedule        interval,
    failures        integer NOT NULL DEFAULT 0,
    last_error      text,
    last_error_at   timestamptz,
    next_retry      timestamptz,
    last_refresh    timestamptz,
    last_refresh_kind text CHECK (last_refresh_kind IN ('full', 'rebuild', 'incremental')),
    refresh_ms      double precision,
    rows_changed    bigint,
    row_count       bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (product_id, name)
);
COMMENT ON TABLE dataproduct.output IS 'Output ports: analytical views of a product, each kept in a store table by the engine';
COMMENT ON COLUMN dataproduct.output.output_id IS 'Internal identifier; names the internal objects output_<id>_store and output_<id>_query';
COMMENT ON COLUMN dataproduct.output.product_id IS 'Product the output belongs to';
COMMENT ON COLUMN dataproduct.output.name IS 'Output name; the view is <domain>.<name>';
COMMENT ON COLUMN dataproduct.output.view IS 'The view consumers query';
COMMENT ON COLUMN dataproduct.output.store IS 'Internal table holding the materialized rows';
COMMENT ON COLUMN dataproduct.output.query_view IS 'Internal view holding the analysed output query; its dependencies are the lineage';
COMMENT ON COLUMN dataproduct.output.pre_view IS 'Incrementally maintained outputs: internal view of the query before aggregation, grouped to load or recompute the store';
COMMENT ON COLUMN dataproduct.output.definition IS 'The output query as the owner wrote it';
COMMENT ON COLUMN dataproduct.output.refresh_mode IS 'Refresh mode asked for at declaration: auto, incremental or full';
COMMENT ON COLUMN dataproduct.output.mode IS 'Refresh mode in use: incremental or full';
COMMENT ON COLUMN dataproduct.output.mode_reason IS 'Why the output is refreshed in full, when it is';
COMMENT ON COLUMN dataproduct.output.description IS 'What the output contains; also the COMMENT of its view';
COMMENT ON COLUMN dataproduct.output.status IS 'empty (never refreshed) or ok';
COMMENT ON COLUMN dataproduct.output.snapshot IS 'Snapshot the store reflects: changes of transactions visible in it are applied, the others are pending';
COMMENT ON COLUMN dataproduct.output.origin IS 'Cluster and database the snapshot belongs to; another origin (after a restore) forces a rebuild';
COMMENT ON COLUMN dataproduct.output.timezone IS 'TimeZone the query was declared under and is always evaluated under';
COMMENT ON COLUMN dataproduct.output.datestyle IS 'DateStyle the query was declared under and is always evaluated under';
COMMENT ON COLUMN dataproduct.output.intervalstyle IS 'IntervalStyle the query was declared under and is always evaluated under';
COMMENT ON COLUMN dataproduct.output.min_interval IS 'The background worker refreshes the output at most this often, however often its sources change';
COMMENT ON COLUMN dataproduct.output.schedule IS 'The background worker also refreshes the output this often, changes or not (the only automatic refresh of full-mode outputs)';
COMMENT ON COLUMN dataproduct.output.failures IS 'Automatic refreshes failed in a row; reset by a success';
COMMENT ON COLUMN dataproduct.output.last_error IS 'Error of the last failed automatic refresh, until one succeeds';
COMMENT ON COLUMN dataproduct.output.last_error_at IS 'When the last automatic refresh failed';
COMMENT ON COLUMN dataproduct.output.next_retry IS 'After a failure, when the worker tries again (exponential backoff)';
COMMENT ON COLUMN dataproduct.output.last_refresh IS 'Start of the last successful refresh: the output equals its query as of then';
COMMENT ON COLUMN dataproduct.output.last_refresh_kind IS 'How the last refresh was done: full (full mode), rebuild (an incremental output recomputed: first load, TRUNCATE, restore, large batch) or incremental';
COMMENT ON COLUMN dataproduct.output.refresh_ms IS 'Duration of the last successful refresh in milliseconds';
COMMENT ON COLUMN dataproduct.output.rows_changed IS 'Rows inserted plus rows deleted by the last successful refresh';
COMMENT ON COLUMN dataproduct.output.row_count IS 'Rows in the output after the last successful refresh';
COMMENT ON COLUMN dataproduct.output.created_at IS 'When the output was declared';

CREATE INDEX ON dataproduct.output (product_id);

CREATE TABLE dataproduct.refresh_history (
    output_id       bigint NOT NULL REFERENCES dataproduct.output ON DELETE CASCADE,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL,
    kind            text,
    rows_changed    bigint,
    row_count       bigint,
    error           text,
    by_worker       boolean NOT NULL
);
COMMENT ON TABLE dataproduct.refresh_history IS 'Every refresh, successful or failed, kept for dataproduct.history_retention';
COMMENT ON COLUMN dataproduct.refresh_history.output_id IS 'The output refreshed';
COMMENT ON COLUMN dataproduct.refresh_history.started_at IS 'When the refresh started';
COMMENT ON COLUMN dataproduct.refresh_history.finished_at IS 'When it ended';
COMMENT ON COLUMN dataproduct.refresh_history.kind IS 'incremental, rebuild or full; NULL when it failed';
COMMENT ON COLUMN dataproduct.refresh_history.rows_changed IS 'Store rows inserted, updated or deleted';
COMMENT ON COLUMN dataproduct.refresh_history.row_count IS 'Store rows afterwards';
COMMENT ON COLUMN dataproduct.refresh_history.error IS 'The error, when it failed (failures are recorded by the background worker)';
COMMENT ON COLUMN dataproduct.refresh_history.by_worker IS 'Whether the background worker ran it (else dataproduct.refresh)';
CREATE INDEX ON dataproduct.refresh_history (output_id, started_at);
CREATE INDEX ON dataproduct.refresh_history (started_at);

CREATE SEQUENCE dataproduct.source_id_seq;

CREATE TABLE dataproduct.source (
    source_id       bigint PRIMARY KEY DEFAULT nextval('dataproduct.source_id_seq'),
    relation        regclass NOT NULL UNIQUE,
    log             regclass NOT NULL UNIQUE,
    columns         text[] NOT NULL,
    origin          text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE dataproduct.source IS 'Relations whose changes are captured for incrementally maintained outputs';
COMMENT ON COLUMN dataproduct.source.source_id IS 'Internal identifier; names the change log source_<id>_log';
COMMENT ON COLUMN dataproduct.source.relation IS 'The captured table (or partitioned table, or another output''s store)';
COMMENT ON COLUMN dataproduct.source.log IS 'Change log: signed row images of the captured columns with the writing transaction''s id';
COMMENT ON COLUMN dataproduct.source.columns IS 'Columns captured: those the outputs reading the relation need';
COMMENT ON COLUMN dataproduct.source.origin IS 'Cluster and database the logged transaction ids belong to';
COMMENT ON COLUMN dataproduct.source.created_at IS 'When capture was installed';

CREATE TABLE dataproduct.output_source (
    output_id       bigint NOT NULL REFERENCES dataproduct.output ON DELETE CASCADE,
    source_id       bigint NOT NULL REFERENCES dataproduct.source,
    PRIMARY KEY (output_id, source_id)
);
COMMENT ON TABLE dataproduct.output_source IS 'Which captured relations each incrementally maintained output consumes';
COMMENT ON COLUMN dataproduct.output_source.output_id IS 'The consuming output';
COMMENT ON COLUMN dataproduct.output_source.source_id IS 'The captured relation it consumes';
CREATE INDEX ON dataproduct.output_source (source_id);
CREATE INDEX ON dataproduct.product (domain_id);

CREATE TABLE dataproduct.quality_check (
    check_id        bigserial PRIMARY KEY,
    output_id       bigint NOT NULL REFERENCES dataproduct.output ON DELETE CASCADE,
    name            text NOT NULL,
    kind            text NOT NULL
                    CHECK (kind IN ('not_null', 'unique', 'accepted_values', 'range', 'row_count',
                                    'relationship', 'freshness', 'custom')),
    params          jsonb NOT NULL DEFAULT '{}',
    severity        text NOT NULL DEFAULT 'blocking' CHECK (severity IN ('blocking', 'warning')),
    description     text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (output_id, name)
);
COMMENT ON TABLE dataproduct.quality_check IS 'Quality checks declared on outputs with add_check(); they run after every refresh';
COMMENT ON COLUMN dataproduct.quality_check.check_id IS 'Identifier of the check';
COMMENT ON COLUMN dataproduct.quality_check.output_id IS 'The output checked';
COMMENT ON COLUMN dataproduct.quality_check.description IS 'What the check guarantees, in words';
COMMENT ON COLUMN dataproduct.quality_check.created_at IS 'When the check was declared';
COMMENT ON COLUMN dataproduct.quality_check.name IS 'Name, unique per output';
COMMENT ON COLUMN dataproduct.quality_check.kind IS 'not_null, unique, accepted_values, range, row_count, relationship, freshness or custom';
COMMENT ON COLUMN dataproduct.quality_check.params IS 'The kind''s parameters as given to add_check()';
COMMENT ON COLUMN dataproduct.quality_check.severity IS 'blocking (a failure rolls the refresh back) or warning (a failure is recorded)';

CREATE TABLE dataproduct.check_result (
    result_id       bigserial PRIMARY KEY,
    check_id        bigint NOT NULL REFERENCES dataproduct.quality_check ON DELETE CASCADE,
    checked_at      timestamptz NOT NULL,
    passed          boolean NOT NULL,
    observed        text NOT NULL,
    sample          jsonb,
    snapshot        pg_snapshot,
    run_by          text NOT NULL CHECK (run_by IN ('refresh', 'on demand')),
    incremental     boolean NOT NULL DEFAULT false
);
CREATE INDEX check_result_check_idx ON dataproduct.check_result (check_id, checked_at);
COMMENT ON TABLE dataproduct.check_result IS 'Every run of every check, kept for dataproduct.history_retention; read it through dataproduct.check_results';
COMMENT ON COLUMN dataproduct.check_result.result_id IS 'Identifier of the result, in the order results were recorded';
COMMENT ON COLUMN dataproduct.check_result.check_id IS 'The check run';
COMMENT ON COLUMN dataproduct.check_result.checked_at IS 'When it ran';
COMMENT ON COLUMN dataproduct.check_result.passed IS 'Whether it passed';
COMMENT ON COLUMN dataproduct.check_result.observed IS 'What it measured: offending rows, row count, staleness, or the error of its query';
COMMENT ON COLUMN dataproduct.check_result.sample IS 'Up to five offending rows';
COMMENT ON COLUMN dataproduct.check_result.snapshot IS 'The snapshot of the data it certified';
COMMENT ON COLUMN dataproduct.check_result.run_by IS 'refresh or on demand';
COMMENT ON COLUMN dataproduct.check_result.incremental IS 'Whether it looked only at the rows the refresh''s batch wrote (the others having passed before)';
REVOKE ALL ON dataproduct.check_result FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('dataproduct.domain', '');
SELECT pg_catalog.pg_extension_config_dump('dataproduct.product', '');
SELECT pg_catalog.pg_extension_config_dump('dataproduct.output', '');
SELECT pg_catalog.pg_extension_config_dump('dataproduct.domain_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dataproduct.product_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dataproduct.output_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dataproduct.source', '');
SELECT pg_catalog.pg_extension_config_dump('dataproduct.source_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dataproduct.output_source', '');
SELECT pg_catalog.pg_extension_config_dump('dataproduct.refresh_history', '');
SELECT pg_catalog.pg_extension_config_dump('dataproduct.quality_check', '');
SELECT pg_catalog.pg_extension_config_dump('dataproduct.quality_check_check_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dataproduct.check_result', '');
SELECT pg_catalog.pg_extension_config_dump('dataproduct.check_result_result_id_seq', '');

REVOKE ALL ON dataproduct.domain, dataproduct.product, dataproduct.output,
              dataproduct.source, dataproduct.output_source,
              dataproduct.refresh_history FROM PUBLIC;
GRANT SELECT ON dataproduct.domain, dataproduct.product, dataproduct.output,
                dataproduct.source, dataproduct.output_source,
                dataproduct.refresh_history, dataproduct.quality_check TO PUBLIC;

/* ------------------------------------------------------------------------
 * Catalog views
 * ------------------------------------------------------------------------ */

CREATE VIEW dataproduct.domains AS
SELECT d.name AS domain,
       d.owner,
       d.description,
       d.schema,
       (SELECT count(*) FROM dataproduct.product p WHERE p.domain_id = d.domain_id) AS products,
       d.created_at
  FROM dataproduct.domain d;
COMMENT ON VIEW dataproduct.domains IS 'Declared domains with their owners and number of products';
COMMENT ON COLUMN dataproduct.domains.domain IS 'Domain name (and schema name)';
COMMENT ON COLUMN dataproduct.domains.owner IS 'Role owning the domain';
COMMENT ON COLUMN dataproduct.domains.description IS 'What the business area is about';
COMMENT ON COLUMN dataproduct.domains.schema IS 'Schema holding the domain''s output views';
COMMENT ON COLUMN dataproduct.domains.products IS 'Number of products in the domain';
COMMENT ON COLUMN dataproduct.domains.created_at IS 'When the domain was declared';

/* dataproduct.products is created with health(), under "Trust and discovery" */

CREATE VIEW dataproduct.outputs AS
SELECT o.view AS output,
       d.name || '.' || p.name AS product,
       o.name,
       o.mode,
       o.refresh_mode AS requested_mode,
       o.mode_reason,
       o.status,
       o.last_refresh,
       o.last_refresh_kind,
       o.refresh_ms,
       o.min_interval,
       o.schedule,
       o.failures,
       o.last_error,
       o.next_retry,
       o.rows_changed,
       o.row_count,
       o.description,
       o.definition,
       o.created_at
  FROM dataproduct.output o
  JOIN dataproduct.product p USING (product_id)
  JOIN dataproduct.domain d USING (domain_id);
COMMENT ON VIEW dataproduct.outputs IS 'Output ports with their refresh mode and the state of their last refresh';
COMMENT ON COLUMN dataproduct.outputs.output IS 'The view consumers query (domain.name)';
COMMENT ON COLUMN dataproduct.outputs.product IS 'Address of the owning product';
COMMENT ON COLUMN dataproduct.outputs.name IS 'Output name within the domain';
COMMENT ON COLUMN dataproduct.outputs.mode IS 'Refresh mode in use: incremental or full';
COMMENT ON COLUMN dataproduct.outputs.requested_mode IS 'Refresh mode asked for at declaration';
COMMENT ON COLUMN dataproduct.outputs.mode_reason IS 'Why the output is refreshed in full, when it is';
COMMENT ON COLUMN dataproduct.outputs.status IS 'empty (never refreshed) or ok';
COMMENT ON COLUMN dataproduct.outputs.last_refresh IS 'Start of the last successful refresh';
COMMENT ON COLUMN dataproduct.outputs.min_interval IS 'Minimum time between automatic refreshes';
COMMENT ON COLUMN dataproduct.outputs.schedule IS 'Periodic automatic refresh, if any';
COMMENT ON COLUMN dataproduct.outputs.failures IS 'Automatic refreshes failed in a row';
COMMENT ON COLUMN dataproduct.outputs.last_error IS 'Error of the last failed automatic refresh, until one succeeds';
COMMENT ON COLUMN dataproduct.outputs.next_retry IS 'When the worker retries after a failure';
COMMENT ON COLUMN dataproduct.outputs.last_refresh_kind IS 'full, rebuild or incremental: how the last refresh was done';
COMMENT ON COLUMN dataproduct.outputs.refresh_ms IS 'Duration of the last successful refresh in milliseconds';
COMMENT ON COLUMN dataproduct.outputs.rows_changed IS 'Rows inserted plus deleted by the last refresh';
COMMENT ON COLUMN dataproduct.outputs.row_count IS 'Rows in the output after the last refresh';
COMMENT ON COLUMN dataproduct.outputs.description IS 'What the output contains';
COMMENT ON COLUMN dataproduct.outputs.definition IS 'The output query as declared';
COMMENT ON COLUMN dataproduct.outputs.created_at IS 'When the output was declared';

/*
 * Lineage is never typed by hand: it is read from the dependencies that
 * PostgreSQL recorded when it analysed each output's query (the rewrite rule
 * of the internal query view), followed through plain views down to the
 * relations that hold data.  The walk stops at other products' outputs, which
 * are reported as such.
 */
CREATE VIEW dataproduct.lineage AS
WITH RECURSIVE
rule_reads(view_oid, relid) AS (
    SELECT DISTINCT r.ev_class, dep.refobjid
      FROM pg_catalog.pg_rewrite r
      JOIN pg_catalog.pg_depend dep
        ON dep.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
       AND dep.objid = r.oid
       AND dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND dep.refobjid <> r.ev_class
       AND dep.deptype = 'n'
),
reads(output_id, relid, via, depth) AS (
    SELECT o.output_id, rr.relid, NULL::pg_catalog.oid, 1
      FROM dataproduct.output o
      JOIN rule_reads rr ON rr.view_oid = o.query_view
    UNION
    SELECT rd.output_id, rr.relid, rd.relid, rd.depth + 1
      FROM reads rd
      JOIN pg_catalog.pg_class c ON c.oid = rd.relid AND c.relkind = 'v'
      JOIN rule_reads rr ON rr.view_oid = c.oid
     WHERE NOT EXISTS (SELECT 1 FROM dataproduct.output o2 WHERE o2.view = rd.relid)
)
SELECT o.view AS output,
       d.name || '.' || p.name AS product,
       rd.relid::pg_catalog.regclass AS source,
       CASE WHEN so.output_id IS NOT NULL THEN 'output'
            ELSE CASE c.relkind
                   WHEN 'r' THEN 'table'
                   WHEN 'p' THEN 'partitioned table'
                   WHEN 'v' THEN 'view'
                   WHEN 'm' THEN 'materialized view'
                   WHEN 'f' THEN 'foreign table'
                   WHEN 'S' THEN 'sequence'
                   ELSE c.relkind::text
                 END
       END AS source_kind,
       sd.name || '.' || sp.name AS source_product,
       rd.via::pg_catalog.regclass AS via,
       rd.depth
  FROM reads rd
  JOIN dataproduct.output o ON o.output_id = rd.output_id
  JOIN dataproduct.product p ON p.product_id = o.product_id
  JOIN dataproduct.domain d ON d.domain_id = p.domain_id
  JOIN pg_catalog.pg_class c ON c.oid = rd.relid
  LEFT JOIN dataproduct.output so ON so.view = rd.relid
  LEFT JOIN dataproduct.product sp ON sp.product_id = so.product_id
  LEFT JOIN dataproduct.domain sd ON sd.domain_id = sp.domain_id;
COMMENT ON VIEW dataproduct.lineage IS 'Every relation each output reads, derived from its analysed query and followed through plain views';
COMMENT ON COLUMN dataproduct.lineage.output IS 'The output';
COMMENT ON COLUMN dataproduct.lineage.product IS 'Address of the output''s product';
COMMENT ON COLUMN dataproduct.lineage.source IS 'A relation the output reads';
COMMENT ON COLUMN dataproduct.lineage.source_kind IS 'table, partitioned table, view, materialized view, foreign table, sequence, or output (of another product)';
COMMENT ON COLUMN dataproduct.lineage.source_product IS 'Product owning the source, when the source is another product''s output';
COMMENT ON COLUMN dataproduct.lineage.via IS 'The view through which the source is read; NULL when the output query names it';
COMMENT ON COLUMN dataproduct.lineage.depth IS '1 for relations named in the output query, one more for each view in between';

GRANT SELECT ON dataproduct.domains, dataproduct.outputs,
                dataproduct.lineage TO PUBLIC;



/* ------------------------------------------------------------------------
 * SQL API
 *
 * All functions run as the caller (none is SECURITY DEFINER): they check the
 * caller's rights, then write catalog rows as the extension owner and build
 * views and stores owned by the product owner.  See src/catalog.c.
 * ------------------------------------------------------------------------ */

CREATE FUNCTION dataproduct.create_domain(name text,
                                          owner regrole DEFAULT NULL,
                                          description text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'dataproduct_create_domain'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.create_domain(text, regrole, text) IS
  'Declare a domain owned by owner (default: the calling role) and create its schema if missing';

CREATE FUNCTION dataproduct.drop_domain(name text, "cascade" boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'dataproduct_drop_domain'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.drop_domain(text, boolean) IS
  'Drop a domain; with cascade => true also its products and their outputs';

CREATE FUNCTION dataproduct.create_product(product text,
                                           owner regrole DEFAULT NULL,
                                           description text DEFAULT NULL,
                                           version text DEFAULT '0.1.0',
                                           tags text[] DEFAULT '{}',
                                           contact text DEFAULT NULL,
                                           max_staleness interval DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'dataproduct_create_product'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.create_product(text, regrole, text, text, text[], text, interval) IS
  'Declare a data product domain.name, owned by owner (default: the domain owner), in status draft';

CREATE FUNCTION dataproduct.alter_product(product text,
                                          description text DEFAULT NULL,
                                          version text DEFAULT NULL,
                                          tags text[] DEFAULT NULL,
                                          owner regrole DEFAULT NULL,
                                          status text DEFAULT NULL,
                                          contact text DEFAULT NULL,
                                          max_staleness interval DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'dataproduct_alter_product'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.alter_product(text, text, text, text[], regrole, text, text, interval) IS
  'Change a product''s description, version, tags, owner, lifecycle status, contact or freshness promise (max_staleness, ''0'' to remove it); NULL leaves a field as it is';

CREATE FUNCTION dataproduct.drop_product(product text, "cascade" boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'dataproduct_drop_product'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.drop_product(text, boolean) IS
  'Drop a product; with cascade => true also its outputs and whatever reads them';

CREATE FUNCTION dataproduct.add_output(product text,
                                       name text,
                                       query text,
                                       refresh text DEFAULT 'auto',
                                       description text DEFAULT NULL,
                                       min_interval interval DEFAULT '0',
                                       schedule interval DEFAULT NULL)
RETURNS regclass
AS 'MODULE_PATHNAME', 'dataproduct_add_output'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.add_output(text, text, text, text, text, interval, interval) IS
  'Add an output port: the view <domain>.<name> over a store kept equal to query; returns the view';

CREATE FUNCTION dataproduct.drop_output(output regclass, "cascade" boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'dataproduct_drop_output'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.drop_output(regclass, boolean) IS
  'Drop an output port; with cascade => true also the outputs and views that read it';

CREATE FUNCTION dataproduct.pending_changes(output regclass, OUT pending bigint, OUT oldest timestamptz)
AS 'MODULE_PATHNAME', 'dataproduct_pending_changes'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dataproduct.pending_changes(regclass) IS
  'Captured changes committed but not yet applied to an output, and when the oldest was written';

CREATE FUNCTION dataproduct.alter_output(output regclass,
                                         min_interval interval DEFAULT NULL,
                                         schedule interval DEFAULT NULL,
                                         description text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'dataproduct_alter_output'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.alter_output(regclass, interval, interval, text) IS
  'Change how often the background worker refreshes an output (min_interval, schedule; ''0'' to clear a schedule) or its description';

CREATE FUNCTION dataproduct.wake_workers()
RETURNS void
AS 'MODULE_PATHNAME', 'dataproduct_wake_workers'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.wake_workers() IS
  'Ask the background worker of this database to look for outputs to refresh now (it starts one if none runs)';

CREATE FUNCTION dataproduct.refresh(output regclass)
RETURNS bigint
AS 'MODULE_PATHNAME', 'dataproduct_refresh'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.refresh(regclass) IS
  'Bring an output up to date with its sources now; returns the number of rows inserted plus deleted';

CREATE FUNCTION dataproduct.capture()
RETURNS trigger
AS 'MODULE_PATHNAME', 'dataproduct_capture'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.capture() IS
  'Trigger: appends signed row images of the captured columns to a source''s change log';
-- only the extension installs capture triggers: nobody else may point one at a log
REVOKE ALL ON FUNCTION dataproduct.capture() FROM PUBLIC;

CREATE FUNCTION dataproduct.assert_populated(store regclass)
RETURNS boolean
AS 'MODULE_PATHNAME', 'dataproduct_assert_populated'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dataproduct.assert_populated(regclass) IS
  'Guard in the view of an output not yet populated: raises an error instead of showing no rows';

CREATE FUNCTION dataproduct.on_sql_drop()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'dataproduct_on_sql_drop'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.on_sql_drop() IS
  'Event trigger: forgets outputs and domains whose objects were dropped by DROP ... CASCADE';

CREATE FUNCTION dataproduct.on_ddl_end()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'dataproduct_on_ddl_end'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.on_ddl_end() IS
  'Event trigger: keeps capture triggers enabled and makes outputs rebuild after ALTER TABLE of a source';

CREATE EVENT TRIGGER dataproduct_ddl_end ON ddl_command_end
  WHEN TAG IN ('ALTER TABLE')
  EXECUTE FUNCTION dataproduct.on_ddl_end();
COMMENT ON EVENT TRIGGER dataproduct_ddl_end IS
  'Guards the capture triggers of pg_dataproduct against ALTER TABLE';

CREATE EVENT TRIGGER dataproduct_sql_drop ON sql_drop
  EXECUTE FUNCTION dataproduct.on_sql_drop();
COMMENT ON EVENT TRIGGER dataproduct_sql_drop IS
  'Keeps the pg_dataproduct catalog consistent when its views, stores or schemas are dropped';

/*
 * Freshness, measured from the change stream: for each incrementally
 * maintained output, the captured changes committed but not yet applied and
 * the age of the oldest of them.
 */
CREATE VIEW dataproduct.freshness AS
SELECT o.view AS output,
       d.name || '.' || p.name AS product,
       o.mode,
       o.last_refresh,
       pend.pending,
       CASE WHEN o.mode = 'incremental' THEN coalesce(pg_catalog.now() - pend.oldest, '0') END AS staleness
  FROM dataproduct.output o
  JOIN dataproduct.product p USING (product_id)
  JOIN dataproduct.domain d USING (domain_id)
  LEFT JOIN LATERAL dataproduct.pending_changes(o.view) pend ON true;
COMMENT ON VIEW dataproduct.freshness IS 'Per output: captured changes committed but not yet applied, and the age of the oldest (staleness)';
COMMENT ON COLUMN dataproduct.freshness.output IS 'The output';
COMMENT ON COLUMN dataproduct.freshness.product IS 'Its product';
COMMENT ON COLUMN dataproduct.freshness.mode IS 'incremental or full (full outputs have no change stream: NULL)';
COMMENT ON COLUMN dataproduct.freshness.last_refresh IS 'Start of the last successful refresh';
COMMENT ON COLUMN dataproduct.freshness.pending IS 'Captured row images committed but not yet applied';
COMMENT ON COLUMN dataproduct.freshness.staleness IS 'Age of the oldest committed change not yet applied; 0 when up to date';
GRANT SELECT ON dataproduct.freshness TO PUBLIC;


/* ------------------------------------------------------------------------
 * Trust and discovery
 * ------------------------------------------------------------------------ */

CREATE FUNCTION dataproduct.comment_column(output regclass, column_name text, description text)
RETURNS void
AS 'MODULE_PATHNAME', 'dataproduct_comment_column'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.comment_column(regclass, text, text) IS
  'Document a column of an output: the COMMENT of the view''s column, shown by describe(), search() and BI tools';

CREATE FUNCTION dataproduct.word_similarity(query text, text text)
RETURNS real
AS 'MODULE_PATHNAME', 'dataproduct_word_similarity'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dataproduct.word_similarity(text, text) IS
  'Trigram similarity of the query''s words to their best match among the text''s words (pg_trgm''s definition), 0 to 1';

/* ------------------------------------------------------------------------
 * Quality checks
 * ------------------------------------------------------------------------ */

CREATE FUNCTION dataproduct.add_check(output regclass,
                                      kind text,
                                      name text DEFAULT NULL,
                                      severity text DEFAULT 'blocking',
                                      description text DEFAULT NULL,
                                      "column" text DEFAULT NULL,
                                      columns text[] DEFAULT NULL,
                                      "values" text[] DEFAULT NULL,
                                      min text DEFAULT NULL,
                                      max text DEFAULT NULL,
                                      to_relation regclass DEFAULT NULL,
                                      to_column text DEFAULT NULL,
                                      max_staleness interval DEFAULT NULL,
                                      sql text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'dataproduct_add_check'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.add_check(regclass, text, text, text, text, text, text[], text[], text, text, regclass, text, interval, text) IS
  'Declare a quality check on an output (not_null, unique, accepted_values, range, row_count, relationship, freshness, custom); returns its name';

CREATE FUNCTION dataproduct.alter_check(output regclass, name text,
                                        severity text DEFAULT NULL,
                                        description text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'dataproduct_alter_check'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.alter_check(regclass, text, text, text) IS
  'Change a check''s severity (blocking or warning) or description';

CREATE FUNCTION dataproduct.drop_check(output regclass, name text)
RETURNS void
AS 'MODULE_PATHNAME', 'dataproduct_drop_check'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.drop_check(regclass, text) IS
  'Drop a check and its history';

CREATE FUNCTION dataproduct.run_checks(target text)
RETURNS TABLE (output regclass, check_name text, severity text, passed boolean,
               observed text, sample jsonb)
AS 'MODULE_PATHNAME', 'dataproduct_run_checks'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.run_checks(text) IS
  'Run the checks of a product (domain.product) or of one output now, record and return the results; nothing is rolled back';

CREATE VIEW dataproduct.check_results AS
SELECT c.name AS check_name,
       o.view AS output,
       c.kind,
       c.severity,
       r.checked_at,
       r.passed,
       CASE WHEN r.observed NOT LIKE 'error:%' OR pg_catalog.has_table_privilege(o.view, 'SELECT')
            THEN r.observed ELSE 'error' END AS observed,
       CASE WHEN pg_catalog.has_table_privilege(o.view, 'SELECT') THEN r.sample END AS sample,
       r.snapshot,
       r.run_by,
       r.incremental
  FROM dataproduct.check_result r
  JOIN dataproduct.quality_check c USING (check_id)
  JOIN dataproduct.output o USING (output_id);
COMMENT ON VIEW dataproduct.check_results IS 'Every run of every quality check; samples of offending rows only for roles that may read the output';
COMMENT ON COLUMN dataproduct.check_results.check_name IS 'The check';
COMMENT ON COLUMN dataproduct.check_results.output IS 'The output it checked';
COMMENT ON COLUMN dataproduct.check_results.kind IS 'The kind of check';
COMMENT ON COLUMN dataproduct.check_results.severity IS 'blocking or warning, as declared now';
COMMENT ON COLUMN dataproduct.check_results.checked_at IS 'When it ran';
COMMENT ON COLUMN dataproduct.check_results.passed IS 'Whether it passed';
COMMENT ON COLUMN dataproduct.check_results.observed IS 'What the check measured: offending rows (or duplicated keys), the row count, the staleness, or the error of the check''s query (its text only for roles that may read the output)';
COMMENT ON COLUMN dataproduct.check_results.sample IS 'Up to five offending rows, for roles that may read the output';
COMMENT ON COLUMN dataproduct.check_results.snapshot IS 'The snapshot of the data the check certified';
COMMENT ON COLUMN dataproduct.check_results.incremental IS 'Whether it looked only at the rows the refresh wrote, the others having passed before';
COMMENT ON COLUMN dataproduct.check_results.run_by IS 'refresh (after a refresh, in its transaction) or on demand (run_checks)';

CREATE VIEW dataproduct.checks AS
SELECT o.view AS output,
       c.name,
       c.kind,
       CASE WHEN c.params ? 'to_relation_oid'
            THEN c.params || pg_catalog.jsonb_build_object('to_relation',
                   (c.params ->> 'to_relation_oid')::pg_catalog.oid::pg_catalog.regclass::text)
            ELSE c.params END - 'to_relation_oid' - 'values_literal' AS params,
       c.severity,
       c.description,
       last.checked_at AS last_checked,
       last.passed AS last_passed,
       CASE WHEN last.observed NOT LIKE 'error:%' OR pg_catalog.has_table_privilege(o.view, 'SELECT')
            THEN last.observed ELSE 'error' END AS last_observed
  FROM dataproduct.quality_check c
  JOIN dataproduct.output o USING (output_id)
  LEFT JOIN LATERAL (SELECT r.checked_at, r.passed, r.observed
                       FROM dataproduct.check_result r
                      WHERE r.check_id = c.check_id
                      ORDER BY r.result_id DESC LIMIT 1) last ON true;
COMMENT ON VIEW dataproduct.checks IS 'Declared quality checks with their latest result';
COMMENT ON COLUMN dataproduct.checks.output IS 'The output checked';
COMMENT ON COLUMN dataproduct.checks.name IS 'Name of the check, unique per output';
COMMENT ON COLUMN dataproduct.checks.kind IS 'not_null, unique, accepted_values, range, row_count, relationship, freshness or custom';
COMMENT ON COLUMN dataproduct.checks.params IS 'The kind''s parameters as given to add_check()';
COMMENT ON COLUMN dataproduct.checks.severity IS 'blocking (a failure rolls the refresh back) or warning (a failure is recorded)';
COMMENT ON COLUMN dataproduct.checks.description IS 'What the check guarantees, in words';
COMMENT ON COLUMN dataproduct.checks.last_checked IS 'When it last ran';
COMMENT ON COLUMN dataproduct.checks.last_passed IS 'Whether it passed then';
COMMENT ON COLUMN dataproduct.checks.last_observed IS 'What it observed then';
GRANT SELECT ON dataproduct.check_results, dataproduct.checks TO PUBLIC;

CREATE FUNCTION dataproduct.health(product text, OUT status text, OUT reasons text[])
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  p record;
BEGIN
  SELECT pr.*, d.name || '.' || pr.name AS address INTO p
    FROM dataproduct.product pr JOIN dataproduct.domain d USING (domain_id)
   WHERE d.name || '.' || pr.name = health.product;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'undefined_object',
      MESSAGE = format('data product "%s" does not exist', health.product),
      HINT = 'Products are listed in dataproduct.products.';
  END IF;
  SELECT coalesce(array_agg(r.reason ORDER BY r.level, r.reason), '{}'),
         coalesce(min(r.level), 9)
    INTO reasons, status
    FROM (SELECT 1 AS level, format('output %s: refreshes fail (%s): %s', o.view, o.failures, o.last_error) AS reason
            FROM dataproduct.output o WHERE o.product_id = p.product_id AND o.last_error IS NOT NULL
          UNION ALL
          SELECT 2, format('output %s: %s behind its sources, promised at most %s', f.output,
                           date_trunc('second', f.staleness), p.max_staleness)
            FROM dataproduct.output o JOIN dataproduct.freshness f ON f.output = o.view
           WHERE o.product_id = p.product_id AND o.mode = 'incremental'
             AND p.max_staleness IS NOT NULL AND f.staleness > p.max_staleness
          UNION ALL
          SELECT 2, format('output %s: last refreshed %s ago, promised at most %s', o.view,
                           date_trunc('second', now() - o.last_refresh), p.max_staleness)
            FROM dataproduct.output o
           WHERE o.product_id = p.product_id AND o.mode = 'full' AND p.max_staleness IS NOT NULL
             AND now() - o.last_refresh > p.max_staleness
          UNION ALL
          SELECT CASE c.severity WHEN 'blocking' THEN 1 ELSE 3 END,
                 format('output %s: check %s failed (%s)', c.output, c.name, c.last_observed)
            FROM dataproduct.checks c JOIN dataproduct.output o ON o.view = c.output
           WHERE o.product_id = p.product_id AND NOT c.last_passed
          UNION ALL
          SELECT 3, format('output %s: not loaded yet', o.view)
            FROM dataproduct.output o WHERE o.product_id = p.product_id AND o.status = 'empty'
          UNION ALL
          SELECT 3, 'no outputs'
           WHERE NOT EXISTS (SELECT 1 FROM dataproduct.output o WHERE o.product_id = p.product_id)) r;
  status := CASE status WHEN '1' THEN 'failing' WHEN '2' THEN 'stale'
                        WHEN '3' THEN 'warning' ELSE 'healthy' END;
  RETURN;
END
$fn$;
COMMENT ON FUNCTION dataproduct.health(text) IS
  'A product''s health (healthy, warning, stale, failing) and the reasons, from its refreshes and its freshness promise';

/* the catalog view of products, with their health */
CREATE VIEW dataproduct.products AS
SELECT d.name || '.' || p.name AS product,
       d.name AS domain,
       p.name,
       p.owner,
       p.description,
       p.version,
       p.status,
       p.tags,
       p.contact,
       (SELECT count(*) FROM dataproduct.output o WHERE o.product_id = p.product_id) AS outputs,
       p.max_staleness,
       p.created_at,
       p.updated_at,
       (dataproduct.health(d.name || '.' || p.name)).status AS health
  FROM dataproduct.product p
  JOIN dataproduct.domain d USING (domain_id);
COMMENT ON VIEW dataproduct.products IS 'Declared data products, addressed as domain.name';
COMMENT ON COLUMN dataproduct.products.product IS 'Product address: domain.name';
COMMENT ON COLUMN dataproduct.products.domain IS 'Owning domain';
COMMENT ON COLUMN dataproduct.products.name IS 'Product name within its domain';
COMMENT ON COLUMN dataproduct.products.owner IS 'Role owning the product';
COMMENT ON COLUMN dataproduct.products.description IS 'Purpose of the product';
COMMENT ON COLUMN dataproduct.products.version IS 'Semantic version';
COMMENT ON COLUMN dataproduct.products.status IS 'Lifecycle status: draft, published, deprecated or retired';
COMMENT ON COLUMN dataproduct.products.tags IS 'Tags for discovery';
COMMENT ON COLUMN dataproduct.products.contact IS 'How to reach the owning team';
COMMENT ON COLUMN dataproduct.products.outputs IS 'Number of output ports';
COMMENT ON COLUMN dataproduct.products.max_staleness IS 'Freshness promise';
COMMENT ON COLUMN dataproduct.products.created_at IS 'When the product was declared';
COMMENT ON COLUMN dataproduct.products.updated_at IS 'When the declaration last changed';
COMMENT ON COLUMN dataproduct.products.health IS 'healthy, warning, stale or failing: see dataproduct.health(product) for the reasons';
GRANT SELECT ON dataproduct.products TO PUBLIC;

/* which products the current role may see in search() and describe() */
CREATE FUNCTION dataproduct.visible(product_id bigint)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT p.status = 'published'
         OR pg_has_role(current_user, p.owner, 'USAGE')
         OR EXISTS (SELECT 1 FROM dataproduct.output o
                     WHERE o.product_id = p.product_id
                       AND has_table_privilege(o.view, 'SELECT'))
    FROM dataproduct.product p WHERE p.product_id = visible.product_id
$fn$;
COMMENT ON FUNCTION dataproduct.visible(bigint) IS
  'Whether the current role may find a product: published ones, those it owns, those with an output it may read';

CREATE FUNCTION dataproduct.search(query text)
RETURNS TABLE (kind text, address text, rank real, owner regrole, status text,
               health text, description text)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
  WITH docs AS (
    SELECT 'product'::text AS kind, d.name || '.' || p.name AS address, p.product_id,
           p.owner, p.status, p.description,
           setweight(to_tsvector('simple', replace(d.name || ' ' || p.name, '_', ' ')), 'A') ||
           setweight(to_tsvector('simple', array_to_string(p.tags, ' ')), 'A') ||
           setweight(to_tsvector('english', coalesce(p.description, '')), 'B') AS doc,
           d.name || ' ' || p.name || ' ' || array_to_string(p.tags, ' ') AS names,
           coalesce(p.description, '') AS prose
      FROM dataproduct.product p JOIN dataproduct.domain d USING (domain_id)
    UNION ALL
    SELECT 'output', o.view::text, o.product_id, p.owner, p.status, o.description,
           setweight(to_tsvector('simple', replace(o.name, '_', ' ')), 'A') ||
           setweight(to_tsvector('english', coalesce(o.description, '')), 'B') ||
           setweight(to_tsvector('simple', replace(coalesce(c.names, ''), '_', ' ')), 'C') ||
           setweight(to_tsvector('english', coalesce(c.comments, '')), 'D'),
           o.name || ' ' || coalesce(c.names, ''),
           coalesce(o.description, '') || ' ' || coalesce(c.comments, '')
      FROM dataproduct.output o
      JOIN dataproduct.product p USING (product_id)
      LEFT JOIN LATERAL (
        SELECT string_agg(a.attname, ' ') AS names,
               string_agg(col_description(a.attrelid, a.attnum), ' ') AS comments
          FROM pg_attribute a
         WHERE a.attrelid = o.view AND a.attnum > 0 AND NOT a.attisdropped) c ON true),
  scored AS (
    SELECT docs.*,
           ts_rank(doc, websearch_to_tsquery('english', search.query))
             + CASE WHEN lower(docs.address) = lower(search.query)
                      OR split_part(docs.address, '.', 2) = lower(search.query) THEN 1 ELSE 0 END
             + 0.5 * dataproduct.word_similarity(search.query, docs.names)
             + 0.1 * dataproduct.word_similarity(search.query, docs.prose) AS score,
           doc @@ websearch_to_tsquery('english', search.query) AS matches,
           greatest(dataproduct.word_similarity(search.query, docs.names),
                    dataproduct.word_similarity(search.query, docs.prose)) AS fuzzy
      FROM docs
     WHERE dataproduct.visible(docs.product_id))
  SELECT s.kind, s.address, round(s.score::numeric, 4)::real, s.owner, s.status,
         (dataproduct.health(p.address)).status, s.description
    FROM scored s
    JOIN (SELECT pr.product_id, d.name || '.' || pr.name AS address
            FROM dataproduct.product pr JOIN dataproduct.domain d USING (domain_id)) p USING (product_id)
   WHERE s.matches OR s.fuzzy >= 0.4
   ORDER BY s.score DESC, s.address
$fn$;
COMMENT ON FUNCTION dataproduct.search(text) IS
  'Products and outputs ranked by relevance: full-text search over names, tags, descriptions, column names and comments, with trigram similarity for typos; only those the current role may find';

CREATE FUNCTION dataproduct.describe(product text)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET intervalstyle = iso_8601
AS $fn$
DECLARE
  p record;
  result jsonb;
BEGIN
  SELECT pr.*, d.name AS domain, d.name || '.' || pr.name AS address INTO p
    FROM dataproduct.product pr JOIN dataproduct.domain d USING (domain_id)
   WHERE d.name || '.' || pr.name = describe.product;
  IF NOT FOUND OR NOT dataproduct.visible(p.product_id) THEN
    RAISE EXCEPTION USING ERRCODE = 'undefined_object',
      MESSAGE = format('data product "%s" does not exist', describe.product),
      HINT = 'Products are listed in dataproduct.products; search them with dataproduct.search().';
  END IF;
  SELECT jsonb_build_object(
    'product', p.address,
    'domain', p.domain,
    'name', p.name,
    'owner', p.owner::text,
    'description', p.description,
    'version', p.version,
    'status', p.status,
    'tags', to_jsonb(p.tags),
    'contact', p.contact,
    'freshness_promise', p.max_staleness::text,
    'health', (SELECT to_jsonb(h) FROM dataproduct.health(p.address) h),
    'outputs', coalesce((
      SELECT jsonb_agg(jsonb_build_object(
               'output', o.view::text,
               'description', o.description,
               'mode', o.mode,
               'status', o.status,
               'last_refresh', o.last_refresh,
               'staleness', f.staleness::text,
               'pending_changes', f.pending,
               'columns', (SELECT jsonb_agg(jsonb_build_object(
                                    'name', a.attname,
                                    'type', format_type(a.atttypid, a.atttypmod),
                                    'description', col_description(a.attrelid, a.attnum))
                                  ORDER BY a.attnum)
                             FROM pg_attribute a
                            WHERE a.attrelid = o.view AND a.attnum > 0 AND NOT a.attisdropped),
               'reads', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                    'source', l.source::text, 'kind', l.source_kind,
                                    'product', l.source_product, 'via', l.via::text)
                                  ORDER BY l.depth, l.source::text), '[]')
                           FROM dataproduct.lineage l WHERE l.output = o.view),
               'checks', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                    'name', c.name, 'kind', c.kind, 'params', c.params,
                                    'severity', c.severity, 'description', c.description,
                                    'last_checked', c.last_checked, 'passed', c.last_passed,
                                    'observed', c.last_observed)
                                  ORDER BY c.name), '[]')
                            FROM dataproduct.checks c WHERE c.output = o.view))
             ORDER BY o.output_id)
        FROM dataproduct.output o
        LEFT JOIN dataproduct.freshness f ON f.output = o.view
       WHERE o.product_id = p.product_id), '[]'),
    'read_by', coalesce((
      SELECT jsonb_agg(DISTINCT jsonb_build_object('output', l.output::text, 'product', l.product))
        FROM dataproduct.lineage l
       WHERE l.source_product = p.address AND l.product <> p.address), '[]'))
    INTO result;
  RETURN result;
END
$fn$;
COMMENT ON FUNCTION dataproduct.describe(text) IS
  'A product as one jsonb document: address, owner, purpose, version, status, tags, freshness promise, health, outputs with columns, descriptions, checks and their latest results, lineage up and down';

/* a database that installs the extension gets its scheduler at once */
SELECT dataproduct.wake_workers();
