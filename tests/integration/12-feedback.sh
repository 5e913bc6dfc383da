#!/usr/bin/env bash
# Structured feedback: validated on the agent and again on the broker,
# stored per version, the copy becomes answered, and the secretariat sees
# an aggregate (members affected, indicators two or more members saw).
# Feedback on an information share is marked voluntary.
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"

pki_init m1 m2 m3
for s in s1 d1; do "$BIN/tools/art17-pki" staff -d "$A17_TMP/people" "$s" >/dev/null; done
K="$A17_TMP/people/staff"
start_broker --keepalive 2000
for m in m1 m2 m3; do add_member "$m"; done
printf '{"entries": [{"action": "new", "staff_id": "s1", "name": "Sato", "email": "sato@m1.example", "key": "%s"}]}' \
	"$K/s1/seal.pub" >"$A17_TMP/f1.json"
printf '{"entries": [{"action": "new", "staff_id": "d1", "name": "Kato", "email": "kato@m2.example", "key": "%s"}]}' \
	"$K/d1/seal.pub" >"$A17_TMP/f2.json"
ctl staff apply m1 --file "$A17_TMP/f1.json" --immediate >/dev/null || fail "staff m1"
ctl staff apply m2 --file "$A17_TMP/f2.json" --immediate >/dev/null || fail "staff m2"
for m in m1 m2; do start_agent "$m"; done
for m in m1 m2; do wait_for 30 agent_connected "$m" || fail "$m"; done
INC=$(declare_incident "feedback test")
ctl incident flag "$INC" --reason "test" --expires 1h >/dev/null
rid=$(ctl request issue --kind cooperation --incident "$INC" --title "check" \
	--content "look for 192.0.2.7" --secret no --to m1,m2 | head -n 1)
ctl request status "$rid" --wait-acked 30 >/dev/null || fail "not acked"

agent() { "$BIN/agent/art17-agent" -d "$A17_TMP/agent-$1" "${@:2}"; }
state_of() {
	ctl request status "$1" --json | jq -r --arg m "$2" '.copies[] | select(.member == $m) | .state'
}
answered() { [ "$(state_of "$1" "$2")" = answered ]; }
versions() { # request member -> number of versions stored
	ctl feedback list "$1" --json | jq --arg m "$2" '[.feedback[] | select(.member_id == $m)] | length'
}
has_versions() { [ "$(versions "$1" "$2")" = "$3" ]; }

# bad input is refused on the agent, naming the field
out=$(agent m1 feedback "$rid" --status affected --indicator ipv4:999.1.1.1 \
	--contact s1 --secrecy no --sharing members 2>&1) && fail "bad ipv4 accepted"
echo "$out" | grep -q "indicators\[0\].value: not a valid ipv4" || fail "ipv4 message: $out"
out=$(agent m1 feedback "$rid" --status declined --contact s1 --secrecy no \
	--sharing members 2>&1) && fail "declined without a reason accepted"
echo "$out" | grep -q "decline_reason" || fail "decline message: $out"
out=$(agent m1 feedback "$rid" --status affected --contact s1 --sharing members 2>&1) &&
	fail "no secrecy wish accepted"
echo "$out" | grep -q "secrecy_wish" || fail "secrecy message: $out"

# a contact who is not registered staff is refused by the broker
agent m1 feedback "$rid" --status affected --contact nobody --secrecy no \
	--sharing members >/dev/null || fail "queue"
wait_for 20 grep -q "A17-W0117 rejected.*contact: 'nobody' is not registered staff" \
	"$A17_TMP/broker.log" || fail "unregistered contact not refused"

agent m1 feedback "$rid" --status affected --indicator ipv4:192.0.2.7 \
	--indicator domain:evil.example --count 3 --first-seen 2026-11-26T01:00:00Z \
	--last-seen 2026-11-26T02:00:00Z --impact "VPN gateway" --text "seen twice" \
	--contact s1 --secrecy no --sharing members >/dev/null || fail "m1 feedback"
agent m2 feedback "$rid" --status investigating --contact d1 --secrecy yes \
	--sharing tf1-only >/dev/null || fail "m2 v1"
agent m2 feedback "$rid" --status affected --indicator ipv4:192.0.2.7 \
	--indicator sha256:$(printf '%064d' 7) --contact d1 --secrecy yes \
	--sharing tf1-only >/dev/null || fail "m2 v2"
wait_for 20 answered "$rid" m1 || fail "m1 copy not answered"
wait_for 20 has_versions "$rid" m2 2 || fail "m2 versions: $(versions "$rid" m2)"
has_versions "$rid" m1 1 || fail "m1 versions: $(versions "$rid" m1)"
agg=$(ctl feedback list "$rid" --json)
[ "$(echo "$agg" | jq '.aggregate.members_affected')" = 2 ] || fail "affected count"
echo "$agg" | jq -e '.aggregate.indicators_by_two_or_more | map(.indicator) == ["ipv4:192.0.2.7"]' >/dev/null ||
	fail "shared indicators: $(echo "$agg" | jq -c .aggregate)"
ctl feedback list "$rid" | grep -q "ipv4:192.0.2.7 (2 members)" || fail "table aggregate"
echo "feedback ok: validated, versioned, answered, aggregated"

# feedback on an information share is voluntary
sid=$(ctl request issue --kind share --incident "$INC" --title "fyi" \
	--content "fyi" --secret no --to m1 | head -n 1)
ctl request status "$sid" --wait-acked 30 >/dev/null || fail "share"
agent m1 feedback "$sid" --status not-affected --contact s1 --secrecy no \
	--sharing public >/dev/null || fail "share feedback"
wait_for 20 answered "$sid" m1 || fail "share not answered"
ctl feedback list "$sid" --json | jq -e '.feedback[0].voluntary == true' >/dev/null ||
	fail "share feedback not marked voluntary"
echo "voluntary ok"
# onward sharing (RULES Q21) as the member's agent sees it
agent m1 reshare-check "$sid" --to-category critical-infra >/dev/null 2>&1
[ $? = 3 ] || fail "scope members: passing on to a constituent allowed"
cid=$(ctl request issue --kind share --incident "$INC" --title "constituents" \
	--content "x" --secret no --tlp green --scope members+constituents --to m1 | head -n 1)
ctl request status "$cid" --wait-acked 30 >/dev/null || fail "share 2"
agent m1 reshare-check "$cid" --to-category critical-infra | grep -q "^ALLOWED.*" ||
	fail "critical-infra constituent denied"
out=$(agent m1 reshare-check "$cid" --to-category cyber-vendor) && fail "vendor allowed"
echo "$out" | grep -q "DENIED.*" && echo "$out" | grep -q "Q21" || fail "no rule cited: $out"
echo "reshare-check ok"
ctl audit verify >/dev/null || fail "audit"
echo "feedback: ok"
