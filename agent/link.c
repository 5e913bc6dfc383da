/*
 * link.c: the agent daemon's connection to the broker.
 *
 * One REQ socket, dialled out (members sit behind firewalls), with two
 * contexts: the main thread says hello and long-polls; the sender thread
 * sends what waits in the outbox (receipts) and removes it only when the
 * broker confirmed it stored them. nng's dialer reconnects with backoff;
 * a broker that forgot our session answers "not authenticated" and we
 * say hello again.
 */
#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "agent.h"
#include "err.h"
#include "log.h"
#include "wire.h"

#define RECEIPTS_PER_MSG 256

typedef struct link {
	const agent_cfg *cfg;
	store *st;
	a17_key *id_key;
	a17_key *broker_key;
	a17_key **old_broker; /* rotated-out broker keys (broker-sign-old/) */
	size_t n_old_broker;
	nng_socket sock;
	nng_dialer dialer;
	nng_tls_config *tls;
	nng_ctx poll_ctx, send_ctx;
	nng_aio *poll_aio, *send_aio;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	int authed;
	int stop;
	int kick;
	uint32_t keepalive_ms;
	/* the stall watchdog (stalled()) */
	int64_t unauthed_ms; /* (mtx) when the session was lost, 0: have one */
	int send_stuck;      /* the last hello could not even be sent */
	uint64_t dial_sum;   /* the dialer's counters, summed */
	int64_t dial_moved_ms, stat_ms;
} link_t;

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
}

static int
broker_keyfn(void *arg, const uint8_t *kid, size_t len, const a17_key **k)
{
	link_t *l = arg;

	(void)len;
	if (memcmp(kid, crypto_key_id(l->broker_key), A17_KEYID_LEN) != 0)
		return A17_EUNKNOWNKEY;
	*k = l->broker_key;
	return 0;
}

/*
 * Requests inside copies may have been signed before a broker key
 * rotation (issued earlier, delivered now): they verify with the current
 * key or a rotated-out one. The session itself (Challenge, Welcome) only
 * ever with the current key: see broker_keyfn.
 */
static int
copy_keyfn(void *arg, const uint8_t *kid, size_t len, const a17_key **k)
{
	link_t *l = arg;

	if (broker_keyfn(arg, kid, len, k) == 0)
		return 0;
	for (size_t i = 0; i < l->n_old_broker; i++)
		if (memcmp(kid, crypto_key_id(l->old_broker[i]),
		           A17_KEYID_LEN) == 0) {
			*k = l->old_broker[i];
			return 0;
		}
	return A17_EUNKNOWNKEY;
}

/*
 * Sends buf on ctx and waits for the reply, opened into *m (replies may
 * be unsigned: the channel is mutual TLS; see docs/protocol.md).
 */
static int
call(link_t *l, nng_ctx ctx, nng_aio *aio, uint8_t *buf, size_t len,
     int timeout_ms, wire_msg *m)
{
	nng_msg *msg;
	int rv;

	if ((rv = nng_msg_alloc(&msg, 0)) != 0 ||
	    (rv = nng_msg_append(msg, buf, len)) != 0) {
		free(buf);
		return a17_err_nng(rv);
	}
	free(buf);
	nng_aio_set_msg(aio, msg);
	nng_aio_set_timeout(aio, 5000);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	rv = nng_aio_result(aio);
	if (nng_ctx_id(ctx) == nng_ctx_id(l->poll_ctx))
		l->send_stuck = rv == NNG_ETIMEDOUT; /* no pipe took it */
	if (rv != 0) {
		nng_msg_free(nng_aio_get_msg(aio));
		return a17_err_nng(rv);
	}
	nng_aio_set_timeout(aio, timeout_ms);
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0)
		return a17_err_nng(rv);
	msg = nng_aio_get_msg(aio);
	rv = wire_open(nng_msg_body(msg), nng_msg_len(msg), WIRE_MAX_MSG,
	               broker_keyfn, l, WIRE_F_ALLOW_UNSIGNED, m);
	nng_msg_free(msg);
	if (rv != 0)
		log_reject("A17-W0501", "reply from broker: %s",
		           a17_strerror(rv));
	return rv;
}

static int
seal(link_t *l, Art17__Body *body, uint8_t **buf, size_t *len)
{
	return wire_seal(body, l->id_key, buf, len);
}

/* An Error reply: logs it and returns its code. */
static int
reply_error(const wire_msg *m)
{
	Art17__Error *e = m->body->error;

	log_warnx("broker: %s %s", e->msg_code, e->detail);
	return e->code;
}

static int
hello(link_t *l)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__HelloReq hr = ART17__HELLO_REQ__INIT;
	Art17__Hello h = ART17__HELLO__INIT;
	uint8_t id[WIRE_MSGID_LEN], nonce[64];
	size_t nlen;
	uint8_t *buf;
	size_t len;
	wire_msg m;
	int rv;

	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_HELLO_REQ,
	                 l->cfg->member, 0);
	hr.member_id = (char *)l->cfg->member;
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_HELLO_REQ;
	body.hello_req = &hr;
	if ((rv = seal(l, &body, &buf, &len)) != 0)
		return rv;
	if ((rv = call(l, l->poll_ctx, l->poll_aio, buf, len, 10000, &m)) != 0)
		return rv;
	if (m.body->payload_case == ART17__BODY__PAYLOAD_ERROR) {
		reply_error(&m);
		wire_msg_fini(&m);
		return A17_EDENIED;
	}
	if (m.signer == NULL ||
	    m.body->payload_case != ART17__BODY__PAYLOAD_CHALLENGE ||
	    m.body->challenge->nonce.len > sizeof(nonce)) {
		log_reject("A17-W0502", "challenge not signed by the broker");
		wire_msg_fini(&m);
		return A17_EPROTO;
	}
	nlen = m.body->challenge->nonce.len;
	memcpy(nonce, m.body->challenge->nonce.data, nlen);
	wire_msg_fini(&m);

	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_HELLO, l->cfg->member,
	                 0);
	h.member_id = (char *)l->cfg->member;
	h.nonce.data = nonce;
	h.nonce.len = nlen;
	h.agent_version = "art17-agent 0.1.0";
	body.payload_case = ART17__BODY__PAYLOAD_HELLO;
	body.hello = &h;
	if ((rv = seal(l, &body, &buf, &len)) != 0)
		return rv;
	if ((rv = call(l, l->poll_ctx, l->poll_aio, buf, len, 10000, &m)) != 0)
		return rv;
	if (m.body->payload_case == ART17__BODY__PAYLOAD_ERROR) {
		reply_error(&m);
		wire_msg_fini(&m);
		return A17_EDENIED;
	}
	if (m.signer == NULL ||
	    m.body->payload_case != ART17__BODY__PAYLOAD_WELCOME) {
		log_reject("A17-W0502", "welcome not signed by the broker");
		wire_msg_fini(&m);
		return A17_EPROTO;
	}
	pthread_mutex_lock(&l->mtx);
	l->keepalive_ms = m.body->welcome->keepalive_ms;
	l->authed = 1;
	l->unauthed_ms = 0;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mtx);
	wire_msg_fini(&m);
	log_info("connected as %s", l->cfg->member);
	return 0;
}

/*
 * Applies signed marking revisions from a Deliver: the inbox keeps the
 * latest marking of each request it holds (revision numbers only rise).
 */
static void
take_revisions(link_t *l, Art17__Deliver *d)
{
	for (size_t i = 0; i < d->n_revisions; i++) {
		wire_msg m;
		Art17__MarkingRevision *mr;
		int rv;

		rv = wire_open(d->revisions[i].data, d->revisions[i].len,
		               WIRE_MAX_MSG, copy_keyfn, l, 0, &m);
		if (rv != 0 ||
		    m.body->payload_case != ART17__BODY__PAYLOAD_REVISION ||
		    m.body->revision->marking == NULL) {
			log_reject("A17-W0505", "marking revision: %s",
			           rv ? a17_strerror(rv) : "not a revision");
			wire_msg_fini(&m);
			continue;
		}
		mr = m.body->revision;
		if ((rv = inbox_set_marking(l->st, mr->request_id,
		                            mr->marking)) == 0)
			log_info("marking of %s revised (revision %u): %s",
			         mr->request_id, mr->marking->revision,
			         mr->reason);
		else if (rv != A17_ENOTFOUND)
			log_warnx("marking revision for %s: %s", mr->request_id,
			          a17_strerror(rv));
		wire_msg_fini(&m);
	}
}

/* Verifies and stores the copies of one Deliver. */
static int
take_deliver(link_t *l, Art17__Deliver *d, uint64_t *cursor)
{
	Art17__Request **reqs;
	wire_msg *ms;
	uint8_t(*hashes)[A17_SHA256_LEN];
	uint8_t *fresh; /* not in the inbox before: its arrival hook runs */
	size_t n_new = 0;
	int rv;

	for (size_t i = 0; i < d->n_reminders; i++) {
		char t[32];
		time_t s = (time_t)(d->reminders[i]->deadline_ms / 1000);
		struct tm tm;

		gmtime_r(&s, &tm);
		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
		log_warnx("REMINDER: request %s (seq %llu) is overdue: its "
		          "deadline was %s; %s",
		          d->reminders[i]->request_id,
		          (unsigned long long)d->reminders[i]->seq, t,
		          d->reminders[i]->text);
		hooks_overdue(l->cfg->member, d->reminders[i]);
	}
	/* copies first (a revision may concern one of them), then revisions */
	if (d->n_copies == 0 && d->n_withdrawn == 0) {
		take_revisions(l, d);
		return 0;
	}
	/* copies withdrawn before delivery: never coming, move past them */
	for (size_t i = 0; i < d->n_withdrawn; i++) {
		log_info("copy seq %llu was withdrawn by the broker before "
		         "delivery (its ground went away)",
		         (unsigned long long)d->withdrawn[i]);
		hooks_withdrawal(l->cfg->member, d->withdrawn[i]);
		if (d->withdrawn[i] > *cursor)
			*cursor = d->withdrawn[i];
	}
	if (d->n_copies == 0) {
		size_t nn;

		return inbox_store(l->st, NULL, NULL, NULL, 0, *cursor, &nn);
	}
	reqs = calloc(d->n_copies, sizeof(*reqs));
	ms = calloc(d->n_copies, sizeof(*ms));
	hashes = calloc(d->n_copies, sizeof(*hashes));
	fresh = calloc(d->n_copies, 1);
	if (reqs == NULL || ms == NULL || hashes == NULL || fresh == NULL) {
		free(fresh);
		free(reqs);
		free(ms);
		free(hashes);
		return A17_ENOMEM;
	}
	for (size_t i = 0; i < d->n_copies; i++) {
		Art17__Copy *c = d->copies[i];

		rv = wire_open(c->request_env.data, c->request_env.len,
		               WIRE_MAX_MSG, copy_keyfn, l, 0, &ms[i]);
		if (rv != 0 ||
		    ms[i].body->payload_case != ART17__BODY__PAYLOAD_REQUEST) {
			log_reject("A17-W0503", "copy %llu: %s",
			           (unsigned long long)c->seq,
			           rv ? a17_strerror(rv) : "not a request");
			continue;
		}
		if (c->info == NULL || c->info->member_id == NULL ||
		    strcmp(c->info->member_id, l->cfg->member) != 0) {
			log_reject("A17-W0504",
			           "copy %llu is addressed to "
			           "another member",
			           (unsigned long long)c->seq);
			continue;
		}
		reqs[i] = ms[i].body->request;
		crypto_sha256(ms[i].body_buf, ms[i].body_len, hashes[i]);
		fresh[i] = !inbox_has(l->st, reqs[i]->request_id);
	}
	rv = inbox_store(l->st, d->copies, reqs,
	                 (const uint8_t(*)[A17_SHA256_LEN])hashes, d->n_copies,
	                 *cursor, &n_new);
	if (rv == 0) {
		for (size_t i = 0; i < d->n_copies; i++) {
			if (d->copies[i]->seq > *cursor)
				*cursor = d->copies[i]->seq;
			if (reqs[i] != NULL)
				log_info("stored %s (seq %llu)%s",
				         reqs[i]->request_id,
				         (unsigned long long)d->copies[i]->seq,
				         reqs[i]->exercise ? " [EXERCISE]"
				                           : "");
			if (reqs[i] != NULL && fresh[i])
				hooks_arrival(l->cfg->member, d->copies[i]->seq,
				              reqs[i], d->copies[i]->info);
		}
		a17_crashpoint("agent.after_store");
		take_revisions(l, d);
		pthread_mutex_lock(&l->mtx);
		l->kick = 1;
		pthread_cond_broadcast(&l->cv);
		pthread_mutex_unlock(&l->mtx);
	} else {
		log_warnx("storing delivered copies: %s", a17_strerror(rv));
	}
	for (size_t i = 0; i < d->n_copies; i++)
		wire_msg_fini(&ms[i]);
	free(ms);
	free(reqs);
	free(hashes);
	free(fresh);
	return rv;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The session is gone (either thread). */
static void
deauth(link_t *l)
{
	pthread_mutex_lock(&l->mtx);
	l->authed = 0;
	if (l->unauthed_ms == 0)
		l->unauthed_ms = mono_ms();
	pthread_mutex_unlock(&l->mtx);
}

/*
 * Tests (A17_FAULT=agent.jam_reaper): nng runs this on its reaper thread
 * when it takes a closed connection apart; blocking here jams the reaper
 * for good, as the nng 1.5.2 defect does.
 */
static void
jam_reaper(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)ev;
	(void)arg;
	log_warnx("A17_FAULT agent.jam_reaper: nng's reaper thread stops "
	          "here");
	for (;;)
		pause();
}

/* Every attempt the dialer made (connected, refused, timed out, failed
 * TLS...): nng's statistics for it, summed; 0 if it has none. */
static uint64_t
dial_activity(link_t *l)
{
	nng_stat *root, *d, *c;
	uint64_t sum = 0;

	if (nng_stats_get(&root) != 0)
		return 0;
	if ((d = nng_stat_find_dialer(root, l->dialer)) != NULL)
		for (c = nng_stat_child(d); c != NULL; c = nng_stat_next(c))
			if (nng_stat_type(c) == NNG_STAT_COUNTER)
				sum += nng_stat_value(c);
	nng_stats_free(root);
	return sum;
}

/*
 * The watchdog. nng 1.5.2 can leave its reaper thread stuck on a closed
 * connection (seen in our torture harness; docs/reliability.md). nng redials
 * only after the reaper let go of the old connection, so the agent would then
 * never reach the broker again. The sign: no session for stall_exit_s, every
 * hello timed out before nng found a connection to send it on, and the dialer
 * made no attempt at all in that time (a broker that is down or refuses us
 * makes its counters move). Then only a new process helps.
 */
static int
stalled(link_t *l)
{
	int64_t now = mono_ms(), limit = (int64_t)l->cfg->stall_exit_s * 1000;
	int64_t since;
	uint64_t sum;

	pthread_mutex_lock(&l->mtx);
	since = l->unauthed_ms;
	pthread_mutex_unlock(&l->mtx);
	if (limit <= 0 || since == 0)
		return 0;
	if (l->stat_ms == 0 || now - l->stat_ms >= 5000) {
		l->stat_ms = now;
		sum = dial_activity(l);
		if (l->dial_moved_ms == 0 || sum != l->dial_sum) {
			l->dial_sum = sum;
			l->dial_moved_ms = now;
		}
	}
	return l->send_stuck && now - since >= limit &&
	       now - l->dial_moved_ms >= limit;
}

static const char *
out_name(uint8_t kind)
{
	switch (kind) {
	case OUT_ACCEPT:
		return "acceptance";
	case OUT_READ:
		return "read receipt";
	case OUT_FEEDBACK:
		return "feedback";
	case OUT_CONSULT:
		return "consultation";
	default:
		return "consent change";
	}
}

/* Sends the oldest queued accept, read, feedback or consent change. */
static void
send_other(link_t *l)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__Accept *ac = NULL;
	Art17__ConsentChange *cc = NULL;
	Art17__ReadReceipt *rr = NULL;
	Art17__Feedback *fb = NULL;
	Art17__Consultation *co = NULL;
	uint8_t id[WIRE_MSGID_LEN], kind, *pb, *buf;
	uint64_t key;
	size_t plen, len;
	wire_msg m;
	int rv;

	if (outbox_next_other(l->st, &kind, &key, &pb, &plen) != 0)
		return;
	if (kind == OUT_ACCEPT) {
		ac = art17__accept__unpack(NULL, plen, pb);
		wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_ACCEPT,
		                 l->cfg->member, 0);
		body.payload_case = ART17__BODY__PAYLOAD_ACCEPT;
		body.accept = ac;
	} else if (kind == OUT_FEEDBACK) {
		fb = art17__feedback__unpack(NULL, plen, pb);
		wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_FEEDBACK,
		                 l->cfg->member, 0);
		body.payload_case = ART17__BODY__PAYLOAD_FEEDBACK;
		body.feedback = fb;
	} else if (kind == OUT_CONSULT) {
		co = art17__consultation__unpack(NULL, plen, pb);
		wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_CONSULT,
		                 l->cfg->member, 0);
		body.payload_case = ART17__BODY__PAYLOAD_CONSULT;
		body.consult = co;
	} else if (kind == OUT_READ) {
		rr = art17__read_receipt__unpack(NULL, plen, pb);
		wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_READ,
		                 l->cfg->member, 0);
		body.payload_case = ART17__BODY__PAYLOAD_READ;
		body.read = rr;
	} else {
		cc = art17__consent_change__unpack(NULL, plen, pb);
		wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_CONSENT,
		                 l->cfg->member, 0);
		body.payload_case = ART17__BODY__PAYLOAD_CONSENT;
		body.consent = cc;
	}
	free(pb);
	if (ac == NULL && cc == NULL && rr == NULL && fb == NULL &&
	    co == NULL) {
		outbox_remove(l->st, kind, key); /* undecodable: drop */
		return;
	}
	body.hdr = &hdr;
	rv = seal(l, &body, &buf, &len);
	if (ac)
		art17__accept__free_unpacked(ac, NULL);
	if (cc)
		art17__consent_change__free_unpacked(cc, NULL);
	if (rr)
		art17__read_receipt__free_unpacked(rr, NULL);
	if (fb)
		art17__feedback__free_unpacked(fb, NULL);
	if (co)
		art17__consultation__free_unpacked(co, NULL);
	if (rv != 0 ||
	    call(l, l->send_ctx, l->send_aio, buf, len, 15000, &m) != 0)
		return; /* stays queued; tried again */
	if (m.body->payload_case == ART17__BODY__PAYLOAD_FEEDBACK_OK) {
		log_info("broker stored feedback version %u on %s",
		         m.body->feedback_ok->version,
		         m.body->feedback_ok->request_id);
		outbox_remove(l->st, kind, key);
		pthread_mutex_lock(&l->mtx);
		l->kick = 1;
		pthread_mutex_unlock(&l->mtx);
	} else if (m.body->payload_case == ART17__BODY__PAYLOAD_ACK) {
		log_info("broker confirmed %s %s", out_name(kind),
		         m.body->ack->ref);
		outbox_remove(l->st, kind, key);
		pthread_mutex_lock(&l->mtx);
		l->kick = 1;
		pthread_mutex_unlock(&l->mtx);
	} else if (m.body->payload_case == ART17__BODY__PAYLOAD_ERROR) {
		int code = reply_error(&m);

		if (code == ART17__ERR_CODE__ERR_NOT_AUTHENTICATED)
			deauth(l);
		else if (code == ART17__ERR_CODE__ERR_NOT_ADDRESSED ||
		         code == ART17__ERR_CODE__ERR_INVALID) {
			log_warnx("the broker refused a queued %s; dropped",
			          out_name(kind));
			outbox_remove(l->st, kind, key);
		}
	}
	wire_msg_fini(&m);
}

static void *
sender_main(void *arg)
{
	link_t *l = arg;

	for (;;) {
		Art17__ReceiptItem **items = NULL;
		Art17__Body body = ART17__BODY__INIT;
		Art17__Header hdr;
		Art17__ReceiptBatch rb = ART17__RECEIPT_BATCH__INIT;
		uint8_t id[WIRE_MSGID_LEN];
		uint8_t *buf;
		size_t n = 0, len;
		wire_msg m;
		int rv;

		pthread_mutex_lock(&l->mtx);
		if (!l->stop && (!l->kick || !l->authed)) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&l->cv, &l->mtx, &ts);
		}
		if (l->stop) {
			pthread_mutex_unlock(&l->mtx);
			return NULL;
		}
		l->kick = 0;
		rv = l->authed;
		pthread_mutex_unlock(&l->mtx);
		if (!rv)
			continue;

		if (outbox_receipts(l->st, &items, &n, RECEIPTS_PER_MSG) != 0 ||
		    n == 0) {
			outbox_items_free(items, n);
			send_other(l);
			continue;
		}
		wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_RECEIPT,
		                 l->cfg->member, 0);
		rb.n_items = n;
		rb.items = items;
		body.hdr = &hdr;
		body.payload_case = ART17__BODY__PAYLOAD_RECEIPT;
		body.receipt = &rb;
		if ((rv = seal(l, &body, &buf, &len)) != 0 ||
		    (rv = call(l, l->send_ctx, l->send_aio, buf, len, 15000,
		               &m)) != 0) {
			outbox_items_free(items, n);
			pthread_mutex_lock(&l->mtx);
			l->kick = 1; /* try again */
			pthread_mutex_unlock(&l->mtx);
			continue;
		}
		if (m.body->payload_case == ART17__BODY__PAYLOAD_RECEIPT_OK) {
			uint64_t *seqs = calloc(n, sizeof(*seqs));

			a17_crashpoint("agent.after_receipt");
			for (size_t i = 0; seqs && i < n; i++)
				seqs[i] = items[i]->seq;
			if (seqs && outbox_remove_receipts(l->st, seqs, n) == 0)
				log_debug("%zu receipts confirmed", n);
			free(seqs);
			pthread_mutex_lock(&l->mtx);
			l->kick = 1; /* there may be more */
			pthread_mutex_unlock(&l->mtx);
		} else if (m.body->payload_case == ART17__BODY__PAYLOAD_ERROR) {
			int code = reply_error(&m);

			if (code == ART17__ERR_CODE__ERR_NOT_AUTHENTICATED)
				deauth(l);
			else if (code == ART17__ERR_CODE__ERR_NOT_ADDRESSED) {
				/* permanent: the broker has no such copy */
				uint64_t *seqs = calloc(n, sizeof(*seqs));

				for (size_t i = 0; seqs && i < n; i++)
					seqs[i] = items[i]->seq;
				if (seqs)
					outbox_remove_receipts(l->st, seqs, n);
				free(seqs);
			}
		}
		wire_msg_fini(&m);
		outbox_items_free(items, n);
	}
}

static int
setup_socket(link_t *l)
{
	char path[4096];
	int rv;

	if ((rv = nng_req0_open(&l->sock)) != 0)
		return a17_err_nng(rv);
	nng_socket_set_size(l->sock, NNG_OPT_RECVMAXSZ, WIRE_MAX_MSG);
	nng_socket_set_ms(l->sock, NNG_OPT_RECONNMINT, 100);
	nng_socket_set_ms(l->sock, NNG_OPT_RECONNMAXT, 5000);
	if ((rv = nng_dialer_create(&l->dialer, l->sock, l->cfg->url)) != 0) {
		log_warnx("%s: %s", l->cfg->url, nng_strerror(rv));
		return a17_err_nng(rv);
	}
	if (strncmp(l->cfg->url, "tls+tcp://", 10) == 0) {
		const char *host = l->cfg->url + 10;
		char name[256];
		size_t hl = strcspn(host, ":");
		struct in6_addr a6;
		struct in_addr a4;

		if (host[0] == '[') {
			host++;
			hl = strcspn(host, "]");
		}
		snprintf(name, sizeof(name), "%.*s", (int)hl, host);
		if (l->cfg->server_name != NULL) {
			snprintf(name, sizeof(name), "%s", l->cfg->server_name);
		} else if (inet_pton(AF_INET, name, &a4) == 1 ||
		           inet_pton(AF_INET6, name, &a6) == 1) {
			/* mbedTLS matches DNS names only, never IP addresses */
			if (strncmp(name, "127.", 4) != 0 &&
			    strcmp(name, "::1") != 0) {
				log_warnx(
				    "%s: give --server-name NAME, the DNS "
				    "name in the broker's certificate (TLS "
				    "cannot check an IP address here)",
				    l->cfg->url);
				return A17_EINVAL;
			}
			snprintf(name, sizeof(name), "localhost");
		}
		snprintf(path, sizeof(path), "%s/ca.crt", l->cfg->keydir);
		if ((rv = nng_tls_config_alloc(&l->tls, NNG_TLS_MODE_CLIENT)) !=
		        0 ||
		    (rv = nng_tls_config_auth_mode(
		         l->tls, NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
		    (rv = nng_tls_config_ca_file(l->tls, path)) != 0) {
			log_warnx("TLS CA %s: %s", path, nng_strerror(rv));
			return a17_err_nng(rv);
		}
		snprintf(path, sizeof(path), "%s/tls.pem", l->cfg->keydir);
		if ((rv = nng_tls_config_cert_key_file(l->tls, path, NULL)) !=
		        0 ||
		    (rv = nng_tls_config_server_name(l->tls, name)) != 0 ||
		    (rv = nng_dialer_set_ptr(l->dialer, NNG_OPT_TLS_CONFIG,
		                             l->tls)) != 0) {
			log_warnx("TLS certificate %s: %s", path,
			          nng_strerror(rv));
			return a17_err_nng(rv);
		}
	} else if (strncmp(l->cfg->url, "tcp://", 6) == 0) {
		const char *host = l->cfg->url + 6;

		if (!l->cfg->insecure) {
			log_warnx("%s: plain tcp:// needs --insecure",
			          l->cfg->url);
			return A17_EDENIED;
		}
		if (strncmp(host, "127.", 4) != 0 &&
		    strncmp(host, "localhost:", 10) != 0 &&
		    strncmp(host, "[::1]:", 6) != 0) {
			log_warnx("%s: plaintext is refused to anything but "
			          "loopback",
			          l->cfg->url);
			return A17_EDENIED;
		}
		log_warnx("INSECURE: plain tcp to %s (loopback only)",
		          l->cfg->url);
	} else {
		log_warnx("%s: only tls+tcp:// (or tcp:// with --insecure)",
		          l->cfg->url);
		return A17_EINVAL;
	}
	if (a17_fault("agent.jam_reaper"))
		nng_pipe_notify(l->sock, NNG_PIPE_EV_REM_POST, jam_reaper, l);
	if ((rv = nng_dialer_start(l->dialer, NNG_FLAG_NONBLOCK)) != 0) {
		log_warnx("dial %s: %s", l->cfg->url, nng_strerror(rv));
		return a17_err_nng(rv);
	}
	if ((rv = nng_ctx_open(&l->poll_ctx, l->sock)) != 0 ||
	    (rv = nng_ctx_open(&l->send_ctx, l->sock)) != 0 ||
	    (rv = nng_aio_alloc(&l->poll_aio, NULL, NULL)) != 0 ||
	    (rv = nng_aio_alloc(&l->send_aio, NULL, NULL)) != 0)
		return a17_err_nng(rv);
	/* a held poll must not be resent while it is legitimately held */
	nng_ctx_set_ms(l->poll_ctx, NNG_OPT_REQ_RESENDTIME,
	               NNG_DURATION_INFINITE);
	/* our own retries re-sign with a fresh message id; nng's resend
	 * would repeat the same bytes, which the broker refuses as a replay */
	nng_ctx_set_ms(l->send_ctx, NNG_OPT_REQ_RESENDTIME,
	               NNG_DURATION_INFINITE);
	return 0;
}

/*
 * With keys, store and socket open, an agent started as root becomes
 * run_as (like the broker); without --user it warns and runs on.
 */
static int
drop_privileges(const char *run_as)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	if (run_as == NULL) {
		log_warnx("running as root: give --user NAME to drop "
		          "privileges after start-up");
		return 0;
	}
	if ((pw = getpwnam(run_as)) == NULL) {
		log_warnx("--user %s: no such user", run_as);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0 || setuid(0) == 0) {
		log_warn("dropping privileges to %s", run_as);
		return -1;
	}
	log_info("running as %s (uid %u)", run_as, (unsigned)pw->pw_uid);
	return 0;
}

/* Loads KEYDIR/broker-sign-old/ *.pub, left there by art17-pki
 * rotate-broker. */
static void
load_old_broker_keys(link_t *l)
{
	char dir[4096], path[4400];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/broker-sign-old", l->cfg->keydir);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		a17_key *k, **n;
		size_t nl = strlen(de->d_name);

		if (de->d_name[0] == '.' || nl < 5 ||
		    strcmp(de->d_name + nl - 4, ".pub") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (crypto_key_load(path, &k) != 0) {
			log_warnx("old broker key %s: unreadable, ignored",
			          path);
			continue;
		}
		n = realloc(l->old_broker, (l->n_old_broker + 1) * sizeof(*n));
		if (n == NULL) {
			crypto_key_free(k);
			break;
		}
		l->old_broker = n;
		l->old_broker[l->n_old_broker++] = k;
	}
	closedir(d);
	if (l->n_old_broker > 0)
		log_info("%zu rotated-out broker key(s) trusted for old copies",
		         l->n_old_broker);
}

int
link_run(const agent_cfg *cfg)
{
	link_t l;
	char path[4096];
	pthread_t sender;
	uint64_t cursor = 0;
	int backoff = 100, rv, exit_code = 0;
	struct sigaction sa;

	memset(&l, 0, sizeof(l));
	l.cfg = cfg;
	l.keepalive_ms = 30000;
	l.unauthed_ms = mono_ms(); /* no session yet */
	pthread_mutex_init(&l.mtx, NULL);
	pthread_cond_init(&l.cv, NULL);

	snprintf(path, sizeof(path), "%s/id.key", cfg->keydir);
	if ((rv = crypto_key_load(path, &l.id_key)) != 0) {
		log_warnx("identity key %s: %s", path, a17_strerror(rv));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/broker-sign.pub", cfg->keydir);
	if ((rv = crypto_key_load(path, &l.broker_key)) != 0) {
		log_warnx("broker key %s: %s", path, a17_strerror(rv));
		return 1;
	}
	load_old_broker_keys(&l);
	if ((rv = inbox_open(cfg->datadir, cfg->nosync, &l.st)) != 0) {
		log_warnx("inbox in %s: %s", cfg->datadir, a17_strerror(rv));
		return 1;
	}
	inbox_cursor(l.st, &cursor);
	if (setup_socket(&l) != 0)
		return 1;
	if (drop_privileges(cfg->run_as) != 0)
		return 1;
	if (hooks_start(cfg) != 0)
		return 1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* receipts left from before a restart go out first */
	l.kick = 1;
	if (pthread_create(&sender, NULL, sender_main, &l) != 0)
		return 1;
	log_info("agent %s: dialing %s, cursor %llu", cfg->member, cfg->url,
	         (unsigned long long)cursor);

	while (!got_signal) {
		Art17__Body body = ART17__BODY__INIT;
		Art17__Header hdr;
		Art17__Poll p = ART17__POLL__INIT;
		uint8_t id[WIRE_MSGID_LEN];
		uint8_t *buf;
		size_t len;
		wire_msg m;
		int authed;

		pthread_mutex_lock(&l.mtx);
		authed = l.authed;
		pthread_mutex_unlock(&l.mtx);
		if (!authed) {
			if (hello(&l) != 0) {
				if (stalled(&l)) {
					exit_code = A17_EXIT_STALLED;
					break;
				}
				usleep((useconds_t)backoff * 1000);
				backoff =
				    backoff * 2 > 5000 ? 5000 : backoff * 2;
				continue;
			}
			backoff = 100;
			l.dial_moved_ms = 0;
		}
		wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_POLL,
		                 cfg->member, 0);
		p.cursor = cursor;
		p.max_items = 64;
		body.hdr = &hdr;
		body.payload_case = ART17__BODY__PAYLOAD_POLL;
		body.poll = &p;
		if ((rv = seal(&l, &body, &buf, &len)) != 0)
			break;
		rv = call(&l, l.poll_ctx, l.poll_aio, buf, len,
		          (int)l.keepalive_ms + 10000, &m);
		if (rv == A17_ETIMEDOUT || rv == A17_ECLOSED) {
			/* broker silent past the keep-alive: start over */
			deauth(&l);
			continue;
		}
		if (rv != 0) {
			usleep(200 * 1000);
			continue;
		}
		if (m.body->payload_case == ART17__BODY__PAYLOAD_DELIVER) {
			if (take_deliver(&l, m.body->deliver, &cursor) != 0)
				usleep(500 * 1000);
		} else if (m.body->payload_case == ART17__BODY__PAYLOAD_ERROR) {
			int code = reply_error(&m);

			/* a poll repeated by nng on a new connection comes
			 * back as a replay: start that session over */
			if (code == ART17__ERR_CODE__ERR_NOT_AUTHENTICATED ||
			    code == ART17__ERR_CODE__ERR_REPLAY)
				deauth(&l);
			else
				usleep(500 * 1000);
		}
		wire_msg_fini(&m);
	}

	if (exit_code == A17_EXIT_STALLED) {
		log_warnx("A17-E0503 no session with the broker for %d s, and "
		          "nng has not tried to connect once in that time "
		          "(stuck inside nng 1.5.2; see art17-agent(8)): "
		          "exiting with status %d so that the service manager "
		          "starts the agent again",
		          cfg->stall_exit_s, A17_EXIT_STALLED);
		/* the inbox is closed cleanly; nng_close is skipped, as it
		 * would wait for the stuck thread for ever */
		pthread_mutex_lock(&l.mtx);
		l.stop = 1;
		pthread_cond_broadcast(&l.cv);
		pthread_mutex_unlock(&l.mtx);
		pthread_join(sender, NULL);
		hooks_stop();
		store_close(l.st);
		_exit(A17_EXIT_STALLED);
	}
	log_info("stopping");
	pthread_mutex_lock(&l.mtx);
	l.stop = 1;
	pthread_cond_broadcast(&l.cv);
	pthread_mutex_unlock(&l.mtx);
	nng_close(l.sock);
	pthread_join(sender, NULL);
	hooks_stop();
	nng_aio_free(l.poll_aio);
	nng_aio_free(l.send_aio);
	if (l.tls)
		nng_tls_config_free(l.tls);
	store_close(l.st);
	crypto_key_free(l.id_key);
	crypto_key_free(l.broker_key);
	for (size_t i = 0; i < l.n_old_broker; i++)
		crypto_key_free(l.old_broker[i]);
	free(l.old_broker);
	return 0;
}
