/*
 * Front end: the pieces the network commands share (cmd_nets.c, cmd_sd.c, cmd_sdinit.c):
 * .npy inputs with shape checks, a network's weights from safetensors files or a diffusers
 * folder, .npy outputs, workspaces (may allocate; messages to stderr as "ggdm CMD: ...").
 */
#ifndef GGDM_CLI_NETIO_H
#define GGDM_CLI_NETIO_H

#include <stddef.h>
#include <stdint.h>

#include "ggdm/param.h"
#include "io.h"
#include "model_dir.h"

/* A command's string-valued options: {name, &variable}, ended by {NULL, NULL}. */
typedef struct ggdm_netio_sopt {
    const char *name;
    const char **dst;
} ggdm_netio_sopt;
/* argv[*i] one of tab's options (ggdm_opt: "--name V" or "--name=V")? 1: stored (and *i
 * advanced), -1: its value is missing (message printed), 0: none of them. */
int ggdm_netio_opt(int argc, char **argv, int *i, const ggdm_netio_sopt *tab);

/* Most tensors a table may have for ggdm_netio_stored. */
#define GGDM_NETIO_MAX_TENSORS 4096

/* A view of a table without its DERIVED entries (those are not in weight files). */
typedef struct ggdm_netio_stored_table {
    ggdm_param_table base;
    int map[GGDM_NETIO_MAX_TENSORS];
} ggdm_netio_stored_table;

/* *out: t without DERIVED entries, backed by s (which must outlive out). 0 on a table that
 * is too large or whose entries cannot be read. */
int ggdm_netio_stored(const ggdm_param_table *t, ggdm_netio_stored_table *s, ggdm_param_table *out);

/*
 * A float32 .npy array of ndim dimensions, none of them 0, into *a. On error: a message
 * "ggdm CMD: OPT PATH ..." and 0 (a freed).
 */
int ggdm_netio_load_f32(const char *cmd, const char *opt, const char *path, int ndim, ggdm_array *a);
/* Writes a float32 .npy; 0 (with the message) on error. */
int ggdm_netio_save_f32(const char *cmd, const char *path, int ndim, const uint64_t *shape, const float *data);
/* An aligned workspace of bytes (message on failure). */
void *ggdm_netio_alloc_ws(const char *cmd, size_t bytes);

/*
 * The table's stored tensors from set into a new zeroed array of t->n_params floats
 * (ggdm_cli_params_load with opts; prefix non-NULL: only the set's tensors whose names start
 * with prefix take part, under their names without it). NULL (with the message) on error.
 */
float *ggdm_netio_load_set(const char *cmd, const ggdm_weight_set *set, const ggdm_param_table *t,
                           const ggdm_load_opts *opts, const char *prefix);
/* The same from a file (a safetensors file or a sharded index, ggdm_cli_wset_open). */
float *ggdm_netio_load_path(const char *cmd, const char *path, const ggdm_param_table *t,
                            const ggdm_load_opts *opts, const char *prefix);
/* The same from component comp of a diffusers folder (ggdm_cli_model_weights; variant NULL
 * or e.g. "fp16"). */
float *ggdm_netio_load_model(const char *cmd, const ggdm_model_dir *md, const char *comp, const char *variant,
                             const ggdm_param_table *t, const ggdm_load_opts *opts);

/*
 * The --model DIR form of a network command: with model NULL nothing happens (1; *md
 * zeroed). Otherwise model is a diffusers folder (ggdm_cli_model_open) that must list comp,
 * *cfgp becomes DIR/COMP/config.json (in cfgbuf) and *md stays open for ggdm_netio_load
 * (ggdm_cli_model_close it). --model with --config or --weights: usage error. Returns 1,
 * 0 (error, message printed: exit 1) or -1 (usage: exit 2).
 */
int ggdm_netio_model(const char *cmd, const char *model, const char *comp, const char **cfgp, const char *wp,
                     ggdm_model_dir *md, char *cfgbuf, size_t cap);
/* Weights from md's comp when md->dir is set (variant NULL or "fp16"), else from path. */
float *ggdm_netio_load(const char *cmd, const ggdm_model_dir *md, const char *comp, const char *variant,
                       const char *path, const ggdm_param_table *t, const ggdm_load_opts *opts, const char *prefix);

/* A CLIP tokenizer from DIR/vocab.json and DIR/merges.txt (ggdm/clip_tok.h): *tok in *arena
 * (free it). 0 with the message on error. */
struct ggdm_clip_tok;
int ggdm_netio_tok_open(const char *cmd, const char *dir, void **arena, const struct ggdm_clip_tok **tok);

/* A trace folder (`--trace DIR`): every named activation as DIR/NAME.npy, their order in
 * DIR/index.txt (what `ggdm diff` compares; ci/interop/trace_diffusers.py writes diffusers'). */
typedef struct ggdm_netio_trace {
    const char *cmd, *dir;
    void *index; /* FILE * */
    int count, failed;
} ggdm_netio_trace;
/* Creates DIR (if missing) and its index; 0 (message printed) on failure. */
int ggdm_netio_trace_open(ggdm_netio_trace *t, const char *cmd, const char *dir);
/* The trace callback of the networks (ggdm_graph_trace_fn's signature; ctx: the trace). */
void ggdm_netio_trace_write(void *ctx, const char *name, const float *data, int ndim, const uint64_t *shape);
/* Closes the index; 0 when a write failed. */
int ggdm_netio_trace_close(ggdm_netio_trace *t);

#endif
