# Outputs on replicas: a primary whose stores are in a publication, a hot
# standby streaming from it and a logical subscriber that receives the
# stores (and a copy of the output views, as the README shows).  After
# writes and refreshes on the primary, both replicas serve exactly what the
# outputs' queries give on the primary; refreshing a published store keeps
# working (it needs a replica identity); on the standby every API function
# that writes fails at once with a clear message, and reading works.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 'logical');
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_dataproduct'
dataproduct.enabled = off
});
$primary->start;

$primary->safe_psql('postgres', q{
	CREATE EXTENSION pg_dataproduct;
	CREATE SCHEMA shop;
	CREATE TABLE shop.orders (id int PRIMARY KEY, region text, amount numeric);
	INSERT INTO shop.orders SELECT g, (ARRAY['north', 'south', NULL])[g % 3 + 1], g * 1.5
	  FROM generate_series(1, 300) g;
	SELECT dataproduct.create_domain('sales');
	SELECT dataproduct.create_product('sales.orders', description => 'Orders by region');
	SELECT dataproduct.add_output('sales.orders', 'by_region',
	       'SELECT region, count(*) AS n, sum(amount) AS total FROM shop.orders GROUP BY region',
	       description => 'Orders and revenue per region');
	SELECT dataproduct.add_output('sales.orders', 'big',
	       'SELECT id, region, amount FROM shop.orders WHERE amount > 300', refresh => 'full');
	SELECT dataproduct.refresh(view) FROM dataproduct.output ORDER BY output_id;
});
my %query = (
	'sales.by_region' => 'SELECT region, count(*) AS n, sum(amount) AS total FROM shop.orders GROUP BY region',
	'sales.big' => 'SELECT id, region, amount FROM shop.orders WHERE amount > 300');
my @stores = split /\n/, $primary->safe_psql('postgres',
	q{SELECT store::text FROM dataproduct.output ORDER BY output_id});
is(scalar(@stores), 2, 'two stores');
is($primary->safe_psql('postgres',
		q{SELECT string_agg(DISTINCT c.relreplident::text, ',') FROM dataproduct.output o
		    JOIN pg_class c ON c.oid = o.store}),
	'f', 'every store identifies its rows by all columns');
$primary->safe_psql('postgres', 'CREATE PUBLICATION dp FOR TABLE ' . join(', ', @stores));

# the hot standby
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# the logical subscriber: the stores' and views' definitions, then the data
my $subscriber = PostgreSQL::Test::Cluster->new('subscriber');
$subscriber->init;
$subscriber->start;
$subscriber->safe_psql('postgres', 'CREATE SCHEMA dataproduct_internal; CREATE SCHEMA sales;');
$primary->run_log([ 'pg_dump', '--schema-only', '--no-owner', '--no-privileges',
		'-d', $primary->connstr('postgres'),
		(map { ('-t', $_) } @stores, 'sales.by_region', 'sales.big'),
		'-f', "$PostgreSQL::Test::Utils::tmp_check/outputs.sql" ]);
$subscriber->command_ok([ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-d', $subscriber->connstr('postgres'),
		'-f', "$PostgreSQL::Test::Utils::tmp_check/outputs.sql" ],
	'the outputs\' definitions load on a cluster without the extension');
my $primary_conn = $primary->connstr . ' dbname=postgres';
$subscriber->safe_psql('postgres', "CREATE SUBSCRIPTION dp CONNECTION '$primary_conn' PUBLICATION dp");
$subscriber->wait_for_subscription_sync($primary, 'dp');
is($subscriber->safe_psql('postgres', q{SELECT obj_description('sales.by_region'::regclass)}),
	"Orders and revenue per region\n\n[pg_dataproduct]\nproduct: sales.orders\n"
	  . "owner: " . $primary->safe_psql('postgres', q{SELECT current_user::regrole})
	  . "\nversion: 0.1.0\nstatus: draft",
	'the subscriber\'s view keeps its description, with the product block');

# compares every output on a node with its query on the primary
sub check_outputs
{
	my ($node, $what) = @_;
	for my $view (sort keys %query)
	{
		my $want = $primary->safe_psql('postgres', "SELECT * FROM ($query{$view}) q ORDER BY 1, 2");
		my $got = $node->safe_psql('postgres', "SELECT * FROM $view ORDER BY 1, 2");
		is($got, $want, "$what: $view equals its query on the primary");
	}
}

$primary->wait_for_catchup($standby);
check_outputs($standby, 'standby after the first load');
check_outputs($subscriber, 'subscriber after the initial copy');

# writes and refreshes on the primary: updates and deletes of store rows are
# replicated (a store without a replica identity would make them fail)
for my $round (1 .. 3)
{
	$primary->safe_psql('postgres', qq{
		INSERT INTO shop.orders SELECT g, 'east', g FROM generate_series(1000 * $round, 1000 * $round + 20) g;
		UPDATE shop.orders SET amount = amount + 250 WHERE id % 7 = $round;
		DELETE FROM shop.orders WHERE id % 11 = $round;
		UPDATE shop.orders SET region = NULL WHERE id % 13 = $round;
	});
	my $res = $primary->safe_psql('postgres',
		q{SELECT string_agg((dataproduct.refresh(view) >= 0)::text, ',' ORDER BY output_id) FROM dataproduct.output});
	is($res, 'true,true', "round $round: refreshes of published stores succeed");
	$primary->wait_for_catchup($standby);
	$primary->wait_for_catchup('dp');
	check_outputs($standby, "standby, round $round");
	check_outputs($subscriber, "subscriber, round $round");
}

# on the standby: reading works, writing fails at once, saying why
is($standby->safe_psql('postgres', q{SELECT count(*) FROM dataproduct.outputs}), '2',
	'the catalog reads on the standby');
like($standby->safe_psql('postgres', q{SELECT dataproduct.describe('sales.orders')::text}),
	qr/by_region/, 'describe() works on the standby');
$primary->safe_psql('postgres', q{SELECT dataproduct.add_check('sales.by_region', 'row_count', min => '1')});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', q{SELECT check_name || ':' || passed FROM dataproduct.run_checks('sales.orders')}),
	'row_count:true', 'checks run on the standby (returned, not recorded)');
for my $call (
	[ q{SELECT dataproduct.refresh('sales.by_region')}, 'refresh an output' ],
	[ q{SELECT dataproduct.add_output('sales.orders', 'x', 'SELECT 1 AS one')}, 'declare an output' ],
	[ q{SELECT dataproduct.create_product('sales.more')}, 'create a data product' ],
	[ q{SELECT dataproduct.alter_product('sales.orders', description => 'x')}, 'change a data product' ],
	[ q{SELECT dataproduct.drop_output('sales.big')}, 'drop an output' ])
{
	my ($sql, $action) = @$call;
	my ($ret, $stdout, $stderr) = $standby->psql('postgres', $sql);
	isnt($ret, 0, "$action fails on the standby");
	like($stderr, qr/ERROR:  cannot \Q$action\E on a standby/, "$action: the error says why");
	like($stderr, qr/HINT:  Connect to the primary server/, "$action: the hint says where to go");
	unlike($stderr, qr/CONTEXT|SQL statement/, "$action: no internal SQL in the error");
}

done_testing();
