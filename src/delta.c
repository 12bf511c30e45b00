/*-------------------------------------------------------------------------
 *
 * delta.c
 *	  The statements of incremental maintenance, generated from an output's
 *	  plan (plan.c): the store's load, the consumer-facing view, the delta
 *	  of a batch, and its merge into the store.
 *
 * Changes arrive as signed multisets: for a base relation T, the batch dT
 * holds +1 rows (new images) and -1 rows (old images).  For a join of
 * T1..Tn read at the refresh snapshot, inclusion-exclusion gives
 *
 *	 d(T1 |><| ... |><| Tn) = sum over non-empty U of (-1)^(|U|+1)
 *	                          (|><| of dTi for i in U, Tj for j not in U)
 *
 * with weights multiplied along each row.  Only relations with a non-empty
 * batch take part, so the usual batch (one changed table) is one term.  A
 * UNION ALL is a sum, not a product: a term keeps the one branch holding
 * its batches (see apply_union_batches).  Semi- and anti-joins add terms of
 * their own (see "Semi- and anti-joins").  Outer joins are not linear in
 * their nullable side: their delta rules count each preserved row's matches
 * before and after the batch (see "Delta of outer joins").
 *
 * Nothing here splices user text into SQL: the analysed query tree is
 * rewritten (a base relation replaced by its batch, the target list replaced
 * by keys and aggregate inputs) and turned back into SQL by the server's own
 * deparser, pg_get_querydef, which names every object schema-qualified under
 * the pinned search_path.  The statements that merge into the store only
 * name store columns.  The "pre" view (output_<id>_pre) holds the
 * pre-aggregation query: the initial load and the recomputation of groups
 * aggregate over it, and the planner inlines it so that filters on group
 * keys reach the base tables' indexes.  Nothing here runs SQL either: the
 * statements are run by apply.c and refresh.c.
 *
 * IDENTIFICATION
 *	  src/delta.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parse_relation.h"
#include "parser/parsetree.h"
#include "parser/parser.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/typcache.h"
#include "utils/regproc.h"
#include "utils/queryenvironment.h"
#include "executor/executor.h"

#include "capture.h"
#include "catalog.h"
#include "delta.h"
#include "exec.h"
#include "plan.h"


/* ----------------------------------------------------------------
 * SQL generation
 * ----------------------------------------------------------------
 */

static const char *
col(DpPlan *plan, int attno)
{
	return quote_identifier(((DpColumn *) list_nth(plan->store_cols, attno - 1))->name);
}

static const char *
pre_col(DpPlan *plan, int resno)
{
	return quote_identifier(((TargetEntry *) list_nth(plan->pre->targetList, resno - 1))->resname);
}

/* " FILTER (WHERE <cond> [AND filter])" or "" */
static char *
filter_clause(DpPlan *plan, DpAgg *agg, const char *alias, const char *cond)
{
	if (agg->filter_col == 0 && cond == NULL)
		return "";
	if (agg->filter_col == 0)
		return psprintf(" FILTER (WHERE %s)", cond);
	if (cond == NULL)
		return psprintf(" FILTER (WHERE %s.%s)", alias, pre_col(plan, agg->filter_col));
	return psprintf(" FILTER (WHERE %s AND %s.%s)", cond, alias,
					pre_col(plan, agg->filter_col));
}

typedef struct MapContext
{
	DpPlan	   *plan;
	Index		varno;
	bool		to_pre;			/* map aggregate inputs to pre view columns */
	DpAgg	   *agg;
} MapContext;

/*
 * Replace group keys and aggregate calls by Vars of the store (for the
 * output view), or an OTHER aggregate's inputs by Vars of the pre view (to
 * recompute it).
 */
static Node *
map_mutator(Node *node, MapContext *ctx)
{
	ListCell   *lc;
	int			i = 0;

	if (node == NULL)
		return NULL;
	if (ctx->to_pre)
	{
		TargetEntry *tle;

		foreach(lc, ctx->plan->pre->targetList)
		{
			tle = lfirst(lc);
			i++;
			if (equal(tle->expr, node) && !IsA(node, Const))
				return (Node *) makeVar(ctx->varno, i, exprType(node),
										exprTypmod(node), exprCollation(node), 0);
		}
		return expression_tree_mutator(node, map_mutator, ctx);
	}
	foreach(lc, ctx->plan->keys)
	{
		i++;
		if (equal(lfirst(lc), node))
			return (Node *) makeVar(ctx->varno, i, exprType(node),
									exprTypmod(node), exprCollation(node), 0);
	}
	if (IsA(node, Aggref))
	{
		foreach(lc, ctx->plan->aggs)
		{
			DpAgg	   *agg = lfirst(lc);

			if (equal(agg->aggref, node))
				return (Node *) makeVar(ctx->varno, agg->first_col,
										agg->aggref->aggtype, -1,
										agg->aggref->aggcollid, 0);
		}
		elog(ERROR, "aggregate missing from the maintenance plan");
	}
	return expression_tree_mutator(node, map_mutator, ctx);
}

/* The SQL of one store column's value, aggregated over the pre view. */
static void
append_aggregate_sql(StringInfo buf, DpPlan *plan, DpAgg *agg, Oid pre)
{
	const char *x = agg->pre_col ? psprintf("p.%s", pre_col(plan, agg->pre_col)) : NULL;
	const char *f = filter_clause(plan, agg, "p", NULL);

	switch (agg->kind)
	{
		case DP_AGG_COUNT_STAR:
			appendStringInfo(buf, "pg_catalog.count(*)%s", f);
			break;
		case DP_AGG_COUNT:
			appendStringInfo(buf, "pg_catalog.count(%s)%s", x, f);
			break;
		case DP_AGG_SUM:
			appendStringInfo(buf, "pg_catalog.sum(%s)%s, pg_catalog.count(%s)%s",
							 x, f, x, f);
			break;
		case DP_AGG_AVG:
			appendStringInfo(buf, "pg_catalog.avg(%s)%s, coalesce(pg_catalog.sum(%s%s)%s, '0'), pg_catalog.count(%s)%s",
							 x, f, x, agg->float_avg ? "::pg_catalog.float8" : "",
							 f, x, f);
			break;
		case DP_AGG_MIN:
			appendStringInfo(buf, "pg_catalog.min(%s)%s", x, f);
			break;
		case DP_AGG_MAX:
			appendStringInfo(buf, "pg_catalog.max(%s)%s", x, f);
			break;
		case DP_AGG_OTHER:
			{
				MapContext	ctx = {plan, 1, true, agg};
				Node	   *mapped = map_mutator((Node *) agg->aggref, &ctx);

				appendStringInfoString(buf,
									   deparse_expression(mapped,
														  deparse_context_for("p", pre),
														  true, false));
				break;
			}
	}
}

/*
 * The superset filter on affected groups: for every key, its value is in
 * the array parameter of affected values, or it is NULL and NULL was
 * affected.  Parameters come in pairs per key, after `first' ones.
 */
static char *
affected_filter(DpPlan *plan, const char *alias)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 1; i <= list_length(plan->keys); i++)
	{
		DpColumn   *key = list_nth(plan->store_cols, i - 1);

		/* the equality of the store's unique index, not whatever = means */
		appendStringInfo(&buf, "%s(%s.%s %s ANY ($%d) OR (%s.%s IS NULL AND $%d))",
						 i > 1 ? " AND " : "",
						 alias, col(plan, i), dataproduct_type_equality(key->type),
						 2 * i - 1, alias, col(plan, i), 2 * i);
	}
	return buf.data;
}

/*
 * dataproduct_store_sql
 *		The query computing the store's rows from the pre view (qualified
 *		name `pre'); with filtered, only the groups matching the affected
 *		filter (parameters from dataproduct_affected_sql).
 */
char *
dataproduct_store_sql(DpPlan *plan, const char *pre, bool filtered)
{
	StringInfoData buf;
	ListCell   *lc;
	int			i;
	Oid			pre_oid = RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(pre)),
										   NoLock, false);

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT ");
	if (plan->global)
		appendStringInfoString(&buf, "true, ");
	else
		for (i = 1; i <= list_length(plan->keys); i++)
			appendStringInfo(&buf, "p.%s, ", col(plan, i));
	foreach(lc, plan->aggs)
	{
		append_aggregate_sql(&buf, plan, lfirst(lc), pre_oid);
		appendStringInfoString(&buf, ", ");
	}
	appendStringInfo(&buf, "pg_catalog.count(*) FROM %s p", pre);
	if (filtered && !plan->global)
		appendStringInfo(&buf, " WHERE %s", affected_filter(plan, "p"));
	if (!plan->global)
	{
		appendStringInfoString(&buf, " GROUP BY ");
		for (i = 1; i <= list_length(plan->keys); i++)
			appendStringInfo(&buf, "%s%d", i > 1 ? ", " : "", i);
	}
	return buf.data;
}

/*
 * view_sql
 *		The SELECT of the output view over the store: declared columns
 *		computed from keys and aggregates, HAVING as a filter, duplicates
 *		repeated (store columns are qualified: they may be named like the
 *		copy counter n).  gated: fail instead of showing an unpopulated store.
 *		changed_only: only the rows of the store rows whose ctids are in
 *		the tid[] parameter $1.
 */
static char *
view_sql(DpPlan *plan, Oid store, bool gated, bool changed_only)
{
	StringInfoData buf;
	MapContext	ctx = {plan, 1, false, NULL};
	List	   *dpcontext = deparse_context_for(get_rel_name(store), store);
	char	   *qstore = quote_qualified_identifier("dataproduct_internal",
													get_rel_name(store));
	ListCell   *lc;
	bool		first = true;
	List	   *conds = NIL;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT ");
	foreach(lc, plan->query->targetList)
	{
		TargetEntry *tle = lfirst(lc);

		if (tle->resjunk)
			continue;
		appendStringInfo(&buf, "%s%s AS %s", first ? "" : ", ",
						 deparse_expression(map_mutator((Node *) tle->expr, &ctx),
											dpcontext, true, false),
						 quote_identifier(tle->resname));
		first = false;
	}
	appendStringInfo(&buf, " FROM %s", qstore);
	if (plan->expand)
		appendStringInfo(&buf, " CROSS JOIN LATERAL pg_catalog.generate_series(1::pg_catalog.int8, %s.__dp_count) __dp_copy(n)",
						 qstore);
	if (gated)
		conds = lappend(conds, psprintf("%s(%s::pg_catalog.regclass)",
										dataproduct_helper_function("assert_populated"),
										quote_literal_cstr(qstore)));
	if (changed_only)
		conds = lappend(conds, psprintf("%s.ctid OPERATOR(pg_catalog.=) ANY ($1)", qstore));
	if (plan->query->havingQual != NULL)
		conds = lappend(conds,
						psprintf("(%s)",
								 deparse_expression(map_mutator(plan->query->havingQual, &ctx),
													dpcontext, true, false)));
	foreach(lc, conds)
		appendStringInfo(&buf, "%s%s", foreach_current_index(lc) == 0 ? " WHERE " : " AND ",
						 (char *) lfirst(lc));
	return buf.data;
}

char *
dataproduct_view_sql(DpPlan *plan, Oid store, bool gated)
{
	return view_sql(plan, store, gated, false);
}

/*
 * dataproduct_changed_rows_sql
 *		The rows of the output view from the store rows whose ctids are in
 *		the tid[] parameter $1 (those a refresh wrote): what a check needs
 *		to look at when the rest is known to pass.
 */
char *
dataproduct_changed_rows_sql(DpPlan *plan, Oid store)
{
	return view_sql(plan, store, false, true);
}

/* ----------------------------------------------------------------
 * Delta of the pre-aggregation query
 * ----------------------------------------------------------------
 */

static int
leaf_index(DpPlan *plan, List *path)
{
	ListCell   *lc;

	foreach(lc, plan->leaves)
		if (equal(((DpLeaf *) lfirst(lc))->path, path))
			return foreach_current_index(lc);
	return -1;
}

/*
 * dataproduct_batch_name
 *		The name of the ephemeral relation holding the batch of a change log
 *		while a refresh runs.
 */
char *
dataproduct_batch_name(Oid log)
{
	return psprintf("__dp_batch_%u", log);
}

/* The name of the WITH item through which the delta reads that relation. */
static char *
batch_cte_name(Oid log)
{
	return psprintf("__dp_b%u", log);
}

/*
 * dataproduct_batch_sql
 *		The statement that reads the batch of relid's change log: every
 *		image whose transaction the refresh snapshot $1 sees and the previous
 *		one $2 does not, as a row of relid with the columns in attnos (those
 *		the output reads; NULL for the others, which the log may hold for
 *		other outputs) followed by its weight __dp_w.  Only the extension runs it,
 *		as the log's owner, into the ephemeral relation the delta reads
 *		(owners of products have no rights on the logs).
 */
static char *
batch_sql(Oid relid, Oid log, Bitmapset *attnos, bool with_xid)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT ");
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const char *name = NameStr(att->attname);

		if (att->attisdropped)
			appendStringInfo(&buf, "NULL::pg_catalog.int4 AS __dp_dropped_%d, ", i + 1);
		else if (bms_is_member(att->attnum, attnos) &&
				 get_attnum(log, name) != InvalidAttrNumber)
			appendStringInfo(&buf, "l.%s, ", quote_identifier(name));
		else
		{
			/* base types, as in the log: no domain check runs here */
			int32		typmod = att->atttypmod;
			Oid			type = getBaseTypeAndTypmod(att->atttypid, &typmod);

			appendStringInfo(&buf, "NULL::%s AS %s, ",
							 format_type_extended(type, typmod,
												  FORMAT_TYPE_TYPEMOD_GIVEN |
												  FORMAT_TYPE_FORCE_QUALIFY),
							 quote_identifier(name));
		}
	}
	if (with_xid)
		appendStringInfoString(&buf, "l." DP_LOG_XID " AS __dp_xid, ");
	appendStringInfo(&buf, "l." DP_LOG_WEIGHT "::pg_catalog.int4 AS __dp_w FROM %s l"
					 " WHERE l." DP_LOG_WEIGHT " OPERATOR(pg_catalog.<>) 0"
					 "   AND pg_catalog.pg_visible_in_snapshot(l." DP_LOG_XID ", $1)"
					 "   AND NOT pg_catalog.pg_visible_in_snapshot(l." DP_LOG_XID ", $2)",
					 dataproduct_qualified_name(log));
	relation_close(rel, AccessShareLock);
	return buf.data;
}

char *
dataproduct_batch_sql(Oid relid, Oid log, Bitmapset *attnos)
{
	return batch_sql(relid, log, attnos, false);
}

/*
 * dataproduct_history_batch_sql
 *		The batch of a history output's source (dataproduct_batch_sql) with
 *		the writing transaction's xid, __dp_xid, before __dp_w: history
 *		outputs order a batch's changes by their commit (history.c).
 */
char *
dataproduct_history_batch_sql(Oid relid, Oid log, Bitmapset *attnos)
{
	return batch_sql(relid, log, attnos, true);
}

/*
 * batch_columns
 *		The columns of a batch as the delta reads them: the relation's, in
 *		order, then __dp_w.  Logs keep a domain's base type (capture.c), so
 *		the delta, which runs as the product owner, casts back to the
 *		domain: its constraints are checked as the owner, never as the
 *		extension.
 */
static char *
batch_columns(Oid relid, bool with_xid)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const char *name = quote_identifier(NameStr(att->attname));

		if (att->attisdropped)
			appendStringInfo(&buf, "__dp_dropped_%d, ", i + 1);
		else if (get_typtype(att->atttypid) == TYPTYPE_DOMAIN)
			appendStringInfo(&buf, "%s::%s AS %s, ", name,
							 format_type_extended(att->atttypid, att->atttypmod,
												  FORMAT_TYPE_TYPEMOD_GIVEN |
												  FORMAT_TYPE_FORCE_QUALIFY),
							 name);
		else
			appendStringInfo(&buf, "%s, ", name);
	}
	appendStringInfoString(&buf, with_xid ? "__dp_xid, __dp_w" : "__dp_w");
	relation_close(rel, AccessShareLock);
	return buf.data;
}

/*
 * batch_query
 *		The analysed statement that loads the batch of relid's change log
 *		(dataproduct_batch_sql): the delta reads its rows in place of the
 *		leaf, so its target list gives the columns.  Only analysed, never
 *		run here.
 */
static Query *
batch_query(Oid relid, Oid log, Bitmapset *attnos, bool with_xid)
{
	char	   *load = batch_sql(relid, log, attnos, with_xid);
	Oid			paramtypes[2] = {PG_SNAPSHOTOID, PG_SNAPSHOTOID};

	return parse_analyze_fixedparams(linitial_node(RawStmt, raw_parser(load, RAW_PARSE_DEFAULT)),
									 load, paramtypes, 2, NULL);
}

static Expr *
int4_product(Expr *a, Expr *b)
{
	if (a == NULL)
		return b;
	return (Expr *) makeFuncExpr(F_INT4MUL, INT4OID, list_make2(a, b),
								 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
}

/*
 * forget_relation
 *		Clear what a range table entry says of the relation it named, before
 *		it is made to read something else: a batch (the extension's, read
 *		without privilege checks) or a subquery (which holds a copy of the
 *		entry, checked and locked there).
 */
static void
forget_relation(RangeTblEntry *rte)
{
	rte->security_barrier = false;
	rte->relid = InvalidOid;
	rte->relkind = 0;
	rte->rellockmode = 0;
	rte->tablesample = NULL;
	rte->inh = false;
	rte->requiredPerms = 0;
	rte->checkAsUser = InvalidOid;
	rte->selectedCols = NULL;
	rte->insertedCols = NULL;
	rte->updatedCols = NULL;
	rte->extraUpdatedCols = NULL;
}

/*
 * rte_to_batch
 *		Turn the range table entry of a leaf into a reference to the WITH
 *		item that the delta statement puts first (see
 *		dataproduct_delta_sql), which reads the batch the extension loaded;
 *		batch is its analysed load statement (batch_query), whose target
 *		list gives the columns.
 */
static void
rte_to_batch(RangeTblEntry *rte, Query *batch, Oid log, Index levelsup)
{
	ListCell   *tc;

	forget_relation(rte);
	rte->rtekind = RTE_CTE;
	rte->ctename = batch_cte_name(log);
	rte->ctelevelsup = levelsup;
	rte->self_reference = false;
	rte->eref->colnames = NIL;
	rte->coltypes = NIL;
	rte->coltypmods = NIL;
	rte->colcollations = NIL;
	foreach(tc, batch->targetList)
	{
		TargetEntry *te = lfirst(tc);

		rte->eref->colnames = lappend(rte->eref->colnames,
									  makeString(te->resname));
		rte->coltypes = lappend_oid(rte->coltypes, exprType((Node *) te->expr));
		rte->coltypmods = lappend_int(rte->coltypmods, exprTypmod((Node *) te->expr));
		rte->colcollations = lappend_oid(rte->colcollations,
										 exprCollation((Node *) te->expr));
	}
	if (rte->alias != NULL)
		rte->alias->colnames = NIL;
}

/*
 * apply_batches
 *		In query (a copy), replace the leaves in `changed' by their batches,
 *		and return the product of their weights as an expression of query's
 *		level (NULL if none of its leaves changed).  Subqueries holding a
 *		changed leaf pass its weight up as a last column, __dp_w.
 */
/*
 * What a term of the delta is besides its batches: weights of its own at
 * query levels (paths[i] gets weights[i]: semi- and anti-joins as they were,
 * the sign of the rows whose condition flips, see "Semi- and anti-joins"),
 * and whether it is known to be empty (batches in two branches of one
 * UNION ALL).
 */
typedef struct DpLevelWeight
{
	List	   *paths;			/* deltas: a flip */
	List	   *weights;
	List	   *state_paths;	/* states: semi-joins as they were */
	List	   *state_weights;
	int			ndeltas;		/* batches and deltas applied so far */
	bool		empty;
} DpLevelWeight;

static Expr *apply_batches(Query *query, List *path, DpPlan *plan,
						   Bitmapset *changed, Oid *logs, DpLevelWeight *extra);

/*
 * apply_union_batches
 *		apply_batches for a UNION ALL: the delta of a sum is the sum of the
 *		deltas, so a term with batches (or a flip) in one branch keeps that
 *		branch only (the others get WHERE false), and one with batches in
 *		two branches is empty.  Each branch then passes its weight up as a
 *		last column __dp_w (which may also weigh semi-joins as they were),
 *		constant 1 where it has none.
 */
static Expr *
apply_union_batches(Query *query, List *path, DpPlan *plan, Bitmapset *changed,
					Oid *logs, DpLevelWeight *extra)
{
	List	   *weights = NIL;
	List	   *deltas = NIL;
	int			nchanged = 0;
	bool		any = false;
	int			resno = 0;
	Node	   *leftmost = query->setOperations;
	ListCell   *lc;

	foreach(lc, query->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);
		Expr	   *w = NULL;
		int			before = extra != NULL ? extra->ndeltas : 0;
		bool		delta;

		/* (a view's query also holds its OLD and NEW) */
		if (rte->rtekind == RTE_SUBQUERY)
			w = apply_batches(rte->subquery,
							  lappend_int(list_copy(path), foreach_current_index(lc) + 1),
							  plan, changed, logs, extra);
		delta = extra != NULL ? extra->ndeltas > before : w != NULL;
		weights = lappend(weights, w);
		deltas = lappend_int(deltas, delta);
		nchanged += delta;
		any |= (w != NULL);
	}
	if (!any)
		return NULL;
	if (nchanged > 1 && extra != NULL)
		extra->empty = true;
	foreach(lc, query->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);
		Query	   *branch = rte->subquery;
		Expr	   *w = list_nth(weights, foreach_current_index(lc));

		if (rte->rtekind != RTE_SUBQUERY)
			continue;
		if (nchanged > 0 && !list_nth_int(deltas, foreach_current_index(lc)))
			branch->jointree->quals = make_and_qual(branch->jointree->quals,
													makeBoolConst(false, false));
		if (w == NULL)
			w = (Expr *) makeConst(INT4OID, -1, InvalidOid, 4, Int32GetDatum(1),
								   false, true);
		resno = list_length(branch->targetList) + 1;
		branch->targetList = lappend(branch->targetList,
									 makeTargetEntry(w, resno, pstrdup("__dp_w"), false));
		rte->eref->colnames = lappend(rte->eref->colnames, makeString(pstrdup("__dp_w")));
	}
	/* every node of the set operation gets the column too */
	{
		List	   *nodes = list_make1(query->setOperations);

		foreach(lc, nodes)
		{
			SetOperationStmt *op = lfirst(lc);

			if (!IsA(op, SetOperationStmt))
				continue;
			op->colTypes = lappend_oid(op->colTypes, INT4OID);
			op->colTypmods = lappend_int(op->colTypmods, -1);
			op->colCollations = lappend_oid(op->colCollations, InvalidOid);
			nodes = lappend(nodes, op->larg);
			nodes = lappend(nodes, op->rarg);
		}
	}
	while (IsA(leftmost, SetOperationStmt))
		leftmost = ((SetOperationStmt *) leftmost)->larg;
	return (Expr *) makeVar(((RangeTblRef *) leftmost)->rtindex, resno, INT4OID, -1,
							InvalidOid, 0);
}

static Expr *
apply_batches(Query *query, List *path, DpPlan *plan, Bitmapset *changed,
			  Oid *logs, DpLevelWeight *extra)
{
	Expr	   *weight = NULL;
	ListCell   *lc;

	if (query->setOperations != NULL)
		return apply_union_batches(query, path, plan, changed, logs, extra);

	foreach(lc, query->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);
		Index		rti = foreach_current_index(lc) + 1;
		List	   *subpath = lappend_int(list_copy(path), rti);
		int			leaf = leaf_index(plan, subpath);
		Expr	   *w = NULL;

		if (leaf >= 0 && bms_is_member(leaf, changed))
		{
			DpLeaf	   *dleaf = list_nth(plan->leaves, leaf);
			Query	   *batch = batch_query(rte->relid, logs[leaf], dleaf->attnos, false);

			rte_to_batch(rte, batch, logs[leaf], list_length(path) + 1);
			w = (Expr *) makeVar(rti, list_length(batch->targetList), INT4OID, -1,
								 InvalidOid, 0);
			if (extra != NULL)
				extra->ndeltas++;
		}
		else if (rte->rtekind == RTE_SUBQUERY)
		{
			Expr	   *sw = apply_batches(rte->subquery, subpath, plan, changed, logs,
											   extra);

			if (sw != NULL)
			{
				int			resno = list_length(rte->subquery->targetList) + 1;

				rte->subquery->targetList =
					lappend(rte->subquery->targetList,
							makeTargetEntry(sw, resno, pstrdup("__dp_w"), false));
				rte->eref->colnames = lappend(rte->eref->colnames,
											  makeString(pstrdup("__dp_w")));
				w = (Expr *) makeVar(rti, resno, INT4OID, -1, InvalidOid, 0);
			}
		}
		if (w != NULL)
			weight = int4_product(weight, w);
	}
	if (extra != NULL)
	{
		foreach(lc, extra->paths)
			if (equal(lfirst(lc), path))
			{
				weight = int4_product(weight, list_nth(extra->weights,
													   foreach_current_index(lc)));
				extra->ndeltas++;
			}
		foreach(lc, extra->state_paths)
			if (equal(lfirst(lc), path))
				weight = int4_product(weight, list_nth(extra->state_weights,
													   foreach_current_index(lc)));
	}
	return weight;
}

/* ----------------------------------------------------------------
 * Semi- and anti-joins
 *
 * A semi- or anti-join (plan.c) is a condition c(l) on the rows l of the
 * rest of the query, J, that holds when rows of its match query M(l)
 * exist (for an anti-join, when none do):  Q = J . c.  With c_old and
 * c_new its value before and after the batch,
 *
 *	 dQ = dJ . c_old + J_new . (c_new - c_old)
 *
 * dJ by inclusion-exclusion as above, at the new state.  c_old comes from
 * counts: |M_old(l)| = |M_new(l)| - |dM(l)|, dM the inclusion-exclusion
 * delta of M over its changed leaves, so the condition can be evaluated as
 * it was.  The second term holds the rows of J_new whose condition flips,
 * with weight +1 or -1; only rows that a row of dM matches can flip (the
 * match query relaxes NOT IN and ALL comparisons to every row that can
 * decide them), so that test replaces the condition, as an EXISTS the
 * planner turns into a semi-join driven by the batch.  The conditions as
 * they were and the flips are weights (0, 1 or -1), not filters: a filter
 * reading one relation only would be pushed down to its scan and evaluated
 * for every row of a whole table; as weights they are evaluated for the
 * rows of the term only, and the rows of weight 0 are dropped above an
 * OFFSET 0 fence.  Uncorrelated subqueries are the degenerate case: either
 * every row flips or none.  With several changed
 * conditions c1..ck, the product telescopes:
 *
 *	 prod c_new - prod c_old = sum over i of
 *	     c1_new .. c(i-1)_new . (ci_new - ci_old) . c(i+1)_old .. ck_old
 *
 * one flip term per changed condition, the others as they are now or were.
 * ----------------------------------------------------------------
 */

/* The query level at path (range table indexes of subqueries in FROM). */
static Query *
level_query(Query *query, List *path)
{
	ListCell   *lc;

	foreach(lc, path)
		query = rt_fetch(lfirst_int(lc), query->rtable)->subquery;
	return query;
}

/* The cell of semi's condition in a copy of the pre query. */
static ListCell *
semi_cell(Query *term, DpSemi *semi)
{
	Query	   *level = level_query(term, semi->path);

	return list_nth_cell(castNode(BoolExpr, level->jointree->quals)->args,
						 semi->conjunct);
}

static Aggref *
make_aggref(Oid fnoid, Expr *arg)
{
	Aggref	   *agg = makeNode(Aggref);

	agg->aggfnoid = fnoid;
	agg->aggtype = INT8OID;
	agg->aggcollid = InvalidOid;
	agg->inputcollid = InvalidOid;
	agg->aggtranstype = InvalidOid;
	agg->aggstar = (arg == NULL);
	if (arg != NULL)
	{
		agg->aggargtypes = list_make1_oid(exprType((Node *) arg));
		agg->args = list_make1(makeTargetEntry(arg, 1, NULL, false));
	}
	agg->aggkind = AGGKIND_NORMAL;
	agg->agglevelsup = 0;
	agg->aggsplit = AGGSPLIT_SIMPLE;
	agg->aggno = -1;
	agg->aggtransno = -1;
	agg->location = -1;
	return agg;
}

/* (SELECT agg FROM ... WHERE ...) over query, NULL-free */
static Expr *
count_sublink(Query *query, Aggref *agg)
{
	SubLink    *sublink = makeNode(SubLink);
	CoalesceExpr *coalesce = makeNode(CoalesceExpr);

	query->targetList = list_make1(makeTargetEntry((Expr *) agg, 1,
												   pstrdup("n"), false));
	query->hasAggs = true;
	sublink->subLinkType = EXPR_SUBLINK;
	sublink->subselect = (Node *) query;
	sublink->location = -1;
	coalesce->coalescetype = INT8OID;
	coalesce->args = list_make2(sublink, makeConst(INT8OID, -1, InvalidOid, 8,
												   Int64GetDatum(0), false,
												   FLOAT8PASSBYVAL));
	coalesce->location = -1;
	return (Expr *) coalesce;
}

/*
 * semi_batches
 *		The inclusion-exclusion terms of the delta of semi s's match query
 *		over its leaves in `changed': copies of `match' (its match query,
 *		or one of the split ones) with batches in place, and (in *weights)
 *		each term's signed weight.
 */
static List *
semi_batches(DpPlan *plan, int s, Query *match, Bitmapset *changed, Oid *logs,
			 List **weights)
{
	DpSemi	   *semi = list_nth(plan->semis, s);
	List	   *path = lappend_int(list_copy(semi->path), -(s + 1));
	List	   *mine = NIL;
	List	   *terms = NIL;
	ListCell   *lc;
	int			subset;

	*weights = NIL;
	foreach(lc, plan->leaves)
		if (((DpLeaf *) lfirst(lc))->semi == s + 1 &&
			bms_is_member(foreach_current_index(lc), changed))
			mine = lappend_int(mine, foreach_current_index(lc));
	for (subset = 1; subset < (1 << list_length(mine)); subset++)
	{
		Bitmapset  *u = NULL;
		Query	   *term = copyObject(match);
		Expr	   *weight;

		foreach(lc, mine)
			if (subset & (1 << foreach_current_index(lc)))
				u = bms_add_member(u, lfirst_int(lc));
		weight = apply_batches(term, path, plan, u, logs, NULL);
		if (bms_num_members(u) % 2 == 0)
			weight = (Expr *) makeFuncExpr(F_INT4UM, INT4OID, list_make1(weight),
										   InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		terms = lappend(terms, term);
		*weights = lappend(*weights, weight);
	}
	return terms;
}

/* The rows of `match' (of semi s) before the batch, counted. */
static Expr *
old_count(DpPlan *plan, int s, Query *match, Bitmapset *changed, Oid *logs)
{
	Expr	   *count = count_sublink(copyObject(match), make_aggref(F_COUNT_, NULL));
	List	   *weights;
	List	   *terms = semi_batches(plan, s, match, changed, logs, &weights);
	ListCell   *lc;

	foreach(lc, terms)
		count = (Expr *) makeFuncExpr(F_INT8MI, INT8OID,
									  list_make2(count,
												 count_sublink(lfirst(lc),
															   make_aggref(F_SUM_INT4,
																		   list_nth(weights, foreach_current_index(lc))))),
									  InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	return count;
}

/*
 * Semi s's condition as it was before the batch: from counts of its match
 * rows, or for a split NOT IN (plan.c), of the rows equal to the row's
 * value and of the NULLs, or of all rows where the row's value is NULL.
 */
static Expr *
semi_old(DpPlan *plan, int s, Bitmapset *changed, Oid *logs)
{
	DpSemi	   *semi = list_nth(plan->semis, s);
	Expr	   *count;

	if (semi->match_equal == NULL)
		count = old_count(plan, s, semi->match, changed, logs);
	else
	{
		CaseExpr   *split = makeNode(CaseExpr);
		CaseWhen   *when = makeNode(CaseWhen);
		NullTest   *isnull = makeNode(NullTest);

		isnull->arg = (Expr *) copyObject(semi->value);
		isnull->nulltesttype = IS_NULL;
		isnull->argisrow = false;
		isnull->location = -1;
		when->expr = (Expr *) isnull;
		when->result = old_count(plan, s, semi->match_all, changed, logs);
		when->location = -1;
		split->casetype = INT8OID;
		split->args = list_make1(when);
		split->defresult = (Expr *) makeFuncExpr(F_INT8PL, INT8OID,
												 list_make2(old_count(plan, s, semi->match_equal, changed, logs),
															old_count(plan, s, semi->match_null, changed, logs)),
												 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		split->location = -1;
		count = (Expr *) split;
	}
	return (Expr *) makeFuncExpr(semi->anti ? F_INT8LE : F_INT8GT, BOOLOID,
								 list_make2(count, makeConst(INT8OID, -1, InvalidOid, 8,
															 Int64GetDatum(0), false,
															 FLOAT8PASSBYVAL)),
								 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
}

/* 1 where cond holds, else 0 */
static Expr *
indicator(Expr *cond)
{
	CaseExpr   *ind = makeNode(CaseExpr);
	CaseWhen   *when = makeNode(CaseWhen);

	when->expr = cond;
	when->result = (Expr *) makeConst(INT4OID, -1, InvalidOid, 4, Int32GetDatum(1),
									  false, true);
	when->location = -1;
	ind->casetype = INT4OID;
	ind->args = list_make1(when);
	ind->defresult = (Expr *) makeConst(INT4OID, -1, InvalidOid, 4, Int32GetDatum(0),
										false, true);
	ind->location = -1;
	return (Expr *) ind;
}

/*
 * semi_flip
 *		For semi s's condition (now: `now'): the condition that some match
 *		row of the batch relates to the row (only those rows can flip), and
 *		in *weight the change of the condition: +1 where it holds now and
 *		did not, -1 where it held and does not, else 0.
 */
static Node *
semi_flip(DpPlan *plan, int s, Node *now, Bitmapset *changed, Oid *logs,
		  Expr **weight)
{
	List	   *weights;
	List	   *terms = semi_batches(plan, s, ((DpSemi *) list_nth(plan->semis, s))->match,
									 changed, logs, &weights);
	List	   *related = NIL;
	BooleanTest *holds = makeNode(BooleanTest);
	ListCell   *lc;

	holds->arg = (Expr *) now;
	holds->booltesttype = IS_TRUE;
	holds->location = -1;
	*weight = (Expr *) makeFuncExpr(F_INT4MI, INT4OID,
									list_make2(indicator((Expr *) holds),
											   indicator(semi_old(plan, s, changed, logs))),
									InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	foreach(lc, terms)
	{
		SubLink    *exists = makeNode(SubLink);

		exists->subLinkType = EXISTS_SUBLINK;
		exists->subselect = lfirst(lc);
		exists->location = -1;
		related = lappend(related, exists);
	}
	return list_length(related) == 1 ? linitial(related) :
		(Node *) makeBoolExpr(OR_EXPR, related, -1);
}

/*
 * Append one term of the delta, with its weight as a last column.  With
 * weighted (weights of semi-joins in it, which can be 0), rows of weight 0
 * are left out above an OFFSET 0, so that the conditions in the weights are
 * evaluated for the rows of the term only, not pushed down to a scan of a
 * whole table (where a condition reads one relation only).
 */
static void
append_term(StringInfo buf, int withlen, Query *term, Expr *weight,
			bool weighted)
{
	term->targetList = lappend(term->targetList,
							   makeTargetEntry(weight, list_length(term->targetList) + 1,
											   pstrdup("__dp_w"), false));
	if (weighted)
		term->limitOffset = (Node *) makeConst(INT8OID, -1, InvalidOid, 8,
											   Int64GetDatum(0), false,
											   FLOAT8PASSBYVAL);
	appendStringInfo(buf, "%s(%s%s%s)", buf->len > withlen + 1 ? " UNION ALL " : "",
					 weighted ? "SELECT * FROM (" : "",
					 pg_get_querydef(term, false),
					 weighted ? ") __dp_t WHERE __dp_t.__dp_w OPERATOR(pg_catalog.<>) 0" : "");
}

/* ----------------------------------------------------------------
 * Delta of outer joins
 *
 * A join tree node N (a base relation or view, an inner join, a FROM list
 * with its WHERE, or a LEFT, RIGHT or FULL join) has its delta written as
 * a list of terms: each is the node itself with some of its relations read
 * from their batches ("delta"), some read as empty relations ("empty": the
 * columns of a NULL-extended side), the others as they are now, its joins
 * possibly turned inner, factors of its rows' weights, a filter narrowing
 * it to rows that can have a non-zero weight (conds) and a sign.  The rows
 * of a term carry the product of their batch weights and factors; dN is
 * the sum of the terms.  Terms keep the range table of the pre query, so
 * every Var of the query keeps its meaning.  Factors and conds only look at
 * columns of the term's rows that no join above nulls (joins above a term
 * are inner, or null its sibling), so they can be evaluated at the top:
 * factors in the target list, where the planner cannot push their counting
 * subqueries down to every row of a table scanned, and conds (EXISTS, which
 * the planner makes a semi-join) in the WHERE.  Rows whose factor is 0 are
 * harmless in the delta: they change no group.
 *
 * For L LEFT JOIN R ON c, m(l) the number of rows of R matching l (now, or
 * before the batch: m_old(l) = m(l) minus the weights of the rows of dR
 * matching l):
 *
 *	 d(L |X| R) = dL >< R + L >< dR - dL >< dR         (the matches, inner)
 *	            + (dL, NULL) * [m_old(l) = 0]           (new and old lone rows)
 *	            + (L, NULL) * ([m(l) = 0] - [m_old(l) = 0])
 *	                            (rows that lost their last match, or found a first)
 *
 * where the last term only looks at the rows of L matching some row of dR
 * (m and m_old differ for no other).  This is exact for any condition (not
 * only equalities; NULL matches nothing, as in the join), duplicates on
 * either side, and any number of relations changing in one batch.  Exact
 * delta rows, rather than recomputing the group keys a batch may affect,
 * because they need no superset of keys to be right (a NULL-extended row's
 * keys come from the other side, and several tables change at once), and
 * everything downstream (merged aggregates, min/max and other aggregates
 * recomputed for the groups of the delta, plain rows counted) works on
 * them as for inner joins.
 * RIGHT is the mirror, FULL both lone parts; when the nullable side has no
 * changes, dL LEFT JOIN R is the whole delta (the join is linear in L).
 * The counts are scalar subqueries over the node's side, as it is now or
 * as a term of its own delta; weights are int4 and counts int8, computed
 * by the server's own functions, and everything goes through the
 * deparser.  Outer joins are only maintained at the top of the output's
 * query (plan.c refuses them in views and subqueries, next to LATERAL,
 * join aliases and functions or VALUES on a nullable side).
 * ----------------------------------------------------------------
 */

typedef struct OjTerm
{
	Node	   *tree;			/* the join tree node, as the term reads it */
	List	   *conds;			/* filters on its rows */
	List	   *factors;		/* int4 factors of its rows' weights */
	Bitmapset  *delta;			/* leaves read from their batches */
	Bitmapset  *empty;			/* range table indexes read as empty */
	int			sign;
} OjTerm;

typedef struct OjContext
{
	DpPlan	   *plan;
	Bitmapset  *changed;		/* leaves with a batch */
	Oid		   *logs;
} OjContext;

/* Range table indexes a join tree node reads (relations and joins). */
static Bitmapset *
node_relids(Node *node, bool units_only)
{
	Bitmapset  *relids = NULL;
	ListCell   *lc;

	if (IsA(node, RangeTblRef))
		return bms_make_singleton(((RangeTblRef *) node)->rtindex);
	if (IsA(node, FromExpr))
	{
		foreach(lc, ((FromExpr *) node)->fromlist)
			relids = bms_join(relids, node_relids(lfirst(lc), units_only));
		return relids;
	}
	if (IsA(node, JoinExpr))
	{
		JoinExpr   *j = (JoinExpr *) node;

		relids = bms_join(node_relids(j->larg, units_only),
						  node_relids(j->rarg, units_only));
		if (!units_only && j->rtindex > 0)
			relids = bms_add_member(relids, j->rtindex);
		return relids;
	}
	elog(ERROR, "unrecognized join tree node: %d", (int) nodeTag(node));
	return NULL;
}

static OjTerm *
make_term(Node *tree, int sign)
{
	OjTerm	   *t = palloc0(sizeof(OjTerm));

	t->tree = tree;
	t->sign = sign;
	return t;
}

/* A term reading both terms' relations as they do (disjoint sides). */
static OjTerm *
combine_terms(Node *tree, OjTerm *a, OjTerm *b, int sign)
{
	OjTerm	   *t = make_term(tree, sign * (a ? a->sign : 1) * (b ? b->sign : 1));

	if (a)
	{
		t->conds = list_copy(a->conds);
		t->factors = list_copy(a->factors);
		t->delta = bms_copy(a->delta);
		t->empty = bms_copy(a->empty);
	}
	if (b)
	{
		t->conds = list_concat(t->conds, b->conds);
		t->factors = list_concat(t->factors, b->factors);
		t->delta = bms_union(t->delta, b->delta);
		t->empty = bms_union(t->empty, b->empty);
	}
	return t;
}

static Node *
copy_join(JoinExpr *j, JoinType type, Node *larg, Node *rarg)
{
	JoinExpr   *c = copyObject(j);

	c->jointype = type;
	c->larg = larg;
	c->rarg = rarg;
	return (Node *) c;
}

/*
 * make_empty
 *		Make a relation or view of the range table read as an empty one:
 *		a subquery of its columns WHERE false, which the planner reduces to
 *		nothing.  Its columns keep their positions, names and types.
 */
static void
make_empty(RangeTblEntry *rte)
{
	if (rte->rtekind == RTE_SUBQUERY)
	{
		rte->subquery = copyObject(rte->subquery);
		rte->subquery->jointree->quals =
			make_and_qual(rte->subquery->jointree->quals,
						  (Node *) makeBoolConst(false, false));
		return;
	}
	if (rte->rtekind == RTE_RELATION)
	{
		Query	   *sub = makeNode(Query);
		RangeTblRef *ref = makeNode(RangeTblRef);
		Relation	rel = relation_open(rte->relid, AccessShareLock);
		TupleDesc	desc = RelationGetDescr(rel);
		List	   *names = NIL;
		int			i;

		sub->commandType = CMD_SELECT;
		sub->querySource = QSRC_ORIGINAL;
		sub->canSetTag = true;
		sub->rtable = list_make1(copyObject(rte));
		ref->rtindex = 1;
		sub->jointree = makeFromExpr(list_make1(ref),
									 (Node *) makeBoolConst(false, false));
		for (i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);
			Expr	   *e;
			char	   *name;

			if (att->attisdropped)
			{
				e = (Expr *) makeNullConst(INT4OID, -1, InvalidOid);
				name = psprintf("__dp_dropped_%d", i + 1);
			}
			else
			{
				e = (Expr *) makeVar(1, att->attnum, att->atttypid, att->atttypmod,
									 att->attcollation, 0);
				name = pstrdup(NameStr(att->attname));
			}
			sub->targetList = lappend(sub->targetList,
									  makeTargetEntry(e, i + 1, name, false));
			names = lappend(names, makeString(name));
		}
		relation_close(rel, AccessShareLock);
		forget_relation(rte);
		rte->rtekind = RTE_SUBQUERY;
		rte->subquery = sub;
		rte->eref->colnames = names;
		if (rte->alias != NULL)
			rte->alias->colnames = NIL;
		return;
	}
	elog(ERROR, "cannot read range table entry of kind %d as empty", (int) rte->rtekind);
}

/*
 * apply_roles
 *		Read the term's relations in query (a copy over the pre query's
 *		range table) as it says; the product of the batch weights and the
 *		term's factors, or NULL when it has neither.
 */
static Expr *
apply_roles(OjContext *ctx, Query *query, OjTerm *t)
{
	int			rti = -1;

	Expr	   *weight;
	ListCell   *lc;

	while ((rti = bms_next_member(t->empty, rti)) >= 0)
		make_empty(rt_fetch(rti, query->rtable));
	weight = apply_batches(query, NIL, ctx->plan, t->delta, ctx->logs, NULL);
	foreach(lc, t->factors)
		weight = int4_product(weight, copyObject(lfirst(lc)));
	return weight;
}

typedef struct SublevelsContext
{
	Bitmapset  *outer;			/* relids now one level up */
} SublevelsContext;

static Node *
sublevels_mutator(Node *node, SublevelsContext *ctx)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) copyObject(node);

		if (var->varlevelsup == 0 && bms_is_member(var->varno, ctx->outer))
			var->varlevelsup = 1;
		return (Node *) var;
	}
	return expression_tree_mutator(node, sublevels_mutator, ctx);
}

/*
 * side_sublink
 *		A subquery over term t of a join's side (its rows, or a term of its
 *		delta) matching the row of the other side: count(*) of its rows
 *		(or coalesce(sum(weight), 0) when they are weighted) or, with exists,
 *		EXISTS of one, whatever its weight (a superset).  cond is the join's
 *		condition, its other side's Vars already one level up.
 */
static Node *
side_sublink(OjContext *ctx, OjTerm *t, Node *cond, bool exists)
{
	Query	   *q = makeNode(Query);
	SubLink    *sl = makeNode(SubLink);
	Expr	   *w;
	Node	   *quals = copyObject(cond);
	Bitmapset  *in_tree = node_relids(t->tree, false);
	ListCell   *lc;
	Expr	   *value;

	q->commandType = CMD_SELECT;
	q->querySource = QSRC_ORIGINAL;
	q->canSetTag = true;
	q->rtable = copyObject(ctx->plan->pre->rtable);
	/* the deparser names the columns of the joins in FROM only */
	foreach(lc, q->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);

		if (rte->rtekind == RTE_JOIN &&
			!bms_is_member(foreach_current_index(lc) + 1, in_tree))
		{
			rte->rtekind = RTE_RESULT;
			rte->joinaliasvars = NIL;
			rte->joinleftcols = NIL;
			rte->joinrightcols = NIL;
			rte->joinmergedcols = 0;
			rte->eref->colnames = NIL;
		}
	}
	foreach(lc, t->conds)
		quals = make_and_qual(quals, copyObject(lfirst(lc)));
	q->jointree = makeFromExpr(list_make1(copyObject(t->tree)), quals);
	q->hasSubLinks = true;
	if (exists)
	{
		OjTerm		unweighted = *t;

		unweighted.factors = NIL;
		(void) apply_roles(ctx, q, &unweighted);
		w = NULL;
	}
	else
		w = apply_roles(ctx, q, t);
	if (exists)
		value = (Expr *) makeConst(INT4OID, -1, InvalidOid, 4, Int32GetDatum(1),
								   false, true);
	else
	{
		Aggref	   *agg = makeNode(Aggref);

		agg->aggtype = INT8OID;
		agg->aggcollid = InvalidOid;
		agg->inputcollid = InvalidOid;
		agg->aggtranstype = InvalidOid;
		agg->aggkind = AGGKIND_NORMAL;
		agg->aggsplit = AGGSPLIT_SIMPLE;
		agg->aggno = -1;
		agg->aggtransno = -1;
		agg->location = -1;
		if (w == NULL)
		{
			agg->aggfnoid = F_COUNT_;
			agg->aggstar = true;
			value = (Expr *) agg;
		}
		else
		{
			CoalesceExpr *ce = makeNode(CoalesceExpr);

			agg->aggfnoid = F_SUM_INT4;
			agg->aggargtypes = list_make1_oid(INT4OID);
			agg->args = list_make1(makeTargetEntry(w, 1, NULL, false));
			ce->coalescetype = INT8OID;
			ce->coalescecollid = InvalidOid;
			ce->args = list_make2(agg, makeConst(INT8OID, -1, InvalidOid, 8,
												 Int64GetDatum(0), false,
												 FLOAT8PASSBYVAL));
			ce->location = -1;
			value = (Expr *) ce;
		}
		q->hasAggs = true;
	}
	q->targetList = list_make1(makeTargetEntry(value, 1, pstrdup("n"), false));
	sl->subLinkType = exists ? EXISTS_SUBLINK : EXPR_SUBLINK;
	sl->subLinkId = 0;
	sl->testexpr = NULL;
	sl->operName = NIL;
	sl->subselect = (Node *) q;
	sl->location = -1;
	return (Node *) sl;
}

static Node *
int8_call(Oid funcid, Node *a, Node *b)
{
	return (Node *) makeFuncExpr(funcid, funcid == F_INT8EQ || funcid == F_INT8NE ?
								 BOOLOID : INT8OID,
								 list_make2(a, b), InvalidOid, InvalidOid,
								 COERCE_EXPLICIT_CALL);
}

static Node *
int8_zero(void)
{
	return (Node *) makeConst(INT8OID, -1, InvalidOid, 8, Int64GetDatum(0), false,
							  FLOAT8PASSBYVAL);
}

/* CASE WHEN cond THEN 1 ELSE 0 END, an int4, for a condition as a Node */
static Expr *
oj_indicator(Node *cond)
{
	CaseExpr   *c = makeNode(CaseExpr);
	CaseWhen   *w = makeNode(CaseWhen);

	w->expr = (Expr *) cond;
	w->result = (Expr *) makeConst(INT4OID, -1, InvalidOid, 4, Int32GetDatum(1),
								   false, true);
	w->location = -1;
	c->casetype = INT4OID;
	c->casecollid = InvalidOid;
	c->arg = NULL;
	c->args = list_make1(w);
	c->defresult = (Expr *) makeConst(INT4OID, -1, InvalidOid, 4, Int32GetDatum(0),
									  false, true);
	c->location = -1;
	return (Expr *) c;
}

static List *oj_delta(OjContext *ctx, Node *node);

/*
 * lone_terms
 *		The delta of the lone rows of a join's preserved side P (the rows
 *		matching nothing on the nullable side N, with N's columns NULL):
 *		see the section header.  p_is_left: P is the join's left side.
 *		dp, dn: the terms of the sides' deltas.
 */
static List *
lone_terms(OjContext *ctx, JoinExpr *j, bool p_is_left, List *dp, List *dn)
{
	Node	   *p = p_is_left ? j->larg : j->rarg;
	Node	   *n = p_is_left ? j->rarg : j->larg;
	Bitmapset  *n_units = node_relids(n, true);
	SublevelsContext sctx = {node_relids(p, false)};
	Node	   *cond = sublevels_mutator(flatten_join_alias_vars(ctx->plan->pre,
																  copyObject(j->quals)),
										 &sctx);
	OjTerm	   *now = make_term(copyObject(n), 1);
	Node	   *m = side_sublink(ctx, now, cond, false);
	Node	   *m_old = copyObject(m);
	Node	   *any = NULL;
	List	   *terms = NIL;
	ListCell   *lc;

	/* m_old = m - sum over the terms of dN of their matching weights */
	foreach(lc, dn)
	{
		OjTerm	   *u = lfirst(lc);

		m_old = int8_call(u->sign > 0 ? F_INT8MI : F_INT8PL, m_old,
						  side_sublink(ctx, u, cond, false));
		any = any == NULL ? side_sublink(ctx, u, cond, true) :
			(Node *) makeBoolExpr(OR_EXPR, list_make2(any, side_sublink(ctx, u, cond, true)), -1);
	}

	/* the lone rows of dP, against N as it was */
	foreach(lc, dp)
	{
		OjTerm	   *t = lfirst(lc);
		Node	   *tree = copy_join(j, j->jointype,
									 p_is_left ? t->tree : copyObject(n),
									 p_is_left ? copyObject(n) : t->tree);
		OjTerm	   *lone = combine_terms(tree, t, NULL, 1);

		lone->empty = bms_union(lone->empty, n_units);
		lone->factors = lappend(lone->factors,
								oj_indicator(int8_call(F_INT8EQ, copyObject(m_old), int8_zero())));
		terms = lappend(terms, lone);
	}

	/*
	 * Rows of P that lost their last match (+1) or found their first (-1),
	 * among those matching a row of dN: [m = 0] - [m_old = 0].
	 */
	if (dn != NIL)
	{
		Node	   *tree = copy_join(j, j->jointype,
									 copyObject(p_is_left ? p : n),
									 copyObject(p_is_left ? n : p));
		OjTerm	   *flip = make_term(tree, 1);

		flip->empty = bms_copy(n_units);
		flip->conds = list_make1(any);
		flip->factors = list_make1(makeFuncExpr(F_INT4MI, INT4OID,
												list_make2(oj_indicator(int8_call(F_INT8EQ, m, int8_zero())),
														   oj_indicator(int8_call(F_INT8EQ, m_old, int8_zero()))),
												InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL));
		terms = lappend(terms, flip);
	}
	return terms;
}

/*
 * oj_delta
 *		The terms of the delta of a join tree node (see the section header);
 *		NIL when none of its relations changed.
 */
static List *
oj_delta(OjContext *ctx, Node *node)
{
	List	   *terms = NIL;
	ListCell   *lc;

	if (IsA(node, RangeTblRef))
	{
		int			rti = ((RangeTblRef *) node)->rtindex;
		int			leaves[16];
		int			n = 0;
		int			subset;

		/* a view's leaves by inclusion-exclusion, as for inner joins */
		foreach(lc, ctx->plan->leaves)
			if (linitial_int(((DpLeaf *) lfirst(lc))->path) == rti &&
				bms_is_member(foreach_current_index(lc), ctx->changed) && n < 16)
				leaves[n++] = foreach_current_index(lc);
		for (subset = 1; subset < (1 << n); subset++)
		{
			OjTerm	   *t = make_term(copyObject(node), 1);
			int			i;

			for (i = 0; i < n; i++)
				if (subset & (1 << i))
					t->delta = bms_add_member(t->delta, leaves[i]);
			if (bms_num_members(t->delta) % 2 == 0)
				t->sign = -1;
			terms = lappend(terms, t);
		}
		return terms;
	}
	if (IsA(node, FromExpr))
	{
		FromExpr   *from = (FromExpr *) node;
		List	   *partial = list_make1(make_term((Node *) NIL, 0));

		/*
		 * Inclusion-exclusion over the items: every non-empty set of them
		 * read as a term of their delta, the others as they are.  A partial
		 * term's tree is the list of its items so far, its sign counts the
		 * deltas taken (0: none yet).
		 */
		foreach(lc, from->fromlist)
		{
			Node	   *item = lfirst(lc);
			List	   *d = oj_delta(ctx, item);
			List	   *next = NIL;
			ListCell   *pc;
			ListCell   *dc;

			foreach(pc, partial)
			{
				OjTerm	   *p = lfirst(pc);
				OjTerm	   *same = combine_terms((Node *) lappend(list_copy((List *) p->tree),
																  copyObject(item)),
												 p, NULL, 1);

				same->sign = p->sign;
				next = lappend(next, same);
				foreach(dc, d)
				{
					OjTerm	   *u = lfirst(dc);
					OjTerm	   *t = combine_terms((Node *) lappend(list_copy((List *) p->tree),
																   u->tree),
												  p, u, 1);

					/* first delta: its sign; each further one: negated */
					t->sign = p->sign == 0 ? u->sign : -p->sign * u->sign;
					next = lappend(next, t);
				}
			}
			partial = next;
		}
		foreach(lc, partial)
		{
			OjTerm	   *t = lfirst(lc);

			if (t->sign == 0)
				continue;
			t->tree = (Node *) makeFromExpr((List *) t->tree, copyObject(from->quals));
			terms = lappend(terms, t);
		}
		return terms;
	}
	if (IsA(node, JoinExpr))
	{
		JoinExpr   *j = (JoinExpr *) node;
		List	   *dl = oj_delta(ctx, j->larg);
		List	   *dr = oj_delta(ctx, j->rarg);
		bool		keeps_left = (j->jointype == JOIN_LEFT || j->jointype == JOIN_FULL);
		bool		keeps_right = (j->jointype == JOIN_RIGHT || j->jointype == JOIN_FULL);
		ListCell   *rc;

		if (j->jointype != JOIN_INNER && !keeps_left && !keeps_right)
			elog(ERROR, "unexpected join type %d", (int) j->jointype);
		if (dl == NIL && dr == NIL)
			return NIL;

		/* linear in the preserved side when the other side has no changes */
		if (j->jointype == JOIN_LEFT && dr == NIL)
		{
			foreach(lc, dl)
			{
				OjTerm	   *t = lfirst(lc);

				terms = lappend(terms, combine_terms(copy_join(j, JOIN_LEFT, t->tree,
															   copyObject(j->rarg)),
													 t, NULL, 1));
			}
			return terms;
		}
		if (j->jointype == JOIN_RIGHT && dl == NIL)
		{
			foreach(lc, dr)
			{
				OjTerm	   *u = lfirst(lc);

				terms = lappend(terms, combine_terms(copy_join(j, JOIN_RIGHT,
															   copyObject(j->larg),
															   u->tree),
													 NULL, u, 1));
			}
			return terms;
		}

		/* the matches: dL >< R + L >< dR - dL >< dR */
		foreach(lc, dl)
		{
			OjTerm	   *t = lfirst(lc);

			terms = lappend(terms, combine_terms(copy_join(j, JOIN_INNER, copyObject(t->tree),
														   copyObject(j->rarg)),
												 t, NULL, 1));
		}
		foreach(rc, dr)
		{
			OjTerm	   *u = lfirst(rc);

			terms = lappend(terms, combine_terms(copy_join(j, JOIN_INNER, copyObject(j->larg),
														   copyObject(u->tree)),
												 NULL, u, 1));
		}
		foreach(lc, dl)
		{
			foreach(rc, dr)
			{
				OjTerm	   *t = lfirst(lc);
				OjTerm	   *u = lfirst(rc);

				terms = lappend(terms, combine_terms(copy_join(j, JOIN_INNER,
															   copyObject(t->tree),
															   copyObject(u->tree)),
													 t, u, -1));
			}
		}
		/* the lone rows of the preserved sides */
		if (keeps_left)
			terms = list_concat(terms, lone_terms(ctx, j, true, dl, dr));
		if (keeps_right)
			terms = list_concat(terms, lone_terms(ctx, j, false, dr, dl));
		return terms;
	}
	elog(ERROR, "unrecognized join tree node: %d", (int) nodeTag(node));
	return NIL;
}

/*
 * outer_delta_sql
 *		The terms of the pre query's delta when it has outer joins, as
 *		" UNION ALL "-separated parenthesised statements.
 */
static void
outer_delta_sql(StringInfo buf, DpPlan *plan, Bitmapset *changed, Oid *logs)
{
	OjContext	ctx = {plan, changed, logs};
	List	   *terms = oj_delta(&ctx, (Node *) plan->pre->jointree);
	ListCell   *lc;
	bool		first = true;

	foreach(lc, terms)
	{
		OjTerm	   *t = lfirst(lc);
		Query	   *term = copyObject(plan->pre);
		FromExpr   *from = (FromExpr *) t->tree;
		ListCell   *cc;
		Expr	   *weight;

		foreach(cc, t->conds)
			from->quals = make_and_qual(from->quals, lfirst(cc));
		term->jointree = from;
		if (t->conds != NIL)
			term->hasSubLinks = true;
		weight = apply_roles(&ctx, term, t);
		if (weight == NULL)
			weight = (Expr *) makeConst(INT4OID, -1, InvalidOid, 4, Int32GetDatum(1),
										false, true);
		if (t->sign < 0)
			weight = (Expr *) makeFuncExpr(F_INT4UM, INT4OID, list_make1(weight),
										   InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		term->targetList = lappend(term->targetList,
								   makeTargetEntry(weight, list_length(term->targetList) + 1,
												   pstrdup("__dp_w"), false));
		appendStringInfo(buf, "%s(%s)", first ? "" : " UNION ALL ",
						 pg_get_querydef(term, false));
		first = false;
	}
	if (first)
	{
		/* nothing changed that the query reads: an empty delta */
		Query	   *term = copyObject(plan->pre);

		term->jointree->quals = make_and_qual(term->jointree->quals,
											  (Node *) makeBoolConst(false, false));
		term->targetList = lappend(term->targetList,
								   makeTargetEntry((Expr *) makeConst(INT4OID, -1, InvalidOid, 4,
																	  Int32GetDatum(1), false, true),
												   list_length(term->targetList) + 1,
												   pstrdup("__dp_w"), false));
		appendStringInfo(buf, "(%s)", pg_get_querydef(term, false));
	}
}

/*
 * dataproduct_delta_sql
 *		The pre-aggregation delta of a batch in which the leaves in `changed'
 *		(indexes into plan->leaves) have changes; logs[i] is leaf i's change
 *		log, whose batch the statement reads from the ephemeral relation
 *		dataproduct_batch_name(logs[i]).  Columns: those of the pre view,
 *		then __dp_w.
 */
char *
dataproduct_delta_sql(DpPlan *plan, Bitmapset *changed, Oid *logs)
{
	StringInfoData buf;
	StringInfoData with;
	int			nleaves = list_length(plan->leaves);
	int			subset;
	int			leaf = -1;
	List	   *seen = NIL;
	Bitmapset  *joined = NULL;
	Bitmapset  *semis = NULL;
	DpLevelWeight old;

	/* each changed log's batch, loaded by the extension (apply.c) */
	initStringInfo(&with);
	while ((leaf = bms_next_member(changed, leaf)) >= 0)
	{
		if (list_member_oid(seen, logs[leaf]))
			continue;
		seen = lappend_oid(seen, logs[leaf]);
		appendStringInfo(&with, "%s%s AS (SELECT %s FROM %s)",
						 with.len > 0 ? ", " : "WITH ",
						 batch_cte_name(logs[leaf]),
						 batch_columns(((DpLeaf *) list_nth(plan->leaves, leaf))->relid, false),
						 quote_identifier(dataproduct_batch_name(logs[leaf])));
	}
	/* the leaves of FROM that changed, and the semi-joins whose did */
	leaf = -1;
	while ((leaf = bms_next_member(changed, leaf)) >= 0)
	{
		int			semi = ((DpLeaf *) list_nth(plan->leaves, leaf))->semi;

		if (semi == 0)
			joined = bms_add_member(joined, leaf);
		else
			semis = bms_add_member(semis, semi - 1);
	}

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s ", with.data);
	if (plan->has_outer)
	{
		outer_delta_sql(&buf, plan, changed, logs);
		return buf.data;
	}
	/* dJ, the changed semi-joins as they were */
	for (subset = 1; subset < (1 << nleaves); subset++)
	{
		Bitmapset  *u = NULL;
		Query	   *term;
		Expr	   *weight;
		int			i;

		for (i = 0; i < nleaves; i++)
			if (subset & (1 << i))
				u = bms_add_member(u, i);
		if (!bms_is_subset(u, joined))
			continue;

		term = copyObject(plan->pre);
		memset(&old, 0, sizeof(old));
		i = -1;
		while ((i = bms_next_member(semis, i)) >= 0)
		{
			DpSemi	   *semi = list_nth(plan->semis, i);

			lfirst(semi_cell(term, semi)) = makeBoolConst(true, false);
			old.state_paths = lappend(old.state_paths, semi->path);
			old.state_weights = lappend(old.state_weights,
										indicator(semi_old(plan, i, changed, logs)));
		}
		weight = apply_batches(term, NIL, plan, u, logs, &old);
		if (old.empty)
			continue;
		if (bms_num_members(u) % 2 == 0)
			weight = (Expr *) makeFuncExpr(F_INT4UM, INT4OID, list_make1(weight),
										   InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		append_term(&buf, with.len, term, weight, old.state_paths != NIL);
	}
	/* the rows whose semi-joins flip, one changed semi-join at a time */
	leaf = -1;
	while ((leaf = bms_next_member(semis, leaf)) >= 0)
	{
		Query	   *term = copyObject(plan->pre);
		DpLevelWeight flip = {0};
		Expr	   *weight;
		int			i = -1;

		while ((i = bms_next_member(semis, i)) >= 0)
		{
			DpSemi	   *semi = list_nth(plan->semis, i);
			ListCell   *cell = semi_cell(term, semi);

			if (i < leaf)
				continue;		/* as it is now */
			if (i > leaf)
			{
				lfirst(cell) = makeBoolConst(true, false);
				flip.state_paths = lappend(flip.state_paths, semi->path);
				flip.state_weights = lappend(flip.state_weights,
											 indicator(semi_old(plan, i, changed, logs)));
			}
			else
			{
				lfirst(cell) = semi_flip(plan, i, lfirst(cell), changed, logs,
										 &weight);
				flip.paths = lappend(flip.paths, semi->path);
				flip.weights = lappend(flip.weights, weight);
			}
		}
		weight = apply_batches(term, NIL, plan, NULL, logs, &flip);
		/* a flip is in one branch only */
		Assert(!flip.empty);
		append_term(&buf, with.len, term, weight, true);
	}
	return buf.data;
}

/*
 * dataproduct_history_delta_sql
 *		The delta of a history output (history.c) over its one source,
 *		whose change log is log: the output's columns computed from each
 *		image of the batch that passes the query's filter, then __dp_w (the
 *		image's weight) and __dp_xid (its writer).  The batch is read from
 *		the ephemeral relation dataproduct_batch_name(log), loaded with
 *		dataproduct_history_batch_sql.  The query is a plain selection from
 *		the one relation at range table index rtindex (history.c checks
 *		it).
 */
char *
dataproduct_history_delta_sql(DpPlan *plan, Index rtindex, Oid log)
{
	Query	   *term = copyObject(plan->query);
	RangeTblEntry *rte = rt_fetch(rtindex, term->rtable);
	DpLeaf	   *leaf = linitial(plan->leaves);
	Query	   *batch = batch_query(rte->relid, log, leaf->attnos, true);
	int			nbatch = list_length(batch->targetList);
	List	   *tlist = NIL;
	ListCell   *lc;
	char	   *columns = batch_columns(rte->relid, true);

	foreach(lc, term->targetList)
	{
		TargetEntry *tle = lfirst(lc);

		if (tle->resjunk)
			continue;
		tle->resno = list_length(tlist) + 1;
		tlist = lappend(tlist, tle);
	}
	rte_to_batch(rte, batch, log, 1);
	tlist = lappend(tlist, makeTargetEntry((Expr *) makeVar(rtindex, nbatch, INT4OID, -1, InvalidOid, 0),
										   list_length(tlist) + 1, pstrdup("__dp_w"), false));
	tlist = lappend(tlist, makeTargetEntry((Expr *) makeVar(rtindex, nbatch - 1, XID8OID, -1, InvalidOid, 0),
										   list_length(tlist) + 1, pstrdup("__dp_xid"), false));
	term->targetList = tlist;
	term->sortClause = NIL;
	return psprintf("WITH %s AS (SELECT %s FROM %s) (%s)",
					batch_cte_name(log), columns,
					quote_identifier(dataproduct_batch_name(log)),
					pg_get_querydef(term, false));
}

/* ----------------------------------------------------------------
 * Merging a batch into the store
 * ----------------------------------------------------------------
 */

/* avg from a sum and a count, in avg's result type */
static char *
avg_sql(DpAgg *agg, const char *sum, const char *nn)
{
	if (agg->float_avg)
		return psprintf("(%s) OPERATOR(pg_catalog./) (%s)::pg_catalog.float8", sum, nn);
	return psprintf("(%s)::pg_catalog.numeric OPERATOR(pg_catalog./) (%s)::pg_catalog.numeric", sum, nn);
}

/*
 * special_argument
 *		For sum and avg over float or numeric: the condition that an input
 *		(the delta's column x) is NaN or infinite.  Merged sums cannot take
 *		such values back out (NaN - NaN, Infinity - Infinity), so the groups
 *		whose batch holds one are recomputed instead of merged (their stored
 *		value, special or not, is right as long as the batch holds none: a
 *		special value only leaves a group through a batch that holds it).
 *		NULL for other aggregates.
 */
static char *
special_argument(DpAgg *agg, const char *x)
{
	Oid			type;
	const char *typname;

	if (agg->kind != DP_AGG_SUM && agg->kind != DP_AGG_AVG)
		return NULL;
	type = exprType((Node *) ((TargetEntry *) linitial(agg->aggref->args))->expr);
	if (type == FLOAT4OID)
		typname = "pg_catalog.float4";
	else if (type == FLOAT8OID)
		typname = "pg_catalog.float8";
	else if (type == NUMERICOID)
		typname = "pg_catalog.numeric";
	else
		return NULL;
	/* NaN sorts above everything, so this is false for NaN too */
	return psprintf("NOT (%s OPERATOR(pg_catalog.>) '-Infinity'::%s AND %s OPERATOR(pg_catalog.<) 'Infinity'::%s)",
					x, typname, x, typname);
}

/*
 * scale_drifts
 *		For sum and avg over numeric of no fixed scale: the result's scale
 *		is the largest among the group's rows, which a merge cannot lower
 *		when rows leave (5.00 + 1.0 - 5.00 would show 1.00 where the query
 *		gives 1.0).  Groups that lose rows are recomputed instead, as for
 *		min and max.  A column of fixed scale (numeric(p, s)) has no drift.
 */
static bool
scale_drifts(DpAgg *agg)
{
	Node	   *arg;

	if (agg->kind != DP_AGG_SUM && agg->kind != DP_AGG_AVG)
		return false;
	arg = (Node *) ((TargetEntry *) linitial(agg->aggref->args))->expr;
	return exprType(arg) == NUMERICOID && exprTypmod(arg) < 0;
}

/*
 * dataproduct_plan_has_special
 *		Whether a batch can make groups of sums or averages be recomputed
 *		(see special_argument and scale_drifts).
 */
bool
dataproduct_plan_has_special(DpPlan *plan)
{
	ListCell   *lc;

	foreach(lc, plan->aggs)
		if (special_argument(lfirst(lc), "x") != NULL || scale_drifts(lfirst(lc)))
			return true;
	return false;
}

/*
 * recompute_condition
 *		The condition on a delta row d that makes its group be recomputed
 *		rather than merged: it removes a row from a group of a min, max or
 *		a drifting numeric sum or avg (scale_drifts), or it brings a special
 *		value to a sum or avg.  NULL if there is none.
 */
static char *
recompute_condition(DpPlan *plan)
{
	StringInfoData buf;
	ListCell   *lc;

	bool		removals = plan->has_minmax;

	initStringInfo(&buf);
	foreach(lc, plan->aggs)
		removals |= scale_drifts(lfirst(lc));
	if (removals)
		appendStringInfoString(&buf, "d.__dp_w OPERATOR(pg_catalog.<) 0");
	foreach(lc, plan->aggs)
	{
		DpAgg	   *agg = lfirst(lc);
		char	   *cond;

		if (agg->pre_col == 0)
			continue;
		cond = special_argument(agg, psprintf("d.%s", pre_col(plan, agg->pre_col)));
		if (cond != NULL)
			appendStringInfo(&buf, "%s(%s)", buf.len > 0 ? " OR " : "", cond);
	}
	return buf.len > 0 ? buf.data : NULL;
}

/*
 * dataproduct_upsert_sql
 *		Aggregate the delta (ephemeral relation __dp_delta) per group and
 *		merge it into the store: new groups are inserted, existing ones
 *		updated.  Groups that need recomputation (min/max with deleted rows)
 *		are left out.  Not used when an aggregate is recomputed anyway.
 */
char *
dataproduct_upsert_sql(DpPlan *plan, const char *store)
{
	StringInfoData ins;
	StringInfoData sel;
	StringInfoData upd;
	ListCell   *lc;
	int			i;
	int			nkeys = list_length(plan->keys);

	initStringInfo(&ins);
	initStringInfo(&sel);
	initStringInfo(&upd);
	for (i = 1; i <= list_length(plan->store_cols); i++)
		appendStringInfo(&ins, "%s%s", i > 1 ? ", " : "", col(plan, i));
	if (plan->global)
		appendStringInfoString(&sel, "true, ");
	else
		for (i = 1; i <= nkeys; i++)
			appendStringInfo(&sel, "d.%s, ", pre_col(plan, i));

	foreach(lc, plan->aggs)
	{
		DpAgg	   *agg = lfirst(lc);
		const char *a = col(plan, agg->first_col);
		const char *x = agg->pre_col ? psprintf("d.%s", pre_col(plan, agg->pre_col)) : NULL;
		char	   *nonnull = x ? psprintf("%s IS NOT NULL", x) : NULL;
		char	   *dsum = NULL;
		char	   *dnn = NULL;

		if (agg->kind == DP_AGG_SUM || agg->kind == DP_AGG_AVG)
		{
			const char *xs = agg->float_avg && agg->kind == DP_AGG_AVG ?
				psprintf("%s::pg_catalog.float8", x) : x;

			dsum = psprintf("(coalesce(pg_catalog.sum(%s)%s, '0') OPERATOR(pg_catalog.-) coalesce(pg_catalog.sum(%s)%s, '0'))",
							xs, filter_clause(plan, agg, "d", "d.__dp_w OPERATOR(pg_catalog.>) 0"),
							xs, filter_clause(plan, agg, "d", "d.__dp_w OPERATOR(pg_catalog.<) 0"));
			dnn = psprintf("coalesce(pg_catalog.sum(d.__dp_w)%s, 0)",
						   filter_clause(plan, agg, "d", nonnull));
		}

		switch (agg->kind)
		{
			case DP_AGG_COUNT_STAR:
			case DP_AGG_COUNT:
				appendStringInfo(&sel, "coalesce(pg_catalog.sum(d.__dp_w)%s, 0), ",
								 filter_clause(plan, agg, "d", nonnull));
				appendStringInfo(&upd, "%s = s.%s OPERATOR(pg_catalog.+) EXCLUDED.%s, ", a, a, a);
				break;
			case DP_AGG_SUM:
				{
					const char *nn = col(plan, agg->first_col + 1);

					appendStringInfo(&sel, "CASE WHEN %s OPERATOR(pg_catalog.=) 0 AND %s OPERATOR(pg_catalog.=) '0' THEN NULL ELSE %s END, %s, ",
									 dnn, dsum, dsum, dnn);
					appendStringInfo(&upd,
									 "%s = CASE WHEN s.%s OPERATOR(pg_catalog.+) EXCLUDED.%s OPERATOR(pg_catalog.=) 0 THEN NULL"
									 " ELSE coalesce(s.%s, '0') OPERATOR(pg_catalog.+) coalesce(EXCLUDED.%s, '0') END, "
									 "%s = s.%s OPERATOR(pg_catalog.+) EXCLUDED.%s, ",
									 a, nn, nn, a, a, nn, nn, nn);
					break;
				}
			case DP_AGG_AVG:
				{
					const char *sum = col(plan, agg->first_col + 1);
					const char *nn = col(plan, agg->first_col + 2);

					appendStringInfo(&sel, "CASE WHEN %s OPERATOR(pg_catalog.=) 0 THEN NULL ELSE %s END, %s, %s, ",
									 dnn, avg_sql(agg, dsum, dnn), dsum, dnn);
					appendStringInfo(&upd,
									 "%s = CASE WHEN s.%s OPERATOR(pg_catalog.+) EXCLUDED.%s OPERATOR(pg_catalog.=) 0 THEN NULL ELSE %s END, "
									 "%s = s.%s OPERATOR(pg_catalog.+) EXCLUDED.%s, %s = s.%s OPERATOR(pg_catalog.+) EXCLUDED.%s, ",
									 a, nn, nn,
									 avg_sql(agg, psprintf("s.%s OPERATOR(pg_catalog.+) EXCLUDED.%s", sum, sum),
											 psprintf("s.%s OPERATOR(pg_catalog.+) EXCLUDED.%s", nn, nn)),
									 sum, sum, sum, nn, nn, nn);
					break;
				}
			case DP_AGG_MIN:
			case DP_AGG_MAX:
				appendStringInfo(&sel, "pg_catalog.%s(%s)%s, ",
								 agg->kind == DP_AGG_MIN ? "min" : "max", x,
								 filter_clause(plan, agg, "d", "d.__dp_w OPERATOR(pg_catalog.>) 0"));
				appendStringInfo(&upd, "%s = %s(s.%s, EXCLUDED.%s), ", a,
								 agg->kind == DP_AGG_MIN ? "LEAST" : "GREATEST", a, a);
				break;
			case DP_AGG_OTHER:
				elog(ERROR, "upsert of a recomputed aggregate");
		}
	}
	appendStringInfoString(&sel, "pg_catalog.sum(d.__dp_w)");
	appendStringInfoString(&upd, "__dp_count = s.__dp_count OPERATOR(pg_catalog.+) EXCLUDED.__dp_count");

	{
		StringInfoData sql;

		initStringInfo(&sql);
		appendStringInfo(&sql, "INSERT INTO %s AS s (%s) SELECT %s FROM %s d",
						 store, ins.data, sel.data, DP_DELTA_ENR);
		if (!plan->global)
		{
			appendStringInfoString(&sql, " GROUP BY ");
			for (i = 1; i <= nkeys; i++)
				appendStringInfo(&sql, "%s%d", i > 1 ? ", " : "", i);
		}
		if (recompute_condition(plan) != NULL)
			appendStringInfo(&sql, " HAVING NOT coalesce(pg_catalog.bool_or(%s), false)",
							 recompute_condition(plan));
		appendStringInfoString(&sql, " ON CONFLICT (");
		for (i = 1; i <= nkeys; i++)
			appendStringInfo(&sql, "%s%s", i > 1 ? ", " : "", col(plan, i));
		appendStringInfo(&sql, ") DO UPDATE SET %s", upd.data);
		return sql.data;
	}
}

/*
 * dataproduct_affected_sql
 *		Per key, the array of its non-null values among the groups to
 *		recompute, and whether NULL is among them: the parameters of the
 *		affected filter.  Groups to recompute: all a batch touches when an
 *		aggregate must be recomputed, else those that lost rows (min/max).
 */
char *
dataproduct_affected_sql(DpPlan *plan)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT ");
	for (i = 1; i <= list_length(plan->keys); i++)
		appendStringInfo(&buf,
						 "%spg_catalog.array_agg(DISTINCT d.%s) FILTER (WHERE d.%s IS NOT NULL), "
						 "coalesce(pg_catalog.bool_or(d.%s IS NULL), false)",
						 i > 1 ? ", " : "", pre_col(plan, i), pre_col(plan, i),
						 pre_col(plan, i));
	appendStringInfo(&buf, " FROM %s d", DP_DELTA_ENR);
	if (!plan->has_other)
		appendStringInfo(&buf, " WHERE %s", recompute_condition(plan));
	return buf.data;
}

/* Types of the affected filter's parameters. */
Oid *
dataproduct_affected_types(DpPlan *plan, int *nparams)
{
	int			nkeys = list_length(plan->keys);
	Oid		   *types = palloc(sizeof(Oid) * 2 * nkeys);
	int			i;

	for (i = 0; i < nkeys; i++)
	{
		types[2 * i] = get_array_type(exprType(list_nth(plan->keys, i)));
		types[2 * i + 1] = BOOLOID;
	}
	*nparams = 2 * nkeys;
	return types;
}

/*
 * dataproduct_zero_sql
 *		Set the count of every store group matching the affected filter to
 *		zero; recomputation then restores those that still have rows.
 */
char *
dataproduct_zero_sql(DpPlan *plan, const char *store)
{
	if (plan->global)
		return psprintf("UPDATE %s SET __dp_count = 0", store);
	return psprintf("UPDATE %s s SET __dp_count = 0 WHERE %s", store,
					affected_filter(plan, "s"));
}

/*
 * dataproduct_delete_empty_sql
 *		Delete the groups matching the affected filter that were left with
 *		no rows after recomputation.
 */
char *
dataproduct_delete_empty_sql(DpPlan *plan, const char *store)
{
	return psprintf("DELETE FROM %s s WHERE s.__dp_count OPERATOR(pg_catalog.<=) 0 AND %s", store,
					affected_filter(plan, "s"));
}

/*
 * dataproduct_recompute_sql
 *		Recompute the groups matching the affected filter from the pre view
 *		and write them over the store's rows.
 */
char *
dataproduct_recompute_sql(DpPlan *plan, const char *store, const char *pre)
{
	StringInfoData buf;
	int			i;
	int			nkeys = list_length(plan->keys);

	initStringInfo(&buf);
	appendStringInfo(&buf, "INSERT INTO %s AS s (", store);
	for (i = 1; i <= list_length(plan->store_cols); i++)
		appendStringInfo(&buf, "%s%s", i > 1 ? ", " : "", col(plan, i));
	appendStringInfo(&buf, ") %s ON CONFLICT (", dataproduct_store_sql(plan, pre, true));
	for (i = 1; i <= nkeys; i++)
		appendStringInfo(&buf, "%s%s", i > 1 ? ", " : "", col(plan, i));
	appendStringInfoString(&buf, ") DO UPDATE SET ");
	for (i = nkeys + 1; i <= list_length(plan->store_cols); i++)
		appendStringInfo(&buf, "%s%s = EXCLUDED.%s", i > nkeys + 1 ? ", " : "",
						 col(plan, i), col(plan, i));
	return buf.data;
}

