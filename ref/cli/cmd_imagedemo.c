/*
 * ggdm image-demo: the image experiment end to end on the CPU in about two minutes
 * (docs/image.md, "CPU demo"): a small random Stable Diffusion folder (`ggdm sd-init --config
 * small`), a random ResNet-18 reward (`ggdm reward-init`), then `ggdm image` at 128 px with the
 * authors' loop. Rerunning resumes or says it is finished; the networks are written once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cmds.h"
#include "io.h"

#define CMD "image-demo"

static const char *const demo_help =
    "usage: ggdm image-demo [--out DIR] [--threads N] [--opt_steps K] [--guidance B] [--target Y]\n"
    "The paper's image experiment in about two minutes on 2 CPU cores: writes DIR/sd (a small random\n"
    "Stable Diffusion pipeline in diffusers' layout: `ggdm sd-init --config small`) and\n"
    "DIR/reward.safetensors (a random ResNet-18: `ggdm reward-init`), then runs\n"
    "  ggdm image --model DIR/sd --reward DIR/reward.safetensors --prompt \"a photo of a cat\"\n"
    "             --image_size 128 --bs 4 --steps 10 --opt_steps 6 --seed 42 --target 0 --guidance 1000000\n"
    "             --save_samples --out_dir DIR/results\n"
    "and prints the reward of every round. Random networks make textures, not pictures: the demo\n"
    "shows the loop, the files and the reward's response to guidance; real SD v1.5 weights\n"
    "(--model a diffusers folder) at 512 px need a GPU (docs/image.md). DIR: image_demo_out.\n";

int ggdm_cmd_image_demo(int argc, char **argv)
{
    const char *out = "image_demo_out", *threads = NULL, *val, *K = "6", *G = "1000000", *Y = "0";
    char sd[4096], rw[4096], res[4096];
    int i, r, n;
    for (i = 1; i < argc; i++) {
        if (ggdm_is_help(argv[i])) {
            fputs(demo_help, stdout);
            return 0;
        }
        if ((r = ggdm_opt(argc, argv, &i, "--out", &val)) != 0) {
            if (r < 0) return 2;
            out = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--threads", &val)) != 0) {
            long long t;
            if (r < 0 || !ggdm_opt_int(CMD, "--threads", val, 1, 1024, &t)) return 2;
            threads = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--opt_steps", &val)) != 0) {
            long long t;
            if (r < 0 || !ggdm_opt_int(CMD, "--opt_steps", val, 1, 1000, &t)) return 2;
            K = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--guidance", &val)) != 0) {
            double d;
            if (r < 0 || !ggdm_opt_f64(CMD, "--guidance", val, &d)) return 2;
            G = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--target", &val)) != 0) {
            double d;
            if (r < 0 || !ggdm_opt_f64(CMD, "--target", val, &d)) return 2;
            Y = val;
        } else {
            fprintf(stderr, "ggdm %s: unknown option '%s' (see ggdm %s --help)\n", CMD, argv[i], CMD);
            return 2;
        }
    }
    n = snprintf(sd, sizeof sd, "%s/sd", out);
    n |= snprintf(rw, sizeof rw, "%s/reward.safetensors", out);
    n |= snprintf(res, sizeof res, "%s/results", out);
    if (n < 0 || strlen(out) > sizeof sd - 32) {
        fprintf(stderr, "ggdm %s: --out %s: the path is too long\n", CMD, out);
        return 2;
    }
    if (ggdm_io_mkdirs(out) != 0) {
        fprintf(stderr, "ggdm %s: cannot create %s\n", CMD, out);
        return 1;
    }
    if (!ggdm_io_exists(sd)) {
        char *a[] = {"sd-init", "--config", "small", "--seed", "5", "-o", sd, NULL};
        fprintf(stderr, "ggdm %s: writing a small random Stable Diffusion folder %s\n", CMD, sd);
        if (ggdm_cmd_sd_init(7, a) != 0)
            return 1;
    }
    if (!ggdm_io_exists(rw)) {
        char *a[] = {"reward-init", "--seed", "11", "-o", rw, NULL};
        fprintf(stderr, "ggdm %s: writing a random ResNet-18 reward %s\n", CMD, rw);
        if (ggdm_cmd_reward_init(5, a) != 0)
            return 1;
    }
    {
        char *a[40];
        int k = 0;
        a[k++] = "image";
        a[k++] = "--model", a[k++] = sd;
        a[k++] = "--reward", a[k++] = rw;
        a[k++] = "--prompt", a[k++] = "a photo of a cat";
        a[k++] = "--image_size", a[k++] = "128";
        a[k++] = "--bs", a[k++] = "4";
        a[k++] = "--steps", a[k++] = "10";
        a[k++] = "--opt_steps", a[k++] = (char *)K;
        a[k++] = "--seed", a[k++] = "42";
        a[k++] = "--target", a[k++] = (char *)Y;
        a[k++] = "--guidance", a[k++] = (char *)G;
        a[k++] = "--save_samples";
        a[k++] = "--out_dir", a[k++] = res;
        if (threads)
            a[k++] = "--threads", a[k++] = (char *)threads;
        a[k] = NULL;
        r = ggdm_cmd_image(k, a);
    }
    if (r == 0)
        printf("the grids: %s/*/generated_images/ (pretrain.png, step_K.png); the reward per round: "
               "%s/*/mean_rewards.csv and reward_plot.svg\n", res, res);
    return r;
}
