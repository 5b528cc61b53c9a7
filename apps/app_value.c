/*
 * Conversion of YAML scalars to typed config values and back, driven by the
 * key table. Every converter validates fully before it writes, so a rejected
 * value leaves the config unchanged.
 */
#include "apps/app_schema.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_message(char *msg, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_message(char *msg, size_t size, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(msg, size, fmt, args);
    va_end(args);
}

/* Copies text for an error message: at most 60 bytes, control characters as '?'. */
static void quote_for_message(const char *text, char *buf, size_t size)
{
    size_t n = 0;
    size_t limit = size > 64 ? 60 : size - 4;
    for (; text[n] && n < limit; n++) {
        unsigned char c = (unsigned char)text[n];
        buf[n] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (text[n]) {
        memcpy(buf + n, "...", 4);
        return;
    }
    buf[n] = '\0';
}

static void *field_at(const app_key *key, app_config *cfg)
{
    return (char *)cfg + key->offset;
}

static const void *field_at_const(const app_key *key, const app_config *cfg)
{
    return (const char *)cfg + key->offset;
}

static int *count_at(const app_key *key, app_config *cfg)
{
    return (int *)((char *)cfg + key->count_offset);
}

static int count_at_const(const app_key *key, const app_config *cfg)
{
    return *(const int *)((const char *)cfg + key->count_offset);
}

static bool in_range(const app_range *range, double value)
{
    if (range->flags & APP_RANGE_MIN) {
        if (range->flags & APP_RANGE_MIN_OPEN ? value <= range->min : value < range->min)
            return false;
    }
    if (range->flags & APP_RANGE_MAX) {
        if (range->flags & APP_RANGE_MAX_OPEN ? value >= range->max : value > range->max)
            return false;
    }
    return true;
}

static bool is_null_scalar(const char *text, bool quoted)
{
    return !quoted && (strcmp(text, "~") == 0 || strcmp(text, "null") == 0 ||
                       strcmp(text, "Null") == 0 || strcmp(text, "NULL") == 0);
}

static bool is_valid_utf8(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        int extra;
        if (*s < 0x80)
            extra = 0;
        else if ((*s & 0xe0) == 0xc0 && *s >= 0xc2)
            extra = 1;
        else if ((*s & 0xf0) == 0xe0)
            extra = 2;
        else if ((*s & 0xf8) == 0xf0 && *s <= 0xf4)
            extra = 3;
        else
            return false;
        s++;
        for (int i = 0; i < extra; i++, s++) {
            if ((*s & 0xc0) != 0x80)
                return false;
        }
    }
    return true;
}

/* The element view of a key: list keys convert each element like this scalar key. */
static app_key element_key(const app_key *key)
{
    app_key element = *key;
    if (key->type == APP_KEY_INT_LIST)
        element.type = APP_KEY_INT;
    else if (key->type == APP_KEY_FLOAT_LIST)
        element.type = APP_KEY_FLOAT;
    else if (key->type == APP_KEY_STRING_LIST)
        element.type = APP_KEY_STRING;
    element.capacity = APP_CONFIG_NAME_MAX;
    return element;
}

static const char *article_type(const app_key *key)
{
    switch (key->type) {
    case APP_KEY_INT:
    case APP_KEY_INT64:
        return "an integer";
    case APP_KEY_FLOAT:
        return "a float";
    case APP_KEY_BOOL:
        return "a bool (true or false)";
    default:
        return "a string";
    }
}

/* Parses a number of the type of key into *as_float (and *as_int for integers); false with msg on
 * failure. */
static bool parse_number(const app_key *key, const char *text, bool quoted, double *as_float,
                         long long *as_int, char *msg, size_t msg_size)
{
    char shown[80];
    quote_for_message(text, shown, sizeof shown);
    if (quoted) {
        set_message(msg, msg_size, "expected %s, got the quoted string '%s' (remove the quotes)",
                    article_type(key), shown);
        return false;
    }
    if (text[0] == '\0') {
        set_message(msg, msg_size, "expected %s, got an empty value", article_type(key));
        return false;
    }
    char *end = NULL;
    errno = 0;
    if (key->type == APP_KEY_FLOAT) {
        *as_float = strtod(text, &end);
        if (*end != '\0' || end == text) {
            set_message(msg, msg_size, "expected a float, got '%s'", shown);
            return false;
        }
        if (!isfinite(*as_float) || errno == ERANGE) {
            set_message(msg, msg_size, "expected a finite float, got '%s'", shown);
            return false;
        }
        return true;
    }
    *as_int = strtoll(text, &end, 10);
    if (*end != '\0' || end == text) {
        set_message(msg, msg_size, "expected an integer, got '%s'", shown);
        return false;
    }
    bool too_large =
        errno == ERANGE || (key->type == APP_KEY_INT && (*as_int < INT_MIN || *as_int > INT_MAX));
    if (too_large) {
        set_message(msg, msg_size, "integer '%s' is too large for this key", shown);
        return false;
    }
    *as_float = (double)*as_int;
    return true;
}

static bool check_choice(const app_key *key, const char *text, char *msg, size_t msg_size)
{
    if (!key->choices)
        return true;
    for (size_t i = 0; key->choices[i]; i++) {
        if (strcmp(key->choices[i], text) == 0)
            return true;
    }
    char shown[80], allowed[512];
    quote_for_message(text, shown, sizeof shown);
    app_key_describe_range(key, allowed, sizeof allowed);
    const char *suggestion = app_choice_suggest(key->choices, text);
    if (suggestion)
        set_message(msg, msg_size, "expected %s, got '%s' (did you mean '%s'?)", allowed, shown,
                    suggestion);
    else
        set_message(msg, msg_size, "expected %s, got '%s'", allowed, shown);
    return false;
}

/* Validates one scalar of the (element) type of key. Writes the value to dst when not NULL. */
static bool convert_scalar(const app_key *key, void *dst, const char *text, bool quoted, char *msg,
                           size_t msg_size)
{
    char shown[80], range[256];
    quote_for_message(text, shown, sizeof shown);
    switch (key->type) {
    case APP_KEY_INT:
    case APP_KEY_INT64:
    case APP_KEY_FLOAT: {
        double value = 0.0;
        long long integer = 0;
        if (!parse_number(key, text, quoted, &value, &integer, msg, msg_size))
            return false;
        if (!in_range(&key->range, value)) {
            app_key_describe_range(key, range, sizeof range);
            set_message(msg, msg_size, "value %s is out of range: expected %s %s", shown,
                        key->type == APP_KEY_FLOAT ? "a float" : "an integer", range);
            return false;
        }
        if (dst && key->type == APP_KEY_INT)
            *(int *)dst = (int)integer;
        else if (dst && key->type == APP_KEY_INT64)
            *(long long *)dst = integer;
        else if (dst)
            *(double *)dst = value;
        return true;
    }
    case APP_KEY_BOOL: {
        bool value;
        if (!quoted &&
            (strcmp(text, "true") == 0 || strcmp(text, "True") == 0 || strcmp(text, "TRUE") == 0)) {
            value = true;
        } else if (!quoted && (strcmp(text, "false") == 0 || strcmp(text, "False") == 0 ||
                               strcmp(text, "FALSE") == 0)) {
            value = false;
        } else {
            set_message(msg, msg_size, "expected a bool (true or false), got %s'%s'",
                        quoted ? "the quoted string " : "", shown);
            return false;
        }
        if (dst)
            *(bool *)dst = value;
        return true;
    }
    case APP_KEY_ENUM:
        if (!check_choice(key, text, msg, msg_size))
            return false;
        for (int i = 0; key->choices[i]; i++) {
            if (strcmp(key->choices[i], text) == 0 && dst)
                *(int *)dst = i;
        }
        return true;
    case APP_KEY_STRING: {
        if (is_null_scalar(text, quoted))
            text = "";
        if (!is_valid_utf8(text)) {
            set_message(msg, msg_size, "string '%s' is not valid UTF-8", shown);
            return false;
        }
        size_t len = strlen(text);
        if (len >= key->capacity) {
            set_message(msg, msg_size, "string of %zu bytes is too long: the maximum is %zu", len,
                        key->capacity - 1);
            return false;
        }
        if (!check_choice(key, text, msg, msg_size))
            return false;
        if (dst)
            memcpy(dst, text, len + 1);
        return true;
    }
    default:
        set_message(msg, msg_size, "expected a list, got a single value '%s' (write [%s])", shown,
                    shown);
        return false;
    }
}

bool app_key_set_scalar(const app_key *key, app_config *cfg, const char *text, bool quoted,
                        char *msg, size_t msg_size)
{
    return convert_scalar(key, field_at(key, cfg), text, quoted, msg, msg_size);
}

bool app_key_set_list(const app_key *key, app_config *cfg, const char *const *items,
                      const bool *quoted, int n, char *msg, size_t msg_size)
{
    if (key->type != APP_KEY_INT_LIST && key->type != APP_KEY_FLOAT_LIST &&
        key->type != APP_KEY_STRING_LIST) {
        set_message(msg, msg_size, "expected %s, got a list", article_type(key));
        return false;
    }
    if (n < key->min_count || n > key->max_count) {
        char range[256];
        app_key_describe_range(key, range, sizeof range);
        set_message(msg, msg_size, "expected a %s of %s, got %d element%s", app_key_type_name(key),
                    range, n, n == 1 ? "" : "s");
        return false;
    }

    /* validate every element first so that a rejected list leaves cfg unchanged */
    app_key element = element_key(key);
    char element_msg[512];
    for (int i = 0; i < n; i++) {
        if (!convert_scalar(&element, NULL, items[i], quoted[i], element_msg, sizeof element_msg)) {
            set_message(msg, msg_size, "element %d: %s", i + 1, element_msg);
            return false;
        }
        if (key->type != APP_KEY_STRING_LIST)
            continue;
        for (int j = 0; j < i; j++) {
            if (strcmp(items[i], items[j]) == 0) {
                char shown[80];
                quote_for_message(items[i], shown, sizeof shown);
                set_message(msg, msg_size, "element %d: '%s' is listed twice", i + 1, shown);
                return false;
            }
        }
    }

    char *base = field_at(key, cfg);
    size_t stride = key->type == APP_KEY_INT_LIST     ? sizeof(int)
                    : key->type == APP_KEY_FLOAT_LIST ? sizeof(double)
                                                      : APP_CONFIG_NAME_MAX;
    for (int i = 0; i < n; i++)
        convert_scalar(&element, base + (size_t)i * stride, items[i], quoted[i], element_msg,
                       sizeof element_msg);
    *count_at(key, cfg) = n;
    return true;
}

/* Formats a double with the fewest digits that read back to the same value. */
static void format_float(double value, char *buf, size_t size)
{
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, size, "%.*g", digits, value);
        if (strtod(buf, NULL) == value)
            break;
    }
    /* "1.0" instead of "1", so that the YAML reads as a float to people and other parsers */
    if (!strpbrk(buf, ".eEn") && strlen(buf) + 3 <= size)
        strcat(buf, ".0");
}

/* Writes text as a YAML double-quoted scalar. */
static void format_string(const char *text, char *buf, size_t size)
{
    size_t n = 0;
    if (size < 3)
        return;
    buf[n++] = '"';
    for (const char *c = text; *c && n + 6 < size; c++) {
        unsigned char ch = (unsigned char)*c;
        if (ch == '"' || ch == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            n += (size_t)snprintf(buf + n, size - n, "\\x%02x", ch);
        } else {
            buf[n++] = (char)ch;
        }
    }
    buf[n++] = '"';
    buf[n] = '\0';
}

static void format_element(const app_key *key, const void *value, char *buf, size_t size)
{
    switch (key->type) {
    case APP_KEY_INT:
    case APP_KEY_INT_LIST:
        snprintf(buf, size, "%d", *(const int *)value);
        break;
    case APP_KEY_INT64:
        snprintf(buf, size, "%lld", *(const long long *)value);
        break;
    case APP_KEY_FLOAT:
    case APP_KEY_FLOAT_LIST:
        format_float(*(const double *)value, buf, size);
        break;
    case APP_KEY_BOOL:
        snprintf(buf, size, "%s", *(const bool *)value ? "true" : "false");
        break;
    case APP_KEY_ENUM:
        snprintf(buf, size, "%s", key->choices[*(const int *)value]);
        break;
    case APP_KEY_STRING:
    case APP_KEY_STRING_LIST:
        format_string(value, buf, size);
        break;
    }
}

void app_key_format_value(const app_key *key, const app_config *cfg, char *buf, size_t size)
{
    const char *base = field_at_const(key, cfg);
    bool is_list = key->type == APP_KEY_INT_LIST || key->type == APP_KEY_FLOAT_LIST ||
                   key->type == APP_KEY_STRING_LIST;
    if (!is_list) {
        format_element(key, base, buf, size);
        return;
    }
    size_t stride = key->type == APP_KEY_INT_LIST     ? sizeof(int)
                    : key->type == APP_KEY_FLOAT_LIST ? sizeof(double)
                                                      : APP_CONFIG_NAME_MAX;
    size_t used = (size_t)snprintf(buf, size, "[");
    int n = count_at_const(key, cfg);
    for (int i = 0; i < n && used < size; i++) {
        char element[APP_CONFIG_NAME_MAX * 4 + 8];
        format_element(key, base + (size_t)i * stride, element, sizeof element);
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i > 0 ? ", " : "", element);
    }
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

bool app_key_equal(const app_key *key, const app_config *a, const app_config *b)
{
    const char *va = field_at_const(key, a);
    const char *vb = field_at_const(key, b);
    switch (key->type) {
    case APP_KEY_INT:
    case APP_KEY_ENUM:
        return *(const int *)va == *(const int *)vb;
    case APP_KEY_INT64:
        return *(const long long *)va == *(const long long *)vb;
    case APP_KEY_FLOAT:
        return *(const double *)va == *(const double *)vb;
    case APP_KEY_BOOL:
        return *(const bool *)va == *(const bool *)vb;
    case APP_KEY_STRING:
        return strcmp(va, vb) == 0;
    default:
        break;
    }
    int n = count_at_const(key, a);
    if (n != count_at_const(key, b))
        return false;
    for (int i = 0; i < n; i++) {
        bool same;
        if (key->type == APP_KEY_INT_LIST)
            same = ((const int *)va)[i] == ((const int *)vb)[i];
        else if (key->type == APP_KEY_FLOAT_LIST)
            same = ((const double *)va)[i] == ((const double *)vb)[i];
        else
            same = strcmp(va + (size_t)i * APP_CONFIG_NAME_MAX,
                          vb + (size_t)i * APP_CONFIG_NAME_MAX) == 0;
        if (!same)
            return false;
    }
    return true;
}
