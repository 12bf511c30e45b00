/*-------------------------------------------------------------------------
 *
 * ddl.h
 *	  Keeping the catalog consistent with users' DDL.
 *
 * IDENTIFICATION
 *	  src/ddl.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATAPRODUCT_DDL_H
#define DATAPRODUCT_DDL_H

extern void dataproduct_ddl_init(void);
extern void dataproduct_forget_dropped(void);

#endif							/* DATAPRODUCT_DDL_H */
