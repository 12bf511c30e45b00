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
 *	    serialization error rather than apply a batch twice; error out if
 *	    the query now locks rows (a view it reads was redefined);
 *	 2. pin the output's TimeZone, DateStyle and IntervalStyle (those it was
 *	    declared under), and run every statement at S as the product owner,
 *	    in a security-restricted operation;
 *	 3. an incremental output is planned again, as its query and sources
 *	    are now; if they no longer allow incremental maintenance (a source
 *	    got row level security or inheritance children, a view read was
 *	    redefined, a column read through a whole-row reference was retyped),
 *	    it switches to full refresh for good, with a NOTICE, and capture is
 *	    released from sources no incremental output reads any more;
 *	 4. full mode, or an incremental output that must rebuild (first load,
 *	    TRUNCATE or ALTER of a source, restore from a dump, or a batch so
 *	    large that recomputing is cheaper): recompute and apply the
 *	    difference (apply.c);
 *	 5. otherwise: size the batch (batch.c) and apply it (apply.c, with the
 *	    statements of delta.c); a batch that fails to apply is recomputed;
 *	    a history output (history.c) is loaded, reconciled or applied to
 *	    instead, never recomputed, and fails rather than switch to full;
 *	 6. record S (the next batch starts there) and the refresh's history,
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
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/comment.h"
#include "executor/spi.h"
#include "access/xact.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "analyze.h"
#include "apply.h"
#include "batch.h"
#include "capture.h"
#include "catalog.h"
#include "delta.h"
#include "exec.h"
#include "guc.h"
#include "history.h"
#include "plan.h"
#include "progress.h"
#include "quality.h"
#include "refresh.h"

PG_FUNCTION_INFO_V1(dataproduct_assert_populated);

typedef struct RefreshErrorContext
{
	const char *address;
	Oid			owner;
} RefreshErrorContext;

/*
 * The output's cost model (see "Applying or recomputing"): decayed sums over
 * its recent incremental refreshes of x = batch rows and y = milliseconds,
 * and the decayed mean time of its rebuilds.
 */
typedef struct CostModel
{
	bool		present;		/* the catalog has it (not at 0.1.0) */
	double		n,
				sx,
				sy,
				sxx,
				sxy;
	double		rebuild_ms;		/* < 0: no rebuild measured yet */
	int			streak;			/* rebuilds in a row the model chose */
} CostModel;

/* What a refresh needs from the catalog row it locked. */
typedef struct OutputState
{
	bool		populated;
	Datum		snapshot;		/* pg_snapshot, or 0 */
	char	   *origin;
	CostModel	model;
	/* set by the refresh, recorded with it */
	int64		batch_rows;		/* rows of the batch applied, or -1 */
	bool		model_rebuild;	/* the model chose to recompute */
} OutputState;

static void
refresh_error_callback(void *arg)
{
	RefreshErrorContext *ctx = arg;

	errcontext("running the query of output %s as role \"%s\"",
			   ctx->address, GetUserNameFromId(ctx->owner, true));
}

/* Does the catalog keep counters and cost models (any version but 0.1.0)? */
static bool
catalog_has_model(void)
{
	const char *version = dataproduct_extension_version();

	return version == NULL || strcmp(version, "0.1.0") != 0;
}

/* ----------------------------------------------------------------
 * Applying or recomputing
 *
 * A batch is applied when that is expected to be cheaper than recomputing
 * the output, per output and from its own measurements:
 *
 *	 apply(x)   the time of an incremental refresh of a batch of x rows,
 *	            a + b x, fitted by least squares to the output's recent
 *	            incremental refreshes (sums decayed by MODEL_DECAY at each
 *	            one, so the fit follows the data as it grows);
 *	 rebuild    the decayed mean time of its recent rebuilds (the first
 *	            load, into an empty store, does not count: it diffs
 *	            against nothing).
 *
 * With at least MODEL_MIN_SAMPLES (decayed) of batches of different sizes
 * and a rebuild measured, a batch of MODEL_MIN_BATCH rows or more whose
 * predicted apply time exceeds the rebuild time is recomputed instead
 * (smaller batches cost about the fixed time of a refresh: applying them
 * is never worth a recompute, and timing noise does not flip the choice).  A model can only learn from what it
 * chooses, so after MODEL_EXPLORE rebuilds in a row that it chose, the next
 * batch is applied anyway and measured.  Independently of the model,
 * dataproduct.full_refresh_fraction caps the batch (a batch larger than that
 * fraction of the work of a recompute is never applied), which also covers
 * outputs with too few measurements; set to -1 it turns both off (batches
 * are then always applied).  Either way the result is exact: the choice is
 * only about cost.
 * ----------------------------------------------------------------
 */
#define MODEL_DECAY 0.9
#define MODEL_MIN_BATCH 1000
#define MODEL_MIN_SAMPLES 2.5
#define MODEL_EXPLORE 4

/* apply time predicted for a batch of rows, or -1 if the model cannot say */
static double
model_predict(const CostModel *m, double rows)
{
	double		var;
	double		b;
	double		a;

	if (!m->present || m->n < MODEL_MIN_SAMPLES)
		return -1;
	var = m->n * m->sxx - m->sx * m->sx;
	/* batches all of one size tell nothing of the per-row cost */
	if (var <= 1e-9 * m->n * m->sxx)
		return -1;
	b = (m->n * m->sxy - m->sx * m->sy) / var;
	if (b < 0)
		b = 0;					/* a larger batch never costs less */
	a = (m->sy - b * m->sx) / m->n;
	if (a < 0)
		a = 0;
	return a + b * rows;
}

/* Should a batch of rows be recomputed, as the model predicts? */
static bool
model_prefers_rebuild(const CostModel *m, int64 rows)
{
	double		predicted = model_predict(m, (double) rows);

	if (rows < MODEL_MIN_BATCH || predicted < 0 || m->rebuild_ms < 0 ||
		m->streak >= MODEL_EXPLORE)
		return false;
	return predicted > m->rebuild_ms;
}

/* The model after a refresh of the given kind that took ms. */
static void
model_update(CostModel *m, const char *kind, bool first_load, int64 batch_rows,
			 bool model_rebuild, double ms)
{
	if (strcmp(kind, "incremental") == 0 && batch_rows > 0)
	{
		double		x = (double) batch_rows;

		m->n = m->n * MODEL_DECAY + 1;
		m->sx = m->sx * MODEL_DECAY + x;
		m->sy = m->sy * MODEL_DECAY + ms;
		m->sxx = m->sxx * MODEL_DECAY + x * x;
		m->sxy = m->sxy * MODEL_DECAY + x * ms;
		m->streak = 0;
	}
	else if (strcmp(kind, "rebuild") == 0 && !first_load)
	{
		m->rebuild_ms = m->rebuild_ms < 0 ? ms : 0.5 * m->rebuild_ms + 0.5 * ms;
		m->streak = model_rebuild ? m->streak + 1 : 0;
	}
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

	memset(&state, 0, sizeof(state));
	state.model.present = catalog_has_model();
	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec(state.model.present ?
						 "SELECT status = 'ok', snapshot, origin,"
						 "       apply_samples, apply_sum_rows, apply_sum_ms,"
						 "       apply_sum_rows2, apply_sum_rows_ms,"
						 "       coalesce(rebuild_ms, -1), rebuild_streak"
						 "  FROM dataproduct.output WHERE output_id = $1 FOR UPDATE" :
						 "SELECT status = 'ok', snapshot, origin"
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
	if (state.model.present)
	{
		state.model.n = DatumGetFloat8(SPI_getbinval(tuple, desc, 4, &isnull));
		state.model.sx = DatumGetFloat8(SPI_getbinval(tuple, desc, 5, &isnull));
		state.model.sy = DatumGetFloat8(SPI_getbinval(tuple, desc, 6, &isnull));
		state.model.sxx = DatumGetFloat8(SPI_getbinval(tuple, desc, 7, &isnull));
		state.model.sxy = DatumGetFloat8(SPI_getbinval(tuple, desc, 8, &isnull));
		state.model.rebuild_ms = DatumGetFloat8(SPI_getbinval(tuple, desc, 9, &isnull));
		state.model.streak = DatumGetInt32(SPI_getbinval(tuple, desc, 10, &isnull));
	}
	state.batch_rows = -1;
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

/* The address of the output whose store relid is, or NULL. */
static char *
output_of_store(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	DpSavedUser saved;
	char	   *address = NULL;

	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("SELECT d.name || '.' || o.name FROM dataproduct.output o"
						 "  JOIN dataproduct.product p USING (product_id)"
						 "  JOIN dataproduct.domain d USING (domain_id)"
						 " WHERE o.store = $1::pg_catalog.regclass",
						 1, argtypes, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 1)
		address = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	dataproduct_restore_user(&saved);
	return address;
}

/*
 * plan_refresh
 *		The plan of an incrementally maintained output, as its query and its
 *		sources are now.  What was true at declaration may no longer be: a
 *		source got row level security or inheritance children, a view read
 *		was redefined (to read other tables or columns, or to aggregate), a
 *		column read through a whole-row reference was retyped.  The plan
 *		then says the output cannot be maintained incrementally any more,
 *		and why.  Errors out if the owner lost direct rights it needs.
 */
static DpPlan *
plan_refresh(DpOutput *output, List *sources)
{
	DpPlan	   *plan = dataproduct_plan_output(output->query_view, output->store);
	ListCell   *lc;

	foreach(lc, plan->leaves)
	{
		DpLeaf	   *leaf = lfirst(lc);
		Oid			log = InvalidOid;
		ListCell   *lc2;

		foreach(lc2, sources)
			if (((DpSourceBatch *) lfirst(lc2))->relid == leaf->relid)
				log = ((DpSourceBatch *) lfirst(lc2))->log;
		if (!OidIsValid(log))
		{
			char	   *upstream = output_of_store(leaf->relid);

			dataproduct_plan_refuse(plan, upstream ?
									psprintf("reads output %s, whose store was replaced when it switched to full refresh",
											 upstream) :
									psprintf("reads table %s, whose changes were not captured when the output was declared",
											 get_rel_name(leaf->relid)));
			break;
		}
		dataproduct_check_leaf_log(plan, leaf, log);
	}
	dataproduct_check_leaf_privileges(plan, output->owner, true);
	return plan;
}

/*
 * keep_publications
 *		Add the new store qnew to every publication the old store is in, so
 *		that replacing the store does not silently stop its replication.
 *		(Its columns change: subscribers must take the new shape, see the
 *		README.)  SPI connected, as the catalog owner.
 */
static void
keep_publications(Oid old_store, const char *qnew, Snapshot snap)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(old_store)};
	List	   *pubs = NIL;
	ListCell   *lc;
	uint64		i;

	dataproduct_run_at(snap, "SELECT p.pubname::pg_catalog.text FROM pg_catalog.pg_publication_rel pr"
					   "  JOIN pg_catalog.pg_publication p ON p.oid OPERATOR(pg_catalog.=) pr.prpubid"
					   " WHERE pr.prrelid OPERATOR(pg_catalog.=) $1 ORDER BY 1",
					   1, argtypes, values, NULL, SPI_OK_SELECT, false);
	for (i = 0; i < SPI_processed; i++)
		pubs = lappend(pubs, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	foreach(lc, pubs)
		dataproduct_exec_ddl(psprintf("ALTER PUBLICATION %s ADD TABLE %s",
									  quote_identifier(lfirst(lc)), qnew));
}

/*
 * switch_to_full
 *		Turn an incrementally maintained output whose query can no longer be
 *		maintained so into a fully refreshed one, for good: a NOTICE (in a
 *		refresh worker, a LOG line) says why, the catalog row records the
 *		mode and the reason, the store is replaced by one of the query's
 *		shape (the output view is redefined over it: grants, comments and
 *		objects that read it stay) and the pre view goes.  The caller then
 *		refreshes it in full, in the same transaction: readers of the output
 *		wait for it once, as the view is replaced, and see the result.
 *
 * Incremental outputs built on this one read its store in their pre
 * views, so they are switched first, keeping their rows (keep_rows: until
 * their next refresh they show what they showed).  Releasing the capture
 * of sources no incremental output reads any more is the caller's.
 * Runs as the catalog owner, at snap; SPI connected.
 */
static void
switch_to_full(DpOutput *output, const char *reason, Snapshot snap,
			   bool by_worker, bool keep_rows)
{
	Oid			internal = get_namespace_oid("dataproduct_internal", false);
	char	   *store_name = get_rel_name(output->store);
	char	   *new_name = psprintf("output_" INT64_FORMAT "_full", output->id);
	char	   *qnew = quote_qualified_identifier("dataproduct_internal", new_name);
	char	   *qquery = dataproduct_qualified_name(output->query_view);
	char	   *qview = dataproduct_qualified_name(output->view);
	const char *qowner = quote_identifier(GetUserNameFromId(output->owner, false));
	Relation	rel;
	TupleDesc	desc;
	StringInfoData cols;
	Oid			new_store;
	bool		populated;
	bool		isnull;
	List	   *downstream = NIL;
	ListCell   *lc;
	DpOutput	old;
	DpSavedUser saved;
	Oid			argtypes[4] = {INT8OID, TEXTOID, OIDOID, OIDOID};
	Datum		values[4];
	uint64		i;

	ereport(by_worker ? LOG : NOTICE,
			(errmsg("output %s can no longer be maintained incrementally and is refreshed in full from now on",
					output->address),
			 errdetail("Its query %s.", reason),
			 errhint("Without a schedule (alter_output), only dataproduct.refresh() refreshes it now; declare it again to maintain it incrementally once the cause is gone.")));

	dataproduct_become_catalog_owner(&saved);
	values[0] = Int64GetDatum(output->id);
	values[1] = CStringGetTextDatum(psprintf("its query %s", reason));
	values[2] = ObjectIdGetDatum(InvalidOid);
	values[3] = ObjectIdGetDatum(output->store);
	/* locks the row, which a refresh of the output would hold */
	dataproduct_run_at(snap, "UPDATE dataproduct.output SET mode = 'full', mode_reason = $2"
					   " WHERE output_id = $1 RETURNING status = 'ok'",
					   2, argtypes, values, NULL, SPI_OK_UPDATE_RETURNING, false);
	populated = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	dataproduct_run_at(snap, "SELECT DISTINCT os.output_id FROM dataproduct.output_source os"
					   "  JOIN dataproduct.source s USING (source_id)"
					   " WHERE s.relation = $4::pg_catalog.regclass ORDER BY 1",
					   4, argtypes, values, NULL, SPI_OK_SELECT, false);
	for (i = 0; i < SPI_processed; i++)
	{
		int64	   *id = palloc(sizeof(int64));

		*id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
										  SPI_tuptable->tupdesc, 1, &isnull));
		downstream = lappend(downstream, id);
	}
	dataproduct_restore_user(&saved);
	foreach(lc, downstream)
		switch_to_full(dataproduct_get_output_by_id(*(int64 *) lfirst(lc)),
					   psprintf("reads output %s, which is now refreshed in full",
								output->address),
					   snap, by_worker, true);

	/* the query view's columns, as add_output gives a full-mode output */
	rel = relation_open(output->query_view, AccessShareLock);
	desc = RelationGetDescr(rel);
	initStringInfo(&cols);
	for (i = 0; i < (uint64) desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped)
			appendStringInfo(&cols, "%s%s", cols.len > 0 ? ", " : "",
							 quote_identifier(NameStr(TupleDescAttr(desc, i)->attname)));
	relation_close(rel, AccessShareLock);

	dataproduct_become_catalog_owner(&saved);
	dataproduct_exec_ddl(psprintf("CREATE TABLE %s (LIKE %s)", qnew, qquery));
	dataproduct_exec_ddl(psprintf("ALTER TABLE %s REPLICA IDENTITY FULL", qnew));
	dataproduct_exec_ddl(psprintf("ALTER TABLE %s OWNER TO %s", qnew, qowner));
	new_store = get_relname_relid(new_name, internal);
	keep_publications(output->store, qnew, snap);
	if (keep_rows && populated)
	{
		/* the old view may compute the owner's code: read it as the owner */
		DpSavedUser as_owner;

		dataproduct_become_owner(output->owner, &as_owner);
		dataproduct_run_at(snap, psprintf("INSERT INTO %s (%s) SELECT %s FROM %s",
										  qnew, cols.data, cols.data, qview),
						   0, NULL, NULL, NULL, SPI_OK_INSERT, false);
		dataproduct_restore_user(&as_owner);
	}
	/* not loaded yet: reading it stays an error until its first refresh */
	dataproduct_exec_ddl(psprintf("CREATE OR REPLACE VIEW %s WITH (security_barrier) AS SELECT %s FROM %s%s",
								  qview, cols.data, qnew,
								  keep_rows && !populated ?
								  psprintf(" WHERE %s(%s::pg_catalog.regclass)",
										   dataproduct_helper_function("assert_populated"),
										   quote_literal_cstr(qnew)) : ""));

	values[2] = ObjectIdGetDatum(new_store);
	dataproduct_run_at(snap, "UPDATE dataproduct.output SET store = $3, pre_view = NULL"
					   " WHERE output_id = $1",
					   3, argtypes, values, NULL, SPI_OK_UPDATE, false);
	/* its sources, and what outputs built on it captured of it */
	dataproduct_run_at(snap, "DELETE FROM dataproduct.output_source"
					   " WHERE output_id = $1"
					   "    OR source_id IN (SELECT source_id FROM dataproduct.source"
					   "                      WHERE relation = $4::pg_catalog.regclass)",
					   4, argtypes, values, NULL, SPI_OK_DELETE, false);

	memset(&old, 0, sizeof(old));
	old.store = output->store;
	old.pre_view = output->pre_view;
	dataproduct_drop_output_relations(&old, DROP_RESTRICT, PERFORM_DELETION_INTERNAL);
	CommandCounterIncrement();
	dataproduct_exec_ddl(psprintf("ALTER TABLE %s RENAME TO %s", qnew,
								  quote_identifier(store_name)));
	CreateComments(new_store, RelationRelationId, 0,
				   psprintf("pg_dataproduct: rows of output %s", output->address));
	dataproduct_restore_user(&saved);
	CommandCounterIncrement();

	output->store = new_store;
	output->pre_view = InvalidOid;
	output->mode = "full";
}

/* Arguments of rebuild, through dataproduct_in_subtransaction. */
typedef struct RebuildArgs
{
	DpOutput   *output;
	DpPlan	   *plan;
	Snapshot	snap;
	DpApplyResult *res;
} RebuildArgs;

static void
rebuild(void *arg)
{
	RebuildArgs *a = arg;

	dataproduct_full_refresh(a->snap, a->output->store,
							 dataproduct_store_sql(a->plan, dataproduct_qualified_name(a->output->pre_view), false),
							 a->plan, a->res);
}

/*
 * report_loading
 *		Show in pg_stat_activity (query) that a recomputation of an output
 *		runs -- a first load, a rebuild or a full refresh, which may take
 *		long -- as "pg_dataproduct: loading output <address> (<kind>)";
 *		state_change says since when.  Returns the activity shown before
 *		(the caller's statement, or the worker's "refreshing output ..."),
 *		for report_loaded.  The rows read so far are shown by
 *		dataproduct.load_progress (progress.c).
 */
static char *
report_loading(DpOutput *output, const char *kind)
{
	char	   *before = NULL;

	if (MyBEEntry != NULL && MyBEEntry->st_activity_raw != NULL)
		before = pstrdup(MyBEEntry->st_activity_raw);
	pgstat_report_activity(STATE_RUNNING,
						   psprintf("pg_dataproduct: loading output %s (%s)",
									output->address, kind));
	dataproduct_progress_begin(output->id, kind, output->query_view);
	return before;
}

/* Show again what report_loading replaced. */
static void
report_loaded(char *before)
{
	dataproduct_progress_end();
	pgstat_report_activity(STATE_RUNNING, before != NULL ? before : "");
}

/*
 * try_rebuild
 *		Recompute an incrementally maintained output into its keyed store,
 *		as the owner.  A group key value too large for the store's unique
 *		index (btree entries are limited to about a third of a page) would
 *		fail every refresh to come: then nothing is written, *too_large
 *		says why, and false tells the caller to switch the output to full
 *		refresh, whose store has no such index.  Any other error is the
 *		refresh's.
 */
static bool
try_rebuild(DpOutput *output, DpPlan *plan, Snapshot snap,
			DpApplyResult *res, char **too_large, const char *kind)
{
	RebuildArgs a = {output, plan, snap, res};
	DpSavedUser saved;
	ErrorData  *edata;
	char	   *activity = report_loading(output, kind);

	dataproduct_become_owner(output->owner, &saved);
	edata = dataproduct_in_subtransaction(rebuild, &a);
	dataproduct_restore_user(&saved);
	report_loaded(activity);
	if (edata == NULL)
		return true;
	if (edata->sqlerrcode != ERRCODE_PROGRAM_LIMIT_EXCEEDED)
		ReThrowError(edata);
	*too_large = psprintf(plan->expand ?
						  "returns a value too large for its store's index, which keys plain rows by every column (%s)" :
						  "groups by a value too large for its store's index (%s)",
						  edata->message);
	FreeErrorData(edata);
	return false;
}

/*
 * refresh_incremental
 *		Steps 4 and 5 of the file header for an incrementally maintained
 *		output, whose plan plan_refresh made, as the product owner; sets res
 *		and returns the kind of refresh done ("rebuild" or "incremental").
 */
static const char *
refresh_incremental(DpOutput *output, DpPlan *plan, OutputState *state,
					List *sources, Snapshot snap, Datum snapdatum,
					DpApplyResult *res, char **too_large)
{
	DpSavedUser saved;
	bool		rebuild;
	int64		batch_rows = 0;
	const char *kind;
	char	   *origin = dataproduct_origin();
	ListCell   *lc;

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
		else if (!rebuild)
		{
			state->batch_rows = batch_rows;
			if (batch_rows > 0 && dataproduct_full_refresh_fraction >= 0 &&
				model_prefers_rebuild(&state->model, batch_rows))
			{
				rebuild = true;
				state->model_rebuild = true;
				elog(DEBUG1, "refreshing %s: a batch of " INT64_FORMAT " rows is predicted to take %.1f ms, a rebuild %.1f ms",
					 output->address, batch_rows,
					 model_predict(&state->model, (double) batch_rows),
					 state->model.rebuild_ms);
			}
		}
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
		if (!try_rebuild(output, plan, snap, res, too_large,
						 state->populated ? "rebuild" : "first load"))
			return NULL;
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
 * refresh_history
 *		Steps 4 and 5 of the file header for a history output (history.c):
 *		it is loaded or reconciled where another output rebuilds, and never
 *		recomputed because a batch is large.  Returns the kind of refresh.
 */
static const char *
refresh_history(DpOutput *output, DpPlan *plan, OutputState *state,
				List *sources, Snapshot snap, Datum snapdatum,
				TimestampTz started, DpApplyResult *res)
{
	char	   *origin = dataproduct_origin();
	bool		populated = state->populated && state->snapshot != (Datum) 0;
	bool		foreign = strcmp(state->origin ? state->origin : "", origin) != 0;
	const char *kind;

	if (!populated || foreign)
		dataproduct_clear_foreign_logs(snap, sources, origin);
	kind = dataproduct_history_refresh(output, plan, populated, foreign, sources,
									   snap, snapdatum, state->snapshot, started, res);

	/* the first load replaces the guard in the view */
	if (!state->populated)
	{
		DpSavedUser saved;

		dataproduct_become_catalog_owner(&saved);
		dataproduct_run_at(snap, psprintf("CREATE OR REPLACE VIEW %s WITH (security_barrier) AS %s",
										  dataproduct_qualified_name(output->view),
										  dataproduct_history_view_sql(dataproduct_history_plan(plan, output->address),
																	   output->store, false)),
						   0, NULL, NULL, NULL, SPI_OK_UTILITY, false);
		dataproduct_restore_user(&saved);
	}
	return kind;
}

/*
 * record_refresh
 *		Step 6 of the file header: record the refresh in the output's
 *		catalog row (with the snapshot the next batch starts from) and in
 *		its history, as the catalog owner.
 */
static void
record_refresh(DpOutput *output, OutputState *state, Snapshot snap,
			   TimestampTz started, Datum recorded_snapshot, const char *kind,
			   DpApplyResult *res, bool by_worker)
{
	double		elapsed_ms = (double) (GetCurrentTimestamp() - started) / 1000.0;
	Oid			argtypes[15] = {INT8OID, TIMESTAMPTZOID, FLOAT8OID, INT8OID,
		INT8OID, PG_SNAPSHOTOID, TEXTOID, TEXTOID,
		FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, INT4OID};
	Datum		values[15];
	char		nulls[16] = "               ";
	CostModel  *m = &state->model;
	Oid			htypes[6] = {INT8OID, TIMESTAMPTZOID, TEXTOID, INT8OID, INT8OID, BOOLOID};
	Datum		hvalues[6];
	DpSavedUser saved;
	bool		counted;

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

	model_update(m, kind, !state->populated, state->batch_rows,
				 state->model_rebuild, elapsed_ms);
	values[8] = Float8GetDatum(m->n);
	values[9] = Float8GetDatum(m->sx);
	values[10] = Float8GetDatum(m->sy);
	values[11] = Float8GetDatum(m->sxx);
	values[12] = Float8GetDatum(m->sxy);
	values[13] = Float8GetDatum(m->rebuild_ms);
	if (m->rebuild_ms < 0)
		nulls[13] = 'n';
	values[14] = Int32GetDatum(m->streak);

	dataproduct_become_catalog_owner(&saved);
	/* a catalog at 0.1.0 (refreshed by hand until updated) has no counters */
	counted = m->present;
	dataproduct_run_at(snap, counted ?
					   "UPDATE dataproduct.output"
					   "   SET status = 'ok', last_refresh = $2, refresh_ms = $3,"
					   "       rows_changed = $4, row_count = $5, snapshot = $6, origin = $7,"
					   "       last_refresh_kind = $8, failures = 0, last_error = NULL,"
					   "       next_retry = NULL,"
					   "       incremental_refreshes = incremental_refreshes"
					   "         OPERATOR(pg_catalog.+) ($8 OPERATOR(pg_catalog.=) 'incremental')::pg_catalog.int4,"
					   "       rebuilds = rebuilds"
					   "         OPERATOR(pg_catalog.+) ($8 OPERATOR(pg_catalog.=) 'rebuild')::pg_catalog.int4,"
					   "       full_refreshes = full_refreshes"
					   "         OPERATOR(pg_catalog.+) ($8 OPERATOR(pg_catalog.=) 'full')::pg_catalog.int4,"
					   "       rows_changed_total = rows_changed_total OPERATOR(pg_catalog.+) $4,"
					   "       refresh_ms_total = refresh_ms_total OPERATOR(pg_catalog.+) $3,"
					   "       apply_samples = $9, apply_sum_rows = $10, apply_sum_ms = $11,"
					   "       apply_sum_rows2 = $12, apply_sum_rows_ms = $13,"
					   "       rebuild_ms = $14, rebuild_streak = $15"
					   " WHERE output_id OPERATOR(pg_catalog.=) $1" :
					   "UPDATE dataproduct.output"
					   "   SET status = 'ok', last_refresh = $2, refresh_ms = $3,"
					   "       rows_changed = $4, row_count = $5, snapshot = $6, origin = $7,"
					   "       last_refresh_kind = $8, failures = 0, last_error = NULL,"
					   "       next_retry = NULL"
					   " WHERE output_id OPERATOR(pg_catalog.=) $1",
					   counted ? 15 : 8, argtypes, values, nulls, SPI_OK_UPDATE, true);
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
	DpPlan	   *plan = NULL;
	const char *kind = "full";

	state = lock_output(output);
	LockRelationOid(output->store, ExclusiveLock);
	/* a view the query reads may have been redefined to lock rows */
	dataproduct_check_row_locks(output->query_view, output->address);

	nestlevel = dataproduct_pin_settings(output->timezone, output->datestyle,
										 output->intervalstyle);

	snap = RegisterSnapshot(GetTransactionSnapshot());
	PushActiveSnapshot(snap);
	snapdatum = DirectFunctionCall1(pg_current_snapshot, (Datum) 0);
	if (incremental)
	{
		sources = dataproduct_output_sources(output->id);
		dataproduct_refuse_own_changes(snap, sources, output->address);
		plan = plan_refresh(output, sources);
		if (!plan->incremental && output->history)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("history output %s can no longer be kept from the change stream",
							output->address),
					 errdetail("Its query %s.", plan->reason),
					 errhint("A history output never switches to full refresh, which would lose its history; remove the cause, or copy its view and declare it again.")));
		if (!plan->incremental)
		{
			switch_to_full(output, plan->reason, snap, by_worker, false);
			dataproduct_release_sources();
			incremental = false;
		}
	}

	ctx.address = output->address;
	ctx.owner = output->owner;
	errcallback.callback = refresh_error_callback;
	errcallback.arg = &ctx;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	started = GetCurrentTimestamp();
	if (incremental && output->history)
		kind = refresh_history(output, plan, &state, sources, snap, snapdatum,
							   started, &res);
	else if (incremental)
	{
		char	   *too_large = NULL;

		kind = refresh_incremental(output, plan, &state, sources, snap,
								   snapdatum, &res, &too_large);
		if (kind == NULL)
		{
			/* ordinary data the store cannot key: refreshed in full from now */
			switch_to_full(output, too_large, snap, by_worker, false);
			dataproduct_release_sources();
			incremental = false;
			kind = "full";
		}
	}
	if (!incremental)
	{
		char	   *activity = report_loading(output, "full refresh");

		dataproduct_become_owner(output->owner, &saved);
		dataproduct_full_refresh(snap, output->store,
								 psprintf("SELECT * FROM %s", dataproduct_qualified_name(output->query_view)),
								 NULL, &res);
		dataproduct_restore_user(&saved);
		report_loaded(activity);
	}
	error_context_stack = errcallback.previous;

	recorded = dataproduct_snapshot_to_record(snapdatum);
	record_refresh(output, &state, snap, started, recorded, kind, &res, by_worker);

	/* certify the new contents; a failing blocking check rolls it all back */
	dataproduct_checks_after_refresh(output, snap, recorded,
									 strcmp(kind, "incremental") == 0 && !output->history,
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
	if (address == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 get_rel_name(store) != NULL ?
				 errmsg("relation %s is not the store of an output",
						dataproduct_qualified_name(store)) :
				 errmsg("relation with OID %u is not the store of an output", store),
				 errhint("dataproduct_internal.assert_populated() guards the views of outputs before their first refresh; it is not meant to be called directly.")));
	if (!populated)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("output %s has not been populated yet", address),
				 errhint("It is populated by its first refresh: SELECT dataproduct.refresh('%s').",
						 address)));
	dataproduct_spi_finish();
	PG_RETURN_BOOL(true);
}
