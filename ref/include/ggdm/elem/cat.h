/*
 * ggdm/elem/cat.h - the CAT op's element functions (ggdm/ops.def): channel concatenation per
 * sample of a [N, Ca, P] and b [N, Cb, P] (P = H W positions) into y [N, Ca + Cb, P], and its
 * VJP (da, db ADDED into: one addition each). C99 and CUDA __host__ __device__.
 *
 * Launch order: forward y; VJP da, then db (independent).
 */
#ifndef GGDM_ELEM_CAT_H
#define GGDM_ELEM_CAT_H

#include "ggdm/hostdev.h"

#define GGDM_ELEM_LAUNCHES_cat_forward(F) F(cat_forward, y)
#define GGDM_ELEM_LAUNCHES_cat_backward(F) F(cat_backward, da) F(cat_backward, db)

GGDM_HD static inline long ggdm_elem_cat_forward_y_count(int N, int Ca, int Cb, long P)
{
    return N > 0 && Ca > 0 && Cb > 0 && P > 0 ? (long)N * (Ca + Cb) * P : 0;
}

GGDM_HD static inline void ggdm_elem_cat_forward_y(float *y, const float *a, const float *b, int N, int Ca, int Cb,
                                                   long P, long idx)
{
    long row = (long)(Ca + Cb) * P, n = idx / row, r = idx % row;
    (void)N;
    y[idx] = r < (long)Ca * P ? a[n * Ca * P + r] : b[n * Cb * P + (r - (long)Ca * P)];
}

GGDM_HD static inline long ggdm_elem_cat_backward_da_count(int N, int Ca, int Cb, long P)
{
    return N > 0 && Ca > 0 && Cb > 0 && P > 0 ? (long)N * Ca * P : 0;
}

GGDM_HD static inline void ggdm_elem_cat_backward_da(float *da, float *db, const float *dy, int N, int Ca, int Cb,
                                                     long P, long idx)
{
    long n = idx / ((long)Ca * P), r = idx % ((long)Ca * P);
    (void)db, (void)N;
    da[idx] = da[idx] + dy[n * (Ca + Cb) * P + r];
}

GGDM_HD static inline long ggdm_elem_cat_backward_db_count(int N, int Ca, int Cb, long P)
{
    return N > 0 && Ca > 0 && Cb > 0 && P > 0 ? (long)N * Cb * P : 0;
}

GGDM_HD static inline void ggdm_elem_cat_backward_db(float *da, float *db, const float *dy, int N, int Ca, int Cb,
                                                     long P, long idx)
{
    long n = idx / ((long)Cb * P), r = idx % ((long)Cb * P);
    (void)da, (void)N;
    db[idx] = db[idx] + dy[n * (Ca + Cb) * P + (long)Ca * P + r];
}

#endif /* GGDM_ELEM_CAT_H */
