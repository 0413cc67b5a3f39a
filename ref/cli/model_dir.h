/*
 * Front end: diffusers-layout model folders and their weights (may allocate).
 *
 *   ggdm_model_dir    a pipeline folder: model_index.json names the components (unet, vae,
 *                     text_encoder, tokenizer, scheduler, ...), each a sub-folder
 *   ggdm_cli_cfg      a component's config.json, parsed strictly (json.h), with typed
 *                     accessors whose errors name the file and the key
 *   ggdm_weight_set   the safetensors files holding a component's weights: one file, or
 *                     the shards of a *.safetensors.index.json; every file is mmap'ed
 *                     read-only and validated (ggdm/safetensors.h); names unique across it
 *   ggdm_cli_params_load / _save   a network's parameter table (ggdm/param.h) filled from /
 *                     written to such files (F32, F16 or BF16 read; F32 or F16 written)
 *
 * Every error is GGDM_ERR_IO (a file cannot be opened, mapped or written; out of memory),
 * GGDM_ERR_FORMAT (a file is malformed, or files disagree with each other or with the
 * network), GGDM_ERR_UNSUPPORTED (a dtype ggdm does not convert) or GGDM_ERR_ARG (bad
 * arguments, a table that is inconsistent), with one line in err naming the file and the
 * tensor or key. docs/formats.md, "Model folders", has the rules.
 */
#ifndef GGDM_CLI_MODEL_DIR_H
#define GGDM_CLI_MODEL_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "ggdm/param.h"
#include "ggdm/safetensors.h"
#include "ggdm/status.h"
#include "io.h"
#include "json.h"

/* ------------------------------------------------------------------ config.json */

typedef struct ggdm_cli_cfg {
    ggdm_jv *root; /* an object */
    char *path;
} ggdm_cli_cfg;

/* Reads and parses a config file; its top level must be an object. */
ggdm_status ggdm_cli_cfg_load(ggdm_cli_cfg *c, const char *path, char *err, size_t errcap);
void ggdm_cli_cfg_free(ggdm_cli_cfg *c);
/* The raw value (NULL when the key is absent). */
const ggdm_jv *ggdm_cli_cfg_get(const ggdm_cli_cfg *c, const char *key);
/* 1 when the key is present and not null. */
int ggdm_cli_cfg_has(const ggdm_cli_cfg *c, const char *key);

/*
 * Typed reads. Without _or: the key must be present (GGDM_ERR_FORMAT "PATH: key 'K' is
 * missing"). With _or: an absent key or null gives dflt. A value of the wrong type is
 * GGDM_ERR_FORMAT "PATH: key 'K': expected an integer, found a string". Integers are JSON
 * integers (no fraction or exponent) that fit a long long; floats are any number; strings
 * point into c (valid until ggdm_cli_cfg_free).
 */
ggdm_status ggdm_cli_cfg_int(const ggdm_cli_cfg *c, const char *key, long long *out, char *err, size_t errcap);
ggdm_status ggdm_cli_cfg_int_or(const ggdm_cli_cfg *c, const char *key, long long dflt, long long *out, char *err,
                                size_t errcap);
ggdm_status ggdm_cli_cfg_float(const ggdm_cli_cfg *c, const char *key, double *out, char *err, size_t errcap);
ggdm_status ggdm_cli_cfg_float_or(const ggdm_cli_cfg *c, const char *key, double dflt, double *out, char *err,
                                  size_t errcap);
ggdm_status ggdm_cli_cfg_bool(const ggdm_cli_cfg *c, const char *key, int *out, char *err, size_t errcap);
ggdm_status ggdm_cli_cfg_bool_or(const ggdm_cli_cfg *c, const char *key, int dflt, int *out, char *err,
                                 size_t errcap);
ggdm_status ggdm_cli_cfg_str(const ggdm_cli_cfg *c, const char *key, const char **out, char *err, size_t errcap);
ggdm_status ggdm_cli_cfg_str_or(const ggdm_cli_cfg *c, const char *key, const char *dflt, const char **out,
                                char *err, size_t errcap);
/* Arrays: *n elements written to out[0 .. cap); more than cap -> GGDM_ERR_FORMAT ("has N
 * elements, at most CAP"). A key absent or null -> GGDM_ERR_FORMAT (missing). */
ggdm_status ggdm_cli_cfg_ints(const ggdm_cli_cfg *c, const char *key, long long *out, int cap, int *n, char *err,
                              size_t errcap);
ggdm_status ggdm_cli_cfg_floats(const ggdm_cli_cfg *c, const char *key, double *out, int cap, int *n, char *err,
                                size_t errcap);
ggdm_status ggdm_cli_cfg_strs(const ggdm_cli_cfg *c, const char *key, const char **out, int cap, int *n,
                              char *err, size_t errcap);
/* diffusers' "int or tuple" keys (attention_head_dim, transformer_layers_per_block, ...):
 * an integer is repeated n times, an array must hold exactly n integers. */
ggdm_status ggdm_cli_cfg_ints_bcast(const ggdm_cli_cfg *c, const char *key, int n, long long *out, char *err,
                                    size_t errcap);

/* ------------------------------------------------------------------ weight sets */

typedef struct ggdm_wfile {
    char *path;
    ggdm_io_map map;
    ggdm_st_tensor *tensors;
    uint64_t n;
} ggdm_wfile;

typedef struct ggdm_wentry {
    char *name;      /* decoded */
    int file;        /* index into files */
    uint64_t tensor; /* index into files[file].tensors */
} ggdm_wentry;

typedef struct ggdm_weight_set {
    ggdm_wfile *files;
    int n_files;
    ggdm_wentry *entries; /* sorted by name (bytewise) */
    uint64_t n_entries;
    char *index_path; /* the *.index.json read, NULL for a single file */
} ggdm_weight_set;

/* Most shards an index may name. */
#define GGDM_WSET_MAX_SHARDS 4096

/*
 * Opens path: a safetensors file, or (name ending in ".json") a sharded index
 * {"metadata": {...}, "weight_map": {"tensor": "shard file", ...}} whose shards are plain
 * file names (no '/', not starting with '.', ending in ".safetensors") in the index's
 * folder. Each shard is opened once however often it is named; every tensor listed must be
 * in its shard and every tensor of a shard must be listed, for that shard. A name in two
 * files is an error. *set is zeroed first and is empty on error.
 */
ggdm_status ggdm_cli_wset_open(ggdm_weight_set *set, const char *path, char *err, size_t errcap);
/*
 * Opens a component folder's weights: DIR/BASE[.VARIANT].safetensors, or when that does
 * not exist DIR/BASE.safetensors.index[.VARIANT].json (diffusers' naming; variant NULL or
 * "" for none, e.g. "fp16"). base NULL tries "diffusion_pytorch_model", then "model". Both
 * a single file and an index present -> error (ambiguous); none -> error listing what was
 * looked for.
 */
ggdm_status ggdm_cli_wset_open_dir(ggdm_weight_set *set, const char *dir, const char *base, const char *variant,
                                   char *err, size_t errcap);
void ggdm_cli_wset_close(ggdm_weight_set *set);
/* The entry of that name, or NULL. */
const ggdm_wentry *ggdm_cli_wset_find(const ggdm_weight_set *set, const char *name);

/*
 * Name aliases: alias(ctx, name, k, out, cap) puts the k-th (k = 0, 1, ...) other name a
 * file may use for the network's tensor `name` into out and returns 1, or returns 0 when
 * there are no more. Tried in order after `name` itself.
 */
typedef int (*ggdm_alias_fn)(void *ctx, const char *name, int k, char *out, size_t cap);
/* Old diffusers VAE attention names: "...attentions.N.to_q.*" may be "...query.*", to_k ->
 * key, to_v -> value, to_out.0 -> proj_attn. */
int ggdm_cli_alias_vae_attn(void *ctx, const char *name, int k, char *out, size_t cap);

typedef struct ggdm_load_opts {
    ggdm_alias_fn alias; /* may be NULL */
    void *alias_ctx;
    /* Tensors of the files that are not parameters and are skipped: exact names,
     * "*SUFFIX" for every name ending in SUFFIX ("*num_batches_tracked"), or "PREFIX*" for
     * every name starting with PREFIX ("encoder.*"); "text_model.embeddings.position_ids".
     * NULL-terminated; may be NULL. */
    const char *const *ignore;
} ggdm_load_opts;

/*
 * Fills params[0 .. table->n_params) from the set: for every table entry, the tensor of
 * that name (or an alias), whose shape must equal the entry's, or be [O, I] where the entry
 * is [O, I, 1, 1] or the reverse (a linear layer run as a 1x1 convolution), and whose dtype
 * is F32, F16 or BF16 (converted exactly: ggdm_st_load_as_f32). Every check runs before
 * any data is converted. Errors name the file and tensor: a missing tensor, a shape
 * mismatch (both shapes), another dtype, a tensor two parameters claim (through an alias),
 * and a tensor of the files that no parameter uses and opts does not ignore ("the
 * configuration does not match the weights"). opts may be NULL. The table is checked:
 * names non-empty and NUL-terminated, 0..4 dims, count = product of the shape, the range
 * inside n_params (GGDM_ERR_ARG otherwise).
 */
ggdm_status ggdm_cli_params_load(const ggdm_weight_set *set, const ggdm_param_table *table, float *params,
                                 const ggdm_load_opts *opts, char *err, size_t errcap);

/*
 * Writes the table's tensors to one safetensors file at path, atomically (temporary file,
 * fsync, rename), streaming from params (no copy of the array): tensors sorted by name (the
 * layout safetensors.torch.save_file writes), metadata {"format": "pt"} plus meta[0 ..
 * n_meta). dtype GGDM_ST_F32 (bit for bit) or GGDM_ST_F16 (ggdm_st_f32_to_f16_bits:
 * nearest-even, |x| >= 65520 -> inf, NaN -> quiet NaN); others GGDM_ERR_ARG.
 */
ggdm_status ggdm_cli_params_save_file(const char *path, const ggdm_param_table *table, const float *params,
                                      ggdm_st_dtype dtype, const ggdm_st_kv *meta, uint64_t n_meta, char *err,
                                      size_t errcap);
/*
 * Writes them into folder dir (created if missing) under diffusers' names: BASE[.VARIANT]
 * .safetensors when the data fits in max_shard_bytes (0: no limit); otherwise shards
 * BASE[.VARIANT]-0000k-of-0000N.safetensors, filled in table order as huggingface_hub
 * splits a state dict (a new shard when the next tensor would pass the limit; a tensor
 * larger than the limit alone), then BASE.safetensors.index[.VARIANT].json
 * {"metadata": {"total_size": data bytes}, "weight_map": {...}} written last. Each file is
 * written atomically; the other form's file (index or single file) is removed afterwards so
 * that the folder is not ambiguous.
 */
ggdm_status ggdm_cli_params_save(const char *dir, const char *base, const char *variant,
                                 const ggdm_param_table *table, const float *params, ggdm_st_dtype dtype,
                                 uint64_t max_shard_bytes, char *err, size_t errcap);

/* ------------------------------------------------------------------ model folders */

typedef struct ggdm_model_dir {
    char *dir;
    ggdm_jv *index; /* model_index.json */
} ggdm_model_dir;

/*
 * Opens a diffusers pipeline folder: DIR/model_index.json must be an object; each member
 * not starting with '_' is a component ["library", "ClassName"] (two strings) whose folder
 * DIR/NAME must exist, or [null, null] / null for an absent one (safety_checker); booleans
 * ("requires_safety_checker") are pipeline options and skipped. Anything
 * else is an error naming the key.
 */
ggdm_status ggdm_cli_model_open(ggdm_model_dir *md, const char *dir, char *err, size_t errcap);
void ggdm_cli_model_close(ggdm_model_dir *md);
/* The component's class name ("UNet2DConditionModel"), NULL when absent. */
const char *ggdm_cli_model_class(const ggdm_model_dir *md, const char *comp);
/* DIR/COMP/FILE into out (FILE may be NULL: the folder). GGDM_ERR_ARG: the component is
 * absent; GGDM_ERR_BUFFER_TOO_SMALL: does not fit. */
ggdm_status ggdm_cli_model_path(const ggdm_model_dir *md, const char *comp, const char *file, char *out,
                                size_t cap, char *err, size_t errcap);
/* The component's configuration: config.json (scheduler: scheduler_config.json,
 * tokenizer: tokenizer_config.json). */
ggdm_status ggdm_cli_model_config(const ggdm_model_dir *md, const char *comp, ggdm_cli_cfg *cfg, char *err,
                                  size_t errcap);
/* The component's weights (ggdm_cli_wset_open_dir): unet and vae
 * diffusion_pytorch_model, text_encoder model, others either. */
ggdm_status ggdm_cli_model_weights(const ggdm_model_dir *md, const char *comp, const char *variant,
                                   ggdm_weight_set *set, char *err, size_t errcap);

#endif
