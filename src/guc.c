/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  Configuration parameters of pg_dataproduct, all in one place.
 *
 * Every parameter is named dataproduct.<name> and listed, with its default
 * and context, in the README.  The variables live in the files that use
 * them.
 *
 * IDENTIFICATION
 *	  src/guc.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "guc.h"

double		dataproduct_full_refresh_fraction = 0.3;
bool		dataproduct_enabled = true;
int			dataproduct_max_workers = 2;
int			dataproduct_naptime = 60000;
int			dataproduct_worker_idle_timeout = 60000;
int			dataproduct_history_days = 7;
int			dataproduct_log_truncate_size = 64;

/*
 * dataproduct_define_gucs
 *		Define the parameters; called once from _PG_init.
 */
void
dataproduct_define_gucs(void)
{
	DefineCustomRealVariable("dataproduct.full_refresh_fraction",
							 "Recompute an incremental output when its batch has more rows than this fraction of (its sources' rows + 10 x its store's rows).",
							 "Recomputing wins over applying a very large batch. -1 never recomputes because of batch size.",
							 &dataproduct_full_refresh_fraction,
							 0.3, -1.0, 1000.0,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("dataproduct.enabled",
							 "Refresh outputs automatically with background workers.",
							 "Needs pg_dataproduct in shared_preload_libraries.",
							 &dataproduct_enabled, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("dataproduct.max_workers",
							"Refresh workers running at once, per database.",
							"They count against max_worker_processes.",
							&dataproduct_max_workers, 2, 1, 64,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("dataproduct.naptime",
							"Longest sleep of an idle scheduler.",
							"Commits that change a source wake it at once; this bounds how late scheduled refreshes and retries can be noticed.",
							&dataproduct_naptime, 60000, 100, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("dataproduct.worker_idle_timeout",
							"How long an idle refresh worker waits for another output before it exits.",
							"Refresh workers stay alive between refreshes, to save a process start and a connection each time; 0 ends each worker as soon as nothing is assigned to it.",
							&dataproduct_worker_idle_timeout, 60000, 0, 86400000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("dataproduct.history_retention",
							"Days of refresh history and check results kept.",
							NULL,
							&dataproduct_history_days, 7, 0, 3650,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("dataproduct.log_truncate_size",
							"Smallest change log that trimming empties with TRUNCATE rather than DELETE.",
							"TRUNCATE gives the log a new file and makes every writer look its log up again; DELETE leaves dead rows to vacuum.",
							&dataproduct_log_truncate_size, 64, 0, INT_MAX / 2,
							PGC_SUSET, GUC_UNIT_BLOCKS, NULL, NULL, NULL);
	MarkGUCPrefixReserved("dataproduct");
}
