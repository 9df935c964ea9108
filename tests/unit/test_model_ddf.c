/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the OMA DDF XML loader (model_ddf.c): the example files in config/models, a
 * document loaded from a buffer, replacing built-ins, all-or-nothing loads, and a table of
 * malformed documents with the exact "file:line:column: what" message each must produce. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lwm2m/error.h"
#include "lwm2m/model.h"

/* config/models, found from this file's path (CMake compiles it by absolute path). */
static const char *models_dir(void) {
    static char dir[4096];
    const char *file = __FILE__;
    const char *suffix = "tests/unit/test_model_ddf.c";
    size_t n = strlen(file), k = strlen(suffix);

    assert_true(n >= k && strcmp(&file[n - k], suffix) == 0);
    snprintf(dir, sizeof(dir), "%.*sconfig/models", (int)(n - k), file);
    return dir;
}

static int setup(void **state) {
    struct lwm2m_model *m;
    if (lwm2m_model_new(&m) != 0)
        return -1;
    *state = m;
    return 0;
}

static int teardown(void **state) {
    lwm2m_model_free(*state);
    return 0;
}

static int load(void **state, const char *doc, unsigned flags, struct lwm2m_model_error *err) {
    return lwm2m_model_load_ddf(*state, "t.xml", doc, strlen(doc), flags, err);
}

static void test_load_example_file(void **state) {
    struct lwm2m_model_error err;
    char path[4200];
    const struct lwm2m_object_def *o;
    const struct lwm2m_resource_def *r;

    snprintf(path, sizeof(path), "%s/10250-plant-meter.xml", models_dir());
    assert_int_equal(lwm2m_model_load_ddf_file(*state, path, 0, &err), 0);
    o = lwm2m_model_object(*state, 10250);
    assert_non_null(o);
    assert_string_equal(o->name, "Plant Meter");
    assert_string_equal(o->version, "1.1");
    assert_true(o->multiple);
    assert_false(o->mandatory);
    assert_int_equal(o->nres, 10);
    assert_false(lwm2m_model_is_builtin(*state, 10250));

    r = lwm2m_object_resource(o, 0);
    assert_string_equal(r->name, "Meter Serial");
    assert_int_equal(r->type, LWM2M_TYPE_STRING);
    assert_int_equal(r->range.kind, LWM2M_RANGE_LENGTH);
    assert_true(r->range.max == 32);
    r = lwm2m_object_resource(o, 2);
    assert_int_equal(r->range.kind, LWM2M_RANGE_VALUE);
    assert_true(r->range.min == -100000 && r->range.max == 100000);
    assert_string_equal(r->units, "W");
    r = lwm2m_object_resource(o, 3);
    assert_true(r->multiple);
    r = lwm2m_object_resource(o, 4);
    assert_int_equal(r->ops, LWM2M_OP_RW);
    assert_string_equal(r->range.text, "1-4");
    assert_true(r->range.min == 1 && r->range.max == 4);
    r = lwm2m_object_resource(o, 6);
    assert_int_equal(r->ops, LWM2M_OP_E);
    assert_int_equal(r->type, LWM2M_TYPE_NONE);
    assert_int_equal(lwm2m_object_resource(o, 7)->type, LWM2M_TYPE_TIME);
    assert_int_equal(lwm2m_object_resource(o, 8)->type, LWM2M_TYPE_UNSIGNED);
    r = lwm2m_object_resource(o, 9);
    assert_int_equal(r->range.kind, LWM2M_RANGE_TEXT);
    assert_string_equal(r->range.text, "free text, set by the installer");

    /* Range checks work on loaded definitions like on built-in ones. */
    {
        struct lwm2m_path p = {.ids = {10250, 0, 4}, .len = 3};
        struct lwm2m_value v = {.type = LWM2M_TYPE_INTEGER, .v.i = 4};
        assert_int_equal(lwm2m_model_check_value(*state, &p, &v), 0);
        v.v.i = 5;
        assert_int_equal(lwm2m_model_check_value(*state, &p, &v), LWM2M_ERR_INVALID);
    }

    /* A second load of the same id names where the first came from. */
    assert_int_equal(lwm2m_model_load_ddf_file(*state, path, 0, &err), LWM2M_ERR_FORMAT);
    assert_non_null(strstr(err.msg, ":6:3: object 10250 is already defined ("));
    assert_non_null(strstr(err.msg, "10250-plant-meter.xml)"));
}

static void test_load_dir(void **state) {
    struct lwm2m_model_error err;
    size_t n = 99;
    size_t count = lwm2m_model_count(*state);

    assert_int_equal(lwm2m_model_load_ddf_dir(*state, models_dir(), 0, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(lwm2m_model_count(*state), count + 2);
    assert_string_equal(lwm2m_model_object(*state, 10251)->name, "Tank Level");
    assert_string_equal(lwm2m_model_object(*state, 10251)->version, "1.0"); /* no ObjectVersion */
    assert_int_equal(lwm2m_model_resource(*state, 10251, 3)->type, LWM2M_TYPE_OBJLNK);
    assert_string_equal(lwm2m_model_resource(*state, 10251, 1)->units, "");
    for (size_t i = 1; i < lwm2m_model_count(*state); i++)
        assert_true(lwm2m_model_object_at(*state, i - 1)->id <
                    lwm2m_model_object_at(*state, i)->id);
}

static void test_io_errors(void **state) {
    struct lwm2m_model_error err;
    size_t n = 5;

    assert_int_equal(lwm2m_model_load_ddf_file(*state, "/nonexistent/x.xml", 0, &err),
                     LWM2M_ERR_IO);
    assert_string_equal(err.msg, "/nonexistent/x.xml: cannot open: No such file or directory");
    assert_int_equal(err.line, 0);
    assert_int_equal(lwm2m_model_load_ddf_dir(*state, "/nonexistent", 0, &n, &err), LWM2M_ERR_IO);
    assert_int_equal(n, 0);
    assert_string_equal(err.msg, "/nonexistent: cannot open directory: No such file or directory");
    assert_int_equal(lwm2m_model_load_ddf_file(*state, models_dir(), 0, &err), LWM2M_ERR_IO);
}

/* Registry-style whitespace, CDATA, unknown elements, any resource order, case-insensitive
 * keywords and several objects in one document. */
static const char good_doc[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<LWM2M xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n"
    "  <Object ObjectType=\"MODefinition\">\n"
    "    <Name>\n      Valve\n    </Name>\n"
    "    <Description1><![CDATA[A <valve>.]]><Extra><Nested/></Extra></Description1>\n"
    "    <ObjectID> 26241 </ObjectID>\n"
    "    <MultipleInstances>single</MultipleInstances>\n"
    "    <Mandatory>OPTIONAL</Mandatory>\n"
    "    <Resources>\n"
    "      <Item ID=\"9\"><Name>Open</Name><Operations>e</Operations>\n"
    "        <MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory>\n"
    "        <Type/><RangeEnumeration/><Units/><Description>opens</Description></Item>\n"
    "      <Item ID=\"2\"><Name><![CDATA[Position]]></Name><Operations>RW</Operations>\n"
    "        <MultipleInstances>Multiple</MultipleInstances><Mandatory>Mandatory</Mandatory>\n"
    "        <Type>unsigned integer</Type><RangeEnumeration> 0..100 </RangeEnumeration>\n"
    "        <Units>%</Units></Item>\n"
    "    </Resources>\n"
    "    <Description2/>\n"
    "  </Object>\n"
    "  <Object ObjectType=\"MODefinition\"><Name>Empty</Name><ObjectID>26242</ObjectID>\n"
    "    <ObjectVersion>2.10</ObjectVersion><MultipleInstances>Multiple</MultipleInstances>\n"
    "    <Mandatory>Mandatory</Mandatory><Resources/></Object>\n"
    "</LWM2M>\n";

static void test_load_buffer(void **state) {
    struct lwm2m_model_error err;
    const struct lwm2m_object_def *o;
    const struct lwm2m_resource_def *r;

    assert_int_equal(load(state, good_doc, 0, &err), 0);
    o = lwm2m_model_object(*state, 26241);
    assert_non_null(o);
    assert_string_equal(o->name, "Valve");
    assert_string_equal(o->version, "1.0");
    assert_false(o->multiple);
    assert_false(o->mandatory);
    assert_int_equal(o->nres, 2);
    assert_int_equal(o->res[0].id, 2); /* sorted */
    assert_int_equal(o->res[1].id, 9);
    r = &o->res[0];
    assert_string_equal(r->name, "Position");
    assert_int_equal(r->type, LWM2M_TYPE_UNSIGNED);
    assert_int_equal(r->ops, LWM2M_OP_RW);
    assert_true(r->multiple);
    assert_true(r->mandatory);
    assert_string_equal(r->range.text, "0..100");
    assert_int_equal(r->range.kind, LWM2M_RANGE_VALUE);
    assert_string_equal(r->units, "%");
    r = &o->res[1];
    assert_int_equal(r->ops, LWM2M_OP_E);
    assert_int_equal(r->type, LWM2M_TYPE_NONE);
    assert_int_equal(r->range.kind, LWM2M_RANGE_NONE);
    o = lwm2m_model_object(*state, 26242);
    assert_non_null(o);
    assert_string_equal(o->version, "2.10");
    assert_int_equal(o->nres, 0);
    assert_null(lwm2m_object_resource(o, 0));
}

static const char temperature_v2[] =
    "<LWM2M><Object ObjectType=\"MODefinition\"><Name>Temperature</Name>\n"
    "<ObjectID>3303</ObjectID><ObjectVersion>1.1</ObjectVersion>\n"
    "<MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory><Resources>\n"
    "<Item ID=\"5700\"><Name>Sensor Value</Name><Operations>R</Operations>"
    "<MultipleInstances>Single</MultipleInstances><Mandatory>Mandatory</Mandatory>"
    "<Type>Float</Type><RangeEnumeration>-40..125</RangeEnumeration><Units>Cel</Units></Item>\n"
    "</Resources></Object></LWM2M>\n";

static void test_replace_builtin(void **state) {
    struct lwm2m_model_error err;
    size_t count = lwm2m_model_count(*state);
    const struct lwm2m_resource_def *r;

    assert_int_equal(load(state, temperature_v2, 0, &err), LWM2M_ERR_FORMAT);
    assert_string_equal(err.msg, "t.xml:1:8: object 3303 is already defined (built-in)");
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 8);
    assert_true(lwm2m_model_is_builtin(*state, 3303));

    assert_int_equal(load(state, temperature_v2, LWM2M_MODEL_REPLACE, &err), 0);
    assert_int_equal(lwm2m_model_count(*state), count);
    assert_false(lwm2m_model_is_builtin(*state, 3303));
    assert_string_equal(lwm2m_model_object(*state, 3303)->version, "1.1");
    r = lwm2m_model_resource(*state, 3303, 5700);
    assert_string_equal(r->units, "Cel");
    assert_true(r->range.min == -40 && r->range.max == 125);
    assert_null(lwm2m_model_resource(*state, 3303, 5601));

    /* A loaded definition is replaced the same way (the old one is freed: ASan watches). */
    assert_int_equal(
        lwm2m_model_load_ddf(*state, "u.xml", temperature_v2, strlen(temperature_v2), 0, &err),
        LWM2M_ERR_FORMAT);
    assert_string_equal(err.msg, "u.xml:1:8: object 3303 is already defined (t.xml)");
    assert_int_equal(load(state, temperature_v2, LWM2M_MODEL_REPLACE, NULL), 0);
}

/* One bad object spoils the whole document: nothing of it is loaded. */
static void test_all_or_nothing(void **state) {
    static const char doc[] =
        "<LWM2M><Object><Name>A</Name><ObjectID>30000</ObjectID>"
        "<MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory>"
        "<Resources/></Object>\n"
        "<Object><Name>B</Name><ObjectID>30001</ObjectID>"
        "<MultipleInstances>Single</MultipleInstances><Mandatory>Maybe</Mandatory>"
        "<Resources/></Object></LWM2M>";
    struct lwm2m_model_error err;
    size_t count = lwm2m_model_count(*state);

    assert_int_equal(load(state, doc, 0, &err), LWM2M_ERR_FORMAT);
    assert_string_equal(err.msg, "t.xml:2:94: <Mandatory> must be Mandatory or Optional, got "
                                 "'Maybe'");
    assert_null(lwm2m_model_object(*state, 30000));
    assert_int_equal(lwm2m_model_count(*state), count);
}

static void test_sealed_and_limits(void **state) {
    struct lwm2m_model_error err;
    char *big;
    size_t n = 4u * 1024u * 1024u + 1;

    big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    assert_int_equal(lwm2m_model_load_ddf(*state, "big.xml", big, n, 0, &err), LWM2M_ERR_FORMAT);
    assert_string_equal(err.msg, "big.xml: larger than 4194304 bytes");
    free(big);

    lwm2m_model_seal(*state);
    assert_int_equal(load(state, good_doc, 0, &err), LWM2M_ERR_STATE);
    assert_null(lwm2m_model_object(*state, 26241));
}

/* --- malformed documents: exact messages --- */

#define OBJHEAD(name, id, multi, extra)                                                            \
    "<Object ObjectType=\"MODefinition\">\n<Name>" name "</Name><ObjectID>" id "</ObjectID>\n"     \
    "<MultipleInstances>" multi "</MultipleInstances><Mandatory>Optional</Mandatory>\n" extra      \
    "<Resources>\n"
#define HEADX(name, id, multi, extra) "<LWM2M>\n" OBJHEAD(name, id, multi, extra)
#define HEAD                          HEADX("Test", "10300", "Multiple", "")
#define OBJTAIL                       "\n</Resources>\n</Object>\n"
#define TAIL                          OBJTAIL "</LWM2M>\n"
#define FIELDS(ops, multi, mand)                                                                   \
    "<Name>A</Name><Operations>" ops "</Operations><MultipleInstances>" multi                      \
    "</MultipleInstances><Mandatory>" mand "</Mandatory>"
#define FX(ops, multi, mand, type, extra) FIELDS(ops, multi, mand) "<Type>" type "</Type>" extra
#define F(ops, type, extra)               FX(ops, "Single", "Optional", type, extra)
#define ITEM(attrs, inner)                "<Item" attrs ">" inner "</Item>"
#define OK_ITEM                           ITEM(" ID=\"1\"", F("R", "Float", ""))

static const struct {
    const char *doc;
    const char *msg;
} bad[] = {
    {HEAD ITEM(" ID=\"1\"", F("R", "Number", "")) TAIL,
     "t.xml:6:130: <Type> must be one of String, Integer, Unsigned Integer, Float, Boolean, "
     "Opaque, Time, Objlnk, Corelnk or empty, got 'Number'"},
    {HEAD ITEM(" ID=\"1\"", F("RX", "Float", "")) TAIL,
     "t.xml:6:28: <Operations> must be one of R, W, RW, E or empty, got 'RX'"},
    {HEAD ITEM(" ID=\"1\"", FX("R", "Many", "Optional", "Float", "")) TAIL,
     "t.xml:6:54: <MultipleInstances> must be Single or Multiple, got 'Many'"},
    {HEAD ITEM(" ID=\"1\"", FX("R", "Single", "Yes", "Float", "")) TAIL,
     "t.xml:6:99: <Mandatory> must be Mandatory or Optional, got 'Yes'"},
    {HEAD OK_ITEM "\n  " OK_ITEM TAIL, "t.xml:7:3: duplicate resource ID 1 (first at line 6)"},
    {HEAD ITEM("", F("R", "Float", "")) TAIL, "t.xml:6:1: <Item> is missing the ID attribute"},
    {HEAD ITEM(" ID=\"x1\"", F("R", "Float", "")) TAIL,
     "t.xml:6:1: <Item> ID must be an integer 0..65534, got 'x1'"},
    {HEAD ITEM(" ID=\"65535\"", F("R", "Float", "")) TAIL,
     "t.xml:6:1: <Item> ID must be an integer 0..65534, got '65535'"},
    {HEAD ITEM(" ID=\"1\"", FIELDS("R", "Single", "Optional")) TAIL,
     "t.xml:6:1: <Item> is missing <Type>"},
    {HEAD ITEM(" ID=\"1\"", F("R", "", "")) TAIL,
     "t.xml:6:130: <Type> may be empty only for an executable (E) resource"},
    {HEAD ITEM(" ID=\"1\"", F("R", "Float", "<RangeEnumeration>10..5</RangeEnumeration>")) TAIL,
     "t.xml:6:148: <RangeEnumeration> '10..5' has its minimum above its maximum"},
    {HEAD ITEM(" ID=\"1\"", F("R", "Float", "<Name>B</Name>")) TAIL,
     "t.xml:6:148: duplicate <Name> in <Item>"},
    {HEAD ITEM(" ID=\"1\"", F("R", "Float<b>x</b>", "")) TAIL,
     "t.xml:6:141: unexpected element <b> inside <Type>"},
    {"<LWM2M>\n  <Object ObjectType=\"MOInstance\">\n  </Object>\n</LWM2M>\n",
     "t.xml:2:3: <Object> ObjectType must be MODefinition, got 'MOInstance'"},
    {"<LWM2M>\n<Object ObjectType=\"MODefinition\">\n<Name>Test</Name>\n"
     "<MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory>\n"
     "<Resources>\n" OK_ITEM TAIL,
     "t.xml:2:1: <Object> is missing <ObjectID>"},
    {HEADX("Test", "3303a", "Multiple", "") OK_ITEM TAIL,
     "t.xml:3:18: <ObjectID> must be an integer 0..65534, got '3303a'"},
    {HEADX("Test", "10300", "Multiple", "<ObjectVersion>v2</ObjectVersion>\n") OK_ITEM TAIL,
     "t.xml:5:1: <ObjectVersion> must be MAJOR.MINOR (e.g. 1.1), got 'v2'"},
    {"<LWM2M>\n<Object>\n<Name>T</Name><ObjectID>10300</ObjectID><MultipleInstances>Single"
     "</MultipleInstances><Mandatory>Optional</Mandatory>\n</Object>\n</LWM2M>",
     "t.xml:2:1: <Object> is missing <Resources>"},
    {HEADX(" ", "10300", "Multiple", "") OK_ITEM TAIL, "t.xml:3:1: <Name> must not be empty"},
    {HEADX("Test", "10300", "multiple instances", "") OK_ITEM TAIL,
     "t.xml:4:1: <MultipleInstances> must be Single or Multiple, got 'multiple instances'"},
    {HEAD OK_ITEM OBJTAIL OBJHEAD("Test", "10300", "Multiple", "") OK_ITEM TAIL,
     "t.xml:9:1: object 10300 is defined twice in this file (first at line 2)"},
    {HEADX("Test", "3303", "Multiple", "") OK_ITEM TAIL,
     "t.xml:2:1: object 3303 is already defined (built-in)"},
    {"<?xml version=\"1.0\"?>\n<Objects/>\n",
     "t.xml:2:1: root element must be <LWM2M>, got <Objects>"},
    {"<LWM2M>\n  <Comment>none</Comment>\n</LWM2M>\n", "t.xml:1:1: <LWM2M> contains no <Object>"},
    {"<LWM2M>\n  <Object>\n  </Objekt>\n</LWM2M>\n",
     "t.xml:3:5: XML not well-formed: mismatched tag" /* expat points at the name */},
    {HEAD OK_ITEM TAIL "<LWM2M/>", "t.xml:10:1: XML not well-formed: junk after document element"},
    {HEADX("A & B", "10300", "Multiple", "") OK_ITEM TAIL,
     "t.xml:3:10: XML not well-formed: "
     "not well-formed (invalid token)" /* the blank after the '&' */},
    {"", "t.xml:1:1: XML not well-formed: no element found"},
    {"<?xml version=\"1.0\"?>\n<!DOCTYPE LWM2M>\n<LWM2M/>",
     "t.xml:2:16: DOCTYPE declarations are not accepted"},
    {"<LWM2M><Object><Name>ab</Name><Name/></Object></LWM2M>",
     "t.xml:1:31: duplicate <Name> in <Object>"},
    {"<LWM2M><Object><Resources/><Resources/></Object></LWM2M>",
     "t.xml:1:28: duplicate <Resources> in <Object>"},
    {"<LWM2M><Object><Name>A</Name><ObjectID>1234567890123456789012345678901234567890123"
     "</ObjectID></Object></LWM2M>",
     "t.xml:1:30: <ObjectID> must be an integer 0..65534, got "
     "'1234567890123456789012345678901234567890...'"},
    {"<LWM2M><Object><Name>A</Name><ObjectID>1\t\x7f</ObjectID></Object></LWM2M>",
     "t.xml:1:30: <ObjectID> must be an integer 0..65534, got '1?"
     "?'"},
};

static void test_malformed(void **state) {
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct lwm2m_model_error err;
        size_t count = lwm2m_model_count(*state);
        int rc = load(state, bad[i].doc, 0, &err);
        if (rc != LWM2M_ERR_FORMAT || strcmp(err.msg, bad[i].msg) != 0)
            fail_msg("case %zu: rc %d, message\n  got  '%s'\n  want '%s'", i, rc, err.msg,
                     bad[i].msg);
        assert_true(err.line >= 1 && err.column >= 1);
        assert_int_equal(lwm2m_model_count(*state), count);
    }
}

static void test_too_long_text(void **state) {
    struct lwm2m_model_error err;
    size_t n = 2048;
    char *doc = malloc(n + 100);
    int k;

    assert_non_null(doc);
    k = snprintf(doc, n + 100, "<LWM2M><Object>\n  <Name>");
    memset(doc + k, 'x', 1024);
    strcpy(doc + k + 1024, "</Name></Object></LWM2M>");
    assert_int_equal(load(state, doc, 0, &err), LWM2M_ERR_FORMAT);
    assert_string_equal(err.msg, "t.xml:2:3: <Name> is longer than 1023 bytes");
    /* 1023 bytes is fine (and then <ObjectID> is missing). */
    strcpy(doc + k + 1023, "</Name><Resources/></Object></LWM2M>");
    assert_int_equal(load(state, doc, 0, &err), LWM2M_ERR_FORMAT);
    assert_string_equal(err.msg, "t.xml:1:8: <Object> is missing <ObjectID>");
    free(doc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_example_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_io_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_builtin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sealed_and_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_long_text, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
