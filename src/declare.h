/*-------------------------------------------------------------------------
 *
 * declare.h
 *	  The declaration API of outputs, and the argument helpers that the
 *	  declaration API of domains and products (product.c) shares.
 *
 * IDENTIFICATION
 *	  src/declare.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATAPRODUCT_DECLARE_H
#define DATAPRODUCT_DECLARE_H

#include "postgres.h"

#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "utils/timestamp.h"

#include "catalog.h"

extern char *dataproduct_required_text(FunctionCallInfo fcinfo, int argno,
									   const char *argname);
extern char *dataproduct_optional_text(FunctionCallInfo fcinfo, int argno);
extern Datum dataproduct_text_or_null(const char *value, char *null);
extern Datum dataproduct_arg_or_null(FunctionCallInfo fcinfo, int argno,
									 char *null);
extern void dataproduct_check_intervals(FunctionCallInfo fcinfo, int min_arg,
										int schedule_arg);
extern char *dataproduct_join_names(List *names);
extern char *dataproduct_output_addresses(List *outputs);
extern void dataproduct_drop_output_objects(DpOutput *output,
											DropBehavior behavior);
extern void dataproduct_comment_views(int64 product_id, int64 output_id);

#endif							/* DATAPRODUCT_DECLARE_H */
