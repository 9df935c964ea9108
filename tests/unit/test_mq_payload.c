/* SPDX-License-Identifier: Apache-2.0 */
/* Vectors for the MQTT payload codec: plain text by wanted type, JSON pointers (RFC 6901 §5
 * examples, ~0 ~1 escapes, arrays), hex and base64 (RFC 4648 §10), malformed payloads that must
 * fail cleanly, command payload encoding, and the JSON scanner (fast path) against jansson's
 * document (slow path) over a table of payloads x pointers x wanted types. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mqtt/mq.h"

#include "mq_value_same.h"

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

/* ---- JSON fast path against the jansson path --------------------------------------------------
 */

/* Payloads the scanner must decide on its own (valid JSON in the subset it handles). */
static const char *const scan_docs[] = {
    "{\"v\":21.5}",
    "{\"v\":7}",
    " \t\r\n{ \"v\" : -3 , \"w\" : [ 1 , 2 ] }\n ",
    "{\"v\":0,\"v\":\"last\"}", /* duplicate keys: jansson keeps the last */
    "{\"a\":{\"b\":1},\"a\":{\"c\":2}}",
    "{\"a\":{\"b\":1},\"a\":5}",
    "{\"a\":[1,2],\"a\":{\"0\":9}}",
    "{\"a\":{\"b\":[10,{\"c\":[true,false,null]}]},\"x\":{}}",
    "{\"v\":-0,\"i\":123456789012345678,\"j\":-123456789012345678}",
    "{\"v\":1.0,\"i\":1e3,\"j\":1E+2,\"k\":-2.5e-3,\"l\":0.1,\"m\":1e-99,\"n\":12.0e0}",
    "{\"v\":\"12.5\",\"i\":\" 7 \",\"j\":\"true\",\"k\":\"AQID\",\"l\":\"\"}",
    "{\"v\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"}",
    "{\"v\":\"\\u00e9\\u20ac\\ud83d\\ude00\\u0041\"}",
    "{\"v\":\"\\u0031\\u0032\"}",
    "{\"v\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
    "{\"a/b\":1,\"m~n\":2,\"\":3,\" \":4,\"v\":[]}",
    "[5,[6,7],{\"v\":8}]",
    "42",
    "\"bare\"",
    "true",
    "null",
    "{\"v\":1,\"big\":1e99,\"neg\":-999999999999999999}",
    "{\"v\":true,\"w\":false}",
    "{\"v\":null}",
    "{\"v\":{\"x\":1}}",
    "{\"v\":[1,2]}",
};

/* Payloads the scanner must leave to jansson (malformed, or outside its subset). */
static const char *const fallback_docs[] = {
    "",
    "   ",
    "{",
    "{\"v\":}",
    "{\"v\":1,}",
    "[1,2,]",
    "{\"v\":1}}",
    "{\"v\":1} x",
    "{\"v\" 1}",
    "{v:1}",
    "{\"v\":01}",
    "{\"v\":1.}",
    "{\"v\":.5}",
    "{\"v\":+1}",
    "{\"v\":-}",
    "{\"v\":1e}",
    "{\"v\":0x10}",
    "{\"v\":NaN}",
    "{\"v\":tru}",
    "{\"v\":truex}",
    "{\"v\":1e99999}",
    "{\"v\":1,\"x\":99999999999999999999999}",
    "{\"v\":1234567890123456789}",
    "{\"v\":1,\"x\":1e400}",
    "{\"v\":\"\\x\"}",
    "{\"v\":\"\\u12\"}",
    "{\"v\":\"\\ud800\"}",
    "{\"v\":\"\\udc00\"}",
    "{\"v\":\"\\ud800\\u0041\"}",
    "{\"v\":\"a\tb\"}",
    "{\"v\":\"\xff\"}",
    "{\"v\":\"\xc0\xaf\"}",
    "{\"v\":\"\xed\xa0\x80\"}",
    "{\"v\":1,\"x\":\"\xe2\x82\"}",
    "{\"\\u0076\":1}",
    "{\"v\":\"unterminated}",
    "\xef\xbb\xbf{\"v\":1}",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
};
/* A NUL byte after the document (json_loadb takes the length): refused by both. */
static const uint8_t nul_tail[] = {'{', '"', 'v', '"', ':', '1', '}', 0};

static const char *const scan_ptrs[] = {
    "",     "/",          "/v",      "/w",     "/w/1", "/a",    "/a/b", "/a/c",
    "/a/0", "/a/b/1/c/2", "/a/b/01", "/a/b/-", "/i",   "/j",    "/k",   "/l",
    "/m",   "/n",         "/a~1b",   "/m~0n",  "/ ",   "/0",    "/1/1", "/2/v",
    "/v/x", "/v/0",       "/big",    "/neg",   "/x",   "/nope", "/v~2", "v",
};

/* The jansson path's verdict on one payload, pointer and wanted type. */
static int slow_decode(const char *doc, const char *ptr, uint8_t want, struct mq_buf *scratch,
                       struct adapter_value *v, void **parsed) {
    if (mq_json_parse((const uint8_t *)doc, strlen(doc), parsed) != 0) {
        *parsed = NULL;
        return -EBADMSG;
    }
    return mq_payload_decode(NULL, 0, MQ_FMT_JSON, ptr, want, *parsed, scratch, v);
}

/* Where even a valid document goes to jansson: a bad pointer (reported after parsing), the JSON
 * text of an object or array for a string resource (with want NONE both say -EDOM), base64 with
 * escapes in it. */
static bool may_fall_back(const char *doc, const char *ptr, uint8_t want, int slow_rc) {
    struct mq_buf b = {0};
    struct adapter_value v;
    bool structured =
        want == ADAPTER_V_STRING && slow_rc == 0 &&
        mq_json_scan((const uint8_t *)doc, strlen(doc), ptr, ADAPTER_V_NONE, &b, &v) == -EDOM;
    mq_buf_free(&b);
    return slow_rc == -EINVAL || structured ||
           (want == ADAPTER_V_BYTES && strchr(doc, '\\') != NULL);
}

/* Checks payload x every pointer x every wanted type: the scanner (when it decides), and
 * mq_payload_decode without a document, agree with jansson's document. */
static void check_scan(const char *doc, bool must_scan) {
    struct mq_buf s1 = {0}, s2 = {0}, s3 = {0};
    for (size_t p = 0; p < sizeof(scan_ptrs) / sizeof(scan_ptrs[0]); p++) {
        for (uint8_t want = ADAPTER_V_NONE; want <= ADAPTER_V_BYTES; want++) {
            struct adapter_value fast, slow, dflt;
            void *parsed;
            int rs = slow_decode(doc, scan_ptrs[p], want, &s1, &slow, &parsed);
            int rf =
                mq_json_scan((const uint8_t *)doc, strlen(doc), scan_ptrs[p], want, &s2, &fast);
            int rd = mq_payload_decode((const uint8_t *)doc, strlen(doc), MQ_FMT_JSON, scan_ptrs[p],
                                       want, NULL, &s3, &dflt);
            if (rs == -EBADMSG) {
                memset(&slow, 0, sizeof(slow));
                slow.quality = ADAPTER_Q_BAD_DATA;
            }
            bool ok = rd == rs && same_value(&dflt, &slow) &&
                      (rf == -EAGAIN ? !must_scan || may_fall_back(doc, scan_ptrs[p], want, rs)
                                     : rf == rs && same_value(&fast, &slow));
            if (!ok) {
                print_error("doc '%s' ptr '%s' want %u: jansson %d, scan %d, decode %d\n", doc,
                            scan_ptrs[p], want, rs, rf, rd);
            }
            assert_true(ok);
            if (parsed != NULL) {
                mq_json_release(parsed);
            }
        }
    }
    mq_buf_free(&s1);
    mq_buf_free(&s2);
    mq_buf_free(&s3);
}

static void test_json_scan_vs_jansson(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(scan_docs) / sizeof(scan_docs[0]); i++) {
        check_scan(scan_docs[i], true);
    }
    for (size_t i = 0; i < sizeof(fallback_docs) / sizeof(fallback_docs[0]); i++) {
        check_scan(fallback_docs[i], false);
        struct mq_buf b = {0};
        struct adapter_value v;
        assert_int_equal(mq_json_scan((const uint8_t *)fallback_docs[i], strlen(fallback_docs[i]),
                                      "/v", ADAPTER_V_NONE, &b, &v),
                         -EAGAIN);
        mq_buf_free(&b);
    }
    struct mq_buf b = {0};
    struct adapter_value v;
    assert_int_equal(mq_json_scan(nul_tail, sizeof(nul_tail), "/v", ADAPTER_V_INT, &b, &v),
                     -EAGAIN);
    assert_int_equal(mq_payload_decode(nul_tail, sizeof(nul_tail), MQ_FMT_JSON, "/v", ADAPTER_V_INT,
                                       NULL, &b, &v),
                     -EBADMSG);
    mq_buf_free(&b);
}

/* The fast path's own results, so that agreement cannot hide a shared mistake. */
static void test_json_scan_values(void **state) {
    struct fx *f = *state;
    const char *esc = "{\"v\":\"\\u00e9\\ud83d\\ude00\\n\"}";
    assert_int_equal(
        mq_json_scan((const uint8_t *)esc, strlen(esc), "/v", ADAPTER_V_STRING, &f->scratch, &f->v),
        0);
    assert_str(&f->v, ADAPTER_V_STRING, "\xc3\xa9\xf0\x9f\x98\x80\n");
    const char *dup = "{\"a\":{\"b\":1},\"a\":{\"b\":2}}";
    assert_int_equal(
        mq_json_scan((const uint8_t *)dup, strlen(dup), "/a/b", ADAPTER_V_INT, &f->scratch, &f->v),
        0);
    assert_int_equal(f->v.v.i, 2);
    const char *arr = "{\"a\":[{\"x\":1},{\"x\":[5,6]}]}";
    assert_int_equal(mq_json_scan((const uint8_t *)arr, strlen(arr), "/a/1/x/1", ADAPTER_V_NONE,
                                  &f->scratch, &f->v),
                     0);
    assert_int_equal(f->v.type, ADAPTER_V_INT);
    assert_int_equal(f->v.v.i, 6);
    /* Malformed after the value: the whole document is still checked. */
    const char *tail = "{\"v\":1,\"w\":}";
    assert_int_equal(dec(f, tail, MQ_FMT_JSON, "/v", ADAPTER_V_INT), -EBADMSG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_pointer_rfc6901, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hex_base64, setup, teardown),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_json_scan_vs_jansson),
        cmocka_unit_test_setup_teardown(test_json_scan_values, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
