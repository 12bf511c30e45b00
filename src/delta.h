/*-------------------------------------------------------------------------
 *
 * delta.h
 *	  The statements of incremental maintenance, generated from a plan.
 *
 * IDENTIFICATION
 *	  src/delta.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATAPRODUCT_DELTA_H
#define DATAPRODUCT_DELTA_H

#include "postgres.h"

#include "nodes/bitmapset.h"

#include "plan.h"

/* Name of the ephemeral relation holding a batch's pre-aggregation delta. */
#define DP_DELTA_ENR	"__dp_delta"

extern char *dataproduct_batch_name(Oid log);
extern char *dataproduct_batch_sql(Oid relid, Oid log, Bitmapset *attnos);
extern char *dataproduct_history_batch_sql(Oid relid, Oid log,
										   Bitmapset *attnos);
extern char *dataproduct_history_delta_sql(DpPlan *plan, Index rtindex,
										   Oid log);
extern char *dataproduct_store_sql(DpPlan *plan, const char *pre,
								   bool filtered);
extern char *dataproduct_view_sql(DpPlan *plan, Oid store, bool gated);
extern char *dataproduct_changed_rows_sql(DpPlan *plan, Oid store);
extern char *dataproduct_delta_sql(DpPlan *plan, Bitmapset *changed,
								   Oid *logs);
extern char *dataproduct_upsert_sql(DpPlan *plan, const char *store);
extern char *dataproduct_affected_sql(DpPlan *plan);
extern char *dataproduct_zero_sql(DpPlan *plan, const char *store);
extern char *dataproduct_delete_empty_sql(DpPlan *plan, const char *store);
extern char *dataproduct_recompute_sql(DpPlan *plan, const char *store,
									   const char *pre);
extern Oid *dataproduct_affected_types(DpPlan *plan, int *nparams);
extern bool dataproduct_plan_has_special(DpPlan *plan);

#endif							/* DATAPRODUCT_DELTA_H */
