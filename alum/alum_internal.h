/* State of an alum instance, shared by alum.c and alum_attach.c. */
#ifndef ALUMCL_ALUM_INTERNAL_H
#define ALUMCL_ALUM_INTERNAL_H

#include "alum/alum.h"

struct alum {
    rt_context *ctx;
    alum_config config;
    uint64_t seed, step;
    const rt_tensor *labels;       /* int32 [B] of the next training forward */
    const rt_tensor *sample_index; /* int32 [B] dataset indices, or NULL */
    bool mc_mode;

    alum_dsu modules[NN_NUM_POINTS];
    rt_tensor draws[NN_NUM_POINTS]; /* [2, B, C] normal draws per point */

    rt_tensor mining_embedding; /* [B, C]: pooled P5 input, optionally L2-normalised */
    rt_tensor mined;            /* int32 [2, B]: p(i), then n(i) */
    rt_tensor groups;           /* int32 scale groups at P5 */
    bool mined_ready;           /* mined belongs to the last training forward */
    alum_triplet triplet;

    bool tracking; /* accumulate data uncertainty */
    alum_data_uncertainty uncertainty;

    /* Set by alum_attach: clears the hooks of the attached network. */
    void (*detach)(alum *a);
    void *network;
};

/* Whether point needs a hook under the configuration. */
bool alum_point_used(const alum_config *config, int point);

#endif
