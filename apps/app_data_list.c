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
    char *list_path;       /* file that names the images, NULL for a folder scan */
    int32_t *line_numbers; /* [count] 1-based line of each image in list_path, or NULL */
    char **class_names;    /* [num_class_names] Office-Home class folders, or NULL */
    int32_t num_class_names;
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
    free(f->list_path);
    free(f->line_numbers);
    for (int32_t i = 0; i < f->num_class_names; i++)
        free(f->class_names[i]);
    free(f->class_names);
    free(f);
}

static void files_destroy(app_dataset *ds)
{
    files_impl_free(ds->impl);
}

static const app_dataset_ops files_ops = {files_load, files_describe, files_destroy};

/* Allocates room for capacity paths and, when list_path is not NULL, their line numbers. */
static files_impl *files_impl_new(const char *root, int32_t capacity, const char *list_path)
{
    files_impl *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    size_t n = capacity > 0 ? (size_t)capacity : 1;
    f->root = strdup(root);
    f->paths = calloc(n, sizeof(char *));
    if (list_path) {
        f->list_path = strdup(list_path);
        f->line_numbers = calloc(n, sizeof(int32_t));
    }
    if (!f->root || !f->paths || (list_path && (!f->list_path || !f->line_numbers))) {
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
    files_impl *f = files_impl_new(root, lines.count, list_path);
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
        if (status == RT_OK) {
            f->line_numbers[i] = lines.numbers[i];
            f->count++;
        }
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

    files_impl *f = status == RT_OK ? files_impl_new(root, count, list_path) : NULL;
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
        f->line_numbers[j] = lines.numbers[i];
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

/* Sorts list byte-wise and drops repeated entries. */
static void string_list_sort_unique(string_list *list)
{
    if (list->count > 1)
        qsort(list->items, list->count, sizeof(char *), compare_strings);
    size_t kept = 0;
    for (size_t i = 0; i < list->count; i++) {
        if (kept > 0 && strcmp(list->items[kept - 1], list->items[i]) == 0)
            free(list->items[i]);
        else
            list->items[kept++] = list->items[i];
    }
    list->count = kept;
}

/* Collects the class folder names of every listed domain into union_out, sorted and unique. */
static int officehome_class_union(const char *root, const char *const *domains, int n_domains,
                                  string_list *union_out)
{
    int status = RT_OK;
    for (int d = 0; d < n_domains && status == RT_OK; d++) {
        char *domain_dir = app_path_join(root, domains[d]);
        string_list found = {0};
        status = domain_dir ? list_folder(domain_dir, 1, &found)
                            : rt_set_error(RT_ERR_NOMEM, "out of memory opening Office-Home");
        for (size_t c = 0; c < found.count && status == RT_OK; c++)
            if (string_list_push(union_out, found.items[c]) != 0)
                status = rt_set_error(RT_ERR_NOMEM, "out of memory opening Office-Home");
        string_list_free(&found);
        free(domain_dir);
    }
    if (status == RT_OK)
        string_list_sort_unique(union_out);
    return status;
}

/* Returns the index of name in the sorted list, or -1. */
static int32_t string_list_find(const string_list *list, const char *name)
{
    const char *key = name;
    char **hit = list->count
                     ? bsearch(&key, list->items, list->count, sizeof(char *), compare_strings)
                     : NULL;
    return hit ? (int32_t)(hit - list->items) : -1;
}

/* Lists the images of every class folder of domain_dir, labelled by their index in classes. */
static int officehome_collect(const char *domain, const char *domain_dir,
                              const string_list *classes, string_list *samples, int32_t **labels)
{
    string_list folders = {0};
    size_t labels_cap = 0;
    int status = list_folder(domain_dir, 1, &folders);
    if (status == RT_OK && folders.count == 0)
        status = rt_set_error(RT_ERR_FORMAT,
                              "Office-Home domain folder '%s' has no class folders; expected "
                              "<domain>/<ClassName>/<file>.jpg",
                              domain_dir);
    for (size_t c = 0; c < folders.count && status == RT_OK; c++) {
        int32_t label = string_list_find(classes, folders.items[c]);
        if (label < 0) {
            status = rt_set_error(RT_ERR_FORMAT,
                                  "Office-Home class folder '%s' of domain '%s' is in none of "
                                  "the domains that define the class list; add its domain to "
                                  "the list or remove the folder",
                                  folders.items[c], domain);
            break;
        }
        char *class_dir = app_path_join(domain_dir, folders.items[c]);
        string_list files = {0};
        status = class_dir ? list_folder(class_dir, 0, &files)
                           : rt_set_error(RT_ERR_NOMEM, "out of memory opening Office-Home");
        for (size_t i = 0; i < files.count && status == RT_OK; i++) {
            size_t n = strlen(domain) + strlen(folders.items[c]) + strlen(files.items[i]) + 3;
            char *rel = malloc(n);
            if (rel)
                snprintf(rel, n, "%s/%s/%s", domain, folders.items[c], files.items[i]);
            if (samples->count == labels_cap) {
                labels_cap = labels_cap ? 2 * labels_cap : 256;
                int32_t *grown = realloc(*labels, labels_cap * sizeof(int32_t));
                if (grown)
                    *labels = grown;
                else
                    labels_cap = 0;
            }
            if (!rel || labels_cap == 0 || string_list_push(samples, rel) != 0)
                status = rt_set_error(RT_ERR_NOMEM, "out of memory opening Office-Home");
            else
                (*labels)[samples->count - 1] = label;
            free(rel);
        }
        string_list_free(&files);
        free(class_dir);
    }
    string_list_free(&folders);
    return status;
}

int app_officehome_open_domains(const char *root, const char *domain, const char *const *domains,
                                int n_domains, app_dataset **out)
{
    *out = NULL;
    if (n_domains < 1)
        return rt_set_error(RT_ERR_INVALID,
                            "Office-Home needs at least one domain for the class list, got %d",
                            n_domains);
    char *domain_dir = app_path_join(root, domain);
    if (!domain_dir)
        return rt_set_error(RT_ERR_NOMEM, "out of memory opening Office-Home");
    string_list classes = {0}, samples = {0};
    int32_t *labels = NULL;
    int status = officehome_class_union(root, domains, n_domains, &classes);
    if (status == RT_OK && classes.count < 2)
        status = rt_set_error(RT_ERR_FORMAT,
                              "Office-Home domains under '%s' have %zu class folders; expected "
                              "<domain>/<ClassName>/<file>.jpg with at least 2 classes",
                              root, classes.count);
    if (status == RT_OK && classes.count > INT32_MAX)
        status = rt_set_error(RT_ERR_FORMAT, "Office-Home root '%s' has too many classes", root);
    if (status == RT_OK)
        status = officehome_collect(domain, domain_dir, &classes, &samples, &labels);
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
            f->class_names = classes.items;
            f->num_class_names = (int32_t)classes.count;
            samples.items = NULL;
            samples.count = 0;
            classes.items = NULL;
            classes.count = 0;
        }
    }
    if (status == RT_OK) {
        char name[64];
        snprintf(name, sizeof(name), "officehome:%.50s", domain);
        status = app_dataset_new(name, f->count, f->num_class_names, 3, &files_ops, f, &ds);
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

int app_officehome_open(const char *root, const char *domain, app_dataset **out)
{
    return app_officehome_open_domains(root, domain, &domain, 1, out);
}

/* Returns the Office-Home reader state of ds, or NULL when ds is not an Office-Home domain. */
static const files_impl *officehome_impl(const app_dataset *ds)
{
    if (!ds || ds->ops != &files_ops)
        return NULL;
    const files_impl *f = ds->impl;
    return f->class_names ? f : NULL;
}

/* Returns the first class name of a (sorted) that b (sorted) lacks, or NULL. */
static const char *first_class_missing(const files_impl *a, const files_impl *b)
{
    string_list b_names = {b->class_names, (size_t)b->num_class_names, 0};
    for (int32_t i = 0; i < a->num_class_names; i++)
        if (string_list_find(&b_names, a->class_names[i]) < 0)
            return a->class_names[i];
    return NULL;
}

int app_officehome_check_classes(const app_dataset *a, const app_dataset *b)
{
    const files_impl *fa = officehome_impl(a), *fb = officehome_impl(b);
    if (!fa || !fb)
        return rt_set_error(RT_ERR_INVALID,
                            "app_officehome_check_classes needs two Office-Home datasets, got "
                            "%s and %s",
                            a ? a->name : "(null)", b ? b->name : "(null)");
    const char *missing = first_class_missing(fa, fb);
    if (missing)
        return rt_set_error(RT_ERR_FORMAT,
                            "Office-Home class folder '%s' is in %s but missing from %s, so "
                            "their labels differ; add the folder or open both with "
                            "app_officehome_open_domains",
                            missing, a->name, b->name);
    const char *extra = first_class_missing(fb, fa);
    if (extra)
        return rt_set_error(RT_ERR_FORMAT,
                            "Office-Home class folder '%s' is in %s but missing from %s, so "
                            "their labels differ; add the folder or open both with "
                            "app_officehome_open_domains",
                            extra, b->name, a->name);
    return RT_OK;
}

/* ---- up-front checks ---- */

/* Missing files named in the error of app_dataset_check_files; the rest are only counted. */
#define CHECK_FILES_REPORTED 5

int app_dataset_check_files(const app_dataset *ds)
{
    if (ds->ops != &files_ops)
        return RT_OK;
    const files_impl *f = ds->impl;
    char report[2048] = "";
    size_t used = 0;
    int32_t missing = 0;
    for (int32_t i = 0; i < f->count; i++) {
        char *path = app_path_join(f->root, f->paths[i]);
        if (!path)
            return rt_set_error(RT_ERR_NOMEM, "out of memory checking the files of %s", ds->name);
        struct stat st;
        int found = stat(path, &st) == 0;
        int stat_errno = errno;
        if ((!found || !S_ISREG(st.st_mode)) && ++missing <= CHECK_FILES_REPORTED &&
            used + 1 < sizeof(report)) {
            const char *problem = found                  ? "not a regular file"
                                  : stat_errno == ENOENT ? "not found"
                                                         : strerror(stat_errno);
            int n;
            if (f->line_numbers)
                n = snprintf(report + used, sizeof(report) - used, "%sline %d: %s (%s)",
                             missing > 1 ? "; " : "", f->line_numbers[i], path, problem);
            else
                n = snprintf(report + used, sizeof(report) - used, "%s%s (%s)",
                             missing > 1 ? "; " : "", path, problem);
            used += n > 0 ? (size_t)n : 0;
            if (used >= sizeof(report))
                used = sizeof(report) - 1;
        }
        free(path);
    }
    if (missing == 0)
        return RT_OK;
    return rt_set_error(RT_ERR_NOT_FOUND,
                        "%d of %d images of dataset %s%s%s are missing%s: %s; check the dataset "
                        "root and the list",
                        missing, f->count, ds->name, f->list_path ? " listed in " : "",
                        f->list_path ? f->list_path : "",
                        missing > CHECK_FILES_REPORTED ? " (the first 5 follow)" : "", report);
}
