/* See frames.h. */
#include "frames.h"

#include <string.h>

#include "media.h"
#include "vqcore/vqcore.h"

static float *
tensor_of (const vq_model *model, const vq_frame *frame, GError **error)
{
  gsize floats = (gsize) model->input.channels * model->input.height * model->input.width;
  float *tensor = g_new (float, floats);
  if (!vq_preprocess_frame (frame, &model->input, &model->preprocess, model->preprocess.fit,
                            tensor, NULL, error)) {
    g_free (tensor);
    return NULL;
  }
  return tensor;
}

static gboolean
load_file (const vq_model *model, const char *path, const vq_tool_frame_selection *selection,
           GPtrArray *tensors, GPtrArray *labels, GError **error)
{
  vq_media_reader *reader = vq_media_reader_open (path, error);
  if (reader == NULL)
    return FALSE;
  vq_media_frame frame;
  float *first = NULL; /* frame 0, kept in case the file is a single image */
  int64_t taken = 0, decoded = 0;
  int status;
  gboolean ok = TRUE;
  while ((selection->max == 0 || taken < selection->max)
         && (status = vq_media_reader_next (reader, &frame, error)) != 0) {
    if (status < 0) {
      ok = FALSE;
      break;
    }
    decoded++;
    gboolean wanted = frame.index >= selection->start
                      && (frame.index - selection->start) % selection->every == 0;
    if (!wanted && frame.index != 0)
      continue;
    float *tensor = tensor_of (model, &frame.frame, error);
    if (tensor == NULL) {
      g_prefix_error (error, "%s: frame %" G_GINT64_FORMAT ": ", path, frame.index);
      ok = FALSE;
      break;
    }
    if (!wanted) {
      first = tensor;
      continue;
    }
    g_ptr_array_add (tensors, tensor);
    if (labels)
      g_ptr_array_add (labels, g_strdup_printf ("%s#%" G_GINT64_FORMAT, path, frame.index));
    taken++;
  }
  if (ok && taken == 0 && decoded == 1 && first != NULL) {
    g_ptr_array_add (tensors, first);
    if (labels)
      g_ptr_array_add (labels, g_strdup_printf ("%s#0", path));
    first = NULL;
  }
  g_free (first);
  vq_media_reader_close (reader);
  return ok;
}

GPtrArray *
vq_tool_load_tensors (const vq_model *model, char **paths,
                      const vq_tool_frame_selection *selection, GPtrArray **labels,
                      GError **error)
{
  GPtrArray *tensors = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *names = labels ? g_ptr_array_new_with_free_func (g_free) : NULL;
  for (char **p = paths; p && *p; p++) {
    if (!load_file (model, *p, selection, tensors, names, error)) {
      g_ptr_array_unref (tensors);
      if (names)
        g_ptr_array_unref (names);
      return NULL;
    }
  }
  if (labels)
    *labels = names;
  return tensors;
}
