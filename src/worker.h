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

#include "postgres.h"

extern bool dataproduct_in_worker;

extern void dataproduct_worker_init(void);
extern void dataproduct_note_capture(void);
extern bool dataproduct_workers_available(void);

#endif							/* DATAPRODUCT_WORKER_H */
