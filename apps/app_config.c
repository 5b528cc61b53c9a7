/*
 * Loading of run configs: YAML files with `extends` chains, command-line
 * overrides, whole-config consistency checks, and writing the resolved config.
 * Value conversion lives in app_value.c and the key table in app_schema.c.
 */
#include "apps/app_config.h"
#include "apps/app_schema.h"
#include "runtime/rt_error.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

/* Maximum number of files in an extends chain below the loaded file; deeper chains are rejected. */
#define MAX_EXTENDS_DEPTH 16
/* Problems listed in full; later ones are only counted. */
#define MAX_LISTED_ERRORS 100
/* Maximum length of a dotted key path, including the NUL. */
#define MAX_PATH_LEN 256
/*
 * Maximum list elements stored from one YAML sequence or override. It is one
 * more than any key allows, so the count check still sees an overlong list.
 */
#define MAX_SEQUENCE_ITEMS (APP_CONFIG_LIST_MAX + 1)

typedef struct error_list {
    char *text;
    size_t len;
    size_t cap;
    int count;
    bool out_of_memory;
} error_list;

/* Where a key got its current value, for messages of the consistency checks. */
typedef struct key_origin {
    const char *file; /* NULL: default or override */
    int line;
    int column;
    bool from_override;
} key_origin;

typedef struct loader {
    app_config *cfg;
    error_list errors;
    key_origin *origins;                     /* one per app_keys entry */
    char *chain_real[MAX_EXTENDS_DEPTH + 1]; /* realpath of each file being loaded */
    const char *chain_shown[MAX_EXTENDS_DEPTH + 1];
    int depth;
    char **file_names; /* every file name an origin points to, freed at the end */
    int n_file_names;
    const char *top_file; /* the file passed to app_config_load, NULL without one */
    bool top_file_unreadable;
} loader;

/* Appends one line to the error text, ignoring the listing limit. */
static void errors_append(error_list *errors, const char *fmt, va_list args)
{
    if (errors->out_of_memory)
        return;
    va_list copy;
    va_copy(copy, args);
    int needed = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (needed < 0)
        return;
    size_t want = errors->len + (size_t)needed + 2;
    if (want > errors->cap) {
        size_t cap = errors->cap ? errors->cap : 1024;
        while (cap < want)
            cap *= 2;
        char *grown = realloc(errors->text, cap);
        if (!grown) {
            errors->out_of_memory = true;
            return;
        }
        errors->text = grown;
        errors->cap = cap;
    }
    vsnprintf(errors->text + errors->len, errors->cap - errors->len, fmt, args);
    errors->len += (size_t)needed;
    errors->text[errors->len++] = '\n';
    errors->text[errors->len] = '\0';
}

static void errors_add(error_list *errors, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Counts one problem and lists it while fewer than MAX_LISTED_ERRORS are listed. */
static void errors_add(error_list *errors, const char *fmt, ...)
{
    errors->count++;
    if (errors->count > MAX_LISTED_ERRORS)
        return;
    va_list args;
    va_start(args, fmt);
    errors_append(errors, fmt, args);
    va_end(args);
}

static void errors_add_summary(error_list *errors, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void errors_add_summary(error_list *errors, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    errors_append(errors, fmt, args);
    va_end(args);
}

static size_t key_index(const app_key *key)
{
    return (size_t)(key - app_keys);
}

/* Keeps a copy of name alive until the load ends and returns it. */
static const char *remember_file_name(loader *ld, const char *name)
{
    char **grown = realloc(ld->file_names, sizeof *grown * (size_t)(ld->n_file_names + 1));
    if (!grown)
        return NULL;
    ld->file_names = grown;
    char *copy = strdup(name);
    if (!copy)
        return NULL;
    ld->file_names[ld->n_file_names++] = copy;
    return copy;
}

static const char *node_kind(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "an empty node";
    }
}

static const char *scalar_text(const yaml_node_t *node)
{
    return (const char *)node->data.scalar.value;
}

static bool scalar_quoted(const yaml_node_t *node)
{
    return node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
}

/* Empty plain scalars and "~"/"null" stand for an absent value, like an empty section. */
static bool scalar_is_null(const yaml_node_t *node)
{
    if (node->type != YAML_SCALAR_NODE || scalar_quoted(node))
        return false;
    const char *text = scalar_text(node);
    return text[0] == '\0' || strcmp(text, "~") == 0 || strcmp(text, "null") == 0;
}

/* Scalars whose text contains a NUL byte cannot be stored in C strings. */
static bool scalar_has_nul(const yaml_node_t *node)
{
    return strlen(scalar_text(node)) != node->data.scalar.length;
}

/* Applies one YAML value node to a leaf key, reporting problems at the node. */
static void apply_node(loader *ld, yaml_document_t *doc, const app_key *key, yaml_node_t *value,
                       const char *file)
{
    char msg[1024];
    int line = (int)value->start_mark.line + 1;
    int column = (int)value->start_mark.column + 1;
    bool ok = false;

    if (value->type == YAML_SCALAR_NODE) {
        if (scalar_has_nul(value)) {
            errors_add(&ld->errors, "%s:%d:%d: %s: value contains a NUL character", file, line,
                       column, key->path);
            return;
        }
        ok = app_key_set_scalar(key, ld->cfg, scalar_text(value), scalar_quoted(value), msg,
                                sizeof msg);
    } else if (value->type == YAML_SEQUENCE_NODE) {
        const char *items[MAX_SEQUENCE_ITEMS];
        bool quoted[MAX_SEQUENCE_ITEMS];
        int n = 0;
        for (yaml_node_item_t *item = value->data.sequence.items.start;
             item < value->data.sequence.items.top; item++) {
            yaml_node_t *element = yaml_document_get_node(doc, *item);
            if (!element || element->type != YAML_SCALAR_NODE) {
                errors_add(&ld->errors, "%s:%d:%d: %s: element %d: expected a scalar, got %s", file,
                           line, column, key->path, n + 1,
                           element ? node_kind(element) : "nothing");
                return;
            }
            if (scalar_has_nul(element)) {
                errors_add(&ld->errors, "%s:%d:%d: %s: element %d contains a NUL character", file,
                           line, column, key->path, n + 1);
                return;
            }
            /* one element past the maximum is enough for the count check to fail */
            if (n < MAX_SEQUENCE_ITEMS) {
                items[n] = scalar_text(element);
                quoted[n] = scalar_quoted(element);
            }
            n++;
        }
        ok = app_key_set_list(key, ld->cfg, items, quoted, n, msg, sizeof msg);
    } else {
        snprintf(msg, sizeof msg, "expected a %s value, got %s", app_key_type_name(key),
                 node_kind(value));
    }

    if (!ok) {
        errors_add(&ld->errors, "%s:%d:%d: %s: %s", file, line, column, key->path, msg);
        return;
    }
    key_origin *origin = &ld->origins[key_index(key)];
    origin->file = file;
    origin->line = line;
    origin->column = column;
    origin->from_override = false;
}

static void walk_mapping(loader *ld, yaml_document_t *doc, yaml_node_t *mapping, const char *prefix,
                         const char *file);

/* Applies the value of one mapping entry: a leaf key, a nested section, or an unknown key. */
static void apply_entry(loader *ld, yaml_document_t *doc, const char *path, yaml_node_t *key_node,
                        yaml_node_t *value, const char *file)
{
    int line = (int)key_node->start_mark.line + 1;
    int column = (int)key_node->start_mark.column + 1;
    const app_key *key = app_key_find(path);
    if (key) {
        apply_node(ld, doc, key, value, file);
        return;
    }
    if (app_section_exists(path)) {
        if (value->type == YAML_MAPPING_NODE)
            walk_mapping(ld, doc, value, path, file);
        else if (!scalar_is_null(value))
            errors_add(&ld->errors,
                       "%s:%d:%d: %s: expected a mapping of the keys of section '%s', "
                       "got %s",
                       file, line, column, path, path, node_kind(value));
        return;
    }
    const char *suggestion = app_key_suggest(path);
    if (suggestion)
        errors_add(&ld->errors, "%s:%d:%d: %s: unknown key (did you mean '%s'?)", file, line,
                   column, path, suggestion);
    else
        errors_add(&ld->errors,
                   "%s:%d:%d: %s: unknown key (run `alumcl config --help` for the "
                   "list of keys)",
                   file, line, column, path);
}

static void walk_mapping(loader *ld, yaml_document_t *doc, yaml_node_t *mapping, const char *prefix,
                         const char *file)
{
    yaml_node_pair_t *start = mapping->data.mapping.pairs.start;
    yaml_node_pair_t *top = mapping->data.mapping.pairs.top;
    for (yaml_node_pair_t *pair = start; pair < top; pair++) {
        yaml_node_t *key_node = yaml_document_get_node(doc, pair->key);
        yaml_node_t *value = yaml_document_get_node(doc, pair->value);
        if (!key_node || !value)
            continue;
        int line = (int)key_node->start_mark.line + 1;
        int column = (int)key_node->start_mark.column + 1;
        if (key_node->type != YAML_SCALAR_NODE || scalar_has_nul(key_node)) {
            errors_add(&ld->errors, "%s:%d:%d: %s%sexpected a key name, got %s", file, line, column,
                       prefix, prefix[0] ? ": " : "", node_kind(key_node));
            continue;
        }
        const char *name = scalar_text(key_node);
        if (prefix[0] == '\0' && strcmp(name, "extends") == 0)
            continue; /* handled before the other keys */

        char path[MAX_PATH_LEN];
        int written = snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", name);
        if (written < 0 || (size_t)written >= sizeof path) {
            errors_add(&ld->errors, "%s:%d:%d: unknown key '%.60s...' (too long)", file, line,
                       column, path);
            continue;
        }

        bool duplicate = false;
        for (yaml_node_pair_t *earlier = start; earlier < pair && !duplicate; earlier++) {
            yaml_node_t *earlier_key = yaml_document_get_node(doc, earlier->key);
            duplicate = earlier_key && earlier_key->type == YAML_SCALAR_NODE &&
                        strcmp(scalar_text(earlier_key), name) == 0;
        }
        if (duplicate) {
            errors_add(&ld->errors, "%s:%d:%d: %s: duplicate key (each key may appear once)", file,
                       line, column, path);
            continue;
        }
        apply_entry(ld, doc, path, key_node, value, file);
    }
}

static int load_file(loader *ld, const char *path, FILE *stream, const char *text, size_t size);

/* Joins a relative extends path to the directory of the including file. */
static char *resolve_extends_path(const char *including, const char *target)
{
    const char *slash = strrchr(including, '/');
    size_t dir_len = (target[0] == '/' || !slash) ? 0 : (size_t)(slash - including) + 1;
    char *joined = malloc(dir_len + strlen(target) + 1);
    if (!joined)
        return NULL;
    memcpy(joined, including, dir_len);
    strcpy(joined + dir_len, target);
    return joined;
}

/* Loads one base file named by an extends entry of file, checking for cycles. */
static void load_base(loader *ld, const char *file, yaml_node_t *node)
{
    int line = (int)node->start_mark.line + 1;
    int column = (int)node->start_mark.column + 1;
    if (node->type != YAML_SCALAR_NODE || scalar_has_nul(node) || scalar_text(node)[0] == '\0') {
        errors_add(&ld->errors,
                   "%s:%d:%d: extends: expected a file path or a list of file "
                   "paths, got %s",
                   file, line, column,
                   node->type == YAML_SCALAR_NODE ? "an empty value" : node_kind(node));
        return;
    }
    char *base = resolve_extends_path(file, scalar_text(node));
    if (!base) {
        ld->errors.out_of_memory = true;
        return;
    }

    struct stat info;
    char *real = NULL;
    if (stat(base, &info) != 0) {
        errors_add(&ld->errors,
                   "%s:%d:%d: extends: file '%s' not found (%s; paths are relative "
                   "to the including file)",
                   file, line, column, base, strerror(errno));
    } else if (!S_ISREG(info.st_mode)) {
        errors_add(&ld->errors, "%s:%d:%d: extends: '%s' is not a regular file", file, line, column,
                   base);
    } else if (!(real = realpath(base, NULL))) {
        errors_add(&ld->errors, "%s:%d:%d: extends: cannot resolve '%s': %s", file, line, column,
                   base, strerror(errno));
    } else {
        int cycle_start = -1;
        for (int i = 0; i <= ld->depth && cycle_start < 0; i++) {
            if (ld->chain_real[i] && strcmp(ld->chain_real[i], real) == 0)
                cycle_start = i;
        }
        if (cycle_start >= 0) {
            char chain[2048] = "";
            for (int i = cycle_start; i <= ld->depth; i++) {
                size_t used = strlen(chain);
                snprintf(chain + used, sizeof chain - used, "%s -> ", ld->chain_shown[i]);
            }
            size_t used = strlen(chain);
            snprintf(chain + used, sizeof chain - used, "%s", base);
            errors_add(&ld->errors, "%s:%d:%d: extends: cycle %s", file, line, column, chain);
        } else if (ld->depth + 1 > MAX_EXTENDS_DEPTH) {
            errors_add(&ld->errors, "%s:%d:%d: extends: chain deeper than %d files", file, line,
                       column, MAX_EXTENDS_DEPTH);
        } else {
            const char *shown = remember_file_name(ld, base);
            if (!shown) {
                ld->errors.out_of_memory = true;
            } else {
                ld->depth++;
                ld->chain_real[ld->depth] = real;
                ld->chain_shown[ld->depth] = shown;
                real = NULL;
                load_file(ld, shown, NULL, NULL, 0);
                free(ld->chain_real[ld->depth]);
                ld->chain_real[ld->depth] = NULL;
                ld->depth--;
            }
        }
    }
    free(real);
    free(base);
}

/* Applies the extends entries of a document root before its own keys. */
static void load_bases(loader *ld, yaml_document_t *doc, yaml_node_t *root, const char *file)
{
    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
         pair < root->data.mapping.pairs.top; pair++) {
        yaml_node_t *key_node = yaml_document_get_node(doc, pair->key);
        yaml_node_t *value = yaml_document_get_node(doc, pair->value);
        if (!key_node || !value || key_node->type != YAML_SCALAR_NODE ||
            strcmp(scalar_text(key_node), "extends") != 0)
            continue;
        if (value->type != YAML_SEQUENCE_NODE) {
            load_base(ld, file, value);
            continue;
        }
        for (yaml_node_item_t *item = value->data.sequence.items.start;
             item < value->data.sequence.items.top; item++) {
            yaml_node_t *element = yaml_document_get_node(doc, *item);
            if (element)
                load_base(ld, file, element);
        }
    }
}

static void report_parser_error(loader *ld, const yaml_parser_t *parser, const char *file)
{
    const char *problem = parser->problem ? parser->problem : "unknown problem";
    if (parser->error == YAML_MEMORY_ERROR) {
        ld->errors.out_of_memory = true;
        return;
    }
    if (parser->error == YAML_READER_ERROR) {
        errors_add(&ld->errors, "%s: malformed YAML: %s at byte %zu", file, problem,
                   parser->problem_offset);
        return;
    }
    if (parser->context)
        errors_add(&ld->errors, "%s:%zu:%zu: malformed YAML: %s (%s at line %zu, column %zu)", file,
                   parser->problem_mark.line + 1, parser->problem_mark.column + 1, problem,
                   parser->context, parser->context_mark.line + 1, parser->context_mark.column + 1);
    else
        errors_add(&ld->errors, "%s:%zu:%zu: malformed YAML: %s", file,
                   parser->problem_mark.line + 1, parser->problem_mark.column + 1, problem);
}

/*
 * Parses one YAML file (from stream when not NULL, else from text/size, else
 * by opening path) and applies its extends chain and keys. Returns RT_OK or
 * RT_ERR_IO when the file cannot be opened (also listed in ld->errors).
 */
static int load_file(loader *ld, const char *path, FILE *stream, const char *text, size_t size)
{
    FILE *opened = NULL;
    if (!stream && !text) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            errors_add(&ld->errors, "%s: is a directory, expected a YAML config file", path);
            return RT_ERR_IO;
        }
        opened = fopen(path, "rb");
        if (!opened) {
            errors_add(&ld->errors, "%s: cannot open config file: %s", path, strerror(errno));
            return RT_ERR_IO;
        }
        stream = opened;
    }

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        ld->errors.out_of_memory = true;
        if (opened)
            fclose(opened);
        return RT_ERR_NOMEM;
    }
    if (stream)
        yaml_parser_set_input_file(&parser, stream);
    else
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, size);

    yaml_document_t doc;
    if (!yaml_parser_load(&parser, &doc)) {
        report_parser_error(ld, &parser, path);
    } else {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root && root->type == YAML_MAPPING_NODE) {
            load_bases(ld, &doc, root, path);
            walk_mapping(ld, &doc, root, "", path);
        } else if (root && !scalar_is_null(root)) {
            errors_add(&ld->errors,
                       "%s:%zu:%zu: expected a mapping of sections (run:, data:, "
                       "...) at the top level, got %s",
                       path, root->start_mark.line + 1, root->start_mark.column + 1,
                       node_kind(root));
        }

        /* a second document would be silently ignored, so reject it */
        yaml_document_t next;
        if (root && yaml_parser_load(&parser, &next)) {
            yaml_node_t *next_root = yaml_document_get_root_node(&next);
            if (next_root)
                errors_add(&ld->errors,
                           "%s:%zu:%zu: expected one YAML document, found a second "
                           "one (remove the '---' line)",
                           path, next_root->start_mark.line + 1, next_root->start_mark.column + 1);
            yaml_document_delete(&next);
        } else if (root) {
            report_parser_error(ld, &parser, path);
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    if (opened)
        fclose(opened);
    return RT_OK;
}

/* Removes leading and trailing spaces of piece in place and strips one pair of quotes. */
static char *trim_element(char *piece, bool *quoted)
{
    while (*piece == ' ')
        piece++;
    char *end = piece + strlen(piece);
    while (end > piece && end[-1] == ' ')
        *--end = '\0';
    *quoted = end - piece >= 2 && (piece[0] == '"' || piece[0] == '\'') && end[-1] == piece[0];
    if (*quoted) {
        end[-1] = '\0';
        piece++;
    }
    return piece;
}

/*
 * Splits an override value into list elements, "[a, b]" or "a,b". Commas
 * inside single or double quotes do not split, and quotes mark strings.
 * Returns the number of elements, which may exceed max_items.
 */
static int split_list(char *text, const char **items, bool *quoted, int max_items)
{
    size_t len = strlen(text);
    if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
        text[len - 1] = '\0';
        text++;
    }
    if (text[strspn(text, " ")] == '\0')
        return 0;

    int n = 0;
    char quote = 0;
    char *piece = text;
    for (char *c = text;; c++) {
        if (*c != '\0' && (quote || *c != ',')) {
            if (quote && *c == quote)
                quote = 0;
            else if (!quote && (*c == '"' || *c == '\''))
                quote = *c;
            continue;
        }
        bool at_end = *c == '\0';
        *c = '\0';
        if (n < max_items)
            items[n] = trim_element(piece, &quoted[n]);
        n++;
        if (at_end)
            break;
        piece = c + 1;
    }
    return n;
}

/*
 * Applies a value written as text (an override, or a default from the table):
 * lists as "[a, b]" or "a,b", scalars as they are, quotes marking strings.
 */
static bool apply_text(const app_key *key, app_config *cfg, const char *value, char *msg,
                       size_t msg_size)
{
    char *copy = strdup(value);
    if (!copy) {
        snprintf(msg, msg_size, "out of memory");
        return false;
    }
    bool ok;
    bool is_list = key->type == APP_KEY_INT_LIST || key->type == APP_KEY_FLOAT_LIST ||
                   key->type == APP_KEY_STRING_LIST;
    if (is_list) {
        const char *items[MAX_SEQUENCE_ITEMS];
        bool quoted[MAX_SEQUENCE_ITEMS];
        int n = split_list(copy, items, quoted, MAX_SEQUENCE_ITEMS);
        ok = app_key_set_list(key, cfg, items, quoted, n, msg, msg_size);
    } else {
        size_t len = strlen(copy);
        bool quoted = len >= 2 && (copy[0] == '"' || copy[0] == '\'') && copy[len - 1] == copy[0];
        if (quoted)
            copy[len - 1] = '\0';
        ok = app_key_set_scalar(key, cfg, quoted ? copy + 1 : copy, quoted, msg, msg_size);
    }
    free(copy);
    return ok;
}

static void apply_override(loader *ld, const char *override)
{
    if (!override) {
        errors_add(&ld->errors, "override: NULL string in the override list");
        return;
    }
    const char *equals = strchr(override, '=');
    size_t path_len = equals ? (size_t)(equals - override) : 0;
    if (!equals || path_len == 0 || path_len >= MAX_PATH_LEN) {
        errors_add(&ld->errors,
                   "override '%.100s': expected section.key=value (for example "
                   "optim.lr=0.01)",
                   override);
        return;
    }
    char path[MAX_PATH_LEN];
    memcpy(path, override, path_len);
    path[path_len] = '\0';

    const app_key *key = app_key_find(path);
    if (!key) {
        const char *suggestion = app_section_exists(path) ? NULL : app_key_suggest(path);
        if (app_section_exists(path))
            errors_add(&ld->errors,
                       "override %s: '%s' is a section; set one of its keys "
                       "(%s.KEY=VALUE)",
                       path, path, path);
        else if (suggestion)
            errors_add(&ld->errors, "override %s: unknown key (did you mean '%s'?)", path,
                       suggestion);
        else
            errors_add(&ld->errors,
                       "override %s: unknown key (run `alumcl config --help` for "
                       "the list of keys)",
                       path);
        return;
    }
    char msg[1024];
    if (!apply_text(key, ld->cfg, equals + 1, msg, sizeof msg)) {
        errors_add(&ld->errors, "override %s: %s", path, msg);
        return;
    }
    key_origin *origin = &ld->origins[key_index(key)];
    origin->file = NULL;
    origin->from_override = true;
}

void app_config_defaults(app_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < app_key_count; i++) {
        char msg[256];
        /* test_config checks that every default is valid, so this call does not fail */
        apply_text(&app_keys[i], cfg, app_keys[i].default_text, msg, sizeof msg);
    }
}

/* Reports a failed consistency check at the place where key got its value. */
static void report_at_key(loader *ld, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report_at_key(loader *ld, const char *path, const char *fmt, ...)
{
    char msg[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(msg, sizeof msg, fmt, args);
    va_end(args);
    const key_origin *origin = &ld->origins[key_index(app_key_find(path))];
    if (origin->file)
        errors_add(&ld->errors, "%s:%d:%d: %s: %s", origin->file, origin->line, origin->column,
                   path, msg);
    else if (origin->from_override)
        errors_add(&ld->errors, "override %s: %s", path, msg);
    else if (ld->top_file)
        errors_add(&ld->errors, "%s: %s: %s", ld->top_file, path, msg);
    else
        errors_add(&ld->errors, "%s: %s", path, msg);
}

static bool label_set_allowed(app_dataset_kind dataset, const char *label_set)
{
    static const char *const cifar10n_sets[] = {"clean",   "aggre",   "worse",   "worst",
                                                "random1", "random2", "random3", NULL};
    if (label_set[0] == '\0')
        return true;
    if (dataset == APP_DATASET_CIFAR10N) {
        for (int i = 0; cifar10n_sets[i]; i++) {
            if (strcmp(cifar10n_sets[i], label_set) == 0)
                return true;
        }
        return false;
    }
    if (dataset == APP_DATASET_CIFAR100N)
        return strcmp(label_set, "clean") == 0 || strcmp(label_set, "noisy") == 0;
    if (dataset == APP_DATASET_RAFDB)
        return strcmp(label_set, "noisy") == 0;
    return false;
}

/* Checks rules that involve more than one key. */
static void check_consistency(loader *ld)
{
    const app_config *cfg = ld->cfg;
    const app_data_config *data = &cfg->data;

    if (data->sampler == APP_SAMPLER_TYPE_PK) {
        long long product = (long long)data->pk_classes * data->pk_samples;
        if (product != data->batch_size)
            report_at_key(ld, "data.batch_size",
                          "the pk sampler needs batch_size = pk_classes x pk_samples (%d x %d = "
                          "%lld), got %d",
                          data->pk_classes, data->pk_samples, product, data->batch_size);
        if (data->pk_classes > data->num_classes)
            report_at_key(ld, "data.pk_classes", "pk_classes (%d) is larger than num_classes (%d)",
                          data->pk_classes, data->num_classes);
    }
    if (data->noise.type == APP_NOISE_NONE && data->noise.rate > 0.0)
        report_at_key(ld, "data.noise.rate",
                      "rate %g has no effect with type none (set data.noise.type to symmetric or "
                      "pairflip, or the rate to 0)",
                      data->noise.rate);
    if (data->augment.random_crop && data->augment.random_resized_crop)
        report_at_key(ld, "data.augment.random_resized_crop",
                      "random_crop and random_resized_crop are both true (set one to false)");
    if (!label_set_allowed(data->dataset, data->label_set))
        report_at_key(ld, "data.label_set", "label set '%s' does not exist for dataset %s",
                      data->label_set, app_config_enum_name("data.dataset", (int)data->dataset));

    bool multi_domain =
        data->dataset == APP_DATASET_PACS || data->dataset == APP_DATASET_OFFICEHOME;
    if (multi_domain && data->target_domain[0] == '\0')
        report_at_key(ld, "data.target_domain",
                      "missing (dataset %s needs the held-out test domain)",
                      app_config_enum_name("data.dataset", (int)data->dataset));
    for (int i = 0; i < data->n_domains; i++) {
        if (strcmp(data->domains[i], data->target_domain) == 0)
            report_at_key(ld, "data.domains",
                          "target domain '%s' is also a training domain (remove it from "
                          "data.domains)",
                          data->target_domain);
    }

    const app_schedule_config *schedule = &cfg->schedule;
    for (int i = 1; i < schedule->n_milestones; i++) {
        if (schedule->milestones[i] <= schedule->milestones[i - 1]) {
            report_at_key(ld, "schedule.milestones",
                          "milestones must be strictly increasing, got %d after %d",
                          schedule->milestones[i], schedule->milestones[i - 1]);
            break;
        }
    }
    if (schedule->warmup_epochs > cfg->run.epochs)
        report_at_key(ld, "schedule.warmup_epochs",
                      "warmup_epochs (%d) is larger than run.epochs (%d)", schedule->warmup_epochs,
                      cfg->run.epochs);
}

/* Fills run.name from the config file name and expands "<name>" in run.output_dir. */
static void resolve_names(loader *ld, const char *path)
{
    app_run_config *run = &ld->cfg->run;
    if (run->name[0] == '\0') {
        const char *base = path ? strrchr(path, '/') : NULL;
        base = base ? base + 1 : path;
        if (!base || base[0] == '\0')
            base = "default";
        const char *extension = strrchr(base, '.');
        size_t len = extension && extension != base ? (size_t)(extension - base) : strlen(base);
        if (len >= sizeof run->name) {
            /* cut at a UTF-8 character boundary so that the name stays valid text */
            len = sizeof run->name - 1;
            while (len > 0 && ((unsigned char)base[len] & 0xc0) == 0x80)
                len--;
        }
        memcpy(run->name, base, len);
        run->name[len] = '\0';
    }

    char expanded[APP_CONFIG_PATH_MAX];
    size_t used = 0;
    bool too_long = false;
    for (const char *c = run->output_dir; *c && !too_long;) {
        const char *piece = c;
        size_t piece_len = 1;
        if (strncmp(c, "<name>", 6) == 0) {
            piece = run->name;
            piece_len = strlen(run->name);
            c += 6;
        } else {
            c++;
        }
        if (used + piece_len >= sizeof expanded) {
            too_long = true;
            break;
        }
        memcpy(expanded + used, piece, piece_len);
        used += piece_len;
    }
    if (too_long) {
        report_at_key(ld, "run.output_dir", "is longer than %zu bytes after replacing <name>",
                      sizeof expanded - 1);
        return;
    }
    expanded[used] = '\0';
    memcpy(run->output_dir, expanded, used + 1);
}

static int load_common(app_config *cfg, const char *path, FILE *stream, const char *text,
                       size_t size, const char *const *overrides, int n_overrides,
                       char **errors_out)
{
    if (errors_out)
        *errors_out = NULL;
    app_config_defaults(cfg);

    loader ld = {.cfg = cfg};
    ld.origins = calloc(app_key_count, sizeof *ld.origins);
    if (!ld.origins)
        return rt_set_error(RT_ERR_NOMEM, "app_config_load: out of memory");

    if (path) {
        const char *shown = remember_file_name(&ld, path);
        if (!shown) {
            ld.errors.out_of_memory = true;
        } else {
            /* a file that cannot be resolved yet (in-memory text) still starts the chain */
            ld.chain_real[0] = realpath(path, NULL);
            ld.chain_shown[0] = shown;
            ld.top_file = shown;
            if (load_file(&ld, shown, stream, text, size) == RT_ERR_IO)
                ld.top_file_unreadable = true;
        }
    }
    if (n_overrides > 0 && !overrides)
        errors_add(&ld.errors, "override: %d overrides requested but the list is NULL",
                   n_overrides);
    for (int i = 0; overrides && i < n_overrides; i++)
        apply_override(&ld, overrides[i]);
    resolve_names(&ld, path);
    check_consistency(&ld);

    int status = RT_OK;
    if (ld.errors.out_of_memory) {
        status = rt_set_error(RT_ERR_NOMEM, "app_config_load: out of memory while loading %s",
                              path ? path : "the config");
    } else if (ld.errors.count > 0) {
        if (ld.errors.count > MAX_LISTED_ERRORS)
            errors_add_summary(&ld.errors, "... and %d more problems",
                               ld.errors.count - MAX_LISTED_ERRORS);
        status = ld.top_file_unreadable ? RT_ERR_IO : RT_ERR_FORMAT;
        ld.errors.text[ld.errors.len - 1] = '\0'; /* drop the final newline for rt_last_error */
        rt_set_error(status, "%s", ld.errors.text);
        ld.errors.text[ld.errors.len - 1] = '\n';
        if (errors_out) {
            *errors_out = ld.errors.text;
            ld.errors.text = NULL;
        }
    }

    free(ld.errors.text);
    free(ld.chain_real[0]);
    for (int i = 0; i < ld.n_file_names; i++)
        free(ld.file_names[i]);
    free(ld.file_names);
    free(ld.origins);
    return status;
}

int app_config_load(app_config *cfg, const char *path, const char *const *overrides,
                    int n_overrides, char **errors_out)
{
    return load_common(cfg, path, NULL, NULL, 0, overrides, n_overrides, errors_out);
}

int app_config_load_buffer(app_config *cfg, const char *name, const char *text, size_t size,
                           const char *const *overrides, int n_overrides, char **errors_out)
{
    if (!name)
        name = "<buffer>";
    return load_common(cfg, name, NULL, text ? text : "", text ? size : 0, overrides, n_overrides,
                       errors_out);
}

/* Splits a dotted section path into at most max components; returns the count. */
static int split_components(const char *section, size_t len, const char **parts, size_t *lens,
                            int max)
{
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len && n < max; i++) {
        if (i == len || section[i] == '.') {
            parts[n] = section + start;
            lens[n] = i - start;
            n++;
            start = i + 1;
        }
    }
    return n;
}

int app_config_write_yaml(const app_config *cfg, FILE *out)
{
    enum { MAX_DEPTH = 8 };
    static _Thread_local char value[8192];
    const char *open_parts[MAX_DEPTH];
    size_t open_lens[MAX_DEPTH];
    int n_open = 0;

    fputs("# alumcl resolved config: every key, after extends and overrides\n", out);
    for (size_t i = 0; i < app_key_count; i++) {
        const app_key *key = &app_keys[i];
        const char *leaf = strrchr(key->path, '.') + 1;
        const char *parts[MAX_DEPTH];
        size_t lens[MAX_DEPTH];
        int n = split_components(key->path, (size_t)(leaf - 1 - key->path), parts, lens, MAX_DEPTH);

        /* open the sections that differ from those of the previous key */
        int common = 0;
        while (common < n && common < n_open && lens[common] == open_lens[common] &&
               memcmp(parts[common], open_parts[common], lens[common]) == 0)
            common++;
        for (int level = common; level < n; level++)
            fprintf(out, "%*s%.*s:\n", 2 * level, "", (int)lens[level], parts[level]);
        for (int level = 0; level < n; level++) {
            open_parts[level] = parts[level];
            open_lens[level] = lens[level];
        }
        n_open = n;

        app_key_format_value(key, cfg, value, sizeof value);
        fprintf(out, "%*s%s: %s\n", 2 * n, "", leaf, value);
    }
    if (ferror(out))
        return rt_set_error(RT_ERR_IO, "writing the resolved config failed: %s", strerror(errno));
    return RT_OK;
}

int app_config_compare(const app_config *a, const app_config *b, char *diff, size_t diff_size)
{
    int count = 0;
    if (diff && diff_size > 0)
        diff[0] = '\0';
    for (size_t i = 0; i < app_key_count; i++) {
        if (app_key_equal(&app_keys[i], a, b))
            continue;
        count++;
        if (diff && diff_size > 0) {
            size_t used = strlen(diff);
            snprintf(diff + used, diff_size - used, "%s%s", count > 1 ? ", " : "",
                     app_keys[i].path);
        }
    }
    return count;
}

const char *app_config_enum_name(const char *path, int value)
{
    const app_key *key = app_key_find(path);
    if (!key || key->type != APP_KEY_ENUM || value < 0)
        return "?";
    for (int i = 0; key->choices[i]; i++) {
        if (i == value)
            return key->choices[i];
    }
    return "?";
}

unsigned app_config_lc_mask(const app_config *cfg)
{
    unsigned mask = 0;
    for (int i = 0; i < cfg->method.n_lc_points; i++) {
        const char *point = cfg->method.lc_points[i];
        if (point[0] == 'P' && point[1] >= '0' && point[1] <= '5' && point[2] == '\0')
            mask |= 1u << (point[1] - '0');
    }
    return mask;
}
