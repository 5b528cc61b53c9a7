/*
 * On-disk cache of compiled program binaries.
 *
 * Location: $ALUMCL_CACHE_DIR, else $XDG_CACHE_HOME/alumcl, else
 * ~/.cache/alumcl. ALUMCL_CACHE=0 disables it. The key covers the platform
 * name and version, device name, vendor, driver version, alumcl version,
 * build options and source text.
 *
 * An entry is NAME-HASH.clbin, where HASH is a 64-bit FNV-1a hash of the key.
 * It contains a header (magic, key length, binary length, zlib crc32 of key and
 * binary), the full key text and the binary. A load compares the stored key
 * with the expected one, so a hash collision is a miss. Entries are written to
 * a temporary file in the same directory, fsynced and renamed into place, so
 * readers never see a partial entry; a truncated or corrupt entry found on
 * load is reported on stderr and rebuilt by the caller.
 */
#ifndef ALUMCL_RT_CACHE_H
#define ALUMCL_RT_CACHE_H

#include "runtime/rt_context.h"

/* Loads and builds a cached binary; RT_ERR_NOT_FOUND on a miss or a bad entry. */
int rt_cache_load(rt_context *ctx, const char *name, const char *source, const char *options,
                  cl_program *out);

/* Stores the binary of a built program; failures are logged on stderr and ignored. */
void rt_cache_store(rt_context *ctx, const char *name, const char *source, const char *options,
                    cl_program program);

/* Returns false when ALUMCL_CACHE=0. */
bool rt_cache_enabled(void);

/* Writes the cache directory path; RT_ERR_NOT_FOUND when disabled or no location is known. */
int rt_cache_dir(char *buf, size_t size);

/* Writes the path of the entry for a program; RT_ERR_NOT_FOUND when the cache is disabled. */
int rt_cache_entry_path(const rt_context *ctx, const char *name, const char *source,
                        const char *options, char *buf, size_t size);

/* Returns the 64-bit FNV-1a hash of len bytes. */
unsigned long long rt_cache_hash(const void *data, size_t len);

/*
 * Creates dir and its parents, then writes data to path atomically (temporary
 * file in dir, fsync, rename). RT_ERR_IO names the failing path and call.
 */
int rt_cache_write_atomic(const char *dir, const char *path, const void *data, size_t len);

#endif
