/* Video and image decoding with FFmpeg, see media.h. */
#include "media.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include "vqcore/error.h"

struct vq_media_reader {
  char *path;
  AVFormatContext *format;
  AVCodecContext *codec;
  int stream_index;
  AVPacket *packet;
  AVFrame *frame;
  AVFrame *converted; /* RGB copy when the decoded format is not read directly */
  struct SwsContext *scaler;
  int64_t next_index;
  gboolean draining;
  gboolean finished;
};

static void
set_av_error (GError **error, const char *path, const char *what, int code)
{
  char text[AV_ERROR_MAX_STRING_SIZE] = { 0 };
  av_strerror (code, text, sizeof text);
  g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT, "%s: %s: %s", path, what, text);
}

vq_media_reader *
vq_media_reader_open (const char *path, GError **error)
{
  /* FFmpeg's own log lines would interleave with our one-line errors. */
  if (g_getenv ("VQ_FFMPEG_LOG") == NULL)
    av_log_set_level (AV_LOG_QUIET);

  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_IO, "%s: no such file", path);
    return NULL;
  }

  vq_media_reader *reader = g_new0 (vq_media_reader, 1);
  reader->path = g_strdup (path);
  const AVCodec *decoder = NULL;
  int ret = avformat_open_input (&reader->format, path, NULL, NULL);
  if (ret < 0) {
    set_av_error (error, path, "cannot open as video or image", ret);
    goto fail;
  }
  ret = avformat_find_stream_info (reader->format, NULL);
  if (ret < 0) {
    set_av_error (error, path, "cannot read stream information", ret);
    goto fail;
  }
  ret = av_find_best_stream (reader->format, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
  if (ret < 0) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT, "%s: no decodable video stream", path);
    goto fail;
  }
  reader->stream_index = ret;
  reader->codec = avcodec_alloc_context3 (decoder);
  AVStream *stream = reader->format->streams[reader->stream_index];
  if (reader->codec == NULL
      || avcodec_parameters_to_context (reader->codec, stream->codecpar) < 0) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT, "%s: bad codec parameters", path);
    goto fail;
  }
  /* Frame threads delay output; slice threads are enough for our sizes. */
  reader->codec->thread_count = 1;
  ret = avcodec_open2 (reader->codec, decoder, NULL);
  if (ret < 0) {
    set_av_error (error, path, "cannot open the decoder", ret);
    goto fail;
  }
  reader->packet = av_packet_alloc ();
  reader->frame = av_frame_alloc ();
  reader->converted = av_frame_alloc ();
  return reader;

fail:
  vq_media_reader_close (reader);
  return NULL;
}

/* The vq pixel format for an FFmpeg one that vqcore reads directly. Only
 * limited-range YUV qualifies: vqcore's YUV conversion is BT.601 limited
 * range, so full-range (JPEG) frames go through swscale instead. */
static gboolean
direct_format (const AVFrame *frame, vq_pixel_format *out)
{
  gboolean full_range = frame->color_range == AVCOL_RANGE_JPEG;
  switch (frame->format) {
  case AV_PIX_FMT_YUV420P:
    *out = VQ_PIXEL_I420;
    return !full_range;
  case AV_PIX_FMT_NV12:
    *out = VQ_PIXEL_NV12;
    return !full_range;
  case AV_PIX_FMT_RGB24:
    *out = VQ_PIXEL_RGB;
    return TRUE;
  case AV_PIX_FMT_BGR24:
    *out = VQ_PIXEL_BGR;
    return TRUE;
  case AV_PIX_FMT_RGBA:
    *out = VQ_PIXEL_RGBA;
    return TRUE;
  case AV_PIX_FMT_BGRA:
    *out = VQ_PIXEL_BGRA;
    return TRUE;
  case AV_PIX_FMT_RGB0:
    *out = VQ_PIXEL_RGBX;
    return TRUE;
  case AV_PIX_FMT_BGR0:
    *out = VQ_PIXEL_BGRX;
    return TRUE;
  default:
    return FALSE;
  }
}

static gboolean
fill_frame (vq_media_reader *reader, vq_media_frame *out, GError **error)
{
  AVFrame *frame = reader->frame;
  vq_pixel_format format;
  AVFrame *source = frame;

  if (!direct_format (frame, &format)) {
    reader->scaler = sws_getCachedContext (reader->scaler, frame->width, frame->height,
                                           frame->format, frame->width, frame->height,
                                           AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
    AVFrame *rgb = reader->converted;
    if (rgb->width != frame->width || rgb->height != frame->height) {
      av_frame_unref (rgb);
      rgb->format = AV_PIX_FMT_RGB24;
      rgb->width = frame->width;
      rgb->height = frame->height;
      if (av_frame_get_buffer (rgb, 0) < 0) {
        g_set_error (error, VQ_ERROR, VQ_ERROR_IO, "%s: out of memory", reader->path);
        return FALSE;
      }
    }
    if (reader->scaler == NULL
        || sws_scale (reader->scaler, (const uint8_t *const *) frame->data, frame->linesize,
                      0, frame->height, rgb->data, rgb->linesize) != frame->height) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT,
                   "%s: cannot convert pixel format %s to RGB", reader->path,
                   av_get_pix_fmt_name (frame->format));
      return FALSE;
    }
    format = VQ_PIXEL_RGB;
    source = rgb;
  }

  out->frame.format = format;
  out->frame.width = frame->width;
  out->frame.height = frame->height;
  for (int i = 0; i < 3; i++) {
    out->frame.planes[i] = source->data[i];
    out->frame.strides[i] = source->linesize[i];
  }
  out->index = reader->next_index++;

  AVStream *stream = reader->format->streams[reader->stream_index];
  int64_t ts = frame->best_effort_timestamp;
  if (ts != AV_NOPTS_VALUE) {
    int64_t start = stream->start_time != AV_NOPTS_VALUE ? stream->start_time : 0;
    out->pts = (double) (ts - start) * av_q2d (stream->time_base);
  } else {
    double rate = vq_media_reader_frame_rate (reader);
    out->pts = rate > 0 ? (double) out->index / rate : 0.0;
  }
  return TRUE;
}

/* At the end of the stream, a container that declared its frame count and
 * delivered fewer frames was cut short. */
static int
finish (vq_media_reader *reader, GError **error)
{
  reader->finished = TRUE;
  int64_t declared = vq_media_reader_declared_frames (reader);
  if (declared > 1 && reader->next_index < declared) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT,
                 "%s: truncated video: decoded %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
                 " frames the file declares", reader->path, reader->next_index, declared);
    return -1;
  }
  return 0;
}

int
vq_media_reader_next (vq_media_reader *reader, vq_media_frame *out, GError **error)
{
  if (reader->finished)
    return 0;
  for (;;) {
    int ret = avcodec_receive_frame (reader->codec, reader->frame);
    if (ret == 0)
      return fill_frame (reader, out, error) ? 1 : -1;
    if (ret == AVERROR_EOF)
      return finish (reader, error);
    if (ret != AVERROR (EAGAIN)) {
      set_av_error (error, reader->path, "decoding failed", ret);
      return -1;
    }
    if (reader->draining)
      return finish (reader, error);

    ret = av_read_frame (reader->format, reader->packet);
    if (ret == AVERROR_EOF) {
      reader->draining = TRUE;
      avcodec_send_packet (reader->codec, NULL);
      continue;
    }
    if (ret < 0) {
      set_av_error (error, reader->path, "reading failed (corrupt or truncated file)", ret);
      return -1;
    }
    if (reader->packet->stream_index == reader->stream_index) {
      ret = avcodec_send_packet (reader->codec, reader->packet);
      if (ret < 0 && ret != AVERROR (EAGAIN)) {
        av_packet_unref (reader->packet);
        set_av_error (error, reader->path, "corrupt video data", ret);
        return -1;
      }
    }
    av_packet_unref (reader->packet);
  }
}

double
vq_media_reader_frame_rate (const vq_media_reader *reader)
{
  AVStream *stream = reader->format->streams[reader->stream_index];
  AVRational rate = stream->avg_frame_rate.num ? stream->avg_frame_rate : stream->r_frame_rate;
  return rate.den ? av_q2d (rate) : 0.0;
}

int64_t
vq_media_reader_declared_frames (const vq_media_reader *reader)
{
  return reader->format->streams[reader->stream_index]->nb_frames;
}

const char *
vq_media_reader_codec_name (const vq_media_reader *reader)
{
  return reader->codec->codec ? reader->codec->codec->name : "unknown";
}

void
vq_media_reader_close (vq_media_reader *reader)
{
  if (reader == NULL)
    return;
  sws_freeContext (reader->scaler);
  av_frame_free (&reader->converted);
  av_frame_free (&reader->frame);
  av_packet_free (&reader->packet);
  avcodec_free_context (&reader->codec);
  avformat_close_input (&reader->format);
  g_free (reader->path);
  g_free (reader);
}
