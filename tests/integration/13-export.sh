#!/usr/bin/env bash
# Feedback export (art17ctl feedback export): JSON with every version and
# the aggregate, RFC 4180 CSV (quoting, formula neutralising), and a STIX
# 2.1 bundle that validates against the OASIS schemas, all carrying the
# request's TLP; an exercise's exports carry EXERCISE in all three.
# Exits 77 (skipped) when the STIX schemas or python3-jsonschema are
# missing, after everything else has been checked.
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"
VALIDATE=$(cd "$(dirname "$0")/../tools" && pwd)/stix_validate.py

# the python that has jsonschema: Debian's, or the first python3 on PATH
PY=python3
for p in python3 /usr/bin/python3; do
	if command -v "$p" >/dev/null && "$p" -c 'import jsonschema' 2>/dev/null; then
		PY=$p
		break
	fi
done

pki_init m1 m2 m3
for s in s1 d1 e1; do "$BIN/tools/art17-pki" staff -d "$A17_TMP/people" "$s" >/dev/null; done
K="$A17_TMP/people/staff"
start_broker --keepalive 2000
for m in m1 m2 m3; do add_member "$m"; done
staff() { # member staff name
	printf '{"entries": [{"action": "new", "staff_id": "%s", "name": "%s", "email": "%s@%s.example", "key": "%s"}]}' \
		"$2" "$3" "$2" "$1" "$K/$2/seal.pub" >"$A17_TMP/form-$1.json"
	ctl staff apply "$1" --file "$A17_TMP/form-$1.json" --immediate >/dev/null || fail "staff $1"
}
staff m1 s1 Sato
staff m2 d1 Kato
staff m3 e1 Endo
for m in m1 m2 m3; do start_agent "$m"; done
for m in m1 m2 m3; do wait_for 30 agent_connected "$m" || fail "$m"; done

agent() { "$BIN/agent/art17-agent" -d "$A17_TMP/agent-$1" "${@:2}"; }
versions() { # request -> number of versions stored
	ctl feedback list "$1" --json | jq '.feedback | length'
}
has_versions() { [ "$(versions "$1")" = "$2" ]; }
export_() { ctl feedback export "$@"; }

INC=$(declare_incident "export test")
ctl incident flag "$INC" --reason "test" --expires 1h >/dev/null
rid=$(ctl request issue --kind cooperation --incident "$INC" --title "check, \"quoted\"" \
	--content "look for 192.0.2.7" --secret no --to m1,m2,m3 | head -n 1)
ctl request status "$rid" --wait-acked 30 >/dev/null || fail "not acked"

SHA256=$(printf '%064d' 7)
SHA1=$(printf 'a%039d' 1)
MD5=$(printf 'b%031d' 2)
TEXT=$'seen twice, "really"\nsecond line'
agent m1 feedback "$rid" --status investigating --contact s1 --secrecy no \
	--sharing members --text "looking" >/dev/null || fail "m1 v1"
agent m1 feedback "$rid" --status affected --indicator ipv4:192.0.2.7 \
	--indicator domain:evil.example --indicator "url:http://evil.example/it's" \
	--indicator email:bad@evil.example --indicator "md5:$MD5" --count 3 \
	--first-seen 2026-11-26T01:00:00Z --last-seen 2026-11-26T02:00:00Z \
	--impact "VPN gateway" --text "$TEXT" --contact s1 --secrecy no \
	--sharing members >/dev/null || fail "m1 v2"
agent m2 feedback "$rid" --status affected --indicator ipv4:192.0.2.7 \
	--indicator "sha256:$SHA256" --indicator "sha1:$SHA1" \
	--indicator ipv6:2001:db8::7 --indicator cve:CVE-2024-3094 \
	--contact d1 --secrecy yes --sharing tf1-only >/dev/null || fail "m2"
agent m3 feedback "$rid" --status declined --decline-reason "=1+1 legal hold" \
	--contact e1 --secrecy no --sharing members >/dev/null || fail "m3"
wait_for 30 has_versions "$rid" 4 || fail "versions: $(versions "$rid")"

# ---------------------------------------------------------------- usage
export_ "$rid" >/dev/null 2>&1
[ $? = 2 ] || fail "no --format accepted"
export_ "$rid" --format xml >/dev/null 2>&1
[ $? = 2 ] || fail "--format xml accepted"
export_ nosuch --format json >/dev/null 2>&1
[ $? = 4 ] || fail "unknown request: not 'not found'"
out=$(export_ "$rid" --format json --tlp green 2>&1) && fail "--tlp lowered the TLP"
echo "$out" | grep -q "would lower the request's TLP:AMBER" || fail "lowering message: $out"
ctl help feedback export | grep -q "strongly-agree" || fail "help"
echo "usage ok"

# ---------------------------------------------------------------- json
J="$A17_TMP/real.json"
export_ "$rid" --format json >"$J" || fail "json export"
jq -e . "$J" >/dev/null || fail "json does not parse"
jq -e '.exercise == false and (has("marking") | not) and .tlp == "TLP:AMBER"
	and .secret == false and .scope == "members" and .kind == "cooperation"' "$J" >/dev/null ||
	fail "json header: $(jq -c 'del(.feedback)' "$J")"
jq -e '(.feedback | length) == 4 and .aggregate.versions == 4
	and .aggregate.members_replied == 3 and .aggregate.members_affected == 2
	and (.aggregate.indicators_by_two_or_more | map(.indicator)) == ["ipv4:192.0.2.7"]
	and (.aggregate.indicators_by_two_or_more[0].members) == ["m1", "m2"]' "$J" >/dev/null ||
	fail "json counts: $(jq -c .aggregate "$J")"
jq -e --arg t "$TEXT" --arg md5 "md5:$MD5" '
	(.feedback | map(select(.member_id == "m1")) | map(.version)) == [1, 2]
	and (.feedback[] | select(.member_id == "m1" and .version == 2)
		| .text == $t and .count == 3 and .latest == true and .impact == "VPN gateway"
		and .first_seen == "2026-11-26T01:00:00.000Z" and .last_seen == "2026-11-26T02:00:00.000Z"
		and (.indicators | index($md5)) != null and .secrecy_wish == false
		and .sharing_wish == "members" and .voluntary == false and .contact == "s1")
	and (.feedback[] | select(.member_id == "m1" and .version == 1) | .latest == false and .status == "investigating")
	and (.feedback[] | select(.member_id == "m2") | .secrecy_wish == true and .sharing_wish == "tf1-only"
		and (.indicators | index("cve:CVE-2024-3094")) != null)
	and (.feedback[] | select(.member_id == "m3") | .status == "declined"
		and .decline_reason == "=1+1 legal hold" and .first_seen == null)' "$J" >/dev/null ||
	fail "json versions: $(jq -c .feedback "$J")"
echo "json ok"

# ---------------------------------------------------------------- csv
C="$A17_TMP/real.csv"
export_ "$rid" --format csv --out "$C" >"$A17_TMP/stdout" || fail "csv export"
[ -s "$A17_TMP/stdout" ] && fail "--out also wrote to stdout"
[ "$(stat -c %a "$C")" = 600 ] || fail "export file mode $(stat -c %a "$C")"
# the text with a comma, quotes and a newline, quoted as RFC 4180 says
grep -q '"seen twice, ""really""' "$C" || fail "csv quoting: $(cat "$C")"
grep -q "\"'=1+1 legal hold\"" "$C" || fail "csv formula not neutralised: $(cat "$C")"
head -c 200 "$C" | grep -q $'\r$' || fail "csv lines do not end in CRLF"
"$PY" - "$C" "$TEXT" <<'EOF' || fail "csv content"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
hdr, body = rows[0], rows[1:]
assert hdr[0] == "exercise", hdr
assert len(body) == 4, len(body)
assert all(len(r) == len(hdr) for r in body), [len(r) for r in body]
assert all(r[0] == "" for r in body), "real export marked EXERCISE"
col = {h: i for i, h in enumerate(hdr)}
m1 = [r for r in body if r[col["member_id"]] == "m1" and r[col["version"]] == "2"][0]
assert m1[col["text"]] == sys.argv[2], repr(m1[col["text"]])
assert m1[col["latest"]] == "yes" and m1[col["tlp"]] == "TLP:AMBER"
assert m1[col["indicators_by_two_or_more"]] == "ipv4:192.0.2.7", m1
assert "url:http://evil.example/it's" in m1[col["indicators"]].split(" ")
m3 = [r for r in body if r[col["member_id"]] == "m3"][0]
assert m3[col["decline_reason"]] == "'=1+1 legal hold", m3
assert sum(r[col["latest"]] == "yes" for r in body) == 3
EOF
echo "csv ok"

# ---------------------------------------------------------------- stix
AMBER=marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421
RED=marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1
S="$A17_TMP/real.stix.json"
export_ "$rid" --format stix --out "$S" || fail "stix export"
cnt() { jq --arg t "$2" '[.objects[] | select(.type == $t)] | length' "$1"; }
[ "$(cnt "$S" indicator)" = 8 ] || fail "indicators: $(cnt "$S" indicator)"
[ "$(cnt "$S" vulnerability)" = 1 ] || fail "vulnerabilities"
[ "$(cnt "$S" sighting)" = 10 ] || fail "sightings: $(cnt "$S" sighting)"
[ "$(cnt "$S" opinion)" = 3 ] || fail "opinions"
[ "$(cnt "$S" note)" = 1 ] || fail "notes"
[ "$(cnt "$S" identity)" = 4 ] || fail "identities"
[ "$(cnt "$S" marking-definition)" = 1 ] || fail "markings"
jq -e --arg a "$AMBER" --arg sha "$SHA256" --arg sha1 "$SHA1" --arg md5 "$MD5" '
	def ind($p): [.objects[] | select(.type == "indicator" and .pattern == $p)] | length == 1;
	(.id | test("^bundle--[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"))
	and ind("[ipv4-addr:value = '"'"'192.0.2.7'"'"']")
	and ind("[domain-name:value = '"'"'evil.example'"'"']")
	and ind("[url:value = '"'"'http://evil.example/it\\'"'"'s'"'"']")
	and ind("[email-addr:value = '"'"'bad@evil.example'"'"']")
	and ind("[ipv6-addr:value = '"'"'2001:db8::7'"'"']")
	and ind("[file:hashes.'"'"'SHA-256'"'"' = '"'"'" + $sha + "'"'"']")
	and ind("[file:hashes.'"'"'SHA-1'"'"' = '"'"'" + $sha1 + "'"'"']")
	and ind("[file:hashes.MD5 = '"'"'" + $md5 + "'"'"']")
	and ([.objects[] | select(.type == "vulnerability")][0]
		| .name == "CVE-2024-3094" and .external_references == [{"source_name": "cve", "external_id": "CVE-2024-3094"}])
	and ([.objects[] | select(.type == "marking-definition")][0]
		| .id == $a and .name == "TLP:AMBER"
		and .extensions["extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"].tlp_2_0 == "amber")
	and ([.objects[] | select(.type != "marking-definition") | .object_marking_refs == [$a]] | all)
	and ([.objects[] | select(.type != "marking-definition") | .spec_version == "2.1"] | all)
	and ([.objects[] | has("labels")] | any | not)
	and ([.objects[] | select(.type == "identity" and .name == "art17 council secretariat")] | length == 1)
	' "$S" >/dev/null || fail "stix content: $(jq -c . "$S" | head -c 3000)"
# sightings of the shared indicator: one per member, each where its member is
jq -e '
	(.objects | map(select(.type == "identity")) | map({(.id): .name}) | add) as $who
	| (.objects[] | select(.type == "indicator" and .name == "ipv4 192.0.2.7") | .id) as $ip
	| [.objects[] | select(.type == "sighting" and .sighting_of_ref == $ip) | $who[.where_sighted_refs[0]]] | sort == ["m1", "m2"]' \
	"$S" >/dev/null || fail "stix sightings"
jq -e '[.objects[] | select(.type == "sighting" and .count == 3
	and .first_seen == "2026-11-26T01:00:00.000Z" and .last_seen == "2026-11-26T02:00:00.000Z")] | length == 5' \
	"$S" >/dev/null || fail "stix sighting count/seen"
jq -e '
	([.objects[] | select(.type == "note")][0].id) as $note
	| [.objects[] | select(.type == "opinion") | {a: .authors[0], o: .opinion, n: (.object_refs | index($note) != null)}]
	| sort_by(.a) == [{a: "m1", o: "strongly-agree", n: true}, {a: "m2", o: "strongly-agree", n: true},
		{a: "m3", o: "neutral", n: true}]' "$S" >/dev/null ||
	fail "stix opinions: $(jq -c '[.objects[] | select(.type == "opinion")]' "$S")"
jq -e '[.objects[] | select(.type == "note")][0] | (.abstract | test("3 members replied, 2 affected"))
	and (.content | test("EXERCISE") | not)' "$S" >/dev/null || fail "stix note"
"$PY" "$VALIDATE" "$S"
vrc=$?
[ $vrc = 0 ] || [ $vrc = 77 ] || fail "stix bundle does not validate"
# the validator does catch a broken bundle
if [ $vrc = 0 ]; then
	jq '(.objects[] | select(.type == "sighting")) |= del(.sighting_of_ref)' "$S" >"$A17_TMP/bad.json"
	"$PY" "$VALIDATE" "$A17_TMP/bad.json" >/dev/null && fail "validator passed a sighting without sighting_of_ref"
	jq '(.objects[] | select(.type == "note")).object_refs |= ["indicator--00000000-0000-4000-8000-000000000000"]' \
		"$S" >"$A17_TMP/bad2.json"
	"$PY" "$VALIDATE" "$A17_TMP/bad2.json" >/dev/null && fail "validator passed a dangling ref"
fi
# a stricter TLP may be asked for
export_ "$rid" --format stix --tlp red | jq -e --arg r "$RED" '
	([.objects[] | select(.type == "marking-definition") | .id] == [$r])
	and ([.objects[] | select(.type != "marking-definition") | .object_marking_refs == [$r]] | all)' \
	>/dev/null || fail "--tlp red"
echo "stix ok"

# ---------------------------------------------------------------- exercise
XINC=$(declare_incident "drill" --exercise)
ctl incident flag "$XINC" --reason "drill" --expires 1h >/dev/null
xid=$(ctl request issue --kind cooperation --incident "$XINC" --title "drill check" \
	--content "drill" --secret no --tlp red --exercise --to m1,m2 | head -n 1)
ctl request status "$xid" --wait-acked 30 >/dev/null || fail "exercise not acked"
# no feedback yet: still a valid, marked export
export_ "$xid" --format json | jq -e '.exercise == true and .feedback == []
	and .aggregate.members_replied == 0' >/dev/null || fail "empty json"
export_ "$xid" --format stix --out "$A17_TMP/x0.stix.json" || fail "empty stix"
"$PY" "$VALIDATE" "$A17_TMP/x0.stix.json" >/dev/null
zrc=$?
[ $zrc = 0 ] || [ $zrc = 77 ] || fail "empty stix bundle does not validate"
# bytes that are not UTF-8 come out as U+FFFD, and the JSON still parses
agent m1 feedback "$xid" --status investigating --contact s1 --secrecy no \
	--sharing members --text $'bad \xff byte' >/dev/null || fail "x m1 v1"
agent m1 feedback "$xid" --status affected --indicator ipv4:198.51.100.9 \
	--contact s1 --secrecy no --sharing members --text "drill, \"hit\"" >/dev/null || fail "x m1"
agent m2 feedback "$xid" --status not-affected --contact d1 --secrecy no \
	--sharing members >/dev/null || fail "x m2"
# counted by the export: feedback list drops a version whose text is not UTF-8
exported_versions() { [ "$(export_ "$1" --format json | jq '.feedback | length')" = "$2" ]; }
wait_for 30 exported_versions "$xid" 3 || fail "exercise versions: $(versions "$xid")"

export_ "$xid" --format json | jq -e '.exercise == true and .marking == "EXERCISE"
	and .tlp == "TLP:RED" and (.feedback | length) == 3
	and .feedback[0].text == "bad \ufffd byte"' >/dev/null || fail "exercise json"
XC="$A17_TMP/x.csv"
export_ "$xid" --format csv >"$XC" || fail "exercise csv"
"$PY" - "$XC" <<'EOF' || fail "exercise csv: $(cat "$XC")"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
assert rows[0][0] == "exercise", rows[0]
assert len(rows) == 4, len(rows)
assert all(r[0] == "EXERCISE" for r in rows[1:]), rows
EOF
XS="$A17_TMP/x.stix.json"
export_ "$xid" --format stix --out "$XS" || fail "exercise stix"
jq -e --arg r "$RED" '
	([.objects[] | select(.type != "marking-definition") | .labels == ["EXERCISE"]] | all)
	and ([.objects[] | select(.type != "marking-definition") | .object_marking_refs == [$r]] | all)
	and ([.objects[] | select(.type == "note")][0] | (.abstract | startswith("EXERCISE"))
		and (.content | startswith("EXERCISE")))
	and ([.objects[] | select(.type == "opinion") | .opinion] | sort) == ["disagree", "strongly-agree"]' \
	"$XS" >/dev/null || fail "exercise stix: $(jq -c . "$XS" | head -c 2000)"
"$PY" "$VALIDATE" "$XS"
xrc=$?
[ $xrc = 0 ] || [ $xrc = 77 ] || fail "exercise stix bundle does not validate"
echo "exercise ok"

ctl audit verify >/dev/null || fail "audit"
if [ $vrc = 77 ] || [ $xrc = 77 ]; then
	echo "export: SKIPPED the STIX schema validation (no schemas or no python3-jsonschema)"
	exit 77
fi
echo "export: ok"
