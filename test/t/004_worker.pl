# The background worker: outputs refresh after commits without any manual
# call, never after rollbacks; schedulers follow CREATE/DROP EXTENSION and
# databases; SIGHUP, crashes and failures are handled; refreshes run with
# the owner's privileges; refresh workers stay alive between refreshes, are
# replaced when killed, and exit when idle too long.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_dataproduct'
dataproduct.naptime = 500
max_worker_processes = 16
restart_after_crash = on
});
$node->start;

sub schedulers
{
	return $node->safe_psql('postgres', q{
		SELECT coalesce(string_agg(datname, ',' ORDER BY datname), '') FROM pg_stat_activity
		 WHERE backend_type = 'pg_dataproduct scheduler'});
}

my $equal_sums = q{
	SELECT count(*) = 0 FROM ((SELECT k, sum(v), count(*) FROM public.ev GROUP BY k
	                            EXCEPT ALL SELECT * FROM w.sums)
	                          UNION ALL (SELECT * FROM w.sums EXCEPT ALL
	                            SELECT k, sum(v), count(*) FROM public.ev GROUP BY k)) d};

$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', q{
	CREATE ROLE team;
	CREATE EXTENSION pg_dataproduct;
	CREATE TABLE ev (id bigserial PRIMARY KEY, k int, v int);
	INSERT INTO ev (k, v) SELECT g % 5, g FROM generate_series(1, 1000) g;
	GRANT SELECT ON ev TO team;
	SELECT dataproduct.create_domain('w', owner => 'team');
	SELECT dataproduct.create_product('w.p');
	SELECT dataproduct.add_output('w.p', 'sums', 'SELECT k, sum(v) AS v, count(*) AS n FROM public.ev GROUP BY k');
	SELECT dataproduct.add_output('w.p', 'total', 'SELECT sum(v) AS v FROM public.ev');
});

ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'pg_dataproduct launcher'}), 'launcher runs');
ok($node->poll_query_until('app', q{SELECT count(*) = 2 FROM dataproduct.outputs WHERE status = 'ok'}),
	'new outputs are loaded by the worker');
is(schedulers(), 'app', 'one scheduler, for the database with the extension');

# a commit is applied without any manual call
$node->safe_psql('app', 'INSERT INTO ev (k, v) VALUES (1, 100000)');
ok($node->poll_query_until('app', "SELECT sum(v) = 100000 + 500500 FROM w.total"),
	'a commit reaches the output by itself');
ok($node->poll_query_until('app', $equal_sums), 'and equals its query');
is($node->safe_psql('app', q{SELECT count(*) > 0 FROM dataproduct.refresh_history
	WHERE by_worker AND kind = 'incremental'}), 't', 'refreshes recorded in the history');

# a rollback wakes nobody and changes nothing
my $before = $node->safe_psql('app', q{SELECT count(*) FROM dataproduct.refresh_history});
$node->safe_psql('app', q{BEGIN; INSERT INTO ev (k, v) VALUES (2, 7); ROLLBACK;});
sleep(1);	# nothing to wait for: give a wrong wake-up the chance to happen
is($node->safe_psql('app', q{SELECT count(*) FROM dataproduct.refresh_history}), $before,
	'no refresh after a rollback');
is($node->safe_psql('app', q{SELECT pending FROM dataproduct.freshness WHERE output = 'w.sums'::regclass}),
	'0', 'nothing pending');

# min_interval debounces
$node->safe_psql('app', q{SELECT dataproduct.alter_output('w.sums', min_interval => '3 seconds')});
$node->safe_psql('app', 'INSERT INTO ev (k, v) VALUES (3, 5)');
ok($node->poll_query_until('app', "SELECT sum(v) = 100000 + 500505 FROM w.total"), 'other outputs go on');
my $first = $node->safe_psql('app', q{SELECT last_refresh FROM dataproduct.outputs WHERE name = 'sums'});
$node->safe_psql('app', 'INSERT INTO ev (k, v) VALUES (3, 6)');
ok($node->poll_query_until('app', $equal_sums), 'a debounced output catches up');
is($node->safe_psql('app', qq{SELECT last_refresh - '$first'::timestamptz >= interval '2.9 seconds'
	FROM dataproduct.outputs WHERE name = 'sums'}), 't', 'but not before min_interval');
$node->safe_psql('app', q{SELECT dataproduct.alter_output('w.sums', min_interval => '0')});

# a failing output is recorded and retried with backoff; others stay fresh
$node->safe_psql('app', q{
	SELECT dataproduct.add_output('w.p', 'ratio', 'SELECT k, sum(1000 / v) AS r FROM public.ev GROUP BY k')});
ok($node->poll_query_until('app', q{SELECT status = 'ok' FROM dataproduct.outputs WHERE name = 'ratio'}),
	'a third output loads');
$node->safe_psql('app', 'INSERT INTO ev (k, v) VALUES (4, 0)');
ok($node->poll_query_until('app', q{SELECT failures >= 2 AND last_error LIKE '%division by zero%'
	AND next_retry > now() FROM dataproduct.outputs WHERE name = 'ratio'}),
	'a failing refresh is recorded, with retries and backoff');
$node->safe_psql('app', 'INSERT INTO ev (k, v) VALUES (0, 11)');
ok($node->poll_query_until('app', $equal_sums), 'other outputs stay fresh meanwhile');
is($node->safe_psql('app', q{SELECT count(*) > 0 FROM dataproduct.refresh_history
	WHERE error LIKE '%division by zero%'}), 't', 'failures are in the history');
$node->safe_psql('app', 'DELETE FROM ev WHERE v = 0');
ok($node->poll_query_until('app', q{SELECT failures = 0 AND last_error IS NULL
	FROM dataproduct.outputs WHERE name = 'ratio'}, 't'),
	'the error clears once a refresh succeeds');

# refreshes run as the owner: a revoked source fails, it is not read as superuser
$node->safe_psql('app', 'REVOKE SELECT ON ev FROM team');
$node->safe_psql('app', 'INSERT INTO ev (k, v) VALUES (2, 2)');
ok($node->poll_query_until('app', q{SELECT last_error LIKE '%permission denied%'
	FROM dataproduct.outputs WHERE name = 'total'}), 'no privilege, no refresh');
$node->safe_psql('app', 'GRANT SELECT ON ev TO team');
ok($node->poll_query_until('app', $equal_sums), 'and back once granted');

# a blocking check that fails stops the worker's refresh: the output keeps
# its last good data, the failure and the check's result are recorded
my $total = $node->safe_psql('app', 'SELECT v FROM w.total');
$node->safe_psql('app', qq{SELECT dataproduct.add_check('w.total', 'range', "column" => 'v',
	max => '@{[$total + 1000]}')});
$node->safe_psql('app', 'INSERT INTO ev (k, v) VALUES (3, 5000)');
ok($node->poll_query_until('app', q{SELECT last_error LIKE 'blocking check "range_v" failed%'
	FROM dataproduct.outputs WHERE name = 'total'}), 'a failing blocking check stops the refresh');
is($node->safe_psql('app', 'SELECT v FROM w.total'), $total, 'the output keeps its last good data');
is($node->safe_psql('app', q{SELECT passed, run_by, observed FROM dataproduct.check_results
	WHERE check_name = 'range_v' ORDER BY checked_at DESC LIMIT 1}), 'f|refresh|1',
	'the failing result is recorded despite the rollback');
is($node->safe_psql('app', q{SELECT status FROM dataproduct.health('w.p')}), 'failing',
	'health says failing');
$node->safe_psql('app', q{SELECT dataproduct.alter_check('w.total', 'range_v', severity => 'warning')});
ok($node->poll_query_until('app', "SELECT v = $total + 5000 FROM w.total"),
	'as a warning, the refresh goes through');
is($node->safe_psql('app', q{SELECT passed FROM dataproduct.check_results
	WHERE check_name = 'range_v' ORDER BY checked_at DESC LIMIT 1}), 'f', 'and records the failure');
$node->safe_psql('app', q{SELECT dataproduct.drop_check('w.total', 'range_v')});

# refresh workers stay alive between refreshes: the next refreshes are done
# by the same processes (same pid, same backend_start), idle in between
my $pool_q = q{SELECT coalesce(string_agg(pid || '@' || backend_start, ',' ORDER BY pid), '')
	FROM pg_stat_activity WHERE backend_type = 'pg_dataproduct refresh' AND datname = 'app'};
sub worker_refreshes
{
	return $node->safe_psql('app', q{SELECT count(*) FROM dataproduct.refresh_history
		WHERE by_worker AND error IS NULL});
}
$node->safe_psql('app', 'INSERT INTO ev (k, v) VALUES (1, 1)');
ok($node->poll_query_until('app', $equal_sums), 'pool: a first refresh');
ok($node->poll_query_until('postgres', q{SELECT count(*) > 0 AND bool_and(state = 'idle')
	FROM pg_stat_activity WHERE backend_type = 'pg_dataproduct refresh' AND datname = 'app'}),
	'pool: refresh workers stay after it, and show as idle');
my $pool = $node->safe_psql('postgres', $pool_q);
my $done = worker_refreshes();
for my $i (2 .. 3)
{
	$node->safe_psql('app', "INSERT INTO ev (k, v) VALUES (2, $i)");
	ok($node->poll_query_until('app', $equal_sums), "pool: refresh $i");
}
cmp_ok(worker_refreshes(), '>=', $done + 4, 'pool: the workers refreshed the outputs twice more');
is($node->safe_psql('postgres', $pool_q), $pool, 'pool: by the same processes');
cmp_ok(scalar(split(/,/, $pool)), '<=', 2, 'pool: no more workers than dataproduct.max_workers');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity
	WHERE backend_type = 'pg_dataproduct refresh' AND datname = 'app'
	  AND query LIKE 'refreshing output %' AND state = 'idle'}),
	scalar(split(/,/, $pool)), 'pool: idle workers show their last refresh as done');

# the pool's memory stays flat over many refreshes: what a refresh
# allocates goes with it, and what it keeps (plans, relation caches) stops
# growing once warm (pg_log_backend_memory_contexts writes each worker's
# total to the server log)
sub pool_memory
{
	my $total = 0;
	my @pids = split(/\n/, $node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity
		WHERE backend_type = 'pg_dataproduct refresh' AND datname = 'app' ORDER BY pid}));
	for my $pid (@pids)
	{
		my $offset = -s $node->logfile;
		my $bytes;
		$node->safe_psql('postgres', "SELECT pg_log_backend_memory_contexts($pid)");
		for (1 .. 100)
		{
			($bytes) = slurp_file($node->logfile, $offset) =~ /\[$pid\] LOG:  Grand total: (\d+) bytes/;
			last if defined $bytes;
			select(undef, undef, undef, 0.1);
		}
		die "no memory report from $pid" unless defined $bytes;
		$total += $bytes;
	}
	return ($total, join(',', @pids));
}
sub refresh_rounds
{
	my ($n) = @_;
	for my $i (1 .. $n)
	{
		$node->safe_psql('app', "INSERT INTO ev (k, v) VALUES ($i % 5, $i)");
		$node->poll_query_until('app', $equal_sums) or die "round $i not refreshed";
	}
}
# (once each worker has refreshed each output: its caches are warm)
refresh_rounds(30);
my ($mem1, $pids1) = pool_memory();
refresh_rounds(40);
my ($mem2, $pids2) = pool_memory();
is($pids2, $pids1, 'pool: the same workers over 40 more refreshes');
cmp_ok($mem2, '<=', $mem1 + 16384, "pool: and their memory stays flat ($mem1 then $mem2 bytes)");

# a worker killed while idle is replaced
$node->safe_psql('postgres', q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE backend_type = 'pg_dataproduct refresh' AND datname = 'app'});
ok($node->poll_query_until('postgres', qq{SELECT count(*) = 0 FROM pg_stat_activity
	WHERE backend_type = 'pg_dataproduct refresh' AND datname = 'app'
	  AND pid = ANY ('{@{[join(',', map { (split /\@/)[0] } split(/,/, $pool))]}}'::int[])}),
	'pool: idle workers terminated');
$node->safe_psql('app', 'INSERT INTO ev (k, v) VALUES (3, 1)');
ok($node->poll_query_until('app', $equal_sums), 'pool: new workers refresh after idle ones were killed');
isnt($node->safe_psql('postgres', $pool_q), '', 'pool: and stay');

# a worker killed in the middle of a refresh (waiting for a lock on the
# output's store) is replaced, and the output still gets refreshed
my $store = $node->safe_psql('app', q{SELECT store::regclass FROM dataproduct.output WHERE name = 'sums'});
my $holder = $node->background_psql('app');
$holder->query_safe("BEGIN; LOCK TABLE $store IN ACCESS EXCLUSIVE MODE;");
$node->safe_psql('app', 'INSERT INTO ev (k, v) VALUES (4, 1)');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'pg_dataproduct refresh' AND datname = 'app' AND state = 'active'
	  AND query LIKE 'refreshing output %sums%' AND wait_event_type = 'Lock'}),
	'pool: a refresh waits for the lock');
my $victim = $node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity
	WHERE backend_type = 'pg_dataproduct refresh' AND datname = 'app'
	  AND query LIKE 'refreshing output %sums%' AND wait_event_type = 'Lock'});
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($victim)"), 't',
	'pool: the refreshing worker is terminated');
ok($node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $victim"),
	'pool: and gone');
$holder->query_safe('COMMIT');
$holder->quit;
ok($node->poll_query_until('app', $equal_sums), 'pool: the output is refreshed by another worker');
is($node->safe_psql('app', q{SELECT failures FROM dataproduct.outputs WHERE name = 'sums'}), '0',
	'pool: a killed refresh is not counted as a failure');

# idle workers exit after dataproduct.worker_idle_timeout
$node->append_conf('postgresql.conf', 'dataproduct.worker_idle_timeout = 500');
$node->reload;
$node->safe_psql('app', 'INSERT INTO ev (k, v) VALUES (0, 1)');
ok($node->poll_query_until('app', $equal_sums), 'pool: a refresh with a short idle timeout');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_stat_activity
	WHERE backend_type = 'pg_dataproduct refresh' AND datname = 'app'}),
	'pool: idle workers exit after the idle timeout');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity
	WHERE backend_type = 'pg_dataproduct scheduler' AND datname = 'app'}), '1',
	'pool: the scheduler stays');
$node->safe_psql('app', 'INSERT INTO ev (k, v) VALUES (0, 2)');
ok($node->poll_query_until('app', $equal_sums), 'pool: and starts workers again when needed');
$node->adjust_conf('postgresql.conf', 'dataproduct.worker_idle_timeout', '60s');
$node->reload;

# a second database, picked up without a restart
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', q{
	CREATE EXTENSION pg_dataproduct;
	CREATE TABLE t (x int);
	SELECT dataproduct.create_domain('o');
	SELECT dataproduct.create_product('o.p');
	SELECT dataproduct.add_output('o.p', 'n', 'SELECT count(*) AS n FROM public.t');
	INSERT INTO t SELECT generate_series(1, 10);
});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 2 FROM pg_stat_activity
	WHERE backend_type = 'pg_dataproduct scheduler'}), 'a scheduler for the new database');
$node->safe_psql('other', 'INSERT INTO t VALUES (11)');
ok($node->poll_query_until('other', 'SELECT n = 11 FROM o.n'), 'both databases are served');

# SIGHUP: off, then on again
$node->append_conf('postgresql.conf', 'dataproduct.enabled = off');
$node->reload;
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_stat_activity
	WHERE backend_type = 'pg_dataproduct scheduler'}), 'schedulers stop when disabled');
$node->safe_psql('other', 'INSERT INTO t VALUES (12)');
sleep(1);
is($node->safe_psql('other', 'SELECT n FROM o.n'), '11', 'and refresh nothing');
$node->adjust_conf('postgresql.conf', 'dataproduct.enabled', 'on');
$node->reload;
ok($node->poll_query_until('other', 'SELECT n = 12 FROM o.n'), 'enabled again, catching up');

# DROP EXTENSION stops the scheduler and its idle refresh workers; DROP
# DATABASE works while they run
my $other_workers = q{SELECT count(*) FROM pg_stat_activity
	WHERE backend_type = 'pg_dataproduct refresh' AND datname = 'other'};
ok($node->poll_query_until('postgres', "SELECT ($other_workers) > 0"), 'idle refresh workers in other');
$node->safe_psql('other', 'DROP EXTENSION pg_dataproduct CASCADE');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_stat_activity
	WHERE backend_type = 'pg_dataproduct scheduler' AND datname = 'other'}), 'DROP EXTENSION stops it');
is($node->safe_psql('postgres', $other_workers), '0', 'and its refresh workers');
$node->safe_psql('other', 'CREATE EXTENSION pg_dataproduct');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'pg_dataproduct scheduler' AND datname = 'other'}), 'CREATE EXTENSION starts it');
# the same declarations in the new catalog: refreshed by new workers, right
$node->safe_psql('other', q{
	SELECT dataproduct.create_domain('o');
	SELECT dataproduct.create_product('o.p');
	SELECT dataproduct.add_output('o.p', 'n', 'SELECT count(*) AS n FROM public.t');
});
ok($node->poll_query_until('other', 'SELECT n = 12 FROM o.n'), 'the re-created extension is served');
$node->safe_psql('other', 'INSERT INTO t VALUES (13)');
ok($node->poll_query_until('other', 'SELECT n = 13 FROM o.n'), 'and its outputs refreshed incrementally');
ok($node->poll_query_until('postgres', "SELECT ($other_workers) > 0"), 'idle refresh workers in other again');
$node->safe_psql('postgres', 'DROP DATABASE other');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_database WHERE datname = 'other'}), '0',
	'DROP DATABASE with a scheduler and idle refresh workers running');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity
	WHERE backend_type LIKE 'pg_dataproduct%' AND datname = 'other'}), '0', 'none left');

# kill -9 of the scheduler in the middle of a refresh, then of the postmaster:
# nothing lost, nothing doubled
$node->safe_psql('app', q{
	SELECT dataproduct.add_output('w.p', 'slow', 'SELECT k, count(*) AS n, sum(v) AS v FROM public.ev, pg_catalog.generate_series(1, 300) GROUP BY k')});
ok($node->poll_query_until('app', q{SELECT status = 'ok' FROM dataproduct.outputs WHERE name = 'slow'}),
	'a slow output loads');
# wait until a query answers, through crash recovery
sub wait_for_server
{
	for (1 .. 600)
	{
		my $ok = eval { $node->safe_psql('postgres', 'SELECT 1'); 1 };
		return 1 if $ok;
		select(undef, undef, undef, 0.1);
	}
	return 0;
}
for my $round (1 .. 3)
{
	$node->safe_psql('app', 'INSERT INTO ev (k, v) SELECT g % 5, g FROM generate_series(1, 20000) g');
	# catch a refresh worker at work, for up to five seconds
	for (1 .. 50)
	{
		last if $node->safe_psql('postgres', q{SELECT count(*) > 0 FROM pg_stat_activity
			WHERE backend_type = 'pg_dataproduct refresh' AND state = 'active'}) eq 't';
		select(undef, undef, undef, 0.1);
	}
	my $pid = $node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity
		WHERE backend_type = 'pg_dataproduct scheduler' AND datname = 'app'});
	kill 'KILL', $pid if $pid;
	ok(wait_for_server(), "round $round: server back after kill -9 of the scheduler");
}
$node->safe_psql('app', 'INSERT INTO ev (k, v) VALUES (1, 1)');
$node->stop('immediate');
$node->start;
ok($node->poll_query_until('app', $equal_sums), 'after crashes: equal to its query');
ok($node->poll_query_until('app', q{SELECT count(*) = 0 FROM ((SELECT k, count(*) * 300, sum(v) * 300 FROM public.ev GROUP BY k
	EXCEPT ALL SELECT * FROM w.slow) UNION ALL (SELECT * FROM w.slow EXCEPT ALL
	SELECT k, count(*) * 300, sum(v) * 300 FROM public.ev GROUP BY k)) d}), 'the slow output too');

$node->stop;

# without the preload: everything works, and refresh() says how to get the worker
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->start;
my ($ret, $out, $err) = $plain->psql('postgres', q{
	CREATE EXTENSION pg_dataproduct;
	CREATE TABLE t (x int);
	SELECT dataproduct.create_domain('p');
	SELECT dataproduct.create_product('p.p');
	SELECT dataproduct.add_output('p.p', 'n', 'SELECT count(*) AS n FROM public.t');
	INSERT INTO t VALUES (1);
	SELECT dataproduct.refresh('p.n');
	SELECT n FROM p.n;
});
is($ret, 0, 'without the preload, declarations and refresh work');
like($out, qr/^1$/m, 'and the output is right');
like($err, qr/automatic refresh is off: pg_dataproduct is not in shared_preload_libraries/,
	'refresh says automatic refresh is off');
like($err, qr/HINT:  Add pg_dataproduct to shared_preload_libraries/, 'and how to turn it on');
is($plain->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity
	WHERE backend_type LIKE 'pg_dataproduct%'}), '0', 'and no worker runs');
$plain->stop;
done_testing();
