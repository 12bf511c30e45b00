/*-------------------------------------------------------------------------
 *
 * shmem.h
 *	  Shared memory of pg_dataproduct: a slot per database, and the
 *	  wake-up of its scheduler at commit.
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

typedef struct DpDatabaseSlot
{
	Oid			dbid;			/* InvalidOid: free */
	pid_t		scheduler_pid;	/* 0: none running */
	Latch	   *latch;			/* the scheduler's, while it runs */
	bool		wake;			/* a commit changed a captured source */
	bool		no_extension;	/* the extension is not installed here */
	bool		stop;			/* DROP/ALTER DATABASE: stay away */
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
extern bool dataproduct_workers_available(void);
extern void dataproduct_stop_scheduler(Oid dbid, bool stop);

#endif							/* DATAPRODUCT_SHMEM_H */
