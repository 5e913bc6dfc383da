#!/usr/bin/env bash
# The descriptor limit (issue 8). The broker runs with RLIMIT_NOFILE = 64
# and two real agents; then:
#  A. 150 connections that complete TLS and the SP header and stay silent
#     (netfault.py flood): the broker takes as many as its connection cap
#     allows (the limit minus what it had open at start minus a reserve)
#     and closes the rest (A17-W0122), so art17ctl keeps working and the
#     connected agents are served; a new agent is kept out while the
#     flood holds its connections and gets in when they go;
#  B. 100 TCP connections that never start TLS (netfault.py halfopen):
#     nng 1.5.2 gives a handshake no deadline, so they hold every free
#     descriptor while they last (A17-W0123); the connected agents keep
#     their connections, and art17ctl may wait (printed, not asserted).
# Throughout: the broker neither dies nor spins (its CPU time is measured);
# afterwards every request is in every inbox exactly once and the audit
# log verifies.
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"
NF="$(dirname "$0")/../tools/netfault.py"
NOFILE=64

pki_init m1 m2 m3 m4
BROKER_PREFIX="prlimit --nofile=$NOFILE:$NOFILE"
start_broker --keepalive 2000
grep -q "agents: at most [0-9]* connections (descriptor limit $NOFILE" \
	"$A17_TMP/broker.log" || fail "no connection cap at start"
CAP=$(sed -n 's/.*agents: at most \([0-9]*\) connections.*/\1/p' \
	"$A17_TMP/broker.log")
for m in m1 m2 m3 m4; do add_member "$m"; done
INC=$(declare_incident "descriptor limit")
for m in m1 m2; do start_agent "$m"; done
for m in m1 m2; do wait_for 30 agent_connected "$m" || fail "$m"; done

ticks() { awk '{print $14 + $15}' "/proc/$BROKER_PID/stat"; }
HZ=$(getconf CLK_TCK)
fds() { ls "/proc/$BROKER_PID/fd" | wc -l; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }
issue() { # title members
	ctl request issue --kind share --incident "$INC" --title "$1" \
		--content "content of $1" --secret no --to "$2" | head -n 1
}
r0=$(issue before m1,m2)
wait_for 30 acked "$r0" m1 m2 || fail "before: agents not served"
echo "limit $NOFILE descriptors, $(fds) open, connection cap $CAP"

# A. silent TLS connections, far more than the limit
c0=$(ticks)
t0=$(now)
python3 "$NF" 127.0.0.1 "$BROKER_PORT" "$ART17_PKI/agents/m4" flood 150 8 \
	>"$A17_TMP/flood.out" 2>&1 &
FLOOD=$!
wait_for 10 grep -q "connections started" "$A17_TMP/flood.out" ||
	fail "flood: $(cat "$A17_TMP/flood.out")"
# art17ctl while the connections pour in
ctl member list >/dev/null || fail "art17ctl during the connection storm"
echo "A: art17ctl answered $(calc "$(now) - $t0") s into the storm"
wait_for 60 grep -q "settled" "$A17_TMP/flood.out" ||
	fail "the broker did not take or refuse every connection"
cs=$(ticks)
ts=$(now)
kill -0 "$BROKER_PID" || fail "broker died in the connection storm"
grep -q "A17-W0122 rejected: connection from" "$A17_TMP/broker.log" ||
	fail "no A17-W0122 for connections over the cap"
[ "$(fds)" -le "$NOFILE" ] || fail "more descriptors than the limit?"
# refused connections are closed 100-300 ms after their handshake
flood_open() { tail -n 1 "$A17_TMP/flood.out" | sed -n 's/.*: \([0-9]*\) open.*/\1/p'; }
flood_settled() { [ "$(flood_open)" -le "$CAP" ]; }
wait_for 10 flood_settled ||
	fail "$(flood_open) connections held, cap $CAP"
open=$(flood_open)
# the cap leaves descriptors for the admin socket: it answers at once
ta=$(now)
ctl member list >/dev/null || fail "art17ctl at the cap"
r1=$(issue during-flood m1,m2) || fail "issue at the cap"
wait_for 30 acked "$r1" m1 m2 || fail "agents not served at the cap"
echo "A: $open held, the rest closed; art17ctl and a request to both agents took $(calc "$(now) - $ta") s"
# quiet while the connections are held
c1=$(ticks)
t1=$(now)
sleep 3
c2=$(ticks)
t2=$(now)
storm=$(calc "($cs - $c0) / $HZ")
hold=$(calc "($c2 - $c1) / $HZ / ($t2 - $t1)")
echo "A: broker CPU $storm s for the storm ($(calc "$ts - $t0") s, 150 TLS handshakes), $(calc "$hold * 100")% of a core while they are held"
[ "$(calc "$hold < 0.2")" = 1.000 ] ||
	fail "broker busy while the connections were held: $hold of a core"
# a new agent finds the cap full (refused, and it keeps trying: each try
# is a TLS handshake); it gets in once the flood is gone
start_agent m3
wait "$FLOOD"
c3=$(ticks)
t3=$(now)
agent_connected m3 && fail "m3 got in over the cap"
echo "A: m3 kept out at the cap for $(calc "$t3 - $t2") s; its retries cost $(calc "($c3 - $c2) / $HZ / ($t3 - $t2) * 100")% of a core"
# An agent refused at the cap can wedge inside nng 1.5.2 (its REQ send
# never completes, its dialer never dials again): seen about once in 12
# runs. The broker cannot undo that; say so, restart it, and go on.
if ! wait_for 20 agent_connected m3; then
	echo "A: m3 wedged after being refused (nng 1.5.2 client, docs/reliability.md); restarting it"
	kill -KILL "${AGENT_PID[m3]}"
	wait "${AGENT_PID[m3]}" 2>/dev/null
	start_agent m3
	wait_for 30 agent_connected m3 || fail "m3 did not connect after the flood"
fi
r2=$(issue after-flood m1,m2,m3)
wait_for 30 acked "$r2" m1 m2 m3 || fail "after the flood: agents not served"

# B. connections that never start TLS hold every free descriptor
python3 "$NF" 127.0.0.1 "$BROKER_PORT" "$ART17_PKI/agents/m4" halfopen 100 8 \
	>"$A17_TMP/halfopen.out" 2>&1 &
HALF=$!
wait_for 10 grep -q "A17-W0123 out of file descriptors" "$A17_TMP/broker.log" ||
	fail "no A17-W0123 when descriptors ran out"
c0=$(ticks)
t0=$(now)
if timeout 3 "$BIN/tools/art17ctl" member list >/dev/null 2>&1; then
	echo "B: art17ctl answered while descriptors were exhausted"
else
	echo "B: art17ctl waited (no descriptor for its connection; known, docs/reliability.md)"
fi
sleep 2
c1=$(ticks)
t1=$(now)
busy=$(calc "($c1 - $c0) / $HZ / ($t1 - $t0)")
echo "B: broker CPU $(calc "$busy * 100")% of a core while out of descriptors ($(fds) open)"
[ "$(calc "$busy < 0.5")" = 1.000 ] ||
	fail "broker spins when out of descriptors: $busy of a core"
for m in m1 m2 m3; do
	kill -0 "${AGENT_PID[$m]}" || fail "agent $m died"
done
wait "$HALF"
kill -0 "$BROKER_PID" || fail "broker died out of descriptors"
wait_for 30 grep -q "file descriptors available again" "$A17_TMP/broker.log" ||
	fail "no recovery logged"
r3=$(issue after-halfopen m1,m2,m3) || fail "issue after the half-open flood"
wait_for 30 acked "$r3" m1 m2 m3 || fail "after the half-open flood: agents not served"

once_each "m1 m2" "$r0" "$r1" "$r2" "$r3"
once_each m3 "$r2" "$r3"
ctl audit verify >/dev/null || fail "audit"
echo "fd_limit: ok"
