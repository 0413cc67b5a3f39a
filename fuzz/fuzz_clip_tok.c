/*
 * fuzz_clip_tok: CLIP's tokenizer (ggdm/clip_tok.h) on arbitrary files and texts.
 *
 * Input: byte 0 selects the mode.
 *   even: the rest is a text, encoded with a fixed valid tokenizer (a byte alphabet for
 *         a..z and a few merges), so that every input reaches the whole text pipeline;
 *   odd:  bytes 1-2 and 3-4 (little-endian) are the lengths of a vocab.json and a
 *         merges.txt that follow (clamped to what is there), the rest is the text.
 * Every buffer is an exactly sized heap copy (one byte read past its end is an ASan report).
 *
 * Properties checked besides "no crash, no UB":
 *   - load: OK or FORMAT only; msg is "" exactly on success, else a NUL-terminated line;
 *     on OK, bos and eos are ids inside [0, n_vocab);
 *   - encode (77, padded): OK; 2 <= n <= 77; ids[0] = bos, ids[n-1] = eos, eos padding;
 *     every id inside [0, n_vocab);
 *   - untruncated: n_full <= 5 * len + 2 (the documented bound); the padded ids are the
 *     untruncated ones cut to BOS + 75 + EOS; a buffer one short is BUFFER_TOO_SMALL
 *     with the same count;
 *   - the result does not depend on what the work memory held before (0x00 vs 0xA5 fill).
 */
#include "fuzz.h"
#include "ggdm/clip_tok.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static const char fixed_vocab[] =
    "{\"<|startoftext|>\": 0, \"<|endoftext|>\": 1, \"a\": 2, \"b\": 3, \"c\": 4, \"a</w>\": 5, \"b</w>\": 6,"
    " \"c</w>\": 7, \"ab\": 8, \"ab</w>\": 9, \"abc</w>\": 10, \"'\": 11, \"s</w>\": 12, \"'s</w>\": 13, \"\\u00c3\": 14}";
static const char fixed_merges[] = "#version: 0.2\na b\na b</w>\nab c</w>\n' s</w>\n";

static void *copy(const void *p, size_t n)
{
    void *q = malloc(n ? n : 1);
    FUZZ_CHECK(q != NULL);
    if (n)
        memcpy(q, p, n);
    return q;
}

static void check_text(const ggdm_clip_tok *tok, const uint8_t *text, size_t len)
{
    ggdm_clip_tok_info info;
    uint64_t wb = 0, n = 0, nf = 0, nf2 = 0, k, cap = 5 * (uint64_t)len + 2;
    int32_t ids[GGDM_CLIP_TOK_CTX], ids2[GGDM_CLIP_TOK_CTX];
    int32_t *full = (int32_t *)malloc(sizeof(int32_t) * (size_t)cap);
    uint8_t *t = (uint8_t *)copy(text, len);
    void *work;
    ggdm_status st;
    FUZZ_CHECK(full != NULL);
    FUZZ_CHECK(ggdm_clip_tok_info_get(tok, &info) == GGDM_OK);
    FUZZ_CHECK(ggdm_clip_tok_work_bytes(len, &wb) == GGDM_OK);
    work = malloc((size_t)wb);
    FUZZ_CHECK(work != NULL);

    memset(work, 0, (size_t)wb);
    st = ggdm_clip_tok_encode(tok, (const char *)t, len, work, wb, GGDM_CLIP_TOK_CTX, ids, GGDM_CLIP_TOK_CTX, &n);
    FUZZ_CHECK(st == GGDM_OK);
    FUZZ_CHECK(n >= 2 && n <= GGDM_CLIP_TOK_CTX);
    FUZZ_CHECK(ids[0] == info.bos && ids[n - 1] == info.eos);
    for (k = 0; k < GGDM_CLIP_TOK_CTX; k++) {
        FUZZ_CHECK(ids[k] >= 0 && (uint32_t)ids[k] < info.n_vocab);
        FUZZ_CHECK(k < n || ids[k] == info.eos);
    }
    memset(work, 0xA5, (size_t)wb);
    st = ggdm_clip_tok_encode(tok, (const char *)t, len, work, wb, GGDM_CLIP_TOK_CTX, ids2, GGDM_CLIP_TOK_CTX, &nf2);
    FUZZ_CHECK(st == GGDM_OK && nf2 == n && memcmp(ids, ids2, sizeof ids) == 0);

    st = ggdm_clip_tok_encode(tok, (const char *)t, len, work, wb, 0, full, cap, &nf);
    FUZZ_CHECK(st == GGDM_OK);
    FUZZ_CHECK(nf >= n && nf <= cap);
    FUZZ_CHECKF(nf > GGDM_CLIP_TOK_CTX ? n == GGDM_CLIP_TOK_CTX : n == nf, "n %llu, untruncated %llu",
                (unsigned long long)n, (unsigned long long)nf);
    FUZZ_CHECK(memcmp(full, ids, sizeof(int32_t) * (size_t)(n - 1)) == 0);
    FUZZ_CHECK(full[nf - 1] == info.eos);
    st = ggdm_clip_tok_encode(tok, (const char *)t, len, work, wb, 0, full, nf - 1, &nf2);
    FUZZ_CHECK(st == GGDM_ERR_BUFFER_TOO_SMALL && nf2 == nf);
    free(work);
    free(full);
    free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *v, *m, *text;
    size_t vn, mn, tn;
    uint64_t ab = 0;
    void *arena;
    char *vc, *mc, msg[GGDM_CLIP_TOK_MSG_LEN];
    ggdm_clip_tok *tok = NULL;
    ggdm_status st;
    if (size < 1)
        return 0;
    if ((data[0] & 1) == 0) {
        v = (const uint8_t *)fixed_vocab;
        vn = sizeof fixed_vocab - 1;
        m = (const uint8_t *)fixed_merges;
        mn = sizeof fixed_merges - 1;
        text = data + 1;
        tn = size - 1;
    } else {
        size_t rest = size < 5 ? 0 : size - 5;
        if (size < 5)
            return 0;
        vn = (size_t)data[1] | (size_t)data[2] << 8;
        mn = (size_t)data[3] | (size_t)data[4] << 8;
        if (vn > rest)
            vn = rest;
        if (mn > rest - vn)
            mn = rest - vn;
        v = data + 5;
        m = v + vn;
        text = m + mn;
        tn = rest - vn - mn;
    }
    if (tn > 4096)
        tn = 4096; /* bounded work (BPE is quadratic in a word's length, as python's) */
    FUZZ_CHECK(ggdm_clip_tok_bytes(vn, mn, &ab) == GGDM_OK);
    arena = malloc((size_t)ab);
    vc = (char *)copy(v, vn);
    mc = (char *)copy(m, mn);
    FUZZ_CHECK(arena != NULL);
    st = ggdm_clip_tok_load(arena, ab, vc, vn, mc, mn, &tok, msg);
    FUZZ_CHECK(fuzz_msg_ok(msg, sizeof msg));
    FUZZ_CHECKF(st == GGDM_OK || st == GGDM_ERR_FORMAT, "status %d: %s", (int)st, msg);
    FUZZ_CHECK((st == GGDM_OK) == (msg[0] == 0));
    FUZZ_CHECK((st == GGDM_OK) == (tok != NULL));
    free(vc); /* the tokenizer keeps nothing of the files */
    free(mc);
    if (st == GGDM_OK) {
        ggdm_clip_tok_info info;
        FUZZ_CHECK(ggdm_clip_tok_info_get(tok, &info) == GGDM_OK);
        FUZZ_CHECK(info.bos >= 0 && (uint32_t)info.bos < info.n_vocab);
        FUZZ_CHECK(info.eos >= 0 && (uint32_t)info.eos < info.n_vocab);
        FUZZ_CHECK(info.n_merges <= GGDM_CLIP_TOK_MAX_MERGES);
        check_text(tok, text, tn);
    }
    free(arena);
    return 0;
}
