/*-------------------------------------------------------------------------
 *
 * util.c
 *	  Small services of the client program: memory that never returns NULL,
 *	  a growable string buffer, error reporting on stderr, and running one
 *	  parameterized statement with its errors reported as psql reports them.
 *
 * IDENTIFICATION
 *	  client/util.c
 *
 *-------------------------------------------------------------------------
 */
#include "common.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* out of memory is fatal: the program has nothing to clean up */
void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
	{
		fprintf(stderr, "%s: error: out of memory\n", progname);
		exit(EXIT_ERROR);
	}
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void	   *q = realloc(p, n ? n : 1);

	if (q == NULL)
	{
		fprintf(stderr, "%s: error: out of memory\n", progname);
		exit(EXIT_ERROR);
	}
	return q;
}

char *
xstrdup(const char *s)
{
	size_t		n = strlen(s) + 1;
	char	   *p = xmalloc(n);

	memcpy(p, s, n);
	return p;
}

void
sb_init(StrBuf *sb)
{
	sb->cap = 256;
	sb->len = 0;
	sb->data = xmalloc(sb->cap);
	sb->data[0] = '\0';
}

void
sb_free(StrBuf *sb)
{
	free(sb->data);
	sb->data = NULL;
	sb->len = sb->cap = 0;
}

void
sb_reset(StrBuf *sb)
{
	sb->len = 0;
	sb->data[0] = '\0';
}

static void
sb_reserve(StrBuf *sb, size_t more)
{
	if (sb->len + more + 1 > sb->cap)
	{
		while (sb->len + more + 1 > sb->cap)
			sb->cap *= 2;
		sb->data = xrealloc(sb->data, sb->cap);
	}
}

void
sb_putn(StrBuf *sb, const char *s, size_t n)
{
	sb_reserve(sb, n);
	memcpy(sb->data + sb->len, s, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
}

void
sb_putc(StrBuf *sb, char c)
{
	sb_putn(sb, &c, 1);
}

void
sb_puts(StrBuf *sb, const char *s)
{
	sb_putn(sb, s, strlen(s));
}

void
sb_printf(StrBuf *sb, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_reserve(sb, (size_t) n);
	va_start(ap, fmt);
	vsnprintf(sb->data + sb->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t) n;
}

void
pg_error(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "%s: error: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * The server's error of a failed statement, as psql shows it: the message,
 * then DETAIL, HINT and CONTEXT lines when the server sent them.
 */
void
report_result_error(PGconn *conn, const PGresult *res, const char *where)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;

	fprintf(stderr, "%s: error: ", progname);
	if (where)
		fprintf(stderr, "%s: ", where);
	if (msg == NULL)
	{
		/* not from the server (connection lost, out of memory, ...) */
		const char *text = res ? PQresultErrorMessage(res) : "";
		size_t		n;

		if (*text == '\0')
			text = PQerrorMessage(conn);
		n = strlen(text);
		while (n > 0 && text[n - 1] == '\n')
			n--;
		fprintf(stderr, "%.*s\n", (int) n, n ? text : "query failed");
		return;
	}
	fprintf(stderr, "%s\n", msg);
	if (detail)
		fprintf(stderr, "DETAIL:  %s\n", detail);
	if (hint)
		fprintf(stderr, "HINT:  %s\n", hint);
}

PGresult *
run_query(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult   *res = PQexecParams(conn, sql, nparams, NULL, params,
								   NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return res;
	report_result_error(conn, res, NULL);
	PQclear(res);
	return NULL;
}

const char *
getvalue_or_null(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}
