/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * probe-common.h - the prober's basics (tests/probe.c, which tests/bypass.c
 * builds as its second entry): errno names, the alarm that bounds every
 * attempt, the ADDR PORT target and sockets with timeouts.  The includer
 * defines PROG (its name) before including and usage() after.
 */
#ifndef EGRESS_PROBE_COMMON_H
#define EGRESS_PROBE_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif
#ifndef TCP_FASTOPEN_CONNECT
#define TCP_FASTOPEN_CONNECT 30
#endif

#define TIMEOUT_S 10

static void usage(void);

static const char *errname(int e)
{
	static char buf[32];
	const char *n = strerrorname_np(e);

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

static void on_alarm(int sig)
{
	static const char msg[] = "TIMEOUT\n";	/* async-signal-safe */

	(void)sig;
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

struct target {
	struct sockaddr_storage ss;
	socklen_t len;
	int family;
	uint16_t port;	/* host order */
};

static int parse_port(const char *s)
{
	char *end;
	long p;

	errno = 0;
	p = strtol(s, &end, 10);
	if (errno || *end || end == s || p < 0 || p > 65535)
		usage();
	return (int)p;
}

static void parse_target(struct target *t, const char *addr, const char *port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&t->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&t->ss;
	int p = parse_port(port);

	memset(t, 0, sizeof(*t));
	t->port = p;
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(p);
		t->len = sizeof(*sin);
		t->family = AF_INET;
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(p);
		t->len = sizeof(*sin6);
		t->family = AF_INET6;
	} else {
		fprintf(stderr, PROG ": not an address literal: %s\n", addr);
		exit(2);
	}
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 5 };

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* A socket with timeouts; an AF_INET6 one also takes v4-mapped destinations. */
static int open_socket(int family, int type, int proto)
{
	int fd = socket(family, type, proto);

	if (fd < 0)
		return -1;
	if (family == AF_INET6) {
		int off = 0;

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	}
	set_timeouts(fd);
	return fd;
}

#endif
