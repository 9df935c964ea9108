/* SPDX-License-Identifier: Apache-2.0 */
/* Vectors for the MQTT adapter's topic code: filter and topic-name validity, wildcard matching
 * by the rules of MQTT 3.1.1/5 §4.7 ('+', '#', the parent of '#', '$' topics), and {device}
 * templates (expansion, subscription filter, extraction of the device name). */
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_check),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_template_check_expand),
        cmocka_unit_test(test_template_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
