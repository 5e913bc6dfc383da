/*
 * art17-bench ingest figure: feedback records stored durably per second
 * through the broker's own receive-and-store path, without the network.
 *
 * Each record is a signed Feedback envelope (about 600 bytes) made by one
 * of 1,000 member keys. Two threads (the cores) each take envelopes,
 * open them the way the broker's agent endpoint does (size cap, Envelope
 * decode, Ed25519 check with the member's key, Body decode, header
 * checks), and submit one op per record to one group-commit writer
 * (lib/store.c, the broker's settings: up to 4,096 ops, 1 ms wait, fsync
 * on every commit). The op stores the envelope as received and one
 * index record, as apply_feedback() does. A record counts when its op's
 * done callback has run, that is when the commit holding it returned.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "bench_ingest.h"
#include "crypto.h"
#include "err.h"
#include "store.h"
#include "wire.h"

#define INGEST_KEYS 1000

enum { DB_FB, DB_FB_INDEX };

struct rec_op {
	store_op op;
	wire_msg wm;
	uint64_t no;
	struct ingest *in;
};

struct ingest {
	a17_key *keys[INGEST_KEYS];
	uint8_t **env;
	size_t *env_len;
	long n;
	atomic_long next;
	atomic_long done, failed;
	store_writer *wr;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
};

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double
cpu_now_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int
ingest_keyfn(void *arg, const uint8_t *kid, size_t len, const a17_key **k)
{
	struct ingest *in = arg;

	(void)len;
	/* the broker looks the key id up in a table; so does this */
	for (int i = 0; i < INGEST_KEYS; i++)
		if (memcmp(crypto_key_id(in->keys[i]), kid, A17_KEYID_LEN) ==
		    0) {
			*k = in->keys[i];
			return 0;
		}
	return A17_EUNKNOWNKEY;
}

static int
apply_rec(store_txn *t, void *arg)
{
	struct rec_op *r = arg;
	store_key k;
	uint8_t idx[16];

	store_key_init(&k);
	store_key_u64(&k, r->no);
	store_put(t, DB_FB, &k, r->wm.body_buf, r->wm.body_len);
	memcpy(idx, r->wm.key_id, 8);
	memcpy(idx + 8, &r->no, 8);
	store_key_init(&k);
	store_key_bytes(&k, idx, sizeof(idx));
	store_put(t, DB_FB_INDEX, &k, "", 0);
	return t->rv;
}

static void
done_rec(void *arg, int rv)
{
	struct rec_op *r = arg;
	struct ingest *in = r->in;

	if (rv != 0)
		atomic_fetch_add(&in->failed, 1);
	wire_msg_fini(&r->wm);
	free(r);
	if (atomic_fetch_add(&in->done, 1) + 1 == in->n) {
		pthread_mutex_lock(&in->mtx);
		pthread_cond_signal(&in->cv);
		pthread_mutex_unlock(&in->mtx);
	}
}

static void *
receiver(void *arg)
{
	struct ingest *in = arg;
	long i;

	while ((i = atomic_fetch_add(&in->next, 1)) < in->n) {
		struct rec_op *r = calloc(1, sizeof(*r));

		if (r == NULL ||
		    wire_open(in->env[i], in->env_len[i], WIRE_MAX_MSG,
		              ingest_keyfn, in, 0, &r->wm) != 0) {
			free(r);
			atomic_fetch_add(&in->failed, 1);
			atomic_fetch_add(&in->done, 1);
			continue;
		}
		r->no = (uint64_t)i + 1;
		r->in = in;
		r->op.apply = apply_rec;
		r->op.done = done_rec;
		r->op.arg = r;
		if (store_writer_submit(in->wr, &r->op) != 0)
			done_rec(r, A17_ECLOSED);
	}
	return NULL;
}

static int
make_envelope(struct ingest *in, long i)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__Feedback fb = ART17__FEEDBACK__INIT;
	uint8_t id[WIRE_MSGID_LEN];
	char member[32], text[400];

	snprintf(member, sizeof(member), "ingest-%05ld", i % INGEST_KEYS);
	memset(text, 'f', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_FEEDBACK, member, 0);
	fb.request_id = "R000001-00000000";
	fb.version = (uint32_t)(i / INGEST_KEYS) + 1;
	fb.status = ART17__FEEDBACK_STATUS__FB_NOT_AFFECTED;
	fb.impact = "none observed";
	fb.text = text;
	fb.contact = "staff-1";
	fb.secrecy_wish = ART17__SECRET__SECRET_NO;
	fb.sharing_wish = ART17__SCOPE__SCOPE_MEMBERS;
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_FEEDBACK;
	body.feedback = &fb;
	return wire_seal(&body, in->keys[i % INGEST_KEYS], &in->env[i],
	                 &in->env_len[i]);
}

int
bench_ingest(const char *dir, long n, struct ingest_result *res)
{
	static const char *const dbs[] = {"feedback", "feedback_index"};
	struct ingest *in = calloc(1, sizeof(*in));
	store *st = NULL;
	pthread_t th[2];
	struct timespec dl;
	int64_t t0;
	double c0;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (in == NULL ||
	    (in->env = calloc((size_t)n, sizeof(*in->env))) == NULL ||
	    (in->env_len = calloc((size_t)n, sizeof(*in->env_len))) == NULL)
		goto out;
	in->n = n;
	pthread_mutex_init(&in->mtx, NULL);
	pthread_cond_init(&in->cv, NULL);
	for (int i = 0; i < INGEST_KEYS; i++)
		if (crypto_key_generate(&in->keys[i]) != 0)
			goto out;
	for (long i = 0; i < n; i++)
		if (make_envelope(in, i) != 0)
			goto out;
	res->env_bytes = in->env_len[0];
	mkdir(dir, 0700);
	if (store_open(dir, dbs, 2, NULL, &st) != 0 ||
	    store_writer_start(st, 4096, 1000, &in->wr) != 0)
		goto out;
	t0 = mono_ns();
	c0 = cpu_now_s();
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, receiver, in);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 120;
	pthread_mutex_lock(&in->mtx);
	while (atomic_load(&in->done) < n)
		if (pthread_cond_timedwait(&in->cv, &in->mtx, &dl) != 0)
			break;
	pthread_mutex_unlock(&in->mtx);
	res->secs = (double)(mono_ns() - t0) / 1e9;
	res->cpu_s = cpu_now_s() - c0;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	if (atomic_load(&in->done) == n && atomic_load(&in->failed) == 0) {
		store_writer_stats ws;

		store_writer_get_stats(in->wr, &ws);
		res->records = n;
		res->rate = (double)n / res->secs;
		res->commits = ws.commits;
		rc = 0;
	}
	store_writer_stop(in->wr);
out:
	store_close(st);
	/* the envelopes and keys die with the phase's process */
	return rc;
}
