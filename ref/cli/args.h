/* Front end: option parsing shared by the subcommands (--name VALUE or --name=VALUE). */
#ifndef GGDM_CLI_ARGS_H
#define GGDM_CLI_ARGS_H

/* 1 when argv[*i] is the option `name` (its value in *val, *i advanced); 0 when not;
 * -1 (after printing why) when its value is missing. */
int ggdm_opt(int argc, char **argv, int *i, const char *name, const char **val);
/* Parses an integer in [lo, hi]; prints a clear message and returns 0 on failure. */
int ggdm_opt_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out);
int ggdm_opt_f64(const char *cmd, const char *opt, const char *s, double *out);
int ggdm_ends_with(const char *s, const char *suf);
int ggdm_is_help(const char *arg);

#endif
