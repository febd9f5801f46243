// The librdkafka headers Cascade uses: the client API and the mock cluster (embedded broker),
// plus small inline wrappers for the variadic calls Swift cannot make.
#ifndef CASCADE_CRDKAFKA_SHIM_H
#define CASCADE_CRDKAFKA_SHIM_H
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/// Enqueues one message. The payload and key are copied; `headers` (may be NULL) is taken
/// over by librdkafka on success only. `timestamp`: ms since 1970, 0 for now. `opaque` comes
/// back with the delivery report.
static inline rd_kafka_resp_err_t cascade_produce(rd_kafka_t *rk, const char *topic,
                                                  int32_t partition,
                                                  const void *key, size_t key_len,
                                                  const void *value, size_t value_len,
                                                  rd_kafka_headers_t *headers,
                                                  int64_t timestamp, void *opaque) {
    if (headers != NULL) {
        return rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
                                 RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_TIMESTAMP(timestamp),
                                 RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    }
    return rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
                             RD_KAFKA_V_TIMESTAMP(timestamp), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
}

#endif
