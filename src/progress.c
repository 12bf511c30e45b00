/*-------------------------------------------------------------------------
 *
 * progress.c
 *	  Progress of long recomputations: how many rows of its sources a first
 *	  load, a rebuild or a full refresh has read so far.
 *
 * A recomputation is one statement (refresh.c, apply.c) that may run for
 * minutes on a large system of record.  While it runs, this backend's slot
 * in shared memory says which output is recomputed, why, since when, and
 * how many rows its source tables have returned so far against how many
 * they hold (their reltuples, once analysed).  The view
 * dataproduct.load_progress reads the slots of the current database.
 *
 * Rows read are this backend's own table access counters (pgstat's pending
 * counts of the source tables: tuples returned by scans plus tuples fetched
 * through indexes), which the executor bumps as it goes and which are not
 * freed before the transaction ends.  The statement cannot report them
 * itself while it runs, so a timer does: every DP_PROGRESS_INTERVAL_MS its
 * handler, in signal context, sums the counters and writes them into the
 * slot.  The handler only reads memory prepared before the timer starts and
 * writes the slot; it takes no lock and allocates nothing.
 *
 * Slots are indexed by backend id; each is written by its own backend only
 * (its main code while the timer is off, or the timer's handler) under a
 * change counter, as pgstat writes backend status, and readers retry until
 * they copy a consistent slot.  A failed statement leaves no slot behind:
 * the transaction callback clears it, as the exit callback does when the
 * process ends.  Without the library in shared_preload_libraries there are
 * no slots and the view is empty.
 *
 * IDENTIFICATION
 *	  src/progress.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "rewrite/rewriteHandler.h"
#include "storage/backendid.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "progress.h"

PG_FUNCTION_INFO_V1(dataproduct_load_progress);

#define DP_PROGRESS_INTERVAL_MS 100
#define DP_PROGRESS_MAX_RELATIONS 256
#define DP_PROGRESS_KIND_LEN 16

typedef struct DpProgressSlot
{
	pg_atomic_uint32 changecount;	/* odd while being written */
	Oid			dbid;
	int			pid;
	int64		output_id;		/* 0: no recomputation running */
	char		kind[DP_PROGRESS_KIND_LEN];
	TimestampTz started;
	int64		rows_read;
	int64		rows_total;		/* -1: unknown (a source never analysed) */
	int			relations;		/* source tables counted */
} DpProgressSlot;

static DpProgressSlot *progress_slots = NULL;
static int	progress_nslots = 0;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*
 * This backend's recomputation, as the timer's handler reads it: the
 * pending table counters of the sources (NULL for a source whose counts
 * are off) and their values when it began.
 */
static TimeoutId progress_timeout;
static bool progress_timeout_registered = false;
static volatile sig_atomic_t progress_active = false;
static int	progress_nrels = 0;
static PgStat_TableStatus *progress_counts[DP_PROGRESS_MAX_RELATIONS];
static int64 progress_base[DP_PROGRESS_MAX_RELATIONS];

/* ----------------------------------------------------------------
 * Shared memory
 * ----------------------------------------------------------------
 */

static Size
progress_shmem_size(void)
{
	return mul_size(MaxBackends, sizeof(DpProgressSlot));
}

static void
progress_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(progress_shmem_size()));
}

static void
progress_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	progress_slots = ShmemInitStruct("pg_dataproduct progress",
									 progress_shmem_size(), &found);
	progress_nslots = MaxBackends;
	if (!found)
	{
		int			i;

		memset(progress_slots, 0, progress_shmem_size());
		for (i = 0; i < progress_nslots; i++)
			pg_atomic_init_u32(&progress_slots[i].changecount, 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* This backend's slot, or NULL without shared memory. */
static DpProgressSlot *
my_slot(void)
{
	if (progress_slots == NULL || MyBackendId == InvalidBackendId ||
		MyBackendId > progress_nslots)
		return NULL;
	return &progress_slots[MyBackendId - 1];
}

static inline void
slot_write_begin(DpProgressSlot *slot)
{
	pg_atomic_fetch_add_u32(&slot->changecount, 1);
	pg_write_barrier();
}

static inline void
slot_write_end(DpProgressSlot *slot)
{
	pg_write_barrier();
	pg_atomic_fetch_add_u32(&slot->changecount, 1);
}

/* ----------------------------------------------------------------
 * The recomputing backend
 * ----------------------------------------------------------------
 */

/* Rows the sources returned since the recomputation began. */
static int64
rows_read(void)
{
	int64		sum = 0;
	int			i;

	for (i = 0; i < progress_nrels; i++)
		if (progress_counts[i] != NULL)
			sum += progress_counts[i]->t_counts.t_tuples_returned +
				progress_counts[i]->t_counts.t_tuples_fetched - progress_base[i];
	return sum;
}

/* The timer's handler, in signal context: publish the rows read. */
static void
progress_tick(void)
{
	DpProgressSlot *slot = my_slot();

	if (!progress_active || slot == NULL)
		return;
	slot_write_begin(slot);
	slot->rows_read = rows_read();
	slot_write_end(slot);
}

typedef struct CollectContext
{
	List	   *relids;			/* tables read, partitions included */
	List	   *views;			/* views expanded (a view's rule reads itself) */
} CollectContext;

static bool collect_walker(Node *node, CollectContext *ctx);

/* The tables a relation of a query reads: itself, its partitions, a view's. */
static void
collect_relation(Oid relid, CollectContext *ctx)
{
	Relation	rel;
	char		relkind;

	if (list_member_oid(ctx->relids, relid) || list_member_oid(ctx->views, relid) ||
		list_length(ctx->relids) >= DP_PROGRESS_MAX_RELATIONS)
		return;
	rel = relation_open(relid, AccessShareLock);
	relkind = rel->rd_rel->relkind;
	if (relkind == RELKIND_VIEW)
	{
		Query	   *view = copyObject(get_view_query(rel));

		relation_close(rel, NoLock);
		ctx->views = lappend_oid(ctx->views, relid);
		(void) query_tree_walker(view, collect_walker, ctx, QTW_EXAMINE_RTES_BEFORE);
		return;
	}
	relation_close(rel, NoLock);
	if (relkind == RELKIND_PARTITIONED_TABLE)
	{
		ListCell   *lc;

		foreach(lc, find_all_inheritors(relid, AccessShareLock, NULL))
			if (get_rel_relkind(lfirst_oid(lc)) != RELKIND_PARTITIONED_TABLE &&
				list_length(ctx->relids) < DP_PROGRESS_MAX_RELATIONS)
				ctx->relids = list_append_unique_oid(ctx->relids, lfirst_oid(lc));
	}
	else if (relkind == RELKIND_RELATION || relkind == RELKIND_MATVIEW)
		ctx->relids = lappend_oid(ctx->relids, relid);
}

static bool
collect_walker(Node *node, CollectContext *ctx)
{
	if (node == NULL)
		return false;
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		if (rte->rtekind == RTE_RELATION)
			collect_relation(rte->relid, ctx);
		return false;
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, collect_walker, ctx,
								 QTW_EXAMINE_RTES_BEFORE);
	return expression_tree_walker(node, collect_walker, ctx);
}

/*
 * dataproduct_progress_begin
 *		Show that this backend starts recomputing an output from the tables
 *		query_view reads (views expanded), for the reason kind, and start
 *		the timer that reports the rows read.  Call
 *		dataproduct_progress_end when the statement is done; an error
 *		clears the slot at the end of the transaction.
 */
void
dataproduct_progress_begin(int64 output_id, const char *kind, Oid query_view)
{
	DpProgressSlot *slot = my_slot();
	CollectContext ctx = {NIL, NIL};
	double		total = 0;
	bool		known = true;
	ListCell   *lc;

	if (slot == NULL)
		return;

	/* shown at once, also while the sources' locks are awaited */
	progress_active = false;
	progress_nrels = 0;
	slot_write_begin(slot);
	slot->dbid = MyDatabaseId;
	slot->pid = MyProcPid;
	slot->output_id = output_id;
	strlcpy(slot->kind, kind, sizeof(slot->kind));
	slot->started = GetCurrentTimestamp();
	slot->rows_read = 0;
	slot->rows_total = -1;
	slot->relations = 0;
	slot_write_end(slot);

	collect_relation(query_view, &ctx);
	foreach(lc, ctx.relids)
	{
		Relation	rel = relation_open(lfirst_oid(lc), AccessShareLock);
		int			i = progress_nrels++;

		if (rel->rd_rel->reltuples < 0)
			known = false;
		else
			total += rel->rd_rel->reltuples;
		/* associates the relation with its pending counts, which stay */
		progress_counts[i] = pgstat_should_count_relation(rel) ? rel->pgstat_info : NULL;
		progress_base[i] = progress_counts[i] == NULL ? 0 :
			progress_counts[i]->t_counts.t_tuples_returned +
			progress_counts[i]->t_counts.t_tuples_fetched;
		relation_close(rel, NoLock);
	}
	list_free(ctx.relids);
	list_free(ctx.views);

	slot_write_begin(slot);
	slot->rows_total = known ? (int64) total : -1;
	slot->relations = progress_nrels;
	slot_write_end(slot);

	if (!progress_timeout_registered)
	{
		progress_timeout = RegisterTimeout(USER_TIMEOUT, progress_tick);
		progress_timeout_registered = true;
	}
	progress_active = true;
	enable_timeout_every(progress_timeout,
						 TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													 DP_PROGRESS_INTERVAL_MS),
						 DP_PROGRESS_INTERVAL_MS);
}

/* Stop the timer and clear the slot. */
static void
progress_clear(void)
{
	DpProgressSlot *slot = my_slot();

	progress_active = false;
	if (progress_timeout_registered)
		disable_timeout(progress_timeout, false);
	progress_nrels = 0;
	if (slot == NULL || slot->output_id == 0)
		return;
	slot_write_begin(slot);
	slot->output_id = 0;
	slot->dbid = InvalidOid;
	slot->pid = 0;
	slot_write_end(slot);
}

/* The recomputation begun by dataproduct_progress_begin is done. */
void
dataproduct_progress_end(void)
{
	progress_clear();
}

static void
progress_xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		progress_clear();
}

static void
progress_exit(int code, Datum arg)
{
	(void) code;
	(void) arg;
	progress_clear();
}

/*
 * dataproduct_progress_init
 *		From _PG_init: the callbacks in every backend; with the library
 *		preloaded, the shared memory hooks.
 */
void
dataproduct_progress_init(void)
{
	RegisterXactCallback(progress_xact_callback, NULL);
	before_shmem_exit(progress_exit, (Datum) 0);
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = progress_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = progress_shmem_startup;
}

/* ----------------------------------------------------------------
 * Readers
 * ----------------------------------------------------------------
 */

/*
 * load_progress() returns setof record (pid, output_id, kind, started,
 * rows_read, rows_total, relations): the recomputations running in the
 * current database.  The view dataproduct.load_progress shows those of
 * the outputs the caller may see.
 */
Datum
dataproduct_load_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < progress_nslots && progress_slots != NULL; i++)
	{
		DpProgressSlot *shared = &progress_slots[i];
		DpProgressSlot copy;
		Datum		values[7];
		bool		nulls[7] = {false};
		int			tries;

		for (tries = 0; tries < 1000; tries++)
		{
			uint32		before = pg_atomic_read_u32(&shared->changecount);

			pg_read_barrier();
			memcpy(&copy, shared, sizeof(copy));
			pg_read_barrier();
			if (before % 2 == 0 &&
				before == pg_atomic_read_u32(&shared->changecount))
				break;
			CHECK_FOR_INTERRUPTS();
		}
		if (tries == 1000 || copy.output_id == 0 || copy.dbid != MyDatabaseId)
			continue;
		copy.kind[DP_PROGRESS_KIND_LEN - 1] = '\0';
		values[0] = Int32GetDatum(copy.pid);
		values[1] = Int64GetDatum(copy.output_id);
		values[2] = CStringGetTextDatum(copy.kind);
		values[3] = TimestampTzGetDatum(copy.started);
		values[4] = Int64GetDatum(copy.rows_read);
		values[5] = Int64GetDatum(copy.rows_total);
		nulls[5] = copy.rows_total < 0;
		values[6] = Int32GetDatum(copy.relations);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
