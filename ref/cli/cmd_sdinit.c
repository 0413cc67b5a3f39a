/*
 * `ggdm sd-init`: a random Stable Diffusion pipeline folder in diffusers' layout (docs/cli.md,
 * "sd-init"), as StableDiffusionPipeline.from_pretrained (diffusers 0.25.1) loads it:
 *
 *   model_index.json                 StableDiffusionPipeline; safety_checker and
 *                                    feature_extractor [null, null]
 *   unet/config.json + diffusion_pytorch_model.safetensors     ggdm_unet2d_init
 *   vae/config.json + diffusion_pytorch_model.safetensors      AutoencoderKL: the decoder and
 *                                    post_quant_conv from ggdm_vae_init; the encoder and
 *                                    quant_conv (which ggdm does not run) from the walk below
 *   text_encoder/config.json + model.safetensors               CLIPTextModel, ggdm_clip_init
 *   tokenizer/                       the small byte-level BPE tokenizer (sdinit_tok.h)
 *   scheduler/scheduler_config.json  PNDMScheduler with SD v1.5's values
 *
 * Written into DIR.tmp-XXXXXX and renamed to DIR at the end; an existing DIR is refused.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "cmds.h"
#include "ggdm/clip.h"
#include "ggdm/unet2d.h"
#include "ggdm/vae.h"
#include "model_dir.h"
#include "netio.h"
#include "sdinit_tok.h"

#define ERRCAP 512
#define CMD "sd-init"

/* The stream family of the VAE encoder's random weights (ggdm_param_init's net_id): next to
 * param.h's GGDM_NET_ID_* (1 .. 4), so that it shares numbers with none of the networks. */
#define SDINIT_NET_ID_VAE_ENCODER ((uint32_t)GGDM_NET_ID_VAE_ENC)

/* ------------------------------------------------------------------ the VAE encoder */

/*
 * diffusers 0.25.1's AutoencoderKL encoder path (Encoder + quant_conv) for a decoder
 * configuration: conv_in [b0, in, 3, 3]; down block i: layers_per_block ResnetBlock2D
 * (norm1, conv1, norm2, conv2, conv_shortcut when the channels change) and, but for the last
 * block, downsamplers.0.conv [c, c, 3, 3]; mid block: attentions.0 (group_norm, to_q, to_k,
 * to_v, to_out.0, Linear [c, c]) when mid_attention, resnets 0 and 1; conv_norm_out;
 * conv_out [2 latent, c, 3, 3]; quant_conv [2 latent, 2 latent, 1, 1].
 */
#define ENC_MAX 2048
typedef struct enc_table {
    ggdm_param_info t[ENC_MAX];
    int n;
    uint64_t n_params;
    int overflow;
} enc_table;

static void enc_add(enc_table *e, const char *name, const char *suffix, int ndim, uint64_t s0, uint64_t s1,
                    uint64_t k, int init, uint64_t fan_in)
{
    ggdm_param_info *p;
    int d;
    if (e->n >= ENC_MAX) {
        e->overflow = 1;
        return;
    }
    p = &e->t[e->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s.%s", name, suffix);
    p->ndim = ndim;
    p->shape[0] = s0;
    p->shape[1] = s1;
    p->shape[2] = p->shape[3] = k;
    p->count = 1;
    for (d = 0; d < ndim; d++)
        p->count *= p->shape[d];
    p->offset = e->n_params;
    p->init = init;
    p->fan_in = fan_in;
    e->n_params += p->count;
}

/* A convolution (k > 0) or a linear layer (k 0): weight and bias. */
static void enc_conv(enc_table *e, const char *name, int out, int in, int k)
{
    uint64_t fan = (uint64_t)in * (uint64_t)(k ? k * k : 1);
    enc_add(e, name, "weight", k ? 4 : 2, (uint64_t)out, (uint64_t)in, (uint64_t)k, GGDM_PARAM_INIT_UNIFORM, fan);
    enc_add(e, name, "bias", 1, (uint64_t)out, 0, 0, GGDM_PARAM_INIT_UNIFORM, fan);
}

static void enc_norm(enc_table *e, const char *name, int c)
{
    enc_add(e, name, "weight", 1, (uint64_t)c, 0, 0, GGDM_PARAM_INIT_ONES, 0);
    enc_add(e, name, "bias", 1, (uint64_t)c, 0, 0, GGDM_PARAM_INIT_ZEROS, 0);
}

static void enc_resnet(enc_table *e, const char *pre, int in, int out)
{
    char n[GGDM_PARAM_NAME_LEN];
    snprintf(n, sizeof n, "%s.norm1", pre);
    enc_norm(e, n, in);
    snprintf(n, sizeof n, "%s.conv1", pre);
    enc_conv(e, n, out, in, 3);
    snprintf(n, sizeof n, "%s.norm2", pre);
    enc_norm(e, n, out);
    snprintf(n, sizeof n, "%s.conv2", pre);
    enc_conv(e, n, out, out, 3);
    if (in != out) {
        snprintf(n, sizeof n, "%s.conv_shortcut", pre);
        enc_conv(e, n, out, in, 1);
    }
}

static void enc_build(enc_table *e, const ggdm_vae_cfg *c)
{
    char n[GGDM_PARAM_NAME_LEN];
    int i, j, prev = c->block_out_channels[0], last = c->block_out_channels[c->n_blocks - 1];
    static const char *const qkv[4] = {"to_q", "to_k", "to_v", "to_out.0"};
    memset(e, 0, sizeof *e);
    enc_conv(e, "encoder.conv_in", prev, c->out_channels, 3);
    for (i = 0; i < c->n_blocks; i++) {
        int out = c->block_out_channels[i];
        for (j = 0; j < c->layers_per_block; j++) {
            snprintf(n, sizeof n, "encoder.down_blocks.%d.resnets.%d", i, j);
            enc_resnet(e, n, j == 0 ? prev : out, out);
        }
        if (i + 1 < c->n_blocks) {
            snprintf(n, sizeof n, "encoder.down_blocks.%d.downsamplers.0.conv", i);
            enc_conv(e, n, out, out, 3);
        }
        prev = out;
    }
    if (c->mid_attention) {
        enc_norm(e, "encoder.mid_block.attentions.0.group_norm", last);
        for (i = 0; i < 4; i++) {
            snprintf(n, sizeof n, "encoder.mid_block.attentions.0.%s", qkv[i]);
            enc_conv(e, n, last, last, 0);
        }
    }
    enc_resnet(e, "encoder.mid_block.resnets.0", last, last);
    enc_resnet(e, "encoder.mid_block.resnets.1", last, last);
    enc_norm(e, "encoder.conv_norm_out", last);
    enc_conv(e, "encoder.conv_out", 2 * c->latent_channels, last, 3);
    enc_conv(e, "quant_conv", 2 * c->latent_channels, 2 * c->latent_channels, 1);
}

static ggdm_status enc_fn(const void *cfg, int i, ggdm_param_info *info)
{
    const enc_table *e = (const enc_table *)cfg;
    if (i < 0 || i >= e->n)
        return GGDM_ERR_ARG;
    *info = e->t[i];
    return GGDM_OK;
}

/* Two tables as one: b's tensors after a's, b's offsets after a's n_params. */
typedef struct cat_table {
    ggdm_param_table a, b;
} cat_table;

static ggdm_status cat_fn(const void *cfg, int i, ggdm_param_info *info)
{
    const cat_table *c = (const cat_table *)cfg;
    ggdm_status st;
    if (i < c->a.n_tensors)
        return c->a.tensor(c->a.cfg, i, info);
    st = c->b.tensor(c->b.cfg, i - c->a.n_tensors, info);
    if (st == GGDM_OK)
        info->offset += c->a.n_params;
    return st;
}

/* ------------------------------------------------------------------ files */

static int write_text(const char *dir, const char *sub, const char *file, const char *const *pieces, const char *text)
{
    char path[4096];
    FILE *f;
    int ok;
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "ggdm " CMD ": cannot create the folder %s (%s)\n", path, strerror(errno));
        return 0;
    }
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, file);
    f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "ggdm " CMD ": cannot write %s (%s)\n", path, strerror(errno));
        return 0;
    }
    ok = 1;
    if (text)
        ok = fputs(text, f) >= 0;
    for (; ok && pieces && *pieces; pieces++)
        ok = fputs(*pieces, f) >= 0;
    if (fclose(f) != 0 || !ok) {
        fprintf(stderr, "ggdm " CMD ": cannot write %s\n", path);
        return 0;
    }
    return 1;
}

/* A growing text (the configs; they are small). */
typedef struct sbuf {
    char s[8192];
    size_t n;
} sbuf;

static void sb(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int k;
    va_start(ap, fmt);
    k = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
    va_end(ap);
    if (k > 0)
        b->n = b->n + (size_t)k < sizeof b->s ? b->n + (size_t)k : sizeof b->s - 1;
}

/* The shortest decimal that reads back as the float v. */
static void sb_float(sbuf *b, float v)
{
    char t[64];
    int p;
    for (p = 1; p <= 9; p++) {
        snprintf(t, sizeof t, "%.*g", p, (double)v);
        if ((float)strtod(t, NULL) == v)
            break;
    }
    sb(b, "%s", t);
}

static void sb_ints(sbuf *b, const int *v, int n)
{
    int i;
    sb(b, "[");
    for (i = 0; i < n; i++)
        sb(b, "%s%d", i ? ", " : "", v[i]);
    sb(b, "]");
}

static void sb_names(sbuf *b, const char *yes, const char *no, const int *flag, int n)
{
    int i;
    sb(b, "[");
    for (i = 0; i < n; i++)
        sb(b, "%s\"%s\"", i ? ", " : "", flag[i] ? yes : no);
    sb(b, "]");
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* A network's parameters: the table's stored tensors into DIR/SUB/BASE*.safetensors. */
static int save_net(const char *dir, const char *sub, const char *base, const ggdm_param_table *t,
                    const float *params, ggdm_st_dtype dtype, uint64_t shard)
{
    ggdm_netio_stored_table *stt = (ggdm_netio_stored_table *)malloc(sizeof *stt);
    ggdm_param_table view;
    char path[4096], err[ERRCAP];
    int ok = 0;
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    if (!stt || !ggdm_netio_stored(t, stt, &view))
        fprintf(stderr, "ggdm " CMD ": %s: %s\n", sub, stt ? "the parameter table is too large" : "out of memory");
    else if (ggdm_cli_params_save(path, base, NULL, &view, params, dtype, shard, err, sizeof err) != GGDM_OK)
        fprintf(stderr, "ggdm " CMD ": %s\n", err);
    else
        ok = 1;
    free(stt);
    return ok;
}

static float *alloc_params(uint64_t n)
{
    float *p = (float *)calloc((size_t)(n ? n : 1), sizeof(float));
    if (!p)
        fprintf(stderr, "ggdm " CMD ": out of memory for %llu parameters\n", (unsigned long long)n);
    return p;
}

/* ------------------------------------------------------------------ the folder */

typedef struct sd_cfgs {
    ggdm_clip_cfg clip;
    ggdm_unet2d_cfg unet;
    ggdm_vae_cfg vae;
    int sample_size; /* the UNet's latent size: 64 (512 px) for sd15, the VAE's for tiny */
    int projection_dim;
} sd_cfgs;

static int write_index_and_small(const char *d, const sd_cfgs *c, ggdm_st_dtype dtype)
{
    sbuf b;
    int i;
    const char *tdt = dtype == GGDM_ST_F16 ? "float16" : "float32";
    static const char *const special = "{\"bos_token\": \"<|startoftext|>\", \"eos_token\": \"<|endoftext|>\", "
                                       "\"pad_token\": \"<|endoftext|>\", \"unk_token\": \"<|endoftext|>\"}\n";
    static const char *const tokcfg =
        "{\"tokenizer_class\": \"CLIPTokenizer\", \"model_max_length\": 77, \"do_lower_case\": true, "
        "\"errors\": \"replace\", \"add_prefix_space\": false, \"bos_token\": \"<|startoftext|>\", "
        "\"eos_token\": \"<|endoftext|>\", \"pad_token\": \"<|endoftext|>\", \"unk_token\": \"<|endoftext|>\"}\n";
    static const char *const sched =
        "{\"_class_name\": \"PNDMScheduler\", \"_diffusers_version\": \"0.25.1\", \"beta_end\": 0.012, "
        "\"beta_schedule\": \"scaled_linear\", \"beta_start\": 0.00085, \"clip_sample\": false, "
        "\"num_train_timesteps\": 1000, \"prediction_type\": \"epsilon\", \"set_alpha_to_one\": false, "
        "\"skip_prk_steps\": true, \"steps_offset\": 1, \"timestep_spacing\": \"leading\", \"trained_betas\": null}\n";
    static const char *const index =
        "{\"_class_name\": \"StableDiffusionPipeline\", \"_diffusers_version\": \"0.25.1\", "
        "\"feature_extractor\": [null, null], \"requires_safety_checker\": false, \"safety_checker\": [null, null], "
        "\"scheduler\": [\"diffusers\", \"PNDMScheduler\"], \"text_encoder\": [\"transformers\", \"CLIPTextModel\"], "
        "\"tokenizer\": [\"transformers\", \"CLIPTokenizer\"], \"unet\": [\"diffusers\", \"UNet2DConditionModel\"], "
        "\"vae\": [\"diffusers\", \"AutoencoderKL\"]}\n";
    if (!write_text(d, ".", "model_index.json", NULL, index) ||
        !write_text(d, "scheduler", "scheduler_config.json", NULL, sched) ||
        !write_text(d, "tokenizer", "tokenizer_config.json", NULL, tokcfg) ||
        !write_text(d, "tokenizer", "special_tokens_map.json", NULL, special) ||
        !write_text(d, "tokenizer", "vocab.json", sdinit_tok_vocab, NULL) ||
        !write_text(d, "tokenizer", "merges.txt", sdinit_tok_merges, NULL))
        return 0;
    /* text_encoder/config.json (transformers 4.36's CLIPTextConfig; SD v1.5's token ids) */
    b.n = 0;
    sb(&b,
       "{\"architectures\": [\"CLIPTextModel\"], \"model_type\": \"clip_text_model\", \"attention_dropout\": 0.0, "
       "\"bos_token_id\": 0, \"eos_token_id\": 2, \"pad_token_id\": 1, \"dropout\": 0.0, \"hidden_act\": "
       "\"quick_gelu\", \"initializer_factor\": 1.0, \"initializer_range\": 0.02, ");
    sb(&b, "\"hidden_size\": %d, \"intermediate_size\": %d, \"layer_norm_eps\": ", c->clip.hidden_size,
       c->clip.intermediate_size);
    sb_float(&b, c->clip.layer_norm_eps);
    sb(&b,
       ", \"max_position_embeddings\": %d, \"num_attention_heads\": %d, \"num_hidden_layers\": %d, "
       "\"projection_dim\": %d, \"torch_dtype\": \"%s\", \"transformers_version\": \"4.36.2\", \"vocab_size\": %d}\n",
       c->clip.max_position_embeddings, c->clip.num_attention_heads, c->clip.num_hidden_layers, c->projection_dim,
       tdt, c->clip.vocab_size);
    if (!write_text(d, "text_encoder", "config.json", NULL, b.s))
        return 0;
    /* unet/config.json */
    b.n = 0;
    sb(&b, "{\"_class_name\": \"UNet2DConditionModel\", \"_diffusers_version\": \"0.25.1\", \"act_fn\": \"silu\", "
           "\"attention_head_dim\": ");
    for (i = 1; i < c->unet.n_blocks && c->unet.heads[i] == c->unet.heads[0]; i++)
        ;
    if (i == c->unet.n_blocks)
        sb(&b, "%d", c->unet.heads[0]);
    else
        sb_ints(&b, c->unet.heads, c->unet.n_blocks);
    sb(&b, ", \"block_out_channels\": ");
    sb_ints(&b, c->unet.block_out_channels, c->unet.n_blocks);
    sb(&b, ", \"center_input_sample\": false, \"cross_attention_dim\": %d, \"down_block_types\": ",
       c->unet.cross_attention_dim);
    sb_names(&b, "CrossAttnDownBlock2D", "DownBlock2D", c->unet.cross_down, c->unet.n_blocks);
    sb(&b, ", \"downsample_padding\": 1, \"flip_sin_to_cos\": true, \"freq_shift\": 0, \"in_channels\": %d, "
           "\"layers_per_block\": %d, \"mid_block_scale_factor\": 1, \"norm_eps\": ",
       c->unet.in_channels, c->unet.layers_per_block);
    sb_float(&b, c->unet.norm_eps);
    sb(&b, ", \"norm_num_groups\": %d, \"out_channels\": %d, \"sample_size\": %d, \"up_block_types\": ",
       c->unet.norm_num_groups, c->unet.out_channels, c->sample_size);
    sb_names(&b, "CrossAttnUpBlock2D", "UpBlock2D", c->unet.cross_up, c->unet.n_blocks);
    sb(&b, ", \"use_linear_projection\": %s}\n", c->unet.use_linear_projection ? "true" : "false");
    if (!write_text(d, "unet", "config.json", NULL, b.s))
        return 0;
    /* vae/config.json */
    b.n = 0;
    sb(&b, "{\"_class_name\": \"AutoencoderKL\", \"_diffusers_version\": \"0.25.1\", \"act_fn\": \"silu\", "
           "\"block_out_channels\": ");
    sb_ints(&b, c->vae.block_out_channels, c->vae.n_blocks);
    sb(&b, ", \"down_block_types\": [");
    for (i = 0; i < c->vae.n_blocks; i++)
        sb(&b, "%s\"DownEncoderBlock2D\"", i ? ", " : "");
    sb(&b, "], \"in_channels\": %d, \"latent_channels\": %d, \"layers_per_block\": %d, \"norm_num_groups\": %d, "
           "\"out_channels\": %d, \"sample_size\": %d, \"scaling_factor\": ",
       c->vae.out_channels, c->vae.latent_channels, c->vae.layers_per_block, c->vae.norm_num_groups,
       c->vae.out_channels, c->vae.height << (c->vae.n_blocks - 1));
    sb_float(&b, c->vae.scaling_factor);
    sb(&b, ", \"up_block_types\": [");
    for (i = 0; i < c->vae.n_blocks; i++)
        sb(&b, "%s\"UpDecoderBlock2D\"", i ? ", " : "");
    sb(&b, "]}\n");
    return write_text(d, "vae", "config.json", NULL, b.s);
}

static int write_weights(const char *d, const sd_cfgs *c, uint64_t seed, ggdm_st_dtype dtype, uint64_t shard)
{
    ggdm_param_table t;
    float *p;
    int ok;
    enc_table *enc;
    cat_table cat;
    ggdm_param_table et, vt;
    /* text encoder */
    if (ggdm_clip_table(&c->clip, &t) != GGDM_OK || !(p = alloc_params(t.n_params)))
        return 0;
    ok = ggdm_clip_init(&c->clip, seed, p, t.n_params) == GGDM_OK && save_net(d, "text_encoder", "model", &t, p, dtype,
                                                                                shard);
    free(p);
    if (!ok)
        return 0;
    /* UNet */
    if (ggdm_unet2d_table(&c->unet, &t) != GGDM_OK || !(p = alloc_params(t.n_params)))
        return 0;
    ok = ggdm_unet2d_init(&c->unet, seed, p, t.n_params) == GGDM_OK &&
         save_net(d, "unet", "diffusion_pytorch_model", &t, p, dtype, shard);
    free(p);
    if (!ok)
        return 0;
    /* VAE: ggdm's decoder, then the encoder's tensors */
    enc = (enc_table *)malloc(sizeof *enc);
    if (!enc || ggdm_vae_params(&c->vae, &vt) != GGDM_OK) {
        free(enc);
        return 0;
    }
    enc_build(enc, &c->vae);
    et.cfg = enc;
    et.tensor = enc_fn;
    et.n_tensors = enc->n;
    et.n_params = enc->n_params;
    cat.a = vt;
    cat.b = et;
    t.cfg = &cat;
    t.tensor = cat_fn;
    t.n_tensors = vt.n_tensors + et.n_tensors;
    t.n_params = vt.n_params + et.n_params;
    p = enc->overflow ? NULL : alloc_params(t.n_params);
    ok = p && ggdm_vae_init(&c->vae, seed, p, vt.n_params) == GGDM_OK &&
         ggdm_param_init(&et, seed, SDINIT_NET_ID_VAE_ENCODER, p + vt.n_params, et.n_params) == GGDM_OK &&
         save_net(d, "vae", "diffusion_pytorch_model", &t, p, dtype, shard);
    free(p);
    free(enc);
    return ok;
}

static const char *const sdinit_help =
    "usage: ggdm sd-init --config sd15|small|tiny [--seed S] [--dtype f32|f16] [--max-shard-size BYTES] -o DIR\n"
    "A random Stable Diffusion pipeline in diffusers' folder layout, as\n"
    "StableDiffusionPipeline.from_pretrained(DIR) loads it (diffusers 0.25.1): unet/, vae/, text_encoder/\n"
    "(ggdm's deterministic initialisation from seed S, default 0; the VAE's encoder, which ggdm does not\n"
    "run, random of its shapes), tokenizer/ (a small byte-level CLIP BPE, ids 0 .. 813), scheduler/\n"
    "(PNDMScheduler, SD v1.5's values), model_index.json. sd15: SD v1.5's shapes (about 1.07 G\n"
    "parameters, 4.3 GB in float32); tiny: the networks' small test configurations (the VAE scales by 2);\n"
    "small: tiny's UNet and text encoder with a 4-block VAE (16, 32, 32, 32 channels) that scales by 8 as\n"
    "SD's does (ggdm image-demo's model).\n"
    "  --dtype f16            write the weights as float16 (nearest even)\n"
    "  --max-shard-size B     shard files larger than B bytes (an index json, huggingface_hub's split)\n"
    "DIR must not exist; the folder is written as DIR.tmp-XXXXXX and renamed at the end.\n";

int ggdm_cmd_sd_init(int argc, char **argv)
{
    const char *val, *out = NULL, *config = NULL, *dt = "f32";
    long long seed = 0, shard = 0;
    int i, r, rc = 1;
    sd_cfgs c;
    char tmp[4096], msg[256];
    struct stat sst;
    ggdm_st_dtype dtype;
    const ggdm_netio_sopt sopts[] = {{"--config", &config}, {"-o", &out}, {"--dtype", &dt}, {NULL, NULL}};
    for (i = 1; i < argc; i++) {
        if (ggdm_is_help(argv[i])) {
            fputs(sdinit_help, stdout);
            return 0;
        }
        if ((r = ggdm_netio_opt(argc, argv, &i, sopts)) != 0) {
            if (r < 0) return 2;
        } else if ((r = ggdm_opt(argc, argv, &i, "--seed", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int(CMD, "--seed", val, 0, 0x7FFFFFFFFFFFFFFFll, &seed)) return 2;
        } else if ((r = ggdm_opt(argc, argv, &i, "--max-shard-size", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int(CMD, "--max-shard-size", val, 0, 0x7FFFFFFFFFFFFFFFll, &shard)) return 2;
        } else {
            fprintf(stderr, "ggdm " CMD ": unknown option '%s' (see ggdm " CMD " --help)\n", argv[i]);
            return 2;
        }
    }
    if (!out || !config || (strcmp(config, "sd15") != 0 && strcmp(config, "tiny") != 0 && strcmp(config, "small") != 0) ||
        (strcmp(dt, "f32") != 0 && strcmp(dt, "f16") != 0)) {
        fprintf(stderr, "ggdm " CMD ": %s (see ggdm " CMD " --help)\n",
                !out      ? "-o DIR is required"
                : !config ? "--config sd15|small|tiny is required"
                : strcmp(config, "sd15") != 0 && strcmp(config, "tiny") != 0 && strcmp(config, "small") != 0
                    ? "--config must be sd15, small or tiny"
                                                                            : "--dtype must be f32 or f16");
        return 2;
    }
    dtype = strcmp(dt, "f16") == 0 ? GGDM_ST_F16 : GGDM_ST_F32;
    memset(&c, 0, sizeof c);
    if (strcmp(config, "sd15") == 0) {
        ggdm_clip_cfg_sd15(&c.clip);
        ggdm_unet2d_cfg_sd15(&c.unet);
        ggdm_vae_cfg_sd15(&c.vae);
        c.sample_size = 64;
        c.projection_dim = 768;
    } else {
        ggdm_clip_cfg_tiny(&c.clip);
        ggdm_unet2d_cfg_tiny(&c.unet);
        ggdm_vae_cfg_tiny(&c.vae);
        if (strcmp(config, "small") == 0) {
            /* SD's geometry (the VAE scales by 8: image = 8 x latent) with small networks: the
             * image demo's model (ggdm image-demo) */
            c.vae.n_blocks = 4;
            c.vae.block_out_channels[0] = 16;
            c.vae.block_out_channels[1] = c.vae.block_out_channels[2] = c.vae.block_out_channels[3] = 32;
            c.vae.height = c.vae.width = 16;
        }
        c.sample_size = c.vae.height;
        c.projection_dim = c.clip.hidden_size;
    }
    /* the pieces must fit each other */
    if (c.unet.cross_attention_dim != c.clip.hidden_size || c.unet.in_channels != c.vae.latent_channels ||
        c.unet.out_channels != c.vae.latent_channels || c.clip.vocab_size < 814 ||
        ggdm_vae_cfg_check(&c.vae, msg) != GGDM_OK) {
        fprintf(stderr, "ggdm " CMD ": the %s configurations do not fit each other\n", config);
        return 1;
    }
    if (lstat(out, &sst) == 0) {
        fprintf(stderr, "ggdm " CMD ": %s exists; give a new folder\n", out);
        return 1;
    }
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", out) >= sizeof tmp || !mkdtemp(tmp)) {
        fprintf(stderr, "ggdm " CMD ": cannot create a folder next to %s (%s)\n", out, strerror(errno));
        return 1;
    }
    if (!write_index_and_small(tmp, &c, dtype) || !write_weights(tmp, &c, (uint64_t)seed, dtype, (uint64_t)shard))
        goto done;
    errno = 0;
    if (lstat(out, &sst) == 0 || rename(tmp, out) != 0) {
        fprintf(stderr, "ggdm " CMD ": cannot rename %s to %s (%s)\n", tmp, out,
                errno ? strerror(errno) : "it exists now");
        goto done;
    }
    rc = 0;
done:
    if (rc != 0)
        nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
