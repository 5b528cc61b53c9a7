/*
 * Datasets of image files named by list files or folders: generic
 * "path label" lists (PACS), RAF-DB and Office-Home.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "apps/app_data.h"
#include "apps/app_data_internal.h"
#include "runtime/rt_error.h"

/* Image files under a root folder; sample i is root/paths[i]. */
typedef struct {
    char *root;
    char **paths; /* [count], owned */
    int32_t count;
} files_impl;

static void files_describe(const app_dataset *ds, int32_t index, char *buf, size_t size)
{
    const files_impl *f = ds->impl;
    snprintf(buf, size, "%s/%s", f->root, f->paths[index]);
}

static int files_load(const app_dataset *ds, int32_t index, app_image *out)
{
    const files_impl *f = ds->impl;
    char *path = app_path_join(f->root, f->paths[index]);
    if (!path)
        return rt_set_error(RT_ERR_NOMEM, "out of memory loading sample %d of %s", index, ds->name);
    int status = app_image_load(path, out);
    if (status != RT_OK)
        rt_wrap_error(status, "sample %d of dataset %s", index, ds->name);
    free(path);
    return status;
}

static void files_impl_free(files_impl *f)
{
    if (!f)
        return;
    if (f->paths)
        for (int32_t i = 0; i < f->count; i++)
            free(f->paths[i]);
    free(f->paths);
    free(f->root);
    free(f);
}

static void files_destroy(app_dataset *ds)
{
    files_impl_free(ds->impl);
}

static const app_dataset_ops files_ops = {files_load, files_describe, files_destroy};

static files_impl *files_impl_new(const char *root, int32_t capacity)
{
    files_impl *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->root = strdup(root);
    f->paths = calloc(capacity > 0 ? (size_t)capacity : 1, sizeof(char *));
    if (!f->root || !f->paths) {
        files_impl_free(f);
        return NULL;
    }
    return f;
}

/*
 * Splits a list line "relative/path label" at its last run of blanks. Returns
 * 0 and sets *path_end and *label_text on success, -1 when the line has no blank
 * or no path.
 */
static int split_list_line(const char *line, const char **path_end, const char **label_text)
{
    const char *blank = NULL;
    for (const char *p = line; *p; p++)
        if (*p == ' ' || *p == '\t')
            blank = p;
    if (!blank)
        return -1;
    const char *end = blank;
    while (end > line && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (end == line)
        return -1;
    *path_end = end;
    *label_text = blank + 1;
    return 0;
}

/* Parses one list line into a malloc'd path and a 0-based label. */
static int parse_list_line(const char *list_path, const char *line, int32_t number, int label_base,
                           int classes, char **path, int32_t *label)
{
    const char *path_end, *label_text;
    long long value;
    if (split_list_line(line, &path_end, &label_text) != 0) {
        return rt_set_error(RT_ERR_FORMAT,
                            "%s line %d ('%.80s') is malformed: expected 'relative/path.jpg "
                            "label'; fix the list file",
                            list_path, number, line);
    }
    const char *cursor = label_text, *end = label_text + strlen(label_text);
    if (app_parse_int(&cursor, end, INT32_MIN, INT32_MAX, &value) != 0 || cursor != end) {
        return rt_set_error(RT_ERR_FORMAT,
                            "%s line %d: label '%.40s' is not an integer; fix the list file",
                            list_path, number, label_text);
    }
    if (value < label_base || value >= (long long)label_base + classes) {
        return rt_set_error(RT_ERR_FORMAT,
                            "%s line %d: label %lld is out of range %d..%d; fix the list file "
                            "or the class count",
                            list_path, number, value, label_base, label_base + classes - 1);
    }
    *path = strndup(line, (size_t)(path_end - line));
    if (!*path)
        return rt_set_error(RT_ERR_NOMEM, "out of memory reading %s", list_path);
    *label = (int32_t)(value - label_base);
    return RT_OK;
}

int app_list_open(const char *root, const char *list_path, int label_base, int classes,
                  app_dataset **out)
{
    *out = NULL;
    if (classes < 2)
        return rt_set_error(RT_ERR_INVALID, "list dataset classes must be >= 2, got %d", classes);
    app_text_lines lines;
    RT_TRY(app_text_lines_read(list_path, &lines));
    if (lines.count == 0) {
        app_text_lines_free(&lines);
        return rt_set_error(RT_ERR_FORMAT,
                            "list file '%s' has no entries; expected lines "
                            "'relative/path.jpg label'",
                            list_path);
    }
    files_impl *f = files_impl_new(root, lines.count);
    int32_t *labels = malloc((size_t)lines.count * sizeof(int32_t));
    if (!f || !labels) {
        app_text_lines_free(&lines);
        files_impl_free(f);
        free(labels);
        return rt_set_error(RT_ERR_NOMEM, "out of memory reading '%s'", list_path);
    }
    int status = RT_OK;
    for (int32_t i = 0; i < lines.count && status == RT_OK; i++) {
        status = parse_list_line(list_path, lines.lines[i], lines.numbers[i], label_base, classes,
                                 &f->paths[i], &labels[i]);
        if (status == RT_OK)
            f->count++;
    }
    app_dataset *ds = NULL;
    if (status == RT_OK) {
        char name[64];
        snprintf(name, sizeof(name), "list:%.58s", app_path_base(list_path));
        status = app_dataset_new(name, f->count, classes, 3, &files_ops, f, &ds);
    }
    app_text_lines_free(&lines);
    if (status != RT_OK) {
        files_impl_free(f);
        free(labels);
        return status;
    }
    memcpy(ds->labels, labels, (size_t)ds->count * sizeof(int32_t));
    free(labels);
    *out = ds;
    return RT_OK;
}

int app_pacs_open(const char *root, const char *list_path, app_dataset **out)
{
    return app_list_open(root, list_path, 1, 7, out);
}

/* ---- RAF-DB ---- */

typedef struct {
    const char *name;
    int32_t label;
} named_label;

static int compare_named_label(const void *a, const void *b)
{
    return strcmp(((const named_label *)a)->name, ((const named_label *)b)->name);
}

/* Reads a RAF-DB label file into entries (names point into lines' text), 0-based labels. */
static int read_rafdb_labels(const char *path, app_text_lines *lines, named_label **entries)
{
    RT_TRY(app_text_lines_read(path, lines));
    if (lines->count == 0) {
        app_text_lines_free(lines);
        return rt_set_error(RT_ERR_FORMAT,
                            "RAF-DB label file '%s' has no entries; expected lines "
                            "'train_00001.jpg 5'",
                            path);
    }
    named_label *e = malloc((size_t)lines->count * sizeof(*e));
    if (!e) {
        app_text_lines_free(lines);
        return rt_set_error(RT_ERR_NOMEM, "out of memory reading '%s'", path);
    }
    for (int32_t i = 0; i < lines->count; i++) {
        char *line = lines->lines[i];
        const char *path_end, *label_text;
        long long value;
        const char *cursor;
        int bad = split_list_line(line, &path_end, &label_text) != 0;
        if (!bad) {
            cursor = label_text;
            bad = app_parse_int(&cursor, label_text + strlen(label_text), INT32_MIN, INT32_MAX,
                                &value) != 0 ||
                  *cursor != '\0';
        }
        if (bad || value < 1 || value > 7) {
            int status = rt_set_error(RT_ERR_FORMAT,
                                      "%s line %d ('%.80s') is invalid: expected "
                                      "'train_00001.jpg <label 1..7>'; fix the label file",
                                      path, lines->numbers[i], line);
            free(e);
            app_text_lines_free(lines);
            return status;
        }
        line[path_end - line] = '\0';
        e[i].name = line;
        e[i].label = (int32_t)value - 1;
    }
    *entries = e;
    return RT_OK;
}

/* Maps "train_00001.jpg" to "Image/aligned/train_00001_aligned.jpg" (malloc'd). */
static char *rafdb_aligned_path(const char *name)
{
    const char *dot = strrchr(name, '.');
    size_t stem = dot ? (size_t)(dot - name) : strlen(name);
    const char *ext = dot ? dot : ".jpg";
    size_t n = strlen("Image/aligned/") + stem + strlen("_aligned") + strlen(ext) + 1;
    char *path = malloc(n);
    if (path)
        snprintf(path, n, "Image/aligned/%.*s_aligned%s", (int)stem, name, ext);
    return path;
}

int app_rafdb_open(const char *root, int train, const char *noisy_list, app_dataset **out)
{
    *out = NULL;
    const char *prefix = train ? "train_" : "test_";
    char *list_path = app_path_join(root, "EmoLabel/list_patition_label.txt");
    if (!list_path)
        return rt_set_error(RT_ERR_NOMEM, "out of memory opening RAF-DB");
    app_text_lines lines, noisy_lines = {0};
    named_label *entries = NULL, *noisy = NULL;
    int status = read_rafdb_labels(list_path, &lines, &entries);
    if (status != RT_OK) {
        free(list_path);
        return status;
    }
    if (noisy_list) {
        status = read_rafdb_labels(noisy_list, &noisy_lines, &noisy);
        if (status == RT_OK)
            qsort(noisy, (size_t)noisy_lines.count, sizeof(*noisy), compare_named_label);
    }
    int32_t count = 0;
    for (int32_t i = 0; i < lines.count; i++)
        count += strncmp(entries[i].name, prefix, strlen(prefix)) == 0;
    if (status == RT_OK && count == 0)
        status =
            rt_set_error(RT_ERR_FORMAT, "RAF-DB label file '%s' has no '%s' lines; check the file",
                         list_path, prefix);

    files_impl *f = status == RT_OK ? files_impl_new(root, count) : NULL;
    if (status == RT_OK && !f)
        status = rt_set_error(RT_ERR_NOMEM, "out of memory opening RAF-DB");
    app_dataset *ds = NULL;
    if (status == RT_OK)
        status =
            app_dataset_new(train ? "rafdb-train" : "rafdb-test", count, 7, 3, &files_ops, f, &ds);
    if (status == RT_OK && noisy) {
        ds->clean_labels = malloc((size_t)count * sizeof(int32_t));
        if (!ds->clean_labels)
            status = rt_set_error(RT_ERR_NOMEM, "out of memory opening RAF-DB");
    }
    for (int32_t i = 0, j = 0; i < lines.count && status == RT_OK; i++) {
        if (strncmp(entries[i].name, prefix, strlen(prefix)) != 0)
            continue;
        f->paths[j] = rafdb_aligned_path(entries[i].name);
        if (!f->paths[j]) {
            status = rt_set_error(RT_ERR_NOMEM, "out of memory opening RAF-DB");
            break;
        }
        f->count++;
        ds->labels[j] = entries[i].label;
        if (noisy) {
            named_label key = {entries[i].name, 0};
            const named_label *hit = bsearch(&key, noisy, (size_t)noisy_lines.count, sizeof(*noisy),
                                             compare_named_label);
            if (!hit) {
                status = rt_set_error(RT_ERR_FORMAT,
                                      "noisy label file '%s' has no line for '%s' (listed in "
                                      "%s); use a noisy file made from the same label list",
                                      noisy_list, entries[i].name, list_path);
                break;
            }
            ds->clean_labels[j] = entries[i].label;
            ds->labels[j] = hit->label;
        }
        j++;
    }
    free(entries);
    free(noisy);
    app_text_lines_free(&lines);
    app_text_lines_free(&noisy_lines);
    free(list_path);
    if (status != RT_OK) {
        if (ds)
            app_dataset_free(ds);
        else
            files_impl_free(f);
        return status;
    }
    *out = ds;
    return RT_OK;
}

/* ---- Office-Home ---- */

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 ||
                   strcasecmp(dot, ".png") == 0);
}

typedef struct {
    char **items;
    size_t count, capacity;
} string_list;

static int string_list_push(string_list *list, const char *s)
{
    if (list->count == list->capacity) {
        size_t cap = list->capacity ? 2 * list->capacity : 64;
        char **grown = realloc(list->items, cap * sizeof(char *));
        if (!grown)
            return -1;
        list->items = grown;
        list->capacity = cap;
    }
    list->items[list->count] = strdup(s);
    if (!list->items[list->count])
        return -1;
    list->count++;
    return 0;
}

static void string_list_free(string_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    memset(list, 0, sizeof(*list));
}

/* Lists the entries of dir that are folders (want_dirs) or image files, sorted byte-wise. */
static int list_folder(const char *dir, int want_dirs, string_list *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return rt_set_error(errno == ENOENT ? RT_ERR_NOT_FOUND : RT_ERR_IO,
                            "cannot open folder '%s': %s; check the dataset root and domain", dir,
                            strerror(errno));
    struct dirent *entry;
    int status = RT_OK;
    while ((entry = readdir(d)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        char *path = app_path_join(dir, entry->d_name);
        struct stat st;
        if (!path) {
            status = rt_set_error(RT_ERR_NOMEM, "out of memory listing '%s'", dir);
            break;
        }
        int ok = stat(path, &st) == 0;
        free(path);
        if (!ok)
            continue;
        int wanted =
            want_dirs ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode) && is_image_name(entry->d_name);
        if (wanted && string_list_push(out, entry->d_name) != 0) {
            status = rt_set_error(RT_ERR_NOMEM, "out of memory listing '%s'", dir);
            break;
        }
    }
    closedir(d);
    if (status == RT_OK && out->count > 1)
        qsort(out->items, out->count, sizeof(char *), compare_strings);
    return status;
}

int app_officehome_open(const char *root, const char *domain, app_dataset **out)
{
    *out = NULL;
    char *domain_dir = app_path_join(root, domain);
    if (!domain_dir)
        return rt_set_error(RT_ERR_NOMEM, "out of memory opening Office-Home");
    string_list classes = {0}, samples = {0};
    int32_t *labels = NULL;
    size_t labels_cap = 0;
    int status = list_folder(domain_dir, 1, &classes);
    if (status == RT_OK && classes.count < 2)
        status = rt_set_error(RT_ERR_FORMAT,
                              "Office-Home domain folder '%s' has %zu class folders; expected "
                              "<domain>/<ClassName>/<file>.jpg with at least 2 classes",
                              domain_dir, classes.count);
    for (size_t c = 0; c < classes.count && status == RT_OK; c++) {
        char *class_dir = app_path_join(domain_dir, classes.items[c]);
        string_list files = {0};
        status = class_dir ? list_folder(class_dir, 0, &files)
                           : rt_set_error(RT_ERR_NOMEM, "out of memory opening Office-Home");
        for (size_t i = 0; i < files.count && status == RT_OK; i++) {
            size_t n = strlen(domain) + strlen(classes.items[c]) + strlen(files.items[i]) + 3;
            char *rel = malloc(n);
            if (rel)
                snprintf(rel, n, "%s/%s/%s", domain, classes.items[c], files.items[i]);
            if (samples.count == labels_cap) {
                labels_cap = labels_cap ? 2 * labels_cap : 256;
                int32_t *grown = realloc(labels, labels_cap * sizeof(int32_t));
                if (grown)
                    labels = grown;
                else
                    labels_cap = 0;
            }
            if (!rel || labels_cap == 0 || string_list_push(&samples, rel) != 0)
                status = rt_set_error(RT_ERR_NOMEM, "out of memory opening Office-Home");
            else
                labels[samples.count - 1] = (int32_t)c;
            free(rel);
        }
        string_list_free(&files);
        free(class_dir);
    }
    if (status == RT_OK && samples.count == 0)
        status = rt_set_error(RT_ERR_FORMAT,
                              "Office-Home domain folder '%s' has no .jpg/.jpeg/.png images",
                              domain_dir);
    if (status == RT_OK && samples.count > INT32_MAX)
        status =
            rt_set_error(RT_ERR_FORMAT, "Office-Home domain '%s' has too many images", domain_dir);
    app_dataset *ds = NULL;
    files_impl *f = NULL;
    if (status == RT_OK) {
        f = calloc(1, sizeof(*f));
        char *root_copy = strdup(root);
        if (!f || !root_copy) {
            free(f);
            free(root_copy);
            f = NULL;
            status = rt_set_error(RT_ERR_NOMEM, "out of memory opening Office-Home");
        } else {
            f->root = root_copy;
            f->paths = samples.items;
            f->count = (int32_t)samples.count;
            samples.items = NULL;
            samples.count = 0;
        }
    }
    if (status == RT_OK) {
        char name[64];
        snprintf(name, sizeof(name), "officehome:%.50s", domain);
        status = app_dataset_new(name, f->count, (int32_t)classes.count, 3, &files_ops, f, &ds);
        if (status != RT_OK)
            files_impl_free(f);
    }
    if (status == RT_OK)
        memcpy(ds->labels, labels, (size_t)ds->count * sizeof(int32_t));
    string_list_free(&classes);
    string_list_free(&samples);
    free(labels);
    free(domain_dir);
    if (status != RT_OK)
        return status;
    *out = ds;
    return RT_OK;
}
