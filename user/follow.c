// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* follow.c - fans denial events out to 'egressctl events' followers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <jansson.h>

#include "follow.h"

struct follower {
	struct follower *next, *prev;
	int fd;
	bool requested, follow, closing;
	char filter[PATH_MAX];
	char req[PATH_MAX + 128];
	size_t reqlen;
	char *q;		/* queued output */
	size_t qlen, qoff, qcap;
	unsigned long long lost;
};

struct backlog_entry {
	char *line;
	char *cgroup;
};

struct followers {
	int listen_fd, epfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct follower *head;	/* every connected follower */
	struct backlog_entry backlog[FOLLOW_BACKLOG];
	size_t bl_next;
};

const char *events_socket_path(const char *opt)
{
	const char *env = getenv("EGRESS_EVENTS_SOCKET");

	if (opt && *opt)
		return opt;
	if (env && *env)
		return env;
	return EGRESS_DEFAULT_EVENTS_SOCKET;
}

int followers_open(struct followers **out, const char *path, int epfd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[PATH_MAX];
	struct followers *f;
	int ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->epfd = epfd;
	snprintf(f->path, sizeof(f->path), "%s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	dirname(dir);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		ret = -errno;
		goto fail;
	}
	strcpy(sa.sun_path, path);
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->listen_fd < 0) {
		ret = -errno;
		goto fail;
	}
	unlink(path);	/* a stale socket of an earlier egressd */
	/* created 0600 from the start: no window in which others could connect */
	mode_t old = umask(0177);
	ret = bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret || listen(f->listen_fd, SOMAXCONN)) {
		ret = -errno;
		goto fail;
	}
	ev.data.ptr = f;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, f->listen_fd, &ev)) {
		ret = -errno;
		goto fail;
	}
	*out = f;
	return 0;
fail:
	if (f->listen_fd > 0)
		close(f->listen_fd);
	free(f);
	return ret;
}

static void drop(struct followers *f, struct follower *c)
{
	epoll_ctl(f->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		f->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->q);
	free(c);
}

static bool matches(const struct follower *c, const char *cgroup)
{
	size_t n = strlen(c->filter);

	if (!n)
		return true;
	return !strncmp(cgroup, c->filter, n) && (cgroup[n] == '\0' || cgroup[n] == '/');
}

/* Queues a line, or counts it lost when the queue is full. */
static void enqueue(struct follower *c, const char *line)
{
	char lost[64];
	size_t need = strlen(line) + 1;
	int n = 0;

	if (c->lost)
		n = snprintf(lost, sizeof(lost), "{\"lost\":%llu}\n", c->lost);
	if (c->qlen - c->qoff + need + n > FOLLOW_QUEUE) {
		c->lost++;
		return;
	}
	if (c->qoff) {	/* compact */
		memmove(c->q, c->q + c->qoff, c->qlen - c->qoff);
		c->qlen -= c->qoff;
		c->qoff = 0;
	}
	if (c->qlen + need + n > c->qcap) {
		size_t cap = c->qcap ? c->qcap : 4096;
		char *nq;

		while (cap < c->qlen + need + n)
			cap *= 2;
		nq = realloc(c->q, cap < FOLLOW_QUEUE ? cap : FOLLOW_QUEUE);
		if (!nq) {
			c->lost++;
			return;
		}
		c->q = nq;
		c->qcap = cap < FOLLOW_QUEUE ? cap : FOLLOW_QUEUE;
	}
	memcpy(c->q + c->qlen, lost, n);
	c->qlen += n;
	c->lost = 0;
	memcpy(c->q + c->qlen, line, need - 1);
	c->q[c->qlen + need - 1] = '\n';
	c->qlen += need;
}

static void flush(struct followers *f, struct follower *c)
{
	struct epoll_event ev = { .data.ptr = c };

	while (c->qoff < c->qlen) {
		ssize_t n = send(c->fd, c->q + c->qoff, c->qlen - c->qoff, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			drop(f, c);
			return;
		}
		c->qoff += n;
	}
	if (c->qoff == c->qlen) {
		c->qoff = c->qlen = 0;
		if (c->closing) {
			drop(f, c);
			return;
		}
		if (c->qcap > 4096) {	/* a burst is over: give the memory back */
			free(c->q);
			c->q = NULL;
			c->qcap = 0;
		}
	}
	ev.events = EPOLLIN | (c->qlen ? EPOLLOUT : 0);
	epoll_ctl(f->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void on_request(struct followers *f, struct follower *c)
{
	json_t *req = json_loadb(c->req, c->reqlen, 0, NULL);
	const char *cg = req ? json_string_value(json_object_get(req, "cgroup")) : NULL;

	if (!req || !json_is_object(req)) {
		json_decref(req);
		drop(f, c);
		return;
	}
	snprintf(c->filter, sizeof(c->filter), "%s", cg ? cg : "");
	while (strlen(c->filter) > 1 && c->filter[strlen(c->filter) - 1] == '/')
		c->filter[strlen(c->filter) - 1] = '\0';
	c->follow = json_is_true(json_object_get(req, "follow"));
	c->requested = true;
	json_decref(req);
	for (size_t i = 0; i < FOLLOW_BACKLOG; i++) {
		struct backlog_entry *b = &f->backlog[(f->bl_next + i) % FOLLOW_BACKLOG];

		if (b->line && b->cgroup && matches(c, b->cgroup))
			enqueue(c, b->line);
	}
	enqueue(c, c->follow ? "{\"live\":true}" : "{\"end\":true}");
	c->closing = !c->follow;
	flush(f, c);
}

static void on_accept(struct followers *f)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	while ((fd = accept4(f->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct follower *c;

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.uid != 0) {
			close(fd);	/* root only, whatever the file mode says */
			continue;
		}
		c = calloc(1, sizeof(*c));
		ev.data.ptr = c;
		if (!c || epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->next = f->head;
		if (f->head)
			f->head->prev = c;
		f->head = c;
	}
}

void followers_handle(struct followers *f, void *ptr, unsigned int events)
{
	struct follower *c = ptr;

	if (ptr == f) {
		on_accept(f);
		return;
	}
	if (events & EPOLLIN) {
		char buf[512];
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			drop(f, c);
			return;
		}
		for (ssize_t i = 0; i < n && !c->requested; i++) {
			if (buf[i] == '\n') {
				/* answered, perhaps closed (c freed): nothing more here */
				on_request(f, c);
				return;
			} else if (c->reqlen + 1 < sizeof(c->req)) {
				c->req[c->reqlen++] = buf[i];
			} else {
				drop(f, c);
				return;
			}
		}
	}
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
		if (events & (EPOLLHUP | EPOLLERR)) {
			drop(f, c);
			return;
		}
		flush(f, c);
	}
}

void followers_publish(struct followers *f, const char *line, const char *cgroup)
{
	struct backlog_entry *b;

	if (!f)
		return;
	b = &f->backlog[f->bl_next++ % FOLLOW_BACKLOG];
	free(b->line);
	free(b->cgroup);
	b->line = strdup(line);
	b->cgroup = strdup(cgroup);
	f->bl_next %= FOLLOW_BACKLOG;
	for (struct follower *c = f->head, *next; c; c = next) {
		next = c->next;	/* flush may drop c */
		if (!c->requested || !c->follow || !matches(c, cgroup ? cgroup : ""))
			continue;
		enqueue(c, line);
		flush(f, c);
	}
}

void followers_close(struct followers *f)
{
	if (!f)
		return;
	while (f->head)
		drop(f, f->head);
	for (int i = 0; i < FOLLOW_BACKLOG; i++) {
		free(f->backlog[i].line);
		free(f->backlog[i].cgroup);
	}
	close(f->listen_fd);
	unlink(f->path);
	free(f);
}
