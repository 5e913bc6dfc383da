#!/usr/bin/env bash
# pki_test.sh: art17-pki end to end, checked with the openssl CLI.
# Usage: pki_test.sh /path/to/art17-pki
set -euo pipefail

PKI=${1:?usage: pki_test.sh /path/to/art17-pki}
[ -x "$PKI" ] || { echo "not executable: $PKI" >&2; exit 1; }
unset ART17_PKI

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/pki
step=0

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { step=$((step + 1)); echo "ok $step - $*"; }

# expect_rc WANT DESC CMD...: runs CMD, keeps stderr in $T/err.
expect_rc() {
	local want=$1 desc=$2 rc=0
	shift 2
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" -eq "$want" ] ||
		fail "$desc: exit $rc, want $want; stderr: $(cat "$T/err")"
}

mode() { stat -c %a "$1"; }

# Usage and version.
expect_rc 0 "--help" "$PKI" --help
grep -q 'exit status' "$T/out" || fail "--help does not document exit codes"
expect_rc 0 "--version" "$PKI" --version
grep -q 'art17-pki' "$T/out" || fail "--version output"
expect_rc 2 "no command" "$PKI"
expect_rc 2 "unknown command" "$PKI" frobnicate
grep -q 'unknown command' "$T/err" || fail "unknown command message"
grep -q 'usage:' "$T/err" || fail "unknown command prints usage on stderr"
expect_rc 2 "init with an argument" "$PKI" init -d "$D" extra
expect_rc 2 "--host with a comma" "$PKI" init -d "$D" --host 'a,DNS:evil'
expect_rc 2 "--days 0" "$PKI" init -d "$D" --days 0
[ ! -e "$D" ] || fail "usage errors created $D"
ok "usage errors exit 2 and create nothing"

# Commands that need a CA fail cleanly before init.
expect_rc 1 "agent before init" "$PKI" agent -d "$D" m0
grep -q 'init' "$T/err" || fail "agent before init: message"
[ ! -e "$D/agents/m0" ] || fail "agent before init left $D/agents/m0"
ok "agent before init exits 1"

expect_rc 0 "init" "$PKI" init -d "$D" --host broker.example --host 192.0.2.7
expect_rc 0 "agent m1" "$PKI" agent -d "$D" m1
expect_rc 0 "coordinator c1" "$PKI" coordinator -d "$D" c1
ok "init, agent m1, coordinator c1"

for f in ca/ca.crt ca/ca.key ca/crl.pem ca/revoked.txt \
	broker/tls.crt broker/tls.key broker/tls.pem broker/sign.key \
	broker/sign.pub broker/ca.crt \
	agents/m1/tls.crt agents/m1/tls.key agents/m1/tls.pem \
	agents/m1/id.key agents/m1/id.pub agents/m1/ca.crt \
	agents/m1/broker-sign.pub \
	coordinators/c1/id.key coordinators/c1/id.pub; do
	[ -f "$D/$f" ] || fail "missing $D/$f"
done
ok "layout complete"

# Private material: every .key and tls.pem is 0600; directories 0700.
n=0
while IFS= read -r -d '' f; do
	[ "$(mode "$f")" = 600 ] || fail "$f has mode $(mode "$f"), want 600"
	n=$((n + 1))
done < <(find "$D" -type f \( -name '*.key' -o -name 'tls.pem' \) -print0)
[ "$n" -eq 8 ] || fail "expected 8 private files, found $n"
while IFS= read -r -d '' d; do
	[ "$(mode "$d")" = 700 ] || fail "$d has mode $(mode "$d"), want 700"
done < <(find "$D" -type d -print0)
ok "private files 0600, directories 0700"

# Chains and the extensions the brief asks for.
openssl verify -CAfile "$D/ca/ca.crt" "$D/broker/tls.crt" >/dev/null ||
	fail "broker cert does not chain to the CA"
openssl verify -CAfile "$D/ca/ca.crt" "$D/agents/m1/tls.crt" >/dev/null ||
	fail "agent cert does not chain to the CA"
openssl verify -CAfile "$D/agents/m1/ca.crt" -purpose sslclient \
	"$D/agents/m1/tls.crt" >/dev/null || fail "agent cert: not sslclient"
openssl verify -CAfile "$D/broker/ca.crt" -purpose sslserver \
	"$D/broker/tls.crt" >/dev/null || fail "broker cert: not sslserver"
cmp -s "$D/ca/ca.crt" "$D/agents/m1/ca.crt" || fail "agent ca.crt copy differs"
cmp -s "$D/broker/sign.pub" "$D/agents/m1/broker-sign.pub" ||
	fail "agent broker-sign.pub copy differs"
ok "broker and agent certs chain to the CA"

openssl x509 -in "$D/ca/ca.crt" -noout -text >"$T/ca.txt"
grep -q 'CA:TRUE' "$T/ca.txt" || fail "CA: no CA:TRUE"
grep -A1 'Basic Constraints' "$T/ca.txt" | grep -q critical ||
	fail "CA: basicConstraints not critical"
grep -q 'Certificate Sign, CRL Sign' "$T/ca.txt" || fail "CA: keyUsage"
openssl x509 -in "$D/broker/tls.crt" -noout -text >"$T/br.txt"
for want in 'CA:FALSE' 'Digital Signature, Key Agreement' \
	'TLS Web Server Authentication' 'DNS:localhost' 'IP Address:127.0.0.1' \
	'IP Address:0:0:0:0:0:0:0:1' 'DNS:broker.example' \
	'IP Address:192.0.2.7' 'Subject Key Identifier' \
	'Authority Key Identifier' 'ecdsa-with-SHA256' 'prime256v1' \
	'Version: 3'; do
	grep -q "$want" "$T/br.txt" || fail "broker cert lacks '$want'"
done
openssl x509 -in "$D/agents/m1/tls.crt" -noout -text >"$T/ag.txt"
for want in 'CA:FALSE' 'TLS Web Client Authentication' 'DNS:m1' \
	'prime256v1' 'ecdsa-with-SHA256'; do
	grep -q "$want" "$T/ag.txt" || fail "agent cert lacks '$want'"
done
s1=$(openssl x509 -in "$D/agents/m1/tls.crt" -noout -serial | cut -d= -f2)
s2=$(openssl x509 -in "$D/broker/tls.crt" -noout -serial | cut -d= -f2)
[ ${#s1} -eq 32 ] || fail "agent serial is not 16 bytes: $s1"
[ "$s1" != "$s2" ] || fail "serials repeat"
ok "certificate extensions"

# tls.pem is the certificate then the key.
head -1 "$D/broker/tls.pem" | grep -q 'BEGIN CERTIFICATE' ||
	fail "tls.pem does not start with the certificate"
grep -q 'BEGIN PRIVATE KEY' "$D/broker/tls.pem" || fail "tls.pem lacks the key"
[ "$(openssl pkey -in "$D/broker/tls.pem" -pubout)" = \
	"$(openssl x509 -in "$D/broker/tls.pem" -noout -pubkey)" ] ||
	fail "tls.pem key does not match its certificate"
openssl pkey -in "$D/agents/m1/id.key" -noout -text | grep -q ED25519 ||
	fail "id.key is not Ed25519"
ok "tls.pem and identity key formats"

# init again: refused, exit 1, ca.key unchanged.
before=$(sha256sum <"$D/ca/ca.key")
expect_rc 1 "second init" "$PKI" init -d "$D"
grep -q 'refusing to overwrite' "$T/err" || fail "second init: message"
grep -q "$D" "$T/err" || fail "second init: message does not name the path"
[ "$(sha256sum <"$D/ca/ca.key")" = "$before" ] || fail "ca.key changed"
ok "second init refused, ca.key unchanged"

expect_rc 1 "agent m1 again" "$PKI" agent -d "$D" m1
expect_rc 1 "coordinator c1 again" "$PKI" coordinator -d "$D" c1
ok "existing agent and coordinator not overwritten"

# Invalid names.
for bad in .hidden 'a/b' '' 'x y' "$(printf 'a%.0s' {1..65})" '../m1'; do
	rc=0
	"$PKI" agent -d "$D" "$bad" >/dev/null 2>"$T/err" || rc=$?
	[ "$rc" -eq 2 ] || [ "$rc" -eq 1 ] || fail "name '$bad': exit $rc"
	grep -q 'invalid name\|needs exactly one' "$T/err" ||
		fail "name '$bad': no message"
done
expect_rc 2 "bad coordinator name" "$PKI" coordinator -d "$D" .c
[ -z "$(find "$D/agents" -mindepth 1 -maxdepth 1 ! -name m1)" ] ||
	fail "invalid names created directories"
ok "invalid names rejected"

# A failed agent leaves nothing behind: sign.pub unreadable mid-way.
mv "$D/broker/sign.pub" "$T/sign.pub"
mkdir "$D/broker/sign.pub"
expect_rc 1 "agent with broken broker dir" "$PKI" agent -d "$D" m9
[ ! -e "$D/agents/m9" ] || fail "failed agent left $D/agents/m9"
rmdir "$D/broker/sign.pub"
mv "$T/sign.pub" "$D/broker/sign.pub"
ok "failed agent rolled back"

# The CA key must not be readable by others.
chmod 640 "$D/ca/ca.key"
expect_rc 1 "agent with open ca.key" "$PKI" agent -d "$D" m8
grep -q 'ca.key' "$T/err" || fail "open ca.key: message"
chmod 600 "$D/ca/ca.key"
ok "group-readable ca.key refused"

# The fresh CRL is empty and signed by the CA.
openssl crl -in "$D/ca/crl.pem" -CAfile "$D/ca/ca.crt" -noout 2>&1 |
	grep -q 'verify OK' || fail "initial CRL signature"
openssl crl -in "$D/ca/crl.pem" -noout -text | grep -q 'No Revoked' ||
	fail "initial CRL is not empty"
ok "initial CRL"

# Revoke m1.
serial=$(openssl x509 -in "$D/agents/m1/tls.crt" -noout -serial | cut -d= -f2)
expect_rc 0 "revoke m1" "$PKI" revoke -d "$D" m1
grep -qix "$serial" "$D/ca/revoked.txt" || fail "revoked.txt lacks $serial"
openssl crl -in "$D/ca/crl.pem" -noout -text >"$T/crl.txt"
grep -qi "Serial Number: $serial" "$T/crl.txt" || fail "CRL lacks $serial"
grep -q 'Next Update' "$T/crl.txt" || fail "CRL has no next update"
openssl crl -in "$D/ca/crl.pem" -CAfile "$D/ca/ca.crt" -noout 2>&1 |
	grep -q 'verify OK' || fail "CRL signature after revoke"
if openssl verify -crl_check -CRLfile "$D/ca/crl.pem" -CAfile "$D/ca/ca.crt" \
	"$D/agents/m1/tls.crt" >/dev/null 2>&1; then
	fail "revoked m1 still verifies with the CRL"
fi
expect_rc 0 "revoke m1 twice" "$PKI" revoke -d "$D" m1
[ "$(grep -ci "$serial" "$D/ca/revoked.txt")" -eq 1 ] ||
	fail "serial listed twice"
expect_rc 1 "revoke unknown" "$PKI" revoke -d "$D" nobody
ok "revoke m1: serial in revoked.txt and crl.pem"

# An already-expired certificate.
expect_rc 0 "expired agent" "$PKI" agent -d "$D" --not-before-days-ago 10 \
	--days 1 old
if openssl x509 -in "$D/agents/old/tls.crt" -noout -checkend 0 >/dev/null; then
	fail "expired cert does not report expiry"
fi
openssl x509 -in "$D/agents/m1/tls.crt" -noout -checkend 86400 >/dev/null ||
	fail "normal cert expires within a day"
ok "expired certificate"

# A second CA: its agent does not chain to the first.
expect_rc 0 "init second" "$PKI" init -d "$T/other"
expect_rc 0 "agent in second" "$PKI" agent -d "$T/other" f1
if openssl verify -CAfile "$D/ca/ca.crt" "$T/other/agents/f1/tls.crt" \
	>/dev/null 2>&1; then
	fail "foreign cert verifies against our CA"
fi
ok "foreign CA cert does not chain"

# show, and the $ART17_PKI default.
expect_rc 0 "show" env ART17_PKI="$D" "$PKI" show
id=$(openssl pkey -pubin -in "$D/agents/m1/id.pub" -outform DER |
	tail -c 32 | sha256sum | cut -c1-16)
grep -q "$id" "$T/out" || fail "show lacks m1 key id $id"
grep -qi "$serial.*REVOKED" "$T/out" || fail "show does not mark m1 revoked"
grep -q 'EXPIRED' "$T/out" || fail "show does not mark expiry"
grep -q 'c1' "$T/out" || fail "show lacks coordinator c1"
expect_rc 1 "show missing dir" "$PKI" show -d "$T/nothing"
ok "show"

echo "all pki tests passed"
