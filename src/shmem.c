/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  Shared memory of pg_dataproduct, and the wake-up at commit that makes
 *	  freshness event-driven.
 *
 * With the library in shared_preload_libraries, one DpShared struct lives
 * in shared memory: one slot per database that the launcher knows, with
 * its scheduler's pid and latch and a wake flag.  A transaction that wrote
 * a captured source (capture.c), declared an output or approved access
 * that ends (access.c) calls dataproduct_note_capture; when, and only if, it commits, the transaction
 * callback here sets its database's wake flag and its scheduler's latch,
 * or the launcher's latch if the database has no scheduler yet.  Without
 * the preload there is no shared memory and nothing is woken.
 *
 * Each database slot also holds the scheduler's pool of refresh workers
 * (shmem.h says who writes what, worker.c how they are used), and, per
 * change log, how many committed transactions wrote it: the scheduler
 * compares these counts with those it saw when an output was last
 * refreshed, instead of reading the logs, to know which outputs have
 * changes to apply.  A count is bumped at commit, after the transaction
 * became visible, so a refresh whose snapshot is taken after the count was
 * read sees every change counted.  A transaction that wrote more logs than
 * it can note, or a log that finds no room in the slot, bumps
 * unknown_commits instead, which counts for every log; a prepared
 * transaction is committed by another backend, which knows nothing of its
 * logs (the scheduler's periodic full check finds those changes).
 *
 * Locking: every field of DpShared (the slots included) is protected by
 * DpShared.lock, taken shared to read and exclusive to write.  Latches
 * are set outside the lock, after reading their pointer under it.
 *
 * IDENTIFICATION
 *	  src/shmem.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "shmem.h"

PG_FUNCTION_INFO_V1(dataproduct_wake_workers);

DpShared   *dataproduct_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* this transaction asks for a wake-up at commit (and installed the extension) */
static bool wake_at_commit = false;
static bool installed_in_xact = false;

/* the change logs this transaction wrote, counted at commit */
#define DP_XACT_LOGS 32
static Oid	xact_logs[DP_XACT_LOGS];
static int	n_xact_logs = 0;
static bool xact_logs_overflow = false;

/* ----------------------------------------------------------------
 * Shared memory
 * ----------------------------------------------------------------
 */

static void
shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(DpShared)));
	RequestNamedLWLockTranche("pg_dataproduct", 1);
}

static void
shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	dataproduct_shared = ShmemInitStruct("pg_dataproduct", sizeof(DpShared), &found);
	if (!found)
	{
		memset(dataproduct_shared, 0, sizeof(DpShared));
		dataproduct_shared->lock = &(GetNamedLWLockTranche("pg_dataproduct"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * dataproduct_find_slot
 *		The slot of a database; with create, a free one if it has none.
 *		The caller holds dataproduct_shared->lock (exclusively to create).
 */
DpDatabaseSlot *
dataproduct_find_slot(Oid dbid, bool create)
{
	int			i;
	DpDatabaseSlot *free_slot = NULL;

	for (i = 0; i < DP_MAX_DATABASES; i++)
	{
		if (dataproduct_shared->dbs[i].dbid == dbid)
			return &dataproduct_shared->dbs[i];
		if (free_slot == NULL && dataproduct_shared->dbs[i].dbid == InvalidOid)
			free_slot = &dataproduct_shared->dbs[i];
	}
	if (!create || free_slot == NULL)
		return NULL;
	memset(free_slot, 0, sizeof(DpDatabaseSlot));
	free_slot->dbid = dbid;
	return free_slot;
}

/*
 * wake_database
 *		Set the wake flag of a database and its scheduler's latch, or ask the
 *		launcher for a scheduler if it has none.
 */
static void
wake_database(Oid dbid, bool installed)
{
	DpDatabaseSlot *slot;
	Latch	   *latch = NULL;
	Latch	   *launcher = NULL;

	if (dataproduct_shared == NULL)
		return;
	LWLockAcquire(dataproduct_shared->lock, LW_EXCLUSIVE);
	slot = dataproduct_find_slot(dbid, true);
	if (slot != NULL)
	{
		int			i;

		slot->wake = true;
		if (installed)
			slot->no_extension = false;
		latch = slot->latch;
		if (xact_logs_overflow)
			slot->unknown_commits++;
		for (i = 0; i < n_xact_logs; i++)
		{
			int			j;

			for (j = 0; j < slot->nsources; j++)
				if (slot->sources[j].log == xact_logs[i])
					break;
			if (j == slot->nsources)
			{
				if (j == DP_MAX_SOURCES)
				{
					slot->unknown_commits++;
					continue;
				}
				slot->sources[j].log = xact_logs[i];
				slot->sources[j].commits = 0;
				slot->nsources++;
			}
			slot->sources[j].commits++;
		}
	}
	if (latch == NULL)
		launcher = dataproduct_shared->launcher_latch;
	LWLockRelease(dataproduct_shared->lock);
	if (latch != NULL)
		SetLatch(latch);
	if (launcher != NULL)
		SetLatch(launcher);
}

/* ----------------------------------------------------------------
 * In every backend
 * ----------------------------------------------------------------
 */

/*
 * dataproduct_note_capture
 *		This transaction changed a captured source or declared an output:
 *		wake the scheduler of this database when (and only if) it commits.
 */
void
dataproduct_note_capture(void)
{
	wake_at_commit = true;
}

/*
 * dataproduct_note_capture_log
 *		This transaction wrote the change log `log': wake the scheduler at
 *		commit, and count the commit for the log.
 */
void
dataproduct_note_capture_log(Oid log)
{
	int			i;

	wake_at_commit = true;
	for (i = 0; i < n_xact_logs; i++)
		if (xact_logs[i] == log)
			return;
	if (n_xact_logs < DP_XACT_LOGS)
		xact_logs[n_xact_logs++] = log;
	else
		xact_logs_overflow = true;
}

/*
 * dataproduct_capture_commits
 *		With log InvalidOid, copy this database's slot (its counts) into
 *		*copy and return 0.  Otherwise, from such a copy, the commits that
 *		wrote `log', plus those that wrote an unknown log.
 */
uint64
dataproduct_capture_commits(DpDatabaseSlot *copy, Oid log)
{
	int			i;

	if (!OidIsValid(log))
	{
		DpDatabaseSlot *slot;

		memset(copy, 0, sizeof(DpDatabaseSlot));
		if (dataproduct_shared == NULL)
			return 0;
		LWLockAcquire(dataproduct_shared->lock, LW_SHARED);
		slot = dataproduct_find_slot(MyDatabaseId, false);
		if (slot != NULL)
			memcpy(copy, slot, sizeof(DpDatabaseSlot));
		LWLockRelease(dataproduct_shared->lock);
		return 0;
	}
	for (i = 0; i < copy->nsources; i++)
		if (copy->sources[i].log == log)
			return copy->sources[i].commits + copy->unknown_commits;
	return copy->unknown_commits;
}

static void
shmem_xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			if (wake_at_commit)
				wake_database(MyDatabaseId, installed_in_xact);
			wake_at_commit = installed_in_xact = false;
			n_xact_logs = 0;
			xact_logs_overflow = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			wake_at_commit = installed_in_xact = false;
			n_xact_logs = 0;
			xact_logs_overflow = false;
			break;
		default:
			break;
	}
}

/* Whether automatic refresh can run in this server. */
bool
dataproduct_workers_available(void)
{
	return dataproduct_shared != NULL;
}

/*
 * wake_workers() returns void: when this transaction commits, ask this
 * database's scheduler to look for outputs, starting one if none runs (the
 * install script calls it: the new extension is visible only after commit).
 */
Datum
dataproduct_wake_workers(PG_FUNCTION_ARGS)
{
	(void) fcinfo;
	wake_at_commit = true;
	installed_in_xact = true;
	PG_RETURN_VOID();
}

/*
 * slot_pids
 *		The pids of a database's scheduler and of its attached refresh
 *		workers (the first is the scheduler's, 0 if none); returns how many
 *		are nonzero.  The caller holds dataproduct_shared->lock.
 */
static int
slot_pids(DpDatabaseSlot *slot, pid_t *pids)
{
	int			n = 0;
	int			i;

	pids[0] = slot ? slot->scheduler_pid : 0;
	if (pids[0] != 0)
		n++;
	for (i = 0; i < DP_MAX_WORKERS; i++)
	{
		pids[i + 1] = slot ? slot->workers[i].pid : 0;
		if (pids[i + 1] != 0)
			n++;
	}
	return n;
}

/*
 * dataproduct_stop_scheduler
 *		With stop, stop the scheduler of a database and its refresh workers
 *		(waiting up to ten seconds for them to go) and keep the launcher from
 *		starting another, for the length of a command that needs the
 *		database to itself; without, let the launcher start it again.
 */
void
dataproduct_stop_scheduler(Oid dbid, bool stop)
{
	DpDatabaseSlot *slot;
	pid_t		pids[DP_MAX_WORKERS + 1];
	int			running = 0;
	int			i;

	if (dataproduct_shared == NULL || !OidIsValid(dbid))
		return;
	LWLockAcquire(dataproduct_shared->lock, LW_EXCLUSIVE);
	slot = dataproduct_find_slot(dbid, stop);
	if (slot != NULL)
		slot->stop = stop;
	if (stop)
		running = slot_pids(slot, pids);
	LWLockRelease(dataproduct_shared->lock);
	if (!stop)
	{
		wake_database(dbid, false);
		return;
	}
	/* a refresh in progress is rolled back: the output stays due */
	for (i = 0; i <= DP_MAX_WORKERS; i++)
		if (pids[i] != 0)
			kill(pids[i], SIGTERM);
	/* wait for them to go, up to ten seconds */
	for (i = 0; i < 1000 && running > 0; i++)
	{
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10000L);
		LWLockAcquire(dataproduct_shared->lock, LW_SHARED);
		running = slot_pids(dataproduct_find_slot(dbid, false), pids);
		LWLockRelease(dataproduct_shared->lock);
	}
}

/*
 * dataproduct_shmem_init
 *		From _PG_init: the transaction callback in every backend; with the
 *		library preloaded, the shared memory hooks.
 */
void
dataproduct_shmem_init(void)
{
	RegisterXactCallback(shmem_xact_callback, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shmem_startup;
}
