/* Options, per-layer settings and the byte accounting every report and the
 * budget allocator share. A shared codebook's bytes are counted once: the
 * callers pass count_codebook only for a group's first member. */
#include <stdio.h>
#include <string.h>

#include "vq_compress.h"
#include "vq_private.h"
#include "vqcore/error.h"

void
vq_compress_options_init (vq_compress_options *options)
{
  memset (options, 0, sizeof *options);
  options->method = VQ_COMPRESS_HESSIAN;
  options->default_setting.kind = VQ_LAYER_VQ;
  options->default_setting.d = 4;
  options->default_setting.k = 256;
  options->rows_per_frame = 1024;
  options->rounds = 2;
  options->sequential = TRUE;
  options->float_targets = TRUE;
  options->bias_correction = TRUE;
  options->seed = 1;
}

gboolean
vq_layer_setting_parse (const char *text, vq_layer_setting *setting, GError **error)
{
  memset (setting, 0, sizeof *setting);
  if (g_ascii_strcasecmp (text, "f16") == 0) {
    setting->kind = VQ_LAYER_F16;
    return TRUE;
  }
  if (g_ascii_strcasecmp (text, "f32") == 0) {
    setting->kind = VQ_LAYER_F32;
    return TRUE;
  }
  int d = 0, k = 0, consumed = 0;
  if (sscanf (text, "d%dk%d%n", &d, &k, &consumed) == 2 && d >= 1 && d <= 16 && k >= 2
      && k <= 256) {
    const char *rest = text + consumed;
    int group = 0, more = 0;
    /* "@G": a group number of plain digits, 1 to 999999. */
    gboolean grouped = rest[0] == '@' && g_ascii_isdigit (rest[1])
                       && sscanf (rest, "@%d%n", &group, &more) == 1 && rest[more] == '\0'
                       && group >= 1 && group <= 999999;
    if (rest[0] == '\0' || grouped) {
      setting->kind = VQ_LAYER_VQ;
      setting->d = d;
      setting->k = k;
      setting->group = grouped ? group : 0;
      return TRUE;
    }
  }
  g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
               "bad layer setting '%s' (expected f16, f32 or dDkK with 1 <= D <= 16 and "
               "2 <= K <= 256, e.g. d4k256, optionally @G to share a codebook with group G "
               "(1 <= G <= 999999), e.g. d4k256@1)", text);
  return FALSE;
}

const char *
vq_layer_setting_format (const vq_layer_setting *setting, char *buffer, gsize size)
{
  switch (setting->kind) {
  case VQ_LAYER_VQ:
    if (setting->group > 0)
      g_snprintf (buffer, size, "d%dk%d@%d", setting->d, setting->k, setting->group);
    else
      g_snprintf (buffer, size, "d%dk%d", setting->d, setting->k);
    break;
  case VQ_LAYER_F16:
    g_snprintf (buffer, size, "f16");
    break;
  case VQ_LAYER_F32:
    g_snprintf (buffer, size, "f32");
    break;
  default:
    g_snprintf (buffer, size, "auto");
    break;
  }
  return buffer;
}

uint64_t
vq__setting_bytes (const vq_layer_setting *setting, int64_t rows, int64_t cols,
                   gboolean count_codebook)
{
  switch (setting->kind) {
  case VQ_LAYER_VQ: {
    int64_t n_sub = (cols + setting->d - 1) / setting->d;
    vq_dtype dtype = setting->k <= 16 ? VQ_DTYPE_U4 : VQ_DTYPE_U8;
    uint64_t bytes = vq_dtype_bytes (dtype, rows * n_sub) + (uint64_t) rows * 2;
    if (count_codebook)
      bytes += (uint64_t) setting->k * (uint64_t) setting->d * 2;
    return bytes;
  }
  case VQ_LAYER_F16:
    return (uint64_t) (rows * cols) * 2;
  default:
    return (uint64_t) (rows * cols) * 4;
  }
}

void
vq_compress_report_clear (vq_compress_report *report)
{
  if (report == NULL)
    return;
  for (uint32_t i = 0; i < report->n_layers; i++)
    g_free (report->layers[i].name);
  g_free (report->layers);
  memset (report, 0, sizeof *report);
}
