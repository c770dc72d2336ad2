/* The `vq` subcommands. Each takes argv with argv[0] = the subcommand name,
 * parses its own options (GOptionContext, so each has --help) and returns
 * the process exit status. */
#ifndef VQ_TOOL_COMMANDS_H
#define VQ_TOOL_COMMANDS_H

#include <glib.h>

int vq_cmd_info (int argc, char **argv);
int vq_cmd_convert (int argc, char **argv);
int vq_cmd_detect (int argc, char **argv);
int vq_cmd_compress (int argc, char **argv);
int vq_cmd_eval (int argc, char **argv);
int vq_cmd_bench (int argc, char **argv);

/* Prints "vq SUBCOMMAND: message" on stderr; returns 1 for `return`. */
int vq_tool_fail (const char *subcommand, const char *message);

/* The end of every subcommand: reports `error` with vq_tool_fail() and
 * frees it; does nothing when it is NULL. */
void vq_tool_report_error (const char *subcommand, GError *error);

/* Parses a subcommand's options with a GOptionContext, which gives it
 * --help: `parameter_string` follows "Usage: vq SUBCOMMAND [OPTION...]",
 * `summary` (may be NULL) stands above the options. On success *argc and
 * *argv keep only the arguments that are not options. */
gboolean vq_tool_parse_options (int *argc, char ***argv, const GOptionEntry *entries,
                                const char *parameter_string, const char *summary,
                                GError **error);

#endif
