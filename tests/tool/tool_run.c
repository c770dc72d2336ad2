#include "tool_run.h"

tool_run_result
tool_run (const char *env_name, const char *env_value, const char *subcommand, ...)
{
  GPtrArray *argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (char *) g_getenv ("VQ_TOOL"));
  g_ptr_array_add (argv, (char *) subcommand);
  va_list ap;
  va_start (ap, subcommand);
  for (const char *a = va_arg (ap, const char *); a; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (char *) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  char **envp = g_get_environ ();
  if (env_name)
    envp = g_environ_setenv (envp, env_name, env_value, TRUE);

  tool_run_result r = {0};
  GError *error = NULL;
  int wait_status = 0;
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL,
                               &r.out, &r.err, &wait_status, &error));
  g_assert_no_error (error);
  r.status = g_spawn_check_wait_status (wait_status, NULL) ? 0 : 1;
  g_strfreev (envp);
  g_ptr_array_free (argv, TRUE);
  return r;
}

void
tool_run_result_clear (tool_run_result *r)
{
  g_free (r->out);
  g_free (r->err);
}
