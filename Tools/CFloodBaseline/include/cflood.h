/* C baselines for `maestro-perf`: `udp`'s flood (the same flood as the Swift reactor's, in
   plain C with libev and one sendto/recvfrom per datagram) and `rpc`'s ping-pong. */
#ifndef CFLOOD_H
#define CFLOOD_H
#include <stdint.h>

typedef struct {
    uint64_t sent;
    uint64_t received;
    uint64_t send_failures;
    double seconds;
} cflood_result;

/* Floods `size`-byte datagrams from one 127.0.0.1 socket to another for `seconds`, bursts of
   `burst` sends per writable event. Returns 0, or -errno if a socket could not be set up. */
int cflood_run(int size, double seconds, int burst, cflood_result *out);

/* Two-process UDP round trips on 127.0.0.1 (a forked echoer, epoll on both sides): writes
   each round trip's time in microseconds to `times_us[0 ..< rounds]`. Returns 0 or -errno. */
int cpingpong_run(int rounds, double *times_us);

/* Pins the calling process (and the children it starts later) to one CPU. 0 or -errno. */
int pin_to_cpu(int cpu);

#endif
