/* SPDX-License-Identifier: Apache-2.0 */
/* CoRE link format (RFC 6690) writer and tolerant parser tests, on the shapes of LwM2M 1.1.1
 * TS Core §6.2.1 (Register payload `</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>`) and §5.5.1
 * (Discover answers such as `</3/0>;pmin=10,</3/0/1>,</3/0/6>;dim=2`). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fmt_testdata.h"
#include "lwm2m/error.h"

static void test_register_payload(void **state) {
    (void)state;
    char buf[128];
    size_t len;
    struct lwm2m_link_writer w;
    struct lwm2m_path root = lwm2m_path_make(0, 0, 0, 0, 0);
    struct lwm2m_path s = lwm2m_path_make(2, 1, 0, 0, 0), d = lwm2m_path_make(2, 3, 0, 0, 0);
    struct lwm2m_path t = lwm2m_path_make(1, 3303, 0, 0, 0);
    lwm2m_link_init(&w, buf, sizeof(buf));
    lwm2m_link_add(&w, NULL, &root);
    lwm2m_link_attr_quoted(&w, "rt", "oma.lwm2m");
    lwm2m_link_attr(&w, "ct", "60 110 112 11542");
    lwm2m_link_add(&w, NULL, &s);
    lwm2m_link_add(&w, NULL, &t);
    lwm2m_link_attr(&w, "ver", "1.1");
    lwm2m_link_add(&w, NULL, &d);
    assert_int_equal(lwm2m_link_finish(&w, &len), 0);
    assert_string_equal(
        buf, "</>;rt=\"oma.lwm2m\";ct=\"60 110 112 11542\",</1/0>,</3303>;ver=1.1,</3/0>");
    assert_int_equal(len, strlen(buf));
}

static void test_discover_payload(void **state) {
    (void)state;
    char buf[160];
    struct lwm2m_link_writer w;
    struct lwm2m_path inst = lwm2m_path_make(2, 3303, 0, 0, 0), res = P3(3303, 0, 5700);
    lwm2m_link_init(&w, buf, sizeof(buf));
    lwm2m_link_add(&w, NULL, &inst);
    lwm2m_link_attr_int(&w, "pmin", 10);
    lwm2m_link_add(&w, NULL, &res);
    lwm2m_link_attr_float(&w, "gt", 22.5);
    lwm2m_link_attr_float(&w, "st", 0.1);
    lwm2m_link_attr(&w, "obs", NULL);
    lwm2m_link_attr(&w, "title", "a \"b\"\\c");
    lwm2m_link_add(&w, "/dev1", &res);
    lwm2m_link_add_uri(&w, "/rd");
    assert_int_equal(lwm2m_link_finish(&w, NULL), 0);
    assert_string_equal(buf, "</3303/0>;pmin=10,</3303/0/5700>;gt=22.5;st=0.1;obs;"
                             "title=\"a \\\"b\\\"\\\\c\",</dev1/3303/0/5700>,</rd>");
    /* too small: a sticky error and never an overflow */
    char small[12];
    memset(small, 'Z', sizeof(small));
    lwm2m_link_init(&w, small, 8);
    lwm2m_link_add(&w, NULL, &res);
    lwm2m_link_attr_int(&w, "pmin", 10);
    assert_int_equal(lwm2m_link_finish(&w, NULL), LWM2M_ERR_NOSPACE);
    assert_int_equal(small[8], 'Z');
    lwm2m_link_init(&w, buf, sizeof(buf));
    assert_int_equal(lwm2m_link_attr(&w, "pmin", "1"), LWM2M_ERR_STATE);
}

struct seen {
    char text[8][64];
    size_t n;
};

static int collect(void *ctx, const struct lwm2m_link *l) {
    struct seen *s = ctx;
    int k = snprintf(s->text[s->n], 64, "%.*s|%zu", (int)l->uri_len, l->uri, l->nattrs);
    for (size_t i = 0; i < l->nattrs && k < 60; i++) {
        k += snprintf(s->text[s->n] + k, (size_t)(64 - k), "|%.*s=%.*s%s",
                      (int)l->attrs[i].name_len, l->attrs[i].name, (int)l->attrs[i].value_len,
                      l->attrs[i].value ? l->attrs[i].value : "", l->attrs[i].quoted ? "q" : "");
    }
    s->n++;
    return s->n == 8 ? LWM2M_ERR_NOSPACE : 0;
}

static void test_parse(void **state) {
    (void)state;
    const char *in = " </>;rt=\"oma.lwm2m\";ct=\"60 110\" ,\n</3/0> ; ver = 1.1 ,"
                     "</5>;title=\"a,b;c\\\"d\";obs,</6>";
    struct seen s = {.n = 0};
    assert_int_equal(lwm2m_link_parse(in, strlen(in), collect, &s), 0);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.text[0], "/|2|rt=oma.lwm2mq|ct=60 110q");
    assert_string_equal(s.text[1], "/3/0|1|ver=1.1");
    assert_string_equal(s.text[2], "/5|2|title=a,b;c\\\"dq|obs=");
    assert_string_equal(s.text[3], "/6|0");
    const char *bad[] = {"/3/0",    "</3/0",           "</3/0>;",
                         "</3/0>x", "</3/0>;a=\"open", "</1>;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s.n = 0;
        assert_int_equal(lwm2m_link_parse(bad[i], strlen(bad[i]), collect, &s), LWM2M_ERR_FORMAT);
    }
    s.n = 0;
    assert_int_equal(lwm2m_link_parse("", 0, collect, &s), 0);
    assert_int_equal(s.n, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_payload),
        cmocka_unit_test(test_discover_payload),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
