/*
 * The config key table shared by the loader, the YAML writer and the help
 * printer (internal to apps/). Each entry names one leaf key by its dotted
 * path and locates its value inside app_config by byte offset.
 */
#ifndef ALUMCL_APP_SCHEMA_H
#define ALUMCL_APP_SCHEMA_H

#include "apps/app_config.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum app_key_type {
    APP_KEY_INT,    /* int */
    APP_KEY_INT64,  /* long long */
    APP_KEY_FLOAT,  /* double */
    APP_KEY_BOOL,   /* bool */
    APP_KEY_STRING, /* char[capacity]; choices, when set, lists the allowed values */
    APP_KEY_ENUM,   /* an enum stored as int; choices[i] is the name of value i */
    APP_KEY_INT_LIST,
    APP_KEY_FLOAT_LIST,
    APP_KEY_STRING_LIST, /* char[capacity][APP_CONFIG_NAME_MAX] */
} app_key_type;

enum {
    APP_RANGE_MIN = 1u << 0,      /* value >= min */
    APP_RANGE_MAX = 1u << 1,      /* value <= max */
    APP_RANGE_MIN_OPEN = 1u << 2, /* with APP_RANGE_MIN: value > min */
    APP_RANGE_MAX_OPEN = 1u << 3, /* with APP_RANGE_MAX: value < max */
};

/* Bounds of a number, or of each element of a number list. */
typedef struct app_range {
    unsigned flags;
    double min;
    double max;
} app_range;

typedef struct app_key {
    const char *path; /* "optim.lr" */
    app_key_type type;
    size_t offset;            /* of the value inside app_config */
    size_t count_offset;      /* of the int element count, lists only */
    size_t capacity;          /* bytes of a string, elements of a list array */
    int min_count;            /* lists: minimum number of elements */
    int max_count;            /* lists: maximum number of elements, <= capacity */
    const char *default_text; /* the default in YAML syntax ("0.1", "[P0, P1]") */
    app_range range;
    const char *const *choices; /* NULL-terminated; enums and constrained strings */
    const char *description;
} app_key;

extern const app_key app_keys[];
extern const size_t app_key_count;

/* Returns the key with this dotted path, or NULL. */
const app_key *app_key_find(const char *path);

/* Returns true when path names a section ("data", "data.noise") of the table. */
bool app_section_exists(const char *path);

/* Returns the key path closest to an unknown path, or NULL when none is close. */
const char *app_key_suggest(const char *path);

/* Returns the closest of choices to text, or NULL when none is close. */
const char *app_choice_suggest(const char *const *choices, const char *text);

/* Returns the type name shown in help and errors ("float", "int list"). */
const char *app_key_type_name(const app_key *key);

/* Writes the allowed range or values of key into buf ("" when unconstrained). */
void app_key_describe_range(const app_key *key, char *buf, size_t size);

/*
 * Converts one scalar and stores it in cfg. quoted is true when the YAML
 * scalar was quoted, which makes it a string, never a number or bool.
 * Returns true, or false with the reason in msg and cfg unchanged.
 */
bool app_key_set_scalar(const app_key *key, app_config *cfg, const char *text, bool quoted,
                        char *msg, size_t msg_size);

/* Converts n list elements and stores them in cfg, like app_key_set_scalar. */
bool app_key_set_list(const app_key *key, app_config *cfg, const char *const *items,
                      const bool *quoted, int n, char *msg, size_t msg_size);

/* Writes the value of key in cfg as YAML (flow style for lists) into buf. */
void app_key_format_value(const app_key *key, const app_config *cfg, char *buf, size_t size);

/* Returns true when key has the same value in a and b. */
bool app_key_equal(const app_key *key, const app_config *a, const app_config *b);

#endif
