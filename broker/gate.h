/*
 * gate.h: the Article 17(3) gate, as one pure function.
 *
 * Council Rules Art. 23(1): a cooperation request may be made to a member
 * only while a large-scale attack is declared (the incident's flag is
 * active) or the member has consented. Information shares are not gated.
 * Drill and real traffic never mix.
 *
 * No I/O, no clock: the caller computes the flag and consent state at the
 * instant of the decision (gate_flag_at, gate_consent_at) and passes them.
 */
#ifndef A17_GATE_H
#define A17_GATE_H

#include <stdint.h>

#include "art17.pb-c.h"

typedef enum gate_flag {
	GATE_FLAG_NEVER = 0, /* never set on this incident */
	GATE_FLAG_ACTIVE,    /* set (and confirmed), not lifted, not expired */
	GATE_FLAG_PENDING,   /* set, waiting for a second coordinator */
	GATE_FLAG_LIFTED,    /* lifted by a coordinator */
	GATE_FLAG_EXPIRED,   /* expired without renewal */
} gate_flag;

typedef enum gate_consent {
	GATE_CONSENT_NONE = 0, /* never granted */
	GATE_CONSENT_IN_FORCE,
	GATE_CONSENT_REVOKED,
} gate_consent;

typedef struct gate_in {
	Art17__ItemKind kind;
	gate_flag flag;
	gate_consent consent;
	int request_exercise;  /* the request is a drill item */
	int incident_exercise; /* the incident it names is a drill */
	int incident_known;    /* the incident exists */
	int incident_closed;
} gate_in;

typedef enum gate_reason {
	GATE_ALLOW_FLAG = 0,       /* large-scale declaration in force */
	GATE_ALLOW_CONSENT,        /* the member's consent in force */
	GATE_ALLOW_SHARE,          /* information share: not gated */
	GATE_DENY_NO_GROUND,       /* no flag ever, no consent ever */
	GATE_DENY_FLAG_LIFTED,     /* flag lifted, no consent */
	GATE_DENY_FLAG_EXPIRED,    /* flag expired, no consent */
	GATE_DENY_FLAG_PENDING,    /* flag awaits confirmation, no consent */
	GATE_DENY_CONSENT_REVOKED, /* consent revoked, no flag */
	GATE_DENY_EXERCISE_MIX,    /* drill and real mixed */
	GATE_DENY_NO_INCIDENT,     /* the incident does not exist */
	GATE_DENY_CLOSED,          /* the incident is closed */
	GATE_DENY_BAD_KIND,        /* neither cooperation nor share */
} gate_reason;

typedef struct gate_out {
	int allow;
	gate_reason reason;
	Art17__GroundKind ground; /* the ground it may go on, when allowed */
} gate_out;

/* Decides one recipient. Pure: same input, same output. */
gate_out gate_decide(const gate_in *in);

/* A stable short code ("allow.large-scale", "deny.consent-revoked", ...). */
const char *gate_reason_code(gate_reason r);

/* The reason in words a coordinator can check against the Rules. */
const char *gate_reason_text(gate_reason r);

/* The flag's state at instant now (ms). f may be NULL (never set). */
gate_flag gate_flag_at(const Art17__FlagState *f, int64_t now);

/*
 * The consent state at instant at, from a member's history (oldest
 * first): the last record with time_ms <= at decides. *in_force is set to
 * that record when it grants (else NULL).
 */
gate_consent gate_consent_at(Art17__ConsentRecord *const *hist, size_t n,
                             int64_t at, const Art17__ConsentRecord **in_force);

#endif
