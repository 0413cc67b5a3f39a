/*
 * AFFINE (ggdm/ops.def): not implemented yet (a skeleton: ggdm_op_affine_info refuses every
 * attribute set with GGDM_ERR_UNSUPPORTED, so no graph can contain it).
 */
#include "op_impl.h"

ggdm_status ggdm_op_affine_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_info_begin(info, 3, 0);
    (void)a;
    return GGDM_ERR_UNSUPPORTED;
}

void ggdm_cpu_affine_fwd(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    (void)c;
}

void ggdm_cpu_affine_vjp(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    (void)c;
}

void ggdm_elem_affine_fwd(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    (void)c;
}

void ggdm_elem_affine_vjp(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    (void)c;
}
