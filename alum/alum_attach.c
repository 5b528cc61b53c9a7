/* Hook registration on nn_resnet, kept apart so the modules link without the network. */
#include "alum/alum_internal.h"

static void detach_resnet(alum *a)
{
    nn_hook identity = {0};
    for (int p = 0; p < NN_NUM_POINTS; p++)
        if (alum_point_used(&a->config, p))
            nn_resnet_set_hook(a->network, p, &identity);
    a->network = NULL;
    a->detach = NULL;
}

void alum_detach(alum *a)
{
    if (a->detach)
        a->detach(a);
}

int alum_attach(alum *a, nn_resnet *net)
{
    alum_detach(a);
    for (int p = 0; p < NN_NUM_POINTS; p++) {
        nn_hook hook = alum_hook(a, p);
        if (hook.forward)
            nn_resnet_set_hook(net, p, &hook);
    }
    a->network = net;
    a->detach = detach_resnet;
    return RT_OK;
}
