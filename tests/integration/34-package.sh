#!/usr/bin/env bash
# Installation and packaging: `cmake --install` honours DESTDIR and the
# prefix; it installs the binaries, a man page for each binary and each
# config file (groff finds no problem in them), the example config files
# (which pass -n), the sysusers file and the hardened systemd units,
# which `systemd-analyze verify` accepts (systemd cannot run here) and
# whose offline security exposure stays low. CPack builds a .deb holding
# all of that, with its conffiles and maintainer scripts, and the broker
# unpacked from it checks its own packaged configuration.
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"

PREFIX=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BIN/CMakeCache.txt")
[ -n "$PREFIX" ] || fail "no install prefix in the cache"
case $PREFIX in /usr) ETC=/etc ;; *) ETC=$PREFIX/etc ;; esac
D=$A17_TMP/destdir
DESTDIR=$D cmake --install "$BIN" >"$A17_TMP/install.log" 2>&1 || fail "install"
R=$D$PREFIX
for f in sbin/art17-broker sbin/art17-agent bin/art17ctl bin/art17-pki \
	bin/art17-bench share/man/man8/art17-broker.8 share/man/man8/art17-agent.8 \
	share/man/man1/art17ctl.1 share/man/man1/art17-pki.1 share/man/man1/art17-bench.1 \
	share/man/man5/art17-broker.conf.5 share/man/man5/art17-agent.conf.5 \
	lib/systemd/system/art17-broker.service lib/systemd/system/art17-agent.service \
	lib/sysusers.d/art17.conf share/doc/art17/operations.md; do
	[ -f "$R/$f" ] || fail "not installed under DESTDIR: $PREFIX/$f"
done
for f in broker.conf agent.conf; do
	[ -f "$D$ETC/art17/$f" ] || fail "not installed: $ETC/art17/$f"
done
# nothing escaped DESTDIR
grep -v "^-- Installing: $D\|^-- Up-to-date: $D\|^-- Install configuration" \
	"$A17_TMP/install.log" | grep -q . && fail "installed outside DESTDIR: $(cat "$A17_TMP/install.log")"
# another prefix at install time
DESTDIR=$A17_TMP/d2 cmake --install "$BIN" --prefix /opt/art17 >/dev/null 2>&1 ||
	fail "install --prefix"
[ -x "$A17_TMP/d2/opt/art17/sbin/art17-broker" ] || fail "--prefix /opt/art17 not honoured"
echo "install: ok"

# --- man pages: groff warns about nothing
for m in "$R"/share/man/man*/*; do
	w=$(LC_ALL=C.UTF-8 groff -man -ww -z "$m" 2>&1)
	[ -z "$w" ] || fail "groff on ${m##*/}: $w"
done
MANPATH=$R/share/man man -w art17-broker.conf >/dev/null 2>&1 ||
	fail "man cannot find art17-broker.conf(5)"
echo "man pages: ok"

# --- the example configuration files pass -n as installed
out=$("$R/sbin/art17-broker" -f "$D$ETC/art17/broker.conf" -n 2>&1) ||
	fail "installed broker.conf: $out"
# the agent's example names a member placeholder; fill it, then check
sed "s#keys = .*#keys = $A17_TMP/keys/m1#" "$D$ETC/art17/agent.conf" >"$A17_TMP/agent.conf"
out=$("$R/sbin/art17-agent" -f "$A17_TMP/agent.conf" -n 2>&1) || fail "agent.conf: $out"
echo "example configs: ok"

# --- systemd units: verify (paths as in the staging tree) and hardening
for u in art17-broker art17-agent; do
	f=$R/lib/systemd/system/$u.service
	for d in "NoNewPrivileges=yes" "ProtectSystem=strict" "PrivateTmp=yes" \
		"ReadWritePaths=/var/lib/$u" "User=$u" "RestartPreventExitStatus=78"; do
		[ $u = art17-broker ] && [ "$d" = "User=$u" ] && d="User=art17"
		[ $u = art17-broker ] && [ "$d" = "ReadWritePaths=/var/lib/$u" ] &&
			d="ReadWritePaths=/var/lib/art17"
		grep -qx "$d" "$f" || fail "$u.service lacks $d"
	done
	grep -q "^ExecStart=$PREFIX/sbin/$u -f $ETC/art17/" "$f" ||
		fail "$u.service: ExecStart does not use the prefix: $(grep ExecStart= "$f")"
	sed "s#$PREFIX/sbin/#$R/sbin/#g" "$f" >"$A17_TMP/$u.service"
	if command -v systemd-analyze >/dev/null; then
		out=$(MANPATH=$R/share/man systemd-analyze verify "$A17_TMP/$u.service" 2>&1) ||
			fail "systemd-analyze verify $u.service: $out"
		[ -z "$out" ] || fail "systemd-analyze verify $u.service said: $out"
		exp=$(systemd-analyze security --offline=true "$A17_TMP/$u.service" 2>/dev/null |
			sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
		[ -n "$exp" ] || fail "no exposure level for $u"
		awk -v e="$exp" 'BEGIN { exit !(e <= 2.0) }' || fail "$u exposure $exp > 2.0"
		echo "$u.service: verified, exposure $exp"
	else
		echo "systemd-analyze not installed: units checked by grep only"
	fi
done

# --- the .deb
if ! command -v cpack >/dev/null || ! command -v dpkg-deb >/dev/null; then
	fail "cpack or dpkg-deb missing (tools/install-deps.sh installs dpkg-dev)"
fi
(cd "$BIN" && cpack -G DEB -B "$A17_TMP/pkg" >"$A17_TMP/cpack.log" 2>&1) ||
	fail "cpack: $(tail -n 20 "$A17_TMP/cpack.log")"
deb=$(ls "$A17_TMP"/pkg/art17_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "no .deb made"
info=$(dpkg-deb -I "$deb")
grep -q "^ Package: art17$" <<<"$info" || fail "package name: $info"
grep -q "^ Depends:.*libnng" <<<"$info" || fail "no shared-library dependencies: $info"
grep -q "^ Depends:.*adduser" <<<"$info" || fail "no adduser dependency"
for c in postinst prerm postrm conffiles; do
	dpkg-deb -I "$deb" "$c" >/dev/null 2>&1 || fail "no $c in the .deb"
done
dpkg-deb -I "$deb" postinst | grep -q "adduser --system" || fail "postinst makes no user"
dpkg-deb -I "$deb" conffiles | grep -qx "$ETC/art17/broker.conf" || fail "conffiles"
dpkg-deb -c "$deb" >"$A17_TMP/contents"
for f in sbin/art17-broker lib/systemd/system/art17-broker.service \
	share/man/man5/art17-broker.conf.5 share/man/man8/art17-agent.8; do
	grep -q " \./${PREFIX#/}/$f$" "$A17_TMP/contents" || fail "$f not in the .deb"
done
X=$A17_TMP/x
dpkg-deb -x "$deb" "$X"
out=$("$X$PREFIX/sbin/art17-broker" -f "$X$ETC/art17/broker.conf" -n 2>&1) ||
	fail "packaged broker with its packaged config: $out"
echo "deb: ok ($(basename "$deb"), $(stat -c %s "$deb") bytes)"
echo "package: ok"
