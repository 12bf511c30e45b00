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
 *	 __dp_truncate  boolean, true on the marker of a TRUNCATE (NULL on
 *	              images and on other markers); from 0.2.0
 *
 * Rows are in no particular order.  The only index is a partial one on
 * markers (source_<id>_markers).  A TRUNCATE removes the images its own
 * transaction logged before it: the table it empties no longer holds
 * them, so a transaction's images are, after its TRUNCATE marker, the rows
 * it wrote into the emptied table (history outputs rely on it, history.c).
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
#define DP_LOG_TRUNCATE	"__dp_truncate"

extern Oid	dataproduct_capture_relation(Oid relid, Bitmapset *attnos,
										 int64 *source_id);
extern void dataproduct_release_sources(void);
extern bool dataproduct_captured_in_transaction(void);
extern void dataproduct_check_capture_drops(void);
extern void dataproduct_check_capture_alters(void);
extern void dataproduct_mark_dropped_partitions(void);
extern void dataproduct_sync_partition_capture(void);

#endif							/* DATAPRODUCT_CAPTURE_H */
