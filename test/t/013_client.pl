# The client program pg_dataproduct, installed by make install into the
# bindir of the PG_CONFIG in use, run against a preloaded node:
# - command line: --help, --version, bad usage (exit 2), connection options
#   as psql takes them (-h -p -d, PG* environment, conninfo string, URI),
#   connection failure (exit 1, message on stderr);
# - lineage as DOT and Mermaid: every edge (source -> output, table -> view
#   it is read through, output -> output across products), products as
#   clusters, names with quotes, spaces and angle brackets quoted safely;
# - apply and export against a stub schema (a database without the
#   extension whose dataproduct.apply() records the documents it gets):
#   YAML 1.2 core-schema typing of scalars, multi-document files,
#   directories, JSON files, errors with file, line and column, dry run and
#   one transaction for all documents, the flags passed as parameters;
#   export written as YAML that reads back as the same document;
# - apply and export end to end when the extension has them: the exported
#   descriptor applies as all unchanged, a dry run of a change plans it and
#   changes nothing, the change applies, applying again is all unchanged;
# - docs: the page written, self-contained, every catalog value escaped,
#   then opened in headless chromium, whose DOM must show the products,
#   owners, columns, checks with their latest results, freshness and the
#   lineage picture as SVG boxes.
use strict;
use warnings;
use File::Temp;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# the installed program, from the bindir of the PostgreSQL under test
my $pg_config = $ENV{PG_CONFIG} || 'pg_config';
my $bindir = `$pg_config --bindir`;
chomp $bindir;
my $client = "$bindir/pg_dataproduct";
ok(-x $client, "pg_dataproduct is installed in $bindir");

my $node = PostgreSQL::Test::Cluster->new('client');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pg_dataproduct'\ndataproduct.enabled = off");
$node->start;

my $host = $node->host;
my $port = $node->port;
my @conn = ('-h', $host, '-p', $port, '-d', 'postgres');

# run the client; returns (exit code, stdout, stderr)
sub client
{
	my @args = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ $client, @args ], '>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return ($? >> 8, $out, $err);
}

# ---------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------
program_help_ok($client);
program_version_ok($client);
program_options_handling_ok($client);
{
	my ($rc, $out, $err) = client('--help');
	like($out, qr/^Usage:/m, '--help shows the usage');
	like($out, qr/(?<![\w-])\Q$_\E(?![\w-])/, "--help names $_")
	  foreach qw(apply export lineage docs --dry-run --drop-missing --format --out
	  --host --port --username --dbname);
	($rc, $out) = client('--version');
	like($out, qr/^pg_dataproduct \(pg_dataproduct\) \d+\.\d+\.\d+$/m, '--version');
}
foreach my $bad (
	[ [], qr/no command given/, 'no command' ],
	[ ['frobnicate'], qr/unknown command "frobnicate"/, 'unknown command' ],
	[ [ '--frob', 'lineage' ], qr/unrecognized option "--frob"/, 'unknown long option' ],
	[ [ '-Z', 'lineage' ], qr/invalid option/, 'unknown short option' ],
	[ ['apply'], qr/apply needs a descriptor FILE or DIR/, 'apply without files' ],
	[ ['export'], qr/export needs exactly one PRODUCT/, 'export without product' ],
	[ [ 'export', 'a.b', '--format', 'xml' ], qr/odcs or odps/, 'export format' ],
	[ [ 'lineage', '--format', 'png' ], qr/dot or mermaid/, 'lineage format' ],
	[ [ 'lineage', 'extra' ], qr/unexpected argument "extra"/, 'lineage argument' ],
	[ ['docs'], qr/docs needs --out DIR/, 'docs without --out' ],
	[ [ 'lineage', '--dry-run' ], qr/belong to apply/, '--dry-run outside apply' ],
	[ [ 'lineage', '-p' ], qr/requires an argument/, 'option without its argument' ])
{
	my ($args, $re, $what) = @$bad;
	my ($rc, $out, $err) = client(@$args);
	is($rc, 2, "bad usage exits 2: $what");
	like($err, $re, "bad usage says why: $what");
	like($err, qr/Try "pg_dataproduct --help"/, "bad usage points to --help: $what");
	is($out, '', "bad usage writes nothing on stdout: $what");
}
{
	my ($rc, $out, $err) = client('lineage', '-h', '/nonexistent/socket/dir', '-p', $port);
	is($rc, 1, 'connection failure exits 1');
	like($err, qr/^pg_dataproduct: error: connection to server .*failed/m,
		'connection failure: the libpq message on stderr');
	is($out, '', 'connection failure: nothing on stdout');
}

# ---------------------------------------------------------------------
# a catalog: two products, an output reading another product's output, a
# view between a table and an output, names that need quoting, checks
# ---------------------------------------------------------------------
$node->safe_psql('postgres', q{
	CREATE ROLE media_team;
	CREATE ROLE "odd ""team""";
	CREATE EXTENSION pg_dataproduct;
	CREATE SCHEMA sor;
	CREATE TABLE sor.tracks (track_id int PRIMARY KEY, genre text NOT NULL);
	CREATE TABLE sor.plays (play_id bigserial PRIMARY KEY, track_id int REFERENCES sor.tracks, ms int);
	CREATE TABLE sor."Odd ""Table"" <x>" (id int, v text);
	CREATE VIEW sor.long_plays AS SELECT * FROM sor.plays WHERE ms > 30000;
	INSERT INTO sor.tracks VALUES (1, 'rock'), (2, 'jazz');
	INSERT INTO sor.plays (track_id, ms) VALUES (1, 40000), (2, 1000), (1, 50000);
	INSERT INTO sor."Odd ""Table"" <x>" VALUES (1, 'a');
	GRANT USAGE ON SCHEMA sor TO media_team, "odd ""team""";
	GRANT SELECT ON ALL TABLES IN SCHEMA sor TO media_team, "odd ""team""";
	SELECT dataproduct.create_domain('media', owner => 'media_team', description => 'Listening');
	SELECT dataproduct.create_product('media.plays', description => 'Plays per <genre> & "more"',
	       version => '1.2.0', tags => '{plays,genre}', contact => '#media',
	       max_staleness => '5 minutes');
	SELECT dataproduct.add_output('media.plays', 'by_genre',
	       'SELECT t.genre, count(*) AS plays, sum(p.ms) AS ms
	          FROM sor.plays p JOIN sor.tracks t USING (track_id) GROUP BY t.genre',
	       description => 'Plays and listening time per genre');
	SELECT dataproduct.add_output('media.plays', 'long_by_track',
	       'SELECT track_id, count(*) AS long_plays FROM sor.long_plays GROUP BY track_id');
	SELECT dataproduct.comment_column('media.by_genre', 'genre', 'The <b>genre</b> of the track');
});
$node->safe_psql('postgres', q{
	SELECT dataproduct.refresh('media.by_genre');
	SELECT dataproduct.refresh('media.long_by_track');
	SELECT dataproduct.add_check('media.by_genre', 'not_null', "column" => 'genre');
	SELECT dataproduct.add_check('media.by_genre', 'row_count', name => 'enough_genres',
	       min => '5', severity => 'warning');
	SELECT count(*) FROM dataproduct.run_checks('media.plays');
	SELECT dataproduct.create_domain('odd', owner => '"odd ""team"""');
	SELECT dataproduct.create_product('odd.weird', description => 'Reads another product');
	GRANT USAGE ON SCHEMA media TO "odd ""team""";
	SET ROLE media_team;
	GRANT SELECT ON media.by_genre TO "odd ""team""";
	RESET ROLE;
	SELECT dataproduct.add_output('odd.weird', 'odd_out',
	       'SELECT g.genre, o.v FROM media.by_genre g, sor."Odd ""Table"" <x>" o', refresh => 'full');
});

# connection options: -h -p -d, the environment, a conninfo string, a URI
{
	my ($rc, $out, $err) = client('lineage', @conn);
	is($rc, 0, 'lineage with -h -p -d') or diag($err);
	my $dot = $out;
	{
		local $ENV{PGHOST} = $host;
		local $ENV{PGPORT} = $port;
		local $ENV{PGDATABASE} = 'postgres';
		($rc, $out, $err) = client('lineage');
		is($rc, 0, 'lineage with PGHOST, PGPORT, PGDATABASE') or diag($err);
		is($out, $dot, 'the environment reaches the same database');
	}
	($rc, $out, $err) = client('lineage', '-d', "host='$host' port=$port dbname=postgres");
	is($rc, 0, 'a conninfo string as the database name') or diag($err);
	is($out, $dot, 'the conninfo string reaches the same database');
	my $uhost = $host;
	$uhost =~ s{([^A-Za-z0-9._~-])}{sprintf('%%%02X', ord($1))}ge;
	($rc, $out, $err) = client('lineage', '-d', "postgresql:///postgres?host=$uhost&port=$port");
	is($rc, 0, 'a URI as the database name') or diag($err);
	is($out, $dot, 'the URI reaches the same database');
	($rc, $out, $err) = client('lineage', @conn[0 .. 3], '-d', 'no_such_db');
	is($rc, 1, 'a database that does not exist exits 1');
	like($err, qr/database "no_such_db" does not exist/, '... with the server\'s message');
}

# ---------------------------------------------------------------------
# lineage
# ---------------------------------------------------------------------
my $odd_dot = q{"sor.\"Odd \"\"Table\"\" <x>\""};
{
	my ($rc, $dot, $err) = client('lineage', '--format', 'dot', @conn);
	is($rc, 0, 'lineage --format dot') or diag($err);
	is($err, '', 'lineage: nothing on stderr');
	like($dot, qr/\Adigraph lineage \{\n/, 'DOT: a digraph');
	like($dot, qr/\}\n\z/, 'DOT: closed');
	my $n_open = () = $dot =~ /\{/g;
	my $n_close = () = $dot =~ /\}/g;
	is($n_open, $n_close, 'DOT: braces balance');
	foreach my $edge (
		[ 'sor.plays', 'media.by_genre' ],
		[ 'sor.tracks', 'media.by_genre' ],
		[ 'sor.plays', 'sor.long_plays' ],
		[ 'sor.long_plays', 'media.long_by_track' ],
		[ 'media.by_genre', 'odd.odd_out' ])
	{
		like($dot, qr/^  "\Q$edge->[0]\E" -> "\Q$edge->[1]\E";$/m,
			"DOT edge $edge->[0] -> $edge->[1]");
	}
	like($dot, qr/^  \Q$odd_dot\E -> "odd.odd_out";$/m,
		'DOT edge from a table whose name has quotes, a space and <>, escaped');
	like($dot, qr/^  \Q$odd_dot\E \[shape=cylinder, label=\Q$odd_dot\E, xlabel="table"\];$/m,
		'DOT node of that table');
	like($dot, qr/subgraph "cluster_\d+" \{\n    label="media\.plays\\nowner: media_team";/,
		'DOT: a cluster per product, labelled with its owner');
	like($dot, qr/label="odd\.weird\\nowner: \\"odd \\"\\"team\\"\\"\\"";/,
		'DOT: an owner with quotes, escaped');
	like($dot,
		qr/subgraph "cluster_\d+" \{[^}]*"media\.by_genre" \[[^}]*"media\.long_by_track" \[[^}]*\}/,
		'DOT: the outputs of media.plays in its cluster');
	ok(index($dot, '  "sor.plays" [') >= 0 && index($dot, '  "sor.plays" [') < index($dot, 'subgraph'),
		'DOT: sources stand outside the clusters');
	my $n_edges = () = $dot =~ /^  ".*" -> ".*";$/mg;
	is($n_edges, 6, 'DOT: six edges, each once');
}
{
	my ($rc, $mm, $err) = client('lineage', '--format=mermaid', @conn);
	is($rc, 0, 'lineage --format mermaid') or diag($err);
	like($mm, qr/\Aflowchart LR\n/, 'Mermaid: a flowchart');
	my %id;
	while ($mm =~ /^\s+(n\d+)\[\(?"([^"]*)"\)?\]$/mg)
	{
		$id{$2} = $1;
	}
	ok(exists $id{$_}, "Mermaid node $_")
	  foreach qw(sor.plays sor.tracks sor.long_plays media.by_genre media.long_by_track odd.odd_out);
	my $odd_label = 'sor.#quot;Odd #quot;#quot;Table#quot;#quot; #lt;x#gt;#quot;';
	ok(exists $id{$odd_label}, 'Mermaid: quotes and <> of a name as entity codes');
	like($mm, qr/^  $id{'sor.plays'}\[\("sor\.plays"\)\]$/m, 'Mermaid: tables as cylinders');
	foreach my $edge (
		[ 'sor.plays', 'media.by_genre' ],
		[ 'sor.tracks', 'media.by_genre' ],
		[ 'sor.plays', 'sor.long_plays' ],
		[ 'sor.long_plays', 'media.long_by_track' ],
		[ 'media.by_genre', 'odd.odd_out' ],
		[ $odd_label, 'odd.odd_out' ])
	{
		like($mm, qr/^  $id{$edge->[0]} --> $id{$edge->[1]}$/m,
			"Mermaid edge $edge->[0] --> $edge->[1]");
	}
	like($mm,
		qr/^  subgraph p\d+\["media\.plays \(owner: media_team\)"\]\n    $id{'media.by_genre'}\["media\.by_genre"\]\n    $id{'media.long_by_track'}\[/m,
		'Mermaid: a subgraph per product holding its outputs');
	like($mm, qr/^  subgraph p\d+\["odd\.weird \(owner: #quot;odd #quot;#quot;team#quot;#quot;#quot;\)"\]$/m,
		'Mermaid: an owner with quotes, escaped');
	my $n_sub = () = $mm =~ /^  subgraph /mg;
	my $n_end = () = $mm =~ /^  end$/mg;
	is($n_sub, 2, 'Mermaid: two subgraphs');
	is($n_end, 2, 'Mermaid: each ended');
}
{
	my $dir = PostgreSQL::Test::Utils::tempdir;
	my ($rc, $out, $err) = client('lineage', @conn, '--out', "$dir/l.dot");
	is($rc, 0, 'lineage --out FILE');
	is($out, '', '... writes nothing on stdout');
	like(slurp_file("$dir/l.dot"), qr/"sor\.plays" -> "media\.by_genre";/, '... but the file');
}

# ---------------------------------------------------------------------
# apply and export against a stub: what the client sends and how it
# writes what it gets back, independent of the server's descriptor code
# ---------------------------------------------------------------------
$node->safe_psql('postgres', 'CREATE DATABASE stub');
$node->safe_psql('stub', q{
	CREATE SCHEMA dataproduct;
	CREATE TABLE dataproduct.applied (n serial, doc jsonb, dry boolean, drop_missing boolean);
	CREATE FUNCTION dataproduct.apply(document jsonb, dry_run boolean DEFAULT false,
	                                  drop_missing boolean DEFAULT false)
	RETURNS TABLE(action text, object text, detail text) LANGUAGE plpgsql AS $$
	BEGIN
	  IF document ? 'fail' THEN
	    RAISE EXCEPTION 'cannot apply %', document->>'name'
	      USING DETAIL = 'the stub was asked to fail', HINT = 'remove "fail"';
	  END IF;
	  INSERT INTO dataproduct.applied (doc, dry, drop_missing) VALUES (document, dry_run, drop_missing);
	  RETURN QUERY VALUES ('create', 'product ' || (document->>'name'), 'new'),
	                      ('change', 'output ' || (document->>'name') || '.o', 'description'),
	                      ('drop', 'check x', NULL), ('unchanged', 'output y', NULL);
	END $$;
	CREATE FUNCTION dataproduct.export(product text, format text DEFAULT 'odcs')
	RETURNS jsonb LANGUAGE sql AS $$
	  SELECT jsonb_build_object('apiVersion', 'v3.1.0', 'kind', 'DataContract', 'id', product,
	    'format', format, 'version', '1.0.0', 'flag', 'true', 'num', '12', 'empty', '',
	    'yes', 'yes', 'n', 42.5, 'b', true, 'nul', null, 'query', E'SELECT a,\n  b\nFROM t',
	    'quote', E'it''s "q" \\ x', 'list', jsonb_build_array(1, 'two', jsonb_build_object()),
	    'emptylist', '[]'::jsonb, 'date', '2024-01-01', 'colon', 'a: b', 'hash', '#c',
	    'uni', 'Zürich ☃', 'tab', E'a\tb', 'big', 123456789012345678901234567890)
	$$;
});
my @stub = ('-h', $host, '-p', $port, '-d', 'stub');
my $tmp = PostgreSQL::Test::Utils::tempdir;

sub applied
{
	return $node->safe_psql('stub',
		"SELECT string_agg(doc::text || ' dry=' || dry || ' drop=' || drop_missing, E'\\n' ORDER BY n) FROM dataproduct.applied");
}

# scalars typed by the YAML 1.2 core schema
append_to_file("$tmp/typed.yaml", <<'EOF');
# comments are fine
name: typed
ints: [0, +12, 007, 0o17, 0x1F, -3]
floats: [1.5, .5, -1., 1e3, 1.5E-3, 01.50]
bools: [true, True, FALSE]
yaml11: [yes, no, on, off, y, 1_000]
nulls: [null, Null, ~, '']
empty:
strings: ['true', "12", !!str 13, ! 14, plain text, "two
  lines", 'it''s', "tab\there", "\u00e9"]
tagged: !!int "15"
block: |
  SELECT 1
  FROM t
folded: >-
  a
  b
nested: {a: 1, b: [x, {c: d}]}
7: a numeric key is a string
EOF
{
	my ($rc, $out, $err) = client('apply', @stub, "$tmp/typed.yaml");
	is($rc, 0, 'apply a YAML file') or diag($err);
	is($err, '', 'apply: nothing on stderr');
	my $doc = $node->safe_psql('stub', 'SELECT doc FROM dataproduct.applied');
	my $expected = $node->safe_psql('stub', q{SELECT '{"name": "typed",
		"ints": [0, 12, 7, 15, 31, -3], "floats": [1.5, 0.5, -1, 1000, 0.0015, 1.50],
		"bools": [true, true, false], "yaml11": ["yes", "no", "on", "off", "y", "1_000"],
		"nulls": [null, null, null, ""], "empty": null,
		"strings": ["true", "12", "13", "14", "plain text", "two lines", "it''s", "tab\there", "é"],
		"tagged": 15, "block": "SELECT 1\nFROM t\n", "folded": "a b",
		"nested": {"a": 1, "b": ["x", {"c": "d"}]}, "7": "a numeric key is a string"}'::jsonb});
	is($doc, $expected, 'YAML scalars typed by the 1.2 core schema, quoted ones strings');
	my $text = $node->safe_psql('stub',
		q{SELECT jsonb_typeof(doc->'ints'->0) || jsonb_typeof(doc->'bools'->0) || jsonb_typeof(doc->'nulls'->0) FROM dataproduct.applied});
	is($text, 'numberbooleannull', 'numbers, booleans and null are JSON values');
	like($out, qr/^\Q$tmp\E\/typed\.yaml:\n  \+ create     product typed  \(new\)\n  ~ change     output typed\.o  \(description\)\n  - drop       check x\n    unchanged  output y\n/m,
		'the plan rows, marked + ~ - as infrastructure-as-code tools mark them');
	like($out, qr/^Applied: 1 created, 1 changed, 1 dropped, 1 unchanged\.$/m, 'apply: the summary');
	is(applied(), $node->safe_psql('stub', 'SELECT doc::text FROM dataproduct.applied') . ' dry=false drop=false',
		'apply without --dry-run or --drop-missing passes false, false');
}

# a directory: *.yaml, *.yml, *.json in name order, multi-document files
mkdir "$tmp/dir";
append_to_file("$tmp/dir/b.yml", "name: b1\n---\nname: b2\nversion: 1.0.0\n---\n");
append_to_file("$tmp/dir/a.json", qq({"name": "a", "x": [1, 2.50, "\\u00e9\\ud83d\\ude00"], "k": {"z": null}}\n));
append_to_file("$tmp/dir/c.yaml", "--- {name: c}\n");
append_to_file("$tmp/dir/notes.txt", "not a descriptor: [\n");
append_to_file("$tmp/dir/.hidden.yaml", "name: hidden\n");
$node->safe_psql('stub', 'TRUNCATE dataproduct.applied');
{
	my ($rc, $out, $err) = client('apply', '--dry-run', '--drop-missing', @stub, "$tmp/dir");
	is($rc, 0, 'apply --dry-run of a directory') or diag($err);
	is($node->safe_psql('stub', 'SELECT count(*) FROM dataproduct.applied'), '0',
		'a dry run rolls back');
	my @origins = $out =~ /^(\S.*):$/mg;
	is_deeply(\@origins,
		[ "$tmp/dir/a.json", "$tmp/dir/b.yml, document 1", "$tmp/dir/b.yml, document 2", "$tmp/dir/c.yaml" ],
		'descriptor files in name order, one product per YAML document, empty documents skipped');
	like($out, qr/^Plan: 4 to create, 4 to change, 4 to drop, 4 unchanged\.\nDry run: nothing was changed\.\n\z/m,
		'the plan summary of a dry run');
}
{
	my ($rc, $out, $err) = client('apply', '--drop-missing', @stub, "$tmp/dir");
	is($rc, 0, 'apply --drop-missing of a directory') or diag($err);
	is(applied(), join("\n",
		'{"k": {"z": null}, "x": [1, 2.50, "é😀"], "name": "a"} dry=false drop=true',
		'{"name": "b1"} dry=false drop=true',
		'{"name": "b2", "version": "1.0.0"} dry=false drop=true',
		'{"name": "c"} dry=false drop=true'),
		'every document applied, JSON as written, --drop-missing passed');
}
# the dry run flag reaches the server
$node->safe_psql('stub', q{
	CREATE OR REPLACE FUNCTION dataproduct.apply(document jsonb, dry_run boolean DEFAULT false,
	                                             drop_missing boolean DEFAULT false)
	RETURNS TABLE(action text, object text, detail text) LANGUAGE sql AS $$
	  VALUES ('unchanged', document->>'name', 'dry_run=' || dry_run || ' drop_missing=' || drop_missing)
	$$;
});
{
	my ($rc, $out, $err) = client('apply', '--dry-run', @stub, "$tmp/dir/c.yaml");
	like($out, qr/^    unchanged  c  \(dry_run=true drop_missing=false\)$/m, '--dry-run is passed as dry_run');
	like($out, qr/^Plan: 0 to create, 0 to change, 0 to drop, 1 unchanged\.$/m, 'all unchanged');
}
$node->safe_psql('stub', q{
	CREATE OR REPLACE FUNCTION dataproduct.apply(document jsonb, dry_run boolean DEFAULT false,
	                                             drop_missing boolean DEFAULT false)
	RETURNS TABLE(action text, object text, detail text) LANGUAGE plpgsql AS $$
	BEGIN
	  IF document ? 'fail' THEN
	    RAISE EXCEPTION 'cannot apply %', document->>'name'
	      USING DETAIL = 'the stub was asked to fail', HINT = 'remove "fail"';
	  END IF;
	  INSERT INTO dataproduct.applied (doc, dry, drop_missing) VALUES (document, dry_run, drop_missing);
	  RETURN QUERY VALUES ('create', document->>'name', NULL::text);
	END $$;
	TRUNCATE dataproduct.applied;
});

# all or nothing: the second document fails, the first is not kept
append_to_file("$tmp/two.yaml", "name: first\n---\nname: second\nfail: true\n");
{
	my ($rc, $out, $err) = client('apply', @stub, "$tmp/two.yaml");
	is($rc, 1, 'a failing document exits 1');
	like($err, qr/^pg_dataproduct: error: \Q$tmp\E\/two\.yaml, document 2: cannot apply second\nDETAIL:  the stub was asked to fail\nHINT:  remove "fail"\n/m,
		'the error names the document, with the DETAIL and HINT');
	like($err, qr/nothing was applied/, 'and says nothing was applied');
	is($node->safe_psql('stub', 'SELECT count(*) FROM dataproduct.applied'), '0',
		'all documents in one transaction: none applied');
}

# descriptors that are refused before anything is sent
my @bad_files = (
	[ 'dup.yaml', "name: a\nname: b\n", qr/dup\.yaml:2:1: duplicate key "name"/ ],
	[ 'alias.yaml', "a: &x 1\nb: *x\n", qr/alias\.yaml:2:4: alias "\*x" is not supported/ ],
	[ 'list.yaml', "- a\n- b\n", qr/list\.yaml:1:1: a descriptor must be a mapping/ ],
	[ 'inf.yaml', "a: .inf\n", qr/inf\.yaml:1:4: "\.inf" has no JSON form/ ],
	[ 'syntax.yaml', "a: [1, 2\nb: c\n", qr/syntax\.yaml:\d+:\d+: did not find expected/ ],
	[ 'key.yaml', "? [a]\n: b\n", qr/key\.yaml:1:3: a key must be a scalar/ ],
	[ 'tag.yaml', "a: !!int abc\n", qr/tag\.yaml:1:4: value does not match its tag/ ],
	[ 'badtag.yaml', "a: !custom x\n", qr/badtag\.yaml:1:4: unsupported tag "!custom"/ ],
	[ 'none.yaml', "# nothing\n", qr/none\.yaml: no descriptor in the file/ ],
	[ 'zero.json', '{"a": 01}', qr/zero\.json: invalid JSON: line 1, column 8: leading zeros/ ],
	[ 'array.json', '[1]', qr/array\.json: a descriptor must be a JSON object/ ],
	[ 'trail.json', '{"a": 1} x', qr/trail\.json: invalid JSON: line 1, column 10: unexpected text/ ],
	[ 'surrogate.json', '{"a": "\ud800"}', qr/surrogate\.json: invalid JSON: .*surrogate/ ]);
foreach my $bad (@bad_files)
{
	my ($name, $text, $re) = @$bad;
	append_to_file("$tmp/$name", $text);
	my ($rc, $out, $err) = client('apply', @stub, "$tmp/two.yaml", "$tmp/$name");
	is($rc, 1, "refused descriptor exits 1: $name");
	like($err, $re, "refused descriptor: the error names file, line and column: $name");
	is($out, '', "refused descriptor: nothing applied or printed: $name");
}
{
	my ($rc, $out, $err) = client('apply', @stub, "$tmp/missing.yaml");
	is($rc, 1, 'a missing file exits 1');
	like($err, qr/could not open "\Q$tmp\E\/missing\.yaml": No such file/, '... saying so');
	mkdir "$tmp/empty";
	($rc, $out, $err) = client('apply', @stub, "$tmp/empty");
	is($rc, 1, 'an empty directory exits 1');
	like($err, qr/no descriptor files/, '... saying so');
}

# export: YAML that reads back as the document the server returned
{
	my ($rc, $yaml, $err) = client('export', @stub, 'media.plays');
	is($rc, 0, 'export (stub)') or diag($err);
	like($yaml, qr/\A---\n/, 'export: one YAML document');
	like($yaml, qr/^format: odcs$/m, 'export: odcs by default');
	like($yaml, qr/^flag: "true"$/m, 'a string that reads as a boolean is quoted');
	like($yaml, qr/^num: "12"$/m, 'a string that reads as a number is quoted');
	like($yaml, qr/^version: "1\.0\.0"$/m, 'a version string is quoted');
	like($yaml, qr/^date: "2024-01-01"$/m, 'a date string is quoted (YAML 1.1 readers take it for a timestamp)');
	like($yaml, qr/^"yes": "yes"$/m, 'YAML 1.1 booleans are quoted, keys too');
	like($yaml, qr/^empty: ""$/m, 'the empty string is quoted');
	like($yaml, qr/^"n": 42\.5$/m, 'a number is plain (its key n, a YAML 1.1 boolean, quoted)');
	like($yaml, qr/^b: true$/m, 'a boolean is plain');
	like($yaml, qr/^nul: null$/m, 'null is plain');
	like($yaml, qr/^big: 123456789012345678901234567890$/m, 'a big number keeps its digits');
	like($yaml, qr/^query: \|-\n  SELECT a,\n    b\n  FROM t$/m, 'a string with line breaks is a literal block');
	like($yaml, qr/^uni: Zürich ☃$/m, 'UTF-8 as is');
	like($yaml, qr/^list:\n- 1\n- two\n- \{\}$/m, 'a sequence');
	my @keys = $yaml =~ /^"?(\w+)"?:/mg;
	my $order = $node->safe_psql('stub',
		q{SELECT string_agg(k, ' ' ORDER BY o) FROM jsonb_object_keys(dataproduct.export('media.plays')) WITH ORDINALITY AS j(k, o)});
	is(join(' ', @keys), $order, 'keys in the order of the JSON text the server returned');

	($rc, $yaml) = client('export', @stub, 'media.plays', '--format', 'odps');
	like($yaml, qr/^format: odps$/m, 'export --format odps is passed');

	# read back through apply: the very document
	($rc, my $out, $err) = client('export', @stub, 'media.plays', '--out', "$tmp/export.yaml");
	is($rc, 0, 'export --out FILE');
	is($out, '', '... writes nothing on stdout');
	$node->safe_psql('stub', 'TRUNCATE dataproduct.applied');
	($rc, $out, $err) = client('apply', @stub, "$tmp/export.yaml");
	is($rc, 0, 'the exported YAML applies') or diag($err);
	is($node->safe_psql('stub',
			q{SELECT doc = dataproduct.export('media.plays') FROM dataproduct.applied}),
		't', 'export then apply round-trips the document exactly');

	$node->safe_psql('stub',
		q{CREATE OR REPLACE FUNCTION dataproduct.export(product text, format text DEFAULT 'odcs')
		  RETURNS jsonb LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'product "%" does not exist', product; END $$});
	($rc, $out, $err) = client('export', @stub, 'media.none');
	is($rc, 1, 'export of an unknown product exits 1');
	like($err, qr/^pg_dataproduct: error: product "media\.none" does not exist$/m, '... with the server\'s error');
	is($out, '', '... and writes nothing');
}

# ---------------------------------------------------------------------
# docs, checked in a headless browser
# ---------------------------------------------------------------------
{
	my $dir = PostgreSQL::Test::Utils::tempdir;
	my ($rc, $out, $err) = client('docs', @conn, '--out', "$dir/site");
	is($rc, 0, 'docs --out DIR') or diag($err);
	like($out, qr/wrote \Q$dir\E\/site\/index\.html/, 'docs says what it wrote');
	my $html = slurp_file("$dir/site/index.html");
	like($html, qr/\A<!DOCTYPE html>/, 'an HTML page');
	unlike($html, qr/<script/i, 'no JavaScript');
	unlike($html, qr/<(?:link|img|iframe|object|embed)\b/i, 'no external resources');
	unlike($html, qr/\b(?:src|href)="(?!#)/i, 'links only within the page');
	my @urls = $html =~ m{(https?://[^"'\s<>]+)}g;
	is_deeply([ grep { $_ ne 'http://www.w3.org/2000/svg' } @urls ], [],
		'no URL but the SVG namespace');
	like($html, qr/Plays per &lt;genre&gt; &amp; &quot;more&quot;/, 'a description escaped');
	like($html, qr/The &lt;b&gt;genre&lt;\/b&gt; of the track/, 'a column comment escaped');
	like($html, qr/sor\.&quot;Odd &quot;&quot;Table&quot;&quot; &lt;x&gt;&quot;/, 'a relation name escaped');
	unlike($html, qr/<b>genre/, 'no markup from the catalog');

	my ($chromium) = grep { -x "$_/chromium" } split /:/, $ENV{PATH};
	$chromium = defined $chromium ? "$chromium/chromium" : '';
	ok($chromium ne '', 'chromium is installed (CI installs it)');
	my ($dom, $cerr) = ('', '');
	local $ENV{HOME} = $dir;
	IPC::Run::run(
		[
			$chromium || 'chromium', '--headless', '--no-sandbox', '--disable-gpu',
			"--user-data-dir=$dir/chromium", '--dump-dom', "file://$dir/site/index.html"
		],
		'>', \$dom, '2>', \$cerr,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	like($dom, qr/<svg\b/, 'the browser shows an SVG picture') or diag($cerr);

	# what the browser rendered, as text (tags dropped, entities decoded)
	my ($body) = $dom =~ m{<body>(.*)</body>}s;
	$body //= '';
	my ($svg) = $body =~ m{(<svg\b.*?</svg>)}s;
	$svg //= '';
	(my $text = $body) =~ s/<[^>]*>/ /g;
	$text =~ s/&lt;/</g;
	$text =~ s/&gt;/>/g;
	$text =~ s/&quot;/"/g;
	$text =~ s/&#39;/'/g;
	$text =~ s/&amp;/&/g;
	$text =~ s/\s+/ /g;

	like($text, qr/\b$_\b/, "the page shows $_")
	  foreach ('media.plays', 'odd.weird', 'media.by_genre', 'media.long_by_track', 'odd.odd_out');
	like($text, qr/owner media_team\b/, 'the page shows the owner of media.plays');
	like($text, qr/owner "odd ""team"""/, 'the page shows an owner with quotes');
	like($text, qr/Plays per <genre> & "more"/, 'the description shown as written');
	like($text, qr/version 1\.2\.0\b/, 'the version');
	like($text, qr/freshness promise 00:05:00/, 'the freshness promise');
	like($text, qr/pending changes 0 staleness 00:00:00/, 'freshness of an output from the change stream');
	like($text, qr/column type not null description genre text The <b>genre<\/b> of the track plays bigint/,
		'the columns with their types and comments');
	like($text, qr/long_plays bigint/, 'the columns of another output');
	like($text, qr/not_null_genre not_null blocking .* passed 0 /, 'a check that passed, with its observed value');
	like($text, qr/enough_genres row_count warning .* failed 2 .* 1 \(1\)/,
		'a check that failed, with its observed value and runs');
	like($text, qr/health warning output media\.by_genre: check enough_genres failed/,
		'the health with its reasons');
	like($text, qr/Reads sor\.plays \(table\) sor\.tracks \(table\)/, 'what an output reads');
	like($text, qr/media\.by_genre \(output of media\.plays\)/, 'an output read from another product');

	# the picture: a box per node, with its name, linked to its section
	my @boxes = $svg =~ /<g class="node (\w+)">/g;
	is(scalar(@boxes), 9, 'the picture has a box per node')
	  or diag(join(' ', @boxes));
	is(scalar(grep { $_ eq 'source' } @boxes), 4, 'four source boxes');
	is(scalar(grep { $_ eq 'output' } @boxes), 3, 'three output boxes');
	is(scalar(grep { $_ eq 'product' } @boxes), 2, 'two product boxes');
	my @rects = $svg =~ /<rect\b/g;
	is(scalar(@rects), scalar(@boxes), 'each box a rectangle');
	foreach my $name ('sor.plays', 'sor.tracks', 'sor.long_plays', 'media.by_genre', 'odd.odd_out',
		'media.plays', 'odd.weird')
	{
		like($svg, qr/<text [^>]*>\Q$name\E<\/text>/, "the picture names $name");
	}
	my $q = qr/(?:&quot;|")/;
	like($svg, qr/<text [^>]*>sor\.${q}Odd $q${q}Table$q$q &lt;x&gt;$q<\/text>/,
		'the picture names the odd table, escaped');
	my @edges = $svg =~ /<path class="edge"/g;
	is(scalar(@edges), 6, 'six lineage lines');
	my @members = $svg =~ /<path class="edge member"/g;
	is(scalar(@members), 3, 'three lines from outputs to their products');
	like($svg, qr/<a href="#p1"><g class="node product">/, 'a product box links to its section');
	like($body, qr/<section class="product" id="p1">/, '... which exists');
	my @titles = $svg =~ /<text class="coltitle"[^>]*>(\w+)<\/text>/g;
	is_deeply(\@titles, [qw(sources sources outputs outputs products)],
		'columns: sources (a view right of its table), outputs (one reading another), products');
}

# ---------------------------------------------------------------------
# apply and export end to end, when the extension has them
# ---------------------------------------------------------------------
my $has_descriptors = $node->safe_psql('postgres',
	q{SELECT count(*) = 2 FROM pg_proc WHERE pronamespace = 'dataproduct'::regnamespace
	   AND proname IN ('export', 'apply')});
SKIP:
{
	skip 'the extension has no dataproduct.export() and apply() yet', 1
	  unless $has_descriptors eq 't';

	my ($rc, $yaml, $err) = client('export', @conn, 'media.plays');
	is($rc, 0, 'export media.plays') or diag($err);
	like($yaml, qr/^kind: DataContract$/m, 'an ODCS data contract');
	like($yaml, qr/^name: plays$|^name: media\.plays$/m, 'named after the product');
	like($yaml, qr/\bby_genre\b/, 'with its outputs');
	($rc, my $odps, $err) = client('export', @conn, 'media.plays', '--format', 'odps');
	is($rc, 0, 'export --format odps') or diag($err);
	like($odps, qr/^kind: DataProduct$/m, 'an ODPS data product');
	append_to_file("$tmp/plays.yaml", $yaml);

	my $before = $node->safe_psql('postgres',
		'SELECT version, description, updated_at FROM dataproduct.products ORDER BY 1');
	($rc, my $out, $err) = client('apply', @conn, "$tmp/plays.yaml");
	is($rc, 0, 'apply the exported descriptor') or diag($err);
	my @actions = $out =~ /^  . (\w+)\s/mg;
	ok(@actions > 0, 'apply prints plan rows');
	is_deeply([ grep { $_ ne 'unchanged' } @actions ], [], 'the exported descriptor is all unchanged');

	# a change: a new description at a new version
	(my $changed = $yaml) =~ s/^version: "?1\.2\.0"?$/version: "1.3.0"/m;
	$changed =~ s/Plays per <genre> & \\?"more\\?"/Plays per genre, changed/;
	isnt($changed, $yaml, 'the descriptor edited');
	append_to_file("$tmp/changed.yaml", $changed);
	($rc, $out, $err) = client('apply', '--dry-run', @conn, "$tmp/changed.yaml");
	is($rc, 0, 'apply --dry-run of the change') or diag($err);
	like($out, qr/^  ~ change /m, 'the plan shows a change');
	like($out, qr/^Dry run: nothing was changed\.$/m, 'and says nothing was changed');
	is($node->safe_psql('postgres',
			'SELECT version, description, updated_at FROM dataproduct.products ORDER BY 1'),
		$before, 'the dry run changed nothing');
	($rc, $out, $err) = client('apply', @conn, "$tmp/changed.yaml");
	is($rc, 0, 'apply the change') or diag($err);
	like($out, qr/^  ~ change /m, 'the change applied');
	is($node->safe_psql('postgres', q{SELECT version FROM dataproduct.products WHERE product = 'media.plays'}),
		'1.3.0', 'the new version is in the catalog');
	($rc, $out, $err) = client('apply', @conn, "$tmp/changed.yaml");
	is($rc, 0, 'apply again') or diag($err);
	@actions = $out =~ /^  . (\w+)\s/mg;
	is_deeply([ grep { $_ ne 'unchanged' } @actions ], [], 'applying again is all unchanged');
}

$node->stop;
done_testing();
