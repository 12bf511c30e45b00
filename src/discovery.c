/*-------------------------------------------------------------------------
 *
 * discovery.c
 *	  Self-description and search support: column documentation and the
 *	  fuzzy matching behind dataproduct.search().
 *
 * Products are found and understood through the catalog: search() (in the
 * install script) ranks products and outputs by full-text search over their
 * names, descriptions, tags, column names and column descriptions, and by
 * trigram similarity so that a typo still finds them; describe() returns a
 * product as one jsonb document.  Column descriptions are COMMENTs on the
 * output views' columns, so every BI tool shows them too.
 *
 * The trigram similarity here follows pg_trgm's definition (lower-cased
 * words padded with two spaces in front and one behind, the similarity of
 * two strings being shared trigrams over all distinct trigrams), so that
 * search needs no other extension.  It compares the query with each word of
 * the text and keeps the best, like pg_trgm's word_similarity.
 *
 * IDENTIFICATION
 *	  src/discovery.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "commands/comment.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "catalog.h"
#include "exec.h"

PG_FUNCTION_INFO_V1(dataproduct_comment_column);
PG_FUNCTION_INFO_V1(dataproduct_word_similarity);

/*
 * What word_similarity() reads: the first bytes of the text and of the query
 * (search() bounds its full-text documents the same way), and words up to a
 * length.  One huge description must not make search() fail, or slow, for
 * everyone.
 */
#define DP_SIMILARITY_TEXT_BYTES	65536
#define DP_SIMILARITY_QUERY_BYTES	1024
#define DP_SIMILARITY_WORD_BYTES	64

/* trigrams as 3-byte keys, sorted and unique */
typedef struct Trigrams
{
	int			n;
	char	  (*t)[3];
} Trigrams;

static int
trigram_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 3);
}

/* Trigrams of one word (already lower-cased alphanumerics). */
static Trigrams
word_trigrams(const char *word, int len)
{
	Trigrams	result;
	char	   *padded = palloc(len + 4);
	int			i;
	int			j;

	padded[0] = ' ';
	padded[1] = ' ';
	memcpy(padded + 2, word, len);
	padded[len + 2] = ' ';
	padded[len + 3] = '\0';
	result.n = len + 1;
	result.t = palloc(sizeof(char[3]) * result.n);
	for (i = 0; i < result.n; i++)
		memcpy(result.t[i], padded + i, 3);
	qsort(result.t, result.n, 3, trigram_cmp);
	for (i = 0, j = 0; i < result.n; i++)
		if (j == 0 || memcmp(result.t[j - 1], result.t[i], 3) != 0)
			memcpy(result.t[j++], result.t[i], 3);
	result.n = j;
	return result;
}

static double
trigram_similarity(Trigrams a, Trigrams b)
{
	int			i = 0;
	int			j = 0;
	int			shared = 0;

	while (i < a.n && j < b.n)
	{
		int			c = memcmp(a.t[i], b.t[j], 3);

		if (c == 0)
		{
			shared++;
			i++;
			j++;
		}
		else if (c < 0)
			i++;
		else
			j++;
	}
	return (a.n + b.n - shared) > 0 ? (double) shared / (a.n + b.n - shared) : 0;
}

/* Split into lower-cased alphanumeric words (ASCII; other bytes kept). */
static List *
words_of(const char *text)
{
	List	   *words = NIL;
	StringInfoData w;
	const char *p;

	initStringInfo(&w);
	for (p = text;; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c != '\0' && (isalnum(c) || c >= 0x80))
		{
			if (w.len < DP_SIMILARITY_WORD_BYTES)
				appendStringInfoChar(&w, (char) tolower(c));
		}
		else
		{
			if (w.len > 0)
			{
				words = lappend(words, pstrdup(w.data));
				resetStringInfo(&w);
			}
			if (c == '\0')
				break;
		}
	}
	return words;
}

/*
 * word_similarity(query text, text text) returns real
 *
 * The best trigram similarity between a word of the query and a word of the
 * text, averaged over the query's words: 1 when every query word appears,
 * lower as they are misspelled.  Only the first DP_SIMILARITY_QUERY_BYTES of
 * the query and DP_SIMILARITY_TEXT_BYTES of the text count (read without
 * detoasting the rest), and words are cut at DP_SIMILARITY_WORD_BYTES.
 */
Datum
dataproduct_word_similarity(PG_FUNCTION_ARGS)
{
	List	   *qwords = words_of(text_to_cstring(PG_GETARG_TEXT_P_SLICE(0, 0, DP_SIMILARITY_QUERY_BYTES)));
	List	   *twords = words_of(text_to_cstring(PG_GETARG_TEXT_P_SLICE(1, 0, DP_SIMILARITY_TEXT_BYTES)));
	List	   *tgrams = NIL;
	ListCell   *qc;
	ListCell   *tc;
	double		total = 0;

	if (qwords == NIL || twords == NIL)
		PG_RETURN_FLOAT4(0);
	foreach(tc, twords)
	{
		Trigrams   *t = palloc(sizeof(Trigrams));

		*t = word_trigrams(lfirst(tc), strlen(lfirst(tc)));
		tgrams = lappend(tgrams, t);
	}
	foreach(qc, qwords)
	{
		Trigrams	q = word_trigrams(lfirst(qc), strlen(lfirst(qc)));
		double		best = 0;

		foreach(tc, tgrams)
			best = Max(best, trigram_similarity(q, *(Trigrams *) lfirst(tc)));
		total += best;
	}
	PG_RETURN_FLOAT4((float4) (total / list_length(qwords)));
}

/*
 * comment_column(output regclass, column_name text, description text)
 * returns void
 *
 * Document a column of an output: the COMMENT of the view's column, which
 * describe() and search() read and BI tools show.  NULL removes it.
 */
Datum
dataproduct_comment_column(PG_FUNCTION_ARGS)
{
	Oid			view;
	char	   *column;
	AttrNumber	attnum;
	DpOutput   *output;

	dataproduct_refuse_on_standby("comment on a column");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("output and column must not be null")));
	view = PG_GETARG_OID(0);
	column = text_to_cstring(PG_GETARG_TEXT_PP(1));

	dataproduct_spi_connect();
	output = dataproduct_get_output(view, false);
	dataproduct_check_acts_as(output->owner, "data product", output->product);
	attnum = dataproduct_output_column(output, column);
	CreateComments(view, RelationRelationId, attnum,
				   PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2)));
	dataproduct_spi_finish();
	PG_RETURN_VOID();
}
