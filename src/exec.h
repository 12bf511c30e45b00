/*-------------------------------------------------------------------------
 *
 * exec.h
 *	  Running SQL safely: SPI with a pinned search_path, statements at a
 *	  snapshot with kept plans, identities, settings, subtransactions.
 *
 * IDENTIFICATION
 *	  src/exec.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATAPRODUCT_EXEC_H
#define DATAPRODUCT_EXEC_H

#include "postgres.h"

#include "executor/spi.h"
#include "utils/elog.h"
#include "utils/snapshot.h"

/* Saved identity while running as another role; see exec.c. */
typedef struct DpSavedUser
{
	Oid			userid;
	int			sec_context;
	int			nestlevel;		/* GUC nest level of owner code, or 0 */
} DpSavedUser;

extern void dataproduct_exec_init(void);

/* SPI session with a pinned search_path */
extern void dataproduct_spi_connect(void);
extern void dataproduct_spi_finish(void);
extern uint64 dataproduct_spi_exec(const char *sql, int nargs, Oid *argtypes,
								   Datum *values, const char *nulls,
								   int expected_rc);
extern void dataproduct_exec_ddl(const char *sql);

/* statements at a snapshot, with plans kept for the backend's life */
extern SPIPlanPtr dataproduct_prepare_cached(const char *sql, int nargs,
											 Oid *argtypes);
extern uint64 dataproduct_run_at(Snapshot snap, const char *sql, int nargs,
								 Oid *argtypes, Datum *values,
								 const char *nulls, int expected, bool reuse);
extern int64 dataproduct_result_int8(int col);

/* settings an output is evaluated under */
extern int	dataproduct_pin_settings(const char *timezone,
									 const char *datestyle,
									 const char *intervalstyle);
extern void dataproduct_unpin_settings(int nestlevel);
extern void dataproduct_set_setting(const char *name, const char *value);

/* identities */
extern void dataproduct_become_catalog_owner(DpSavedUser *saved);
extern void dataproduct_become_owner(Oid owner, DpSavedUser *saved);
extern void dataproduct_restore_user(DpSavedUser *saved);

/* names */
extern char *dataproduct_qualified_name(Oid relid);
extern char *dataproduct_operator_name(Oid opr);
extern char *dataproduct_type_equality(Oid type);

/* subtransactions that report their error instead of raising it */
extern void dataproduct_refuse_on_standby(const char *action);
extern ErrorData *dataproduct_in_subtransaction(void (*fn) (void *), void *arg);

#endif							/* DATAPRODUCT_EXEC_H */
