# An incrementally maintained output whose source later gets row level
# security is switched to full refresh by the refresh worker itself: the
# reason is logged and recorded, the output shows what its owner may see,
# and capture on the source is released.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('switch');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_dataproduct'
dataproduct.naptime = 500
max_worker_processes = 16
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE ROLE team;
	CREATE EXTENSION pg_dataproduct;
	CREATE TABLE ev (id bigserial PRIMARY KEY, k int, v int);
	INSERT INTO ev (k, v) SELECT g % 5, g FROM generate_series(1, 100) g;
	GRANT SELECT ON ev TO team;
	SELECT dataproduct.create_domain('w', owner => 'team');
	SELECT dataproduct.create_product('w.p');
	SELECT dataproduct.add_output('w.p', 'sums', 'SELECT k, sum(v) AS v, count(*) AS n FROM public.ev GROUP BY k');
});
ok($node->poll_query_until('postgres', q{SELECT status = 'ok' FROM dataproduct.outputs WHERE name = 'sums'}),
	'the worker loads the output');
is($node->safe_psql('postgres', q{SELECT mode FROM dataproduct.outputs WHERE name = 'sums'}),
	'incremental', 'maintained incrementally');

my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	CREATE POLICY not_zero ON ev USING (k <> 0);
	ALTER TABLE ev ENABLE ROW LEVEL SECURITY;
	INSERT INTO ev (k, v) VALUES (1, 1000), (0, 1000);
});
ok($node->poll_query_until('postgres', q{SELECT mode = 'full' FROM dataproduct.outputs WHERE name = 'sums'}),
	'the worker switches the output to full refresh');
is($node->safe_psql('postgres', q{SELECT mode_reason FROM dataproduct.outputs WHERE name = 'sums'}),
	'its query reads table ev, which has row level security', 'with the reason recorded');
my $log = substr(slurp_file($node->logfile), $log_offset);
like($log, qr/LOG:  output w\.sums can no longer be maintained incrementally and is refreshed in full from now on/,
	'the worker logs the switch');
like($log, qr/DETAIL:  Its query reads table ev, which has row level security\./, 'and why');

# the same refresh filled the new store with what the owner may see
is($node->safe_psql('postgres', q{
	SET ROLE team;
	SELECT count(*) FROM ((SELECT k, sum(v), count(*) FROM public.ev GROUP BY k EXCEPT ALL SELECT * FROM w.sums)
	                      UNION ALL (SELECT * FROM w.sums EXCEPT ALL SELECT k, sum(v), count(*) FROM public.ev GROUP BY k)) d}),
	'0', 'the output equals its query as its owner');
is($node->safe_psql('postgres', q{SELECT count(*) FROM w.sums WHERE k = 0}), '0', 'rows the policy hides are gone');
is($node->safe_psql('postgres', q{SELECT count(*) FROM dataproduct.source}), '0', 'capture is released');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_trigger WHERE tgrelid = 'ev'::regclass}), '0',
	'the source has no capture triggers any more');
is($node->safe_psql('postgres', q{SELECT count(*) FROM dataproduct.outputs WHERE name = 'sums' AND failures = 0}), '1',
	'and the switch is no failure');

$node->stop;
done_testing();
