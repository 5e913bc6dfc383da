/*
 * seal.h: sealed content for secret items (DESIGN.md invariant 4).
 *
 * The content is encrypted once under a fresh 32-byte content key with
 * AES-256-GCM (12-byte random IV, 16-byte tag). The AAD is a byte string
 * the caller gives, for example the request id, so a blob cannot be moved
 * to another request. The content key is wrapped separately for each
 * recipient staff member:
 *
 *   eph            = fresh X25519 key pair, one per recipient
 *   shared         = X25519(eph_priv, recipient_pub)
 *   wrapping key   = HKDF-SHA256(ikm = shared,
 *                                salt = eph_pub || recipient_pub,
 *                                info = "art17 seal v1" || staff_id), 32 bytes
 *   WrappedKey     = AES-256-GCM(wrapping key, random 12-byte IV,
 *                                AAD = staff_id, content key)
 *
 * All of it goes through OpenSSL 3 EVP; no primitive is implemented here.
 * Key material is wiped with OPENSSL_cleanse.
 */
#ifndef A17_SEAL_H
#define A17_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "art17.pb-c.h"

#define SEAL_PUB_LEN        32            /* X25519 public key */
#define SEAL_CEK_LEN        32            /* content key, AES-256 */
#define SEAL_IV_LEN         12            /* AES-256-GCM IV */
#define SEAL_TAG_LEN        16            /* AES-256-GCM tag */
#define SEAL_MAX_CONTENT    (1024 * 1024) /* plaintext / ciphertext bytes */
#define SEAL_MAX_AAD        4096
#define SEAL_MAX_RECIPIENTS 1024
#define SEAL_MAX_STAFF_ID   128 /* bytes, excluding the NUL */

/* An X25519 key for sealed content: private+public or public only. */
typedef struct seal_key seal_key;

/* Generates a fresh X25519 key pair. */
int seal_key_generate(seal_key **kp);

/*
 * Loads a PEM file: a private key (PKCS#8) or a public key
 * (SubjectPublicKeyInfo). Refuses non-X25519 keys with A17_EINVAL.
 * A private key file readable by group or others is refused (A17_EDENIED).
 */
int seal_key_load(const char *path, seal_key **kp);

/* Builds a public-only key from 32 raw bytes (A17_EINVAL otherwise). */
int seal_key_from_raw(const uint8_t *pub, size_t len, seal_key **kp);

/*
 * Writes the private key (PKCS#8, mode 0600) or the public key (SPKI, mode
 * 0644) as PEM, with exactly that mode whatever the umask. Never
 * overwrites: an existing path gives A17_EEXIST. A public-only key has no
 * private part to save (A17_EINVAL).
 */
int seal_key_save_private(const seal_key *k, const char *path);
int seal_key_save_public(const seal_key *k, const char *path);

/* Copies the raw 32-byte public key. */
int seal_key_raw_public(const seal_key *k, uint8_t out[SEAL_PUB_LEN]);

/* 1 when the key holds a private part. */
int seal_key_has_private(const seal_key *k);

/* Frees the key and wipes its private part. Accepts NULL. */
void seal_key_free(seal_key *k);

/* One recipient: a registered staff member with a system account. */
typedef struct seal_recipient {
	const char *staff_id;      /* 1..SEAL_MAX_STAFF_ID bytes */
	const uint8_t *x25519_pub; /* SEAL_PUB_LEN bytes */
} seal_recipient;

/*
 * Seals pt[len] for the n recipients r[0..n-1], binding aad[aadlen].
 * On success *out is a newly allocated Art17__Sealed that the caller owns
 * and frees with seal_free() (one WrappedKey per recipient, in order).
 * Errors: A17_EINVAL (NULL arguments, n == 0, a bad or duplicate staff_id,
 * a public key that X25519 refuses), A17_ETOOBIG (len > SEAL_MAX_CONTENT,
 * aadlen > SEAL_MAX_AAD, n > SEAL_MAX_RECIPIENTS), A17_ENOMEM,
 * A17_ECRYPTO. On error *out is left NULL.
 */
int seal_content(const uint8_t *pt, size_t len, const uint8_t *aad,
                 size_t aadlen, const seal_recipient *r, size_t n,
                 Art17__Sealed **out);

/*
 * Frees a Sealed that seal_content() made, wiping it first. Accepts NULL.
 * A Sealed decoded by protobuf-c is freed with art17__sealed__free_unpacked
 * (or with the message that holds it) instead.
 */
void seal_free(Art17__Sealed *s);

/*
 * Opens s for staff_id with that staff member's private key, checking aad.
 * On success *pt is a newly allocated buffer of *len bytes (never NULL,
 * even for empty content); free it with seal_plaintext_free().
 * Errors, and nothing is returned in *pt (*pt = NULL, *len = 0):
 *   A17_EINVAL      NULL arguments, priv without a private part.
 *   A17_ENOTFOUND   no WrappedKey for staff_id: not addressed to you.
 *   A17_EMALFORMED  a field has the wrong length (IVs other than 12 bytes,
 *                   tags other than 16, eph_pub or the wrapped key other
 *                   than 32), or staff_id appears more than once.
 *   A17_ETOOBIG     ciphertext or aad over the limits.
 *   A17_EBADSIG     authentication failed: a wrapped-key or content tag did
 *                   not verify (tampering, the wrong private key, the wrong
 *                   aad), or eph_pub is a point X25519 refuses.
 *   A17_ENOMEM, A17_ECRYPTO.
 */
int seal_open(const Art17__Sealed *s, const char *staff_id,
              const seal_key *priv, const uint8_t *aad, size_t aadlen,
              uint8_t **pt, size_t *len);

/* Wipes and frees plaintext from seal_open(). Accepts NULL. */
void seal_plaintext_free(uint8_t *pt, size_t len);

#endif
