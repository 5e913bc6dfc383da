#!/usr/bin/env bash
# Agent notification hooks (art17-agent.conf(5), [hooks]): the member's
# command runs on arrival, on an overdue reminder and on withdrawal with
# the request's metadata as JSON on stdin, never its content; a hanging
# hook is killed at its timeout and logged, a failing one is logged, and
# neither holds up the agent.
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"

H=$A17_TMP/hooks
mkdir -p "$H/out"
cat >"$H/record.sh" <<EOF
#!/bin/sh
# one file per event: stdin as it came, and the event from the environment
n=\$(date +%s%N)
cat >"$H/out/\$ART17_EVENT-\$n.json"
EOF
cat >"$H/hang.sh" <<EOF
#!/bin/sh
echo started >>"$H/hang.started"
sleep 600
echo "not killed" >>"$H/hang.finished"
EOF
cat >"$H/fail.sh" <<'EOF'
#!/bin/sh
cat >/dev/null
exit 3
EOF
chmod 755 "$H"/*.sh

agent_conf() { # member arrival-cmd timeout
	cat >"$H/$1.conf" <<EOF
[agent]
keys = $ART17_PKI/agents/$1
nosync = yes

[hooks]
arrival = $2
overdue = $H/record.sh
withdrawal = $H/record.sh
timeout = $3
EOF
}
start_hooked() { # member
	"$BIN/agent/art17-agent" -f "$H/$1.conf" -d "$A17_TMP/agent-$1" run \
		-c "tls+tcp://localhost:$BROKER_PORT" >>"$A17_TMP/agent-$1.log" 2>&1 &
	AGENT_PID[$1]=$!
	A17_PIDS+=("${AGENT_PID[$1]}")
	wait_for 30 agent_connected "$1" || fail "agent $1 did not connect"
}
state_of() { # request member -> state
	ctl request status "$1" --json |
		jq -r --arg m "$2" '.copies[] | select(.member == $m) | .state'
}
acked_by() {
	case "$(state_of "$1" "$2")" in acked | accepted | answered) return 0 ;; esac
	return 1
}
events() { # event -> how many recorded
	ls "$H/out" | grep -c "^$1-" || true
}
events_ge() { # event n: at least n recorded
	[ "$(events "$1")" -ge "$2" ]
}
log_count_ge() { # member text n: the text at least n times in its log
	[ "$(grep -c "$2" "$A17_TMP/agent-$1.log")" -ge "$3" ]
}
state_is() { # request member state
	[ "$(state_of "$1" "$2")" = "$3" ]
}
issue() { # title [args] -> request id
	ctl request issue --kind cooperation --incident "$INC" --title "$1" \
		--content "SECRET-BODY-$1 must never reach a hook" --secret no "${@:2}" |
		head -n 1
}

pki_init m1 m2 m3
start_broker --keepalive 2000
for m in m1 m2 m3; do add_member "$m" --poc "POC $m"; done
agent_conf m1 "$H/record.sh" 5
agent_conf m2 "$H/hang.sh" 1
agent_conf m3 "$H/fail.sh" 5
for m in m1 m2 m3; do start_hooked "$m"; done
grep -q "hooks: arrival overdue withdrawal (timeout 1 s)" "$A17_TMP/agent-m2.log" ||
	fail "m2 hooks not configured"

INC=$(declare_incident "hooks incident")
ctl incident flag "$INC" --reason "large-scale test" --expires 1h >/dev/null || fail flag

# --- arrival: metadata JSON on stdin, no content
R1=$(issue one)
[ -n "$R1" ] || fail "issue one"
for m in m1 m2 m3; do wait_for 20 acked_by "$R1" $m || fail "$m did not ack $R1"; done
wait_for 10 events_ge arrival 1 || fail "m1: no arrival hook"
[ "$(events arrival)" = 1 ] || fail "m1: $(events arrival) arrival hooks for one request"
f=$(ls "$H"/out/arrival-*.json)
jq -e --arg r "$R1" --arg i "$INC" '.event == "arrival" and .request_id == $r and
	.member == "m1" and .incident_id == $i and .kind == "cooperation-request" and
	.exercise == false and .secret == false and .title == "one" and
	.ground == "large-scale" and (.seq | type) == "number"' "$f" >/dev/null ||
	fail "arrival JSON: $(cat "$f")"
grep -q "SECRET-BODY" "$f" && fail "the arrival hook saw the content"
grep -q "hook arrival: ran in" "$A17_TMP/agent-m1.log" || fail "m1: hook run not logged"
echo "arrival ok: $(cat "$f")"

# --- a hanging hook is killed at its timeout and logged; the agent goes on
wait_for 10 grep -q "hook arrival: timed out after 1 s; killed" "$A17_TMP/agent-m2.log" ||
	fail "m2: hanging hook not timed out"
[ -f "$H/hang.started" ] || fail "m2: hang hook never started"
# --- a failing hook is logged with its status
wait_for 10 grep -q "hook arrival: exited with status 3" "$A17_TMP/agent-m3.log" ||
	fail "m3: failing hook not logged"
# requests keep flowing while hooks hang: three more at once, all acked by
# m2 although each of its hooks hangs for its whole timeout
R2=$(issue two)
R3=$(issue three)
R4=$(issue four)
for r in "$R2" "$R3" "$R4"; do
	wait_for 3 acked_by "$r" m2 || fail "m2 blocked by its hook: $r not acked within 3 s"
done
wait_for 15 log_count_ge m2 "hook arrival: timed out" 4 ||
	fail "m2: not every hanging hook was killed"
sleep 0.5
[ ! -f "$H/hang.finished" ] || fail "a hanging hook ran to its end: not killed"
pgrep -f "$H/hang.sh" >/dev/null && fail "a killed hook's process is still there"
echo "timeout ok: hung hooks killed, agent not blocked"

# --- withdrawal: m1 offline, the flag lifted before it comes back
kill -TERM "${AGENT_PID[m1]}"
wait "${AGENT_PID[m1]}" 2>/dev/null
R5=$(issue five)
ctl incident unflag "$INC" --reason "contained" >/dev/null || fail unflag
[ "$(state_of "$R5" m1)" = withdrawn ] || fail "m1 copy of $R5 is $(state_of "$R5" m1)"
start_hooked m1
wait_for 20 events_ge withdrawal 1 || fail "m1: no withdrawal hook"
f=$(ls "$H"/out/withdrawal-*.json | head -n 1)
jq -e '.event == "withdrawal" and .member == "m1" and (.seq | type) == "number"' \
	"$f" >/dev/null || fail "withdrawal JSON: $(cat "$f")"
echo "withdrawal ok: $(cat "$f")"

# --- overdue: a reminder goes to a member that holds a copy without
# having acknowledged it. m1 stores R6 and dies before its receipt leaves
# (crash point), the 2 s deadline passes, m1 comes back: the reminder.
ctl incident flag "$INC" --reason "second wave" --expires 1h >/dev/null || fail reflag
kill -TERM "${AGENT_PID[m1]}"
wait "${AGENT_PID[m1]}" 2>/dev/null
A17_CRASHPOINT=agent.after_store start_hooked m1
R6=$(issue six --deadline 2s --to m1)
[ -n "$R6" ] || fail "issue six"
wait "${AGENT_PID[m1]}" 2>/dev/null
wait_for 15 state_is "$R6" m1 overdue || fail "R6 not overdue: $(state_of "$R6" m1)"
start_hooked m1
wait_for 20 events_ge overdue 1 || fail "m1: no overdue hook"
f=$(ls "$H"/out/overdue-*.json | head -n 1)
jq -e --arg r "$R6" '.event == "overdue" and .member == "m1" and .request_id == $r and
	.deadline_ms > 0' "$f" >/dev/null || fail "overdue JSON: $(cat "$f")"
echo "overdue ok: $(cat "$f")"
# nothing any hook received holds content
grep -l "SECRET-BODY" "$H"/out/*.json && fail "a hook saw content"
echo "hooks: ok"
