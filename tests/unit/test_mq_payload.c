/* SPDX-License-Identifier: Apache-2.0 */
/* Vectors for the MQTT payload codec: plain text by wanted type, JSON pointers (RFC 6901 §5
 * examples, ~0 ~1 escapes, arrays), hex and base64 (RFC 4648 §10), malformed payloads that must
 * fail cleanly, and command payload encoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mqtt/mq.h"

struct fx {
    struct mq_buf scratch;
    struct adapter_value v;
};

static int setup(void **state) {
    static struct fx f;
    memset(&f, 0, sizeof(f));
    *state = &f;
    return 0;
}

static int teardown(void **state) {
    struct fx *f = *state;
    mq_buf_free(&f->scratch);
    return 0;
}

static int dec(struct fx *f, const char *payload, enum mq_format fmt, const char *ptr,
               uint8_t want) {
    return mq_payload_decode((const uint8_t *)payload, strlen(payload), fmt, ptr, want, NULL,
                             &f->scratch, &f->v);
}

static void assert_str(const struct adapter_value *v, uint8_t type, const char *s) {
    assert_int_equal(v->type, type);
    assert_int_equal(v->v.bytes.len, strlen(s));
    assert_memory_equal(v->v.bytes.ptr, s, strlen(s));
}

static void test_text(void **state) {
    struct fx *f = *state;
    assert_int_equal(dec(f, " 23.5\n", MQ_FMT_TEXT, NULL, ADAPTER_V_DOUBLE), 0);
    assert_int_equal(f->v.type, ADAPTER_V_DOUBLE);
    assert_true(f->v.v.f == 23.5);
    assert_int_equal(f->v.quality, ADAPTER_Q_GOOD);
    assert_int_equal(dec(f, "-42", MQ_FMT_TEXT, NULL, ADAPTER_V_INT), 0);
    assert_int_equal(f->v.v.i, -42);
    assert_int_equal(dec(f, "1e3", MQ_FMT_TEXT, NULL, ADAPTER_V_INT), 0);
    assert_int_equal(f->v.v.i, 1000);
    assert_int_equal(dec(f, "12.5", MQ_FMT_TEXT, NULL, ADAPTER_V_INT), -EDOM);
    assert_int_equal(f->v.quality, ADAPTER_Q_BAD_DATA);
    assert_int_equal(f->v.type, ADAPTER_V_NONE);
    assert_int_equal(dec(f, "18446744073709551615", MQ_FMT_TEXT, NULL, ADAPTER_V_UINT), 0);
    assert_true(f->v.v.u == UINT64_MAX);
    assert_int_equal(dec(f, "-1", MQ_FMT_TEXT, NULL, ADAPTER_V_UINT), -EDOM);
    assert_int_equal(dec(f, "9223372036854775808", MQ_FMT_TEXT, NULL, ADAPTER_V_INT), -EDOM);
    assert_int_equal(dec(f, "ON", MQ_FMT_TEXT, NULL, ADAPTER_V_BOOL), 0);
    assert_true(f->v.v.b);
    assert_int_equal(dec(f, "0", MQ_FMT_TEXT, NULL, ADAPTER_V_BOOL), 0);
    assert_false(f->v.v.b);
    assert_int_equal(dec(f, "maybe", MQ_FMT_TEXT, NULL, ADAPTER_V_BOOL), -EDOM);
    /* strtod would take these; a sensor value never is one. */
    assert_int_equal(dec(f, "nan", MQ_FMT_TEXT, NULL, ADAPTER_V_DOUBLE), -EDOM);
    assert_int_equal(dec(f, "inf", MQ_FMT_TEXT, NULL, ADAPTER_V_DOUBLE), -EDOM);
    assert_int_equal(dec(f, "0x10", MQ_FMT_TEXT, NULL, ADAPTER_V_DOUBLE), -EDOM);
    assert_int_equal(dec(f, "1e999", MQ_FMT_TEXT, NULL, ADAPTER_V_DOUBLE), -EDOM);
    assert_int_equal(dec(f, "", MQ_FMT_TEXT, NULL, ADAPTER_V_DOUBLE), -EDOM);
    assert_int_equal(dec(f, " hello ", MQ_FMT_TEXT, NULL, ADAPTER_V_STRING), 0);
    assert_str(&f->v, ADAPTER_V_STRING, " hello ");
    assert_int_equal(dec(f, "\xff\xfe", MQ_FMT_TEXT, NULL, ADAPTER_V_STRING), -EDOM);
    assert_int_equal(dec(f, "\xed\xa0\x80", MQ_FMT_TEXT, NULL, ADAPTER_V_STRING), -EDOM);
    assert_int_equal(dec(f, "\xc0\xaf", MQ_FMT_TEXT, NULL, ADAPTER_V_STRING), -EDOM);
    assert_int_equal(dec(f, "caf\xc3\xa9", MQ_FMT_TEXT, NULL, ADAPTER_V_STRING), 0);
    /* auto: the payload decides */
    assert_int_equal(dec(f, "true", MQ_FMT_TEXT, NULL, ADAPTER_V_NONE), 0);
    assert_int_equal(f->v.type, ADAPTER_V_BOOL);
    assert_int_equal(dec(f, "17", MQ_FMT_TEXT, NULL, ADAPTER_V_NONE), 0);
    assert_int_equal(f->v.type, ADAPTER_V_INT);
    assert_int_equal(dec(f, "17.25", MQ_FMT_TEXT, NULL, ADAPTER_V_NONE), 0);
    assert_int_equal(f->v.type, ADAPTER_V_DOUBLE);
    assert_int_equal(dec(f, "1e3", MQ_FMT_TEXT, NULL, ADAPTER_V_NONE), 0);
    assert_int_equal(f->v.type, ADAPTER_V_DOUBLE);
    assert_int_equal(dec(f, "on", MQ_FMT_TEXT, NULL, ADAPTER_V_NONE), 0);
    assert_str(&f->v, ADAPTER_V_STRING, "on");
    assert_int_equal(dec(f, "\xff", MQ_FMT_TEXT, NULL, ADAPTER_V_NONE), 0);
    assert_int_equal(f->v.type, ADAPTER_V_BYTES);
}

/* RFC 6901 §5: the example document and every pointer in it. */
static const char rfc6901_doc[] = "{\"foo\": [\"bar\", \"baz\"], \"\": 0, \"a/b\": 1, \"c%d\": 2, "
                                  "\"e^f\": 3, \"g|h\": 4, \"i\\\\j\": 5, \"k\\\"l\": 6, \" \": 7, "
                                  "\"m~n\": 8}";

static void test_json_pointer_rfc6901(void **state) {
    struct fx *f = *state;
    static const struct {
        const char *ptr;
        int64_t value;
    } v[] = {{"/", 0},     {"/a~1b", 1}, {"/c%d", 2}, {"/e^f", 3}, {"/g|h", 4},
             {"/i\\j", 5}, {"/k\"l", 6}, {"/ ", 7},   {"/m~0n", 8}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_int_equal(dec(f, rfc6901_doc, MQ_FMT_JSON, v[i].ptr, ADAPTER_V_INT), 0);
        assert_int_equal(f->v.v.i, v[i].value);
    }
    assert_int_equal(dec(f, rfc6901_doc, MQ_FMT_JSON, "/foo/0", ADAPTER_V_STRING), 0);
    assert_str(&f->v, ADAPTER_V_STRING, "bar");
    assert_int_equal(dec(f, rfc6901_doc, MQ_FMT_JSON, "/foo/1", ADAPTER_V_NONE), 0);
    assert_str(&f->v, ADAPTER_V_STRING, "baz");
    assert_int_equal(dec(f, rfc6901_doc, MQ_FMT_JSON, "/foo/2", ADAPTER_V_NONE), -ENOENT);
    assert_int_equal(dec(f, rfc6901_doc, MQ_FMT_JSON, "/foo/-", ADAPTER_V_NONE), -ENOENT);
    assert_int_equal(dec(f, rfc6901_doc, MQ_FMT_JSON, "/foo/01", ADAPTER_V_NONE), -ENOENT);
    assert_int_equal(dec(f, rfc6901_doc, MQ_FMT_JSON, "/foo/x", ADAPTER_V_NONE), -ENOENT);
    assert_int_equal(dec(f, rfc6901_doc, MQ_FMT_JSON, "/a~1b/x", ADAPTER_V_NONE), -ENOENT);
    assert_int_equal(dec(f, rfc6901_doc, MQ_FMT_JSON, "/nope", ADAPTER_V_NONE), -ENOENT);
    /* the whole document as a string resource */
    assert_int_equal(dec(f, "[1, {\"a\": true}]", MQ_FMT_JSON, "", ADAPTER_V_STRING), 0);
    assert_str(&f->v, ADAPTER_V_STRING, "[1,{\"a\":true}]");

    assert_int_equal(mq_json_pointer_check(""), 0);
    assert_int_equal(mq_json_pointer_check("/a~0~1/0"), 0);
    assert_int_equal(mq_json_pointer_check("a"), -EINVAL);
    assert_int_equal(mq_json_pointer_check("/a~2"), -EINVAL);
    assert_int_equal(mq_json_pointer_check("/a~"), -EINVAL);
    assert_int_equal(dec(f, rfc6901_doc, MQ_FMT_JSON, "/m~2n", ADAPTER_V_NONE), -EINVAL);
}

static void test_json_types(void **state) {
    struct fx *f = *state;
    const char *doc = "{\"t\": 21.5, \"n\": 7, \"on\": true, \"s\": \"12.5\", \"neg\": -3, "
                      "\"r\": 4.0, \"nul\": null, \"o\": {\"x\": [10, 20]}, \"b\": \"AQID\"}";
    assert_int_equal(dec(f, doc, MQ_FMT_JSON, "/t", ADAPTER_V_DOUBLE), 0);
    assert_true(f->v.v.f == 21.5);
    assert_int_equal(dec(f, doc, MQ_FMT_JSON, "/t", ADAPTER_V_INT), -EDOM);
    assert_int_equal(dec(f, doc, MQ_FMT_JSON, "/n", ADAPTER_V_DOUBLE), 0);
    assert_true(f->v.v.f == 7.0);
    assert_int_equal(dec(f, doc, MQ_FMT_JSON, "/r", ADAPTER_V_INT), 0);
    assert_int_equal(f->v.v.i, 4);
    assert_int_equal(dec(f, doc, MQ_FMT_JSON, "/neg", ADAPTER_V_UINT), -EDOM);
    assert_int_equal(dec(f, doc, MQ_FMT_JSON, "/on", ADAPTER_V_BOOL), 0);
    assert_true(f->v.v.b);
    assert_int_equal(dec(f, doc, MQ_FMT_JSON, "/on", ADAPTER_V_INT), -EDOM);
    assert_int_equal(dec(f, doc, MQ_FMT_JSON, "/s", ADAPTER_V_DOUBLE), 0); /* quoted number */
    assert_true(f->v.v.f == 12.5);
    assert_int_equal(dec(f, doc, MQ_FMT_JSON, "/nul", ADAPTER_V_DOUBLE), -EDOM);
    assert_int_equal(dec(f, doc, MQ_FMT_JSON, "/o", ADAPTER_V_DOUBLE), -EDOM);
    assert_int_equal(dec(f, doc, MQ_FMT_JSON, "/o/x/1", ADAPTER_V_NONE), 0);
    assert_int_equal(f->v.v.i, 20);
    assert_int_equal(dec(f, doc, MQ_FMT_JSON, "/b", ADAPTER_V_BYTES), 0);
    assert_int_equal(f->v.v.bytes.len, 3);
    assert_memory_equal(f->v.v.bytes.ptr, "\x01\x02\x03", 3);
    assert_int_equal(dec(f, doc, MQ_FMT_JSON, "/n", ADAPTER_V_BOOL), -EDOM);
    assert_int_equal(dec(f, "{\"n\": 1}", MQ_FMT_JSON, "/n", ADAPTER_V_BOOL), 0);
    assert_true(f->v.v.b);
    assert_int_equal(dec(f, "42", MQ_FMT_JSON, "", ADAPTER_V_NONE), 0); /* bare value */
    assert_int_equal(f->v.v.i, 42);

    /* A document parsed once feeds several points; strings point into it. */
    void *d = NULL;
    assert_int_equal(mq_json_parse((const uint8_t *)doc, strlen(doc), &d), 0);
    assert_int_equal(
        mq_payload_decode(NULL, 0, MQ_FMT_JSON, "/s", ADAPTER_V_STRING, d, &f->scratch, &f->v), 0);
    assert_str(&f->v, ADAPTER_V_STRING, "12.5");
    mq_json_release(d);
}

static void test_malformed(void **state) {
    struct fx *f = *state;
    static const char *const bad_json[] = {"",
                                           "{",
                                           "{\"a\":}",
                                           "[1,2",
                                           "{\"a\":1}}",
                                           "nul",
                                           "\"unterminated",
                                           "{\"a\":1e99999}",
                                           "{\"a\": 99999999999999999999999}",
                                           "\xff"};
    for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
        assert_int_equal(dec(f, bad_json[i], MQ_FMT_JSON, "/a", ADAPTER_V_NONE), -EBADMSG);
        assert_int_equal(f->v.quality, ADAPTER_Q_BAD_DATA);
    }
    /* Embedded NUL bytes travel with their length. */
    static const uint8_t nul[] = {'{', '"', 'a', '"', ':', '"', 'x', '\\',
                                  'u', '0', '0', '0', '0', 'y', '"', '}'};
    assert_int_equal(mq_payload_decode(nul, sizeof(nul), MQ_FMT_JSON, "/a", ADAPTER_V_STRING, NULL,
                                       &f->scratch, &f->v),
                     0);
    assert_int_equal(f->v.v.bytes.len, 3);
    static const uint8_t raw_nul[] = {'1', 0, '2'};
    assert_int_equal(mq_payload_decode(raw_nul, sizeof(raw_nul), MQ_FMT_TEXT, NULL, ADAPTER_V_INT,
                                       NULL, &f->scratch, &f->v),
                     -EDOM);
    assert_int_equal(
        mq_payload_decode(NULL, 0, MQ_FMT_TEXT, NULL, ADAPTER_V_INT, NULL, &f->scratch, &f->v),
        -EDOM);
    assert_int_equal(
        mq_payload_decode(NULL, 3, MQ_FMT_TEXT, NULL, ADAPTER_V_INT, NULL, &f->scratch, &f->v),
        -EINVAL);
}

static void test_hex_base64(void **state) {
    struct fx *f = *state;
    assert_int_equal(dec(f, "DEADbeef", MQ_FMT_HEX, NULL, ADAPTER_V_NONE), 0);
    assert_int_equal(f->v.type, ADAPTER_V_BYTES);
    assert_memory_equal(f->v.v.bytes.ptr, "\xde\xad\xbe\xef", 4);
    assert_int_equal(dec(f, "", MQ_FMT_HEX, NULL, ADAPTER_V_BYTES), 0);
    assert_int_equal(f->v.v.bytes.len, 0);
    assert_int_equal(dec(f, "abc", MQ_FMT_HEX, NULL, ADAPTER_V_BYTES), -EBADMSG);
    assert_int_equal(dec(f, "zz", MQ_FMT_HEX, NULL, ADAPTER_V_BYTES), -EBADMSG);
    assert_int_equal(dec(f, "6869", MQ_FMT_HEX, NULL, ADAPTER_V_STRING), 0);
    assert_str(&f->v, ADAPTER_V_STRING, "hi");
    assert_int_equal(dec(f, "6869", MQ_FMT_HEX, NULL, ADAPTER_V_INT), -EDOM);

    /* RFC 4648 §10 */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    struct mq_buf out = {0};
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(dec(f, enc[i], MQ_FMT_BASE64, NULL, ADAPTER_V_BYTES), 0);
        assert_int_equal(f->v.v.bytes.len, strlen(plain[i]));
        if (f->v.v.bytes.len > 0) {
            assert_memory_equal(f->v.v.bytes.ptr, plain[i], strlen(plain[i]));
        }
        struct adapter_value v = {.type = ADAPTER_V_BYTES};
        v.v.bytes.ptr = (const uint8_t *)plain[i];
        v.v.bytes.len = strlen(plain[i]);
        assert_int_equal(mq_payload_encode(&v, MQ_FMT_BASE64, NULL, NULL, NULL, &out), 0);
        assert_int_equal(out.len, strlen(enc[i]));
        assert_memory_equal(out.ptr, enc[i], out.len + 1);
    }
    mq_buf_free(&out);
    assert_int_equal(dec(f, "Zm9vYg", MQ_FMT_BASE64, NULL, ADAPTER_V_BYTES), 0); /* no padding */
    assert_int_equal(f->v.v.bytes.len, 4);
    assert_int_equal(dec(f, "-_8", MQ_FMT_BASE64, NULL, ADAPTER_V_BYTES), 0); /* URL alphabet */
    assert_memory_equal(f->v.v.bytes.ptr, "\xfb\xff", 2);
    static const char *const bad[] = {"Z", "Zg=", "Zm9v=", "Zg===", "Z=g=", "Zm 9v", "Zm9v*A=="};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (dec(f, bad[i], MQ_FMT_BASE64, NULL, ADAPTER_V_BYTES) != -EBADMSG) {
            fail_msg("'%s' should be malformed base64", bad[i]);
        }
    }
    assert_int_equal(dec(f, "\x01\x02", MQ_FMT_RAW, NULL, ADAPTER_V_NONE), 0);
    assert_int_equal(f->v.type, ADAPTER_V_BYTES);
}

static void expect_enc(const struct adapter_value *v, enum mq_format fmt, const char *ptr,
                       const char *want) {
    struct mq_buf out = {0};
    int rc = mq_payload_encode(v, fmt, ptr, "ON", "OFF", &out);
    if (want == NULL) {
        assert_int_equal(rc, -EINVAL);
    } else {
        assert_int_equal(rc, 0);
        assert_int_equal(out.len, strlen(want));
        assert_memory_equal(out.ptr, want, out.len);
    }
    mq_buf_free(&out);
}

static void test_encode(void **state) {
    (void)state;
    struct adapter_value b = {.type = ADAPTER_V_BOOL, .v.b = true};
    struct adapter_value i = {.type = ADAPTER_V_INT, .v.i = -5};
    struct adapter_value u = {.type = ADAPTER_V_UINT, .v.u = UINT64_MAX};
    struct adapter_value d = {.type = ADAPTER_V_DOUBLE, .v.f = 0.1};
    struct adapter_value s = {.type = ADAPTER_V_STRING};
    s.v.bytes.ptr = (const uint8_t *)"a\"b";
    s.v.bytes.len = 3;
    struct adapter_value o = {.type = ADAPTER_V_BYTES};
    o.v.bytes.ptr = (const uint8_t *)"\x01\xff";
    o.v.bytes.len = 2;
    expect_enc(&b, MQ_FMT_TEXT, NULL, "ON");
    expect_enc(&i, MQ_FMT_TEXT, NULL, "-5");
    expect_enc(&u, MQ_FMT_TEXT, NULL, "18446744073709551615");
    expect_enc(&d, MQ_FMT_TEXT, NULL, "0.1");
    expect_enc(&s, MQ_FMT_TEXT, NULL, "a\"b");
    expect_enc(&b, MQ_FMT_JSON, "/on", "{\"on\":true}");
    expect_enc(&i, MQ_FMT_JSON, "/a/b", "{\"a\":{\"b\":-5}}");
    expect_enc(&i, MQ_FMT_JSON, "/a~1b/c~0d", "{\"a/b\":{\"c~d\":-5}}");
    expect_enc(&s, MQ_FMT_JSON, "", "\"a\\\"b\"");
    expect_enc(&o, MQ_FMT_JSON, "/data", "{\"data\":\"Af8=\"}");
    expect_enc(&u, MQ_FMT_JSON, "/x", NULL); /* beyond JSON integers of jansson */
    expect_enc(&o, MQ_FMT_HEX, NULL, "01ff");
    expect_enc(&i, MQ_FMT_HEX, NULL, NULL);
    expect_enc(&o, MQ_FMT_RAW, NULL, "\x01\xff");
    struct adapter_value nan = {.type = ADAPTER_V_DOUBLE, .v.f = 0.0 / 0.0};
    expect_enc(&nan, MQ_FMT_TEXT, NULL, NULL);
    expect_enc(&nan, MQ_FMT_JSON, "/x", NULL);
    struct adapter_value bad_utf8 = {.type = ADAPTER_V_STRING};
    bad_utf8.v.bytes.ptr = (const uint8_t *)"\xff";
    bad_utf8.v.bytes.len = 1;
    expect_enc(&bad_utf8, MQ_FMT_JSON, "/x", NULL);
    struct adapter_value none = {.type = ADAPTER_V_NONE};
    expect_enc(&none, MQ_FMT_TEXT, NULL, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_pointer_rfc6901, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hex_base64, setup, teardown),
        cmocka_unit_test(test_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
