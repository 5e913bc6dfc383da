#!/usr/bin/env bash
# Every binary answers --help (usage on stdout, exit 0, with its exit
# statuses documented) and --version (name and version, exit 0), and an
# unknown option is a usage error (exit 2, usage on stderr).
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"

VERSION=$(sed -n 's/^project(art17 VERSION \([0-9.]*\).*/\1/p' \
	"$(dirname "$0")/../../CMakeLists.txt")
[ -n "$VERSION" ] || fail "no version in CMakeLists.txt"
for b in broker/art17-broker agent/art17-agent tools/art17ctl \
	tools/art17-pki tools/art17-bench; do
	name=${b##*/}
	out=$("$BIN/$b" --help 2>/dev/null)
	[ $? = 0 ] || fail "$name --help: exit status"
	grep -qi "usage" <<<"$out" || fail "$name --help: no usage on stdout"
	grep -qiE "exit (status|codes)" <<<"$out" || fail "$name --help: exit statuses not documented"
	out=$("$BIN/$b" --version 2>/dev/null)
	[ $? = 0 ] || fail "$name --version: exit status"
	grep -q "^$name $VERSION" <<<"$out" || fail "$name --version said: $out"
	"$BIN/$b" --no-such-option >/dev/null 2>"$A17_TMP/err"
	rc=$?
	[ $rc = 2 ] || fail "$name --no-such-option: exit $rc, want 2"
	grep -qiE "usage|help" "$A17_TMP/err" || fail "$name: no usage or help hint on stderr for a bad option"
	echo "$name: ok"
done
echo "cli: ok"
