/*-------------------------------------------------------------------------
 *
 * determinism.c
 *	  Which expressions an incrementally maintained output may evaluate:
 *	  those whose value depends only on their inputs.
 *
 * An incrementally maintained output evaluates its expressions on the rows
 * of a batch, at the refresh that applies it, and keeps the results; a full
 * refresh would evaluate them again on every row.  Both agree only if an
 * expression's value depends on nothing but its inputs and the settings
 * every refresh pins (TimeZone, DateStyle, IntervalStyle).  Immutable
 * functions qualify.  Stable functions qualify only when they are built-ins
 * listed in stable_rule(): date and time arithmetic, conversions and
 * formatting under the pinned settings, and the functions that format their
 * arguments through their types' text forms (concat, format, to_json, ...)
 * when those forms qualify in turn.  Everything else that is stable reads
 * something besides its arguments -- the clock (now(), age(timestamptz)),
 * the session (current_setting(), pg_backend_pid(), CURRENT_USER), the
 * catalogs (regclass input and output, has_table_privilege()), lc_time,
 * lc_numeric or lc_monetary (to_char with TM, D, G or L; money) or the
 * default text search configuration (to_tsvector(text)) -- and the output is
 * refreshed in full.  Calls hide in more nodes than FuncExpr: operators,
 * casts through text (CoerceViaIO), row comparisons, GREATEST and LEAST,
 * XML constructors and SQL value functions are all looked at.
 *
 * Text input of the date and time types is allowed although the special
 * inputs 'now', 'today', 'tomorrow' and 'yesterday' read the clock: in a
 * query they are constants, fixed at declaration; only such words stored in
 * the sources and cast by the query are read at the refresh that applies
 * their rows (README, Limits).
 *
 * plan.c asks (dataproduct_nondeterministic) for the first expression of a
 * query that does not qualify, and refreshes such outputs in full with the
 * reason given here.
 *
 * IDENTIFICATION
 *	  src/determinism.c
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
#include "parser/parse_relation.h"
#include "parser/parsetree.h"
#include "parser/parser.h"
#include "rewrite/rewriteHandler.h"
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

/* The walk's state: the first reason found, if any. */
typedef struct Determinism
{
	char	   *reason;
} Determinism;

static void
refuse(Determinism *ctx, const char *reason)
{
	if (ctx->reason == NULL)
		ctx->reason = pstrdup(reason);
}


/* How a stable built-in may be used. */
typedef enum StableRule
{
	STABLE_NO,					/* reads more than its arguments */
	STABLE_YES,					/* only its arguments and pinned settings */
	STABLE_TEXT_ARGS,			/* ... if its arguments' text forms qualify */
	STABLE_JSON_ARGS,			/* ... if their JSON forms qualify */
	STABLE_DATETIME_FORMAT,		/* ... if its format is a constant without TM */
	STABLE_NUMBER_FORMAT		/* ... if its format is a constant without D,
								 * G or L */
} StableRule;

static StableRule
stable_rule(Oid funcid)
{
	switch (funcid)
	{
			/* date and time conversions, comparisons and arithmetic */
		case F_DATE_TIMESTAMPTZ:
		case F_DATE_CMP_TIMESTAMPTZ:
		case F_DATE_EQ_TIMESTAMPTZ:
		case F_DATE_GE_TIMESTAMPTZ:
		case F_DATE_GT_TIMESTAMPTZ:
		case F_DATE_LE_TIMESTAMPTZ:
		case F_DATE_LT_TIMESTAMPTZ:
		case F_DATE_NE_TIMESTAMPTZ:
		case F_DATE_IN:
		case F_DATE_OUT:
		case F_DATE_PART_TEXT_TIMESTAMPTZ:
		case F_DATE_TRUNC_TEXT_TIMESTAMPTZ:
		case F_DATE_TRUNC_TEXT_TIMESTAMPTZ_TEXT:
		case F_EXTRACT_TEXT_TIMESTAMPTZ:
		case F_GENERATE_SERIES_TIMESTAMPTZ_TIMESTAMPTZ_INTERVAL:
		case F_IN_RANGE_TIMESTAMPTZ_TIMESTAMPTZ_INTERVAL_BOOL_BOOL:
		case F_INTERVAL_IN:
		case F_INTERVAL_OUT:
		case F_INTERVAL_PL_TIMESTAMPTZ:
		case F_MAKE_TIMESTAMPTZ_INT4_INT4_INT4_INT4_INT4_FLOAT8:
		case F_MAKE_TIMESTAMPTZ_INT4_INT4_INT4_INT4_INT4_FLOAT8_TEXT:
		case F_OVERLAPS_TIMESTAMPTZ_INTERVAL_TIMESTAMPTZ_INTERVAL:
		case F_OVERLAPS_TIMESTAMPTZ_TIMESTAMPTZ_TIMESTAMPTZ_INTERVAL:
		case F_OVERLAPS_TIMESTAMPTZ_INTERVAL_TIMESTAMPTZ_TIMESTAMPTZ:
		case F_TIME_TIMESTAMPTZ:
		case F_TIME_IN:
		case F_TIMESTAMP_TIMESTAMPTZ:
		case F_TIMESTAMP_CMP_TIMESTAMPTZ:
		case F_TIMESTAMP_EQ_TIMESTAMPTZ:
		case F_TIMESTAMP_GE_TIMESTAMPTZ:
		case F_TIMESTAMP_GT_TIMESTAMPTZ:
		case F_TIMESTAMP_LE_TIMESTAMPTZ:
		case F_TIMESTAMP_LT_TIMESTAMPTZ:
		case F_TIMESTAMP_NE_TIMESTAMPTZ:
		case F_TIMESTAMP_IN:
		case F_TIMESTAMP_OUT:
		case F_TIMESTAMPTZ_DATE_TIME:
		case F_TIMESTAMPTZ_TIMESTAMP:
		case F_TIMESTAMPTZ_DATE:
		case F_TIMESTAMPTZ_CMP_DATE:
		case F_TIMESTAMPTZ_CMP_TIMESTAMP:
		case F_TIMESTAMPTZ_EQ_DATE:
		case F_TIMESTAMPTZ_EQ_TIMESTAMP:
		case F_TIMESTAMPTZ_GE_DATE:
		case F_TIMESTAMPTZ_GE_TIMESTAMP:
		case F_TIMESTAMPTZ_GT_DATE:
		case F_TIMESTAMPTZ_GT_TIMESTAMP:
		case F_TIMESTAMPTZ_IN:
		case F_TIMESTAMPTZ_LE_DATE:
		case F_TIMESTAMPTZ_LE_TIMESTAMP:
		case F_TIMESTAMPTZ_LT_DATE:
		case F_TIMESTAMPTZ_LT_TIMESTAMP:
		case F_TIMESTAMPTZ_MI_INTERVAL:
		case F_TIMESTAMPTZ_NE_DATE:
		case F_TIMESTAMPTZ_NE_TIMESTAMP:
		case F_TIMESTAMPTZ_OUT:
		case F_TIMESTAMPTZ_PL_INTERVAL:
			/* jsonpath with time zones: the pinned TimeZone */
		case F_JSONB_PATH_EXISTS_TZ:
		case F_JSONB_PATH_MATCH_TZ:
		case F_JSONB_PATH_QUERY_ARRAY_TZ:
		case F_JSONB_PATH_QUERY_FIRST_TZ:
		case F_JSONB_PATH_QUERY_TZ:
			/* encoding conversions, found under the pinned search_path */
		case F_CONVERT:
		case F_CONVERT_FROM:
		case F_CONVERT_TO:
		case F_LENGTH_BYTEA_NAME:
			/* enum labels: fixed unless the type is altered */
		case F_ENUM_IN:
		case F_ENUM_OUT:
		case F_ANYENUM_OUT:
		case F_FORMAT_TEXT:
			return STABLE_YES;
		case F_CONCAT:
		case F_CONCAT_WS:
		case F_FORMAT_TEXT_ANY:
		case F_TEXTANYCAT:
		case F_ANYTEXTCAT:
		case F_ARRAY_TO_STRING_ANYARRAY_TEXT:
		case F_ARRAY_TO_STRING_ANYARRAY_TEXT_TEXT:
		case F_QUOTE_LITERAL_ANYELEMENT:
		case F_QUOTE_NULLABLE_ANYELEMENT:
			return STABLE_TEXT_ARGS;
		case F_TO_JSON:
		case F_TO_JSONB:
		case F_ARRAY_TO_JSON_ANYARRAY:
		case F_ARRAY_TO_JSON_ANYARRAY_BOOL:
		case F_ROW_TO_JSON_RECORD:
		case F_ROW_TO_JSON_RECORD_BOOL:
		case F_JSON_BUILD_ARRAY_ANY:
		case F_JSON_BUILD_ARRAY_:
		case F_JSON_BUILD_OBJECT_ANY:
		case F_JSON_BUILD_OBJECT_:
		case F_JSONB_BUILD_ARRAY_ANY:
		case F_JSONB_BUILD_ARRAY_:
		case F_JSONB_BUILD_OBJECT_ANY:
		case F_JSONB_BUILD_OBJECT_:
		case F_JSON_AGG:
		case F_JSONB_AGG:
		case F_JSON_OBJECT_AGG:
			return STABLE_JSON_ARGS;
		case F_TO_CHAR_TIMESTAMP_TEXT:
		case F_TO_CHAR_TIMESTAMPTZ_TEXT:
		case F_TO_CHAR_INTERVAL_TEXT:
		case F_TO_DATE:
		case F_TO_TIMESTAMP_TEXT_TEXT:
			return STABLE_DATETIME_FORMAT;
		case F_TO_CHAR_NUMERIC_TEXT:
		case F_TO_CHAR_INT4_TEXT:
		case F_TO_CHAR_INT8_TEXT:
		case F_TO_CHAR_FLOAT4_TEXT:
		case F_TO_CHAR_FLOAT8_TEXT:
		case F_TO_NUMBER:
			return STABLE_NUMBER_FORMAT;
		default:
			return STABLE_NO;
	}
}

/*
 * dataproduct_type_text_is_deterministic
 *		Whether the text form of every value of type depends only on the
 *		value and the pinned settings: output functions that are immutable
 *		or listed in stable_rule(), through domains, arrays, ranges and
 *		composites.
 */
bool
dataproduct_type_text_is_deterministic(Oid type, int flags)
{
	Oid			elem;
	Oid			output;
	bool		isvarlena;
	char		typtype;

	check_stack_depth();
	type = getBaseType(type);
	if ((flags & TEXT_IDENTITY) &&
		(type == FLOAT4OID || type == FLOAT8OID || type == BYTEAOID))
		return false;
	if ((flags & TEXT_XML) && type == BYTEAOID)
		return false;
	elem = get_element_type(type);
	if (OidIsValid(elem))
		return dataproduct_type_text_is_deterministic(elem, flags);
	typtype = get_typtype(type);
	if (typtype == TYPTYPE_ENUM)
		return true;
	if (typtype == TYPTYPE_RANGE)
		return dataproduct_type_text_is_deterministic(get_range_subtype(type), flags);
	if (typtype == TYPTYPE_MULTIRANGE)
		return dataproduct_type_text_is_deterministic(get_range_subtype(get_multirange_range(type)),
										  flags);
	if (typtype == TYPTYPE_COMPOSITE)
	{
		TupleDesc	desc;
		bool		ok = true;
		int			i;

		if (type == RECORDOID)
			return false;		/* anonymous: not known here */
		desc = lookup_rowtype_tupdesc(type, -1);
		for (i = 0; i < desc->natts && ok; i++)
			if (!TupleDescAttr(desc, i)->attisdropped)
				ok = dataproduct_type_text_is_deterministic(TupleDescAttr(desc, i)->atttypid,
												flags);
		ReleaseTupleDesc(desc);
		return ok;
	}
	if (typtype == TYPTYPE_PSEUDO && type != UNKNOWNOID)
		return false;
	if ((flags & TEXT_JSON) && type >= FirstNormalObjectId)
	{
		/* to_json uses a type's cast to json, if it has one */
		Oid			targets[2] = {JSONOID, JSONBOID};
		int			i;

		for (i = 0; i < 2; i++)
		{
			HeapTuple	tuple = SearchSysCache2(CASTSOURCETARGET,
												ObjectIdGetDatum(type),
												ObjectIdGetDatum(targets[i]));

			if (HeapTupleIsValid(tuple))
			{
				Oid			castfunc = ((Form_pg_cast) GETSTRUCT(tuple))->castfunc;

				ReleaseSysCache(tuple);
				if (OidIsValid(castfunc) &&
					func_volatile(castfunc) != PROVOLATILE_IMMUTABLE)
					return false;
			}
		}
	}
	getTypeOutputInfo(type, &output, &isvarlena);
	return func_volatile(output) == PROVOLATILE_IMMUTABLE ||
		stable_rule(output) == STABLE_YES;
}

/* The same for a value: an anonymous row is judged by its fields. */
static bool
value_text_is_deterministic(Node *value, int flags)
{
	if (IsA(value, RowExpr))
	{
		ListCell   *lc;

		foreach(lc, ((RowExpr *) value)->args)
			if (!value_text_is_deterministic(lfirst(lc), flags))
				return false;
		return true;
	}
	return dataproduct_type_text_is_deterministic(exprType(value), flags);
}

/*
 * type_input_is_deterministic
 *		Whether reading a value of type from text depends only on the text
 *		and the pinned settings.
 */
static bool
type_input_is_deterministic(Oid type)
{
	Oid			elem;
	Oid			input;
	Oid			ioparam;
	char		typtype;

	check_stack_depth();
	type = getBaseType(type);
	elem = get_element_type(type);
	if (OidIsValid(elem))
		return type_input_is_deterministic(elem);
	typtype = get_typtype(type);
	if (typtype == TYPTYPE_ENUM)
		return true;
	if (typtype == TYPTYPE_RANGE)
		return type_input_is_deterministic(get_range_subtype(type));
	if (typtype == TYPTYPE_MULTIRANGE)
		return type_input_is_deterministic(get_range_subtype(get_multirange_range(type)));
	if (typtype == TYPTYPE_COMPOSITE)
	{
		TupleDesc	desc;
		bool		ok = true;
		int			i;

		if (type == RECORDOID)
			return false;
		desc = lookup_rowtype_tupdesc(type, -1);
		for (i = 0; i < desc->natts && ok; i++)
			if (!TupleDescAttr(desc, i)->attisdropped)
				ok = type_input_is_deterministic(TupleDescAttr(desc, i)->atttypid);
		ReleaseTupleDesc(desc);
		return ok;
	}
	getTypeInputInfo(type, &input, &ioparam);
	return func_volatile(input) == PROVOLATILE_IMMUTABLE ||
		stable_rule(input) == STABLE_YES;
}

/*
 * format_uses_locale
 *		Whether a to_char/to_date/to_timestamp/to_number format reads the
 *		locale: the TM prefix (lc_time) in date and time formats; D, G and L
 *		(lc_numeric, lc_monetary) in number formats.  Quoted text does not
 *		count; anything else that might be one does.
 */
static bool
format_uses_locale(const char *format, bool number)
{
	const char *p;

	for (p = format; *p; p++)
	{
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
		{
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1] != '\0')
					p++;
			if (*p == '\0')
				break;
		}
		else if (number)
		{
			if ((*p == 'P' || *p == 'p') && (p[1] == 'L' || p[1] == 'l'))
				p++;			/* PL, the plus sign */
			else if ((*p == 'S' || *p == 's') && (p[1] == 'G' || p[1] == 'g'))
				p++;			/* SG, the sign */
			else if (strchr("DdGgLl", *p) != NULL)
				return true;
		}
		else if ((*p == 'T' || *p == 't') && (p[1] == 'M' || p[1] == 'm'))
			return true;
	}
	return false;
}

/*
 * function_description
 *		A function as a reason names it: name(), or, when the name is
 *		overloaded, name(argument types).
 */
static char *
function_description(Oid funcid)
{
	Oid		   *argtypes;
	char	  **argnames;
	char	   *argmodes;
	int			nargs;
	int			i;
	HeapTuple	tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
	StringInfoData buf;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for function %u", funcid);
	nargs = get_func_arg_info(tuple, &argtypes, &argnames, &argmodes);
	initStringInfo(&buf);
	appendStringInfo(&buf, "%s(", NameStr(((Form_pg_proc) GETSTRUCT(tuple))->proname));
	{
		CatCList   *same = SearchSysCacheList1(PROCNAMEARGSNSP,
											   CStringGetDatum(NameStr(((Form_pg_proc) GETSTRUCT(tuple))->proname)));
		int			n = same->n_members;

		ReleaseSysCacheList(same);
		if (n < 2)
			nargs = 0;
	}
	for (i = 0; i < nargs; i++)
	{
		if (argmodes != NULL && argmodes[i] != PROARGMODE_IN &&
			argmodes[i] != PROARGMODE_INOUT && argmodes[i] != PROARGMODE_VARIADIC)
			continue;
		appendStringInfo(&buf, "%s%s", buf.data[buf.len - 1] == '(' ? "" : ", ",
						 format_type_be(argtypes[i]));
	}
	appendStringInfoChar(&buf, ')');
	ReleaseSysCache(tuple);
	return buf.data;
}

/*
 * check_call
 *		Refuse a call of funcid on args (expressions), through operator opno
 *		if valid, unless its result depends only on them and the pinned
 *		settings.  Returns true if it refused.
 */
static bool
check_call(Determinism *ctx, Oid funcid, List *args, Oid opno)
{
	char		volatility = func_volatile(funcid);
	ListCell   *lc;
	char	   *call;

	if (volatility == PROVOLATILE_IMMUTABLE)
		return false;
	/* the guard in the view of an output read before its first refresh */
	if (strcmp(get_func_name(funcid), "assert_populated") == 0 &&
		(get_func_namespace(funcid) == get_namespace_oid("dataproduct_internal", false) ||
		 get_func_namespace(funcid) == get_namespace_oid("dataproduct", false)))
		return false;
	call = OidIsValid(opno) ?
		psprintf("uses operator %s", format_operator(opno)) :
		psprintf("calls %s", function_description(funcid));
	if (volatility == PROVOLATILE_STABLE)
	{
		StableRule	rule = stable_rule(funcid);
		Node	   *format;

		switch (rule)
		{
			case STABLE_NO:
				break;
			case STABLE_YES:
				return false;
			case STABLE_TEXT_ARGS:
			case STABLE_JSON_ARGS:
				foreach(lc, args)
				{
					if (value_text_is_deterministic(lfirst(lc),
													rule == STABLE_JSON_ARGS ? TEXT_JSON : 0))
						continue;
					refuse(ctx, psprintf("%s on a value of type %s, whose %s form can change while the sources do not",
										  call,
										  format_type_be(exprType(lfirst(lc))),
										  rule == STABLE_JSON_ARGS ? "JSON" : "text"));
					return true;
				}
				return false;
			case STABLE_DATETIME_FORMAT:
			case STABLE_NUMBER_FORMAT:
				format = list_length(args) == 2 ? strip_implicit_coercions(lsecond(args)) : NULL;
				if (format == NULL || !IsA(format, Const) ||
					exprType(format) != TEXTOID)
				{
					refuse(ctx, psprintf("%s with a format that is not a constant",
										  call));
					return true;
				}
				if (!((Const *) format)->constisnull &&
					format_uses_locale(TextDatumGetCString(((Const *) format)->constvalue),
									   rule == STABLE_NUMBER_FORMAT))
				{
					refuse(ctx, psprintf(rule == STABLE_NUMBER_FORMAT ?
										  "%s with a format that depends on lc_numeric or lc_monetary (D, G or L)" :
										  "%s with a format that depends on lc_time (TM)",
										  call));
					return true;
				}
				return false;
		}
	}
	refuse(ctx, psprintf("%s, whose result can change while the sources do not",
						  call));
	return true;
}

/* The SQL spelling of a value function. */
static const char *
value_function_name(SQLValueFunctionOp op)
{
	switch (op)
	{
		case SVFOP_CURRENT_DATE:
			return "CURRENT_DATE";
		case SVFOP_CURRENT_TIME:
		case SVFOP_CURRENT_TIME_N:
			return "CURRENT_TIME";
		case SVFOP_CURRENT_TIMESTAMP:
		case SVFOP_CURRENT_TIMESTAMP_N:
			return "CURRENT_TIMESTAMP";
		case SVFOP_LOCALTIME:
		case SVFOP_LOCALTIME_N:
			return "LOCALTIME";
		case SVFOP_LOCALTIMESTAMP:
		case SVFOP_LOCALTIMESTAMP_N:
			return "LOCALTIMESTAMP";
		case SVFOP_CURRENT_ROLE:
			return "CURRENT_ROLE";
		case SVFOP_CURRENT_USER:
			return "CURRENT_USER";
		case SVFOP_USER:
			return "USER";
		case SVFOP_SESSION_USER:
			return "SESSION_USER";
		case SVFOP_CURRENT_CATALOG:
			return "CURRENT_CATALOG";
		case SVFOP_CURRENT_SCHEMA:
			return "CURRENT_SCHEMA";
	}
	return "a value function";
}

/* The expressions of an aggregate's arguments. */
static List *
aggregate_args(Aggref *aggref)
{
	List	   *args = NIL;
	ListCell   *lc;

	foreach(lc, aggref->args)
		args = lappend(args, ((TargetEntry *) lfirst(lc))->expr);
	return args;
}

/*
 * check_expression_walker
 *		Refuse (and stop at) the first expression whose value could change
 *		while the sources do not, wherever the function it calls hides.
 */
static bool
check_expression_walker(Node *node, Determinism *ctx)
{
	if (node == NULL)
		return false;
	switch (nodeTag(node))
	{
		case T_FuncExpr:
			if (check_call(ctx, ((FuncExpr *) node)->funcid,
						   ((FuncExpr *) node)->args, InvalidOid))
				return true;
			break;
		case T_Aggref:
			if (check_call(ctx, ((Aggref *) node)->aggfnoid,
						   aggregate_args((Aggref *) node), InvalidOid))
				return true;
			break;
		case T_WindowFunc:
			if (check_call(ctx, ((WindowFunc *) node)->winfnoid,
						   ((WindowFunc *) node)->args, InvalidOid))
				return true;
			break;
		case T_OpExpr:
		case T_DistinctExpr:
		case T_NullIfExpr:
			set_opfuncid((OpExpr *) node);
			if (check_call(ctx, ((OpExpr *) node)->opfuncid,
						   ((OpExpr *) node)->args, ((OpExpr *) node)->opno))
				return true;
			break;
		case T_ScalarArrayOpExpr:
			set_sa_opfuncid((ScalarArrayOpExpr *) node);
			if (check_call(ctx, ((ScalarArrayOpExpr *) node)->opfuncid,
						   ((ScalarArrayOpExpr *) node)->args,
						   ((ScalarArrayOpExpr *) node)->opno))
				return true;
			break;
		case T_RowCompareExpr:
			{
				ListCell   *lc;

				foreach(lc, ((RowCompareExpr *) node)->opnos)
					if (check_call(ctx, get_opcode(lfirst_oid(lc)), NIL,
								   lfirst_oid(lc)))
						return true;
				break;
			}
		case T_MinMaxExpr:
			{
				/* GREATEST and LEAST compare with the type's btree support */
				TypeCacheEntry *tce = lookup_type_cache(((MinMaxExpr *) node)->minmaxtype,
														TYPECACHE_CMP_PROC);

				if (OidIsValid(tce->cmp_proc) && check_call(ctx, tce->cmp_proc, NIL, InvalidOid))
					return true;
				break;
			}
		case T_CoerceViaIO:
			{
				CoerceViaIO *io = (CoerceViaIO *) node;

				if (!value_text_is_deterministic((Node *) io->arg, 0) ||
					!type_input_is_deterministic(io->resulttype))
				{
					refuse(ctx, psprintf("casts %s to %s, whose result can change while the sources do not",
										  format_type_be(exprType((Node *) io->arg)),
										  format_type_be(io->resulttype)));
					return true;
				}
				break;
			}
		case T_XmlExpr:
			{
				XmlExpr    *xml = (XmlExpr *) node;
				List	   *values = list_concat_copy(xml->named_args, xml->args);
				ListCell   *lc;

				if (xml->op != IS_XMLELEMENT && xml->op != IS_XMLFOREST)
					break;
				/* values are mapped to XML by their types */
				foreach(lc, values)
				{
					if (value_text_is_deterministic(lfirst(lc), TEXT_XML))
						continue;
					refuse(ctx, psprintf("uses %s on a value of type %s, whose XML form can change while the sources do not",
										  xml->op == IS_XMLELEMENT ? "XMLELEMENT" : "XMLFOREST",
										  format_type_be(exprType(lfirst(lc)))));
					return true;
				}
				break;
			}
		case T_SQLValueFunction:
			refuse(ctx, psprintf("uses %s, whose value can change while the sources do not",
								  value_function_name(((SQLValueFunction *) node)->op)));
			return true;
		case T_NextValueExpr:
			refuse(ctx, "draws from a sequence");
			return true;
		case T_Var:
			if (((Var *) node)->varattno < 0)
			{
				refuse(ctx, psprintf("reads system column %s",
									  NameStr(SystemAttributeDefinition(((Var *) node)->varattno)->attname)));
				return true;
			}
			break;
		case T_Query:
			return query_tree_walker((Query *) node, check_expression_walker,
									 ctx, 0);
		default:
			break;
	}
	return expression_tree_walker(node, check_expression_walker, ctx);
}

/*
 * dataproduct_nondeterministic
 *		NULL if every expression of query (subqueries included) depends only
 *		on its inputs and the pinned settings; else why not, completing
 *		"its query ...".
 */
char *
dataproduct_nondeterministic(Query *query)
{
	Determinism d = {NULL};

	(void) query_tree_walker(query, check_expression_walker, &d, 0);
	return d.reason;
}
