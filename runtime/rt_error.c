#include "runtime/rt_error.h"
#include "runtime/rt_context.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[8192];

int rt_set_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return code;
}

int rt_wrap_error(int code, const char *fmt, ...)
{
    char prefix[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof prefix - 2, fmt, ap);
    va_end(ap);
    size_t plen = n < 0 ? 0 : strlen(prefix);
    memcpy(prefix + plen, ": ", 3);
    plen += 2;
    /* shift the old message right, truncating its tail if needed */
    size_t old_len = strlen(last_error);
    if (plen + old_len >= sizeof last_error)
        old_len = sizeof last_error - plen - 1;
    memmove(last_error + plen, last_error, old_len);
    last_error[plen + old_len] = '\0';
    memcpy(last_error, prefix, plen);
    return code;
}

const char *rt_last_error(void)
{
    return last_error;
}

void rt_clear_error(void)
{
    last_error[0] = '\0';
}

int rt_cl_fail(const struct rt_context *ctx, const char *call, cl_int status, const char *file,
               int line)
{
    const char *device = ctx ? ctx->info.name : "no device";
    const char *hint = "";
    if (status == CL_MEM_OBJECT_ALLOCATION_FAILURE || status == CL_OUT_OF_RESOURCES ||
        status == CL_OUT_OF_HOST_MEMORY)
        hint = " (device out of memory: lower the batch size or the network width)";
    return rt_set_error(RT_ERR_CL, "%s failed: %s at %s:%d on device %s%s", call,
                        rt_cl_error_name(status), file, line, device, hint);
}

const char *rt_status_name(int code)
{
    switch (code) {
    case RT_OK: return "RT_OK";
    case RT_ERR_CL: return "RT_ERR_CL";
    case RT_ERR_NOMEM: return "RT_ERR_NOMEM";
    case RT_ERR_INVALID: return "RT_ERR_INVALID";
    case RT_ERR_IO: return "RT_ERR_IO";
    case RT_ERR_FORMAT: return "RT_ERR_FORMAT";
    case RT_ERR_NOT_FOUND: return "RT_ERR_NOT_FOUND";
    case RT_ERR_BUILD: return "RT_ERR_BUILD";
    case RT_ERR_NUMERIC: return "RT_ERR_NUMERIC";
    case RT_ERR_INTERRUPTED: return "RT_ERR_INTERRUPTED";
    default: return "RT_ERR_UNKNOWN";
    }
}

const char *rt_cl_error_name(cl_int status)
{
#define RT_CL_NAME(x)                                                                              \
    case x: return #x
    switch (status) {
        RT_CL_NAME(CL_SUCCESS);
        RT_CL_NAME(CL_DEVICE_NOT_FOUND);
        RT_CL_NAME(CL_DEVICE_NOT_AVAILABLE);
        RT_CL_NAME(CL_COMPILER_NOT_AVAILABLE);
        RT_CL_NAME(CL_MEM_OBJECT_ALLOCATION_FAILURE);
        RT_CL_NAME(CL_OUT_OF_RESOURCES);
        RT_CL_NAME(CL_OUT_OF_HOST_MEMORY);
        RT_CL_NAME(CL_PROFILING_INFO_NOT_AVAILABLE);
        RT_CL_NAME(CL_MEM_COPY_OVERLAP);
        RT_CL_NAME(CL_IMAGE_FORMAT_MISMATCH);
        RT_CL_NAME(CL_IMAGE_FORMAT_NOT_SUPPORTED);
        RT_CL_NAME(CL_BUILD_PROGRAM_FAILURE);
        RT_CL_NAME(CL_MAP_FAILURE);
        RT_CL_NAME(CL_MISALIGNED_SUB_BUFFER_OFFSET);
        RT_CL_NAME(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST);
        RT_CL_NAME(CL_COMPILE_PROGRAM_FAILURE);
        RT_CL_NAME(CL_LINKER_NOT_AVAILABLE);
        RT_CL_NAME(CL_LINK_PROGRAM_FAILURE);
        RT_CL_NAME(CL_DEVICE_PARTITION_FAILED);
        RT_CL_NAME(CL_KERNEL_ARG_INFO_NOT_AVAILABLE);
        RT_CL_NAME(CL_INVALID_VALUE);
        RT_CL_NAME(CL_INVALID_DEVICE_TYPE);
        RT_CL_NAME(CL_INVALID_PLATFORM);
        RT_CL_NAME(CL_INVALID_DEVICE);
        RT_CL_NAME(CL_INVALID_CONTEXT);
        RT_CL_NAME(CL_INVALID_QUEUE_PROPERTIES);
        RT_CL_NAME(CL_INVALID_COMMAND_QUEUE);
        RT_CL_NAME(CL_INVALID_HOST_PTR);
        RT_CL_NAME(CL_INVALID_MEM_OBJECT);
        RT_CL_NAME(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR);
        RT_CL_NAME(CL_INVALID_IMAGE_SIZE);
        RT_CL_NAME(CL_INVALID_SAMPLER);
        RT_CL_NAME(CL_INVALID_BINARY);
        RT_CL_NAME(CL_INVALID_BUILD_OPTIONS);
        RT_CL_NAME(CL_INVALID_PROGRAM);
        RT_CL_NAME(CL_INVALID_PROGRAM_EXECUTABLE);
        RT_CL_NAME(CL_INVALID_KERNEL_NAME);
        RT_CL_NAME(CL_INVALID_KERNEL_DEFINITION);
        RT_CL_NAME(CL_INVALID_KERNEL);
        RT_CL_NAME(CL_INVALID_ARG_INDEX);
        RT_CL_NAME(CL_INVALID_ARG_VALUE);
        RT_CL_NAME(CL_INVALID_ARG_SIZE);
        RT_CL_NAME(CL_INVALID_KERNEL_ARGS);
        RT_CL_NAME(CL_INVALID_WORK_DIMENSION);
        RT_CL_NAME(CL_INVALID_WORK_GROUP_SIZE);
        RT_CL_NAME(CL_INVALID_WORK_ITEM_SIZE);
        RT_CL_NAME(CL_INVALID_GLOBAL_OFFSET);
        RT_CL_NAME(CL_INVALID_EVENT_WAIT_LIST);
        RT_CL_NAME(CL_INVALID_EVENT);
        RT_CL_NAME(CL_INVALID_OPERATION);
        RT_CL_NAME(CL_INVALID_GL_OBJECT);
        RT_CL_NAME(CL_INVALID_BUFFER_SIZE);
        RT_CL_NAME(CL_INVALID_MIP_LEVEL);
        RT_CL_NAME(CL_INVALID_GLOBAL_WORK_SIZE);
        RT_CL_NAME(CL_INVALID_PROPERTY);
        RT_CL_NAME(CL_INVALID_IMAGE_DESCRIPTOR);
        RT_CL_NAME(CL_INVALID_COMPILER_OPTIONS);
        RT_CL_NAME(CL_INVALID_LINKER_OPTIONS);
        RT_CL_NAME(CL_INVALID_DEVICE_PARTITION_COUNT);
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: return "CL_UNKNOWN_ERROR";
    }
#undef RT_CL_NAME
}
