/* vqcore/vqm.h — the .vqm model file: one self-describing file holding a
 * detector's graph, weights, labels, input, preprocessing and decoder
 * (everything in a vq_model, see model.h). Load it with vq_model_load(),
 * write it with vq_model_save().
 *
 * GENERAL RULES
 *   - Every integer and float is little-endian; floats are IEEE 754.
 *   - Offsets are in bytes. Section offsets count from the start of the
 *     file; blob offsets count from the start of the DATA section.
 *   - Every section starts at a multiple of 64 bytes, and so does every blob
 *     payload, so a memory-mapped file hands out aligned tensors.
 *   - A "string" is: u32 length, then `length` bytes of UTF-8 without any
 *     NUL, then zero bytes up to the next multiple of 4.
 *   - Every byte of the file belongs to the header, the section table, a
 *     section, or zero padding between them; readers reject non-zero
 *     padding, so every single-bit error is detected (by a CRC or by this).
 *
 * FILE LAYOUT
 *   offset 0   header (64 bytes)
 *   offset 64  section table (n_sections entries)
 *   then       the sections, each 64-aligned, in any order
 *
 * HEADER (64 bytes)
 *   0   u8[8]  magic: 0x89 'V' 'Q' 'M' '\r' '\n' 0x1a '\n' (the PNG trick:
 *              catches text-mode transfers and 7-bit channels)
 *   8   u16    major version: VQM_VERSION_MAJOR. A reader refuses a major
 *              version it does not know (VQ_ERROR_UNSUPPORTED).
 *   10  u16    minor version: VQM_VERSION_MINOR. Minor versions only add
 *              things a reader may skip: new section kinds, new metadata
 *              keys, longer section-table entries, longer node parameter
 *              blocks whose extra fields default to the old behaviour when
 *              zero. Readers accept any minor version. New op or dtype
 *              codes may also appear in a minor version; a reader that
 *              meets one refuses that file with VQ_ERROR_UNSUPPORTED naming
 *              it, and still reads every file that does not use it.
 *   12  u32    flags, 0 (reserved; readers ignore it)
 *   16  u64    file size in bytes (detects truncation and trailing junk)
 *   24  u64    section table offset (64 when written by vqcore)
 *   32  u32    number of sections
 *   36  u32    section table entry size (VQM_SECTION_ENTRY_SIZE, or more in
 *              a later minor version; readers use the first 32 bytes)
 *   40  u32    CRC-32 of the section table (all entries, full entry size)
 *   44  u8[16] reserved, zero when written, ignored when read
 *   60  u32    CRC-32 of header bytes 0..59
 *   CRC-32 is the zlib/PNG/Ethernet CRC (reflected polynomial 0xEDB88320,
 *   initial value and final xor 0xFFFFFFFF).
 *
 * SECTION TABLE ENTRY (32 bytes)
 *   0   u32    kind: a four-character code, the characters in file order
 *              (VQM_SECTION_*)
 *   4   u32    flags: VQM_SECTION_FLAG_REQUIRED set means a reader that does
 *              not know `kind` must refuse the file; otherwise it skips it.
 *   8   u64    offset of the section (multiple of 64)
 *   16  u64    size of the section in bytes
 *   24  u32    CRC-32 of the section's bytes
 *   28  u32    reserved, zero
 *   Sections must not overlap each other, the header or the table. Each
 *   known kind appears exactly once.
 *
 * SECTION 'META' — typed metadata records
 *   u32 count, then `count` records:
 *     string key           e.g. "input.width"
 *     u32    type          VQM_META_* (element type)
 *     u32    size          payload size in bytes
 *     u8[size] payload, then zero bytes up to a multiple of 4.
 *   A payload of type I32/F32 holds size/4 elements (a scalar is one
 *   element), U64/F64 size/8, STRING holds UTF-8 without NUL, BYTES is raw.
 *   Unknown keys (and unknown types) are skipped; a key may appear once.
 *   Keys of version 1.0 (all required):
 *     model.name               STRING
 *     model.description        STRING
 *     input.width              I32[1]
 *     input.height             I32[1]
 *     input.channels           I32[1]  (3)
 *     preprocess.color_order   I32[1]  vq_color_order
 *     preprocess.mean          F32[3]  per tensor channel, 0..255 scale
 *     preprocess.std           F32[3]
 *     preprocess.fit           I32[1]  vq_fit_mode
 *     decoder.kind             I32[1]  vq_decoder_kind
 *     decoder.num_classes      I32[1]
 *     decoder.reg_max          I32[1]
 *     decoder.strides          I32[n_levels]  (1..VQ_MAX_LEVELS levels)
 *     decoder.score_outputs    I32[n_levels]  indices into the graph outputs
 *     decoder.box_outputs      I32[n_levels]
 *     decoder.score_threshold  F32[1]
 *     decoder.nms_iou          F32[1]
 *     decoder.max_detections   I32[1]
 *
 * SECTION 'LABL' — class labels
 *   u32 count (== decoder.num_classes), then `count` strings.
 *
 * SECTION 'GRPH' — the graph (see graph.h for the meaning of each field)
 *   u32 n_values, u32 n_nodes, u32 n_inputs, u32 n_outputs
 *   n_values value records:
 *     string name
 *     u32    rank (1..4)
 *     i32[4] dims (unused trailing dims are 0)
 *   u32[n_inputs]  value ids of the graph inputs (input 0 is the image)
 *   u32[n_outputs] value ids of the graph outputs
 *   n_nodes node records, in execution (topological) order:
 *     u32    op (vq_op)
 *     string name
 *     u32    act (vq_activation, fused activation)
 *     f32    act_alpha
 *     u32    n_inputs  (<= VQ_MAX_NODE_IO)
 *     u32    n_outputs (<= VQ_MAX_NODE_IO)
 *     u32[n_inputs]  input value ids
 *     u32[n_outputs] output value ids
 *     u32    params size in bytes (a multiple of 4, at least the size
 *            listed below for the op; readers ignore extra bytes)
 *     params, by op (every field 4 bytes):
 *       conv2d (68 bytes): i32 kernel_h, kernel_w, stride_h, stride_w,
 *           dilation_h, dilation_w, pad_top, pad_left, pad_bottom,
 *           pad_right, groups, out_channels; then blob ids (or -1):
 *           i32 dense, codebook, indices, scales, bias
 *       max_pool, avg_pool (40 bytes): i32 kernel_h, kernel_w, stride_h,
 *           stride_w, pad_top, pad_left, pad_bottom, pad_right;
 *           f32 pad_value; u32 count_include_pad (0 or 1)
 *       resize (12 bytes): u32 mode (vq_resize_mode), u32 align_corners
 *           (0/1), u32 half_pixel_centers (0/1)
 *       concat, split (4 bytes): i32 axis
 *       transpose (16 bytes): i32 perm[4] (entries past the rank are ignored)
 *       add, activation, reshape (0 bytes)
 *
 * SECTION 'BLOB' — the constant tensors
 *   u32 n_blobs, then n_blobs records:
 *     string name
 *     u32    dtype (vq_dtype)
 *     u32    rank (1..4)
 *     i32[4] dims (unused trailing dims are 0)
 *     u64    offset of the payload from the start of the DATA section
 *            (a multiple of 64)
 *     u64    payload size in bytes (== vq_dtype_bytes (dtype, numel))
 *   Payloads are row-major in the blob's shape. F16 is IEEE half. U4 packs
 *   two indices per byte, the even element in the low nibble.
 *
 *   Vector-quantized conv weights (graph.h) are three or four blobs that a
 *   conv2d node references by id: the codebook [K, d] (F32/F16), the indices
 *   [cout, ceil(D/d)] (U8 with K <= 256, or U4 with K <= 16) and optional
 *   per-output-channel scales [cout] (F32/F16). Several nodes may reference
 *   the same codebook blob; it is stored once.
 *
 * SECTION 'DATA' — blob payloads
 *   Raw bytes; blob payloads at the offsets the BLOB section gives (writers
 *   put them in blob order with zero bytes between them). The loader maps
 *   the file and points each vq_blob at its payload in place.
 *
 * WHAT THE LOADER CHECKS (in this order; the first failure is reported as
 * "FILE: what is wrong", VQ_ERROR_FORMAT unless noted)
 *   1. size >= 64, magic, major version (newer: VQ_ERROR_UNSUPPORTED),
 *      header CRC, file size == header's file size;
 *   2. the section table lies in the file, its CRC; each entry lies in the
 *      file, is 64-aligned, a known kind at most once, an unknown kind not
 *      marked required (else VQ_ERROR_UNSUPPORTED);
 *   3. header, table and sections do not overlap; the bytes between them
 *      are zero; then each section's CRC (so every byte is read once);
 *   4. every required section present; each section parsed with counts
 *      bounded by the bytes that remain; enums of ops and dtypes known
 *      (else VQ_ERROR_UNSUPPORTED);
 *   5. vq_graph_validate() (ids, shapes, op rules, VQ index values, order)
 *      and vq_model_validate() (input, preprocessing, decoder, labels).
 */
#ifndef VQCORE_VQM_H
#define VQCORE_VQM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VQM_MAGIC "\x89VQM\r\n\x1a\n"
#define VQM_MAGIC_SIZE 8
#define VQM_VERSION_MAJOR 1
#define VQM_VERSION_MINOR 0

#define VQM_HEADER_SIZE 64
#define VQM_SECTION_ENTRY_SIZE 32
#define VQM_ALIGNMENT 64

/* Header field offsets. */
#define VQM_HEADER_MAGIC 0
#define VQM_HEADER_VERSION_MAJOR 8
#define VQM_HEADER_VERSION_MINOR 10
#define VQM_HEADER_FLAGS 12
#define VQM_HEADER_FILE_SIZE 16
#define VQM_HEADER_TABLE_OFFSET 24
#define VQM_HEADER_N_SECTIONS 32
#define VQM_HEADER_ENTRY_SIZE 36
#define VQM_HEADER_TABLE_CRC 40
#define VQM_HEADER_CRC 60

/* A four-character code whose characters appear in file order. */
#define VQM_FOURCC(a, b, c, d)                                                 \
  ((uint32_t) (uint8_t) (a) | ((uint32_t) (uint8_t) (b) << 8)                  \
   | ((uint32_t) (uint8_t) (c) << 16) | ((uint32_t) (uint8_t) (d) << 24))

#define VQM_SECTION_META VQM_FOURCC ('M', 'E', 'T', 'A')
#define VQM_SECTION_LABELS VQM_FOURCC ('L', 'A', 'B', 'L')
#define VQM_SECTION_GRAPH VQM_FOURCC ('G', 'R', 'P', 'H')
#define VQM_SECTION_BLOBS VQM_FOURCC ('B', 'L', 'O', 'B')
#define VQM_SECTION_DATA VQM_FOURCC ('D', 'A', 'T', 'A')

#define VQM_SECTION_FLAG_REQUIRED 0x1u

/* Metadata record element types. */
typedef enum {
  VQM_META_I32 = 1,
  VQM_META_F32 = 2,
  VQM_META_STRING = 3,
  VQM_META_U64 = 4,
  VQM_META_F64 = 5,
  VQM_META_BYTES = 6,
} vqm_meta_type;

/* Sizes of the node parameter blocks of version 1.0. */
#define VQM_PARAMS_CONV2D_SIZE 68
#define VQM_PARAMS_POOL_SIZE 40
#define VQM_PARAMS_RESIZE_SIZE 12
#define VQM_PARAMS_AXIS_SIZE 4
#define VQM_PARAMS_TRANSPOSE_SIZE 16

/* Sizes of the fixed parts of records (strings excluded), used to bound
 * counts by the bytes that remain. */
#define VQM_VALUE_RECORD_MIN 24  /* name length + rank + dims */
#define VQM_NODE_RECORD_MIN 28   /* op, name length, act, alpha, counts, params size */
#define VQM_BLOB_RECORD_MIN 44   /* name length, dtype, rank, dims, offset, size */
#define VQM_META_RECORD_MIN 12   /* key length, type, size */

#ifdef __cplusplus
}
#endif

#endif /* VQCORE_VQM_H */
