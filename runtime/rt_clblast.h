/*
 * CLBlast glue: status names and GEMM tuning.
 *
 * rt_clblast_tune() runs CLBlast's clblast_tuner_xgemm (Debian package
 * clblast-utils) on the context's device and stores the best Xgemm parameters
 * in the kernel cache directory (see rt_cache.h) as clblast-xgemm-HASH.txt,
 * where HASH names the device. rt_context_create() applies stored parameters
 * for its device with CLBlastOverrideParameters.
 */
#ifndef ALUMCL_RT_CLBLAST_H
#define ALUMCL_RT_CLBLAST_H

#include <stdio.h>

#include "runtime/rt_context.h"

#define RT_CLBLAST_MAX_PARAMS 32

/* Kernel parameters of one CLBlast kernel, as names and values. */
typedef struct rt_clblast_params {
    char kernel[64]; /* CLBlast kernel name, e.g. "Xgemm" */
    int count;
    char names[RT_CLBLAST_MAX_PARAMS][32];
    size_t values[RT_CLBLAST_MAX_PARAMS];
} rt_clblast_params;

/* Returns the enumerator name of a CLBlast status code ("CLBlastInvalidLeadDimA"). */
const char *rt_clblast_status_name(int status);

/*
 * Parses a JSON file written by clblast_tuner_xgemm (CLBlast 1.5): the kernel
 * name from "best_kernel" (else "Xgemm"), checking that "kernel_family" starts
 * with "xgemm", and the parameters from "best_parameters" ("NAME=VALUE ...");
 * PRECISION is dropped. Returns RT_ERR_FORMAT naming the missing or malformed
 * field.
 */
int rt_clblast_parse_tuner_json(const char *json, rt_clblast_params *out);

/*
 * Runs clblast_tuner_xgemm for the context's device with a search fraction
 * (0 < fraction <= 1; 0.02 tries 2 % of the random search space), copies its
 * output to log (may be NULL) and stores the best parameters atomically beside
 * the kernel cache. Takes minutes on a CPU device. RT_ERR_NOT_FOUND when the
 * tuner is not installed, RT_ERR_IO when the cache directory is not writable.
 */
int rt_clblast_tune(rt_context *ctx, double fraction, FILE *log);

/*
 * Applies stored parameters for the context's device, if any, with
 * CLBlastOverrideParameters. Returns RT_OK when nothing is stored or the cache
 * is disabled; a malformed or rejected file yields RT_ERR_FORMAT naming it.
 */
int rt_clblast_apply_stored(rt_context *ctx);

/*
 * Stores parameters for the context's device atomically: the device lines
 * (platform, version, device, vendor, driver), "kernel: NAME", then one
 * NAME=VALUE per line.
 */
int rt_clblast_store_params(const rt_context *ctx, const rt_clblast_params *params);

/* Writes the path of the parameter file for the context's device; RT_ERR_NOT_FOUND if disabled. */
int rt_clblast_params_path(const rt_context *ctx, char *buf, size_t size);

#endif
