/*-------------------------------------------------------------------------
 *
 * apply.c
 *	  Writing a store: applying a batch's delta, or recomputing and
 *	  applying the difference.
 *
 * The fourth step of the data flow (after capture.c, batch.c and the
 * statements delta.c generates).  Everything here runs as the product
 * owner, at the refresh's snapshot, inside the refresh's transaction, and
 * reports what it wrote in a DpApplyResult.
 *
 * Applying a batch: the delta query (delta.c) runs into a tuplestore
 * exposed as the ephemeral relation __dp_delta (memory stays bounded: it
 * spills past work_mem); it is merged into the store per group (INSERT ...
 * ON CONFLICT); groups needing recomputation (min/max that lost rows,
 * other aggregates) are zeroed and recomputed from the sources at the
 * snapshot; groups left with no rows go.  The ctids of the rows written
 * are returned for the checks that look only at those (quality.c).  A
 * batch that fails to apply is not an error of the refresh: it is rolled
 * back and the caller recomputes instead (dataproduct_try_apply_batch).
 *
 * Recomputing, the multiset difference: store rows and query rows are
 * numbered within groups of identical rows (one sort); in a group with o
 * store rows and n query rows, store rows numbered above n are deleted and,
 * when n > o, n - o query rows inserted.  "Identical" means identity, not
 * equality: integers, dates, timestamps, booleans, uuids and enums compare
 * as they are, text in the "C" collation, anything else by its text form,
 * so 1.0 -> 1.00 is a change and json (no equality) works.
 *
 * IDENTIFICATION
 *	  src/apply.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tstoreReceiver.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "tcop/dest.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/plancache.h"
#include "utils/queryenvironment.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "apply.h"
#include "exec.h"

/* ----------------------------------------------------------------
 * Recomputing
 * ----------------------------------------------------------------
 */

/*
 * diff_key
 *		The expression that groups a store column by identity; see the file
 *		header.  col is already quoted.
 */
static char *
diff_key(const char *col, Oid type)
{
	Oid			base = getBaseType(type);

	switch (base)
	{
		case BOOLOID:
		case CHAROID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
		case DATEOID:
		case TIMEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case UUIDOID:
			return pstrdup(col);
		case TEXTOID:
		case VARCHAROID:
			return psprintf("%s COLLATE pg_catalog.\"C\"", col);
		default:
			if (type_is_enum(base))
				return pstrdup(col);
			return psprintf("(%s)::pg_catalog.text COLLATE pg_catalog.\"C\"", col);
	}
}

/*
 * full_refresh_sql
 *		The statement that turns the store into the result of target (a
 *		SELECT producing the store's columns in order); it returns
 *		(rows deleted, rows inserted).
 */
static char *
full_refresh_sql(Oid store, const char *target)
{
	Relation	rel = relation_open(store, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	StringInfoData cols;
	StringInfoData keys;
	StringInfoData sql;
	char	   *qstore = dataproduct_qualified_name(store);
	int			i;

	initStringInfo(&cols);
	initStringInfo(&keys);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const char *col;

		if (att->attisdropped)
			continue;
		col = quote_identifier(NameStr(att->attname));
		appendStringInfo(&cols, "%s%s", cols.len > 0 ? ", " : "", col);
		appendStringInfo(&keys, "%s%s", keys.len > 0 ? ", " : "",
						 diff_key(col, att->atttypid));
	}
	relation_close(rel, AccessShareLock);

	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "WITH __dp_u AS ("
					 "  SELECT s.ctid AS __dp_tid, 1 AS __dp_old, 0 AS __dp_new, %s FROM %s s"
					 "  UNION ALL"
					 "  SELECT NULL::pg_catalog.tid, 0, 1, %s FROM (%s) q(%s)),"
					 " __dp_w AS ("
					 "  SELECT __dp_tid, %s,"
					 "         pg_catalog.row_number() OVER w AS __dp_rn,"
					 "         pg_catalog.sum(__dp_old) OVER w AS __dp_olds,"
					 "         pg_catalog.sum(__dp_new) OVER w AS __dp_news"
					 "    FROM __dp_u"
					 "  WINDOW w AS (PARTITION BY %s ORDER BY __dp_old DESC"
					 "               ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)),"
					 " __dp_chg AS MATERIALIZED ("
					 "  SELECT * FROM __dp_w"
					 "   WHERE (__dp_tid IS NOT NULL AND __dp_rn > __dp_news)"
					 "      OR (__dp_tid IS NULL AND __dp_rn > 2 * __dp_olds)),"
					 " __dp_del AS ("
					 "  DELETE FROM %s WHERE ctid = ANY (ARRAY("
					 "    SELECT __dp_tid FROM __dp_chg WHERE __dp_tid IS NOT NULL))"
					 "  RETURNING 1),"
					 " __dp_ins AS ("
					 "  INSERT INTO %s (%s) SELECT %s FROM __dp_chg WHERE __dp_tid IS NULL"
					 "  RETURNING 1)"
					 " SELECT (SELECT pg_catalog.count(*) FROM __dp_del),"
					 "        (SELECT pg_catalog.count(*) FROM __dp_ins)",
					 cols.data, qstore,
					 cols.data, target, cols.data,
					 cols.data,
					 keys.data,
					 qstore,
					 qstore, cols.data, cols.data);
	return sql.data;
}

/*
 * dataproduct_full_refresh
 *		Make the store equal to target (a SELECT producing the store's
 *		columns in order) at snap, changing only the rows that differ.
 *		Sets res: rows deleted plus rows inserted, the store's new row count,
 *		and no written rows (the whole store is to be checked).
 */
void
dataproduct_full_refresh(Snapshot snap, Oid store, const char *target,
						 DpApplyResult *res)
{
	dataproduct_run_at(snap, full_refresh_sql(store, target), 0, NULL, NULL,
					   NULL, SPI_OK_SELECT, true);
	res->changed = dataproduct_result_int8(1) + dataproduct_result_int8(2);
	dataproduct_run_at(snap, psprintf("SELECT pg_catalog.count(*) FROM %s",
									  dataproduct_qualified_name(store)),
					   0, NULL, NULL, NULL, SPI_OK_SELECT, true);
	res->row_count = dataproduct_result_int8(1);
	res->written = (Datum) 0;
}

/* ----------------------------------------------------------------
 * Applying a batch
 * ----------------------------------------------------------------
 */

/*
 * run_into_enr
 *		Run a statement taking the snapshots $1 and $2 at the active snapshot
 *		into a tuplestore and register it as the ephemeral relation name.
 *		Returns the tuplestore, which the caller ends after unregistering
 *		it.  Memory stays bounded: the tuplestore spills to disk past
 *		work_mem.
 */
static Tuplestorestate *
run_into_enr(const char *sql, const char *name, Datum snap, Datum old_snap)
{
	Oid			argtypes[2] = {PG_SNAPSHOTOID, PG_SNAPSHOTOID};
	SPIPlanPtr	plan = dataproduct_prepare_cached(sql, 2, argtypes);
	Tuplestorestate *store = tuplestore_begin_heap(false, false, work_mem);
	DestReceiver *dest = CreateDestReceiver(DestTuplestore);
	ParamListInfo params = makeParamList(2);
	SPIExecuteOptions options;
	EphemeralNamedRelation enr;
	CachedPlanSource *source;
	int			rc;

	SetTuplestoreDestReceiverParams(dest, store, CurrentMemoryContext,
									false, NULL, NULL);
	params->params[0].value = snap;
	params->params[0].isnull = false;
	params->params[0].ptype = PG_SNAPSHOTOID;
	params->params[0].pflags = PARAM_FLAG_CONST;
	params->params[1].value = old_snap;
	params->params[1].isnull = false;
	params->params[1].ptype = PG_SNAPSHOTOID;
	params->params[1].pflags = PARAM_FLAG_CONST;

	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = true;
	options.dest = dest;
	rc = SPI_execute_plan_extended(plan, &options);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "unexpected SPI result %s for \"%s\"",
			 SPI_result_code_string(rc), sql);
	dest->rDestroy(dest);

	source = linitial(SPI_plan_get_plan_sources(plan));
	enr = palloc0(sizeof(EphemeralNamedRelationData));
	enr->md.name = pstrdup(name);
	enr->md.reliddesc = InvalidOid;
	enr->md.tupdesc = CreateTupleDescCopy(source->resultDesc);
	enr->md.enrtype = ENR_NAMED_TUPLESTORE;
	enr->md.enrtuples = tuplestore_tuple_count(store);
	enr->reldata = store;
	if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER)
		elog(ERROR, "could not register ephemeral relation \"%s\"", name);
	return store;
}

/* A batch read into an ephemeral relation. */
typedef struct LoadedBatch
{
	Oid			log;
	char	   *name;
	Tuplestorestate *store;
} LoadedBatch;

/*
 * dataproduct_load_batches
 *		Read the batches of the changed leaves' change logs (logs[i] is leaf
 *		i's) between old_snap and snapdatum into ephemeral relations that
 *		the delta query reads (see dataproduct_batch_sql).  They are read as
 *		the catalog owner: owners of products have no rights on the logs,
 *		which hold the captured columns of every output of the source.
 *		Returns what to pass to dataproduct_unload_batches.  SPI connected,
 *		the refresh snapshot active.
 */
List *
dataproduct_load_batches(DpPlan *plan, List *changed_leaves, Oid *logs,
						 Datum snapdatum, Datum old_snap)
{
	List	   *loaded = NIL;
	List	   *seen = NIL;
	ListCell   *lc;
	DpSavedUser saved;

	dataproduct_become_catalog_owner(&saved);
	foreach(lc, changed_leaves)
	{
		int			leaf = lfirst_int(lc);
		Oid			log = logs[leaf];
		Oid			relid;
		Bitmapset  *attnos = NULL;
		ListCell   *lc2;
		LoadedBatch *b;

		if (list_member_oid(seen, log))
			continue;
		seen = lappend_oid(seen, log);
		relid = ((DpLeaf *) list_nth(plan->leaves, leaf))->relid;
		/* the columns every leaf reading the relation needs (self-joins) */
		foreach(lc2, plan->leaves)
			if (((DpLeaf *) lfirst(lc2))->relid == relid)
				attnos = bms_union(attnos, ((DpLeaf *) lfirst(lc2))->attnos);
		b = palloc(sizeof(LoadedBatch));
		b->log = log;
		b->name = dataproduct_batch_name(log);
		b->store = run_into_enr(dataproduct_batch_sql(relid, log, attnos),
								b->name, snapdatum, old_snap);
		loaded = lappend(loaded, b);
	}
	dataproduct_restore_user(&saved);
	return loaded;
}

/*
 * dataproduct_unload_batches
 *		Unregister and free the batches dataproduct_load_batches read.
 */
void
dataproduct_unload_batches(List *loaded)
{
	ListCell   *lc;

	foreach(lc, loaded)
	{
		LoadedBatch *b = lfirst(lc);

		(void) SPI_unregister_relation(b->name);
		tuplestore_end(b->store);
	}
}

/*
 * add_written
 *		Add the tid[] in column col of the statement just run to the rows the
 *		batch wrote (res->written).  A row written twice keeps its last
 *		version's ctid; earlier versions are no longer visible.
 */
static void
add_written(DpApplyResult *res, int col)
{
	bool		isnull;
	Datum		tids = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col,
									 &isnull);
	Oid			argtypes[2] = {TIDARRAYOID, TIDARRAYOID};
	Datum		values[2];

	if (isnull)
		return;
	if (res->written == (Datum) 0)
	{
		res->written = datumCopy(tids, false, -1);
		return;
	}
	values[0] = res->written;
	values[1] = tids;
	dataproduct_spi_exec("SELECT $1 OPERATOR(pg_catalog.||) $2", 2, argtypes, values, NULL,
						 SPI_OK_SELECT);
	res->written = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										   &isnull), false, -1);
}

/*
 * merge_delta
 *		Merge the registered delta into the store (see the file header),
 *		adding to res what it wrote.
 */
static void
merge_delta(Snapshot snap, DpPlan *plan, const char *qstore, const char *qpre,
			DpApplyResult *res)
{
	if (!plan->has_other)
	{
		bool		isnull;
		Datum		emptied;

		/*
		 * Groups whose count reaches zero go; their row ids come back from
		 * the merge so that no index on the count (which would make every
		 * update of a group non-HOT) is needed to find them.
		 */
		dataproduct_run_at(snap, psprintf("WITH u AS (%s RETURNING ctid AS tid, __dp_count AS n, (xmax = 0) AS inserted)"
										  " SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE inserted),"
										  "        pg_catalog.array_agg(tid) FILTER (WHERE n <= 0),"
										  "        pg_catalog.array_agg(tid) FILTER (WHERE n > 0) FROM u",
										  dataproduct_upsert_sql(plan, qstore)),
						   0, NULL, NULL, NULL, SPI_OK_SELECT, false);
		res->changed += dataproduct_result_int8(1);
		res->row_count += dataproduct_result_int8(2);
		emptied = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
		add_written(res, 4);	/* may run a statement: read emptied first */
		if (!isnull && !plan->global)
		{
			Oid			tidarray = TIDARRAYOID;

			dataproduct_run_at(snap, psprintf("DELETE FROM %s WHERE ctid = ANY ($1)", qstore),
							   1, &tidarray, &emptied, NULL, SPI_OK_DELETE, true);
			res->changed += SPI_processed;
			res->row_count -= SPI_processed;
		}
	}

	if (plan->has_other || plan->has_minmax || dataproduct_plan_has_special(plan))
	{
		int			nparams;
		Oid		   *types = dataproduct_affected_types(plan, &nparams);
		Datum	   *values = palloc(sizeof(Datum) * nparams);
		char	   *nulls = palloc(nparams + 1);
		bool		any = false;	/* some group matched recompute_condition */
		int			i;

		dataproduct_run_at(snap, dataproduct_affected_sql(plan), 0, NULL, NULL, NULL,
						   SPI_OK_SELECT, false);
		for (i = 0; i < nparams; i++)
		{
			bool		isnull;

			values[i] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									  i + 1, &isnull);
			nulls[i] = isnull ? 'n' : ' ';
			if (i % 2 == 0 && !isnull)
				any = true;
			if (i % 2 == 1 && !isnull && DatumGetBool(values[i]))
				any = true;
		}
		nulls[nparams] = '\0';
		if (any)
		{
			dataproduct_run_at(snap, dataproduct_zero_sql(plan, qstore),
							   plan->global ? 0 : nparams,
							   types, values, nulls, SPI_OK_UPDATE, true);
			dataproduct_run_at(snap, psprintf("WITH u AS (%s RETURNING ctid AS tid, (xmax = 0) AS inserted)"
											  " SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE inserted),"
											  "        pg_catalog.array_agg(tid) FROM u",
											  dataproduct_recompute_sql(plan, qstore, qpre)),
							   plan->global ? 0 : nparams, types, values, nulls,
							   SPI_OK_SELECT, true);
			res->changed += dataproduct_result_int8(1);
			res->row_count += dataproduct_result_int8(2);
			add_written(res, 3);
			/* recomputed groups that have no rows left */
			if (!plan->global)
			{
				dataproduct_run_at(snap, dataproduct_delete_empty_sql(plan, qstore),
								   nparams, types, values, nulls, SPI_OK_DELETE, true);
				res->changed += SPI_processed;
				res->row_count -= SPI_processed;
			}
		}
	}
}

/* Arguments of apply_batch, through dataproduct_in_subtransaction. */
typedef struct ApplyArgs
{
	Snapshot	snap;
	DpPlan	   *plan;
	DpOutput   *output;
	List	   *changed_leaves;
	Oid		   *logs;
	Datum		snapdatum;
	Datum		old_snap;
	DpApplyResult *res;
} ApplyArgs;

/*
 * apply_batch
 *		Run the delta query of the changed leaves into __dp_delta and merge
 *		it into the store (see the file header).
 */
static void
apply_batch(void *arg)
{
	ApplyArgs  *a = arg;
	char	   *qstore = dataproduct_qualified_name(a->output->store);
	char	   *qpre = dataproduct_qualified_name(a->output->pre_view);
	Bitmapset  *changed = NULL;
	ListCell   *lc;
	char	   *delta_sql;
	Tuplestorestate *delta;

	foreach(lc, a->changed_leaves)
		changed = bms_add_member(changed, lfirst_int(lc));
	delta_sql = dataproduct_delta_sql(a->plan, changed, a->logs);
	elog(DEBUG2, "delta of %s: %s", qstore, delta_sql);
	delta = run_into_enr(delta_sql, DP_DELTA_ENR, a->snapdatum, a->old_snap);
	if (tuplestore_tuple_count(delta) > 0)
		merge_delta(a->snap, a->plan, qstore, qpre, a->res);
	SPI_unregister_relation(DP_DELTA_ENR);
	tuplestore_end(delta);
}

/*
 * dataproduct_try_apply_batch
 *		Apply the batch of the changed leaves (indexes into plan->leaves,
 *		whose logs are logs[]) between old_snap and snapdatum, in a
 *		subtransaction.  res comes in with the store's row count, and goes
 *		out with the rows changed and written added.
 *
 * A batch holds every image of a row, also of rows inserted and deleted
 * again within it, and an expression can fail on those (a division by a
 * value that no longer exists) where recomputing from the current rows
 * would not.  So an error here is not the refresh's: the subtransaction
 * goes, res is left as it came, and the caller recomputes instead.  Returns
 * whether the batch was applied.
 */
bool
dataproduct_try_apply_batch(Snapshot snap, DpPlan *plan, DpOutput *output,
							List *changed_leaves, Oid *logs, Datum snapdatum,
							Datum old_snap, DpApplyResult *res)
{
	DpApplyResult attempt = *res;
	ApplyArgs	a = {snap, plan, output, changed_leaves, logs, snapdatum,
	old_snap, &attempt};
	ErrorData  *edata;

	attempt.written = (Datum) 0;
	edata = dataproduct_in_subtransaction(apply_batch, &a);
	if (edata != NULL)
	{
		(void) SPI_unregister_relation(DP_DELTA_ENR);
		ereport(DEBUG1,
				(errmsg("applying the batch of output %s failed, recomputing: %s",
						output->address, edata->message)));
		FreeErrorData(edata);
		return false;
	}
	*res = attempt;
	return true;
}
