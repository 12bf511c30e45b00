# Installing and upgrading: a database at 0.1.0 with products keeps working
# through ALTER EXTENSION pg_dataproduct UPDATE (catalog intact, refreshes
# incremental and exact, checks, pg_dump and restore); a fresh install of
# the default version gives the same objects as 0.1.0 + update; and the
# install guard refuses schemas prepared by another role.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_dataproduct'
dataproduct.enabled = off
dataproduct.naptime = 500
max_worker_processes = 16
});
$node->start;

my $version = '0.2.0';

$node->safe_psql('postgres', q{
	CREATE ROLE shop_team;
	CREATE ROLE analyst;
	CREATE ROLE mallory LOGIN;
	CREATE ROLE admin SUPERUSER;
	CREATE DATABASE upg;
	CREATE DATABASE old;
	CREATE DATABASE walked;
	CREATE DATABASE fresh;
	CREATE DATABASE restored;
	CREATE DATABASE old_restored;
});

sub extversion
{
	my ($db) = @_;
	return $node->safe_psql($db,
		q{SELECT extversion FROM pg_extension WHERE extname = 'pg_dataproduct'});
}

# ------------------------------------------------------------------
# A database at 0.1.0, with products, under the new library
# ------------------------------------------------------------------

my $setup = q{
	CREATE SCHEMA sor;
	CREATE TABLE sor.orders (id bigserial PRIMARY KEY, customer text, amount numeric NOT NULL,
	                         status text NOT NULL DEFAULT 'open');
	INSERT INTO sor.orders (customer, amount, status)
	  SELECT 'c' || (g % 20), (g * 37) % 500, (ARRAY['open','paid','shipped'])[1 + g % 3]
	    FROM generate_series(1, 2000) g;
	GRANT USAGE ON SCHEMA sor TO shop_team;
	GRANT SELECT ON ALL TABLES IN SCHEMA sor TO shop_team;

	SELECT dataproduct.create_domain('shop', owner => 'shop_team', description => 'Orders');
	SELECT dataproduct.create_product('shop.sales', description => 'Sales per customer',
	       version => '1.0.0', tags => '{sales}', contact => '#shop', max_staleness => '1 hour');
	SELECT dataproduct.alter_product('shop.sales', status => 'published');
	SELECT dataproduct.add_output('shop.sales', 'by_customer',
	       'SELECT customer, status, count(*) AS orders, sum(amount) AS amount
	          FROM sor.orders GROUP BY customer, status',
	       description => 'Orders and amount per customer and status', refresh => 'incremental');
	SELECT dataproduct.add_output('shop.sales', 'top_customers',
	       'SELECT customer, sum(amount) AS amount FROM sor.orders
	         GROUP BY customer ORDER BY 2 DESC, 1 LIMIT 3',
	       refresh => 'full');
	SELECT dataproduct.comment_column('shop.by_customer', 'amount', 'Sum of order amounts');
	SELECT dataproduct.add_check('shop.top_customers', 'not_null', "column" => 'customer');
	SELECT dataproduct.add_check('shop.top_customers', 'row_count', min => '3', severity => 'warning');
	SELECT dataproduct.add_check('shop.by_customer', 'range', "column" => 'amount', min => '0');
};
my $by_customer_query = q{SELECT customer, status, count(*), sum(amount) FROM sor.orders
                            GROUP BY customer, status};
my $exact = qq{
	SELECT (SELECT count(*) FROM (($by_customer_query) EXCEPT ALL SELECT * FROM shop.by_customer) a)
	     + (SELECT count(*) FROM (SELECT * FROM shop.by_customer EXCEPT ALL ($by_customer_query)) b)};

foreach my $db ('upg', 'old')
{
	$node->safe_psql($db, q{CREATE EXTENSION pg_dataproduct VERSION '0.1.0'});
	$node->safe_psql($db, $setup);
	# incrementally maintained outputs load in a transaction of their own
	$node->safe_psql($db, q{SELECT dataproduct.refresh('shop.by_customer')});
	$node->safe_psql($db, q{
		UPDATE sor.orders SET amount = amount + 1 WHERE id % 10 = 0;
		DELETE FROM sor.orders WHERE id % 97 = 0;
	});
	$node->safe_psql($db, q{SELECT dataproduct.refresh('shop.by_customer')});
	$node->safe_psql($db, q{SELECT dataproduct.refresh('shop.top_customers')});
}
is(extversion('upg'), '0.1.0', 'VERSION 0.1.0 installs the released script');
is($node->safe_psql('old', q{SELECT last_refresh_kind FROM dataproduct.outputs
	WHERE output = 'shop.by_customer'::regclass}),
	'incremental', 'a database at 0.1.0 refreshes incrementally under the new library');
is($node->safe_psql('old', $exact), '0', 'and exactly');

# The catalog rows as 0.1.0 has them; after the update each must still be
# there, with the same values (0.2.0 may add columns).
my $catalog_rows = q{
	SELECT 'domain' AS tab, to_jsonb(t) AS row FROM dataproduct.domain t
	UNION ALL SELECT 'product', to_jsonb(t) FROM dataproduct.product t
	UNION ALL SELECT 'output', to_jsonb(t) FROM dataproduct.output t
	UNION ALL SELECT 'source', to_jsonb(t) FROM dataproduct.source t
	UNION ALL SELECT 'output_source', to_jsonb(t) FROM dataproduct.output_source t
	UNION ALL SELECT 'quality_check', to_jsonb(t) FROM dataproduct.quality_check t
	UNION ALL SELECT 'check_result', to_jsonb(t) FROM dataproduct.check_result t
	UNION ALL SELECT 'refresh_history', to_jsonb(t) FROM dataproduct.refresh_history t};
my $views_query = q{
	SELECT o.output::text, o.product, o.mode, o.status, o.last_refresh_kind, o.row_count,
	       o.description, p.version, p.status, p.tags, p.owner, p.health,
	       (SELECT string_agg(c.name || ':' || c.kind || ':' || c.severity || ':'
	                          || coalesce(c.last_passed::text, '-'), ',' ORDER BY c.name)
	          FROM dataproduct.checks c WHERE c.output = o.output)
	  FROM dataproduct.outputs o JOIN dataproduct.products p ON p.product = o.product
	 ORDER BY 1};
my $data_query = q{
	SELECT 'c', customer, status, orders::text, amount::text FROM shop.by_customer
	UNION ALL SELECT 't', customer, '', '', amount::text FROM shop.top_customers
	ORDER BY 1, 2, 3};
$node->safe_psql('upg', qq{CREATE TABLE public.catalog_before AS $catalog_rows});
my $views_before = $node->safe_psql('upg', $views_query);
my $data_before = $node->safe_psql('upg', $data_query);
like($views_before, qr/shop\.by_customer\|shop\.sales\|incremental\|ok\|incremental/,
	'the catalog shows the incremental output');

# ------------------------------------------------------------------
# ALTER EXTENSION UPDATE
# ------------------------------------------------------------------

$node->safe_psql('upg', q{ALTER EXTENSION pg_dataproduct UPDATE});
is(extversion('upg'), $version, "ALTER EXTENSION UPDATE reaches $version");
is($node->safe_psql('upg', qq{
	SELECT (SELECT count(*) FROM public.catalog_before) = (SELECT count(*) FROM ($catalog_rows) a)
	   AND NOT EXISTS (SELECT FROM public.catalog_before b
	                    WHERE NOT EXISTS (SELECT FROM ($catalog_rows) a
	                                       WHERE a.tab = b.tab AND a.row \@> b.row))}),
	't', 'every catalog row is intact');
$node->safe_psql('upg', q{DROP TABLE public.catalog_before});
is($node->safe_psql('upg', $views_query), $views_before, 'catalog views unchanged');
is($node->safe_psql('upg', $data_query), $data_before, 'output data unchanged');
is($node->safe_psql('upg', q{
	SELECT col_description('shop.by_customer'::regclass, 4)}),
	'Sum of order amounts', 'column comments kept');

# the products keep working: incremental and exact after source changes
$node->safe_psql('upg', q{
	INSERT INTO sor.orders (customer, amount) SELECT 'c' || (g % 25), g FROM generate_series(1, 300) g;
	UPDATE sor.orders SET status = 'paid' WHERE id % 7 = 0 AND status = 'open';
	DELETE FROM sor.orders WHERE id % 11 = 0;
});
$node->safe_psql('upg', q{SELECT dataproduct.refresh('shop.by_customer')});
is($node->safe_psql('upg', q{SELECT last_refresh_kind FROM dataproduct.outputs
	WHERE output = 'shop.by_customer'::regclass}),
	'incremental', 'after the update, refreshes are still incremental');
is($node->safe_psql('upg', $exact), '0', 'and exact (EXCEPT ALL both ways)');
$node->safe_psql('upg', q{SELECT dataproduct.refresh('shop.top_customers')});
is($node->safe_psql('upg', q{
	SELECT string_agg(name || ':' || last_passed, ',' ORDER BY name) FROM dataproduct.checks
	 WHERE output = 'shop.top_customers'::regclass}),
	'not_null_customer:true,row_count:true', 'checks run after refreshes');
# a blocking check still rolls a refresh back
$node->safe_psql('upg', q{INSERT INTO sor.orders (customer, amount) VALUES (NULL, 1000000)});
my ($ret, $stdout, $stderr) = $node->psql('upg', q{SELECT dataproduct.refresh('shop.top_customers')});
isnt($ret, 0, 'a blocking check fails the refresh');
is($node->safe_psql('upg', q{SELECT count(*) FROM shop.top_customers WHERE customer IS NULL}),
	'0', 'and readers keep the last good data');
$node->safe_psql('upg', q{DELETE FROM sor.orders WHERE customer IS NULL});
# declarations after the update
$node->safe_psql('upg', q{
	SELECT dataproduct.add_output('shop.sales', 'statuses',
	       'SELECT status, count(*) AS n FROM sor.orders GROUP BY status')});
$node->safe_psql('upg', q{SELECT dataproduct.refresh('shop.statuses')});
is($node->safe_psql('upg', q{SELECT sum(n) = (SELECT count(*) FROM sor.orders) FROM shop.statuses}),
	't', 'a new output after the update');

# a history output on the table captured since 0.1.0, whose change log the
# update gave the column that tells a TRUNCATE's marker from an ALTER's
is($node->safe_psql('upg', q{SELECT bool_and(EXISTS (SELECT FROM pg_attribute a
	WHERE a.attrelid = s.log AND a.attname = '__dp_truncate')) FROM dataproduct.source s}),
	't', 'the update gives change logs of 0.1.0 the TRUNCATE column');
$node->safe_psql('upg', q{SELECT dataproduct.add_output('shop.sales', 'order_history',
	'SELECT id, customer, amount FROM sor.orders WHERE status <> ''shipped''', history => true)});
$node->safe_psql('upg', q{SELECT dataproduct.refresh('shop.order_history')});
my $loaded = $node->safe_psql('upg', q{SELECT count(*) FROM sor.orders WHERE status <> 'shipped'});
$node->safe_psql('upg', q{
	BEGIN;
	UPDATE sor.orders SET amount = amount + 1 WHERE id % 7 = 0;
	CREATE TEMP TABLE kept AS SELECT * FROM sor.orders WHERE id % 2 = 0;
	TRUNCATE sor.orders;
	INSERT INTO sor.orders SELECT * FROM kept;
	COMMIT;
});
$node->safe_psql('upg', q{SELECT dataproduct.refresh('shop.order_history')});
is($node->safe_psql('upg', q{SELECT count(*) FROM shop.order_history WHERE valid_to IS NOT NULL}),
	$loaded, 'the TRUNCATE closes every loaded version, and the updates before it in its transaction make none');
my $history_exact = q{SELECT count(*) FROM (
	(SELECT id, customer, amount FROM sor.orders WHERE status <> 'shipped'
	 EXCEPT ALL SELECT id, customer, amount FROM shop.order_history WHERE valid_to IS NULL)
	UNION ALL (SELECT id, customer, amount FROM shop.order_history WHERE valid_to IS NULL
	 EXCEPT ALL SELECT id, customer, amount FROM sor.orders WHERE status <> 'shipped')) d};
is($node->safe_psql('upg', $history_exact), '0', 'the rows written after it are the current versions');
$node->safe_psql('upg', q{SELECT dataproduct.refresh('shop.by_customer')});
$node->safe_psql('upg', q{SELECT dataproduct.refresh('shop.statuses')});
is($node->safe_psql('upg', $exact), '0', 'the other outputs of the table rebuilt after the TRUNCATE');

# ------------------------------------------------------------------
# pg_dump of the updated database restores, and the products work
# ------------------------------------------------------------------

my $dump = $node->basedir . '/upg.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', 'upg', '-f', $dump ], 'pg_dump of the updated database');
$node->command_ok([ 'pg_restore', '-d', 'restored', '--exit-on-error', $dump ],
	'pg_restore (through the install guard: the dump creates schema dataproduct first)');
is(extversion('restored'), $version, "the restored database is at $version");
is($node->safe_psql('restored', $data_query), $node->safe_psql('upg', $data_query),
	'output data restored');
$node->safe_psql('restored', q{
	INSERT INTO sor.orders (customer, amount) SELECT 'n' || (g % 5), g FROM generate_series(1, 100) g;
});
$node->safe_psql('restored', q{SELECT dataproduct.refresh('shop.by_customer')});
$node->safe_psql('restored', q{
	UPDATE sor.orders SET amount = amount * 2 WHERE customer LIKE 'n%';
	DELETE FROM sor.orders WHERE id % 13 = 0;
});
$node->safe_psql('restored', q{SELECT dataproduct.refresh('shop.by_customer')});
is($node->safe_psql('restored', q{SELECT last_refresh_kind FROM dataproduct.outputs
	WHERE output = 'shop.by_customer'::regclass}),
	'incremental', 'restored products refresh incrementally');
is($node->safe_psql('restored', $exact), '0', 'and exactly');
$node->safe_psql('restored', q{SELECT dataproduct.refresh('shop.top_customers')});
is($node->safe_psql('restored', q{SELECT count(*) FROM shop.top_customers}), '3',
	'the full output refreshes after the restore');
my $versions = q{SELECT count(*), count(*) FILTER (WHERE valid_to IS NULL) FROM shop.order_history};
is($node->safe_psql('restored', $versions), $node->safe_psql('upg', $versions),
	'the history output is restored with its versions');
$node->safe_psql('restored', q{SELECT dataproduct.refresh('shop.order_history')});
is($node->safe_psql('restored', $history_exact), '0', 'and refreshes after the restore');

# a dump taken at 0.1.0 restores as the new version
my $old_dump = $node->basedir . '/old.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', 'old', '-f', $old_dump ], 'pg_dump of a database at 0.1.0');
$node->command_ok([ 'pg_restore', '-d', 'old_restored', '--exit-on-error', $old_dump ],
	'restores into the new version');
is(extversion('old_restored'), $version, "as $version");
$node->safe_psql('old_restored', q{SELECT dataproduct.refresh('shop.by_customer')});
$node->safe_psql('old_restored', q{UPDATE sor.orders SET amount = amount + 3 WHERE id % 50 = 0});
$node->safe_psql('old_restored', q{SELECT dataproduct.refresh('shop.by_customer')});
is($node->safe_psql('old_restored', q{SELECT last_refresh_kind FROM dataproduct.outputs
	WHERE output = 'shop.by_customer'::regclass}) . ' ' . $node->safe_psql('old_restored', $exact),
	'incremental 0', 'and its products refresh incrementally and exactly');

# ------------------------------------------------------------------
# A fresh install is 0.1.0 + update
# ------------------------------------------------------------------

$node->safe_psql('walked', q{
	CREATE EXTENSION pg_dataproduct VERSION '0.1.0';
	ALTER EXTENSION pg_dataproduct UPDATE;
});
$node->safe_psql('fresh', q{CREATE EXTENSION pg_dataproduct});
is(extversion('fresh'), $version, "CREATE EXTENSION installs $version");

my $members_query = q{
	SELECT pg_describe_object(d.classid, d.objid, d.objsubid)
	  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
	 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	   AND e.extname = 'pg_dataproduct'
	 ORDER BY 1};
my $members = $node->safe_psql('fresh', $members_query);
like($members, qr/^function dataproduct\.refresh\(regclass\)$/m, 'members listed');
is($node->safe_psql('walked', $members_query), $members,
	'fresh install and 0.1.0 + update have the same member objects');
is($node->safe_psql('upg', $members_query), $members,
	'so has the updated database with products (stores and views are not members)');
is($node->safe_psql('restored', $members_query), $members, 'and the restored one');
is($node->safe_psql('old_restored', $members_query), $members, 'and the one restored from 0.1.0');

# beyond the members: their definitions, comments, privileges, config tables
my $fingerprint_query = q{
	WITH m AS (
	  SELECT d.classid, d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
	   WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	     AND e.extname = 'pg_dataproduct'),
	rels AS (SELECT objid AS oid FROM m WHERE classid = 'pg_class'::regclass)
	SELECT 'comment ' || pg_describe_object(c.classoid, c.objoid, c.objsubid) || ': ' || c.description
	  FROM pg_description c JOIN m ON m.classid = c.classoid AND m.objid = c.objoid
	UNION ALL
	SELECT 'initprivs ' || pg_describe_object(p.classoid, p.objoid, p.objsubid) || ': '
	       || p.privtype::text || ' ' || p.initprivs::text
	  FROM pg_init_privs p JOIN m ON m.classid = p.classoid AND m.objid = p.objoid
	UNION ALL
	SELECT 'relation ' || c.oid::regclass || ' ' || c.relkind::text || ' ' || coalesce(c.relacl::text, '-')
	       || CASE WHEN c.relkind = 'v' THEN ' ' || pg_get_viewdef(c.oid) ELSE '' END
	  FROM pg_class c JOIN rels USING (oid)
	UNION ALL
	SELECT 'column ' || a.attrelid::regclass || '.' || a.attname || ' ' || a.attnum || ' '
	       || format_type(a.atttypid, a.atttypmod)
	       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
	       || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
	       || coalesce(' ' || a.attacl::text, '')
	  FROM pg_attribute a JOIN rels r ON r.oid = a.attrelid
	  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
	 WHERE a.attnum > 0 AND NOT a.attisdropped
	UNION ALL
	SELECT 'constraint ' || k.conrelid::regclass || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
	  FROM pg_constraint k JOIN rels r ON r.oid = k.conrelid
	UNION ALL
	SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN rels r ON r.oid = i.indrelid
	UNION ALL
	SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN rels r ON r.oid = t.tgrelid
	 WHERE NOT t.tgisinternal
	UNION ALL
	SELECT 'function ' || p.oid::regprocedure || ' ' || coalesce(p.proacl::text, '-') || ' '
	       || CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) ELSE p.prokind::text END
	  FROM pg_proc p JOIN m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
	UNION ALL
	SELECT 'event trigger ' || e.evtname || ' ' || e.evtevent || ' ' || e.evtfoid::regproc || ' '
	       || e.evtenabled::text || ' ' || coalesce(e.evttags::text, '-')
	  FROM pg_event_trigger e JOIN m ON m.classid = 'pg_event_trigger'::regclass AND m.objid = e.oid
	UNION ALL
	SELECT 'schema ' || n.nspname || ' ' || n.nspowner::regrole || ' ' || coalesce(n.nspacl::text, '-')
	  FROM pg_namespace n WHERE n.nspname IN ('dataproduct', 'dataproduct_internal')
	UNION ALL
	SELECT 'config ' || t.cfg::regclass || ' ' || t.cond
	  FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS t(cfg, cond)
	 WHERE e.extname = 'pg_dataproduct'
	ORDER BY 1};
is($node->safe_psql('walked', $fingerprint_query), $node->safe_psql('fresh', $fingerprint_query),
	'and the same definitions, comments, privileges and configuration tables');

# ------------------------------------------------------------------
# The install guard
# ------------------------------------------------------------------

# Functions an unqualified call in the guard would resolve to (they match
# better than pg_catalog.format(text, VARIADIC "any")).
my $traps = q{
	CREATE FUNCTION dataproduct.format(text, text) RETURNS text LANGUAGE plpgsql
	  AS $$BEGIN RAISE EXCEPTION 'trap called'; END$$;
	CREATE FUNCTION dataproduct.format(text, name) RETURNS text LANGUAGE plpgsql
	  AS $$BEGIN RAISE EXCEPTION 'trap called'; END$$;
	CREATE FUNCTION dataproduct.format(text, name, name) RETURNS text LANGUAGE plpgsql
	  AS $$BEGIN RAISE EXCEPTION 'trap called'; END$$;
	CREATE FUNCTION dataproduct.format(text, text, text) RETURNS text LANGUAGE plpgsql
	  AS $$BEGIN RAISE EXCEPTION 'trap called'; END$$;
};

# Refused: CREATE EXTENSION fails with the guard's error, installs nothing,
# leaves the schema as it was.
sub refused
{
	my ($db, $what, $error, $detail) = @_;
	my $objects = q{
		SELECT count(*) FROM pg_namespace n
		  JOIN pg_proc p ON p.pronamespace = n.oid WHERE n.nspname LIKE 'dataproduct%'};
	my $before = $node->safe_psql($db, $objects);
	my ($ret, $stdout, $stderr) = $node->psql($db, 'CREATE EXTENSION pg_dataproduct',
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	isnt($ret, 0, "$what: CREATE EXTENSION fails");
	like($stderr, $error, "$what: with the guard's error");
	like($stderr, $detail, "$what: and a detail");
	like($stderr, qr/HINT:  Drop or rename schema "dataproduct(_internal)?" .*then run CREATE EXTENSION pg_dataproduct again/,
		"$what: and a hint");
	unlike($stderr, qr/trap called/, "$what: nothing in the schema was called");
	is($node->safe_psql($db, q{
		SELECT count(*) FROM pg_extension WHERE extname = 'pg_dataproduct'}), '0',
		"$what: the extension is not installed");
	is($node->safe_psql($db, $objects), $before, "$what: nothing was created");
}

my $not_owned = qr/ERROR:  42501: cannot install extension "pg_dataproduct" into existing schema "dataproduct"/;

# a schema dataproduct made by a role with CREATE on the database
$node->safe_psql('postgres', q{
	CREATE DATABASE guard_schema;
	CREATE DATABASE guard_internal;
	CREATE DATABASE guard_shared;
	CREATE DATABASE guard_ok;
	GRANT CREATE ON DATABASE guard_schema, guard_internal, guard_shared, guard_ok TO mallory;
});
$node->safe_psql('guard_schema', qq{
	SET ROLE mallory;
	CREATE SCHEMA dataproduct;
	CREATE FUNCTION dataproduct.refresh(text) RETURNS bigint LANGUAGE sql AS 'SELECT 0::bigint';
	$traps
});
refused('guard_schema', 'schema dataproduct owned by another role', $not_owned,
	qr/DETAIL:  Schema "dataproduct" is owned by role "mallory", which is neither the installing role "postgres" nor a superuser\./);
is($node->safe_psql('guard_schema', q{SELECT count(*) FROM pg_namespace WHERE nspname = 'dataproduct_internal'}),
	'0', 'no dataproduct_internal was created');

# a schema dataproduct_internal made by that role
$node->safe_psql('guard_internal', q{
	SET ROLE mallory;
	CREATE SCHEMA dataproduct_internal;
	CREATE FUNCTION dataproduct_internal.f() RETURNS int LANGUAGE sql AS 'SELECT 1';
});
refused('guard_internal', 'a pre-existing dataproduct_internal',
	qr/ERROR:  42P06: schema "dataproduct_internal" already exists/,
	qr/DETAIL:  Extension "pg_dataproduct" creates that schema itself; the existing one is owned by role "mallory"\./);

# the superuser's own schema, but another role may create in it, or did
$node->safe_psql('guard_shared', q{
	CREATE SCHEMA dataproduct;
	GRANT USAGE, CREATE ON SCHEMA dataproduct TO mallory;
});
refused('guard_shared', 'schema dataproduct others may create in', $not_owned,
	qr/DETAIL:  Roles other than its owner may create objects in schema "dataproduct": "mallory"\./);
$node->safe_psql('guard_shared', qq{
	SET ROLE mallory;
	CREATE FUNCTION dataproduct.refresh(text) RETURNS bigint LANGUAGE sql AS 'SELECT 0::bigint';
	CREATE TYPE dataproduct.kind AS ENUM ('a');
	$traps
	RESET ROLE;
	REVOKE CREATE ON SCHEMA dataproduct FROM mallory;
});
refused('guard_shared', 'schema dataproduct with objects in it',
	qr/ERROR:  55000: cannot install extension "pg_dataproduct" into existing schema "dataproduct"/,
	qr/DETAIL:  Schema "dataproduct" already contains function format\(text,name\), .* and 1 more\./);

# accepted: an empty schema of the installing role (what pg_dump writes
# before CREATE EXTENSION, and what DROP EXTENSION leaves), or of another
# superuser
$node->safe_psql('guard_ok', q{CREATE SCHEMA dataproduct});
$node->safe_psql('guard_ok', q{CREATE EXTENSION pg_dataproduct});
is(extversion('guard_ok'), $version, 'an empty schema of the installing role is accepted');
$node->safe_psql('guard_ok', q{DROP EXTENSION pg_dataproduct});
$node->safe_psql('guard_ok', q{SET ROLE admin; CREATE EXTENSION pg_dataproduct});
is(extversion('guard_ok'), $version,
	'the schema DROP EXTENSION leaves behind is accepted, by another superuser too');
is($node->safe_psql('guard_ok', $members_query), $members, 'with the same members');

# ------------------------------------------------------------------
# The background worker after the update
# ------------------------------------------------------------------

$node->safe_psql('postgres', q{ALTER SYSTEM SET dataproduct.enabled = on; SELECT pg_reload_conf()});
$node->safe_psql('upg', q{
	INSERT INTO sor.orders (customer, amount) SELECT 'w' || (g % 3), g FROM generate_series(1, 50) g});
ok($node->poll_query_until('upg', qq{SELECT ($exact) = 0}),
	'the worker refreshes the updated database');
# a database left at 0.1.0 is either served or reported (a log line of
# the scheduler about it), never broken
$node->safe_psql('old', q{
	INSERT INTO sor.orders (customer, amount) SELECT 'w' || (g % 3), g FROM generate_series(1, 50) g});
my $log = $node->logfile;
ok($node->poll_query_until('old', qq{
	SELECT ($exact) = 0
	    OR pg_read_file('$log') LIKE '%LOG:  pg_dataproduct in database "old" %'}),
	'a database still at 0.1.0 is refreshed, or its scheduler says it needs the update');
$node->safe_psql('old', q{SELECT dataproduct.refresh('shop.by_customer')});
is($node->safe_psql('old', $exact), '0', 'and refreshing it by hand still works');

$node->stop;
done_testing();
