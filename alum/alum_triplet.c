#include "alum/alum_triplet.h"

#include <string.h>

#include "alum/alum_dsu.h"

static int check_embedding(const rt_tensor *emb, const char *what)
{
    if (emb->dtype != RT_F32 || emb->ndim != 2)
        return rt_set_error(RT_ERR_INVALID, "%s: embedding %s must be a float32 [B, D] tensor",
                            what, emb->name);
    return RT_OK;
}

int alum_embed_normalize(rt_context *ctx, const rt_tensor *in, rt_tensor *out, bool normalize)
{
    RT_TRY(check_embedding(in, "alum_embed_normalize"));
    if (out->numel != in->numel)
        return rt_set_error(RT_ERR_INVALID,
                            "alum_embed_normalize: output %s has %zu elements, input %s has %zu",
                            out->name, out->numel, in->name, in->numel);
    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "triplet", "embed_normalize", &k));
    cl_int batch = in->shape[0], dim = in->shape[1], flag = normalize ? 1 : 0;
    RT_ARG(ctx, k, 0, batch);
    RT_ARG(ctx, k, 1, dim);
    RT_ARG(ctx, k, 2, flag);
    RT_ARG(ctx, k, 3, in->buf);
    RT_ARG(ctx, k, 4, out->buf);
    size_t global = (size_t)batch;
    return rt_launch(ctx, k, "embed_normalize", 1, &global, NULL);
}

int alum_mine_hardest(rt_context *ctx, const rt_tensor *emb, const rt_tensor *labels,
                      rt_tensor *mined)
{
    RT_TRY(check_embedding(emb, "alum_mine_hardest"));
    cl_int batch = emb->shape[0], dim = emb->shape[1];
    if (labels->dtype != RT_I32 || labels->numel != (size_t)batch)
        return rt_set_error(RT_ERR_INVALID,
                            "alum_mine_hardest: labels %s must be int32 with %d elements (one "
                            "per embedding row)",
                            labels->name, batch);
    if (mined->dtype != RT_I32 || mined->numel != 2 * (size_t)batch)
        return rt_set_error(RT_ERR_INVALID, "alum_mine_hardest: output %s must be int32 [2, %d]",
                            mined->name, batch);
    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "triplet", "mine_hardest", &k));
    RT_ARG(ctx, k, 0, batch);
    RT_ARG(ctx, k, 1, dim);
    RT_ARG(ctx, k, 2, emb->buf);
    RT_ARG(ctx, k, 3, labels->buf);
    RT_ARG(ctx, k, 4, mined->buf);
    size_t global = (size_t)batch;
    return rt_launch(ctx, k, "mine_hardest", 1, &global, NULL);
}

void alum_triplet_init(alum_triplet *triplet, float margin, float weight, bool normalize)
{
    memset(triplet, 0, sizeof *triplet);
    triplet->margin = margin;
    triplet->weight = weight;
    triplet->normalize = normalize;
}

void alum_triplet_free(alum_triplet *triplet)
{
    rt_tensor_free(&triplet->normalized);
    rt_tensor_free(&triplet->terms);
    rt_tensor_free(&triplet->result);
    rt_tensor_free(&triplet->grad_normalized);
    rt_tensor_free(&triplet->grad);
}

int alum_triplet_forward(rt_context *ctx, alum_triplet *triplet, const rt_tensor *emb,
                         const rt_tensor *mined)
{
    RT_TRY(check_embedding(emb, "alum_triplet_forward"));
    cl_int batch = emb->shape[0], dim = emb->shape[1];
    if (mined->dtype != RT_I32 || mined->numel != 2 * (size_t)batch)
        return rt_set_error(RT_ERR_INVALID,
                            "alum_triplet_forward: mined indices %s must be int32 [2, %d]",
                            mined->name, batch);
    int terms_shape[2] = {4, batch}, result_shape[1] = {3};
    RT_TRY(
        alum_tensor_ensure(ctx, &triplet->normalized, "triplet_normalized", RT_F32, 2, emb->shape));
    RT_TRY(alum_tensor_ensure(ctx, &triplet->terms, "triplet_terms", RT_F32, 2, terms_shape));
    RT_TRY(alum_tensor_ensure(ctx, &triplet->result, "triplet_result", RT_F32, 1, result_shape));
    RT_TRY(alum_embed_normalize(ctx, emb, &triplet->normalized, triplet->normalize));

    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "triplet", "triplet_terms", &k));
    cl_float margin = triplet->margin, weight = triplet->weight;
    RT_ARG(ctx, k, 0, batch);
    RT_ARG(ctx, k, 1, dim);
    RT_ARG(ctx, k, 2, margin);
    RT_ARG(ctx, k, 3, triplet->normalized.buf);
    RT_ARG(ctx, k, 4, mined->buf);
    RT_ARG(ctx, k, 5, triplet->terms.buf);
    size_t global = (size_t)batch;
    RT_TRY(rt_launch(ctx, k, "triplet_terms", 1, &global, NULL));

    RT_TRY(rt_kernel_get(ctx, "triplet", "triplet_reduce", &k));
    RT_ARG(ctx, k, 0, batch);
    RT_ARG(ctx, k, 1, weight);
    RT_ARG(ctx, k, 2, triplet->terms.buf);
    RT_ARG(ctx, k, 3, triplet->result.buf);
    global = 1;
    return rt_launch(ctx, k, "triplet_reduce", 1, &global, NULL);
}

int alum_triplet_backward(rt_context *ctx, alum_triplet *triplet, const rt_tensor *emb,
                          const rt_tensor *mined)
{
    if (!triplet->terms.buf || triplet->normalized.numel != emb->numel)
        return rt_set_error(RT_ERR_INVALID,
                            "alum_triplet_backward: run alum_triplet_forward on %s first",
                            emb->name);
    cl_int batch = emb->shape[0], dim = emb->shape[1];
    RT_TRY(alum_tensor_ensure(ctx, &triplet->grad_normalized, "triplet_grad_normalized", RT_F32, 2,
                              emb->shape));
    RT_TRY(alum_tensor_ensure(ctx, &triplet->grad, "triplet_grad", RT_F32, 2, emb->shape));

    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "triplet", "triplet_grad", &k));
    RT_ARG(ctx, k, 0, batch);
    RT_ARG(ctx, k, 1, dim);
    RT_ARG(ctx, k, 2, triplet->normalized.buf);
    RT_ARG(ctx, k, 3, mined->buf);
    RT_ARG(ctx, k, 4, triplet->terms.buf);
    RT_ARG(ctx, k, 5, triplet->result.buf);
    RT_ARG(ctx, k, 6, triplet->grad_normalized.buf);
    size_t global = (size_t)batch * (size_t)dim;
    RT_TRY(rt_launch(ctx, k, "triplet_grad", 1, &global, NULL));

    RT_TRY(rt_kernel_get(ctx, "triplet", "embed_normalize_backward", &k));
    cl_int flag = triplet->normalize ? 1 : 0;
    RT_ARG(ctx, k, 0, batch);
    RT_ARG(ctx, k, 1, dim);
    RT_ARG(ctx, k, 2, flag);
    RT_ARG(ctx, k, 3, emb->buf);
    RT_ARG(ctx, k, 4, triplet->normalized.buf);
    RT_ARG(ctx, k, 5, triplet->grad_normalized.buf);
    RT_ARG(ctx, k, 6, triplet->grad.buf);
    global = (size_t)batch;
    return rt_launch(ctx, k, "embed_normalize_backward", 1, &global, NULL);
}
