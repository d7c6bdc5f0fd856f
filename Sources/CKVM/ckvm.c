#define _GNU_SOURCE
#include "ckvm.h"
#include <signal.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/syscall.h>

// The kvm_run of the vCPU this thread runs: the kick handler sets immediate_exit on it so that a
// kick arriving while the thread is outside KVM_RUN makes the next KVM_RUN return -EINTR at once.
static __thread struct kvm_run *volatile ckvm_thread_run;

static void ckvm_kick_handler(int sig) {
    (void)sig;
    struct kvm_run *r = ckvm_thread_run;
    if (r) __atomic_store_n(&r->immediate_exit, 1, __ATOMIC_SEQ_CST);
}

int ckvm_kick_signal(void) { return SIGRTMIN + 3; }

static pthread_once_t ckvm_once = PTHREAD_ONCE_INIT;
static int ckvm_install_result;

static void ckvm_install_once(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = ckvm_kick_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;   // no SA_RESTART: KVM_RUN must return -EINTR
    ckvm_install_result = sigaction(ckvm_kick_signal(), &sa, NULL) == 0 ? 0 : -errno;
}

int ckvm_kick_install(void) {
    pthread_once(&ckvm_once, ckvm_install_once);
    if (ckvm_install_result == 0) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, ckvm_kick_signal());
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    }
    return ckvm_install_result;
}

void ckvm_thread_set_run(struct kvm_run *run) { ckvm_thread_run = run; }

int ckvm_gettid(void) { return (int)syscall(SYS_gettid); }

int ckvm_kick_thread(int tid) {
    return syscall(SYS_tgkill, getpid(), tid, ckvm_kick_signal()) == 0 ? 0 : -errno;
}

int ckvm_timer_create(int64_t *out) {
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = ckvm_kick_signal();
    ev._sigev_un._tid = ckvm_gettid();
    timer_t t;
    if (timer_create(CLOCK_MONOTONIC, &ev, &t) != 0) return -errno;
    *out = (int64_t)(intptr_t)t;
    return 0;
}

int ckvm_timer_arm(int64_t t, uint64_t ns) {
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = (time_t)(ns / 1000000000u);
    its.it_value.tv_nsec = (long)(ns % 1000000000u);
    return timer_settime((timer_t)(intptr_t)t, 0, &its, NULL) == 0 ? 0 : -errno;
}

void ckvm_timer_delete(int64_t t) { timer_delete((timer_t)(intptr_t)t); }
