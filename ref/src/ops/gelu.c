/* GELU: the erf GELU, element-wise (ggdm_gelu_*, ggdm_elem_gelu_*: docs/nn.md). */
#include "op_impl.h"

GGDM_UNARY_OP(gelu, gelu)
