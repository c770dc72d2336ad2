/* shaders/conv_chunk.glsl — the weights of one 4-input-channel chunk of two
 * output rows, fetched (dense) or decoded from the codebook (VQ) into
 * registers. Shared by conv2d_gemm.comp and conv2d_wino.comp, which then
 * spread them over the 8-lane cluster with subgroupShuffle.
 *
 * The includer declares KHKW, CIN_G4, ROW4, VQ_D and the bindings
 * u_weights and u_indices (conv_weights.glsl describes the weight forms). */
#ifndef VQ_CONV_CHUNK_GLSL
#define VQ_CONV_CHUNK_GLSL

#include "conv_weights.glsl"

/* Output rows per lane: 2 unless the includer says otherwise. */
#ifndef VQ_LANE_ROWS
#define VQ_LANE_ROWS 2
#endif

/* This lane's rows for the current chunk, in row (j) order:
 * w_rows[h][i * KHKW + t] = weight of input channel i of the chunk, tap t. */
float w_rows[VQ_LANE_ROWS][4 * KHKW];

/* Shifts the first n values of array a left by `by` when bit `by` of
 * phase is set (one stage of a shift by any phase below VQ_D). */
#define VQ_SHIFT_STAGE(a, n, phase, by)                                       \
  if ((by) < VQ_D) {                                                          \
    bool shift_on = ((phase) & (by)) != 0;                                    \
    [[unroll]] for (int k_ = 0; k_ < (n) - (by); k_++)                       \
      a[k_] = shift_on ? a[k_ + (by)] : a[k_];                                \
  }

#ifdef VQ_WEIGHTS_VQ_WORDS
/* The index words of this lane's rows that the last chunk read, and which
 * word of the row they start at: consecutive chunks mostly fall in the same
 * words (a 3x3 chunk with d = 8 overlaps 5 of a word's 8 sub-vectors),
 * and the word changes at the same chunk for every lane. */
uint vq_words[VQ_LANE_ROWS][2];
int vq_words_at = -1;
#endif

#if defined(VQ_WEIGHTS_VQ_CHUNKED) || defined(VQ_WEIGHTS_VQ_ANY_D)
/* The host's chunked index layout (conv.c, chunk_indices): per (row,
 * chunk) the indices of the sub-vectors that overlap the chunk, one byte
 * each (low byte of a word first), in ROW4 texels of VQ_CODE_WORDS 32-bit
 * words (R32UI, RG32UI or RGBA32UI views). Each texel fetch is a function
 * call in lavapipe's generated code, so wide texels matter: a 3x3 chunk
 * with d = 1 takes 3 fetches instead of 9 as RGBA8UI. */
layout (constant_id = 30) const int VQ_CODE_WORDS = 4;
const int VQ_CODE_TEXELS = ROW4;

/* Rows 2m and 2m + 1 in one word (VQ_PAIRED): bytes 0-1 and 2-3 of chunk
 * (m, c4). Only where a chunk holds at most 2 sub-vectors and a lane's two
 * rows are 2l and 2l + 1 (conv2d_gemm, _ksplit): a lane then fetches its
 * indices once per chunk instead of twice. */
layout (constant_id = 29) const bool VQ_PAIRED = false;

/* Index j of row h's chunk from its texels `codes`: byte `at` of the
 * texels, a constant once loops are unrolled, so one shift and mask. */
#define VQ_CODE_BYTE(codes, at)                                                \
  ((codes[(at) / (4 * VQ_CODE_WORDS)][((at) / 4) % VQ_CODE_WORDS] >> (8u * uint ((at) % 4))) & 255u)
#define VQ_CODE(codes, h, j)                                                   \
  (VQ_PAIRED && (h) == 1                                                       \
     ? VQ_CODE_BYTE (codes, min ((j) + 2, 4 * VQ_CODE_WORDS * VQ_CODE_TEXELS - 1)) \
     : VQ_CODE_BYTE (codes, j))

/* Index texel t of row row[h]'s chunk c4. Paired, both rows of a lane
 * name the same texel (row[0] is even or the last row), which the
 * compiler fetches once. */
#define VQ_FETCH_CODES(row, h, c4, t)                                          \
  texelFetch (u_indices, VQ_PAIRED ? int (row[0]) / 2 * CIN_G4 + (c4)          \
                                   : (int (row[h]) * CIN_G4 + (c4)) * VQ_CODE_TEXELS + (t))

#ifdef VQ_PREFETCH_CODES
/* The includer asked for each chunk's indices one chunk ahead
 * (vq_prefetch_codes after each vq_load_chunk): the codebook fetches that
 * depend on them then find them loaded instead of waiting a memory round
 * trip before the multiply-adds can start. Only for a few index texels
 * per row, as measured on the NVIDIA H200 when a texel held 4 indices (VQ
 * time / dense time, vq bench --conv-shapes): 1x1 convs with d = 2 (1
 * texel) 0.98-1.02 with it against 1.05-1.10 without, 3x3 with d = 2 (5
 * texels) 0.99-1.01 against 1.01-1.03; but 3x3 with d = 1 (9 texels, 72
 * more registers held across the multiply-adds) 1.07-1.14 against 1.06.
 * With up to 16 indices per texel the same chunks qualify when at most 8
 * words are held: 3x3 with d = 2 (2 texels of 4 words) does, d = 1 (3 of
 * 4) does not. That layout is not yet measured on a GPU. */
const bool VQ_CODES_AHEAD = VQ_CODE_TEXELS * VQ_CODE_WORDS <= 8;
uvec4 vq_codes[VQ_LANE_ROWS][VQ_CODE_TEXELS];

void vq_prefetch_codes (uint row[VQ_LANE_ROWS], int c4)
{
  int chunk = min (c4, CIN_G4 - 1); /* past the last chunk: never used */
  if (VQ_CODES_AHEAD)
    for (int h = 0; h < VQ_LANE_ROWS; h++)
      for (int t = 0; t < VQ_CODE_TEXELS; t++)
        vq_codes[h][t] = VQ_FETCH_CODES (row, h, chunk, t);
}
#define VQ_CHUNK_CODES(row, h, c4, t)                                          \
  (VQ_CODES_AHEAD ? vq_codes[h][t] : VQ_FETCH_CODES (row, h, c4, t))
#else
#define VQ_CHUNK_CODES(row, h, c4, t) VQ_FETCH_CODES (row, h, c4, t)
#endif

/* Declares codes, the index texels of row row[h]'s chunk c4. */
#define VQ_ROW_CODES(codes, row, h, c4)                                        \
  uvec4 codes[VQ_CODE_TEXELS];                                                 \
  [[unroll]] for (int t_ = 0; t_ < VQ_CODE_TEXELS; t_++)                       \
    codes[t_] = VQ_CHUNK_CODES (row, h, c4, t_)
#else
#undef VQ_PREFETCH_CODES /* no chunked indices to fetch ahead */
#endif

/* Fills w_rows for rows row[0..] and chunk c4 (input planes of the group). */
void vq_load_chunk (uint row[VQ_LANE_ROWS], int c4)
{
#if defined(VQ_WEIGHTS_VQ_WORDS)
  /* 4-bit indices, d a multiple of 4 above 4 (8, 12, 16): texel k of the
   * chunk is texel (chunk start + k) % (d / 4) of its sub-vector's codebook
   * entry. The host stores each row's indices as whole R32UI words (8
   * nibbles, low first; ROW4 words per row, so a row starts a word and the
   * word and shift below are the same in every lane). The chunk's
   * sub-vectors (at most SLOTS) are taken from two words fetched only when
   * the chunk moves into another word. */
  const int D4 = VQ_D / 4;
  const int SLOTS = (D4 - 1 + KHKW - 1) / D4 + 1;
  int base = c4 * KHKW;   /* the chunk's first texel in the row */
  int first = base / D4;  /* the sub-vector it lies in */
  uint phase = uint (base - first * D4);
  int word = first >> 3;
  if (word != vq_words_at) {
    vq_words_at = word;
    [[unroll]] for (int h = 0; h < VQ_LANE_ROWS; h++) {
      vq_words[h][0] = texelFetch (u_indices, int (row[h]) * ROW4 + word).r;
      /* The host pads the buffer by one word for the last row. */
      if (SLOTS > 1)
        vq_words[h][1] = texelFetch (u_indices, int (row[h]) * ROW4 + word + 1).r;
    }
  }
  uint shift = uint (first & 7) * 4u;
  [[unroll]] for (int h = 0; h < VQ_LANE_ROWS; h++) {
    /* Nibble s of bits: sub-vector first + s (s < 8). */
    uint bits = vq_words[h][0] >> shift;
    if (SLOTS > 1)
      bits |= shift != 0u ? vq_words[h][1] << (32u - shift) : 0u;
    [[unroll]] for (int k = 0; k < KHKW; k++) {
      /* Texel k lies in slot k / D4 or the next: the next one only where
       * phase + k % D4 passes D4, which never happens for k % D4 == 0 (a
       * constant after unrolling: a 1x1 chunk's slot is always 0). */
      uint s = phase + uint (k % D4);
      uint slot = k % D4 == 0 ? uint (k / D4) : uint (k / D4) + (s >= uint (D4) ? 1u : 0u);
      uint code = (bits >> (4u * slot)) & 15u;
      vec4 w = texelFetch (u_weights, int (code * uint (D4) + (s >= uint (D4) ? s - uint (D4) : s)));
      w_rows[h][4 * k + 0] = w.x;
      w_rows[h][4 * k + 1] = w.y;
      w_rows[h][4 * k + 2] = w.z;
      w_rows[h][4 * k + 3] = w.w;
    }
  }
#elif defined(VQ_WEIGHTS_VQ_CHUNKED)
  /* d = 4: sub-vector k of the chunk is weight texel k; the chunk's KHKW
   * indices are bytes of its index texels (see above). */
  for (int h = 0; h < VQ_LANE_ROWS; h++) {
    VQ_ROW_CODES (codes, row, h, c4);
    [[unroll]] for (int k = 0; k < KHKW; k++) {
      uvec4 t[VQ_CB_TEXELS];
      VQ_CB_FETCH (t, VQ_CODE (codes, h, k));
      [[unroll]] for (int m = 0; m < 4; m++)
        w_rows[h][4 * k + m] = VQ_CB_VALUE (t, m);
    }
  }
#elif defined(VQ_WEIGHTS_VQ_ANY_D)
  /* Sub-vectors of any length d (the compressor picks d per layer): the
   * indices of those that overlap the chunk are bytes of its index texels
   * (see above). A sub-vector may straddle chunks. */
  if ((4 * KHKW) % VQ_D == 0) {
    /* Chunks hold whole sub-vectors (every d but 5 here): sub-vector sl of
     * the chunk fills w_rows[h][sl * d ..], constant indices once the
     * loops are unrolled, so w_rows stays out of per-lane scratch memory. */
    const int SUBS = 4 * KHKW / VQ_D;
    for (int h = 0; h < VQ_LANE_ROWS; h++) {
      VQ_ROW_CODES (codes, row, h, c4);
      [[unroll]] for (int sl = 0; sl < SUBS; sl++) {
        if (VQ_CB_GRID > 0) { /* d = 1 */
          w_rows[h][sl] = VQ_CB_GRID_VALUE (VQ_CODE (codes, h, sl));
          continue;
        }
        uvec4 t[VQ_CB_TEXELS];
        VQ_CB_FETCH (t, VQ_CODE (codes, h, sl));
        [[unroll]] for (int m = 0; m < VQ_D; m++)
          w_rows[h][sl * VQ_D + m] = VQ_CB_VALUE (t, m);
      }
    }
  } else {
    /* Sub-vectors straddle chunks (d = 5, 7 with a 3x3 kernel): decode the
     * SLOTS sub-vectors that overlap the chunk into sv at constant
     * positions, then shift sv left by the chunk's phase (where the chunk
     * starts inside its first sub-vector, the same for every lane) one bit
     * of the phase at a time. Indexing w_rows by the phase instead would
     * put it in per-lane scratch memory, several times slower on lavapipe. */
    const int SLOTS = (4 * KHKW + VQ_D - 1 + VQ_D - 1) / VQ_D;
    int base = c4 * 4 * KHKW;
    int phase = base - base / VQ_D * VQ_D;
    for (int h = 0; h < VQ_LANE_ROWS; h++) {
      VQ_ROW_CODES (codes, row, h, c4);
      /* Slots past the host's layout are never needed (zero then). */
      const int LAID_OUT = VQ_PAIRED ? 2 : 4 * VQ_CODE_WORDS * VQ_CODE_TEXELS;
      float sv[SLOTS * VQ_D];
      [[unroll]] for (int sl = 0; sl < SLOTS; sl++) {
        uvec4 t[VQ_CB_TEXELS];
        VQ_CB_FETCH (t, VQ_CODE (codes, h, min (sl, LAID_OUT - 1)));
        [[unroll]] for (int m = 0; m < VQ_D; m++)
          sv[sl * VQ_D + m] = sl < LAID_OUT ? VQ_CB_VALUE (t, m) : 0.0;
      }
      /* Stages written out: loops whose bounds are constant only once an
       * outer loop is unrolled stay loops, and their indexing spills. */
      VQ_SHIFT_STAGE (sv, SLOTS * VQ_D, phase, 1);
      VQ_SHIFT_STAGE (sv, SLOTS * VQ_D, phase, 2);
      VQ_SHIFT_STAGE (sv, SLOTS * VQ_D, phase, 4);
      VQ_SHIFT_STAGE (sv, SLOTS * VQ_D, phase, 8); /* d <= 16 */
      [[unroll]] for (int k = 0; k < 4 * KHKW; k++)
        w_rows[h][k] = sv[k];
    }
  }
#else
  for (int h = 0; h < VQ_LANE_ROWS; h++)
    for (int k = 0; k < KHKW; k++) {
      vec4 w = vq_weight4 (row[h], uint (c4 * KHKW + k));
      w_rows[h][4 * k + 0] = w.x;
      w_rows[h][4 * k + 1] = w.y;
      w_rows[h][4 * k + 2] = w.z;
      w_rows[h][4 * k + 3] = w.w;
    }
#endif
}

#endif
