--
-- Self-service access: an analyst finds a product, asks for access, the
-- owner approves and the grant follows; hand grants and revocations are
-- followed by dataproduct.access; access with an end expires; retiring a
-- product revokes what requests granted.  Every error on the way.
-- (The worker is off here: expiry runs through dataproduct.expire_access(),
-- the function the scheduler calls; test/t/011_access_expiry.pl has the
-- worker do it on its own.)
--
CREATE EXTENSION pg_dataproduct;
\set SHOW_CONTEXT never
\set VERBOSITY default
CREATE ROLE ac_team NOLOGIN;
CREATE ROLE ac_alice LOGIN IN ROLE ac_team;     -- member of the owner role
CREATE ROLE ac_bob LOGIN;                       -- an analyst
CREATE ROLE ac_carol LOGIN;                     -- another analyst
CREATE ROLE ac_mallory LOGIN;                   -- sees only published products
CREATE ROLE "Ac Odd" LOGIN;                     -- a name that needs quotes
CREATE SCHEMA ac_sor;
CREATE TABLE ac_sor.orders (id int, customer text, amount numeric);
INSERT INTO ac_sor.orders VALUES (1, 'x', 10), (2, 'y', 20), (3, 'x', 5);
GRANT USAGE ON SCHEMA ac_sor TO ac_team;
GRANT SELECT ON ac_sor.orders TO ac_team;

SELECT dataproduct.create_domain('ac', owner => 'ac_team');
SET ROLE ac_alice;
SELECT dataproduct.create_product('ac.sales', description => 'Sales per customer', tags => '{sales}');
SELECT dataproduct.add_output('ac.sales', 'by_customer',
       'SELECT customer, sum(amount) AS amount FROM ac_sor.orders GROUP BY customer', refresh => 'full');
SELECT dataproduct.add_output('ac.sales', 'orders',
       'SELECT id, customer, amount FROM ac_sor.orders', refresh => 'full');
SELECT dataproduct.create_product('ac.empty', description => 'Nothing yet');
SELECT dataproduct.create_product('ac.secret', description => 'A draft');
SELECT dataproduct.add_output('ac.secret', 'plans', 'SELECT 1 AS n', refresh => 'full');
SELECT dataproduct.alter_product('ac.sales', status => 'published');
SELECT dataproduct.alter_product('ac.empty', status => 'published');
RESET ROLE;

-- search() tells an analyst what it may do
SET ROLE ac_bob;
SELECT kind, address, access FROM dataproduct.search('sales') ORDER BY address;
SELECT * FROM dataproduct.access ORDER BY output, role;

-- bad requests
SELECT dataproduct.request_access('ac.nothing', 'need it');
SELECT dataproduct.request_access('ac.secret', 'a draft I may not see');
SELECT dataproduct.request_access('ac.secret.plans', 'a draft I may not see');
SELECT dataproduct.request_access('ac', 'no dot');
SELECT dataproduct.request_access('ac.sales.by_customer.x', 'too many parts');
SELECT dataproduct.request_access(NULL, 'why');
SELECT dataproduct.request_access('ac.sales', NULL);
SELECT dataproduct.request_access('ac.sales', '   ');
SELECT dataproduct.request_access('ac.sales', 'yesterday', until => '2000-01-01 00:00:00+00');
SELECT dataproduct.request_access('ac.empty', 'nothing to read');
RESET ROLE;
SET ROLE ac_alice;
SELECT dataproduct.request_access('ac.sales', 'my own');
RESET ROLE;

-- bob asks for the whole product, carol for one output (by its view name,
-- and by domain.product.output), "Ac Odd" with an end
SET ROLE ac_bob;
SELECT dataproduct.request_access('ac.sales', 'Quarterly revenue report') AS bob_request \gset
SELECT dataproduct.request_access('ac.sales', 'again');
SELECT kind, address, access FROM dataproduct.search('sales') ORDER BY address;
SELECT request_id = :bob_request AS mine, product, output, role, reason, status FROM dataproduct.access_requests;
RESET ROLE;
SET ROLE ac_carol;
SELECT dataproduct.request_access('ac.by_customer', 'Churn analysis') AS carol_request \gset
SELECT dataproduct.request_access('ac.sales.orders', 'Order details', until => now() + interval '1 hour') AS carol_orders \gset
-- requesters see their own requests only
SELECT product, output, role, status FROM dataproduct.access_requests ORDER BY request_id;
-- and may not decide on them
SELECT dataproduct.approve_access(:carol_request);
SELECT dataproduct.deny_access(:carol_request);
RESET ROLE;
-- others do not see them at all
SET ROLE ac_mallory;
SELECT count(*) FROM dataproduct.access_requests;
SELECT dataproduct.approve_access(:carol_request);
SELECT dataproduct.approve_access(123456);
SELECT dataproduct.approve_access(NULL);
RESET ROLE;
SET ROLE "Ac Odd";
SELECT dataproduct.request_access('ac.sales', 'A short look', until => now() + interval '1 hour') AS odd_request \gset
RESET ROLE;

-- the owner's members see what awaits them, and decide
SET ROLE ac_alice;
SELECT product, output, role, reason, status, until IS NOT NULL AS has_until
  FROM dataproduct.access_requests WHERE status = 'pending' ORDER BY request_id;
SELECT dataproduct.approve_access(:bob_request, note => 'ok for the report');
SELECT dataproduct.approve_access(:bob_request);
SELECT dataproduct.deny_access(:bob_request, 'changed my mind');
SELECT dataproduct.deny_access(:carol_request, 'use ac.sales instead');
SELECT dataproduct.approve_access(:carol_request);
SELECT dataproduct.approve_access(:carol_orders);
SELECT dataproduct.approve_access(:odd_request);
SELECT role, status, decided_by, note, decided_at IS NOT NULL AS decided
  FROM dataproduct.access_requests ORDER BY request_id;
RESET ROLE;

-- the grants followed
SET ROLE ac_bob;
SELECT customer, amount FROM ac.by_customer ORDER BY 1;
SELECT count(*) FROM ac.orders;
SELECT kind, address, access FROM dataproduct.search('sales') ORDER BY address;
SELECT dataproduct.request_access('ac.sales', 'once more');
RESET ROLE;
SET ROLE ac_carol;
SELECT count(*) FROM ac.orders;
SELECT count(*) FROM ac.by_customer;
SELECT kind, address, access FROM dataproduct.search('sales') ORDER BY address;
SELECT kind, address, access FROM dataproduct.search('customer') ORDER BY address;
RESET ROLE;

-- an output added later joins the access approved for the whole product
-- (bob's), not the access approved for other outputs (carol's)
SET ROLE ac_alice;
SELECT dataproduct.add_output('ac.sales', 'later', 'SELECT 42 AS answer', refresh => 'full');
RESET ROLE;
SET ROLE ac_bob;
SELECT answer FROM ac.later;
RESET ROLE;
SET ROLE ac_carol;
SELECT answer FROM ac.later;
RESET ROLE;
SET ROLE ac_alice;
SELECT dataproduct.drop_output('ac.later');
RESET ROLE;

-- who may read what, and why
SELECT output, role, grounds, request_id IS NOT NULL AS by_request, until IS NOT NULL AS has_until, granted_by
  FROM dataproduct.access ORDER BY output, role;
-- by hand: a GRANT shows as such, a REVOKE takes the row away
GRANT SELECT ON ac.by_customer TO ac_mallory;
REVOKE SELECT ON ac.orders FROM ac_bob;
SELECT output, role, grounds, granted_by FROM dataproduct.access ORDER BY output, role;
SELECT consumers FROM dataproduct.health('ac.sales');
SELECT product, consumers FROM dataproduct.products ORDER BY 1;
SELECT dataproduct.describe('ac.sales') -> 'consumers' AS consumers;
GRANT SELECT ON ac.orders TO ac_bob;

-- revoking
SET ROLE ac_bob;
SELECT dataproduct.revoke_access('ac.sales', 'ac_carol');
RESET ROLE;
SET ROLE ac_alice;
SELECT dataproduct.revoke_access('ac.nothing', 'ac_carol');
SELECT dataproduct.revoke_access('ac.sales', 'ac_team');
SELECT dataproduct.revoke_access('ac.sales', NULL);
SELECT dataproduct.revoke_access('ac.by_customer', 'ac_mallory');
SELECT dataproduct.revoke_access('ac.by_customer', 'ac_mallory');
SELECT dataproduct.revoke_access('ac.orders', 'ac_carol');
RESET ROLE;
GRANT SELECT ON ac.by_customer TO PUBLIC;
SET ROLE ac_alice;
SELECT dataproduct.revoke_access('ac.by_customer', 'ac_bob');
RESET ROLE;
REVOKE SELECT ON ac.by_customer FROM PUBLIC;
SELECT output, role, grounds FROM dataproduct.access ORDER BY output, role;
SELECT role, status, ended_by, end_reason, ended_at IS NOT NULL AS ended
  FROM dataproduct.access_requests ORDER BY request_id;
SET ROLE ac_carol;
SELECT count(*) FROM ac.orders;
RESET ROLE;

-- expiry: nothing is due yet, then "Ac Odd"'s end passes
SELECT dataproduct.expire_access();
SET ROLE "Ac Odd";
SELECT count(*) FROM ac.orders;
-- a pending request whose end passes before a decision expires too
SELECT dataproduct.request_access('ac.secret', 'not visible');
RESET ROLE;
SET ROLE ac_mallory;
SELECT dataproduct.request_access('ac.orders', 'Quick look', until => now() + interval '1 hour') AS mallory_request \gset
RESET ROLE;
UPDATE dataproduct.access_request SET until = now() - interval '1 second'
 WHERE role IN ('"Ac Odd"'::regrole, 'ac_mallory'::regrole);
SET ROLE ac_alice;
SELECT dataproduct.approve_access(:mallory_request);
RESET ROLE;
SET ROLE ac_bob;
SELECT dataproduct.expire_access();
RESET ROLE;
SELECT dataproduct.expire_access();
SELECT dataproduct.expire_access();
SELECT role, status, end_reason, ended_at IS NOT NULL AS ended, ended_by IS NOT NULL AS by_role
  FROM dataproduct.access_requests WHERE status = 'expired' ORDER BY request_id;
SET ROLE "Ac Odd";
SELECT count(*) FROM ac.orders;
RESET ROLE;
SELECT output, role, grounds FROM dataproduct.access ORDER BY output, role;

-- a retired product takes back what requests granted, and denies what waits;
-- a grant by hand stays
SET ROLE ac_carol;
SELECT dataproduct.request_access('ac.sales', 'Everything now') AS carol_all \gset
RESET ROLE;
SET ROLE ac_alice;
SELECT dataproduct.approve_access(:carol_all);
RESET ROLE;
SET ROLE ac_mallory;
SELECT dataproduct.request_access('ac.sales', 'Late') AS mallory_late \gset
RESET ROLE;
GRANT SELECT ON ac.by_customer TO ac_mallory;
SET ROLE ac_alice;
SELECT dataproduct.alter_product('ac.sales', status => 'deprecated');
SELECT dataproduct.alter_product('ac.sales', status => 'retired');
SELECT role, status, note, end_reason FROM dataproduct.access_requests
 WHERE request_id IN (:carol_all, :mallory_late) ORDER BY request_id;
SELECT output, role, grounds FROM dataproduct.access ORDER BY output, role;
SELECT dataproduct.approve_access(:mallory_late);
RESET ROLE;
-- still visible to a role that may read an output, but closed to requests
SET ROLE ac_mallory;
SELECT dataproduct.request_access('ac.orders', 'after retirement');
RESET ROLE;
SET ROLE ac_bob;
SELECT dataproduct.request_access('ac.by_customer', 'after retirement');
RESET ROLE;

-- dropping a product forgets its requests
SET ROLE ac_alice;
SELECT dataproduct.drop_domain('ac', cascade => true);
RESET ROLE;
SELECT count(*) FROM dataproduct.access_request;
DROP SCHEMA ac_sor CASCADE;
DROP ROLE ac_alice, ac_bob, ac_carol, ac_mallory, "Ac Odd", ac_team;
DROP EXTENSION pg_dataproduct;
