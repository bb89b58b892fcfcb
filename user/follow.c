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
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <bpf/bpf.h>

#include "follow.h"
#include "state.h"

struct follower {
	struct follower *next, *prev;
	int fd;
	bool requested, follow, closing;
	char *filter;		/* the request's cgroup ("" = all), once requested */
	char *req;		/* the request so far */
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
	unsigned int n;		/* followers connected */
	size_t queued;		/* bytes allocated to all queues: at most FOLLOW_BUDGET */
	dev_t sock_dev;		/* the socket file this egressd made */
	ino_t sock_ino;
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

static void half_second(void)
{
	nanosleep(&(struct timespec){ .tv_nsec = 500000000 }, NULL);
}

/*
 * One connection's lines: events, notes, the end.  *live: egressd said the
 * stream is live; *ended: it said the stream ended.  0, or -EPROTO with
 * egressd's error in err.
 */
static int events_stream(const struct events_reader *r, FILE *in, bool again, bool *live, bool *ended,
			 char *err, size_t errlen)
{
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	while (!*r->stop && getline(&line, &cap, in) > 0) {
		json_t *ev = json_loads(line, 0, NULL);

		if (!ev)
			continue;
		if (json_object_get(ev, "lost")) {
			fprintf(r->notes, "%s%lld events lost (this reader was too slow)\n", r->prefix,
				(long long)json_integer_value(json_object_get(ev, "lost")));
		} else if (json_object_get(ev, "error")) {
			snprintf(err, errlen, "egressd: %s", json_string_value(json_object_get(ev, "error")));
			ret = -EPROTO;
		} else if (json_object_get(ev, "end")) {
			json_decref(ev);
			*ended = true;
			break;
		} else if (json_object_get(ev, "live")) {
			*live = true;
			fprintf(r->notes, "%s%s egressd on %s, following\n", r->prefix,
				again ? "reconnected to" : "connected to", r->sock);
		} else {
			r->on_event(ev, r->ctx);
		}
		json_decref(ev);
	}
	free(line);
	return ret;
}

int events_read(const struct events_reader *r, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	json_t *req;
	char *reqs;
	int fd, ret = 0;
	FILE *in;

	if (strlen(r->sock) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", r->sock);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, r->sock);
	req = json_pack("{s:s, s:b}", "cgroup", r->cgroup, "follow", r->follow);
	reqs = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!reqs) {
		snprintf(err, errlen, "cannot make the request: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	for (bool again = false, live = false; !*r->stop; again |= live) {
		bool ended = false;

		live = false;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			int e = errno;

			if (fd >= 0)
				close(fd);
			if (!again) {
				snprintf(err, errlen, e == EACCES || e == EPERM ?
					 "permission denied on egressd's socket %s: run as root, or as a user "
					 "the socket's mode lets in (%s)" :
					 "egressd is not running or not reachable (%s: %s)", r->sock, strerror(e));
				ret = -e;
				break;
			}
			half_second();
			continue;
		}
		if (dprintf(fd, "%s\n", reqs) < 0) {
			int e = errno;

			close(fd);
			if (again && (e == EPIPE || e == ECONNRESET)) {
				half_second();	/* an egressd on its way out took the connection */
				continue;
			}
			ret = -e;
			snprintf(err, errlen, "cannot talk to egressd: %s", strerror(e));
			break;
		}
		in = fdopen(fd, "r");
		if (!in) {
			ret = -errno;
			snprintf(err, errlen, "%s", strerror(errno));
			close(fd);
			break;
		}
		ret = events_stream(r, in, again, &live, &ended, err, errlen);
		fclose(in);
		if (ret || ended || *r->stop)
			break;
		if (!r->follow || (!live && !again)) {
			snprintf(err, errlen, "egressd closed the event stream (it stopped, or refused this reader)");
			ret = -EPIPE;
			break;
		}
		if (live)
			fprintf(r->notes, "%segressd closed the stream (stopped or restarting); reconnecting when "
				"it is back\n", r->prefix);
		else	/* an egressd on its way out: try again */
			half_second();
	}
	free(reqs);
	return ret;
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
	/* a stale socket of an earlier egressd goes; a live one is another's */
	ret = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ret >= 0) {
		bool live = !connect(ret, (struct sockaddr *)&sa, sizeof(sa));

		close(ret);
		if (live) {
			ret = -EADDRINUSE;
			goto fail;
		}
	}
	unlink(path);
	/* created 0600 from the start: no window in which others could connect */
	mode_t old = umask(0177);
	ret = bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret || listen(f->listen_fd, SOMAXCONN)) {
		ret = -errno;
		goto fail;
	}
	{
		struct stat sb;

		if (!stat(path, &sb)) {
			f->sock_dev = sb.st_dev;
			f->sock_ino = sb.st_ino;
		}
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
	f->queued -= c->qcap;
	f->n--;
	free(c->q);
	free(c->filter);
	free(c->req);
	free(c);
}

static bool matches(const struct follower *c, const char *cgroup)
{
	size_t n = strlen(c->filter);

	if (!n)
		return true;
	return !strncmp(cgroup, c->filter, n) && (cgroup[n] == '\0' || cgroup[n] == '/');
}

/*
 * Queues a line, or counts it lost when the queue is full or every queue
 * together holds FOLLOW_BUDGET bytes.
 */
static void enqueue(struct followers *f, struct follower *c, const char *line)
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
		if (cap > FOLLOW_QUEUE)
			cap = FOLLOW_QUEUE;
		if (f->queued - c->qcap + cap > FOLLOW_BUDGET) {
			c->lost++;
			return;
		}
		nq = realloc(c->q, cap);
		if (!nq) {
			c->lost++;
			return;
		}
		c->q = nq;
		f->queued += cap - c->qcap;
		c->qcap = cap;
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
			f->queued -= c->qcap;
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
	c->filter = strdup(cg ? cg : "");
	free(c->req);
	c->req = NULL;
	if (!c->filter) {
		json_decref(req);
		drop(f, c);
		return;
	}
	while (strlen(c->filter) > 1 && c->filter[strlen(c->filter) - 1] == '/')
		c->filter[strlen(c->filter) - 1] = '\0';
	c->follow = json_is_true(json_object_get(req, "follow"));
	c->requested = true;
	json_decref(req);
	for (size_t i = 0; i < FOLLOW_BACKLOG; i++) {
		struct backlog_entry *b = &f->backlog[(f->bl_next + i) % FOLLOW_BACKLOG];

		if (b->line && b->cgroup && matches(c, b->cgroup))
			enqueue(f, c, b->line);
	}
	enqueue(f, c, c->follow ? "{\"live\":true}" : "{\"end\":true}");
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
		if (f->n >= FOLLOW_MAX) {
			static const char msg[] = "{\"error\":\"too many followers: egressd serves at most "
				FOLLOW_MAX_STR " at once\"}\n";

			send(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
			close(fd);
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
		f->n++;
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
			} else if (c->reqlen + 1 < FOLLOW_REQ_MAX) {
				if (!c->req && !(c->req = malloc(FOLLOW_REQ_MAX))) {
					drop(f, c);
					return;
				}
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
		enqueue(f, c, line);
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
	{	/* only the socket this egressd made: another may have replaced it */
		struct stat sb;

		if (!stat(f->path, &sb) && sb.st_dev == f->sock_dev && sb.st_ino == f->sock_ino)
			unlink(f->path);
	}
	free(f);
}

/* ---- egressd's presence ------------------------------------------------ */

static void presence_path(char *buf, size_t len, const char *pin_dir, const char *leaf)
{
	snprintf(buf, len, "%s/" PRESENCE_DIR "%s%s", pin_dir, leaf ? "/" : "", leaf ? leaf : "");
}

static int info_get(const char *pin_dir, struct egressd_info *info)
{
	char path[PATH_MAX];
	int ret;

	memset(info, 0, sizeof(*info));
	presence_path(path, sizeof(path), pin_dir, "info");
	ret = state_record_read(path, info);
	info->events_socket[sizeof(info->events_socket) - 1] = '\0';
	info->metrics_addr[sizeof(info->metrics_addr) - 1] = '\0';
	return ret;
}

int presence_lock(const char *pin_dir, int *out, uint32_t *pid)
{
	char path[PATH_MAX];
	struct egressd_info info;
	int fd;

	*pid = 0;
	presence_path(path, sizeof(path), pin_dir, NULL);
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* a status reader holds it shared for a moment: try a few times */
	for (int i = 0; flock(fd, LOCK_EX | LOCK_NB); i++) {
		if (errno != EWOULDBLOCK || i == 20) {
			int e = errno == EWOULDBLOCK ? EBUSY : errno;

			close(fd);
			if (e == EBUSY && !info_get(pin_dir, &info))
				*pid = info.pid;
			return -e;
		}
		usleep(10000);
	}
	*out = fd;
	return 0;
}

int presence_publish(const char *pin_dir, const struct egressd_info *info)
{
	char path[PATH_MAX];

	presence_path(path, sizeof(path), pin_dir, "info");
	return state_record_write(path, "egressd_info", info, sizeof(*info));
}

int presence_read(const char *pin_dir, struct egressd_info *info)
{
	char path[PATH_MAX];
	int fd, ret;

	ret = info_get(pin_dir, info);
	if (ret && ret != -ENOENT)
		return ret;
	presence_path(path, sizeof(path), pin_dir, NULL);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	ret = flock(fd, LOCK_SH | LOCK_NB) ? (errno == EWOULDBLOCK ? 1 : -errno) : 0;
	close(fd);
	if (ret == 0)
		info->pid = 0;	/* a killed egressd's record */
	return ret;
}

bool presence_held(const char *pin_dir, int fd)
{
	char path[PATH_MAX];
	struct stat a, b;

	presence_path(path, sizeof(path), pin_dir, NULL);
	return !fstat(fd, &a) && !stat(path, &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

void presence_release(const char *pin_dir, int fd)
{
	char path[PATH_MAX];

	if (fd < 0)
		return;
	if (presence_held(pin_dir, fd)) {
		presence_path(path, sizeof(path), pin_dir, "info");
		unlink(path);
	}
	close(fd);
}
