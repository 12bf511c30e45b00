/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  The catalog of pg_dataproduct: reading its rows, and the rules about
 *	  names and rights that every declaration goes through.
 *
 * The catalog tables (dataproduct.domain, product, output, source, ...;
 * see the install script) are the single source of truth about
 * declarations.  This file reads them into DpDomain, DpProduct and
 * DpOutput structs for the stages above, and holds the rules around them:
 *
 * - names of domains, products and outputs are plain lower-case
 *   identifiers, and a product is addressed "domain.product";
 * - every SQL-callable function runs as its caller; the caller's rights
 *   are checked here (dataproduct_check_acts_as: "may act as the owner of
 *   this object", dataproduct_check_may_assign: "may give an object to this
 *   role") before anything is written, as the catalog owner (exec.c).
 * - roles read the catalog through its views, which show each role the
 *   products it may see (dataproduct_internal.visible_product) and error
 *   texts only where it may read the output; the tables describing
 *   domains, products and outputs carry no grants.  So the lookups here
 *   read them as the catalog owner (catalog_select), whoever calls: they
 *   serve the extension's own rules, which then decide what the caller
 *   may do.
 *
 * Lookups need SPI connected (exec.c) and allocate in the SPI procedure
 * context, so their results live until dataproduct_spi_finish.
 *
 * IDENTIFICATION
 *	  src/catalog.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xlog.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_extension.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "exec.h"

/* ----------------------------------------------------------------
 * Rights
 * ----------------------------------------------------------------
 */

/*
 * dataproduct_check_acts_as
 *		Error out unless the current user has the privileges of owner
 *		(is a member of it that inherits, or a superuser).
 */
void
dataproduct_check_acts_as(Oid owner, const char *objkind, const char *objname)
{
	if (!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for %s %s", objkind, objname),
				 errdetail("Only members of role \"%s\" may change it.",
						   GetUserNameFromId(owner, false)),
				 errhint("Ask a member of role \"%s\" to make the change, or to grant you membership.",
						 GetUserNameFromId(owner, false))));
}

/*
 * dataproduct_check_may_assign
 *		Error out unless the current user may make owner the owner of
 *		something, by the rule of ALTER ... OWNER TO: be a member of it.
 */
void
dataproduct_check_may_assign(Oid owner)
{
	if (!is_member_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be member of role \"%s\"",
						GetUserNameFromId(owner, false)),
				 errhint("Only members of a role may make it the owner of a domain or product.")));
}

/* ----------------------------------------------------------------
 * Names and addresses
 * ----------------------------------------------------------------
 */

/*
 * dataproduct_check_name
 *		Error out unless name is a simple lower-case identifier.
 *
 * Domain, product and output names become schema and view names that
 * analysts type; keeping them to identifiers that never need quotes keeps
 * every product addressable as plain domain.name in any SQL client.
 */
void
dataproduct_check_name(const char *kind, const char *name)
{
	const char *p;
	bool		ok = (name[0] != '\0' && strlen(name) < NAMEDATALEN &&
					  !(name[0] >= '0' && name[0] <= '9'));

	for (p = name; ok && *p; p++)
		ok = ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			  *p == '_');

	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid %s name \"%s\"", kind, name),
				 errhint("Use lower-case letters, digits and underscores, starting with a letter or an underscore, at most %d bytes.",
						 NAMEDATALEN - 1)));
	if (strcmp(quote_identifier(name), name) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_RESERVED_NAME),
				 errmsg("%s name \"%s\" is an SQL key word", kind, name),
				 errhint("Choose a name that needs no quotes in SQL, such as \"%s_%s\".",
						 name, kind)));
	if (strncmp(name, "pg_", 3) == 0 ||
		strncmp(name, "dataproduct", 11) == 0 ||
		strncmp(name, DP_RESERVED_PREFIX, strlen(DP_RESERVED_PREFIX)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_RESERVED_NAME),
				 errmsg("%s name \"%s\" is reserved", kind, name),
				 errdetail("Names starting with \"pg_\", \"dataproduct\" or \"%s\" are reserved for the system.",
						   DP_RESERVED_PREFIX)));
}

/*
 * dataproduct_split_address
 *		Split a product address "domain.product" into its two names.
 *
 * The result strings are palloc'd in the current context.
 */
void
dataproduct_split_address(const char *address, char **domain, char **name)
{
	const char *dot = strchr(address, '.');

	if (dot == NULL || strchr(dot + 1, '.') != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid product address \"%s\"", address),
				 errhint("A product is addressed as domain.product, for example \"player.plays\".")));
	*domain = pnstrdup(address, dot - address);
	*name = pstrdup(dot + 1);
	dataproduct_check_name("domain", *domain);
	dataproduct_check_name("product", *name);
}

/*
 * dataproduct_extension_version
 *		The version of pg_dataproduct installed in this database (read from
 *		pg_extension, without SPI), or NULL if it is not installed.  The
 *		library serves only its own version's catalog (DATAPRODUCT_VERSION).
 *		A transaction must be open.
 */
char *
dataproduct_extension_version(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	char	   *version = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("pg_dataproduct"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = text_to_cstring(DatumGetTextPP(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

/*
 * helper_exists
 *		Whether a function named name exists in schema nspname (syscache
 *		only: no privilege is needed to ask).
 */
static bool
helper_exists(const char *nspname, const char *name)
{
	Oid			nsp = get_namespace_oid(nspname, true);
	CatCList   *list;
	bool		found = false;
	int			i;

	if (!OidIsValid(nsp))
		return false;
	list = SearchSysCacheList1(PROCNAMEARGSNSP, CStringGetDatum(name));
	for (i = 0; i < list->n_members; i++)
		if (((Form_pg_proc) GETSTRUCT(&list->members[i]->tuple))->pronamespace == nsp)
			found = true;
	ReleaseSysCacheList(list);
	return found;
}

/*
 * dataproduct_helper_moved
 *		Whether the extension's helper function name (capture,
 *		assert_populated, ...) is in dataproduct_internal, where 0.2.0 put
 *		it, and not in dataproduct, where 0.1.0 had it (and where it stays
 *		until the update script moves it, while the script runs).
 */
bool
dataproduct_helper_moved(const char *name)
{
	return !helper_exists("dataproduct", name) &&
		helper_exists("dataproduct_internal", name);
}

/*
 * dataproduct_helper_function
 *		The schema-qualified name of one of the extension's helper functions,
 *		for generated SQL: where the catalog has it (dataproduct_internal
 *		from 0.2.0 on, dataproduct in a catalog still at 0.1.0).  palloc'd
 *		in the current memory context.
 */
char *
dataproduct_helper_function(const char *name)
{
	return quote_qualified_identifier(helper_exists("dataproduct", name) ?
									  "dataproduct" : "dataproduct_internal", name);
}

/*
 * dataproduct_origin
 *		The cluster and database transaction ids belong to.  A snapshot or a
 *		change log recorded under another origin (a restored dump) is
 *		meaningless here.
 */
char *
dataproduct_origin(void)
{
	return psprintf(UINT64_FORMAT ":%u", GetSystemIdentifier(), MyDatabaseId);
}

/* ----------------------------------------------------------------
 * Lookups
 * ----------------------------------------------------------------
 */

/*
 * The history column is new in 0.2.0; a catalog still at 0.1.0 (refreshed
 * by hand until updated), or one the install script is still building,
 * has no history outputs.
 */
#define OUTPUT_HISTORY	"o.history"

/*
 * catalog_select
 *		Run a lookup of the catalog tables as the catalog owner (the tables
 *		are not readable by other roles) and return SPI_processed.  The
 *		statement is fixed text with $n parameters.
 */
static uint64
catalog_select(const char *sql, int nargs, Oid *argtypes, Datum *values)
{
	DpSavedUser saved;
	uint64		processed;

	if (strstr(sql, OUTPUT_HISTORY) != NULL)
	{
		Oid			nsp = get_namespace_oid("dataproduct", true);
		Oid			rel = OidIsValid(nsp) ? get_relname_relid("output", nsp) : InvalidOid;

		if (!OidIsValid(rel) || get_attnum(rel, "history") == InvalidAttrNumber)
		{
			/* a catalog before 0.2.0 (or being built): no history column */
			char	   *at = strstr(sql, OUTPUT_HISTORY);

			sql = psprintf("%.*sfalse%s", (int) (at - sql), sql,
						   at + strlen(OUTPUT_HISTORY));
		}
	}
	dataproduct_become_catalog_owner(&saved);
	processed = dataproduct_spi_exec(sql, nargs, argtypes, values, NULL,
									 SPI_OK_SELECT);
	dataproduct_restore_user(&saved);
	return processed;
}

static char *
text_col(HeapTuple tuple, TupleDesc desc, int col)
{
	char	   *value = SPI_getvalue(tuple, desc, col);

	return value;
}

static Datum
bin_col(HeapTuple tuple, TupleDesc desc, int col, bool *isnull)
{
	return SPI_getbinval(tuple, desc, col, isnull);
}

static Oid
oid_col(HeapTuple tuple, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = bin_col(tuple, desc, col, &isnull);

	return isnull ? InvalidOid : DatumGetObjectId(d);
}

static int64
int8_col(HeapTuple tuple, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = bin_col(tuple, desc, col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/*
 * dataproduct_get_domain
 *		Look a domain up by name.  Returns NULL if missing and missing_ok,
 *		errors out otherwise.  Allocates in the SPI procedure context.
 */
DpDomain *
dataproduct_get_domain(const char *name, bool missing_ok)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	DpDomain   *domain;
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;

	if (catalog_select("SELECT domain_id, name, schema, owner, created_schema"
					   "  FROM dataproduct.domain WHERE name = $1",
					   1, argtypes, values) == 0)
	{
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("domain \"%s\" does not exist", name),
				 errhint("Declare it with dataproduct.create_domain().")));
	}
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	domain = palloc0(sizeof(DpDomain));
	domain->id = int8_col(tuple, desc, 1);
	domain->name = text_col(tuple, desc, 2);
	domain->schema = oid_col(tuple, desc, 3);
	domain->owner = oid_col(tuple, desc, 4);
	domain->created_schema = DatumGetBool(bin_col(tuple, desc, 5, &isnull));
	return domain;
}

/*
 * dataproduct_get_product
 *		Look a product up by its address "domain.product".  Returns NULL if
 *		missing and missing_ok, errors out otherwise (also on a malformed
 *		address).  Allocates in the SPI procedure context.
 */
DpProduct *
dataproduct_get_product(const char *address, bool missing_ok)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	char	   *domain_name;
	char	   *product_name;
	DpProduct  *product;
	HeapTuple	tuple;
	TupleDesc	desc;

	dataproduct_split_address(address, &domain_name, &product_name);
	values[0] = CStringGetTextDatum(domain_name);
	values[1] = CStringGetTextDatum(product_name);
	if (catalog_select("SELECT p.product_id, p.domain_id, d.name, p.name, p.owner,"
					   "       d.schema, p.version, p.status"
					   "  FROM dataproduct.product p"
					   "  JOIN dataproduct.domain d USING (domain_id)"
					   " WHERE d.name = $1 AND p.name = $2",
					   2, argtypes, values) == 0)
	{
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("data product \"%s\" does not exist", address),
				 errhint("Declare it with dataproduct.create_product(), or list products in dataproduct.products.")));
	}
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	product = palloc0(sizeof(DpProduct));
	product->id = int8_col(tuple, desc, 1);
	product->domain_id = int8_col(tuple, desc, 2);
	product->domain = text_col(tuple, desc, 3);
	product->name = text_col(tuple, desc, 4);
	product->address = psprintf("%s.%s", product->domain, product->name);
	product->owner = oid_col(tuple, desc, 5);
	product->schema = oid_col(tuple, desc, 6);
	product->version = text_col(tuple, desc, 7);
	product->status = text_col(tuple, desc, 8);
	return product;
}

#define OUTPUT_SELECT \
	"SELECT o.output_id, o.product_id, o.name, d.name || '.' || o.name," \
	"       d.name || '.' || p.name, p.status, p.owner," \
	"       o.view, o.store, o.query_view, o.mode, o.pre_view," \
	"       o.timezone, o.datestyle, o.intervalstyle, " OUTPUT_HISTORY \
	"  FROM dataproduct.output o" \
	"  JOIN dataproduct.product p USING (product_id)" \
	"  JOIN dataproduct.domain d USING (domain_id) "

static DpOutput *
output_from_tuple(HeapTuple tuple, TupleDesc desc)
{
	DpOutput   *output = palloc0(sizeof(DpOutput));

	output->id = int8_col(tuple, desc, 1);
	output->product_id = int8_col(tuple, desc, 2);
	output->name = text_col(tuple, desc, 3);
	output->address = text_col(tuple, desc, 4);
	output->product = text_col(tuple, desc, 5);
	output->product_status = text_col(tuple, desc, 6);
	output->owner = oid_col(tuple, desc, 7);
	output->view = oid_col(tuple, desc, 8);
	output->store = oid_col(tuple, desc, 9);
	output->query_view = oid_col(tuple, desc, 10);
	output->mode = text_col(tuple, desc, 11);
	output->pre_view = oid_col(tuple, desc, 12);
	output->timezone = text_col(tuple, desc, 13);
	output->datestyle = text_col(tuple, desc, 14);
	output->intervalstyle = text_col(tuple, desc, 15);
	output->history = strcmp(text_col(tuple, desc, 16), "t") == 0;
	return output;
}

static List *
outputs_from_result(void)
{
	List	   *result = NIL;
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
		result = lappend(result,
						 output_from_tuple(SPI_tuptable->vals[i],
										   SPI_tuptable->tupdesc));
	return result;
}

/*
 * dataproduct_get_output
 *		Look an output up by its view.  Returns NULL if the relation is not an
 *		output and missing_ok, errors out otherwise.  Allocates in the SPI
 *		procedure context.
 */
DpOutput *
dataproduct_get_output(Oid view, bool missing_ok)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(view)};

	if (catalog_select(OUTPUT_SELECT "WHERE o.view = $1::pg_catalog.regclass",
					   1, argtypes, values) == 0)
	{
		char	   *relname = get_rel_name(view);

		if (missing_ok)
			return NULL;
		if (relname == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation with OID %u does not exist", view)));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("relation \"%s\" is not a data product output",
						dataproduct_qualified_name(view)),
				 errhint("Outputs are listed in dataproduct.outputs.")));
	}
	return output_from_tuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc);
}

/*
 * dataproduct_get_output_by_id
 *		Look an output up by its id; NULL if it is gone.
 */
DpOutput *
dataproduct_get_output_by_id(int64 id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(id)};

	if (catalog_select(OUTPUT_SELECT "WHERE o.output_id = $1",
					   1, argtypes, values) == 0)
		return NULL;
	return output_from_tuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc);
}

/*
 * dataproduct_product_outputs
 *		All outputs of a product, in declaration order.
 */
List *
dataproduct_product_outputs(int64 product_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(product_id)};

	catalog_select(OUTPUT_SELECT "WHERE o.product_id = $1 ORDER BY o.output_id",
				   1, argtypes, values);
	return outputs_from_result();
}

/*
 * dataproduct_outputs_reading
 *		The outputs whose query reads the given relation directly, found
 *		through the dependencies of their query views' rewrite rules.
 */
List *
dataproduct_outputs_reading(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};

	catalog_select(OUTPUT_SELECT
				   "WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r"
				   "   JOIN pg_catalog.pg_depend dep"
				   "     ON dep.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
				   "    AND dep.objid = r.oid"
				   "    AND dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
				   "  WHERE r.ev_class = o.query_view AND dep.refobjid = $1)"
				   " ORDER BY o.output_id",
				   1, argtypes, values);
	return outputs_from_result();
}

/*
 * dataproduct_broken_outputs
 *		The outputs that lost one of their relations (to a DROP ... CASCADE).
 */
List *
dataproduct_broken_outputs(void)
{
	catalog_select(OUTPUT_SELECT
				   "WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = o.view)"
				   "   OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = o.store)"
				   "   OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = o.query_view)"
				   "   OR (o.pre_view IS NOT NULL AND"
				   "       NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = o.pre_view))"
				   " ORDER BY o.output_id",
				   0, NULL, NULL);
	return outputs_from_result();
}

/*
 * dataproduct_output_column
 *		The attribute number of column in an output's view; errors out,
 *		naming the output, if there is no such column.
 */
AttrNumber
dataproduct_output_column(DpOutput *output, const char *column)
{
	AttrNumber	attnum = get_attnum(output->view, column);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of output %s does not exist",
						column, output->address),
				 errhint("The columns of an output are those of its view: \\d %s.",
						 output->address)));
	return attnum;
}

/* ----------------------------------------------------------------
 * Consistency after drops
 * ----------------------------------------------------------------
 */

/*
 * dataproduct_drop_output_relations
 *		Drop those of an output's view, store and query view that still
 *		exist (a cascade may have taken some already).  The caller has
 *		checked the right to do so.  With DROP_CASCADE, what reads them goes
 *		too.
 */
void
dataproduct_drop_output_relations(DpOutput *output, DropBehavior behavior,
								  int flags)
{
	Oid			relids[4] = {output->view, output->store, output->query_view,
	output->pre_view};
	ObjectAddresses *objects = new_object_addresses();
	size_t		i;

	for (i = 0; i < lengthof(relids); i++)
	{
		ObjectAddress addr;

		if (!OidIsValid(relids[i]) ||
			!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relids[i])))
			continue;
		ObjectAddressSet(addr, RelationRelationId, relids[i]);
		add_exact_object_address(&addr, objects);
	}
	performMultipleDeletions(objects, behavior, flags);
	free_object_addresses(objects);
}

/*
 * dataproduct_check_interval
 *		The one rule for the intervals the catalog keeps (a freshness
 *		promise, a refresh's min_interval and schedule): all parts of one
 *		sign, since '1 day -25 hours' reads as a day but compares as negative
 *		(a month counting 30 days and a day 24 hours, as in PostgreSQL), and
 *		positive, or zero where zero_ok.  Errors out naming the argument, with
 *		the hint given for a value of the wrong sign.
 */
void
dataproduct_check_interval(const char *argname, Interval *iv, bool zero_ok,
						   const char *hint)
{
	bool		pos = iv->month > 0 || iv->day > 0 || iv->time > 0;
	bool		neg = iv->month < 0 || iv->day < 0 || iv->time < 0;
	Interval	zero;
	int			sign;
	char	   *text;

	memset(&zero, 0, sizeof(zero));
	sign = DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(iv),
											 IntervalPGetDatum(&zero)));
	text = DatumGetCString(DirectFunctionCall1(interval_out,
											   IntervalPGetDatum(iv)));
	if (pos && neg)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not mix positive and negative parts", argname),
				 errdetail("The interval is \"%s\", which compares as %s: a month counts as 30 days and a day as 24 hours.",
						   text, sign < 0 ? "negative" : sign == 0 ? "zero" : "positive"),
				 errhint("Write it with parts of one sign, such as '23 hours' rather than '1 day -1 hour'.")));
	if (sign < 0 || (sign == 0 && !zero_ok))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 zero_ok ? errmsg("%s must not be negative", argname) :
				 errmsg("%s must be positive", argname),
				 hint ? errhint("%s", hint) : 0));
}
