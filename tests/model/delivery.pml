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
 *   setter, confirmer, lapsed    FlagState.set_by, .confirmed_by, and
 *                                now > .pending_until_ms
 *   closed                       IncidentRecord.closed
 *   QUORUM                       the broker's quorum setting (inc_op.quorum):
 *                                the two-person rule of incident.c
 *   consent[m] (C_*)             gate_consent, from the member's consent
 *                                history (registry.c reg_consent_history)
 *                                by gate_consent_at() (gate.c)
 *   GATE(m), GROUND(m)           registry.c reg_gate() -> gate_decide()
 *                                (gate.c) for a cooperation request on a
 *                                known incident of the same EXERCISE
 *                                marking (those inputs are fixed here;
 *                                tests/unit/test_gate.c covers them all)
 *   copy[m]                      DeliveryRecord.state in DB_DELIVERIES;
 *                                DS_* values are art17.proto DeliveryState
 *                                (see the table of constants below).
 *                                EXCLUDED is not a stored state: the member
 *                                is listed in IssueResult.excluded and gets
 *                                no DeliveryRecord
 *   ground[m]                    DeliveryRecord.ground / CopyInfo.ground
 *   withdraw_if_denied,          registry.c reg_regate() -> regate_request()
 *   withdraw_all_denied
 *   proctype coordinator         broker/admin.c issue() + apply_issue()
 *                                (request_issue: gated per member at issue
 *                                time: queued or excluded); incident.c
 *                                apply_incident() INC_FLAG, INC_CONFIRM,
 *                                INC_UNFLAG and INC_CLOSE (the last two
 *                                call reg_regate in the same writer op)
 *   proctype clock               time passing FlagState.expires_ms,
 *                                .pending_until_ms, Request.deadline_ms;
 *                                nothing is written at that instant
 *   proctype sweeper             net.c sweeper_main() -> incident.c
 *                                inc_sweep() -> INC_EXPIRE (+ reg_regate);
 *                                may lag arbitrarily behind the clock
 *   proctype member_consent      incident.c inc_apply_consent() (from
 *                                admin.c consent_grant / consent_revoke, or
 *                                MSG_CONSENT from the agent); a revoke calls
 *                                reg_regate for that member in the same op
 *   proctype deliverer           net.c start_deliver() -> apply_deliver():
 *                                on a poll from a connected agent, a copy
 *                                not yet handed over (QUEUED, or OVERDUE
 *                                with delivered_ms 0) is re-gated with the
 *                                flag and consent *now*: DELIVERED with the
 *                                ground valid now, or WITHDRAWN. A copy
 *                                already handed over but beyond the agent's
 *                                cursor (reply lost) is sent again as is.
 *   inflight[m]                  a Deliver reply on its way (send_deliver)
 *   proctype agent               agent/: goes offline and reconnects (nng
 *                                pipe events, net.c pipe_cb), stores the
 *                                copy (inbox[m]) and sends a receipt;
 *                                net.c apply_receipt() -> ACKED
 *   ndeliv[m], everw[m]          ghost variables, no C counterpart
 *
 * Atomic steps stand for one LMDB writer transaction: the single writer
 * (DESIGN.md "Storage") serialises issue, deliver, receipt, flag and
 * consent ops, so each is atomic with respect to the others.
 *
 * Build options (spin -D...):
 *   -DN=3           three members instead of two (the default, N=2, already
 *                   has a member with and one without consent; N=3 takes
 *                   ~35 s and ~700 MB: A17_SPIN_N=3 spin_check.sh).
 *   -DQUORUM=1      no two-person rule: a set flag is active at once
 *                   (the broker's quorum setting; spin_check.sh checks both).
 *   -DBROKEN        skip the delivery-time gate check (an undelivered copy
 *                   is always handed over): SPIN must find a violation.
 *   -DRECEIPT_GATE  also assert the ground when the agent first *stores*
 *                   the copy, not only when the broker commits DELIVERED.
 *                   This fails, by design: a lift can fall between the
 *                   broker's commit and the agent's receipt, and a lost
 *                   reply is resent as it was. "The moment of delivery" is
 *                   the broker's commit of DELIVERED; see docs/gate.md.
 *
 * What is not modelled: several requests (copies are independent of each
 * other: the gate is per copy), the EXERCISE marking and an unknown
 * incident (fixed inputs here; test_gate.c has every combination), the
 * audit log, accepted/answered (after acked, no gate), crashes (the
 * writer's commits are atomic; Invariant 3 has its own tests).
 * ------------------------------------------------------------------------
 */

#ifndef N
#define N 2
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

/*
 * Copy states: DeliveryState (proto/art17.proto) where one exists. OVERDUE
 * is split by DeliveryRecord.delivered_ms: OVERDUE_Q (never handed over:
 * still gated, still withdrawable) and OVERDUE_D (handed over). NOTYET and
 * EXCLUDED are model-only.
 */
#define NOTYET       0
#define DS_QUEUED    1
#define DS_DELIVERED 2
#define DS_ACKED     3
#define DS_WITHDRAWN 6
#define OVERDUE_Q    7
#define OVERDUE_D    8
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
byte setter = NOBODY;    /* FlagState.set_by */
byte confirmer = NOBODY; /* FlagState.confirmed_by */
bool lapsed = false;     /* now > FlagState.pending_until_ms */
bool closed = false;     /* IncidentRecord.closed */
bool issued = false;
byte consent[N];
byte copy[N];
byte ground[N];
bool conn[N];
bool inflight[N];
bool inbox[N];
byte ndeliv[N];
bool everw[N];

/* not yet handed to the agent's transport: gated, withdrawable */
#define UNDELIVERED(m) (copy[m] == DS_QUEUED || copy[m] == OVERDUE_Q)
/* handed over, no receipt yet */
#define HANDED(m) (copy[m] == DS_DELIVERED || copy[m] == OVERDUE_D)

/* gate_decide() for a cooperation request on a known incident of the same
 * EXERCISE marking (test_gate.c covers the other inputs). */
#define GATE(m)   (!closed && (flag == F_ACTIVE || consent[m] == C_IN_FORCE))
/* the ground named: the declaration first when both hold */
#define GROUND(m) (flag == F_ACTIVE -> G_LARGE_SCALE : \
                   (consent[m] == C_IN_FORCE -> G_CONSENT : G_NONE))
/* does the recorded ground g hold now for member m */
#define HOLDS(g, m) (!closed && \
                     ((g) == G_LARGE_SCALE && flag == F_ACTIVE || \
                      (g) == G_CONSENT && consent[m] == C_IN_FORCE))

/* registry.c regate_request(): withdraw member m's copy if it was not
 * handed over yet and the gate no longer allows it (the audit record of
 * the reason is not modelled). */
inline withdraw_if_denied(m)
{
	if
	:: UNDELIVERED(m) && !GATE(m) ->
		copy[m] = DS_WITHDRAWN;
		everw[m] = true
	:: else -> skip
	fi
}

/* registry.c reg_regate() over every member */
inline withdraw_all_denied()
{
	i = 0;
	do
	:: i < N -> withdraw_if_denied(i); i++
	:: else -> break
	od;
	i = 0
}

/* incident.c INC_FLAG on a flag that is not active: proposed (pending)
 * under the two-person rule, else active at once. Proposing again while
 * pending replaces the proposer and restarts the window. Renewing an
 * active flag only moves expires_ms: no gate change, not modelled. */
#define SETTABLE (!closed && flag != F_ACTIVE)
#if QUORUM == 1
#define SET_BY(c) setter = c; confirmer = NOBODY; lapsed = false; \
                  flag = F_ACTIVE
#else
#define SET_BY(c) setter = c; confirmer = NOBODY; lapsed = false; \
                  flag = F_PENDING
#endif
/* incident.c INC_CONFIRM: pending, within the window, another person */
#define CONFIRMABLE_BY(c) (!closed && flag == F_PENDING && !lapsed && \
                           setter != c)

/* Coordinators ALICE and BOB: issue one cooperation request, set /
 * confirm / lift the large-scale flag, close the incident (admin.c,
 * incident.c). */
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
	/* incident_flag */
	:: d_step { SETTABLE -> SET_BY(ALICE) }
	:: d_step { SETTABLE -> SET_BY(BOB) }
	/* incident_confirm; by the proposer, or too late: refused, no
	 * change */
	:: d_step { CONFIRMABLE_BY(ALICE) -> confirmer = ALICE; flag = F_ACTIVE }
	:: d_step { CONFIRMABLE_BY(BOB) -> confirmer = BOB; flag = F_ACTIVE }
	/* incident_unflag: lift (active or pending); re-gate queued copies */
	:: d_step {
		!closed && (flag == F_ACTIVE || flag == F_PENDING) ->
		flag = F_LIFTED;
		withdraw_all_denied()
	   }
	/* incident_close: re-gate queued copies (all now denied) */
	:: d_step {
		!closed ->
		closed = true;
		withdraw_all_denied()
	   }
	od
}

/* Time passing; nothing is written at these instants:
 *   - expires_ms passes: gate_flag_at() reads EXPIRED from then on;
 *   - pending_until_ms passes: the flag stays pending (gate: PENDING),
 *     and a confirmation is refused;
 *   - a request's deadline passes (OVERDUE, written by the broker). */
active proctype clock()
{
	byte i;

end:
	do
	:: d_step { flag == F_ACTIVE -> flag = F_EXPIRED }
	:: d_step { flag == F_PENDING && !lapsed -> lapsed = true }
	:: d_step {
		issued ->
		i = 0;
		do
		:: i < N ->
			if
			:: copy[i] == DS_QUEUED -> copy[i] = OVERDUE_Q
			:: copy[i] == DS_DELIVERED -> copy[i] = OVERDUE_D
			:: else -> skip
			fi;
			i++
		:: else -> break
		od;
		i = 0
	   }
	od
}

/* net.c sweeper_main() -> incident.c inc_sweep(): INC_EXPIRE writes the
 * expiry and re-gates queued copies. May lag behind the clock. */
active proctype sweeper()
{
	byte i;

end:
	do
	:: d_step { issued && flag == F_EXPIRED -> withdraw_all_denied() }
	od
}

/* One member's consent: granted, revoked, granted again (admin.c or the
 * member's agent; incident.c inc_apply_consent). A revoke re-gates the
 * member's queued copies in the same writer op; a grant re-queues
 * nothing. */
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

/* The broker's delivery to member m (net.c apply_deliver), on a poll from
 * the connected agent. */
proctype deliverer(byte m)
{
end:
	do
	/* first hand-over of a copy: re-gate at this moment */
	:: d_step {
		conn[m] && !inflight[m] && UNDELIVERED(m) ->
#ifndef BROKEN
		if
		:: GATE(m) ->
#endif
			ground[m] = GROUND(m);
			/* Invariant 1 at the moment of delivery */
			assert(HOLDS(ground[m], m));
			assert(!everw[m]);
			if
			:: copy[m] == DS_QUEUED -> copy[m] = DS_DELIVERED
			:: else -> copy[m] = OVERDUE_D
			fi;
			ndeliv[m]++;
			inflight[m] = true
#ifndef BROKEN
		:: else ->
			copy[m] = DS_WITHDRAWN;
			everw[m] = true
		fi
#endif
	   }
	/* the agent's cursor is behind (the reply was lost): the same copy
	 * again, with its recorded ground; not a new delivery */
	:: d_step {
		conn[m] && !inflight[m] && HANDED(m) && !inbox[m] ->
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
	/* receipt: net.c apply_receipt commits ACKED */
	:: d_step { conn[m] && inbox[m] && HANDED(m) -> copy[m] = DS_ACKED }
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
 *   - what the agent stores was handed over (never withdrawn/excluded);
 *   - an acked copy was stored by the agent;
 *   - a delivered copy records a ground (never G_NONE);
 * and the flag is active only when confirmed by a second, different
 * coordinator.
 */
#define INV(m) (ndeliv[m] <= 1 && \
                !(everw[m] && ndeliv[m] > 0) && \
                (copy[m] != EXCLUDED || ndeliv[m] == 0) && \
                (!inbox[m] || HANDED(m) || copy[m] == DS_ACKED) && \
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
