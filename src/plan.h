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
	int			semi;			/* 1 + index in plan->semis of the subquery
								 * in WHERE it is read in, or 0 */
} DpLeaf;

/*
 * A semi- or anti-join: an AND-ed EXISTS, NOT EXISTS, IN, NOT IN, ANY or
 * ALL condition of a WHERE.  Whatever its form, whether it holds for a row
 * depends only on whether rows of `match' (its subquery, correlated to the
 * row, with the comparison moved into its WHERE) exist: it holds when some
 * do, or, for an anti-join, when none do.  The leaves of `match' have paths
 * through its level's path, then -(1 + index in plan->semis).  For x NOT
 * IN (SELECT c ...) with an equality, whose match rows are those with
 * (x = c) IS NOT FALSE, which no index finds, they are also counted as the
 * rows with c = x plus those with c IS NULL, or all rows where x is NULL.
 */
typedef struct DpSemi
{
	List	   *path;			/* range table indexes of its query level */
	int			conjunct;		/* index among that level's AND-ed WHERE */
	bool		anti;
	Query	   *match;
	Node	   *value;			/* NOT IN with an equality: x, at its level */
	Query	   *match_equal;	/* ... the subquery with c = x */
	Query	   *match_null;		/* ... with c IS NULL */
	Query	   *match_all;		/* ... as it is */
} DpSemi;

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
	bool		has_union;		/* UNION ALL somewhere in the query */
	List	   *keys;			/* group keys (Expr) */
	List	   *aggs;			/* DpAgg */
	List	   *leaves;			/* DpLeaf */
	List	   *semis;			/* DpSemi */
	int			semi_depth;		/* while planning: inside a subquery in WHERE */

	Query	   *pre;			/* the pre-aggregation query */
	char	   *pre_sql;
	List	   *store_cols;		/* DpColumn, keys first, __dp_count last */
	bool		legacy_names;	/* a store with internal names only (pre-0.2.0) */
} DpPlan;

extern DpPlan *dataproduct_plan_output(Oid query_view, Oid store);
extern void dataproduct_check_leaf_privileges(DpPlan *plan, Oid owner,
											  bool error);
extern void dataproduct_plan_refuse(DpPlan *plan, const char *reason);
extern void dataproduct_check_leaf_log(DpPlan *plan, DpLeaf *leaf, Oid log);

#endif							/* DATAPRODUCT_PLAN_H */
