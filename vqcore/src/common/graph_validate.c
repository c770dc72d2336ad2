/* placeholder, being written */
typedef int vq__placeholder_graph_validate;
