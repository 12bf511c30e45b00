/*-------------------------------------------------------------------------
 *
 * refresh.h
 *	  One refresh: bringing an output's store up to date with its query.
 *
 * IDENTIFICATION
 *	  src/refresh.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATAPRODUCT_REFRESH_H
#define DATAPRODUCT_REFRESH_H

#include "catalog.h"

extern int64 dataproduct_refresh_output(DpOutput *output, bool by_worker);
extern void dataproduct_check_owner_can_read(DpOutput *output, Oid owner);

#endif							/* DATAPRODUCT_REFRESH_H */
