/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * follow.h - egressd's event channel: a unix socket (0600, in a 0700
 * directory, root peers only) that 'egressctl events' reads.
 *
 * Protocol, one JSON object a line.  The client sends one request:
 *   {"cgroup": "/abs/path" or "", "follow": true|false}
 * and receives the recent events of that cgroup and its descendants
 * (the last FOLLOW_BACKLOG egressd saw), then, with follow, every new one.
 * A follower that reads too slowly loses events, never slows egressd: it
 * gets {"lost": N} before the next event that fits in its queue.
 */
#ifndef EGRESS_FOLLOW_H
#define EGRESS_FOLLOW_H

#include <stdbool.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>

#define EGRESS_DEFAULT_EVENTS_SOCKET "/run/egress/events.sock"
#define FOLLOW_BACKLOG 1024
#define FOLLOW_QUEUE (256 * 1024)	/* bytes queued per follower, at most */
#define FOLLOW_BUDGET (32 << 20)	/* bytes queued for all followers together */
#define FOLLOW_MAX 1024			/* followers at once; more are refused */
#define FOLLOW_MAX_STR "1024"
#define FOLLOW_REQ_MAX (PATH_MAX + 128)	/* a request line, at most */

struct followers;

/*
 * Creates the socket and adds it to epfd (-EADDRINUSE: another egressd
 * serves it).  At most FOLLOW_MAX followers (the next one is told so and
 * closed); each queue grows as needed up to FOLLOW_QUEUE, all of them
 * together up to FOLLOW_BUDGET, so memory stays bounded whatever the
 * followers do.
 * Every epoll event whose data is not the caller's own goes to
 * followers_handle.
 */
int followers_open(struct followers **f, const char *path, int epfd);
void followers_handle(struct followers *f, void *ptr, unsigned int events);
/* A new event: its JSON line (no newline) and its cgroup's path. */
void followers_publish(struct followers *f, const char *line, const char *cgroup);
void followers_close(struct followers *f);

/* Client side: the socket path from an option or EGRESS_EVENTS_SOCKET. */
const char *events_socket_path(const char *opt);

struct json_t;
/*
 * Client side, 'egressctl events': asks egressd for the events of a cgroup
 * (its path as egressd shows it, "" for all) and hands each to on_event.
 * With follow, a stream that egressd closes (it stopped or restarts) is
 * opened again as soon as egressd is back; notes says so, and events lost
 * to a slow reader, one line each after prefix.  Stops when *stop is set.
 */
struct events_reader {
	const char *sock;
	const char *cgroup;
	bool follow;
	volatile sig_atomic_t *stop;
	void (*on_event)(struct json_t *ev, void *ctx);
	void *ctx;
	FILE *notes;
	const char *prefix;	/* of each note: "egressctl: events: " */
};
/* 0: the events were read (to the end, or until *stop); else -errno and one line in err. */
int events_read(const struct events_reader *r, char *err, size_t errlen);

/*
 * egressd's presence, per pin directory: PIN_DIR/egressd is a directory
 * that the running egressd holds flock()ed (one egressd per pin directory),
 * and PIN_DIR/egressd/info a one-entry BPF array created from user space
 * (bpffs holds nothing but pins) with what 'egressctl status' shows.
 * Running means: the lock is held.  A killed egressd leaves its info
 * behind; it reads as not running.
 */
struct egressd_info {
	uint32_t pid;
	uint32_t pad;
	uint64_t started;		/* CLOCK_REALTIME, seconds */
	char events_socket[108];
	char metrics_addr[148];
};

#define PRESENCE_DIR "egressd"
/* 0 and *fd locked, or -EBUSY and *pid the running egressd's (0: unknown). */
int presence_lock(const char *pin_dir, int *fd, uint32_t *pid);
int presence_publish(const char *pin_dir, const struct egressd_info *info);
/* 1 running, 0 not (info: the last one, pid 0 if none), -errno. */
int presence_read(const char *pin_dir, struct egressd_info *info);
/* The locked directory is still PIN_DIR/egressd (not removed, not replaced). */
bool presence_held(const char *pin_dir, int fd);
/* At a clean exit: the info goes, the lock with fd. */
void presence_release(const char *pin_dir, int fd);

#endif
