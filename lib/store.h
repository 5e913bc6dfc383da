/*
 * store.h: the one LMDB wrapper.
 *
 * - Named databases are opened once at store_open().
 * - Keys are built with store_key_* helpers: typed and big-endian so that
 *   byte order is numeric order.
 * - A transaction carries a sticky error (as in Knot DNS): after the first
 *   failure every call is a no-op and the caller checks once, at commit.
 * - All LMDB codes go through a17_err_mdb().
 * - Every value carries a CRC-32C of key and value. Reads check it and
 *   strip it; a record that fails is refused (A17_ECORRUPT, which sets the
 *   sticky error, logged as A17-E0401) and never returned as valid.
 * - Writes from daemons go through the single writer (store_writer_*),
 *   which batches operations and commits them together (group commit), so
 *   that many acks share one fsync. On MDB_MAP_FULL the writer grows the
 *   map while no transaction is open and replays the batch.
 */
#ifndef A17_STORE_H
#define A17_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

typedef struct store store;

typedef struct store_txn {
	store *s;
	MDB_txn *txn;
	int rv; /* sticky error: first failure, 0 while all went well */
	int rdonly;
} store_txn;

typedef struct store_key {
	uint8_t buf[256];
	size_t len;
} store_key;

/* Key builders: append big-endian integers or raw bytes. */
void store_key_init(store_key *k);
void store_key_u8(store_key *k, uint8_t v);
void store_key_u32(store_key *k, uint32_t v);
void store_key_u64(store_key *k, uint64_t v);
void store_key_bytes(store_key *k, const void *p, size_t len);
/* A string key part: the bytes, then a 0 terminator (prefix-free). */
void store_key_str(store_key *k, const char *s);
uint32_t store_get_u32(const uint8_t *p);
uint64_t store_get_u64(const uint8_t *p);

typedef struct store_opts {
	size_t map_size;  /* initial map size, bytes; 0 = 64 MiB */
	size_t map_max;   /* largest map it may grow to; 0 = 64 GiB */
	int nosync;       /* MDB_NOSYNC: tests and drills only */
	unsigned max_dbs; /* 0 = 32 */
} store_opts;

/*
 * Opens (creating if needed, mode 0600) the environment in directory path
 * with the named databases dbnames[0..ndb-1]. Database handles are the
 * indices into dbnames.
 */
int store_open(const char *path, const char *const *dbnames, int ndb,
               const store_opts *opts, store **sp);
/* Stops nothing: stop the writer first. Accepts NULL. */
void store_close(store *s);
size_t store_map_size(const store *s);
MDB_env *store_env(store *s);

int store_txn_begin(store *s, store_txn *t, int rdonly);
/* Nested write transaction (child of parent). */
int store_txn_begin_child(store_txn *parent, store_txn *child);
/* Commits unless a sticky error is set (then aborts). Returns the error. */
int store_txn_commit(store_txn *t);
void store_txn_abort(store_txn *t);

/* Each sets t->rv on failure and is a no-op once t->rv != 0. */
int store_put(store_txn *t, int db, const store_key *k, const void *v,
              size_t vlen);
int store_put_raw(store_txn *t, int db, const void *key, size_t klen,
                  const void *v, size_t vlen, unsigned flags);
/* A17_ENOTFOUND does not set the sticky error; A17_ECORRUPT does. */
int store_get(store_txn *t, int db, const store_key *k, MDB_val *v);
int store_get_raw(store_txn *t, int db, const void *key, size_t klen,
                  MDB_val *v);
/* A17_ENOTFOUND does not set the sticky error. */
int store_del(store_txn *t, int db, const store_key *k);
/* Number of entries in db. */
int store_count(store_txn *t, int db, size_t *n);

/*
 * Checks the checksum trailer of a raw LMDB value stored under key and,
 * when it holds, strips it from v. Returns 0 or A17_ECORRUPT. The read
 * functions above and below do this already; this is for tools and tests.
 */
int store_rec_verify(const void *key, size_t klen, MDB_val *v);

/*
 * Iteration over keys that start with prefix (len 0: all), in key order.
 * store_iter_next returns 1 with k/v set, 0 at the end, <0 on error. On
 * A17_ECORRUPT, k still names the record that failed its checksum.
 */
typedef struct store_iter {
	store_txn *t;
	MDB_cursor *cur;
	int db;
	store_key prefix;
	int started;
} store_iter;
int store_iter_begin(store_txn *t, int db, const void *prefix, size_t plen,
                     store_iter *it);
/* Like store_iter_begin, starting at the first key >= from. */
int store_iter_from(store_txn *t, int db, const void *prefix, size_t plen,
                    const void *from, size_t flen, store_iter *it);
int store_iter_next(store_iter *it, MDB_val *k, MDB_val *v);
void store_iter_end(store_iter *it);

/*
 * The last entry (highest key) that starts with prefix (plen 0: the last
 * entry of db). A17_ENOTFOUND when there is none; does not set the
 * sticky error for that.
 */
int store_last(store_txn *t, int db, const void *prefix, size_t plen,
               MDB_val *k, MDB_val *v);
/*
 * The key of that last entry, without its value, so without checking the
 * value's checksum: for sequence counters, which must keep counting past a
 * record that is refused rather than reuse its key.
 */
int store_last_key(store_txn *t, int db, const void *prefix, size_t plen,
                   MDB_val *k);

/* ------------------------------------------------------ group commit */

typedef struct store_writer store_writer;
typedef struct store_op store_op;

/*
 * apply runs inside a child transaction of the batch; returning non-zero
 * aborts only this op's child and that value is passed to done.
 * apply may run more than once (replay after map growth): it must not have
 * side effects outside the transaction.
 * done runs on the writer thread after the batch committed (rv = apply's
 * result) or failed (rv = commit error). It must not block.
 */
typedef int (*store_apply_fn)(store_txn *t, void *arg);
typedef void (*store_done_fn)(void *arg, int rv);

struct store_op {
	store_apply_fn apply;
	store_done_fn done;
	void *arg;
	store_op *next; /* writer's use */
	int rv;         /* writer's use */
};

/* Histogram bounds (upper, inclusive) for the writer's statistics. */
#define STORE_BATCH_BUCKETS 13 /* 1, 2, 4, ... 4096 records */
#define STORE_LAT_BUCKETS   12
extern const uint64_t store_lat_bounds_us[STORE_LAT_BUCKETS];

typedef struct store_writer_stats {
	uint64_t commits;
	uint64_t ops;
	uint64_t max_batch;
	uint64_t grows;
	uint64_t commit_us_total;
	/* commits per bucket (not cumulative); beyond the last: commits -
	 * the sum */
	uint64_t batch_hist[STORE_BATCH_BUCKETS];
	uint64_t lat_hist[STORE_LAT_BUCKETS];
} store_writer_stats;

/*
 * Starts the writer thread. A batch is whatever is queued when the writer
 * wakes, plus what arrives within max_wait_us, up to max_batch ops.
 */
int store_writer_start(store *s, unsigned max_batch, unsigned max_wait_us,
                       store_writer **wp);
/* Queues op; op must stay valid until op->done has run. */
int store_writer_submit(store_writer *w, store_op *op);
/* Runs op and waits for its completion; returns its rv. */
int store_writer_run(store_writer *w, store_apply_fn apply, void *arg);
/* Drains the queue, stops the thread, frees w. Accepts NULL. */
void store_writer_stop(store_writer *w);
void store_writer_get_stats(store_writer *w, store_writer_stats *st);

#endif
