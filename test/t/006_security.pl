# The attacks of the security issue, one block per class.  Every attack is
# made by a non-superuser login role that owns a domain and a product (and
# a schema of its own), and aims at a superuser: one who calls the API on
# the attacker's product, one who merely reads its output, or the
# background worker.  Each assertion states what must hold when the attack
# fails, and prints what it observed.
#
#   class 1  owner code changes session state (search_path, other GUCs) that
#            the extension's own statements, run as the catalog owner, and
#            the caller's session then run under
#   class 3  owner code runs as the reader of an output view
#   class 4  rows hidden by HAVING leak to a reader's leaky function
#   class 5  change logs outlive REVOKE, RLS and drop_output
#   class 6  refresh errors publish source values to everyone
#   class 7  draft products are listed to everyone
#   class 8  extreme intervals and counters make the scheduler fail
#   class 9  one huge description makes search() fail for everyone
#   extra    holes found on the way: captured domain columns, the capture
#            trigger guard
#
# Phase 1 runs with the worker off (database "app"), so that refreshes
# happen only where the test calls them; phase 2 turns it on (database
# "wk") for the attacks on the worker and on the scheduler.
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('security');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_dataproduct'
dataproduct.enabled = off
dataproduct.naptime = 200
max_worker_processes = 16
});
$node->start;

my $db = 'app';
my $su = $node->safe_psql('postgres', 'SELECT current_user');
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', 'CREATE EXTENSION pg_dataproduct');

# ---------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------

sub sq { my ($s) = @_; $s =~ s/'/''/g; return "'$s'"; }

# as the superuser, or as a role; dies on error
sub su_sql { return $node->safe_psql($db, $_[0]); }

sub as_sql
{
	my ($role, $sql) = @_;
	return $node->safe_psql($db, $sql, extra_params => [ '-U', $role ]);
}

# one session of $role (undef: the superuser), going on after errors;
# returns (stdout, stderr)
sub session
{
	my ($role, $sql, %opts) = @_;
	my ($out, $err) = ('', '');
	$node->psql($opts{db} // $db, $sql,
		stdout => \$out, stderr => \$err, on_error_stop => 0,
		defined $role ? (extra_params => [ '-U', $role ]) : ());
	return ($out, $err);
}

# One session of $role running each query through pg_temp.try(), which
# returns its one value, or "ERROR <sqlstate>: <message> HINT: <hint>".
# Returns { label => result }.
sub probe
{
	my ($role, @pairs) = @_;
	my $sql = q{
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE r text; st text; msg text; hint text;
BEGIN
  EXECUTE q INTO r;
  RETURN coalesce(r, '(null)');
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
  RETURN format('ERROR %s: %s%s', st, msg, CASE WHEN hint <> '' THEN ' HINT: ' || hint ELSE '' END);
END $f$;
};
	my @labels;
	while (my ($label, $q) = splice(@pairs, 0, 2))
	{
		push @labels, $label;
		$sql .= "SELECT " . sq($label) . ", pg_temp.try(" . sq($q) . ");\n";
	}
	my ($out, $err) = session($role, $sql);
	my %r = map { /^([^|]*)\|(.*)$/ ? ($1 => $2) : () } split /\n/, $out;
	$r{$_} //= "(no result: $err)" for @labels;
	return \%r;
}

# poll a query until it returns 't', for at most $seconds
sub wait_for
{
	my ($sql, $seconds, $dbname) = @_;
	my $until = time() + $seconds;
	while (time() < $until)
	{
		my ($out, $err) = session(undef, $sql, db => $dbname // $db);
		chomp $out;
		return 1 if $out eq 't';
		usleep(100_000);
	}
	return 0;
}

# The session settings owner code may try to change, read without any
# operator or unqualified name (the reading must not be attackable itself).
my @gucs = (
	'search_path', 'statement_timeout', 'lock_timeout', 'extra_float_digits',
	'DateStyle', 'TimeZone', 'IntervalStyle', 'work_mem',
	'client_min_messages', 'row_security', 'application_name',
	'dataproduct.full_refresh_fraction', 'role', 'session_authorization');
my %evil = (
	statement_timeout => '4321s',
	lock_timeout => '4321ms',
	extra_float_digits => '-3',
	DateStyle => 'SQL, DMY',
	TimeZone => 'Asia/Kathmandu',
	IntervalStyle => 'sql_standard',
	work_mem => '4321kB',
	client_min_messages => 'warning',
	row_security => 'off',
	application_name => 'owned',
	'dataproduct.full_refresh_fraction' => '-1');
my $settings = join(', ',
	(map { "pg_catalog.current_setting('$_')" } @gucs),
	'current_user', 'session_user');

# Run $call in one session of $role (undef: the superuser) between two
# readings of its settings, then mark the end of the call in $atk's record
# and run one plain query of the caller's own, which owner code must never
# reach.  Returns the settings before and after.
sub around
{
	my ($role, $call, $atk) = @_;
	my ($out, $err) = session($role, qq{
SELECT 'before', $settings;
$call;
SELECT 'after', $settings;
INSERT INTO ${atk}_lib.seen (kind, tag) VALUES ('mark', 'end of the call');
SELECT 'later', count(*) FROM pg_catalog.pg_class WHERE relname = 'pg_class' AND relnamespace = 11;
});
	my ($before) = $out =~ /^before\|(.*)$/m;
	my ($after) = $out =~ /^after\|(.*)$/m;
	note("$call:\n$err") if $err =~ /ERROR/;
	return ($before // "(no reading: $err)", $after // "(no reading: $err)");
}

# What the attacker's record shows, then a clean slate for the next attack
# (armed as $arm_next).  Owner code that ran as anybody but the owner (or
# $heir, a new owner) is listed as "kind: tag as role (superuser) in
# backend", during the call ('call': before the mark around() sets) and in
# the caller's own statements after it ('later').
sub observe_and_reset
{
	my ($atk, $arm_next, $heir) = @_;
	my $s = "${atk}_lib";
	my $owners = "'$atk'" . (defined $heir ? ", '$heir'" : '');
	my $mark = "(SELECT min(n) FROM $s.seen WHERE kind = 'mark')";
	my $runs = sub {
		my ($cond) = @_;
		return qq{(SELECT coalesce(string_agg(DISTINCT format('%s: %s as %s%s%s', kind, tag, who,
		                   CASE WHEN super THEN ' (superuser)' ELSE '' END,
		                   CASE WHEN backend <> 'client backend' THEN ' in ' || backend ELSE '' END), '; '), '')
		             FROM $s.seen WHERE kind <> 'mark' AND $cond
		              AND (who IS NULL OR who NOT IN ($owners) OR super))};
	};
	my $out = su_sql(qq{
		SELECT json_build_object(
		  'ran', (SELECT is_called FROM $s.ran_seq),
		  'call', @{[ $runs->("n < coalesce($mark, 'infinity'::numeric)") ]},
		  'later', @{[ $runs->("n > $mark") ]},
		  'super', (SELECT rolsuper FROM pg_roles WHERE rolname = '$atk'),
		  'identity', (SELECT coalesce(string_agg(DISTINCT tag, '; '), '') FROM $s.seen WHERE kind = 'identity'),
		  'refused', (SELECT coalesce(string_agg(DISTINCT tag, '; ' ORDER BY tag), '') FROM $s.seen
		               WHERE kind = 'setter' AND tag LIKE '%refused%'));
		ALTER ROLE $atk NOSUPERUSER;
		TRUNCATE $s.seen;
		SELECT FROM pg_catalog.setval('$s.ran_seq', 1, false);
		UPDATE $s.ctl SET armed = $arm_next;
	});
	return decode_json((split /\n/, $out)[0]);
}

# The checks after one attack: its code ran, only as the owner; the
# attacker is not a superuser; and, for a caller observed by around(), its
# settings are unchanged and its own later statements run no owner code.
sub attack_failed
{
	my ($label, $obs, $atk, $before, $after) = @_;
	ok($obs->{ran}, "$label: (the owner's code did run)");
	is($obs->{call}, '', "$label: owner code ran as nobody but the owner");
	is($obs->{super} ? 'superuser' : 'not superuser', 'not superuser',
		"$label: $atk is not a superuser afterwards");
	if (defined $before)
	{
		is($after, $before, "$label: the caller's session settings are unchanged");
		is($obs->{later}, '', "$label: the caller's own next statement runs no owner code");
	}
}

# One attack through one entry point: $call run by $caller (undef: a
# superuser), then the checks.
sub step
{
	my ($label, $atk, $caller, $call, $arm_next, $heir) = @_;
	my ($before, $after) = around($caller, $call, $atk);
	my $obs = observe_and_reset($atk, $arm_next, $heir);
	attack_failed($label, $obs, $atk, (defined $caller && $caller eq $atk) ? () : ($before, $after));
	return $obs;
}


# Operators the payload shadows: every comparison of the types the catalog
# and the generated statements use, and the other operators they use.
my @operators;
for my $t ('text', 'bigint', 'integer', 'smallint', 'oid', 'name', 'boolean',
	'xid8', 'tid', 'interval', 'timestamptz', 'numeric', 'jsonb', '"char"')
{
	push @operators, [ $_, $t, $t, 'boolean' ] for ('=', '<>', '<', '>', '<=', '>=');
}
for my $pair ([ 'regclass', 'regclass' ], [ 'regclass', 'oid' ], [ 'oid', 'regclass' ],
	[ 'regrole', 'regrole' ], [ 'name', 'text' ], [ 'text', 'name' ])
{
	push @operators, [ $_, @$pair, 'boolean' ] for ('=', '<>');
}
for my $pair ([ 'bigint', 'integer' ], [ 'integer', 'bigint' ])
{
	push @operators, [ $_, @$pair, 'boolean' ] for ('=', '<>', '<', '>', '<=', '>=');
}
push @operators,
  [ '||', 'text', 'text', 'text' ],
  [ '||', 'text[]', 'text', 'text[]' ],
  [ '->>', 'jsonb', 'text', 'text' ],
  [ '->', 'jsonb', 'text', 'jsonb' ],
  [ '?', 'jsonb', 'text', 'boolean' ],
  [ '~~', 'text', 'text', 'boolean' ],
  [ '!~~', 'text', 'text', 'boolean' ],
  [ '+', 'integer', 'integer', 'integer' ],
  [ '+', 'bigint', 'bigint', 'bigint' ],
  [ '+', 'timestamptz', 'interval', 'timestamptz' ],
  [ '-', 'timestamptz', 'interval', 'timestamptz' ],
  [ '-', 'timestamptz', 'timestamptz', 'interval' ],
  [ '*', 'interval', 'double precision', 'interval' ];

# Functions (and aggregates) the payload shadows, with the signatures of
# pg_catalog's: [name, args, result, body over $1, $2...].
my @functions = (
	[ 'now', '', 'timestamptz', 'pg_catalog.now()' ],
	[ 'clock_timestamp', '', 'timestamptz', 'pg_catalog.clock_timestamp()' ],
	[ 'statement_timestamp', '', 'timestamptz', 'pg_catalog.statement_timestamp()' ],
	[ 'power', 'double precision, double precision', 'double precision', 'pg_catalog.power($1, $2)' ],
	[ 'power', 'numeric, numeric', 'numeric', 'pg_catalog.power($1, $2)' ],
	[ 'nextval', 'regclass', 'bigint', 'pg_catalog.nextval($1)' ],
	[ 'current_setting', 'text', 'text', 'pg_catalog.current_setting($1)' ],
	[ 'set_config', 'text, text, boolean', 'text', 'pg_catalog.set_config($1, $2, $3)' ],
	[ 'pg_current_snapshot', '', 'pg_snapshot', 'pg_catalog.pg_current_snapshot()' ],
	[ 'pg_visible_in_snapshot', 'xid8, pg_snapshot', 'boolean', 'pg_catalog.pg_visible_in_snapshot($1, $2)' ],
	[ 'pg_snapshot_xmin', 'pg_snapshot', 'xid8', 'pg_catalog.pg_snapshot_xmin($1)' ],
	[ 'pg_current_xact_id', '', 'xid8', 'pg_catalog.pg_current_xact_id()' ],
	[ 'lower', 'text', 'text', 'pg_catalog.lower($1)' ],
	[ 'quote_ident', 'text', 'text', 'pg_catalog.quote_ident($1)' ],
	[ 'to_jsonb', 'anyelement', 'jsonb', 'pg_catalog.to_jsonb($1)' ],
	[ 'has_table_privilege', 'oid, text', 'boolean', 'pg_catalog.has_table_privilege($1, $2)' ],
	[ 'col_description', 'oid, integer', 'text', 'pg_catalog.col_description($1, $2)' ],
	[ 'format_type', 'oid, integer', 'text', 'pg_catalog.format_type($1, $2)' ],
	[ 'date_trunc', 'text, timestamptz', 'timestamptz', 'pg_catalog.date_trunc($1, $2)' ],
	[ 'array_to_string', 'anyarray, text', 'text', 'pg_catalog.array_to_string($1, $2)' ],
	[ 'length', 'text', 'integer', 'pg_catalog.length($1)' ]);
my @set_functions = (
	[ 'generate_series', 'bigint, bigint', 'bigint', 'pg_catalog.generate_series($1, $2)' ],
	[ 'jsonb_array_elements_text', 'jsonb', 'text', 'pg_catalog.jsonb_array_elements_text($1)' ]);
# aggregates: [name, args, state type, state function body, initcond]
my @aggregates = (
	[ 'count', '*', 'bigint', 'RETURN s OPERATOR(pg_catalog.+) 1', '0' ],
	[ 'sum', 'bigint', 'numeric', 'RETURN coalesce(s, 0) OPERATOR(pg_catalog.+) coalesce(x, 0)', undef ],
	[ 'sum', 'integer', 'bigint', 'RETURN coalesce(s, 0) OPERATOR(pg_catalog.+) coalesce(x, 0)', undef ],
	[ 'max', 'integer', 'integer', 'RETURN greatest(s, x)', undef ],
	[ 'min', 'integer', 'integer', 'RETURN least(s, x)', undef ],
	[ 'array_agg', 'tid', 'tid[]', 'RETURN s OPERATOR(pg_catalog.||) x', undef ],
	[ 'bool_or', 'boolean', 'boolean', 'RETURN s OR x', undef ]);
# type names used unqualified, shadowed by domains whose CHECK is the payload
my @types = ('text', 'int8', 'int4', 'int2', 'bool', 'jsonb', 'oid', 'regclass',
	'tid', 'xid8', 'pg_snapshot', 'timestamptz', 'name', 'float8', '"char"');

# Everything an attacker $atk installs in its schema ${atk}_lib: a payload
# (pwn) that records who runs it and, run as a superuser, makes $atk one;
# owner code (setter) that, once armed, changes session state as told by
# ctl; and, as asked, shadows of operators, functions and types.
sub attacker_kit
{
	my ($atk, %o) = @_;
	my $s = "${atk}_lib";
	my $sql = qq{
GRANT USAGE ON SCHEMA $s TO PUBLIC;
CREATE TABLE $s.ctl (armed boolean NOT NULL, set_path boolean NOT NULL,
                     set_gucs boolean NOT NULL, try_role boolean NOT NULL);
INSERT INTO $s.ctl VALUES (false, @{[ $o{path} ? 'true' : 'false' ]},
                           @{[ $o{gucs} ? 'true' : 'false' ]}, @{[ $o{role} ? 'true' : 'false' ]});
GRANT SELECT ON $s.ctl TO PUBLIC;
CREATE TABLE $s.seen (n bigserial, kind text, tag text, who text, super boolean, backend text);
GRANT SELECT, INSERT ON $s.seen TO PUBLIC;
GRANT USAGE ON SEQUENCE $s.seen_n_seq TO PUBLIC;
CREATE FUNCTION $s.pwn(kind text, tag text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog AS \$f\$
DECLARE su boolean;
BEGIN
  SELECT r.rolsuper INTO su FROM pg_roles r WHERE r.rolname = current_user;
  INSERT INTO $s.seen (kind, tag, who, super, backend) VALUES (kind, tag, current_user, su,
    (SELECT a.backend_type FROM pg_stat_activity a WHERE a.pid = pg_backend_pid()));
  IF su THEN
    BEGIN
      ALTER ROLE $atk SUPERUSER;
    EXCEPTION WHEN OTHERS THEN
      INSERT INTO $s.seen (kind, tag, who, super) VALUES (kind, 'ALTER ROLE failed: ' || SQLERRM, current_user, su);
    END;
  END IF;
  RETURN true;
END \$f\$;
CREATE TABLE $s.deferred_q (x int);
GRANT INSERT ON $s.deferred_q TO PUBLIC;
CREATE FUNCTION $s.deferred_trg() RETURNS trigger LANGUAGE plpgsql AS \$f\$
BEGIN PERFORM $s.pwn('identity', 'deferred trigger fired'); RETURN NULL; END \$f\$;
CREATE CONSTRAINT TRIGGER deferred AFTER INSERT ON $s.deferred_q
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION $s.deferred_trg();
-- ran_seq counts runs of the owner code even when their transaction rolls back
CREATE SEQUENCE $s.ran_seq;
GRANT USAGE ON SEQUENCE $s.ran_seq TO PUBLIC;
CREATE FUNCTION $s.setter() RETURNS boolean LANGUAGE plpgsql AS \$f\$
DECLARE
  c record;
  g text[];
BEGIN
  SELECT * INTO c FROM $s.ctl;
  IF NOT c.armed THEN RETURN true; END IF;
  PERFORM pg_catalog.nextval('$s.ran_seq');
  PERFORM $s.pwn('setter', 'owner code ran');
  IF c.set_path THEN
    BEGIN
      PERFORM pg_catalog.set_config('search_path', '$s, pg_catalog', false);
    EXCEPTION WHEN OTHERS THEN
      PERFORM $s.pwn('setter', pg_catalog.concat('SET search_path refused: ', SQLERRM));
    END;
  END IF;
  IF c.set_gucs THEN
    FOREACH g SLICE 1 IN ARRAY ARRAY[@{[ join(', ', map { "[" . sq($_) . ", " . sq($evil{$_}) . "]" } sort keys %evil) ]}]::text[] LOOP
      BEGIN
        PERFORM pg_catalog.set_config(g[1], g[2], false);
      EXCEPTION WHEN OTHERS THEN
        PERFORM $s.pwn('setter', pg_catalog.concat('SET ', g[1], ' refused: ', SQLERRM));
      END;
    END LOOP;
  END IF;
  IF c.try_role THEN
    BEGIN
      PERFORM pg_catalog.set_config('role', '$su', false);
      PERFORM $s.pwn('identity', 'SET role accepted');
    EXCEPTION WHEN OTHERS THEN
      PERFORM $s.pwn('setter', pg_catalog.concat('SET role refused: ', SQLERRM));
    END;
    BEGIN
      PERFORM pg_catalog.set_config('session_authorization', '$su', false);
      PERFORM $s.pwn('identity', 'SET session_authorization accepted');
    EXCEPTION WHEN OTHERS THEN
      PERFORM $s.pwn('setter', pg_catalog.concat('SET session_authorization refused: ', SQLERRM));
    END;
    BEGIN
      INSERT INTO $s.deferred_q VALUES (1);
    EXCEPTION WHEN OTHERS THEN
      PERFORM $s.pwn('setter', pg_catalog.concat('deferred trigger refused: ', SQLERRM));
    END;
  END IF;
  RETURN true;
END \$f\$;
-- the same, allowed in incrementally maintained outputs, folded by the
-- planner when called with a constant
CREATE FUNCTION $s.setter_imm(x int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS \$f\$
BEGIN RETURN $s.setter(); END \$f\$;
CREATE TABLE $s.src (k int, v int);
INSERT INTO $s.src SELECT g % 3, g FROM generate_series(1, 9) g;
GRANT SELECT ON $s.src TO PUBLIC;
};
	if ($o{ops})
	{
		my $i = 0;
		for my $op (@operators)
		{
			my ($name, $l, $r, $res) = @$op;
			$i++;
			$sql .= qq{
CREATE FUNCTION $s.op_$i(a $l, b $r) RETURNS $res LANGUAGE plpgsql AS \$f\$
BEGIN PERFORM $s.pwn('operator', @{[ sq("$name($l,$r)") ]}); RETURN a OPERATOR(pg_catalog.$name) b; END \$f\$;
CREATE OPERATOR $s.$name (LEFTARG = $l, RIGHTARG = $r, FUNCTION = $s.op_$i);};
		}
	}
	if ($o{funcs})
	{
		for my $f (@functions, map { [ @$_, 1 ] } @set_functions)
		{
			my ($name, $args, $res, $body, $set) = @$f;
			$sql .= qq{
CREATE FUNCTION $s.$name($args) RETURNS @{[ $set ? 'SETOF ' : '' ]}$res LANGUAGE plpgsql AS \$f\$
BEGIN PERFORM $s.pwn('function', @{[ sq("$name($args)") ]}); RETURN @{[ $set ? 'QUERY SELECT ' : '' ]}$body; END \$f\$;};
		}
		my $i = 0;
		for my $a (@aggregates)
		{
			my ($name, $arg, $stype, $body, $init) = @$a;
			$i++;
			my $xarg = $arg eq '*' ? '' : ", x $arg";
			$sql .= qq{
CREATE FUNCTION $s.agg_$i(s $stype$xarg) RETURNS $stype LANGUAGE plpgsql AS \$f\$
BEGIN PERFORM $s.pwn('function', @{[ sq("$name($arg)") ]}); $body; END \$f\$;
CREATE AGGREGATE $s.$name($arg) (SFUNC = $s.agg_$i, STYPE = $stype@{[ defined $init ? ", INITCOND = '$init'" : '' ]});};
		}
	}
	if ($o{types})
	{
		for my $t (@types)
		{
			$sql .= qq{
CREATE DOMAIN $s.$t AS pg_catalog.$t CHECK ($s.pwn('type', @{[ sq($t) ]}));};
		}
	}
	return $sql;
}


# A new attacker, set up as a DBA sets a team up: a login role, a schema of
# its own, a domain.  The attacker then installs its kit and declares a
# published product with outputs and a check that run its (disarmed) owner
# code: "o" and "o4" refreshed in full (o4 calls it with a constant, which
# the planner folds), and a custom check on "o".  With arm, armed at once.
sub new_attacker
{
	my ($atk, %o) = @_;
	my ($s, $d) = ("${atk}_lib", "${atk}_dom");
	su_sql(qq{
		CREATE ROLE $atk LOGIN;
		CREATE ROLE ${atk}_heir;
		GRANT ${atk}_heir TO $atk;
		CREATE SCHEMA $s AUTHORIZATION $atk;
		SELECT dataproduct.create_domain('$d', owner => '$atk');
	});
	as_sql($atk, attacker_kit($atk, %o) . qq{
		SELECT dataproduct.create_product('$d.p', description => 'harmless looking');
		SELECT dataproduct.alter_product('$d.p', status => 'published');
		SELECT dataproduct.add_output('$d.p', 'o', 'SELECT k, v FROM $s.src WHERE $s.setter()', refresh => 'full');
		SELECT dataproduct.add_output('$d.p', 'o4', 'SELECT k, v FROM $s.src WHERE $s.setter_imm(1)', refresh => 'full');
		SELECT dataproduct.add_check('$d.o', 'custom', name => 'c', severity => 'warning',
		                             sql => 'SELECT * FROM $d.o WHERE NOT $s.setter()');
		GRANT USAGE ON SCHEMA $d TO PUBLIC;
		GRANT SELECT ON ALL TABLES IN SCHEMA $d TO PUBLIC;
		UPDATE $s.ctl SET armed = @{[ $o{arm} ? 'true' : 'false' ]};
	});
	return $atk;
}

# ---------------------------------------------------------------------
# class 1, through the API (worker off)
# ---------------------------------------------------------------------

# The entry points a class 1 attacker tries, in order: [label, caller
# (undef: a superuser, 'owner': the attacker), call].
sub entry_points
{
	my ($atk) = @_;
	my ($s, $d) = ("${atk}_lib", "${atk}_dom");
	my $q = "'SELECT k, v FROM $s.src WHERE $s.setter()'";
	return (
		[ 'add_output by the owner', 'owner', "SELECT dataproduct.add_output('$d.p', 'o2', $q, refresh => 'full')" ],
		[ 'add_output by a superuser', undef, "SELECT dataproduct.add_output('$d.p', 'o3', $q, refresh => 'full')" ],
		[ 'refresh() by a superuser', undef, "SELECT dataproduct.refresh('$d.o')" ],
		[ 'refresh() by the owner', 'owner', "SELECT dataproduct.refresh('$d.o')" ],
		[ 'run_checks() by a reader', 'reader', "SELECT count(*) FROM dataproduct.run_checks('$d.o')" ],
		[ 'run_checks() by a superuser', undef, "SELECT count(*) FROM dataproduct.run_checks('$d.p')" ],
		[ 'run_checks() by the owner', 'owner', "SELECT count(*) FROM dataproduct.run_checks('$d.o')" ],
		[ 'add_check by the owner (owner code folded by the planner)', 'owner',
		  "SELECT dataproduct.add_check('$d.o', 'custom', name => 'c2', severity => 'warning', "
			. "sql => 'SELECT * FROM $d.o WHERE NOT $s.setter_imm(1)')" ],
		[ 'alter_product(owner) by a superuser', undef,
		  "SELECT dataproduct.alter_product('$d.p', owner => '${atk}_heir')" ]);
}

# Run the attacks of entry_points() whose labels match $only.
sub class1_attacks
{
	my ($atk, $what, $only) = @_;
	my @steps = grep { $_->[0] =~ $only } entry_points($atk);
	for my $i (0 .. $#steps)
	{
		my ($label, $caller, $call) = @{ $steps[$i] };
		$caller = $atk if defined $caller && $caller eq 'owner';
		# after an ownership change, owner code runs as the new owner too
		step("$what, $label", $atk, $caller, $call, $i < $#steps ? 'true' : 'false',
			$label =~ /alter_product/ ? "${atk}_heir" : undef);
	}
}

su_sql(q{CREATE ROLE reader LOGIN});

subtest 'class 1: owner code shadows operators the extension uses (search_path)' => sub {
	class1_attacks(new_attacker('atk_ops', ops => 1, path => 1, arm => 1), 'operators', qr/./);
};

subtest 'class 1: owner code shadows functions, aggregates and types (search_path)' => sub {
	class1_attacks(new_attacker('atk_fn', funcs => 1, types => 1, path => 1, arm => 1),
		'functions and types', qr/superuser|reader|add_check/);
};

subtest 'class 1: owner code changes other settings' => sub {
	class1_attacks(new_attacker('atk_guc', gucs => 1, arm => 1), 'other settings', qr/superuser|reader/);
};

subtest 'class 1: owner code tries to change identity (role, session_authorization, deferred trigger)' => sub {
	my $atk = new_attacker('atk_id', role => 1, arm => 1);
	for my $e (grep { $_->[0] =~ /refresh\(\) by a superuser|run_checks\(\) by a reader/ } entry_points($atk))
	{
		my ($before, $after) = around($e->[1], $e->[2], $atk);
		my $obs = observe_and_reset($atk, 'true');
		is($obs->{identity}, '', "identity, $e->[0]: no change of identity took effect");
		like($obs->{refused}, qr/SET role refused.*SET session_authorization refused/s,
			"identity, $e->[0]: the attempts were refused ($obs->{refused})");
		attack_failed("identity, $e->[0]", $obs, $atk, $before, $after);
	}
};

# ---------------------------------------------------------------------
# class 3: owner code must only ever run as the owner, also when read
# ---------------------------------------------------------------------
subtest 'class 3: owner code in an output runs as whoever reads the view' => sub {
	my $atk = new_attacker('atk_view');
	my $s = 'atk_view_lib';
	as_sql($atk, qq{
		CREATE FUNCTION $s.f(x bigint) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS \$f\$
		BEGIN PERFORM $s.pwn('view', 'function above an aggregate'); RETURN x; END \$f\$;
		CREATE FUNCTION $s.g(x bigint) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS \$f\$
		BEGIN PERFORM $s.pwn('view', 'function in HAVING'); RETURN x > 0; END \$f\$;
		CREATE DOMAIN $s.checked AS bigint CHECK ($s.pwn('view', 'CHECK of a domain an aggregate is cast to'));
		SELECT dataproduct.add_output('atk_view_dom.p', 'agg',
		  'SELECT k, $s.f(sum(v)) AS s FROM $s.src GROUP BY k HAVING $s.g(sum(v))');
		SELECT dataproduct.add_output('atk_view_dom.p', 'agg2',
		  'SELECT k, sum(v)::$s.checked AS c FROM $s.src GROUP BY k');
		SELECT dataproduct.refresh('atk_view_dom.agg');
		SELECT dataproduct.refresh('atk_view_dom.agg2');
		GRANT SELECT ON atk_view_dom.agg, atk_view_dom.agg2 TO PUBLIC;
		TRUNCATE $s.seen;
	});
	my $read = q{SELECT (SELECT string_agg(k || '=' || s, ',' ORDER BY k) FROM atk_view_dom.agg) || ' '
	                 || (SELECT string_agg(k || '=' || c, ',' ORDER BY k) FROM atk_view_dom.agg2)};
	is(su_sql($read), '0=18,1=12,2=15 0=18,1=12,2=15', 'a superuser reads the outputs');
	is(as_sql('reader', $read), '0=18,1=12,2=15 0=18,1=12,2=15', 'so does a reader');
	my $obs = decode_json(su_sql(qq{
		SELECT json_build_object(
		  'modes', (SELECT string_agg(name || ' ' || mode, ', ' ORDER BY name) FROM dataproduct.outputs
		             WHERE name IN ('agg', 'agg2')),
		  'foreign', (SELECT coalesce(string_agg(DISTINCT format('%s as %s%s', tag, who,
		                                 CASE WHEN super THEN ' (superuser)' ELSE '' END), '; '), '')
		                FROM $s.seen WHERE who <> '$atk'),
		  'super', (SELECT rolsuper FROM pg_roles WHERE rolname = '$atk'),
		  'calls', (SELECT count(*) FROM dataproduct.output o
		             WHERE o.name IN ('agg', 'agg2') AND pg_get_viewdef(o.view) LIKE '%atk\\_view\\_lib.%'))}));
	note("refresh modes: $obs->{modes}");
	is($obs->{foreign}, '', "reading the outputs ran none of the owner's code as the reader");
	is($obs->{super} ? 'superuser' : 'not superuser', 'not superuser', "$atk is not a superuser afterwards");
	is($obs->{calls}, 0, "the views readers query call none of the owner's code");
	su_sql("ALTER ROLE $atk NOSUPERUSER");
};

# ---------------------------------------------------------------------
# class 4: what a view filters must not reach a reader's function
# ---------------------------------------------------------------------
subtest 'class 4: rows hidden by HAVING leak to a reader\'s cheap function' => sub {
	su_sql(q{
		CREATE ROLE team4;
		CREATE SCHEMA sor4;
		CREATE TABLE sor4.sales (region text, amount int);
		INSERT INTO sor4.sales VALUES ('north', 10), ('north', 20), ('south', 5), ('secret_region', 99999);
		GRANT USAGE ON SCHEMA sor4 TO team4;
		GRANT SELECT ON sor4.sales TO team4;
		SELECT dataproduct.create_domain('d4', owner => 'team4');
		SELECT dataproduct.create_product('d4.p');
		SELECT dataproduct.add_output('d4.p', 'small',
		  'SELECT region, sum(amount) AS total FROM sor4.sales GROUP BY region HAVING sum(amount) < 1000');
		SELECT dataproduct.refresh('d4.small');
		GRANT USAGE ON SCHEMA d4 TO reader;
		SET ROLE team4;
		GRANT SELECT ON d4.small TO reader;
	});
	my ($out, $err) = session('reader', q{
		CREATE TEMP TABLE leaked (region text, total bigint);
		CREATE FUNCTION pg_temp.peek(r text, t bigint) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $f$
		BEGIN INSERT INTO pg_temp.leaked VALUES (r, t); RETURN true; END $f$;
		SELECT 'rows', string_agg(region, ',' ORDER BY region) FROM d4.small WHERE pg_temp.peek(region, total);
		SELECT 'leaked', coalesce(string_agg(region || '=' || total, ',' ORDER BY region), '') FROM leaked
		 WHERE region NOT IN (SELECT region FROM d4.small);
	});
	like($out, qr/^rows\|north,south$/m, 'the reader gets the rows the output shows');
	like($out, qr/^leaked\|$/m, 'and its function saw no row HAVING hides');
	is(su_sql(q{SELECT count(*) FROM dataproduct.output o JOIN pg_class c ON c.oid = o.view
		WHERE pg_get_viewdef(o.view) LIKE '%WHERE%'
		  AND NOT coalesce(c.reloptions @> '{security_barrier=true}', false)}), '0',
		'every output view that filters is a security barrier');
};

# ---------------------------------------------------------------------
# class 5: only the extension may read a change log
# ---------------------------------------------------------------------
subtest 'class 5: change logs outlive REVOKE, RLS and drop_output' => sub {
	su_sql(q{
		CREATE ROLE team5 LOGIN;
		CREATE ROLE other5 LOGIN;
		CREATE SCHEMA hr;
		CREATE TABLE hr.pay (id int PRIMARY KEY, dept text, salary int);
		INSERT INTO hr.pay VALUES (1, 'a', 100), (2, 'b', 200);
		GRANT USAGE ON SCHEMA hr TO team5, other5;
		GRANT SELECT ON hr.pay TO team5, other5;
		SELECT dataproduct.create_domain('d5', owner => 'team5');
		SELECT dataproduct.create_domain('d5o', owner => 'other5');
		SELECT dataproduct.create_product('d5.p');
		SELECT dataproduct.create_product('d5o.p');
		SET ROLE team5;
		SELECT dataproduct.add_output('d5.p', 'by_dept', 'SELECT dept, sum(salary) AS total FROM hr.pay GROUP BY dept');
		RESET ROLE;
		SET ROLE other5;
		SELECT dataproduct.add_output('d5o.p', 'by_dept', 'SELECT dept, sum(salary) AS total FROM hr.pay GROUP BY dept');
		RESET ROLE;
		SELECT dataproduct.refresh('d5.by_dept');
		SELECT dataproduct.refresh('d5o.by_dept');
		INSERT INTO hr.pay VALUES (3, 'a', 301);
	});
	my $log = su_sql(q{SELECT log FROM dataproduct.source WHERE relation = 'hr.pay'::regclass});
	my $r = probe('team5', read => "SELECT string_agg(salary::text, ',') FROM $log");
	like($r->{read}, qr/^ERROR 42501/, "a product owner cannot read the change log directly ($r->{read})");

	su_sql(q{REVOKE SELECT ON hr.pay FROM team5; INSERT INTO hr.pay VALUES (4, 'a', 4444)});
	$r = probe('team5',
		read => "SELECT count(*) FROM $log WHERE salary = 4444",
		publish => "SELECT dataproduct.add_output('d5.p', 'logged', 'SELECT dept, salary FROM $log')",
		check => "SELECT dataproduct.add_check('d5.by_dept', 'custom', name => 'peek', severity => 'warning', "
		  . "sql => 'SELECT dept, salary FROM $log')",
		refresh => q{SELECT dataproduct.refresh('d5.by_dept')});
	like($r->{read}, qr/^(0|ERROR 42501.*)$/, "after REVOKE on the source, the owner reads no new row from the log ($r->{read})");
	like($r->{publish}, qr/^ERROR/, "nor can it publish the log as an output ($r->{publish})");
	like($r->{check}, qr/^ERROR/, "nor read it through a custom check ($r->{check})");
	like($r->{refresh}, qr/^ERROR 42501/, "and its refresh fails ($r->{refresh})");

	su_sql(q{
		GRANT SELECT ON hr.pay TO team5;
		SELECT dataproduct.drop_output(output) FROM dataproduct.outputs WHERE product = 'd5.p';
		REVOKE SELECT ON hr.pay FROM team5;
		INSERT INTO hr.pay VALUES (5, 'b', 5555);
		ALTER TABLE hr.pay ENABLE ROW LEVEL SECURITY;
		CREATE POLICY only_a ON hr.pay FOR SELECT USING (dept = 'a');
		INSERT INTO hr.pay VALUES (6, 'b', 6666);
	});
	$r = probe('team5', read => "SELECT count(*) FROM $log WHERE salary = 5555");
	like($r->{read}, qr/^(0|ERROR 42501.*)$/,
		"after drop_output (another output keeps capture on), the old owner reads no new row ($r->{read})");

	# row level security enabled later on a captured source
	my ($out, $err) = session('other5', qq{
		SELECT 'read', count(*) FROM $log WHERE salary = 6666;
		SELECT dataproduct.refresh('d5o.by_dept');
		SELECT 'rows', string_agg(dept || '=' || total, ',' ORDER BY dept) FROM d5o.by_dept;
		SELECT 'mode', mode FROM dataproduct.outputs WHERE output = 'd5o.by_dept'::regclass;
	});
	unlike($out, qr/^read\|[1-9]/m, "with RLS on, the other owner reads no row the policy hides through the log ($out)");
	ok(($err =~ /NOTICE:.*full/s && $err !~ /ERROR/) || ($err =~ /ERROR/ && $err =~ /HINT/),
		"a refresh after RLS switches to full with a NOTICE, or fails with a hint:\n$err");
	if ($err !~ /ERROR/)
	{
		like($out, qr/^rows\|a=4845$/m, 'the output then holds only the rows the owner may read now');
		like($out, qr/^mode\|full$/m, 'and is refreshed in full from now on');
	}
	else
	{
		unlike($out, qr/^rows\|.*(5555|6666)/m, 'the failed refresh applied nothing the policy hides');
	}
};

# ---------------------------------------------------------------------
# class 7: one visibility rule for drafts
# ---------------------------------------------------------------------
subtest 'class 7: draft products are listed to everyone' => sub {
	su_sql(q{
		CREATE ROLE team7 LOGIN;
		CREATE ROLE nobody7 LOGIN;
		CREATE TABLE public.t7 (x int);
		GRANT SELECT ON public.t7 TO team7;
		SELECT dataproduct.create_domain('d7', owner => 'team7');
		SET ROLE team7;
		SELECT dataproduct.create_product('d7.plan', description => 'Acquisition of ACME, codename BLUEBIRD',
		                                  tags => '{bluebird}');
		SELECT dataproduct.add_output('d7.plan', 'targets', 'SELECT x AS bluebird_target FROM public.t7',
		                              description => 'BLUEBIRD targets');
		SELECT dataproduct.add_check('d7.targets', 'custom', sql => 'SELECT 1 WHERE false /* BLUEBIRD */');
	});
	my %where = (
		'dataproduct.products' => q{SELECT count(*) FROM dataproduct.products WHERE product = 'd7.plan'},
		'dataproduct.outputs' => q{SELECT count(*) FROM dataproduct.outputs WHERE product = 'd7.plan'},
		'dataproduct.checks' => q{SELECT count(*) FROM dataproduct.checks WHERE params::text LIKE '%BLUEBIRD%'},
		'dataproduct.freshness' => q{SELECT count(*) FROM dataproduct.freshness WHERE product = 'd7.plan'},
		'dataproduct.lineage' => q{SELECT count(*) FROM dataproduct.lineage WHERE product = 'd7.plan'},
		'dataproduct.product' => q{SELECT count(*) FROM dataproduct.product WHERE description LIKE '%BLUEBIRD%'},
		'dataproduct.output' => q{SELECT count(*) FROM dataproduct.output WHERE description LIKE '%BLUEBIRD%'},
		'dataproduct.quality_check' => q{SELECT count(*) FROM dataproduct.quality_check WHERE params::text LIKE '%BLUEBIRD%'},
		'search()' => q{SELECT count(*) FROM dataproduct.search('bluebird')},
		'describe()' => q{SELECT dataproduct.describe('d7.plan')},
		'health()' => q{SELECT row(h.*)::text FROM dataproduct.health('d7.plan') h});
	my $r = probe('nobody7', map { $_ => $where{$_} } sort keys %where);
	for my $w (sort keys %where)
	{
		like($r->{$w}, qr/^(0|ERROR 42501.*|ERROR 42704: data product "d7.plan" does not exist.*)$/,
			"a role that may not see the draft finds nothing in $w ($r->{$w})");
	}
	is(as_sql('team7', q{SELECT count(*) FROM dataproduct.products WHERE product = 'd7.plan'}), '1',
		'its owner sees it');
	as_sql('team7', q{SELECT dataproduct.alter_product('d7.plan', status => 'published')});
	is(as_sql('nobody7', q{SELECT count(*) FROM dataproduct.products WHERE product = 'd7.plan'}), '1',
		'and everyone once it is published');
};

# ---------------------------------------------------------------------
# class 9: bounded search
# ---------------------------------------------------------------------
subtest 'class 9: one huge description breaks search() for everyone' => sub {
	my $atk = 'atk_big';
	su_sql(q{
		CREATE ROLE atk_big LOGIN;
		SELECT dataproduct.create_domain('atk_big_dom', owner => 'atk_big');
		CREATE ROLE team9;
		SELECT dataproduct.create_domain('d9', owner => 'team9');
		SELECT dataproduct.create_product('d9.revenue', description => 'Revenue per region');
		SELECT dataproduct.alter_product('d9.revenue', status => 'published');
	});
	my ($out, $err) = session($atk, q{
		SELECT dataproduct.create_product('atk_big_dom.words',
		  description => (SELECT string_agg(md5(g::text), ' ') FROM generate_series(1, 40000) g));
		SELECT dataproduct.alter_product('atk_big_dom.words', status => 'published');
	});
	note($err) if $err =~ /ERROR/;
	my $r = probe('reader', search => q{SELECT string_agg(address, ',') FROM dataproduct.search('revenue')});
	like($r->{search}, qr/^d9\.revenue$/, "search() still works for others with a 1.3 MB description of distinct words ($r->{search})");

	($out, $err) = session($atk, q{
		SELECT dataproduct.drop_product('atk_big_dom.words');
		SELECT dataproduct.create_product('atk_big_dom.lorem', description => repeat('lorem ipsum dolor ', 1700000));
		SELECT dataproduct.alter_product('atk_big_dom.lorem', status => 'published');
	});
	note($err) if $err =~ /ERROR/;
	($out, $err) = session('reader', q{SET statement_timeout = '3s'; SELECT address FROM dataproduct.search('revenue')});
	like($out, qr/^d9\.revenue$/m, "search() stays quick (under 3 s) with a 30 MB description ($err)");
};

# ---------------------------------------------------------------------
# extra holes found while attacking
# ---------------------------------------------------------------------
subtest 'extra: a captured column of a domain type runs its CHECK as the catalog owner' => sub {
	my $atk = new_attacker('atk_cap');
	my $s = 'atk_cap_lib';
	as_sql($atk, qq{
		CREATE DOMAIN $s.evil AS int CHECK ($s.pwn('setter', 'CHECK of a captured column'));
		CREATE TABLE $s.cap (k $s.evil, v int);
		INSERT INTO $s.cap VALUES (1, 1);
		SELECT dataproduct.add_output('atk_cap_dom.p', 'cap', 'SELECT k, count(*) AS n FROM $s.cap GROUP BY k');
		TRUNCATE $s.seen;
		-- a TRUNCATE (or an ALTER TABLE) of the source writes a marker into its log
		TRUNCATE $s.cap;
		ALTER TABLE $s.cap ADD COLUMN w int;
	});
	my $obs = observe_and_reset($atk, 'false');
	is($obs->{call}, '', 'TRUNCATE and ALTER TABLE of a captured table run no code of its owner as another role');
	is($obs->{super} ? 'superuser' : 'not superuser', 'not superuser', "$atk is not a superuser afterwards");
};

subtest 'extra: a trigger named like the capture trigger blocks every ALTER TABLE' => sub {
	as_sql('atk_cap', q{
		CREATE TABLE atk_cap_lib.decoy (x int);
		CREATE FUNCTION atk_cap_lib.noop() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RETURN NULL; END $f$;
		CREATE TRIGGER __dp_capture AFTER INSERT ON atk_cap_lib.decoy FOR EACH ROW EXECUTE FUNCTION atk_cap_lib.noop();
	});
	my ($out, $err) = session(undef, q{CREATE TABLE public.unrelated (x int); ALTER TABLE public.unrelated ADD COLUMN y int});
	unlike($err, qr/ERROR/, "a superuser's ALTER TABLE of an unrelated table works ($err)");
	as_sql('atk_cap', q{DROP TABLE atk_cap_lib.decoy});
};

# ---------------------------------------------------------------------
# phase 2: the worker on
# ---------------------------------------------------------------------
$node->safe_psql('postgres', 'DROP DATABASE app');
$node->safe_psql('postgres', 'CREATE DATABASE wk');
$db = 'wk';
su_sql(q{CREATE EXTENSION pg_dataproduct; CREATE ROLE reader_wk LOGIN});
$node->adjust_conf('postgresql.conf', 'dataproduct.enabled', 'on');
$node->reload;
ok(wait_for(q{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'pg_dataproduct scheduler' AND datname = 'wk'}, 30, 'postgres'),
	'the scheduler serves the database');

subtest 'class 1: owner code attacks the worker' => sub {
	my $atk = new_attacker('atk_wk', ops => 1, path => 1, gucs => 1);
	as_sql($atk, q{
		SELECT dataproduct.add_output('atk_wk_dom.p', 'inc',
		  'SELECT k, count(*) AS n FROM atk_wk_lib.src WHERE atk_wk_lib.setter_imm(k) GROUP BY k');
		SELECT dataproduct.add_check('atk_wk_dom.inc', 'custom', name => 'c', severity => 'warning',
		  sql => 'SELECT * FROM atk_wk_dom.inc WHERE NOT atk_wk_lib.setter()');
	});
	ok(wait_for(q{SELECT status = 'ok' FROM dataproduct.outputs WHERE output = 'atk_wk_dom.inc'::regclass}, 30),
		'the worker loads the incremental output');
	observe_and_reset($atk, 'true');
	my $t0 = su_sql('SELECT clock_timestamp()');
	as_sql($atk, 'INSERT INTO atk_wk_lib.src VALUES (1, 100)');
	ok(wait_for(qq{SELECT count(*) > 0 FROM dataproduct.refresh_history h JOIN dataproduct.output o USING (output_id)
		WHERE o.name = 'inc' AND h.by_worker AND h.started_at > '$t0'}, 30),
		'the worker refreshes it after the commit');
	attack_failed('worker, incremental refresh after a commit', observe_and_reset($atk, 'true'), $atk);

	# a full output on a schedule, refreshed by the worker on its own
	$t0 = su_sql('SELECT clock_timestamp()');
	as_sql($atk, q{SELECT dataproduct.alter_output('atk_wk_dom.o', schedule => '1 second')});
	ok(wait_for(qq{SELECT count(*) > 0 FROM dataproduct.refresh_history h JOIN dataproduct.output o USING (output_id)
		WHERE o.name = 'o' AND h.by_worker AND h.started_at > '$t0'}, 30),
		'the worker refreshes the scheduled output');
	attack_failed('worker, scheduled full refresh', observe_and_reset($atk, 'false'), $atk);
	as_sql($atk, q{SELECT dataproduct.alter_output('atk_wk_dom.o', schedule => '0')});
};

# ---------------------------------------------------------------------
# class 6: refresh errors and who may read them
# ---------------------------------------------------------------------
subtest 'class 6: refresh errors publish source values to everyone' => sub {
	su_sql(q{
		CREATE ROLE team6;
		CREATE ROLE team6_member LOGIN IN ROLE team6;
		CREATE ROLE nobody6 LOGIN;
		CREATE SCHEMA hr6;
		CREATE TABLE hr6.salaries (id int, amount text);
		INSERT INTO hr6.salaries VALUES (1, '100');
		GRANT USAGE ON SCHEMA hr6 TO team6;
		GRANT SELECT ON hr6.salaries TO team6;
		SELECT dataproduct.create_domain('d6', owner => 'team6');
		SELECT dataproduct.create_product('d6.pay');
		SELECT dataproduct.alter_product('d6.pay', status => 'published');
		SELECT dataproduct.add_output('d6.pay', 'amounts', 'SELECT id, amount::int AS amount FROM hr6.salaries');
	});
	ok(wait_for(q{SELECT status = 'ok' FROM dataproduct.outputs WHERE output = 'd6.amounts'::regclass}, 30),
		'the output loads');
	su_sql(q{INSERT INTO hr6.salaries VALUES (2, 'TOPSECRET-4711')});
	ok(wait_for(q{SELECT failures > 0 FROM dataproduct.output WHERE name = 'amounts'}, 30),
		'the refresh fails');

	my %where = (
		'outputs' => q{SELECT row_to_json(o)::text FROM dataproduct.outputs o WHERE name = 'amounts'},
		'the output table' => q{SELECT row_to_json(o)::text FROM dataproduct.output o WHERE name = 'amounts'},
		'refresh_history' => q{SELECT string_agg(row_to_json(h)::text, ' ') FROM dataproduct.refresh_history h},
		'health()' => q{SELECT row_to_json(h)::text FROM dataproduct.health('d6.pay') h},
		'describe()' => q{SELECT dataproduct.describe('d6.pay')::text});
	my $r = probe('nobody6', map { $_ => $where{$_} } sort keys %where);
	for my $w (sort keys %where)
	{
		unlike($r->{$w}, qr/TOPSECRET/, "a role that may not read the output does not see the value in $w ($r->{$w})");
	}
	like($r->{outputs}, qr/22P02/, "it sees that the refresh failed and the SQLSTATE ($r->{outputs})");
	is(as_sql('team6_member', q{SELECT last_error LIKE '%TOPSECRET-4711%' FROM dataproduct.outputs WHERE name = 'amounts'}),
		't', 'a member of the owner role sees the error text');
	su_sql(q{DELETE FROM hr6.salaries WHERE id = 2});
};

# ---------------------------------------------------------------------
# class 8: the scheduler must survive any stored value
# ---------------------------------------------------------------------
subtest 'class 8: extreme intervals and counters stop the scheduler' => sub {
	su_sql(q{
		CREATE ROLE team8 LOGIN;
		CREATE TABLE public.ev8 (k int, v int);
		INSERT INTO public.ev8 VALUES (1, 1);
		GRANT SELECT ON public.ev8 TO team8;
		SELECT dataproduct.create_domain('d8', owner => 'team8');
		SELECT dataproduct.create_product('d8.p');
		SET ROLE team8;
		SELECT dataproduct.add_output('d8.p', 'good', 'SELECT count(*) AS n FROM public.ev8');
		SELECT dataproduct.add_output('d8.p', 'ratio', 'SELECT k, sum(100 / v) AS r FROM public.ev8 GROUP BY k');
	});
	ok(wait_for(q{SELECT count(*) = 2 FROM dataproduct.outputs WHERE product = 'd8.p' AND status = 'ok'}, 30),
		'the outputs load');

	# intervals that overflow a timestamp, declared by the owner
	my $r = probe('team8',
		'add_output min_interval' => q{SELECT dataproduct.add_output('d8.p', 'x', 'SELECT 1 AS one', min_interval => '1000000 years')},
		'add_output schedule' => q{SELECT dataproduct.add_output('d8.p', 'y', 'SELECT 1 AS one', schedule => '1000000 years')},
		'alter_output min_interval' => q{SELECT dataproduct.alter_output('d8.good', min_interval => '1000000 years')},
		'alter_output schedule' => q{SELECT dataproduct.alter_output('d8.good', schedule => '1000000 years')});
	like($r->{$_}, qr/^ERROR 22/, "$_ => '1000000 years' is refused ($r->{$_})") for sort keys %$r;
	su_sql(q{
		SELECT dataproduct.drop_output(output) FROM dataproduct.outputs WHERE output::text IN ('d8.x', 'd8.y');
		SELECT dataproduct.alter_output('d8.good', min_interval => '0', schedule => '0');
	});

	# a failing output's backoff, after many failures in a row
	su_sql(q{UPDATE dataproduct.output SET failures = 50 WHERE name = 'ratio'; INSERT INTO public.ev8 VALUES (2, 0)});
	my $start = -s $node->logfile;
	my $recorded = q{SELECT failures > 50 AND next_retry > now() FROM dataproduct.output WHERE name = 'ratio'};
	my $until = time() + 15;
	usleep(100_000) until time() > $until || su_sql($recorded) eq 't'
	  || $node->log_contains('interval out of range', $start);
	is(su_sql($recorded), 't', 'the 51st failure in a row is recorded, with a backoff (no overflow)');
	su_sql(q{DELETE FROM public.ev8 WHERE v = 0; UPDATE dataproduct.output SET failures = 0 WHERE name = 'ratio'});

	# whatever is stored (an older version, a restore, a direct update),
	# the scheduler goes on serving the other outputs
	su_sql(q{UPDATE dataproduct.output SET min_interval = '178000000 years', schedule = '178000000 years' WHERE name = 'ratio'});
	$start = -s $node->logfile;
	su_sql(q{INSERT INTO public.ev8 VALUES (3, 3)});
	my $fresh = q{SELECT n = (SELECT count(*) FROM public.ev8) FROM d8.good};
	$until = time() + 15;
	usleep(100_000) until time() > $until || su_sql($fresh) eq 't'
	  || $node->log_contains('scheduler.*exited with exit code', $start);
	is(su_sql($fresh), 't', 'another output still refreshes with a huge min_interval and schedule stored');
	ok(!$node->log_contains('pg_dataproduct scheduler.*exited with exit code', $start),
		'and the scheduler did not exit');
};

$node->stop;
done_testing();
