/*-------------------------------------------------------------------------
 *
 * plan.c
 *	  Incremental maintenance plans: from an output's analysed query to
 *	  whether and how it can be maintained, and its store layout.
 *
 * Every incrementally maintained output is treated as a grouping:
 *
 *	 GROUP BY keys        the keys are the GROUP BY expressions (plus columns
 *	                      they determine), or the DISTINCT columns, or, for a
 *	                      plain join, all output columns (the store then
 *	                      counts duplicates and the view repeats them);
 *	 aggregates           count, sum, avg, min, max are merged from the
 *	                      batch; any other deterministic aggregate is
 *	                      recomputed for the groups a batch touches.
 *
 * The store holds one row per group: the keys (__dp_k<i>, or the output
 * column's name, see "Store column names"; plain-row columns whose
 * equality is not identity get a second, exact key, see "Keys"), the
 * aggregate values with their helpers (__dp_a<j> or the output column's
 * name, __dp_a<j>_sum, __dp_a<j>_nn) and the group's row count (__dp_count),
 * unique on the keys (NULLS NOT DISTINCT).  The output view computes the
 * declared columns and HAVING from them.
 *
 * The query (views expanded, WITH queries inlined, see "WITH") is walked
 * once; it may hold subqueries in FROM that are plain select-project-joins
 * or UNION ALLs of them ("UNION ALL"), and semi- and anti-joins in WHERE
 * ("Semi- and anti-joins"), whose subqueries' relations are leaves too.
 * A construct that cannot be
 * maintained incrementally (see also "Determinism of expressions" and
 * "Keys") makes the plan refuse, with a reason that completes "its query
 * ..." and that declaration shows; otherwise the plan lists the base
 * relations read (leaves, with the columns read), the group keys, the
 * aggregates and the pre-aggregation query (the "pre" view,
 * output_<id>_pre).  LEFT, RIGHT and FULL joins are allowed at the top
 * level of the query (has_outer), where delta.c's rules for them apply;
 * check_outer_joins refuses what those rules cannot express.  The
 * statements built from the plan are delta.c's.
 * Each refresh plans again and checks the leaves against their change logs
 * (dataproduct_check_leaf_log), as sources may change after declaration.
 * Nothing here runs SQL.
 *
 * IDENTIFICATION
 *	  src/plan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/transam.h"
#include "catalog/heap.h"
#include "catalog/namespace.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_cast.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parse_clause.h"
#include "parser/parse_relation.h"
#include "parser/parsetree.h"
#include "parser/parser.h"
#include "rewrite/rewriteHandler.h"
#include "rewrite/rewriteManip.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/regproc.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "capture.h"
#include "catalog.h"
#include "determinism.h"
#include "plan.h"

/* ----------------------------------------------------------------
 * Analysis
 * ----------------------------------------------------------------
 */

static void
refuse(DpPlan *plan, const char *reason)
{
	if (plan->incremental)
	{
		plan->incremental = false;
		plan->reason = pstrdup(reason);
	}
}

typedef struct AttnosContext
{
	int			rti;
	Bitmapset  *attnos;
	int			sublevels;		/* query levels below the leaf's */
} AttnosContext;

/*
 * Columns of range table entry rti read at its query level, or below it
 * (correlated subqueries in WHERE, lateral subqueries in FROM).
 */
static bool
attnos_walker(Node *node, AttnosContext *ctx)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		/* system columns are refused elsewhere */
		if (var->varno == ctx->rti && (int) var->varlevelsup == ctx->sublevels &&
			var->varattno >= 0)
			ctx->attnos = bms_add_member(ctx->attnos, var->varattno);
		return false;
	}
	/* join alias lists name every column of a join: not a use of them */
	if (IsA(node, Query))
	{
		bool		result;

		ctx->sublevels++;
		result = query_tree_walker((Query *) node, attnos_walker, ctx,
								   QTW_IGNORE_JOINALIASES);
		ctx->sublevels--;
		return result;
	}
	return expression_tree_walker(node, attnos_walker, ctx);
}

/*
 * Collect the range table indexes a join tree references; *outer is set
 * when it has a LEFT, RIGHT or FULL join.
 */
static void
jointree_rtindexes(Node *node, List **rtindexes, bool *outer)
{
	if (node == NULL)
		return;
	if (IsA(node, RangeTblRef))
		*rtindexes = lappend_int(*rtindexes, ((RangeTblRef *) node)->rtindex);
	else if (IsA(node, FromExpr))
	{
		ListCell   *lc;

		foreach(lc, ((FromExpr *) node)->fromlist)
			jointree_rtindexes(lfirst(lc), rtindexes, outer);
	}
	else if (IsA(node, JoinExpr))
	{
		JoinExpr   *join = (JoinExpr *) node;

		if (join->jointype != JOIN_INNER)
			*outer = true;
		jointree_rtindexes(join->larg, rtindexes, outer);
		jointree_rtindexes(join->rarg, rtindexes, outer);
	}
}

/*
 * check_outer_joins
 *		The delta of outer joins (delta.c) reads a join's nullable side as
 *		empty and counts its matches in subqueries over it: refuse what
 *		that cannot express.  nullable: node is on the nullable side of an
 *		outer join above it.
 */
static void
check_outer_joins(Query *query, Node *node, bool nullable, DpPlan *plan)
{
	ListCell   *lc;

	if (IsA(node, RangeTblRef))
	{
		RangeTblEntry *rte = rt_fetch(((RangeTblRef *) node)->rtindex, query->rtable);

		if (rte->lateral)
			refuse(plan, "uses LATERAL together with an outer join");
		else if (nullable && rte->rtekind != RTE_RELATION &&
				 rte->rtekind != RTE_SUBQUERY)
			refuse(plan, "reads a function or VALUES on the nullable side of an outer join");
	}
	else if (IsA(node, FromExpr))
	{
		foreach(lc, ((FromExpr *) node)->fromlist)
			check_outer_joins(query, lfirst(lc), nullable, plan);
	}
	else if (IsA(node, JoinExpr))
	{
		JoinExpr   *join = (JoinExpr *) node;

		/* the counting subqueries name the relations inside the join */
		if (join->alias != NULL || join->join_using_alias != NULL)
			refuse(plan, "names a join with an alias together with an outer join");
		check_outer_joins(query, join->larg,
						  nullable || join->jointype == JOIN_RIGHT ||
						  join->jointype == JOIN_FULL, plan);
		check_outer_joins(query, join->rarg,
						  nullable || join->jointype == JOIN_LEFT ||
						  join->jointype == JOIN_FULL, plan);
	}
}

/* ----------------------------------------------------------------
 * Semi- and anti-joins
 *
 * An AND-ed condition of a WHERE that tests a subquery (EXISTS, NOT
 * EXISTS, IN, NOT IN, op ANY, op ALL, correlated or not) holds for a row
 * exactly when rows of a "match" query exist (or, for an anti-join, when
 * none do): the subquery with the comparison moved into its WHERE, as
 *
 *	 x IN (SELECT c ...)         some row with x = c
 *	 x NOT IN (SELECT c ...)     no row with (x = c) IS NOT FALSE
 *	 x op ALL (SELECT c ...)     no row with (x op c) IS NOT TRUE
 *	 NOT x op ALL (SELECT c ...) some row with (x op c) IS FALSE
 *
 * so NULLs behave as SQL says (x NOT IN S filters the row when S holds a
 * NULL, or x is NULL and S is not empty).  delta.c counts match rows to
 * tell whether the condition held before a batch (see its "Semi- and
 * anti-joins").  The subquery must be a plain select-project-join whose
 * base relations are leaves like any other.  Subqueries anywhere else
 * (select list, HAVING, join conditions, under OR or NOT, scalar
 * subqueries, subqueries inside these subqueries) are refused.
 * ----------------------------------------------------------------
 */

static void check_query(Query *query, bool top, List *path, DpPlan *plan);

/* Replace the Params of a sublink's comparison by its subquery's columns. */
static Node *
sublink_params_mutator(Node *node, List *tlist)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Param) && ((Param *) node)->paramkind == PARAM_SUBLINK)
	{
		Param	   *param = (Param *) node;
		TargetEntry *tle = list_nth(tlist, param->paramid - 1);

		return copyObject((Node *) tle->expr);
	}
	return expression_tree_mutator(node, sublink_params_mutator, tlist);
}

static Node *
boolean_test(Node *arg, BoolTestType type)
{
	BooleanTest *test = makeNode(BooleanTest);

	test->arg = (Expr *) arg;
	test->booltesttype = type;
	test->location = -1;
	return (Node *) test;
}

/* Flatten nested ANDs into a list of conjuncts. */
static List *
flatten_conjuncts(Node *qual, List *conjuncts)
{
	ListCell   *lc;

	if (qual == NULL)
		return conjuncts;
	if (!is_andclause(qual))
		return lappend(conjuncts, qual);
	foreach(lc, ((BoolExpr *) qual)->args)
		conjuncts = flatten_conjuncts(lfirst(lc), conjuncts);
	return conjuncts;
}

static bool
find_sublink_walker(Node *node, SubLink **found)
{
	if (node == NULL)
		return false;
	if (IsA(node, SubLink))
	{
		/* a scalar one first, for the reason */
		if (*found == NULL || ((SubLink *) node)->subLinkType == EXPR_SUBLINK)
			*found = (SubLink *) node;
		(void) expression_tree_walker(((SubLink *) node)->testexpr,
									  find_sublink_walker, found);
		return false;
	}
	if (IsA(node, Query))
		return false;
	return expression_tree_walker(node, find_sublink_walker, found);
}

/* The subquery found in node (a scalar one if any), or NULL. */
static SubLink *
find_sublink(Node *node)
{
	SubLink    *found = NULL;

	(void) find_sublink_walker(node, &found);
	return found;
}

/* Refuse the subqueries in join conditions. */
static void
check_join_quals(Node *node, DpPlan *plan)
{
	ListCell   *lc;

	if (node == NULL)
		return;
	if (IsA(node, FromExpr))
		foreach(lc, ((FromExpr *) node)->fromlist)
			check_join_quals(lfirst(lc), plan);
	else if (IsA(node, JoinExpr))
	{
		JoinExpr   *join = (JoinExpr *) node;

		if (find_sublink(join->quals) != NULL)
			refuse(plan, "uses a subquery in a join condition");
		check_join_quals(join->larg, plan);
		check_join_quals(join->rarg, plan);
	}
}

/*
 * check_semi
 *		Plan one AND-ed condition of a WHERE that tests a subquery, the
 *		index-th of query's, at path: a semi- or anti-join (see the section
 *		header), whose subquery's relations become leaves.
 */
static void
check_semi(Node *conjunct, int index, List *path, DpPlan *plan)
{
	bool		negated = false;
	SubLink    *sublink;
	Query	   *sub;
	Query	   *match;
	Node	   *extra = NULL;
	DpSemi	   *semi;
	int			nleaves = list_length(plan->leaves);
	ListCell   *lc;

	if (is_notclause(conjunct))
	{
		negated = true;
		conjunct = (Node *) get_notclausearg((Expr *) conjunct);
	}
	sublink = (SubLink *) conjunct;
	sub = castNode(Query, sublink->subselect);
	if (sub->hasAggs || sub->groupClause != NIL || sub->groupingSets != NIL ||
		sub->havingQual != NULL)
	{
		refuse(plan, "uses a subquery in WHERE that aggregates");
		return;
	}
	if (sub->setOperations != NULL)
	{
		refuse(plan, "uses a subquery in WHERE with UNION, INTERSECT or EXCEPT");
		return;
	}
	if (sub->hasSubLinks || find_sublink(sublink->testexpr) != NULL)
	{
		refuse(plan, "uses a subquery inside a subquery in WHERE");
		return;
	}

	match = copyObject(sub);
	if (sublink->subLinkType != EXISTS_SUBLINK)
	{
		Node	   *test = copyObject(sublink->testexpr);

		/* the row's columns are one level up inside the subquery */
		IncrementVarSublevelsUp(test, 1, 0);
		test = sublink_params_mutator(test, sub->targetList);
		if (sublink->subLinkType == ANY_SUBLINK)
			extra = negated ? boolean_test(test, IS_NOT_FALSE) : test;
		else
			extra = negated ? boolean_test(test, IS_FALSE) :
				boolean_test(test, IS_NOT_TRUE);
	}
	/* only whether rows exist matters */
	match->distinctClause = NIL;
	match->hasDistinctOn = false;
	match->sortClause = NIL;
	semi = palloc0(sizeof(DpSemi));
	if (sublink->subLinkType == ANY_SUBLINK && negated &&
		IsA(sublink->testexpr, OpExpr) &&
		list_length(((OpExpr *) sublink->testexpr)->args) == 2 &&
		IsA(lsecond(((OpExpr *) sublink->testexpr)->args), Param) &&
		op_mergejoinable(((OpExpr *) sublink->testexpr)->opno,
						 exprType(linitial(((OpExpr *) sublink->testexpr)->args))) &&
		func_strict(((OpExpr *) sublink->testexpr)->opfuncid))
	{
		/* x NOT IN (SELECT c ...), = a btree equality: see DpSemi */
		Node	   *equal = copyObject(sublink->testexpr);
		Node	   *c;
		NullTest   *isnull = makeNode(NullTest);

		IncrementVarSublevelsUp(equal, 1, 0);
		equal = sublink_params_mutator(equal, sub->targetList);
		c = lsecond(((OpExpr *) equal)->args);
		semi->value = copyObject(linitial(((OpExpr *) sublink->testexpr)->args));
		semi->match_all = copyObject(match);
		semi->match_equal = copyObject(match);
		semi->match_equal->jointree->quals =
			make_and_qual(semi->match_equal->jointree->quals, equal);
		isnull->arg = (Expr *) copyObject(c);
		isnull->nulltesttype = IS_NULL;
		isnull->argisrow = false;
		isnull->location = -1;
		semi->match_null = copyObject(match);
		semi->match_null->jointree->quals =
			make_and_qual(semi->match_null->jointree->quals, (Node *) isnull);
	}
	if (extra != NULL)
		match->jointree->quals = make_and_qual(match->jointree->quals, extra);

	semi->path = list_copy(path);
	semi->conjunct = index;
	semi->anti = (sublink->subLinkType == ALL_SUBLINK) ? !negated : negated;
	semi->match = match;
	plan->semis = lappend(plan->semis, semi);

	plan->semi_depth++;
	check_query(match, false,
				lappend_int(list_copy(path), -list_length(plan->semis)), plan);
	plan->semi_depth--;
	for_each_from(lc, plan->leaves, nleaves)
		((DpLeaf *) lfirst(lc))->semi = list_length(plan->semis);
}

/*
 * check_sublinks
 *		Plan the subqueries in expressions of one query level: AND-ed
 *		conditions of its WHERE become semi- and anti-joins; any other
 *		refuses the plan, saying where it is.
 */
static void
check_sublinks(Query *query, List *path, DpPlan *plan)
{
	List	   *conjuncts;
	ListCell   *lc;
	bool		has_semi = false;

	if (plan->semi_depth > 0)
	{
		refuse(plan, "uses a subquery inside a subquery in WHERE");
		return;
	}
	if (find_sublink((Node *) query->targetList) != NULL)
	{
		refuse(plan, find_sublink((Node *) query->targetList)->subLinkType == EXPR_SUBLINK ?
			   "uses a scalar subquery in its select list" :
			   "uses a subquery in its select list");
		return;
	}
	if (find_sublink(query->havingQual) != NULL)
	{
		refuse(plan, "uses a subquery in HAVING");
		return;
	}
	check_join_quals((Node *) query->jointree, plan);
	{
		/* anywhere else: functions or VALUES in FROM, LIMIT, ... */
		Query		rest = *query;
		SubLink    *found = NULL;

		rest.jointree = NULL;
		rest.targetList = NIL;
		rest.havingQual = NULL;
		rest.cteList = NIL;
		(void) query_tree_walker(&rest, find_sublink_walker, &found,
								 QTW_IGNORE_RT_SUBQUERIES | QTW_IGNORE_JOINALIASES);
		if (found != NULL)
			refuse(plan, "uses subqueries in expressions");
	}
	if (!plan->incremental || query->jointree == NULL)
		return;

	conjuncts = flatten_conjuncts(query->jointree->quals, NIL);
	foreach(lc, conjuncts)
	{
		Node	   *conjunct = lfirst(lc);
		Node	   *arg = is_notclause(conjunct) ?
		(Node *) get_notclausearg((Expr *) conjunct) : conjunct;
		SubLink    *found = find_sublink(conjunct);

		if (found == NULL)
			continue;
		if (IsA(arg, SubLink) &&
			(((SubLink *) arg)->subLinkType == EXISTS_SUBLINK ||
			 ((SubLink *) arg)->subLinkType == ANY_SUBLINK ||
			 ((SubLink *) arg)->subLinkType == ALL_SUBLINK))
		{
			check_semi(conjunct, foreach_current_index(lc), path, plan);
			has_semi = true;
		}
		else if (found->subLinkType == EXPR_SUBLINK)
			refuse(plan, "uses a scalar subquery in WHERE");
		else
			refuse(plan, "uses a subquery in WHERE other than as an AND-ed EXISTS, IN or NOT IN condition");
	}
	/* delta.c finds each condition by its place among the conjuncts */
	if (has_semi)
		query->jointree->quals = (Node *) makeBoolExpr(AND_EXPR, conjuncts, -1);
}

/* ----------------------------------------------------------------
 * UNION ALL
 *
 * A UNION ALL is the sum of its branches, so its delta is the sum of
 * theirs (delta.c): each branch is a select-project-join of its own, a
 * subquery of the set operation's range table.  At the top, the query is
 * read as SELECT * FROM (the set operation), so that it has a target list
 * of its own to key the store on.  UNION, INTERSECT and EXCEPT (with or
 * without ALL) remove or match rows across branches and are refused.
 * ----------------------------------------------------------------
 */

static bool
union_all_only(Node *node)
{
	SetOperationStmt *op;

	if (IsA(node, RangeTblRef))
		return true;
	op = castNode(SetOperationStmt, node);
	return op->op == SETOP_UNION && op->all &&
		union_all_only(op->larg) && union_all_only(op->rarg);
}

/* Whether a set operation is UNION (with or without ALL) only. */
static bool
union_only(Node *node)
{
	SetOperationStmt *op;

	if (IsA(node, RangeTblRef))
		return true;
	op = castNode(SetOperationStmt, node);
	return op->op == SETOP_UNION && union_only(op->larg) && union_only(op->rarg);
}

static void
set_union_all(Node *node)
{
	if (IsA(node, SetOperationStmt))
	{
		((SetOperationStmt *) node)->all = true;
		((SetOperationStmt *) node)->groupClauses = NIL;
		set_union_all(((SetOperationStmt *) node)->larg);
		set_union_all(((SetOperationStmt *) node)->rarg);
	}
}

/*
 * SELECT * FROM (setop) __dp_union.  A UNION without ALL at the top of
 * UNIONs removes every duplicate, whatever the ALLs below it, so it is
 * read as SELECT DISTINCT * FROM (the same with ALL everywhere).
 */
static Query *
wrap_set_operation(Query *setop)
{
	Query	   *query = makeNode(Query);
	ParseState *pstate = make_parsestate(NULL);
	RangeTblRef *rtr = makeNode(RangeTblRef);
	ListCell   *lc;
	bool		distinct = false;

	if (!castNode(SetOperationStmt, setop->setOperations)->all &&
		union_only(setop->setOperations))
	{
		distinct = true;
		foreach(lc, setop->targetList)
		{
			TypeCacheEntry *tce = lookup_type_cache(exprType((Node *) ((TargetEntry *) lfirst(lc))->expr),
													TYPECACHE_EQ_OPR | TYPECACHE_LT_OPR);

			/* DISTINCT sorts or hashes: otherwise, left as it is (refused) */
			if (!OidIsValid(tce->eq_opr) || !OidIsValid(tce->lt_opr))
				distinct = false;
		}
		if (distinct)
			set_union_all(setop->setOperations);
	}

	query->commandType = CMD_SELECT;
	query->querySource = QSRC_ORIGINAL;
	query->canSetTag = true;
	(void) addRangeTableEntryForSubquery(pstate, setop, makeAlias("__dp_union", NIL),
										 false, true);
	query->rtable = pstate->p_rtable;
	rtr->rtindex = 1;
	query->jointree = makeFromExpr(list_make1(rtr), NULL);
	foreach(lc, setop->targetList)
	{
		TargetEntry *tle = lfirst(lc);

		if (tle->resjunk)
			continue;
		query->targetList = lappend(query->targetList,
									makeTargetEntry((Expr *) makeVarFromTargetEntry(1, tle),
													list_length(query->targetList) + 1,
													pstrdup(tle->resname), false));
	}
	if (distinct)
		query->distinctClause = transformDistinctClause(pstate, &query->targetList,
														NIL, false);
	free_parsestate(pstate);
	return query;
}

/*
 * check_query
 *		Check one level of the query tree and collect its base relations as
 *		leaves.  Below the top, only plain select-project-join subqueries
 *		(views, inlined WITH queries, the subqueries of semi-joins) and
 *		UNION ALLs of them are allowed.
 */
static void
check_query(Query *query, bool top, List *path, DpPlan *plan)
{
	List	   *rtindexes = NIL;
	ListCell   *lc;
	bool		outer = false;

	if (query->hasWindowFuncs)
		refuse(plan, "uses window functions");
	if (query->hasTargetSRFs)
		refuse(plan, "calls set-returning functions in the select list");
	if (query->hasSubLinks)
		check_sublinks(query, path, plan);
	if (query->cteList != NIL)
		refuse(plan, "uses WITH");
	if (query->limitCount != NULL || query->limitOffset != NULL)
		refuse(plan, "uses LIMIT or OFFSET");
	if (query->hasDistinctOn)
		refuse(plan, "uses DISTINCT ON");
	if (query->groupingSets != NIL)
		refuse(plan, "uses GROUPING SETS, ROLLUP or CUBE");
	if (!top && (query->hasAggs || query->groupClause != NIL ||
				 query->distinctClause != NIL || query->havingQual != NULL))
		refuse(plan, "reads a view or subquery that aggregates");
	if (top && query->distinctClause != NIL &&
		(query->hasAggs || query->groupClause != NIL))
		refuse(plan, "uses DISTINCT together with aggregation");

	if (query->setOperations != NULL)
	{
		/* UNION ALL: the branches, subqueries of its range table */
		if (!union_all_only(query->setOperations))
		{
			refuse(plan, "uses UNION, INTERSECT or EXCEPT");
			return;
		}
		plan->has_union = true;
		foreach(lc, query->rtable)
		{
			RangeTblEntry *rte = lfirst(lc);

			/* (a view's query also holds its OLD and NEW) */
			if (rte->rtekind == RTE_SUBQUERY)
				check_query(rte->subquery, false,
							lappend_int(list_copy(path), foreach_current_index(lc) + 1),
							plan);
		}
		return;
	}

	jointree_rtindexes((Node *) query->jointree, &rtindexes, &outer);
	if (outer && !top)
		refuse(plan, "uses an outer join inside a view or subquery");
	else if (outer)
	{
		plan->has_outer = true;
		check_outer_joins(query, (Node *) query->jointree, false, plan);
	}
	foreach(lc, rtindexes)
	{
		int			rti = lfirst_int(lc);
		RangeTblEntry *rte = rt_fetch(rti, query->rtable);
		List	   *subpath = lappend_int(list_copy(path), rti);

		if (rte->rtekind == RTE_SUBQUERY)
		{
			check_query(rte->subquery, false, subpath, plan);
			continue;
		}
		/*
		 * A function in FROM (lateral or not) maps each row to rows by
		 * deterministic functions, which the expression check enforces, and
		 * VALUES is constant: the delta rules carry over unchanged
		 * (d(T lateral F) = dT lateral F).  Outputs of plain rows repeat
		 * their rows that way, so products can be built on them.
		 */
		if (rte->rtekind == RTE_JOIN || rte->rtekind == RTE_FUNCTION ||
			rte->rtekind == RTE_VALUES)
			continue;
		if (rte->rtekind != RTE_RELATION)
		{
			refuse(plan, rte->rtekind == RTE_CTE ? "uses WITH" :
				   rte->rtekind == RTE_TABLEFUNC ? "reads from XMLTABLE" :
				   "reads from a table function");
			continue;
		}
		if (rte->tablesample != NULL)
			refuse(plan, "uses TABLESAMPLE");
		if (rte->relkind != RELKIND_RELATION &&
			rte->relkind != RELKIND_PARTITIONED_TABLE)
		{
			refuse(plan, psprintf("reads %s %s, whose changes cannot be captured",
								  rte->relkind == RELKIND_MATVIEW ? "materialized view" :
								  rte->relkind == RELKIND_FOREIGN_TABLE ? "foreign table" :
								  rte->relkind == RELKIND_SEQUENCE ? "sequence" :
								  "relation",
								  get_rel_name(rte->relid)));
			continue;
		}
		if (rte->relkind == RELKIND_RELATION && rte->inh &&
			has_subclass(rte->relid))
			refuse(plan, psprintf("reads table %s, which has inheritance children",
								  get_rel_name(rte->relid)));
		{
			Relation	rel = relation_open(rte->relid, AccessShareLock);
			bool		rls = rel->rd_rel->relrowsecurity;

			relation_close(rel, AccessShareLock);
			if (rls)
				refuse(plan, psprintf("reads table %s, which has row level security",
									  get_rel_name(rte->relid)));
		}
		{
			DpLeaf	   *leaf = palloc0(sizeof(DpLeaf));
			AttnosContext ctx = {rti, NULL, 0};
			int			a = -1;

			leaf->relid = rte->relid;
			leaf->path = subpath;
			(void) query_tree_walker(query, attnos_walker, &ctx,
									 QTW_IGNORE_JOINALIASES);
			while ((a = bms_next_member(ctx.attnos, a)) >= 0)
			{
				if (a == InvalidAttrNumber)
				{
					/* a whole-row reference needs every column */
					Relation	rel = relation_open(rte->relid, AccessShareLock);
					int			i;

					for (i = 1; i <= RelationGetNumberOfAttributes(rel); i++)
						if (!TupleDescAttr(RelationGetDescr(rel), i - 1)->attisdropped)
							leaf->attnos = bms_add_member(leaf->attnos, i);
					relation_close(rel, AccessShareLock);
				}
				else if (a > 0)
					leaf->attnos = bms_add_member(leaf->attnos, a);
			}
			plan->leaves = lappend(plan->leaves, leaf);
		}
	}
}

/* ----------------------------------------------------------------
 * WITH
 *
 * A non-recursive WITH query that does not aggregate is inlined as a
 * subquery in FROM at each of its references, as the planner inlines it
 * (subselect.c, inline_cte): the result is the same, and each reference
 * becomes a subquery whose base relations are leaves of their own.  Its
 * writing is only a matter of the maintenance plan: the output's query
 * view, which full refreshes and checks read, keeps the query as written.
 * ----------------------------------------------------------------
 */

typedef struct InlineCteContext
{
	const char *ctename;
	int			levelsup;
	Query	   *ctequery;
} InlineCteContext;

/* Replace the references to one CTE by copies of its query. */
static bool
inline_cte_walker(Node *node, InlineCteContext *ctx)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		ctx->levelsup++;
		(void) query_tree_walker((Query *) node, inline_cte_walker, ctx,
								 QTW_EXAMINE_RTES_AFTER);
		ctx->levelsup--;
		return false;
	}
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		if (rte->rtekind == RTE_CTE &&
			strcmp(rte->ctename, ctx->ctename) == 0 &&
			(int) rte->ctelevelsup == ctx->levelsup)
		{
			Query	   *copy = copyObject(ctx->ctequery);

			if (ctx->levelsup > 0)
				IncrementVarSublevelsUp((Node *) copy, ctx->levelsup, 1);
			rte->rtekind = RTE_SUBQUERY;
			rte->subquery = copy;
			rte->security_barrier = false;
			rte->ctename = NULL;
			rte->ctelevelsup = 0;
			rte->self_reference = false;
			rte->coltypes = NIL;
			rte->coltypmods = NIL;
			rte->colcollations = NIL;
		}
		return false;
	}
	return expression_tree_walker(node, inline_cte_walker, ctx);
}

/*
 * inline_ctes_walker
 *		Inline the WITH queries of every query level that can be (see the
 *		section header); refuse the plan, with the construct's own reason,
 *		for those that cannot.
 */
static bool
inline_ctes_walker(Node *node, DpPlan *plan)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *query = (Query *) node;
		List	   *kept = NIL;
		ListCell   *lc;

		foreach(lc, query->cteList)
		{
			CommonTableExpr *cte = lfirst(lc);
			Query	   *ctequery = castNode(Query, cte->ctequery);
			InlineCteContext ctx = {cte->ctename, -1, ctequery};

			if (cte->cterecursive)
				refuse(plan, "uses WITH RECURSIVE");
			else if (ctequery->commandType != CMD_SELECT)
				refuse(plan, "uses a data-modifying statement in WITH");
			else if (cte->ctematerialized == CTEMaterializeAlways)
				refuse(plan, "uses WITH ... AS MATERIALIZED");
			else if (ctequery->hasAggs || ctequery->groupClause != NIL ||
					 ctequery->groupingSets != NIL ||
					 ctequery->havingQual != NULL ||
					 ctequery->distinctClause != NIL)
				refuse(plan, "uses WITH whose query aggregates");
			else
			{
				(void) inline_cte_walker((Node *) query, &ctx);
				continue;
			}
			kept = lappend(kept, cte);
		}
		query->cteList = kept;
		return query_tree_walker(query, inline_ctes_walker, plan, 0);
	}
	return expression_tree_walker(node, inline_ctes_walker, plan);
}

/* Classify an aggregate call. */
static DpAggKind
classify_aggregate(Aggref *aggref, bool *float_avg)
{
	char	   *name;
	Oid			argtype;

	*float_avg = false;
	if (aggref->aggdistinct != NIL || aggref->aggorder != NIL ||
		aggref->aggkind != AGGKIND_NORMAL || aggref->aggvariadic ||
		get_func_namespace(aggref->aggfnoid) != PG_CATALOG_NAMESPACE)
		return DP_AGG_OTHER;
	name = get_func_name(aggref->aggfnoid);
	if (aggref->aggstar)
		return strcmp(name, "count") == 0 ? DP_AGG_COUNT_STAR : DP_AGG_OTHER;
	if (list_length(aggref->args) != 1)
		return DP_AGG_OTHER;
	argtype = exprType((Node *) ((TargetEntry *) linitial(aggref->args))->expr);
	if (strcmp(name, "count") == 0)
		return DP_AGG_COUNT;
	if (strcmp(name, "min") == 0)
		return DP_AGG_MIN;
	if (strcmp(name, "max") == 0)
		return DP_AGG_MAX;
	if (argtype != INT2OID && argtype != INT4OID && argtype != INT8OID &&
		argtype != NUMERICOID && argtype != FLOAT4OID && argtype != FLOAT8OID)
		return DP_AGG_OTHER;
	*float_avg = (argtype == FLOAT4OID || argtype == FLOAT8OID);
	if (strcmp(name, "sum") == 0)
		return DP_AGG_SUM;
	if (strcmp(name, "avg") == 0)
		return DP_AGG_AVG;
	return DP_AGG_OTHER;
}

static bool
collect_aggrefs_walker(Node *node, DpPlan *plan)
{
	ListCell   *lc;
	DpAgg	   *agg;

	if (node == NULL)
		return false;
	if (!IsA(node, Aggref))
		return expression_tree_walker(node, collect_aggrefs_walker, plan);

	foreach(lc, plan->aggs)
		if (equal(((DpAgg *) lfirst(lc))->aggref, node))
			return false;
	agg = palloc0(sizeof(DpAgg));
	agg->aggref = (Aggref *) node;
	agg->kind = classify_aggregate(agg->aggref, &agg->float_avg);
	if (agg->kind == DP_AGG_OTHER)
		plan->has_other = true;
	if (agg->kind == DP_AGG_MIN || agg->kind == DP_AGG_MAX)
		plan->has_minmax = true;
	plan->aggs = lappend(plan->aggs, agg);
	return false;
}

static bool
is_key(DpPlan *plan, Node *node)
{
	ListCell   *lc;

	foreach(lc, plan->keys)
		if (equal(lfirst(lc), node))
			return true;
	return false;
}

/*
 * user_function
 *		check_functions_in_node callback: is funcid user-defined (not part
 *		of the server)?  Remembers it in *context.
 */
static bool
user_function(Oid funcid, void *context)
{
	if (funcid < FirstNormalObjectId)
		return false;
	*(Oid *) context = funcid;
	return true;
}

/*
 * view_code_walker
 *		The expressions above the aggregates and group keys (and HAVING)
 *		are computed by the output view, that is, as whoever reads it.
 *		User-defined code must only ever run as the product owner, so an
 *		output computing a user-defined function there is refreshed in full
 *		instead (its view then only reads columns).
 */
static bool
view_code_walker(Node *node, DpPlan *plan)
{
	Oid			funcid = InvalidOid;

	if (node == NULL || IsA(node, Aggref) || is_key(plan, node))
		return false;
	if (check_functions_in_node(node, user_function, &funcid))
	{
		refuse(plan, psprintf("computes the user-defined function %s() from its aggregates, which the output view would run as whoever reads it",
							  get_func_name(funcid)));
		return true;
	}
	if (IsA(node, CoerceToDomain))
	{
		/* a domain's constraints are its owner's code too */
		refuse(plan, psprintf("casts a value computed from its aggregates to domain %s, whose constraints the output view would check as whoever reads it",
							  format_type_be(((CoerceToDomain *) node)->resulttype)));
		return true;
	}
	return expression_tree_walker(node, view_code_walker, plan);
}

/*
 * Columns used outside aggregates and group keys (allowed when they depend
 * on a grouped primary key) are grouped by too: it does not change groups.
 */
static bool
add_dependent_keys_walker(Node *node, DpPlan *plan)
{
	if (node == NULL || IsA(node, Aggref) || is_key(plan, node))
		return false;
	if (IsA(node, Var) && ((Var *) node)->varlevelsup == 0)
	{
		plan->keys = lappend(plan->keys, node);
		return false;
	}
	return expression_tree_walker(node, add_dependent_keys_walker, plan);
}

/* ----------------------------------------------------------------
 * Keys
 *
 * The store holds one row per key (a unique index), so incremental
 * maintenance is exact only where keys that compare equal are identical: a
 * change to a value that compares equal to the old one but is written
 * differently ('b' for 'B' under a case-insensitive collation, 1.00 for 1.0
 * in a numeric, '24:00:00' for '1 day' in an interval) would merge into the
 * old value's store row and never be seen.  For plain rows, and for columns
 * that depend on a grouped primary key, every value stands for itself, so
 * such a key gets an exact second key: its text form in the "C" collation
 * (for floats, their binary form: their text follows extra_float_digits).
 * A group key or a DISTINCT column cannot: the query shows one of the
 * values of a group, and the store could keep one that no row has any
 * more.  Such outputs are refreshed in full.
 * ----------------------------------------------------------------
 */

/*
 * type_equality_is_identity
 *		Whether values of type (with typmod, under collation) that compare
 *		equal are always the same value, written the same way.
 */
static bool
type_equality_is_identity(Oid type, int32 typmod, Oid collation)
{
	Oid			elem;

	check_stack_depth();
	if (OidIsValid(collation) && !get_collation_isdeterministic(collation))
		return false;
	if (get_typtype(type) == TYPTYPE_DOMAIN)
		type = getBaseTypeAndTypmod(type, &typmod);
	elem = get_element_type(type);
	if (OidIsValid(elem))
		return type_equality_is_identity(elem, typmod, collation);
	switch (get_typtype(type))
	{
		case TYPTYPE_ENUM:
			return true;
		case TYPTYPE_RANGE:
			return type_equality_is_identity(get_range_subtype(type), -1,
											 get_range_collation(type));
		case TYPTYPE_MULTIRANGE:
			return type_equality_is_identity(get_multirange_range(type), -1,
											 InvalidOid);
		case TYPTYPE_COMPOSITE:
			{
				TupleDesc	desc;
				bool		identity = true;
				int			i;

				if (type == RECORDOID)
					return false;
				desc = lookup_rowtype_tupdesc(type, -1);
				for (i = 0; i < desc->natts && identity; i++)
				{
					Form_pg_attribute att = TupleDescAttr(desc, i);

					if (!att->attisdropped)
						identity = type_equality_is_identity(att->atttypid,
															 att->atttypmod,
															 att->attcollation);
				}
				ReleaseTupleDesc(desc);
				return identity;
			}
		default:
			break;
	}
	switch (type)
	{
		case BOOLOID:
		case CHAROID:
		case NAMEOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
		case XID8OID:
		case DATEOID:
		case TIMEOID:
		case TIMETZOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case UUIDOID:
		case BYTEAOID:
		case BITOID:
		case VARBITOID:
		case INETOID:
		case CIDROID:
		case MACADDROID:
		case MACADDR8OID:
		case CASHOID:
		case PG_LSNOID:
		case TEXTOID:
		case VARCHAROID:
			return true;
		case NUMERICOID:		/* a typmod fixes the scale */
		case BPCHAROID:			/* ... and the padding */
			return typmod >= 0;
		default:
			return false;		/* floats (-0), interval, jsonb, unknown */
	}
}

/*
 * exact_key
 *		The exact second key of a plain-row key whose equality is not
 *		identity (see the section header), or NULL if it has none.
 */
static Node *
exact_key(Node *key)
{
	Oid			base = getBaseType(exprType(key));
	CoerceViaIO *io;
	CollateExpr *coll;

	if (base == FLOAT8OID || base == FLOAT4OID)
		return (Node *) makeFuncExpr(base == FLOAT8OID ? F_FLOAT8SEND : F_FLOAT4SEND,
									 BYTEAOID, list_make1(copyObject(key)),
									 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	if (!dataproduct_type_text_is_deterministic(exprType(key), TEXT_IDENTITY))
		return NULL;
	io = makeNode(CoerceViaIO);
	io->arg = (Expr *) copyObject(key);
	io->resulttype = TEXTOID;
	io->resultcollid = C_COLLATION_OID;
	io->coerceformat = COERCE_EXPLICIT_CAST;
	io->location = -1;
	coll = makeNode(CollateExpr);
	coll->arg = (Expr *) io;
	coll->collOid = C_COLLATION_OID;
	coll->location = -1;
	return (Node *) coll;
}

/* A key as the reasons name it: its output column, if it is one. */
static char *
key_description(DpPlan *plan, Node *key)
{
	ListCell   *lc;

	foreach(lc, plan->query->targetList)
	{
		TargetEntry *tle = lfirst(lc);

		if (!tle->resjunk && equal(tle->expr, key))
			return psprintf("\"%s\"", tle->resname);
	}
	if (IsA(key, Var) && ((Var *) key)->varlevelsup == 0)
		return psprintf("column \"%s\"",
						get_rte_attribute_name(rt_fetch(((Var *) key)->varno,
														plan->query->rtable),
											   ((Var *) key)->varattno));
	return "an expression";
}

/* Values that compare equal but differ, as an example for a reason. */
static const char *
equal_values_example(Oid type)
{
	switch (getBaseType(type))
	{
		case NUMERICOID:
			return " (1.0 and 1.00)";
		case FLOAT4OID:
		case FLOAT8OID:
			return " (0 and -0)";
		case INTERVALOID:
			return " ('1 day' and '24:00:00')";
		case JSONBOID:
			return " ('1.0' and '1.00')";
		case BPCHAROID:
			return " ('a' and 'a ')";
		default:
			return "";
	}
}

/*
 * check_keys
 *		Refuse keys that cannot be unique store keys, or whose equality is
 *		not identity (see the section header); add the exact second keys of
 *		the others.  The first ngroup keys are group keys or DISTINCT
 *		columns; the rest are plain-row columns or depend on a grouped
 *		primary key.
 */
static void
check_keys(DpPlan *plan, int ngroup)
{
	List	   *exact = NIL;
	ListCell   *lc;

	if (plan->global)
		return;
	foreach(lc, plan->keys)
	{
		Node	   *key = lfirst(lc);
		Oid			type = exprType(key);
		Oid			collation = exprCollation(key);
		bool		grouped = foreach_current_index(lc) < ngroup;
		const char *verb = !grouped ? "returns" :
		plan->query->distinctClause != NIL ? "selects DISTINCT" : "groups by";
		TypeCacheEntry *tce = lookup_type_cache(type, TYPECACHE_BTREE_OPFAMILY |
												TYPECACHE_EQ_OPR);
		Node	   *second;

		if (!OidIsValid(tce->btree_opf) || !OidIsValid(tce->eq_opr))
		{
			refuse(plan, psprintf("%s %s of type %s, which has no default btree operator class",
								  verb, key_description(plan, key),
								  format_type_be(type)));
			return;
		}
		/* groups to recompute are found by arrays of their keys */
		if (!OidIsValid(get_array_type(type)))
		{
			refuse(plan, psprintf("%s %s of array type %s, which cannot be a key of its store",
								  verb, key_description(plan, key),
								  format_type_be(type)));
			return;
		}
		if (type_equality_is_identity(type, exprTypmod(key), collation))
			continue;
		if (!grouped && (second = exact_key(key)) != NULL)
		{
			exact = lappend(exact, second);
			continue;
		}
		if (OidIsValid(collation) && !get_collation_isdeterministic(collation))
			refuse(plan, psprintf("%s %s in nondeterministic collation \"%s\", where values that compare equal can differ",
								  verb, key_description(plan, key),
								  get_collation_name(collation)));
		else
			refuse(plan, psprintf("%s %s of type %s, where values that compare equal can differ%s",
								  verb, key_description(plan, key),
								  format_type_be(type), equal_values_example(type)));
		return;
	}
	plan->keys = list_concat(plan->keys, exact);
	if (list_length(plan->keys) > INDEX_MAX_KEYS)
		refuse(plan, psprintf("keeps its rows by more than %d keys (group keys, or the columns of plain rows)",
							  INDEX_MAX_KEYS));
}

static void
add_column(DpPlan *plan, const char *name, Oid type, int32 typmod, Oid coll)
{
	DpColumn   *col = palloc(sizeof(DpColumn));

	col->name = pstrdup(name);
	col->type = type;
	col->typmod = typmod;
	col->collation = coll;
	plan->store_cols = lappend(plan->store_cols, col);
}

/* Result type of sum() over avg's argument, kept as avg's helper. */
static Oid
avg_sum_type(DpAgg *agg)
{
	Oid			argtype = exprType((Node *) ((TargetEntry *) linitial(agg->aggref->args))->expr);

	if (agg->float_avg)
		return FLOAT8OID;
	return (argtype == INT2OID || argtype == INT4OID) ? INT8OID : NUMERICOID;
}

static int
add_pre_column(List **tlist, Expr *expr, const char *name)
{
	int			resno = list_length(*tlist) + 1;

	*tlist = lappend(*tlist, makeTargetEntry(copyObject(expr), resno,
											 pstrdup(name), false));
	return resno;
}

/*
 * output_name
 *		The name of the output column that is exactly expr, or NULL: a store
 *		column holding it is named after it (see "Store column names").
 */
static const char *
output_name(DpPlan *plan, Node *expr)
{
	ListCell   *lc;

	foreach(lc, plan->query->targetList)
	{
		TargetEntry *tle = lfirst(lc);

		if (!tle->resjunk && equal(tle->expr, expr))
			return tle->resname;
	}
	return NULL;
}

/*
 * Store column names.  A key or an aggregate that is an output column as
 * it stands is stored in a column of the output column's name, so that
 * the view reads "SELECT country, revenue FROM <store>" and a subscriber
 * of a published store or a tool reading the view's definition sees the
 * output's own names; everything else has an internal name (__dp_...),
 * which output columns cannot have.  Stores created before 0.2.0 have
 * internal names only: a plan for an existing store whose columns do not
 * carry the output's names uses those (legacy).
 */
static const char *
store_name(DpPlan *plan, Node *expr, const char *internal)
{
	const char *name = plan->legacy_names ? NULL : output_name(plan, expr);

	return name != NULL ? name : internal;
}

/* Whether a store lacks a column that this plan names after the output. */
static bool
store_lacks_output_names(DpPlan *plan, Oid store)
{
	ListCell   *lc;

	foreach(lc, plan->keys)
	{
		const char *name = output_name(plan, lfirst(lc));

		if (name != NULL && get_attnum(store, name) == InvalidAttrNumber)
			return true;
	}
	foreach(lc, plan->aggs)
	{
		const char *name = output_name(plan, (Node *) ((DpAgg *) lfirst(lc))->aggref);

		if (name != NULL && get_attnum(store, name) == InvalidAttrNumber)
			return true;
	}
	return false;
}

/*
 * build_layout
 *		Build the pre-aggregation query and the store columns, named for an
 *		existing store (InvalidOid at declaration) as it was created.
 */
static void
build_layout(DpPlan *plan, Oid store)
{
	Query	   *pre;
	List	   *tlist = NIL;
	ListCell   *lc;
	int			i = 0;
	int			j = 0;

	plan->legacy_names = OidIsValid(store) && store_lacks_output_names(plan, store);
	pre = copyObject(plan->query);
	foreach(lc, plan->keys)
	{
		Node	   *key = lfirst(lc);
		const char *name = store_name(plan, key, psprintf("__dp_k%d", ++i));

		add_pre_column(&tlist, (Expr *) key, name);
		add_column(plan, name, exprType(key), exprTypmod(key), exprCollation(key));
	}

	foreach(lc, plan->aggs)
	{
		DpAgg	   *agg = lfirst(lc);
		Aggref	   *aggref = agg->aggref;
		char	   *name = psprintf("__dp_a%d", ++j);
		ListCell   *ac;
		int			m = 0;

		agg->first_col = list_length(plan->store_cols) + 1;
		add_column(plan, store_name(plan, (Node *) aggref, name), aggref->aggtype, -1,
				   aggref->aggcollid);
		if (agg->kind == DP_AGG_AVG)
			add_column(plan, psprintf("%s_sum", name), avg_sum_type(agg), -1, InvalidOid);
		if (agg->kind == DP_AGG_SUM || agg->kind == DP_AGG_AVG)
			add_column(plan, psprintf("%s_nn", name), INT8OID, -1, InvalidOid);

		if (agg->kind == DP_AGG_OTHER)
		{
			/*
			 * Each argument becomes a pre view column, to which the
			 * recomputation maps it back; direct arguments are constant per
			 * group and stay as written.
			 */
			foreach(ac, aggref->args)
				(void) add_pre_column(&tlist, ((TargetEntry *) lfirst(ac))->expr,
									  psprintf("__dp_x%d_%d", j, ++m));
		}
		else if (agg->kind != DP_AGG_COUNT_STAR)
			agg->pre_col = add_pre_column(&tlist,
										  ((TargetEntry *) linitial(aggref->args))->expr,
										  psprintf("__dp_x%d", j));
		if (aggref->aggfilter != NULL)
			agg->filter_col = add_pre_column(&tlist, aggref->aggfilter,
											 psprintf("__dp_f%d", j));
	}
	add_column(plan, "__dp_count", INT8OID, -1, InvalidOid);

	pre->targetList = tlist;
	pre->groupClause = NIL;
	pre->groupDistinct = false;
	pre->havingQual = NULL;
	pre->hasAggs = false;
	pre->distinctClause = NIL;
	pre->sortClause = NIL;
	plan->pre = pre;
	plan->pre_sql = pg_get_querydef(pre, false);
}

/* Drop ORDER BY and its junk columns from view subqueries: not needed. */
static void
strip_sorting(Query *query)
{
	ListCell   *lc;

	query->sortClause = NIL;
	while (query->targetList != NIL &&
		   ((TargetEntry *) llast(query->targetList))->resjunk)
		query->targetList = list_delete_last(query->targetList);
	foreach(lc, query->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);

		if (rte->rtekind == RTE_SUBQUERY && rte->subquery->limitCount == NULL &&
			rte->subquery->limitOffset == NULL)
			strip_sorting(rte->subquery);
	}
}

/*
 * dataproduct_plan_output
 *		Analyse an output's query (held by its query view) for incremental
 *		maintenance.  When it can be maintained, the plan also holds the
 *		store layout and pre-aggregation query; otherwise plan->reason says
 *		why, in words that complete "its query ...".
 *
 * store is the output's keyed store, whose column names the plan uses
 * (see "Store column names"), or InvalidOid to plan a new one.  Takes
 * AccessShareLock on the relations the query reads.  Allocates in the
 * current memory context.
 */
DpPlan *
dataproduct_plan_output(Oid query_view, Oid store)
{
	DpPlan	   *plan = palloc0(sizeof(DpPlan));
	Relation	rel = relation_open(query_view, AccessShareLock);
	Query	   *query = copyObject(get_view_query(rel));
	List	   *rewritten;
	ListCell   *lc;
	int			ngroup = 0;

	relation_close(rel, AccessShareLock);
	AcquireRewriteLocks(query, true, false);
	rewritten = QueryRewrite(query);
	if (list_length(rewritten) != 1)
		elog(ERROR, "output query rewrote to %d queries", list_length(rewritten));
	query = linitial_node(Query, rewritten);
	plan->query = query;
	plan->incremental = true;

	(void) inline_ctes_walker((Node *) query, plan);
	if (query->setOperations != NULL && query->limitCount == NULL &&
		query->limitOffset == NULL && query->rowMarks == NIL)
		query = wrap_set_operation(query);
	plan->query = query;
	check_query(query, true, NIL, plan);
	/* the delta rules of outer joins do not compose with those yet */
	if (plan->has_outer && (plan->semis != NIL || plan->has_union))
		refuse(plan, "uses an outer join together with EXISTS, IN or UNION ALL");
	{
		char	   *reason = dataproduct_nondeterministic(query);

		if (reason != NULL)
			refuse(plan, reason);
	}
	if (list_length(plan->leaves) > 16)
		refuse(plan, "joins more than 16 relations");
	if (!plan->incremental)
		return plan;
	/* ORDER BY means nothing to a store; junk columns at the top feed GROUP BY */
	query->sortClause = NIL;
	foreach(lc, query->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);

		if (rte->rtekind == RTE_SUBQUERY)
			strip_sorting(rte->subquery);
	}

	(void) collect_aggrefs_walker((Node *) query->targetList, plan);
	(void) collect_aggrefs_walker(query->havingQual, plan);
	foreach(lc, plan->aggs)
	{
		Aggref	   *aggref = ((DpAgg *) lfirst(lc))->aggref;

		if (aggref->agglevelsup != 0)
			refuse(plan, "uses an aggregate of an outer query");
	}

	if (query->hasAggs || query->groupClause != NIL)
	{
		foreach(lc, query->groupClause)
			plan->keys = lappend(plan->keys,
								 get_sortgroupclause_tle(lfirst(lc), query->targetList)->expr);
		ngroup = list_length(plan->keys);
		if (plan->keys == NIL)
		{
			plan->global = true;
			plan->keys = list_make1(makeBoolConst(true, false));
		}
		else
		{
			foreach(lc, query->targetList)
				(void) add_dependent_keys_walker((Node *) ((TargetEntry *) lfirst(lc))->expr, plan);
			(void) add_dependent_keys_walker(query->havingQual, plan);
		}
	}
	else
	{
		/* DISTINCT, or plain rows counted by multiplicity */
		plan->expand = (query->distinctClause == NIL);
		foreach(lc, query->targetList)
		{
			TargetEntry *tle = lfirst(lc);

			if (!tle->resjunk && !is_key(plan, (Node *) tle->expr))
				plan->keys = lappend(plan->keys, tle->expr);
		}
		ngroup = plan->expand ? 0 : list_length(plan->keys);
	}
	check_keys(plan, ngroup);
	foreach(lc, query->targetList)
		(void) view_code_walker((Node *) ((TargetEntry *) lfirst(lc))->expr, plan);
	(void) view_code_walker(query->havingQual, plan);
	if (!plan->incremental)
		return plan;

	build_layout(plan, store);
	return plan;
}

/*
 * dataproduct_check_leaf_privileges
 *		Incremental maintenance reads base tables and their change logs
 *		directly, where a full refresh reads through views with their
 *		owners' rights.  So it is allowed only when the product owner may
 *		read every column it uses of every base table itself; otherwise the
 *		plan is not incremental (or, with error, the refresh fails).
 */
void
dataproduct_check_leaf_privileges(DpPlan *plan, Oid owner, bool error)
{
	ListCell   *lc;

	if (!plan->incremental)
		return;
	foreach(lc, plan->leaves)
	{
		DpLeaf	   *leaf = lfirst(lc);
		int			attno = -1;

		/* a table-level grant covers every column */
		if (pg_class_aclcheck(leaf->relid, owner, ACL_SELECT) == ACLCHECK_OK)
			continue;
		while ((attno = bms_next_member(leaf->attnos, attno)) >= 0)
		{
			if (pg_attribute_aclcheck(leaf->relid, attno, owner, ACL_SELECT) == ACLCHECK_OK)
				continue;
			if (error)
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("permission denied for table %s",
								get_rel_name(leaf->relid)),
						 errdetail("Role \"%s\" must be able to read column \"%s\" itself to maintain the output incrementally.",
								   GetUserNameFromId(owner, false),
								   get_attname(leaf->relid, attno, false))));
			refuse(plan, psprintf("reads column \"%s\" of table %s, which its owner cannot read directly",
								  get_attname(leaf->relid, attno, false),
								  get_rel_name(leaf->relid)));
			return;
		}
	}
}

/*
 * dataproduct_plan_refuse
 *		Make a plan not incremental, with a reason completing "its query
 *		..." (the first reason given stays).
 */
void
dataproduct_plan_refuse(DpPlan *plan, const char *reason)
{
	refuse(plan, reason);
}

/*
 * dataproduct_check_leaf_log
 *		A leaf's changes are read from its relation's change log, which
 *		holds the columns read when capture was installed or extended, with
 *		their types then.  Refuse the plan unless the log still holds every
 *		column the leaf reads, with the relation's present type: a view the
 *		query reads may have been redefined to read other columns, and a
 *		column read through a whole-row reference may have been retyped
 *		(only the columns a view names protect their types).
 */
void
dataproduct_check_leaf_log(DpPlan *plan, DpLeaf *leaf, Oid log)
{
	int			attno = -1;

	if (!plan->incremental)
		return;
	while ((attno = bms_next_member(leaf->attnos, attno)) >= 0)
	{
		char	   *name = get_attname(leaf->relid, attno, false);
		AttrNumber	logattno = get_attnum(log, name);
		Oid			type;
		int32		typmod;
		Oid			collation;
		Oid			logtype;
		int32		logtypmod;
		Oid			logcollation;

		if (logattno == InvalidAttrNumber)
		{
			refuse(plan, psprintf("reads column \"%s\" of table %s, whose changes were not captured when the output was declared",
								  name, get_rel_name(leaf->relid)));
			return;
		}
		get_atttypetypmodcoll(leaf->relid, attno, &type, &typmod, &collation);
		get_atttypetypmodcoll(log, logattno, &logtype, &logtypmod, &logcollation);
		/* logs keep a domain's base type (capture.c); 0.1.0 logs, the domain */
		if (logtype != type)
			type = getBaseTypeAndTypmod(type, &typmod);
		if (type != logtype || typmod != logtypmod || collation != logcollation)
		{
			refuse(plan, psprintf("reads column \"%s\" of table %s, whose type changed after its changes began to be captured",
								  name, get_rel_name(leaf->relid)));
			return;
		}
	}
}

