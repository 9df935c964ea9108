/* SPDX-License-Identifier: Apache-2.0 */
/* OMA DDF XML loader (expat): turns <LWM2M><Object ObjectType="MODefinition">... documents into
 * heap-allocated object definitions and hands them to the registry, all or nothing per document.
 * Every rejection names file:line:column and what was expected there. */
#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lwm2m/error.h"
#include "model_internal.h"

#define DDF_MAX_BYTES LWM2M_DDF_MAX_BYTES
#define TEXT_MAX      1024u /* longest Name, Units or RangeEnumeration kept */
#define VERSION_MAX   16u

struct pos {
    unsigned long line;
    unsigned long col;
};

struct field_spec {
    const char *tag;
    bool required;
};

enum { OF_NAME, OF_ID, OF_VERSION, OF_MULTI, OF_MAND, OF_COUNT };
static const struct field_spec obj_fields[OF_COUNT] = {
    {"Name", true},      {"ObjectID", true}, {"ObjectVersion", false}, {"MultipleInstances", true},
    {"Mandatory", true},
};

enum { IF_NAME, IF_OPS, IF_MULTI, IF_MAND, IF_TYPE, IF_RANGE, IF_UNITS, IF_COUNT };
static const struct field_spec item_fields[IF_COUNT] = {
    {"Name", true},      {"Operations", true}, {"MultipleInstances", true},
    {"Mandatory", true}, {"Type", true},       {"RangeEnumeration", false},
    {"Units", false},
};

/* Where the parser is; elements it does not know are skipped with all their content. */
enum ctx { C_DOC, C_ROOT, C_OBJECT, C_RESOURCES, C_ITEM, C_FIELD, C_END };

struct obj_build {
    struct pos at;
    bool seen[OF_COUNT];
    struct pos fpos[OF_COUNT];
    bool has_resources;
    uint16_t id;
    bool multiple, mandatory;
    char name[TEXT_MAX];
    char version[VERSION_MAX];
    struct lwm2m_resource_def *res;
    unsigned long *res_line; /* line of each resource's <Item>, for duplicate messages */
    size_t nres, cap;
    uint8_t ids[65536 / 8]; /* resource ids seen in this object */
};

struct item_build {
    struct pos at;
    bool seen[IF_COUNT];
    struct pos fpos[IF_COUNT];
    uint16_t id;
    uint8_t ops, type;
    bool multiple, mandatory;
    char name[TEXT_MAX];
    char range[TEXT_MAX];
    char units[TEXT_MAX];
};

struct staged {
    struct lwm2m_object_def *obj;
    char *origin;
    unsigned long line;
};

struct ddf {
    XML_Parser xp;
    const struct lwm2m_model *model;
    const char *name;
    unsigned flags;
    struct lwm2m_model_error *err;
    int rc;
    enum ctx ctx;
    unsigned long skip; /* depth inside an unknown element */
    struct pos root;
    /* The field being read: which, of whom, and its text so far. */
    bool field_of_item;
    int field;
    char text[TEXT_MAX];
    size_t text_len;
    struct obj_build obj;
    struct item_build item;
    struct staged *staged;
    size_t nstaged, cap_staged;
};

/* --- error reporting --- */

/* Copies s for an error message: at most 40 bytes (not cutting a UTF-8 sequence), control
 * characters as '?', so that a hostile file cannot garble the log line. */
static const char *show(const char *s, char out[48]) {
    size_t i = 0;

    for (; s[i] && i < 40; i++)
        out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    if (s[i]) {
        while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
            i--;
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

static void set_error(struct lwm2m_model_error *err, const char *file, struct pos at,
                      const char *fmt, va_list ap) {
    int n;

    if (!err)
        return;
    err->line = at.line;
    err->column = at.col;
    if (at.line)
        n = snprintf(err->msg, sizeof(err->msg), "%s:%lu:%lu: ", file, at.line, at.col);
    else
        n = snprintf(err->msg, sizeof(err->msg), "%s: ", file);
    if (n < 0 || (size_t)n >= sizeof(err->msg))
        return;
    vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
}

static void report(struct lwm2m_model_error *err, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(struct lwm2m_model_error *err, const char *file, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_error(err, file, (struct pos){0, 0}, fmt, ap);
    va_end(ap);
}

/* Records the first error and stops expat; handlers return early once rc is set. */
static void fail(struct ddf *p, int rc, struct pos at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(struct ddf *p, int rc, struct pos at, const char *fmt, ...) {
    va_list ap;

    if (p->rc)
        return;
    p->rc = rc;
    va_start(ap, fmt);
    set_error(p->err, p->name, at, fmt, ap);
    va_end(ap);
    XML_StopParser(p->xp, XML_FALSE);
}

static struct pos here(const struct ddf *p) {
    /* expat counts columns from 0; editors and compilers from 1. */
    return (struct pos){(unsigned long)XML_GetCurrentLineNumber(p->xp),
                        (unsigned long)XML_GetCurrentColumnNumber(p->xp) + 1};
}

/* --- small parsers for element text --- */

static bool parse_id(const char *s, uint16_t *out) {
    unsigned long v = 0;

    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > LWM2M_ID_MAX)
            return false;
    }
    *out = (uint16_t)v;
    return true;
}

static bool valid_version(const char *s) {
    size_t major = 0, minor = 0;

    while (*s >= '0' && *s <= '9')
        s++, major++;
    if (*s++ != '.')
        return false;
    while (*s >= '0' && *s <= '9')
        s++, minor++;
    return *s == '\0' && major > 0 && minor > 0 && major + minor < VERSION_MAX - 1;
}

static int parse_ops(const char *s) {
    static const struct {
        const char *text;
        uint8_t ops;
    } tab[] = {{"", LWM2M_OP_NONE},
               {"R", LWM2M_OP_R},
               {"W", LWM2M_OP_W},
               {"RW", LWM2M_OP_RW},
               {"E", LWM2M_OP_E}};
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        if (strcasecmp(s, tab[i].text) == 0)
            return tab[i].ops;
    return -1;
}

static int parse_type(const char *s) {
    static const struct {
        const char *text;
        uint8_t type;
    } tab[] = {
        {"", LWM2M_TYPE_NONE},           {"String", LWM2M_TYPE_STRING},
        {"Integer", LWM2M_TYPE_INTEGER}, {"Unsigned Integer", LWM2M_TYPE_UNSIGNED},
        {"Float", LWM2M_TYPE_FLOAT},     {"Boolean", LWM2M_TYPE_BOOLEAN},
        {"Opaque", LWM2M_TYPE_OPAQUE},   {"Time", LWM2M_TYPE_TIME},
        {"Objlnk", LWM2M_TYPE_OBJLNK},   {"Corelnk", LWM2M_TYPE_CORELNK},
    };
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        if (strcasecmp(s, tab[i].text) == 0)
            return tab[i].type;
    return -1;
}

/* Parses a two-word choice ("Single"/"Multiple", "Optional"/"Mandatory") into *out. */
static bool parse_choice(const char *s, const char *no, const char *yes, bool *out) {
    if (strcasecmp(s, yes) == 0)
        *out = true;
    else if (strcasecmp(s, no) == 0)
        *out = false;
    else
        return false;
    return true;
}

static const char *attr(const XML_Char **attrs, const char *name) {
    for (size_t i = 0; attrs[i]; i += 2)
        if (strcmp(attrs[i], name) == 0)
            return attrs[i + 1];
    return NULL;
}

static int field_index(const struct field_spec *spec, int n, const char *tag) {
    for (int i = 0; i < n; i++)
        if (strcmp(spec[i].tag, tag) == 0)
            return i;
    return -1;
}

static bool is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Leading and trailing XML whitespace removed, in place. */
static char *trim(char *s, size_t len) {
    while (len > 0 && is_ws(s[len - 1]))
        len--;
    s[len] = '\0';
    while (is_ws(*s))
        s++;
    return s;
}

/* --- building --- */

static void obj_reset(struct obj_build *o) {
    for (size_t i = 0; i < o->nres; i++) {
        free((char *)o->res[i].name);
        free((char *)o->res[i].units);
        free((char *)o->res[i].range.text);
    }
    free(o->res);
    free(o->res_line);
    memset(o, 0, sizeof(*o));
}

static void start_object(struct ddf *p, const XML_Char **attrs) {
    const char *type = attr(attrs, "ObjectType");
    char b[48];

    obj_reset(&p->obj);
    p->obj.at = here(p);
    if (type && strcasecmp(type, "MODefinition") != 0)
        fail(p, LWM2M_ERR_FORMAT, p->obj.at, "<Object> ObjectType must be MODefinition, got '%s'",
             show(type, b));
    p->ctx = C_OBJECT;
}

static void start_item(struct ddf *p, const XML_Char **attrs) {
    struct obj_build *o = &p->obj;
    const char *id = attr(attrs, "ID");
    char b[48];

    memset(&p->item, 0, sizeof(p->item));
    p->item.at = here(p);
    p->ctx = C_ITEM;
    if (!id) {
        fail(p, LWM2M_ERR_FORMAT, p->item.at, "<Item> is missing the ID attribute");
        return;
    }
    if (!parse_id(id, &p->item.id)) {
        fail(p, LWM2M_ERR_FORMAT, p->item.at, "<Item> ID must be an integer 0..65534, got '%s'",
             show(id, b));
        return;
    }
    if (o->ids[p->item.id / 8] & (1u << (p->item.id % 8))) {
        unsigned long first = 0;
        for (size_t i = 0; i < o->nres; i++)
            if (o->res[i].id == p->item.id)
                first = o->res_line[i];
        fail(p, LWM2M_ERR_FORMAT, p->item.at, "duplicate resource ID %u (first at line %lu)",
             (unsigned)p->item.id, first);
        return;
    }
    o->ids[p->item.id / 8] |= (uint8_t)(1u << (p->item.id % 8));
}

static void start_field(struct ddf *p, bool of_item, int field) {
    bool *seen = of_item ? p->item.seen : p->obj.seen;
    struct pos *fpos = of_item ? p->item.fpos : p->obj.fpos;
    const char *tag = of_item ? item_fields[field].tag : obj_fields[field].tag;

    fpos[field] = here(p);
    if (seen[field]) {
        fail(p, LWM2M_ERR_FORMAT, fpos[field], "duplicate <%s> in <%s>", tag,
             of_item ? "Item" : "Object");
        return;
    }
    seen[field] = true;
    p->field_of_item = of_item;
    p->field = field;
    p->text_len = 0;
    p->ctx = C_FIELD;
}

static void on_start(void *ud, const XML_Char *el, const XML_Char **attrs) {
    struct ddf *p = ud;
    char b[48];
    int f;

    if (p->rc)
        return;
    if (p->skip) {
        p->skip++;
        return;
    }
    switch (p->ctx) {
    case C_DOC:
        p->root = here(p);
        if (strcmp(el, "LWM2M") != 0)
            fail(p, LWM2M_ERR_FORMAT, p->root, "root element must be <LWM2M>, got <%s>",
                 show(el, b));
        p->ctx = C_ROOT;
        break;
    case C_ROOT:
        if (strcmp(el, "Object") == 0)
            start_object(p, attrs);
        else
            p->skip = 1;
        break;
    case C_OBJECT:
        if ((f = field_index(obj_fields, OF_COUNT, el)) >= 0) {
            start_field(p, false, f);
        } else if (strcmp(el, "Resources") == 0) {
            if (p->obj.has_resources)
                fail(p, LWM2M_ERR_FORMAT, here(p), "duplicate <Resources> in <Object>");
            p->obj.has_resources = true;
            p->ctx = C_RESOURCES;
        } else {
            p->skip = 1;
        }
        break;
    case C_RESOURCES:
        if (strcmp(el, "Item") == 0)
            start_item(p, attrs);
        else
            p->skip = 1;
        break;
    case C_ITEM:
        if ((f = field_index(item_fields, IF_COUNT, el)) >= 0)
            start_field(p, true, f);
        else
            p->skip = 1;
        break;
    case C_FIELD:
        fail(p, LWM2M_ERR_FORMAT, here(p), "unexpected element <%s> inside <%s>", show(el, b),
             p->field_of_item ? item_fields[p->field].tag : obj_fields[p->field].tag);
        break;
    default: /* C_END: expat itself rejects a second root element */
        break;
    }
}

static void on_text(void *ud, const XML_Char *s, int len) {
    struct ddf *p = ud;
    const char *tag;

    if (p->rc || p->skip || p->ctx != C_FIELD)
        return;
    if ((size_t)len >= TEXT_MAX - p->text_len) {
        tag = p->field_of_item ? item_fields[p->field].tag : obj_fields[p->field].tag;
        fail(p, LWM2M_ERR_FORMAT, p->field_of_item ? p->item.fpos[p->field] : p->obj.fpos[p->field],
             "<%s> is longer than %u bytes", tag, TEXT_MAX - 1);
        return;
    }
    memcpy(p->text + p->text_len, s, (size_t)len);
    p->text_len += (size_t)len;
}

static void end_object_field(struct ddf *p, const char *v) {
    struct obj_build *o = &p->obj;
    struct pos at = o->fpos[p->field];
    char b[48];

    switch (p->field) {
    case OF_NAME:
        if (!*v)
            fail(p, LWM2M_ERR_FORMAT, at, "<Name> must not be empty");
        snprintf(o->name, sizeof(o->name), "%s", v);
        break;
    case OF_ID:
        if (!parse_id(v, &o->id))
            fail(p, LWM2M_ERR_FORMAT, at, "<ObjectID> must be an integer 0..65534, got '%s'",
                 show(v, b));
        break;
    case OF_VERSION:
        if (*v && !valid_version(v))
            fail(p, LWM2M_ERR_FORMAT, at,
                 "<ObjectVersion> must be MAJOR.MINOR (e.g. 1.1), got '%s'", show(v, b));
        else
            /* valid_version() bounds the text; the precision tells the compiler so too. */
            snprintf(o->version, sizeof(o->version), "%.*s", (int)sizeof(o->version) - 1, v);
        break;
    case OF_MULTI:
        if (!parse_choice(v, "Single", "Multiple", &o->multiple))
            fail(p, LWM2M_ERR_FORMAT, at,
                 "<MultipleInstances> must be Single or Multiple, got '%s'", show(v, b));
        break;
    default:
        if (!parse_choice(v, "Optional", "Mandatory", &o->mandatory))
            fail(p, LWM2M_ERR_FORMAT, at, "<Mandatory> must be Mandatory or Optional, got '%s'",
                 show(v, b));
        break;
    }
}

static void end_item_field(struct ddf *p, const char *v) {
    struct item_build *it = &p->item;
    struct pos at = it->fpos[p->field];
    char b[48];
    int x;

    switch (p->field) {
    case IF_NAME:
        if (!*v)
            fail(p, LWM2M_ERR_FORMAT, at, "<Name> must not be empty");
        snprintf(it->name, sizeof(it->name), "%s", v);
        break;
    case IF_OPS:
        if ((x = parse_ops(v)) < 0)
            fail(p, LWM2M_ERR_FORMAT, at,
                 "<Operations> must be one of R, W, RW, E or empty, got '%s'", show(v, b));
        it->ops = (uint8_t)(x < 0 ? 0 : x);
        break;
    case IF_MULTI:
        if (!parse_choice(v, "Single", "Multiple", &it->multiple))
            fail(p, LWM2M_ERR_FORMAT, at,
                 "<MultipleInstances> must be Single or Multiple, got '%s'", show(v, b));
        break;
    case IF_MAND:
        if (!parse_choice(v, "Optional", "Mandatory", &it->mandatory))
            fail(p, LWM2M_ERR_FORMAT, at, "<Mandatory> must be Mandatory or Optional, got '%s'",
                 show(v, b));
        break;
    case IF_TYPE:
        if ((x = parse_type(v)) < 0)
            fail(p, LWM2M_ERR_FORMAT, at,
                 "<Type> must be one of String, Integer, Unsigned Integer, Float, Boolean, Opaque, "
                 "Time, Objlnk, Corelnk or empty, got '%s'",
                 show(v, b));
        it->type = (uint8_t)(x < 0 ? 0 : x);
        break;
    case IF_RANGE:
        snprintf(it->range, sizeof(it->range), "%s", v);
        break;
    default:
        snprintf(it->units, sizeof(it->units), "%s", v);
        break;
    }
}

/* Checks that every required child was there; reports the first missing one at the parent. */
static bool require(struct ddf *p, const struct field_spec *spec, int n, const bool *seen,
                    struct pos at, const char *parent) {
    for (int i = 0; i < n; i++) {
        if (spec[i].required && !seen[i]) {
            fail(p, LWM2M_ERR_FORMAT, at, "<%s> is missing <%s>", parent, spec[i].tag);
            return false;
        }
    }
    return true;
}

static int push_resource(struct obj_build *o, const struct lwm2m_resource_def *r,
                         unsigned long line) {
    if (o->nres == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        struct lwm2m_resource_def *res = realloc(o->res, cap * sizeof(*res));
        unsigned long *lines;
        if (!res)
            return LWM2M_ERR_NOMEM;
        o->res = res;
        lines = realloc(o->res_line, cap * sizeof(*lines));
        if (!lines)
            return LWM2M_ERR_NOMEM;
        o->res_line = lines;
        o->cap = cap;
    }
    o->res[o->nres] = *r;
    o->res_line[o->nres] = line;
    o->nres++;
    return 0;
}

static void end_item(struct ddf *p) {
    struct item_build *it = &p->item;
    struct lwm2m_resource_def r = {0};
    char b[48];

    if (!require(p, item_fields, IF_COUNT, it->seen, it->at, "Item"))
        return;
    if (it->type == LWM2M_TYPE_NONE && !(it->ops & LWM2M_OP_E)) {
        fail(p, LWM2M_ERR_FORMAT, it->fpos[IF_TYPE],
             "<Type> may be empty only for an executable (E) resource");
        return;
    }
    if (lwm2m_range_parse((enum lwm2m_type)it->type, it->range, &r.range) < 0) {
        fail(p, LWM2M_ERR_FORMAT, it->fpos[IF_RANGE],
             "<RangeEnumeration> '%s' has its minimum above its maximum", show(it->range, b));
        return;
    }
    r.id = it->id;
    r.ops = it->ops;
    r.type = it->type;
    r.multiple = it->multiple;
    r.mandatory = it->mandatory;
    r.name = strdup(it->name);
    r.units = strdup(it->units);
    r.range.text = strdup(it->range);
    if (!r.name || !r.units || !r.range.text || push_resource(&p->obj, &r, it->at.line) < 0) {
        free((char *)r.name);
        free((char *)r.units);
        free((char *)r.range.text);
        fail(p, LWM2M_ERR_NOMEM, it->at, "out of memory");
    }
}

static int cmp_res(const void *a, const void *b) {
    const struct lwm2m_resource_def *x = a, *y = b;
    return (int)x->id - (int)y->id;
}

/* Checks the finished object against the model and the objects staged before it. */
static bool object_is_new(struct ddf *p) {
    struct obj_build *o = &p->obj;
    const char *origin = lwm2m_model_origin(p->model, o->id);

    for (size_t i = 0; i < p->nstaged; i++) {
        if (p->staged[i].obj->id == o->id) {
            fail(p, LWM2M_ERR_FORMAT, o->at,
                 "object %u is defined twice in this file (first at line %lu)", (unsigned)o->id,
                 p->staged[i].line);
            return false;
        }
    }
    if (origin && !(p->flags & LWM2M_MODEL_REPLACE)) {
        fail(p, LWM2M_ERR_FORMAT, o->at, "object %u is already defined (%s)", (unsigned)o->id,
             origin);
        return false;
    }
    return true;
}

static int stage(struct ddf *p, struct lwm2m_object_def *obj) {
    struct staged *s = p->staged;
    char *origin = strdup(p->name);

    if (!origin)
        return LWM2M_ERR_NOMEM;
    if (p->nstaged == p->cap_staged) {
        size_t cap = p->cap_staged ? p->cap_staged * 2 : 4;
        s = realloc(p->staged, cap * sizeof(*s));
        if (!s) {
            free(origin);
            return LWM2M_ERR_NOMEM;
        }
        p->staged = s;
        p->cap_staged = cap;
    }
    s[p->nstaged++] = (struct staged){obj, origin, p->obj.at.line};
    return 0;
}

static void end_object(struct ddf *p) {
    struct obj_build *o = &p->obj;
    struct lwm2m_object_def *obj;

    if (!require(p, obj_fields, OF_COUNT, o->seen, o->at, "Object"))
        return;
    if (!o->has_resources) {
        fail(p, LWM2M_ERR_FORMAT, o->at, "<Object> is missing <Resources>");
        return;
    }
    if (!object_is_new(p))
        return;
    if (o->nres > 1)
        qsort(o->res, o->nres, sizeof(*o->res), cmp_res);
    obj = calloc(1, sizeof(*obj));
    if (!obj || !(obj->name = strdup(o->name)) ||
        !(obj->version = strdup(o->version[0] ? o->version : "1.0"))) {
        lwm2m_object_def_free(obj);
        fail(p, LWM2M_ERR_NOMEM, o->at, "out of memory");
        return;
    }
    obj->id = o->id;
    obj->multiple = o->multiple;
    obj->mandatory = o->mandatory;
    /* The resources move to the definition; the builder forgets them. */
    obj->res = o->res;
    obj->nres = o->nres;
    o->res = NULL;
    o->nres = o->cap = 0;
    if (stage(p, obj) < 0) {
        lwm2m_object_def_free(obj);
        fail(p, LWM2M_ERR_NOMEM, o->at, "out of memory");
    }
}

static void on_end(void *ud, const XML_Char *el) {
    struct ddf *p = ud;
    (void)el; /* expat has already matched it with its start tag */

    if (p->rc)
        return;
    if (p->skip) {
        p->skip--;
        return;
    }
    switch (p->ctx) {
    case C_FIELD:
        p->text[p->text_len] = '\0';
        if (p->field_of_item) {
            end_item_field(p, trim(p->text, p->text_len));
            p->ctx = C_ITEM;
        } else {
            end_object_field(p, trim(p->text, p->text_len));
            p->ctx = C_OBJECT;
        }
        break;
    case C_ITEM:
        end_item(p);
        p->ctx = C_RESOURCES;
        break;
    case C_RESOURCES:
        p->ctx = C_OBJECT;
        break;
    case C_OBJECT:
        end_object(p);
        p->ctx = C_ROOT;
        break;
    case C_ROOT:
        if (p->nstaged == 0)
            fail(p, LWM2M_ERR_FORMAT, p->root, "<LWM2M> contains no <Object>");
        p->ctx = C_END;
        break;
    default:
        break;
    }
}

static void on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                       int has_internal_subset) {
    struct ddf *p = ud;
    /* No DDF needs a DTD, and refusing it keeps entity expansion out of the picture. */
    fail(p, LWM2M_ERR_FORMAT, here(p), "DOCTYPE declarations are not accepted");
}

/* Runs expat over the whole buffer; on success p->staged holds the objects. */
static void parse(struct ddf *p, const void *buf, size_t len) {
    p->xp = XML_ParserCreate(NULL);
    if (!p->xp) {
        p->rc = LWM2M_ERR_NOMEM;
        report(p->err, p->name, "out of memory");
        return;
    }
    XML_SetUserData(p->xp, p);
    XML_SetElementHandler(p->xp, on_start, on_end);
    XML_SetCharacterDataHandler(p->xp, on_text);
    XML_SetStartDoctypeDeclHandler(p->xp, on_doctype);
    if (XML_Parse(p->xp, buf, (int)len, XML_TRUE) == XML_STATUS_ERROR && !p->rc) {
        struct pos at = {(unsigned long)XML_GetErrorLineNumber(p->xp),
                         (unsigned long)XML_GetErrorColumnNumber(p->xp) + 1};
        fail(p, LWM2M_ERR_FORMAT, at, "XML not well-formed: %s",
             XML_ErrorString(XML_GetErrorCode(p->xp)));
    }
    XML_ParserFree(p->xp);
    p->xp = NULL;
}

static void ddf_free(struct ddf *p) {
    for (size_t i = 0; i < p->nstaged; i++) {
        lwm2m_object_def_free(p->staged[i].obj);
        free(p->staged[i].origin);
    }
    free(p->staged);
    obj_reset(&p->obj);
    free(p);
}

int lwm2m_model_load_ddf(struct lwm2m_model *m, const char *name, const void *buf, size_t len,
                         unsigned flags, struct lwm2m_model_error *err) {
    struct ddf *p;
    int rc;

    if (err)
        memset(err, 0, sizeof(*err));
    if (lwm2m_model_sealed(m)) {
        report(err, name, "the model is sealed: load definitions before starting the engine");
        return LWM2M_ERR_STATE;
    }
    if (len > DDF_MAX_BYTES) {
        report(err, name, "larger than %u bytes", DDF_MAX_BYTES);
        return LWM2M_ERR_FORMAT;
    }
    p = calloc(1, sizeof(*p));
    if (!p) {
        report(err, name, "out of memory");
        return LWM2M_ERR_NOMEM;
    }
    *p = (struct ddf){.model = m, .name = name, .flags = flags, .err = err};
    parse(p, buf, len);
    rc = p->rc;
    if (rc == 0 && (rc = lwm2m_model_reserve(m, p->nstaged)) < 0)
        report(err, name, "out of memory");
    if (rc == 0) {
        for (size_t i = 0; i < p->nstaged; i++)
            lwm2m_model_commit(m, p->staged[i].obj, p->staged[i].origin);
        p->nstaged = 0; /* the model owns them now */
    }
    ddf_free(p);
    return rc;
}
