/*
 * The baseline for `cascade bench e2e`: the Kafka part of a cascade with nothing else, done
 * with librdkafka directly in one process, as the bench runs broker, bus and nodes in one.
 *
 *   rdkafka-hops RATES SECONDS PARTITIONS [BOOTSTRAP PREFIX]
 *
 * An in-process mock broker, or the broker at BOOTSTRAP with topics named PREFIX... created
 * for the run (so runs never share a topic); a source producer paced at each rate of RATES (comma-separated),
 * in 1 ms steps; a hop that consumes each event and produces one message to each of three
 * service topics (as the bus does, without resolving anything); three consumers, one per
 * service topic (as the nodes). Producers and consumers use the Cascade layer's settings:
 * idempotence with one request in flight, linger.ms 1, fetch.wait.max.ms 1.
 * Latency runs from producing an event to the last of the three receiving its message.
 * Prints one line per rate: "rate R sent N done D p50 MS p99 MS p999 MS".
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SERVICES 3
#define PAYLOAD 200

static char events_topic[256] = "events";
static char service_topics[SERVICES][256] = {"invalidations.a", "invalidations.b", "invalidations.c"};

static int64_t now_nanos(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void set(rd_kafka_conf_t *conf, const char *key, const char *value) {
    char error[512];
    if (rd_kafka_conf_set(conf, key, value, error, sizeof(error)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "%s=%s: %s\n", key, value, error);
        exit(2);
    }
}

static rd_kafka_t *make(rd_kafka_type_t type, rd_kafka_conf_t *conf) {
    char error[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, error, sizeof(error));
    if (!rk) {
        fprintf(stderr, "%s\n", error);
        exit(2);
    }
    return rk;
}

static rd_kafka_t *producer(const char *bootstrap) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstrap);
    set(conf, "enable.idempotence", "true");
    set(conf, "max.in.flight.requests.per.connection", "1");
    set(conf, "linger.ms", "1");
    set(conf, "queue.buffering.max.messages", "1000000");
    return make(RD_KAFKA_PRODUCER, conf);
}

/* A consumer assigned every partition of one topic from the beginning (the topics are new). */
static rd_kafka_t *consumer(const char *bootstrap, const char *topic, int partitions) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstrap);
    set(conf, "group.id", "rdkafka-hops");
    set(conf, "enable.auto.commit", "false");
    set(conf, "fetch.wait.max.ms", "1");
    rd_kafka_t *rk = make(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++) rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    return rk;
}

/* What an event carries: its index in the run and when it was produced. */
struct stamp {
    int64_t index;
    int64_t sent_nanos;
};

static atomic_int stopping;
/* Per service, when each event's message arrived (0: not yet). Sized for the largest run. */
static _Atomic int64_t *arrived[SERVICES];
static int64_t capacity;

struct hop_args {
    const char *bootstrap;
    int partitions;
};

/* Consumes events and hands each on to every service topic, under the event's key. */
static void *hop(void *opaque) {
    struct hop_args *args = opaque;
    rd_kafka_t *in = consumer(args->bootstrap, events_topic, args->partitions);
    rd_kafka_t *out = producer(args->bootstrap);
    while (!atomic_load(&stopping)) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(in, 100);
        if (message) {
            if (!message->err) {
                for (int s = 0; s < SERVICES; s++) {
                    while (rd_kafka_producev(out, RD_KAFKA_V_TOPIC(service_topics[s]), RD_KAFKA_V_PARTITION(message->partition),
                                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(message->payload, message->len),
                                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        rd_kafka_poll(out, 1);
                }
            }
            rd_kafka_message_destroy(message);
        }
        rd_kafka_poll(out, 0);
    }
    rd_kafka_flush(out, 5000);
    rd_kafka_destroy(out);
    rd_kafka_consumer_close(in);
    rd_kafka_destroy(in);
    return NULL;
}

struct node_args {
    const char *bootstrap;
    int partitions;
    int service;
};

/* Notes when each event's message reached this service. */
static void *node(void *opaque) {
    struct node_args *args = opaque;
    rd_kafka_t *in = consumer(args->bootstrap, service_topics[args->service], args->partitions);
    while (!atomic_load(&stopping)) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(in, 100);
        if (!message) continue;
        if (!message->err && message->len >= sizeof(struct stamp)) {
            struct stamp stamp;
            memcpy(&stamp, message->payload, sizeof(stamp));
            if (stamp.index >= 0 && stamp.index < capacity) atomic_store(&arrived[args->service][stamp.index], now_nanos());
        }
        rd_kafka_message_destroy(message);
    }
    rd_kafka_consumer_close(in);
    rd_kafka_destroy(in);
    return NULL;
}

static void send_event(rd_kafka_t *source, int64_t index, int64_t key, int64_t *sent_nanos) {
    char payload[PAYLOAD];
    memset(payload, 'x', sizeof(payload));
    char key_text[32];
    int key_length = snprintf(key_text, sizeof(key_text), "Product#p-%lld", (long long)key);
    struct stamp stamp = {index, now_nanos()};
    memcpy(payload, &stamp, sizeof(stamp));
    sent_nanos[index] = stamp.sent_nanos;
    while (rd_kafka_producev(source, RD_KAFKA_V_TOPIC(events_topic), RD_KAFKA_V_KEY(key_text, (size_t)key_length),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(payload, sizeof(payload)),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(source, 1);
    rd_kafka_poll(source, 0);
}

/* When event `index` had reached every service, or 0. */
static int64_t done_at(int64_t index) {
    int64_t last = 0;
    for (int s = 0; s < SERVICES; s++) {
        int64_t at = atomic_load(&arrived[s][index]);
        if (at == 0) return 0;
        if (at > last) last = at;
    }
    return last;
}

static void clear(int64_t count) {
    for (int s = 0; s < SERVICES; s++)
        for (int64_t i = 0; i < count; i++) atomic_store(&arrived[s][i], 0);
}

static int compare(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Waits until the first `count` events are done everywhere, or `seconds` passed. */
static void await_done(rd_kafka_t *source, int64_t count, double seconds) {
    int64_t deadline = now_nanos() + (int64_t)(seconds * 1e9);
    int64_t next = 0;
    while (next < count && now_nanos() < deadline) {
        if (done_at(next)) {
            next++;
            continue;
        }
        rd_kafka_poll(source, 1);
    }
}

/* Creates the run's topics on a real broker, with its default replication. */
static void create_topics(rd_kafka_t *client, int partitions) {
    const char *names[SERVICES + 1] = {events_topic, service_topics[0], service_topics[1], service_topics[2]};
    rd_kafka_NewTopic_t *topics[SERVICES + 1];
    char error[512];
    for (int t = 0; t < SERVICES + 1; t++) {
        topics[t] = rd_kafka_NewTopic_new(names[t], partitions, -1, error, sizeof(error));
        if (!topics[t]) {
            fprintf(stderr, "%s: %s\n", names[t], error);
            exit(2);
        }
    }
    rd_kafka_queue_t *queue = rd_kafka_queue_new(client);
    rd_kafka_CreateTopics(client, topics, SERVICES + 1, NULL, queue);
    rd_kafka_event_t *result = rd_kafka_queue_poll(queue, 30000);
    /* A broker that refuses (librdkafka's mock cluster) creates topics on first use instead. */
    if (!result || rd_kafka_event_error(result)) {
        fprintf(stderr, "note: topics not created (%s); relying on auto-creation\n", result ? rd_kafka_event_error_string(result) : "timed out");
    } else {
        size_t count = 0;
        const rd_kafka_topic_result_t **each = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(result), &count);
        for (size_t t = 0; t < count; t++) {
            if (rd_kafka_topic_result_error(each[t]))
                fprintf(stderr, "note: %s not created (%s); relying on auto-creation\n", rd_kafka_topic_result_name(each[t]),
                        rd_kafka_topic_result_error_string(each[t]));
        }
    }
    if (result) rd_kafka_event_destroy(result);
    rd_kafka_queue_destroy(queue);
    for (int t = 0; t < SERVICES + 1; t++) rd_kafka_NewTopic_destroy(topics[t]);
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 6) {
        fprintf(stderr, "usage: %s RATES SECONDS PARTITIONS [BOOTSTRAP PREFIX]\n", argv[0]);
        return 2;
    }
    int seconds = atoi(argv[2]);
    int partitions = atoi(argv[3]);
    long rates[16];
    int rate_count = 0;
    for (char *text = strtok(argv[1], ","); text && rate_count < 16; text = strtok(NULL, ",")) rates[rate_count++] = atol(text);
    capacity = 0;
    for (int r = 0; r < rate_count; r++)
        if (rates[r] * seconds > capacity) capacity = rates[r] * seconds;
    if (capacity < partitions) capacity = partitions;
    for (int s = 0; s < SERVICES; s++) arrived[s] = calloc((size_t)capacity, sizeof(int64_t));
    int64_t *sent_nanos = calloc((size_t)capacity, sizeof(int64_t));
    int64_t *latencies = calloc((size_t)capacity, sizeof(int64_t));

    /* The mock cluster lives inside a client instance; with BOOTSTRAP, the client creates the topics. */
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "log_level", "0");
    rd_kafka_mock_cluster_t *cluster = NULL;
    const char *bootstrap;
    rd_kafka_t *host;
    if (argc == 6) {
        bootstrap = argv[4];
        set(conf, "bootstrap.servers", bootstrap);
        host = make(RD_KAFKA_PRODUCER, conf);
        snprintf(events_topic, sizeof(events_topic), "%sevents", argv[5]);
        for (int s = 0; s < SERVICES; s++) snprintf(service_topics[s], sizeof(service_topics[s]), "%sinvalidations.%c", argv[5], 'a' + s);
        create_topics(host, partitions);
    } else {
        host = make(RD_KAFKA_PRODUCER, conf);
        cluster = rd_kafka_mock_cluster_new(host, 1);
        if (!cluster) {
            fprintf(stderr, "could not start the mock cluster\n");
            return 2;
        }
        bootstrap = rd_kafka_mock_cluster_bootstraps(cluster);
        rd_kafka_mock_topic_create(cluster, events_topic, partitions, 1);
        for (int s = 0; s < SERVICES; s++) rd_kafka_mock_topic_create(cluster, service_topics[s], partitions, 1);
    }

    pthread_t hop_thread, node_threads[SERVICES];
    struct hop_args hop_args = {bootstrap, partitions};
    struct node_args node_args[SERVICES];
    pthread_create(&hop_thread, NULL, hop, &hop_args);
    for (int s = 0; s < SERVICES; s++) {
        node_args[s] = (struct node_args){bootstrap, partitions, s};
        pthread_create(&node_threads[s], NULL, node, &node_args[s]);
    }
    rd_kafka_t *source = producer(bootstrap);

    /* Warm-up: one event per partition (keys spread over them), through every hop. */
    for (int64_t i = 0; i < partitions * 4 && i < capacity; i++) send_event(source, i, i, sent_nanos);
    await_done(source, partitions * 4 < capacity ? partitions * 4 : capacity, 60);

    for (int r = 0; r < rate_count; r++) {
        long rate = rates[r];
        int64_t total = rate * seconds;
        clear(total);
        int64_t start = now_nanos();
        int64_t sent = 0;
        while (sent < total) {
            int64_t owed = (int64_t)((double)(now_nanos() - start) / 1e9 * (double)rate) + 1;
            if (owed > total) owed = total;
            while (sent < owed) {
                send_event(source, sent, sent % 1000, sent_nanos);
                sent++;
            }
            struct timespec step = {0, 1000000};
            nanosleep(&step, NULL);
            rd_kafka_poll(source, 0);
        }
        await_done(source, total, 10);
        int64_t done = 0;
        for (int64_t i = 0; i < total; i++) {
            int64_t at = done_at(i);
            if (at) latencies[done++] = at - sent_nanos[i];
        }
        qsort(latencies, (size_t)done, sizeof(int64_t), compare);
        double p50 = done ? latencies[(done - 1) * 50 / 100] / 1e6 : 0;
        double p99 = done ? latencies[(done - 1) * 99 / 100] / 1e6 : 0;
        double p999 = done ? latencies[(done - 1) * 999 / 1000] / 1e6 : 0;
        printf("rate %ld sent %lld done %lld p50 %.2f p99 %.2f p999 %.2f\n", rate, (long long)total, (long long)done, p50, p99, p999);
        fflush(stdout);
    }

    atomic_store(&stopping, 1);
    pthread_join(hop_thread, NULL);
    for (int s = 0; s < SERVICES; s++) pthread_join(node_threads[s], NULL);
    rd_kafka_flush(source, 5000);
    rd_kafka_destroy(source);
    if (cluster) rd_kafka_mock_cluster_destroy(cluster);
    rd_kafka_destroy(host);
    return 0;
}
