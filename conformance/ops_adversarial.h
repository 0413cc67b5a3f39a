/*
 * conformance/ops_adversarial.h - conformance ops that feed hostile inputs (truncated,
 * oversized, wrong-dtype, NaN-carrying files; impossible configurations) to the reference's
 * readers and checks, and return their status, for the `expect = error:STATUS` vectors of
 * vectors/manifest.tsv (files in vectors/adversarial/). docs/testing.md lists them.
 *
 * Wiring into the reference's op table (conformance/ops_ref.c), either:
 *   - add `#include "ops_adversarial.h"` and the line `CONF_OPS_ADVERSARIAL` inside the
 *     initializer of ref_ops[] (the macro expands to the entries, each followed by a comma), or
 *   - look names up in conf_ops_adversarial[0 .. conf_ops_adversarial_count) as well.
 * Until then the runner reports these vectors as SKIP (op not implemented), never as passed.
 */
#ifndef GGDM_CONFORMANCE_OPS_ADVERSARIAL_H
#define GGDM_CONFORMANCE_OPS_ADVERSARIAL_H

#include "runner.h"

ggdm_status conf_op_parse_npy(conf_call *c);
ggdm_status conf_op_parse_npz(conf_call *c);
ggdm_status conf_op_parse_safetensors(conf_call *c);
ggdm_status conf_op_load_unet(conf_call *c);
ggdm_status conf_op_unet_check(conf_call *c);

#define CONF_OPS_ADVERSARIAL                                                                                           \
    {"parse_npy", conf_op_parse_npy, "a .npy file through the reader: parse, decode (as=), finiteness (finite=1)"},    \
        {"parse_npz", conf_op_parse_npz, "a member of a stored .npz (member=) through the reader, as parse_npy"},      \
        {"parse_safetensors", conf_op_parse_safetensors,                                                               \
         "a safetensors file through the reader; a tensor (tensor=) loaded as float32, finite=1"},                     \
        {"load_unet", conf_op_load_unet, "a weights file through the command's Unet1D loader (finite=1)"},             \
        {"unet_check", conf_op_unet_check, "a Unet1D configuration (dim, mults, ...) and batch N: sizes or the error"},

extern const conf_op conf_ops_adversarial[];
extern const int conf_ops_adversarial_count;

#endif
