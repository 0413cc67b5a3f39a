/*
 * ggdm tokenize: CLIP's tokenizer (ggdm/clip_tok.h) on the command line. Prints one line of
 * ids per text, as `tokenizer(text, padding="max_length", max_length=77, truncation=True)`
 * gives them for SD v1.5's tokenizer/ folder (docs/cli.md, docs/tokenizer.md).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cmds.h"
#include "ggdm/clip_tok.h"
#include "io.h"
#include "model_dir.h"
#include "netio.h"

static const char *const tokenize_usage =
    "usage: ggdm tokenize (--tokenizer DIR | --model DIR) [--max-length N] [--no-pad] [--hex] TEXT...\n"
    "CLIP's tokenizer (transformers' CLIPTokenizer, SD v1.5): prints one line of ids per TEXT.\n"
    "  --tokenizer DIR   folder with vocab.json and merges.txt (diffusers' tokenizer/ folder)\n"
    "  --model DIR       a diffusers pipeline folder: its tokenizer/ (model_index.json must list it)\n"
    "  --max-length N    BOS + at most N-2 tokens + EOS, padded with EOS to N (default 77);\n"
    "                    0: every token, no truncation, no padding\n"
    "  --no-pad          print the ids before the padding only\n"
    "  --hex             each TEXT is the text's bytes in hexadecimal (for NUL and invalid UTF-8)\n"
    "Exit status: 0 success, 1 unreadable or malformed tokenizer files, 2 usage error.\n";

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ggdm_cmd_tokenize(int argc, char **argv)
{
    const char *dir = NULL, *val;
    long long max_len = GGDM_CLIP_TOK_CTX;
    int i, r, no_pad = 0, hex = 0, ntext = 0, rc = 0, t;
    const char **texts = (const char **)malloc(sizeof(char *) * (size_t)(argc + 1));
    void *arena = NULL;
    const ggdm_clip_tok *tok = NULL;
    const char *model = NULL;
    char tdir[4096];
    ggdm_status st;

    if (!texts) {
        fprintf(stderr, "ggdm tokenize: out of memory\n");
        return 1;
    }
    for (i = 1; i < argc; i++) {
        if (ggdm_is_help(argv[i])) {
            fputs(tokenize_usage, stdout);
            free(texts);
            return 0;
        } else if ((r = ggdm_opt(argc, argv, &i, "--tokenizer", &val)) != 0) {
            if (r < 0)
                goto usage;
            dir = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--model", &val)) != 0) {
            if (r < 0)
                goto usage;
            model = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--max-length", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int("tokenize", "--max-length", val, 0, 1000000, &max_len))
                goto usage;
            if (max_len == 1) {
                fprintf(stderr, "ggdm tokenize: --max-length must be 0 or at least 2 (BOS and EOS)\n");
                goto usage;
            }
        } else if (strcmp(argv[i], "--no-pad") == 0) {
            no_pad = 1;
        } else if (strcmp(argv[i], "--hex") == 0) {
            hex = 1;
        } else if (strcmp(argv[i], "--") == 0) { /* the rest are texts, even "--x" */
            while (++i < argc)
                texts[ntext++] = argv[i];
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "ggdm tokenize: unknown option '%s' (texts starting with -- go after --)\n%s", argv[i],
                    tokenize_usage);
            goto usage;
        } else {
            texts[ntext++] = argv[i];
        }
    }
    if (!dir == !model) {
        fprintf(stderr, "ggdm tokenize: %s\n%s",
                dir ? "give --tokenizer DIR or --model DIR, not both" : "--tokenizer DIR (or --model DIR) is required",
                tokenize_usage);
        goto usage;
    }
    if (model) {
        ggdm_model_dir md;
        char err[512];
        if (ggdm_cli_model_open(&md, model, err, sizeof err) != GGDM_OK ||
            ggdm_cli_model_path(&md, "tokenizer", NULL, tdir, sizeof tdir, err, sizeof err) != GGDM_OK) {
            fprintf(stderr, "ggdm tokenize: --model %s\n", err);
            ggdm_cli_model_close(&md);
            free(texts);
            return 1;
        }
        ggdm_cli_model_close(&md);
        dir = tdir;
    }
    if (!ggdm_netio_tok_open("tokenize", dir, &arena, &tok)) {
        free(texts);
        return 1;
    }
    for (t = 0; t < ntext; t++) {
        const char *arg = texts[t];
        uint8_t *text = NULL;
        uint64_t len, n = 0, wbytes = 0, cap, k;
        int32_t *ids = NULL;
        void *work = NULL;
        len = strlen(arg);
        if (hex) {
            if (len % 2) {
                fprintf(stderr, "ggdm tokenize: --hex text of odd length: '%s'\n", arg);
                rc = 2;
                break;
            }
            text = (uint8_t *)malloc((size_t)len / 2 + 1);
            if (!text) {
                rc = 1;
                break;
            }
            for (k = 0; k < len / 2; k++) {
                int hi = hexval(arg[2 * k]), lo = hexval(arg[2 * k + 1]);
                if (hi < 0 || lo < 0) {
                    fprintf(stderr, "ggdm tokenize: --hex text is not hexadecimal: '%s'\n", arg);
                    free(text);
                    rc = 2;
                    break;
                }
                text[k] = (uint8_t)(hi * 16 + lo);
            }
            if (rc)
                break;
            len /= 2;
        }
        st = ggdm_clip_tok_work_bytes(len, &wbytes);
        if (st != GGDM_OK) {
            fprintf(stderr, "ggdm tokenize: text of %llu bytes: too long\n", (unsigned long long)len);
            free(text);
            rc = 1;
            break;
        }
        /* max_len 0: a token is at least one byte of the lower-cased NFC text, which has at
         * most 4.5 bytes per byte of the text (ggdm/clip_tok.h) */
        cap = max_len ? (uint64_t)max_len : 5 * len + 2;
        work = malloc((size_t)wbytes);
        ids = (int32_t *)malloc(sizeof(int32_t) * (size_t)cap);
        if (!work || !ids) {
            fprintf(stderr, "ggdm tokenize: out of memory\n");
            free(work);
            free(ids);
            free(text);
            rc = 1;
            break;
        }
        st = ggdm_clip_tok_encode(tok, hex ? (const char *)text : arg, len, work, wbytes, (uint32_t)max_len, ids, cap,
                                  &n);
        if (st != GGDM_OK) {
            fprintf(stderr, "ggdm tokenize: %s\n", ggdm_status_str(st));
            rc = 1;
        } else {
            uint64_t shown = (max_len && !no_pad) ? (uint64_t)max_len : n;
            for (k = 0; k < shown; k++)
                printf("%s%ld", k ? " " : "", (long)ids[k]);
            printf("\n");
        }
        free(work);
        free(ids);
        free(text);
        if (rc)
            break;
    }
    free(arena);
    free(texts);
    return rc;
usage:
    free(texts);
    return 2;
}
