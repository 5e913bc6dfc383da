/*
 * broker.h: the one internal header of art17-broker.
 *
 * Roles: broker.c (start-up, options, keys), db.c (stored records and the
 * writer ops over them), net.c (the agent endpoint: sessions, held polls,
 * fan-out, receipts), admin.c (the coordinator endpoint on ipc://).
 *
 * Locking: one mutex, a17b.mtx, guards every in-memory table below. Store
 * reads happen outside it; store writes go through the single writer.
 */
#ifndef A17_BROKER_H
#define A17_BROKER_H

#include <pthread.h>
#include <stdint.h>

#include <nng/nng.h>

#include "art17.pb-c.h"
#include "crypto.h"
#include "store.h"

enum {
	DB_META = 0,
	DB_MEMBERS,    /* u32 member_no -> MemberRecord */
	DB_REQUESTS,   /* u64 request_no -> RequestRecord */
	DB_REQIDS,     /* str request_id -> u64 request_no */
	DB_DELIVERIES, /* u32 member_no, u64 seq -> DeliveryRecord */
	DB_BYCOPY,     /* u64 request_no, u32 member_no -> u64 seq */
	DB_CONSENT,    /* u32 member_no, u64 no -> ConsentRecord (history) */
	DB_INCIDENTS,  /* str incident_id -> IncidentRecord */
	DB_AUDIT,      /* u64 seq -> AuditRecord (hash-chained) */
	DB_FEEDBACK,   /* u64 request_no, u32 member_no, u32 version -> Feedback
	                */
	DB_FPRINT,     /* u8 kind, 32-byte hash -> str request_id (Q17) */
	DB_CONSULT,    /* u64 consult_no -> ConsultRecord */
	DB_STAFF, /* u32 member_no, str staff_id, u64 effective -> StaffRecord
	           */
	DB_COUNT
};

struct hctx;

/* In-memory view of one member; persistent truth is DB_MEMBERS. */
typedef struct member {
	char *id;
	uint32_t no;
	a17_key *key;
	a17_key *retired; /* the key before a rekey: kept, never freed live */
	uint8_t key_id[A17_KEYID_LEN];
	uint64_t next_seq;    /* next per-member delivery sequence */
	uint64_t last_seq;    /* highest sequence stored (derived) */
	struct hctx *held;    /* poll held for this member, if any */
	struct reminder *rem; /* overdue reminders for its next Deliver */
	size_t n_rem;
	struct revision
	    *rev; /* signed marking revisions for its next Deliver */
	size_t n_rev;
	int reporter;  /* a registered non-member reporter */
	uint32_t pipe; /* bound pipe id, 0 when none */
	int connected;
} member;

typedef struct revision {
	uint8_t *env;
	size_t len;
} revision;

typedef struct reminder {
	char request_id[64];
	uint64_t seq;
	int64_t deadline_ms;
} reminder;

typedef struct coordinator {
	char *name;
	a17_key *key;
} coordinator;

typedef struct broker_cfg {
	const char *datadir;
	const char *pkidir;
	const char *listen;
	int insecure; /* allow plain tcp:// on loopback */
	int keepalive_ms;
	int nosync;
	unsigned batch_max;
	unsigned batch_wait_us;
	const char *crlfile;
	int flag_quorum;       /* 1, or 2 for the two-person rule */
	int staff_delay_days;  /* business days until a staff change applies */
	int confirm_window_ms; /* how long a flag waits for confirmation */
	const char *http_listen;    /* dashboard and metrics; NULL: off */
	const char *http_auth_file; /* the dashboard's bearer token (0600) */
	int stall_exit_s; /* exit 75 when nng's reaper is stuck this long */
} broker_cfg;

/* the broker's exit status when nng's reaper is stuck (net.c) */
#define A17_EXIT_STALLED 75

typedef struct broker {
	broker_cfg cfg;
	store *st;
	store_writer *wr;
	a17_key *sign_key; /* broker signing key */
	pthread_mutex_t mtx;
	member **members; /* by member_no */
	uint32_t n_members;
	uint32_t cap_members;
	void *by_id;    /* tsearch tree of member* by id */
	void *by_keyid; /* tsearch tree of member* by key id */
	void *sessions; /* tsearch tree of session* by pipe id */
	coordinator *coords;
	size_t n_coords;
	uint64_t next_request_no;
	nng_socket agent_sock;
	nng_socket admin_sock;
	_Atomic int stopping; /* read by the sweeper and admin threads */
	uint64_t n_connected;
} broker;

extern broker a17b;

/* db.c */
int db_open(broker *b);
int db_load(broker *b);
int db_member_add(broker *b, Art17__MemberRecord *rec, const char *by,
                  char *err, size_t errlen);
member *db_member_by_id(broker *b, const char *id);
int db_cmp_keyid(const void *a, const void *b);
/* Rotates a member's identity key; the old one is kept in old_keys. */
int db_member_rekey(broker *b, const char *member_id,
                    const ProtobufCBinaryData *pub, const char *by, char *err,
                    size_t errlen);
member *db_member_by_keyid(broker *b, const uint8_t *kid);
int db_delivery_key(store_key *k, uint32_t member_no, uint64_t seq);

/* audit.c: append-only, SHA-256 hash-chained, inside the caller's txn */
int audit_append(store_txn *t, const char *actor, const char *action,
                 const char *subject, int exercise, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/*
 * Walks the whole log. Returns 0 and *bad = 0 when intact; else *bad is
 * the first bad entry's seq and detail says what is wrong.
 */
int audit_verify(store *s, uint64_t *count, uint64_t *bad, char *detail,
                 size_t dlen);
/*
 * Verifies every stored signed receipt against the keys its member has
 * had (current and rotated-out). *ok counts good ones; A17_EBADSIG with
 * detail naming the first that does not verify.
 */
int audit_verify_receipts(store *s, uint64_t *ok, char *detail, size_t dlen);

/* registry.c: incidents, consent, and the gate applied to stored copies */
int reg_incident_get(store_txn *t, const char *id, Art17__IncidentRecord **out);
int reg_incident_put(store_txn *t, const Art17__IncidentRecord *r);
int reg_consent_history(store_txn *t, uint32_t member_no,
                        Art17__ConsentRecord ***hist, size_t *n);
void reg_consent_free(Art17__ConsentRecord **hist, size_t n);

/* The gate's verdict for one copy, with its ground filled in. */
typedef struct reg_verdict {
	int allow;
	int reason; /* gate_reason */
	Art17__GroundKind ground;
	char consent_ref[256];
	int64_t declared_ms;
} reg_verdict;
int reg_gate(store_txn *t, Art17__ItemKind kind, const char *incident_id,
             int exercise, uint32_t member_no, int64_t now, reg_verdict *v);

/*
 * Withdraws every queued copy (of member_no, or of every member when
 * member_no is UINT32_MAX; of requests naming incident_id, or all when
 * NULL) whose gate no longer holds. Audits each.
 */
int reg_regate(store_txn *t, broker *b, const char *incident_id,
               uint32_t member_no, int64_t now, size_t *n_withdrawn);

int reg_put_delivery(store_txn *t, uint32_t member_no, uint64_t seq,
                     const Art17__DeliveryRecord *d);

/* incident.c: coordinator (and agent) operations on incidents, consent
 * and the audit log. Each fills info with a one-line outcome. */
int inc_consent_change(broker *b, const char *member_id, int grant,
                       const char *ref, const char *by, Art17__ConsentVia via,
                       char *info, size_t ilen);
int inc_admin(broker *b, const char *coord, Art17__AdminRequest *a,
              Art17__AdminReply *r, char *err, size_t errlen);
/* A consent change as a writer op (agents' changes go through it). */
typedef struct consent_op {
	uint32_t no;
	const char *member_id;
	int grant;
	const char *ref;
	const char *by;
	Art17__ConsentVia via;
	int64_t now;
	size_t withdrawn;
} consent_op;
int inc_apply_consent(store_txn *t, void *arg);
/* Records flags that expired; run periodically. */
void inc_sweep(broker *b);

/* staff.c: registered staff (one person, one key) and their changes */
int staff_apply(broker *b, const char *coord, Art17__StaffChangeSet *cs,
                char *info, size_t ilen);
int staff_list(broker *b, const char *member_id, Art17__AdminReply *r,
               char *err, size_t errlen);

/* One staff member who may receive sealed content at some instant. */
typedef struct staff_key {
	char staff_id[129];
	uint8_t pub[32];
} staff_key;
/* The eligible staff of member_no at now: account yes, not abolished. */
int staff_eligible(store_txn *t, uint32_t member_no, int64_t now,
                   staff_key **out, size_t *n);

/* 1 when staff_id is registered (not abolished) at member_no at now. */
int staff_registered(store_txn *t, uint32_t member_no, const char *staff_id,
                     int64_t now);

/* net.c */
int net_start(broker *b);
void net_stop(broker *b);
/* Wakes every held poll whose member has copies beyond its cursor. */
void net_kick_members(broker *b, const uint32_t *nos, size_t n);

/* config.c: the configuration file (flags are applied after it) */
typedef struct conf_file conf_file;
typedef struct broker_opts {
	const char *run_as;
	int use_syslog;
	int verbose;
	conf_file *file;
} broker_opts;
/*
 * Reads path into cfg and o; returns the number of errors reported.
 * o->file holds the strings cfg points to (conf_free() it).
 */
int config_broker_read(const char *path, broker_cfg *cfg, broker_opts *o);
/* The same over len bytes at buf, named name (the fuzz harness). */
int config_broker_read_mem(const char *name, const void *buf, size_t len,
                           broker_cfg *cfg, broker_opts *o);
/* -n: checks the settings in force after the flags; counts errors. */
int config_broker_check(const broker_cfg *cfg);

/* The dashboard's settings (config.c; http.c uses them at the start). */
#define HTTP_TOKEN_MAX 256
/* 0 when url is an http:// URL on loopback; else why in why. */
int http_check_url(const char *url, char *why, size_t wlen);
/*
 * Reads the token from path: refused unless a regular file that group
 * and others cannot read or write, holding 16..HTTP_TOKEN_MAX printable
 * characters (one line). Returns 0 or -1 with why filled in.
 */
int http_token_load(const char *path, char *tok, size_t toklen, char *why,
                    size_t wlen);

/* http.c: the dashboard and /metrics on nng's HTTP server */
int http_start(broker *b);
void http_stop(broker *b);

/* metrics.c: counters that the hot paths bump, read by /metrics */
void metrics_gate(int reason);
/* Appends the Prometheus text exposition to buf (malloc'd, grows). */
int metrics_render(broker *b, char **buf, size_t *len);

/* admin.c */
int admin_start(broker *b);
void admin_stop(broker *b);

#endif
