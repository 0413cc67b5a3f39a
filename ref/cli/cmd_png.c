/*
 * ggdm png-test (hidden; for ci/interop/png_vs_pil.py): the PNG writer, the float -> uint8
 * conversion, Pillow's resize and Python's random.sample on the command line.
 *
 *   ggdm png-test --in X.npy --out Y.png [--resize WxH] [--grid RxC]
 *       X.npy float32 [3, H, W] (a VAE output: ggdm_image_to_u8) or uint32/int64 [H, W, 3]
 *       (the bytes as they are); --resize: Pillow's Image.resize((W, H)); --grid: R x C copies
 *       of the (resized) image through ggdm_image_grid, each copy's pixels + 7 * (tile index);
 *       then written with ggdm_png_save.
 *   ggdm png-test --sample SEED --n N --k K
 *       prints random.seed(SEED); random.sample(range(N), K), one line, space-separated.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "image.h"
#include "io.h"
#include "png.h"
#include "pyrandom.h"

int ggdm_cmd_png_test(int argc, char **argv);

static const char *const png_test_usage =
    "usage: ggdm png-test --in X.npy --out Y.png [--resize WxH] [--grid RxC]\n"
    "       ggdm png-test --sample SEED --n N --k K\n"
    "A test helper (ci/interop/png_vs_pil.py): the PNG writer, image_to_u8, Pillow's resize, the grid,\n"
    "Python's random.sample. X.npy: float32 [3, H, W] (VAE output) or uint32/int64 [H, W, 3] bytes.\n";

static int parse_wxh(const char *s, int *w, int *h)
{
    char *end;
    long a = strtol(s, &end, 10), b;
    if (end == s || *end != 'x')
        return 0;
    s = end + 1;
    b = strtol(s, &end, 10);
    if (end == s || *end || a <= 0 || b <= 0 || a > GGDM_PNG_MAX_DIM || b > GGDM_PNG_MAX_DIM)
        return 0;
    *w = (int)a;
    *h = (int)b;
    return 1;
}

static int do_sample(long long seed, long long n, long long k)
{
    int *idx = (int *)malloc((size_t)(k ? k : 1) * sizeof(int));
    long long i;
    if (!idx) {
        fprintf(stderr, "ggdm png-test: out of memory\n");
        return 1;
    }
    if (ggdm_pyrandom_sample((int64_t)seed, (int)n, (int)k, idx) != 0) {
        fprintf(stderr, "ggdm png-test: sample larger than population or is negative (n %lld, k %lld)\n", n, k);
        free(idx);
        return 1;
    }
    for (i = 0; i < k; i++)
        printf("%s%d", i ? " " : "", idx[i]);
    printf("\n");
    free(idx);
    return 0;
}

int ggdm_cmd_png_test(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *val;
    int i, r, rw = 0, rh = 0, gr = 0, gc = 0, w, h, rc = 1;
    long long seed = 0, n = -1, k = -1;
    int have_seed = 0;
    ggdm_array a;
    uint8_t *rgb = NULL, *small = NULL, *grid = NULL, **tiles = NULL;
    char err[1024];

    memset(&a, 0, sizeof a);
    for (i = 1; i < argc; i++) {
        if (ggdm_is_help(argv[i])) {
            fputs(png_test_usage, stdout);
            return 0;
        } else if ((r = ggdm_opt(argc, argv, &i, "--in", &val)) != 0) {
            if (r < 0)
                return 2;
            in = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--out", &val)) != 0) {
            if (r < 0)
                return 2;
            out = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--resize", &val)) != 0) {
            if (r < 0 || !parse_wxh(val, &rw, &rh)) {
                fprintf(stderr, "ggdm png-test: --resize wants WxH (1 .. 2^24 each), not '%s'\n", r < 0 ? "" : val);
                return 2;
            }
        } else if ((r = ggdm_opt(argc, argv, &i, "--grid", &val)) != 0) {
            if (r < 0 || !parse_wxh(val, &gr, &gc) || gr > 64 || gc > 64) {
                fprintf(stderr, "ggdm png-test: --grid wants RxC (1 .. 64 each), not '%s'\n", r < 0 ? "" : val);
                return 2;
            }
        } else if ((r = ggdm_opt(argc, argv, &i, "--sample", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int("png-test", "--sample", val, INT64_MIN, INT64_MAX, &seed))
                return 2;
            have_seed = 1;
        } else if ((r = ggdm_opt(argc, argv, &i, "--n", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int("png-test", "--n", val, 0, 100000000, &n))
                return 2;
        } else if ((r = ggdm_opt(argc, argv, &i, "--k", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int("png-test", "--k", val, 0, 100000000, &k))
                return 2;
        } else {
            fprintf(stderr, "ggdm png-test: unknown argument '%s'\n%s", argv[i], png_test_usage);
            return 2;
        }
    }
    if (have_seed) {
        if (n < 0 || k < 0) {
            fprintf(stderr, "ggdm png-test: --sample needs --n N and --k K\n");
            return 2;
        }
        return do_sample(seed, n, k);
    }
    if (!in || !out) {
        fprintf(stderr, "ggdm png-test: --in X.npy and --out Y.png are required\n%s", png_test_usage);
        return 2;
    }
    if (ggdm_io_load_npy(in, &a, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm png-test: %s\n", err);
        return 1;
    }
    if (a.ndim != 3 || (a.dtype == GGDM_DT_F32 ? a.shape[0] != 3 : a.shape[2] != 3) || a.dtype == GGDM_DT_F64 ||
        a.shape[0] == 0 || a.shape[1] == 0 || a.shape[2] == 0 || a.shape[0] > GGDM_PNG_MAX_DIM ||
        a.shape[1] > GGDM_PNG_MAX_DIM || a.shape[2] > GGDM_PNG_MAX_DIM) {
        ggdm_array_describe(&a, err, sizeof err);
        fprintf(stderr, "ggdm png-test: %s: want float32 [3, H, W] or uint32/int64 [H, W, 3], not %s\n", in, err);
        goto done;
    }
    h = (int)(a.dtype == GGDM_DT_F32 ? a.shape[1] : a.shape[0]);
    w = (int)(a.dtype == GGDM_DT_F32 ? a.shape[2] : a.shape[1]);
    rgb = (uint8_t *)malloc((size_t)w * (size_t)h * 3u);
    if (!rgb)
        goto oom;
    if (a.dtype == GGDM_DT_F32) {
        ggdm_image_to_u8((const float *)a.data, h, w, rgb);
    } else {
        uint64_t q;
        for (q = 0; q < a.count; q++) {
            int64_t v = a.dtype == GGDM_DT_U32 ? (int64_t)((const uint32_t *)a.data)[q] : ((const int64_t *)a.data)[q];
            if (v < 0 || v > 255) {
                fprintf(stderr, "ggdm png-test: %s: value %" PRId64 " is not a byte\n", in, v);
                goto done;
            }
            rgb[q] = (uint8_t)v;
        }
    }
    if (rw) {
        small = (uint8_t *)malloc((size_t)rw * (size_t)rh * 3u);
        if (!small || ggdm_image_resize_pil(rgb, w, h, small, rw, rh) != 0)
            goto oom;
        free(rgb);
        rgb = small;
        small = NULL;
        w = rw;
        h = rh;
    }
    if (gr) {
        int t, nt = gr * gc;
        size_t p, sz = (size_t)w * (size_t)h * 3u;
        tiles = (uint8_t **)calloc((size_t)nt, sizeof *tiles);
        grid = (uint8_t *)malloc(sz * (size_t)nt);
        if (!tiles || !grid)
            goto oom;
        for (t = 0; t < nt; t++) {
            if (!(tiles[t] = (uint8_t *)malloc(sz)))
                goto oom;
            for (p = 0; p < sz; p++)
                tiles[t][p] = (uint8_t)(rgb[p] + 7 * t);
        }
        ggdm_image_grid((const uint8_t *const *)tiles, gr, gc, w, h, grid);
        free(rgb);
        rgb = grid;
        grid = NULL;
        w *= gc;
        h *= gr;
    }
    if (ggdm_png_save(out, rgb, w, h, err, sizeof err) != 0) {
        fprintf(stderr, "ggdm png-test: %s\n", err);
        goto done;
    }
    rc = 0;
    goto done;
oom:
    fprintf(stderr, "ggdm png-test: out of memory (or a bad size)\n");
done:
    if (tiles) {
        for (i = 0; i < gr * gc; i++)
            free(tiles[i]);
        free(tiles);
    }
    free(grid);
    free(small);
    free(rgb);
    ggdm_array_free(&a);
    return rc;
}
