/* Batched UDP receive and send (recvmmsg/sendmmsg), which need _GNU_SOURCE. */
#ifndef CNETSHIM_H
#define CNETSHIM_H
#include <stdint.h>
#include <stddef.h>

/* One slot of a batch: a buffer and the peer address (IPv4, host byte order). */
typedef struct {
    void *buf;          /* receive: where to put the datagram; send: the datagram */
    uint32_t cap;       /* receive: buffer capacity; send: datagram length */
    uint32_t len;       /* receive: bytes received (out) */
    uint32_t addr;      /* IPv4 address, host byte order (out for receive, in for send) */
    uint16_t port;      /* host byte order */
    uint16_t truncated; /* receive: 1 if the datagram did not fit (out) */
} cnet_slot;

/* Receives up to n datagrams without blocking. Returns the number received (0 when none is
   queued) or -errno on error. */
int cnet_recv_batch(int fd, cnet_slot *slots, int n);

/* Sends up to n datagrams. Returns how many the kernel accepted (the rest would block) or
   -errno when the first one failed. */
int cnet_send_batch(int fd, cnet_slot *slots, int n);

#endif
