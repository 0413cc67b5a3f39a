/*
 * ggdm/elem/add.h - the ADD op's element functions (ggdm/ops.def): y = a + b (one addition
 * per element, the residual connections), and its VJP: da and db ADDED into with dy.
 * C99 and CUDA __host__ __device__. Launch order: forward y; VJP da, then db.
 */
#ifndef GGDM_ELEM_ADD_H
#define GGDM_ELEM_ADD_H

#include "ggdm/hostdev.h"

#define GGDM_ELEM_LAUNCHES_add_forward(F) F(add_forward, y)
#define GGDM_ELEM_LAUNCHES_add_backward(F) F(add_backward, da) F(add_backward, db)

GGDM_HD static inline long ggdm_elem_add_forward_y_count(long n)
{
    return n > 0 ? n : 0;
}

GGDM_HD static inline void ggdm_elem_add_forward_y(float *y, const float *a, const float *b, long n, long idx)
{
    (void)n;
    y[idx] = a[idx] + b[idx];
}

GGDM_HD static inline long ggdm_elem_add_backward_da_count(long n)
{
    return n > 0 ? n : 0;
}

GGDM_HD static inline void ggdm_elem_add_backward_da(float *da, float *db, const float *dy, long n, long idx)
{
    (void)db, (void)n;
    da[idx] = da[idx] + dy[idx];
}

GGDM_HD static inline long ggdm_elem_add_backward_db_count(long n)
{
    return n > 0 ? n : 0;
}

GGDM_HD static inline void ggdm_elem_add_backward_db(float *da, float *db, const float *dy, long n, long idx)
{
    (void)da, (void)n;
    db[idx] = db[idx] + dy[idx];
}

#endif /* GGDM_ELEM_ADD_H */
