/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the MQTT payload codec and topic matcher: arbitrary payload and JSON
 * pointer bytes through every format and wanted type, the decoded value re-encoded, and the
 * payload used as a topic against templates and filters; the JSON scanner (fast path) must agree
 * with the jansson path whenever it decides, and so must the compiled topic templates with
 * mq_template_match. Layout of an input: byte 0 picks the
 * format (low 3 bits) and the wanted type (next 3 bits); byte 1 is the pointer length n; then n
 * pointer bytes; the rest is the payload. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/mq.h"

#include "../unit/mq_value_same.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A prepared template matches exactly as mq_template_match does. */
static void compare_match(const char *tmpl, const char *topic) {
    struct mq_tmpl t;
    const char *d1, *d2;
    size_t n1, n2;
    mq_template_compile(tmpl, &t);
    bool m1 = mq_template_match(tmpl, topic, &d1, &n1);
    bool m2 = mq_tmpl_match(&t, topic, strlen(topic), &d2, &n2);
    if (m1 != m2 || d1 != d2 || n1 != n2) {
        fprintf(stderr, "template '%s' topic '%s': %d vs %d\n", tmpl, topic, m1, m2);
        abort();
    }
}

static void fuzz_topics(const uint8_t *p, size_t n) {
    char *topic = malloc(n + 1);
    if (topic == NULL) {
        return;
    }
    memcpy(topic, p, n);
    topic[n] = '\0';
    static const char *const tmpls[] = {"sensors/{device}/state", "{device}/x-{device}.y/#",
                                        "{device}", "a/{device}-x", "a/b"};
    for (size_t i = 0; i < sizeof(tmpls) / sizeof(tmpls[0]); i++) {
        compare_match(tmpls[i], topic);
        compare_match(topic, tmpls[i]); /* the input as a template too */
    }
    (void)mq_topic_match("a/+/#", topic);
    (void)mq_topic_match(topic, "a/b/c");
    (void)mq_filter_check(topic);
    (void)mq_template_check(topic);
    char out[64];
    (void)mq_template_expand(topic, "dev", out, sizeof(out));
    (void)mq_template_filter(topic, out, sizeof(out));
    free(topic);
}

/* The scanner decides only what jansson would decide the same way: a malformed document is
 * never accepted, and a value it returns is jansson's value. */
static void fuzz_scan(const uint8_t *payload, size_t len, const char *ptr, uint8_t want) {
    struct mq_buf s1 = {0}, s2 = {0};
    struct adapter_value fast, slow;
    int rf = mq_json_scan(payload, len, ptr, want, &s1, &fast);
    if (rf != -EAGAIN) {
        void *doc = NULL;
        if (mq_json_parse(payload, len, &doc) != 0) {
            fprintf(stderr, "scanner accepted a document jansson refuses (rc %d)\n", rf);
            abort();
        }
        int rs = mq_payload_decode(payload, len, MQ_FMT_JSON, ptr, want, doc, &s2, &slow);
        if (rs != rf || !same_value(&fast, &slow)) {
            fprintf(stderr, "scanner %d, jansson %d (want %u)\n", rf, rs, want);
            abort();
        }
        mq_json_release(doc);
    }
    mq_buf_free(&s1);
    mq_buf_free(&s2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) {
        return 0;
    }
    enum mq_format fmt = (enum mq_format)((data[0] & 7) % 5);
    uint8_t want = (uint8_t)(((data[0] >> 3) & 7) % 7);
    size_t plen = data[1];
    if (plen > size - 2) {
        plen = size - 2;
    }
    char *ptr = malloc(plen + 1);
    if (ptr == NULL) {
        return 0;
    }
    memcpy(ptr, data + 2, plen);
    ptr[plen] = '\0';
    const uint8_t *payload = data + 2 + plen;
    size_t len = size - 2 - plen;

    struct mq_buf scratch = {0};
    struct mq_buf out = {0};
    struct adapter_value v;
    if (mq_payload_decode(payload, len, fmt, ptr, want, NULL, &scratch, &v) == 0) {
        /* Whatever decodes must encode again in every format that takes it, without a crash. */
        for (int f = 0; f < 5; f++) {
            (void)mq_payload_encode(&v, (enum mq_format)f, ptr, NULL, NULL, &out);
        }
    }
    void *doc = NULL;
    if (mq_json_parse(payload, len, &doc) == 0) {
        (void)mq_payload_decode(payload, len, MQ_FMT_JSON, ptr, want, doc, &scratch, &v);
        mq_json_release(doc);
    }
    fuzz_scan(payload, len, ptr, want);
    fuzz_topics(payload, len);
    mq_buf_free(&scratch);
    mq_buf_free(&out);
    free(ptr);
    return 0;
}
