/*-------------------------------------------------------------------------
 *
 * ddl.c
 *	  Keeping the catalog consistent with what users do with DDL.
 *
 * The catalog references relations by regclass and captured sources carry
 * triggers; users run DDL that the API never sees:
 *
 * - sql_drop event trigger (dataproduct_internal.on_sql_drop): refuses to drop a
 *   capture trigger on its own (capture.c), then, after a DROP ... CASCADE
 *   of a source, a view, a store or a domain's schema, drops what is left
 *   of the affected outputs and forgets them (dataproduct_forget_dropped),
 *   so the catalog never points at missing objects; a dropped partition of
 *   a captured table makes that table's consumers rebuild (capture.c).
 *   The drop functions of the API (declare.c) end the same way.
 * - ddl_command_end event triggers (dataproduct_internal.on_ddl_end, after ALTER
 *   TABLE and CREATE TABLE): capture triggers must stay enabled, an ALTER
 *   TABLE of a captured source or of one of its partitions makes its
 *   consumers rebuild, and new partitions of a captured table get its
 *   TRUNCATE capture trigger, detached ones lose it (capture.c).
 * - ProcessUtility hook (with the library preloaded): DROP DATABASE, the
 *   ALTER DATABASE forms that need the database to themselves, and DROP
 *   EXTENSION pg_dataproduct first stop the database's scheduler (shmem.c),
 *   and let it start again after.  It also lets dumps taken at 0.1.0
 *   restore: their capture triggers and the views of outputs not loaded yet
 *   name dataproduct.capture() and dataproduct.assert_populated(), which
 *   0.2.0 moved to dataproduct_internal; CREATE TRIGGER and CREATE VIEW
 *   naming them are given the new names (old_helper_names).
 *
 * IDENTIFICATION
 *	  src/ddl.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "commands/dbcommands.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "tcop/utility.h"
#include "utils/lsyscache.h"

#include "capture.h"
#include "catalog.h"
#include "ddl.h"
#include "exec.h"
#include "shmem.h"

PG_FUNCTION_INFO_V1(dataproduct_on_sql_drop);
PG_FUNCTION_INFO_V1(dataproduct_on_ddl_end);

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/*
 * dataproduct_forget_dropped
 *		Drop what is left of outputs that lost one of their relations, and of
 *		domains that lost their schema, and delete their catalog rows.
 *
 * Runs after a DROP ... CASCADE (from the sql_drop event trigger) and after
 * the drop functions of the API.  Dropping the remains of one output may
 * break another one built on it, hence the loop.  SPI must be connected and
 * search_path pinned.  Writes as the catalog owner.
 */
void
dataproduct_forget_dropped(void)
{
	DpSavedUser saved;

	dataproduct_become_catalog_owner(&saved);
	for (;;)
	{
		List	   *broken;
		ListCell   *lc;

		broken = dataproduct_broken_outputs();
		if (broken == NIL)
			break;

		foreach(lc, broken)
		{
			DpOutput   *output = lfirst(lc);
			Oid			argtypes[1] = {INT8OID};
			Datum		values[1] = {Int64GetDatum(output->id)};

			ereport(NOTICE,
					(errmsg("output %s of data product %s is dropped because relations it depends on were dropped",
							output->address, output->product)));
			dataproduct_drop_output_relations(output, DROP_CASCADE,
											  PERFORM_DELETION_INTERNAL);
			dataproduct_spi_exec("DELETE FROM dataproduct.output WHERE output_id = $1",
								 1, argtypes, values, NULL, SPI_OK_DELETE);
			CommandCounterIncrement();
		}
	}

	/* domains whose schema is gone take their products along */
	dataproduct_spi_exec("SELECT name FROM dataproduct.domain d"
						 " WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n"
						 "                    WHERE n.oid = d.schema)",
						 0, NULL, NULL, NULL, SPI_OK_SELECT);
	if (SPI_processed > 0)
	{
		uint64		i;

		for (i = 0; i < SPI_processed; i++)
			ereport(NOTICE,
					(errmsg("domain \"%s\" and its products are dropped because its schema was dropped",
							SPI_getvalue(SPI_tuptable->vals[i],
										 SPI_tuptable->tupdesc, 1))));
		dataproduct_spi_exec("DELETE FROM dataproduct.product p"
							 " USING dataproduct.domain d"
							 " WHERE p.domain_id = d.domain_id"
							 "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n"
							 "                    WHERE n.oid = d.schema)",
							 0, NULL, NULL, NULL, SPI_OK_DELETE);
		dataproduct_spi_exec("DELETE FROM dataproduct.domain d"
							 " WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n"
							 "                    WHERE n.oid = d.schema)",
							 0, NULL, NULL, NULL, SPI_OK_DELETE);
	}
	dataproduct_restore_user(&saved);
	dataproduct_release_sources();
}

/*
 * catalog_present
 *		Check that fcinfo is an event trigger call and that the catalog
 *		exists: the event triggers do nothing while the extension itself is
 *		being created or dropped.
 */
static bool
catalog_present(FunctionCallInfo fcinfo, const char *funcname)
{
	Oid			nspid;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired by an event trigger",
						funcname)));
	nspid = get_namespace_oid("dataproduct", true);
	return OidIsValid(nspid) &&
		OidIsValid(get_relname_relid("output", nspid)) &&
		OidIsValid(get_relname_relid("domain", nspid)) &&
		OidIsValid(get_relname_relid("source", nspid));
}

/*
 * dataproduct_on_sql_drop
 *		sql_drop event trigger: refuse to drop capture triggers by hand,
 *		make the consumers of a table that lost a partition rebuild, and
 *		keep the catalog consistent after any DROP.
 */
Datum
dataproduct_on_sql_drop(PG_FUNCTION_ARGS)
{
	if (!catalog_present(fcinfo, "dataproduct_internal.on_sql_drop"))
		PG_RETURN_VOID();

	dataproduct_spi_connect();
	dataproduct_check_capture_drops();
	dataproduct_mark_dropped_partitions();
	dataproduct_forget_dropped();
	dataproduct_spi_finish();
	PG_RETURN_VOID();
}

/* the DDL on_ddl_end runs itself does not come back to it */
static bool in_ddl_end = false;

/*
 * dataproduct_on_ddl_end
 *		ddl_command_end event trigger, after ALTER TABLE and CREATE TABLE:
 *		guard the capture triggers, make consumers of an altered source (or
 *		of an altered partition of one) rebuild, and keep the TRUNCATE
 *		capture trigger on exactly the partitions of captured tables (see
 *		capture.c).
 */
Datum
dataproduct_on_ddl_end(PG_FUNCTION_ARGS)
{
	if (!catalog_present(fcinfo, "dataproduct_internal.on_ddl_end") || in_ddl_end)
		PG_RETURN_VOID();

	dataproduct_spi_connect();
	dataproduct_check_capture_alters();
	/* partitions created, attached or detached below a captured table */
	dataproduct_spi_exec("SELECT 1 FROM pg_catalog.pg_event_trigger_ddl_commands() c"
						 "  JOIN dataproduct.source s"
						 "    ON (s.relation = c.objid OR s.relation IN (SELECT pg_catalog.pg_partition_ancestors(c.objid)))"
						 " WHERE c.classid = 'pg_catalog.pg_class'::pg_catalog.regclass LIMIT 1",
						 0, NULL, NULL, NULL, SPI_OK_SELECT);
	if (SPI_processed > 0)
	{
		in_ddl_end = true;
		PG_TRY();
		{
			dataproduct_sync_partition_capture();
		}
		PG_FINALLY();
		{
			in_ddl_end = false;
		}
		PG_END_TRY();
	}
	dataproduct_spi_finish();
	PG_RETURN_VOID();
}

/* What old_helper_walker looks for, and whether it renames. */
typedef struct OldHelpers
{
	bool		rename;
	bool		found;
} OldHelpers;

/* Is funcname dataproduct.<name> (as 0.1.0 named the helpers)? */
static bool
is_old_helper(List *funcname, const char *name)
{
	return list_length(funcname) == 2 &&
		strcmp(strVal(linitial(funcname)), "dataproduct") == 0 &&
		strcmp(strVal(lsecond(funcname)), name) == 0;
}

/* Find (and rename) calls of dataproduct.assert_populated in a raw query. */
static bool
old_helper_walker(Node *node, void *context)
{
	OldHelpers *ctx = context;

	if (node == NULL)
		return false;
	if (IsA(node, FuncCall) &&
		is_old_helper(((FuncCall *) node)->funcname, "assert_populated"))
	{
		ctx->found = true;
		if (ctx->rename)
			((FuncCall *) node)->funcname =
				list_make2(makeString("dataproduct_internal"),
						   makeString("assert_populated"));
	}
	return raw_expression_tree_walker(node, old_helper_walker, context);
}

/*
 * old_helper_names
 *		Whether parsetree, a CREATE TRIGGER or CREATE VIEW, names a helper
 *		function by its 0.1.0 name in a database whose extension has it only
 *		in dataproduct_internal (a dump taken at 0.1.0, restored; not the
 *		update script, which runs before it moves them); if rename,
 *		give it the new name in place.  Cheap for every other statement: no
 *		catalog lookup unless an old name is found.
 */
static bool
old_helper_names(Node *parsetree, bool rename)
{
	OldHelpers	ctx = {rename, false};

	if (IsA(parsetree, CreateTrigStmt) &&
		is_old_helper(((CreateTrigStmt *) parsetree)->funcname, "capture"))
	{
		ctx.found = true;
		if (rename)
			((CreateTrigStmt *) parsetree)->funcname =
				list_make2(makeString("dataproduct_internal"), makeString("capture"));
	}
	else if (IsA(parsetree, ViewStmt))
		(void) old_helper_walker(((ViewStmt *) parsetree)->query, &ctx);
	if (!ctx.found || rename)
		return ctx.found;
	return dataproduct_helper_moved(IsA(parsetree, CreateTrigStmt) ?
									"capture" : "assert_populated");
}

static void ddl_run_utility(PlannedStmt *pstmt, const char *queryString,
							bool readOnlyTree, ProcessUtilityContext context,
							ParamListInfo params, QueryEnvironment *queryEnv,
							DestReceiver *dest, QueryCompletion *qc);

/*
 * ddl_ProcessUtility
 *		Give 0.1.0 helper names in restored DDL their new names, and stop a
 *		database's scheduler around the commands that need the database to
 *		themselves (see the file header).
 */
static void
ddl_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				   bool readOnlyTree, ProcessUtilityContext context,
				   ParamListInfo params, QueryEnvironment *queryEnv,
				   DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if ((IsA(parsetree, CreateTrigStmt) || IsA(parsetree, ViewStmt)) &&
		IsTransactionState() && old_helper_names(parsetree, false))
	{
		if (readOnlyTree)
		{
			pstmt = copyObject(pstmt);
			readOnlyTree = false;
		}
		(void) old_helper_names(pstmt->utilityStmt, true);
	}
	ddl_run_utility(pstmt, queryString, readOnlyTree, context, params,
					queryEnv, dest, qc);
}

/*
 * ddl_run_utility
 *		The rest of ddl_ProcessUtility: the scheduler stopped around the
 *		commands that need the database to themselves.
 */
static void
ddl_run_utility(PlannedStmt *pstmt, const char *queryString,
				bool readOnlyTree, ProcessUtilityContext context,
				ParamListInfo params, QueryEnvironment *queryEnv,
				DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	volatile Oid dbid = InvalidOid;

	if (IsA(parsetree, DropdbStmt))
		dbid = get_database_oid(((DropdbStmt *) parsetree)->dbname, true);
	else if (IsA(parsetree, RenameStmt) &&
			 ((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
		dbid = get_database_oid(((RenameStmt *) parsetree)->subname, true);
	else if (IsA(parsetree, AlterDatabaseStmt))
		dbid = get_database_oid(((AlterDatabaseStmt *) parsetree)->dbname, true);
	else if (IsA(parsetree, DropStmt) &&
			 ((DropStmt *) parsetree)->removeType == OBJECT_EXTENSION)
	{
		ListCell   *lc;

		/* the scheduler reads what DROP EXTENSION drops: not meanwhile */
		foreach(lc, ((DropStmt *) parsetree)->objects)
			if (strcmp(strVal(lfirst(lc)), "pg_dataproduct") == 0)
				dbid = MyDatabaseId;
	}

	if (OidIsValid(dbid))
		dataproduct_stop_scheduler(dbid, true);
	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		if (OidIsValid(dbid))
			dataproduct_stop_scheduler(dbid, false);
	}
	PG_END_TRY();
}

/*
 * dataproduct_ddl_init
 *		From _PG_init, with the library preloaded: the ProcessUtility hook.
 */
void
dataproduct_ddl_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = ddl_ProcessUtility;
}
