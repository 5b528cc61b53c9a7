/*
 * Status codes and the last-error message of the runtime.
 *
 * Every library function returns an int status: RT_OK (0) on success or a
 * negative RT_ERR_* code. The failing function stores a message (what failed,
 * on which value, where, and what to do) in a thread-local buffer that
 * rt_last_error() returns until the next failure. The library never exits.
 */
#ifndef ALUMCL_RT_ERROR_H
#define ALUMCL_RT_ERROR_H

#include <CL/cl.h>

enum {
    RT_OK = 0,
    RT_ERR_CL = -1,      /* an OpenCL call failed */
    RT_ERR_NOMEM = -2,   /* host or device allocation failed */
    RT_ERR_INVALID = -3, /* invalid argument or shape */
    RT_ERR_IO = -4,      /* file read or write failed */
    RT_ERR_FORMAT = -5,  /* malformed file contents */
    RT_ERR_NOT_FOUND = -6,
    RT_ERR_BUILD = -7,   /* kernel build failed; the message holds the build log */
    RT_ERR_NUMERIC = -8, /* NaN or Inf where finite values are required */
    RT_ERR_INTERRUPTED = -9,
};

/* Stores a printf-style message as the last error and returns code. */
int rt_set_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to the stored message and returns code (for adding context). */
int rt_wrap_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Returns the message of the most recent failure on this thread ("" if none). */
const char *rt_last_error(void);

/* Clears the stored message. */
void rt_clear_error(void);

/* Returns the symbolic name of an OpenCL status ("CL_INVALID_WORK_GROUP_SIZE"). */
const char *rt_cl_error_name(cl_int status);

/* Returns the symbolic name of a status code of this library ("RT_ERR_IO"). */
const char *rt_status_name(int code);

/*
 * Checks an OpenCL status. On failure stores "CALL failed: CL_NAME at file:line
 * on device DEV" and returns RT_ERR_CL from the enclosing function.
 * ctx may be NULL when no device is known yet.
 */
#define RT_CL_CHECK(ctx, call)                                                                     \
    do {                                                                                           \
        cl_int rt_cl_status_ = (call);                                                             \
        if (rt_cl_status_ != CL_SUCCESS)                                                           \
            return rt_cl_fail((ctx), #call, rt_cl_status_, __FILE__, __LINE__);                   \
    } while (0)

/* Propagates a non-zero library status from the enclosing function. */
#define RT_TRY(expr)                                                                               \
    do {                                                                                           \
        int rt_try_status_ = (expr);                                                               \
        if (rt_try_status_ != RT_OK)                                                               \
            return rt_try_status_;                                                                 \
    } while (0)

struct rt_context;

/* Records an OpenCL failure message; used by RT_CL_CHECK. Returns RT_ERR_CL. */
int rt_cl_fail(const struct rt_context *ctx, const char *call, cl_int status, const char *file,
               int line);

#endif
