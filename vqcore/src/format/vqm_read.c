/* Loads a .vqm file (layout in vqcore/vqm.h): checks the header, the
 * section table and every section's bounds and checksum against the file
 * before parsing anything, then parses the sections and validates the
 * result with vq_graph_validate() and vq_model_validate(). */
#include <stdlib.h>
#include <string.h>

#include "crc32.h"
#include "vqcore/error.h"
#include "vqm_cursor.h"
#include "vqm_private.h"

#define MAX_SECTIONS 4096

/* The fuzz target (tests/fuzz) is built with this define so that mutated
 * inputs get past the checksums into the structural checks; every checksum
 * is still computed, only a mismatch is ignored. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define CHECKSUMS_DIFFER(stored, actual) ((void) (stored), (void) (actual), FALSE)
#else
#define CHECKSUMS_DIFFER(stored, actual) ((stored) != (actual))
#endif

typedef struct {
  uint32_t kind;
  uint32_t flags;
  uint64_t offset;
  uint64_t size;
  uint32_t crc;
  const char *name; /* for messages */
} section;

static const struct {
  uint32_t kind;
  const char *name;
} known_sections[] = {
  { VQM_SECTION_META, "meta" },   { VQM_SECTION_LABELS, "labels" },
  { VQM_SECTION_GRAPH, "graph" }, { VQM_SECTION_BLOBS, "blobs" },
  { VQM_SECTION_DATA, "data" },
};

static int
known_index (uint32_t kind)
{
  for (int i = 0; i < (int) G_N_ELEMENTS (known_sections); i++)
    if (known_sections[i].kind == kind)
      return i;
  return -1;
}

/* Formats an unknown kind as its four characters when printable. */
static void
kind_to_string (uint32_t kind, char out[16])
{
  char chars[5];
  for (int i = 0; i < 4; i++) {
    chars[i] = (char) ((kind >> (8 * i)) & 0xff);
    if (!g_ascii_isprint (chars[i]) || chars[i] == '\'') {
      g_snprintf (out, 16, "0x%08x", kind);
      return;
    }
  }
  chars[4] = '\0';
  g_snprintf (out, 16, "%s", chars);
}

static gboolean
fail (GError **error, int code, const char *file, const char *format, ...) G_GNUC_PRINTF (4, 5);

static gboolean
fail (GError **error, int code, const char *file, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, VQ_ERROR, code, "%s: %s", file, message);
  g_free (message);
  return FALSE;
}

static gboolean
check_header (const guint8 *data, gsize size, const char *file, GError **error)
{
  if (size < VQM_HEADER_SIZE)
    return fail (error, VQ_ERROR_FORMAT, file,
                 "too small to be a .vqm file (%" G_GSIZE_FORMAT " bytes, the header alone is %d)",
                 size, VQM_HEADER_SIZE);
  if (memcmp (data + VQM_HEADER_MAGIC, VQM_MAGIC, VQM_MAGIC_SIZE) != 0)
    return fail (error, VQ_ERROR_FORMAT, file, "not a .vqm model file (bad magic number)");
  /* The version comes before the checksum: a later major version may lay
   * out (and checksum) its header differently. */
  unsigned major = vq__le16 (data + VQM_HEADER_VERSION_MAJOR);
  unsigned minor = vq__le16 (data + VQM_HEADER_VERSION_MINOR);
  if (major > VQM_VERSION_MAJOR)
    return fail (error, VQ_ERROR_UNSUPPORTED, file,
                 "format version %u.%u is newer than this vqdetect reads (%d.x); "
                 "update vqdetect or re-convert the model",
                 major, minor, VQM_VERSION_MAJOR);
  if (major < VQM_VERSION_MAJOR)
    return fail (error, VQ_ERROR_FORMAT, file, "unknown format version %u.%u", major, minor);
  uint32_t stored = vq__le32 (data + VQM_HEADER_CRC);
  uint32_t actual = vq__crc32 (0, data, VQM_HEADER_CRC);
  if (CHECKSUMS_DIFFER (stored, actual))
    return fail (error, VQ_ERROR_FORMAT, file,
                 "header checksum mismatch (stored 0x%08x, computed 0x%08x)", stored, actual);
  uint64_t file_size = vq__le64 (data + VQM_HEADER_FILE_SIZE);
  if (file_size > size)
    return fail (error, VQ_ERROR_FORMAT, file,
                 "file is truncated (the header says %" G_GUINT64_FORMAT " bytes, found %"
                 G_GSIZE_FORMAT ")",
                 file_size, size);
  if (file_size < size)
    return fail (error, VQ_ERROR_FORMAT, file,
                 "file has %" G_GSIZE_FORMAT " bytes, more than the %" G_GUINT64_FORMAT
                 " its header says",
                 size, file_size);
  return TRUE;
}

/* Reads the section table into `sections` and checks each entry's bounds
 * (checksums come later, once the layout is known to be sane). */
static gboolean
read_table (const guint8 *data, gsize size, const char *file, section **sections,
            uint32_t *n_sections, char (*names)[16], GError **error)
{
  uint64_t offset = vq__le64 (data + VQM_HEADER_TABLE_OFFSET);
  uint32_t count = vq__le32 (data + VQM_HEADER_N_SECTIONS);
  uint32_t entry_size = vq__le32 (data + VQM_HEADER_ENTRY_SIZE);
  if (entry_size < VQM_SECTION_ENTRY_SIZE || entry_size % 8 != 0)
    return fail (error, VQ_ERROR_FORMAT, file,
                 "section table entry size %u is invalid (a multiple of 8, at least %d)",
                 entry_size, VQM_SECTION_ENTRY_SIZE);
  if (count > MAX_SECTIONS)
    return fail (error, VQ_ERROR_FORMAT, file, "%u sections is more than the %d allowed", count,
                 MAX_SECTIONS);
  uint64_t table_size = (uint64_t) count * entry_size;
  if (offset < VQM_HEADER_SIZE || offset > size || table_size > size - offset)
    return fail (error, VQ_ERROR_FORMAT, file,
                 "section table (offset %" G_GUINT64_FORMAT " + size %" G_GUINT64_FORMAT
                 ") lies outside the file (%" G_GSIZE_FORMAT " bytes)",
                 offset, table_size, size);
  uint32_t stored = vq__le32 (data + VQM_HEADER_TABLE_CRC);
  uint32_t actual = vq__crc32 (0, data + offset, (gsize) table_size);
  if (CHECKSUMS_DIFFER (stored, actual))
    return fail (error, VQ_ERROR_FORMAT, file,
                 "section table checksum mismatch (stored 0x%08x, computed 0x%08x)", stored,
                 actual);

  section *table = g_new0 (section, count);
  *sections = table;
  *n_sections = count;
  gboolean seen[G_N_ELEMENTS (known_sections)] = { FALSE };
  for (uint32_t i = 0; i < count; i++) {
    const guint8 *entry = data + offset + (uint64_t) i * entry_size;
    section *s = &table[i];
    s->kind = vq__le32 (entry);
    s->flags = vq__le32 (entry + 4);
    s->offset = vq__le64 (entry + 8);
    s->size = vq__le64 (entry + 16);
    s->crc = vq__le32 (entry + 24);
    int known = known_index (s->kind);
    kind_to_string (s->kind, names[i]);
    s->name = known >= 0 ? known_sections[known].name : names[i];
    if (s->offset > size || s->size > size - s->offset)
      return fail (error, VQ_ERROR_FORMAT, file,
                   "section '%s' extends past end of file (offset %" G_GUINT64_FORMAT
                   " + size %" G_GUINT64_FORMAT " > %" G_GSIZE_FORMAT ")",
                   s->name, s->offset, s->size, size);
    if (s->offset % VQM_ALIGNMENT != 0)
      return fail (error, VQ_ERROR_FORMAT, file,
                   "section '%s' offset %" G_GUINT64_FORMAT " is not a multiple of %d", s->name,
                   s->offset, VQM_ALIGNMENT);
    if (known < 0 && (s->flags & VQM_SECTION_FLAG_REQUIRED))
      return fail (error, VQ_ERROR_UNSUPPORTED, file,
                   "section '%s' is required but unknown to this reader (format %d.%d); "
                   "update vqdetect",
                   s->name, VQM_VERSION_MAJOR, VQM_VERSION_MINOR);
    if (known >= 0 && seen[known])
      return fail (error, VQ_ERROR_FORMAT, file, "section '%s' appears twice", s->name);
    if (known >= 0)
      seen[known] = TRUE;
  }
  return TRUE;
}

/* Runs after check_layout(): sections do not overlap, so the checksums
 * read each byte of the file at most once, whatever the table claims. */
static gboolean
check_checksums (const guint8 *data, const char *file, const section *sections,
                 uint32_t n_sections, GError **error)
{
  for (uint32_t i = 0; i < n_sections; i++) {
    const section *s = &sections[i];
    uint32_t actual = vq__crc32 (0, data + s->offset, (gsize) s->size);
    if (CHECKSUMS_DIFFER (s->crc, actual))
      return fail (error, VQ_ERROR_FORMAT, file,
                   "section '%s' checksum mismatch (stored 0x%08x, computed 0x%08x)", s->name,
                   s->crc, actual);
  }
  return TRUE;
}

static int
compare_spans (const void *a, const void *b)
{
  /* Ties broken by size so that the order (and so the message) does not
   * depend on qsort's choices. */
  const section *x = a, *y = b;
  if (x->offset != y->offset)
    return x->offset < y->offset ? -1 : 1;
  return x->size < y->size ? -1 : x->size > y->size ? 1 : 0;
}

/* Checks that the header, the table and the sections do not overlap and
 * that every byte between them is zero. */
static gboolean
check_layout (const guint8 *data, gsize size, const char *file, const section *sections,
              uint32_t n_sections, GError **error)
{
  section *spans = g_new0 (section, (gsize) n_sections + 2);
  spans[0] = (section) { .offset = 0, .size = VQM_HEADER_SIZE, .name = "header" };
  spans[1] = (section) { .offset = vq__le64 (data + VQM_HEADER_TABLE_OFFSET),
                         .size = (uint64_t) n_sections * vq__le32 (data + VQM_HEADER_ENTRY_SIZE),
                         .name = "section table" };
  if (n_sections > 0) /* sections is NULL then, and memcpy wants non-NULL */
    memcpy (spans + 2, sections, n_sections * sizeof (section));
  gsize n = (gsize) n_sections + 2;
  qsort (spans, n, sizeof (section), compare_spans);

  gboolean ok = TRUE;
  uint64_t end = 0;
  const char *previous = NULL;
  for (gsize i = 0; i <= n && ok; i++) {
    uint64_t start = i < n ? spans[i].offset : size;
    if (start < end) {
      ok = fail (error, VQ_ERROR_FORMAT, file,
                 "'%s' (offset %" G_GUINT64_FORMAT ", size %" G_GUINT64_FORMAT
                 ") overlaps '%s' (which ends at %" G_GUINT64_FORMAT ")",
                 spans[i].name, spans[i].offset, spans[i].size, previous, end);
      break;
    }
    for (uint64_t p = end; p < start; p++)
      if (data[p] != 0) {
        ok = fail (error, VQ_ERROR_FORMAT, file,
                   "non-zero byte at offset %" G_GUINT64_FORMAT " outside every section", p);
        break;
      }
    if (i < n && spans[i].offset + spans[i].size > end) {
      end = spans[i].offset + spans[i].size;
      previous = spans[i].name;
    }
  }
  g_free (spans);
  return ok;
}

static const section *
find_section (const section *sections, uint32_t n, uint32_t kind)
{
  for (uint32_t i = 0; i < n; i++)
    if (sections[i].kind == kind)
      return &sections[i];
  return NULL;
}

static vq_model *
parse_file (const guint8 *data, gsize size, const char *file, gboolean borrow, GError **error)
{
#if G_BYTE_ORDER != G_LITTLE_ENDIAN
  fail (error, VQ_ERROR_UNSUPPORTED, file, "reading .vqm files needs a little-endian host");
  return NULL;
#endif
  if (!check_header (data, size, file, error))
    return NULL;

  section *sections = NULL;
  uint32_t n_sections = 0;
  uint32_t count = vq__le32 (data + VQM_HEADER_N_SECTIONS);
  char (*names)[16] = g_malloc0_n (count > MAX_SECTIONS ? 1 : (gsize) count + 1, 16);
  vq_model *model = NULL;
  if (!read_table (data, size, file, &sections, &n_sections, names, error)
      || !check_layout (data, size, file, sections, n_sections, error)
      || !check_checksums (data, file, sections, n_sections, error))
    goto out;
  for (gsize i = 0; i < G_N_ELEMENTS (known_sections); i++)
    if (find_section (sections, n_sections, known_sections[i].kind) == NULL) {
      fail (error, VQ_ERROR_FORMAT, file, "required section '%s' is missing",
            known_sections[i].name);
      goto out;
    }

  const section *meta = find_section (sections, n_sections, VQM_SECTION_META);
  const section *labels = find_section (sections, n_sections, VQM_SECTION_LABELS);
  const section *graph = find_section (sections, n_sections, VQM_SECTION_GRAPH);
  const section *blobs = find_section (sections, n_sections, VQM_SECTION_BLOBS);
  const section *payload = find_section (sections, n_sections, VQM_SECTION_DATA);

  model = g_new0 (vq_model, 1);
  model->graph = vq_graph_new ();
  GError *local = NULL;
  if (!vq__vqm_parse_meta (model, data + meta->offset, meta->size, file, error)
      || !vq__vqm_parse_labels (model, data + labels->offset, labels->size, file, error)
      || !vq__vqm_parse_graph (model->graph, data + graph->offset, graph->size, file, error)
      || !vq__vqm_parse_blobs (model->graph, data + blobs->offset, blobs->size,
                               data + payload->offset, payload->size, borrow, file, error))
    goto fail;
  if (!vq_graph_validate (model->graph, &local) || !vq_model_validate (model, &local)) {
    g_propagate_prefixed_error (error, local, "%s: ", file);
    goto fail;
  }
  goto out;

fail:
  vq_model_free (model);
  model = NULL;
out:
  g_free (sections);
  g_free (names);
  return model;
}

vq_model *
vq_model_load (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  GError *local = NULL;
  GMappedFile *mapping = g_mapped_file_new (path, FALSE, &local);
  if (mapping == NULL) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_IO, "%s: cannot open model: %s", path,
                 local->message);
    g_error_free (local);
    return NULL;
  }
  const guint8 *data = (const guint8 *) g_mapped_file_get_contents (mapping);
  gsize size = g_mapped_file_get_length (mapping);
  static const guint8 empty[1];
  vq_model *model = parse_file (data ? data : empty, data ? size : 0, path, TRUE, error);
  if (model == NULL) {
    g_mapped_file_unref (mapping);
    return NULL;
  }
  model->mapping = mapping;
  return model;
}

vq_model *
vq_model_load_from_bytes (const guint8 *data, gsize size, GError **error)
{
  static const guint8 empty[1];
  return parse_file (data ? data : empty, data ? size : 0, "<memory>", FALSE, error);
}
