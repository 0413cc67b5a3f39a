/*
 * ggdm image: the paper's image experiment, the authors' image_generation/main.py with their
 * GradGuidedSDPipeline (docs/image.md): Stable Diffusion guided round after round by the
 * gradient of a ResNet-18 reward.
 *
 *   for each of --repeat_epoch prompts:
 *     round 0: the plain pipeline (g = 0, b = 0); after each round k: decode the final latents,
 *     evaluate the reward r and its image gradient g on them, b = r - <g, x>; round k + 1 is
 *     guided by the linear surrogate (ggdm/sd_guide.h).
 *
 * Outputs in OUT_DIR/target{T}guidance{G}seed{S}totalbs{N}_{prompt} (the authors' folder name):
 * their CSVs (numpy.savetxt's format, numpy's reductions), reward_plot.svg and
 * reward_plot_errorbar.svg, generated_images/pretrain.png and step_K.png (--save_samples), and
 * ggdm's metrics.csv, config.json and TensorBoard scalars (tb/). A run commits a checkpoint
 * after every round (ckpt/, run.h); killed at any point, the same command resumes it and
 * finishes with the same bytes.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "cmds.h"
#include "ggdm/clip.h"
#include "ggdm/dmath.h"
#include "ggdm/hash.h"
#include "ggdm/rng.h"
#include "ggdm/sd_guide.h"
#include "image.h"
#include "imagenet_classes.h"
#include "io.h"
#include "model_dir.h"
#include "netio.h"
#include "plot.h"
#include "png.h"
#include "pool.h"
#include "progress.h"
#include "pyrandom.h"
#include "run.h"
#include "sdcli.h"
#include "tb.h"

#define CMD "image"
#define ERRCAP 1024
#define MAXP 4096 /* path buffers */

/* The Philox stream of the initial latents: stream(INIT_NOISE, a, GGDM_IMAGE_STREAM_B);
 * a = 0 (the authors' reuse with --seed > 0), round + 1 (fresh latents), 0xFFFFFF (the pretrained
 * pipeline's images); index = (repeat * bs + image) * latent_elements + element. */
#define GGDM_IMAGE_STREAM_B 0x53440000u
#define PRETRAIN_A 0xFFFFFFu

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { g_stop = sig; }

typedef struct img_opts {
    double target, guidance, cfg;
    long long opt_steps, bs, seed, repeat, image_size, steps, threads;
    const char *prompt, *out_dir, *model, *variant, *reward, *latents, *classes, *trace, *device;
    ggdm_sd_sched_kind sched;
    ggdm_sd_bias bias;
    ggdm_sd_loss loss;
    int save_samples, fresh, no_pretrain;
} img_opts;

static const char *const usage_text =
    "usage: ggdm image --model DIR --reward R.safetensors [--target Y] [--guidance B] [--opt_steps K]\n"
    "                  [--prompt TEXT] [--out_dir DIR] [--bs N] [--seed S] [--repeat_epoch R]\n"
    "                  [--image_size PX] [--save_samples] [--steps 50] [--cfg 7.5] [--scheduler pndm|ddim]\n"
    "                  [--latents X.npy] [--threads N] [--bias batch|own] [--loss mean|sum] [--fresh_latents]\n"
    "                  [--classes FILE] [--no_pretrain] [--variant fp16]\n"
    "The paper's image experiment (the authors' image_generation/main.py): Stable Diffusion (a diffusers\n"
    "folder) guided, round after round, by the gradient of a ResNet-18 reward (docs/image.md).\n"
    "The authors' flags, with their defaults:\n"
    "  --target Y        target reward value y* (0.0)\n"
    "  --guidance B      guidance strength beta (1.0)\n"
    "  --opt_steps K     rounds of optimisation per prompt (100); round 0 is unguided\n"
    "  --prompt TEXT     the prompt (default: --repeat_epoch ImageNet class names drawn as Python's\n"
    "                    random.seed(S); random.sample(classes, R) draws them)\n"
    "  --out_dir DIR     results go to DIR/target{Y}guidance{B}seed{S}totalbs{N*R}_{prompt} (results)\n"
    "  --bs N            images per round (5)\n"
    "  --seed S          random seed (-1); S > 0: the same initial latents every round (the authors')\n"
    "  --repeat_epoch R  independent runs, one prompt each (1)\n"
    "  --image_size PX   image height and width (512)\n"
    "  --save_samples    write generated_images/pretrain.png and step_K.png (thumbnails PX/4)\n"
    "ggdm's:\n"
    "  --model DIR       a diffusers StableDiffusionPipeline folder (unet, vae, text_encoder,\n"
    "                    tokenizer, scheduler); `ggdm sd-init` writes small random ones\n"
    "  --reward R        the reward model (torchvision resnet18 state dict as safetensors;\n"
    "                    ref/tools/reward_pth_to_safetensors.py converts the authors' .pth)\n"
    "  --steps N         inference steps (50: 51 UNet calls with PNDM); --cfg S: CFG scale (7.5)\n"
    "  --scheduler K     pndm (the pipeline's, default) or ddim (eta 0)\n"
    "  --latents X.npy   initial latents (R, N, 4, PX/8, PX/8) float32 (8: the VAE's scale), used as is\n"
    "                    in every round\n"
    "                    (default: ggdm's random streams from --seed)\n"
    "  --bias own        each image's surrogate holds its own reward (the authors': the batch's,\n"
    "                    their biases broadcast to (N, N))\n"
    "  --loss sum        0.5 (r - y*)^2 per image (the authors': MSELoss's mean, a 1/N on the guidance)\n"
    "  --fresh_latents   new initial latents every round (the authors' reuse them when S > 0)\n"
    "  --classes FILE    prompts' class names, one per line (default: the 1000 ImageNet classes)\n"
    "  --no_pretrain     skip the pretrained pipeline's own generation (pretrain.png, its time)\n"
    "  --threads N       worker threads (default: the CPUs this process may use)\n"
    "A killed or interrupted run resumes where it stopped when the same command is run again.\n";

static int usage_err(const char *what)
{
    fprintf(stderr, "ggdm %s: %s (see ggdm %s --help)\n", CMD, what, CMD);
    return 2;
}

static int parse(img_opts *o, int argc, char **argv)
{
    int i, r;
    const char *v;
    memset(o, 0, sizeof *o);
    o->guidance = 1.0;
    o->cfg = 7.5;
    o->opt_steps = 100;
    o->out_dir = "results";
    o->bs = 5;
    o->seed = -1;
    o->repeat = 1;
    o->image_size = 512;
    o->steps = 50;
    const ggdm_netio_sopt sopts[] = {{"--prompt", &o->prompt},   {"--out_dir", &o->out_dir},
                                     {"--model", &o->model},     {"--variant", &o->variant},
                                     {"--reward", &o->reward},   {"--latents", &o->latents},
                                     {"--classes", &o->classes}, {"--trace_latents", &o->trace},
                                     {"--device", &o->device},   {NULL, NULL}};
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (ggdm_is_help(a)) {
            fputs(usage_text, stdout);
            return 1;
        }
#define OPT(name) ((r = ggdm_opt(argc, argv, &i, name, &v)) != 0)
#define BAD (r < 0)
        if ((r = ggdm_netio_opt(argc, argv, &i, sopts)) != 0) {
            if (BAD) return 2;
        } else if (OPT("--target")) {
            if (BAD || !ggdm_opt_f64(CMD, "--target", v, &o->target)) return 2;
        } else if (OPT("--guidance")) {
            if (BAD || !ggdm_opt_f64(CMD, "--guidance", v, &o->guidance)) return 2;
        } else if (OPT("--cfg")) {
            if (BAD || !ggdm_opt_f64(CMD, "--cfg", v, &o->cfg)) return 2;
        } else if (OPT("--opt_steps")) {
            if (BAD || !ggdm_opt_int(CMD, "--opt_steps", v, 1, 100000, &o->opt_steps)) return 2;
        } else if (OPT("--bs")) {
            if (BAD || !ggdm_opt_int(CMD, "--bs", v, 1, 1024, &o->bs)) return 2;
        } else if (OPT("--seed")) {
            if (BAD || !ggdm_opt_int(CMD, "--seed", v, -0x7FFFFFFFFFFFFFFFll, 0x7FFFFFFFFFFFFFFFll, &o->seed)) return 2;
        } else if (OPT("--repeat_epoch")) {
            if (BAD || !ggdm_opt_int(CMD, "--repeat_epoch", v, 1, 1000, &o->repeat)) return 2;
        } else if (OPT("--image_size")) {
            if (BAD || !ggdm_opt_int(CMD, "--image_size", v, 8, 8192, &o->image_size)) return 2;
        } else if (OPT("--steps")) {
            if (BAD || !ggdm_opt_int(CMD, "--steps", v, 1, 1000, &o->steps)) return 2;
        } else if (OPT("--threads")) {
            if (BAD || !ggdm_opt_int(CMD, "--threads", v, 1, 1024, &o->threads)) return 2;
        } else if (OPT("--scheduler")) {
            if (BAD) return 2;
            if (strcmp(v, "pndm") == 0)
                o->sched = GGDM_SD_SCHED_PNDM;
            else if (strcmp(v, "ddim") == 0)
                o->sched = GGDM_SD_SCHED_DDIM;
            else
                return usage_err("--scheduler must be pndm or ddim");
        } else if (OPT("--bias")) {
            if (BAD) return 2;
            if (strcmp(v, "batch") == 0)
                o->bias = GGDM_SD_BIAS_BATCH;
            else if (strcmp(v, "own") == 0)
                o->bias = GGDM_SD_BIAS_OWN;
            else
                return usage_err("--bias must be batch (the authors') or own");
        } else if (OPT("--loss")) {
            if (BAD) return 2;
            if (strcmp(v, "mean") == 0)
                o->loss = GGDM_SD_LOSS_MEAN;
            else if (strcmp(v, "sum") == 0)
                o->loss = GGDM_SD_LOSS_SUM;
            else
                return usage_err("--loss must be mean (the authors') or sum");
        } else if (strcmp(a, "--save_samples") == 0) {
            o->save_samples = 1;
        } else if (strcmp(a, "--fresh_latents") == 0) {
            o->fresh = 1;
        } else if (strcmp(a, "--no_pretrain") == 0) {
            o->no_pretrain = 1;
        } else if (strcmp(a, "--wandb") == 0) {
            return usage_err("--wandb: ggdm logs to TensorBoard instead (RUN/tb; tensorboard --logdir RUN/tb)");
        } else {
            fprintf(stderr, "ggdm %s: unknown option '%s' (see ggdm %s --help)\n", CMD, a, CMD);
            return 2;
        }
#undef OPT
#undef BAD
    }
    if (!o->model)
        return usage_err("--model DIR (a diffusers Stable Diffusion folder) is required");
    if (!o->reward)
        return usage_err("--reward R.safetensors (the reward model) is required");
    if (o->device && strcmp(o->device, "cpu") != 0 && strcmp(o->device, "cuda") != 0)
        return usage_err("--device must be cpu or cuda (this binary runs on the CPU; ggdm-cuda image on a GPU)");
    if (!(o->cfg == o->cfg) || !(o->target - o->target == 0.0) || !(o->guidance - o->guidance == 0.0) ||
        !(o->cfg - o->cfg == 0.0))
        return usage_err("--target, --guidance and --cfg must be finite numbers");
    return 0;
}

/* ------------------------------------------------------------------ the networks */

typedef struct nets {
    ggdm_model_dir md;
    ggdm_unet2d_cfg ucfg;
    ggdm_vae_cfg vcfg;
    ggdm_clip_cfg ccfg;
    ggdm_resnet_cfg rcfg;
    ggdm_sd_sched_cfg scfg;
    float *up, *vp, *cp, *rp;
    int scale; /* the VAE's: image = latent * scale */
    char tokdir[MAXP];
} nets;

static void nets_free(nets *n)
{
    ggdm_cli_model_close(&n->md);
    free(n->up);
    free(n->vp);
    free(n->cp);
    free(n->rp);
}

static int comp_cfg(nets *n, const char *comp, char *path, size_t cap)
{
    char err[ERRCAP];
    if (ggdm_cli_model_path(&n->md, comp, "config.json", path, cap, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: --model %s\n", CMD, err);
        return 0;
    }
    return 1;
}

/* The scheduler's values from scheduler/scheduler_config.json (SD v1.5's when absent). */
static int sched_cfg(nets *n, const img_opts *o)
{
    ggdm_cli_cfg c;
    char err[ERRCAP], msg[GGDM_SD_SCHED_MSG_LEN];
    long long T, off;
    int one, ok;
    const char *bs, *sp, *pt;
    ggdm_sd_sched_cfg_sd15(&n->scfg, o->sched, (int)o->steps);
    if (!ggdm_cli_model_class(&n->md, "scheduler"))
        return 1;
    if (ggdm_cli_model_config(&n->md, "scheduler", &c, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: --model %s\n", CMD, err);
        return 0;
    }
    ok = ggdm_cli_cfg_int_or(&c, "num_train_timesteps", 1000, &T, err, sizeof err) == GGDM_OK &&
         ggdm_cli_cfg_float_or(&c, "beta_start", 0.00085, &n->scfg.beta_start, err, sizeof err) == GGDM_OK &&
         ggdm_cli_cfg_float_or(&c, "beta_end", 0.012, &n->scfg.beta_end, err, sizeof err) == GGDM_OK &&
         ggdm_cli_cfg_int_or(&c, "steps_offset", 1, &off, err, sizeof err) == GGDM_OK &&
         ggdm_cli_cfg_bool_or(&c, "set_alpha_to_one", 0, &one, err, sizeof err) == GGDM_OK &&
         ggdm_cli_cfg_str_or(&c, "beta_schedule", "scaled_linear", &bs, err, sizeof err) == GGDM_OK &&
         ggdm_cli_cfg_str_or(&c, "timestep_spacing", "leading", &sp, err, sizeof err) == GGDM_OK &&
         ggdm_cli_cfg_str_or(&c, "prediction_type", "epsilon", &pt, err, sizeof err) == GGDM_OK;
    if (ok && (strcmp(bs, "scaled_linear") != 0 || strcmp(sp, "leading") != 0 || strcmp(pt, "epsilon") != 0)) {
        snprintf(err, sizeof err, "beta_schedule '%s', timestep_spacing '%s', prediction_type '%s': ggdm runs "
                 "scaled_linear, leading, epsilon (SD v1.5's)", bs, sp, pt);
        ok = 0;
    }
    if (ok && (T < 2 || T > 1000 || off < 0 || off > 1000)) {
        snprintf(err, sizeof err, "num_train_timesteps %lld / steps_offset %lld out of range (2 .. 1000)", T, off);
        ok = 0;
    }
    if (ok) {
        n->scfg.num_train_timesteps = (int)T;
        n->scfg.steps_offset = (int)off;
        n->scfg.set_alpha_to_one = one;
        if (ggdm_sd_sched_cfg_check(&n->scfg, msg) != GGDM_OK) {
            snprintf(err, sizeof err, "%s", msg);
            ok = 0;
        }
    }
    if (!ok)
        fprintf(stderr, "ggdm %s: --model %s: scheduler/scheduler_config.json: %s\n", CMD, o->model, err);
    ggdm_cli_cfg_free(&c);
    return ok;
}

static int nets_load(nets *n, const img_opts *o)
{
    char path[MAXP], err[ERRCAP], msg[GGDM_UNET2D_MSG_LEN + GGDM_VAE_MSG_LEN];
    ggdm_param_table t;
    ggdm_load_opts lo;
    int lat;
    memset(n, 0, sizeof *n);
    if (ggdm_cli_model_open(&n->md, o->model, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: --model %s\n", CMD, err);
        return 0;
    }
    memset(&lo, 0, sizeof lo);
    lo.ignore = ggdm_sdcli_nets_ignore;
    /* UNet */
    if (!comp_cfg(n, "unet", path, sizeof path) || !ggdm_sdcli_unet2d_cfg(CMD, path, &n->ucfg))
        return 0;
    n->ucfg.attn_recompute = 1;
    if (ggdm_unet2d_table(&n->ucfg, &t) != GGDM_OK ||
        !(n->up = ggdm_netio_load(CMD, &n->md, "unet", o->variant, NULL, &t, &lo, NULL)))
        return 0;
    /* VAE decoder: the pipeline's vae_scale_factor = 2^(len(block_out_channels) - 1) */
    if (!comp_cfg(n, "vae", path, sizeof path) || !ggdm_sdcli_vae_cfg(path, &n->vcfg))
        return 0;
    {
        int f = 1, b, ud = 1 << (n->ucfg.n_blocks - 1);
        for (b = 1; b < n->vcfg.n_blocks; b++)
            f *= 2;
        n->scale = f;
        if (o->image_size % f || (o->image_size / f) % ud) {
            fprintf(stderr, "ggdm %s: --image_size %lld: it must be a multiple of %d (the VAE scales by %d, the "
                            "UNet's latents must be a multiple of %d)\n", CMD, o->image_size, f * ud, f, ud);
            return 0;
        }
        lat = (int)(o->image_size / f);
    }
    n->vcfg.height = n->vcfg.width = lat;
    n->vcfg.attn_kind = GGDM_ATTN_RECOMPUTE;
    if (ggdm_vae_cfg_check(&n->vcfg, msg) != GGDM_OK || ggdm_vae_params(&n->vcfg, &t) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: --model %s: vae: %s\n", CMD, o->model, msg);
        return 0;
    }
    {
        ggdm_load_opts vo = lo;
        static const char *const vae_ignore[] = {"encoder.*", "quant_conv.*", NULL};
        vo.ignore = vae_ignore;
        vo.alias = ggdm_cli_alias_vae_attn;
        if (!(n->vp = ggdm_netio_load(CMD, &n->md, "vae", o->variant, NULL, &t, &vo, NULL)))
            return 0;
    }
    /* text encoder, tokenizer */
    if (!comp_cfg(n, "text_encoder", path, sizeof path) || !ggdm_sdcli_clip_cfg(CMD, path, &n->ccfg))
        return 0;
    if (ggdm_clip_table(&n->ccfg, &t) != GGDM_OK ||
        !(n->cp = ggdm_netio_load(CMD, &n->md, "text_encoder", o->variant, NULL, &t, &lo, NULL)))
        return 0;
    if (n->ccfg.hidden_size != n->ucfg.cross_attention_dim) {
        fprintf(stderr, "ggdm %s: --model %s: the text encoder's hidden_size %d is not the UNet's "
                        "cross_attention_dim %d\n", CMD, o->model, n->ccfg.hidden_size, n->ucfg.cross_attention_dim);
        return 0;
    }
    if (ggdm_cli_model_path(&n->md, "tokenizer", NULL, n->tokdir, sizeof n->tokdir, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: --model %s\n", CMD, err);
        return 0;
    }
    if (!sched_cfg(n, o))
        return 0;
    /* reward */
    if (!ggdm_sdcli_reward_cfg(CMD, o->reward, &n->rcfg))
        return 0;
    if (ggdm_resnet_cfg_check(&n->rcfg, msg) != GGDM_OK || ggdm_resnet_table(&n->rcfg, &t) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: --reward %s: %s\n", CMD, o->reward, msg);
        return 0;
    }
    if (!(n->rp = ggdm_netio_load_path(CMD, o->reward, &t, &lo, NULL)))
        return 0;
    if (ggdm_resnet_derive(&n->rcfg, n->rp, t.n_params) != GGDM_OK)
        return 0;
    return 1;
}

/* The text states [2 bs, hidden, 1, L] of one prompt: "" bs times, then the prompt bs times. */
static float *encode_text(const nets *n, const char *prompt, int bs, const ggdm_exec *ex)
{
    const char *pr[2];
    int32_t *ids;
    int L = n->ccfg.max_position_embeddings, D = n->ccfg.hidden_size, k, j, i;
    size_t wsb = 0, per = (size_t)L * (size_t)D;
    float *h = NULL, *out = NULL;
    void *ws = NULL;
    pr[0] = "";
    pr[1] = prompt;
    ids = (int32_t *)malloc(sizeof(int32_t) * 2 * (size_t)L);
    if (!ids || !ggdm_sdcli_tokenize(CMD, n->tokdir, pr, 2, L, ids))
        goto done;
    for (i = 0; i < 2 * L; i++)
        if (ids[i] < 0 || ids[i] >= n->ccfg.vocab_size) {
            fprintf(stderr, "ggdm %s: the tokenizer gives id %d, outside the text encoder's vocabulary\n", CMD,
                    (int)ids[i]);
            goto done;
        }
    if (ggdm_clip_workspace_bytes(&n->ccfg, 2, L, ex, &wsb) != GGDM_OK || !(ws = ggdm_netio_alloc_ws(CMD, wsb)))
        goto done;
    h = (float *)malloc(2 * per * sizeof(float));
    out = (float *)malloc((size_t)2 * (size_t)bs * per * sizeof(float));
    if (!h || !out || ggdm_clip_forward(&n->ccfg, n->cp, 2, L, ids, h, ws, wsb, NULL, NULL, ex) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: the text encoder failed (out of memory?)\n", CMD);
        free(out);
        out = NULL;
        goto done;
    }
    /* ggdm_clip_forward gives channel-first [N, D, 1, L] (the UNet's layout) */
    for (k = 0; k < 2; k++)
        for (j = 0; j < bs; j++)
            memcpy(out + ((size_t)k * bs + j) * per, h + (size_t)k * per, per * sizeof(float));
done:
    free(ids);
    free(h);
    free(ws);
    return out;
}

/* ------------------------------------------------------------------ numpy's reductions */

/* numpy's pairwise summation of a contiguous row (umath loops: pairwise_sum), as
 * np.add.reduce runs it on a row: 0 + pairwise(a, n). */
static double np_pairwise(const double *a, size_t n)
{
    size_t i;
    if (n < 8) {
        double res = 0.0;
        for (i = 0; i < n; i++)
            res += a[i];
        return res;
    } else if (n <= 128) {
        double r[8], res;
        for (i = 0; i < 8; i++)
            r[i] = a[i];
        for (i = 8; i < n - (n % 8); i += 8) {
            int j;
            for (j = 0; j < 8; j++)
                r[j] += a[i + j];
        }
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    } else {
        size_t n2 = n / 2;
        n2 -= n2 % 8;
        return np_pairwise(a, n2) + np_pairwise(a + n2, n - n2);
    }
}

static double np_mean(const double *a, size_t n) { return (0.0 + np_pairwise(a, n)) / (double)n; }

/* np.std (ddof 0): sqrt(mean(|x - mean|^2)) */
static double np_std(const double *a, size_t n, double *tmp)
{
    double m = np_mean(a, n);
    size_t i;
    for (i = 0; i < n; i++) {
        double d = a[i] - m;
        tmp[i] = d * d;
    }
    return ggdm_sqrt(np_mean(tmp, n));
}

/* ------------------------------------------------------------------ files */

/* dir/name; a path too long for the buffer becomes "" (every file operation on it then fails
 * with a message) */
static void pathf(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        out[0] = '\0';
}

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (b->failed)
        return;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->p && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        {
            size_t nc = (b->cap + (size_t)n + 1) * 2;
            char *q = (char *)realloc(b->p, nc);
            if (!q) {
                b->failed = 1;
                return;
            }
            b->p = q;
            b->cap = nc;
        }
    }
}

static int sb_write(sbuf *b, const char *path)
{
    char err[ERRCAP];
    int ok = !b->failed && ggdm_io_write_file(path, b->p ? b->p : "", b->len, err, sizeof err) == GGDM_OK;
    if (!ok)
        fprintf(stderr, "ggdm %s: %s\n", CMD, b->failed ? "out of memory" : err);
    free(b->p);
    memset(b, 0, sizeof *b);
    return ok;
}

/* numpy.savetxt(path, a, delimiter=','): '%.18e' per value, rows of cols values */
static int savetxt(const char *path, const double *a, size_t rows, size_t cols)
{
    sbuf b;
    size_t i, j;
    memset(&b, 0, sizeof b);
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++)
            sb_add(&b, "%.18e%s", a[i * cols + j], j + 1 < cols ? "," : "\n");
    return sb_write(&b, path);
}

static int write_raw(const char *path, const void *data, size_t bytes)
{
    char err[ERRCAP];
    if (ggdm_io_write_file(path, data, bytes, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", CMD, err);
        return 0;
    }
    return 1;
}

static int read_raw(const char *path, void *data, size_t bytes)
{
    uint8_t *buf = NULL;
    uint64_t len = 0;
    char err[ERRCAP];
    if (ggdm_io_read_file(path, &buf, &len, err, sizeof err) != GGDM_OK || len != bytes) {
        fprintf(stderr, "ggdm %s: %s: %s\n", CMD, path, buf ? "unexpected size (a damaged checkpoint?)" : err);
        free(buf);
        return 0;
    }
    memcpy(data, buf, bytes);
    free(buf);
    return 1;
}

/* ------------------------------------------------------------------ the run */

typedef struct run {
    img_opts o;
    nets n;
    const ggdm_exec *ex;
    int K, R, bs, th, OH, OW;
    size_t nz, nx;
    char dir[MAXP], ckdir[MAXP], rows[MAXP], cur[256];
    const char **prompts;
    char **prompt_buf;
    double *rewards, *times; /* [K][R][bs], [R][K] */
    double pre_time;
    long done; /* rounds committed (n * K + k + 1) */
    int pre_done;
    float *g, *x, *z, *lat; /* surrogate g, images, latents, --latents */
    double *r, *gx;
    ggdm_sd_plan plan;
    void *ws, *lws;
    size_t lwsb;
    ggdm_tb *tb;
    int lock_fd;
    char settings[17];
    ggdm_progress pb;
    int cur_n, cur_k;
} run;

static void run_free(run *rn)
{
    int i;
    nets_free(&rn->n);
    if (rn->prompt_buf) {
        for (i = 0; i < rn->R; i++)
            free(rn->prompt_buf[i]);
        free(rn->prompt_buf);
    }
    free(rn->prompts);
    free(rn->rewards);
    free(rn->times);
    free(rn->g);
    free(rn->x);
    free(rn->z);
    free(rn->lat);
    free(rn->r);
    free(rn->gx);
    free(rn->ws);
    free(rn->lws);
    ggdm_tb_close(rn->tb);
    ggdm_run_unlock(&rn->lock_fd);
}

/* The prompts: --prompt R times, or Python's random.seed(S); random.sample(classes, R). */
static int make_prompts(run *rn)
{
    const img_opts *o = &rn->o;
    int i, ncls = GGDM_IMAGENET_CLASSES, *idx = NULL, ok = 0;
    char **names = NULL;
    uint8_t *buf = NULL;
    uint64_t len = 0;
    rn->prompts = (const char **)calloc((size_t)rn->R, sizeof(char *));
    if (!rn->prompts)
        return 0;
    if (o->prompt) {
        for (i = 0; i < rn->R; i++)
            rn->prompts[i] = o->prompt;
        return 1;
    }
    if (o->classes) { /* the authors: file.readlines(), each .strip()'d */
        char err[ERRCAP];
        size_t p = 0, cap = 0;
        if (ggdm_io_read_file(o->classes, &buf, &len, err, sizeof err) != GGDM_OK) {
            fprintf(stderr, "ggdm %s: --classes %s\n", CMD, err);
            return 0;
        }
        ncls = 0;
        while (p < len) {
            size_t s = p, e;
            while (p < len && buf[p] != '\n')
                p++;
            e = p;
            if (p < len)
                p++;
            while (s < e && (buf[s] == ' ' || buf[s] == '\t' || buf[s] == '\r' || buf[s] == '\f' || buf[s] == '\v'))
                s++;
            while (e > s && (buf[e - 1] == ' ' || buf[e - 1] == '\t' || buf[e - 1] == '\r' || buf[e - 1] == '\f' ||
                             buf[e - 1] == '\v'))
                e--;
            if ((size_t)ncls == cap) {
                char **q = (char **)realloc(names, (cap = cap ? 2 * cap : 1024) * sizeof(char *));
                if (!q)
                    goto oom;
                names = q;
            }
            names[ncls] = (char *)malloc(e - s + 1);
            if (!names[ncls])
                goto oom;
            memcpy(names[ncls], buf + s, e - s);
            names[ncls++][e - s] = '\0';
        }
        if (ncls < rn->R) {
            fprintf(stderr, "ggdm %s: --classes %s has %d names; --repeat_epoch %d needs at least as many (Python's "
                            "random.sample refuses a sample larger than the population)\n", CMD, o->classes, ncls,
                    rn->R);
            goto done;
        }
    } else if (rn->R > ncls) {
        fprintf(stderr, "ggdm %s: --repeat_epoch %d is larger than the %d ImageNet classes the prompts come from\n",
                CMD, rn->R, ncls);
        return 0;
    }
    idx = (int *)malloc(sizeof(int) * (size_t)rn->R);
    rn->prompt_buf = (char **)calloc((size_t)rn->R, sizeof(char *));
    if (!idx || !rn->prompt_buf || ggdm_pyrandom_sample((int64_t)o->seed, ncls, rn->R, idx) != 0)
        goto oom;
    for (i = 0; i < rn->R; i++) {
        const char *s = names ? names[idx[i]] : ggdm_imagenet_classes[idx[i]];
        rn->prompt_buf[i] = (char *)malloc(strlen(s) + 1);
        if (!rn->prompt_buf[i])
            goto oom;
        strcpy(rn->prompt_buf[i], s);
        rn->prompts[i] = rn->prompt_buf[i];
    }
    ok = 1;
    goto done;
oom:
    fprintf(stderr, "ggdm %s: out of memory for the prompts\n", CMD);
done:
    if (names) {
        for (i = 0; i < ncls; i++)
            free(names[i]);
        free(names);
    }
    free(buf);
    free(idx);
    return ok;
}

/* The settings that change the results, as one canonical line (its hash identifies the run). */
static void settings_line(const run *rn, sbuf *b)
{
    const img_opts *o = &rn->o;
    int i;
    sb_add(b, "image v1;target=%.17g;guidance=%.17g;cfg=%.17g;opt_steps=%lld;bs=%lld;seed=%lld;repeat=%lld;"
              "image_size=%lld;steps=%lld;scheduler=%d;bias=%d;loss=%d;fresh=%d;pretrain=%d;save_samples=%d;"
              "latents=%s;model=%s;reward=%s",
           o->target, o->guidance, o->cfg, o->opt_steps, o->bs, o->seed, o->repeat, o->image_size, o->steps,
           (int)o->sched, (int)o->bias, (int)o->loss, o->fresh, !o->no_pretrain, o->save_samples,
           o->latents ? o->latents : "", o->model, o->reward);
    for (i = 0; i < rn->R; i++)
        sb_add(b, ";prompt%d=%s", i, rn->prompts[i]);
}

static int write_config(const run *rn, int argc, char **argv, const char *status)
{
    const img_opts *o = &rn->o;
    ggdm_json j;
    char path[MAXP], err[ERRCAP], rep[64];
    const char *text;
    int i, ok;
    double round_mean = 0;
    long k;
    ggdm_json_begin(&j);
    ggdm_json_str(&j, "command", "image");
    ggdm_json_str(&j, "ggdm_version", GGDM_VERSION_STRING);
    ggdm_json_str(&j, "status", status);
    ggdm_json_str(&j, "settings_xxh3", rn->settings);
    ggdm_json_open(&j, "argv", '[');
    for (i = 0; i < argc; i++)
        ggdm_json_str(&j, NULL, argv[i]);
    ggdm_json_close(&j, ']');
    ggdm_json_open(&j, "settings", '{');
    ggdm_py_float_repr(o->target, rep, sizeof rep);
    ggdm_json_num(&j, "target", o->target);
    ggdm_json_num(&j, "guidance", o->guidance);
    ggdm_json_int(&j, "opt_steps", o->opt_steps);
    ggdm_json_int(&j, "bs", o->bs);
    ggdm_json_int(&j, "seed", o->seed);
    ggdm_json_int(&j, "repeat_epoch", o->repeat);
    ggdm_json_int(&j, "image_size", o->image_size);
    ggdm_json_int(&j, "steps", o->steps);
    ggdm_json_int(&j, "unet_calls", ggdm_sd_sched_calls(&rn->n.scfg));
    ggdm_json_num(&j, "cfg", o->cfg);
    ggdm_json_str(&j, "scheduler", o->sched == GGDM_SD_SCHED_PNDM ? "pndm" : "ddim");
    ggdm_json_str(&j, "bias", o->bias == GGDM_SD_BIAS_BATCH ? "batch" : "own");
    ggdm_json_str(&j, "loss", o->loss == GGDM_SD_LOSS_MEAN ? "mean" : "sum");
    ggdm_json_bool(&j, "fresh_latents", o->fresh || o->seed <= 0);
    ggdm_json_str(&j, "latents", o->latents);
    ggdm_json_str(&j, "model", o->model);
    ggdm_json_str(&j, "reward", o->reward);
    ggdm_json_int(&j, "threads", ggdm_exec_threads(rn->ex));
    ggdm_json_open(&j, "prompts", '[');
    for (i = 0; i < rn->R; i++)
        ggdm_json_str(&j, NULL, rn->prompts[i]);
    ggdm_json_close(&j, ']');
    ggdm_json_close(&j, '}');
    ggdm_json_open(&j, "timings", '{');
    for (k = 0; k < rn->done; k++)
        round_mean += rn->times[k];
    ggdm_json_int(&j, "rounds_done", rn->done);
    ggdm_json_num(&j, "pretrain_generation_s", rn->pre_done && !o->no_pretrain ? rn->pre_time : (0.0 / 0.0));
    ggdm_json_num(&j, "round_s_mean", rn->done ? round_mean / (double)rn->done : (0.0 / 0.0));
    ggdm_json_num(&j, "rounds_s_total", round_mean);
    ggdm_json_close(&j, '}');
    text = ggdm_json_end(&j);
    pathf(path, sizeof path, rn->dir, "config.json");
    ok = text && ggdm_io_write_file(path, text, strlen(text), err, sizeof err) == GGDM_OK;
    if (!ok)
        fprintf(stderr, "ggdm %s: %s\n", CMD, text ? err : "out of memory");
    ggdm_json_free(&j);
    return ok;
}

/* ---- checkpoints: state.f64 = [done, pre_done, pre_time, rewards (K R bs), times (R K)];
 * sur.bin = g (bs nx float32), r, gx (bs doubles each) */

static size_t state_len(const run *rn) { return 3 + (size_t)rn->K * rn->R * rn->bs + (size_t)rn->R * rn->K; }

static int ckpt_save(run *rn)
{
    char name[64], gendir[MAXP], path[MAXP], err[ERRCAP];
    size_t n = state_len(rn), sb = (size_t)rn->bs * rn->nx * sizeof(float) + (size_t)2 * rn->bs * sizeof(double);
    double *st = (double *)malloc(n * sizeof(double));
    unsigned char *sur = (unsigned char *)malloc(sb);
    int ok = 0;
    if (!st || !sur)
        goto done;
    st[0] = (double)rn->done;
    st[1] = rn->pre_done;
    st[2] = rn->pre_time;
    memcpy(st + 3, rn->rewards, (size_t)rn->K * rn->R * rn->bs * sizeof(double));
    memcpy(st + 3 + (size_t)rn->K * rn->R * rn->bs, rn->times, (size_t)rn->R * rn->K * sizeof(double));
    memcpy(sur, rn->g, (size_t)rn->bs * rn->nx * sizeof(float));
    memcpy(sur + (size_t)rn->bs * rn->nx * sizeof(float), rn->r, (size_t)rn->bs * sizeof(double));
    memcpy(sur + (size_t)rn->bs * rn->nx * sizeof(float) + (size_t)rn->bs * sizeof(double), rn->gx,
           (size_t)rn->bs * sizeof(double));
    snprintf(name, sizeof name, "c%07ld-%d", rn->done, rn->pre_done);
    if (ggdm_ckpt_begin(rn->ckdir, name, gendir, sizeof gendir, err, sizeof err) != 0) {
        fprintf(stderr, "ggdm %s: %s\n", CMD, err);
        goto done;
    }
    pathf(path, sizeof path, gendir, "state.f64");
    if (!write_raw(path, st, n * sizeof(double)))
        goto done;
    pathf(path, sizeof path, gendir, "sur.bin");
    if (!write_raw(path, sur, sb))
        goto done;
    if (ggdm_ckpt_commit(rn->ckdir, name, rn->cur, err, sizeof err) != 0) {
        fprintf(stderr, "ggdm %s: %s\n", CMD, err);
        goto done;
    }
    snprintf(rn->cur, sizeof rn->cur, "%s", name);
    ok = 1;
done:
    free(st);
    free(sur);
    return ok;
}

static int ckpt_load(run *rn)
{
    char path[MAXP], gen[MAXP];
    size_t n = state_len(rn), sb = (size_t)rn->bs * rn->nx * sizeof(float) + (size_t)2 * rn->bs * sizeof(double);
    double *st = (double *)malloc(n * sizeof(double));
    unsigned char *sur = (unsigned char *)malloc(sb);
    int ok = 0;
    if (!st || !sur)
        goto done;
    pathf(gen, sizeof gen, rn->ckdir, rn->cur);
    pathf(path, sizeof path, gen, "state.f64");
    if (!read_raw(path, st, n * sizeof(double)))
        goto done;
    pathf(path, sizeof path, gen, "sur.bin");
    if (!read_raw(path, sur, sb))
        goto done;
    if (!(st[0] >= 0 && st[0] <= (double)rn->K * rn->R)) {
        fprintf(stderr, "ggdm %s: %s: a damaged checkpoint (remove %s to start over)\n", CMD, gen, rn->dir);
        goto done;
    }
    rn->done = (long)st[0];
    rn->pre_done = st[1] != 0.0;
    rn->pre_time = st[2];
    memcpy(rn->rewards, st + 3, (size_t)rn->K * rn->R * rn->bs * sizeof(double));
    memcpy(rn->times, st + 3 + (size_t)rn->K * rn->R * rn->bs, (size_t)rn->R * rn->K * sizeof(double));
    memcpy(rn->g, sur, (size_t)rn->bs * rn->nx * sizeof(float));
    memcpy(rn->r, sur + (size_t)rn->bs * rn->nx * sizeof(float), (size_t)rn->bs * sizeof(double));
    memcpy(rn->gx, sur + (size_t)rn->bs * rn->nx * sizeof(float) + (size_t)rn->bs * sizeof(double),
           (size_t)rn->bs * sizeof(double));
    ok = 1;
done:
    free(st);
    free(sur);
    return ok;
}

/* ---- one generation */

typedef struct gen_ctx {
    run *rn;
    int n, k; /* repeat, round (k = -1: the pretrained pipeline's) */
} gen_ctx;

static int on_step(void *vctx, int call, int calls, const float *z, const ggdm_sd_step_info *info)
{
    gen_ctx *c = (gen_ctx *)vctx;
    run *rn = c->rn;
    char extra[96];
    if (rn->o.trace) {
        char name[96], path[MAXP], err[ERRCAP];
        uint64_t shape[4];
        shape[0] = (uint64_t)rn->bs;
        shape[1] = (uint64_t)rn->n.ucfg.in_channels;
        shape[2] = shape[3] = (uint64_t)(rn->o.image_size / rn->n.scale);
        if (c->k < 0)
            snprintf(name, sizeof name, "pretrain_c%03d.npy", call);
        else
            snprintf(name, sizeof name, "n%d_k%d_c%03d.npy", c->n, c->k, call);
        pathf(path, sizeof path, rn->o.trace, name);
        if (ggdm_io_mkdirs(rn->o.trace) != 0 ||
            ggdm_io_save(path, GGDM_DT_F32, 4, shape, z, err, sizeof err) != GGDM_OK) {
            ggdm_progress_clear(&rn->pb);
            fprintf(stderr, "ggdm %s: --trace_latents: %s\n", CMD, err);
            return 1;
        }
    }
    if (info && info->loss != 0.0)
        snprintf(extra, sizeof extra, "loss %.4g", info->loss);
    else
        extra[0] = '\0';
    ggdm_progress_update(&rn->pb, (uint64_t)(call + 1), extra);
    (void)calls;
    return g_stop != 0;
}

/* The initial latents of repeat n, round k (k = -1: the pretrained pipeline's) into rn->z. */
static void init_latents(run *rn, int n, int k)
{
    size_t per = (size_t)rn->bs * rn->nz;
    uint32_t a;
    if (rn->lat && k >= 0) {
        memcpy(rn->z, rn->lat + (size_t)n * per, per * sizeof(float));
        return;
    }
    a = k < 0 ? PRETRAIN_A : (rn->o.seed > 0 && !rn->o.fresh) ? 0u : (uint32_t)(k + 1);
    ggdm_rng_fill_normal((uint64_t)rn->o.seed, ggdm_stream_id(GGDM_STREAM_INIT_NOISE, a, GGDM_IMAGE_STREAM_B),
                         (uint64_t)n * per, rn->z, per);
}

static int generate(run *rn, int n, int k, const ggdm_sd_surrogate *sur, const float *text, double *secs)
{
    gen_ctx c;
    char label[128];
    struct timespec t0, t1;
    ggdm_status st;
    c.rn = rn;
    c.n = n;
    c.k = k;
    init_latents(rn, n, k);
    if (k < 0)
        snprintf(label, sizeof label, "pretrained pipeline");
    else if (rn->R > 1)
        snprintf(label, sizeof label, "prompt %d/%d round %d/%d", n + 1, rn->R, k, rn->K - 1);
    else
        snprintf(label, sizeof label, "round %d/%d", k, rn->K - 1);
    ggdm_progress_start(&rn->pb, label, (uint64_t)ggdm_sd_sched_calls(&rn->n.scfg));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = ggdm_sd_generate(&rn->plan, sur, rn->z, text, rn->ws, rn->plan.bytes, on_step, &c);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ggdm_progress_clear(&rn->pb);
    if (st != GGDM_OK) {
        if (!g_stop)
            fprintf(stderr, "ggdm %s: the generation failed: %s\n", CMD, ggdm_status_str(st));
        return 0;
    }
    *secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return 1;
}

/* The images' thumbnails side by side (the authors' PIL resize to PX/4) as rows/NAME. */
static int save_row(run *rn, const float *x, const char *name)
{
    size_t tile = (size_t)rn->th * rn->th * 3, full = (size_t)rn->OH * rn->OW * 3;
    uint8_t *u8 = (uint8_t *)malloc(full), *tiles = (uint8_t *)malloc(tile * (size_t)rn->bs),
            *row = (uint8_t *)malloc(tile * (size_t)rn->bs);
    const uint8_t **tp = (const uint8_t **)malloc(sizeof(uint8_t *) * (size_t)rn->bs);
    char path[MAXP];
    int j, ok = 0;
    if (!u8 || !tiles || !row || !tp) {
        fprintf(stderr, "ggdm %s: out of memory\n", CMD);
        goto done;
    }
    for (j = 0; j < rn->bs; j++) {
        ggdm_image_to_u8(x + (size_t)j * rn->nx, rn->OH, rn->OW, u8);
        if (ggdm_image_resize_pil(u8, rn->OW, rn->OH, tiles + (size_t)j * tile, rn->th, rn->th) != 0) {
            fprintf(stderr, "ggdm %s: cannot make the thumbnails\n", CMD);
            goto done;
        }
        tp[j] = tiles + (size_t)j * tile;
    }
    ggdm_image_grid(tp, 1, rn->bs, rn->th, rn->th, row);
    pathf(path, sizeof path, rn->rows, name);
    ok = ggdm_io_mkdirs(rn->rows) == 0 && write_raw(path, row, tile * (size_t)rn->bs);
done:
    free(u8);
    free(tiles);
    free(row);
    free(tp);
    return ok;
}

/* ---- the results: the authors' files, the plots, the grids, metrics.csv */

static int write_results(run *rn)
{
    int K = rn->K, R = rn->R, bs = rn->bs, k, n, j;
    size_t RB = (size_t)R * bs;
    double *mrep = (double *)malloc(sizeof(double) * (size_t)K * R), *srep = (double *)malloc(sizeof(double) * K),
           *mean = (double *)malloc(sizeof(double) * K), *sd = (double *)malloc(sizeof(double) * K),
           *tmp = (double *)malloc(sizeof(double) * (RB > (size_t)R ? RB : (size_t)R)),
           *lo = (double *)malloc(sizeof(double) * K), *hi = (double *)malloc(sizeof(double) * K);
    char path[MAXP], err[ERRCAP];
    int ok = 0;
    sbuf b;
    if (!mrep || !srep || !mean || !sd || !tmp || !lo || !hi) {
        fprintf(stderr, "ggdm %s: out of memory\n", CMD);
        goto done;
    }
    /* image_rewards [K, R, bs]: np.mean(axis=2), np.std of that over axis 1; reshape (K, R bs) */
    for (k = 0; k < K; k++) {
        for (n = 0; n < R; n++)
            mrep[(size_t)k * R + n] = np_mean(rn->rewards + ((size_t)k * R + n) * bs, (size_t)bs);
        srep[k] = np_std(mrep + (size_t)k * R, (size_t)R, tmp);
        mean[k] = np_mean(rn->rewards + (size_t)k * RB, RB);
        sd[k] = np_std(rn->rewards + (size_t)k * RB, RB, tmp);
        lo[k] = mean[k] - sd[k];
        hi[k] = mean[k] + sd[k];
    }
    pathf(path, sizeof path, rn->dir, "rewards_mean_repeat.csv");
    if (!savetxt(path, mrep, (size_t)K, (size_t)R))
        goto done;
    pathf(path, sizeof path, rn->dir, "rewards_std_in_repeats.csv");
    if (!savetxt(path, srep, (size_t)K, 1))
        goto done;
    pathf(path, sizeof path, rn->dir, "rewards.csv");
    if (!savetxt(path, rn->rewards, (size_t)K, RB))
        goto done;
    pathf(path, sizeof path, rn->dir, "mean_rewards.csv");
    if (!savetxt(path, mean, (size_t)K, 1))
        goto done;
    pathf(path, sizeof path, rn->dir, "std_rewards.csv");
    if (!savetxt(path, sd, (size_t)K, 1))
        goto done;
    {
        ggdm_plot_series s[3];
        ggdm_plot_panel p;
        memset(s, 0, sizeof s);
        memset(&p, 0, sizeof p);
        s[0].name = "mean reward";
        s[0].y = mean;
        s[0].n = (size_t)K;
        s[0].lo = lo;
        s[0].hi = hi;
        p.ylabel = "Reward";
        p.series = s;
        p.nseries = 1;
        pathf(path, sizeof path, rn->dir, "reward_plot.svg");
        if (ggdm_plot_svg(path, "reward per round (band: std over all images)", "Optimization Steps", &p, 1, err,
                          sizeof err) != 0) {
            fprintf(stderr, "ggdm %s: %s\n", CMD, err);
            goto done;
        }
        for (k = 0; k < K; k++) {
            lo[k] = mean[k] - srep[k];
            hi[k] = mean[k] + srep[k];
        }
        s[0].bars = 1;
        pathf(path, sizeof path, rn->dir, "reward_plot_errorbar.svg");
        if (ggdm_plot_svg(path, "reward per round (bars: std of the prompts' means)", "Optimization Steps", &p, 1,
                          err, sizeof err) != 0) {
            fprintf(stderr, "ggdm %s: %s\n", CMD, err);
            goto done;
        }
    }
    memset(&b, 0, sizeof b);
    sb_add(&b, "repeat,round,reward_mean,reward_std,reward_min,reward_max,round_seconds\n");
    for (n = 0; n < R; n++)
        for (k = 0; k < K; k++) {
            const double *v = rn->rewards + ((size_t)k * R + n) * bs;
            double mn = v[0], mx = v[0];
            for (j = 1; j < bs; j++) {
                mn = v[j] < mn ? v[j] : mn;
                mx = v[j] > mx ? v[j] : mx;
            }
            sb_add(&b, "%d,%d,%.9g,%.9g,%.9g,%.9g,%.4f\n", n, k, np_mean(v, (size_t)bs), np_std(v, (size_t)bs, tmp),
                   mn, mx, rn->times[(size_t)n * K + k]);
        }
    pathf(path, sizeof path, rn->dir, "metrics.csv");
    if (!sb_write(&b, path))
        goto done;
    if (rn->o.save_samples) {
        size_t rowb = (size_t)rn->th * rn->th * 3 * bs;
        uint8_t *grid = (uint8_t *)malloc(rowb * (size_t)R);
        char gdir[MAXP], name[64];
        int gok = grid != NULL;
        pathf(gdir, sizeof gdir, rn->dir, "generated_images");
        gok = gok && ggdm_io_mkdirs(gdir) == 0;
        if (gok && !rn->o.no_pretrain) {
            pathf(path, sizeof path, rn->rows, "pretrain.rgb");
            gok = read_raw(path, grid, rowb);
            pathf(path, sizeof path, gdir, "pretrain.png");
            if (gok && ggdm_png_save(path, grid, rn->th * bs, rn->th, err, sizeof err) != 0) {
                fprintf(stderr, "ggdm %s: %s\n", CMD, err);
                gok = 0;
            }
        }
        for (k = 0; gok && k < K; k++) {
            for (n = 0; gok && n < R; n++) {
                snprintf(name, sizeof name, "n%d_k%d.rgb", n, k);
                pathf(path, sizeof path, rn->rows, name);
                gok = read_raw(path, grid + (size_t)n * rowb, rowb);
            }
            snprintf(name, sizeof name, "step_%d.png", k);
            pathf(path, sizeof path, gdir, name);
            if (gok && ggdm_png_save(path, grid, rn->th * bs, rn->th * R, err, sizeof err) != 0) {
                fprintf(stderr, "ggdm %s: %s\n", CMD, err);
                gok = 0;
            }
        }
        free(grid);
        if (!gok)
            goto done;
    }
    ok = 1;
done:
    free(mrep);
    free(srep);
    free(mean);
    free(sd);
    free(tmp);
    free(lo);
    free(hi);
    return ok;
}

static void log_round(run *rn, int n, int k)
{
    const double *v = rn->rewards + ((size_t)k * rn->R + n) * rn->bs;
    double tmp[1024], m = np_mean(v, (size_t)rn->bs), s = np_std(v, (size_t)rn->bs, tmp);
    int64_t step = (int64_t)n * rn->K + k;
    if (rn->tb) {
        ggdm_tb_scalar(rn->tb, "reward_mean", step, m);
        ggdm_tb_scalar(rn->tb, "reward_std", step, s);
        ggdm_tb_scalar(rn->tb, "round_seconds", step, rn->times[(size_t)n * rn->K + k]);
    }
}

/* Removes the TensorBoard folder (its events are written again from the checkpoint's record). */
static void tb_reset(const char *dir)
{
    if (ggdm_io_exists(dir))
        ggdm_io_remove_tree(dir);
}

/* ---- the command */

static int load_latents(run *rn)
{
    ggdm_array a;
    char err[ERRCAP];
    int lat = (int)(rn->o.image_size / rn->n.scale);
    memset(&a, 0, sizeof a);
    if (ggdm_io_load_npy(rn->o.latents, &a, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: --latents %s\n", CMD, err);
        return 0;
    }
    if (a.dtype != GGDM_DT_F32 || a.ndim != 5 || a.shape[0] != (uint64_t)rn->R || a.shape[1] != (uint64_t)rn->bs ||
        a.shape[2] != (uint64_t)rn->n.ucfg.in_channels || a.shape[3] != (uint64_t)lat || a.shape[4] != (uint64_t)lat) {
        char got[128];
        ggdm_array_describe(&a, got, sizeof got);
        fprintf(stderr, "ggdm %s: --latents %s is %s; it must be float32 (repeat_epoch %d, bs %d, %d, %d, %d)\n", CMD,
                rn->o.latents, got, rn->R, rn->bs, rn->n.ucfg.in_channels, lat, lat);
        ggdm_array_free(&a);
        return 0;
    }
    rn->lat = (float *)malloc((size_t)a.count * sizeof(float));
    if (rn->lat)
        memcpy(rn->lat, a.data, (size_t)a.count * sizeof(float));
    ggdm_array_free(&a);
    return rn->lat != NULL;
}

static int setup_plan(run *rn)
{
    ggdm_sd_nets sn;
    ggdm_sd_guide_cfg gc;
    size_t tb = 0;
    void *tmp;
    char msg[GGDM_SD_MSG_LEN];
    ggdm_status st;
    sn.unet = &rn->n.ucfg;
    sn.unet_params = rn->n.up;
    sn.vae = &rn->n.vcfg;
    sn.vae_params = rn->n.vp;
    memset(&gc, 0, sizeof gc);
    gc.bs = rn->bs;
    gc.Lt = rn->n.ccfg.max_position_embeddings;
    gc.cfg_scale = (float)rn->o.cfg;
    gc.guidance = (float)rn->o.guidance;
    gc.target = (float)rn->o.target;
    gc.bias = rn->o.bias;
    gc.loss = rn->o.loss;
    if ((st = ggdm_sd_plan_sizing_bytes(&sn, &gc, &tb)) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", CMD, ggdm_status_str(st));
        return 0;
    }
    if (!(tmp = ggdm_netio_alloc_ws(CMD, tb)))
        return 0;
    st = ggdm_sd_plan_make(&sn, &gc, &rn->n.scfg, rn->ex, tmp, tb, &rn->plan, msg);
    free(tmp);
    if (st != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", CMD, msg);
        return 0;
    }
    if (ggdm_sd_linearize_workspace_bytes(&rn->n.vcfg, &rn->n.rcfg, rn->bs, rn->ex, &rn->lwsb) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: the reward model cannot take %d x %d images\n", CMD, rn->OW, rn->OH);
        return 0;
    }
    fprintf(stderr, "ggdm %s: workspaces %.2f GiB (UNet, VAE, guidance) + %.2f GiB (reward)\n", CMD,
            (double)rn->plan.bytes / 1073741824.0, (double)rn->lwsb / 1073741824.0);
    rn->ws = ggdm_netio_alloc_ws(CMD, rn->plan.bytes);
    rn->lws = rn->ws ? ggdm_netio_alloc_ws(CMD, rn->lwsb) : NULL;
    return rn->lws != NULL;
}

/* A finished run with these settings: 1 (nothing to do); other settings: -1; else 0. */
static int check_record(const run *rn)
{
    char path[MAXP], err[ERRCAP];
    ggdm_run_record rec;
    int r = 0;
    pathf(path, sizeof path, rn->dir, "config.json");
    if (!ggdm_io_exists(path))
        return 0;
    if (ggdm_run_read_config(path, &rec, err, sizeof err) != 0) {
        fprintf(stderr, "ggdm %s: %s (remove the folder %s to start over)\n", CMD, err, rn->dir);
        return -1;
    }
    if (strcmp(ggdm_run_record_get(&rec, "command"), "image") != 0 ||
        strcmp(ggdm_run_record_get(&rec, "settings_xxh3"), rn->settings) != 0) {
        fprintf(stderr, "ggdm %s: %s holds a run with other settings (see its config.json); choose another "
                        "--out_dir, or remove that folder to start over\n", CMD, rn->dir);
        r = -1;
    } else if (strcmp(ggdm_run_record_get(&rec, "status"), "finished") == 0) {
        r = 1;
    }
    ggdm_run_record_free(&rec);
    return r;
}

int ggdm_cmd_image(int argc, char **argv)
{
    run rn;
    int r, n, k, rc = 1, resumed = 0;
    char err[ERRCAP], path[MAXP], rep1[64], rep2[64];
    struct sigaction sa, old_int, old_term;
    sbuf sl;
    memset(&rn, 0, sizeof rn);
    rn.lock_fd = -1;
    r = parse(&rn.o, argc, argv);
    if (r)
        return r == 1 ? 0 : r;
    rn.K = (int)rn.o.opt_steps;
    rn.R = (int)rn.o.repeat;
    rn.bs = (int)rn.o.bs;
    rn.OH = rn.OW = (int)rn.o.image_size;
    rn.th = (int)(rn.o.image_size / 4);
    rn.ex = ggdm_cli_exec((int)rn.o.threads);
    if (rn.ex && rn.ex->unet)
        fprintf(stderr, "ggdm %s: note: the image pipeline runs on the CPU reference; its GPU version is not "
                        "built yet (docs/image.md)\n", CMD);
    if (!make_prompts(&rn))
        goto done;
    /* the authors' folder: target{T}guidance{G}seed{S}totalbs{bs * R}_{prompt} */
    ggdm_py_float_repr(rn.o.target, rep1, sizeof rep1);
    ggdm_py_float_repr(rn.o.guidance, rep2, sizeof rep2);
    snprintf(rn.dir, sizeof rn.dir, "%s/target%sguidance%sseed%lldtotalbs%lld_%s", rn.o.out_dir, rep1, rep2,
             rn.o.seed, rn.o.bs * rn.o.repeat, rn.o.prompt ? rn.o.prompt : "None");
    pathf(rn.ckdir, sizeof rn.ckdir, rn.dir, "ckpt");
    pathf(rn.rows, sizeof rn.rows, rn.dir, "rows");
    memset(&sl, 0, sizeof sl);
    settings_line(&rn, &sl);
    if (sl.failed)
        goto done;
    ggdm_hash_hex(ggdm_hash_bytes(sl.p, sl.len), rn.settings);
    free(sl.p);
    if (ggdm_io_exists(rn.dir)) {
        r = check_record(&rn);
        if (r < 0)
            goto done;
        if (r > 0) {
            fprintf(stderr, "ggdm %s: %s is a finished run with these settings: nothing to do\n", CMD, rn.dir);
            rc = 0;
            goto done;
        }
    }
    /* the inputs are checked before the folder is made: bad input leaves nothing behind */
    if (!nets_load(&rn.n, &rn.o))
        goto done;
    rn.nz = (size_t)rn.n.ucfg.in_channels * (size_t)(rn.o.image_size / rn.n.scale) *
            (size_t)(rn.o.image_size / rn.n.scale);
    rn.nx = (size_t)3 * rn.OH * rn.OW;
    if (rn.o.latents && !load_latents(&rn))
        goto done;
    if (ggdm_run_lock(rn.dir, &rn.lock_fd, err, sizeof err) != 0) {
        fprintf(stderr, "ggdm %s: %s\n", CMD, err);
        goto done;
    }
    ggdm_run_clean_tmp(rn.dir); /* a killed process's temporary files (NAME.tmp.PID) */
    ggdm_run_clean_tmp(rn.rows);
    pathf(path, sizeof path, rn.dir, "generated_images");
    ggdm_run_clean_tmp(path);
    if (ggdm_ckpt_recover(rn.ckdir, NULL, rn.cur, sizeof rn.cur, err, sizeof err) != 0) {
        fprintf(stderr, "ggdm %s: %s\n", CMD, err);
        goto done;
    }
    rn.rewards = (double *)calloc((size_t)rn.K * rn.R * rn.bs, sizeof(double));
    rn.times = (double *)calloc((size_t)rn.K * rn.R, sizeof(double));
    rn.g = (float *)calloc((size_t)rn.bs * rn.nx, sizeof(float));
    rn.x = (float *)calloc((size_t)rn.bs * rn.nx, sizeof(float));
    rn.z = (float *)calloc((size_t)rn.bs * rn.nz, sizeof(float));
    rn.r = (double *)calloc((size_t)rn.bs, sizeof(double));
    rn.gx = (double *)calloc((size_t)rn.bs, sizeof(double));
    if (!rn.rewards || !rn.times || !rn.g || !rn.x || !rn.z || !rn.r || !rn.gx) {
        fprintf(stderr, "ggdm %s: out of memory\n", CMD);
        goto done;
    }
    if (rn.cur[0]) {
        if (!ckpt_load(&rn))
            goto done;
        resumed = 1;
    }
    if (!setup_plan(&rn) || !write_config(&rn, argc, argv, "running"))
        goto done;
    pathf(path, sizeof path, rn.dir, "tb");
    tb_reset(path);
    if (!(rn.tb = ggdm_tb_open(path, err, sizeof err))) {
        fprintf(stderr, "ggdm %s: %s\n", CMD, err);
        goto done;
    }
    for (k = 0; k < rn.done; k++)
        log_round(&rn, k / rn.K, k % rn.K);
    fprintf(stderr, "ggdm %s: %s%s (%d prompt%s x %d rounds of %d images, %d UNet calls each, %s)\n", CMD,
            resumed ? "resuming " : "", rn.dir, rn.R, rn.R > 1 ? "s" : "", rn.K, rn.bs,
            ggdm_sd_sched_calls(&rn.n.scfg), rn.o.sched == GGDM_SD_SCHED_PNDM ? "PNDM" : "DDIM");
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    /* 0. the pretrained pipeline's own images (prompts[0], their own latents), and its time */
    resumed = rn.pre_done;
    if (!rn.pre_done && !rn.o.no_pretrain) {
        float *text = encode_text(&rn.n, rn.prompts[0], rn.bs, rn.ex);
        double secs = 0;
        ggdm_status st;
        if (!text)
            goto restore;
        if (!generate(&rn, 0, -1, NULL, text, &secs)) {
            free(text);
            goto restore;
        }
        free(text);
        st = ggdm_vae_decode(&rn.n.vcfg, NULL, rn.n.vp, rn.bs, rn.z, rn.x, rn.lws, rn.lwsb, NULL, NULL, rn.ex);
        if (st != GGDM_OK) {
            fprintf(stderr, "ggdm %s: the VAE failed: %s\n", CMD, ggdm_status_str(st));
            goto restore;
        }
        if (rn.o.save_samples && !save_row(&rn, rn.x, "pretrain.rgb"))
            goto restore;
        rn.pre_time = secs;
        fprintf(stderr, "ggdm %s: the pretrained pipeline's generation: %.2f s\n", CMD, secs);
    }
    rn.pre_done = 1;
    if (!resumed && !ckpt_save(&rn))
        goto restore;
    /* 1. the rounds */
    for (n = (int)(rn.done / rn.K); n < rn.R; n++) {
        float *text = encode_text(&rn.n, rn.prompts[n], rn.bs, rn.ex);
        if (!text)
            goto restore;
        for (k = (int)(rn.done - (long)n * rn.K); k < rn.K; k++) {
            ggdm_sd_surrogate sur;
            double secs = 0, t_lin, tmp[1024];
            struct timespec t0, t1;
            char name[64];
            ggdm_status st;
            int j;
            sur.g = rn.g;
            sur.r = rn.r;
            sur.gx = rn.gx;
            if (!generate(&rn, n, k, k == 0 ? NULL : &sur, text, &secs)) {
                free(text);
                goto restore;
            }
            clock_gettime(CLOCK_MONOTONIC, &t0);
            st = ggdm_sd_linearize(&rn.n.vcfg, rn.n.vp, &rn.n.rcfg, rn.n.rp, rn.bs, rn.z, rn.x, rn.r, rn.g, rn.gx,
                                   rn.lws, rn.lwsb, rn.ex);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            if (st != GGDM_OK) {
                fprintf(stderr, "ggdm %s: the reward failed: %s\n", CMD, ggdm_status_str(st));
                free(text);
                goto restore;
            }
            for (j = 0; j < rn.bs; j++) {
                if (!(rn.r[j] - rn.r[j] == 0.0)) {
                    fprintf(stderr, "ggdm %s: prompt %d round %d: image %d's reward is %g; stopping (the committed "
                                    "rounds stay; lower --guidance?)\n", CMD, n, k, j, rn.r[j]);
                    free(text);
                    goto restore;
                }
                rn.rewards[((size_t)k * rn.R + n) * rn.bs + j] = rn.r[j];
            }
            t_lin = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
            rn.times[(size_t)n * rn.K + k] = secs + t_lin;
            if (rn.o.save_samples) {
                snprintf(name, sizeof name, "n%d_k%d.rgb", n, k);
                if (!save_row(&rn, rn.x, name)) {
                    free(text);
                    goto restore;
                }
            }
            rn.done = (long)n * rn.K + k + 1;
            if (!ckpt_save(&rn)) {
                free(text);
                goto restore;
            }
            log_round(&rn, n, k);
            {
                const double *v = rn.rewards + ((size_t)k * rn.R + n) * rn.bs;
                fprintf(stderr, "ggdm %s: %sround %d: reward %.6g +- %.3g (%.1f s)\n", CMD, "", k,
                        np_mean(v, (size_t)rn.bs), np_std(v, (size_t)rn.bs, tmp), rn.times[(size_t)n * rn.K + k]);
            }
            if (g_stop)
                break;
        }
        free(text);
        if (g_stop)
            break;
    }
    if (g_stop) {
        fprintf(stderr, "ggdm %s: interrupted after %ld of %d rounds; run the same command again to resume\n", CMD,
                rn.done, rn.K * rn.R);
        rc = 130;
        goto restore;
    }
    if (!write_results(&rn) || !write_config(&rn, argc, argv, "finished"))
        goto restore;
    {
        double tot = 0;
        long i;
        for (i = 0; i < rn.done; i++)
            tot += rn.times[i];
        printf("------------Time Summary-----------------\n");
        printf("Total rounds: %d\n", rn.K * rn.R);
        printf("The total optimizing time is: %.3f\n", tot);
        printf("Each round:\n optimizing time: %.3f\n", tot / (rn.K * rn.R));
        if (!rn.o.no_pretrain)
            printf("Time for unguided generation with pretrained model (Single Round): %.3f\n", rn.pre_time);
        printf("results: %s\n", rn.dir);
    }
    rc = 0;
restore:
    if (g_stop && rc == 1) {
        fprintf(stderr, "ggdm %s: interrupted after %ld of %d rounds; run the same command again to resume\n", CMD,
                rn.done, rn.K * rn.R);
        rc = 130;
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
done:
    run_free(&rn);
    return rc;
}
