/*
 * ggdm/elem/add.h - the ADD op's element functions (ggdm/ops.def): y = a + b (one addition
 * per element, the residual connections), and its VJP: da and db ADDED into with dy.
 * Broadcast (kind GGDM_ADD_BCAST): b is [N, C, 1, 1], added at each of the P = H W positions
 * (Stable Diffusion's time embedding into a ResNet block): y[n,c,p] = a[n,c,p] + b[n,c];
 * db[n,c] = db + (chain over p of acc + dy[n,c,p]).
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

#define GGDM_ELEM_LAUNCHES_addb_forward(F) F(addb_forward, y)
#define GGDM_ELEM_LAUNCHES_addb_backward(F) F(addb_backward, da) F(addb_backward, db)

GGDM_HD static inline long ggdm_elem_addb_forward_y_count(long NC, long P)
{
    return NC > 0 && P > 0 ? NC * P : 0;
}

GGDM_HD static inline void ggdm_elem_addb_forward_y(float *y, const float *a, const float *b, long NC, long P,
                                                    long idx)
{
    (void)NC;
    y[idx] = a[idx] + b[idx / P];
}

GGDM_HD static inline long ggdm_elem_addb_backward_da_count(long NC, long P)
{
    return NC > 0 && P > 0 ? NC * P : 0;
}

GGDM_HD static inline void ggdm_elem_addb_backward_da(float *da, float *db, const float *dy, long NC, long P,
                                                      long idx)
{
    (void)db, (void)NC, (void)P;
    da[idx] = da[idx] + dy[idx];
}

GGDM_HD static inline long ggdm_elem_addb_backward_db_count(long NC, long P)
{
    return NC > 0 && P > 0 ? NC : 0;
}

GGDM_HD static inline void ggdm_elem_addb_backward_db(float *da, float *db, const float *dy, long NC, long P,
                                                      long idx)
{
    float acc = 0.0f;
    long p;
    const float *d = dy + idx * P;
    (void)da, (void)NC;
    for (p = 0; p < P; p++)
        acc = acc + d[p];
    db[idx] = db[idx] + acc;
}

#endif /* GGDM_ELEM_ADD_H */
