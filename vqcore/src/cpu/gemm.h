/* Single-precision GEMM for the CPU engine: C = act(A * B + bias), with A
 * (the conv weights, M x K) packed once at engine creation and B (the
 * im2col matrix, K x N) packed per column chunk.
 *
 * Every C element is accumulated in plain sequential k order (0 .. K-1,
 * no FMA contraction), so the result does not depend on the blocking, on
 * how rows and columns are split over threads, or on which instruction set
 * the micro-kernel was compiled for.
 */
#ifndef VQ_CPU_GEMM_H
#define VQ_CPU_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "vqcore/graph.h"

/* Register tile: 8 rows x 32 columns is 16 AVX-512 (or 32 AVX2)
 * accumulators. Measured with gcc 12 -O3 on a Xeon with AVX-512 without
 * FMA: 111 GFLOP/s per core (AVX-512), 60 (AVX2), 29 (SSE2); FMA adds
 * about 1.6x; 6x16 made gcc's vectorizer pick a slow strategy (3 GFLOP/s),
 * so change with care. */
#define VQ_GEMM_MR 8
#define VQ_GEMM_NR 32
/* K block: a KC x NR micro-panel of B (16 KiB) stays in L1 while the
 * micro-kernel walks down the MR-row panels of A. */
#define VQ_GEMM_KC 128

/* Compiles a hot function for AVX-512, AVX2 and baseline x86-64, picked at
 * load time (GNU ifunc), so the library needs no -march flag. */
#if defined(__x86_64__) && defined(__ELF__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define VQ_CLONES __attribute__ ((target_clones ("avx512f", "avx2", "default")))
#endif
#endif
#ifndef VQ_CLONES
#define VQ_CLONES
#endif

/* A: ceil(m / MR) panels of k x MR floats (element (i, kk) of a panel at
 * kk * MR + i), rows past m zero. */
size_t vq__gemm_packed_a_floats (int64_t m, int64_t k);
void vq__gemm_pack_a (const float *a, int64_t lda, int64_t m, int64_t k, float *packed);

/* B: ceil(n / NR) panels of k x NR floats, columns past n zero. `src` is
 * row-major with row stride ld. */
size_t vq__gemm_packed_b_floats (int64_t k, int64_t n);
void vq__gemm_pack_b (const float *src, int64_t ld, int64_t k, int64_t n, float *packed);

typedef struct {
  const float *bias; /* per row, or NULL */
  vq_activation act;
  float alpha;
} vq__gemm_epilogue;

/* Adds the products over k in [k_begin, k_end) to rows [m_begin, m_end)
 * of C (m x n, row stride ldc) from packed A (m x k) and packed B. B holds
 * just those k rows: panel p starts at packed_b + p * b_panel_stride (so a
 * B packed with all k rows passes k * NR and k_begin's row offset itself,
 * a B packed per K block passes (k_end - k_begin) * NR). The sums start at
 * zero when k_begin is 0; the epilogue is applied when k_end is k. Calling
 * this for consecutive K ranges gives the same bits as one call: each C
 * element is summed in plain k order. m_begin must be a multiple of MR. */
void vq__gemm_run (const float *packed_a, int64_t m, int64_t k, int64_t k_begin, int64_t k_end,
                   int64_t m_begin, int64_t m_end, const float *packed_b,
                   int64_t b_panel_stride, int64_t n, float *c, int64_t ldc,
                   const vq__gemm_epilogue *epilogue);

/* The micro-kernel variant this machine runs: "avx512+fma", "avx2+fma" or
 * "generic". Results are bit-identical between the two FMA variants. */
const char *vq__gemm_variant (void);

/* For tests: runs the named variant from now on (NULL: the machine's
 * best again); FALSE when this machine cannot run it. Call it while no
 * engine is running. */
gboolean vq__gemm_force_variant (const char *name);

/* Applies an activation in place; bit-identical to vq_activation_apply. */
void vq__activation_row (float *x, int64_t n, vq_activation act, float alpha);

#endif
