/*
 * store.c: the one LMDB wrapper (after Knot DNS knot_lmdb): typed
 * big-endian keys, transactions with a sticky error, and a single writer
 * thread that does group commit and grows the map on MDB_MAP_FULL.
 *
 * Map growth: mdb_env_set_mapsize() may only be called while no
 * transaction is open in the process. Every top-level transaction holds
 * s->grow_lock for read from begin to commit/abort; growth takes it for
 * write. A thread must therefore not wait for the writer (store_writer_run)
 * while it holds a transaction open. Direct write transactions (the
 * agent's) grow too: one that failed with MDB_MAP_FULL marks the store,
 * and the next write transaction begun grows the map first, so the
 * caller's retry succeeds.
 *
 * Record checksums: every value is stored with a 4-byte trailer, the
 * CRC-32C of key || value (big-endian). Every read path (get, iteration,
 * last) checks it and strips it, so callers never see the trailer; a record
 * that fails is refused with A17_ECORRUPT and logged (A17-E0401), never
 * returned. Covering the key as well catches a record that moved to
 * another key. CRC-32C detects every error of up to 3 bits in records of
 * this size; it is not a MAC: deliberate edits are the audit chain's job.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "err.h"
#include "log.h"
#include "store.h"

#define STORE_DEF_MAP     ((size_t)64 << 20)
#define STORE_DEF_MAP_MAX ((size_t)64 << 30)
#define STORE_DEF_DBS     32
#define STORE_MAX_READERS 510
#define STORE_SUM_LEN     4 /* CRC-32C trailer on every value */
/* A key whose builder overflowed its buffer: refused at use. */
#define STORE_KEY_BAD (sizeof(((store_key *)0)->buf) + 1)

struct store {
	MDB_env *env;
	MDB_dbi *dbi;
	char **names; /* database names, for messages */
	int ndb;
	size_t map_max;
	pthread_rwlock_t grow_lock;
	/*
	 * The open top-level write transaction, if any. LMDB allows one
	 * at a time, so a write txn that is not this one is a child (which
	 * does not hold grow_lock). Only touched by the thread holding
	 * LMDB's writer lock.
	 */
	MDB_txn *wtop;
	atomic_int want_grow; /* a write failed with MDB_MAP_FULL */
};

/* ---------------------------------------------------------------- keys */

void
store_key_init(store_key *k)
{
	k->len = 0;
}

void
store_key_bytes(store_key *k, const void *p, size_t len)
{
	if (k->len > sizeof(k->buf) || len > sizeof(k->buf) - k->len) {
		k->len = STORE_KEY_BAD;
		return;
	}
	if (len > 0)
		memcpy(k->buf + k->len, p, len);
	k->len += len;
}

void
store_key_u8(store_key *k, uint8_t v)
{
	store_key_bytes(k, &v, 1);
}

void
store_key_u32(store_key *k, uint32_t v)
{
	uint8_t b[4];

	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
	store_key_bytes(k, b, sizeof(b));
}

void
store_key_u64(store_key *k, uint64_t v)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
	store_key_bytes(k, b, sizeof(b));
}

void
store_key_str(store_key *k, const char *s)
{
	store_key_bytes(k, s, strlen(s) + 1);
}

uint32_t
store_get_u32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	        (uint32_t)p[2] << 8 | (uint32_t)p[3]);
}

uint64_t
store_get_u64(const uint8_t *p)
{
	return ((uint64_t)store_get_u32(p) << 32 | store_get_u32(p + 4));
}

/* ------------------------------------------------------ record checksum */

static uint32_t crc_tab[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void
crc_init(void)
{
	uint32_t c, i, j;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_tab[i] = c;
	}
}

static uint32_t
crc32c(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n-- > 0)
		crc = crc_tab[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return (crc);
}

static uint32_t
rec_sum(const void *k, size_t klen, const void *v, size_t vlen)
{
	uint32_t c;

	pthread_once(&crc_once, crc_init);
	c = crc32c(0xffffffffu, k, klen);
	c = crc32c(c, v, vlen);
	return (c ^ 0xffffffffu);
}

int
store_rec_verify(const void *key, size_t klen, MDB_val *v)
{
	const uint8_t *p = v->mv_data;
	size_t n = v->mv_size;

	if (n < STORE_SUM_LEN || (klen > 0 && key == NULL) ||
	    (n > 0 && p == NULL))
		return (A17_ECORRUPT);
	n -= STORE_SUM_LEN;
	if (store_get_u32(p + n) != rec_sum(key, klen, p, n))
		return (A17_ECORRUPT);
	v->mv_size = n;
	return (0);
}

/* Checks a record read from db; on failure logs it and sets the sticky
 * error, so that nothing in this transaction uses it. */
static int
rec_check(store_txn *t, int db, const MDB_val *k, MDB_val *v)
{
	char hex[2 * 16 + 1];
	size_t i, n = k->mv_size < 16 ? k->mv_size : 16;

	if (store_rec_verify(k->mv_data, k->mv_size, v) == 0)
		return (0);
	for (i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x",
		         ((const uint8_t *)k->mv_data)[i]);
	hex[2 * n] = '\0';
	log_warnx("A17-E0401 store: record in %s (key %s%s) failed its "
	          "checksum: refused",
	          t->s->names[db], hex, k->mv_size > 16 ? "..." : "");
	return (t->rv = A17_ECORRUPT);
}

/* ---------------------------------------------------------- environment */

/* The larger of the configured size and the existing data file's size. */
static size_t
initial_map_size(const char *path, size_t want)
{
	char fn[PATH_MAX];
	struct stat st;

	if (snprintf(fn, sizeof(fn), "%s/data.mdb", path) >= (int)sizeof(fn))
		return (want);
	if (stat(fn, &st) == 0 && st.st_size > 0 &&
	    (unsigned long long)st.st_size > want)
		return ((size_t)st.st_size);
	return (want);
}

int
store_open(const char *path, const char *const *dbnames, int ndb,
           const store_opts *opts, store **sp)
{
	store_opts o = {0};
	store *s;
	MDB_txn *txn = NULL;
	unsigned maxdbs;
	size_t map;
	int i, rc, rv = 0;

	if (path == NULL || sp == NULL || ndb < 0 ||
	    (ndb > 0 && dbnames == NULL))
		return (A17_EINVAL);
	if (opts != NULL)
		o = *opts;
	if (o.map_size == 0)
		o.map_size = STORE_DEF_MAP;
	/* ART17_MAP_MIB sets the initial map size for every store of the
	 * process (a small file at first; the map-full test). The map
	 * grows by itself on MDB_MAP_FULL either way. */
	{
		const char *e = getenv("ART17_MAP_MIB");
		char *end;
		unsigned long v;

		if (e != NULL && *e != '\0') {
			errno = 0;
			v = strtoul(e, &end, 10);
			if (errno == 0 && *end == '\0' && v >= 1 && v <= 65536)
				o.map_size = (size_t)v << 20;
			else
				log_warnx("ART17_MAP_MIB=%s: not a size in MiB "
				          "(1 to 65536); ignored",
				          e);
		}
	}
	if (o.map_max == 0)
		o.map_max = STORE_DEF_MAP_MAX;
	maxdbs = o.max_dbs ? o.max_dbs : STORE_DEF_DBS;
	if ((unsigned)ndb > maxdbs)
		maxdbs = (unsigned)ndb;

	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return (a17_err_errno(errno));

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (A17_ENOMEM);
	if ((s->dbi = calloc(ndb > 0 ? (size_t)ndb : 1, sizeof(MDB_dbi))) ==
	    NULL) {
		free(s);
		return (A17_ENOMEM);
	}
	if ((rc = pthread_rwlock_init(&s->grow_lock, NULL)) != 0) {
		free(s->dbi);
		free(s);
		return (a17_err_errno(rc));
	}
	s->ndb = ndb;
	if ((s->names = calloc(ndb > 0 ? (size_t)ndb : 1, sizeof(char *))) ==
	    NULL) {
		rv = A17_ENOMEM;
		goto fail;
	}
	for (i = 0; i < ndb; i++)
		if ((s->names[i] = strdup(dbnames[i])) == NULL) {
			rv = A17_ENOMEM;
			goto fail;
		}
	map = initial_map_size(path, o.map_size);
	s->map_max = o.map_max > map ? o.map_max : map;

	if ((rc = mdb_env_create(&s->env)) != 0) {
		s->env = NULL;
		rv = a17_err_mdb(rc);
		goto fail;
	}
	if ((rc = mdb_env_set_maxdbs(s->env, maxdbs)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, map)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, STORE_MAX_READERS)) != 0 ||
	    (rc = mdb_env_open(s->env, path,
	                       MDB_NOTLS | (o.nosync ? MDB_NOSYNC : 0),
	                       0600)) != 0) {
		log_warnx("store %s: %s", path, mdb_strerror(rc));
		rv = a17_err_mdb(rc);
		goto fail;
	}
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0) {
		rv = a17_err_mdb(rc);
		goto fail;
	}
	for (i = 0; i < ndb; i++) {
		rc = mdb_dbi_open(txn, dbnames[i], MDB_CREATE, &s->dbi[i]);
		if (rc != 0) {
			log_warnx("store %s: db %s: %s", path, dbnames[i],
			          mdb_strerror(rc));
			mdb_txn_abort(txn);
			rv = a17_err_mdb(rc);
			goto fail;
		}
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		rv = a17_err_mdb(rc);
		goto fail;
	}
	*sp = s;
	return (0);

fail:
	store_close(s);
	return (rv);
}

void
store_close(store *s)
{
	int i;

	if (s == NULL)
		return;
	if (s->env != NULL)
		mdb_env_close(s->env);
	pthread_rwlock_destroy(&s->grow_lock);
	for (i = 0; s->names != NULL && i < s->ndb; i++)
		free(s->names[i]);
	free(s->names);
	free(s->dbi);
	free(s);
}

size_t
store_map_size(const store *s)
{
	MDB_envinfo info;

	if (s == NULL || mdb_env_info(s->env, &info) != 0)
		return (0);
	return (info.me_mapsize);
}

MDB_env *
store_env(store *s)
{
	return (s->env);
}

/*
 * Grows the map (doubling, capped at map_max). Called with no transaction
 * open by this thread; waits until no other thread has one open either.
 */
static int
store_grow_locked(store *s)
{
	MDB_envinfo info;
	size_t cur, next;
	int rc, rv = 0;

	if ((rc = mdb_env_info(s->env, &info)) != 0) {
		rv = a17_err_mdb(rc);
		goto out;
	}
	cur = info.me_mapsize;
	if (cur >= s->map_max) {
		log_warnx("store: map full at its maximum %zu bytes", cur);
		rv = A17_EMAPFULL;
		goto out;
	}
	next = cur > s->map_max / 2 ? s->map_max : cur * 2;
	if ((rc = mdb_env_set_mapsize(s->env, next)) != 0) {
		log_warnx("store: growing map to %zu: %s", next,
		          mdb_strerror(rc));
		rv = a17_err_mdb(rc);
		goto out;
	}
	log_info("store: map grown from %zu to %zu bytes", cur, next);
	atomic_store(&s->want_grow, 0); /* this growth answers that failure */
out:
	return (rv);
}

static int
store_grow(store *s)
{
	int rv;

	pthread_rwlock_wrlock(&s->grow_lock);
	rv = store_grow_locked(s);
	pthread_rwlock_unlock(&s->grow_lock);
	return (rv);
}

/*
 * Grows the map before a direct write transaction, after one failed with
 * MDB_MAP_FULL. Waits at most 5 s for the other transactions of the
 * process to end (this thread may hold a read transaction itself); if
 * they do not, the store stays marked and the next write tries again.
 */
static void
store_grow_pending(store *s)
{
	struct timespec ts;

	if (!atomic_exchange(&s->want_grow, 0))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	if (pthread_rwlock_timedwrlock(&s->grow_lock, &ts) != 0) {
		atomic_store(&s->want_grow, 1);
		return;
	}
	(void)store_grow_locked(s);
	pthread_rwlock_unlock(&s->grow_lock);
}

/* ---------------------------------------------------------- transactions */

int
store_txn_begin(store *s, store_txn *t, int rdonly)
{
	MDB_txn *txn;
	int rc, tries;

	if (s == NULL || t == NULL)
		return (A17_EINVAL);
	memset(t, 0, sizeof(*t));
	t->s = s;
	t->rdonly = rdonly ? 1 : 0;
	if (!rdonly)
		store_grow_pending(s);
	for (tries = 0;; tries++) {
		pthread_rwlock_rdlock(&s->grow_lock);
		rc = mdb_txn_begin(s->env, NULL, rdonly ? MDB_RDONLY : 0, &txn);
		if (rc == 0)
			break;
		pthread_rwlock_unlock(&s->grow_lock);
		if (rc != MDB_MAP_RESIZED || tries > 0)
			return (t->rv = a17_err_mdb(rc));
		/* Another process grew the map: adopt its size. */
		pthread_rwlock_wrlock(&s->grow_lock);
		rc = mdb_env_set_mapsize(s->env, 0);
		pthread_rwlock_unlock(&s->grow_lock);
		if (rc != 0)
			return (t->rv = a17_err_mdb(rc));
	}
	t->txn = txn;
	if (!rdonly)
		s->wtop = txn;
	return (0);
}

int
store_txn_begin_child(store_txn *parent, store_txn *child)
{
	MDB_txn *txn;
	int rc;

	if (parent == NULL || child == NULL)
		return (A17_EINVAL);
	memset(child, 0, sizeof(*child));
	child->s = parent->s;
	if (parent->rv != 0)
		return (child->rv = parent->rv);
	if (parent->txn == NULL || parent->rdonly)
		return (child->rv = A17_EINVAL);
	if ((rc = mdb_txn_begin(parent->s->env, parent->txn, 0, &txn)) != 0)
		return (child->rv = a17_err_mdb(rc));
	child->txn = txn;
	return (0);
}

/* Forgets t's handle; releases the grow lock if t is a top-level txn. */
static void
txn_release(store_txn *t, int top)
{
	t->txn = NULL;
	if (top)
		pthread_rwlock_unlock(&t->s->grow_lock);
}

static int
txn_is_top(store_txn *t)
{
	if (t->rdonly)
		return (1);
	if (t->s->wtop == t->txn) {
		t->s->wtop = NULL;
		return (1);
	}
	return (0);
}

int
store_txn_commit(store_txn *t)
{
	int rc, top;

	if (t == NULL)
		return (A17_EINVAL);
	if (t->txn == NULL)
		return (t->rv != 0 ? t->rv : A17_EINVAL);
	if (t->rv != 0) {
		store_txn_abort(t);
		return (t->rv);
	}
	top = txn_is_top(t);
	rc = mdb_txn_commit(t->txn);
	txn_release(t, top);
	if (rc != 0)
		t->rv = a17_err_mdb(rc);
	if (t->rv == A17_EMAPFULL)
		atomic_store(&t->s->want_grow, 1);
	return (t->rv);
}

void
store_txn_abort(store_txn *t)
{
	int top;

	if (t == NULL || t->txn == NULL)
		return;
	top = txn_is_top(t);
	mdb_txn_abort(t->txn);
	txn_release(t, top);
	if (t->rv == A17_EMAPFULL)
		atomic_store(&t->s->want_grow, 1);
}

/* Common checks; 0 when the call may go on. */
static int
txn_check(store_txn *t, int db)
{
	if (t->rv != 0)
		return (t->rv);
	if (t->txn == NULL || db < 0 || db >= t->s->ndb)
		return (t->rv = A17_EINVAL);
	return (0);
}

int
store_put_raw(store_txn *t, int db, const void *key, size_t klen, const void *v,
              size_t vlen, unsigned flags)
{
	MDB_val k = {klen, (void *)key}, d;
	uint8_t small[1024], *buf = small;
	uint32_t sum;
	int rc, rv;

	if ((rv = txn_check(t, db)) != 0)
		return (rv);
	if (vlen > SIZE_MAX - STORE_SUM_LEN || (vlen > 0 && v == NULL))
		return (t->rv = A17_EINVAL);
	/* A copy, not MDB_RESERVE: v may point into a page this put moves. */
	if (vlen + STORE_SUM_LEN > sizeof(small) &&
	    (buf = malloc(vlen + STORE_SUM_LEN)) == NULL)
		return (t->rv = A17_ENOMEM);
	if (vlen > 0)
		memcpy(buf, v, vlen);
	sum = rec_sum(key, klen, buf, vlen);
	buf[vlen] = (uint8_t)(sum >> 24);
	buf[vlen + 1] = (uint8_t)(sum >> 16);
	buf[vlen + 2] = (uint8_t)(sum >> 8);
	buf[vlen + 3] = (uint8_t)sum;
	d.mv_size = vlen + STORE_SUM_LEN;
	d.mv_data = buf;
	if ((rc = mdb_put(t->txn, t->s->dbi[db], &k, &d, flags)) != 0)
		t->rv = a17_err_mdb(rc);
	if (buf != small)
		free(buf);
	return (t->rv);
}

int
store_put(store_txn *t, int db, const store_key *k, const void *v, size_t vlen)
{
	if (t->rv == 0 && k->len > sizeof(k->buf))
		t->rv = A17_EINVAL;
	return (store_put_raw(t, db, k->buf, k->len, v, vlen, 0));
}

int
store_get_raw(store_txn *t, int db, const void *key, size_t klen, MDB_val *v)
{
	MDB_val k = {klen, (void *)key};
	int rc, rv;

	if ((rv = txn_check(t, db)) != 0)
		return (rv);
	rc = mdb_get(t->txn, t->s->dbi[db], &k, v);
	if (rc == MDB_NOTFOUND)
		return (A17_ENOTFOUND);
	if (rc != 0)
		return (t->rv = a17_err_mdb(rc));
	return (rec_check(t, db, &k, v));
}

int
store_get(store_txn *t, int db, const store_key *k, MDB_val *v)
{
	if (t->rv == 0 && k->len > sizeof(k->buf))
		t->rv = A17_EINVAL;
	return (store_get_raw(t, db, k->buf, k->len, v));
}

int
store_del(store_txn *t, int db, const store_key *k)
{
	MDB_val key = {k->len, (void *)k->buf};
	int rc, rv;

	if (t->rv == 0 && k->len > sizeof(k->buf))
		t->rv = A17_EINVAL;
	if ((rv = txn_check(t, db)) != 0)
		return (rv);
	rc = mdb_del(t->txn, t->s->dbi[db], &key, NULL);
	if (rc == MDB_NOTFOUND)
		return (A17_ENOTFOUND);
	if (rc != 0)
		t->rv = a17_err_mdb(rc);
	return (t->rv);
}

int
store_count(store_txn *t, int db, size_t *n)
{
	MDB_stat st;
	int rc, rv;

	if ((rv = txn_check(t, db)) != 0)
		return (rv);
	if ((rc = mdb_stat(t->txn, t->s->dbi[db], &st)) != 0)
		return (t->rv = a17_err_mdb(rc));
	*n = st.ms_entries;
	return (0);
}

/* ------------------------------------------------------------ iteration */

/*
 * it->started: 0 = the cursor sits on the first candidate, not yet
 * returned; 1 = iterating; -1 = finished.
 */
int
store_iter_from(store_txn *t, int db, const void *prefix, size_t plen,
                const void *from, size_t flen, store_iter *it)
{
	MDB_val k, v;
	size_t n;
	int cmp, rc, rv;

	memset(it, 0, sizeof(*it));
	it->t = t;
	if ((rv = txn_check(t, db)) != 0)
		return (rv);
	if (plen > sizeof(it->prefix.buf) || (plen > 0 && prefix == NULL) ||
	    (flen > 0 && from == NULL))
		return (t->rv = A17_EINVAL);
	it->db = db;
	store_key_init(&it->prefix);
	store_key_bytes(&it->prefix, prefix, plen);
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[db], &it->cur)) != 0) {
		it->cur = NULL;
		return (t->rv = a17_err_mdb(rc));
	}
	/* Start at the later of `from` and the prefix itself. */
	n = flen < plen ? flen : plen;
	cmp = n > 0 ? memcmp(from, prefix, n) : 0;
	if (flen == 0 || cmp < 0 || (cmp == 0 && flen < plen)) {
		from = prefix;
		flen = plen;
	}
	if (flen == 0) {
		rc = mdb_cursor_get(it->cur, &k, &v, MDB_FIRST);
	} else {
		k.mv_size = flen;
		k.mv_data = (void *)from;
		rc = mdb_cursor_get(it->cur, &k, &v, MDB_SET_RANGE);
	}
	if (rc == MDB_NOTFOUND) {
		it->started = -1;
		return (0);
	}
	if (rc != 0) {
		mdb_cursor_close(it->cur);
		it->cur = NULL;
		return (t->rv = a17_err_mdb(rc));
	}
	return (0);
}

int
store_iter_begin(store_txn *t, int db, const void *prefix, size_t plen,
                 store_iter *it)
{
	return (store_iter_from(t, db, prefix, plen, prefix, plen, it));
}

int
store_iter_next(store_iter *it, MDB_val *k, MDB_val *v)
{
	int rc;

	if (it->t->rv != 0)
		return (it->t->rv);
	if (it->cur == NULL || it->started < 0)
		return (0);
	rc = mdb_cursor_get(it->cur, k, v,
	                    it->started == 0 ? MDB_GET_CURRENT : MDB_NEXT);
	it->started = 1;
	if (rc == MDB_NOTFOUND) {
		it->started = -1;
		return (0);
	}
	if (rc != 0)
		return (it->t->rv = a17_err_mdb(rc));
	if (k->mv_size < it->prefix.len ||
	    memcmp(k->mv_data, it->prefix.buf, it->prefix.len) != 0) {
		it->started = -1;
		return (0);
	}
	/* On a failed checksum k still names the record. */
	return (rec_check(it->t, it->db, k, v) == 0 ? 1 : it->t->rv);
}

void
store_iter_end(store_iter *it)
{
	if (it == NULL)
		return;
	if (it->cur != NULL)
		mdb_cursor_close(it->cur);
	it->cur = NULL;
	it->started = -1;
}

/* --------------------------------------------------------- group commit */

const uint64_t store_lat_bounds_us[STORE_LAT_BUCKETS] = {
    100,   250,   500,   1000,   2500,   5000,
    10000, 25000, 50000, 100000, 250000, 1000000};

struct store_writer {
	store *s;
	pthread_t thr;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	store_op *head, *tail; /* FIFO queue */
	unsigned nq;
	unsigned max_batch;
	unsigned max_wait_us;
	int stopping;
	store_writer_stats st; /* under mtx */
};

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000);
}

static void
batch_set_rv(store_op *batch, int rv)
{
	store_op *op;

	for (op = batch; op != NULL; op = op->next)
		op->rv = rv;
}

/*
 * Runs one batch in one write transaction, each op in a child so that a
 * failing op is rolled back alone. On MDB_MAP_FULL anywhere, everything is
 * aborted, the map grown and the batch replayed from the start.
 * Sets every op->rv. Returns the commit time in microseconds.
 */
static uint64_t
writer_run_batch(store_writer *w, store_op *batch, int *grows)
{
	store_txn t, c;
	store_op *op;
	uint64_t t0, us = 0;
	int rv;

again:
	batch_set_rv(batch, 0);
	if ((rv = store_txn_begin(w->s, &t, 0)) != 0) {
		batch_set_rv(batch, rv);
		return (0);
	}
	for (op = batch; op != NULL; op = op->next) {
		if ((rv = store_txn_begin_child(&t, &c)) != 0)
			goto fail;
		rv = op->apply(&c, op->arg);
		if (rv == 0)
			rv = c.rv;
		if (rv == A17_EMAPFULL) {
			store_txn_abort(&c);
			goto fail;
		}
		if (rv != 0) {
			store_txn_abort(&c);
			op->rv = rv;
			continue;
		}
		if ((rv = store_txn_commit(&c)) == A17_EMAPFULL)
			goto fail;
		op->rv = rv;
	}
	a17_crashpoint("store-before-commit");
	t0 = now_us();
	rv = store_txn_commit(&t);
	us = now_us() - t0;
	if (rv == A17_EMAPFULL)
		goto grow;
	if (rv != 0) {
		log_warnx("store: batch commit: %s", a17_strerror(rv));
		batch_set_rv(batch, rv);
		return (us);
	}
	a17_crashpoint("store-after-commit");
	return (us);

fail:
	store_txn_abort(&t);
	if (rv != A17_EMAPFULL) {
		log_warnx("store: batch: %s", a17_strerror(rv));
		batch_set_rv(batch, rv);
		return (0);
	}
grow:
	if ((rv = store_grow(w->s)) != 0) {
		batch_set_rv(batch, rv);
		return (0);
	}
	(*grows)++;
	goto again;
}

static void *
writer_main(void *arg)
{
	store_writer *w = arg;
	store_op *batch, *last, *op, *next;
	struct timespec dl;
	uint64_t us, deadline;
	unsigned n;
	int grows;

	pthread_mutex_lock(&w->mtx);
	for (;;) {
		while (w->head == NULL && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mtx);
		if (w->head == NULL)
			break; /* stopping, and the queue is drained */
		if (w->max_wait_us > 0 && !w->stopping &&
		    w->nq < w->max_batch) {
			deadline = now_us() + w->max_wait_us;
			dl.tv_sec = (time_t)(deadline / 1000000u);
			dl.tv_nsec = (long)(deadline % 1000000u) * 1000;
			while (w->nq < w->max_batch && !w->stopping) {
				if (pthread_cond_timedwait(&w->cv, &w->mtx,
				                           &dl) == ETIMEDOUT)
					break;
			}
		}
		/* Take up to max_batch ops off the head of the queue. */
		batch = last = w->head;
		for (n = 1; n < w->max_batch && last->next != NULL; n++)
			last = last->next;
		w->head = last->next;
		if (w->head == NULL)
			w->tail = NULL;
		last->next = NULL;
		w->nq -= n;
		pthread_mutex_unlock(&w->mtx);

		grows = 0;
		us = writer_run_batch(w, batch, &grows);

		pthread_mutex_lock(&w->mtx);
		w->st.commits++;
		w->st.ops += n;
		if (n > w->st.max_batch)
			w->st.max_batch = n;
		w->st.grows += (uint64_t)grows;
		w->st.commit_us_total += us;
		for (int b = 0; b < STORE_BATCH_BUCKETS; b++)
			if (n <= (1u << b)) {
				w->st.batch_hist[b]++;
				break;
			}
		for (int b = 0; b < STORE_LAT_BUCKETS; b++)
			if (us <= store_lat_bounds_us[b]) {
				w->st.lat_hist[b]++;
				break;
			}
		pthread_mutex_unlock(&w->mtx);

		/* done may free op: read next first. */
		for (op = batch; op != NULL; op = next) {
			next = op->next;
			if (op->done != NULL)
				op->done(op->arg, op->rv);
		}
		pthread_mutex_lock(&w->mtx);
	}
	pthread_mutex_unlock(&w->mtx);
	return (NULL);
}

int
store_writer_start(store *s, unsigned max_batch, unsigned max_wait_us,
                   store_writer **wp)
{
	store_writer *w;
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	if (s == NULL || wp == NULL)
		return (A17_EINVAL);
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return (A17_ENOMEM);
	w->s = s;
	w->max_batch = max_batch > 0 ? max_batch : 1;
	w->max_wait_us = max_wait_us;
	if ((rc = pthread_mutex_init(&w->mtx, NULL)) != 0) {
		free(w);
		return (a17_err_errno(rc));
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (rc != 0) {
		pthread_mutex_destroy(&w->mtx);
		free(w);
		return (a17_err_errno(rc));
	}
	/* Signals belong to the daemon's main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&w->thr, NULL, writer_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mtx);
		free(w);
		return (a17_err_errno(rc));
	}
	*wp = w;
	return (0);
}

int
store_writer_submit(store_writer *w, store_op *op)
{
	if (w == NULL || op == NULL || op->apply == NULL)
		return (A17_EINVAL);
	op->next = NULL;
	op->rv = 0;
	pthread_mutex_lock(&w->mtx);
	if (w->stopping) {
		pthread_mutex_unlock(&w->mtx);
		return (A17_ECLOSED);
	}
	if (w->tail != NULL)
		w->tail->next = op;
	else
		w->head = op;
	w->tail = op;
	w->nq++;
	/* Wake the writer when it waits for a first op or for a full batch. */
	if (w->nq == 1 || w->nq >= w->max_batch)
		pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mtx);
	return (0);
}

struct run_wait {
	store_apply_fn apply;
	void *arg;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	int done;
	int rv;
};

static int
run_apply(store_txn *t, void *arg)
{
	struct run_wait *r = arg;

	return (r->apply(t, r->arg));
}

static void
run_done(void *arg, int rv)
{
	struct run_wait *r = arg;

	pthread_mutex_lock(&r->mtx);
	r->rv = rv;
	r->done = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mtx);
}

int
store_writer_run(store_writer *w, store_apply_fn apply, void *arg)
{
	struct run_wait r = {.apply = apply, .arg = arg};
	store_op op = {.apply = run_apply, .done = run_done, .arg = &r};
	int rv;

	if (w == NULL || apply == NULL)
		return (A17_EINVAL);
	pthread_mutex_init(&r.mtx, NULL);
	pthread_cond_init(&r.cv, NULL);
	if ((rv = store_writer_submit(w, &op)) == 0) {
		pthread_mutex_lock(&r.mtx);
		while (!r.done)
			pthread_cond_wait(&r.cv, &r.mtx);
		rv = r.rv;
		pthread_mutex_unlock(&r.mtx);
	}
	pthread_cond_destroy(&r.cv);
	pthread_mutex_destroy(&r.mtx);
	return (rv);
}

void
store_writer_stop(store_writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mtx);
	w->stopping = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mtx);
	pthread_join(w->thr, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mtx);
	free(w);
}

void
store_writer_get_stats(store_writer *w, store_writer_stats *st)
{
	pthread_mutex_lock(&w->mtx);
	*st = w->st;
	pthread_mutex_unlock(&w->mtx);
}

static int
last_entry(store_txn *t, int db, const void *prefix, size_t plen, MDB_val *k,
           MDB_val *v, int check)
{
	uint8_t succ[sizeof(((store_key *)0)->buf)];
	MDB_cursor *cur;
	size_t n = plen;
	int rc, rv;

	if ((rv = txn_check(t, db)) != 0)
		return (rv);
	if (plen > sizeof(succ) || (plen > 0 && prefix == NULL))
		return (t->rv = A17_EINVAL);
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[db], &cur)) != 0)
		return (t->rv = a17_err_mdb(rc));
	/* The smallest key above every key with this prefix: the prefix
	 * with its last non-0xff byte incremented and the rest cut off. */
	if (plen > 0)
		memcpy(succ, prefix, plen);
	while (n > 0 && succ[n - 1] == 0xff)
		n--;
	if (n > 0) {
		succ[n - 1]++;
		k->mv_size = n;
		k->mv_data = succ;
		rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
		if (rc == 0)
			rc = mdb_cursor_get(cur, k, v, MDB_PREV);
		else if (rc == MDB_NOTFOUND)
			rc = mdb_cursor_get(cur, k, v, MDB_LAST);
	} else {
		rc = mdb_cursor_get(cur, k, v, MDB_LAST);
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		return (A17_ENOTFOUND);
	if (rc != 0)
		return (t->rv = a17_err_mdb(rc));
	if (plen > 0 &&
	    (k->mv_size < plen || memcmp(k->mv_data, prefix, plen) != 0))
		return (A17_ENOTFOUND);
	return (check ? rec_check(t, db, k, v) : 0);
}

int
store_last(store_txn *t, int db, const void *prefix, size_t plen, MDB_val *k,
           MDB_val *v)
{
	return (last_entry(t, db, prefix, plen, k, v, 1));
}

int
store_last_key(store_txn *t, int db, const void *prefix, size_t plen,
               MDB_val *k)
{
	MDB_val v;

	return (last_entry(t, db, prefix, plen, k, &v, 0));
}
