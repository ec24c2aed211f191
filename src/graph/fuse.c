/* src/graph/fuse.c — fusion of elementwise chains (not yet: a placeholder
 * that merges nothing). */
#include "graph_internal.h"

void agi_graph_fuse(ag_graph *g) { (void)g; }
