/*
 * crypto.h: Ed25519 signatures, SHA-256, random bytes and key files,
 * all through OpenSSL 3 EVP. No primitive is implemented here.
 */
#ifndef A17_CRYPTO_H
#define A17_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define A17_PUBKEY_LEN 32
#define A17_SIG_LEN    64
#define A17_SHA256_LEN 32
#define A17_KEYID_LEN  8

typedef struct a17_key a17_key; /* an Ed25519 key: private+public or public */

/* Generates a fresh Ed25519 key pair. */
int crypto_key_generate(a17_key **kp);

/*
 * Loads a PEM file: a private key (PKCS#8) or a public key
 * (SubjectPublicKeyInfo). Refuses non-Ed25519 keys with A17_EINVAL.
 * A private key file readable by group or others is refused (A17_EDENIED).
 */
int crypto_key_load(const char *path, a17_key **kp);

/* Builds a public-only key from 32 raw bytes. */
int crypto_key_from_raw(const uint8_t *pub, size_t len, a17_key **kp);

/*
 * Writes the private key (mode 0600) or the public key (mode 0644) as PEM.
 * Never overwrites: an existing path gives A17_EEXIST.
 */
int crypto_key_save_private(const a17_key *k, const char *path);
int crypto_key_save_public(const a17_key *k, const char *path);

/* Copies the raw 32-byte public key. */
int crypto_key_raw_public(const a17_key *k, uint8_t out[A17_PUBKEY_LEN]);

/* The key id: first 8 bytes of SHA-256 over the raw public key. */
const uint8_t *crypto_key_id(const a17_key *k);

/* 1 when the key holds a private part. */
int crypto_key_has_private(const a17_key *k);

/* Frees the key and wipes its private part. Accepts NULL. */
void crypto_key_free(a17_key *k);

/* Signs msg; sig receives A17_SIG_LEN bytes. Needs a private key. */
int crypto_sign(const a17_key *k, const uint8_t *msg, size_t len,
                uint8_t sig[A17_SIG_LEN]);

/* 0 when sig is a valid signature of msg by k, A17_EBADSIG otherwise. */
int crypto_verify(const a17_key *k, const uint8_t *msg, size_t len,
                  const uint8_t *sig, size_t siglen);

int crypto_sha256(const uint8_t *data, size_t len, uint8_t out[A17_SHA256_LEN]);

/* Fills buf with cryptographically strong random bytes. */
int crypto_random(uint8_t *buf, size_t len);

/* Constant-time compare: 0 when equal. */
int crypto_memeq(const void *a, const void *b, size_t len);

/* Hex-encodes len bytes into out (2*len+1 bytes). Returns out. */
char *crypto_hex(const uint8_t *in, size_t len, char *out);

#endif
