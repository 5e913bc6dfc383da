/*
 * fuzz_envelope.c: the signed envelope and the Body inside it, as the
 * broker and the agent open them (wire_open), then the checks each side
 * runs on a decoded payload.
 *
 * The first byte picks how the rest is presented:
 *   0  as an envelope from a channel-authenticated peer (unsigned allowed);
 *   1  as an envelope that must carry a valid signature;
 *   2+ as the body of an envelope this harness signs itself, so that the
 *      fuzzer reaches the Body decoder and the payload checks, which a
 *      real signature otherwise keeps it from.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "err.h"
#include "feedback.h"
#include "fuzz.h"
#include "log.h"
#include "marking.h"
#include "seal.h"
#include "wire.h"

static a17_key *key;
static seal_key *skey;

static int
keyfn(void *arg, const uint8_t *kid, size_t len, const a17_key **k)
{
	if (len != A17_KEYID_LEN ||
	    memcmp(kid, crypto_key_id(key), A17_KEYID_LEN) != 0)
		return (A17_EUNKNOWNKEY);
	*k = key;
	return (0);
}

static void
check_marking(const Art17__Marking *m)
{
	int c;

	if (m == NULL)
		return;
	for (c = 0; c < MK_NCATEGORY; c++)
		(void)mk_reshare(m, (mk_category)c);
}

static void
check_sealed(const Art17__Sealed *s)
{
	uint8_t *pt = NULL;
	size_t n = 0;
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n_keys && i < 4; i++) {
		if (s->keys[i] == NULL || s->keys[i]->staff_id == NULL)
			continue;
		if (seal_open(s, s->keys[i]->staff_id, skey,
		              (const uint8_t *)"aad", 3, &pt, &n) == 0)
			seal_plaintext_free(pt, n);
	}
}

/* The agent opens each broker-signed request inside a Deliver. */
static void
check_inner(const uint8_t *buf, size_t len)
{
	wire_msg m;

	if (wire_open(buf, len, 0, keyfn, NULL, 0, &m) == 0) {
		if (m.body->payload_case == ART17__BODY__PAYLOAD_REQUEST)
			check_marking(m.body->request->marking);
		if (m.body->payload_case == ART17__BODY__PAYLOAD_REVISION)
			check_marking(m.body->revision->marking);
		wire_msg_fini(&m);
	}
}

static void
check_payload(const Art17__Body *b)
{
	char err[256];
	size_t i;

	switch (b->payload_case) {
	case ART17__BODY__PAYLOAD_FEEDBACK:
		(void)fb_validate(b->feedback, err, sizeof(err));
		break;
	case ART17__BODY__PAYLOAD_CONSULT:
		(void)consult_validate(b->consult, err, sizeof(err));
		break;
	case ART17__BODY__PAYLOAD_REQUEST:
		check_marking(b->request->marking);
		break;
	case ART17__BODY__PAYLOAD_REVISION:
		check_marking(b->revision->marking);
		break;
	case ART17__BODY__PAYLOAD_DELIVER:
		for (i = 0; i < b->deliver->n_copies; i++) {
			const Art17__Copy *c = b->deliver->copies[i];
			check_inner(c->request_env.data, c->request_env.len);
			if (c->info != NULL)
				check_sealed(c->info->sealed);
		}
		for (i = 0; i < b->deliver->n_revisions; i++)
			check_inner(b->deliver->revisions[i].data,
			            b->deliver->revisions[i].len);
		break;
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *env = NULL;
	size_t envlen = 0;
	wire_msg m;
	int mode, rv;

	if (key == NULL) {
		log_init(1, "fuzz", LOG_LVL_ERR);
		if (crypto_key_generate(&key) != 0 ||
		    seal_key_generate(&skey) != 0)
			abort();
	}
	if (size < 1)
		return (0);
	mode = data[0];
	data++;
	size--;
	if (mode == 0 || mode == 1) {
		rv = wire_open(data, size, 0, keyfn, NULL,
		               mode == 0 ? WIRE_F_ALLOW_UNSIGNED : 0, &m);
	} else {
		if (size == 0 ||
		    wire_seal_bytes(data, size, key, &env, &envlen) != 0)
			return (0);
		rv = wire_open(env, envlen, 0, keyfn, NULL, 0, &m);
	}
	if (rv == 0) {
		if (m.body == NULL || m.body->hdr == NULL)
			abort();
		check_payload(m.body);
		wire_msg_fini(&m);
	}
	free(env);
	return (0);
}
