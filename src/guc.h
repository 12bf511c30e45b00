/*-------------------------------------------------------------------------
 *
 * guc.h
 *	  Configuration parameters of pg_dataproduct.
 *
 * IDENTIFICATION
 *	  src/guc.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATAPRODUCT_GUC_H
#define DATAPRODUCT_GUC_H

extern double dataproduct_full_refresh_fraction;
extern bool dataproduct_enabled;
extern int	dataproduct_max_workers;
extern int	dataproduct_naptime;
extern int	dataproduct_worker_idle_timeout;
extern int	dataproduct_history_days;
extern int	dataproduct_log_truncate_size;

extern void dataproduct_define_gucs(void);

#endif							/* DATAPRODUCT_GUC_H */
