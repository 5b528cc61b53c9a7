#include "runtime/rt_profile.h"

#include <stdlib.h>
#include <string.h>

struct rt_profile_entry {
    char name[96];
    unsigned long calls;
    double total_ns;
    cl_event *pending;
    size_t npending, cap;
    struct rt_profile_entry *next;
};

int rt_profile_record(rt_context *ctx, const char *name, cl_event event)
{
    rt_profile_entry *e = ctx->profile;
    while (e && strcmp(e->name, name) != 0)
        e = e->next;
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e) {
            clReleaseEvent(event);
            return rt_set_error(RT_ERR_NOMEM, "out of host memory recording a profile event");
        }
        snprintf(e->name, sizeof e->name, "%s", name);
        e->next = ctx->profile;
        ctx->profile = e;
    }
    if (e->npending == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 64;
        cl_event *grown = realloc(e->pending, cap * sizeof *grown);
        if (!grown) {
            clReleaseEvent(event);
            return rt_set_error(RT_ERR_NOMEM, "out of host memory recording a profile event");
        }
        e->pending = grown;
        e->cap = cap;
    }
    e->pending[e->npending++] = event;
    /* keep the number of live events bounded during long runs */
    if (e->npending >= 4096)
        return rt_profile_collect(ctx);
    return RT_OK;
}

int rt_profile_collect(rt_context *ctx)
{
    for (rt_profile_entry *e = ctx->profile; e; e = e->next) {
        if (e->npending)
            RT_CL_CHECK(ctx, clWaitForEvents((cl_uint)e->npending, e->pending));
        for (size_t i = 0; i < e->npending; i++) {
            cl_ulong start = 0, end = 0;
            clGetEventProfilingInfo(e->pending[i], CL_PROFILING_COMMAND_START, sizeof start,
                                    &start, NULL);
            clGetEventProfilingInfo(e->pending[i], CL_PROFILING_COMMAND_END, sizeof end, &end,
                                    NULL);
            e->total_ns += end > start ? (double)(end - start) : 0.0;
            e->calls++;
            clReleaseEvent(e->pending[i]);
        }
        e->npending = 0;
    }
    return RT_OK;
}

static int by_total_desc(const void *a, const void *b)
{
    const rt_profile_entry *x = *(rt_profile_entry *const *)a, *y = *(rt_profile_entry *const *)b;
    return (x->total_ns < y->total_ns) - (x->total_ns > y->total_ns);
}

void rt_profile_print(rt_context *ctx, FILE *out)
{
    if (rt_profile_collect(ctx) != RT_OK)
        fprintf(out, "profile: %s\n", rt_last_error());
    size_t n = 0;
    for (rt_profile_entry *e = ctx->profile; e; e = e->next)
        n++;
    if (n == 0)
        return;
    rt_profile_entry **rows = malloc(n * sizeof *rows);
    if (!rows)
        return;
    n = 0;
    double all_ns = 0;
    for (rt_profile_entry *e = ctx->profile; e; e = e->next) {
        rows[n++] = e;
        all_ns += e->total_ns;
    }
    qsort(rows, n, sizeof *rows, by_total_desc);
    fprintf(out, "\n%-40s %10s %12s %12s %7s\n", "kernel", "calls", "total ms", "mean us",
            "share");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%-40s %10lu %12.3f %12.2f %6.1f%%\n", rows[i]->name, rows[i]->calls,
                rows[i]->total_ns / 1e6, rows[i]->total_ns / 1e3 / (double)rows[i]->calls,
                all_ns > 0 ? 100.0 * rows[i]->total_ns / all_ns : 0.0);
    fprintf(out, "%-40s %10s %12.3f\n", "all kernels", "", all_ns / 1e6);
    free(rows);
}

void rt_profile_free(rt_context *ctx)
{
    rt_profile_entry *e = ctx->profile;
    while (e) {
        rt_profile_entry *next = e->next;
        for (size_t i = 0; i < e->npending; i++)
            clReleaseEvent(e->pending[i]);
        free(e->pending);
        free(e);
        e = next;
    }
    ctx->profile = NULL;
}
