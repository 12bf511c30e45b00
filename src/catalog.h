/*-------------------------------------------------------------------------
 *
 * catalog.h
 *	  The catalog of pg_dataproduct: its rows as structs, names and rights.
 *
 * IDENTIFICATION
 *	  src/catalog.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATAPRODUCT_CATALOG_H
#define DATAPRODUCT_CATALOG_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"

/* Lifecycle statuses of a product (catalog column product.status). */
#define DP_STATUS_DRAFT			"draft"
#define DP_STATUS_PUBLISHED		"published"
#define DP_STATUS_DEPRECATED	"deprecated"
#define DP_STATUS_RETIRED		"retired"

/* Prefix reserved for the engine's hidden columns (stores, change logs). */
#define DP_RESERVED_PREFIX		"__dp_"

typedef struct DpDomain
{
	int64		id;
	char	   *name;
	Oid			schema;
	Oid			owner;
	bool		created_schema;
} DpDomain;

typedef struct DpProduct
{
	int64		id;
	int64		domain_id;
	char	   *domain;			/* domain name */
	char	   *name;			/* product name within the domain */
	char	   *address;		/* domain.name */
	Oid			owner;
	Oid			schema;			/* the domain's schema */
	char	   *version;
	char	   *status;
} DpProduct;

typedef struct DpOutput
{
	int64		id;
	int64		product_id;
	char	   *name;
	char	   *address;		/* domain.output, the view's name */
	char	   *product;		/* product address */
	char	   *product_status;
	Oid			owner;			/* the product owner */
	Oid			view;
	Oid			store;
	Oid			query_view;
	Oid			pre_view;		/* incremental outputs: pre-aggregation view */
	char	   *mode;
	bool		history;		/* a history output (history.c) */
	/* the settings the output was declared under, and is evaluated under */
	char	   *timezone;
	char	   *datestyle;
	char	   *intervalstyle;
} DpOutput;

/* rights */
extern void dataproduct_check_acts_as(Oid owner, const char *objkind,
									  const char *objname);
extern void dataproduct_check_may_assign(Oid owner);

/* names and addresses */
extern void dataproduct_check_name(const char *kind, const char *name);
extern void dataproduct_split_address(const char *address, char **domain,
									  char **name);
extern char *dataproduct_origin(void);
extern char *dataproduct_extension_version(void);
extern char *dataproduct_helper_function(const char *name);
extern bool dataproduct_helper_moved(const char *name);

/* lookups (SPI must be connected) */
extern DpDomain *dataproduct_get_domain(const char *name, bool missing_ok);
extern DpProduct *dataproduct_get_product(const char *address, bool missing_ok);
extern DpOutput *dataproduct_get_output(Oid view, bool missing_ok);
extern DpOutput *dataproduct_get_output_by_id(int64 id);
extern List *dataproduct_product_outputs(int64 product_id);
extern List *dataproduct_outputs_reading(Oid view);
extern List *dataproduct_broken_outputs(void);
extern void dataproduct_check_interval(const char *argname, Interval *iv,
									   bool zero_ok, const char *hint);
extern AttrNumber dataproduct_output_column(DpOutput *output, const char *column);

/* drops */
extern void dataproduct_drop_output_relations(DpOutput *output,
											  DropBehavior behavior, int flags);

#endif							/* DATAPRODUCT_CATALOG_H */
