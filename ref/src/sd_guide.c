/*
 * Gradient-guided Stable Diffusion: the guided noise prediction, a generation, and the
 * reward's linearisation (ggdm/sd_guide.h; docs/image.md). The networks do the work; this file
 * holds the order of the pipeline's scalar operations and the workspace's layout.
 */
#include "ggdm/sd_guide.h"

#include <string.h>

#include "ggdm/dmath.h"

#define ALIGN 64u

static size_t up(size_t n) { return (n + (ALIGN - 1)) & ~(size_t)(ALIGN - 1); }

static void msg_set(char *msg, const char *text)
{
    if (msg) {
        strncpy(msg, text, GGDM_SD_MSG_LEN - 1);
        msg[GGDM_SD_MSG_LEN - 1] = '\0';
    }
}

static int use_cfg(const ggdm_sd_guide_cfg *gc) { return gc->cfg_scale > 1.0f; }

static int finite(float v) { return v == v && v - v == 0.0f; }

/* The buffers after the two networks' workspaces (ggdm_sd_plan.off). */
enum { O_Z2, O_E2, O_Z0, O_X0, O_DX0, O_DZ0, O_DEP, O_DZ2, O_T2, O_LIN, O_SCHED, O_N };

static ggdm_status check_cfgs(const ggdm_sd_nets *nets, const ggdm_sd_guide_cfg *gc, char *msg)
{
    const ggdm_vae_cfg *v;
    const ggdm_unet2d_cfg *u;
    char m2[GGDM_UNET2D_MSG_LEN > GGDM_VAE_MSG_LEN ? GGDM_UNET2D_MSG_LEN : GGDM_VAE_MSG_LEN];
    if (!nets || !gc || !nets->unet || !nets->vae) {
        msg_set(msg, "no networks or no configuration");
        return GGDM_ERR_ARG;
    }
    u = nets->unet;
    v = nets->vae;
    if (gc->bs < 1 || gc->bs > 4096 || gc->Lt < 1 || gc->Lt > 4096) {
        msg_set(msg, "the batch size and the text length must be 1 .. 4096");
        return GGDM_ERR_ARG;
    }
    if (!finite(gc->cfg_scale) || !finite(gc->guidance) || !finite(gc->target)) {
        msg_set(msg, "the CFG scale, the guidance and the target must be finite");
        return GGDM_ERR_ARG;
    }
    if ((gc->bias != GGDM_SD_BIAS_BATCH && gc->bias != GGDM_SD_BIAS_OWN) ||
        (gc->loss != GGDM_SD_LOSS_MEAN && gc->loss != GGDM_SD_LOSS_SUM)) {
        msg_set(msg, "unknown bias or loss kind");
        return GGDM_ERR_ARG;
    }
    if (ggdm_unet2d_cfg_check(u, m2) != GGDM_OK || ggdm_vae_cfg_check(v, m2) != GGDM_OK) {
        msg_set(msg, m2);
        return GGDM_ERR_ARG;
    }
    if (u->in_channels != v->latent_channels || u->out_channels != u->in_channels) {
        msg_set(msg, "the UNet's in/out channels and the VAE's latent channels differ");
        return GGDM_ERR_ARG;
    }
    if (v->out_channels != 3) {
        msg_set(msg, "the VAE must decode to 3 channels (the reward's images)");
        return GGDM_ERR_ARG;
    }
    return GGDM_OK;
}

ggdm_status ggdm_sd_plan_sizing_bytes(const ggdm_sd_nets *nets, const ggdm_sd_guide_cfg *gc, size_t *bytes)
{
    ggdm_status st;
    if (!bytes)
        return GGDM_ERR_ARG;
    *bytes = 0;
    st = check_cfgs(nets, gc, NULL);
    return st != GGDM_OK ? st
                         : ggdm_unet2d_sizing_bytes(nets->unet, use_cfg(gc) ? 2 * gc->bs : gc->bs, nets->vae->height,
                                                    nets->vae->width, gc->Lt, bytes);
}

ggdm_status ggdm_sd_plan_make(const ggdm_sd_nets *nets, const ggdm_sd_guide_cfg *gc, const ggdm_sd_sched_cfg *sched,
                              const ggdm_exec *ex, void *tmp, size_t tmp_bytes, ggdm_sd_plan *p, char *msg)
{
    size_t u0 = 0, u1 = 0, off, nzb, nz, nx;
    ggdm_status st;
    if (!p) {
        msg_set(msg, "no plan");
        return GGDM_ERR_ARG;
    }
    memset(p, 0, sizeof *p);
    st = check_cfgs(nets, gc, msg);
    if (st != GGDM_OK)
        return st;
    if (sched) {
        char m2[GGDM_SD_SCHED_MSG_LEN];
        if (ggdm_sd_sched_cfg_check(sched, m2) != GGDM_OK) {
            msg_set(msg, m2);
            return GGDM_ERR_ARG;
        }
        if (sched->num_train_timesteps > 1000 || ggdm_sd_sched_calls(sched) > 1024) {
            msg_set(msg, "at most 1000 training timesteps and 1024 calls");
            return GGDM_ERR_UNSUPPORTED;
        }
        p->sched = *sched;
        p->has_sched = 1;
    }
    p->nets = *nets;
    p->unet = *nets->unet;
    p->vae = *nets->vae;
    p->nets.unet = NULL; /* the plan's own copies are used */
    p->nets.vae = NULL;
    p->gc = *gc;
    p->ex = ex;
    p->nb = use_cfg(gc) ? 2 * gc->bs : gc->bs;
    p->H = p->vae.height;
    p->W = p->vae.width;
    st = ggdm_vae_out_size(&p->vae, &p->OH, &p->OW);
    if (st == GGDM_OK)
        st = ggdm_unet2d_workspace_bytes(&p->unet, p->nb, p->H, p->W, gc->Lt, 0, ex, tmp, tmp_bytes, &u0);
    if (st == GGDM_OK)
        st = ggdm_unet2d_workspace_bytes(&p->unet, p->nb, p->H, p->W, gc->Lt, 1, ex, tmp, tmp_bytes, &u1);
    if (st == GGDM_OK)
        st = ggdm_vae_workspace_bytes(&p->vae, gc->bs, 1, ex, &p->vae_bytes);
    if (st != GGDM_OK) {
        msg_set(msg, st == GGDM_ERR_BUFFER_TOO_SMALL ? "the UNet's graph needs a larger sizing scratch"
                                                     : "the networks' sizes cannot be planned");
        return st;
    }
    p->nz = (size_t)p->unet.in_channels * (size_t)p->H * (size_t)p->W;
    p->nx = (size_t)3 * (size_t)p->OH * (size_t)p->OW;
    nzb = (size_t)p->nb * p->nz;
    nz = (size_t)gc->bs * p->nz;
    nx = (size_t)gc->bs * p->nx;
    p->unet_bytes = up(u0 > u1 ? u0 : u1);
    p->vae_bytes = up(p->vae_bytes);
    off = p->unet_bytes + p->vae_bytes;
    p->off[O_Z2] = off, off += up(nzb * sizeof(float));
    p->off[O_E2] = off, off += up(nzb * sizeof(float));
    p->off[O_Z0] = off, off += up(nz * sizeof(float));
    p->off[O_X0] = off, off += up(nx * sizeof(float));
    p->off[O_DX0] = off, off += up(nx * sizeof(float));
    p->off[O_DZ0] = off, off += up(nz * sizeof(float));
    p->off[O_DEP] = off, off += up(nzb * sizeof(float));
    p->off[O_DZ2] = off, off += up(nzb * sizeof(float));
    p->off[O_T2] = off, off += up((size_t)p->nb * sizeof(int64_t));
    p->off[O_LIN] = off, off += up((size_t)gc->bs * 2 * sizeof(double));
    p->eps_bytes = off;
    /* the generation's: eps, the scheduler's buffer, the table, the timesteps */
    p->off[O_SCHED] = off;
    if (sched)
        off += up(nz * sizeof(float)) + up(ggdm_sd_sched_buffer_floats(sched, nz) * sizeof(float)) +
               up((size_t)1000 * sizeof(float)) + up((size_t)1024 * sizeof(int64_t));
    p->bytes = off;
    return GGDM_OK;
}

/* The coefficients c_j = dL/dlin_j and the loss (header). */
static double coefficients(const ggdm_sd_guide_cfg *gc, const ggdm_sd_surrogate *sur, const double *lin, double *c)
{
    int i, j, bs = gc->bs;
    double loss = 0.0, y = (double)gc->target;
    for (j = 0; j < bs; j++) {
        double s = 0.0, q = 0.0;
        if (gc->bias == GGDM_SD_BIAS_BATCH) {
            for (i = 0; i < bs; i++) {
                double res = lin[j] + sur->r[i] - sur->gx[j] - y;
                s += res;
                q += res * res;
            }
            if (gc->loss == GGDM_SD_LOSS_MEAN) {
                c[j] = s / ((double)bs * (double)bs);
                loss += 0.5 * q / ((double)bs * (double)bs);
            } else {
                double m = s / (double)bs;
                c[j] = m;
                loss += 0.5 * m * m;
            }
        } else {
            double res = lin[j] + sur->r[j] - sur->gx[j] - y;
            c[j] = gc->loss == GGDM_SD_LOSS_MEAN ? res / (double)bs : res;
            loss += gc->loss == GGDM_SD_LOSS_MEAN ? 0.5 * res * res / (double)bs : 0.5 * res * res;
        }
    }
    return loss;
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    size_t e;
    for (e = 0; e < n; e++)
        s += (double)a[e] * (double)b[e];
    return s;
}

ggdm_status ggdm_sd_guide_eps(const ggdm_sd_plan *p, const ggdm_sd_surrogate *sur, int64_t t, float a, const float *z,
                              const float *text, float *eps, void *ws, size_t ws_bytes, ggdm_sd_step_info *info)
{
    unsigned char *base = (unsigned char *)ws;
    const ggdm_sd_guide_cfg *gc;
    float *z2, *e2;
    int64_t *t2;
    size_t nz, e;
    int j, cfg;
    float S;
    ggdm_status st;
    if (info)
        memset(info, 0, sizeof *info);
    if (!p || !p->nets.unet_params || !p->nets.vae_params || !z || !text || !eps || !ws || ((uintptr_t)ws & 15u) ||
        (sur && (!sur->g || !sur->r || !sur->gx)) || t < 0 || t > (1 << 24) || !(a > 0.0f && a <= 1.0f))
        return GGDM_ERR_ARG;
    if (ws_bytes < p->eps_bytes)
        return GGDM_ERR_BUFFER_TOO_SMALL;
    gc = &p->gc;
    cfg = use_cfg(gc);
    S = gc->cfg_scale;
    nz = (size_t)gc->bs * p->nz;
    z2 = (float *)(base + p->off[O_Z2]);
    e2 = (float *)(base + p->off[O_E2]);
    t2 = (int64_t *)(void *)(base + p->off[O_T2]);
    for (j = 0; j < p->nb; j++)
        t2[j] = t;
    memcpy(z2, z, nz * sizeof(float));
    if (cfg)
        memcpy(z2 + nz, z, nz * sizeof(float));
    if (!sur) {
        st = ggdm_unet2d_forward(&p->unet, p->nets.unet_params, p->nb, p->H, p->W, gc->Lt, z2, t2, text, e2, base,
                                 p->unet_bytes, NULL, NULL, p->ex);
        if (st != GGDM_OK)
            return st;
        for (e = 0; e < nz; e++) /* torch: noise_pred_uncond + guidance_scale * (noise_pred_text - noise_pred_uncond) */
            eps[e] = cfg ? e2[e] + S * (e2[nz + e] - e2[e]) : e2[e];
        return GGDM_OK;
    } else {
        float *z0 = (float *)(base + p->off[O_Z0]), *x0 = (float *)(base + p->off[O_X0]),
              *dx0 = (float *)(base + p->off[O_DX0]), *dz0 = (float *)(base + p->off[O_DZ0]),
              *dep = (float *)(base + p->off[O_DEP]), *dz2 = (float *)(base + p->off[O_DZ2]);
        double *lin = (double *)(void *)(base + p->off[O_LIN]), *c = lin + gc->bs, g2 = 0.0, loss;
        void *vws = base + p->unet_bytes;
        ggdm_unet2d_tape tape;
        float s1, sa, k;
        st = ggdm_unet2d_tape_forward(&p->unet, p->nets.unet_params, p->nb, p->H, p->W, gc->Lt, z2, t2, text, e2, base,
                                      p->unet_bytes, p->ex, &tape);
        if (st != GGDM_OK)
            return st;
        /* torch: (1 - alphas_cumprod[t]) ** 0.5 and alphas_cumprod[t] ** 0.5 in float32 */
        s1 = ggdm_sqrtf(1.0f - a);
        sa = ggdm_sqrtf(a);
        for (e = 0; e < nz; e++) {
            float ep = cfg ? e2[e] + S * (e2[nz + e] - e2[e]) : e2[e];
            z0[e] = (z[e] - s1 * ep) / sa;
        }
        st = ggdm_vae_decode(&p->vae, NULL, p->nets.vae_params, gc->bs, z0, x0, vws, p->vae_bytes, NULL, NULL, p->ex);
        if (st != GGDM_OK)
            return st;
        for (j = 0; j < gc->bs; j++)
            lin[j] = dot(sur->g + (size_t)j * p->nx, x0 + (size_t)j * p->nx, p->nx);
        loss = coefficients(gc, sur, lin, c);
        for (j = 0; j < gc->bs; j++) {
            const float cj = (float)c[j], *gj = sur->g + (size_t)j * p->nx;
            float *dj = dx0 + (size_t)j * p->nx;
            for (e = 0; e < p->nx; e++)
                dj[e] = cj * gj[e];
        }
        st = ggdm_vae_decode_vjp(&p->vae, NULL, p->nets.vae_params, gc->bs, z0, dx0, NULL, dz0, vws, p->vae_bytes,
                                 p->ex);
        if (st != GGDM_OK)
            return st;
        k = -s1 / sa;
        for (e = 0; e < nz; e++) {
            float w = dz0[e] * k;
            if (cfg) {
                dep[e] = w - S * w;
                dep[nz + e] = S * w;
            } else {
                dep[e] = w;
            }
        }
        st = ggdm_unet2d_tape_vjp(&tape, dep, dz2);
        if (st != GGDM_OK)
            return st;
        k = s1 * gc->guidance;
        for (e = 0; e < nz; e++) {
            float dz = dz0[e] / sa + dz2[e];
            float ep = cfg ? e2[e] + S * (e2[nz + e] - e2[e]) : e2[e];
            if (cfg)
                dz = dz + dz2[nz + e];
            g2 += (double)dz * (double)dz;
            eps[e] = ep + k * dz;
        }
        if (info) {
            info->loss = loss;
            info->gnorm = ggdm_sqrt(g2);
        }
    }
    return GGDM_OK;
}

ggdm_status ggdm_sd_generate(const ggdm_sd_plan *p, const ggdm_sd_surrogate *sur, float *z, const float *text,
                             void *ws, size_t ws_bytes, ggdm_sd_step_fn cb, void *cb_ctx)
{
    unsigned char *base = (unsigned char *)ws;
    ggdm_sd_sched_state ss;
    float *ac, *buf, *eps;
    int64_t *ts;
    int i, calls;
    size_t nz;
    ggdm_status st;
    if (!p || !p->has_sched || !z || !text || !ws || ((uintptr_t)ws & 15u))
        return GGDM_ERR_ARG;
    if (ws_bytes < p->bytes)
        return GGDM_ERR_BUFFER_TOO_SMALL;
    calls = ggdm_sd_sched_calls(&p->sched);
    nz = (size_t)p->gc.bs * p->nz;
    eps = (float *)(base + p->off[O_SCHED]);
    buf = (float *)(base + p->off[O_SCHED] + up(nz * sizeof(float)));
    ac = (float *)((unsigned char *)buf + up(ggdm_sd_sched_buffer_floats(&p->sched, nz) * sizeof(float)));
    ts = (int64_t *)(void *)((unsigned char *)ac + up((size_t)1000 * sizeof(float)));
    st = ggdm_sd_sched_alphas_cumprod(&p->sched, ac);
    if (st == GGDM_OK)
        st = ggdm_sd_sched_timesteps(&p->sched, ts);
    if (st == GGDM_OK)
        st = ggdm_sd_sched_start(&p->sched, &ss, nz, buf);
    for (i = 0; st == GGDM_OK && i < calls; i++) {
        ggdm_sd_step_info info;
        if (ts[i] < 0 || ts[i] >= p->sched.num_train_timesteps)
            return GGDM_ERR_ARG;
        st = ggdm_sd_guide_eps(p, sur, ts[i], ac[ts[i]], z, text, eps, ws, p->eps_bytes, &info);
        if (st == GGDM_OK)
            st = ggdm_sd_sched_step(&p->sched, &ss, ac, eps, z);
        if (st == GGDM_OK && cb && cb(cb_ctx, i, calls, z, &info) != 0)
            return GGDM_ERR_ARG;
    }
    return st;
}

ggdm_status ggdm_sd_linearize_workspace_bytes(const ggdm_vae_cfg *vae, const ggdm_resnet_cfg *rw, int bs,
                                              const ggdm_exec *ex, size_t *bytes)
{
    size_t a = 0, b = 0;
    int OH, OW;
    ggdm_status st;
    if (!bytes)
        return GGDM_ERR_ARG;
    *bytes = 0;
    if (!vae || !rw || bs < 1 || bs > 4096)
        return GGDM_ERR_ARG;
    st = ggdm_vae_out_size(vae, &OH, &OW);
    if (st == GGDM_OK)
        st = ggdm_vae_workspace_bytes(vae, bs, 0, ex, &a);
    if (st == GGDM_OK)
        st = ggdm_resnet_workspace_bytes(rw, bs, OH, OW, 1, ex, &b);
    if (st == GGDM_OK)
        *bytes = up(a > b ? a : b) + up((size_t)bs * 2 * sizeof(float) * (size_t)(rw->n_out > 0 ? rw->n_out : 1));
    return st;
}

ggdm_status ggdm_sd_linearize(const ggdm_vae_cfg *vae, const float *vae_params, const ggdm_resnet_cfg *rw,
                              const float *rw_params, int bs, const float *z, float *x, double *r, float *g,
                              double *gx, void *ws, size_t ws_bytes, const ggdm_exec *ex)
{
    size_t need, nx, a = 0, b = 0, net;
    int OH, OW, j, k, no;
    float *dr, *rf;
    ggdm_status st = ggdm_sd_linearize_workspace_bytes(vae, rw, bs, ex, &need);
    if (st != GGDM_OK)
        return st;
    if (!vae_params || !rw_params || !z || !x || !r || !g || !gx || !ws || ((uintptr_t)ws & 15u))
        return GGDM_ERR_ARG;
    if (ws_bytes < need)
        return GGDM_ERR_BUFFER_TOO_SMALL;
    if (rw->in_ch != 3 || rw->n_out < 1)
        return GGDM_ERR_ARG;
    (void)ggdm_vae_out_size(vae, &OH, &OW);
    (void)ggdm_vae_workspace_bytes(vae, bs, 0, ex, &a);
    (void)ggdm_resnet_workspace_bytes(rw, bs, OH, OW, 1, ex, &b);
    net = up(a > b ? a : b);
    no = rw->n_out;
    dr = (float *)((unsigned char *)ws + net);
    rf = dr + (size_t)bs * (size_t)no;
    nx = (size_t)3 * (size_t)OH * (size_t)OW;
    st = ggdm_vae_decode(vae, NULL, vae_params, bs, z, x, ws, net, NULL, NULL, ex);
    if (st != GGDM_OK)
        return st;
    /* the authors: rewards.sum().backward(): dr = 1 on the (first) output of every image */
    for (j = 0; j < bs; j++)
        for (k = 0; k < no; k++)
            dr[(size_t)j * no + k] = k == 0 ? 1.0f : 0.0f;
    st = ggdm_resnet_vjp(rw, rw_params, bs, OH, OW, x, dr, rf, g, ws, net, ex);
    if (st != GGDM_OK)
        return st;
    for (j = 0; j < bs; j++) {
        r[j] = (double)rf[(size_t)j * no];
        gx[j] = dot(g + (size_t)j * nx, x + (size_t)j * nx, nx);
    }
    return GGDM_OK;
}
