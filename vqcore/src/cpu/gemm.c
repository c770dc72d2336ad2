/* Cache-blocked, register-blocked GEMM (see gemm.h). The micro-kernel is
 * plain C with fixed-size loops that gcc vectorizes at -O3; it is built for
 * AVX-512, AVX2 and baseline x86-64 (chosen at run time) so that the
 * library does not need -march=native yet uses the wide registers and FMA
 * where they exist. */
#include "gemm.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define VQ_X86_DISPATCH 1
#else
#define VQ_X86_DISPATCH 0
#endif

#define MR VQ_GEMM_MR
#define NR VQ_GEMM_NR
#define KC VQ_GEMM_KC


size_t
vq__gemm_packed_a_floats (int64_t m, int64_t k)
{
  return (size_t) ((m + MR - 1) / MR) * MR * (size_t) k;
}

void
vq__gemm_pack_a (const float *a, int64_t lda, int64_t m, int64_t k, float *packed)
{
  for (int64_t p = 0; p < (m + MR - 1) / MR; p++) {
    float *panel = packed + p * MR * k;
    for (int64_t kk = 0; kk < k; kk++)
      for (int64_t i = 0; i < MR; i++) {
        int64_t row = p * MR + i;
        panel[kk * MR + i] = row < m ? a[row * lda + kk] : 0.0f;
      }
  }
}

size_t
vq__gemm_packed_b_floats (int64_t k, int64_t n)
{
  return (size_t) ((n + NR - 1) / NR) * NR * (size_t) k;
}

void
vq__gemm_pack_b (const float *src, int64_t ld, int64_t k, int64_t n, float *packed)
{
  for (int64_t p = 0; p < (n + NR - 1) / NR; p++) {
    float *panel = packed + p * NR * k;
    int64_t j0 = p * NR;
    int64_t width = MIN (NR, n - j0);
    for (int64_t kk = 0; kk < k; kk++) {
      memcpy (panel + kk * NR, src + kk * ld + j0, (size_t) width * sizeof (float));
      if (width < NR)
        memset (panel + kk * NR + width, 0, (size_t) (NR - width) * sizeof (float));
    }
  }
}

void
vq__activation_row (float *x, int64_t n, vq_activation act, float alpha)
{
  /* The cheap activations get loops simple enough to vectorize; they compute
   * exactly what vq_activation_apply computes. */
  switch (act) {
  case VQ_ACT_NONE:
    return;
  case VQ_ACT_RELU:
    for (int64_t i = 0; i < n; i++)
      x[i] = x[i] > 0.0f ? x[i] : 0.0f;
    return;
  case VQ_ACT_LEAKY_RELU:
    /* The product is computed unconditionally: gcc only turns the select
     * into vector code when no floating-point operation is conditional. */
    for (int64_t i = 0; i < n; i++) {
      float scaled = alpha * x[i];
      x[i] = x[i] >= 0.0f ? x[i] : scaled;
    }
    return;
  default:
    for (int64_t i = 0; i < n; i++)
      x[i] = vq_activation_apply (act, alpha, x[i]);
    return;
  }
}

/* One MR x NR tile over kc steps: acc starts at zero (first K block) or at
 * the partial sums already in c, so the k order stays sequential. On the
 * last K block (`epilogue` set) the bias and the cheap activations are
 * applied in registers before the tile is stored. */
static inline __attribute__ ((always_inline)) void
micro_kernel (int64_t kc, const float *restrict a, const float *restrict b, float *restrict c,
              int64_t ldc, int first, const vq__gemm_epilogue *epilogue, const float *bias,
              const int fused)
{
  float acc[MR][NR];
  if (first) {
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++)
        acc[i][j] = 0.0f;
  } else {
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++)
        acc[i][j] = c[i * ldc + j];
  }
  for (int64_t kk = 0; kk < kc; kk++) {
    for (int i = 0; i < MR; i++) {
      float ai = a[kk * MR + i];
      if (fused)
        for (int j = 0; j < NR; j++)
          acc[i][j] = fmaf (ai, b[kk * NR + j], acc[i][j]);
      else
        for (int j = 0; j < NR; j++)
          acc[i][j] += ai * b[kk * NR + j];
    }
  }
  if (epilogue != NULL) {
    if (bias != NULL)
      for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++)
          acc[i][j] += bias[i];
    if (epilogue->act == VQ_ACT_RELU) {
      for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++)
          acc[i][j] = acc[i][j] > 0.0f ? acc[i][j] : 0.0f;
    } else if (epilogue->act == VQ_ACT_LEAKY_RELU) {
      float alpha = epilogue->alpha;
      for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) {
          float scaled = alpha * acc[i][j];
          acc[i][j] = acc[i][j] >= 0.0f ? acc[i][j] : scaled;
        }
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++)
      c[i * ldc + j] = acc[i][j];
}

/* Activations the micro-kernel does not apply in registers. */
static gboolean
act_in_kernel (vq_activation act)
{
  return act == VQ_ACT_NONE || act == VQ_ACT_RELU || act == VQ_ACT_LEAKY_RELU;
}

static inline __attribute__ ((always_inline)) void
gemm_blocked (const float *packed_a, int64_t m, int64_t k, int64_t k_begin, int64_t k_end,
              int64_t m_begin, int64_t m_end, const float *packed_b, int64_t b_panel_stride,
              int64_t n, float *c, int64_t ldc, const vq__gemm_epilogue *epilogue,
              const int fused)
{
  float edge[MR * NR]; /* partial tiles at the right and bottom borders */
  float edge_bias[MR];
  memset (edge, 0, sizeof edge);
  memset (edge_bias, 0, sizeof edge_bias);
  int64_t n_panels = (n + NR - 1) / NR;

  for (int64_t k0 = k_begin; k0 < k_end; k0 += KC) {
    int64_t kc = MIN (KC, k_end - k0);
    int first = k0 == 0;
    int last = k0 + kc == k;
    for (int64_t jp = 0; jp < n_panels; jp++) {
      const float *b = packed_b + jp * b_panel_stride + (k0 - k_begin) * NR;
      int64_t j0 = jp * NR;
      int64_t width = MIN (NR, n - j0);
      for (int64_t i0 = m_begin; i0 < m_end; i0 += MR) {
        const float *a = packed_a + (i0 / MR) * MR * k + k0 * MR;
        int64_t height = MIN (MR, m_end - i0);
        float *tile = c + i0 * ldc + j0;
        /* The bias of rows past m is never stored, but must be readable. */
        const float *bias = NULL;
        if (last && epilogue->bias != NULL) {
          bias = epilogue->bias + i0;
          if (height < MR) {
            memcpy (edge_bias, bias, (size_t) height * sizeof (float));
            bias = edge_bias;
          }
        }
        const vq__gemm_epilogue *ep = last ? epilogue : NULL;
        if (width == NR && height == MR) {
          micro_kernel (kc, a, b, tile, ldc, first, ep, bias, fused);
        } else {
          if (!first)
            for (int64_t i = 0; i < height; i++)
              memcpy (edge + i * NR, tile + i * ldc, (size_t) width * sizeof (float));
          micro_kernel (kc, a, b, edge, NR, first, ep, bias, fused);
          for (int64_t i = 0; i < height; i++)
            memcpy (tile + i * ldc, edge + i * NR, (size_t) width * sizeof (float));
        }
        if (last && !act_in_kernel (epilogue->act))
          for (int64_t i = 0; i < height; i++)
            vq__activation_row (tile + i * ldc, width, epilogue->act, epilogue->alpha);
      }
    }
  }
}

/* The loop nest, compiled three times. With FMA (AVX-512 or AVX2 + FMA
 * machines) every product is fused into its sum with fmaf, which rounds
 * once and is therefore bit-identical on both; without, a product and a
 * sum (-ffp-contract=off keeps the compiler from fusing them itself). On
 * one machine the same variant always runs, whatever the thread count. */
#define GEMM_ARGS                                                                           \
  const float *packed_a, int64_t m, int64_t k, int64_t k_begin, int64_t k_end,              \
      int64_t m_begin, int64_t m_end, const float *packed_b, int64_t b_panel_stride,        \
      int64_t n, float *c, int64_t ldc, const vq__gemm_epilogue *epilogue
#define GEMM_PASS                                                                           \
  packed_a, m, k, k_begin, k_end, m_begin, m_end, packed_b, b_panel_stride, n, c, ldc,      \
      epilogue

static void
gemm_plain (GEMM_ARGS)
{
  gemm_blocked (GEMM_PASS, 0);
}

#if VQ_X86_DISPATCH
__attribute__ ((target ("avx512f,fma"))) static void
gemm_avx512 (GEMM_ARGS)
{
  gemm_blocked (GEMM_PASS, 1);
}

__attribute__ ((target ("avx2,fma"))) static void
gemm_avx2 (GEMM_ARGS)
{
  gemm_blocked (GEMM_PASS, 1);
}
#endif

typedef void (*gemm_func) (GEMM_ARGS);

/* Set by tests to run another variant; read by the workers after the
 * thread pool's lock has published it. */
static gemm_func forced_gemm;

static gemm_func
choose_gemm (void)
{
  if (forced_gemm != NULL)
    return forced_gemm;
#if VQ_X86_DISPATCH
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("fma"))
    return gemm_avx512;
  if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma"))
    return gemm_avx2;
#endif
  return gemm_plain;
}

const char *
vq__gemm_variant (void)
{
  gemm_func chosen = choose_gemm ();
#if VQ_X86_DISPATCH
  if (chosen == gemm_avx512)
    return "avx512+fma";
  if (chosen == gemm_avx2)
    return "avx2+fma";
#endif
  return chosen == gemm_plain ? "generic" : "?";
}

gboolean
vq__gemm_force_variant (const char *name)
{
  if (name == NULL) {
    forced_gemm = NULL;
    return TRUE;
  }
  if (g_str_equal (name, "generic")) {
    forced_gemm = gemm_plain;
    return TRUE;
  }
#if VQ_X86_DISPATCH
  __builtin_cpu_init ();
  gboolean fma = __builtin_cpu_supports ("fma");
  if (g_str_equal (name, "avx2+fma") && fma && __builtin_cpu_supports ("avx2")) {
    forced_gemm = gemm_avx2;
    return TRUE;
  }
  if (g_str_equal (name, "avx512+fma") && fma && __builtin_cpu_supports ("avx512f")) {
    forced_gemm = gemm_avx512;
    return TRUE;
  }
#endif
  return FALSE;
}

void
vq__gemm_run (const float *packed_a, int64_t m, int64_t k, int64_t k_begin, int64_t k_end,
              int64_t m_begin, int64_t m_end, const float *packed_b, int64_t b_panel_stride,
              int64_t n, float *c, int64_t ldc, const vq__gemm_epilogue *epilogue)
{
  if (m_begin >= m_end || n <= 0)
    return;
  if (k == 0) {
    /* No reduction at all (an empty input): the sum is zero. */
    for (int64_t i = m_begin; i < m_end; i++) {
      float *row = c + i * ldc;
      for (int64_t j = 0; j < n; j++)
        row[j] = epilogue->bias ? epilogue->bias[i] : 0.0f;
      vq__activation_row (row, n, epilogue->act, epilogue->alpha);
    }
    return;
  }
  choose_gemm () (GEMM_PASS);
}
