#include "nn/nn_checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* The format is little-endian and tensor data is copied as raw host floats and ints. */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "nn_checkpoint.c assumes a little-endian host"
#endif

#define NAME_MAX_LEN 95 /* nn_param and nn_buffer names hold 95 characters plus the NUL */
#define OPTIMIZER_PREFIX "optimizer."

/* ---- writing ---- */

typedef struct writer {
    FILE *file;
    uLong crc;
    const char *path; /* temporary file, for messages */
} writer;

static int put_bytes(writer *w, const void *data, size_t size)
{
    if (size == 0)
        return RT_OK;
    if (fwrite(data, 1, size, w->file) != size)
        return rt_set_error(RT_ERR_IO, "writing checkpoint %s failed: %s", w->path,
                            strerror(errno));
    /* crc32 takes a uInt length, so feed large tensors in chunks */
    const unsigned char *bytes = data;
    while (size > 0) {
        uInt chunk = size > (1u << 30) ? (1u << 30) : (uInt)size;
        w->crc = crc32(w->crc, bytes, chunk);
        bytes += chunk;
        size -= chunk;
    }
    return RT_OK;
}

static int put_u32(writer *w, uint32_t v)
{
    return put_bytes(w, &v, sizeof v);
}

static int put_u64(writer *w, uint64_t v)
{
    return put_bytes(w, &v, sizeof v);
}

static int put_tensor(writer *w, const char *name, const rt_tensor *t)
{
    size_t name_len = strlen(name);
    if (name_len == 0 || name_len > NAME_MAX_LEN)
        return rt_set_error(RT_ERR_INVALID,
                            "tensor name '%s' has %zu characters; checkpoint names need 1 to %d",
                            name, name_len, NAME_MAX_LEN);
    size_t bytes = rt_tensor_bytes(t);
    void *host = malloc(bytes ? bytes : 1);
    if (!host)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory reading tensor %s (%zu bytes)", name,
                            bytes);
    int st = rt_tensor_read(t, host);
    if (st != RT_OK) {
        free(host);
        return rt_wrap_error(st, "saving tensor %s", name);
    }
    st = put_u32(w, (uint32_t)name_len);
    if (st == RT_OK)
        st = put_bytes(w, name, name_len);
    if (st == RT_OK)
        st = put_u32(w, (uint32_t)t->dtype);
    if (st == RT_OK)
        st = put_u32(w, (uint32_t)t->ndim);
    for (int d = 0; d < t->ndim && st == RT_OK; d++)
        st = put_u32(w, (uint32_t)t->shape[d]);
    if (st == RT_OK)
        st = put_u64(w, (uint64_t)bytes);
    if (st == RT_OK)
        st = put_bytes(w, host, bytes);
    free(host);
    return st;
}

static int list_tensor_count(const nn_param_list *list)
{
    return list ? list->count + list->buffer_count : 0;
}

static int put_list(writer *w, const nn_param_list *list)
{
    if (!list)
        return RT_OK;
    for (int i = 0; i < list->count; i++)
        RT_TRY(put_tensor(w, list->params[i]->name, &list->params[i]->value));
    for (int i = 0; i < list->buffer_count; i++)
        RT_TRY(put_tensor(w, list->buffers[i].name, list->buffers[i].tensor));
    return RT_OK;
}

static int put_checkpoint(writer *w, const nn_checkpoint_header *header, const nn_param_list *model,
                          const nn_optim *opt)
{
    const nn_param_list *state = opt ? nn_optim_state_list(opt) : NULL;
    uint32_t count = (uint32_t)(list_tensor_count(model) + list_tensor_count(state));
    size_t metadata_size = header->metadata ? strlen(header->metadata) : 0;
    size_t rng_size = header->rng_state ? header->rng_state_size : 0;

    RT_TRY(put_bytes(w, NN_CHECKPOINT_MAGIC, 8));
    RT_TRY(put_u32(w, NN_CHECKPOINT_VERSION));
    RT_TRY(put_u32(w, count));
    RT_TRY(put_u64(w, (uint64_t)header->step));
    RT_TRY(put_u64(w, (uint64_t)header->epoch));
    RT_TRY(put_u64(w, (uint64_t)metadata_size));
    RT_TRY(put_bytes(w, header->metadata, metadata_size));
    RT_TRY(put_u64(w, (uint64_t)rng_size));
    RT_TRY(put_bytes(w, header->rng_state, rng_size));
    RT_TRY(put_list(w, model));
    RT_TRY(put_list(w, state));
    uint32_t crc = (uint32_t)w->crc;
    if (fwrite(&crc, 1, sizeof crc, w->file) != sizeof crc)
        return rt_set_error(RT_ERR_IO, "writing checkpoint %s failed: %s", w->path,
                            strerror(errno));
    return RT_OK;
}

/* Makes the rename durable by syncing the directory that contains path. */
static int sync_parent_directory(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return rt_set_error(RT_ERR_IO, "opening directory %s to sync checkpoint failed: %s", dir,
                            strerror(errno));
    int st = fsync(fd);
    int saved = errno;
    close(fd);
    if (st != 0)
        return rt_set_error(RT_ERR_IO, "fsync of directory %s failed: %s", dir, strerror(saved));
    return RT_OK;
}

/* Returns the name of tensor i of list, counting parameters first and then buffers. */
static const char *list_tensor_name(const nn_param_list *list, int i)
{
    return i < list->count ? list->params[i]->name : list->buffers[i - list->count].name;
}

/* Rejects a duplicate name among model and optimizer tensors, which no load could resolve. */
static int check_unique_names(const nn_param_list *model, const nn_param_list *state)
{
    const nn_param_list *lists[2] = {model, state};
    for (int a = 0; a < 2; a++)
        for (int i = 0; i < list_tensor_count(lists[a]); i++)
            for (int b = a; b < 2; b++)
                for (int j = b == a ? i + 1 : 0; j < list_tensor_count(lists[b]); j++)
                    if (strcmp(list_tensor_name(lists[a], i), list_tensor_name(lists[b], j)) == 0)
                        return rt_set_error(RT_ERR_INVALID,
                                            "tensor name '%s' occurs twice; checkpoint tensor "
                                            "names must be unique",
                                            list_tensor_name(lists[a], i));
    return RT_OK;
}

int nn_checkpoint_save(rt_context *ctx, const char *path, const nn_checkpoint_header *header,
                       const nn_param_list *model, const nn_optim *opt)
{
    (void)ctx; /* tensors carry their context */
    nn_checkpoint_header empty_header;
    memset(&empty_header, 0, sizeof empty_header);
    if (!header)
        header = &empty_header;
    RT_TRY(check_unique_names(model, opt ? nn_optim_state_list(opt) : NULL));
    char tmp_path[4096];
    int len = snprintf(tmp_path, sizeof tmp_path, "%s.tmp.XXXXXX", path);
    if (len < 0 || (size_t)len >= sizeof tmp_path)
        return rt_set_error(RT_ERR_INVALID, "checkpoint path is too long (%zu characters)",
                            strlen(path));
    int fd = mkstemp(tmp_path);
    if (fd < 0)
        return rt_set_error(RT_ERR_IO,
                            "creating temporary checkpoint %s failed: %s; check that the "
                            "directory exists and is writable",
                            tmp_path, strerror(errno));
    fchmod(fd, 0644);
    writer w = {fdopen(fd, "wb"), crc32(0L, Z_NULL, 0), tmp_path};
    if (!w.file) {
        int saved = errno;
        close(fd);
        unlink(tmp_path);
        return rt_set_error(RT_ERR_IO, "opening %s failed: %s", tmp_path, strerror(saved));
    }

    int st = put_checkpoint(&w, header, model, opt);
    if (st == RT_OK && fflush(w.file) != 0)
        st =
            rt_set_error(RT_ERR_IO, "flushing checkpoint %s failed: %s", tmp_path, strerror(errno));
    if (st == RT_OK && fsync(fileno(w.file)) != 0)
        st =
            rt_set_error(RT_ERR_IO, "fsync of checkpoint %s failed: %s", tmp_path, strerror(errno));
    if (fclose(w.file) != 0 && st == RT_OK)
        st = rt_set_error(RT_ERR_IO, "closing checkpoint %s failed: %s", tmp_path, strerror(errno));
    if (st == RT_OK && rename(tmp_path, path) != 0)
        st = rt_set_error(RT_ERR_IO, "renaming %s to %s failed: %s", tmp_path, path,
                          strerror(errno));
    if (st != RT_OK) {
        unlink(tmp_path);
        return rt_wrap_error(st, "checkpoint %s was not written (any earlier file is unchanged)",
                             path);
    }
    return sync_parent_directory(path);
}

/* ---- reading ---- */

typedef struct file_tensor {
    char name[NAME_MAX_LEN + 1];
    rt_dtype dtype;
    int ndim;
    int shape[RT_MAX_DIMS];
    size_t numel;
    const unsigned char *data;
    bool used;
} file_tensor;

typedef struct checkpoint_file {
    const char *path;
    unsigned char *bytes;
    size_t size;
    size_t pos;
    int64_t step, epoch;
    const unsigned char *metadata, *rng_state;
    size_t metadata_size, rng_state_size;
    file_tensor *tensors;
    int tensor_count;
} checkpoint_file;

static void checkpoint_file_free(checkpoint_file *f)
{
    free(f->bytes);
    free(f->tensors);
    memset(f, 0, sizeof *f);
}

static int read_whole_file(checkpoint_file *f)
{
    FILE *file = fopen(f->path, "rb");
    if (!file)
        return rt_set_error(RT_ERR_IO, "opening checkpoint %s failed: %s", f->path,
                            strerror(errno));
    struct stat info;
    if (fstat(fileno(file), &info) != 0 || !S_ISREG(info.st_mode)) {
        fclose(file);
        return rt_set_error(RT_ERR_IO, "checkpoint %s is not a regular file", f->path);
    }
    f->size = (size_t)info.st_size;
    f->bytes = malloc(f->size ? f->size : 1);
    if (!f->bytes) {
        fclose(file);
        return rt_set_error(RT_ERR_NOMEM, "out of host memory reading checkpoint %s (%zu bytes)",
                            f->path, f->size);
    }
    size_t got = fread(f->bytes, 1, f->size, file);
    fclose(file);
    if (got != f->size)
        return rt_set_error(RT_ERR_IO, "reading checkpoint %s failed after %zu of %zu bytes",
                            f->path, got, f->size);
    return RT_OK;
}

/* Returns a pointer to the next size bytes, or NULL after storing a truncation error. */
static const unsigned char *take(checkpoint_file *f, size_t size, const char *field)
{
    /* the last 4 bytes are the checksum, so content ends before them */
    size_t end = f->size >= 4 ? f->size - 4 : 0;
    if (f->pos > end || size > end - f->pos) {
        rt_set_error(RT_ERR_FORMAT,
                     "checkpoint %s is truncated or corrupt: %s needs %zu bytes at offset %zu, "
                     "but the file has %zu bytes in all; write it again or use another copy",
                     f->path, field, size, f->pos, f->size);
        return NULL;
    }
    const unsigned char *p = f->bytes + f->pos;
    f->pos += size;
    return p;
}

static int take_u32(checkpoint_file *f, const char *field, uint32_t *out)
{
    const unsigned char *p = take(f, sizeof *out, field);
    if (!p)
        return RT_ERR_FORMAT;
    memcpy(out, p, sizeof *out);
    return RT_OK;
}

static int take_u64(checkpoint_file *f, const char *field, uint64_t *out)
{
    const unsigned char *p = take(f, sizeof *out, field);
    if (!p)
        return RT_ERR_FORMAT;
    memcpy(out, p, sizeof *out);
    return RT_OK;
}

static int corrupt(const checkpoint_file *f, const char *detail_name, const char *detail)
{
    return rt_set_error(RT_ERR_FORMAT, "checkpoint %s is corrupt: %s %s", f->path, detail_name,
                        detail);
}

static int parse_tensor(checkpoint_file *f, int index, file_tensor *t)
{
    char field[160];
    uint32_t name_len, dtype, ndim;
    snprintf(field, sizeof field, "the name length of tensor %d", index);
    RT_TRY(take_u32(f, field, &name_len));
    if (name_len == 0 || name_len > NAME_MAX_LEN) {
        snprintf(field, sizeof field, "has name length %u (expected 1 to %d)", name_len,
                 NAME_MAX_LEN);
        char which[32];
        snprintf(which, sizeof which, "tensor %d", index);
        return corrupt(f, which, field);
    }
    snprintf(field, sizeof field, "the name of tensor %d", index);
    const unsigned char *name = take(f, name_len, field);
    if (!name)
        return RT_ERR_FORMAT;
    memcpy(t->name, name, name_len);
    t->name[name_len] = '\0';

    snprintf(field, sizeof field, "the dtype of tensor '%s'", t->name);
    RT_TRY(take_u32(f, field, &dtype));
    snprintf(field, sizeof field, "the rank of tensor '%s'", t->name);
    RT_TRY(take_u32(f, field, &ndim));
    if (dtype != RT_F32 && dtype != RT_I32)
        return corrupt(f, t->name, "has an unknown dtype code (expected 0 float32 or 1 int32)");
    if (ndim < 1 || ndim > RT_MAX_DIMS)
        return corrupt(f, t->name, "has a rank outside 1 to 4");
    t->dtype = (rt_dtype)dtype;
    t->ndim = (int)ndim;
    t->numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        uint32_t dim;
        snprintf(field, sizeof field, "the shape of tensor '%s'", t->name);
        RT_TRY(take_u32(f, field, &dim));
        if (dim < 1 || dim > INT_MAX || t->numel > SIZE_MAX / 8 / dim)
            return corrupt(f, t->name, "has an invalid dimension");
        t->shape[d] = (int)dim;
        t->numel *= dim;
    }
    uint64_t data_size;
    snprintf(field, sizeof field, "the data size of tensor '%s'", t->name);
    RT_TRY(take_u64(f, field, &data_size));
    if (data_size != (uint64_t)(t->numel * rt_dtype_size(t->dtype)))
        return corrupt(f, t->name, "has a data size that does not match its shape");
    snprintf(field, sizeof field, "the data of tensor '%s'", t->name);
    t->data = take(f, (size_t)data_size, field);
    return t->data ? RT_OK : RT_ERR_FORMAT;
}

static int parse_header(checkpoint_file *f)
{
    if (f->size < 8)
        return rt_set_error(RT_ERR_FORMAT,
                            "checkpoint %s is truncated: it has %zu bytes, fewer than the "
                            "8-byte magic",
                            f->path, f->size);
    if (memcmp(f->bytes, NN_CHECKPOINT_MAGIC, 8) != 0)
        return rt_set_error(RT_ERR_FORMAT,
                            "%s is not an alumcl checkpoint (it does not start with \"%s\"); "
                            "convert PyTorch files with tools/convert_torchvision.py",
                            f->path, NN_CHECKPOINT_MAGIC);
    f->pos = 8;
    uint32_t version, count;
    RT_TRY(take_u32(f, "the format version", &version));
    if (version != NN_CHECKPOINT_VERSION)
        return rt_set_error(RT_ERR_FORMAT,
                            "checkpoint %s has format version %u, but this build reads version %d",
                            f->path, version, NN_CHECKPOINT_VERSION);
    RT_TRY(take_u32(f, "the tensor count", &count));
    uint64_t step, epoch, metadata_size, rng_size;
    RT_TRY(take_u64(f, "the step", &step));
    RT_TRY(take_u64(f, "the epoch", &epoch));
    RT_TRY(take_u64(f, "the metadata size", &metadata_size));
    if (metadata_size > f->size)
        return corrupt(f, "the metadata size", "exceeds the file size");
    f->metadata_size = (size_t)metadata_size;
    f->metadata = take(f, f->metadata_size, "the metadata");
    if (!f->metadata)
        return RT_ERR_FORMAT;
    RT_TRY(take_u64(f, "the RNG state size", &rng_size));
    if (rng_size > f->size)
        return corrupt(f, "the RNG state size", "exceeds the file size");
    f->rng_state_size = (size_t)rng_size;
    f->rng_state = take(f, f->rng_state_size, "the RNG state");
    if (!f->rng_state)
        return RT_ERR_FORMAT;
    f->step = (int64_t)step;
    f->epoch = (int64_t)epoch;
    if (count > f->size / 29) /* a tensor record takes at least 29 bytes */
        return corrupt(f, "the tensor count", "exceeds what the file can hold");
    f->tensor_count = (int)count;
    return RT_OK;
}

/* Reads, parses and checksums path. On failure f is freed. */
static int checkpoint_file_open(checkpoint_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    int st = read_whole_file(f);
    if (st == RT_OK)
        st = parse_header(f);
    if (st == RT_OK) {
        f->tensors = calloc((size_t)f->tensor_count + 1, sizeof *f->tensors);
        if (!f->tensors)
            st = rt_set_error(RT_ERR_NOMEM, "out of host memory reading checkpoint %s", path);
    }
    for (int i = 0; st == RT_OK && i < f->tensor_count; i++)
        st = parse_tensor(f, i, &f->tensors[i]);
    if (st == RT_OK && f->pos != f->size - 4)
        st = rt_set_error(RT_ERR_FORMAT,
                          "checkpoint %s is corrupt: %zu unexpected bytes follow the last tensor",
                          path, f->size - 4 - f->pos);
    if (st == RT_OK) {
        uint32_t stored;
        memcpy(&stored, f->bytes + f->size - 4, sizeof stored);
        uLong crc = crc32(0L, Z_NULL, 0);
        for (size_t done = 0; done < f->size - 4;) {
            size_t rest = f->size - 4 - done;
            uInt chunk = rest > (1u << 30) ? (1u << 30) : (uInt)rest;
            crc = crc32(crc, f->bytes + done, chunk);
            done += chunk;
        }
        if ((uint32_t)crc != stored)
            st = rt_set_error(RT_ERR_FORMAT,
                              "checkpoint %s is corrupt: CRC-32 is 0x%08x but the file stores "
                              "0x%08x; write it again or use another copy",
                              path, (unsigned)crc, (unsigned)stored);
    }
    if (st != RT_OK)
        checkpoint_file_free(f);
    return st;
}

static file_tensor *find_file_tensor(checkpoint_file *f, const char *name)
{
    for (int i = 0; i < f->tensor_count; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

static void format_file_shape(const file_tensor *t, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int d = 0; d < t->ndim && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, d ? "x%d" : "%d", t->shape[d]);
}

static const char *dtype_name(rt_dtype dtype)
{
    return dtype == RT_I32 ? "int32" : "float32";
}

static bool same_layout(const file_tensor *ft, const rt_tensor *t)
{
    if (ft->dtype != t->dtype || ft->ndim != t->ndim)
        return false;
    for (int d = 0; d < t->ndim; d++)
        if (ft->shape[d] != t->shape[d])
            return false;
    return true;
}

static int layout_mismatch(const checkpoint_file *f, const file_tensor *ft, const rt_tensor *t)
{
    char file_shape[64], model_shape[64];
    format_file_shape(ft, file_shape, sizeof file_shape);
    rt_tensor_shape_string(t, model_shape, sizeof model_shape);
    return rt_set_error(RT_ERR_INVALID,
                        "checkpoint %s: tensor '%s' has shape %s (%s) but the model expects %s "
                        "(%s); check that the model configuration matches the checkpoint",
                        f->path, ft->name, file_shape, dtype_name(ft->dtype), model_shape,
                        dtype_name(t->dtype));
}

/* One model tensor that a load fills. */
typedef struct expected_tensor {
    const char *name;
    rt_tensor *tensor;
} expected_tensor;

static int collect_expected(const nn_param_list *list, expected_tensor **items, int *count)
{
    if (!list)
        return RT_OK;
    int total = *count + list->count + list->buffer_count;
    expected_tensor *grown = realloc(*items, (size_t)(total + 1) * sizeof *grown);
    if (!grown)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory listing checkpoint tensors");
    *items = grown;
    for (int i = 0; i < list->count; i++)
        grown[(*count)++] = (expected_tensor){list->params[i]->name, &list->params[i]->value};
    for (int i = 0; i < list->buffer_count; i++)
        grown[(*count)++] = (expected_tensor){list->buffers[i].name, list->buffers[i].tensor};
    return RT_OK;
}

/* Matches every expected tensor to a file tensor (in model order) and writes them. */
static int load_exact(checkpoint_file *f, expected_tensor *items, int count)
{
    for (int i = 0; i < count; i++) {
        file_tensor *ft = find_file_tensor(f, items[i].name);
        if (!ft)
            return rt_set_error(RT_ERR_NOT_FOUND,
                                "checkpoint %s has no tensor '%s' that the model expects; check "
                                "that it was saved from the same model and optimizer",
                                f->path, items[i].name);
        if (!same_layout(ft, items[i].tensor))
            return layout_mismatch(f, ft, items[i].tensor);
        ft->used = true;
    }
    for (int i = 0; i < f->tensor_count; i++)
        if (!f->tensors[i].used) {
            bool optimizer =
                strncmp(f->tensors[i].name, OPTIMIZER_PREFIX, strlen(OPTIMIZER_PREFIX)) == 0;
            return rt_set_error(RT_ERR_INVALID,
                                "checkpoint %s has tensor '%s' that the model does not have%s",
                                f->path, f->tensors[i].name,
                                optimizer ? "; pass a matching optimizer or load weights only"
                                          : "; check the model configuration");
        }
    for (int i = 0; i < count; i++) {
        file_tensor *ft = find_file_tensor(f, items[i].name);
        RT_TRY(rt_tensor_write(items[i].tensor, ft->data));
    }
    return RT_OK;
}

static int copy_header(const checkpoint_file *f, nn_checkpoint_header *out)
{
    memset(out, 0, sizeof *out);
    out->step = f->step;
    out->epoch = f->epoch;
    out->metadata = malloc(f->metadata_size + 1);
    out->rng_state = malloc(f->rng_state_size ? f->rng_state_size : 1);
    if (!out->metadata || !out->rng_state) {
        nn_checkpoint_header_free(out);
        return rt_set_error(RT_ERR_NOMEM, "out of host memory copying the checkpoint header");
    }
    memcpy(out->metadata, f->metadata, f->metadata_size);
    out->metadata[f->metadata_size] = '\0';
    memcpy(out->rng_state, f->rng_state, f->rng_state_size);
    out->rng_state_size = f->rng_state_size;
    return RT_OK;
}

int nn_checkpoint_load(rt_context *ctx, const char *path, nn_param_list *model, nn_optim *opt,
                       nn_checkpoint_header *header_out)
{
    (void)ctx;
    if (header_out)
        memset(header_out, 0, sizeof *header_out);
    checkpoint_file f;
    RT_TRY(checkpoint_file_open(&f, path));
    expected_tensor *items = NULL;
    int count = 0;
    int st = collect_expected(model, &items, &count);
    if (st == RT_OK && opt)
        st = collect_expected(nn_optim_state_list(opt), &items, &count);
    if (st == RT_OK)
        st = load_exact(&f, items, count);
    if (st == RT_OK && opt)
        st = nn_optim_sync_state(opt);
    if (st == RT_OK && header_out)
        st = copy_header(&f, header_out);
    free(items);
    checkpoint_file_free(&f);
    return st;
}

void nn_checkpoint_header_free(nn_checkpoint_header *header)
{
    free(header->metadata);
    free(header->rng_state);
    memset(header, 0, sizeof *header);
}

static int report_skip(nn_weights_report *report, const char *name)
{
    if (!report)
        return RT_OK;
    char **grown = realloc(report->skipped, (size_t)(report->skipped_count + 1) * sizeof *grown);
    if (!grown)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory listing skipped tensors");
    report->skipped = grown;
    grown[report->skipped_count] = strdup(name);
    if (!grown[report->skipped_count])
        return rt_set_error(RT_ERR_NOMEM, "out of host memory listing skipped tensors");
    report->skipped_count++;
    return RT_OK;
}

static bool has_prefix(const char *name, const char *prefix)
{
    return prefix && *prefix && strncmp(name, prefix, strlen(prefix)) == 0;
}

/* Decides for every model tensor whether it loads or is skipped; writes nothing. */
static int match_weights(checkpoint_file *f, expected_tensor *items, int count,
                         const char *skip_prefix, nn_weights_report *report, bool *load)
{
    for (int i = 0; i < count; i++) {
        load[i] = false;
        file_tensor *ft = find_file_tensor(f, items[i].name);
        bool skippable = has_prefix(items[i].name, skip_prefix);
        if (ft)
            ft->used = true;
        if (ft && same_layout(ft, items[i].tensor)) {
            load[i] = true;
            continue;
        }
        if (skippable) {
            RT_TRY(report_skip(report, items[i].name));
            continue;
        }
        if (!ft)
            return rt_set_error(RT_ERR_NOT_FOUND,
                                "weights file %s has no tensor '%s' that the model expects; "
                                "check the model depth and configuration",
                                f->path, items[i].name);
        return layout_mismatch(f, ft, items[i].tensor);
    }
    for (int i = 0; i < f->tensor_count; i++) {
        const file_tensor *ft = &f->tensors[i];
        if (ft->used || has_prefix(ft->name, OPTIMIZER_PREFIX) || has_prefix(ft->name, skip_prefix))
            continue;
        return rt_set_error(RT_ERR_INVALID,
                            "weights file %s has tensor '%s' that the model does not have; check "
                            "the model depth and configuration",
                            f->path, ft->name);
    }
    return RT_OK;
}

int nn_checkpoint_load_weights(rt_context *ctx, const char *path, nn_param_list *model,
                               const nn_weights_options *options, nn_weights_report *report)
{
    (void)ctx;
    if (report)
        memset(report, 0, sizeof *report);
    checkpoint_file f;
    RT_TRY(checkpoint_file_open(&f, path));
    expected_tensor *items = NULL;
    int count = 0;
    bool *load = NULL;
    int st = collect_expected(model, &items, &count);
    if (st == RT_OK) {
        load = calloc((size_t)count + 1, sizeof *load);
        if (!load)
            st = rt_set_error(RT_ERR_NOMEM, "out of host memory loading weights");
    }
    const char *skip_prefix = options ? options->skip_mismatched_prefix : NULL;
    if (st == RT_OK)
        st = match_weights(&f, items, count, skip_prefix, report, load);
    for (int i = 0; st == RT_OK && i < count; i++)
        if (load[i])
            st = rt_tensor_write(items[i].tensor, find_file_tensor(&f, items[i].name)->data);
    if (st != RT_OK && report)
        nn_weights_report_free(report);
    free(load);
    free(items);
    checkpoint_file_free(&f);
    return st;
}

void nn_weights_report_free(nn_weights_report *report)
{
    for (int i = 0; i < report->skipped_count; i++)
        free(report->skipped[i]);
    free(report->skipped);
    memset(report, 0, sizeof *report);
}
