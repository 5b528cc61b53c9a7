/*
 * Per-kernel timing from OpenCL events, on when ALUMCL_PROFILE=1.
 *
 * Each launch with profiling on records its event; rt_profile_collect()
 * (called at rt_finish and at exit) reads the start and end times and sums
 * them per kernel name.
 */
#ifndef ALUMCL_RT_PROFILE_H
#define ALUMCL_RT_PROFILE_H

#include "runtime/rt_context.h"

/* Adds an event to the pending list of kernel name; takes ownership of event. */
int rt_profile_record(rt_context *ctx, const char *name, cl_event event);

/* Waits for pending events and adds their durations to the per-kernel totals. */
int rt_profile_collect(rt_context *ctx);

/* Prints the table: name, calls, total ms, mean us; sorted by total time. */
void rt_profile_print(rt_context *ctx, FILE *out);

void rt_profile_free(rt_context *ctx);

#endif
