/*-------------------------------------------------------------------------
 *
 * progress.h
 *	  Progress of long recomputations (progress.c).
 *
 * IDENTIFICATION
 *	  src/progress.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATAPRODUCT_PROGRESS_H
#define DATAPRODUCT_PROGRESS_H

#include "postgres.h"

extern void dataproduct_progress_init(void);
extern void dataproduct_progress_begin(int64 output_id, const char *kind,
									   Oid query_view);
extern void dataproduct_progress_end(void);

#endif							/* DATAPRODUCT_PROGRESS_H */
