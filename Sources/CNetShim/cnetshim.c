#define _GNU_SOURCE
#include "cnetshim.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

struct cnet_batch {
    int n;
    uint32_t slot_size;
    cnet_slot *slots;
    struct mmsghdr *msgs;
    struct iovec *iov;
    struct sockaddr_in *from;
    unsigned char *arena;
};

cnet_batch *cnet_batch_new(int n, uint32_t slot_size) {
    if (n < 1) n = 1;
    if (n > 1024) n = 1024;
    if (slot_size < 1) slot_size = 1;
    cnet_batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->n = n;
    b->slot_size = slot_size;
    b->slots = calloc((size_t)n, sizeof *b->slots);
    b->msgs = calloc((size_t)n, sizeof *b->msgs);
    b->iov = calloc((size_t)n, sizeof *b->iov);
    b->from = calloc((size_t)n, sizeof *b->from);
    b->arena = malloc((size_t)n * slot_size);
    if (!b->slots || !b->msgs || !b->iov || !b->from || !b->arena) {
        cnet_batch_free(b);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        b->slots[i].buf = b->arena + (size_t)i * slot_size;
        b->iov[i].iov_base = b->slots[i].buf;
        b->iov[i].iov_len = slot_size;
        b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
        b->msgs[i].msg_hdr.msg_iovlen = 1;
        b->msgs[i].msg_hdr.msg_name = &b->from[i];
        b->msgs[i].msg_hdr.msg_namelen = sizeof b->from[i];
    }
    return b;
}

void cnet_batch_free(cnet_batch *b) {
    if (!b) return;
    free(b->slots);
    free(b->msgs);
    free(b->iov);
    free(b->from);
    free(b->arena);
    free(b);
}

int cnet_batch_capacity(const cnet_batch *b) { return b->n; }
cnet_slot *cnet_batch_slots(cnet_batch *b) { return b->slots; }

int cnet_batch_recv(int fd, cnet_batch *b) {
    int got = recvmmsg(fd, b->msgs, (unsigned)b->n, MSG_DONTWAIT, NULL);
    if (got < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    for (int i = 0; i < got; i++) {
        struct mmsghdr *m = &b->msgs[i];
        cnet_slot *s = &b->slots[i];
        s->len = m->msg_len;
        s->truncated = (m->msg_hdr.msg_flags & MSG_TRUNC) ? 1 : 0;
        s->addr = ntohl(b->from[i].sin_addr.s_addr);
        s->port = ntohs(b->from[i].sin_port);
        m->msg_hdr.msg_namelen = sizeof b->from[i];
    }
    return got;
}

int cnet_sendto(int fd, const void *buf, size_t len, uint32_t addr, uint16_t port) {
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(addr);
    to.sin_port = htons(port);
    ssize_t r = sendto(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof to);
    return r < 0 ? -errno : 0;
}
