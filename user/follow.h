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
#include <stddef.h>

#define EGRESS_DEFAULT_EVENTS_SOCKET "/run/egress/events.sock"
#define FOLLOW_BACKLOG 1024
#define FOLLOW_QUEUE (256 * 1024)	/* bytes queued per follower, at most */

struct followers;

/*
 * Creates the socket and adds it to epfd.  Followers are limited only by
 * the open-file limit; each queue grows as needed up to FOLLOW_QUEUE.
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

#endif
