/*
 * seal.c: sealed content for secret items, through OpenSSL 3 EVP only:
 * X25519 (EVP_PKEY), HKDF-SHA256 (EVP_KDF "HKDF") and AES-256-GCM
 * (EVP_CIPHER). No primitive is implemented here. See seal.h for the
 * construction.
 *
 * A seal_key is immutable after creation, so one key may be used from many
 * threads at once: every operation makes its own EVP contexts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include "crypto.h"
#include "err.h"
#include "log.h"
#include "seal.h"

#define SEAL_INFO     "art17 seal v1"
#define SEAL_INFO_LEN (sizeof(SEAL_INFO) - 1)

struct seal_key {
	EVP_PKEY *pkey;
	uint8_t pub[SEAL_PUB_LEN];
	int has_private;
};

/* ---- keys ---------------------------------------------------------- */

/* Takes ownership of pkey (freed on failure too). */
static int
key_wrap(EVP_PKEY *pkey, int has_private, seal_key **kp)
{
	seal_key *k;
	size_t len = SEAL_PUB_LEN;
	int rv;

	if (EVP_PKEY_get_id(pkey) != EVP_PKEY_X25519) {
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
	    len != SEAL_PUB_LEN) {
		rv = a17_err_ossl();
		seal_key_free(k);
		return (rv);
	}
	*kp = k;
	return (0);
}

int
seal_key_generate(seal_key **kp)
{
	EVP_PKEY *pkey;

	if (kp == NULL)
		return (A17_EINVAL);
	if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "X25519")) == NULL)
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
seal_key_load(const char *path, seal_key **kp)
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
seal_key_from_raw(const uint8_t *pub, size_t len, seal_key **kp)
{
	EVP_PKEY *pkey;

	if (pub == NULL || kp == NULL || len != SEAL_PUB_LEN)
		return (A17_EINVAL);
	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, len);
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
key_save(const seal_key *k, const char *path, int priv, mode_t mode)
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
seal_key_save_private(const seal_key *k, const char *path)
{
	return (key_save(k, path, 1, 0600));
}

int
seal_key_save_public(const seal_key *k, const char *path)
{
	return (key_save(k, path, 0, 0644));
}

int
seal_key_raw_public(const seal_key *k, uint8_t out[SEAL_PUB_LEN])
{
	if (k == NULL || out == NULL)
		return (A17_EINVAL);
	memcpy(out, k->pub, SEAL_PUB_LEN);
	return (0);
}

int
seal_key_has_private(const seal_key *k)
{
	return (k != NULL && k->has_private);
}

void
seal_key_free(seal_key *k)
{
	if (k == NULL)
		return;
	/* EVP_PKEY_free cleanses the private key material itself. */
	EVP_PKEY_free(k->pkey);
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}

/* ---- primitives, through EVP --------------------------------------- */

/*
 * X25519(priv, peer_pub) into out. A peer point X25519 refuses (for
 * example one of small order, giving an all-zero secret) is A17_EINVAL;
 * other OpenSSL failures are A17_ECRYPTO.
 */
static int
x25519(EVP_PKEY *priv, const uint8_t peer_pub[SEAL_PUB_LEN],
       uint8_t out[SEAL_PUB_LEN])
{
	EVP_PKEY *peer;
	EVP_PKEY_CTX *ctx = NULL;
	size_t olen = SEAL_PUB_LEN;
	int rv = 0;

	peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer_pub,
	                                   SEAL_PUB_LEN);
	if (peer == NULL) {
		ERR_clear_error();
		return (A17_EINVAL);
	}
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL)) == NULL) {
		rv = a17_err_ossl();
		goto out;
	}
	if (EVP_PKEY_derive_init(ctx) != 1) {
		rv = a17_err_ossl();
		goto out;
	}
	if (EVP_PKEY_derive_set_peer(ctx, peer) != 1 ||
	    EVP_PKEY_derive(ctx, out, &olen) != 1 || olen != SEAL_PUB_LEN) {
		ERR_clear_error();
		OPENSSL_cleanse(out, SEAL_PUB_LEN);
		rv = A17_EINVAL;
	}
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	return (rv);
}

/*
 * The wrapping key: HKDF-SHA256(ikm = shared, salt = eph_pub || rcpt_pub,
 * info = "art17 seal v1" || staff_id), SEAL_CEK_LEN bytes.
 */
static int
wrap_key(const uint8_t shared[SEAL_PUB_LEN],
         const uint8_t eph_pub[SEAL_PUB_LEN],
         const uint8_t rcpt_pub[SEAL_PUB_LEN], const char *staff_id,
         size_t idlen, uint8_t out[SEAL_CEK_LEN])
{
	uint8_t salt[2 * SEAL_PUB_LEN];
	uint8_t info[SEAL_INFO_LEN + SEAL_MAX_STAFF_ID];
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[5];
	int rv = 0;

	if (idlen > SEAL_MAX_STAFF_ID)
		return (A17_EINVAL);
	memcpy(salt, eph_pub, SEAL_PUB_LEN);
	memcpy(salt + SEAL_PUB_LEN, rcpt_pub, SEAL_PUB_LEN);
	memcpy(info, SEAL_INFO, SEAL_INFO_LEN);
	memcpy(info + SEAL_INFO_LEN, staff_id, idlen);

	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL)
		return (a17_err_ossl());
	kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (kctx == NULL)
		return (a17_err_ossl());
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	                                             (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(
	    OSSL_KDF_PARAM_KEY, (void *)shared, SEAL_PUB_LEN);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt,
	                                              sizeof(salt));
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info,
	                                              SEAL_INFO_LEN + idlen);
	params[4] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, SEAL_CEK_LEN, params) != 1) {
		OPENSSL_cleanse(out, SEAL_CEK_LEN);
		rv = a17_err_ossl();
	}
	EVP_KDF_CTX_free(kctx);
	return (rv);
}

/*
 * AES-256-GCM encryption of pt[len] into ct[len] (ct may be NULL when len
 * is 0), with a 12-byte IV and a 16-byte tag.
 */
static int
gcm_seal(const uint8_t key[SEAL_CEK_LEN], const uint8_t iv[SEAL_IV_LEN],
         const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t len,
         uint8_t *ct, uint8_t tag[SEAL_TAG_LEN])
{
	EVP_CIPHER_CTX *ctx;
	int outl, rv = 0;
	uint8_t fin[16];

	if (len > SEAL_MAX_CONTENT || aadlen > SEAL_MAX_AAD)
		return (A17_ETOOBIG);
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return (A17_ENOMEM);
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_IV_LEN,
	                        NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, iv) != 1)
		goto fail;
	if (aadlen > 0 &&
	    EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)aadlen) != 1)
		goto fail;
	if (len > 0) {
		if (EVP_EncryptUpdate(ctx, ct, &outl, pt, (int)len) != 1 ||
		    (size_t)outl != len)
			goto fail;
	}
	if (EVP_EncryptFinal_ex(ctx, fin, &outl) != 1 || outl != 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, tag) !=
	        1)
		goto fail;
	EVP_CIPHER_CTX_free(ctx);
	return (0);
fail:
	rv = a17_err_ossl();
	if (len > 0)
		OPENSSL_cleanse(ct, len);
	EVP_CIPHER_CTX_free(ctx);
	return (rv);
}

/*
 * AES-256-GCM decryption of ct[len] into pt[len]. A tag that does not
 * verify is A17_EBADSIG, and pt is wiped: no partial plaintext survives.
 */
static int
gcm_open(const uint8_t key[SEAL_CEK_LEN], const uint8_t iv[SEAL_IV_LEN],
         const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t len,
         const uint8_t tag[SEAL_TAG_LEN], uint8_t *pt)
{
	EVP_CIPHER_CTX *ctx;
	uint8_t tagbuf[SEAL_TAG_LEN], fin[16];
	int outl, rv = 0;

	if (len > SEAL_MAX_CONTENT || aadlen > SEAL_MAX_AAD)
		return (A17_ETOOBIG);
	memcpy(tagbuf, tag, SEAL_TAG_LEN);
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return (A17_ENOMEM);
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_IV_LEN,
	                        NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, iv) != 1)
		goto fail;
	if (aadlen > 0 &&
	    EVP_DecryptUpdate(ctx, NULL, &outl, aad, (int)aadlen) != 1)
		goto fail;
	if (len > 0) {
		if (EVP_DecryptUpdate(ctx, pt, &outl, ct, (int)len) != 1 ||
		    (size_t)outl != len)
			goto fail;
	}
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN,
	                        tagbuf) != 1)
		goto fail;
	if (EVP_DecryptFinal_ex(ctx, fin, &outl) != 1 || outl != 0) {
		ERR_clear_error();
		rv = A17_EBADSIG;
		goto out;
	}
	EVP_CIPHER_CTX_free(ctx);
	return (0);
fail:
	rv = a17_err_ossl();
out:
	if (len > 0)
		OPENSSL_cleanse(pt, len);
	EVP_CIPHER_CTX_free(ctx);
	return (rv);
}

/* ---- sealing ------------------------------------------------------- */

/* Allocates a bytes field of n bytes (n > 0). */
static int
bin_alloc(ProtobufCBinaryData *b, size_t n)
{
	if ((b->data = calloc(1, n)) == NULL)
		return (A17_ENOMEM);
	b->len = n;
	return (0);
}

static void
bin_free(ProtobufCBinaryData *b)
{
	if (b->data != NULL) {
		OPENSSL_cleanse(b->data, b->len);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
}

static void
wk_free(Art17__WrappedKey *w)
{
	if (w == NULL)
		return;
	if (w->staff_id != NULL && w->staff_id != protobuf_c_empty_string)
		free(w->staff_id);
	bin_free(&w->eph_pub);
	bin_free(&w->nonce);
	bin_free(&w->wrapped);
	bin_free(&w->tag);
	free(w);
}

void
seal_free(Art17__Sealed *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n_keys; i++)
		wk_free(s->keys[i]);
	free(s->keys);
	bin_free(&s->nonce);
	bin_free(&s->ciphertext);
	bin_free(&s->tag);
	free(s);
}

/* Checks a staff id: 1..SEAL_MAX_STAFF_ID bytes; fills *idlen. */
static int
staff_id_ok(const char *id, size_t *idlen)
{
	size_t n;

	if (id == NULL)
		return (0);
	n = strnlen(id, SEAL_MAX_STAFF_ID + 1);
	if (n == 0 || n > SEAL_MAX_STAFF_ID)
		return (0);
	*idlen = n;
	return (1);
}

/* Wraps cek for one recipient into a new WrappedKey. */
static int
wrap_one(const uint8_t cek[SEAL_CEK_LEN], const seal_recipient *r, size_t idlen,
         Art17__WrappedKey **out)
{
	Art17__WrappedKey *w;
	EVP_PKEY *eph = NULL;
	uint8_t shared[SEAL_PUB_LEN], wkey[SEAL_CEK_LEN];
	size_t plen = SEAL_PUB_LEN;
	int rv;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return (A17_ENOMEM);
	art17__wrapped_key__init(w);
	if ((w->staff_id = strndup(r->staff_id, idlen)) == NULL) {
		rv = A17_ENOMEM;
		goto out;
	}
	if ((rv = bin_alloc(&w->eph_pub, SEAL_PUB_LEN)) != 0 ||
	    (rv = bin_alloc(&w->nonce, SEAL_IV_LEN)) != 0 ||
	    (rv = bin_alloc(&w->wrapped, SEAL_CEK_LEN)) != 0 ||
	    (rv = bin_alloc(&w->tag, SEAL_TAG_LEN)) != 0)
		goto out;

	/* A fresh ephemeral key pair for this recipient alone. */
	if ((eph = EVP_PKEY_Q_keygen(NULL, NULL, "X25519")) == NULL) {
		rv = a17_err_ossl();
		goto out;
	}
	if (EVP_PKEY_get_raw_public_key(eph, w->eph_pub.data, &plen) != 1 ||
	    plen != SEAL_PUB_LEN) {
		rv = a17_err_ossl();
		goto out;
	}
	if ((rv = x25519(eph, r->x25519_pub, shared)) != 0)
		goto out;
	if ((rv = wrap_key(shared, w->eph_pub.data, r->x25519_pub, r->staff_id,
	                   idlen, wkey)) != 0)
		goto out;
	if ((rv = crypto_random(w->nonce.data, SEAL_IV_LEN)) != 0)
		goto out;
	rv = gcm_seal(wkey, w->nonce.data, (const uint8_t *)r->staff_id, idlen,
	              cek, SEAL_CEK_LEN, w->wrapped.data, w->tag.data);
out:
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(wkey, sizeof(wkey));
	EVP_PKEY_free(eph);
	if (rv != 0) {
		wk_free(w);
		return (rv);
	}
	*out = w;
	return (0);
}

int
seal_content(const uint8_t *pt, size_t len, const uint8_t *aad, size_t aadlen,
             const seal_recipient *r, size_t n, Art17__Sealed **out)
{
	Art17__Sealed *s = NULL;
	uint8_t cek[SEAL_CEK_LEN];
	size_t i, j, idlen;
	int rv;

	if (out == NULL)
		return (A17_EINVAL);
	*out = NULL;
	if ((pt == NULL && len != 0) || (aad == NULL && aadlen != 0) ||
	    r == NULL || n == 0)
		return (A17_EINVAL);
	if (len > SEAL_MAX_CONTENT || aadlen > SEAL_MAX_AAD ||
	    n > SEAL_MAX_RECIPIENTS)
		return (A17_ETOOBIG);
	for (i = 0; i < n; i++) {
		if (!staff_id_ok(r[i].staff_id, &idlen) ||
		    r[i].x25519_pub == NULL)
			return (A17_EINVAL);
		/* One entry per person: a duplicate is a caller's mistake. */
		for (j = 0; j < i; j++)
			if (strcmp(r[i].staff_id, r[j].staff_id) == 0)
				return (A17_EINVAL);
	}

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (A17_ENOMEM);
	art17__sealed__init(s);
	if ((s->keys = calloc(n, sizeof(*s->keys))) == NULL) {
		free(s);
		return (A17_ENOMEM);
	}
	if ((rv = bin_alloc(&s->nonce, SEAL_IV_LEN)) != 0 ||
	    (rv = bin_alloc(&s->tag, SEAL_TAG_LEN)) != 0)
		goto out;
	if (len > 0 && (rv = bin_alloc(&s->ciphertext, len)) != 0)
		goto out;

	/* A fresh content key and IV for every seal. */
	if ((rv = crypto_random(cek, sizeof(cek))) != 0 ||
	    (rv = crypto_random(s->nonce.data, SEAL_IV_LEN)) != 0)
		goto out;
	if ((rv = gcm_seal(cek, s->nonce.data, aad, aadlen, pt, len,
	                   s->ciphertext.data, s->tag.data)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		(void)staff_id_ok(r[i].staff_id, &idlen);
		if ((rv = wrap_one(cek, &r[i], idlen, &s->keys[i])) != 0)
			goto out;
		s->n_keys = i + 1;
	}
out:
	OPENSSL_cleanse(cek, sizeof(cek));
	if (rv != 0) {
		seal_free(s);
		return (rv);
	}
	*out = s;
	return (0);
}

/* ---- opening ------------------------------------------------------- */

/* Finds the one WrappedKey for staff_id. */
static int
find_key(const Art17__Sealed *s, const char *staff_id,
         const Art17__WrappedKey **wp)
{
	const Art17__WrappedKey *found = NULL;
	size_t i;

	if (s->n_keys > 0 && s->keys == NULL)
		return (A17_EMALFORMED);
	for (i = 0; i < s->n_keys; i++) {
		const Art17__WrappedKey *w = s->keys[i];
		if (w == NULL || w->staff_id == NULL)
			return (A17_EMALFORMED);
		if (strcmp(w->staff_id, staff_id) != 0)
			continue;
		if (found != NULL)
			return (A17_EMALFORMED);
		found = w;
	}
	if (found == NULL)
		return (A17_ENOTFOUND);
	*wp = found;
	return (0);
}

/* 1 when b holds exactly n bytes. */
static int
bin_is(const ProtobufCBinaryData *b, size_t n)
{
	return (b->len == n && b->data != NULL);
}

int
seal_open(const Art17__Sealed *s, const char *staff_id, const seal_key *priv,
          const uint8_t *aad, size_t aadlen, uint8_t **pt, size_t *len)
{
	const Art17__WrappedKey *w = NULL;
	uint8_t shared[SEAL_PUB_LEN], wkey[SEAL_CEK_LEN], cek[SEAL_CEK_LEN];
	uint8_t *buf = NULL;
	size_t idlen, ctlen;
	int rv;

	if (pt != NULL)
		*pt = NULL;
	if (len != NULL)
		*len = 0;
	if (s == NULL || priv == NULL || pt == NULL || len == NULL ||
	    (aad == NULL && aadlen != 0) || !staff_id_ok(staff_id, &idlen))
		return (A17_EINVAL);
	if (!priv->has_private)
		return (A17_EINVAL);
	if ((rv = find_key(s, staff_id, &w)) != 0)
		return (rv);

	/* Every field has its exact length before anything is computed. */
	if (!bin_is(&s->nonce, SEAL_IV_LEN) || !bin_is(&s->tag, SEAL_TAG_LEN) ||
	    !bin_is(&w->eph_pub, SEAL_PUB_LEN) ||
	    !bin_is(&w->nonce, SEAL_IV_LEN) ||
	    !bin_is(&w->wrapped, SEAL_CEK_LEN) ||
	    !bin_is(&w->tag, SEAL_TAG_LEN))
		return (A17_EMALFORMED);
	ctlen = s->ciphertext.len;
	if (ctlen > 0 && s->ciphertext.data == NULL)
		return (A17_EMALFORMED);
	if (ctlen > SEAL_MAX_CONTENT || aadlen > SEAL_MAX_AAD)
		return (A17_ETOOBIG);

	/* Unwrap the content key. */
	rv = x25519(priv->pkey, w->eph_pub.data, shared);
	if (rv == A17_EINVAL) {
		/* eph_pub is not a usable point: it cannot authenticate. */
		rv = A17_EBADSIG;
	}
	if (rv != 0)
		goto out;
	if ((rv = wrap_key(shared, w->eph_pub.data, priv->pub, staff_id, idlen,
	                   wkey)) != 0)
		goto out;
	if ((rv = gcm_open(wkey, w->nonce.data, (const uint8_t *)staff_id,
	                   idlen, w->wrapped.data, SEAL_CEK_LEN, w->tag.data,
	                   cek)) != 0)
		goto out;

	/* Decrypt into a private buffer, handed over only once the tag holds.
	 */
	if ((buf = malloc(ctlen > 0 ? ctlen : 1)) == NULL) {
		rv = A17_ENOMEM;
		goto out;
	}
	if ((rv = gcm_open(cek, s->nonce.data, aad, aadlen, s->ciphertext.data,
	                   ctlen, s->tag.data, buf)) != 0) {
		free(buf); /* gcm_open has wiped it */
		buf = NULL;
		goto out;
	}
	*pt = buf;
	*len = ctlen;
out:
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(wkey, sizeof(wkey));
	OPENSSL_cleanse(cek, sizeof(cek));
	return (rv);
}

void
seal_plaintext_free(uint8_t *pt, size_t len)
{
	if (pt == NULL)
		return;
	OPENSSL_cleanse(pt, len);
	free(pt);
}
