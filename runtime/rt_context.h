/*
 * OpenCL platforms, devices and the runtime context.
 *
 * A context owns one device, its OpenCL context and in-order queue, the
 * compiled programs and kernels, the device-memory counters and the profiling
 * records. Create it once per process (or per forked test) and pass it to
 * every call below runtime/.
 */
#ifndef ALUMCL_RT_CONTEXT_H
#define ALUMCL_RT_CONTEXT_H

#include <CL/cl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "runtime/rt_error.h"

typedef struct rt_device_info {
    int platform_index;
    int device_index;
    cl_platform_id platform;
    cl_device_id device;
    char platform_name[256];
    char platform_version[256];
    char name[256];
    char vendor[256];
    char driver_version[256];
    char device_version[256];
    char opencl_c_version[256];
    cl_device_type type;
    cl_uint compute_units;
    cl_uint clock_mhz;
    cl_ulong global_mem_bytes;
    cl_ulong local_mem_bytes;
    cl_ulong max_alloc_bytes;
    size_t max_work_group_size;
    bool fp16;
    bool fp64;
} rt_device_info;

/* Every device of every platform; platforms whose calls fail are skipped with a warning. */
typedef struct rt_device_list {
    rt_device_info *devices;
    int count;
    char warnings[2048]; /* one line per skipped platform, "" if none */
} rt_device_list;

int rt_device_list_query(rt_device_list *list);
void rt_device_list_free(rt_device_list *list);

/* Prints one block per device: index P:D, name, vendor, type, versions, limits. */
void rt_device_list_print(const rt_device_list *list, FILE *out);

/* Returns "GPU", "CPU", "ACCELERATOR" or "OTHER". */
const char *rt_device_type_name(cl_device_type type);

/*
 * Chooses a device. selector is "P:D", "gpu", "cpu" or a case-insensitive
 * substring of the device name; NULL or "" means the first GPU, else the
 * first CPU. On no match the error lists the available devices.
 */
int rt_device_select(const rt_device_list *list, const char *selector, int *index_out);

typedef struct rt_program_entry rt_program_entry;
typedef struct rt_profile_entry rt_profile_entry;

typedef struct rt_context {
    rt_device_info info;
    cl_context context;
    cl_command_queue queue;
    bool is_cpu;        /* CPU device: prefer CPU-shaped kernels */
    bool profiling;     /* ALUMCL_PROFILE=1: kernel events are timed */
    bool deterministic; /* avoid order-dependent reductions */
    char build_options[512];
    rt_program_entry *programs; /* built programs and their kernels */
    rt_profile_entry *profile;  /* per-kernel timing records */
    size_t bytes_current;       /* device bytes held by live tensors */
    size_t bytes_peak;
    void *gemm_state; /* owned by rt_gemm.c */
    unsigned long programs_compiled;   /* programs built from source by this context */
    unsigned long programs_from_cache; /* programs loaded from the on-disk cache */
} rt_context;

/*
 * Creates a context on the selected device. selector as for rt_device_select;
 * NULL falls back to the ALUMCL_DEVICE environment variable, then the default.
 */
int rt_context_create(rt_context **out, const char *selector);

/* Finishes the queue, prints the profile table when profiling, releases everything. */
void rt_context_free(rt_context *ctx);

/* Waits for every queued command. */
int rt_finish(rt_context *ctx);

/* Writes a one-line description: "P:D name (vendor, TYPE, driver X, OpenCL C Y)". */
void rt_context_describe(const rt_context *ctx, char *buf, size_t size);

#endif
