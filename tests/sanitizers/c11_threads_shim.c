// C11 threads for TSan builds (gcc 12's libtsan intercepts none of <threads.h>).
//
// Debian's librdkafka uses C11 threads. libtsan does not intercept thrd_create, so those
// threads run without TSan state and crash on their first allocation (SEGV at 0xc38 in
// SizeClassAllocator64LocalCache::Allocate); nor mtx_*/cnd_*, so TSan cannot see
// librdkafka's locking and reports hundreds of races inside it. These definitions in the
// executable interpose glibc's and forward to the pthread calls TSan intercepts (glibc's
// mtx_t/cnd_t are pthread_mutex_t/pthread_cond_t underneath). Linked into every executable
// only when PAYORCH_SANITIZE contains "thread".
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

struct payorch_c11_start {
  thrd_start_t func;
  void* arg;
};

static void* payorch_c11_trampoline(void* p) {
  struct payorch_c11_start start = *(struct payorch_c11_start*)p;
  free(p);
  return (void*)(intptr_t)start.func(start.arg);
}

int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  struct payorch_c11_start* start = malloc(sizeof *start);
  if (start == NULL) return thrd_nomem;
  start->func = func;
  start->arg = arg;
  int err = pthread_create(thr, NULL, payorch_c11_trampoline, start);
  if (err == 0) return thrd_success;
  free(start);
  return err == EAGAIN ? thrd_nomem : thrd_error;
}

int thrd_join(thrd_t thr, int* res) {
  void* out = NULL;
  if (pthread_join(thr, &out) != 0) return thrd_error;
  if (res != NULL) *res = (int)(intptr_t)out;
  return thrd_success;
}

int thrd_detach(thrd_t thr) { return pthread_detach(thr) == 0 ? thrd_success : thrd_error; }

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  int err = pthread_mutex_init((pthread_mutex_t*)m, &attr);
  pthread_mutexattr_destroy(&attr);
  return err == 0 ? thrd_success : thrd_error;
}

int mtx_lock(mtx_t* m) {
  return pthread_mutex_lock((pthread_mutex_t*)m) == 0 ? thrd_success : thrd_error;
}

int mtx_trylock(mtx_t* m) {
  int err = pthread_mutex_trylock((pthread_mutex_t*)m);
  return err == 0 ? thrd_success : err == EBUSY ? thrd_busy : thrd_error;
}

int mtx_timedlock(mtx_t* restrict m, const struct timespec* restrict ts) {
  int err = pthread_mutex_timedlock((pthread_mutex_t*)m, ts);
  return err == 0 ? thrd_success : err == ETIMEDOUT ? thrd_timedout : thrd_error;
}

int mtx_unlock(mtx_t* m) {
  return pthread_mutex_unlock((pthread_mutex_t*)m) == 0 ? thrd_success : thrd_error;
}

void mtx_destroy(mtx_t* m) { pthread_mutex_destroy((pthread_mutex_t*)m); }

int cnd_init(cnd_t* c) {
  int err = pthread_cond_init((pthread_cond_t*)c, NULL);
  return err == 0 ? thrd_success : err == ENOMEM ? thrd_nomem : thrd_error;
}

int cnd_signal(cnd_t* c) {
  return pthread_cond_signal((pthread_cond_t*)c) == 0 ? thrd_success : thrd_error;
}

int cnd_broadcast(cnd_t* c) {
  return pthread_cond_broadcast((pthread_cond_t*)c) == 0 ? thrd_success : thrd_error;
}

int cnd_wait(cnd_t* c, mtx_t* m) {
  return pthread_cond_wait((pthread_cond_t*)c, (pthread_mutex_t*)m) == 0 ? thrd_success
                                                                         : thrd_error;
}

int cnd_timedwait(cnd_t* restrict c, mtx_t* restrict m, const struct timespec* restrict ts) {
  int err = pthread_cond_timedwait((pthread_cond_t*)c, (pthread_mutex_t*)m, ts);
  return err == 0 ? thrd_success : err == ETIMEDOUT ? thrd_timedout : thrd_error;
}

void cnd_destroy(cnd_t* c) { pthread_cond_destroy((pthread_cond_t*)c); }
