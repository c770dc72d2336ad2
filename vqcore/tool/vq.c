/* vq — the vqdetect command-line tool: one command, several subcommands. */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "commands.h"

typedef struct {
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} vq_subcommand;

static const vq_subcommand subcommands[] = {
  { "info", vq_cmd_info, "describe a .vqm model (default: the default model)" },
  { "convert", vq_cmd_convert, "import a TensorFlow.js graph model into a .vqm file" },
  { "detect", vq_cmd_detect, "detect objects in a video or image, print JSON Lines" },
  { "compress", vq_cmd_compress, "vector-quantize a model with unlabelled calibration media" },
  { "eval", vq_cmd_eval, "detection agreement (mAP) of a model against a reference model" },
  { "bench", vq_cmd_bench, "time the per-frame path (preprocess -> detections) on a backend" },
};

int
vq_tool_fail (const char *subcommand, const char *message)
{
  fprintf (stderr, "vq %s: %s\n", subcommand, message);
  return 1;
}

void
vq_tool_report_error (const char *subcommand, GError *error)
{
  if (error == NULL)
    return;
  vq_tool_fail (subcommand, error->message);
  g_error_free (error);
}

gboolean
vq_tool_parse_options (int *argc, char ***argv, const GOptionEntry *entries,
                       const char *parameter_string, const char *summary, GError **error)
{
  GOptionContext *context = g_option_context_new (parameter_string);
  if (summary != NULL)
    g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, entries, NULL);
  gboolean ok = g_option_context_parse (context, argc, argv, error);
  g_option_context_free (context);
  return ok;
}

static void
print_usage (FILE *out)
{
  fprintf (out, "Usage: vq COMMAND [OPTIONS...]\n\nCommands:\n");
  for (size_t i = 0; i < G_N_ELEMENTS (subcommands); i++)
    fprintf (out, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
  fprintf (out, "\nRun 'vq COMMAND --help' for a command's options.\n");
}

int
main (int argc, char **argv)
{
  if (argc < 2) {
    print_usage (stderr);
    return 2;
  }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0
      || strcmp (argv[1], "help") == 0) {
    print_usage (stdout);
    return 0;
  }
  for (size_t i = 0; i < G_N_ELEMENTS (subcommands); i++)
    if (strcmp (argv[1], subcommands[i].name) == 0)
      return subcommands[i].run (argc - 1, argv + 1);
  fprintf (stderr, "vq: unknown command '%s'\n\n", argv[1]);
  print_usage (stderr);
  return 2;
}
