/* vqparams.h — parsing and checking vqdetect's string properties (`roi`,
 * `classes`). Plain GLib so the rules are unit-tested without a pipeline;
 * every error names the property and the offending text. */
#ifndef VQ_PARAMS_H
#define VQ_PARAMS_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gint x, y, width, height;
} vq__rect;

/* Parses "x,y,width,height" in frame pixels (spaces allowed). NULL or an
 * empty string means the whole frame: *is_set becomes FALSE. */
gboolean vq__roi_parse (const char *text, vq__rect *roi, gboolean *is_set, GError **error);

/* Intersects `roi` with a width x height frame and aligns the origin down
 * to a multiple of `align` (2 for 4:2:0 formats, whose chroma planes can
 * only be cropped at even pixels). FALSE when nothing of the frame is left. */
gboolean vq__roi_clip (const vq__rect *roi, gint width, gint height, gint align, vq__rect *out);

/* A set of class ids to keep, parsed from "person, car,2" against the
 * model's labels (exact label names, case-insensitive, or numeric ids).
 * NULL or "" keeps every class (returns TRUE with *filter = NULL). */
typedef struct vq__class_filter vq__class_filter;

gboolean vq__class_filter_parse (const char *text, const char *const *labels,
                                 gint num_classes, vq__class_filter **filter,
                                 GError **error);
gboolean vq__class_filter_keeps (const vq__class_filter *filter, gint class_id);
void vq__class_filter_free (vq__class_filter *filter);

G_END_DECLS

#endif /* VQ_PARAMS_H */
