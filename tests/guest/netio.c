/*
 * Waiting on many fds and sockets, with threads: poll/ppoll/select/pselect, epoll (level
 * and edge triggered, on a socketpair), eventfd, timerfd, a TCP echo server and client on
 * 127.0.0.1, UDP with sendmmsg/recvmmsg, AF_UNIX abstract names and SCM_RIGHTS.
 *
 * usage: netio [check ...]   (no argument: every check)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "guestcheck.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

struct delayed { int fd; int ms; const char *text; };

static void *delayed_write(void *arg)
{
    struct delayed *d = arg;
    sleep_ms(d->ms);
    if (write(d->fd, d->text, strlen(d->text)) < 0)
        return (void *)1;
    return NULL;
}

/* ---- poll family ------------------------------------------------------------------ */

/* The write-side bits that MIPS numbers differently (POLLWRNORM is POLLOUT there): a pipe
 * reports normal writability but never band data. */
static void check_pollband(void)
{
    int p[2];
    CHECK("pollband", pipe(p) == 0);
    struct pollfd wr[2] = {{p[1], POLLWRNORM | POLLOUT, 0}, {p[1], POLLWRBAND, 0}};
    CHECKF("pollband", poll(wr, 2, 0) == 1 && wr[0].revents == (POLLWRNORM | POLLOUT) &&
                           wr[1].revents == 0, "revents %#x %#x", wr[0].revents, wr[1].revents);
    close(p[0]);
    close(p[1]);
    guest_ok("pollband");
}

static void check_poll(void)
{
    int p[2];
    CHECK("poll", pipe(p) == 0);
    struct pollfd pf[2] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}};
    CHECK("poll", poll(pf, 2, 0) == 1 && pf[0].revents == 0 && pf[1].revents == POLLOUT);
    struct pollfd rd = {p[0], POLLIN, 0};
    int64_t t0 = now_ms();
    CHECK("poll", poll(&rd, 1, 30) == 0 && rd.revents == 0);
    CHECK("poll", now_ms() - t0 >= 29);
    struct timespec ts = {0, 20 * 1000 * 1000};
    t0 = now_ms();
    CHECK("poll", ppoll(&rd, 1, &ts, NULL) == 0);
    CHECK("poll", now_ms() - t0 >= 19);
    /* a thread writes later: poll wakes up */
    pthread_t th;
    struct delayed d = {p[1], 20, "x"};
    CHECK("poll", pthread_create(&th, NULL, delayed_write, &d) == 0);
    CHECK("poll", poll(&rd, 1, 5000) == 1 && rd.revents == POLLIN);
    CHECK("poll", pthread_join(th, NULL) == 0);
    /* a closed write end gives POLLHUP; a bad fd POLLNVAL */
    close(p[1]);
    struct pollfd two[2] = {{p[0], POLLIN, 0}, {999, POLLIN, 0}};
    CHECK("poll", poll(two, 2, 1000) == 2);
    CHECK("poll", (two[0].revents & (POLLIN | POLLHUP)) == (POLLIN | POLLHUP));
    CHECK("poll", two[1].revents == POLLNVAL);
    close(p[0]);
    guest_ok("poll");
}

static void check_select(void)
{
    int p[2];
    CHECK("select", pipe(p) == 0);
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    struct timeval tv = {0, 20 * 1000};
    CHECK("select", select(p[0] + 1, &r, NULL, NULL, &tv) == 0 && !FD_ISSET(p[0], &r));
    pthread_t th;
    struct delayed d = {p[1], 20, "y"};
    CHECK("select", pthread_create(&th, NULL, delayed_write, &d) == 0);
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    fd_set w;
    FD_ZERO(&w);
    tv.tv_sec = 5;
    tv.tv_usec = 0;
    CHECK("select", select(p[0] + 1, &r, &w, NULL, &tv) == 1 && FD_ISSET(p[0], &r));
    CHECK("select", tv.tv_sec < 5 || tv.tv_usec < 1000000); /* time left written back */
    CHECK("select", pthread_join(th, NULL) == 0);
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    FD_ZERO(&w);
    FD_SET(p[1], &w);
    struct timespec ts = {0, 0};
    CHECK("select", pselect(p[1] + 1, &r, &w, NULL, &ts, NULL) == 2);
    CHECK("select", FD_ISSET(p[0], &r) && FD_ISSET(p[1], &w));
    close(p[0]);
    close(p[1]);
    guest_ok("select");
}

/* ---- epoll, eventfd, timerfd ----------------------------------------------------------- */

static void check_epoll(void)
{
    int sv[2];
    CHECK("epoll", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK("epoll", ep >= 0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = 0x1122334455667788ULL};
    CHECK("epoll", epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev) == 0);
    errno = 0;
    CHECK("epoll", epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev) == -1 && errno == EEXIST);
    struct epoll_event out[4];
    CHECK("epoll", epoll_wait(ep, out, 4, 0) == 0);
    int64_t t0 = now_ms();
    CHECK("epoll", epoll_wait(ep, out, 4, 20) == 0 && now_ms() - t0 >= 19);
    CHECK("epoll", write(sv[1], "ab", 2) == 2);
    CHECK("epoll", epoll_wait(ep, out, 4, 1000) == 1);
    CHECK("epoll", out[0].data.u64 == 0x1122334455667788ULL && out[0].events == EPOLLIN);
    /* edge triggered: no new edge, nothing reported, though data is still there */
    CHECK("epoll", epoll_wait(ep, out, 4, 0) == 0);
    CHECK("epoll", write(sv[1], "c", 1) == 1);
    CHECK("epoll", epoll_wait(ep, out, 4, 1000) == 1);
    char buf[8];
    CHECK("epoll", read(sv[0], buf, sizeof buf) == 3 && memcmp(buf, "abc", 3) == 0);
    /* a thread writes later while we wait */
    pthread_t th;
    struct delayed d = {sv[1], 20, "later"};
    CHECK("epoll", pthread_create(&th, NULL, delayed_write, &d) == 0);
    CHECK("epoll", epoll_wait(ep, out, 4, 5000) == 1 && out[0].data.u64 == 0x1122334455667788ULL);
    CHECK("epoll", pthread_join(th, NULL) == 0);
    CHECK("epoll", read(sv[0], buf, sizeof buf) == 5);
    /* level triggered, via MOD */
    ev.events = EPOLLIN;
    ev.data.fd = sv[0];
    CHECK("epoll", epoll_ctl(ep, EPOLL_CTL_MOD, sv[0], &ev) == 0);
    CHECK("epoll", write(sv[1], "z", 1) == 1);
    CHECK("epoll", epoll_wait(ep, out, 4, 0) == 1 && epoll_wait(ep, out, 4, 0) == 1);
    CHECK("epoll", out[0].data.fd == sv[0]);
    CHECK("epoll", epoll_ctl(ep, EPOLL_CTL_DEL, sv[0], NULL) == 0);
    CHECK("epoll", epoll_wait(ep, out, 4, 0) == 0);
    errno = 0;
    CHECK("epoll", epoll_wait(ep, out, 0, 0) == -1 && errno == EINVAL);
    close(ep);
    close(sv[0]);
    close(sv[1]);
    guest_ok("epoll");
}

static void *eventfd_poster(void *arg)
{
    int fd = *(int *)arg;
    sleep_ms(10);
    uint64_t one = 1;
    for (int i = 0; i < 3; i++)
        if (write(fd, &one, 8) != 8)
            return (void *)1;
    return NULL;
}

static void check_eventfd(void)
{
    int fd = eventfd(0, EFD_CLOEXEC);
    CHECK("eventfd", fd >= 0);
    pthread_t th;
    CHECK("eventfd", pthread_create(&th, NULL, eventfd_poster, &fd) == 0);
    uint64_t got = 0, v;
    while (got < 3) {  /* blocks until the poster writes */
        CHECK("eventfd", read(fd, &v, 8) == 8);
        got += v;
    }
    CHECK("eventfd", got == 3);
    CHECK("eventfd", pthread_join(th, NULL) == 0);
    close(fd);
    int nb = eventfd(2, EFD_NONBLOCK | EFD_SEMAPHORE);
    CHECK("eventfd", read(nb, &v, 8) == 8 && v == 1);
    CHECK("eventfd", read(nb, &v, 8) == 8 && v == 1);
    errno = 0;
    CHECK("eventfd", read(nb, &v, 8) == -1 && errno == EAGAIN);
    close(nb);
    guest_ok("eventfd");
}

static void check_timerfd(void)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    CHECK("timerfd", fd >= 0);
    struct itimerspec its = {{0, 0}, {0, 15 * 1000 * 1000}};
    int64_t t0 = now_ms(); /* before arming: a loaded machine may stall between the calls */
    CHECK("timerfd", timerfd_settime(fd, 0, &its, NULL) == 0);
    struct itimerspec cur;
    CHECK("timerfd", timerfd_gettime(fd, &cur) == 0 && cur.it_value.tv_nsec > 0);
    uint64_t n;
    CHECK("timerfd", read(fd, &n, 8) == 8 && n == 1);
    CHECK("timerfd", now_ms() - t0 >= 10);
    close(fd);
    guest_ok("timerfd");
}

/* ---- TCP echo on 127.0.0.1 ------------------------------------------------------------- */

enum { ECHOES = 1000 };

static void *echo_server(void *arg)
{
    int ls = *(int *)arg;
    int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return (void *)1;
    char buf[256];
    long n;
    while ((n = recv(c, buf, sizeof buf, 0)) > 0)
        if (send(c, buf, n, 0) != n)
            return (void *)2;
    close(c);
    return NULL;
}

static void check_tcp(void)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK("tcp", ls >= 0);
    int one = 1;
    CHECK("tcp", setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK("tcp", bind(ls, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK("tcp", listen(ls, 4) == 0);
    socklen_t alen = sizeof a;
    CHECK("tcp", getsockname(ls, (struct sockaddr *)&a, &alen) == 0 && a.sin_port != 0);
    pthread_t th;
    CHECK("tcp", pthread_create(&th, NULL, echo_server, &ls) == 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK("tcp", connect(c, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK("tcp", setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
    struct sockaddr_in peer;
    alen = sizeof peer;
    CHECK("tcp", getpeername(c, (struct sockaddr *)&peer, &alen) == 0 &&
                     peer.sin_port == a.sin_port);
    int got = 0;
    for (int i = 0; i < ECHOES; i++) {
        char msg[32], back[32];
        int len = snprintf(msg, sizeof msg, "ping %d", i);
        CHECK("tcp", send(c, msg, len, 0) == len);
        int have = 0;
        while (have < len) {
            long n = recv(c, back + have, len - have, 0);
            CHECK("tcp", n > 0);
            have += n;
        }
        got += memcmp(msg, back, len) == 0;
    }
    CHECK("tcp", got == ECHOES);
    CHECK("tcp", shutdown(c, SHUT_WR) == 0);
    char buf[4];
    CHECK("tcp", recv(c, buf, sizeof buf, 0) == 0); /* the server closed after our EOF */
    void *ret;
    CHECK("tcp", pthread_join(th, &ret) == 0 && ret == NULL);
    close(c);
    /* nothing listens any more: refused */
    close(ls);
    int r = socket(AF_INET, SOCK_STREAM, 0);
    errno = 0;
    CHECK("tcp", connect(r, (struct sockaddr *)&a, sizeof a) == -1 && errno == ECONNREFUSED);
    close(r);
    /* a non-blocking accept with nobody connecting */
    int nl = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    a.sin_port = 0;
    CHECK("tcp", bind(nl, (struct sockaddr *)&a, sizeof a) == 0 && listen(nl, 1) == 0);
    errno = 0;
    CHECK("tcp", accept(nl, NULL, NULL) == -1 && errno == EAGAIN);
    close(nl);
    guest_ok("tcp");
}

/* ---- UDP with sendmmsg/recvmmsg ------------------------------------------------------- */

static void check_udp(void)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0), c = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK("udp", s >= 0 && c >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK("udp", bind(s, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t alen = sizeof a;
    CHECK("udp", getsockname(s, (struct sockaddr *)&a, &alen) == 0);
    CHECK("udp", sendto(c, "solo", 4, 0, (struct sockaddr *)&a, sizeof a) == 4);
    char buf[16];
    struct sockaddr_in from;
    alen = sizeof from;
    CHECK("udp", recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &alen) == 4);
    CHECK("udp", memcmp(buf, "solo", 4) == 0 && from.sin_family == AF_INET);
    CHECK("udp", connect(c, (struct sockaddr *)&a, sizeof a) == 0);
    struct mmsghdr out[3];
    struct iovec iov[3];
    const char *words[3] = {"one", "three", "seven"};
    memset(out, 0, sizeof out);
    for (int i = 0; i < 3; i++) {
        iov[i].iov_base = (void *)words[i];
        iov[i].iov_len = strlen(words[i]);
        out[i].msg_hdr.msg_iov = &iov[i];
        out[i].msg_hdr.msg_iovlen = 1;
    }
    CHECK("udp", sendmmsg(c, out, 3, 0) == 3);
    struct mmsghdr in[4];
    char bufs[4][16];
    struct iovec iin[4];
    memset(in, 0, sizeof in);
    for (int i = 0; i < 4; i++) {
        iin[i].iov_base = bufs[i];
        iin[i].iov_len = sizeof bufs[i];
        in[i].msg_hdr.msg_iov = &iin[i];
        in[i].msg_hdr.msg_iovlen = 1;
    }
    CHECK("udp", recvmmsg(s, in, 4, MSG_DONTWAIT, NULL) == 3);
    for (int i = 0; i < 3; i++)
        CHECK("udp", in[i].msg_len == strlen(words[i]) &&
                         memcmp(bufs[i], words[i], in[i].msg_len) == 0);
    close(s);
    close(c);
    guest_ok("udp");
}

/* ---- AF_UNIX: abstract names, SCM_RIGHTS ------------------------------------------------ */

static void *unix_client(void *arg)
{
    struct sockaddr_un *a = arg;
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a->sun_path + 1);
    if (connect(c, (struct sockaddr *)a, len) != 0)
        return (void *)1;
    int p[2];
    if (pipe(p) != 0)
        return (void *)2;
    if (write(p[1], "via fd", 6) != 6)
        return (void *)3;
    char byte = '!';
    struct iovec iov = {&byte, 1};
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                       .msg_controllen = sizeof u.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &p[0], sizeof(int));
    if (sendmsg(c, &m, 0) != 1)
        return (void *)4;
    close(p[0]);
    close(p[1]);
    close(c);
    return NULL;
}

static void check_unix(void)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "usermode-netio-%d", (int)getpid());
    socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1);
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK("unix", bind(ls, (struct sockaddr *)&a, len) == 0 && listen(ls, 1) == 0);
    pthread_t th;
    CHECK("unix", pthread_create(&th, NULL, unix_client, &a) == 0);
    int c = accept(ls, NULL, NULL);
    CHECK("unix", c >= 0);
    char byte;
    struct iovec iov = {&byte, 1};
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                       .msg_controllen = sizeof u.buf};
    CHECK("unix", recvmsg(c, &m, 0) == 1 && byte == '!');
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    CHECK("unix", cm && cm->cmsg_type == SCM_RIGHTS);
    int passed;
    memcpy(&passed, CMSG_DATA(cm), sizeof passed);
    char buf[8];
    CHECK("unix", read(passed, buf, sizeof buf) == 6 && memcmp(buf, "via fd", 6) == 0);
    void *ret;
    CHECK("unix", pthread_join(th, &ret) == 0 && ret == NULL);
    close(passed);
    close(c);
    close(ls);
    guest_ok("unix");
}

static void check_ifreq(void)
{
    /* interface requests on a socket: index and name of lo both ways, its flags, MTU and
     * address, SIOCGIFCONF with and without a buffer (entries of this ABI's ifreq size);
     * an unknown request is ENOTTY */
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK("ifreq", s >= 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    CHECK("ifreq", ioctl(s, SIOCGIFINDEX, &ifr) == 0 && ifr.ifr_ifindex > 0);
    int index = ifr.ifr_ifindex;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_ifindex = index;
    CHECK("ifreq", ioctl(s, SIOCGIFNAME, &ifr) == 0 && strcmp(ifr.ifr_name, "lo") == 0);
    CHECK("ifreq", ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_LOOPBACK));
    CHECK("ifreq", ioctl(s, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 0);
    CHECK("ifreq", ioctl(s, SIOCGIFADDR, &ifr) == 0);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
    CHECK("ifreq", sin->sin_family == AF_INET && sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    strcpy(ifr.ifr_name, "nosuchif9");
    CHECK("ifreq", ioctl(s, SIOCGIFINDEX, &ifr) == -1 && errno == ENODEV);
    struct ifreq reqs[32];
    struct ifconf ifc = {.ifc_len = sizeof reqs, .ifc_req = reqs};
    CHECK("ifreq", ioctl(s, SIOCGIFCONF, &ifc) == 0 && ifc.ifc_len > 0
          && ifc.ifc_len % (int)sizeof(struct ifreq) == 0);
    int found = 0, n = ifc.ifc_len / (int)sizeof(struct ifreq);
    for (int i = 0; i < n; i++) {
        sin = (struct sockaddr_in *)&reqs[i].ifr_addr;
        if (strcmp(reqs[i].ifr_name, "lo") == 0 && sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK))
            found = 1;
    }
    CHECKF("ifreq", found, "%d entries, no lo", n);
    struct ifconf sizing = {.ifc_len = 0, .ifc_req = NULL};
    CHECK("ifreq", ioctl(s, SIOCGIFCONF, &sizing) == 0 && sizing.ifc_len == ifc.ifc_len);
    int x;
    CHECK("ifreq", ioctl(s, _IOR(0xee, 1, int), &x) == -1 && errno == ENOTTY); /* last: */
    close(s); /* qemu-user answers ENOSYS */
    guest_ok("ifreq");
}

static const struct guest_check checks[] = {
    {"poll", check_poll},       {"select", check_select}, {"epoll", check_epoll},
    {"eventfd", check_eventfd}, {"timerfd", check_timerfd}, {"tcp", check_tcp},
    {"udp", check_udp},         {"unix", check_unix},       {"pollband", check_pollband},
    {"ifreq", check_ifreq},
};

int main(int argc, char **argv)
{
    return guest_run_checks("netio", checks, sizeof checks / sizeof checks[0], argc, argv);
}
