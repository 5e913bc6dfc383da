/*
 * The feedback ingest figure of art17-bench (bench_ingest.c): signed
 * Feedback envelopes opened and stored durably through the broker's
 * receive path and group-commit writer, without the network.
 */
#ifndef A17_BENCH_INGEST_H
#define A17_BENCH_INGEST_H

#include <stddef.h>
#include <stdint.h>

struct ingest_result {
	long records;     /* stored and confirmed */
	double secs;      /* first open to last commit returned */
	double rate;      /* records / secs */
	uint64_t commits; /* group commits it took */
	size_t env_bytes; /* one envelope's size */
	double cpu_s;     /* CPU time (user+system) this took */
};

/*
 * Stores n records in a new store under dir. Returns 0 when every record
 * was verified and committed; -1 otherwise. Bounded: 120 s at most.
 */
int bench_ingest(const char *dir, long n, struct ingest_result *res);

#endif
