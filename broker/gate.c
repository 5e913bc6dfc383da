/*
 * gate.c: the Article 17(3) gate. Pure functions only; see gate.h.
 */
#include <stddef.h>

#include "gate.h"

gate_out
gate_decide(const gate_in *in)
{
	gate_out o = {0, GATE_DENY_NO_GROUND, ART17__GROUND_KIND__GROUND_NONE};

	if (in->kind != ART17__ITEM_KIND__KIND_COOPERATION_REQUEST &&
	    in->kind != ART17__ITEM_KIND__KIND_INFORMATION_SHARE) {
		o.reason = GATE_DENY_BAD_KIND;
		return o;
	}
	/* These hold for both kinds: no item may name a missing or closed
	 * incident, and drill and real traffic never mix. */
	if (!in->incident_known) {
		o.reason = GATE_DENY_NO_INCIDENT;
		return o;
	}
	if (!in->request_exercise != !in->incident_exercise) {
		o.reason = GATE_DENY_EXERCISE_MIX;
		return o;
	}
	if (in->incident_closed) {
		o.reason = GATE_DENY_CLOSED;
		return o;
	}
	if (in->kind == ART17__ITEM_KIND__KIND_INFORMATION_SHARE) {
		o.allow = 1;
		o.reason = GATE_ALLOW_SHARE;
		return o;
	}
	/* Cooperation request: Council Rules Art. 23(1). The declaration is
	 * named as the ground when both hold. */
	if (in->flag == GATE_FLAG_ACTIVE) {
		o.allow = 1;
		o.reason = GATE_ALLOW_FLAG;
		o.ground = ART17__GROUND_KIND__GROUND_LARGE_SCALE;
		return o;
	}
	if (in->consent == GATE_CONSENT_IN_FORCE) {
		o.allow = 1;
		o.reason = GATE_ALLOW_CONSENT;
		o.ground = ART17__GROUND_KIND__GROUND_CONSENT;
		return o;
	}
	/* Denied: name what went away. A revoked consent is named first:
	 * it is the member's own act, and the likelier news to the reader. */
	if (in->consent == GATE_CONSENT_REVOKED) {
		o.reason = GATE_DENY_CONSENT_REVOKED;
		return o;
	}
	switch (in->flag) {
	case GATE_FLAG_LIFTED:
		o.reason = GATE_DENY_FLAG_LIFTED;
		break;
	case GATE_FLAG_EXPIRED:
		o.reason = GATE_DENY_FLAG_EXPIRED;
		break;
	case GATE_FLAG_PENDING:
		o.reason = GATE_DENY_FLAG_PENDING;
		break;
	default:
		o.reason = GATE_DENY_NO_GROUND;
		break;
	}
	return o;
}

const char *
gate_reason_code(gate_reason r)
{
	switch (r) {
	case GATE_ALLOW_FLAG:
		return "allow.large-scale";
	case GATE_ALLOW_CONSENT:
		return "allow.consent";
	case GATE_ALLOW_SHARE:
		return "allow.share";
	case GATE_DENY_NO_GROUND:
		return "deny.no-ground";
	case GATE_DENY_FLAG_LIFTED:
		return "deny.flag-lifted";
	case GATE_DENY_FLAG_EXPIRED:
		return "deny.flag-expired";
	case GATE_DENY_FLAG_PENDING:
		return "deny.flag-unconfirmed";
	case GATE_DENY_CONSENT_REVOKED:
		return "deny.consent-revoked";
	case GATE_DENY_EXERCISE_MIX:
		return "deny.exercise-mix";
	case GATE_DENY_NO_INCIDENT:
		return "deny.no-incident";
	case GATE_DENY_CLOSED:
		return "deny.incident-closed";
	case GATE_DENY_BAD_KIND:
		return "deny.bad-kind";
	}
	return "deny.unknown";
}

const char *
gate_reason_text(gate_reason r)
{
	switch (r) {
	case GATE_ALLOW_FLAG:
		return "a large-scale attack is declared for the incident "
		       "(Council Rules Art. 23(1))";
	case GATE_ALLOW_CONSENT:
		return "the member's consent is in force (Council Rules "
		       "Art. 23(1))";
	case GATE_ALLOW_SHARE:
		return "information share: not a cooperation request, not "
		       "gated; feedback is voluntary";
	case GATE_DENY_NO_GROUND:
		return "no large-scale declaration and no consent from the "
		       "member";
	case GATE_DENY_FLAG_LIFTED:
		return "the large-scale flag was lifted and the member has not "
		       "consented";
	case GATE_DENY_FLAG_EXPIRED:
		return "the large-scale flag expired without renewal and the "
		       "member has not consented";
	case GATE_DENY_FLAG_PENDING:
		return "the large-scale flag awaits a second coordinator's "
		       "confirmation and the member has not consented";
	case GATE_DENY_CONSENT_REVOKED:
		return "the member revoked its consent and no large-scale "
		       "attack is declared";
	case GATE_DENY_EXERCISE_MIX:
		return "drill and real traffic never mix: the item and the "
		       "incident differ in their EXERCISE marking";
	case GATE_DENY_NO_INCIDENT:
		return "the incident does not exist";
	case GATE_DENY_CLOSED:
		return "the incident is closed";
	case GATE_DENY_BAD_KIND:
		return "neither a cooperation request nor an information share";
	}
	return "unknown";
}

gate_flag
gate_flag_at(const Art17__FlagState *f, int64_t now)
{
	if (f == NULL || !f->ever_set)
		return GATE_FLAG_NEVER;
	if (f->pending)
		return GATE_FLAG_PENDING;
	if (f->expired)
		return GATE_FLAG_EXPIRED;
	if (!f->active)
		return GATE_FLAG_LIFTED;
	if (f->expires_ms != 0 && now >= f->expires_ms)
		return GATE_FLAG_EXPIRED;
	return GATE_FLAG_ACTIVE;
}

gate_consent
gate_consent_at(Art17__ConsentRecord *const *hist, size_t n, int64_t at,
                const Art17__ConsentRecord **in_force)
{
	const Art17__ConsentRecord *last = NULL;

	for (size_t i = 0; i < n; i++)
		if (hist[i]->time_ms <= at)
			last = hist[i];
	if (in_force != NULL)
		*in_force = (last != NULL && last->grant) ? last : NULL;
	if (last == NULL)
		return GATE_CONSENT_NONE;
	return last->grant ? GATE_CONSENT_IN_FORCE : GATE_CONSENT_REVOKED;
}
