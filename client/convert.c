/*-------------------------------------------------------------------------
 *
 * convert.c
 *	  Descriptor documents between YAML and JSON, through libyaml:
 *	  - read_descriptor_file(): a YAML file (one product per document of a
 *	    multi-document stream) or a JSON file, as JSON texts for
 *	    dataproduct.apply();
 *	  - json_to_yaml(): the JSON text of a jsonb the server returned
 *	    (dataproduct.export()) written as one YAML document.
 *
 * YAML to JSON walks libyaml's parser events and writes JSON text as it
 * goes, so key order is the file's.  Scalars are typed by the YAML 1.2
 * core schema: quoted and block scalars are strings; a plain scalar is
 * null (null, Null, NULL, ~, empty), a boolean (true/false in three
 * spellings), an integer (decimal, 0o octal, 0x hexadecimal) or a float,
 * and otherwise a string, so YAML 1.1's yes/no/on/off stay strings.
 * Numbers are rewritten in JSON's grammar (+1 -> 1, 0x1F -> 31, .5 -> 0.5);
 * .inf and .nan have no JSON form and are refused.  Explicit tags !!str,
 * !!int, !!float, !!bool, !!null, !!map, !!seq and "!" are honoured, others
 * refused.  Aliases are refused (a descriptor is a tree; write the value
 * out), duplicate keys and keys that are not scalars too.  Every error
 * names the file, line and column.
 *
 * JSON to YAML walks the tokens of json.c and hands libyaml's emitter one
 * event per token, so key order is the server's.  Strings that a YAML
 * reader would take for something else (true, 12, 1.0.0, 2024-01-01, yes,
 * null, the empty string: YAML 1.2 core and 1.1 readers alike) are
 * double-quoted; strings with line breaks (SQL queries) are written as
 * literal blocks when the emitter can.
 *
 * IDENTIFICATION
 *	  client/convert.c
 *
 *-------------------------------------------------------------------------
 */
#include "common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "json.h"

/* how a plain scalar resolves under the YAML 1.2 core schema */
typedef enum Resolved
{
	R_NULL,
	R_TRUE,
	R_FALSE,
	R_INT,
	R_FLOAT,
	R_NONFINITE,
	R_STR
} Resolved;

#define TAG_PREFIX "tag:yaml.org,2002:"

static bool
is_one_of(const char *s, size_t n, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == n && memcmp(s, *words, n) == 0)
			return true;
	return false;
}

static bool
all_in(const char *s, size_t n, const char *set)
{
	size_t		i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] == '\0' || strchr(set, s[i]) == NULL)
			return false;
	return true;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool
is_core_float(const char *s, size_t n)
{
	size_t		i = 0;
	size_t		intdigits = 0;
	size_t		fracdigits = 0;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, intdigits++;
	if (i < n && s[i] == '.')
	{
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, fracdigits++;
	}
	if (intdigits == 0 && fracdigits == 0)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E'))
	{
		size_t		expdigits = 0;

		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, expdigits++;
		if (expdigits == 0)
			return false;
	}
	return i == n;
}

static Resolved
resolve_plain(const char *s, size_t n)
{
	static const char *const nulls[] = {"null", "Null", "NULL", "~", NULL};
	static const char *const trues[] = {"true", "True", "TRUE", NULL};
	static const char *const falses[] = {"false", "False", "FALSE", NULL};
	static const char *const nonfinite[] = {".inf", ".Inf", ".INF", "+.inf",
		"+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN", NULL};
	size_t		skip = (n > 0 && (s[0] == '+' || s[0] == '-')) ? 1 : 0;

	if (n == 0 || is_one_of(s, n, nulls))
		return R_NULL;
	if (is_one_of(s, n, trues))
		return R_TRUE;
	if (is_one_of(s, n, falses))
		return R_FALSE;
	if (all_in(s + skip, n - skip, "0123456789"))
		return R_INT;
	if (n > 2 && s[0] == '0' && s[1] == 'o' && all_in(s + 2, n - 2, "01234567"))
		return R_INT;
	if (n > 2 && s[0] == '0' && s[1] == 'x' &&
		all_in(s + 2, n - 2, "0123456789abcdefABCDEF"))
		return R_INT;
	if (is_core_float(s, n))
		return R_FLOAT;
	if (is_one_of(s, n, nonfinite))
		return R_NONFINITE;
	return R_STR;
}

/*
 * Append a YAML integer or float (as resolve_plain() classified it) in
 * JSON's number grammar.  Returns NULL or what is wrong.
 */
static const char *
number_to_json(StrBuf *out, const char *s, size_t n, Resolved r)
{
	size_t		i = 0;

	if (r == R_INT && n > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x'))
	{
		char		digits[80];
		unsigned long long v;
		char	   *endp;

		if (n - 2 >= sizeof(digits))
			return "integer out of range";
		memcpy(digits, s + 2, n - 2);
		digits[n - 2] = '\0';
		errno = 0;
		v = strtoull(digits, &endp, s[1] == 'o' ? 8 : 16);
		if (errno != 0 || *endp != '\0')
			return "integer out of range";
		sb_printf(out, "%llu", v);
		return NULL;
	}
	if (s[0] == '-')
		sb_putc(out, '-');
	if (s[0] == '+' || s[0] == '-')
		i++;
	/* integer part without leading zeros, "0" when empty or all zeros */
	while (i + 1 < n && s[i] == '0' && s[i + 1] >= '0' && s[i + 1] <= '9')
		i++;
	if (i >= n || s[i] < '0' || s[i] > '9')
		sb_putc(out, '0');
	while (i < n && s[i] >= '0' && s[i] <= '9')
		sb_putc(out, s[i++]);
	if (i < n && s[i] == '.')
	{
		i++;
		if (i < n && s[i] >= '0' && s[i] <= '9')
		{
			sb_putc(out, '.');
			while (i < n && s[i] >= '0' && s[i] <= '9')
				sb_putc(out, s[i++]);
		}
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E'))
	{
		sb_putc(out, 'e');
		i++;
		if (s[i] == '+' || s[i] == '-')
			sb_putc(out, s[i++]);
		while (i < n)
			sb_putc(out, s[i++]);
	}
	return NULL;
}

/* a JSON string literal of s[0..n), which is UTF-8 */
static void
json_string(StrBuf *out, const char *s, size_t n)
{
	size_t		i;

	sb_putc(out, '"');
	for (i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		switch (c)
		{
			case '"':
				sb_puts(out, "\\\"");
				break;
			case '\\':
				sb_puts(out, "\\\\");
				break;
			case '\n':
				sb_puts(out, "\\n");
				break;
			case '\r':
				sb_puts(out, "\\r");
				break;
			case '\t':
				sb_puts(out, "\\t");
				break;
			default:
				if (c < 0x20)
					sb_printf(out, "\\u%04x", c);
				else
					sb_putc(out, (char) c);
		}
	}
	sb_putc(out, '"');
}

/* ------------------------------------------------------------------------
 * YAML to JSON
 * ------------------------------------------------------------------------
 */

typedef struct Frame
{
	bool		is_map;
	bool		want_key;		/* mapping: the next scalar is a key */
	int			count;			/* entries written so far */
	char	  **keys;			/* mapping: keys seen, for duplicates */
	int			nkeys;
	int			capkeys;
} Frame;

typedef struct YamlConv
{
	const char *path;
	StrBuf		out;
	Frame	   *stack;
	int			depth;
	int			cap;
	int			root;			/* 0 none yet, 1 mapping, 2 null, 3 other */
	yaml_mark_t root_mark;
} YamlConv;

static int
conv_error(const YamlConv *cv, yaml_mark_t mark, const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: error: %s:%lu:%lu: ", progname, cv->path,
			(unsigned long) mark.line + 1, (unsigned long) mark.column + 1);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return -1;
}

static void
push_frame(YamlConv *cv, bool is_map)
{
	Frame	   *f;

	if (cv->depth == cv->cap)
	{
		cv->cap = cv->cap ? cv->cap * 2 : 16;
		cv->stack = xrealloc(cv->stack, sizeof(Frame) * (size_t) cv->cap);
	}
	f = &cv->stack[cv->depth++];
	memset(f, 0, sizeof(*f));
	f->is_map = is_map;
	f->want_key = is_map;
}

static void
pop_frame(YamlConv *cv)
{
	Frame	   *f = &cv->stack[--cv->depth];
	int			i;

	for (i = 0; i < f->nkeys; i++)
		free(f->keys[i]);
	free(f->keys);
}

/*
 * Before a value (not a key) is written: the comma of its container, and
 * the bookkeeping of where it stands.  kind is the root kind it would be.
 */
static void
before_value(YamlConv *cv, int kind, yaml_mark_t mark)
{
	Frame	   *f;

	if (cv->depth == 0)
	{
		cv->root = kind;
		cv->root_mark = mark;
		return;
	}
	f = &cv->stack[cv->depth - 1];
	if (f->is_map)
		f->want_key = true;
	else if (f->count++ > 0)
		sb_putc(&cv->out, ',');
}

/* the tag of a collection must be absent, "!" or the matching core tag */
static int
check_collection_tag(const YamlConv *cv, const yaml_char_t *tag, const char *expect,
					 yaml_mark_t mark)
{
	const char *t = (const char *) tag;

	if (t == NULL || strcmp(t, "!") == 0)
		return 0;
	if (strncmp(t, TAG_PREFIX, strlen(TAG_PREFIX)) == 0 &&
		strcmp(t + strlen(TAG_PREFIX), expect) == 0)
		return 0;
	return conv_error(cv, mark, "unsupported tag \"%s\" (descriptors use plain YAML: mappings, sequences, scalars)", t);
}

static int
on_key(YamlConv *cv, const yaml_event_t *ev)
{
	Frame	   *f = &cv->stack[cv->depth - 1];
	const char *s = (const char *) ev->data.scalar.value;
	size_t		n = ev->data.scalar.length;
	int			i;

	if (memchr(s, '\0', n) != NULL)
		return conv_error(cv, ev->start_mark, "%s", "a key contains a NUL character");
	for (i = 0; i < f->nkeys; i++)
		if (strcmp(f->keys[i], s) == 0)
			return conv_error(cv, ev->start_mark, "duplicate key \"%s\"", s);
	if (f->nkeys == f->capkeys)
	{
		f->capkeys = f->capkeys ? f->capkeys * 2 : 8;
		f->keys = xrealloc(f->keys, sizeof(char *) * (size_t) f->capkeys);
	}
	f->keys[f->nkeys++] = xstrdup(s);
	if (f->count++ > 0)
		sb_putc(&cv->out, ',');
	json_string(&cv->out, s, n);
	sb_putc(&cv->out, ':');
	f->want_key = false;
	return 0;
}

static int
on_scalar(YamlConv *cv, const yaml_event_t *ev)
{
	const char *s = (const char *) ev->data.scalar.value;
	size_t		n = ev->data.scalar.length;
	const char *tag = (const char *) ev->data.scalar.tag;
	const char *core = NULL;	/* the core tag's name, if any */
	Resolved	r;

	if (tag != NULL && strcmp(tag, "!") != 0)
	{
		if (strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) != 0)
			return conv_error(cv, ev->start_mark, "unsupported tag \"%s\"", tag);
		core = tag + strlen(TAG_PREFIX);
		if (strcmp(core, "str") != 0 && strcmp(core, "int") != 0 &&
			strcmp(core, "float") != 0 && strcmp(core, "bool") != 0 &&
			strcmp(core, "null") != 0)
			return conv_error(cv, ev->start_mark, "unsupported tag \"%s\"", tag);
	}

	if (cv->depth > 0 && cv->stack[cv->depth - 1].want_key)
		return on_key(cv, ev);

	/* a string unless plain and untagged, or tagged with a core type */
	if ((tag != NULL && strcmp(tag, "!") == 0) || (core && strcmp(core, "str") == 0))
		r = R_STR;
	else if (core != NULL || ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
		r = resolve_plain(s, n);
	else
		r = R_STR;

	if (core != NULL && strcmp(core, "str") != 0)
	{
		bool		ok = (strcmp(core, "int") == 0 && r == R_INT) ||
			(strcmp(core, "float") == 0 && (r == R_INT || r == R_FLOAT)) ||
			(strcmp(core, "bool") == 0 && (r == R_TRUE || r == R_FALSE)) ||
			(strcmp(core, "null") == 0 && r == R_NULL);

		if (!ok)
			return conv_error(cv, ev->start_mark,
							  "value does not match its tag \"%s\"", tag);
	}

	before_value(cv, r == R_NULL ? 2 : 3, ev->start_mark);
	switch (r)
	{
		case R_NULL:
			sb_puts(&cv->out, "null");
			break;
		case R_TRUE:
			sb_puts(&cv->out, "true");
			break;
		case R_FALSE:
			sb_puts(&cv->out, "false");
			break;
		case R_INT:
		case R_FLOAT:
			{
				const char *problem = number_to_json(&cv->out, s, n, r);

				if (problem)
					return conv_error(cv, ev->start_mark, "%s", problem);
				break;
			}
		case R_NONFINITE:
			return conv_error(cv, ev->start_mark,
							  "\"%s\" has no JSON form (quote it to make it a string)", s);
		case R_STR:
			if (memchr(s, '\0', n) != NULL)
				return conv_error(cv, ev->start_mark, "%s",
								  "a string contains a NUL character, which PostgreSQL cannot store");
			json_string(&cv->out, s, n);
			break;
	}
	return 0;
}

static void
add_descriptor(DescriptorList *list, const char *origin, const char *json)
{
	if (list->n == list->cap)
	{
		list->cap = list->cap ? list->cap * 2 : 8;
		list->items = xrealloc(list->items, sizeof(Descriptor) * (size_t) list->cap);
	}
	list->items[list->n].origin = xstrdup(origin);
	list->items[list->n].json = xstrdup(json);
	list->n++;
}

/*
 * Every document of a YAML stream, as JSON texts appended to list.
 * Documents that are empty (null) are skipped; any other root must be a
 * mapping.  Returns 0, or -1 with the error reported.
 */
static int
yaml_to_json(const char *path, const char *text, size_t len, DescriptorList *list)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	YamlConv	cv;
	int			rc = 0;
	int			docno = 0;
	int			ndocs_before = list->n;
	int			done = 0;

	memset(&cv, 0, sizeof(cv));
	cv.path = path;
	sb_init(&cv.out);
	if (!yaml_parser_initialize(&parser))
	{
		pg_error("could not initialize the YAML parser");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);

	while (!done && rc == 0)
	{
		if (!yaml_parser_parse(&parser, &ev))
		{
			fprintf(stderr, "%s: error: %s:%lu:%lu: %s%s%s\n", progname, path,
					(unsigned long) parser.problem_mark.line + 1,
					(unsigned long) parser.problem_mark.column + 1,
					parser.problem ? parser.problem : "invalid YAML",
					parser.context ? " " : "",
					parser.context ? parser.context : "");
			rc = -1;
			break;
		}
		switch (ev.type)
		{
			case YAML_STREAM_END_EVENT:
				done = 1;
				break;
			case YAML_DOCUMENT_START_EVENT:
				docno++;
				sb_reset(&cv.out);
				cv.root = 0;
				break;
			case YAML_DOCUMENT_END_EVENT:
				if (cv.root == 1)
				{
					StrBuf		origin;

					sb_init(&origin);
					sb_printf(&origin, "%s, document %d", path, docno);
					add_descriptor(list, origin.data, cv.out.data);
					sb_free(&origin);
				}
				else if (cv.root == 3)
					rc = conv_error(&cv, cv.root_mark, "%s",
									"a descriptor must be a mapping (of fields such as name, version, schema)");
				break;
			case YAML_ALIAS_EVENT:
				rc = conv_error(&cv, ev.start_mark,
								"alias \"*%s\" is not supported: write the value out in full",
								(const char *) ev.data.alias.anchor);
				break;
			case YAML_SCALAR_EVENT:
				rc = on_scalar(&cv, &ev);
				break;
			case YAML_SEQUENCE_START_EVENT:
				if (cv.depth > 0 && cv.stack[cv.depth - 1].want_key)
					rc = conv_error(&cv, ev.start_mark, "%s", "a key must be a scalar");
				else if ((rc = check_collection_tag(&cv, ev.data.sequence_start.tag,
													"seq", ev.start_mark)) == 0)
				{
					before_value(&cv, 3, ev.start_mark);
					push_frame(&cv, false);
					sb_putc(&cv.out, '[');
				}
				break;
			case YAML_SEQUENCE_END_EVENT:
				pop_frame(&cv);
				sb_putc(&cv.out, ']');
				break;
			case YAML_MAPPING_START_EVENT:
				if (cv.depth > 0 && cv.stack[cv.depth - 1].want_key)
					rc = conv_error(&cv, ev.start_mark, "%s", "a key must be a scalar");
				else if ((rc = check_collection_tag(&cv, ev.data.mapping_start.tag,
													"map", ev.start_mark)) == 0)
				{
					before_value(&cv, 1, ev.start_mark);
					push_frame(&cv, true);
					sb_putc(&cv.out, '{');
				}
				break;
			case YAML_MAPPING_END_EVENT:
				pop_frame(&cv);
				sb_putc(&cv.out, '}');
				break;
			default:
				break;
		}
		yaml_event_delete(&ev);
	}
	while (cv.depth > 0)
		pop_frame(&cv);
	free(cv.stack);
	sb_free(&cv.out);
	yaml_parser_delete(&parser);

	if (rc == 0 && list->n == ndocs_before)
	{
		fprintf(stderr, "%s: error: %s: no descriptor in the file\n", progname, path);
		rc = -1;
	}
	/* a single document is named by its file alone */
	if (rc == 0 && docno == 1 && list->n == ndocs_before + 1)
	{
		free(list->items[list->n - 1].origin);
		list->items[list->n - 1].origin = xstrdup(path);
	}
	return rc;
}

/* ------------------------------------------------------------------------
 * JSON files
 * ------------------------------------------------------------------------
 */

static int
first_token_object(void *state)
{
	int		   *seen = state;

	if (*seen == 0)
		*seen = 1;
	return 0;
}

static int
first_token_other(void *state)
{
	int		   *seen = state;

	if (*seen == 0)
		*seen = 2;
	return 0;
}

static int
first_token_scalar(void *state, const char *s, size_t n)
{
	(void) s;
	(void) n;
	return first_token_other(state);
}

static int
first_token_literal(void *state, const char *s)
{
	(void) s;
	return first_token_other(state);
}

/* a JSON file: checked here (one object), sent as written */
static int
json_file(const char *path, const char *text, size_t len, DescriptorList *list)
{
	int			seen = 0;
	JsonHandler h = {0};
	char		err[256];
	int			rc;

	h.state = &seen;
	h.object_start = first_token_object;
	h.array_start = first_token_other;
	h.string = first_token_scalar;
	h.number = first_token_scalar;
	h.literal = first_token_literal;
	rc = json_parse(text, len, &h, err, sizeof(err));
	if (rc != 0)
	{
		fprintf(stderr, "%s: error: %s: invalid JSON: %s\n", progname, path, err);
		return -1;
	}
	if (seen != 1)
	{
		fprintf(stderr, "%s: error: %s: a descriptor must be a JSON object\n",
				progname, path);
		return -1;
	}
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		text += 3;
	add_descriptor(list, path, text);
	return 0;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t		n = strlen(s);
	size_t		m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * The descriptors of one file: JSON when its name ends in .json, YAML
 * otherwise.  Appends to list; returns 0, or -1 with the error reported.
 */
int
read_descriptor_file(const char *path, DescriptorList *list)
{
	FILE	   *f = fopen(path, "rb");
	StrBuf		text;
	char		buf[65536];
	size_t		n;
	int			rc;

	if (f == NULL)
	{
		pg_error("could not open \"%s\": %s", path, strerror(errno));
		return -1;
	}
	sb_init(&text);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sb_putn(&text, buf, n);
	if (ferror(f))
	{
		pg_error("could not read \"%s\": %s", path, strerror(errno));
		fclose(f);
		sb_free(&text);
		return -1;
	}
	fclose(f);
	if (memchr(text.data, '\0', text.len) != NULL)
	{
		pg_error("\"%s\" is not a text file (it contains NUL bytes)", path);
		sb_free(&text);
		return -1;
	}
	if (ends_with(path, ".json"))
		rc = json_file(path, text.data, text.len, list);
	else
		rc = yaml_to_json(path, text.data, text.len, list);
	sb_free(&text);
	return rc;
}

/* ------------------------------------------------------------------------
 * JSON to YAML
 * ------------------------------------------------------------------------
 */

typedef struct Emit
{
	yaml_emitter_t emitter;
	int			failed;
} Emit;

static int
emit(Emit *em, yaml_event_t *ev)
{
	if (!yaml_emitter_emit(&em->emitter, ev))
	{
		pg_error("could not write YAML: %s",
				 em->emitter.problem ? em->emitter.problem : "emitter error");
		em->failed = 1;
		return -1;
	}
	return 0;
}

/* Would a YAML reader (1.2 core, or 1.1) take this plain text for a non-string? */
static bool
plain_would_misread(const char *s, size_t n)
{
	static const char *const yaml11_words[] = {"y", "Y", "yes", "Yes", "YES",
		"n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
	"<<", "=", NULL};

	if (n == 0 || resolve_plain(s, n) != R_STR || is_one_of(s, n, yaml11_words))
		return true;
	/* 1.1 integers, floats, sexagesimals, timestamps all start so */
	if (s[0] >= '0' && s[0] <= '9')
		return true;
	if (n > 1 && (s[0] == '+' || s[0] == '-' || s[0] == '.') &&
		((s[1] >= '0' && s[1] <= '9') || s[1] == '.'))
		return true;
	return false;
}

static int
emit_scalar(Emit *em, const char *s, size_t n, yaml_scalar_style_t style)
{
	yaml_event_t ev;

	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *) s, (int) n,
									  1, 1, style))
	{
		pg_error("out of memory");
		return -1;
	}
	return emit(em, &ev);
}

static int
emit_string(void *state, const char *s, size_t n)
{
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;

	if (memchr(s, '\n', n) != NULL)
		style = YAML_LITERAL_SCALAR_STYLE;
	else if (plain_would_misread(s, n))
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	return emit_scalar(state, s, n, style);
}

static int
emit_number(void *state, const char *s, size_t n)
{
	return emit_scalar(state, s, n, YAML_PLAIN_SCALAR_STYLE);
}

static int
emit_literal(void *state, const char *s)
{
	return emit_scalar(state, s, strlen(s), YAML_PLAIN_SCALAR_STYLE);
}

static int
emit_object_start(void *state)
{
	yaml_event_t ev;

	yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
	return emit(state, &ev);
}

static int
emit_object_end(void *state)
{
	yaml_event_t ev;

	yaml_mapping_end_event_initialize(&ev);
	return emit(state, &ev);
}

static int
emit_array_start(void *state)
{
	yaml_event_t ev;

	yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
	return emit(state, &ev);
}

static int
emit_array_end(void *state)
{
	yaml_event_t ev;

	yaml_sequence_end_event_initialize(&ev);
	return emit(state, &ev);
}

/*
 * Write the JSON text json[0..len) as one YAML document on out.  Returns 0,
 * or -1 with the error reported.
 */
int
json_to_yaml(const char *json, size_t len, FILE *out)
{
	Emit		em;
	yaml_event_t ev;
	JsonHandler h = {0};
	char		err[256];
	int			rc;

	memset(&em, 0, sizeof(em));
	if (!yaml_emitter_initialize(&em.emitter))
	{
		pg_error("could not initialize the YAML emitter");
		return -1;
	}
	yaml_emitter_set_output_file(&em.emitter, out);
	yaml_emitter_set_unicode(&em.emitter, 1);
	yaml_emitter_set_indent(&em.emitter, 2);
	yaml_emitter_set_width(&em.emitter, -1);

	h.state = &em;
	h.object_start = emit_object_start;
	h.object_end = emit_object_end;
	h.array_start = emit_array_start;
	h.array_end = emit_array_end;
	h.key = emit_string;
	h.string = emit_string;
	h.number = emit_number;
	h.literal = emit_literal;

	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	rc = emit(&em, &ev);
	if (rc == 0)
	{
		yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 0);
		rc = emit(&em, &ev);
	}
	if (rc == 0)
	{
		rc = json_parse(json, len, &h, err, sizeof(err));
		if (rc == -1)
			pg_error("the server returned invalid JSON: %s", err);
	}
	if (rc == 0)
	{
		yaml_document_end_event_initialize(&ev, 1);
		rc = emit(&em, &ev);
	}
	if (rc == 0)
	{
		yaml_stream_end_event_initialize(&ev);
		rc = emit(&em, &ev);
	}
	if (rc == 0 && !yaml_emitter_flush(&em.emitter))
	{
		pg_error("could not write YAML");
		rc = -1;
	}
	yaml_emitter_delete(&em.emitter);
	return rc == 0 ? 0 : -1;
}
