/*
 * pwalk.h - internal to ref/src: the parameter walk every network shares (ggdm/param.h).
 *
 * A network's parameter layout is defined by ONE walk over its modules in state-dict order:
 * each ggdm_pwalk_add gives the next tensor its offset in the flat array (the running sum of
 * the counts before it). Walked with want = -1 it only counts (n tensors, n floats); with
 * want = i it also reports tensor i. The builder then wires its graph from the offsets the
 * same walk returned, so the table and the graph cannot disagree.
 */
#ifndef GGDM_PWALK_H
#define GGDM_PWALK_H

#include <stdio.h>
#include <string.h>

#include "ggdm/param.h"

typedef struct ggdm_pwalk {
    uint64_t off;          /* floats so far */
    int count;             /* tensors so far */
    int want;              /* tensor to report, or -1 */
    ggdm_param_info *info; /* receives tensor `want` */
    int overflow;          /* a name did not fit, or a count overflowed */
} ggdm_pwalk;

static inline void ggdm_pwalk_begin(ggdm_pwalk *w, int want, ggdm_param_info *info)
{
    memset(w, 0, sizeof *w);
    w->want = want;
    w->info = info;
}

/* Adds tensor `name` (prefix "." name; prefix may be "") of ndim dims s[0..ndim-1]; returns its offset. */
static inline uint64_t ggdm_pwalk_add(ggdm_pwalk *w, const char *prefix, const char *name, int ndim, uint64_t s0,
                                      uint64_t s1, uint64_t s2, uint64_t s3, uint64_t fan_in, int init)
{
    uint64_t s[GGDM_PARAM_MAX_DIMS], n = 1, off = w->off;
    int d;
    s[0] = s0;
    s[1] = s1;
    s[2] = s2;
    s[3] = s3;
    for (d = 0; d < ndim; d++) {
        if (s[d] != 0 && n > ((uint64_t)1 << 40) / s[d])
            w->overflow = 1;
        n *= s[d];
    }
    if (w->count == w->want && w->info) {
        ggdm_param_info *t = w->info;
        int len;
        memset(t, 0, sizeof *t);
        len = snprintf(t->name, sizeof t->name, "%s%s%s", prefix, *prefix ? "." : "", name);
        if (len < 0 || (size_t)len >= sizeof t->name)
            w->overflow = 1;
        t->ndim = ndim;
        for (d = 0; d < ndim; d++)
            t->shape[d] = s[d];
        t->offset = off;
        t->count = n;
        t->fan_in = fan_in;
        t->init = init;
    }
    w->count++;
    w->off += n;
    return off;
}

#endif /* GGDM_PWALK_H */
