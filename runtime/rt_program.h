/*
 * Kernel programs: embedded sources, builds, kernel lookup and launches.
 *
 * Each cl_kernels/NAME.cl file is one program, embedded at build time and
 * built on first use with options derived from the device. Setting
 * ALUMCL_KERNEL_DIR reads NAME.cl from that directory instead, for kernel
 * development without rebuilding.
 */
#ifndef ALUMCL_RT_PROGRAM_H
#define ALUMCL_RT_PROGRAM_H

#include "runtime/rt_context.h"

typedef struct rt_embedded_source {
    const char *name;
    const char *source;
} rt_embedded_source;

extern const rt_embedded_source rt_embedded_sources[];
extern const int rt_embedded_source_count;

/* Returns the built program NAME (cl_kernels/NAME.cl), building it on first use. */
int rt_program_get(rt_context *ctx, const char *program, cl_program *out);

/*
 * Builds a program from source text under a given name with the context's
 * options plus extra_options (may be NULL). A failed build returns RT_ERR_BUILD
 * with the program name, the options and the full build log in the message.
 */
int rt_program_build_source(rt_context *ctx, const char *name, const char *source,
                            const char *extra_options, cl_program *out);

/* Returns kernel KERNEL of program PROGRAM; kernels are created once and cached. */
int rt_kernel_get(rt_context *ctx, const char *program, const char *kernel, cl_kernel *out);

/* Releases all programs and kernels of the context. */
void rt_programs_release(rt_context *ctx);

/*
 * Enqueues a kernel. global sizes are rounded up to multiples of local (when
 * local is not NULL), so kernels must bounds-check. name labels the profile.
 */
int rt_launch(rt_context *ctx, cl_kernel kernel, const char *name, cl_uint dims,
              const size_t *global, const size_t *local);

/* Sets kernel argument index to the bytes of an lvalue; returns from the caller on error. */
#define RT_ARG(ctx, kernel, index, value)                                                          \
    RT_CL_CHECK((ctx), clSetKernelArg((kernel), (index), sizeof(value), &(value)))

/* Sets a __local argument of the given size in bytes. */
#define RT_ARG_LOCAL(ctx, kernel, index, bytes)                                                    \
    RT_CL_CHECK((ctx), clSetKernelArg((kernel), (index), (bytes), NULL))

#endif
