#include "runtime/rt_program.h"
#include "runtime/rt_cache.h"
#include "runtime/rt_profile.h"

#include <stdlib.h>
#include <string.h>

typedef struct rt_kernel_entry {
    char name[128];
    cl_kernel kernel;
    struct rt_kernel_entry *next;
} rt_kernel_entry;

struct rt_program_entry {
    char name[128];
    cl_program program;
    rt_kernel_entry *kernels;
    struct rt_program_entry *next;
};

static char *read_text_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = '\0';
    fclose(f);
    return buf;
}

static int find_source(const char *program, char **source_out)
{
    const char *dir = getenv("ALUMCL_KERNEL_DIR");
    if (dir && *dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.cl", dir, program);
        *source_out = read_text_file(path);
        if (!*source_out)
            return rt_set_error(RT_ERR_IO,
                                "cannot read kernel source %s (ALUMCL_KERNEL_DIR is set); unset "
                                "it to use the embedded kernels",
                                path);
        return RT_OK;
    }
    for (int i = 0; i < rt_embedded_source_count; i++)
        if (strcmp(rt_embedded_sources[i].name, program) == 0) {
            *source_out = strdup(rt_embedded_sources[i].source);
            return *source_out ? RT_OK : rt_set_error(RT_ERR_NOMEM, "out of host memory");
        }
    return rt_set_error(RT_ERR_NOT_FOUND, "no kernel program named '%s' is embedded", program);
}

static int build_log_error(rt_context *ctx, const char *name, const char *options,
                           cl_program program, cl_int status)
{
    size_t size = 0;
    clGetProgramBuildInfo(program, ctx->info.device, CL_PROGRAM_BUILD_LOG, 0, NULL, &size);
    char *log = malloc(size + 1);
    if (log) {
        log[0] = '\0';
        clGetProgramBuildInfo(program, ctx->info.device, CL_PROGRAM_BUILD_LOG, size, log, NULL);
        log[size] = '\0';
    }
    int code = rt_set_error(RT_ERR_BUILD,
                            "building kernel file %s.cl failed: %s on device %s\noptions: %s\n"
                            "build log:\n%s",
                            name, rt_cl_error_name(status), ctx->info.name, options,
                            log ? log : "(unavailable)");
    free(log);
    return code;
}

int rt_program_build_source(rt_context *ctx, const char *name, const char *source,
                            const char *extra_options, cl_program *out)
{
    char options[1024];
    snprintf(options, sizeof options, "%s%s%s", ctx->build_options, extra_options ? " " : "",
             extra_options ? extra_options : "");

    /* a cached binary skips the compiler; a missing or bad entry falls through */
    if (rt_cache_load(ctx, name, source, options, out) == RT_OK)
        return RT_OK;

    cl_int err;
    const char *sources[] = {source};
    cl_program program = clCreateProgramWithSource(ctx->context, 1, sources, NULL, &err);
    if (err != CL_SUCCESS)
        return rt_cl_fail(ctx, "clCreateProgramWithSource", err, __FILE__, __LINE__);
    err = clBuildProgram(program, 1, &ctx->info.device, options, NULL, NULL);
    if (err != CL_SUCCESS) {
        int code = build_log_error(ctx, name, options, program, err);
        clReleaseProgram(program);
        return code;
    }
    ctx->programs_compiled++;
    rt_cache_store(ctx, name, source, options, program);
    *out = program;
    return RT_OK;
}

static rt_program_entry *find_program(rt_context *ctx, const char *name)
{
    for (rt_program_entry *p = ctx->programs; p; p = p->next)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

static int program_entry(rt_context *ctx, const char *name, rt_program_entry **out)
{
    rt_program_entry *entry = find_program(ctx, name);
    if (entry) {
        *out = entry;
        return RT_OK;
    }
    char *source = NULL;
    RT_TRY(find_source(name, &source));
    cl_program program;
    int st = rt_program_build_source(ctx, name, source, NULL, &program);
    free(source);
    if (st != RT_OK)
        return st;
    entry = calloc(1, sizeof *entry);
    if (!entry) {
        clReleaseProgram(program);
        return rt_set_error(RT_ERR_NOMEM, "out of host memory");
    }
    snprintf(entry->name, sizeof entry->name, "%s", name);
    entry->program = program;
    entry->next = ctx->programs;
    ctx->programs = entry;
    *out = entry;
    return RT_OK;
}

int rt_program_get(rt_context *ctx, const char *program, cl_program *out)
{
    rt_program_entry *entry;
    RT_TRY(program_entry(ctx, program, &entry));
    *out = entry->program;
    return RT_OK;
}

int rt_kernel_get(rt_context *ctx, const char *program, const char *kernel, cl_kernel *out)
{
    rt_program_entry *entry;
    RT_TRY(program_entry(ctx, program, &entry));
    for (rt_kernel_entry *k = entry->kernels; k; k = k->next)
        if (strcmp(k->name, kernel) == 0) {
            *out = k->kernel;
            return RT_OK;
        }
    cl_int err;
    cl_kernel handle = clCreateKernel(entry->program, kernel, &err);
    if (err != CL_SUCCESS)
        return rt_set_error(RT_ERR_CL, "clCreateKernel(%s) in %s.cl failed: %s on device %s",
                            kernel, program, rt_cl_error_name(err), ctx->info.name);
    rt_kernel_entry *k = calloc(1, sizeof *k);
    if (!k) {
        clReleaseKernel(handle);
        return rt_set_error(RT_ERR_NOMEM, "out of host memory");
    }
    snprintf(k->name, sizeof k->name, "%s", kernel);
    k->kernel = handle;
    k->next = entry->kernels;
    entry->kernels = k;
    *out = handle;
    return RT_OK;
}

void rt_programs_release(rt_context *ctx)
{
    rt_program_entry *p = ctx->programs;
    while (p) {
        rt_kernel_entry *k = p->kernels;
        while (k) {
            rt_kernel_entry *next = k->next;
            clReleaseKernel(k->kernel);
            free(k);
            k = next;
        }
        rt_program_entry *next = p->next;
        clReleaseProgram(p->program);
        free(p);
        p = next;
    }
    ctx->programs = NULL;
}

int rt_launch(rt_context *ctx, cl_kernel kernel, const char *name, cl_uint dims,
              const size_t *global, const size_t *local)
{
    size_t rounded[3];
    for (cl_uint i = 0; i < dims; i++) {
        rounded[i] = global[i];
        if (local && local[i] > 0 && rounded[i] % local[i])
            rounded[i] += local[i] - rounded[i] % local[i];
        if (rounded[i] == 0)
            return RT_OK; /* empty launch */
    }
    cl_event event = NULL;
    cl_int err = clEnqueueNDRangeKernel(ctx->queue, kernel, dims, NULL, rounded, local, 0, NULL,
                                        ctx->profiling ? &event : NULL);
    if (err != CL_SUCCESS)
        return rt_set_error(RT_ERR_CL,
                            "clEnqueueNDRangeKernel(%s) failed: %s at %s:%d on device %s "
                            "(global %zu x %zu x %zu, local %s)",
                            name, rt_cl_error_name(err), __FILE__, __LINE__, ctx->info.name,
                            rounded[0], dims > 1 ? rounded[1] : 1, dims > 2 ? rounded[2] : 1,
                            local ? "set" : "NULL");
    if (event)
        return rt_profile_record(ctx, name, event);
    return RT_OK;
}
