#define _GNU_SOURCE
#include "cnetshim.h"
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define CNET_MAX_BATCH 64

int cnet_recv_batch(int fd, cnet_slot *slots, int n) {
    struct mmsghdr msgs[CNET_MAX_BATCH];
    struct iovec iov[CNET_MAX_BATCH];
    struct sockaddr_in from[CNET_MAX_BATCH];
    if (n > CNET_MAX_BATCH) n = CNET_MAX_BATCH;
    if (n <= 0) return 0;
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)n);
    for (int i = 0; i < n; i++) {
        iov[i].iov_base = slots[i].buf;
        iov[i].iov_len = slots[i].cap;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
    }
    int got = recvmmsg(fd, msgs, (unsigned)n, MSG_DONTWAIT, NULL);
    if (got < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    for (int i = 0; i < got; i++) {
        slots[i].len = msgs[i].msg_len;
        slots[i].truncated = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? 1 : 0;
        slots[i].addr = ntohl(from[i].sin_addr.s_addr);
        slots[i].port = ntohs(from[i].sin_port);
    }
    return got;
}

int cnet_send_batch(int fd, cnet_slot *slots, int n) {
    struct mmsghdr msgs[CNET_MAX_BATCH];
    struct iovec iov[CNET_MAX_BATCH];
    struct sockaddr_in to[CNET_MAX_BATCH];
    if (n > CNET_MAX_BATCH) n = CNET_MAX_BATCH;
    if (n <= 0) return 0;
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)n);
    memset(to, 0, sizeof(struct sockaddr_in) * (size_t)n);
    for (int i = 0; i < n; i++) {
        iov[i].iov_base = slots[i].buf;
        iov[i].iov_len = slots[i].cap;
        to[i].sin_family = AF_INET;
        to[i].sin_addr.s_addr = htonl(slots[i].addr);
        to[i].sin_port = htons(slots[i].port);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &to[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(to[i]);
    }
    int sent = sendmmsg(fd, msgs, (unsigned)n, MSG_DONTWAIT);
    if (sent < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    return sent;
}
