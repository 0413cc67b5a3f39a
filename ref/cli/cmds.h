/* The subcommands of build/ggdm (each returns the process exit status). */
#ifndef GGDM_CLI_CMDS_H
#define GGDM_CLI_CMDS_H
int ggdm_cmd_init(int argc, char **argv);
int ggdm_cmd_info(int argc, char **argv);
int ggdm_cmd_eps(int argc, char **argv);
int ggdm_cmd_vjp(int argc, char **argv);
int ggdm_cmd_trace(int argc, char **argv);
int ggdm_cmd_loss_grad(int argc, char **argv);
int ggdm_cmd_diff(int argc, char **argv);
int ggdm_cmd_sample(int argc, char **argv);
int ggdm_cmd_guide(int argc, char **argv);
int ggdm_cmd_pretrain(int argc, char **argv);
int ggdm_cmd_optimize(int argc, char **argv);
int ggdm_cmd_demo(int argc, char **argv);
#endif
