/*-------------------------------------------------------------------------
 *
 * analyze.h
 *	  Analysis of output queries.
 *
 * IDENTIFICATION
 *	  src/analyze.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATAPRODUCT_ANALYZE_H
#define DATAPRODUCT_ANALYZE_H

#include "postgres.h"

#include "nodes/parsenodes.h"

/* What declaration needs to know about an output query. */
typedef struct DpQueryInfo
{
	RawStmt    *raw;			/* the single raw statement */
	Query	   *query;			/* its analysis */
	List	   *colnames;		/* output column names (char *) */
	bool		has_volatile;	/* calls volatile functions */
} DpQueryInfo;

extern DpQueryInfo *dataproduct_analyze_query(const char *sql);
extern void dataproduct_check_temp_objects(Oid query_view);
extern void dataproduct_check_row_locks(Oid query_view, const char *address);

#endif							/* DATAPRODUCT_ANALYZE_H */
