/*
 * delivery.pml: the art17 delivery protocol and its Article 17(3) gate, as
 * a Promela model for SPIN. Checked by tests/model/spin_check.sh (ctest -L
 * gate); what it proves is written up in docs/gate.md.
 *
 * Property (DESIGN.md Invariant 1): no copy of a cooperation request is
 * delivered unless its ground holds at that moment: the large-scale flag
 * is active (ground LARGE_SCALE), or the member's consent is in force
 * (ground CONSENT). A withdrawn copy is never delivered; a copy is
 * delivered at most once; excluded copies are never delivered.
 *
 * ------------------------------------------------------------------------
 * Map from the model to the C code. Keep the two in step: when the broker
 * changes how it issues, delivers or withdraws, change the model here.
 *
 *   model                        C code
 *   ---------------------------  -------------------------------------------
 *   flag (F_*)                   gate_flag (broker/gate.h), computed from the
 *                                incident's FlagState by gate_flag_at()
 *                                (broker/gate.c) at the instant of decision
 *   setter, confirmer            FlagState.set_by, FlagState.confirmed_by
 *   QUORUM                       the two-person rule: admin.c's
 *                                incident_flag / incident_confirm handlers
 *                                (AdminRequest.incident_flag/_confirm)
 *   consent[m] (C_*)             gate_consent, from the member's consent
 *                                history by gate_consent_at() (gate.c)
 *   GATE(m), GROUND(m)           gate_decide() (gate.c) for a cooperation
 *                                request whose incident is known, open, and
 *                                of the same EXERCISE marking (those inputs
 *                                are fixed here; tests/unit/test_gate.c
 *                                covers every combination of them)
 *   copy[m] (DS_*)               DeliveryRecord.state in DB_DELIVERIES;
 *                                DS_* values are art17.proto DeliveryState.
 *                                EXCLUDED is not a stored state: the member
 *                                is listed in IssueResult.excluded and gets
 *                                no DeliveryRecord
 *   ground[m]                    DeliveryRecord.ground / CopyInfo.ground
 *   proctype coordinator         broker/admin.c: issue() + apply_issue()
 *                                (request_issue: the gate is evaluated per
 *                                member at issue time, queued or excluded),
 *                                the flag set / confirm / lift handlers,
 *                                which withdraw the queued copies the gate
 *                                no longer allows in the same writer op
 *   proctype clock               time passing FlagState.expires_ms or
 *                                pending_until_ms; nothing is written then
 *   proctype sweeper             broker/net.c sweeper_main(): withdraws
 *                                queued copies whose gate no longer holds
 *                                (expiry); may lag arbitrarily behind
 *   proctype member_consent      admin.c consent_grant / consent_revoke and
 *                                MSG_CONSENT from the agent (net.c); a
 *                                revoke withdraws that member's queued
 *                                copies in the same writer op
 *   proctype deliverer           broker/net.c start_deliver() ->
 *                                apply_deliver(): on a poll from a connected
 *                                agent, a QUEUED copy is re-gated with the
 *                                flag and consent *now*: DELIVERED with the
 *                                ground valid now, or WITHDRAWN. A copy
 *                                already DELIVERED but beyond the agent's
 *                                cursor (reply lost) is sent again as is.
 *   inflight[m]                  a Deliver reply on its way (send_deliver)
 *   proctype agent               agent/: goes offline and reconnects (nng
 *                                pipe events, net.c pipe_cb), stores the
 *                                copy (inbox[m]) and sends a receipt;
 *                                apply_receipt() moves DELIVERED -> ACKED
 *   ndeliv[m], everw[m]          ghost counters, no C counterpart:
 *                                DeliveryRecord.delivered_ms is set once
 *
 * Atomic steps stand for one LMDB writer transaction: the single writer
 * (DESIGN.md "Storage") serialises issue, deliver, receipt, flag and
 * consent ops, so each is atomic with respect to the others.
 *
 * Build options (spin -D...):
 *   -DBROKEN        skip the delivery-time gate check (a queued copy is
 *                   always delivered): SPIN must find a violation.
 *   -DQUORUM=1      no two-person rule: a set flag is active at once.
 *   -DN=2           two members instead of three.
 *   -DRECEIPT_GATE  also assert the ground when the agent first *stores*
 *                   the copy, not only when the broker marks it delivered.
 *                   This fails (a lift can fall between the commit and the
 *                   agent's receipt, and a lost reply is resent as is):
 *                   "the moment of delivery" is the broker's commit of
 *                   DELIVERED; see docs/gate.md.
 * ------------------------------------------------------------------------
 */

#ifndef N
#define N 3
#endif
#ifndef QUORUM
#define QUORUM 2
#endif

/* gate_flag (broker/gate.h) */
#define F_NEVER   0
#define F_ACTIVE  1
#define F_PENDING 2
#define F_LIFTED  3
#define F_EXPIRED 4

/* gate_consent */
#define C_NONE     0
#define C_IN_FORCE 1
#define C_REVOKED  2

/* DeliveryState (proto/art17.proto); NOTYET and EXCLUDED are model-only */
#define NOTYET       0
#define DS_QUEUED    1
#define DS_DELIVERED 2
#define DS_ACKED     3
#define DS_WITHDRAWN 6
#define EXCLUDED     9

/* GroundKind */
#define G_NONE        0
#define G_LARGE_SCALE 1
#define G_CONSENT     2

/* coordinators */
#define NOBODY 0
#define ALICE  1
#define BOB    2

byte flag = F_NEVER;
byte setter = NOBODY;
byte confirmer = NOBODY;
byte consent[N];
byte copy[N];
byte ground[N];
bool conn[N];
bool inflight[N];
bool inbox[N];
bool issued = false;
byte ndeliv[N];
bool everw[N];

/* gate_decide() for a cooperation request on a known, open incident of the
 * same EXERCISE marking. */
#define GATE(m)   (flag == F_ACTIVE || consent[m] == C_IN_FORCE)
/* the ground named: the declaration first when both hold */
#define GROUND(m) (flag == F_ACTIVE -> G_LARGE_SCALE : \
                   (consent[m] == C_IN_FORCE -> G_CONSENT : G_NONE))
/* does the recorded ground g hold now for member m */
#define HOLDS(g, m) ((g) == G_LARGE_SCALE && flag == F_ACTIVE || \
                     (g) == G_CONSENT && consent[m] == C_IN_FORCE)

/* Withdraw member m's copy if it is queued and the gate no longer allows
 * it (the proactive withdrawal of Invariant 1; the audit record of the
 * reason is not modelled). */
inline withdraw_if_denied(m)
{
	if
	:: copy[m] == DS_QUEUED && !GATE(m) ->
		copy[m] = DS_WITHDRAWN;
		everw[m] = true
	:: else -> skip
	fi
}

#define SETTABLE (flag == F_NEVER || flag == F_LIFTED || flag == F_EXPIRED)
#if QUORUM == 1
#define SET_BY(c) setter = c; confirmer = NOBODY; flag = F_ACTIVE
#else
#define SET_BY(c) setter = c; confirmer = NOBODY; flag = F_PENDING
#endif

inline withdraw_all_denied()
{
	i = 0;
	do
	:: i < N -> withdraw_if_denied(i); i++
	:: else -> break
	od;
	i = 0
}

/* Coordinators: issue one cooperation request, and set / confirm / lift
 * the large-scale flag (admin.c). Two coordinators, ALICE and BOB. */
active proctype coordinator()
{
	byte i;

end:
	do
	/* request_issue: gate each member now; queued or excluded */
	:: d_step {
		!issued ->
		issued = true;
		i = 0;
		do
		:: i < N ->
			if
			:: GATE(i) -> copy[i] = DS_QUEUED
			:: else -> copy[i] = EXCLUDED
			fi;
			i++
		:: else -> break
		od;
		i = 0
	   }
	/* incident_flag: set (or set again after a lift or expiry) */
	:: d_step { SETTABLE -> SET_BY(ALICE) }
	:: d_step { SETTABLE -> SET_BY(BOB) }
	/* incident_confirm: only a different coordinator makes it active;
	 * a confirmation by the setter is refused and changes nothing */
	:: d_step {
		flag == F_PENDING && setter != ALICE ->
		confirmer = ALICE;
		flag = F_ACTIVE
	   }
	:: d_step {
		flag == F_PENDING && setter != BOB ->
		confirmer = BOB;
		flag = F_ACTIVE
	   }
	/* incident_unflag: lift; queued copies on this ground withdrawn */
	:: d_step {
		flag == F_ACTIVE || flag == F_PENDING ->
		flag = F_LIFTED;
		withdraw_all_denied()
	   }
	od
}

/* Time: an active flag passes expires_ms; a pending one passes
 * pending_until_ms unconfirmed (gate_flag_at: neither is a ground). No
 * write happens at that instant. */
active proctype clock()
{
end:
	do
	:: d_step { flag == F_ACTIVE -> flag = F_EXPIRED }
	:: d_step { flag == F_PENDING -> flag = F_LIFTED }
	od
}

/* The periodic sweep: withdraws what the clock made undeliverable. */
active proctype sweeper()
{
	byte i;

end:
	do
	:: d_step {
		issued ->
		withdraw_all_denied()
	   }
	od
}

/* One member's consent: granted, revoked, granted again (admin.c or the
 * member's agent). A revoke withdraws the member's queued copies that no
 * longer have a ground. */
proctype member_consent(byte m)
{
end:
	do
	:: d_step { consent[m] != C_IN_FORCE -> consent[m] = C_IN_FORCE }
	:: d_step {
		consent[m] == C_IN_FORCE ->
		consent[m] = C_REVOKED;
		withdraw_if_denied(m)
	   }
	od
}

/* The broker's delivery to member m (net.c apply_deliver). */
proctype deliverer(byte m)
{
end:
	do
	/* first delivery of a queued copy: re-gate at this moment */
	:: d_step {
		conn[m] && !inflight[m] && copy[m] == DS_QUEUED ->
#ifndef BROKEN
		if
		:: GATE(m) ->
#endif
			ground[m] = GROUND(m);
			/* Invariant 1 at the moment of delivery */
			assert(HOLDS(ground[m], m));
			assert(!everw[m]);
			copy[m] = DS_DELIVERED;
			ndeliv[m]++;
			inflight[m] = true
#ifndef BROKEN
		:: else ->
			copy[m] = DS_WITHDRAWN;
			everw[m] = true
		fi
#endif
	   }
	/* the agent's cursor is behind: the reply was lost; same copy again,
	 * not a new delivery */
	:: d_step {
		conn[m] && !inflight[m] && copy[m] == DS_DELIVERED &&
		!inbox[m] ->
		inflight[m] = true
	   }
	od
}

/* Member m's agent: offline and back, stores the copy, acks it. */
proctype agent(byte m)
{
end:
	do
	:: d_step { !conn[m] -> conn[m] = true }
	/* goes offline: a Deliver in flight is lost */
	:: d_step { conn[m] -> conn[m] = false; inflight[m] = false }
	/* stores the copy (durably, before its receipt) */
	:: d_step {
		conn[m] && inflight[m] ->
		inflight[m] = false;
#ifdef RECEIPT_GATE
		assert(inbox[m] || HOLDS(ground[m], m));
#endif
		inbox[m] = true
	   }
	/* receipt: apply_receipt commits ACKED */
	:: d_step {
		conn[m] && inbox[m] && copy[m] == DS_DELIVERED ->
		copy[m] = DS_ACKED
	   }
	od
}

init
{
	byte m;

	atomic {
		m = 0;
		do
		:: m < N ->
			run member_consent(m);
			run deliverer(m);
			run agent(m);
			m++
		:: else -> break
		od
	}
}

/*
 * The invariant, for each member m:
 *   - a copy is delivered at most once (ndeliv[m] <= 1);
 *   - a withdrawn copy was never delivered, and never will be;
 *   - an excluded copy is never delivered;
 *   - what the agent stores was delivered (never withdrawn or excluded);
 *   - an acked copy was stored by the agent;
 *   - a delivered copy records a ground (never G_NONE);
 * and the flag is active only with a second, different coordinator.
 */
#define INV(m) (ndeliv[m] <= 1 && \
                !(everw[m] && ndeliv[m] > 0) && \
                (copy[m] != EXCLUDED || ndeliv[m] == 0) && \
                (!inbox[m] || copy[m] == DS_DELIVERED || \
                 copy[m] == DS_ACKED) && \
                (copy[m] != DS_ACKED || inbox[m]) && \
                (ndeliv[m] == 0 || ground[m] != G_NONE))

#if QUORUM == 1
#define TWO_PERSON true
#else
#define TWO_PERSON (flag != F_ACTIVE || \
                    (confirmer != NOBODY && confirmer != setter))
#endif

#if N == 2
#define ALL_INV (INV(0) && INV(1))
#elif N == 3
#define ALL_INV (INV(0) && INV(1) && INV(2))
#else
#error "N must be 2 or 3"
#endif

ltl safe { [] (ALL_INV && TWO_PERSON) }
