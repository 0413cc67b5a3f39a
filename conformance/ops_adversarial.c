/*
 * Adversarial conformance ops (see ops_adversarial.h): each reads a hostile input file of
 * vectors/ (or a configuration) and returns the status the reference's reader or check
 * gives it, so that `expect = error:STATUS` vectors pin down how every invalid input is
 * rejected. On success they also produce an output, so a valid file can be a vector too.
 *
 *   parse_npy          file=@F.npy [as=f32|f64|i64|u32] [finite=1] [prefix=N]
 *                      ggdm_npy_parse of the whole file (or of its first N bytes, with the
 *                      file's size), then the decoder `as` (default: the stored dtype), then
 *                      with finite=1 ggdm_f32/f64_all_finite (GGDM_ERR_NONFINITE), the check
 *                      the command applies to its inputs. Output: the decoded array.
 *   parse_npz          file=@F.npz member=NAME [as=] [finite=1]
 *                      ggdm_npz_find, then the member as parse_npy.
 *   parse_safetensors  file=@F.safetensors [tensor=NAME] [finite=1]
 *                      ggdm_st_parse (both calls); with tensor=, ggdm_st_find and
 *                      ggdm_st_load_f32 (and the finiteness check). Output: the tensor as
 *                      float32, or int64 [tensors, metadata entries].
 *   load_unet          file=@F.safetensors [finite=1]
 *                      the command's loader ggdm_cli_load_unet (ref/cli/weights.c), then
 *                      with finite=1 every parameter finite. Output: int64 [dim, levels,
 *                      groups, length, heads, dim_head, parameters].
 *   unet_check         dim, mults, groups, length, heads, dim_head (defaults: the paper's)
 *                      [N]: ggdm_unet_cfg_check, ggdm_unet_num_params and, with N,
 *                      ggdm_unet_workspace_bytes (forward and backward). Output: int64
 *                      [parameters, tensors, forward bytes, backward bytes].
 */
#include "ops_adversarial.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ref/cli/weights.h"
#include "ggdm/npy.h"
#include "ggdm/safetensors.h"
#include "ggdm/unet.h"

static ggdm_status fail(conf_call *c, ggdm_status st, const char *what, const char *msg)
{
    snprintf(c->err, sizeof c->err, "%s: %s", what, msg && msg[0] ? msg : ggdm_status_str(st));
    return st;
}

/* Reads the file named by the parameter `key` (@path, relative to the vectors folder). */
static ggdm_status read_input(conf_call *c, const char *key, uint8_t **buf, uint64_t *len, char *path, size_t cap)
{
    const char *s = conf_param(c, key);
    *buf = NULL;
    *len = 0;
    if (!s || s[0] != '@') {
        snprintf(c->err, sizeof c->err, "parameter %s=@FILE is missing", key);
        return GGDM_ERR_FORMAT;
    }
    snprintf(path, cap, "%s/%s", c->dir, s + 1);
    return ggdm_io_read_file(path, buf, len, c->err, sizeof c->err);
}

static int flag(conf_call *c, const char *key)
{
    const char *s = conf_param(c, key);
    return s && strcmp(s, "1") == 0;
}

/* Decodes a parsed .npy (data = its data bytes) as `as=`, checks finiteness on request,
 * and makes the output array. */
static ggdm_status decode_npy(conf_call *c, ggdm_npy_info *info, const uint8_t *data)
{
    const char *as = conf_param(c, "as");
    ggdm_dtype dt = info->dtype;
    ggdm_status st;
    uint64_t bad = 0;
    if (as) {
        if (strcmp(as, "f32") == 0) dt = GGDM_DT_F32;
        else if (strcmp(as, "f64") == 0) dt = GGDM_DT_F64;
        else if (strcmp(as, "i64") == 0) dt = GGDM_DT_I64;
        else if (strcmp(as, "u32") == 0) dt = GGDM_DT_U32;
        else return fail(c, GGDM_ERR_FORMAT, "parameter as", "must be f32, f64, i64 or u32");
    }
    st = ggdm_array_alloc(&c->out, dt, info->ndim, info->shape);
    if (st != GGDM_OK)
        return fail(c, st, "npy", "cannot hold the array in memory");
    switch (dt) {
    case GGDM_DT_F32: st = ggdm_npy_decode_f32(info, data, (float *)c->out.data, c->out.count); break;
    case GGDM_DT_F64: st = ggdm_npy_decode_f64(info, data, (double *)c->out.data, c->out.count); break;
    case GGDM_DT_I64: st = ggdm_npy_decode_i64(info, data, (int64_t *)c->out.data, c->out.count); break;
    case GGDM_DT_U32: st = ggdm_npy_decode_u32(info, data, (uint32_t *)c->out.data, c->out.count); break;
    }
    if (st != GGDM_OK)
        return fail(c, st, "decode", info->msg);
    if (flag(c, "finite")) {
        int ok = dt == GGDM_DT_F32   ? ggdm_f32_all_finite((const float *)c->out.data, c->out.count, &bad)
                 : dt == GGDM_DT_F64 ? ggdm_f64_all_finite((const double *)c->out.data, c->out.count, &bad)
                                     : 1;
        if (!ok) {
            snprintf(c->err, sizeof c->err, "element %llu is not finite", (unsigned long long)bad);
            return GGDM_ERR_NONFINITE;
        }
    }
    return GGDM_OK;
}

ggdm_status conf_op_parse_npy(conf_call *c)
{
    char path[1024];
    uint8_t *buf;
    uint64_t len, plen;
    long long prefix;
    ggdm_npy_info info;
    ggdm_status st = read_input(c, "file", &buf, &len, path, sizeof path);
    if (st != GGDM_OK)
        return st;
    st = conf_param_i64(c, "prefix", -1, &prefix);
    if (st == GGDM_OK) {
        plen = prefix >= 0 && (uint64_t)prefix < len ? (uint64_t)prefix : len;
        st = ggdm_npy_parse(buf, plen, len, &info);
        if (st != GGDM_OK)
            fail(c, st, "parse", info.msg);
        else
            st = decode_npy(c, &info, buf + info.header_bytes);
    }
    free(buf);
    return st;
}

ggdm_status conf_op_parse_npz(conf_call *c)
{
    char path[1024], msg[GGDM_NPY_MSG_LEN];
    const char *member = conf_param(c, "member");
    uint8_t *buf;
    uint64_t len, off = 0, mlen = 0;
    ggdm_npy_info info;
    ggdm_status st = read_input(c, "file", &buf, &len, path, sizeof path);
    if (st != GGDM_OK)
        return st;
    msg[0] = 0;
    st = ggdm_npz_find(buf, len, member ? member : "", &off, &mlen, msg);
    if (st != GGDM_OK) {
        fail(c, st, "npz", msg);
    } else {
        st = ggdm_npy_parse(buf + off, mlen, mlen, &info);
        if (st != GGDM_OK)
            fail(c, st, "member", info.msg);
        else
            st = decode_npy(c, &info, buf + off + info.header_bytes);
    }
    free(buf);
    return st;
}

ggdm_status conf_op_parse_safetensors(conf_call *c)
{
    char path[1024], msg[GGDM_ST_MSG_LEN];
    const char *name = conf_param(c, "tensor");
    uint8_t *buf;
    uint64_t len, nt = 0, nm = 0, idx = 0, bad = 0;
    ggdm_st_tensor *t = NULL;
    ggdm_st_meta *m = NULL;
    ggdm_status st = read_input(c, "file", &buf, &len, path, sizeof path);
    if (st != GGDM_OK)
        return st;
    msg[0] = 0;
    st = ggdm_st_parse(buf, len, NULL, 0, &nt, NULL, 0, &nm, msg);
    if (st == GGDM_ERR_BUFFER_TOO_SMALL) {
        t = (ggdm_st_tensor *)calloc((size_t)nt + 1, sizeof *t);
        m = (ggdm_st_meta *)calloc((size_t)nm + 1, sizeof *m);
        st = t && m ? ggdm_st_parse(buf, len, t, nt, &nt, m, nm, &nm, msg) : GGDM_ERR_IO;
    }
    if (st != GGDM_OK) {
        fail(c, st, "safetensors", msg);
    } else if (!name) {
        uint64_t two = 2;
        st = ggdm_array_alloc(&c->out, GGDM_DT_I64, 1, &two);
        if (st == GGDM_OK) {
            ((int64_t *)c->out.data)[0] = (int64_t)nt;
            ((int64_t *)c->out.data)[1] = (int64_t)nm;
        }
    } else if ((st = ggdm_st_find(buf, len, t, nt, name, &idx, msg)) != GGDM_OK) {
        fail(c, st, "find", msg);
    } else {
        uint64_t shape[GGDM_NPY_MAX_DIMS];
        int d;
        for (d = 0; d < t[idx].ndim; d++)
            shape[d] = t[idx].shape[d];
        st = ggdm_array_alloc(&c->out, GGDM_DT_F32, t[idx].ndim, shape);
        if (st != GGDM_OK)
            fail(c, st, "tensor", "cannot hold it in memory");
        else if ((st = ggdm_st_load_f32(buf, len, &t[idx], (float *)c->out.data, c->out.count, msg)) != GGDM_OK)
            fail(c, st, "load_f32", msg);
        else if (flag(c, "finite") && !ggdm_f32_all_finite((const float *)c->out.data, c->out.count, &bad)) {
            snprintf(c->err, sizeof c->err, "tensor %s: element %llu is not finite", name, (unsigned long long)bad);
            st = GGDM_ERR_NONFINITE;
        }
    }
    free(t);
    free(m);
    free(buf);
    return st;
}

ggdm_status conf_op_load_unet(conf_call *c)
{
    char path[1024], err[1024];
    const char *s = conf_param(c, "file");
    ggdm_unet_cfg cfg;
    float *params = NULL;
    uint64_t count = 0, bad = 0, seven = 7;
    int known = 0;
    ggdm_status st;
    if (!s || s[0] != '@')
        return fail(c, GGDM_ERR_FORMAT, "parameter file=@FILE", "is missing");
    snprintf(path, sizeof path, "%s/%s", c->dir, s + 1);
    ggdm_unet_cfg_default(&cfg);
    err[0] = 0;
    st = ggdm_cli_load_unet(path, &cfg, &params, &count, &known, err, sizeof err);
    if (st != GGDM_OK)
        return fail(c, st, "load_unet", err);
    if (flag(c, "finite") && !ggdm_f32_all_finite(params, count, &bad)) {
        snprintf(c->err, sizeof c->err, "parameter %llu is not finite", (unsigned long long)bad);
        free(params);
        return GGDM_ERR_NONFINITE;
    }
    free(params);
    st = ggdm_array_alloc(&c->out, GGDM_DT_I64, 1, &seven);
    if (st == GGDM_OK) {
        int64_t *o = (int64_t *)c->out.data;
        o[0] = cfg.dim;
        o[1] = cfg.n_levels;
        o[2] = cfg.groups;
        o[3] = cfg.length;
        o[4] = cfg.heads;
        o[5] = cfg.dim_head;
        o[6] = (int64_t)count;
    }
    return st;
}

ggdm_status conf_op_unet_check(conf_call *c)
{
    ggdm_unet_cfg cfg;
    const char *mults = conf_param(c, "mults");
    char msg[GGDM_UNET_MSG_LEN];
    long long v, N;
    uint64_t np = 0, four = 4;
    int nt = 0;
    size_t wf = 0, wb = 0;
    ggdm_status st;
    ggdm_unet_cfg_default(&cfg);
#define INTP(key, field)                                                                                               \
    if ((st = conf_param_i64(c, key, cfg.field, &v)) != GGDM_OK)                                                      \
        return st;                                                                                                     \
    cfg.field = v < -2147483647LL ? -2147483647 : v > 2147483647LL ? 2147483647 : (int)v;
    INTP("dim", dim)
    INTP("groups", groups)
    INTP("length", length)
    INTP("heads", heads)
    INTP("dim_head", dim_head)
#undef INTP
    if (mults) { /* up to GGDM_UNET_MAX_LEVELS + 1 entries: one too many is an impossible configuration */
        const char *p = mults;
        int n = 0;
        int tmp[GGDM_UNET_MAX_LEVELS + 1];
        while (*p && n <= GGDM_UNET_MAX_LEVELS) {
            char *end;
            long m = strtol(p, &end, 10);
            if (end == p)
                return fail(c, GGDM_ERR_FORMAT, "parameter mults", "is not a list of integers");
            tmp[n++] = m < -2147483647L ? -2147483647 : m > 2147483647L ? 2147483647 : (int)m;
            p = *end == ',' ? end + 1 : end;
        }
        cfg.n_levels = n;
        memcpy(cfg.dim_mults, tmp, sizeof(int) * (size_t)(n < GGDM_UNET_MAX_LEVELS ? n : GGDM_UNET_MAX_LEVELS));
        if (*p)
            cfg.n_levels = GGDM_UNET_MAX_LEVELS + 2; /* more than 9 */
    }
    st = ggdm_unet_cfg_check(&cfg, msg);
    if (st != GGDM_OK)
        return fail(c, st, "unet", msg);
    if ((st = ggdm_unet_num_params(&cfg, &np)) != GGDM_OK || (st = ggdm_unet_num_tensors(&cfg, &nt)) != GGDM_OK)
        return fail(c, st, "unet", "sizes");
    if ((st = conf_param_i64(c, "N", 0, &N)) != GGDM_OK)
        return st;
    if (conf_param(c, "N")) {
        int n = N < -2147483647LL ? -2147483647 : N > 2147483647LL ? 2147483647 : (int)N;
        if ((st = ggdm_unet_workspace_bytes(&cfg, n, GGDM_UNET_FORWARD, &wf)) != GGDM_OK ||
            (st = ggdm_unet_workspace_bytes(&cfg, n, GGDM_UNET_BACKWARD, &wb)) != GGDM_OK)
            return fail(c, st, "workspace", "N must be in 1 .. 2^24 and the workspace addressable");
    }
    st = ggdm_array_alloc(&c->out, GGDM_DT_I64, 1, &four);
    if (st == GGDM_OK) {
        int64_t *o = (int64_t *)c->out.data;
        o[0] = (int64_t)np;
        o[1] = nt;
        o[2] = (int64_t)wf;
        o[3] = (int64_t)wb;
    }
    return st;
}

const conf_op conf_ops_adversarial[] = {CONF_OPS_ADVERSARIAL};
const int conf_ops_adversarial_count = (int)(sizeof conf_ops_adversarial / sizeof conf_ops_adversarial[0]);
