#!/usr/bin/env bash
# Drill and real traffic never mix (Invariant 5), with the real broker and
# two real agents: a drill request cannot name a real incident, a real
# request cannot name a drill incident (both refused for every member with
# deny.exercise-mix, even with the flag set and consent in force), and a
# real art17-agent taking part in a drill shows the EXERCISE marking, while
# its real copy does not.
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"

pki_init m1 m2
start_broker
add_member m1
add_member m2
for m in m1 m2; do start_agent "$m"; done
for m in m1 m2; do wait_for 30 agent_connected "$m" || fail "agent $m did not connect"; done

INC=$(declare_incident "real incident")
EX=$(declare_incident "drill incident" --exercise)
case "$EX" in EX-INC-*) ;; *) fail "drill incident id $EX" ;; esac
ctl consent grant m1 --ref "CONSENT-1 2026-11-01" >/dev/null || fail "consent"
ctl incident flag "$INC" --reason "large-scale" --expires 1h >/dev/null || fail "flag real"
ctl incident flag "$EX" --reason "EXERCISE" --expires 1h >/dev/null || fail "flag drill"

refused_mix() { # kind incident [--exercise]: must be refused as a mix
	local out
	if out=$(ctl request issue --kind "$1" --incident "$2" --title "mix" \
		--content "mix" --secret no "${@:3}" 2>&1); then
		fail "issued: $1 on $2 ${*:3}: $out"
	fi
	echo "$out" | grep -q "deny.exercise-mix" || fail "not refused as a mix: $out"
	[ "$(echo "$out" | grep -c "deny.exercise-mix")" -ge 2 ] ||
		fail "not every member refused as a mix: $out"
}
refused_mix cooperation "$INC" --exercise   # a drill request, a real incident
refused_mix share "$INC" --exercise
refused_mix cooperation "$EX"               # a real request, a drill incident
refused_mix share "$EX"
n=$(ctl audit show | grep -c "deny.exercise-mix")
[ "$n" -ge 8 ] || fail "expected 8 audited mix refusals, found $n"
ctl request list --json | jq -e 'length == 0' >/dev/null ||
	fail "a refused mix left a request behind"

# a real agent takes part in a drill: the copy is marked EXERCISE
XR=$(ctl request issue --kind cooperation --incident "$EX" --title "drill request" \
	--content "drill content" --secret no --exercise | head -n 1)
ctl request status "$XR" --wait-acked 30 >/dev/null || fail "drill request not acked"
RR=$(ctl request issue --kind cooperation --incident "$INC" --title "real request" \
	--content "real content" --secret no | head -n 1)
ctl request status "$RR" --wait-acked 30 >/dev/null || fail "real request not acked"
for m in m1 m2; do
	v=$("$BIN/agent/art17-agent" -d "$A17_TMP/agent-$m" show "$XR") || fail "show $XR"
	echo "$v" | grep -q "EXERCISE" || fail "$m's view of the drill request lacks EXERCISE"
	v=$("$BIN/agent/art17-agent" -d "$A17_TMP/agent-$m" show "$RR") || fail "show $RR"
	echo "$v" | grep -q "EXERCISE" && fail "$m's view of the real request says EXERCISE"
	agent_list_json "$m" | jq -e --arg x "$XR" --arg r "$RR" \
		'(.[] | select(.request_id == $x) | .exercise == true and .marking_exercise == "EXERCISE")
		 and (.[] | select(.request_id == $r) | .exercise == false)' >/dev/null ||
		fail "$m's list does not mark the drill request alone"
done
ctl request status "$XR" --json | jq -e '.request.exercise == true' >/dev/null || fail "status exercise"
ctl request status "$RR" --json | jq -e '.request.exercise == false' >/dev/null || fail "status real"
echo "PASS: drill and real traffic do not mix; a real agent shows EXERCISE"
