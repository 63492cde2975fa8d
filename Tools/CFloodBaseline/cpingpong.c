/* The C baseline for `maestro-perf rpc`: the floor a two-process round trip can reach on this
   machine. A forked child echoes 8-byte datagrams; the parent sends one and blocks in
   epoll_wait for the echo, `rounds` times. The child only makes system calls, so forking from
   a multithreaded process is safe. */
#include "cflood.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

static int loopback_socket(struct sockaddr_in *addr) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof *addr;
    if (bind(fd, (struct sockaddr *)addr, sizeof *addr) < 0 || getsockname(fd, (struct sockaddr *)addr, &len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int wait_readable(int ep) {
    struct epoll_event e;
    for (;;) {
        int n = epoll_wait(ep, &e, 1, 5000);
        if (n > 0) return 0;
        if (n == 0) return -ETIMEDOUT;
        if (errno != EINTR) return -errno;
    }
}

static int watch(int fd) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return -errno;
    struct epoll_event e = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0) {
        int err = errno;
        close(ep);
        return -err;
    }
    return ep;
}

int cpingpong_run(int rounds, double *times_us) {
    struct sockaddr_in pa, ca;
    int p = loopback_socket(&pa);
    if (p < 0) return p;
    int c = loopback_socket(&ca);
    if (c < 0) { close(p); return c; }
    pid_t child = fork();
    if (child < 0) { int e = errno; close(p); close(c); return -e; }
    if (child == 0) {
        char b[64];
        int ep = watch(c);
        if (ep < 0) _exit(1);
        for (int i = 0; i < rounds; i++) {
            if (wait_readable(ep) < 0) _exit(1);
            ssize_t n = recv(c, b, sizeof b, 0);
            if (n < 0 || sendto(c, b, (size_t)n, 0, (struct sockaddr *)&pa, sizeof pa) < 0) _exit(1);
        }
        _exit(0);
    }
    close(c);
    int result = 0;
    int ep = watch(p);
    if (ep < 0) result = ep;
    char b[64] = {0};
    for (int i = 0; result == 0 && i < rounds; i++) {
        double t0 = now_us();
        if (sendto(p, b, 8, 0, (struct sockaddr *)&ca, sizeof ca) < 0) { result = -errno; break; }
        if ((result = wait_readable(ep)) < 0) break;
        if (recv(p, b, sizeof b, 0) < 0) { result = -errno; break; }
        times_us[i] = now_us() - t0;
    }
    if (ep >= 0) close(ep);
    close(p);
    if (result < 0) kill(child, SIGKILL);
    int status;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    return result;
}
