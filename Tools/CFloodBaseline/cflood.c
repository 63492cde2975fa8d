#include "cflood.h"
#include <ev.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

typedef struct {
    struct ev_loop *loop;
    int tx, rx;
    struct sockaddr_in dest;
    char *buf;
    int size, burst;
    cflood_result r;
} flood;

static int open_socket(struct sockaddr_in *addr) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int sz = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof *addr;
    if (bind(fd, (struct sockaddr *)addr, sizeof *addr) < 0 ||
        getsockname(fd, (struct sockaddr *)addr, &len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop; (void)revents;
    flood *f = w->data;
    for (int i = 0; i < f->burst; i++) {
        if (sendto(f->tx, f->buf, (size_t)f->size, 0, (struct sockaddr *)&f->dest, sizeof f->dest) < 0) {
            f->r.send_failures++;
            break;
        }
        f->r.sent++;
    }
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop; (void)revents;
    flood *f = w->data;
    char in[65536];
    struct sockaddr_in from;
    for (;;) {
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(f->rx, in, sizeof in, 0, (struct sockaddr *)&from, &len);
        if (n < 0) break;
        f->r.received++;
    }
}

static void on_stop(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)w; (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

int cflood_run(int size, double seconds, int burst, cflood_result *out) {
    flood f;
    memset(&f, 0, sizeof f);
    struct sockaddr_in txaddr;
    f.size = size;
    f.burst = burst;
    f.tx = open_socket(&txaddr);
    if (f.tx < 0) return f.tx;
    f.rx = open_socket(&f.dest);
    if (f.rx < 0) { close(f.tx); return f.rx; }
    f.buf = calloc(1, (size_t)size + 1);
    f.loop = ev_loop_new(EVFLAG_AUTO);
    ev_io wio, rio;
    ev_timer stop;
    ev_io_init(&wio, on_writable, f.tx, EV_WRITE);
    ev_io_init(&rio, on_readable, f.rx, EV_READ);
    wio.data = rio.data = &f;
    ev_timer_init(&stop, on_stop, seconds, 0);
    ev_io_start(f.loop, &wio);
    ev_io_start(f.loop, &rio);
    ev_timer_start(f.loop, &stop);
    ev_now_update(f.loop);
    double start = ev_time();
    ev_run(f.loop, 0);
    f.r.seconds = ev_time() - start;
    ev_io_stop(f.loop, &wio);
    /* Collect what is still queued, as the Swift flood does. */
    on_readable(f.loop, &rio, 0);
    ev_io_stop(f.loop, &rio);
    ev_loop_destroy(f.loop);
    close(f.tx);
    close(f.rx);
    free(f.buf);
    *out = f.r;
    return 0;
}
