// Decoding JPEG with the system libjpeg (libjpeg-turbo on Debian: the library PIL links),
// with PIL's decoder settings. Errors come back as text, never through exit().
#ifndef VC_JPEG_TURBO_H
#define VC_JPEG_TURBO_H

#include <stddef.h>

#define VC_JPEG_MSG_LEN 200

typedef struct {
  int width;       // from the frame header
  int height;      // from the frame header
  int components;  // 1 (grayscale), 3 (YCbCr/RGB) or 4 (CMYK/YCCK)
  int precision;   // bits per sample
  char msg[VC_JPEG_MSG_LEN];  // the failure, when a call returns non-zero
} vc_jpeg_info;

// vc_jpeg_header reads the headers only (no pixel buffers are allocated).
int vc_jpeg_header(const unsigned char *data, size_t size, vc_jpeg_info *info);

// vc_jpeg_decode decodes into out (width*height*components bytes; 1 -> gray, 3 -> RGB,
// 4 -> CMYK as libjpeg writes it). It refuses images that run out of data before the
// last scanline and progressive files with more than max_scans scans.
int vc_jpeg_decode(const unsigned char *data, size_t size, unsigned char *out,
                   size_t out_size, int max_scans, vc_jpeg_info *info);

#endif
