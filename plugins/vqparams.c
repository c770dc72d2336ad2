/* vqparams.c — `roi` and `classes` property parsing for vqdetect. */
#include "vqparams.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vqcore/error.h"

struct vq__class_filter {
  gint num_classes;
  guint8 keep[]; /* one flag per class id */
};

static gboolean
parse_int (const char *text, gint64 min, gint *out)
{
  char *end = NULL;
  gint64 value;

  text += strspn (text, " \t");
  if (*text == '\0')
    return FALSE;
  errno = 0;
  value = g_ascii_strtoll (text, &end, 10);
  if (errno != 0 || end == text)
    return FALSE;
  end += strspn (end, " \t");
  if (*end != '\0' || value < min || value > G_MAXINT)
    return FALSE;
  *out = (gint) value;
  return TRUE;
}

gboolean
vq__roi_parse (const char *text, vq__rect *roi, gboolean *is_set, GError **error)
{
  gchar **parts = NULL;
  gint values[4];
  gboolean ok = TRUE;

  *is_set = FALSE;
  if (text == NULL || text[strspn (text, " \t")] == '\0')
    return TRUE;

  parts = g_strsplit (text, ",", -1);
  if (g_strv_length (parts) != 4)
    ok = FALSE;
  for (guint i = 0; ok && i < 4; i++)
    ok = parse_int (parts[i], i < 2 ? 0 : 1, &values[i]);
  g_strfreev (parts);

  if (!ok) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "roi \"%s\" is not \"x,y,width,height\" with x, y >= 0 and "
                 "width, height >= 1 (frame pixels)", text);
    return FALSE;
  }
  roi->x = values[0];
  roi->y = values[1];
  roi->width = values[2];
  roi->height = values[3];
  *is_set = TRUE;
  return TRUE;
}

gboolean
vq__roi_clip (const vq__rect *roi, gint width, gint height, gint align, vq__rect *out)
{
  gint64 x0 = roi->x, y0 = roi->y;
  gint64 x1 = (gint64) roi->x + roi->width, y1 = (gint64) roi->y + roi->height;

  if (align < 1)
    align = 1;
  x0 -= x0 % align;
  y0 -= y0 % align;
  x1 = MIN (x1, width);
  y1 = MIN (y1, height);
  if (x0 >= x1 || y0 >= y1)
    return FALSE;
  out->x = (gint) x0;
  out->y = (gint) y0;
  out->width = (gint) (x1 - x0);
  out->height = (gint) (y1 - y0);
  return TRUE;
}

static gint
find_class (const char *name, const char *const *labels, gint num_classes)
{
  gint id;

  if (parse_int (name, 0, &id))
    return id < num_classes ? id : -1;
  for (id = 0; id < num_classes && labels != NULL && labels[id] != NULL; id++)
    if (g_ascii_strcasecmp (labels[id], name) == 0)
      return id;
  return -1;
}

gboolean
vq__class_filter_parse (const char *text, const char *const *labels,
                        gint num_classes, vq__class_filter **filter,
                        GError **error)
{
  gchar **names;
  vq__class_filter *result;
  GString *unknown = NULL;

  *filter = NULL;
  if (text == NULL || text[strspn (text, " \t,")] == '\0')
    return TRUE;

  result = g_malloc0 (sizeof *result + (gsize) MAX (num_classes, 0));
  result->num_classes = num_classes;
  names = g_strsplit (text, ",", -1);
  for (guint i = 0; names[i] != NULL; i++) {
    const char *name = g_strstrip (names[i]);
    gint id;

    if (*name == '\0')
      continue;
    id = find_class (name, labels, num_classes);
    if (id < 0) {
      if (unknown == NULL)
        unknown = g_string_new (NULL);
      g_string_append_printf (unknown, "%s\"%s\"", unknown->len ? ", " : "", name);
      continue;
    }
    result->keep[id] = 1;
  }
  g_strfreev (names);

  if (unknown != NULL) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "classes: the model has no class %s (use its label names, "
                 "e.g. \"%s\", or ids 0..%d)", unknown->str,
                 labels != NULL && num_classes > 0 && labels[0] ? labels[0] : "person",
                 num_classes - 1);
    g_string_free (unknown, TRUE);
    g_free (result);
    return FALSE;
  }
  *filter = result;
  return TRUE;
}

gboolean
vq__class_filter_keeps (const vq__class_filter *filter, gint class_id)
{
  if (filter == NULL)
    return TRUE;
  return class_id >= 0 && class_id < filter->num_classes && filter->keep[class_id];
}

void
vq__class_filter_free (vq__class_filter *filter)
{
  g_free (filter);
}
