--
-- The attacks of the security issue, as deterministic SQL: one section per
-- class, each written as the attack.  After each attack, the statement that
-- must be refused or the query whose result shows the attack failed; the
-- comment "-- expected:" above it says what the correct outcome is.
--
-- Attackers are roles that own a domain and a product and a schema of their
-- own (dpsec_*); the superuser running this script is the victim, calling the
-- API on their products or reading their outputs.  The background worker is
-- off here (test/regress.conf); test/t/006_security.pl attacks it too.
--
CREATE EXTENSION pg_dataproduct;
\set SHOW_CONTEXT never

-- Test scaffolding, owned by the superuser and immune to search_path.
CREATE SCHEMA dpsec;
-- the settings owner code may try to change, as one text (no SET clause,
-- which would show its own search_path: every name is qualified instead)
CREATE FUNCTION dpsec.settings() RETURNS text
LANGUAGE sql STABLE AS $f$
  SELECT pg_catalog.string_agg(pg_catalog.format('%s=%s', n, pg_catalog.current_setting(n)), ' | ' ORDER BY n)
    FROM pg_catalog.unnest(ARRAY['search_path', 'statement_timeout', 'lock_timeout', 'extra_float_digits',
                      'DateStyle', 'TimeZone', 'IntervalStyle', 'work_mem', 'client_min_messages',
                      'row_security', 'application_name', 'dataproduct.full_refresh_fraction',
                      'role', 'session_authorization']) n
$f$;
-- the settings that differ between two readings
CREATE FUNCTION dpsec.changed(before text, now text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog AS $f$
  SELECT coalesce(string_agg(a, ' | ' ORDER BY a), '')
    FROM (SELECT unnest(string_to_array(now, ' | ')) EXCEPT
          SELECT unnest(string_to_array(before, ' | '))) d(a)
$f$;
-- owner code of attacker atk that ran as another role (or as a superuser)
CREATE FUNCTION dpsec.foreign_runs(atk text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog AS $f$
DECLARE r text;
BEGIN
  EXECUTE format($q$SELECT coalesce(string_agg(DISTINCT format('%%s: %%s as %%s%%s', kind, tag, who,
                                    CASE WHEN super THEN ' (superuser)' ELSE '' END), '; '), '')
                     FROM %I.seen WHERE who IS DISTINCT FROM %L OR super$q$, atk || '_lib', atk) INTO r;
  RETURN r;
END $f$;
-- whether the owner code ran at all (if not, a check proves nothing)
CREATE FUNCTION dpsec.ran(atk text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog AS $f$
DECLARE r boolean;
BEGIN
  EXECUTE format('SELECT is_called FROM %I.ran_seq', atk || '_lib') INTO r;
  RETURN r;
END $f$;
CREATE FUNCTION dpsec.is_super(atk text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog AS $f$
  SELECT rolsuper FROM pg_roles WHERE rolname = atk
$f$;
-- a clean slate after an attack (as the superuser)
CREATE FUNCTION dpsec.reset(atk text, armed boolean) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $f$
BEGIN
  EXECUTE format('ALTER ROLE %I NOSUPERUSER', atk);
  EXECUTE format('TRUNCATE %I.seen', atk || '_lib');
  PERFORM setval(format('%I.ran_seq', atk || '_lib'), 1, false);
  EXECUTE format('UPDATE %I.ctl SET armed = %L', atk || '_lib', armed);
END $f$;
GRANT USAGE ON SCHEMA dpsec TO PUBLIC;

-- What an attacker installs in its schema <atk>_lib, run as the attacker:
-- a payload (pwn) that records who runs it and, run by a superuser, makes
-- the attacker one; owner code (setter) that, armed, changes session state
-- (search_path first to its own schema, other settings, identity); shadows
-- of operators and of a type name the extension uses unqualified.
CREATE FUNCTION dpsec.install_kit(atk text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $kit$
DECLARE
  s text := quote_ident(atk || '_lib');
  r record;
  i int := 0;
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA %s TO PUBLIC', s);
  EXECUTE format('CREATE TABLE %s.ctl (armed boolean NOT NULL)', s);
  EXECUTE format('INSERT INTO %s.ctl VALUES (false)', s);
  EXECUTE format('CREATE SEQUENCE %s.ran_seq', s);
  EXECUTE format('CREATE TABLE %s.seen (n bigserial, kind text, tag text, who text, super boolean)', s);
  EXECUTE format('GRANT SELECT ON %s.ctl TO PUBLIC', s);
  EXECUTE format('GRANT SELECT, INSERT ON %s.seen TO PUBLIC', s);
  EXECUTE format('GRANT USAGE ON SEQUENCE %s.seen_n_seq, %s.ran_seq TO PUBLIC', s, s);
  EXECUTE format($f$
    CREATE FUNCTION %1$s.pwn(kind text, tag text) RETURNS boolean
    LANGUAGE plpgsql SET search_path = pg_catalog AS $b$
    DECLARE su boolean;
    BEGIN
      SELECT r.rolsuper INTO su FROM pg_roles r WHERE r.rolname = current_user;
      INSERT INTO %1$s.seen (kind, tag, who, super) VALUES (kind, tag, current_user, su);
      IF su THEN
        BEGIN
          EXECUTE 'ALTER ROLE %2$s SUPERUSER';
        EXCEPTION WHEN OTHERS THEN
          INSERT INTO %1$s.seen (kind, tag, who, super) VALUES (kind, 'ALTER ROLE failed', current_user, su);
        END;
      END IF;
      RETURN true;
    END $b$$f$, s, quote_ident(atk));
  EXECUTE format($f$
    CREATE FUNCTION %1$s.setter() RETURNS boolean LANGUAGE plpgsql AS $b$
    DECLARE g text[];
    BEGIN
      IF NOT (SELECT armed FROM %1$s.ctl) THEN RETURN true; END IF;
      PERFORM pg_catalog.nextval('%1$s.ran_seq');
      PERFORM %1$s.pwn('setter', 'owner code ran');
      FOREACH g SLICE 1 IN ARRAY ARRAY[['search_path', '%1$s, pg_catalog'],
          ['statement_timeout', '4321s'], ['lock_timeout', '4321ms'], ['extra_float_digits', '-3'],
          ['DateStyle', 'SQL, DMY'], ['TimeZone', 'Asia/Kathmandu'], ['IntervalStyle', 'sql_standard'],
          ['work_mem', '4321kB'], ['client_min_messages', 'warning'], ['row_security', 'off'],
          ['application_name', 'owned'], ['dataproduct.full_refresh_fraction', '-1'],
          ['role', 'dpsec_victim'], ['session_authorization', 'dpsec_victim']]::text[] LOOP
        BEGIN
          PERFORM pg_catalog.set_config(g[1], g[2], false);
        EXCEPTION WHEN OTHERS THEN
          NULL;
        END;
      END LOOP;
      RETURN true;
    END $b$$f$, s);
  -- the same, allowed in incrementally maintained outputs, and folded by
  -- the planner when called with a constant
  EXECUTE format($f$
    CREATE FUNCTION %1$s.setter_imm(x int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $b$
    BEGIN RETURN %1$s.setter(); END $b$$f$, s);
  FOR r IN SELECT * FROM (VALUES
      ('=', 'text', 'text', 'boolean'), ('<>', 'text', 'text', 'boolean'),
      ('=', 'bigint', 'bigint', 'boolean'), ('<>', 'bigint', 'bigint', 'boolean'),
      ('=', 'integer', 'integer', 'boolean'), ('=', 'oid', 'oid', 'boolean'),
      ('=', 'name', 'name', 'boolean'), ('=', 'regclass', 'regclass', 'boolean'),
      ('=', 'regclass', 'oid', 'boolean'), ('=', 'bigint', 'integer', 'boolean'),
      ('<', 'xid8', 'xid8', 'boolean'), ('>=', 'xid8', 'xid8', 'boolean'),
      ('=', 'tid', 'tid', 'boolean'), ('||', 'text', 'text', 'text'),
      ('->>', 'jsonb', 'text', 'text'), ('+', 'integer', 'integer', 'integer')) v(op, l, rt, res)
  LOOP
    i := i + 1;
    EXECUTE format($f$
      CREATE FUNCTION %1$s.op_%2$s(a %3$s, b %4$s) RETURNS %5$s LANGUAGE plpgsql AS $b$
      BEGIN PERFORM %1$s.pwn('operator', %6$L); RETURN a OPERATOR(pg_catalog.%7$s) b; END $b$$f$,
      s, i, r.l, r.rt, r.res, format('%s(%s,%s)', r.op, r.l, r.rt), r.op);
    EXECUTE format('CREATE OPERATOR %s.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = %s.op_%s)',
                   s, r.op, r.l, r.rt, s, i);
  END LOOP;
  EXECUTE format($f$CREATE DOMAIN %1$s.jsonb AS pg_catalog.jsonb CHECK (%1$s.pwn('type', 'jsonb'))$f$, s);
  EXECUTE format($f$CREATE DOMAIN %1$s.int8 AS pg_catalog.int8 CHECK (%1$s.pwn('type', 'int8'))$f$, s);
  EXECUTE format('CREATE TABLE %s.src (k int, v int)', s);
  EXECUTE format('INSERT INTO %s.src SELECT g %% 3, g FROM generate_series(1, 9) g', s);
  EXECUTE format('GRANT SELECT ON %s.src TO PUBLIC', s);
END $kit$;
GRANT EXECUTE ON FUNCTION dpsec.install_kit(text) TO PUBLIC;

CREATE ROLE dpsec_victim;   -- only a name for the identity attempts
CREATE ROLE dpsec_reader;   -- a consumer
CREATE ROLE dpsec_nobody;   -- a role without grants

--
-- Class 1: owner code changes session state (search_path first) that the
-- extension's own statements, run as the catalog owner, and the caller then
-- run under.
--
CREATE ROLE dpsec_atk;
CREATE ROLE dpsec_atk_heir;
GRANT dpsec_atk_heir TO dpsec_atk;
CREATE SCHEMA dpsec_atk_lib AUTHORIZATION dpsec_atk;
SELECT dataproduct.create_domain('dpsec_atk_dom', owner => 'dpsec_atk');
SET ROLE dpsec_atk;
SELECT dpsec.install_kit('dpsec_atk');
SELECT dataproduct.create_product('dpsec_atk_dom.p');
SELECT dataproduct.add_output('dpsec_atk_dom.p', 'o',
       'SELECT k, v FROM dpsec_atk_lib.src WHERE dpsec_atk_lib.setter()', refresh => 'full');
SELECT dataproduct.add_output('dpsec_atk_dom.p', 'o4',
       'SELECT k, v FROM dpsec_atk_lib.src WHERE dpsec_atk_lib.setter_imm(1)', refresh => 'full');
SELECT dataproduct.add_check('dpsec_atk_dom.o', 'custom', name => 'c', severity => 'warning',
       sql => 'SELECT * FROM dpsec_atk_dom.o WHERE NOT dpsec_atk_lib.setter()');
GRANT USAGE ON SCHEMA dpsec_atk_dom TO PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA dpsec_atk_dom TO PUBLIC;
RESET ROLE;

-- 1a. the owner declares an output whose query runs its code
SELECT dpsec.reset('dpsec_atk', true);
SET ROLE dpsec_atk;
SELECT dataproduct.add_output('dpsec_atk_dom.p', 'o2',
       'SELECT k, v FROM dpsec_atk_lib.src WHERE dpsec_atk_lib.setter()', refresh => 'full') IS NOT NULL AS declared;
RESET ROLE;
RESET ALL;
-- expected: t (the owner's code ran), then nothing ran as another role, and
-- dpsec_atk is not a superuser
SELECT dpsec.ran('dpsec_atk') AS ran, dpsec.foreign_runs('dpsec_atk') AS foreign_runs,
       dpsec.is_super('dpsec_atk') AS is_super;

-- 1b. a superuser declares an output in the team's product
SELECT dpsec.reset('dpsec_atk', true);
SELECT dpsec.settings() AS before \gset
SELECT dataproduct.add_output('dpsec_atk_dom.p', 'o3',
       'SELECT k, v FROM dpsec_atk_lib.src WHERE dpsec_atk_lib.setter()', refresh => 'full') IS NOT NULL AS declared;
-- expected: '' (the caller's settings are as before the call)
SELECT dpsec.changed(:'before', dpsec.settings()) AS changed_settings;
-- expected: t, '', f
SELECT dpsec.ran('dpsec_atk') AS ran, dpsec.foreign_runs('dpsec_atk') AS foreign_runs,
       dpsec.is_super('dpsec_atk') AS is_super;
-- the caller's own next statement
SELECT count(*) AS n FROM pg_catalog.pg_class WHERE relname = 'pg_class' AND relnamespace = 11;
-- expected: '', f (it ran no owner code)
SELECT dpsec.foreign_runs('dpsec_atk') AS foreign_runs, dpsec.is_super('dpsec_atk') AS is_super;
RESET ALL;

-- 1c. a superuser refreshes the output
SELECT dpsec.reset('dpsec_atk', true);
SELECT dpsec.settings() AS before \gset
SELECT dataproduct.refresh('dpsec_atk_dom.o');
-- expected: ''
SELECT dpsec.changed(:'before', dpsec.settings()) AS changed_settings;
-- expected: t, '', f
SELECT dpsec.ran('dpsec_atk') AS ran, dpsec.foreign_runs('dpsec_atk') AS foreign_runs,
       dpsec.is_super('dpsec_atk') AS is_super;
SELECT count(*) AS n FROM pg_catalog.pg_class WHERE relname = 'pg_class' AND relnamespace = 11;
-- expected: '', f
SELECT dpsec.foreign_runs('dpsec_atk') AS foreign_runs, dpsec.is_super('dpsec_atk') AS is_super;
RESET ALL;

-- 1d. the owner refreshes its own output (no victim needed)
SELECT dpsec.reset('dpsec_atk', true);
SET ROLE dpsec_atk;
SELECT dataproduct.refresh('dpsec_atk_dom.o');
RESET ROLE;
RESET ALL;
-- expected: t, '', f
SELECT dpsec.ran('dpsec_atk') AS ran, dpsec.foreign_runs('dpsec_atk') AS foreign_runs,
       dpsec.is_super('dpsec_atk') AS is_super;

-- 1e. a reader runs the output's checks
SELECT dpsec.reset('dpsec_atk', true);
SET ROLE dpsec_reader;
SELECT dpsec.settings() AS before \gset
SELECT check_name, passed FROM dataproduct.run_checks('dpsec_atk_dom.o');
-- expected: '' (the reader's settings are as before)
SELECT dpsec.changed(:'before', dpsec.settings()) AS changed_settings;
SELECT count(*) AS n FROM pg_catalog.pg_class WHERE relname = 'pg_class' AND relnamespace = 11;
RESET ROLE;
RESET ALL;
-- expected: t, '', f (nothing ran as the reader or as a superuser, also in
-- the reader's own next statement)
SELECT dpsec.ran('dpsec_atk') AS ran, dpsec.foreign_runs('dpsec_atk') AS foreign_runs,
       dpsec.is_super('dpsec_atk') AS is_super;

-- 1f. a superuser runs the product's checks
SELECT dpsec.reset('dpsec_atk', true);
SELECT dpsec.settings() AS before \gset
SELECT output, check_name, passed FROM dataproduct.run_checks('dpsec_atk_dom.p') ORDER BY 1, 2;
-- expected: ''
SELECT dpsec.changed(:'before', dpsec.settings()) AS changed_settings;
-- expected: t, '', f
SELECT dpsec.ran('dpsec_atk') AS ran, dpsec.foreign_runs('dpsec_atk') AS foreign_runs,
       dpsec.is_super('dpsec_atk') AS is_super;
RESET ALL;

-- 1g. add_check tries the check's query as the owner: the planner folds an
-- immutable function called with a constant, and the catalog insert that
-- follows names the type jsonb, which the attacker shadows
SELECT dpsec.reset('dpsec_atk', true);
SET ROLE dpsec_atk;
SELECT dataproduct.add_check('dpsec_atk_dom.o', 'custom', name => 'c2', severity => 'warning',
       sql => 'SELECT * FROM dpsec_atk_dom.o WHERE NOT dpsec_atk_lib.setter_imm(1)');
RESET ROLE;
RESET ALL;
-- expected: t, '', f
SELECT dpsec.ran('dpsec_atk') AS ran, dpsec.foreign_runs('dpsec_atk') AS foreign_runs,
       dpsec.is_super('dpsec_atk') AS is_super;

-- 1h. a superuser gives the product to another role: proving the new owner
-- can read the sources plans the output queries (folding owner code)
SELECT dpsec.reset('dpsec_atk', true);
SELECT dpsec.settings() AS before \gset
SELECT dataproduct.alter_product('dpsec_atk_dom.p', owner => 'dpsec_atk_heir');
-- expected: ''
SELECT dpsec.changed(:'before', dpsec.settings()) AS changed_settings;
RESET ALL;
-- owner code legitimately runs as the new owner too
UPDATE dpsec_atk_lib.seen SET who = 'dpsec_atk' WHERE who = 'dpsec_atk_heir' AND NOT super;
-- expected: t, '', f
SELECT dpsec.ran('dpsec_atk') AS ran, dpsec.foreign_runs('dpsec_atk') AS foreign_runs,
       dpsec.is_super('dpsec_atk') AS is_super;
SELECT dpsec.reset('dpsec_atk', false);

--
-- Class 3: owner code in an output runs as whoever reads its view
-- (functions above aggregates, HAVING, a domain an aggregate is cast to).
--
CREATE ROLE dpsec_own3;
CREATE SCHEMA dpsec_own3_lib AUTHORIZATION dpsec_own3;
SELECT dataproduct.create_domain('dpsec_own3_dom', owner => 'dpsec_own3');
SET ROLE dpsec_own3;
SELECT dpsec.install_kit('dpsec_own3');
CREATE FUNCTION dpsec_own3_lib.f(x bigint) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN PERFORM dpsec_own3_lib.pwn('view', 'function above an aggregate'); RETURN x; END $f$;
CREATE FUNCTION dpsec_own3_lib.g(x bigint) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN PERFORM dpsec_own3_lib.pwn('view', 'function in HAVING'); RETURN x > 0; END $f$;
CREATE DOMAIN dpsec_own3_lib.checked AS bigint
  CHECK (dpsec_own3_lib.pwn('view', 'CHECK of a domain an aggregate is cast to'));
SELECT dataproduct.create_product('dpsec_own3_dom.p');
SELECT dataproduct.add_output('dpsec_own3_dom.p', 'agg',
       'SELECT k, dpsec_own3_lib.f(sum(v)) AS s FROM dpsec_own3_lib.src GROUP BY k HAVING dpsec_own3_lib.g(sum(v))');
SELECT dataproduct.add_output('dpsec_own3_dom.p', 'agg2',
       'SELECT k, sum(v)::dpsec_own3_lib.checked AS c FROM dpsec_own3_lib.src GROUP BY k');
SELECT dataproduct.refresh('dpsec_own3_dom.agg');
SELECT dataproduct.refresh('dpsec_own3_dom.agg2');
GRANT USAGE ON SCHEMA dpsec_own3_dom TO dpsec_reader;
GRANT SELECT ON dpsec_own3_dom.agg, dpsec_own3_dom.agg2 TO dpsec_reader;
TRUNCATE dpsec_own3_lib.seen;
RESET ROLE;
-- a superuser and a reader read the outputs
SELECT k, s FROM dpsec_own3_dom.agg ORDER BY k;
SELECT k, c FROM dpsec_own3_dom.agg2 ORDER BY k;
SET ROLE dpsec_reader;
SELECT k, s FROM dpsec_own3_dom.agg ORDER BY k;
SELECT k, c FROM dpsec_own3_dom.agg2 ORDER BY k;
RESET ROLE;
-- expected: '', f (reading ran no code of the owner, as anyone)
SELECT dpsec.foreign_runs('dpsec_own3') AS foreign_runs, dpsec.is_super('dpsec_own3') AS is_super;
-- expected: 0 (the views readers query call none of the owner's code)
SELECT count(*) AS calls FROM dataproduct.output o
 WHERE o.name IN ('agg', 'agg2') AND pg_get_viewdef(o.view) LIKE '%dpsec\_own3\_lib.%';
ALTER ROLE dpsec_own3 NOSUPERUSER;

--
-- Class 4: rows HAVING hides reach a reader's cheap function in WHERE.
--
CREATE ROLE dpsec_team4;
CREATE SCHEMA dpsec_sor4;
CREATE TABLE dpsec_sor4.sales (region text, amount int);
INSERT INTO dpsec_sor4.sales VALUES ('north', 10), ('north', 20), ('south', 5), ('secret_region', 99999);
GRANT USAGE ON SCHEMA dpsec_sor4 TO dpsec_team4;
GRANT SELECT ON dpsec_sor4.sales TO dpsec_team4;
SELECT dataproduct.create_domain('dpsec_d4', owner => 'dpsec_team4');
SELECT dataproduct.create_product('dpsec_d4.p');
SELECT dataproduct.add_output('dpsec_d4.p', 'small',
       'SELECT region, sum(amount) AS total FROM dpsec_sor4.sales GROUP BY region HAVING sum(amount) < 1000');
SELECT dataproduct.refresh('dpsec_d4.small');
GRANT USAGE ON SCHEMA dpsec_d4 TO dpsec_reader;
SET ROLE dpsec_team4;
GRANT SELECT ON dpsec_d4.small TO dpsec_reader;
SET ROLE dpsec_reader;
CREATE TEMP TABLE leaked (region text, total bigint);
CREATE FUNCTION pg_temp.peek(r text, t bigint) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $f$
BEGIN INSERT INTO pg_temp.leaked VALUES (r, t); RETURN true; END $f$;
-- expected: north and south
SELECT region, total FROM dpsec_d4.small WHERE pg_temp.peek(region, total) ORDER BY region;
-- expected: 0 rows (the function saw no row HAVING hides)
SELECT region, total FROM leaked WHERE total >= 1000;
RESET ROLE;
-- expected: 0 (every output view with a filter is a security barrier)
SELECT count(*) AS leaky_views FROM dataproduct.output o JOIN pg_class c ON c.oid = o.view
 WHERE pg_get_viewdef(o.view) LIKE '%WHERE%'
   AND NOT coalesce(c.reloptions @> '{security_barrier=true}', false);

--
-- Class 5: only the extension may read a change log, whatever REVOKE, RLS
-- or drop_output happened since.
--
CREATE ROLE dpsec_team5;
CREATE ROLE dpsec_other5;
CREATE SCHEMA dpsec_hr;
CREATE TABLE dpsec_hr.pay (id int PRIMARY KEY, dept text, salary int);
INSERT INTO dpsec_hr.pay VALUES (1, 'a', 100), (2, 'b', 200);
GRANT USAGE ON SCHEMA dpsec_hr TO dpsec_team5, dpsec_other5;
GRANT SELECT ON dpsec_hr.pay TO dpsec_team5, dpsec_other5;
SELECT dataproduct.create_domain('dpsec_d5', owner => 'dpsec_team5');
SELECT dataproduct.create_domain('dpsec_d5o', owner => 'dpsec_other5');
SELECT dataproduct.create_product('dpsec_d5.p');
SELECT dataproduct.create_product('dpsec_d5o.p');
SET ROLE dpsec_team5;
SELECT dataproduct.add_output('dpsec_d5.p', 'by_dept', 'SELECT dept, sum(salary) AS total FROM dpsec_hr.pay GROUP BY dept');
SET ROLE dpsec_other5;
SELECT dataproduct.add_output('dpsec_d5o.p', 'by_dept', 'SELECT dept, sum(salary) AS total FROM dpsec_hr.pay GROUP BY dept');
RESET ROLE;
SELECT dataproduct.refresh('dpsec_d5.by_dept');
SELECT dataproduct.refresh('dpsec_d5o.by_dept');
SELECT log AS dpsec_log FROM dataproduct.source WHERE relation = 'dpsec_hr.pay'::regclass \gset
INSERT INTO dpsec_hr.pay VALUES (3, 'a', 301);
SET ROLE dpsec_team5;
-- expected: ERROR (permission denied: a product owner does not read logs)
SELECT dept, salary FROM :dpsec_log;
RESET ROLE;
REVOKE SELECT ON dpsec_hr.pay FROM dpsec_team5;
INSERT INTO dpsec_hr.pay VALUES (4, 'a', 4444);
SET ROLE dpsec_team5;
-- expected: ERROR (or no row): after REVOKE, no new row through the log
SELECT dept, salary FROM :dpsec_log WHERE salary = 4444;
-- expected: ERROR: nor by publishing the log as an output
SELECT dataproduct.add_output('dpsec_d5.p', 'logged', 'SELECT dept, salary FROM ' || :'dpsec_log');
-- expected: ERROR: nor through a custom check
SELECT dataproduct.add_check('dpsec_d5.by_dept', 'custom', name => 'peek', severity => 'warning',
       sql => 'SELECT dept, salary FROM ' || :'dpsec_log');
-- expected: ERROR (permission denied for table pay)
SELECT dataproduct.refresh('dpsec_d5.by_dept');
RESET ROLE;
GRANT SELECT ON dpsec_hr.pay TO dpsec_team5;
SELECT dataproduct.drop_output(output) FROM dataproduct.outputs WHERE product = 'dpsec_d5.p' ORDER BY output;
REVOKE SELECT ON dpsec_hr.pay FROM dpsec_team5;
INSERT INTO dpsec_hr.pay VALUES (5, 'b', 5555);
SET ROLE dpsec_team5;
-- expected: ERROR (or no row): after drop_output, with another output keeping
-- capture on, the old owner reads no new row
SELECT dept, salary FROM :dpsec_log WHERE salary = 5555;
RESET ROLE;
-- row level security enabled later on the captured source
ALTER TABLE dpsec_hr.pay ENABLE ROW LEVEL SECURITY;
CREATE POLICY only_a ON dpsec_hr.pay FOR SELECT USING (dept = 'a');
INSERT INTO dpsec_hr.pay VALUES (6, 'b', 6666);
SET ROLE dpsec_other5;
-- expected: ERROR (or no row): the log shows no row the policy hides
SELECT dept, salary FROM :dpsec_log WHERE salary = 6666;
-- expected: a NOTICE that the output is refreshed in full from now on (or
-- an ERROR with a HINT saying what to do)
SELECT dataproduct.refresh('dpsec_d5o.by_dept') IS NOT NULL AS refreshed;
-- expected: a=4845 only (what the policy lets the owner read), mode full;
-- after a failed refresh, at least no row of dept b added since
SELECT dept, total FROM dpsec_d5o.by_dept ORDER BY dept;
SELECT mode FROM dataproduct.outputs WHERE output = 'dpsec_d5o.by_dept'::regclass;
RESET ROLE;

--
-- Class 6: refresh errors carry source values; only roles that may read the
-- output (or members of its owner) see their text, others that the refresh
-- failed and the SQLSTATE.
--
CREATE ROLE dpsec_team6;
CREATE ROLE dpsec_member6 IN ROLE dpsec_team6;
CREATE SCHEMA dpsec_hr6;
CREATE TABLE dpsec_hr6.salaries (id int, amount text);
INSERT INTO dpsec_hr6.salaries VALUES (1, '100');
GRANT USAGE ON SCHEMA dpsec_hr6 TO dpsec_team6;
GRANT SELECT ON dpsec_hr6.salaries TO dpsec_team6;
SELECT dataproduct.create_domain('dpsec_d6', owner => 'dpsec_team6');
SELECT dataproduct.create_product('dpsec_d6.pay');
SELECT dataproduct.alter_product('dpsec_d6.pay', status => 'published');
SELECT dataproduct.add_output('dpsec_d6.pay', 'amounts', 'SELECT id, amount::int AS amount FROM dpsec_hr6.salaries');
SELECT dataproduct.refresh('dpsec_d6.amounts');
INSERT INTO dpsec_hr6.salaries VALUES (2, 'TOPSECRET-4711');
-- The worker is off here: record the failed refresh as the worker does
-- (worker.c, refresh_in_worker); keep this in step with it.
DO $$
DECLARE msg text; code text;
BEGIN
  PERFORM dataproduct.refresh('dpsec_d6.amounts');
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, code = RETURNED_SQLSTATE;
  UPDATE dataproduct.output SET failures = failures + 1, last_error = msg, last_error_code = code,
         last_error_at = now(), next_retry = now() + interval '1 second' WHERE name = 'amounts';
  INSERT INTO dataproduct.refresh_history (output_id, started_at, finished_at, error, error_code, by_worker)
  SELECT output_id, now(), clock_timestamp(), msg, code, true FROM dataproduct.output WHERE name = 'amounts';
END $$;
SET ROLE dpsec_nobody;
-- expected: f, f, f, f (the value is nowhere a role that may not read the
-- output looks)
SELECT (SELECT row_to_json(o)::text FROM dataproduct.outputs o WHERE name = 'amounts') LIKE '%TOPSECRET%' AS in_outputs,
       (SELECT string_agg(row_to_json(h)::text, ' ') FROM dataproduct.refreshes h) LIKE '%TOPSECRET%' AS in_history,
       (SELECT row_to_json(h)::text FROM dataproduct.health('dpsec_d6.pay') h) LIKE '%TOPSECRET%' AS in_health,
       dataproduct.describe('dpsec_d6.pay')::text LIKE '%TOPSECRET%' AS in_describe;
-- expected: failing, t (it sees that refreshes fail, and the SQLSTATE)
SELECT (SELECT status FROM dataproduct.health('dpsec_d6.pay')) AS health,
       (SELECT row_to_json(o)::text FROM dataproduct.outputs o WHERE name = 'amounts') LIKE '%22P02%' AS sqlstate_shown;
SET ROLE dpsec_member6;
-- expected: t (a member of the owner role sees the text)
SELECT last_error LIKE '%TOPSECRET-4711%' AS member_sees_text FROM dataproduct.outputs WHERE name = 'amounts';
RESET ROLE;

--
-- Class 7: one visibility rule for draft products, everywhere.
--
CREATE ROLE dpsec_team7;
CREATE TABLE dpsec_sor4.t7 (x int);
GRANT USAGE ON SCHEMA dpsec_sor4 TO dpsec_team7;
GRANT SELECT ON dpsec_sor4.t7 TO dpsec_team7;
SELECT dataproduct.create_domain('dpsec_d7', owner => 'dpsec_team7');
SET ROLE dpsec_team7;
SELECT dataproduct.create_product('dpsec_d7.plan', description => 'Acquisition of ACME, codename BLUEBIRD',
       tags => '{bluebird}');
SELECT dataproduct.add_output('dpsec_d7.plan', 'targets', 'SELECT x AS bluebird_target FROM dpsec_sor4.t7',
       description => 'BLUEBIRD targets');
SELECT dataproduct.add_check('dpsec_d7.targets', 'custom', sql => 'SELECT 1 WHERE false /* BLUEBIRD */');
SET ROLE dpsec_nobody;
-- expected: 0 everywhere (a role that may not find the draft finds it nowhere)
SELECT (SELECT count(*) FROM dataproduct.products WHERE product = 'dpsec_d7.plan') AS products,
       (SELECT count(*) FROM dataproduct.outputs WHERE product = 'dpsec_d7.plan') AS outputs,
       (SELECT count(*) FROM dataproduct.checks WHERE params::text LIKE '%BLUEBIRD%') AS checks,
       (SELECT count(*) FROM dataproduct.freshness WHERE product = 'dpsec_d7.plan') AS freshness,
       (SELECT count(*) FROM dataproduct.lineage WHERE product = 'dpsec_d7.plan') AS lineage,
       (SELECT count(*) FROM dataproduct.search('bluebird')) AS search;
-- expected: 0 rows each, or permission denied (the catalog tables)
SELECT name FROM dataproduct.product WHERE description LIKE '%BLUEBIRD%';
SELECT name FROM dataproduct.output WHERE description LIKE '%BLUEBIRD%';
SELECT name FROM dataproduct.quality_check WHERE params::text LIKE '%BLUEBIRD%';
-- expected: ERROR data product "dpsec_d7.plan" does not exist, for both
SELECT dataproduct.describe('dpsec_d7.plan');
SELECT status, reasons FROM dataproduct.health('dpsec_d7.plan');
SET ROLE dpsec_team7;
-- expected: 1 (its owner sees it)
SELECT count(*) FROM dataproduct.products WHERE product = 'dpsec_d7.plan';
SELECT dataproduct.alter_product('dpsec_d7.plan', status => 'published');
SET ROLE dpsec_nobody;
-- expected: 1 (and everyone once published)
SELECT count(*) FROM dataproduct.products WHERE product = 'dpsec_d7.plan';
RESET ROLE;

--
-- Class 8: intervals the scheduler cannot add to a timestamp.
--
CREATE ROLE dpsec_team8;
SELECT dataproduct.create_domain('dpsec_d8', owner => 'dpsec_team8');
SELECT dataproduct.create_product('dpsec_d8.p');
SET ROLE dpsec_team8;
SELECT dataproduct.add_output('dpsec_d8.p', 'ok', 'SELECT 1 AS one', refresh => 'full', min_interval => '1 year');
-- expected: ERROR for each (refused at declaration, with a clear message)
SELECT dataproduct.add_output('dpsec_d8.p', 'x', 'SELECT 1 AS one', refresh => 'full', min_interval => '1000000 years');
SELECT dataproduct.add_output('dpsec_d8.p', 'y', 'SELECT 1 AS one', refresh => 'full', schedule => '1000000 years');
SELECT dataproduct.add_output('dpsec_d8.p', 'z', 'SELECT 1 AS one', refresh => 'full', schedule => '178000000 years');
SELECT dataproduct.alter_output('dpsec_d8.ok', min_interval => '1000000 years');
SELECT dataproduct.alter_output('dpsec_d8.ok', schedule => '1000000 years');
RESET ROLE;
-- expected: only ok, with its interval of a year
SELECT name, min_interval, schedule FROM dataproduct.outputs WHERE product = 'dpsec_d8.p' ORDER BY name;

--
-- Class 9: one huge description must not break search() for others.
--
CREATE ROLE dpsec_team9;
CREATE ROLE dpsec_atk9;
SELECT dataproduct.create_domain('dpsec_d9', owner => 'dpsec_team9');
SELECT dataproduct.create_domain('dpsec_atk9_dom', owner => 'dpsec_atk9');
SELECT dataproduct.create_product('dpsec_d9.revenue', description => 'Revenue per region');
SELECT dataproduct.alter_product('dpsec_d9.revenue', status => 'published');
SET ROLE dpsec_atk9;
SELECT dataproduct.create_product('dpsec_atk9_dom.words',
       description => (SELECT string_agg(md5(g::text), ' ') FROM generate_series(1, 40000) g)) IS NOT NULL AS declared;
SELECT dataproduct.alter_product('dpsec_atk9_dom.words', status => 'published');
SET ROLE dpsec_reader;
-- expected: dpsec_d9.revenue (no error)
SELECT kind, address FROM dataproduct.search('revenue') WHERE address LIKE 'dpsec_d9%' ORDER BY address;
RESET ROLE;

--
-- Extra: holes found while attacking.
--
-- A captured column of the attacker's domain type: the marker a TRUNCATE or
-- an ALTER TABLE of the source writes into its log is inserted as the
-- catalog owner, which evaluates the domain's CHECK.
CREATE ROLE dpsec_cap;
CREATE SCHEMA dpsec_cap_lib AUTHORIZATION dpsec_cap;
SELECT dataproduct.create_domain('dpsec_cap_dom', owner => 'dpsec_cap');
SET ROLE dpsec_cap;
SELECT dpsec.install_kit('dpsec_cap');
CREATE DOMAIN dpsec_cap_lib.evil AS int CHECK (dpsec_cap_lib.pwn('domain', 'CHECK of a captured column'));
CREATE TABLE dpsec_cap_lib.cap (k dpsec_cap_lib.evil, v int);
INSERT INTO dpsec_cap_lib.cap VALUES (1, 1);
SELECT dataproduct.create_product('dpsec_cap_dom.p');
SELECT dataproduct.add_output('dpsec_cap_dom.p', 'cap', 'SELECT k, count(*) AS n FROM dpsec_cap_lib.cap GROUP BY k');
TRUNCATE dpsec_cap_lib.seen;
TRUNCATE dpsec_cap_lib.cap;
ALTER TABLE dpsec_cap_lib.cap ADD COLUMN w int;
RESET ROLE;
-- expected: '', f
SELECT dpsec.foreign_runs('dpsec_cap') AS foreign_runs, dpsec.is_super('dpsec_cap') AS is_super;
ALTER ROLE dpsec_cap NOSUPERUSER;

-- A function of another role, called by an owner's incrementally
-- maintained query, changes search_path as it runs (SECURITY DEFINER, so
-- it runs as its author): the extension's next statements in the owner's
-- part, parsed after it, must not resolve the author's operators, which
-- would run the author's code as the product owner.
CREATE ROLE dpsec_m;
CREATE ROLE dpsec_own_m;
CREATE SCHEMA dpsec_m_lib AUTHORIZATION dpsec_m;
CREATE SCHEMA dpsec_own_m_sor AUTHORIZATION dpsec_own_m;
SELECT dataproduct.create_domain('dpsec_dm', owner => 'dpsec_own_m');
SET ROLE dpsec_m;
SELECT dpsec.install_kit('dpsec_m');
CREATE FUNCTION dpsec_m_lib.op_xid_int(a xid, b integer) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN PERFORM dpsec_m_lib.pwn('operator', '=(xid,integer)'); RETURN a OPERATOR(pg_catalog.=) b; END $f$;
CREATE OPERATOR dpsec_m_lib.= (LEFTARG = xid, RIGHTARG = integer, FUNCTION = dpsec_m_lib.op_xid_int);
CREATE FUNCTION dpsec_m_lib.op_le(a bigint, b integer) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN PERFORM dpsec_m_lib.pwn('operator', '<=(bigint,integer)'); RETURN a OPERATOR(pg_catalog.<=) b; END $f$;
CREATE OPERATOR dpsec_m_lib.<= (LEFTARG = bigint, RIGHTARG = integer, FUNCTION = dpsec_m_lib.op_le);
CREATE FUNCTION dpsec_m_lib.op_gt(a bigint, b integer) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN PERFORM dpsec_m_lib.pwn('operator', '>(bigint,integer)'); RETURN a OPERATOR(pg_catalog.>) b; END $f$;
CREATE OPERATOR dpsec_m_lib.> (LEFTARG = bigint, RIGHTARG = integer, FUNCTION = dpsec_m_lib.op_gt);
CREATE FUNCTION dpsec_m_lib.moves(x int) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE SECURITY DEFINER SET client_min_messages = notice AS $f$
BEGIN
  PERFORM pg_catalog.nextval('dpsec_m_lib.ran_seq');
  PERFORM pg_catalog.set_config('search_path', 'dpsec_m_lib, pg_catalog', false);
  RETURN x IS NOT NULL;
END $f$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA dpsec_m_lib TO PUBLIC;
SET ROLE dpsec_own_m;
CREATE TABLE dpsec_own_m_sor.t (k int, v int);
INSERT INTO dpsec_own_m_sor.t SELECT g % 3, g FROM generate_series(1, 9) g;
SELECT dataproduct.create_product('dpsec_dm.p');
SELECT dataproduct.add_output('dpsec_dm.p', 'counts',
       'SELECT k, count(*) AS n, sum(v) AS total FROM dpsec_own_m_sor.t WHERE dpsec_m_lib.moves(v) GROUP BY k');
SELECT mode FROM dataproduct.outputs WHERE name = 'counts';
SELECT dataproduct.refresh('dpsec_dm.counts') >= 0 AS loaded;
RESET ROLE;
SELECT dpsec.reset('dpsec_m', false);
SET ROLE dpsec_own_m;
-- groups that grow, appear and disappear: the merge's row counts and the
-- deletion of emptied groups run after the author's function
INSERT INTO dpsec_own_m_sor.t VALUES (1, 100), (7, 7);
DELETE FROM dpsec_own_m_sor.t WHERE k = 2;
SELECT dataproduct.refresh('dpsec_dm.counts') > 0 AS refreshed;
SELECT k, n, total FROM dpsec_dm.counts ORDER BY k;
RESET ROLE;
RESET ALL;
-- expected: t (the author's function ran), '' (none of its code ran as
-- another role), f
SELECT dpsec.ran('dpsec_m') AS ran, dpsec.foreign_runs('dpsec_m') AS foreign_runs,
       dpsec.is_super('dpsec_m') AS is_super;

-- A trigger of one's own named like the capture trigger.
SET ROLE dpsec_cap;
CREATE TABLE dpsec_cap_lib.decoy (x int);
CREATE FUNCTION dpsec_cap_lib.noop() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RETURN NULL; END $f$;
CREATE TRIGGER __dp_capture AFTER INSERT ON dpsec_cap_lib.decoy FOR EACH ROW EXECUTE FUNCTION dpsec_cap_lib.noop();
RESET ROLE;
CREATE TABLE dpsec_sor4.unrelated (x int);
-- expected: ALTER TABLE succeeds (another role's trigger does not block it)
ALTER TABLE dpsec_sor4.unrelated ADD COLUMN y int;
DROP TABLE dpsec_cap_lib.decoy;

--
-- Clean up.
--
RESET ALL;
RESET ROLE;
SET client_min_messages = warning;
DROP TABLE pg_temp.leaked;
DROP FUNCTION pg_temp.peek(text, bigint);
SELECT dataproduct.drop_domain(domain, cascade => true) FROM dataproduct.domains WHERE domain LIKE 'dpsec%' ORDER BY domain;
DROP SCHEMA dpsec_atk_lib, dpsec_own3_lib, dpsec_cap_lib, dpsec_m_lib, dpsec_own_m_sor, dpsec_sor4, dpsec_hr, dpsec_hr6 CASCADE;
DROP SCHEMA dpsec CASCADE;
DROP ROLE dpsec_atk, dpsec_atk_heir, dpsec_own3, dpsec_team4, dpsec_team5, dpsec_other5, dpsec_team6,
          dpsec_member6, dpsec_team7, dpsec_team8, dpsec_team9, dpsec_atk9, dpsec_cap,
          dpsec_victim, dpsec_reader, dpsec_nobody, dpsec_m, dpsec_own_m;
RESET client_min_messages;
DROP EXTENSION pg_dataproduct;
