# Randomized differential test of incremental maintenance.
#
# Outputs of every supported query shape are declared over NULL-heavy
# sources, together with the classes of data and shapes that break naive
# maintenance: numeric and float NaN and +-Infinity in sums and averages;
# citext and ICU (case-insensitive, nondeterministic) keys; identity changes
# that keep equality ('A' -> 'a', 1.0 -> 1.00, 0 -> -0) and UPDATEs that move
# rows between groups; a 33-column SELECT * (refreshed in full, with its
# reason) and a 33-column aggregate; group keys and plain rows holding 6.4 kB
# values (switching their outputs to full refresh, with the reason); and a
# partitioned table whose partitions are attached, detached, created,
# truncated alone and dropped while the test runs.
#
# Then, round after round, random INSERT, UPDATE, DELETE and TRUNCATE hit
# the sources, and the outputs are refreshed
#   - by hand, output by output in autocommit, or several in one transaction
#     (read committed or repeatable read, some rolled back and redone), while
#     a concurrent session writes;
#   - while a third session holds a lock on a source (ACCESS EXCLUSIVE, so
#     that a refresh waits after taking its snapshot; SHARE or EXCLUSIVE,
#     which stop writers only; row locks) and further changes commit before
#     it lets go: the log trimming race;
#   - by the background worker, with the same concurrent writers and lock
#     holders (and some manual refreshes of single outputs racing it), until
#     every output's recorded snapshot sees a fence transaction committed
#     after the last write;
# and after each round every output must equal its query recomputed from
# scratch: EXCEPT ALL both ways over the rows' text forms (so 1.0 differs
# from 1.00, 'B' from 'b' and -0 from 0), or over the values where the
# query's own result is not determined byte for byte (float sums, the value
# a citext or ICU group shows, min/max among equal values).  Finally, with
# the worker off, each output and a twin of it refreshed in full are
# refreshed after the same writes: both must return the same count, and the
# change logs end up empty.
#
# The seed is printed; rerun a failure with DP_SEED=<seed>.  DP_ROUNDS sets
# the number of manual rounds (the worker and count phases scale with it).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use List::Util qw(shuffle);

my $seed = $ENV{DP_SEED} // (time() ^ $$);
my $rounds = $ENV{DP_ROUNDS} // 6;
srand($seed);
diag("differential test seed: $seed (rerun with DP_SEED=$seed)");

my $node = PostgreSQL::Test::Cluster->new('differential');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_dataproduct'
max_worker_processes = 16
dataproduct.naptime = 500
});
# the manual phases refresh without the worker; the worker phase turns it on
$node->append_conf('postgresql.conf', "dataproduct.enabled = off");
# apply every batch incrementally, however large (rebuilds are tested elsewhere)
$node->append_conf('postgresql.conf', "dataproduct.full_refresh_fraction = -1");
$node->append_conf("postgresql.conf", "log_min_messages = debug1") if $ENV{DP_DEBUG};
$node->start;

my $wide_cols = join(', ', (map { "c$_ int" } 1 .. 31), 'c32 text');
$node->safe_psql('postgres', qq{
	CREATE EXTENSION pg_dataproduct;
	CREATE EXTENSION citext;
	CREATE SCHEMA src;
	CREATE COLLATION src.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
	CREATE TABLE src.f (id int PRIMARY KEY, a int, b int, g text, x numeric, t timestamptz);
	CREATE TABLE src.d (k int PRIMARY KEY, name text, cat text);
	CREATE TABLE src.e (cat text, weight int);
	CREATE TABLE src.p (k int, v int, at date) PARTITION BY RANGE (at);
	CREATE TABLE src.p1 PARTITION OF src.p FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
	CREATE TABLE src.p2 PARTITION OF src.p FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
	-- attached and detached while the test runs
	CREATE TABLE src.p3 (k int, v int, at date);
	CREATE TABLE src.s (id int PRIMARY KEY, ck citext, w text COLLATE src.ci, nv numeric,
	                    fx float8, lk text, v int);
	CREATE TABLE src.c (ck citext PRIMARY KEY, label text);
	CREATE TABLE src.w33 (id int PRIMARY KEY, $wide_cols);
	-- no key: duplicates, for the outer joins
	CREATE TABLE src.q (k int, cat text, v int);
	CREATE VIEW src.v AS SELECT id, a, g, x FROM src.f WHERE a IS NOT NULL;
	CREATE VIEW src.vv AS SELECT v.g, d.name FROM src.v JOIN src.d ON d.k = v.a;
	SELECT dataproduct.create_domain('dt');
	SELECT dataproduct.create_product('dt.shapes');
	SELECT dataproduct.create_product('dt.derived');
	SELECT dataproduct.create_product('dt.twins');
});

# name => query, options: loose (compare values, not text forms: the query's
# own text is not determined), full (refreshed in full: the reason expected),
# long (switches to full once a value is too large for its store's index)
my $too_large = qr/^its query (?:groups by|returns) a value too large for its store's index/;
my $wide_aggs = join(', ', 'count(*) AS n', (map { "sum(c$_) AS s$_" } 2 .. 31), 'max(c32) AS x32');
my @shapes = (
	[ 'projection', 'SELECT a, b FROM src.f WHERE x > 10' ],
	[ 'distinct_rows', 'SELECT DISTINCT g, b FROM src.f' ],
	[ 'algebraic', 'SELECT g, count(*) AS n, count(b) AS nb, sum(x) AS sx, avg(x) AS ax, sum(a) AS sa, avg(a) AS aa FROM src.f GROUP BY g' ],
	[ 'global', 'SELECT count(*) AS n, sum(a) AS sa, min(x) AS mn, max(g) AS mx, avg(b) AS ab, sum(x) AS sx FROM src.f' ],
	[ 'join2', 'SELECT f.g, d.name, count(*) AS n, sum(f.x) AS sx FROM src.f JOIN src.d ON d.k = f.b GROUP BY f.g, d.name' ],
	[ 'join3', 'SELECT e.cat, count(*) AS n, sum(e.weight * f.a) AS w FROM src.f JOIN src.d ON d.k = f.b JOIN src.e ON e.cat = d.cat GROUP BY e.cat' ],
	[ 'minmax', 'SELECT b, min(x) AS mn, max(a) AS mx, min(g) AS mg, count(*) AS n FROM src.f GROUP BY b' ],
	[ 'others', q{SELECT b, count(DISTINCT a) AS da, string_agg(g, ',' ORDER BY g, id) AS gs, bool_and(a > 0) AS pos FROM src.f GROUP BY b} ],
	[ 'percentile', 'SELECT g, percentile_cont(0.5) WITHIN GROUP (ORDER BY x) AS med, count(*) AS n FROM src.f GROUP BY g' ],
	[ 'having_filter', 'SELECT g, sum(x) AS sx FROM src.f GROUP BY g HAVING count(*) > 3' ],
	[ 'via_views', 'SELECT g, name, count(*) AS n FROM src.vv GROUP BY g, name' ],
	[ 'expr_keys', 'SELECT a % 3 AS m, g IS NULL AS gnull, (t AT TIME ZONE \'UTC\')::date AS day, count(*) AS n FROM src.f GROUP BY 1, 2, 3' ],
	[ 'filters', 'SELECT g, count(*) FILTER (WHERE a > 5) AS big, sum(x) FILTER (WHERE b IS NULL) AS sxn, min(a) FILTER (WHERE x < 50) AS ma FROM src.f GROUP BY g' ],
	[ 'selfjoin', 'SELECT f1.g, count(*) AS n FROM src.f f1 JOIN src.f f2 ON f1.b = f2.a GROUP BY f1.g' ],
	[ 'join_rows', 'SELECT f.a, d.name, d.cat FROM src.f JOIN src.d ON d.k = f.b WHERE f.a < 8' ],
	[ 'dependent', 'SELECT d.k, d.name, count(f.id) AS n FROM src.d JOIN src.f ON f.b = d.k GROUP BY d.k' ],
	[ 'date_trunc', q{SELECT date_trunc('day', t) AS day, count(*) AS n, sum(x) AS sx FROM src.f GROUP BY 1} ],
	[ 'lateral_rows', 'SELECT f.g, s.i, count(*) AS n FROM src.f, LATERAL generate_series(1, f.b) s(i) GROUP BY 1, 2' ],
	[ 'with_values', q{SELECT v.label, count(*) AS n FROM src.f JOIN (VALUES (1, 'one'), (2, 'two'), (NULL, 'none')) v(k, label) ON v.k = f.b GROUP BY v.label} ],
	# WITH (inlined), semi- and anti-joins, NULL-heavy subquery columns
	[ 'exists_join_agg', 'SELECT d.cat, count(*) AS n, sum(f.a) AS sa FROM src.f JOIN src.d ON d.k = f.b WHERE EXISTS (SELECT 1 FROM src.e WHERE e.cat = d.cat AND e.weight > 1) GROUP BY d.cat' ],
	[ 'not_exists_rows', 'SELECT f.id, f.g FROM src.f WHERE NOT EXISTS (SELECT FROM src.d WHERE d.k = f.b AND d.name IS NOT NULL)' ],
	[ 'in_rows', q{SELECT id, a FROM src.f WHERE a IN (SELECT k FROM src.d WHERE cat <> 'c0')} ],
	[ 'not_in_nulls', 'SELECT d.k, d.name FROM src.d WHERE d.cat NOT IN (SELECT e.cat FROM src.e WHERE e.weight > 0)' ],
	[ 'not_in_agg', 'SELECT f.g, count(*) AS n, sum(f.x) AS sx FROM src.f JOIN src.d ON d.k = f.b WHERE d.cat NOT IN (SELECT e.cat FROM src.e WHERE e.weight >= 3) GROUP BY f.g' ],
	[ 'not_in_outer_null', 'SELECT f.id FROM src.f WHERE f.a NOT IN (SELECT d.k FROM src.d WHERE d.cat IS NOT NULL)' ],
	[ 'uncorrelated', q{SELECT g, count(*) AS n FROM src.f WHERE EXISTS (SELECT FROM src.e WHERE e.weight = 4 AND e.cat = 'c1') GROUP BY g} ],
	[ 'uncorrelated_not_in', 'SELECT id FROM src.f WHERE 3 NOT IN (SELECT e.weight FROM src.e WHERE e.cat IS NULL)' ],
	[ 'not_in_row', 'SELECT f.id, f.g FROM src.f WHERE (f.a, f.b) NOT IN (SELECT d.k, e.weight FROM src.d JOIN src.e ON e.cat = d.cat)' ],
	[ 'in_self', 'SELECT f1.id FROM src.f f1 WHERE f1.b IN (SELECT f2.a FROM src.f f2 WHERE f2.g = f1.g)' ],
	[ 'all_cmp', 'SELECT d.k FROM src.d WHERE d.k > ALL (SELECT f.b FROM src.f WHERE f.a = d.k)' ],
	[ 'two_semis', q{SELECT f.g, count(*) AS n FROM src.f WHERE f.b IN (SELECT k FROM src.d WHERE cat = 'c1') AND NOT EXISTS (SELECT FROM src.e WHERE e.weight = f.a) GROUP BY f.g} ],
	[ 'semi_inner', 'SELECT x.g, d.name, count(*) AS n FROM (SELECT f.g, f.b FROM src.f WHERE EXISTS (SELECT FROM src.d WHERE d.k = f.a)) x JOIN src.d ON d.k = x.b GROUP BY x.g, d.name' ],
	[ 'cte_twice', 'WITH j AS (SELECT f.id, f.g, d.cat FROM src.f JOIN src.d ON d.k = f.b) SELECT a.cat, count(*) AS n FROM j a JOIN j b ON b.cat = a.cat AND b.g = a.g GROUP BY a.cat' ],
	[ 'cte_semi_agg', 'WITH big AS (SELECT id, b, x FROM src.f WHERE x > 20) SELECT d.name, count(*) AS n, sum(big.x) AS sx FROM big JOIN src.d ON d.k = big.b WHERE big.b NOT IN (SELECT s.v FROM src.s WHERE s.v > 6) GROUP BY d.name' ],
	[ 'union_rows', 'SELECT f.id, f.g FROM src.f WHERE f.a > 6 UNION ALL SELECT d.k, d.name FROM src.d UNION ALL SELECT f.id, d.cat FROM src.f JOIN src.d ON d.k = f.b' ],
	[ 'union_agg', 'SELECT u.g, count(*) AS n, sum(u.v) AS sv, min(u.v) AS mn FROM (SELECT f.g, f.a AS v FROM src.f JOIN src.d ON d.k = f.b UNION ALL SELECT e.cat, e.weight FROM src.e UNION ALL SELECT f.g, f.b FROM src.f WHERE f.a NOT IN (SELECT e.weight FROM src.e)) u GROUP BY u.g' ],
	[ 'union_join', 'SELECT d.name, count(*) AS n FROM (SELECT b AS k FROM src.f WHERE EXISTS (SELECT FROM src.e WHERE e.weight = f.a) UNION ALL SELECT k FROM src.d WHERE cat IS NULL) u JOIN src.d ON d.k = u.k GROUP BY d.name' ],
	[ 'union_distinct', 'SELECT f.g FROM src.f WHERE f.a < 3 UNION ALL SELECT d.name FROM src.d UNION SELECT e.cat FROM src.e' ],
	[ 'cte_recursive', 'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT f.id FROM src.f JOIN r ON r.n = f.b',
		{ full => qr/^its query uses WITH RECURSIVE$/ } ],
	[ 'semi_or', 'SELECT f.id FROM src.f WHERE f.a > 5 OR EXISTS (SELECT FROM src.d WHERE d.k = f.b)',
		{ full => qr/^its query uses a subquery in WHERE other than as an AND-ed EXISTS, IN or NOT IN condition$/ } ],
	# partitions
	[ 'partitioned', 'SELECT k, sum(v) AS sv, count(*) AS n FROM src.p GROUP BY k' ],
	[ 'partition_rows', 'SELECT k, v, at FROM src.p WHERE v % 2 = 0' ],
	[ 'partition_join', 'SELECT d.name, count(*) AS n, sum(p.v) AS sv FROM src.p JOIN src.d ON d.k = p.k GROUP BY d.name' ],
	# special values and identities
	[ 'special_sums', 'SELECT v % 3 AS m, count(*) AS n, count(nv) AS cn, sum(nv) AS sn, avg(nv) AS an FROM src.s GROUP BY 1' ],
	[ 'special_global', 'SELECT count(*) AS n, sum(nv) AS sn, avg(nv) AS an, sum(v) AS sv FROM src.s' ],
	[ 'float_sums', 'SELECT v % 3 AS m, count(fx) AS n, sum(fx) AS sf, avg(fx) AS af FROM src.s GROUP BY 1', { loose => 1 } ],
	[ 'special_minmax', 'SELECT v % 4 AS m, min(nv) AS mn, max(nv) AS mx, min(fx) AS mf, max(fx) AS xf, min(ck) AS mc, max(w) AS xw FROM src.s GROUP BY 1', { loose => 1 } ],
	[ 'rows_exact', 'SELECT id, ck, w, nv, fx, v FROM src.s WHERE v < 8' ],
	[ 'rows_dup', 'SELECT ck, w, nv, fx FROM src.s WHERE id % 2 = 0' ],
	[ 'by_id', 'SELECT id, ck, w, nv, fx, count(*) AS n FROM src.s GROUP BY id' ],
	[ 'join_special', 'SELECT f.g, count(*) AS n, sum(s.nv) AS sn, sum(f.x) AS sx FROM src.s JOIN src.f ON f.a = s.v GROUP BY f.g' ],
	[ 'join_citext', 'SELECT s.id, s.ck AS sk, c.ck, c.label FROM src.s JOIN src.c ON c.ck = s.ck' ],
	[ 'group_citext', 'SELECT ck, count(*) AS n, sum(nv) AS sn FROM src.s GROUP BY ck',
		{ loose => 1, full => qr/^its query groups by "ck" of type public\.citext, where values that compare equal can differ$/ } ],
	[ 'group_icu', 'SELECT w, count(*) AS n, sum(v) AS sv FROM src.s GROUP BY w',
		{ loose => 1, full => qr/^its query groups by "w" in nondeterministic collation "ci", where values that compare equal can differ$/ } ],
	[ 'distinct_num', 'SELECT DISTINCT nv FROM src.s',
		{ loose => 1, full => qr/^its query selects DISTINCT "nv" of type numeric, where values that compare equal can differ \(1\.0 and 1\.00\)$/ } ],
	# wide and long keys
	[ 'wide', 'SELECT * FROM src.w33',
		{ full => qr/^its query keeps its rows by more than 32 keys \(group keys, or the columns of plain rows\)$/ } ],
	[ 'wide_agg', "SELECT c1 % 3 AS m, $wide_aggs FROM src.w33 GROUP BY 1" ],
	[ 'long_key', 'SELECT lk, count(*) AS n, sum(v) AS sv FROM src.s GROUP BY lk', { long => 1 } ],
	[ 'long_rows', 'SELECT id, lk, md5(lk) AS h FROM src.s WHERE v % 2 = 0', { long => 1 } ],
	# outer joins: alone, chained, mixed with inner joins, nested, under
	# aggregates and as plain rows (f.b, d.k, q.k, f.a and the cats are NULL-heavy)
	[ 'oj_left_rows', 'SELECT f.id, f.b, d.name FROM src.f LEFT JOIN src.d ON d.k = f.b' ],
	[ 'oj_right_agg', 'SELECT d.k, count(*) AS n, count(f.id) AS nf, sum(f.a) AS sa, min(f.x) AS mn, max(f.g) AS mx, avg(f.a) AS aa FROM src.f RIGHT JOIN src.d ON d.k = f.b GROUP BY d.k' ],
	[ 'oj_full_rows', 'SELECT f.id, f.a, q.k, q.v FROM src.f FULL JOIN src.q ON q.k = f.a AND q.v > f.b WHERE f.id IS NULL OR f.id < 150' ],
	[ 'oj_full_agg', 'SELECT q.cat, f.g, count(*) AS n, count(q.v) AS nv, sum(q.v) AS sv, count(f.id) AS nf, min(f.a) AS mn FROM src.q FULL JOIN src.f ON f.a = q.k GROUP BY 1, 2' ],
	[ 'oj_chain3', 'SELECT d.cat, e.weight, count(*) AS n, count(f.id) AS nf, sum(f.x) AS sx, max(f.a) AS mx FROM src.d LEFT JOIN src.f ON f.b = d.k LEFT JOIN src.e ON e.cat = d.cat GROUP BY 1, 2' ],
	[ 'oj_chain4', 'SELECT f.id, d.name, e.weight, q.v FROM src.f LEFT JOIN src.d ON d.k = f.b LEFT JOIN src.e ON e.cat = d.cat FULL JOIN src.q ON q.cat = e.cat AND q.k = f.a WHERE f.id IS NULL OR f.id % 4 = 0' ],
	[ 'oj_mixed', 'SELECT d.name, q.cat, count(*) AS n, count(q.v) AS nv, sum(q.v) AS sv FROM src.f JOIN src.d ON d.k = f.b RIGHT JOIN src.q ON q.k = f.a GROUP BY 1, 2' ],
	[ 'oj_nested', 'SELECT q.cat, count(*) AS n, count(f.id) AS nf, max(d.name) AS mx FROM src.q LEFT JOIN (src.f JOIN src.d ON d.k = f.b) ON f.a = q.k GROUP BY q.cat' ],
	[ 'oj_nullable_outer', 'SELECT e.cat, count(*) AS n, count(f.id) AS nf, count(d.k) AS nd, avg(f.x) AS ax FROM (src.d LEFT JOIN src.f ON f.b = d.k) RIGHT JOIN src.e ON e.cat = d.cat GROUP BY e.cat' ],
	[ 'oj_full_chain', 'SELECT d.k, q.cat, f.g, count(*) AS n FROM src.d FULL JOIN src.q ON q.k = d.k FULL JOIN src.f ON f.b = q.k AND f.g IS NOT NULL GROUP BY 1, 2, 3' ],
	[ 'oj_where_nullable', q{SELECT f.id, d.name, d.cat FROM src.f LEFT JOIN src.d ON d.k = f.b WHERE d.cat IS DISTINCT FROM 'c1' AND (d.name <> 'n0' OR f.a > 5)} ],
	[ 'oj_global', 'SELECT count(*) AS n, count(d.k) AS nd, sum(q.v) AS sv, avg(f.a) AS af, max(q.cat) AS mc FROM src.f FULL JOIN src.d ON d.k = f.b FULL JOIN src.q ON q.k = d.k' ],
	[ 'oj_using', 'SELECT k, count(*) AS n, sum(v) AS sv, count(name) AS nn FROM src.d FULL JOIN src.q USING (k) GROUP BY k' ],
	[ 'oj_others', q{SELECT d.cat, string_agg(f.g, ',' ORDER BY f.g, f.id) AS gs, count(DISTINCT f.a) AS da FROM src.d LEFT JOIN src.f ON f.b = d.k GROUP BY d.cat} ],
	[ 'oj_selfjoin', 'SELECT f1.id, f2.id AS id2 FROM src.f f1 LEFT JOIN src.f f2 ON f2.a = f1.b AND f2.id < f1.id AND f2.id < 100 WHERE f1.id < 100' ],
	[ 'oj_views', 'SELECT v.g, d.name, count(*) AS n, count(vv.name) AS nv FROM src.v LEFT JOIN src.d ON d.k = v.a LEFT JOIN src.vv ON vv.g = v.g AND vv.name = d.name GROUP BY 1, 2' ],
	[ 'oj_distinct', 'SELECT DISTINCT d.cat, f.g FROM src.d FULL JOIN src.f ON f.b = d.k' ],
	[ 'oj_values', q{SELECT f.b, v.label, count(*) AS n FROM src.f LEFT JOIN (VALUES (1, 'one'), (2, 'two'), (NULL, 'none')) v(k, label) ON v.k = f.b GROUP BY 1, 2} ],
);
my @derived = (
	[ 'on_output', 'SELECT g, n FROM dt.algebraic WHERE n > 2' ],
	[ 'on_output_agg', 'SELECT count(*) AS groups, sum(n) AS rows FROM dt.minmax' ],
	[ 'on_plain_output', 'SELECT name, count(*) AS n, sum(a) AS sa FROM dt.join_rows GROUP BY name' ],
	[ 'on_special', 'SELECT n, sn, an FROM dt.special_sums WHERE m <> 1' ],
	[ 'on_outer_rows', 'SELECT name, count(*) AS n, count(b) AS nb FROM dt.oj_left_rows GROUP BY name' ],
	[ 'outer_on_output', 'SELECT d.k, d.name, a.g, a.sa FROM src.d LEFT JOIN dt.algebraic a ON a.n = d.k' ],
);
# DP_ONLY=<regex>: only the shapes whose names match (a quicker run)
if (my $only = $ENV{DP_ONLY})
{
	@shapes = grep { $_->[0] =~ /$only/ } @shapes;
	@derived = grep { $_->[0] =~ /$only/ } @derived;
}
my %opt = map { $_->[0] => ($_->[2] // {}) } @shapes, @derived;

# the state of the partitions, and whether 6.4 kB keys are written yet
my $p3_attached = 0;
my $p4_exists = 0;
my $long_keys = 0;

sub pick { return $_[ int(rand(@_)) ]; }
sub maybe_null { my ($p, $v) = @_; return rand() < $p ? 'NULL' : $v; }

# a 6.4 kB text value that does not compress: one of three
sub long_value
{
	my $variant = int(rand(3));
	return "(SELECT string_agg(md5(i::text || '$variant'), '') FROM generate_series(1, 200) i)";
}

# One random write to table $t (f, d, e, p, s, c or w33).  $concurrent: a
# statement for the concurrent writer, which runs while partitions may be
# attached or detached (so it only writes January and February).
sub random_write
{
	my ($t, $concurrent) = @_;
	my $r = rand();
	if ($t eq 'f')
	{
		my $id = int(rand(400));
		my $a = maybe_null(0.2, int(rand(12)));
		my $b = maybe_null(0.25, int(rand(10)));
		my $g = maybe_null(0.2, "'g" . int(rand(6)) . "'");
		my $x = rand() < 0.04
		  ? "'" . pick('NaN', 'Infinity', '-Infinity') . "'"
		  : maybe_null(0.15, sprintf('%.2f', rand(100)));
		my $ts = "'2026-01-01 00:00+00'::timestamptz + interval '" . int(rand(96)) . " hours'";
		return "INSERT INTO src.f VALUES ($id, $a, $b, $g, $x, $ts) ON CONFLICT (id) DO UPDATE SET a = EXCLUDED.a, x = EXCLUDED.x"
		  if $r < 0.5;
		return "UPDATE src.f SET a = $a, g = $g WHERE id % 17 = " . int(rand(17)) if $r < 0.65;
		# rows change groups and join partners
		return "UPDATE src.f SET b = $b WHERE id % 19 = " . int(rand(19)) if $r < 0.75;
		return "DELETE FROM src.f WHERE id % 23 = " . int(rand(23));
	}
	if ($t eq 'd')
	{
		my $k = int(rand(10));
		my $name = maybe_null(0.2, "'n" . int(rand(4)) . "'");
		my $cat = maybe_null(0.2, "'c" . int(rand(3)) . "'");
		return "INSERT INTO src.d VALUES ($k, $name, $cat) ON CONFLICT (k) DO UPDATE SET name = EXCLUDED.name, cat = EXCLUDED.cat"
		  if $r < 0.7;
		return "UPDATE src.d SET cat = $cat WHERE k % 3 = " . int(rand(3)) if $r < 0.85;
		return "DELETE FROM src.d WHERE k = $k";
	}
	if ($t eq 'e')
	{
		my $cat = maybe_null(0.2, "'c" . int(rand(3)) . "'");
		return $r < 0.5
		  ? "INSERT INTO src.e VALUES ($cat, " . int(rand(5)) . ")"
		  : "DELETE FROM src.e WHERE ctid IN (SELECT ctid FROM src.e LIMIT 1)";
	}
	if ($t eq 'p')
	{
		my @months = (1, 2);
		push @months, 3 if $p3_attached && !$concurrent;
		push @months, 4 if $p4_exists && !$concurrent;
		my $day = sprintf('2026-%02d-%02d', pick(@months), 1 + int(rand(28)));
		my $row = int(rand(5)) . ", " . int(rand(100));
		return "INSERT INTO src.p VALUES ($row, '$day')" if $r < 0.55;
		return "DELETE FROM src.p WHERE k = " . int(rand(5)) . " AND v % 3 = 0" if $r < 0.75;
		return "UPDATE src.p SET k = " . int(rand(5)) . " WHERE v % 7 = " . int(rand(7)) if $r < 0.85;
		return "SELECT 1" if $concurrent;
		# straight into the partitions that come and go: captured when attached
		return "INSERT INTO src.p3 VALUES ($row, '2026-03-" . sprintf('%02d', 1 + int(rand(28))) . "')"
		  if $r < 0.93;
		return "INSERT INTO src.p4 VALUES ($row, '2026-04-" . sprintf('%02d', 1 + int(rand(28))) . "')"
		  if $p4_exists;
		return "SELECT 1";
	}
	if ($t eq 's')
	{
		my $id = int(rand(120));
		my $ck = maybe_null(0.15, "'" . pick('a', 'A', 'b', 'B', 'Ab', 'aB') . "'");
		my $w = maybe_null(0.15, pick("'x'", "'X'", "'y'", "'Y'", "'ss'", "U&'\\00DF'", "'SS'"));
		my $nv = maybe_null(0.1, "'" . pick('1', '1.0', '1.00', '2.5', '2.50', '-1.5', '0', '0.000',
				'7', 'NaN', 'Infinity', '-Infinity') . "'");
		my $fx = maybe_null(0.1, "'" . pick('0', '-0', '1.5', '2', '-0.5', 'NaN', 'Infinity', '-Infinity') . "'");
		my $lk = $long_keys && rand() < 0.15 ? long_value() : maybe_null(0.1, "'k" . int(rand(4)) . "'");
		my $v = int(rand(10));
		return "INSERT INTO src.s VALUES ($id, $ck, $w, $nv, $fx, $lk, $v) ON CONFLICT (id) DO UPDATE"
		  . " SET ck = EXCLUDED.ck, nv = EXCLUDED.nv, fx = EXCLUDED.fx, lk = EXCLUDED.lk"
		  if $r < 0.35;
		my $where = "WHERE id % 7 = " . int(rand(7));
		# identity changes: equal values written differently
		return "UPDATE src.s SET ck = " . pick('upper', 'lower') . "(ck) $where" if $r < 0.45;
		return "UPDATE src.s SET w = " . pick('upper', 'lower') . "(w) $where" if $r < 0.52;
		return "UPDATE src.s SET nv = round(nv, " . int(rand(4)) . ") $where" if $r < 0.6;
		return "UPDATE src.s SET fx = " . pick('-fx', 'fx * 0', 'fx + 0') . " $where" if $r < 0.66;
		# rows move between groups
		return "UPDATE src.s SET v = (v + 1) % 10 $where" if $r < 0.74;
		return "UPDATE src.s SET lk = $lk $where" if $r < 0.8;
		return "DELETE FROM src.s WHERE id % 13 = " . int(rand(13));
	}
	if ($t eq 'c')
	{
		my $ck = pick('a', 'A', 'b', 'B', 'ab', 'AB');
		return "INSERT INTO src.c VALUES ('$ck', 'l" . int(rand(3)) . "') ON CONFLICT (ck) DO UPDATE SET label = EXCLUDED.label"
		  if $r < 0.5;
		# the key changes its letters, not its identity under citext
		return "UPDATE src.c SET ck = " . pick('upper', 'lower') . "(ck) WHERE ck = '$ck'" if $r < 0.8;
		return "DELETE FROM src.c WHERE ck = '$ck'";
	}
	if ($t eq 'q')
	{
		my $k = maybe_null(0.2, int(rand(12)));
		my $cat = maybe_null(0.2, "'c" . int(rand(3)) . "'");
		my $v = maybe_null(0.15, int(rand(10)));
		return "INSERT INTO src.q VALUES ($k, $cat, $v), ($k, $cat, $v)" if $r < 0.2;
		return "INSERT INTO src.q VALUES ($k, $cat, $v)" if $r < 0.45;
		# key changes, NULLs written into join columns
		return "UPDATE src.q SET k = $k WHERE v % 5 = " . int(rand(5)) if $r < 0.6;
		return "UPDATE src.q SET cat = $cat, v = $v WHERE k = " . int(rand(12)) if $r < 0.7;
		return "DELETE FROM src.q WHERE ctid IN (SELECT ctid FROM src.q WHERE k IS NOT DISTINCT FROM $k LIMIT 2)" if $r < 0.9;
		return "DELETE FROM src.q WHERE v = " . int(rand(10));
	}
	# w33
	my $id = int(rand(60));
	my $vals = join(', ', (map { maybe_null(0.05, int(rand(20))) } 1 .. 31), maybe_null(0.1, "'t" . int(rand(5)) . "'"));
	return "INSERT INTO src.w33 VALUES ($id, $vals) ON CONFLICT (id) DO UPDATE SET c1 = EXCLUDED.c1, c7 = EXCLUDED.c7, c32 = EXCLUDED.c32"
	  if $r < 0.5;
	my $c = 1 + int(rand(31));
	return "UPDATE src.w33 SET c$c = c$c + 1 WHERE id % 5 = " . int(rand(5)) if $r < 0.8;
	return "DELETE FROM src.w33 WHERE id % 11 = " . int(rand(11));
}

# $n random writes, ";\n"-separated, to the tables of @$tables (default all)
my %weight = (f => 40, d => 8, e => 5, p => 12, s => 25, c => 4, w33 => 6, q => 10);
sub random_writes
{
	my ($n, %o) = @_;
	my @tables = @{ $o{tables} // [ sort keys %weight ] };
	my $total = 0;
	$total += $weight{$_} for @tables;
	my @sql;
	for (1 .. $n)
	{
		my $pickt = rand($total);
		my $t;
		foreach (@tables)
		{
			$t = $_;
			last if ($pickt -= $weight{$_}) < 0;
		}
		push @sql, random_write($t, $o{concurrent});
	}
	return join(";\n", @sql) . ";\n";
}

# partitions come and go: src.p3 (March) is attached and detached, src.p4
# (April) created as a partition, truncated alone, detached or dropped
sub partition_ddl
{
	my @sql;
	if (rand() < 0.35)
	{
		push @sql, $p3_attached
		  ? "ALTER TABLE src.p DETACH PARTITION src.p3"
		  : "ALTER TABLE src.p ATTACH PARTITION src.p3 FOR VALUES FROM ('2026-03-01') TO ('2026-04-01')";
		$p3_attached = !$p3_attached;
	}
	if (rand() < 0.25)
	{
		if (!$p4_exists)
		{
			push @sql, "CREATE TABLE src.p4 PARTITION OF src.p FOR VALUES FROM ('2026-04-01') TO ('2026-05-01')";
		}
		elsif (rand() < 0.5)
		{
			push @sql, "ALTER TABLE src.p DETACH PARTITION src.p4", "DROP TABLE src.p4";
		}
		else
		{
			push @sql, "DROP TABLE src.p4";
		}
		$p4_exists = !$p4_exists;
	}
	return join(";\n", @sql) . (@sql ? ";\n" : '');
}

# the main session's writes of a round, in one transaction
sub round_writes
{
	my $writes = random_writes(30 + int(rand(60)));
	$writes .= "TRUNCATE src.e;\n" if rand() < 0.08;
	$writes .= "TRUNCATE src.p2;\n" if rand() < 0.08;
	$writes .= "TRUNCATE src.p3;\n" if $p3_attached && rand() < 0.15;
	$writes .= "TRUNCATE src.p4;\n" if $p4_exists && rand() < 0.15;
	return "BEGIN;\n$writes COMMIT;\n";
}

# initial data
$node->safe_psql('postgres', random_writes(700));

# declare an output; those in full mode show why
sub declare
{
	my ($product, $name, $query) = @_;
	if (my $reason = $opt{$name}{full})
	{
		# auto mode chooses full refresh; the worker refreshes it on its schedule
		my $out = $node->safe_psql('postgres',
			"SELECT dataproduct.add_output('dt.$product', '$name', \$q\$$query\$q\$, schedule => '1 second')");
		is($out, "dt.$name", "declared $name");
		like($node->safe_psql('postgres', "SELECT mode || ': ' || mode_reason FROM dataproduct.outputs WHERE output = 'dt.$name'::regclass"),
			qr/^full: /, "$name is refreshed in full");
		like($node->safe_psql('postgres', "SELECT mode_reason FROM dataproduct.outputs WHERE output = 'dt.$name'::regclass"),
			$reason, "$name says why");
		return;
	}
	my $schedule = $opt{$name}{long} ? ", schedule => '1 second'" : '';
	my $out = $node->safe_psql('postgres',
		"SELECT dataproduct.add_output('dt.$product', '$name', \$q\$$query\$q\$, refresh => 'incremental'$schedule)");
	is($out, "dt.$name", "declared $name incrementally");
	$node->safe_psql('postgres', "SELECT dataproduct.refresh('dt.$name')");
}
declare('shapes', @$_) foreach @shapes;
declare('derived', @$_) foreach @derived;

my @incremental = grep { !$opt{$_}{full} } map { $_->[0] } @shapes, @derived;
is($node->safe_psql('postgres', "SELECT string_agg(name, ',' ORDER BY name) FROM dataproduct.outputs WHERE mode = 'incremental'"),
	join(',', sort @incremental), 'every other shape is maintained incrementally');

# the twins, refreshed in full
foreach my $shape (@shapes, @derived)
{
	my ($name, $query) = @$shape;
	$node->safe_psql('postgres',
		"SELECT dataproduct.add_output('dt.twins', 'full_$name', \$q\$$query\$q\$, refresh => 'full')");
}

my @base_names = map { $_->[0] } @shapes;
my @derived_names = map { $_->[0] } @derived;

# A script refreshing every output once, in a random way: output by output
# in autocommit, or several in one transaction (read committed or
# repeatable read; some rolled back, then done again).  Outputs built on
# outputs come after those, in transactions of their own (an output cannot
# be refreshed in the transaction that changed one of its sources).
sub refresh_script
{
	my $sql = '';
	my @names = shuffle(@base_names);
	if (rand() < 0.5)
	{
		$sql .= "SELECT dataproduct.refresh('dt.$_');\n" for @names;
	}
	else
	{
		while (my @chunk = splice(@names, 0, 1 + int(rand(6))))
		{
			my $refreshes = join('', map { "SELECT dataproduct.refresh('dt.$_');\n" } @chunk);
			my $begin = rand() < 0.3 ? "BEGIN ISOLATION LEVEL REPEATABLE READ;\n" : "BEGIN;\n";
			$sql .= "$begin$refreshes" . "ROLLBACK;\n" if rand() < 0.15;
			$sql .= "$begin$refreshes" . "COMMIT;\n";
		}
	}
	foreach (@derived_names)
	{
		$sql .= rand() < 0.5
		  ? "SELECT dataproduct.refresh('dt.$_');\n"
		  : "BEGIN;\nSELECT dataproduct.refresh('dt.$_');\nCOMMIT;\n";
	}
	return $sql;
}

# Start a session running $sql in the background; it reads a file and
# writes files, so it runs on its own without being pumped.  Returns the
# harness and a function giving its stderr.
my $sessions = 0;
sub start_psql
{
	my ($sql) = @_;
	my $base = "$PostgreSQL::Test::Utils::tmp_check/session_" . $sessions++;
	PostgreSQL::Test::Utils::append_to_file("$base.sql", $sql);
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-f', "$base.sql" ],
		'<', \undef, '>', "$base.out", '2>', "$base.err");
	return ($h, sub { PostgreSQL::Test::Utils::slurp_file("$base.err") });
}

# a statement comparing an output to its query recomputed now
sub compare_sql
{
	my ($name, $query) = @_;
	my ($q, $o) = $opt{$name}{loose}
	  ? ("$query", "SELECT * FROM dt.$name")
	  : ("SELECT q::text FROM ($query) q", "SELECT o::text FROM dt.$name o");
	return "SELECT '$name', (SELECT count(*) FROM (($q) EXCEPT ALL ($o)) m),"
	  . " (SELECT count(*) FROM (($o) EXCEPT ALL ($q)) x);\n";
}
my $compare_all = join('', map { compare_sql(@$_) } @shapes, @derived);

sub check_all
{
	my ($label) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $compare_all, on_error_stop => 0);
	my %got;
	foreach (split /\n/, $out)
	{
		my ($name, $missing, $extra) = split /\|/;
		$got{$name} = "$missing missing, $extra extra";
	}
	foreach my $shape (@shapes, @derived)
	{
		my $name = $shape->[0];
		is($got{$name} // "error: $err", '0 missing, 0 extra', "$label: $name equals its query");
	}
}

# the session that holds locks on sources while refreshes run
my $holder = $node->background_psql('postgres');
# its timeout counts per query, not for the whole (long) test
$holder->set_query_timer_restart();
my $races = 0;

# One race: the holder locks a source; refreshes run (a refresher session,
# or the worker); writes to the other sources commit meanwhile; the holder
# writes to its source and commits or rolls back.
sub lock_race
{
	my ($label, $by_worker) = @_;
	# (table, lock, a table whose changes make the worker refresh an output
	# reading both); every other race makes a refresh wait
	my @locks = (
		[ 'd', 'ACCESS EXCLUSIVE', 'f' ],
		[ 's', 'ACCESS EXCLUSIVE', 'f' ],
		[ 'p', 'ACCESS EXCLUSIVE', 'd' ],
		[ 'e', 'ACCESS EXCLUSIVE', 'f' ]);
	push @locks, [ 'd', 'SHARE', 'f' ], [ 's', 'EXCLUSIVE', 'f' ], [ 'f', 'rows', 's' ]
	  if $races++ % 2;
	# with DP_ONLY, the outer joins (of d, e and f) are the refreshes that wait
	@locks = grep { $_->[0] =~ /^[def]$/ } @locks if $ENV{DP_ONLY};
	my ($table, $mode, $companion) = @{ pick(@locks) };
	my @others = grep { $_ ne $table } sort keys %weight;
	$holder->query_safe('BEGIN');
	if ($mode eq 'rows')
	{
		$holder->query_safe('SELECT count(*) FROM (SELECT id FROM src.f WHERE id % 11 = ' . int(rand(11)) . ' FOR UPDATE) l');
	}
	else
	{
		$holder->query_safe("LOCK TABLE src.$table IN $mode MODE");
	}
	my ($refresher, $rerr) = $by_worker ? () : start_psql(refresh_script());
	# changes that make the worker refresh an output reading the locked table
	$node->safe_psql('postgres', random_writes(4, tables => [$companion]));
	if ($mode eq 'ACCESS EXCLUSIVE')
	{
		# a refresh took its snapshot and waits for the lock
		my $waits = $node->poll_query_until('postgres',
			"SELECT count(*) > 0 FROM pg_locks WHERE NOT granted AND relation = 'src.$table'::regclass");
		ok($waits, "$label: a refresh waits for the lock on src.$table");
	}
	# changes committed after the waiting refresh's snapshot: the trim race
	$node->safe_psql('postgres', random_writes(3, tables => \@others)) for 1 .. 4;
	$holder->query_safe(random_writes(3, tables => [$table]));
	$holder->query_safe(rand() < 0.2 ? 'ROLLBACK' : 'COMMIT');
	if ($refresher)
	{
		$refresher->finish;
		is($?, 0, "$label: refreshes under the lock on src.$table ($mode) succeeded") or diag($rerr->());
	}
}

# a concurrent writer, its statements spaced out
sub start_writer
{
	my ($n) = @_;
	my $sql = random_writes($n, concurrent => 1);
	$sql =~ s/;\n/; SELECT pg_sleep(0.005);\n/g;
	return start_psql($sql);
}

check_all('initial load');

#
# Phase 1: refreshes by hand.
#
for my $round (1 .. $rounds)
{
	my $kind = $round % 3 == 0 ? 'concurrent' : $round % 3 == 1 ? 'locks' : 'plain';
	if ($round == int(($rounds + 1) / 2))
	{
		# from now on, 6.4 kB keys: their outputs switch to full refresh
		$long_keys = 1;
		$node->safe_psql('postgres', "INSERT INTO src.s VALUES (1000, 'a', 'x', 1, 1, " . long_value() . ", 0)");
		my @long = grep { $opt{$_} } 'long_key', 'long_rows';
		$node->safe_psql('postgres', "SELECT dataproduct.refresh('dt.$_')") foreach @long;
		foreach my $name (@long)
		{
			like($node->safe_psql('postgres', "SELECT mode || ': ' || mode_reason FROM dataproduct.outputs WHERE output = 'dt.$name'::regclass"),
				qr/^full: its query (?:groups by|returns) a value too large for its store's index/,
				"round $round: $name switched to full refresh on a 6.4 kB key, with the reason");
		}
	}
	if ($kind eq 'concurrent')
	{
		my ($writer, $werr) = start_writer(80);
		$node->safe_psql('postgres', refresh_script());
		$node->safe_psql('postgres', partition_ddl());
		$node->safe_psql('postgres', refresh_script());
		$writer->finish;
		is($?, 0, "round $round: concurrent writer finished") or diag($werr->());
	}
	else
	{
		$node->safe_psql('postgres', partition_ddl());
	}
	lock_race("round $round", 0) if $kind eq 'locks';
	$node->safe_psql('postgres', round_writes());
	$node->safe_psql('postgres', refresh_script());
	check_all("round $round ($kind)");
}

#
# Phase 2: refreshes by the worker.
#
$node->safe_psql('postgres', 'ALTER SYSTEM SET dataproduct.enabled = on');
$node->reload;
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_dataproduct scheduler'"),
	'the scheduler starts');

# the worker is done when no incremental output has changes pending and
# every output refreshed in full (on its schedule; not the twins, which have
# none) recorded a snapshot that sees a fence transaction committed after
# every write
sub wait_for_worker
{
	my ($label) = @_;
	my $fence = $node->safe_psql('postgres', 'SELECT pg_current_xact_id()');
	my $behind = qq{
		SELECT o.name FROM dataproduct.output o JOIN dataproduct.product p USING (product_id)
		 WHERE p.name <> 'twins'
		   AND (o.last_error IS NOT NULL
		        OR CASE WHEN o.mode = 'incremental'
		                THEN (dataproduct.pending_changes(o.view)).pending > 0
		                ELSE o.snapshot IS NULL OR NOT pg_visible_in_snapshot('$fence'::xid8, o.snapshot) END)};
	my $done = $node->poll_query_until('postgres', "SELECT count(*) = 0 FROM ($behind) b");
	ok($done, "$label: the worker caught up")
	  or diag($node->safe_psql('postgres', qq{
		SELECT name, mode, last_refresh_kind, last_error, (dataproduct.pending_changes(output)).pending
		  FROM dataproduct.outputs WHERE name IN ($behind)}));
}

wait_for_worker('worker start');
check_all('worker start');
my $worker_rounds = 2 + int($rounds / 3);
for my $round (1 .. $worker_rounds)
{
	my ($writer, $werr) = start_writer(60);
	# manual refreshes of single outputs race the worker's
	$node->safe_psql('postgres', join('', map { "SELECT dataproduct.refresh('dt.$_');\n" }
		  (shuffle(@base_names))[ 0 .. 3 ]));
	$node->safe_psql('postgres', partition_ddl());
	$writer->finish;
	is($?, 0, "worker round $round: concurrent writer finished") or diag($werr->());
	lock_race("worker round $round", 1);
	$node->safe_psql('postgres', round_writes());
	wait_for_worker("worker round $round");
	check_all("worker round $round");
}
# (DP_ONLY may leave no output refreshed in full on a schedule)
my $some_full = (grep { $opt{$_}{full} || $opt{$_}{long} } keys %opt) ? 'true' : 'false';
is($node->safe_psql('postgres', qq{
	SELECT count(*) FILTER (WHERE kind = 'incremental') > 0 AND (count(*) FILTER (WHERE kind = 'full') > 0 OR NOT $some_full)
	  FROM dataproduct.refreshes WHERE by_worker AND error IS NULL}),
	't', 'the worker refreshed outputs, incrementally and in full');

#
# Phase 3: what refreshes return, the worker off again.
#
$node->safe_psql('postgres', 'ALTER SYSTEM SET dataproduct.enabled = off');
$node->reload;
# (the scheduler exits, and its refresh workers end)
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity"
	  . " WHERE backend_type IN ('pg_dataproduct scheduler', 'pg_dataproduct refresh')")
  or die "the scheduler did not stop";

# the twins of outputs whose query does not determine its text are left
# out: their rows may differ in bytes while being equal
my @counted = grep { !$opt{$_}{loose} } @base_names, @derived_names;
my $refresh_pairs = join('', map {
	$opt{$_}{loose}
	  ? "SELECT dataproduct.refresh('dt.$_') \\g /dev/null\n"
	  : "SELECT '$_', dataproduct.refresh('dt.$_'), dataproduct.refresh('dt.full_$_');\n" } @base_names, @derived_names);
$node->safe_psql('postgres', join('', map { "SELECT dataproduct.refresh('dt.$_'), dataproduct.refresh('dt.full_$_');\n" }
	  @base_names, @derived_names));
for my $round (1 .. 1 + int($rounds / 3))
{
	$node->safe_psql('postgres', partition_ddl());
	my $writes = random_writes(5 + int(rand(40)));
	$writes .= "TRUNCATE src.e;\n" if rand() < 0.15;
	$node->safe_psql('postgres', "BEGIN;\n$writes COMMIT;");
	my %counts = map { my ($n, $i, $f) = split /\|/; ($n => [ $i, $f ]) }
	  split /\n/, $node->safe_psql('postgres', $refresh_pairs);
	foreach my $name (@counted)
	{
		is($counts{$name}[0], $counts{$name}[1], "counts $round: $name returns the count of its full twin");
	}
	check_all("counts $round");
}

# every batch of the outer joins was applied, none recomputed because its
# delta failed: their one rebuild is the first refresh (src.e is truncated)
my %query = map { $_->[0] => $_->[1] } @shapes, @derived;
foreach my $name (grep { /^(oj_|on_outer|outer_on)/ && $query{$_} !~ /src\.e\b/ } @incremental)
{
	is($node->safe_psql('postgres', "SELECT count(*) FROM dataproduct.refreshes WHERE output = 'dt.$name'::regclass AND kind = 'rebuild'"),
		'1', "$name: every batch was applied incrementally");
}

# the outputs kept their modes: incremental, but for those whose keys grew
# too large
foreach my $name (@incremental)
{
	my $mode = $node->safe_psql('postgres', "SELECT mode || ': ' || coalesce(mode_reason, '') FROM dataproduct.outputs WHERE output = 'dt.$name'::regclass");
	if ($opt{$name}{long})
	{
		like($mode, qr/^full: its query (?:groups by|returns) a value too large/, "$name ends refreshed in full");
	}
	else
	{
		is($mode, 'incremental: ', "$name is still maintained incrementally");
	}
}

# the change logs do not grow without bound: every consumer is up to date
my $logs = $node->safe_psql('postgres', q{
	SELECT string_agg(format('SELECT %L, count(*) FROM %s', log::regclass, log::regclass), ' UNION ALL ')
	  FROM dataproduct.source});
is($node->safe_psql('postgres', "SELECT coalesce(sum(count), 0) FROM ($logs) l"),
	'0', 'change logs trimmed once every consumer applied them');

$holder->query_safe('SELECT 1');
$holder->quit;
$node->stop;
done_testing();
