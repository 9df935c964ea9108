/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the MQTT payload codec and topic matcher: arbitrary payload and JSON
 * pointer bytes through every format and wanted type, the decoded value re-encoded, and the
 * payload used as a topic against templates and filters. Layout of an input: byte 0 picks the
 * format (low 3 bits) and the wanted type (next 3 bits); byte 1 is the pointer length n; then n
 * pointer bytes; the rest is the payload. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/mq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_topics(const uint8_t *p, size_t n) {
    char *topic = malloc(n + 1);
    if (topic == NULL) {
        return;
    }
    memcpy(topic, p, n);
    topic[n] = '\0';
    const char *dev;
    size_t dl;
    (void)mq_template_match("sensors/{device}/state", topic, &dev, &dl);
    (void)mq_template_match("{device}/x-{device}.y/#", topic, &dev, &dl);
    (void)mq_topic_match("a/+/#", topic);
    (void)mq_topic_match(topic, "a/b/c");
    (void)mq_filter_check(topic);
    (void)mq_template_check(topic);
    char out[64];
    (void)mq_template_expand(topic, "dev", out, sizeof(out));
    (void)mq_template_filter(topic, out, sizeof(out));
    free(topic);
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
    fuzz_topics(payload, len);
    mq_buf_free(&scratch);
    mq_buf_free(&out);
    free(ptr);
    return 0;
}
