/* pg_dataproduct--0.1.0--0.2.0.sql
 *
 * From 0.1.0 to 0.2.0.  ALTER EXTENSION pg_dataproduct UPDATE runs this
 * script in databases at 0.1.0, and a fresh CREATE EXTENSION of 0.2.0 runs
 * it too: make builds pg_dataproduct--0.2.0.sql as install/guard.sql +
 * pg_dataproduct--0.1.0.sql (released, never edited) + this file, so both
 * paths end with the same objects.  Changes appended here must therefore
 *   - be written as changes of the 0.1.0 objects (ALTER, CREATE OR REPLACE,
 *     new objects), valid both in a fresh database and in one full of
 *     products: catalog tables keep their rows (add columns with defaults,
 *     never recreate a table), stores and output views are not extension
 *     members and are not touched here;
 *   - register new catalog tables and sequences with pg_extension_config_dump;
 *   - qualify every name: the search_path is schema dataproduct.
 *
 * What 0.2.0 changes:
 *   - install guard (fresh installs only, in the built script): CREATE
 *     EXTENSION refuses a pre-existing schema dataproduct owned by a role
 *     that is neither the installing one nor a superuser, that other roles
 *     may create in, or that holds objects, and any pre-existing schema
 *     dataproduct_internal.  Databases updated from 0.1.0 were installed
 *     already; this script does not check them.
 *   - only the extension reads change logs: grants of 0.1.0 on them are
 *     revoked (below);
 *   - output views are security barriers (below);
 *   - partitions created or attached by a captured table's owner are
 *     captured in full (below);
 *   - refresh() counts rows deleted plus rows inserted (comments below);
 *   - the schedulers are woken at commit (below).
 *   - one visibility rule for the whole catalog: a role sees the products
 *     that are published, that it owns (is a member of the owner) or that
 *     have an output it may read, and their outputs, lineage, freshness,
 *     checks and refreshes; nothing else (dataproduct.visible_product
 *     states the rule once; health() of an invisible product fails as
 *     describe() does).  Error texts of refreshes, which may quote source
 *     values, are shown only to roles that may read the output; others see
 *     that the refresh failed, and its SQLSTATE (new columns
 *     output.last_error_code and refresh_history.error_code, which the
 *     0.2.0 worker writes; outputs gains last_error_code, checks gains
 *     product).  The tables describing domains, products, outputs, checks
 *     and refreshes lose their grants to PUBLIC: roles read them through
 *     the views (new: dataproduct.refreshes), the extension's C lookups
 *     read them as the catalog owner.
 *   - search() indexes bounded prefixes (65536 characters of each text, 1024
 *     of the query), so one huge description cannot make it fail.
 *   - stores have REPLICA IDENTITY FULL, so that a store added to a
 *     publication keeps refreshing (below).
 *   - cumulative refresh statistics per output: new columns of
 *     dataproduct.output, view dataproduct.statistics (below).
 *   - self-service access (at the end): table access_request, views
 *     access_requests and access, functions request_access,
 *     approve_access, deny_access, revoke_access, expire_access; health()
 *     gains consumers (dropped and created again; products gains
 *     consumers), describe() a consumers count, search() an access column
 *     (dropped and created again).
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_dataproduct UPDATE TO '0.2.0'" to load this file. \quit

/*
 * A scheduler refuses a database whose extension is older than its library
 * and is not started there again until told: when this update commits,
 * start the database's scheduler (as CREATE EXTENSION does).  It takes
 * effect at commit, so where it stands in the script does not matter.
 */
SELECT dataproduct.wake_workers();

/*
 * Only the extension reads change logs.  In 0.1.0 each product owner was
 * granted SELECT on the columns of the change logs its outputs read, so it
 * kept reading new rows of a source after the source's owner revoked its
 * rights, enabled row level security, or after its output was dropped.
 * From 0.2.0 refreshes read batches as the extension owner into ephemeral
 * relations that the owner's delta statements read; nobody else has rights
 * on a log.  Revoking a table privilege also revokes its column privileges.
 */
DO $logs$
DECLARE
	r record;
BEGIN
	FOR r IN
		SELECT DISTINCT s.log, acl.grantee
		  FROM dataproduct.source s
		  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.log
		  CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) acl
		 WHERE acl.grantee OPERATOR(pg_catalog.<>) c.relowner
		UNION
		SELECT DISTINCT s.log, acl.grantee
		  FROM dataproduct.source s
		  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) s.log
		  CROSS JOIN LATERAL pg_catalog.aclexplode(a.attacl) acl
	LOOP
		EXECUTE pg_catalog.format('REVOKE ALL ON TABLE %s FROM %s',
								  r.log::pg_catalog.regclass,
								  CASE WHEN r.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
									   ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r.grantee)) END);
	END LOOP;
END
$logs$;

/*
 * Output views are security barriers, so that a reader's own leaky
 * function in WHERE never sees the rows the view filters out (HAVING).
 * New outputs get the option when their view is created.
 */
DO $views$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT o.view FROM dataproduct.output o
			  WHERE EXISTS (SELECT FROM pg_catalog.pg_class c
							 WHERE c.oid OPERATOR(pg_catalog.=) o.view)
	LOOP
		EXECUTE pg_catalog.format('ALTER VIEW %s SET (security_barrier = true)', r.view);
	END LOOP;
END
$views$;
/* ------------------------------------------------------------------------
 * Partitions of captured tables
 *
 * Creating or attaching a partition of a captured partitioned table clones
 * its row capture trigger to the partition, and PostgreSQL checks the
 * caller's EXECUTE right on the trigger function while cloning: the
 * table's owner must hold it.  dataproduct.capture() itself refuses to run
 * in any trigger but the capture triggers the extension installs (named
 * __dp_capture or __dp_capture_truncate, on a captured relation or one of
 * its partitions, writing that relation's own change log), so it is safe
 * for anyone to reference.
 * ------------------------------------------------------------------------
 */
GRANT EXECUTE ON FUNCTION dataproduct.capture() TO PUBLIC;
COMMENT ON FUNCTION dataproduct.capture() IS
  'Trigger: appends signed row images of the captured columns to a source''s change log; runs only in the capture triggers pg_dataproduct installs';

-- partitions created after capture under 0.1.0 (by superusers) got the row
-- trigger only: give them the TRUNCATE one (their outputs rebuild once)
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT p.relid::pg_catalog.regclass AS partition, s.log
             FROM dataproduct.source s
             JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.relation
                                         AND c.relkind OPERATOR(pg_catalog.=) 'p',
                  LATERAL pg_catalog.pg_partition_tree(s.relation) p
            WHERE p.relid OPERATOR(pg_catalog.<>) s.relation
              AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                               WHERE t.tgrelid OPERATOR(pg_catalog.=) p.relid
                                 AND t.tgname OPERATOR(pg_catalog.=) '__dp_capture_truncate')
  LOOP
    EXECUTE pg_catalog.format('CREATE TRIGGER __dp_capture_truncate AFTER TRUNCATE ON %s'
                              ' FOR EACH STATEMENT EXECUTE FUNCTION dataproduct.capture(%L)',
                              r.partition, r.log::pg_catalog.text);
    EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER __dp_capture_truncate',
                              r.partition);
  END LOOP;
END
$$;

-- a new partition of a captured table gets its TRUNCATE capture trigger
CREATE EVENT TRIGGER dataproduct_ddl_create ON ddl_command_end
  WHEN TAG IN ('CREATE TABLE')
  EXECUTE FUNCTION dataproduct.on_ddl_end();
COMMENT ON EVENT TRIGGER dataproduct_ddl_create IS
  'Installs the TRUNCATE capture trigger of pg_dataproduct on new partitions of captured tables';
COMMENT ON FUNCTION dataproduct.on_ddl_end() IS
  'Event trigger: keeps capture triggers enabled and on every partition of a captured table, and makes outputs rebuild after ALTER TABLE of a source';
COMMENT ON EVENT TRIGGER dataproduct_ddl_end IS
  'Guards the capture triggers of pg_dataproduct against ALTER TABLE, and follows partitions attached and detached';

/* ------------------------------------------------------------------------
 * What a refresh returns
 * ------------------------------------------------------------------------
 */
COMMENT ON FUNCTION dataproduct.refresh(regclass) IS
  'Bring an output up to date with its sources now; returns the output''s rows deleted plus its rows inserted';
COMMENT ON COLUMN dataproduct.output.rows_changed IS 'The output''s rows deleted plus rows inserted by the last successful refresh';
COMMENT ON COLUMN dataproduct.refresh_history.rows_changed IS 'The output''s rows deleted plus rows inserted';
COMMENT ON COLUMN dataproduct.outputs.rows_changed IS 'The output''s rows deleted plus rows inserted by the last refresh';

/*
 * Change logs keep a domain's base type.  Writing a marker (TRUNCATE, ALTER
 * TABLE of a source) or adding a column to a log runs as the extension
 * owner, and would check a domain's constraints, which are code of the
 * domain's owner, as that role.  The delta statements, run as the product
 * owner, cast back to the domain.
 */
DO $domains$
DECLARE
	r record;
BEGIN
	FOR r IN
		SELECT a.attrelid::pg_catalog.regclass AS log, a.attname,
			   pg_catalog.format_type(t.typbasetype, t.typtypmod) AS base
		  FROM dataproduct.source s
		  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) s.log
		  JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid
		 WHERE t.typtype OPERATOR(pg_catalog.=) 'd' AND a.attnum OPERATOR(pg_catalog.>) 0
		   AND NOT a.attisdropped
	LOOP
		EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I TYPE %s',
								  r.log, r.attname, r.base);
	END LOOP;
END
$domains$;

/* ------------------------------------------------------------------------
 * Errors of refreshes: their SQLSTATE, shown to everyone who sees the output
 * ------------------------------------------------------------------------ */

ALTER TABLE dataproduct.output ADD COLUMN last_error_code text;
COMMENT ON COLUMN dataproduct.output.last_error_code IS
  'SQLSTATE of the last failed automatic refresh (meaningful while last_error is set)';
ALTER TABLE dataproduct.refresh_history ADD COLUMN error_code text;
COMMENT ON COLUMN dataproduct.refresh_history.error_code IS 'SQLSTATE of the error, when it failed';
COMMENT ON COLUMN dataproduct.output.last_error IS
  'Error of the last failed automatic refresh, until one succeeds; it may quote source values, so the views show it only to roles that may read the output';
COMMENT ON COLUMN dataproduct.refresh_history.error IS
  'The error, when it failed (failures are recorded by the background worker); it may quote source values, so dataproduct.refreshes shows it only to roles that may read the output';

/* ------------------------------------------------------------------------
 * The catalog tables are read through the views
 *
 * 0.1.0 granted SELECT on them to PUBLIC, so draft products, their
 * descriptions and the error texts of every refresh were readable by every
 * role.  The change logs' tables (source, output_source) keep their grant:
 * they name only captured relations (which pg_trigger shows anyway) and
 * internal ids, and capture reads them as the role running ALTER TABLE.
 * ------------------------------------------------------------------------ */

REVOKE SELECT ON dataproduct.domain, dataproduct.product, dataproduct.output,
                 dataproduct.refresh_history, dataproduct.quality_check FROM PUBLIC;
COMMENT ON TABLE dataproduct.check_result IS
  'Every run of every check, kept for dataproduct.history_retention; read it through dataproduct.check_results';

/*
 * The visibility rule, stated once.  The views below are owned by the
 * extension's owner, so they read the catalog tables with its rights, while
 * current_user, in the rule, is the role querying them; security_barrier
 * keeps a role's own conditions (a function that prints its arguments) from
 * seeing rows the rule filters out.
 */
CREATE VIEW dataproduct.visible_product WITH (security_barrier) AS
SELECT p.product_id,
       p.domain_id,
       d.name AS domain,
       p.name,
       d.name || '.' || p.name AS address,
       p.owner,
       p.description,
       p.version,
       p.status,
       p.tags,
       p.contact,
       p.max_staleness,
       p.created_at,
       p.updated_at
  FROM dataproduct.product p
  JOIN dataproduct.domain d USING (domain_id)
 WHERE p.status = 'published'
    OR pg_catalog.pg_has_role(p.owner, 'USAGE')
    OR EXISTS (SELECT 1 FROM dataproduct.output o
                WHERE o.product_id = p.product_id
                  AND pg_catalog.has_table_privilege(o.view, 'SELECT'));
COMMENT ON VIEW dataproduct.visible_product IS
  'The rows of dataproduct.product that the current role may see: published products, those it owns (member of the owner role), those with an output it may read; the catalog views, search(), describe() and health() read products only through it (query dataproduct.products instead)';
COMMENT ON COLUMN dataproduct.visible_product.product_id IS 'Internal identifier';
COMMENT ON COLUMN dataproduct.visible_product.domain_id IS 'Domain the product belongs to';
COMMENT ON COLUMN dataproduct.visible_product.domain IS 'Domain name';
COMMENT ON COLUMN dataproduct.visible_product.name IS 'Product name within its domain';
COMMENT ON COLUMN dataproduct.visible_product.address IS 'Product address: domain.name';
COMMENT ON COLUMN dataproduct.visible_product.owner IS 'Role owning the product';
COMMENT ON COLUMN dataproduct.visible_product.description IS 'Purpose of the product';
COMMENT ON COLUMN dataproduct.visible_product.version IS 'Semantic version';
COMMENT ON COLUMN dataproduct.visible_product.status IS 'Lifecycle status';
COMMENT ON COLUMN dataproduct.visible_product.tags IS 'Tags for discovery';
COMMENT ON COLUMN dataproduct.visible_product.contact IS 'How to reach the owning team';
COMMENT ON COLUMN dataproduct.visible_product.max_staleness IS 'Freshness promise';
COMMENT ON COLUMN dataproduct.visible_product.created_at IS 'When the product was declared';
COMMENT ON COLUMN dataproduct.visible_product.updated_at IS 'When the declaration last changed';
GRANT SELECT ON dataproduct.visible_product TO PUBLIC;

/*
 * The outputs of the visible products, with the rule for error texts
 * stated once: readable is whether the current role may read the output
 * (SELECT on its view, or membership of the owner role); the others get
 * last_error as "error (SQLSTATE xxxxx)".
 */
CREATE VIEW dataproduct.visible_output WITH (security_barrier) AS
SELECT o.output_id,
       o.product_id,
       p.address AS product,
       o.name,
       o.view,
       o.mode,
       o.refresh_mode,
       o.mode_reason,
       o.description,
       o.definition,
       o.status,
       o.min_interval,
       o.schedule,
       o.failures,
       CASE WHEN r.readable THEN o.last_error
            WHEN o.last_error IS NOT NULL
            THEN coalesce('error (SQLSTATE ' || o.last_error_code || ')', 'error') END AS last_error,
       CASE WHEN o.last_error IS NOT NULL THEN o.last_error_code END AS last_error_code,
       o.last_error_at,
       o.next_retry,
       o.last_refresh,
       o.last_refresh_kind,
       o.refresh_ms,
       o.rows_changed,
       o.row_count,
       o.created_at,
       r.readable
  FROM dataproduct.output o
  JOIN dataproduct.visible_product p USING (product_id)
  CROSS JOIN LATERAL (SELECT coalesce(pg_catalog.has_table_privilege(o.view, 'SELECT'), false)
                             OR pg_catalog.pg_has_role(p.owner, 'USAGE') AS readable) r;
COMMENT ON VIEW dataproduct.visible_output IS
  'The rows of dataproduct.output of the products the current role may see, error texts only where it may read the output; the catalog views, search(), describe() and health() read outputs only through it (query dataproduct.outputs instead)';
COMMENT ON COLUMN dataproduct.visible_output.output_id IS 'Internal identifier';
COMMENT ON COLUMN dataproduct.visible_output.product_id IS 'Product the output belongs to';
COMMENT ON COLUMN dataproduct.visible_output.product IS 'Address of the product';
COMMENT ON COLUMN dataproduct.visible_output.name IS 'Output name';
COMMENT ON COLUMN dataproduct.visible_output.view IS 'The view consumers query';
COMMENT ON COLUMN dataproduct.visible_output.mode IS 'Refresh mode in use';
COMMENT ON COLUMN dataproduct.visible_output.refresh_mode IS 'Refresh mode asked for';
COMMENT ON COLUMN dataproduct.visible_output.mode_reason IS 'Why the output is refreshed in full, when it is';
COMMENT ON COLUMN dataproduct.visible_output.description IS 'What the output contains';
COMMENT ON COLUMN dataproduct.visible_output.definition IS 'The output query as declared';
COMMENT ON COLUMN dataproduct.visible_output.status IS 'empty or ok';
COMMENT ON COLUMN dataproduct.visible_output.min_interval IS 'Minimum time between automatic refreshes';
COMMENT ON COLUMN dataproduct.visible_output.schedule IS 'Periodic automatic refresh, if any';
COMMENT ON COLUMN dataproduct.visible_output.failures IS 'Automatic refreshes failed in a row';
COMMENT ON COLUMN dataproduct.visible_output.last_error IS 'Error of the last failed automatic refresh: its text where readable, else "error (SQLSTATE ...)"';
COMMENT ON COLUMN dataproduct.visible_output.last_error_code IS 'SQLSTATE of that error';
COMMENT ON COLUMN dataproduct.visible_output.last_error_at IS 'When the last automatic refresh failed';
COMMENT ON COLUMN dataproduct.visible_output.next_retry IS 'When the worker retries after a failure';
COMMENT ON COLUMN dataproduct.visible_output.last_refresh IS 'Start of the last successful refresh';
COMMENT ON COLUMN dataproduct.visible_output.last_refresh_kind IS 'full, rebuild or incremental';
COMMENT ON COLUMN dataproduct.visible_output.refresh_ms IS 'Duration of the last successful refresh in milliseconds';
COMMENT ON COLUMN dataproduct.visible_output.rows_changed IS 'Rows inserted plus deleted by the last refresh';
COMMENT ON COLUMN dataproduct.visible_output.row_count IS 'Rows in the output after the last refresh';
COMMENT ON COLUMN dataproduct.visible_output.created_at IS 'When the output was declared';
COMMENT ON COLUMN dataproduct.visible_output.readable IS 'Whether the current role may read the output (SELECT on its view, or membership of the owner role), and so see error texts and samples';
GRANT SELECT ON dataproduct.visible_output TO PUBLIC;

/* ------------------------------------------------------------------------
 * The catalog views, on the rule (same columns; outputs and checks gain
 * columns at the end, so views of users over them stay valid).  Those that
 * join catalog tables to the visible rows are security barriers too: a
 * role's conditions on them (lineage's source, say) are evaluated only on
 * the rows it may see.
 * ------------------------------------------------------------------------ */

CREATE OR REPLACE VIEW dataproduct.domains AS
SELECT d.name AS domain,
       d.owner,
       d.description,
       d.schema,
       (SELECT count(*) FROM dataproduct.visible_product p WHERE p.domain_id = d.domain_id) AS products,
       d.created_at
  FROM dataproduct.domain d;
COMMENT ON COLUMN dataproduct.domains.products IS 'Number of products in the domain that the current role may see';

CREATE OR REPLACE VIEW dataproduct.products WITH (security_barrier) AS
SELECT p.address AS product,
       p.domain,
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
       (dataproduct.health(p.address)).status AS health
  FROM dataproduct.visible_product p;
COMMENT ON VIEW dataproduct.products IS
  'Data products, addressed as domain.name: those the current role may see (published, owned by a role it is a member of, or with an output it may read)';

CREATE OR REPLACE VIEW dataproduct.outputs WITH (security_barrier) AS
SELECT o.view AS output,
       o.product,
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
       o.created_at,
       o.last_error_code
  FROM dataproduct.visible_output o;
COMMENT ON VIEW dataproduct.outputs IS
  'Output ports of the products the current role may see, with their refresh mode and the state of their last refresh';
COMMENT ON COLUMN dataproduct.outputs.last_error IS
  'Error of the last failed automatic refresh, until one succeeds: its text for roles that may read the output (it may quote source values), else "error (SQLSTATE ...)"';
COMMENT ON COLUMN dataproduct.outputs.last_error_code IS 'SQLSTATE of the last failed automatic refresh, until one succeeds';

CREATE OR REPLACE VIEW dataproduct.lineage WITH (security_barrier) AS
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
       o.product,
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
       sp.address AS source_product,
       rd.via::pg_catalog.regclass AS via,
       rd.depth
  FROM reads rd
  JOIN dataproduct.visible_output o ON o.output_id = rd.output_id
  JOIN pg_catalog.pg_class c ON c.oid = rd.relid
  LEFT JOIN dataproduct.output so ON so.view = rd.relid
  LEFT JOIN dataproduct.visible_product sp ON sp.product_id = so.product_id;
COMMENT ON VIEW dataproduct.lineage IS
  'Every relation each output of the products the current role may see reads, derived from its analysed query and followed through plain views';
COMMENT ON COLUMN dataproduct.lineage.source_product IS
  'Product owning the source, when the source is another product''s output that the current role may see';

CREATE OR REPLACE VIEW dataproduct.freshness WITH (security_barrier) AS
SELECT o.view AS output,
       o.product,
       o.mode,
       o.last_refresh,
       pend.pending,
       CASE WHEN o.mode = 'incremental' THEN coalesce(pg_catalog.now() - pend.oldest, '0') END AS staleness
  FROM dataproduct.visible_output o
  LEFT JOIN LATERAL dataproduct.pending_changes(o.view) pend ON true;
COMMENT ON VIEW dataproduct.freshness IS
  'Per output of the products the current role may see: captured changes committed but not yet applied, and the age of the oldest (staleness)';

CREATE OR REPLACE VIEW dataproduct.check_results WITH (security_barrier) AS
SELECT c.name AS check_name,
       o.view AS output,
       c.kind,
       c.severity,
       r.checked_at,
       r.passed,
       CASE WHEN r.observed NOT LIKE 'error:%' OR o.readable
            THEN r.observed ELSE 'error' END AS observed,
       CASE WHEN o.readable THEN r.sample END AS sample,
       r.snapshot,
       r.run_by,
       r.incremental
  FROM dataproduct.check_result r
  JOIN dataproduct.quality_check c USING (check_id)
  JOIN dataproduct.visible_output o USING (output_id);
COMMENT ON VIEW dataproduct.check_results IS
  'Every run of every quality check of the products the current role may see; samples of offending rows and error texts only for roles that may read the output';

CREATE OR REPLACE VIEW dataproduct.checks WITH (security_barrier) AS
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
       CASE WHEN last.observed NOT LIKE 'error:%' OR o.readable
            THEN last.observed ELSE 'error' END AS last_observed,
       o.product
  FROM dataproduct.quality_check c
  JOIN dataproduct.visible_output o USING (output_id)
  LEFT JOIN LATERAL (SELECT r.checked_at, r.passed, r.observed
                       FROM dataproduct.check_result r
                      WHERE r.check_id = c.check_id
                      ORDER BY r.result_id DESC LIMIT 1) last ON true;
COMMENT ON VIEW dataproduct.checks IS
  'Declared quality checks of the products the current role may see, with their latest result';
COMMENT ON COLUMN dataproduct.checks.product IS 'Address of the product of the output checked';

CREATE VIEW dataproduct.refreshes WITH (security_barrier) AS
SELECT o.view AS output,
       o.product,
       h.started_at,
       h.finished_at,
       h.kind,
       h.rows_changed,
       h.row_count,
       CASE WHEN o.readable THEN h.error
            WHEN h.error IS NOT NULL
            THEN coalesce('error (SQLSTATE ' || h.error_code || ')', 'error') END AS error,
       h.error_code,
       h.by_worker
  FROM dataproduct.refresh_history h
  JOIN dataproduct.visible_output o USING (output_id);
COMMENT ON VIEW dataproduct.refreshes IS
  'Every refresh of the outputs of the products the current role may see, successful or failed, kept for dataproduct.history_retention';
COMMENT ON COLUMN dataproduct.refreshes.output IS 'The output refreshed';
COMMENT ON COLUMN dataproduct.refreshes.product IS 'Address of its product';
COMMENT ON COLUMN dataproduct.refreshes.started_at IS 'When the refresh started';
COMMENT ON COLUMN dataproduct.refreshes.finished_at IS 'When it ended';
COMMENT ON COLUMN dataproduct.refreshes.kind IS 'incremental, rebuild or full; NULL when it failed';
COMMENT ON COLUMN dataproduct.refreshes.rows_changed IS 'Store rows inserted, updated or deleted';
COMMENT ON COLUMN dataproduct.refreshes.row_count IS 'Store rows afterwards';
COMMENT ON COLUMN dataproduct.refreshes.error IS
  'The error, when it failed: its text for roles that may read the output (it may quote source values), else "error (SQLSTATE ...)"';
COMMENT ON COLUMN dataproduct.refreshes.error_code IS 'SQLSTATE of the error, when it failed';
COMMENT ON COLUMN dataproduct.refreshes.by_worker IS 'Whether the background worker ran it (else dataproduct.refresh)';
GRANT SELECT ON dataproduct.refreshes TO PUBLIC;

/* ------------------------------------------------------------------------
 * The discovery functions, on the rule (they run as the caller, so they
 * read the catalog only through the views above)
 * ------------------------------------------------------------------------ */

CREATE OR REPLACE FUNCTION dataproduct.visible(product_id bigint)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT EXISTS (SELECT 1 FROM dataproduct.visible_product v
                  WHERE v.product_id = visible.product_id)
$fn$;
COMMENT ON FUNCTION dataproduct.visible(bigint) IS
  'Whether the current role may see a product: published ones, those it owns, those with an output it may read (the rule of dataproduct.visible_product)';

/*
 * health() runs once per row of dataproduct.products: its statements keep
 * one generic plan each (planning them through the security-barrier views
 * costs more than running them, and a custom plan is no better here).
 */
CREATE OR REPLACE FUNCTION dataproduct.health(product text, OUT status text, OUT reasons text[])
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  p record;
BEGIN
  SELECT vp.product_id, vp.address, vp.max_staleness INTO p FROM dataproduct.visible_product vp
   WHERE vp.domain = split_part(health.product, '.', 1) AND vp.name = split_part(health.product, '.', 2)
     AND vp.address = health.product;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'undefined_object',
      MESSAGE = format('data product "%s" does not exist', health.product),
      HINT = 'Products are listed in dataproduct.products.';
  END IF;
  SELECT coalesce(array_agg(r.reason ORDER BY r.level, r.reason), '{}'),
         coalesce(min(r.level), 9)
    INTO reasons, status
    FROM (SELECT 1 AS level, format('output %s: refreshes fail (%s): %s', o.view, o.failures, o.last_error) AS reason
            FROM dataproduct.visible_output o
           WHERE o.product_id = p.product_id AND o.last_error IS NOT NULL
          UNION ALL
          SELECT 2, format('output %s: %s behind its sources, promised at most %s', f.output,
                           date_trunc('second', f.staleness), p.max_staleness)
            FROM dataproduct.freshness f
           WHERE f.product = p.address AND f.mode = 'incremental'
             AND p.max_staleness IS NOT NULL AND f.staleness > p.max_staleness
          UNION ALL
          SELECT 2, format('output %s: last refreshed %s ago, promised at most %s', o.view,
                           date_trunc('second', now() - o.last_refresh), p.max_staleness)
            FROM dataproduct.visible_output o
           WHERE o.product_id = p.product_id AND o.mode = 'full' AND p.max_staleness IS NOT NULL
             AND now() - o.last_refresh > p.max_staleness
          UNION ALL
          SELECT CASE c.severity WHEN 'blocking' THEN 1 ELSE 3 END,
                 format('output %s: check %s failed (%s)', c.output, c.name, c.last_observed)
            FROM dataproduct.checks c
           WHERE c.product = p.address AND NOT c.last_passed
          UNION ALL
          SELECT 3, format('output %s: not loaded yet', o.view)
            FROM dataproduct.visible_output o
           WHERE o.product_id = p.product_id AND o.status = 'empty'
          UNION ALL
          SELECT 3, 'no outputs'
           WHERE NOT EXISTS (SELECT 1 FROM dataproduct.visible_output o
                              WHERE o.product_id = p.product_id)) r;
  status := CASE status WHEN '1' THEN 'failing' WHEN '2' THEN 'stale'
                        WHEN '3' THEN 'warning' ELSE 'healthy' END;
  RETURN;
END
$fn$;
COMMENT ON FUNCTION dataproduct.health(text) IS
  'A product''s health (healthy, warning, stale, failing) and the reasons, from its refreshes, checks and freshness promise; error texts only for roles that may read the output; a product the current role may not see does not exist';

/*
 * search() indexes bounded prefixes: the first 65536 characters of each
 * description, comment and tag list, and of the names, and the first 1024
 * characters of the query (dataproduct.word_similarity reads bounded
 * prefixes too).  One huge description cannot make it fail, or slow, for
 * everyone.  substr() reads only the prefix of a compressed or toasted value.
 */
CREATE OR REPLACE FUNCTION dataproduct.search(query text)
RETURNS TABLE (kind text, address text, rank real, owner regrole, status text,
               health text, description text)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
  WITH q AS (
    SELECT substr(search.query, 1, 1024) AS words),
  docs AS (
    SELECT 'product'::text AS kind, p.address, p.product_id,
           p.owner, p.status, p.description,
           setweight(to_tsvector('simple', replace(p.domain || ' ' || p.name, '_', ' ')), 'A') ||
           setweight(to_tsvector('simple', substr(array_to_string(p.tags, ' '), 1, 65536)), 'A') ||
           setweight(to_tsvector('english', coalesce(substr(p.description, 1, 65536), '')), 'B') AS doc,
           p.domain || ' ' || p.name || ' ' || substr(array_to_string(p.tags, ' '), 1, 65536) AS names,
           coalesce(substr(p.description, 1, 65536), '') AS prose
      FROM dataproduct.visible_product p
    UNION ALL
    SELECT 'output', o.view::text, o.product_id, p.owner, p.status, o.description,
           setweight(to_tsvector('simple', replace(o.name, '_', ' ')), 'A') ||
           setweight(to_tsvector('english', coalesce(substr(o.description, 1, 65536), '')), 'B') ||
           setweight(to_tsvector('simple', replace(coalesce(c.names, ''), '_', ' ')), 'C') ||
           setweight(to_tsvector('english', coalesce(c.comments, '')), 'D'),
           o.name || ' ' || coalesce(c.names, ''),
           coalesce(substr(o.description, 1, 65536), '') || ' ' || coalesce(c.comments, '')
      FROM dataproduct.visible_output o
      JOIN dataproduct.visible_product p USING (product_id)
      LEFT JOIN LATERAL (
        SELECT substr(string_agg(a.attname, ' '), 1, 65536) AS names,
               substr(string_agg(substr(col_description(a.attrelid, a.attnum), 1, 65536), ' '),
                      1, 65536) AS comments
          FROM pg_attribute a
         WHERE a.attrelid = o.view AND a.attnum > 0 AND NOT a.attisdropped) c ON true),
  scored AS (
    SELECT docs.*,
           ts_rank(doc, websearch_to_tsquery('english', q.words))
             + CASE WHEN lower(docs.address) = lower(q.words)
                      OR split_part(docs.address, '.', 2) = lower(q.words) THEN 1 ELSE 0 END
             + 0.5 * dataproduct.word_similarity(q.words, docs.names)
             + 0.1 * dataproduct.word_similarity(q.words, docs.prose) AS score,
           doc @@ websearch_to_tsquery('english', q.words) AS matches,
           greatest(dataproduct.word_similarity(q.words, docs.names),
                    dataproduct.word_similarity(q.words, docs.prose)) AS fuzzy
      FROM docs, q)
  SELECT s.kind, s.address, round(s.score::numeric, 4)::real, s.owner, s.status,
         (dataproduct.health(p.address)).status, s.description
    FROM scored s
    JOIN dataproduct.visible_product p USING (product_id)
   WHERE s.matches OR s.fuzzy >= 0.4
   ORDER BY s.score DESC, s.address
$fn$;
COMMENT ON FUNCTION dataproduct.search(text) IS
  'Products and outputs ranked by relevance: full-text search over names, tags, descriptions, column names and comments (their first 65536 characters; the query''s first 1024), with trigram similarity for typos; only those the current role may see';

CREATE OR REPLACE FUNCTION dataproduct.describe(product text)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET intervalstyle = iso_8601
AS $fn$
DECLARE
  p record;
  result jsonb;
BEGIN
  SELECT vp.* INTO p FROM dataproduct.visible_product vp
   WHERE vp.domain = split_part(describe.product, '.', 1) AND vp.name = split_part(describe.product, '.', 2)
     AND vp.address = describe.product;
  IF NOT FOUND THEN
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
        FROM dataproduct.visible_output o
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
  'A product as one jsonb document: address, owner, purpose, version, status, tags, freshness promise, health, outputs with columns, descriptions, checks and their latest results, lineage up and down; a product the current role may not see does not exist';

/*
 * Stores are replicated like any table: a store in a publication must have
 * a replica identity, or every later refresh, which updates and deletes its
 * rows, fails.  A store's key may hold NULLs (its unique index treats them
 * as equal) and cannot be an identity, so stores identify rows by all their
 * columns.  0.2.0 creates stores so; here the stores of 0.1.0 follow.
 */
DO $identity$
DECLARE
	r record;
BEGIN
	FOR r IN
		SELECT o.store FROM dataproduct.output o
		 WHERE o.store IS NOT NULL ORDER BY o.output_id
	LOOP
		EXECUTE pg_catalog.format('ALTER TABLE %s REPLICA IDENTITY FULL', r.store::pg_catalog.regclass);
	END LOOP;
END
$identity$;

/*
 * Cumulative refresh statistics per output, for monitoring (a Prometheus
 * exporter's custom queries read dataproduct.statistics).  The refresh's
 * own catalog write counts a successful refresh; the worker counts the
 * failures it records.  Counting starts at 0 when a database is updated.
 */
ALTER TABLE dataproduct.output
  ADD COLUMN incremental_refreshes bigint NOT NULL DEFAULT 0,
  ADD COLUMN rebuilds bigint NOT NULL DEFAULT 0,
  ADD COLUMN full_refreshes bigint NOT NULL DEFAULT 0,
  ADD COLUMN failed_refreshes bigint NOT NULL DEFAULT 0,
  ADD COLUMN rows_changed_total numeric NOT NULL DEFAULT 0,
  ADD COLUMN refresh_ms_total double precision NOT NULL DEFAULT 0;
COMMENT ON COLUMN dataproduct.output.incremental_refreshes IS 'Successful refreshes that applied the changes (since declared, or since the update to 0.2.0)';
COMMENT ON COLUMN dataproduct.output.rebuilds IS 'Successful refreshes of an incrementally maintained output that recomputed it';
COMMENT ON COLUMN dataproduct.output.full_refreshes IS 'Successful refreshes of an output refreshed in full';
COMMENT ON COLUMN dataproduct.output.failed_refreshes IS 'Automatic refreshes that failed';
COMMENT ON COLUMN dataproduct.output.rows_changed_total IS 'Store rows inserted, updated or deleted by all successful refreshes';
COMMENT ON COLUMN dataproduct.output.refresh_ms_total IS 'Milliseconds spent in all successful refreshes';

CREATE VIEW dataproduct.statistics WITH (security_barrier) AS
SELECT v.view AS output,
       v.product,
       v.mode,
       o.incremental_refreshes,
       o.rebuilds,
       o.full_refreshes,
       o.failed_refreshes,
       o.rows_changed_total AS rows_changed,
       o.refresh_ms_total AS total_ms,
       v.last_refresh,
       v.refresh_ms AS last_ms,
       v.last_error_at AS last_failure,
       v.row_count
  FROM dataproduct.visible_output v
  JOIN dataproduct.output o USING (output_id);
COMMENT ON VIEW dataproduct.statistics IS
  'Cumulative refresh statistics of the outputs the current role may see: refreshes by kind, failures, rows changed and time spent, for monitoring';
COMMENT ON COLUMN dataproduct.statistics.output IS 'The output';
COMMENT ON COLUMN dataproduct.statistics.product IS 'Address of its product';
COMMENT ON COLUMN dataproduct.statistics.mode IS 'Refresh mode in use';
COMMENT ON COLUMN dataproduct.statistics.incremental_refreshes IS 'Successful refreshes that applied the changes';
COMMENT ON COLUMN dataproduct.statistics.rebuilds IS 'Successful refreshes of an incrementally maintained output that recomputed it';
COMMENT ON COLUMN dataproduct.statistics.full_refreshes IS 'Successful refreshes of an output refreshed in full';
COMMENT ON COLUMN dataproduct.statistics.failed_refreshes IS 'Automatic refreshes that failed';
COMMENT ON COLUMN dataproduct.statistics.rows_changed IS 'Store rows inserted, updated or deleted by all successful refreshes';
COMMENT ON COLUMN dataproduct.statistics.total_ms IS 'Milliseconds spent in all successful refreshes';
COMMENT ON COLUMN dataproduct.statistics.last_refresh IS 'Snapshot time of the last successful refresh';
COMMENT ON COLUMN dataproduct.statistics.last_ms IS 'Duration of the last successful refresh, in milliseconds';
COMMENT ON COLUMN dataproduct.statistics.last_failure IS 'When the last failing automatic refresh failed, until one succeeds';
COMMENT ON COLUMN dataproduct.statistics.row_count IS 'Rows of the output after its last refresh';
GRANT SELECT ON dataproduct.statistics TO PUBLIC;
/* ------------------------------------------------------------------------
 * Self-service access
 *
 * A role that may see a product asks for SELECT on its outputs (all, or
 * one) with request_access(); a member of the product's owner role
 * approves (the grant follows) or denies; revoke_access() takes access
 * away; access with an end (until) is revoked by the background worker
 * when it passes; retiring a product revokes what requests granted.  The
 * functions are C (src/access.c), run as the caller, check its rights,
 * write the requests as the catalog owner and run GRANT and REVOKE as the
 * owner of the output view.  dataproduct.access reads the views' ACLs, so
 * grants and revocations made by hand show as they are.
 * ------------------------------------------------------------------------ */

CREATE TABLE dataproduct.access_request (
    request_id      bigserial PRIMARY KEY,
    product_id      bigint NOT NULL REFERENCES dataproduct.product ON DELETE CASCADE,
    output_id       bigint REFERENCES dataproduct.output ON DELETE CASCADE,
    role            regrole NOT NULL,
    reason          text NOT NULL,
    until           timestamptz,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'approved', 'denied', 'revoked', 'expired')),
    requested_at    timestamptz NOT NULL DEFAULT now(),
    decided_by      regrole,
    decided_at      timestamptz,
    note            text,
    ended_by        regrole,
    ended_at        timestamptz,
    end_reason      text
);
COMMENT ON TABLE dataproduct.access_request IS
  'Access requests of consumers and the owners'' decisions, with who and when; read it through dataproduct.access_requests';
COMMENT ON COLUMN dataproduct.access_request.request_id IS 'Identifier of the request, as approve_access() and deny_access() take it';
COMMENT ON COLUMN dataproduct.access_request.product_id IS 'Product whose outputs are asked for';
COMMENT ON COLUMN dataproduct.access_request.output_id IS 'The one output asked for; NULL for every output of the product';
COMMENT ON COLUMN dataproduct.access_request.role IS 'Role that asked, and that the grant goes to';
COMMENT ON COLUMN dataproduct.access_request.reason IS 'Why the role needs the data, in its words';
COMMENT ON COLUMN dataproduct.access_request.until IS 'When access ends (the background worker revokes it then); NULL for access without an end';
COMMENT ON COLUMN dataproduct.access_request.status IS 'pending, approved (SELECT granted), denied, revoked (by revoke_access() or the product''s retirement) or expired (its until passed)';
COMMENT ON COLUMN dataproduct.access_request.requested_at IS 'When the request was made';
COMMENT ON COLUMN dataproduct.access_request.decided_by IS 'Member of the owner role who approved or denied it';
COMMENT ON COLUMN dataproduct.access_request.decided_at IS 'When it was approved or denied';
COMMENT ON COLUMN dataproduct.access_request.note IS 'The decider''s note';
COMMENT ON COLUMN dataproduct.access_request.ended_by IS 'Role that ended approved access (revoke_access(), retirement, expire_access()); NULL when the background worker expired it';
COMMENT ON COLUMN dataproduct.access_request.ended_at IS 'When approved access ended, or a pending request expired';
COMMENT ON COLUMN dataproduct.access_request.end_reason IS 'How it ended: revoked, the product was retired, until passed';
COMMENT ON SEQUENCE dataproduct.access_request_request_id_seq IS 'Identifiers of access requests';
-- the worker's expiry looks only at live requests with an end
CREATE INDEX access_request_until ON dataproduct.access_request (until)
  WHERE status IN ('pending', 'approved') AND until IS NOT NULL;
CREATE INDEX ON dataproduct.access_request (product_id, status);
CREATE INDEX ON dataproduct.access_request (role);
-- one pending request per role and target
CREATE UNIQUE INDEX access_request_pending ON dataproduct.access_request
  (product_id, coalesce(output_id, 0), role) WHERE status = 'pending';
REVOKE ALL ON dataproduct.access_request FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('dataproduct.access_request', '');
SELECT pg_catalog.pg_extension_config_dump('dataproduct.access_request_request_id_seq', '');

/*
 * Requests as each role may see them: its own (those of roles whose
 * privileges it has) and those for the products it owns (member of the
 * owner role), so owners find the pending requests awaiting them.
 */
CREATE VIEW dataproduct.access_requests WITH (security_barrier) AS
SELECT r.request_id,
       d.name || '.' || p.name AS product,
       o.view AS output,
       r.role,
       r.reason,
       r.until,
       r.status,
       r.requested_at,
       r.decided_by,
       r.decided_at,
       r.note,
       r.ended_by,
       r.ended_at,
       r.end_reason
  FROM dataproduct.access_request r
  JOIN dataproduct.product p ON p.product_id = r.product_id
  JOIN dataproduct.domain d ON d.domain_id = p.domain_id
  LEFT JOIN dataproduct.output o ON o.output_id = r.output_id
 WHERE pg_catalog.pg_has_role(r.role, 'USAGE')
    OR pg_catalog.pg_has_role(p.owner, 'USAGE');
COMMENT ON VIEW dataproduct.access_requests IS
  'Access requests and their decisions: a role sees its own and those for the products it owns (member of the owner role)';
COMMENT ON COLUMN dataproduct.access_requests.request_id IS 'Identifier of the request, as approve_access() and deny_access() take it';
COMMENT ON COLUMN dataproduct.access_requests.product IS 'Address of the product asked for';
COMMENT ON COLUMN dataproduct.access_requests.output IS 'The one output asked for; NULL for every output of the product';
COMMENT ON COLUMN dataproduct.access_requests.role IS 'Role that asked, and that the grant goes to';
COMMENT ON COLUMN dataproduct.access_requests.reason IS 'Why the role needs the data';
COMMENT ON COLUMN dataproduct.access_requests.until IS 'When access ends; NULL for access without an end';
COMMENT ON COLUMN dataproduct.access_requests.status IS 'pending, approved, denied, revoked or expired';
COMMENT ON COLUMN dataproduct.access_requests.requested_at IS 'When the request was made';
COMMENT ON COLUMN dataproduct.access_requests.decided_by IS 'Who approved or denied it';
COMMENT ON COLUMN dataproduct.access_requests.decided_at IS 'When it was approved or denied';
COMMENT ON COLUMN dataproduct.access_requests.note IS 'The decider''s note';
COMMENT ON COLUMN dataproduct.access_requests.ended_by IS 'Who ended approved access; NULL when the background worker expired it';
COMMENT ON COLUMN dataproduct.access_requests.ended_at IS 'When approved access ended, or a pending request expired';
COMMENT ON COLUMN dataproduct.access_requests.end_reason IS 'How it ended: revoked, the product was retired, until passed';
GRANT SELECT ON dataproduct.access_requests TO PUBLIC;

/*
 * Who may read each output and why, from the output views' ACLs (a view
 * never granted on has the owner's default ACL): the owner; a role an
 * approved request covers; anyone else was granted by hand.  A REVOKE by
 * hand removes the row, a GRANT by hand adds one.
 */
CREATE VIEW dataproduct.access WITH (security_barrier) AS
SELECT o.view AS output,
       o.product,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC'
            ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END AS role,
       CASE WHEN a.grantee = c.relowner THEN 'owner'
            WHEN r.request_id IS NOT NULL THEN 'request'
            ELSE 'granted by hand' END AS grounds,
       r.request_id,
       r.until,
       CASE WHEN r.request_id IS NOT NULL THEN r.decided_by
            ELSE a.grantor::pg_catalog.regrole END AS granted_by,
       r.decided_at AS granted_at
  FROM dataproduct.visible_output o
  JOIN pg_catalog.pg_class c ON c.oid = o.view
  CROSS JOIN LATERAL pg_catalog.aclexplode(coalesce(c.relacl,
                                                    pg_catalog.acldefault('r', c.relowner))) a
  LEFT JOIN LATERAL (
    SELECT q.request_id, q.until, q.decided_by, q.decided_at
      FROM dataproduct.access_request q
     WHERE q.role = a.grantee AND q.status = 'approved'
       AND (q.output_id = o.output_id OR (q.output_id IS NULL AND q.product_id = o.product_id))
     ORDER BY q.until DESC NULLS FIRST, q.request_id DESC
     LIMIT 1) r ON a.grantee <> c.relowner
 WHERE a.privilege_type = 'SELECT';
COMMENT ON VIEW dataproduct.access IS
  'Who may read each output of the products the current role may see, and on what grounds (owner, request, granted by hand), read from the output views'' privileges';
COMMENT ON COLUMN dataproduct.access.output IS 'The output';
COMMENT ON COLUMN dataproduct.access.product IS 'Address of its product';
COMMENT ON COLUMN dataproduct.access.role IS 'Role holding SELECT on the output''s view (PUBLIC for everyone)';
COMMENT ON COLUMN dataproduct.access.grounds IS 'owner (the view''s owner), request (an approved access request covers it) or granted by hand';
COMMENT ON COLUMN dataproduct.access.request_id IS 'The approved request the grant comes from';
COMMENT ON COLUMN dataproduct.access.until IS 'When access through the request ends; NULL for no end';
COMMENT ON COLUMN dataproduct.access.granted_by IS 'Who approved the request, or the grantor recorded in the privileges';
COMMENT ON COLUMN dataproduct.access.granted_at IS 'When the request was approved; NULL for grants by hand';
GRANT SELECT ON dataproduct.access TO PUBLIC;

CREATE FUNCTION dataproduct.request_access(target text, reason text,
                                           until timestamptz DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'dataproduct_request_access'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.request_access(text, text, timestamptz) IS
  'Ask the owners of a product (domain.product) or of one output (domain.output) for SELECT on it, with a reason and an optional end; returns the request''s id';

CREATE FUNCTION dataproduct.approve_access(request_id bigint, note text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'dataproduct_approve_access'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.approve_access(bigint, text) IS
  'Approve a pending access request (members of the product''s owner role): SELECT is granted on the outputs asked for';

CREATE FUNCTION dataproduct.deny_access(request_id bigint, note text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'dataproduct_deny_access'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.deny_access(bigint, text) IS
  'Deny a pending access request (members of the product''s owner role), with a note for the requester';

CREATE FUNCTION dataproduct.revoke_access(target text, role regrole)
RETURNS void
AS 'MODULE_PATHNAME', 'dataproduct_revoke_access'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.revoke_access(text, regrole) IS
  'Take a role''s SELECT on a product''s outputs (or one) away, granted through a request or by hand (members of the owner role); its approved requests are recorded as revoked';

CREATE FUNCTION dataproduct.expire_access()
RETURNS integer
AS 'MODULE_PATHNAME', 'dataproduct_expire_access'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.expire_access() IS
  'Revoke access whose until has passed and record it, as the background worker does on its own; returns how many requests ended';
REVOKE ALL ON FUNCTION dataproduct.expire_access() FROM PUBLIC;

/*
 * Consumers in health(), describe() and products; access in search().
 * health() gains an OUT column, so it is dropped and created again; the
 * products view, which reads it, is pointed away from it meanwhile (same
 * columns, so views of users over products stay).
 */
CREATE OR REPLACE VIEW dataproduct.products WITH (security_barrier) AS
SELECT p.address AS product,
       p.domain,
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
       NULL::text AS health
  FROM dataproduct.visible_product p;

DROP FUNCTION dataproduct.health(text);
CREATE FUNCTION dataproduct.health(product text, OUT status text, OUT reasons text[],
                                   OUT consumers bigint)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  p record;
BEGIN
  SELECT vp.product_id, vp.address, vp.max_staleness INTO p FROM dataproduct.visible_product vp
   WHERE vp.domain = split_part(health.product, '.', 1) AND vp.name = split_part(health.product, '.', 2)
     AND vp.address = health.product;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'undefined_object',
      MESSAGE = format('data product "%s" does not exist', health.product),
      HINT = 'Products are listed in dataproduct.products.';
  END IF;
  SELECT coalesce(array_agg(r.reason ORDER BY r.level, r.reason), '{}'),
         coalesce(min(r.level), 9)
    INTO reasons, status
    FROM (SELECT 1 AS level, format('output %s: refreshes fail (%s): %s', o.view, o.failures, o.last_error) AS reason
            FROM dataproduct.visible_output o
           WHERE o.product_id = p.product_id AND o.last_error IS NOT NULL
          UNION ALL
          SELECT 2, format('output %s: %s behind its sources, promised at most %s', f.output,
                           date_trunc('second', f.staleness), p.max_staleness)
            FROM dataproduct.freshness f
           WHERE f.product = p.address AND f.mode = 'incremental'
             AND p.max_staleness IS NOT NULL AND f.staleness > p.max_staleness
          UNION ALL
          SELECT 2, format('output %s: last refreshed %s ago, promised at most %s', o.view,
                           date_trunc('second', now() - o.last_refresh), p.max_staleness)
            FROM dataproduct.visible_output o
           WHERE o.product_id = p.product_id AND o.mode = 'full' AND p.max_staleness IS NOT NULL
             AND now() - o.last_refresh > p.max_staleness
          UNION ALL
          SELECT CASE c.severity WHEN 'blocking' THEN 1 ELSE 3 END,
                 format('output %s: check %s failed (%s)', c.output, c.name, c.last_observed)
            FROM dataproduct.checks c
           WHERE c.product = p.address AND NOT c.last_passed
          UNION ALL
          SELECT 3, format('output %s: not loaded yet', o.view)
            FROM dataproduct.visible_output o
           WHERE o.product_id = p.product_id AND o.status = 'empty'
          UNION ALL
          SELECT 3, 'no outputs'
           WHERE NOT EXISTS (SELECT 1 FROM dataproduct.visible_output o
                              WHERE o.product_id = p.product_id)) r;
  status := CASE status WHEN '1' THEN 'failing' WHEN '2' THEN 'stale'
                        WHEN '3' THEN 'warning' ELSE 'healthy' END;
  SELECT count(DISTINCT a.role) INTO consumers
    FROM dataproduct.access a
   WHERE a.product = p.address AND a.grounds <> 'owner';
  RETURN;
END
$fn$;
COMMENT ON FUNCTION dataproduct.health(text) IS
  'A product''s health (healthy, warning, stale, failing) and the reasons, from its refreshes, checks and freshness promise, and its number of consumers (roles other than the owner that may read an output); error texts only for roles that may read the output; a product the current role may not see does not exist';

CREATE OR REPLACE VIEW dataproduct.products WITH (security_barrier) AS
SELECT p.address AS product,
       p.domain,
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
       h.status AS health,
       h.consumers
  FROM dataproduct.visible_product p
  CROSS JOIN LATERAL dataproduct.health(p.address) h;
COMMENT ON COLUMN dataproduct.products.consumers IS
  'Number of roles other than the owner that may read an output of the product (dataproduct.access)';

DROP FUNCTION dataproduct.search(text);
CREATE FUNCTION dataproduct.search(query text)
RETURNS TABLE (kind text, address text, rank real, owner regrole, status text,
               health text, description text, access text)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
  WITH q AS (
    SELECT substr(search.query, 1, 1024) AS words),
  docs AS (
    SELECT 'product'::text AS kind, p.address, p.product_id, NULL::regclass AS view,
           p.owner, p.status, p.description,
           setweight(to_tsvector('simple', replace(p.domain || ' ' || p.name, '_', ' ')), 'A') ||
           setweight(to_tsvector('simple', substr(array_to_string(p.tags, ' '), 1, 65536)), 'A') ||
           setweight(to_tsvector('english', coalesce(substr(p.description, 1, 65536), '')), 'B') AS doc,
           p.domain || ' ' || p.name || ' ' || substr(array_to_string(p.tags, ' '), 1, 65536) AS names,
           coalesce(substr(p.description, 1, 65536), '') AS prose
      FROM dataproduct.visible_product p
    UNION ALL
    SELECT 'output', o.view::text, o.product_id, o.view, p.owner, p.status, o.description,
           setweight(to_tsvector('simple', replace(o.name, '_', ' ')), 'A') ||
           setweight(to_tsvector('english', coalesce(substr(o.description, 1, 65536), '')), 'B') ||
           setweight(to_tsvector('simple', replace(coalesce(c.names, ''), '_', ' ')), 'C') ||
           setweight(to_tsvector('english', coalesce(c.comments, '')), 'D'),
           o.name || ' ' || coalesce(c.names, ''),
           coalesce(substr(o.description, 1, 65536), '') || ' ' || coalesce(c.comments, '')
      FROM dataproduct.visible_output o
      JOIN dataproduct.visible_product p USING (product_id)
      LEFT JOIN LATERAL (
        SELECT substr(string_agg(a.attname, ' '), 1, 65536) AS names,
               substr(string_agg(substr(col_description(a.attrelid, a.attnum), 1, 65536), ' '),
                      1, 65536) AS comments
          FROM pg_attribute a
         WHERE a.attrelid = o.view AND a.attnum > 0 AND NOT a.attisdropped) c ON true),
  scored AS (
    SELECT docs.*,
           ts_rank(doc, websearch_to_tsquery('english', q.words))
             + CASE WHEN lower(docs.address) = lower(q.words)
                      OR split_part(docs.address, '.', 2) = lower(q.words) THEN 1 ELSE 0 END
             + 0.5 * dataproduct.word_similarity(q.words, docs.names)
             + 0.1 * dataproduct.word_similarity(q.words, docs.prose) AS score,
           doc @@ websearch_to_tsquery('english', q.words) AS matches,
           greatest(dataproduct.word_similarity(q.words, docs.names),
                    dataproduct.word_similarity(q.words, docs.prose)) AS fuzzy
      FROM docs, q)
  SELECT s.kind, s.address, round(s.score::numeric, 4)::real, s.owner, s.status,
         (dataproduct.health(p.address)).status, s.description,
         CASE WHEN pg_has_role(s.owner, 'USAGE') THEN 'owner'
              WHEN r.outputs > 0 AND r.readable = r.outputs THEN 'granted'
              WHEN EXISTS (SELECT 1 FROM dataproduct.access_requests ar
                            WHERE ar.status = 'pending' AND pg_has_role(ar.role, 'USAGE')
                              AND ar.product = p.address
                              AND (s.kind = 'product' OR ar.output IS NULL OR ar.output = s.view))
                THEN 'pending'
              WHEN s.status = 'retired' OR r.outputs = 0 THEN 'unavailable'
              WHEN r.readable > 0 THEN 'partly granted'
              ELSE 'may request' END
    FROM scored s
    JOIN dataproduct.visible_product p USING (product_id)
    CROSS JOIN LATERAL (
      SELECT count(*) AS outputs,
             count(*) FILTER (WHERE has_table_privilege(o.view, 'SELECT')) AS readable
        FROM dataproduct.visible_output o
       WHERE o.product_id = s.product_id AND (s.view IS NULL OR o.view = s.view)) r
   WHERE s.matches OR s.fuzzy >= 0.4
   ORDER BY s.score DESC, s.address
$fn$;
COMMENT ON FUNCTION dataproduct.search(text) IS
  'Products and outputs ranked by relevance: full-text search over names, tags, descriptions, column names and comments (their first 65536 characters; the query''s first 1024), with trigram similarity for typos; only those the current role may see; access says whether the role may read them already (owner, granted, partly granted), has asked (pending), may request access, or not (unavailable: retired or without outputs)';

CREATE OR REPLACE FUNCTION dataproduct.describe(product text)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET intervalstyle = iso_8601
AS $fn$
DECLARE
  p record;
  result jsonb;
BEGIN
  SELECT vp.* INTO p FROM dataproduct.visible_product vp
   WHERE vp.domain = split_part(describe.product, '.', 1) AND vp.name = split_part(describe.product, '.', 2)
     AND vp.address = describe.product;
  IF NOT FOUND THEN
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
    'consumers', (SELECT count(DISTINCT a.role) FROM dataproduct.access a
                   WHERE a.product = p.address AND a.grounds <> 'owner'),
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
        FROM dataproduct.visible_output o
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
  'A product as one jsonb document: address, owner, purpose, version, status, tags, freshness promise, health, consumers (roles other than the owner that may read an output), outputs with columns, descriptions, checks and their latest results, lineage up and down; a product the current role may not see does not exist';
