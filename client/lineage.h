/*-------------------------------------------------------------------------
 *
 * lineage.h
 *	  The lineage graph across products, outputs and source relations, as
 *	  read from the catalog views; drawn by lineage.c (DOT, Mermaid) and by
 *	  docs.c (SVG).
 *
 * IDENTIFICATION
 *	  client/lineage.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DP_CLIENT_LINEAGE_H
#define DP_CLIENT_LINEAGE_H

#include "common.h"

typedef enum NodeKind
{
	NODE_SOURCE,				/* a table, view, ... an output reads */
	NODE_OUTPUT,				/* an output's view */
	NODE_PRODUCT				/* a product */
} NodeKind;

typedef struct Node
{
	NodeKind	kind;
	char	   *name;			/* relation (regclass text) or product address */
	char	   *detail;			/* source: its kind; product: its owner */
	int			product;		/* output: its product's node, or -1 */
	int			layer;			/* column of the picture, left to right */
	int			row;			/* place in its column, top to bottom */
} Node;

typedef struct Edge
{
	int			from;
	int			to;
} Edge;

typedef struct Graph
{
	Node	   *nodes;
	int			nnodes;
	int			capnodes;
	Edge	   *edges;			/* reads: source or output -> reader */
	int			nedges;
	int			capedges;
	int			nlayers;		/* products stand in the last */
	int			nsourcelayers;	/* the first ones hold the sources */
} Graph;

/*
 * Read the graph the role may see (the catalog views show only that) and
 * lay it out in layers: sources, then outputs, then products, a node one
 * column right of everything it reads.  Needs search_path = pg_catalog, so
 * relation names come schema-qualified.  Returns 0, or -1 with the error
 * reported.
 */
extern int	graph_load(PGconn *conn, Graph *g);
extern void graph_free(Graph *g);

#endif							/* DP_CLIENT_LINEAGE_H */
