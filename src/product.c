/*-------------------------------------------------------------------------
 *
 * product.c
 *	  The declaration API of domains and products: their lifecycle and
 *	  semantic versions.
 *
 *	 create_domain   schema <domain> (created if missing) + catalog row
 *	 create_product  catalog row (status draft)
 *	 alter_product   description, version (only forward), tags, owner (the
 *	                 outputs' relations follow), lifecycle status (retiring
 *	                 revokes the grants made through access requests:
 *	                 access.c), contact, freshness promise
 *	 drop_product, drop_domain (with their outputs, on cascade: declare.c)
 *	 compare_versions  semver precedence, the rule alter_product enforces
 *	                 (apply() plans version changes with it)
 *
 * Each function validates its arguments, checks the caller's rights
 * (catalog.c) and writes the catalog as its owner (exec.c).
 *
 * IDENTIFICATION
 *	  src/product.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/comment.h"
#include "commands/view.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "access.h"
#include "analyze.h"
#include "capture.h"
#include "catalog.h"
#include "ddl.h"
#include "declare.h"
#include "delta.h"
#include "exec.h"
#include "guc.h"
#include "refresh.h"
#include "shmem.h"

PG_FUNCTION_INFO_V1(dataproduct_create_domain);
PG_FUNCTION_INFO_V1(dataproduct_drop_domain);
PG_FUNCTION_INFO_V1(dataproduct_create_product);
PG_FUNCTION_INFO_V1(dataproduct_alter_product);
PG_FUNCTION_INFO_V1(dataproduct_drop_product);
PG_FUNCTION_INFO_V1(dataproduct_compare_versions);
PG_FUNCTION_INFO_V1(dataproduct_publish);

/*
 * check_promise
 *		A freshness promise (max_staleness) must be positive.
 */
static void
check_promise(FunctionCallInfo fcinfo, int argno)
{
	Interval   *iv;

	if (PG_ARGISNULL(argno))
		return;
	iv = PG_GETARG_INTERVAL_P(argno);
	dataproduct_check_interval("max_staleness", iv, false,
							   "Promise how far behind its sources the product may be, for example '5 minutes'.");
}

/*
 * check_tags
 *		Tags must be a one-dimensional array of non-empty, non-null strings.
 */
static void
check_tags(ArrayType *tags)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	if (ARR_NDIM(tags) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("tags must be a one-dimensional array")));
	deconstruct_array(tags, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		if (nulls[i] || VARSIZE_ANY_EXHDR(DatumGetPointer(elems[i])) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tags must not be null or empty")));
	}
}

/* ----------------------------------------------------------------
 * Semantic versions
 * ----------------------------------------------------------------
 */

typedef struct SemVer
{
	int64		part[3];
	const char *pre;			/* pre-release, without '-', or NULL */
	int			pre_len;
} SemVer;

/* A numeric identifier: digits, no leading zero unless it is "0". */
static bool
parse_number(const char **p, int64 *value)
{
	const char *start = *p;

	*value = 0;
	while (**p >= '0' && **p <= '9')
	{
		if (*value > (PG_INT64_MAX - 9) / 10)
			return false;
		*value = *value * 10 + (**p - '0');
		(*p)++;
	}
	return *p > start && !(start[0] == '0' && *p - start > 1);
}

/* Identifiers of a pre-release or build: [0-9A-Za-z-]+ separated by dots. */
static bool
parse_identifiers(const char **p)
{
	for (;;)
	{
		const char *start = *p;

		while ((**p >= '0' && **p <= '9') || (**p >= 'a' && **p <= 'z') ||
			   (**p >= 'A' && **p <= 'Z') || **p == '-')
			(*p)++;
		if (*p == start)
			return false;
		if (**p != '.')
			return true;
		(*p)++;
	}
}

/*
 * parse_semver
 *		Parse MAJOR.MINOR.PATCH[-pre-release][+build] (semver.org 2.0.0);
 *		error out on anything else.
 */
static SemVer
parse_semver(const char *version)
{
	SemVer		v;
	const char *p = version;
	int			i;
	bool		ok = true;

	memset(&v, 0, sizeof(v));
	for (i = 0; i < 3 && ok; i++)
	{
		ok = parse_number(&p, &v.part[i]);
		if (ok && i < 2)
			ok = (*p++ == '.');
	}
	if (ok && *p == '-')
	{
		v.pre = ++p;
		ok = parse_identifiers(&p);
		v.pre_len = p - v.pre;
	}
	if (ok && *p == '+')
	{
		p++;
		ok = parse_identifiers(&p);
	}
	if (!ok || *p != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid version \"%s\"", version),
				 errhint("Versions follow semantic versioning: MAJOR.MINOR.PATCH, for example \"1.4.0\" or \"2.0.0-rc.1\".")));
	return v;
}

/* Compare one pre-release identifier each (numeric ones sort first). */
static int
compare_identifier(const char *a, int alen, const char *b, int blen)
{
	bool		anum = strspn(a, "0123456789") >= (size_t) alen;
	bool		bnum = strspn(b, "0123456789") >= (size_t) blen;
	int			c;

	if (anum && bnum)
	{
		if (alen != blen)
			return alen < blen ? -1 : 1;
		return strncmp(a, b, alen);
	}
	if (anum != bnum)
		return anum ? -1 : 1;
	c = strncmp(a, b, Min(alen, blen));
	if (c != 0)
		return c;
	return alen == blen ? 0 : (alen < blen ? -1 : 1);
}

/*
 * compare_semver
 *		Order two versions by semver precedence (build metadata ignored).
 */
static int
compare_semver(SemVer a, SemVer b)
{
	int			i;
	const char *pa;
	const char *pb;
	const char *ea;
	const char *eb;

	for (i = 0; i < 3; i++)
		if (a.part[i] != b.part[i])
			return a.part[i] < b.part[i] ? -1 : 1;
	if (a.pre == NULL || b.pre == NULL)
		return (a.pre == NULL) - (b.pre == NULL);

	pa = a.pre;
	pb = b.pre;
	ea = a.pre + a.pre_len;
	eb = b.pre + b.pre_len;
	while (pa < ea && pb < eb)
	{
		const char *da = memchr(pa, '.', ea - pa);
		const char *db = memchr(pb, '.', eb - pb);
		int			la = (da ? da : ea) - pa;
		int			lb = (db ? db : eb) - pb;
		int			c = compare_identifier(pa, la, pb, lb);

		if (c != 0)
			return c;
		pa += la + (da ? 1 : 0);
		pb += lb + (db ? 1 : 0);
	}
	return (pa < ea) - (pb < eb);
}

/*
 * compare_versions(a text, b text) returns integer
 *
 * -1, 0 or 1 as version a precedes, equals or follows version b by semver
 * precedence (build metadata ignored): the order alter_product keeps
 * versions in.  A malformed version is an error (invalid_parameter_value).
 */
Datum
dataproduct_compare_versions(PG_FUNCTION_ARGS)
{
	int			c = compare_semver(parse_semver(text_to_cstring(PG_GETARG_TEXT_PP(0))),
								   parse_semver(text_to_cstring(PG_GETARG_TEXT_PP(1))));

	PG_RETURN_INT32(c < 0 ? -1 : (c > 0 ? 1 : 0));
}

/* ----------------------------------------------------------------
 * Lifecycle
 * ----------------------------------------------------------------
 */

/*
 * check_transition
 *		Error out unless a product may move from status "from" to "to":
 *		draft -> published | retired, published -> deprecated,
 *		deprecated -> published | retired; retired is final.
 */
static void
check_transition(const char *address, const char *from, const char *to)
{
	static const char *const allowed[][2] = {
		{DP_STATUS_DRAFT, DP_STATUS_PUBLISHED},
		{DP_STATUS_DRAFT, DP_STATUS_RETIRED},
		{DP_STATUS_PUBLISHED, DP_STATUS_DEPRECATED},
		{DP_STATUS_DEPRECATED, DP_STATUS_PUBLISHED},
		{DP_STATUS_DEPRECATED, DP_STATUS_RETIRED},
	};
	size_t		i;

	if (strcmp(to, DP_STATUS_DRAFT) != 0 &&
		strcmp(to, DP_STATUS_PUBLISHED) != 0 &&
		strcmp(to, DP_STATUS_DEPRECATED) != 0 &&
		strcmp(to, DP_STATUS_RETIRED) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid lifecycle status \"%s\"", to),
				 errhint("The statuses are draft, published, deprecated and retired.")));

	if (strcmp(from, to) == 0)
		return;
	for (i = 0; i < lengthof(allowed); i++)
		if (strcmp(allowed[i][0], from) == 0 && strcmp(allowed[i][1], to) == 0)
			return;

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("data product %s cannot go from status %s to %s",
					address, from, to),
			 errdetail("A product goes from draft to published, from published to deprecated, and from deprecated back to published; draft and deprecated products can be retired, and retired is final."),
			 strcmp(from, DP_STATUS_RETIRED) == 0 ?
			 errhint("Declare a new product instead.") : 0));
}

/* ----------------------------------------------------------------
 * Domains
 * ----------------------------------------------------------------
 */

/*
 * create_domain(name text, owner regrole, description text) returns text
 */
Datum
dataproduct_create_domain(PG_FUNCTION_ARGS)
{
	char	   *name = dataproduct_required_text(fcinfo, 0, "name");
	Oid			owner = PG_ARGISNULL(1) ? GetUserId() : PG_GETARG_OID(1);
	char	   *description = dataproduct_optional_text(fcinfo, 2);
	Oid			nspid;
	bool		created = false;
	DpSavedUser saved;
	Oid			argtypes[5] = {TEXTOID, OIDOID, OIDOID, TEXTOID, BOOLOID};
	Datum		values[5];
	char		nulls[5] = "     ";

	dataproduct_refuse_on_standby("create a domain");
	dataproduct_check_name("domain", name);
	dataproduct_check_may_assign(owner);

	dataproduct_spi_connect();
	if (dataproduct_get_domain(name, true) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("domain \"%s\" already exists", name)));

	nspid = get_namespace_oid(name, true);
	if (OidIsValid(nspid))
	{
		if (!pg_namespace_ownercheck(nspid, GetUserId()))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be owner of schema %s to declare it a domain",
							quote_identifier(name)),
					 errhint("Ask the owner of the schema to declare the domain, or choose another name.")));
	}
	else
	{
		/* as the caller: CREATE SCHEMA checks the rights to do it */
		dataproduct_spi_exec(psprintf("CREATE SCHEMA %s AUTHORIZATION %s",
									  quote_identifier(name),
									  quote_identifier(GetUserNameFromId(owner, false))),
							 0, NULL, NULL, NULL, SPI_OK_UTILITY);
		CommandCounterIncrement();
		nspid = get_namespace_oid(name, false);
		created = true;
	}
	if (description != NULL)
		CreateComments(nspid, NamespaceRelationId, 0, description);

	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(nspid);
	values[2] = ObjectIdGetDatum(owner);
	values[3] = dataproduct_text_or_null(description, &nulls[3]);
	values[4] = BoolGetDatum(created);
	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("INSERT INTO dataproduct.domain"
						 " (name, schema, owner, description, created_schema)"
						 " VALUES ($1, $2, $3, $4, $5)",
						 5, argtypes, values, nulls, SPI_OK_INSERT);
	dataproduct_restore_user(&saved);
	dataproduct_spi_finish();

	PG_RETURN_TEXT_P(cstring_to_text(name));
}

/* ----------------------------------------------------------------
 * Products
 * ----------------------------------------------------------------
 */

/*
 * internal_usage
 *		Grant USAGE on schema dataproduct_internal to role while it owns a
 *		product, and take it back when it owns none: a product owner's
 *		refreshes, which run as it, name its stores there; nobody else needs
 *		to look names up in it (consumers read output views, whose objects
 *		are bound).  will_own: the role is about to own one (a new owner
 *		whose rights are proven before the catalog says so).  Runs GRANT or REVOKE as the catalog owner (the schema's
 *		owner), and nothing for the schema's owner or a superuser.  SPI
 *		must be connected.
 */
static void
internal_usage(Oid role, bool will_own)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(role)};
	DpSavedUser saved;
	bool		isnull;
	bool		owns;
	bool		granted;

	if (superuser_arg(role))
		return;
	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("SELECT EXISTS (SELECT 1 FROM dataproduct.product WHERE owner = $1),"
						 "       EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n,"
						 "                    pg_catalog.aclexplode(n.nspacl) a"
						 "                WHERE n.nspname = 'dataproduct_internal'"
						 "                  AND a.grantee = $1 AND a.privilege_type = 'USAGE'),"
						 "       $1 = (SELECT nspowner FROM pg_catalog.pg_namespace"
						 "              WHERE nspname = 'dataproduct_internal')",
						 1, argtypes, values, NULL, SPI_OK_SELECT);
	owns = will_own ||
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	granted = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull)))
	{
		if (owns && !granted)
			dataproduct_exec_ddl(psprintf("GRANT USAGE ON SCHEMA dataproduct_internal TO %s",
										  quote_identifier(GetUserNameFromId(role, false))));
		else if (!owns && granted)
			dataproduct_exec_ddl(psprintf("REVOKE USAGE ON SCHEMA dataproduct_internal FROM %s",
										  quote_identifier(GetUserNameFromId(role, false))));
	}
	dataproduct_restore_user(&saved);
}

/*
 * create_product(product text, owner regrole, description text,
 *				  version text, tags text[], contact text) returns text
 */
Datum
dataproduct_create_product(PG_FUNCTION_ARGS)
{
	char	   *address = dataproduct_required_text(fcinfo, 0, "product");
	char	   *description = dataproduct_optional_text(fcinfo, 2);
	char	   *version = PG_ARGISNULL(3) ? "0.1.0" : text_to_cstring(PG_GETARG_TEXT_PP(3));
	ArrayType  *tags = PG_ARGISNULL(4) ? construct_empty_array(TEXTOID) : PG_GETARG_ARRAYTYPE_P(4);
	char	   *contact = dataproduct_optional_text(fcinfo, 5);
	char	   *domain_name;
	char	   *name;
	DpDomain   *domain;
	Oid			owner;
	DpSavedUser saved;
	Oid			argtypes[8] = {INT8OID, TEXTOID, OIDOID, TEXTOID, TEXTOID,
	TEXTARRAYOID, TEXTOID, INTERVALOID};
	Datum		values[8];
	char		nulls[9] = "        ";

	dataproduct_refuse_on_standby("create a data product");
	dataproduct_split_address(address, &domain_name, &name);
	(void) parse_semver(version);
	check_tags(tags);

	dataproduct_spi_connect();
	domain = dataproduct_get_domain(domain_name, false);
	dataproduct_check_acts_as(domain->owner, "domain", domain->name);
	owner = PG_ARGISNULL(1) ? domain->owner : PG_GETARG_OID(1);
	if (!PG_ARGISNULL(1))
		dataproduct_check_may_assign(owner);
	if (dataproduct_get_product(address, true) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("data product \"%s\" already exists", address),
				 errhint("Change it with dataproduct.alter_product(), or choose another name.")));

	values[0] = Int64GetDatum(domain->id);
	values[1] = CStringGetTextDatum(name);
	values[2] = ObjectIdGetDatum(owner);
	values[3] = dataproduct_text_or_null(description, &nulls[3]);
	values[4] = CStringGetTextDatum(version);
	values[5] = PointerGetDatum(tags);
	values[6] = dataproduct_text_or_null(contact, &nulls[6]);
	values[7] = dataproduct_arg_or_null(fcinfo, 6, &nulls[7]);
	check_promise(fcinfo, 6);
	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("INSERT INTO dataproduct.product"
						 " (domain_id, name, owner, description, version, tags, contact, max_staleness)"
						 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
						 8, argtypes, values, nulls, SPI_OK_INSERT);
	dataproduct_restore_user(&saved);
	internal_usage(owner, false);
	dataproduct_spi_finish();

	PG_RETURN_TEXT_P(cstring_to_text(psprintf("%s.%s", domain_name, name)));
}

/*
 * change_owner
 *		Give every relation of a product's outputs to a new owner, then prove
 *		the new owner can run each output query.
 */
static void
change_owner(DpProduct *product, Oid owner)
{
	List	   *outputs = dataproduct_product_outputs(product->id);
	const char *qowner = quote_identifier(GetUserNameFromId(owner, false));
	ListCell   *lc;

	foreach(lc, outputs)
	{
		DpOutput   *output = lfirst(lc);
		Oid			rels[4] = {output->view, output->store, output->query_view,
		output->pre_view};
		DpSavedUser saved;
		int			i;

		dataproduct_become_catalog_owner(&saved);
		if (OidIsValid(output->pre_view))
			dataproduct_check_leaf_privileges(dataproduct_plan_output(output->query_view,
																	  output->store),
											  owner, true);
		for (i = 0; i < 4; i++)
		{
			if (!OidIsValid(rels[i]))
				continue;
			dataproduct_exec_ddl(psprintf("ALTER %s %s OWNER TO %s",
							  get_rel_relkind(rels[i]) == RELKIND_VIEW ? "VIEW" : "TABLE",
							  dataproduct_qualified_name(rels[i]),
							  qowner));
		}
		dataproduct_restore_user(&saved);
		dataproduct_check_owner_can_read(output, owner);
	}
}

/*
 * alter_product(product text, description text, version text, tags text[],
 *				 owner regrole, status text, contact text) returns void
 *
 * NULL arguments leave their field unchanged.
 */
Datum
dataproduct_alter_product(PG_FUNCTION_ARGS)
{
	char	   *address = dataproduct_required_text(fcinfo, 0, "product");
	char	   *description = dataproduct_optional_text(fcinfo, 1);
	char	   *version = dataproduct_optional_text(fcinfo, 2);
	char	   *status = dataproduct_optional_text(fcinfo, 5);
	char	   *contact = dataproduct_optional_text(fcinfo, 6);
	DpProduct  *product;
	DpSavedUser saved;
	Oid			argtypes[8] = {INT8OID, TEXTOID, TEXTOID, TEXTARRAYOID, OIDOID,
	TEXTOID, TEXTOID, INTERVALOID};
	Datum		values[8];
	char		nulls[9] = "        ";

	dataproduct_refuse_on_standby("change a data product");
	dataproduct_spi_connect();
	product = dataproduct_get_product(address, false);
	dataproduct_check_acts_as(product->owner, "data product", product->address);

	if (version != NULL &&
		compare_semver(parse_semver(version), parse_semver(product->version)) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("version of data product %s cannot go back from %s to %s",
						product->address, product->version, version),
				 errhint("Versions only move forward; publish the change as a new version.")));
	if (status != NULL)
		check_transition(product->address, product->status, status);
	if (!PG_ARGISNULL(3))
		check_tags(PG_GETARG_ARRAYTYPE_P(3));
	if (!PG_ARGISNULL(7))
	{
		Interval   *iv = PG_GETARG_INTERVAL_P(7);

		/* '0' removes the promise */
		if (iv->month != 0 || iv->day != 0 || iv->time != 0)
			check_promise(fcinfo, 7);
	}
	if (!PG_ARGISNULL(4) && PG_GETARG_OID(4) != product->owner)
	{
		dataproduct_check_may_assign(PG_GETARG_OID(4));
		internal_usage(PG_GETARG_OID(4), true);
		change_owner(product, PG_GETARG_OID(4));
	}

	values[0] = Int64GetDatum(product->id);
	values[1] = dataproduct_text_or_null(description, &nulls[1]);
	values[2] = dataproduct_text_or_null(version, &nulls[2]);
	values[3] = dataproduct_arg_or_null(fcinfo, 3, &nulls[3]);
	values[4] = dataproduct_arg_or_null(fcinfo, 4, &nulls[4]);
	values[5] = dataproduct_text_or_null(status, &nulls[5]);
	values[6] = dataproduct_text_or_null(contact, &nulls[6]);
	values[7] = dataproduct_arg_or_null(fcinfo, 7, &nulls[7]);
	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("UPDATE dataproduct.product"
						 "   SET description = coalesce($2, description),"
						 "       version = coalesce($3, version),"
						 "       tags = coalesce($4, tags),"
						 "       owner = coalesce($5::pg_catalog.regrole, owner),"
						 "       status = coalesce($6, status),"
						 "       contact = coalesce($7, contact),"
						 "       max_staleness = CASE WHEN $8 IS NULL THEN max_staleness"
						 "                            WHEN $8 = '0' THEN NULL ELSE $8 END,"
						 "       updated_at = pg_catalog.now()"
						 " WHERE product_id = $1",
						 8, argtypes, values, nulls, SPI_OK_UPDATE);
	dataproduct_restore_user(&saved);
	if (!PG_ARGISNULL(4) && PG_GETARG_OID(4) != product->owner)
	{
		internal_usage(product->owner, false);
	}
	/* the output views' comments show owner, version, status, promise */
	if (version != NULL || status != NULL || !PG_ARGISNULL(4) || !PG_ARGISNULL(7))
		dataproduct_comment_views(product->id, 0);
	/* a retired product takes back the grants made through requests */
	if (status != NULL && strcmp(status, DP_STATUS_RETIRED) == 0 &&
		strcmp(product->status, DP_STATUS_RETIRED) != 0)
		dataproduct_access_retire(product);
	dataproduct_spi_finish();
	PG_RETURN_VOID();
}

/*
 * drop_product_internal
 *		Drop a product whose owner rights were checked, with its outputs if
 *		cascade.
 */
static void
drop_product_internal(DpProduct *product, bool cascade)
{
	List	   *outputs = dataproduct_product_outputs(product->id);
	ListCell   *lc;
	DpSavedUser saved;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(product->id)};

	if (outputs != NIL && !cascade)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop data product %s because it has outputs",
						product->address),
				 errdetail("Outputs: %s.", dataproduct_output_addresses(outputs)),
				 errhint("Drop the outputs first, or use cascade => true to drop them too.")));

	foreach(lc, outputs)
	{
		/* an earlier cascade may have taken parts of it already */
		dataproduct_drop_output_objects(lfirst(lc), DROP_CASCADE);
	}
	dataproduct_forget_dropped();

	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("DELETE FROM dataproduct.product WHERE product_id = $1",
						 1, argtypes, values, NULL, SPI_OK_DELETE);
	dataproduct_restore_user(&saved);
	CommandCounterIncrement();
	internal_usage(product->owner, false);
}

/*
 * drop_product(product text, cascade boolean) returns void
 */
Datum
dataproduct_drop_product(PG_FUNCTION_ARGS)
{
	char	   *address = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		cascade = PG_GETARG_BOOL(1);
	DpProduct  *product;

	dataproduct_refuse_on_standby("drop a data product");
	dataproduct_spi_connect();
	product = dataproduct_get_product(address, false);
	dataproduct_check_acts_as(product->owner, "data product", product->address);
	drop_product_internal(product, cascade);
	dataproduct_spi_finish();
	PG_RETURN_VOID();
}

/*
 * drop_domain(name text, cascade boolean) returns void
 *
 * The domain owner may drop the domain's products, whoever owns them.  The
 * schema goes too if create_domain created it and nothing else lives in it.
 */
Datum
dataproduct_drop_domain(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		cascade = PG_GETARG_BOOL(1);
	DpDomain   *domain;
	List	   *products = NIL;
	ListCell   *lc;
	DpSavedUser saved;
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	uint64		i;

	dataproduct_refuse_on_standby("drop a domain");
	dataproduct_spi_connect();
	domain = dataproduct_get_domain(name, false);
	dataproduct_check_acts_as(domain->owner, "domain", domain->name);

	values[0] = Int64GetDatum(domain->id);
	values[1] = CStringGetTextDatum(domain->name);
	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("SELECT $2 || '.' || name FROM dataproduct.product"
						 " WHERE domain_id = $1 ORDER BY product_id",
						 2, argtypes, values, NULL, SPI_OK_SELECT);
	dataproduct_restore_user(&saved);
	for (i = 0; i < SPI_processed; i++)
		products = lappend(products, SPI_getvalue(SPI_tuptable->vals[i],
												  SPI_tuptable->tupdesc, 1));
	if (products != NIL && !cascade)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop domain \"%s\" because it has data products",
						domain->name),
				 errdetail("Products: %s.", dataproduct_join_names(products)),
				 errhint("Drop the products first, or use cascade => true to drop them too.")));

	foreach(lc, products)
		drop_product_internal(dataproduct_get_product(lfirst(lc), false), true);

	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("DELETE FROM dataproduct.domain WHERE domain_id = $1",
						 1, argtypes, values, NULL, SPI_OK_DELETE);
	if (domain->created_schema)
	{
		Oid			nsp_argtypes[1] = {OIDOID};
		Datum		nsp_values[1] = {ObjectIdGetDatum(domain->schema)};

		dataproduct_spi_exec("SELECT 1 FROM pg_catalog.pg_depend"
							 " WHERE refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass"
							 "   AND refobjid = $1 LIMIT 1",
							 1, nsp_argtypes, nsp_values, NULL, SPI_OK_SELECT);
		if (SPI_processed == 0)
		{
			ObjectAddress addr;

			ObjectAddressSet(addr, NamespaceRelationId, domain->schema);
			performDeletion(&addr, DROP_RESTRICT, 0);
		}
		else
			ereport(NOTICE,
					(errmsg("schema %s is kept because it contains other objects",
							quote_identifier(domain->name))));
	}
	dataproduct_restore_user(&saved);
	dataproduct_spi_finish();
	PG_RETURN_VOID();
}


/*
 * publish(product text, publication text) returns text
 *
 * Put the stores of a product's outputs in a publication for logical
 * replication, creating it if it does not exist (named
 * dataproduct_<domain>_<product> unless given), as the product owner, who
 * owns the stores: it needs CREATE on the database to create one, and must
 * own one that exists.  Outputs not loaded yet are left out, with a NOTICE
 * (their views call the guard a subscriber lacks); stores already in it
 * stay.  A store replaced later (a switch to full refresh) joins the
 * publications of the old one (refresh.c); outputs added later are added by
 * calling publish() again.  Returns the publication's name.
 */
Datum
dataproduct_publish(PG_FUNCTION_ARGS)
{
	char	   *address = dataproduct_required_text(fcinfo, 0, "product");
	DpProduct  *product;
	char	   *pubname;
	List	   *outputs;
	ListCell   *lc;
	DpSavedUser saved;
	Oid			argtypes[2] = {TEXTOID, OIDOID};
	Datum		values[2];
	bool		exists;

	dataproduct_refuse_on_standby("publish a data product");
	dataproduct_spi_connect();
	product = dataproduct_get_product(address, false);
	dataproduct_check_acts_as(product->owner, "data product", product->address);
	pubname = PG_ARGISNULL(1) ?
		psprintf("dataproduct_%s_%s", product->domain, product->name) :
		text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (pubname[0] == '\0' || strlen(pubname) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid publication name \"%s\"", pubname),
				 errhint("Give a name of 1 to %d bytes.", NAMEDATALEN - 1)));
	outputs = dataproduct_product_outputs(product->id);
	if (outputs == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("data product %s has no outputs to publish", product->address),
				 errhint("Declare outputs with dataproduct.add_output() first.")));

	values[0] = CStringGetTextDatum(pubname);
	dataproduct_spi_exec("SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1",
						 1, argtypes, values, NULL, SPI_OK_SELECT);
	exists = SPI_processed > 0;

	dataproduct_become_owner(product->owner, &saved);
	if (!exists)
		dataproduct_exec_ddl(psprintf("CREATE PUBLICATION %s", quote_identifier(pubname)));
	dataproduct_restore_user(&saved);

	foreach(lc, outputs)
	{
		DpOutput   *output = lfirst(lc);
		bool		isnull;
		bool		populated;
		bool		member;

		values[1] = ObjectIdGetDatum(output->store);
		dataproduct_become_catalog_owner(&saved);
		dataproduct_spi_exec("SELECT o.status = 'ok',"
							 "       EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel pr"
							 "                 JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid"
							 "                WHERE p.pubname = $1 AND pr.prrelid = $2)"
							 "  FROM dataproduct.output o WHERE o.store = $2",
							 2, argtypes, values, NULL, SPI_OK_SELECT);
		dataproduct_restore_user(&saved);
		if (SPI_processed == 0)
			continue;
		populated = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		member = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		if (!populated)
		{
			ereport(NOTICE,
					(errmsg("output %s is not published: it is not loaded yet", output->address),
					 errhint("Refresh it, then call dataproduct.publish() again.")));
			continue;
		}
		if (member)
			continue;
		dataproduct_become_owner(product->owner, &saved);
		dataproduct_exec_ddl(psprintf("ALTER PUBLICATION %s ADD TABLE %s",
									  quote_identifier(pubname),
									  dataproduct_qualified_name(output->store)));
		dataproduct_restore_user(&saved);
	}
	dataproduct_spi_finish();
	PG_RETURN_TEXT_P(cstring_to_text(pubname));
}
