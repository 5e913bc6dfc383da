# Finds the Debian packages art17 builds against and makes imported
# targets for them. tools/install-deps.sh installs them.
find_package(PkgConfig REQUIRED)
pkg_check_modules(PROTOBUFC REQUIRED IMPORTED_TARGET libprotobuf-c>=1.4)
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)
pkg_check_modules(OPENSSL REQUIRED IMPORTED_TARGET openssl>=3.0)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium>=1.0.18)
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
find_package(nng REQUIRED)
find_package(Threads REQUIRED)
find_program(PROTOC_C protoc-c REQUIRED)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
