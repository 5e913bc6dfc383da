/*
 * net.c: the agent endpoint.
 *
 * A REP socket with one nng context per outstanding request. A poll with
 * nothing to deliver is *held*: its context stays parked on the member
 * until a request is issued for that member (net_kick_members) or the
 * keep-alive runs out. Replies that confirm stored state (deliveries
 * marked delivered, receipts) are sent only from the writer's completion,
 * after the commit returned.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>

#include "broker.h"
#include "feedback.h"
#include "gate.h"
#include "err.h"
#include "quota.h"
#include "reaper.h"
#include "log.h"
#include "wire.h"

#define RECV_MIN       8  /* contexts kept receiving */
#define RECV_MAX       64 /* more than this go idle after a send */
#define DELIVER_MAX    64 /* copies per Deliver */
#define DELIVER_BYTES  (WIRE_MAX_MSG - 64 * 1024) /* stop adding copies */
#define WITHDRAWN_MAX  256 /* withdrawn seqs reported per Deliver */
#define NONCE_LEN      32
#define NONCE_TTL_MS   30000
#define TIME_WINDOW_MS (5 * 60 * 1000)

enum { HC_IDLE, HC_RECV, HC_BUSY, HC_HELD, HC_SEND };

typedef struct copy_out {
	uint64_t seq;
	uint8_t *env;
	size_t env_len;
	Art17__Ground *ground; /* unpacked, owned */
	Art17__Sealed *sealed; /* unpacked, owned: for staff in force now */
} copy_out;

typedef struct hctx {
	nng_ctx ctx;
	nng_aio *aio;
	int state;
	member *m;
	uint64_t cursor;
	int64_t held_since;
	uint32_t pipe;  /* the connection a held poll came on */
	uint32_t rpipe; /* the connection of the request being served, 0 */
	struct hctx *next_all;
	struct hctx *next_idle;
	store_op op;
	/* deliver op */
	copy_out copies[DELIVER_MAX];
	size_t n_copies;
	uint64_t withdrawn[WITHDRAWN_MAX]; /* seqs the agent skips */
	size_t n_withdrawn;
	/* receipt op: the opened message lives until the op is done */
	wire_msg wm;
	void *aux; /* op-specific state (consent_op) */
	Art17__ReceiptBatch *rb;
	uint8_t *okv; /* per item: stored (1) or refused (0) */
	uint8_t *raw;
	size_t raw_len;
} hctx;

typedef struct session {
	uint32_t pipe;
	member *m;
	uint8_t nonce[NONCE_LEN];
	int64_t nonce_exp;
	int bound;
} session;

/* Message ids seen per sender within the time window (replay guard). */
typedef struct seen {
	uint32_t member_no;
	uint8_t id[WIRE_MSGID_LEN];
	int64_t t;         /* arrival */
	int64_t msg_time;  /* the sender's header time */
	struct seen *next; /* FIFO by arrival, for expiry */
} seen;

static void *seen_tree;
static seen *seen_head, *seen_tail;
static size_t n_seen;
/*
 * The set is bounded: at SEEN_MAX entries (about 40 MiB) the oldest is
 * evicted early, and seen_floor rises to its message time. A message whose
 * time is not above the floor is then refused as stale, so an evicted id
 * can never be replayed. Env A17_SEEN_MAX lowers the bound (tests).
 */
#define SEEN_MAX ((size_t)1 << 19)
static size_t seen_max;
static int64_t seen_floor;

/*
 * Every agent connection the broker took (NNG_PIPE_EV_ADD_PRE), with its
 * requests outstanding. Bounded by max_pipes, from the descriptor limit:
 * the admin socket and the dashboard keep descriptors to work with when
 * more agents connect than the limit allows (quota.h).
 */
typedef struct pipe_ent {
	uint32_t id;
	uint32_t inflight; /* requests received and not yet answered */
	int added;         /* counted in b->n_connected */
	int refused;       /* over the cap: not counted, closed soon */
} pipe_ent;

/*
 * Connections refused at the cap, closed by the sweeper once they are at
 * least CLOSE_DELAY_MS old. Closing inside NNG_PIPE_EV_ADD_PRE would reach
 * an nng 1.5.2 dialer while it still reads the SP header: it takes that
 * for its own socket closing and never dials again (an agent refused once
 * would stay away for good; seen in fd_limit).
 */
#define CLOSE_QUEUE    256
#define CLOSE_DELAY_MS 100
static struct {
	nng_pipe p;
	int64_t t;
} close_q[CLOSE_QUEUE];
static size_t n_close_q;

static void *pipe_tree;
static uint32_t n_pipes;
static uint32_t max_pipes = UINT32_MAX;
static uint64_t nofile;
/* log lines that peers (or a flood of them) can provoke */
static quota_rate rl_cap = {10000, 0, 0};
static quota_rate rl_inflight = {10000, 0, 0};
static quota_rate rl_nofile = {10000, 0, 0};

static hctx *all_ctx;
static hctx *idle_ctx;
static int n_recv;
static nng_listener listener;
static nng_tls_config *tls_cfg;
static pthread_t sweeper;
static int sweeper_started;

static void hctx_cb(void *arg);
static void recv_more(broker *b);

static int
cmp_session(const void *a, const void *b)
{
	uint32_t x = ((const session *)a)->pipe, y = ((const session *)b)->pipe;

	return x < y ? -1 : x > y;
}

static int
cmp_pipe(const void *a, const void *b)
{
	uint32_t x = ((const pipe_ent *)a)->id, y = ((const pipe_ent *)b)->id;

	return x < y ? -1 : x > y;
}

/* The connection's entry, or NULL once it is gone. Caller holds b->mtx. */
static pipe_ent *
pipe_find(uint32_t id)
{
	pipe_ent q, **r;

	q.id = id;
	r = tfind(&q, &pipe_tree, cmp_pipe);
	return r ? *r : NULL;
}

/* " (N more in the last 10 s)" when a rate limit held lines back. */
static const char *
skipped_note(char *buf, size_t len, uint64_t skipped, const quota_rate *r)
{
	buf[0] = '\0';
	if (skipped > 0)
		snprintf(buf, len, " (%llu more in the last %lld s)",
		         (unsigned long long)skipped,
		         (long long)(r->interval_ms / 1000));
	return buf;
}

static session *
session_find(broker *b, uint32_t pipe)
{
	session q, **r;

	q.pipe = pipe;
	r = tfind(&q, &b->sessions, cmp_session);
	return r ? *r : NULL;
}

static int
cmp_seen(const void *a, const void *b)
{
	const seen *x = a, *y = b;

	if (x->member_no != y->member_no)
		return x->member_no < y->member_no ? -1 : 1;
	return memcmp(x->id, y->id, WIRE_MSGID_LEN);
}

/*
 * Records (member, msg_id). Returns 1 when it was seen already: a replay;
 * 2 when msg_time is at or below the floor of evicted entries (stale).
 * Entries older than twice the time window are dropped; older messages
 * are refused as stale before they get here. Caller holds b->mtx.
 */
static int
seen_check(uint32_t member_no, const uint8_t *id, int64_t msg_time, int64_t now)
{
	seen q, *e;

	if (seen_max == 0) {
		const char *env = getenv("A17_SEEN_MAX");

		seen_max =
		    env != NULL && atol(env) > 0 ? (size_t)atol(env) : SEEN_MAX;
	}
	if (msg_time <= seen_floor)
		return 2;

	while (seen_head != NULL && seen_head->t < now - 2 * TIME_WINDOW_MS) {
		e = seen_head;
		seen_head = e->next;
		if (seen_head == NULL)
			seen_tail = NULL;
		tdelete(e, &seen_tree, cmp_seen);
		free(e);
		n_seen--;
	}
	q.member_no = member_no;
	memcpy(q.id, id, WIRE_MSGID_LEN);
	if (tfind(&q, &seen_tree, cmp_seen) != NULL)
		return 1;
	if (n_seen >= seen_max && seen_head != NULL) {
		e = seen_head;
		if (e->msg_time > seen_floor) {
			if (seen_floor == 0)
				log_warnx("replay guard full (%zu ids): "
				          "evicting early, refusing older "
				          "messages as stale",
				          n_seen);
			seen_floor = e->msg_time;
		}
		seen_head = e->next;
		if (seen_head == NULL)
			seen_tail = NULL;
		tdelete(e, &seen_tree, cmp_seen);
		free(e);
		n_seen--;
		if (msg_time <= seen_floor)
			return 2;
	}
	if ((e = malloc(sizeof(*e))) == NULL)
		return 0; /* cannot remember: let it through, still signed */
	*e = q;
	e->t = now;
	e->msg_time = msg_time;
	e->next = NULL;
	if (tsearch(e, &seen_tree, cmp_seen) == NULL) {
		free(e);
		return 0;
	}
	if (seen_tail != NULL)
		seen_tail->next = e;
	else
		seen_head = e;
	seen_tail = e;
	n_seen++;
	return 0;
}

static void
copies_clear(hctx *h)
{
	for (size_t i = 0; i < h->n_copies; i++) {
		free(h->copies[i].env);
		if (h->copies[i].ground)
			art17__ground__free_unpacked(h->copies[i].ground, NULL);
		if (h->copies[i].sealed)
			art17__sealed__free_unpacked(h->copies[i].sealed, NULL);
	}
	h->n_copies = 0;
}

/*
 * Frees what h holds for the request it answers: copies, the opened
 * message and the receipt's state. h->aux is the op's and is only
 * forgotten here: the op's done function frees it.
 */
static void
hctx_release(hctx *h)
{
	copies_clear(h);
	h->n_withdrawn = 0;
	free(h->okv);
	h->okv = NULL;
	free(h->raw);
	h->raw = NULL;
	h->raw_len = 0;
	h->rb = NULL;
	h->aux = NULL;
	wire_msg_fini(&h->wm);
}

/* ------------------------------------------------------------ sending */

/* Puts h back to work: receiving if receivers are short, else idle. */
static void
hctx_recycle(hctx *h)
{
	int recv;

	pthread_mutex_lock(&a17b.mtx);
	if (h->rpipe != 0) {
		pipe_ent *e = pipe_find(h->rpipe);

		/* answered (or given up): one fewer outstanding */
		if (e != NULL && e->inflight > 0)
			e->inflight--;
		h->rpipe = 0;
	}
	h->m = NULL;
	recv = !a17b.stopping && n_recv < RECV_MAX;
	if (recv) {
		n_recv++;
		h->state = HC_RECV;
	} else {
		h->state = HC_IDLE;
		h->next_idle = idle_ctx;
		idle_ctx = h;
	}
	pthread_mutex_unlock(&a17b.mtx);
	if (recv)
		nng_ctx_recv(h->ctx, h->aio);
}

/*
 * Sends buf (taking it) as the reply on h. From here on h is not the
 * caller's: once nng has it, its completion may recycle it and another
 * thread may take it for the next request at once. So what h holds for
 * this request is freed first (buf was already built from it), and the
 * caller must not touch h after this call (it did: ThreadSanitizer).
 */
static void
hctx_send(hctx *h, uint8_t *buf, size_t len)
{
	nng_msg *msg = NULL;

	hctx_release(h);
	if (buf == NULL || nng_msg_alloc(&msg, 0) != 0 ||
	    nng_msg_append(msg, buf, len) != 0) {
		/* cannot answer: the REQ side times out and resends */
		if (msg != NULL)
			nng_msg_free(msg);
		free(buf);
		hctx_recycle(h);
		return;
	}
	free(buf);
	h->state = HC_SEND;
	nng_aio_set_msg(h->aio, msg);
	nng_ctx_send(h->ctx, h->aio);
}

static void
send_error(hctx *h, Art17__ErrCode code, const char *msgid, const char *detail)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	if (wire_error(a17b.sign_key, "broker", code, msgid, detail, &buf,
	               &len) != 0)
		buf = NULL;
	hctx_send(h, buf, len);
}

static void
send_body(hctx *h, Art17__Body *body, int sign)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	if (wire_seal(body, sign ? a17b.sign_key : NULL, &buf, &len) != 0)
		buf = NULL;
	hctx_send(h, buf, len);
}

/* Builds and sends a Deliver from h->copies. */
static void
send_deliver(hctx *h)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__Deliver dl = ART17__DELIVER__INIT;
	Art17__Copy cp[DELIVER_MAX], *cpp[DELIVER_MAX];
	Art17__CopyInfo ci[DELIVER_MAX];
	uint8_t id[WIRE_MSGID_LEN];
	uint64_t last;
	reminder *rem;
	size_t n_rem;
	Art17__Reminder **rp = NULL, *rs = NULL;
	revision *rev;
	size_t n_rev;
	ProtobufCBinaryData *revb = NULL;

	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_DELIVER, "broker", 0);
	for (size_t i = 0; i < h->n_copies; i++) {
		art17__copy__init(&cp[i]);
		art17__copy_info__init(&ci[i]);
		cp[i].seq = h->copies[i].seq;
		cp[i].request_env.data = h->copies[i].env;
		cp[i].request_env.len = h->copies[i].env_len;
		ci[i].member_id = h->m->id;
		ci[i].ground = h->copies[i].ground;
		ci[i].sealed = h->copies[i].sealed;
		cp[i].info = &ci[i];
		cpp[i] = &cp[i];
	}
	pthread_mutex_lock(&a17b.mtx);
	last = h->m->last_seq;
	/* reminders ride on the next reply to this member */
	rem = h->m->rem;
	n_rem = h->m->n_rem;
	h->m->rem = NULL;
	h->m->n_rem = 0;
	rev = h->m->rev;
	n_rev = h->m->n_rev;
	h->m->rev = NULL;
	h->m->n_rev = 0;
	pthread_mutex_unlock(&a17b.mtx);
	if (n_rem > 0 && (rp = calloc(n_rem, sizeof(*rp))) != NULL &&
	    (rs = calloc(n_rem, sizeof(*rs))) != NULL) {
		for (size_t i = 0; i < n_rem; i++) {
			art17__reminder__init(&rs[i]);
			rs[i].request_id = rem[i].request_id;
			rs[i].seq = rem[i].seq;
			rs[i].deadline_ms = rem[i].deadline_ms;
			rs[i].text = "the response deadline has passed; please "
			             "acknowledge and answer";
			rp[i] = &rs[i];
		}
		dl.n_reminders = n_rem;
		dl.reminders = rp;
	}
	if (n_rev > 0 && (revb = calloc(n_rev, sizeof(*revb))) != NULL) {
		for (size_t i = 0; i < n_rev; i++) {
			revb[i].data = rev[i].env;
			revb[i].len = rev[i].len;
		}
		dl.n_revisions = n_rev;
		dl.revisions = revb;
	}
	dl.n_copies = h->n_copies;
	dl.copies = cpp;
	dl.cursor = last;
	dl.n_withdrawn = h->n_withdrawn;
	dl.withdrawn = h->withdrawn;
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_DELIVER;
	body.deliver = &dl;
	/* Channel-authenticated: the copies inside carry the broker's
	 * signature; see docs/protocol.md. */
	send_body(h, &body, 0); /* frees h->copies: see hctx_send */
	free(rp);
	free(rs);
	free(rem);
	for (size_t i = 0; i < n_rev; i++)
		free(rev[i].env);
	free(rev);
	free(revb);
}

/* ------------------------------------------------------------ deliver */

/*
 * The sealed content as it may be delivered now: only the wrapped keys of
 * staff who are in force at this instant (an abolished person stops
 * receiving from the change's effective time). *out is an owned copy.
 */
static int
sealed_for_now(store_txn *t, uint32_t member_no, int64_t now,
               const Art17__Sealed *s, Art17__Sealed **out)
{
	Art17__Sealed fs = *s;
	Art17__WrappedKey **keep;
	staff_key *sk = NULL;
	size_t n = 0, nk = 0, len;
	uint8_t *buf;
	int rv;

	*out = NULL;
	if ((rv = staff_eligible(t, member_no, now, &sk, &n)) != 0)
		return rv;
	if ((keep = calloc(s->n_keys ? s->n_keys : 1, sizeof(*keep))) == NULL) {
		free(sk);
		return A17_ENOMEM;
	}
	for (size_t i = 0; i < s->n_keys; i++)
		for (size_t j = 0; j < n; j++)
			if (strcmp(s->keys[i]->staff_id, sk[j].staff_id) == 0) {
				keep[nk++] = s->keys[i];
				break;
			}
	fs.n_keys = nk;
	fs.keys = keep;
	len = art17__sealed__get_packed_size(&fs);
	if ((buf = malloc(len ? len : 1)) == NULL) {
		free(keep);
		free(sk);
		return A17_ENOMEM;
	}
	art17__sealed__pack(&fs, buf);
	*out = art17__sealed__unpack(NULL, len, buf);
	free(buf);
	free(keep);
	free(sk);
	return *out ? 0 : A17_ENOMEM;
}

static int
apply_deliver(store_txn *t, void *arg)
{
	hctx *h = arg;
	store_iter it;
	store_key p, from;
	MDB_val k, v;
	size_t bytes;
	int rv;
	int64_t now = wire_now_ms();

	copies_clear(h);
	h->n_withdrawn = 0;
	bytes = 0;
	store_key_init(&p);
	store_key_u32(&p, h->m->no);
	db_delivery_key(&from, h->m->no, h->cursor + 1);
	if ((rv = store_iter_from(t, DB_DELIVERIES, p.buf, p.len, from.buf,
	                          from.len, &it)) != 0)
		return rv;
	while (h->n_copies < DELIVER_MAX && h->n_withdrawn < WITHDRAWN_MAX &&
	       bytes < DELIVER_BYTES &&
	       (rv = store_iter_next(&it, &k, &v)) == 1) {
		Art17__DeliveryRecord *d;
		Art17__RequestRecord *r;
		store_key rk;
		MDB_val rv_;
		copy_out *c;
		uint64_t seq = store_get_u64((const uint8_t *)k.mv_data + 4);
		Art17__Ground ng = ART17__GROUND__INIT, *saved_ground;
		reg_verdict vd;
		size_t csize;
		int first;

		d = art17__delivery_record__unpack(NULL, v.mv_size, v.mv_data);
		if (d == NULL) {
			rv = A17_ECORRUPT;
			break;
		}
		if (d->state == ART17__DELIVERY_STATE__DS_WITHDRAWN) {
			h->withdrawn[h->n_withdrawn++] = seq;
			art17__delivery_record__free_unpacked(d, NULL);
			continue;
		}
		store_key_init(&rk);
		store_key_u64(&rk, d->request_no);
		if (store_get(t, DB_REQUESTS, &rk, &rv_) != 0) {
			art17__delivery_record__free_unpacked(d, NULL);
			rv = A17_ECORRUPT;
			break;
		}
		r = art17__request_record__unpack(NULL, rv_.mv_size,
		                                  rv_.mv_data);
		if (r == NULL) {
			art17__delivery_record__free_unpacked(d, NULL);
			rv = A17_ECORRUPT;
			break;
		}
		first = d->state == ART17__DELIVERY_STATE__DS_QUEUED ||
		        (d->state == ART17__DELIVERY_STATE__DS_OVERDUE &&
		         d->delivered_ms == 0);
		saved_ground = d->ground;
		if (first) {
			/* Invariant 1: the gate holds at the moment of
			 * delivery, or the copy is withdrawn, never sent. */
			if ((rv = reg_gate(t, r->kind, r->incident_id,
			                   r->exercise, h->m->no, now, &vd)) !=
			    0) {
				art17__request_record__free_unpacked(r, NULL);
				art17__delivery_record__free_unpacked(d, NULL);
				break;
			}
			if (!vd.allow) {
				char *old = d->reason;

				d->state = ART17__DELIVERY_STATE__DS_WITHDRAWN;
				d->reason = (char *)gate_reason_code(vd.reason);
				reg_put_delivery(t, h->m->no, seq, d);
				d->reason = old;
				audit_append(t, "broker", "copy.withdraw",
				             h->m->id, r->exercise,
				             "request %s seq %llu withdrawn at "
				             "delivery: "
				             "%s (%s)",
				             r->request_id,
				             (unsigned long long)seq,
				             gate_reason_code(vd.reason),
				             gate_reason_text(vd.reason));
				h->withdrawn[h->n_withdrawn++] = seq;
				art17__request_record__free_unpacked(r, NULL);
				art17__delivery_record__free_unpacked(d, NULL);
				continue;
			}
			ng.kind = vd.ground;
			ng.incident_id = r->incident_id;
			ng.declared_ms = vd.declared_ms;
			ng.consent_ref = vd.consent_ref;
			d->ground = &ng;
		}
		csize =
		    r->envelope.len +
		    (d->sealed ? art17__sealed__get_packed_size(d->sealed) : 0);
		if (h->n_copies > 0 && bytes + csize > DELIVER_BYTES) {
			/* the rest goes in the next Deliver: every reply
			 * stays under the size cap */
			d->ground = saved_ground;
			art17__request_record__free_unpacked(r, NULL);
			art17__delivery_record__free_unpacked(d, NULL);
			rv = 0;
			break;
		}
		bytes += csize;
		c = &h->copies[h->n_copies];
		c->seq = seq;
		c->env_len = r->envelope.len;
		c->env = malloc(c->env_len ? c->env_len : 1);
		c->ground = NULL;
		if (c->env == NULL) {
			d->ground = saved_ground;
			art17__request_record__free_unpacked(r, NULL);
			art17__delivery_record__free_unpacked(d, NULL);
			rv = A17_ENOMEM;
			break;
		}
		memcpy(c->env, r->envelope.data, c->env_len);
		c->sealed = NULL;
		if (d->sealed != NULL &&
		    (rv = sealed_for_now(t, h->m->no, now, d->sealed,
		                         &c->sealed)) != 0) {
			d->ground = saved_ground;
			art17__request_record__free_unpacked(r, NULL);
			art17__delivery_record__free_unpacked(d, NULL);
			free(c->env);
			c->env = NULL;
			break;
		}
		if (d->ground != NULL) {
			uint8_t gb[512];
			size_t gl = art17__ground__get_packed_size(d->ground);

			if (gl <= sizeof(gb)) {
				art17__ground__pack(d->ground, gb);
				c->ground = art17__ground__unpack(NULL, gl, gb);
			}
		}
		h->n_copies++;
		if (first) {
			d->state = ART17__DELIVERY_STATE__DS_DELIVERED;
			d->delivered_ms = now;
			d->deliveries++;
			reg_put_delivery(t, h->m->no, seq, d);
			audit_append(
			    t, "broker", "copy.deliver", h->m->id, r->exercise,
			    "request %s seq %llu delivered on ground %s%s%s",
			    r->request_id, (unsigned long long)seq,
			    gate_reason_code(vd.reason),
			    vd.consent_ref[0] ? ", consent " : "",
			    vd.consent_ref);
		}
		d->ground = saved_ground;
		art17__request_record__free_unpacked(r, NULL);
		art17__delivery_record__free_unpacked(d, NULL);
		rv = 0;
	}
	store_iter_end(&it);
	if (rv < 0)
		return rv;
	return t->rv;
}

static void
done_deliver(void *arg, int rv)
{
	hctx *h = arg;

	if (rv != 0) {
		log_warnx("deliver to %s: %s", h->m->id, a17_strerror(rv));
		copies_clear(h);
		send_error(h, ART17__ERR_CODE__ERR_INTERNAL, "A17-E0201",
		           "store failure");
		return;
	}
	a17_crashpoint("broker.after_deliver_commit");
	send_deliver(h);
}

static void
start_deliver(hctx *h)
{
	h->state = HC_BUSY;
	h->op.apply = apply_deliver;
	h->op.done = done_deliver;
	h->op.arg = h;
	if (store_writer_submit(a17b.wr, &h->op) != 0)
		done_deliver(h, A17_ECLOSED);
}

/* Completes a held poll with nothing in it (keep-alive). */
static void
release_empty(hctx *h)
{
	h->n_copies = 0;
	h->n_withdrawn = 0;
	send_deliver(h);
}

void
net_kick_members(broker *b, const uint32_t *nos, size_t n)
{
	hctx *kick = NULL;

	pthread_mutex_lock(&b->mtx);
	for (size_t i = 0; i < n; i++) {
		member *m = nos[i] < b->n_members ? b->members[nos[i]] : NULL;
		hctx *h;

		if (m == NULL || (h = m->held) == NULL)
			continue;
		if (m->last_seq <= h->cursor && m->n_rem == 0 && m->n_rev == 0)
			continue;
		m->held = NULL;
		h->state = HC_BUSY;
		h->next_idle = kick;
		kick = h;
	}
	pthread_mutex_unlock(&b->mtx);
	while (kick != NULL) {
		hctx *h = kick;

		kick = h->next_idle;
		h->next_idle = NULL;
		start_deliver(h);
	}
}

/* ------------------------------------------------------------ receipts */

/* The SHA-256 of request_no's signed body, as stored at issue time. */
static int
request_hash(store_txn *t, uint64_t request_no, uint8_t out[A17_SHA256_LEN])
{
	Art17__RequestRecord *r;
	store_key k;
	MDB_val v;
	int rv = A17_ECORRUPT;

	store_key_init(&k);
	store_key_u64(&k, request_no);
	if (store_get(t, DB_REQUESTS, &k, &v) != 0)
		return A17_ECORRUPT;
	r = art17__request_record__unpack(NULL, v.mv_size, v.mv_data);
	if (r != NULL && r->body_hash.len == A17_SHA256_LEN) {
		memcpy(out, r->body_hash.data, A17_SHA256_LEN);
		rv = 0;
	}
	if (r != NULL)
		art17__request_record__free_unpacked(r, NULL);
	return rv;
}

/*
 * Stores the receipts of a batch. An item for a copy that is not the
 * sender's, not delivered, or for other bytes than were sent is refused
 * alone (h->okv[i] = 0); the others are stored.
 */
static int
apply_receipt(store_txn *t, void *arg)
{
	hctx *h = arg;
	int64_t now = wire_now_ms();

	for (size_t i = 0; i < h->rb->n_items; i++) {
		Art17__ReceiptItem *it = h->rb->items[i];
		Art17__DeliveryRecord *d;
		uint8_t want[A17_SHA256_LEN];
		store_key k;
		MDB_val v;

		h->okv[i] = 0;
		db_delivery_key(&k, h->m->no, it->seq);
		if (store_get(t, DB_DELIVERIES, &k, &v) != 0)
			continue;
		d = art17__delivery_record__unpack(NULL, v.mv_size, v.mv_data);
		if (d == NULL)
			return A17_ECORRUPT;
		if (it->request_id == NULL ||
		    strcmp(d->request_id, it->request_id) != 0 ||
		    d->delivered_ms == 0 ||
		    d->state == ART17__DELIVERY_STATE__DS_WITHDRAWN ||
		    request_hash(t, d->request_no, want) != 0 ||
		    it->request_hash.len != A17_SHA256_LEN ||
		    crypto_memeq(it->request_hash.data, want, A17_SHA256_LEN) !=
		        0) {
			art17__delivery_record__free_unpacked(d, NULL);
			continue;
		}
		h->okv[i] = 1;
		if (d->state == ART17__DELIVERY_STATE__DS_DELIVERED ||
		    d->state == ART17__DELIVERY_STATE__DS_OVERDUE) {
			d->state = ART17__DELIVERY_STATE__DS_ACKED;
			d->acked_ms = now;
			/* the signed batch, verbatim, for the record */
			d->receipt_env.data = h->raw;
			d->receipt_env.len = h->raw_len;
			reg_put_delivery(t, h->m->no, it->seq, d);
			audit_append(
			    t, h->m->id, "copy.ack", h->m->id, 0,
			    "signed receipt for request %s seq %llu stored",
			    d->request_id, (unsigned long long)it->seq);
			/* not owned by d: do not let free_unpacked free it */
			d->receipt_env.data = NULL;
			d->receipt_env.len = 0;
		}
		/* acked already: idempotent (REQ resends) */
		art17__delivery_record__free_unpacked(d, NULL);
	}
	return t->rv;
}

static void
done_receipt(void *arg, int rv)
{
	hctx *h = arg;
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__ReceiptOk ok = ART17__RECEIPT_OK__INIT;
	uint8_t id[WIRE_MSGID_LEN];
	uint64_t *seqs = NULL;
	size_t n_ok = 0;

	if (rv != 0) {
		log_warnx("receipt from %s: %s", h->m->id, a17_strerror(rv));
		send_error(h, ART17__ERR_CODE__ERR_INTERNAL, "A17-E0202",
		           "store failure");
		return;
	}
	for (size_t i = 0; i < h->rb->n_items; i++) {
		if (h->okv[i]) {
			n_ok++;
			continue;
		}
		log_reject("A17-W0112",
		           "receipt from %s for seq %llu: not a copy "
		           "delivered to it, or for other bytes",
		           h->m->id, (unsigned long long)h->rb->items[i]->seq);
	}
	if (n_ok == 0) {
		send_error(h, ART17__ERR_CODE__ERR_NOT_ADDRESSED, "A17-W0112",
		           "receipt for a copy not addressed to the sender");
		return;
	}
	a17_crashpoint("broker.after_receipt_commit");
	seqs = calloc(n_ok, sizeof(*seqs));
	n_ok = 0;
	for (size_t i = 0; seqs && i < h->rb->n_items; i++)
		if (h->okv[i])
			seqs[n_ok++] = h->rb->items[i]->seq;
	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_RECEIPT_OK, "broker",
	                 0);
	ok.n_seqs = seqs ? n_ok : 0;
	ok.seqs = seqs;
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_RECEIPT_OK;
	body.receipt_ok = &ok;
	send_body(h, &body, 0); /* frees h->okv, h->raw, h->wm */
	free(seqs);
}

/* ------------------------------------------------ accept and consent */

static int
apply_accept(store_txn *t, void *arg)
{
	hctx *h = arg;
	Art17__Accept *ac = h->wm.body->accept;
	Art17__DeliveryRecord *d;
	store_key k;
	MDB_val v;

	db_delivery_key(&k, h->m->no, ac->seq);
	if (store_get(t, DB_DELIVERIES, &k, &v) != 0)
		return A17_ENOTFOUND;
	d = art17__delivery_record__unpack(NULL, v.mv_size, v.mv_data);
	if (d == NULL)
		return A17_ECORRUPT;
	if (ac->request_id == NULL || strcmp(d->request_id, ac->request_id) ||
	    d->delivered_ms == 0 ||
	    d->state == ART17__DELIVERY_STATE__DS_WITHDRAWN) {
		art17__delivery_record__free_unpacked(d, NULL);
		return A17_ENOTFOUND;
	}
	if (d->accepted_ms == 0) {
		d->accepted_ms =
		    ac->accepted_ms ? ac->accepted_ms : wire_now_ms();
		if (d->state != ART17__DELIVERY_STATE__DS_ANSWERED)
			d->state = ART17__DELIVERY_STATE__DS_ACCEPTED;
		if (d->acked_ms == 0)
			d->acked_ms = d->accepted_ms;
		reg_put_delivery(t, h->m->no, ac->seq, d);
		audit_append(t, h->m->id, "copy.accept", h->m->id, 0,
		             "request %s seq %llu accepted by %s at the member",
		             d->request_id, (unsigned long long)ac->seq,
		             ac->person ? ac->person : "?");
	}
	art17__delivery_record__free_unpacked(d, NULL);
	return t->rv;
}

/* A person at the member opened the sealed content: record it. */
static int
apply_read(store_txn *t, void *arg)
{
	hctx *h = arg;
	Art17__ReadReceipt *rr = h->wm.body->read;
	Art17__DeliveryRecord *d;
	Art17__ReadReceipt **reads, nr = ART17__READ_RECEIPT__INIT;
	store_key k;
	MDB_val v;
	uint64_t no, seq;

	if (rr->request_id == NULL || rr->staff_id == NULL ||
	    rr->staff_id[0] == '\0')
		return A17_ENOTFOUND;
	store_key_init(&k);
	store_key_str(&k, rr->request_id);
	if (store_get(t, DB_REQIDS, &k, &v) != 0 || v.mv_size != 8)
		return A17_ENOTFOUND;
	no = store_get_u64(v.mv_data);
	store_key_init(&k);
	store_key_u64(&k, no);
	store_key_u32(&k, h->m->no);
	if (store_get(t, DB_BYCOPY, &k, &v) != 0 || v.mv_size != 8)
		return A17_ENOTFOUND; /* not addressed to the sender */
	seq = store_get_u64(v.mv_data);
	db_delivery_key(&k, h->m->no, seq);
	if (store_get(t, DB_DELIVERIES, &k, &v) != 0)
		return A17_ENOTFOUND;
	d = art17__delivery_record__unpack(NULL, v.mv_size, v.mv_data);
	if (d == NULL)
		return A17_ECORRUPT;
	if (d->sealed == NULL || d->delivered_ms == 0) {
		art17__delivery_record__free_unpacked(d, NULL);
		return A17_ENOTFOUND;
	}
	nr.request_id = rr->request_id;
	nr.staff_id = rr->staff_id;
	nr.read_ms = rr->read_ms;
	reads = malloc((d->n_reads + 1) * sizeof(*reads));
	if (reads == NULL) {
		art17__delivery_record__free_unpacked(d, NULL);
		return A17_ENOMEM;
	}
	if (d->n_reads > 0)
		memcpy(reads, d->reads, d->n_reads * sizeof(*reads));
	reads[d->n_reads] = &nr;
	{
		Art17__ReadReceipt **old = d->reads;
		size_t oldn = d->n_reads;

		d->reads = reads;
		d->n_reads = oldn + 1;
		reg_put_delivery(t, h->m->no, seq, d);
		d->reads = old;
		d->n_reads = oldn;
	}
	free(reads);
	audit_append(t, h->m->id, "copy.read", h->m->id, 0,
	             "sealed content of request %s opened by staff %s",
	             rr->request_id, rr->staff_id);
	art17__delivery_record__free_unpacked(d, NULL);
	return t->rv;
}

static void
send_ack(hctx *h, const char *ref)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__Ack ack = ART17__ACK__INIT;
	uint8_t id[WIRE_MSGID_LEN];

	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_ACK, "broker", 0);
	ack.ref = (char *)(ref ? ref : "");
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_ACK;
	body.ack = &ack;
	send_body(h, &body, 0);
}

static void
done_agent_op(void *arg, int rv)
{
	hctx *h = arg;
	void *aux = h->aux; /* a consent_wrap, or NULL */
	const char *ref = "";

	if (h->wm.body->payload_case == ART17__BODY__PAYLOAD_ACCEPT)
		ref = h->wm.body->accept->request_id;
	else if (h->wm.body->payload_case == ART17__BODY__PAYLOAD_CONSENT)
		ref = h->wm.body->consent->reference;
	else if (h->wm.body->payload_case == ART17__BODY__PAYLOAD_READ)
		ref = h->wm.body->read->request_id;
	if (rv == A17_ENOTFOUND) {
		log_reject("A17-W0112",
		           "%s: accept for a copy not delivered "
		           "to it",
		           h->m->id);
		send_error(h, ART17__ERR_CODE__ERR_NOT_ADDRESSED, "A17-W0112",
		           "no such copy delivered to the sender");
	} else if (rv != 0) {
		send_error(h, ART17__ERR_CODE__ERR_INTERNAL, "A17-E0204",
		           a17_strerror(rv));
	} else {
		send_ack(h, ref);
	}
	/* h (its message, which ref points into) is nng's now */
	free(aux);
}

typedef struct consent_wrap {
	consent_op co; /* first: the op's arg is also a consent_op */
	hctx *h;
} consent_wrap;

static void
done_consent(void *arg, int rv)
{
	done_agent_op(((consent_wrap *)arg)->h, rv);
}

/* ------------------------------------------------------------ feedback */

typedef struct fb_op {
	hctx *h;
	char err[512];
	int code; /* Art17__ErrCode to answer with, 0 = stored */
} fb_op;

/*
 * Stores one version of a member's feedback on a request addressed and
 * delivered to it. The same version again is answered as stored
 * (idempotent). The copy becomes answered.
 */
static int
apply_feedback(store_txn *t, void *arg)
{
	fb_op *op = arg;
	hctx *h = op->h;
	Art17__Feedback *f = h->wm.body->feedback;
	Art17__DeliveryRecord *d;
	Art17__RequestRecord *rq = NULL;
	store_key k, fk;
	MDB_val v;
	uint64_t no, seq;
	uint8_t *buf;
	size_t len;
	int64_t now = wire_now_ms();

	op->code = 0;
	op->err[0] = '\0';
	store_key_init(&k);
	store_key_str(&k, f->request_id ? f->request_id : "");
	if (store_get(t, DB_REQIDS, &k, &v) != 0 || v.mv_size != 8)
		goto unaddressed;
	no = store_get_u64(v.mv_data);
	store_key_init(&k);
	store_key_u64(&k, no);
	store_key_u32(&k, h->m->no);
	if (store_get(t, DB_BYCOPY, &k, &v) != 0 || v.mv_size != 8)
		goto unaddressed;
	seq = store_get_u64(v.mv_data);
	db_delivery_key(&k, h->m->no, seq);
	if (store_get(t, DB_DELIVERIES, &k, &v) != 0)
		goto unaddressed;
	if ((d = art17__delivery_record__unpack(NULL, v.mv_size, v.mv_data)) ==
	    NULL)
		return A17_ECORRUPT;
	if (d->delivered_ms == 0 ||
	    d->state == ART17__DELIVERY_STATE__DS_WITHDRAWN) {
		art17__delivery_record__free_unpacked(d, NULL);
		goto unaddressed;
	}
	if (fb_validate(f, op->err, sizeof(op->err)) != 0) {
		op->code = ART17__ERR_CODE__ERR_INVALID;
		art17__delivery_record__free_unpacked(d, NULL);
		return 0;
	}
	if (!staff_registered(t, h->m->no, f->contact, now)) {
		snprintf(op->err, sizeof(op->err),
		         "contact: '%s' is not registered staff of %s",
		         f->contact, h->m->id);
		op->code = ART17__ERR_CODE__ERR_INVALID;
		art17__delivery_record__free_unpacked(d, NULL);
		return 0;
	}
	if (f->version == 0) {
		snprintf(op->err, sizeof(op->err),
		         "version: 1 for the first feedback, then 2, 3, ...");
		op->code = ART17__ERR_CODE__ERR_INVALID;
		art17__delivery_record__free_unpacked(d, NULL);
		return 0;
	}
	store_key_init(&fk);
	store_key_u64(&fk, no);
	store_key_u32(&fk, h->m->no);
	store_key_u32(&fk, f->version);
	if (store_get(t, DB_FEEDBACK, &fk, &v) == 0) {
		/* the same version again: stored already */
		art17__delivery_record__free_unpacked(d, NULL);
		return 0;
	}
	store_key_init(&k);
	store_key_u64(&k, no);
	if (store_get(t, DB_REQUESTS, &k, &v) == 0)
		rq = art17__request_record__unpack(NULL, v.mv_size, v.mv_data);
	f->voluntary = rq != NULL &&
	               rq->kind != ART17__ITEM_KIND__KIND_COOPERATION_REQUEST;
	len = art17__feedback__get_packed_size(f);
	if ((buf = malloc(len ? len : 1)) == NULL) {
		if (rq)
			art17__request_record__free_unpacked(rq, NULL);
		art17__delivery_record__free_unpacked(d, NULL);
		return A17_ENOMEM;
	}
	art17__feedback__pack(f, buf);
	store_put(t, DB_FEEDBACK, &fk, buf, len);
	free(buf);
	if (d->state != ART17__DELIVERY_STATE__DS_ANSWERED) {
		d->state = ART17__DELIVERY_STATE__DS_ANSWERED;
		if (d->acked_ms == 0)
			d->acked_ms = now;
	}
	d->answered_ms = now;
	db_delivery_key(&k, h->m->no, seq);
	reg_put_delivery(t, h->m->no, seq, d);
	audit_append(
	    t, h->m->id, "feedback.store", h->m->id, rq ? rq->exercise : 0,
	    "%sfeedback version %u on request %s: %s, %zu "
	    "indicators, contact %s",
	    f->voluntary ? "voluntary " : "", f->version, f->request_id,
	    fb_status_name(f->status), f->n_indicators, f->contact);
	if (rq)
		art17__request_record__free_unpacked(rq, NULL);
	art17__delivery_record__free_unpacked(d, NULL);
	return t->rv;
unaddressed:
	snprintf(op->err, sizeof(op->err),
	         "feedback for a request not delivered to the sender");
	op->code = ART17__ERR_CODE__ERR_NOT_ADDRESSED;
	return 0;
}

static void
done_feedback(void *arg, int rv)
{
	fb_op *op = arg;
	hctx *h = op->h;
	Art17__Feedback *f = h->wm.body->feedback;

	if (rv != 0) {
		send_error(h, ART17__ERR_CODE__ERR_INTERNAL, "A17-E0205",
		           a17_strerror(rv));
	} else if (op->code == ART17__ERR_CODE__ERR_NOT_ADDRESSED) {
		log_reject("A17-W0116", "%s: %s (%s)", h->m->id, op->err,
		           f->request_id);
		send_error(h, op->code, "A17-W0116", op->err);
	} else if (op->code != 0) {
		log_reject("A17-W0117", "%s: feedback on %s: %s", h->m->id,
		           f->request_id, op->err);
		send_error(h, op->code, "A17-W0117", op->err);
	} else {
		Art17__Body body = ART17__BODY__INIT;
		Art17__Header hdr;
		Art17__FeedbackOk ok = ART17__FEEDBACK_OK__INIT;
		uint8_t id[WIRE_MSGID_LEN];

		a17_crashpoint("broker.after_feedback_commit");
		wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_FEEDBACK_OK,
		                 "broker", 0);
		ok.request_id = f->request_id;
		ok.version = f->version;
		body.hdr = &hdr;
		body.payload_case = ART17__BODY__PAYLOAD_FEEDBACK_OK;
		body.feedback_ok = &ok;
		send_body(h, &body, 0);
	}
	free(op); /* h is nng's now; its message was freed as it went */
}

/* ------------------------------------------------------- consultations */

typedef struct consult_op {
	hctx *h;
	char id[32];
	char err[512];
	int code;
} consult_op;

/* Stores a report or consultation from a member or registered reporter. */
static int
apply_consult(store_txn *t, void *arg)
{
	consult_op *op = arg;
	hctx *h = op->h;
	Art17__Consultation *c = h->wm.body->consult, saved = *c;
	Art17__ConsultRecord r = ART17__CONSULT_RECORD__INIT;
	store_key k;
	MDB_val lk;
	uint64_t no = 1;
	uint8_t *buf;
	size_t len;
	int rv;

	op->code = 0;
	if (consult_validate(c, op->err, sizeof(op->err)) != 0) {
		op->code = ART17__ERR_CODE__ERR_INVALID;
		return 0;
	}
	rv = store_last_key(t, DB_CONSULT, NULL, 0, &lk);
	if (rv == 0 && lk.mv_size == 8)
		no = store_get_u64(lk.mv_data) + 1;
	else if (rv != 0 && rv != A17_ENOTFOUND)
		return rv;
	snprintf(op->id, sizeof(op->id), "C%06llu", (unsigned long long)no);
	c->consult_id = op->id;
	c->reporter = h->m->id;
	r.consult = c;
	r.from_id = h->m->id;
	r.from_reporter = h->m->reporter;
	r.received_ms = wire_now_ms();
	len = art17__consult_record__get_packed_size(&r);
	if ((buf = malloc(len)) == NULL) {
		*c = saved;
		return A17_ENOMEM;
	}
	art17__consult_record__pack(&r, buf);
	*c = saved; /* strings we set belong to op and h->m */
	store_key_init(&k);
	store_key_u64(&k, no);
	store_put(t, DB_CONSULT, &k, buf, len);
	free(buf);
	audit_append(t, h->m->id, "consult.receive", op->id, 0,
	             "%s %s from %s: secrecy wish %s, scope wish %d, "
	             "coordination %d",
	             h->m->reporter ? "report (registered reporter)"
	                            : "report/consultation",
	             op->id, h->m->id,
	             c->secrecy_wish == ART17__SECRET__SECRET_YES ? "yes"
	                                                          : "no",
	             c->sharing_scope, c->coordination);
	return t->rv;
}

static void
done_consult(void *arg, int rv)
{
	consult_op *op = arg;
	hctx *h = op->h;

	if (rv != 0) {
		send_error(h, ART17__ERR_CODE__ERR_INTERNAL, "A17-E0206",
		           a17_strerror(rv));
	} else if (op->code != 0) {
		log_reject("A17-W0118", "%s: consultation: %s", h->m->id,
		           op->err);
		send_error(h, op->code, "A17-W0118", op->err);
	} else {
		log_info("consultation %s received from %s", op->id, h->m->id);
		send_ack(h, op->id);
	}
	free(op); /* h is nng's now; its message was freed as it went */
}

/* ------------------------------------------------------------ handling */

static int
agent_keyfn(void *arg, const uint8_t *kid, size_t len, const a17_key **k)
{
	broker *b = arg;
	member *m;

	(void)len;
	pthread_mutex_lock(&b->mtx);
	m = db_member_by_keyid(b, kid);
	pthread_mutex_unlock(&b->mtx);
	if (m == NULL)
		return A17_EUNKNOWNKEY;
	*k = m->key;
	return 0;
}

static const char *
reject_id(int rv, Art17__ErrCode *code)
{
	switch (rv) {
	case A17_ETOOBIG:
		*code = ART17__ERR_CODE__ERR_TOO_LARGE;
		return "A17-W0101";
	case A17_EMALFORMED:
		*code = ART17__ERR_CODE__ERR_MALFORMED;
		return "A17-W0102";
	case A17_EUNSIGNED:
		*code = ART17__ERR_CODE__ERR_BAD_SIGNATURE;
		return "A17-W0103";
	case A17_EUNKNOWNKEY:
		*code = ART17__ERR_CODE__ERR_UNKNOWN_SENDER;
		return "A17-W0104";
	case A17_EBADSIG:
		*code = ART17__ERR_CODE__ERR_BAD_SIGNATURE;
		return "A17-W0105";
	default:
		*code = ART17__ERR_CODE__ERR_MALFORMED;
		return "A17-W0106";
	}
}

static void
reply_challenge(hctx *h, session *s)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__Challenge ch = ART17__CHALLENGE__INIT;
	uint8_t id[WIRE_MSGID_LEN];
	uint8_t nonce[NONCE_LEN];

	memcpy(nonce, s->nonce, NONCE_LEN);
	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_CHALLENGE, "broker", 0);
	ch.nonce.data = nonce;
	ch.nonce.len = NONCE_LEN;
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_CHALLENGE;
	body.challenge = &ch;
	send_body(h, &body, 1);
}

static void
reply_welcome(hctx *h, member *m)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__Welcome w = ART17__WELCOME__INIT;
	uint8_t id[WIRE_MSGID_LEN];

	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_WELCOME, "broker", 0);
	w.member_id = m->id;
	w.broker_time_ms = (uint64_t)wire_now_ms();
	w.keepalive_ms = (uint32_t)a17b.cfg.keepalive_ms;
	w.max_msg = WIRE_MAX_MSG;
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_WELCOME;
	body.welcome = &w;
	send_body(h, &body, 1);
}

/*
 * The member's session must be bound to this pipe (signed hello over a
 * nonce); otherwise the message is refused, logged, and 0 returned.
 */
static int
require_session(broker *b, hctx *h, member *m, uint32_t pipe)
{
	session *s;
	int ok;

	pthread_mutex_lock(&b->mtx);
	s = session_find(b, pipe);
	ok = s != NULL && s->bound && s->m == m;
	pthread_mutex_unlock(&b->mtx);
	if (!ok) {
		log_reject("A17-W0110", "%s: pipe %u not authenticated", m->id,
		           pipe);
		send_error(h, ART17__ERR_CODE__ERR_NOT_AUTHENTICATED,
		           "A17-W0110", "say hello first");
	}
	return ok;
}

static void
handle(hctx *h, nng_msg *msg)
{
	broker *b = &a17b;
	wire_msg wm;
	wire_msg *wmp = &wm;
	Art17__Body *bd;
	member *m;
	session *s;
	uint32_t pipe = nng_pipe_id(nng_msg_get_pipe(msg));
	int64_t now = wire_now_ms();
	Art17__ErrCode code;
	const char *mid;
	int rv, bound;

	/*
	 * On a pipe already bound to a member (signed hello over a nonce),
	 * the peer is known by its channel: open without checking the
	 * signature yet, and check it below unless the message is that
	 * member's Poll (docs/protocol.md 3.3 and 3.4).
	 */
	pthread_mutex_lock(&b->mtx);
	s = session_find(b, pipe);
	bound = s != NULL && s->bound;
	pthread_mutex_unlock(&b->mtx);
	rv = wire_open(nng_msg_body(msg), nng_msg_len(msg), WIRE_MAX_MSG,
	               agent_keyfn, b, bound ? WIRE_F_DEFER_VERIFY : 0, wmp);
	if (rv != 0) {
		mid = reject_id(rv, &code);
		log_reject(mid, "pipe %u: %s (%zu bytes)", pipe,
		           a17_strerror(rv), nng_msg_len(msg));
		nng_msg_free(msg);
		send_error(h, code, mid, a17_strerror(rv));
		return;
	}
	nng_msg_free(msg);
	bd = wmp->body;
	pthread_mutex_lock(&b->mtx);
	m = db_member_by_keyid(b, wmp->key_id);
	if (!wmp->verified) {
		/* a Poll from the member bound to this pipe: the channel */
		s = session_find(b, pipe);
		bound = m != NULL && s != NULL && s->bound && s->m == m &&
		        bd->payload_case == ART17__BODY__PAYLOAD_POLL;
	}
	pthread_mutex_unlock(&b->mtx);
	if (!wmp->verified && !bound &&
	    (rv = wire_verify(wmp, agent_keyfn, b)) != 0) {
		mid = reject_id(rv, &code);
		log_reject(mid, "pipe %u: %s", pipe, a17_strerror(rv));
		send_error(h, code, mid, a17_strerror(rv));
		goto out;
	}
	if (m == NULL || strcmp(bd->hdr->sender, m->id) != 0) {
		log_reject("A17-W0107",
		           "pipe %u: sender '%s' does not own the "
		           "signing key",
		           pipe, bd->hdr->sender);
		send_error(h, ART17__ERR_CODE__ERR_UNKNOWN_SENDER, "A17-W0107",
		           "sender does not match the signing key");
		goto out;
	}
	if (bd->hdr->time_ms < now - TIME_WINDOW_MS ||
	    bd->hdr->time_ms > now + TIME_WINDOW_MS) {
		log_reject("A17-W0108", "%s: message time outside window",
		           m->id);
		send_error(h, ART17__ERR_CODE__ERR_STALE, "A17-W0108",
		           "message time outside the accepted window");
		goto out;
	}
	pthread_mutex_lock(&b->mtx);
	rv = seen_check(m->no, bd->hdr->msg_id.data, bd->hdr->time_ms, now);
	pthread_mutex_unlock(&b->mtx);
	if (rv == 2) {
		log_reject("A17-W0108",
		           "%s: message older than the replay guard's floor",
		           m->id);
		send_error(h, ART17__ERR_CODE__ERR_STALE, "A17-W0108",
		           "message time outside the accepted window");
		goto out;
	}
	if (rv) {
		log_reject("A17-W0109", "%s: message id seen before (replay)",
		           m->id);
		send_error(h, ART17__ERR_CODE__ERR_REPLAY, "A17-W0109",
		           "message id seen before");
		goto out;
	}

	switch (bd->payload_case) {
	case ART17__BODY__PAYLOAD_HELLO_REQ:
		if (bd->hello_req->member_id == NULL ||
		    strcmp(bd->hello_req->member_id, m->id) != 0) {
			log_reject("A17-W0107", "hello for '%s' signed by %s",
			           bd->hello_req->member_id, m->id);
			send_error(h, ART17__ERR_CODE__ERR_UNKNOWN_SENDER,
			           "A17-W0107", "member id does not match key");
			break;
		}
		pthread_mutex_lock(&b->mtx);
		s = session_find(b, pipe);
		if (s == NULL && (s = calloc(1, sizeof(*s))) != NULL) {
			s->pipe = pipe;
			if (tsearch(s, &b->sessions, cmp_session) == NULL) {
				free(s);
				s = NULL;
			}
		}
		if (s != NULL) {
			if (s->bound && s->m != m)
				s->bound = 0;
			s->m = m;
			crypto_random(s->nonce, NONCE_LEN);
			s->nonce_exp = now + NONCE_TTL_MS;
		}
		pthread_mutex_unlock(&b->mtx);
		if (s == NULL) {
			send_error(h, ART17__ERR_CODE__ERR_INTERNAL,
			           "A17-E0203", "out of memory");
			break;
		}
		reply_challenge(h, s);
		break;

	case ART17__BODY__PAYLOAD_HELLO:
		pthread_mutex_lock(&b->mtx);
		s = session_find(b, pipe);
		rv = (s != NULL && s->m == m && s->nonce_exp > now &&
		      bd->hello->nonce.len == NONCE_LEN &&
		      crypto_memeq(bd->hello->nonce.data, s->nonce,
		                   NONCE_LEN) == 0 &&
		      bd->hello->member_id != NULL &&
		      strcmp(bd->hello->member_id, m->id) == 0);
		if (rv) {
			s->bound = 1;
			s->nonce_exp = 0; /* single use */
			m->pipe = pipe;
			m->connected = 1;
		}
		pthread_mutex_unlock(&b->mtx);
		if (!rv) {
			log_reject("A17-W0111",
			           "%s: hello with a bad or "
			           "expired nonce",
			           m->id);
			send_error(h, ART17__ERR_CODE__ERR_NOT_AUTHENTICATED,
			           "A17-W0111", "bad or expired nonce");
			break;
		}
		log_debug("%s: session bound to pipe %u", m->id, pipe);
		reply_welcome(h, m);
		break;

	case ART17__BODY__PAYLOAD_POLL:
	case ART17__BODY__PAYLOAD_RECEIPT: {
		hctx *old = NULL;
		int deliver = 0;

		pthread_mutex_lock(&b->mtx);
		s = session_find(b, pipe);
		rv = (s != NULL && s->bound && s->m == m);
		if (rv && bd->payload_case == ART17__BODY__PAYLOAD_POLL) {
			old = m->held;
			m->held = NULL;
			h->m = m;
			h->pipe = pipe;
			h->cursor = bd->poll->cursor;
			if (m->last_seq > h->cursor) {
				deliver = 1;
				h->state = HC_BUSY;
			} else {
				h->state = HC_HELD;
				h->held_since = now;
				m->held = h;
			}
		}
		pthread_mutex_unlock(&b->mtx);
		if (!rv) {
			log_reject("A17-W0110", "%s: pipe %u not authenticated",
			           m->id, pipe);
			send_error(h, ART17__ERR_CODE__ERR_NOT_AUTHENTICATED,
			           "A17-W0110", "say hello first");
			break;
		}
		if (old != NULL)
			release_empty(old);
		if (bd->payload_case == ART17__BODY__PAYLOAD_POLL) {
			if (deliver)
				start_deliver(h);
			break;
		}
		/* receipt: keep the signed envelope for the record */
		if (bd->receipt->n_items == 0) {
			send_error(h, ART17__ERR_CODE__ERR_INVALID, "A17-W0113",
			           "empty receipt");
			break;
		}
		/* the opened message moves to h for the op's lifetime */
		h->wm = wm;
		memset(&wm, 0, sizeof(wm));
		wmp = &h->wm;
		h->m = m;
		h->rb = h->wm.body->receipt;
		h->raw = NULL;
		h->raw_len = 0;
		{
			/* keep the envelope as received, for the record */
			Art17__Envelope env = ART17__ENVELOPE__INIT;

			env.body.data = (uint8_t *)wmp->body_buf;
			env.body.len = wmp->body_len;
			env.key_id.data = wmp->key_id;
			env.key_id.len = A17_KEYID_LEN;
			env.sig.data = wmp->sig;
			env.sig.len = A17_SIG_LEN;
			h->raw_len = art17__envelope__get_packed_size(&env);
			h->raw = malloc(h->raw_len);
			if (h->raw != NULL)
				art17__envelope__pack(&env, h->raw);
		}
		h->okv = calloc(h->rb->n_items, 1);
		if (h->okv == NULL || h->raw == NULL) {
			/* frees h->okv, h->raw, h->wm */
			send_error(h, ART17__ERR_CODE__ERR_INTERNAL,
			           "A17-E0203", "out of memory");
			return;
		}
		h->state = HC_BUSY;
		h->op.apply = apply_receipt;
		h->op.done = done_receipt;
		h->op.arg = h;
		/* h->wm now belongs to the op; done_receipt frees it */
		if (store_writer_submit(b->wr, &h->op) != 0)
			done_receipt(h, A17_ECLOSED);
		return;
	}

	case ART17__BODY__PAYLOAD_CONSULT: {
		consult_op *co;

		if (!require_session(b, h, m, pipe))
			break;
		if ((co = calloc(1, sizeof(*co))) == NULL) {
			send_error(h, ART17__ERR_CODE__ERR_INTERNAL,
			           "A17-E0203", "out of memory");
			break;
		}
		h->wm = wm;
		memset(&wm, 0, sizeof(wm));
		wmp = &h->wm;
		co->h = h;
		h->aux = co;
		h->m = m;
		h->state = HC_BUSY;
		h->op.apply = apply_consult;
		h->op.done = done_consult;
		h->op.arg = co;
		if (store_writer_submit(b->wr, &h->op) != 0)
			done_consult(co, A17_ECLOSED);
		return;
	}

	case ART17__BODY__PAYLOAD_FEEDBACK: {
		fb_op *fo;

		if (!require_session(b, h, m, pipe))
			break;
		if ((fo = calloc(1, sizeof(*fo))) == NULL) {
			send_error(h, ART17__ERR_CODE__ERR_INTERNAL,
			           "A17-E0203", "out of memory");
			break;
		}
		h->wm = wm;
		memset(&wm, 0, sizeof(wm));
		wmp = &h->wm;
		fo->h = h;
		h->aux = fo;
		h->m = m;
		h->state = HC_BUSY;
		h->op.apply = apply_feedback;
		h->op.done = done_feedback;
		h->op.arg = fo;
		if (store_writer_submit(b->wr, &h->op) != 0)
			done_feedback(fo, A17_ECLOSED);
		return;
	}

	case ART17__BODY__PAYLOAD_ACCEPT:
	case ART17__BODY__PAYLOAD_READ:
	case ART17__BODY__PAYLOAD_CONSENT: {
		if (!require_session(b, h, m, pipe))
			break;
		if (bd->payload_case == ART17__BODY__PAYLOAD_CONSENT) {
			Art17__ConsentChange *cc = bd->consent;
			consent_wrap *cw;
			consent_op *co;

			/* a member acts for itself only */
			if (cc->member_id == NULL ||
			    strcmp(cc->member_id, m->id) != 0) {
				log_reject("A17-W0114",
				           "%s: consent change for "
				           "member '%s'",
				           m->id, cc->member_id);
				send_error(h,
				           ART17__ERR_CODE__ERR_NOT_ADDRESSED,
				           "A17-W0114",
				           "an agent may change only its own "
				           "member's consent");
				break;
			}
			if (cc->reference == NULL || cc->reference[0] == '\0') {
				send_error(h, ART17__ERR_CODE__ERR_INVALID,
				           "A17-W0115",
				           "a consent reference is "
				           "required");
				break;
			}
			if ((cw = calloc(1, sizeof(*cw))) == NULL) {
				send_error(h, ART17__ERR_CODE__ERR_INTERNAL,
				           "A17-E0203", "out of memory");
				break;
			}
			h->wm = wm;
			memset(&wm, 0, sizeof(wm));
			wmp = &h->wm;
			cc = h->wm.body->consent;
			co = &cw->co;
			cw->h = h;
			co->no = m->no;
			co->member_id = m->id;
			co->grant = cc->grant;
			co->ref = cc->reference;
			co->by = m->id;
			co->via = ART17__CONSENT_VIA__VIA_AGENT;
			co->now = now;
			h->aux = cw;
			h->op.apply = inc_apply_consent;
			h->op.done = done_consent;
			h->op.arg = cw;
		} else {
			h->wm = wm;
			memset(&wm, 0, sizeof(wm));
			wmp = &h->wm;
			h->op.apply =
			    bd->payload_case == ART17__BODY__PAYLOAD_READ
			        ? apply_read
			        : apply_accept;
			h->op.done = done_agent_op;
			h->op.arg = h;
		}
		h->m = m;
		h->state = HC_BUSY;
		if (store_writer_submit(b->wr, &h->op) != 0)
			done_agent_op(h, A17_ECLOSED);
		return;
	}

	default:
		log_reject("A17-W0113", "%s: unexpected message kind %d", m->id,
		           bd->hdr->kind);
		send_error(h, ART17__ERR_CODE__ERR_INVALID, "A17-W0113",
		           "unexpected message kind");
		break;
	}
out:
	wire_msg_fini(wmp);
}

/* ------------------------------------------------------------ contexts */

static hctx *
hctx_new(broker *b)
{
	hctx *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	if (nng_aio_alloc(&h->aio, hctx_cb, h) != 0) {
		free(h);
		return NULL;
	}
	if (nng_ctx_open(&h->ctx, b->agent_sock) != 0) {
		nng_aio_free(h->aio);
		free(h);
		return NULL;
	}
	h->next_all = all_ctx;
	all_ctx = h;
	return h;
}

/* Tops the receiving contexts up to RECV_MIN. */
static void
recv_more(broker *b)
{
	for (;;) {
		hctx *h;

		pthread_mutex_lock(&b->mtx);
		if (b->stopping || n_recv >= RECV_MIN) {
			pthread_mutex_unlock(&b->mtx);
			return;
		}
		if ((h = idle_ctx) != NULL)
			idle_ctx = h->next_idle;
		else if ((h = hctx_new(b)) == NULL) {
			pthread_mutex_unlock(&b->mtx);
			log_warnx("cannot allocate a receive context");
			return;
		}
		h->next_idle = NULL;
		h->state = HC_RECV;
		n_recv++;
		pthread_mutex_unlock(&b->mtx);
		nng_ctx_recv(h->ctx, h->aio);
	}
}

/*
 * Counts a request against its connection. Returns 0 when the connection
 * already has QUOTA_INFLIGHT_MAX requests outstanding: a peer that sends
 * request after request without reading the replies would make the broker
 * hold a reply (up to 1 MiB) for each. Such a request is dropped
 * unanswered, so the connection holds at most the replies it has until it
 * reads them (then it is served again) or goes away.
 *
 * The connection is not closed: with nng 1.5.2, closing a TLS pipe whose
 * send is stalled on a peer that does not read can wedge nng's pipe
 * reaper, and every later nng_close with it (seen while writing the
 * slow_agent test: the broker then ignored SIGTERM).
 */
static int
request_admit(broker *b, hctx *h, nng_msg *msg)
{
	nng_pipe p = nng_msg_get_pipe(msg);
	uint32_t id = nng_pipe_id(p);
	pipe_ent *e;
	session *s;
	char who[80], note[64];
	uint64_t skipped = 0;
	int ok = 1, say = 0;

	pthread_mutex_lock(&b->mtx);
	h->rpipe = 0;
	if ((e = pipe_find(id)) != NULL) {
		if (e->refused) {
			ok = 0; /* over the cap: closed in a moment */
		} else if (quota_inflight_ok(e->inflight)) {
			e->inflight++;
			h->rpipe = id;
		} else {
			ok = 0;
			say = quota_rate_allow(&rl_inflight, wire_now_ms(),
			                       &skipped);
			s = session_find(b, id);
			snprintf(who, sizeof(who), "%s",
			         s != NULL && s->bound && s->m != NULL
			             ? s->m->id
			             : "not authenticated");
		}
	}
	/* no entry: the connection is gone, and so would be any reply */
	pthread_mutex_unlock(&b->mtx);
	if (say)
		log_reject(
		    "A17-W0121",
		    "pipe %u (%s): %d requests outstanding without "
		    "reading the replies; request dropped "
		    "unanswered%s",
		    id, who, QUOTA_INFLIGHT_MAX,
		    skipped_note(note, sizeof(note), skipped, &rl_inflight));
	return ok;
}

static void
hctx_cb(void *arg)
{
	hctx *h = arg;
	int rv = nng_aio_result(h->aio);

	switch (h->state) {
	case HC_RECV:
		pthread_mutex_lock(&a17b.mtx);
		n_recv--;
		pthread_mutex_unlock(&a17b.mtx);
		if (rv != 0) {
			if (rv == NNG_ECLOSED || a17b.stopping)
				return;
			hctx_recycle(h);
			return;
		}
		h->state = HC_BUSY;
		recv_more(&a17b);
		if (!request_admit(&a17b, h, nng_aio_get_msg(h->aio))) {
			nng_msg_free(nng_aio_get_msg(h->aio));
			nng_aio_set_msg(h->aio, NULL);
			hctx_recycle(h);
			return;
		}
		handle(h, nng_aio_get_msg(h->aio));
		return;
	case HC_SEND:
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(h->aio));
			if (rv == NNG_ECLOSED || a17b.stopping)
				return;
		}
		hctx_recycle(h);
		return;
	default:
		return;
	}
}

/* The peer's IPv4 address and port, for the log; "?" otherwise. */
static void
pipe_addr(nng_pipe p, char *addr, size_t len)
{
	nng_sockaddr sa;

	snprintf(addr, len, "?");
	if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) == 0 &&
	    sa.s_family == NNG_AF_INET) {
		const uint8_t *ip = (const uint8_t *)&sa.s_in.sa_addr;

		snprintf(addr, len, "%u.%u.%u.%u:%u", ip[0], ip[1], ip[2],
		         ip[3], (unsigned)ntohs(sa.s_in.sa_port));
	}
}

/*
 * Takes a new agent connection into the table. Over the cap (max_pipes)
 * it is taken as refused: its requests are dropped and the sweeper closes
 * it (close_refused), which gives its descriptor back; agents already
 * connected and the admin socket are not affected. Returns 0 when the
 * caller must close it now instead (no memory, or the queue is full).
 */
static int
pipe_admit(broker *b, nng_pipe p)
{
	pipe_ent *e;
	uint64_t skipped = 0;
	uint32_t n;
	char addr[64], note[64];
	int full, say = 0, ok = 0;
	int64_t now = wire_now_ms();

	pthread_mutex_lock(&b->mtx);
	full = n_pipes >= max_pipes;
	if ((!full || n_close_q < CLOSE_QUEUE) &&
	    (e = calloc(1, sizeof(*e))) != NULL) {
		e->id = nng_pipe_id(p);
		e->refused = full;
		if (tsearch(e, &pipe_tree, cmp_pipe) == NULL) {
			free(e);
		} else {
			ok = 1;
			if (full) {
				close_q[n_close_q].p = p;
				close_q[n_close_q++].t = now;
			} else {
				n_pipes++;
			}
		}
	}
	if (full || !ok)
		say = quota_rate_allow(&rl_cap, now, &skipped);
	n = n_pipes;
	pthread_mutex_unlock(&b->mtx);
	if (say) {
		pipe_addr(p, addr, sizeof(addr));
		skipped_note(note, sizeof(note), skipped, &rl_cap);
		if (full)
			log_reject("A17-W0122",
			           "connection from %s: %u agent connections "
			           "already, the most the descriptor limit "
			           "(%llu) allows; closed%s",
			           addr, n, (unsigned long long)nofile, note);
		else
			log_warnx("connection from %s: out of memory; "
			          "closed%s",
			          addr, note);
	}
	return ok;
}

/* Closes refused connections queued CLOSE_DELAY_MS ago (sweeper). */
static void
close_refused(broker *b)
{
	nng_pipe q[CLOSE_QUEUE];
	size_t n = 0, k = 0;
	int64_t now = wire_now_ms();

	pthread_mutex_lock(&b->mtx);
	for (size_t i = 0; i < n_close_q; i++) {
		if (now - close_q[i].t >= CLOSE_DELAY_MS)
			q[n++] = close_q[i].p;
		else
			close_q[k++] = close_q[i];
	}
	n_close_q = k;
	pthread_mutex_unlock(&b->mtx);
	for (size_t i = 0; i < n; i++)
		nng_pipe_close(q[i]);
}

static void
pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	broker *b = arg;
	uint32_t id = nng_pipe_id(p);
	hctx *held = NULL;
	session *s;
	pipe_ent *e;

	if (ev == NNG_PIPE_EV_REM_POST && a17_fault("broker.jam_reaper")) {
		/* tests: this runs on nng's reaper thread; blocking here
		 * jams it for good, as the nng 1.5.2 defect does */
		log_warnx("A17_FAULT broker.jam_reaper: nng's reaper thread "
		          "stops here");
		for (;;)
			pause();
	}

	if (ev == NNG_PIPE_EV_ADD_PRE) {
		/* Mutual TLS: the handshake runs in OPTIONAL mode so that a
		 * certificate that does not verify (another CA, expired,
		 * revoked) is logged here, with a stable id, and refused. */
		bool verified = false;

		if (tls_cfg != NULL &&
		    (nng_pipe_get_bool(p, NNG_OPT_TLS_VERIFIED, &verified) !=
		         0 ||
		     !verified)) {
			char addr[64];

			pipe_addr(p, addr, sizeof(addr));
			log_reject("A17-W0120",
			           "connection from %s: client certificate did "
			           "not verify (another CA, expired, revoked, "
			           "or none)",
			           addr);
			nng_pipe_close(p);
			return;
		}
		if (!pipe_admit(b, p))
			nng_pipe_close(p);
		return;
	}
	pthread_mutex_lock(&b->mtx);
	if (ev == NNG_PIPE_EV_ADD_POST) {
		/* only connections taken at ADD_PRE count (and uncount) */
		if ((e = pipe_find(id)) != NULL && !e->added && !e->refused) {
			e->added = 1;
			b->n_connected++;
		}
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		if ((e = pipe_find(id)) != NULL) {
			if (e->added && b->n_connected > 0)
				b->n_connected--;
			if (!e->refused)
				n_pipes--;
			tdelete(e, &pipe_tree, cmp_pipe);
			free(e);
		}
		if ((s = session_find(b, id)) != NULL) {
			if (s->m != NULL && s->m->pipe == id) {
				s->m->pipe = 0;
				s->m->connected = 0;
			}
			/* A poll held for a connection that is gone must not
			 * be answered with copies: they would be marked
			 * delivered into nowhere, out of the gate's reach. */
			if (s->m != NULL && s->m->held != NULL &&
			    s->m->held->pipe == id) {
				held = s->m->held;
				s->m->held = NULL;
				held->state = HC_BUSY;
			}
			tdelete(s, &b->sessions, cmp_session);
			free(s);
		}
	}
	pthread_mutex_unlock(&b->mtx);
	if (held != NULL)
		release_empty(held);
}

/* Descriptors open in this process now; -1 if /proc cannot say. */
static long
fds_in_use(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	long n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own */
}

/*
 * Run by the sweeper: is a descriptor free? A failed accept in nng is
 * retried quietly, so this is how the operator learns that connections
 * (agents, art17ctl, the dashboard) wait for a descriptor. Logged when
 * it starts, every 10 s while it lasts, and when it ends.
 */
static void
nofile_probe(broker *b)
{
	static int64_t since; /* 0: descriptors free at the last probe */
	static int told;      /* this shortage was logged */
	int64_t now = wire_now_ms();
	uint64_t skipped = 0;
	uint32_t n;
	int fd, err;

	fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
	if (fd < 0 && errno == EBADF) /* no stderr: any descriptor will do */
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	err = errno;
	if (fd >= 0) {
		close(fd);
		if (since != 0 && told)
			log_info("file descriptors available again after "
			         "%lld ms",
			         (long long)(now - since));
		since = 0;
		told = 0;
		return;
	}
	if (err != EMFILE && err != ENFILE)
		return;
	if (since == 0)
		since = now;
	if (!quota_rate_allow(&rl_nofile, now, &skipped))
		return;
	told = 1;
	pthread_mutex_lock(&b->mtx);
	n = n_pipes;
	pthread_mutex_unlock(&b->mtx);
	log_warnx("A17-W0123 out of file descriptors (%s; limit %llu, %u "
	          "agent connections) for %lld ms: new connections, art17ctl "
	          "and the dashboard wait until one is free",
	          err == EMFILE ? "this process" : "the whole system",
	          (unsigned long long)nofile, n, (long long)(now - since));
}

/*
 * Sets max_pipes from the descriptor limit and what is open now (the
 * store, the listening sockets, nng's own), and says so.
 */
static void
fd_budget(void)
{
	struct rlimit rl;
	long in_use = fds_in_use();

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return; /* no limit we can see: no cap */
	nofile = (uint64_t)rl.rlim_cur;
	if (in_use < 0)
		in_use = 64; /* no /proc: a generous guess */
	max_pipes = quota_conn_max(nofile, (uint64_t)in_use);
	if (max_pipes == 0)
		log_warnx("descriptor limit %llu leaves no room for agent "
		          "connections (%ld in use, %llu reserved): raise it "
		          "(LimitNOFILE=, ulimit -n)",
		          (unsigned long long)nofile, in_use,
		          (unsigned long long)quota_fd_reserve(nofile));
	else
		log_info("agents: at most %u connections (descriptor limit "
		         "%llu: %ld in use, %llu reserved for art17ctl, the "
		         "dashboard and handshakes)",
		         max_pipes, (unsigned long long)nofile, in_use,
		         (unsigned long long)quota_fd_reserve(nofile));
}

static void probe_tick(broker *b);

static void *
sweeper_main(void *arg)
{
	broker *b = arg;

	int64_t last_sweep = 0;

	while (!b->stopping) {
		int64_t now = wire_now_ms();
		hctx *rel = NULL;

		if (now - last_sweep >= 1000) {
			inc_sweep(b);
			last_sweep = now;
		}
		nofile_probe(b);
		close_refused(b);
		probe_tick(b);

		pthread_mutex_lock(&b->mtx);
		for (uint32_t i = 0; i < b->n_members; i++) {
			member *m = b->members[i];
			hctx *h;

			if (m == NULL || (h = m->held) == NULL)
				continue;
			if (h->held_since + b->cfg.keepalive_ms > now)
				continue;
			m->held = NULL;
			h->state = HC_BUSY;
			h->next_idle = rel;
			rel = h;
		}
		pthread_mutex_unlock(&b->mtx);
		while (rel != NULL) {
			hctx *h = rel;

			rel = h->next_idle;
			h->next_idle = NULL;
			release_empty(h);
		}
		usleep(200 * 1000);
	}
	return NULL;
}

/*
 * The reaper watchdog. nng 1.5.2 can leave its reaper thread stuck on a
 * closed connection (docs/reliability.md). Nothing closed after that is
 * ever freed: each agent that disconnects keeps its descriptor, until the
 * connection cap refuses agents. Every 5 s the sweeper kicks a private
 * probe (lib/reaper.h); no new probe connection within stall_exit_s:
 * exit 75 for the service manager to start the broker again (what is
 * committed is safe: the broker is built to be killed at any point).
 */
#define PROBE_EVERY 5000

static reaper_probe *probe;
static int64_t probe_t0, probe_last; /* waiting since; last good */

static void
probe_start(broker *b)
{
	int rv;

	if (b->cfg.stall_exit_s <= 0)
		return;
	if ((rv = reaper_probe_open("broker", &probe)) != 0) {
		log_warnx("reaper watchdog off: %s", a17_strerror(rv));
		return;
	}
	probe_t0 = wire_now_ms(); /* until the first connection */
}

static void
probe_tick(broker *b)
{
	int64_t now = wire_now_ms();

	if (probe == NULL)
		return;
	if (probe_t0 != 0) {
		if (reaper_probe_done(probe)) {
			probe_t0 = 0;
			probe_last = now;
		} else if (now - probe_t0 >=
		           (int64_t)b->cfg.stall_exit_s * 1000) {
			log_warnx(
			    "A17-E0124 nng's reaper thread has been stuck "
			    "for %d s (nng 1.5.2; closed connections are "
			    "no longer freed): exiting with status %d so "
			    "that the service manager starts the broker "
			    "again",
			    b->cfg.stall_exit_s, A17_EXIT_STALLED);
			/* no nng_close: it would wait for the reaper */
			_exit(A17_EXIT_STALLED);
		}
		return;
	}
	if (now - probe_last >= PROBE_EVERY && reaper_probe_kick(probe))
		probe_t0 = now;
}

static int
is_loopback_url(const char *url)
{
	const char *host = strstr(url, "://");

	if (host == NULL)
		return 0;
	host += 3;
	return strncmp(host, "127.", 4) == 0 ||
	       strncmp(host, "localhost:", 10) == 0 ||
	       strncmp(host, "[::1]:", 6) == 0;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else
			buf[n] = '\0';
	}
	fclose(f);
	return buf;
}

/*
 * mbedTLS refuses every client certificate once the CRL's next update has
 * passed: say so loudly at start, and two weeks ahead.
 */
static void
crl_check_expiry(const char *path, const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509_CRL *crl =
	    bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
	const ASN1_TIME *next = crl ? X509_CRL_get0_nextUpdate(crl) : NULL;
	int days = 0, secs = 0;

	if (next != NULL && ASN1_TIME_diff(&days, &secs, NULL, next) == 1) {
		if (days < 0 || (days == 0 && secs <= 0))
			log_warnx("CRL %s has expired: every agent will be "
			          "refused; re-sign it (art17-pki revoke) and "
			          "restart",
			          path);
		else if (days < 14)
			log_warnx("CRL %s expires in %d days; re-sign it "
			          "before then (art17-pki revoke)",
			          path, days);
	} else {
		log_warnx("CRL %s: cannot read its next update", path);
	}
	X509_CRL_free(crl);
	BIO_free(bio);
}

/*
 * nng 1.5.2 listens with a backlog of 128. When thousands of agents dial
 * at once (the broker restarted, a network came back), the accept queue
 * overflows, the kernel drops their SYNs and each agent waits out TCP's
 * retransmission back-off (1, 3, 7, 15, 31 s ...): 1,000 agents took two
 * minutes to connect. Linux lets listen() be called again on a listening
 * socket to change its backlog, so find nng's socket by its port and
 * raise it; the kernel caps it at net.core.somaxconn.
 */
#define AGENT_BACKLOG 4096

static void
raise_backlog(nng_listener l)
{
	nng_sockaddr sa;
	struct dirent *e;
	uint16_t port;
	int raised = 0;
	DIR *d;

	if (nng_listener_get_addr(l, NNG_OPT_LOCADDR, &sa) != 0)
		return;
	if (sa.s_family == NNG_AF_INET)
		port = sa.s_in.sa_port; /* network order, like sin_port */
	else if (sa.s_family == NNG_AF_INET6)
		port = sa.s_in6.sa_port;
	else
		return;
	if ((d = opendir("/proc/self/fd")) == NULL) {
		log_warn("agents: accept backlog stays at nng's 128");
		return;
	}
	while ((e = readdir(d)) != NULL) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss), alen;
		int fd, acc = 0;
		char *end;
		long v;

		v = strtol(e->d_name, &end, 10);
		if (end == e->d_name || *end != '\0' || v < 0 || v > INT_MAX)
			continue;
		fd = (int)v;
		if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
			continue;
		if (!(ss.ss_family == AF_INET &&
		      ((struct sockaddr_in *)&ss)->sin_port == port) &&
		    !(ss.ss_family == AF_INET6 &&
		      ((struct sockaddr_in6 *)&ss)->sin6_port == port))
			continue;
		alen = sizeof(acc);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) !=
		        0 ||
		    !acc)
			continue;
		if (listen(fd, AGENT_BACKLOG) == 0)
			raised++;
	}
	closedir(d);
	if (raised > 0)
		log_debug("agents: accept backlog raised to %d (capped by "
		          "net.core.somaxconn)",
		          AGENT_BACKLOG);
	else
		log_warnx("agents: accept backlog stays at nng's 128: agents "
		          "reconnecting all at once will wait on SYN retries");
}

int
net_start(broker *b)
{
	char path[4096];
	char *ca = NULL, *crl = NULL;
	int rv;

	if ((rv = nng_rep0_open(&b->agent_sock)) != 0)
		return a17_err_nng(rv);
	/* nng drops frames above twice the cap; between the two, the
	 * application logs and answers with an error */
	nng_socket_set_size(b->agent_sock, NNG_OPT_RECVMAXSZ, 2 * WIRE_MAX_MSG);
	nng_pipe_notify(b->agent_sock, NNG_PIPE_EV_ADD_PRE, pipe_cb, b);
	nng_pipe_notify(b->agent_sock, NNG_PIPE_EV_ADD_POST, pipe_cb, b);
	nng_pipe_notify(b->agent_sock, NNG_PIPE_EV_REM_POST, pipe_cb, b);

	if (strncmp(b->cfg.listen, "tls+tcp://", 10) == 0) {
		if ((rv = nng_listener_create(&listener, b->agent_sock,
		                              b->cfg.listen)) != 0) {
			log_warnx("listen %s: %s", b->cfg.listen,
			          nng_strerror(rv));
			return a17_err_nng(rv);
		}
		snprintf(path, sizeof(path), "%s/ca/ca.crt", b->cfg.pkidir);
		if ((ca = slurp(path)) == NULL) {
			log_warn("%s", path);
			return A17_ENOTFOUND;
		}
		if (b->cfg.crlfile != NULL)
			snprintf(path, sizeof(path), "%s", b->cfg.crlfile);
		else
			snprintf(path, sizeof(path), "%s/ca/crl.pem",
			         b->cfg.pkidir);
		crl = slurp(path); /* optional */
		if (crl != NULL)
			crl_check_expiry(path, crl);
		if ((rv = nng_tls_config_alloc(&tls_cfg,
		                               NNG_TLS_MODE_SERVER)) != 0 ||
		    (rv = nng_tls_config_auth_mode(
		         tls_cfg, NNG_TLS_AUTH_MODE_OPTIONAL)) != 0 ||
		    (rv = nng_tls_config_ca_chain(tls_cfg, ca, crl)) != 0) {
			log_warnx("TLS CA/CRL setup: %s", nng_strerror(rv));
			free(ca);
			free(crl);
			return a17_err_nng(rv);
		}
		free(ca);
		free(crl);
		snprintf(path, sizeof(path), "%s/broker/tls.pem",
		         b->cfg.pkidir);
		if ((rv = nng_tls_config_cert_key_file(tls_cfg, path, NULL)) !=
		    0) {
			log_warnx("TLS certificate %s: %s", path,
			          nng_strerror(rv));
			return a17_err_nng(rv);
		}
		if ((rv = nng_listener_set_ptr(listener, NNG_OPT_TLS_CONFIG,
		                               tls_cfg)) != 0 ||
		    (rv = nng_listener_start(listener, 0)) != 0) {
			log_warnx("listen %s: %s", b->cfg.listen,
			          nng_strerror(rv));
			return a17_err_nng(rv);
		}
	} else if (strncmp(b->cfg.listen, "tcp://", 6) == 0) {
		if (!b->cfg.insecure) {
			log_warnx("%s: plain tcp:// needs --insecure",
			          b->cfg.listen);
			return A17_EDENIED;
		}
		if (!is_loopback_url(b->cfg.listen)) {
			log_warnx("%s: --insecure is limited to loopback",
			          b->cfg.listen);
			return A17_EDENIED;
		}
		log_warnx("INSECURE: plain tcp on %s (loopback only)",
		          b->cfg.listen);
		if ((rv = nng_listen(b->agent_sock, b->cfg.listen, &listener,
		                     0)) != 0) {
			log_warnx("listen %s: %s", b->cfg.listen,
			          nng_strerror(rv));
			return a17_err_nng(rv);
		}
	} else {
		log_warnx("%s: only tls+tcp:// (or tcp:// with --insecure)",
		          b->cfg.listen);
		return A17_EINVAL;
	}
	raise_backlog(listener);
	fd_budget();
	recv_more(b);
	probe_start(b);
	if (pthread_create(&sweeper, NULL, sweeper_main, b) != 0)
		return A17_ENOMEM;
	sweeper_started = 1;
	log_info("agents: listening on %s", b->cfg.listen);
	return 0;
}

void
net_stop(broker *b)
{
	hctx *h;

	b->stopping = 1;
	if (sweeper_started)
		pthread_join(sweeper, NULL);
	reaper_probe_close(probe);
	probe = NULL;
	nng_close(b->agent_sock);
	for (h = all_ctx; h != NULL; h = h->next_all)
		nng_aio_stop(h->aio);
	/* ops still queued complete against closed contexts */
	store_writer_stop(b->wr);
	b->wr = NULL;
	while ((h = all_ctx) != NULL) {
		all_ctx = h->next_all;
		nng_aio_free(h->aio);
		copies_clear(h);
		free(h->raw);
		free(h->okv);
		wire_msg_fini(&h->wm);
		free(h);
	}
	if (tls_cfg != NULL)
		nng_tls_config_free(tls_cfg);
	while (seen_head != NULL) {
		seen *e = seen_head;

		seen_head = e->next;
		tdelete(e, &seen_tree, cmp_seen);
		free(e);
	}
	seen_tail = NULL;
	n_seen = 0;
	seen_floor = 0;
	tdestroy(pipe_tree, free);
	pipe_tree = NULL;
	n_pipes = 0;
	n_close_q = 0;
}
