/*-------------------------------------------------------------------------
 *
 * shmem.h
 *	  Shared memory of pg_dataproduct: a slot per database, with its pool
 *	  of refresh workers, and the wake-up of its scheduler at commit.
 *
 * Every field of DpShared is protected by DpShared.lock (see shmem.c).
 *
 * IDENTIFICATION
 *	  src/shmem.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATAPRODUCT_SHMEM_H
#define DATAPRODUCT_SHMEM_H

#include "postgres.h"

#include "storage/latch.h"
#include "storage/lwlock.h"

#define DP_MAX_DATABASES 64
#define DP_MAX_WORKERS 64		/* the maximum of dataproduct.max_workers */
#define DP_MAX_SOURCES 256		/* change logs counted per database */

/* How many committed transactions wrote a change log (shmem.c). */
typedef struct DpSourceCount
{
	Oid			log;
	uint64		commits;
} DpSourceCount;

/*
 * A refresh worker of a database's pool (worker.c).  The scheduler reserves
 * a free slot (in_use, with the output to refresh as the first assignment)
 * and starts a worker for it; the worker fills in pid and latch.  Idle
 * (attached, nothing assigned) it waits on its latch; the scheduler assigns
 * an output by setting output_id and assigned and the latch; the worker
 * refreshes it, clears assigned and sets the scheduler's latch.  A worker
 * that leaves clears pid and latch (the scheduler frees the slot once its
 * handle says the process is gone).  A slot with a pid but not in_use
 * belongs to a worker of an earlier scheduler, on its way out.
 */
typedef struct DpWorkerSlot
{
	bool		in_use;			/* reserved by the running scheduler */
	bool		assigned;		/* output_id to refresh, not done yet */
	pid_t		pid;			/* 0: not attached (starting or gone) */
	Latch	   *latch;			/* the worker's, while attached */
	int64		output_id;
} DpWorkerSlot;

typedef struct DpDatabaseSlot
{
	Oid			dbid;			/* InvalidOid: free */
	pid_t		scheduler_pid;	/* 0: none running */
	Latch	   *latch;			/* the scheduler's, while it runs */
	bool		wake;			/* a commit changed a captured source */
	bool		no_extension;	/* the extension is not installed here */
	bool		stop;			/* DROP/ALTER DATABASE: stay away */
	DpWorkerSlot workers[DP_MAX_WORKERS];	/* the scheduler's pool */
	/* commits that wrote each change log; unknown: any log */
	uint64		unknown_commits;
	int			nsources;
	DpSourceCount sources[DP_MAX_SOURCES];
} DpDatabaseSlot;

typedef struct DpShared
{
	LWLock	   *lock;
	Latch	   *launcher_latch;
	DpDatabaseSlot dbs[DP_MAX_DATABASES];
} DpShared;

/* NULL unless the library was preloaded */
extern DpShared *dataproduct_shared;

extern void dataproduct_shmem_init(void);
extern DpDatabaseSlot *dataproduct_find_slot(Oid dbid, bool create);
extern void dataproduct_note_capture(void);
extern void dataproduct_note_capture_log(Oid log);
extern uint64 dataproduct_capture_commits(DpDatabaseSlot *copy, Oid log);
extern bool dataproduct_workers_available(void);
extern void dataproduct_stop_scheduler(Oid dbid, bool stop);

#endif							/* DATAPRODUCT_SHMEM_H */
