# The background worker and a restore in progress.
#
# A restore creates the grants the products' owners need, and the capture
# triggers, only at its end; the outputs' catalog rows arrive with the data,
# earlier.  While a pg_restore session is connected the worker holds the
# restored outputs back; a restore it cannot see (a plain dump through psql)
# may make their refreshes fail for want of a privilege, and such failures
# are deferred, not recorded.  Either way the products never show as
# failing, and once the restore is complete the worker rebuilds them.
#
# To hold a restore in the middle, a table whose index sorts first in the
# dump's post-data section is locked: the restore waits there, connected,
# with the outputs' rows restored and no grants yet.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('restore_worker');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_dataproduct'
dataproduct.naptime = 200
max_worker_processes = 16
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE ROLE team;
	CREATE DATABASE src;
});
$node->safe_psql('src', q{
	CREATE EXTENSION pg_dataproduct;
	CREATE SCHEMA aaa;
	CREATE TABLE aaa.blocker (id int PRIMARY KEY);
	CREATE SCHEMA sor;
	CREATE TABLE sor.ev (id int PRIMARY KEY, k int, v int);
	INSERT INTO sor.ev SELECT g, g % 4, g FROM generate_series(1, 400) g;
	GRANT USAGE ON SCHEMA sor TO team;
	GRANT SELECT ON sor.ev TO team;
	SELECT dataproduct.create_domain('rs', owner => 'team');
	SELECT dataproduct.create_product('rs.p');
	SELECT dataproduct.add_output('rs.p', 'sums', 'SELECT k, sum(v) AS v, count(*) AS n FROM sor.ev GROUP BY k');
	SELECT dataproduct.add_output('rs.p', 'total', 'SELECT sum(v) AS v FROM sor.ev', refresh => 'full');
});
ok($node->poll_query_until('src', q{SELECT count(*) = 2 FROM dataproduct.outputs WHERE status = 'ok'}),
	'the worker loads the outputs');
# changes captured but not applied at dump time
$node->safe_psql('src', q{SELECT dataproduct.alter_output('rs.sums', min_interval => '1 hour')});
$node->safe_psql('src', q{UPDATE sor.ev SET v = v + 1000 WHERE id <= 10});

my $dump = $node->basedir . '/src.dump';
my $plain = $node->basedir . '/src.sql';
$node->command_ok([ 'pg_dump', '-Fc', '-d', 'src', '-f', $dump ], 'pg_dump -Fc');
$node->command_ok([ 'pg_dump', '-d', 'src', '-f', $plain ], 'pg_dump plain');

my $exact = q{
	SELECT (SELECT count(*) FROM ((SELECT k, sum(v), count(*) FROM sor.ev GROUP BY k
	                               EXCEPT ALL SELECT * FROM rs.sums)
	                              UNION ALL (SELECT * FROM rs.sums EXCEPT ALL
	                               SELECT k, sum(v), count(*) FROM sor.ev GROUP BY k)) d) = 0
	   AND (SELECT v FROM rs.total) = (SELECT sum(v) FROM sor.ev)};
my $origin = q{((SELECT system_identifier FROM pg_control_system())::text
	|| ':' || (SELECT oid FROM pg_database WHERE datname = current_database())::text)};
my $no_failures = q{
	SELECT (SELECT count(*) FROM dataproduct.output WHERE failures > 0 OR last_error IS NOT NULL)
	     + (SELECT count(*) FROM dataproduct.products WHERE health = 'failing')};

# a session to lock the blocker in the target database, once it exists,
# keeping its transaction open; named as the restore's own sessions are,
# standing in for them when the restore is run in parts
sub blocker_session
{
	my ($db, $name) = @_;
	my $in = "SELECT 'connected';\n";
	my $out = '';
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
		  '-d', $node->connstr($db) . " application_name=$name" ],
		'<', \$in, '>', \$out, '2>', \my $err);
	IPC::Run::pump($h) until $out =~ /connected/ || !$h->pumpable;
	return { h => $h, in => \$in, out => \$out };
}

sub hold_blocker
{
	my ($s) = @_;
	${ $s->{in} } .= "BEGIN;\nLOCK TABLE aaa.blocker IN ACCESS EXCLUSIVE MODE;\nSELECT 'locked';\n";
	IPC::Run::pump($s->{h}) until ${ $s->{out} } =~ /locked/ || !$s->{h}->pumpable;
}

sub release_blocker
{
	my ($s) = @_;
	${ $s->{in} } .= "COMMIT;\n";
	$s->{h}->finish;
}

# a local output declared while the restore waits: the worker's rounds go on
sub local_output_loads
{
	my ($db) = @_;
	$node->safe_psql($db, q{
		CREATE TABLE public.here (x int);
		INSERT INTO public.here VALUES (1), (2);
		SELECT dataproduct.create_domain('loc');
		SELECT dataproduct.create_product('loc.p');
		SELECT dataproduct.add_output('loc.p', 'n', 'SELECT count(*) AS n FROM public.here');
	});
	return $node->poll_query_until($db, q{
		SELECT count(*) > 0 FROM dataproduct.refresh_history h JOIN dataproduct.output o USING (output_id)
		 WHERE o.view = 'loc.n'::regclass AND h.by_worker AND h.error IS NULL});
}

# ---- pg_restore: held while it is connected
#
# In two runs, as one run orders it: everything before the post-data section
# but the grants, then the post-data section and, last, the grants.  The
# second run is held at its first entry.
my @toc = split /\n/, `pg_restore -l $dump`;
my $post = 0;
my (@first, @second);
foreach my $line (@toc)
{
	next if $line =~ /^;/ || $line !~ /\S/;
	$post = 1 if $line =~ / (CONSTRAINT|INDEX|TRIGGER|FK CONSTRAINT) /;
	if ($post || $line =~ / ACL /) { push @second, $line; } else { push @first, $line; }
}
my ($first_list, $second_list) = map { $node->basedir . "/$_.list" } qw(first second);
open(my $fl, '>', $first_list) or die;
print $fl join("\n", @first), "\n";
close($fl);
open(my $sl, '>', $second_list) or die;
print $sl join("\n", @second), "\n";
close($sl);
my ($first_post) = grep { !/ ACL / } @second;
like($first_post, qr/CONSTRAINT aaa blocker blocker_pkey/, 'the post-data section starts with the blocker');

$node->safe_psql('postgres', 'CREATE DATABASE dst');
my $locker = blocker_session('dst', 'pg_restore');
{
	delete local $ENV{PGAPPNAME};
	$node->command_ok([ 'pg_restore', '-d', 'dst', '--exit-on-error', '-L', $first_list, $dump ],
		'pg_restore: schema and data, no grants');
}
# (the dumped output was debounced to keep its change pending: no longer)
$node->safe_psql('dst', q{SELECT dataproduct.alter_output('rs.sums', min_interval => '0')});
hold_blocker($locker);
my $restore;
{
	# pg_restore names its sessions "pg_restore" unless PGAPPNAME says otherwise
	delete local $ENV{PGAPPNAME};
	$restore = IPC::Run::start(
		[ 'pg_restore', '-d', $node->connstr('dst'), '--exit-on-error', '-L', $second_list, $dump ],
		'>', \my $rout, '2>', \my $rerr);
}
ok($node->poll_query_until('dst', q{SELECT count(*) > 0 FROM pg_stat_activity
	WHERE datname = 'dst' AND application_name = 'pg_restore' AND wait_event_type = 'Lock'}),
	'pg_restore waits in its post-data section');
ok(local_output_loads('dst'), 'the worker refreshes a local output meanwhile');
is($node->safe_psql('dst', qq{SELECT count(*) FROM dataproduct.output
	WHERE origin IS DISTINCT FROM $origin AND view <> 'loc.n'::regclass}),
	'2', 'the restored outputs are held back');
is($node->safe_psql('dst', $no_failures), '0', 'no failure recorded while pg_restore runs');
is($node->safe_psql('dst', q{SELECT count(*) FROM dataproduct.refresh_history
	WHERE started_at > now() - interval '1 hour' AND error IS NOT NULL}),
	'0', 'no failed refresh in the history');

release_blocker($locker);
$restore->finish;
is($?, 0, 'pg_restore completes');
ok($node->poll_query_until('dst', qq{SELECT count(*) = 0 FROM dataproduct.output
	WHERE origin IS DISTINCT FROM $origin}),
	'once it is complete, the worker rebuilds the restored outputs');
ok($node->poll_query_until('dst', $exact), 'which equal their queries');
is($node->safe_psql('dst', $no_failures), '0', 'with no failure recorded');

# ---- a plain dump through psql: failures deferred, not recorded
$node->safe_psql('postgres', 'CREATE DATABASE dst2');
my $locker2;
my $psql_in = '';
{
	# the plain dump up to (not including) its post-data section, then the rest
	open(my $fh, '<', $plain) or die "cannot read $plain: $!";
	my $sql = do { local $/; <$fh> };
	close($fh);
	# (psql's restricted mode of recent pg_dump output spans the whole file)
	$sql =~ s/^\\(un)?restrict .*\n//mg;
	my $cut = index($sql, "\n--\n-- Name: blocker blocker_pkey;");
	die "post-data section not found in the plain dump" if $cut < 0;
	my $head = substr($sql, 0, $cut);
	$psql_in = substr($sql, $cut);
	my $head_file = $node->basedir . '/head.sql';
	open(my $hf, '>', $head_file) or die;
	print $hf $head;
	close($hf);
	$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'dst2', '-f', $head_file ],
		'psql: schema and data of the plain dump');
	$node->safe_psql('dst2', q{SELECT dataproduct.alter_output('rs.sums', min_interval => '0')});
}
$locker2 = blocker_session('dst2', 'psql');
hold_blocker($locker2);
my $rest = IPC::Run::start(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('dst2') ],
	'<', \$psql_in, '>', \my $pout, '2>', \my $perr);
ok($node->poll_query_until('dst2', q{SELECT count(*) > 0 FROM dataproduct.refresh_history
	WHERE error LIKE 'deferred until the restore is complete: permission denied%'}),
	'psql: a refresh failing for want of a grant is deferred');
is($node->safe_psql('dst2', $no_failures), '0', 'and not recorded as a failure');
release_blocker($locker2);
$rest->finish;
is($?, 0, 'the plain restore completes') or diag($perr);
ok($node->poll_query_until('dst2', qq{SELECT count(*) = 0 FROM dataproduct.output
	WHERE origin IS DISTINCT FROM $origin}),
	'then the worker rebuilds the restored outputs');
ok($node->poll_query_until('dst2', $exact), 'which equal their queries');
is($node->safe_psql('dst2', $no_failures), '0', 'with no failure recorded');

$node->stop;
done_testing();
