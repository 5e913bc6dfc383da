/*
 * crypto.c: Ed25519, SHA-256, random bytes and key files. Key files,
 * key generation, hashing and randomness go through OpenSSL 3 EVP; the
 * Ed25519 sign and verify calls themselves go through libsodium, which
 * does the same RFC 8032 pure Ed25519 (the signatures are byte for byte
 * the same) about twice as fast as OpenSSL 3.0's EVP path on this
 * machine, where they are the broker's and the agents' hottest code
 * (docs/benchmarks.md). No primitive is implemented here.
 *
 * An a17_key is immutable after creation, so one key may be used from many
 * threads at once: neither library keeps per-call state in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

/* not <sodium.h>: its crypto_sign() would clash with ours */
#include <sodium/core.h>
#include <sodium/crypto_sign_ed25519.h>

#include "crypto.h"
#include "err.h"
#include "log.h"

struct a17_key {
	EVP_PKEY *pkey;
	uint8_t sk[crypto_sign_ed25519_SECRETKEYBYTES]; /* seed || pub */
	uint8_t pub[A17_PUBKEY_LEN];
	uint8_t id[A17_KEYID_LEN];
	int has_private;
};

/* Takes ownership of pkey (freed on failure too). */
static int
key_wrap(EVP_PKEY *pkey, int has_private, a17_key **kp)
{
	a17_key *k;
	uint8_t h[A17_SHA256_LEN];
	size_t len = A17_PUBKEY_LEN;
	int rv;

	if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		return (A17_EINVAL);
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		EVP_PKEY_free(pkey);
		return (A17_ENOMEM);
	}
	k->pkey = pkey;
	k->has_private = has_private;
	if (EVP_PKEY_get_raw_public_key(pkey, k->pub, &len) != 1 ||
	    len != A17_PUBKEY_LEN) {
		rv = a17_err_ossl();
		crypto_key_free(k);
		return (rv);
	}
	if ((rv = crypto_sha256(k->pub, sizeof(k->pub), h)) != 0) {
		crypto_key_free(k);
		return (rv);
	}
	memcpy(k->id, h, A17_KEYID_LEN);
	if (has_private) {
		/* libsodium's secret key is the 32-byte seed, then the public
		 * key */
		len = 32;
		if (EVP_PKEY_get_raw_private_key(pkey, k->sk, &len) != 1 ||
		    len != 32) {
			rv = a17_err_ossl();
			crypto_key_free(k);
			return (rv);
		}
		memcpy(k->sk + 32, k->pub, A17_PUBKEY_LEN);
	}
	if (sodium_init() < 0) {
		crypto_key_free(k);
		return (A17_ECRYPTO);
	}
	*kp = k;
	return (0);
}

int
crypto_key_generate(a17_key **kp)
{
	EVP_PKEY *pkey;

	if (kp == NULL)
		return (A17_EINVAL);
	if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
		return (a17_err_ossl());
	return (key_wrap(pkey, 1, kp));
}

/* Refuses to prompt for a passphrase: encrypted key files are not used. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return (-1);
}

int
crypto_key_load(const char *path, a17_key **kp)
{
	FILE *fp;
	EVP_PKEY *pkey;
	struct stat st;
	int priv = 1;

	if (path == NULL || kp == NULL)
		return (A17_EINVAL);
	if ((fp = fopen(path, "re")) == NULL)
		return (a17_err_errno(errno));
	if (fstat(fileno(fp), &st) == -1) {
		int err = errno;
		fclose(fp);
		return (a17_err_errno(err));
	}
	if (!S_ISREG(st.st_mode)) {
		fclose(fp);
		return (A17_EINVAL);
	}
	pkey = PEM_read_PrivateKey(fp, NULL, no_passphrase, NULL);
	if (pkey == NULL) {
		ERR_clear_error();
		priv = 0;
		rewind(fp);
		pkey = PEM_read_PUBKEY(fp, NULL, no_passphrase, NULL);
	}
	fclose(fp);
	if (pkey == NULL) {
		ERR_clear_error();
		log_debug("%s: no PEM private or public key", path);
		return (A17_EINVAL);
	}
	if (priv && (st.st_mode & 077) != 0) {
		EVP_PKEY_free(pkey);
		log_warnx("%s: private key readable by group or others", path);
		return (A17_EDENIED);
	}
	return (key_wrap(pkey, priv, kp));
}

int
crypto_key_from_raw(const uint8_t *pub, size_t len, a17_key **kp)
{
	EVP_PKEY *pkey;

	if (pub == NULL || kp == NULL || len != A17_PUBKEY_LEN)
		return (A17_EINVAL);
	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, len);
	if (pkey == NULL) {
		ERR_clear_error();
		return (A17_EINVAL);
	}
	return (key_wrap(pkey, 0, kp));
}

/*
 * Creates path exclusively with exactly `mode` (whatever the umask), writes
 * the PEM and syncs it. A partly written file is removed.
 */
static int
key_save(const a17_key *k, const char *path, int priv, mode_t mode)
{
	FILE *fp;
	int fd, ok, rv = 0;

	if (k == NULL || path == NULL)
		return (A17_EINVAL);
	if (priv && !k->has_private)
		return (A17_EINVAL);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd == -1)
		return (a17_err_errno(errno));
	if (fchmod(fd, mode) == -1) {
		rv = a17_err_errno(errno);
		close(fd);
		unlink(path);
		return (rv);
	}
	if ((fp = fdopen(fd, "w")) == NULL) {
		rv = a17_err_errno(errno);
		close(fd);
		unlink(path);
		return (rv);
	}
	if (priv)
		ok = PEM_write_PrivateKey(fp, k->pkey, NULL, NULL, 0, NULL,
		                          NULL);
	else
		ok = PEM_write_PUBKEY(fp, k->pkey);
	if (ok != 1)
		rv = a17_err_ossl();
	if (rv == 0 && fflush(fp) != 0)
		rv = a17_err_errno(errno);
	if (rv == 0 && fsync(fileno(fp)) == -1)
		rv = a17_err_errno(errno);
	if (fclose(fp) != 0 && rv == 0)
		rv = a17_err_errno(errno);
	if (rv != 0)
		unlink(path);
	return (rv);
}

int
crypto_key_save_private(const a17_key *k, const char *path)
{
	return (key_save(k, path, 1, 0600));
}

int
crypto_key_save_public(const a17_key *k, const char *path)
{
	return (key_save(k, path, 0, 0644));
}

int
crypto_key_raw_public(const a17_key *k, uint8_t out[A17_PUBKEY_LEN])
{
	if (k == NULL || out == NULL)
		return (A17_EINVAL);
	memcpy(out, k->pub, A17_PUBKEY_LEN);
	return (0);
}

const uint8_t *
crypto_key_id(const a17_key *k)
{
	return (k == NULL ? NULL : k->id);
}

int
crypto_key_has_private(const a17_key *k)
{
	return (k != NULL && k->has_private);
}

void
crypto_key_free(a17_key *k)
{
	if (k == NULL)
		return;
	/* EVP_PKEY_free cleanses the private key material itself. */
	EVP_PKEY_free(k->pkey);
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}

int
crypto_sign(const a17_key *k, const uint8_t *msg, size_t len,
            uint8_t sig[A17_SIG_LEN])
{
	if (k == NULL || sig == NULL || (msg == NULL && len != 0))
		return (A17_EINVAL);
	if (!k->has_private)
		return (A17_EINVAL);
	if (crypto_sign_ed25519_detached(sig, NULL, msg, len, k->sk) != 0)
		return (A17_ECRYPTO);
	return (0);
}

int
crypto_verify(const a17_key *k, const uint8_t *msg, size_t len,
              const uint8_t *sig, size_t siglen)
{
	if (k == NULL || (msg == NULL && len != 0))
		return (A17_EINVAL);
	if (sig == NULL || siglen != A17_SIG_LEN)
		return (A17_EBADSIG);
	if (crypto_sign_ed25519_verify_detached(sig, msg, len, k->pub) != 0)
		return (A17_EBADSIG);
	return (0);
}

int
crypto_sha256(const uint8_t *data, size_t len, uint8_t out[A17_SHA256_LEN])
{
	unsigned int olen = 0;

	if (out == NULL || (data == NULL && len != 0))
		return (A17_EINVAL);
	if (EVP_Digest(data, len, out, &olen, EVP_sha256(), NULL) != 1 ||
	    olen != A17_SHA256_LEN)
		return (a17_err_ossl());
	return (0);
}

int
crypto_random(uint8_t *buf, size_t len)
{
	size_t n;

	if (buf == NULL && len != 0)
		return (A17_EINVAL);
	while (len > 0) {
		n = len > INT_MAX ? INT_MAX : len;
		if (RAND_bytes(buf, (int)n) != 1)
			return (a17_err_ossl());
		buf += n;
		len -= n;
	}
	return (0);
}

int
crypto_memeq(const void *a, const void *b, size_t len)
{
	return (CRYPTO_memcmp(a, b, len) != 0);
}

char *
crypto_hex(const uint8_t *in, size_t len, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 0xf];
	}
	out[2 * len] = '\0';
	return (out);
}
