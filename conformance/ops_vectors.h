/*
 * conformance/ops_vectors.h - the per-op golden vectors (vectors/ops/manifest.tsv): one op of
 * the manifest ggdm/ops.def, forward then VJP, through the backend in use (`be->ops[op]`,
 * the backend's memory operations and workspace), and one of its results (docs/conformance.md,
 * "Per-op vectors").
 *
 * Wiring into an op table: the line `CONF_OPS_VECTORS` inside the initializer of the table
 * (conformance/ops_ref.c's ref_ops[]; the macro expands to its entries, each followed by a comma).
 */
#ifndef GGDM_CONFORMANCE_OPS_VECTORS_H
#define GGDM_CONFORMANCE_OPS_VECTORS_H

#include "runner.h"

ggdm_status conf_op_op(conf_call *c);

#define CONF_OPS_VECTORS                                                                                               \
    {"op", conf_op_op, "one op of ggdm/ops.def, forward and VJP on the backend in use: out, a cache or a din"},

#endif
