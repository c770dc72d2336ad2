/* placeholder, being written */
#include "commands.h"
int vq_cmd_detect (int argc, char **argv) { (void) argc; (void) argv; return vq_tool_fail ("detect", "not written yet"); }
