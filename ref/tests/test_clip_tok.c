/* Unit tests of ggdm/clip_tok.h: known ids (from transformers 4.36.2's CLIPTokenizer on
 * ref/tests/data/clip_tok_small; ci/interop/tokenizer_vs_transformers.py compares thousands
 * more), BPE details on a hand-made tokenizer, hostile vocab.json / merges.txt, arguments. */
#include <stdio.h>

#include "ggdm_test.h"
#include "ggdm/clip_tok.h"

typedef struct held {
    void *arena;
    ggdm_clip_tok *tok;
    char msg[GGDM_CLIP_TOK_MSG_LEN];
} held;

static ggdm_status load_n(held *h, const char *v, size_t vn, const char *m, size_t mn)
{
    uint64_t bytes = 0;
    ggdm_status st;
    assert_int_equal(ggdm_clip_tok_bytes(vn, mn, &bytes), GGDM_OK);
    h->arena = malloc((size_t)bytes + 1);
    assert_non_null(h->arena);
    /* an odd address: any alignment of the arena works */
    st = ggdm_clip_tok_load((char *)h->arena + 1, bytes, v, vn, m, mn, &h->tok, h->msg);
    assert_true((st == GGDM_OK) == (h->msg[0] == 0));
    assert_true(strlen(h->msg) < GGDM_CLIP_TOK_MSG_LEN);
    return st;
}

static ggdm_status load(held *h, const char *v, const char *m)
{
    return load_n(h, v, strlen(v), m, strlen(m));
}

static void drop(held *h)
{
    free(h->arena);
    h->arena = NULL;
    h->tok = NULL;
}

/* Encodes with max_len (0: untruncated) into ids[cap]; returns the status, *n the count. */
static ggdm_status enc(const ggdm_clip_tok *tok, const char *text, size_t len, uint32_t max_len, int32_t *ids,
                       uint64_t cap, uint64_t *n)
{
    uint64_t w = 0;
    void *work;
    ggdm_status st;
    assert_int_equal(ggdm_clip_tok_work_bytes(len, &w), GGDM_OK);
    work = malloc((size_t)w + 3);
    assert_non_null(work);
    st = ggdm_clip_tok_encode(tok, text, len, (char *)work + 3, w, max_len, ids, cap, n);
    free(work);
    return st;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (char *)malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static char *vocab_small, *merges_small;
static size_t vocab_small_len, merges_small_len;

static int setup_small(void **state)
{
    (void)state;
    vocab_small = slurp("ref/tests/data/clip_tok_small/vocab.json", &vocab_small_len);
    merges_small = slurp("ref/tests/data/clip_tok_small/merges.txt", &merges_small_len);
    return vocab_small && merges_small ? 0 : -1; /* run from the repository's root */
}

static int teardown_small(void **state)
{
    (void)state;
    free(vocab_small);
    free(merges_small);
    return 0;
}

static void expect(const ggdm_clip_tok *tok, const char *text, const int32_t *want, uint64_t nwant)
{
    int32_t ids[GGDM_CLIP_TOK_CTX];
    uint64_t n = 0, k;
    assert_int_equal(enc(tok, text, strlen(text), GGDM_CLIP_TOK_CTX, ids, GGDM_CLIP_TOK_CTX, &n), GGDM_OK);
    assert_int_equal(n, nwant);
    for (k = 0; k < nwant; k++)
        assert_int_equal(ids[k], want[k]);
    for (k = nwant; k < GGDM_CLIP_TOK_CTX; k++)
        assert_int_equal(ids[k], 813); /* padding: <|endoftext|> */
}

static void test_small_known_ids(void **state)
{
    static const int32_t horse[] = {812, 320, 79, 751, 527, 522, 624, 552, 563, 320, 749, 813};
    static const int32_t hello[] = {812, 71,  694, 75,  334, 267, 86,  802, 75,  323, 256, 574, 6,   338,
                                    661, 162, 251, 365, 160, 118, 361, 139, 225, 138, 107, 139, 225, 139,
                                    227, 139, 228, 138, 123, 139, 480, 139, 225, 138, 109, 139, 480, 813};
    static const int32_t creme[] = {812, 66, 81,  127, 101, 76,  324, 65, 81,  127, 119, 75,
                                    127, 102, 324, 267, 574, 6, 338, 275, 330, 256, 813};
    static const int32_t empty[] = {812, 813};
    static const int32_t special[] = {812, 813, 343, 812, 813};
    static const int32_t nfc[] = {812, 587, 587, 813}; /* U+00E9 and e + U+0301: the same after NFC */
    held h;
    ggdm_clip_tok_info info;
    int32_t ids[200];
    uint64_t n = 0;
    (void)state;
    memset(&h, 0, sizeof h);
    assert_int_equal(load_n(&h, vocab_small, vocab_small_len, merges_small, merges_small_len), GGDM_OK);
    assert_int_equal(ggdm_clip_tok_info_get(h.tok, &info), GGDM_OK);
    assert_int_equal(info.n_vocab, 814);
    assert_int_equal(info.n_merges, 300);
    assert_int_equal(info.bos, 812);
    assert_int_equal(info.eos, 813);
    expect(h.tok, "a photograph of an astronaut riding a horse", horse, sizeof horse / sizeof horse[0]);
    expect(h.tok, "Hello, World! It's caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac \xce\xa3\xce\xaf\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x82 "
                  "\xce\xa3\xce\x91\xce\xa3",
           hello, sizeof hello / sizeof hello[0]);
    expect(h.tok, "Cr\xc3\xa8me br\xc3\xbbl\xc3\xa9\x65, it's 4K!", creme, sizeof creme / sizeof creme[0]);
    expect(h.tok, "", empty, 2);
    expect(h.tok, " \t\n ", empty, 2);
    expect(h.tok, "<|endoftext|>x<|startoftext|>", special, 5);
    expect(h.tok, "\xc3\xa9 e\xcc\x81", nfc, 4);
    /* invalid UTF-8, NUL and control characters are dropped */
    expect(h.tok, "\xff\x01\x7f\xc3\xa9 e\xcc\x81\xed\xa0\x80", nfc, 4);
    assert_int_equal(enc(h.tok, "\0\xc3\xa9\0", 4, 77, ids, 77, &n), GGDM_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ids[1], 587);
    /* > 77 tokens: 152 untruncated; truncated, BOS + 75 + EOS ending ... 334 527 813 */
    {
        char text[400] = "";
        int k;
        for (k = 0; k < 30; k++)
            strcat(text, "a photo of ");
        assert_int_equal(enc(h.tok, text, strlen(text), 0, ids, 200, &n), GGDM_OK);
        assert_int_equal(n, 152);
        assert_int_equal(ids[0], 812);
        assert_int_equal(ids[151], 813);
        assert_int_equal(enc(h.tok, text, strlen(text), 77, ids, 77, &n), GGDM_OK);
        assert_int_equal(n, 77);
        assert_int_equal(ids[74], 334);
        assert_int_equal(ids[75], 527);
        assert_int_equal(ids[76], 813);
        /* untruncated into a short buffer: refused, with the count needed */
        assert_int_equal(enc(h.tok, text, strlen(text), 0, ids, 100, &n), GGDM_ERR_BUFFER_TOO_SMALL);
        assert_int_equal(n, 152);
        /* a short context: BOS, 3 tokens, EOS */
        assert_int_equal(enc(h.tok, text, strlen(text), 5, ids, 5, &n), GGDM_OK);
        assert_int_equal(n, 5);
        assert_int_equal(ids[0], 812);
        assert_int_equal(ids[4], 813);
        assert_int_equal(enc(h.tok, text, strlen(text), 2, ids, 2, &n), GGDM_OK);
        assert_int_equal(n, 2);
        assert_int_equal(ids[1], 813);
    }
    drop(&h);
}

/* A hand-made tokenizer: ids 0, 1 the specials; a, b with and without </w>; merges. */
static const char *tiny_vocab = "{\"<|startoftext|>\": 0, \"<|endoftext|>\": 1, \"a\": 2, \"b\": 3, \"a</w>\": 4,"
                                " \"b</w>\": 5, \"ab</w>\": 6, \"ab\": 7, \"aa\": 8, \"\\u0063</w>\": 9, \"\\u00e9</w>\": 10,"
                                " \"\\u00c3\\u00a9</w>\": 11, \"\\ud83d\\ude00\": 12, \"\\/\\\\\\\"\\b\\f\\n\\r\\t\": 13}";
static const char *tiny_merges = "#version: 0.2\na b</w>\na b\na a\n";

static void test_tiny_bpe(void **state)
{
    static const int32_t ab[] = {0, 6, 1};
    static const int32_t abab[] = {0, 7, 6, 1};   /* (a, b</w>) first: a b ab</w>, then ab ab</w> */
    static const int32_t aaa[] = {0, 8, 4, 1};    /* aa a</w>: left to right, no overlap */
    static const int32_t c[] = {0, 9, 1};         /* "\u0063</w>" is c</w> */
    static const int32_t unk[] = {0, 1, 1};       /* d</w> is unknown: <|endoftext|> */
    static const int32_t e_acute[] = {0, 1, 1, 1}; /* U+00E9's bytes C3 A9: characters Ã, ©</w>, no merge */
    static const int32_t sp[] = {0, 6, 6, 1};
    held h;
    (void)state;
    memset(&h, 0, sizeof h);
    assert_int_equal(load(&h, tiny_vocab, tiny_merges), GGDM_OK);
    {
        static const int32_t want[] = {0, 1};
        int32_t ids[4];
        uint64_t n = 0;
        assert_int_equal(enc(h.tok, "", 0, 0, ids, 4, &n), GGDM_OK);
        assert_int_equal(n, 2);
        assert_memory_equal(ids, want, sizeof want);
        assert_int_equal(ggdm_clip_tok_encode(h.tok, NULL, 0, ids, 10, 0, ids, 4, &n), GGDM_ERR_BUFFER_TOO_SMALL);
    }
    {
        int32_t ids[8];
        uint64_t n = 0, k;
        const struct { const char *t; const int32_t *w; uint64_t n; } cases[] = {
            {"ab", ab, 3}, {"AB", ab, 3}, {"abab", abab, 4}, {"aaa", aaa, 4}, {"c", c, 3}, {"d", unk, 3},
            {"\xc3\xa9", e_acute, 4}, {"ab\xe3\x80\x80 ab", sp, 4}, {"ab\xe2\x80\xa8\x61\x62", sp, 4},
        };
        for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            uint64_t j;
            assert_int_equal(enc(h.tok, cases[k].t, strlen(cases[k].t), 8, ids, 8, &n), GGDM_OK);
            assert_int_equal(n, cases[k].n);
            for (j = 0; j < n; j++)
                assert_int_equal(ids[j], cases[k].w[j]);
            for (j = n; j < 8; j++)
                assert_int_equal(ids[j], 1);
        }
    }
    drop(&h);
    /* a repeated merge keeps its later rank (python's dict): (a, b</w>) before (a, a), so
     * "aab" is a ab</w>, not aa b</w> */
    memset(&h, 0, sizeof h);
    assert_int_equal(load(&h, tiny_vocab, "#version: 0.2\na a\na b</w>\na a\n"), GGDM_OK);
    {
        static const int32_t want[] = {0, 2, 6, 1};
        int32_t ids[4];
        uint64_t n = 0;
        assert_int_equal(enc(h.tok, "aab", 3, 0, ids, 4, &n), GGDM_OK);
        assert_int_equal(n, 4);
        assert_memory_equal(ids, want, sizeof want);
    }
    drop(&h);
    /* \r\n line ends, surrounding whitespace (text.strip()) */
    memset(&h, 0, sizeof h);
    assert_int_equal(load(&h, tiny_vocab, "\n  #version: 0.2\r\na b</w>\r\n\n"), GGDM_OK);
    drop(&h);
}

static void reject(const char *v, const char *m, const char *why)
{
    held h;
    memset(&h, 0, sizeof h);
    assert_int_equal(load(&h, v, m), GGDM_ERR_FORMAT);
    assert_null(h.tok);
    if (!strstr(h.msg, why)) {
        print_error("message '%s' lacks '%s'\n", h.msg, why);
        fail();
    }
    drop(&h);
}

static void test_rejects(void **state)
{
    const char *ok_m = tiny_merges;
    const char *sp = "\"<|startoftext|>\": 0, \"<|endoftext|>\": 1";
    char v[256];
    size_t k, n = strlen(tiny_vocab);
    (void)state;
    reject("", ok_m, "expected '{'");
    reject("[]", ok_m, "expected '{'");
    reject("{}", ok_m, "no <|startoftext|>");
    reject("{\"<|startoftext|>\": 0}", ok_m, "no <|endoftext|>");
    snprintf(v, sizeof v, "{%s, \"a\": 1}", sp); /* a repeated id is fine (python's too) */
    {
        held h;
        memset(&h, 0, sizeof h);
        assert_int_equal(load(&h, v, ok_m), GGDM_OK);
        drop(&h);
    }
    snprintf(v, sizeof v, "{%s, \"a\": 2, \"a\": 3, \"b\": 4}", sp);
    reject(v, ok_m, "duplicate key");
    snprintf(v, sizeof v, "{%s, \"a\": 3}", sp);
    reject(v, ok_m, "outside [0, 3)");
    snprintf(v, sizeof v, "{%s, \"a\": -2}", sp);
    reject(v, ok_m, "negative id");
    snprintf(v, sizeof v, "{%s, \"a\": 2.0}", sp);
    reject(v, ok_m, "not an integer");
    snprintf(v, sizeof v, "{%s, \"a\": 1e3}", sp);
    reject(v, ok_m, "not an integer");
    snprintf(v, sizeof v, "{%s, \"a\": 02}", sp);
    reject(v, ok_m, "leading zero");
    snprintf(v, sizeof v, "{%s, \"a\": 99999999999}", sp);
    reject(v, ok_m, "id out of range");
    snprintf(v, sizeof v, "{%s, \"a\": \"2\"}", sp);
    reject(v, ok_m, "expected an integer");
    snprintf(v, sizeof v, "{%s, \"a\" 2}", sp);
    reject(v, ok_m, "expected ':'");
    snprintf(v, sizeof v, "{%s, a: 2}", sp);
    reject(v, ok_m, "expected a string");
    snprintf(v, sizeof v, "{%s, }", sp);
    reject(v, ok_m, "expected a string");
    snprintf(v, sizeof v, "{%s \"a\": 2}", sp);
    reject(v, ok_m, "expected ',' or '}'");
    snprintf(v, sizeof v, "{%s} x", sp);
    reject(v, ok_m, "data after");
    snprintf(v, sizeof v, "{%s, \"\xff\": 2}", sp);
    reject(v, ok_m, "not UTF-8");
    snprintf(v, sizeof v, "\xef\xbb\xbf{%s}", sp); /* a BOM: json.loads refuses it too */
    reject(v, ok_m, "expected '{'");
    snprintf(v, sizeof v, "{%s, \"a\tb\": 2}", sp);
    reject(v, ok_m, "control character");
    snprintf(v, sizeof v, "{%s, \"a\\x\": 2}", sp);
    reject(v, ok_m, "invalid escape");
    snprintf(v, sizeof v, "{%s, \"a\\u12g4\": 2}", sp);
    reject(v, ok_m, "invalid \\u escape");
    snprintf(v, sizeof v, "{%s, \"\\ud800\": 2}", sp);
    reject(v, ok_m, "lone surrogate");
    snprintf(v, sizeof v, "{%s, \"\\ud800\\u0041\": 2}", sp);
    reject(v, ok_m, "lone surrogate");
    snprintf(v, sizeof v, "{%s, \"\\udc00\": 2}", sp);
    reject(v, ok_m, "lone surrogate");
    /* every truncation of a valid vocab.json */
    for (k = 0; k < n; k++) {
        held h;
        memset(&h, 0, sizeof h);
        assert_int_equal(load_n(&h, tiny_vocab, k, ok_m, strlen(ok_m)), GGDM_ERR_FORMAT);
        drop(&h);
    }
    /* merges.txt */
    reject(tiny_vocab, "", "not a \"#version\" header");
    reject(tiny_vocab, "  \n ", "not a \"#version\" header");
    reject(tiny_vocab, "a b\nb c\n", "line 1: the first line is not");
    reject(tiny_vocab, "#version: 0.2\na b\nab\n", "line 3: 1 symbols");
    reject(tiny_vocab, "#version: 0.2\na b c\n", "line 2: 3 symbols");
    reject(tiny_vocab, "#version: 0.2\n\na b\n", "line 2: 0 symbols");
    reject(tiny_vocab, "#version: 0.2\na \xc3\n", "not UTF-8");
    reject(tiny_vocab, "\n\n#versio", "line 3: the first line");
}

static void test_merge_limit(void **state)
{
    /* only the first 48894 merge lines are read (CLIPTokenizer); what follows is not checked */
    size_t k, n = 0, cap = 16 + 48894 * 4 + 64;
    char *m = (char *)malloc(cap);
    held h;
    ggdm_clip_tok_info info;
    (void)state;
    assert_non_null(m);
    n += (size_t)sprintf(m, "#version: 0.2\n");
    for (k = 0; k < 48894; k++)
        n += (size_t)sprintf(m + n, "a a\n");
    n += (size_t)sprintf(m + n, "not a merge line at all\n");
    memset(&h, 0, sizeof h);
    assert_int_equal(load_n(&h, tiny_vocab, strlen(tiny_vocab), m, n), GGDM_OK);
    assert_int_equal(ggdm_clip_tok_info_get(h.tok, &info), GGDM_OK);
    assert_int_equal(info.n_merges, 1); /* one pair, repeated */
    drop(&h);
    free(m);
}

static void test_args(void **state)
{
    held h;
    uint64_t b = 0, n = 7;
    int32_t ids[80];
    char work[64], arena[64], msg[GGDM_CLIP_TOK_MSG_LEN];
    ggdm_clip_tok *tok = (ggdm_clip_tok *)(void *)&b;
    ggdm_clip_tok_info info;
    (void)state;
    assert_int_equal(ggdm_clip_tok_bytes(1, 1, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_tok_bytes((uint64_t)GGDM_CLIP_TOK_FILE_MAX + 1, 1, &b), GGDM_ERR_UNSUPPORTED);
    assert_int_equal(b, 0);
    assert_int_equal(ggdm_clip_tok_bytes(1, (uint64_t)GGDM_CLIP_TOK_FILE_MAX + 1, &b), GGDM_ERR_UNSUPPORTED);
    assert_int_equal(ggdm_clip_tok_work_bytes(1, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_tok_work_bytes((uint64_t)GGDM_CLIP_TOK_TEXT_MAX + 1, &b), GGDM_ERR_UNSUPPORTED);
    assert_int_equal(ggdm_clip_tok_load(NULL, 0, "{}", 2, "", 0, &tok, msg), GGDM_ERR_ARG);
    assert_null(tok);
    assert_true(msg[0] != 0);
    assert_int_equal(ggdm_clip_tok_load(arena, sizeof arena, "{}", 2, "", 0, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_tok_load(arena, sizeof arena, NULL, 2, "", 0, &tok, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_tok_load(arena, sizeof arena, "{}", 2, NULL, 1, &tok, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_tok_load(arena, sizeof arena, "{}", (uint64_t)GGDM_CLIP_TOK_FILE_MAX + 1, "", 0, &tok,
                                        msg),
                     GGDM_ERR_UNSUPPORTED);
    assert_int_equal(ggdm_clip_tok_load(arena, sizeof arena, "{}", 2, "", 0, &tok, msg), GGDM_ERR_BUFFER_TOO_SMALL);
    assert_non_null(strstr(msg, "needed"));
    assert_int_equal(ggdm_clip_tok_info_get(NULL, &info), GGDM_ERR_ARG);

    memset(&h, 0, sizeof h);
    assert_int_equal(load(&h, tiny_vocab, tiny_merges), GGDM_OK);
    assert_int_equal(ggdm_clip_tok_info_get(h.tok, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_tok_encode(NULL, "a", 1, work, sizeof work, 77, ids, 77, &n), GGDM_ERR_ARG);
    assert_int_equal(n, 0);
    assert_int_equal(ggdm_clip_tok_encode(h.tok, NULL, 1, work, sizeof work, 77, ids, 77, &n), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_tok_encode(h.tok, "a", 1, NULL, sizeof work, 77, ids, 77, &n), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_tok_encode(h.tok, "a", 1, work, sizeof work, 77, NULL, 77, &n), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_tok_encode(h.tok, "a", 1, work, sizeof work, 77, ids, 77, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_tok_encode(h.tok, "a", 1, work, sizeof work, 1, ids, 77, &n), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_tok_encode(h.tok, "a", 1, work, sizeof work, 77, ids, 76, &n), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_tok_encode(h.tok, "a", (uint64_t)GGDM_CLIP_TOK_TEXT_MAX + 1, work, sizeof work, 77, ids,
                                          77, &n),
                     GGDM_ERR_UNSUPPORTED);
    assert_int_equal(ggdm_clip_tok_encode(h.tok, "aaaaaaaaaa", 10, work, sizeof work, 77, ids, 77, &n),
                     GGDM_ERR_BUFFER_TOO_SMALL);
    drop(&h);
}

/* Decomposition, reordering and composition (NFC), casing, the pattern's corner cases: the
 * same ids as the composed or lower-cased spelling, on the small tokenizer. */
static void same(const ggdm_clip_tok *tok, const char *a, const char *b)
{
    int32_t x[77], y[77];
    uint64_t nx = 0, ny = 0;
    assert_int_equal(enc(tok, a, strlen(a), 0, x, 77, &nx), GGDM_OK);
    assert_int_equal(enc(tok, b, strlen(b), 0, y, 77, &ny), GGDM_OK);
    if (nx != ny || memcmp(x, y, sizeof(int32_t) * (size_t)nx) != 0) {
        print_error("'%s' and '%s' tokenize differently\n", a, b);
        fail();
    }
}

static void test_normalisation(void **state)
{
    held h;
    (void)state;
    memset(&h, 0, sizeof h);
    assert_int_equal(load_n(&h, vocab_small, vocab_small_len, merges_small, merges_small_len), GGDM_OK);
    same(h.tok, "A\xcc\x8a", "\xc3\xa5");                           /* A + ring -> a-ring, lower-cased */
    same(h.tok, "a\xcc\x81\xcc\xa3", "a\xcc\xa3\xcc\x81");           /* canonical order (230 after 220) */
    same(h.tok, "\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8", "\xea\xb0\x81"); /* Hangul L V T -> syllable */
    same(h.tok, "\xef\xa4\x80", "\xe8\xb1\x88");                     /* U+F900 -> U+8C48 (singleton) */
    same(h.tok, "\xce\xa3\xce\x91\xce\xa3", "\xcf\x83\xce\xb1\xcf\x82"); /* final sigma */
    same(h.tok, "\xce\xa3", "\xcf\x83");                             /* alone: not final */
    same(h.tok, "IT'S", "it's");
    same(h.tok, "a\xe2\x80\x8b\x62", "ab");                          /* U+200B (Cf) dropped */
    same(h.tok, "x\xc2\xa0y", "x y");                                /* NBSP is a space */
    same(h.tok, "<|endo\x01" "ftext|>", "<|endoftext|>");            /* special after cleaning */
    same(h.tok, "\xe1\x84\x80\xe1\x85\xa1", "\xea\xb0\x80");            /* Hangul L V -> LV */
    same(h.tok, "a\xce\xa3\xcc\x81\x62", "a\xcf\x83\xcc\x81\x62");     /* sigma, mark, letter: not final */
    same(h.tok, "a\xce\xa3\xcc\x81!", "a\xcf\x82\xcc\x81!");             /* sigma, mark, no letter: final */
    same(h.tok, "a\xce\xa3\x31", "a\xcf\x82\x31");                      /* a digit is not cased */
    /* ill-formed UTF-8 is dropped: overlong, surrogate, > U+10FFFF, truncated */
    same(h.tok, "a\xf0\x8f\xbf\xbf\x62", "ab");
    same(h.tok, "a\xf4\x90\x80\x80\x62", "ab");
    same(h.tok, "a\xf0\x9f\x98\x62", "ab");
    same(h.tok, "a\xe0\x80\xaf\x62", "ab");
    same(h.tok, "a\xc0\xaf\x62", "ab");
    same(h.tok, "a\xc3", "a");
    same(h.tok, "a\xe2\x82", "a");
    same(h.tok, "a\xf0\x9f", "a");
    same(h.tok, "\xf0\x9f\x98\x80\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80\xf0\x9f\x98\x80");
    {
        int32_t ids[8];
        uint64_t n = 0;
        /* the pattern's first alternative after cleaning: the special token itself */
        assert_int_equal(enc(h.tok, "<|start\x01oftext|>", 16, 8, ids, 8, &n), GGDM_OK);
        assert_int_equal(n, 3);
        assert_int_equal(ids[1], 812);
        /* matched under IGNORECASE (long s) but not the exact string: byte-pair encoded */
        assert_int_equal(enc(h.tok, "<|\xc5\xbftartoftext|>", 16, 0, ids, 8, &n), GGDM_ERR_BUFFER_TOO_SMALL);
        assert_true(n > 3);
    }
    drop(&h);
}

static void test_file_forms(void **state)
{
    held h;
    (void)state;
    memset(&h, 0, sizeof h);
    /* lone \r line ends, trailing blanks, "-0", uppercase \u hex */
    assert_int_equal(load(&h, "{\"<|startoftext|>\": -0, \"<|endoftext|>\": 1, \"\\u00C3\": 2}",
                          "#version: 0.2\ra b</w>  \r\xc3\x83 b"),
                     GGDM_OK);
    drop(&h);
    memset(&h, 0, sizeof h);
    assert_int_equal(load(&h, "{\"<|startoftext|>\": 0, \"<|endoftext|>\": 1}", "#version\r\n\ra b  c\n"),
                     GGDM_ERR_FORMAT);
    assert_non_null(strstr(h.msg, "line 2: 0 symbols"));
    drop(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_known_ids), cmocka_unit_test(test_tiny_bpe), cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_merge_limit),     cmocka_unit_test(test_args),     cmocka_unit_test(test_normalisation),
        cmocka_unit_test(test_file_forms),
    };
    return cmocka_run_group_tests(tests, setup_small, teardown_small);
}
