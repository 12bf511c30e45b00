/*-------------------------------------------------------------------------
 *
 * declare.c
 *	  The declaration API of output ports, and refresh().
 *
 * This is where a domain team's outputs enter the system.  Each
 * SQL-callable function validates its arguments, checks the caller's rights
 * (catalog.c), builds or drops the database objects behind the declaration
 * and records it in the catalog:
 *
 *	 add_output      dataproduct_internal.output_<id>_query   the analysed query
 *	                 dataproduct_internal.output_<id>_store   the rows
 *	                 <domain>.<name>                           the view consumers read
 *	                 (incremental outputs: dataproduct_internal.output_<id>_pre,
 *	                 the pre-aggregation query, and capture on every source)
 *	                 + catalog row, then the first refresh (refresh.c)
 *	 alter_output, drop_output
 *	 refresh         runs one refresh (refresh.c) in the caller's session
 *
 * The relations of an output belong to the product owner.  The query view
 * is built by DefineView from the raw parse tree that analyze.c checked,
 * under the caller's search_path, so the query is never spliced into SQL
 * text and later search_path changes cannot alter it; PostgreSQL's own
 * dependency tracking then refuses to drop or alter a source that an output
 * reads.  All other objects are built with generated SQL of a fixed shape
 * made of quoted identifiers.  After a drop, ddl.c forgets whatever a
 * cascade took with it.  Domains and products are declared in product.c,
 * which uses the argument helpers here.
 *
 * IDENTIFICATION
 *	  src/declare.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/comment.h"
#include "commands/view.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "funcapi.h"

#include "access.h"
#include "analyze.h"
#include "capture.h"
#include "catalog.h"
#include "ddl.h"
#include "declare.h"
#include "delta.h"
#include "exec.h"
#include "history.h"
#include "guc.h"
#include "refresh.h"
#include "shmem.h"

PG_FUNCTION_INFO_V1(dataproduct_add_output);
PG_FUNCTION_INFO_V1(dataproduct_as_of);
PG_FUNCTION_INFO_V1(dataproduct_drop_output);
PG_FUNCTION_INFO_V1(dataproduct_refresh);
PG_FUNCTION_INFO_V1(dataproduct_alter_output);

/* ----------------------------------------------------------------
 * Argument helpers
 * ----------------------------------------------------------------
 */

/*
 * dataproduct_required_text, dataproduct_optional_text
 *		A text argument as a C string; a NULL one is an error, or NULL.
 */
char *
dataproduct_required_text(FunctionCallInfo fcinfo, int argno,
						  const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" must not be null", argname)));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

char *
dataproduct_optional_text(FunctionCallInfo fcinfo, int argno)
{
	return PG_ARGISNULL(argno) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/*
 * dataproduct_text_or_null
 *		A text Datum for an SPI parameter, and its null flag in *null.
 */
Datum
dataproduct_text_or_null(const char *value, char *null)
{
	*null = value ? ' ' : 'n';
	return value ? CStringGetTextDatum(value) : (Datum) 0;
}

/*
 * dataproduct_arg_or_null
 *		Argument argno as an SPI parameter, and its null flag in *null.
 */
Datum
dataproduct_arg_or_null(FunctionCallInfo fcinfo, int argno, char *null)
{
	*null = PG_ARGISNULL(argno) ? 'n' : ' ';
	return PG_ARGISNULL(argno) ? (Datum) 0 : PG_GETARG_DATUM(argno);
}

/*
 * Longest min_interval or schedule an output may declare: 10 years (as
 * intervals compare, a month counting 30 days).
 */
#define DP_MAX_REFRESH_INTERVAL_MONTHS	120

/*
 * dataproduct_check_intervals
 *		min_interval and schedule follow the catalog's interval rule (zero
 *		allowed: no minimum, no schedule) and must not exceed
 *		DP_MAX_REFRESH_INTERVAL_MONTHS.  Errors out naming the argument.
 *
 * The scheduler copes with whatever the catalog holds (a 0.1.0 database may
 * hold anything); these bounds keep declarations meaningful.
 */
void
dataproduct_check_intervals(FunctionCallInfo fcinfo, int min_arg,
							int schedule_arg)
{
	int			args[2] = {min_arg, schedule_arg};
	Interval	max = {0, 0, DP_MAX_REFRESH_INTERVAL_MONTHS};
	int			i;

	for (i = 0; i < 2; i++)
	{
		const char *argname = (i == 0 ? "min_interval" : "schedule");
		Interval   *iv;
		char	   *text;

		if (PG_ARGISNULL(args[i]))
			continue;
		iv = PG_GETARG_INTERVAL_P(args[i]);
		text = DatumGetCString(DirectFunctionCall1(interval_out,
												   IntervalPGetDatum(iv)));
		dataproduct_check_interval(argname, iv, true, NULL);
		if (DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(iv),
											  IntervalPGetDatum(&max))) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be at most %d years", argname,
							DP_MAX_REFRESH_INTERVAL_MONTHS / MONTHS_PER_YEAR),
					 errdetail("The interval is \"%s\"; intervals compare as in PostgreSQL, a month counting 30 days.",
							   text),
					 errhint("Refresh an output that rarely needs it by hand with dataproduct.refresh().")));
	}
}

/*
 * dataproduct_join_names
 *		The strings of names, comma-separated, for a message.
 */
char *
dataproduct_join_names(List *names)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, names)
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "",
						 (char *) lfirst(lc));
	return buf.data;
}

/*
 * dataproduct_output_addresses
 *		The addresses of a list of outputs, comma-separated.
 */
char *
dataproduct_output_addresses(List *outputs)
{
	List	   *names = NIL;
	ListCell   *lc;

	foreach(lc, outputs)
		names = lappend(names, ((DpOutput *) lfirst(lc))->address);
	return dataproduct_join_names(names);
}

/* ----------------------------------------------------------------
 * Outputs
 * ----------------------------------------------------------------
 */

/*
 * dataproduct_drop_output_objects
 *		Drop an output's view, store and query view and its catalog row.
 *		With DROP_CASCADE, whatever reads the view goes too; the caller then
 *		runs dataproduct_forget_dropped for outputs caught in the cascade.
 */
void
dataproduct_drop_output_objects(DpOutput *output, DropBehavior behavior)
{
	DpSavedUser saved;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(output->id)};

	dataproduct_become_catalog_owner(&saved);
	dataproduct_drop_output_relations(output, behavior, 0);
	dataproduct_spi_exec("DELETE FROM dataproduct.output WHERE output_id = $1",
						 1, argtypes, values, NULL, SPI_OK_DELETE);
	dataproduct_restore_user(&saved);
	CommandCounterIncrement();
}

/*
 * check_no_readers
 *		Error out if other outputs read this output (drop without cascade).
 */
static void
check_no_readers(DpOutput *output)
{
	List	   *readers = dataproduct_outputs_reading(output->view);

	if (readers == NIL)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
			 errmsg("cannot drop output %s because other outputs read it",
					output->address),
			 errdetail("Read by: %s.", dataproduct_output_addresses(readers)),
			 errhint("Drop those outputs first, or use cascade => true to drop them too.")));
}

/*
 * build_query_view
 *		Create the query view of a new output from the analysed statement,
 *		under the search_path the caller's query was analysed with.
 */
static Oid
build_query_view(DpQueryInfo *info, const char *sql, const char *relname,
				 const char *search_path)
{
	ViewStmt   *stmt = makeNode(ViewStmt);
	ObjectAddress address;
	DpSavedUser saved;
	int			nestlevel;

	stmt->view = makeRangeVar("dataproduct_internal", pstrdup(relname), -1);
	stmt->query = copyObject(info->raw->stmt);
	stmt->replace = false;
	stmt->withCheckOption = NO_CHECK_OPTION;

	nestlevel = NewGUCNestLevel();
	dataproduct_set_setting("search_path", search_path);
	dataproduct_become_catalog_owner(&saved);
	address = DefineView(stmt, sql, info->raw->stmt_location,
						 info->raw->stmt_len);
	dataproduct_restore_user(&saved);
	AtEOXact_GUC(true, nestlevel);
	CommandCounterIncrement();
	return address.objectId;
}

/*
 * effective_search_path
 *		The caller's search path as an explicit list of schemas, so that the
 *		query view resolves names exactly as the caller's analysis did even
 *		while running as another role ("$user" would differ).
 */
static char *
effective_search_path(void)
{
	List	   *path = fetch_search_path(true);
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, path)
	{
		Oid			nspid = lfirst_oid(lc);

		appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "",
						 isTempNamespace(nspid) ? "pg_temp" :
						 quote_identifier(get_namespace_name(nspid)));
	}
	if (buf.len == 0)
		appendStringInfoString(&buf, "pg_catalog");
	return buf.data;
}

/*
 * capture_leaves
 *		Capture every relation the plan reads, with the union of the
 *		columns read, adding the source ids to *sources.  The log is the
 *		extension's alone: the owner is granted nothing.  Runs as the
 *		catalog owner.
 */
static void
capture_leaves(DpPlan *plan, List **sources)
{
	List	   *relids = NIL;
	ListCell   *lc;

	foreach(lc, plan->leaves)
		relids = list_append_unique_oid(relids, ((DpLeaf *) lfirst(lc))->relid);
	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		Bitmapset  *attnos = NULL;
		ListCell   *lc2;
		int64		source_id;

		foreach(lc2, plan->leaves)
			if (((DpLeaf *) lfirst(lc2))->relid == relid)
				attnos = bms_union(attnos, ((DpLeaf *) lfirst(lc2))->attnos);
		(void) dataproduct_capture_relation(relid, attnos, &source_id);
		*sources = lappend(*sources, makeInteger(source_id));
	}
}

/*
 * build_incremental
 *		Build the pre view, the keyed store and the guarded output view of an
 *		incrementally maintained output, and capture its sources.  Returns
 *		the pre view; *store is set.  Runs as the catalog owner.
 */
static Oid
build_incremental(DpPlan *plan, int64 id, const char *qview, const char *qowner,
				  Oid *store, List **sources)
{
	char	   *pre_name = psprintf("output_" INT64_FORMAT "_pre", id);
	char	   *store_name = psprintf("output_" INT64_FORMAT "_store", id);
	char	   *qpre = quote_qualified_identifier("dataproduct_internal", pre_name);
	char	   *qstore = quote_qualified_identifier("dataproduct_internal", store_name);
	Oid			internal = get_namespace_oid("dataproduct_internal", false);
	StringInfoData cols;
	StringInfoData keys;
	ListCell   *lc;
	int			i;

	dataproduct_exec_ddl(psprintf("CREATE VIEW %s AS %s", qpre, plan->pre_sql));

	initStringInfo(&cols);
	foreach(lc, plan->store_cols)
	{
		DpColumn   *col = lfirst(lc);

		appendStringInfo(&cols, "%s%s %s", cols.len > 0 ? ", " : "",
						 quote_identifier(col->name),
						 format_type_with_typemod(col->type, col->typmod));
		if (OidIsValid(col->collation) && col->collation != get_typcollation(col->type))
			appendStringInfo(&cols, " COLLATE %s", generate_collation_name(col->collation));
	}
	/* group rows are updated in place: leave room for HOT updates */
	dataproduct_exec_ddl(psprintf("CREATE TABLE %s (%s) WITH (fillfactor = 80)", qstore, cols.data));
	dataproduct_exec_ddl(psprintf("ALTER TABLE %s REPLICA IDENTITY FULL", qstore));
	initStringInfo(&keys);
	for (i = 0; i < list_length(plan->keys); i++)
		appendStringInfo(&keys, "%s%s", i > 0 ? ", " : "",
						 quote_identifier(((DpColumn *) list_nth(plan->store_cols, i))->name));
	dataproduct_exec_ddl(psprintf("CREATE UNIQUE INDEX %s ON %s (%s) NULLS NOT DISTINCT",
					  quote_identifier(psprintf("output_" INT64_FORMAT "_key", id)),
					  qstore, keys.data));
	*store = get_relname_relid(store_name, internal);
	dataproduct_exec_ddl(psprintf("CREATE VIEW %s WITH (security_barrier) AS %s", qview,
					  dataproduct_view_sql(plan, *store, true)));
	dataproduct_exec_ddl(psprintf("ALTER VIEW %s OWNER TO %s", qpre, qowner));
	dataproduct_exec_ddl(psprintf("ALTER TABLE %s OWNER TO %s", qstore, qowner));

	capture_leaves(plan, sources);
	return get_relname_relid(pre_name, internal);
}

/* An output being declared, as add_output() builds it up. */
typedef struct NewOutput
{
	int64		id;
	DpProduct  *product;
	char	   *name;
	char	   *sql;
	char	   *refresh;		/* the mode asked for */
	char	   *description;
	Datum		min_interval;	/* interval, or 0 for none */
	Datum		schedule;		/* interval, or 0 for none */
	DpQueryInfo *info;
	Oid			query_view;
	bool		history;		/* history => true */
	DpPlan	   *plan;			/* unless full refresh was asked for */
	DpHistory  *hist;			/* a history output's columns and key */
	char	   *mode;			/* the mode chosen */
	char	   *reason;			/* why in full, if so */
	Oid			store;
	Oid			view;
	Oid			pre_view;		/* incremental: the pre-aggregation view */
	List	   *sources;		/* incremental: source ids (Integer) */
} NewOutput;

/*
 * choose_mode
 *		Incremental where the query allows it and full refresh was not
 *		asked for; in full, with a NOTICE naming the reason, otherwise,
 *		unless incremental maintenance was insisted on (an error).
 */
static void
choose_mode(NewOutput *o)
{
	if (strcmp(o->refresh, "full") == 0)
	{
		o->mode = "full";
		o->reason = "full refresh was requested";
		return;
	}
	o->plan = dataproduct_plan_output(o->query_view, InvalidOid);
	dataproduct_check_leaf_privileges(o->plan, o->product->owner, false);
	if (o->history)
	{
		/* kept from the change stream, or not at all */
		o->hist = dataproduct_history_plan(o->plan, psprintf("%s.%s", o->product->domain, o->name));
		o->mode = "incremental";
	}
	else if (o->plan->incremental)
		o->mode = "incremental";
	else if (strcmp(o->refresh, "incremental") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("output %s.%s cannot be maintained incrementally",
						o->product->domain, o->name),
				 errdetail("Its query %s.", o->plan->reason),
				 errhint("Declare it with refresh => 'auto' or 'full' to refresh it in full, or rewrite the query.")));
	else
	{
		o->mode = "full";
		o->reason = psprintf("its query %s", o->plan->reason);
		ereport(NOTICE,
				(errmsg("output %s.%s will be refreshed in full because %s",
						o->product->domain, o->name, o->reason)));
	}
}

/*
 * build_relations
 *		Build the store and the output view (and, for an incrementally
 *		maintained output, its pre view and capture), give them to the
 *		product owner and comment them.  Runs as the catalog owner.
 */
static void
build_relations(NewOutput *o)
{
	char	   *store_name = psprintf("output_" INT64_FORMAT "_store", o->id);
	const char *qowner = quote_identifier(GetUserNameFromId(o->product->owner, false));
	char	   *qquery = dataproduct_qualified_name(o->query_view);
	char	   *qstore = quote_qualified_identifier("dataproduct_internal", store_name);
	char	   *qview = quote_qualified_identifier(o->product->domain, o->name);
	const char *address = psprintf("%s.%s", o->product->domain, o->name);
	DpSavedUser saved;

	dataproduct_become_catalog_owner(&saved);
	if (o->history)
	{
		o->store = dataproduct_history_build(o->hist, o->id, qview);
		dataproduct_exec_ddl(psprintf("ALTER TABLE %s OWNER TO %s", qstore, qowner));
		capture_leaves(o->plan, &o->sources);
	}
	else if (strcmp(o->mode, "incremental") == 0)
		o->pre_view = build_incremental(o->plan, o->id, qview, qowner,
										&o->store, &o->sources);
	else
	{
		StringInfoData cols;
		ListCell   *lc;

		initStringInfo(&cols);
		foreach(lc, o->info->colnames)
			appendStringInfo(&cols, "%s%s", cols.len > 0 ? ", " : "",
							 quote_identifier(lfirst(lc)));
		dataproduct_exec_ddl(psprintf("CREATE TABLE %s (LIKE %s)", qstore, qquery));
		dataproduct_exec_ddl(psprintf("ALTER TABLE %s REPLICA IDENTITY FULL", qstore));
		dataproduct_exec_ddl(psprintf("CREATE VIEW %s WITH (security_barrier) AS SELECT %s FROM %s",
									  qview, cols.data, qstore));
		dataproduct_exec_ddl(psprintf("ALTER TABLE %s OWNER TO %s", qstore, qowner));
		o->store = get_relname_relid(store_name, get_namespace_oid("dataproduct_internal", false));
	}
	dataproduct_exec_ddl(psprintf("ALTER VIEW %s OWNER TO %s", qquery, qowner));
	dataproduct_exec_ddl(psprintf("ALTER VIEW %s OWNER TO %s", qview, qowner));
	o->view = get_relname_relid(o->name, o->product->schema);

	CreateComments(o->query_view, RelationRelationId, 0,
				   psprintf("pg_dataproduct: query of output %s", address));
	CreateComments(o->store, RelationRelationId, 0,
				   psprintf("pg_dataproduct: rows of output %s", address));
	if (OidIsValid(o->pre_view))
		CreateComments(o->pre_view, RelationRelationId, 0,
					   psprintf("pg_dataproduct: query of output %s before aggregation",
								address));
	if (o->description != NULL)
		CreateComments(o->view, RelationRelationId, 0, o->description);
	dataproduct_restore_user(&saved);
}

/*
 * dataproduct_comment_views
 *		Write the COMMENT of the views of a product's outputs (product_id),
 *		or of one output (output_id): the output's description, then the
 *		block of product metadata tools read (owner, version, status, ...;
 *		dataproduct_internal.output_comment states the form).  Called when
 *		an output is declared, its description changes, or its product's
 *		metadata does.  A catalog still at 0.1.0 has no block: its views
 *		keep the description alone.  SPI must be connected; errors only on
 *		internal failures.
 */
void
dataproduct_comment_views(int64 product_id, int64 output_id)
{
	char	   *version = dataproduct_extension_version();
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(product_id), Int64GetDatum(output_id)};
	DpSavedUser saved;
	SPITupleTable *tuptable;
	uint64		n;
	uint64		i;

	if (version != NULL && strcmp(version, "0.1.0") == 0)
		return;
	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("SELECT o.view, dataproduct_internal.output_comment(o.output_id)"
						 "  FROM dataproduct.output o"
						 " WHERE (o.product_id = $1 OR o.output_id = $2)"
						 "   AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = o.view)",
						 2, argtypes, values, NULL, SPI_OK_SELECT);
	tuptable = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Oid			view = DatumGetObjectId(SPI_getbinval(tuptable->vals[i],
														  tuptable->tupdesc, 1, &isnull));

		CreateComments(view, RelationRelationId, 0,
					   SPI_getvalue(tuptable->vals[i], tuptable->tupdesc, 2));
	}
	dataproduct_restore_user(&saved);
	CommandCounterIncrement();
}

/*
 * record_output
 *		Write the output's catalog row and its sources, as the catalog
 *		owner.  An output not yet loaded holds the snapshot of its
 *		declaration: change logs keep every row it may need from then on
 *		(batch.c).
 */
static void
record_output(NewOutput *o)
{
	Oid			argtypes[15] = {INT8OID, INT8OID, TEXTOID, OIDOID, OIDOID, OIDOID,
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, OIDOID, TEXTOID, INTERVALOID,
	INTERVALOID};
	Datum		values[15];
	char		nulls[16] = "               ";
	DpSavedUser saved;
	ListCell   *lc;

	values[0] = Int64GetDatum(o->id);
	values[1] = Int64GetDatum(o->product->id);
	values[2] = CStringGetTextDatum(o->name);
	values[3] = ObjectIdGetDatum(o->view);
	values[4] = ObjectIdGetDatum(o->store);
	values[5] = ObjectIdGetDatum(o->query_view);
	values[6] = CStringGetTextDatum(o->sql);
	values[7] = CStringGetTextDatum(o->refresh);
	values[8] = CStringGetTextDatum(o->mode);
	values[9] = dataproduct_text_or_null(o->reason, &nulls[9]);
	values[10] = dataproduct_text_or_null(o->description, &nulls[10]);
	values[11] = ObjectIdGetDatum(o->pre_view);
	nulls[11] = OidIsValid(o->pre_view) ? ' ' : 'n';
	values[12] = CStringGetTextDatum(dataproduct_origin());
	values[13] = o->min_interval;
	nulls[13] = o->min_interval == (Datum) 0 ? 'n' : ' ';
	values[14] = o->schedule;
	nulls[14] = o->schedule == (Datum) 0 ? 'n' : ' ';

	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("INSERT INTO dataproduct.output"
						 " (output_id, product_id, name, view, store, query_view,"
						 "  definition, refresh_mode, mode, mode_reason, description,"
						 "  pre_view, origin, snapshot, timezone, datestyle, intervalstyle,"
						 "  min_interval, schedule)"
						 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
						 "  pg_catalog.pg_current_snapshot(),"
						 "  pg_catalog.current_setting('TimeZone'),"
						 "  pg_catalog.current_setting('DateStyle'),"
						 "  pg_catalog.current_setting('IntervalStyle'),"
						 "  coalesce($14, '0'), $15)",
						 15, argtypes, values, nulls, SPI_OK_INSERT);
	/* only a 0.2.0 catalog has the column, and only its add_output asks */
	if (o->history)
		dataproduct_spi_exec("UPDATE dataproduct.output SET history = true WHERE output_id = $1",
							 1, argtypes, values, NULL, SPI_OK_UPDATE);
	foreach(lc, o->sources)
	{
		Oid			st[2] = {INT8OID, INT8OID};
		Datum		sv[2] = {Int64GetDatum(o->id), Int64GetDatum(intVal(lfirst(lc)))};

		dataproduct_spi_exec("INSERT INTO dataproduct.output_source (output_id, source_id)"
							 " VALUES ($1, $2)", 2, st, sv, NULL, SPI_OK_INSERT);
	}
	dataproduct_restore_user(&saved);
	CommandCounterIncrement();
}

/*
 * first_load
 *		A fully refreshed output is loaded right away, as the owner (which
 *		also proves the owner may read the sources).  An incrementally
 *		maintained one is not: the capture triggers hold a lock on the
 *		sources until this transaction ends, and loading now would hold
 *		writers up for the whole load.  Its first refresh loads it, in a
 *		later transaction; here the owner's rights are only tried.
 */
static void
first_load(DpOutput *output)
{
	dataproduct_note_capture(); /* the worker loads it after commit */
	if (strcmp(output->mode, "full") == 0)
	{
		(void) dataproduct_refresh_output(output, false);
		return;
	}
	dataproduct_check_owner_can_read(output, output->owner);
	ereport(NOTICE,
			(errmsg("output %s is maintained incrementally and is populated by its first refresh",
					output->address),
			 errhint("Run SELECT dataproduct.refresh('%s') after this transaction commits.",
					 output->address)));
}

/*
 * add_output(product text, name text, query text, refresh text,
 *			  description text, min_interval interval, schedule interval,
 *			  history boolean) returns regclass
 *
 * (0.1.0 declared it without history: called so, it is false.)
 */
Datum
dataproduct_add_output(PG_FUNCTION_ARGS)
{
	char	   *address = dataproduct_required_text(fcinfo, 0, "product");
	NewOutput	o;
	char	   *search_path;
	DpSavedUser saved;

	dataproduct_refuse_on_standby("declare an output");
	memset(&o, 0, sizeof(o));
	o.name = dataproduct_required_text(fcinfo, 1, "name");
	o.sql = dataproduct_required_text(fcinfo, 2, "query");
	o.refresh = PG_ARGISNULL(3) ? "auto" : text_to_cstring(PG_GETARG_TEXT_PP(3));
	o.description = dataproduct_optional_text(fcinfo, 4);
	o.min_interval = PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5);
	o.schedule = PG_ARGISNULL(6) ? (Datum) 0 : PG_GETARG_DATUM(6);
	o.history = PG_NARGS() > 7 && !PG_ARGISNULL(7) && PG_GETARG_BOOL(7);

	dataproduct_check_name("output", o.name);
	dataproduct_check_intervals(fcinfo, 5, 6);
	if (strcmp(o.refresh, "auto") != 0 && strcmp(o.refresh, "full") != 0 &&
		strcmp(o.refresh, "incremental") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid refresh mode \"%s\"", o.refresh),
				 errhint("The refresh modes are auto, incremental and full.")));
	if (o.history && strcmp(o.refresh, "full") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a history output cannot be refreshed in full"),
				 errdetail("A history output is built from the captured changes of its table; a full refresh sees only the current rows."),
				 errhint("Declare it with refresh => 'auto' or 'incremental'.")));

	/* analysed as the caller, under the caller's search_path */
	search_path = effective_search_path();
	o.info = dataproduct_analyze_query(o.sql);

	dataproduct_spi_connect();
	o.product = dataproduct_get_product(address, false);
	dataproduct_check_acts_as(o.product->owner, "data product", o.product->address);
	if (strcmp(o.product->status, DP_STATUS_RETIRED) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("data product %s is retired", o.product->address),
				 errhint("Declare a new product instead.")));
	if (OidIsValid(get_relname_relid(o.name, o.product->schema)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation \"%s.%s\" already exists", o.product->domain, o.name),
				 errhint("Choose another output name; output names are unique within a domain.")));

	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("SELECT pg_catalog.nextval('dataproduct.output_id_seq')",
						 0, NULL, NULL, NULL, SPI_OK_SELECT);
	dataproduct_restore_user(&saved);
	o.id = dataproduct_result_int8(1);

	o.query_view = build_query_view(o.info, o.sql,
									psprintf("output_" INT64_FORMAT "_query", o.id),
									search_path);
	dataproduct_check_temp_objects(o.query_view);
	choose_mode(&o);
	build_relations(&o);
	record_output(&o);
	dataproduct_comment_views(0, o.id);
	dataproduct_access_extend(dataproduct_get_output(o.view, false));
	first_load(dataproduct_get_output(o.view, false));

	dataproduct_spi_finish();
	PG_RETURN_OID(o.view);
}

/*
 * drop_output(output regclass, cascade boolean) returns void
 */
Datum
dataproduct_drop_output(PG_FUNCTION_ARGS)
{
	Oid			view = PG_GETARG_OID(0);
	bool		cascade = PG_GETARG_BOOL(1);
	DpOutput   *output;

	dataproduct_refuse_on_standby("drop an output");
	dataproduct_spi_connect();
	output = dataproduct_get_output(view, false);
	dataproduct_check_acts_as(output->owner, "data product", output->product);
	if (!cascade)
		check_no_readers(output);
	dataproduct_drop_output_objects(output, cascade ? DROP_CASCADE : DROP_RESTRICT);
	dataproduct_forget_dropped();
	dataproduct_spi_finish();
	PG_RETURN_VOID();
}

/*
 * refresh(output regclass) returns bigint
 */
Datum
dataproduct_refresh(PG_FUNCTION_ARGS)
{
	Oid			view = PG_GETARG_OID(0);
	DpOutput   *output;
	int64		changed;

	dataproduct_refuse_on_standby("refresh an output");
	dataproduct_spi_connect();
	output = dataproduct_get_output(view, false);
	dataproduct_check_acts_as(output->owner, "data product", output->product);
	if (strcmp(output->product_status, DP_STATUS_RETIRED) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("data product %s is retired", output->product),
				 errdetail("The outputs of a retired product keep their last data and are no longer refreshed.")));
	changed = dataproduct_refresh_output(output, false);
	dataproduct_spi_finish();

	/* once a session: say why outputs do not refresh by themselves */
	{
		static bool told = false;

		if (!told && !dataproduct_workers_available())
			ereport(NOTICE,
					(errmsg("automatic refresh is off: pg_dataproduct is not in shared_preload_libraries"),
					 errhint("Add pg_dataproduct to shared_preload_libraries and restart to have outputs refreshed when their sources change.")));
		else if (!told && !dataproduct_enabled)
			ereport(NOTICE,
					(errmsg("automatic refresh is off: dataproduct.enabled is off"),
					 errhint("Set dataproduct.enabled = on and reload the configuration.")));
		told = true;
	}
	PG_RETURN_INT64(changed);
}

/*
 * alter_output(output regclass, min_interval interval, schedule interval,
 *				description text) returns void
 *
 * NULL leaves a field alone; a schedule of '0' removes it.
 */
Datum
dataproduct_alter_output(PG_FUNCTION_ARGS)
{
	DpOutput   *output;
	DpSavedUser saved;
	Oid			argtypes[4] = {INT8OID, INTERVALOID, INTERVALOID, TEXTOID};
	Datum		values[4];
	char		nulls[5] = "    ";

	dataproduct_refuse_on_standby("change an output");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" must not be null", "output")));
	dataproduct_check_intervals(fcinfo, 1, 2);
	dataproduct_spi_connect();
	output = dataproduct_get_output(PG_GETARG_OID(0), false);
	dataproduct_check_acts_as(output->owner, "data product", output->product);

	values[0] = Int64GetDatum(output->id);
	values[1] = dataproduct_arg_or_null(fcinfo, 1, &nulls[1]);
	values[2] = dataproduct_arg_or_null(fcinfo, 2, &nulls[2]);
	values[3] = dataproduct_arg_or_null(fcinfo, 3, &nulls[3]);
	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("UPDATE dataproduct.output"
						 "   SET min_interval = coalesce($2, min_interval),"
						 "       schedule = CASE WHEN $3 IS NULL THEN schedule"
						 "                       WHEN $3 = '0' THEN NULL ELSE $3 END,"
						 "       description = coalesce($4, description)"
						 " WHERE output_id = $1",
						 4, argtypes, values, nulls, SPI_OK_UPDATE);
	if (!PG_ARGISNULL(3))
		CreateComments(output->view, RelationRelationId, 0,
					   text_to_cstring(PG_GETARG_TEXT_PP(3)));
	dataproduct_restore_user(&saved);
	if (!PG_ARGISNULL(3))
		dataproduct_comment_views(0, output->id);
	dataproduct_spi_finish();
	PG_RETURN_VOID();
}


/*
 * as_of(output anyelement, at timestamptz) returns setof anyelement
 *
 * The rows of a history output as they were at `at': its view's versions
 * valid then (valid_from <= at < valid_to, or current).  The output is
 * named by its view's row type, NULL::domain.output, so that the result
 * has the view's columns; the view is read with the caller's rights.
 */
Datum
dataproduct_as_of(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			type = get_fn_expr_argtype(fcinfo->flinfo, 0);
	Oid			view = OidIsValid(type) ? get_typ_typrelid(type) : InvalidOid;
	DpOutput   *output;
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		values[1];
	uint64		i;

	if (!OidIsValid(view))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("dataproduct.as_of() takes a row of a history output's view, not %s",
						OidIsValid(type) ? format_type_be(type) : "unknown"),
				 errhint("Name the output by its row type: SELECT * FROM dataproduct.as_of(NULL::domain.output, '2026-11-01').")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" must not be null", "at")));
	values[0] = PG_GETARG_DATUM(1);

	InitMaterializedSRF(fcinfo, 0);
	dataproduct_spi_connect();
	output = dataproduct_get_output(view, false);
	if (!output->history)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("output %s is not a history output", output->address),
				 errhint("Declare an output with history => true to keep its rows' versions.")));
	dataproduct_spi_exec(psprintf("SELECT * FROM %s v"
								  " WHERE v.valid_from OPERATOR(pg_catalog.<=) $1"
								  "   AND (v.valid_to IS NULL OR v.valid_to OPERATOR(pg_catalog.>) $1)",
								  dataproduct_qualified_name(view)),
						 1, argtypes, values, NULL, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
		tuplestore_puttuple(rsinfo->setResult, SPI_tuptable->vals[i]);
	dataproduct_spi_finish();
	return (Datum) 0;
}
