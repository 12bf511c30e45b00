# pg_dump / pg_restore of a database with data products: declarations,
# output views, stores and lineage survive, and the restored products keep
# working (refresh, drop) because the catalog names the restored objects.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_dataproduct'\ndataproduct.enabled = off");
$node->start;

$node->safe_psql('postgres', q{
	CREATE ROLE media_team;
	CREATE ROLE money_team;
	CREATE ROLE analyst;
	CREATE DATABASE src;
	CREATE DATABASE dst;
});

$node->safe_psql('src', q{
	CREATE EXTENSION pg_dataproduct;
	CREATE SCHEMA sor;
	CREATE TABLE sor.tracks (track_id int PRIMARY KEY, genre text);
	CREATE TABLE sor.plays (play_id bigserial PRIMARY KEY, track_id int REFERENCES sor.tracks,
	                        ms int, at timestamptz);
	CREATE VIEW sor.long_plays AS SELECT * FROM sor.plays WHERE ms > 30000;
	INSERT INTO sor.tracks SELECT g, (ARRAY['rock','jazz','pop'])[1 + g % 3] FROM generate_series(1, 50) g;
	INSERT INTO sor.plays (track_id, ms, at)
	  SELECT 1 + g % 50, (g * 7919) % 240000, '2026-01-01'::timestamptz + g * interval '1 minute'
	    FROM generate_series(1, 3000) g;
	GRANT USAGE ON SCHEMA sor TO media_team, money_team;
	GRANT SELECT ON ALL TABLES IN SCHEMA sor TO media_team, money_team;

	SELECT dataproduct.create_domain('media', owner => 'media_team', description => 'Listening');
	SELECT dataproduct.create_domain('money', owner => 'money_team');
	SELECT dataproduct.create_product('media.plays', description => 'Plays per genre',
	       version => '1.2.0', tags => '{plays,genre}', contact => '#media');
	SELECT dataproduct.alter_product('media.plays', status => 'published');
	SELECT dataproduct.add_output('media.plays', 'by_genre',
	       'SELECT t.genre, count(*) AS plays, sum(p.ms) AS ms
	          FROM sor.plays p JOIN sor.tracks t USING (track_id) GROUP BY t.genre',
	       description => 'Plays and listening time per genre');
	SELECT dataproduct.add_output('media.plays', 'long_by_track',
	       'SELECT track_id, count(*) AS plays FROM sor.long_plays GROUP BY track_id');
});
# incrementally maintained outputs load in a transaction of their own
$node->safe_psql('src', q{
	SELECT dataproduct.refresh('media.by_genre');
	SELECT dataproduct.refresh('media.long_by_track');
	-- pending changes at dump time: captured, not yet applied
	UPDATE sor.plays SET ms = ms + 1 WHERE play_id % 100 = 0;
});
$node->safe_psql('src', q{
	GRANT USAGE ON SCHEMA media TO money_team, analyst;
	SET ROLE media_team;
	GRANT SELECT ON media.by_genre TO money_team, analyst;
	RESET ROLE;
	SELECT dataproduct.create_product('money.reports');
	SELECT dataproduct.add_output('money.reports', 'top_genre',
	       'SELECT genre FROM media.by_genre ORDER BY ms DESC LIMIT 1');
});

my $catalog_query = q{
	SELECT o.output::text, o.product, o.mode, o.status, o.row_count, o.description,
	       p.version, p.status, p.tags, p.owner
	  FROM dataproduct.outputs o JOIN dataproduct.products p ON p.product = o.product
	 ORDER BY 1};
my $lineage_query = q{
	SELECT output::text, source::text, source_kind, coalesce(via::text, '-'), depth
	  FROM dataproduct.lineage ORDER BY 1, 2};
my $data_query = q{
	SELECT 'g', genre, plays::text, ms::text FROM media.by_genre
	UNION ALL SELECT 't', track_id::text, plays::text, '' FROM media.long_by_track
	UNION ALL SELECT 'x', genre, '', '' FROM money.top_genre
	ORDER BY 1, 2};

my $catalog_before = $node->safe_psql('src', $catalog_query);
my $lineage_before = $node->safe_psql('src', $lineage_query);
my $data_before = $node->safe_psql('src', $data_query);
like($catalog_before, qr/media\.by_genre/, 'catalog lists the outputs');

my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', 'src', '-f', $dump ], 'pg_dump -Fc');
$node->command_ok([ 'pg_restore', '-d', 'dst', '--exit-on-error', $dump ], 'pg_restore');

is($node->safe_psql('dst', $catalog_query), $catalog_before, 'catalog restored');
is($node->safe_psql('dst', $lineage_query), $lineage_before, 'lineage restored');
is($node->safe_psql('dst', $data_query), $data_before, 'output data restored');
is($node->safe_psql('dst', q{
	SELECT count(*) FROM dataproduct.output o
	 WHERE NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = o.view)
	    OR NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = o.store)
	    OR NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = o.query_view)}),
	'0', 'every restored output names existing relations');
is($node->safe_psql('dst', q{
	SELECT obj_description('media.by_genre'::regclass, 'pg_class')}),
	"Plays and listening time per genre\n\n[pg_dataproduct]\nproduct: media.plays\n"
	  . "owner: media_team\nversion: 1.2.0\nstatus: published",
	'view comment restored, with the product block');
# consumers read the restored outputs without USAGE on the internal schema,
# which the restore gives back to the product owners only
is($node->safe_psql('dst', q{
	SELECT string_agg(r.rolname, ',' ORDER BY r.rolname) FROM pg_roles r
	 WHERE has_schema_privilege(r.oid, 'dataproduct_internal', 'USAGE') AND NOT r.rolsuper
	   AND r.rolname !~ '^pg_'}),
	$node->safe_psql('dst', q{
	SELECT string_agg(DISTINCT owner::regrole::text, ',' ORDER BY owner::regrole::text)
	  FROM dataproduct.product}),
	'USAGE on dataproduct_internal restored for product owners only');
is($node->safe_psql('dst', q{
	SET ROLE analyst;
	SELECT count(*) > 0 FROM media.by_genre}),
	't', 'a consumer reads a restored output');
is($node->safe_psql('dst', q{
	SELECT has_table_privilege('analyst', 'media.by_genre', 'SELECT')}),
	't', 'grants restored');

is($node->safe_psql('dst', q{
	SELECT string_agg(tgname || ':' || tgenabled::text, ',' ORDER BY tgname) FROM pg_trigger
	 WHERE tgrelid = 'sor.plays'::regclass AND tgname LIKE '\_\_dp%'}),
	'__dp_capture:A,__dp_capture_truncate:A', 'capture triggers restored, always enabled');

# the restored products keep working
$node->safe_psql('dst', q{
	INSERT INTO sor.tracks VALUES (51, 'ambient');
	INSERT INTO sor.plays (track_id, ms, at)
	  SELECT 51, 200000, now() FROM generate_series(1, 2000);
});
is($node->safe_psql('dst', q{SELECT dataproduct.refresh('media.by_genre')}), '3',
	'refresh after restore rebuilds: the genre of the pending update replaced, the new one added');
is($node->safe_psql('dst', q{
	SELECT count(*) FROM dataproduct_internal.source_1_log WHERE __dp_xid < pg_snapshot_xmin(
	   (SELECT snapshot FROM dataproduct.output WHERE view = 'media.by_genre'::regclass))}),
	'0', 'change-log rows of the dumped cluster are gone');
$node->safe_psql('dst', q{DELETE FROM sor.plays WHERE track_id = 51 AND play_id % 50 = 0});
is($node->safe_psql('dst', q{SELECT dataproduct.refresh('media.by_genre')}), '2',
	'incremental refresh after the rebuild: the genre replaced');
is($node->safe_psql('dst', q{SELECT dataproduct.refresh('money.top_genre')}), '2',
	'an output on an output follows');
is($node->safe_psql('dst', q{SELECT genre FROM money.top_genre}), 'ambient',
	'and shows the new data');
is($node->safe_psql('dst', q{
	SELECT (SELECT count(*) FROM (SELECT t.genre, count(*), sum(p.ms) FROM sor.plays p
	                        JOIN sor.tracks t USING (track_id) GROUP BY t.genre
	                      EXCEPT ALL SELECT * FROM media.by_genre) x)
	     + (SELECT count(*) FROM (SELECT * FROM media.by_genre EXCEPT ALL
	                        SELECT t.genre, count(*), sum(p.ms) FROM sor.plays p
	                        JOIN sor.tracks t USING (track_id) GROUP BY t.genre) y)}),
	'0', 'restored output equals its query after refresh');
# new declarations do not collide with restored ones (sequences restored)
$node->safe_psql('dst', q{
	SELECT dataproduct.add_output('media.plays', 'tracks', 'SELECT count(*) AS n FROM sor.tracks')});
$node->safe_psql('dst', q{SELECT dataproduct.refresh('media.tracks')});
is($node->safe_psql('dst', q{SELECT n FROM media.tracks}), '51', 'new output after restore');
$node->safe_psql('dst', q{SELECT dataproduct.drop_product('money.reports', cascade => true)});
is($node->safe_psql('dst', q{SELECT count(*) FROM dataproduct.outputs}), '3',
	'drop after restore updates the catalog');

# a plain-format dump restores through psql as well
my $plain = $node->basedir . '/src.sql';
$node->command_ok([ 'pg_dump', '-d', 'src', '-f', $plain ], 'pg_dump plain');
$node->safe_psql('postgres', 'CREATE DATABASE dst2');
$node->command_ok([ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-q', '-d', 'dst2', '-f', $plain ],
	'plain dump restores');
is($node->safe_psql('dst2', $data_query), $data_before, 'plain restore keeps the data');

$node->stop;
done_testing();
