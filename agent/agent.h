/*
 * agent.h: the one internal header of art17-agent.
 *
 * Roles: agent.c (options, staff commands), inbox.c (the agent's LMDB:
 * inbox, outbox, cursor), link.c (the daemon's connection to the broker).
 */
#ifndef A17_AGENT_H
#define A17_AGENT_H

#include <stdint.h>

#include "art17.pb-c.h"
#include "crypto.h"
#include "store.h"

enum {
	ADB_META = 0,
	ADB_INBOX,  /* str request_id -> InboxRecord */
	ADB_BYSEQ,  /* u64 seq -> str request_id */
	ADB_OUTBOX, /* u8 kind, u64 seq -> packed ReceiptItem */
	ADB_COUNT
};

enum {
	OUT_RECEIPT = 1,
	OUT_ACCEPT = 2,
	OUT_CONSENT = 3,
	OUT_READ = 4,
	OUT_FEEDBACK = 5,
	OUT_CONSULT = 6,
};

/* link_run's exit status when nng stopped dialing (see stalled()) */
#define A17_EXIT_STALLED 75

typedef struct agent_cfg {
	const char *datadir;
	const char *keydir;
	const char *member;
	const char *url;
	const char *server_name; /* TLS name to check; NULL: from url */
	const char *run_as;      /* drop to this user when started as root */
	int insecure;
	int nosync;
	int use_syslog;
	int verbose;
	const char *hook_arrival; /* commands run on events (hooks.c) */
	const char *hook_overdue;
	const char *hook_withdrawal;
	int hook_timeout_s;
	int stall_exit_s; /* exit when nng stopped dialing this long; 0 off */
} agent_cfg;

/* inbox.c */
int inbox_open(const char *datadir, int nosync, store **sp);
int inbox_cursor(store *s, uint64_t *cursor);

/*
 * Stores the copies of one Deliver and their receipts in one commit.
 * Copies already in the inbox are not stored again, but get a receipt
 * again (the broker may not have seen the first). reqs[i] is NULL for a
 * copy that failed verification: it is skipped and only moves the cursor.
 * Returns 0 after the commit returned.
 */
int inbox_store(store *s, Art17__Copy **copies, Art17__Request **reqs,
                const uint8_t (*hashes)[A17_SHA256_LEN], size_t n,
                uint64_t cursor, size_t *n_new);

/* Up to max receipts waiting in the outbox (packed, caller frees). */
int outbox_receipts(store *s, Art17__ReceiptItem ***items, size_t *n,
                    size_t max);
int outbox_remove_receipts(store *s, const uint64_t *seqs, size_t n);
void outbox_items_free(Art17__ReceiptItem **items, size_t n);

/*
 * Marks request id accepted by person and queues an Accept for the
 * broker, in one commit. A17_ENOTFOUND when not in the inbox; A17_EEXIST
 * when it was accepted already (by *prev, a static buffer).
 */
int inbox_accept(store *s, const char *id, const char *person,
                 const char **prev);
/*
 * Opens request id's sealed content as staff member staff_id with the
 * private key at keypath; on success records the opening in the inbox
 * and queues a read receipt for the broker, in one commit. The plaintext
 * is returned (caller frees with seal_plaintext_free) and never stored.
 */
int inbox_read_sealed(store *s, const char *id, const char *staff_id,
                      const char *keypath, uint8_t **pt, size_t *len);
/*
 * Queues feedback f on request id (validated by the caller) as the next
 * version; sets f->version. A17_ENOTFOUND when the request is not here.
 */
int outbox_feedback(store *s, Art17__Feedback *f);
/* Keeps mk as request id's marking if its revision is newer. */
int inbox_set_marking(store *s, const char *id, const Art17__Marking *mk);
/* Queues a report or consultation (validated by the caller). */
int outbox_consult(store *s, const Art17__Consultation *c);
/* Queues a consent grant/revoke for the broker. */
int outbox_consent(store *s, const char *member, int grant, const char *ref);
/*
 * The oldest queued accept/consent: kind, key id and the packed payload
 * (malloc'd). A17_ENOTFOUND when there is none.
 */
int outbox_next_other(store *s, uint8_t *kind, uint64_t *id, uint8_t **buf,
                      size_t *len);
int outbox_remove(store *s, uint8_t kind, uint64_t id);

/* 1 when request id is in the inbox already. */
int inbox_has(store *s, const char *id);

/*
 * config.c: reads path into cfg; returns the number of errors reported.
 * *cf holds the strings cfg points to (conf_free() it).
 */
typedef struct conf_file conf_file;
int config_agent_read(const char *path, agent_cfg *cfg, conf_file **cf);
/* The same over len bytes at buf, named name (the fuzz harness). */
int config_agent_read_mem(const char *name, const void *buf, size_t len,
                          agent_cfg *cfg, conf_file **cf);

/*
 * hooks.c: members' notification commands. hooks_fire never blocks: the
 * event goes on a bounded queue that one thread works through, running
 * each command with the metadata as JSON on stdin and killing it after
 * the timeout. Metadata only: never content, sealed or not.
 */
typedef enum hook_event {
	HOOK_ARRIVAL = 0,
	HOOK_OVERDUE,
	HOOK_WITHDRAWAL,
} hook_event;
int hooks_start(const agent_cfg *cfg);
/* Queues ev; json (a JSON object, text) is copied. */
void hooks_fire(hook_event ev, const char *json);
/* The events, as metadata JSON (never content). */
void hooks_arrival(const char *member, uint64_t seq, const Art17__Request *r,
                   const Art17__CopyInfo *info);
void hooks_overdue(const char *member, const Art17__Reminder *rem);
void hooks_withdrawal(const char *member, uint64_t seq);
/* Waits for the running hook (up to its timeout), drops the rest. */
void hooks_stop(void);

/* link.c: runs the daemon until SIGINT/SIGTERM. Returns an exit code. */
int link_run(const agent_cfg *cfg);

#endif
