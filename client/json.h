/*-------------------------------------------------------------------------
 *
 * json.h
 *	  A strict, streaming JSON parser (RFC 8259) that calls a handler for
 *	  each token in document order, so a caller can translate a document
 *	  without building a tree and keeps its key order by construction.
 *
 * IDENTIFICATION
 *	  client/json.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DP_CLIENT_JSON_H
#define DP_CLIENT_JSON_H

#include <stddef.h>

/*
 * Callbacks return 0 to go on, anything else to stop the parse (the
 * callback then has reported its own error).  Strings come decoded to
 * UTF-8 (not NUL-free: a "\u0000" arrives as a NUL byte inside len);
 * numbers come as their JSON text; literal is "true", "false" or "null".
 * Any callback may be NULL.
 */
typedef struct JsonHandler
{
	void	   *state;
	int			(*object_start) (void *state);
	int			(*object_end) (void *state);
	int			(*array_start) (void *state);
	int			(*array_end) (void *state);
	int			(*key) (void *state, const char *s, size_t len);
	int			(*string) (void *state, const char *s, size_t len);
	int			(*number) (void *state, const char *s, size_t len);
	int			(*literal) (void *state, const char *s);
} JsonHandler;

/* deepest nesting accepted (the parser recurses) */
#define JSON_MAX_DEPTH 1000

/*
 * Parse text[0..len) as exactly one JSON value.  Returns 0 on success; -1
 * on a syntax error, described in errbuf as "line L, column C: problem";
 * -2 when a callback stopped the parse.
 */
extern int	json_parse(const char *text, size_t len, const JsonHandler *h,
					   char *errbuf, size_t errlen);

#endif							/* DP_CLIENT_JSON_H */
