#!/usr/bin/env bash
# Disk full: the broker's data directory on a small tmpfs this test mounts
# itself, filled up. Requests issued while it is full get a clear error,
# the broker keeps running and serving, nothing stored before is damaged,
# and once space returns it carries on. (LMDB map growth on MDB_MAP_FULL
# is covered by test_store's writer tests.)
# Needs root (mount); skips (77) otherwise.
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"

SMALL=$A17_TMP/small
mkdir -p "$SMALL"
if ! mount -t tmpfs -o size=24m tmpfs "$SMALL" 2>/dev/null; then
	echo "skipped: cannot mount a tmpfs (needs root)"
	exit 77
fi
umount_small() { umount -l "$SMALL" 2>/dev/null || true; }
trap 'a17_cleanup; umount_small; rm -rf "$A17_TMP"' EXIT
export ART17_DATA=$SMALL/broker

pki_init m1
start_broker --keepalive 2000
add_member m1
INC=$(declare_incident "disk full test")
start_agent m1
wait_for 30 agent_connected m1 || fail "m1 did not connect"
issue() { # title size-KiB
	head -c $(($2 * 1024)) /dev/urandom | base64 -w0 >"$A17_TMP/content"
	ctl request issue --kind share --incident "$INC" --title "$1" \
		--content "$(cat "$A17_TMP/content")" --secret no --to m1
}
r1=$(issue before 16 | head -n 1)
ctl request status "$r1" --wait-acked 30 >/dev/null || fail "r1 not acked"

# fill the file system
dd if=/dev/zero of="$SMALL/filler" bs=64k 2>/dev/null
sync
refused=0
for i in $(seq 1 40); do
	if out=$(issue "full $i" 64 2>&1); then
		continue
	fi
	refused=1
	break
done
[ "$refused" = 1 ] || fail "40 requests of 64 KiB accepted on a full disk"
echo "while full: $out"
echo "$out" | grep -qi "space\|full\|ENOSPC\|store" ||
	fail "the error does not say the disk is full: $out"
kill -0 "$BROKER_PID" || fail "broker died when the disk filled"
ctl request status "$r1" >/dev/null || fail "r1 unreadable while full"
ctl audit verify >/dev/null || fail "audit verify while full"

# space returns: it carries on, nothing was damaged
rm -f "$SMALL/filler"
r2=$(issue after 16 | head -n 1)
[ -n "$r2" ] || fail "no request after space returned"
ctl request status "$r2" --wait-acked 30 >/dev/null || fail "r2 not acked"
stop_broker
start_broker --keepalive 2000
for r in "$r1" "$r2"; do
	ctl request status "$r" --wait-acked 30 >/dev/null || fail "$r lost after restart"
done
ctl audit verify >/dev/null || fail "audit verify after recovery"
[ "$(inbox_count m1 "$r1")" = 1 ] && [ "$(inbox_count m1 "$r2")" = 1 ] ||
	fail "m1 inbox not exactly once"
echo "disk full: ok (refused with a clear error, recovered, nothing damaged)"
