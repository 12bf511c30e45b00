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
 * What a write changed is counted in the output's rows (deleted plus
 * inserted, by identity), whatever the store's layout: see "Counting"
 * below.
 *
 * Recomputing, the multiset difference: store rows and query rows are
 * numbered within groups of identical rows (one sort); in a group with o
 * store rows and n query rows, store rows numbered above n are deleted and,
 * when n > o, n - o query rows inserted.  "Identical" means identity, not
 * equality: integers, dates, timestamps, booleans, uuids and enums compare
 * as they are, text in the "C" collation, floats by their binary form (as
 * the exact key of an incrementally maintained store: a NaN whose sign
 * changes is a change, though its text is the same), anything else by its
 * text form, so 1.0 -> 1.00 is a change and json (no equality) works.
 *
 * IDENTIFICATION
 *	  src/apply.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tstoreReceiver.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "tcop/dest.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/plancache.h"
#include "utils/queryenvironment.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"

#include "apply.h"
#include "exec.h"

/* ----------------------------------------------------------------
 * Helpers
 * ----------------------------------------------------------------
 */

/*
 * Cancelling images.  An UPDATE is logged as its old row's image (weight
 * -1) and its new row's (+1).  An output that reads none of the columns
 * the UPDATE changed sees the two as the same row with opposite weights:
 * they add nothing to its delta, yet they would make it touch the row's
 * group (and recompute it, for min, max and other aggregates that lost a
 * row).  While a batch is read, each row is looked up among the last
 * CANCEL_WINDOW rows not passed on yet (by a hash of their bytes); one
 * that is identical with the opposite weight cancels it, and neither is
 * kept.  The two images of an UPDATE are written one after the other, on
 * one page of the log, but concurrent writers and the reuse of the space
 * that trimming freed put other rows between them; the window is what
 * allows for that.
 * Identical means the same bytes in every column (after detoasting), which
 * is stricter than equality, so 1.0 and 1.00, or 0 and -0, never cancel;
 * the weighted sum of the batch is unchanged, and every delta rule is
 * linear in it.
 */
#define CANCEL_WINDOW 256		/* rows held: a log page's worth, and more */
#define CANCEL_BUCKETS 512		/* a power of two */

typedef struct CancelReceiver
{
	DestReceiver pub;
	DestReceiver *store;		/* the tuplestore receiver kept rows go to */
	MemoryContext cxt;
	int			weight;			/* attribute index of __dp_w, the last */
	/* the window: a ring of rows in arrival order, from head, n of them */
	TupleTableSlot *held[CANCEL_WINDOW];
	uint32		hash[CANCEL_WINDOW];
	bool		live[CANCEL_WINDOW];	/* false: cancelled, a hole */
	int			next[CANCEL_WINDOW];	/* chain of the row's hash bucket */
	int			bucket[CANCEL_BUCKETS]; /* first row of each chain, or -1 */
	int			head;
	int			n;
} CancelReceiver;

/* A value's bytes, detoasted; *copy says whether they must be freed. */
static struct varlena *
value_bytes(Datum value, bool *copy)
{
	struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(value));

	*copy = (Pointer) v != DatumGetPointer(value);
	return v;
}

/* Hash of a row's bytes, the weight left out. */
static uint32
row_hash(TupleTableSlot *slot, int weight)
{
	TupleDesc	desc = slot->tts_tupleDescriptor;
	uint32		h = 0;
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Datum		value = slot->tts_values[i];
		uint32		part;

		if (i == weight)
			continue;
		if (slot->tts_isnull[i])
			part = 0x9e3779b9;
		else if (att->attbyval)
			part = hash_bytes((unsigned char *) &value, sizeof(Datum));
		else if (att->attlen == -1)
		{
			bool		copy;
			struct varlena *v = value_bytes(value, &copy);

			part = hash_bytes((unsigned char *) VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
			if (copy)
				pfree(v);
		}
		else if (att->attlen == -2)
			part = hash_bytes((unsigned char *) DatumGetPointer(value),
							  strlen(DatumGetCString(value)));
		else
			part = hash_bytes((unsigned char *) DatumGetPointer(value), att->attlen);
		h = hash_combine(h, part);
	}
	return h;
}

/* Whether two non-null values of an attribute are the same bytes. */
static bool
same_bytes(Datum a, Datum b, Form_pg_attribute att)
{
	bool		same;
	bool		copy_a;
	bool		copy_b;
	struct varlena *da;
	struct varlena *db;

	if (att->attlen != -1)
		return datumIsEqual(a, b, att->attbyval, att->attlen);
	if (toast_raw_datum_size(a) != toast_raw_datum_size(b))
		return false;
	da = value_bytes(a, &copy_a);
	db = value_bytes(b, &copy_b);
	same = VARSIZE_ANY_EXHDR(da) == VARSIZE_ANY_EXHDR(db) &&
		memcmp(VARDATA_ANY(da), VARDATA_ANY(db), VARSIZE_ANY_EXHDR(da)) == 0;
	if (copy_a)
		pfree(da);
	if (copy_b)
		pfree(db);
	return same;
}

/* Whether row b cancels row a: opposite weights, identical columns. */
static bool
cancels(TupleTableSlot *a, TupleTableSlot *b, int weight)
{
	TupleDesc	desc = a->tts_tupleDescriptor;
	int32		wa;
	int			i;

	if (a->tts_isnull[weight] || b->tts_isnull[weight])
		return false;
	wa = DatumGetInt32(a->tts_values[weight]);
	if (wa == 0 || DatumGetInt32(b->tts_values[weight]) != -wa)
		return false;
	for (i = 0; i < desc->natts; i++)
	{
		if (i == weight)
			continue;
		if (a->tts_isnull[i] != b->tts_isnull[i])
			return false;
		if (!a->tts_isnull[i] &&
			!same_bytes(a->tts_values[i], b->tts_values[i], TupleDescAttr(desc, i)))
			return false;
	}
	return true;
}

static void
cancel_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	CancelReceiver *r = (CancelReceiver *) self;
	MemoryContext old = MemoryContextSwitchTo(r->cxt);
	TupleDesc	desc = CreateTupleDescCopy(typeinfo);
	int			i;

	for (i = 0; i < CANCEL_WINDOW; i++)
		r->held[i] = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	for (i = 0; i < CANCEL_BUCKETS; i++)
		r->bucket[i] = -1;
	r->head = r->n = 0;
	r->weight = typeinfo->natts - 1;
	MemoryContextSwitchTo(old);
	r->store->rStartup(r->store, operation, typeinfo);
}

/* Take row i of the window out of its hash chain. */
static void
unchain(CancelReceiver *r, int i)
{
	int		   *link = &r->bucket[r->hash[i] & (CANCEL_BUCKETS - 1)];

	while (*link != i)
		link = &r->next[*link];
	*link = r->next[i];
}

/* Pass the window's oldest row on (unless cancelled), and drop it. */
static void
release_oldest(CancelReceiver *r)
{
	int			i = r->head;

	if (r->live[i])
	{
		r->store->receiveSlot(r->held[i], r->store);
		unchain(r, i);
	}
	ExecClearTuple(r->held[i]);
	r->head = (r->head + 1) % CANCEL_WINDOW;
	r->n--;
}

static bool
cancel_receive(TupleTableSlot *slot, DestReceiver *self)
{
	CancelReceiver *r = (CancelReceiver *) self;
	uint32		h;
	int			i;

	slot_getallattrs(slot);
	h = row_hash(slot, r->weight);
	for (i = r->bucket[h & (CANCEL_BUCKETS - 1)]; i >= 0; i = r->next[i])
		if (r->hash[i] == h && cancels(r->held[i], slot, r->weight))
		{
			unchain(r, i);
			r->live[i] = false;
			ExecClearTuple(r->held[i]);
			return true;
		}
	if (r->n == CANCEL_WINDOW)
		release_oldest(r);
	i = (r->head + r->n++) % CANCEL_WINDOW;
	ExecCopySlot(r->held[i], slot);
	slot_getallattrs(r->held[i]);
	r->hash[i] = h;
	r->live[i] = true;
	r->next[i] = r->bucket[h & (CANCEL_BUCKETS - 1)];
	r->bucket[h & (CANCEL_BUCKETS - 1)] = i;
	return true;
}

static void
cancel_shutdown(DestReceiver *self)
{
	CancelReceiver *r = (CancelReceiver *) self;
	int			i;

	while (r->n > 0)
		release_oldest(r);
	for (i = 0; i < CANCEL_WINDOW; i++)
	{
		ExecDropSingleTupleTableSlot(r->held[i]);
		r->held[i] = NULL;
	}
	r->store->rShutdown(r->store);
}

static void
cancel_destroy(DestReceiver *self)
{
	CancelReceiver *r = (CancelReceiver *) self;

	r->store->rDestroy(r->store);
	pfree(r);
}

/*
 * run_into_enr
 *		Run a read-only statement at the active snapshot into a tuplestore
 *		and register it as the ephemeral relation `name'; with cancel, a
 *		batch whose neighbouring images cancel (see "Cancelling images").
 *		Returns the tuplestore, which the caller ends after unregistering
 *		it.  Memory stays bounded: the tuplestore spills to disk past
 *		work_mem.
 */
static Tuplestorestate *
run_into_enr(const char *name, const char *sql, int nargs,
			 Oid *argtypes, Datum *values, bool cancel)
{
	SPIPlanPtr	plan = dataproduct_prepare_cached(sql, nargs, argtypes);
	Tuplestorestate *store = tuplestore_begin_heap(false, false, work_mem);
	DestReceiver *dest = CreateDestReceiver(DestTuplestore);
	ParamListInfo params = makeParamList(nargs);
	SPIExecuteOptions options;
	EphemeralNamedRelation enr;
	CachedPlanSource *source;
	int			rc;
	int			i;

	SetTuplestoreDestReceiverParams(dest, store, CurrentMemoryContext,
									false, NULL, NULL);
	if (cancel)
	{
		CancelReceiver *r = palloc0(sizeof(CancelReceiver));

		r->pub.receiveSlot = cancel_receive;
		r->pub.rStartup = cancel_startup;
		r->pub.rShutdown = cancel_shutdown;
		r->pub.rDestroy = cancel_destroy;
		r->pub.mydest = DestTuplestore;
		r->store = dest;
		r->cxt = CurrentMemoryContext;
		dest = &r->pub;
	}
	for (i = 0; i < nargs; i++)
	{
		params->params[i].value = values[i];
		params->params[i].isnull = false;
		params->params[i].ptype = argtypes[i];
		params->params[i].pflags = PARAM_FLAG_CONST;
	}

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
		elog(ERROR, "could not register the ephemeral relation %s", name);
	return store;
}

/*
 * dataproduct_run_into_enr
 *		Run a read-only statement at the active snapshot into a tuplestore
 *		registered as the ephemeral relation `name' (see run_into_enr).
 */
Tuplestorestate *
dataproduct_run_into_enr(const char *name, const char *sql, int nargs,
						 Oid *argtypes, Datum *values)
{
	return run_into_enr(name, sql, nargs, argtypes, values, false);
}

/*
 * snapshot_as_of_now
 *		A registered copy of snap that sees this transaction's writes so far
 *		and none of those it makes later: statements run at it later see
 *		the store as it is now.  The caller unregisters it.
 */
static Snapshot
snapshot_as_of_now(Snapshot snap)
{
	Snapshot	result;

	CommandCounterIncrement();
	PushCopiedSnapshot(snap);
	UpdateActiveSnapshotCommandId();
	result = RegisterSnapshot(GetActiveSnapshot());
	PopActiveSnapshot();
	return result;
}

/*
 * dataproduct_identity_key
 *		The expression that groups a store column by identity; see the file
 *		header.  col is already quoted.
 */
char *
dataproduct_identity_key(const char *col, Oid type)
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
		case FLOAT4OID:
			return psprintf("pg_catalog.float4send(%s)", col);
		case FLOAT8OID:
			return psprintf("pg_catalog.float8send(%s)", col);
		default:
			if (type_is_enum(base))
				return pstrdup(col);
			return psprintf("(%s)::pg_catalog.text COLLATE pg_catalog.\"C\"", col);
	}
}

/* ----------------------------------------------------------------
 * Counting the output's rows a write changed
 *
 * A refresh returns the output's rows deleted plus its rows inserted: the
 * size of the multiset difference between the output before and after,
 * rows compared by identity (dataproduct_identity_key), as a recomputation compares them.
 * An update of a group's values is one of each; a change that leaves the
 * output's rows as they were (a max that stays the max, a group hidden by
 * HAVING before and after, a duplicate of a DISTINCT row) counts 0.
 *
 * For a full-mode output the store's rows are the output's rows, and the
 * recomputation's own difference is the count.  An incrementally
 * maintained store holds one row per group, with hidden columns (the
 * group's row count, the sum and count behind an avg) from which the
 * output view computes one output row, none (HAVING), or __dp_count
 * copies (plain rows).  So the count is taken from the output view's rows
 * of the store rows a write replaced, read at a snapshot taken before it,
 * and of those it left, read after it (output_change): every other store
 * row is the same in both and adds nothing to the difference.  The rows a
 * batch replaces are found through the store's key index, for each group
 * of the batch (group_tids); those a recomputation replaces, it returns.
 *
 * Plain rows take a shortcut: an output row's copies change by exactly the
 * net weight of its group in a batch, and by the difference of the counts
 * in a recomputation, so no store row is read again.
 * ----------------------------------------------------------------
 */

/* A growing array of tids. */
typedef struct TidList
{
	ItemPointerData *tids;
	int			n;
	int			cap;
} TidList;

static void
tidlist_add(TidList *list, ItemPointer tid)
{
	if (list->n == list->cap)
	{
		list->cap = list->cap == 0 ? 64 : 2 * list->cap;
		list->tids = list->tids == NULL ?
			palloc(sizeof(ItemPointerData) * list->cap) :
			repalloc_huge(list->tids, sizeof(ItemPointerData) * list->cap);
	}
	list->tids[list->n++] = *tid;
}

static Datum
tidlist_datum(TidList *list)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(list->n, 1));
	int			i;

	for (i = 0; i < list->n; i++)
		elems[i] = PointerGetDatum(&list->tids[i]);
	return PointerGetDatum(construct_array(elems, list->n, TIDOID,
										   sizeof(ItemPointerData), false,
										   TYPALIGN_SHORT));
}

/*
 * identity_list
 *		The output's columns of the relation `alias', each as the expression
 *		comparing it by identity, separated by commas.
 */
static char *
identity_list(DpPlan *plan, const char *alias)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, plan->query->targetList)
	{
		TargetEntry *tle = lfirst(lc);

		if (tle->resjunk)
			continue;
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "",
						 dataproduct_identity_key(psprintf("%s.%s", alias, quote_identifier(tle->resname)),
								  exprType((Node *) tle->expr)));
	}
	return buf.data;
}

/*
 * output_change
 *		The output's rows deleted plus inserted by a write of the store that
 *		replaced the rows old_tids (a tid[], visible at before, a snapshot
 *		taken before the write) by the rows new_tids (visible at after).
 *		Runs as the product owner, like the output view.
 */
static int64
output_change(DpPlan *plan, Oid store, Snapshot before, Snapshot after,
			  Datum old_tids, Datum new_tids)
{
	char	   *rows = dataproduct_changed_rows_sql(plan, store);
	char	   *ids = identity_list(plan, "v");
	Oid			tidarray = TIDARRAYOID;
	Tuplestorestate *old_rows;
	StringInfoData positions;	/* the identities' column names */
	int64		result;
	int			n = 0;
	ListCell   *lc;
	int			rc;

	initStringInfo(&positions);
	foreach(lc, plan->query->targetList)
	{
		if (((TargetEntry *) lfirst(lc))->resjunk)
			continue;
		n++;
		appendStringInfo(&positions, "%s__dp_c%d", n > 1 ? ", " : "", n);
	}

	PushActiveSnapshot(before);
	old_rows = dataproduct_run_into_enr("__dp_before", psprintf("SELECT %s FROM (%s) v", ids, rows),
							1, &tidarray, &old_tids);
	PopActiveSnapshot();

	rc = SPI_execute_snapshot(SPI_prepare(psprintf("SELECT pg_catalog.sum(pg_catalog.abs(w))::pg_catalog.int8"
												   "  FROM (SELECT pg_catalog.sum(w) AS w FROM"
												   "        (SELECT -1 AS w, * FROM __dp_before"
												   "         UNION ALL SELECT 1, %s FROM (%s) v) u(w, %s)"
												   "        GROUP BY %s) g",
												   ids, rows, positions.data, positions.data),
										  1, &tidarray),
							  &new_tids, NULL, after, InvalidSnapshot, true, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "unexpected SPI result %s counting the changes of the output",
			 SPI_result_code_string(rc));
	result = dataproduct_result_int8(1);
	SPI_unregister_relation("__dp_before");
	tuplestore_end(old_rows);
	return result;
}

/*
 * store_key_index
 *		The store's unique index on its group keys (columns 1 to nkeys, NULLs
 *		not distinct), opened with AccessShareLock.
 */
static Relation
store_key_index(Relation store, int nkeys)
{
	List	   *indexes = RelationGetIndexList(store);
	ListCell   *lc;

	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		bool		match = index->rd_index->indisunique &&
			index->rd_index->indnkeyatts == nkeys;
		int			i;

		for (i = 0; match && i < nkeys; i++)
			match = (index->rd_index->indkey.values[i] == i + 1);
		if (match)
			return index;
		index_close(index, AccessShareLock);
	}
	elog(ERROR, "store \"%s\" has no unique index on its keys",
		 RelationGetRelationName(store));
	return NULL;
}

/*
 * group_tids
 *		The store rows of the groups the registered delta touches: those
 *		visible at before into old, those visible at after into new.  Each
 *		distinct group of the delta is looked up through the store's unique
 *		index on its keys, whose NULLs are not distinct, so a NULL key is
 *		searched as IS NULL.  The lists are allocated in the current memory
 *		context.
 */
static void
group_tids(DpPlan *plan, Oid storeid, Snapshot before, Snapshot after,
		   TidList *old, TidList *new)
{
	int			nkeys = list_length(plan->keys);
	Relation	store = table_open(storeid, AccessShareLock);
	Relation	index = store_key_index(store, nkeys);
	RegProcedure *eqprocs = palloc(sizeof(RegProcedure) * nkeys);
	ScanKey		skeys = palloc(sizeof(ScanKeyData) * nkeys);
	TupleTableSlot *slot = table_slot_create(store, NULL);
	IndexScanDesc scans[2];
	StringInfoData sql;
	Portal		portal;
	int			i;

	for (i = 0; i < nkeys; i++)
	{
		Oid			op = get_opfamily_member(index->rd_opfamily[i], index->rd_opcintype[i],
											 index->rd_opcintype[i], BTEqualStrategyNumber);

		if (!OidIsValid(op))
			elog(ERROR, "no equality operator for key %d of store \"%s\"", i + 1,
				 RelationGetRelationName(store));
		eqprocs[i] = get_opcode(op);
	}

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT DISTINCT ");
	for (i = 0; i < nkeys; i++)
		appendStringInfo(&sql, "%sd.%s", i > 0 ? ", " : "",
						 quote_identifier(((TargetEntry *) list_nth(plan->pre->targetList, i))->resname));
	appendStringInfo(&sql, " FROM %s d", DP_DELTA_ENR);

	scans[0] = index_beginscan(store, index, before, nkeys, 0);
	scans[1] = index_beginscan(store, index, after, nkeys, 0);
	portal = SPI_cursor_open_with_args(NULL, sql.data, 0, NULL, NULL, NULL, true, 0);
	for (;;)
	{
		uint64		r;

		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		for (r = 0; r < SPI_processed; r++)
		{
			int			j;

			for (i = 0; i < nkeys; i++)
			{
				bool		isnull;
				Datum		value = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc,
												  i + 1, &isnull);

				if (isnull)
					ScanKeyEntryInitialize(&skeys[i], SK_ISNULL | SK_SEARCHNULL, i + 1,
										   InvalidStrategy, InvalidOid, InvalidOid,
										   InvalidOid, (Datum) 0);
				else
				{
					ScanKeyInit(&skeys[i], i + 1, BTEqualStrategyNumber, eqprocs[i], value);
					skeys[i].sk_collation = index->rd_indcollation[i];
				}
			}
			for (j = 0; j < 2; j++)
			{
				index_rescan(scans[j], skeys, nkeys, NULL, 0);
				while (index_getnext_slot(scans[j], ForwardScanDirection, slot))
					tidlist_add(j == 0 ? old : new, &slot->tts_tid);
			}
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	index_endscan(scans[0]);
	index_endscan(scans[1]);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	table_close(store, AccessShareLock);
}

/* ----------------------------------------------------------------
 * Recomputing
 * ----------------------------------------------------------------
 */

/* What the statement of full_refresh_sql returns. */
typedef enum FullRefreshResult
{
	FR_ROWS,					/* store rows deleted, store rows inserted */
	FR_TIDS,					/* their ctids, as two tid[] */
	FR_COPIES					/* plain rows (__dp_count copies of each store
								 * row): output rows deleted plus inserted */
} FullRefreshResult;

/*
 * full_refresh_sql
 *		The statement that turns the store into the result of target (a
 *		SELECT producing the store's columns in order); it returns what
 *		`result' says.
 */
static char *
full_refresh_sql(Oid store, const char *target, FullRefreshResult result)
{
	Relation	rel = relation_open(store, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	StringInfoData cols;
	StringInfoData keys;
	StringInfoData rowkeys;		/* keys but the count of copies */
	StringInfoData sql;
	char	   *qstore = dataproduct_qualified_name(store);
	int			i;

	initStringInfo(&cols);
	initStringInfo(&keys);
	initStringInfo(&rowkeys);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const char *col;

		if (att->attisdropped)
			continue;
		col = quote_identifier(NameStr(att->attname));
		appendStringInfo(&cols, "%s%s", cols.len > 0 ? ", " : "", col);
		appendStringInfo(&keys, "%s%s", keys.len > 0 ? ", " : "",
						 dataproduct_identity_key(col, att->atttypid));
		if (strcmp(NameStr(att->attname), "__dp_count") != 0)
			appendStringInfo(&rowkeys, "%s%s", rowkeys.len > 0 ? ", " : "",
							 dataproduct_identity_key(col, att->atttypid));
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
					 "   WHERE (__dp_tid IS NOT NULL AND __dp_rn OPERATOR(pg_catalog.>) __dp_news)"
					 "      OR (__dp_tid IS NULL AND __dp_rn OPERATOR(pg_catalog.>) (2 OPERATOR(pg_catalog.*) __dp_olds))),"
					 " __dp_del AS ("
					 "  DELETE FROM %s WHERE ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
					 "    SELECT __dp_tid FROM __dp_chg WHERE __dp_tid IS NOT NULL))"
					 "  RETURNING %s),"
					 " __dp_ins AS ("
					 "  INSERT INTO %s (%s) SELECT %s FROM __dp_chg WHERE __dp_tid IS NULL"
					 "  RETURNING %s)",
					 cols.data, qstore,
					 cols.data, target, cols.data,
					 cols.data,
					 keys.data,
					 qstore, result == FR_TIDS ? "ctid AS t" : "1",
					 qstore, cols.data, cols.data, result == FR_TIDS ? "ctid AS t" : "1");
	switch (result)
	{
		case FR_ROWS:
			appendStringInfoString(&sql,
								   " SELECT (SELECT pg_catalog.count(*) FROM __dp_del),"
								   "        (SELECT pg_catalog.count(*) FROM __dp_ins)");
			break;
		case FR_TIDS:
			appendStringInfoString(&sql,
								   " SELECT coalesce((SELECT pg_catalog.array_agg(t) FROM __dp_del), '{}'),"
								   "        coalesce((SELECT pg_catalog.array_agg(t) FROM __dp_ins), '{}')");
			break;
		case FR_COPIES:
			/* per row, the difference between its copies before and after */
			appendStringInfo(&sql,
							 " SELECT (SELECT pg_catalog.sum(pg_catalog.abs(n))::pg_catalog.int8 FROM"
							 "         (SELECT pg_catalog.sum(CASE WHEN __dp_tid IS NULL THEN __dp_count"
							 "                                     ELSE OPERATOR(pg_catalog.-) __dp_count END) AS n"
							 "            FROM __dp_chg GROUP BY %s) g),"
							 "        (SELECT pg_catalog.count(*) FROM __dp_del),"
							 "        (SELECT pg_catalog.count(*) FROM __dp_ins)",
							 rowkeys.data);
			break;
	}
	return sql.data;
}

/*
 * dataproduct_full_refresh
 *		Make the store equal to target (a SELECT producing the store's
 *		columns in order) at snap, changing only the rows that differ.
 *		plan is that of an incrementally maintained output, or NULL for a
 *		full-mode one (whose store rows are its output rows).  Sets res: the
 *		output's rows deleted plus rows inserted, the store's new row count,
 *		and no written rows (the whole store is to be checked).
 */
void
dataproduct_full_refresh(Snapshot snap, Oid store, const char *target,
						 DpPlan *plan, DpApplyResult *res)
{
	if (plan == NULL)
	{
		dataproduct_run_at(snap, full_refresh_sql(store, target, FR_ROWS), 0, NULL,
						   NULL, NULL, SPI_OK_SELECT, true);
		res->changed = dataproduct_result_int8(1) + dataproduct_result_int8(2);
	}
	else if (plan->expand)
	{
		dataproduct_run_at(snap, full_refresh_sql(store, target, FR_COPIES), 0, NULL,
						   NULL, NULL, SPI_OK_SELECT, true);
		res->changed = dataproduct_result_int8(1);
	}
	else
	{
		Snapshot	before = snapshot_as_of_now(snap);
		Snapshot	after;
		bool		isnull;
		Datum		deleted;
		Datum		inserted;

		dataproduct_run_at(snap, full_refresh_sql(store, target, FR_TIDS), 0, NULL,
						   NULL, NULL, SPI_OK_SELECT, true);
		deleted = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		inserted = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		after = snapshot_as_of_now(snap);
		res->changed = output_change(plan, store, before, after, deleted, inserted);
		UnregisterSnapshot(after);
		UnregisterSnapshot(before);
	}
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
 *		An UPDATE of columns the output does not read cancels out (see
 *		"Cancelling images").
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
	Oid			argtypes[2] = {PG_SNAPSHOTOID, PG_SNAPSHOTOID};
	Datum		values[2] = {snapdatum, old_snap};

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
		b->store = run_into_enr(b->name, dataproduct_batch_sql(relid, log, attnos),
								2, argtypes, values, true);
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
merge_delta(Snapshot snap, DpPlan *plan, Oid store, const char *qstore,
			const char *qpre, DpApplyResult *res)
{
	Snapshot	before = plan->expand ? NULL : snapshot_as_of_now(snap);
	Snapshot	after;
	TidList		old_tids = {NULL, 0, 0};
	TidList		new_tids = {NULL, 0, 0};

	if (!plan->has_other)
	{
		bool		isnull;
		Datum		emptied;

		/*
		 * Groups whose count reaches zero go; their row ids come back from
		 * the merge so that no index on the count (which would make every
		 * update of a group non-HOT) is needed to find them.
		 */
		dataproduct_run_at(snap, psprintf("WITH u AS (%s RETURNING ctid AS tid, __dp_count AS n, (xmax OPERATOR(pg_catalog.=) 0) AS inserted)"
										  " SELECT pg_catalog.count(*) FILTER (WHERE inserted),"
										  "        pg_catalog.array_agg(tid) FILTER (WHERE n OPERATOR(pg_catalog.<=) 0),"
										  "        pg_catalog.array_agg(tid) FILTER (WHERE n OPERATOR(pg_catalog.>) 0) FROM u",
										  dataproduct_upsert_sql(plan, qstore)),
						   0, NULL, NULL, NULL, SPI_OK_SELECT, false);
		res->row_count += dataproduct_result_int8(1);
		emptied = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		add_written(res, 3);	/* may run a statement: read emptied first */
		if (!isnull && !plan->global)
		{
			Oid			tidarray = TIDARRAYOID;

			dataproduct_run_at(snap, psprintf("DELETE FROM %s WHERE ctid OPERATOR(pg_catalog.=) ANY ($1)", qstore),
							   1, &tidarray, &emptied, NULL, SPI_OK_DELETE, true);
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
			dataproduct_run_at(snap, psprintf("WITH u AS (%s RETURNING ctid AS tid, (xmax OPERATOR(pg_catalog.=) 0) AS inserted)"
											  " SELECT pg_catalog.count(*) FILTER (WHERE inserted),"
											  "        pg_catalog.array_agg(tid) FROM u",
											  dataproduct_recompute_sql(plan, qstore, qpre)),
							   plan->global ? 0 : nparams, types, values, nulls,
							   SPI_OK_SELECT, true);
			res->row_count += dataproduct_result_int8(1);
			add_written(res, 2);
			/* recomputed groups that have no rows left */
			if (!plan->global)
			{
				dataproduct_run_at(snap, dataproduct_delete_empty_sql(plan, qstore),
								   nparams, types, values, nulls, SPI_OK_DELETE, true);
				res->row_count -= SPI_processed;
			}
		}
	}

	if (plan->expand)
	{
		/* plain rows: a row's copies change by its net weight in the batch */
		StringInfoData sql;
		int			i;

		initStringInfo(&sql);
		appendStringInfoString(&sql, "SELECT pg_catalog.sum(pg_catalog.abs(n))::pg_catalog.int8 FROM"
							   " (SELECT pg_catalog.sum(d.__dp_w) AS n FROM " DP_DELTA_ENR " d GROUP BY ");
		for (i = 0; i < list_length(plan->keys); i++)
			appendStringInfo(&sql, "%sd.%s", i > 0 ? ", " : "",
							 quote_identifier(((TargetEntry *) list_nth(plan->pre->targetList, i))->resname));
		appendStringInfoString(&sql, ") g");
		dataproduct_run_at(snap, sql.data, 0, NULL, NULL, NULL, SPI_OK_SELECT, false);
		res->changed += dataproduct_result_int8(1);
		return;
	}

	/* what the output's rows of the touched groups were, and are */
	after = snapshot_as_of_now(snap);
	group_tids(plan, store, before, after, &old_tids, &new_tids);
	res->changed += output_change(plan, store, before, after,
								  tidlist_datum(&old_tids), tidlist_datum(&new_tids));
	UnregisterSnapshot(after);
	UnregisterSnapshot(before);
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
	{
		Oid			argtypes[2] = {PG_SNAPSHOTOID, PG_SNAPSHOTOID};
		Datum		values[2] = {a->snapdatum, a->old_snap};

		delta = dataproduct_run_into_enr(DP_DELTA_ENR, delta_sql, 2, argtypes, values);
	}
	if (tuplestore_tuple_count(delta) > 0)
		merge_delta(a->snap, a->plan, a->output->store, qstore, qpre, a->res);
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
