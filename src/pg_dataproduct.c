/*-------------------------------------------------------------------------
 *
 * pg_dataproduct.c
 *	  Entry point of the pg_dataproduct shared library.
 *
 * pg_dataproduct turns operational tables into data products: domains and
 * products are declared (declare.c), output queries are checked (analyze.c)
 * and planned for incremental maintenance (delta.c), changes of their
 * sources are captured (capture.c), outputs are kept in store tables
 * (refresh.c), and the catalog holds it all together (catalog.c).  This file only holds the module magic and _PG_init,
 * which dispatches to the subsystems that need set-up at load time.
 *
 * IDENTIFICATION
 *	  src/pg_dataproduct.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "catalog.h"
#include "guc.h"
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
	dataproduct_catalog_init();
	dataproduct_worker_init();
}
