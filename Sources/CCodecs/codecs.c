#include "mend_codecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <webp/decode.h>
#include <webp/encode.h>

void mend_codecs_free(void *p) { free(p); }

static void set_error(char *err, size_t errlen, const char *msg) {
  if (err && errlen) { snprintf(err, errlen, "%s", msg); }
}

// MARK: - JPEG

struct mend_jpeg_error {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
  char *err;
  size_t errlen;
};

static void mend_jpeg_error_exit(j_common_ptr cinfo) {
  struct mend_jpeg_error *e = (struct mend_jpeg_error *)cinfo->err;
  char buf[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, buf);
  set_error(e->err, e->errlen, buf);
  longjmp(e->jump, 1);
}

// A premature end of file is a warning to libjpeg (it pads with grey); it is an error here, so that a
// truncated file never decodes silently. Other warnings (stray bytes between markers, common in
// real photos) are ignored and not printed.
static void mend_jpeg_emit_message(j_common_ptr cinfo, int level) {
  if (level < 0) {
    cinfo->err->num_warnings++;
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) { mend_jpeg_error_exit(cinfo); }
  }
}

int mend_jpeg_decode(const uint8_t *data, size_t size, long long max_pixels,
                     uint8_t **out, int *width, int *height, char *err, size_t errlen) {
  struct jpeg_decompress_struct cinfo;
  struct mend_jpeg_error jerr;
  // volatile: modified between setjmp and longjmp.
  uint8_t *volatile pixels = NULL;
  JSAMPLE *volatile row = NULL;
  *out = NULL;
  memset(&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_std_error(&jerr.pub);
  jerr.pub.error_exit = mend_jpeg_error_exit;
  jerr.pub.emit_message = mend_jpeg_emit_message;
  jerr.err = err;
  jerr.errlen = errlen;
  if (setjmp(jerr.jump)) {
    free(pixels);
    free(row);
    jpeg_destroy_decompress(&cinfo);
    return 1;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, (const unsigned char *)data, (unsigned long)size);
  jpeg_read_header(&cinfo, TRUE);
  long long w = cinfo.image_width, h = cinfo.image_height;
  if (w <= 0 || h <= 0 || w > max_pixels / h) {
    snprintf(err, errlen, "%lld\xc3\x97%lld exceeds the limit of %lld pixels (set MEND_MAX_PIXELS to raise it)", w, h,
             max_pixels);
    jpeg_destroy_decompress(&cinfo);
    return 2;
  }
  int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  // Adobe's CMYK JPEGs store inverted samples (0 = full ink).
  int inverted = cmyk && cinfo.saw_Adobe_marker;
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  int comps = cinfo.output_components;
  pixels = malloc((size_t)w * (size_t)h * 3);
  row = malloc((size_t)w * (size_t)comps);
  if (!pixels || !row) {
    set_error(err, errlen, "out of memory");
    free(pixels);
    free(row);
    jpeg_destroy_decompress(&cinfo);
    return 3;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    size_t y = cinfo.output_scanline;
    JSAMPROW rows[1] = {row};
    jpeg_read_scanlines(&cinfo, rows, 1);
    uint8_t *dst = pixels + y * (size_t)w * 3;
    if (cmyk) {
      for (long long x = 0; x < w; x++) {
        int c = row[4 * x], m = row[4 * x + 1], yy = row[4 * x + 2], k = row[4 * x + 3];
        if (!inverted) { c = 255 - c; m = 255 - m; yy = 255 - yy; k = 255 - k; }
        // Now 255 = no ink: R = (1 − C)(1 − K).
        dst[3 * x] = (uint8_t)((c * k + 127) / 255);
        dst[3 * x + 1] = (uint8_t)((m * k + 127) / 255);
        dst[3 * x + 2] = (uint8_t)((yy * k + 127) / 255);
      }
    } else {
      memcpy(dst, row, (size_t)w * 3);
    }
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  free(row);
  *out = pixels;
  *width = (int)w;
  *height = (int)h;
  return 0;
}

int mend_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality,
                     uint8_t **out, size_t *out_size, char *err, size_t errlen) {
  struct jpeg_compress_struct cinfo;
  struct mend_jpeg_error jerr;
  unsigned char *volatile buf = NULL;
  unsigned long volatile len = 0;
  *out = NULL;
  *out_size = 0;
  if (channels != 1 && channels != 3) {
    set_error(err, errlen, "JPEG needs 1 or 3 channels");
    return 1;
  }
  memset(&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_std_error(&jerr.pub);
  jerr.pub.error_exit = mend_jpeg_error_exit;
  jerr.err = err;
  jerr.errlen = errlen;
  if (setjmp(jerr.jump)) {
    jpeg_destroy_compress(&cinfo);
    free(buf);
    return 1;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, (unsigned char **)&buf, (unsigned long *)&len);
  cinfo.image_width = (JDIMENSION)width;
  cinfo.image_height = (JDIMENSION)height;
  cinfo.input_components = channels;
  cinfo.in_color_space = channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW rows[1] = {(JSAMPROW)(pixels + (size_t)cinfo.next_scanline * (size_t)width * (size_t)channels)};
    jpeg_write_scanlines(&cinfo, rows, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  *out = buf;
  *out_size = len;
  return 0;
}

// MARK: - WebP

int mend_webp_decode(const uint8_t *data, size_t size, long long max_pixels,
                     uint8_t **out, int *width, int *height, int *has_alpha, char *err, size_t errlen) {
  WebPBitstreamFeatures f;
  *out = NULL;
  VP8StatusCode st = WebPGetFeatures(data, size, &f);
  if (st != VP8_STATUS_OK) {
    set_error(err, errlen, st == VP8_STATUS_NOT_ENOUGH_DATA ? "truncated WebP header" : "not a readable WebP");
    return 1;
  }
  long long w = f.width, h = f.height;
  if (w <= 0 || h <= 0 || w > max_pixels / h) {
    snprintf(err, errlen, "%lld\xc3\x97%lld exceeds the limit of %lld pixels (set MEND_MAX_PIXELS to raise it)", w, h,
             max_pixels);
    return 2;
  }
  if (f.has_animation) {
    set_error(err, errlen, "animated WebP is not supported");
    return 1;
  }
  size_t stride = (size_t)w * 4;
  uint8_t *pixels = malloc(stride * (size_t)h);
  if (!pixels) {
    set_error(err, errlen, "out of memory");
    return 3;
  }
  if (!WebPDecodeRGBAInto(data, size, pixels, stride * (size_t)h, (int)stride)) {
    free(pixels);
    set_error(err, errlen, "corrupt or truncated WebP");
    return 1;
  }
  *out = pixels;
  *width = (int)w;
  *height = (int)h;
  *has_alpha = f.has_alpha;
  return 0;
}

int mend_webp_encode(const uint8_t *pixels, int width, int height, int channels, int quality,
                     uint8_t **out, size_t *out_size, char *err, size_t errlen) {
  *out = NULL;
  *out_size = 0;
  if (width > WEBP_MAX_DIMENSION || height > WEBP_MAX_DIMENSION) {
    snprintf(err, errlen, "WebP images are at most %d pixels on a side", WEBP_MAX_DIMENSION);
    return 1;
  }
  uint8_t *buf = NULL;
  size_t n = 0;
  int stride = width * channels;
  if (channels == 4) {
    n = quality >= 100 ? WebPEncodeLosslessRGBA(pixels, width, height, stride, &buf)
                       : WebPEncodeRGBA(pixels, width, height, stride, (float)quality, &buf);
  } else if (channels == 3) {
    n = quality >= 100 ? WebPEncodeLosslessRGB(pixels, width, height, stride, &buf)
                       : WebPEncodeRGB(pixels, width, height, stride, (float)quality, &buf);
  } else {
    set_error(err, errlen, "WebP needs 3 or 4 channels");
    return 1;
  }
  if (n == 0 || !buf) {
    WebPFree(buf);
    set_error(err, errlen, "WebP encoding failed");
    return 1;
  }
  // Hand back a malloc'd copy so that every buffer is released with mend_codecs_free.
  uint8_t *copy = malloc(n);
  if (!copy) {
    WebPFree(buf);
    set_error(err, errlen, "out of memory");
    return 3;
  }
  memcpy(copy, buf, n);
  WebPFree(buf);
  *out = copy;
  *out_size = n;
  return 0;
}
