/*
 * Network parameter tables (ggdm/param.h): initialisation from a seed.
 */
#include "ggdm/param.h"

#include "ggdm/dmath.h"
#include "ggdm/rng.h"

ggdm_status ggdm_param_init(const ggdm_param_table *t, uint64_t seed, uint32_t net_id, float *params, uint64_t count)
{
    int i;
    if (!t || !t->tensor || !params || t->n_tensors < 0)
        return GGDM_ERR_ARG;
    if (count < t->n_params)
        return GGDM_ERR_BUFFER_TOO_SMALL;
    for (i = 0; i < t->n_tensors; i++) {
        ggdm_param_info p;
        uint64_t e;
        ggdm_status st = t->tensor(t->cfg, i, &p);
        if (st != GGDM_OK)
            return st;
        if (p.offset > t->n_params || p.count > t->n_params - p.offset)
            return GGDM_ERR_ARG;
        if (p.init == GGDM_PARAM_INIT_ONES || p.init == GGDM_PARAM_INIT_ZEROS) {
            for (e = 0; e < p.count; e++)
                params[p.offset + e] = p.init == GGDM_PARAM_INIT_ONES ? 1.0f : 0.0f;
        } else if (p.init == GGDM_PARAM_INIT_UNIFORM) {
            float b;
            if (p.fan_in == 0)
                return GGDM_ERR_ARG;
            b = (float)(1.0 / ggdm_sqrt((double)p.fan_in));
            ggdm_rng_fill_uniform(seed, ggdm_stream_id(GGDM_STREAM_WEIGHT_INIT, net_id, (uint32_t)i), 0,
                                  params + p.offset, p.count);
            for (e = 0; e < p.count; e++)
                params[p.offset + e] = b * (2.0f * params[p.offset + e] - 1.0f);
        } else if (p.init != GGDM_PARAM_INIT_DERIVED) {
            return GGDM_ERR_ARG;
        }
    }
    return GGDM_OK;
}
