// The librdkafka headers Cascade uses: the client API and the mock cluster (embedded broker).
#ifndef CASCADE_CRDKAFKA_SHIM_H
#define CASCADE_CRDKAFKA_SHIM_H
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#endif
