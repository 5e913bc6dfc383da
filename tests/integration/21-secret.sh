#!/usr/bin/env bash
# Secret content: sealed per member to its registered staff who have a
# system account, each with their own key. Nobody else can open it, the
# plaintext is nowhere on the broker's disk or in any log, and each
# opening is reported back. Staff changes: one person, one key; abolished
# staff stop receiving; changes wait for their effective time.
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"

pki_init m1 m2 m3
for s in s1 s2 s3 s4 d1; do
	"$BIN/tools/art17-pki" staff -d "$A17_TMP/people" "$s" >/dev/null ||
		fail "pki staff $s"
done
K="$A17_TMP/people/staff"
start_broker --keepalive 2000
for m in m1 m2 m3; do add_member "$m"; done
for m in m1 m2; do start_agent "$m"; done
for m in m1 m2; do wait_for 30 agent_connected "$m" || fail "$m"; done

form() { # file entries-json
	printf '{"entries": [%s]}\n' "$2" >"$1"
}
form "$A17_TMP/m1.json" "
 {\"action\": \"new\", \"staff_id\": \"s1\", \"name\": \"Sato Hanako\", \"email\": \"sato@m1.example\", \"key\": \"$K/s1/seal.pub\", \"account\": true},
 {\"action\": \"new\", \"staff_id\": \"s2\", \"name\": \"Suzuki Ken\", \"email\": \"suzuki@m1.example\", \"key\": \"$K/s2/seal.pub\", \"account\": false},
 {\"action\": \"new\", \"staff_id\": \"s3\", \"name\": \"Ito Jun\", \"email\": \"ito@m1.example\", \"key\": \"$K/s3/seal.pub\", \"account\": true}"
ctl staff apply m1 --file "$A17_TMP/m1.json" --immediate >/dev/null || fail "staff m1"
form "$A17_TMP/m2.json" "{\"action\": \"new\", \"staff_id\": \"d1\", \"name\": \"Kato Mai\", \"email\": \"kato@m2.example\", \"key\": \"$K/d1/seal.pub\"}"
ctl staff apply m2 --file "$A17_TMP/m2.json" --immediate >/dev/null || fail "staff m2"

# one person, one key, one address: a second entry with s1's key or
# e-mail is refused, and so is a mailing list pretending to be a person
form "$A17_TMP/dup.json" "{\"action\": \"new\", \"staff_id\": \"x1\", \"name\": \"Dup\", \"email\": \"dup@m2.example\", \"key\": \"$K/s1/seal.pub\"}"
out=$(ctl staff apply m2 --file "$A17_TMP/dup.json" --immediate 2>&1) && fail "duplicate key accepted"
echo "$out" | grep -q "already held by staff s1" || fail "dup key message: $out"
form "$A17_TMP/dup2.json" "{\"action\": \"new\", \"staff_id\": \"x2\", \"name\": \"Dup\", \"email\": \"SATO@m1.example\", \"key\": \"$K/s4/seal.pub\"}"
out=$(ctl staff apply m2 --file "$A17_TMP/dup2.json" --immediate 2>&1) && fail "duplicate e-mail accepted"
echo "$out" | grep -q "e-mail address is already held" || fail "dup mail message: $out"
# a change without --immediate waits five business days
form "$A17_TMP/later.json" "{\"action\": \"new\", \"staff_id\": \"s4\", \"name\": \"Later Person\", \"email\": \"later@m1.example\", \"key\": \"$K/s4/seal.pub\"}"
ctl staff apply m1 --file "$A17_TMP/later.json" | grep -q "effective" || fail "delayed change"
echo "staff ok: duplicates refused, delayed change pending"

INC=$(declare_incident "secret test")
ctl incident flag "$INC" --reason "test" --expires 1h >/dev/null
SECRET="TOPSECRET-victim-is-Example-Corp-$RANDOM$RANDOM"
# a member with no eligible staff: refused, named
out=$(ctl request issue --kind cooperation --incident "$INC" --title "s" \
	--content "$SECRET" --secret yes --tlp red --to m1,m3 2>&1) &&
	fail "secret issued to a member without staff"
echo "$out" | grep -q "member m3 has no registered staff" || fail "no-staff message: $out"

rid=$(ctl request issue --kind cooperation --incident "$INC" --title "sealed item" \
	--content "$SECRET" --secret yes --tlp red --to m1,m2 | head -n 1)
ctl request status "$rid" --wait-acked 30 >/dev/null || fail "secret not acked"

A1="$A17_TMP/agent-m1"
out=$("$BIN/agent/art17-agent" -d "$A1" read "$rid" --staff s1 --key "$K/s1/seal.key") ||
	fail "s1 cannot open"
[ "$out" = "$SECRET" ] || fail "s1 read something else"
"$BIN/agent/art17-agent" -d "$A17_TMP/agent-m2" read "$rid" --staff d1 --key "$K/d1/seal.key" |
	grep -q "$SECRET" || fail "d1 cannot open"
# s2 has no system account: nothing was sealed to s2
"$BIN/agent/art17-agent" -d "$A1" read "$rid" --staff s2 --key "$K/s2/seal.key" >/dev/null 2>&1
[ $? = 4 ] || fail "s2 (no account) could open"
# s4's change is not in effect yet
"$BIN/agent/art17-agent" -d "$A1" read "$rid" --staff s4 --key "$K/s4/seal.key" >/dev/null 2>&1
[ $? = 4 ] || fail "s4 (pending) could open"
# a staff member opening with someone else's key
"$BIN/agent/art17-agent" -d "$A1" read "$rid" --staff s3 --key "$K/s1/seal.key" >/dev/null 2>"$A17_TMP/err"
[ $? = 1 ] || fail "s3 opened with s1's key"
"$BIN/agent/art17-agent" -d "$A1" show "$rid" | grep -q "SECRET: the content is sealed to 2" ||
	fail "show does not say sealed to 2 (s1, s3)"
read_reported() {
	ctl audit show --json | jq -e --arg r "$rid" \
		'[.[] | select(.action == "copy.read" and (.detail | contains($r)) and (.detail | contains("staff s1")))] | length >= 1' >/dev/null
}
wait_for 20 read_reported || fail "s1's opening not reported to the broker"
echo "sealed ok: s1 and d1 open; s2 (no account), s4 (pending), s3 with s1's key cannot"

# abolished staff stop receiving from the effective time
form "$A17_TMP/abol.json" '{"action": "abolish", "staff_id": "s3"}'
ctl staff apply m1 --file "$A17_TMP/abol.json" --immediate >/dev/null || fail "abolish"
rid2=$(ctl request issue --kind share --incident "$INC" --title "sealed 2" \
	--content "$SECRET-2" --secret yes --tlp red --to m1 | head -n 1)
ctl request status "$rid2" --wait-acked 30 >/dev/null || fail "secret 2 not acked"
"$BIN/agent/art17-agent" -d "$A1" read "$rid2" --staff s3 --key "$K/s3/seal.key" >/dev/null 2>&1
[ $? = 4 ] || fail "abolished s3 could open a later item"
echo "abolish ok: s3 receives nothing after its effective time"

# the plaintext is nowhere on the broker's disk, in any log, or on the
# agents' disks (they store the sealed form only)
sleep 1
if grep -r -a -l -- "$SECRET" "$ART17_DATA" "$A17_TMP"/*.log "$A17_TMP"/agent-* 2>/dev/null; then
	fail "plaintext found on disk or in a log"
fi
echo "no plaintext: broker data, agent data and every log searched"
ctl audit verify >/dev/null || fail "audit"
echo "secret: ok"
