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

#include "utils/guc.h"

#include "guc.h"

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
	MarkGUCPrefixReserved("dataproduct");
}
