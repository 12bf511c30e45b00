/*-------------------------------------------------------------------------
 *
 * refresh.c
 *	  Bringing an output's store up to date with its query.
 *
 * The last step of the data flow: a refresh makes an output's store equal
 * to its query evaluated at the refresh's snapshot S, exactly.  It runs
 * inside the caller's transaction, in this order:
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
 *	    difference (below);
 *	 4. otherwise: the batch is every change-log row whose transaction is
 *	    visible in S and was not in the previous snapshot.  Its
 *	    pre-aggregation delta (delta.c) goes into a tuplestore exposed as the
 *	    ephemeral relation __dp_delta; it is merged into the store per group
 *	    (INSERT ... ON CONFLICT); groups needing recomputation are zeroed and
 *	    recomputed from the sources at S; groups left with no rows go;
 *	 5. record S (the next batch starts there) and trim the change logs of
 *	    rows every consumer has applied.
 *
 * Full refresh, the multiset difference: store rows and query rows are
 * numbered within groups of identical rows (one sort); in a group with o
 * store rows and n query rows, store rows numbered above n are deleted and,
 * when n > o, n - o query rows inserted.  "Identical" means identity, not
 * equality: integers, dates, timestamps, booleans, uuids and enums compare
 * as they are, text in the "C" collation, anything else by its text form,
 * so 1.0 -> 1.00 is a change and json (no equality) works.
 *
 * A refresh in the transaction that wrote its sources is refused: those
 * changes share the transaction's xid with its later ones, so no snapshot
 * could tell them apart.
 *
 * Plans of statements that do not read the ephemeral relation are prepared
 * once per backend and reused (keyed by their text).
 *
 * IDENTIFICATION
 *	  src/refresh.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "tcop/dest.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/queryenvironment.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/xid8.h"
#include "executor/tstoreReceiver.h"

#include "capture.h"
#include "catalog.h"
#include "delta.h"
#include "guc.h"
#include "quality.h"
#include "refresh.h"
#include "worker.h"

/*
 * The ctids (tid[]) of the store rows the last batch applied wrote, for the
 * checks that look only at those; (Datum) 0 when the store was rewritten
 * instead.  Allocated in the refresh's SPI memory.
 */
static Datum written_tids = (Datum) 0;

/* GUC: rebuild when a batch exceeds this fraction of its sources' rows */
double		dataproduct_full_refresh_fraction = 0.3;

PG_FUNCTION_INFO_V1(dataproduct_assert_populated);
PG_FUNCTION_INFO_V1(dataproduct_pending_changes);

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
	char	   *timezone;
	char	   *datestyle;
	char	   *intervalstyle;
} OutputState;

/* A source the output consumes, and its batch. */
typedef struct SourceBatch
{
	Oid			relid;
	Oid			log;
	char	   *origin;
	int64		rows;
	bool		marker;
} SourceBatch;

static void
refresh_error_callback(void *arg)
{
	RefreshErrorContext *ctx = arg;

	errcontext("running the query of output %s as role \"%s\"",
			   ctx->address, GetUserNameFromId(ctx->owner, true));
}

/* ----------------------------------------------------------------
 * Statements at a snapshot, with reused plans
 * ----------------------------------------------------------------
 */

typedef struct PlanEntry
{
	uint64		key;			/* hash of the text */
	char	   *sql;
	SPIPlanPtr	plan;
} PlanEntry;

static HTAB *plan_cache = NULL;

/*
 * prepare_cached
 *		A kept plan for sql, prepared on first use in this backend.  Cached
 *		plans are replanned by the plan cache when the objects they use
 *		change; a different text (a renamed object) is a different entry.
 */
static SPIPlanPtr
prepare_cached(const char *sql, int nargs, Oid *argtypes)
{
	uint64		key = hash_bytes_extended((const unsigned char *) sql, strlen(sql), 0);
	PlanEntry  *entry;
	bool		found;

	if (plan_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(PlanEntry);
		ctl.hcxt = TopMemoryContext;
		plan_cache = hash_create("pg_dataproduct plans", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(plan_cache, &key, HASH_ENTER, &found);
	if (found && strcmp(entry->sql, sql) != 0)
	{
		/* a hash collision: replace the entry */
		SPI_freeplan(entry->plan);
		pfree(entry->sql);
		found = false;
	}
	if (!found)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

		if (plan == NULL)
		{
			hash_search(plan_cache, &key, HASH_REMOVE, NULL);
			elog(ERROR, "could not prepare \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		}
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		entry->plan = plan;
		entry->sql = MemoryContextStrdup(TopMemoryContext, sql);
	}
	return entry->plan;
}

/*
 * run_at
 *		Execute a statement at snapshot snap (advancing its command id, so it
 *		sees this refresh's earlier writes).  Plans are reused unless the
 *		statement reads the ephemeral relation.
 */
static uint64
run_at(Snapshot snap, const char *sql, int nargs, Oid *argtypes,
	   Datum *values, const char *nulls, int expected, bool reuse)
{
	SPIPlanPtr	plan;
	int			rc;

	if (reuse)
		plan = prepare_cached(sql, nargs, argtypes);
	else
	{
		plan = SPI_prepare(sql, nargs, argtypes);
		if (plan == NULL)
			elog(ERROR, "could not prepare \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
	}
	rc = SPI_execute_snapshot(plan, values, nulls, snap, InvalidSnapshot,
							  false, true, 0);
	if (rc != expected)
		elog(ERROR, "unexpected SPI result %s for \"%s\"",
			 SPI_result_code_string(rc), sql);
	return SPI_processed;
}

static int64
result_int8(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								  col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/* ----------------------------------------------------------------
 * Full refresh
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

/* Recompute the store from target at snap; returns rows changed. */
static int64
full_refresh(Snapshot snap, Oid store, const char *target, int64 *row_count)
{
	int64		changed;

	run_at(snap, full_refresh_sql(store, target), 0, NULL, NULL, NULL,
		   SPI_OK_SELECT, true);
	changed = result_int8(1) + result_int8(2);
	run_at(snap, psprintf("SELECT pg_catalog.count(*) FROM %s", dataproduct_qualified_name(store)),
		   0, NULL, NULL, NULL, SPI_OK_SELECT, true);
	*row_count = result_int8(1);
	return changed;
}

/* ----------------------------------------------------------------
 * Incremental refresh
 * ----------------------------------------------------------------
 */

/* The sources of an output with their logs. */
static List *
output_sources(int64 output_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(output_id)};
	List	   *result = NIL;
	uint64		i;

	dataproduct_spi_exec("SELECT s.relation, s.log, s.origin FROM dataproduct.source s"
						 "  JOIN dataproduct.output_source os USING (source_id)"
						 " WHERE os.output_id = $1 ORDER BY s.source_id",
						 1, argtypes, values, NULL, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
	{
		SourceBatch *sb = palloc0(sizeof(SourceBatch));
		bool		isnull;

		sb->relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		sb->log = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		sb->origin = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3);
		result = lappend(result, sb);
	}
	return result;
}

static SourceBatch *
find_source(List *sources, Oid relid)
{
	ListCell   *lc;

	foreach(lc, sources)
		if (((SourceBatch *) lfirst(lc))->relid == relid)
			return lfirst(lc);
	elog(ERROR, "relation %u is read by the output but not captured", relid);
	return NULL;
}

/*
 * refuse_own_changes
 *		Error out if this transaction wrote a source of the output.
 */
static void
refuse_own_changes(Snapshot snap, List *sources, const char *address)
{
	FullTransactionId xid = GetTopFullTransactionIdIfAny();
	ListCell   *lc;

	if (!FullTransactionIdIsValid(xid))
		return;
	foreach(lc, sources)
	{
		SourceBatch *sb = lfirst(lc);
		Oid			argtypes[1] = {XID8OID};
		Datum		values[1] = {FullTransactionIdGetDatum(xid)};

		run_at(snap, psprintf("SELECT 1 FROM %s WHERE __dp_xid = $1 LIMIT 1",
							  dataproduct_qualified_name(sb->log)),
			   1, argtypes, values, NULL, SPI_OK_SELECT, true);
		if (SPI_processed > 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot refresh output %s in the transaction that changed its source %s",
							address, dataproduct_qualified_name(sb->relid)),
					 errhint("Commit the changes first, then refresh.")));
	}
}

/*
 * snapshot_text
 *		The text of snapshot snap to record; this transaction's own xid, if
 *		it has one, counts as not yet visible, so that source changes it
 *		makes after this refresh are consumed by the next one.
 */
static Datum
snapshot_datum(Datum snap)
{
	FullTransactionId xid = GetTopFullTransactionIdIfAny();
	char	   *text = DatumGetCString(DirectFunctionCall1(pg_snapshot_out, snap));
	uint64		own;
	uint64		xmin;
	uint64		xmax;
	char	   *xip;
	StringInfoData buf;
	bool		added = false;

	if (!FullTransactionIdIsValid(xid))
		return snap;
	own = U64FromFullTransactionId(xid);
	if (sscanf(text, UINT64_FORMAT ":" UINT64_FORMAT ":", &xmin, &xmax) != 2)
		elog(ERROR, "unexpected snapshot \"%s\"", text);
	if (own < xmin || own >= xmax)
		return snap;
	xip = strchr(strchr(text, ':') + 1, ':') + 1;
	initStringInfo(&buf);
	appendStringInfo(&buf, UINT64_FORMAT ":" UINT64_FORMAT ":", xmin, xmax);
	while (*xip != '\0')
	{
		uint64		x = strtou64(xip, &xip, 10);

		if (!added && own < x)
		{
			appendStringInfo(&buf, UINT64_FORMAT ",", own);
			added = true;
		}
		if (x != own)
			appendStringInfo(&buf, UINT64_FORMAT ",", x);
		if (*xip == ',')
			xip++;
	}
	if (!added)
		appendStringInfo(&buf, UINT64_FORMAT ",", own);
	buf.data[--buf.len] = '\0';
	return DirectFunctionCall1(pg_snapshot_in, CStringGetDatum(buf.data));
}

/*
 * run_into_delta
 *		Run the delta query at the active snapshot into a tuplestore and
 *		register it as the ephemeral relation __dp_delta.  Returns the
 *		tuplestore, which the caller ends.  Memory stays bounded: the
 *		tuplestore spills to disk past work_mem.
 */
static Tuplestorestate *
run_into_delta(const char *sql, Datum snap, Datum old_snap)
{
	Oid			argtypes[2] = {PG_SNAPSHOTOID, PG_SNAPSHOTOID};
	SPIPlanPtr	plan = prepare_cached(sql, 2, argtypes);
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
		elog(ERROR, "unexpected SPI result %s for the delta query",
			 SPI_result_code_string(rc));
	dest->rDestroy(dest);

	source = linitial(SPI_plan_get_plan_sources(plan));
	enr = palloc0(sizeof(EphemeralNamedRelationData));
	enr->md.name = DP_DELTA_ENR;
	enr->md.reliddesc = InvalidOid;
	enr->md.tupdesc = CreateTupleDescCopy(source->resultDesc);
	enr->md.enrtype = ENR_NAMED_TUPLESTORE;
	enr->md.enrtuples = tuplestore_tuple_count(store);
	enr->reldata = store;
	if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER)
		elog(ERROR, "could not register the delta relation");
	return store;
}

static int64 merge_delta(Snapshot snap, DpPlan *plan, const char *qstore,
						 const char *qpre, int64 *row_count);

/*
 * apply_batch
 *		Merge the batch into the store (file header, step 4).  Returns rows
 *		of the store inserted, updated or deleted; adjusts *row_count.
 */
static int64
apply_batch(Snapshot snap, DpPlan *plan, Oid store, Oid pre,
			List *changed_leaves, Oid *logs, Datum snapdatum, Datum old_snap,
			int64 *row_count)
{
	char	   *qstore = dataproduct_qualified_name(store);
	char	   *qpre = dataproduct_qualified_name(pre);
	Bitmapset  *changed = NULL;
	ListCell   *lc;
	int64		applied = 0;
	char	   *delta_sql;
	Tuplestorestate *delta;

	foreach(lc, changed_leaves)
		changed = bms_add_member(changed, lfirst_int(lc));
	delta_sql = dataproduct_delta_sql(plan, changed, logs);
	elog(DEBUG2, "delta of %s: %s", qstore, delta_sql);
	delta = run_into_delta(delta_sql, snapdatum, old_snap);
	if (tuplestore_tuple_count(delta) > 0)
		applied = merge_delta(snap, plan, qstore, qpre, row_count);
	SPI_unregister_relation(DP_DELTA_ENR);
	tuplestore_end(delta);
	return applied;
}

/*
 * merge_delta
 *		Merge the registered delta into the store; see apply_batch.
 */
/*
 * add_written
 *		Add the tid[] in column col of the statement just run to the rows the
 *		batch wrote (written_tids).  A row written twice keeps its last
 *		version's ctid; earlier versions are no longer visible.
 */
static void
add_written(int col)
{
	bool		isnull;
	Datum		tids = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col,
									 &isnull);
	Oid			argtypes[2] = {TIDARRAYOID, TIDARRAYOID};
	Datum		values[2];

	if (isnull)
		return;
	if (written_tids == (Datum) 0)
	{
		written_tids = datumCopy(tids, false, -1);
		return;
	}
	values[0] = written_tids;
	values[1] = tids;
	dataproduct_spi_exec("SELECT $1 OPERATOR(pg_catalog.||) $2", 2, argtypes, values, NULL,
						 SPI_OK_SELECT);
	written_tids = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										   &isnull), false, -1);
}

static int64
merge_delta(Snapshot snap, DpPlan *plan, const char *qstore, const char *qpre,
			int64 *row_count)
{
	int64		applied = 0;

	if (!plan->has_other)
	{
		bool		isnull;
		Datum		emptied;

		/*
		 * Groups whose count reaches zero go; their row ids come back from
		 * the merge so that no index on the count (which would make every
		 * update of a group non-HOT) is needed to find them.
		 */
		run_at(snap, psprintf("WITH u AS (%s RETURNING ctid AS tid, __dp_count AS n, (xmax = 0) AS inserted)"
							  " SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE inserted),"
							  "        pg_catalog.array_agg(tid) FILTER (WHERE n <= 0),"
							  "        pg_catalog.array_agg(tid) FILTER (WHERE n > 0) FROM u",
							  dataproduct_upsert_sql(plan, qstore)),
			   0, NULL, NULL, NULL, SPI_OK_SELECT, false);
		applied += result_int8(1);
		*row_count += result_int8(2);
		emptied = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
		add_written(4);			/* may run a statement: read emptied first */
		if (!isnull && !plan->global)
		{
			Oid			tidarray = TIDARRAYOID;

			run_at(snap, psprintf("DELETE FROM %s WHERE ctid = ANY ($1)", qstore),
				   1, &tidarray, &emptied, NULL, SPI_OK_DELETE, true);
			applied += SPI_processed;
			*row_count -= SPI_processed;
		}
	}

	if (plan->has_other || plan->has_minmax)
	{
		int			nparams;
		Oid		   *types = dataproduct_affected_types(plan, &nparams);
		Datum	   *values = palloc(sizeof(Datum) * nparams);
		char	   *nulls = palloc(nparams + 1);
		bool		any = plan->global;
		int			i;

		run_at(snap, dataproduct_affected_sql(plan), 0, NULL, NULL, NULL,
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
			run_at(snap, dataproduct_zero_sql(plan, qstore), plan->global ? 0 : nparams,
				   types, values, nulls, SPI_OK_UPDATE, true);
			run_at(snap, psprintf("WITH u AS (%s RETURNING ctid AS tid, (xmax = 0) AS inserted)"
								  " SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE inserted),"
								  "        pg_catalog.array_agg(tid) FROM u",
								  dataproduct_recompute_sql(plan, qstore, qpre)),
				   plan->global ? 0 : nparams, types, values, nulls,
				   SPI_OK_SELECT, true);
			applied += result_int8(1);
			*row_count += result_int8(2);
			add_written(3);
			/* recomputed groups that have no rows left */
			if (!plan->global)
			{
				run_at(snap, dataproduct_delete_empty_sql(plan, qstore),
					   nparams, types, values, nulls, SPI_OK_DELETE, true);
				applied += SPI_processed;
				*row_count -= SPI_processed;
			}
		}
	}
	return applied;
}

/*
 * batch_sizes
 *		Count each source's batch, stopping past cap rows (enough to decide
 *		on a rebuild; -1: no cap), and look for rebuild markers, through
 *		the log's partial index on them.  A log too small to hold cap rows
 *		is only checked for being non-empty: sb->rows is then 0 or 1.
 */
static void
batch_sizes(Snapshot snap, List *sources, Datum snapdatum, Datum old_snap,
			int64 cap)
{
	ListCell   *lc;
	Oid			argtypes[3] = {PG_SNAPSHOTOID, PG_SNAPSHOTOID, INT8OID};
	Datum		values[3] = {snapdatum, old_snap, Int64GetDatum(cap)};
	char		nulls[4] = "  n";

	if (cap >= 0)
		nulls[2] = ' ';
	foreach(lc, sources)
	{
		SourceBatch *sb = lfirst(lc);
		char	   *log = dataproduct_qualified_name(sb->log);
		Relation	rel = relation_open(sb->log, AccessShareLock);
		double		most = (double) RelationGetNumberOfBlocks(rel) *
			(BLCKSZ / (SizeofHeapTupleHeader + sizeof(ItemIdData)));

		relation_close(rel, AccessShareLock);
		if (cap >= 0 && most < cap)
		{
			/* too small a log to reach the cap: is the batch empty? */
			run_at(snap, psprintf("SELECT 1 FROM %s"
								  " WHERE pg_catalog.pg_visible_in_snapshot(__dp_xid, $1)"
								  "   AND NOT pg_catalog.pg_visible_in_snapshot(__dp_xid, $2)"
								  " LIMIT 1", log),
				   2, argtypes, values, NULL, SPI_OK_SELECT, true);
			sb->rows = SPI_processed;
		}
		else
		{
			run_at(snap, psprintf("SELECT pg_catalog.count(*) FROM (SELECT FROM %s"
								  " WHERE pg_catalog.pg_visible_in_snapshot(__dp_xid, $1)"
								  "   AND NOT pg_catalog.pg_visible_in_snapshot(__dp_xid, $2)"
								  " LIMIT $3) b", log),
				   3, argtypes, values, nulls, SPI_OK_SELECT, true);
			sb->rows = result_int8(1);
		}
		run_at(snap, psprintf("SELECT 1 FROM %s WHERE __dp_weight = 0"
							  "   AND __dp_xid >= pg_catalog.pg_snapshot_xmin($2)"
							  "   AND pg_catalog.pg_visible_in_snapshot(__dp_xid, $1)"
							  "   AND NOT pg_catalog.pg_visible_in_snapshot(__dp_xid, $2) LIMIT 1",
							  log),
			   2, argtypes, values, NULL, SPI_OK_SELECT, true);
		sb->marker = (SPI_processed > 0);
	}
}

/*
 * clear_foreign_logs
 *		After a restore, logs hold rows with another cluster's xids: empty
 *		them (every consumer rebuilds, its snapshot being foreign too).
 */
static void
clear_foreign_logs(Snapshot snap, List *sources, const char *origin)
{
	ListCell   *lc;
	DpSavedUser saved;

	dataproduct_become_catalog_owner(&saved);
	foreach(lc, sources)
	{
		SourceBatch *sb = lfirst(lc);
		Oid			argtypes[2] = {OIDOID, TEXTOID};
		Datum		values[2] = {ObjectIdGetDatum(sb->log), CStringGetTextDatum(origin)};

		if (strcmp(sb->origin, origin) == 0)
			continue;
		run_at(snap, psprintf("DELETE FROM %s", dataproduct_qualified_name(sb->log)),
			   0, NULL, NULL, NULL, SPI_OK_DELETE, false);
		run_at(snap, "UPDATE dataproduct.source SET origin = $2 WHERE log = $1",
			   2, argtypes, values, NULL, SPI_OK_UPDATE, true);
	}
	dataproduct_restore_user(&saved);
}

/*
 * trim_logs
 *		Remove log rows that every consumer has applied: those of
 *		transactions older than the oldest xmin among the consumers'
 *		snapshots (outputs not yet loaded hold the snapshot of their
 *		declaration, which is older than the one their load will use).
 *
 * When that is every row of a log and nobody is writing to it (its lock is
 * free right now), the log is truncated: O(1) instead of a delete per row.
 * That is safe although TRUNCATE is not MVCC-safe: no consumer needs a row
 * its recorded snapshot already sees.  The lock is then held to commit, so
 * this is done only when the refresh is its own transaction (writers wait a
 * moment, never for a whole user transaction).
 */
static void
trim_logs(Snapshot snap, List *sources)
{
	ListCell   *lc;
	DpSavedUser saved;

	dataproduct_become_catalog_owner(&saved);
	foreach(lc, sources)
	{
		SourceBatch *sb = lfirst(lc);
		char	   *log = dataproduct_qualified_name(sb->log);
		Oid			argtypes[1] = {OIDOID};
		Datum		values[1] = {ObjectIdGetDatum(sb->log)};
		Oid			xidtypes[1] = {XID8OID};
		Datum		bound;
		bool		isnull;

		run_at(snap, "SELECT pg_catalog.min(pg_catalog.pg_snapshot_xmin(o.snapshot))"
			   "  FROM dataproduct.output o"
			   "  JOIN dataproduct.output_source os USING (output_id)"
			   "  JOIN dataproduct.source s USING (source_id)"
			   " WHERE s.log = $1",
			   1, argtypes, values, NULL, SPI_OK_SELECT, true);
		bound = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (isnull)
			continue;

		if (!IsTransactionBlock() &&
			ConditionalLockRelationOid(sb->log, AccessExclusiveLock))
		{
			run_at(snap, psprintf("SELECT 1 FROM %s WHERE __dp_xid >= $1 LIMIT 1", log),
				   1, xidtypes, &bound, NULL, SPI_OK_SELECT, true);
			if (SPI_processed == 0)
			{
				run_at(snap, psprintf("TRUNCATE %s", log), 0, NULL, NULL, NULL,
					   SPI_OK_UTILITY, false);
				continue;
			}
		}
		run_at(snap, psprintf("DELETE FROM %s WHERE __dp_xid < $1", log),
			   1, xidtypes, &bound, NULL, SPI_OK_DELETE, true);
	}
	dataproduct_restore_user(&saved);
}

typedef struct ApplyArgs
{
	Snapshot	snap;
	DpPlan	   *plan;
	DpOutput   *output;
	List	   *changed_leaves;
	Oid		   *logs;
	Datum		snapdatum;
	Datum		old_snap;
	int64		changed;
	int64		row_count;
} ApplyArgs;

static void
apply_batch_cb(void *arg)
{
	ApplyArgs  *a = arg;

	a->changed = apply_batch(a->snap, a->plan, a->output->store, a->output->pre_view,
							 a->changed_leaves, a->logs, a->snapdatum, a->old_snap,
							 &a->row_count);
}

/*
 * try_apply_batch
 *		Apply the batch in a subtransaction.  A batch holds every image of a
 *		row, also of rows inserted and deleted again within it, and an
 *		expression can fail on those (a division by a value that no longer
 *		exists) where recomputing from the current rows would not.  So an
 *		error here is not the refresh's: the subtransaction goes and the
 *		caller recomputes instead.  Returns whether the batch was applied.
 */
static bool
try_apply_batch(Snapshot snap, DpPlan *plan, DpOutput *output,
				List *changed_leaves, Oid *logs, Datum snapdatum,
				Datum old_snap, int64 *changed, int64 *row_count)
{
	ApplyArgs	a = {snap, plan, output, changed_leaves, logs, snapdatum,
	old_snap, 0, *row_count};
	ErrorData  *edata = dataproduct_in_subtransaction(apply_batch_cb, &a);

	if (edata != NULL)
	{
		written_tids = (Datum) 0;
		(void) SPI_unregister_relation(DP_DELTA_ENR);
		ereport(DEBUG1,
				(errmsg("applying the batch of output %s failed, recomputing: %s",
						output->address, edata->message)));
		FreeErrorData(edata);
		return false;
	}
	*changed = a.changed;
	*row_count = a.row_count;
	return true;
}

/* ----------------------------------------------------------------
 * Entry points
 * ----------------------------------------------------------------
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
	dataproduct_spi_exec("SELECT status = 'ok', snapshot, origin, timezone, datestyle, intervalstyle"
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
	state.timezone = SPI_getvalue(tuple, desc, 4);
	state.datestyle = SPI_getvalue(tuple, desc, 5);
	state.intervalstyle = SPI_getvalue(tuple, desc, 6);
	return state;
}

static void
set_setting(const char *name, const char *value)
{
	(void) set_config_option(name, value, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/* Rows of the relations an output reads, as the planner estimates them. */
static double
source_rows(List *sources)
{
	ListCell   *lc;
	double		total = 0;

	foreach(lc, sources)
	{
		Relation	rel = relation_open(((SourceBatch *) lfirst(lc))->relid, AccessShareLock);

		if (rel->rd_rel->reltuples > 0)
			total += rel->rd_rel->reltuples;
		relation_close(rel, AccessShareLock);
	}
	return total;
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
 * dataproduct_refresh_output
 *		Make the output's store equal to its query at a new snapshot, record
 *		the refresh in the catalog and return the number of store rows
 *		changed.  SPI must be connected with search_path pinned.  Errors out
 *		if the owner cannot run the query.
 */
int64
dataproduct_refresh_output(DpOutput *output)
{
	RefreshErrorContext ctx;
	ErrorContextCallback errcallback;
	DpSavedUser saved;
	OutputState state;
	TimestampTz started;
	Snapshot	snap;
	Datum		snapdatum;
	int			nestlevel;
	int64		changed = 0;
	int64		row_count = 0;
	bool		incremental = (strcmp(output->mode, "incremental") == 0);
	bool		was_populated;
	char	   *origin = dataproduct_origin();
	double		elapsed_ms;
	Oid			argtypes[8] = {INT8OID, TIMESTAMPTZOID, FLOAT8OID, INT8OID,
	INT8OID, PG_SNAPSHOTOID, TEXTOID, TEXTOID};
	Datum		values[8];
	const char *kind = "full";

	state = lock_output(output);
	was_populated = state.populated;
	written_tids = (Datum) 0;
	LockRelationOid(output->store, ExclusiveLock);

	nestlevel = NewGUCNestLevel();
	set_setting("TimeZone", state.timezone);
	set_setting("DateStyle", state.datestyle);
	set_setting("IntervalStyle", state.intervalstyle);

	snap = RegisterSnapshot(GetTransactionSnapshot());
	PushActiveSnapshot(snap);
	snapdatum = DirectFunctionCall1(pg_current_snapshot, (Datum) 0);
	if (incremental)
	{
		output->sources = output_sources(output->id);
		refuse_own_changes(snap, output->sources, output->address);
	}

	ctx.address = output->address;
	ctx.owner = output->owner;
	errcallback.callback = refresh_error_callback;
	errcallback.arg = &ctx;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	started = GetCurrentTimestamp();
	if (!incremental)
	{
		dataproduct_become_owner(output->owner, &saved);
		changed = full_refresh(snap, output->store,
							   psprintf("SELECT * FROM %s", dataproduct_qualified_name(output->query_view)),
							   &row_count);
		dataproduct_restore_user(&saved);
	}
	else
	{
		DpPlan	   *plan;
		List	   *sources = output->sources;
		bool		rebuild;
		int64		batch_rows = 0;
		ListCell   *lc;

		plan = dataproduct_plan_output(output->query_view);
		dataproduct_check_leaf_privileges(plan, output->owner, true);
		if (!plan->incremental)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("output %s can no longer be maintained incrementally", output->address),
					 errdetail("Its query %s.", plan->reason)));

		rebuild = !state.populated || state.snapshot == (Datum) 0 ||
			strcmp(state.origin ? state.origin : "", origin) != 0;
		if (rebuild)
			clear_foreign_logs(snap, sources, origin);
		else
		{
			/*
			 * Recompute when that is cheaper: applying costs in proportion to
			 * the batch; recomputing, to the sources' rows plus ten times the
			 * store's (grouping and comparing each group is worth about ten
			 * source rows).  The fraction weighs the two; bench/refresh.sh
			 * measures both.  Counting stops once the batch is known to be
			 * too large.
			 */
			int64		cap = -1;

			if (dataproduct_full_refresh_fraction >= 0)
			{
				double		recompute = source_rows(sources) + 10.0 * store_rows(output->store);

				if (recompute > 0)
					cap = (int64) (dataproduct_full_refresh_fraction * recompute) + 1;
			}
			batch_sizes(snap, sources, snapdatum, state.snapshot, cap);
			foreach(lc, sources)
			{
				SourceBatch *sb = lfirst(lc);

				batch_rows += sb->rows;
				rebuild |= sb->marker;
			}
			if (cap >= 0 && batch_rows >= cap)
				rebuild = true;
		}

		kind = rebuild ? "rebuild" : "incremental";
		elog(DEBUG1, "refreshing %s: %s, batch of " INT64_FORMAT " rows",
			 output->address, kind, batch_rows);
		dataproduct_become_owner(output->owner, &saved);
		if (rebuild)
			changed = full_refresh(snap, output->store,
								   dataproduct_store_sql(plan, dataproduct_qualified_name(output->pre_view), false),
								   &row_count);
		else
		{
			List	   *changed_leaves = NIL;
			Oid		   *logs = palloc0(sizeof(Oid) * list_length(plan->leaves));

			run_at(snap, psprintf("SELECT row_count FROM dataproduct.output WHERE output_id = %lld",
								  (long long) output->id),
				   0, NULL, NULL, NULL, SPI_OK_SELECT, true);
			row_count = result_int8(1);
			foreach(lc, plan->leaves)
			{
				SourceBatch *sb = find_source(sources, ((DpLeaf *) lfirst(lc))->relid);

				logs[foreach_current_index(lc)] = sb->log;
				if (sb->rows > 0)
					changed_leaves = lappend_int(changed_leaves, foreach_current_index(lc));
			}
			if (changed_leaves != NIL &&
				!try_apply_batch(snap, plan, output, changed_leaves, logs, snapdatum,
								 state.snapshot, &changed, &row_count))
			{
				kind = "rebuild";
				changed = full_refresh(snap, output->store,
									   dataproduct_store_sql(plan, dataproduct_qualified_name(output->pre_view), false),
									   &row_count);
			}
		}
		dataproduct_restore_user(&saved);

		/* the first load replaces the guard in the view */
		if (!was_populated)
		{
			dataproduct_become_catalog_owner(&saved);
			run_at(snap, psprintf("CREATE OR REPLACE VIEW %s AS %s",
								  dataproduct_qualified_name(output->view),
								  dataproduct_view_sql(plan, output->store, false)),
				   0, NULL, NULL, NULL, SPI_OK_UTILITY, false);
			dataproduct_restore_user(&saved);
		}
	}
	elapsed_ms = (double) (GetCurrentTimestamp() - started) / 1000.0;
	error_context_stack = errcallback.previous;

	values[0] = Int64GetDatum(output->id);
	values[1] = TimestampTzGetDatum(started);
	values[2] = Float8GetDatum(elapsed_ms);
	values[3] = Int64GetDatum(changed);
	values[4] = Int64GetDatum(row_count);
	values[5] = snapshot_datum(snapdatum);
	values[6] = CStringGetTextDatum(origin);
	values[7] = CStringGetTextDatum(kind);
	dataproduct_become_catalog_owner(&saved);
	run_at(snap, "UPDATE dataproduct.output"
		   "   SET status = 'ok', last_refresh = $2, refresh_ms = $3,"
		   "       rows_changed = $4, row_count = $5, snapshot = $6, origin = $7,"
		   "       last_refresh_kind = $8, failures = 0, last_error = NULL,"
		   "       next_retry = NULL"
		   " WHERE output_id = $1",
		   8, argtypes, values, NULL, SPI_OK_UPDATE, true);
	{
		Oid			htypes[6] = {INT8OID, TIMESTAMPTZOID, TEXTOID, INT8OID, INT8OID, BOOLOID};
		Datum		hvalues[6] = {values[0], values[1], values[7], values[3],
		values[4], BoolGetDatum(dataproduct_in_worker)};

		run_at(snap, "INSERT INTO dataproduct.refresh_history"
			   " (output_id, started_at, finished_at, kind, rows_changed, row_count, by_worker)"
			   " VALUES ($1, $2, pg_catalog.clock_timestamp(), $3, $4, $5, $6)",
			   6, htypes, hvalues, NULL, SPI_OK_INSERT, true);
	}
	dataproduct_restore_user(&saved);

	/* certify the new contents; a failing blocking check rolls it all back */
	dataproduct_checks_after_refresh(output, snap, values[5],
									 strcmp(kind, "incremental") == 0,
									 written_tids);

	if (incremental)
		trim_logs(snap, output->sources);

	PopActiveSnapshot();
	UnregisterSnapshot(snap);
	AtEOXact_GUC(true, nestlevel);
	return changed;
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

	dataproduct_spi_connect();
	dataproduct_spi_exec("SELECT d.name || '.' || o.name, o.status = 'ok'"
						 "  FROM dataproduct.output o"
						 "  JOIN dataproduct.product p USING (product_id)"
						 "  JOIN dataproduct.domain d USING (domain_id)"
						 " WHERE o.store = $1::pg_catalog.regclass",
						 1, argtypes, values, NULL, SPI_OK_SELECT);
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

typedef struct WorkerRefresh
{
	int64		output_id;
	char	   *address;		/* in the caller's context */
} WorkerRefresh;

static void
refresh_by_id_cb(void *arg)
{
	WorkerRefresh *w = arg;
	MemoryContext outer = CurrentMemoryContext;
	DpOutput   *output;

	dataproduct_spi_connect();
	output = dataproduct_get_output_by_id(w->output_id);
	if (output != NULL)
	{
		w->address = MemoryContextStrdup(outer, output->address);
		(void) dataproduct_refresh_output(output);
	}
	dataproduct_spi_finish();
}

/*
 * dataproduct_refresh_in_worker
 *		Refresh an output from a background worker, inside the worker's
 *		transaction: in a subtransaction, so that a failure is recorded (with
 *		its error, and a retry after an exponential backoff: 1 s, 2 s, 4 s,
 *		... up to an hour) instead of ending the worker, and nothing of the
 *		failed refresh remains.
 */
void
dataproduct_refresh_in_worker(int64 output_id)
{
	WorkerRefresh w = {output_id, NULL};
	ErrorData  *edata = dataproduct_in_subtransaction(refresh_by_id_cb, &w);

	if (edata != NULL)
	{
		Oid			argtypes[2] = {INT8OID, TEXTOID};
		Datum		values[2] = {Int64GetDatum(output_id),
		CStringGetTextDatum(edata->message)};
		DpSavedUser saved;

		ereport(LOG,
				(errmsg("pg_dataproduct: refresh of output %s failed: %s",
						w.address ? w.address : "?", edata->message)));
		dataproduct_spi_connect();
		dataproduct_record_failed_checks();
		dataproduct_become_catalog_owner(&saved);
		dataproduct_spi_exec("UPDATE dataproduct.output"
							 "   SET failures = failures + 1, last_error = $2,"
							 "       last_error_at = pg_catalog.now(),"
							 "       next_retry = pg_catalog.now() + least(interval '1 second' * power(2, failures), interval '1 hour')"
							 " WHERE output_id = $1",
							 2, argtypes, values, NULL, SPI_OK_UPDATE);
		dataproduct_spi_exec("INSERT INTO dataproduct.refresh_history"
							 " (output_id, started_at, finished_at, error, by_worker)"
							 " SELECT $1, pg_catalog.now(), pg_catalog.clock_timestamp(), $2, true"
							 "  WHERE EXISTS (SELECT 1 FROM dataproduct.output WHERE output_id = $1)",
							 2, argtypes, values, NULL, SPI_OK_INSERT);
		dataproduct_restore_user(&saved);
		dataproduct_spi_finish();
	}
}

/*
 * pending_changes(output regclass, OUT pending bigint, OUT oldest timestamptz)
 *
 * Captured row images committed but not yet applied to an output, and when
 * the oldest of them was written: the output's staleness, measured from the
 * change stream.  NULLs for outputs refreshed in full (no change stream).
 * Counts are read as the catalog owner; no captured data is returned.
 */
Datum
dataproduct_pending_changes(PG_FUNCTION_ARGS)
{
	Oid			view = PG_GETARG_OID(0);
	TupleDesc	desc;
	Datum		result[2] = {0, 0};
	bool		nulls[2] = {true, true};
	DpOutput   *output;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	dataproduct_spi_connect();
	output = dataproduct_get_output(view, false);
	if (strcmp(output->mode, "incremental") == 0)
	{
		List	   *sources = output_sources(output->id);
		ListCell   *lc;
		DpSavedUser saved;
		int64		pending = 0;
		TimestampTz oldest = 0;
		bool		any = false;

		dataproduct_become_catalog_owner(&saved);
		foreach(lc, sources)
		{
			SourceBatch *sb = lfirst(lc);
			Oid			argtypes[1] = {INT8OID};
			Datum		values[1] = {Int64GetDatum(output->id)};
			bool		isnull;
			Datum		d;

			dataproduct_spi_exec(psprintf("SELECT pg_catalog.count(*), pg_catalog.min(l.__dp_at)"
										  "  FROM %s l, dataproduct.output o"
										  " WHERE o.output_id = $1"
										  "   AND NOT pg_catalog.pg_visible_in_snapshot(l.__dp_xid, o.snapshot)"
										  "   AND pg_catalog.pg_visible_in_snapshot(l.__dp_xid, pg_catalog.pg_current_snapshot())",
										  dataproduct_qualified_name(sb->log)),
								 1, argtypes, values, NULL, SPI_OK_SELECT);
			pending += result_int8(1);
			d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
			if (!isnull && (!any || DatumGetTimestampTz(d) < oldest))
			{
				oldest = DatumGetTimestampTz(d);
				any = true;
			}
		}
		dataproduct_restore_user(&saved);
		result[0] = Int64GetDatum(pending);
		nulls[0] = false;
		if (any)
		{
			result[1] = TimestampTzGetDatum(oldest);
			nulls[1] = false;
		}
	}
	dataproduct_spi_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, result, nulls)));
}
