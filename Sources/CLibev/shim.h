/* Inline wrappers for libev's macros, which Swift cannot import directly. */
#ifndef CLIBEV_SHIM_H
#define CLIBEV_SHIM_H
#include <ev.h>

typedef void (*evs_io_cb)(struct ev_loop *loop, ev_io *w, int revents);
typedef void (*evs_timer_cb)(struct ev_loop *loop, ev_timer *w, int revents);
typedef void (*evs_signal_cb)(struct ev_loop *loop, ev_signal *w, int revents);
typedef void (*evs_prepare_cb)(struct ev_loop *loop, ev_prepare *w, int revents);

static inline struct ev_loop *evs_default_loop(void) { return EV_DEFAULT; }

static inline void evs_io_init(ev_io *w, evs_io_cb cb, int fd, int events, void *ctx) {
    ev_io_init(w, cb, fd, events);
    w->data = ctx;
}

static inline void evs_timer_init(ev_timer *w, evs_timer_cb cb, ev_tstamp after, ev_tstamp repeat, void *ctx) {
    ev_timer_init(w, cb, after, repeat);
    w->data = ctx;
}

static inline void evs_timer_set(ev_timer *w, ev_tstamp after, ev_tstamp repeat) {
    ev_timer_set(w, after, repeat);
}

static inline void evs_signal_init(ev_signal *w, evs_signal_cb cb, int signum, void *ctx) {
    ev_signal_init(w, cb, signum);
    w->data = ctx;
}

static inline void evs_prepare_init(ev_prepare *w, evs_prepare_cb cb, void *ctx) {
    ev_prepare_init(w, cb);
    w->data = ctx;
}

static inline void evs_io_set_events(struct ev_loop *loop, ev_io *w, int events) {
    int active = ev_is_active(w);
    if (active) ev_io_stop(loop, w);
    ev_io_set(w, w->fd, events);
    if (active) ev_io_start(loop, w);
}

static inline int evs_io_is_active(const ev_io *w) { return ev_is_active(w); }
static inline int evs_timer_is_active(const ev_timer *w) { return ev_is_active(w); }
static inline int evs_prepare_is_active(const ev_prepare *w) { return ev_is_active(w); }
static inline int evs_signal_is_active(const ev_signal *w) { return ev_is_active(w); }

#endif
