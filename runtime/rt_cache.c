#include "runtime/rt_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#ifndef ALUMCL_VERSION
#error "ALUMCL_VERSION must be defined by the build"
#endif

/* Entry layout: magic, then little-endian u64 key length, u64 binary length, u32 crc32. */
static const char entry_magic[8] = {'A', 'L', 'U', 'M', 'C', 'L', 'K', '1'};
#define ENTRY_HEADER_BYTES (8 + 8 + 8 + 4)

bool rt_cache_enabled(void)
{
    const char *env = getenv("ALUMCL_CACHE");
    return !(env && strcmp(env, "0") == 0);
}

int rt_cache_dir(char *buf, size_t size)
{
    if (!rt_cache_enabled())
        return rt_set_error(RT_ERR_NOT_FOUND, "the kernel cache is disabled (ALUMCL_CACHE=0)");
    const char *dir = getenv("ALUMCL_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (dir && *dir)
        n = snprintf(buf, size, "%s", dir);
    else if (xdg && *xdg)
        n = snprintf(buf, size, "%s/alumcl", xdg);
    else if (home && *home)
        n = snprintf(buf, size, "%s/.cache/alumcl", home);
    else
        return rt_set_error(RT_ERR_NOT_FOUND,
                            "no kernel cache location: set ALUMCL_CACHE_DIR, XDG_CACHE_HOME or "
                            "HOME, or disable the cache with ALUMCL_CACHE=0");
    if (n < 0 || (size_t)n >= size)
        return rt_set_error(RT_ERR_INVALID, "kernel cache path is longer than %zu bytes", size);
    return RT_OK;
}

unsigned long long rt_cache_hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return (unsigned long long)h;
}

/* Builds the key text; the caller frees it. */
static char *make_key(const rt_context *ctx, const char *name, const char *source,
                      const char *options, size_t *len_out)
{
    const rt_device_info *d = &ctx->info;
    const char *fmt = "alumcl kernel cache\nplatform: %s\nplatform version: %s\ndevice: %s\n"
                      "vendor: %s\ndriver version: %s\nalumcl version: %s\nprogram: %s\n"
                      "options: %s\nsource:\n%s";
    int n = snprintf(NULL, 0, fmt, d->platform_name, d->platform_version, d->name, d->vendor,
                     d->driver_version, ALUMCL_VERSION, name, options, source);
    if (n < 0)
        return NULL;
    char *key = malloc((size_t)n + 1);
    if (!key)
        return NULL;
    snprintf(key, (size_t)n + 1, fmt, d->platform_name, d->platform_version, d->name, d->vendor,
             d->driver_version, ALUMCL_VERSION, name, options, source);
    *len_out = (size_t)n;
    return key;
}

static int path_for_key(const char *name, const char *key, size_t key_len, char *buf, size_t size)
{
    char dir[4096];
    RT_TRY(rt_cache_dir(dir, sizeof dir));
    int n = snprintf(buf, size, "%s/%s-%016llx.clbin", dir, name, rt_cache_hash(key, key_len));
    if (n < 0 || (size_t)n >= size)
        return rt_set_error(RT_ERR_INVALID, "kernel cache path is longer than %zu bytes", size);
    return RT_OK;
}

int rt_cache_entry_path(const rt_context *ctx, const char *name, const char *source,
                        const char *options, char *buf, size_t size)
{
    if (!rt_cache_enabled())
        return rt_set_error(RT_ERR_NOT_FOUND, "the kernel cache is disabled (ALUMCL_CACHE=0)");
    size_t key_len;
    char *key = make_key(ctx, name, source, options, &key_len);
    if (!key)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory for a kernel cache key");
    int st = path_for_key(name, key, key_len, buf, size);
    free(key);
    return st;
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint32_t entry_crc(const unsigned char *key, size_t key_len, const unsigned char *binary,
                          size_t binary_len)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32_z(crc, key, key_len);
    crc = crc32_z(crc, binary, binary_len);
    return (uint32_t)crc;
}

/* Reads a whole file; RT_ERR_NOT_FOUND when it does not exist. */
static int read_file(const char *path, unsigned char **data_out, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return RT_ERR_NOT_FOUND;
        return rt_set_error(RT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0) {
        fclose(f);
        return rt_set_error(RT_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
    }
    size_t len = (size_t)st.st_size;
    unsigned char *data = malloc(len ? len : 1);
    if (!data) {
        fclose(f);
        return rt_set_error(RT_ERR_NOMEM, "out of host memory reading %s (%zu bytes)", path, len);
    }
    size_t got = fread(data, 1, len, f);
    fclose(f);
    if (got != len) {
        free(data);
        return rt_set_error(RT_ERR_IO, "short read of %s: %zu of %zu bytes", path, got, len);
    }
    *data_out = data;
    *len_out = len;
    return RT_OK;
}

/* Checks the entry's structure; on success points binary_out into data. */
static const char *validate_entry(const unsigned char *data, size_t len, const char *key,
                                  size_t key_len, const unsigned char **binary_out,
                                  size_t *binary_len_out, bool *key_mismatch)
{
    *key_mismatch = false;
    if (len < ENTRY_HEADER_BYTES)
        return "truncated header";
    if (memcmp(data, entry_magic, sizeof entry_magic) != 0)
        return "bad magic";
    uint64_t stored_key_len = get_u64(data + 8);
    uint64_t binary_len = get_u64(data + 16);
    uint32_t stored_crc =
        (uint32_t)(data[24] | data[25] << 8 | data[26] << 16 | (uint32_t)data[27] << 24);
    size_t body = len - ENTRY_HEADER_BYTES;
    if (stored_key_len > body || binary_len > body - stored_key_len)
        return "truncated body";
    if (stored_key_len + binary_len != body)
        return "trailing bytes after the binary";
    const unsigned char *stored_key = data + ENTRY_HEADER_BYTES;
    const unsigned char *binary = stored_key + stored_key_len;
    if (entry_crc(stored_key, stored_key_len, binary, binary_len) != stored_crc)
        return "checksum mismatch";
    if (binary_len == 0)
        return "empty binary";
    if (stored_key_len != key_len || memcmp(stored_key, key, key_len) != 0) {
        *key_mismatch = true;
        return "key mismatch";
    }
    *binary_out = binary;
    *binary_len_out = binary_len;
    return NULL;
}

static int build_from_binary(rt_context *ctx, const char *path, const unsigned char *binary,
                             size_t binary_len, const char *options, cl_program *out)
{
    cl_int binary_status = CL_SUCCESS, err;
    cl_program program = clCreateProgramWithBinary(ctx->context, 1, &ctx->info.device, &binary_len,
                                                   &binary, &binary_status, &err);
    if (err != CL_SUCCESS || binary_status != CL_SUCCESS) {
        if (program && err == CL_SUCCESS)
            clReleaseProgram(program);
        fprintf(stderr,
                "warning: kernel cache entry %s was rejected by clCreateProgramWithBinary "
                "(%s, binary status %s); rebuilding it\n",
                path, rt_cl_error_name(err), rt_cl_error_name(binary_status));
        return RT_ERR_NOT_FOUND;
    }
    err = clBuildProgram(program, 1, &ctx->info.device, options, NULL, NULL);
    if (err != CL_SUCCESS) {
        clReleaseProgram(program);
        fprintf(stderr,
                "warning: building kernel cache entry %s failed (clBuildProgram: %s); "
                "rebuilding it from source\n",
                path, rt_cl_error_name(err));
        return RT_ERR_NOT_FOUND;
    }
    *out = program;
    return RT_OK;
}

int rt_cache_load(rt_context *ctx, const char *name, const char *source, const char *options,
                  cl_program *out)
{
    if (!rt_cache_enabled())
        return RT_ERR_NOT_FOUND;
    size_t key_len;
    char *key = make_key(ctx, name, source, options, &key_len);
    if (!key)
        return RT_ERR_NOT_FOUND;
    char path[4352];
    if (path_for_key(name, key, key_len, path, sizeof path) != RT_OK) {
        free(key);
        return RT_ERR_NOT_FOUND;
    }
    unsigned char *data = NULL;
    size_t len = 0;
    int st = read_file(path, &data, &len);
    if (st != RT_OK) {
        if (st != RT_ERR_NOT_FOUND)
            fprintf(stderr, "warning: kernel cache: %s; rebuilding the entry\n", rt_last_error());
        free(key);
        return RT_ERR_NOT_FOUND;
    }
    const unsigned char *binary = NULL;
    size_t binary_len = 0;
    bool key_mismatch;
    const char *problem =
        validate_entry(data, len, key, key_len, &binary, &binary_len, &key_mismatch);
    free(key);
    if (problem) {
        /* A key mismatch is a hash collision between two valid entries, not damage. */
        if (!key_mismatch)
            fprintf(stderr,
                    "warning: kernel cache entry %s is corrupt (%s, %zu bytes); "
                    "rebuilding it\n",
                    path, problem, len);
        free(data);
        return RT_ERR_NOT_FOUND;
    }
    st = build_from_binary(ctx, path, binary, binary_len, options, out);
    free(data);
    if (st == RT_OK)
        ctx->programs_from_cache++;
    return st;
}

static int make_dirs(const char *dir)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s", dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return rt_set_error(RT_ERR_INVALID, "directory path longer than %zu bytes", sizeof path);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return rt_set_error(RT_ERR_IO, "cannot create directory %s: %s", path, strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return rt_set_error(RT_ERR_IO, "cannot create directory %s: %s", path, strerror(errno));
    return RT_OK;
}

int rt_cache_write_atomic(const char *dir, const char *path, const void *data, size_t len)
{
    RT_TRY(make_dirs(dir));
    char tmp[4400];
    int n = snprintf(tmp, sizeof tmp, "%s/.tmp-XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return rt_set_error(RT_ERR_INVALID, "directory path %s is too long", dir);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return rt_set_error(RT_ERR_IO, "cannot create a temporary file in %s: %s", dir,
                            strerror(errno));
    const unsigned char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int saved = errno;
            close(fd);
            unlink(tmp);
            return rt_set_error(RT_ERR_IO, "writing %s failed: %s", tmp, strerror(saved));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
        int saved = errno;
        close(fd);
        unlink(tmp);
        return rt_set_error(RT_ERR_IO, "fsync of %s failed: %s", tmp, strerror(saved));
    }
    if (close(fd) != 0) {
        int saved = errno;
        unlink(tmp);
        return rt_set_error(RT_ERR_IO, "closing %s failed: %s", tmp, strerror(saved));
    }
    if (rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        return rt_set_error(RT_ERR_IO, "renaming %s to %s failed: %s", tmp, path, strerror(saved));
    }
    return RT_OK;
}

/* Copies the device binary of a built program; the caller frees it. */
static int program_binary(rt_context *ctx, cl_program program, unsigned char **out, size_t *len)
{
    size_t size = 0;
    RT_CL_CHECK(ctx, clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL));
    if (size == 0)
        return rt_set_error(RT_ERR_NOT_FOUND, "the driver returned an empty program binary");
    unsigned char *binary = malloc(size);
    if (!binary)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory for a %zu-byte binary", size);
    cl_int err = clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof binary, &binary, NULL);
    if (err != CL_SUCCESS) {
        free(binary);
        return rt_cl_fail(ctx, "clGetProgramInfo(CL_PROGRAM_BINARIES)", err, __FILE__, __LINE__);
    }
    *out = binary;
    *len = size;
    return RT_OK;
}

static int store_entry(rt_context *ctx, const char *name, const char *source, const char *options,
                       cl_program program)
{
    size_t key_len;
    char *key = make_key(ctx, name, source, options, &key_len);
    if (!key)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory for a kernel cache key");
    char dir[4096], path[4352];
    int st = rt_cache_dir(dir, sizeof dir);
    if (st == RT_OK)
        st = path_for_key(name, key, key_len, path, sizeof path);
    unsigned char *binary = NULL;
    size_t binary_len = 0;
    if (st == RT_OK)
        st = program_binary(ctx, program, &binary, &binary_len);
    unsigned char *entry = NULL;
    size_t entry_len = ENTRY_HEADER_BYTES + key_len + binary_len;
    if (st == RT_OK) {
        entry = malloc(entry_len);
        if (!entry)
            st = rt_set_error(RT_ERR_NOMEM, "out of host memory for a %zu-byte cache entry",
                              entry_len);
    }
    if (st == RT_OK) {
        memcpy(entry, entry_magic, sizeof entry_magic);
        put_u64(entry + 8, key_len);
        put_u64(entry + 16, binary_len);
        uint32_t crc = entry_crc((const unsigned char *)key, key_len, binary, binary_len);
        for (int i = 0; i < 4; i++)
            entry[24 + i] = (unsigned char)(crc >> (8 * i));
        memcpy(entry + ENTRY_HEADER_BYTES, key, key_len);
        memcpy(entry + ENTRY_HEADER_BYTES + key_len, binary, binary_len);
        st = rt_cache_write_atomic(dir, path, entry, entry_len);
    }
    free(entry);
    free(binary);
    free(key);
    return st;
}

void rt_cache_store(rt_context *ctx, const char *name, const char *source, const char *options,
                    cl_program program)
{
    if (!rt_cache_enabled())
        return;
    if (store_entry(ctx, name, source, options, program) != RT_OK)
        fprintf(stderr, "warning: kernel cache: storing program %s failed: %s\n", name,
                rt_last_error());
}
