/*
 * fuzz_numeric: schedules (ggdm/schedule.h), random streams (ggdm/rng.h, ggdm/philox.h),
 * hashing (ggdm/hash.h), the DDPM step and guidance (ggdm/diffusion.h) and Adam
 * (ggdm/adam.h) with parameters from the input. The first byte (mod 7) chooses: 0/1
 * cosine/linear schedule, 2 random streams, 3 hashing, 4 Philox, 5 DDPM step and guidance,
 * 6 Adam.
 *
 * Properties checked besides "no crash, no UB":
 *   - schedules: GGDM_ERR_ARG exactly outside the documented domain (T < 1,
 *     T > GGDM_SCHEDULE_MAX_T, linear T <= 20), BUFFER_TOO_SMALL for a short output;
 *     otherwise every table finite, betas in (0, 0.999], alphas_cumprod in (0, 1] and
 *     non-increasing, alphas_cumprod_prev its shift (1 first), the posterior variance
 *     >= 0, betas equal to the float64 betas rounded once; two calls, same bits;
 *   - streams: the bulk fills equal the one-number functions at every index (any
 *     start, unaligned, across 2^64 wrap-around), normals finite with |z| <= 5.7686,
 *     uniforms in [0, 1), integers below their bound; stream ids keep their fields;
 *   - Philox: equal to an independent implementation of Random123's philox4x32
 *     (any counter, key and number of rounds 0 .. 16);
 *   - hashing: XXH3-64 of the little-endian bytes, whatever the word size (equal to
 *     xxHash's own XXH3_64bits, the chunked big-endian path included); hex round trip,
 *     ggdm_hash_parse_hex accepts exactly 16 hex digits;
 *   - DDPM step and guidance (G and G_loss, fixed or scheduled beta, sigma >= 0.01): finite
 *     outputs from finite inputs (|x|, |eps|, |g| <= 8), unguided = eps copied, in place
 *     (eps_out == eps) = out of place; (sigma = 0 with g = 0 is 0/0 in the math: not fuzzed);
 *   - Adam (eps > 0): finite parameters after a step from finite gradients, the step count
 *     advanced; a NaN/inf gradient refused with GGDM_ERR_NONFINITE and nothing changed;
 *     ggdm_adam_powi within 1 ulp of long double powl.
 */
#include <math.h>
#include <xxhash.h>

#include "fuzz.h"
#include "ggdm/adam.h"
#include "ggdm/bytes.h"
#include "ggdm/diffusion.h"
#include "ggdm/hash.h"
#include "ggdm/philox.h"
#include "ggdm/rng.h"
#include "ggdm/schedule.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void schedule(fuzz_in *in, ggdm_schedule_kind kind)
{
    uint32_t raw = fuzz_u32(in);
    int T = (fuzz_u8(in) & 1) ? (int)raw : (int)(raw % 1200u) - 4;
    int valid = T >= 1 && T <= GGDM_SCHEDULE_MAX_T && !(kind == GGDM_SCHEDULE_LINEAR && T <= 20);
    size_t cnt = ggdm_schedule_count(T), k;
    float *a, *b;
    double *beta;
    int t;
    ggdm_status st;
    FUZZ_CHECK(cnt == ((T >= 1 && T <= GGDM_SCHEDULE_MAX_T) ? 12u * (size_t)T : 0u));
    if (!valid) {
        float one[12];
        FUZZ_CHECK(ggdm_schedule_compute(kind, T, one, 12) == GGDM_ERR_ARG);
        return;
    }
    a = (float *)malloc(sizeof(float) * cnt);
    b = (float *)malloc(sizeof(float) * cnt);
    beta = (double *)malloc(sizeof(double) * (size_t)T);
    FUZZ_CHECK(a && b && beta);
    FUZZ_CHECK(ggdm_schedule_compute(kind, T, a, cnt - 1) == GGDM_ERR_BUFFER_TOO_SMALL);
    st = ggdm_schedule_compute(kind, T, a, cnt);
    FUZZ_CHECK(st == GGDM_OK);
    memset(b, 0xFF, sizeof(float) * cnt);
    FUZZ_CHECK(ggdm_schedule_compute(kind, T, b, cnt) == GGDM_OK);
    FUZZ_CHECK(memcmp(a, b, sizeof(float) * cnt) == 0);
    for (k = 0; k < cnt; k++)
        FUZZ_CHECKF(isfinite(a[k]), "table %d, t = %d is %g (T = %d)", (int)(k / (size_t)T), (int)(k % (size_t)T),
                    (double)a[k], T);
    FUZZ_CHECK(ggdm_schedule_betas_f64(kind, T, beta, (size_t)T) == GGDM_OK);
    for (t = 0; t < T; t++) {
        float be = a[GGDM_SCHED_BETAS * (size_t)T + t], ab = a[GGDM_SCHED_ALPHAS_CUMPROD * (size_t)T + t];
        float abp = a[GGDM_SCHED_ALPHAS_CUMPROD_PREV * (size_t)T + t];
        FUZZ_CHECK(be == (float)beta[t]);
        FUZZ_CHECKF(be > 0.0f && be <= 0.999f, "beta[%d] = %g (T = %d)", t, (double)be, T);
        FUZZ_CHECK(ab > 0.0f && ab <= 1.0f);
        FUZZ_CHECK(t == 0 ? abp == 1.0f : abp == a[GGDM_SCHED_ALPHAS_CUMPROD * (size_t)T + t - 1]);
        if (t > 0)
            FUZZ_CHECK(ab <= a[GGDM_SCHED_ALPHAS_CUMPROD * (size_t)T + t - 1]);
        FUZZ_CHECK(a[GGDM_SCHED_POSTERIOR_VARIANCE * (size_t)T + t] >= 0.0f);
        FUZZ_CHECK(a[GGDM_SCHED_SQRT_ALPHAS_CUMPROD * (size_t)T + t] > 0.0f);
    }
    free(a);
    free(b);
    free(beta);
}

static void streams(fuzz_in *in)
{
    uint64_t seed = fuzz_u64(in), stream = fuzz_u64(in), start = fuzz_u64(in), i;
    uint64_t n = fuzz_range(in, 0, 300);
    uint32_t bound = fuzz_u32(in), a24 = fuzz_u32(in), b32 = fuzz_u32(in);
    int purpose = (int)fuzz_range(in, 0, 255);
    float *u = (float *)malloc(sizeof(float) * (size_t)(n + 1)), *z = (float *)malloc(sizeof(float) * (size_t)(n + 1));
    uint32_t *w = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(n + 1));
    uint64_t id;
    FUZZ_CHECK(u && z && w);
    if (fuzz_u8(in) & 1)
        start = UINT64_MAX - (start % 8u); /* the index wraps around */
    ggdm_rng_fill_uniform(seed, stream, start, u, n);
    ggdm_rng_fill_normal(seed, stream, start, z, n);
    ggdm_rng_fill_u32(seed, stream, start, w, n);
    for (i = 0; i < n; i++) {
        uint64_t idx = start + i;
        float ui = ggdm_rng_uniform(seed, stream, idx), zi = ggdm_rng_normal(seed, stream, idx);
        FUZZ_CHECK(w[i] == ggdm_rng_u32(seed, stream, idx));
        FUZZ_CHECK(ggdm_f32_bits(u[i]) == ggdm_f32_bits(ui));
        FUZZ_CHECK(ggdm_f32_bits(z[i]) == ggdm_f32_bits(zi));
        FUZZ_CHECK(u[i] >= 0.0f && u[i] < 1.0f);
        FUZZ_CHECKF(isfinite(z[i]) && fabsf(z[i]) <= 5.7686f, "normal %g", (double)z[i]);
        if (bound)
            FUZZ_CHECK(ggdm_rng_below(seed, stream, idx, bound) < bound);
    }
    {
        float o = ggdm_rng_u01_open0_from_word(fuzz_u32(in));
        FUZZ_CHECK(o > 0.0f && o <= 1.0f);
    }
    id = ggdm_stream_id((ggdm_stream_purpose)purpose, a24, b32);
    FUZZ_CHECK((id >> 56) == (uint64_t)purpose);
    FUZZ_CHECK(((id >> 32) & 0xFFFFFFu) == (a24 & 0xFFFFFFu));
    FUZZ_CHECK((uint32_t)id == b32);
    free(u);
    free(z);
    free(w);
}

/* Random123's philox4x32, written independently of ggdm/philox.h. */
static void philox_ref(int rounds, const uint32_t in_ctr[4], const uint32_t in_key[2], uint32_t out[4])
{
    uint32_t c[4], k[2];
    int r;
    memcpy(c, in_ctr, sizeof c);
    memcpy(k, in_key, sizeof k);
    for (r = 0; r < rounds; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c[0], p1 = (uint64_t)0xCD9E8D57u * c[2];
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k[0], n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k[1], n3 = (uint32_t)p0;
        c[0] = n0;
        c[1] = n1;
        c[2] = n2;
        c[3] = n3;
        k[0] += 0x9E3779B9u; /* the key is bumped after each round = before every round but the first */
        k[1] += 0xBB67AE85u;
    }
    memcpy(out, c, sizeof c);
}

static void philox(fuzz_in *in)
{
    uint32_t ctr[4], key[2], want[4];
    int i, rounds;
    ggdm_philox_block got;
    for (i = 0; i < 4; i++)
        ctr[i] = fuzz_u32(in);
    key[0] = fuzz_u32(in);
    key[1] = fuzz_u32(in);
    rounds = (int)fuzz_range(in, 0, 16);
    got = ggdm_philox4x32_r(rounds, ctr, key);
    philox_ref(rounds, ctr, key, want);
    for (i = 0; i < 4; i++)
        FUZZ_CHECK(got.v[i] == want[i]);
    got = ggdm_philox4x32_10(ctr, key);
    philox_ref(10, ctr, key, want);
    for (i = 0; i < 4; i++)
        FUZZ_CHECK(got.v[i] == want[i]);
}

static void hashing(const uint8_t *p, size_t n)
{
    uint64_t h = ggdm_hash_bytes(p, n), back = 0;
    char hex[17], s[17];
    size_t k;
    int valid = 1;
    FUZZ_CHECK(h == XXH3_64bits(p, n));
    FUZZ_CHECK(ggdm_hash_words_chunked(p, n, 1) == h);
    /* words of 2, 4 and 8 bytes: the hash of their little-endian bytes */
    {
        uint8_t *le = (uint8_t *)malloc(n + 8);
        unsigned ws;
        FUZZ_CHECK(le != NULL);
        for (ws = 2; ws <= 8; ws *= 2) {
            size_t cnt = n / ws, i;
            void *words = malloc(cnt * ws + 8);
            FUZZ_CHECK(words != NULL);
            memcpy(words, p, cnt * ws); /* host-order words */
            for (i = 0; i < cnt; i++) {
                if (ws == 2) {
                    uint16_t v;
                    memcpy(&v, (uint8_t *)words + 2 * i, 2);
                    ggdm_le_store_u16(le + 2 * i, v);
                } else if (ws == 4) {
                    uint32_t v;
                    memcpy(&v, (uint8_t *)words + 4 * i, 4);
                    ggdm_le_store_u32(le + 4 * i, v);
                } else {
                    uint64_t v;
                    memcpy(&v, (uint8_t *)words + 8 * i, 8);
                    ggdm_le_store_u64(le + 8 * i, v);
                }
            }
            FUZZ_CHECK(ggdm_hash_words_chunked(words, cnt, ws) == XXH3_64bits(le, cnt * ws));
            if (ws == 4) {
                FUZZ_CHECK(ggdm_hash_f32((const float *)words, cnt) == XXH3_64bits(le, cnt * 4));
                FUZZ_CHECK(ggdm_hash_u32((const uint32_t *)words, cnt) == XXH3_64bits(le, cnt * 4));
            }
            if (ws == 8) {
                FUZZ_CHECK(ggdm_hash_f64((const double *)words, cnt) == XXH3_64bits(le, cnt * 8));
                FUZZ_CHECK(ggdm_hash_i64((const int64_t *)words, cnt) == XXH3_64bits(le, cnt * 8));
            }
            free(words);
        }
        free(le);
    }
    FUZZ_CHECK(ggdm_hash_words_chunked(p, n, 3) == 0);
    ggdm_hash_hex(h, hex);
    FUZZ_CHECK(hex[16] == 0 && strlen(hex) == 16);
    FUZZ_CHECK(ggdm_hash_parse_hex(hex, &back) == GGDM_OK && back == h);
    /* the first bytes as a candidate hex string */
    k = n < 16 ? n : 16;
    memcpy(s, p, k);
    s[k] = 0;
    for (k = 0; k < 16; k++) {
        char c = s[k];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            valid = 0;
    }
    FUZZ_CHECK((ggdm_hash_parse_hex(s, &back) == GGDM_OK) == valid);
    if (valid) {
        unsigned long long v = strtoull(s, NULL, 16);
        FUZZ_CHECK(back == (uint64_t)v);
    }
}

static int finite_all(const float *x, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

static void diffusion(fuzz_in *in)
{
    int T = (int)fuzz_range(in, 1, 300), t = (int)fuzz_range(in, 0, T - 1), N = (int)fuzz_range(in, 1, 3);
    int D = (int)fuzz_range(in, 1, 16), v;
    size_t n = (size_t)N * (size_t)D, k, cnt = ggdm_schedule_count(T);
    ggdm_schedule_kind kind = (T > 20 && (fuzz_u8(in) & 1)) ? GGDM_SCHEDULE_LINEAR : GGDM_SCHEDULE_COSINE;
    float *tab = (float *)malloc(sizeof(float) * cnt), *x = (float *)malloc(sizeof(float) * n);
    float *e = (float *)malloc(sizeof(float) * n), *z = (float *)malloc(sizeof(float) * n);
    float *g = (float *)malloc(sizeof(float) * n), *j = (float *)malloc(sizeof(float) * n);
    float *o = (float *)malloc(sizeof(float) * n), *o2 = (float *)malloc(sizeof(float) * n);
    float y[3];
    ggdm_guide_cfg gc;
    ggdm_guide_stats st;
    FUZZ_CHECK(tab && x && e && z && g && j && o && o2);
    FUZZ_CHECK(ggdm_schedule_compute(kind, T, tab, cnt) == GGDM_OK);
    for (k = 0; k < n; k++) {
        x[k] = fuzz_f32_bounded(in, 8.0f);
        e[k] = fuzz_f32_bounded(in, 8.0f);
        z[k] = fuzz_f32_bounded(in, 4.0f);
        g[k] = fuzz_f32_bounded(in, 8.0f);
        j[k] = fuzz_f32_bounded(in, 8.0f);
    }
    for (k = 0; k < (size_t)N; k++)
        y[k] = fuzz_f32_bounded(in, 8.0f);
    FUZZ_CHECK(ggdm_ddpm_update(tab, T, t, N, D, x, e, z, o) == GGDM_OK);
    FUZZ_CHECKF(finite_all(o, n), "DDPM step at t = %d of %d: non-finite from finite inputs", t, T);
    ggdm_guide_cfg_default(&gc);
    gc.beta = (fuzz_u8(in) & 1) ? 0.0 : (double)fuzz_range(in, 0, 1000) / 100.0;
    gc.beta_coef = (double)fuzz_range(in, 0, 400) / 100.0;
    gc.sigma = (double)fuzz_range(in, 1, 100) / 100.0;
    for (v = 0; v <= 2; v++) {
        gc.version = (ggdm_guide_version)v;
        memset(&st, 0, sizeof st);
        FUZZ_CHECK(ggdm_guide_apply(&gc, tab, T, t, N, D, x, e, g, y, j, o, &st) == GGDM_OK);
        FUZZ_CHECKF(finite_all(o, n), "guidance v%d at t = %d of %d, beta %g, sigma %g: non-finite", v, t, T, gc.beta,
                    gc.sigma);
        if (v == 0)
            FUZZ_CHECK(memcmp(o, e, sizeof(float) * n) == 0);
        else
            FUZZ_CHECK(isfinite(st.guidance) && st.guidance >= 0.0);
        /* in place gives the same bits */
        memcpy(o2, e, sizeof(float) * n);
        FUZZ_CHECK(ggdm_guide_apply(&gc, tab, T, t, N, D, x, o2, g, y, j, o2, NULL) == GGDM_OK);
        FUZZ_CHECK(memcmp(o, o2, sizeof(float) * n) == 0);
    }
    free(tab);
    free(x);
    free(e);
    free(z);
    free(g);
    free(j);
    free(o);
    free(o2);
}

static void adam(fuzz_in *in)
{
    ggdm_adam_cfg c;
    ggdm_adam_state s;
    float p[32], g[32], m[32], v[32], p0[32], m0[32], v0[32];
    uint64_t n = (uint64_t)fuzz_range(in, 0, 32), i, k0;
    long double want;
    double b, got;
    c.lr = (double)fuzz_range(in, 0, 1000) / 1000.0;
    c.beta1 = (double)fuzz_range(in, 0, 999) / 1000.0;
    c.beta2 = (double)fuzz_range(in, 0, 9999) / 10000.0;
    c.eps = ldexp(1.0, -(int)fuzz_range(in, 1, 40));
    FUZZ_CHECK(ggdm_adam_cfg_check(&c) == GGDM_OK);
    s.step = (fuzz_u8(in) & 1) ? fuzz_u64(in) % (UINT64_C(1) << 40) : (uint64_t)fuzz_range(in, 0, 100);
    k0 = s.step;
    for (i = 0; i < n; i++) {
        p[i] = fuzz_f32_bounded(in, 8.0f);
        g[i] = fuzz_f32_bounded(in, 8.0f);
        m[i] = fuzz_f32_bounded(in, 1.0f);
        v[i] = fabsf(fuzz_f32_bounded(in, 1.0f));
    }
    FUZZ_CHECK(ggdm_adam_step(&c, &s, p, g, m, v, n) == GGDM_OK);
    FUZZ_CHECK(s.step == k0 + 1);
    FUZZ_CHECKF(finite_all(p, (size_t)n) && finite_all(m, (size_t)n) && finite_all(v, (size_t)n),
                "Adam step %llu: non-finite from finite gradients", (unsigned long long)s.step);
    if (n > 0) { /* a non-finite gradient changes nothing */
        memcpy(p0, p, sizeof p);
        memcpy(m0, m, sizeof m);
        memcpy(v0, v, sizeof v);
        g[n - 1] = (fuzz_u8(in) & 1) ? ggdm_f32_from_bits(0x7fc00000u) : ggdm_f32_from_bits(0xff800000u);
        FUZZ_CHECK(ggdm_adam_step(&c, &s, p, g, m, v, n) == GGDM_ERR_NONFINITE);
        FUZZ_CHECK(s.step == k0 + 1);
        FUZZ_CHECK(memcmp(p, p0, sizeof(float) * (size_t)n) == 0 && memcmp(m, m0, sizeof(float) * (size_t)n) == 0 &&
                   memcmp(v, v0, sizeof(float) * (size_t)n) == 0);
    }
    /* b^k */
    b = (double)fuzz_range(in, 0, 999999) / 1000000.0;
    k0 = (fuzz_u8(in) & 1) ? fuzz_u64(in) % 100000u : (uint64_t)fuzz_range(in, 0, 64);
    got = ggdm_adam_powi(b, k0);
    want = powl((long double)b, (long double)k0);
    {
        double w = (double)want;
        uint64_t a1 = ggdm_f64_bits(got), a2 = ggdm_f64_bits(w);
        uint64_t d = a1 > a2 ? a1 - a2 : a2 - a1; /* both >= 0 */
        FUZZ_CHECKF(d <= 1, "powi(%a, %llu) = %a, powl %a", b, (unsigned long long)k0, got, w);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in;
    in.p = data;
    in.n = size;
    switch (fuzz_u8(&in) % 7) {
    case 0: schedule(&in, GGDM_SCHEDULE_COSINE); break;
    case 1: schedule(&in, GGDM_SCHEDULE_LINEAR); break;
    case 2: streams(&in); break;
    case 3: hashing(in.p, in.n); break;
    case 4: philox(&in); break;
    case 5: diffusion(&in); break;
    default: adam(&in); break;
    }
    return 0;
}
