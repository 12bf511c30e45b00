/*-------------------------------------------------------------------------
 *
 * access.h
 *	  Self-service access to outputs: requests, decisions, grants, expiry.
 *
 * IDENTIFICATION
 *	  src/access.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATAPRODUCT_ACCESS_H
#define DATAPRODUCT_ACCESS_H

#include "postgres.h"

#include "catalog.h"

/* the worker's expiry round (SPI connected, a transaction open) */
extern int	dataproduct_access_expire(bool by_worker, long *next_ms);

/* add_output: a new output joins the access approved for its whole product */
extern void dataproduct_access_extend(DpOutput *output);

/* alter_product(status => 'retired') ends the grants made through requests */
extern void dataproduct_access_retire(DpProduct *product);

#endif							/* DATAPRODUCT_ACCESS_H */
