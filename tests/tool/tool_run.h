/* tool_run.h — running the `vq` tool ($VQ_TOOL) from a test and keeping
 * what it printed. */
#ifndef VQ_TESTS_TOOL_RUN_H
#define VQ_TESTS_TOOL_RUN_H

#include <glib.h>

typedef struct {
  int status; /* 0 when the tool exited with success */
  char *out;
  char *err;
} tool_run_result;

/* Runs `vq SUBCOMMAND ARGS...` (a NULL-terminated list), with NAME=VALUE
 * added to its environment when env_name is not NULL. */
tool_run_result tool_run (const char *env_name, const char *env_value, const char *subcommand,
                          ...) G_GNUC_NULL_TERMINATED;
void tool_run_result_clear (tool_run_result *r);

#endif
