/*-------------------------------------------------------------------------
 *
 * batch.h
 *	  Reading the change logs: batches by snapshot, their sizes, trimming.
 *
 * IDENTIFICATION
 *	  src/batch.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATAPRODUCT_BATCH_H
#define DATAPRODUCT_BATCH_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/snapshot.h"

/* A source an output consumes, and the size of its batch. */
typedef struct DpSourceBatch
{
	Oid			relid;
	Oid			log;
	char	   *origin;			/* where the log's xids come from */
	int64		rows;			/* batch rows counted (capped) */
	bool		marker;			/* the batch holds a rebuild marker */
	bool		counted;		/* rows and marker were counted */
} DpSourceBatch;

extern List *dataproduct_output_sources(int64 output_id);
extern DpSourceBatch *dataproduct_find_source(List *sources, Oid relid);
extern void dataproduct_refuse_own_changes(Snapshot snap, List *sources,
										   const char *address);
extern Datum dataproduct_snapshot_to_record(Datum snap);
extern double dataproduct_source_rows(List *sources);
extern void dataproduct_batch_sizes(Snapshot snap, List *sources,
									Datum snapdatum, Datum old_snap,
									int64 cap);
extern void dataproduct_clear_foreign_logs(Snapshot snap, List *sources,
										   const char *origin);
extern void dataproduct_trim_logs(Snapshot snap, List *sources);

#endif							/* DATAPRODUCT_BATCH_H */
