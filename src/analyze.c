/*-------------------------------------------------------------------------
 *
 * analyze.c
 *	  Analysis of output queries at declaration.
 *
 * An output is declared with SQL text.  Before anything is built from it,
 * the text is parsed and analysed here, as the calling role and under its
 * search_path (exactly as CREATE VIEW would), and refused with a clear error
 * unless it is one SELECT that a view can hold and a table can store:
 *
 * - exactly one statement, a SELECT (or VALUES), without INTO or
 *   data-modifying WITH;
 * - no row locks at any level: not in subqueries, WITH or sublinks, nor in
 *   the views it reads (an output must never hold up its sources' writers;
 *   refreshes check the views again, as they may be redefined);
 * - no temporary objects: relations, and (once the query view is built,
 *   from its dependencies, through the views it reads) functions, types,
 *   operators and collations; they go at the end of the session, taking
 *   the query view along, and the output outlives the session;
 * - every column has a usable, distinct name that is not reserved, and a
 *   type a table column can have; no name of a system column.
 *
 * References to missing objects and privilege problems of the caller are
 * reported by parse analysis itself.  Volatile functions are allowed but
 * warned about: such an output changes even when its sources do not.
 *
 * The analysed query is only inspected here; the declaration code hands
 * the raw statement to DefineView, so no user text is ever spliced into
 * generated SQL.
 *
 * IDENTIFICATION
 *	  src/analyze.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/heap.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_rewrite.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parse_relation.h"
#include "parser/parser.h"
#include "rewrite/rewriteHandler.h"
#include "rewrite/rewriteSupport.h"
#include "tcop/cmdtag.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "analyze.h"
#include "catalog.h"

static void
refuse(const char *message, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg_internal("%s", message),
			 detail ? errdetail_internal("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0));
}

/*
 * query_error_callback
 *		Report error positions against the output query, not against the
 *		statement that called add_output (as PL/pgSQL does for its queries).
 */
static void
query_error_callback(void *arg)
{
	const char *sql = arg;
	int			position = geterrposition();

	if (position > 0)
	{
		errposition(0);
		internalerrposition(position);
		internalerrquery(sql);
	}
	else
		errcontext("output query: %s", sql);
}

/*
 * check_columns
 *		Collect the output column names and refuse unusable ones.
 */
static List *
check_columns(Query *query)
{
	List	   *names = NIL;
	ListCell   *lc;
	int			colno = 0;

	foreach(lc, query->targetList)
	{
		TargetEntry *tle = lfirst(lc);
		Oid			type;
		ListCell   *prev;

		if (tle->resjunk)
			continue;
		colno++;

		if (tle->resname == NULL || strcmp(tle->resname, "?column?") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_COLUMN_DEFINITION),
					 errmsg("column %d of the output query has no name", colno),
					 errhint("Name every computed column with AS, for example \"count(*) AS plays\".")));

		if (strncmp(tle->resname, DP_RESERVED_PREFIX,
					strlen(DP_RESERVED_PREFIX)) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_RESERVED_NAME),
					 errmsg("column name \"%s\" is reserved", tle->resname),
					 errdetail("Column names starting with \"%s\" are used by the engine.",
							   DP_RESERVED_PREFIX),
					 errhint("Rename the column with AS.")));

		if (SystemAttributeByName(tle->resname) != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("column name \"%s\" conflicts with a system column name",
							tle->resname),
					 errdetail("The output's rows are stored in a table, which has a system column of that name."),
					 errhint("Rename the column with AS, for example \"%s AS row_%s\".",
							 tle->resname, tle->resname)));

		foreach(prev, names)
		{
			if (strcmp((char *) lfirst(prev), tle->resname) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("column name \"%s\" appears more than once in the output query",
								tle->resname),
						 errhint("Give the columns distinct names with AS.")));
		}

		type = exprType((Node *) tle->expr);
		if (get_typtype(type) == TYPTYPE_PSEUDO)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
					 errmsg("column \"%s\" has pseudo-type %s",
							tle->resname, format_type_be(type)),
					 errhint("Cast the column to a concrete type.")));

		names = lappend(names, tle->resname);
	}

	if (names == NIL)
		refuse("output query must return at least one column", NULL,
			   "List the columns the output publishes in the SELECT list.");
	return names;
}

/* ----------------------------------------------------------------
 * Row locks
 * ----------------------------------------------------------------
 */

typedef struct RowLockSearch
{
	LockClauseStrength strength;	/* of the first locking clause found */
	Oid			view;			/* the innermost view holding it, if any */
	List	   *expanding;		/* views being looked into (a view's query
								 * lists the view itself, as OLD and NEW) */
} RowLockSearch;

static const char *
lock_strength_name(LockClauseStrength strength)
{
	switch (strength)
	{
		case LCS_FORKEYSHARE:
			return "FOR KEY SHARE";
		case LCS_FORSHARE:
			return "FOR SHARE";
		case LCS_FORNOKEYUPDATE:
			return "FOR NO KEY UPDATE";
		case LCS_FORUPDATE:
		case LCS_NONE:
			break;
	}
	return "FOR UPDATE";
}

/*
 * row_lock_walker
 *		Find a locking clause in a query tree: at any level, in subqueries,
 *		WITH and sublinks, and in the views read, as they are defined now.
 *		Views are opened with AccessShareLock.
 */
static bool
row_lock_walker(Node *node, RowLockSearch *search)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *query = (Query *) node;

		if (query->rowMarks != NIL)
		{
			search->strength = ((RowMarkClause *) linitial(query->rowMarks))->strength;
			return true;
		}
		return query_tree_walker(query, row_lock_walker, search,
								 QTW_EXAMINE_RTES_BEFORE);
	}
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		if (rte->rtekind == RTE_RELATION && rte->relkind == RELKIND_VIEW &&
			!list_member_oid(search->expanding, rte->relid))
		{
			Relation	rel = relation_open(rte->relid, AccessShareLock);
			Query	   *viewquery = copyObject(get_view_query(rel));
			bool		found;

			relation_close(rel, AccessShareLock);
			check_stack_depth();
			search->expanding = lappend_oid(search->expanding, rte->relid);
			found = row_lock_walker((Node *) viewquery, search);
			search->expanding = list_delete_last(search->expanding);
			if (found)
			{
				if (!OidIsValid(search->view))
					search->view = rte->relid;
				return true;
			}
		}
		return false;
	}
	return expression_tree_walker(node, row_lock_walker, search);
}

/* Where a lock was found, as a DETAIL says it. */
static char *
row_lock_detail(RowLockSearch *search)
{
	if (OidIsValid(search->view))
		return psprintf("View %s, which the query reads, locks rows with %s.",
						quote_qualified_identifier(get_namespace_name(get_rel_namespace(search->view)),
												   get_rel_name(search->view)),
						lock_strength_name(search->strength));
	return psprintf("A subquery locks rows with %s.",
					lock_strength_name(search->strength));
}

/*
 * dataproduct_check_row_locks
 *		At each refresh: error out if the output's query, held by its query
 *		view, now locks rows (a view it reads was redefined with a locking
 *		clause).  Refused at declaration anyway.
 */
void
dataproduct_check_row_locks(Oid query_view, const char *address)
{
	RowLockSearch search = {LCS_NONE, InvalidOid, list_make1_oid(query_view)};
	Relation	rel = relation_open(query_view, AccessShareLock);
	Query	   *query = copyObject(get_view_query(rel));

	relation_close(rel, AccessShareLock);
	if (row_lock_walker((Node *) query, &search))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the query of output %s locks rows", address),
				 errdetail_internal("%s", row_lock_detail(&search)),
				 OidIsValid(search.view) ?
				 errhint("Remove the locking clause from view %s: refreshes must never hold up the writers of the sources.",
						 quote_qualified_identifier(get_namespace_name(get_rel_namespace(search.view)),
													get_rel_name(search.view))) :
				 errhint("Remove the locking clause: refreshes must never hold up the writers of the sources.")));
}

/* ----------------------------------------------------------------
 * Temporary objects
 * ----------------------------------------------------------------
 */

/*
 * find_temp_dependency
 *		The first object in a temporary schema that the rule of view
 *		depends on, directly or through the views it reads; sets *via to
 *		the view (other than the query view) that uses it.
 */
static bool
find_temp_dependency(Oid view, Oid query_view, List **visited,
					 ObjectAddress *found, char **name, Oid *via)
{
	Relation	depend;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tuple;
	List	   *views = NIL;
	ListCell   *lc;
	bool		result = false;

	check_stack_depth();
	*visited = lappend_oid(*visited, view);
	ScanKeyInit(&key[0], Anum_pg_depend_classid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(RewriteRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_objid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(get_rewrite_oid(view, ViewSelectRuleName, false)));
	depend = table_open(DependRelationId, AccessShareLock);
	scan = systable_beginscan(depend, DependDependerIndexId, true, NULL, 2, key);
	while (!result && HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tuple);
		ObjectAddress ref;
		Oid			nspid;

		ref.classId = dep->refclassid;
		ref.objectId = dep->refobjid;
		ref.objectSubId = 0;
		if (ref.classId == RelationRelationId && ref.objectId == view)
			continue;			/* the rule's own view */
		nspid = get_object_namespace(&ref);
		if (OidIsValid(nspid) && isAnyTempNamespace(nspid))
		{
			char	   *identity = getObjectIdentity(&ref, false);
			char	   *prefix = psprintf("%s.", quote_identifier(get_namespace_name(nspid)));

			/* pg_temp_<n> differs between sessions: say pg_temp */
			if (strncmp(identity, prefix, strlen(prefix)) == 0)
				identity = psprintf("pg_temp.%s", identity + strlen(prefix));
			*found = ref;
			*name = identity;
			*via = view == query_view ? InvalidOid : view;
			result = true;
		}
		else if (ref.classId == RelationRelationId &&
				 get_rel_relkind(ref.objectId) == RELKIND_VIEW &&
				 !list_member_oid(*visited, ref.objectId))
			views = list_append_unique_oid(views, ref.objectId);
	}
	systable_endscan(scan);
	table_close(depend, AccessShareLock);

	foreach(lc, views)
	{
		if (result)
			break;
		if (!list_member_oid(*visited, lfirst_oid(lc)))
			result = find_temp_dependency(lfirst_oid(lc), query_view, visited,
										  found, name, via);
	}
	return result;
}

/*
 * dataproduct_check_temp_objects
 *		Error out if the query view of a new output depends on a temporary
 *		object, directly or through the views it reads.  At the end of the
 *		session such objects are dropped with everything that depends on
 *		them, which would take the query view along and leave the output
 *		unusable.
 */
void
dataproduct_check_temp_objects(Oid query_view)
{
	List	   *visited = NIL;
	ObjectAddress found;
	char	   *name = NULL;
	Oid			via = InvalidOid;

	if (!find_temp_dependency(query_view, query_view, &visited, &found,
							  &name, &via))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("output query must not depend on temporary %s %s",
					getObjectTypeDescription(&found, false), name),
			 OidIsValid(via) ?
			 errdetail("View %s, which the query reads, uses it; temporary objects are dropped at the end of the session, and an output outlives it.",
					   quote_qualified_identifier(get_namespace_name(get_rel_namespace(via)),
												  get_rel_name(via))) :
			 errdetail("Temporary objects are dropped at the end of the session, and an output outlives it."),
			 errhint("Create the %s in a permanent schema.",
					 getObjectTypeDescription(&found, false))));
}

/* ----------------------------------------------------------------
 * Declaration
 * ----------------------------------------------------------------
 */

/*
 * dataproduct_analyze_query
 *		Parse and analyse an output query; error out if it is unusable.
 *
 * Runs as the current user under the current search_path.  The result is
 * palloc'd in the current memory context.
 */
DpQueryInfo *
dataproduct_analyze_query(const char *sql)
{
	ErrorContextCallback errcallback;
	List	   *raw_list;
	RawStmt    *raw;
	Node	   *stmt;
	SelectStmt *select;
	Query	   *query;
	DpQueryInfo *info;

	errcallback.callback = query_error_callback;
	errcallback.arg = (void *) sql;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	raw_list = raw_parser(sql, RAW_PARSE_DEFAULT);
	if (list_length(raw_list) == 0)
		refuse("output query is empty", NULL,
			   "Pass the SELECT statement that defines the output.");
	if (list_length(raw_list) > 1)
		refuse("output query must be a single statement",
			   psprintf("The text contains %d statements.",
						list_length(raw_list)),
			   "Pass one SELECT statement; combine queries with WITH, UNION or joins.");

	raw = linitial_node(RawStmt, raw_list);
	stmt = raw->stmt;
	if (!IsA(stmt, SelectStmt))
		refuse(psprintf("output query must be a SELECT statement, not %s",
						GetCommandTagName(CreateCommandTag(stmt))),
			   NULL,
			   "Outputs publish the result of a query; they do not change data.");

	select = (SelectStmt *) stmt;
	if (select->intoClause != NULL)
		refuse("output query must not use SELECT INTO", NULL,
			   "Remove the INTO clause; the output itself stores the result.");

	query = parse_analyze_fixedparams(copyObject(raw), sql, NULL, 0, NULL);

	if (query->commandType != CMD_SELECT || query->utilityStmt != NULL)
		refuse("output query must be a SELECT statement", NULL, NULL);
	if (query->hasModifyingCTE)
		refuse("output query must not contain data-modifying statements in WITH",
			   NULL, "Outputs publish the result of a query; they do not change data.");
	if (query->rowMarks != NIL || query->hasForUpdate)
		refuse("output query must not lock rows",
			   "The query uses FOR UPDATE, FOR NO KEY UPDATE, FOR SHARE or FOR KEY SHARE.",
			   "Remove the locking clause.");
	{
		RowLockSearch search = {LCS_NONE, InvalidOid, NIL};

		if (row_lock_walker((Node *) query, &search))
			refuse("output query must not lock rows", row_lock_detail(&search),
				   OidIsValid(search.view) ?
				   "Read the view's tables directly, or remove its locking clause: an output must never hold up the writers of its sources." :
				   "Remove the locking clause: an output must never hold up the writers of its sources.");
	}
	if (isQueryUsingTempRelation(query))
		refuse("output query must not read temporary relations",
			   "An output outlives the session that declares it.",
			   "Read a permanent table instead.");

	error_context_stack = errcallback.previous;

	info = palloc0(sizeof(DpQueryInfo));
	info->raw = raw;
	info->query = query;
	info->colnames = check_columns(query);
	info->has_volatile = contain_volatile_functions((Node *) query);

	if (info->has_volatile)
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("output query calls volatile functions"),
				 errdetail("Its result can change between refreshes even when its sources do not, so the output shows the result of the last refresh only."),
				 errhint("Prefer inputs that change only with the sources, such as a timestamp column instead of clock_timestamp().")));
	return info;
}
