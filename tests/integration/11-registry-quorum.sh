#!/usr/bin/env bash
# The registry's refusals (RULES Q4/Q5) and the two-person rule for the
# large-scale flag (a quorum of 2: a second, different coordinator must
# confirm within the window before the flag takes effect).
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"

pki_init m1 m2 d1 d2 p1
"$BIN/tools/art17-pki" coordinator -d "$ART17_PKI" bob >/dev/null
start_broker --keepalive 2000 --flag-quorum 2 --confirm-window 60

# Q4: an individual cannot be a member
out=$(ctl member add --id p1 --name "Taro Yamada" --entity individual \
	--key "$ART17_PKI/agents/p1/id.pub" 2>&1) && fail "individual accepted"
echo "$out" | grep -q "individual cannot be a member" || fail "Q4 message: $out"
# Q5: one department of an organisation, not two
ctl member add --id d1 --name "Ministry X, Dept A" --entity department \
	--parent "Ministry X" --key "$ART17_PKI/agents/d1/id.pub" >/dev/null ||
	fail "first department refused"
out=$(ctl member add --id d2 --name "Ministry X, Dept B" --entity department \
	--parent "Ministry X" --key "$ART17_PKI/agents/d2/id.pub" 2>&1) &&
	fail "second department accepted"
echo "$out" | grep -q 'already has a department registered (member d1)' ||
	fail "Q5 message: $out"
# one key, one member
out=$(ctl member add --id m2 --name "M2" --key "$ART17_PKI/agents/d1/id.pub" 2>&1) &&
	fail "a key registered twice"
echo "$out" | grep -q "already registered to member d1" || fail "dup key: $out"
echo "registry ok: individual, second department and reused key refused"

add_member m1
add_member m2
start_agent m1
start_agent m2
for m in m1 m2; do wait_for 30 agent_connected "$m" || fail "$m"; done
INC=$(declare_incident "two-person test")

out=$(ctl incident flag "$INC" --reason "outbreak" --expires 1h)
echo "$out" | grep -q PENDING || fail "flag not pending: $out"
ctl request issue --kind cooperation --incident "$INC" --title t \
	--content c --secret no >/dev/null 2>"$A17_TMP/err" &&
	fail "issued on an unconfirmed flag"
grep -q "deny.flag-unconfirmed" "$A17_TMP/err" || fail "reason: $(cat "$A17_TMP/err")"
out=$(ctl incident confirm "$INC" 2>&1) && fail "self-confirmation accepted"
echo "$out" | grep -q "different coordinator" || fail "self-confirm message: $out"
ctl -u bob incident confirm "$INC" | grep -q ACTIVE || fail "bob's confirmation"
rid=$(ctl request issue --kind cooperation --incident "$INC" --title t \
	--content c --secret no --to m1,m2 | head -n 1)
ctl request status "$rid" --wait-acked 30 >/dev/null || fail "not delivered"
ctl audit show --json | jq -e '[.[] | select(.action == "flag.confirm" and .actor == "bob")] | length == 1' >/dev/null ||
	fail "confirmation not attributed to bob"
echo "two-person rule ok: pending, self-confirm refused, bob confirmed, delivered"
