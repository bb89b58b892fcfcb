/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * bypass - try ONE way out of an egress-bound cgroup and say how it went.
 *
 * The second entry of the one prober, tests/probe.c (its comment lists
 * every mode and command): the same table of modes, with two differences
 * that the bypass tests rely on.  The payload of every datagram is
 * "BYPASS-<tag>" with <tag> from $BYPASS_TAG ("x" if unset), so that a
 * packet sniffer can tell which attempt a packet belongs to; and
 * "udplite" is connect() + send() (probe's "udplite" is "udplite-sendto").
 * "ok" means the attempt went through as far as the kernel tells: the
 * packet may still be dropped later, the tests check where packets went.
 */
#define PROBE_BYPASS 1
#include "probe.c"
