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
 * - exactly one statement, a SELECT (or VALUES), without INTO, row locks or
 *   data-modifying WITH;
 * - no temporary relations (the output outlives the session);
 * - every column has a usable, distinct name that is not reserved, and a
 *   type a table column can have.
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

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parse_relation.h"
#include "parser/parser.h"
#include "tcop/cmdtag.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

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
