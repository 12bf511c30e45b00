/*-------------------------------------------------------------------------
 *
 * quality.c
 *	  Quality checks on outputs: declaring them, running them after every
 *	  refresh and on demand, and keeping their results.
 *
 * A check is declared with add_check() as a kind and its parameters; each
 * kind becomes one query over the output's view (checks.c), which runs
 * here as the product owner, at the refresh's snapshot, in a
 * subtransaction: an error of the check's own query fails the check.
 *
 * Data flow: dataproduct_refresh_output() (refresh.c) writes the store, then
 * calls dataproduct_checks_after_refresh() in the same transaction.  Every
 * result is recorded in dataproduct.check_result.  If a blocking check
 * fails, the refresh errors out, which rolls it back: consumers keep the last
 * good data.  Because that rollback would take the failing results with it,
 * they are also kept in memory and the worker, which runs each refresh in a
 * subtransaction, records them with the failure
 * (dataproduct_record_failed_checks()).  A warning check only records its
 * failure; health() reports it.
 *
 * IDENTIFICATION
 *	  src/quality.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/regproc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "catalog.h"
#include "checks.h"
#include "delta.h"
#include "exec.h"
#include "quality.h"

PG_FUNCTION_INFO_V1(dataproduct_add_check);
PG_FUNCTION_INFO_V1(dataproduct_alter_check);
PG_FUNCTION_INFO_V1(dataproduct_drop_check);
PG_FUNCTION_INFO_V1(dataproduct_run_checks);

/* The outcome of one run of a check. */
typedef struct DpCheckResult
{
	int64		check_id;
	char	   *name;
	char	   *severity;
	bool		passed;
	bool		incremental;	/* looked only at the rows just written */
	char	   *observed;
	char	   *sample;			/* jsonb text, or NULL */
} DpCheckResult;

/* failing results of a refresh a blocking check rolled back */
static List *failed_results = NIL;
static Datum failed_snapshot = (Datum) 0;

/* ----------------------------------------------------------------
 * Running checks
 * ----------------------------------------------------------------
 */

static List *
output_checks(int64 output_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(output_id)};
	List	   *result = NIL;
	DpSavedUser saved;
	uint64		i;

	/* check_result is not readable by everyone */
	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("SELECT c.check_id, c.name, c.kind, c.severity, c.params,"
						 "       COALESCE((SELECT r.passed FROM dataproduct.check_result r"
						 "                  WHERE r.check_id OPERATOR(pg_catalog.=) c.check_id"
						 "                    AND r.run_by OPERATOR(pg_catalog.=) 'refresh'"
						 "                  ORDER BY r.result_id DESC LIMIT 1), false)"
						 "  FROM dataproduct.quality_check c WHERE c.output_id OPERATOR(pg_catalog.=) $1"
						 " ORDER BY c.name",
						 1, argtypes, values, NULL, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DpCheck    *c = palloc0(sizeof(DpCheck));
		bool		isnull;

		c->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		c->name = SPI_getvalue(tup, desc, 2);
		c->kind = SPI_getvalue(tup, desc, 3);
		c->severity = SPI_getvalue(tup, desc, 4);
		c->params = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 5, &isnull));
		c->last_passed = DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull));
		result = lappend(result, c);
	}
	dataproduct_restore_user(&saved);
	return result;
}

typedef struct RunArgs
{
	DpOutput   *output;
	DpCheck    *check;
	Snapshot	snap;
	const char *rows;
	Datum		written;
	DpCheckResult *r;
} RunArgs;

static void
run_one_cb(void *arg)
{
	RunArgs    *a = arg;
	DpSavedUser saved;
	char	   *sql;
	SPIPlanPtr	plan;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	Oid			tidarray = TIDARRAYOID;

	/* names in the check resolve, and are checked, as the owner's */
	dataproduct_become_owner(a->output->owner, &saved);
	sql = dataproduct_check_query(a->output, a->check, a->rows);
	plan = SPI_prepare(sql, a->rows ? 1 : 0, &tidarray);
	if (plan == NULL)
		elog(ERROR, "could not prepare check \"%s\": %s", a->check->name,
			 SPI_result_code_string(SPI_result));
	if (SPI_execute_snapshot(plan, a->rows ? &a->written : NULL, NULL, a->snap,
							 InvalidSnapshot, false, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "check \"%s\" returned no result", a->check->name);
	dataproduct_restore_user(&saved);
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	a->r->observed = SPI_getvalue(tup, desc, 1);
	d = SPI_getbinval(tup, desc, 2, &isnull);
	a->r->passed = !isnull && DatumGetBool(d);
	a->r->sample = SPI_getvalue(tup, desc, 3);
}

/*
 * run_one
 *		Run one check as the product owner at snapshot snap; rows (with the
 *		tid[] written as its $1), if not NULL, the rows of the output it
 *		looks at.  An error in the check's own query (a custom query dividing
 *		by zero, a referenced table gone) fails the check with that error as
 *		its observation.
 */
static DpCheckResult *
run_one(DpOutput *output, DpCheck *check, Snapshot snap, const char *rows,
		Datum written)
{
	DpCheckResult *r = palloc0(sizeof(DpCheckResult));
	RunArgs		a = {output, check, snap, rows, written, r};
	ErrorData  *edata;

	r->check_id = check->id;
	r->name = check->name;
	r->severity = check->severity;
	r->incremental = (rows != NULL);
	edata = dataproduct_in_subtransaction(run_one_cb, &a);
	if (edata != NULL)
	{
		/* a conflict or lack of memory is not the check's verdict either */
		if (edata->sqlerrcode == ERRCODE_OUT_OF_MEMORY ||
			edata->sqlerrcode == ERRCODE_T_R_SERIALIZATION_FAILURE ||
			edata->sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED ||
			edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
			ReThrowError(edata);
		r->passed = false;
		r->observed = psprintf("error: %s", edata->message);
		r->sample = NULL;
	}
	return r;
}

/* Record results in dataproduct.check_result, as the catalog owner. */
static void
record_results(List *results, Datum snapshot, const char *trigger)
{
	TimestampTz at = GetCurrentTimestamp();	/* one time for the whole run */
	Oid			argtypes[8] = {INT8OID, BOOLOID, TEXTOID, JSONBOID, PG_SNAPSHOTOID,
	TEXTOID, TIMESTAMPTZOID, BOOLOID};
	DpSavedUser saved;
	ListCell   *lc;

	dataproduct_become_catalog_owner(&saved);
	foreach(lc, results)
	{
		DpCheckResult *r = lfirst(lc);
		Datum		values[8];
		char		nulls[8] = "        ";

		values[0] = Int64GetDatum(r->check_id);
		values[1] = BoolGetDatum(r->passed);
		values[2] = CStringGetTextDatum(r->observed ? r->observed : "");
		if (r->sample != NULL)
			values[3] = DirectFunctionCall1(jsonb_in, CStringGetDatum(r->sample));
		else
			nulls[3] = 'n';
		values[4] = snapshot;
		if (snapshot == (Datum) 0)
			nulls[4] = 'n';
		values[5] = CStringGetTextDatum(trigger);
		values[6] = TimestampTzGetDatum(at);
		values[7] = BoolGetDatum(r->incremental);
		dataproduct_spi_exec("INSERT INTO dataproduct.check_result"
							 " (check_id, passed, observed, sample, snapshot, run_by, checked_at,"
							 "  incremental)"
							 " SELECT $1, $2, $3, $4, $5, $6, $7, $8"
							 "  WHERE EXISTS (SELECT 1 FROM dataproduct.quality_check"
							 "                 WHERE check_id OPERATOR(pg_catalog.=) $1)",
							 8, argtypes, values, nulls, SPI_OK_INSERT);
	}
	dataproduct_restore_user(&saved);
}

static void
forget_failed_results(void)
{
	ListCell   *lc;

	foreach(lc, failed_results)
	{
		DpCheckResult *r = lfirst(lc);

		pfree(r->name);
		pfree(r->severity);
		if (r->observed)
			pfree(r->observed);
		if (r->sample)
			pfree(r->sample);
	}
	list_free_deep(failed_results);
	failed_results = NIL;
	if (failed_snapshot != (Datum) 0)
		pfree(DatumGetPointer(failed_snapshot));
	failed_snapshot = (Datum) 0;
}

/* A copy of r in TopMemoryContext, to outlive a rollback. */
static DpCheckResult *
keep_result(DpCheckResult *r)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	DpCheckResult *k = palloc(sizeof(DpCheckResult));

	k->check_id = r->check_id;
	k->name = pstrdup(r->name);
	k->severity = pstrdup(r->severity);
	k->passed = r->passed;
	k->incremental = r->incremental;
	k->observed = r->observed ? pstrdup(r->observed) : NULL;
	k->sample = r->sample ? pstrdup(r->sample) : NULL;
	MemoryContextSwitchTo(old);
	return k;
}

/*
 * dataproduct_checks_after_refresh
 *		Run the checks of an output just refreshed, in the refresh's
 *		transaction and at its snapshot (snapdatum: the same snapshot as a
 *		pg_snapshot, recorded with each result).  Errors out, rolling the
 *		refresh back, if a blocking check fails.  SPI connected.
 */
void
dataproduct_checks_after_refresh(DpOutput *output, Snapshot snap, Datum snapdatum,
								 bool applied, Datum written)
{
	List	   *checks = output_checks(output->id);
	List	   *results = NIL;
	DpCheckResult *blocker = NULL;
	int			failed = 0;
	ListCell   *lc;
	char	   *changed = NULL;

	forget_failed_results();
	if (checks == NIL)
		return;
	if (written == (Datum) 0)
		written = PointerGetDatum(construct_empty_array(TIDOID));

	/*
	 * After a batch was applied, row-by-row kinds need only look at the rows
	 * it wrote (found by their ctids, through a TID scan) when the rest is
	 * known to pass: their result after the previous refresh passed (not an
	 * on-demand run's, which may have seen an older snapshot; refreshes of
	 * an output are serialized), and every store row written since was
	 * checked by the refresh that wrote it.  After a full refresh or a
	 * rebuild they look at everything.
	 */
	foreach(lc, checks)
	{
		DpCheck    *check = lfirst(lc);
		bool		by_row = (strcmp(check->kind, "not_null") == 0 ||
							  strcmp(check->kind, "accepted_values") == 0 ||
							  strcmp(check->kind, "range") == 0);
		bool		incremental = by_row && applied && check->last_passed;
		DpCheckResult *r;

		if (incremental && changed == NULL)
			changed = psprintf("(%s) __dp_changed",
							   dataproduct_changed_rows_sql(dataproduct_plan_output(output->query_view,
																					 output->store),
															output->store));
		r = run_one(output, check, snap, incremental ? changed : NULL, written);

		results = lappend(results, r);
		if (!r->passed)
		{
			failed++;
			if (blocker == NULL && strcmp(r->severity, "blocking") == 0)
				blocker = r;
		}
	}
	if (blocker == NULL)
	{
		record_results(results, snapdatum, "refresh");
		if (failed > 0)
			ereport(NOTICE,
					(errmsg("%d warning check(s) failed on output %s", failed,
							output->address),
					 errhint("See dataproduct.check_results.")));
		return;
	}

	/* keep the results for whoever records the failed refresh */
	foreach(lc, results)
	{
		DpCheckResult *k = keep_result(lfirst(lc));
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		failed_results = lappend(failed_results, k);
		MemoryContextSwitchTo(old);
	}
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		failed_snapshot = datumCopy(snapdatum, false, -1);
		MemoryContextSwitchTo(old);
	}
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("blocking check \"%s\" failed on output %s", blocker->name,
					output->address),
			 errdetail("Observed: %s.%s%s", blocker->observed,
					   blocker->sample ? " Offending rows: " : "",
					   blocker->sample ? blocker->sample : ""),
			 errhint("The refresh was rolled back and the output keeps its previous data; fix the data at its source, or change the check with dataproduct.alter_check().")));
}

/*
 * dataproduct_record_failed_checks
 *		Record the results of the last refresh a blocking check rolled back,
 *		if any, after that rollback.  SPI connected.
 */
void
dataproduct_record_failed_checks(void)
{
	if (failed_results != NIL)
		record_results(failed_results, failed_snapshot, "refresh");
	forget_failed_results();
}

/* Whether an output was loaded; read as the catalog owner. */
static bool
output_populated(DpOutput *output)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(output->id)};
	DpSavedUser saved;
	uint64		found;

	dataproduct_become_catalog_owner(&saved);
	found = dataproduct_spi_exec("SELECT 1 FROM dataproduct.output"
								 " WHERE output_id OPERATOR(pg_catalog.=) $1 AND status OPERATOR(pg_catalog.<>) 'empty'",
								 1, argtypes, values, NULL, SPI_OK_SELECT);
	dataproduct_restore_user(&saved);
	return found > 0;
}

/* ----------------------------------------------------------------
 * SQL interface
 * ----------------------------------------------------------------
 */

/*
 * Look up a check by output and name (as the catalog owner), erroring out
 * if there is none.
 */
static int64
find_check(DpOutput *output, const char *name)
{
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		values[2] = {Int64GetDatum(output->id), CStringGetTextDatum(name)};
	bool		isnull;
	DpSavedUser saved;
	uint64		found;

	dataproduct_become_catalog_owner(&saved);
	found = dataproduct_spi_exec("SELECT check_id FROM dataproduct.quality_check"
								 " WHERE output_id OPERATOR(pg_catalog.=) $1 AND name OPERATOR(pg_catalog.=) $2",
								 2, argtypes, values, NULL, SPI_OK_SELECT);
	dataproduct_restore_user(&saved);
	if (found == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("check \"%s\" of output %s does not exist", name,
						output->address),
				 errhint("Checks are listed in dataproduct.checks.")));
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
}

static void
check_severity(const char *severity)
{
	if (strcmp(severity, "blocking") != 0 && strcmp(severity, "warning") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid check severity \"%s\"", severity),
				 errhint("A check is blocking (a failure rolls the refresh back) or warning (a failure is recorded).")));
}

/*
 * check_params
 *		The parameters of an add_check() call, as the text of a jsonb object
 *		of their text forms (arrays as arrays; "values" also as an array
 *		literal, for the query; to_relation also by OID).
 */
static char *
check_params(FunctionCallInfo fcinfo)
{
	static const char *const keys[] = {"column", "columns", "values", "min", "max",
	"to_relation", "to_column", "max_staleness", "sql"};
	static const Oid types[] = {TEXTOID, TEXTARRAYOID, TEXTARRAYOID, TEXTOID, TEXTOID,
	REGCLASSOID, TEXTOID, INTERVALOID, TEXTOID};
	StringInfoData params;
	int			i;

	initStringInfo(&params);
	appendStringInfoChar(&params, '{');
	for (i = 0; i < (int) lengthof(keys); i++)
	{
		int			argno = 5 + i;
		Oid			type = types[i];
		char	   *out;
		Oid			typoutput;
		bool		isvarlena;

		if (PG_ARGISNULL(argno))
			continue;
		getTypeOutputInfo(type, &typoutput, &isvarlena);
		out = OidOutputFunctionCall(typoutput, PG_GETARG_DATUM(argno));
		if (params.len > 1)
			appendStringInfoString(&params, ", ");
		escape_json(&params, keys[i]);
		appendStringInfoString(&params, ": ");
		if (type == TEXTARRAYOID)
		{
			ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(argno);
			Datum	   *elems;
			bool	   *elemnulls;
			int			n;
			int			j;

			if (ARR_NDIM(arr) > 1)
				ereport(ERROR,
						(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
						 errmsg("%s must be a one-dimensional array", keys[i])));
			deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT,
							  &elems, &elemnulls, &n);
			if (n == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s must not be empty", keys[i])));
			appendStringInfoChar(&params, '[');
			for (j = 0; j < n; j++)
			{
				if (elemnulls[j])
					ereport(ERROR,
							(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
							 errmsg("%s must not contain nulls", keys[i])));
				if (j > 0)
					appendStringInfoString(&params, ", ");
				escape_json(&params, TextDatumGetCString(elems[j]));
			}
			appendStringInfoChar(&params, ']');
			if (strcmp(keys[i], "values") == 0)
			{
				/* also as an array literal, for the query */
				appendStringInfoString(&params, ", \"values_literal\": ");
				escape_json(&params, out);
			}
		}
		else
			escape_json(&params, out);
		if (type == REGCLASSOID)
			appendStringInfo(&params, ", \"to_relation_oid\": \"%u\"",
							 DatumGetObjectId(PG_GETARG_DATUM(argno)));
	}
	appendStringInfoChar(&params, '}');
	return params.data;
}

/*
 * default_check_name
 *		The name of a check declared without one: its kind and columns.
 */
static char *
default_check_name(DpCheck *check)
{
	char	   *column = dataproduct_check_param(check, "column");
	List	   *columns = dataproduct_check_param_list(check, "columns");

	if (columns != NIL)
	{
		StringInfoData name;
		ListCell   *lc;

		initStringInfo(&name);
		appendStringInfoString(&name, check->kind);
		foreach(lc, columns)
			appendStringInfo(&name, "_%s", (char *) lfirst(lc));
		return name.data;
	}
	return column ? psprintf("%s_%s", check->kind, column) : check->kind;
}

/*
 * try_check
 *		Build a check's query and start it as the owner, fetching nothing:
 *		a bad declaration, or one naming what the owner may not read, fails
 *		here (privileges are checked when the executor starts).  Bounds that
 *		no value could pass are refused too.
 */
static void
try_check(DpOutput *output, DpCheck *check)
{
	DpSavedUser saved;
	char	   *sql;
	int			nestlevel;

	nestlevel = dataproduct_pin_settings(output->timezone, output->datestyle,
										 output->intervalstyle);
	dataproduct_become_owner(output->owner, &saved);
	sql = dataproduct_check_query(output, check, NULL);
	if (SPI_execute(psprintf("SELECT FROM (%s) __dp_check LIMIT 0", sql), false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not try check \"%s\"", check->name);
	if ((strcmp(check->kind, "range") == 0 || strcmp(check->kind, "row_count") == 0) &&
		dataproduct_check_param(check, "min") != NULL && dataproduct_check_param(check, "max") != NULL)
	{
		Oid			typid = strcmp(check->kind, "range") == 0 ?
			dataproduct_check_column_type(output, dataproduct_check_param(check, "column"), check->kind) : INT8OID;
		char	   *type = dataproduct_cast_type_name(typid);
		char	   *min = dataproduct_check_param(check, "min");
		char	   *max = dataproduct_check_param(check, "max");
		bool		isnull;

		dataproduct_spi_exec(psprintf("SELECT %s::%s %s %s::%s", quote_literal_cstr(min), type,
									  dataproduct_type_operator(typid, TYPECACHE_GT_OPR, "ordering", "min"),
									  quote_literal_cstr(max), type),
							 0, NULL, NULL, NULL, SPI_OK_SELECT);
		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("min %s is greater than max %s", min, max),
					 errhint("No value could pass this check.")));
	}
	dataproduct_restore_user(&saved);
	dataproduct_unpin_settings(nestlevel);
}

/*
 * add_check(output regclass, kind text, name text, severity text,
 *			 description text, "column" text, columns text[], "values" text[],
 *			 min text, max text, to_relation regclass, to_column text,
 *			 max_staleness interval, sql text) RETURNS text
 *
 * Declare a check.  Its query is built and prepared as the product owner
 * right away, so that a bad declaration (an unknown column, a bound that is
 * not of the column's type, custom SQL that does not parse or names what
 * the owner cannot read) fails here rather than at the next refresh.
 */
Datum
dataproduct_add_check(PG_FUNCTION_ARGS)
{
	DpOutput   *output;
	DpCheck		check;
	char	   *description;
	char	   *params;
	Oid			argtypes[6] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = "      ";
	DpSavedUser saved;
	text	   *result;

	dataproduct_refuse_on_standby("add a check");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("output and kind must not be null")));
	dataproduct_spi_connect();
	output = dataproduct_get_output(PG_GETARG_OID(0), false);
	dataproduct_check_acts_as(output->owner, "data product", output->product);

	if (!PG_ARGISNULL(12))
		dataproduct_check_interval("max_staleness", PG_GETARG_INTERVAL_P(12), false,
								   "Pass how far behind its sources the output may be, for example '5 minutes'.");
	check.id = 0;
	check.kind = text_to_cstring(PG_GETARG_TEXT_PP(1));
	check.severity = PG_ARGISNULL(3) ? "blocking" : text_to_cstring(PG_GETARG_TEXT_PP(3));
	check_severity(check.severity);
	description = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));
	params = check_params(fcinfo);
	check.params = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
													  CStringGetDatum(params)));
	check.name = PG_ARGISNULL(2) ? default_check_name(&check) :
		text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (check.name[0] == '\0' || strlen(check.name) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid check name \"%s\"", check.name),
				 errhint("A check name is 1 to %d bytes long.", NAMEDATALEN - 1)));

	try_check(output, &check);

	values[0] = Int64GetDatum(output->id);
	values[1] = CStringGetTextDatum(check.name);
	values[2] = CStringGetTextDatum(check.kind);
	values[3] = CStringGetTextDatum(params);
	values[4] = CStringGetTextDatum(check.severity);
	if (description)
		values[5] = CStringGetTextDatum(description);
	else
		nulls[5] = 'n';
	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("INSERT INTO dataproduct.quality_check"
						 " (output_id, name, kind, params, severity, description)"
						 " VALUES ($1, $2, $3, $4::pg_catalog.jsonb, $5, $6)"
						 " ON CONFLICT (output_id, name) DO NOTHING",
						 6, argtypes, values, nulls, SPI_OK_INSERT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("check \"%s\" of output %s already exists", check.name,
						output->address),
				 errhint("Give the check another name, or drop the existing one with dataproduct.drop_check().")));
	dataproduct_restore_user(&saved);
	result = (text *) SPI_palloc(strlen(check.name) + VARHDRSZ);	/* outlives SPI */
	SET_VARSIZE(result, strlen(check.name) + VARHDRSZ);
	memcpy(VARDATA(result), check.name, strlen(check.name));
	dataproduct_spi_finish();
	PG_RETURN_TEXT_P(result);
}

/*
 * alter_check(output regclass, name text, severity text, description text)
 */
Datum
dataproduct_alter_check(PG_FUNCTION_ARGS)
{
	DpOutput   *output;
	Oid			argtypes[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = "   ";
	DpSavedUser saved;

	dataproduct_refuse_on_standby("change a check");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("output and name must not be null")));
	dataproduct_spi_connect();
	output = dataproduct_get_output(PG_GETARG_OID(0), false);
	dataproduct_check_acts_as(output->owner, "data product", output->product);
	values[0] = Int64GetDatum(find_check(output, text_to_cstring(PG_GETARG_TEXT_PP(1))));
	if (PG_ARGISNULL(2))
		nulls[1] = 'n';
	else
	{
		check_severity(text_to_cstring(PG_GETARG_TEXT_PP(2)));
		values[1] = PG_GETARG_DATUM(2);
	}
	if (PG_ARGISNULL(3))
		nulls[2] = 'n';
	else
		values[2] = PG_GETARG_DATUM(3);
	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("UPDATE dataproduct.quality_check"
						 "   SET severity = COALESCE($2, severity),"
						 "       description = COALESCE($3, description)"
						 " WHERE check_id OPERATOR(pg_catalog.=) $1",
						 3, argtypes, values, nulls, SPI_OK_UPDATE);
	dataproduct_restore_user(&saved);
	dataproduct_spi_finish();
	PG_RETURN_VOID();
}

/*
 * drop_check(output regclass, name text): the check and its history.
 */
Datum
dataproduct_drop_check(PG_FUNCTION_ARGS)
{
	DpOutput   *output;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	DpSavedUser saved;

	dataproduct_refuse_on_standby("drop a check");
	dataproduct_spi_connect();
	output = dataproduct_get_output(PG_GETARG_OID(0), false);
	dataproduct_check_acts_as(output->owner, "data product", output->product);
	values[0] = Int64GetDatum(find_check(output, text_to_cstring(PG_GETARG_TEXT_PP(1))));
	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("DELETE FROM dataproduct.quality_check WHERE check_id OPERATOR(pg_catalog.=) $1",
						 1, argtypes, values, NULL, SPI_OK_DELETE);
	dataproduct_restore_user(&saved);
	dataproduct_spi_finish();
	PG_RETURN_VOID();
}

/*
 * run_checks(target text) RETURNS TABLE (output regclass, check_name text,
 *		severity text, passed boolean, observed text, sample jsonb)
 *
 * Run the checks of a product (all its outputs) or of one output now, at
 * the current snapshot, and record the results.  Nothing is rolled back: a
 * failing blocking check is reported, not enforced.  Anyone who may read an
 * output may check it; the checks themselves run as the product owner.
 */
Datum
dataproduct_run_checks(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *target = text_to_cstring(PG_GETARG_TEXT_PP(0));
	DpProduct  *product;
	List	   *outputs = NIL;
	Snapshot	snap;
	Datum		snapdatum;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	dataproduct_spi_connect();
	product = strchr(target, '.') ? dataproduct_get_product(target, true) : NULL;
	if (product != NULL)
		outputs = dataproduct_product_outputs(product->id);
	else
	{
		List	   *names = stringToQualifiedNameList(target);
		Oid			relid = RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true);
		DpOutput   *output = OidIsValid(relid) ? dataproduct_get_output(relid, true) : NULL;

		if (output == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("\"%s\" is neither a data product nor an output", target),
					 errhint("Products are listed in dataproduct.products, outputs in dataproduct.outputs.")));
		outputs = list_make1(output);
	}

	snap = RegisterSnapshot(GetTransactionSnapshot());
	PushActiveSnapshot(snap);
	snapdatum = DirectFunctionCall1(pg_current_snapshot, (Datum) 0);
	PopActiveSnapshot();
	foreach(lc, outputs)
	{
		DpOutput   *output = lfirst(lc);
		List	   *results = NIL;
		ListCell   *rc;
		int			nestlevel;

		if (pg_class_aclcheck(output->view, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for output %s", output->address),
					 errhint("Checking an output needs SELECT on it.")));
		if (!output_populated(output))
		{
			ereport(NOTICE,
					(errmsg("output %s has not been populated yet; its checks did not run",
							output->address)));
			continue;
		}
		nestlevel = dataproduct_pin_settings(output->timezone, output->datestyle,
											 output->intervalstyle);
		foreach(rc, output_checks(output->id))
			results = lappend(results, run_one(output, lfirst(rc), snap, NULL, (Datum) 0));
		dataproduct_unpin_settings(nestlevel);
		/* a read-only transaction (or a standby) gets the results only */
		if (!XactReadOnly)
			record_results(results, snapdatum, "on demand");
		foreach(rc, results)
		{
			DpCheckResult *r = lfirst(rc);
			Datum		values[6];
			bool		nulls[6] = {false, false, false, false, false, false};

			values[0] = ObjectIdGetDatum(output->view);
			values[1] = CStringGetTextDatum(r->name);
			values[2] = CStringGetTextDatum(r->severity);
			values[3] = BoolGetDatum(r->passed);
			values[4] = CStringGetTextDatum(r->observed ? r->observed : "");
			if (r->sample)
				values[5] = DirectFunctionCall1(jsonb_in, CStringGetDatum(r->sample));
			else
				nulls[5] = true;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	UnregisterSnapshot(snap);
	dataproduct_spi_finish();
	return (Datum) 0;
}

