# The scheduler knows which outputs have changes to apply from commit
# counts per change log in shared memory, not by reading the logs: a commit
# to one source refreshes the outputs reading it and no other; a rollback
# refreshes nothing; the changes of a prepared transaction, committed by a
# backend that does not count them, are found by the full check of the
# logs once per dataproduct.naptime.  The naptime is ten minutes here, so
# that every refresh but those of that check comes from the counts.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('counts');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_dataproduct'
dataproduct.naptime = 600000
max_prepared_transactions = 2
max_worker_processes = 16
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_dataproduct;
	CREATE TABLE a (id int PRIMARY KEY, k int, v int);
	CREATE TABLE b (id int PRIMARY KEY, k int, w int);
	INSERT INTO a SELECT g, g % 3, g FROM generate_series(1, 30) g;
	INSERT INTO b SELECT g, g % 3, g FROM generate_series(1, 30) g;
	SELECT dataproduct.create_domain('c');
	SELECT dataproduct.create_product('c.p');
	SELECT dataproduct.add_output('c.p', 'on_a', 'SELECT k, sum(v) AS s FROM public.a GROUP BY k');
	SELECT dataproduct.add_output('c.p', 'on_b', 'SELECT k, sum(w) AS s FROM public.b GROUP BY k');
	SELECT dataproduct.add_output('c.p', 'on_ab',
	       'SELECT a.k, count(*) AS n FROM public.a JOIN public.b ON b.id = a.id GROUP BY a.k');
});

my %query = (
	on_a => 'SELECT k, sum(v) FROM public.a GROUP BY k',
	on_b => 'SELECT k, sum(w) FROM public.b GROUP BY k',
	on_ab => 'SELECT a.k, count(*) FROM public.a JOIN public.b ON b.id = a.id GROUP BY a.k');
sub exact
{
	my ($output) = @_;
	return qq{SELECT count(*) = 0 FROM ((SELECT * FROM c.$output EXCEPT ALL $query{$output})
	                                    UNION ALL ($query{$output} EXCEPT ALL SELECT * FROM c.$output)) d};
}
sub refreshes
{
	my ($output) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT incremental_refreshes + rebuilds + full_refreshes FROM dataproduct.statistics
		 WHERE output = 'c.$output'::regclass});
}

for my $o ('on_a', 'on_b', 'on_ab')
{
	ok($node->poll_query_until('postgres', qq{SELECT status = 'ok' FROM dataproduct.outputs
		WHERE output = 'c.$o'::regclass}), "the worker loads $o");
}
my %before = map { $_ => refreshes($_) } ('on_a', 'on_b', 'on_ab');

$node->safe_psql('postgres', 'UPDATE a SET v = v + 1 WHERE id <= 10');
ok($node->poll_query_until('postgres', exact('on_a')), 'a commit to a refreshes its output');
ok($node->poll_query_until('postgres', exact('on_ab')), 'and the join reading it');
# the join's refresh is in the same round as the other's: both are done
ok($node->poll_query_until('postgres', qq{SELECT incremental_refreshes + rebuilds + full_refreshes > $before{on_ab}
	FROM dataproduct.statistics WHERE output = 'c.on_ab'::regclass}), 'the join was refreshed');
is(refreshes('on_b'), $before{on_b}, 'the output of the other source is not refreshed');

$node->safe_psql('postgres', 'BEGIN; UPDATE b SET w = 0; ROLLBACK');
$node->safe_psql('postgres', 'UPDATE a SET v = v + 1 WHERE id = 30');
ok($node->poll_query_until('postgres', exact('on_a')), 'a later commit to a is applied');
is(refreshes('on_b'), $before{on_b}, 'a rollback on b refreshes nothing');

# a prepared transaction's changes: found by the full check
$node->safe_psql('postgres', q{
	BEGIN; UPDATE b SET w = w + 100 WHERE id <= 5; PREPARE TRANSACTION 'p1'});
$node->safe_psql('postgres', q{COMMIT PREPARED 'p1'});
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET dataproduct.naptime = 1000; SELECT pg_reload_conf()});
ok($node->poll_query_until('postgres', exact('on_b')),
	'the changes of a prepared transaction are applied by the full check');
ok($node->poll_query_until('postgres', exact('on_ab')), 'and the join is still exact');

$node->stop;
done_testing();
