# Partitions of captured tables across the upgrade from 0.1.0 to 0.2.0.
#
# Under 0.1.0 only a superuser could create a partition of a captured table
# (PostgreSQL checks EXECUTE on dataproduct.capture() when it clones the row
# trigger), and the partition got no TRUNCATE capture trigger.  The update
# gives such partitions their TRUNCATE trigger, and the table's owner can
# then create and attach partitions, fully captured.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade_partitions');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_dataproduct'\ndataproduct.enabled = off");
$node->start;

my $same = q{
	SELECT count(*) FROM ((SELECT kind, count(*) FROM sor.events GROUP BY kind
	                       EXCEPT ALL SELECT * FROM dp.kinds)
	                      UNION ALL
	                      (SELECT * FROM dp.kinds
	                       EXCEPT ALL SELECT kind, count(*) FROM sor.events GROUP BY kind)) d};
my $truncate_triggers = q{
	SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
	 WHERE t.tgname = '__dp_capture_truncate' AND t.tgenabled = 'A'};

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_dataproduct VERSION '0.1.0';
	CREATE ROLE events_owner LOGIN;
	GRANT CREATE ON DATABASE postgres TO events_owner;
	SET ROLE events_owner;
	CREATE SCHEMA sor;
	CREATE TABLE sor.events (at date, kind text) PARTITION BY RANGE (at);
	CREATE TABLE sor.events_01 PARTITION OF sor.events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
	INSERT INTO sor.events VALUES ('2026-01-01', 'a'), ('2026-01-02', 'b');
	SELECT dataproduct.create_domain('dp');
	SELECT dataproduct.create_product('dp.p');
	SELECT dataproduct.add_output('dp.p', 'kinds', 'SELECT kind, count(*) AS n FROM sor.events GROUP BY kind');
});
$node->safe_psql('postgres', q{SELECT dataproduct.refresh('dp.kinds')});

# under 0.1.0: the owner cannot create a partition, a superuser can
my ($ret, $out, $err) = $node->psql('postgres', q{
	SET ROLE events_owner;
	CREATE TABLE sor.events_02 PARTITION OF sor.events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')});
like($err, qr/permission denied for function/, '0.1.0: the owner may not create a partition');
$node->safe_psql('postgres', q{
	CREATE TABLE sor.events_02 PARTITION OF sor.events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
	INSERT INTO sor.events VALUES ('2026-02-01', 'a');
});
is($node->safe_psql('postgres', $truncate_triggers), 'events,events_01',
	'0.1.0: a partition created later lacks the TRUNCATE trigger');

$node->safe_psql('postgres', q{ALTER EXTENSION pg_dataproduct UPDATE TO '0.2.0'});
is($node->safe_psql('postgres', $truncate_triggers), 'events,events_01,events_02',
	'the update gives it the TRUNCATE trigger');
$node->safe_psql('postgres', q{SELECT dataproduct.refresh('dp.kinds')});
is($node->safe_psql('postgres', $same), '0', 'output exact after the update');

# TRUNCATE of that partition alone is seen now
$node->safe_psql('postgres', q{TRUNCATE sor.events_02});
$node->safe_psql('postgres', q{SELECT dataproduct.refresh('dp.kinds')});
is($node->safe_psql('postgres', $same), '0', 'TRUNCATE of the old partition alone reaches the output');

# and the owner creates and attaches partitions, captured in full
$node->safe_psql('postgres', q{
	SET ROLE events_owner;
	CREATE TABLE sor.events_03 PARTITION OF sor.events FOR VALUES FROM ('2026-03-01') TO ('2026-04-01');
	CREATE TABLE sor.events_04 (at date, kind text);
	INSERT INTO sor.events_04 VALUES ('2026-04-01', 'c');
	ALTER TABLE sor.events ATTACH PARTITION sor.events_04 FOR VALUES FROM ('2026-04-01') TO ('2026-05-01');
	INSERT INTO sor.events VALUES ('2026-03-01', 'c'), ('2026-04-02', 'a');
});
is($node->safe_psql('postgres', $truncate_triggers), 'events,events_01,events_02,events_03,events_04',
	'partitions created and attached by the owner get the TRUNCATE trigger');
$node->safe_psql('postgres', q{SELECT dataproduct.refresh('dp.kinds')});
is($node->safe_psql('postgres', $same), '0', 'their rows reach the output');
$node->safe_psql('postgres', q{SET ROLE events_owner; TRUNCATE sor.events_03});
$node->safe_psql('postgres', q{SELECT dataproduct.refresh('dp.kinds')});
is($node->safe_psql('postgres', $same), '0', 'TRUNCATE of a new partition alone reaches the output');

$node->stop;
done_testing();
