/*-------------------------------------------------------------------------
 *
 * plan.h
 *	  Incremental maintenance plans: what an output reads, its groups and
 *	  aggregates, and its store layout.
 *
 * IDENTIFICATION
 *	  src/plan.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATAPRODUCT_PLAN_H
#define DATAPRODUCT_PLAN_H

#include "postgres.h"

#include "nodes/bitmapset.h"
#include "nodes/parsenodes.h"

typedef enum DpAggKind
{
	DP_AGG_COUNT_STAR,
	DP_AGG_COUNT,
	DP_AGG_SUM,
	DP_AGG_AVG,
	DP_AGG_MIN,
	DP_AGG_MAX,
	DP_AGG_OTHER				/* recomputed for the groups a batch touches */
} DpAggKind;

/* An aggregate of the output and where its values live. */
typedef struct DpAgg
{
	Aggref	   *aggref;
	DpAggKind	kind;
	bool		float_avg;		/* avg over float4/float8 */
	int			first_col;		/* first store column (1-based) */
	int			pre_col;		/* its argument in the pre view, or 0 */
	int			filter_col;		/* its FILTER in the pre view, or 0 */
} DpAgg;

/* A base relation the output reads, wherever it sits in the query tree. */
typedef struct DpLeaf
{
	Oid			relid;
	List	   *path;			/* range table indexes from the top query */
	Bitmapset  *attnos;			/* columns read, as attnums */
} DpLeaf;

/* A store column. */
typedef struct DpColumn
{
	char	   *name;
	Oid			type;
	int32		typmod;
	Oid			collation;
} DpColumn;

typedef struct DpPlan
{
	bool		incremental;
	char	   *reason;			/* why not, if not */

	Query	   *query;			/* the output query, views expanded */
	bool		global;			/* aggregates, no GROUP BY: always one row */
	bool		expand;			/* plain rows: the store counts duplicates */
	bool		has_other;
	bool		has_minmax;
	bool		has_outer;		/* LEFT, RIGHT or FULL joins (delta.c) */
	List	   *keys;			/* group keys (Expr) */
	List	   *aggs;			/* DpAgg */
	List	   *leaves;			/* DpLeaf */

	Query	   *pre;			/* the pre-aggregation query */
	char	   *pre_sql;
	List	   *store_cols;		/* DpColumn, keys first, __dp_count last */
} DpPlan;

extern DpPlan *dataproduct_plan_output(Oid query_view);
extern void dataproduct_check_leaf_privileges(DpPlan *plan, Oid owner,
											  bool error);
extern void dataproduct_plan_refuse(DpPlan *plan, const char *reason);
extern void dataproduct_check_leaf_log(DpPlan *plan, DpLeaf *leaf, Oid log);

#endif							/* DATAPRODUCT_PLAN_H */
