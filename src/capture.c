/*-------------------------------------------------------------------------
 *
 * capture.c
 *	  Change capture on the sources of incrementally maintained outputs.
 *
 * The first step of the data flow.  Every relation an incrementally
 * maintained output reads (a table, a partitioned table, or another output's
 * store) gets a change log, dataproduct_internal.source_<id>_log, and two
 * triggers running dataproduct.capture(<log>):
 *
 *	 __dp_capture           AFTER INSERT OR UPDATE OR DELETE, FOR EACH ROW
 *	                        (cloned by PostgreSQL to every partition)
 *	 __dp_capture_truncate  AFTER TRUNCATE, FOR EACH STATEMENT (installed
 *	                        on every partition too, and on partitions
 *	                        created or attached later, by the ddl_command_end
 *	                        event trigger; removed from detached ones)
 *
 * For each changed row the trigger appends the row image of the captured
 * columns (those the outputs read) with a weight, +1 for a new image and -1
 * for an old one, and the writing transaction's full xid.  An UPDATE that
 * leaves every captured column as it was logs nothing.  TRUNCATE, and an
 * ALTER TABLE of the relation (which can attach or detach partitions), log a
 * marker of weight 0, after which consumers rebuild; markers are rare, so
 * they are written through SPI, which also enters them in the log's only
 * index, a partial one on markers.
 *
 * The write path stays cheap: no SPI, no catalog lookups after the first row
 * of a backend (the column mapping is cached per trigger and dropped on
 * relcache invalidation), one heap insert per image into a table whose only
 * index is a partial one that ordinary images never enter (markers only).
 * The insert bypasses privilege checks on purpose: writers need no rights
 * on the log.  The function runs only in the triggers the extension
 * installed (check_capture_trigger): anyone may reference it (from version
 * 0.2.0 EXECUTE is granted to PUBLIC, because PostgreSQL checks it when it
 * clones the row trigger to a new partition, as the partition's creator),
 * but nobody can make it write into a log other than that of the relation
 * the trigger is on.
 *
 * The log format is defined in capture.h.  The log is read and trimmed by
 * batch.c; outputs consume it in batches defined by snapshots, so rows need
 * no order.  Triggers are ordinary
 * (so pg_dump restores them, after the data) but guarded by the event
 * triggers: dropping or disabling one by hand is refused.
 *
 * IDENTIFICATION
 *	  src/capture.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/regproc.h"
#include "utils/ruleutils.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "capture.h"
#include "catalog.h"
#include "exec.h"
#include "shmem.h"

PG_FUNCTION_INFO_V1(dataproduct_capture);

#define CAPTURE_XID		(-1)
#define CAPTURE_WEIGHT	(-2)
#define CAPTURE_AT		(-3)

/*
 * Per trigger: where each column of the log comes from in the firing
 * relation.  Entries live in CacheMemoryContext until a relcache
 * invalidation of the firing relation or the log drops them.
 */
typedef struct CaptureEntry
{
	Oid			tgoid;			/* hash key */
	bool		valid;
	Oid			relid;
	Oid			logid;
	int			natts;			/* columns of the log */
	AttrNumber *source;			/* attnum in the firing relation, or
								 * CAPTURE_XID / CAPTURE_WEIGHT */
} CaptureEntry;

static HTAB *capture_cache = NULL;

/*
 * The last top-level transaction of this backend that wrote a change log.
 * A refresh must not apply its own transaction's changes; it scans the logs
 * for them only when this says there may be some (see
 * dataproduct_captured_in_transaction).
 */
static FullTransactionId last_capturing_xact = {0};

static void
capture_cache_invalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	CaptureEntry *entry;

	(void) arg;
	if (capture_cache == NULL)
		return;
	hash_seq_init(&status, capture_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (!OidIsValid(relid) || entry->relid == relid || entry->logid == relid)
			entry->valid = false;
}

/*
 * check_capture_trigger
 *		Error out unless trigger is one the extension installed: named
 *		__dp_capture (row) or __dp_capture_truncate (TRUNCATE), on a captured
 *		relation or one of its partitions, writing that relation's log.
 *
 * EXECUTE on dataproduct_internal.capture() is granted to PUBLIC, because
 * PostgreSQL checks it when it clones the row trigger to a new partition
 * as the partition's creator; so anyone may create a trigger calling it,
 * and this check is what keeps such a trigger from writing into a change
 * log (images of another table, or a second copy of each change).  Names
 * are unique per relation and the extension's triggers cannot be dropped,
 * so there is one of each on every captured relation.  Runs when a
 * backend first fires the trigger (and after invalidations), through SPI
 * as the catalog owner; the write path stays lookup-free.
 */
static void
check_capture_trigger(Trigger *trigger, Relation rel, Oid logid, bool truncate)
{
	const char *name = truncate ? DP_CAPTURE_TRUNCATE_TRIGGER : DP_CAPTURE_TRIGGER;
	Oid			relid = RelationGetRelid(rel);
	Oid			source = InvalidOid;

	if (strcmp(trigger->tgname, name) == 0)
	{
		DpSavedUser saved;
		Oid			argtypes[1] = {OIDOID};
		Datum		values[1] = {ObjectIdGetDatum(logid)};

		dataproduct_spi_connect();
		dataproduct_become_catalog_owner(&saved);
		dataproduct_spi_exec("SELECT relation FROM dataproduct.source WHERE log = $1",
							 1, argtypes, values, NULL, SPI_OK_SELECT);
		if (SPI_processed == 1)
		{
			bool		isnull;

			source = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 1, &isnull));
		}
		dataproduct_restore_user(&saved);
		dataproduct_spi_finish();
	}
	if (OidIsValid(source) && source != relid &&
		!list_member_oid(get_partition_ancestors(relid), source))
		source = InvalidOid;
	if (!OidIsValid(source))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("trigger \"%s\" on relation \"%s\" may not run dataproduct_internal.capture()",
						trigger->tgname, RelationGetRelationName(rel)),
				 errdetail("dataproduct_internal.capture() runs only in the capture triggers pg_dataproduct installs, "
						   "each writing the change log of the relation it is on.")));
}

static CaptureEntry *
capture_entry(Trigger *trigger, Relation rel, bool truncate)
{
	CaptureEntry *entry;
	bool		found;

	if (capture_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(CaptureEntry);
		ctl.hcxt = CacheMemoryContext;
		capture_cache = hash_create("pg_dataproduct capture", 64, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterRelcacheCallback(capture_cache_invalidate, (Datum) 0);
	}

	entry = hash_search(capture_cache, &trigger->tgoid, HASH_ENTER, &found);
	if (!found)
	{
		entry->valid = false;
		entry->source = NULL;
	}
	if (!entry->valid)
	{
		RangeVar   *rv;
		Relation	log;
		TupleDesc	desc;
		int			i;

		if (trigger->tgnargs != 1)
			elog(ERROR, "trigger %s must have one argument, its change log",
				 trigger->tgname);
		rv = makeRangeVarFromNameList(stringToQualifiedNameList(trigger->tgargs[0]));
		entry->logid = RangeVarGetRelid(rv, RowExclusiveLock, false);
		entry->relid = RelationGetRelid(rel);
		check_capture_trigger(trigger, rel, entry->logid, truncate);
		log = table_open(entry->logid, NoLock);
		desc = RelationGetDescr(log);
		if (entry->source != NULL)
			pfree(entry->source);
		entry->source = MemoryContextAlloc(CacheMemoryContext,
										   sizeof(AttrNumber) * desc->natts);
		entry->natts = desc->natts;
		for (i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);
			const char *name = NameStr(att->attname);

			if (att->attisdropped)
				entry->source[i] = InvalidAttrNumber;
			else if (strcmp(name, DP_LOG_XID) == 0)
				entry->source[i] = CAPTURE_XID;
			else if (strcmp(name, DP_LOG_WEIGHT) == 0)
				entry->source[i] = CAPTURE_WEIGHT;
			else if (strcmp(name, DP_LOG_AT) == 0)
				entry->source[i] = CAPTURE_AT;
			else if (strcmp(name, DP_LOG_TRUNCATE) == 0)
				entry->source[i] = InvalidAttrNumber;	/* NULL on images */
			else
			{
				entry->source[i] = get_attnum(entry->relid, name);
				if (entry->source[i] == InvalidAttrNumber)
					elog(ERROR, "captured column \"%s\" is missing from relation \"%s\"",
						 name, RelationGetRelationName(rel));

				/*
				 * A column retyped since the log was made (possible when
				 * outputs read it through a whole-row reference only) is
				 * logged as NULL: its datums do not fit the log's column.
				 * (A domain's values are its base type's: logs keep that.)
				 * The writer goes on; its outputs' next refresh sees the
				 * change and refreshes them in full (refresh.c).
				 */
				if (getBaseType(TupleDescAttr(RelationGetDescr(rel), entry->source[i] - 1)->atttypid) !=
					getBaseType(att->atttypid))
					entry->source[i] = InvalidAttrNumber;
			}
		}
		table_close(log, NoLock);
		entry->valid = true;
	}
	return entry;
}

/*
 * log_image
 *		Append one signed image to the log; slot NULL logs a marker.
 */
static void
log_image(CaptureEntry *entry, Relation log, TupleTableSlot *slot,
		  int16 weight)
{
	Datum	   *values = palloc(sizeof(Datum) * entry->natts);
	bool	   *nulls = palloc(sizeof(bool) * entry->natts);
	HeapTuple	tuple;
	int			i;

	if (slot != NULL)
		slot_getallattrs(slot);
	for (i = 0; i < entry->natts; i++)
	{
		AttrNumber	src = entry->source[i];

		nulls[i] = false;
		if (src == CAPTURE_XID)
		{
			last_capturing_xact = GetTopFullTransactionId();
			values[i] = FullTransactionIdGetDatum(last_capturing_xact);
		}
		else if (src == CAPTURE_WEIGHT)
			values[i] = Int16GetDatum(weight);
		else if (src == CAPTURE_AT)
			values[i] = TimestampTzGetDatum(GetCurrentStatementStartTimestamp());
		else if (slot == NULL || src == InvalidAttrNumber)
		{
			values[i] = (Datum) 0;
			nulls[i] = true;
		}
		else
		{
			values[i] = slot->tts_values[src - 1];
			nulls[i] = slot->tts_isnull[src - 1];
		}
	}
	tuple = heap_form_tuple(RelationGetDescr(log), values, nulls);
	simple_heap_insert(log, tuple);
	heap_freetuple(tuple);
	pfree(values);
	pfree(nulls);
}

/*
 * log_marker
 *		Append a marker (weight 0): its consumers must rebuild.  Written
 *		through SPI as the log's owner, so that the log's partial index on
 *		markers, which lets refreshes find them without a scan, has it.
 *
 * A plain table's TRUNCATE marker says so (__dp_truncate, on a log that has the column:
 * a catalog still at 0.1.0 has not), and the images this transaction
 * logged before it go: the rows they describe are gone with the TRUNCATE.
 * Every consumer sees the whole transaction in one batch and rebuilds
 * (ordinary outputs) or closes every version (history outputs) at the
 * marker, so none needs them; without them, the transaction's images are
 * exactly what it wrote into the emptied table.  TRUNCATE is a rare
 * statement: the scan of the log this costs is not on the write path.
 */
static void
log_marker(Oid log, bool truncate)
{
	DpSavedUser saved;
	char	   *qlog = dataproduct_qualified_name(log);
	bool		has_kind = get_attnum(log, DP_LOG_TRUNCATE) != InvalidAttrNumber;

	last_capturing_xact = GetTopFullTransactionId();
	dataproduct_spi_connect();
	dataproduct_become_catalog_owner(&saved);
	if (truncate)
		dataproduct_spi_exec(psprintf("DELETE FROM %s WHERE " DP_LOG_XID " OPERATOR(pg_catalog.=) pg_catalog.pg_current_xact_id()"
									  "   AND " DP_LOG_WEIGHT " OPERATOR(pg_catalog.<>) 0", qlog),
							 0, NULL, NULL, NULL, SPI_OK_DELETE);
	if (truncate && has_kind)
		dataproduct_spi_exec(psprintf("INSERT INTO %s (" DP_LOG_XID ", " DP_LOG_WEIGHT ", " DP_LOG_TRUNCATE ")"
									  " VALUES (pg_catalog.pg_current_xact_id(), 0, true)", qlog),
							 0, NULL, NULL, NULL, SPI_OK_INSERT);
	else
		dataproduct_spi_exec(psprintf("INSERT INTO %s (" DP_LOG_XID ", " DP_LOG_WEIGHT ")"
									  " VALUES (pg_catalog.pg_current_xact_id(), 0)", qlog),
							 0, NULL, NULL, NULL, SPI_OK_INSERT);
	dataproduct_restore_user(&saved);
	dataproduct_spi_finish();
}

/*
 * dataproduct_captured_in_transaction
 *		May the current top-level transaction have written a change log?
 *		False means it certainly did not: every write to a log (row images
 *		and markers alike) goes through this backend's trigger first.
 */
bool
dataproduct_captured_in_transaction(void)
{
	FullTransactionId xid = GetTopFullTransactionIdIfAny();

	return FullTransactionIdIsValid(xid) &&
		FullTransactionIdEquals(xid, last_capturing_xact);
}

/* Did an update change any captured column? */
static bool
captured_columns_changed(CaptureEntry *entry, Relation rel,
						 TupleTableSlot *oldslot, TupleTableSlot *newslot)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	slot_getallattrs(oldslot);
	slot_getallattrs(newslot);
	for (i = 0; i < entry->natts; i++)
	{
		AttrNumber	src = entry->source[i];
		Form_pg_attribute att;

		if (src <= 0)
			continue;
		att = TupleDescAttr(desc, src - 1);
		if (oldslot->tts_isnull[src - 1] != newslot->tts_isnull[src - 1])
			return true;
		if (!oldslot->tts_isnull[src - 1] &&
			!datumIsEqual(oldslot->tts_values[src - 1],
						  newslot->tts_values[src - 1],
						  att->attbyval, att->attlen))
			return true;
	}
	return false;
}

/*
 * dataproduct_capture
 *		The capture trigger; see the file header.
 */
Datum
dataproduct_capture(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TriggerEvent event;
	CaptureEntry *entry;
	Relation	log;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired by a trigger",
						"dataproduct_internal.capture")));
	event = trigdata->tg_event;
	if (!TRIGGER_FIRED_AFTER(event))
		elog(ERROR, "dataproduct_internal.capture must be an AFTER trigger");

	entry = capture_entry(trigdata->tg_trigger, trigdata->tg_relation,
						  TRIGGER_FIRED_BY_TRUNCATE(event));
	/* at commit, the background worker of this database is woken */
	dataproduct_note_capture_log(entry->logid);

	if (TRIGGER_FIRED_BY_TRUNCATE(event))
	{
		/*
		 * A rare statement: the marker goes through SPI, indexes and all.
		 * Only a plain table's TRUNCATE empties everything its log
		 * describes; a partition's leaves its siblings' rows, so its
		 * marker is an ordinary one.
		 */
		log_marker(entry->logid,
				   trigdata->tg_relation->rd_rel->relkind == RELKIND_RELATION &&
				   !trigdata->tg_relation->rd_rel->relispartition);
		return PointerGetDatum(NULL);
	}

	log = table_open(entry->logid, RowExclusiveLock);
	if (!TRIGGER_FIRED_FOR_ROW(event))
		elog(ERROR, "dataproduct_internal.capture must be a row trigger, or a TRUNCATE trigger");
	else if (TRIGGER_FIRED_BY_INSERT(event))
		log_image(entry, log, trigdata->tg_trigslot, 1);
	else if (TRIGGER_FIRED_BY_DELETE(event))
		log_image(entry, log, trigdata->tg_trigslot, -1);
	else if (TRIGGER_FIRED_BY_UPDATE(event))
	{
		if (captured_columns_changed(entry, trigdata->tg_relation,
									 trigdata->tg_trigslot,
									 trigdata->tg_newslot))
		{
			log_image(entry, log, trigdata->tg_trigslot, -1);
			log_image(entry, log, trigdata->tg_newslot, 1);
		}
	}

	table_close(log, NoLock);
	return PointerGetDatum(NULL);
}

/* ----------------------------------------------------------------
 * Installing and removing capture
 * ----------------------------------------------------------------
 */

/* The column definition of a relation's attribute, for its log. */
static char *
column_definition(Relation rel, AttrNumber attno)
{
	Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), attno - 1);
	int32		typmod = att->atttypmod;
	Oid			type = getBaseTypeAndTypmod(att->atttypid, &typmod);
	char	   *def = psprintf("%s %s", quote_identifier(NameStr(att->attname)),
							   format_type_with_typemod(type, typmod));

	/*
	 * A domain's constraints are its owner's code: the log keeps the base
	 * type, so that writing a marker or adding a log column (as the
	 * extension owner) runs none of it.  The delta casts back (delta.c).
	 */
	if (OidIsValid(att->attcollation) &&
		att->attcollation != get_typcollation(type))
		def = psprintf("%s COLLATE %s", def, generate_collation_name(att->attcollation));
	return def;
}

/*
 * capture_truncate_on
 *		Install the TRUNCATE capture trigger of log qlog on a partition of
 *		its relation.  PostgreSQL clones row triggers to partitions, not
 *		statement triggers: without it, a TRUNCATE of the partition alone
 *		would not be seen.
 */
static void
capture_truncate_on(Oid partition, const char *qlog)
{
	dataproduct_exec_ddl(psprintf("CREATE TRIGGER __dp_capture_truncate AFTER TRUNCATE ON %s"
								  " FOR EACH STATEMENT EXECUTE FUNCTION %s(%s)",
								  dataproduct_qualified_name(partition),
								  dataproduct_helper_function("capture"), quote_literal_cstr(qlog)));
	dataproduct_exec_ddl(psprintf("ALTER TABLE %s ENABLE ALWAYS TRIGGER __dp_capture_truncate",
								  dataproduct_qualified_name(partition)));
}

/* Install the TRUNCATE trigger on every partition below relid. */
static void
capture_partition_truncates(Oid relid, const char *qlog)
{
	List	   *children = find_all_inheritors(relid, NoLock, NULL);
	ListCell   *lc;

	foreach(lc, children)
	{
		Oid			child = lfirst_oid(lc);

		if (child != relid)
			capture_truncate_on(child, qlog);
	}
}

/*
 * dataproduct_capture_relation
 *		Make sure changes of relid are captured, including the columns in
 *		attnos, and return its log.  Installs the log and triggers the first
 *		time, adds columns to the log later.  Either takes a
 *		ShareRowExclusiveLock (or an AccessExclusiveLock on the log), held to
 *		commit: writers of the relation wait for this transaction, which is
 *		why initial loads run in a later one.
 *
 * SPI must be connected with search_path pinned; runs as the catalog owner.
 */
Oid
dataproduct_capture_relation(Oid relid, Bitmapset *attnos, int64 *source_id)
{
	DpSavedUser saved;
	Relation	rel;
	Oid			argtypes[5] = {OIDOID, INT8OID, OIDOID, TEXTARRAYOID, TEXTOID};
	Datum		values[5];
	Oid			log;
	int			attno = -1;
	ListCell   *lc;
	ListCell   *lc2;
	char		relkind;
	List	   *defs = NIL;
	List	   *names = NIL;

	dataproduct_become_catalog_owner(&saved);
	/* the lock stays to commit; the relation must not stay open (our DDL) */
	LockRelationOid(relid, ShareRowExclusiveLock);
	rel = table_open(relid, NoLock);
	relkind = rel->rd_rel->relkind;
	while ((attno = bms_next_member(attnos, attno)) >= 0)
	{
		defs = lappend(defs, column_definition(rel, attno));
		names = lappend(names, pstrdup(NameStr(TupleDescAttr(RelationGetDescr(rel), attno - 1)->attname)));
	}
	table_close(rel, NoLock);

	values[0] = ObjectIdGetDatum(relid);
	dataproduct_spi_exec("SELECT source_id, log FROM dataproduct.source WHERE relation = $1",
						 1, argtypes, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
	{
		StringInfoData cols;
		char	   *logname;
		char	   *qlog;
		int64		id;
		bool		isnull;

		dataproduct_spi_exec("SELECT pg_catalog.nextval('dataproduct.source_id_seq')",
							 0, NULL, NULL, NULL, SPI_OK_SELECT);
		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, 1, &isnull));
		logname = psprintf("source_" INT64_FORMAT "_log", id);
		qlog = quote_qualified_identifier("dataproduct_internal", logname);

		initStringInfo(&cols);
		foreach(lc, defs)
			appendStringInfo(&cols, "%s, ", (char *) lfirst(lc));
		dataproduct_exec_ddl(psprintf("CREATE TABLE %s (%s__dp_xid pg_catalog.xid8 NOT NULL,"
							  " " DP_LOG_WEIGHT " pg_catalog.int2 NOT NULL,"
							  " " DP_LOG_AT " pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.statement_timestamp(),"
							  " " DP_LOG_TRUNCATE " pg_catalog.bool)"
							  " WITH (autovacuum_vacuum_scale_factor = 0.01)",
							  qlog, cols.data));
		/* markers (TRUNCATE, ALTER) are rare: found without scanning the log */
		dataproduct_exec_ddl(psprintf("CREATE INDEX %s ON %s (" DP_LOG_XID ") WHERE " DP_LOG_WEIGHT " = 0",
							  quote_identifier(psprintf("source_" INT64_FORMAT "_markers", id)),
							  qlog));
		dataproduct_exec_ddl(psprintf("COMMENT ON TABLE %s IS %s", qlog,
							  quote_literal_cstr(psprintf("pg_dataproduct: change log of %s",
														  dataproduct_qualified_name(relid)))));
		dataproduct_exec_ddl(psprintf("CREATE TRIGGER __dp_capture AFTER INSERT OR UPDATE OR DELETE ON %s"
							  " FOR EACH ROW EXECUTE FUNCTION %s(%s)",
							  dataproduct_qualified_name(relid),
							  dataproduct_helper_function("capture"), quote_literal_cstr(qlog)));
		dataproduct_exec_ddl(psprintf("CREATE TRIGGER __dp_capture_truncate AFTER TRUNCATE ON %s"
							  " FOR EACH STATEMENT EXECUTE FUNCTION %s(%s)",
							  dataproduct_qualified_name(relid),
							  dataproduct_helper_function("capture"), quote_literal_cstr(qlog)));
		dataproduct_exec_ddl(psprintf("ALTER TABLE %s ENABLE ALWAYS TRIGGER __dp_capture,"
							  " ENABLE ALWAYS TRIGGER __dp_capture_truncate",
							  dataproduct_qualified_name(relid)));
		if (relkind == RELKIND_PARTITIONED_TABLE)
			capture_partition_truncates(relid, qlog);

		log = get_relname_relid(logname, get_namespace_oid("dataproduct_internal", false));
		values[1] = Int64GetDatum(id);
		values[2] = ObjectIdGetDatum(log);
		values[4] = CStringGetTextDatum(dataproduct_origin());
		dataproduct_spi_exec("INSERT INTO dataproduct.source (source_id, relation, log, columns, origin)"
							 " SELECT $2, $1, $3, ARRAY(SELECT attname::text FROM pg_catalog.pg_attribute"
							 "   WHERE attrelid = $3 AND attnum > 0 AND NOT attisdropped"
							 "     AND attname NOT IN ('" DP_LOG_XID "', '" DP_LOG_WEIGHT "', '" DP_LOG_AT "', '" DP_LOG_TRUNCATE "') ORDER BY attnum), $5",
							 5, argtypes, values, "   n ", SPI_OK_INSERT);
		*source_id = id;
	}
	else
	{
		bool		isnull;

		*source_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												 SPI_tuptable->tupdesc, 1, &isnull));
		log = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 2, &isnull));
		forboth(lc, names, lc2, defs)
		{
			const char *name = lfirst(lc);

			if (get_attnum(log, name) != InvalidAttrNumber)
				continue;
			/* the trigger picks the new column up by name */
			dataproduct_exec_ddl(psprintf("ALTER TABLE %s ADD COLUMN %s", dataproduct_qualified_name(log),
								  (char *) lfirst(lc2)));
			values[0] = ObjectIdGetDatum(log);
			values[4] = CStringGetTextDatum(name);
			dataproduct_spi_exec("UPDATE dataproduct.source SET columns = columns || $5"
								 " WHERE log = $1",
								 5, argtypes, values, " nnn ", SPI_OK_UPDATE);
		}
	}
	dataproduct_restore_user(&saved);
	return log;
}

/*
 * dataproduct_release_sources
 *		Remove capture from relations no output consumes any more, and forget
 *		sources whose relation is gone.  Triggers and logs are deleted
 *		directly, without firing event triggers.  SPI connected, search_path
 *		pinned.
 */
void
dataproduct_release_sources(void)
{
	DpSavedUser saved;
	uint64		i;
	uint64		n;
	SPITupleTable *tuptable;

	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("SELECT s.source_id, s.log,"
						 "       ARRAY(SELECT t.oid FROM pg_catalog.pg_trigger t"
						 "              WHERE t.tgname IN ('__dp_capture', '__dp_capture_truncate')"
						 "                AND t.tgparentid = 0"
						 "                AND t.tgrelid IN (SELECT relid FROM pg_catalog.pg_partition_tree(s.relation)"
						 "                                  UNION ALL SELECT s.relation))"
						 "  FROM dataproduct.source s"
						 " WHERE NOT EXISTS (SELECT 1 FROM dataproduct.output_source os"
						 "                    WHERE os.source_id = s.source_id)"
						 "    OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = s.relation)",
						 0, NULL, NULL, NULL, SPI_OK_SELECT);
	tuptable = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		id = SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 1, &isnull);
		Oid			log = DatumGetObjectId(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 2, &isnull));
		ArrayType  *triggers = DatumGetArrayTypeP(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 3, &isnull));
		Datum	   *elems;
		int			nelems;
		int			e;
		ObjectAddresses *objects = new_object_addresses();
		ObjectAddress addr;
		Oid			argtypes[1] = {INT8OID};

		deconstruct_array(triggers, OIDOID, sizeof(Oid), true, TYPALIGN_INT,
						  &elems, NULL, &nelems);
		for (e = 0; e < nelems; e++)
		{
			ObjectAddressSet(addr, TriggerRelationId, DatumGetObjectId(elems[e]));
			add_exact_object_address(&addr, objects);
		}
		if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(log)))
		{
			ObjectAddressSet(addr, RelationRelationId, log);
			add_exact_object_address(&addr, objects);
		}
		performMultipleDeletions(objects, DROP_RESTRICT,
								 PERFORM_DELETION_INTERNAL | PERFORM_DELETION_QUIETLY);
		free_object_addresses(objects);
		dataproduct_spi_exec("DELETE FROM dataproduct.source WHERE source_id = $1",
							 1, argtypes, &id, NULL, SPI_OK_DELETE);
	}
	dataproduct_restore_user(&saved);
}

/*
 * dataproduct_check_capture_drops
 *		From the sql_drop event trigger: refuse to drop a capture trigger on
 *		its own (dropping the relation is fine).
 */
void
dataproduct_check_capture_drops(void)
{
	/* only the extension's triggers: a table of a captured relation's tree */
	dataproduct_spi_exec("SELECT d.object_identity"
						 "  FROM pg_catalog.pg_event_trigger_dropped_objects() d,"
						 "       LATERAL pg_catalog.to_regclass(pg_catalog.quote_ident(d.address_names[1])"
						 "                 OPERATOR(pg_catalog.||) '.'"
						 "                 OPERATOR(pg_catalog.||) pg_catalog.quote_ident(d.address_names[2])) r(rel)"
						 " WHERE d.object_type OPERATOR(pg_catalog.=) 'trigger' AND d.original"
						 "   AND d.address_names[3] OPERATOR(pg_catalog.=) ANY (ARRAY['" DP_CAPTURE_TRIGGER "', '" DP_CAPTURE_TRUNCATE_TRIGGER "'])"
						 "   AND EXISTS (SELECT FROM dataproduct.source s"
						 "                WHERE s.relation OPERATOR(pg_catalog.=) r.rel"
						 "                   OR s.relation OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT pg_catalog.pg_partition_ancestors(r.rel))))",
						 0, NULL, NULL, NULL, SPI_OK_SELECT);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop trigger %s",
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
				 errdetail("It captures changes for incrementally maintained data product outputs."),
				 errhint("Drop the outputs that read the table; capture goes with the last of them.")));
}

/*
 * dataproduct_mark_dropped_partitions
 *		From the sql_drop event trigger: a partition (at any depth) of a
 *		captured partitioned table that is dropped takes its rows along
 *		without any trigger seeing them, so the consumers of that table
 *		rebuild (a marker in its log).  The partition is gone from the
 *		catalogs by now: it is known by the capture triggers dropped with it
 *		(a detached partition has none; a captured table dropped itself
 *		takes its outputs along), and its captured ancestor by the
 *		AccessExclusiveLock that dropping a partition takes on its parent.
 *		A captured tree this transaction locked so for another reason gets
 *		a rebuild it did not need, never one too few.  SPI connected,
 *		search_path pinned.
 */
void
dataproduct_mark_dropped_partitions(void)
{
	DpSavedUser saved;
	SPITupleTable *tuptable;
	uint64		n;
	uint64		i;

	dataproduct_spi_exec("SELECT 1 FROM pg_catalog.pg_event_trigger_dropped_objects() d"
						 " WHERE d.object_type OPERATOR(pg_catalog.=) 'trigger' AND NOT d.original"
						 "   AND d.address_names[3] OPERATOR(pg_catalog.=) ANY (ARRAY['" DP_CAPTURE_TRIGGER "', '" DP_CAPTURE_TRUNCATE_TRIGGER "'])"
						 " LIMIT 1",
						 0, NULL, NULL, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return;
	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("SELECT s.log FROM dataproduct.source s"
						 "  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.relation AND c.relkind OPERATOR(pg_catalog.=) 'p'"
						 " WHERE EXISTS (SELECT FROM pg_catalog.pg_partition_tree(s.relation) t"
						 "                 JOIN pg_catalog.pg_locks l ON l.relation OPERATOR(pg_catalog.=) t.relid"
						 "                WHERE l.locktype OPERATOR(pg_catalog.=) 'relation'"
						 "                  AND l.database OPERATOR(pg_catalog.=) (SELECT oid FROM pg_catalog.pg_database"
						 "                                       WHERE datname OPERATOR(pg_catalog.=) pg_catalog.current_database())"
						 "                  AND l.pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid()"
						 "                  AND l.mode OPERATOR(pg_catalog.=) 'AccessExclusiveLock' AND l.granted)",
						 0, NULL, NULL, NULL, SPI_OK_SELECT);
	dataproduct_restore_user(&saved);
	tuptable = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		log_marker(DatumGetObjectId(SPI_getbinval(tuptable->vals[i],
												  tuptable->tupdesc, 1, &isnull)),
				   false);
	}
}

/*
 * dataproduct_sync_partition_capture
 *		From the ddl_command_end event trigger, after CREATE TABLE or ALTER
 *		TABLE: every partition, at any depth, of a captured partitioned
 *		table carries the TRUNCATE capture trigger (the row trigger is
 *		cloned by PostgreSQL), and a table that is no longer a captured
 *		relation or a partition of one (a detached partition) carries
 *		none.  The partitions' owners need no rights for this: the triggers
 *		are installed and removed as the catalog owner.  Removal deletes
 *		the trigger directly, without the guard against dropping capture
 *		triggers.  SPI connected, search_path pinned.
 */
void
dataproduct_sync_partition_capture(void)
{
	DpSavedUser saved;
	SPITupleTable *tuptable;
	uint64		n;
	uint64		i;
	ObjectAddresses *stale;

	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("SELECT p.relid, s.log::pg_catalog.text"
						 "  FROM dataproduct.source s"
						 "  JOIN pg_catalog.pg_class c ON c.oid = s.relation AND c.relkind = 'p',"
						 "       LATERAL pg_catalog.pg_partition_tree(s.relation) p"
						 " WHERE p.relid <> s.relation"
						 "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t"
						 "                    WHERE t.tgrelid = p.relid AND t.tgname = '__dp_capture_truncate')",
						 0, NULL, NULL, NULL, SPI_OK_SELECT);
	tuptable = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Oid			partition = DatumGetObjectId(SPI_getbinval(tuptable->vals[i],
															   tuptable->tupdesc, 1, &isnull));

		capture_truncate_on(partition, SPI_getvalue(tuptable->vals[i], tuptable->tupdesc, 2));
	}

	dataproduct_spi_exec("SELECT t.oid FROM pg_catalog.pg_trigger t"
						 " WHERE t.tgname = '__dp_capture_truncate' AND t.tgparentid = 0"
						 "   AND t.tgfoid IN (SELECT f.oid FROM pg_catalog.pg_proc f"
						 "                     JOIN pg_catalog.pg_namespace n ON n.oid = f.pronamespace"
						 "                    WHERE f.proname = 'capture' AND f.pronargs = 0"
						 "                      AND n.nspname IN ('dataproduct', 'dataproduct_internal'))"
						 "   AND NOT EXISTS (SELECT 1 FROM dataproduct.source s"
						 "                    WHERE (s.relation = t.tgrelid OR s.relation IN (SELECT pg_catalog.pg_partition_ancestors(t.tgrelid))))",
						 0, NULL, NULL, NULL, SPI_OK_SELECT);
	stale = new_object_addresses();
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		ObjectAddress addr;

		ObjectAddressSet(addr, TriggerRelationId,
						 DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														SPI_tuptable->tupdesc, 1, &isnull)));
		add_exact_object_address(&addr, stale);
	}
	if (SPI_processed > 0)
		performMultipleDeletions(stale, DROP_RESTRICT,
								 PERFORM_DELETION_INTERNAL | PERFORM_DELETION_QUIETLY);
	free_object_addresses(stale);
	dataproduct_restore_user(&saved);
}

/*
 * dataproduct_check_capture_alters
 *		From the ddl_command_end event trigger: capture triggers must stay
 *		enabled (refuse the command otherwise), and an ALTER TABLE of a
 *		captured relation or of one of its partitions, which may attach or
 *		detach partitions (at any depth), makes its consumers rebuild (a
 *		marker in the log).
 */
void
dataproduct_check_capture_alters(void)
{
	DpSavedUser saved;

	dataproduct_spi_exec("SELECT t.tgrelid::pg_catalog.regclass::text, t.tgname"
						 "  FROM pg_catalog.pg_trigger t"
						 " WHERE t.tgname IN ('__dp_capture', '__dp_capture_truncate')"
						 "   AND t.tgenabled <> 'A'"
						 "   AND EXISTS (SELECT 1 FROM dataproduct.source s"
						 "                WHERE (s.relation = t.tgrelid OR s.relation IN (SELECT pg_catalog.pg_partition_ancestors(t.tgrelid))))"
						 " LIMIT 1",
						 0, NULL, NULL, NULL, SPI_OK_SELECT);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot disable trigger %s on %s",
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2),
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
				 errdetail("It captures changes for incrementally maintained data product outputs."),
				 errhint("Drop the outputs that read the table, or declare them with refresh => 'full'.")));

	dataproduct_spi_exec("SELECT DISTINCT s.log FROM pg_catalog.pg_event_trigger_ddl_commands() c"
						 "  JOIN dataproduct.source s"
						 "    ON (s.relation = c.objid OR s.relation IN (SELECT pg_catalog.pg_partition_ancestors(c.objid)))"
						 " WHERE c.command_tag = 'ALTER TABLE'"
						 "   AND c.classid = 'pg_catalog.pg_class'::pg_catalog.regclass",
						 0, NULL, NULL, NULL, SPI_OK_SELECT);
	if (SPI_processed > 0)
	{
		SPITupleTable *tuptable = SPI_tuptable;
		uint64		n = SPI_processed;
		uint64		i;

		dataproduct_become_catalog_owner(&saved);
		for (i = 0; i < n; i++)
		{
			bool		isnull;
			Oid			log = DatumGetObjectId(SPI_getbinval(tuptable->vals[i],
															 tuptable->tupdesc, 1, &isnull));

			dataproduct_restore_user(&saved);
			log_marker(log, false);
			dataproduct_become_catalog_owner(&saved);
		}
		dataproduct_restore_user(&saved);
	}
}
