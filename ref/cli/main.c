/*
 * The command-line front end's dispatcher, shared by build/ggdm (ggdm_main.c: the reference)
 * and build/ggdm-cuda (gpu/: the same commands with the network on the GPU). The only part
 * of ref/ that allocates, prints and touches files; everything it computes comes from libggdm.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../conformance/runner.h"
#include "args.h"
#include "cmds.h"
#include "ggdm/hash.h"
#include "ggdm/rng.h"
#include "ggdm/schedule.h"
#include "io.h"

#define GGDM_VERSION GGDM_VERSION_STRING

static const char *const usage_text =
    "usage: ggdm <command> [options]      (ggdm <command> --help for its options)\n"
    "       ggdm --optimize|--pretrain ...   the original's command line (main.py's flags; ggdm optimize --help)\n"
    "\n"
    "ggdm - gradient-guided diffusion, exact reference implementation " GGDM_VERSION "\n"
    "\n"
    "commands:\n"
    "  init          write a deterministically initialised Unet1D (safetensors, PyTorch names)\n"
    "  info          print a weights file's network configuration and tensors\n"
    "  convert       rewrite weights as safetensors or as the original's PyTorch checkpoint (.pth)\n"
    "  eps           the network's predicted noise eps(x, t) for a batch (.npy in, .npy out)\n"
    "  vjp           J_eps(x)^T v per sample, the input gradient G_loss guidance needs\n"
    "  loss-grad     the training loss and its parameter gradients (safetensors)\n"
    "  trace         every layer's output of one forward pass, as .npy files\n"
    "  diff          compare two traces layer by layer (localises a discrepancy)\n"
    "  sample        DDPM sampling, unguided or guided (G: v1, G_loss: v2); noise can be replayed\n"
    "  guide         the guided noise prediction of one step\n"
    "  pretrain      pre-train the score network on linear_latent or unit_ball data\n"
    "  optimize      Algorithm 1 (gradient-guided optimisation), or 2 with --score_matching_finetune\n"
    "  vae-decode    Stable Diffusion's VAE decoder: images from latents, and its input VJP\n"
    "  sd-init       a random Stable Diffusion pipeline folder (diffusers' layout; sd15 or tiny)\n"
    "  image         the paper's image experiment: Stable Diffusion guided round by round by a reward\n"
    "  image-demo    the image experiment on a small random model (about two minutes on 2 cores)\n"
    "  demo          pre-train a small network and compare G and G_loss (a few minutes on 2 cores)\n"
    "  reward-init   write a random image reward model (ResNet-18, torchvision's names)\n"
    "  reward        the image reward of images and its input gradient (the reward model)\n"
    "  clip-encode   Stable Diffusion's text encoder: hidden states of token ids\n"
    "  unet2d        Stable Diffusion's UNet: noise prediction of latents, and its input VJP\n"
    "  schedule      write the noise-schedule tables (the original's buffer names) to .npz/.npy\n"
    "  rng           write numbers of a random stream (Philox4x32-10) to .npy\n"
    "  hash          print the XXH3-64 of the data of .npy files (little-endian bytes)\n"
    "  tokenize      CLIP's tokenizer (SD v1.5): the token ids of texts\n"
    "  conformance   recompute the golden vectors and compare (make conformance)\n"
    "  vectors       regenerate the golden vectors (make vectors; only after a documented change)\n"
    "  version       print the version\n"
    "\n"
    "Exit status: 0 success, 1 failure or mismatch, 2 usage error.\n"
    "Documentation: docs/math.md (exact definitions), docs/conformance.md, docs/cli.md.\n";

/* --name VALUE / --name=VALUE (args.c); a missing value or a bad integer is a usage error. */
static int opt_match(int argc, char **argv, int *i, const char *name, const char **val)
{
    int r = ggdm_opt(argc, argv, i, name, val);
    if (r < 0)
        exit(2);
    return r;
}

static long long parse_int(const char *opt, const char *s, long long lo, long long hi)
{
    long long v = 0;
    if (!ggdm_opt_int("", opt, s, lo, hi, &v))
        exit(2);
    return v;
}

static int cmd_schedule(int argc, char **argv)
{
    const char *val, *out = NULL, *kind_s = "cosine";
    int T = 200, i, k;
    ggdm_schedule_kind kind;
    ggdm_array tab;
    uint64_t shape[2];
    char err[512];
    ggdm_status st;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: ggdm schedule [--T 200] [--schedule cosine|linear] -o FILE.npz|FILE.npy\n"
                   "Computes the diffusion schedule in float64 and rounds each table once to float32.\n"
                   ".npz: one float32 array of length T per table, under the original's buffer names:\n");
            for (k = 0; k < GGDM_SCHED_NUM_TABLES; k++)
                printf("  %s\n", ggdm_schedule_table_name(k));
            printf(".npy: one (12, T) float32 array, rows in that order.\n");
            return 0;
        } else if (opt_match(argc, argv, &i, "--T", &val)) {
            T = (int)parse_int("--T", val, 1, GGDM_SCHEDULE_MAX_T);
        } else if (opt_match(argc, argv, &i, "--schedule", &val)) {
            kind_s = val;
        } else if (opt_match(argc, argv, &i, "-o", &val) || opt_match(argc, argv, &i, "--output", &val)) {
            out = val;
        } else {
            fprintf(stderr, "ggdm schedule: unknown option '%s' (see ggdm schedule --help)\n", argv[i]);
            return 2;
        }
    }
    if (ggdm_schedule_kind_parse(kind_s, &kind) != GGDM_OK) {
        fprintf(stderr, "ggdm schedule: --schedule must be cosine or linear, not '%s'\n", kind_s);
        return 2;
    }
    if (!out) {
        fprintf(stderr, "ggdm schedule: -o FILE.npz (or FILE.npy) is required\n");
        return 2;
    }
    shape[0] = GGDM_SCHED_NUM_TABLES;
    shape[1] = (uint64_t)T;
    if (ggdm_array_alloc(&tab, GGDM_DT_F32, 2, shape) != GGDM_OK) {
        fprintf(stderr, "ggdm schedule: out of memory\n");
        return 1;
    }
    st = ggdm_schedule_compute(kind, T, (float *)tab.data, (size_t)tab.count);
    if (st != GGDM_OK) {
        if (kind == GGDM_SCHEDULE_LINEAR && T <= 20)
            fprintf(stderr, "ggdm schedule: the linear schedule needs --T above 20 (its last beta is 20/T; "
                            "alpha = 1 - beta must stay positive)\n");
        else
            fprintf(stderr, "ggdm schedule: %s\n", ggdm_status_str(st));
        ggdm_array_free(&tab);
        return 1;
    }
    if (ggdm_ends_with(out, ".npy")) {
        st = ggdm_io_save_npy(out, &tab, err, sizeof err);
    } else {
        ggdm_array parts[GGDM_SCHED_NUM_TABLES];
        const char *names[GGDM_SCHED_NUM_TABLES];
        for (k = 0; k < GGDM_SCHED_NUM_TABLES; k++) {
            memset(&parts[k], 0, sizeof parts[k]);
            parts[k].dtype = GGDM_DT_F32;
            parts[k].ndim = 1;
            parts[k].shape[0] = (uint64_t)T;
            parts[k].count = (uint64_t)T;
            parts[k].data = (float *)tab.data + (size_t)k * (size_t)T;
            names[k] = ggdm_schedule_table_name(k);
        }
        st = ggdm_io_save_npz(out, names, parts, GGDM_SCHED_NUM_TABLES, err, sizeof err);
    }
    ggdm_array_free(&tab);
    if (st != GGDM_OK) {
        fprintf(stderr, "ggdm schedule: %s\n", err);
        return 1;
    }
    return 0;
}

static int cmd_rng(int argc, char **argv)
{
    const char *val, *out = NULL, *dist = "normal";
    unsigned long long seed = 0, start = 0;
    uint64_t n = 16;
    long long purpose = 0, a = 0, b = 0;
    ggdm_array arr;
    char err[512];
    uint64_t stream;
    int i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: ggdm rng [--dist normal|uniform|u32] [--seed S] [--purpose P] [--a A] [--b B]\n"
                   "                [--start I] [-n N] -o FILE.npy\n"
                   "Writes numbers start .. start+N-1 of the stream (seed, purpose<<56 | a<<32 | b);\n"
                   "purposes: 0 test, 1 initial noise, 2 step noise, 3 training t, 4 training noise,\n"
                   "5 weight init, 6 data, 7 hyper-parameters (docs/math.md, Random streams).\n");
            return 0;
        } else if (opt_match(argc, argv, &i, "--dist", &val)) {
            dist = val;
        } else if (opt_match(argc, argv, &i, "--seed", &val)) {
            seed = (unsigned long long)parse_int("--seed", val, 0, 0x7FFFFFFFFFFFFFFFll);
        } else if (opt_match(argc, argv, &i, "--purpose", &val)) {
            purpose = parse_int("--purpose", val, 0, 255);
        } else if (opt_match(argc, argv, &i, "--a", &val)) {
            a = parse_int("--a", val, 0, 0xFFFFFF);
        } else if (opt_match(argc, argv, &i, "--b", &val)) {
            b = parse_int("--b", val, 0, 0xFFFFFFFFll);
        } else if (opt_match(argc, argv, &i, "--start", &val)) {
            start = (unsigned long long)parse_int("--start", val, 0, 0x7FFFFFFFFFFFFFFFll);
        } else if (opt_match(argc, argv, &i, "-n", &val)) {
            n = (uint64_t)parse_int("-n", val, 1, 1ll << 30);
        } else if (opt_match(argc, argv, &i, "-o", &val) || opt_match(argc, argv, &i, "--output", &val)) {
            out = val;
        } else {
            fprintf(stderr, "ggdm rng: unknown option '%s' (see ggdm rng --help)\n", argv[i]);
            return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "ggdm rng: -o FILE.npy is required\n");
        return 2;
    }
    stream = ggdm_stream_id((ggdm_stream_purpose)purpose, (uint32_t)a, (uint32_t)b);
    if (strcmp(dist, "u32") == 0) {
        if (ggdm_array_alloc(&arr, GGDM_DT_U32, 1, &n) != GGDM_OK)
            return 1;
        ggdm_rng_fill_u32(seed, stream, start, (uint32_t *)arr.data, n);
    } else if (strcmp(dist, "uniform") == 0 || strcmp(dist, "normal") == 0) {
        if (ggdm_array_alloc(&arr, GGDM_DT_F32, 1, &n) != GGDM_OK)
            return 1;
        if (dist[0] == 'u')
            ggdm_rng_fill_uniform(seed, stream, start, (float *)arr.data, n);
        else
            ggdm_rng_fill_normal(seed, stream, start, (float *)arr.data, n);
    } else {
        fprintf(stderr, "ggdm rng: --dist must be normal, uniform or u32, not '%s'\n", dist);
        return 2;
    }
    i = ggdm_io_save_npy(out, &arr, err, sizeof err) == GGDM_OK ? 0 : 1;
    if (i)
        fprintf(stderr, "ggdm rng: %s\n", err);
    ggdm_array_free(&arr);
    return i;
}

static int cmd_hash(int argc, char **argv)
{
    int i, rc = 0;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("usage: ggdm hash FILE.npy...\n"
               "Prints XXH3-64 of each array's data (little-endian bytes, as stored), dtype and shape.\n");
        return argc < 2 ? 2 : 0;
    }
    for (i = 1; i < argc; i++) {
        ggdm_array a;
        char err[512], hex[17], desc[128];
        uint64_t h = 0;
        if (ggdm_io_load_npy(argv[i], &a, err, sizeof err) != GGDM_OK) {
            fprintf(stderr, "ggdm hash: %s\n", err);
            rc = 1;
            continue;
        }
        switch (a.dtype) {
        case GGDM_DT_F32: h = ggdm_hash_f32((const float *)a.data, a.count); break;
        case GGDM_DT_F64: h = ggdm_hash_f64((const double *)a.data, a.count); break;
        case GGDM_DT_I64: h = ggdm_hash_i64((const int64_t *)a.data, a.count); break;
        case GGDM_DT_U32: h = ggdm_hash_u32((const uint32_t *)a.data, a.count); break;
        }
        ggdm_hash_hex(h, hex);
        ggdm_array_describe(&a, desc, sizeof desc);
        printf("%s  %s  %s\n", hex, desc, argv[i]);
        ggdm_array_free(&a);
    }
    return rc;
}

int ggdm_cli_main(int argc, char **argv, const conf_impl *impl)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;
    if (!cmd || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, cmd ? stdout : stderr);
        return cmd ? 0 : 2;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("ggdm %s (%s)\n", GGDM_VERSION, strcmp(impl->name, "ref") == 0 ? "reference, C99" : impl->name);
        return 0;
    }
    if (cmd[0] == '-' && cmd[1] == '-') /* the original's command line: python main.py --optimize ... */
        return ggdm_cmd_original(argc, argv, 0);
    if (strcmp(cmd, "init") == 0)
        return ggdm_cmd_init(argc - 1, argv + 1);
    if (strcmp(cmd, "info") == 0)
        return ggdm_cmd_info(argc - 1, argv + 1);
    if (strcmp(cmd, "convert") == 0)
        return ggdm_cmd_convert(argc - 1, argv + 1);
    if (strcmp(cmd, "eps") == 0)
        return ggdm_cmd_eps(argc - 1, argv + 1);
    if (strcmp(cmd, "reward-init") == 0)
        return ggdm_cmd_reward_init(argc - 1, argv + 1);
    if (strcmp(cmd, "reward") == 0)
        return ggdm_cmd_reward(argc - 1, argv + 1);
    if (strcmp(cmd, "clip-encode") == 0)
        return ggdm_cmd_clip_encode(argc - 1, argv + 1);
    if (strcmp(cmd, "unet2d") == 0)
        return ggdm_cmd_unet2d(argc - 1, argv + 1);
    if (strcmp(cmd, "vjp") == 0)
        return ggdm_cmd_vjp(argc - 1, argv + 1);
    if (strcmp(cmd, "loss-grad") == 0)
        return ggdm_cmd_loss_grad(argc - 1, argv + 1);
    if (strcmp(cmd, "trace") == 0)
        return ggdm_cmd_trace(argc - 1, argv + 1);
    if (strcmp(cmd, "vae-decode") == 0)
        return ggdm_cmd_vae_decode(argc - 1, argv + 1);
    if (strcmp(cmd, "sd-init") == 0)
        return ggdm_cmd_sd_init(argc - 1, argv + 1);
    if (strcmp(cmd, "image") == 0)
        return ggdm_cmd_image(argc - 1, argv + 1);
    if (strcmp(cmd, "image-demo") == 0)
        return ggdm_cmd_image_demo(argc - 1, argv + 1);
    if (strcmp(cmd, "sd-sched") == 0) /* hidden: ci/interop/sd_sched_vs_diffusers.py */
        return ggdm_cmd_sd_sched(argc - 1, argv + 1);
    if (strcmp(cmd, "diff") == 0)
        return ggdm_cmd_diff(argc - 1, argv + 1);
    if (strcmp(cmd, "sample") == 0)
        return ggdm_cmd_sample(argc - 1, argv + 1);
    if (strcmp(cmd, "guide") == 0)
        return ggdm_cmd_guide(argc - 1, argv + 1);
    if (strcmp(cmd, "pretrain") == 0)
        return ggdm_cmd_pretrain(argc - 1, argv + 1);
    if (strcmp(cmd, "optimize") == 0)
        return ggdm_cmd_optimize(argc - 1, argv + 1);
    if (strcmp(cmd, "demo") == 0)
        return ggdm_cmd_demo(argc - 1, argv + 1);
    if (strcmp(cmd, "schedule") == 0)
        return cmd_schedule(argc - 1, argv + 1);
    if (strcmp(cmd, "rng") == 0)
        return cmd_rng(argc - 1, argv + 1);
    if (strcmp(cmd, "hash") == 0)
        return cmd_hash(argc - 1, argv + 1);
    if (strcmp(cmd, "png-test") == 0) { int ggdm_cmd_png_test(int, char **); return ggdm_cmd_png_test(argc - 1, argv + 1); }
    if (strcmp(cmd, "tokenize") == 0)
        return ggdm_cmd_tokenize(argc - 1, argv + 1);
    if (strcmp(cmd, "conformance") == 0)
        return conf_main(argc - 1, argv + 1, impl, 0);
    if (strcmp(cmd, "vectors") == 0) {
        if (strcmp(impl->name, "ref") != 0) {
            fprintf(stderr, "ggdm vectors: only the reference (build/ggdm) writes golden vectors, not %s\n",
                    impl->name);
            return 2;
        }
        return conf_main(argc - 1, argv + 1, impl, 1);
    }
    fprintf(stderr, "ggdm: unknown command '%s'\n\n%s", cmd, usage_text);
    return 2;
}
