#include "runtime/rt_cache.h"

int rt_cache_load(rt_context *ctx, const char *name, const char *source, const char *options,
                  cl_program *out)
{
    (void)ctx, (void)name, (void)source, (void)options, (void)out;
    return RT_ERR_NOT_FOUND;
}

void rt_cache_store(rt_context *ctx, const char *name, const char *source, const char *options,
                    cl_program program)
{
    (void)ctx, (void)name, (void)source, (void)options, (void)program;
}
