# Randomized differential test of incremental maintenance.
#
# For every supported query shape, an incrementally maintained output is
# declared over NULL-heavy sources; then, round after round, random INSERT,
# UPDATE, DELETE and sometimes TRUNCATE hit the sources (part of them from a
# concurrent session while outputs refresh), every output is refreshed, and
# each must equal its query recomputed from scratch: EXCEPT ALL both ways.
# Then, with the worker off, each output and a twin of it refreshed in full
# are refreshed after the same writes: both must return the same count (the
# output's rows deleted plus inserted).
#
# The seed is printed; rerun a failure with DP_SEED=<seed>.  DP_ROUNDS sets
# the number of rounds.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $seed = $ENV{DP_SEED} // (time() ^ $$);
my $rounds = $ENV{DP_ROUNDS} // 12;
srand($seed);
diag("differential test seed: $seed (rerun with DP_SEED=$seed)");

my $node = PostgreSQL::Test::Cluster->new('differential');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_dataproduct'");
# refreshes here are explicit (the worker is tested in 004): a refresh of every
# output in one statement must not race the worker's own
$node->append_conf('postgresql.conf', "dataproduct.enabled = off");
# apply every batch incrementally, however large (rebuilds are tested elsewhere)
$node->append_conf('postgresql.conf', "dataproduct.full_refresh_fraction = -1");
$node->append_conf("postgresql.conf", "log_min_messages = debug1") if $ENV{DP_DEBUG};
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_dataproduct;
	CREATE SCHEMA src;
	CREATE TABLE src.f (id int PRIMARY KEY, a int, b int, g text, x numeric, t timestamptz);
	CREATE TABLE src.d (k int PRIMARY KEY, name text, cat text);
	CREATE TABLE src.e (cat text, weight int);
	CREATE TABLE src.p (k int, v int, at date) PARTITION BY RANGE (at);
	CREATE TABLE src.p1 PARTITION OF src.p FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
	CREATE TABLE src.p2 PARTITION OF src.p FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
	CREATE VIEW src.v AS SELECT id, a, g, x FROM src.f WHERE a IS NOT NULL;
	CREATE VIEW src.vv AS SELECT v.g, d.name FROM src.v JOIN src.d ON d.k = v.a;
	SELECT dataproduct.create_domain('dt');
	SELECT dataproduct.create_product('dt.shapes');
	SELECT dataproduct.create_product('dt.derived');
	SELECT dataproduct.create_product('dt.twins');
});

# name => query; all must be maintained incrementally
my @shapes = (
	[ 'projection', 'SELECT a, b FROM src.f WHERE x > 10' ],
	[ 'distinct_rows', 'SELECT DISTINCT g, b FROM src.f' ],
	[ 'algebraic', 'SELECT g, count(*) AS n, count(b) AS nb, sum(x) AS sx, avg(x) AS ax, sum(a) AS sa, avg(a) AS aa FROM src.f GROUP BY g' ],
	[ 'global', 'SELECT count(*) AS n, sum(a) AS sa, min(x) AS mn, max(g) AS mx, avg(b) AS ab FROM src.f' ],
	[ 'join2', 'SELECT f.g, d.name, count(*) AS n, sum(f.x) AS sx FROM src.f JOIN src.d ON d.k = f.b GROUP BY f.g, d.name' ],
	[ 'join3', 'SELECT e.cat, count(*) AS n, sum(e.weight * f.a) AS w FROM src.f JOIN src.d ON d.k = f.b JOIN src.e ON e.cat = d.cat GROUP BY e.cat' ],
	[ 'minmax', 'SELECT b, min(x) AS mn, max(a) AS mx, min(g) AS mg, count(*) AS n FROM src.f GROUP BY b' ],
	[ 'others', q{SELECT b, count(DISTINCT a) AS da, string_agg(g, ',' ORDER BY g, id) AS gs, bool_and(a > 0) AS pos FROM src.f GROUP BY b} ],
	[ 'percentile', 'SELECT g, percentile_cont(0.5) WITHIN GROUP (ORDER BY x) AS med, count(*) AS n FROM src.f GROUP BY g' ],
	[ 'having_filter', 'SELECT g, sum(x) AS sx FROM src.f GROUP BY g HAVING count(*) > 3' ],
	[ 'via_views', 'SELECT g, name, count(*) AS n FROM src.vv GROUP BY g, name' ],
	[ 'partitioned', 'SELECT k, sum(v) AS sv, count(*) AS n FROM src.p GROUP BY k' ],
	[ 'expr_keys', 'SELECT a % 3 AS m, g IS NULL AS gnull, (t AT TIME ZONE \'UTC\')::date AS day, count(*) AS n FROM src.f GROUP BY 1, 2, 3' ],
	[ 'filters', 'SELECT g, count(*) FILTER (WHERE a > 5) AS big, sum(x) FILTER (WHERE b IS NULL) AS sxn, min(a) FILTER (WHERE x < 50) AS ma FROM src.f GROUP BY g' ],
	[ 'selfjoin', 'SELECT f1.g, count(*) AS n FROM src.f f1 JOIN src.f f2 ON f1.b = f2.a GROUP BY f1.g' ],
	[ 'join_rows', 'SELECT f.a, d.name, d.cat FROM src.f JOIN src.d ON d.k = f.b WHERE f.a < 8' ],
	[ 'dependent', 'SELECT d.k, d.name, count(f.id) AS n FROM src.d JOIN src.f ON f.b = d.k GROUP BY d.k' ],
	[ 'date_trunc', q{SELECT date_trunc('day', t) AS day, count(*) AS n, sum(x) AS sx FROM src.f GROUP BY 1} ],
	[ 'lateral_rows', 'SELECT f.g, s.i, count(*) AS n FROM src.f, LATERAL generate_series(1, f.b) s(i) GROUP BY 1, 2' ],
	[ 'with_values', q{SELECT v.label, count(*) AS n FROM src.f JOIN (VALUES (1, 'one'), (2, 'two'), (NULL, 'none')) v(k, label) ON v.k = f.b GROUP BY v.label} ],
);
my @derived = (
	[ 'on_output', 'SELECT g, n FROM dt.algebraic WHERE n > 2' ],
	[ 'on_output_agg', 'SELECT count(*) AS groups, sum(n) AS rows FROM dt.minmax' ],
	[ 'on_plain_output', 'SELECT name, count(*) AS n, sum(a) AS sa FROM dt.join_rows GROUP BY name' ],
);

sub random_writes
{
	my ($n) = @_;
	my @sql;
	for (1 .. $n)
	{
		my $r = rand();
		my $id = int(rand(400));
		my $a = rand() < 0.2 ? 'NULL' : int(rand(12));
		my $b = rand() < 0.25 ? 'NULL' : int(rand(10));
		my $g = rand() < 0.2 ? 'NULL' : "'g" . int(rand(6)) . "'";
		my $x = rand() < 0.15 ? 'NULL' : sprintf('%.2f', rand(100));
		my $t = "'2026-01-01 00:00+00'::timestamptz + interval '" . int(rand(96)) . " hours'";
		if ($r < 0.45)
		{
			push @sql, "INSERT INTO src.f VALUES ($id, $a, $b, $g, $x, $t) ON CONFLICT (id) DO UPDATE SET a = EXCLUDED.a, x = EXCLUDED.x";
		}
		elsif ($r < 0.65)
		{
			push @sql, "UPDATE src.f SET a = $a, g = $g WHERE id % 17 = " . int(rand(17));
		}
		elsif ($r < 0.8)
		{
			push @sql, "DELETE FROM src.f WHERE id % 23 = " . int(rand(23));
		}
		elsif ($r < 0.87)
		{
			my $k = int(rand(10));
			my $name = rand() < 0.2 ? 'NULL' : "'n" . int(rand(4)) . "'";
			my $cat = rand() < 0.2 ? 'NULL' : "'c" . int(rand(3)) . "'";
			push @sql, "INSERT INTO src.d VALUES ($k, $name, $cat) ON CONFLICT (k) DO UPDATE SET name = EXCLUDED.name, cat = EXCLUDED.cat";
		}
		elsif ($r < 0.92)
		{
			my $cat = rand() < 0.2 ? 'NULL' : "'c" . int(rand(3)) . "'";
			push @sql, rand() < 0.5
			  ? "INSERT INTO src.e VALUES ($cat, " . int(rand(5)) . ")"
			  : "DELETE FROM src.e WHERE ctid IN (SELECT ctid FROM src.e LIMIT 1)";
		}
		else
		{
			my $day = sprintf('2026-%02d-%02d', 1 + int(rand(2)), 1 + int(rand(28)));
			push @sql, rand() < 0.7
			  ? "INSERT INTO src.p VALUES (" . int(rand(5)) . ", " . int(rand(100)) . ", '$day')"
			  : "DELETE FROM src.p WHERE k = " . int(rand(5)) . " AND v % 3 = 0";
		}
	}
	return join(";\n", @sql) . ";\n";
}

# initial data
$node->safe_psql('postgres', random_writes(600));

foreach my $shape (@shapes)
{
	my ($name, $query) = @$shape;
	my $out = $node->safe_psql('postgres',
		"SELECT dataproduct.add_output('dt.shapes', '$name', \$q\$$query\$q\$, refresh => 'incremental')");
	is($out, "dt.$name", "declared $name incrementally");
}
$node->safe_psql('postgres', "SELECT dataproduct.refresh(output) FROM dataproduct.outputs WHERE product = 'dt.shapes' ORDER BY output::text");
foreach my $shape (@derived)
{
	my ($name, $query) = @$shape;
	$node->safe_psql('postgres',
		"SELECT dataproduct.add_output('dt.derived', '$name', \$q\$$query\$q\$, refresh => 'incremental')");
	$node->safe_psql('postgres', "SELECT dataproduct.refresh('dt.$name')");
}

is($node->safe_psql('postgres', "SELECT count(*) FROM dataproduct.outputs WHERE mode <> 'incremental'"),
	'0', 'every shape is maintained incrementally');

# the twins, refreshed in full
foreach my $shape (@shapes, @derived)
{
	my ($name, $query) = @$shape;
	$node->safe_psql('postgres',
		"SELECT dataproduct.add_output('dt.twins', 'full_$name', \$q\$$query\$q\$, refresh => 'full')");
}
my $refresh_twins = join(";\n",
	map { "SELECT dataproduct.refresh('dt.full_$_->[0]')" } (@shapes, @derived)) . ";\n";

# refresh every output and its twin; both must have changed as many rows
sub refresh_and_compare
{
	my ($label) = @_;
	foreach my $shape (@shapes, @derived)
	{
		my $name = $shape->[0];
		my $counts = $node->safe_psql('postgres',
			"SELECT dataproduct.refresh('dt.$name') || ' / ' || dataproduct.refresh('dt.full_$name')");
		my ($inc, $full) = split(/ \/ /, $counts);
		is($inc, $full, "$label: $name returns the count of its full twin");
	}
}

my $refresh_all = join(";\n",
	(map { "SELECT dataproduct.refresh('dt.$_->[0]')" } @shapes),
	(map { "SELECT dataproduct.refresh('dt.$_->[0]')" } @derived)) . ";\n";

sub check_all
{
	my ($label) = @_;
	foreach my $shape (@shapes, @derived)
	{
		my ($name, $query) = @$shape;
		my $diff = $node->safe_psql('postgres', qq{
			SELECT (SELECT count(*) FROM (($query) EXCEPT ALL SELECT * FROM dt.$name) m)
			    || ' missing, ' ||
			       (SELECT count(*) FROM (SELECT * FROM dt.$name EXCEPT ALL ($query)) x)
			    || ' extra'});
		is($diff, '0 missing, 0 extra', "$label: $name equals its query");
	}
}

check_all('initial load');

for my $round (1 .. $rounds)
{
	my $concurrent = ($round % 3 == 0);
	my ($writer, $wout, $werr);
	if ($concurrent)
	{
		# writes from another session while refreshes run
		my $sql = random_writes(80);
		$sql =~ s/;\n/; SELECT pg_sleep(0.005);\n/g;
		$writer = IPC::Run::start(
			[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres') ],
			'<', \$sql, '>', \$wout, '2>', \$werr);
		$node->safe_psql('postgres', $refresh_all) for 1 .. 3;
		$writer->finish;
		is($?, 0, "round $round: concurrent writer finished") or diag($werr);
	}
	my $writes = random_writes(30 + int(rand(60)));
	$writes .= "TRUNCATE src.e;\n" if rand() < 0.08;
	$writes .= "TRUNCATE src.p2;\n" if rand() < 0.08;
	$node->safe_psql('postgres', "BEGIN;\n$writes COMMIT;");
	$node->safe_psql('postgres', $refresh_all);
	check_all("round $round" . ($concurrent ? ' (concurrent)' : ''));
}

# what refreshes return, without the worker refreshing behind our back
$node->safe_psql('postgres', 'ALTER SYSTEM SET dataproduct.enabled = off');
$node->reload;
# (the scheduler exits, and its refresh workers end)
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity"
	  . " WHERE backend_type IN ('pg_dataproduct scheduler', 'pg_dataproduct refresh')")
  or die "the scheduler did not stop";
$node->safe_psql('postgres', $refresh_all . $refresh_twins);
for my $round (1 .. 1 + int($rounds / 2))
{
	my $writes = random_writes(5 + int(rand(40)));
	$writes .= "TRUNCATE src.e;\n" if rand() < 0.15;
	$node->safe_psql('postgres', "BEGIN;\n$writes COMMIT;");
	refresh_and_compare("counts $round");
	check_all("counts $round");
}

# the change logs do not grow without bound: every consumer is up to date
is($node->safe_psql('postgres', q{
	SELECT sum((SELECT count(*) FROM dataproduct_internal.source_1_log))}),
	'0', 'change log trimmed once every consumer applied it');

$node->stop;
done_testing();
