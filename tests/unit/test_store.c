/* test_store.c: the LMDB wrapper and the group-commit writer, on disk. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "store.h"

enum { DB_A, DB_B, NDB };
static const char *const dbnames[NDB] = {"a", "b"};

static char tmpdir[] = "/tmp/a17-store-XXXXXX";
static int envno;

static int
group_setup(void **state)
{
	(void)state;
	return (mkdtemp(tmpdir) == NULL ? -1 : 0);
}

static int
rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return (remove(p));
}

static int
group_teardown(void **state)
{
	(void)state;
	nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return (0);
}

/* Opens a fresh environment in its own subdirectory. */
static store *
open_env(size_t map_size, size_t map_max, char *path)
{
	store_opts o = {.map_size = map_size, .map_max = map_max, .nosync = 1};
	char buf[PATH_MAX];
	store *s = NULL;

	if (path == NULL)
		path = buf;
	snprintf(path, PATH_MAX, "%s/env%d", tmpdir, envno++);
	assert_int_equal(store_open(path, dbnames, NDB, &o, &s), 0);
	assert_non_null(s);
	return (s);
}

static void
test_open_args(void **state)
{
	store *s = NULL;
	char p[PATH_MAX];
	struct stat st;

	(void)state;
	assert_int_equal(store_open(NULL, dbnames, NDB, NULL, &s), A17_EINVAL);
	assert_int_equal(store_open(tmpdir, dbnames, -1, NULL, &s), A17_EINVAL);
	assert_int_equal(store_open("/nonexistent/x/y", dbnames, NDB, NULL, &s),
	                 A17_ENOTFOUND);
	assert_null(s);
	store_close(NULL);

	/* Defaults; the directory is made with mode 0700. */
	snprintf(p, sizeof(p), "%s/defaults", tmpdir);
	assert_int_equal(store_open(p, dbnames, NDB, NULL, &s), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(store_map_size(s), (size_t)64 << 20);
	assert_non_null(store_env(s));
	store_close(s);
}

static void
put_str(store_txn *t, int db, const char *key, const char *val)
{
	store_key k;

	store_key_init(&k);
	store_key_str(&k, key);
	assert_int_equal(store_put(t, db, &k, val, strlen(val) + 1), 0);
}

static int
get_str(store_txn *t, int db, const char *key, MDB_val *v)
{
	store_key k;

	store_key_init(&k);
	store_key_str(&k, key);
	return (store_get(t, db, &k, v));
}

static void
test_put_get_del(void **state)
{
	store *s = open_env(0, 0, NULL);
	store_txn t;
	store_key k;
	MDB_val v;
	size_t n;

	(void)state;
	assert_int_equal(store_txn_begin(s, &t, 0), 0);
	put_str(&t, DB_A, "one", "1");
	put_str(&t, DB_A, "two", "2");
	put_str(&t, DB_B, "one", "b1");
	assert_int_equal(store_txn_commit(&t), 0);

	assert_int_equal(store_txn_begin(s, &t, 1), 0);
	assert_int_equal(get_str(&t, DB_A, "one", &v), 0);
	assert_string_equal(v.mv_data, "1");
	assert_int_equal(get_str(&t, DB_B, "one", &v), 0);
	assert_string_equal(v.mv_data, "b1");
	/* Not found leaves no sticky error. */
	assert_int_equal(get_str(&t, DB_A, "three", &v), A17_ENOTFOUND);
	assert_int_equal(get_str(&t, DB_B, "two", &v), A17_ENOTFOUND);
	assert_int_equal(t.rv, 0);
	assert_int_equal(store_count(&t, DB_A, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_txn_commit(&t), 0);

	assert_int_equal(store_txn_begin(s, &t, 0), 0);
	store_key_init(&k);
	store_key_str(&k, "one");
	assert_int_equal(store_del(&t, DB_A, &k), 0);
	assert_int_equal(store_del(&t, DB_A, &k), A17_ENOTFOUND);
	assert_int_equal(t.rv, 0);
	/* Overwriting is allowed by default. */
	put_str(&t, DB_A, "two", "22");
	assert_int_equal(store_txn_commit(&t), 0);

	assert_int_equal(store_txn_begin(s, &t, 1), 0);
	assert_int_equal(get_str(&t, DB_A, "one", &v), A17_ENOTFOUND);
	assert_int_equal(get_str(&t, DB_A, "two", &v), 0);
	assert_string_equal(v.mv_data, "22");
	store_txn_abort(&t);
	store_txn_abort(&t); /* twice is harmless */

	assert_int_equal(store_txn_begin(s, &t, 0), 0);
	assert_int_equal(
	    store_put_raw(&t, DB_A, "two", 4, "x", 1, MDB_NOOVERWRITE),
	    A17_EEXIST);
	assert_int_equal(t.rv, A17_EEXIST);
	assert_int_equal(store_txn_commit(&t), A17_EEXIST);

	/* A write in a read-only txn fails. */
	assert_int_equal(store_txn_begin(s, &t, 1), 0);
	assert_int_not_equal(store_put_raw(&t, DB_A, "k", 1, "v", 1, 0), 0);
	assert_int_not_equal(store_txn_commit(&t), 0);
	store_close(s);
}

static void
test_sticky_error(void **state)
{
	store *s = open_env(0, 0, NULL);
	store_txn t;
	store_key k, big;
	MDB_val v;
	size_t n;
	int rv;

	(void)state;
	assert_int_equal(store_txn_begin(s, &t, 0), 0);
	put_str(&t, DB_A, "before", "x");
	/* An empty key is refused by LMDB (MDB_BAD_VALSIZE). */
	store_key_init(&k);
	rv = store_put(&t, DB_A, &k, "v", 1);
	assert_int_equal(rv, A17_ETOOBIG);
	assert_int_equal(t.rv, rv);
	/* Every later call is a no-op returning the first error. */
	store_key_str(&k, "after");
	assert_int_equal(store_put(&t, DB_A, &k, "v", 1), rv);
	assert_int_equal(store_get(&t, DB_A, &k, &v), rv);
	assert_int_equal(store_del(&t, DB_A, &k), rv);
	assert_int_equal(store_count(&t, DB_A, &n), rv);
	assert_int_equal(store_put(&t, 99, &k, "v", 1), rv);
	assert_int_equal(store_txn_commit(&t), rv);

	/* Nothing of that txn was written. */
	assert_int_equal(store_txn_begin(s, &t, 1), 0);
	assert_int_equal(get_str(&t, DB_A, "before", &v), A17_ENOTFOUND);
	assert_int_equal(get_str(&t, DB_A, "after", &v), A17_ENOTFOUND);
	store_txn_abort(&t);

	/* A bad db handle and an overflowing key are EINVAL. */
	assert_int_equal(store_txn_begin(s, &t, 0), 0);
	assert_int_equal(store_put(&t, NDB, &k, "v", 1), A17_EINVAL);
	assert_int_equal(store_txn_commit(&t), A17_EINVAL);
	store_key_init(&big);
	for (n = 0; n < 40; n++)
		store_key_u64(&big, n);
	assert_true(big.len > sizeof(big.buf));
	assert_int_equal(store_txn_begin(s, &t, 0), 0);
	assert_int_equal(store_put(&t, DB_A, &big, "v", 1), A17_EINVAL);
	store_txn_abort(&t);
	store_close(s);
}

static void
test_key_helpers(void **state)
{
	store_key k;

	(void)state;
	store_key_init(&k);
	store_key_u8(&k, 0xab);
	store_key_u32(&k, 0x01020304);
	store_key_u64(&k, 0x1122334455667788ull);
	store_key_str(&k, "hi");
	assert_int_equal(k.len, 1 + 4 + 8 + 3);
	assert_int_equal(k.buf[0], 0xab);
	assert_memory_equal(k.buf + 1, "\x01\x02\x03\x04", 4);
	assert_int_equal(store_get_u32(k.buf + 1), 0x01020304);
	assert_int_equal(store_get_u64(k.buf + 5), 0x1122334455667788ull);
	assert_memory_equal(k.buf + 13, "hi\0", 3);
}

static void
test_u64_order(void **state)
{
	static const uint64_t vals[] = {
	    256, 1, 0xffffffffffffffffull, 2, 65536, 0, 0x100000000ull, 255, 3};
	static const uint64_t sorted[] = {
	    0, 1, 2, 3, 255, 256, 65536, 0x100000000ull, 0xffffffffffffffffull};
	store *s = open_env(0, 0, NULL);
	store_txn t;
	store_key k;
	store_iter it;
	MDB_val kv, vv;
	size_t i;
	int rv;

	(void)state;
	assert_int_equal(store_txn_begin(s, &t, 0), 0);
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		store_key_init(&k);
		store_key_u8(&k, 'q');
		store_key_u64(&k, vals[i]);
		assert_int_equal(store_put(&t, DB_A, &k, &i, sizeof(i)), 0);
	}
	assert_int_equal(store_txn_commit(&t), 0);

	assert_int_equal(store_txn_begin(s, &t, 1), 0);
	assert_int_equal(store_iter_begin(&t, DB_A, "q", 1, &it), 0);
	i = 0;
	while ((rv = store_iter_next(&it, &kv, &vv)) == 1) {
		assert_true(i < sizeof(sorted) / sizeof(sorted[0]));
		assert_int_equal(kv.mv_size, 9);
		assert_int_equal(store_get_u64((const uint8_t *)kv.mv_data + 1),
		                 sorted[i]);
		i++;
	}
	assert_int_equal(rv, 0);
	assert_int_equal(i, sizeof(sorted) / sizeof(sorted[0]));
	/* After the end, next keeps returning 0. */
	assert_int_equal(store_iter_next(&it, &kv, &vv), 0);
	store_iter_end(&it);
	store_txn_abort(&t);
	store_close(s);
}

/* Collects the string parts after a one-string prefix. */
static int
iter_collect(store_txn *t, const void *prefix, size_t plen, const void *from,
             size_t flen, char *out, size_t outlen)
{
	store_iter it;
	MDB_val k, v;
	int rv, n = 0;

	out[0] = '\0';
	if (from != NULL)
		rv = store_iter_from(t, DB_A, prefix, plen, from, flen, &it);
	else
		rv = store_iter_begin(t, DB_A, prefix, plen, &it);
	assert_int_equal(rv, 0);
	while ((rv = store_iter_next(&it, &k, &v)) == 1) {
		strncat(out, v.mv_data, outlen - strlen(out) - 1);
		n++;
	}
	assert_int_equal(rv, 0);
	store_iter_end(&it);
	return (n);
}

static void
put_pair(store_txn *t, const char *a, uint32_t n, const char *val)
{
	store_key k;

	store_key_init(&k);
	store_key_str(&k, a);
	store_key_u32(&k, n);
	assert_int_equal(store_put(t, DB_A, &k, val, strlen(val) + 1), 0);
}

static void
test_prefix_iter(void **state)
{
	store *s = open_env(0, 0, NULL);
	store_txn t;
	store_key p, f;
	char out[128];

	(void)state;
	assert_int_equal(store_txn_begin(s, &t, 0), 0);
	put_pair(&t, "a", 2, "A2");
	put_pair(&t, "a", 1, "A1");
	put_pair(&t, "ab", 1, "B1"); /* "ab\0" must not match prefix "a\0" */
	put_pair(&t, "a", 300, "A300");
	put_pair(&t, "b", 1, "C1");
	put_pair(&t, "", 7, "E7");
	assert_int_equal(store_txn_commit(&t), 0);

	assert_int_equal(store_txn_begin(s, &t, 1), 0);
	store_key_init(&p);
	store_key_str(&p, "a");
	assert_int_equal(
	    iter_collect(&t, p.buf, p.len, NULL, 0, out, sizeof(out)), 3);
	assert_string_equal(out, "A1A2A300");

	store_key_init(&p);
	store_key_str(&p, "ab");
	assert_int_equal(
	    iter_collect(&t, p.buf, p.len, NULL, 0, out, sizeof(out)), 1);
	assert_string_equal(out, "B1");

	/* All keys, in order. */
	assert_int_equal(iter_collect(&t, NULL, 0, NULL, 0, out, sizeof(out)),
	                 6);
	assert_string_equal(out, "E7A1A2A300B1C1");

	/* No match, and a prefix after every key. */
	store_key_init(&p);
	store_key_str(&p, "c");
	assert_int_equal(
	    iter_collect(&t, p.buf, p.len, NULL, 0, out, sizeof(out)), 0);
	assert_int_equal(iter_collect(&t, "zz", 2, NULL, 0, out, sizeof(out)),
	                 0);

	/* From a position inside the prefix. */
	store_key_init(&p);
	store_key_str(&p, "a");
	f = p;
	store_key_u32(&f, 2);
	assert_int_equal(
	    iter_collect(&t, p.buf, p.len, f.buf, f.len, out, sizeof(out)), 2);
	assert_string_equal(out, "A2A300");
	/* From before the prefix starts at the prefix. */
	assert_int_equal(
	    iter_collect(&t, p.buf, p.len, "", 1, out, sizeof(out)), 3);
	/* From after the prefix range finds nothing. */
	assert_int_equal(
	    iter_collect(&t, p.buf, p.len, "b", 1, out, sizeof(out)), 0);
	store_txn_abort(&t);
	store_close(s);
}

static void
test_child_txn(void **state)
{
	store *s = open_env(0, 0, NULL);
	store_txn t, c;
	MDB_val v;

	(void)state;
	assert_int_equal(store_txn_begin(s, &t, 0), 0);
	assert_int_equal(store_txn_begin_child(&t, &c), 0);
	put_str(&c, DB_A, "dropped", "x");
	store_txn_abort(&c);
	assert_int_equal(store_txn_begin_child(&t, &c), 0);
	put_str(&c, DB_A, "kept", "y");
	assert_int_equal(store_txn_commit(&c), 0);
	/* A child's sticky error does not reach the parent. */
	assert_int_equal(store_txn_begin_child(&t, &c), 0);
	assert_int_equal(store_put_raw(&c, DB_A, "", 0, "v", 1, 0),
	                 A17_ETOOBIG);
	assert_int_equal(store_txn_commit(&c), A17_ETOOBIG);
	assert_int_equal(t.rv, 0);
	assert_int_equal(store_txn_commit(&t), 0);

	assert_int_equal(store_txn_begin(s, &t, 1), 0);
	assert_int_equal(get_str(&t, DB_A, "dropped", &v), A17_ENOTFOUND);
	assert_int_equal(get_str(&t, DB_A, "kept", &v), 0);
	/* No child of a read-only txn. */
	assert_int_equal(store_txn_begin_child(&t, &c), A17_EINVAL);
	store_txn_abort(&t);
	store_close(s);
}

/* ---------------------------------------------------------- the writer */

struct kop {
	store_op op;
	uint32_t id;
	size_t vlen;
	int fail;     /* apply returns this after its put */
	int emptykey; /* put with an empty key */
	atomic_int *ndone;
	int rv;
	int done;
	int applied;
};

static void
fill_val(uint8_t *buf, size_t len, uint32_t id)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(id * 31 + i * 7);
}

static int
kop_apply(store_txn *t, void *arg)
{
	struct kop *o = arg;
	store_key k;
	uint8_t small[64], *val = small;
	int rv;

	o->applied++;
	store_key_init(&k);
	if (!o->emptykey)
		store_key_u32(&k, o->id);
	if (o->vlen > sizeof(small) && (val = malloc(o->vlen)) == NULL)
		return (A17_ENOMEM);
	fill_val(val, o->vlen, o->id);
	rv = store_put(t, DB_A, &k, val, o->vlen);
	if (val != small)
		free(val);
	if (rv != 0)
		return (rv);
	return (o->fail);
}

static void
kop_done(void *arg, int rv)
{
	struct kop *o = arg;

	o->rv = rv;
	o->done++;
	if (o->ndone != NULL)
		atomic_fetch_add(o->ndone, 1);
}

static void
kop_init(struct kop *o, uint32_t id, size_t vlen, atomic_int *ndone)
{
	memset(o, 0, sizeof(*o));
	o->op.apply = kop_apply;
	o->op.done = kop_done;
	o->op.arg = o;
	o->id = id;
	o->vlen = vlen;
	o->ndone = ndone;
}

static void
wait_done(atomic_int *ndone, int want)
{
	int i;

	for (i = 0; i < 60000 && atomic_load(ndone) < want; i++)
		usleep(1000);
	assert_int_equal(atomic_load(ndone), want);
}

/* Checks that record id is present (want=1) with its value, or absent. */
static void
check_rec(store *s, uint32_t id, size_t vlen, int want)
{
	store_txn t;
	store_key k;
	MDB_val v;
	uint8_t *exp;
	int rv;

	assert_int_equal(store_txn_begin(s, &t, 1), 0);
	store_key_init(&k);
	store_key_u32(&k, id);
	rv = store_get(&t, DB_A, &k, &v);
	if (!want) {
		assert_int_equal(rv, A17_ENOTFOUND);
	} else {
		assert_int_equal(rv, 0);
		assert_int_equal(v.mv_size, vlen);
		assert_non_null(exp = malloc(vlen > 0 ? vlen : 1));
		fill_val(exp, vlen, id);
		assert_memory_equal(v.mv_data, exp, vlen);
		free(exp);
	}
	store_txn_abort(&t);
}

#define NTHR   4
#define PERTHR 250

struct submitter {
	store_writer *w;
	struct kop *ops;
	int base;
};

static void *
submit_main(void *arg)
{
	struct submitter *sb = arg;
	int i;

	for (i = 0; i < PERTHR; i++) {
		if (store_writer_submit(sb->w, &sb->ops[i].op) != 0)
			abort();
		if (i % 50 == 0)
			usleep(100);
	}
	return (NULL);
}

static void
test_writer_group_commit(void **state)
{
	store *s = open_env(0, 0, NULL);
	store_writer *w = NULL;
	store_writer_stats st;
	struct submitter sb[NTHR];
	pthread_t thr[NTHR];
	struct kop *ops;
	atomic_int ndone = 0;
	int i;

	(void)state;
	assert_non_null(ops = calloc(NTHR * PERTHR, sizeof(*ops)));
	for (i = 0; i < NTHR * PERTHR; i++)
		kop_init(&ops[i], (uint32_t)i, 16, &ndone);
	assert_int_equal(store_writer_start(s, 64, 2000, &w), 0);
	for (i = 0; i < NTHR; i++) {
		sb[i].w = w;
		sb[i].ops = ops + i * PERTHR;
		sb[i].base = i * PERTHR;
		assert_int_equal(
		    pthread_create(&thr[i], NULL, submit_main, &sb[i]), 0);
	}
	for (i = 0; i < NTHR; i++)
		pthread_join(thr[i], NULL);
	wait_done(&ndone, NTHR * PERTHR);
	store_writer_get_stats(w, &st);
	assert_int_equal(st.ops, NTHR * PERTHR);
	assert_true(st.commits > 0);
	assert_true(st.commits < st.ops);
	assert_true(st.max_batch > 1 && st.max_batch <= 64);
	assert_int_equal(st.grows, 0);
	store_writer_stop(w);

	for (i = 0; i < NTHR * PERTHR; i++) {
		assert_int_equal(ops[i].done, 1);
		assert_int_equal(ops[i].rv, 0);
		check_rec(s, (uint32_t)i, 16, 1);
	}
	free(ops);
	store_close(s);
}

static void
test_writer_failed_op(void **state)
{
	store *s = open_env(0, 0, NULL);
	store_writer *w = NULL;
	store_writer_stats st;
	struct kop o[4];
	atomic_int ndone = 0;
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		kop_init(&o[i], (uint32_t)(100 + i), 8, &ndone);
	o[1].fail = A17_EDENIED; /* puts, then fails: its put is undone */
	o[2].emptykey = 1;       /* LMDB refuses; apply returns the error */
	/* One batch: the writer waits (up to 5 s) for 4 ops. */
	assert_int_equal(store_writer_start(s, 4, 5000000, &w), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(store_writer_submit(w, &o[i].op), 0);
	wait_done(&ndone, 4);
	store_writer_get_stats(w, &st);
	assert_int_equal(st.commits, 1);
	assert_int_equal(st.max_batch, 4);
	store_writer_stop(w);

	assert_int_equal(o[0].rv, 0);
	assert_int_equal(o[1].rv, A17_EDENIED);
	assert_int_equal(o[2].rv, A17_ETOOBIG);
	assert_int_equal(o[3].rv, 0);
	check_rec(s, 100, 8, 1);
	check_rec(s, 101, 8, 0);
	check_rec(s, 103, 8, 1);
	store_close(s);
}

static int
run_apply(store_txn *t, void *arg)
{
	return (kop_apply(t, arg));
}

static void
test_writer_run_and_stop(void **state)
{
	store *s = open_env(0, 0, NULL);
	store_writer *w = NULL;
	struct kop o, q[100];
	int i;

	(void)state;
	/* max_wait_us 0: no waiting beyond what is queued. */
	assert_int_equal(store_writer_start(s, 16, 0, &w), 0);
	kop_init(&o, 1, 10, NULL);
	assert_int_equal(store_writer_run(w, run_apply, &o), 0);
	check_rec(s, 1, 10, 1);
	o.fail = A17_EPROTO;
	o.id = 2;
	assert_int_equal(store_writer_run(w, run_apply, &o), A17_EPROTO);
	check_rec(s, 2, 10, 0);
	assert_int_equal(store_writer_run(w, NULL, &o), A17_EINVAL);
	assert_int_equal(store_writer_submit(w, NULL), A17_EINVAL);

	/* Ops queued before stop are still processed. */
	for (i = 0; i < 100; i++) {
		kop_init(&q[i], (uint32_t)(1000 + i), 10, NULL);
		assert_int_equal(store_writer_submit(w, &q[i].op), 0);
	}
	store_writer_stop(w);
	store_writer_stop(NULL);
	for (i = 0; i < 100; i++) {
		assert_int_equal(q[i].done, 1);
		assert_int_equal(q[i].rv, 0);
		check_rec(s, (uint32_t)(1000 + i), 10, 1);
	}
	store_close(s);
}

struct reader {
	store *s;
	atomic_int stop;
	int reads;
};

/* Reads while the writer grows the map: growth must wait for it. */
static void *
reader_main(void *arg)
{
	struct reader *r = arg;
	store_txn t;
	size_t n;

	while (!atomic_load(&r->stop)) {
		if (store_txn_begin(r->s, &t, 1) != 0)
			abort();
		if (store_count(&t, DB_A, &n) != 0)
			abort();
		store_txn_abort(&t);
		r->reads++;
	}
	return (NULL);
}

#define GROW_N    640
#define GROW_VLEN (32 * 1024) /* 640 * 32 KiB = 20 MiB */

static void
test_writer_map_growth(void **state)
{
	store *s = open_env(1 << 20, 0, NULL);
	store_writer *w = NULL;
	store_writer_stats st;
	struct kop *ops, big;
	struct reader r = {0};
	pthread_t rt;
	atomic_int ndone = 0;
	size_t before;
	int i;

	(void)state;
	before = store_map_size(s);
	assert_int_equal(before, 1 << 20);
	r.s = s;
	assert_int_equal(pthread_create(&rt, NULL, reader_main, &r), 0);

	assert_non_null(ops = calloc(GROW_N, sizeof(*ops)));
	assert_int_equal(store_writer_start(s, 32, 1000, &w), 0);
	for (i = 0; i < GROW_N; i++) {
		kop_init(&ops[i], (uint32_t)i, GROW_VLEN, &ndone);
		assert_int_equal(store_writer_submit(w, &ops[i].op), 0);
	}
	wait_done(&ndone, GROW_N);
	/* One op bigger than the whole map so far. */
	kop_init(&big, 99999, (size_t)24 << 20, NULL);
	assert_int_equal(store_writer_run(w, run_apply, &big), 0);
	assert_true(big.applied > 1);

	store_writer_get_stats(w, &st);
	store_writer_stop(w);
	atomic_store(&r.stop, 1);
	pthread_join(rt, NULL);

	assert_true(st.grows > 0);
	assert_true(store_map_size(s) > before);
	assert_true(store_map_size(s) >= ((size_t)44 << 20));
	assert_true(r.reads > 0);
	for (i = 0; i < GROW_N; i++) {
		assert_int_equal(ops[i].rv, 0);
		assert_int_equal(ops[i].done, 1);
		check_rec(s, (uint32_t)i, GROW_VLEN, 1);
	}
	check_rec(s, 99999, (size_t)24 << 20, 1);
	free(ops);
	store_close(s);
}

static void
test_writer_map_max(void **state)
{
	char path[PATH_MAX];
	store *s = open_env(1 << 20, 2 << 20, path);
	store_writer *w = NULL;
	store_opts o = {.map_size = 1 << 20, .nosync = 1};
	struct kop small, big;

	(void)state;
	assert_int_equal(store_writer_start(s, 8, 0, &w), 0);
	kop_init(&small, 1, 100, NULL);
	assert_int_equal(store_writer_run(w, run_apply, &small), 0);
	/* Over map_max: the op fails with EMAPFULL, the store still works. */
	kop_init(&big, 2, (size_t)4 << 20, NULL);
	assert_int_equal(store_writer_run(w, run_apply, &big), A17_EMAPFULL);
	assert_int_equal(store_map_size(s), (size_t)2 << 20);
	small.id = 3;
	assert_int_equal(store_writer_run(w, run_apply, &small), 0);
	store_writer_stop(w);
	check_rec(s, 1, 100, 1);
	check_rec(s, 2, 0, 0);
	check_rec(s, 3, 100, 1);
	store_close(s);

	/* Reopening with a smaller map keeps the data readable. */
	s = NULL;
	o.map_size = 4096;
	assert_int_equal(store_open(path, dbnames, NDB, &o, &s), 0);
	assert_true(store_map_size(s) >= 4096);
	check_rec(s, 1, 100, 1);
	store_close(s);
}

/* Flips bit `bit` of every copy of marker in path/data.mdb; returns how
 * many copies it changed. */
static int
flip_in_file(const char *path, const char *marker, int bit)
{
	char fn[PATH_MAX];
	size_t n, ml = strlen(marker), i;
	uint8_t *buf;
	FILE *f;
	int hits = 0;

	snprintf(fn, sizeof(fn), "%s/data.mdb", path);
	assert_non_null(f = fopen(fn, "r+b"));
	fseek(f, 0, SEEK_END);
	n = (size_t)ftell(f);
	assert_non_null(buf = malloc(n));
	fseek(f, 0, SEEK_SET);
	assert_int_equal(fread(buf, 1, n, f), n);
	for (i = 0; i + ml <= n; i++) {
		if (memcmp(buf + i, marker, ml) != 0)
			continue;
		buf[i + ml / 2] ^= (uint8_t)(1u << bit);
		fseek(f, (long)(i + ml / 2), SEEK_SET);
		fputc(buf[i + ml / 2], f);
		hits++;
	}
	fclose(f);
	free(buf);
	return (hits);
}

/*
 * A bit flipped in the LMDB file, in a value or in a key: the record is
 * refused with A17_ECORRUPT by get, by iteration (which still names the
 * key) and by store_last; the sticky error stops the transaction; the
 * records around it are still served.
 */
static void
test_checksum_bitflip(void **state)
{
	char path[PATH_MAX];
	store_txn t;
	store_key k;
	store_iter it;
	MDB_val kv, v;
	store *s;
	int bit, rv, n;

	(void)state;
	for (bit = 0; bit < 8; bit++) {
		s = open_env(0, 0, path);
		assert_int_equal(store_txn_begin(s, &t, 0), 0);
		store_key_init(&k);
		store_key_str(&k, "before");
		store_put(&t, DB_A, &k, "fine-1", 6);
		store_key_init(&k);
		store_key_str(&k, "victim");
		store_put(&t, DB_A, &k, "value-CANARY-value", 18);
		store_key_init(&k);
		store_key_str(&k, "zz-after");
		store_put(&t, DB_A, &k, "fine-2", 6);
		store_key_init(&k);
		store_key_str(&k, "keyCANARYkey");
		store_put(&t, DB_B, &k, "v", 1);
		assert_int_equal(store_txn_commit(&t), 0);
		store_close(s);

		assert_true(flip_in_file(path, "value-CANARY-value", bit) >= 1);
		assert_true(flip_in_file(path, "keyCANARYkey", bit) >= 1);
		{
			store_opts o = {.nosync = 1};
			assert_int_equal(store_open(path, dbnames, NDB, &o, &s),
			                 0);
		}

		/* get: refused, sticky */
		assert_int_equal(store_txn_begin(s, &t, 1), 0);
		store_key_init(&k);
		store_key_str(&k, "victim");
		memset(&v, 0, sizeof(v));
		assert_int_equal(store_get(&t, DB_A, &k, &v), A17_ECORRUPT);
		store_key_init(&k);
		store_key_str(&k, "before");
		assert_int_equal(store_get(&t, DB_A, &k, &v), A17_ECORRUPT);
		store_txn_abort(&t);

		/* the neighbours are served, without the trailer */
		assert_int_equal(store_txn_begin(s, &t, 1), 0);
		assert_int_equal(store_get(&t, DB_A, &k, &v), 0);
		assert_int_equal(v.mv_size, 6);
		assert_memory_equal(v.mv_data, "fine-1", 6);
		store_txn_abort(&t);

		/* iteration stops at the victim and names it */
		assert_int_equal(store_txn_begin(s, &t, 1), 0);
		assert_int_equal(store_iter_begin(&t, DB_A, NULL, 0, &it), 0);
		n = 0;
		while ((rv = store_iter_next(&it, &kv, &v)) == 1)
			n++;
		assert_int_equal(rv, A17_ECORRUPT);
		assert_int_equal(n, 1);
		assert_int_equal(kv.mv_size, 7);
		assert_memory_equal(kv.mv_data, "victim", 7);
		store_iter_end(&it);
		store_txn_abort(&t);

		/* a flipped key: its record no longer matches its checksum */
		assert_int_equal(store_txn_begin(s, &t, 1), 0);
		assert_int_equal(store_last(&t, DB_B, NULL, 0, &kv, &v),
		                 A17_ECORRUPT);
		store_txn_abort(&t);
		store_close(s);
	}
}

/* store_rec_verify on raw values: short, wrong, right. */
static void
test_checksum_raw(void **state)
{
	char path[PATH_MAX];
	store_txn t;
	store_key k;
	MDB_val v;
	uint8_t raw[64];
	store *s;

	(void)state;
	s = open_env(0, 0, path);
	assert_int_equal(store_txn_begin(s, &t, 0), 0);
	store_key_init(&k);
	store_key_u64(&k, 42);
	store_put(&t, DB_A, &k, "", 0); /* empty values carry a trailer too */
	assert_int_equal(store_txn_commit(&t), 0);
	assert_int_equal(store_txn_begin(s, &t, 1), 0);
	assert_int_equal(store_get(&t, DB_A, &k, &v), 0);
	assert_int_equal(v.mv_size, 0);
	store_txn_abort(&t);
	store_close(s);

	memset(raw, 0, sizeof(raw));
	v.mv_data = raw;
	v.mv_size = 3;
	assert_int_equal(store_rec_verify(k.buf, k.len, &v), A17_ECORRUPT);
	v.mv_size = 4;
	assert_int_equal(store_rec_verify(k.buf, k.len, &v), A17_ECORRUPT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_args),
	    cmocka_unit_test(test_put_get_del),
	    cmocka_unit_test(test_sticky_error),
	    cmocka_unit_test(test_key_helpers),
	    cmocka_unit_test(test_u64_order),
	    cmocka_unit_test(test_prefix_iter),
	    cmocka_unit_test(test_child_txn),
	    cmocka_unit_test(test_writer_group_commit),
	    cmocka_unit_test(test_writer_failed_op),
	    cmocka_unit_test(test_writer_run_and_stop),
	    cmocka_unit_test(test_writer_map_growth),
	    cmocka_unit_test(test_writer_map_max),
	    cmocka_unit_test(test_checksum_bitflip),
	    cmocka_unit_test(test_checksum_raw),
	};

	return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}
