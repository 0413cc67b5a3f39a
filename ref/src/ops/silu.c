/* SILU: y = x * sigmoid(x), element-wise (ggdm_silu_*, ggdm_elem_silu_*: docs/nn.md). */
#include "op_impl.h"

GGDM_UNARY_OP(silu, silu)
