// libjpeg glue for jpeg.go: see jpeg_turbo.h.
#include "jpeg_turbo.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

typedef struct {
  struct jpeg_error_mgr pub;  // must be first: libjpeg hands back this pointer
  jmp_buf escape;
  vc_jpeg_info *info;
  int truncated;   // the data ended (libjpeg inserted a fake end-of-image marker)
  int short_scan;  // a scan's data ended at a marker before its last block
} vc_error_mgr;

typedef struct {
  struct jpeg_progress_mgr pub;  // must be first
  int max_scans;
  vc_error_mgr *err;
} vc_progress_mgr;

static void vc_error_exit(j_common_ptr cinfo) {
  vc_error_mgr *err = (vc_error_mgr *)cinfo->err;
  char text[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, text);
  // Past the end of the data libjpeg reads a fake end-of-image marker; whatever fails
  // next is a consequence of the truncation, so say that first.
  snprintf(err->info->msg, VC_JPEG_MSG_LEN, "%s%s", err->truncated ? "truncated JPEG: " : "", text);
  longjmp(err->escape, 1);
}

// Warnings (msg_level -1) are ignored like PIL ignores them, except missing data:
// the file ends early (PIL reports it as truncated, and so do we), or a scan's
// entropy-coded data ends at a marker before the scan is complete (PIL returns the
// image with the rest filled grey; we refuse it rather than feed invented pixels).
static void vc_emit_message(j_common_ptr cinfo, int msg_level) {
  vc_error_mgr *err = (vc_error_mgr *)cinfo->err;
  if (msg_level != -1) {
    return;
  }
  if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
    err->truncated = 1;
  } else if (cinfo->err->msg_code == JWRN_HIT_MARKER && !err->short_scan) {
    err->short_scan = 1;
  }
}

static void vc_progress(j_common_ptr cinfo) {
  vc_progress_mgr *p = (vc_progress_mgr *)cinfo->progress;
  j_decompress_ptr d = (j_decompress_ptr)cinfo;
  if (d->input_scan_number > p->max_scans) {
    snprintf(p->err->info->msg, VC_JPEG_MSG_LEN,
             "progressive JPEG with more than %d scans", p->max_scans);
    longjmp(p->err->escape, 1);
  }
}

static void vc_fill_header(j_decompress_ptr cinfo, vc_jpeg_info *info) {
  info->width = (int)cinfo->image_width;
  info->height = (int)cinfo->image_height;
  info->components = cinfo->num_components;
  info->precision = cinfo->data_precision;
}

int vc_jpeg_header(const unsigned char *data, size_t size, vc_jpeg_info *info) {
  struct jpeg_decompress_struct cinfo;
  vc_error_mgr err;
  memset(info, 0, sizeof(*info));
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = vc_error_exit;
  err.pub.emit_message = vc_emit_message;
  err.info = info;
  err.truncated = 0;
  err.short_scan = 0;
  if (setjmp(err.escape)) {
    jpeg_destroy_decompress(&cinfo);
    return 1;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, (unsigned long)size);
  jpeg_read_header(&cinfo, TRUE);
  vc_fill_header(&cinfo, info);
  jpeg_destroy_decompress(&cinfo);
  if (err.truncated) {
    snprintf(info->msg, VC_JPEG_MSG_LEN, "truncated JPEG (data ends inside the headers)");
    return 1;
  }
  return 0;
}

int vc_jpeg_decode(const unsigned char *data, size_t size, unsigned char *out,
                   size_t out_size, int max_scans, vc_jpeg_info *info) {
  struct jpeg_decompress_struct cinfo;
  vc_error_mgr err;
  vc_progress_mgr progress;
  size_t stride;
  memset(info, 0, sizeof(*info));
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = vc_error_exit;
  err.pub.emit_message = vc_emit_message;
  err.info = info;
  err.truncated = 0;
  err.short_scan = 0;
  progress.pub.progress_monitor = vc_progress;
  progress.max_scans = max_scans;
  progress.err = &err;
  if (setjmp(err.escape)) {
    jpeg_destroy_decompress(&cinfo);
    return 1;
  }
  jpeg_create_decompress(&cinfo);
  cinfo.progress = &progress.pub;
  jpeg_mem_src(&cinfo, data, (unsigned long)size);
  jpeg_read_header(&cinfo, TRUE);
  vc_fill_header(&cinfo, info);
  // PIL's rawmode per layer count (JpegImagePlugin.SOF): L, RGB, CMYK;I. Default DCT
  // method (islow) and fancy upsampling, as PIL without draft().
  switch (cinfo.num_components) {
    case 1: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case 3: cinfo.out_color_space = JCS_RGB; break;
    case 4: cinfo.out_color_space = JCS_CMYK; break;
    default:
      snprintf(info->msg, VC_JPEG_MSG_LEN, "JPEG with %d components", cinfo.num_components);
      jpeg_destroy_decompress(&cinfo);
      return 1;
  }
  jpeg_start_decompress(&cinfo);
  stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
  if ((int)cinfo.output_width != info->width || (int)cinfo.output_height != info->height ||
      cinfo.output_components != info->components ||
      stride * (size_t)cinfo.output_height != out_size) {
    snprintf(info->msg, VC_JPEG_MSG_LEN, "decoder output %ux%ux%d does not match the header",
             cinfo.output_width, cinfo.output_height, cinfo.output_components);
    jpeg_destroy_decompress(&cinfo);
    return 1;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out + (size_t)cinfo.output_scanline * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
    if (err.truncated || err.short_scan) {
      break;
    }
  }
  if (err.truncated || err.short_scan) {
    snprintf(info->msg, VC_JPEG_MSG_LEN, err.truncated
             ? "truncated JPEG (data ends before the last scanline)"
             : "corrupt JPEG (a scan's data ends before its last block; PIL would fill the rest grey)");
    jpeg_destroy_decompress(&cinfo);
    return 1;
  }
  // Every scanline is complete; like PIL, a missing end-of-image marker is no error.
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return 0;
}
