/* Batched UDP receive (recvmmsg), which needs _GNU_SOURCE, with buffers and message headers
   allocated once per socket so that a receive costs no setup beyond the system call. */
#ifndef CNETSHIM_H
#define CNETSHIM_H
#include <stdint.h>
#include <stddef.h>

/* One received datagram. */
typedef struct {
    unsigned char *buf;   /* slot storage (slot_size bytes) */
    uint32_t len;         /* bytes received */
    uint32_t addr;        /* sender IPv4 address, host byte order */
    uint16_t port;        /* sender port, host byte order */
    uint16_t truncated;   /* 1 if the datagram was larger than slot_size */
} cnet_slot;

typedef struct cnet_batch cnet_batch;

/* Allocates n slots of slot_size bytes each (n is clamped to 1...1024). NULL if out of memory. */
cnet_batch *cnet_batch_new(int n, uint32_t slot_size);
void cnet_batch_free(cnet_batch *b);
int cnet_batch_capacity(const cnet_batch *b);
cnet_slot *cnet_batch_slots(cnet_batch *b);

/* Receives up to capacity datagrams without blocking. Returns how many arrived (0 when none is
   queued) or -errno on error. */
int cnet_batch_recv(int fd, cnet_batch *b);

/* Sends one datagram to addr:port (host byte order) without blocking. Returns 0 on success or
   -errno (-EAGAIN when the socket buffer is full). */
int cnet_sendto(int fd, const void *buf, size_t len, uint32_t addr, uint16_t port);

#endif
