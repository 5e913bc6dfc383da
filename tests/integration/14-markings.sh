#!/usr/bin/env bash
# Markings and consultations: a revision of TLP/scope is signed, audited
# and pushed to the recipients; content shared before is refused unless
# forced (RULES Q17); a consultation needs its three confirmations and is
# triaged into an information share with the provider's wishes (Q22); a
# registered non-member reporter may consult but never receives items.
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"

pki_init m1 m2 rep1
start_broker --keepalive 2000
add_member m1
add_member m2
ctl member add --id rep1 --name "Reporter Corp" --reporter \
	--key "$ART17_PKI/agents/rep1/id.pub" >/dev/null || fail "reporter"
for m in m1 m2 rep1; do start_agent "$m"; done
for m in m1 m2 rep1; do wait_for 30 agent_connected "$m" || fail "$m"; done
INC=$(declare_incident "markings test")
agent() { "$BIN/agent/art17-agent" -d "$A17_TMP/agent-$1" "${@:2}"; }

# a reporter is never a recipient
rid=$(ctl request issue --kind share --incident "$INC" --title "one" \
	--content "IOC list: 192.0.2.7  evil.example" --secret no --tlp amber \
	--scope members | head -n 1)
ctl request status "$rid" --wait-acked 30 >/dev/null || fail "share"
[ "$(ctl request status "$rid" --json | jq '.copies | length')" = 2 ] ||
	fail "the reporter got a copy"
out=$(ctl request issue --kind share --incident "$INC" --title x --content y \
	--secret no --to rep1 2>&1) && fail "issued to a reporter"
echo "$out" | grep -q "reporter, not a member" || fail "reporter message: $out"
echo "reporter ok: never a recipient"

# Q17: the same content again (up to case and spacing) is refused, named
out=$(ctl request issue --kind share --incident "$INC" --title "again" \
	--content "ioc list:   192.0.2.7 EVIL.example" --secret no 2>&1) &&
	fail "repeated content issued"
echo "$out" | grep -q "already shared as $rid" || fail "Q17 message: $out"
[ "$(ctl request list --json | jq 'length')" = 1 ] || fail "stored anyway"
ctl request issue --kind share --incident "$INC" --title "again" \
	--content "ioc list:   192.0.2.7 EVIL.example" --secret no --force \
	>/dev/null || fail "--force refused"
echo "duplicate ok: warned with the earlier item, --force shares it"

# a revision of the marking reaches the agents
ctl request remark "$rid" --tlp green --scope members+constituents \
	--reason "after member feedback" | grep -q "revision 2" || fail "remark"
revised() { agent "$1" show "$rid" | grep -q "marking revision 2"; }
for m in m1 m2; do wait_for 20 revised "$m" || fail "$m did not get the revision"; done
agent m1 show "$rid" | grep -q "TLP:GREEN" || fail "revised TLP not shown"
agent m1 reshare-check "$rid" --to-category local-gov | grep -q ALLOWED ||
	fail "reshare-check ignores the revision"
# export enforces the same rule: denied writes nothing, allowed writes
# the item with its marking in force
rc=0
agent m1 export "$rid" --to-category cyber-vendor --out "$A17_TMP/x.json" \
	2>"$A17_TMP/x.err" || rc=$?
[ $rc = 3 ] || fail "export to a cyber-vendor: exit $rc, want 3 (denied)"
grep -q "DENIED" "$A17_TMP/x.err" || fail "export denial not cited"
[ -e "$A17_TMP/x.json" ] && fail "denied export wrote a file"
agent m1 export "$rid" --to-category local-gov --out "$A17_TMP/x.json" ||
	fail "allowed export refused"
jq -e '.marking.tlp == "TLP:GREEN" and .marking.revision == 2 and
	(.content | test("192.0.2.7"))' "$A17_TMP/x.json" >/dev/null ||
	fail "export content: $(cat "$A17_TMP/x.json")"
ctl audit show --json | jq -e '[.[] | select(.action == "marking.revise")] | length == 1' >/dev/null ||
	fail "revision not audited"
echo "revision ok: signed, audited, pushed, applied"

# Q22: three confirmations, each missing one refused by name
for miss in secrecy scope coordination; do
	args=(--text "traffic surge on our VPN since 02:00")
	[ $miss = secrecy ] || args+=(--secrecy yes)
	[ $miss = scope ] || args+=(--scope tf1-only)
	[ $miss = coordination ] || args+=(--coordination check-others)
	out=$(agent rep1 consult "${args[@]}" 2>&1) && fail "consult without $miss accepted"
	case $miss in
	secrecy) want=secrecy_wish ;; scope) want=sharing_scope ;; *) want=coordination ;;
	esac
	echo "$out" | grep -q "missing confirmation.*$want" || fail "$miss message: $out"
done
agent rep1 consult --text "traffic surge on our VPN since 02:00" --secrecy no \
	--scope members --coordination check-others --detail "did others see it?" \
	>/dev/null || fail "consult"
has_consult() { [ "$(ctl consult list --json | jq 'length')" = 1 ]; }
wait_for 20 has_consult || fail "consultation not received"
cid=$(ctl consult list --json | jq -r '.[0].consult_id')
ctl consult list --json | jq -e '.[0].from_reporter == true' >/dev/null || fail "not marked as from a reporter"
sid=$(ctl consult share "$cid" --incident "$INC" --title "VPN surge reported" | head -n 1)
ctl request status "$sid" --wait-acked 30 >/dev/null || fail "triaged share not delivered"
agent m2 show "$sid" | grep -q "scope: council members" || fail "provider's scope wish not kept"
out=$(ctl consult share "$cid" --incident "$INC" --title x 2>&1) && fail "shared twice"
echo "$out" | grep -q "already shared as $sid" || fail "twice message: $out"
echo "consultation ok: confirmations required, triaged with the wishes kept"
ctl audit verify >/dev/null || fail "audit"
echo "markings: ok"
