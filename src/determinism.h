/*-------------------------------------------------------------------------
 *
 * determinism.h
 *	  Which expressions an incrementally maintained output may evaluate.
 *
 * IDENTIFICATION
 *	  src/determinism.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATAPRODUCT_DETERMINISM_H
#define DATAPRODUCT_DETERMINISM_H

#include "postgres.h"

#include "nodes/parsenodes.h"

/* flags of dataproduct_type_text_is_deterministic */
#define TEXT_JSON		0x01	/* its JSON form (casts to json count) */
#define TEXT_XML		0x02	/* its XML form (bytea follows xmlbinary) */
#define TEXT_IDENTITY	0x04	/* the same in every session (no float,
								 * whose text follows extra_float_digits, no
								 * bytea, which follows bytea_output) */

extern char *dataproduct_nondeterministic(Query *query);
extern bool dataproduct_type_text_is_deterministic(Oid type, int flags);

#endif							/* DATAPRODUCT_DETERMINISM_H */
