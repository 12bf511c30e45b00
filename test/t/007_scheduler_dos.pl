# One output cannot stop the background worker for the others: whatever its
# catalog row holds (intervals of millions of years, either sign, infinite
# times, a failures count at its maximum), the scheduler's own query does not
# fail, the scheduler keeps running, and the other outputs refresh on their
# own.  Failures the worker records carry their SQLSTATE, which everyone who
# sees the output may read; the error text only those who may read it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('scheduler_dos');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_dataproduct'
dataproduct.naptime = 200
max_worker_processes = 16
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', q{
	CREATE ROLE team;
	CREATE ROLE mallory LOGIN;
	CREATE EXTENSION pg_dataproduct;
	CREATE TABLE ev (id bigserial PRIMARY KEY, k int, v int);
	INSERT INTO ev (k, v) SELECT g % 5, g FROM generate_series(1, 100) g;
	GRANT SELECT ON ev TO team;
	SELECT dataproduct.create_domain('w', owner => 'team');
	SELECT dataproduct.create_product('w.p');
	SELECT dataproduct.alter_product('w.p', status => 'published');
	SELECT dataproduct.add_output('w.p', 'victim', 'SELECT k, sum(v) AS v FROM public.ev GROUP BY k');
	SELECT dataproduct.add_output('w.p', 'huge', 'SELECT k, count(*) AS n FROM public.ev GROUP BY k');
	SELECT dataproduct.add_output('w.p', 'negative', 'SELECT k, max(v) AS v FROM public.ev GROUP BY k');
	SELECT dataproduct.add_output('w.p', 'infinite', 'SELECT k, min(v) AS v FROM public.ev GROUP BY k');
	SELECT dataproduct.add_output('w.p', 'ratio', 'SELECT k, sum(1000 / v) AS r FROM public.ev GROUP BY k');
});
ok($node->poll_query_until('app', q{SELECT count(*) = 5 FROM dataproduct.outputs WHERE status = 'ok'}),
	'the worker loads every output');

my $scheduler_pid = q{SELECT pid FROM pg_stat_activity
	WHERE backend_type = 'pg_dataproduct scheduler' AND datname = 'app'};
my $pid = $node->safe_psql('app', $scheduler_pid);
isnt($pid, '', 'a scheduler serves the database');

# What no declaration may hold any more (add_output and alter_output refuse
# it) but a catalog may: a 0.1.0 database took any interval.
$node->safe_psql('app', q{
	UPDATE dataproduct.output SET min_interval = '178000000 years', schedule = '178000000 years'
	 WHERE name = 'huge';
	UPDATE dataproduct.output SET min_interval = '-178000000 years', schedule = '1000000 years'
	 WHERE name = 'negative';
	UPDATE dataproduct.output SET last_refresh = 'infinity', next_retry = '-infinity',
	       schedule = '1 second'
	 WHERE name = 'infinite';
});
my $huge_refreshed = $node->safe_psql('app',
	q{SELECT last_refresh FROM dataproduct.outputs WHERE name = 'huge'});

# changes to the sources: the other outputs must follow them on their own
$node->safe_psql('app', 'INSERT INTO ev (k, v) VALUES (1, 100000)');
ok($node->poll_query_until('app', q{
	SELECT v = 100000 + (SELECT sum(v) FROM ev WHERE k = 1 AND v < 100000) FROM w.victim WHERE k = 1}),
	'another output refreshes on its own');
ok($node->poll_query_until('app', q{
	SELECT v = 100000 FROM w.negative WHERE k = 1}),
	'so does one with a huge negative min_interval');
is($node->safe_psql('app', $scheduler_pid), $pid, 'and the scheduler never stopped');
is($node->safe_psql('app', q{SELECT last_refresh FROM dataproduct.outputs WHERE name = 'huge'}),
	$huge_refreshed, 'the output with a min_interval of 178000000 years waits for it');

# a failing output with a failures count at its maximum backs off, bounded,
# and records the SQLSTATE (the count is set with the change that makes it
# fail, so no successful refresh resets it in between)
$node->safe_psql('app', q{
	BEGIN;
	UPDATE dataproduct.output SET failures = 2147483647 WHERE name = 'ratio';
	INSERT INTO ev (k, v) VALUES (4, 0);
	COMMIT;
});
ok($node->poll_query_until('app', q{
	SELECT last_error_code = '22012' AND failures = 2147483647
	   AND next_retry BETWEEN now() AND now() + interval '1 hour 1 minute'
	  FROM dataproduct.outputs WHERE name = 'ratio'}),
	'a failure at the largest failures count is recorded with its SQLSTATE and an hour of backoff');
is($node->safe_psql('app', q{SELECT error_code FROM dataproduct.refreshes
	WHERE output = 'w.ratio'::regclass AND error IS NOT NULL ORDER BY started_at DESC LIMIT 1}),
	'22012', 'the history has it too');
$node->safe_psql('app', 'INSERT INTO ev (k, v) VALUES (2, 7)');
ok($node->poll_query_until('app', q{
	SELECT v = (SELECT sum(v) FROM ev WHERE k = 2) FROM w.victim WHERE k = 2}),
	'the others still refresh');
is($node->safe_psql('app', $scheduler_pid), $pid, 'with the same scheduler');

# who sees what of the failure
is($node->safe_psql('app', q{SELECT last_error FROM dataproduct.outputs WHERE name = 'ratio'}),
	'division by zero', 'the error text, for those who may read the output');
is($node->safe_psql('app', q{SET ROLE mallory;
	SELECT last_error || ' ' || last_error_code FROM dataproduct.outputs WHERE name = 'ratio'}),
	'error (SQLSTATE 22012) 22012', 'others see that it failed, and the SQLSTATE');
like($node->safe_psql('app', q{SET ROLE mallory;
	SELECT array_to_string(reasons, ';') FROM dataproduct.health('w.p')}),
	qr/output w\.ratio: refreshes fail \(2147483647\): error \(SQLSTATE 22012\)/,
	'in health too');

my $log = slurp_file($node->logfile);
unlike($log, qr/out of range/, 'nothing overflowed');
unlike($log, qr/background worker "pg_dataproduct scheduler".*exited with exit code 1/,
	'no scheduler failed');

$node->stop;
done_testing();
