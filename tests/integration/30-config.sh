#!/usr/bin/env bash
# Configuration files (art17-broker.conf(5), art17-agent.conf(5)): every
# error message, exactly, with its FILE:LINE and exit status 78; all the
# errors of a file reported, not just the first; -n; flags override the
# file. Then a broker and an agent started from files carry a request.
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"


BROKER=$BIN/broker/art17-broker
AGENT=$BIN/agent/art17-agent
C=$A17_TMP/conf
mkdir -p "$C"

# expect_err PROG-ARGS... -- FILE 'message': runs, wants exit 78 and the
# exact line "FILE:message" on stderr
check_broker() { # file expected-stderr-line
	local out rc
	out=$("$BROKER" -f "$1" -n 2>&1 >/dev/null)
	rc=$?
	[ $rc = 78 ] || fail "broker -n $1: exit $rc, want 78 (stderr: $out)"
	grep -qxF -- "$2" <<<"$out" || fail "broker $1: no line '$2' in: $out"
}
check_agent() {
	local out rc
	out=$("$AGENT" -f "$1" -n 2>&1 >/dev/null)
	rc=$?
	[ $rc = 78 ] || fail "agent -n $1: exit $rc, want 78 (stderr: $out)"
	grep -qxF -- "$2" <<<"$out" || fail "agent $1: no line '$2' in: $out"
}
conf() { # name, then the file's text on stdin
	cat >"$C/$1"
	echo "$C/$1"
}

# --- the messages of the shared parser, through the broker
f=$(conf nofile.conf </dev/null)
rm -f "$f"
check_broker "$f" "$f: cannot open: No such file or directory"
mkdir -p "$C/adir.conf"
check_broker "$C/adir.conf" "$C/adir.conf: read error: Is a directory"
f=$(printf 'top = 1\n' | conf outside.conf)
check_broker "$f" "$f:1: key \"top\" outside a section"
f=$(printf '[broker]\nthis is no setting\n' | conf syntax.conf)
check_broker "$f" "$f:2: syntax error: expected \"key = value\" or \"[section]\""
f=$(printf '[broker\ndata = /tmp\n' | conf bracket.conf)
check_broker "$f" "$f:1: syntax error: section name without a closing ']'"
f=$(printf '[broker]\n[nosuch]\na = b\n' | conf section.conf)
check_broker "$f" "$f:2: unknown section [nosuch]"
f=$(printf '[broker]\nfrobnicate = 1\n' | conf key.conf)
check_broker "$f" "$f:2: unknown key \"frobnicate\" in [broker]"
f=$(printf '[broker]\ndata = /a\n\ndata = /b\n' | conf dup.conf)
check_broker "$f" "$f:4: data: set again (first set on line 2)"
f=$(printf '[broker]\nnosync = maybe\n' | conf bool.conf)
check_broker "$f" "$f:2: nosync: \"maybe\" is not yes or no"
f=$(printf '[broker]\nkeepalive = 5\n' | conf int.conf)
check_broker "$f" "$f:2: keepalive: \"5\" is not a whole number in 100..600000"
f=$(printf '[broker]\nflag_quorum = two\n' | conf int2.conf)
check_broker "$f" "$f:2: flag_quorum: \"two\" is not a whole number in 1..2"
f=$( (printf '[broker]\ndata = '; head -c 300 /dev/zero | tr '\0' x; echo) |
	conf long.conf)
check_broker "$f" "$f:2: line too long (at most 198 characters)"
# lines inih reads otherwise than they look: each is reported (before, some
# were dropped in silence or reported at the wrong line)
f=$(printf '[broker]\ndata ;= /x\n' | conf inline.conf)
check_broker "$f" "$f:2: syntax error: a ';' after a space starts a comment, which hides the '='"
f=$(printf '[broker ;x]\n' | conf inline2.conf)
check_broker "$f" "$f:1: syntax error: a ';' after a space starts a comment, which hides the closing ']'"
f=$(printf '[broker]\ndata = /a\n  pki = /b\n' | conf indent.conf)
check_broker "$f" "$f:3: indented line: taken as the continuation of the value above (values are one line; remove the indentation)"
f=$(printf '[broker]\ndata = /a\0b\nkeepalive = 5\n' | conf nul.conf)
check_broker "$f" "$f:2: NUL byte in the line (not a text file?)"
check_broker "$f" "$f:3: keepalive: \"5\" is not a whole number in 100..600000"
f=$(printf '[ broker ]\n' | conf spaces.conf)
check_broker "$f" "$f:1: unknown section [ broker ]"
f=$(printf '\357\273\277[broker]\ndata = /a ; a comment\n' | conf bom.conf)
out=$("$BROKER" -f "$f" -n 2>&1) || fail "a byte-order mark and a comment refused: $out"
# --- the broker's own checks
f=$(printf '[broker]\ndata =\n' | conf empty.conf)
check_broker "$f" "$f:2: data: empty value"
f=$(printf '[broker]\npki =\n' | conf emptypki.conf)
check_broker "$f" "$f:2: pki: empty value"
f=$(printf '[broker]\nlisten =\n' | conf emptylisten.conf)
check_broker "$f" "$f:2: listen: empty value"
f=$(printf '[broker]\nlisten = udp://127.0.0.1:1\n' | conf scheme.conf)
check_broker "$f" "$f:2: listen: \"udp://127.0.0.1:1\" is not a tls+tcp:// URL"
f=$(printf '[broker]\nlisten = tcp://127.0.0.1:1\n' | conf plain.conf)
check_broker "$f" "$f:2: listen: plain tcp:// needs insecure = yes (loopback drills only)"
f=$(printf '[dashboard]\nlisten = http://10.1.2.3:8080\nauth_file = /nonexistent\n' |
	conf remote.conf)
check_broker "$f" "$f:2: listen: \"http://10.1.2.3:8080\" is not on loopback (the dashboard serves only on 127.0.0.0/8 or [::1]; put a TLS proxy in front for anything else)"
check_broker "$f" "$f:3: auth_file: /nonexistent: No such file or directory"
f=$(printf '[dashboard]\nlisten = https://127.0.0.1:8080\n' | conf https.conf)
check_broker "$f" "$f:2: listen: \"https://127.0.0.1:8080\" is not an http:// URL"
check_broker "$f" "$f:2: listen: the dashboard needs auth_file (it never serves without authentication)"
f=$(printf '[dashboard]\nlisten = http://127.0.0.1\nauth_file = %s/tok\n' "$C" |
	conf noport.conf)
check_broker "$f" "$f:2: listen: \"http://127.0.0.1\" has no port"
openssl rand -hex 24 >"$C/tok"
chmod 644 "$C/tok"
check_broker "$f" "$f:3: auth_file: $C/tok: group or others may access it (mode 644); chmod 600 it"
printf 'short\n' >"$C/short"
chmod 600 "$C/short"
f=$(printf '[dashboard]\nlisten = http://127.0.0.1:1\nauth_file = %s/short\n' "$C" |
	conf short.conf)
check_broker "$f" "$f:3: auth_file: $C/short: the token must be 16 to 256 characters (try: openssl rand -hex 32)"
printf 'has a space in it, 24 chars\n' >"$C/space"
chmod 600 "$C/space"
f=$(printf '[dashboard]\nlisten = http://127.0.0.1:1\nauth_file = %s/space\n' "$C" |
	conf space.conf)
check_broker "$f" "$f:3: auth_file: $C/space: the token must be printable ASCII without spaces"
printf '0123456789abcdef0\nsecond line\n' >"$C/two"
chmod 600 "$C/two"
f=$(printf '[dashboard]\nlisten = http://127.0.0.1:1\nauth_file = %s/two\n' "$C" |
	conf two.conf)
check_broker "$f" "$f:3: auth_file: $C/two: the token must be one line"
f=$(printf '[dashboard]\nlisten = http://127.0.0.1:1\nauth_file = %s\n' "$C" |
	conf dir.conf)
check_broker "$f" "$f:3: auth_file: $C: not a regular file"
# a FIFO is refused, not opened: opening it waited for a writer for ever
mkfifo "$C/fifo"
f=$(printf '[dashboard]\nlisten = http://127.0.0.1:1\nauth_file = %s/fifo\n' "$C" |
	conf fifo.conf)
out=$(timeout 10 "$BROKER" -f "$f" -n 2>&1 >/dev/null)
rc=$?
[ $rc = 78 ] || fail "broker -n with a FIFO token: exit $rc, want 78 ($out)"
grep -qxF "$f:3: auth_file: $C/fifo: not a regular file" <<<"$out" ||
	fail "FIFO token: $out"
# -n also checks the dashboard settings that come from flags
out=$("$BROKER" --dashboard http://0.0.0.0:1/ -n 2>&1 >/dev/null)
[ $? = 78 ] || fail "-n with a bad --dashboard: want 78"
grep -qxF 'art17-broker: dashboard: "http://0.0.0.0:1/" is not on loopback (the dashboard serves only on 127.0.0.0/8 or [::1]; put a TLS proxy in front for anything else)' <<<"$out" ||
	fail "--dashboard -n: $out"
grep -qxF "art17-broker: dashboard: an auth file is required (--dashboard-auth)" <<<"$out" ||
	fail "--dashboard without --dashboard-auth: $out"
out=$("$BROKER" --dashboard http://127.0.0.1:1/ --dashboard-auth "$C/tok" -n 2>&1 >/dev/null)
[ $? = 78 ] || fail "-n with a 0644 --dashboard-auth: want 78"
grep -qxF "art17-broker: dashboard auth file $C/tok: group or others may access it (mode 644); chmod 600 it" <<<"$out" ||
	fail "--dashboard-auth -n: $out"
echo "broker messages: ok"

# --- every error of a file is reported, with the count
f=$(conf many.conf <<'EOF'
[broker]
keepalive = 1
nosync = perhaps
bogus = 1
[elsewhere]
EOF
)
out=$("$BROKER" -f "$f" -n 2>&1)
[ $? = 78 ] || fail "many: exit status"
for l in "$f:2: keepalive" "$f:3: nosync" "$f:4: unknown key" "$f:5: unknown section" \
	"art17-broker: $f: 4 errors"; do
	grep -qF -- "$l" <<<"$out" || fail "many: '$l' not reported: $out"
done
# a bad file also stops a real start (not only -n), before anything opens
"$BROKER" -f "$f" -d "$A17_TMP/never" 2>/dev/null
[ $? = 78 ] || fail "a bad file did not stop the broker with 78"
[ ! -e "$A17_TMP/never" ] || fail "the broker created its data dir despite a bad file"
echo "all errors reported: ok"

# --- the agent's messages
f=$(printf '[agent]\nconnect = http://x\n' | conf a-url.conf)
check_agent "$f" "$f:2: connect: \"http://x\" is not a tls+tcp:// URL"
f=$(printf '[agent]\nconnect =\n' | conf a-empty.conf)
check_agent "$f" "$f:2: connect: empty value"
f=$(printf '[agent]\ndata =\n' | conf a-data.conf)
check_agent "$f" "$f:2: data: empty value"
f=$(printf '[agent]\nconnect = tcp://127.0.0.1:1\n' | conf a-plain.conf)
check_agent "$f" "$f:2: connect: plain tcp:// needs insecure = yes (loopback drills only)"
f=$(printf '[hooks]\narrival = notify-send hi\n' | conf a-rel.conf)
check_agent "$f" "$f:2: arrival: \"notify-send hi\" must start with an absolute path"
f=$(printf '[hooks]\noverdue = /nonexistent/hook --x\n' | conf a-noexec.conf)
check_agent "$f" "$f:2: overdue: /nonexistent/hook is not an executable file"
f=$(printf '[hooks]\nwithdrawal = %s/tok\n' "$C" | conf a-noexec2.conf)
check_agent "$f" "$f:2: withdrawal: $C/tok is not an executable file"
f=$(printf '[hooks]\ntimeout = 0\n' | conf a-timeout.conf)
check_agent "$f" "$f:2: timeout: \"0\" is not a whole number in 1..300"
f=$(printf '[agent]\nverbose = 9\n' | conf a-verbose.conf)
check_agent "$f" "$f:2: verbose: \"9\" is not a whole number in 0..3"
f=$(printf '[agent]\nkeys = /a\n[hooks]\n[agent]\nkeys = /b\n' | conf a-dup.conf)
check_agent "$f" "$f:5: keys: set again (first set on line 2)"
f=$(printf '[agent]\nsyslog = sometimes\n' | conf a-bool.conf)
check_agent "$f" "$f:2: syslog: \"sometimes\" is not yes or no"
out=$("$AGENT" -n 2>&1)
[ $? = 2 ] || fail "agent -n without -f: want exit 2"
grep -qF "art17-agent: -n needs -f CONFIG" <<<"$out" || fail "agent -n without -f: $out"
echo "agent messages: ok"

# --- good files: -n says OK with 0
pki_init m1
printf '%s\n' "$(openssl rand -hex 32)" >"$C/dash.token"
chmod 600 "$C/dash.token"
cat >"$C/hook.sh" <<'EOF'
#!/bin/sh
cat >/dev/null
EOF
chmod 755 "$C/hook.sh"
BPORT=$(free_port)
BROKER_PORT=$BPORT
f=$(conf broker.conf <<EOF
; art17-broker.conf for the test
[broker]
data = $A17_TMP/wrong-data
pki = $ART17_PKI
listen = tls+tcp://127.0.0.1:1
keepalive = 2000
nosync = yes
verbose = 1

[dashboard]
listen = http://127.0.0.1:$(free_port)
auth_file = $C/dash.token
EOF
)
out=$("$BROKER" -f "$f" -n)
[ $? = 0 ] || fail "good broker file: -n failed"
[ "$out" = "art17-broker: configuration OK" ] || fail "broker -n said: $out"
fa=$(conf agent.conf <<EOF
[agent]
data = $A17_TMP/agent-wrong
keys = $ART17_PKI/agents/m1
connect = tls+tcp://localhost:1
nosync = yes

[hooks]
arrival = $C/hook.sh
timeout = 5
EOF
)
out=$("$AGENT" -f "$fa" -n)
[ $? = 0 ] || fail "good agent file: -n failed"
[ "$out" = "art17-agent: configuration OK" ] || fail "agent -n said: $out"

# --- flags override the file: data directory and listen URL from flags
"$BROKER" -f "$f" -d "$ART17_DATA" -l "tls+tcp://127.0.0.1:$BPORT" \
	>>"$A17_TMP/broker.log" 2>&1 &
BROKER_PID=$!
A17_PIDS+=("$BROKER_PID")
wait_for 20 grep -q "ready:" "$A17_TMP/broker.log" || fail "broker from file did not start"
grep -q "agents: listening on tls+tcp://127.0.0.1:$BPORT" "$A17_TMP/broker.log" ||
	fail "-l did not override listen"
[ -S "$ART17_DATA/admin.sock" ] || fail "-d did not override data"
[ ! -e "$A17_TMP/wrong-data" ] || fail "the file's data dir was used"
grep -q "dashboard and metrics: listening" "$A17_TMP/broker.log" ||
	fail "the file's [dashboard] was not applied"
add_member m1
"$AGENT" -f "$fa" -d "$A17_TMP/agent-m1" run -c "tls+tcp://localhost:$BPORT" \
	>>"$A17_TMP/agent-m1.log" 2>&1 &
A17_PIDS+=($!)
wait_for 30 agent_connected m1 || fail "agent from file did not connect"
[ ! -e "$A17_TMP/agent-wrong" ] || fail "the agent used the file's data dir"
grep -q "hooks: arrival (timeout 5 s)" "$A17_TMP/agent-m1.log" ||
	fail "the agent's [hooks] were not applied"
INC=$(declare_incident "config incident")
ctl incident flag "$INC" --reason "large-scale test" --expires 1h >/dev/null || fail flag
rid=$(ctl request issue --kind cooperation --incident "$INC" --title t \
	--content "hello" --secret no | head -n 1)
ctl request status "$rid" --wait-acked 30 >/dev/null || fail "not acked"
echo "flags override the file: ok"
echo "config: ok"
