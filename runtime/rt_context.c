#include "runtime/rt_context.h"
#include "runtime/rt_clblast.h"
#include "runtime/rt_gemm.h"
#include "runtime/rt_program.h"
#include "runtime/rt_profile.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static void query_string(cl_device_id dev, cl_device_info param, char *buf, size_t size)
{
    buf[0] = '\0';
    if (clGetDeviceInfo(dev, param, size, buf, NULL) != CL_SUCCESS)
        snprintf(buf, size, "unknown");
    buf[size - 1] = '\0';
}

static void fill_device_info(rt_device_info *info, cl_device_id dev)
{
    char extensions[8192];
    query_string(dev, CL_DEVICE_NAME, info->name, sizeof info->name);
    query_string(dev, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    query_string(dev, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    query_string(dev, CL_DEVICE_VERSION, info->device_version, sizeof info->device_version);
    query_string(dev, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version,
                 sizeof info->opencl_c_version);
    query_string(dev, CL_DEVICE_EXTENSIONS, extensions, sizeof extensions);
    clGetDeviceInfo(dev, CL_DEVICE_TYPE, sizeof info->type, &info->type, NULL);
    clGetDeviceInfo(dev, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof info->compute_units,
                    &info->compute_units, NULL);
    clGetDeviceInfo(dev, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof info->clock_mhz, &info->clock_mhz,
                    NULL);
    clGetDeviceInfo(dev, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof info->global_mem_bytes,
                    &info->global_mem_bytes, NULL);
    clGetDeviceInfo(dev, CL_DEVICE_LOCAL_MEM_SIZE, sizeof info->local_mem_bytes,
                    &info->local_mem_bytes, NULL);
    clGetDeviceInfo(dev, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof info->max_alloc_bytes,
                    &info->max_alloc_bytes, NULL);
    clGetDeviceInfo(dev, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof info->max_work_group_size,
                    &info->max_work_group_size, NULL);
    info->fp16 = strstr(extensions, "cl_khr_fp16") != NULL;
    info->fp64 = strstr(extensions, "cl_khr_fp64") != NULL;
}

int rt_device_list_query(rt_device_list *list)
{
    memset(list, 0, sizeof *list);
    cl_uint nplat = 0;
    cl_int st = clGetPlatformIDs(0, NULL, &nplat);
    if (st != CL_SUCCESS || nplat == 0)
        return rt_set_error(RT_ERR_NOT_FOUND,
                            "no OpenCL platform found (clGetPlatformIDs: %s); install an OpenCL "
                            "driver such as pocl-opencl-icd and check /etc/OpenCL/vendors",
                            rt_cl_error_name(st));
    cl_platform_id *plats = calloc(nplat, sizeof *plats);
    if (!plats)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory listing platforms");
    clGetPlatformIDs(nplat, plats, NULL);
    for (cl_uint p = 0; p < nplat; p++) {
        char pname[256] = "unknown", pver[256] = "unknown";
        clGetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof pname, pname, NULL);
        clGetPlatformInfo(plats[p], CL_PLATFORM_VERSION, sizeof pver, pver, NULL);
        cl_uint ndev = 0;
        st = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &ndev);
        if (st != CL_SUCCESS || ndev == 0) {
            size_t used = strlen(list->warnings);
            snprintf(list->warnings + used, sizeof list->warnings - used,
                     "warning: skipping platform %u (%s): clGetDeviceIDs failed: %s\n", p, pname,
                     rt_cl_error_name(st));
            continue;
        }
        cl_device_id *devs = calloc(ndev, sizeof *devs);
        rt_device_info *grown =
            realloc(list->devices, (list->count + ndev) * sizeof *list->devices);
        if (!devs || !grown) {
            free(devs);
            free(plats);
            if (grown)
                list->devices = grown;
            return rt_set_error(RT_ERR_NOMEM, "out of host memory listing devices");
        }
        list->devices = grown;
        clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, ndev, devs, NULL);
        for (cl_uint d = 0; d < ndev; d++) {
            rt_device_info *info = &list->devices[list->count++];
            memset(info, 0, sizeof *info);
            info->platform_index = (int)p;
            info->device_index = (int)d;
            info->platform = plats[p];
            info->device = devs[d];
            snprintf(info->platform_name, sizeof info->platform_name, "%s", pname);
            snprintf(info->platform_version, sizeof info->platform_version, "%s", pver);
            fill_device_info(info, devs[d]);
        }
        free(devs);
    }
    free(plats);
    if (list->count == 0)
        return rt_set_error(RT_ERR_NOT_FOUND, "no OpenCL device found\n%s", list->warnings);
    return RT_OK;
}

void rt_device_list_free(rt_device_list *list)
{
    free(list->devices);
    memset(list, 0, sizeof *list);
}

const char *rt_device_type_name(cl_device_type type)
{
    if (type & CL_DEVICE_TYPE_GPU)
        return "GPU";
    if (type & CL_DEVICE_TYPE_CPU)
        return "CPU";
    if (type & CL_DEVICE_TYPE_ACCELERATOR)
        return "ACCELERATOR";
    return "OTHER";
}

void rt_device_list_print(const rt_device_list *list, FILE *out)
{
    for (int i = 0; i < list->count; i++) {
        const rt_device_info *d = &list->devices[i];
        fprintf(out, "%d:%d  %s\n", d->platform_index, d->device_index, d->name);
        fprintf(out, "    platform          %s (%s)\n", d->platform_name, d->platform_version);
        fprintf(out, "    vendor            %s\n", d->vendor);
        fprintf(out, "    type              %s\n", rt_device_type_name(d->type));
        fprintf(out, "    driver version    %s\n", d->driver_version);
        fprintf(out, "    device version    %s\n", d->device_version);
        fprintf(out, "    OpenCL C version  %s\n", d->opencl_c_version);
        fprintf(out, "    compute units     %u\n", d->compute_units);
        fprintf(out, "    clock             %u MHz\n", d->clock_mhz);
        fprintf(out, "    global memory     %.1f MiB\n", d->global_mem_bytes / 1048576.0);
        fprintf(out, "    local memory      %.1f KiB\n", d->local_mem_bytes / 1024.0);
        fprintf(out, "    max allocation    %.1f MiB\n", d->max_alloc_bytes / 1048576.0);
        fprintf(out, "    max work-group    %zu\n", d->max_work_group_size);
        fprintf(out, "    fp16 / fp64       %s / %s\n", d->fp16 ? "yes" : "no",
                d->fp64 ? "yes" : "no");
    }
}

static bool contains_case_insensitive(const char *haystack, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *h = haystack; *h; h++) {
        size_t i = 0;
        while (i < n && h[i] && tolower((unsigned char)h[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return n == 0;
}

static int first_of_type(const rt_device_list *list, cl_device_type type)
{
    for (int i = 0; i < list->count; i++)
        if (list->devices[i].type & type)
            return i;
    return -1;
}

static int no_match(const rt_device_list *list, const char *selector)
{
    char avail[4096] = "";
    size_t used = 0;
    for (int i = 0; i < list->count && used < sizeof avail; i++) {
        const rt_device_info *d = &list->devices[i];
        used += snprintf(avail + used, sizeof avail - used, "\n  %d:%d  %s (%s)",
                         d->platform_index, d->device_index, d->name,
                         rt_device_type_name(d->type));
    }
    return rt_set_error(RT_ERR_NOT_FOUND,
                        "no OpenCL device matches '%s'; use --device P:D, gpu, cpu or part of a "
                        "device name. Available devices:%s",
                        selector, avail);
}

int rt_device_select(const rt_device_list *list, const char *selector, int *index_out)
{
    int idx = -1;
    if (!selector || !*selector) {
        idx = first_of_type(list, CL_DEVICE_TYPE_GPU);
        if (idx < 0)
            idx = first_of_type(list, CL_DEVICE_TYPE_CPU);
        if (idx < 0)
            idx = list->count > 0 ? 0 : -1;
        if (idx < 0)
            return no_match(list, "(default)");
        *index_out = idx;
        return RT_OK;
    }
    if (strcasecmp(selector, "gpu") == 0 || strcasecmp(selector, "cpu") == 0) {
        idx = first_of_type(list, strcasecmp(selector, "gpu") == 0 ? CL_DEVICE_TYPE_GPU
                                                                    : CL_DEVICE_TYPE_CPU);
        if (idx < 0)
            return no_match(list, selector);
        *index_out = idx;
        return RT_OK;
    }
    int p, d, consumed = 0;
    if (sscanf(selector, "%d:%d%n", &p, &d, &consumed) == 2 && selector[consumed] == '\0') {
        for (int i = 0; i < list->count; i++)
            if (list->devices[i].platform_index == p && list->devices[i].device_index == d) {
                *index_out = i;
                return RT_OK;
            }
        return no_match(list, selector);
    }
    for (int i = 0; i < list->count; i++)
        if (contains_case_insensitive(list->devices[i].name, selector)) {
            *index_out = i;
            return RT_OK;
        }
    return no_match(list, selector);
}

static void derive_build_options(rt_context *ctx)
{
    /* Fast-math flags change results between devices; keep IEEE semantics but allow
     * contraction into fma, which every supported device has. */
    snprintf(ctx->build_options, sizeof ctx->build_options, "-cl-std=CL1.2 -DALUMCL_CPU=%d%s",
             ctx->is_cpu ? 1 : 0, ctx->info.fp16 ? " -DALUMCL_FP16=1" : "");
}

int rt_context_create(rt_context **out, const char *selector)
{
    *out = NULL;
    if (!selector || !*selector)
        selector = getenv("ALUMCL_DEVICE");
    rt_device_list list;
    RT_TRY(rt_device_list_query(&list));
    int idx;
    int st = rt_device_select(&list, selector, &idx);
    if (st != RT_OK) {
        rt_device_list_free(&list);
        return st;
    }
    rt_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        rt_device_list_free(&list);
        return rt_set_error(RT_ERR_NOMEM, "out of host memory creating the context");
    }
    ctx->info = list.devices[idx];
    rt_device_list_free(&list);
    ctx->is_cpu = (ctx->info.type & CL_DEVICE_TYPE_CPU) != 0;
    const char *prof = getenv("ALUMCL_PROFILE");
    ctx->profiling = prof && strcmp(prof, "0") != 0 && *prof;
    derive_build_options(ctx);

    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->info.platform,
                                     0};
    ctx->context = clCreateContext(props, 1, &ctx->info.device, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        st = rt_cl_fail(ctx, "clCreateContext", err, __FILE__, __LINE__);
        free(ctx);
        return st;
    }
    cl_command_queue_properties qprops = ctx->profiling ? CL_QUEUE_PROFILING_ENABLE : 0;
    ctx->queue = clCreateCommandQueue(ctx->context, ctx->info.device, qprops, &err);
    if (err != CL_SUCCESS) {
        st = rt_cl_fail(ctx, "clCreateCommandQueue", err, __FILE__, __LINE__);
        clReleaseContext(ctx->context);
        free(ctx);
        return st;
    }
    /* Tuned CLBlast parameters only speed CLBlast up, so a bad file is a warning. */
    if (rt_clblast_apply_stored(ctx) != RT_OK)
        fprintf(stderr, "warning: %s\n", rt_last_error());
    *out = ctx;
    return RT_OK;
}

int rt_finish(rt_context *ctx)
{
    RT_CL_CHECK(ctx, clFinish(ctx->queue));
    return RT_OK;
}

void rt_context_free(rt_context *ctx)
{
    if (!ctx)
        return;
    clFinish(ctx->queue);
    if (ctx->profiling)
        rt_profile_print(ctx, stderr);
    rt_profile_free(ctx);
    rt_gemm_release(ctx);
    rt_programs_release(ctx);
    clReleaseCommandQueue(ctx->queue);
    clReleaseContext(ctx->context);
    free(ctx);
}

void rt_context_describe(const rt_context *ctx, char *buf, size_t size)
{
    snprintf(buf, size, "%d:%d %s (%s, %s, driver %s, %s)", ctx->info.platform_index,
             ctx->info.device_index, ctx->info.name, ctx->info.vendor,
             rt_device_type_name(ctx->info.type), ctx->info.driver_version,
             ctx->info.opencl_c_version);
}
