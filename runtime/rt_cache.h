/*
 * On-disk cache of compiled program binaries.
 *
 * Location: $ALUMCL_CACHE_DIR, else $XDG_CACHE_HOME/alumcl, else
 * ~/.cache/alumcl. ALUMCL_CACHE=0 disables it. The key covers the platform
 * name and version, device name, vendor, driver version, alumcl version,
 * build options and source text.
 */
#ifndef ALUMCL_RT_CACHE_H
#define ALUMCL_RT_CACHE_H

#include "runtime/rt_context.h"

/* Loads and builds a cached binary; RT_ERR_NOT_FOUND on a miss or a bad entry. */
int rt_cache_load(rt_context *ctx, const char *name, const char *source, const char *options,
                  cl_program *out);

/* Stores the binary of a built program; failures are logged and ignored. */
void rt_cache_store(rt_context *ctx, const char *name, const char *source, const char *options,
                    cl_program program);

#endif
