/*
 * Stable Diffusion's networks on the command line (docs/vae.md): `ggdm vae-decode`, the VAE
 * decoder's forward pass and input VJP, for the interop tests against diffusers.
 *
 * The configuration comes from a diffusers config.json (model_dir.h's accessors), the weights
 * through netio.h (ggdm_cli_params_load: F32, F16 or BF16, sharded or not, the old attention
 * names of ggdm_cli_alias_vae_attn), or both from a diffusers folder's vae/ (--model).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "args.h"
#include "cmds.h"
#include "ggdm/vae.h"
#include "io.h"
#include "model_dir.h"
#include "netio.h"
#include "pool.h"
#include "sdcli.h"

#define ERRCAP 512

/* ------------------------------------------------------------------ configuration */

static int in_range(const char *path, const char *key, long long v, long long lo, long long hi, int *out)
{
    if (v < lo || v > hi) {
        fprintf(stderr, "ggdm vae-decode: %s: key '%s': %lld is not in %lld .. %lld\n", path, key, v, lo, hi);
        return 0;
    }
    *out = (int)v;
    return 1;
}

/*
 * A diffusers AutoencoderKL config.json -> the decoder's configuration. Keys read:
 * block_out_channels, layers_per_block, latent_channels, out_channels, norm_num_groups,
 * scaling_factor, mid_block_add_attention (default true), act_fn (must be "silu"),
 * up_block_types (each "UpDecoderBlock2D"), _class_name (when present: "AutoencoderKL").
 * Missing keys keep diffusers' defaults for AutoencoderKL. The latent size is not in the file.
 */
int ggdm_sdcli_vae_cfg(const char *path, ggdm_vae_cfg *cfg)
{
    ggdm_cli_cfg f;
    char err[ERRCAP];
    long long ch[GGDM_VAE_MAX_BLOCKS], v[4];
    const char *types[GGDM_VAE_MAX_BLOCKS], *str;
    double sf;
    int n, nt, i, b, ok = 0;
    /* AutoencoderKL's own defaults */
    memset(cfg, 0, sizeof *cfg);
    cfg->n_blocks = 1;
    cfg->block_out_channels[0] = 64;
    if (ggdm_cli_cfg_load(&f, path, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm vae-decode: %s\n", err);
        return 0;
    }
#define GET(call)                                                                                                     \
    if ((call) != GGDM_OK) {                                                                                          \
        fprintf(stderr, "ggdm vae-decode: %s\n", err);                                                                \
        goto out;                                                                                                     \
    }
    GET(ggdm_cli_cfg_str_or(&f, "_class_name", "AutoencoderKL", &str, err, sizeof err));
    if (strcmp(str, "AutoencoderKL") != 0) {
        fprintf(stderr, "ggdm vae-decode: %s: _class_name '%s' is not 'AutoencoderKL'\n", path, str);
        goto out;
    }
    GET(ggdm_cli_cfg_str_or(&f, "act_fn", "silu", &str, err, sizeof err));
    if (strcmp(str, "silu") != 0) {
        fprintf(stderr, "ggdm vae-decode: %s: act_fn '%s' is not supported (silu, the only one ggdm's decoder runs)\n",
                path, str);
        goto out;
    }
    if (ggdm_cli_cfg_has(&f, "block_out_channels")) {
        GET(ggdm_cli_cfg_ints(&f, "block_out_channels", ch, GGDM_VAE_MAX_BLOCKS, &n, err, sizeof err));
        if (n < 1) {
            fprintf(stderr, "ggdm vae-decode: %s: block_out_channels is empty\n", path);
            goto out;
        }
        cfg->n_blocks = n;
        for (i = 0; i < n; i++)
            if (!in_range(path, "block_out_channels", ch[i], 1, 8192, &cfg->block_out_channels[i]))
                goto out;
    }
    if (ggdm_cli_cfg_has(&f, "up_block_types")) {
        GET(ggdm_cli_cfg_strs(&f, "up_block_types", types, GGDM_VAE_MAX_BLOCKS, &nt, err, sizeof err));
        if (nt != cfg->n_blocks) {
            fprintf(stderr, "ggdm vae-decode: %s: up_block_types has %d entries, block_out_channels %d\n", path, nt,
                    cfg->n_blocks);
            goto out;
        }
        for (i = 0; i < nt; i++)
            if (strcmp(types[i], "UpDecoderBlock2D") != 0) {
                fprintf(stderr, "ggdm vae-decode: %s: up block type '%s' is not one ggdm builds (UpDecoderBlock2D)\n",
                        path, types[i]);
                goto out;
            }
    }
    GET(ggdm_cli_cfg_int_or(&f, "layers_per_block", 1, &v[0], err, sizeof err));
    GET(ggdm_cli_cfg_int_or(&f, "latent_channels", 4, &v[1], err, sizeof err));
    GET(ggdm_cli_cfg_int_or(&f, "out_channels", 3, &v[2], err, sizeof err));
    GET(ggdm_cli_cfg_int_or(&f, "norm_num_groups", 32, &v[3], err, sizeof err));
    GET(ggdm_cli_cfg_float_or(&f, "scaling_factor", 0.18215, &sf, err, sizeof err));
    GET(ggdm_cli_cfg_bool_or(&f, "mid_block_add_attention", 1, &b, err, sizeof err));
#undef GET
    if (!in_range(path, "layers_per_block", v[0], 0, GGDM_VAE_MAX_LAYERS, &cfg->layers_per_block) ||
        !in_range(path, "latent_channels", v[1], 1, 1024, &cfg->latent_channels) ||
        !in_range(path, "out_channels", v[2], 1, 1024, &cfg->out_channels) ||
        !in_range(path, "norm_num_groups", v[3], 1, 8192, &cfg->norm_num_groups))
        goto out;
    if (!(sf > 0 && sf < 1e30)) {
        fprintf(stderr, "ggdm vae-decode: %s: key 'scaling_factor' must be a positive number\n", path);
        goto out;
    }
    cfg->scaling_factor = (float)sf;
    cfg->mid_attention = b;
    ok = 1;
out:
    ggdm_cli_cfg_free(&f);
    return ok;
}

/* Comma-separated name prefixes -> NULL-terminated "PREFIX*" patterns for ggdm_load_opts
 * (at most cap - 1; each at most 127 characters). 0 when there are too many. */
static int ignore_patterns(const char *list, char (*buf)[128], const char **pat, int cap)
{
    int n = 0;
    const char *p = list;
    while (p && *p) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        if (l) {
            if (n >= cap - 1 || l > 125)
                return 0;
            memcpy(buf[n], p, l);
            buf[n][l] = '*';
            buf[n][l + 1] = 0;
            pat[n] = buf[n];
            n++;
        }
        p = c ? c + 1 : NULL;
    }
    pat[n] = NULL;
    return 1;
}

/* ------------------------------------------------------------------ ggdm vae-decode */

static const char *const vae_help =
    "usage: ggdm vae-decode ((--config config.json | --tiny | --sd15) (--weights W.safetensors | --init-seed S)\n"
    "                       | --model DIR [--variant V])\n"
    "                       --z Z.npy -o X.npy [--vjp DX.npy --o-grad DZ.npy] [--prefix P] [--ignore PREFIXES]\n"
    "                       [--attn keep|recompute] [--threads N] [--trace DIR] [--time]\n"
    "Stable Diffusion's VAE decoder (diffusers AutoencoderKL's decode path, docs/vae.md):\n"
    "  X = decoder(post_quant_conv(Z / scaling_factor))   (diffusers: vae.decode(Z / sf).sample)\n"
    "Z: float32 (N, latent_channels, H, W) latents as the pipeline holds them; X: float32\n"
    "(N, out_channels, H * 2^(blocks-1), W * 2^(blocks-1)), not clamped.\n"
    "  --config F      a diffusers config.json (vae/config.json): block_out_channels, layers_per_block,\n"
    "                  latent_channels, out_channels, norm_num_groups, scaling_factor, ...\n"
    "  --tiny, --sd15  built-in configurations (block_out_channels (32, 64), groups 8, 1 layer; SD v1.5)\n"
    "  --model DIR     a diffusers pipeline folder: vae/config.json and vae/diffusion_pytorch_model[.V]\n"
    "                  .safetensors (or its sharded index; --variant fp16)\n"
    "  --weights W     safetensors, diffusers' names (decoder.*, post_quant_conv.*; F32, F16 or BF16, or a\n"
    "                  sharded *.safetensors.index.json; old attention names query/key/value/proj_attn); tensors of\n"
    "                  the encoder path (encoder.*, quant_conv.*) are skipped, any other is an error\n"
    "  --prefix P      the names carry the prefix P (e.g. 'vae.' in a whole-pipeline file; others skipped)\n"
    "  --ignore L      comma-separated name prefixes to skip (default encoder.,quant_conv.)\n"
    "  --init-seed S   instead of --weights: ggdm's deterministic initialisation (ggdm_vae_init)\n"
    "  --vjp DX.npy    also the input VJP: DZ = J_X(Z)^T DX per sample, written to --o-grad (or -o-grad)\n"
    "  --attn K        the mid attention's cache: keep (the weights, default) or recompute (O(HW) memory)\n"
    "  --trace DIR     every named activation as DIR/NAME.npy, their order in DIR/index.txt (serial)\n"
    "  --time          print the workspace size and the run's wall time to stderr\n";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int ggdm_cmd_vae_decode(int argc, char **argv)
{
    const char *cmd = "vae-decode", *val, *cfgp = NULL, *wp = NULL, *zp = NULL, *out = NULL, *dxp = NULL,
               *dzp = NULL, *prefix = NULL, *ignore = "encoder.,quant_conv.", *trace = NULL, *attn = "keep", *model = NULL,
               *variant = NULL;
    ggdm_model_dir md;
    char cbuf[4096];
    int i, r, preset = 0, timing = 0, have_seed = 0, rc = 1, N, oh, ow;
    long long threads = 0, seed = 0;
    ggdm_vae_cfg cfg;
    ggdm_param_table tab;
    ggdm_array z, dx;
    float *params = NULL, *x0 = NULL, *dz = NULL;
    void *ws = NULL;
    size_t wsb = 0;
    char err[ERRCAP], msg[GGDM_VAE_MSG_LEN];
    ggdm_status st;
    const ggdm_exec *ex;
    double t0;
    memset(&z, 0, sizeof z);
    memset(&dx, 0, sizeof dx);
    const ggdm_netio_sopt sopts[] = {{"--config", &cfgp}, {"--weights", &wp}, {"-w", &wp}, {"--z", &zp}, {"-o", &out},
                                     {"--vjp", &dxp}, {"--o-grad", &dzp}, {"-o-grad", &dzp}, {"--prefix", &prefix},
                                     {"--ignore", &ignore}, {"--trace", &trace}, {"--attn", &attn}, {"--model", &model},
                                     {"--variant", &variant}, {NULL, NULL}};
    for (i = 1; i < argc; i++) {
        if (ggdm_is_help(argv[i])) {
            fputs(vae_help, stdout);
            return 0;
        }
        if ((r = ggdm_netio_opt(argc, argv, &i, sopts)) != 0) {
            if (r < 0) return 2;
        } else if (strcmp(argv[i], "--tiny") == 0 || strcmp(argv[i], "--sd15") == 0) {
            preset = argv[i][2] == 't' ? 1 : 2;
        } else if (strcmp(argv[i], "--time") == 0) {
            timing = 1;
        } else if ((r = ggdm_opt(argc, argv, &i, "--init-seed", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int(cmd, "--init-seed", val, 0, 0x7FFFFFFFFFFFFFFFll, &seed)) return 2;
            have_seed = 1;
        } else if ((r = ggdm_opt(argc, argv, &i, "--threads", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int(cmd, "--threads", val, 1, 1024, &threads)) return 2;
        } else {
            fprintf(stderr, "ggdm %s: unknown option '%s' (see ggdm %s --help)\n", cmd, argv[i], cmd);
            return 2;
        }
    }
    if (model && (cfgp || preset || wp || have_seed || prefix)) {
        fprintf(stderr, "ggdm %s: --model reads the configuration and the weights: give none of --config, --tiny, "
                        "--sd15, --weights, --init-seed, --prefix with it\n", cmd);
        return 2;
    }
    if (variant && !model) {
        fprintf(stderr, "ggdm %s: --variant goes with --model\n", cmd);
        return 2;
    }
    if (model)
        cfgp = wp = model; /* for the checks below; set from the folder after them */
    if (!zp || !out || (!cfgp && !preset) || (cfgp && preset) || (!wp && !have_seed) || (wp && have_seed) ||
        (!dxp != !dzp) || (strcmp(attn, "keep") != 0 && strcmp(attn, "recompute") != 0)) {
        fprintf(stderr, "ggdm %s: %s (see ggdm %s --help)\n", cmd,
                !zp                       ? "--z Z.npy is required"
                : !out                    ? "-o X.npy is required"
                : !cfgp && !preset        ? "a configuration is required: --config config.json, --tiny or --sd15"
                : cfgp && preset          ? "give either --config or a built-in configuration, not both"
                : !wp && !have_seed       ? "--weights W.safetensors (or --init-seed S) is required"
                : wp && have_seed         ? "give either --weights or --init-seed, not both"
                : !dxp != !dzp            ? "--vjp DX.npy and --o-grad DZ.npy go together"
                                          : "--attn must be keep or recompute",
                cmd);
        return 2;
    }
    if (model) {
        cfgp = NULL;
        if (ggdm_netio_model(cmd, model, "vae", &cfgp, NULL, &md, cbuf, sizeof cbuf) <= 0)
            return 1;
    } else {
        memset(&md, 0, sizeof md);
    }
    /* the configuration */
    if (cfgp) {
        if (!ggdm_sdcli_vae_cfg(cfgp, &cfg))
            goto done;
    } else if (preset == 1) {
        ggdm_vae_cfg_tiny(&cfg);
    } else {
        ggdm_vae_cfg_sd15(&cfg);
    }
    cfg.attn_kind = strcmp(attn, "keep") == 0 ? GGDM_ATTN_KEEP : GGDM_ATTN_RECOMPUTE;
    if (!ggdm_netio_load_f32(cmd, "--z", zp, 4, &z))
        goto done;
    if (z.shape[0] > (1u << 20) || z.shape[1] != (uint64_t)cfg.latent_channels || z.shape[2] > (1u << 14) ||
        z.shape[3] > (1u << 14)) {
        fprintf(stderr, "ggdm %s: --z %s has %llu channels; the configuration's latent_channels is %d\n", cmd, zp,
                (unsigned long long)z.shape[1], cfg.latent_channels);
        goto done;
    }
    N = (int)z.shape[0];
    cfg.height = (int)z.shape[2];
    cfg.width = (int)z.shape[3];
    if (ggdm_vae_cfg_check(&cfg, msg) != GGDM_OK || ggdm_vae_params(&cfg, &tab) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", cmd, msg);
        goto done;
    }
    ggdm_vae_out_size(&cfg, &oh, &ow);
    if (dxp) {
        if (!ggdm_netio_load_f32(cmd, "--vjp", dxp, 4, &dx))
            goto done;
        if (dx.shape[0] != (uint64_t)N || dx.shape[1] != (uint64_t)cfg.out_channels || dx.shape[2] != (uint64_t)oh ||
            dx.shape[3] != (uint64_t)ow) {
            fprintf(stderr, "ggdm %s: --vjp %s must be (%d, %d, %d, %d), the output's shape\n", cmd, dxp, N,
                    cfg.out_channels, oh, ow);
            goto done;
        }
    }
    x0 = (float *)malloc(sizeof(float) * (size_t)N * (size_t)cfg.out_channels * (size_t)oh * (size_t)ow);
    dz = dxp ? (float *)malloc(sizeof(float) * (size_t)z.count) : NULL;
    if (!x0 || (dxp && !dz)) {
        fprintf(stderr, "ggdm %s: out of memory\n", cmd);
        goto done;
    }
    if (wp) {
        char pbuf[16][128];
        const char *pat[16];
        ggdm_load_opts o;
        if (!ignore_patterns(ignore, pbuf, pat, 16)) {
            fprintf(stderr, "ggdm %s: --ignore: at most 15 prefixes of at most 125 characters\n", cmd);
            goto done;
        }
        memset(&o, 0, sizeof o);
        o.alias = ggdm_cli_alias_vae_attn;
        o.ignore = pat;
        params = ggdm_netio_load(cmd, &md, "vae", variant, wp, &tab, &o, prefix);
        if (!params)
            goto done;
    } else {
        params = (float *)malloc(sizeof(float) * (size_t)(tab.n_params ? tab.n_params : 1));
        if (!params) {
            fprintf(stderr, "ggdm %s: out of memory\n", cmd);
            goto done;
        }
        ggdm_vae_init(&cfg, (uint64_t)seed, params, tab.n_params);
    }
    ex = ggdm_cli_exec(trace ? 1 : (int)threads);
    st = ggdm_vae_workspace_bytes(&cfg, N, dxp ? 1 : 0, ex, &wsb);
    ws = st == GGDM_OK ? ggdm_io_aligned_alloc(wsb) : NULL;
    if (!ws) {
        fprintf(stderr, "ggdm %s: %s (%.1f MB of workspace for N = %d)\n", cmd,
                st == GGDM_OK ? "cannot allocate the workspace" : ggdm_status_str(st), wsb / 1e6, N);
        goto done;
    }
    t0 = now_s();
    if (trace) {
        ggdm_netio_trace tc;
        if (!ggdm_netio_trace_open(&tc, cmd, trace))
            goto done;
        st = ggdm_vae_decode(&cfg, ex->unet, params, N, (const float *)z.data, x0, ws, wsb, ggdm_netio_trace_write,
                             &tc, ex);
        if (!ggdm_netio_trace_close(&tc))
            goto done;
    } else if (dxp) {
        st = ggdm_vae_decode_vjp(&cfg, ex->unet, params, N, (const float *)z.data, (const float *)dx.data, x0, dz, ws,
                                 wsb, ex);
    } else {
        st = ggdm_vae_decode(&cfg, ex->unet, params, N, (const float *)z.data, x0, ws, wsb, NULL, NULL, ex);
    }
    if (st != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", cmd, ggdm_status_str(st));
        goto done;
    }
    if (timing)
        fprintf(stderr, "ggdm %s: N = %d, latent %d x %d -> %d x %d, %llu parameters, workspace %.1f MB, %s %.3f s\n",
                cmd, N, cfg.height, cfg.width, oh, ow, (unsigned long long)tab.n_params, wsb / 1e6,
                dxp ? "decode + vjp" : "decode", now_s() - t0);
    {
        uint64_t shape[4];
        shape[0] = (uint64_t)N;
        shape[1] = (uint64_t)cfg.out_channels;
        shape[2] = (uint64_t)oh;
        shape[3] = (uint64_t)ow;
        if (ggdm_io_save(out, GGDM_DT_F32, 4, shape, x0, err, sizeof err) != GGDM_OK ||
            (dxp && ggdm_io_save(dzp, GGDM_DT_F32, 4, z.shape, dz, err, sizeof err) != GGDM_OK)) {
            fprintf(stderr, "ggdm %s: %s\n", cmd, err);
            goto done;
        }
    }
    rc = 0;
done:
    ggdm_cli_model_close(&md);
    ggdm_array_free(&z);
    ggdm_array_free(&dx);
    free(params);
    free(x0);
    free(dz);
    free(ws);
    return rc;
}
