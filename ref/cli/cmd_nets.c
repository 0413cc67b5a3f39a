/*
 * The image experiment's networks on the command line, one call each, for the interop tests
 * and for localising discrepancies (docs/cli.md, "Stable Diffusion's networks"):
 *
 *   ggdm reward-init   a random reward model (ResNet-18 + 1-output head), torchvision's names
 *   ggdm reward        the reward of images and its input gradient
 *   ggdm clip-encode   the text encoder's last hidden state from token ids
 *   ggdm unet2d        the UNet's noise prediction and its input VJP
 *
 * Arrays are NumPy files in the layouts of PyTorch: images [N, 3, H, W], token ids [N, L]
 * (int64 or int32 values in float64? no: integers, .npy '<i8'), hidden states [N, L, D] (the
 * ggdm_sdcli_transpose of ggdm's channel-first tokens, done here), latents [N, 4, H, W], steps [N] int64.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cmds.h"
#include "ggdm/clip.h"
#include "ggdm/clip_tok.h"
#include "ggdm/resnet.h"
#include "ggdm/unet2d.h"
#include "io.h"
#include "model_dir.h"
#include "netio.h"
#include "pool.h"
#include "sdcli.h"

#define ERRCAP 512

/* ------------------------------------------------------------------ shared pieces */

/* Tensors of transformers' and torchvision's files that are not parameters. */
const char *const ggdm_sdcli_nets_ignore[] = {"*num_batches_tracked", "text_model.embeddings.position_ids", NULL};

static float *load_weights(const char *cmd, const char *path, const ggdm_param_table *t)
{
    ggdm_load_opts o;
    memset(&o, 0, sizeof o);
    o.ignore = ggdm_sdcli_nets_ignore;
    return ggdm_netio_load_path(cmd, path, t, &o, NULL);
}

/* [N, A, B] <-> [N, B, A] */
void ggdm_sdcli_transpose(float *dst, const float *src, uint64_t N, uint64_t A, uint64_t B)
{
    uint64_t n, a, b;
    for (n = 0; n < N; n++)
        for (a = 0; a < A; a++)
            for (b = 0; b < B; b++)
                dst[(n * B + b) * A + a] = src[(n * A + a) * B + b];
}

/* ------------------------------------------------------------------ reward-init, reward */

/* The reward model's configuration from its weight file's shapes: stages' block counts from
 * the layerK.B names, width from conv1, outputs from fc. */
int ggdm_sdcli_reward_cfg(const char *cmd, const char *path, ggdm_resnet_cfg *cfg)
{
    ggdm_weight_set set;
    char err[ERRCAP], name[64];
    const ggdm_wentry *e;
    int s, b;
    ggdm_resnet_cfg_default(cfg);
    if (ggdm_cli_wset_open(&set, path, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", cmd, err);
        return 0;
    }
    e = ggdm_cli_wset_find(&set, "conv1.weight");
    if (e) {
        const ggdm_st_tensor *t = &set.files[e->file].tensors[e->tensor];
        if (t->ndim == 4)
            cfg->width = (int)t->shape[0];
    }
    e = ggdm_cli_wset_find(&set, "fc.weight");
    if (e) {
        const ggdm_st_tensor *t = &set.files[e->file].tensors[e->tensor];
        if (t->ndim == 2)
            cfg->n_out = (int)t->shape[0];
    }
    for (s = 0; s < 4; s++) {
        for (b = 0; b < 64; b++) {
            snprintf(name, sizeof name, "layer%d.%d.conv1.weight", s + 1, b);
            if (!ggdm_cli_wset_find(&set, name))
                break;
        }
        if (b > 0)
            cfg->layers[s] = b;
    }
    ggdm_cli_wset_close(&set);
    return 1;
}

int ggdm_cmd_reward_init(int argc, char **argv)
{
    const char *val, *out = NULL;
    long long seed = 0;
    int i, r, rc = 1;
    ggdm_resnet_cfg cfg;
    ggdm_param_table t, view;
    ggdm_netio_stored_table stt;
    float *params = NULL;
    char err[ERRCAP];
    ggdm_resnet_cfg_default(&cfg);
    const ggdm_netio_sopt sopts[] = {{"-o", &out}, {NULL, NULL}};
    for (i = 1; i < argc; i++) {
        if (ggdm_is_help(argv[i])) {
            printf("usage: ggdm reward-init [--seed S] [--width 64] [--outputs 1] -o R.safetensors\n"
                   "Writes a random image reward model: torchvision's ResNet-18 (BasicBlocks 2, 2, 2, 2) with a\n"
                   "Linear(512, outputs) head under torchvision's state-dict names (BatchNorm running statistics\n"
                   "included, num_batches_tracked not), float32, as `ggdm reward` and\n"
                   "torchvision.models.resnet18(num_classes=outputs).load_state_dict read it. Weights uniform\n"
                   "in +-1/sqrt(fan_in) from ggdm's random streams (seed S), BatchNorm weight 1, bias 0,\n"
                   "running mean 0, running variance 1.\n");
            return 0;
        }
        if ((r = ggdm_netio_opt(argc, argv, &i, sopts)) != 0) {
            if (r < 0) return 2;
        } else if ((r = ggdm_opt(argc, argv, &i, "--seed", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int("reward-init", "--seed", val, 0, (1LL << 62), &seed)) return 2;
        } else if ((r = ggdm_opt(argc, argv, &i, "--width", &val)) != 0) {
            long long v;
            if (r < 0 || !ggdm_opt_int("reward-init", "--width", val, 1, 4096, &v)) return 2;
            cfg.width = (int)v;
        } else if ((r = ggdm_opt(argc, argv, &i, "--outputs", &val)) != 0) {
            long long v;
            if (r < 0 || !ggdm_opt_int("reward-init", "--outputs", val, 1, 65536, &v)) return 2;
            cfg.n_out = (int)v;
        } else {
            fprintf(stderr, "ggdm reward-init: unknown option '%s' (see ggdm reward-init --help)\n", argv[i]);
            return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "ggdm reward-init: -o R.safetensors is required (see ggdm reward-init --help)\n");
        return 2;
    }
    if (ggdm_resnet_table(&cfg, &t) != GGDM_OK || !ggdm_netio_stored(&t, &stt, &view)) {
        fprintf(stderr, "ggdm reward-init: bad configuration\n");
        return 2;
    }
    params = (float *)malloc((size_t)t.n_params * sizeof(float));
    if (!params || ggdm_resnet_init(&cfg, (uint64_t)seed, params, t.n_params) != GGDM_OK) {
        fprintf(stderr, "ggdm reward-init: out of memory\n");
        goto done;
    }
    if (ggdm_cli_params_save_file(out, &view, params, GGDM_ST_F32, NULL, 0, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm reward-init: %s\n", err);
        goto done;
    }
    rc = 0;
done:
    free(params);
    return rc;
}

int ggdm_cmd_reward(int argc, char **argv)
{
    const char *val, *wp = NULL, *xp = NULL, *out = NULL, *drp = NULL, *gp = NULL;
    long long threads = 0;
    int i, r, rc = 1, N, H, W, aa = 1;
    ggdm_resnet_cfg cfg;
    ggdm_param_table t;
    ggdm_array x, dr;
    float *params = NULL, *rv = NULL, *dx = NULL, *ones = NULL;
    void *ws = NULL;
    size_t wsb = 0;
    char err[ERRCAP];
    ggdm_status st;
    memset(&x, 0, sizeof x);
    memset(&dr, 0, sizeof dr);
    const ggdm_netio_sopt sopts[] = {{"--reward", &wp}, {"--x", &xp}, {"-o", &out}, {"--dr", &drp}, {"--grad", &gp},
                                     {NULL, NULL}};
    for (i = 1; i < argc; i++) {
        if (ggdm_is_help(argv[i])) {
            printf("usage: ggdm reward --reward R.safetensors --x X.npy [-o R.npy] [--grad DX.npy [--dr DR.npy]]\n"
                   "                   [--no-antialias] [--threads N]\n"
                   "The paper's image reward of images X [N, 3, H, W] in [-1, 1] (float32):\n"
                   "  r = resnet18(Normalize(CLIP mean, std)(Resize(224)(((x + 1) / 2).clamp(0, 1))))\n"
                   "with the reward model R (torchvision names; its layers and head from the file's shapes).\n"
                   "-o writes r [N, outputs]; --grad writes dx = d<dr, r>/dx [N, 3, H, W] (dr [N, outputs]\n"
                   "from --dr, ones without it). Resize is torchvision's bilinear with antialias (torchvision\n"
                   ">= 0.17's default on tensors); --no-antialias gives older torchvision's.\n");
            return 0;
        }
        if ((r = ggdm_netio_opt(argc, argv, &i, sopts)) != 0) {
            if (r < 0) return 2;
        } else if (strcmp(argv[i], "--no-antialias") == 0) {
            aa = 0;
        } else if ((r = ggdm_opt(argc, argv, &i, "--threads", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int("reward", "--threads", val, 1, 1024, &threads)) return 2;
        } else {
            fprintf(stderr, "ggdm reward: unknown option '%s' (see ggdm reward --help)\n", argv[i]);
            return 2;
        }
    }
    if (!wp || !xp || (!out && !gp)) {
        fprintf(stderr, "ggdm reward: --reward, --x and -o or --grad are required (see ggdm reward --help)\n");
        return 2;
    }
    if (drp && !gp) {
        fprintf(stderr, "ggdm reward: --dr needs --grad\n");
        return 2;
    }
    if (!ggdm_sdcli_reward_cfg("reward", wp, &cfg))
        return 1;
    cfg.antialias = aa;
    if (ggdm_resnet_cfg_check(&cfg, err) != GGDM_OK || ggdm_resnet_table(&cfg, &t) != GGDM_OK) {
        fprintf(stderr, "ggdm reward: %s: %s\n", wp, err);
        return 1;
    }
    if (!ggdm_netio_load_f32("reward", "--x", xp, 4, &x))
        goto done;
    if (x.shape[1] != 3 || x.shape[0] < 1 || x.shape[0] > 4096 || x.shape[2] > 16384 || x.shape[3] > 16384 ||
        x.shape[2] < 1 || x.shape[3] < 1) {
        fprintf(stderr, "ggdm reward: --x %s must be [N, 3, H, W] images\n", xp);
        goto done;
    }
    N = (int)x.shape[0];
    H = (int)x.shape[2];
    W = (int)x.shape[3];
    if (drp) {
        if (!ggdm_netio_load_f32("reward", "--dr", drp, 2, &dr))
            goto done;
        if (dr.shape[0] != (uint64_t)N || dr.shape[1] != (uint64_t)cfg.n_out) {
            fprintf(stderr, "ggdm reward: --dr %s must be [%d, %d]\n", drp, N, cfg.n_out);
            goto done;
        }
    }
    params = load_weights("reward", wp, &t);
    if (!params || ggdm_resnet_derive(&cfg, params, t.n_params) != GGDM_OK)
        goto done;
    st = ggdm_resnet_workspace_bytes(&cfg, N, H, W, gp != NULL, ggdm_cli_exec((int)threads), &wsb);
    if (st != GGDM_OK) {
        fprintf(stderr, "ggdm reward: %s images of %d x %d: %s\n", xp, H, W, ggdm_status_str(st));
        goto done;
    }
    ws = ggdm_netio_alloc_ws("reward", wsb);
    rv = (float *)calloc((size_t)N * (size_t)cfg.n_out, sizeof(float));
    if (!ws || !rv)
        goto done;
    if (gp) {
        dx = (float *)calloc((size_t)x.count, sizeof(float));
        ones = (float *)malloc((size_t)N * (size_t)cfg.n_out * sizeof(float));
        if (!dx || !ones)
            goto done;
        for (i = 0; i < N * cfg.n_out; i++)
            ones[i] = 1.0f;
        st = ggdm_resnet_vjp(&cfg, params, N, H, W, (const float *)x.data, drp ? (const float *)dr.data : ones, rv, dx,
                             ws, wsb, ggdm_cli_exec((int)threads));
    } else {
        st = ggdm_resnet_forward(&cfg, params, N, H, W, (const float *)x.data, rv, ws, wsb, NULL, NULL,
                                 ggdm_cli_exec((int)threads));
    }
    if (st != GGDM_OK) {
        fprintf(stderr, "ggdm reward: %s\n", ggdm_status_str(st));
        goto done;
    }
    {
        uint64_t rs[2];
        rs[0] = (uint64_t)N;
        rs[1] = (uint64_t)cfg.n_out;
        if (out && !ggdm_netio_save_f32("reward", out, 2, rs, rv))
            goto done;
        if (gp && !ggdm_netio_save_f32("reward", gp, 4, x.shape, dx))
            goto done;
    }
    rc = 0;
done:
    ggdm_array_free(&x);
    ggdm_array_free(&dr);
    free(params);
    free(rv);
    free(dx);
    free(ones);
    free(ws);
    return rc;
}

/* ------------------------------------------------------------------ clip-encode */

int ggdm_sdcli_clip_cfg(const char *cmd, const char *path, ggdm_clip_cfg *c)
{
    ggdm_cli_cfg f;
    char err[ERRCAP], msg[GGDM_CLIP_MSG_LEN];
    long long v[6];
    double eps;
    const char *act;
    ggdm_clip_cfg_sd15(c);
    if (ggdm_cli_cfg_load(&f, path, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", cmd, err);
        return 0;
    }
    if (ggdm_cli_cfg_int_or(&f, "vocab_size", 49408, &v[0], err, sizeof err) != GGDM_OK ||
        ggdm_cli_cfg_int_or(&f, "hidden_size", 512, &v[1], err, sizeof err) != GGDM_OK ||
        ggdm_cli_cfg_int_or(&f, "intermediate_size", 2048, &v[2], err, sizeof err) != GGDM_OK ||
        ggdm_cli_cfg_int_or(&f, "num_hidden_layers", 12, &v[3], err, sizeof err) != GGDM_OK ||
        ggdm_cli_cfg_int_or(&f, "num_attention_heads", 8, &v[4], err, sizeof err) != GGDM_OK ||
        ggdm_cli_cfg_int_or(&f, "max_position_embeddings", 77, &v[5], err, sizeof err) != GGDM_OK ||
        ggdm_cli_cfg_float_or(&f, "layer_norm_eps", 1e-5, &eps, err, sizeof err) != GGDM_OK ||
        ggdm_cli_cfg_str_or(&f, "hidden_act", "quick_gelu", &act, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", cmd, err);
        ggdm_cli_cfg_free(&f);
        return 0;
    }
    if (strcmp(act, "quick_gelu") != 0) {
        fprintf(stderr, "ggdm %s: %s: hidden_act '%s': ggdm's text encoder runs quick_gelu only\n", cmd, path, act);
        ggdm_cli_cfg_free(&f);
        return 0;
    }
    ggdm_cli_cfg_free(&f);
    for (int i = 0; i < 6; i++)
        if (v[i] < 1 || v[i] > (1 << 24)) {
            fprintf(stderr, "ggdm %s: %s: a size is out of range\n", cmd, path);
            return 0;
        }
    c->vocab_size = (int)v[0];
    c->hidden_size = (int)v[1];
    c->intermediate_size = (int)v[2];
    c->num_hidden_layers = (int)v[3];
    c->num_attention_heads = (int)v[4];
    c->max_position_embeddings = (int)v[5];
    c->layer_norm_eps = (float)eps;
    if (ggdm_clip_cfg_check(c, msg) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s: %s\n", cmd, path, msg);
        return 0;
    }
    return 1;
}

/* The prompts' ids [n, L] (L = max_len), as the SD pipeline's tokenizer call gives them
 * (padding="max_length", truncation=True): into ids. */
int ggdm_sdcli_tokenize(const char *cmd, const char *tdir, const char *const *prompts, int n, int max_len,
                            int32_t *ids)
{
    void *arena = NULL, *work = NULL;
    const ggdm_clip_tok *tok;
    uint64_t wb = 0, got;
    int k, ok = 1;
    if (!ggdm_netio_tok_open(cmd, tdir, &arena, &tok))
        return 0;
    for (k = 0; ok && k < n; k++) {
        uint64_t len = strlen(prompts[k]);
        ok = ggdm_clip_tok_work_bytes(len, &wb) == GGDM_OK && (work = malloc((size_t)wb)) != NULL &&
             ggdm_clip_tok_encode(tok, prompts[k], len, work, wb, (uint32_t)max_len, ids + (size_t)k * max_len,
                                  (uint64_t)max_len, &got) == GGDM_OK;
        if (!ok)
            fprintf(stderr, "ggdm %s: --prompt '%.40s': cannot tokenize it (too long?)\n", cmd, prompts[k]);
        free(work);
        work = NULL;
    }
    free(arena);
    return ok;
}

int ggdm_cmd_clip_encode(int argc, char **argv)
{
    const char *val, *wp = NULL, *cp = NULL, *ip = NULL, *out = NULL, *model = NULL, *variant = NULL, *tdir = NULL;
    const char **prompts = NULL;
    long long threads = 0;
    int i, r, rc = 1, N, L, np = 0;
    ggdm_clip_cfg cfg;
    ggdm_param_table t;
    ggdm_array ids;
    ggdm_model_dir md;
    int32_t *id32 = NULL;
    float *params = NULL, *h = NULL, *ht = NULL;
    void *ws = NULL;
    size_t wsb = 0;
    char err[ERRCAP], cbuf[4096], tbuf[4096];
    ggdm_status st;
    ggdm_load_opts o;
    const ggdm_netio_sopt sopts[] = {{"--weights", &wp}, {"--config", &cp},       {"--ids", &ip},
                                     {"-o", &out},       {"--model", &model},     {"--variant", &variant},
                                     {"--tokenizer", &tdir}, {NULL, NULL}};
    memset(&ids, 0, sizeof ids);
    memset(&md, 0, sizeof md);
    for (i = 1; i < argc; i++) {
        if (ggdm_is_help(argv[i])) {
            printf("usage: ggdm clip-encode (--weights W.safetensors --config config.json | --model DIR [--variant V])\n"
                   "                        (--ids IDS.npy | --prompt TEXT... [--tokenizer DIR]) -o H.npy\n"
                   "                        [--threads N]\n"
                   "Stable Diffusion's text encoder (transformers' CLIPTextModel): the last hidden state\n"
                   "H [N, L, hidden] (float32) of token ids IDS [N, L] (int64), with the configuration of a\n"
                   "transformers config.json (hidden_size, intermediate_size, num_hidden_layers,\n"
                   "num_attention_heads, max_position_embeddings, vocab_size, layer_norm_eps; quick_gelu).\n"
                   "  --model DIR     a diffusers pipeline folder: text_encoder/config.json and its weights\n"
                   "                  (model[.V].safetensors or its sharded index; --variant fp16)\n"
                   "  --prompt TEXT   (repeatable) instead of --ids: N prompts tokenized as the SD pipeline\n"
                   "                  does (BOS, tokens, EOS, EOS padding to max_position_embeddings) with\n"
                   "                  --model's tokenizer/ or --tokenizer DIR\n");
            free(prompts);
            return 0;
        }
        if ((r = ggdm_netio_opt(argc, argv, &i, sopts)) != 0) {
            if (r < 0) goto usage;
        } else if ((r = ggdm_opt(argc, argv, &i, "--prompt", &val)) != 0) {
            if (r < 0) goto usage;
            if (!prompts && !(prompts = (const char **)malloc(sizeof(char *) * (size_t)argc))) {
                fprintf(stderr, "ggdm clip-encode: out of memory\n");
                return 1;
            }
            prompts[np++] = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--threads", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int("clip-encode", "--threads", val, 1, 1024, &threads)) goto usage;
        } else {
            fprintf(stderr, "ggdm clip-encode: unknown option '%s' (see ggdm clip-encode --help)\n", argv[i]);
            goto usage;
        }
    }
    if ((!model && (!wp || !cp)) || (!ip == !np) || !out || (np && !model && !tdir) || (variant && !model) ||
        (tdir && !np)) {
        fprintf(stderr, "ggdm clip-encode: %s (see ggdm clip-encode --help)\n",
                !model && (!wp || !cp) ? "--weights and --config (or --model DIR) are required"
                : !ip == !np           ? "give --ids IDS.npy or --prompt TEXT (one of them)"
                : !out                 ? "-o H.npy is required"
                : np && !model && !tdir ? "--prompt needs a tokenizer: --model DIR or --tokenizer DIR"
                : variant && !model    ? "--variant goes with --model"
                                       : "--tokenizer goes with --prompt");
        goto usage;
    }
    r = ggdm_netio_model("clip-encode", model, "text_encoder", &cp, wp, &md, cbuf, sizeof cbuf);
    if (r <= 0) {
        free(prompts);
        return r < 0 ? 2 : 1;
    }
    if (!ggdm_sdcli_clip_cfg("clip-encode", cp, &cfg) || ggdm_clip_table(&cfg, &t) != GGDM_OK)
        goto done;
    if (np) {
        if (!tdir) {
            if (ggdm_cli_model_path(&md, "tokenizer", NULL, tbuf, sizeof tbuf, err, sizeof err) != GGDM_OK) {
                fprintf(stderr, "ggdm clip-encode: --model %s\n", err);
                goto done;
            }
            tdir = tbuf;
        }
        N = np;
        L = cfg.max_position_embeddings;
        id32 = (int32_t *)malloc((size_t)N * (size_t)L * sizeof *id32);
        if (!id32 || !ggdm_sdcli_tokenize("clip-encode", tdir, prompts, N, L, id32))
            goto done;
        for (i = 0; i < N * L; i++)
            if (id32[i] >= cfg.vocab_size) {
                fprintf(stderr, "ggdm clip-encode: %s: token id %d is not in the text encoder's vocabulary (0 .. %d)\n",
                        tdir, (int)id32[i], cfg.vocab_size - 1);
                goto done;
            }
    } else {
        if (ggdm_io_load_npy(ip, &ids, err, sizeof err) != GGDM_OK) {
            fprintf(stderr, "ggdm clip-encode: --ids %s\n", err);
            goto done;
        }
        if (ids.dtype != GGDM_DT_I64 || ids.ndim != 2 || ids.shape[0] < 1 || ids.shape[0] > 4096 ||
            ids.shape[1] < 1 || ids.shape[1] > (uint64_t)cfg.max_position_embeddings) {
            fprintf(stderr, "ggdm clip-encode: --ids %s must be int64 [N, L] with 1 <= L <= %d\n", ip,
                    cfg.max_position_embeddings);
            goto done;
        }
        N = (int)ids.shape[0];
        L = (int)ids.shape[1];
        id32 = (int32_t *)malloc((size_t)ids.count * sizeof *id32);
        if (!id32)
            goto done;
        for (i = 0; i < (int)ids.count; i++) {
            int64_t v = ((const int64_t *)ids.data)[i];
            if (v < 0 || v >= cfg.vocab_size) {
                fprintf(stderr, "ggdm clip-encode: --ids %s: id %lld at %d is not in the vocabulary (0 .. %d)\n", ip,
                        (long long)v, i, cfg.vocab_size - 1);
                goto done;
            }
            id32[i] = (int32_t)v;
        }
    }
    memset(&o, 0, sizeof o);
    o.ignore = ggdm_sdcli_nets_ignore;
    params = ggdm_netio_load("clip-encode", &md, "text_encoder", variant, wp, &t, &o, NULL);
    if (!params)
        goto done;
    st = ggdm_clip_workspace_bytes(&cfg, N, L, ggdm_cli_exec((int)threads), &wsb);
    if (st != GGDM_OK) {
        fprintf(stderr, "ggdm clip-encode: %s\n", ggdm_status_str(st));
        goto done;
    }
    ws = ggdm_netio_alloc_ws("clip-encode", wsb);
    h = (float *)malloc((size_t)N * (size_t)L * (size_t)cfg.hidden_size * sizeof(float));
    ht = (float *)malloc((size_t)N * (size_t)L * (size_t)cfg.hidden_size * sizeof(float));
    if (!ws || !h || !ht)
        goto done;
    st = ggdm_clip_forward(&cfg, params, N, L, id32, h, ws, wsb, NULL, NULL, ggdm_cli_exec((int)threads));
    if (st != GGDM_OK) {
        fprintf(stderr, "ggdm clip-encode: %s\n", ggdm_status_str(st));
        goto done;
    }
    ggdm_sdcli_transpose(ht, h, (uint64_t)N, (uint64_t)cfg.hidden_size, (uint64_t)L);
    {
        uint64_t s[3];
        s[0] = (uint64_t)N;
        s[1] = (uint64_t)L;
        s[2] = (uint64_t)cfg.hidden_size;
        if (!ggdm_netio_save_f32("clip-encode", out, 3, s, ht))
            goto done;
    }
    rc = 0;
done:
    ggdm_cli_model_close(&md);
    ggdm_array_free(&ids);
    free(prompts);
    free(id32);
    free(params);
    free(h);
    free(ht);
    free(ws);
    return rc;
usage:
    free(prompts);
    return 2;
}

/* ------------------------------------------------------------------ unet2d */

int ggdm_sdcli_unet2d_cfg(const char *cmd, const char *path, ggdm_unet2d_cfg *c)
{
    ggdm_cli_cfg f;
    char err[ERRCAP], msg[GGDM_UNET2D_MSG_LEN];
    long long ch[GGDM_UNET2D_MAX_BLOCKS], heads[GGDM_UNET2D_MAX_BLOCKS], v;
    const char *types[GGDM_UNET2D_MAX_BLOCKS], *s;
    double eps;
    int n, nt, i, ok = 0, b;
    memset(c, 0, sizeof *c);
    if (ggdm_cli_cfg_load(&f, path, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", cmd, err);
        return 0;
    }
#define GET(call)                                                                                                     \
    if ((call) != GGDM_OK) {                                                                                          \
        fprintf(stderr, "ggdm %s: %s\n", cmd, err);                                                                   \
        goto out;                                                                                                     \
    }
    GET(ggdm_cli_cfg_ints(&f, "block_out_channels", ch, GGDM_UNET2D_MAX_BLOCKS, &n, err, sizeof err));
    c->n_blocks = n;
    for (i = 0; i < n; i++)
        c->block_out_channels[i] = ch[i] > 0 && ch[i] < (1 << 14) ? (int)ch[i] : 0;
    GET(ggdm_cli_cfg_strs(&f, "down_block_types", types, GGDM_UNET2D_MAX_BLOCKS, &nt, err, sizeof err));
    if (nt != n) {
        fprintf(stderr, "ggdm %s: %s: down_block_types has %d entries, block_out_channels %d\n", cmd, path, nt, n);
        goto out;
    }
    for (i = 0; i < n; i++) {
        if (strcmp(types[i], "CrossAttnDownBlock2D") == 0)
            c->cross_down[i] = 1;
        else if (strcmp(types[i], "DownBlock2D") != 0) {
            fprintf(stderr, "ggdm %s: %s: down block type '%s' is not one ggdm builds\n", cmd, path, types[i]);
            goto out;
        }
    }
    GET(ggdm_cli_cfg_strs(&f, "up_block_types", types, GGDM_UNET2D_MAX_BLOCKS, &nt, err, sizeof err));
    if (nt != n) {
        fprintf(stderr, "ggdm %s: %s: up_block_types has %d entries, block_out_channels %d\n", cmd, path, nt, n);
        goto out;
    }
    for (i = 0; i < n; i++) {
        if (strcmp(types[i], "CrossAttnUpBlock2D") == 0)
            c->cross_up[i] = 1;
        else if (strcmp(types[i], "UpBlock2D") != 0) {
            fprintf(stderr, "ggdm %s: %s: up block type '%s' is not one ggdm builds\n", cmd, path, types[i]);
            goto out;
        }
    }
    /* diffusers: num_attention_heads = num_attention_heads or attention_head_dim (SD v1.5's quirk) */
    if (ggdm_cli_cfg_has(&f, "num_attention_heads")) {
        GET(ggdm_cli_cfg_ints_bcast(&f, "num_attention_heads", n, heads, err, sizeof err));
    } else {
        GET(ggdm_cli_cfg_ints_bcast(&f, "attention_head_dim", n, heads, err, sizeof err));
    }
    for (i = 0; i < n; i++)
        c->heads[i] = heads[i] > 0 && heads[i] < 4096 ? (int)heads[i] : 0;
    GET(ggdm_cli_cfg_int_or(&f, "in_channels", 4, &v, err, sizeof err));
    c->in_channels = v > 0 && v < 4096 ? (int)v : 0;
    GET(ggdm_cli_cfg_int_or(&f, "out_channels", 4, &v, err, sizeof err));
    c->out_channels = v > 0 && v < 4096 ? (int)v : 0;
    GET(ggdm_cli_cfg_int_or(&f, "layers_per_block", 2, &v, err, sizeof err));
    c->layers_per_block = v > 0 && v < 64 ? (int)v : 0;
    GET(ggdm_cli_cfg_int_or(&f, "cross_attention_dim", 1280, &v, err, sizeof err));
    c->cross_attention_dim = v > 0 && v < (1 << 15) ? (int)v : 0;
    GET(ggdm_cli_cfg_int_or(&f, "norm_num_groups", 32, &v, err, sizeof err));
    c->norm_num_groups = v > 0 && v < 4096 ? (int)v : 0;
    GET(ggdm_cli_cfg_float_or(&f, "norm_eps", 1e-5, &eps, err, sizeof err));
    c->norm_eps = (float)eps;
    GET(ggdm_cli_cfg_bool_or(&f, "use_linear_projection", 0, &b, err, sizeof err));
    c->use_linear_projection = b;
    /* what ggdm does not build: refused by name rather than run wrongly */
    GET(ggdm_cli_cfg_bool_or(&f, "flip_sin_to_cos", 1, &b, err, sizeof err));
    if (!b) {
        fprintf(stderr, "ggdm %s: %s: flip_sin_to_cos false is not supported (SD v1.5 has true)\n", cmd, path);
        goto out;
    }
    GET(ggdm_cli_cfg_int_or(&f, "freq_shift", 0, &v, err, sizeof err));
    if (v != 0) {
        fprintf(stderr, "ggdm %s: %s: freq_shift %lld is not supported (SD v1.5 has 0)\n", cmd, path, v);
        goto out;
    }
    GET(ggdm_cli_cfg_str_or(&f, "act_fn", "silu", &s, err, sizeof err));
    if (strcmp(s, "silu") != 0) {
        fprintf(stderr, "ggdm %s: %s: act_fn '%s' is not supported (silu)\n", cmd, path, s);
        goto out;
    }
    GET(ggdm_cli_cfg_int_or(&f, "transformer_layers_per_block", 1, &v, err, sizeof err));
    if (v != 1) {
        fprintf(stderr, "ggdm %s: %s: transformer_layers_per_block %lld is not supported (1)\n", cmd, path, v);
        goto out;
    }
    GET(ggdm_cli_cfg_str_or(&f, "mid_block_type", "UNetMidBlock2DCrossAttn", &s, err, sizeof err));
    if (strcmp(s, "UNetMidBlock2DCrossAttn") != 0) {
        fprintf(stderr, "ggdm %s: %s: mid_block_type '%s' is not supported\n", cmd, path, s);
        goto out;
    }
    if (ggdm_unet2d_cfg_check(c, msg) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s: %s\n", cmd, path, msg);
        goto out;
    }
    ok = 1;
#undef GET
out:
    ggdm_cli_cfg_free(&f);
    return ok;
}

int ggdm_cmd_unet2d(int argc, char **argv)
{
    const char *model = NULL, *variant = NULL;
    ggdm_model_dir md;
    ggdm_load_opts o;
    char cbuf[4096];
    const char *val, *wp = NULL, *cp = NULL, *zp = NULL, *tp = NULL, *ep = NULL, *out = NULL, *dp = NULL, *gp = NULL,
               *trace = NULL;
    long long threads = 0;
    int i, r, rc = 1, N, H, W, Lt, recompute = 0;
    ggdm_unet2d_cfg cfg;
    ggdm_param_table t;
    ggdm_array z, tt, e, de;
    float *params = NULL, *eps = NULL, *dz = NULL, *text = NULL;
    void *ws = NULL, *tmp = NULL;
    size_t wsb = 0, tb = 0;
    char err[ERRCAP];
    ggdm_status st;
    memset(&z, 0, sizeof z);
    memset(&tt, 0, sizeof tt);
    memset(&e, 0, sizeof e);
    memset(&de, 0, sizeof de);
    const ggdm_netio_sopt sopts[] = {{"--weights", &wp}, {"--config", &cp}, {"--z", &zp}, {"--t", &tp},
                                     {"--text", &ep}, {"-o", &out}, {"--deps", &dp}, {"--grad", &gp},
                                     {"--model", &model}, {"--variant", &variant}, {"--trace", &trace},
                                     {NULL, NULL}};
    for (i = 1; i < argc; i++) {
        if (ggdm_is_help(argv[i])) {
            printf("usage: ggdm unet2d (--weights W.safetensors --config config.json | --model DIR [--variant V])\n"
                   "                   --z Z.npy --t T.npy\n"
                   "                   --text E.npy [-o EPS.npy] [--grad DZ.npy --deps DEPS.npy]\n"
                   "                   [--recompute-attention] [--threads N] [--trace DIR]\n"
                   "Stable Diffusion's UNet (diffusers' UNet2DConditionModel): the noise prediction EPS\n"
                   "[N, out, H, W] of latents Z [N, in, H, W] at integer steps T [N] (int64) with text states\n"
                   "E [N, L, cross_attention_dim] (float32, as the text encoder gives them), and with --grad\n"
                   "the input VJP DZ = J(Z)^T DEPS. --recompute-attention: attention VJPs recompute their\n"
                   "weights instead of keeping them (less memory, the same bits). --model DIR: a diffusers\n"
                   "pipeline folder's unet/ (config.json, diffusion_pytorch_model[.V].safetensors or its index).\n"
                   "--trace DIR: the forward's named activations (conv_in, time_embedding, down_blocks.I.J, ...,\n"
                   "up_blocks.I, conv_out) as DIR/NAME.npy in forward order (DIR/index.txt), serially: compare\n"
                   "with ci/interop/trace_diffusers.py's trace of diffusers by `ggdm diff`.\n");
            return 0;
        }
        if ((r = ggdm_netio_opt(argc, argv, &i, sopts)) != 0) {
            if (r < 0) return 2;
        } else if (strcmp(argv[i], "--recompute-attention") == 0) {
            recompute = 1;
        } else if ((r = ggdm_opt(argc, argv, &i, "--threads", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int("unet2d", "--threads", val, 1, 1024, &threads)) return 2;
        } else {
            fprintf(stderr, "ggdm unet2d: unknown option '%s' (see ggdm unet2d --help)\n", argv[i]);
            return 2;
        }
    }
    if ((!model && (!wp || !cp)) || !zp || !tp || !ep || (!out && !gp && !trace) || (!gp != !dp) ||
        (variant && !model) || (trace && gp)) {
        fprintf(stderr, "ggdm unet2d: --weights and --config (or --model, --variant only with it), --z, --t, --text "
                        "and -o (or --grad with --deps, or --trace, not with --grad) are required (see ggdm unet2d "
                        "--help)\n");
        return 2;
    }
    r = ggdm_netio_model("unet2d", model, "unet", &cp, wp, &md, cbuf, sizeof cbuf);
    if (r <= 0)
        return r < 0 ? 2 : 1;
    if (!ggdm_sdcli_unet2d_cfg("unet2d", cp, &cfg) || ggdm_unet2d_table(&cfg, &t) != GGDM_OK) {
        ggdm_cli_model_close(&md);
        return 1;
    }
    cfg.attn_recompute = recompute;
    if (!ggdm_netio_load_f32("unet2d", "--z", zp, 4, &z) || !ggdm_netio_load_f32("unet2d", "--text", ep, 3, &e))
        goto done;
    if (ggdm_io_load_npy(tp, &tt, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm unet2d: --t %s\n", err);
        goto done;
    }
    N = (int)z.shape[0];
    H = (int)z.shape[2];
    W = (int)z.shape[3];
    Lt = (int)e.shape[1];
    if (z.shape[1] != (uint64_t)cfg.in_channels || z.shape[0] > 4096 || z.shape[2] > 16384 || z.shape[3] > 16384) {
        fprintf(stderr, "ggdm unet2d: --z %s must be [N, %d, H, W]\n", zp, cfg.in_channels);
        goto done;
    }
    if (tt.dtype != GGDM_DT_I64 || tt.ndim != 1 || tt.shape[0] != (uint64_t)N) {
        fprintf(stderr, "ggdm unet2d: --t %s must be int64 [%d]\n", tp, N);
        goto done;
    }
    if (e.shape[0] != (uint64_t)N || e.shape[2] != (uint64_t)cfg.cross_attention_dim || e.shape[1] > 16384) {
        fprintf(stderr, "ggdm unet2d: --text %s must be [%d, L, %d]\n", ep, N, cfg.cross_attention_dim);
        goto done;
    }
    if (dp) {
        if (!ggdm_netio_load_f32("unet2d", "--deps", dp, 4, &de))
            goto done;
        if (de.count != (uint64_t)N * (uint64_t)cfg.out_channels * (uint64_t)H * (uint64_t)W) {
            fprintf(stderr, "ggdm unet2d: --deps %s must be [%d, %d, %d, %d]\n", dp, N, cfg.out_channels, H, W);
            goto done;
        }
    }
    st = ggdm_unet2d_sizing_bytes(&cfg, N, H, W, Lt, &tb);
    if (st != GGDM_OK) {
        fprintf(stderr, "ggdm unet2d: latents of %d x %d: %s (H and W must be multiples of 2^(blocks - 1))\n", H, W,
                ggdm_status_str(st));
        goto done;
    }
    tmp = ggdm_netio_alloc_ws("unet2d", tb);
    if (!tmp)
        goto done;
    st = ggdm_unet2d_workspace_bytes(&cfg, N, H, W, Lt, gp != NULL, ggdm_cli_exec((int)threads), tmp, tb, &wsb);
    if (st != GGDM_OK) {
        fprintf(stderr, "ggdm unet2d: %s\n", ggdm_status_str(st));
        goto done;
    }
    memset(&o, 0, sizeof o);
    o.ignore = ggdm_sdcli_nets_ignore;
    params = ggdm_netio_load("unet2d", &md, "unet", variant, wp, &t, &o, NULL);
    ws = params ? ggdm_netio_alloc_ws("unet2d", wsb) : NULL;
    eps = (float *)calloc((size_t)N * (size_t)cfg.out_channels * (size_t)H * (size_t)W, sizeof(float));
    text = (float *)malloc((size_t)e.count * sizeof(float));
    if (gp)
        dz = (float *)calloc((size_t)z.count, sizeof(float));
    if (!params || !ws || !eps || !text || (gp && !dz))
        goto done;
    ggdm_sdcli_transpose(text, (const float *)e.data, (uint64_t)N, (uint64_t)Lt, (uint64_t)cfg.cross_attention_dim);
    if (gp)
        st = ggdm_unet2d_vjp(&cfg, params, N, H, W, Lt, (const float *)z.data, (const int64_t *)tt.data, text,
                             (const float *)de.data, eps, dz, ws, wsb, ggdm_cli_exec((int)threads));
    else if (trace) {
        ggdm_netio_trace tc;
        if (!ggdm_netio_trace_open(&tc, "unet2d", trace))
            goto done;
        st = ggdm_unet2d_forward(&cfg, params, N, H, W, Lt, (const float *)z.data, (const int64_t *)tt.data, text, eps,
                                 ws, wsb, ggdm_netio_trace_write, &tc, ggdm_cli_exec((int)threads));
        if (!ggdm_netio_trace_close(&tc))
            goto done;
    } else
        st = ggdm_unet2d_forward(&cfg, params, N, H, W, Lt, (const float *)z.data, (const int64_t *)tt.data, text, eps,
                                 ws, wsb, NULL, NULL, ggdm_cli_exec((int)threads));
    if (st != GGDM_OK) {
        fprintf(stderr, "ggdm unet2d: %s\n", ggdm_status_str(st));
        goto done;
    }
    {
        uint64_t s[4];
        s[0] = (uint64_t)N;
        s[1] = (uint64_t)cfg.out_channels;
        s[2] = (uint64_t)H;
        s[3] = (uint64_t)W;
        if (out && !ggdm_netio_save_f32("unet2d", out, 4, s, eps))
            goto done;
        if (gp && !ggdm_netio_save_f32("unet2d", gp, 4, z.shape, dz))
            goto done;
    }
    rc = 0;
done:
    ggdm_cli_model_close(&md);
    ggdm_array_free(&z);
    ggdm_array_free(&tt);
    ggdm_array_free(&e);
    ggdm_array_free(&de);
    free(params);
    free(eps);
    free(dz);
    free(text);
    free(ws);
    free(tmp);
    return rc;
}
