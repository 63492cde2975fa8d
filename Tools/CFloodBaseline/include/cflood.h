/* The C baseline for `maestro-perf udp`: the same flood as the Swift reactor's, written in
   plain C with libev and one sendto/recvfrom per datagram. */
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

#endif
