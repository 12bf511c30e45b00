/*-------------------------------------------------------------------------
 *
 * checks.c
 *	  What each kind of quality check means: its parameters and the query
 *	  that runs it.
 *
 * A check is a kind (not_null, unique, accepted_values, range, row_count,
 * relationship, freshness, custom) with parameters kept as jsonb.  Each kind
 * becomes one query over the output's view returning a single row: the
 * observed value, whether the check passed, and a small sample of offending
 * rows.  The query is built from the catalog each time it runs (so it always
 * names the output by its current name), with every name quoted, every
 * value a literal of the column's own type, and comparisons done with the
 * type's own operators, whatever the search_path.  quality.c runs them.
 *
 * IDENTIFICATION
 *	  src/checks.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "catalog.h"
#include "checks.h"
#include "exec.h"

/* most offending rows kept as a sample with each result */
#define SAMPLE_ROWS 5

/* ----------------------------------------------------------------
 * Parameters
 * ----------------------------------------------------------------
 */

/*
 * A text parameter of a check, or NULL.  (Read with SPI: the jsonb
 * accessors can return NULL, which DirectFunctionCall does not allow.)
 */
char *
dataproduct_check_param(DpCheck *check, const char *key)
{
	Oid			argtypes[2] = {JSONBOID, TEXTOID};
	Datum		values[2] = {JsonbPGetDatum(check->params), CStringGetTextDatum(key)};
	bool		isnull;
	Datum		d;

	dataproduct_spi_exec("SELECT $1 OPERATOR(pg_catalog.->>) $2", 2, argtypes, values, NULL,
						 SPI_OK_SELECT);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? NULL : TextDatumGetCString(d);
}

/* A text[] parameter as a list of C strings. */
List *
dataproduct_check_param_list(DpCheck *check, const char *key)
{
	Oid			argtypes[2] = {JSONBOID, TEXTOID};
	Datum		values[2] = {JsonbPGetDatum(check->params), CStringGetTextDatum(key)};
	List	   *result = NIL;
	uint64		i;

	dataproduct_spi_exec("SELECT pg_catalog.jsonb_array_elements_text($1 OPERATOR(pg_catalog.->) $2)",
						 2, argtypes, values, NULL, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
		result = lappend(result, SPI_getvalue(SPI_tuptable->vals[i],
											  SPI_tuptable->tupdesc, 1));
	return result;
}

/* ----------------------------------------------------------------
 * The query of a check
 * ----------------------------------------------------------------
 */

/* Error out unless column is a column of output; returns its type. */
Oid
dataproduct_check_column_type(DpOutput *output, const char *column, const char *kind)
{
	AttrNumber	attnum;

	if (column == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a %s check needs a column", kind),
				 errhint("Pass it as \"column\" => 'name'.")));
	attnum = dataproduct_output_column(output, column);
	return get_atttype(output->view, attnum);
}

/*
 * The name of a type to cast a check's literal to, schema-qualified and with
 * no length: "pg_catalog.bpchar", never "character", which means
 * character(1) and would cut 'US' to 'U'.
 */
char *
dataproduct_cast_type_name(Oid type)
{
	return format_type_extended(type, -1,
								FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY);
}

/*
 * The operator of a type for a comparison (TYPECACHE_LT_OPR, _GT_, _EQ_), as
 * OPERATOR(schema.name): the type's own, whatever the search_path.
 */
char *
dataproduct_type_operator(Oid type, int which, const char *what, const char *column)
{
	TypeCacheEntry *tc = lookup_type_cache(type, which);
	Oid			opr = which == TYPECACHE_LT_OPR ? tc->lt_opr :
		which == TYPECACHE_GT_OPR ? tc->gt_opr : tc->eq_opr;

	if (!OidIsValid(opr))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("type %s of column \"%s\" has no %s", format_type_be(type),
						column, what),
				 errhint("Use a custom check for this column.")));
	return dataproduct_operator_name(opr);
}

/*
 * A query over the offending rows q, made into the one row a check returns:
 * how many there are, whether there are none, and the first few as jsonb.
 */
static char *
offending_rows(const char *q)
{
	return psprintf("WITH __dp_bad AS MATERIALIZED (%s)"
					" SELECT pg_catalog.count(*)::pg_catalog.text, pg_catalog.count(*) OPERATOR(pg_catalog.=) 0,"
					"        (SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(s))"
					"           FROM (SELECT * FROM __dp_bad LIMIT %d) s)"
					"   FROM __dp_bad",
					q, SAMPLE_ROWS);
}

/* not_null: rows where the column is NULL */
static char *
not_null_query(DpOutput *output, DpCheck *check, const char *rows)
{
	char	   *view = dataproduct_qualified_name(output->view);
	char	   *column = dataproduct_check_param(check, "column");

	(void) dataproduct_check_column_type(output, column, check->kind);
	return offending_rows(psprintf("SELECT * FROM %s WHERE %s IS NULL",
								   rows ? rows : view, quote_identifier(column)));
}

/* unique: duplicate values of the columns (NULLs are distinct) */
static char *
unique_query(DpOutput *output, DpCheck *check, const char *rows)
{
	char	   *view = dataproduct_qualified_name(output->view);
	char	   *column = dataproduct_check_param(check, "column");
	List	   *columns = dataproduct_check_param_list(check, "columns");
	StringInfoData cols;
	StringInfoData notnull;
	ListCell   *lc;

	(void) rows;				/* looks at the whole view */
	if (columns == NIL && column != NULL)
		columns = list_make1(column);
	if (columns == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a unique check needs columns"),
				 errhint("Pass them as columns => '{a,b}'.")));
	initStringInfo(&cols);
	initStringInfo(&notnull);
	foreach(lc, columns)
	{
		char	   *c = lfirst(lc);

		(void) dataproduct_check_column_type(output, c, check->kind);
		appendStringInfo(&cols, "%s%s", cols.len > 0 ? ", " : "", quote_identifier(c));
		appendStringInfo(&notnull, " AND %s IS NOT NULL", quote_identifier(c));
	}
	/* NULLs are distinct, as in a UNIQUE constraint */
	return offending_rows(psprintf("SELECT %s, pg_catalog.count(*) AS occurrences"
								   "  FROM %s WHERE true%s GROUP BY %s"
								   " HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1",
								   cols.data, view, notnull.data, cols.data));
}

/* accepted_values: rows whose value is not one of the accepted ones */
static char *
accepted_values_query(DpOutput *output, DpCheck *check, const char *rows)
{
	char	   *view = dataproduct_qualified_name(output->view);
	char	   *column = dataproduct_check_param(check, "column");
	char	   *values = dataproduct_check_param(check, "values_literal");
	Oid			type = dataproduct_check_column_type(output, column, check->kind);

	if (values == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an accepted_values check needs values"),
				 errhint("Pass them as \"values\" => '{a,b}'.")));
	return offending_rows(psprintf("SELECT * FROM %s WHERE %s IS NOT NULL"
								   "   AND NOT %s %s ANY (%s::%s[])",
								   rows ? rows : view, quote_identifier(column),
								   quote_identifier(column),
								   dataproduct_type_operator(type, TYPECACHE_EQ_OPR, "equality", column),
								   quote_literal_cstr(values),
								   dataproduct_cast_type_name(type)));
}

/* range: rows outside [min, max], by the type's own ordering */
static char *
range_query(DpOutput *output, DpCheck *check, const char *rows)
{
	char	   *view = dataproduct_qualified_name(output->view);
	char	   *column = dataproduct_check_param(check, "column");
	Oid			type = dataproduct_check_column_type(output, column, check->kind);
	char	   *min = dataproduct_check_param(check, "min");
	char	   *max = dataproduct_check_param(check, "max");
	char	   *typname = dataproduct_cast_type_name(type);
	StringInfoData cond;

	if (min == NULL && max == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a range check needs min, max or both")));
	initStringInfo(&cond);
	if (min != NULL)
		appendStringInfo(&cond, "%s %s %s::%s", quote_identifier(column),
						 dataproduct_type_operator(type, TYPECACHE_LT_OPR, "ordering", column),
						 quote_literal_cstr(min), typname);
	if (max != NULL)
		appendStringInfo(&cond, "%s%s %s %s::%s", cond.len > 0 ? " OR " : "",
						 quote_identifier(column),
						 dataproduct_type_operator(type, TYPECACHE_GT_OPR, "ordering", column),
						 quote_literal_cstr(max), typname);
	return offending_rows(psprintf("SELECT * FROM %s WHERE %s",
								   rows ? rows : view, cond.data));
}

/* row_count: the number of rows, within [min, max] */
static char *
row_count_query(DpOutput *output, DpCheck *check, const char *rows)
{
	char	   *view = dataproduct_qualified_name(output->view);
	char	   *min = dataproduct_check_param(check, "min");
	char	   *max = dataproduct_check_param(check, "max");

	(void) rows;				/* counts the whole view */
	if (min == NULL && max == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a row_count check needs min, max or both")));
	return psprintf("SELECT n::pg_catalog.text, n OPERATOR(pg_catalog.>=) %s::pg_catalog.int8"
					"   AND n OPERATOR(pg_catalog.<=) %s::pg_catalog.int8, NULL::pg_catalog.jsonb"
					"  FROM (SELECT pg_catalog.count(*) AS n FROM %s) c",
					quote_literal_cstr(min ? min : "0"),
					quote_literal_cstr(max ? max : "9223372036854775807"),
					view);
}

/* relationship: rows whose value is missing from to_relation.to_column */
static char *
relationship_query(DpOutput *output, DpCheck *check, const char *rows)
{
	char	   *view = dataproduct_qualified_name(output->view);
	char	   *column = dataproduct_check_param(check, "column");
	char	   *to_relation = dataproduct_check_param(check, "to_relation");
	char	   *to_oid = dataproduct_check_param(check, "to_relation_oid");
	char	   *to_column = dataproduct_check_param(check, "to_column");
	Oid			type = dataproduct_check_column_type(output, column, check->kind);
	Oid			to_relid;
	AttrNumber	to_attnum;
	char	   *eq = "=";

	(void) rows;				/* looks at the whole view */
	if (to_relation == NULL || to_column == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a relationship check needs to_relation and to_column")));
	/* the relation is kept by OID: a rename does not break the check */
	to_relid = to_oid ? atooid(to_oid) : InvalidOid;
	if (!OidIsValid(to_relid) || get_rel_name(to_relid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation %s of check \"%s\" no longer exists", to_relation,
						check->name),
				 errhint("Drop the check with dataproduct.drop_check() and declare it again.")));
	if (get_rel_persistence(to_relid) == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("a relationship check cannot refer to temporary relation \"%s\"",
						get_rel_name(to_relid))));
	to_relation = dataproduct_qualified_name(to_relid);
	to_attnum = get_attnum(to_relid, to_column);
	if (to_attnum != InvalidAttrNumber && get_atttype(to_relid, to_attnum) == type)
		eq = dataproduct_type_operator(type, TYPECACHE_EQ_OPR, "equality", column);
	if (to_attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation %s does not exist",
						to_column, to_relation)));
	if (pg_class_aclcheck(to_relid, output->owner, ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("owner \"%s\" of output %s may not read %s",
						GetUserNameFromId(output->owner, false),
						output->address, to_relation),
				 errhint("Checks run as the product owner: GRANT SELECT ON %s TO %s.",
						 to_relation,
						 quote_identifier(GetUserNameFromId(output->owner, false)))));
	return offending_rows(psprintf("SELECT * FROM %s v WHERE v.%s IS NOT NULL"
								   "   AND NOT EXISTS (SELECT 1 FROM %s t"
								   "                    WHERE t.%s %s v.%s)",
								   view, quote_identifier(column),
								   to_relation,
								   quote_identifier(to_column), eq,
								   quote_identifier(column)));
}

/* freshness: the output's staleness, within max_staleness */
static char *
freshness_query(DpOutput *output, DpCheck *check, const char *rows)
{
	char	   *max = dataproduct_check_param(check, "max_staleness");

	(void) rows;				/* measures the output, not its rows */
	if (max == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a freshness check needs max_staleness"),
				 errhint("Pass it as max_staleness => '5 minutes'.")));
	/* measured from the change stream; outputs refreshed in full, by age */
	return psprintf("SELECT s::pg_catalog.text, s OPERATOR(pg_catalog.<=) %s::pg_catalog.interval,"
					"       NULL::pg_catalog.jsonb"
					"  FROM (SELECT COALESCE(f.staleness,"
					"                 pg_catalog.now() OPERATOR(pg_catalog.-) f.last_refresh, '0') AS s"
					"          FROM dataproduct.freshness f"
					"         WHERE f.output OPERATOR(pg_catalog.=) %u::pg_catalog.regclass) f",
					quote_literal_cstr(max), output->view);
}

/* custom: the offending rows a query of the owner's returns */
static char *
custom_query(DpOutput *output, DpCheck *check, const char *rows)
{
	char	   *sql = dataproduct_check_param(check, "sql");
	List	   *parsed;

	(void) output;				/* the owner's query names what it reads */
	(void) rows;
	if (sql == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a custom check needs sql"),
				 errhint("Pass a query returning the offending rows as sql => 'SELECT ...'.")));
	/* syntax and names first, reported against the check's own text */
	if (SPI_prepare(sql, 0, NULL) == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	parsed = raw_parser(sql, RAW_PARSE_DEFAULT);
	if (list_length(parsed) != 1 ||
		!IsA(((RawStmt *) linitial(parsed))->stmt, SelectStmt))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("the sql of a custom check must be a single query"),
				 errhint("Write a SELECT that returns the offending rows; the check passes when it returns none.")));
	else
	{
		RawStmt    *raw = linitial(parsed);

		/* the statement alone (no trailing semicolon), on lines of its own */
		if (raw->stmt_len > 0)
			sql = pnstrdup(sql + raw->stmt_location, raw->stmt_len);
		else
			sql = pstrdup(sql + raw->stmt_location);
	}
	return offending_rows(psprintf("\n%s\n", sql));
}

typedef char *(*CheckQueryFn) (DpOutput *output, DpCheck *check,
							   const char *rows);

static const struct
{
	const char *kind;
	CheckQueryFn query;
}			check_kinds[] =
{
	{"not_null", not_null_query},
	{"unique", unique_query},
	{"accepted_values", accepted_values_query},
	{"range", range_query},
	{"row_count", row_count_query},
	{"relationship", relationship_query},
	{"freshness", freshness_query},
	{"custom", custom_query},
};

/*
 * dataproduct_check_query
 *		The query that runs a check on output: one row of (observed text,
 *		passed boolean, sample jsonb).  Validates the parameters on the way,
 *		so add_check() calls it before storing a check.  rows, if not NULL,
 *		is what the row-by-row kinds (not_null, accepted_values, range) look
 *		at instead of the whole view.  SPI connected.
 */
char *
dataproduct_check_query(DpOutput *output, DpCheck *check, const char *rows)
{
	size_t		i;

	for (i = 0; i < lengthof(check_kinds); i++)
		if (strcmp(check->kind, check_kinds[i].kind) == 0)
			return check_kinds[i].query(output, check, rows);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown check kind \"%s\"", check->kind),
			 errhint("Kinds are not_null, unique, accepted_values, range, row_count, relationship, freshness and custom.")));
	return NULL;				/* keep compiler quiet */
}
