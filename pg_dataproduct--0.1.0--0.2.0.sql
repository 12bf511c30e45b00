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
