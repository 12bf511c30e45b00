/*-------------------------------------------------------------------------
 *
 * capture.h
 *	  Change capture on the sources of incrementally maintained outputs.
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

extern char *dataproduct_origin(void);
extern Oid	dataproduct_capture_relation(Oid relid, Bitmapset *attnos,
										 int64 *source_id);
extern void dataproduct_release_sources(void);
extern void dataproduct_check_capture_drops(void);
extern void dataproduct_check_capture_alters(void);

#endif							/* DATAPRODUCT_CAPTURE_H */
