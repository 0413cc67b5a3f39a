/* The subcommands of build/ggdm (each returns the process exit status). */
#ifndef GGDM_CLI_CMDS_H
#define GGDM_CLI_CMDS_H
#define GGDM_VERSION_STRING "0.2.0"
int ggdm_cmd_init(int argc, char **argv);
int ggdm_cmd_info(int argc, char **argv);
int ggdm_cmd_convert(int argc, char **argv);
int ggdm_cmd_eps(int argc, char **argv);
int ggdm_cmd_vjp(int argc, char **argv);
int ggdm_cmd_trace(int argc, char **argv);
int ggdm_cmd_loss_grad(int argc, char **argv);
int ggdm_cmd_diff(int argc, char **argv);
int ggdm_cmd_sample(int argc, char **argv);
int ggdm_cmd_guide(int argc, char **argv);
int ggdm_cmd_pretrain(int argc, char **argv);
int ggdm_cmd_optimize(int argc, char **argv);
/* The original's command line (main.py): `ggdm --optimize ...`, `ggdm --pretrain ...`;
 * optimize = 1 for `ggdm optimize ...` (--optimize implied). */
int ggdm_cmd_original(int argc, char **argv, int optimize);
int ggdm_cmd_demo(int argc, char **argv);
/* CLIP's tokenizer (cmd_tokenize.c) */
int ggdm_cmd_tokenize(int argc, char **argv);
/* The image experiment's networks (cmd_nets.c) */
int ggdm_cmd_reward_init(int argc, char **argv);
int ggdm_cmd_reward(int argc, char **argv);
int ggdm_cmd_clip_encode(int argc, char **argv);
int ggdm_cmd_unet2d(int argc, char **argv);
/* Stable Diffusion's networks (cmd_sd.c) */
int ggdm_cmd_vae_decode(int argc, char **argv);
/* A random Stable Diffusion folder in diffusers' layout (cmd_sdinit.c) */
int ggdm_cmd_sd_init(int argc, char **argv);
/* The paper's image experiment: gradient-guided Stable Diffusion rounds (cmd_image.c) */
int ggdm_cmd_image(int argc, char **argv);
int ggdm_cmd_image_demo(int argc, char **argv); /* cmd_imagedemo.c */
/* Stable Diffusion's schedulers over given model outputs (cmd_sdsched.c; hidden) */
int ggdm_cmd_sd_sched(int argc, char **argv);
/* The dispatcher (main.c): runs argv[1]'s command; impl names the implementation that
 * `ggdm conformance` checks (the reference's, or a GPU driver's). */
struct conf_impl;
int ggdm_cli_main(int argc, char **argv, const struct conf_impl *impl);
#endif
