#!/usr/bin/env bash
# The Article 17(3) gate with the real broker and five real agents: the
# eight scenarios of issue 3. Every exclusion and withdrawal must carry its
# reason in the audit log; a byte changed in one audit entry in the LMDB
# file must make `audit verify` fail and name that entry.
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"

M="m1 m2 m3 m4 m5"
in_inbox() { # member request-id -> count
	agent_list_json "$1" | jq --arg r "$2" '[.[] | select(.request_id == $r)] | length'
}
state_of() { # request member -> state
	ctl request status "$1" --json |
		jq -r --arg m "$2" '.copies[] | select(.member == $m) | .state'
}
issue() { # kind title [more args] -> prints request id, or fails
	ctl request issue --kind "$1" --incident "$INC" --title "$2" \
		--content "content of $2" --secret no "${@:3}" >"$A17_TMP/issue.out" \
		2>"$A17_TMP/issue.err"
}
rid_of_issue() { head -n 1 "$A17_TMP/issue.out"; }
state_is() { # request member state
	[ "$(state_of "$1" "$2")" = "$3" ]
}
acked_by() { # request member
	case "$(state_of "$1" "$2")" in acked | accepted | answered) return 0 ;; esac
	return 1
}
audit_has() { # text: some entry's detail or action contains it
	[ "$(ctl audit show --json | jq --arg t "$1" \
		'[.[] | select((.detail | contains($t)) or .action == $t)] | length')" -gt 0 ]
}

pki_init $M
start_broker --keepalive 2000
for m in $M; do add_member "$m" --poc "Tanaka ($m CSIRT)"; done
for m in $M; do start_agent "$m"; done
for m in $M; do
	wait_for 30 agent_connected "$m" || fail "agent $m did not connect"
done
INC=$(declare_incident "Gate test incident")
[ -n "$INC" ] || fail "incident declare printed no id"
echo "incident $INC"

# 1: no flag, no consent: refused, nothing delivered
if issue cooperation "one"; then fail "1: issue without ground succeeded"; fi
[ "$(ctl request list --json | jq 'length')" = 0 ] ||
	fail "1: a request was stored"
grep -q "deny.no-ground" "$A17_TMP/issue.err" ||
	fail "1: exclusions not explained: $(cat "$A17_TMP/issue.err")"
echo "1 ok: refused, nothing stored"

# 2: no flag, m1 and m2 consented: exactly those two
ctl consent grant m1 --ref "CSC-C-001 2026-11-01" >/dev/null || fail "consent m1"
ctl consent grant m2 --ref "CSC-C-002 2026-11-02" >/dev/null || fail "consent m2"
issue cooperation "two" || fail "2: issue: $(cat "$A17_TMP/issue.err")"
R2=$(rid_of_issue)
for m in m1 m2; do
	wait_for 20 acked_by "$R2" "$m" || fail "2: $m did not ack"
done
sleep 1
for m in m3 m4 m5; do
	[ "$(in_inbox "$m" "$R2")" = 0 ] || fail "2: $m received $R2"
	n=$(ctl audit show --json | jq --arg m "$m" --arg r "$R2" \
		'[.[] | select(.action == "gate.deny" and .subject == $m and
		  (.detail | contains($r)) and (.detail | contains("deny.no-ground")))]
		 | length')
	[ "$n" = 1 ] || fail "2: the audit log lacks $m's exclusion from $R2"
done
"$BIN/agent/art17-agent" -d "$A17_TMP/agent-m1" show "$R2" |
	grep -q "Ground:    consent CSC-C-001" || fail "2: m1 view lacks its ground"
echo "2 ok: m1, m2 only; m3-m5 excluded with reasons"

# 3: flag set: all five
ctl incident flag "$INC" --reason "WannaCry-scale outbreak" --expires 2h >/dev/null ||
	fail "3: flag"
issue cooperation "three" || fail "3: issue"
R3=$(rid_of_issue)
for m in $M; do wait_for 20 acked_by "$R3" "$m" || fail "3: $m did not ack"; done
"$BIN/agent/art17-agent" -d "$A17_TMP/agent-m5" show "$R3" |
	grep -q "Ground:    large-scale declaration, incident $INC" ||
	fail "3: m5 view lacks the large-scale ground"
echo "3 ok: all five"

# 4: m5 offline; flag lifted before it reconnects: never delivered, withdrawn
kill -TERM "${AGENT_PID[m5]}"; wait "${AGENT_PID[m5]}" 2>/dev/null
issue cooperation "four" || fail "4: issue"
R4=$(rid_of_issue)
for m in m1 m2 m3 m4; do wait_for 20 acked_by "$R4" "$m" || fail "4: $m"; done
ctl incident unflag "$INC" --reason "contained" >/dev/null || fail "4: unflag"
[ "$(state_of "$R4" m5)" = withdrawn ] || fail "4: m5 copy is $(state_of "$R4" m5)"
start_agent m5
wait_for 30 grep -q "withdrawn by the broker\|connected as m5" "$A17_TMP/agent-m5.log"
sleep 3
[ "$(in_inbox m5 "$R4")" = 0 ] || fail "4: m5 received $R4 after the lift"
[ "$(state_of "$R4" m5)" = withdrawn ] || fail "4: m5 copy not withdrawn"
audit_has "deny.flag-lifted" || fail "4: withdrawal reason not audited"
echo "4 ok: withdrawn, never delivered"

# 5: consent revoked before delivery: withdrawn
kill -TERM "${AGENT_PID[m1]}"; wait "${AGENT_PID[m1]}" 2>/dev/null
issue cooperation "five" || fail "5: issue"
R5=$(rid_of_issue)
wait_for 20 acked_by "$R5" m2 || fail "5: m2"
ctl consent revoke m1 --ref "CSC-C-001 revoked 2026-11-26" >/dev/null || fail "5: revoke"
[ "$(state_of "$R5" m1)" = withdrawn ] || fail "5: m1 copy is $(state_of "$R5" m1)"
start_agent m1
sleep 3
[ "$(in_inbox m1 "$R5")" = 0 ] || fail "5: m1 received $R5 after revocation"
audit_has "deny.consent-revoked" || fail "5: reason not audited"
echo "5 ok: consent revoked, withdrawn"

# 6: flag expiry without renewal behaves like a lift
kill -TERM "${AGENT_PID[m3]}"; wait "${AGENT_PID[m3]}" 2>/dev/null
ctl incident flag "$INC" --reason "second wave" --expires 4s >/dev/null || fail "6: flag"
issue cooperation "six" || fail "6: issue"
R6=$(rid_of_issue)
[ "$(state_of "$R6" m3)" = queued ] || fail "6: m3 copy is $(state_of "$R6" m3)"
wait_for 15 state_is "$R6" m3 withdrawn ||
	fail "6: m3 copy not withdrawn after expiry: $(state_of "$R6" m3)"
start_agent m3
sleep 3
[ "$(in_inbox m3 "$R6")" = 0 ] || fail "6: m3 received $R6 after expiry"
audit_has "flag.expire" || fail "6: expiry not audited"
audit_has "deny.flag-expired" || fail "6: withdrawal reason not audited"
echo "6 ok: expiry withdraws like a lift"

# 7: an information share goes to all without a flag, marked voluntary
issue share "seven" || fail "7: issue"
R7=$(rid_of_issue)
for m in $M; do wait_for 20 acked_by "$R7" "$m" || fail "7: $m"; done
"$BIN/agent/art17-agent" -d "$A17_TMP/agent-m4" show "$R7" |
	grep -q "Feedback:  voluntary" || fail "7: not marked voluntary"
echo "7 ok: share to all, voluntary"

# a member grants its own consent from its agent, signed with its key
"$BIN/agent/art17-agent" -d "$A17_TMP/agent-m3" consent grant -m m3 \
	--ref "M3-SELF-01 2026-11-26" >/dev/null || fail "agent consent"
wait_for 20 audit_has 'reference "M3-SELF-01 2026-11-26", entered by m3 via the member' ||
	fail "agent consent not recorded with who and how"
ctl consent show m3 | grep -q "in force.*M3-SELF-01" || fail "consent show m3"
echo "agent consent ok: recorded as entered by m3 via its agent"

# accept: m2's staff read R2; the broker records it
"$BIN/agent/art17-agent" -d "$A17_TMP/agent-m2" accept "$R2" --person "Sato" >/dev/null ||
	fail "accept"
wait_for 20 state_is "$R2" m2 accepted || fail "accept not recorded"

# deadlines: m4 offline; a cooperation request with a 2 s deadline goes
# overdue, with an escalation entry naming m4's POC
ctl incident flag "$INC" --reason "third wave" --expires 1h >/dev/null || fail "od: flag"
kill -TERM "${AGENT_PID[m4]}"; wait "${AGENT_PID[m4]}" 2>/dev/null
issue cooperation "overdue" --deadline 2s --to m4 || fail "od: issue"
ROD=$(rid_of_issue)
wait_for 15 state_is "$ROD" m4 overdue || fail "od: m4 copy is $(state_of "$ROD" m4)"
audit_has "escalated to its POC Tanaka (m4 CSIRT)" || fail "od: no escalation naming the POC"
start_agent m4
wait_for 20 acked_by "$ROD" m4 || fail "od: m4 did not ack its overdue copy"
echo "overdue ok: escalated to the POC, delivered and acked when m4 came back"

# 8: one byte of one audit entry changed in the LMDB file
ctl audit verify >/dev/null || fail "8: audit not intact before tampering"
seq=$(ctl audit show --json | tr -d '\n' |
	grep -o '"seq": *[0-9]*, *"time_ms": *[0-9]*, *"actor": *"[^"]*", *"action": *"incident.declare"' |
	head -n 1 | grep -o '"seq": *[0-9]*' | grep -o '[0-9]*')
[ -n "$seq" ] || fail "8: cannot find the declare entry"
stop_broker
db="$ART17_DATA/db/data.mdb"
# the entry's text, wherever LMDB's copy-on-write pages hold it
offs=$(grep -obUa "declared: Gate test incident" "$db" | cut -d: -f1)
[ -n "$offs" ] || fail "8: entry text not found in the LMDB file"
for off in $offs; do
	printf 'X' | dd of="$db" bs=1 seek=$((off + 12)) conv=notrunc status=none
done
start_broker --keepalive 2000
if ctl audit verify >"$A17_TMP/verify.out" 2>&1; then
	fail "8: audit verify passed after tampering"
fi
grep -q "entry $seq" "$A17_TMP/verify.out" ||
	fail "8: verify did not name entry $seq: $(cat "$A17_TMP/verify.out")"
echo "8 ok: $(cat "$A17_TMP/verify.out")"
echo "gate: ok"
