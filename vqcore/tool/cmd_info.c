/* placeholder, being written */
#include "commands.h"
int vq_cmd_info (int argc, char **argv) { (void) argc; (void) argv; return vq_tool_fail ("info", "not written yet"); }
