/*-------------------------------------------------------------------------
 *
 * quality.h
 *	  Quality checks run after refreshes.
 *
 * IDENTIFICATION
 *	  src/quality.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATAPRODUCT_QUALITY_H
#define DATAPRODUCT_QUALITY_H

#include "utils/snapshot.h"

#include "catalog.h"

extern void dataproduct_checks_after_refresh(DpOutput *output, Snapshot snap,
											 Datum snapdatum, bool applied,
											 Datum written);
extern void dataproduct_record_failed_checks(void);

#endif							/* DATAPRODUCT_QUALITY_H */
