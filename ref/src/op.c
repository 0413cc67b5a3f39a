/*
 * The op set's dispatch (ggdm/op.h), generated from the manifest ggdm/ops.def: names and
 * info functions by op id, and the two host drivers' tables (the reference's CPU code and
 * the elem loop), every entry bound by name.
 */
#include "ggdm/op.h"

#include <string.h>

#include "ggdm/backend.h"

static const char *const op_names[GGDM_OP_COUNT] = {
#define GGDM_OP(NAME, name, n_in, n_cache, doc) #name,
#include "ggdm/ops.def"
#undef GGDM_OP
};

typedef ggdm_status (*info_fn)(const ggdm_op_attr *a, ggdm_op_info *info);

static const info_fn op_info[GGDM_OP_COUNT] = {
#define GGDM_OP(NAME, name, n_in, n_cache, doc) ggdm_op_##name##_info,
#include "ggdm/ops.def"
#undef GGDM_OP
};

const char *ggdm_op_name(ggdm_op_id op)
{
    return (int)op >= 0 && op < GGDM_OP_COUNT ? op_names[op] : NULL;
}

ggdm_status ggdm_op_info_get(ggdm_op_id op, const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_info dummy;
    if (!info)
        info = &dummy;
    memset(info, 0, sizeof *info);
    if ((int)op < 0 || op >= GGDM_OP_COUNT || !a)
        return GGDM_ERR_ARG;
    return op_info[op](a, info);
}

const ggdm_op_impl ggdm_cpu_ops[GGDM_OP_COUNT] = {
#define GGDM_OP(NAME, name, n_in, n_cache, doc) GGDM_OP_IMPL(cpu, name)
#include "ggdm/ops.def"
#undef GGDM_OP
};

const ggdm_op_impl ggdm_elem_ops[GGDM_OP_COUNT] = {
#define GGDM_OP(NAME, name, n_in, n_cache, doc) GGDM_OP_IMPL(elem, name)
#include "ggdm/ops.def"
#undef GGDM_OP
};
