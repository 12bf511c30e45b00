/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  Background workers that keep outputs fresh.
 *
 * IDENTIFICATION
 *	  src/worker.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATAPRODUCT_WORKER_H
#define DATAPRODUCT_WORKER_H

extern void dataproduct_worker_init(void);

#endif							/* DATAPRODUCT_WORKER_H */
