/*-------------------------------------------------------------------------
 *
 * descriptor.c
 *	  Products as code: what an output's contract needs from its analysed
 *	  query, for dataproduct.export() and dataproduct.apply().
 *
 * A product leaves the database as a descriptor document (an ODCS v3 data
 * contract, or an ODPS data product) written by dataproduct.export(), and
 * comes back through dataproduct.apply(), which declares it with the
 * ordinary API (create_product, add_output, add_check, ...).  Both are
 * PL/pgSQL functions in the upgrade script: building and reading jsonb, and
 * calling the API functions with their arguments bound as parameters (no
 * SQL text is assembled from the document), is what PL/pgSQL does well,
 * and like describe() they run as the caller, with a pinned search_path.
 *
 * Three facts a document needs are not in the catalog views, because they
 * live in the output's analysed query (the query view) or in catalog
 * columns no view shows; this file provides them, to roles that may see the
 * output's product (dataproduct.visible_product, the catalog's one rule):
 *
 *	 query   the query deparsed from its analysed tree under the pinned
 *	         search_path, so every relation, function and operator is
 *	         schema-qualified: the document recreates the same output in
 *	         another database whatever the search_path of whoever applies
 *	         it (the text as the owner wrote it was resolved under the
 *	         owner's search_path at declaration);
 *	 key     the output's grain, the columns that identify a row (ODCS
 *	         primaryKey): the GROUP BY columns, or every DISTINCT column
 *	         (DISTINCT ON: its columns); an empty array for an aggregate
 *	         without GROUP BY (always one row); NULL when rows may repeat
 *	         (plain rows, a group key that is not an output column,
 *	         grouping sets, set operations); for a history output, its
 *	         table's key and valid_from;
 *	 settings  the TimeZone, DateStyle and IntervalStyle the output was
 *	         declared with and is always evaluated under, so that apply()
 *	         declares it under the same ones.
 *
 * The semantic version comparison apply() needs is product.c's
 * (dataproduct.compare_versions), the same rule alter_product enforces.
 *
 * IDENTIFICATION
 *	  src/descriptor.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/genam.h"
#include "access/relation.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "nodes/parsenodes.h"
#include "rewrite/rewriteHandler.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "catalog.h"
#include "exec.h"

PG_FUNCTION_INFO_V1(dataproduct_output_contract);

/*
 * sortgroupref_is_output
 *		Whether a sort/group reference names a target entry that is an
 *		output column (not resjunk).
 */
static bool
sortgroupref_is_output(List *targetList, Index ref)
{
	ListCell   *lc;

	foreach(lc, targetList)
	{
		TargetEntry *tle = lfirst(lc);

		if (tle->ressortgroupref == ref)
			return !tle->resjunk;
	}
	return false;
}

/*
 * output_key
 *		The grain of a query as its output column names (see the file
 *		header), or NIL with *has_key false when rows may repeat.  Allocates
 *		in the current memory context; does not error.
 */
static List *
output_key(Query *query, bool *has_key)
{
	List	   *clauses;
	List	   *key = NIL;
	ListCell   *lc;

	*has_key = false;
	if (query->setOperations != NULL || query->groupingSets != NIL)
		return NIL;
	if (query->distinctClause != NIL)
		clauses = query->distinctClause;
	else if (query->groupClause != NIL)
		clauses = query->groupClause;
	else if (query->hasAggs)
	{
		/* one row, always: the empty key */
		*has_key = true;
		return NIL;
	}
	else
		return NIL;

	foreach(lc, clauses)
	{
		SortGroupClause *sgc = lfirst(lc);

		if (!sortgroupref_is_output(query->targetList, sgc->tleSortGroupRef))
			return NIL;
	}
	/* in the order of the output's columns */
	foreach(lc, query->targetList)
	{
		TargetEntry *tle = lfirst(lc);
		ListCell   *lc2;

		if (tle->resjunk || tle->ressortgroupref == 0)
			continue;
		foreach(lc2, clauses)
			if (((SortGroupClause *) lfirst(lc2))->tleSortGroupRef == tle->ressortgroupref)
			{
				key = lappend(key, pstrdup(tle->resname));
				break;
			}
	}
	*has_key = true;
	return key;
}

/*
 * history_key
 *		The grain of a history output: its table's key, the columns of the
 *		store's unique index on the current versions (history.c), and
 *		valid_from.  Allocates in the current memory context.
 */
static List *
history_key(Oid store)
{
	Relation	rel = relation_open(store, AccessShareLock);
	List	   *key = NIL;
	ListCell   *lc;

	foreach(lc, RelationGetIndexList(rel))
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		int			i;

		if (index->rd_index->indisunique && !heap_attisnull(index->rd_indextuple,
															 Anum_pg_index_indpred, NULL))
			for (i = 0; i < index->rd_index->indnkeyatts; i++)
				key = lappend(key, pstrdup(get_attname(store,
													   index->rd_index->indkey.values[i],
													   false)));
		index_close(index, AccessShareLock);
		if (key != NIL)
			break;
	}
	relation_close(rel, AccessShareLock);
	if (key == NIL)
		elog(ERROR, "store of history output has no index on its current versions");
	return lappend(key, pstrdup("valid_from"));
}

/*
 * output_contract(output regclass, OUT query text, OUT key text[],
 *				   OUT timezone text, OUT datestyle text, OUT intervalstyle text)
 *
 * The output's analysed query, deparsed schema-qualified, its grain (see
 * the file header) and the settings it is evaluated under, for a role that may see the output's product;
 * for any other role the output does not exist, as in the catalog views.
 * Errors out for a relation that is not an output.
 */
Datum
dataproduct_output_contract(PG_FUNCTION_ARGS)
{
	Oid			view = PG_GETARG_OID(0);
	DpOutput   *output;
	TupleDesc	desc;
	Datum		result[5];
	bool		nulls[5] = {false, false, false, false, false};
	Oid			argtypes[1];
	Datum		values[1];
	bool		isnull;
	bool		visible;
	char	   *query;
	size_t		len;
	Relation	rel;
	List	   *key;
	bool		has_key;
	MemoryContext caller = CurrentMemoryContext;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);

	dataproduct_spi_connect();
	output = dataproduct_get_output(view, false);

	/* the catalog's rule, evaluated as the caller */
	argtypes[0] = INT8OID;
	values[0] = Int64GetDatum(output->product_id);
	dataproduct_spi_exec("SELECT EXISTS (SELECT 1 FROM dataproduct.visible_product v"
						 "                WHERE v.product_id = $1)", 1, argtypes, values,
						 NULL, SPI_OK_SELECT);
	visible = SPI_processed == 1 &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								   1, &isnull)) && !isnull;
	if (!visible)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("relation \"%s\" is not a data product output",
						dataproduct_qualified_name(view)),
				 errhint("Outputs are listed in dataproduct.outputs.")));

	/* deparsed under the pinned search_path: every name qualified */
	argtypes[0] = OIDOID;
	values[0] = ObjectIdGetDatum(output->query_view);
	dataproduct_spi_exec("SELECT pg_catalog.pg_get_viewdef($1, true)", 1,
						 argtypes, values, NULL, SPI_OK_SELECT);
	query = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (query == NULL)
		elog(ERROR, "query view of output \"%s\" has no definition",
			 output->address);
	/* pg_get_viewdef writes a leading space and a closing semicolon */
	while (*query == ' ' || *query == '\n')
		query++;
	len = strlen(query);
	while (len > 0 && (query[len - 1] == ';' || query[len - 1] == '\n' ||
					   query[len - 1] == ' '))
		query[--len] = '\0';

	rel = relation_open(output->query_view, AccessShareLock);
	if (output->history)
	{
		key = history_key(output->store);
		has_key = true;
	}
	else
		key = output_key(get_view_query(rel), &has_key);

	MemoryContextSwitchTo(caller);
	result[0] = CStringGetTextDatum(query);
	if (has_key)
	{
		Datum	   *elems = palloc(sizeof(Datum) * Max(list_length(key), 1));
		ListCell   *lc;

		foreach(lc, key)
			elems[foreach_current_index(lc)] = CStringGetTextDatum(lfirst(lc));
		result[1] = PointerGetDatum(construct_array(elems, list_length(key), TEXTOID,
													-1, false, TYPALIGN_INT));
	}
	else
		nulls[1] = true;
	result[2] = CStringGetTextDatum(output->timezone);
	result[3] = CStringGetTextDatum(output->datestyle);
	result[4] = CStringGetTextDatum(output->intervalstyle);
	relation_close(rel, AccessShareLock);
	dataproduct_spi_finish();

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, result, nulls)));
}
