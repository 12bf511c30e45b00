/*-------------------------------------------------------------------------
 *
 * refresh.c
 *	  The conductor of one refresh: bringing an output's store up to date
 *	  with its query.
 *
 * After a refresh commits, the output's store equals its query evaluated
 * at the refresh's snapshot S, exactly (multiset equality).  A refresh runs
 * inside the caller's transaction -- dataproduct.refresh() (declare.c) or a
 * refresh worker (worker.c) -- in this order:
 *
 *	 1. lock the output's catalog row (FOR UPDATE) and its store
 *	    (ExclusiveLock: other refreshes wait, readers never do), then take S;
 *	    under REPEATABLE READ a concurrent refresh makes this fail with a
 *	    serialization error rather than apply a batch twice;
 *	 2. pin the output's TimeZone, DateStyle and IntervalStyle (those it was
 *	    declared under), and run every statement at S as the product owner,
 *	    in a security-restricted operation;
 *	 3. full mode, or an incremental output that must rebuild (first load,
 *	    TRUNCATE or ALTER of a source, restore from a dump, or a batch so
 *	    large that recomputing is cheaper): recompute and apply the
 *	    difference (apply.c);
 *	 4. otherwise: size the batch (batch.c) and apply it (apply.c, with the
 *	    statements of delta.c); a batch that fails to apply is recomputed;
 *	 5. record S (the next batch starts there) and the refresh's history,
 *	    run the output's quality checks (quality.c; a failing blocking check
 *	    rolls everything back), and trim the change logs (batch.c).
 *
 * IDENTIFICATION
 *	  src/refresh.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "apply.h"
#include "batch.h"
#include "catalog.h"
#include "delta.h"
#include "exec.h"
#include "guc.h"
#include "quality.h"
#include "refresh.h"

PG_FUNCTION_INFO_V1(dataproduct_assert_populated);

typedef struct RefreshErrorContext
{
	const char *address;
	Oid			owner;
} RefreshErrorContext;

/* What a refresh needs from the catalog row it locked. */
typedef struct OutputState
{
	bool		populated;
	Datum		snapshot;		/* pg_snapshot, or 0 */
	char	   *origin;
} OutputState;

static void
refresh_error_callback(void *arg)
{
	RefreshErrorContext *ctx = arg;

	errcontext("running the query of output %s as role \"%s\"",
			   ctx->address, GetUserNameFromId(ctx->owner, true));
}

/*
 * lock_output
 *		Lock the output's catalog row until commit and read its state.
 *		Errors out if the output was dropped concurrently.
 */
static OutputState
lock_output(DpOutput *output)
{
	OutputState state;
	DpSavedUser saved;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(output->id)};
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;

	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("SELECT status = 'ok', snapshot, origin"
						 "  FROM dataproduct.output WHERE output_id = $1 FOR UPDATE",
						 1, argtypes, values, NULL, SPI_OK_SELECT);
	dataproduct_restore_user(&saved);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("output %s was dropped concurrently", output->address)));
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	state.populated = DatumGetBool(SPI_getbinval(tuple, desc, 1, &isnull));
	state.snapshot = SPI_getbinval(tuple, desc, 2, &isnull);
	if (isnull)
		state.snapshot = (Datum) 0;
	state.origin = SPI_getvalue(tuple, desc, 3);
	return state;
}

/* Rows of a store, as the planner estimates them. */
static double
store_rows(Oid store)
{
	Relation	rel = relation_open(store, AccessShareLock);
	double		rows = rel->rd_rel->reltuples > 0 ? rel->rd_rel->reltuples : 0;

	relation_close(rel, AccessShareLock);
	return rows;
}

/*
 * refresh_incremental
 *		Steps 3 and 4 of the file header for an incrementally maintained
 *		output, as the product owner; sets res and returns the kind of
 *		refresh done ("rebuild" or "incremental").
 */
static const char *
refresh_incremental(DpOutput *output, OutputState *state, List *sources,
					Snapshot snap, Datum snapdatum, DpApplyResult *res)
{
	DpPlan	   *plan;
	DpSavedUser saved;
	bool		rebuild;
	int64		batch_rows = 0;
	const char *kind;
	char	   *origin = dataproduct_origin();
	ListCell   *lc;

	plan = dataproduct_plan_output(output->query_view);
	dataproduct_check_leaf_privileges(plan, output->owner, true);
	if (!plan->incremental)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("output %s can no longer be maintained incrementally", output->address),
				 errdetail("Its query %s.", plan->reason)));

	rebuild = !state->populated || state->snapshot == (Datum) 0 ||
		strcmp(state->origin ? state->origin : "", origin) != 0;
	if (rebuild)
		dataproduct_clear_foreign_logs(snap, sources, origin);
	else
	{
		/*
		 * Recompute when that is cheaper: applying costs in proportion to
		 * the batch; recomputing, to the sources' rows plus ten times the
		 * store's (grouping and comparing each group is worth about ten
		 * source rows).  The fraction weighs the two; bench/refresh.sh
		 * measures both.  Counting stops once the batch is known to be too
		 * large.
		 */
		int64		cap = -1;

		if (dataproduct_full_refresh_fraction >= 0)
		{
			double		recompute = dataproduct_source_rows(sources) +
				10.0 * store_rows(output->store);

			if (recompute > 0)
				cap = (int64) (dataproduct_full_refresh_fraction * recompute) + 1;
		}
		dataproduct_batch_sizes(snap, sources, snapdatum, state->snapshot, cap);
		foreach(lc, sources)
		{
			DpSourceBatch *sb = lfirst(lc);

			batch_rows += sb->rows;
			rebuild |= sb->marker;
		}
		if (cap >= 0 && batch_rows >= cap)
			rebuild = true;
	}

	kind = rebuild ? "rebuild" : "incremental";
	elog(DEBUG1, "refreshing %s: %s, batch of " INT64_FORMAT " rows",
		 output->address, kind, batch_rows);
	if (!rebuild)
	{
		List	   *changed_leaves = NIL;
		Oid		   *logs = palloc0(sizeof(Oid) * list_length(plan->leaves));
		Oid			argtypes[1] = {INT8OID};
		Datum		values[1] = {Int64GetDatum(output->id)};

		dataproduct_become_catalog_owner(&saved);
		dataproduct_run_at(snap, "SELECT row_count FROM dataproduct.output"
						   " WHERE output_id OPERATOR(pg_catalog.=) $1",
						   1, argtypes, values, NULL, SPI_OK_SELECT, true);
		dataproduct_restore_user(&saved);
		res->changed = 0;
		res->row_count = dataproduct_result_int8(1);
		res->written = (Datum) 0;
		foreach(lc, plan->leaves)
		{
			DpSourceBatch *sb = dataproduct_find_source(sources, ((DpLeaf *) lfirst(lc))->relid);

			logs[foreach_current_index(lc)] = sb->log;
			if (sb->rows > 0)
				changed_leaves = lappend_int(changed_leaves, foreach_current_index(lc));
		}
		if (changed_leaves != NIL)
		{
			/* the batches are read by the extension, their delta by the owner */
			List	   *batches = dataproduct_load_batches(plan, changed_leaves, logs,
														   snapdatum, state->snapshot);

			dataproduct_become_owner(output->owner, &saved);
			if (!dataproduct_try_apply_batch(snap, plan, output, changed_leaves, logs,
											 snapdatum, state->snapshot, res))
				rebuild = true;
			dataproduct_restore_user(&saved);
			dataproduct_unload_batches(batches);
		}
	}
	if (rebuild)
	{
		kind = "rebuild";
		dataproduct_become_owner(output->owner, &saved);
		dataproduct_full_refresh(snap, output->store,
								 dataproduct_store_sql(plan, dataproduct_qualified_name(output->pre_view), false),
								 res);
		dataproduct_restore_user(&saved);
	}

	/* the first load replaces the guard in the view */
	if (!state->populated)
	{
		dataproduct_become_catalog_owner(&saved);
		dataproduct_run_at(snap, psprintf("CREATE OR REPLACE VIEW %s WITH (security_barrier) AS %s",
										  dataproduct_qualified_name(output->view),
										  dataproduct_view_sql(plan, output->store, false)),
						   0, NULL, NULL, NULL, SPI_OK_UTILITY, false);
		dataproduct_restore_user(&saved);
	}
	return kind;
}

/*
 * record_refresh
 *		Step 5 of the file header: record the refresh in the output's
 *		catalog row (with the snapshot the next batch starts from) and in
 *		its history, as the catalog owner.
 */
static void
record_refresh(DpOutput *output, Snapshot snap, TimestampTz started,
			   Datum recorded_snapshot, const char *kind,
			   DpApplyResult *res, bool by_worker)
{
	double		elapsed_ms = (double) (GetCurrentTimestamp() - started) / 1000.0;
	Oid			argtypes[8] = {INT8OID, TIMESTAMPTZOID, FLOAT8OID, INT8OID,
	INT8OID, PG_SNAPSHOTOID, TEXTOID, TEXTOID};
	Datum		values[8];
	Oid			htypes[6] = {INT8OID, TIMESTAMPTZOID, TEXTOID, INT8OID, INT8OID, BOOLOID};
	Datum		hvalues[6];
	DpSavedUser saved;

	values[0] = Int64GetDatum(output->id);
	values[1] = TimestampTzGetDatum(started);
	values[2] = Float8GetDatum(elapsed_ms);
	values[3] = Int64GetDatum(res->changed);
	values[4] = Int64GetDatum(res->row_count);
	values[5] = recorded_snapshot;
	values[6] = CStringGetTextDatum(dataproduct_origin());
	values[7] = CStringGetTextDatum(kind);
	hvalues[0] = values[0];
	hvalues[1] = values[1];
	hvalues[2] = values[7];
	hvalues[3] = values[3];
	hvalues[4] = values[4];
	hvalues[5] = BoolGetDatum(by_worker);

	dataproduct_become_catalog_owner(&saved);
	dataproduct_run_at(snap, "UPDATE dataproduct.output"
					   "   SET status = 'ok', last_refresh = $2, refresh_ms = $3,"
					   "       rows_changed = $4, row_count = $5, snapshot = $6, origin = $7,"
					   "       last_refresh_kind = $8, failures = 0, last_error = NULL,"
					   "       next_retry = NULL"
					   " WHERE output_id = $1",
					   8, argtypes, values, NULL, SPI_OK_UPDATE, true);
	dataproduct_run_at(snap, "INSERT INTO dataproduct.refresh_history"
					   " (output_id, started_at, finished_at, kind, rows_changed, row_count, by_worker)"
					   " VALUES ($1, $2, pg_catalog.clock_timestamp(), $3, $4, $5, $6)",
					   6, htypes, hvalues, NULL, SPI_OK_INSERT, true);
	dataproduct_restore_user(&saved);
}

/*
 * dataproduct_refresh_output
 *		Make the output's store equal to its query at a new snapshot, record
 *		the refresh in the catalog (by_worker: a refresh worker runs it) and
 *		return the number of store rows changed.  SPI must be connected with
 *		search_path pinned.  Errors out if the owner cannot run the query or
 *		a blocking check fails; the caller's transaction then rolls back.
 */
int64
dataproduct_refresh_output(DpOutput *output, bool by_worker)
{
	RefreshErrorContext ctx;
	ErrorContextCallback errcallback;
	DpSavedUser saved;
	OutputState state;
	DpApplyResult res = {0, 0, (Datum) 0};
	TimestampTz started;
	Snapshot	snap;
	Datum		snapdatum;
	Datum		recorded;
	int			nestlevel;
	bool		incremental = (strcmp(output->mode, "incremental") == 0);
	List	   *sources = NIL;
	const char *kind = "full";

	state = lock_output(output);
	LockRelationOid(output->store, ExclusiveLock);

	nestlevel = dataproduct_pin_settings(output->timezone, output->datestyle,
										 output->intervalstyle);

	snap = RegisterSnapshot(GetTransactionSnapshot());
	PushActiveSnapshot(snap);
	snapdatum = DirectFunctionCall1(pg_current_snapshot, (Datum) 0);
	if (incremental)
	{
		sources = dataproduct_output_sources(output->id);
		dataproduct_refuse_own_changes(snap, sources, output->address);
	}

	ctx.address = output->address;
	ctx.owner = output->owner;
	errcallback.callback = refresh_error_callback;
	errcallback.arg = &ctx;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	started = GetCurrentTimestamp();
	if (incremental)
		kind = refresh_incremental(output, &state, sources, snap, snapdatum, &res);
	else
	{
		dataproduct_become_owner(output->owner, &saved);
		dataproduct_full_refresh(snap, output->store,
								 psprintf("SELECT * FROM %s", dataproduct_qualified_name(output->query_view)),
								 &res);
		dataproduct_restore_user(&saved);
	}
	error_context_stack = errcallback.previous;

	recorded = dataproduct_snapshot_to_record(snapdatum);
	record_refresh(output, snap, started, recorded, kind, &res, by_worker);

	/* certify the new contents; a failing blocking check rolls it all back */
	dataproduct_checks_after_refresh(output, snap, recorded,
									 strcmp(kind, "incremental") == 0,
									 res.written);

	if (incremental)
		dataproduct_trim_logs(snap, sources);

	PopActiveSnapshot();
	UnregisterSnapshot(snap);
	dataproduct_unpin_settings(nestlevel);
	return res.changed;
}

/*
 * dataproduct_check_owner_can_read
 *		Error out unless owner may run the output's query, checked by
 *		starting it (permissions are checked at executor start) as that role
 *		without fetching a row.
 */
void
dataproduct_check_owner_can_read(DpOutput *output, Oid owner)
{
	RefreshErrorContext ctx;
	ErrorContextCallback errcallback;
	DpSavedUser saved;

	ctx.address = output->address;
	ctx.owner = owner;
	errcallback.callback = refresh_error_callback;
	errcallback.arg = &ctx;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	dataproduct_become_owner(owner, &saved);
	dataproduct_spi_exec(psprintf("SELECT FROM %s LIMIT 0",
								  dataproduct_qualified_name(output->query_view)),
						 0, NULL, NULL, NULL, SPI_OK_SELECT);
	dataproduct_restore_user(&saved);

	error_context_stack = errcallback.previous;
}

/*
 * assert_populated(store regclass) returns boolean
 *
 * The guard in the view of an incrementally maintained output until its
 * first refresh: reading it raises an error instead of showing no rows.
 */
Datum
dataproduct_assert_populated(PG_FUNCTION_ARGS)
{
	Oid			store = PG_GETARG_OID(0);
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(store)};
	char	   *address = NULL;
	bool		populated = false;
	DpSavedUser saved;

	dataproduct_spi_connect();
	/* readers of the view cannot read the catalog tables */
	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("SELECT d.name || '.' || o.name, o.status = 'ok'"
						 "  FROM dataproduct.output o"
						 "  JOIN dataproduct.product p USING (product_id)"
						 "  JOIN dataproduct.domain d USING (domain_id)"
						 " WHERE o.store = $1::pg_catalog.regclass",
						 1, argtypes, values, NULL, SPI_OK_SELECT);
	dataproduct_restore_user(&saved);
	if (SPI_processed == 1)
	{
		bool		isnull;

		address = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		populated = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 2, &isnull));
	}
	if (!populated)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("output %s has not been populated yet",
						address ? address : get_rel_name(store)),
				 errhint("It is populated by its first refresh: SELECT dataproduct.refresh('%s').",
						 address ? address : get_rel_name(store))));
	dataproduct_spi_finish();
	PG_RETURN_BOOL(true);
}
