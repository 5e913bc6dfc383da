# CPack: a Debian package of the daemons, tools, units and man pages.
# Build it with `make package` (a Release tree with the prefix /usr).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME art17)
set(CPACK_PACKAGE_VENDOR "art17")
set(CPACK_PACKAGE_CONTACT "art17 maintainers <art17@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "Article 17(3) cooperation requests: broker, agent and tools")
set(CPACK_PACKAGE_DESCRIPTION
  "art17 lets a national cybersecurity council's secretariat issue Article\n 17(3) cooperation requests to member organisations and collect their\n signed receipts: the broker (art17-broker), the member-side agent\n (art17-agent), the coordinator's CLI (art17ctl) and the PKI tool\n (art17-pki), with systemd units.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, openssl")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${A17_DEB_CONTROL_EXTRA})
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
include(CPack)
