/*
 * quota.h: the broker's resource limits as pure functions.
 *
 * How many agent connections a descriptor limit allows, how many requests
 * one connection may have outstanding, and a rate limit for log lines
 * that a peer can provoke. No I/O, no clock: callers pass the limit, the
 * count and the time (docs/reliability.md, "Resource limits").
 */
#ifndef A17_QUOTA_H
#define A17_QUOTA_H

#include <stdint.h>

/*
 * Requests one agent connection may have outstanding: received and not
 * yet answered. A conforming agent has at most two (its poll and one
 * other request); the rest is room for requests it gave up on after a
 * timeout. Each outstanding request can hold one reply of up to 1 MiB
 * while the peer does not read, so this bounds the memory per connection.
 */
#define QUOTA_INFLIGHT_MAX 8

/*
 * Descriptors kept free for everything but agent connections: the admin
 * socket's clients, the dashboard, and agent connections that are still
 * in their TLS handshake (those are not counted as connections yet).
 * nofile / 16, at least 16 and at most 1024.
 */
uint64_t quota_fd_reserve(uint64_t nofile);

/*
 * The most agent connections the descriptor limit nofile allows when
 * in_use descriptors are taken already (the store, the listening
 * sockets, nng's own): nofile - in_use - quota_fd_reserve(nofile), or 0
 * when that leaves nothing; at most UINT32_MAX.
 */
uint32_t quota_conn_max(uint64_t nofile, uint64_t in_use);

/*
 * 1 when a connection with inflight requests outstanding may take one
 * more, 0 when it must be closed instead.
 */
int quota_inflight_ok(uint32_t inflight);

/* A log line that peers can provoke: at most one per interval. */
typedef struct quota_rate {
	int64_t interval_ms;
	int64_t last_ms;  /* when one was last let through; 0: never */
	uint64_t skipped; /* held back since then */
} quota_rate;

/*
 * Counts one event at now_ms. Returns 1 when it is to be logged, with
 * *skipped set to the events held back since the last one logged (the
 * caller says so in the line); 0 when it is to be held back.
 */
int quota_rate_allow(quota_rate *r, int64_t now_ms, uint64_t *skipped);

#endif
