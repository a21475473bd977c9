#ifndef MEND_CODECS_H
#define MEND_CODECS_H
// Whole-buffer JPEG (libjpeg-turbo) and WebP (libwebp) codecs for mend's Imaging module.
// Every function returns 0 on success; on failure it returns non-zero, writes a one-line message
// into `err` (at most `errlen` bytes, NUL-terminated) and allocates nothing. libjpeg's errors are
// caught with setjmp/longjmp (its default handler would exit the process). Pixel buffers returned
// through `out` are malloc'd: release them with mend_codecs_free.
#include <stddef.h>
#include <stdint.h>

void mend_codecs_free(void *p);

/// Decodes a JPEG to 8-bit RGB (gray is expanded, CMYK/YCCK converted). Dimensions are checked
/// against `max_pixels` before any pixel memory is allocated.
int mend_jpeg_decode(const uint8_t *data, size_t size, long long max_pixels,
                     uint8_t **out, int *width, int *height, char *err, size_t errlen);

/// Encodes 8-bit interleaved RGB (channels 3) or gray (channels 1) at `quality` 1…100.
int mend_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality,
                     uint8_t **out, size_t *out_size, char *err, size_t errlen);

/// Decodes a WebP to 8-bit RGBA; `has_alpha` tells whether the file has an alpha channel.
int mend_webp_decode(const uint8_t *data, size_t size, long long max_pixels,
                     uint8_t **out, int *width, int *height, int *has_alpha, char *err, size_t errlen);

/// Encodes 8-bit interleaved RGB (channels 3) or RGBA (channels 4); quality 100 is lossless.
int mend_webp_encode(const uint8_t *pixels, int width, int height, int channels, int quality,
                     uint8_t **out, size_t *out_size, char *err, size_t errlen);

#endif
