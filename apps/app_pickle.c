/*
 * CIFAR-N label files: a strict reader for the stored-zip .pt files and the
 * CSV copies.
 *
 * The pickle reader is a small stack machine over the opcodes that torch.save
 * of a dict of numpy int arrays and int lists writes with protocol 2 (or 3).
 * It calls no code: the only globals it accepts are numpy's array and dtype
 * reconstructors and _codecs.encode, and it evaluates them itself. Every read
 * is bounds-checked, and the value and memo counts are capped.
 */
#include "apps/app_pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/app_data_internal.h"
#include "apps/app_image.h"
#include "runtime/rt_error.h"

/* Caps that keep a hostile file from exhausting memory; real files use far less. */
#define PICKLE_MAX_VALUES (1 << 22)
#define PICKLE_MAX_MEMO (1 << 20)
#define PICKLE_MAX_DEPTH (1 << 22)

typedef enum {
    PV_NONE,
    PV_BOOL,
    PV_INT,
    PV_STR, /* unicode (UTF-8) or bytes: s, len */
    PV_MARK,
    PV_TUPLE, /* items, n */
    PV_LIST,
    PV_DICT,    /* items as key, value pairs; n counts entries, not pairs */
    PV_GLOBAL,  /* s = module, len; s2 = name, len2 */
    PV_NDARRAY, /* after BUILD: data (little-endian), n elements of itemsize, is_signed */
    PV_DTYPE,   /* itemsize, is_signed, byteorder */
} pv_kind;

typedef struct {
    pv_kind kind;
    int64_t i;
    const uint8_t *s;
    size_t len;
    const uint8_t *s2;
    size_t len2;
    int32_t *items;
    int32_t n, cap;
    int32_t itemsize, is_signed;
    char byteorder;
    int built;
} pv;

typedef struct {
    const uint8_t *buf;
    size_t size, pos;
    const char *source;
    pv *vals;
    int32_t nvals, capvals;
    int32_t *stack;
    int32_t depth, capstack;
    int32_t *memo;
    int32_t capmemo;
    uint8_t **owned; /* buffers made by _codecs.encode */
    int32_t nowned, capowned;
} pickle_vm;

static int vm_fail(pickle_vm *vm, const char *what)
{
    return rt_set_error(RT_ERR_FORMAT,
                        "%s: invalid pickle at byte %zu: %s; the file is corrupt or not a "
                        "CIFAR-N label file",
                        vm->source, vm->pos, what);
}

static int vm_new(pickle_vm *vm, pv_kind kind, int32_t *out)
{
    if (vm->nvals == vm->capvals) {
        if (vm->capvals >= PICKLE_MAX_VALUES)
            return vm_fail(vm, "too many values");
        int32_t cap = vm->capvals ? 2 * vm->capvals : 256;
        pv *grown = realloc(vm->vals, (size_t)cap * sizeof(pv));
        if (!grown)
            return rt_set_error(RT_ERR_NOMEM, "%s: out of memory parsing the pickle", vm->source);
        vm->vals = grown;
        vm->capvals = cap;
    }
    memset(&vm->vals[vm->nvals], 0, sizeof(pv));
    vm->vals[vm->nvals].kind = kind;
    *out = vm->nvals++;
    return RT_OK;
}

static int vm_push(pickle_vm *vm, int32_t v)
{
    if (vm->depth == vm->capstack) {
        if (vm->capstack >= PICKLE_MAX_DEPTH)
            return vm_fail(vm, "stack too deep");
        int32_t cap = vm->capstack ? 2 * vm->capstack : 256;
        int32_t *grown = realloc(vm->stack, (size_t)cap * sizeof(int32_t));
        if (!grown)
            return rt_set_error(RT_ERR_NOMEM, "%s: out of memory parsing the pickle", vm->source);
        vm->stack = grown;
        vm->capstack = cap;
    }
    vm->stack[vm->depth++] = v;
    return RT_OK;
}

static int vm_push_new(pickle_vm *vm, pv_kind kind, int32_t *out)
{
    int32_t v;
    RT_TRY(vm_new(vm, kind, &v));
    RT_TRY(vm_push(vm, v));
    if (out)
        *out = v;
    return RT_OK;
}

/* Pops one non-mark value. */
static int vm_pop(pickle_vm *vm, int32_t *v)
{
    if (vm->depth == 0)
        return vm_fail(vm, "stack underflow");
    *v = vm->stack[--vm->depth];
    if (vm->vals[*v].kind == PV_MARK)
        return vm_fail(vm, "unexpected MARK");
    return RT_OK;
}

static int vm_top(pickle_vm *vm, int32_t *v)
{
    if (vm->depth == 0)
        return vm_fail(vm, "stack underflow");
    *v = vm->stack[vm->depth - 1];
    if (vm->vals[*v].kind == PV_MARK)
        return vm_fail(vm, "unexpected MARK");
    return RT_OK;
}

/* Finds the topmost MARK; the values above it are stack[*start .. depth). */
static int vm_find_mark(pickle_vm *vm, int32_t *start)
{
    for (int32_t i = vm->depth - 1; i >= 0; i--) {
        if (vm->vals[vm->stack[i]].kind == PV_MARK) {
            *start = i + 1;
            return RT_OK;
        }
    }
    return vm_fail(vm, "no MARK on the stack");
}

static int vm_append_item(pickle_vm *vm, int32_t container, int32_t item)
{
    pv *c = &vm->vals[container];
    if (c->n == c->cap) {
        if (c->cap >= PICKLE_MAX_VALUES)
            return vm_fail(vm, "container too large");
        int32_t cap = c->cap ? 2 * c->cap : 8;
        int32_t *grown = realloc(c->items, (size_t)cap * sizeof(int32_t));
        if (!grown)
            return rt_set_error(RT_ERR_NOMEM, "%s: out of memory parsing the pickle", vm->source);
        c->items = grown;
        c->cap = cap;
    }
    c->items[c->n++] = item;
    return RT_OK;
}

static int vm_need(pickle_vm *vm, size_t n)
{
    if (n > vm->size - vm->pos)
        return vm_fail(vm, "truncated argument");
    return RT_OK;
}

static uint64_t read_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Pops the values above the topmost MARK into a new tuple or list, and drops the MARK. */
static int vm_collect(pickle_vm *vm, pv_kind kind)
{
    int32_t start, t;
    RT_TRY(vm_find_mark(vm, &start));
    RT_TRY(vm_new(vm, kind, &t));
    for (int32_t i = start; i < vm->depth; i++)
        RT_TRY(vm_append_item(vm, t, vm->stack[i]));
    vm->depth = start - 1;
    return vm_push(vm, t);
}

static int vm_tuple_n(pickle_vm *vm, int n)
{
    int32_t items[3], t;
    for (int i = n - 1; i >= 0; i--)
        RT_TRY(vm_pop(vm, &items[i]));
    RT_TRY(vm_new(vm, PV_TUPLE, &t));
    for (int i = 0; i < n; i++)
        RT_TRY(vm_append_item(vm, t, items[i]));
    return vm_push(vm, t);
}

static int str_is(const pv *v, const char *s)
{
    return v->kind == PV_STR && v->len == strlen(s) && memcmp(v->s, s, v->len) == 0;
}

static int global_is(const pv *g, const char *module, const char *name)
{
    return g->kind == PV_GLOBAL && g->len == strlen(module) && memcmp(g->s, module, g->len) == 0 &&
           g->len2 == strlen(name) && memcmp(g->s2, name, g->len2) == 0;
}

/* _codecs.encode(text, 'latin1'): UTF-8 code points 0..255 become single bytes. */
static int eval_latin1(pickle_vm *vm, const pv *text, int32_t *out)
{
    uint8_t *bytes = malloc(text->len ? text->len : 1);
    if (!bytes)
        return rt_set_error(RT_ERR_NOMEM, "%s: out of memory parsing the pickle", vm->source);
    if (vm->nowned == vm->capowned) {
        int32_t cap = vm->capowned ? 2 * vm->capowned : 16;
        uint8_t **grown = vm->capowned < PICKLE_MAX_MEMO
                              ? realloc(vm->owned, (size_t)cap * sizeof(uint8_t *))
                              : NULL;
        if (!grown) {
            free(bytes);
            return vm_fail(vm, "too many encoded strings");
        }
        vm->owned = grown;
        vm->capowned = cap;
    }
    vm->owned[vm->nowned++] = bytes;
    size_t n = 0;
    for (size_t i = 0; i < text->len; i++) {
        uint8_t c = text->s[i];
        if (c < 0x80) {
            bytes[n++] = c;
        } else if ((c == 0xc2 || c == 0xc3) && i + 1 < text->len &&
                   (text->s[i + 1] & 0xc0) == 0x80) {
            bytes[n++] = (uint8_t)((c & 0x03) << 6 | (text->s[i + 1] & 0x3f));
            i++;
        } else {
            return vm_fail(vm, "_codecs.encode: character outside latin-1");
        }
    }
    RT_TRY(vm_new(vm, PV_STR, out));
    vm->vals[*out].s = bytes;
    vm->vals[*out].len = n;
    return RT_OK;
}

/* numpy.dtype('i8', False, True) and friends: integer types only. */
static int eval_dtype(pickle_vm *vm, const pv *descr, int32_t *out)
{
    if (descr->kind != PV_STR || descr->len != 2 || (descr->s[0] != 'i' && descr->s[0] != 'u') ||
        (descr->s[1] != '1' && descr->s[1] != '2' && descr->s[1] != '4' && descr->s[1] != '8'))
        return vm_fail(vm, "numpy.dtype: only integer dtypes (i1..i8, u1..u8) are supported");
    /* vm_new may move vm->vals, and descr may point into it, so read descr first. */
    int32_t itemsize = descr->s[1] - '0';
    int32_t is_signed = descr->s[0] == 'i';
    RT_TRY(vm_new(vm, PV_DTYPE, out));
    pv *d = &vm->vals[*out];
    d->itemsize = itemsize;
    d->is_signed = is_signed;
    d->byteorder = itemsize == 1 ? '|' : '<';
    return RT_OK;
}

static int op_reduce(pickle_vm *vm)
{
    int32_t args_i, func_i, out = -1;
    RT_TRY(vm_pop(vm, &args_i));
    RT_TRY(vm_pop(vm, &func_i));
    const pv *args = &vm->vals[args_i], *func = &vm->vals[func_i];
    if (args->kind != PV_TUPLE)
        return vm_fail(vm, "REDUCE arguments are not a tuple");
    if (global_is(func, "numpy.core.multiarray", "_reconstruct")) {
        if (args->n != 3 || !global_is(&vm->vals[args->items[0]], "numpy", "ndarray"))
            return vm_fail(vm, "_reconstruct: expected (numpy.ndarray, shape, dtype)");
        RT_TRY(vm_new(vm, PV_NDARRAY, &out));
    } else if (global_is(func, "numpy", "dtype")) {
        if (args->n < 1)
            return vm_fail(vm, "numpy.dtype: missing type string");
        RT_TRY(eval_dtype(vm, &vm->vals[args->items[0]], &out));
    } else if (global_is(func, "_codecs", "encode")) {
        if (args->n != 2 || vm->vals[args->items[0]].kind != PV_STR ||
            !str_is(&vm->vals[args->items[1]], "latin1"))
            return vm_fail(vm, "_codecs.encode: expected (str, 'latin1')");
        pv text = vm->vals[args->items[0]];
        RT_TRY(eval_latin1(vm, &text, &out));
    } else {
        return vm_fail(vm, "REDUCE of an unsupported callable");
    }
    return vm_push(vm, out);
}

/* BUILD on an ndarray: state (version, shape, dtype, fortran, raw bytes). */
static int build_ndarray(pickle_vm *vm, int32_t obj_i, const pv *state)
{
    if (state->kind != PV_TUPLE || state->n != 5)
        return vm_fail(vm, "ndarray state is not a 5-tuple");
    const pv *shape = &vm->vals[state->items[1]];
    const pv *dtype = &vm->vals[state->items[2]];
    const pv *raw = &vm->vals[state->items[4]];
    if (shape->kind != PV_TUPLE || shape->n != 1 || vm->vals[shape->items[0]].kind != PV_INT)
        return vm_fail(vm, "ndarray shape is not a 1-D tuple of ints");
    if (dtype->kind != PV_DTYPE || dtype->byteorder == '>')
        return vm_fail(vm, "ndarray dtype is not a little-endian integer dtype");
    if (raw->kind != PV_STR)
        return vm_fail(vm, "ndarray data is not a byte string");
    int64_t n = vm->vals[shape->items[0]].i;
    if (n < 0 || n > INT32_MAX || (uint64_t)n * (uint64_t)dtype->itemsize != raw->len)
        return vm_fail(vm, "ndarray data length does not match its shape and dtype");
    pv *obj = &vm->vals[obj_i];
    if (obj->built)
        return vm_fail(vm, "ndarray built twice");
    obj->built = 1;
    obj->s = raw->s;
    obj->len = raw->len;
    obj->n = (int32_t)n;
    obj->itemsize = dtype->itemsize;
    obj->is_signed = dtype->is_signed;
    return RT_OK;
}

static int op_build(pickle_vm *vm)
{
    int32_t state_i, obj_i;
    RT_TRY(vm_pop(vm, &state_i));
    RT_TRY(vm_top(vm, &obj_i));
    pv *obj = &vm->vals[obj_i];
    const pv *state = &vm->vals[state_i];
    if (obj->kind == PV_NDARRAY)
        return build_ndarray(vm, obj_i, state);
    if (obj->kind == PV_DTYPE) {
        /* dtype state: (3, '<', None, None, None, -1, -1, 0); only the byte order matters. */
        if (state->kind != PV_TUPLE || state->n < 2)
            return vm_fail(vm, "dtype state is not a tuple");
        const pv *order = &vm->vals[state->items[1]];
        if (order->kind != PV_STR || order->len != 1 ||
            (order->s[0] != '<' && order->s[0] != '|' && order->s[0] != '>' && order->s[0] != '='))
            return vm_fail(vm, "dtype byte order is invalid");
        obj->byteorder = order->s[0] == '=' ? '<' : (char)order->s[0];
        return RT_OK;
    }
    return vm_fail(vm, "BUILD on an unsupported object");
}

static int op_setitems(pickle_vm *vm, int multiple)
{
    int32_t start;
    if (multiple) {
        RT_TRY(vm_find_mark(vm, &start));
    } else {
        if (vm->depth < 3)
            return vm_fail(vm, "stack underflow");
        start = vm->depth - 2;
    }
    if ((vm->depth - start) % 2 != 0)
        return vm_fail(vm, "SETITEMS with an odd number of values");
    int32_t dict_pos = multiple ? start - 2 : start - 1;
    if (dict_pos < 0 || vm->vals[vm->stack[dict_pos]].kind != PV_DICT)
        return vm_fail(vm, "SETITEM(S) target is not a dict");
    int32_t dict = vm->stack[dict_pos];
    for (int32_t i = start; i < vm->depth; i++) {
        if (vm->vals[vm->stack[i]].kind == PV_MARK)
            return vm_fail(vm, "unexpected MARK");
        RT_TRY(vm_append_item(vm, dict, vm->stack[i]));
    }
    vm->depth = dict_pos + 1;
    return RT_OK;
}

static int op_appends(pickle_vm *vm, int multiple)
{
    int32_t start;
    if (multiple) {
        RT_TRY(vm_find_mark(vm, &start));
    } else {
        if (vm->depth < 2)
            return vm_fail(vm, "stack underflow");
        start = vm->depth - 1;
    }
    int32_t list_pos = multiple ? start - 2 : start - 1;
    if (list_pos < 0 || vm->vals[vm->stack[list_pos]].kind != PV_LIST)
        return vm_fail(vm, "APPEND(S) target is not a list");
    int32_t list = vm->stack[list_pos];
    for (int32_t i = start; i < vm->depth; i++) {
        if (vm->vals[vm->stack[i]].kind == PV_MARK)
            return vm_fail(vm, "unexpected MARK");
        RT_TRY(vm_append_item(vm, list, vm->stack[i]));
    }
    vm->depth = list_pos + 1;
    return RT_OK;
}

static int op_memo(pickle_vm *vm, int put, int arg_bytes)
{
    RT_TRY(vm_need(vm, (size_t)arg_bytes));
    uint64_t index = read_le(vm->buf + vm->pos, arg_bytes);
    vm->pos += (size_t)arg_bytes;
    if (index >= PICKLE_MAX_MEMO)
        return vm_fail(vm, "memo index too large");
    if (put) {
        int32_t v;
        RT_TRY(vm_top(vm, &v));
        if ((int32_t)index >= vm->capmemo) {
            int32_t cap = vm->capmemo ? vm->capmemo : 64;
            while (cap <= (int32_t)index)
                cap *= 2;
            int32_t *grown = realloc(vm->memo, (size_t)cap * sizeof(int32_t));
            if (!grown)
                return rt_set_error(RT_ERR_NOMEM, "%s: out of memory parsing the pickle",
                                    vm->source);
            for (int32_t i = vm->capmemo; i < cap; i++)
                grown[i] = -1;
            vm->memo = grown;
            vm->capmemo = cap;
        }
        vm->memo[index] = v;
        return RT_OK;
    }
    if ((int32_t)index >= vm->capmemo || vm->memo[index] < 0)
        return vm_fail(vm, "GET of an unset memo entry");
    return vm_push(vm, vm->memo[index]);
}

/* Pushes a string of n bytes that starts at the current position. */
static int op_string(pickle_vm *vm, size_t n)
{
    int32_t v;
    RT_TRY(vm_need(vm, n));
    RT_TRY(vm_push_new(vm, PV_STR, &v));
    vm->vals[v].s = vm->buf + vm->pos;
    vm->vals[v].len = n;
    vm->pos += n;
    return RT_OK;
}

static int op_global(pickle_vm *vm)
{
    const uint8_t *start = vm->buf + vm->pos, *end = vm->buf + vm->size;
    const uint8_t *nl1 = memchr(start, '\n', (size_t)(end - start));
    const uint8_t *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1)) : NULL;
    if (!nl2)
        return vm_fail(vm, "GLOBAL without two newline-terminated names");
    int32_t v;
    RT_TRY(vm_push_new(vm, PV_GLOBAL, &v));
    vm->vals[v].s = start;
    vm->vals[v].len = (size_t)(nl1 - start);
    vm->vals[v].s2 = nl1 + 1;
    vm->vals[v].len2 = (size_t)(nl2 - nl1 - 1);
    vm->pos = (size_t)(nl2 + 1 - vm->buf);
    return RT_OK;
}

static int op_int(pickle_vm *vm, int bytes, int is_signed)
{
    RT_TRY(vm_need(vm, (size_t)bytes));
    uint64_t raw = read_le(vm->buf + vm->pos, bytes);
    vm->pos += (size_t)bytes;
    int64_t value = (int64_t)raw;
    if (is_signed && bytes < 8 && (raw >> (8 * bytes - 1)) & 1)
        value = (int64_t)(raw | ~((UINT64_C(1) << (8 * bytes)) - 1));
    int32_t v;
    RT_TRY(vm_push_new(vm, PV_INT, &v));
    vm->vals[v].i = value;
    return RT_OK;
}

/* Runs one opcode. Sets *done at STOP. */
static int vm_step(pickle_vm *vm, int *done)
{
    uint8_t op = vm->buf[vm->pos++];
    switch (op) {
    case 0x80: /* PROTO */
        RT_TRY(vm_need(vm, 1));
        if (vm->buf[vm->pos] < 2 || vm->buf[vm->pos] > 3)
            return vm_fail(vm, "unsupported pickle protocol (expected 2 or 3)");
        vm->pos++;
        return RT_OK;
    case '.': /* STOP */
        *done = 1;
        return RT_OK;
    case '}': /* EMPTY_DICT */
        return vm_push_new(vm, PV_DICT, NULL);
    case ']': /* EMPTY_LIST */
        return vm_push_new(vm, PV_LIST, NULL);
    case ')': /* EMPTY_TUPLE */
        return vm_push_new(vm, PV_TUPLE, NULL);
    case '(': /* MARK */
        return vm_push_new(vm, PV_MARK, NULL);
    case 'N': /* NONE */
        return vm_push_new(vm, PV_NONE, NULL);
    case 0x88: /* NEWTRUE */
    case 0x89: /* NEWFALSE */ {
        int32_t v;
        RT_TRY(vm_push_new(vm, PV_BOOL, &v));
        vm->vals[v].i = op == 0x88;
        return RT_OK;
    }
    case 'q': /* BINPUT */
        return op_memo(vm, 1, 1);
    case 'r': /* LONG_BINPUT */
        return op_memo(vm, 1, 4);
    case 'h': /* BINGET */
        return op_memo(vm, 0, 1);
    case 'j': /* LONG_BINGET */
        return op_memo(vm, 0, 4);
    case 'K': /* BININT1 */
        return op_int(vm, 1, 0);
    case 'M': /* BININT2 */
        return op_int(vm, 2, 0);
    case 'J': /* BININT */
        return op_int(vm, 4, 1);
    case 0x8a: /* LONG1 */ {
        RT_TRY(vm_need(vm, 1));
        int n = vm->buf[vm->pos++];
        if (n > 8)
            return vm_fail(vm, "LONG1 wider than 64 bits");
        if (n == 0) {
            int32_t v;
            return vm_push_new(vm, PV_INT, &v);
        }
        return op_int(vm, n, 1);
    }
    case 'X': /* BINUNICODE */
    case 'B': /* BINBYTES */
    case 'T': /* BINSTRING */ {
        RT_TRY(vm_need(vm, 4));
        uint64_t n = read_le(vm->buf + vm->pos, 4);
        vm->pos += 4;
        return op_string(vm, (size_t)n);
    }
    case 'U': /* SHORT_BINSTRING */
    case 'C': /* SHORT_BINBYTES */ {
        RT_TRY(vm_need(vm, 1));
        size_t n = vm->buf[vm->pos++];
        return op_string(vm, n);
    }
    case 'c': /* GLOBAL */
        return op_global(vm);
    case 't': /* TUPLE */
        return vm_collect(vm, PV_TUPLE);
    case 'l': /* LIST */
        return vm_collect(vm, PV_LIST);
    case 0x85: /* TUPLE1 */
        return vm_tuple_n(vm, 1);
    case 0x86: /* TUPLE2 */
        return vm_tuple_n(vm, 2);
    case 0x87: /* TUPLE3 */
        return vm_tuple_n(vm, 3);
    case 'R': /* REDUCE */
        return op_reduce(vm);
    case 'b': /* BUILD */
        return op_build(vm);
    case 'u': /* SETITEMS */
        return op_setitems(vm, 1);
    case 's': /* SETITEM */
        return op_setitems(vm, 0);
    case 'e': /* APPENDS */
        return op_appends(vm, 1);
    case 'a': /* APPEND */
        return op_appends(vm, 0);
    default: {
        char what[64];
        snprintf(what, sizeof(what), "unsupported opcode 0x%02x", op);
        vm->pos--;
        return vm_fail(vm, what);
    }
    }
}

static void vm_free(pickle_vm *vm)
{
    for (int32_t i = 0; i < vm->nvals; i++)
        free(vm->vals[i].items);
    for (int32_t i = 0; i < vm->nowned; i++)
        free(vm->owned[i]);
    free(vm->vals);
    free(vm->stack);
    free(vm->memo);
    free(vm->owned);
}

/* Copies an int ndarray or a list of ints into a new int64 array. */
static int copy_int_values(pickle_vm *vm, const pv *value, const char *key, int64_t **values,
                           size_t *count)
{
    if (value->kind == PV_NDARRAY && !value->built)
        return vm_fail(vm, "the array under the key has no data");
    if (value->kind != PV_NDARRAY && value->kind != PV_LIST)
        return rt_set_error(RT_ERR_FORMAT,
                            "%s: the value under key '%s' is not an int array or list; the file "
                            "is not a CIFAR-N label file",
                            vm->source, key);
    size_t n = (size_t)value->n;
    int64_t *out = malloc((n ? n : 1) * sizeof(int64_t));
    if (!out)
        return rt_set_error(RT_ERR_NOMEM, "%s: out of memory for %zu labels", vm->source, n);
    for (size_t i = 0; i < n; i++) {
        if (value->kind == PV_LIST) {
            const pv *item = &vm->vals[value->items[i]];
            if (item->kind != PV_INT) {
                free(out);
                return rt_set_error(RT_ERR_FORMAT,
                                    "%s: element %zu of the list under key '%s' is not an int",
                                    vm->source, i, key);
            }
            out[i] = item->i;
            continue;
        }
        int size = value->itemsize;
        uint64_t raw = read_le(value->s + i * (size_t)size, size);
        int64_t v = (int64_t)raw;
        if (value->is_signed && size < 8 && (raw >> (8 * size - 1)) & 1)
            v = (int64_t)(raw | ~((UINT64_C(1) << (8 * size)) - 1));
        out[i] = v;
    }
    *values = out;
    *count = n;
    return RT_OK;
}

int app_pickle_extract(const uint8_t *bytes, size_t size, const char *source, const char *key,
                       int64_t **values, size_t *count)
{
    *values = NULL;
    *count = 0;
    pickle_vm vm = {.buf = bytes, .size = size, .source = source};
    int done = 0, status = RT_OK;
    while (!done && status == RT_OK) {
        if (vm.pos >= vm.size) {
            status = vm_fail(&vm, "data ends before STOP");
            break;
        }
        status = vm_step(&vm, &done);
    }
    int32_t root = -1;
    if (status == RT_OK) {
        if (vm.depth != 1 || vm.vals[vm.stack[0]].kind != PV_DICT)
            status = vm_fail(&vm, "the pickle does not hold exactly one dict");
        else
            root = vm.stack[0];
    }
    if (status == RT_OK) {
        const pv *dict = &vm.vals[root];
        int32_t found = -1;
        for (int32_t i = 0; i + 1 < dict->n; i += 2)
            if (str_is(&vm.vals[dict->items[i]], key))
                found = dict->items[i + 1];
        if (found < 0) {
            char keys[512] = "";
            size_t used = 0;
            for (int32_t i = 0; i + 1 < dict->n && used + 2 < sizeof(keys); i += 2) {
                const pv *k = &vm.vals[dict->items[i]];
                if (k->kind != PV_STR)
                    continue;
                int w = snprintf(keys + used, sizeof(keys) - used, "%s%.*s", used ? ", " : "",
                                 (int)(k->len > 64 ? 64 : k->len), (const char *)k->s);
                if (w < 0)
                    break;
                used += (size_t)w;
            }
            status = rt_set_error(RT_ERR_NOT_FOUND,
                                  "%s has no key '%s' (keys: %s); choose one of the keys listed",
                                  source, key, keys[0] ? keys : "none");
        } else {
            status = copy_int_values(&vm, &vm.vals[found], key, values, count);
        }
    }
    vm_free(&vm);
    return status;
}

/* ---- the zip container ---- */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)read_le(p, 4);
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)read_le(p, 2);
}

/* Finds the stored "data.pkl" entry of a torch zip file. */
static int find_data_pkl(const uint8_t *bytes, size_t size, const char *source,
                         const uint8_t **data, size_t *data_size)
{
    /* The end-of-central-directory record is 22 bytes plus a comment of up to 65535. */
    size_t eocd = SIZE_MAX;
    for (size_t back = 22; back <= size && back <= 22 + 65535; back++) {
        if (le32(bytes + size - back) == 0x06054b50) {
            eocd = size - back;
            break;
        }
    }
    if (eocd == SIZE_MAX)
        return rt_set_error(RT_ERR_FORMAT,
                            "%s is not a zip archive (no end-of-central-directory record); a "
                            ".pt label file must be saved by torch.save with the zip format",
                            source);
    uint16_t entries = le16(bytes + eocd + 10);
    uint32_t cd_size = le32(bytes + eocd + 12), cd_offset = le32(bytes + eocd + 16);
    if ((uint64_t)cd_offset + cd_size > eocd)
        return rt_set_error(RT_ERR_FORMAT, "%s: zip central directory lies outside the file",
                            source);
    size_t pos = cd_offset;
    for (uint16_t e = 0; e < entries; e++) {
        if (pos + 46 > eocd || le32(bytes + pos) != 0x02014b50)
            return rt_set_error(RT_ERR_FORMAT, "%s: zip central directory entry %u is corrupt",
                                source, e);
        uint16_t method = le16(bytes + pos + 10);
        uint32_t csize = le32(bytes + pos + 20), usize = le32(bytes + pos + 24);
        uint16_t name_len = le16(bytes + pos + 28), extra_len = le16(bytes + pos + 30);
        uint16_t comment_len = le16(bytes + pos + 32);
        uint32_t local = le32(bytes + pos + 42);
        const char *name = (const char *)bytes + pos + 46;
        if (pos + 46 + (size_t)name_len + extra_len + comment_len > eocd)
            return rt_set_error(RT_ERR_FORMAT, "%s: zip central directory entry %u is corrupt",
                                source, e);
        int is_pkl = (name_len == 8 && memcmp(name, "data.pkl", 8) == 0) ||
                     (name_len > 9 && memcmp(name + name_len - 9, "/data.pkl", 9) == 0);
        pos += 46 + (size_t)name_len + extra_len + comment_len;
        if (!is_pkl)
            continue;
        if (method != 0 || csize != usize)
            return rt_set_error(RT_ERR_FORMAT,
                                "%s: data.pkl is compressed (zip method %u); only stored "
                                "entries are supported, as torch.save writes them",
                                source, method);
        if ((uint64_t)local + 30 > size || le32(bytes + local) != 0x04034b50)
            return rt_set_error(RT_ERR_FORMAT, "%s: zip local header of data.pkl is corrupt",
                                source);
        uint64_t start = (uint64_t)local + 30 + le16(bytes + local + 26) + le16(bytes + local + 28);
        if (start + csize > size)
            return rt_set_error(RT_ERR_FORMAT,
                                "%s: data.pkl (%u bytes at offset %llu) runs past the end of the "
                                "file (%zu bytes); the file is truncated",
                                source, csize, (unsigned long long)start, size);
        *data = bytes + start;
        *data_size = csize;
        return RT_OK;
    }
    return rt_set_error(RT_ERR_FORMAT,
                        "%s: zip archive has no data.pkl entry; it is not a "
                        "torch.save file",
                        source);
}

int app_pt_extract(const uint8_t *bytes, size_t size, const char *source, const char *key,
                   int64_t **values, size_t *count)
{
    const uint8_t *data = NULL;
    size_t data_size = 0;
    *values = NULL;
    *count = 0;
    RT_TRY(find_data_pkl(bytes, size, source, &data, &data_size));
    return app_pickle_extract(data, data_size, source, key, values, count);
}

/* ---- CIFAR-N label sets ---- */

const char *app_cifarn_key(const char *name)
{
    static const char *const aliases[][2] = {
        {"clean", "clean_label"},
        {"aggre", "aggre_label"},
        {"aggregate", "aggre_label"},
        {"worse", "worse_label"},
        {"worst", "worse_label"},
        {"random1", "random_label1"},
        {"random2", "random_label2"},
        {"random3", "random_label3"},
        {"noisy", "noisy_label"},
        {"clean_coarse", "clean_coarse_label"},
        {"noisy_coarse", "noisy_coarse_label"},
    };
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
        if (strcmp(name, aliases[i][0]) == 0 || strcmp(name, aliases[i][1]) == 0)
            return aliases[i][1];
    }
    return NULL;
}

/* Reads column key of a CIFAR-N CSV (header "index,<key>,...", rows in index order). */
static int read_cifarn_csv(const char *path, const char *key, int64_t **values, size_t *count)
{
    app_text_lines lines;
    RT_TRY(app_text_lines_read(path, &lines));
    if (lines.count == 0) {
        app_text_lines_free(&lines);
        return rt_set_error(RT_ERR_FORMAT, "CIFAR-N CSV '%s' is empty", path);
    }
    int column = -1, columns = 0;
    const char *header = lines.lines[0];
    for (const char *p = header;; columns++) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == strlen(key) && memcmp(p, key, n) == 0)
            column = columns;
        if (!comma) {
            columns++;
            break;
        }
        p = comma + 1;
    }
    if (column < 0) {
        int status = rt_set_error(RT_ERR_NOT_FOUND,
                                  "CIFAR-N CSV '%s' has no column '%s' (header: %.200s); choose "
                                  "a label set the file has",
                                  path, key, header);
        app_text_lines_free(&lines);
        return status;
    }
    size_t rows = (size_t)lines.count - 1;
    int64_t *out = malloc((rows ? rows : 1) * sizeof(int64_t));
    if (!out) {
        app_text_lines_free(&lines);
        return rt_set_error(RT_ERR_NOMEM, "out of memory reading '%s'", path);
    }
    for (size_t r = 0; r < rows; r++) {
        const char *p = lines.lines[r + 1], *end = p + strlen(p);
        int fields = 1;
        for (const char *q = p; q < end; q++)
            fields += *q == ',';
        if (fields != columns) {
            int status =
                rt_set_error(RT_ERR_FORMAT,
                             "CIFAR-N CSV '%s' line %d ('%.80s') has %d fields but the "
                             "header has %d; the file is truncated or corrupt",
                             path, lines.numbers[r + 1], lines.lines[r + 1], fields, columns);
            free(out);
            app_text_lines_free(&lines);
            return status;
        }
        long long value = 0;
        int bad = 0;
        for (int c = 0; c <= column && !bad; c++) {
            bad = app_parse_int(&p, end, INT32_MIN, INT32_MAX, &value) != 0;
            if (!bad && c == 0 && value != (long long)r)
                bad = 1;
            if (!bad && c < column)
                bad = *p++ != ',';
        }
        if (!bad)
            bad = *p != ',' && *p != '\0';
        if (bad) {
            int status = rt_set_error(RT_ERR_FORMAT,
                                      "CIFAR-N CSV '%s' line %d ('%.80s') is malformed: expected "
                                      "%d comma-separated integers starting with the row index "
                                      "%zu",
                                      path, lines.numbers[r + 1], lines.lines[r + 1], columns, r);
            free(out);
            app_text_lines_free(&lines);
            return status;
        }
        out[r] = value;
    }
    app_text_lines_free(&lines);
    *values = out;
    *count = rows;
    return RT_OK;
}

int app_cifarn_read(const char *path, const char *name, int classes, int32_t **labels)
{
    *labels = NULL;
    const char *key = app_cifarn_key(name);
    if (!key)
        return rt_set_error(RT_ERR_INVALID,
                            "unknown CIFAR-N label set '%s'; use clean, aggre, worse (or worst), "
                            "random1, random2, random3, noisy, clean_coarse or noisy_coarse",
                            name);
    if (classes < 2)
        return rt_set_error(RT_ERR_INVALID, "CIFAR-N classes must be >= 2, got %d", classes);
    int64_t *values = NULL;
    size_t count = 0;
    size_t len = strlen(path);
    if (len >= 3 && strcmp(path + len - 3, ".pt") == 0) {
        uint8_t *bytes;
        size_t size;
        RT_TRY(app_read_file(path, &bytes, &size));
        int status = app_pt_extract(bytes, size, path, key, &values, &count);
        free(bytes);
        RT_TRY(status);
    } else {
        RT_TRY(read_cifarn_csv(path, key, &values, &count));
    }
    if (count != APP_CIFARN_COUNT) {
        free(values);
        return rt_set_error(RT_ERR_FORMAT,
                            "CIFAR-N label set '%s' in %s has %zu labels, expected %d (one per "
                            "CIFAR training image); use the released label file",
                            key, path, count, APP_CIFARN_COUNT);
    }
    int32_t *out = malloc(count * sizeof(int32_t));
    if (!out) {
        free(values);
        return rt_set_error(RT_ERR_NOMEM, "out of memory for CIFAR-N labels");
    }
    for (size_t i = 0; i < count; i++) {
        if (values[i] < 0 || values[i] >= classes) {
            int status = rt_set_error(RT_ERR_FORMAT,
                                      "CIFAR-N label set '%s' in %s: label %lld at row %zu is "
                                      "out of range 0..%d; check the class count (10 or 100)",
                                      key, path, (long long)values[i], i, classes - 1);
            free(values);
            free(out);
            return status;
        }
        out[i] = (int32_t)values[i];
    }
    free(values);
    *labels = out;
    return RT_OK;
}
