#!/usr/bin/env bash
# The agent's stall watchdog (issue 8; docs/reliability.md). nng 1.5.2 can
# leave its reaper thread stuck on a closed connection; nng then never
# dials again, and an agent would never reach the broker again. The agent
# exits with status 75 (systemd starts it again) once it has had no
# session for --stall-exit seconds while nng made no connection attempt.
# The stuck reaper cannot be caused on demand, so m1 runs with
# A17_FAULT=agent.freeze_dialer: on losing its session it closes its
# dialer, which leaves the same signs (no attempt, nothing to send on).
#  1. both agents get a request;
#  2. the broker is killed and stays down for 60 s: m1 exits with 75 and
#     A17-E0503, no sooner than --stall-exit after losing its session;
#     m2, whose dialer keeps trying a broker that is down, stays up and
#     says nothing of the kind (a broker that is down is not a stall);
#  3. the broker comes back and m1 is started again, as systemd would:
#     both get a new request, and every request is in every inbox once.
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"
STALL=15
DOWN=60

pki_init m1 m2
start_broker --keepalive 2000
add_member m1
add_member m2
INC=$(declare_incident "watchdog")
A17_FAULT=agent.freeze_dialer start_agent m1 --stall-exit "$STALL"
start_agent m2 --stall-exit "$STALL"
for m in m1 m2; do wait_for 30 agent_connected "$m" || fail "$m"; done
issue() {
	ctl request issue --kind share --incident "$INC" --title "$1" \
		--content "watchdog $1" --secret no --to m1,m2 | head -n 1
}
r1=$(issue before) || fail "issue before"
wait_for 30 acked "$r1" m1 m2 || fail "$r1 not acked"

# 2. the broker is gone for $DOWN s
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
t0=$(date +%s)
M1=${AGENT_PID[m1]}
wait_for $DOWN grep -q "A17_FAULT agent.freeze_dialer" "$A17_TMP/agent-m1.log" ||
	fail "m1 did not notice the broker was gone"
t_lost=$(date +%s)
exited() { # pid: gone, or a zombie waiting for us
	[ ! -d "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}
wait_for $DOWN exited "$M1" || fail "m1 did not exit although its dialer stopped"
wait "$M1"
rc=$?
t_exit=$(date +%s)
[ "$rc" = 75 ] || fail "m1 exited with $rc, not 75"
grep -q "A17-E0503" "$A17_TMP/agent-m1.log" || fail "m1 did not say why (A17-E0503)"
[ $((t_exit - t_lost)) -ge "$STALL" ] ||
	fail "m1 exited $((t_exit - t_lost)) s after losing its session, before --stall-exit $STALL"
echo "m1: exited with 75 $((t_exit - t_lost)) s after losing its session (--stall-exit $STALL)"
while [ $(($(date +%s) - t0)) -lt "$DOWN" ]; do sleep 1; done
kill -0 "${AGENT_PID[m2]}" 2>/dev/null ||
	fail "m2 exited while the broker was down ($(tail -n 3 "$A17_TMP/agent-m2.log"))"
! grep -q "A17-E0503" "$A17_TMP/agent-m2.log" ||
	fail "m2 took a broker that is down for a stall"
echo "m2: still up after the broker was down for $DOWN s"

# 3. back
start_broker --keepalive 2000
start_agent m1 --stall-exit "$STALL"
reconnected() { [ "$(grep -c "connected as $1" "$A17_TMP/agent-$1.log")" -ge 2 ]; }
for m in m1 m2; do wait_for 60 reconnected "$m" || fail "$m did not come back"; done
r2=$(issue after) || fail "issue after"
wait_for 30 acked "$r2" m1 m2 || fail "$r2 not acked"
for r in "$r1" "$r2"; do
	for m in m1 m2; do
		[ "$(inbox_count "$m" "$r")" = 1 ] ||
			fail "$m holds $r $(inbox_count "$m" "$r") times"
	done
done
ctl audit verify >/dev/null || fail "audit"
echo "agent_watchdog: ok"
