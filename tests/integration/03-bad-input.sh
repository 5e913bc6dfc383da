#!/usr/bin/env bash
# Bad input on the broker's agent port: each gets an error or the
# connection dropped, is logged with a stable id, and the broker keeps
# serving the other agents.
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"

pki_init m1 m2 m3
start_broker --keepalive 2000
for m in m1 m2 m3; do add_member "$m"; done
INC=$(declare_incident "bad input test")
start_agent m1
start_agent m2
for m in m1 m2; do
	wait_for 30 agent_connected "$m" || fail "agent $m did not connect"
done

url="tls+tcp://localhost:$BROKER_PORT"
bad() { # mode expected-log-id
	local out
	out=$(ASAN_OPTIONS=detect_leaks=0 timeout 30 "$BIN/tests/integration/a17-badclient" "$url" \
		"$ART17_PKI/agents/m3" "$1") || fail "$1: broker answered: $out"
	echo "$1: $out"
	if [ -n "$2" ]; then
		wait_for 10 grep -q "$2 rejected" "$A17_TMP/broker.log" ||
			fail "$1: no '$2 rejected' in the broker log"
	fi
	kill -0 "$BROKER_PID" || fail "broker died on $1"
}
bad garbage A17-W0102
bad oversized A17-W0101
bad huge ""          # above nng's frame limit: nng drops the connection
bad unsigned A17-W0103
bad unknown-key A17-W0104
bad tampered A17-W0105
bad wrong-member A17-W0107
bad no-hello-poll A17-W0110
bad no-hello-receipt A17-W0110
bad bad-nonce A17-W0111

# a stranger with a certificate from another CA does not get in at all
"$BIN/tools/art17-pki" init -d "$A17_TMP/otherca" >/dev/null
"$BIN/tools/art17-pki" agent -d "$A17_TMP/otherca" m3 >/dev/null
out=$(ASAN_OPTIONS=detect_leaks=0 timeout 30 "$BIN/tests/integration/a17-badclient" "$url" \
	"$A17_TMP/otherca/agents/m3" garbage) || fail "other CA: $out"
case "$out" in dropped*) ;; *) fail "other CA was answered: $out" ;; esac

# nothing changed, and the others are still served
rid=$(ctl request issue --kind share --incident "$INC" --title after \
	--content "still here" --secret no --to m1,m2 | head -n 1)
ctl request status "$rid" --wait-acked 30 >/dev/null ||
	fail "agents not served after bad input"
n=$(ctl request list --json | jq 'length')
[ "$n" = 1 ] || fail "bad input created requests: $n"
echo "bad_input: ok"
