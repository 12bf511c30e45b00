/*-------------------------------------------------------------------------
 *
 * history.c
 *	  History outputs: every version of a source's rows, with its validity,
 *	  built from the captured changes.
 *
 * A stage of the data flow beside apply.c, for outputs declared with
 * add_output(..., history => true): after capture.c and batch.c, using
 * apply.c's ephemeral relations and delta.c's history delta; refresh.c
 * calls dataproduct_history_refresh instead of its own steps 4 and 5, and
 * declare.c builds the store with dataproduct_history_build.
 *
 * The query is a plain selection from one ordinary table with a key (its
 * primary key, or else a unique index on NOT NULL columns), every key
 * column in the select list (dataproduct_history_plan).  The store holds
 * the query's columns, then
 *
 *	 valid_from  timestamptz NOT NULL: when the version became the row's
 *	 valid_to    timestamptz: when it stopped being it; NULL while current
 *
 * with a unique index on the key WHERE valid_to IS NULL: a row has one
 * current version, and a batch finds it through the index, so applying a
 * batch costs in proportion to the batch, never to the history.
 *
 * Times.  With track_commit_timestamp on, a change takes effect at its
 * transaction's commit time (pg_xact_commit_timestamp): exact, to the
 * microsecond, in commit order, several transactions of one batch each at
 * its own time.  Commit order of two transactions that touch the same row
 * is their timestamps' order: the second one waits for the first one's row
 * lock, which is released after the first one's commit timestamp is taken.
 * Without commit timestamps (or for a transaction that committed before
 * they were turned on) a change takes effect at the time of the refresh
 * that applies it: the history then has the refresh's resolution, each
 * refresh recording its batch's net change.  Times never go back: every
 * time is at least the previous refresh's (so a commit timestamp taken
 * just before an earlier refresh's snapshot, of a transaction that snapshot
 * did not yet see, counts from that refresh), and at most this one's.
 *
 * Applying a batch.  The batch's images pass the query (the output's
 * columns of those the filter keeps, weights carried: a row leaving the
 * filter is a -1 alone, a key change a -1 of the old key and a +1 of the
 * new one) and are netted per row and time (a transaction that changes a
 * column the output does not show leaves a -1 and a +1 of the same row,
 * which cancel).  Then, per key, in time order: the current version closes
 * at the key's first -1; each +1 opens a version that closes at the key's
 * next -1 after it, or stays current.  A TRUNCATE of the source (its
 * marker, capture.h) closes every version current at its time; its own
 * transaction's images are those written after it (capture.c removes the
 * others).  Three statements, over ephemeral relations: close current
 * versions by key, close the rest at a TRUNCATE, insert the new versions.
 *
 * Reconciling.  The first load, a restore, and a TRUNCATE without commit
 * timestamps (the batch has no order then, and is not applied: every
 * current version closes first) compare the current versions with the
 * query at the refresh's snapshot, by identity: the versions that differ
 * close, the query's new rows open, at the refresh's time.  So does a batch with an ALTER TABLE of the source
 * (which may change rows without row triggers), after it is applied.  The history is never rebuilt: a history output does not switch
 * to full refresh, and its refresh fails instead if its query can no
 * longer be maintained from the change stream.
 *
 * Everything runs as the product owner at the refresh's snapshot, except
 * reading the change log (as the catalog owner, as batch.c does).
 *
 * IDENTIFICATION
 *	  src/history.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/commit_ts.h"
#include "access/genam.h"
#include "access/relation.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "apply.h"
#include "batch.h"
#include "capture.h"
#include "catalog.h"
#include "delta.h"
#include "exec.h"
#include "history.h"

#define HISTORY_EVENTS_ENR	"__dp_events"

/* ----------------------------------------------------------------
 * Planning
 * ----------------------------------------------------------------
 */

static void
refuse(const char *address, const char *what, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("history output %s cannot be kept from the change stream", address),
			 errdetail("Its query %s.", what),
			 errhint("%s", hint)));
}

#define ONE_TABLE_HINT "A history output selects columns from one table with a key, optionally filtered by WHERE."

/* The 1-based output column that is plain column attno of the table, or 0. */
static int
output_column_of(Query *query, Index rtindex, AttrNumber attno)
{
	ListCell   *lc;
	int			i = 0;

	foreach(lc, query->targetList)
	{
		TargetEntry *tle = lfirst(lc);

		if (tle->resjunk)
			continue;
		i++;
		if (IsA(tle->expr, Var) &&
			(Index) ((Var *) tle->expr)->varno == rtindex &&
			((Var *) tle->expr)->varlevelsup == 0 &&
			((Var *) tle->expr)->varattno == attno)
			return i;
	}
	return 0;
}

/*
 * choose_key
 *		The key of the history: the table's primary key, or else the first
 *		(by OID) unique, immediate index on plain NOT NULL columns that the
 *		select list covers.  Errors out if there is none.
 */
static void
choose_key(DpHistory *h, Relation rel, Query *query, const char *address)
{
	List	   *indexes = RelationGetIndexList(rel);
	Oid			pk = rel->rd_pkindex;
	ListCell   *lc;
	bool		any_unique = false;
	char	   *missing = NULL;

	if (OidIsValid(pk))
	{
		/* the primary key first */
		indexes = list_delete_oid(indexes, pk);
		indexes = lcons_oid(pk, indexes);
	}
	foreach(lc, indexes)
	{
		Oid			indexoid = lfirst_oid(lc);
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
		Form_pg_index index;
		List	   *key = NIL;
		StringInfoData absent;
		bool		usable = true;
		int			i;

		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for index %u", indexoid);
		index = (Form_pg_index) GETSTRUCT(tup);
		if (!index->indisunique || !index->indimmediate || !index->indisvalid ||
			!heap_attisnull(tup, Anum_pg_index_indexprs, NULL) ||
			!heap_attisnull(tup, Anum_pg_index_indpred, NULL))
			usable = false;
		initStringInfo(&absent);
		for (i = 0; usable && i < index->indnkeyatts; i++)
		{
			AttrNumber	attno = index->indkey.values[i];
			int			col;

			if (attno <= 0 || !TupleDescAttr(RelationGetDescr(rel), attno - 1)->attnotnull)
			{
				usable = false;
				break;
			}
			col = output_column_of(query, h->rtindex, attno);
			if (col == 0)
				appendStringInfo(&absent, "%s%s", absent.len > 0 ? ", " : "",
								 quote_identifier(NameStr(TupleDescAttr(RelationGetDescr(rel), attno - 1)->attname)));
			key = lappend_int(key, col);
		}
		ReleaseSysCache(tup);
		if (!usable)
			continue;
		any_unique = true;
		if (absent.len == 0)
		{
			h->key = key;
			h->key_name = get_rel_name(indexoid);
			return;
		}
		if (missing == NULL)
			missing = psprintf("%s (key %s)", absent.data, get_rel_name(indexoid));
	}
	if (any_unique)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
				 errmsg("the select list of history output %s must include the key of table %s",
						address, RelationGetRelationName(rel)),
				 errdetail("Missing: %s.", missing),
				 errhint("Select the key columns as they are: the history keeps one version of each key at a time.")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
			 errmsg("table %s has no key for history output %s",
					RelationGetRelationName(rel), address),
			 errdetail("A history output needs a primary key, or a unique index on NOT NULL columns without expressions or predicate."),
			 errhint("Add a primary key to the table.")));
}

/*
 * dataproduct_history_plan
 *		Check that an output's plan (plan.c) can be kept as a history, and
 *		return its columns and key.  Errors out, saying why, if it cannot.
 *		Takes AccessShareLock on the table.  Allocates in the current
 *		memory context; no SPI.
 */
DpHistory *
dataproduct_history_plan(DpPlan *plan, const char *address)
{
	Query	   *query = plan->query;
	DpHistory  *h = palloc0(sizeof(DpHistory));
	RangeTblEntry *rte;
	Relation	rel;
	ListCell   *lc;

	if (query->hasAggs || query->groupClause != NIL || query->havingQual != NULL ||
		query->groupingSets != NIL)
		refuse(address, "aggregates", ONE_TABLE_HINT " Aggregate over the history output's view instead.");
	if (query->hasWindowFuncs)
		refuse(address, "uses window functions", ONE_TABLE_HINT);
	if (query->distinctClause != NIL)
		refuse(address, "uses DISTINCT", ONE_TABLE_HINT);
	if (query->setOperations != NULL)
		refuse(address, "combines queries (UNION, INTERSECT or EXCEPT)", ONE_TABLE_HINT);
	if (query->limitCount != NULL || query->limitOffset != NULL)
		refuse(address, "uses LIMIT or OFFSET", ONE_TABLE_HINT);
	if (query->hasTargetSRFs)
		refuse(address, "calls set-returning functions in its select list", ONE_TABLE_HINT);
	if (query->hasSubLinks)
		refuse(address, "uses subqueries", ONE_TABLE_HINT);
	if (query->cteList != NIL)
		refuse(address, "uses WITH", ONE_TABLE_HINT);
	if (list_length(query->jointree->fromlist) != 1 ||
		!IsA(linitial(query->jointree->fromlist), RangeTblRef))
		refuse(address, "does not read exactly one relation (it joins, or reads none)", ONE_TABLE_HINT);
	h->rtindex = ((RangeTblRef *) linitial(query->jointree->fromlist))->rtindex;
	rte = rt_fetch(h->rtindex, query->rtable);
	if (rte->rtekind != RTE_RELATION)
		refuse(address, "reads a view or a subquery", ONE_TABLE_HINT " Name the table itself.");
	if (rte->relkind != RELKIND_RELATION)
		refuse(address,
			   rte->relkind == RELKIND_PARTITIONED_TABLE ?
			   "reads a partitioned table" : "reads a relation that is not an ordinary table",
			   ONE_TABLE_HINT);
	if (!plan->incremental)
		refuse(address, plan->reason, "A history output is built from the captured changes of its table: its query must allow incremental maintenance.");

	foreach(lc, query->targetList)
	{
		TargetEntry *tle = lfirst(lc);
		DpColumn   *col;

		if (tle->resjunk)
			continue;
		if (strcmp(tle->resname, DP_HISTORY_FROM) == 0 || strcmp(tle->resname, DP_HISTORY_TO) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("column name \"%s\" is reserved in history outputs", tle->resname),
					 errdetail("The view of a history output adds the columns %s and %s.",
							   DP_HISTORY_FROM, DP_HISTORY_TO),
					 errhint("Rename the column with AS.")));
		col = palloc(sizeof(DpColumn));
		col->name = tle->resname;
		col->type = exprType((Node *) tle->expr);
		col->typmod = exprTypmod((Node *) tle->expr);
		col->collation = exprCollation((Node *) tle->expr);
		h->columns = lappend(h->columns, col);
	}

	rel = relation_open(rte->relid, AccessShareLock);
	h->relid = rte->relid;
	choose_key(h, rel, query, address);
	relation_close(rel, AccessShareLock);
	return h;
}

/* ----------------------------------------------------------------
 * SQL
 * ----------------------------------------------------------------
 */

static DpColumn *
column(DpHistory *h, int i)
{
	return list_nth(h->columns, i - 1);
}

/* "a.c1, a.c2, ..." of every output column, or of the key only */
static char *
column_list(DpHistory *h, const char *alias, bool key_only)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	if (key_only)
		foreach(lc, h->key)
			appendStringInfo(&buf, "%s%s%s%s", buf.len > 0 ? ", " : "",
							 alias ? alias : "", alias ? "." : "",
							 quote_identifier(column(h, lfirst_int(lc))->name));
	else
		foreach(lc, h->columns)
			appendStringInfo(&buf, "%s%s%s%s", buf.len > 0 ? ", " : "",
							 alias ? alias : "", alias ? "." : "",
							 quote_identifier(((DpColumn *) lfirst(lc))->name));
	return buf.data;
}

/* "a.k1 OPERATOR(s.=) b.k1 AND ..." over the key */
static char *
key_match(DpHistory *h, const char *a, const char *b)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, h->key)
	{
		DpColumn   *c = column(h, lfirst_int(lc));
		const char *name = quote_identifier(c->name);

		appendStringInfo(&buf, "%s%s.%s %s %s.%s", buf.len > 0 ? " AND " : "",
						 a, name, dataproduct_type_equality(c->type), b, name);
	}
	return buf.data;
}

/* "ROW(identity of a.c1, ...)" (apply.c's identity) */
static char *
identity_row(DpHistory *h, const char *alias)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "ROW(");
	foreach(lc, h->columns)
	{
		DpColumn   *c = lfirst(lc);

		appendStringInfo(&buf, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
						 dataproduct_identity_key(psprintf("%s.%s", alias, quote_identifier(c->name)),
												  c->type));
	}
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/*
 * dataproduct_history_view_sql
 *		The SELECT of a history output's view: the query's columns, then
 *		valid_from and valid_to.  gated: fail instead of showing a store
 *		not loaded yet.
 */
char *
dataproduct_history_view_sql(DpHistory *h, Oid store, bool gated)
{
	char	   *qstore = dataproduct_qualified_name(store);

	return psprintf("SELECT %s, s." DP_HISTORY_FROM ", s." DP_HISTORY_TO " FROM %s s%s",
					column_list(h, "s", false), qstore,
					gated ? psprintf(" WHERE %s(%s::pg_catalog.regclass)",
									 dataproduct_helper_function("assert_populated"),
									 quote_literal_cstr(qstore)) : "");
}

/*
 * dataproduct_history_build
 *		Create the store of a new history output (output_<id>_store, with
 *		its index of current versions, output_<id>_current) and its view
 *		qview, guarded until the first refresh loads it.  Returns the
 *		store.  Runs as the catalog owner; the caller gives both to the
 *		product owner and captures the table.
 */
Oid
dataproduct_history_build(DpHistory *h, int64 id, const char *qview)
{
	char	   *store_name = psprintf("output_" INT64_FORMAT "_store", id);
	char	   *qstore = quote_qualified_identifier("dataproduct_internal", store_name);
	StringInfoData cols;
	ListCell   *lc;
	Oid			store;

	initStringInfo(&cols);
	foreach(lc, h->columns)
	{
		DpColumn   *col = lfirst(lc);

		appendStringInfo(&cols, "%s %s", quote_identifier(col->name),
						 format_type_with_typemod(col->type, col->typmod));
		if (OidIsValid(col->collation) && col->collation != get_typcollation(col->type))
			appendStringInfo(&cols, " COLLATE %s", generate_collation_name(col->collation));
		appendStringInfoString(&cols, ", ");
	}
	/* versions are closed in place, once: leave room for that HOT update */
	dataproduct_exec_ddl(psprintf("CREATE TABLE %s (%s" DP_HISTORY_FROM " pg_catalog.timestamptz NOT NULL, "
								  DP_HISTORY_TO " pg_catalog.timestamptz) WITH (fillfactor = 90)",
								  qstore, cols.data));
	dataproduct_exec_ddl(psprintf("ALTER TABLE %s REPLICA IDENTITY FULL", qstore));
	dataproduct_exec_ddl(psprintf("CREATE UNIQUE INDEX %s ON %s (%s) WHERE " DP_HISTORY_TO " IS NULL",
								  quote_identifier(psprintf("output_" INT64_FORMAT "_current", id)),
								  qstore, column_list(h, NULL, true)));
	store = get_relname_relid(store_name, get_namespace_oid("dataproduct_internal", false));
	dataproduct_exec_ddl(psprintf("CREATE VIEW %s WITH (security_barrier) AS %s", qview,
								  dataproduct_history_view_sql(h, store, true)));
	return store;
}

/* ----------------------------------------------------------------
 * Refreshing
 * ----------------------------------------------------------------
 */

/* What a history refresh works with. */
typedef struct HistoryRefresh
{
	DpOutput   *output;
	DpHistory  *h;
	Snapshot	snap;
	char	   *qstore;
	TimestampTz now;			/* the refresh's time */
	TimestampTz floor;			/* the previous refresh's time */
	DpApplyResult *res;
} HistoryRefresh;

/*
 * time_sql
 *		The time at which a change of transaction `xid' (an xid8
 *		expression) takes effect; $1 is the previous refresh's time and $2
 *		this refresh's (see the file header).
 */
static char *
time_sql(const char *xid)
{
	if (!track_commit_timestamp)
		return pstrdup("$2");
	return psprintf("GREATEST($1, COALESCE("
					"pg_catalog.pg_xact_commit_timestamp(pg_catalog.xid(%s)), $2))", xid);
}

/*
 * reconcile
 *		Make the current versions equal to the query at the snapshot: those
 *		the query no longer returns as they are close, its rows that have no
 *		current version open, all at the refresh's time.  Costs a pass over
 *		the query's rows and the current versions.  As the owner.
 */
static void
reconcile(HistoryRefresh *r)
{
	DpHistory  *h = r->h;
	char	   *qquery = dataproduct_qualified_name(r->output->query_view);
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		values[1] = {TimestampTzGetDatum(r->now)};

	dataproduct_run_at(r->snap, psprintf("UPDATE %s s SET " DP_HISTORY_TO " = GREATEST(s." DP_HISTORY_FROM ", $1)"
										 " WHERE s." DP_HISTORY_TO " IS NULL"
										 "   AND NOT EXISTS (SELECT FROM %s q WHERE %s AND %s IS NOT DISTINCT FROM %s)",
										 r->qstore, qquery, key_match(h, "s", "q"),
										 identity_row(h, "s"), identity_row(h, "q")),
					   1, argtypes, values, NULL, SPI_OK_UPDATE, true);
	r->res->changed += SPI_processed;
	dataproduct_run_at(r->snap, psprintf("INSERT INTO %s (%s, " DP_HISTORY_FROM ") SELECT %s, $1 FROM %s q"
										 " WHERE NOT EXISTS (SELECT FROM %s s WHERE s." DP_HISTORY_TO " IS NULL AND %s)",
										 r->qstore, column_list(h, NULL, false), column_list(h, "q", false),
										 qquery, r->qstore, key_match(h, "s", "q")),
					   1, argtypes, values, NULL, SPI_OK_INSERT, true);
	r->res->changed += SPI_processed;
	r->res->row_count += SPI_processed;
}

/*
 * batch_markers
 *		The markers of the batch: the times of its TRUNCATEs (a timestamptz[]
 *		datum, or 0 if none) and whether it holds another marker (ALTER
 *		TABLE: rows may have changed without row triggers).  Reads the log
 *		as the catalog owner, through its index on markers.
 */
static Datum
batch_markers(HistoryRefresh *r, Oid log, Datum snapdatum, Datum old_snap,
			  bool *other)
{
	DpSavedUser saved;
	Oid			argtypes[4] = {TIMESTAMPTZOID, TIMESTAMPTZOID, PG_SNAPSHOTOID, PG_SNAPSHOTOID};
	Datum		values[4] = {TimestampTzGetDatum(r->floor), TimestampTzGetDatum(r->now),
	snapdatum, old_snap};
	bool		isnull;
	Datum		truncates;
	bool		has_kind = get_attnum(log, DP_LOG_TRUNCATE) != InvalidAttrNumber;

	dataproduct_become_catalog_owner(&saved);
	dataproduct_run_at(r->snap, psprintf("SELECT pg_catalog.array_agg(DISTINCT %s) FILTER (WHERE %s),"
										 "       pg_catalog.bool_or(NOT (%s))"
										 "  FROM %s l WHERE l." DP_LOG_WEIGHT " OPERATOR(pg_catalog.=) 0"
										 "   AND l." DP_LOG_XID " OPERATOR(pg_catalog.>=) pg_catalog.pg_snapshot_xmin($4)"
										 "   AND pg_catalog.pg_visible_in_snapshot(l." DP_LOG_XID ", $3)"
										 "   AND NOT pg_catalog.pg_visible_in_snapshot(l." DP_LOG_XID ", $4)",
										 time_sql("l." DP_LOG_XID),
										 has_kind ? "l." DP_LOG_TRUNCATE : "false",
										 has_kind ? "l." DP_LOG_TRUNCATE " IS TRUE" : "false",
										 dataproduct_qualified_name(log)),
					   4, argtypes, values, NULL, SPI_OK_SELECT, true);
	dataproduct_restore_user(&saved);
	truncates = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		truncates = (Datum) 0;
	else
		truncates = datumCopy(truncates, false, -1);
	*other = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (isnull)
		*other = false;
	return truncates;
}

/*
 * apply_events
 *		Apply the batch loaded into the ephemeral relation of log (see the
 *		file header); truncates is the timestamptz[] of its TRUNCATEs, or 0.
 *		As the owner, at the snapshot.
 */
static void
apply_events(HistoryRefresh *r, DpPlan *plan, Oid log, Datum truncates)
{
	DpHistory  *h = r->h;
	Oid			argtypes[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[2] = {TimestampTzGetDatum(r->floor), TimestampTzGetDatum(r->now)};
	Oid			ttypes[1] = {TIMESTAMPTZARRAYOID};
	Datum		tvalues[1] = {truncates};
	char		tnulls[2] = {truncates == (Datum) 0 ? 'n' : ' ', '\0'};
	Oid			ftypes[1] = {TIMESTAMPTZOID};
	Datum		fvalues[1] = {(Datum) 0};
	char		fnulls[2] = "n";
	Tuplestorestate *delta;
	Tuplestorestate *events;
	StringInfoData sql;
	StringInfoData groups;
	ListCell   *lc;

	delta = dataproduct_run_into_enr(DP_DELTA_ENR, dataproduct_history_delta_sql(plan, h->rtindex, log),
									 0, NULL, NULL);

	/* net per row (by identity) and time */
	initStringInfo(&sql);
	initStringInfo(&groups);
	appendStringInfoString(&sql, "SELECT ");
	foreach(lc, h->columns)
	{
		DpColumn   *c = lfirst(lc);
		const char *name = quote_identifier(c->name);

		appendStringInfo(&sql, "(pg_catalog.array_agg(d.%s))[1] AS %s, ", name, name);
		appendStringInfo(&groups, "%s, ",
						 dataproduct_identity_key(psprintf("d.%s", name), c->type));
	}
	appendStringInfo(&sql, "d.__dp_t, pg_catalog.sum(d.__dp_w)::pg_catalog.int4 AS __dp_w"
					 "  FROM (SELECT d.*, %s AS __dp_t FROM " DP_DELTA_ENR " d) d"
					 " GROUP BY %sd.__dp_t HAVING pg_catalog.sum(d.__dp_w) OPERATOR(pg_catalog.<>) 0",
					 time_sql("d.__dp_xid"), groups.data);
	events = dataproduct_run_into_enr(HISTORY_EVENTS_ENR, sql.data, 2, argtypes, values);
	SPI_unregister_relation(DP_DELTA_ENR);
	tuplestore_end(delta);

	if (truncates != (Datum) 0)
	{
		bool		isnull;

		dataproduct_run_at(r->snap, "SELECT pg_catalog.min(x) FROM pg_catalog.unnest($1) x",
						   1, ttypes, tvalues, tnulls, SPI_OK_SELECT, true);
		fvalues[0] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		fnulls[0] = isnull ? 'n' : ' ';
	}

	/* the current version of a key closes at its first -1 (or TRUNCATE) */
	dataproduct_run_at(r->snap, psprintf("UPDATE %s s SET " DP_HISTORY_TO " = GREATEST(s." DP_HISTORY_FROM ","
										 " LEAST(c.__dp_t, $1))"
										 "  FROM (SELECT %s, pg_catalog.min(e.__dp_t) AS __dp_t FROM " HISTORY_EVENTS_ENR " e"
										 "         WHERE e.__dp_w OPERATOR(pg_catalog.<) 0 GROUP BY %s) c"
										 " WHERE s." DP_HISTORY_TO " IS NULL AND %s",
										 r->qstore, column_list(h, "e", true), column_list(h, "e", true),
										 key_match(h, "s", "c")),
					   1, ftypes, fvalues, fnulls, SPI_OK_UPDATE, false);
	r->res->changed += SPI_processed;

	/* every other current version closes at the first TRUNCATE */
	if (truncates != (Datum) 0)
	{
		dataproduct_run_at(r->snap, psprintf("UPDATE %s SET " DP_HISTORY_TO " = GREATEST(" DP_HISTORY_FROM ", $1)"
											 " WHERE " DP_HISTORY_TO " IS NULL", r->qstore),
						   1, ftypes, fvalues, fnulls, SPI_OK_UPDATE, true);
		r->res->changed += SPI_processed;
	}

	/*
	 * Each +1 opens a version, closed by its key's next -1 (at the same
	 * time a -1 sorts first: it closes the version before) or the next
	 * TRUNCATE after it.
	 */
	dataproduct_run_at(r->snap, psprintf("INSERT INTO %s (%s, " DP_HISTORY_FROM ", " DP_HISTORY_TO ")"
										 " SELECT %s, e.__dp_t, LEAST(e.__dp_next,"
										 "   (SELECT pg_catalog.min(x) FROM pg_catalog.unnest($1) x"
										 "     WHERE x OPERATOR(pg_catalog.>) e.__dp_t))"
										 "   FROM (SELECT e.*, pg_catalog.min(e.__dp_t) FILTER (WHERE e.__dp_w OPERATOR(pg_catalog.<) 0)"
										 "           OVER (PARTITION BY %s ORDER BY e.__dp_t, e.__dp_w"
										 "                 ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS __dp_next"
										 "           FROM " HISTORY_EVENTS_ENR " e) e"
										 "  WHERE e.__dp_w OPERATOR(pg_catalog.>) 0",
										 r->qstore, column_list(h, NULL, false), column_list(h, "e", false),
										 column_list(h, "e", true)),
					   1, ttypes, tvalues, tnulls, SPI_OK_INSERT, false);
	r->res->changed += SPI_processed;
	r->res->row_count += SPI_processed;

	SPI_unregister_relation(HISTORY_EVENTS_ENR);
	tuplestore_end(events);
}

/*
 * dataproduct_history_refresh
 *		Steps 4 and 5 of refresh.c for a history output whose plan and
 *		sources (one) refresh.c made: load it (populated false), reconcile
 *		it (foreign: the logs came from another cluster and were cleared),
 *		or apply the batch between old_snap and snapdatum; now is the
 *		refresh's time.  res comes in zeroed and goes out with the versions
 *		closed plus opened (changed) and the store's rows (row_count).
 *		Returns the kind of refresh done ("rebuild" or "incremental").  SPI
 *		connected, at snap; runs the owner's statements as the owner.
 */
const char *
dataproduct_history_refresh(DpOutput *output, DpPlan *plan, bool populated,
							bool foreign, List *sources, Snapshot snap,
							Datum snapdatum, Datum old_snap, TimestampTz now,
							DpApplyResult *res)
{
	HistoryRefresh r;
	DpSavedUser saved;
	DpSourceBatch *sb = linitial(sources);
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(output->id)};
	bool		isnull;
	Datum		truncates = (Datum) 0;
	bool		skip = false;	/* the batch cannot be applied: reconcile */
	bool		again = false;	/* reconcile after applying the batch */
	const char *kind = "incremental";

	r.output = output;
	r.h = dataproduct_history_plan(plan, output->address);
	r.snap = snap;
	r.qstore = dataproduct_qualified_name(output->store);
	r.now = now;
	r.res = res;

	dataproduct_become_catalog_owner(&saved);
	dataproduct_run_at(snap, "SELECT row_count, last_refresh FROM dataproduct.output"
					   " WHERE output_id OPERATOR(pg_catalog.=) $1",
					   1, argtypes, values, NULL, SPI_OK_SELECT, true);
	dataproduct_restore_user(&saved);
	res->changed = 0;
	res->written = (Datum) 0;
	res->row_count = populated ? dataproduct_result_int8(1) : 0;
	r.floor = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (isnull || r.floor > now)
		r.floor = isnull ? DT_NOBEGIN : now;

	if (!populated || foreign)
	{
		dataproduct_become_owner(output->owner, &saved);
		reconcile(&r);
		dataproduct_restore_user(&saved);
		return "rebuild";
	}

	dataproduct_batch_sizes(snap, sources, snapdatum, old_snap, -1);
	if (sb->marker)
	{
		bool		other = false;

		truncates = batch_markers(&r, sb->log, snapdatum, old_snap, &other);
		/* without commit times a batch has no order to place a TRUNCATE in */
		if (truncates != (Datum) 0 && !track_commit_timestamp)
			skip = true;
		/* an ALTER TABLE may have changed rows without row triggers */
		again = other || skip;
	}
	if (sb->rows > 0 && !skip)
	{
		DpLeaf	   *leaf = linitial(plan->leaves);
		Oid			btypes[2] = {PG_SNAPSHOTOID, PG_SNAPSHOTOID};
		Datum		bvalues[2] = {snapdatum, old_snap};
		char	   *name = dataproduct_batch_name(sb->log);
		Tuplestorestate *batch;

		dataproduct_become_catalog_owner(&saved);
		batch = dataproduct_run_into_enr(name, dataproduct_history_batch_sql(leaf->relid, sb->log, leaf->attnos),
										 2, btypes, bvalues);
		dataproduct_restore_user(&saved);
		dataproduct_become_owner(output->owner, &saved);
		apply_events(&r, plan, sb->log, truncates);
		dataproduct_restore_user(&saved);
		SPI_unregister_relation(name);
		tuplestore_end(batch);
	}
	else if (truncates != (Datum) 0 && !skip)
	{
		/* TRUNCATEs alone: every current version closes at the first */
		dataproduct_become_owner(output->owner, &saved);
		dataproduct_run_at(snap, psprintf("UPDATE %s SET " DP_HISTORY_TO " = GREATEST(" DP_HISTORY_FROM ","
										  " (SELECT pg_catalog.min(x) FROM pg_catalog.unnest($1) x))"
										  " WHERE " DP_HISTORY_TO " IS NULL", r.qstore),
						   1, (Oid[]) {TIMESTAMPTZARRAYOID}, &truncates, NULL, SPI_OK_UPDATE, true);
		res->changed += SPI_processed;
		dataproduct_restore_user(&saved);
	}
	if (again)
	{
		dataproduct_become_owner(output->owner, &saved);
		if (skip)
		{
			/* the TRUNCATE still closes every current version, now */
			dataproduct_run_at(snap, psprintf("UPDATE %s SET " DP_HISTORY_TO " = GREATEST(" DP_HISTORY_FROM ", $1)"
											  " WHERE " DP_HISTORY_TO " IS NULL", r.qstore),
							   1, (Oid[]) {TIMESTAMPTZOID}, (Datum[]) {TimestampTzGetDatum(now)}, NULL,
							   SPI_OK_UPDATE, true);
			res->changed += SPI_processed;
		}
		reconcile(&r);
		dataproduct_restore_user(&saved);
	}
	return kind;
}
