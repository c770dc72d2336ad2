/* vqfont.h — a built-in 5x7 bitmap font (printable ASCII) for labels, so
 * the overlay needs no cairo/pango. Glyphs are 5 columns of 7 bits each,
 * bit 0 the top row; a cell is 6x8 with one column and one row of space. */
#ifndef VQ_FONT_H
#define VQ_FONT_H

#include <glib.h>

G_BEGIN_DECLS

#define VQ__FONT_GLYPH_W 5
#define VQ__FONT_GLYPH_H 7
#define VQ__FONT_CELL_W 6
#define VQ__FONT_CELL_H 8

/* The columns of `c`; characters outside 32..126 render as '?'. */
const guint8 *vq__font_glyph (char c);

/* TRUE when pixel (col, row) of glyph `c` is ink. */
gboolean vq__font_pixel (char c, guint col, guint row);

G_END_DECLS

#endif /* VQ_FONT_H */
