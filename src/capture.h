/*-------------------------------------------------------------------------
 *
 * capture.h
 *	  Change capture on the sources of incrementally maintained outputs,
 *	  and the format of the change logs it writes.
 *
 * A change log, dataproduct_internal.source_<id>_log, has the captured
 * columns of its source (same names, types and collations), then:
 *
 *	 __dp_xid     xid8, the writing transaction's full xid; a batch is the
 *	              set of rows whose xid one snapshot sees and another not
 *	 __dp_weight  int2: +1 a new row image, -1 an old one, 0 a marker
 *	              (TRUNCATE or ALTER of the source: consumers rebuild)
 *	 __dp_at      timestamptz, when the writing statement started
 *
 * Rows are in no particular order.  The only index is a partial one on
 * markers (source_<id>_markers).
 *
 * IDENTIFICATION
 *	  src/capture.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATAPRODUCT_CAPTURE_H
#define DATAPRODUCT_CAPTURE_H

#include "postgres.h"

#include "nodes/bitmapset.h"

/* the triggers that write a change log */
#define DP_CAPTURE_TRIGGER			"__dp_capture"
#define DP_CAPTURE_TRUNCATE_TRIGGER	"__dp_capture_truncate"

/* the change log's own columns, after the captured ones */
#define DP_LOG_XID		"__dp_xid"
#define DP_LOG_WEIGHT	"__dp_weight"
#define DP_LOG_AT		"__dp_at"

extern Oid	dataproduct_capture_relation(Oid relid, Bitmapset *attnos,
										 int64 *source_id);
extern void dataproduct_release_sources(void);
extern bool dataproduct_captured_in_transaction(void);
extern void dataproduct_check_capture_drops(void);
extern void dataproduct_check_capture_alters(void);
extern void dataproduct_mark_dropped_partitions(void);
extern void dataproduct_sync_partition_capture(void);

#endif							/* DATAPRODUCT_CAPTURE_H */
