/*-------------------------------------------------------------------------
 *
 * apply.h
 *	  Writing a store: a batch's delta merged, or a recomputation's
 *	  difference applied.
 *
 * IDENTIFICATION
 *	  src/apply.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATAPRODUCT_APPLY_H
#define DATAPRODUCT_APPLY_H

#include "postgres.h"

#include "utils/snapshot.h"
#include "utils/tuplestore.h"

#include "catalog.h"
#include "delta.h"

/* What writing a store did. */
typedef struct DpApplyResult
{
	int64		changed;		/* the output's rows deleted plus inserted */
	int64		row_count;		/* store rows afterwards */
	Datum		written;		/* tid[] of the store rows a batch wrote, or
								 * (Datum) 0 when the store was recomputed */
} DpApplyResult;

extern Tuplestorestate *dataproduct_run_into_enr(const char *name,
												 const char *sql, int nargs,
												 Oid *argtypes, Datum *values);
extern char *dataproduct_identity_key(const char *col, Oid type);
extern List *dataproduct_load_batches(DpPlan *plan, List *changed_leaves,
									  Oid *logs, Datum snapdatum,
									  Datum old_snap);
extern void dataproduct_unload_batches(List *loaded);
extern void dataproduct_full_refresh(Snapshot snap, Oid store,
									 const char *target, DpPlan *plan,
									 DpApplyResult *res);
extern bool dataproduct_try_apply_batch(Snapshot snap, DpPlan *plan,
										DpOutput *output, List *changed_leaves,
										Oid *logs, Datum snapdatum,
										Datum old_snap, DpApplyResult *res);

#endif							/* DATAPRODUCT_APPLY_H */
