/*
 * The baseline for `cascade bench kafka`: the same produce and consume work done with
 * librdkafka directly, with the same settings as the Swift layer.
 *
 *   rdkafka-baseline BOOTSTRAP TOPIC COUNT SIZE
 *
 * Produces COUNT messages of SIZE bytes, then reads the topic from the beginning (spread the
 * topic over enough partitions: the embedded broker keeps only a few MB per partition).
 * Prints "produce <messages/s>" and "consume <messages/s> <received>".
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long delivered = 0;
static long failed = 0;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *message, void *opaque) {
    (void)rk;
    (void)opaque;
    if (message->err) failed++; else delivered++;
}

static void set(rd_kafka_conf_t *conf, const char *key, const char *value) {
    char error[512];
    if (rd_kafka_conf_set(conf, key, value, error, sizeof(error)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "%s=%s: %s\n", key, value, error);
        exit(2);
    }
}

static int produce(const char *bootstrap, const char *topic, long count, size_t size) {
    char error[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstrap);
    set(conf, "enable.idempotence", "true");
    set(conf, "max.in.flight.requests.per.connection", "1");
    set(conf, "linger.ms", "5");
    /* Cascade's producer's partitioner (Kafka's default), so that the sides differ only in the layer. */
    set(conf, "partitioner", "murmur2_random");
    set(conf, "queue.buffering.max.messages", "1000000");
    set(conf, "queue.buffering.max.kbytes", "1048576");
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    if (!rk) { fprintf(stderr, "%s\n", error); return 2; }
    char *payload = malloc(size);
    memset(payload, 'x', size);
    double start = now_seconds();
    for (long i = 0; i < count; i++) {
        while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_VALUE(payload, size), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 1);
        }
        rd_kafka_poll(rk, 0);
    }
    while (delivered + failed < count) rd_kafka_poll(rk, 10);
    double elapsed = now_seconds() - start;
    printf("produce %.0f\n", count / elapsed);
    if (failed) fprintf(stderr, "%ld deliveries failed\n", failed);
    rd_kafka_destroy(rk);
    free(payload);
    return failed ? 1 : 0;
}

struct consume_args {
    const char *bootstrap;
    const char *topic;
    long count;
    long received;
    double rate;
    rd_kafka_t *rk;
};

/* Creates the consumer and assigns every partition from the beginning. */
static rd_kafka_t *start_consumer(const char *bootstrap, const char *topic) {
    char error[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstrap);
    set(conf, "group.id", "rdkafka-baseline");
    set(conf, "enable.auto.commit", "false");
    set(conf, "enable.auto.offset.store", "false");
    set(conf, "fetch.wait.max.ms", "10");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
    if (!rk) { fprintf(stderr, "%s\n", error); exit(2); }
    rd_kafka_poll_set_consumer(rk);
    const struct rd_kafka_metadata *metadata;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rd_kafka_metadata(rk, 0, rkt, &metadata, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR || metadata->topic_cnt < 1) {
        fprintf(stderr, "no metadata for %s\n", topic);
        exit(2);
    }
    int partitions = metadata->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(metadata);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    return rk;
}

/* Counts messages until COUNT arrived or nothing came for 5 s. */
static void *consume(void *opaque) {
    struct consume_args *args = opaque;
    double start = 0, last = 0;
    while (args->received < args->count) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(args->rk, 100);
        if (!message) {
            if (last > 0 && now_seconds() - last > 5) break;
            continue;
        }
        if (!message->err) {
            last = now_seconds();
            if (args->received == 0) start = last;
            args->received++;
        }
        rd_kafka_message_destroy(message);
    }
    args->rate = args->received > 1 ? (args->received - 1) / (last - start) : 0;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s BOOTSTRAP TOPIC COUNT SIZE\n", argv[0]);
        return 2;
    }
    struct consume_args args = {argv[1], argv[2], atol(argv[3]), 0, 0, NULL};
    int status = produce(args.bootstrap, args.topic, args.count, (size_t)atol(argv[4]));
    args.rk = start_consumer(args.bootstrap, args.topic);
    consume(&args);
    printf("consume %.0f %ld\n", args.rate, args.received);
    rd_kafka_consumer_close(args.rk);
    rd_kafka_destroy(args.rk);
    return status;
}
