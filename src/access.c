/*-------------------------------------------------------------------------
 *
 * access.c
 *	  Self-service access: consumers ask to read a product's outputs, its
 *	  owners decide, and the grants follow, recorded with who and when.
 *
 * This is where the data flow ends: an output's view is what consumers
 * read, and reading it takes SELECT on it.  The SQL API here manages those
 * grants and keeps their record in dataproduct.access_request:
 *
 *	 request_access  a role that may see the product (the visibility rule of
 *	                 dataproduct.visible_product) asks for SELECT on all of
 *	                 a product's outputs or on one, with a reason and an
 *	                 optional end (until); a pending row
 *	 approve_access  a member of the product's owner role grants SELECT on
 *	                 the outputs asked for (and USAGE on the domain's
 *	                 schema, if missing); the row becomes approved
 *	 deny_access     ... or refuses; denied
 *	 revoke_access   the owner takes a role's SELECT away, whether it came
 *	                 through a request or was granted by hand; revoked
 *	 expiry          the scheduler (worker.c) revokes access whose until has
 *	                 passed (dataproduct_access_expire, also callable as
 *	                 dataproduct.expire_access()); expired
 *	 retirement      alter_product(status => 'retired') revokes the grants
 *	                 made through requests and denies pending ones
 *	                 (dataproduct_access_retire, from product.c)
 *
 * Who runs what:
 * - every function runs as its caller (nothing is SECURITY DEFINER) and
 *   checks the caller's rights itself: visibility for requests, membership
 *   of the owner role for decisions and revocations;
 * - request rows are read and written as the catalog owner (exec.c), like
 *   every catalog row;
 * - GRANT and REVOKE run as the owner of the output view (normally the
 *   product owner), the least privilege that may grant on it (USAGE on the
 *   domain's schema: as the schema's owner), inside a
 *   security-restricted operation: never as the catalog owner or a
 *   superuser, also in the background worker.  The statements are fixed
 *   text around quoted identifiers (quote_identifier,
 *   dataproduct_qualified_name).
 *
 * The grants themselves are the truth: dataproduct.access reads the views'
 * ACLs, so a grant made or revoked by hand shows at once; a grant is
 * attributed to a request when an approved request of that role covers the
 * output, else it was granted by hand.
 *
 * Functions here need SPI connected through dataproduct_spi_connect (the
 * SQL-callable ones connect themselves) and allocate in the SPI procedure
 * context.
 *
 * IDENTIFICATION
 *	  src/access.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "access.h"
#include "catalog.h"
#include "exec.h"
#include "shmem.h"

PG_FUNCTION_INFO_V1(dataproduct_request_access);
PG_FUNCTION_INFO_V1(dataproduct_approve_access);
PG_FUNCTION_INFO_V1(dataproduct_deny_access);
PG_FUNCTION_INFO_V1(dataproduct_revoke_access);
PG_FUNCTION_INFO_V1(dataproduct_expire_access);

/* What a request or a revocation is about: a product, or one output. */
typedef struct AccessTarget
{
	DpProduct  *product;
	DpOutput   *output;			/* NULL: every output of the product */
} AccessTarget;

/* One row of dataproduct.access_request, as the decisions need it. */
typedef struct AccessRequest
{
	int64		id;
	int64		product_id;
	char	   *product;		/* its address */
	Oid			owner;			/* the product owner */
	int64		output_id;		/* 0: every output of the product */
	Oid			role;
	char	   *status;
	bool		until_passed;
	Oid			decided_by;
	Oid			ended_by;
} AccessRequest;

/* ----------------------------------------------------------------
 * Helpers
 * ----------------------------------------------------------------
 */

/*
 * catalog_exec
 *		Run a fixed statement with $n parameters on the catalog tables as
 *		the catalog owner; returns SPI_processed.
 */
static uint64
catalog_exec(const char *sql, int nargs, Oid *argtypes, Datum *values,
			 const char *nulls, int expected_rc)
{
	DpSavedUser saved;
	uint64		processed;

	dataproduct_become_catalog_owner(&saved);
	processed = dataproduct_spi_exec(sql, nargs, argtypes, values, nulls,
									 expected_rc);
	dataproduct_restore_user(&saved);
	return processed;
}

static Datum
col(int row, int colno, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
						 colno, isnull);
}

/* A role's name for messages; a dropped one shows its OID. */
static char *
role_name(Oid role)
{
	char	   *name = OidIsValid(role) ? GetUserNameFromId(role, true) : NULL;

	return name ? name : psprintf("%u", role);
}

static bool
role_exists(Oid role)
{
	return SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role));
}

/* "data product x.y" or "output x.z", for messages */
static char *
target_name(AccessTarget *target)
{
	return target->output
		? psprintf("output %s", target->output->address)
		: psprintf("data product %s", target->product->address);
}

/* The outputs a target covers, in declaration order. */
static List *
target_outputs(AccessTarget *target)
{
	return target->output ? list_make1(target->output)
		: dataproduct_product_outputs(target->product->id);
}

/*
 * product_visible
 *		Whether the calling role may see the product: the rule of
 *		dataproduct.visible_product, evaluated as the caller.
 */
static bool
product_visible(int64 product_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(product_id)};

	return dataproduct_spi_exec("SELECT 1 FROM dataproduct.visible_product"
								" WHERE product_id = $1",
								1, argtypes, values, NULL, SPI_OK_SELECT) > 0;
}

/*
 * resolve_target
 *		The product or output a target text names: "domain.product", an
 *		output by its view "domain.output", or "domain.product.output".  A
 *		product and an output that share an address mean the product.  What
 *		the caller may not see does not exist.  Errors out if nothing is
 *		found.
 */
static void
resolve_target(const char *name, AccessTarget *target)
{
	const char *dot1 = strchr(name, '.');
	const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	bool		isnull;
	Datum		view;
	Oid			viewoid = InvalidOid;
	int64		product_id = 0;
	char	   *address = NULL;

	if (dot1 == NULL || dot1 == name || dot1[1] == '\0' ||
		(dot2 != NULL && (dot2 == dot1 + 1 || dot2[1] == '\0' ||
						  strchr(dot2 + 1, '.') != NULL)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid access target \"%s\"", name),
				 errhint("Name a product as domain.product, or one of its outputs as domain.output (the name of its view) or domain.product.output.")));

	values[0] = CStringGetTextDatum(pnstrdup(name, dot1 - name));
	if (dot2 == NULL)
	{
		values[1] = CStringGetTextDatum(dot1 + 1);
		catalog_exec("SELECT d.name || '.' || p.name, NULL::pg_catalog.oid, p.product_id"
					 "  FROM dataproduct.product p JOIN dataproduct.domain d USING (domain_id)"
					 " WHERE d.name = $1 AND p.name = $2"
					 " UNION ALL "
					 "SELECT d.name || '.' || p.name, o.view::pg_catalog.oid, p.product_id"
					 "  FROM dataproduct.output o"
					 "  JOIN dataproduct.product p USING (product_id)"
					 "  JOIN dataproduct.domain d USING (domain_id)"
					 " WHERE d.name = $1 AND o.name = $2"
					 " ORDER BY 2 NULLS FIRST",
					 2, argtypes, values, NULL, SPI_OK_SELECT);
	}
	else
	{
		values[1] = CStringGetTextDatum(pnstrdup(dot1 + 1, dot2 - dot1 - 1));
		values[2] = CStringGetTextDatum(dot2 + 1);
		catalog_exec("SELECT d.name || '.' || p.name, o.view::pg_catalog.oid, p.product_id"
					 "  FROM dataproduct.output o"
					 "  JOIN dataproduct.product p USING (product_id)"
					 "  JOIN dataproduct.domain d USING (domain_id)"
					 " WHERE d.name = $1 AND p.name = $2 AND o.name = $3",
					 3, argtypes, values, NULL, SPI_OK_SELECT);
	}

	if (SPI_processed > 0)
	{
		view = col(0, 2, &isnull);
		viewoid = isnull ? InvalidOid : DatumGetObjectId(view);
		product_id = DatumGetInt64(col(0, 3, &isnull));
		address = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	}
	if (address == NULL || !product_visible(product_id))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 dot2 ? errmsg("output \"%s\" does not exist", name)
				 : errmsg("data product or output \"%s\" does not exist", name),
				 errhint("Products are listed in dataproduct.products and outputs in dataproduct.outputs; search them with dataproduct.search().")));

	target->product = dataproduct_get_product(address, false);
	target->output = OidIsValid(viewoid)
		? dataproduct_get_output(viewoid, false) : NULL;
}

/*
 * view_owner
 *		The owner of an output's view: the role that may grant on it.
 */
static Oid
view_owner(Oid view)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(view));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", view),
				 errhint("It may have been dropped concurrently; try again.")));
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/*
 * set_select
 *		GRANT SELECT on an output's view to a role, or REVOKE it (with
 *		whatever the role granted on from it), as the view's owner in a
 *		security-restricted operation: the least privilege that may do it.
 */
static void
set_select(Oid view, Oid role, bool grant)
{
	char	   *relname = dataproduct_qualified_name(view);
	const char *rolename = quote_identifier(GetUserNameFromId(role, false));
	DpSavedUser saved;

	dataproduct_become_owner(view_owner(view), &saved);
	dataproduct_exec_ddl(grant
						 ? psprintf("GRANT SELECT ON TABLE %s TO %s", relname, rolename)
						 : psprintf("REVOKE SELECT ON TABLE %s FROM %s CASCADE",
									relname, rolename));
	dataproduct_restore_user(&saved);
}

/*
 * grant_schema_usage
 *		Consumers read an output as <domain>.<output>: a role approved to
 *		read one needs USAGE on the domain's schema.  Granted, when the role
 *		lacks it, as the schema's owner; never revoked (it shows names,
 *		which pg_class shows anyway, and no data).
 */
static void
grant_schema_usage(Oid view, Oid role)
{
	Oid			nspid = get_rel_namespace(view);
	HeapTuple	tuple;
	Oid			owner;
	DpSavedUser saved;
	char	   *sql;

	if (pg_namespace_aclcheck(nspid, role, ACL_USAGE) == ACLCHECK_OK)
		return;
	tuple = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for schema %u", nspid);
	owner = ((Form_pg_namespace) GETSTRUCT(tuple))->nspowner;
	ReleaseSysCache(tuple);
	sql = psprintf("GRANT USAGE ON SCHEMA %s TO %s",
				   quote_identifier(get_namespace_name(nspid)),
				   quote_identifier(GetUserNameFromId(role, false)));
	dataproduct_become_owner(owner, &saved);
	dataproduct_exec_ddl(sql);
	dataproduct_restore_user(&saved);
}

/* Whether a role holds SELECT on a view by a grant of its own (the ACL). */
static bool
has_direct_select(Oid view, Oid role)
{
	Oid			argtypes[2] = {OIDOID, OIDOID};
	Datum		values[2] = {ObjectIdGetDatum(view), ObjectIdGetDatum(role)};

	return dataproduct_spi_exec("SELECT 1 FROM pg_catalog.pg_class c,"
								"       pg_catalog.aclexplode(c.relacl) a"
								" WHERE c.oid = $1 AND a.grantee = $2"
								"   AND a.privilege_type = 'SELECT'",
								2, argtypes, values, NULL, SPI_OK_SELECT) > 0;
}

/*
 * revoke_covered
 *		Revoke a role's SELECT on the outputs an ended request covered (all
 *		of the product's, or one), except those another live approved
 *		request of the same role still covers.  The request must be marked
 *		ended already.  A role dropped since has nothing to revoke.
 *		Returns how many views it revoked on.
 */
static int
revoke_covered(int64 product_id, int64 output_id, Oid role)
{
	Oid			argtypes[3] = {INT8OID, INT8OID, OIDOID};
	Datum		values[3] = {Int64GetDatum(product_id), Int64GetDatum(output_id),
	ObjectIdGetDatum(role)};
	char		nulls[3] = {' ', output_id ? ' ' : 'n', ' '};
	List	   *views = NIL;
	ListCell   *lc;
	uint64		i;

	if (!role_exists(role))
		return 0;
	catalog_exec("SELECT o.view::pg_catalog.oid FROM dataproduct.output o"
				 " WHERE o.product_id = $1 AND ($2::pg_catalog.int8 IS NULL OR o.output_id = $2)"
				 "   AND NOT EXISTS (SELECT 1 FROM dataproduct.access_request q"
				 "                    WHERE q.role = $3::pg_catalog.regrole AND q.status = 'approved'"
				 "                      AND (q.until IS NULL OR q.until > pg_catalog.now())"
				 "                      AND (q.output_id = o.output_id"
				 "                           OR (q.output_id IS NULL AND q.product_id = o.product_id)))"
				 " ORDER BY o.output_id",
				 3, argtypes, values, nulls, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		views = lappend_oid(views, DatumGetObjectId(col(i, 1, &isnull)));
	}
	foreach(lc, views)
		set_select(lfirst_oid(lc), role, false);
	return list_length(views);
}

/* ----------------------------------------------------------------
 * Requests
 * ----------------------------------------------------------------
 */

/*
 * request_access(target text, reason text, until timestamptz) returns bigint
 *
 * Record a pending request of the calling role for SELECT on a product's
 * outputs (or one of them); returns the request's id.
 */
Datum
dataproduct_request_access(PG_FUNCTION_ARGS)
{
	char	   *target_text;
	char	   *reason;
	AccessTarget target;
	Oid			me = GetUserId();
	List	   *outputs;
	ListCell   *lc;
	bool		has_all = true;
	Oid			argtypes[5] = {INT8OID, INT8OID, OIDOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	int64		id;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"target\" must not be null")));
	target_text = text_to_cstring(PG_GETARG_TEXT_PP(0));
	reason = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (reason == NULL || reason[strspn(reason, " \t\r\n")] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an access request needs a reason"),
				 errhint("Tell the owners of the product what you need its data for.")));
	if (!PG_ARGISNULL(2) &&
		PG_GETARG_TIMESTAMPTZ(2) <= GetCurrentTransactionStartTimestamp())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("until must be in the future"),
				 errdetail("Access requested until %s would have ended already.",
						   timestamptz_to_str(PG_GETARG_TIMESTAMPTZ(2))),
				 errhint("Give the time access should end, for example now() + interval '30 days', or leave until NULL for access without an end.")));

	dataproduct_spi_connect();
	resolve_target(target_text, &target);

	if (strcmp(target.product->status, DP_STATUS_RETIRED) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("data product %s is retired", target.product->address),
				 errdetail("Retired products take no new consumers.")));
	if (has_privs_of_role(me, target.product->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_GRANT_OPERATION),
				 errmsg("cannot request access to a data product of your own"),
				 errdetail("Role \"%s\" has the privileges of role \"%s\", which owns data product %s.",
						   role_name(me), role_name(target.product->owner),
						   target.product->address),
				 errhint("Members of the owner role read its outputs already.")));

	outputs = target_outputs(&target);
	if (outputs == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("data product %s has no outputs", target.product->address),
				 errhint("There is nothing to read yet; ask its owners (role \"%s\") when it will have some.",
						 role_name(target.product->owner))));
	foreach(lc, outputs)
	{
		DpOutput   *output = lfirst(lc);

		if (pg_class_aclcheck(output->view, me, ACL_SELECT) != ACLCHECK_OK)
			has_all = false;
	}
	if (has_all)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("role \"%s\" may read %s already", role_name(me),
						target_name(&target)),
				 errhint("Who may read each output, and why, is in dataproduct.access.")));

	values[0] = Int64GetDatum(target.product->id);
	values[1] = Int64GetDatum(target.output ? target.output->id : 0);
	nulls[1] = target.output ? ' ' : 'n';
	values[2] = ObjectIdGetDatum(me);
	values[3] = CStringGetTextDatum(reason);
	values[4] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	nulls[4] = PG_ARGISNULL(2) ? 'n' : ' ';

	/* one pending request per role and target (a unique index backs this) */
	catalog_exec("SELECT request_id FROM dataproduct.access_request"
				 " WHERE product_id = $1 AND output_id IS NOT DISTINCT FROM $2"
				 "   AND role = $3::pg_catalog.regrole AND status = 'pending'",
				 3, argtypes, values, nulls, SPI_OK_SELECT);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("access request " INT64_FORMAT " of role \"%s\" for %s is pending already",
						DatumGetInt64(col(0, 1, &isnull)), role_name(me),
						target_name(&target)),
				 errhint("The owners of the product decide on it; its state is in dataproduct.access_requests.")));

	catalog_exec("INSERT INTO dataproduct.access_request"
				 " (product_id, output_id, role, reason, until)"
				 " VALUES ($1, $2, $3, $4, $5) RETURNING request_id",
				 5, argtypes, values, nulls, SPI_OK_INSERT_RETURNING);
	id = DatumGetInt64(col(0, 1, &isnull));
	if (!PG_ARGISNULL(2))
		dataproduct_note_capture(); /* a pending request expires too */
	dataproduct_spi_finish();
	PG_RETURN_INT64(id);
}

/*
 * load_request
 *		A request, locked for a decision.  A request that does not exist,
 *		or that the caller may not see (neither its requester nor a member
 *		of the product's owner role), is an error.
 */
static AccessRequest *
load_request(int64 id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(id)};
	AccessRequest *r;
	bool		isnull;
	Oid			me = GetUserId();

	catalog_exec("SELECT r.product_id, d.name || '.' || p.name, p.owner::pg_catalog.oid,"
				 "       r.output_id, r.role::pg_catalog.oid, r.status,"
				 "       coalesce(r.until <= pg_catalog.now(), false),"
				 "       r.decided_by::pg_catalog.oid, r.ended_by::pg_catalog.oid"
				 "  FROM dataproduct.access_request r"
				 "  JOIN dataproduct.product p USING (product_id)"
				 "  JOIN dataproduct.domain d USING (domain_id)"
				 " WHERE r.request_id = $1 FOR UPDATE OF r",
				 1, argtypes, values, NULL, SPI_OK_SELECT);
	if (SPI_processed > 0)
	{
		r = palloc0(sizeof(AccessRequest));
		r->id = id;
		r->product_id = DatumGetInt64(col(0, 1, &isnull));
		r->product = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		r->owner = DatumGetObjectId(col(0, 3, &isnull));
		r->output_id = DatumGetInt64(col(0, 4, &isnull));
		if (isnull)
			r->output_id = 0;
		r->role = DatumGetObjectId(col(0, 5, &isnull));
		r->status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6);
		r->until_passed = DatumGetBool(col(0, 7, &isnull));
		r->decided_by = DatumGetObjectId(col(0, 8, &isnull));
		if (isnull)
			r->decided_by = InvalidOid;
		r->ended_by = DatumGetObjectId(col(0, 9, &isnull));
		if (isnull)
			r->ended_by = InvalidOid;
		if (has_privs_of_role(me, r->owner) || has_privs_of_role(me, r->role))
			return r;
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("access request " INT64_FORMAT " does not exist", id),
			 errhint("The requests a role may see are listed in dataproduct.access_requests.")));
	return NULL;				/* keep the compiler quiet */
}

/*
 * decide
 *		approve_access and deny_access: the checks they share, then the
 *		grants (approval) and the decision recorded.
 */
static void
decide(int64 id, const char *note, bool approve)
{
	AccessRequest *r = load_request(id);
	Oid			me = GetUserId();
	const char *verb = approve ? "approve" : "deny";
	Oid			argtypes[3] = {INT8OID, TEXTOID, OIDOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	if (!has_privs_of_role(me, r->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot %s your own access request", verb),
				 errdetail("Only members of role \"%s\", which owns data product %s, decide on access request " INT64_FORMAT ".",
						   role_name(r->owner), r->product, id),
				 errhint("Ask a member of role \"%s\" to decide on it.",
						 role_name(r->owner))));
	if (strcmp(r->status, "pending") != 0)
	{
		Oid			by = OidIsValid(r->ended_by) ? r->ended_by : r->decided_by;

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("access request " INT64_FORMAT " is %s already", id, r->status),
				 OidIsValid(by)
				 ? errdetail("It was %s by role \"%s\".", r->status, role_name(by))
				 : 0,
				 errhint("Decisions are final; the role may make a new request with dataproduct.request_access().")));
	}
	if (approve)
	{
		List	   *views = NIL;
		ListCell   *lc;

		if (r->until_passed)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("access request " INT64_FORMAT " has expired", id),
					 errdetail("The access it asked for would have ended already."),
					 errhint("Deny it, and ask role \"%s\" for a new request.",
							 role_name(r->role))));
		if (!role_exists(r->role))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("role with OID %u of access request " INT64_FORMAT " does not exist",
							r->role, id),
					 errhint("Deny the request.")));
		if (r->output_id != 0)
			views = list_make1_oid(dataproduct_get_output_by_id(r->output_id)->view);
		else
		{
			foreach(lc, dataproduct_product_outputs(r->product_id))
				views = lappend_oid(views, ((DpOutput *) lfirst(lc))->view);
		}
		if (views == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("data product %s has no outputs", r->product),
					 errhint("Add an output first, or deny the request.")));
		foreach(lc, views)
		{
			set_select(lfirst_oid(lc), r->role, true);
			grant_schema_usage(lfirst_oid(lc), r->role);
		}
		/* the scheduler learns of the access's end at commit */
		dataproduct_note_capture();
	}

	values[0] = Int64GetDatum(id);
	values[1] = note ? CStringGetTextDatum(note) : (Datum) 0;
	nulls[1] = note ? ' ' : 'n';
	values[2] = ObjectIdGetDatum(me);
	catalog_exec(approve
				 ? "UPDATE dataproduct.access_request SET status = 'approved',"
				 "       decided_by = $3::pg_catalog.regrole, decided_at = pg_catalog.now(), note = $2"
				 " WHERE request_id = $1"
				 : "UPDATE dataproduct.access_request SET status = 'denied',"
				 "       decided_by = $3::pg_catalog.regrole, decided_at = pg_catalog.now(), note = $2"
				 " WHERE request_id = $1",
				 3, argtypes, values, nulls, SPI_OK_UPDATE);
}

static int64
request_id_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"request_id\" must not be null")));
	return PG_GETARG_INT64(0);
}

/*
 * approve_access(request_id bigint, note text) returns void
 */
Datum
dataproduct_approve_access(PG_FUNCTION_ARGS)
{
	int64		id = request_id_arg(fcinfo);

	dataproduct_spi_connect();
	decide(id, PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)), true);
	dataproduct_spi_finish();
	PG_RETURN_VOID();
}

/*
 * deny_access(request_id bigint, note text) returns void
 */
Datum
dataproduct_deny_access(PG_FUNCTION_ARGS)
{
	int64		id = request_id_arg(fcinfo);

	dataproduct_spi_connect();
	decide(id, PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)), false);
	dataproduct_spi_finish();
	PG_RETURN_VOID();
}

/* ----------------------------------------------------------------
 * Revocation
 * ----------------------------------------------------------------
 */

/*
 * revoke_access(target text, role regrole) returns void
 *
 * A member of the product's owner role takes a role's SELECT on a
 * product's outputs (or one) away, granted through a request or by hand;
 * the role's approved requests for the target are recorded as revoked.
 */
Datum
dataproduct_revoke_access(PG_FUNCTION_ARGS)
{
	AccessTarget target;
	Oid			role;
	Oid			me = GetUserId();
	List	   *outputs;
	ListCell   *lc;
	int			revoked = 0;
	uint64		ended;
	Oid			argtypes[4] = {INT8OID, INT8OID, OIDOID, OIDOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" must not be null",
						PG_ARGISNULL(0) ? "target" : "role")));
	role = PG_GETARG_OID(1);

	dataproduct_spi_connect();
	resolve_target(text_to_cstring(PG_GETARG_TEXT_PP(0)), &target);
	dataproduct_check_acts_as(target.product->owner, "data product",
							  target.product->address);
	outputs = target_outputs(&target);
	foreach(lc, outputs)
	{
		DpOutput   *output = lfirst(lc);

		if (role == target.product->owner || role == view_owner(output->view))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_GRANT_OPERATION),
					 errmsg("cannot revoke access of role \"%s\", which owns %s",
							role_name(role), target_name(&target)),
					 errhint("Give the product to another owner with dataproduct.alter_product(owner => ...).")));
	}

	foreach(lc, outputs)
	{
		DpOutput   *output = lfirst(lc);

		if (has_direct_select(output->view, role))
		{
			set_select(output->view, role, false);
			revoked++;
		}
	}

	values[0] = Int64GetDatum(target.product->id);
	values[1] = Int64GetDatum(target.output ? target.output->id : 0);
	nulls[1] = target.output ? ' ' : 'n';
	values[2] = ObjectIdGetDatum(role);
	values[3] = ObjectIdGetDatum(me);
	ended = catalog_exec("UPDATE dataproduct.access_request"
						 "   SET status = 'revoked', ended_by = $4::pg_catalog.regrole,"
						 "       ended_at = pg_catalog.now(), end_reason = 'revoked'"
						 " WHERE product_id = $1 AND ($2::pg_catalog.int8 IS NULL OR output_id = $2)"
						 "   AND role = $3::pg_catalog.regrole AND status = 'approved'",
						 4, argtypes, values, nulls, SPI_OK_UPDATE);

	if (revoked == 0 && ended == 0)
		ereport(NOTICE,
				(errmsg("role \"%s\" holds no grant on %s, nothing was revoked",
						role_name(role), target_name(&target))));
	foreach(lc, outputs)
	{
		DpOutput   *output = lfirst(lc);

		if (pg_class_aclcheck(output->view, role, ACL_SELECT) == ACLCHECK_OK)
			ereport(NOTICE,
					(errmsg("role \"%s\" may still read output %s",
							role_name(role), output->address),
					 errdetail("It is a superuser, or holds SELECT through PUBLIC or a role it is a member of.")));
	}
	dataproduct_spi_finish();
	PG_RETURN_VOID();
}

/* ----------------------------------------------------------------
 * Expiry and retirement
 * ----------------------------------------------------------------
 */

typedef struct ExpireItem
{
	int64		id;
	bool		approved;		/* else pending: nothing was granted */
	int64		product_id;
	int64		output_id;		/* 0: the whole product */
	Oid			role;
	bool		by_worker;
	int			revoked;		/* out: views revoked on */
} ExpireItem;

/*
 * expire_one
 *		End one request whose until has passed: mark it expired, then
 *		revoke what it granted.  Runs in a subtransaction of its own.
 */
static void
expire_one(void *arg)
{
	ExpireItem *item = arg;
	Oid			argtypes[3] = {INT8OID, OIDOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	dataproduct_spi_connect();
	values[0] = Int64GetDatum(item->id);
	values[1] = ObjectIdGetDatum(item->by_worker ? InvalidOid : GetUserId());
	nulls[1] = item->by_worker ? 'n' : ' ';
	values[2] = CStringGetTextDatum(!item->approved
									? "until passed before a decision"
									: item->by_worker
									? "until passed: revoked by the background worker"
									: "until passed: revoked by dataproduct.expire_access()");
	catalog_exec("UPDATE dataproduct.access_request"
				 "   SET status = 'expired', ended_by = $2::pg_catalog.regrole,"
				 "       ended_at = pg_catalog.now(), end_reason = $3"
				 " WHERE request_id = $1",
				 3, argtypes, values, nulls, SPI_OK_UPDATE);
	if (item->approved)
		item->revoked = revoke_covered(item->product_id, item->output_id, item->role);
	dataproduct_spi_finish();
}

/*
 * dataproduct_access_expire
 *		End every pending or approved request whose until has passed (each
 *		in a subtransaction: one that fails, a REVOKE racing a concurrent
 *		GRANT say, is logged and tried again next time), and set *next_ms
 *		to the milliseconds until the next until to come (-1: none).
 *		Returns how many requests it ended.
 *
 * Cheap when nothing expires: two probes of a partial index.  Requests
 * being decided right now are skipped (SKIP LOCKED), not waited for.  SPI
 * must be connected and a transaction open; the background worker calls
 * this from its scheduler's round with by_worker.
 */
int
dataproduct_access_expire(bool by_worker, long *next_ms)
{
	List	   *items = NIL;
	ListCell   *lc;
	int			ended = 0;
	uint64		i;
	bool		isnull;
	Datum		ms;

	catalog_exec("SELECT request_id, status = 'approved', product_id, output_id,"
				 "       role::pg_catalog.oid"
				 "  FROM dataproduct.access_request"
				 " WHERE status IN ('pending', 'approved') AND until <= pg_catalog.now()"
				 " ORDER BY request_id FOR UPDATE SKIP LOCKED",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
	{
		ExpireItem *item = palloc0(sizeof(ExpireItem));

		item->id = DatumGetInt64(col(i, 1, &isnull));
		item->approved = DatumGetBool(col(i, 2, &isnull));
		item->product_id = DatumGetInt64(col(i, 3, &isnull));
		item->output_id = DatumGetInt64(col(i, 4, &isnull));
		if (isnull)
			item->output_id = 0;
		item->role = DatumGetObjectId(col(i, 5, &isnull));
		item->by_worker = by_worker;
		items = lappend(items, item);
	}

	foreach(lc, items)
	{
		ExpireItem *item = lfirst(lc);
		ErrorData  *edata = dataproduct_in_subtransaction(expire_one, item);

		if (edata != NULL)
			ereport(by_worker ? LOG : WARNING,
					(errmsg("pg_dataproduct: access request " INT64_FORMAT " could not expire: %s",
							item->id, edata->message)));
		else
		{
			ended++;
			if (by_worker && item->approved)
				ereport(LOG,
						(errmsg("pg_dataproduct: access request " INT64_FORMAT " of role \"%s\" expired; SELECT revoked on %d output(s)",
								item->id, role_name(item->role), item->revoked)));
		}
	}

	/* seconds compared as numeric: an infinite until cannot overflow */
	catalog_exec("SELECT (least(extract(epoch FROM pg_catalog.min(until))"
				 "              - extract(epoch FROM pg_catalog.now()), 86400) * 1000)::pg_catalog.int8"
				 "  FROM dataproduct.access_request"
				 " WHERE status IN ('pending', 'approved') AND until > pg_catalog.now()",
				 0, NULL, NULL, NULL, SPI_OK_SELECT);
	ms = col(0, 1, &isnull);
	*next_ms = isnull ? -1 : (long) Max(DatumGetInt64(ms), 0);
	return ended;
}

/*
 * expire_access() returns integer
 *
 * The expiry the background worker runs, on demand (for databases without
 * the worker, and for tests).  Returns how many requests it ended.
 */
Datum
dataproduct_expire_access(PG_FUNCTION_ARGS)
{
	long		next_ms;
	int			ended;

	(void) fcinfo;
	dataproduct_spi_connect();
	ended = dataproduct_access_expire(false, &next_ms);
	dataproduct_spi_finish();
	PG_RETURN_INT32(ended);
}

/*
 * dataproduct_access_retire
 *		A product was retired: its approved requests end (revoked, their
 *		grants taken back), its pending ones are denied.  Grants made by
 *		hand are the owner's to keep or revoke.  SPI connected; the caller
 *		checked the right to change the product.
 */
void
dataproduct_access_retire(DpProduct *product)
{
	Oid			argtypes[2] = {INT8OID, OIDOID};
	Datum		values[2] = {Int64GetDatum(product->id), ObjectIdGetDatum(GetUserId())};
	List	   *ended = NIL;
	ListCell   *lc;
	uint64		i;

	catalog_exec("UPDATE dataproduct.access_request"
				 "   SET status = 'denied', decided_by = $2::pg_catalog.regrole,"
				 "       decided_at = pg_catalog.now(), note = 'the product was retired'"
				 " WHERE product_id = $1 AND status = 'pending'",
				 2, argtypes, values, NULL, SPI_OK_UPDATE);
	catalog_exec("UPDATE dataproduct.access_request"
				 "   SET status = 'revoked', ended_by = $2::pg_catalog.regrole,"
				 "       ended_at = pg_catalog.now(), end_reason = 'the product was retired'"
				 " WHERE product_id = $1 AND status = 'approved'"
				 " RETURNING output_id, role::pg_catalog.oid",
				 2, argtypes, values, NULL, SPI_OK_UPDATE_RETURNING);
	for (i = 0; i < SPI_processed; i++)
	{
		ExpireItem *item = palloc0(sizeof(ExpireItem));
		bool		isnull;

		item->output_id = DatumGetInt64(col(i, 1, &isnull));
		if (isnull)
			item->output_id = 0;
		item->role = DatumGetObjectId(col(i, 2, &isnull));
		ended = lappend(ended, item);
	}
	foreach(lc, ended)
	{
		ExpireItem *item = lfirst(lc);

		(void) revoke_covered(product->id, item->output_id, item->role);
	}
}

/*
 * dataproduct_access_extend
 *		A new output of a product joins the access approved for the whole
 *		product: the roles whose product-wide requests are approved and not
 *		ended get SELECT on its view (and USAGE on its schema), as approval
 *		gave them on the outputs of the time.  Revocation and expiry cover
 *		the product's outputs as they are then, this one included.  SPI
 *		connected.
 */
void
dataproduct_access_extend(DpOutput *output)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(output->product_id)};
	List	   *roles = NIL;
	ListCell   *lc;
	uint64		i;

	/* a catalog still at 0.1.0 has no requests */
	if (strcmp(dataproduct_extension_version(), "0.1.0") == 0)
		return;
	catalog_exec("SELECT DISTINCT role::pg_catalog.oid FROM dataproduct.access_request"
				 " WHERE product_id OPERATOR(pg_catalog.=) $1 AND output_id IS NULL"
				 "   AND status OPERATOR(pg_catalog.=) 'approved'"
				 "   AND (until IS NULL OR until OPERATOR(pg_catalog.>) pg_catalog.now())",
				 1, argtypes, values, NULL, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		roles = lappend_oid(roles, DatumGetObjectId(col(i, 1, &isnull)));
	}
	foreach(lc, roles)
	{
		Oid			role = lfirst_oid(lc);

		if (!role_exists(role))
			continue;
		set_select(output->view, role, true);
		grant_schema_usage(output->view, role);
	}
}
