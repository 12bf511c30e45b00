/*-------------------------------------------------------------------------
 *
 * exec.c
 *	  The ground floor: how pg_dataproduct runs SQL, as whom, under which
 *	  settings, and how it contains failures.
 *
 * Every other file runs its generated statements through the services
 * here, so the rules that keep them safe live in one place:
 *
 * - SPI with a pinned search_path: dataproduct_spi_connect pins
 *   search_path to "pg_catalog, pg_temp" (and floats to their exact text
 *   form) until dataproduct_spi_finish.  Generated SQL names every object
 *   schema-qualified with quoted identifiers, and every value travels as a
 *   $n parameter (dataproduct_spi_exec).  Connections nest when our own
 *   DDL fires our event triggers; a transaction or subtransaction abort
 *   unwinds the stack (the callbacks registered by dataproduct_exec_init).
 *
 * - Statements at a snapshot with reused plans (dataproduct_run_at): a
 *   refresh runs all its statements at the snapshot it took, and their
 *   plans are prepared once per backend and kept, keyed by their text.
 *
 * - Identities: catalog rows are written as the owner of the catalog
 *   tables (dataproduct_become_catalog_owner), after the caller's rights
 *   were checked; user SQL (output queries, checks) only ever runs as the
 *   product owner inside a security-restricted operation
 *   (dataproduct_become_owner).  Nothing is SECURITY DEFINER.
 *
 * - Settings: outputs are evaluated under the TimeZone, DateStyle and
 *   IntervalStyle they were declared with (dataproduct_pin_settings).
 *
 * - Subtransactions that report their error instead of raising it
 *   (dataproduct_in_subtransaction), for work whose failure is not the
 *   caller's: a batch that recomputing can replace, a check whose error is
 *   its verdict, a worker's refresh that must not end the worker.
 *
 * Identity switches and GUC nest levels are undone by transaction abort,
 * so error paths need no PG_TRY (the same reasoning as matview.c).
 *
 * IDENTIFICATION
 *	  src/exec.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_operator.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "exec.h"


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
 * dataproduct_exec_init
 *		Reset the connection stack when transactions end (errors skip our
 *		finish calls).  Called from _PG_init.
 */
void
dataproduct_exec_init(void)
{
	RegisterXactCallback(reset_spi_depth, NULL);
	RegisterSubXactCallback(reset_spi_depth_sub, NULL);
}

/* ----------------------------------------------------------------
 * SPI with a pinned search_path
 * ----------------------------------------------------------------
 */


static int	pin_search_path(void);
static void unpin_search_path(int nestlevel);

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
	spi_nestlevels[spi_depth++] = pin_search_path();
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
	unpin_search_path(spi_nestlevels[--spi_depth]);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

/*
 * pin_search_path
 *		Set search_path to "pg_catalog, pg_temp" (and floats to their exact
 *		text form) until the matching unpin_search_path.
 *
 * Returns the GUC nest level to pass back.  An error in between is cleaned
 * up by transaction abort.
 */
static int
pin_search_path(void)
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
 * unpin_search_path
 *		Restore the settings saved by pin_search_path.
 */
static void
unpin_search_path(int nestlevel)
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
 * result code is an internal error.  Statements other than utility
 * statements keep their plan for the life of the backend
 * (dataproduct_prepare_cached): a refresh runs a dozen catalog statements,
 * and planning them again each time cost more than running them.
 */
uint64
dataproduct_spi_exec(const char *sql, int nargs, Oid *argtypes,
					 Datum *values, const char *nulls, int expected_rc)
{
	int			rc;
	int			nestlevel = InSecurityRestrictedOperation() ? NewGUCNestLevel() : 0;

	if (expected_rc == SPI_OK_UTILITY)
		rc = SPI_execute_with_args(sql, nargs, argtypes, values, nulls,
								   false, 0);
	else
		rc = SPI_execute_plan(dataproduct_prepare_cached(sql, nargs, argtypes),
							  values, nulls, false, 0);
	if (nestlevel > 0)
		AtEOXact_GUC(false, nestlevel);
	if (rc != expected_rc)
		elog(ERROR, "unexpected SPI result %s for \"%s\"",
			 SPI_result_code_string(rc), sql);
	return SPI_processed;
}

/*
 * dataproduct_exec_ddl
 *		Run one generated utility statement (fixed text and quoted
 *		identifiers only) and make its effects visible to what follows.
 */
void
dataproduct_exec_ddl(const char *sql)
{
	dataproduct_spi_exec(sql, 0, NULL, NULL, NULL, SPI_OK_UTILITY);
	CommandCounterIncrement();
}

/* ----------------------------------------------------------------
 * Statements at a snapshot, with reused plans
 * ----------------------------------------------------------------
 */

typedef struct PlanEntry
{
	uint64		key;			/* hash of the text */
	char	   *sql;
	SPIPlanPtr	plan;
} PlanEntry;

static HTAB *plan_cache = NULL;

/*
 * dataproduct_prepare_cached
 *		A kept plan for sql, prepared on first use in this backend.  Cached
 *		plans are replanned by the plan cache when the objects they use
 *		change; a different text (a renamed object) is a different entry.
 */
SPIPlanPtr
dataproduct_prepare_cached(const char *sql, int nargs, Oid *argtypes)
{
	uint64		key = hash_bytes_extended((const unsigned char *) sql, strlen(sql), 0);
	PlanEntry  *entry;
	SPIPlanPtr	plan;
	bool		found;

	if (plan_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(PlanEntry);
		ctl.hcxt = TopMemoryContext;
		plan_cache = hash_create("pg_dataproduct plans", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(plan_cache, &key, HASH_FIND, &found);
	if (found && strcmp(entry->sql, sql) == 0)
		return entry->plan;

	/*
	 * Prepare before entering: a statement that fails to prepare (an error
	 * is thrown) leaves no entry behind.  A hash collision replaces the
	 * entry.
	 */
	plan = SPI_prepare(sql, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	entry = hash_search(plan_cache, &key, HASH_ENTER, &found);
	if (found)
	{
		SPI_freeplan(entry->plan);
		pfree(entry->sql);
	}
	entry->plan = plan;
	entry->sql = MemoryContextStrdup(TopMemoryContext, sql);
	return entry->plan;
}

/*
 * dataproduct_run_at
 *		Execute a statement at snapshot snap (advancing its command id, so it
 *		sees this refresh's earlier writes).  Plans are reused unless the
 *		statement reads the ephemeral relation.
 */
uint64
dataproduct_run_at(Snapshot snap, const char *sql, int nargs, Oid *argtypes,
				   Datum *values, const char *nulls, int expected, bool reuse)
{
	SPIPlanPtr	plan;
	int			rc;
	int			nestlevel;

	if (reuse)
		plan = dataproduct_prepare_cached(sql, nargs, argtypes);
	else
	{
		plan = SPI_prepare(sql, nargs, argtypes);
		if (plan == NULL)
			elog(ERROR, "could not prepare \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
	}
	/* inside an owner block, a statement's settings end with it */
	nestlevel = InSecurityRestrictedOperation() ? NewGUCNestLevel() : 0;
	rc = SPI_execute_snapshot(plan, values, nulls, snap, InvalidSnapshot,
							  false, true, 0);
	if (nestlevel > 0)
		AtEOXact_GUC(false, nestlevel);
	if (rc != expected)
		elog(ERROR, "unexpected SPI result %s for \"%s\"",
			 SPI_result_code_string(rc), sql);
	return SPI_processed;
}

/*
 * dataproduct_result_int8
 *		Column col of the first row of the last SPI result as an int8; NULL
 *		reads as 0.
 */
int64
dataproduct_result_int8(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								  col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/* ----------------------------------------------------------------
 * Settings
 * ----------------------------------------------------------------
 */

/*
 * dataproduct_pin_settings
 *		Evaluate, until dataproduct_unpin_settings(<returned level>), under
 *		the given TimeZone, DateStyle and IntervalStyle: those an output was
 *		declared with, so that its rows and its checks' results do not
 *		depend on who refreshes it.  NULL values leave a setting alone.
 */
int
dataproduct_pin_settings(const char *timezone, const char *datestyle,
						 const char *intervalstyle)
{
	int			nestlevel = NewGUCNestLevel();

	dataproduct_set_setting("TimeZone", timezone);
	dataproduct_set_setting("DateStyle", datestyle);
	dataproduct_set_setting("IntervalStyle", intervalstyle);
	return nestlevel;
}

/*
 * dataproduct_unpin_settings
 *		Restore the settings saved since nestlevel.
 */
void
dataproduct_unpin_settings(int nestlevel)
{
	AtEOXact_GUC(true, nestlevel);
}

/*
 * dataproduct_set_setting
 *		Set a GUC until the current GUC nest level ends; NULL does nothing.
 */
void
dataproduct_set_setting(const char *name, const char *value)
{
	if (value == NULL)
		return;
	(void) set_config_option(name, value, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
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
	saved->nestlevel = 0;
	SetUserIdAndSecContext(catalog_owner(),
						   saved->sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

/*
 * ensure_internal_usage
 *		Give a product owner USAGE on schema dataproduct_internal if it lacks
 *		it: its refreshes and checks name its stores there.  product.c grants
 *		it with the product; this covers a database restored from a dump of
 *		one updated from 0.1.0, whose update script granted it (privileges
 *		an extension script grants are the schema's initial ones, which
 *		pg_dump does not dump).  Nothing is done where nothing may be
 *		written (a standby, a read-only transaction); the owner's statements
 *		then fail as they would have.
 */
static void
ensure_internal_usage(Oid owner)
{
	Oid			nsp = get_namespace_oid("dataproduct_internal", true);
	Oid			userid;
	int			sec_context;
	GrantStmt  *stmt;
	AccessPriv *priv;
	RoleSpec   *grantee;

	if (!OidIsValid(nsp) ||
		pg_namespace_aclcheck(nsp, owner, ACL_USAGE) == ACLCHECK_OK ||
		RecoveryInProgress() || XactReadOnly)
		return;

	priv = makeNode(AccessPriv);
	priv->priv_name = pstrdup("usage");
	grantee = makeNode(RoleSpec);
	grantee->roletype = ROLESPEC_CSTRING;
	grantee->rolename = GetUserNameFromId(owner, false);
	grantee->location = -1;
	stmt = makeNode(GrantStmt);
	stmt->is_grant = true;
	stmt->targtype = ACL_TARGET_OBJECT;
	stmt->objtype = OBJECT_SCHEMA;
	stmt->objects = list_make1(makeString(pstrdup("dataproduct_internal")));
	stmt->privileges = list_make1(priv);
	stmt->grantees = list_make1(grantee);
	stmt->grant_option = false;
	stmt->behavior = DROP_RESTRICT;

	GetUserIdAndSecContext(&userid, &sec_context);
	SetUserIdAndSecContext(catalog_owner(), sec_context | SECURITY_LOCAL_USERID_CHANGE);
	ExecuteGrantStmt(stmt);
	SetUserIdAndSecContext(userid, sec_context);
	CommandCounterIncrement();
}

/*
 * dataproduct_become_owner
 *		Run as a product owner, in a security-restricted operation, until
 *		dataproduct_restore_user.  This is the only identity output queries
 *		and checks ever run under.
 *
 * Owner code can change settings for the session (set_config(..., false)
 * in a function its query calls): the change would outlive the owner's
 * part and hold for the statements the extension runs next, as the catalog
 * owner, and for the caller's session.  So the owner's part runs in a GUC
 * nest level of its own, which dataproduct_restore_user rolls back, SETs
 * for the session included.  Within it, each statement also runs in a nest
 * level of its own (in dataproduct_spi_exec and dataproduct_run_at, which
 * know an owner block by its security-restricted operation), so that one statement's code cannot
 * change how the next one, parsed under the pinned search_path, resolves.
 */
void
dataproduct_become_owner(Oid owner, DpSavedUser *saved)
{
	ensure_internal_usage(owner);
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	saved->nestlevel = NewGUCNestLevel();
	SetUserIdAndSecContext(owner,
						   saved->sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
}

/*
 * dataproduct_restore_user
 *		Return to the identity saved by one of the become functions, and,
 *		after dataproduct_become_owner, to the settings from before it:
 *		whatever the owner's code set is undone.
 */
void
dataproduct_restore_user(DpSavedUser *saved)
{
	if (saved->nestlevel > 0)
		AtEOXact_GUC(false, saved->nestlevel);
	saved->nestlevel = 0;
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
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
 * dataproduct_operator_name
 *		An operator as OPERATOR(schema.name), for generated SQL: the very
 *		operator, whatever the search_path.
 */
char *
dataproduct_operator_name(Oid opr)
{
	HeapTuple	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opr));
	Form_pg_operator form;
	char	   *result;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator %u", opr);
	form = (Form_pg_operator) GETSTRUCT(tup);
	result = psprintf("OPERATOR(%s.%s)",
					  quote_identifier(get_namespace_name(form->oprnamespace)),
					  NameStr(form->oprname));
	ReleaseSysCache(tup);
	return result;
}

/*
 * dataproduct_type_equality
 *		The equality of a type's default btree operator class (the one its
 *		unique indexes and GROUP BY use), as OPERATOR(schema.name); an
 *		internal error for a type without one (such keys are refused when
 *		an output is planned).
 */
char *
dataproduct_type_equality(Oid type)
{
	TypeCacheEntry *tc = lookup_type_cache(type, TYPECACHE_EQ_OPR);

	if (!OidIsValid(tc->eq_opr))
		elog(ERROR, "type %s has no default equality operator", format_type_be(type));
	return dataproduct_operator_name(tc->eq_opr);
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

/*
 * dataproduct_refuse_on_standby
 *		Every API function that writes calls this first: on a hot standby it
 *		fails at once, saying why, instead of deep inside with a read-only
 *		error and internal SQL as context.  action completes "cannot ... on
 *		a standby".
 */
void
dataproduct_refuse_on_standby(const char *action)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s on a standby", action),
				 errdetail("Data products are declared and refreshed on the primary; standbys replicate their outputs, which can be read here."),
				 errhint("Connect to the primary server to do this.")));
}
