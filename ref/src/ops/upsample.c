/*
 * UPSAMPLE: nearest-neighbour upsampling by 2. a.sh 0 or 1: along W only (H = 1;
 * ggdm_upsample2_*: docs/nn.md); a.sh = 2: along H and W, [N, C, H, W] -> [N, C, 2H, 2W]
 * (ggdm/elem/upsample2d.h defines the chains: the VJP sums the four copies in the order
 * (0,0), (0,1), (1,0), (1,1), then adds into dx).
 */
#include "op_impl.h"

#include "ggdm/elem/upsample2d.h"

ggdm_status ggdm_op_upsample_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_op_info_begin(info, 1, 0);
    if (!ggdm_op_shape_ok(a) || a->W > (1 << 29) || a->sh < 0 || a->sh > 2)
        return GGDM_ERR_ARG;
    if (a->sh == 2) {
        if (a->H > (1 << 29))
            return GGDM_ERR_ARG;
        return ggdm_op_info_out(info, &z, a->N, a->C, 2 * a->H, 2 * a->W);
    }
    if (a->H != 1)
        return GGDM_ERR_UNSUPPORTED; /* along W only for one row; 2-D nearest is a.sh = 2 */
    return ggdm_op_info_out(info, &z, a->N, a->C, 1, 2 * a->W);
}

/* y[n,c,h2,w2] = x[n,c,h2/2,w2/2] */
static void upsample2d_forward(float *y, const float *x, long rows, long H, long W)
{
    long r, h, w;
    for (r = 0; r < rows; r++)
        for (h = 0; h < H; h++) {
            const float *xr = x + (r * H + h) * W;
            float *y0 = y + (r * 2 * H + 2 * h) * 2 * W, *y1 = y0 + 2 * W;
            for (w = 0; w < W; w++) {
                y0[2 * w] = y0[2 * w + 1] = xr[w];
                y1[2 * w] = y1[2 * w + 1] = xr[w];
            }
        }
}

/* dx[n,c,h,w] += (((dy[2h,2w] + dy[2h,2w+1]) + dy[2h+1,2w]) + dy[2h+1,2w+1]) */
static void upsample2d_backward(float *dx, const float *dy, long rows, long H, long W)
{
    long r, h, w;
    for (r = 0; r < rows; r++)
        for (h = 0; h < H; h++) {
            float *dxr = dx + (r * H + h) * W;
            const float *d0 = dy + (r * 2 * H + 2 * h) * 2 * W, *d1 = d0 + 2 * W;
            for (w = 0; w < W; w++)
                dxr[w] = dxr[w] + (((d0[2 * w] + d0[2 * w + 1]) + d1[2 * w]) + d1[2 * w + 1]);
        }
}

void ggdm_cpu_upsample_fwd(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    if (c->a.sh == 2)
        upsample2d_forward(c->out, c->in[0], (long)c->a.N * c->a.C, c->a.H, c->a.W);
    else
        ggdm_upsample2_forward(c->out, c->in[0], c->a.N, c->a.C, c->a.W);
}

void ggdm_cpu_upsample_vjp(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    if (!c->din[0])
        return;
    if (c->a.sh == 2)
        upsample2d_backward(c->din[0], c->dout, (long)c->a.N * c->a.C, c->a.H, c->a.W);
    else
        ggdm_upsample2_backward(c->din[0], c->dout, c->a.N, c->a.C, c->a.W);
}

void ggdm_elem_upsample_fwd(void *ctx, const ggdm_op_call *c)
{
    float *y = c->out;
    const float *x = c->in[0];
    int N = c->a.N, C = c->a.C, L = c->a.W, H = c->a.H;
    (void)ctx;
    if (c->a.sh == 2) {
#define A_ (y, x, N, C, H, L, idx_)
#define S_ (N, C, H, L)
        GGDM_ELEM_LAUNCHES_upsample2d_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
    } else {
#define A_ (y, x, N, C, L, idx_)
#define S_ (N, C, L)
        GGDM_ELEM_LAUNCHES_upsample2_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
    }
}

void ggdm_elem_upsample_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dx = c->din[0];
    const float *dy = c->dout;
    int N = c->a.N, C = c->a.C, L = c->a.W, H = c->a.H;
    (void)ctx;
    if (c->a.sh == 2) {
#define A_ (dx, dy, N, C, H, L, idx_)
#define S_ (N, C, H, L)
        GGDM_ELEM_LAUNCHES_upsample2d_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
    } else {
#define A_ (dx, dy, N, C, L, idx_)
#define S_ (N, C, L)
        GGDM_ELEM_LAUNCHES_upsample2_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
    }
}
