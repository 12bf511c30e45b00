# Products as code: products declared in one database (checks, a freshness
# promise, grants, several outputs including a join with an aggregate and a
# product built on another) are exported as ODCS and ODPS documents, which
# validate against the standards' published JSON Schemas (schema/, with
# python3-jsonschema); the contracts applied into an empty database
# reproduce the products: exported again they are the same documents, a
# second apply changes nothing, and every output refreshes to exactly its
# query (a history output's current versions; its history restarts in
# the new database).  A history output is never declared again by a
# changed document, which would drop its history.
use strict;
use warnings;
use File::Basename;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $schemas = dirname(__FILE__) . '/../../schema';

my $node = PostgreSQL::Test::Cluster->new('descriptor');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_dataproduct'
dataproduct.enabled = off
});
$node->start;

my $sor = q{
	CREATE SCHEMA sor;
	CREATE TABLE sor.customers (id int PRIMARY KEY, name text NOT NULL, country varchar(2));
	CREATE TABLE sor.orders (id bigserial PRIMARY KEY, customer_id int REFERENCES sor.customers,
	                         amount numeric(10,2), status text, placed_at timestamptz);
	GRANT USAGE ON SCHEMA sor TO team;
	GRANT SELECT ON ALL TABLES IN SCHEMA sor TO team;
};
$node->safe_psql('postgres', q{
	CREATE ROLE team;
	CREATE ROLE dev LOGIN IN ROLE team;
	CREATE ROLE analyst;
	CREATE ROLE "BI Tool";
	CREATE DATABASE src;
	CREATE DATABASE dst;
	GRANT CREATE ON DATABASE src, dst TO team;
});
for my $db ('src', 'dst')
{
	$node->safe_psql($db, 'CREATE EXTENSION pg_dataproduct;' . $sor);
}
my $data = q{
	INSERT INTO sor.customers SELECT g, 'customer ' || g, (ARRAY['SE', 'FR', 'DE'])[1 + g % 3]
	  FROM generate_series(1, 20) g;
	INSERT INTO sor.orders (customer_id, amount, status, placed_at)
	  SELECT 1 + g % 20, (g % 97) * 1.25, (ARRAY['new', 'paid', 'shipped'])[1 + g % 3],
	         timestamptz '2024-03-01 00:00+00' + g * interval '1 hour'
	    FROM generate_series(1, 500) g;
};
$node->safe_psql('src', $data);

$node->safe_psql('src', q{
	SET ROLE dev;
	SELECT dataproduct.create_domain('sales', owner => 'team', description => 'Selling');
	SELECT dataproduct.create_product('sales.orders', description => 'Orders and what they bring in',
	       version => '1.4.0', tags => '{sales,finance}', contact => 'sales-team@example.com',
	       max_staleness => '10 minutes');
	SELECT dataproduct.add_output('sales.orders', 'by_customer',
	       $$SELECT c.country, o.customer_id, count(*) AS orders, sum(o.amount) AS revenue, max(o.placed_at) AS last_order
	           FROM sor.orders o JOIN sor.customers c ON c.id = o.customer_id
	          GROUP BY c.country, o.customer_id$$,
	       description => 'Orders and revenue per customer', min_interval => '30 seconds');
	SELECT dataproduct.add_output('sales.orders', 'totals',
	       'SELECT count(*) AS orders, sum(amount) AS revenue FROM sor.orders',
	       description => 'All orders, one row');
	SELECT dataproduct.add_output('sales.orders', 'countries', 'SELECT DISTINCT country FROM sor.customers');
	SELECT dataproduct.add_output('sales.orders', 'open_orders',
	       $$SELECT id, customer_id, amount FROM sor.orders WHERE status <> 'shipped' ORDER BY id LIMIT 100$$,
	       refresh => 'full', schedule => '15 minutes');
	SELECT dataproduct.add_output('sales.orders', 'order_history',
	       'SELECT id, customer_id, amount, status FROM sor.orders', history => true,
	       description => 'Every version of every order');
	SELECT dataproduct.comment_column('sales.by_customer', 'revenue', 'Sum of order amounts');
	SELECT dataproduct.comment_column('sales.by_customer', 'country', 'ISO 3166 code');
	SELECT dataproduct.add_check('sales.by_customer', 'not_null', "column" => 'country');
	SELECT dataproduct.add_check('sales.by_customer', 'unique', columns => '{country,customer_id}');
	SELECT dataproduct.add_check('sales.by_customer', 'accepted_values', "column" => 'country',
	       "values" => '{SE,FR,DE,NO}', description => 'Markets we sell in');
	SELECT dataproduct.add_check('sales.by_customer', 'range', "column" => 'revenue', min => '0',
	       max => '1000000', severity => 'warning');
	SELECT dataproduct.add_check('sales.by_customer', 'relationship', "column" => 'customer_id',
	       to_relation => 'sor.customers', to_column => 'id');
	SELECT dataproduct.add_check('sales.totals', 'row_count', min => '1', max => '1');
	SELECT dataproduct.add_check('sales.countries', 'unique', "column" => 'country');
	SELECT dataproduct.add_check('sales.open_orders', 'freshness', max_staleness => '1 hour');
	SELECT dataproduct.add_check('sales.open_orders', 'custom', name => 'positive_amounts',
	       sql => 'SELECT * FROM sales.open_orders WHERE amount < 0', severity => 'warning');
	SELECT dataproduct.alter_product('sales.orders', status => 'published');
	GRANT SELECT ON sales.by_customer, sales.totals TO analyst;
	GRANT SELECT ON sales.totals TO "BI Tool";

	SELECT dataproduct.create_domain('insight', owner => 'team');
	SELECT dataproduct.create_product('insight.top', description => 'Best customers', version => '0.3.0');
	SELECT dataproduct.add_output('insight.top', 'top_markets',
	       'SELECT country, sum(revenue) AS revenue, count(*) AS customers FROM sales.by_customer GROUP BY country');
});
# each in a transaction of its own: insight.top reads sales.by_customer
sub refresh_all
{
	my ($db) = @_;
	for my $output (split /\n/, $node->safe_psql($db,
			q{SELECT output FROM dataproduct.outputs ORDER BY product <> 'sales.orders', output::text}))
	{
		$node->safe_psql($db, "SELECT dataproduct.refresh('$output')");
	}
}
refresh_all('src');

# ---- export, and validate against the published JSON Schemas
my $tmp = PostgreSQL::Test::Utils::tempdir;
sub export
{
	my ($db, $product, $format) = @_;
	return $node->safe_psql($db, "SELECT dataproduct.export('$product', '$format')");
}

sub validate
{
	my ($doc, $schema, $name) = @_;
	my $file = "$tmp/$name.json";
	open(my $fh, '>', $file) or die "$file: $!";
	print $fh $doc;
	close($fh);
	my ($stdout, $stderr);
	my $ok = IPC::Run::run(
		[
			'python3', '-c', q{
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
errors = sorted(cls(schema).iter_errors(doc), key=lambda e: list(e.absolute_path))
for e in errors:
    print("/".join(map(str, e.absolute_path)) + ": " + e.message)
sys.exit(1 if errors else 0)
},
			"$schemas/$schema", $file
		],
		'>', \$stdout, '2>', \$stderr);
	ok($ok, "$name validates against $schema") or diag($stdout . $stderr);
}

for my $product ('sales.orders', 'insight.top')
{
	validate(export('src', $product, 'odcs'), 'odcs-json-schema-v3.1.0.json', "$product.odcs");
	validate(export('src', $product, 'odps'), 'odps-json-schema-v1.0.0.json', "$product.odps");
}

# the shape: keys are the grain, columns typed, checks mapped
is($node->safe_psql('src', q{
	SELECT string_agg(o ->> 'name' || ':' || coalesce((SELECT string_agg(p ->> 'name', ',' ORDER BY (p ->> 'primaryKeyPosition')::int)
	                                                     FROM jsonb_array_elements(o -> 'properties') p
	                                                    WHERE (p ->> 'primaryKey')::boolean), '-'), ' ')
	  FROM jsonb_array_elements(dataproduct.export('sales.orders') -> 'schema') o}),
	'by_customer:country,customer_id totals:- countries:country open_orders:- order_history:id,valid_from',
	'primaryKey marks the grain of each output');
is($node->safe_psql('src', q{
	SELECT string_agg(format('%s %s %s %s', p ->> 'name', p ->> 'physicalType', p ->> 'logicalType', p ->> 'required'), '; ')
	  FROM jsonb_array_elements(dataproduct.export('sales.orders') #> '{schema,0,properties}') p}),
	'country character varying(2) string true; customer_id integer integer false; orders bigint integer false; '
	  . 'revenue numeric number false; last_order timestamp with time zone timestamp false',
	'columns carry physical and logical types, and required from not_null checks');
is($node->safe_psql('src', q{
	SELECT d #>> '{slaProperties,0,property}' || ' ' || (d #>> '{slaProperties,0,value}') || ' ' || (d #>> '{slaProperties,0,unit}')
	       || ' / ' || (d ->> 'status') || ' / ' || (d #>> '{team,name}') || ' / '
	       || (SELECT string_agg(r ->> 'role' || '=' || (r #>> '{customProperties,0,value}'), ' ' ORDER BY r ->> 'role')
	             FROM jsonb_array_elements(d -> 'roles') r)
	  FROM dataproduct.export('sales.orders') d}),
	'latency 10 min / active / team / "BI Tool"=["totals"] analyst=["by_customer", "totals"]',
	'the freshness promise, status, team and grants');
is($node->safe_psql('src', q{
	SELECT d #>> '{inputPorts,0,contractId}' || ' ' || (d #>> '{outputPorts,0,inputContracts,0,id}')
	  FROM dataproduct.export('insight.top', 'odps') d}),
	'sales.orders sales.orders', 'ODPS ports name the contracts they read');

# ---- apply the contracts into the empty database, as a member of the team
my %contract;
for my $product ('sales.orders', 'insight.top')
{
	$contract{$product} = export('src', $product, 'odcs');
	my $file = "$tmp/$product.apply.json";
	open(my $fh, '>', $file) or die;
	print $fh $contract{$product};
	close($fh);
}
sub apply_contract
{
	my ($db, $product, $extra) = @_;
	$extra //= '';
	my $doc = $contract{$product};
	$doc =~ s/'/''/g;
	return $node->safe_psql($db, "SET ROLE dev; SELECT action || ' ' || object FROM dataproduct.apply('$doc'$extra)");
}
my $plan = apply_contract('dst', 'sales.orders', ', dry_run => true');
like($plan, qr/^create domain sales\ncreate product sales\.orders\ncreate output sales\.by_customer/,
	'a dry run plans the declaration');
is($node->safe_psql('dst', 'SELECT count(*) FROM dataproduct.products'), '0', 'and declares nothing');
apply_contract('dst', 'sales.orders');
apply_contract('dst', 'insight.top');
is($node->safe_psql('dst', q{SELECT string_agg(product || ' ' || version || ' ' || status, ', ' ORDER BY product) FROM dataproduct.products}),
	'insight.top 0.3.0 draft, sales.orders 1.4.0 published', 'the products are declared');

for my $product ('sales.orders', 'insight.top')
{
	is(apply_contract('dst', $product) =~ s/^unchanged .*\n?//mgr, '', "applying $product again changes nothing");
	for my $format ('odcs', 'odps')
	{
		my $strip = q{ - 'servers' - 'contractCreatedTs' - 'productCreatedTs'};
		my $sql = "SELECT (dataproduct.export('$product', '$format')$strip)::text";
		is($node->safe_psql('dst', $sql), $node->safe_psql('src', $sql),
			"$product exported from the new database is the same $format document");
	}
}
like($node->safe_psql('dst', q{SELECT dataproduct.export('sales.orders') #>> '{servers,0,database}'}),
	qr/^dst$/, 'but names its own server');

# ---- the outputs there refresh, and equal their queries
$node->safe_psql('dst', $data);
refresh_all('dst');
$node->safe_psql('dst', q{
	INSERT INTO sor.orders (customer_id, amount, status, placed_at) VALUES (3, 10, 'new', now());
	UPDATE sor.orders SET status = 'shipped' WHERE id % 7 = 0;
	DELETE FROM sor.orders WHERE id % 11 = 0;
});
refresh_all('dst');
my @outputs = split /\n/, $node->safe_psql('dst', q{SELECT output::text || '|' || replace(definition, E'\n', ' ') FROM dataproduct.outputs ORDER BY 1});
is(scalar @outputs, 6, 'six outputs');
is($node->safe_psql('dst', q{SELECT string_agg(view::text, ',') FROM dataproduct.visible_output WHERE history}),
	'sales.order_history', 'the history output is declared as one');
for my $row (@outputs)
{
	my ($output, $query) = split /\|/, $row, 2;
	$output = "(SELECT id, customer_id, amount, status FROM $output WHERE valid_to IS NULL) h"
	  if $output eq 'sales.order_history';
	is($node->safe_psql('dst', qq{
		SELECT count(*) FROM ((SELECT * FROM $output EXCEPT ALL ($query))
		                      UNION ALL (($query) EXCEPT ALL SELECT * FROM $output)) d}),
		'0', "$output equals its query");
}
is($node->safe_psql('dst', q{SELECT count(*) FROM dataproduct.check_results WHERE NOT passed}), '0',
	'and passes its checks');
is($node->safe_psql('dst', q{SELECT has_table_privilege('analyst', 'sales.by_customer', 'SELECT')
                                    AND has_table_privilege('BI Tool', 'sales.totals', 'SELECT')
                                    AND NOT has_table_privilege('BI Tool', 'sales.by_customer', 'SELECT')}),
	't', 'grants are reproduced');

# a changed query of the history output is refused, the output kept
my $changed = $node->safe_psql('dst', q{
	SELECT jsonb_set(d, ARRAY['schema', (s.i - 1)::text, 'customProperties', (c.j - 1)::text, 'value'],
	                 to_jsonb((c.cp ->> 'value') || ' WHERE orders.amount > 0'))
	  FROM (SELECT dataproduct.export('sales.orders') AS d) x,
	       jsonb_array_elements(d -> 'schema') WITH ORDINALITY s(o, i),
	       jsonb_array_elements(s.o -> 'customProperties') WITH ORDINALITY c(cp, j)
	 WHERE s.o ->> 'name' = 'order_history' AND c.cp ->> 'property' = 'query'});
$changed =~ s/'/''/g;
my ($rc, $stdout, $stderr) = $node->psql('dst', "SET ROLE dev; SELECT * FROM dataproduct.apply('$changed')");
like($stderr, qr/history output sales\.order_history cannot be declared again/,
	'declaring a history output again is refused');
like($stderr, qr/DETAIL:  The descriptor changes it \(query changed\)/, 'and says why');
is($node->safe_psql('dst', q{SELECT count(*) > 0 FROM sales.order_history}), 't', 'the history is kept');

$node->stop;
done_testing();
