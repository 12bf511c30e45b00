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
