/* placeholder, being written */
#include "commands.h"
int vq_cmd_convert (int argc, char **argv) { (void) argc; (void) argv; return vq_tool_fail ("convert", "not written yet"); }
