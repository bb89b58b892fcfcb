/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * probe - make ONE network attempt and say how it went, for the tests.
 *
 * Prints one word on stdout: "ok" on success, otherwise the errno name
 * (EPERM, ECONNREFUSED, ...).  Exit 0 on ok, 1 otherwise, 2 on usage error.
 *
 *   probe tcp ADDR PORT            connect()
 *   probe udp ADDR PORT            unconnected sendto()
 *   probe udp-connected ADDR PORT  connect() + send()
 *   probe tfo ADDR PORT            sendto(MSG_FASTOPEN) on a TCP socket
 *   probe tfo-connect ADDR PORT    TCP_FASTOPEN_CONNECT, connect(), send()
 *   probe sendmmsg ADDR PORT       sendmmsg() of 2 datagrams (unconnected)
 *   probe udp4on6 ADDR4 PORT       AF_INET sockaddr through an AF_INET6 UDP socket
 *   probe pktinfo ADDR PORT        connected UDP, then sendmsg() with an
 *                                  IP_PKTINFO / IPV6_PKTINFO cmsg and no msg_name
 *   probe mptcp ADDR PORT          connect() of an IPPROTO_MPTCP socket
 *   probe udplite ADDR PORT        unconnected sendto() on an IPPROTO_UDPLITE socket
 *   probe raw-udp ADDR PORT        a UDP datagram built by hand, sent through a
 *                                  SOCK_RAW socket (needs CAP_NET_RAW)
 *   probe loop tcp|udp ADDR PORT N N attempts; prints "WORD=count" pairs
 *   probe listen tcp|udp|udplite ADDR PORT COUNTFILE
 *                                  serve forever; append one line per
 *                                  connection ("PEER conn") or datagram
 *                                  ("PEER PAYLOAD") to COUNTFILE; prints
 *                                  "listening" once bound.
 *
 * ADDR is a literal; an IPv6 literal (including ::ffff:a.b.c.d) means an
 * AF_INET6 socket.  The payload sent is "probe", or $PROBE_PAYLOAD.
 * Every attempt is bounded (socket timeouts and an alarm).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>


static const char *payload = "probe";

#define PROG "probe"
#include "probe-common.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: probe tcp|udp|udp-connected|tfo|tfo-connect|sendmmsg|udp4on6|pktinfo ADDR PORT\n"
		"       probe mptcp|udplite|raw-udp ADDR PORT\n"
		"       probe loop tcp|udp ADDR PORT N\n"
		"       probe listen tcp|udp|udplite ADDR PORT COUNTFILE\n");
	exit(2);
}

static int new_socket(int family, int type)
{
	return open_socket(family, type, 0);
}

/* Each attempt returns 0 on success or a positive errno. */

static int do_tcp(const struct target *t)
{
	int fd = new_socket(t->family, SOCK_STREAM), err = 0;

	if (fd < 0)
		return errno;
	if (connect(fd, (const struct sockaddr *)&t->ss, t->len) < 0)
		err = errno;
	close(fd);
	return err;
}

static int do_udp(const struct target *t)
{
	int fd = new_socket(t->family, SOCK_DGRAM), err = 0;

	if (fd < 0)
		return errno;
	if (sendto(fd, payload, strlen(payload), 0,
		   (const struct sockaddr *)&t->ss, t->len) < 0)
		err = errno;
	close(fd);
	return err;
}

static int do_udp_connected(const struct target *t)
{
	int fd = new_socket(t->family, SOCK_DGRAM), err = 0;

	if (fd < 0)
		return errno;
	if (connect(fd, (const struct sockaddr *)&t->ss, t->len) < 0)
		err = errno;
	else if (send(fd, payload, strlen(payload), 0) < 0)
		err = errno;
	close(fd);
	return err;
}

static int do_tfo(const struct target *t)
{
	int fd = new_socket(t->family, SOCK_STREAM), err = 0;

	if (fd < 0)
		return errno;
	if (sendto(fd, payload, strlen(payload), MSG_FASTOPEN,
		   (const struct sockaddr *)&t->ss, t->len) < 0)
		err = errno;
	close(fd);
	return err;
}

static int do_tfo_connect(const struct target *t)
{
	int fd = new_socket(t->family, SOCK_STREAM), err = 0, one = 1;

	if (fd < 0)
		return errno;
	if (setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one)) < 0)
		err = errno;
	else if (connect(fd, (const struct sockaddr *)&t->ss, t->len) < 0)
		err = errno;
	else if (send(fd, payload, strlen(payload), MSG_NOSIGNAL) < 0)
		err = errno;
	close(fd);
	return err;
}

static int do_sendmmsg(const struct target *t)
{
	int fd = new_socket(t->family, SOCK_DGRAM), err = 0, n;
	struct mmsghdr mm[2];
	struct iovec iov[2];
	int i;

	if (fd < 0)
		return errno;
	memset(mm, 0, sizeof(mm));
	for (i = 0; i < 2; i++) {
		iov[i].iov_base = (void *)payload;
		iov[i].iov_len = strlen(payload);
		mm[i].msg_hdr.msg_name = (void *)&t->ss;
		mm[i].msg_hdr.msg_namelen = t->len;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	n = sendmmsg(fd, mm, 2, 0);
	if (n < 0)
		err = errno;
	else if (n != 2)
		err = EMSGSIZE;	/* short: reported, never "ok" */
	close(fd);
	return err;
}

static int do_udp4on6(const struct target *t)
{
	int fd, err = 0;

	if (t->family != AF_INET) {
		fprintf(stderr, "probe: udp4on6 needs an IPv4 literal\n");
		exit(2);
	}
	fd = new_socket(AF_INET6, SOCK_DGRAM);
	if (fd < 0)
		return errno;
	if (sendto(fd, payload, strlen(payload), 0,
		   (const struct sockaddr *)&t->ss, t->len) < 0)
		err = errno;
	close(fd);
	return err;
}

static int do_pktinfo(const struct target *t)
{
	int fd = new_socket(t->family, SOCK_DGRAM), err = 0;
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)payload, .iov_len = strlen(payload) };
	struct msghdr msg = { 0 };
	struct cmsghdr *cm;

	if (fd < 0)
		return errno;
	if (connect(fd, (const struct sockaddr *)&t->ss, t->len) < 0) {
		err = errno;
		goto out;
	}
	memset(&u, 0, sizeof(u));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	cm = (struct cmsghdr *)u.buf;
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
	if (sendmsg(fd, &msg, 0) < 0)
		err = errno;
out:
	close(fd);
	return err;
}

static int do_mptcp(const struct target *t)
{
	int fd = open_socket(t->family, SOCK_STREAM, IPPROTO_MPTCP), err = 0;

	if (fd < 0)
		return errno;
	if (connect(fd, (const struct sockaddr *)&t->ss, t->len) < 0)
		err = errno;
	close(fd);
	return err;
}

static int do_udplite(const struct target *t)
{
	int fd = open_socket(t->family, SOCK_DGRAM, IPPROTO_UDPLITE), err = 0;

	if (fd < 0)
		return errno;
	if (sendto(fd, payload, strlen(payload), 0,
		   (const struct sockaddr *)&t->ss, t->len) < 0)
		err = errno;
	close(fd);
	return err;
}

/* A UDP datagram through a raw socket: no connect, no UDP sendmsg. */
static int do_raw_udp(const struct target *t)
{
	struct {
		uint16_t sport, dport, len, sum;
		char data[200];
	} __attribute__((packed)) pkt;
	size_t plen = strlen(payload);
	int fd, err = 0;

	if (plen > sizeof(pkt.data))
		plen = sizeof(pkt.data);
	fd = socket(t->family, SOCK_RAW, IPPROTO_UDP);
	if (fd < 0)
		return errno;
	set_timeouts(fd);
	memset(&pkt, 0, sizeof(pkt));
	pkt.sport = htons(40000);
	pkt.dport = t->family == AF_INET ? ((const struct sockaddr_in *)&t->ss)->sin_port
					 : ((const struct sockaddr_in6 *)&t->ss)->sin6_port;
	pkt.len = htons(8 + plen);
	pkt.sum = 0;	/* IPv4: no checksum; IPv6: the kernel computes it */
	memcpy(pkt.data, payload, plen);
	if (t->family == AF_INET6) {
		int off = 6;

		if (setsockopt(fd, IPPROTO_IPV6, IPV6_CHECKSUM, &off, sizeof(off)) < 0) {
			err = errno;
			goto out;
		}
	}
	if (sendto(fd, &pkt, 8 + plen, 0, (const struct sockaddr *)&t->ss, t->len) < 0)
		err = errno;
out:
	close(fd);
	return err;
}

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
		perror("probe: open countfile");
		exit(1);
	}
	if (write(fd, line, strlen(line)) < 0)
		perror("probe: write countfile");
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
	if (fd < 0) {
		printf("%s\n", errname(errno));
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (t->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (tcp) {
		int qlen = 16;

		/* accept fast-open data too (ignored if the client has no cookie) */
		setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof(qlen));
	}
	if (bind(fd, (const struct sockaddr *)&t->ss, t->len) < 0 ||
	    (tcp && listen(fd, 128) < 0)) {
		printf("%s\n", errname(errno));
		return 1;
	}
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

static int attempt(const char *mode, const struct target *t)
{
	if (!strcmp(mode, "tcp"))
		return do_tcp(t);
	if (!strcmp(mode, "udp"))
		return do_udp(t);
	if (!strcmp(mode, "udp-connected"))
		return do_udp_connected(t);
	if (!strcmp(mode, "tfo"))
		return do_tfo(t);
	if (!strcmp(mode, "tfo-connect"))
		return do_tfo_connect(t);
	if (!strcmp(mode, "sendmmsg"))
		return do_sendmmsg(t);
	if (!strcmp(mode, "udp4on6"))
		return do_udp4on6(t);
	if (!strcmp(mode, "pktinfo"))
		return do_pktinfo(t);
	if (!strcmp(mode, "mptcp"))
		return do_mptcp(t);
	if (!strcmp(mode, "udplite"))
		return do_udplite(t);
	if (!strcmp(mode, "raw-udp"))
		return do_raw_udp(t);
	usage();
	return 0;
}

static int do_loop(const char *proto, const struct target *t, const char *nstr)
{
	long n = strtol(nstr, NULL, 10), i;
	int counts[256] = { 0 };	/* errno < 255; 0 = ok; 255 = other */
	int k, first = 1, bad = 0;

	if (n <= 0 || n > 100000 || (strcmp(proto, "tcp") && strcmp(proto, "udp")))
		usage();
	alarm(TIMEOUT_S + n / 100);
	for (i = 0; i < n; i++) {
		int e = attempt(proto, t);

		counts[e > 254 ? 255 : e]++;
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
	return bad;
}

int main(int argc, char **argv)
{
	struct target t;
	const char *p = getenv("PROBE_PAYLOAD");
	int err;

	if (p && *p)
		payload = p;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "listen")) {
		if (argc != 6)
			usage();
		parse_target(&t, argv[3], argv[4]);
		return do_listen(argv[2], &t, argv[5]);
	}
	if (!strcmp(argv[1], "loop")) {
		if (argc != 6)
			usage();
		parse_target(&t, argv[3], argv[4]);
		return do_loop(argv[2], &t, argv[5]);
	}
	if (argc != 4)
		usage();
	parse_target(&t, argv[2], argv[3]);
	alarm(TIMEOUT_S);
	err = attempt(argv[1], &t);
	printf("%s\n", err ? errname(err) : "ok");
	return err ? 1 : 0;
}
