/* install/guard.sql: the start of every full install script (see install/README.md) */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pg_dataproduct" to load this file. \quit
