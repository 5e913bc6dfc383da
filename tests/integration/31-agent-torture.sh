#!/usr/bin/env bash
# Agent crash torture: real agents (durable inbox and outbox) killed with
# SIGKILL while they store, while they ack and while they send feedback,
# and the broker killed while feedback arrives. Each trial's seed picks the
# victims and the points: a crash point (agent.after_store:k,
# agent.after_receipt:k) or a random delay. After each trial:
#   - every agent's inbox holds each request exactly once;
#   - the broker holds every copy as acked (or later);
#   - every feedback version queued is stored exactly once by the broker;
#   - audit verify passes.
#   short (default suite): 4 agents, A17_TRIALS (3) trials
#   long (label torture, A17_LONG=1): 6 agents, 30 trials
BIN=$(cd "$1" && pwd)
mode=${2:-short}
if [ "$mode" = long ]; then
	if [ "${A17_LONG:-0}" != 1 ]; then
		echo "skipped: set A17_LONG=1 to run the long torture"
		exit 77
	fi
	N=${A17_AGENTS:-6} TRIALS=${A17_TRIALS:-30}
else
	N=${A17_AGENTS:-4} TRIALS=${A17_TRIALS:-3}
fi
source "$(dirname "$0")/lib.sh"
SEED=${A17_SEED:-$RANDOM}
RANDOM=$SEED
echo "agent torture: $N agents, $TRIALS trials, seed $SEED"

M=()
for i in $(seq 1 "$N"); do M+=("m$i"); done
pki_init "${M[@]}"
for m in "${M[@]}"; do
	"$BIN/tools/art17-pki" staff -d "$A17_TMP/people" "s$m" >/dev/null
done
start_broker --keepalive 2000
for m in "${M[@]}"; do
	add_member "$m"
	printf '{"entries": [{"action": "new", "staff_id": "s%s", "name": "Staff %s", "email": "s@%s.example", "key": "%s"}]}' \
		"$m" "$m" "$m" "$A17_TMP/people/staff/s$m/seal.pub" >"$A17_TMP/staff-$m.json"
	ctl staff apply "$m" --file "$A17_TMP/staff-$m.json" --immediate >/dev/null ||
		fail "staff $m"
done
INC=$(declare_incident "agent torture")
ctl incident flag "$INC" --reason "torture" --expires 6h >/dev/null || fail "flag"
for m in "${M[@]}"; do start_agent "$m"; done
for m in "${M[@]}"; do wait_for 30 agent_connected "$m" || fail "$m did not connect"; done

agent() { "$BIN/agent/art17-agent" -d "$A17_TMP/agent-$1" "${@:2}"; }
alive() { kill -0 "${AGENT_PID[$1]}" 2>/dev/null; }
# restart every agent that is dead (killed or at its crash point). An
# agent killed here is waited for first: a process still dying (or not
# yet reaped) answers kill -0, and was then left dead until the STALL
# restart below (seen under ThreadSanitizer, whose processes take long
# to die).
revive() {
	local m
	for m in "${M[@]}"; do
		if ! alive "$m"; then
			wait "${AGENT_PID[$m]}" 2>/dev/null
			start_agent "$m"
		fi
	done
}
versions() { # request member -> versions the broker stored
	ctl feedback list "$1" --json | jq --arg m "$2" '[.feedback[] | select(.member_id == $m)] | length'
}
all_versions() { # request want
	local m
	for m in "${M[@]}"; do
		[ "$(versions "$1" "$m")" = "$2" ] || return 1
	done
}

REQS=()
kills=0 points=0 bkills=0 stalls=0
for trial in $(seq 1 "$TRIALS"); do
	# 1: agents die while they store and ack a new request
	for m in "${M[@]}"; do
		case $((RANDOM % 4)) in
		0) # crash point, then a normal restart
			kill -TERM "${AGENT_PID[$m]}"; wait "${AGENT_PID[$m]}" 2>/dev/null
			cp=agent.after_store
			[ $((RANDOM % 2)) = 0 ] && cp=agent.after_receipt
			A17_CRASHPOINT=$cp start_agent "$m"
			points=$((points + 1)) ;;
		esac
	done
	sleep 1
	rid=$(ctl request issue --kind cooperation --incident "$INC" \
		--title "torture $trial" --content "trial $trial seed $SEED $RANDOM" \
		--secret no | head -n 1)
	[ -n "$rid" ] || fail "$trial: issue"
	REQS+=("$rid")
	# random kills while the copies arrive
	sleep "0.$((RANDOM % 5))"
	for m in "${M[@]}"; do
		if [ $((RANDOM % 3)) = 0 ] && alive "$m"; then
			kill -KILL "${AGENT_PID[$m]}"
			wait "${AGENT_PID[$m]}" 2>/dev/null
			kills=$((kills + 1))
		fi
	done
	sleep 1
	revive
	ctl request status "$rid" --wait-acked 60 >/dev/null ||
		fail "$trial: $rid not acked by all after agent kills"

	# 2: agents die while they send feedback; the broker dies too
	for m in "${M[@]}"; do
		agent "$m" feedback "$rid" --status affected --indicator ipv4:192.0.2.$trial \
			--contact "s$m" --secrecy no --sharing members >/dev/null ||
			fail "$trial: queue feedback $m"
	done
	sleep "0.$((RANDOM % 3))"
	for m in "${M[@]}"; do
		if [ $((RANDOM % 2)) = 0 ] && alive "$m"; then
			kill -KILL "${AGENT_PID[$m]}"
			wait "${AGENT_PID[$m]}" 2>/dev/null
			kills=$((kills + 1))
		fi
	done
	if [ $((RANDOM % 2)) = 0 ]; then
		kill -KILL "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null
		bkills=$((bkills + 1))
		start_broker --keepalive 2000
	fi
	revive
	if ! wait_for 30 all_versions "$rid" 1; then
		# Known issue (docs/reliability.md): now and then a restarted
		# agent leaves queued feedback in its outbox. Nothing is lost:
		# a restart sends it. Counted and reported, not hidden.
		for m in "${M[@]}"; do
			[ "$(versions "$rid" "$m")" = 1 ] && continue
			echo "STALL: $m had not sent its feedback on $rid after 30 s; restarting it"
			stalls=$((stalls + 1))
			kill -TERM "${AGENT_PID[$m]}"; wait "${AGENT_PID[$m]}" 2>/dev/null
			start_agent "$m"
		done
		wait_for 60 all_versions "$rid" 1 ||
			fail "$trial: feedback lost or doubled: $(for m in "${M[@]}"; do echo -n "$m=$(versions "$rid" "$m") "; done)"
	fi

	# every inbox holds every request exactly once, the broker has them acked
	for m in "${M[@]}"; do
		json=$(agent_list_json "$m") || fail "$trial: $m list"
		for r in "${REQS[@]}"; do
			n=$(echo "$json" | jq --arg r "$r" '[.[] | select(.request_id == $r)] | length')
			[ "$n" = 1 ] || fail "$trial: $m inbox holds $r $n times"
		done
	done
	for r in "${REQS[@]}"; do
		ctl request status "$r" --wait-acked 30 >/dev/null ||
			fail "$trial: $r lost an ack"
		all_versions "$r" 1 || fail "$trial: $r feedback changed"
	done
	ctl audit verify >/dev/null || fail "$trial: audit verify"
	echo "trial $trial: ok"
done
echo "agent torture: ok ($TRIALS trials, seed $SEED: $kills agent kills, $points crash points, $bkills broker kills, $stalls stalled outboxes; nothing lost or doubled)"
