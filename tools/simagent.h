/*
 * simagent.h: many light simulated agents in one process.
 *
 * Each simulated agent speaks the real agent protocol (docs/protocol.md,
 * agent/link.c) with its own Ed25519 identity key: HelloReq -> Challenge
 * (broker signature checked) -> Hello -> Welcome -> Poll{cursor} ->
 * Deliver -> (every copy's Request envelope checked against the broker
 * key) -> signed ReceiptBatch -> ReceiptOk -> Poll ...
 *
 * Everything runs on nng aio callbacks: one REQ socket, one dialer, one
 * context and one aio per agent, and no thread per agent, so one process
 * carries thousands of agents (one file descriptor each).
 *
 * There is no disk on the agent side: where the real agent commits the
 * copies and the receipt to its LMDB inbox/outbox before it sends the
 * receipt, a simulated agent keeps them in memory. The behaviour's
 * ack_delay_ms can stand in for the time that commit would take.
 *
 * Threading: callbacks run on nng's task threads. All per-agent records
 * and the pool counters are guarded by one pool mutex; the functions
 * below that read them take it, so they may be called from any thread.
 */
#ifndef A17_SIMAGENT_H
#define A17_SIMAGENT_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "crypto.h"

typedef struct sim_pool sim_pool;
typedef struct sim_agent sim_agent;

/*
 * What a simulated agent does differently from a well-behaved one. Zero
 * is the well-behaved default. Drills add fields here (and honour them in
 * simagent.c); a field that is not implemented is not declared.
 *
 * Going offline, flapping and crashing are driven from outside with
 * sim_agent_down() and sim_agent_start() (see art17-drill): the pool
 * itself has no timers for them.
 */
typedef struct sim_behaviour {
	/* Wait this long after a Deliver before sending its receipt (nng
	 * sleep on the agent's own aio: no thread is blocked). */
	uint32_t ack_delay_ms;
	/*
	 * Feedback: once a copy's receipt is confirmed, send feedback
	 * version 1 on it after feedback_delay_ms, on a second context of
	 * the same socket (so the held poll stays out). Cooperation
	 * requests always; information shares only with feedback_shares.
	 * feedback_status is an Art17__FeedbackStatus; contact a registered
	 * staff id of the member (static storage).
	 */
	int feedback;
	int feedback_shares;
	uint32_t feedback_delay_ms;
	int feedback_status;
	const char *feedback_contact;
	/*
	 * The agent's key is not the one registered for the member: after
	 * the broker's first refusal it stands still (counted as refused)
	 * instead of retrying.
	 */
	int impostor;
} sim_behaviour;

/* Pool-wide settings, shared by every agent of the pool. */
typedef struct sim_cfg {
	const char *url;           /* broker agent endpoint */
	nng_tls_config *tls;       /* client config for tls+tcp://; may be
	                              shared by every agent; NULL for tcp:// */
	const a17_key *broker_key; /* the broker's signing key (public) */
	const a17_key *const *old_broker_keys; /* rotated out, still trusted
	                                          for old copies; may be NULL */
	size_t n_old_broker_keys;
	uint32_t max_items;     /* Poll.max_items; 0 = 64 */
	uint32_t op_timeout_ms; /* send and short replies; 0 = 10000 */
	uint32_t retry_ms;      /* pause after a failure; 0 = 500 */
	/*
	 * sim_pool_start starts at most this many agents that have not had
	 * their first Welcome yet (0 = all at once). A storm of a thousand
	 * TLS handshakes overruns nng's 10 s connection negotiation timeout
	 * on a small machine and then converges slowly; pacing avoids it.
	 */
	uint32_t max_connecting;
} sim_cfg;

/* Events reported to the optional hook (for drills and tests). */
typedef enum sim_event_kind {
	SIM_EV_WELCOME = 1,  /* session bound */
	SIM_EV_DELIVER,      /* a copy verified (request_id, seq) */
	SIM_EV_RECEIPT_OK,   /* a copy confirmed durable (request_id, seq) */
	SIM_EV_ERROR,        /* something went wrong (code, text) */
	SIM_EV_SESSION_LOST, /* the broker forgot us or went silent */
	SIM_EV_FEEDBACK_OK,  /* feedback stored by the broker (request_id) */
	SIM_EV_REFUSED,      /* an impostor was refused (code, text) */
} sim_event_kind;

typedef struct sim_event {
	sim_event_kind kind;
	const char *request_id; /* DELIVER, RECEIPT_OK */
	uint64_t seq;           /* DELIVER, RECEIPT_OK */
	int code;               /* ERROR: A17_E*, or Art17 ErrCode if > 0 */
	const char *text;       /* ERROR */
	int64_t t_ns;           /* sim_now_ns() when it happened */
} sim_event;

/* Called on an nng task thread without the pool lock held. */
typedef void (*sim_hook)(void *arg, sim_agent *a, const sim_event *ev);

/* One copy as the agent saw it. Times are sim_now_ns(); 0 = not yet. */
typedef struct sim_copy_rec {
	char request_id[64];
	uint64_t seq;
	int64_t t_deliver_ns;
	int64_t t_receipt_ok_ns;
	uint32_t times; /* how often it was delivered (1 unless duplicated) */
	uint32_t other_seqs; /* deliveries of the same request under another
	                        seq: a real duplicate, never allowed */
	int exercise;        /* Request.exercise as signed by the broker */
	int kind;            /* Request.kind (Art17__ItemKind) */
	int64_t t_feedback_ok_ns; /* FeedbackOk received; 0 = not (yet) */
	int fb_status;            /* the status sent, 0 = none */
} sim_copy_rec;

typedef struct sim_agent_stats {
	int64_t t_connected_ns;       /* last Welcome */
	int64_t t_first_connected_ns; /* first Welcome */
	int64_t t_last_deliver_ns;
	int64_t t_last_receipt_ok_ns;
	uint64_t cursor;
	uint64_t welcomes;    /* sessions bound (1 in a quiet run) */
	uint64_t polls;       /* polls sent */
	uint64_t copies;      /* copies received and verified */
	uint64_t duplicates;  /* copies whose request id was already seen */
	uint64_t receipts_ok; /* copies confirmed by ReceiptOk */
	uint64_t withdrawn;   /* seqs the broker withdrew before delivery */
	uint64_t reminders;   /* overdue reminders received */
	uint64_t errors; /* refusals, bad messages, failures after Welcome */
	uint64_t connect_retries; /* failures before the first Welcome */
	uint64_t feedback_ok;     /* feedback versions confirmed stored */
	uint64_t refused;         /* impostor: refused by the broker */
	uint64_t downs;           /* times taken down (offline, crash, flap) */
	uint64_t restarts;        /* sim_agent_restart calls */
	int last_error;           /* as sim_event.code */
	int state, io;            /* protocol step and pending I/O (debug) */
	char last_error_text[128];
} sim_agent_stats;

/* Pool-wide counters, for waiting on a condition. */
typedef struct sim_counts {
	uint32_t agents;
	uint32_t started;   /* agents started */
	uint32_t connected; /* agents that had their first Welcome */
	uint32_t welcomed;  /* agents with a bound session now */
	uint32_t polling;   /* agents whose poll is sent and not answered */
	uint64_t copies;
	uint64_t duplicates;
	uint64_t receipts_ok;
	uint64_t errors;
	uint64_t feedback_ok;
	uint64_t refused;
} sim_counts;

/* Monotonic clock in nanoseconds. */
int64_t sim_now_ns(void);

/* Creates an empty pool. cfg is copied; its pointers must outlive it. */
int sim_pool_create(const sim_cfg *cfg, sim_pool **pp);

/* Installs the event hook (before sim_pool_start). */
void sim_pool_set_hook(sim_pool *p, sim_hook fn, void *arg);

/*
 * Adds an agent for member_id with its identity key (taken: freed with
 * the pool). beh may be NULL (well-behaved). The agent does nothing until
 * sim_pool_start or sim_agent_start.
 */
int sim_agent_add(sim_pool *p, const char *member_id, a17_key *id_key,
                  const sim_behaviour *beh, sim_agent **ap);

/* Opens the socket, starts dialling and says hello. */
int sim_agent_start(sim_agent *a);

/*
 * Throws away the agent's socket and starts it again (new socket, new
 * session); what it received so far is kept. For harnesses that find an
 * agent wedged (see docs/reliability.md); counted in st.restarts.
 */
int sim_agent_restart(sim_agent *a);

/*
 * Starts every agent not started yet, honouring cfg.max_connecting (it
 * then blocks until all are started; timeout_ms bounds each wait).
 * Returns the first failure, or A17_ETIMEDOUT.
 */
int sim_pool_start(sim_pool *p, int timeout_ms);

/*
 * Takes a started agent down as if its process died or its link broke:
 * closes its socket (the broker sees the connection go), waits for its
 * callbacks, and keeps what a real agent keeps on disk (copies, cursor,
 * the receipt and feedback not yet confirmed). sim_agent_start brings it
 * back; it then says hello and sends what is pending first. Call it from
 * an application thread, never from a hook or nng callback. 0, or
 * A17_EINVAL when the agent is not started.
 */
int sim_agent_down(sim_agent *a);

/* Non-zero while the agent is started (not down). */
int sim_agent_is_up(sim_agent *a);

/*
 * Makes every agent stand still: from now on callbacks do nothing (no
 * reply is answered, no reconnect says hello). Call it before stopping
 * the broker so that the agents do not react to it. Cheap, idempotent.
 */
void sim_pool_stop(sim_pool *p);

size_t sim_pool_size(const sim_pool *p);
sim_agent *sim_pool_agent(sim_pool *p, size_t i);
const char *sim_agent_member(const sim_agent *a);

void sim_pool_counts(sim_pool *p, sim_counts *c);

/*
 * Waits until pred(counts, arg) returns non-zero (checked now and after
 * every change) or timeout_ms passes. Returns 0, or A17_ETIMEDOUT.
 */
int sim_pool_wait(sim_pool *p, int (*pred)(const sim_counts *, void *),
                  void *arg, int timeout_ms);

void sim_agent_get_stats(sim_agent *a, sim_agent_stats *st);

/*
 * Before sim_agent_start: the inbox this agent had in another process
 * (a17-torture --resume). Copies whose receipt was never confirmed are
 * asked for again (the poll cursor goes back before the first of them;
 * what comes again counts as a transport redelivery), and confirmed
 * copies without confirmed feedback get their feedback queued again.
 */
int sim_agent_preload(sim_agent *a, const sim_copy_rec *recs, size_t n);

/*
 * Finds the copy of request_id this agent received; 0 and *out filled, or
 * A17_ENOTFOUND.
 */
int sim_agent_find_copy(sim_agent *a, const char *request_id,
                        sim_copy_rec *out);

/*
 * Calls fn for every copy this agent holds, under the pool lock (fn must
 * not call back into the pool).
 */
void sim_agent_each_copy(sim_agent *a,
                         void (*fn)(void *arg, const sim_copy_rec *r),
                         void *arg);

/*
 * Stops every agent (no callback runs after it returns), closes the
 * sockets, frees everything. Accepts NULL. Note: nng 1.5.2 can hang in
 * nng_close under load (nng issues #1543/#1813, fixed in 1.8); a caller
 * that must end may run this on a thread and give up after a while.
 */
void sim_pool_destroy(sim_pool *p);

#endif
