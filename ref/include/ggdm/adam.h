/*
 * ggdm/adam.h - Adam exactly in PyTorch's form: torch.optim.Adam with foreach=False
 * (_single_tensor_adam), amsgrad off, no weight decay, maximize off, float32
 * parameters, as computed by ATen's AVX2 / AVX-512 CPU kernels (docs/data.md, "Adam").
 *
 * The state is the step count (here) and the moment arrays m, v (the caller's, zeroed
 * before the first step), so it serialises as (step, m, v).
 *
 * One step, for step k = step + 1 (float64 scalars, once per step):
 *   bc1 = 1 - b1^k, bc2 = 1 - b2^k        (b^k: ggdm_adam_powi, correctly rounded in practice)
 *   step_size = lr / bc1,  bc2_sqrt = sqrt(bc2)
 * rounded once to float32 where a float32 tensor op takes them:
 *   B1 = (float)b1, C1 = (float)(1 - b1), B2 = (float)b2, C2 = (float)(1 - b2),
 *   S = (float)bc2_sqrt, E = (float)eps, NS = (float)(-step_size)
 * then per element, float32 (PyTorch's op in brackets):
 *   m = m * B1                         [exp_avg.mul_(beta1)]
 *   m = fmaf(g, C1, m)                 [.add_(grad, alpha=1-beta1): ATen's vec::fmadd]
 *   v = v * B2                         [exp_avg_sq.mul_(beta2)]
 *   v = fmaf(C2 * g, g, v)             [.addcmul_(grad, grad, value=1-beta2): self + (value*t1)*t2, contracted]
 *   den = sqrtf(v) / S + E             [exp_avg_sq.sqrt() / bias_correction2_sqrt, .add_(eps)]
 *   p = p + (NS * m) / den             [param.addcdiv_(exp_avg, denom, value=-step_size): self + value*t1/t2]
 * Checked bit for bit against PyTorch 1.13 (conformance/interop/check_adam.py, test_adam).
 */
#ifndef GGDM_ADAM_H
#define GGDM_ADAM_H

#include <math.h>
#include <stdint.h>

#include "ggdm/hostdev.h"
#include "ggdm/status.h"

typedef struct ggdm_adam_cfg {
    double lr, beta1, beta2, eps;
} ggdm_adam_cfg;

typedef struct ggdm_adam_state {
    uint64_t step; /* steps taken so far (0 at the start) */
} ggdm_adam_state;

/* The float32 scalars of one step (see above). */
typedef struct ggdm_adam_scalars {
    float b1, c1, b2, c2, bc2_sqrt, eps, neg_step_size;
} ggdm_adam_scalars;

/* lr 1e-3, betas (0.9, 0.99) (the spec's; PyTorch's default beta2 is 0.999), eps 1e-8. */
void ggdm_adam_cfg_default(ggdm_adam_cfg *c);

/* GGDM_OK when lr >= 0, eps >= 0 (both finite) and 0 <= beta1, beta2 < 1 (PyTorch's checks). */
ggdm_status ggdm_adam_cfg_check(const ggdm_adam_cfg *c);

/*
 * b^k in float64 for 0 <= b < 1: exponentiation by squaring in double-double
 * arithmetic (products with their fma error terms), the high part returned: the
 * correctly rounded b^k except in cases of probability ~2^-45. powi(b, 0) = 1.
 */
double ggdm_adam_powi(double b, uint64_t k);

/* The scalars for step number k >= 1 (bc1 = 1 - b1^k etc.). GGDM_ERR_ARG for k = 0 or a bad cfg. */
ggdm_status ggdm_adam_scalars_at(const ggdm_adam_cfg *c, uint64_t k, ggdm_adam_scalars *s);

/* One element (the per-element chain above). */
GGDM_HD static inline void ggdm_adam_elem(const ggdm_adam_scalars *s, float *p, float g, float *m, float *v)
{
    float mm = *m * s->b1;
    float vv = *v * s->b2;
    float den;
    mm = fmaf(g, s->c1, mm);
    vv = fmaf(s->c2 * g, g, vv);
    den = sqrtf(vv) / s->bc2_sqrt + s->eps;
    *m = mm;
    *v = vv;
    *p = *p + (s->neg_step_size * mm) / den;
}

/*
 * One step over n parameters: s->step += 1, then every element updated as above.
 * A NaN or infinite gradient -> GGDM_ERR_NONFINITE with nothing changed (parameters,
 * m, v and step untouched). GGDM_ERR_ARG: null pointers (n > 0), bad cfg, step at
 * UINT64_MAX. (PyTorch counts steps in a float32 tensor, which stops at 2^24: the
 * two agree for the first 2^24 steps.)
 */
ggdm_status ggdm_adam_step(const ggdm_adam_cfg *c, ggdm_adam_state *s, float *params,
                           const float *grads, float *m, float *v, uint64_t n);

#endif /* GGDM_ADAM_H */
