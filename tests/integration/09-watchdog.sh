#!/usr/bin/env bash
# The stall watchdogs (issue 8; docs/reliability.md). nng 1.5.2 can leave
# its reaper thread stuck on a closed connection. An agent then never dials
# again; a broker never frees another closed connection. Both exit with
# status 75 (systemd starts them again): the agent once it has had no
# session for --stall-exit seconds while nng made no connection attempt,
# the broker once its private probe connection was not redialled within
# --stall-exit. The defect cannot be caused on demand, so A17_FAULT=
# agent.jam_reaper / broker.jam_reaper block nng's reaper thread for good
# in the first closed agent connection it takes apart, as the defect does.
#  1. both agents get a request;
#  2. the broker is killed and stays down for 60 s: m1 exits with 75 and
#     A17-E0503, no sooner than --stall-exit after losing its session;
#     m2, whose dialer keeps trying a broker that is down, stays up and
#     says nothing of the kind (a broker that is down is not a stall);
#  3. the broker comes back and m1 is started again, as systemd would:
#     both get a new request (the broker ran all along with --stall-exit
#     10 and agents coming and going: it must not have exited);
#  4. the broker runs with broker.jam_reaper and m2 is killed: the broker
#     exits with 75 and A17-E0124 within --stall-exit (+ the 5 s probe
#     period); started again without the fault, with m2, both agents get
#     a new request, and every request is in every inbox once.
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"
STALL=15
DOWN=60

pki_init m1 m2
start_broker --keepalive 2000 --stall-exit 10
add_member m1
add_member m2
INC=$(declare_incident "watchdog")
A17_FAULT=agent.jam_reaper start_agent m1 --stall-exit "$STALL"
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
wait_for $DOWN grep -q "A17_FAULT agent.jam_reaper" "$A17_TMP/agent-m1.log" ||
	fail "m1's reaper did not reach the closed connection"
t_lost=$(date +%s)
exited() { # pid: gone, or a zombie waiting for us
	[ ! -d "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}
wait_for $DOWN exited "$M1" || fail "m1 did not exit although its nng reaper is stuck"
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
start_broker --keepalive 2000 --stall-exit 10
start_agent m1 --stall-exit "$STALL"
sessions() { # member n: it has had at least n sessions
	[ "$(grep -c "connected as $1" "$A17_TMP/agent-$1.log")" -ge "$2" ]
}
for m in m1 m2; do
	wait_for 60 sessions "$m" 2 || fail "$m did not come back"
done
r2=$(issue after) || fail "issue after"
wait_for 30 acked "$r2" m1 m2 || fail "$r2 not acked"
sleep 12 # more than --stall-exit with the probe going round
kill -0 "$BROKER_PID" 2>/dev/null || fail "the broker exited without a stuck reaper"
! grep -q "A17-E0124" "$A17_TMP/broker.log" || fail "A17-E0124 without a stuck reaper"

# 4. the broker's reaper jams on the next closed connection
stop_broker
A17_FAULT=broker.jam_reaper start_broker --keepalive 2000 --stall-exit 10
for m in m1 m2; do
	wait_for 60 sessions "$m" 3 || fail "$m did not reconnect"
done
kill -9 "${AGENT_PID[m2]}"
wait "${AGENT_PID[m2]}" 2>/dev/null
wait_for 30 grep -q "A17_FAULT broker.jam_reaper" "$A17_TMP/broker.log" ||
	fail "the broker's reaper did not reach m2's closed connection"
t_jam=$(date +%s)
wait_for 40 exited "$BROKER_PID" || fail "the broker did not exit although its nng reaper is stuck"
wait "$BROKER_PID"
rc=$?
t_exit=$(date +%s)
[ "$rc" = 75 ] || fail "the broker exited with $rc, not 75"
grep -q "A17-E0124" "$A17_TMP/broker.log" || fail "the broker did not say why (A17-E0124)"
echo "broker: exited with 75 $((t_exit - t_jam)) s after its reaper jammed (--stall-exit 10)"
start_broker --keepalive 2000 --stall-exit 10
start_agent m2 --stall-exit "$STALL"
r3=$(issue restarted) || fail "issue restarted"
wait_for 60 acked "$r3" m1 m2 || fail "$r3 not acked"
once_each "m1 m2" "$r1" "$r2" "$r3"
ctl audit verify >/dev/null || fail "audit"
echo "watchdog: ok"
