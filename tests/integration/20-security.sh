#!/usr/bin/env bash
# Security refusals on the broker's agent port: a client certificate that
# does not verify (another CA, expired, revoked), a hello signed with
# another member's key, a receipt for another member's copy, a replayed
# message, a tampered envelope and feedback on a request never addressed
# to the sender. Each is refused, logged with its stable id, and the good
# agents are still served afterwards.
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"

PKI="$BIN/tools/art17-pki"
pki_init m1 m2 m3
"$PKI" agent -d "$ART17_PKI" --days 1 --not-before-days-ago 10 expired1 \
	>/dev/null || fail "pki agent expired1"
# another CA: its own m3, with a certificate the broker must not trust
"$PKI" init -d "$A17_TMP/otherca" >/dev/null || fail "pki init otherca"
"$PKI" agent -d "$A17_TMP/otherca" m3 >/dev/null || fail "pki agent otherca m3"
# The stranger trusts the council's CA for the broker (it is public), so
# the TLS handshake completes and the broker itself has to refuse it.
stranger=$A17_TMP/stranger/m3
mkdir -p "$stranger"
cp "$A17_TMP/otherca/agents/m3/tls.pem" "$A17_TMP/otherca/agents/m3/id.key" \
	"$ART17_PKI/agents/m3/ca.crt" "$ART17_PKI/agents/m3/broker-sign.pub" \
	"$stranger/" || fail "stranger key dir"
# revoked before the broker starts: it reads the CRL once, at start-up
"$PKI" revoke -d "$ART17_PKI" m2 >/dev/null || fail "pki revoke m2"

start_broker --keepalive 2000
for m in m1 m2 m3 expired1; do add_member "$m"; done
INC=$(declare_incident "security test")
start_agent m1
start_agent m3
for m in m1 m3; do
	wait_for 30 agent_connected "$m" || fail "agent $m did not connect"
done

url="tls+tcp://localhost:$BROKER_PORT"
badclient() { # KEYDIR MODE [ARG...]
	ASAN_OPTIONS=detect_leaks=0 timeout 30 "$BIN/tests/integration/a17-badclient" "$url" "$@"
}
nrej() { # how many "ID rejected" lines the broker logged
	grep -c "$1 rejected" "$A17_TMP/broker.log"
}
more_rej() { # ID COUNT: more than COUNT lines now
	[ "$(nrej "$1")" -gt "$2" ]
}
still_served() { # the broker and the good agents are fine
	kill -0 "$BROKER_PID" || fail "broker died on $1"
	for m in m1 m3; do
		kill -0 "${AGENT_PID[$m]}" || fail "agent $m died on $1"
	done
}
# case NAME LOG-ID EXPECT KEYDIR MODE [ARG...]: EXPECT is a glob the
# client's answer must match
case_() {
	local name=$1 id=$2 want=$3 before out
	shift 3
	before=$(nrej "$id")
	out=$(badclient "$@") || fail "$name: broker answered: $out"
	# shellcheck disable=SC2254
	case "$out" in $want) ;; *) fail "$name: got '$out', want '$want'" ;; esac
	wait_for 10 more_rej "$id" "$before" ||
		fail "$name: no new '$id rejected' in the broker log (client: $out)"
	still_served "$name"
	echo "$name: $out [$id]"
}

# --- TLS: a client certificate that does not verify never gets a session
case_ "certificate from another CA" A17-W0120 "dropped*" "$stranger" hello
case_ "expired certificate" A17-W0120 "dropped*" \
	"$ART17_PKI/agents/expired1" hello
case_ "revoked certificate" A17-W0120 "dropped*" "$ART17_PKI/agents/m2" hello
# m2's real agent, with the revoked certificate, never connects
before=$(nrej A17-W0120)
start_agent m2
if wait_for 10 agent_connected m2; then
	fail "revoked m2's agent connected"
fi
# (its first handshake can take a while on a loaded machine)
wait_for 30 more_rej A17-W0120 "$before" ||
	fail "revoked m2's agent: no new 'A17-W0120 rejected' in the broker log"
kill -TERM "${AGENT_PID[m2]}" 2>/dev/null || true
echo "revoked certificate, real agent: m2 did not connect in 10 s [A17-W0120]"
# after all those refused connections a good new one still gets in
out=$(badclient "$ART17_PKI/agents/m1" hello)
[ "$out" = "welcomed as m1" ] ||
	fail "a good new connection after the refused ones was not served: $out"
echo "good new connection after the refusals: $out"

# --- signed messages
case_ "hello signed with another member's key" A17-W0107 \
	"*error 3 A17-W0107" "$ART17_PKI/agents/m3" wrong-key-hello \
	"$ART17_PKI/agents/m1"

# a copy for m1; m3 then sends a signed receipt for it
rid=$(ctl request issue --kind share --incident "$INC" --title t \
	--content c --secret no --to m1 | head -n 1)
[ -n "$rid" ] || fail "issue to m1"
ctl request status "$rid" --wait-acked 30 >/dev/null ||
	fail "m1 did not ack $rid"
seq=$(ctl request status "$rid" --json |
	jq -r '.copies[] | select(.member_id == "m1") | .seq')
[ -n "$seq" ] && [ "$seq" != null ] || fail "no seq for m1 in $rid"
case_ "receipt for another member's copy" A17-W0112 "error 5 A17-W0112" \
	"$ART17_PKI/agents/m3" cross-receipt "$rid" "$seq"
n=$(ctl audit show --json | jq --arg r "$rid" \
	'[.[] | select(.action == "copy.ack" and .actor != "m1" and
	   (.detail | contains($r)))] | length')
[ "$n" = 0 ] || fail "a receipt for m1's copy was stored for someone else"
n=$(ctl request status "$rid" --json | jq '.copies | length')
[ "$n" = 1 ] || fail "$rid has $n copies, want 1"

case_ "replayed message" A17-W0109 "*error 6 A17-W0109" \
	"$ART17_PKI/agents/m3" replay
case_ "tampered envelope" A17-W0105 "error 2 A17-W0105" \
	"$ART17_PKI/agents/m3" tampered
case_ "feedback for a request never addressed to the sender" A17-W0116 \
	"error 5 A17-W0116" "$ART17_PKI/agents/m3" feedback-unaddressed "$rid"

# --- nothing changed, and the good agents are still served
rid=$(ctl request issue --kind share --incident "$INC" --title after \
	--content "still here" --secret no --to m1,m3 | head -n 1)
ctl request status "$rid" --wait-acked 30 >/dev/null ||
	fail "m1 and m3 not served after the refusals"
for m in m1 m3; do
	[ "$(inbox_count "$m" "$rid")" = 1 ] || fail "$rid not in $m's inbox"
done
n=$(ctl request list --json | jq 'length')
[ "$n" = 2 ] || fail "the refusals created requests: $n"
ctl audit verify >/dev/null || fail "audit verify"
echo "security_rejects: ok"
