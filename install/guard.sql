/* install/guard.sql: the start of every full install script, the install guard (see install/README.md) */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pg_dataproduct" to load this file. \quit

/*
 * The install guard.
 *
 * The control file says schema = dataproduct: CREATE EXTENSION creates that
 * schema if it is missing and otherwise installs into whatever schema of
 * that name exists.  A role with CREATE on the database could create it
 * first and put objects in it, for example an overload
 * dataproduct.refresh(text), which a superuser's
 * SELECT dataproduct.refresh('d.o') would then call (an unknown literal
 * prefers text to regclass).  So before anything is created, the install
 * refuses a schema dataproduct that
 *   - is owned by a role that is neither the installing role nor a
 *     superuser (a superuser's schema is as trusted as the installer, and
 *     pg_restore run by another superuser makes one: pg_dump writes CREATE
 *     SCHEMA dataproduct and ALTER SCHEMA ... OWNER TO before CREATE
 *     EXTENSION);
 *   - lets any role but its owner CREATE in it; or
 *   - contains anything at all: relations, functions, types, operators,
 *     operator classes and families, collations, conversions, constraints,
 *     statistics objects, text search objects, other extensions, default
 *     privileges, publications, and whatever else depends on the schema;
 * and it refuses a schema dataproduct_internal that exists at all (the
 * script creates that one itself).
 *
 * This runs under the search_path CREATE EXTENSION sets, which is the very
 * schema being checked: every function, operator, type and table below is
 * schema-qualified, so nothing put in that schema can run.  (pg_temp, which
 * comes first for tables and types, is the installing session's own.)
 */
DO $guard$
DECLARE
	ext_oid		pg_catalog.oid;
	schema_oid	pg_catalog.oid;
	schema_owner pg_catalog.name;
	owner_ok	pg_catalog.bool;
	creators	pg_catalog.text;
	contents	pg_catalog.text[];
	ncontents	pg_catalog.int8;
	hint		CONSTANT pg_catalog.text :=
		'Drop or rename schema "%s" (after looking at what it holds), then run CREATE EXTENSION pg_dataproduct again; it then creates the schema itself.';
BEGIN
	SELECT r.rolname INTO schema_owner
	  FROM pg_catalog.pg_namespace n
	  JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
	 WHERE n.nspname OPERATOR(pg_catalog.=) 'dataproduct_internal';
	IF FOUND THEN
		RAISE EXCEPTION USING
			ERRCODE = 'duplicate_schema',
			MESSAGE = 'schema "dataproduct_internal" already exists',
			DETAIL = pg_catalog.format('Extension "pg_dataproduct" creates that schema itself; the existing one is owned by role "%s".',
									   schema_owner),
			HINT = pg_catalog.format(hint, 'dataproduct_internal');
	END IF;

	SELECT e.oid INTO ext_oid
	  FROM pg_catalog.pg_extension e
	 WHERE e.extname OPERATOR(pg_catalog.=) 'pg_dataproduct';
	SELECT n.oid, r.rolname,
		   r.rolsuper OR r.rolname OPERATOR(pg_catalog.=) CURRENT_USER
	  INTO schema_oid, schema_owner, owner_ok
	  FROM pg_catalog.pg_namespace n
	  JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
	 WHERE n.nspname OPERATOR(pg_catalog.=) 'dataproduct';
	IF NOT FOUND THEN
		RETURN;					/* cannot happen: CREATE EXTENSION made it */
	END IF;

	IF NOT owner_ok THEN
		RAISE EXCEPTION USING
			ERRCODE = 'insufficient_privilege',
			MESSAGE = 'cannot install extension "pg_dataproduct" into existing schema "dataproduct"',
			DETAIL = pg_catalog.format('Schema "dataproduct" is owned by role "%s", which is neither the installing role "%s" nor a superuser.',
									   schema_owner, CURRENT_USER),
			HINT = pg_catalog.format(hint, 'dataproduct');
	END IF;

	SELECT pg_catalog.string_agg(pg_catalog.format('"%s"', coalesce(g.rolname, 'PUBLIC')), ', '
								 ORDER BY g.rolname)
	  INTO creators
	  FROM pg_catalog.pg_namespace n
	 CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a
	  LEFT JOIN pg_catalog.pg_roles g ON g.oid OPERATOR(pg_catalog.=) a.grantee
	 WHERE n.oid OPERATOR(pg_catalog.=) schema_oid
	   AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
	   AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner;
	IF creators IS NOT NULL THEN
		RAISE EXCEPTION USING
			ERRCODE = 'insufficient_privilege',
			MESSAGE = 'cannot install extension "pg_dataproduct" into existing schema "dataproduct"',
			DETAIL = pg_catalog.format('Roles other than its owner may create objects in schema "dataproduct": %s.',
									   creators),
			HINT = pg_catalog.format(hint, 'dataproduct');
	END IF;

	SELECT pg_catalog.count(*), (pg_catalog.array_agg(o.what ORDER BY o.what))[1:5]
	  INTO ncontents, contents
	  FROM (SELECT DISTINCT pg_catalog.pg_describe_object(x.classid, x.objid, 0) AS what
			  FROM (SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid, c.oid
					  FROM pg_catalog.pg_class c
					 WHERE c.relnamespace OPERATOR(pg_catalog.=) schema_oid
					UNION ALL
					SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass::pg_catalog.oid, p.oid
					  FROM pg_catalog.pg_proc p
					 WHERE p.pronamespace OPERATOR(pg_catalog.=) schema_oid
					UNION ALL
					SELECT 'pg_catalog.pg_type'::pg_catalog.regclass::pg_catalog.oid, t.oid
					  FROM pg_catalog.pg_type t
					 WHERE t.typnamespace OPERATOR(pg_catalog.=) schema_oid
					   /* not the row types and array types that come with others */
					   AND t.typrelid OPERATOR(pg_catalog.=) 0::pg_catalog.oid
					   AND NOT EXISTS (SELECT FROM pg_catalog.pg_type e
										WHERE e.typarray OPERATOR(pg_catalog.=) t.oid)
					UNION ALL
					SELECT 'pg_catalog.pg_operator'::pg_catalog.regclass::pg_catalog.oid, o.oid
					  FROM pg_catalog.pg_operator o
					 WHERE o.oprnamespace OPERATOR(pg_catalog.=) schema_oid
					UNION ALL
					SELECT 'pg_catalog.pg_opclass'::pg_catalog.regclass::pg_catalog.oid, oc.oid
					  FROM pg_catalog.pg_opclass oc
					 WHERE oc.opcnamespace OPERATOR(pg_catalog.=) schema_oid
					UNION ALL
					SELECT 'pg_catalog.pg_opfamily'::pg_catalog.regclass::pg_catalog.oid, f.oid
					  FROM pg_catalog.pg_opfamily f
					 WHERE f.opfnamespace OPERATOR(pg_catalog.=) schema_oid
					UNION ALL
					SELECT 'pg_catalog.pg_collation'::pg_catalog.regclass::pg_catalog.oid, co.oid
					  FROM pg_catalog.pg_collation co
					 WHERE co.collnamespace OPERATOR(pg_catalog.=) schema_oid
					UNION ALL
					SELECT 'pg_catalog.pg_conversion'::pg_catalog.regclass::pg_catalog.oid, cv.oid
					  FROM pg_catalog.pg_conversion cv
					 WHERE cv.connamespace OPERATOR(pg_catalog.=) schema_oid
					UNION ALL
					SELECT 'pg_catalog.pg_constraint'::pg_catalog.regclass::pg_catalog.oid, k.oid
					  FROM pg_catalog.pg_constraint k
					 WHERE k.connamespace OPERATOR(pg_catalog.=) schema_oid
					UNION ALL
					SELECT 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass::pg_catalog.oid, s.oid
					  FROM pg_catalog.pg_statistic_ext s
					 WHERE s.stxnamespace OPERATOR(pg_catalog.=) schema_oid
					UNION ALL
					SELECT 'pg_catalog.pg_ts_config'::pg_catalog.regclass::pg_catalog.oid, tc.oid
					  FROM pg_catalog.pg_ts_config tc
					 WHERE tc.cfgnamespace OPERATOR(pg_catalog.=) schema_oid
					UNION ALL
					SELECT 'pg_catalog.pg_ts_dict'::pg_catalog.regclass::pg_catalog.oid, td.oid
					  FROM pg_catalog.pg_ts_dict td
					 WHERE td.dictnamespace OPERATOR(pg_catalog.=) schema_oid
					UNION ALL
					SELECT 'pg_catalog.pg_ts_parser'::pg_catalog.regclass::pg_catalog.oid, tp.oid
					  FROM pg_catalog.pg_ts_parser tp
					 WHERE tp.prsnamespace OPERATOR(pg_catalog.=) schema_oid
					UNION ALL
					SELECT 'pg_catalog.pg_ts_template'::pg_catalog.regclass::pg_catalog.oid, tt.oid
					  FROM pg_catalog.pg_ts_template tt
					 WHERE tt.tmplnamespace OPERATOR(pg_catalog.=) schema_oid
					UNION ALL
					SELECT 'pg_catalog.pg_extension'::pg_catalog.regclass::pg_catalog.oid, e.oid
					  FROM pg_catalog.pg_extension e
					 WHERE e.extnamespace OPERATOR(pg_catalog.=) schema_oid
					   AND e.oid OPERATOR(pg_catalog.<>) ext_oid
					UNION ALL
					SELECT 'pg_catalog.pg_default_acl'::pg_catalog.regclass::pg_catalog.oid, da.oid
					  FROM pg_catalog.pg_default_acl da
					 WHERE da.defaclnamespace OPERATOR(pg_catalog.=) schema_oid
					UNION ALL
					SELECT 'pg_catalog.pg_publication_namespace'::pg_catalog.regclass::pg_catalog.oid, pn.oid
					  FROM pg_catalog.pg_publication_namespace pn
					 WHERE pn.pnnspid OPERATOR(pg_catalog.=) schema_oid
					UNION ALL
					/* anything else that depends on the schema, but this extension */
					SELECT d.classid, d.objid
					  FROM pg_catalog.pg_depend d
					 WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass::pg_catalog.oid
					   AND d.refobjid OPERATOR(pg_catalog.=) schema_oid
					   AND NOT (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass::pg_catalog.oid
								AND d.objid OPERATOR(pg_catalog.=) ext_oid)
				   ) AS x(classid, objid)
		   ) AS o;
	IF ncontents OPERATOR(pg_catalog.>) 0 THEN
		RAISE EXCEPTION USING
			ERRCODE = 'object_not_in_prerequisite_state',
			MESSAGE = 'cannot install extension "pg_dataproduct" into existing schema "dataproduct"',
			DETAIL = pg_catalog.format('Schema "dataproduct" already contains %s%s.',
									   pg_catalog.array_to_string(contents, ', '),
									   CASE WHEN ncontents OPERATOR(pg_catalog.>) 5
									   THEN pg_catalog.format(' and %s more',
															  ncontents OPERATOR(pg_catalog.-) 5)
									   ELSE '' END),
			HINT = pg_catalog.format(hint, 'dataproduct');
	END IF;
END
$guard$;
