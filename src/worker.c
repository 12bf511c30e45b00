/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  Background workers that keep outputs fresh.
 *
 * With the library in shared_preload_libraries, outputs refresh on their own:
 *
 *	 launcher         (static, "pg_dataproduct launcher", no database)
 *	   reads pg_database and starts one scheduler per database that can take
 *	   connections; a database without the extension is remembered as such
 *	   and costs nothing until CREATE EXTENSION calls wake_workers().
 *	 scheduler        (dynamic, "pg_dataproduct scheduler", one per database)
 *	   sleeps on its latch; a commit that changed a captured source sets the
 *	   database's wake flag and the latch (from the committing backend's
 *	   transaction callback: never on rollback).  Awake, it lists the outputs
 *	   due -- never loaded, with pending changes (known from commit counts
 *	   in shared memory, see ChangeState), on schedule -- holding back
 *	   those within their min_interval or retry backoff, and hands them to
 *	 refresh workers (dynamic, "pg_dataproduct refresh", a pool of at most
 *	   dataproduct.max_workers per database), in dependency order: outputs
 *	   that read other outputs after those, a level only once the level
 *	   before is done.  The pool lives in the database's shared memory slot
 *	   (shmem.h): the scheduler hands an output to an idle worker by setting
 *	   its latch, or starts a new worker when none is idle and the pool has
 *	   room, and waits on its own latch for the workers to say they are
 *	   done.  A worker stays alive between refreshes (a process start, a
 *	   connection and cold caches saved each time), idle on its latch, and
 *	   exits after dataproduct.worker_idle_timeout without work, when its
 *	   scheduler leaves or the slot is stopped (DROP DATABASE, DROP
 *	   EXTENSION: ddl.c), on SIGTERM, or when its caches have grown past
 *	   WORKER_MEMORY_LIMIT; one that dies mid-refresh is noticed
 *	   through its handle (the postmaster sets the scheduler's latch) and
 *	   replaced.  Each refresh runs in a transaction of its own, so a crash
 *	   loses or doubles nothing; a failure is recorded with its error and
 *	   retried with exponential backoff, and does not hold up other outputs.
 *	   Refresh workers connect as the bootstrap superuser but, like
 *	   dataproduct.refresh(), run output queries only as the product owner
 *	   in a security-restricted operation.
 *
 * After a restore from a dump, the outputs' catalog rows carry another
 * cluster's origin (their snapshots and logs mean nothing here): they are
 * due, to rebuild, but not while the restore runs, which creates the
 * grants their owners need (and the capture triggers) only at its end.  So
 * while a pg_restore session is connected to the database, the scheduler
 * holds restored outputs back, and looks again every second.  A restore it
 * cannot see (a plain dump through psql) may still make a refresh fail for
 * want of a privilege: such a failure of a restored output is deferred,
 * not recorded as one (no failures, no last_error, a line in
 * refresh_history), and retried within seconds, for RESTORE_GRACE after
 * the first; after that it counts like any other.
 *
 * Each round the scheduler also ends self-service access whose until has
 * passed (access.c: the REVOKE runs as the output view's owner, the end is
 * recorded in dataproduct.access_request); nothing to end costs two index
 * probes.
 *
 * The scheduler sleeps until the earliest moment something can become due
 * (a min_interval or backoff ending, a schedule, an access's until), at most
 * dataproduct.naptime: no busy polling.  DROP DATABASE (and the ALTER
 * DATABASE forms that need the database to themselves) stop its scheduler
 * and its refresh workers first (ddl.c, shmem.c).
 *
 * The wake-up at commit and the slots the launcher and schedulers share
 * live in shared memory (shmem.c, which documents the locking).  This file
 * is a driver on top: the refresh itself is refresh.c's; the failure
 * policy (record, back off, retry, never end the worker) is this file's.
 *
 * IDENTIFICATION
 *	  src/worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "access.h"
#include "catalog.h"
#include "exec.h"
#include "guc.h"
#include "quality.h"
#include "refresh.h"
#include "shmem.h"
#include "worker.h"

PGDLLEXPORT void dataproduct_launcher_main(Datum arg);
PGDLLEXPORT void dataproduct_scheduler_main(Datum arg);
PGDLLEXPORT void dataproduct_refresh_worker_main(Datum arg);

/*
 * dataproduct_worker_init
 *		From _PG_init, with the library preloaded: register the launcher.
 */
void
dataproduct_worker_init(void)
{
	BackgroundWorker worker;

	if (!process_shared_preload_libraries_in_progress)
		return;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_dataproduct");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "dataproduct_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_dataproduct launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "pg_dataproduct launcher");
	RegisterBackgroundWorker(&worker);
}

/* ----------------------------------------------------------------
 * Launcher
 * ----------------------------------------------------------------
 */

static BackgroundWorkerHandle *
start_worker(const char *function, const char *type, Datum arg, Oid dbid)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_dataproduct");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker.bgw_name, BGW_MAXLEN, "%s", type);
	snprintf(worker.bgw_type, BGW_MAXLEN, "%s", type);
	worker.bgw_main_arg = arg;
	/* the database, and who started the worker (a pool's scheduler) */
	memcpy(worker.bgw_extra, &dbid, sizeof(Oid));
	memcpy(worker.bgw_extra + sizeof(Oid), &MyProcPid, sizeof(pid_t));
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return NULL;
	return handle;
}

/*
 * list_databases
 *		The databases that can take connections, as a list allocated in the
 *		caller's memory context (current again on return).
 */
static List *
list_databases(void)
{
	List	   *result = NIL;
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tuple;
	MemoryContext outer = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tuple);

		if (db->datallowconn && !db->datistemplate)
		{
			MemoryContext old = MemoryContextSwitchTo(outer);

			result = lappend_oid(result, db->oid);
			MemoryContextSwitchTo(old);
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	MemoryContextSwitchTo(outer);
	return result;
}

void
dataproduct_launcher_main(Datum arg)
{
	BackgroundWorkerHandle *handles[DP_MAX_DATABASES] = {0};
	TimestampTz started[DP_MAX_DATABASES] = {0};
	Oid			started_db[DP_MAX_DATABASES] = {0};
	MemoryContext loop_cxt;

	(void) arg;
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	LWLockAcquire(dataproduct_shared->lock, LW_EXCLUSIVE);
	dataproduct_shared->launcher_latch = MyLatch;
	LWLockRelease(dataproduct_shared->lock);

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "pg_dataproduct launcher",
									 ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		long		timeout = 10000L;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (dataproduct_enabled)
		{
			List	   *dbs;
			int			i;
			MemoryContext old = MemoryContextSwitchTo(loop_cxt);

			pgstat_report_activity(STATE_RUNNING, "starting schedulers");
			dbs = list_databases();
			for (i = 0; i < DP_MAX_DATABASES; i++)
			{
				DpDatabaseSlot *slot = &dataproduct_shared->dbs[i];
				Oid			dbid;
				bool		start;
				pid_t		pid;

				LWLockAcquire(dataproduct_shared->lock, LW_EXCLUSIVE);
				dbid = slot->dbid;
				if (OidIsValid(dbid) && !list_member_oid(dbs, dbid) &&
					slot->scheduler_pid == 0)
					slot->dbid = dbid = InvalidOid; /* dropped database */
				start = OidIsValid(dbid) && slot->scheduler_pid == 0 &&
					!slot->no_extension && !slot->stop;
				LWLockRelease(dataproduct_shared->lock);

				/* a scheduler we started may not have registered yet */
				if (start && handles[i] != NULL &&
					GetBackgroundWorkerPid(handles[i], &pid) != BGWH_STOPPED)
					start = false;
				/* one that failed is restarted at most every two seconds */
				if (start && started_db[i] == dbid &&
					!TimestampDifferenceExceeds(started[i], GetCurrentTimestamp(), 2000))
				{
					start = false;
					timeout = Min(timeout, 2000L);	/* come back when allowed */
				}
				if (start)
				{
					/* handles outlive the loop's memory */
					MemoryContext hold = MemoryContextSwitchTo(TopMemoryContext);

					if (handles[i] != NULL)
						pfree(handles[i]);
					handles[i] = start_worker("dataproduct_scheduler_main",
											  "pg_dataproduct scheduler",
											  ObjectIdGetDatum(dbid), dbid);
					MemoryContextSwitchTo(hold);
					started[i] = GetCurrentTimestamp();
					started_db[i] = dbid;
				}
			}
			/* databases seen for the first time get a slot and a scheduler */
			{
				ListCell   *lc;

				foreach(lc, dbs)
				{
					Oid			dbid = lfirst_oid(lc);
					bool		known;

					LWLockAcquire(dataproduct_shared->lock, LW_SHARED);
					known = (dataproduct_find_slot(dbid, false) != NULL);
					LWLockRelease(dataproduct_shared->lock);
					if (!known)
					{
						LWLockAcquire(dataproduct_shared->lock, LW_EXCLUSIVE);
						(void) dataproduct_find_slot(dbid, true);
						LWLockRelease(dataproduct_shared->lock);
						SetLatch(MyLatch);	/* start it in the next round */
					}
				}
			}
			MemoryContextSwitchTo(old);
			MemoryContextReset(loop_cxt);
			pgstat_report_activity(STATE_IDLE, NULL);
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ----------------------------------------------------------------
 * Scheduler
 * ----------------------------------------------------------------
 */

static DpDatabaseSlot *my_slot = NULL;

/* the handles of the pool's workers this scheduler started, by slot */
static BackgroundWorkerHandle *pool_handles[DP_MAX_WORKERS];

/* The scheduler leaves: so do its idle workers, which it wakes to see it. */
static void
scheduler_detach(int code, Datum arg)
{
	Latch	   *latches[DP_MAX_WORKERS];
	int			n = 0;
	int			i;

	(void) code;
	(void) arg;
	if (my_slot == NULL)
		return;
	LWLockAcquire(dataproduct_shared->lock, LW_EXCLUSIVE);
	my_slot->scheduler_pid = 0;
	my_slot->latch = NULL;
	for (i = 0; i < DP_MAX_WORKERS; i++)
		if (my_slot->workers[i].latch != NULL)
			latches[n++] = my_slot->workers[i].latch;
	LWLockRelease(dataproduct_shared->lock);
	for (i = 0; i < n; i++)
		SetLatch(latches[i]);
}

/* how long a restored output's privilege failures are deferred (see header) */
#define RESTORE_GRACE	"10 minutes"

typedef struct DueOutput
{
	int64		id;
	int			depth;
} DueOutput;

/*
 * Which incrementally maintained outputs have changes to apply.  The
 * scheduler does not read the change logs for that: per output, it keeps
 * the sum of its logs' commit counts (shmem.c) when it last handed the
 * output to a worker, and adopts it as seen once the output's refresh
 * count (its statistics counters) shows that a refresh succeeded since;
 * an output whose counts moved from what it has seen is changed.  A
 * refresh that failed or was cut short leaves it changed (but one that
 * failed while a manual refresh with an older snapshot succeeded may
 * adopt counts that refresh did not see: the full check finds them).  Once every
 * dataproduct.naptime, and when the scheduler starts, the logs are read
 * instead (dataproduct.pending_changes), which also finds the changes of
 * prepared transactions, committed by backends that did not count them.
 */
typedef struct ChangeState
{
	int64		output_id;		/* hash key */
	bool		seen_valid;
	uint64		seen;			/* counts its last successful refresh saw */
	bool		handed;			/* handed to a worker, success not seen yet */
	uint64		handed_counts;
	int64		handed_refreshes;
	uint64		counts;			/* this round's */
	int64		refreshes;		/* this round's refresh count */
	bool		listed;			/* still an incremental output */
} ChangeState;

static HTAB *change_states = NULL;
static TimestampTz last_full_check = 0;

/*
 * changed_outputs
 *		The incrementally maintained outputs whose logs' commit counts moved
 *		since their last successful refresh, as an int8[] for the due
 *		query (see ChangeState).  SPI connected.
 */
static Datum
changed_outputs(DpDatabaseSlot *counts)
{
	List	   *changed = NIL;
	Datum	   *elems;
	ListCell   *lc;
	HASH_SEQ_STATUS seq;
	ChangeState *st;
	uint64		i;

	if (change_states == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(ChangeState);
		ctl.hcxt = TopMemoryContext;
		change_states = hash_create("pg_dataproduct change states", 64, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	hash_seq_init(&seq, change_states);
	while ((st = hash_seq_search(&seq)) != NULL)
		st->listed = false;

	dataproduct_spi_exec("SELECT o.output_id,"
						 "       o.incremental_refreshes::pg_catalog.int8"
						 "         OPERATOR(pg_catalog.+) o.rebuilds OPERATOR(pg_catalog.+) o.full_refreshes,"
						 "       pg_catalog.array_agg(s.log::pg_catalog.oid)"
						 "  FROM dataproduct.output o"
						 "  JOIN dataproduct.output_source os ON os.output_id OPERATOR(pg_catalog.=) o.output_id"
						 "  JOIN dataproduct.source s ON s.source_id OPERATOR(pg_catalog.=) os.source_id"
						 " WHERE o.mode OPERATOR(pg_catalog.=) 'incremental'"
						 " GROUP BY o.output_id",
						 0, NULL, NULL, NULL, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
		int64		refreshes = DatumGetInt64(SPI_getbinval(tuple, desc, 2, &isnull));
		ArrayType  *logs = DatumGetArrayTypeP(SPI_getbinval(tuple, desc, 3, &isnull));
		Datum	   *log_oids;
		int			nlogs;
		int			j;
		bool		found;

		deconstruct_array(logs, OIDOID, sizeof(Oid), true, TYPALIGN_INT,
						  &log_oids, NULL, &nlogs);
		st = hash_search(change_states, &id, HASH_ENTER, &found);
		if (!found)
		{
			st->seen_valid = false;
			st->handed = false;
		}
		st->listed = true;
		st->counts = 0;
		for (j = 0; j < nlogs; j++)
			st->counts += dataproduct_capture_commits(counts, DatumGetObjectId(log_oids[j]));
		st->refreshes = isnull ? -1 : refreshes;
		if (st->handed && st->refreshes > st->handed_refreshes)
		{
			st->seen = st->handed_counts;
			st->seen_valid = true;
			st->handed = false;
		}
		if (!st->seen_valid || st->seen != st->counts)
			changed = lappend(changed, st);
	}

	/* dropped outputs and those refreshed in full now */
	hash_seq_init(&seq, change_states);
	while ((st = hash_seq_search(&seq)) != NULL)
		if (!st->listed)
			(void) hash_search(change_states, &st->output_id, HASH_REMOVE, NULL);

	elems = palloc(sizeof(Datum) * Max(list_length(changed), 1));
	foreach(lc, changed)
		elems[foreach_current_index(lc)] = Int64GetDatum(((ChangeState *) lfirst(lc))->output_id);
	return PointerGetDatum(construct_array(elems, list_length(changed), INT8OID,
										   sizeof(int64), true, TYPALIGN_DOUBLE));
}

/* The scheduler hands an output to a worker: its counts, once refreshed. */
static void
note_handed(int64 id)
{
	ChangeState *st;

	if (change_states == NULL ||
		(st = hash_search(change_states, &id, HASH_FIND, NULL)) == NULL)
		return;
	st->handed = true;
	st->handed_counts = st->counts;
	st->handed_refreshes = st->refreshes;
}

/*
 * due_outputs
 *		The outputs to refresh now, in dependency order, and in *wait_ms how
 *		long until another may become due (-1: only on a wake-up).  Returns
 *		false if the extension is gone.  Runs a transaction of its own; the
 *		list is allocated in the caller's memory context.
 */
static bool
due_outputs(List **due, long *wait_ms)
{
	MemoryContext outer = CurrentMemoryContext;
	bool		installed;
	uint64		i;
	DpDatabaseSlot *counts = palloc(sizeof(DpDatabaseSlot));
	bool		full_check;

	/* read before any refresh of this round takes its snapshot */
	(void) dataproduct_capture_commits(counts, InvalidOid);
	full_check = change_states == NULL ||
		TimestampDifferenceExceeds(last_full_check, GetCurrentTimestamp(),
								   dataproduct_naptime);
	if (full_check)
		last_full_check = GetCurrentTimestamp();

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "looking for outputs to refresh");
	installed = OidIsValid(get_extension_oid("pg_dataproduct", true));
	*due = NIL;
	*wait_ms = -1;
	if (installed)
	{
		Oid			argtypes[3] = {TEXTOID, BOOLOID, INT8ARRAYOID};
		Datum		values[3] = {CStringGetTextDatum(dataproduct_origin()),
		BoolGetDatum(full_check), (Datum) 0};

		dataproduct_spi_connect();
		values[2] = changed_outputs(counts);
		/* keep the history within its retention */
		dataproduct_spi_exec(psprintf("DELETE FROM dataproduct.refresh_history"
									  " WHERE started_at < pg_catalog.now() - interval '%d days'",
									  dataproduct_history_days),
							 0, NULL, NULL, NULL, SPI_OK_DELETE);
		dataproduct_spi_exec(psprintf("DELETE FROM dataproduct.check_result"
									  " WHERE checked_at < pg_catalog.now() - interval '%d days'",
									  dataproduct_history_days),
							 0, NULL, NULL, NULL, SPI_OK_DELETE);
		/* access whose until has passed is revoked; wake for the next one */
		{
			long		access_ms;

			(void) dataproduct_access_expire(true, &access_ms);
			*wait_ms = access_ms;
		}
		/*
		 * Restored outputs (another origin) want a rebuild, but are held
		 * while a pg_restore session is connected to this database.
		 *
		 * Times are compared in seconds since the epoch, as numeric (which
		 * has infinities), never with timestamp + interval: whatever the
		 * catalog holds (a million-year interval, of either sign, or an
		 * infinite timestamp), nothing here can overflow, so one output
		 * cannot stop the scheduler.  A month counts 30.4375 days.
		 */
		dataproduct_spi_exec(
							 "WITH RECURSIVE reads(output_id, upstream) AS ("
							 "  SELECT os.output_id, up.output_id"
							 "    FROM dataproduct.output_source os"
							 "    JOIN dataproduct.source s USING (source_id)"
							 "    JOIN dataproduct.output up ON up.store = s.relation),"
							 " depth(output_id, d) AS ("
							 "  SELECT output_id, 0 FROM dataproduct.output"
							 "  UNION ALL"
							 "  SELECT r.output_id, depth.d + 1 FROM reads r JOIN depth ON depth.output_id = r.upstream"
							 "   WHERE depth.d < 16),"
							 " restoring(yes) AS ("
							 "  SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a"
							 "                  WHERE a.datname = pg_catalog.current_database()"
							 "                    AND a.application_name = 'pg_restore'"
							 "                    AND a.pid <> pg_catalog.pg_backend_pid())),"
							 " state AS ("
							 "  SELECT o.output_id, (SELECT max(d) FROM depth WHERE depth.output_id = o.output_id) AS d,"
							 "         o.status = 'empty'"
							 "         OR o.origin IS DISTINCT FROM $1"
							 "         OR (o.mode = 'incremental' AND CASE WHEN $2"
							 "               THEN (dataproduct.pending_changes(o.view)).pending > 0"
							 "               ELSE o.output_id = ANY ($3) END) AS changed,"
							 "         o.origin IS DISTINCT FROM $1 AND (SELECT yes FROM restoring) AS restoring,"
							 "         extract(epoch FROM pg_catalog.now()) AS now_s,"
							 "         extract(epoch FROM o.last_refresh) AS last_s,"
							 "         extract(epoch FROM o.min_interval) AS min_s,"
							 "         CASE WHEN coalesce(o.schedule, '0') > '0' THEN extract(epoch FROM o.schedule) END AS every_s,"
							 "         extract(epoch FROM o.next_retry) AS retry_s"
							 "    FROM dataproduct.output o JOIN dataproduct.product p USING (product_id)"
							 "   WHERE p.status <> 'retired'),"
							 " timing AS ("
							 "  SELECT output_id, d, now_s, restoring,"
							 "         coalesce(changed OR (every_s IS NOT NULL"
							 "                  AND now_s >= coalesce(last_s, '-Infinity') + every_s), false) AS wants,"
							 "         greatest(last_s + min_s, retry_s) AS held_until,"
							 "         last_s + every_s AS scheduled"
							 "    FROM state)"
							 " SELECT output_id, d, wants AND NOT restoring AND now_s >= coalesce(held_until, '-Infinity'),"
							 "        CASE WHEN restoring THEN 1000 ELSE"
							 "        (least(greatest(least(CASE WHEN wants THEN held_until END, scheduled) - now_s, 0),"
							 "               86400) * 1000)::pg_catalog.int8 END"
							 "   FROM timing ORDER BY d, output_id",
							 3, argtypes, values, NULL, SPI_OK_SELECT);
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tuple = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			bool		is_due = DatumGetBool(SPI_getbinval(tuple, desc, 3, &isnull));
			Datum		wait = SPI_getbinval(tuple, desc, 4, &isnull);

			if (!isnull && !is_due)
			{
				long		ms = (long) Max(DatumGetInt64(wait), 0);

				if (*wait_ms < 0 || ms < *wait_ms)
					*wait_ms = ms;
			}
			if (is_due)
			{
				MemoryContext old = MemoryContextSwitchTo(outer);
				DueOutput  *d = palloc(sizeof(DueOutput));

				d->id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
				d->depth = DatumGetInt32(SPI_getbinval(tuple, desc, 2, &isnull));
				*due = lappend(*due, d);
				note_handed(d->id);
				MemoryContextSwitchTo(old);
			}
		}
		dataproduct_spi_finish();
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(outer);
	pgstat_report_activity(STATE_IDLE, NULL);
	return installed;
}

/*
 * pool_size
 *		How many refresh workers the pool may have.
 */
static int
pool_size(void)
{
	return Min(Max(dataproduct_max_workers, 1), DP_MAX_WORKERS);
}

/*
 * pool_reap
 *		Free the slots of the pool's workers that are gone (exited when idle
 *		too long, killed, or never started).  A refresh one was doing was
 *		rolled back: its output is still due, and is found in the next round.
 */
static void
pool_reap(void)
{
	int			i;

	for (i = 0; i < DP_MAX_WORKERS; i++)
	{
		pid_t		pid;

		if (pool_handles[i] == NULL ||
			GetBackgroundWorkerPid(pool_handles[i], &pid) != BGWH_STOPPED)
			continue;
		LWLockAcquire(dataproduct_shared->lock, LW_EXCLUSIVE);
		memset(&my_slot->workers[i], 0, sizeof(DpWorkerSlot));
		LWLockRelease(dataproduct_shared->lock);
		pfree(pool_handles[i]);
		pool_handles[i] = NULL;
	}
}

/*
 * pool_assign
 *		Hand an output to an idle worker of the pool (setting its latch), or
 *		start a new worker for it if the pool has room.  Returns false if
 *		neither can be done now; then *failed says that a worker could not
 *		be started (no room for it in max_worker_processes).
 */
static bool
pool_assign(int64 output_id, bool *failed)
{
	int			in_use = 0;
	int			busy = 0;
	int			idle = -1;
	int			free_slot = -1;
	Latch	   *latch = NULL;
	int			i;

	*failed = false;
	LWLockAcquire(dataproduct_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < DP_MAX_WORKERS; i++)
	{
		DpWorkerSlot *w = &my_slot->workers[i];

		if (w->in_use)
		{
			in_use++;
			if (w->assigned)
				busy++;
			else if (idle < 0 && w->latch != NULL)
				idle = i;
		}
		else if (free_slot < 0 && w->pid == 0 && pool_handles[i] == NULL)
			free_slot = i;
	}
	/* (idle workers beyond a lowered max_workers wait for their timeout) */
	if (busy >= pool_size())
		idle = free_slot = -1;
	else if (idle >= 0)
	{
		my_slot->workers[idle].output_id = output_id;
		my_slot->workers[idle].assigned = true;
		latch = my_slot->workers[idle].latch;
	}
	else if (in_use < pool_size() && free_slot >= 0)
	{
		/* reserved, with its first assignment, before the worker exists */
		memset(&my_slot->workers[free_slot], 0, sizeof(DpWorkerSlot));
		my_slot->workers[free_slot].in_use = true;
		my_slot->workers[free_slot].assigned = true;
		my_slot->workers[free_slot].output_id = output_id;
	}
	else
		free_slot = -1;
	LWLockRelease(dataproduct_shared->lock);

	if (latch != NULL)
	{
		SetLatch(latch);
		return true;
	}
	if (free_slot < 0)
		return false;
	{
		/* handles outlive the round's memory */
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		pool_handles[free_slot] = start_worker("dataproduct_refresh_worker_main",
											   "pg_dataproduct refresh",
											   Int32GetDatum(free_slot), MyDatabaseId);
		MemoryContextSwitchTo(old);
	}
	if (pool_handles[free_slot] == NULL)
	{
		LWLockAcquire(dataproduct_shared->lock, LW_EXCLUSIVE);
		memset(&my_slot->workers[free_slot], 0, sizeof(DpWorkerSlot));
		LWLockRelease(dataproduct_shared->lock);
		*failed = true;
		return false;
	}
	return true;
}

/*
 * pool_wait
 *		Wait, on the scheduler's latch, until every output handed out is done
 *		(all) or until another can be handed out.  A worker that dies
 *		mid-refresh counts as done (its handle says it is gone; the
 *		postmaster sets this latch when it goes), so this cannot wait forever
 *		on it.
 */
static void
pool_wait(bool all)
{
	for (;;)
	{
		int			busy = 0;
		int			in_use = 0;
		bool		idle = false;
		bool		free_slot = false;
		int			i;

		CHECK_FOR_INTERRUPTS();
		pool_reap();
		LWLockAcquire(dataproduct_shared->lock, LW_SHARED);
		for (i = 0; i < DP_MAX_WORKERS; i++)
		{
			DpWorkerSlot *w = &my_slot->workers[i];

			if (w->in_use)
			{
				in_use++;
				if (w->assigned)
					busy++;
				else if (w->latch != NULL)
					idle = true;
			}
			else if (w->pid == 0 && pool_handles[i] == NULL)
				free_slot = true;
		}
		LWLockRelease(dataproduct_shared->lock);
		if (all ? busy == 0 :
			(busy < pool_size() && (idle || (free_slot && in_use < pool_size()))))
			return;
		/* at most a second, should a wake-up go astray */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * refresh_due
 *		Refresh the due outputs through the pool, up to dataproduct.max_workers
 *		at once, an output only after those it reads (lower depth): the
 *		outputs of a level are all done before the next level is handed out.
 */
static void
refresh_due(List *due)
{
	ListCell   *lc;
	int			depth = -1;

	pool_reap();				/* workers that left while the scheduler slept */
	foreach(lc, due)
	{
		DueOutput  *d = lfirst(lc);
		bool		failed = false;

		if (d->depth != depth)
		{
			pool_wait(true);
			depth = d->depth;
		}
		for (;;)
		{
			CHECK_FOR_INTERRUPTS();
			if (pool_assign(d->id, &failed) || failed)
				break;
			pool_wait(false);
		}
		if (failed)
		{
			ereport(LOG,
					(errmsg("pg_dataproduct could not start a refresh worker"),
					 errhint("Raise max_worker_processes.")));
			break;
		}
	}
	pool_wait(true);
}

void
dataproduct_scheduler_main(Datum arg)
{
	Oid			dbid = DatumGetObjectId(arg);
	bool		installed;
	char	   *version;
	MemoryContext loop_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dbid, InvalidOid, 0);
	/* like refresh workers, give way to users in a deadlock */
	SetConfigOption("deadlock_timeout", "50ms", PGC_SUSET, PGC_S_OVERRIDE);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	version = dataproduct_extension_version();
	installed = (version != NULL);
	if (installed && strcmp(version, DATAPRODUCT_VERSION) != 0)
	{
		/* its catalog is not the one this library reads and writes */
		ereport(LOG,
				(errmsg("pg_dataproduct in database \"%s\" is at version %s but its library is %s; outputs there are not refreshed automatically",
						get_database_name(dbid), version, DATAPRODUCT_VERSION),
				 errhint("Run ALTER EXTENSION pg_dataproduct UPDATE in that database.")));
		installed = false;
	}
	CommitTransactionCommand();

	LWLockAcquire(dataproduct_shared->lock, LW_EXCLUSIVE);
	my_slot = dataproduct_find_slot(dbid, true);
	if (my_slot != NULL)
	{
		my_slot->no_extension = !installed;
		if (installed)
		{
			int			i;

			my_slot->scheduler_pid = MyProcPid;
			my_slot->latch = MyLatch;
			/* workers of an earlier scheduler keep their slots until they go */
			for (i = 0; i < DP_MAX_WORKERS; i++)
			{
				my_slot->workers[i].in_use = false;
				my_slot->workers[i].assigned = false;
			}
		}
	}
	LWLockRelease(dataproduct_shared->lock);
	if (!installed || my_slot == NULL)
		proc_exit(0);
	before_shmem_exit(scheduler_detach, (Datum) 0);

	/* what one round allocates (the due list, worker handles) goes with it */
	loop_cxt = AllocSetContextCreate(TopMemoryContext, "pg_dataproduct scheduler",
									 ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		List	   *due;
		long		wait_ms;
		bool		stop;

		MemoryContextSwitchTo(loop_cxt);
		MemoryContextReset(loop_cxt);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		LWLockAcquire(dataproduct_shared->lock, LW_EXCLUSIVE);
		my_slot->wake = false;
		stop = my_slot->stop;
		LWLockRelease(dataproduct_shared->lock);
		if (stop || !dataproduct_enabled)
			proc_exit(0);

		if (!due_outputs(&due, &wait_ms))
		{
			/* DROP EXTENSION */
			LWLockAcquire(dataproduct_shared->lock, LW_EXCLUSIVE);
			my_slot->no_extension = true;
			LWLockRelease(dataproduct_shared->lock);
			proc_exit(0);
		}
		if (due != NIL)
		{
			refresh_due(due);
			continue;			/* their commits may have made others due */
		}

		if (wait_ms < 0 || wait_ms > dataproduct_naptime)
			wait_ms = dataproduct_naptime;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(wait_ms, 10), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ----------------------------------------------------------------
 * Refresh workers
 * ----------------------------------------------------------------
 */

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
		pgstat_report_activity(STATE_RUNNING,
							   psprintf("refreshing output %s", output->address));
		(void) dataproduct_refresh_output(output, true);
	}
	dataproduct_spi_finish();
}

/*
 * defer_restored_failure
 *		If the output was restored from a dump and not refreshed here since
 *		(its origin is another's) and its first deferred failure is less than
 *		RESTORE_GRACE ago, defer this one (see the file header): retry within
 *		seconds, note it in refresh_history, leave failures and last_error
 *		alone.  Returns whether it did.  SPI connected; writes as the catalog
 *		owner.
 */
static bool
defer_restored_failure(int64 output_id, const char *message)
{
	Oid			argtypes[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3] = {Int64GetDatum(output_id),
		CStringGetTextDatum(dataproduct_origin()),
	CStringGetTextDatum(psprintf("deferred until the restore is complete: %s", message))};
	DpSavedUser saved;
	bool		deferred;

	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("WITH o AS ("
						 "  SELECT o.output_id, o.last_refresh,"
						 "         (SELECT pg_catalog.count(*) FROM dataproduct.refresh_history h"
						 "           WHERE h.output_id = o.output_id AND h.kind IS NULL"
						 "             AND h.started_at > coalesce(o.last_refresh, '-infinity')"
						 "             AND h.error LIKE 'deferred until the restore is complete: %') AS tries"
						 "    FROM dataproduct.output o"
						 "   WHERE o.output_id = $1 AND o.origin IS DISTINCT FROM $2"
						 "     AND pg_catalog.now() < coalesce((SELECT pg_catalog.min(h.started_at)"
						 "                                      FROM dataproduct.refresh_history h"
						 "                                     WHERE h.output_id = o.output_id AND h.kind IS NULL"
						 "                                       AND h.started_at > coalesce(o.last_refresh, '-infinity')"
						 "                                       AND h.error LIKE 'deferred until the restore is complete: %'),"
						 "                                    pg_catalog.now()) + interval '" RESTORE_GRACE "'),"
						 " retry AS ("
						 "  UPDATE dataproduct.output u"
						 "     SET next_retry = pg_catalog.now() + least(interval '1 second' * power(2, o.tries), interval '30 seconds')"
						 "    FROM o WHERE u.output_id = o.output_id RETURNING u.output_id)"
						 " INSERT INTO dataproduct.refresh_history"
						 " (output_id, started_at, finished_at, error, by_worker)"
						 " SELECT output_id, pg_catalog.now(), pg_catalog.clock_timestamp(), $3, true FROM retry",
						 3, argtypes, values, NULL, SPI_OK_INSERT);
	deferred = (SPI_processed > 0);
	dataproduct_restore_user(&saved);
	return deferred;
}

/*
 * refresh_in_worker
 *		Refresh an output from a background worker, inside the worker's
 *		transaction: in a subtransaction, so that a failure is recorded (with
 *		its error and SQLSTATE, and a retry after an exponential backoff: 1 s,
 *		2 s, 4 s, ... up to an hour) instead of ending the worker, and nothing
 *		of the failed refresh remains.
 */
static void
refresh_in_worker(int64 output_id)
{
	WorkerRefresh w = {output_id, NULL};
	ErrorData  *edata = dataproduct_in_subtransaction(refresh_by_id_cb, &w);

	if (edata != NULL)
	{
		Oid			argtypes[3] = {INT8OID, TEXTOID, TEXTOID};
		Datum		values[3] = {Int64GetDatum(output_id),
			CStringGetTextDatum(edata->message),
		CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode))};
		DpSavedUser saved;

		dataproduct_spi_connect();
		if (edata->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE &&
			defer_restored_failure(output_id, edata->message))
		{
			ereport(LOG,
					(errmsg("pg_dataproduct: refresh of restored output %s deferred until the restore is complete: %s",
							w.address ? w.address : "?", edata->message)));
			dataproduct_spi_finish();
			return;
		}
		ereport(LOG,
				(errmsg("pg_dataproduct: refresh of output %s failed: %s",
						w.address ? w.address : "?", edata->message)));
		dataproduct_record_failed_checks();
		dataproduct_become_catalog_owner(&saved);
		/* the backoff's exponent is bounded: any failures count works */
		dataproduct_spi_exec("UPDATE dataproduct.output"
							 "   SET failures = least(failures, 2147483646) + 1,"
							 "       failed_refreshes = failed_refreshes OPERATOR(pg_catalog.+) 1,"
							 "       last_error = $2, last_error_code = $3,"
							 "       last_error_at = pg_catalog.now(),"
							 "       next_retry = pg_catalog.now() + least(interval '1 second'"
							 "                    * power(2, least(greatest(failures, 0), 12)), interval '1 hour')"
							 " WHERE output_id = $1",
							 3, argtypes, values, NULL, SPI_OK_UPDATE);
		dataproduct_spi_exec("INSERT INTO dataproduct.refresh_history"
							 " (output_id, started_at, finished_at, error, error_code, by_worker)"
							 " SELECT $1, pg_catalog.now(), pg_catalog.clock_timestamp(), $2, $3, true"
							 "  WHERE EXISTS (SELECT 1 FROM dataproduct.output WHERE output_id = $1)",
							 3, argtypes, values, NULL, SPI_OK_INSERT);
		dataproduct_restore_user(&saved);
		dataproduct_spi_finish();
	}
}

/*
 * A worker whose backend memory (its caches: plans, relations, catalog
 * entries, kept across refreshes by design) passes this leaves after its
 * refresh, and a fresh one takes over: outputs dropped and declared again
 * for months cannot make a long-lived worker grow without bound.
 */
#define WORKER_MEMORY_LIMIT ((Size) 256 * 1024 * 1024)

/* a worker's own slot in the pool, and the scheduler that started it */
static DpWorkerSlot *my_worker = NULL;
static pid_t my_scheduler = 0;

/* The worker leaves: its slot says so, and its scheduler is told. */
static void
worker_detach(int code, Datum arg)
{
	Latch	   *latch = NULL;

	(void) code;
	(void) arg;
	if (my_worker == NULL)
		return;
	LWLockAcquire(dataproduct_shared->lock, LW_EXCLUSIVE);
	if (my_worker->pid == MyProcPid)
	{
		my_worker->pid = 0;
		my_worker->latch = NULL;
		my_worker->assigned = false;
		if (my_slot->scheduler_pid == my_scheduler)
			latch = my_slot->latch;
	}
	LWLockRelease(dataproduct_shared->lock);
	if (latch != NULL)
		SetLatch(latch);
}

/*
 * refresh_assigned
 *		Refresh an output in a transaction of its own.  Returns false, having
 *		refreshed nothing, if the extension is not the one this worker first
 *		served (dropped and created again: nothing this backend kept of the
 *		old catalog is used) or not at the library's version.
 */
static bool
refresh_assigned(int64 output_id, Oid *extension)
{
	bool		same;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "starting a refresh");
	if (!OidIsValid(*extension))
	{
		char	   *version = dataproduct_extension_version();

		if (version != NULL && strcmp(version, DATAPRODUCT_VERSION) == 0)
			*extension = get_extension_oid("pg_dataproduct", true);
	}
	same = OidIsValid(*extension) &&
		get_extension_oid("pg_dataproduct", true) == *extension;
	if (same)
		refresh_in_worker(output_id);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return same;
}

/*
 * dataproduct_refresh_worker_main
 *		A refresh worker of a database's pool: refreshes the outputs its
 *		scheduler assigns, one transaction each, until it has been idle for
 *		dataproduct.worker_idle_timeout, its scheduler leaves, or the
 *		database's slot is stopped.
 */
void
dataproduct_refresh_worker_main(Datum arg)
{
	int			index = DatumGetInt32(arg);
	Oid			dbid;
	Oid			extension = InvalidOid;
	bool		attached = false;
	MemoryContext refresh_cxt;
	TimestampTz idle_since;

	memcpy(&dbid, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	memcpy(&my_scheduler, MyBgworkerEntry->bgw_extra + sizeof(Oid), sizeof(pid_t));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dbid, InvalidOid, 0);

	/*
	 * In a deadlock with a user's statement (DDL on a source, DROP
	 * EXTENSION), the refresh is the one to give way: it looks for the
	 * deadlock first, fails, and is retried with backoff.
	 */
	SetConfigOption("deadlock_timeout", "50ms", PGC_SUSET, PGC_S_OVERRIDE);

	/*
	 * A refresh need not wait for its commit to reach the disk: the store,
	 * its recorded snapshot and the trimmed logs commit together, so a
	 * refresh lost in a crash leaves the output consistent at its previous
	 * snapshot, and the next refresh applies the batch again.  Without this,
	 * every refresh costs an fsync that the writers' commits queue behind.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);

	/* take the slot the scheduler reserved, if it still stands */
	before_shmem_exit(worker_detach, (Datum) 0);
	if (index < 0 || index >= DP_MAX_WORKERS)
		proc_exit(0);
	LWLockAcquire(dataproduct_shared->lock, LW_EXCLUSIVE);
	my_slot = dataproduct_find_slot(dbid, false);
	if (my_slot != NULL && my_slot->scheduler_pid == my_scheduler && !my_slot->stop &&
		my_slot->workers[index].in_use && my_slot->workers[index].pid == 0)
	{
		my_worker = &my_slot->workers[index];
		my_worker->pid = MyProcPid;
		my_worker->latch = MyLatch;
		attached = true;
	}
	LWLockRelease(dataproduct_shared->lock);
	if (!attached)
		proc_exit(0);

	/* what a refresh leaves outside its transaction goes with it */
	refresh_cxt = AllocSetContextCreate(TopMemoryContext, "pg_dataproduct refresh",
										ALLOCSET_DEFAULT_SIZES);
	idle_since = GetCurrentTimestamp();
	for (;;)
	{
		bool		gone;
		bool		assigned;
		int64		output_id;
		long		idle_ms;

		MemoryContextSwitchTo(refresh_cxt);
		MemoryContextReset(refresh_cxt);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		LWLockAcquire(dataproduct_shared->lock, LW_SHARED);
		gone = my_slot->scheduler_pid != my_scheduler || my_slot->stop ||
			my_worker->pid != MyProcPid;
		assigned = my_worker->assigned;
		output_id = my_worker->output_id;
		LWLockRelease(dataproduct_shared->lock);
		if (gone || !dataproduct_enabled)
			proc_exit(0);

		if (assigned)
		{
			Latch	   *latch = NULL;

			if (!refresh_assigned(output_id, &extension))
				proc_exit(0);	/* the output stays due, for a new worker */
			LWLockAcquire(dataproduct_shared->lock, LW_EXCLUSIVE);
			my_worker->assigned = false;
			if (my_slot->scheduler_pid == my_scheduler)
				latch = my_slot->latch;
			LWLockRelease(dataproduct_shared->lock);
			if (latch != NULL)
				SetLatch(latch);
			if (MemoryContextMemAllocated(TopMemoryContext, true) > WORKER_MEMORY_LIMIT)
				proc_exit(0);
			idle_since = GetCurrentTimestamp();
			continue;
		}

		/* idle too long: leave, unless an output was assigned meanwhile */
		idle_ms = dataproduct_worker_idle_timeout -
			TimestampDifferenceMilliseconds(idle_since, GetCurrentTimestamp());
		if (idle_ms <= 0)
		{
			bool		leave = false;

			LWLockAcquire(dataproduct_shared->lock, LW_EXCLUSIVE);
			if (!my_worker->assigned)
			{
				my_worker->pid = 0;
				my_worker->latch = NULL;
				leave = true;
			}
			LWLockRelease(dataproduct_shared->lock);
			if (leave)
				proc_exit(0);
			continue;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 idle_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
