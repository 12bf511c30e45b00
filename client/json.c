/*-------------------------------------------------------------------------
 *
 * json.c
 *	  A small, strict JSON parser (RFC 8259): recursive descent over the
 *	  text, calling the handler of json.h for each token in order.
 *
 * Why our own and not a library: the client needs JSON for two things,
 * checking a descriptor file before it is sent and translating the jsonb
 * text the server returns into YAML.  Both are one pass from tokens to
 * something else, in document order; a tree library (json-c) would build a
 * tree only to walk it again, and would add a package to install.  The
 * grammar is small enough to implement in full: strings with every escape
 * (surrogate pairs joined, lone surrogates refused), raw control
 * characters and invalid UTF-8 refused, numbers exactly as the grammar
 * says, one value and nothing but whitespace after it, nesting bounded by
 * JSON_MAX_DEPTH so hostile input cannot overflow the stack.
 *
 * IDENTIFICATION
 *	  client/json.c
 *
 *-------------------------------------------------------------------------
 */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

typedef struct Parser
{
	const char *p;				/* next character */
	const char *start;
	const char *end;
	const JsonHandler *h;
	char	   *errbuf;
	size_t		errlen;
	int			depth;
	StrBuf		str;			/* the string being decoded */
	int			stopped;		/* a callback stopped the parse */
} Parser;

/* Describe a syntax error at the current position; returns -1. */
static int
syntax_error(Parser *ps, const char *problem)
{
	int			line = 1;
	int			col = 1;
	const char *q;

	for (q = ps->start; q < ps->p && q < ps->end; q++)
	{
		if (*q == '\n')
		{
			line++;
			col = 1;
		}
		else if ((*q & 0xC0) != 0x80)	/* count characters, not bytes */
			col++;
	}
	snprintf(ps->errbuf, ps->errlen, "line %d, column %d: %s", line, col,
			 problem);
	return -1;
}

/* a callback's verdict: -2 when it stopped the parse */
static int
callback_result(Parser *ps, int rc)
{
	if (rc != 0)
	{
		ps->stopped = 1;
		return -2;
	}
	return 0;
}

static void
skip_ws(Parser *ps)
{
	while (ps->p < ps->end &&
		   (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* four hex digits after "\u"; -1 if they are not */
static long
read_hex4(Parser *ps)
{
	long		v = 0;
	int			i;

	if (ps->end - ps->p < 4)
		return -1;
	for (i = 0; i < 4; i++)
	{
		int			d = hexval(ps->p[i]);

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	ps->p += 4;
	return v;
}

static void
put_utf8(StrBuf *sb, unsigned long cp)
{
	char		b[4];

	if (cp < 0x80)
		sb_putc(sb, (char) cp);
	else if (cp < 0x800)
	{
		b[0] = (char) (0xC0 | (cp >> 6));
		b[1] = (char) (0x80 | (cp & 0x3F));
		sb_putn(sb, b, 2);
	}
	else if (cp < 0x10000)
	{
		b[0] = (char) (0xE0 | (cp >> 12));
		b[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char) (0x80 | (cp & 0x3F));
		sb_putn(sb, b, 3);
	}
	else
	{
		b[0] = (char) (0xF0 | (cp >> 18));
		b[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
		b[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
		b[3] = (char) (0x80 | (cp & 0x3F));
		sb_putn(sb, b, 4);
	}
}

/*
 * Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), 0 if it is not one.
 */
static int
utf8_seq_len(const unsigned char *p, const unsigned char *end)
{
	int			n;
	unsigned long cp;
	int			i;

	if (p[0] < 0x80)
		return 1;
	else if ((p[0] & 0xE0) == 0xC0)
	{
		n = 2;
		cp = p[0] & 0x1F;
	}
	else if ((p[0] & 0xF0) == 0xE0)
	{
		n = 3;
		cp = p[0] & 0x0F;
	}
	else if ((p[0] & 0xF8) == 0xF0)
	{
		n = 4;
		cp = p[0] & 0x07;
	}
	else
		return 0;
	if (end - p < n)
		return 0;
	for (i = 1; i < n; i++)
	{
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
		(n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
		(cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/* a string, the opening quote at ps->p; decoded into ps->str */
static int
parse_string(Parser *ps)
{
	sb_reset(&ps->str);
	ps->p++;					/* opening quote */
	for (;;)
	{
		unsigned char c;

		if (ps->p >= ps->end)
			return syntax_error(ps, "unterminated string");
		c = (unsigned char) *ps->p;
		if (c == '"')
		{
			ps->p++;
			return 0;
		}
		if (c < 0x20)
			return syntax_error(ps, "control character in string (escape it)");
		if (c == '\\')
		{
			ps->p++;
			if (ps->p >= ps->end)
				return syntax_error(ps, "unterminated string");
			c = (unsigned char) *ps->p++;
			switch (c)
			{
				case '"':
				case '\\':
				case '/':
					sb_putc(&ps->str, (char) c);
					break;
				case 'b':
					sb_putc(&ps->str, '\b');
					break;
				case 'f':
					sb_putc(&ps->str, '\f');
					break;
				case 'n':
					sb_putc(&ps->str, '\n');
					break;
				case 'r':
					sb_putc(&ps->str, '\r');
					break;
				case 't':
					sb_putc(&ps->str, '\t');
					break;
				case 'u':
					{
						long		cp = read_hex4(ps);

						if (cp < 0)
							return syntax_error(ps, "\\u needs four hexadecimal digits");
						if (cp >= 0xDC00 && cp <= 0xDFFF)
							return syntax_error(ps, "lone low surrogate in \\u escape");
						if (cp >= 0xD800 && cp <= 0xDBFF)
						{
							long		lo;

							if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
								return syntax_error(ps, "high surrogate not followed by a low surrogate");
							ps->p += 2;
							lo = read_hex4(ps);
							if (lo < 0xDC00 || lo > 0xDFFF)
								return syntax_error(ps, "high surrogate not followed by a low surrogate");
							cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						}
						put_utf8(&ps->str, (unsigned long) cp);
						break;
					}
				default:
					ps->p--;
					return syntax_error(ps, "invalid escape in string");
			}
			continue;
		}
		{
			int			n = utf8_seq_len((const unsigned char *) ps->p,
										 (const unsigned char *) ps->end);

			if (n == 0)
				return syntax_error(ps, "invalid UTF-8 in string");
			sb_putn(&ps->str, ps->p, (size_t) n);
			ps->p += n;
		}
	}
}

static int
is_digit(const Parser *ps)
{
	return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
parse_number(Parser *ps)
{
	const char *begin = ps->p;

	if (*ps->p == '-')
		ps->p++;
	if (!is_digit(ps))
		return syntax_error(ps, "invalid number");
	if (*ps->p == '0')
	{
		ps->p++;
		if (is_digit(ps))
			return syntax_error(ps, "leading zeros are not allowed in numbers");
	}
	else
		while (is_digit(ps))
			ps->p++;
	if (ps->p < ps->end && *ps->p == '.')
	{
		ps->p++;
		if (!is_digit(ps))
			return syntax_error(ps, "digits expected after the decimal point");
		while (is_digit(ps))
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E'))
	{
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (!is_digit(ps))
			return syntax_error(ps, "digits expected in the exponent");
		while (is_digit(ps))
			ps->p++;
	}
	if (ps->h->number)
		return callback_result(ps, ps->h->number(ps->h->state, begin,
												 (size_t) (ps->p - begin)));
	return 0;
}

static int	parse_value(Parser *ps);

static int
parse_object(Parser *ps)
{
	int			rc;

	ps->p++;					/* { */
	if (ps->h->object_start &&
		(rc = callback_result(ps, ps->h->object_start(ps->h->state))) != 0)
		return rc;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}')
		ps->p++;
	else
		for (;;)
		{
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != '"')
				return syntax_error(ps, "object key (a string) expected");
			if ((rc = parse_string(ps)) != 0)
				return rc;
			if (ps->h->key &&
				(rc = callback_result(ps, ps->h->key(ps->h->state, ps->str.data,
													 ps->str.len))) != 0)
				return rc;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return syntax_error(ps, "\":\" expected after an object key");
			ps->p++;
			if ((rc = parse_value(ps)) != 0)
				return rc;
			skip_ws(ps);
			if (ps->p < ps->end && *ps->p == ',')
			{
				ps->p++;
				continue;
			}
			if (ps->p < ps->end && *ps->p == '}')
			{
				ps->p++;
				break;
			}
			return syntax_error(ps, "\",\" or \"}\" expected in object");
		}
	if (ps->h->object_end)
		return callback_result(ps, ps->h->object_end(ps->h->state));
	return 0;
}

static int
parse_array(Parser *ps)
{
	int			rc;

	ps->p++;					/* [ */
	if (ps->h->array_start &&
		(rc = callback_result(ps, ps->h->array_start(ps->h->state))) != 0)
		return rc;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']')
		ps->p++;
	else
		for (;;)
		{
			if ((rc = parse_value(ps)) != 0)
				return rc;
			skip_ws(ps);
			if (ps->p < ps->end && *ps->p == ',')
			{
				ps->p++;
				continue;
			}
			if (ps->p < ps->end && *ps->p == ']')
			{
				ps->p++;
				break;
			}
			return syntax_error(ps, "\",\" or \"]\" expected in array");
		}
	if (ps->h->array_end)
		return callback_result(ps, ps->h->array_end(ps->h->state));
	return 0;
}

static int
parse_literal(Parser *ps, const char *word)
{
	size_t		n = strlen(word);

	if ((size_t) (ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return syntax_error(ps, "unexpected character");
	ps->p += n;
	if (ps->h->literal)
		return callback_result(ps, ps->h->literal(ps->h->state, word));
	return 0;
}

static int
parse_value(Parser *ps)
{
	int			rc;

	skip_ws(ps);
	if (ps->p >= ps->end)
		return syntax_error(ps, "value expected");
	switch (*ps->p)
	{
		case '{':
		case '[':
			if (++ps->depth > JSON_MAX_DEPTH)
				return syntax_error(ps, "nested too deeply");
			rc = (*ps->p == '{') ? parse_object(ps) : parse_array(ps);
			ps->depth--;
			return rc;
		case '"':
			if ((rc = parse_string(ps)) != 0)
				return rc;
			if (ps->h->string)
				return callback_result(ps, ps->h->string(ps->h->state, ps->str.data,
														 ps->str.len));
			return 0;
		case 't':
			return parse_literal(ps, "true");
		case 'f':
			return parse_literal(ps, "false");
		case 'n':
			return parse_literal(ps, "null");
		default:
			if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
				return parse_number(ps);
			return syntax_error(ps, "unexpected character");
	}
}

int
json_parse(const char *text, size_t len, const JsonHandler *h,
		   char *errbuf, size_t errlen)
{
	Parser		ps;
	int			rc;

	ps.p = ps.start = text;
	ps.end = text + len;
	ps.h = h;
	ps.errbuf = errbuf;
	ps.errlen = errlen;
	ps.depth = 0;
	ps.stopped = 0;
	sb_init(&ps.str);
	/* a UTF-8 byte order mark is tolerated at the start, as RFC 8259 allows */
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		ps.p += 3;
	rc = parse_value(&ps);
	if (rc == 0)
	{
		skip_ws(&ps);
		if (ps.p < ps.end)
			rc = syntax_error(&ps, "unexpected text after the value");
	}
	sb_free(&ps.str);
	return rc;
}
