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
	src/catalog.o \
	src/analyze.o \
	src/plan.o \
	src/delta.o \
	src/capture.o \
	src/batch.o \
	src/apply.o \
	src/checks.o \
	src/quality.o \
	src/refresh.o \
	src/discovery.o \
	src/ddl.o \
	src/declare.o \
	src/product.o \
	src/worker.o

DATA = pg_dataproduct--0.1.0.sql pg_dataproduct--0.1.0--0.2.0.sql
PGFILEDESC = "pg_dataproduct - data products served from operational tables"

# Server headers are system headers to us: -Wextra then judges only our code.
PG_CPPFLAGS = -I$(srcdir)/src -isystem $(shell $(PG_CONFIG) --includedir-server)
PG_CFLAGS = -Wall -Wextra

REGRESS = declare errors lifecycle privileges lineage refresh incremental partitions discovery quality drop
REGRESS_OPTS = --temp-config=$(srcdir)/test/regress.conf --temp-instance=tmp_check

ISOLATION = refresh_concurrency incremental_concurrency trim_race
ISOLATION_OPTS = --inputdir=$(srcdir)/test/isolation --outputdir=output_iso \
	--temp-config=$(srcdir)/test/regress.conf --temp-instance=tmp_check_iso

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
