/*-------------------------------------------------------------------------
 *
 * history.h
 *	  History outputs: every version of a source's rows, with its validity.
 *
 * IDENTIFICATION
 *	  src/history.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATAPRODUCT_HISTORY_H
#define DATAPRODUCT_HISTORY_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "utils/snapshot.h"

#include "apply.h"
#include "catalog.h"
#include "plan.h"

/* the validity columns of a history output's store and view */
#define DP_HISTORY_FROM		"valid_from"
#define DP_HISTORY_TO		"valid_to"

/* What a history output keeps: the query's columns, and its key among them. */
typedef struct DpHistory
{
	Oid			relid;			/* the one table read */
	Index		rtindex;		/* its range table index in the query */
	List	   *columns;		/* DpColumn, the query's columns */
	List	   *key;			/* int, 1-based positions in columns */
	char	   *key_name;		/* the index that makes it a key */
} DpHistory;

extern DpHistory *dataproduct_history_plan(DpPlan *plan, const char *address);
extern char *dataproduct_history_view_sql(DpHistory *h, Oid store, bool gated);
extern Oid	dataproduct_history_build(DpHistory *h, int64 id, const char *qview);
extern const char *dataproduct_history_refresh(DpOutput *output, DpPlan *plan,
											   bool populated, bool foreign,
											   List *sources, Snapshot snap,
											   Datum snapdatum, Datum old_snap,
											   TimestampTz now,
											   DpApplyResult *res);

#endif							/* DATAPRODUCT_HISTORY_H */
