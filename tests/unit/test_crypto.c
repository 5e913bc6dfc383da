/* test_crypto.c: Ed25519 keys, signatures, key files, SHA-256. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "crypto.h"
#include "err.h"

static char tmpdir[] = "/tmp/a17-crypto-XXXXXX";

static void
tpath(char *out, const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", tmpdir, name);
}

static int
group_setup(void **state)
{
	(void)state;
	return (mkdtemp(tmpdir) == NULL ? -1 : 0);
}

static int
group_teardown(void **state)
{
	DIR *d;
	struct dirent *e;
	char p[PATH_MAX];

	(void)state;
	if ((d = opendir(tmpdir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			tpath(p, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(tmpdir);
	return (0);
}

static void
test_generate(void **state)
{
	a17_key *k = NULL;
	uint8_t pub[A17_PUBKEY_LEN], h[A17_SHA256_LEN];

	(void)state;
	assert_int_equal(crypto_key_generate(&k), 0);
	assert_non_null(k);
	assert_int_equal(crypto_key_has_private(k), 1);
	assert_int_equal(crypto_key_raw_public(k, pub), 0);
	assert_int_equal(crypto_sha256(pub, sizeof(pub), h), 0);
	assert_memory_equal(crypto_key_id(k), h, A17_KEYID_LEN);
	crypto_key_free(k);
	crypto_key_free(NULL);

	assert_int_equal(crypto_key_generate(NULL), A17_EINVAL);
	assert_int_equal(crypto_key_has_private(NULL), 0);
	assert_null(crypto_key_id(NULL));
}

static void
test_sign_verify(void **state)
{
	a17_key *k = NULL, *other = NULL, *pubonly = NULL;
	uint8_t msg[] = "a cooperation request";
	uint8_t sig[A17_SIG_LEN], sig2[A17_SIG_LEN], pub[A17_PUBKEY_LEN];

	(void)state;
	assert_int_equal(crypto_key_generate(&k), 0);
	assert_int_equal(crypto_key_generate(&other), 0);
	assert_int_equal(crypto_sign(k, msg, sizeof(msg), sig), 0);
	assert_int_equal(crypto_verify(k, msg, sizeof(msg), sig, sizeof(sig)),
	                 0);
	/* Ed25519 is deterministic. */
	assert_int_equal(crypto_sign(k, msg, sizeof(msg), sig2), 0);
	assert_memory_equal(sig, sig2, sizeof(sig));

	/* Wrong key. */
	assert_int_equal(
	    crypto_verify(other, msg, sizeof(msg), sig, sizeof(sig)),
	    A17_EBADSIG);
	/* Tampered message. */
	msg[0] ^= 1;
	assert_int_equal(crypto_verify(k, msg, sizeof(msg), sig, sizeof(sig)),
	                 A17_EBADSIG);
	msg[0] ^= 1;
	/* Tampered signature, wrong lengths, no signature. */
	sig[10] ^= 0x80;
	assert_int_equal(crypto_verify(k, msg, sizeof(msg), sig, sizeof(sig)),
	                 A17_EBADSIG);
	sig[10] ^= 0x80;
	assert_int_equal(crypto_verify(k, msg, sizeof(msg), sig, 63),
	                 A17_EBADSIG);
	assert_int_equal(crypto_verify(k, msg, sizeof(msg), sig, 0),
	                 A17_EBADSIG);
	assert_int_equal(crypto_verify(k, msg, sizeof(msg), NULL, 64),
	                 A17_EBADSIG);
	/* Truncated message. */
	assert_int_equal(
	    crypto_verify(k, msg, sizeof(msg) - 1, sig, sizeof(sig)),
	    A17_EBADSIG);

	/* Empty message signs and verifies. */
	assert_int_equal(crypto_sign(k, NULL, 0, sig2), 0);
	assert_int_equal(crypto_verify(k, NULL, 0, sig2, sizeof(sig2)), 0);

	/* A public-only key verifies but cannot sign. */
	assert_int_equal(crypto_key_raw_public(k, pub), 0);
	assert_int_equal(crypto_key_from_raw(pub, sizeof(pub), &pubonly), 0);
	assert_int_equal(crypto_key_has_private(pubonly), 0);
	assert_int_equal(
	    crypto_verify(pubonly, msg, sizeof(msg), sig, sizeof(sig)), 0);
	assert_int_equal(crypto_sign(pubonly, msg, sizeof(msg), sig2),
	                 A17_EINVAL);

	/* Invalid arguments. */
	assert_int_equal(crypto_sign(NULL, msg, sizeof(msg), sig2), A17_EINVAL);
	assert_int_equal(crypto_sign(k, NULL, 5, sig2), A17_EINVAL);
	assert_int_equal(crypto_verify(NULL, msg, sizeof(msg), sig, 64),
	                 A17_EINVAL);

	crypto_key_free(pubonly);
	crypto_key_free(other);
	crypto_key_free(k);
}

static void
test_from_raw(void **state)
{
	a17_key *k = NULL, *p = NULL;
	uint8_t pub[A17_PUBKEY_LEN], pub2[A17_PUBKEY_LEN];

	(void)state;
	assert_int_equal(crypto_key_generate(&k), 0);
	assert_int_equal(crypto_key_raw_public(k, pub), 0);
	assert_int_equal(crypto_key_from_raw(pub, sizeof(pub), &p), 0);
	assert_int_equal(crypto_key_raw_public(p, pub2), 0);
	assert_memory_equal(pub, pub2, sizeof(pub));
	/* The key id is stable across representations. */
	assert_memory_equal(crypto_key_id(k), crypto_key_id(p), A17_KEYID_LEN);
	crypto_key_free(p);
	p = NULL;

	assert_int_equal(crypto_key_from_raw(pub, 31, &p), A17_EINVAL);
	assert_int_equal(crypto_key_from_raw(pub, 33, &p), A17_EINVAL);
	assert_int_equal(crypto_key_from_raw(NULL, 32, &p), A17_EINVAL);
	assert_null(p);
	crypto_key_free(k);
}

static mode_t
file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (st.st_mode & 07777);
}

static void
test_save_load(void **state)
{
	a17_key *k = NULL, *kpriv = NULL, *kpub = NULL;
	char ppriv[PATH_MAX], ppub[PATH_MAX];
	uint8_t msg[] = "feedback", sig[A17_SIG_LEN];
	uint8_t a[A17_PUBKEY_LEN], b[A17_PUBKEY_LEN];
	mode_t old;

	(void)state;
	tpath(ppriv, "rt.key");
	tpath(ppub, "rt.pub");
	assert_int_equal(crypto_key_generate(&k), 0);
	/* The modes are exact whatever the umask. */
	old = umask(077);
	assert_int_equal(crypto_key_save_private(k, ppriv), 0);
	assert_int_equal(crypto_key_save_public(k, ppub), 0);
	umask(old);
	assert_int_equal(file_mode(ppriv), 0600);
	assert_int_equal(file_mode(ppub), 0644);

	assert_int_equal(crypto_key_load(ppriv, &kpriv), 0);
	assert_int_equal(crypto_key_has_private(kpriv), 1);
	assert_int_equal(crypto_key_load(ppub, &kpub), 0);
	assert_int_equal(crypto_key_has_private(kpub), 0);

	assert_int_equal(crypto_key_raw_public(k, a), 0);
	assert_int_equal(crypto_key_raw_public(kpriv, b), 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(crypto_key_raw_public(kpub, b), 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_memory_equal(crypto_key_id(k), crypto_key_id(kpub),
	                    A17_KEYID_LEN);

	/* The loaded private key signs; the loaded public key verifies. */
	assert_int_equal(crypto_sign(kpriv, msg, sizeof(msg), sig), 0);
	assert_int_equal(
	    crypto_verify(kpub, msg, sizeof(msg), sig, sizeof(sig)), 0);
	assert_int_equal(crypto_verify(k, msg, sizeof(msg), sig, sizeof(sig)),
	                 0);

	/* A public-only key has no private part to save. */
	tpath(ppriv, "nopriv.key");
	assert_int_equal(crypto_key_save_private(kpub, ppriv), A17_EINVAL);
	assert_int_equal(access(ppriv, F_OK), -1);

	crypto_key_free(kpub);
	crypto_key_free(kpriv);
	crypto_key_free(k);
}

static void
test_refuse_overwrite(void **state)
{
	a17_key *k = NULL, *k2 = NULL, *l = NULL;
	char p[PATH_MAX], q[PATH_MAX];

	(void)state;
	tpath(p, "ow.key");
	tpath(q, "ow.pub");
	assert_int_equal(crypto_key_generate(&k), 0);
	assert_int_equal(crypto_key_generate(&k2), 0);
	assert_int_equal(crypto_key_save_private(k, p), 0);
	assert_int_equal(crypto_key_save_private(k2, p), A17_EEXIST);
	assert_int_equal(crypto_key_save_public(k, q), 0);
	assert_int_equal(crypto_key_save_public(k2, q), A17_EEXIST);
	assert_int_equal(crypto_key_save_public(k2, p), A17_EEXIST);
	/* The original is untouched. */
	assert_int_equal(crypto_key_load(p, &l), 0);
	assert_memory_equal(crypto_key_id(l), crypto_key_id(k), A17_KEYID_LEN);
	crypto_key_free(l);
	/* A missing directory is an error, not a crash. */
	assert_int_equal(crypto_key_save_private(k, "/nonexistent/dir/k"),
	                 A17_ENOTFOUND);
	assert_int_equal(crypto_key_save_private(NULL, p), A17_EINVAL);
	assert_int_equal(crypto_key_save_public(k, NULL), A17_EINVAL);
	crypto_key_free(k2);
	crypto_key_free(k);
}

static void
test_refuse_open_private(void **state)
{
	a17_key *k = NULL, *l = NULL;
	char p[PATH_MAX], q[PATH_MAX];

	(void)state;
	tpath(p, "open.key");
	tpath(q, "open.pub");
	assert_int_equal(crypto_key_generate(&k), 0);
	assert_int_equal(crypto_key_save_private(k, p), 0);
	assert_int_equal(crypto_key_save_public(k, q), 0);
	assert_int_equal(chmod(p, 0644), 0);
	assert_int_equal(crypto_key_load(p, &l), A17_EDENIED);
	assert_null(l);
	assert_int_equal(chmod(p, 0640), 0);
	assert_int_equal(crypto_key_load(p, &l), A17_EDENIED);
	assert_int_equal(chmod(p, 0604), 0);
	assert_int_equal(crypto_key_load(p, &l), A17_EDENIED);
	assert_int_equal(chmod(p, 0400), 0);
	assert_int_equal(crypto_key_load(p, &l), 0);
	crypto_key_free(l);
	l = NULL;
	/* A world-readable public key is fine. */
	assert_int_equal(crypto_key_load(q, &l), 0);
	crypto_key_free(l);
	crypto_key_free(k);
}

static void
write_file(const char *path, mode_t mode, const char *text)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	if (text != NULL)
		assert_int_equal(write(fd, text, strlen(text)),
		                 (ssize_t)strlen(text));
	close(fd);
}

static void
test_load_refuses_other_keys(void **state)
{
	EVP_PKEY *ec;
	FILE *fp;
	a17_key *l = NULL;
	char p[PATH_MAX], q[PATH_MAX];

	(void)state;
	tpath(p, "ec.key");
	tpath(q, "ec.pub");
	ec = EVP_EC_gen("P-256");
	assert_non_null(ec);
	write_file(p, 0600, NULL);
	assert_non_null(fp = fopen(p, "w"));
	assert_int_equal(
	    PEM_write_PrivateKey(fp, ec, NULL, NULL, 0, NULL, NULL), 1);
	fclose(fp);
	write_file(q, 0644, NULL);
	assert_non_null(fp = fopen(q, "w"));
	assert_int_equal(PEM_write_PUBKEY(fp, ec), 1);
	fclose(fp);
	EVP_PKEY_free(ec);

	assert_int_equal(crypto_key_load(p, &l), A17_EINVAL);
	assert_int_equal(crypto_key_load(q, &l), A17_EINVAL);
	assert_null(l);

	/* Garbage, empty files, directories and missing files. */
	tpath(p, "garbage.pem");
	write_file(p, 0600,
	           "-----BEGIN PRIVATE KEY-----\nnot base64 !!\n"
	           "-----END PRIVATE KEY-----\n");
	assert_int_equal(crypto_key_load(p, &l), A17_EINVAL);
	tpath(p, "empty.pem");
	write_file(p, 0600, NULL);
	assert_int_equal(crypto_key_load(p, &l), A17_EINVAL);
	assert_int_equal(crypto_key_load(tmpdir, &l), A17_EINVAL);
	tpath(p, "missing.pem");
	assert_int_equal(crypto_key_load(p, &l), A17_ENOTFOUND);
	assert_int_equal(crypto_key_load(NULL, &l), A17_EINVAL);
	assert_null(l);
}

static void
test_sha256(void **state)
{
	static const uint8_t abc[] = {
	    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
	    0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
	    0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	uint8_t h[A17_SHA256_LEN];
	char hex[2 * A17_SHA256_LEN + 1];

	(void)state;
	assert_int_equal(crypto_sha256((const uint8_t *)"abc", 3, h), 0);
	assert_memory_equal(h, abc, sizeof(abc));
	assert_string_equal(
	    crypto_hex(h, sizeof(h), hex),
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(crypto_sha256(NULL, 0, h), 0);
	assert_string_equal(
	    crypto_hex(h, sizeof(h), hex),
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(crypto_sha256(NULL, 1, h), A17_EINVAL);
}

static void
test_random_memeq_hex(void **state)
{
	uint8_t a[32], b[32];
	char hex[8];

	(void)state;
	assert_int_equal(crypto_random(a, sizeof(a)), 0);
	assert_int_equal(crypto_random(b, sizeof(b)), 0);
	assert_int_not_equal(crypto_memeq(a, b, sizeof(a)), 0);
	memcpy(b, a, sizeof(a));
	assert_int_equal(crypto_memeq(a, b, sizeof(a)), 0);
	assert_int_equal(crypto_random(a, 0), 0);
	assert_int_equal(crypto_random(NULL, 1), A17_EINVAL);
	assert_string_equal(crypto_hex((const uint8_t *)"\x00\xff\x10", 3, hex),
	                    "00ff10");
	assert_string_equal(crypto_hex(a, 0, hex), "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generate),
	    cmocka_unit_test(test_sign_verify),
	    cmocka_unit_test(test_from_raw),
	    cmocka_unit_test(test_save_load),
	    cmocka_unit_test(test_refuse_overwrite),
	    cmocka_unit_test(test_refuse_open_private),
	    cmocka_unit_test(test_load_refuses_other_keys),
	    cmocka_unit_test(test_sha256),
	    cmocka_unit_test(test_random_memeq_hex),
	};

	return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}
