#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ggdm_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return 0;
    if (argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n] != 0)
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "ggdm: option %s needs a value\n", name);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

int ggdm_opt_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v;
    errno = 0;
    v = strtoll(s, &end, 0);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "ggdm%s%s: %s expects an integer in %lld .. %lld, got '%s'\n", cmd[0] ? " " : "", cmd, opt, lo,
                hi, s);
        return 0;
    }
    *out = v;
    return 1;
}

int ggdm_opt_f64(const char *cmd, const char *opt, const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v != v || v == HUGE_VAL || v == -HUGE_VAL) {
        fprintf(stderr, "ggdm %s: %s expects a finite number, got '%s'\n", cmd, opt, s);
        return 0;
    }
    *out = v;
    return 1;
}

int ggdm_ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

int ggdm_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}
