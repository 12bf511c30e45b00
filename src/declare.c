/*-------------------------------------------------------------------------
 *
 * declare.c
 *	  The declaration API: domains, products and output ports.
 *
 * This is where a domain team's declarations enter the system.  Each
 * SQL-callable function validates its arguments, checks the caller's rights
 * (catalog.c), builds or drops the database objects behind the declaration
 * and records it in the catalog:
 *
 *	 create_domain   schema <domain> (created if missing) + catalog row
 *	 create_product  catalog row (status draft)
 *	 add_output      dataproduct_internal.output_<id>_query   the analysed query
 *	                 dataproduct_internal.output_<id>_store   the rows
 *	                 <domain>.<name>                           the view consumers read
 *	                 + catalog row, then the first refresh (refresh.c)
 *	 alter_product, drop_output, drop_product, drop_domain
 *
 * The three relations of an output belong to the product owner.  The query
 * view is built by DefineView from the raw parse tree that analyze.c
 * checked, under the caller's search_path, so the query is never spliced
 * into SQL text and later search_path changes cannot alter it; PostgreSQL's
 * own dependency tracking then refuses to drop or alter a source that an
 * output reads.  All other objects are built with generated SQL of a fixed
 * shape made of quoted identifiers.
 *
 * IDENTIFICATION
 *	  src/declare.c
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

#include "analyze.h"
#include "capture.h"
#include "catalog.h"
#include "delta.h"
#include "guc.h"
#include "refresh.h"
#include "worker.h"

PG_FUNCTION_INFO_V1(dataproduct_create_domain);
PG_FUNCTION_INFO_V1(dataproduct_drop_domain);
PG_FUNCTION_INFO_V1(dataproduct_create_product);
PG_FUNCTION_INFO_V1(dataproduct_alter_product);
PG_FUNCTION_INFO_V1(dataproduct_drop_product);
PG_FUNCTION_INFO_V1(dataproduct_add_output);
PG_FUNCTION_INFO_V1(dataproduct_drop_output);
PG_FUNCTION_INFO_V1(dataproduct_refresh);
PG_FUNCTION_INFO_V1(dataproduct_alter_output);

/* ----------------------------------------------------------------
 * Argument helpers
 * ----------------------------------------------------------------
 */

static char *
required_text(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" must not be null", argname)));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

static char *
optional_text(FunctionCallInfo fcinfo, int argno)
{
	return PG_ARGISNULL(argno) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

static Datum
text_or_null(const char *value, char *null)
{
	*null = value ? ' ' : 'n';
	return value ? CStringGetTextDatum(value) : (Datum) 0;
}

/*
 * check_intervals
 *		min_interval and schedule must not be negative.
 */
static void
check_intervals(FunctionCallInfo fcinfo, int min_arg, int schedule_arg)
{
	int			args[2] = {min_arg, schedule_arg};
	int			i;

	for (i = 0; i < 2; i++)
	{
		Interval   *iv;

		if (PG_ARGISNULL(args[i]))
			continue;
		iv = PG_GETARG_INTERVAL_P(args[i]);
		if (iv->time < 0 || iv->day < 0 || iv->month < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not be negative", i == 0 ? "min_interval" : "schedule")));
	}
}

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
	if (iv->time <= 0 && iv->day <= 0 && iv->month <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_staleness must be positive"),
				 errhint("Promise how far behind its sources the product may be, for example '5 minutes'.")));
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
	char	   *name = required_text(fcinfo, 0, "name");
	Oid			owner = PG_ARGISNULL(1) ? GetUserId() : PG_GETARG_OID(1);
	char	   *description = optional_text(fcinfo, 2);
	Oid			nspid;
	bool		created = false;
	DpSavedUser saved;
	Oid			argtypes[5] = {TEXTOID, OIDOID, OIDOID, TEXTOID, BOOLOID};
	Datum		values[5];
	char		nulls[5] = "     ";

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
	values[3] = text_or_null(description, &nulls[3]);
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
 * Outputs
 * ----------------------------------------------------------------
 */

/*
 * drop_output_objects
 *		Drop an output's view, store and query view and its catalog row.
 *		With DROP_CASCADE, whatever reads the view goes too; the caller then
 *		runs dataproduct_forget_dropped for outputs caught in the cascade.
 */
static void
drop_output_objects(DpOutput *output, DropBehavior behavior)
{
	DpSavedUser saved;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(output->id)};

	dataproduct_become_catalog_owner(&saved);
	dataproduct_drop_output_relations(output, behavior, 0);
	dataproduct_spi_exec("DELETE FROM dataproduct.output WHERE output_id = $1",
						 1, argtypes, values, NULL, SPI_OK_DELETE);
	dataproduct_restore_user(&saved);
	CommandCounterIncrement();
}

/*
 * check_no_readers
 *		Error out if other outputs read this output (drop without cascade).
 */
static void
check_no_readers(DpOutput *output)
{
	List	   *readers = dataproduct_outputs_reading(output->view);
	StringInfoData names;
	ListCell   *lc;

	if (readers == NIL)
		return;
	initStringInfo(&names);
	foreach(lc, readers)
		appendStringInfo(&names, "%s%s", names.len > 0 ? ", " : "",
						 ((DpOutput *) lfirst(lc))->address);
	ereport(ERROR,
			(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
			 errmsg("cannot drop output %s because other outputs read it",
					output->address),
			 errdetail("Read by: %s.", names.data),
			 errhint("Drop those outputs first, or use cascade => true to drop them too.")));
}

/*
 * build_output_view
 *		Create the query view of a new output from the analysed statement,
 *		under the search_path the caller's query was analysed with.
 */
static Oid
build_query_view(DpQueryInfo *info, const char *sql, const char *relname,
				 const char *search_path)
{
	ViewStmt   *stmt = makeNode(ViewStmt);
	ObjectAddress address;
	DpSavedUser saved;
	int			nestlevel;

	stmt->view = makeRangeVar("dataproduct_internal", pstrdup(relname), -1);
	stmt->query = copyObject(info->raw->stmt);
	stmt->replace = false;
	stmt->withCheckOption = NO_CHECK_OPTION;

	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", search_path,
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	dataproduct_become_catalog_owner(&saved);
	address = DefineView(stmt, sql, info->raw->stmt_location,
						 info->raw->stmt_len);
	dataproduct_restore_user(&saved);
	AtEOXact_GUC(true, nestlevel);
	CommandCounterIncrement();
	return address.objectId;
}

/*
 * effective_search_path
 *		The caller's search path as an explicit list of schemas, so that the
 *		query view resolves names exactly as the caller's analysis did even
 *		while running as another role ("$user" would differ).
 */
static char *
effective_search_path(void)
{
	List	   *path = fetch_search_path(true);
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, path)
	{
		Oid			nspid = lfirst_oid(lc);

		appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "",
						 isTempNamespace(nspid) ? "pg_temp" :
						 quote_identifier(get_namespace_name(nspid)));
	}
	if (buf.len == 0)
		appendStringInfoString(&buf, "pg_catalog");
	return buf.data;
}

static void
exec_ddl(const char *sql)
{
	dataproduct_spi_exec(sql, 0, NULL, NULL, NULL, SPI_OK_UTILITY);
	CommandCounterIncrement();
}

/*
 * build_incremental
 *		Build the pre view, the keyed store and the guarded output view of an
 *		incrementally maintained output, and capture its sources.  Returns
 *		the pre view; *store is set.  Runs as the catalog owner.
 */
static Oid
build_incremental(DpPlan *plan, int64 id, const char *qview, const char *qowner,
				  Oid *store, List **sources)
{
	char	   *pre_name = psprintf("output_" INT64_FORMAT "_pre", id);
	char	   *store_name = psprintf("output_" INT64_FORMAT "_store", id);
	char	   *qpre = quote_qualified_identifier("dataproduct_internal", pre_name);
	char	   *qstore = quote_qualified_identifier("dataproduct_internal", store_name);
	Oid			internal = get_namespace_oid("dataproduct_internal", false);
	StringInfoData cols;
	StringInfoData keys;
	ListCell   *lc;
	List	   *relids = NIL;
	int			i;

	exec_ddl(psprintf("CREATE VIEW %s AS %s", qpre, plan->pre_sql));

	initStringInfo(&cols);
	foreach(lc, plan->store_cols)
	{
		DpColumn   *col = lfirst(lc);

		appendStringInfo(&cols, "%s%s %s", cols.len > 0 ? ", " : "",
						 quote_identifier(col->name),
						 format_type_with_typemod(col->type, col->typmod));
		if (OidIsValid(col->collation) && col->collation != get_typcollation(col->type))
			appendStringInfo(&cols, " COLLATE %s", generate_collation_name(col->collation));
	}
	/* group rows are updated in place: leave room for HOT updates */
	exec_ddl(psprintf("CREATE TABLE %s (%s) WITH (fillfactor = 80)", qstore, cols.data));
	initStringInfo(&keys);
	for (i = 0; i < list_length(plan->keys); i++)
		appendStringInfo(&keys, "%s%s", i > 0 ? ", " : "",
						 quote_identifier(((DpColumn *) list_nth(plan->store_cols, i))->name));
	exec_ddl(psprintf("CREATE UNIQUE INDEX %s ON %s (%s) NULLS NOT DISTINCT",
					  quote_identifier(psprintf("output_" INT64_FORMAT "_key", id)),
					  qstore, keys.data));
	*store = get_relname_relid(store_name, internal);
	exec_ddl(psprintf("CREATE VIEW %s AS %s", qview,
					  dataproduct_view_sql(plan, *store, true)));
	exec_ddl(psprintf("ALTER VIEW %s OWNER TO %s", qpre, qowner));
	exec_ddl(psprintf("ALTER TABLE %s OWNER TO %s", qstore, qowner));

	/* capture every relation read, with the union of the columns read */
	foreach(lc, plan->leaves)
		relids = list_append_unique_oid(relids, ((DpLeaf *) lfirst(lc))->relid);
	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		Bitmapset  *attnos = NULL;
		ListCell   *lc2;
		int64		source_id;
		Oid			log;

		foreach(lc2, plan->leaves)
			if (((DpLeaf *) lfirst(lc2))->relid == relid)
				attnos = bms_union(attnos, ((DpLeaf *) lfirst(lc2))->attnos);
		log = dataproduct_capture_relation(relid, attnos, &source_id);
		exec_ddl(psprintf("GRANT SELECT (%s) ON %s TO %s",
						  dataproduct_log_columns(relid, attnos),
						  quote_qualified_identifier("dataproduct_internal", get_rel_name(log)),
						  qowner));
		*sources = lappend(*sources, makeInteger(source_id));
	}
	return get_relname_relid(pre_name, internal);
}

/*
 * add_output(product text, name text, query text, refresh text,
 *			  description text) returns regclass
 */
Datum
dataproduct_add_output(PG_FUNCTION_ARGS)
{
	char	   *address = required_text(fcinfo, 0, "product");
	char	   *name = required_text(fcinfo, 1, "name");
	char	   *sql = required_text(fcinfo, 2, "query");
	char	   *refresh = PG_ARGISNULL(3) ? "auto" : text_to_cstring(PG_GETARG_TEXT_PP(3));
	char	   *description = optional_text(fcinfo, 4);
	Datum		min_interval = PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5);
	Datum		schedule = PG_ARGISNULL(6) ? (Datum) 0 : PG_GETARG_DATUM(6);
	char	   *search_path;
	DpQueryInfo *info;
	DpProduct  *product;
	DpOutput   *output;
	DpPlan	   *plan = NULL;
	DpSavedUser saved;
	int64		id;
	char	   *store_name;
	char	   *query_name;
	const char *qowner;
	char	   *qstore;
	char	   *qquery;
	char	   *qview;
	char	   *mode;
	char	   *reason = NULL;
	StringInfoData cols;
	ListCell   *lc;
	List	   *sources = NIL;
	Oid			query_view;
	Oid			pre_view = InvalidOid;
	Oid			store;
	Oid			view;
	Oid			argtypes[15] = {INT8OID, INT8OID, TEXTOID, OIDOID, OIDOID, OIDOID,
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, OIDOID, TEXTOID, INTERVALOID,
	INTERVALOID};
	Datum		values[15];
	char		nulls[16] = "               ";

	dataproduct_check_name("output", name);
	check_intervals(fcinfo, 5, 6);
	if (strcmp(refresh, "auto") != 0 && strcmp(refresh, "full") != 0 &&
		strcmp(refresh, "incremental") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid refresh mode \"%s\"", refresh),
				 errhint("The refresh modes are auto, incremental and full.")));

	/* analysed as the caller, under the caller's search_path */
	search_path = effective_search_path();
	info = dataproduct_analyze_query(sql);

	dataproduct_spi_connect();
	product = dataproduct_get_product(address, false);
	dataproduct_check_acts_as(product->owner, "data product", product->address);
	if (strcmp(product->status, DP_STATUS_RETIRED) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("data product %s is retired", product->address),
				 errhint("Declare a new product instead.")));
	if (OidIsValid(get_relname_relid(name, product->schema)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation \"%s.%s\" already exists", product->domain, name),
				 errhint("Choose another output name; output names are unique within a domain.")));

	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("SELECT pg_catalog.nextval('dataproduct.output_id_seq')",
						 0, NULL, NULL, NULL, SPI_OK_SELECT);
	dataproduct_restore_user(&saved);
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									 SPI_tuptable->tupdesc, 1, &(bool){false}));
	query_name = psprintf("output_" INT64_FORMAT "_query", id);
	store_name = psprintf("output_" INT64_FORMAT "_store", id);

	query_view = build_query_view(info, sql, query_name, search_path);

	/* which refresh mode: incremental where the query allows it */
	if (strcmp(refresh, "full") == 0)
	{
		mode = "full";
		reason = "full refresh was requested";
	}
	else
	{
		plan = dataproduct_plan_output(query_view);
		dataproduct_check_leaf_privileges(plan, product->owner, false);
		if (plan->incremental)
			mode = "incremental";
		else if (strcmp(refresh, "incremental") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("output %s.%s cannot be maintained incrementally",
							product->domain, name),
					 errdetail("Its query %s.", plan->reason),
					 errhint("Declare it with refresh => 'auto' or 'full' to refresh it in full, or rewrite the query.")));
		else
		{
			mode = "full";
			reason = psprintf("its query %s", plan->reason);
			ereport(NOTICE,
					(errmsg("output %s.%s will be refreshed in full because %s",
							product->domain, name, reason)));
		}
	}

	qowner = quote_identifier(GetUserNameFromId(product->owner, false));
	qquery = quote_qualified_identifier("dataproduct_internal", query_name);
	qstore = quote_qualified_identifier("dataproduct_internal", store_name);
	qview = quote_qualified_identifier(product->domain, name);

	dataproduct_become_catalog_owner(&saved);
	if (strcmp(mode, "incremental") == 0)
		pre_view = build_incremental(plan, id, qview, qowner, &store, &sources);
	else
	{
		initStringInfo(&cols);
		foreach(lc, info->colnames)
			appendStringInfo(&cols, "%s%s", cols.len > 0 ? ", " : "",
							 quote_identifier(lfirst(lc)));
		exec_ddl(psprintf("CREATE TABLE %s (LIKE %s)", qstore, qquery));
		exec_ddl(psprintf("CREATE VIEW %s AS SELECT %s FROM %s", qview, cols.data, qstore));
		exec_ddl(psprintf("ALTER TABLE %s OWNER TO %s", qstore, qowner));
		store = get_relname_relid(store_name, get_namespace_oid("dataproduct_internal", false));
	}
	exec_ddl(psprintf("ALTER VIEW %s OWNER TO %s", qquery, qowner));
	exec_ddl(psprintf("ALTER VIEW %s OWNER TO %s", qview, qowner));
	view = get_relname_relid(name, product->schema);

	CreateComments(query_view, RelationRelationId, 0,
				   psprintf("pg_dataproduct: query of output %s.%s", product->domain, name));
	CreateComments(store, RelationRelationId, 0,
				   psprintf("pg_dataproduct: rows of output %s.%s", product->domain, name));
	if (OidIsValid(pre_view))
		CreateComments(pre_view, RelationRelationId, 0,
					   psprintf("pg_dataproduct: query of output %s.%s before aggregation",
								product->domain, name));
	if (description != NULL)
		CreateComments(view, RelationRelationId, 0, description);

	values[0] = Int64GetDatum(id);
	values[1] = Int64GetDatum(product->id);
	values[2] = CStringGetTextDatum(name);
	values[3] = ObjectIdGetDatum(view);
	values[4] = ObjectIdGetDatum(store);
	values[5] = ObjectIdGetDatum(query_view);
	values[6] = CStringGetTextDatum(sql);
	values[7] = CStringGetTextDatum(refresh);
	values[8] = CStringGetTextDatum(mode);
	values[9] = text_or_null(reason, &nulls[9]);
	values[10] = text_or_null(description, &nulls[10]);
	values[11] = ObjectIdGetDatum(pre_view);
	nulls[11] = OidIsValid(pre_view) ? ' ' : 'n';
	values[12] = CStringGetTextDatum(dataproduct_origin());
	values[13] = min_interval;
	nulls[13] = PG_ARGISNULL(5) ? 'n' : ' ';
	values[14] = schedule;
	nulls[14] = PG_ARGISNULL(6) ? 'n' : ' ';
	/*
	 * An output not yet loaded holds the snapshot of its declaration: change
	 * logs keep every row it may need from then on (see refresh.c).
	 */
	dataproduct_spi_exec("INSERT INTO dataproduct.output"
						 " (output_id, product_id, name, view, store, query_view,"
						 "  definition, refresh_mode, mode, mode_reason, description,"
						 "  pre_view, origin, snapshot, timezone, datestyle, intervalstyle,"
						 "  min_interval, schedule)"
						 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
						 "  pg_catalog.pg_current_snapshot(),"
						 "  pg_catalog.current_setting('TimeZone'),"
						 "  pg_catalog.current_setting('DateStyle'),"
						 "  pg_catalog.current_setting('IntervalStyle'),"
						 "  coalesce($14, '0'), $15)",
						 15, argtypes, values, nulls, SPI_OK_INSERT);
	foreach(lc, sources)
	{
		Oid			st[2] = {INT8OID, INT8OID};
		Datum		sv[2] = {Int64GetDatum(id), Int64GetDatum(intVal(lfirst(lc)))};

		dataproduct_spi_exec("INSERT INTO dataproduct.output_source (output_id, source_id)"
							 " VALUES ($1, $2)", 2, st, sv, NULL, SPI_OK_INSERT);
	}
	dataproduct_restore_user(&saved);
	CommandCounterIncrement();

	output = dataproduct_get_output(view, false);
	dataproduct_note_capture(); /* the worker loads it after commit */
	if (strcmp(mode, "full") == 0)
	{
		/* first refresh, as the owner: also proves the owner may read the sources */
		(void) dataproduct_refresh_output(output);
	}
	else
	{
		/*
		 * The capture triggers hold a lock on the sources until this
		 * transaction ends; loading now would hold writers up for the whole
		 * load.  The first refresh loads, in a later transaction.
		 */
		dataproduct_check_owner_can_read(output, product->owner);
		ereport(NOTICE,
				(errmsg("output %s is maintained incrementally and is populated by its first refresh",
						output->address),
				 errhint("Run SELECT dataproduct.refresh('%s') after this transaction commits.",
						 output->address)));
	}

	dataproduct_spi_finish();
	PG_RETURN_OID(view);
}

/*
 * drop_output(output regclass, cascade boolean) returns void
 */
Datum
dataproduct_drop_output(PG_FUNCTION_ARGS)
{
	Oid			view = PG_GETARG_OID(0);
	bool		cascade = PG_GETARG_BOOL(1);
	DpOutput   *output;

	dataproduct_spi_connect();
	output = dataproduct_get_output(view, false);
	dataproduct_check_acts_as(output->owner, "data product", output->product);
	if (!cascade)
		check_no_readers(output);
	drop_output_objects(output, cascade ? DROP_CASCADE : DROP_RESTRICT);
	dataproduct_forget_dropped();
	dataproduct_spi_finish();
	PG_RETURN_VOID();
}

/*
 * refresh(output regclass) returns bigint
 */
Datum
dataproduct_refresh(PG_FUNCTION_ARGS)
{
	Oid			view = PG_GETARG_OID(0);
	DpOutput   *output;
	int64		changed;

	dataproduct_spi_connect();
	output = dataproduct_get_output(view, false);
	dataproduct_check_acts_as(output->owner, "data product", output->product);
	if (strcmp(output->product_status, DP_STATUS_RETIRED) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("data product %s is retired", output->product),
				 errdetail("The outputs of a retired product keep their last data and are no longer refreshed.")));
	changed = dataproduct_refresh_output(output);
	dataproduct_spi_finish();

	/* once a session: say why outputs do not refresh by themselves */
	{
		static bool told = false;

		if (!told && !dataproduct_workers_available())
			ereport(NOTICE,
					(errmsg("automatic refresh is off: pg_dataproduct is not in shared_preload_libraries"),
					 errhint("Add pg_dataproduct to shared_preload_libraries and restart to have outputs refreshed when their sources change.")));
		else if (!told && !dataproduct_enabled)
			ereport(NOTICE,
					(errmsg("automatic refresh is off: dataproduct.enabled is off"),
					 errhint("Set dataproduct.enabled = on and reload the configuration.")));
		told = true;
	}
	PG_RETURN_INT64(changed);
}

/*
 * alter_output(output regclass, min_interval interval, schedule interval,
 *				description text) returns void
 *
 * NULL leaves a field alone; a schedule of '0' removes it.
 */
Datum
dataproduct_alter_output(PG_FUNCTION_ARGS)
{
	DpOutput   *output;
	DpSavedUser saved;
	Oid			argtypes[4] = {INT8OID, INTERVALOID, INTERVALOID, TEXTOID};
	Datum		values[4];
	char		nulls[5] = "    ";

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" must not be null", "output")));
	check_intervals(fcinfo, 1, 2);
	dataproduct_spi_connect();
	output = dataproduct_get_output(PG_GETARG_OID(0), false);
	dataproduct_check_acts_as(output->owner, "data product", output->product);

	values[0] = Int64GetDatum(output->id);
	values[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	nulls[1] = PG_ARGISNULL(1) ? 'n' : ' ';
	values[2] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	nulls[2] = PG_ARGISNULL(2) ? 'n' : ' ';
	values[3] = PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3);
	nulls[3] = PG_ARGISNULL(3) ? 'n' : ' ';
	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("UPDATE dataproduct.output"
						 "   SET min_interval = coalesce($2, min_interval),"
						 "       schedule = CASE WHEN $3 IS NULL THEN schedule"
						 "                       WHEN $3 = '0' THEN NULL ELSE $3 END,"
						 "       description = coalesce($4, description)"
						 " WHERE output_id = $1",
						 4, argtypes, values, nulls, SPI_OK_UPDATE);
	if (!PG_ARGISNULL(3))
		CreateComments(output->view, RelationRelationId, 0,
					   text_to_cstring(PG_GETARG_TEXT_PP(3)));
	dataproduct_restore_user(&saved);
	dataproduct_spi_finish();
	PG_RETURN_VOID();
}

/* ----------------------------------------------------------------
 * Products
 * ----------------------------------------------------------------
 */

/*
 * create_product(product text, owner regrole, description text,
 *				  version text, tags text[], contact text) returns text
 */
Datum
dataproduct_create_product(PG_FUNCTION_ARGS)
{
	char	   *address = required_text(fcinfo, 0, "product");
	char	   *description = optional_text(fcinfo, 2);
	char	   *version = PG_ARGISNULL(3) ? "0.1.0" : text_to_cstring(PG_GETARG_TEXT_PP(3));
	ArrayType  *tags = PG_ARGISNULL(4) ? construct_empty_array(TEXTOID) : PG_GETARG_ARRAYTYPE_P(4);
	char	   *contact = optional_text(fcinfo, 5);
	char	   *domain_name;
	char	   *name;
	DpDomain   *domain;
	Oid			owner;
	DpSavedUser saved;
	Oid			argtypes[8] = {INT8OID, TEXTOID, OIDOID, TEXTOID, TEXTOID,
	TEXTARRAYOID, TEXTOID, INTERVALOID};
	Datum		values[8];
	char		nulls[9] = "        ";

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
	values[3] = text_or_null(description, &nulls[3]);
	values[4] = CStringGetTextDatum(version);
	values[5] = PointerGetDatum(tags);
	values[6] = text_or_null(contact, &nulls[6]);
	values[7] = PG_ARGISNULL(6) ? (Datum) 0 : PG_GETARG_DATUM(6);
	nulls[7] = PG_ARGISNULL(6) ? 'n' : ' ';
	check_promise(fcinfo, 6);
	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("INSERT INTO dataproduct.product"
						 " (domain_id, name, owner, description, version, tags, contact, max_staleness)"
						 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
						 8, argtypes, values, nulls, SPI_OK_INSERT);
	dataproduct_restore_user(&saved);
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
		uint64		n;

		dataproduct_become_catalog_owner(&saved);
		if (OidIsValid(output->pre_view))
		{
			DpPlan	   *plan = dataproduct_plan_output(output->query_view);
			ListCell   *lc2;

			dataproduct_check_leaf_privileges(plan, owner, true);
			foreach(lc2, plan->leaves)
			{
				DpLeaf	   *leaf = lfirst(lc2);

				dataproduct_spi_exec(psprintf("SELECT log::pg_catalog.text FROM dataproduct.source"
											  " WHERE relation = %u", leaf->relid),
									 0, NULL, NULL, NULL, SPI_OK_SELECT);
				for (n = 0; n < SPI_processed; n++)
					exec_ddl(psprintf("GRANT SELECT (%s) ON %s TO %s",
									  dataproduct_log_columns(leaf->relid, leaf->attnos),
									  SPI_getvalue(SPI_tuptable->vals[n], SPI_tuptable->tupdesc, 1),
									  qowner));
			}
		}
		for (i = 0; i < 4; i++)
		{
			if (!OidIsValid(rels[i]))
				continue;
			exec_ddl(psprintf("ALTER %s %s OWNER TO %s",
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
	char	   *address = required_text(fcinfo, 0, "product");
	char	   *description = optional_text(fcinfo, 1);
	char	   *version = optional_text(fcinfo, 2);
	char	   *status = optional_text(fcinfo, 5);
	char	   *contact = optional_text(fcinfo, 6);
	DpProduct  *product;
	DpSavedUser saved;
	Oid			argtypes[8] = {INT8OID, TEXTOID, TEXTOID, TEXTARRAYOID, OIDOID,
	TEXTOID, TEXTOID, INTERVALOID};
	Datum		values[8];
	char		nulls[9] = "        ";

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
		if (iv->time != 0 || iv->day != 0 || iv->month != 0)
			check_promise(fcinfo, 7);
	}
	if (!PG_ARGISNULL(4) && PG_GETARG_OID(4) != product->owner)
	{
		dataproduct_check_may_assign(PG_GETARG_OID(4));
		change_owner(product, PG_GETARG_OID(4));
	}

	values[0] = Int64GetDatum(product->id);
	values[1] = text_or_null(description, &nulls[1]);
	values[2] = text_or_null(version, &nulls[2]);
	values[3] = PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3);
	nulls[3] = PG_ARGISNULL(3) ? 'n' : ' ';
	values[4] = PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4);
	nulls[4] = PG_ARGISNULL(4) ? 'n' : ' ';
	values[5] = text_or_null(status, &nulls[5]);
	values[6] = text_or_null(contact, &nulls[6]);
	values[7] = PG_ARGISNULL(7) ? (Datum) 0 : PG_GETARG_DATUM(7);
	nulls[7] = PG_ARGISNULL(7) ? 'n' : ' ';
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
	{
		StringInfoData names;

		initStringInfo(&names);
		foreach(lc, outputs)
			appendStringInfo(&names, "%s%s", names.len > 0 ? ", " : "",
							 ((DpOutput *) lfirst(lc))->address);
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop data product %s because it has outputs",
						product->address),
				 errdetail("Outputs: %s.", names.data),
				 errhint("Drop the outputs first, or use cascade => true to drop them too.")));
	}

	foreach(lc, outputs)
	{
		/* an earlier cascade may have taken parts of it already */
		drop_output_objects(lfirst(lc), DROP_CASCADE);
	}
	dataproduct_forget_dropped();

	dataproduct_become_catalog_owner(&saved);
	dataproduct_spi_exec("DELETE FROM dataproduct.product WHERE product_id = $1",
						 1, argtypes, values, NULL, SPI_OK_DELETE);
	dataproduct_restore_user(&saved);
	CommandCounterIncrement();
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
	StringInfoData names;
	uint64		i;

	dataproduct_spi_connect();
	domain = dataproduct_get_domain(name, false);
	dataproduct_check_acts_as(domain->owner, "domain", domain->name);

	values[0] = Int64GetDatum(domain->id);
	values[1] = CStringGetTextDatum(domain->name);
	dataproduct_spi_exec("SELECT $2 || '.' || name FROM dataproduct.product"
						 " WHERE domain_id = $1 ORDER BY product_id",
						 2, argtypes, values, NULL, SPI_OK_SELECT);
	initStringInfo(&names);
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *product = SPI_getvalue(SPI_tuptable->vals[i],
										   SPI_tuptable->tupdesc, 1);

		products = lappend(products, product);
		appendStringInfo(&names, "%s%s", names.len > 0 ? ", " : "", product);
	}
	if (products != NIL && !cascade)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop domain \"%s\" because it has data products",
						domain->name),
				 errdetail("Products: %s.", names.data),
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
