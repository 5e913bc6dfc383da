/*
 * test_gate.c: the Article 17(3) gate (broker/gate.c) against an
 * independent statement of the rule.
 *
 * The expected decision of every row comes from the tables below, written
 * from Council Rules Art. 23(1) and DESIGN.md Invariants 1 and 5, never
 * from gate.c:
 *
 *   - A cooperation request is allowed iff the item and the incident carry
 *     the same EXERCISE marking, the incident is known and open, and the
 *     large-scale flag is active or the member's consent is in force. The
 *     ground is LARGE_SCALE when the flag is active, else CONSENT.
 *   - An information share is allowed iff the same marking holds and the
 *     incident is known and open. It needs no ground (GROUND_NONE).
 *   - Deny reasons, in this order of precedence: not a cooperation request
 *     or share; incident unknown; EXERCISE marking mixed; incident closed;
 *     then (cooperation only) a revoked consent is named first, else
 *     the flag state (lifted, expired, pending), else no ground.
 *
 * The rule is stated twice (a literal reason table and a boolean formula)
 * and the two are checked against each other before gate_decide is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "gate.h"

#define NFLAG    5
#define NCONSENT 3
#define NEXER    4
#define NKIND    2
#define NINC     3
#define NREASON  12

static const gate_flag flags[NFLAG] = {
    GATE_FLAG_NEVER,  GATE_FLAG_ACTIVE,  GATE_FLAG_PENDING,
    GATE_FLAG_LIFTED, GATE_FLAG_EXPIRED,
};
static const char *const flag_names[NFLAG] = {
    "never", "active", "pending", "lifted", "expired",
};

static const gate_consent consents[NCONSENT] = {
    GATE_CONSENT_NONE,
    GATE_CONSENT_IN_FORCE,
    GATE_CONSENT_REVOKED,
};
static const char *const consent_names[NCONSENT] = {
    "none",
    "in-force",
    "revoked",
};

/* {request_exercise, incident_exercise} */
static const int exers[NEXER][2] = {
    {0, 0}, /* real request, real incident */
    {1, 1}, /* drill request, drill incident */
    {1, 0}, /* drill request, real incident */
    {0, 1}, /* real request, drill incident */
};
static const char *const exer_names[NEXER] = {
    "real/real",
    "exercise/exercise",
    "exercise/real",
    "real/exercise",
};

static const Art17__ItemKind kinds[NKIND] = {
    ART17__ITEM_KIND__KIND_COOPERATION_REQUEST,
    ART17__ITEM_KIND__KIND_INFORMATION_SHARE,
};
static const char *const kind_names[NKIND] = {"cooperation", "share"};

/* {incident_known, incident_closed} */
static const int incs[NINC][2] = {
    {1, 0}, /* known and open */
    {0, 0}, /* unknown */
    {1, 1}, /* known and closed */
};
static const char *const inc_names[NINC] = {"open", "unknown", "closed"};

/*
 * Statement 1 of the rule: a cooperation request, same marking, incident
 * known and open. Rows: flag; columns: consent none / in force / revoked.
 */
static const gate_reason coop_reason[NFLAG][NCONSENT] = {
    /* never */
    {GATE_DENY_NO_GROUND, GATE_ALLOW_CONSENT, GATE_DENY_CONSENT_REVOKED},
    /* active */
    {GATE_ALLOW_FLAG, GATE_ALLOW_FLAG, GATE_ALLOW_FLAG},
    /* pending */
    {GATE_DENY_FLAG_PENDING, GATE_ALLOW_CONSENT, GATE_DENY_CONSENT_REVOKED},
    /* lifted */
    {GATE_DENY_FLAG_LIFTED, GATE_ALLOW_CONSENT, GATE_DENY_CONSENT_REVOKED},
    /* expired */
    {GATE_DENY_FLAG_EXPIRED, GATE_ALLOW_CONSENT, GATE_DENY_CONSENT_REVOKED},
};

/* What each reason means for the outcome: allowed, and on which ground. */
static const struct {
	gate_reason reason;
	int allow;
	Art17__GroundKind ground;
	const char *code; /* stable: it is written to the audit log */
} reason_meaning[NREASON] = {
    {GATE_ALLOW_FLAG, 1, ART17__GROUND_KIND__GROUND_LARGE_SCALE,
     "allow.large-scale"},
    {GATE_ALLOW_CONSENT, 1, ART17__GROUND_KIND__GROUND_CONSENT,
     "allow.consent"},
    {GATE_ALLOW_SHARE, 1, ART17__GROUND_KIND__GROUND_NONE, "allow.share"},
    {GATE_DENY_NO_GROUND, 0, ART17__GROUND_KIND__GROUND_NONE, "deny.no-ground"},
    {GATE_DENY_FLAG_LIFTED, 0, ART17__GROUND_KIND__GROUND_NONE,
     "deny.flag-lifted"},
    {GATE_DENY_FLAG_EXPIRED, 0, ART17__GROUND_KIND__GROUND_NONE,
     "deny.flag-expired"},
    {GATE_DENY_FLAG_PENDING, 0, ART17__GROUND_KIND__GROUND_NONE,
     "deny.flag-unconfirmed"},
    {GATE_DENY_CONSENT_REVOKED, 0, ART17__GROUND_KIND__GROUND_NONE,
     "deny.consent-revoked"},
    {GATE_DENY_EXERCISE_MIX, 0, ART17__GROUND_KIND__GROUND_NONE,
     "deny.exercise-mix"},
    {GATE_DENY_NO_INCIDENT, 0, ART17__GROUND_KIND__GROUND_NONE,
     "deny.no-incident"},
    {GATE_DENY_CLOSED, 0, ART17__GROUND_KIND__GROUND_NONE,
     "deny.incident-closed"},
    {GATE_DENY_BAD_KIND, 0, ART17__GROUND_KIND__GROUND_NONE, "deny.bad-kind"},
};

typedef struct row {
	gate_in in;
	gate_reason reason;
	int allow;
	Art17__GroundKind ground;
	char label[128];
} row;

#define NROWS (NINC * NKIND * NEXER * NFLAG * NCONSENT)

static row rows[NROWS];

static size_t
meaning_of(gate_reason r)
{
	for (size_t i = 0; i < NREASON; i++)
		if (reason_meaning[i].reason == r)
			return i;
	fail_msg("reason %d missing from reason_meaning", (int)r);
	return 0;
}

/* Statement 2 of the rule: the brief's boolean formula. */
static int
formula_allows(int share, gate_flag f, gate_consent c, int rx, int ix,
               int known, int closed)
{
	int same = (rx != 0) == (ix != 0);
	int open = known && !closed;

	if (share)
		return same && open;
	return same && open &&
	       (f == GATE_FLAG_ACTIVE || c == GATE_CONSENT_IN_FORCE);
}

/* The expected reason of one row, from the tables above. */
static gate_reason
expected_reason(int i, int k, int e, int f, int c)
{
	int known = incs[i][0], closed = incs[i][1];
	int same = exers[e][0] == exers[e][1];

	if (!known)
		return GATE_DENY_NO_INCIDENT;
	if (!same)
		return GATE_DENY_EXERCISE_MIX;
	if (closed)
		return GATE_DENY_CLOSED;
	if (kinds[k] == ART17__ITEM_KIND__KIND_INFORMATION_SHARE)
		return GATE_ALLOW_SHARE;
	return coop_reason[f][c];
}

/* Builds every row (every combination) and its expected outcome. */
static void
build_rows(void)
{
	for (size_t n = 0; n < NROWS; n++) {
		row *r = &rows[n];
		size_t x = n, mi;
		int c = (int)(x % NCONSENT), f, e, k, i;

		x /= NCONSENT;
		f = (int)(x % NFLAG);
		x /= NFLAG;
		e = (int)(x % NEXER);
		x /= NEXER;
		k = (int)(x % NKIND);
		x /= NKIND;
		i = (int)x;
		assert_true(i < NINC);

		memset(r, 0, sizeof(*r));
		r->in.kind = kinds[k];
		r->in.flag = flags[f];
		r->in.consent = consents[c];
		r->in.request_exercise = exers[e][0];
		r->in.incident_exercise = exers[e][1];
		r->in.incident_known = incs[i][0];
		r->in.incident_closed = incs[i][1];
		snprintf(r->label, sizeof(r->label),
		         "row %zu: incident=%s kind=%s exercise=%s flag=%s "
		         "consent=%s",
		         n, inc_names[i], kind_names[k], exer_names[e],
		         flag_names[f], consent_names[c]);
		r->reason = expected_reason(i, k, e, f, c);
		mi = meaning_of(r->reason);
		r->allow = reason_meaning[mi].allow;
		r->ground = reason_meaning[mi].ground;
		/* the two statements of the rule agree */
		if (r->allow != formula_allows(k == 1, flags[f], consents[c],
		                               exers[e][0], exers[e][1],
		                               incs[i][0], incs[i][1]))
			fail_msg("rule tables disagree: %s", r->label);
	}
}

static void
check_row(const row *r)
{
	gate_out o = gate_decide(&r->in), again;

	if (o.allow != r->allow || o.reason != r->reason ||
	    o.ground != r->ground)
		fail_msg("%s: got allow=%d reason=%s ground=%d, want "
		         "allow=%d reason=%s ground=%d",
		         r->label, o.allow, gate_reason_code(o.reason),
		         (int)o.ground, r->allow, gate_reason_code(r->reason),
		         (int)r->ground);
	/* pure: the same input gives the same output */
	again = gate_decide(&r->in);
	assert_int_equal(again.allow, o.allow);
	assert_int_equal(again.reason, o.reason);
	assert_int_equal(again.ground, o.ground);
}

static void
test_truth_table(void **state)
{
	size_t allowed = 0, coop_allowed = 0;

	(void)state;
	build_rows();
	for (size_t i = 0; i < NROWS; i++) {
		check_row(&rows[i]);
		if (rows[i].allow) {
			allowed++;
			if (rows[i].in.kind ==
			    ART17__ITEM_KIND__KIND_COOPERATION_REQUEST)
				coop_allowed++;
		}
	}
	/*
	 * Counted by hand from the rule: of the 15 flag x consent cells,
	 * 3 (flag active) + 4 (consent in force, flag not active) = 7 allow
	 * a cooperation request, in each of the 2 same-marking exercise
	 * combinations of an open incident: 14. Shares: 15 x 2 = 30.
	 */
	assert_int_equal(coop_allowed, 14);
	assert_int_equal(allowed, 14 + 30);
}

/* Neither a cooperation request nor a share: refused whatever else. */
static void
test_bad_kind(void **state)
{
	const Art17__ItemKind bad[] = {
	    ART17__ITEM_KIND__KIND_UNSPECIFIED,
	    (Art17__ItemKind)3,
	    (Art17__ItemKind)-1,
	};

	(void)state;
	for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++)
		for (int i = 0; i < NINC; i++)
			for (int f = 0; f < NFLAG; f++)
				for (int c = 0; c < NCONSENT; c++) {
					gate_in in = {0};
					gate_out o;

					in.kind = bad[b];
					in.flag = flags[f];
					in.consent = consents[c];
					in.incident_known = incs[i][0];
					in.incident_closed = incs[i][1];
					o = gate_decide(&in);
					assert_int_equal(o.allow, 0);
					assert_int_equal(o.reason,
					                 GATE_DENY_BAD_KIND);
					assert_int_equal(
					    o.ground,
					    ART17__GROUND_KIND__GROUND_NONE);
				}
}

/* An incident both unknown and marked closed is reported as unknown. */
static void
test_unknown_beats_closed(void **state)
{
	gate_in in = {0};
	gate_out o;

	(void)state;
	in.kind = ART17__ITEM_KIND__KIND_COOPERATION_REQUEST;
	in.flag = GATE_FLAG_ACTIVE;
	in.consent = GATE_CONSENT_IN_FORCE;
	in.incident_known = 0;
	in.incident_closed = 1;
	o = gate_decide(&in);
	assert_int_equal(o.allow, 0);
	assert_int_equal(o.reason, GATE_DENY_NO_INCIDENT);
}

/* Every reason has a code and a text; both are non-empty and distinct. */
static void
test_reason_strings(void **state)
{
	(void)state;
	for (size_t i = 0; i < NREASON; i++) {
		gate_reason r = reason_meaning[i].reason;
		const char *code = gate_reason_code(r);
		const char *text = gate_reason_text(r);

		assert_non_null(code);
		assert_non_null(text);
		assert_true(strlen(code) > 0);
		assert_true(strlen(text) > 0);
		assert_string_equal(code, reason_meaning[i].code);
		/* allow.* for allows, deny.* for denials */
		assert_int_equal(strncmp(code, "allow.", 6) == 0,
		                 reason_meaning[i].allow);
		assert_int_equal(strncmp(code, "deny.", 5) == 0,
		                 !reason_meaning[i].allow);
		assert_string_not_equal(code, "deny.unknown");
		assert_string_not_equal(text, "unknown");
		for (size_t j = 0; j < i; j++) {
			gate_reason s = reason_meaning[j].reason;

			assert_int_not_equal(r, s);
			assert_string_not_equal(code, gate_reason_code(s));
			assert_string_not_equal(text, gate_reason_text(s));
		}
	}
	/* The two Art. 23(1) grounds cite the rule. */
	assert_non_null(strstr(gate_reason_text(GATE_ALLOW_FLAG), "23(1)"));
	assert_non_null(strstr(gate_reason_text(GATE_ALLOW_CONSENT), "23(1)"));
	assert_non_null(
	    strstr(gate_reason_text(GATE_ALLOW_SHARE), "voluntary"));
	/* A value outside the enum still gets a (denying) string. */
	assert_string_equal(gate_reason_code((gate_reason)99), "deny.unknown");
	assert_string_equal(gate_reason_text((gate_reason)99), "unknown");
}

/* ------------------------------------------------------------ flag */

static void
test_flag_at(void **state)
{
	Art17__FlagState f = ART17__FLAG_STATE__INIT;

	(void)state;
	/* never set */
	assert_int_equal(gate_flag_at(NULL, 1000), GATE_FLAG_NEVER);
	assert_int_equal(gate_flag_at(&f, 1000), GATE_FLAG_NEVER);

	/* set, waiting for the second coordinator */
	f.ever_set = 1;
	f.pending = 1;
	f.set_ms = 1000;
	f.pending_until_ms = 2000;
	f.expires_ms = 10000;
	f.set_by = "alice";
	assert_int_equal(gate_flag_at(&f, 1500), GATE_FLAG_PENDING);
	/* never active before confirmation, whatever the clock says */
	assert_int_not_equal(gate_flag_at(&f, 2500), GATE_FLAG_ACTIVE);
	assert_int_not_equal(gate_flag_at(&f, 20000), GATE_FLAG_ACTIVE);

	/* confirmed: active until expires_ms, expired from expires_ms on */
	f.pending = 0;
	f.active = 1;
	f.confirmed_by = "bob";
	assert_int_equal(gate_flag_at(&f, 1000), GATE_FLAG_ACTIVE);
	assert_int_equal(gate_flag_at(&f, 9999), GATE_FLAG_ACTIVE);
	assert_int_equal(gate_flag_at(&f, 10000), GATE_FLAG_EXPIRED);
	assert_int_equal(gate_flag_at(&f, 10001), GATE_FLAG_EXPIRED);
	assert_int_equal(gate_flag_at(&f, INT64_MAX), GATE_FLAG_EXPIRED);

	/* expires_ms 0: no expiry */
	f.expires_ms = 0;
	assert_int_equal(gate_flag_at(&f, 10000), GATE_FLAG_ACTIVE);
	assert_int_equal(gate_flag_at(&f, INT64_MAX), GATE_FLAG_ACTIVE);

	/* the broker's expiry sweep wrote expired (and cleared active):
	 * expired, whatever the clock says */
	f.expires_ms = 10000;
	f.active = 0;
	f.expired = 1;
	assert_int_equal(gate_flag_at(&f, 10000), GATE_FLAG_EXPIRED);
	assert_int_equal(gate_flag_at(&f, 5000), GATE_FLAG_EXPIRED);
	f.active = 1;
	assert_int_equal(gate_flag_at(&f, 5000), GATE_FLAG_EXPIRED);
	/* proposed again after expiry: pending, not expired, not active */
	f.active = 0;
	f.pending = 1;
	assert_int_equal(gate_flag_at(&f, 11000), GATE_FLAG_PENDING);
	f.pending = 0;
	f.expired = 0;
	f.expires_ms = 0;

	/* lifted */
	f.active = 0;
	f.lifted_ms = 5000;
	f.lifted_by = "carol";
	assert_int_equal(gate_flag_at(&f, 6000), GATE_FLAG_LIFTED);
	f.expires_ms = 10000;
	assert_int_equal(gate_flag_at(&f, 6000), GATE_FLAG_LIFTED);
	assert_int_equal(gate_flag_at(&f, 20000), GATE_FLAG_LIFTED);

	/* the state feeds the gate: only an active flag is a ground */
	{
		gate_in in = {0};

		in.kind = ART17__ITEM_KIND__KIND_COOPERATION_REQUEST;
		in.incident_known = 1;
		f.active = 1;
		f.expires_ms = 10000;
		in.flag = gate_flag_at(&f, 9999);
		assert_int_equal(gate_decide(&in).reason, GATE_ALLOW_FLAG);
		in.flag = gate_flag_at(&f, 10000);
		assert_int_equal(gate_decide(&in).reason,
		                 GATE_DENY_FLAG_EXPIRED);
	}
}

/* ------------------------------------------------------------ consent */

static void
test_consent_at(void **state)
{
	Art17__ConsentRecord grant = ART17__CONSENT_RECORD__INIT;
	Art17__ConsentRecord revoke = ART17__CONSENT_RECORD__INIT;
	Art17__ConsentRecord regrant = ART17__CONSENT_RECORD__INIT;
	Art17__ConsentRecord future = ART17__CONSENT_RECORD__INIT;
	Art17__ConsentRecord *hist[4];
	const Art17__ConsentRecord *in_force;
	const Art17__ConsentRecord junk = ART17__CONSENT_RECORD__INIT;

	(void)state;
	/* empty history */
	in_force = &junk;
	assert_int_equal(gate_consent_at(NULL, 0, 1000, &in_force),
	                 GATE_CONSENT_NONE);
	assert_null(in_force);
	assert_int_equal(gate_consent_at(hist, 0, 1000, NULL),
	                 GATE_CONSENT_NONE);

	grant.member_id = "m1";
	grant.grant = 1;
	grant.reference = "C-2024-001 (2024-04-01)";
	grant.time_ms = 100;
	grant.no = 1;
	revoke.member_id = "m1";
	revoke.grant = 0;
	revoke.reference = "C-2024-001 revoked";
	revoke.time_ms = 200;
	revoke.no = 2;
	hist[0] = &grant;
	hist[1] = &revoke;

	/* before the grant */
	in_force = &junk;
	assert_int_equal(gate_consent_at(hist, 2, 99, &in_force),
	                 GATE_CONSENT_NONE);
	assert_null(in_force);
	/* at and after the grant: in force, pointing at the grant */
	in_force = NULL;
	assert_int_equal(gate_consent_at(hist, 2, 100, &in_force),
	                 GATE_CONSENT_IN_FORCE);
	assert_ptr_equal(in_force, &grant);
	in_force = NULL;
	assert_int_equal(gate_consent_at(hist, 2, 150, &in_force),
	                 GATE_CONSENT_IN_FORCE);
	assert_ptr_equal(in_force, &grant);
	assert_string_equal(in_force->reference, "C-2024-001 (2024-04-01)");
	/* just before the revocation, at it, and after it */
	assert_int_equal(gate_consent_at(hist, 2, 199, NULL),
	                 GATE_CONSENT_IN_FORCE);
	in_force = &junk;
	assert_int_equal(gate_consent_at(hist, 2, 200, &in_force),
	                 GATE_CONSENT_REVOKED);
	assert_null(in_force);
	in_force = &junk;
	assert_int_equal(gate_consent_at(hist, 2, 1000000, &in_force),
	                 GATE_CONSENT_REVOKED);
	assert_null(in_force);

	/* a future-dated record is ignored until its time comes */
	revoke.time_ms = 5000;
	in_force = NULL;
	assert_int_equal(gate_consent_at(hist, 2, 1000, &in_force),
	                 GATE_CONSENT_IN_FORCE);
	assert_ptr_equal(in_force, &grant);
	assert_int_equal(gate_consent_at(hist, 2, 5000, NULL),
	                 GATE_CONSENT_REVOKED);
	future.grant = 1;
	future.reference = "C-2099-001";
	future.time_ms = 9000;
	hist[0] = &future;
	in_force = &junk;
	assert_int_equal(gate_consent_at(hist, 1, 8999, &in_force),
	                 GATE_CONSENT_NONE);
	assert_null(in_force);
	in_force = NULL;
	assert_int_equal(gate_consent_at(hist, 1, 9000, &in_force),
	                 GATE_CONSENT_IN_FORCE);
	assert_ptr_equal(in_force, &future);

	/* grant, revoke, grant again: the latest grant is the one in force */
	revoke.time_ms = 200;
	regrant.grant = 1;
	regrant.reference = "C-2024-007 (2024-06-01)";
	regrant.time_ms = 300;
	regrant.no = 3;
	hist[0] = &grant;
	hist[1] = &revoke;
	hist[2] = &regrant;
	hist[3] = &future;
	assert_int_equal(gate_consent_at(hist, 4, 250, NULL),
	                 GATE_CONSENT_REVOKED);
	in_force = NULL;
	assert_int_equal(gate_consent_at(hist, 4, 300, &in_force),
	                 GATE_CONSENT_IN_FORCE);
	assert_ptr_equal(in_force, &regrant);
	in_force = NULL;
	assert_int_equal(gate_consent_at(hist, 4, 8999, &in_force),
	                 GATE_CONSENT_IN_FORCE);
	assert_ptr_equal(in_force, &regrant);
	in_force = NULL;
	assert_int_equal(gate_consent_at(hist, 4, 9000, &in_force),
	                 GATE_CONSENT_IN_FORCE);
	assert_ptr_equal(in_force, &future);

	/* the state feeds the gate */
	{
		gate_in in = {0};
		gate_out o;

		in.kind = ART17__ITEM_KIND__KIND_COOPERATION_REQUEST;
		in.incident_known = 1;
		in.consent = gate_consent_at(hist, 2, 150, NULL);
		o = gate_decide(&in);
		assert_int_equal(o.reason, GATE_ALLOW_CONSENT);
		assert_int_equal(o.ground, ART17__GROUND_KIND__GROUND_CONSENT);
		in.consent = gate_consent_at(hist, 2, 250, NULL);
		assert_int_equal(gate_decide(&in).reason,
		                 GATE_DENY_CONSENT_REVOKED);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_truth_table),
	    cmocka_unit_test(test_bad_kind),
	    cmocka_unit_test(test_unknown_beats_closed),
	    cmocka_unit_test(test_reason_strings),
	    cmocka_unit_test(test_flag_at),
	    cmocka_unit_test(test_consent_at),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
