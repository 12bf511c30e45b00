/*-------------------------------------------------------------------------
 *
 * pg_dataproduct.c
 *	  Entry point of the pg_dataproduct shared library.
 *
 * pg_dataproduct turns operational tables into data products.  The files,
 * from the ground floor up, each calling only the floors below it:
 *
 *	 services     exec.c       SPI with a pinned search_path, statements at a
 *	                           snapshot with kept plans, identities,
 *	                           settings, subtransactions
 *	              shmem.c      shared memory; the scheduler woken at commit
 *	              guc.c        configuration parameters
 *	              progress.c   rows read so far by long recomputations
 *	 catalog      catalog.c    the extension's tables as structs; names, rights
 *	 the flow of one change, in order:
 *	              analyze.c    an output query is parsed and checked
 *	              determinism.c  ... its expressions judged by whether they
 *	                           depend only on their inputs
 *	              plan.c       ... and planned: incremental or not, and why;
 *	                           groups, aggregates, store layout (no SPI)
 *	              delta.c      the statements that maintain it: load, view,
 *	                           delta of a batch, merge (no SPI)
 *	              capture.c    the C trigger appends row images to a change
 *	                           log (format in capture.h)
 *	              batch.c      a refresh's batch: the log rows between two
 *	                           snapshots; sizes, markers, trimming
 *	              apply.c      the batch's delta merged into the store, or a
 *	                           recomputation's difference applied
 *	              checks.c     what each kind of quality check queries
 *	              quality.c    checks certify what was written, or roll it
 *	                           back; the checks API
 *	              refresh.c    the conductor of one refresh, steps in order
 *	              discovery.c  search and self-description helpers;
 *	                           explain() of how an output is maintained
 *	              ddl.c        event triggers and the ProcessUtility hook
 *	 drivers      access.c     self-service access: requests, decisions,
 *	                           grants on output views, expiry
 *	              declare.c    the SQL API of outputs, and refresh()
 *	              product.c    the SQL API of domains and products
 *	              descriptor.c what export() and apply() of descriptors
 *	                           (ODCS, ODPS) need of an output's query
 *	              worker.c     launcher, schedulers, refresh workers
 *
 * This file only holds the module magic and _PG_init, which dispatches to
 * the subsystems that need set-up at load time.
 *
 * IDENTIFICATION
 *	  src/pg_dataproduct.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "ddl.h"
#include "exec.h"
#include "guc.h"
#include "progress.h"
#include "shmem.h"
#include "worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * _PG_init
 *		Called when the library is loaded, by shared_preload_libraries or by
 *		the first call of one of its functions.
 *
 * Every SQL function works whether or not the library is preloaded.
 */
void
_PG_init(void)
{
	/* pg_upgrade loads libraries to check them; do nothing then */
	if (IsBinaryUpgrade)
		return;

	dataproduct_define_gucs();
	dataproduct_exec_init();
	dataproduct_shmem_init();
	dataproduct_progress_init();
	dataproduct_ddl_init();
	dataproduct_worker_init();
}
