/*-------------------------------------------------------------------------
 *
 * lineage.c
 *	  The lineage graph: read from dataproduct.products, dataproduct.outputs
 *	  and dataproduct.lineage, laid out in columns, and printed as Graphviz
 *	  DOT or as a Mermaid flowchart (the lineage command).
 *
 * Nodes are the source relations (tables, plain views, ...), the outputs,
 * and the products.  Edges go from what is read to what reads it: a
 * source to the output reading it, a source table to the plain view it is
 * read through (the lineage view's "via"), an output to an output that
 * reads it.  An output belongs to its product: a cluster in DOT, a
 * subgraph in Mermaid.
 *
 * Names can hold any character (quotes, spaces, backslashes, line
 * breaks): DOT ids and labels are double-quoted with backslash escapes;
 * Mermaid node ids are generated (n1, n2, ...; p1, ... for products) and
 * labels quoted with Mermaid's entity codes (#quot; and friends).
 *
 * IDENTIFICATION
 *	  client/lineage.c
 *
 *-------------------------------------------------------------------------
 */
#include "lineage.h"

#include <stdlib.h>
#include <string.h>

static int
add_node(Graph *g, NodeKind kind, const char *name, const char *detail)
{
	Node	   *n;

	if (g->nnodes == g->capnodes)
	{
		g->capnodes = g->capnodes ? g->capnodes * 2 : 32;
		g->nodes = xrealloc(g->nodes, sizeof(Node) * (size_t) g->capnodes);
	}
	n = &g->nodes[g->nnodes];
	n->kind = kind;
	n->name = xstrdup(name);
	n->detail = detail ? xstrdup(detail) : NULL;
	n->product = -1;
	n->layer = 0;
	n->row = 0;
	return g->nnodes++;
}

/* products are looked up among products, relations among relations */
static int
find_node(const Graph *g, bool product, const char *name)
{
	int			i;

	for (i = 0; i < g->nnodes; i++)
		if ((g->nodes[i].kind == NODE_PRODUCT) == product &&
			strcmp(g->nodes[i].name, name) == 0)
			return i;
	return -1;
}

static void
add_edge(Graph *g, int from, int to)
{
	int			i;

	if (from == to)
		return;
	for (i = 0; i < g->nedges; i++)
		if (g->edges[i].from == from && g->edges[i].to == to)
			return;
	if (g->nedges == g->capedges)
	{
		g->capedges = g->capedges ? g->capedges * 2 : 32;
		g->edges = xrealloc(g->edges, sizeof(Edge) * (size_t) g->capedges);
	}
	g->edges[g->nedges].from = from;
	g->edges[g->nedges].to = to;
	g->nedges++;
}

/* a relation node, made an output or a source of the given kind if new */
static int
relation_node(Graph *g, const char *name, bool is_output, const char *kind,
			  const char *product)
{
	int			i = find_node(g, false, name);

	if (i >= 0)
		return i;
	i = add_node(g, is_output ? NODE_OUTPUT : NODE_SOURCE, name, kind);
	if (is_output && product)
		g->nodes[i].product = find_node(g, true, product);
	return i;
}

/*
 * Raise the layer of every reader above what it reads, over the edges
 * whose ends pass the filter (longest paths; a cycle, which PostgreSQL's
 * dependencies cannot form, stops after nnodes rounds).
 */
static void
relax(Graph *g, bool sources_only)
{
	int			round;
	int			i;

	for (round = 0; round < g->nnodes; round++)
	{
		bool		changed = false;

		for (i = 0; i < g->nedges; i++)
		{
			Node	   *from = &g->nodes[g->edges[i].from];
			Node	   *to = &g->nodes[g->edges[i].to];

			if (sources_only && (from->kind != NODE_SOURCE || to->kind != NODE_SOURCE))
				continue;
			if (to->layer < from->layer + 1)
			{
				to->layer = from->layer + 1;
				changed = true;
			}
		}
		if (!changed)
			break;
	}
}

/*
 * Columns: sources first (a plain view right of the tables it reads),
 * then outputs (an output right of the outputs it reads), then products.
 */
static void
layout(Graph *g)
{
	int			i;
	int			maxlayer = 0;
	int			maxsource = 0;
	int		   *rows;

	for (i = 0; i < g->nnodes; i++)
		g->nodes[i].layer = 0;
	relax(g, true);
	for (i = 0; i < g->nnodes; i++)
		if (g->nodes[i].kind == NODE_SOURCE && g->nodes[i].layer > maxsource)
			maxsource = g->nodes[i].layer;
	g->nsourcelayers = maxsource + 1;
	for (i = 0; i < g->nnodes; i++)
		if (g->nodes[i].kind == NODE_OUTPUT)
			g->nodes[i].layer = maxsource + 1;
	relax(g, false);
	for (i = 0; i < g->nnodes; i++)
		if (g->nodes[i].kind != NODE_PRODUCT && g->nodes[i].layer > maxlayer)
			maxlayer = g->nodes[i].layer;
	for (i = 0; i < g->nnodes; i++)
		if (g->nodes[i].kind == NODE_PRODUCT)
			g->nodes[i].layer = maxlayer + 1;
	g->nlayers = maxlayer + 2;
	rows = xmalloc(sizeof(int) * (size_t) g->nlayers);
	memset(rows, 0, sizeof(int) * (size_t) g->nlayers);
	/* nodes were added in name order within each query: keep that order */
	for (i = 0; i < g->nnodes; i++)
		g->nodes[i].row = rows[g->nodes[i].layer]++;
	free(rows);
}

int
graph_load(PGconn *conn, Graph *g)
{
	PGresult   *res;
	int			i;

	memset(g, 0, sizeof(*g));

	res = run_query(conn,
					"SELECT product, owner::pg_catalog.text FROM dataproduct.products "
					"ORDER BY product COLLATE \"C\"", 0, NULL);
	if (res == NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++)
		add_node(g, NODE_PRODUCT, PQgetvalue(res, i, 0), getvalue_or_null(res, i, 1));
	PQclear(res);

	res = run_query(conn,
					"SELECT output::pg_catalog.text AS o, product FROM dataproduct.outputs "
					"ORDER BY product COLLATE \"C\", output::pg_catalog.text COLLATE \"C\"", 0, NULL);
	if (res == NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++)
		relation_node(g, PQgetvalue(res, i, 0), true, NULL, PQgetvalue(res, i, 1));
	PQclear(res);

	res = run_query(conn,
					"SELECT output::pg_catalog.text AS o, product, source::pg_catalog.text AS s, "
					"source_kind, source_product, via::pg_catalog.text "
					"FROM dataproduct.lineage "
					"ORDER BY source::pg_catalog.text COLLATE \"C\", output::pg_catalog.text COLLATE \"C\"", 0, NULL);
	if (res == NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++)
	{
		const char *kind = PQgetvalue(res, i, 3);
		bool		src_is_output = strcmp(kind, "output") == 0;
		int			reader = relation_node(g, PQgetvalue(res, i, 0), true, NULL,
										   PQgetvalue(res, i, 1));
		int			source = relation_node(g, PQgetvalue(res, i, 2), src_is_output,
										   src_is_output ? NULL : kind,
										   getvalue_or_null(res, i, 4));
		const char *via = getvalue_or_null(res, i, 5);

		/* read through a plain view: the view reads it, the output reads the view */
		if (via)
			reader = relation_node(g, via, false, "view", NULL);
		add_edge(g, source, reader);
	}
	PQclear(res);

	layout(g);
	return 0;
}

void
graph_free(Graph *g)
{
	int			i;

	for (i = 0; i < g->nnodes; i++)
	{
		free(g->nodes[i].name);
		free(g->nodes[i].detail);
	}
	free(g->nodes);
	free(g->edges);
	memset(g, 0, sizeof(*g));
}

/* ------------------------------------------------------------------------
 * DOT
 * ------------------------------------------------------------------------
 */

/* a DOT double-quoted string; line breaks become \n (a label's line break) */
static void
dot_quoted(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++)
	{
		if (*s == '"' || *s == '\\')
		{
			fputc('\\', out);
			fputc(*s, out);
		}
		else if (*s == '\n')
			fputs("\\n", out);
		else if (*s == '\r')
			continue;
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

static void
dot_node(FILE *out, const Node *n, const char *indent)
{
	fputs(indent, out);
	dot_quoted(out, n->name);
	if (n->kind == NODE_SOURCE)
	{
		fprintf(out, " [shape=%s, label=",
				strcmp(n->detail ? n->detail : "", "table") == 0 ||
				strcmp(n->detail ? n->detail : "", "partitioned table") == 0 ?
				"cylinder" : "note");
		dot_quoted(out, n->name);
		fputs(", xlabel=", out);
		dot_quoted(out, n->detail ? n->detail : "source");
		fputs("];\n", out);
	}
	else
	{
		fputs(" [shape=box, style=\"rounded,filled\", fillcolor=\"#dbeafe\", label=", out);
		dot_quoted(out, n->name);
		fputs("];\n", out);
	}
}

static void
print_dot(const Graph *g, FILE *out)
{
	int			i;
	int			j;

	fputs("digraph lineage {\n"
		  "  rankdir=LR;\n"
		  "  node [fontname=\"Helvetica\", fontsize=10];\n"
		  "  edge [color=\"#555555\"];\n", out);
	for (i = 0; i < g->nnodes; i++)
		if (g->nodes[i].kind == NODE_SOURCE ||
			(g->nodes[i].kind == NODE_OUTPUT && g->nodes[i].product < 0))
			dot_node(out, &g->nodes[i], "  ");
	for (i = 0; i < g->nnodes; i++)
	{
		const Node *p = &g->nodes[i];
		StrBuf		label;

		if (p->kind != NODE_PRODUCT)
			continue;
		fprintf(out, "  subgraph \"cluster_%d\" {\n    label=", i);
		sb_init(&label);
		sb_printf(&label, "%s\nowner: %s", p->name, p->detail ? p->detail : "?");
		dot_quoted(out, label.data);
		sb_free(&label);
		fputs(";\n    style=\"rounded\";\n    color=\"#1e40af\";\n", out);
		for (j = 0; j < g->nnodes; j++)
			if (g->nodes[j].kind == NODE_OUTPUT && g->nodes[j].product == i)
				dot_node(out, &g->nodes[j], "    ");
		fputs("  }\n", out);
	}
	for (i = 0; i < g->nedges; i++)
	{
		fputs("  ", out);
		dot_quoted(out, g->nodes[g->edges[i].from].name);
		fputs(" -> ", out);
		dot_quoted(out, g->nodes[g->edges[i].to].name);
		fputs(";\n", out);
	}
	fputs("}\n", out);
}

/* ------------------------------------------------------------------------
 * Mermaid
 * ------------------------------------------------------------------------
 */

/* a Mermaid quoted label: characters that mean something written as entity codes */
static void
mermaid_quoted(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++)
	{
		switch (*s)
		{
			case '"':
				fputs("#quot;", out);
				break;
			case '#':
				fputs("#35;", out);
				break;
			case '&':
				fputs("#amp;", out);
				break;
			case '<':
				fputs("#lt;", out);
				break;
			case '>':
				fputs("#gt;", out);
				break;
			case '`':
				fputs("#96;", out);
				break;
			case '\n':
			case '\r':
			case '\t':
				fputc(' ', out);
				break;
			default:
				fputc(*s, out);
		}
	}
	fputc('"', out);
}

static void
mermaid_node(FILE *out, const Graph *g, int i, const char *indent)
{
	const Node *n = &g->nodes[i];

	fprintf(out, "%sn%d", indent, i + 1);
	if (n->kind == NODE_SOURCE &&
		(strcmp(n->detail ? n->detail : "", "table") == 0 ||
		 strcmp(n->detail ? n->detail : "", "partitioned table") == 0))
	{
		fputs("[(", out);
		mermaid_quoted(out, n->name);
		fputs(")]\n", out);
	}
	else
	{
		fputs("[", out);
		mermaid_quoted(out, n->name);
		fputs("]\n", out);
	}
}

static void
print_mermaid(const Graph *g, FILE *out)
{
	int			i;
	int			j;

	fputs("flowchart LR\n", out);
	for (i = 0; i < g->nnodes; i++)
		if (g->nodes[i].kind == NODE_SOURCE ||
			(g->nodes[i].kind == NODE_OUTPUT && g->nodes[i].product < 0))
			mermaid_node(out, g, i, "  ");
	for (i = 0; i < g->nnodes; i++)
	{
		const Node *p = &g->nodes[i];
		StrBuf		label;

		if (p->kind != NODE_PRODUCT)
			continue;
		sb_init(&label);
		sb_printf(&label, "%s (owner: %s)", p->name, p->detail ? p->detail : "?");
		fprintf(out, "  subgraph p%d[", i + 1);
		mermaid_quoted(out, label.data);
		fputs("]\n", out);
		sb_free(&label);
		for (j = 0; j < g->nnodes; j++)
			if (g->nodes[j].kind == NODE_OUTPUT && g->nodes[j].product == i)
				mermaid_node(out, g, j, "    ");
		fputs("  end\n", out);
	}
	for (i = 0; i < g->nedges; i++)
		fprintf(out, "  n%d --> n%d\n", g->edges[i].from + 1, g->edges[i].to + 1);
	fputs("  classDef source fill:#f3f4f6,stroke:#6b7280\n"
		  "  classDef output fill:#dbeafe,stroke:#1e40af\n", out);
	for (i = 0; i < g->nnodes; i++)
		if (g->nodes[i].kind != NODE_PRODUCT)
			fprintf(out, "  class n%d %s\n", i + 1,
					g->nodes[i].kind == NODE_SOURCE ? "source" : "output");
}

int
cmd_lineage(PGconn *conn, const char *format, FILE *out)
{
	Graph		g;
	PGresult   *res;

	/* relation names schema-qualified, whatever the role's search_path */
	res = run_query(conn, "SELECT pg_catalog.set_config('search_path', 'pg_catalog', false)",
					0, NULL);
	if (res == NULL)
		return EXIT_ERROR;
	PQclear(res);
	if (graph_load(conn, &g) != 0)
		return EXIT_ERROR;
	if (strcmp(format, "mermaid") == 0)
		print_mermaid(&g, out);
	else
		print_dot(&g, out);
	graph_free(&g);
	return EXIT_OK;
}
