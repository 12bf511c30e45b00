/* pg_dataproduct--0.1.0--0.2.0.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_dataproduct UPDATE TO '0.2.0'" to load this file. \quit

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
             JOIN pg_catalog.pg_class c ON c.oid = s.relation AND c.relkind = 'p',
                  LATERAL pg_catalog.pg_partition_tree(s.relation) p
            WHERE p.relid <> s.relation
              AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                               WHERE t.tgrelid = p.relid AND t.tgname = '__dp_capture_truncate')
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
