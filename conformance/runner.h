/*
 * conformance/runner.h - the golden-vector runner, shared by every implementation.
 *
 * vectors/manifest.tsv lists the vectors (one per line, tab-separated):
 *   id  op  params  expect  xxh3  tolerance  flags  comment
 * An implementation provides a table of ops (conf_impl); the runner reads the
 * manifest, checks the stored files against vectors/files.xxh3, computes every vector
 * with the implementation and compares: bit for bit (hash and every element) for an
 * exact implementation, within the vector's tolerance for a non-exact one.
 * `regenerate` (make vectors) recomputes every vector with the reference and rewrites
 * the outputs, the manifest's hashes and files.xxh3. See docs/conformance.md.
 */
#ifndef GGDM_CONFORMANCE_RUNNER_H
#define GGDM_CONFORMANCE_RUNNER_H

#include "../ref/cli/io.h"
#include "ggdm/exec.h"
#include "ggdm/status.h"

#define CONF_MAX_PARAMS 24
#define CONF_FIELD 512

typedef struct conf_vector {
    int line;
    char id[128];
    char op[64];
    char params[CONF_FIELD];
    char expect[256];
    char xxh3[32];
    char tolerance[128];
    char flags[256];
    char comment[CONF_FIELD];
    int nparams;
    char key[CONF_MAX_PARAMS][32];
    char val[CONF_MAX_PARAMS][256];
} conf_vector;

/* What an op sees: its vector, where the files are, and where its result goes. */
typedef struct conf_call {
    const conf_vector *v;
    const char *dir;
    ggdm_array out; /* the op allocates it with ggdm_array_alloc */
    char err[512];  /* why the op failed (with its status) */
    const ggdm_exec *ex; /* --threads N: the executor the op passes to the library (results must not change) */
    int skip;            /* set by an op that cannot run this vector on this implementation (err says why) */
} conf_call;

typedef ggdm_status (*conf_op_fn)(conf_call *c);

typedef struct conf_op {
    const char *name;
    conf_op_fn fn;
    const char *doc;
} conf_op;

typedef struct conf_impl {
    const char *name;  /* "ref", "cuda-exact", "cuda-fast", ... */
    const conf_op *ops;
    int nops;
    int exact;         /* 1: every vector must match bit for bit; 0: per-vector tolerance */
} conf_impl;

/* Parameter access for ops. Missing keys give the default (or an error for _req). */
const char *conf_param(const conf_call *c, const char *key);
ggdm_status conf_param_i64(conf_call *c, const char *key, long long def, long long *out);
ggdm_status conf_param_u64(conf_call *c, const char *key, unsigned long long def, unsigned long long *out);
ggdm_status conf_param_f64(conf_call *c, const char *key, double def, double *out);
/* Loads the input named by key ("@relative/path.npy" in the vectors folder). */
ggdm_status conf_input(conf_call *c, const char *key, ggdm_array *a);

/* Entry point of `ggdm conformance` / `ggdm vectors` (regenerate = 1). Returns an exit code. */
int conf_main(int argc, char **argv, const conf_impl *impl, int regenerate);

/* The reference implementation's op table (conformance/ops_ref.c). */
extern const conf_impl conf_impl_ref;

/* Returns the status of x when it is not GGDM_OK (the ops' setup code). */
#define TRY(x)                                                                                                         \
    do {                                                                                                               \
        ggdm_status st_ = (x);                                                                                         \
        if (st_ != GGDM_OK)                                                                                            \
            return st_;                                                                                                \
    } while (0)

#endif
