/*
 * wire.h: the signed envelope.
 *
 * Receiving: wire_open() checks the size cap, decodes the Envelope, finds
 * the signer's key by key_id, verifies the Ed25519 signature over the exact
 * body bytes received, and only then decodes the Body. Nothing in the
 * payload is looked at before the signature holds.
 *
 * Sending: wire_seal() packs a Body, signs it and packs the Envelope.
 */
#ifndef A17_WIRE_H
#define A17_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "art17.pb-c.h"
#include "crypto.h"

/* Application limit on any message, on top of NNG_OPT_RECVMAXSZ. */
#define WIRE_MAX_MSG (1024 * 1024)
/* Limit on a broker reply on the local admin socket only (WIRE_F_LOCAL):
 * an issue to 10,000 members lists every copy with its gate reason. */
#define WIRE_MAX_LOCAL     (64 * 1024 * 1024)
#define WIRE_PROTO_VERSION 1
#define WIRE_MSGID_LEN     16

/*
 * Finds the public key for key_id. Returns 0 and sets *k (borrowed, must
 * stay valid until wire_open returns), or A17_EUNKNOWNKEY.
 */
typedef int (*wire_keyfn)(void *arg, const uint8_t *key_id, size_t len,
                          const a17_key **k);

enum {
	WIRE_F_ALLOW_UNSIGNED =
	    1, /* accept an empty sig (channel-authenticated) */
	/*
	 * Decode the Body without checking the signature yet (the key is
	 * still looked up, and a signature must be present). Only for a
	 * peer already authenticated by its channel: the broker uses it on
	 * a pipe bound to a member (docs/protocol.md 3.4). The caller must
	 * call wire_verify() before acting on anything but what the channel
	 * authenticates.
	 */
	WIRE_F_DEFER_VERIFY = 2,
	/* A reply read from the broker's local admin socket (ipc://, mode
	 * 0600): cap may be up to WIRE_MAX_LOCAL instead of WIRE_MAX_MSG. */
	WIRE_F_LOCAL = 4,
};

typedef struct wire_msg {
	Art17__Body *body;       /* decoded; free with wire_msg_fini */
	const uint8_t *body_buf; /* the signed bytes, inside the input buffer */
	size_t body_len;
	const a17_key *signer; /* NULL when unsigned */
	uint8_t key_id[A17_KEYID_LEN];
	uint8_t sig[A17_SIG_LEN]; /* as received; zero when unsigned */
	uint8_t *owned;           /* private copy of body_buf, if any */
	int verified;             /* the signature was checked and holds */
} wire_msg;

/*
 * Opens buf[len]. Checks len <= cap, decodes the Envelope, requires a
 * signature unless WIRE_F_ALLOW_UNSIGNED, verifies it with the key keyfn
 * returns, decodes the Body and checks the header (version, kind matches
 * the payload). On success fills *m; the caller calls wire_msg_fini().
 * body_buf points to a private copy of the signed bytes, valid until
 * wire_msg_fini.
 * Errors: A17_ETOOBIG, A17_EMALFORMED, A17_EUNSIGNED, A17_EUNKNOWNKEY,
 * A17_EBADSIG, A17_EPROTO.
 */
int wire_open(const uint8_t *buf, size_t len, size_t cap, wire_keyfn keyfn,
              void *arg, int flags, wire_msg *m);
void wire_msg_fini(wire_msg *m);

/*
 * Checks the signature of a message opened with WIRE_F_DEFER_VERIFY
 * (a no-op returning 0 when it was already checked), with the key keyfn
 * returns for m->key_id now (the one wire_open saw need not be valid any
 * more). Returns 0 and sets m->verified, A17_EUNSIGNED, A17_EUNKNOWNKEY
 * or A17_EBADSIG.
 */
int wire_verify(wire_msg *m, wire_keyfn keyfn, void *arg);

/*
 * Fills hdr (caller-owned, art17__header__init done here) with version,
 * kind, sender, a fresh random msg_id stored in idbuf, and the time.
 */
int wire_header_init(Art17__Header *hdr, uint8_t idbuf[WIRE_MSGID_LEN],
                     Art17__MsgKind kind, const char *sender, int exercise);

/*
 * Packs body, signs it with k (NULL: unsigned) and packs the Envelope into
 * a malloc'd buffer. The caller frees *out with free().
 */
int wire_seal(const Art17__Body *body, const a17_key *k, uint8_t **out,
              size_t *outlen);

/* Seals a pre-packed body (e.g. one stored earlier) with k. */
int wire_seal_bytes(const uint8_t *body, size_t blen, const a17_key *k,
                    uint8_t **out, size_t *outlen);

/* Convenience: an Error body sealed with k. */
int wire_error(const a17_key *k, const char *sender, Art17__ErrCode code,
               const char *msg_code, const char *detail, uint8_t **out,
               size_t *outlen);

/* The payload case that belongs to each kind, or 0 for unknown kinds. */
int wire_kind_payload(Art17__MsgKind kind);

/* Current time in Unix milliseconds. */
int64_t wire_now_ms(void);

#endif
