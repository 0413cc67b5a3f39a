/*
 * ggdm sd-sched (hidden; for ci/interop/sd_sched_vs_diffusers.py): one whole generation of
 * Stable Diffusion's PNDM or DDIM scheduler (ggdm/sd_sched.h, SD v1.5's scheduler_config) on
 * given latents and given model outputs, one per network call. Writes the latents after
 * every call, and optionally the alphas_cumprod table and the UNet's timesteps.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cmds.h"
#include "ggdm/sd_sched.h"
#include "io.h"

static const char *const sd_sched_usage =
    "usage: ggdm sd-sched --kind pndm|ddim --steps N --z Z.npy --eps EPS.npy --out OUT.npy\n"
    "                     [--table AC.npy] [--timesteps T.npy]\n"
    "Stable Diffusion v1.5's scheduler (diffusers' PNDMScheduler with skip_prk_steps, or\n"
    "DDIMScheduler with eta 0) over one generation:\n"
    "  --z Z.npy          the initial latents, float32, any shape (n elements)\n"
    "  --eps EPS.npy      the model output of every call, float32, (calls, ...) with calls * n\n"
    "                     elements (calls: N + 1 for pndm, 1 for N = 1; N for ddim)\n"
    "  --out OUT.npy      the latents after every call, float32 (calls, n)\n"
    "  --table AC.npy     alphas_cumprod, float32 (1000,)\n"
    "  --timesteps T.npy  the UNet's timestep at every call, int64 (calls,)\n"
    "Exit status: 0 success, 1 unreadable or malformed input, 2 usage error.\n";

static int load_f32(const char *path, ggdm_array *a)
{
    char err[512];
    if (ggdm_io_load_npy(path, a, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm sd-sched: %s\n", err);
        return 0;
    }
    if (a->dtype != GGDM_DT_F32 || a->count < 1) {
        fprintf(stderr, "ggdm sd-sched: %s must be a non-empty float32 array\n", path);
        ggdm_array_free(a);
        return 0;
    }
    return 1;
}

static int save(const char *path, ggdm_dtype dt, int ndim, const uint64_t *shape, const void *data)
{
    char err[512];
    if (ggdm_io_save(path, dt, ndim, shape, data, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm sd-sched: %s\n", err);
        return 0;
    }
    return 1;
}

int ggdm_cmd_sd_sched(int argc, char **argv)
{
    const char *val, *kind_s = NULL, *zp = NULL, *ep = NULL, *out = NULL, *tabp = NULL, *tsp = NULL;
    long long steps = 0;
    int i, r, calls, c, rc = 1;
    ggdm_sd_sched_cfg cfg;
    ggdm_sd_sched_state st;
    ggdm_array z, eps;
    char msg[GGDM_SD_SCHED_MSG_LEN];
    float *ac = NULL, *buf = NULL, *lat = NULL;
    int64_t *ts = NULL;
    uint64_t n, shape[2];
    ggdm_status s;

    for (i = 1; i < argc; i++) {
        if (ggdm_is_help(argv[i])) {
            fputs(sd_sched_usage, stdout);
            return 0;
        } else if ((r = ggdm_opt(argc, argv, &i, "--kind", &val)) != 0) {
            if (r < 0)
                return 2;
            kind_s = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--steps", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int("sd-sched", "--steps", val, 1, 1000, &steps))
                return 2;
        } else if ((r = ggdm_opt(argc, argv, &i, "--z", &val)) != 0) {
            if (r < 0)
                return 2;
            zp = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--eps", &val)) != 0) {
            if (r < 0)
                return 2;
            ep = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--out", &val)) != 0 ||
                   (r = ggdm_opt(argc, argv, &i, "-o", &val)) != 0) {
            if (r < 0)
                return 2;
            out = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--table", &val)) != 0) {
            if (r < 0)
                return 2;
            tabp = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--timesteps", &val)) != 0) {
            if (r < 0)
                return 2;
            tsp = val;
        } else {
            fprintf(stderr, "ggdm sd-sched: unknown option '%s' (see ggdm sd-sched --help)\n", argv[i]);
            return 2;
        }
    }
    if (!kind_s || (strcmp(kind_s, "pndm") && strcmp(kind_s, "ddim"))) {
        fprintf(stderr, "ggdm sd-sched: --kind must be pndm or ddim\n");
        return 2;
    }
    if (!steps || !zp || !ep || !out) {
        fprintf(stderr, "ggdm sd-sched: --steps, --z, --eps and --out are required\n");
        return 2;
    }
    ggdm_sd_sched_cfg_sd15(&cfg, kind_s[0] == 'p' ? GGDM_SD_SCHED_PNDM : GGDM_SD_SCHED_DDIM, (int)steps);
    if (ggdm_sd_sched_cfg_check(&cfg, msg) != GGDM_OK) {
        fprintf(stderr, "ggdm sd-sched: %s\n", msg);
        return 2;
    }
    calls = ggdm_sd_sched_calls(&cfg);
    if (!load_f32(zp, &z))
        return 1;
    if (!load_f32(ep, &eps)) {
        ggdm_array_free(&z);
        return 1;
    }
    n = z.count;
    if (eps.count != (uint64_t)calls * n) {
        fprintf(stderr, "ggdm sd-sched: --eps holds %llu floats, not calls * n = %d * %llu\n",
                (unsigned long long)eps.count, calls, (unsigned long long)n);
        goto done;
    }
    ac = (float *)malloc(sizeof(float) * (size_t)cfg.num_train_timesteps);
    ts = (int64_t *)malloc(sizeof(int64_t) * (size_t)calls);
    lat = (float *)malloc(sizeof(float) * (size_t)(n * (uint64_t)calls));
    buf = (float *)malloc(sizeof(float) * (ggdm_sd_sched_buffer_floats(&cfg, (size_t)n) + 1));
    if (!ac || !ts || !lat || !buf) {
        fprintf(stderr, "ggdm sd-sched: out of memory\n");
        goto done;
    }
    if ((s = ggdm_sd_sched_alphas_cumprod(&cfg, ac)) != GGDM_OK || (s = ggdm_sd_sched_timesteps(&cfg, ts)) != GGDM_OK ||
        (s = ggdm_sd_sched_start(&cfg, &st, (size_t)n, buf)) != GGDM_OK) {
        fprintf(stderr, "ggdm sd-sched: %s\n", ggdm_status_str(s));
        goto done;
    }
    memcpy(lat, z.data, sizeof(float) * (size_t)n);
    for (c = 0; c < calls; c++) {
        float *zc = lat + (size_t)c * n;
        if (c > 0)
            memcpy(zc, zc - n, sizeof(float) * (size_t)n);
        s = ggdm_sd_sched_step(&cfg, &st, ac, (const float *)eps.data + (size_t)c * n, zc);
        if (s != GGDM_OK) {
            fprintf(stderr, "ggdm sd-sched: call %d: %s\n", c, ggdm_status_str(s));
            goto done;
        }
    }
    shape[0] = (uint64_t)calls;
    shape[1] = n;
    if (!save(out, GGDM_DT_F32, 2, shape, lat))
        goto done;
    shape[0] = (uint64_t)cfg.num_train_timesteps;
    if (tabp && !save(tabp, GGDM_DT_F32, 1, shape, ac))
        goto done;
    shape[0] = (uint64_t)calls;
    if (tsp && !save(tsp, GGDM_DT_I64, 1, shape, ts))
        goto done;
    rc = 0;
done:
    free(ac);
    free(ts);
    free(lat);
    free(buf);
    ggdm_array_free(&z);
    ggdm_array_free(&eps);
    return rc;
}
