#include "image.h"

#include <stdlib.h>
#include <string.h>

/* ---- float -> uint8 ----------------------------------------------------------------------- */

static uint8_t to_u8(float x)
{
    float t, v, f;
    int i;
    if (x != x)
        return 0; /* NaN (documented in image.h) */
    t = x / 2.0f;
    t = t + 0.5f;
    if (t < 0.0f)
        t = 0.0f;
    if (t > 1.0f)
        t = 1.0f;
    v = t * 255.0f;
    i = (int)v;          /* v in [0, 255]: truncation is floor */
    f = v - (float)i;    /* exact (Sterbenz) */
    if (f > 0.5f || (f == 0.5f && (i & 1)))
        i++;             /* half to even, as np.round */
    return (uint8_t)i;
}

void ggdm_image_to_u8(const float *x, int H, int W, uint8_t *rgb)
{
    size_t hw = (size_t)H * (size_t)W, p;
    int c;
    for (c = 0; c < 3; c++)
        for (p = 0; p < hw; p++)
            rgb[p * 3 + (size_t)c] = to_u8(x[(size_t)c * hw + p]);
}

/* ---- Pillow's resample -------------------------------------------------------------------- */

#define PRECISION_BITS (32 - 8 - 2)

static double bicubic(double x)
{
    /* Pillow's bicubic_filter with a = -0.5, the same operations in the same order */
    if (x < 0.0)
        x = -x;
    if (x < 1.0)
        return ((-0.5 + 2.0) * x - (-0.5 + 3.0)) * x * x + 1;
    if (x < 2.0)
        return (((x - 5) * x + 8) * x - 4) * -0.5;
    return 0.0;
}

static int ceil_pos(double v) /* ceil of a positive double below 2^31 */
{
    int i = (int)v;
    return (double)i < v ? i + 1 : i;
}

/* Pillow's precompute_coeffs (box [0, in_size]) then normalize_coeffs_8bpc: ksize coefficients
 * per output pixel in kk (fixed point), first input index and count in bounds. 0 or -1. */
static int coeffs(int in_size, int out_size, int *ksize_out, int **bounds_out, int32_t **kk_out)
{
    double support, scale, filterscale, center, ww, ss;
    float in0 = 0.0f, in1 = (float)in_size;
    int xx, x, ksize, xmin, xmax;
    int *bounds;
    double *k;
    int32_t *kk;

    filterscale = scale = (double)(in1 - in0) / out_size;
    if (filterscale < 1.0)
        filterscale = 1.0;
    support = 2.0 * filterscale;
    ksize = ceil_pos(support) * 2 + 1;
    k = (double *)malloc((size_t)ksize * sizeof(double));
    kk = (int32_t *)malloc((size_t)out_size * (size_t)ksize * sizeof(int32_t));
    bounds = (int *)malloc((size_t)out_size * 2 * sizeof(int));
    if (!k || !kk || !bounds) {
        free(k);
        free(kk);
        free(bounds);
        return -1;
    }
    for (xx = 0; xx < out_size; xx++) {
        center = in0 + (xx + 0.5) * scale;
        ww = 0.0;
        ss = 1.0 / filterscale;
        xmin = (int)(center - support + 0.5);
        if (xmin < 0)
            xmin = 0;
        xmax = (int)(center + support + 0.5);
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        for (x = 0; x < xmax; x++) {
            double w = bicubic((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0)
                k[x] /= ww;
        for (; x < ksize; x++)
            k[x] = 0;
        for (x = 0; x < ksize; x++) {
            double v = k[x];
            kk[(size_t)xx * (size_t)ksize + (size_t)x] =
                v < 0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS)) : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
        }
        bounds[xx * 2 + 0] = xmin;
        bounds[xx * 2 + 1] = xmax;
    }
    free(k);
    *ksize_out = ksize;
    *bounds_out = bounds;
    *kk_out = kk;
    return 0;
}

static uint8_t clip8(int64_t ss)
{
    /* Pillow: clip8_lookups[ss >> PRECISION_BITS], the table clamping to [0, 255] */
    if (ss < 0)
        return 0;
    ss >>= PRECISION_BITS;
    return (uint8_t)(ss > 255 ? 255 : ss);
}

int ggdm_image_resize_pil(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh)
{
    const long maxd = 1L << 24;
    int need_h, need_v, kh = 0, kv = 0, *bh = NULL, *bv = NULL, y0, y1, xx, yy, x, c;
    int32_t *kkh = NULL, *kkv = NULL;
    uint8_t *tmp = NULL;
    const uint8_t *in;
    int in_w;

    if (sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0 || sw > maxd || sh > maxd || dw > maxd || dh > maxd)
        return -1;
    if (sw == dw && sh == dh) { /* Image.resize returns a copy */
        memcpy(dst, src, (size_t)sw * (size_t)sh * 3u);
        return 0;
    }
    need_h = dw != sw;
    need_v = dh != sh;
    if (coeffs(sh, dh, &kv, &bv, &kkv) != 0)
        return -1;
    y0 = bv[0];                                   /* first source row used */
    y1 = bv[dh * 2 - 2] + bv[dh * 2 - 1];         /* one past the last */
    in = src;
    in_w = sw;
    if (need_h) {
        if (coeffs(sw, dw, &kh, &bh, &kkh) != 0) {
            free(bv);
            free(kkv);
            return -1;
        }
        for (yy = 0; yy < dh; yy++)
            bv[yy * 2] -= y0;
        tmp = (uint8_t *)malloc((size_t)dw * (size_t)(y1 - y0) * 3u);
        if (!tmp) {
            free(bh);
            free(kkh);
            free(bv);
            free(kkv);
            return -1;
        }
        for (yy = 0; yy < y1 - y0; yy++) {
            const uint8_t *row = src + (size_t)(yy + y0) * (size_t)sw * 3u;
            uint8_t *o = (need_v ? tmp : dst) + (size_t)yy * (size_t)dw * 3u;
            for (xx = 0; xx < dw; xx++) {
                int xmin = bh[xx * 2], xmax = bh[xx * 2 + 1];
                const int32_t *k = kkh + (size_t)xx * (size_t)kh;
                for (c = 0; c < 3; c++) {
                    int64_t ss = 1 << (PRECISION_BITS - 1);
                    for (x = 0; x < xmax; x++)
                        ss += (int64_t)row[(size_t)(x + xmin) * 3u + (size_t)c] * k[x];
                    o[(size_t)xx * 3u + (size_t)c] = clip8(ss);
                }
            }
        }
        free(bh);
        free(kkh);
        in = tmp;
        in_w = dw;
    }
    if (need_v) {
        for (yy = 0; yy < dh; yy++) {
            int ymin = bv[yy * 2], ymax = bv[yy * 2 + 1];
            const int32_t *k = kkv + (size_t)yy * (size_t)kv;
            uint8_t *o = dst + (size_t)yy * (size_t)in_w * 3u;
            for (xx = 0; xx < in_w * 3; xx++) {
                int64_t ss = 1 << (PRECISION_BITS - 1);
                for (x = 0; x < ymax; x++)
                    ss += (int64_t)in[(size_t)(x + ymin) * (size_t)in_w * 3u + (size_t)xx] * k[x];
                o[xx] = clip8(ss);
            }
        }
    }
    free(tmp);
    free(bv);
    free(kkv);
    return 0;
}

/* ---- grid --------------------------------------------------------------------------------- */

void ggdm_image_grid(const uint8_t *const *tiles, int rows, int cols, int tw, int th, uint8_t *out)
{
    size_t orow = (size_t)cols * (size_t)tw * 3u, trow = (size_t)tw * 3u;
    int i, j, y;
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++)
            for (y = 0; y < th; y++)
                memcpy(out + ((size_t)i * (size_t)th + (size_t)y) * orow + (size_t)j * trow,
                       tiles[(size_t)i * (size_t)cols + (size_t)j] + (size_t)y * trow, trow);
}
