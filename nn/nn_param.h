/*
 * Trainable parameters and parameter lists.
 *
 * A parameter is a value tensor with a gradient tensor of the same shape.
 * Backward passes overwrite gradients (they do not accumulate), so no
 * zero_grad step is needed between iterations. Parameter lists hold pointers
 * into the layers that own the tensors.
 */
#ifndef ALUMCL_NN_PARAM_H
#define ALUMCL_NN_PARAM_H

#include "runtime/runtime.h"

typedef struct nn_param {
    char name[96];   /* torchvision-style path, e.g. "layer1.0.conv1.weight" */
    rt_tensor value;
    rt_tensor grad;
    bool weight_decay; /* false for batch-norm parameters and biases when so configured */
    int group;         /* optimiser parameter group (0 = backbone, 1 = classifier, ...) */
} nn_param;

/* A non-trainable tensor saved with the model (batch-norm running statistics). */
typedef struct nn_buffer {
    char name[96];
    rt_tensor *tensor;
} nn_buffer;

typedef struct nn_param_list {
    nn_param **params;
    int count, capacity;
    nn_buffer *buffers;
    int buffer_count, buffer_capacity;
} nn_param_list;

/* Allocates value and grad with the given shape; name is copied. */
int nn_param_init(rt_context *ctx, nn_param *p, const char *name, int ndim, const int *shape);
void nn_param_free(nn_param *p);

int nn_param_list_add(nn_param_list *list, nn_param *p);
int nn_param_list_add_buffer(nn_param_list *list, const char *name, rt_tensor *tensor);
void nn_param_list_free(nn_param_list *list);

/* Returns the total number of trainable scalars. */
size_t nn_param_list_numel(const nn_param_list *list);

/* Returns the parameter or buffer named name, or NULL. */
nn_param *nn_param_list_find(const nn_param_list *list, const char *name);
rt_tensor *nn_param_list_find_buffer(const nn_param_list *list, const char *name);

#endif
