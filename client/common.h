/*-------------------------------------------------------------------------
 *
 * common.h
 *	  What the files of the pg_dataproduct client program share: a growable
 *	  string buffer, error reporting, and running parameterized queries.
 *
 * The program is a plain libpq client (no frontend library of PostgreSQL's
 * own): errors go to stderr prefixed with the program's name, and every
 * statement is sent with PQexecParams, values as parameters.
 *
 * IDENTIFICATION
 *	  client/common.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DP_CLIENT_COMMON_H
#define DP_CLIENT_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <libpq-fe.h>

/* exit codes */
#define EXIT_OK		0
#define EXIT_ERROR	1
#define EXIT_USAGE	2

extern const char *progname;

/* a NUL-terminated string that grows as text is appended */
typedef struct StrBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} StrBuf;

extern void sb_init(StrBuf *sb);
extern void sb_free(StrBuf *sb);
extern void sb_reset(StrBuf *sb);
extern void sb_putc(StrBuf *sb, char c);
extern void sb_putn(StrBuf *sb, const char *s, size_t n);
extern void sb_puts(StrBuf *sb, const char *s);
extern void sb_printf(StrBuf *sb, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

extern void *xmalloc(size_t n);
extern void *xrealloc(void *p, size_t n);
extern char *xstrdup(const char *s);

/* "pg_dataproduct: error: ..." on stderr */
extern void pg_error(const char *fmt,...)
			__attribute__((format(printf, 1, 2)));

/*
 * Run a statement with text parameters; returns the result when its status
 * is PGRES_TUPLES_OK or PGRES_COMMAND_OK, else prints the server's error
 * (with its detail and hint) and returns NULL.
 */
extern PGresult *run_query(PGconn *conn, const char *sql, int nparams,
						   const char *const *params);

/*
 * Print the error of a failed result, with its DETAIL and HINT; where, if
 * not NULL, names what failed (a descriptor file, say).
 */
extern void report_result_error(PGconn *conn, const PGresult *res, const char *where);

/* the value of a column, NULL for SQL NULL */
extern const char *getvalue_or_null(const PGresult *res, int row, int col);

/* convert.c: descriptors read from files, documents written as YAML */
typedef struct Descriptor
{
	char	   *origin;			/* "file" or "file, document N" */
	char	   *json;			/* the document as JSON text */
} Descriptor;

typedef struct DescriptorList
{
	Descriptor *items;
	int			n;
	int			cap;
} DescriptorList;

extern int	read_descriptor_file(const char *path, DescriptorList *list);
extern int	json_to_yaml(const char *json, size_t len, FILE *out);

/* lineage.c */
extern int	cmd_lineage(PGconn *conn, const char *format, FILE *out);

/* docs.c */
extern int	cmd_docs(PGconn *conn, const char *outdir);

#endif							/* DP_CLIENT_COMMON_H */
