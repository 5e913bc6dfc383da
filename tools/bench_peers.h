/*
 * The peer systems of art17-bench: Mosquitto 2 (MQTT QoS 1) and NATS
 * JetStream (libnats), on the same fan-out-and-acknowledge workload as the
 * floor and art17 lines. Each starts its own server on loopback in a
 * scratch directory, runs the rounds, and stops the server.
 */
#ifndef A17_BENCH_PEERS_H
#define A17_BENCH_PEERS_H

#include <stddef.h>

struct peer_cfg {
	int n;           /* members */
	int rounds;      /* measured rounds; one warm-up round comes first */
	int settle_ms;   /* pause before each round */
	int payload;     /* request size in bytes */
	int verbose;     /* print progress and client errors */
	const char *dir; /* scratch directory (exists; the server's data) */
};

struct peer_out {
	double *ms;            /* [rounds]: t0 -> every ack at the issuer */
	int n_ok;              /* rounds measured and correct */
	double server_rss_kib; /* peak RSS of the server (VmHWM) */
	double server_cpu_ms;  /* server CPU per measured round */
	char fail[256];        /* where it failed, when it did */
};

/*
 * Each runs the whole series: starts the server, connects N members plus
 * one issuer, runs 1 + rounds rounds, stops the server. Returns 0 when
 * every round completed with exactly N acks; -1 otherwise, with o->fail
 * saying where. Both are bounded in time and stop by themselves.
 */
int peer_mqtt_run(const struct peer_cfg *c, struct peer_out *o);
int peer_nats_run(const struct peer_cfg *c, struct peer_out *o);

/* The durability mode of each peer, one line, for the report. */
extern const char *const peer_mqtt_durability;
extern const char *const peer_nats_durability;

#endif
