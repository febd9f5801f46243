// Preloaded under ThreadSanitizer only (make test-sanitize). Debian's librdkafka starts its
// threads with C11 thrd_create and locks with mtx_lock; glibc implements both by calling its
// internal pthread functions directly, so TSan's pthread interceptors never see them: a thread
// it does not know dies inside TSan, and a lock it does not see hides the ordering between
// librdkafka's threads and the Swift callbacks they run. Defining the C11 calls here, over
// the public pthread ones, routes them through the interceptors. glibc's thrd_t, mtx_t and
// cnd_t are its pthread_t, pthread_mutex_t and pthread_cond_t.
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

static int c11_result(int error) {
    switch (error) {
    case 0: return thrd_success;
    case ENOMEM: return thrd_nomem;
    case EBUSY: return thrd_busy;
    case ETIMEDOUT: return thrd_timedout;
    default: return thrd_error;
    }
}

struct start { thrd_start_t function; void *argument; };

static void *run_start(void *boxed) {
    struct start start = *(struct start *)boxed;
    free(boxed);
    return (void *)(intptr_t)start.function(start.argument);
}

int thrd_create(thrd_t *thread, thrd_start_t function, void *argument) {
    struct start *boxed = malloc(sizeof *boxed);
    if (boxed == NULL) return thrd_nomem;
    boxed->function = function;
    boxed->argument = argument;
    int error = pthread_create((pthread_t *)thread, NULL, run_start, boxed);
    if (error != 0) free(boxed);
    return c11_result(error);
}

int thrd_join(thrd_t thread, int *result) {
    void *returned = NULL;
    int error = pthread_join((pthread_t)thread, &returned);
    if (error == 0 && result != NULL) *result = (int)(intptr_t)returned;
    return c11_result(error);
}

int thrd_detach(thrd_t thread) { return c11_result(pthread_detach((pthread_t)thread)); }

int mtx_init(mtx_t *mutex, int type) {
    pthread_mutexattr_t attributes;
    pthread_mutexattr_init(&attributes);
    if (type & mtx_recursive) pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_RECURSIVE);
    int error = pthread_mutex_init((pthread_mutex_t *)mutex, &attributes);
    pthread_mutexattr_destroy(&attributes);
    return c11_result(error);
}

int mtx_lock(mtx_t *mutex) { return c11_result(pthread_mutex_lock((pthread_mutex_t *)mutex)); }
int mtx_trylock(mtx_t *mutex) { return c11_result(pthread_mutex_trylock((pthread_mutex_t *)mutex)); }
int mtx_unlock(mtx_t *mutex) { return c11_result(pthread_mutex_unlock((pthread_mutex_t *)mutex)); }
void mtx_destroy(mtx_t *mutex) { pthread_mutex_destroy((pthread_mutex_t *)mutex); }

int mtx_timedlock(mtx_t *restrict mutex, const struct timespec *restrict deadline) {
    return c11_result(pthread_mutex_timedlock((pthread_mutex_t *)mutex, deadline));
}

int cnd_init(cnd_t *condition) { return c11_result(pthread_cond_init((pthread_cond_t *)condition, NULL)); }
int cnd_signal(cnd_t *condition) { return c11_result(pthread_cond_signal((pthread_cond_t *)condition)); }
int cnd_broadcast(cnd_t *condition) { return c11_result(pthread_cond_broadcast((pthread_cond_t *)condition)); }
void cnd_destroy(cnd_t *condition) { pthread_cond_destroy((pthread_cond_t *)condition); }

int cnd_wait(cnd_t *condition, mtx_t *mutex) {
    return c11_result(pthread_cond_wait((pthread_cond_t *)condition, (pthread_mutex_t *)mutex));
}

int cnd_timedwait(cnd_t *restrict condition, mtx_t *restrict mutex,
                  const struct timespec *restrict deadline) {
    return c11_result(pthread_cond_timedwait((pthread_cond_t *)condition,
                                             (pthread_mutex_t *)mutex, deadline));
}

void call_once(once_flag *flag, void (*function)(void)) { pthread_once((pthread_once_t *)flag, function); }
