/* SPDX-License-Identifier: Apache-2.0 */
/* Vectors for the MQTT adapter's topic code: filter and topic-name validity, wildcard matching
 * by the rules of MQTT 3.1.1/5 §4.7 ('+', '#', the parent of '#', '$' topics), and {device}
 * templates (expansion, subscription filter, extraction of the device name), and templates
 * prepared for matching (mq_template_compile) against mq_template_match on a table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mqtt/mq.h"

static void test_filter_check(void **state) {
    (void)state;
    static const char *const good[] = {"a", "a/b", "+",   "#",   "a/+",    "a/#",     "+/+",
                                       "/", "//",  "/+/", "+/#", "$SYS/#", "a/+/c/#", "sport/"};
    static const char *const bad[] = {"", "a#", "a/#/b", "a+", "a/b+", "#/a", "a/+b", "++", "##"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(mq_filter_check(good[i]), 0);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(mq_filter_check(bad[i]), -EINVAL);
    }
    assert_int_equal(mq_filter_check(NULL), -EINVAL);
    assert_int_equal(mq_topic_check("a/b"), 0);
    assert_int_equal(mq_topic_check("a/+"), -EINVAL);
    assert_int_equal(mq_topic_check("a/#"), -EINVAL);
    assert_int_equal(mq_topic_check(""), -EINVAL);
}

struct match_vec {
    const char *filter;
    const char *topic;
    bool match;
};

static void test_match(void **state) {
    (void)state;
    /* The examples of MQTT 5 §4.7.1 and §4.7.2, and the edges around them. */
    static const struct match_vec v[] = {
        {"sport/tennis/player1/#", "sport/tennis/player1", true},
        {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
        {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
        {"sport/#", "sport", true},
        {"#", "sport/tennis", true},
        {"#", "/", true},
        {"sport/tennis/+", "sport/tennis/player1", true},
        {"sport/tennis/+", "sport/tennis/player1/tournament", false},
        {"sport/+", "sport", false},
        {"sport/+", "sport/", true},
        {"+/+", "/finance", true},
        {"/+", "/finance", true},
        {"+", "/finance", false},
        {"+/tennis/#", "sport/tennis", true},
        {"a/b", "a/b", true},
        {"a/b", "a/bc", false},
        {"a/b", "a/b/", false},
        {"a/b/", "a/b", false},
        {"a//b", "a//b", true},
        {"a/+/b", "a//b", true},
        {"#", "$SYS/broker/load", false},
        {"+/monitor/Clients", "$SYS/monitor/Clients", false},
        {"$SYS/#", "$SYS/monitor/Clients", true},
        {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
        {"+", "$", false},
        {"a/#", "a/b/c/d/e", true},
        {"a/#", "ab", false},
        {"A/b", "a/b", false},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        if (mq_topic_match(v[i].filter, v[i].topic) != v[i].match) {
            fail_msg("filter '%s' topic '%s': expected %d", v[i].filter, v[i].topic, v[i].match);
        }
    }
    assert_false(mq_topic_match(NULL, "a"));
    assert_false(mq_topic_match("a", NULL));
}

static void test_template_check_expand(void **state) {
    (void)state;
    assert_int_equal(mq_template_check("sensors/{device}/state"), 0);
    assert_int_equal(mq_template_check("sensors/dev-{device}.x/+/#"), 0);
    assert_int_equal(mq_template_check("{device}/{device}"), 0);
    assert_int_equal(mq_template_check("a/{device}{device}"), -EINVAL);
    assert_int_equal(mq_template_check("a/{device}+"), -EINVAL);
    assert_int_equal(mq_template_check("a/#/{device}"), -EINVAL);
    assert_int_equal(mq_template_check(""), -EINVAL);

    char out[64];
    assert_int_equal(mq_template_expand("s/{device}/set", "kitchen", out, sizeof(out)), 13);
    assert_string_equal(out, "s/kitchen/set");
    assert_int_equal(mq_template_expand("{device}/x/{device}", "d1", out, sizeof(out)), 7);
    assert_string_equal(out, "d1/x/d1");
    assert_int_equal(mq_template_expand("plain/topic", NULL, out, sizeof(out)), 11);
    assert_int_equal(mq_template_expand("s/{device}", NULL, out, sizeof(out)), -EINVAL);
    /* Exactly filling the buffer leaves no room for the NUL. */
    assert_int_equal(mq_template_expand("abcd", NULL, out, 4), -ENOSPC);
    assert_int_equal(mq_template_expand("abcd", NULL, out, 5), 4);
    assert_int_equal(mq_template_expand("s/{device}", "0123456789", out, 8), -ENOSPC);

    assert_int_equal(mq_template_filter("sensors/{device}/state", out, sizeof(out)), 15);
    assert_string_equal(out, "sensors/+/state");
    assert_int_equal(mq_template_filter("s/pre-{device}-post/#", out, sizeof(out)), 5);
    assert_string_equal(out, "s/+/#");
    assert_int_equal(mq_template_filter("{device}", out, sizeof(out)), 1);
    assert_string_equal(out, "+");
    assert_int_equal(mq_template_filter("abc/{device}", out, 5), -ENOSPC);
    assert_int_equal(mq_template_filter("abc/{device}", out, 6), 5);

    assert_int_equal(mq_device_name_check("dev-1"), 0);
    assert_int_equal(mq_device_name_check(""), -EINVAL);
    assert_int_equal(mq_device_name_check("a/b"), -EINVAL);
    assert_int_equal(mq_device_name_check("a+"), -EINVAL);
    assert_int_equal(mq_device_name_check("#"), -EINVAL);
}

static void expect_dev(const char *tmpl, const char *topic, const char *want) {
    const char *d = (const char *)1;
    size_t n = 99;
    bool m = mq_template_match(tmpl, topic, &d, &n);
    if (want == NULL) {
        if (m) {
            fail_msg("'%s' should not match '%s'", tmpl, topic);
        }
        return;
    }
    if (!m) {
        fail_msg("'%s' should match '%s'", tmpl, topic);
    }
    if (want[0] == '\0') {
        assert_null(d);
        assert_int_equal(n, 0);
        return;
    }
    assert_non_null(d);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(d, want, n);
}

static void test_template_match(void **state) {
    (void)state;
    expect_dev("sensors/{device}/state", "sensors/th-1/state", "th-1");
    expect_dev("sensors/{device}/state", "sensors//state", NULL); /* no empty names */
    expect_dev("sensors/{device}/state", "sensors/a/b/state", NULL);
    expect_dev("sensors/{device}/state", "sensors/a/stat", NULL);
    expect_dev("sensors/dev-{device}.json", "sensors/dev-42.json", "42");
    expect_dev("sensors/dev-{device}.json", "sensors/dev-.json", NULL);
    expect_dev("sensors/dev-{device}.json", "sensors/dev42.json", NULL);
    expect_dev("{device}/x/{device}", "d1/x/d1", "d1");
    expect_dev("{device}/x/{device}", "d1/x/d2", NULL); /* every occurrence names one device */
    expect_dev("{device}/state", "$SYS/state", NULL);
    expect_dev("zigbee/{device}/#", "zigbee/lamp", "lamp");
    expect_dev("zigbee/{device}/#", "zigbee/lamp/a/b", "lamp");
    expect_dev("zigbee/+/{device}", "zigbee/x/lamp", "lamp");
    expect_dev("plain/topic", "plain/topic", "");
    expect_dev("plain/+", "plain/x", "");
    expect_dev("plain/topic", "plain/topic2", NULL);
    assert_true(mq_template_match("a/{device}", "a/b", NULL, NULL));
    assert_false(mq_template_match(NULL, "a", NULL, NULL));
}

/* Every template against every topic: the prepared match gives what mq_template_match gives. */
static void test_compiled_match(void **state) {
    (void)state;
    static const char *const tmpls[] = {
        "sensors/{device}/state",
        "{device}/state",
        "sensors/{device}",
        "{device}",
        "a/x-{device}.y/b",
        "a/{device}-z",
        "a/b/c",
        "a/+/{device}",
        "a/{device}/#",
        "{device}/{device}",
        "x{device}y",
        "$SYS/{device}",
        "",
        "a//{device}",
        "a/{device}/",
        "#",
    };
    static const char *const topics[] = {
        "sensors/d1/state",
        "sensors/d1/state/x",
        "sensors//state",
        "sensors/a/b/state",
        "d1/state",
        "$d1/state",
        "sensors/d1",
        "sensors/",
        "sensors",
        "d1",
        "$SYS",
        "a/x-d.y/b",
        "a/x-.y/b",
        "a/x-d/e.y/b",
        "a/d-z",
        "a/-z",
        "a/b/c",
        "a/b/c/",
        "a/q/d",
        "a/d/e/f",
        "d/d",
        "d/e",
        "xdy",
        "xy",
        "$SYS/broker",
        "",
        "a//d",
        "a/d/",
        "a/d",
        "x/y/z",
        "/",
        "sensors/d1/stat",
    };
    for (size_t i = 0; i < sizeof(tmpls) / sizeof(tmpls[0]); i++) {
        struct mq_tmpl t;
        mq_template_compile(tmpls[i], &t);
        for (size_t j = 0; j < sizeof(topics) / sizeof(topics[0]); j++) {
            const char *d1 = "x", *d2 = "y";
            size_t n1 = 99, n2 = 98;
            bool m1 = mq_template_match(tmpls[i], topics[j], &d1, &n1);
            bool m2 = mq_tmpl_match(&t, topics[j], strlen(topics[j]), &d2, &n2);
            if (m1 != m2 || d1 != d2 || n1 != n2) {
                print_error("template '%s' topic '%s': %d vs %d\n", tmpls[i], topics[j], m1, m2);
            }
            assert_true(m1 == m2 && d1 == d2 && n1 == n2);
        }
    }
    struct mq_tmpl t;
    mq_template_compile("sensors/{device}/state", &t);
    assert_int_equal(t.kind, MQ_TMPL_DEVICE);
    assert_int_equal(t.pre, 8);
    assert_int_equal(t.suf, 6);
    assert_true(mq_tmpl_match(&t, "sensors/d/state", 15, NULL, NULL));
    mq_template_compile("a/+/{device}", &t);
    assert_int_equal(t.kind, MQ_TMPL_GENERIC);
    mq_template_compile("a/b", &t);
    assert_int_equal(t.kind, MQ_TMPL_EXACT);
    mq_template_compile(NULL, &t);
    assert_int_equal(t.kind, MQ_TMPL_NONE);
    assert_false(mq_tmpl_match(&t, "a", 1, NULL, NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_check),          cmocka_unit_test(test_match),
        cmocka_unit_test(test_template_check_expand), cmocka_unit_test(test_template_match),
        cmocka_unit_test(test_compiled_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
