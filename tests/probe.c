/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * probe - make ONE network attempt and say how it went, for the tests.
 *
 * The one prober of the tests: build/tests/probe and build/tests/bypass
 * are this file, the second built from tests/bypass.c with PROBE_BYPASS
 * set.  The socket modes are one table, modes[] (name, family, socket type,
 * protocol, how the attempt is made), run by one function, run_mode(), in
 * the style of the kernel selftests' sock_addr.c; the commands whose
 * arguments are not "ADDR PORT" are a second table, commands[].
 *
 * Prints one word on stdout: "ok" on success, otherwise the errno name
 * (EPERM, ECONNREFUSED, ...) of the step that failed.  A few modes print
 * something else (documented below).  Exit 0 on ok, 1 otherwise, 2 on
 * usage error.  Every attempt is bounded (socket timeouts and an alarm).
 *
 * ADDR is a literal; an IPv6 literal (including ::ffff:a.b.c.d) means an
 * AF_INET6 socket (IPV6_V6ONLY off).  The payload is "probe", or
 * $PROBE_PAYLOAD; as bypass it is "BYPASS-<tag>" with <tag> from
 * $BYPASS_TAG ("x" if unset), so that a packet sniffer can tell which
 * attempt a packet belongs to.  Payloads are cut to 127 bytes.
 *
 * MODE ADDR PORT, one attempt (both entries):
 *   tcp              connect()
 *   udp              unconnected sendto()
 *   udp-connected    connect() + send()
 *   tfo              sendto(MSG_FASTOPEN) on a TCP socket
 *   tfo-connect      TCP_FASTOPEN_CONNECT, connect(), send()
 *   sendmmsg         sendmmsg() of 2 datagrams (unconnected)
 *   udp4on6          ADDR4: AF_INET sockaddr through an AF_INET6 UDP socket
 *   udp-unspec       ADDR4: UDP sendto() whose sockaddr_in has sin_family
 *                    AF_UNSPEC
 *   pktinfo          connected UDP, then sendmsg() with an IP_PKTINFO /
 *                    IPV6_PKTINFO cmsg and no msg_name
 *   mptcp            connect() of an IPPROTO_MPTCP socket
 *   udplite          IPPROTO_UDPLITE: as probe unconnected sendto(), as
 *                    bypass connect() + send()
 *   udplite-sendto   IPPROTO_UDPLITE: unconnected sendto()
 *   udplite-connected IPPROTO_UDPLITE: connect() + send()
 *   sctp             SCTP one-to-one: connect() + send()
 *   raw-udp          SOCK_RAW/IPPROTO_UDP, UDP header by hand (CAP_NET_RAW)
 *   raw-ip           SOCK_RAW/IPPROTO_RAW, IPv4 or IPv6 header + UDP header
 *                    by hand (the source address is ADDR itself)
 *   ping             ICMP/ICMPv6 "ping" socket (SOCK_DGRAM), unconnected
 *                    sendto() of an echo request (PORT is ignored)
 *   packet           AF_PACKET SOCK_DGRAM on "lo": an IPv4 or IPv6 + UDP
 *                    packet built by hand
 *   iouring-connect  TCP connect through io_uring (IORING_OP_CONNECT)
 *   iouring-sendmsg  unconnected UDP sendmsg through io_uring
 *                    (IORING_OP_SENDMSG).  Both print
 *                    "io_uring-unavailable:ERRNO" if io_uring_setup() is
 *                    refused.
 *
 * Commands (both entries):
 *   loop tcp|udp ADDR PORT N       N attempts; prints "WORD=count" pairs
 *   listen tcp|udp|udplite ADDR PORT COUNTFILE
 *                                  serve forever; append one line per
 *                                  connection ("PEER conn") or datagram
 *                                  ("PEER PAYLOAD") to COUNTFILE; prints
 *                                  "listening" once bound.
 *   srh tcp|udp FINAL FIRST PORT   AF_INET6: setsockopt(IPV6_RTHDR) with a
 *                                  type-4 segment routing header whose first
 *                                  segment is FIRST and final segment FINAL,
 *                                  then connect()+send() (tcp) or sendto()
 *                                  (udp) to FINAL.  "setsockopt:ERRNO" if
 *                                  the option is refused.
 *   lsrr tcp|udp FINAL FIRST PORT  AF_INET: setsockopt(IP_OPTIONS) with a
 *                                  loose source route via FIRST, then as
 *                                  above.  "setsockopt:ERRNO" if refused.
 *   compat-srh|compat-lsrr tcp|udp FINAL FIRST PORT
 *                                  as srh / lsrr, but the setsockopt() is
 *                                  made through the 32-bit (ia32) syscall
 *                                  entry, int $0x80 (x86_64 only;
 *                                  "setsockopt:ENOSYS" without it)
 *   retopts FINAL FIRST PORT       AF_INET UDP: the same LSRR option as an
 *                                  IP_RETOPTS control message of sendmsg()
 *                                  (no setsockopt at all)
 *   retopts-connected FINAL FIRST PORT
 *                                  the same on a UDP socket connect()ed to
 *                                  FINAL, sendmsg() without an address
 *   detach CGDIR                   BPF_PROG_DETACH with no program fd on
 *                                  CGDIR, for every attach type egress uses;
 *                                  "ok" if any of them detached something,
 *                                  else the errno of the first
 *   detach-userns                  unshare(USER|NS|CGROUP), map uid/gid,
 *                                  mount cgroup2 on a fresh directory (it
 *                                  shows the caller's own cgroup as root),
 *                                  then as "detach" on that root;
 *                                  "unshare:ERRNO"/"mount:ERRNO" if a step
 *                                  before the detach fails
 *   fds                            the number of open fds whose fdinfo has
 *                                  a link_id, map_id or prog_id line
 *   precreated ADDR PORT CGDIR     UDP socket created first, then the
 *                                  process joins CGDIR, then sendto()
 *   scm-rights ADDR PORT CGDIR     a child joins CGDIR, receives a UDP
 *                                  socket created by the parent (outside)
 *                                  over SCM_RIGHTS, and sendto()s; the
 *                                  child's result is printed
 *   raw-connected tcp|udp ADDR PORT
 *                                  SOCK_RAW/IPPROTO_TCP or IPPROTO_UDP,
 *                                  connect()ed to ADDR PORT, then send()
 *                                  of a hand-built SYN or UDP header
 *   v6-chain HDRS ADDR PORT        IPPROTO_RAW IPv6 with the extension
 *                                  headers HDRS (d dstopts, h hop-by-hop,
 *                                  a AH; e.g. ddddd), then UDP to PORT
 *   frag4 both|first|later ADDR PORT
 *                                  IPPROTO_RAW IPv4: a UDP datagram in two
 *                                  fragments, both or only one of them
 *   frag6 both|first|later|split ADDR PORT
 *                                  the same in IPv6, behind fragment headers;
 *                                  split: the later one from another source
 *   serve ADDR PORT                a TCP listener (Fast Open on): prints
 *                                  "listening", then "accepted:BYTES" for
 *                                  one connection within 8 s, or an errno
 *   client-from SRC ADDR PORT [tfo]
 *                                  a TCP client bound to SRC: "data" (the
 *                                  server answered), "established" (no
 *                                  answer), or the errno (ETIMEDOUT: no
 *                                  handshake); tfo: data in the SYN
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif
#ifndef IPV6_RTHDR
#define IPV6_RTHDR 57
#endif
#ifndef IPV6_CHECKSUM
#define IPV6_CHECKSUM 7
#endif

#ifdef PROBE_BYPASS
#define PROG "bypass"
#else
#define PROG "probe"
#endif
#include "probe-common.h"

static char payload[128] = "probe";

/* a word other than ok / an errno name: printed as is */
static char word[96];

static int say(const char *step, int err)
{
	snprintf(word, sizeof(word), "%s:%s", step, errname(err));
	return -1;
}

static const struct sockaddr *sa(const struct target *t)
{
	return (const struct sockaddr *)&t->ss;
}

static size_t plen(void)
{
	return strlen(payload);
}

/* ---------------------------------------------------------------- raw */

static uint16_t csum(const void *p, size_t n, uint32_t sum)
{
	const uint8_t *b = p;

	for (; n > 1; n -= 2, b += 2)
		sum += (b[0] << 8) | b[1];
	if (n)
		sum += b[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

struct udph {
	uint16_t sport, dport, len, sum;
} __attribute__((packed));

/* UDP header + payload into buf; returns its length. */
static size_t build_udp(uint8_t *buf, uint16_t dport)
{
	struct udph *u = (struct udph *)buf;

	u->sport = htons(40000);
	u->dport = htons(dport);
	u->len = htons(sizeof(*u) + plen());
	u->sum = 0;	/* IPv4: none; IPv6: filled in below or by the kernel */
	memcpy(buf + sizeof(*u), payload, plen());
	return sizeof(*u) + plen();
}

/* An IPv4 or IPv6 header + UDP, source = destination (a local address). */
static size_t build_ip_udp(const struct target *t, uint8_t *buf)
{
	if (t->family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&t->ss;
		uint8_t *ip = buf;
		size_t n = build_udp(buf + 20, t->port);

		memset(ip, 0, 20);
		ip[0] = 0x45;
		ip[2] = (20 + n) >> 8;
		ip[3] = (20 + n) & 0xff;
		ip[6] = 0x40;	/* DF */
		ip[8] = 64;
		ip[9] = IPPROTO_UDP;
		memcpy(ip + 12, &s->sin_addr, 4);
		memcpy(ip + 16, &s->sin_addr, 4);
		{
			uint16_t c = csum(ip, 20, 0);

			ip[10] = c >> 8;
			ip[11] = c & 0xff;
		}
		return 20 + n;
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&t->ss;
		uint8_t *ip = buf;
		size_t n = build_udp(buf + 40, t->port);
		struct udph *u = (struct udph *)(buf + 40);
		uint32_t sum = 0;
		uint16_t c;
		const uint8_t *a = (const uint8_t *)&s->sin6_addr;

		memset(ip, 0, 40);
		ip[0] = 0x60;
		ip[4] = n >> 8;
		ip[5] = n & 0xff;
		ip[6] = IPPROTO_UDP;
		ip[7] = 64;
		memcpy(ip + 8, a, 16);
		memcpy(ip + 24, a, 16);
		/* pseudo header: src, dst, length, next header */
		for (int i = 0; i < 16; i += 2)
			sum += 2 * ((a[i] << 8) | a[i + 1]);
		sum += n + IPPROTO_UDP;
		c = csum(u, n, sum);
		u->sum = htons(c ? c : 0xffff);
		return 40 + n;
	}
}

/* --------------------------------------------------------- source routes */

static int compat;	/* setsockopt through the ia32 entry */

#if defined(__x86_64__)
/* setsockopt(2) through int $0x80: in_compat_syscall() is true there */
static int sso(int fd, int level, int name, const void *val, socklen_t len)
{
	void *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
			 -1, 0);
	long ret;

	if (!compat)
		return setsockopt(fd, level, name, val, len);
	if (low == MAP_FAILED || len > 4096)
		return -1;
	memcpy(low, val, len);
	asm volatile("int $0x80"
		     : "=a"(ret)
		     : "a"(366L /* ia32 __NR_setsockopt */), "b"((long)fd), "c"((long)level),
		       "d"((long)name), "S"((long)(uintptr_t)low), "D"((long)len)
		     : "memory", "r8", "r9", "r10", "r11");
	munmap(low, 4096);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return 0;
}
#else
static int sso(int fd, int level, int name, const void *val, socklen_t len)
{
	if (compat) {
		errno = ENOSYS;
		return -1;
	}
	return setsockopt(fd, level, name, val, len);
}
#endif

/* after the option is set: connect+send (tcp) or sendto (udp) to final */
static int route_send(int fd, int tcp, const struct target *final)
{
	if (tcp) {
		struct timeval tv = { .tv_sec = 1 };

		/* a source-routed SYN is usually never answered: 1 s is enough */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, sa(final), final->len) < 0)
			return errno;
		if (send(fd, payload, plen(), MSG_NOSIGNAL) < 0)
			return errno;
		return 0;
	}
	if (sendto(fd, payload, plen(), 0, sa(final), final->len) < 0)
		return errno;
	return 0;
}

static int do_srh(int tcp, const struct target *final, const struct target *first)
{
	struct {
		uint8_t nexthdr, hdrlen, type, segments_left, first_segment, flags;
		uint16_t tag;
		struct in6_addr seg[2];
	} __attribute__((packed)) srh;
	int fd, err;

	if (final->family != AF_INET6 || first->family != AF_INET6)
		usage();
	fd = open_socket(AF_INET6, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0)
		return errno;
	memset(&srh, 0, sizeof(srh));
	srh.hdrlen = (sizeof(srh) - 8) / 8;
	srh.type = 4;
	srh.segments_left = 1;
	srh.first_segment = 1;
	/* seg[0]: the final segment (the kernel writes the destination here);
	 * seg[segments_left]: where the packet goes first */
	srh.seg[0] = ((const struct sockaddr_in6 *)&final->ss)->sin6_addr;
	srh.seg[1] = ((const struct sockaddr_in6 *)&first->ss)->sin6_addr;
	if (sso(fd, IPPROTO_IPV6, IPV6_RTHDR, &srh, sizeof(srh)) < 0) {
		err = errno;
		close(fd);
		return say("setsockopt", err);
	}
	err = route_send(fd, tcp, final);
	close(fd);
	return err;
}

/* NOP, LSRR len 7 ptr 4 FIRST-HOP ... : 8 bytes */
static size_t lsrr_opt(uint8_t *o, const struct target *first)
{
	o[0] = 1;	/* NOP: 4-byte alignment */
	o[1] = 0x83;	/* LSRR */
	o[2] = 7;
	o[3] = 4;
	memcpy(o + 4, &((const struct sockaddr_in *)&first->ss)->sin_addr, 4);
	return 8;
}

static int do_lsrr(int tcp, const struct target *final, const struct target *first)
{
	uint8_t o[8];
	size_t n;
	int fd, err;

	if (final->family != AF_INET || first->family != AF_INET)
		usage();
	fd = open_socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0)
		return errno;
	n = lsrr_opt(o, first);
	if (sso(fd, IPPROTO_IP, IP_OPTIONS, o, n) < 0) {
		err = errno;
		close(fd);
		return say("setsockopt", err);
	}
	err = route_send(fd, tcp, final);
	close(fd);
	return err;
}

static int do_retopts(const struct target *final, const struct target *first, int connected)
{
	union {
		char buf[CMSG_SPACE(8)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = payload, .iov_len = plen() };
	struct msghdr msg = { 0 };
	struct cmsghdr *cm;
	int fd, err = 0;

	if (final->family != AF_INET || first->family != AF_INET)
		usage();
	fd = open_socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return errno;
	memset(&u, 0, sizeof(u));
	if (connected) {
		if (connect(fd, sa(final), final->len) < 0) {
			err = errno;
			close(fd);
			return say("connect", err);
		}
	} else {
		msg.msg_name = (void *)&final->ss;
		msg.msg_namelen = final->len;
	}
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = CMSG_SPACE(8);
	cm = (struct cmsghdr *)u.buf;
	cm->cmsg_level = IPPROTO_IP;
	cm->cmsg_type = IP_RETOPTS;
	cm->cmsg_len = CMSG_LEN(8);
	lsrr_opt(CMSG_DATA(cm), first);
	if (sendmsg(fd, &msg, 0) < 0)
		err = errno;
	close(fd);
	return err;
}

/* ------------------------------------------------------------ bpf detach */

static const enum bpf_attach_type egress_types[] = {
	BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT, BPF_CGROUP_UDP4_SENDMSG,
	BPF_CGROUP_UDP6_SENDMSG, BPF_CGROUP_INET_SOCK_CREATE, BPF_CGROUP_SETSOCKOPT,
	BPF_CGROUP_INET_EGRESS, BPF_CGROUP_INET_INGRESS,
};

static int detach_all(const char *dir)
{
	int cg = open(dir, O_RDONLY | O_DIRECTORY), first_err = 0, any = 0;

	if (cg < 0)
		return say("open", errno);
	for (size_t i = 0; i < sizeof(egress_types) / sizeof(egress_types[0]); i++) {
		union bpf_attr attr;

		memset(&attr, 0, sizeof(attr));
		attr.target_fd = cg;
		attr.attach_bpf_fd = 0;	/* no program: "whatever is attached" */
		attr.attach_type = egress_types[i];
		if (syscall(__NR_bpf, BPF_PROG_DETACH, &attr, sizeof(attr)) == 0) {
			any = 1;
			fprintf(stderr, "bypass: detached attach type %d\n", egress_types[i]);
		} else if (!first_err) {
			first_err = errno;
		}
	}
	close(cg);
	return any ? 0 : first_err;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), err = 0;

	if (fd < 0)
		return errno;
	if (write(fd, s, strlen(s)) < 0)
		err = errno;
	close(fd);
	return err;
}

static int do_detach_userns(void)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	char map[64], dir[] = "/tmp/bypass-cg.XXXXXX";
	int err;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP) < 0)
		return say("unshare", errno);
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1\n", uid);
	if ((err = write_file("/proc/self/uid_map", map)))
		return say("uid_map", err);
	snprintf(map, sizeof(map), "0 %u 1\n", gid);
	if ((err = write_file("/proc/self/gid_map", map)))
		return say("gid_map", err);
	mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	if (!mkdtemp(dir))
		return say("mkdtemp", errno);
	if (mount("none", dir, "cgroup2", 0, NULL) < 0) {
		err = errno;
		rmdir(dir);
		return say("mount", err);
	}
	err = detach_all(dir);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	return err;
}

static int do_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return say("opendir", errno);
	while ((de = readdir(d))) {
		char path[300], line[256];
		FILE *f;

		if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%s", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "link_id:", 8) || !strncmp(line, "map_id:", 7) ||
			    !strncmp(line, "prog_id:", 8)) {
				fprintf(stderr, "bypass: fd %s: %s", de->d_name, line);
				n++;
				break;
			}
		}
		fclose(f);
	}
	closedir(d);
	snprintf(word, sizeof(word), "%d", n);
	return n ? -1 : -2;	/* word printed; exit 0 only for 0 */
}

/* ------------------------------------------------------- foreign sockets */

static int join_cgroup(const char *dir)
{
	char path[4096], pid[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d\n", getpid());
	return write_file(path, pid);
}

static int do_precreated(const struct target *t, const char *cg)
{
	int fd = open_socket(t->family, SOCK_DGRAM, 0), err;

	if (fd < 0)
		return errno;
	if ((err = join_cgroup(cg))) {
		close(fd);
		return say("join", err);
	}
	if (sendto(fd, payload, plen(), 0, sa(t), t->len) < 0)
		err = errno;
	close(fd);
	return err;
}

/* a one-byte message (*c) with room for one fd (SCM_RIGHTS) */
struct fd_msg {
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov;
	struct msghdr msg;
};

static struct cmsghdr *fd_msg_init(struct fd_msg *m, char *c)
{
	memset(m, 0, sizeof(*m));
	m->iov.iov_base = c;
	m->iov.iov_len = 1;
	m->msg.msg_iov = &m->iov;
	m->msg.msg_iovlen = 1;
	m->msg.msg_control = m->u.buf;
	m->msg.msg_controllen = sizeof(m->u.buf);
	return CMSG_FIRSTHDR(&m->msg);
}

static int do_scm_rights(const struct target *t, const char *cg)
{
	int sp[2], fd, status;
	pid_t pid;
	char c;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0)
		return errno;
	pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0) {
		struct fd_msg m;
		struct cmsghdr *cm;
		int err = join_cgroup(cg), s;

		close(sp[0]);
		if (err) {
			printf("join:%s\n", errname(err));
			fflush(stdout);
			_exit(1);
		}
		fd_msg_init(&m, &c);
		if (write(sp[1], "j", 1) != 1 || recvmsg(sp[1], &m.msg, 0) != 1) {
			printf("recvmsg:%s\n", errname(errno));
			fflush(stdout);
			_exit(1);
		}
		cm = CMSG_FIRSTHDR(&m.msg);
		if (!cm || cm->cmsg_type != SCM_RIGHTS) {
			printf("recvmsg:ENOMSG\n");
			fflush(stdout);
			_exit(1);
		}
		memcpy(&s, CMSG_DATA(cm), sizeof(int));
		err = sendto(s, payload, plen(), 0, sa(t), t->len) < 0 ? errno : 0;
		printf("%s\n", err ? errname(err) : "ok");
		fflush(stdout);
		_exit(err ? 1 : 0);
	}
	close(sp[1]);
	/* the socket is created only after the child joined the cgroup */
	if (read(sp[0], &c, 1) == 1 && (fd = open_socket(t->family, SOCK_DGRAM, 0)) >= 0) {
		struct fd_msg m;
		struct cmsghdr *cm = fd_msg_init(&m, &c);

		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		if (sendmsg(sp[0], &m.msg, 0) < 0)
			kill(pid, SIGKILL);
		close(fd);
	} else {
		kill(pid, SIGKILL);
	}
	fflush(stdout);
	if (waitpid(pid, &status, 0) < 0)
		return errno;
	exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

/* ---------------------------------------------------------------- io_uring */

struct ring {
	int fd;
	unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static int ring_setup(struct ring *r)
{
	struct io_uring_params p;
	void *sq, *cq;

	memset(&p, 0, sizeof(p));
	r->fd = syscall(__NR_io_uring_setup, 4, &p);
	if (r->fd < 0)
		return -errno;
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
	r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || r->sqes == MAP_FAILED)
		return -errno;
	r->sq_tail = (unsigned *)((char *)sq + p.sq_off.tail);
	r->sq_mask = (unsigned *)((char *)sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)((char *)sq + p.sq_off.array);
	r->cq_head = (unsigned *)((char *)cq + p.cq_off.head);
	r->cq_tail = (unsigned *)((char *)cq + p.cq_off.tail);
	r->cq_mask = (unsigned *)((char *)cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)((char *)cq + p.cq_off.cqes);
	return 0;
}

/* submits one sqe, waits for its completion: its res (negative errno) */
static int ring_one(struct ring *r, const struct io_uring_sqe *sqe)
{
	unsigned tail = *r->sq_tail, idx = tail & *r->sq_mask, head;
	int res;

	r->sqes[idx] = *sqe;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -errno;
	head = *r->cq_head;
	if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
		return -EAGAIN;
	res = r->cqes[head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

/* ------------------------------------------- round 1: raw, chains, frags */

/* A TCP SYN header (20 bytes) to dport, then the payload; no checksum. */
static size_t build_tcp_syn(uint8_t *buf, uint16_t dport)
{
	memset(buf, 0, 20);
	buf[0] = 40000 >> 8;
	buf[1] = 40000 & 0xff;
	buf[2] = dport >> 8;
	buf[3] = dport & 0xff;
	buf[12] = 5 << 4;	/* data offset */
	buf[13] = 0x02;		/* SYN */
	buf[14] = 0xff;		/* window */
	memcpy(buf + 20, payload, plen());
	return 20 + plen();
}

/*
 * A raw IPPROTO_TCP / IPPROTO_UDP socket connect()ed to ADDR PORT (no
 * connect program runs for raw sockets), then send() of a hand-built
 * header to PORT.
 */
static int do_raw_connected(int tcp, struct target *t)
{
	uint8_t buf[256];
	size_t n = tcp ? build_tcp_syn(buf, t->port) : build_udp(buf, t->port);
	int fd = socket(t->family, SOCK_RAW, tcp ? IPPROTO_TCP : IPPROTO_UDP), err = 0;

	if (fd < 0)
		return errno;
	set_timeouts(fd);
	if (t->family == AF_INET6) {
		int off = tcp ? 16 : 6;

		if (setsockopt(fd, IPPROTO_IPV6, IPV6_CHECKSUM, &off, sizeof(off)) < 0) {
			err = errno;
			goto out;
		}
	}
	if (connect(fd, sa(t), t->len) < 0)
		err = say("connect", errno);
	else if (send(fd, buf, n, 0) < 0)
		err = errno;
out:
	close(fd);
	return err;
}

/*
 * IPPROTO_RAW IPv6: a header whose chain is HDRS (one letter a header:
 * d destination options, h hop-by-hop, a AH), then UDP to PORT.
 */
static int do_v6_chain(const char *hdrs, struct target *t)
{
	uint8_t buf[1024], *p;
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)&t->ss;
	size_t nh = strlen(hdrs), len;
	uint8_t *next;
	int fd, err = 0;

	if (t->family != AF_INET6 || nh > 40)
		usage();
	memset(buf, 0, sizeof(buf));
	buf[0] = 0x60;
	buf[7] = 64;
	memcpy(buf + 8, &s->sin6_addr, 16);
	memcpy(buf + 24, &s->sin6_addr, 16);
	next = buf + 6;
	p = buf + 40;
	for (size_t i = 0; i < nh; i++) {
		switch (hdrs[i]) {
		case 'd':
		case 'h':
			*next = hdrs[i] == 'd' ? 60 : 0;
			p[1] = 0;		/* 8 bytes */
			p[2] = 1;		/* PadN */
			p[3] = 4;
			next = p;
			p += 8;
			break;
		case 'a':
			*next = 51;
			p[1] = 1;		/* (1 + 2) * 4 = 12 bytes */
			p[4] = 0x11;		/* SPI */
			next = p;
			p += 12;
			break;
		default:
			usage();
		}
	}
	*next = IPPROTO_UDP;
	p += build_udp(p, t->port);
	len = p - buf;
	buf[4] = (len - 40) >> 8;
	buf[5] = (len - 40) & 0xff;
	fd = socket(AF_INET6, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0)
		return errno;
	set_timeouts(fd);
	s->sin6_port = 0;
	if (sendto(fd, buf, len, 0, sa(t), t->len) < 0)
		err = errno;
	close(fd);
	return err;
}

#define FRAG_L4		64	/* the datagram frag4 and frag6 send in two */
#define FRAG_HALF	32	/* bytes of it in the first fragment: 8-byte units */

/*
 * What frag4 and frag6 share: WHICH checked (*first, *later: the fragments
 * to send), the UDP datagram to PORT built in l4 with the payload tag in
 * its second half, and an IPPROTO_RAW socket of t's family (or -errno).
 */
static int frag_setup(const char *which, struct target *t, int family, uint8_t *l4, int *first,
		      int *later)
{
	int fd;

	*first = strcmp(which, "later");
	*later = strcmp(which, "first");	/* "split": both, from two sources (frag6) */
	if (t->family != family || (!*first && !*later) || plen() > 24)
		usage();
	memset(l4, 'x', FRAG_L4);
	build_udp(l4, t->port);
	memcpy(l4 + FRAG_HALF, payload, plen());
	((struct udph *)l4)->len = htons(FRAG_L4);
	fd = socket(family, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0)
		return -errno;
	set_timeouts(fd);
	return fd;
}

/*
 * IPPROTO_RAW IPv4: one UDP datagram to PORT in two fragments, each with
 * the payload tag; WHICH: both, first or later (the other is not sent).
 */
static int do_frag4(const char *which, struct target *t)
{
	struct sockaddr_in *s = (struct sockaddr_in *)&t->ss;
	uint8_t l4[FRAG_L4], pkt[128];
	uint16_t id = (uint16_t)(getpid() ^ time(NULL));
	int first, later, err = 0, fd = frag_setup(which, t, AF_INET, l4, &first, &later);

	if (fd < 0)
		return -fd;
	for (int f = 0; f < 2 && !err; f++) {
		size_t n = f ? FRAG_L4 - FRAG_HALF : FRAG_HALF;
		uint16_t off = f ? FRAG_HALF / 8 : 0x2000 /* MF */;
		uint16_t c;

		if ((f == 0 && !first) || (f == 1 && !later))
			continue;
		memset(pkt, 0, 20);
		pkt[0] = 0x45;
		pkt[2] = (20 + n) >> 8;
		pkt[3] = (20 + n) & 0xff;
		pkt[4] = id >> 8;
		pkt[5] = id & 0xff;
		pkt[6] = off >> 8;
		pkt[7] = off & 0xff;
		pkt[8] = 64;
		pkt[9] = IPPROTO_UDP;
		memcpy(pkt + 12, &s->sin_addr, 4);
		memcpy(pkt + 16, &s->sin_addr, 4);
		c = csum(pkt, 20, 0);
		pkt[10] = c >> 8;
		pkt[11] = c & 0xff;
		memcpy(pkt + 20, l4 + (f ? FRAG_HALF : 0), n);
		if (sendto(fd, pkt, 20 + n, 0, sa(t), t->len) < 0)
			err = errno;
	}
	close(fd);
	return err;
}

/*
 * IPPROTO_RAW IPv6: the same two fragments as frag4, each behind a
 * fragment header (the first with M set); WHICH as for frag4.
 */
static int do_frag6(const char *which, struct target *t)
{
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)&t->ss;
	uint8_t l4[FRAG_L4], pkt[160];
	uint32_t id = (uint32_t)(getpid() ^ time(NULL));
	int first, later, err = 0, fd = frag_setup(which, t, AF_INET6, l4, &first, &later);

	if (fd < 0)
		return -fd;
	s->sin6_port = 0;
	for (int f = 0; f < 2 && !err; f++) {
		size_t n = f ? FRAG_L4 - FRAG_HALF : FRAG_HALF;
		uint16_t off = f ? FRAG_HALF : 1 /* M */;	/* the offset in 8-byte units, << 3 */

		if ((f == 0 && !first) || (f == 1 && !later))
			continue;
		memset(pkt, 0, 48);
		pkt[0] = 0x60;
		pkt[4] = (8 + n) >> 8;
		pkt[5] = (8 + n) & 0xff;
		pkt[6] = 44;	/* fragment header */
		pkt[7] = 64;
		memcpy(pkt + 8, &s->sin6_addr, 16);
		if (f == 1 && !strcmp(which, "split"))
			pkt[23] ^= 1;	/* the later fragment from another source */
		memcpy(pkt + 24, &s->sin6_addr, 16);
		pkt[40] = IPPROTO_UDP;
		pkt[42] = off >> 8;
		pkt[43] = off & 0xff;
		memcpy(pkt + 44, &id, 4);
		memcpy(pkt + 48, l4 + (f ? FRAG_HALF : 0), n);
		if (sendto(fd, pkt, 48 + n, 0, sa(t), t->len) < 0)
			err = errno;
	}
	close(fd);
	return err;
}

/* AF_INET UDP: sendto() with sin_family AF_UNSPEC and ADDR PORT in it. */
/* ------------------------------------------------------ inbound connections */

/* A TCP socket whose receives (and sends, if snd) time out after secs. */
static int tcp_socket(int family, int secs, int snd)
{
	int fd = open_socket(family, SOCK_STREAM, 0);
	struct timeval tv = { .tv_sec = secs };

	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (snd)
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	return fd;
}

/*
 * serve ADDR PORT: a TCP listener (TCP_FASTOPEN on, backlog 1) that prints
 * "listening", waits up to 8 s for one connection, reads what the client
 * sent, answers with the payload and prints "accepted:BYTES" (or the
 * errno of accept).
 */
static int do_serve(const struct target *t)
{
	int fd = tcp_socket(t->family, 8, 0), c, one = 1, qlen = 16;
	char buf[256];
	ssize_t n;

	if (fd < 0)
		return errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof(qlen)) < 0)
		return say("tcp_fastopen", errno);
	if (bind(fd, sa(t), t->len) < 0 || listen(fd, 1) < 0)
		return say("listen", errno);
	printf("listening\n");
	fflush(stdout);
	c = accept(fd, NULL, NULL);
	if (c < 0)
		return say("accept", errno);
	set_timeouts(c);
	n = recv(c, buf, sizeof(buf), 0);
	send(c, payload, plen(), MSG_NOSIGNAL);
	snprintf(word, sizeof(word), "accepted:%zd", n < 0 ? (ssize_t)0 : n);
	sleep(1);
	close(c);
	close(fd);
	return -2;
}

/*
 * client-from SRC ADDR PORT [tfo]: from SRC, connect (or TFO: data in the
 * SYN) to ADDR PORT and send the payload; "data" if the server answered,
 * "established" if the connection stood but no answer came, else the
 * errno (ETIMEDOUT when the handshake never completed).
 */
static int do_client_from(const struct target *src, const struct target *t, int tfo)
{
	int fd = tcp_socket(t->family, 3, 1);
	char buf[256];
	ssize_t n;

	if (fd < 0)
		return errno;
	if (bind(fd, sa(src), src->len) < 0)
		return say("bind", errno);
	if (tfo) {
		if (sendto(fd, payload, plen(), MSG_FASTOPEN, sa(t), t->len) < 0)
			return errno == EINPROGRESS ? ETIMEDOUT : errno;
	} else {
		if (connect(fd, sa(t), t->len) < 0)
			return errno == EINPROGRESS ? ETIMEDOUT : errno;
		if (send(fd, payload, plen(), MSG_NOSIGNAL) < 0)
			return errno;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n > 0) {
		snprintf(word, sizeof(word), "data");
	} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		struct tcp_info ti;
		socklen_t len = sizeof(ti);

		/* a Fast Open sendto() succeeds before any handshake */
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
			return say("tcp_info", errno);
		if (ti.tcpi_state != TCP_ESTABLISHED)
			return ETIMEDOUT;
		snprintf(word, sizeof(word), "established");
	} else {
		return n < 0 ? errno : ECONNRESET;
	}
	return -2;
}

/* ------------------------------------------------------------- listener */

static void peer_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;

		inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
		port = ntohs(s->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
		port = ntohs(s->sin6_port);
	}
	snprintf(buf, len, "%s:%d", a, port);
}

static void append_line(const char *file, const char *line)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_APPEND, 0644);

	if (fd < 0) {
		perror(PROG ": open countfile");
		exit(1);
	}
	if (write(fd, line, strlen(line)) < 0)
		perror(PROG ": write countfile");
	close(fd);
}

static int do_listen(const char *proto, const struct target *t, const char *countfile)
{
	int tcp = !strcmp(proto, "tcp"), lite = !strcmp(proto, "udplite");
	int fd, one = 1;
	char line[512], peer[80];

	if (!tcp && !lite && strcmp(proto, "udp"))
		usage();
	fd = socket(t->family, tcp ? SOCK_STREAM : SOCK_DGRAM, lite ? IPPROTO_UDPLITE : 0);
	if (fd < 0)
		return errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (t->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (tcp) {
		int qlen = 16;

		/* accept fast-open data too (ignored if the client has no cookie) */
		setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof(qlen));
	}
	if (bind(fd, sa(t), t->len) < 0 || (tcp && listen(fd, 128) < 0))
		return errno;
	/* make sure the count file exists: "0 lines" is then a real answer */
	append_line(countfile, "");
	printf("listening\n");
	fflush(stdout);

	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		if (tcp) {
			int c = accept(fd, (struct sockaddr *)&ss, &sl);
			char buf[256];
			struct timeval tv = { .tv_sec = 2 };

			if (c < 0)
				continue;
			peer_str(&ss, peer, sizeof(peer));
			snprintf(line, sizeof(line), "%s conn\n", peer);
			append_line(countfile, line);
			/* drain what the client sends, briefly, so it sees no reset */
			setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			while (read(c, buf, sizeof(buf)) > 0)
				;
			close(c);
		} else {
			char buf[256];
			ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0,
					     (struct sockaddr *)&ss, &sl);
			size_t i;

			if (n < 0)
				continue;
			buf[n] = 0;
			for (i = 0; i < (size_t)n; i++)
				if (buf[i] == '\n' || buf[i] == ' ' || buf[i] == 0)
					buf[i] = '_';
			peer_str(&ss, peer, sizeof(peer));
			snprintf(line, sizeof(line), "%s %s\n", peer, buf);
			append_line(countfile, line);
		}
	}
	return 0;
}

/* ------------------------------------------------------- the mode table */

/* how the attempt is made once the socket is open */
enum how {
	CONNECT,		/* connect() */
	CONNECT_SEND,		/* connect() + send() */
	SENDTO,			/* unconnected sendto() */
	FASTOPEN,		/* sendto(MSG_FASTOPEN) */
	TFO_CONNECT,		/* TCP_FASTOPEN_CONNECT, connect(), send() */
	SENDMMSG,		/* sendmmsg() of two datagrams */
	PKTINFO,		/* connect(), sendmsg() with a PKTINFO cmsg, no name */
	RAW_UDP,		/* a UDP header by hand, sendto() */
	RAW_IP,			/* an IP + UDP header by hand, sendto() */
	PING,			/* an ICMP echo request, sendto() */
	PACKET,			/* an IP + UDP packet by hand on "lo" */
	URING_CONNECT,		/* IORING_OP_CONNECT */
	URING_SENDMSG,		/* IORING_OP_SENDMSG, unconnected */
};

/* which entry has the mode (a name may mean one thing for each) */
#define IN_PROBE	(1u << 0)
#define IN_BYPASS	(1u << 1)
#define IN_BOTH		(IN_PROBE | IN_BYPASS)
/* flags */
#define NEED_V4		(1u << 0)	/* ADDR must be an IPv4 literal */
#define UNSPEC		(1u << 1)	/* sin_family AF_UNSPEC in the sockaddr */

struct mode {
	const char *name;
	unsigned in;
	int family;	/* 0: ADDR's family */
	int type;
	int protocol;	/* IPPROTO_ICMP: ICMPv6 for an IPv6 ADDR */
	enum how how;
	unsigned flags;
};

static const struct mode modes[] = {
	{ "tcp",		IN_BOTH,   0,         SOCK_STREAM, 0,               CONNECT },
	{ "udp",		IN_BOTH,   0,         SOCK_DGRAM,  0,               SENDTO },
	{ "udp-connected",	IN_BOTH,   0,         SOCK_DGRAM,  0,               CONNECT_SEND },
	{ "tfo",		IN_BOTH,   0,         SOCK_STREAM, 0,               FASTOPEN },
	{ "tfo-connect",	IN_BOTH,   0,         SOCK_STREAM, 0,               TFO_CONNECT },
	{ "sendmmsg",		IN_BOTH,   0,         SOCK_DGRAM,  0,               SENDMMSG },
	{ "udp4on6",		IN_BOTH,   AF_INET6,  SOCK_DGRAM,  0,               SENDTO, NEED_V4 },
	{ "udp-unspec",		IN_BOTH,   AF_INET,   SOCK_DGRAM,  0,               SENDTO, NEED_V4 | UNSPEC },
	{ "pktinfo",		IN_BOTH,   0,         SOCK_DGRAM,  0,               PKTINFO },
	{ "mptcp",		IN_BOTH,   0,         SOCK_STREAM, IPPROTO_MPTCP,   CONNECT },
	{ "udplite",		IN_PROBE,  0,         SOCK_DGRAM,  IPPROTO_UDPLITE, SENDTO },
	{ "udplite",		IN_BYPASS, 0,         SOCK_DGRAM,  IPPROTO_UDPLITE, CONNECT_SEND },
	{ "udplite-sendto",	IN_BOTH,   0,         SOCK_DGRAM,  IPPROTO_UDPLITE, SENDTO },
	{ "udplite-connected",	IN_BOTH,   0,         SOCK_DGRAM,  IPPROTO_UDPLITE, CONNECT_SEND },
	{ "sctp",		IN_BOTH,   0,         SOCK_STREAM, IPPROTO_SCTP,    CONNECT_SEND },
	{ "raw-udp",		IN_BOTH,   0,         SOCK_RAW,    IPPROTO_UDP,     RAW_UDP },
	{ "raw-ip",		IN_BOTH,   0,         SOCK_RAW,    IPPROTO_RAW,     RAW_IP },
	{ "ping",		IN_BOTH,   0,         SOCK_DGRAM,  IPPROTO_ICMP,    PING },
	{ "packet",		IN_BOTH,   AF_PACKET, SOCK_DGRAM,  0,               PACKET },
	{ "iouring-connect",	IN_BOTH,   0,         SOCK_STREAM, 0,               URING_CONNECT },
	{ "iouring-sendmsg",	IN_BOTH,   0,         SOCK_DGRAM,  0,               URING_SENDMSG },
};

#ifdef PROBE_BYPASS
static const unsigned entry = IN_BYPASS;
#else
static const unsigned entry = IN_PROBE;
#endif

static const struct mode *find_mode(const char *name)
{
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if ((modes[i].in & entry) && !strcmp(modes[i].name, name))
			return &modes[i];
	return NULL;
}

static int send_mmsg2(int fd, const struct target *t)
{
	struct mmsghdr mm[2];
	struct iovec iov[2];
	int n;

	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < 2; i++) {
		iov[i].iov_base = payload;
		iov[i].iov_len = plen();
		mm[i].msg_hdr.msg_name = (void *)&t->ss;
		mm[i].msg_hdr.msg_namelen = t->len;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	n = sendmmsg(fd, mm, 2, 0);
	if (n < 0)
		return errno;
	return n == 2 ? 0 : EMSGSIZE;	/* short: reported, never "ok" */
}

/* on a connected UDP socket: sendmsg() with a PKTINFO cmsg and no name */
static int send_pktinfo(int fd, const struct target *t)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = payload, .iov_len = plen() };
	struct msghdr msg = { 0 };
	struct cmsghdr *cm = (struct cmsghdr *)u.buf;

	memset(&u, 0, sizeof(u));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	if (t->family == AF_INET ||
	    IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)&t->ss)->sin6_addr)) {
		/* IPv4 (also for a v4-mapped peer of an AF_INET6 socket) */
		struct in_pktinfo pi = { 0 };	/* any interface, any source */

		msg.msg_controllen = CMSG_SPACE(sizeof(pi));
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	} else {
		struct in6_pktinfo pi = { 0 };

		msg.msg_controllen = CMSG_SPACE(sizeof(pi));
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	}
	return sendmsg(fd, &msg, 0) < 0 ? errno : 0;
}

/* a raw or packet socket with timeouts (no IPV6_V6ONLY: it has no meaning there) */
static int plain_socket(int family, int type, int proto)
{
	int fd = socket(family, type, proto);

	if (fd >= 0)
		set_timeouts(fd);
	return fd;
}

/*
 * One attempt of mode m to t: 0 on success, a positive errno, or -1 with
 * a word (say()).  t may be changed (a raw IPv6 socket reads sin6_port as
 * the protocol: it is cleared there).
 */
static int run_mode(const struct mode *m, struct target *t)
{
	int family = m->family ? m->family : t->family;
	int proto = m->protocol;
	struct ring r = { .fd = -1 };
	uint8_t buf[512];
	size_t n = 0;
	int fd, err = 0, one = 1;

	if ((m->flags & NEED_V4) && t->family != AF_INET) {
		fprintf(stderr, PROG ": %s needs an IPv4 literal\n", m->name);
		exit(2);
	}
	if (m->flags & UNSPEC)
		((struct sockaddr_in *)&t->ss)->sin_family = AF_UNSPEC;
	if (proto == IPPROTO_ICMP && family == AF_INET6)
		proto = IPPROTO_ICMPV6;
	if (m->how == URING_CONNECT || m->how == URING_SENDMSG) {
		err = ring_setup(&r);
		if (err < 0)
			return say("io_uring-unavailable", -err);
	}
	if (m->type == SOCK_RAW || family == AF_PACKET)
		fd = plain_socket(family, m->type, proto);
	else
		fd = open_socket(family, m->type, proto);
	if (fd < 0) {
		err = errno;
		goto out;
	}

	switch (m->how) {
	case CONNECT:
	case CONNECT_SEND:
		if (connect(fd, sa(t), t->len) < 0)
			err = errno;
		else if (m->how == CONNECT_SEND && send(fd, payload, plen(), MSG_NOSIGNAL) < 0)
			err = errno;
		break;
	case SENDTO:
		if (sendto(fd, payload, plen(), 0, sa(t), t->len) < 0)
			err = errno;
		break;
	case FASTOPEN:
		if (sendto(fd, payload, plen(), MSG_FASTOPEN, sa(t), t->len) < 0)
			err = errno;
		break;
	case TFO_CONNECT:
		if (setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one)) < 0)
			err = errno;
		else if (connect(fd, sa(t), t->len) < 0)
			err = errno;
		else if (send(fd, payload, plen(), MSG_NOSIGNAL) < 0)
			err = errno;
		break;
	case SENDMMSG:
		err = send_mmsg2(fd, t);
		break;
	case PKTINFO:
		if (connect(fd, sa(t), t->len) < 0)
			err = errno;
		else
			err = send_pktinfo(fd, t);
		break;
	case RAW_UDP:
		n = build_udp(buf, t->port);
		if (t->family == AF_INET6) {
			int off = 6;

			((struct sockaddr_in6 *)&t->ss)->sin6_port = 0;
			if (setsockopt(fd, IPPROTO_IPV6, IPV6_CHECKSUM, &off, sizeof(off)) < 0) {
				err = errno;
				break;
			}
		}
		if (sendto(fd, buf, n, 0, sa(t), t->len) < 0)
			err = errno;
		break;
	case RAW_IP:
		n = build_ip_udp(t, buf);
		if (t->family == AF_INET6)
			((struct sockaddr_in6 *)&t->ss)->sin6_port = 0;
		if (sendto(fd, buf, n, 0, sa(t), t->len) < 0)
			err = errno;
		break;
	case PING:
		memset(buf, 0, 8);
		buf[0] = t->family == AF_INET ? 8 : 128;	/* echo request */
		memcpy(buf + 8, payload, plen());
		/* id and checksum: the kernel fills them in for ping sockets */
		if (sendto(fd, buf, 8 + plen(), 0, sa(t), t->len) < 0)
			err = errno;
		break;
	case PACKET: {
		struct sockaddr_ll ll = { 0 };

		n = build_ip_udp(t, buf);
		ll.sll_family = AF_PACKET;
		ll.sll_protocol = htons(t->family == AF_INET ? ETH_P_IP : ETH_P_IPV6);
		ll.sll_ifindex = if_nametoindex("lo");
		ll.sll_halen = 6;	/* lo: an all-zero MAC */
		if (!ll.sll_ifindex)
			err = errno;
		else if (sendto(fd, buf, n, 0, (struct sockaddr *)&ll, sizeof(ll)) < 0)
			err = errno;
		break;
	}
	case URING_CONNECT:
	case URING_SENDMSG: {
		struct io_uring_sqe sqe;
		struct iovec iov = { .iov_base = payload, .iov_len = plen() };
		struct msghdr msg = { 0 };
		int res;

		memset(&sqe, 0, sizeof(sqe));
		sqe.fd = fd;
		if (m->how == URING_CONNECT) {
			sqe.opcode = IORING_OP_CONNECT;
			sqe.addr = (uintptr_t)&t->ss;
			sqe.off = t->len;
		} else {
			msg.msg_name = (void *)&t->ss;
			msg.msg_namelen = t->len;
			msg.msg_iov = &iov;
			msg.msg_iovlen = 1;
			sqe.opcode = IORING_OP_SENDMSG;
			sqe.addr = (uintptr_t)&msg;
			sqe.len = 1;
		}
		res = ring_one(&r, &sqe);
		err = res < 0 ? -res : 0;
		break;
	}
	}
	close(fd);
out:
	if (r.fd >= 0)
		close(r.fd);
	return err;
}

/* loop tcp|udp ADDR PORT N: N attempts, "WORD=count" pairs */
static int do_loop(const char *proto, struct target *t, const char *nstr)
{
	long n = strtol(nstr, NULL, 10), i;
	int counts[256] = { 0 };	/* errno < 255; 0 = ok; 255 = other */
	int k, first = 1, bad = 0;
	const struct mode *m = find_mode(proto);

	if (n <= 0 || n > 100000 || (strcmp(proto, "tcp") && strcmp(proto, "udp")))
		usage();
	alarm(TIMEOUT_S + n / 100);
	for (i = 0; i < n; i++) {
		int e = run_mode(m, t);

		counts[e < 0 || e > 254 ? 255 : e]++;
		if (e)
			bad = 1;
	}
	for (k = 0; k < 256; k++) {
		if (!counts[k])
			continue;
		printf("%s%s=%d", first ? "" : " ",
		       k == 0 ? "ok" : k == 255 ? "OTHER" : errname(k), counts[k]);
		first = 0;
	}
	printf("\n");
	return bad ? -3 : -4;	/* printed already */
}

/* ------------------------------------------------------ the command table */

static int tcp_or_udp(const char *s)
{
	if (!strcmp(s, "tcp"))
		return 1;
	if (!strcmp(s, "udp"))
		return 0;
	usage();
	return 0;
}

/* srh|lsrr|compat-srh|compat-lsrr tcp|udp FINAL FIRST PORT */
static int cmd_route(int argc, char **argv)
{
	struct target t, t2;
	const char *m = argv[1];
	int tcp = tcp_or_udp(argv[2]);

	if (!strncmp(m, "compat-", 7)) {
		compat = 1;
		m += 7;
	}
	parse_target(&t, argv[3], argv[5]);
	parse_target(&t2, argv[4], argv[5]);
	return m[0] == 's' ? do_srh(tcp, &t, &t2) : do_lsrr(tcp, &t, &t2);
}

/* retopts|retopts-connected FINAL FIRST PORT */
static int cmd_retopts(int argc, char **argv)
{
	struct target t, t2;

	parse_target(&t, argv[2], argv[4]);
	parse_target(&t2, argv[3], argv[4]);
	return do_retopts(&t, &t2, argv[1][7] == '-');
}

/* raw-connected tcp|udp ADDR PORT */
static int cmd_raw_connected(int argc, char **argv)
{
	struct target t;
	int tcp = tcp_or_udp(argv[2]);

	parse_target(&t, argv[3], argv[4]);
	return do_raw_connected(tcp, &t);
}

/* v6-chain HDRS ADDR PORT, frag4|frag6 WHICH ADDR PORT */
static int cmd_packets(int argc, char **argv)
{
	struct target t;

	parse_target(&t, argv[3], argv[4]);
	if (argv[1][0] == 'v')
		return do_v6_chain(argv[2], &t);
	return !strcmp(argv[1], "frag6") ? do_frag6(argv[2], &t) : do_frag4(argv[2], &t);
}

/* client-from SRC ADDR PORT [tfo] */
static int cmd_client_from(int argc, char **argv)
{
	struct target t, t2;

	if (argc == 6 && strcmp(argv[5], "tfo"))
		usage();
	parse_target(&t2, argv[2], "0");
	parse_target(&t, argv[3], argv[4]);
	return do_client_from(&t2, &t, argc == 6);
}

/* precreated|scm-rights ADDR PORT CGDIR */
static int cmd_foreign(int argc, char **argv)
{
	struct target t;

	parse_target(&t, argv[2], argv[3]);
	return argv[1][0] == 'p' ? do_precreated(&t, argv[4]) : do_scm_rights(&t, argv[4]);
}

static int cmd_serve(int argc, char **argv)
{
	struct target t;

	parse_target(&t, argv[2], argv[3]);
	return do_serve(&t);
}

static int cmd_detach(int argc, char **argv)
{
	return detach_all(argv[2]);
}

static int cmd_detach_userns(int argc, char **argv)
{
	return do_detach_userns();
}

static int cmd_fds(int argc, char **argv)
{
	return do_fds();
}

/* listen tcp|udp|udplite ADDR PORT COUNTFILE (no alarm: serves forever) */
static int cmd_listen(int argc, char **argv)
{
	struct target t;

	alarm(0);
	parse_target(&t, argv[3], argv[4]);
	return do_listen(argv[2], &t, argv[5]);
}

/* loop tcp|udp ADDR PORT N (its own alarm) */
static int cmd_loop(int argc, char **argv)
{
	struct target t;

	parse_target(&t, argv[3], argv[4]);
	return do_loop(argv[2], &t, argv[5]);
}

struct command {
	const char *name;
	int min_argc, max_argc;	/* argv[0] and the name included */
	int (*run)(int argc, char **argv);
	const char *args;	/* for usage() */
};

static const struct command commands[] = {
	{ "loop",		6, 6, cmd_loop,		 "tcp|udp ADDR PORT N" },
	{ "listen",		6, 6, cmd_listen,	 "tcp|udp|udplite ADDR PORT COUNTFILE" },
	{ "srh",		6, 6, cmd_route,	 "tcp|udp FINAL FIRST PORT" },
	{ "lsrr",		6, 6, cmd_route,	 "tcp|udp FINAL FIRST PORT" },
	{ "compat-srh",		6, 6, cmd_route,	 "tcp|udp FINAL FIRST PORT" },
	{ "compat-lsrr",	6, 6, cmd_route,	 "tcp|udp FINAL FIRST PORT" },
	{ "retopts",		5, 5, cmd_retopts,	 "FINAL FIRST PORT" },
	{ "retopts-connected",	5, 5, cmd_retopts,	 "FINAL FIRST PORT" },
	{ "raw-connected",	5, 5, cmd_raw_connected, "tcp|udp ADDR PORT" },
	{ "v6-chain",		5, 5, cmd_packets,	 "HDRS ADDR PORT" },
	{ "frag4",		5, 5, cmd_packets,	 "both|first|later ADDR PORT" },
	{ "frag6",		5, 5, cmd_packets,	 "both|first|later|split ADDR PORT" },
	{ "client-from",	5, 6, cmd_client_from,	 "SRC ADDR PORT [tfo]" },
	{ "precreated",		5, 5, cmd_foreign,	 "ADDR PORT CGDIR" },
	{ "scm-rights",		5, 5, cmd_foreign,	 "ADDR PORT CGDIR" },
	{ "serve",		4, 4, cmd_serve,	 "ADDR PORT" },
	{ "detach",		3, 3, cmd_detach,	 "CGDIR" },
	{ "detach-userns",	2, 2, cmd_detach_userns, "" },
	{ "fds",		2, 2, cmd_fds,		 "" },
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void usage(void)
{
	size_t i, col;

	fprintf(stderr, "usage: " PROG " MODE ADDR PORT\n  MODE:");
	for (i = 0, col = 8; i < ARRAY_LEN(modes); i++) {
		if (!(modes[i].in & entry))
			continue;
		if (col + strlen(modes[i].name) > 76) {
			fprintf(stderr, "\n       ");
			col = 7;
		}
		col += fprintf(stderr, " %s", modes[i].name);
	}
	fprintf(stderr, "\n");
	for (i = 0; i < ARRAY_LEN(commands); i++)
		fprintf(stderr, "       " PROG " %s%s%s\n", commands[i].name,
			*commands[i].args ? " " : "", commands[i].args);
	fprintf(stderr, "(see the comment at the top of tests/probe.c)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *env = getenv(entry == IN_BYPASS ? "BYPASS_TAG" : "PROBE_PAYLOAD");
	const struct mode *m;
	struct target t;
	int err = 0;
	size_t i;

	if (entry == IN_BYPASS)
		snprintf(payload, sizeof(payload), "BYPASS-%s", env && *env ? env : "x");
	else if (env && *env)
		snprintf(payload, sizeof(payload), "%s", env);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(TIMEOUT_S);
	if (argc < 2)
		usage();
	for (i = 0; i < ARRAY_LEN(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			break;
	if (i < ARRAY_LEN(commands)) {
		if (argc < commands[i].min_argc || argc > commands[i].max_argc)
			usage();
		err = commands[i].run(argc, argv);
	} else {
		m = find_mode(argv[1]);
		if (!m || argc != 4)
			usage();
		parse_target(&t, argv[2], argv[3]);
		err = run_mode(m, &t);
	}
	if (err == -3 || err == -4)	/* printed already (loop) */
		return err == -3;
	if (err == -2) {	/* a word that means success */
		printf("%s\n", word);
		return 0;
	}
	if (err < 0) {
		printf("%s\n", word);
		return 1;
	}
	printf("%s\n", err ? errname(err) : "ok");
	return err ? 1 : 0;
}
