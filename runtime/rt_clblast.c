#include "runtime/rt_clblast.h"
#include "runtime/rt_cache.h"

#include <clblast_c.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

const char *rt_clblast_status_name(int status)
{
#define RT_CLBLAST_NAME(x)                                                                         \
    case x:                                                                                        \
        return #x
    switch (status) {
        RT_CLBLAST_NAME(CLBlastSuccess);
        RT_CLBLAST_NAME(CLBlastOpenCLCompilerNotAvailable);
        RT_CLBLAST_NAME(CLBlastTempBufferAllocFailure);
        RT_CLBLAST_NAME(CLBlastOpenCLOutOfResources);
        RT_CLBLAST_NAME(CLBlastOpenCLOutOfHostMemory);
        RT_CLBLAST_NAME(CLBlastOpenCLBuildProgramFailure);
        RT_CLBLAST_NAME(CLBlastInvalidValue);
        RT_CLBLAST_NAME(CLBlastInvalidCommandQueue);
        RT_CLBLAST_NAME(CLBlastInvalidMemObject);
        RT_CLBLAST_NAME(CLBlastInvalidBinary);
        RT_CLBLAST_NAME(CLBlastInvalidBuildOptions);
        RT_CLBLAST_NAME(CLBlastInvalidProgram);
        RT_CLBLAST_NAME(CLBlastInvalidProgramExecutable);
        RT_CLBLAST_NAME(CLBlastInvalidKernelName);
        RT_CLBLAST_NAME(CLBlastInvalidKernelDefinition);
        RT_CLBLAST_NAME(CLBlastInvalidKernel);
        RT_CLBLAST_NAME(CLBlastInvalidArgIndex);
        RT_CLBLAST_NAME(CLBlastInvalidArgValue);
        RT_CLBLAST_NAME(CLBlastInvalidArgSize);
        RT_CLBLAST_NAME(CLBlastInvalidKernelArgs);
        RT_CLBLAST_NAME(CLBlastInvalidLocalNumDimensions);
        RT_CLBLAST_NAME(CLBlastInvalidLocalThreadsTotal);
        RT_CLBLAST_NAME(CLBlastInvalidLocalThreadsDim);
        RT_CLBLAST_NAME(CLBlastInvalidGlobalOffset);
        RT_CLBLAST_NAME(CLBlastInvalidEventWaitList);
        RT_CLBLAST_NAME(CLBlastInvalidEvent);
        RT_CLBLAST_NAME(CLBlastInvalidOperation);
        RT_CLBLAST_NAME(CLBlastInvalidBufferSize);
        RT_CLBLAST_NAME(CLBlastInvalidGlobalWorkSize);
        RT_CLBLAST_NAME(CLBlastNotImplemented);
        RT_CLBLAST_NAME(CLBlastInvalidMatrixA);
        RT_CLBLAST_NAME(CLBlastInvalidMatrixB);
        RT_CLBLAST_NAME(CLBlastInvalidMatrixC);
        RT_CLBLAST_NAME(CLBlastInvalidVectorX);
        RT_CLBLAST_NAME(CLBlastInvalidVectorY);
        RT_CLBLAST_NAME(CLBlastInvalidDimension);
        RT_CLBLAST_NAME(CLBlastInvalidLeadDimA);
        RT_CLBLAST_NAME(CLBlastInvalidLeadDimB);
        RT_CLBLAST_NAME(CLBlastInvalidLeadDimC);
        RT_CLBLAST_NAME(CLBlastInvalidIncrementX);
        RT_CLBLAST_NAME(CLBlastInvalidIncrementY);
        RT_CLBLAST_NAME(CLBlastInsufficientMemoryA);
        RT_CLBLAST_NAME(CLBlastInsufficientMemoryB);
        RT_CLBLAST_NAME(CLBlastInsufficientMemoryC);
        RT_CLBLAST_NAME(CLBlastInsufficientMemoryX);
        RT_CLBLAST_NAME(CLBlastInsufficientMemoryY);
        RT_CLBLAST_NAME(CLBlastInsufficientMemoryTemp);
        RT_CLBLAST_NAME(CLBlastInvalidBatchCount);
        RT_CLBLAST_NAME(CLBlastInvalidOverrideKernel);
        RT_CLBLAST_NAME(CLBlastMissingOverrideParameter);
        RT_CLBLAST_NAME(CLBlastInvalidLocalMemUsage);
        RT_CLBLAST_NAME(CLBlastNoHalfPrecision);
        RT_CLBLAST_NAME(CLBlastNoDoublePrecision);
        RT_CLBLAST_NAME(CLBlastInvalidVectorScalar);
        RT_CLBLAST_NAME(CLBlastInsufficientMemoryScalar);
        RT_CLBLAST_NAME(CLBlastDatabaseError);
        RT_CLBLAST_NAME(CLBlastUnknownError);
        RT_CLBLAST_NAME(CLBlastUnexpectedError);
    default:
        return "unknown CLBlast status";
    }
#undef RT_CLBLAST_NAME
}

/*
 * Copies the string value of a top-level "key": "value" pair into buf. The
 * tuner writes flat strings without escapes for these keys, so no unescaping is
 * done; a value with a backslash is rejected.
 */
static int json_string_field(const char *json, const char *key, char *buf, size_t size)
{
    char quoted[96];
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    const char *p = strstr(json, quoted);
    if (!p)
        return rt_set_error(RT_ERR_FORMAT, "tuner JSON has no \"%s\" field", key);
    p += strlen(quoted);
    while (isspace((unsigned char)*p))
        p++;
    if (*p != ':')
        return rt_set_error(RT_ERR_FORMAT, "tuner JSON field \"%s\" is not followed by ':'", key);
    p++;
    while (isspace((unsigned char)*p))
        p++;
    if (*p != '"')
        return rt_set_error(RT_ERR_FORMAT, "tuner JSON field \"%s\" is not a string", key);
    p++;
    const char *end = p;
    while (*end && *end != '"' && *end != '\\')
        end++;
    if (*end != '"')
        return rt_set_error(RT_ERR_FORMAT, "tuner JSON field \"%s\" is unterminated or escaped",
                            key);
    size_t len = (size_t)(end - p);
    if (len >= size)
        return rt_set_error(RT_ERR_FORMAT, "tuner JSON field \"%s\" is longer than %zu bytes", key,
                            size - 1);
    memcpy(buf, p, len);
    buf[len] = '\0';
    return RT_OK;
}

/* Parses "NAME=VALUE NAME=VALUE ..." into out, skipping PRECISION. */
static int parse_parameter_list(const char *text, rt_clblast_params *out)
{
    out->count = 0;
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *eq = strchr(p, '=');
        const char *space = strchr(p, ' ');
        if (!eq || (space && space < eq))
            return rt_set_error(RT_ERR_FORMAT, "tuner parameter '%.*s' has no '=VALUE'",
                                (int)(space ? space - p : (long)strlen(p)), p);
        size_t name_len = (size_t)(eq - p);
        if (name_len == 0 || name_len >= sizeof out->names[0])
            return rt_set_error(RT_ERR_FORMAT, "tuner parameter name '%.*s' is empty or too long",
                                (int)name_len, p);
        char *value_end;
        errno = 0;
        unsigned long long value = strtoull(eq + 1, &value_end, 10);
        if (value_end == eq + 1 || errno != 0 || (*value_end != ' ' && *value_end != '\0'))
            return rt_set_error(RT_ERR_FORMAT, "tuner parameter %.*s has an invalid value",
                                (int)name_len, p);
        bool is_precision = name_len == 9 && strncmp(p, "PRECISION", 9) == 0;
        if (!is_precision) {
            if (out->count == RT_CLBLAST_MAX_PARAMS)
                return rt_set_error(RT_ERR_FORMAT, "tuner result has more than %d parameters",
                                    RT_CLBLAST_MAX_PARAMS);
            memcpy(out->names[out->count], p, name_len);
            out->names[out->count][name_len] = '\0';
            out->values[out->count] = (size_t)value;
            out->count++;
        }
        p = value_end;
    }
    if (out->count == 0)
        return rt_set_error(RT_ERR_FORMAT, "tuner result lists no parameters");
    return RT_OK;
}

int rt_clblast_parse_tuner_json(const char *json, rt_clblast_params *out)
{
    memset(out, 0, sizeof *out);
    char family[64], parameters[1024];
    RT_TRY(json_string_field(json, "kernel_family", family, sizeof family));
    if (strncmp(family, "xgemm", 5) != 0)
        return rt_set_error(RT_ERR_FORMAT,
                            "tuner kernel_family '%s' is not a GEMM kernel; expected xgemm_N",
                            family);
    /* best_kernel names the kernel ("Xgemm" or "XgemmDirect"); without it, every
     * xgemm_N family of clblast_tuner_xgemm tunes Xgemm. */
    if (json_string_field(json, "best_kernel", out->kernel, sizeof out->kernel) != RT_OK)
        snprintf(out->kernel, sizeof out->kernel, "%s",
                 strncmp(family, "xgemm_direct", 12) == 0 ? "XgemmDirect" : "Xgemm");
    RT_TRY(json_string_field(json, "best_parameters", parameters, sizeof parameters));
    return parse_parameter_list(parameters, out);
}

static void device_key(const rt_context *ctx, char *buf, size_t size)
{
    const rt_device_info *d = &ctx->info;
    snprintf(buf, size,
             "platform: %s\nplatform version: %s\ndevice: %s\nvendor: %s\n"
             "driver version: %s\n",
             d->platform_name, d->platform_version, d->name, d->vendor, d->driver_version);
}

int rt_clblast_params_path(const rt_context *ctx, char *buf, size_t size)
{
    char dir[4096], key[2048];
    RT_TRY(rt_cache_dir(dir, sizeof dir));
    device_key(ctx, key, sizeof key);
    int n =
        snprintf(buf, size, "%s/clblast-xgemm-%016llx.txt", dir, rt_cache_hash(key, strlen(key)));
    if (n < 0 || (size_t)n >= size)
        return rt_set_error(RT_ERR_INVALID, "CLBlast parameter path is longer than %zu bytes",
                            size);
    return RT_OK;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    while (text) {
        size_t got = fread(text + len, 1, cap - len - 1, f);
        len += got;
        if (len + 1 < cap)
            break;
        cap *= 2;
        char *grown = realloc(text, cap);
        if (!grown) {
            free(text);
            text = NULL;
        } else {
            text = grown;
        }
    }
    fclose(f);
    if (text)
        text[len] = '\0';
    return text;
}

/* Returns the best_time field (milliseconds) of a tuner JSON, or a large value when absent. */
static double best_time(const char *json)
{
    char text[64];
    if (json_string_field(json, "best_time", text, sizeof text) != RT_OK)
        return 1e300;
    char *end;
    double t = strtod(text, &end);
    return end == text ? 1e300 : t;
}

int rt_clblast_store_params(const rt_context *ctx, const rt_clblast_params *params)
{
    char dir[4096], path[4352], text[8192];
    RT_TRY(rt_cache_dir(dir, sizeof dir));
    RT_TRY(rt_clblast_params_path(ctx, path, sizeof path));
    device_key(ctx, text, sizeof text);
    size_t used = strlen(text);
    used += (size_t)snprintf(text + used, sizeof text - used, "kernel: %s\n", params->kernel);
    for (int i = 0; i < params->count && used < sizeof text; i++)
        used += (size_t)snprintf(text + used, sizeof text - used, "%s=%zu\n", params->names[i],
                                 params->values[i]);
    if (used >= sizeof text)
        return rt_set_error(RT_ERR_INVALID, "CLBlast parameter file is longer than %zu bytes",
                            sizeof text);
    return rt_cache_write_atomic(dir, path, text, used);
}

int rt_clblast_apply_stored(rt_context *ctx)
{
    if (!rt_cache_enabled())
        return RT_OK;
    char path[4352];
    if (rt_clblast_params_path(ctx, path, sizeof path) != RT_OK)
        return RT_OK; /* no cache location: nothing can be stored */
    char *text = read_text(path);
    if (!text)
        return RT_OK;
    char key[2048];
    device_key(ctx, key, sizeof key);
    size_t key_len = strlen(key);
    int st = RT_OK;
    rt_clblast_params params;
    memset(&params, 0, sizeof params);
    const char *p = text + key_len;
    if (strncmp(text, key, key_len) != 0) {
        st = rt_set_error(RT_ERR_FORMAT,
                          "CLBlast parameter file %s was written for another device; delete it "
                          "and run the tuner again",
                          path);
    } else if (sscanf(p, "kernel: %63s", params.kernel) != 1) {
        st = rt_set_error(RT_ERR_FORMAT,
                          "CLBlast parameter file %s has no 'kernel:' line; "
                          "delete it and run the tuner again",
                          path);
    } else {
        p = strchr(p, '\n');
        while (p && *++p && st == RT_OK) {
            char name[32];
            size_t value;
            if (sscanf(p, "%31[A-Z_0-9]=%zu", name, &value) != 2 ||
                params.count == RT_CLBLAST_MAX_PARAMS)
                st = rt_set_error(RT_ERR_FORMAT,
                                  "CLBlast parameter file %s has a malformed line '%.40s'; "
                                  "delete it and run the tuner again",
                                  path, p);
            else {
                snprintf(params.names[params.count], sizeof params.names[0], "%s", name);
                params.values[params.count++] = value;
            }
            p = strchr(p, '\n');
        }
    }
    free(text);
    RT_TRY(st);
    const char *names[RT_CLBLAST_MAX_PARAMS];
    for (int i = 0; i < params.count; i++)
        names[i] = params.names[i];
    CLBlastStatusCode status =
        CLBlastOverrideParameters(ctx->info.device, params.kernel, CLBlastPrecisionSingle,
                                  (size_t)params.count, names, params.values);
    if (status != CLBlastSuccess)
        return rt_set_error(RT_ERR_FORMAT,
                            "CLBlastOverrideParameters(%s) rejected the parameters in %s: %s "
                            "(%d); delete the file and run the tuner again",
                            params.kernel, path, rt_clblast_status_name(status), (int)status);
    return RT_OK;
}

/* Picks the fastest result among the clblast_xgemm_*.json files the tuner left in dir. */
static int best_result_in(const char *dir, rt_clblast_params *best)
{
    DIR *d = opendir(dir);
    if (!d)
        return rt_set_error(RT_ERR_IO, "cannot open %s: %s", dir, strerror(errno));
    double best_ms = 1e301;
    int st = RT_ERR_NOT_FOUND;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "clblast_xgemm_", 14) != 0 || len < 5 ||
            strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        char path[4352];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *json = read_text(path);
        if (!json)
            continue;
        rt_clblast_params params;
        double ms = best_time(json);
        if (rt_clblast_parse_tuner_json(json, &params) == RT_OK && ms < best_ms) {
            best_ms = ms;
            *best = params;
            st = RT_OK;
        }
        free(json);
    }
    closedir(d);
    if (st != RT_OK)
        return rt_set_error(RT_ERR_NOT_FOUND,
                            "clblast_tuner_xgemm left no readable clblast_xgemm_*.json in %s", dir);
    return RT_OK;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char path[4352];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

int rt_clblast_tune(rt_context *ctx, double fraction, FILE *log)
{
    if (!(fraction > 0.0 && fraction <= 1.0))
        return rt_set_error(RT_ERR_INVALID,
                            "CLBlast tuning fraction %g is out of range; expected 0 < fraction <= 1"
                            " (0.02 tries 2 %% of the search space)",
                            fraction);
    if (system("command -v clblast_tuner_xgemm >/dev/null 2>&1") != 0)
        return rt_set_error(RT_ERR_NOT_FOUND, "clblast_tuner_xgemm is not on PATH; install the "
                                              "Debian package clblast-utils");
    char cache_dir[4096];
    RT_TRY(rt_cache_dir(cache_dir, sizeof cache_dir));
    char work[] = "/tmp/alumcl-tune-XXXXXX";
    if (!mkdtemp(work))
        return rt_set_error(RT_ERR_IO, "cannot create a temporary directory for the tuner: %s",
                            strerror(errno));
    /* The tuner writes its JSON files into the current directory. */
    char command[4608];
    snprintf(command, sizeof command,
             "cd '%s' && clblast_tuner_xgemm -platform %d -device %d -precision 32 -fraction %g "
             "2>&1",
             work, ctx->info.platform_index, ctx->info.device_index, fraction);
    if (log)
        fprintf(log, "running: %s\n", command);
    FILE *pipe = popen(command, "r");
    if (!pipe) {
        remove_dir(work);
        return rt_set_error(RT_ERR_IO, "starting clblast_tuner_xgemm failed: %s", strerror(errno));
    }
    char line[1024];
    while (fgets(line, sizeof line, pipe))
        if (log)
            fputs(line, log);
    int exit_status = pclose(pipe);
    rt_clblast_params params;
    int st = best_result_in(work, &params);
    remove_dir(work);
    if (st != RT_OK) {
        if (exit_status != -1 && WIFSIGNALED(exit_status))
            return rt_wrap_error(st, "clblast_tuner_xgemm was killed by signal %d",
                                 WTERMSIG(exit_status));
        return rt_wrap_error(st, "clblast_tuner_xgemm exited with status %d",
                             exit_status != -1 && WIFEXITED(exit_status) ? WEXITSTATUS(exit_status)
                                                                         : exit_status);
    }
    RT_TRY(rt_clblast_store_params(ctx, &params));
    char path[4352];
    RT_TRY(rt_clblast_params_path(ctx, path, sizeof path));
    if (log)
        fprintf(log, "stored %d %s parameters in %s\n", params.count, params.kernel, path);
    return rt_clblast_apply_stored(ctx);
}
