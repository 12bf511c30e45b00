/*-------------------------------------------------------------------------
 *
 * checks.h
 *	  The kinds of quality checks and the queries that run them.
 *
 * IDENTIFICATION
 *	  src/checks.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATAPRODUCT_CHECKS_H
#define DATAPRODUCT_CHECKS_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/jsonb.h"

#include "catalog.h"

/* A declared check, as read from the catalog. */
typedef struct DpCheck
{
	int64		id;
	char	   *name;
	char	   *kind;
	char	   *severity;
	Jsonb	   *params;
	bool		last_passed;	/* its latest result after a refresh passed */
} DpCheck;

extern char *dataproduct_check_param(DpCheck *check, const char *key);
extern List *dataproduct_check_param_list(DpCheck *check, const char *key);
extern Oid	dataproduct_check_column_type(DpOutput *output, const char *column,
										  const char *kind);
extern char *dataproduct_cast_type_name(Oid type);
extern char *dataproduct_type_operator(Oid type, int which, const char *what,
									   const char *column);
extern char *dataproduct_check_query(DpOutput *output, DpCheck *check,
									 const char *rows);

#endif							/* DATAPRODUCT_CHECKS_H */
