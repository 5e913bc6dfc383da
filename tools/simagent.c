/*
 * simagent.c: simulated agents on nng aio callbacks. See simagent.h.
 *
 * Each agent is a small state machine driven by its one aio. An aio
 * carries one operation at a time, so the callbacks of one agent never
 * overlap; the only shared state is the pool's, under the pool mutex.
 * Every path through the callback submits the next operation as its very
 * last step (after that the callback may already run again elsewhere).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "err.h"
#include "simagent.h"
#include "wire.h"

#define SIM_VERSION "art17-simagent 0.1.0"

enum {
	ST_NEW = 0,
	ST_HELLO_REQ, /* HelloReq sent, waiting for the Challenge */
	ST_HELLO,     /* Hello sent, waiting for the Welcome */
	ST_POLL,      /* Poll sent, waiting for a Deliver */
	ST_RECEIPT,   /* ReceiptBatch sent, waiting for ReceiptOk */
};

enum { IO_NONE = 0, IO_SEND, IO_RECV, IO_SLEEP };

/* What to do when a sleep ends. */
enum { ACT_HELLO = 1, ACT_POLL, ACT_RECEIPT };

/* One feedback waiting to be sent (the real agent's outbox). */
typedef struct sim_fb {
	char request_id[64];
	int64_t due_ns;
} sim_fb;

struct sim_agent {
	sim_pool *pool;
	char *member;
	a17_key *key;
	sim_behaviour beh;
	nng_socket sock;
	nng_dialer dialer;
	nng_ctx ctx;
	nng_aio *aio;
	/* Sleeps get an aio of their own: in nng 1.5.2 an aio that slept can
	 * lose the timeout of the next operation, which then waits for ever
	 * (simulated agents wedged in the 1,000-agent torture). */
	nng_aio *saio;
	int opened;
	int started;
	/* driven by the callback only; state and io are atomic because
	 * sim_agent_get_stats reads them from another thread (debugging) */
	atomic_int state;
	atomic_int io;
	int next_act;
	uint32_t keepalive_ms;
	uint8_t nonce[64];
	size_t nonce_len;
	uint8_t *pending; /* packed ReceiptBatch not yet confirmed */
	size_t pending_len;
	atomic_int down; /* sim_agent_down in progress or done */
	/* the feedback context: driven by fb_cb only */
	nng_ctx fctx;
	nng_aio *faio;
	nng_aio *fsaio; /* the feedback loop's sleeps */
	int fio;
	/* under the pool mutex */
	sim_fb *fbq; /* FIFO, fbq[fb_head..fb_n) */
	size_t fb_head, fb_n, fb_cap;
	/* under the pool mutex */
	int authed;  /* counted in counts.welcomed */
	int polling; /* counted in counts.polling */
	sim_copy_rec *recs;
	size_t n_recs, cap_recs;
	sim_agent_stats st;
};

struct sim_pool {
	sim_cfg cfg;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	sim_agent **agents;
	size_t n, cap;
	sim_counts counts;
	sim_hook hook;
	void *hook_arg;
	atomic_int stopping;
};

static void agent_cb(void *arg);
static void fb_cb(void *arg);

int64_t
sim_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------ pool */

int
sim_pool_create(const sim_cfg *cfg, sim_pool **pp)
{
	sim_pool *p;
	pthread_condattr_t ca;

	if (cfg == NULL || cfg->url == NULL || cfg->broker_key == NULL)
		return A17_EINVAL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return A17_ENOMEM;
	p->cfg = *cfg;
	if (p->cfg.max_items == 0)
		p->cfg.max_items = 64;
	if (p->cfg.op_timeout_ms == 0)
		p->cfg.op_timeout_ms = 10000;
	if (p->cfg.retry_ms == 0)
		p->cfg.retry_ms = 500;
	pthread_mutex_init(&p->mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&p->stopping, 0);
	*pp = p;
	return 0;
}

void
sim_pool_set_hook(sim_pool *p, sim_hook fn, void *arg)
{
	p->hook = fn;
	p->hook_arg = arg;
}

size_t
sim_pool_size(const sim_pool *p)
{
	return p->n;
}

sim_agent *
sim_pool_agent(sim_pool *p, size_t i)
{
	return i < p->n ? p->agents[i] : NULL;
}

const char *
sim_agent_member(const sim_agent *a)
{
	return a->member;
}

void
sim_pool_counts(sim_pool *p, sim_counts *c)
{
	pthread_mutex_lock(&p->mtx);
	*c = p->counts;
	pthread_mutex_unlock(&p->mtx);
}

int
sim_pool_wait(sim_pool *p, int (*pred)(const sim_counts *, void *), void *arg,
              int timeout_ms)
{
	struct timespec ts;
	int rv = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->mtx);
	while (!pred(&p->counts, arg)) {
		if (pthread_cond_timedwait(&p->cv, &p->mtx, &ts) != 0 &&
		    !pred(&p->counts, arg)) {
			rv = A17_ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&p->mtx);
	return rv;
}

void
sim_agent_get_stats(sim_agent *a, sim_agent_stats *st)
{
	pthread_mutex_lock(&a->pool->mtx);
	*st = a->st;
	st->state = atomic_load_explicit(&a->state, memory_order_relaxed);
	st->io = atomic_load_explicit(&a->io, memory_order_relaxed);
	pthread_mutex_unlock(&a->pool->mtx);
}

/* The record for request_id, or NULL. Pool mutex held. */
static sim_copy_rec *
rec_find(sim_agent *a, const char *request_id)
{
	for (size_t i = a->n_recs; i-- > 0;)
		if (strcmp(a->recs[i].request_id, request_id) == 0)
			return &a->recs[i];
	return NULL;
}

static void fb_enqueue(sim_agent *a, const sim_copy_rec *r, int64_t now);

int
sim_agent_preload(sim_agent *a, const sim_copy_rec *recs, size_t n)
{
	sim_pool *p = a->pool;
	uint64_t cursor = 0, redo = 0;
	int64_t now = sim_now_ns();
	size_t i;

	if (a->started || a->n_recs != 0)
		return A17_EINVAL;
	if (n == 0)
		return 0;
	if ((a->recs = malloc(n * sizeof(*recs))) == NULL)
		return A17_ENOMEM;
	memcpy(a->recs, recs, n * sizeof(*recs));
	a->n_recs = a->cap_recs = n;
	pthread_mutex_lock(&p->mtx);
	for (i = 0; i < n; i++) {
		sim_copy_rec *r = &a->recs[i];

		if (r->seq > cursor)
			cursor = r->seq;
		if (r->t_receipt_ok_ns == 0) {
			if (redo == 0 || r->seq < redo)
				redo = r->seq;
		} else {
			a->st.receipts_ok++;
			p->counts.receipts_ok++;
			if (r->t_feedback_ok_ns == 0)
				fb_enqueue(a, r, now);
			else
				p->counts.feedback_ok++;
		}
		a->st.copies++;
		p->counts.copies++;
	}
	a->st.cursor = redo != 0 ? redo - 1 : cursor;
	pthread_mutex_unlock(&p->mtx);
	return 0;
}

int
sim_agent_find_copy(sim_agent *a, const char *request_id, sim_copy_rec *out)
{
	sim_copy_rec *r;
	int rv = A17_ENOTFOUND;

	pthread_mutex_lock(&a->pool->mtx);
	if ((r = rec_find(a, request_id)) != NULL) {
		*out = *r;
		rv = 0;
	}
	pthread_mutex_unlock(&a->pool->mtx);
	return rv;
}

void
sim_agent_each_copy(sim_agent *a, void (*fn)(void *arg, const sim_copy_rec *r),
                    void *arg)
{
	pthread_mutex_lock(&a->pool->mtx);
	for (size_t i = 0; i < a->n_recs; i++)
		fn(arg, &a->recs[i]);
	pthread_mutex_unlock(&a->pool->mtx);
}

int
sim_agent_add(sim_pool *p, const char *member_id, a17_key *id_key,
              const sim_behaviour *beh, sim_agent **ap)
{
	sim_agent *a;

	if (member_id == NULL || id_key == NULL ||
	    !crypto_key_has_private(id_key))
		return A17_EINVAL;
	if (p->n == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 64;
		sim_agent **na = realloc(p->agents, ncap * sizeof(*na));

		if (na == NULL)
			return A17_ENOMEM;
		p->agents = na;
		p->cap = ncap;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return A17_ENOMEM;
	if ((a->member = strdup(member_id)) == NULL) {
		free(a);
		return A17_ENOMEM;
	}
	a->pool = p;
	a->key = id_key;
	if (beh != NULL)
		a->beh = *beh;
	a->keepalive_ms = 30000;
	atomic_init(&a->down, 0);
	p->agents[p->n++] = a;
	pthread_mutex_lock(&p->mtx);
	p->counts.agents++;
	pthread_mutex_unlock(&p->mtx);
	if (ap != NULL)
		*ap = a;
	return 0;
}

/* ------------------------------------------------------------ events */

static void
emit(sim_agent *a, sim_event_kind kind, const char *request_id, uint64_t seq,
     int code, const char *text)
{
	sim_pool *p = a->pool;
	sim_event ev;

	if (p->hook == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.request_id = request_id;
	ev.seq = seq;
	ev.code = code;
	ev.text = text;
	ev.t_ns = sim_now_ns();
	p->hook(p->hook_arg, a, &ev);
}

/* Counts an error (or a connect retry before the first Welcome). */
static void
note_error(sim_agent *a, int code, const char *fmt, const char *detail)
{
	sim_pool *p = a->pool;
	char text[128];

	snprintf(text, sizeof(text), fmt, detail ? detail : "");
	pthread_mutex_lock(&p->mtx);
	if (a->st.welcomes == 0 && code < 0) {
		a->st.connect_retries++;
	} else {
		a->st.errors++;
		p->counts.errors++;
	}
	a->st.last_error = code;
	snprintf(a->st.last_error_text, sizeof(a->st.last_error_text), "%s",
	         text);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mtx);
	emit(a, SIM_EV_ERROR, NULL, 0, code, text);
}

static void
set_polling(sim_agent *a, int on)
{
	sim_pool *p = a->pool;

	pthread_mutex_lock(&p->mtx);
	if (on && !a->polling) {
		a->polling = 1;
		p->counts.polling++;
		a->st.polls++;
	} else if (!on && a->polling) {
		a->polling = 0;
		p->counts.polling--;
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mtx);
}

static void
lose_session(sim_agent *a)
{
	sim_pool *p = a->pool;
	int was;

	pthread_mutex_lock(&p->mtx);
	was = a->authed;
	if (a->authed) {
		a->authed = 0;
		p->counts.welcomed--;
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mtx);
	if (was)
		emit(a, SIM_EV_SESSION_LOST, NULL, 0, 0, NULL);
}

/* ------------------------------------------------------------ sending */

static void do_action(sim_agent *a, int act);

/* Sleeps ms on the agent's aio, then does act. Last step of a path. */
static void
sleep_then(sim_agent *a, uint32_t ms, int act)
{
	a->next_act = act;
	a->io = IO_SLEEP;
	nng_sleep_aio((nng_duration)ms, a->saio);
}

/* Sends len bytes of data (copied) in state st. Last step of a path. */
static void
send_raw(sim_agent *a, const uint8_t *data, size_t len, int st)
{
	nng_msg *msg;
	int rv;

	if ((rv = nng_msg_alloc(&msg, len)) != 0) {
		note_error(a, a17_err_nng(rv), "message: %s", nng_strerror(rv));
		sleep_then(a, a->pool->cfg.retry_ms,
		           st == ST_RECEIPT ? ACT_RECEIPT
		           : st == ST_POLL  ? ACT_POLL
		                            : ACT_HELLO);
		return;
	}
	memcpy(nng_msg_body(msg), data, len);
	a->state = st;
	a->io = IO_SEND;
	nng_aio_set_msg(a->aio, msg);
	nng_aio_set_timeout(a->aio, (nng_duration)a->pool->cfg.op_timeout_ms);
	nng_ctx_send(a->ctx, a->aio);
}

/* Seals body with the agent's key and sends it. Last step of a path. */
static void
seal_send(sim_agent *a, Art17__Body *body, int st)
{
	uint8_t *buf;
	size_t len;
	int rv;

	if ((rv = wire_seal(body, a->key, &buf, &len)) != 0) {
		note_error(a, rv, "sealing: %s", a17_strerror(rv));
		sleep_then(a, a->pool->cfg.retry_ms, ACT_HELLO);
		return;
	}
	send_raw(a, buf, len, st);
	free(buf);
}

static void
send_hello_req(sim_agent *a)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__HelloReq hr = ART17__HELLO_REQ__INIT;
	uint8_t id[WIRE_MSGID_LEN];

	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_HELLO_REQ, a->member,
	                 0);
	hr.member_id = a->member;
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_HELLO_REQ;
	body.hello_req = &hr;
	seal_send(a, &body, ST_HELLO_REQ);
}

static void
send_hello(sim_agent *a)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__Hello h = ART17__HELLO__INIT;
	uint8_t id[WIRE_MSGID_LEN];

	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_HELLO, a->member, 0);
	h.member_id = a->member;
	h.nonce.data = a->nonce;
	h.nonce.len = a->nonce_len;
	h.agent_version = SIM_VERSION;
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_HELLO;
	body.hello = &h;
	seal_send(a, &body, ST_HELLO);
}

static void
send_poll(sim_agent *a)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__Poll pl = ART17__POLL__INIT;
	uint8_t id[WIRE_MSGID_LEN];

	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_POLL, a->member, 0);
	pl.cursor = a->st.cursor; /* written by this agent's callback only */
	pl.max_items = a->pool->cfg.max_items;
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_POLL;
	body.poll = &pl;
	seal_send(a, &body, ST_POLL);
}

/*
 * Sends the pending receipts, sealed afresh: every send has a new message
 * id, as the broker refuses a repeated one as a replay.
 */
static void
send_receipt(sim_agent *a)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__ReceiptBatch *rb;
	uint8_t id[WIRE_MSGID_LEN], *buf = NULL;
	size_t len = 0;
	int rv;

	rb = art17__receipt_batch__unpack(NULL, a->pending_len, a->pending);
	if (rb == NULL) {
		note_error(a, A17_ENOMEM, "%s", "receipt: out of memory");
		free(a->pending);
		a->pending = NULL;
		send_poll(a);
		return;
	}
	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_RECEIPT, a->member, 0);
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_RECEIPT;
	body.receipt = rb;
	rv = wire_seal(&body, a->key, &buf, &len);
	art17__receipt_batch__free_unpacked(rb, NULL);
	if (rv != 0) {
		note_error(a, rv, "sealing a receipt: %s", a17_strerror(rv));
		sleep_then(a, a->pool->cfg.retry_ms, ACT_RECEIPT);
		return;
	}
	send_raw(a, buf, len, ST_RECEIPT);
	free(buf);
}

static void
do_action(sim_agent *a, int act)
{
	switch (act) {
	case ACT_RECEIPT:
		if (a->pending != NULL) {
			send_receipt(a);
			return;
		}
		send_poll(a);
		return;
	case ACT_POLL:
		send_poll(a);
		return;
	default:
		send_hello_req(a);
		return;
	}
}

/* ------------------------------------------------------------ replies */

static int
broker_keyfn(void *arg, const uint8_t *kid, size_t len, const a17_key **k)
{
	sim_pool *p = arg;

	(void)len;
	if (memcmp(kid, crypto_key_id(p->cfg.broker_key), A17_KEYID_LEN) == 0) {
		*k = p->cfg.broker_key;
		return 0;
	}
	/* copies signed before a broker key rotation */
	for (size_t i = 0; i < p->cfg.n_old_broker_keys; i++)
		if (memcmp(kid, crypto_key_id(p->cfg.old_broker_keys[i]),
		           A17_KEYID_LEN) == 0) {
			*k = p->cfg.old_broker_keys[i];
			return 0;
		}
	return A17_EUNKNOWNKEY;
}

/* After a failed step in state st: what to do again. */
static int
retry_act(const sim_agent *a)
{
	switch (a->state) {
	case ST_POLL:
		return ACT_POLL;
	case ST_RECEIPT:
		return ACT_RECEIPT;
	default:
		return ACT_HELLO;
	}
}

/* An Error reply from the broker. Last step of a path. */
static void
on_error_reply(sim_agent *a, const Art17__Error *e)
{
	char text[128];

	snprintf(text, sizeof(text), "%s %s", e->msg_code ? e->msg_code : "",
	         e->detail ? e->detail : "");
	note_error(a, (int)e->code, "broker: %s", text);
	if (e->code == ART17__ERR_CODE__ERR_NOT_AUTHENTICATED ||
	    e->code == ART17__ERR_CODE__ERR_REPLAY) {
		/* the broker forgot our session, or nng repeated a request
		 * on a new connection: hello again (a pending receipt is
		 * sent again, sealed afresh, after the Welcome) */
		lose_session(a);
		send_hello_req(a);
		return;
	}
	if (e->code == ART17__ERR_CODE__ERR_NOT_ADDRESSED &&
	    a->state == ST_RECEIPT) {
		/* permanent: the broker has no such copy */
		free(a->pending);
		a->pending = NULL;
		send_poll(a);
		return;
	}
	if (a->state == ST_HELLO_REQ || a->state == ST_HELLO)
		lose_session(a);
	sleep_then(a, a->pool->cfg.retry_ms, retry_act(a));
}

static void
on_challenge(sim_agent *a, const wire_msg *m)
{
	const Art17__Challenge *c = m->body->challenge;

	if (m->signer == NULL || c == NULL || c->nonce.len == 0 ||
	    c->nonce.len > sizeof(a->nonce)) {
		note_error(a, A17_EPROTO, "%s",
		           "challenge not signed by the broker");
		sleep_then(a, a->pool->cfg.retry_ms, ACT_HELLO);
		return;
	}
	memcpy(a->nonce, c->nonce.data, c->nonce.len);
	a->nonce_len = c->nonce.len;
	send_hello(a);
}

static void
on_welcome(sim_agent *a, const wire_msg *m)
{
	sim_pool *p = a->pool;
	int64_t now = sim_now_ns();

	if (m->signer == NULL || m->body->welcome == NULL) {
		note_error(a, A17_EPROTO, "%s",
		           "welcome not signed by the broker");
		sleep_then(a, p->cfg.retry_ms, ACT_HELLO);
		return;
	}
	if (m->body->welcome->keepalive_ms > 0)
		a->keepalive_ms = m->body->welcome->keepalive_ms;
	pthread_mutex_lock(&p->mtx);
	if (!a->authed) {
		a->authed = 1;
		p->counts.welcomed++;
	}
	a->st.welcomes++;
	a->st.t_connected_ns = now;
	if (a->st.t_first_connected_ns == 0) {
		a->st.t_first_connected_ns = now;
		p->counts.connected++;
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mtx);
	emit(a, SIM_EV_WELCOME, NULL, 0, 0, NULL);
	do_action(a, ACT_RECEIPT); /* a pending receipt first, else poll */
}

/*
 * Verifies the copies of one Deliver, records them and sends one signed
 * receipt for those that verified. Where the real agent commits them to
 * its LMDB inbox (and the receipt to its outbox) first, this keeps them
 * in memory; ack_delay_ms can stand in for that commit.
 */
static void
on_deliver(sim_agent *a, const Art17__Deliver *d)
{
	sim_pool *p = a->pool;
	Art17__ReceiptItem *items = NULL, **itemp = NULL;
	uint8_t(*hashes)[A17_SHA256_LEN] = NULL;
	wire_msg *ms = NULL;
	size_t n = 0, i;
	int64_t now;
	uint64_t cursor = a->st.cursor;

	/* copies withdrawn before delivery: never coming, move past them */
	for (i = 0; i < d->n_withdrawn; i++)
		if (d->withdrawn[i] > cursor)
			cursor = d->withdrawn[i];
	if (d->n_withdrawn > 0 || d->n_reminders > 0) {
		pthread_mutex_lock(&p->mtx);
		a->st.withdrawn += d->n_withdrawn;
		a->st.reminders += d->n_reminders;
		a->st.cursor = cursor;
		pthread_mutex_unlock(&p->mtx);
	}
	if (d->n_copies == 0) {
		send_poll(a); /* keep-alive, or only withdrawals/reminders */
		return;
	}
	items = calloc(d->n_copies, sizeof(*items));
	itemp = calloc(d->n_copies, sizeof(*itemp));
	hashes = calloc(d->n_copies, sizeof(*hashes));
	ms = calloc(d->n_copies, sizeof(*ms));
	if (items == NULL || itemp == NULL || hashes == NULL || ms == NULL) {
		note_error(a, A17_ENOMEM, "%s", "out of memory");
		free(items);
		free(itemp);
		free(hashes);
		free(ms);
		sleep_then(a, p->cfg.retry_ms, ACT_POLL);
		return;
	}
	for (i = 0; i < d->n_copies; i++) {
		const Art17__Copy *c = d->copies[i];
		Art17__Request *r;
		sim_copy_rec *rec;
		int rv;

		if (c->seq > cursor)
			cursor = c->seq;
		rv = wire_open(c->request_env.data, c->request_env.len,
		               WIRE_MAX_MSG, broker_keyfn, p, 0, &ms[i]);
		if (rv != 0 ||
		    ms[i].body->payload_case != ART17__BODY__PAYLOAD_REQUEST) {
			note_error(a, rv ? rv : A17_EPROTO, "copy: %s",
			           rv ? a17_strerror(rv) : "not a request");
			continue;
		}
		if (c->info == NULL || c->info->member_id == NULL ||
		    strcmp(c->info->member_id, a->member) != 0) {
			note_error(a, A17_EPROTO, "%s",
			           "copy addressed to another member");
			continue;
		}
		r = ms[i].body->request;
		crypto_sha256(ms[i].body_buf, ms[i].body_len, hashes[i]);
		now = sim_now_ns();
		pthread_mutex_lock(&p->mtx);
		if ((rec = rec_find(a, r->request_id)) != NULL) {
			/* counted; acked again, as the real agent does
			 * (the broker may have missed the first) */
			rec->times++;
			if (rec->seq != c->seq)
				rec->other_seqs++;
			a->st.duplicates++;
			p->counts.duplicates++;
		} else {
			if (a->n_recs == a->cap_recs) {
				size_t nc = a->cap_recs ? a->cap_recs * 2 : 8;
				sim_copy_rec *nr =
				    realloc(a->recs, nc * sizeof(*nr));

				if (nr != NULL) {
					a->recs = nr;
					a->cap_recs = nc;
				}
			}
			if (a->n_recs < a->cap_recs) {
				rec = &a->recs[a->n_recs++];
				memset(rec, 0, sizeof(*rec));
				snprintf(rec->request_id,
				         sizeof(rec->request_id), "%s",
				         r->request_id);
				rec->seq = c->seq;
				rec->t_deliver_ns = now;
				rec->times = 1;
				rec->exercise = r->exercise ? 1 : 0;
				rec->kind = (int)r->kind;
			}
		}
		a->st.copies++;
		a->st.t_last_deliver_ns = now;
		p->counts.copies++;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mtx);
		emit(a, SIM_EV_DELIVER, r->request_id, c->seq, 0, NULL);

		art17__receipt_item__init(&items[n]);
		items[n].seq = c->seq;
		items[n].request_id = r->request_id;
		items[n].request_hash.data = hashes[i];
		items[n].request_hash.len = A17_SHA256_LEN;
		items[n].stored_ms = wire_now_ms();
		itemp[n] = &items[n];
		n++;
	}
	pthread_mutex_lock(&p->mtx);
	a->st.cursor = cursor; /* the real agent stores it with the copies */
	pthread_mutex_unlock(&p->mtx);

	if (n > 0) {
		/* the outbox: kept packed until ReceiptOk, sealed per send */
		Art17__ReceiptBatch rb = ART17__RECEIPT_BATCH__INIT;

		rb.n_items = n;
		rb.items = itemp;
		free(a->pending);
		a->pending_len = art17__receipt_batch__get_packed_size(&rb);
		if ((a->pending = malloc(a->pending_len)) != NULL)
			art17__receipt_batch__pack(&rb, a->pending);
		else
			note_error(a, A17_ENOMEM, "%s",
			           "receipt: out of memory");
	}
	for (i = 0; i < d->n_copies; i++)
		wire_msg_fini(&ms[i]);
	free(ms);
	free(items);
	free(itemp);
	free(hashes);

	if (a->pending == NULL) {
		send_poll(a);
		return;
	}
	a->state = ST_RECEIPT;
	if (a->beh.ack_delay_ms > 0) {
		sleep_then(a, a->beh.ack_delay_ms, ACT_RECEIPT);
		return;
	}
	send_receipt(a);
}

/*
 * Queues feedback on r (pool mutex held). The feedback loop on faio
 * picks it up: only fb_cb (and sim_agent_start, on a fresh aio) ever
 * submits on faio, so no other thread races its callback.
 */
static void
fb_enqueue(sim_agent *a, const sim_copy_rec *r, int64_t now)
{
	sim_fb *f;

	if (!a->beh.feedback ||
	    (r->kind != ART17__ITEM_KIND__KIND_COOPERATION_REQUEST &&
	     !a->beh.feedback_shares))
		return;
	if (a->fb_head > 0 && a->fb_head == a->fb_n)
		a->fb_head = a->fb_n = 0;
	if (a->fb_n == a->fb_cap) {
		size_t nc = a->fb_cap ? a->fb_cap * 2 : 4;
		sim_fb *nf = realloc(a->fbq, nc * sizeof(*nf));

		if (nf == NULL)
			return;
		a->fbq = nf;
		a->fb_cap = nc;
	}
	f = &a->fbq[a->fb_n++];
	snprintf(f->request_id, sizeof(f->request_id), "%s", r->request_id);
	f->due_ns = now + (int64_t)a->beh.feedback_delay_ms * 1000000;
	return;
}

/* Starts the feedback loop on a fresh faio (sim_agent_start). */
static void
fb_kick(sim_agent *a)
{
	a->fio = IO_SLEEP;
	nng_sleep_aio(0, a->fsaio);
}

static void
on_receipt_ok(sim_agent *a, const Art17__ReceiptOk *ok)
{
	sim_pool *p = a->pool;
	int64_t now = sim_now_ns();
	const char *ids[64];
	uint64_t seqs[64];
	size_t nev = 0;

	pthread_mutex_lock(&p->mtx);
	for (size_t i = 0; i < ok->n_seqs; i++) {
		for (size_t j = a->n_recs; j-- > 0;) {
			sim_copy_rec *r = &a->recs[j];

			if (r->seq != ok->seqs[i])
				continue;
			if (r->t_receipt_ok_ns == 0) {
				r->t_receipt_ok_ns = now;
				a->st.receipts_ok++;
				p->counts.receipts_ok++;
				fb_enqueue(a, r, now);
				if (nev < 64) {
					ids[nev] = r->request_id;
					seqs[nev++] = r->seq;
				}
			}
			break;
		}
	}
	a->st.t_last_receipt_ok_ns = now;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mtx);
	/* records are only appended by this agent's callback: ids stay */
	for (size_t i = 0; i < nev; i++)
		emit(a, SIM_EV_RECEIPT_OK, ids[i], seqs[i], 0, NULL);
	free(a->pending);
	a->pending = NULL;
	send_poll(a);
}

/* A reply arrived in a->state. Last step of a path. */
static void
on_reply(sim_agent *a, nng_msg *msg)
{
	wire_msg m;
	int rv, pc;

	rv = wire_open(nng_msg_body(msg), nng_msg_len(msg), WIRE_MAX_MSG,
	               broker_keyfn, a->pool, WIRE_F_ALLOW_UNSIGNED, &m);
	if (rv != 0) {
		nng_msg_free(msg);
		note_error(a, rv, "reply from broker: %s", a17_strerror(rv));
		sleep_then(a, a->pool->cfg.retry_ms, retry_act(a));
		return;
	}
	pc = (int)m.body->payload_case;
	if (pc == ART17__BODY__PAYLOAD_ERROR && a->beh.impostor &&
	    (a->state == ST_HELLO_REQ || a->state == ST_HELLO)) {
		/* refused, as it must be: stand still from now on */
		const Art17__Error *e = m.body->error;
		char text[128];

		snprintf(text, sizeof(text), "%s %s",
		         e && e->msg_code ? e->msg_code : "",
		         e && e->detail ? e->detail : "");
		pthread_mutex_lock(&a->pool->mtx);
		a->st.refused++;
		a->pool->counts.refused++;
		snprintf(a->st.last_error_text, sizeof(a->st.last_error_text),
		         "%s", text);
		pthread_cond_broadcast(&a->pool->cv);
		pthread_mutex_unlock(&a->pool->mtx);
		emit(a, SIM_EV_REFUSED, NULL, 0, e ? (int)e->code : 0, text);
	} else if (pc == ART17__BODY__PAYLOAD_ERROR) {
		if (m.signer == NULL) {
			note_error(a, A17_EUNSIGNED, "%s",
			           "unsigned error reply");
			sleep_then(a, a->pool->cfg.retry_ms, retry_act(a));
		} else {
			on_error_reply(a, m.body->error);
		}
	} else if (a->state == ST_HELLO_REQ &&
	           pc == ART17__BODY__PAYLOAD_CHALLENGE) {
		on_challenge(a, &m);
	} else if (a->state == ST_HELLO && pc == ART17__BODY__PAYLOAD_WELCOME) {
		on_welcome(a, &m);
	} else if (a->state == ST_POLL && pc == ART17__BODY__PAYLOAD_DELIVER) {
		on_deliver(a, m.body->deliver);
	} else if (a->state == ST_RECEIPT &&
	           pc == ART17__BODY__PAYLOAD_RECEIPT_OK) {
		on_receipt_ok(a, m.body->receipt_ok);
	} else {
		note_error(a, A17_EPROTO, "unexpected reply (payload %s)",
		           pc == ART17__BODY__PAYLOAD_DELIVER ? "deliver"
		                                              : "other");
		sleep_then(a, a->pool->cfg.retry_ms, retry_act(a));
	}
	/* the callback may already run again: touch only locals */
	wire_msg_fini(&m);
	nng_msg_free(msg);
}

/* A send or receive failed. Last step of a path. */
static void
on_transport_error(sim_agent *a, int rv, const char *what)
{
	note_error(a, a17_err_nng(rv), what, nng_strerror(rv));
	/* start over: the broker may have lost the session with the pipe */
	lose_session(a);
	/* NNG_ESTATE on a receive is nng 1.5.2's way of saying the pipe
	 * closed between our send and our receive (REQ with resends off
	 * resets the context; later nng says NNG_ECONNRESET). The context
	 * itself is fine: the next send starts its state machine afresh.
	 * Closing and reopening it from this callback instead stalled
	 * nng's reaper thread, and with it every agent of the process. */
	if (a->state == ST_POLL && rv == NNG_ETIMEDOUT) {
		/* broker silent past the keep-alive */
		send_hello_req(a);
		return;
	}
	sleep_then(a, a->pool->cfg.retry_ms, ACT_HELLO);
}

static void
agent_cb(void *arg)
{
	sim_agent *a = arg;
	int rv = nng_aio_result(a->aio);
	int io = a->io;
	nng_msg *msg;

	a->io = IO_NONE;
	if (atomic_load(&a->pool->stopping) || atomic_load(&a->down)) {
		if ((io == IO_SEND && rv != 0) || (io == IO_RECV && rv == 0)) {
			nng_msg_free(nng_aio_get_msg(a->aio));
			nng_aio_set_msg(a->aio, NULL);
		}
		return;
	}
	switch (io) {
	case IO_SEND:
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(a->aio));
			nng_aio_set_msg(a->aio, NULL);
			on_transport_error(a, rv, "send: %s");
			return;
		}
		if (a->state == ST_POLL)
			set_polling(a, 1);
		a->io = IO_RECV;
		nng_aio_set_timeout(
		    a->aio, a->state == ST_POLL
		                ? (nng_duration)(a->keepalive_ms + 10000)
		                : (nng_duration)a->pool->cfg.op_timeout_ms);
		nng_ctx_recv(a->ctx, a->aio);
		return;
	case IO_RECV:
		if (a->state == ST_POLL)
			set_polling(a, 0);
		if (rv != 0) {
			on_transport_error(a, rv, "receive: %s");
			return;
		}
		msg = nng_aio_get_msg(a->aio);
		nng_aio_set_msg(a->aio, NULL);
		if (msg == NULL) {
			/* seen when the broker is killed mid-reply (torture
			 * test): a completed receive without a message */
			on_transport_error(a, NNG_ECLOSED, "receive: %s");
			return;
		}
		on_reply(a, msg);
		return;
	default:
		return;
	}
}

/* A sleep of sleep_then ended (or was cancelled by sim_agent_down). */
static void
agent_sleep_cb(void *arg)
{
	sim_agent *a = arg;

	a->io = IO_NONE;
	if (atomic_load(&a->pool->stopping) || atomic_load(&a->down))
		return;
	do_action(a, a->next_act);
}

/* ------------------------------------------------------------ feedback */

#define FB_IDLE_MS 1000 /* how often an idle feedback loop looks again */

/* Pops the head if asked, then sleeps retry_ns (0: just look again). */
static void
fb_next(sim_agent *a, int pop, int64_t retry_ns)
{
	sim_pool *p = a->pool;

	if (pop) {
		pthread_mutex_lock(&p->mtx);
		if (a->fb_head < a->fb_n)
			a->fb_head++;
		pthread_mutex_unlock(&p->mtx);
	}
	a->fio = IO_SLEEP;
	nng_sleep_aio((nng_duration)(retry_ns / 1000000), a->fsaio);
}

/* Seals and sends the feedback at the head of the queue. */
static void
fb_send(sim_agent *a)
{
	sim_pool *p = a->pool;
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__Feedback fb = ART17__FEEDBACK__INIT;
	Art17__Indicator ind = ART17__INDICATOR__INIT, *inds[1] = {&ind};
	char rid[64], ip[32];
	uint8_t id[WIRE_MSGID_LEN], *buf = NULL;
	size_t len = 0;
	nng_msg *msg;
	int authed, rv;
	int64_t wait = 0;

	pthread_mutex_lock(&p->mtx);
	authed = a->authed;
	if (a->fb_head >= a->fb_n)
		wait = (int64_t)FB_IDLE_MS * 1000000;
	else if ((wait = a->fbq[a->fb_head].due_ns - sim_now_ns()) > 0 &&
	         wait > (int64_t)FB_IDLE_MS * 1000000)
		wait = (int64_t)FB_IDLE_MS * 1000000;
	else
		snprintf(rid, sizeof(rid), "%s", a->fbq[a->fb_head].request_id);
	pthread_mutex_unlock(&p->mtx);
	if (wait > 0) { /* nothing due yet */
		fb_next(a, 0, wait);
		return;
	}
	if (!authed) { /* wait for the main loop's Welcome */
		fb_next(a, 0, (int64_t)p->cfg.retry_ms * 1000000);
		return;
	}
	/* the exercise marking travels in the header, as for the request */
	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_FEEDBACK, a->member, 1);
	fb.request_id = rid;
	fb.version = 1;
	fb.status = (Art17__FeedbackStatus)a->beh.feedback_status;
	if (fb.status == ART17__FEEDBACK_STATUS__FB_DECLINED)
		fb.decline_reason = "EXERCISE: simulated member declines";
	if (fb.status == ART17__FEEDBACK_STATUS__FB_AFFECTED) {
		/* TEST-NET-1 (RFC 5737): never a real address */
		snprintf(ip, sizeof(ip), "192.0.2.%u",
		         (unsigned)(sim_now_ns() % 250) + 1);
		ind.type = ART17__INDICATOR_TYPE__IND_IPV4;
		ind.value = ip;
		fb.n_indicators = 1;
		fb.indicators = inds;
		fb.count = 1;
	}
	fb.text = "EXERCISE: feedback from a simulated member (art17-drill)";
	fb.contact = (char *)(a->beh.feedback_contact ? a->beh.feedback_contact
	                                              : "staff-1");
	fb.secrecy_wish = ART17__SECRET__SECRET_NO;
	fb.sharing_wish = ART17__SCOPE__SCOPE_MEMBERS;
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_FEEDBACK;
	body.feedback = &fb;
	if ((rv = wire_seal(&body, a->key, &buf, &len)) != 0 ||
	    (rv = nng_msg_alloc(&msg, len)) != 0) {
		free(buf);
		note_error(a, A17_ENOMEM, "%s", "feedback: out of memory");
		fb_next(a, 0, (int64_t)p->cfg.retry_ms * 1000000);
		return;
	}
	memcpy(nng_msg_body(msg), buf, len);
	free(buf);
	a->fio = IO_SEND;
	nng_aio_set_msg(a->faio, msg);
	nng_aio_set_timeout(a->faio, (nng_duration)p->cfg.op_timeout_ms);
	nng_ctx_send(a->fctx, a->faio);
}

/* The broker's answer to a feedback. */
static void
fb_reply(sim_agent *a, nng_msg *msg)
{
	sim_pool *p = a->pool;
	int64_t retry = (int64_t)p->cfg.retry_ms * 1000000;
	wire_msg m;
	int rv;

	rv = wire_open(nng_msg_body(msg), nng_msg_len(msg), WIRE_MAX_MSG,
	               broker_keyfn, p, WIRE_F_ALLOW_UNSIGNED, &m);
	nng_msg_free(msg);
	if (rv != 0) {
		note_error(a, rv, "feedback reply: %s", a17_strerror(rv));
		fb_next(a, 0, retry);
		return;
	}
	/* FeedbackOk is unsigned: the bound channel authenticates it */
	if (m.body->payload_case == ART17__BODY__PAYLOAD_FEEDBACK_OK &&
	    m.body->feedback_ok != NULL) {
		const char *rid = m.body->feedback_ok->request_id;
		sim_copy_rec *r;
		int64_t now = sim_now_ns();
		int first = 0;

		pthread_mutex_lock(&p->mtx);
		if (rid != NULL && (r = rec_find(a, rid)) != NULL &&
		    r->t_feedback_ok_ns == 0) {
			r->t_feedback_ok_ns = now;
			r->fb_status = a->beh.feedback_status;
			a->st.feedback_ok++;
			p->counts.feedback_ok++;
			first = 1;
		}
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mtx);
		if (first)
			emit(a, SIM_EV_FEEDBACK_OK, rid, 0, 0, NULL);
		wire_msg_fini(&m);
		fb_next(a, 1, 0);
		return;
	}
	if (m.body->payload_case == ART17__BODY__PAYLOAD_ERROR &&
	    m.body->error != NULL) {
		Art17__ErrCode c = m.body->error->code;

		note_error(a, (int)c, "feedback refused: %s",
		           m.body->error->detail);
		wire_msg_fini(&m);
		/* a lost session is retried; a refusal is final */
		fb_next(a,
		        c != ART17__ERR_CODE__ERR_NOT_AUTHENTICATED &&
		            c != ART17__ERR_CODE__ERR_REPLAY &&
		            c != ART17__ERR_CODE__ERR_INTERNAL,
		        retry);
		return;
	}
	wire_msg_fini(&m);
	note_error(a, A17_EPROTO, "%s", "feedback: unexpected reply");
	fb_next(a, 0, retry);
}

static void
fb_cb(void *arg)
{
	sim_agent *a = arg;
	int rv = nng_aio_result(a->faio);
	int io = a->fio;
	int64_t retry = (int64_t)a->pool->cfg.retry_ms * 1000000;

	a->fio = IO_NONE;
	if (atomic_load(&a->pool->stopping) || atomic_load(&a->down)) {
		if ((io == IO_SEND && rv != 0) || (io == IO_RECV && rv == 0)) {
			nng_msg_free(nng_aio_get_msg(a->faio));
			nng_aio_set_msg(a->faio, NULL);
		}
		return;
	}
	switch (io) {
	case IO_SEND:
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(a->faio));
			nng_aio_set_msg(a->faio, NULL);
			fb_next(a, 0, retry);
			return;
		}
		a->fio = IO_RECV;
		nng_aio_set_timeout(a->faio,
		                    (nng_duration)a->pool->cfg.op_timeout_ms);
		nng_ctx_recv(a->fctx, a->faio);
		return;
	case IO_RECV:
		if (rv != 0) {
			fb_next(a, 0, retry);
			return;
		}
		{
			nng_msg *msg = nng_aio_get_msg(a->faio);

			nng_aio_set_msg(a->faio, NULL);
			if (msg == NULL) {
				fb_next(a, 0, retry);
				return;
			}
			fb_reply(a, msg);
		}
		return;
	default:
		return;
	}
}

/* The feedback loop's sleep ended: look at the queue's head. */
static void
fb_sleep_cb(void *arg)
{
	sim_agent *a = arg;

	a->fio = IO_NONE;
	if (atomic_load(&a->pool->stopping) || atomic_load(&a->down))
		return;
	fb_send(a);
}

/* ------------------------------------------------------------ start/stop */

int
sim_agent_start(sim_agent *a)
{
	sim_pool *p = a->pool;
	int rv, kick;

	if (a->started)
		return 0;
	if (!a->opened) { /* the socket outlives sim_agent_down */
		if ((rv = nng_req0_open(&a->sock)) != 0)
			return a17_err_nng(rv);
		a->opened = 1;
		nng_socket_set_size(a->sock, NNG_OPT_RECVMAXSZ, WIRE_MAX_MSG);
		nng_socket_set_ms(a->sock, NNG_OPT_RECONNMINT, 100);
		nng_socket_set_ms(a->sock, NNG_OPT_RECONNMAXT, 5000);
	}
	if ((rv = nng_dialer_create(&a->dialer, a->sock, p->cfg.url)) != 0)
		return a17_err_nng(rv);
	if (p->cfg.tls != NULL &&
	    (rv = nng_dialer_set_ptr(a->dialer, NNG_OPT_TLS_CONFIG,
	                             p->cfg.tls)) != 0)
		return a17_err_nng(rv);
	if ((rv = nng_ctx_open(&a->ctx, a->sock)) != 0 ||
	    (a->aio == NULL &&
	     (rv = nng_aio_alloc(&a->aio, agent_cb, a)) != 0) ||
	    (a->saio == NULL &&
	     (rv = nng_aio_alloc(&a->saio, agent_sleep_cb, a)) != 0))
		return a17_err_nng(rv);
	if (a->beh.feedback &&
	    ((rv = nng_ctx_open(&a->fctx, a->sock)) != 0 ||
	     (a->faio == NULL &&
	      (rv = nng_aio_alloc(&a->faio, fb_cb, a)) != 0) ||
	     (a->fsaio == NULL &&
	      (rv = nng_aio_alloc(&a->fsaio, fb_sleep_cb, a)) != 0)))
		return a17_err_nng(rv);
	if (a->beh.feedback)
		nng_ctx_set_ms(a->fctx, NNG_OPT_REQ_RESENDTIME,
		               NNG_DURATION_INFINITE);
	/* a held poll must not be resent while it is legitimately held */
	nng_ctx_set_ms(a->ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if ((rv = nng_dialer_start(a->dialer, NNG_FLAG_NONBLOCK)) != 0)
		return a17_err_nng(rv);
	a->started = 1;
	atomic_store(&a->down, 0);
	a->state = ST_NEW;
	pthread_mutex_lock(&p->mtx);
	p->counts.started++;
	kick = a->faio != NULL; /* the feedback loop runs while up */
	pthread_mutex_unlock(&p->mtx);
	if (kick)
		fb_kick(a);
	send_hello_req(a);
	return 0;
}

int
sim_agent_down(sim_agent *a)
{
	sim_pool *p = a->pool;

	if (!a->started)
		return A17_EINVAL;
	atomic_store(&a->down, 1);
	/*
	 * Closing the contexts fails their pending operations (callbacks
	 * return at once); closing the dialer drops the connection. The
	 * socket stays: nng 1.5.2's nng_close can hang for good on a REQ
	 * socket that had contexts in use (seen here; issues #1543, #1813).
	 * A stopped aio refuses further work: the next start makes new ones.
	 */
	nng_ctx_close(a->ctx);
	if (a->beh.feedback)
		nng_ctx_close(a->fctx);
	nng_aio_free(a->aio);
	a->aio = NULL;
	nng_aio_free(a->saio);
	a->saio = NULL;
	nng_aio_free(a->faio);
	a->faio = NULL;
	nng_aio_free(a->fsaio);
	a->fsaio = NULL;
	nng_dialer_close(a->dialer);
	a->started = 0;
	a->io = a->fio = IO_NONE;
	lose_session(a);
	set_polling(a, 0);
	pthread_mutex_lock(&p->mtx);
	a->st.downs++;
	p->counts.started--;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mtx);
	return 0;
}

int
sim_agent_is_up(sim_agent *a)
{
	return a->started && !atomic_load(&a->down);
}

int
sim_agent_restart(sim_agent *a)
{
	sim_pool *p = a->pool;
	int rv;

	if (!a->started)
		return sim_agent_start(a);
	/* down drops the contexts and the dialer without nng_close, which
	 * can block for ever on a wedged agent (nng 1.5.2) */
	if ((rv = sim_agent_down(a)) != 0)
		return rv;
	pthread_mutex_lock(&p->mtx);
	a->st.restarts++;
	pthread_mutex_unlock(&p->mtx);
	return sim_agent_start(a);
}

static int
pred_room(const sim_counts *c, void *arg)
{
	uint32_t max = *(const uint32_t *)arg;

	return c->started - c->connected < max;
}

int
sim_pool_start(sim_pool *p, int timeout_ms)
{
	uint32_t max = p->cfg.max_connecting;
	int rv;

	for (size_t i = 0; i < p->n; i++) {
		if (p->agents[i]->started)
			continue;
		if (max > 0 &&
		    (rv = sim_pool_wait(p, pred_room, &max, timeout_ms)) != 0)
			return rv;
		if ((rv = sim_agent_start(p->agents[i])) != 0)
			return rv;
	}
	return 0;
}

void
sim_pool_stop(sim_pool *p)
{
	if (p != NULL)
		atomic_store(&p->stopping, 1);
}

void
sim_pool_destroy(sim_pool *p)
{
	if (p == NULL)
		return;
	atomic_store(&p->stopping, 1);
	/* closing fails every pending ctx operation; callbacks return */
	for (size_t i = 0; i < p->n; i++)
		if (p->agents[i]->opened)
			nng_close(p->agents[i]->sock);
	/* and stopping waits for any callback still running (sleeps too) */
	for (size_t i = 0; i < p->n; i++) {
		if (p->agents[i]->aio != NULL)
			nng_aio_stop(p->agents[i]->aio);
		if (p->agents[i]->faio != NULL)
			nng_aio_stop(p->agents[i]->faio);
		if (p->agents[i]->saio != NULL)
			nng_aio_stop(p->agents[i]->saio);
		if (p->agents[i]->fsaio != NULL)
			nng_aio_stop(p->agents[i]->fsaio);
	}
	for (size_t i = 0; i < p->n; i++) {
		sim_agent *a = p->agents[i];

		nng_aio_free(a->aio);
		nng_aio_free(a->saio);
		nng_aio_free(a->faio);
		nng_aio_free(a->fsaio);
		free(a->fbq);
		crypto_key_free(a->key);
		free(a->pending);
		free(a->recs);
		free(a->member);
		free(a);
	}
	free(p->agents);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mtx);
	free(p);
}
