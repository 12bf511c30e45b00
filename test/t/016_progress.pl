# Progress of long recomputations: while a full refresh or a first load
# runs, dataproduct.load_progress shows the output, the kind of
# recomputation and the rows its source tables have returned so far,
# growing towards their estimated total; once the statement is done, or
# cancelled, the output is no longer listed.  The loads are made slow by a
# function that sleeps for every row, so that they are watched while they
# run on a machine of any speed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('progress');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_dataproduct'
dataproduct.enabled = off
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_dataproduct;
	CREATE FUNCTION public.slow(v int) RETURNS int IMMUTABLE LANGUAGE plpgsql
	AS $$BEGIN PERFORM pg_catalog.pg_sleep(0.0002); RETURN v; END$$;
	CREATE TABLE public.big (id int PRIMARY KEY, k int, v int);
	INSERT INTO public.big SELECT g, g % 10, g FROM generate_series(1, 4000) g;
	CREATE TABLE public.dim (k int PRIMARY KEY, label text);
	INSERT INTO public.dim SELECT g, 'k' || g FROM generate_series(0, 9) g;
	ANALYZE public.big, public.dim;
	SELECT dataproduct.create_domain('prog');
	SELECT dataproduct.create_product('prog.p');
	SELECT dataproduct.add_output('prog.p', 'slow_full',
	       'SELECT d.label, count(*) AS n FROM public.big b JOIN public.dim d ON d.k = b.k
	         WHERE public.slow(b.v) > 0 GROUP BY d.label', refresh => 'full');
	SELECT dataproduct.add_output('prog.p', 'slow_incr',
	       'SELECT b.k, sum(public.slow(b.v)) AS s FROM public.big b GROUP BY b.k',
	       refresh => 'incremental');
});
is($node->safe_psql('postgres', q{SELECT count(*) FROM dataproduct.load_progress}),
	'0', 'nothing is recomputed before a refresh');

# Start "SELECT dataproduct.refresh(output)" in the background and sample
# load_progress until the refresh is done; returns the samples.
sub watch
{
	my ($output, $cancel_after) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr('postgres'),
		  '-c', 'SET client_min_messages = warning',
		  '-c', "SELECT dataproduct.refresh('$output')" ],
		'>', \$out, '2>', \$err);
	my @samples;
	for (my $i = 0; $i < 1200; $i++)
	{
		my $row = $node->safe_psql('postgres', qq{
			SELECT concat_ws('|', output, kind, rows_read, rows_total, percent, relations, pid)
			  FROM dataproduct.load_progress WHERE output = '$output'::regclass});
		push @samples, $row if $row ne '';
		last if $row eq '' && @samples > 0;
		if (defined $cancel_after && @samples >= $cancel_after)
		{
			my (undef, undef, undef, undef, undef, undef, $pid) = split /\|/, $samples[-1];
			$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
			$cancel_after = undef;
		}
		usleep(50_000);
	}
	$h->finish;
	return (\@samples, $out, $err);
}

# mid-load samples: 0 < rows_read < rows_total, never decreasing
sub check_samples
{
	my ($name, $samples, $kind, $total, $relations) = @_;
	my ($mid, $prev, $ordered, $shape) = (0, 0, 1, 1);
	for my $s (@$samples)
	{
		my ($out, $k, $read, $tot, $pct, $rels) = split /\|/, $s;
		$shape = 0 unless $k eq $kind && $tot == $total && $rels == $relations;
		$ordered = 0 if $read < $prev;
		$mid++ if $read > 0 && $read < $tot && $pct > 0 && $pct < 100;
		$prev = $read;
	}
	ok($shape, "$name: the kind, the estimated rows and the tables are shown")
	  or diag(join("\n", @$samples));
	ok($ordered, "$name: rows read never decrease") or diag(join("\n", @$samples));
	cmp_ok($mid, '>=', 3, "$name: rows read are shown while the load runs")
	  or diag(join("\n", @$samples));
}

my ($samples, $out, $err) = watch('prog.slow_full');
is($err, '', 'the full refresh succeeds');
check_samples('full refresh', $samples, 'full refresh', 4010, 2);
is($node->safe_psql('postgres', q{SELECT count(*) FROM dataproduct.load_progress}),
	'0', 'a finished recomputation is no longer listed');
is($node->safe_psql('postgres', q{SELECT sum(n) FROM prog.slow_full}), '4000',
	'the refreshed output is complete');

($samples, $out, $err) = watch('prog.slow_incr');
is($err, '', 'the first load succeeds');
check_samples('first load', $samples, 'first load', 4000, 1);

# a cancelled load leaves no entry behind
$node->safe_psql('postgres', q{TRUNCATE public.big});
$node->safe_psql('postgres', q{
	INSERT INTO public.big SELECT g, g % 10, g FROM generate_series(1, 4000) g;
	ANALYZE public.big});
($samples, $out, $err) = watch('prog.slow_incr', 2);
like($err, qr/canceling statement due to user request/, 'the rebuild was cancelled');
like($samples->[0], qr/^prog\.slow_incr\|rebuild\|/, 'a TRUNCATE makes the next refresh a rebuild');
is($node->safe_psql('postgres', q{SELECT count(*) FROM dataproduct.load_progress}),
	'0', 'a cancelled recomputation is no longer listed');

# the same backend recomputes again afterwards, and is shown again
($samples, $out, $err) = watch('prog.slow_full');
cmp_ok(scalar(@$samples), '>=', 3, 'a recomputation after a cancelled one is shown');

$node->stop;
done_testing();
