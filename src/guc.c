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
							 "Batch size, as a fraction of the sources' rows, above which an incremental output is recomputed instead.",
							 "Recomputing wins over applying a very large batch. -1 never recomputes for batch size.",
							 &dataproduct_full_refresh_fraction,
							 1.0, -1.0, 1000.0,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	MarkGUCPrefixReserved("dataproduct");
}
