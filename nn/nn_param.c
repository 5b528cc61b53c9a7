#include "nn/nn_param.h"

#include <stdlib.h>
#include <string.h>

int nn_param_init(rt_context *ctx, nn_param *p, const char *name, int ndim, const int *shape)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->weight_decay = true;
    char grad_name[128];
    snprintf(grad_name, sizeof grad_name, "%s.grad", name);
    RT_TRY(rt_tensor_alloc(ctx, &p->value, name, RT_F32, ndim, shape));
    int st = rt_tensor_alloc(ctx, &p->grad, grad_name, RT_F32, ndim, shape);
    if (st != RT_OK) {
        rt_tensor_free(&p->value);
        return st;
    }
    return rt_tensor_zero(&p->grad);
}

void nn_param_free(nn_param *p)
{
    rt_tensor_free(&p->value);
    rt_tensor_free(&p->grad);
}

int nn_param_list_add(nn_param_list *list, nn_param *p)
{
    if (list->count == list->capacity) {
        int cap = list->capacity ? 2 * list->capacity : 64;
        nn_param **grown = realloc(list->params, (size_t)cap * sizeof *grown);
        if (!grown)
            return rt_set_error(RT_ERR_NOMEM, "out of host memory adding parameter %s", p->name);
        list->params = grown;
        list->capacity = cap;
    }
    list->params[list->count++] = p;
    return RT_OK;
}

int nn_param_list_add_buffer(nn_param_list *list, const char *name, rt_tensor *tensor)
{
    if (list->buffer_count == list->buffer_capacity) {
        int cap = list->buffer_capacity ? 2 * list->buffer_capacity : 64;
        nn_buffer *grown = realloc(list->buffers, (size_t)cap * sizeof *grown);
        if (!grown)
            return rt_set_error(RT_ERR_NOMEM, "out of host memory adding buffer %s", name);
        list->buffers = grown;
        list->buffer_capacity = cap;
    }
    nn_buffer *b = &list->buffers[list->buffer_count++];
    snprintf(b->name, sizeof b->name, "%s", name);
    b->tensor = tensor;
    return RT_OK;
}

void nn_param_list_free(nn_param_list *list)
{
    free(list->params);
    free(list->buffers);
    memset(list, 0, sizeof *list);
}

size_t nn_param_list_numel(const nn_param_list *list)
{
    size_t n = 0;
    for (int i = 0; i < list->count; i++)
        n += list->params[i]->value.numel;
    return n;
}

nn_param *nn_param_list_find(const nn_param_list *list, const char *name)
{
    for (int i = 0; i < list->count; i++)
        if (strcmp(list->params[i]->name, name) == 0)
            return list->params[i];
    return NULL;
}

rt_tensor *nn_param_list_find_buffer(const nn_param_list *list, const char *name)
{
    for (int i = 0; i < list->buffer_count; i++)
        if (strcmp(list->buffers[i].name, name) == 0)
            return list->buffers[i].tensor;
    return NULL;
}
