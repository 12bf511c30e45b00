/*-------------------------------------------------------------------------
 *
 * refresh.c
 *	  Bringing an output's store up to date with its query.
 *
 * Every output keeps its rows in a store table (dataproduct_internal.
 * output_<id>_store) that the output view reads.  A full refresh evaluates
 * the output query (the internal view output_<id>_query) and changes the
 * store into that result with one generated statement:
 *
 *	 store rows and query rows are numbered within groups of equal rows
 *	 (one sort of both inputs); in a group holding o store rows and n query
 *	 rows, the store rows numbered above n are deleted and, when n > o, n - o
 *	 query rows are inserted.
 *
 * So the store is changed by a multiset difference, not rewritten: readers
 * of the output keep reading the previous rows without waiting while the
 * query runs (only the refresh's own ExclusiveLock on the store is taken,
 * which conflicts with writers and other refreshes, never with SELECT), and
 * the statement reports how many rows really changed.  Because it is one
 * statement, the result is the query evaluated at that statement's
 * snapshot, exactly.
 *
 * "Equal" must mean "indistinguishable", or a change such as 1.0 -> 1.00 in
 * a numeric column would be lost.  Columns of types whose equality is
 * identity (integers, dates, timestamps, booleans, uuids, enums) are
 * compared as they are; text in the "C" collation (byte equality); every
 * other type by its text form in the "C" collation, which keeps apart the
 * values that equality would merge (and works for types with no equality at
 * all, such as json or point).
 *
 * The query runs as the product owner inside a security-restricted
 * operation with search_path pinned (catalog.c); the catalog row is then
 * updated as the catalog owner.
 *
 * IDENTIFICATION
 *	  src/refresh.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "refresh.h"

typedef struct RefreshErrorContext
{
	const char *address;
	Oid			owner;
} RefreshErrorContext;

static void
refresh_error_callback(void *arg)
{
	RefreshErrorContext *ctx = arg;

	errcontext("running the query of output %s as role \"%s\"",
			   ctx->address, GetUserNameFromId(ctx->owner, true));
}

/*
 * qualified_name
 *		Schema-qualified, quoted name of a relation, palloc'd.
 */
static char *
qualified_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/*
 * diff_key
 *		The expression that groups a store column by identity; see the file
 *		header.  col is already quoted.
 */
static char *
diff_key(const char *col, Oid type)
{
	Oid			base = getBaseType(type);

	switch (base)
	{
		case BOOLOID:
		case CHAROID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
		case DATEOID:
		case TIMEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case UUIDOID:
			return pstrdup(col);
		case TEXTOID:
		case VARCHAROID:
			return psprintf("%s COLLATE pg_catalog.\"C\"", col);
		default:
			if (type_is_enum(base))
				return pstrdup(col);
			return psprintf("(%s)::pg_catalog.text COLLATE pg_catalog.\"C\"", col);
	}
}

/*
 * build_full_refresh_sql
 *		The statement that turns the store into the query result; it returns
 *		(rows deleted, rows inserted).
 */
static char *
build_full_refresh_sql(DpOutput *output)
{
	Relation	rel = relation_open(output->store, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	StringInfoData cols;
	StringInfoData keys;
	StringInfoData sql;
	char	   *store = qualified_name(output->store);
	char	   *query = qualified_name(output->query_view);
	int			i;

	initStringInfo(&cols);
	initStringInfo(&keys);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const char *col;

		if (att->attisdropped)
			continue;
		col = quote_identifier(NameStr(att->attname));
		appendStringInfo(&cols, "%s%s", cols.len > 0 ? ", " : "", col);
		appendStringInfo(&keys, "%s%s", keys.len > 0 ? ", " : "",
						 diff_key(col, att->atttypid));
	}
	relation_close(rel, AccessShareLock);

	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "WITH __dp_u AS ("
					 "  SELECT s.ctid AS __dp_tid, 1 AS __dp_old, 0 AS __dp_new, %s FROM %s s"
					 "  UNION ALL"
					 "  SELECT NULL::pg_catalog.tid, 0, 1, %s FROM %s q),"
					 " __dp_w AS ("
					 "  SELECT __dp_tid, %s,"
					 "         pg_catalog.row_number() OVER w AS __dp_rn,"
					 "         pg_catalog.sum(__dp_old) OVER w AS __dp_olds,"
					 "         pg_catalog.sum(__dp_new) OVER w AS __dp_news"
					 "    FROM __dp_u"
					 "  WINDOW w AS (PARTITION BY %s ORDER BY __dp_old DESC"
					 "               ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)),"
					 " __dp_chg AS MATERIALIZED ("
					 "  SELECT * FROM __dp_w"
					 "   WHERE (__dp_tid IS NOT NULL AND __dp_rn > __dp_news)"
					 "      OR (__dp_tid IS NULL AND __dp_rn > 2 * __dp_olds)),"
					 " __dp_del AS ("
					 "  DELETE FROM %s WHERE ctid = ANY (ARRAY("
					 "    SELECT __dp_tid FROM __dp_chg WHERE __dp_tid IS NOT NULL))"
					 "  RETURNING 1),"
					 " __dp_ins AS ("
					 "  INSERT INTO %s (%s) SELECT %s FROM __dp_chg WHERE __dp_tid IS NULL"
					 "  RETURNING 1)"
					 " SELECT (SELECT pg_catalog.count(*) FROM __dp_del),"
					 "        (SELECT pg_catalog.count(*) FROM __dp_ins)",
					 cols.data, store,
					 cols.data, query,
					 cols.data,
					 keys.data,
					 store,
					 store, cols.data, cols.data);
	return sql.data;
}

static int64
result_int8(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								  col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/*
 * dataproduct_refresh_output
 *		Make the output's store equal to its query, record the refresh in the
 *		catalog and return the number of rows inserted plus deleted.
 *
 * Takes ExclusiveLock on the store (held to commit), so concurrent refreshes
 * of one output queue up while readers go on.  SPI must be connected with
 * search_path pinned.  Errors out if the owner cannot run the query.
 */
int64
dataproduct_refresh_output(DpOutput *output)
{
	RefreshErrorContext ctx;
	ErrorContextCallback errcallback;
	DpSavedUser saved;
	TimestampTz started;
	char	   *sql;
	int64		deleted;
	int64		inserted;
	int64		row_count;
	double		elapsed_ms;
	Oid			argtypes[6] = {INT8OID, TIMESTAMPTZOID, FLOAT8OID, INT8OID,
	INT8OID, TEXTOID};
	Datum		values[6];

	LockRelationOid(output->store, ExclusiveLock);
	sql = build_full_refresh_sql(output);

	ctx.address = output->address;
	ctx.owner = output->owner;
	errcallback.callback = refresh_error_callback;
	errcallback.arg = &ctx;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	started = GetCurrentTimestamp();
	dataproduct_become_owner(output->owner, &saved);
	dataproduct_spi_exec(sql, 0, NULL, NULL, NULL, SPI_OK_SELECT);
	deleted = result_int8(1);
	inserted = result_int8(2);
	dataproduct_spi_exec(psprintf("SELECT pg_catalog.count(*) FROM %s",
								  qualified_name(output->store)),
						 0, NULL, NULL, NULL, SPI_OK_SELECT);
	row_count = result_int8(1);
	dataproduct_restore_user(&saved);
	elapsed_ms = (double) (GetCurrentTimestamp() - started) / 1000.0;

	error_context_stack = errcallback.previous;

	values[0] = Int64GetDatum(output->id);
	values[1] = TimestampTzGetDatum(started);
	values[2] = Float8GetDatum(elapsed_ms);
	values[3] = Int64GetDatum(deleted + inserted);
	values[4] = Int64GetDatum(row_count);
	values[5] = CStringGetTextDatum("ok");
	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("UPDATE dataproduct.output"
						 "   SET status = $6, last_refresh = $2, refresh_ms = $3,"
						 "       rows_changed = $4, row_count = $5"
						 " WHERE output_id = $1",
						 6, argtypes, values, NULL, SPI_OK_UPDATE);
	dataproduct_restore_user(&saved);

	return deleted + inserted;
}

/*
 * dataproduct_check_owner_can_read
 *		Error out unless owner may run the output's query, checked by
 *		starting it (permissions are checked at executor start) as that role
 *		without fetching a row.  Used when a product changes hands.
 */
void
dataproduct_check_owner_can_read(DpOutput *output, Oid owner)
{
	RefreshErrorContext ctx;
	ErrorContextCallback errcallback;
	DpSavedUser saved;

	ctx.address = output->address;
	ctx.owner = owner;
	errcallback.callback = refresh_error_callback;
	errcallback.arg = &ctx;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	dataproduct_become_owner(owner, &saved);
	dataproduct_spi_exec(psprintf("SELECT FROM %s LIMIT 0",
								  qualified_name(output->query_view)),
						 0, NULL, NULL, NULL, SPI_OK_SELECT);
	dataproduct_restore_user(&saved);

	error_context_stack = errcallback.previous;
}
