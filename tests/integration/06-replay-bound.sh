#!/usr/bin/env bash
# The replay guard's memory is bounded (broker/net.c, SEEN_MAX). Here the
# bound is lowered to 1 id (A17_SEEN_MAX) while two agents poll, so ids are
# evicted early all the time: a replayed message is still refused (as a
# replay or as older than the guard's floor), never answered, and the
# agents are still served.
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"

pki_init m1 m2 m3
A17_SEEN_MAX=1 start_broker --keepalive 1000
for m in m1 m2 m3; do add_member "$m"; done
INC=$(declare_incident "replay bound test")
start_agent m1
start_agent m2
for m in m1 m2; do wait_for 30 agent_connected "$m" || fail "$m did not connect"; done
sleep 3 # polls go round: more than 1 id
wait_for 10 grep -q "replay guard full" "$A17_TMP/broker.log" ||
	fail "the guard never filled"
url="tls+tcp://localhost:$BROKER_PORT"
# (at a bound of 1, the client's own first poll may be refused as older
# than the floor when an agent's later message got in first: try again)
ok=0
for i in $(seq 1 10); do
	out=$(ASAN_OPTIONS=detect_leaks=0 timeout 30 \
		"$BIN/tests/integration/a17-badclient" "$url" \
		"$ART17_PKI/agents/m3" replay)
	case "$out" in
	"first poll: error 7 A17-W0108"*) continue ;;
	*"same bytes again: error 6 A17-W0109"* | *"same bytes again: error 7 A17-W0108"*)
		ok=$((ok + 1)) ;;
	*) fail "replay $i: got '$out'" ;;
	esac
	echo "replay $i: $out"
	[ "$ok" = 3 ] && break
done
[ "$ok" = 3 ] || fail "only $ok replays tried"
rid=$(ctl request issue --kind share --incident "$INC" --title after \
	--content "still served $RANDOM" --secret no --to m1,m2 | head -n 1)
ctl request status "$rid" --wait-acked 30 >/dev/null ||
	fail "agents not served with a full replay guard"
echo "replay_bound: ok"
