/*
 * wire.c: the signed envelope. Size first, signature second, payload last.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "log.h"
#include "wire.h"

int64_t
wire_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
wire_kind_payload(Art17__MsgKind kind)
{
	switch (kind) {
	case ART17__MSG_KIND__MSG_HELLO_REQ:
		return ART17__BODY__PAYLOAD_HELLO_REQ;
	case ART17__MSG_KIND__MSG_CHALLENGE:
		return ART17__BODY__PAYLOAD_CHALLENGE;
	case ART17__MSG_KIND__MSG_HELLO:
		return ART17__BODY__PAYLOAD_HELLO;
	case ART17__MSG_KIND__MSG_WELCOME:
		return ART17__BODY__PAYLOAD_WELCOME;
	case ART17__MSG_KIND__MSG_POLL:
		return ART17__BODY__PAYLOAD_POLL;
	case ART17__MSG_KIND__MSG_DELIVER:
		return ART17__BODY__PAYLOAD_DELIVER;
	case ART17__MSG_KIND__MSG_RECEIPT:
		return ART17__BODY__PAYLOAD_RECEIPT;
	case ART17__MSG_KIND__MSG_RECEIPT_OK:
		return ART17__BODY__PAYLOAD_RECEIPT_OK;
	case ART17__MSG_KIND__MSG_FEEDBACK:
		return ART17__BODY__PAYLOAD_FEEDBACK;
	case ART17__MSG_KIND__MSG_FEEDBACK_OK:
		return ART17__BODY__PAYLOAD_FEEDBACK_OK;
	case ART17__MSG_KIND__MSG_ERROR:
		return ART17__BODY__PAYLOAD_ERROR;
	case ART17__MSG_KIND__MSG_ADMIN:
		return ART17__BODY__PAYLOAD_ADMIN;
	case ART17__MSG_KIND__MSG_ADMIN_REPLY:
		return ART17__BODY__PAYLOAD_ADMIN_REPLY;
	case ART17__MSG_KIND__MSG_REQUEST:
		return ART17__BODY__PAYLOAD_REQUEST;
	case ART17__MSG_KIND__MSG_ACCEPT:
		return ART17__BODY__PAYLOAD_ACCEPT;
	case ART17__MSG_KIND__MSG_CONSENT:
		return ART17__BODY__PAYLOAD_CONSENT;
	case ART17__MSG_KIND__MSG_READ:
		return ART17__BODY__PAYLOAD_READ;
	case ART17__MSG_KIND__MSG_CONSULT:
		return ART17__BODY__PAYLOAD_CONSULT;
	case ART17__MSG_KIND__MSG_ACK:
		return ART17__BODY__PAYLOAD_ACK;
	case ART17__MSG_KIND__MSG_REVISION:
		return ART17__BODY__PAYLOAD_REVISION;
	default:
		return 0;
	}
}

int
wire_open(const uint8_t *buf, size_t len, size_t cap, wire_keyfn keyfn,
          void *arg, int flags, wire_msg *m)
{
	Art17__Envelope *env = NULL;
	Art17__Body *body = NULL;
	const a17_key *k = NULL;
	int rv = 0;

	memset(m, 0, sizeof(*m));
	if (cap == 0)
		cap = WIRE_MAX_MSG;
	if (cap > ((flags & WIRE_F_LOCAL) ? WIRE_MAX_LOCAL : WIRE_MAX_MSG))
		cap = (flags & WIRE_F_LOCAL) ? WIRE_MAX_LOCAL : WIRE_MAX_MSG;
	if (buf == NULL || len == 0)
		return A17_EMALFORMED;
	if (len > cap)
		return A17_ETOOBIG;

	env = art17__envelope__unpack(NULL, len, buf);
	if (env == NULL)
		return A17_EMALFORMED;
	if (env->body.len == 0) {
		rv = A17_EMALFORMED;
		goto out;
	}
	if (env->sig.len == 0) {
		if (!(flags & WIRE_F_ALLOW_UNSIGNED)) {
			rv = A17_EUNSIGNED;
			goto out;
		}
	} else {
		if (env->key_id.len != A17_KEYID_LEN ||
		    env->sig.len != A17_SIG_LEN) {
			rv = A17_EMALFORMED;
			goto out;
		}
		if (keyfn == NULL ||
		    keyfn(arg, env->key_id.data, env->key_id.len, &k) != 0 ||
		    k == NULL) {
			rv = A17_EUNKNOWNKEY;
			goto out;
		}
		if (!(flags & WIRE_F_DEFER_VERIFY)) {
			if (crypto_verify(k, env->body.data, env->body.len,
			                  env->sig.data, env->sig.len) != 0) {
				rv = A17_EBADSIG;
				goto out;
			}
			m->verified = 1;
		}
		memcpy(m->key_id, env->key_id.data, A17_KEYID_LEN);
		memcpy(m->sig, env->sig.data, A17_SIG_LEN);
	}

	/*
	 * Only now, with the signature known good (or the peer known by its
	 * channel, WIRE_F_DEFER_VERIFY), look inside.
	 */
	body = art17__body__unpack(NULL, env->body.len, env->body.data);
	if (body == NULL) {
		rv = A17_EMALFORMED;
		goto out;
	}
	if (body->hdr == NULL || body->hdr->version != WIRE_PROTO_VERSION ||
	    wire_kind_payload(body->hdr->kind) == 0 ||
	    (int)body->payload_case != wire_kind_payload(body->hdr->kind) ||
	    body->hdr->msg_id.len != WIRE_MSGID_LEN) {
		art17__body__free_unpacked(body, NULL);
		body = NULL;
		rv = A17_EPROTO;
		goto out;
	}
	/* protobuf-c copies bytes fields: keep a private copy below */
	m->body_buf = NULL;
	m->body = body;
	m->body_len = env->body.len;
	m->signer = k;
out:
	if (rv == 0 && m->body_buf == NULL) {
		/* keep a private copy of the signed bytes */
		uint8_t *copy = malloc(env->body.len);
		if (copy == NULL) {
			art17__body__free_unpacked(body, NULL);
			m->body = NULL;
			rv = A17_ENOMEM;
		} else {
			memcpy(copy, env->body.data, env->body.len);
			m->body_buf = copy;
			m->owned = copy;
		}
	}
	art17__envelope__free_unpacked(env, NULL);
	return rv;
}

int
wire_verify(wire_msg *m, wire_keyfn keyfn, void *arg)
{
	const a17_key *k = NULL;

	if (m->verified)
		return 0;
	if (m->signer == NULL || m->body_buf == NULL)
		return A17_EUNSIGNED;
	if (keyfn == NULL || keyfn(arg, m->key_id, A17_KEYID_LEN, &k) != 0 ||
	    k == NULL)
		return A17_EUNKNOWNKEY;
	if (crypto_verify(k, m->body_buf, m->body_len, m->sig, A17_SIG_LEN) !=
	    0)
		return A17_EBADSIG;
	m->verified = 1;
	return 0;
}

void
wire_msg_fini(wire_msg *m)
{
	if (m == NULL)
		return;
	if (m->body != NULL)
		art17__body__free_unpacked(m->body, NULL);
	free(m->owned);
	memset(m, 0, sizeof(*m));
}

int
wire_header_init(Art17__Header *hdr, uint8_t idbuf[WIRE_MSGID_LEN],
                 Art17__MsgKind kind, const char *sender, int exercise)
{
	int rv;

	art17__header__init(hdr);
	if ((rv = crypto_random(idbuf, WIRE_MSGID_LEN)) != 0)
		return rv;
	hdr->version = WIRE_PROTO_VERSION;
	hdr->kind = kind;
	hdr->sender = (char *)(sender ? sender : "");
	hdr->msg_id.data = idbuf;
	hdr->msg_id.len = WIRE_MSGID_LEN;
	hdr->time_ms = wire_now_ms();
	hdr->exercise = exercise ? 1 : 0;
	return 0;
}

int
wire_seal_bytes(const uint8_t *bbuf, size_t blen, const a17_key *k,
                uint8_t **out, size_t *outlen)
{
	Art17__Envelope env = ART17__ENVELOPE__INIT;
	uint8_t sig[A17_SIG_LEN];
	uint8_t *ebuf;
	size_t elen;
	int rv;

	env.body.data = (uint8_t *)bbuf;
	env.body.len = blen;
	if (k != NULL) {
		if ((rv = crypto_sign(k, bbuf, blen, sig)) != 0)
			return rv;
		env.sig.data = sig;
		env.sig.len = A17_SIG_LEN;
		env.key_id.data = (uint8_t *)crypto_key_id(k);
		env.key_id.len = A17_KEYID_LEN;
	}
	elen = art17__envelope__get_packed_size(&env);
	if (elen > WIRE_MAX_MSG)
		return A17_ETOOBIG;
	if ((ebuf = malloc(elen)) == NULL)
		return A17_ENOMEM;
	if (art17__envelope__pack(&env, ebuf) != elen) {
		free(ebuf);
		return A17_EINTERNAL;
	}
	*out = ebuf;
	*outlen = elen;
	return 0;
}

int
wire_seal(const Art17__Body *body, const a17_key *k, uint8_t **out,
          size_t *outlen)
{
	uint8_t *bbuf;
	size_t blen;
	int rv;

	blen = art17__body__get_packed_size(body);
	if (blen > WIRE_MAX_MSG)
		return A17_ETOOBIG;
	if ((bbuf = malloc(blen ? blen : 1)) == NULL)
		return A17_ENOMEM;
	if (art17__body__pack(body, bbuf) != blen) {
		free(bbuf);
		return A17_EINTERNAL;
	}
	rv = wire_seal_bytes(bbuf, blen, k, out, outlen);
	free(bbuf);
	return rv;
}

int
wire_error(const a17_key *k, const char *sender, Art17__ErrCode code,
           const char *msg_code, const char *detail, uint8_t **out,
           size_t *outlen)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__Error err = ART17__ERROR__INIT;
	uint8_t id[WIRE_MSGID_LEN];
	int rv;

	if ((rv = wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_ERROR, sender,
	                           0)) != 0)
		return rv;
	err.code = code;
	err.msg_code = (char *)(msg_code ? msg_code : "");
	err.detail = (char *)(detail ? detail : "");
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_ERROR;
	body.error = &err;
	return wire_seal(&body, k, out, outlen);
}
