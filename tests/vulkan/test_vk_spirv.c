/* The SPIR-V rewrite behind fp16 activations (vqcore/src/vulkan/
 * activations.c) on every embedded shader: it turns exactly the rgba32f
 * storage texel buffers into rgba16f and changes nothing else, leaves the
 * shaders alone for fp32, and survives truncated or malformed code. Needs no
 * device. */
#include "vk_test.h"
#include "vq_spirv.h"

enum { OP_TYPE_IMAGE = 25, DIM_BUFFER = 5, FORMAT_RGBA32F = 1, FORMAT_RGBA16F = 2 };

/* Whether word `w` of `code` is the Image Format operand of an OpTypeImage
 * describing a storage texel buffer of `format`. */
static gboolean
is_buffer_format (const uint32_t *code, size_t n, size_t w, uint32_t format)
{
  for (size_t i = 5; i < n;) {
    uint32_t words = code[i] >> 16;
    if (words == 0)
      return FALSE;
    if ((code[i] & 0xffff) == OP_TYPE_IMAGE && i + 8 == w)
      return code[i + 3] == DIM_BUFFER && code[i + 7] == 2 && code[i + 8] == format;
    i += words;
  }
  return FALSE;
}

static void
test_every_shader (void)
{
  vq_vk_context ctx = {.fp16_activations = true}, fp32 = {.fp16_activations = false};
  guint modules = 0;

  for (const vq_spirv_module *m = vq__spirv_modules; m->name; m++, modules++) {
    size_t n = m->size / 4;
    g_assert_null (vq__vk_spirv_for_activations (&fp32, m->code, m->size));
    uint32_t *out = vq__vk_spirv_for_activations (&ctx, m->code, m->size);
    g_assert_nonnull (out);
    guint changed = 0;
    for (size_t w = 0; w < n; w++) {
      if (out[w] == m->code[w])
        continue;
      g_assert_true (is_buffer_format (m->code, n, w, FORMAT_RGBA32F));
      g_assert_cmpuint (out[w], ==, FORMAT_RGBA16F);
      changed++;
    }
    /* No rgba32f storage buffer is left behind. */
    for (size_t w = 0; w < n; w++)
      g_assert_false (is_buffer_format (out, n, w, FORMAT_RGBA32F));
    g_test_message ("%s: %u image types rewritten", m->name, changed);
    /* Every shader reads or writes activations (decode reads the head's). */
    g_assert_cmpuint (changed, >, 0);
    g_free (out);
  }
  g_assert_cmpuint (modules, >, 20);
}

static void
test_malformed (void)
{
  /* A zero word count or an instruction past the end stops the walk. */
  vq_vk_context ctx = {.fp16_activations = true};
  const vq_spirv_module *m = vq__spirv_modules;
  uint32_t *code = g_memdup2 (m->code, m->size);
  code[5] = 0; /* the first instruction claims no words */
  uint32_t *out = vq__vk_spirv_for_activations (&ctx, code, m->size);
  g_assert_cmpmem (out, m->size, code, m->size);
  g_free (out);
  code[5] = 0xffff0000u | (m->code[5] & 0xffff); /* and now far too many */
  out = vq__vk_spirv_for_activations (&ctx, code, m->size);
  g_assert_cmpmem (out, m->size, code, m->size);
  g_free (out);
  out = vq__vk_spirv_for_activations (&ctx, m->code, 12); /* shorter than the header */
  g_assert_cmpmem (out, 12, m->code, 12);
  g_free (out);
  g_free (code);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vulkan/spirv/every-shader", test_every_shader);
  g_test_add_func ("/vulkan/spirv/malformed", test_malformed);
  return g_test_run ();
}
