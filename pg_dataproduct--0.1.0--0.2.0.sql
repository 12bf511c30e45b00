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
 *   - the schedulers are woken at commit (below).
 *   - failed automatic refreshes record their SQLSTATE (new columns
 *     output.last_error_code and refresh_history.error_code, which the
 *     0.2.0 worker writes).
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

/* ------------------------------------------------------------------------
 * Errors of refreshes: their SQLSTATE
 * ------------------------------------------------------------------------ */

ALTER TABLE dataproduct.output ADD COLUMN last_error_code text;
COMMENT ON COLUMN dataproduct.output.last_error_code IS
  'SQLSTATE of the last failed automatic refresh (meaningful while last_error is set)';
ALTER TABLE dataproduct.refresh_history ADD COLUMN error_code text;
COMMENT ON COLUMN dataproduct.refresh_history.error_code IS 'SQLSTATE of the error, when it failed';
