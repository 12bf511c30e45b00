# Runs the pgTAP suites in test/pgtap/ with pg_prove against a fresh,
# preloaded instance.  Each suite runs in its own transaction and rolls back.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('pgtap');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_dataproduct'\ndataproduct.enabled = off");
$node->start;

my @suites = sort glob('test/pgtap/*.sql');
ok(scalar(@suites) >= 2, 'pgTAP suites found');
foreach my $suite (@suites)
{
	$node->command_ok(
		[ 'pg_prove', '--verbose', '-d', 'postgres', $suite ],
		"pgTAP suite $suite passes");
}

$node->stop;
done_testing();
