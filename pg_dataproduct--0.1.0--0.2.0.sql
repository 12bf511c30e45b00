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


/* ------------------------------------------------------------------------
 * Products as code: descriptors in and out
 *
 * export() writes a product as an ODCS v3.1.0 data contract (one schema
 * object per output) or an ODPS v1.0.0 data product (one output port per
 * output, each referring to the contract); apply() declares or updates a
 * product from such a contract.  The field-by-field mapping is in the
 * README ("Descriptors").  Both are PL/pgSQL and run as the caller (no
 * SECURITY DEFINER): export() reads only the catalog views, so a role
 * exports only what it may see; apply() plans by reading them and then
 * calls the API functions (create_product, add_output, add_check, ...)
 * with the document's values as bound arguments, so every check and right
 * of the API applies and no SQL text is built from the document, except
 * GRANT and REVOKE on output views, whose identifiers are quoted.  The two
 * facts that only the extension can read (an output's analysed query,
 * deparsed schema-qualified, with its grain, and its settings) come from
 * output_contract() (src/descriptor.c); versions are compared by
 * compare_versions() (src/product.c), the rule alter_product enforces.
 * ------------------------------------------------------------------------ */

CREATE FUNCTION dataproduct.output_contract(output regclass,
                                            OUT query text, OUT key text[],
                                            OUT timezone text, OUT datestyle text,
                                            OUT intervalstyle text)
AS 'MODULE_PATHNAME', 'dataproduct_output_contract'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION dataproduct.output_contract(regclass) IS
  'What a descriptor needs of an output: its query deparsed with every name schema-qualified, its grain (the columns identifying a row: GROUP BY or DISTINCT columns; {} for one row; NULL when rows may repeat) and the TimeZone, DateStyle and IntervalStyle it is evaluated under; for roles that may see its product';

CREATE FUNCTION dataproduct.compare_versions(a text, b text)
RETURNS integer
AS 'MODULE_PATHNAME', 'dataproduct_compare_versions'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dataproduct.compare_versions(text, text) IS
  'Compare two semantic versions by semver 2.0.0 precedence (build metadata ignored): -1, 0 or 1; a malformed version is an error';

CREATE FUNCTION dataproduct.export(product text, format text DEFAULT 'odcs')
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
SET intervalstyle = iso_8601
AS $fn$
DECLARE
  p record;
  fmt text := lower(export.format);
  st text;
  doc jsonb;
  objects jsonb;
  host text;
  socket text;
  servers jsonb;
  members jsonb;
  roles jsonb;
  staleness numeric;
  sla jsonb;
BEGIN
  IF fmt IS NULL OR fmt NOT IN ('odcs', 'odps') THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
      MESSAGE = format('unknown descriptor format "%s"', export.format),
      HINT = 'The formats are odcs (Open Data Contract Standard v3) and odps (Open Data Product Standard v1).';
  END IF;
  SELECT vp.* INTO p FROM dataproduct.visible_product vp
   WHERE vp.domain = split_part(export.product, '.', 1) AND vp.name = split_part(export.product, '.', 2)
     AND vp.address = export.product;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'undefined_object',
      MESSAGE = format('data product "%s" does not exist', export.product),
      HINT = 'Products are listed in dataproduct.products; search them with dataproduct.search().';
  END IF;
  st := CASE p.status WHEN 'published' THEN 'active' ELSE p.status END;

  -- the team: the owner role and its direct members
  SELECT jsonb_agg(jsonb_build_object('username', m.member::regrole::text, 'role', 'member')
                   ORDER BY m.member::regrole::text)
    INTO members
    FROM pg_auth_members m WHERE m.roleid = p.owner;

  IF fmt = 'odps' THEN
    doc := jsonb_strip_nulls(jsonb_build_object(
      'apiVersion', 'v1.0.0',
      'kind', 'DataProduct',
      'id', p.address,
      'name', p.name,
      'version', p.version,
      'status', st,
      'domain', p.domain,
      'description', CASE WHEN coalesce(p.description, '') <> ''
                          THEN jsonb_build_object('purpose', p.description) END,
      'tags', CASE WHEN cardinality(p.tags) > 0 THEN to_jsonb(p.tags) END,
      'team', jsonb_build_object('name', p.owner::text, 'members', members),
      'inputPorts', (
        SELECT jsonb_agg(jsonb_build_object('name', s.address, 'version', s.version,
                                            'contractId', s.address) ORDER BY s.address)
          FROM (SELECT DISTINCT sp.address, sp.version
                  FROM dataproduct.lineage l
                  JOIN dataproduct.visible_product sp ON sp.address = l.source_product
                 WHERE l.product = p.address AND l.source_product <> p.address) s),
      'outputPorts', (
        SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                 'name', o.name,
                 'version', p.version,
                 'description', nullif(o.description, ''),
                 'type', 'view',
                 'contractId', p.address,
                 'inputContracts', (
                   SELECT jsonb_agg(jsonb_build_object('id', s.address, 'version', s.version)
                                    ORDER BY s.address)
                     FROM (SELECT DISTINCT sp.address, sp.version
                             FROM dataproduct.lineage l
                             JOIN dataproduct.visible_product sp ON sp.address = l.source_product
                            WHERE l.output = o.view AND l.source_product <> p.address) s),
                 'customProperties', jsonb_build_array(
                   jsonb_build_object('property', 'view', 'value', o.view::text))))
                 ORDER BY o.output_id)
          FROM dataproduct.visible_output o WHERE o.product_id = p.product_id),
      'customProperties', CASE WHEN coalesce(p.contact, '') <> ''
                               THEN jsonb_build_array(jsonb_build_object('property', 'contact',
                                                                         'value', p.contact)) END,
      'productCreatedTs', to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')));
    RETURN doc;
  END IF;

  -- ODCS: one schema object per output
  SELECT jsonb_agg(obj ORDER BY output_id) INTO objects
    FROM (
      SELECT o.output_id, jsonb_strip_nulls(jsonb_build_object(
               'name', o.name,
               'physicalName', o.view::text,
               'physicalType', 'view',
               'logicalType', 'object',
               'description', nullif(o.description, ''),
               'dataGranularityDescription',
                 CASE WHEN oc.key IS NULL THEN NULL
                      WHEN cardinality(oc.key) = 0 THEN 'One row'
                      ELSE 'One row per ' || array_to_string(oc.key, ', ') END,
               'properties', (
                 SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                          'name', a.attname,
                          'physicalType', format_type(a.atttypid, a.atttypmod),
                          'logicalType', lt.logical,
                          'logicalTypeOptions', lt.options,
                          'required', EXISTS (SELECT 1 FROM dataproduct.checks c
                                               WHERE c.output = o.view AND c.kind = 'not_null'
                                                 AND c.params ->> 'column' = a.attname),
                          'unique', coalesce(oc.key = ARRAY[a.attname::text], false)
                                    OR EXISTS (SELECT 1 FROM dataproduct.checks c
                                                WHERE c.output = o.view AND c.kind = 'unique'
                                                  AND coalesce(c.params -> 'columns',
                                                               jsonb_build_array(c.params -> 'column'))
                                                      = jsonb_build_array(a.attname::text)),
                          'primaryKey', coalesce(a.attname = ANY (oc.key), false),
                          'primaryKeyPosition', array_position(oc.key, a.attname::text),
                          'description', nullif(col_description(a.attrelid, a.attnum), ''),
                          'quality', (
                            SELECT jsonb_agg(r.rule ORDER BY r.name)
                              FROM (SELECT c.name, jsonb_strip_nulls(
                                             jsonb_build_object(
                                               'name', c.name,
                                               'description', nullif(c.description, ''),
                                               'severity', CASE c.severity WHEN 'blocking' THEN 'error' ELSE 'warning' END)
                                             || CASE c.kind
                                                  WHEN 'not_null' THEN jsonb_build_object(
                                                    'type', 'library', 'metric', 'nullValues', 'mustBe', 0,
                                                    'dimension', 'completeness')
                                                  WHEN 'unique' THEN jsonb_build_object(
                                                    'type', 'library', 'metric', 'duplicateValues', 'mustBe', 0,
                                                    'dimension', 'uniqueness')
                                                  WHEN 'accepted_values' THEN jsonb_build_object(
                                                    'type', 'library', 'metric', 'invalidValues', 'mustBe', 0,
                                                    'arguments', jsonb_build_object('validValues', c.params -> 'values'),
                                                    'dimension', 'conformity')
                                                  WHEN 'range' THEN jsonb_build_object(
                                                    'type', 'custom', 'engine', 'pg_dataproduct',
                                                    'implementation', jsonb_build_object('kind', 'range')
                                                      || jsonb_strip_nulls(jsonb_build_object(
                                                           'min', c.params -> 'min', 'max', c.params -> 'max')),
                                                    'dimension', 'conformity')
                                                  WHEN 'relationship' THEN jsonb_build_object(
                                                    'type', 'custom', 'engine', 'pg_dataproduct',
                                                    'implementation', jsonb_build_object(
                                                      'kind', 'relationship',
                                                      'to_relation', c.params -> 'to_relation',
                                                      'to_column', c.params -> 'to_column'),
                                                    'dimension', 'consistency')
                                                END) AS rule
                                      FROM dataproduct.checks c
                                     WHERE c.output = o.view
                                       AND c.kind IN ('not_null', 'accepted_values', 'range', 'relationship', 'unique')
                                       AND coalesce(c.params -> 'columns', jsonb_build_array(c.params -> 'column'))
                                           = jsonb_build_array(a.attname::text)) r)))
                        ORDER BY a.attnum)
                   FROM pg_attribute a
                   JOIN pg_type t ON t.oid = a.atttypid
                   LEFT JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype END
                   CROSS JOIN LATERAL (
                     SELECT coalesce(bt.oid, t.oid) AS typ,
                            coalesce(bt.typcategory, t.typcategory) AS cat,
                            CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END AS typmod) b
                   CROSS JOIN LATERAL (
                     SELECT CASE
                              WHEN b.typ IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) THEN 'integer'
                              WHEN b.cat = 'N' THEN 'number'
                              WHEN b.cat = 'B' THEN 'boolean'
                              WHEN b.typ = 'date'::regtype THEN 'date'
                              WHEN b.typ IN ('timestamp'::regtype, 'timestamptz'::regtype) THEN 'timestamp'
                              WHEN b.typ IN ('time'::regtype, 'timetz'::regtype) THEN 'time'
                              WHEN b.cat IN ('S', 'E', 'I') OR b.typ = 'uuid'::regtype THEN 'string'
                              WHEN b.cat = 'A' THEN 'array'
                              WHEN b.cat = 'C' OR b.typ IN ('json'::regtype, 'jsonb'::regtype) THEN 'object'
                            END AS logical,
                            CASE
                              WHEN b.typ = 'int2'::regtype THEN '{"format": "i16"}'::jsonb
                              WHEN b.typ = 'int4'::regtype THEN '{"format": "i32"}'::jsonb
                              WHEN b.typ = 'int8'::regtype THEN '{"format": "i64"}'::jsonb
                              WHEN b.typ = 'float4'::regtype THEN '{"format": "f32"}'::jsonb
                              WHEN b.typ = 'float8'::regtype THEN '{"format": "f64"}'::jsonb
                              WHEN b.typ IN ('varchar'::regtype, 'bpchar'::regtype) AND b.typmod > 4
                                THEN jsonb_build_object('maxLength', b.typmod - 4)
                            END AS options) lt
                  WHERE a.attrelid = o.view AND a.attnum > 0 AND NOT a.attisdropped),
               'quality', (
                 SELECT jsonb_agg(r.rule ORDER BY r.name)
                   FROM (SELECT c.name, jsonb_strip_nulls(
                                  jsonb_build_object(
                                    'name', c.name,
                                    'description', nullif(c.description, ''),
                                    'severity', CASE c.severity WHEN 'blocking' THEN 'error' ELSE 'warning' END)
                                  || CASE c.kind
                                       WHEN 'unique' THEN jsonb_build_object(
                                         'type', 'library', 'metric', 'duplicateValues', 'mustBe', 0,
                                         'arguments', jsonb_build_object('properties', c.params -> 'columns'),
                                         'dimension', 'uniqueness')
                                       WHEN 'row_count' THEN jsonb_build_object(
                                         'type', 'library', 'metric', 'rowCount', 'dimension', 'completeness')
                                         || CASE
                                              WHEN c.params ? 'min' AND c.params ? 'max'
                                                   AND (c.params ->> 'min')::numeric = (c.params ->> 'max')::numeric
                                                THEN jsonb_build_object('mustBe', (c.params ->> 'min')::numeric)
                                              WHEN c.params ? 'min' AND c.params ? 'max'
                                                THEN jsonb_build_object('mustBeBetween', jsonb_build_array(
                                                       (c.params ->> 'min')::numeric, (c.params ->> 'max')::numeric))
                                              WHEN c.params ? 'min'
                                                THEN jsonb_build_object('mustBeGreaterOrEqualTo', (c.params ->> 'min')::numeric)
                                              ELSE jsonb_build_object('mustBeLessOrEqualTo', (c.params ->> 'max')::numeric)
                                            END
                                       WHEN 'freshness' THEN jsonb_build_object(
                                         'type', 'custom', 'engine', 'pg_dataproduct',
                                         'implementation', jsonb_build_object(
                                           'kind', 'freshness',
                                           'max_staleness', ((c.params ->> 'max_staleness')::interval)::text),
                                         'dimension', 'timeliness')
                                       WHEN 'custom' THEN jsonb_build_object(
                                         'type', 'sql',
                                         'query', 'SELECT count(*) FROM (' || (c.params ->> 'sql') || ') AS offending_rows',
                                         'mustBe', 0)
                                     END) AS rule
                           FROM dataproduct.checks c
                          WHERE c.output = o.view
                            AND (c.kind IN ('row_count', 'freshness', 'custom')
                                 OR (c.kind = 'unique' AND jsonb_array_length(coalesce(c.params -> 'columns', '[]')) > 1))) r),
               'customProperties', jsonb_build_array(
                   jsonb_build_object('property', 'query', 'value', oc.query),
                   jsonb_build_object('property', 'refresh', 'value', o.refresh_mode),
                   jsonb_build_object('property', 'timezone', 'value', oc.timezone),
                   jsonb_build_object('property', 'datestyle', 'value', oc.datestyle),
                   jsonb_build_object('property', 'intervalstyle', 'value', oc.intervalstyle))
                 || CASE WHEN o.history THEN jsonb_build_array(jsonb_build_object(
                      'property', 'history', 'value', true)) ELSE '[]' END
                 || CASE WHEN o.min_interval <> '0' THEN jsonb_build_array(jsonb_build_object(
                      'property', 'minInterval', 'value', o.min_interval::text)) ELSE '[]' END
                 || CASE WHEN o.schedule IS NOT NULL THEN jsonb_build_array(jsonb_build_object(
                      'property', 'schedule', 'value', o.schedule::text)) ELSE '[]' END)) AS obj
        FROM dataproduct.visible_output o
        CROSS JOIN LATERAL dataproduct.output_contract(o.view) oc
       WHERE o.product_id = p.product_id) s;

  -- the roles granted SELECT on outputs, each with the outputs it reads
  SELECT jsonb_agg(jsonb_build_object(
           'role', g.grantee, 'access', 'read',
           'customProperties', jsonb_build_array(jsonb_build_object(
             'property', 'outputs', 'value', to_jsonb(g.outputs))))
         ORDER BY g.grantee)
    INTO roles
    FROM (SELECT CASE WHEN acl.grantee = 0 THEN 'public' ELSE acl.grantee::regrole::text END AS grantee,
                 array_agg(DISTINCT o.name ORDER BY o.name) AS outputs
            FROM dataproduct.visible_output o
            JOIN pg_class c ON c.oid = o.view
            CROSS JOIN LATERAL aclexplode(c.relacl) acl
           WHERE o.product_id = p.product_id AND acl.privilege_type = 'SELECT'
             AND acl.grantee <> c.relowner
           GROUP BY 1) g;

  -- the freshness promise, in the largest unit that expresses it exactly
  IF p.max_staleness IS NOT NULL THEN
    staleness := extract(epoch FROM p.max_staleness);
    sla := jsonb_build_array(jsonb_build_object('property', 'latency') ||
      CASE WHEN staleness % 86400 = 0 THEN jsonb_build_object('value', trim_scale(staleness / 86400), 'unit', 'd')
           WHEN staleness % 3600 = 0 THEN jsonb_build_object('value', trim_scale(staleness / 3600), 'unit', 'h')
           WHEN staleness % 60 = 0 THEN jsonb_build_object('value', trim_scale(staleness / 60), 'unit', 'min')
           ELSE jsonb_build_object('value', trim_scale(staleness), 'unit', 's') END ||
      jsonb_build_object('description', 'Outputs are at most this far behind their sources, measured from the change stream'));
  END IF;

  -- where the outputs are read: this server, as far as it knows itself
  host := host(inet_server_addr());
  IF host IS NULL THEN
    BEGIN
      socket := nullif(trim(split_part(current_setting('unix_socket_directories'), ',', 1)), '');
    EXCEPTION WHEN insufficient_privilege THEN
      socket := NULL;
    END;
    host := socket;
  END IF;
  IF host IS NOT NULL THEN
    servers := jsonb_build_array(jsonb_build_object(
      'server', current_database(),
      'type', 'postgres',
      'host', host,
      'port', current_setting('port')::integer,
      'database', current_database(),
      'schema', (SELECT d.schema::text FROM dataproduct.domains d WHERE d.domain = p.domain)));
  END IF;

  doc := jsonb_strip_nulls(jsonb_build_object(
    'apiVersion', 'v3.1.0',
    'kind', 'DataContract',
    'id', p.address,
    'name', p.name,
    'version', p.version,
    'status', st,
    'domain', p.domain,
    'description', CASE WHEN coalesce(p.description, '') <> ''
                        THEN jsonb_build_object('purpose', p.description) END,
    'tags', CASE WHEN cardinality(p.tags) > 0 THEN to_jsonb(p.tags) END,
    'support', CASE WHEN coalesce(p.contact, '') <> ''
                    THEN jsonb_build_array(jsonb_build_object('channel', p.contact)) END,
    'team', jsonb_build_object('name', p.owner::text, 'members', members),
    'roles', roles,
    'slaProperties', sla,
    'servers', servers,
    'schema', coalesce(objects, '[]'),
    'contractCreatedTs', to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')));
  RETURN doc;
END
$fn$;
COMMENT ON FUNCTION dataproduct.export(text, text) IS
  'A product as a descriptor document: odcs (an ODCS v3.1.0 data contract, one schema object per output, with columns, keys, quality rules from the checks, the freshness promise, team, roles and server) or odps (an ODPS v1.0.0 data product whose output ports refer to that contract); only what the current role may see';

/*
 * apply() in two phases: a plan (one step per change, each with the API
 * call that makes it), judged against the version rules, then, unless
 * dry_run, the calls in order.  Nothing is written before the whole plan
 * is known to be allowed, and an error in any call rolls back all of them
 * (the caller's transaction).
 */
CREATE FUNCTION dataproduct.apply(document jsonb, dry_run boolean DEFAULT false,
                                  drop_missing boolean DEFAULT false)
RETURNS TABLE (action text, object text, detail text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  doc jsonb := apply.document;
  kind text;
  api text;
  dom text;
  pname text;
  addr text;
  ver text;
  want_status text;
  want_owner regrole;
  want_description text;
  want_tags text[];
  want_contact text;
  want_staleness interval;
  latency jsonb;
  cur record;
  have_product boolean;
  have_output boolean;
  steps jsonb := '[]';
  status_step jsonb;
  pdiff text[] := '{}';
  breaking text[] := '{}';
  changes integer;
  cmp integer;
  obj jsonb;
  prop jsonb;
  rule jsonb;
  o record;
  oc record;
  col record;
  chk record;
  s jsonb;
  op jsonb;
  oname text;
  oaddr text;
  q text;
  refresh text;
  history boolean;
  tz text;
  ds text;
  ist text;
  min_interval interval;
  schedule interval;
  recreate boolean;
  why text[];
  props jsonb;
  rules jsonb;
  c jsonb;
  ctx text;
  rtype text;
  metric text;
  impl jsonb;
  inner_sql text;
  existing jsonb;
  names text[];
  onames text[] := '{}';
  roles jsonb;
  grantee text;
  want_grants text[];
  have_grants text[];
  saved_tz text;
  saved_ds text;
  saved_is text;
  v regclass;
BEGIN
  /* ---- the document ---- */
  IF doc IS NULL OR jsonb_typeof(doc) <> 'object' THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
      MESSAGE = 'a descriptor must be a JSON object',
      HINT = 'Pass an ODCS data contract as written by dataproduct.export(product, ''odcs'').';
  END IF;
  FOREACH kind IN ARRAY ARRAY['apiVersion', 'kind', 'id', 'name', 'version', 'status', 'domain'] LOOP
    IF doc ? kind AND jsonb_typeof(doc -> kind) <> 'string' THEN
      RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
        MESSAGE = format('field "%s" of the descriptor must be a string', kind),
        HINT = 'See the ODCS v3 JSON Schema shipped in schema/.';
    END IF;
  END LOOP;
  kind := doc ->> 'kind';
  IF kind = 'DataProduct' THEN
    RAISE EXCEPTION USING ERRCODE = 'feature_not_supported',
      MESSAGE = 'apply() declares products from ODCS data contracts, not ODPS data products',
      HINT = 'Apply the product''s contract, as written by dataproduct.export(product, ''odcs'').';
  ELSIF kind IS DISTINCT FROM 'DataContract' THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
      MESSAGE = format('unknown descriptor kind "%s"', coalesce(kind, '')),
      HINT = 'An ODCS data contract has kind DataContract.';
  END IF;
  api := doc ->> 'apiVersion';
  IF api IS NULL OR api NOT IN ('v3.0.0', 'v3.0.1', 'v3.0.2', 'v3.1.0') THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
      MESSAGE = format('unsupported apiVersion "%s" of an ODCS data contract', coalesce(api, '')),
      HINT = 'apply() reads ODCS v3.0.0 to v3.1.0 (apiVersion v3.0.0, v3.0.1, v3.0.2 or v3.1.0).';
  END IF;
  pname := doc ->> 'name';
  dom := doc ->> 'domain';
  IF coalesce(pname, '') = '' OR coalesce(dom, '') = '' THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
      MESSAGE = format('the descriptor has no %s', CASE WHEN coalesce(pname, '') = '' THEN 'name' ELSE 'domain' END),
      HINT = 'The product is declared as domain.name: give both "domain" and "name".';
  END IF;
  addr := dom || '.' || pname;
  ver := doc ->> 'version';
  IF ver IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
      MESSAGE = format('the descriptor of data product %s has no version', addr),
      HINT = 'Give "version" as a semantic version, for example "1.0.0".';
  END IF;
  PERFORM dataproduct.compare_versions(ver, ver);   -- a malformed version is an error
  want_status := CASE doc ->> 'status'
                   WHEN 'active' THEN 'published' WHEN 'published' THEN 'published'
                   WHEN 'draft' THEN 'draft' WHEN 'proposed' THEN 'draft'
                   WHEN 'deprecated' THEN 'deprecated' WHEN 'retired' THEN 'retired' END;
  IF doc ? 'status' AND want_status IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
      MESSAGE = format('unknown status "%s" of data product %s', doc ->> 'status', addr),
      HINT = 'The statuses are proposed or draft, active (published), deprecated and retired.';
  END IF;
  IF jsonb_typeof(doc -> 'team') = 'object' AND doc -> 'team' ? 'name' THEN
    want_owner := (doc #>> '{team,name}')::regrole;
  END IF;
  IF doc ? 'description' AND jsonb_typeof(doc -> 'description') <> 'object' THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
      MESSAGE = format('field "description" of data product %s must be an object', addr),
      HINT = 'ODCS v3 describes a contract with {"purpose": ..., "usage": ..., "limitations": ...}.';
  END IF;
  want_description := coalesce(doc #>> '{description,purpose}', '');
  want_tags := coalesce((SELECT array_agg(t ORDER BY n) FROM jsonb_array_elements_text(
                           CASE WHEN jsonb_typeof(doc -> 'tags') = 'array' THEN doc -> 'tags' ELSE '[]' END)
                           WITH ORDINALITY AS x(t, n)), '{}');
  want_contact := coalesce(doc #>> '{support,0,channel}', '');
  SELECT e INTO latency
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(doc -> 'slaProperties') = 'array'
                                   THEN doc -> 'slaProperties' ELSE '[]' END) e
   WHERE lower(e ->> 'property') = 'latency' LIMIT 1;
  IF latency IS NOT NULL THEN
    want_staleness := ((latency ->> 'value') || ' ' || coalesce(latency ->> 'unit', 's'))::interval;
  END IF;
  IF doc ? 'schema' AND jsonb_typeof(doc -> 'schema') <> 'array' THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
      MESSAGE = format('field "schema" of data product %s must be an array', addr),
      HINT = 'Each output is one schema object.';
  END IF;

  /* ---- the plan: domain and product ---- */
  IF NOT EXISTS (SELECT 1 FROM dataproduct.domains d WHERE d.domain = dom) THEN
    steps := steps || jsonb_build_object('action', 'create', 'object', 'domain ' || dom,
      'op', jsonb_build_object('call', 'create_domain', 'owner', want_owner::text));
  END IF;
  SELECT vp.* INTO cur FROM dataproduct.visible_product vp WHERE vp.address = addr;
  have_product := FOUND;
  IF NOT have_product THEN
    steps := steps || jsonb_build_object('action', 'create', 'object', 'product ' || addr,
      'detail', 'version ' || ver,
      'op', jsonb_build_object('call', 'create_product', 'owner', want_owner::text));
    IF want_status IS NOT NULL AND want_status <> 'draft' THEN
      status_step := jsonb_build_object('action', 'change', 'object', 'product ' || addr,
        'detail', 'status draft -> ' || want_status,
        'op', jsonb_build_object('call', 'status', 'status', want_status));
    END IF;
  ELSE
    IF coalesce(cur.description, '') <> want_description THEN pdiff := pdiff || 'description'::text; END IF;
    IF cur.tags <> want_tags THEN pdiff := pdiff || 'tags'::text; END IF;
    IF coalesce(cur.contact, '') <> want_contact THEN pdiff := pdiff || 'contact'::text; END IF;
    IF cur.max_staleness IS DISTINCT FROM want_staleness THEN pdiff := pdiff || 'freshness promise'::text; END IF;
    IF want_owner IS NOT NULL AND want_owner <> cur.owner THEN
      pdiff := pdiff || format('owner %s -> %s', cur.owner, want_owner);
    END IF;
    IF want_status IS NOT NULL AND want_status <> cur.status THEN
      status_step := jsonb_build_object('action', 'change', 'object', 'product ' || addr,
        'detail', format('status %s -> %s', cur.status, want_status),
        'op', jsonb_build_object('call', 'status', 'status', want_status));
    END IF;
  END IF;

  /* ---- the plan: outputs gone from the document ---- */
  IF jsonb_typeof(doc -> 'schema') = 'array' THEN
    SELECT coalesce(array_agg(e ->> 'name'), '{}') INTO onames FROM jsonb_array_elements(doc -> 'schema') e;
  END IF;
  IF have_product THEN
    FOR o IN SELECT vo.* FROM dataproduct.visible_output vo
              WHERE vo.product_id = cur.product_id AND NOT vo.name = ANY (onames)
              ORDER BY vo.output_id LOOP
      IF apply.drop_missing THEN
        steps := steps || jsonb_build_object('action', 'drop', 'object', 'output ' || o.view::text,
          'detail', 'not in the document',
          'op', jsonb_build_object('call', 'drop_output', 'output', o.view::text));
        breaking := breaking || format('output %s removed', o.view);
      ELSE
        steps := steps || jsonb_build_object('action', 'unchanged', 'object', 'output ' || o.view::text,
          'detail', 'not in the document; kept (drop_missing => true drops it)');
      END IF;
    END LOOP;
  END IF;

  /* ---- the plan: each output of the document ---- */
  roles := CASE WHEN jsonb_typeof(doc -> 'roles') = 'array' THEN doc -> 'roles' ELSE '[]' END;
  FOR obj IN SELECT e FROM jsonb_array_elements(coalesce(doc -> 'schema', '[]')) e LOOP
    IF jsonb_typeof(obj) <> 'object' OR coalesce(obj ->> 'name', '') = '' THEN
      RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
        MESSAGE = format('a schema object of data product %s has no name', addr),
        HINT = 'Each output is a schema object with a "name".';
    END IF;
    oname := obj ->> 'name';
    IF (SELECT count(*) FROM unnest(onames) n WHERE n = oname) > 1 THEN
      RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
        MESSAGE = format('output "%s" appears twice in the descriptor of data product %s', oname, addr),
        HINT = 'Output names are unique within a product.';
    END IF;
    oaddr := quote_ident(dom) || '.' || quote_ident(oname);
    SELECT cp ->> 'value' INTO q FROM jsonb_array_elements(coalesce(obj -> 'customProperties', '[]')) cp
     WHERE cp ->> 'property' = 'query';
    IF q IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
        MESSAGE = format('output "%s" of data product %s has no query', oname, addr),
        HINT = 'Give the output''s SELECT as the custom property "query" of its schema object, as dataproduct.export() writes it.';
    END IF;
    refresh := 'auto'; history := false; tz := NULL; ds := NULL; ist := NULL; min_interval := '0'; schedule := NULL;
    SELECT coalesce(max(cp ->> 'value') FILTER (WHERE cp ->> 'property' = 'refresh'), 'auto'),
           max(cp ->> 'value') FILTER (WHERE cp ->> 'property' = 'timezone'),
           max(cp ->> 'value') FILTER (WHERE cp ->> 'property' = 'datestyle'),
           max(cp ->> 'value') FILTER (WHERE cp ->> 'property' = 'intervalstyle'),
           coalesce(max(cp ->> 'value') FILTER (WHERE cp ->> 'property' = 'minInterval'), '0')::interval,
           max(cp ->> 'value') FILTER (WHERE cp ->> 'property' = 'schedule')::interval,
           coalesce(bool_or((cp ->> 'value')::boolean) FILTER (WHERE cp ->> 'property' = 'history'), false)
      INTO refresh, tz, ds, ist, min_interval, schedule, history
      FROM jsonb_array_elements(coalesce(obj -> 'customProperties', '[]')) cp;
    props := CASE WHEN jsonb_typeof(obj -> 'properties') = 'array' THEN obj -> 'properties' END;

    /* the document's checks, as add_check's arguments */
    rules := '[]';
    FOR rule, ctx IN
      SELECT r, NULL::text FROM jsonb_array_elements(CASE WHEN jsonb_typeof(obj -> 'quality') = 'array'
                                                          THEN obj -> 'quality' ELSE '[]' END) r
      UNION ALL
      SELECT r, pr ->> 'name'
        FROM jsonb_array_elements(coalesce(props, '[]')) pr,
             jsonb_array_elements(CASE WHEN jsonb_typeof(pr -> 'quality') = 'array'
                                       THEN pr -> 'quality' ELSE '[]' END) r
    LOOP
      rtype := coalesce(rule ->> 'type', 'library');
      IF rtype = 'text' THEN
        CONTINUE;                -- words only: nothing to enforce
      END IF;
      IF coalesce(rule ->> 'name', '') = '' THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
          MESSAGE = format('a quality rule of output "%s" of data product %s has no name', oname, addr),
          HINT = 'Every rule is a check of the output, named by the rule''s "name".';
      END IF;
      c := jsonb_build_object('name', rule ->> 'name',
             'severity', CASE WHEN lower(coalesce(rule ->> 'severity', 'error')) IN ('error', 'blocking', 'critical')
                              THEN 'blocking' ELSE 'warning' END,
             'description', nullif(rule ->> 'description', ''));
      metric := rule ->> 'metric';
      IF rtype = 'library' AND metric = 'nullValues' AND ctx IS NOT NULL
         AND (rule -> 'mustBe') = '0'::jsonb THEN
        c := c || jsonb_build_object('kind', 'not_null', 'column', ctx);
      ELSIF rtype = 'library' AND metric = 'duplicateValues' AND (rule -> 'mustBe') = '0'::jsonb
            AND (ctx IS NOT NULL OR jsonb_typeof(rule #> '{arguments,properties}') = 'array') THEN
        c := c || jsonb_build_object('kind', 'unique',
                    'columns', coalesce(rule #> '{arguments,properties}', jsonb_build_array(ctx)));
      ELSIF rtype = 'library' AND metric = 'invalidValues' AND ctx IS NOT NULL
            AND (rule -> 'mustBe') = '0'::jsonb
            AND jsonb_typeof(rule #> '{arguments,validValues}') = 'array' THEN
        c := c || jsonb_build_object('kind', 'accepted_values', 'column', ctx,
                    'values', (SELECT jsonb_agg(x #>> '{}') FROM jsonb_array_elements(rule #> '{arguments,validValues}') x));
      ELSIF rtype = 'library' AND metric = 'rowCount' AND ctx IS NULL
            AND (rule ?| ARRAY['mustBe', 'mustBeBetween', 'mustBeGreaterOrEqualTo', 'mustBeLessOrEqualTo',
                               'mustBeGreaterThan', 'mustBeLessThan']) THEN
        c := c || jsonb_build_object('kind', 'row_count') || jsonb_strip_nulls(jsonb_build_object(
               'min', coalesce(rule ->> 'mustBe', rule #>> '{mustBeBetween,0}', rule ->> 'mustBeGreaterOrEqualTo',
                               (floor((rule ->> 'mustBeGreaterThan')::numeric) + 1)::text),
               'max', coalesce(rule ->> 'mustBe', rule #>> '{mustBeBetween,1}', rule ->> 'mustBeLessOrEqualTo',
                               (ceil((rule ->> 'mustBeLessThan')::numeric) - 1)::text)));
      ELSIF rtype = 'sql' AND (rule -> 'mustBe') = '0'::jsonb
            AND rule ->> 'query' LIKE 'SELECT count(*) FROM (%) AS offending_rows' THEN
        inner_sql := substr(rule ->> 'query', length('SELECT count(*) FROM (') + 1);
        inner_sql := left(inner_sql, length(inner_sql) - length(') AS offending_rows'));
        c := c || jsonb_build_object('kind', 'custom', 'sql', inner_sql);
      ELSIF rtype = 'custom' AND rule ->> 'engine' = 'pg_dataproduct'
            AND jsonb_typeof(rule -> 'implementation') = 'object'
            AND rule #>> '{implementation,kind}' IS NOT NULL THEN
        impl := rule -> 'implementation';
        c := c || jsonb_build_object('kind', impl ->> 'kind') || jsonb_strip_nulls(jsonb_build_object(
               'column', coalesce(impl ->> 'column', ctx),
               'columns', impl -> 'columns', 'values', impl -> 'values',
               'min', impl ->> 'min', 'max', impl ->> 'max',
               'to_relation', impl ->> 'to_relation', 'to_column', impl ->> 'to_column',
               'max_staleness', impl ->> 'max_staleness', 'sql', impl ->> 'sql'));
      ELSE
        RAISE EXCEPTION USING ERRCODE = 'feature_not_supported',
          MESSAGE = format('quality rule "%s" of output "%s" of data product %s cannot be enforced',
                           rule ->> 'name', oname, addr),
          DETAIL = format('The rule is %s.', rule::text),
          HINT = 'apply() enforces library rules nullValues, duplicateValues and invalidValues with mustBe 0 and rowCount, '
                 'sql rules counting offending rows with mustBe 0, and custom rules of engine pg_dataproduct, as dataproduct.export() writes them; rules of type text are not enforced.';
      END IF;
      IF EXISTS (SELECT 1 FROM jsonb_array_elements(rules) x WHERE x ->> 'name' = c ->> 'name') THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
          MESSAGE = format('quality rule "%s" appears twice on output "%s" of data product %s', c ->> 'name', oname, addr),
          HINT = 'Check names are unique per output.';
      END IF;
      -- compared as add_check stores them: max_staleness as seconds
      rules := rules || jsonb_build_array(c || jsonb_strip_nulls(jsonb_build_object('staleness_s',
                 to_jsonb(extract(epoch FROM (c ->> 'max_staleness')::interval)))));
    END LOOP;

    SELECT vo.* INTO o FROM dataproduct.visible_output vo
     WHERE have_product AND vo.product_id = cur.product_id AND vo.name = oname;
    have_output := FOUND;
    recreate := false;
    why := '{}';
    IF have_output THEN
      SELECT * INTO oc FROM dataproduct.output_contract(o.view);
      IF q <> oc.query AND q <> o.definition THEN why := why || 'query changed'::text; END IF;
      IF refresh <> o.refresh_mode THEN why := why || format('refresh %s -> %s', o.refresh_mode, refresh); END IF;
      IF history <> o.history THEN
        why := why || CASE WHEN history THEN 'history added' ELSE 'history removed' END;
      END IF;
      IF tz IS DISTINCT FROM oc.timezone AND tz IS NOT NULL THEN why := why || 'TimeZone changed'::text; END IF;
      IF ds IS DISTINCT FROM oc.datestyle AND ds IS NOT NULL THEN why := why || 'DateStyle changed'::text; END IF;
      IF ist IS DISTINCT FROM oc.intervalstyle AND ist IS NOT NULL THEN why := why || 'IntervalStyle changed'::text; END IF;
      recreate := cardinality(why) > 0;
      -- declaring a history output again would lose the versions it kept
      IF recreate AND o.history THEN
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
          MESSAGE = format('history output %s cannot be declared again', o.view),
          DETAIL = format('The descriptor changes it (%s); declaring it again would drop the versions it keeps.',
                          array_to_string(why, ', ')),
          HINT = 'Keep the history output as it is and declare the change as a new output, or drop it with dataproduct.drop_output() first if its history may go.';
      END IF;
      -- the columns the document declares, against the output's
      FOR col IN SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS type,
                        pr AS prop
                   FROM pg_attribute a
                   LEFT JOIN LATERAL (SELECT x AS pr FROM jsonb_array_elements(coalesce(props, '[]')) x
                                       WHERE x ->> 'name' = a.attname::text LIMIT 1) px ON true
                  WHERE a.attrelid = o.view AND a.attnum > 0 AND NOT a.attisdropped
                  ORDER BY a.attnum LOOP
        IF props IS NULL THEN
          IF recreate THEN breaking := breaking || format('output %s: query changed, columns not declared', o.view); END IF;
          EXIT;
        ELSIF col.prop IS NULL THEN
          IF NOT recreate THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
              MESSAGE = format('output %s has column "%s", which its schema object does not list', o.view, col.name),
              HINT = 'The properties of a schema object are the columns of its query; export the product to see them.';
          END IF;
          breaking := breaking || format('column %s.%s removed', o.view, col.name);
        ELSIF col.prop ? 'physicalType' AND col.prop ->> 'physicalType' <> col.type THEN
          IF NOT recreate THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
              MESSAGE = format('column "%s" of output %s is of type %s, not %s as its schema object says',
                               col.name, o.view, col.type, col.prop ->> 'physicalType'),
              HINT = 'The properties of a schema object are the columns of its query; export the product to see them.';
          END IF;
          breaking := breaking || format('column %s.%s retyped %s -> %s', o.view, col.name, col.type, col.prop ->> 'physicalType');
        END IF;
      END LOOP;
      IF NOT recreate AND props IS NOT NULL AND EXISTS (
           SELECT 1 FROM jsonb_array_elements(props) x
            WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a
                               WHERE a.attrelid = o.view AND a.attnum > 0 AND NOT a.attisdropped
                                 AND a.attname::text = x ->> 'name')) THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
          MESSAGE = format('the schema object of output %s lists columns its query does not return', o.view),
          HINT = 'The properties of a schema object are the columns of its query; export the product to see them.';
      END IF;
    END IF;

    IF NOT have_output OR recreate THEN
      IF recreate THEN
        steps := steps || jsonb_build_object('action', 'change', 'object', 'output ' || o.view::text,
          'detail', 'declared again: ' || array_to_string(why, ', '),
          'op', jsonb_build_object('call', 'drop_output', 'output', o.view::text));
      END IF;
      steps := steps || jsonb_build_object('action', CASE WHEN recreate THEN 'change' ELSE 'create' END,
        'object', 'output ' || oaddr,
        'detail', CASE WHEN recreate THEN 'added again' WHEN history THEN 'history' ELSE 'refresh ' || refresh END,
        'hidden', recreate,
        'op', jsonb_build_object('call', 'add_output', 'name', oname, 'query', q, 'refresh', refresh,
                'history', history,
                'description', nullif(obj ->> 'description', ''), 'min_interval', min_interval,
                'schedule', schedule, 'timezone', tz, 'datestyle', ds, 'intervalstyle', ist,
                'properties', props));
      -- its column descriptions, checks and grants are all new
      FOR prop IN SELECT x FROM jsonb_array_elements(coalesce(props, '[]')) x
                   WHERE coalesce(x ->> 'description', '') <> '' LOOP
        steps := steps || jsonb_build_object('action', 'create', 'object', 'column ' || oaddr || '.' || quote_ident(prop ->> 'name'),
          'detail', 'description',
          'op', jsonb_build_object('call', 'comment_column', 'output', oaddr, 'column', prop ->> 'name',
                                   'description', prop ->> 'description'));
      END LOOP;
      FOR c IN SELECT x FROM jsonb_array_elements(rules) x LOOP
        steps := steps || jsonb_build_object('action', 'create', 'object', 'check ' || oaddr || '.' || quote_ident(c ->> 'name'),
          'detail', c ->> 'kind', 'op', jsonb_build_object('call', 'add_check', 'output', oaddr, 'check', c));
      END LOOP;
      have_grants := '{}';
    ELSE
      -- an output kept: its own fields, column descriptions and checks
      IF coalesce(o.description, '') <> coalesce(obj ->> 'description', '')
         OR o.min_interval <> min_interval OR o.schedule IS DISTINCT FROM schedule THEN
        steps := steps || jsonb_build_object('action', 'change', 'object', 'output ' || o.view::text,
          'detail', array_to_string(ARRAY[
                      CASE WHEN coalesce(o.description, '') <> coalesce(obj ->> 'description', '') THEN 'description' END,
                      CASE WHEN o.min_interval <> min_interval THEN 'min_interval' END,
                      CASE WHEN o.schedule IS DISTINCT FROM schedule THEN 'schedule' END], ', '),
          'op', jsonb_build_object('call', 'alter_output', 'output', o.view::text,
                  'description', CASE WHEN coalesce(o.description, '') <> coalesce(obj ->> 'description', '')
                                      THEN coalesce(obj ->> 'description', '') END,
                  'min_interval', CASE WHEN o.min_interval <> min_interval THEN min_interval END,
                  'schedule', CASE WHEN o.schedule IS DISTINCT FROM schedule THEN coalesce(schedule, '0') END));
      ELSE
        steps := steps || jsonb_build_object('action', 'unchanged', 'object', 'output ' || o.view::text);
      END IF;
      IF props IS NOT NULL THEN
        FOR col IN SELECT a.attname::text AS name, coalesce(col_description(a.attrelid, a.attnum), '') AS comment,
                          coalesce(x ->> 'description', '') AS wanted
                     FROM pg_attribute a
                     JOIN jsonb_array_elements(props) x ON x ->> 'name' = a.attname::text
                    WHERE a.attrelid = o.view AND a.attnum > 0 AND NOT a.attisdropped
                      AND coalesce(col_description(a.attrelid, a.attnum), '') <> coalesce(x ->> 'description', '')
                    ORDER BY a.attnum LOOP
          steps := steps || jsonb_build_object('action', 'change',
            'object', 'column ' || o.view::text || '.' || quote_ident(col.name), 'detail', 'description',
            'op', jsonb_build_object('call', 'comment_column', 'output', o.view::text, 'column', col.name,
                                     'description', nullif(col.wanted, '')));
        END LOOP;
      END IF;
      FOR chk IN SELECT ck.name, ck.severity, coalesce(ck.description, '') AS description,
                        jsonb_strip_nulls(jsonb_build_object(
                          'kind', ck.kind,
                          'column', CASE WHEN ck.kind <> 'unique' THEN ck.params -> 'column' END,
                          'columns', CASE WHEN ck.kind = 'unique'
                                          THEN coalesce(ck.params -> 'columns', jsonb_build_array(ck.params -> 'column')) END,
                          'values', ck.params -> 'values', 'min', ck.params -> 'min', 'max', ck.params -> 'max',
                          'to_relation', ck.params -> 'to_relation', 'to_column', ck.params -> 'to_column',
                          'staleness_s', to_jsonb(extract(epoch FROM (ck.params ->> 'max_staleness')::interval)),
                          'sql', ck.params -> 'sql')) AS core
                   FROM dataproduct.checks ck WHERE ck.output = o.view ORDER BY ck.name LOOP
        SELECT x INTO c FROM jsonb_array_elements(rules) x WHERE x ->> 'name' = chk.name;
        IF c IS NULL THEN
          IF apply.drop_missing THEN
            steps := steps || jsonb_build_object('action', 'drop', 'object', 'check ' || o.view::text || '.' || quote_ident(chk.name),
              'detail', 'not in the document',
              'op', jsonb_build_object('call', 'drop_check', 'output', o.view::text, 'name', chk.name));
          ELSE
            steps := steps || jsonb_build_object('action', 'unchanged', 'object', 'check ' || o.view::text || '.' || quote_ident(chk.name),
              'detail', 'not in the document; kept (drop_missing => true drops it)');
          END IF;
        ELSIF (c - 'name' - 'severity' - 'description' - 'max_staleness') <> chk.core THEN
          steps := steps || jsonb_build_object('action', 'change', 'object', 'check ' || o.view::text || '.' || quote_ident(chk.name),
            'detail', 'declared again: ' || (c ->> 'kind'),
            'op', jsonb_build_object('call', 'replace_check', 'output', o.view::text, 'check', c));
        ELSIF c ->> 'severity' <> chk.severity OR coalesce(c ->> 'description', '') <> chk.description THEN
          steps := steps || jsonb_build_object('action', 'change', 'object', 'check ' || o.view::text || '.' || quote_ident(chk.name),
            'detail', array_to_string(ARRAY[CASE WHEN c ->> 'severity' <> chk.severity THEN 'severity ' || chk.severity || ' -> ' || (c ->> 'severity') END,
                                            CASE WHEN coalesce(c ->> 'description', '') <> chk.description THEN 'description' END], ', '),
            'op', jsonb_build_object('call', 'alter_check', 'output', o.view::text, 'name', chk.name,
                    'severity', c ->> 'severity', 'description', coalesce(c ->> 'description', '')));
        ELSE
          steps := steps || jsonb_build_object('action', 'unchanged', 'object', 'check ' || o.view::text || '.' || quote_ident(chk.name));
        END IF;
      END LOOP;
      FOR c IN SELECT x FROM jsonb_array_elements(rules) x
                WHERE NOT EXISTS (SELECT 1 FROM dataproduct.checks ck WHERE ck.output = o.view AND ck.name = x ->> 'name') LOOP
        steps := steps || jsonb_build_object('action', 'create', 'object', 'check ' || o.view::text || '.' || quote_ident(c ->> 'name'),
          'detail', c ->> 'kind', 'op', jsonb_build_object('call', 'add_check', 'output', o.view::text, 'check', c));
      END LOOP;
      SELECT coalesce(array_agg(CASE WHEN acl.grantee = 0 THEN 'public' ELSE acl.grantee::regrole::text END), '{}')
        INTO have_grants
        FROM pg_class cl CROSS JOIN LATERAL aclexplode(cl.relacl) acl
       WHERE cl.oid = o.view AND acl.privilege_type = 'SELECT' AND acl.grantee <> cl.relowner;
    END IF;

    -- grants: the roles whose outputs list names this one (no list: every output)
    SELECT coalesce(array_agg(DISTINCT r ->> 'role'), '{}') INTO want_grants
      FROM jsonb_array_elements(roles) r
     WHERE coalesce(r ->> 'role', '') <> ''
       AND (NOT EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(r -> 'customProperties', '[]')) cp
                         WHERE cp ->> 'property' = 'outputs')
            OR EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(r -> 'customProperties', '[]')) cp,
                              jsonb_array_elements_text(CASE WHEN jsonb_typeof(cp -> 'value') = 'array'
                                                             THEN cp -> 'value' ELSE '[]' END) n
                        WHERE cp ->> 'property' = 'outputs' AND n = oname));
    FOREACH grantee IN ARRAY (SELECT coalesce(array_agg(DISTINCT g ORDER BY g), '{}') FROM unnest(want_grants || have_grants) g) LOOP
      IF grantee = ANY (want_grants) AND grantee = ANY (have_grants) THEN
        steps := steps || jsonb_build_object('action', 'unchanged', 'object', format('grant %s to %s', oaddr, grantee));
      ELSIF grantee = ANY (want_grants) THEN
        IF grantee <> 'public' THEN
          PERFORM grantee::regrole;           -- an unknown role is an error now, not later
        END IF;
        steps := steps || jsonb_build_object('action', 'create', 'object', format('grant %s to %s', oaddr, grantee),
          'detail', 'SELECT', 'op', jsonb_build_object('call', 'grant', 'output', oaddr, 'role', grantee));
      ELSIF apply.drop_missing THEN
        steps := steps || jsonb_build_object('action', 'drop', 'object', format('grant %s to %s', oaddr, grantee),
          'detail', 'not in the document', 'op', jsonb_build_object('call', 'revoke', 'output', oaddr, 'role', grantee));
      ELSE
        steps := steps || jsonb_build_object('action', 'unchanged', 'object', format('grant %s to %s', oaddr, grantee),
          'detail', 'not in the document; kept (drop_missing => true drops it)');
      END IF;
    END LOOP;
  END LOOP;

  /* ---- the version rules ---- */
  IF have_product THEN
    cmp := dataproduct.compare_versions(ver, cur.version);
    SELECT count(*) INTO changes FROM jsonb_array_elements(steps) x WHERE x ->> 'action' <> 'unchanged';
    changes := changes + cardinality(pdiff) + CASE WHEN status_step IS NULL THEN 0 ELSE 1 END;
    IF cmp < 0 THEN
      RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
        MESSAGE = format('version of data product %s cannot go back from %s to %s', addr, cur.version, ver),
        HINT = 'Versions only move forward; publish the change as a new version.';
    END IF;
    IF changes > 0 AND cmp = 0 THEN
      RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
        MESSAGE = format('data product %s changes, but its version stays %s', addr, ver),
        DETAIL = 'Changes: ' || array_to_string(pdiff || ARRAY(
                   SELECT (x ->> 'action') || ' ' || (x ->> 'object')
                     FROM jsonb_array_elements(steps || coalesce(jsonb_build_array(status_step), '[]')) x
                    WHERE x ->> 'action' <> 'unchanged'), '; ') || '.',
        HINT = 'Raise the version in the descriptor: a minor or patch version for compatible changes, a major version for breaking ones.';
    END IF;
    IF cardinality(breaking) > 0
       AND split_part(ver, '.', 1)::numeric <= split_part(cur.version, '.', 1)::numeric THEN
      RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
        MESSAGE = format('breaking change of data product %s needs a new major version, not %s', addr, ver),
        DETAIL = 'Breaking: ' || array_to_string(breaking, '; ') || '.',
        HINT = format('Declare version %s.0.0 or later, or keep the removed or retyped columns and outputs.',
                      split_part(cur.version, '.', 1)::numeric + 1);
    END IF;
    IF cmp > 0 THEN
      pdiff := pdiff || format('version %s -> %s', cur.version, ver);
    END IF;
    IF cardinality(pdiff) > 0 THEN
      steps := jsonb_build_array(jsonb_build_object('action', 'change', 'object', 'product ' || addr,
                 'detail', array_to_string(pdiff, ', '),
                 'op', jsonb_build_object('call', 'alter_product'))) || steps;
    ELSE
      steps := jsonb_build_array(jsonb_build_object('action', 'unchanged', 'object', 'product ' || addr)) || steps;
    END IF;
  END IF;
  IF status_step IS NOT NULL THEN
    steps := steps || status_step;
  END IF;

  /* ---- the calls ---- */
  IF NOT apply.dry_run THEN
    FOR s IN SELECT x FROM jsonb_array_elements(steps) x WHERE x ? 'op' LOOP
      op := s -> 'op';
      CASE op ->> 'call'
        WHEN 'create_domain' THEN
          PERFORM dataproduct.create_domain(dom, owner => (op ->> 'owner')::regrole);
        WHEN 'create_product' THEN
          PERFORM dataproduct.create_product(addr, owner => (op ->> 'owner')::regrole,
                    description => nullif(want_description, ''), version => ver, tags => want_tags,
                    contact => nullif(want_contact, ''), max_staleness => want_staleness);
        WHEN 'alter_product' THEN
          PERFORM dataproduct.alter_product(addr,
                    description => CASE WHEN coalesce(cur.description, '') <> want_description THEN want_description END,
                    version => CASE WHEN cmp > 0 THEN ver END,
                    tags => CASE WHEN cur.tags <> want_tags THEN want_tags END,
                    owner => CASE WHEN want_owner <> cur.owner THEN want_owner END,
                    contact => CASE WHEN coalesce(cur.contact, '') <> want_contact THEN want_contact END,
                    max_staleness => CASE WHEN cur.max_staleness IS DISTINCT FROM want_staleness
                                          THEN coalesce(want_staleness, '0') END);
        WHEN 'status' THEN
          PERFORM dataproduct.alter_product(addr, status => op ->> 'status');
        WHEN 'drop_output' THEN
          PERFORM dataproduct.drop_output((op ->> 'output')::regclass);
        WHEN 'add_output' THEN
          saved_tz := current_setting('TimeZone');
          saved_ds := current_setting('DateStyle');
          saved_is := current_setting('IntervalStyle');
          IF op ->> 'timezone' IS NOT NULL THEN PERFORM set_config('TimeZone', op ->> 'timezone', true); END IF;
          IF op ->> 'datestyle' IS NOT NULL THEN PERFORM set_config('DateStyle', op ->> 'datestyle', true); END IF;
          IF op ->> 'intervalstyle' IS NOT NULL THEN PERFORM set_config('IntervalStyle', op ->> 'intervalstyle', true); END IF;
          v := dataproduct.add_output(addr, op ->> 'name', op ->> 'query', refresh => op ->> 'refresh',
                 description => op ->> 'description', min_interval => (op ->> 'min_interval')::interval,
                 schedule => (op ->> 'schedule')::interval,
                 history => coalesce((op ->> 'history')::boolean, false));
          PERFORM set_config('TimeZone', saved_tz, true);
          PERFORM set_config('DateStyle', saved_ds, true);
          PERFORM set_config('IntervalStyle', saved_is, true);
          -- the query must return the columns the contract promises
          IF jsonb_typeof(op -> 'properties') = 'array' THEN
            SELECT string_agg(format('%s %s', quote_ident(a.attname), format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
              INTO inner_sql
              FROM pg_attribute a WHERE a.attrelid = v AND a.attnum > 0 AND NOT a.attisdropped;
            IF inner_sql IS DISTINCT FROM (
                 SELECT string_agg(format('%s %s', quote_ident(x ->> 'name'),
                                          coalesce(x ->> 'physicalType', a.type)), ', ' ORDER BY n)
                   FROM jsonb_array_elements(op -> 'properties') WITH ORDINALITY AS e(x, n)
                   LEFT JOIN LATERAL (SELECT format_type(at.atttypid, at.atttypmod) AS type
                                        FROM pg_attribute at
                                       WHERE at.attrelid = v AND at.attname::text = x ->> 'name'
                                         AND NOT at.attisdropped) a ON true) THEN
              RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = format('the query of output %s does not return the columns its schema object lists', v),
                DETAIL = format('The query returns %s.', inner_sql),
                HINT = 'List the query''s columns, in order and with their types, as the properties of the schema object.';
            END IF;
          END IF;
        WHEN 'alter_output' THEN
          PERFORM dataproduct.alter_output((op ->> 'output')::regclass,
                    min_interval => (op ->> 'min_interval')::interval,
                    schedule => (op ->> 'schedule')::interval,
                    description => op ->> 'description');
        WHEN 'comment_column' THEN
          PERFORM dataproduct.comment_column((op ->> 'output')::regclass, op ->> 'column', op ->> 'description');
        WHEN 'drop_check' THEN
          PERFORM dataproduct.drop_check((op ->> 'output')::regclass, op ->> 'name');
        WHEN 'alter_check' THEN
          PERFORM dataproduct.alter_check((op ->> 'output')::regclass, op ->> 'name',
                    severity => op ->> 'severity', description => op ->> 'description');
        WHEN 'add_check', 'replace_check' THEN
          c := op -> 'check';
          IF op ->> 'call' = 'replace_check' THEN
            PERFORM dataproduct.drop_check((op ->> 'output')::regclass, c ->> 'name');
          END IF;
          PERFORM dataproduct.add_check((op ->> 'output')::regclass, c ->> 'kind',
                    name => c ->> 'name', severity => c ->> 'severity', description => c ->> 'description',
                    "column" => c ->> 'column',
                    columns => CASE WHEN c ? 'columns' THEN ARRAY(SELECT jsonb_array_elements_text(c -> 'columns')) END,
                    "values" => CASE WHEN c ? 'values' THEN ARRAY(SELECT jsonb_array_elements_text(c -> 'values')) END,
                    min => c ->> 'min', max => c ->> 'max',
                    to_relation => (c ->> 'to_relation')::regclass, to_column => c ->> 'to_column',
                    max_staleness => (c ->> 'max_staleness')::interval, sql => c ->> 'sql');
        WHEN 'grant', 'revoke' THEN
          EXECUTE format(CASE WHEN op ->> 'call' = 'grant' THEN 'GRANT SELECT ON TABLE %s TO %s'
                              ELSE 'REVOKE SELECT ON TABLE %s FROM %s' END,
                         (op ->> 'output')::regclass,
                         CASE WHEN op ->> 'role' = 'public' THEN 'PUBLIC'
                              ELSE (op ->> 'role')::regrole::text END);
      END CASE;
    END LOOP;
  END IF;

  RETURN QUERY
    SELECT x ->> 'action', x ->> 'object', x ->> 'detail'
      FROM jsonb_array_elements(steps) WITH ORDINALITY AS e(x, n)
     WHERE NOT coalesce((x ->> 'hidden')::boolean, false)
     ORDER BY n;
END
$fn$;
COMMENT ON FUNCTION dataproduct.apply(jsonb, boolean, boolean) IS
  'Declare or update a product from an ODCS v3 data contract (as dataproduct.export() writes it), idempotently, through the API functions and with the caller''s rights: returns the plan (create, change, drop, unchanged); dry_run only plans; drop_missing drops outputs, checks and grants the document no longer has; any change needs a later version, a breaking one (output or column removed, column retyped) a new major version';

/* ------------------------------------------------------------------------
 * Applying or recomputing, per output, from measurements
 *
 * Each incremental refresh adds its batch size and time to decayed sums,
 * from which a least-squares line predicts the time of the next batch;
 * rebuilds keep a decayed mean time.  A batch predicted to take longer than
 * a rebuild is recomputed (see src/refresh.c, "Applying or recomputing").
 * dataproduct.statistics shows the fitted model.
 * ------------------------------------------------------------------------
 */
ALTER TABLE dataproduct.output
  ADD COLUMN apply_samples double precision NOT NULL DEFAULT 0,
  ADD COLUMN apply_sum_rows double precision NOT NULL DEFAULT 0,
  ADD COLUMN apply_sum_ms double precision NOT NULL DEFAULT 0,
  ADD COLUMN apply_sum_rows2 double precision NOT NULL DEFAULT 0,
  ADD COLUMN apply_sum_rows_ms double precision NOT NULL DEFAULT 0,
  ADD COLUMN rebuild_ms double precision,
  ADD COLUMN rebuild_streak integer NOT NULL DEFAULT 0;
COMMENT ON COLUMN dataproduct.output.apply_samples IS 'Cost model: decayed count of measured incremental refreshes (each refresh multiplies the sums by 0.9 and adds its own)';
COMMENT ON COLUMN dataproduct.output.apply_sum_rows IS 'Cost model: decayed sum of their batch sizes (rows)';
COMMENT ON COLUMN dataproduct.output.apply_sum_ms IS 'Cost model: decayed sum of their times (ms)';
COMMENT ON COLUMN dataproduct.output.apply_sum_rows2 IS 'Cost model: decayed sum of squared batch sizes';
COMMENT ON COLUMN dataproduct.output.apply_sum_rows_ms IS 'Cost model: decayed sum of batch size times time';
COMMENT ON COLUMN dataproduct.output.rebuild_ms IS 'Cost model: decayed mean time of the rebuilds of an incrementally maintained output (the first load excluded), NULL until one is measured';
COMMENT ON COLUMN dataproduct.output.rebuild_streak IS 'Cost model: rebuilds in a row that the model chose (after 4 the next batch is applied, to measure it again)';

CREATE OR REPLACE VIEW dataproduct.statistics WITH (security_barrier) AS
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
       v.row_count,
       CASE WHEN fit.per_row IS NOT NULL
            THEN greatest((o.apply_sum_ms - fit.per_row * o.apply_sum_rows) / o.apply_samples, 0) END AS apply_fixed_ms,
       fit.per_row AS apply_ms_per_row,
       o.rebuild_ms
  FROM dataproduct.visible_output v
  JOIN dataproduct.output o USING (output_id)
  CROSS JOIN LATERAL (
    SELECT CASE WHEN o.apply_samples >= 2.5
                 AND o.apply_samples * o.apply_sum_rows2 - o.apply_sum_rows ^ 2 > 1e-9 * o.apply_samples * o.apply_sum_rows2
                THEN greatest((o.apply_samples * o.apply_sum_rows_ms - o.apply_sum_rows * o.apply_sum_ms)
                              / (o.apply_samples * o.apply_sum_rows2 - o.apply_sum_rows ^ 2), 0) END AS per_row) fit;
COMMENT ON COLUMN dataproduct.statistics.apply_fixed_ms IS 'Cost model: fitted fixed time of an incremental refresh, in milliseconds (NULL until batches of several sizes were measured)';
COMMENT ON COLUMN dataproduct.statistics.apply_ms_per_row IS 'Cost model: fitted time per batch row of an incremental refresh, in milliseconds';
COMMENT ON COLUMN dataproduct.statistics.rebuild_ms IS 'Cost model: decayed mean time of a rebuild, in milliseconds; a batch predicted to take longer is recomputed instead';

/* ------------------------------------------------------------------------
 * History outputs: every version of a table's rows, with its validity,
 * built from the captured changes (add_output(..., history => true))
 * ------------------------------------------------------------------------ */

ALTER TABLE dataproduct.output ADD COLUMN history boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN dataproduct.output.history IS
  'A history output: its store keeps every version of each row of its table, with valid_from and valid_to, built from the captured changes';

/*
 * A TRUNCATE's marker says that it is one (history outputs close every
 * version at it; an ALTER TABLE's marker makes them compare instead).
 * Existing logs get the column; their rows, images and markers written
 * before, have NULL there, as images always do.
 */
DO $truncate$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT s.log FROM dataproduct.source s
			  WHERE EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) s.log)
				AND NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
								 WHERE a.attrelid OPERATOR(pg_catalog.=) s.log
								   AND a.attname OPERATOR(pg_catalog.=) '__dp_truncate')
	LOOP
		EXECUTE pg_catalog.format('ALTER TABLE %s ADD COLUMN __dp_truncate pg_catalog.bool', r.log::pg_catalog.regclass);
	END LOOP;
END
$truncate$;

DROP FUNCTION dataproduct.add_output(text, text, text, text, text, interval, interval);
CREATE FUNCTION dataproduct.add_output(product text,
                                       name text,
                                       query text,
                                       refresh text DEFAULT 'auto',
                                       description text DEFAULT NULL,
                                       min_interval interval DEFAULT '0',
                                       schedule interval DEFAULT NULL,
                                       history boolean DEFAULT false)
RETURNS regclass
AS 'MODULE_PATHNAME', 'dataproduct_add_output'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.add_output(text, text, text, text, text, interval, interval, boolean) IS
  'Add an output port: the view <domain>.<name> over a store kept equal to query; with history => true (a selection from one table with a key), every version of each row with valid_from and valid_to; returns the view';

CREATE FUNCTION dataproduct.as_of(output anyelement, at timestamptz)
RETURNS SETOF anyelement
AS 'MODULE_PATHNAME', 'dataproduct_as_of'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION dataproduct.as_of(anyelement, timestamptz) IS
  'The rows of a history output as they were at a time: SELECT * FROM dataproduct.as_of(NULL::domain.output, time), the versions with valid_from <= time < valid_to (or current), read with the caller''s rights';

-- discovery says which outputs are history outputs
CREATE OR REPLACE VIEW dataproduct.visible_output WITH (security_barrier) AS
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
       r.readable,
       o.history
  FROM dataproduct.output o
  JOIN dataproduct.visible_product p USING (product_id)
  CROSS JOIN LATERAL (SELECT coalesce(pg_catalog.has_table_privilege(o.view, 'SELECT'), false)
                             OR pg_catalog.pg_has_role(p.owner, 'USAGE') AS readable) r;
COMMENT ON COLUMN dataproduct.visible_output.history IS 'A history output: every version of its table''s rows, with valid_from and valid_to';

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
               'history', o.history,
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
  'A product as one jsonb document: address, owner, purpose, version, status, tags, freshness promise, health, consumers (roles other than the owner that may read an output), outputs (whether each is a history output) with columns, descriptions, checks and their latest results, lineage up and down; a product the current role may not see does not exist';

/* ------------------------------------------------------------------------
 * Catalog hygiene for tools (issue 13, part 3)
 *
 * Catalog tools and consumers see the API, not the plumbing:
 *   - PUBLIC loses USAGE on schema dataproduct_internal.  Only product
 *     owners keep it (their refreshes name their stores there, and run as
 *     them); product.c grants it to a product's owner and takes it back
 *     when the role owns no product any more.  Readers of output views need
 *     none: a view's relations and functions are bound when it is created.
 *   - the helper functions that are not API move to dataproduct_internal:
 *     capture() (capture triggers), assert_populated() (the guard of output
 *     views), on_sql_drop() and on_ddl_end() (event triggers), visible()
 *     and word_similarity() (search).  Triggers, event triggers and views
 *     reference functions by OID, so what 0.1.0 created keeps working; the
 *     library names them where the catalog has them (catalog.c,
 *     dataproduct_helper_function); search() binds its calls when it is
 *     created (BEGIN ATOMIC), so it needs no USAGE on the schema either.
 *   - schema dataproduct gets a COMMENT; every output view's COMMENT ends
 *     with a block tools can read: product, owner, version, status and
 *     freshness promise (dataproduct_internal.output_comment), rewritten by
 *     the library when any of them changes.
 * ------------------------------------------------------------------------
 */
COMMENT ON SCHEMA dataproduct IS
  'pg_dataproduct: the API (functions) and catalog views of data products; the products'' outputs are views in their domains'' schemas';
COMMENT ON SCHEMA dataproduct_internal IS
  'pg_dataproduct internals: stores, query views, change logs and helper functions; only product owners have USAGE; query the output views instead';

REVOKE USAGE ON SCHEMA dataproduct_internal FROM PUBLIC;
DO $usage$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT DISTINCT p.owner FROM dataproduct.product p
  LOOP
    EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA dataproduct_internal TO %I',
                              pg_catalog.pg_get_userbyid(r.owner));
  END LOOP;
END
$usage$;

ALTER FUNCTION dataproduct.capture() SET SCHEMA dataproduct_internal;
ALTER FUNCTION dataproduct.assert_populated(regclass) SET SCHEMA dataproduct_internal;
ALTER FUNCTION dataproduct.on_sql_drop() SET SCHEMA dataproduct_internal;
ALTER FUNCTION dataproduct.on_ddl_end() SET SCHEMA dataproduct_internal;
ALTER FUNCTION dataproduct.visible(bigint) SET SCHEMA dataproduct_internal;
ALTER FUNCTION dataproduct.word_similarity(text, text) SET SCHEMA dataproduct_internal;

CREATE OR REPLACE FUNCTION dataproduct.search(query text)
RETURNS TABLE (kind text, address text, rank real, owner regrole, status text,
               health text, description text, access text)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
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
             + 0.5 * dataproduct_internal.word_similarity(q.words, docs.names)
             + 0.1 * dataproduct_internal.word_similarity(q.words, docs.prose) AS score,
           doc @@ websearch_to_tsquery('english', q.words) AS matches,
           greatest(dataproduct_internal.word_similarity(q.words, docs.names),
                    dataproduct_internal.word_similarity(q.words, docs.prose)) AS fuzzy
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
   ORDER BY s.score DESC, s.address;
END;

/*
 * The block at the end of an output view's COMMENT: what tools (JDBC
 * metadata, DataHub, OpenMetadata) show of the product next to the
 * output's own description.  Stable: a line "[pg_dataproduct]", then one
 * "key: value" line each for product, owner, version, status and, when
 * promised, max_staleness (ISO 8601).
 */
CREATE FUNCTION dataproduct_internal.output_comment(output_id bigint)
RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET intervalstyle = iso_8601
AS $fn$
  SELECT coalesce(o.description || E'\n\n', '')
         || E'[pg_dataproduct]\n'
         || 'product: ' || d.name || '.' || p.name || E'\n'
         || 'owner: ' || p.owner::regrole::text || E'\n'
         || 'version: ' || p.version || E'\n'
         || 'status: ' || p.status
         || coalesce(E'\nmax_staleness: ' || p.max_staleness::text, '')
    FROM dataproduct.output o
    JOIN dataproduct.product p USING (product_id)
    JOIN dataproduct.domain d ON d.domain_id = p.domain_id
   WHERE o.output_id = output_comment.output_id
$fn$;
COMMENT ON FUNCTION dataproduct_internal.output_comment(bigint) IS
  'The COMMENT of an output''s view: its description, then a "[pg_dataproduct]" block of "key: value" lines (product, owner, version, status, max_staleness)';

DO $comments$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT o.view, dataproduct_internal.output_comment(o.output_id) AS c
             FROM dataproduct.output o
            WHERE EXISTS (SELECT FROM pg_catalog.pg_class c
                           WHERE c.oid OPERATOR(pg_catalog.=) o.view)
  LOOP
    EXECUTE pg_catalog.format('COMMENT ON VIEW %s IS %L', r.view, r.c);
  END LOOP;
END
$comments$;

/* ------------------------------------------------------------------------
 * Lineage edges for tools (issue 13, part 3)
 *
 * dataproduct.lineage has one row per output and relation it reads, with
 * the view it reads it through.  Tools that draw or ingest lineage
 * (DataHub, OpenMetadata, dbt-style docs) want the graph: one row per edge,
 * both ends by schema and name with their kinds.  The edges: a relation
 * read by an output's query -> the output; a relation read by a plain view
 * an output reads -> that view; another output -> the output.  Rows as
 * dataproduct.lineage shows them, for the products the role may see.
 * ------------------------------------------------------------------------
 */
CREATE VIEW dataproduct.lineage_edges WITH (security_barrier) AS
SELECT DISTINCT
       fn.nspname::pg_catalog.text AS from_schema,
       fc.relname::pg_catalog.text AS from_name,
       l.source_kind AS from_kind,
       l.source_product AS from_product,
       tn.nspname::pg_catalog.text AS to_schema,
       tc.relname::pg_catalog.text AS to_name,
       CASE WHEN l.via IS NULL THEN 'output' ELSE 'view' END AS to_kind,
       CASE WHEN l.via IS NULL THEN l.product END AS to_product,
       l.source AS from_relation,
       COALESCE(l.via, l.output) AS to_relation
  FROM dataproduct.lineage l
  JOIN pg_catalog.pg_class fc ON fc.oid OPERATOR(pg_catalog.=) l.source
  JOIN pg_catalog.pg_namespace fn ON fn.oid OPERATOR(pg_catalog.=) fc.relnamespace
  JOIN pg_catalog.pg_class tc ON tc.oid OPERATOR(pg_catalog.=) COALESCE(l.via, l.output)
  JOIN pg_catalog.pg_namespace tn ON tn.oid OPERATOR(pg_catalog.=) tc.relnamespace;
COMMENT ON VIEW dataproduct.lineage_edges IS
  'Lineage as a graph for tools: one row per edge, from a relation read to the output (or the plain view in between) that reads it, both ends by schema and name with their kinds; products the current role may see';
COMMENT ON COLUMN dataproduct.lineage_edges.from_schema IS 'Schema of the relation read';
COMMENT ON COLUMN dataproduct.lineage_edges.from_name IS 'Name of the relation read';
COMMENT ON COLUMN dataproduct.lineage_edges.from_kind IS 'table, partitioned table, view, materialized view, foreign table, sequence, or output';
COMMENT ON COLUMN dataproduct.lineage_edges.from_product IS 'Product of the relation read, when it is an output of a product the current role may see';
COMMENT ON COLUMN dataproduct.lineage_edges.to_schema IS 'Schema of the reader';
COMMENT ON COLUMN dataproduct.lineage_edges.to_name IS 'Name of the reader';
COMMENT ON COLUMN dataproduct.lineage_edges.to_kind IS 'output, or view (a plain view an output reads)';
COMMENT ON COLUMN dataproduct.lineage_edges.to_product IS 'Product of the reader, when it is an output';
COMMENT ON COLUMN dataproduct.lineage_edges.from_relation IS 'The relation read, as regclass (for joins with the other catalog views)';
COMMENT ON COLUMN dataproduct.lineage_edges.to_relation IS 'The reader, as regclass';
GRANT SELECT ON dataproduct.lineage_edges TO PUBLIC;

/* ------------------------------------------------------------------------
 * How an output is maintained (issue 13, part 6)
 *
 * explain() shows an output's mode and why, its store, the change logs it
 * reads and the statements a refresh runs, generated as a refresh
 * generates them; nothing is run.  Shown to roles that may see the
 * output's product (as describe() shows its definition).
 * ------------------------------------------------------------------------
 */
CREATE FUNCTION dataproduct.explain(output regclass)
RETURNS TABLE (item text, detail text)
AS 'MODULE_PATHNAME', 'dataproduct_explain'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION dataproduct.explain(regclass) IS
  'How an output is maintained: its mode and why, its store, the change logs it reads and the statements a refresh runs, in order (generated, not run); for roles that may see its product';

/* ------------------------------------------------------------------------
 * Publishing a product for logical replication (issue 13, part 4)
 *
 * publish() puts the stores of a product's loaded outputs in a publication
 * (created if missing), as the product owner; see the README's Replicas
 * and publication for what a subscriber does.
 * ------------------------------------------------------------------------
 */
CREATE FUNCTION dataproduct.publish(product text, publication text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'dataproduct_publish'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION dataproduct.publish(text, text) IS
  'Put the stores of a product''s loaded outputs in a publication for logical replication (created if missing, named dataproduct_<domain>_<product> unless given), as the product owner; returns its name';

/* ------------------------------------------------------------------------
 * Progress of long recomputations (issue 13, part 6)
 *
 * While a first load, a rebuild or a full refresh runs, the backend doing
 * it reports the rows its source tables have returned so far
 * (src/progress.c); load_progress shows them for the outputs the current
 * role may see.  Needs the library in shared_preload_libraries.
 * ------------------------------------------------------------------------
 */
CREATE FUNCTION dataproduct_internal.load_progress(
    OUT pid integer, OUT output_id bigint, OUT kind text, OUT started timestamptz,
    OUT rows_read bigint, OUT rows_total bigint, OUT relations integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'dataproduct_load_progress'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION dataproduct_internal.load_progress() IS
  'The recomputations running in the current database, read from shared memory; dataproduct.load_progress shows those of visible outputs';

CREATE VIEW dataproduct.load_progress WITH (security_barrier) AS
SELECT v.view AS output,
       v.product,
       p.pid,
       p.kind,
       p.started,
       p.rows_read,
       p.rows_total,
       CASE WHEN p.rows_total OPERATOR(pg_catalog.>) 0
            THEN pg_catalog.round(LEAST(100::numeric,
                   100::numeric OPERATOR(pg_catalog.*) p.rows_read
                   OPERATOR(pg_catalog./) p.rows_total), 1)
       END AS percent,
       p.relations
  FROM dataproduct_internal.load_progress() p
  JOIN dataproduct.visible_output v ON v.output_id OPERATOR(pg_catalog.=) p.output_id;
COMMENT ON VIEW dataproduct.load_progress IS
  'Recomputations running now (first loads, rebuilds, full refreshes) of the outputs the current role may see, with the rows their source tables have returned so far; updated ten times a second';
COMMENT ON COLUMN dataproduct.load_progress.output IS 'The output being recomputed';
COMMENT ON COLUMN dataproduct.load_progress.product IS 'Address of its product';
COMMENT ON COLUMN dataproduct.load_progress.pid IS 'Process doing it (see pg_stat_activity)';
COMMENT ON COLUMN dataproduct.load_progress.kind IS 'first load, rebuild or full refresh';
COMMENT ON COLUMN dataproduct.load_progress.started IS 'When the recomputation started';
COMMENT ON COLUMN dataproduct.load_progress.rows_read IS 'Rows its source tables have returned so far (scans and index fetches, by the process itself; a table read twice counts twice)';
COMMENT ON COLUMN dataproduct.load_progress.rows_total IS 'Rows its source tables hold, as last estimated by VACUUM or ANALYZE; NULL when a source was never analysed';
COMMENT ON COLUMN dataproduct.load_progress.percent IS 'rows_read against rows_total, at most 100; NULL when rows_total is unknown or zero';
COMMENT ON COLUMN dataproduct.load_progress.relations IS 'Source tables counted (partitions each, views expanded)';
GRANT SELECT ON dataproduct.load_progress TO PUBLIC;
