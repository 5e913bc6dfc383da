#!/usr/bin/env bash
# Key lifecycle: rotating an agent's identity key and the broker's signing
# key keeps everything working, and receipts signed with the old agent key
# still verify (art17ctl audit verify checks every stored receipt).
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"

pki_init m1 m2
start_broker --keepalive 2000
add_member m1
add_member m2
start_agent m1
start_agent m2
for m in m1 m2; do wait_for 30 agent_connected "$m" || fail "$m"; done
INC=$(declare_incident "rotation test")
connected_twice() { # member
	[ "$(grep -c "connected as $1" "$A17_TMP/agent-$1.log")" -ge 2 ]
}
share() { # title -> request id, acked by m1 and m2
	local r
	r=$(ctl request issue --kind share --incident "$INC" --title "$1" \
		--content "c $1" --secret no | head -n 1)
	ctl request status "$r" --wait-acked 30 >/dev/null || fail "$1 not acked"
	echo "$r"
}
share before >/dev/null

# the agent's identity key
kill -TERM "${AGENT_PID[m1]}"; wait "${AGENT_PID[m1]}" 2>/dev/null
"$BIN/tools/art17-pki" rotate-agent -d "$ART17_PKI" m1 | grep -q rotated || fail "rotate-agent"
ls "$ART17_PKI/agents/m1/old/"id-*.pub >/dev/null || fail "old key not kept"
ctl member rekey m1 --key "$ART17_PKI/agents/m1/id.pub" >/dev/null || fail "rekey"
start_agent m1
wait_for 30 connected_twice m1 ||
	fail "m1 did not connect with its new key"
share after-agent-rotation >/dev/null
echo "agent key rotated: new key accepted"

# the old agent key is refused from now on
old=$(ls "$ART17_PKI/agents/m1/old/"id-*.key | head -n 1)
mkdir -p "$A17_TMP/oldm1/m1"
cp "$ART17_PKI/agents/m1/"{tls.pem,ca.crt,broker-sign.pub} "$A17_TMP/oldm1/m1/"
cp "$old" "$A17_TMP/oldm1/m1/id.key"
out=$(ASAN_OPTIONS=detect_leaks=0 timeout 30 "$BIN/tests/integration/a17-badclient" \
	"tls+tcp://localhost:$BROKER_PORT" "$A17_TMP/oldm1/m1" no-hello-poll) || true
echo "$out" | grep -q "A17-W0104" || fail "old key still accepted: $out"
echo "old agent key refused (A17-W0104)"

# the broker's signing key
stop_broker
"$BIN/tools/art17-pki" rotate-broker -d "$ART17_PKI" | grep -q "rotated" || fail "rotate-broker"
ls "$ART17_PKI/agents/m1/broker-sign-old/"*.pub >/dev/null || fail "agents lost the old broker key"
start_broker --keepalive 2000
for m in m1 m2; do
	kill -TERM "${AGENT_PID[$m]}"; wait "${AGENT_PID[$m]}" 2>/dev/null
	start_agent "$m"
done
for m in m1 m2; do
	wait_for 30 connected_twice "$m" ||
		fail "$m did not accept the new broker key"
done
share after-broker-rotation >/dev/null
echo "broker key rotated: agents verify the new key"

out=$(ctl audit verify) || fail "audit verify after rotations: $out"
echo "$out"
echo "$out" | grep -q "6 signed receipts verified" || fail "not every receipt verified: $out"
echo "rotation: ok"
