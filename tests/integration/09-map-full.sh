#!/usr/bin/env bash
# LMDB map full, end to end: the broker and two agents start with a 1 MiB
# map (ART17_MAP_MIB=1), then requests of 64 KiB each are fanned out until
# both sides have stored several times that. Each store must hit
# MDB_MAP_FULL, grow its map (logged) and carry on: every request acked by
# both agents, each once in each inbox, the audit log intact, and all of
# it still there after both sides restart on the grown files.
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"
export ART17_MAP_MIB=1
N=${A17_MAPFULL_REQUESTS:-40}

pki_init m1 m2
start_broker --keepalive 2000
add_member m1
add_member m2
INC=$(declare_incident "map full test")
start_agent m1
start_agent m2
wait_for 30 agent_connected m1 || fail "m1 did not connect"
wait_for 30 agent_connected m2 || fail "m2 did not connect"

reqs=()
for i in $(seq 1 "$N"); do
	head -c 49152 /dev/urandom | base64 -w0 >"$A17_TMP/content"
	r=$(ctl request issue --kind share --incident "$INC" --title "big $i" \
		--content "$(cat "$A17_TMP/content")" --secret no | head -n 1) ||
		fail "request $i refused: $r $(tail -3 "$A17_TMP/broker.log")"
	reqs+=("$r")
done
for r in "${reqs[@]}"; do
	ctl request status "$r" --wait-acked 60 >/dev/null || fail "$r not acked by both"
done
grep -q "store: map grown from" "$A17_TMP/broker.log" ||
	fail "the broker's map never grew: $(grep store "$A17_TMP/broker.log" | tail -3)"
for m in m1 m2; do
	grep -q "store: map grown from" "$A17_TMP/agent-$m.log" ||
		fail "$m's map never grew"
done
bsize=$(stat -c %s "$ART17_DATA/db/data.mdb")
[ "$bsize" -gt $((2 << 20)) ] || fail "broker data.mdb only $bsize bytes"
echo "grown: broker $(grep -c 'map grown' "$A17_TMP/broker.log") times, data.mdb $((bsize >> 10)) KiB;" \
	"m1 $(grep -c 'map grown' "$A17_TMP/agent-m1.log") times, m2 $(grep -c 'map grown' "$A17_TMP/agent-m2.log") times"

# restart everything on the grown files (still ART17_MAP_MIB=1: the
# existing file's size wins)
for m in m1 m2; do
	kill -TERM "${AGENT_PID[$m]}"
	wait "${AGENT_PID[$m]}" 2>/dev/null
done
stop_broker
start_broker --keepalive 2000
start_agent m1
start_agent m2
ctl audit verify >/dev/null || fail "audit verify after the restart"
for r in "${reqs[@]}"; do
	ctl request status "$r" --wait-acked 30 >/dev/null || fail "$r lost after the restart"
done
for m in m1 m2; do
	json=$(agent_list_json "$m") || fail "$m list after the restart"
	for r in "${reqs[@]}"; do
		c=$(echo "$json" | jq --arg r "$r" '[.[] | select(.request_id == $r)] | length')
		[ "$c" = 1 ] || fail "$m holds $r $c times"
	done
done
grep -q "A17-E0401\|checksum" "$A17_TMP/broker.log" "$A17_TMP"/agent-m*.log &&
	fail "a checksum failed after growth"
echo "map full: ok ($N requests of 64 KiB to 2 agents from a 1 MiB map)"
