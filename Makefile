# pg_dataproduct: PGXS build, install and tests.
#
#   make && sudo make install      build and install into the server of $(PG_CONFIG)
#   make installcheck              regression, isolation and TAP tests, each on a
#                                  throwaway instance of its own (run as a non-root user)
#   test/run-all.sh                everything, from a fresh Debian 12 machine (as root)

PG_CONFIG ?= pg_config

EXTENSION = pg_dataproduct
MODULE_big = pg_dataproduct
# from the ground floor up, in the order of the data flow (see src/pg_dataproduct.c)
OBJS = \
	src/pg_dataproduct.o \
	src/exec.o \
	src/shmem.o \
	src/guc.o \
	src/progress.o \
	src/catalog.o \
	src/analyze.o \
	src/determinism.o \
	src/plan.o \
	src/delta.o \
	src/capture.o \
	src/batch.o \
	src/apply.o \
	src/history.o \
	src/checks.o \
	src/quality.o \
	src/refresh.o \
	src/discovery.o \
	src/ddl.o \
	src/access.o \
	src/declare.o \
	src/product.o \
	src/descriptor.o \
	src/worker.o

# Released scripts are never edited; each release adds an upgrade script.  The
# full script of the current version is built, never written: the install
# guard, then the released 0.1.0 script and every upgrade script in order, so
# a fresh install runs exactly what 0.1.0 + ALTER EXTENSION UPDATE runs.
# (The next release appends its upgrade script to DP_BUILD_FROM and renames
# DATA_built.)
DATA = pg_dataproduct--0.1.0.sql pg_dataproduct--0.1.0--0.2.0.sql
DATA_built = pg_dataproduct--0.2.0.sql
DP_BUILD_FROM = pg_dataproduct--0.1.0.sql pg_dataproduct--0.1.0--0.2.0.sql
EXTRA_CLEAN = $(DATA_built:=.tmp)
PGFILEDESC = "pg_dataproduct - data products served from operational tables"

# Server headers are system headers to us: -Wextra then judges only our code.
PG_CPPFLAGS = -I$(srcdir)/src -isystem $(shell $(PG_CONFIG) --includedir-server)

# The library serves the catalog of one version: the control file's.
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'$$/\1/p" $(srcdir)/pg_dataproduct.control)
PG_CPPFLAGS += -DDATAPRODUCT_VERSION='"$(EXTVERSION)"'

PG_CFLAGS = -Wall -Wextra

REGRESS = declare errors lifecycle privileges lineage refresh incremental subqueries outer_joins exactness partitions discovery quality drop catalog_security security access descriptor history explain publish
REGRESS_OPTS = --temp-config=$(srcdir)/test/regress.conf --temp-instance=tmp_check

ISOLATION = refresh_concurrency incremental_concurrency trim_race load_progress
ISOLATION_OPTS = --inputdir=$(srcdir)/test/isolation --outputdir=output_iso \
	--temp-config=$(srcdir)/test/regress.conf --temp-instance=tmp_check_iso

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# One "\echo ... \quit" line, the guard's, at the top: the others are dropped.
$(DATA_built): install/guard.sql $(DP_BUILD_FROM)
	{ printf '/* %s: built by make from %s; do not edit */\n\n' '$@' '$^'; \
	  cat $<; \
	  for f in $(filter-out $<,$^); do printf '\n'; sed '/^\\echo /d' "$$f"; done; } > $@.tmp
	test "$$(grep -c '^\\echo ' $@.tmp)" -eq 1
	mv $@.tmp $@

# The client program (client/): built, installed, uninstalled and cleaned
# with the extension, by its own PGXS Makefile.
.PHONY: client-all client-install client-uninstall client-clean
all: client-all
install: client-install
uninstall: client-uninstall
clean: client-clean
client-all:
	$(MAKE) -C client PG_CONFIG='$(PG_CONFIG)' all
client-install:
	$(MAKE) -C client PG_CONFIG='$(PG_CONFIG)' install
client-uninstall:
	$(MAKE) -C client PG_CONFIG='$(PG_CONFIG)' uninstall
client-clean:
	$(MAKE) -C client PG_CONFIG='$(PG_CONFIG)' clean
