/*-------------------------------------------------------------------------
 *
 * docs.c
 *	  The docs command: a static, self-contained HTML catalog, DIR/index.html.
 *
 * One page, with everything inline (CSS in a <style> element, the lineage
 * picture as inline SVG; no JavaScript, no fonts, images or scripts from
 * the network), so it can be published as a file anywhere.  It shows what
 * the role may see in the catalog views: every product (owner, status,
 * version, health with its reasons, tags, contact, freshness promise,
 * description), its outputs (refresh mode and state, rows, freshness from
 * the change stream, description, columns with types and comments, quality
 * checks with their latest result and how many runs failed, what each
 * output reads), and the lineage graph.
 *
 * Every value from the catalog is HTML-escaped (& < > " '), in text and in
 * attributes alike; anchors are generated (p1, o1, ...), never names.
 *
 * The picture is laid out here, without Graphviz: the layers of
 * lineage.c become columns (sources | outputs | products), nodes are
 * boxes stacked in their column, edges are curves from the right side of
 * what is read to the left side of its reader, dashed from an output to
 * its product.  Long names are shortened in the box and given whole in
 * the box's <title>.
 *
 * IDENTIFICATION
 *	  client/docs.c
 *
 *-------------------------------------------------------------------------
 */
#include "lineage.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* geometry of the picture, in pixels */
#define BOX_H		36
#define ROW_GAP		14
#define COL_GAP		80
#define MARGIN		20
#define TITLE_H		28
#define CHAR_W		7			/* average width of a 12px sans-serif character */
#define BOX_MIN_W	120
#define BOX_MAX_CHARS 40

/* text, or attribute value, with the five XML special characters escaped */
static void
put_escaped(FILE *out, const char *s)
{
	if (s == NULL)
		return;
	for (; *s; s++)
	{
		switch (*s)
		{
			case '&':
				fputs("&amp;", out);
				break;
			case '<':
				fputs("&lt;", out);
				break;
			case '>':
				fputs("&gt;", out);
				break;
			case '"':
				fputs("&quot;", out);
				break;
			case '\'':
				fputs("&#39;", out);
				break;
			default:
				fputc(*s, out);
		}
	}
}

/* put_escaped(), or a dash for NULL or empty */
static void
put_value(FILE *out, const char *s)
{
	if (s == NULL || *s == '\0')
		fputs("<span class=\"none\">&mdash;</span>", out);
	else
		put_escaped(out, s);
}

static int
utf8_chars(const char *s)
{
	int			n = 0;

	for (; *s; s++)
		if ((*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* at most max characters of s, with an ellipsis when shortened */
static void
put_shortened(FILE *out, const char *s, int max)
{
	StrBuf		b;
	int			n = 0;
	const char *p;

	if (utf8_chars(s) <= max)
	{
		put_escaped(out, s);
		return;
	}
	sb_init(&b);
	for (p = s; *p; p++)
	{
		if ((*p & 0xC0) != 0x80 && ++n > max - 1)
			break;
		sb_putc(&b, *p);
	}
	sb_puts(&b, "\xE2\x80\xA6");
	put_escaped(out, b.data);
	sb_free(&b);
}

/* ------------------------------------------------------------------------
 * The lineage picture
 * ------------------------------------------------------------------------
 */

static int
box_width_of(const Node *n)
{
	int			chars = utf8_chars(n->name);

	/* the second line: "owner ROLE" of a product is the longest */
	if (n->kind == NODE_PRODUCT && n->detail &&
		(utf8_chars(n->detail) + 6) * 10 / 12 > chars)
		chars = (utf8_chars(n->detail) + 6) * 10 / 12 + 1;

	if (chars > BOX_MAX_CHARS)
		chars = BOX_MAX_CHARS;
	return chars * CHAR_W + 24 > BOX_MIN_W ? chars * CHAR_W + 24 : BOX_MIN_W;
}

static const char *
node_class(const Node *n)
{
	switch (n->kind)
	{
		case NODE_SOURCE:
			return "source";
		case NODE_OUTPUT:
			return "output";
		default:
			return "product";
	}
}

/*
 * Write the graph as inline SVG.  anchors[i] is the page anchor of node i
 * (product or output section), or NULL.
 */
static void
write_svg(FILE *out, const Graph *g, char **anchors)
{
	int		   *colx = xmalloc(sizeof(int) * (size_t) (g->nlayers + 1));
	int		   *colw = xmalloc(sizeof(int) * (size_t) (g->nlayers + 1));
	int		   *rows = xmalloc(sizeof(int) * (size_t) (g->nlayers + 1));
	int			maxrows = 0;
	int			width;
	int			height;
	int			i;
	int			l;

	if (g->nnodes == 0)
	{
		fputs("<p class=\"none\">No products yet.</p>\n", out);
		free(colx);
		free(colw);
		free(rows);
		return;
	}
	for (l = 0; l < g->nlayers; l++)
		colw[l] = 0, rows[l] = 0;
	for (i = 0; i < g->nnodes; i++)
	{
		const Node *n = &g->nodes[i];
		int			w = box_width_of(n);

		if (w > colw[n->layer])
			colw[n->layer] = w;
		rows[n->layer]++;
	}
	width = MARGIN;
	for (l = 0; l < g->nlayers; l++)
	{
		colx[l] = width;
		if (colw[l] == 0)
			colw[l] = BOX_MIN_W;
		width += colw[l] + COL_GAP;
		if (rows[l] > maxrows)
			maxrows = rows[l];
	}
	width += MARGIN - COL_GAP;
	height = MARGIN + TITLE_H + maxrows * (BOX_H + ROW_GAP) - ROW_GAP + MARGIN;

#define NODE_X(n) (colx[(n)->layer])
#define NODE_Y(n) (MARGIN + TITLE_H + (n)->row * (BOX_H + ROW_GAP))

	fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"lineage\" "
			"width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
			"aria-label=\"Lineage of the data products\">\n",
			width, height, width, height);
	fputs("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
		  "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">"
		  "<path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#6b7280\"/></marker></defs>\n", out);

	/* column titles */
	for (l = 0; l < g->nlayers; l++)
		fprintf(out, "<text class=\"coltitle\" x=\"%d\" y=\"%d\">%s</text>\n",
				colx[l], MARGIN + 12,
				l < g->nsourcelayers ? "sources" :
				l == g->nlayers - 1 ? "products" : "outputs");

	/* edges first, so boxes are drawn over their ends */
	for (i = 0; i < g->nedges + g->nnodes; i++)
	{
		const Node *from;
		const Node *to;
		int			x1,
					y1,
					x2,
					y2,
					dx;
		bool		membership = i >= g->nedges;

		if (!membership)
		{
			from = &g->nodes[g->edges[i].from];
			to = &g->nodes[g->edges[i].to];
		}
		else
		{
			from = &g->nodes[i - g->nedges];
			if (from->kind != NODE_OUTPUT || from->product < 0)
				continue;
			to = &g->nodes[from->product];
		}
		x1 = NODE_X(from) + box_width_of(from);
		y1 = NODE_Y(from) + BOX_H / 2;
		x2 = NODE_X(to);
		y2 = NODE_Y(to) + BOX_H / 2;
		dx = (x2 - x1) / 2;
		if (dx < 30)
			dx = 30;
		fprintf(out, "<path class=\"edge%s\" d=\"M %d %d C %d %d, %d %d, %d %d\" "
				"marker-end=\"url(#arrow)\"><title>",
				membership ? " member" : "", x1, y1, x1 + dx, y1, x2 - dx, y2, x2, y2);
		put_escaped(out, from->name);
		fputs(membership ? " is part of " : " \xE2\x86\x92 ", out);
		put_escaped(out, to->name);
		fputs("</title></path>\n", out);
	}

	for (i = 0; i < g->nnodes; i++)
	{
		const Node *n = &g->nodes[i];
		int			x = NODE_X(n);
		int			y = NODE_Y(n);
		int			w = box_width_of(n);
		const char *sub;

		if (anchors[i])
			fprintf(out, "<a href=\"#%s\">", anchors[i]);
		fprintf(out, "<g class=\"node %s\"><title>", node_class(n));
		put_escaped(out, n->name);
		fputs("</title>", out);
		fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"6\"/>",
				x, y, w, BOX_H);
		fprintf(out, "<text x=\"%d\" y=\"%d\">", x + 10, y + 15);
		put_shortened(out, n->name, BOX_MAX_CHARS);
		fputs("</text>", out);
		sub = n->kind == NODE_PRODUCT ? "product" :
			n->kind == NODE_OUTPUT ? "output" : (n->detail ? n->detail : "source");
		fprintf(out, "<text class=\"sub\" x=\"%d\" y=\"%d\">", x + 10, y + 29);
		if (n->kind == NODE_PRODUCT && n->detail)
		{
			StrBuf		s;

			sb_init(&s);
			sb_printf(&s, "owner %s", n->detail);
			put_shortened(out, s.data, BOX_MAX_CHARS);
			sb_free(&s);
		}
		else
			put_escaped(out, sub);
		fputs("</text></g>", out);
		if (anchors[i])
			fputs("</a>", out);
		fputc('\n', out);
	}
	fputs("</svg>\n", out);
#undef NODE_X
#undef NODE_Y
	free(colx);
	free(colw);
	free(rows);
}

/* ------------------------------------------------------------------------
 * The page
 * ------------------------------------------------------------------------
 */

static const char page_css[] =
"body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;"
"margin:0;color:#111827;background:#f9fafb;line-height:1.45}"
"header{background:#1e3a8a;color:#fff;padding:18px 32px}"
"header h1{margin:0 0 4px;font-size:24px}header p{margin:0;opacity:.85}"
"main{padding:8px 32px 40px;max-width:1200px}"
"nav ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:8px}"
"nav a{display:inline-block;background:#e0e7ff;border-radius:12px;padding:2px 10px;"
"text-decoration:none;color:#1e3a8a}"
"section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px 20px;"
"margin:18px 0}"
"article{border-top:1px solid #e5e7eb;margin-top:14px;padding-top:6px}"
"h2{margin:6px 0 10px}h2.mono{font-size:21px}h3.mono{font-size:16px}h3{margin:8px 0 4px}h4{margin:12px 0 4px;font-size:14px;color:#374151}"
"table{border-collapse:collapse;font-size:14px;margin:4px 0}"
"th,td{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}"
"th{background:#f3f4f6}table.meta th{width:150px}"
"code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}"
"pre{background:#f3f4f6;padding:8px;border-radius:6px;overflow-x:auto;font-size:13px}"
".none{color:#9ca3af}"
".badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600}"
".passed,.healthy,.ok{background:#dcfce7;color:#166534}"
".failed,.failing{background:#fee2e2;color:#991b1b}"
".warning,.stale,.empty{background:#fef3c7;color:#92400e}"
".unknown{background:#e5e7eb;color:#374151}"
".lineage-wrap{overflow-x:auto}"
"svg.lineage text{font-family:system-ui,Helvetica,Arial,sans-serif;font-size:12px;fill:#111827}"
"svg.lineage text.sub{font-size:10px;fill:#4b5563}"
"svg.lineage text.coltitle{font-size:12px;font-weight:600;fill:#6b7280;text-transform:uppercase}"
"svg.lineage .node rect{stroke-width:1.5}"
"svg.lineage .source rect{fill:#f3f4f6;stroke:#6b7280}"
"svg.lineage .output rect{fill:#dbeafe;stroke:#1e40af}"
"svg.lineage .product rect{fill:#ede9fe;stroke:#6d28d9}"
"svg.lineage path.edge{fill:none;stroke:#6b7280;stroke-width:1.3}"
"svg.lineage path.edge.member{stroke-dasharray:4 3;stroke:#a78bfa}";

/* a <tr> of a key-value table */
static void
meta_row(FILE *out, const char *key, const char *value)
{
	fprintf(out, "<tr><th>%s</th><td>", key);
	put_value(out, value);
	fputs("</td></tr>\n", out);
}

static void
badge(FILE *out, const char *cls, const char *text)
{
	fputs("<span class=\"badge ", out);
	put_escaped(out, cls);
	fputs("\">", out);
	put_escaped(out, text);
	fputs("</span>", out);
}

/* the index of the row of res whose column col equals key, from *from on */
static bool
next_row_for(const PGresult *res, int col, const char *key, int *row)
{
	for (; *row < PQntuples(res); (*row)++)
		if (strcmp(PQgetvalue(res, *row, col), key) == 0)
			return true;
	return false;
}

typedef struct Catalog
{
	PGresult   *info;
	PGresult   *products;
	PGresult   *outputs;
	PGresult   *columns;
	PGresult   *checks;
	PGresult   *lineage;
} Catalog;

static void
write_output(FILE *out, const Catalog *cat, int orow, const char *anchor)
{
	PGresult   *o = cat->outputs;
	const char *name = PQgetvalue(o, orow, 0);
	int			r;
	bool		any;

	fprintf(out, "<article class=\"output\" id=\"%s\">\n<h3 class=\"mono\">", anchor);
	put_escaped(out, name);
	fputs("</h3>\n", out);
	if (!PQgetisnull(o, orow, 8) && *PQgetvalue(o, orow, 8))
	{
		fputs("<p class=\"description\">", out);
		put_escaped(out, PQgetvalue(o, orow, 8));
		fputs("</p>\n", out);
	}
	fputs("<table class=\"meta\">\n", out);
	meta_row(out, "refresh mode", getvalue_or_null(o, orow, 3));
	fputs("<tr><th>status</th><td>", out);
	badge(out, PQgetvalue(o, orow, 4), PQgetvalue(o, orow, 4));
	if (!PQgetisnull(o, orow, 10) && strcmp(PQgetvalue(o, orow, 10), "0") != 0)
	{
		fputs(" ", out);
		badge(out, "failed", "refresh failing");
		fputs(" <span class=\"error\">", out);
		put_value(out, getvalue_or_null(o, orow, 11));
		fputs("</span>", out);
	}
	fputs("</td></tr>\n", out);
	meta_row(out, "last refresh", getvalue_or_null(o, orow, 5));
	meta_row(out, "rows", getvalue_or_null(o, orow, 7));
	meta_row(out, "pending changes", getvalue_or_null(o, orow, 12));
	meta_row(out, "staleness", getvalue_or_null(o, orow, 13));
	fputs("</table>\n", out);

	/* columns */
	fputs("<h4>Columns</h4>\n<table class=\"columns\"><tr><th>column</th><th>type</th>"
		  "<th>not null</th><th>description</th></tr>\n", out);
	for (r = 0; next_row_for(cat->columns, 0, name, &r); r++)
	{
		fputs("<tr><td class=\"mono column\">", out);
		put_escaped(out, PQgetvalue(cat->columns, r, 1));
		fputs("</td><td class=\"mono\">", out);
		put_escaped(out, PQgetvalue(cat->columns, r, 2));
		fputs("</td><td>", out);
		fputs(strcmp(PQgetvalue(cat->columns, r, 4), "t") == 0 ? "yes" : "", out);
		fputs("</td><td>", out);
		put_value(out, getvalue_or_null(cat->columns, r, 3));
		fputs("</td></tr>\n", out);
	}
	fputs("</table>\n", out);

	/* checks */
	fputs("<h4>Quality checks</h4>\n", out);
	any = false;
	for (r = 0; next_row_for(cat->checks, 0, name, &r); r++)
	{
		const char *passed = getvalue_or_null(cat->checks, r, 7);

		if (!any)
			fputs("<table class=\"checks\"><tr><th>check</th><th>kind</th><th>severity</th>"
				  "<th>parameters</th><th>latest result</th><th>observed</th>"
				  "<th>checked at</th><th>runs (failed)</th></tr>\n", out);
		any = true;
		fputs("<tr><td class=\"mono\">", out);
		put_escaped(out, PQgetvalue(cat->checks, r, 1));
		if (!PQgetisnull(cat->checks, r, 4))
		{
			fputs("<br><span class=\"none\">", out);
			put_escaped(out, PQgetvalue(cat->checks, r, 4));
			fputs("</span>", out);
		}
		fputs("</td><td>", out);
		put_escaped(out, PQgetvalue(cat->checks, r, 2));
		fputs("</td><td>", out);
		put_escaped(out, PQgetvalue(cat->checks, r, 3));
		fputs("</td><td class=\"mono\">", out);
		put_value(out, getvalue_or_null(cat->checks, r, 5));
		fputs("</td><td class=\"result\">", out);
		if (passed == NULL)
			badge(out, "unknown", "not run yet");
		else if (strcmp(passed, "t") == 0)
			badge(out, "passed", "passed");
		else
			badge(out, "failed", "failed");
		fputs("</td><td>", out);
		put_value(out, getvalue_or_null(cat->checks, r, 8));
		fputs("</td><td>", out);
		put_value(out, getvalue_or_null(cat->checks, r, 6));
		fputs("</td><td>", out);
		put_escaped(out, PQgetvalue(cat->checks, r, 9));
		fputs(" (", out);
		put_escaped(out, PQgetvalue(cat->checks, r, 10));
		fputs(")</td></tr>\n", out);
	}
	fputs(any ? "</table>\n" : "<p class=\"none\">No checks.</p>\n", out);

	/* what it reads */
	fputs("<h4>Reads</h4>\n", out);
	any = false;
	for (r = 0; next_row_for(cat->lineage, 0, name, &r); r++)
	{
		if (!any)
			fputs("<ul class=\"reads\">\n", out);
		any = true;
		fputs("<li><span class=\"mono\">", out);
		put_escaped(out, PQgetvalue(cat->lineage, r, 1));
		fputs("</span> (", out);
		put_escaped(out, PQgetvalue(cat->lineage, r, 2));
		if (!PQgetisnull(cat->lineage, r, 3))
		{
			fputs(" of ", out);
			put_escaped(out, PQgetvalue(cat->lineage, r, 3));
		}
		if (!PQgetisnull(cat->lineage, r, 4))
		{
			fputs(", through ", out);
			put_escaped(out, PQgetvalue(cat->lineage, r, 4));
		}
		fputs(")</li>\n", out);
	}
	fputs(any ? "</ul>\n" : "<p class=\"none\">Nothing recorded.</p>\n", out);

	if (!PQgetisnull(o, orow, 9))
	{
		fputs("<details><summary>Query</summary><pre>", out);
		put_escaped(out, PQgetvalue(o, orow, 9));
		fputs("</pre></details>\n", out);
	}
	fputs("</article>\n", out);
}

static void
write_page(FILE *out, const Catalog *cat, const Graph *g)
{
	PGresult   *p = cat->products;
	char	  **anchors = xmalloc(sizeof(char *) * (size_t) (g->nnodes ? g->nnodes : 1));
	int			i;
	int			orow;

	/* anchors of the nodes that have a section: products p<i>, outputs o<row> */
	for (i = 0; i < g->nnodes; i++)
	{
		anchors[i] = NULL;
		if (g->nodes[i].kind == NODE_PRODUCT)
		{
			for (orow = 0; orow < PQntuples(p); orow++)
				if (strcmp(PQgetvalue(p, orow, 0), g->nodes[i].name) == 0)
				{
					StrBuf		a;

					sb_init(&a);
					sb_printf(&a, "p%d", orow + 1);
					anchors[i] = a.data;
				}
		}
		else if (g->nodes[i].kind == NODE_OUTPUT)
		{
			for (orow = 0; orow < PQntuples(cat->outputs); orow++)
				if (strcmp(PQgetvalue(cat->outputs, orow, 0), g->nodes[i].name) == 0)
				{
					StrBuf		a;

					sb_init(&a);
					sb_printf(&a, "o%d", orow + 1);
					anchors[i] = a.data;
				}
		}
	}

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		  "<meta name=\"generator\" content=\"pg_dataproduct docs\">\n<title>Data products of ", out);
	put_escaped(out, PQgetvalue(cat->info, 0, 0));
	fprintf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n<header>\n"
			"<h1>Data products</h1>\n<p>Database <code>", page_css);
	put_escaped(out, PQgetvalue(cat->info, 0, 0));
	fputs("</code> as seen by role <code>", out);
	put_escaped(out, PQgetvalue(cat->info, 0, 2));
	fputs("</code>, generated ", out);
	put_escaped(out, PQgetvalue(cat->info, 0, 1));
	fprintf(out, ": %d products, %d outputs.</p>\n</header>\n<main>\n",
			PQntuples(p), PQntuples(cat->outputs));

	fputs("<nav><ul>\n", out);
	for (i = 0; i < PQntuples(p); i++)
	{
		fprintf(out, "<li><a href=\"#p%d\">", i + 1);
		put_escaped(out, PQgetvalue(p, i, 0));
		fputs("</a></li>\n", out);
	}
	fputs("</ul></nav>\n", out);

	fputs("<section id=\"lineage\">\n<h2>Lineage</h2>\n<div class=\"lineage-wrap\">\n", out);
	write_svg(out, g, anchors);
	fputs("</div>\n</section>\n", out);

	for (i = 0; i < PQntuples(p); i++)
	{
		const char *addr = PQgetvalue(p, i, 0);
		const char *health = getvalue_or_null(p, i, 11);

		fprintf(out, "<section class=\"product\" id=\"p%d\">\n<h2 class=\"mono\">", i + 1);
		put_escaped(out, addr);
		fputs("</h2>\n", out);
		if (!PQgetisnull(p, i, 4) && *PQgetvalue(p, i, 4))
		{
			fputs("<p class=\"description\">", out);
			put_escaped(out, PQgetvalue(p, i, 4));
			fputs("</p>\n", out);
		}
		fputs("<table class=\"meta\">\n", out);
		meta_row(out, "owner", getvalue_or_null(p, i, 3));
		meta_row(out, "domain", getvalue_or_null(p, i, 1));
		meta_row(out, "version", getvalue_or_null(p, i, 5));
		fputs("<tr><th>status</th><td>", out);
		badge(out, "unknown", PQgetvalue(p, i, 6));
		fputs("</td></tr>\n<tr><th>health</th><td>", out);
		badge(out, health ? health : "unknown", health ? health : "unknown");
		if (!PQgetisnull(p, i, 12) && *PQgetvalue(p, i, 12))
		{
			fputs(" ", out);
			put_escaped(out, PQgetvalue(p, i, 12));
		}
		fputs("</td></tr>\n", out);
		meta_row(out, "freshness promise", getvalue_or_null(p, i, 10));
		meta_row(out, "tags", getvalue_or_null(p, i, 7));
		meta_row(out, "contact", getvalue_or_null(p, i, 8));
		meta_row(out, "updated", getvalue_or_null(p, i, 13));
		fputs("</table>\n", out);

		for (orow = 0; orow < PQntuples(cat->outputs); orow++)
			if (strcmp(PQgetvalue(cat->outputs, orow, 1), addr) == 0)
			{
				char		anchor[32];

				snprintf(anchor, sizeof(anchor), "o%d", orow + 1);
				write_output(out, cat, orow, anchor);
			}
		fputs("</section>\n", out);
	}
	fputs("</main>\n</body>\n</html>\n", out);

	for (i = 0; i < g->nnodes; i++)
		free(anchors[i]);
	free(anchors);
}

static void
free_catalog(Catalog *cat)
{
	PQclear(cat->info);
	PQclear(cat->products);
	PQclear(cat->outputs);
	PQclear(cat->columns);
	PQclear(cat->checks);
	PQclear(cat->lineage);
}

int
cmd_docs(PGconn *conn, const char *outdir)
{
	Catalog		cat = {0};
	Graph		g;
	PGresult   *res;
	StrBuf		path;
	FILE	   *out;
	int			rc = EXIT_OK;

	if (mkdir(outdir, 0777) != 0 && errno != EEXIST)
	{
		pg_error("could not create directory \"%s\": %s", outdir, strerror(errno));
		return EXIT_ERROR;
	}

	/* one snapshot for the whole page; names schema-qualified */
	if ((res = run_query(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL)) == NULL)
		return EXIT_ERROR;
	PQclear(res);
	if ((res = run_query(conn, "SELECT pg_catalog.set_config('search_path', 'pg_catalog', true)",
						 0, NULL)) == NULL)
		return EXIT_ERROR;
	PQclear(res);

	cat.info = run_query(conn,
						 "SELECT pg_catalog.current_database(), "
						 "pg_catalog.date_trunc('second', pg_catalog.now())::pg_catalog.text, "
						 "CURRENT_USER::pg_catalog.text", 0, NULL);
	if (cat.info)
		cat.products = run_query(conn,
								 "SELECT p.product, p.domain, p.name, p.owner::pg_catalog.text, "
								 "p.description, p.version, p.status, "
								 "pg_catalog.array_to_string(p.tags, ', '), p.contact, p.outputs, "
								 "p.max_staleness::pg_catalog.text, p.health, "
								 "pg_catalog.array_to_string(h.reasons, '; '), "
								 "pg_catalog.date_trunc('second', p.updated_at)::pg_catalog.text "
								 "FROM dataproduct.products p "
								 "LEFT JOIN LATERAL dataproduct.health(p.product) h ON true "
								 "ORDER BY p.product COLLATE \"C\"", 0, NULL);
	if (cat.products)
		cat.outputs = run_query(conn,
								"SELECT o.output::pg_catalog.text AS o, o.product, o.name, o.mode, "
								"o.status, pg_catalog.date_trunc('second', o.last_refresh)::pg_catalog.text, "
								"o.last_refresh_kind, o.row_count, o.description, o.definition, "
								"o.failures, o.last_error, f.pending, "
								"pg_catalog.date_trunc('second', f.staleness)::pg_catalog.text "
								"FROM dataproduct.outputs o "
								"LEFT JOIN dataproduct.freshness f ON f.output OPERATOR(pg_catalog.=) o.output "
								"ORDER BY o.product COLLATE \"C\", o.output::pg_catalog.text COLLATE \"C\"", 0, NULL);
	if (cat.outputs)
		cat.columns = run_query(conn,
								"SELECT o.output::pg_catalog.text AS o, a.attname::pg_catalog.text, "
								"pg_catalog.format_type(a.atttypid, a.atttypmod), "
								"pg_catalog.col_description(a.attrelid, a.attnum), a.attnotnull "
								"FROM dataproduct.outputs o "
								"JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) o.output "
								"WHERE a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped "
								"ORDER BY o.output::pg_catalog.text COLLATE \"C\", a.attnum", 0, NULL);
	if (cat.columns)
		cat.checks = run_query(conn,
							   "SELECT c.output::pg_catalog.text AS o, c.name, c.kind, c.severity, "
							   "c.description, c.params::pg_catalog.text, "
							   "pg_catalog.date_trunc('second', c.last_checked)::pg_catalog.text, "
							   "c.last_passed, c.last_observed, h.runs, h.failed "
							   "FROM dataproduct.checks c "
							   "LEFT JOIN LATERAL (SELECT pg_catalog.count(*) AS runs, "
							   "pg_catalog.count(*) FILTER (WHERE NOT r.passed) AS failed "
							   "FROM dataproduct.check_results r "
							   "WHERE r.output OPERATOR(pg_catalog.=) c.output "
							   "AND r.check_name OPERATOR(pg_catalog.=) c.name) h ON true "
							   "ORDER BY c.output::pg_catalog.text COLLATE \"C\", c.name COLLATE \"C\"", 0, NULL);
	if (cat.checks)
		cat.lineage = run_query(conn,
								"SELECT output::pg_catalog.text AS o, source::pg_catalog.text AS s, "
								"source_kind, source_product, via::pg_catalog.text "
								"FROM dataproduct.lineage "
								"ORDER BY output::pg_catalog.text COLLATE \"C\", depth, source::pg_catalog.text COLLATE \"C\"",
								0, NULL);
	if (cat.lineage == NULL || graph_load(conn, &g) != 0)
	{
		free_catalog(&cat);
		return EXIT_ERROR;
	}
	res = PQexec(conn, "COMMIT");
	PQclear(res);

	sb_init(&path);
	sb_printf(&path, "%s/index.html", outdir);
	out = fopen(path.data, "w");
	if (out == NULL)
	{
		pg_error("could not open \"%s\" for writing: %s", path.data, strerror(errno));
		rc = EXIT_ERROR;
	}
	else
	{
		write_page(out, &cat, &g);
		if (ferror(out) | (fclose(out) != 0))
		{
			pg_error("could not write \"%s\": %s", path.data, strerror(errno));
			rc = EXIT_ERROR;
		}
		else
			printf("wrote %s\n", path.data);
	}
	sb_free(&path);
	graph_free(&g);
	free_catalog(&cat);
	return rc;
}
