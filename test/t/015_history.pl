# Randomized differential test of history outputs.
#
# For each of many seeds, fresh tables get history outputs (a filtered
# projection, every column, and a text-keyed table with a computed column),
# next to an ordinary incremental output over the same table.  Then random
# transactions, each committed on its own (some rolled back), replay
# INSERT, UPDATE (of shown columns, of a column no history output shows, of
# the filter column so that rows move in and out of the filter, and of the
# key), DELETE and TRUNCATE (alone, or amid other statements of its
# transaction), several statements in one transaction, and the outputs are
# refreshed at random points, one by one, so that a batch holds any number
# of transactions.  After each commit the test remembers the tables' rows
# with the commit's time (pg_xact_commit_timestamp of the transaction).
#
# Then, for every commit time, the point just before the next commit, and
# the middle of every gap between commits, as_of() of each history output
# must equal (EXCEPT ALL both ways) the output's query over the rows the
# test remembered as the tables' state at that time; and the current
# versions must equal the query now.
#
# A second phase restarts the server with track_commit_timestamp off: the
# history then has the refreshes' resolution, and as_of() at any time must
# equal the query over the rows as of the last refresh before it (the
# history outputs of a seed are refreshed together, at one snapshot, and
# the test remembers the rows at that snapshot).
#
# The base seed is printed; rerun with DP_SEED=<seed>.  DP_SEEDS sets the
# number of seeds per phase, DP_TXNS the transactions per seed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $base = $ENV{DP_SEED} // (time() ^ $$);
my $nseeds = $ENV{DP_SEEDS} // 8;
my $ntxns = $ENV{DP_TXNS} // 50;
diag("history differential test base seed: $base (rerun with DP_SEED=$base)");

my $node = PostgreSQL::Test::Cluster->new('history');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_dataproduct'
dataproduct.enabled = off
track_commit_timestamp = on
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_dataproduct;
	CREATE SCHEMA model;
	CREATE TABLE model.commits (seed int, n int, ts timestamptz, ts_first timestamptz, PRIMARY KEY (seed, n));
	CREATE TABLE model.subs (seed int, n int, id int, plan text, status text, seats int, note text);
	CREATE TABLE model.acct (seed int, n int, k text, v int);
	CREATE INDEX ON model.subs (seed, n);
	CREATE INDEX ON model.acct (seed, n);
});

my @plans = ('basic', 'pro', 'team');
my @statuses = ('active', 'trial', 'cancelled', 'paused');
sub pick { return $_[ int(rand(scalar @_)) ]; }
sub val { return rand() < 0.1 ? 'NULL' : int(rand(10)); }

# one random statement on the sources of schema $s
sub statement
{
	my ($s) = @_;
	my $id = 1 + int(rand(12));
	my $id2 = 1 + int(rand(12));
	my $k = "'" . pick('a' .. 'h') . "'";
	my $k2 = "'" . pick('a' .. 'h') . "'";
	my $r = rand();
	return "INSERT INTO $s.subs VALUES ($id, '" . pick(@plans) . "', '" . pick(@statuses) . "', " . val() . ", NULL) ON CONFLICT DO NOTHING" if $r < 0.18;
	return "UPDATE $s.subs SET seats = " . val() . " WHERE id = $id" if $r < 0.28;
	return "UPDATE $s.subs SET plan = '" . pick(@plans) . "' WHERE id = $id" if $r < 0.34;
	return "UPDATE $s.subs SET status = '" . pick(@statuses) . "' WHERE id = $id" if $r < 0.44;
	return "UPDATE $s.subs SET note = md5(random()::text) WHERE id = $id" if $r < 0.48;
	return "UPDATE $s.subs SET id = $id2 WHERE id = $id AND NOT EXISTS (SELECT FROM $s.subs WHERE id = $id2)" if $r < 0.54;
	return "UPDATE $s.subs SET seats = coalesce(seats, 0) + 1 WHERE id % 3 = " . int(rand(3)) if $r < 0.58;
	return "DELETE FROM $s.subs WHERE id = $id" if $r < 0.66;
	return "TRUNCATE $s.subs" if $r < 0.69;
	return "INSERT INTO $s.acct VALUES ($k, " . val() . ") ON CONFLICT DO NOTHING" if $r < 0.79;
	return "UPDATE $s.acct SET v = " . val() . " WHERE k = $k" if $r < 0.86;
	return "UPDATE $s.acct SET k = $k2 WHERE k = $k AND NOT EXISTS (SELECT FROM $s.acct WHERE k = $k2)" if $r < 0.91;
	return "DELETE FROM $s.acct WHERE k = $k" if $r < 0.97;
	return "TRUNCATE $s.acct";
}

# the outputs of schema $s, their queries over the model, and their columns
sub outputs
{
	my ($s) = @_;
	return (
		[ "$s.a", "SELECT id, plan, seats FROM ${s}src.subs WHERE status IN ('active', 'trial')",
		  "SELECT id, plan, seats FROM model.subs m WHERE %s AND status IN ('active', 'trial')", 'id, plan, seats' ],
		[ "$s.b", "SELECT id, plan, status, seats, note FROM ${s}src.subs",
		  "SELECT id, plan, status, seats, note FROM model.subs m WHERE %s", 'id, plan, status, seats, note' ],
		[ "$s.c", "SELECT k, v, v * 2 AS v2 FROM ${s}src.acct WHERE v IS DISTINCT FROM 0",
		  "SELECT k, v, v * 2 AS v2 FROM model.acct m WHERE %s AND v IS DISTINCT FROM 0", 'k, v, v2' ]);
}

# declare the sources and outputs of seed $i; returns the schema
sub setup
{
	my ($i) = @_;
	my $s = "h$i";
	my $sql = qq{
		CREATE SCHEMA ${s}src;
		CREATE TABLE ${s}src.subs (id int PRIMARY KEY, plan text, status text, seats int, note text);
		CREATE TABLE ${s}src.acct (k text PRIMARY KEY, v int);
		INSERT INTO ${s}src.subs SELECT g, 'basic', 'active', g, NULL FROM generate_series(1, 6) g;
		INSERT INTO ${s}src.acct VALUES ('a', 1), ('b', 0);
		SELECT dataproduct.create_domain('$s');
		SELECT dataproduct.create_product('$s.p');
		SELECT dataproduct.add_output('$s.p', 'counts', 'SELECT plan, count(*) AS n, sum(seats) AS seats FROM ${s}src.subs GROUP BY plan');
	};
	for my $o (outputs($s))
	{
		my ($name) = $o->[0] =~ /\.(\w+)$/;
		$sql .= "SELECT dataproduct.add_output('$s.p', '$name', \$q\$$o->[1]\$q\$, history => true);\n";
	}
	$node->safe_psql('postgres', $sql);
	return $s;
}

# refresh every history output of schema $s at one snapshot, and remember
# the tables' rows then as state $n, from the refreshes' times (the history
# has the refreshes' resolution without commit timestamps)
sub refresh_state
{
	my ($i, $s, $n, @outs) = @_;
	my $sql = "BEGIN ISOLATION LEVEL REPEATABLE READ;\n";
	$sql .= "SELECT dataproduct.refresh('$_');\n" for @outs;
	$sql .= "INSERT INTO model.subs SELECT $i, $n, * FROM ${s}src.subs;\n";
	$sql .= "INSERT INTO model.acct SELECT $i, $n, * FROM ${s}src.acct;\n";
	$sql .= "INSERT INTO model.commits SELECT $i, $n, max(last_refresh), min(last_refresh)"
	  . " FROM dataproduct.output WHERE view::text LIKE '$s.%' AND history;\n";
	return $sql . "COMMIT;\n";
}

# the random workload of seed $i on schema $s, as one script; with
# $by_refresh the states are those of refreshes, else of commits
sub workload
{
	my ($i, $s, $by_refresh) = @_;
	my @outs = map { $_->[0] } outputs($s);
	my $sql = '';
	my $n = 0;

	# the first load, and the state it records
	$sql .= "SELECT dataproduct.refresh('$_');\n" for (@outs, "$s.counts");
	$sql .= "INSERT INTO model.subs SELECT $i, 0, * FROM ${s}src.subs;\n";
	$sql .= "INSERT INTO model.acct SELECT $i, 0, * FROM ${s}src.acct;\n";
	if ($by_refresh)
	{
		$sql .= "INSERT INTO model.commits SELECT $i, 0, max(last_refresh), min(last_refresh)"
		  . " FROM dataproduct.output WHERE view::text LIKE '$s.%' AND history;\n";
	}
	for my $t (1 .. $ntxns)
	{
		my $stmts = 1 + int(rand(rand() < 0.2 ? 5 : 2));
		$sql .= "BEGIN;\n";
		$sql .= statement("${s}src") . ";\n" for (1 .. $stmts);
		if (rand() < 0.08)
		{
			$sql .= "ROLLBACK;\n";
			next;
		}
		$sql .= "SELECT pg_current_xact_id() AS x \\gset\nCOMMIT;\n";
		unless ($by_refresh)
		{
			$n++;
			$sql .= "INSERT INTO model.commits SELECT $i, $n, t, t FROM pg_xact_commit_timestamp(xid(:'x'::xid8)) t;\n";
			$sql .= "INSERT INTO model.subs SELECT $i, $n, * FROM ${s}src.subs;\n";
			$sql .= "INSERT INTO model.acct SELECT $i, $n, * FROM ${s}src.acct;\n";
		}
		if ($by_refresh)
		{
			# all outputs at once, so that the state at each refresh is known
			$sql .= refresh_state($i, $s, ++$n, @outs) if rand() < 0.25;
		}
		else
		{
			for my $o (@outs, "$s.counts")
			{
				$sql .= "SELECT dataproduct.refresh('$o');\n" if rand() < 0.12;
			}
		}
	}
	if ($by_refresh)
	{
		$sql .= refresh_state($i, $s, ++$n, @outs);
	}
	else
	{
		$sql .= "SELECT dataproduct.refresh('$_');\n" for (@outs, "$s.counts");
	}
	return $sql;
}

# mismatching rows of as_of() over all check times, and the times checked
sub check
{
	my ($i, $s) = @_;
	my $bad = 0;
	# state n holds from ts (its last output's time) to the next state's
	# ts_first (its first output's): check both ends and the middle
	my $points = qq{SELECT t FROM (
		  SELECT ts AS t FROM model.commits WHERE seed = $i
		  UNION SELECT ts + (lead(ts_first) OVER (ORDER BY n) - ts) / 2 FROM model.commits WHERE seed = $i
		  UNION SELECT lead(ts_first) OVER (ORDER BY n) - interval '1 microsecond' FROM model.commits WHERE seed = $i) p};
	my $times = $node->safe_psql('postgres', qq{
		SELECT count(*) FROM ($points) t WHERE t IS NOT NULL});
	for my $o (outputs($s))
	{
		my ($view, $query, $model, $cols) = @$o;
		my $expected = sprintf($model, 'm.seed = ' . $i . ' AND m.n = e.n');
		my $r = $node->safe_psql('postgres', qq{
			WITH t AS ($points),
			     e AS (SELECT t.t, coalesce((SELECT max(c.n) FROM model.commits c
			                                  WHERE c.seed = $i AND c.ts <= t.t), 0) AS n
			             FROM t WHERE t.t IS NOT NULL)
			SELECT count(*) FROM e, LATERAL (
			  (SELECT $cols FROM dataproduct.as_of(NULL::$view, e.t) EXCEPT ALL $expected)
			  UNION ALL
			  ($expected EXCEPT ALL SELECT $cols FROM dataproduct.as_of(NULL::$view, e.t))) d});
		my $now = $node->safe_psql('postgres', qq{
			SELECT count(*) FROM (
			  (SELECT $cols FROM $view WHERE valid_to IS NULL EXCEPT ALL $query)
			  UNION ALL ($query EXCEPT ALL SELECT $cols FROM $view WHERE valid_to IS NULL)) d});
		diag("seed $i: $view: $r rows differ at $times times, $now now") if $r != 0 || $now != 0;
		$bad += $r + $now;
	}
	return ($bad, $times);
}

for my $phase ('commit timestamps', 'refresh times')
{
	my $by_refresh = $phase eq 'refresh times';
	if ($by_refresh)
	{
		$node->append_conf('postgresql.conf', 'track_commit_timestamp = off');
		$node->restart;
	}
	my ($mismatches, $points) = (0, 0);
	for my $j (1 .. $nseeds)
	{
		my $i = ($by_refresh ? 1000 : 0) + $j;
		srand($base + $i);
		my $s = setup($i);
		$node->safe_psql('postgres', workload($i, $s, $by_refresh));
		my ($bad, $times) = check($i, $s);
		$mismatches += $bad;
		$points += $times;
	}
	diag("$phase: $nseeds seeds, $points points in time checked, $mismatches mismatching rows");
	is($mismatches, 0, "$phase: as_of() equals the remembered states at every point checked");
	cmp_ok($points, '>', $nseeds * 10, "$phase: many points in time were checked");
}

# the ordinary output over the same table stayed exact
my $counts = $node->safe_psql('postgres', q{
	SELECT count(*) FROM dataproduct.output o WHERE NOT o.history
	   AND o.view::text LIKE 'h%.counts'});
is($counts, 2 * $nseeds, 'every seed has its ordinary output');
my $wrong = 0;
for my $j (1 .. $nseeds)
{
	for my $i ($j, 1000 + $j)
	{
		$node->safe_psql('postgres', "SELECT dataproduct.refresh('h$i.counts')");
		$wrong += $node->safe_psql('postgres', qq{
			SELECT count(*) FROM (
			  (SELECT * FROM h$i.counts EXCEPT ALL SELECT plan, count(*), sum(seats) FROM h${i}src.subs GROUP BY plan)
			  UNION ALL
			  (SELECT plan, count(*), sum(seats) FROM h${i}src.subs GROUP BY plan EXCEPT ALL SELECT * FROM h$i.counts)) d});
	}
}
is($wrong, 0, 'ordinary outputs over the tables of history outputs equal their queries');

$node->stop;
done_testing();
