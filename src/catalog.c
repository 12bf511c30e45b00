/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  Catalog access, privilege rules and role switching of pg_dataproduct.
 *
 * The catalog tables dataproduct.domain, dataproduct.product and
 * dataproduct.output (see pg_dataproduct--0.1.0.sql) are the single source
 * of truth about declarations.  Everything that reads or writes them goes
 * through this file, so the rules around them live in one place:
 *
 * - Every SQL-callable function runs as its caller; none is SECURITY
 *   DEFINER.  The caller's rights are checked here (dataproduct_check_acts_as:
 *   "may act as the owner of this object", dataproduct_check_may_assign: "may
 *   give an object to this role"), then catalog rows are written as the owner
 *   of the catalog tables (dataproduct_become_catalog_owner).  Everybody may
 *   read the catalog.
 *
 * - User SQL (output queries) only ever runs as the product owner inside a
 *   security-restricted operation (dataproduct_become_owner), never as the
 *   caller or the catalog owner.
 *
 * - Generated SQL runs with search_path pinned to pg_catalog, pg_temp
 *   (dataproduct_pin_search_path), and names every object it touches with
 *   schema-qualified, quoted identifiers.  Output queries are the exception:
 *   they are analysed under the caller's search_path, exactly like CREATE
 *   VIEW, and kept as an analysed view that no later search_path can change.
 *
 * - Identity switches and GUC nest levels are undone by transaction abort,
 *   so error paths need no PG_TRY (the same reasoning as matview.c).
 *
 * The catalog references relations by regclass.  When a user drops one of
 * them with DROP ... CASCADE (a source table, a domain's schema), the
 * sql_drop event trigger calls dataproduct_forget_dropped, which drops what
 * is left of the affected outputs and forgets them, so the catalog never
 * points at missing objects.
 *
 * IDENTIFICATION
 *	  src/catalog.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "capture.h"
#include "catalog.h"

PG_FUNCTION_INFO_V1(dataproduct_on_sql_drop);
PG_FUNCTION_INFO_V1(dataproduct_on_ddl_end);

/*
 * GUC nest levels of the pinned search_path, one per SPI connection of this
 * module: connections nest when our own DDL fires our event triggers.
 */
#define MAX_SPI_DEPTH 16
static int	spi_nestlevels[MAX_SPI_DEPTH];
static SubTransactionId spi_subxacts[MAX_SPI_DEPTH];
static int	spi_depth = 0;

static void
reset_spi_depth(XactEvent event, void *arg)
{
	(void) arg;
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
		spi_depth = 0;
}

static void
reset_spi_depth_sub(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	(void) parentSubid;
	(void) arg;
	/* an error inside a subtransaction unwinds our connections opened in it */
	if (event == SUBXACT_EVENT_ABORT_SUB)
		while (spi_depth > 0 && spi_subxacts[spi_depth - 1] >= mySubid)
			spi_depth--;
}

/*
 * dataproduct_catalog_init
 *		Reset the connection stack when transactions end (errors skip our
 *		finish calls).  Called from _PG_init.
 */
void
dataproduct_catalog_init(void)
{
	RegisterXactCallback(reset_spi_depth, NULL);
	RegisterSubXactCallback(reset_spi_depth_sub, NULL);
}

/* ----------------------------------------------------------------
 * SPI with a pinned search_path
 * ----------------------------------------------------------------
 */


/*
 * dataproduct_spi_connect
 *		Connect to SPI and pin search_path for the generated SQL to come.
 *
 * Paired with dataproduct_spi_finish.  Errors out if SPI cannot connect.
 */
void
dataproduct_spi_connect(void)
{
	if (spi_depth >= MAX_SPI_DEPTH)
		elog(ERROR, "pg_dataproduct SPI connections nested too deeply");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi_subxacts[spi_depth] = GetCurrentSubTransactionId();
	spi_nestlevels[spi_depth++] = dataproduct_pin_search_path();
}

/*
 * dataproduct_spi_finish
 *		Undo dataproduct_spi_connect.  Memory palloc'd since the connect
 *		(including SPI results) is released.
 */
void
dataproduct_spi_finish(void)
{
	Assert(spi_depth > 0);
	dataproduct_unpin_search_path(spi_nestlevels[--spi_depth]);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

/*
 * dataproduct_pin_search_path
 *		Set search_path to "pg_catalog, pg_temp" (and floats to their exact
 *		text form) until the matching dataproduct_unpin_search_path.
 *
 * Returns the GUC nest level to pass back.  An error in between is cleaned
 * up by transaction abort.
 */
int
dataproduct_pin_search_path(void)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("extra_float_digits", "1",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

/*
 * dataproduct_unpin_search_path
 *		Restore the settings saved by dataproduct_pin_search_path.
 */
void
dataproduct_unpin_search_path(int nestlevel)
{
	if (nestlevel >= 0)
		AtEOXact_GUC(true, nestlevel);
}

/*
 * dataproduct_spi_exec
 *		Run one generated statement with parameters and check its result code.
 *
 * The statement must only contain fixed text and quoted identifiers; every
 * value travels as a $n parameter.  Returns SPI_processed.  An unexpected
 * result code is an internal error.
 */
uint64
dataproduct_spi_exec(const char *sql, int nargs, Oid *argtypes,
					 Datum *values, const char *nulls, int expected_rc)
{
	int			rc;

	rc = SPI_execute_with_args(sql, nargs, argtypes, values, nulls,
							   false, 0);
	if (rc != expected_rc)
		elog(ERROR, "unexpected SPI result %s for \"%s\"",
			 SPI_result_code_string(rc), sql);
	return SPI_processed;
}

/* ----------------------------------------------------------------
 * Identities
 * ----------------------------------------------------------------
 */

/*
 * catalog_owner
 *		The role that owns the catalog tables (the role that created the
 *		extension), which is the role catalog rows are written as.
 */
static Oid
catalog_owner(void)
{
	Oid			nspid = get_namespace_oid("dataproduct", false);
	Oid			relid = get_relname_relid("domain", nspid);
	HeapTuple	tuple;
	Oid			owner;

	if (!OidIsValid(relid))
		elog(ERROR, "catalog table dataproduct.domain is missing");
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/*
 * dataproduct_become_catalog_owner
 *		Run as the catalog owner until dataproduct_restore_user.
 *
 * Only for writing catalog rows and building objects of a fixed shape, after
 * the caller's rights were checked.  Callers must have pinned search_path.
 */
void
dataproduct_become_catalog_owner(DpSavedUser *saved)
{
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(catalog_owner(),
						   saved->sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

/*
 * dataproduct_become_owner
 *		Run as a product owner, in a security-restricted operation, until
 *		dataproduct_restore_user.  This is the only identity output queries
 *		ever run under.
 */
void
dataproduct_become_owner(Oid owner, DpSavedUser *saved)
{
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(owner,
						   saved->sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
}

/*
 * dataproduct_restore_user
 *		Return to the identity saved by one of the become functions.
 */
void
dataproduct_restore_user(DpSavedUser *saved)
{
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

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

/* ----------------------------------------------------------------
 * Lookups
 * ----------------------------------------------------------------
 */

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

	dataproduct_spi_exec("SELECT domain_id, name, schema, owner, created_schema"
						 "  FROM dataproduct.domain WHERE name = $1",
						 1, argtypes, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
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
	dataproduct_spi_exec("SELECT p.product_id, p.domain_id, d.name, p.name, p.owner,"
						 "       d.schema, p.version, p.status"
						 "  FROM dataproduct.product p"
						 "  JOIN dataproduct.domain d USING (domain_id)"
						 " WHERE d.name = $1 AND p.name = $2",
						 2, argtypes, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
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
	"       o.view, o.store, o.query_view, o.mode, o.pre_view" \
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

	dataproduct_spi_exec(OUTPUT_SELECT "WHERE o.view = $1::pg_catalog.regclass",
						 1, argtypes, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
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

	dataproduct_spi_exec(OUTPUT_SELECT "WHERE o.output_id = $1",
						 1, argtypes, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
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

	dataproduct_spi_exec(OUTPUT_SELECT "WHERE o.product_id = $1 ORDER BY o.output_id",
						 1, argtypes, values, NULL, SPI_OK_SELECT);
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

	dataproduct_spi_exec(OUTPUT_SELECT
						 "WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r"
						 "   JOIN pg_catalog.pg_depend dep"
						 "     ON dep.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
						 "    AND dep.objid = r.oid"
						 "    AND dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
						 "  WHERE r.ev_class = o.query_view AND dep.refobjid = $1)"
						 " ORDER BY o.output_id",
						 1, argtypes, values, NULL, SPI_OK_SELECT);
	return outputs_from_result();
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
 * dataproduct_forget_dropped
 *		Drop what is left of outputs that lost one of their relations, and of
 *		domains that lost their schema, and delete their catalog rows.
 *
 * Runs after a DROP ... CASCADE (from the sql_drop event trigger) and after
 * the drop functions of the API.  Dropping the remains of one output may
 * break another one built on it, hence the loop.  SPI must be connected and
 * search_path pinned.  Writes as the catalog owner.
 */
void
dataproduct_forget_dropped(void)
{
	DpSavedUser saved;

	dataproduct_become_catalog_owner(&saved);
	for (;;)
	{
		List	   *broken;
		ListCell   *lc;

		dataproduct_spi_exec(OUTPUT_SELECT
							 "WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = o.view)"
							 "   OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = o.store)"
							 "   OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = o.query_view)"
							 "   OR (o.pre_view IS NOT NULL AND"
							 "       NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = o.pre_view))"
							 " ORDER BY o.output_id",
							 0, NULL, NULL, NULL, SPI_OK_SELECT);
		broken = outputs_from_result();
		if (broken == NIL)
			break;

		foreach(lc, broken)
		{
			DpOutput   *output = lfirst(lc);
			Oid			argtypes[1] = {INT8OID};
			Datum		values[1] = {Int64GetDatum(output->id)};

			ereport(NOTICE,
					(errmsg("output %s of data product %s is dropped because relations it depends on were dropped",
							output->address, output->product)));
			dataproduct_drop_output_relations(output, DROP_CASCADE,
											  PERFORM_DELETION_INTERNAL);
			dataproduct_spi_exec("DELETE FROM dataproduct.output WHERE output_id = $1",
								 1, argtypes, values, NULL, SPI_OK_DELETE);
			CommandCounterIncrement();
		}
	}

	/* domains whose schema is gone take their products along */
	dataproduct_spi_exec("SELECT name FROM dataproduct.domain d"
						 " WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n"
						 "                    WHERE n.oid = d.schema)",
						 0, NULL, NULL, NULL, SPI_OK_SELECT);
	if (SPI_processed > 0)
	{
		uint64		i;

		for (i = 0; i < SPI_processed; i++)
			ereport(NOTICE,
					(errmsg("domain \"%s\" and its products are dropped because its schema was dropped",
							SPI_getvalue(SPI_tuptable->vals[i],
										 SPI_tuptable->tupdesc, 1))));
		dataproduct_spi_exec("DELETE FROM dataproduct.product p"
							 " USING dataproduct.domain d"
							 " WHERE p.domain_id = d.domain_id"
							 "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n"
							 "                    WHERE n.oid = d.schema)",
							 0, NULL, NULL, NULL, SPI_OK_DELETE);
		dataproduct_spi_exec("DELETE FROM dataproduct.domain d"
							 " WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n"
							 "                    WHERE n.oid = d.schema)",
							 0, NULL, NULL, NULL, SPI_OK_DELETE);
	}
	dataproduct_restore_user(&saved);
	dataproduct_release_sources();
}

/*
 * catalog_present
 *		Check that fcinfo is an event trigger call and that the catalog
 *		exists: the event triggers do nothing while the extension itself is
 *		being created or dropped.
 */
static bool
catalog_present(FunctionCallInfo fcinfo, const char *funcname)
{
	Oid			nspid;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired by an event trigger",
						funcname)));
	nspid = get_namespace_oid("dataproduct", true);
	return OidIsValid(nspid) &&
		OidIsValid(get_relname_relid("output", nspid)) &&
		OidIsValid(get_relname_relid("domain", nspid)) &&
		OidIsValid(get_relname_relid("source", nspid));
}

/*
 * dataproduct_on_sql_drop
 *		sql_drop event trigger: refuse to drop capture triggers by hand, and
 *		keep the catalog consistent after any DROP.
 */
Datum
dataproduct_on_sql_drop(PG_FUNCTION_ARGS)
{
	if (!catalog_present(fcinfo, "dataproduct.on_sql_drop"))
		PG_RETURN_VOID();

	dataproduct_spi_connect();
	dataproduct_check_capture_drops();
	dataproduct_forget_dropped();
	dataproduct_spi_finish();
	PG_RETURN_VOID();
}

/*
 * dataproduct_on_ddl_end
 *		ddl_command_end event trigger: guard the capture triggers, and make
 *		consumers of an altered source rebuild (see capture.c).
 */
Datum
dataproduct_on_ddl_end(PG_FUNCTION_ARGS)
{
	if (!catalog_present(fcinfo, "dataproduct.on_ddl_end"))
		PG_RETURN_VOID();

	dataproduct_spi_connect();
	dataproduct_check_capture_alters();
	dataproduct_spi_finish();
	PG_RETURN_VOID();
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

/*
 * dataproduct_qualified_name
 *		A relation's schema-qualified, quoted name, for generated SQL.
 *		Errors out if the relation is gone (dropped concurrently).
 */
char *
dataproduct_qualified_name(Oid relid)
{
	char	   *name = get_rel_name(relid);
	char	   *schema = name ? get_namespace_name(get_rel_namespace(relid)) : NULL;

	if (name == NULL || schema == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid),
				 errhint("It may have been dropped concurrently; try again.")));
	return quote_qualified_identifier(schema, name);
}

/*
 * dataproduct_in_subtransaction
 *		Run fn(arg) in a subtransaction.  Returns NULL if it succeeded, else
 *		its error (in the caller's memory context), everything it did
 *		rolled back.  Memory context and resource owner are the caller's
 *		again either way.  A cancel (statement_timeout, pg_cancel_backend)
 *		or a shutdown is not fn's failure: it is rethrown, after the
 *		rollback, to end the statement.
 */
ErrorData *
dataproduct_in_subtransaction(void (*fn) (void *), void *arg)
{
	MemoryContext outer = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(outer);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(outer);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(outer);
	CurrentResourceOwner = owner;
	if (edata != NULL &&
		(edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
		 edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN))
		ReThrowError(edata);
	return edata;
}
