/*
 * The ATTN op for Stable Diffusion and CLIP (docs/nn.md, "Attention": "Causal mask",
 * "Recompute", "Blocked evaluation"): the blocked, threaded core (ggdm_attn_forward_ex /
 * ggdm_attn_backward_ex) against the direct chains (ggdm_attn_forward_qkv / _backward_qkv and
 * a scalar transcription of the causal chains here), bit for bit:
 *  - causal = 0, kind keep: the bits of the direct core, for shapes across the block sizes;
 *  - causal = 1: row i is bit-identical to an unmasked attention over keys 0..i (forward and
 *    dq); dk, dv are the documented chains over i >= j; kept masked weights are exactly +0;
 *  - kind recompute: out and every gradient bit-identical to kind keep (causal or not, cross,
 *    strided, NULL gradients); the cache is the rows' (max, sum);
 *  - the executor: any task order and thread count give the same bits;
 *  - the op: info's sizes (recompute's cache O(L), scratch O(L) at L = 4096) and refusals;
 *    the elem driver's element forms give the CPU driver's bits on every view;
 *  - gradients against float64 (finite values of the formulas).
 */
#include <math.h>
#include <stdio.h>

#include "ggdm/attention.h"
#include "ggdm/backend.h"
#include "ggdm/exec.h"
#include "ggdm/op.h"
#include "ggdm/rng.h"
#include "ggdm_test.h"

static uint32_t bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static void fill_normal(float *x, size_t n, uint32_t tag, float mult)
{
    size_t i;
    ggdm_rng_fill_normal(4321, ggdm_stream_id(GGDM_STREAM_TEST, 78, tag), 0, x, n);
    for (i = 0; i < n; i++)
        x[i] = x[i] * mult;
}

static float *fnew(size_t n)
{
    float *p = (float *)malloc((n ? n : 1) * sizeof(float));
    assert_non_null(p);
    return p;
}

static void same_bits(const char *what, const float *a, const float *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (bits(a[i]) != bits(b[i])) {
            print_message("%s: element %zu differs: %a vs %a\n", what, i, (double)a[i], (double)b[i]);
            fail();
        }
}

/* An executor that runs the tasks in reverse order (a different split, nthreads tasks). */
static void run_reverse(void *ctx, ggdm_task_fn task, void *arg, int ntasks)
{
    int i;
    (void)ctx;
    for (i = ntasks - 1; i >= 0; i--)
        task(arg, i);
}

static const ggdm_exec *reverse_exec(int threads)
{
    static ggdm_exec ex[4];
    int s = threads & 3;
    memset(&ex[s], 0, sizeof ex[s]);
    ex[s].run = run_reverse;
    ex[s].nthreads = threads;
    return &ex[s];
}

/* One problem: q, k, v with padding between samples (strides sq, sk, sv), dout. */
typedef struct prob {
    int N, H, Dh, Lq, Lk, causal;
    long sq, sk, sv;
    float *q, *k, *v, *go;
} prob;

static void prob_init(prob *p, int N, int H, int Dh, int Lq, int Lk, int causal, int pad, uint32_t tag, float mult)
{
    long hd = (long)H * Dh;
    p->N = N, p->H = H, p->Dh = Dh, p->Lq = Lq, p->Lk = Lk, p->causal = causal;
    p->sq = hd * Lq + pad, p->sk = hd * Lk + 2 * pad, p->sv = hd * Lk + pad;
    p->q = fnew((size_t)(N * p->sq));
    p->k = fnew((size_t)(N * p->sk));
    p->v = fnew((size_t)(N * p->sv));
    p->go = fnew((size_t)(N * hd * Lq));
    fill_normal(p->q, (size_t)(N * p->sq), tag, mult);
    fill_normal(p->k, (size_t)(N * p->sk), tag + 1, mult);
    fill_normal(p->v, (size_t)(N * p->sv), tag + 2, 1.0f);
    fill_normal(p->go, (size_t)(N * hd * Lq), tag + 3, 1.0f);
}

static void prob_free(prob *p)
{
    free(p->q), free(p->k), free(p->v), free(p->go);
}

/* The results of one run of the blocked core. */
typedef struct res {
    float *out, *cache, *dq, *dk, *dv;
} res;

static void res_free(res *r)
{
    free(r->out), free(r->cache), free(r->dq), free(r->dk), free(r->dv);
}

/* Runs ggdm_attn_forward_ex / _backward_ex with kind, executor ex, and the gradients in mask
 * (bit 0 dq, 1 dk, 2 dv), the gradient buffers pre-filled with 0.5. */
static res run_ex(const prob *p, int kind, const ggdm_exec *ex, int mask)
{
    res r;
    size_t nc = (size_t)p->N * p->H * p->Lq * (kind == GGDM_ATTN_KEEP ? (size_t)p->Lk : 2u);
    size_t sf = ggdm_attn_ex_scratch_floats(p->N, p->H, p->Dh, p->Lq, p->Lk, 0);
    size_t sb = ggdm_attn_ex_scratch_floats(p->N, p->H, p->Dh, p->Lq, p->Lk, 1);
    float *scr = fnew(sb > sf ? sb : sf);
    size_t i;
    r.out = fnew((size_t)p->N * p->H * p->Dh * p->Lq);
    r.cache = fnew(nc);
    r.dq = fnew((size_t)(p->N * p->sq));
    r.dk = fnew((size_t)(p->N * p->sk));
    r.dv = fnew((size_t)(p->N * p->sv));
    for (i = 0; i < (size_t)(p->N * p->sq); i++)
        r.dq[i] = 0.5f;
    for (i = 0; i < (size_t)(p->N * p->sk); i++)
        r.dk[i] = 0.5f;
    for (i = 0; i < (size_t)(p->N * p->sv); i++)
        r.dv[i] = 0.5f;
    ggdm_attn_forward_ex(r.out, r.cache, p->q, p->k, p->v, p->sq, p->sk, p->sv, p->N, p->H, p->Dh, p->Lq, p->Lk,
                         p->causal, kind, scr, ex);
    ggdm_attn_backward_ex(mask & 1 ? r.dq : NULL, mask & 2 ? r.dk : NULL, mask & 4 ? r.dv : NULL, p->go, p->q, p->k,
                          p->v, p->sq, p->sk, p->sv, r.cache, p->N, p->H, p->Dh, p->Lq, p->Lk, p->causal, kind, scr,
                          ex);
    free(scr);
    return r;
}

static void same_res(const char *what, const prob *p, const res *a, const res *b, int mask)
{
    char buf[96];
    snprintf(buf, sizeof buf, "%s: out", what);
    same_bits(buf, a->out, b->out, (size_t)p->N * p->H * p->Dh * p->Lq);
    snprintf(buf, sizeof buf, "%s: dq", what);
    if (mask & 1)
        same_bits(buf, a->dq, b->dq, (size_t)(p->N * p->sq));
    snprintf(buf, sizeof buf, "%s: dk", what);
    if (mask & 2)
        same_bits(buf, a->dk, b->dk, (size_t)(p->N * p->sk));
    snprintf(buf, sizeof buf, "%s: dv", what);
    if (mask & 4)
        same_bits(buf, a->dv, b->dv, (size_t)(p->N * p->sv));
}

/* The shapes: across the row block (16), the column block (64) and the tiles (16 lanes, 4 rows). */
static const int shapes[][5] = {
    /* N, H, Dh, Lq, Lk */
    {2, 3, 5, 7, 7},   {1, 2, 3, 1, 1},    {2, 1, 17, 37, 70}, {1, 2, 8, 16, 16}, {1, 1, 40, 33, 129},
    {2, 2, 4, 70, 5},  {1, 3, 1, 65, 65},  {1, 1, 64, 48, 48},
};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

/* causal = 0, kind keep: the direct core's bits (cache and every gradient); recompute: the same. */
static void test_blocked_is_direct(void **state)
{
    int s;
    (void)state;
    for (s = 0; s < NSHAPES; s++) {
        const int *z = shapes[s];
        prob p;
        res a, b;
        float *out = fnew((size_t)z[0] * z[1] * z[2] * z[3]), *A = fnew((size_t)z[0] * z[1] * z[3] * z[4]);
        float *scr = fnew((size_t)z[3] * z[4]), *dq, *dk, *dv;
        size_t i;
        prob_init(&p, z[0], z[1], z[2], z[3], z[4], 0, 3, 10u + 4u * (unsigned)s, 1.5f);
        a = run_ex(&p, GGDM_ATTN_KEEP, NULL, 7);
        dq = fnew((size_t)(p.N * p.sq)), dk = fnew((size_t)(p.N * p.sk)), dv = fnew((size_t)(p.N * p.sv));
        for (i = 0; i < (size_t)(p.N * p.sq); i++)
            dq[i] = 0.5f;
        for (i = 0; i < (size_t)(p.N * p.sk); i++)
            dk[i] = 0.5f;
        for (i = 0; i < (size_t)(p.N * p.sv); i++)
            dv[i] = 0.5f;
        ggdm_attn_forward_qkv(out, A, p.q, p.k, p.v, p.sq, p.sk, p.sv, p.N, p.H, p.Dh, p.Lq, p.Lk);
        ggdm_attn_backward_qkv(dq, dk, dv, p.go, p.q, p.k, p.v, p.sq, p.sk, p.sv, A, p.N, p.H, p.Dh, p.Lq, p.Lk, scr);
        same_bits("blocked vs direct: out", a.out, out, (size_t)p.N * p.H * p.Dh * p.Lq);
        same_bits("blocked vs direct: attn", a.cache, A, (size_t)p.N * p.H * p.Lq * p.Lk);
        same_bits("blocked vs direct: dq", a.dq, dq, (size_t)(p.N * p.sq));
        same_bits("blocked vs direct: dk", a.dk, dk, (size_t)(p.N * p.sk));
        same_bits("blocked vs direct: dv", a.dv, dv, (size_t)(p.N * p.sv));
        b = run_ex(&p, GGDM_ATTN_RECOMPUTE, NULL, 7);
        same_res("recompute vs keep", &p, &a, &b, 7);
        res_free(&b);
        b = run_ex(&p, GGDM_ATTN_RECOMPUTE, reverse_exec(3), 7);
        same_res("recompute, 3 threads reversed", &p, &a, &b, 7);
        res_free(&b);
        assert_true(a.dv[0] != 0.5f && (p.Lk == 1 || a.dq[0] != 0.5f)); /* gradients were added */
        res_free(&a);
        prob_free(&p);
        free(out), free(A), free(scr), free(dq), free(dk), free(dv);
    }
}

/*
 * The causal chains, transcribed directly (docs/nn.md, "Causal mask"), one (n, h) at a time:
 * row i over keys j <= i; dv[d, j], dk[d, j] chains over i = j .. L-1.
 */
static void causal_direct(const prob *p, float *out, float *A, float *dq, float *dk, float *dv)
{
    const float scale = ggdm_attn_scale(p->Dh);
    const int L = p->Lq, Dh = p->Dh;
    int n, h, i, j, d;
    float *S = fnew((size_t)L * L), *T = fnew((size_t)L);
    for (n = 0; n < p->N; n++)
        for (h = 0; h < p->H; h++) {
            const float *q = p->q + n * p->sq + h * Dh * L, *k = p->k + n * p->sk + h * Dh * L;
            const float *v = p->v + n * p->sv + h * Dh * L, *go = p->go + (n * p->H + h) * Dh * L;
            float *Ah = A + (size_t)(n * p->H + h) * L * L, *o = out + (size_t)(n * p->H + h) * Dh * L;
            for (i = 0; i < L; i++) {
                float m, s = 0.0f, t = 0.0f;
                for (j = 0; j < L; j++)
                    Ah[i * L + j] = 0.0f;
                for (j = 0; j <= i; j++) {
                    float acc = 0.0f;
                    for (d = 0; d < Dh; d++)
                        acc = fmaf(q[d * L + i] * scale, k[d * L + j], acc);
                    Ah[i * L + j] = acc;
                }
                m = Ah[i * L];
                for (j = 1; j <= i; j++)
                    m = Ah[i * L + j] > m ? Ah[i * L + j] : m;
                for (j = 0; j <= i; j++) {
                    Ah[i * L + j] = ggdm_expf(Ah[i * L + j] - m);
                    s = s + Ah[i * L + j];
                }
                for (j = 0; j <= i; j++)
                    Ah[i * L + j] = Ah[i * L + j] / s;
                for (d = 0; d < Dh; d++) {
                    float acc = 0.0f;
                    for (j = 0; j <= i; j++)
                        acc = fmaf(Ah[i * L + j], v[d * L + j], acc);
                    o[d * L + i] = acc;
                }
                for (j = 0; j <= i; j++) {
                    float acc = 0.0f;
                    for (d = 0; d < Dh; d++)
                        acc = fmaf(go[d * L + i], v[d * L + j], acc);
                    S[i * L + j] = acc;
                    t = fmaf(Ah[i * L + j], acc, t);
                }
                T[i] = t;
                for (j = 0; j <= i; j++)
                    S[i * L + j] = Ah[i * L + j] * (S[i * L + j] - t);
                for (d = 0; d < Dh; d++) {
                    float acc = 0.0f;
                    for (j = 0; j <= i; j++)
                        acc = fmaf(S[i * L + j], k[d * L + j], acc);
                    dq[n * p->sq + h * Dh * L + d * L + i] += acc * scale;
                }
            }
            for (d = 0; d < Dh; d++)
                for (j = 0; j < L; j++) {
                    float av = 0.0f, ak = 0.0f;
                    for (i = j; i < L; i++) {
                        av = fmaf(Ah[i * L + j], go[d * L + i], av);
                        ak = fmaf(S[i * L + j], q[d * L + i] * scale, ak);
                    }
                    dv[n * p->sv + h * Dh * L + d * L + j] += av;
                    dk[n * p->sk + h * Dh * L + d * L + j] += ak;
                }
        }
    free(S), free(T);
}

static void test_causal(void **state)
{
    static const int cs[][3] = {{2, 5, 7}, {1, 1, 1}, {1, 17, 37}, {2, 3, 70}, {1, 40, 129}, {1, 8, 16}, {1, 64, 66}};
    int s;
    (void)state;
    for (s = 0; s < (int)(sizeof cs / sizeof cs[0]); s++) {
        const int Dh = cs[s][1], L = cs[s][2], H = 2, N = cs[s][0];
        prob p;
        res a, b;
        float *out = fnew((size_t)N * H * Dh * L), *A = fnew((size_t)N * H * L * L);
        float *dq, *dk, *dv;
        size_t i;
        int n, h, r, d, mask;
        prob_init(&p, N, H, Dh, L, L, 1, 2, 100u + 4u * (unsigned)s, 2.0f);
        a = run_ex(&p, GGDM_ATTN_KEEP, NULL, 7);
        dq = fnew((size_t)(N * p.sq)), dk = fnew((size_t)(N * p.sk)), dv = fnew((size_t)(N * p.sv));
        for (i = 0; i < (size_t)(N * p.sq); i++)
            dq[i] = 0.5f;
        for (i = 0; i < (size_t)(N * p.sk); i++)
            dk[i] = 0.5f;
        for (i = 0; i < (size_t)(N * p.sv); i++)
            dv[i] = 0.5f;
        causal_direct(&p, out, A, dq, dk, dv);
        same_bits("causal vs its chains: out", a.out, out, (size_t)N * H * Dh * L);
        same_bits("causal vs its chains: attn", a.cache, A, (size_t)N * H * L * L);
        same_bits("causal vs its chains: dq", a.dq, dq, (size_t)(N * p.sq));
        same_bits("causal vs its chains: dk", a.dk, dk, (size_t)(N * p.sk));
        same_bits("causal vs its chains: dv", a.dv, dv, (size_t)(N * p.sv));
        /* masked weights are +0 exactly; the upper triangle */
        for (i = 0; i < (size_t)L; i++)
            if (i + 1 < (size_t)L)
                assert_int_equal(bits(a.cache[i * (size_t)L + i + 1]), 0u);
        /* row r = an unmasked attention over keys 0..r (forward: out and weights; dq) */
        for (n = 0; n < N; n++)
            for (h = 0; h < H; h++)
                for (r = 0; r < L; r += (L > 20 ? 7 : 1)) {
                    int Lk = r + 1, j;
                    float *q1 = fnew((size_t)Dh), *k1 = fnew((size_t)Dh * Lk), *v1 = fnew((size_t)Dh * Lk);
                    float *o1 = fnew((size_t)Dh), *A1 = fnew((size_t)Lk), *g1 = fnew((size_t)Dh), *dq1 = fnew((size_t)Dh);
                    float *scr = fnew((size_t)Lk);
                    const float *qh = p.q + n * p.sq + h * Dh * L, *kh = p.k + n * p.sk + h * Dh * L;
                    const float *vh = p.v + n * p.sv + h * Dh * L, *gh = p.go + (n * H + h) * Dh * L;
                    for (d = 0; d < Dh; d++) {
                        q1[d] = qh[d * L + r], g1[d] = gh[d * L + r], dq1[d] = 0.5f;
                        for (j = 0; j < Lk; j++)
                            k1[d * Lk + j] = kh[d * L + j], v1[d * Lk + j] = vh[d * L + j];
                    }
                    ggdm_attn_forward_qkv(o1, A1, q1, k1, v1, Dh, Dh * Lk, Dh * Lk, 1, 1, Dh, 1, Lk);
                    ggdm_attn_backward_qkv(dq1, NULL, NULL, g1, q1, k1, v1, Dh, Dh * Lk, Dh * Lk, A1, 1, 1, Dh, 1, Lk,
                                           scr);
                    for (d = 0; d < Dh; d++) {
                        assert_int_equal(bits(o1[d]), bits(a.out[(size_t)(n * H + h) * Dh * L + d * L + r]));
                        assert_int_equal(bits(dq1[d]), bits(a.dq[n * p.sq + h * Dh * L + d * L + r]));
                    }
                    for (j = 0; j < Lk; j++)
                        assert_int_equal(bits(A1[j]), bits(a.cache[((size_t)(n * H + h) * L + r) * L + j]));
                    free(q1), free(k1), free(v1), free(o1), free(A1), free(g1), free(dq1), free(scr);
                }
        /* recompute = keep, any executor, any subset of gradients */
        for (mask = 1; mask < 8; mask++) {
            b = run_ex(&p, GGDM_ATTN_RECOMPUTE, mask & 1 ? reverse_exec(2) : NULL, mask);
            same_res("causal recompute vs keep", &p, &a, &b, mask);
            if (!(mask & 2))
                for (i = 0; i < (size_t)(N * p.sk); i++)
                    assert_int_equal(bits(b.dk[i]), bits(0.5f));
            res_free(&b);
        }
        b = run_ex(&p, GGDM_ATTN_KEEP, reverse_exec(3), 7);
        same_res("causal keep, 3 threads reversed", &p, &a, &b, 7);
        res_free(&b);
        res_free(&a);
        prob_free(&p);
        free(out), free(A), free(dq), free(dk), free(dv);
    }
}

/* The recompute cache is the rows' (max, sum) of the forward's softmax. */
static void test_recompute_stats(void **state)
{
    prob p;
    res a, b;
    int i, j;
    (void)state;
    prob_init(&p, 1, 1, 6, 9, 9, 1, 0, 300u, 1.0f);
    a = run_ex(&p, GGDM_ATTN_KEEP, NULL, 7);
    b = run_ex(&p, GGDM_ATTN_RECOMPUTE, NULL, 7);
    for (i = 0; i < 9; i++) {
        double s = 0;
        float mx = 0.0f, wmax = 0.0f;
        for (j = 0; j <= i; j++) {
            float acc = 0.0f;
            int d;
            for (d = 0; d < 6; d++)
                acc = fmaf(p.q[d * 9 + i] * ggdm_attn_scale(6), p.k[d * 9 + j], acc);
            mx = j == 0 || acc > mx ? acc : mx;
            s += (double)a.cache[i * 9 + j];
            wmax = a.cache[i * 9 + j] > wmax ? a.cache[i * 9 + j] : wmax;
        }
        assert_true(fabs(s - 1.0) < 1e-5);                           /* the kept weights sum to 1 */
        assert_int_equal(bits(b.cache[2 * i]), bits(mx));             /* the row's max */
        assert_int_equal(bits(wmax), bits(1.0f / b.cache[2 * i + 1])); /* the arg max's weight: exp(0) / sum */
    }
    assert_int_equal(bits(b.cache[1]), bits(1.0f)); /* row 0: one key, sum = exp(0) */
    res_free(&a), res_free(&b);
    prob_free(&p);
}

/* q = 0: every sim is +0 (the max a zero: the sequential scan), the weights 1 / len exactly
 */
static void test_zero_sims(void **state)
{
    prob p;
    res a, b;
    int i, j, L = 21;
    (void)state;
    prob_init(&p, 1, 1, 3, L, L, 1, 0, 700u, 1.0f);
    memset(p.q, 0, sizeof(float) * (size_t)(p.sq));
    a = run_ex(&p, GGDM_ATTN_KEEP, NULL, 7);
    b = run_ex(&p, GGDM_ATTN_RECOMPUTE, NULL, 7);
    for (i = 0; i < L; i++) {
        for (j = 0; j <= i; j++)
            assert_int_equal(bits(a.cache[i * L + j]), bits(1.0f / (float)(i + 1)));
        assert_int_equal(bits(b.cache[2 * i]), 0u);
        assert_int_equal(bits(b.cache[2 * i + 1]), bits((float)(i + 1)));
    }
    same_res("q = 0: recompute vs keep", &p, &a, &b, 7);
    res_free(&a), res_free(&b);
    prob_free(&p);
}

/* Gradients against float64 of the formulas (causal, cross). */
static void test_f64(void **state)
{
    prob p;
    res a;
    const int L = 11, Dh = 4;
    double worst = 0, scale;
    double P[11][11], dS[11][11];
    int i, j, d;
    (void)state;
    prob_init(&p, 1, 1, Dh, L, L, 1, 0, 400u, 1.0f);
    scale = (double)ggdm_attn_scale(Dh);
    a = run_ex(&p, GGDM_ATTN_RECOMPUTE, NULL, 7);
    for (i = 0; i < L; i++) {
        double mx = -1e300, s = 0, t = 0, dP[11];
        for (j = 0; j <= i; j++) {
            double x = 0;
            for (d = 0; d < Dh; d++)
                x += (double)p.q[d * L + i] * scale * (double)p.k[d * L + j];
            P[i][j] = x;
            mx = x > mx ? x : mx;
        }
        for (j = 0; j <= i; j++)
            s += (P[i][j] = exp(P[i][j] - mx));
        for (j = 0; j <= i; j++) {
            P[i][j] /= s;
            dP[j] = 0;
            for (d = 0; d < Dh; d++)
                dP[j] += (double)p.go[d * L + i] * (double)p.v[d * L + j];
            t += P[i][j] * dP[j];
        }
        for (j = 0; j <= i; j++)
            dS[i][j] = P[i][j] * (dP[j] - t);
        for (d = 0; d < Dh; d++) {
            double o = 0, g = 0;
            for (j = 0; j <= i; j++)
                o += P[i][j] * (double)p.v[d * L + j], g += dS[i][j] * (double)p.k[d * L + j];
            worst = fmax(worst, fabs(o - (double)a.out[d * L + i]));
            worst = fmax(worst, fabs(0.5 + g * scale - (double)a.dq[d * L + i]));
        }
    }
    for (d = 0; d < Dh; d++)
        for (j = 0; j < L; j++) {
            double gv = 0, gk = 0;
            for (i = j; i < L; i++)
                gv += P[i][j] * (double)p.go[d * L + i], gk += dS[i][j] * (double)p.q[d * L + i] * scale;
            worst = fmax(worst, fabs(0.5 + gv - (double)a.dv[d * L + j]));
            worst = fmax(worst, fabs(0.5 + gk - (double)a.dk[d * L + j]));
        }
    print_message("causal attention vs float64: worst abs error %.3g\n", worst);
    assert_true(worst < 2e-6);
    res_free(&a);
    prob_free(&p);
}

/* The op's info: sizes, O(L) memory for recompute, refusals. */
static void test_info(void **state)
{
    ggdm_op_attr a;
    ggdm_op_info inf;
    (void)state;
    memset(&a, 0, sizeof a);
    a.N = 2, a.heads = 8, a.dh = 40, a.Lq = 4096, a.Lk = 4096;
    a.sq = a.sk = a.sv = 8L * 40 * 4096;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_ATTN, &a, &inf), GGDM_OK);
    assert_true(inf.cache[0] == (size_t)2 * 8 * 4096 * 4096);
    a.kind = GGDM_ATTN_RECOMPUTE;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_ATTN, &a, &inf), GGDM_OK);
    assert_true(inf.cache[0] == (size_t)2 * 8 * 4096 * 2);
    /* scratch O(L): the slots and the row sums, far below one head's weights (L^2) */
    assert_true(inf.scratch_fwd == ggdm_attn_ex_scratch_floats(2, 8, 40, 4096, 4096, 0));
    assert_true(inf.scratch_vjp == ggdm_attn_ex_scratch_floats(2, 8, 40, 4096, 4096, 1));
    assert_true(inf.scratch_vjp < (size_t)4096 * 4096 / 4);
    print_message("L 4096, 8 heads, dh 40: recompute cache %zu floats, scratch fwd %zu, vjp %zu floats\n", inf.cache[0],
                  inf.scratch_fwd, inf.scratch_vjp);
    a.heads = 1, a.dh = 512, a.sq = a.sk = a.sv = 512L * 4096;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_ATTN, &a, &inf), GGDM_OK);
    assert_true(inf.scratch_vjp < (size_t)4096 * 4096 / 2);
    a.causal = 1;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_ATTN, &a, &inf), GGDM_OK);
    a.Lk = 77; /* causal with Lq != Lk */
    assert_int_equal(ggdm_op_info_get(GGDM_OP_ATTN, &a, &inf), GGDM_ERR_ARG);
    a.Lk = 4096, a.causal = 2;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_ATTN, &a, &inf), GGDM_ERR_ARG);
    a.causal = -1;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_ATTN, &a, &inf), GGDM_ERR_ARG);
    a.causal = 0, a.kind = 2;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_ATTN, &a, &inf), GGDM_ERR_ARG);
    a.kind = -1;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_ATTN, &a, &inf), GGDM_ERR_ARG);
    a.kind = 0, a.N = 1 << 12, a.heads = 1 << 16, a.dh = 1, a.Lq = a.Lk = 16; /* 2^28 units: fine */
    a.sq = a.sk = a.sv = 1L << 20;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_ATTN, &a, &inf), GGDM_OK);
    a.N = 1 << 14; /* 2^31 units of blocks: more than an int counts */
    assert_int_equal(ggdm_op_info_get(GGDM_OP_ATTN, &a, &inf), GGDM_ERR_ARG);
    assert_true(ggdm_attn_ex_scratch_floats(0, 1, 1, 1, 1, 1) == 0);
    assert_true(ggdm_attn_ex_scratch_floats(1, 1, 1, 1, 0, 0) == 0);
}

/* Invalid arguments write nothing. */
static void test_ex_refuses(void **state)
{
    float q[8], out[4] = {7, 7, 7, 7}, cache[8] = {7, 7, 7, 7, 7, 7, 7, 7}, dq[8], scr[4096];
    int i;
    (void)state;
    for (i = 0; i < 8; i++)
        q[i] = dq[i] = 1.0f;
    ggdm_attn_forward_ex(out, cache, q, q, q, 4, 4, 4, 1, 1, 2, 2, 1, 1, GGDM_ATTN_KEEP, scr, NULL); /* causal, Lq != Lk */
    ggdm_attn_forward_ex(out, cache, q, q, q, 4, 4, 4, 1, 1, 2, 2, 2, 2, GGDM_ATTN_KEEP, scr, NULL); /* causal 2 */
    ggdm_attn_forward_ex(out, cache, q, q, q, 4, 4, 4, 1, 1, 2, 2, 2, 0, 5, scr, NULL);              /* kind 5 */
    ggdm_attn_forward_ex(out, cache, q, q, q, 4, 4, 4, 1, 1, 2, 2, 0, 0, GGDM_ATTN_KEEP, scr, NULL); /* Lk 0 */
    ggdm_attn_forward_ex(out, cache, q, q, q, 4, 4, 4, 1 << 14, 1 << 16, 2, 16, 16, 0, 0, scr, NULL); /* 2^31 units */
    ggdm_attn_backward_ex(dq, dq, dq, q, q, q, q, 4, 4, 4, cache, 1, 1, 2, 2, 2, 0, 5, scr, NULL);
    ggdm_attn_backward_ex(NULL, NULL, NULL, q, q, q, q, 4, 4, 4, cache, 1, 1, 2, 2, 2, 0, 0, scr, NULL);
    for (i = 0; i < 4; i++)
        assert_int_equal(bits(out[i]), bits(7.0f));
    for (i = 0; i < 8; i++)
        assert_int_equal(bits(cache[i]), bits(7.0f)), assert_int_equal(bits(dq[i]), bits(1.0f));
}

/* The op on the elem driver (the element forms) gives the CPU driver's bits on every view. */
static void op_case(const ggdm_backend *be, const prob *p, int kind, int mask, int packed, res *r, float *qkvbuf,
                    float *dqkvbuf)
{
    ggdm_op_call c;
    ggdm_op_info inf;
    float *scr;
    size_t i, hdl = (size_t)p->H * p->Dh * p->Lq;
    memset(&c, 0, sizeof c);
    c.a.N = p->N, c.a.heads = p->H, c.a.dh = p->Dh, c.a.Lq = p->Lq, c.a.Lk = p->Lk;
    c.a.causal = p->causal, c.a.kind = kind;
    if (packed) {
        c.a.sq = c.a.sk = c.a.sv = (long)(3 * hdl);
        c.a.ok = (long)hdl, c.a.ov = (long)(2 * hdl);
        c.in[0] = c.in[1] = c.in[2] = qkvbuf;
    } else {
        c.a.sq = p->sq, c.a.sk = p->sk, c.a.sv = p->sv;
        c.in[0] = p->q, c.in[1] = p->k, c.in[2] = p->v;
    }
    assert_int_equal(ggdm_op_info_get(GGDM_OP_ATTN, &c.a, &inf), GGDM_OK);
    scr = fnew(inf.scratch_fwd > inf.scratch_vjp ? inf.scratch_fwd : inf.scratch_vjp);
    r->out = fnew(inf.out);
    r->cache = fnew(inf.cache[0]);
    r->dq = fnew((size_t)(p->N * (packed ? 3 * (long)hdl : p->sq)));
    r->dk = fnew((size_t)(p->N * p->sk));
    r->dv = fnew((size_t)(p->N * p->sv));
    for (i = 0; i < (size_t)(p->N * (packed ? 3 * (long)hdl : p->sq)); i++)
        r->dq[i] = 0.25f;
    for (i = 0; i < (size_t)(p->N * p->sk); i++)
        r->dk[i] = r->dv[i < (size_t)(p->N * p->sv) ? i : 0] = 0.25f;
    for (i = 0; i < (size_t)(p->N * p->sv); i++)
        r->dv[i] = 0.25f;
    c.out = r->out, c.cache[0] = r->cache, c.scratch = scr;
    be->ops[GGDM_OP_ATTN].fwd(be->ctx, &c);
    c.dout = p->go;
    if (packed) {
        c.din[0] = c.din[1] = c.din[2] = dqkvbuf;
        for (i = 0; i < (size_t)p->N * 3 * hdl; i++)
            dqkvbuf[i] = 0.25f;
    } else {
        c.din[0] = mask & 1 ? r->dq : NULL, c.din[1] = mask & 2 ? r->dk : NULL, c.din[2] = mask & 4 ? r->dv : NULL;
    }
    be->ops[GGDM_OP_ATTN].vjp(be->ctx, &c);
    if (packed)
        memcpy(r->dq, dqkvbuf, (size_t)p->N * 3 * hdl * sizeof(float));
    free(scr);
}

static void test_elem_driver(void **state)
{
    static const int es[][6] = {
        /* N, H, Dh, Lq, Lk, causal */
        {2, 2, 3, 5, 5, 1}, {1, 3, 4, 7, 4, 0}, {2, 1, 5, 3, 9, 0}, {1, 2, 2, 18, 18, 1}, {1, 1, 3, 1, 1, 1},
    };
    const ggdm_backend *cpu = ggdm_backend_cpu(), *el = ggdm_backend_elem();
    int s, kind, packed, mask;
    (void)state;
    for (s = 0; s < (int)(sizeof es / sizeof es[0]); s++)
        for (kind = 0; kind < 2; kind++)
            for (packed = 0; packed < 2; packed++)
                for (mask = packed ? 7 : 1; mask < 8; mask += packed ? 1 : 2) {
                    prob p;
                    res a, b;
                    size_t hdl = (size_t)es[s][1] * es[s][2] * es[s][3];
                    float *qkv, *d1, *d2;
                    if (packed && es[s][3] != es[s][4])
                        continue;
                    prob_init(&p, es[s][0], es[s][1], es[s][2], es[s][3], es[s][4], es[s][5], packed ? 0 : 3,
                              500u + (unsigned)s, 1.5f);
                    qkv = fnew((size_t)p.N * 3 * hdl), d1 = fnew((size_t)p.N * 3 * hdl), d2 = fnew((size_t)p.N * 3 * hdl);
                    fill_normal(qkv, (size_t)p.N * 3 * hdl, 600u + (unsigned)s, 1.5f);
                    op_case(cpu, &p, kind, mask, packed, &a, qkv, d1);
                    op_case(el, &p, kind, mask, packed, &b, qkv, d2);
                    same_bits("elem vs cpu: out", a.out, b.out, (size_t)p.N * hdl);
                    same_bits("elem vs cpu: cache", a.cache, b.cache,
                              (size_t)p.N * p.H * p.Lq * (kind ? 2u : (size_t)p.Lk));
                    if (packed)
                        same_bits("elem vs cpu: dqkv", a.dq, b.dq, (size_t)p.N * 3 * hdl);
                    else
                        same_res("elem vs cpu", &p, &a, &b, mask);
                    res_free(&a), res_free(&b);
                    free(qkv), free(d1), free(d2);
                    prob_free(&p);
                }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocked_is_direct), cmocka_unit_test(test_causal),
        cmocka_unit_test(test_recompute_stats),   cmocka_unit_test(test_f64), cmocka_unit_test(test_zero_sims),
        cmocka_unit_test(test_info),              cmocka_unit_test(test_ex_refuses),
        cmocka_unit_test(test_elem_driver),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
