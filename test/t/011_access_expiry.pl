# Self-service access ends on its own: the scheduler revokes access whose
# until has passed, without any call, wakes for it (naptime is long here),
# records the end (status expired, ended_at, the worker's end_reason) and
# logs it; the REVOKE runs as the output view's owner, so the consumer can
# no longer read the output while other consumers keep their access.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('access_expiry');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_dataproduct'
dataproduct.naptime = 600000
max_worker_processes = 16
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE ROLE team;
	CREATE ROLE alice LOGIN IN ROLE team;
	CREATE ROLE bob LOGIN;
	CREATE ROLE carol LOGIN;
	CREATE EXTENSION pg_dataproduct;
	CREATE TABLE ev (id int, k int);
	INSERT INTO ev SELECT g, g % 3 FROM generate_series(1, 30) g;
	GRANT SELECT ON ev TO team;
	SELECT dataproduct.create_domain('x', owner => 'team');
	SELECT dataproduct.create_product('x.p');
	SELECT dataproduct.add_output('x.p', 'counts',
	       'SELECT k, count(*) AS n FROM public.ev GROUP BY k', refresh => 'full');
	SELECT dataproduct.alter_product('x.p', status => 'published');
});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'pg_dataproduct scheduler'}), 'the scheduler runs');

# bob asks for a few seconds of access, carol for access without an end
my $bob = $node->safe_psql('postgres', q{
	SET ROLE bob;
	SELECT dataproduct.request_access('x.p', 'a quick look', until => clock_timestamp() + interval '4 seconds')});
my $carol = $node->safe_psql('postgres', q{
	SET ROLE carol;
	SELECT dataproduct.request_access('x.counts', 'the monthly report')});
$node->safe_psql('postgres', qq{
	SET ROLE alice;
	SELECT dataproduct.approve_access($bob, 'for the demo');
	SELECT dataproduct.approve_access($carol);
});
is($node->safe_psql('postgres', q{SET ROLE bob; SELECT sum(n) FROM x.counts}), '30',
	'approved access reads the output');
is($node->safe_psql('postgres', q{
	SELECT string_agg(role || ':' || grounds, ',' ORDER BY role) FROM dataproduct.access}),
	'bob:request,carol:request,team:owner', 'dataproduct.access shows both grants');

# nothing calls the expiry: the worker must wake for it (naptime is ten minutes)
ok($node->poll_query_until('postgres', qq{
	SELECT status = 'expired' FROM dataproduct.access_request WHERE request_id = $bob}),
	'the worker expires the access on its own');
is($node->safe_psql('postgres', qq{
	SELECT ended_at IS NOT NULL AND ended_at >= until AND ended_by IS NULL,
	       end_reason
	  FROM dataproduct.access_requests WHERE request_id = $bob}),
	't|until passed: revoked by the background worker', 'and records when and by whom');
my ($ret, $stdout, $stderr) = $node->psql('postgres', q{SET ROLE bob; SELECT sum(n) FROM x.counts});
like($stderr, qr/permission denied for view counts/, 'bob may no longer read the output');
is($node->safe_psql('postgres', q{SET ROLE carol; SELECT sum(n) FROM x.counts}), '30',
	'carol, whose access has no end, still may');
is($node->safe_psql('postgres', q{
	SELECT string_agg(role || ':' || grounds, ',' ORDER BY role) FROM dataproduct.access}),
	'carol:request,team:owner', 'dataproduct.access follows');
is($node->safe_psql('postgres', q{
	SELECT a.grantor::regrole FROM pg_class c, aclexplode(c.relacl) a
	 WHERE c.oid = 'x.counts'::regclass AND a.grantee = 'carol'::regrole}),
	'team', 'grants are made by the view owner, not by a superuser');
ok($node->log_contains(qr/access request $bob of role "bob" expired; SELECT revoked on 1 output/),
	'the expiry is logged');

# a pending request whose end passes expires too, and the worker keeps going
my $late = $node->safe_psql('postgres', q{
	SET ROLE bob;
	SELECT dataproduct.request_access('x.p', 'again', until => clock_timestamp() + interval '2 seconds')});
ok($node->poll_query_until('postgres', qq{
	SELECT status = 'expired' AND end_reason = 'until passed before a decision'
	  FROM dataproduct.access_request WHERE request_id = $late}),
	'a pending request expires before a decision');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity
	WHERE backend_type = 'pg_dataproduct scheduler'}), '1', 'the scheduler is still there');

$node->stop;
done_testing();
