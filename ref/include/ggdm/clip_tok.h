/*
 * ggdm/clip_tok.h - CLIP's byte-level BPE tokenizer (Stable Diffusion v1.5's text encoder
 * input), token for token what transformers 4.36.2's CLIPTokenizer gives without ftfy
 * installed. docs/tokenizer.md describes the exact pipeline and what is rejected.
 *
 * Nothing here allocates, prints or reads files: the caller hands in the bytes of
 * vocab.json and merges.txt (diffusers' tokenizer/ folder) and the memory.
 *
 *   1. ggdm_clip_tok_bytes(vocab_len, merges_len, &bytes): the arena the tokenizer needs.
 *   2. ggdm_clip_tok_load(arena, bytes, vocab, vocab_len, merges, merges_len, &tok, msg):
 *      validates both files and builds the hash tables in the arena (the files' bytes are
 *      not referenced afterwards). tok points into the arena.
 *   3. ggdm_clip_tok_work_bytes(text_len, &w), then
 *      ggdm_clip_tok_encode(tok, text, text_len, work, w, 77, ids, 77, &n): BOS, the text's
 *      tokens, EOS, truncated and padded to 77 as `tokenizer(text, padding="max_length",
 *      max_length=77, truncation=True)` does (n: the ids before the padding).
 * The tokenizer is read-only after loading: several threads may encode with one tok (each
 * with its own work memory).
 */
#ifndef GGDM_CLIP_TOK_H
#define GGDM_CLIP_TOK_H

#include <stdint.h>

#include "ggdm/status.h"

/* Size of the msg buffer of ggdm_clip_tok_load; it receives "" or a one-line reason. */
#define GGDM_CLIP_TOK_MSG_LEN 160
/* SD v1.5's context length (the text encoder's 77 positions). */
#define GGDM_CLIP_TOK_CTX 77
/* Merges read after merges.txt's header line, as CLIPTokenizer: 49152 - 256 - 2. */
#define GGDM_CLIP_TOK_MAX_MERGES 48894u
/* The special tokens; both must be keys of vocab.json. The unknown and the padding token
 * are <|endoftext|> (SD v1.5's tokenizer_config.json: unk_token, pad_token). */
#define GGDM_CLIP_TOK_BOS "<|startoftext|>"
#define GGDM_CLIP_TOK_EOS "<|endoftext|>"
/* Largest vocab.json / merges.txt accepted (offsets are 32-bit): GGDM_ERR_UNSUPPORTED above. */
#define GGDM_CLIP_TOK_FILE_MAX 0x7fffffffu
/* Largest text ggdm_clip_tok_encode accepts (work memory is about 90 bytes per byte). */
#define GGDM_CLIP_TOK_TEXT_MAX 0x1000000u

typedef struct ggdm_clip_tok ggdm_clip_tok; /* lives in the caller's arena */

typedef struct ggdm_clip_tok_info {
    uint32_t n_vocab;  /* entries of vocab.json */
    uint32_t n_merges; /* merge lines used (at most GGDM_CLIP_TOK_MAX_MERGES) */
    int32_t bos;       /* id of <|startoftext|> */
    int32_t eos;       /* id of <|endoftext|> (also the unknown and the padding id) */
} ggdm_clip_tok_info;

/* Arena bytes for files of these sizes (an upper bound; any alignment of the arena works).
 * GGDM_ERR_ARG for a null bytes, GGDM_ERR_UNSUPPORTED above GGDM_CLIP_TOK_FILE_MAX. */
ggdm_status ggdm_clip_tok_bytes(uint64_t vocab_len, uint64_t merges_len, uint64_t *bytes);

/*
 * Validates and loads. GGDM_ERR_FORMAT (msg says where and why) for: invalid UTF-8, JSON
 * that is not one object of string keys and integer values, a duplicate key, an id outside
 * [0, number of entries), a missing <|startoftext|> or <|endoftext|>, a merges.txt whose
 * first line does not start with "#version", or a merge line (of the first
 * GGDM_CLIP_TOK_MAX_MERGES) that is not two whitespace-separated symbols.
 * GGDM_ERR_BUFFER_TOO_SMALL when arena_bytes < ggdm_clip_tok_bytes(...);
 * GGDM_ERR_ARG for null pointers. msg may be null.
 */
ggdm_status ggdm_clip_tok_load(void *arena, uint64_t arena_bytes, const char *vocab, uint64_t vocab_len,
                               const char *merges, uint64_t merges_len, ggdm_clip_tok **tok, char *msg);

ggdm_status ggdm_clip_tok_info_get(const ggdm_clip_tok *tok, ggdm_clip_tok_info *info);

/* Work memory of ggdm_clip_tok_encode for a text of text_len bytes (any alignment).
 * GGDM_ERR_UNSUPPORTED above GGDM_CLIP_TOK_TEXT_MAX. */
ggdm_status ggdm_clip_tok_work_bytes(uint64_t text_len, uint64_t *bytes);

/*
 * Encodes text (UTF-8, text_len bytes, NUL bytes allowed and dropped like every control
 * character; invalid UTF-8 sequences are dropped as python's bytes.decode("utf-8",
 * "replace") followed by the tokenizer's removal of U+FFFD would).
 *   max_len >= 2: BOS + the first max_len - 2 tokens + EOS, then EOS padding up to max_len;
 *                 ids_cap >= max_len; *n = the ids before the padding (2 .. max_len).
 *   max_len == 0: BOS + every token + EOS, no padding; *n = their number; when it exceeds
 *                 ids_cap, GGDM_ERR_BUFFER_TOO_SMALL (with *n still the number needed).
 *                 Never more than 5 * text_len + 2 (a token is at least one byte of the
 *                 lower-cased NFC text, at most 4.5 bytes per byte of the text).
 * GGDM_ERR_ARG: null pointers (text may be null when text_len is 0), max_len == 1,
 * ids_cap < max_len; GGDM_ERR_BUFFER_TOO_SMALL: work_bytes too small.
 */
ggdm_status ggdm_clip_tok_encode(const ggdm_clip_tok *tok, const char *text, uint64_t text_len, void *work,
                                 uint64_t work_bytes, uint32_t max_len, int32_t *ids, uint64_t ids_cap,
                                 uint64_t *n);

#endif /* GGDM_CLIP_TOK_H */
