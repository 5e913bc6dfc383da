/*
 * test_wire.c: the signed envelope. Size first, signature second, payload
 * last, with real Ed25519 keys and no mocks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "art17.pb-c.h"
#include "crypto.h"
#include "err.h"
#include "wire.h"

static a17_key *key_a, *key_b;

/* A keyring for wire_open: finds keys by id, counts the look-ups. */
struct keyring {
	const a17_key *keys[4];
	size_t n;
	const a17_key *any; /* when set: returned for every key id */
	int calls;
	uint8_t last_id[A17_KEYID_LEN];
	size_t last_len;
};

static int
ring_fn(void *arg, const uint8_t *key_id, size_t len, const a17_key **k)
{
	struct keyring *r = arg;
	size_t i;

	r->calls++;
	r->last_len = len;
	if (len == A17_KEYID_LEN)
		memcpy(r->last_id, key_id, A17_KEYID_LEN);
	if (r->any != NULL) {
		*k = r->any;
		return 0;
	}
	for (i = 0; i < r->n; i++) {
		if (len == A17_KEYID_LEN &&
		    memcmp(crypto_key_id(r->keys[i]), key_id, len) == 0) {
			*k = r->keys[i];
			return 0;
		}
	}
	return A17_EUNKNOWNKEY;
}

/* Claims success but hands back no key. */
static int
null_key_fn(void *arg, const uint8_t *key_id, size_t len, const a17_key **k)
{
	(void)arg;
	(void)key_id;
	(void)len;
	*k = NULL;
	return 0;
}

static struct keyring
ring_of(const a17_key *k)
{
	struct keyring r;

	memset(&r, 0, sizeof(r));
	r.keys[0] = k;
	r.n = (k != NULL);
	return r;
}

static int
group_setup(void **state)
{
	(void)state;
	if (crypto_key_generate(&key_a) != 0 ||
	    crypto_key_generate(&key_b) != 0)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	crypto_key_free(key_b);
	crypto_key_free(key_a);
	return 0;
}

/* Deterministic bytes for the garbage tests (splitmix64). */
static uint64_t
prng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
	uint64_t s = seed;
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(prng(&s) >> 56);
}

/*
 * Opens buf and returns wire_open's code. A failed open must leave the
 * message empty; the message is always finalised.
 */
static int
try_open(const uint8_t *buf, size_t len, size_t cap, wire_keyfn fn, void *arg,
         int flags)
{
	wire_msg m;
	int rv;

	rv = wire_open(buf, len, cap, fn, arg, flags, &m);
	if (rv != 0) {
		assert_null(m.body);
		assert_null(m.owned);
		assert_null(m.signer);
	} else {
		assert_non_null(m.body);
		assert_non_null(m.body_buf);
	}
	wire_msg_fini(&m);
	return rv;
}

static int
open_ring(const uint8_t *buf, size_t len, struct keyring *r, int flags)
{
	return try_open(buf, len, 0, ring_fn, r, flags);
}

/* A Poll body; hdr, poll and id are caller storage. */
static void
poll_body(Art17__Body *body, Art17__Header *hdr, Art17__Poll *poll,
          uint8_t id[WIRE_MSGID_LEN], uint64_t cursor)
{
	art17__body__init(body);
	art17__poll__init(poll);
	assert_int_equal(
	    wire_header_init(hdr, id, ART17__MSG_KIND__MSG_POLL, "member-7", 0),
	    0);
	poll->cursor = cursor;
	poll->max_items = 32;
	body->hdr = hdr;
	body->payload_case = ART17__BODY__PAYLOAD_POLL;
	body->poll = poll;
}

static void
seal_poll(const a17_key *k, uint64_t cursor, uint8_t **out, size_t *outlen)
{
	Art17__Body body;
	Art17__Header hdr;
	Art17__Poll poll;
	uint8_t id[WIRE_MSGID_LEN];

	poll_body(&body, &hdr, &poll, id, cursor);
	assert_int_equal(wire_seal(&body, k, out, outlen), 0);
}

static void
pack_body(const Art17__Body *body, uint8_t **out, size_t *outlen)
{
	size_t n = art17__body__get_packed_size(body);

	*out = malloc(n ? n : 1);
	assert_non_null(*out);
	assert_int_equal(art17__body__pack(body, *out), n);
	*outlen = n;
}

/* Packs an Envelope from its parts, without any checks of wire.c. */
static void
pack_env(const uint8_t *body, size_t blen, const uint8_t *sig, size_t slen,
         const uint8_t *kid, size_t klen, uint8_t **out, size_t *outlen)
{
	Art17__Envelope env = ART17__ENVELOPE__INIT;
	size_t n;

	env.body.data = (uint8_t *)body;
	env.body.len = blen;
	env.sig.data = (uint8_t *)sig;
	env.sig.len = slen;
	env.key_id.data = (uint8_t *)kid;
	env.key_id.len = klen;
	n = art17__envelope__get_packed_size(&env);
	*out = malloc(n ? n : 1);
	assert_non_null(*out);
	assert_int_equal(art17__envelope__pack(&env, *out), n);
	*outlen = n;
}

/*
 * Where the fields of a packed Envelope lie: protobuf-c writes them in
 * field order, so it is body (tag 0x0a, varint length), then sig (0x12,
 * 64) and key_id (0x1a, 8) when signed.
 */
struct layout {
	size_t body_off, body_len, sig_off, kid_off;
};

static void
env_layout(const uint8_t *buf, size_t len, struct layout *l)
{
	Art17__Envelope *env;
	size_t i = 1, shift = 0, blen = 0;

	assert_true(len > 2);
	assert_int_equal(buf[0], 0x0a);
	do {
		assert_true(i < len);
		blen |= (size_t)(buf[i] & 0x7f) << shift;
		shift += 7;
	} while (buf[i++] & 0x80);
	l->body_off = i;
	l->body_len = blen;
	assert_true(l->body_off + blen <= len);

	env = art17__envelope__unpack(NULL, len, buf);
	assert_non_null(env);
	assert_int_equal(env->body.len, blen);
	assert_memory_equal(env->body.data, buf + l->body_off, blen);
	if (env->sig.len == 0) {
		assert_int_equal(l->body_off + blen, len);
		l->sig_off = l->kid_off = 0;
	} else {
		i = l->body_off + blen;
		assert_int_equal(buf[i], 0x12);
		assert_int_equal(buf[i + 1], A17_SIG_LEN);
		l->sig_off = i + 2;
		assert_memory_equal(buf + l->sig_off, env->sig.data,
		                    A17_SIG_LEN);
		i = l->sig_off + A17_SIG_LEN;
		assert_int_equal(buf[i], 0x1a);
		assert_int_equal(buf[i + 1], A17_KEYID_LEN);
		l->kid_off = i + 2;
		assert_memory_equal(buf + l->kid_off, env->key_id.data,
		                    A17_KEYID_LEN);
		assert_int_equal(l->kid_off + A17_KEYID_LEN, len);
	}
	art17__envelope__free_unpacked(env, NULL);
}

/* ------------------------------------------------------------ the tests */

static void
test_header_init(void **state)
{
	Art17__Header h1, h2;
	uint8_t id1[WIRE_MSGID_LEN], id2[WIRE_MSGID_LEN];
	int64_t before, after;

	(void)state;
	before = wire_now_ms();
	assert_int_equal(wire_header_init(&h1, id1, ART17__MSG_KIND__MSG_HELLO,
	                                  "member-1", 5),
	                 0);
	assert_int_equal(
	    wire_header_init(&h2, id2, ART17__MSG_KIND__MSG_POLL, NULL, 0), 0);
	after = wire_now_ms();

	assert_int_equal(h1.version, WIRE_PROTO_VERSION);
	assert_int_equal(h1.kind, ART17__MSG_KIND__MSG_HELLO);
	assert_string_equal(h1.sender, "member-1");
	assert_ptr_equal(h1.msg_id.data, id1);
	assert_int_equal(h1.msg_id.len, WIRE_MSGID_LEN);
	assert_true(h1.time_ms >= before && h1.time_ms <= after);
	assert_int_equal(h1.exercise, 1);

	assert_string_equal(h2.sender, "");
	assert_int_equal(h2.exercise, 0);
	assert_memory_not_equal(id1, id2, WIRE_MSGID_LEN);
}

static void
test_round_trip(void **state)
{
	Art17__Body body;
	Art17__Header hdr;
	Art17__Poll poll;
	uint8_t id[WIRE_MSGID_LEN], *buf = NULL, *packed = NULL;
	size_t len = 0, plen = 0;
	struct keyring r;
	struct layout l;
	wire_msg m;

	(void)state;
	poll_body(&body, &hdr, &poll, id, 123456789012ULL);
	hdr.exercise = 1;
	assert_int_equal(wire_seal(&body, key_a, &buf, &len), 0);
	assert_non_null(buf);
	assert_true(len > 0 && len <= WIRE_MAX_MSG);
	pack_body(&body, &packed, &plen);
	env_layout(buf, len, &l);

	/* B is first in the ring, so the look-up really is by key id. */
	memset(&r, 0, sizeof(r));
	r.keys[0] = key_b;
	r.keys[1] = key_a;
	r.n = 2;
	assert_int_equal(wire_open(buf, len, 0, ring_fn, &r, 0, &m), 0);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.last_len, A17_KEYID_LEN);
	assert_memory_equal(r.last_id, crypto_key_id(key_a), A17_KEYID_LEN);

	assert_ptr_equal(m.signer, key_a);
	assert_memory_equal(m.key_id, crypto_key_id(key_a), A17_KEYID_LEN);
	assert_memory_equal(m.sig, buf + l.sig_off, A17_SIG_LEN);
	/* body_buf holds exactly the signed bytes. */
	assert_int_equal(m.body_len, plen);
	assert_memory_equal(m.body_buf, packed, plen);
	assert_int_equal(
	    crypto_verify(key_a, m.body_buf, m.body_len, m.sig, A17_SIG_LEN),
	    0);
	assert_int_equal(
	    crypto_verify(key_b, m.body_buf, m.body_len, m.sig, A17_SIG_LEN),
	    A17_EBADSIG);

	assert_non_null(m.body);
	assert_non_null(m.body->hdr);
	assert_int_equal(m.body->hdr->version, WIRE_PROTO_VERSION);
	assert_int_equal(m.body->hdr->kind, ART17__MSG_KIND__MSG_POLL);
	assert_string_equal(m.body->hdr->sender, "member-7");
	assert_int_equal(m.body->hdr->msg_id.len, WIRE_MSGID_LEN);
	assert_memory_equal(m.body->hdr->msg_id.data, id, WIRE_MSGID_LEN);
	assert_int_equal(m.body->hdr->time_ms, hdr.time_ms);
	assert_int_equal(m.body->hdr->exercise, 1);
	assert_int_equal(m.body->payload_case, ART17__BODY__PAYLOAD_POLL);
	assert_non_null(m.body->poll);
	assert_int_equal(m.body->poll->cursor, 123456789012ULL);
	assert_int_equal(m.body->poll->max_items, 32);
	wire_msg_fini(&m);
	assert_null(m.body);
	wire_msg_fini(&m); /* twice is harmless */
	wire_msg_fini(NULL);

	/* A signed message opened with ALLOW_UNSIGNED is still verified. */
	r = ring_of(key_a);
	assert_int_equal(
	    wire_open(buf, len, 0, ring_fn, &r, WIRE_F_ALLOW_UNSIGNED, &m), 0);
	assert_ptr_equal(m.signer, key_a);
	assert_int_equal(r.calls, 1);
	wire_msg_fini(&m);

	/* Exactly at the cap is fine. */
	assert_int_equal(try_open(buf, len, len, ring_fn, &r, 0), 0);

	free(packed);
	free(buf);
}

static void
test_public_only_key(void **state)
{
	uint8_t pub[A17_PUBKEY_LEN], *buf = NULL;
	size_t len = 0;
	a17_key *pa = NULL;
	struct keyring r;
	wire_msg m;

	(void)state;
	/* The receiver only ever holds the sender's public key. */
	assert_int_equal(crypto_key_raw_public(key_a, pub), 0);
	assert_int_equal(crypto_key_from_raw(pub, sizeof(pub), &pa), 0);
	seal_poll(key_a, 7, &buf, &len);
	r = ring_of(pa);
	assert_int_equal(wire_open(buf, len, 0, ring_fn, &r, 0, &m), 0);
	assert_ptr_equal(m.signer, pa);
	assert_int_equal(m.body->poll->cursor, 7);
	wire_msg_fini(&m);
	free(buf);
	buf = NULL;

	/* A public-only key cannot seal. */
	assert_int_not_equal(wire_error(pa, "x", ART17__ERR_CODE__ERR_INTERNAL,
	                                "c", "d", &buf, &len),
	                     0);
	assert_null(buf);
	crypto_key_free(pa);
}

static void
test_oversized(void **state)
{
	uint8_t *buf = NULL, *big;
	size_t len = 0;
	struct keyring r = ring_of(key_a);

	(void)state;
	seal_poll(key_a, 1, &buf, &len);
	assert_int_equal(try_open(buf, len, len - 1, ring_fn, &r, 0),
	                 A17_ETOOBIG);
	assert_int_equal(try_open(buf, len, 1, ring_fn, &r, 0), A17_ETOOBIG);
	/* The size is checked before anything else: no key look-up. */
	assert_int_equal(r.calls, 0);
	assert_int_equal(try_open(buf, len, len, ring_fn, &r, 0), 0);
	free(buf);

	r.calls = 0;
	/* cap 0 and caps above WIRE_MAX_MSG mean WIRE_MAX_MSG. */
	big = calloc(1, (size_t)WIRE_MAX_MSG + 1);
	assert_non_null(big);
	assert_int_equal(
	    try_open(big, (size_t)WIRE_MAX_MSG + 1, 0, ring_fn, &r, 0),
	    A17_ETOOBIG);
	assert_int_equal(try_open(big, (size_t)WIRE_MAX_MSG + 1,
	                          (size_t)WIRE_MAX_MSG * 2, ring_fn, &r, 0),
	                 A17_ETOOBIG);
	assert_int_equal(
	    try_open(big, (size_t)WIRE_MAX_MSG + 1, SIZE_MAX, ring_fn, &r, 0),
	    A17_ETOOBIG);
	/* Zero bytes do not decode: within the cap it is malformed. */
	assert_int_equal(try_open(big, (size_t)WIRE_MAX_MSG, 0, ring_fn, &r, 0),
	                 A17_EMALFORMED);
	assert_int_equal(r.calls, 0);
	free(big);
}

/* A signed Request whose Envelope is exactly `target` bytes. */
static void
request_of_size(size_t target, Art17__Body *body, Art17__Header *hdr,
                Art17__Request *req, uint8_t id[WIRE_MSGID_LEN],
                uint8_t *content)
{
	static const uint8_t zsig[A17_SIG_LEN], zkid[A17_KEYID_LEN];
	Art17__Envelope env = ART17__ENVELOPE__INIT;
	size_t n = target - 200, elen = 0;
	int i;

	art17__body__init(body);
	art17__request__init(req);
	assert_int_equal(wire_header_init(hdr, id, ART17__MSG_KIND__MSG_REQUEST,
	                                  "broker", 0),
	                 0);
	req->request_id = "R-1";
	req->content.data = content;
	body->hdr = hdr;
	body->payload_case = ART17__BODY__PAYLOAD_REQUEST;
	body->request = req;
	env.sig.data = (uint8_t *)zsig;
	env.sig.len = sizeof(zsig);
	env.key_id.data = (uint8_t *)zkid;
	env.key_id.len = sizeof(zkid);
	for (i = 0; i < 8; i++) {
		req->content.len = n;
		env.body.len = art17__body__get_packed_size(body);
		elen = art17__envelope__get_packed_size(&env);
		if (elen == target)
			break;
		n = n + target - elen;
	}
	assert_int_equal(elen, target);
}

static void
test_size_boundary(void **state)
{
	Art17__Body body;
	Art17__Header hdr;
	Art17__Request req;
	uint8_t id[WIRE_MSGID_LEN], *content, *buf = NULL, *bbuf = NULL;
	uint8_t *ebuf = NULL, sig[A17_SIG_LEN];
	size_t len = 0, blen = 0, elen = 0;
	struct keyring r = ring_of(key_a);
	wire_msg m;

	(void)state;
	content = malloc(WIRE_MAX_MSG);
	assert_non_null(content);
	fill_random(content, WIRE_MAX_MSG, 17);

	/* WIRE_MAX_MSG exactly: seals and opens with the default cap. */
	request_of_size(WIRE_MAX_MSG, &body, &hdr, &req, id, content);
	assert_int_equal(wire_seal(&body, key_a, &buf, &len), 0);
	assert_int_equal(len, WIRE_MAX_MSG);
	assert_int_equal(wire_open(buf, len, 0, ring_fn, &r, 0, &m), 0);
	assert_int_equal(m.body->payload_case, ART17__BODY__PAYLOAD_REQUEST);
	assert_int_equal(m.body->request->content.len, req.content.len);
	assert_memory_equal(m.body->request->content.data, content,
	                    req.content.len);
	wire_msg_fini(&m);
	assert_int_equal(try_open(buf, len, len - 1, ring_fn, &r, 0),
	                 A17_ETOOBIG);
	free(buf);
	buf = NULL;

	/* One byte more: refused when sealing... */
	request_of_size((size_t)WIRE_MAX_MSG + 1, &body, &hdr, &req, id,
	                content);
	assert_int_equal(wire_seal(&body, key_a, &buf, &len), A17_ETOOBIG);
	assert_null(buf);

	/* ...and when opening, though the signature is good. */
	r.calls = 0;
	pack_body(&body, &bbuf, &blen);
	assert_int_equal(crypto_sign(key_a, bbuf, blen, sig), 0);
	pack_env(bbuf, blen, sig, sizeof(sig), crypto_key_id(key_a),
	         A17_KEYID_LEN, &ebuf, &elen);
	assert_int_equal(elen, (size_t)WIRE_MAX_MSG + 1);
	assert_int_equal(try_open(ebuf, elen, 0, ring_fn, &r, 0), A17_ETOOBIG);
	assert_int_equal(r.calls, 0);
	/* The body alone is too big for wire_seal_bytes as well. */
	assert_int_equal(wire_seal_bytes(bbuf, blen, key_a, &buf, &len),
	                 A17_ETOOBIG);
	assert_null(buf);

	free(ebuf);
	free(bbuf);
	free(content);
}

static void
test_empty_and_null(void **state)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	struct keyring r = ring_of(key_a);

	(void)state;
	seal_poll(key_a, 1, &buf, &len);
	assert_int_equal(try_open(buf, 0, 0, ring_fn, &r, 0), A17_EMALFORMED);
	assert_int_equal(try_open(NULL, 0, 0, ring_fn, &r, 0), A17_EMALFORMED);
	assert_int_equal(try_open(NULL, len, 0, ring_fn, &r, 0),
	                 A17_EMALFORMED);
	assert_int_equal(
	    try_open(NULL, 0, 0, ring_fn, &r, WIRE_F_ALLOW_UNSIGNED),
	    A17_EMALFORMED);
	assert_int_equal(r.calls, 0);
	free(buf);
}

static void
test_truncated(void **state)
{
	uint8_t *buf = NULL, *cut, *ubuf = NULL;
	size_t len = 0, ulen = 0, i;
	struct keyring r = ring_of(key_a), any;
	struct layout l;
	wire_msg m;

	(void)state;
	memset(&any, 0, sizeof(any));
	any.any = key_a;
	seal_poll(key_a, 99, &buf, &len);
	env_layout(buf, len, &l);
	for (i = 1; i < len; i++) {
		/* An exact-size copy, so ASan sees any over-read. */
		cut = malloc(i);
		assert_non_null(cut);
		memcpy(cut, buf, i);
		assert_int_not_equal(open_ring(cut, i, &r, 0), 0);
		assert_int_not_equal(open_ring(cut, i, &any, 0), 0);
		/*
		 * With ALLOW_UNSIGNED, the one prefix that ends with the body
		 * field is a well-formed unsigned message: it opens, and
		 * says it has no signer.
		 */
		if (i == l.body_off + l.body_len) {
			assert_int_equal(wire_open(cut, i, 0, ring_fn, &r,
			                           WIRE_F_ALLOW_UNSIGNED, &m),
			                 0);
			assert_null(m.signer);
			assert_int_equal(m.body->poll->cursor, 99);
			wire_msg_fini(&m);
		} else {
			assert_int_not_equal(
			    open_ring(cut, i, &r, WIRE_F_ALLOW_UNSIGNED), 0);
		}
		free(cut);
	}
	free(buf);

	/* Every strict prefix of an unsigned message is broken too. */
	seal_poll(NULL, 99, &ubuf, &ulen);
	for (i = 1; i < ulen; i++) {
		cut = malloc(i);
		assert_non_null(cut);
		memcpy(cut, ubuf, i);
		assert_int_not_equal(
		    open_ring(cut, i, &r, WIRE_F_ALLOW_UNSIGNED), 0);
		free(cut);
	}
	assert_int_equal(open_ring(ubuf, ulen, &r, WIRE_F_ALLOW_UNSIGNED), 0);
	free(ubuf);
}

static void
test_garbage(void **state)
{
	static const size_t sizes[] = {1,  2,   3,   7,    16,
	                               64, 100, 255, 1000, 4096};
	static const uint64_t seeds[] = {1, 2, 3, 42, 0xdeadbeefULL};
	struct keyring r = ring_of(key_a), any;
	size_t i, j;
	uint8_t *g;

	(void)state;
	memset(&any, 0, sizeof(any));
	any.any = key_a;
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			g = malloc(sizes[j]);
			assert_non_null(g);
			fill_random(g, sizes[j], seeds[i] * 1000 + j);
			assert_int_not_equal(open_ring(g, sizes[j], &r, 0), 0);
			assert_int_not_equal(open_ring(g, sizes[j], &any, 0),
			                     0);
			assert_int_not_equal(
			    open_ring(g, sizes[j], &any, WIRE_F_ALLOW_UNSIGNED),
			    0);
			assert_int_not_equal(try_open(g, sizes[j], 0, NULL,
			                              NULL,
			                              WIRE_F_ALLOW_UNSIGNED),
			                     0);
			free(g);
		}
	}
}

static void
test_unsigned(void **state)
{
	uint8_t *buf = NULL, zero[A17_SIG_LEN];
	size_t len = 0;
	struct keyring r = ring_of(key_a);
	struct layout l;
	wire_msg m;

	(void)state;
	memset(zero, 0, sizeof(zero));
	seal_poll(NULL, 5, &buf, &len);
	env_layout(buf, len, &l);
	assert_int_equal(l.sig_off, 0); /* no sig, no key_id on the wire */

	assert_int_equal(open_ring(buf, len, &r, 0), A17_EUNSIGNED);
	assert_int_equal(try_open(buf, len, 0, NULL, NULL, 0), A17_EUNSIGNED);

	assert_int_equal(
	    wire_open(buf, len, 0, ring_fn, &r, WIRE_F_ALLOW_UNSIGNED, &m), 0);
	assert_null(m.signer);
	assert_memory_equal(m.sig, zero, A17_SIG_LEN);
	assert_memory_equal(m.key_id, zero, A17_KEYID_LEN);
	assert_int_equal(m.body_len, l.body_len);
	assert_memory_equal(m.body_buf, buf + l.body_off, l.body_len);
	assert_int_equal(m.body->payload_case, ART17__BODY__PAYLOAD_POLL);
	assert_int_equal(m.body->poll->cursor, 5);
	wire_msg_fini(&m);
	/* No key is looked up for an unsigned message. */
	assert_int_equal(r.calls, 0);
	assert_int_equal(
	    try_open(buf, len, 0, NULL, NULL, WIRE_F_ALLOW_UNSIGNED), 0);
	free(buf);
}

static void
test_wrong_key(void **state)
{
	uint8_t *buf = NULL, *ebuf = NULL;
	size_t len = 0, elen = 0;
	struct keyring only_a = ring_of(key_a), nobody = ring_of(NULL), any;
	struct layout l;

	(void)state;
	memset(&any, 0, sizeof(any));
	any.any = key_a;
	seal_poll(key_b, 3, &buf, &len);
	assert_int_equal(open_ring(buf, len, &any, 0), A17_EBADSIG);
	assert_int_equal(any.calls, 1);
	assert_memory_equal(any.last_id, crypto_key_id(key_b), A17_KEYID_LEN);
	assert_int_equal(open_ring(buf, len, &any, WIRE_F_ALLOW_UNSIGNED),
	                 A17_EBADSIG);
	assert_int_equal(open_ring(buf, len, &nobody, 0), A17_EUNKNOWNKEY);
	assert_int_equal(nobody.calls, 1);
	assert_int_equal(open_ring(buf, len, &only_a, 0), A17_EUNKNOWNKEY);
	assert_int_equal(try_open(buf, len, 0, NULL, NULL, 0), A17_EUNKNOWNKEY);
	assert_int_equal(try_open(buf, len, 0, null_key_fn, NULL, 0),
	                 A17_EUNKNOWNKEY);

	/* B's signature under A's key id: the look-up finds A, A refuses. */
	env_layout(buf, len, &l);
	pack_env(buf + l.body_off, l.body_len, buf + l.sig_off, A17_SIG_LEN,
	         crypto_key_id(key_a), A17_KEYID_LEN, &ebuf, &elen);
	assert_int_equal(open_ring(ebuf, elen, &only_a, 0), A17_EBADSIG);
	free(ebuf);
	free(buf);
}

static void
test_tampered(void **state)
{
	static const uint8_t masks[] = {0x01, 0x80, 0xff};
	uint8_t *buf = NULL, *buf2 = NULL, *ebuf = NULL;
	size_t len = 0, len2 = 0, elen = 0, i, j;
	struct keyring r = ring_of(key_a), ab;
	struct layout l, l2;

	(void)state;
	memset(&ab, 0, sizeof(ab));
	ab.keys[0] = key_a;
	ab.keys[1] = key_b;
	ab.n = 2;
	seal_poll(key_a, 11, &buf, &len);
	env_layout(buf, len, &l);
	assert_int_equal(open_ring(buf, len, &r, 0), 0);

	/* Every bit pattern flipped in every body byte breaks the sig. */
	for (i = l.body_off; i < l.body_off + l.body_len; i++) {
		for (j = 0; j < sizeof(masks); j++) {
			buf[i] ^= masks[j];
			assert_int_equal(open_ring(buf, len, &r, 0),
			                 A17_EBADSIG);
			assert_int_equal(
			    open_ring(buf, len, &r, WIRE_F_ALLOW_UNSIGNED),
			    A17_EBADSIG);
			buf[i] ^= masks[j];
		}
	}
	/* Every signature byte. */
	for (i = l.sig_off; i < l.sig_off + A17_SIG_LEN; i++) {
		for (j = 0; j < sizeof(masks); j++) {
			buf[i] ^= masks[j];
			assert_int_equal(open_ring(buf, len, &r, 0),
			                 A17_EBADSIG);
			buf[i] ^= masks[j];
		}
	}
	/* Every key id byte: nobody has that key. */
	for (i = l.kid_off; i < l.kid_off + A17_KEYID_LEN; i++) {
		buf[i] ^= 0x01;
		assert_int_equal(open_ring(buf, len, &ab, 0), A17_EUNKNOWNKEY);
		buf[i] ^= 0x01;
	}
	/* Restored, it opens again. */
	assert_int_equal(open_ring(buf, len, &r, 0), 0);

	/* A changed body re-packed with the original sig and key id. */
	seal_poll(key_a, 12, &buf2, &len2);
	env_layout(buf2, len2, &l2);
	assert_int_equal(open_ring(buf2, len2, &r, 0), 0);
	pack_env(buf2 + l2.body_off, l2.body_len, buf + l.sig_off, A17_SIG_LEN,
	         buf + l.kid_off, A17_KEYID_LEN, &ebuf, &elen);
	assert_int_equal(open_ring(ebuf, elen, &r, 0), A17_EBADSIG);
	free(ebuf);
	/* The original parts re-packed are accepted (sanity). */
	pack_env(buf + l.body_off, l.body_len, buf + l.sig_off, A17_SIG_LEN,
	         buf + l.kid_off, A17_KEYID_LEN, &ebuf, &elen);
	assert_int_equal(open_ring(ebuf, elen, &r, 0), 0);
	free(ebuf);

	/* A signature or key id of the wrong length does not decode. */
	pack_env(buf + l.body_off, l.body_len, buf + l.sig_off, A17_SIG_LEN - 1,
	         buf + l.kid_off, A17_KEYID_LEN, &ebuf, &elen);
	assert_int_equal(open_ring(ebuf, elen, &r, 0), A17_EMALFORMED);
	free(ebuf);
	pack_env(buf + l.body_off, l.body_len, buf + l.sig_off, A17_SIG_LEN,
	         buf + l.kid_off, A17_KEYID_LEN - 1, &ebuf, &elen);
	assert_int_equal(open_ring(ebuf, elen, &r, 0), A17_EMALFORMED);
	free(ebuf);
	pack_env(buf + l.body_off, l.body_len, buf + l.sig_off, A17_SIG_LEN,
	         NULL, 0, &ebuf, &elen);
	assert_int_equal(open_ring(ebuf, elen, &r, 0), A17_EMALFORMED);
	free(ebuf);

	free(buf2);
	free(buf);
}

static void
test_sig_before_parse(void **state)
{
	static const uint8_t g1[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	                             0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t g2[] = {0x0a, 0x7f, 0x01};
	static const uint8_t g3[] = {0x07};
	static const uint8_t g4[] = {0x0a, 0x02, 0x08};
	static const char g5[] = "not a protobuf at all";
	static const struct {
		const uint8_t *p;
		size_t n;
	} bad[] = {
	    {g1, sizeof(g1)},
	    {g2, sizeof(g2)},
	    {g3, sizeof(g3)},
	    {g4, sizeof(g4)},
	    {(const uint8_t *)g5, sizeof(g5) - 1},
	};
	uint8_t *buf = NULL, *fz;
	size_t len = 0, i, n;
	struct keyring r = ring_of(key_a), nobody = ring_of(NULL), any;
	struct layout l;
	Art17__Body *probe;
	int rv;

	(void)state;
	memset(&any, 0, sizeof(any));
	any.any = key_a;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* The body really is not a Body. */
		probe = art17__body__unpack(NULL, bad[i].n, bad[i].p);
		assert_null(probe);

		/* Good signature: verified, then the body fails to decode. */
		assert_int_equal(
		    wire_seal_bytes(bad[i].p, bad[i].n, key_a, &buf, &len), 0);
		assert_int_equal(open_ring(buf, len, &r, 0), A17_EMALFORMED);
		assert_int_equal(open_ring(buf, len, &nobody, 0),
		                 A17_EUNKNOWNKEY);
		/* Bad signature: refused before the body is looked at. */
		env_layout(buf, len, &l);
		buf[l.sig_off + 5] ^= 0x20;
		assert_int_equal(open_ring(buf, len, &r, 0), A17_EBADSIG);
		free(buf);
		buf = NULL;

		/* Signed by someone else. */
		assert_int_equal(
		    wire_seal_bytes(bad[i].p, bad[i].n, key_b, &buf, &len), 0);
		assert_int_equal(open_ring(buf, len, &any, 0), A17_EBADSIG);
		free(buf);
		buf = NULL;

		/* Unsigned: refused as unsigned, or decoded and refused. */
		assert_int_equal(
		    wire_seal_bytes(bad[i].p, bad[i].n, NULL, &buf, &len), 0);
		assert_int_equal(open_ring(buf, len, &r, 0), A17_EUNSIGNED);
		assert_int_equal(open_ring(buf, len, &r, WIRE_F_ALLOW_UNSIGNED),
		                 A17_EMALFORMED);
		free(buf);
		buf = NULL;
	}

	/* An empty body carries nothing to verify or decode. */
	assert_int_equal(
	    wire_seal_bytes((const uint8_t *)"", 0, key_a, &buf, &len), 0);
	assert_int_equal(open_ring(buf, len, &r, 0), A17_EMALFORMED);
	assert_int_equal(open_ring(buf, len, &r, WIRE_F_ALLOW_UNSIGNED),
	                 A17_EMALFORMED);
	free(buf);
	buf = NULL;

	/* Random signed bodies: never accepted, never a crash. */
	for (i = 0; i < 200; i++) {
		n = 1 + i * 3;
		fz = malloc(n);
		assert_non_null(fz);
		fill_random(fz, n, 7000 + i);
		assert_int_equal(wire_seal_bytes(fz, n, key_a, &buf, &len), 0);
		rv = open_ring(buf, len, &r, 0);
		assert_true(rv == A17_EMALFORMED || rv == A17_EPROTO);
		free(buf);
		buf = NULL;
		free(fz);
	}
}

/* One empty payload of every kind, for the header tests. */
static Art17__HelloReq p_hello_req = ART17__HELLO_REQ__INIT;
static Art17__Challenge p_challenge = ART17__CHALLENGE__INIT;
static Art17__Hello p_hello = ART17__HELLO__INIT;
static Art17__Welcome p_welcome = ART17__WELCOME__INIT;
static Art17__Poll p_poll = ART17__POLL__INIT;
static Art17__Deliver p_deliver = ART17__DELIVER__INIT;
static Art17__ReceiptBatch p_receipt = ART17__RECEIPT_BATCH__INIT;
static Art17__ReceiptOk p_receipt_ok = ART17__RECEIPT_OK__INIT;
static Art17__Feedback p_feedback = ART17__FEEDBACK__INIT;
static Art17__FeedbackOk p_feedback_ok = ART17__FEEDBACK_OK__INIT;
static Art17__Error p_error = ART17__ERROR__INIT;
static Art17__AdminRequest p_admin = ART17__ADMIN_REQUEST__INIT;
static Art17__AdminReply p_admin_reply = ART17__ADMIN_REPLY__INIT;
static Art17__Request p_request = ART17__REQUEST__INIT;
static Art17__Accept p_accept = ART17__ACCEPT__INIT;
static Art17__ConsentChange p_consent = ART17__CONSENT_CHANGE__INIT;
static Art17__ReadReceipt p_read = ART17__READ_RECEIPT__INIT;
static Art17__Consultation p_consult = ART17__CONSULTATION__INIT;
static Art17__Ack p_ack = ART17__ACK__INIT;

static void
set_payload(Art17__Body *b, int pcase)
{
	b->payload_case = (Art17__Body__PayloadCase)pcase;
	switch (pcase) {
	case ART17__BODY__PAYLOAD_HELLO_REQ:
		b->hello_req = &p_hello_req;
		break;
	case ART17__BODY__PAYLOAD_CHALLENGE:
		b->challenge = &p_challenge;
		break;
	case ART17__BODY__PAYLOAD_HELLO:
		b->hello = &p_hello;
		break;
	case ART17__BODY__PAYLOAD_WELCOME:
		b->welcome = &p_welcome;
		break;
	case ART17__BODY__PAYLOAD_POLL:
		b->poll = &p_poll;
		break;
	case ART17__BODY__PAYLOAD_DELIVER:
		b->deliver = &p_deliver;
		break;
	case ART17__BODY__PAYLOAD_RECEIPT:
		b->receipt = &p_receipt;
		break;
	case ART17__BODY__PAYLOAD_RECEIPT_OK:
		b->receipt_ok = &p_receipt_ok;
		break;
	case ART17__BODY__PAYLOAD_FEEDBACK:
		b->feedback = &p_feedback;
		break;
	case ART17__BODY__PAYLOAD_FEEDBACK_OK:
		b->feedback_ok = &p_feedback_ok;
		break;
	case ART17__BODY__PAYLOAD_ERROR:
		b->error = &p_error;
		break;
	case ART17__BODY__PAYLOAD_ADMIN:
		b->admin = &p_admin;
		break;
	case ART17__BODY__PAYLOAD_ADMIN_REPLY:
		b->admin_reply = &p_admin_reply;
		break;
	case ART17__BODY__PAYLOAD_REQUEST:
		b->request = &p_request;
		break;
	case ART17__BODY__PAYLOAD_ACCEPT:
		b->accept = &p_accept;
		break;
	case ART17__BODY__PAYLOAD_CONSENT:
		b->consent = &p_consent;
		break;
	case ART17__BODY__PAYLOAD_READ:
		b->read = &p_read;
		break;
	case ART17__BODY__PAYLOAD_CONSULT:
		b->consult = &p_consult;
		break;
	case ART17__BODY__PAYLOAD_ACK:
		b->ack = &p_ack;
		break;
	default:
		b->payload_case = ART17__BODY__PAYLOAD__NOT_SET;
		break;
	}
}

/* Seals body with A and opens it with a ring that knows A. */
static int
seal_open(const Art17__Body *body)
{
	struct keyring r = ring_of(key_a);
	uint8_t *buf = NULL;
	size_t len = 0;
	int rv;

	assert_int_equal(wire_seal(body, key_a, &buf, &len), 0);
	rv = open_ring(buf, len, &r, 0);
	free(buf);
	return rv;
}

/* Each kind with its payload. */
static const struct {
	Art17__MsgKind kind;
	int pcase;
} kinds[] = {
    {ART17__MSG_KIND__MSG_HELLO_REQ, ART17__BODY__PAYLOAD_HELLO_REQ},
    {ART17__MSG_KIND__MSG_CHALLENGE, ART17__BODY__PAYLOAD_CHALLENGE},
    {ART17__MSG_KIND__MSG_HELLO, ART17__BODY__PAYLOAD_HELLO},
    {ART17__MSG_KIND__MSG_WELCOME, ART17__BODY__PAYLOAD_WELCOME},
    {ART17__MSG_KIND__MSG_POLL, ART17__BODY__PAYLOAD_POLL},
    {ART17__MSG_KIND__MSG_DELIVER, ART17__BODY__PAYLOAD_DELIVER},
    {ART17__MSG_KIND__MSG_RECEIPT, ART17__BODY__PAYLOAD_RECEIPT},
    {ART17__MSG_KIND__MSG_RECEIPT_OK, ART17__BODY__PAYLOAD_RECEIPT_OK},
    {ART17__MSG_KIND__MSG_FEEDBACK, ART17__BODY__PAYLOAD_FEEDBACK},
    {ART17__MSG_KIND__MSG_FEEDBACK_OK, ART17__BODY__PAYLOAD_FEEDBACK_OK},
    {ART17__MSG_KIND__MSG_ERROR, ART17__BODY__PAYLOAD_ERROR},
    {ART17__MSG_KIND__MSG_ADMIN, ART17__BODY__PAYLOAD_ADMIN},
    {ART17__MSG_KIND__MSG_ADMIN_REPLY, ART17__BODY__PAYLOAD_ADMIN_REPLY},
    {ART17__MSG_KIND__MSG_REQUEST, ART17__BODY__PAYLOAD_REQUEST},
    {ART17__MSG_KIND__MSG_ACCEPT, ART17__BODY__PAYLOAD_ACCEPT},
    {ART17__MSG_KIND__MSG_CONSENT, ART17__BODY__PAYLOAD_CONSENT},
    {ART17__MSG_KIND__MSG_READ, ART17__BODY__PAYLOAD_READ},
    {ART17__MSG_KIND__MSG_CONSULT, ART17__BODY__PAYLOAD_CONSULT},
    {ART17__MSG_KIND__MSG_ACK, ART17__BODY__PAYLOAD_ACK},
};

static void
test_kind_payload(void **state)
{
	Art17__Body body;
	Art17__Header hdr;
	uint8_t id[WIRE_MSGID_LEN];
	size_t i;
	int p;

	(void)state;
	assert_int_equal(wire_kind_payload(ART17__MSG_KIND__MSG_UNSPECIFIED),
	                 0);
	assert_int_equal(wire_kind_payload((Art17__MsgKind)99), 0);
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		assert_int_equal(wire_kind_payload(kinds[i].kind),
		                 kinds[i].pcase);
		/* Only the matching payload opens; every other is refused. */
		for (p = ART17__BODY__PAYLOAD__NOT_SET;
		     p <= ART17__BODY__PAYLOAD_ACK; p++) {
			if (p != 0 && p < ART17__BODY__PAYLOAD_HELLO_REQ)
				continue;
			art17__body__init(&body);
			assert_int_equal(
			    wire_header_init(&hdr, id, kinds[i].kind, "m", 0),
			    0);
			body.hdr = &hdr;
			set_payload(&body, p);
			assert_int_equal(seal_open(&body),
			                 p == kinds[i].pcase ? 0 : A17_EPROTO);
		}
	}
}

static void
test_header_checks(void **state)
{
	Art17__Body body;
	Art17__Header hdr;
	uint8_t id[WIRE_MSGID_LEN + 1], *buf = NULL;
	size_t len = 0;
	struct keyring any;

	(void)state;
	memset(&any, 0, sizeof(any));
	any.any = key_a;
#define RESET()                                                                \
	do {                                                                   \
		art17__body__init(&body);                                      \
		assert_int_equal(wire_header_init(&hdr, id,                    \
		                                  ART17__MSG_KIND__MSG_POLL,   \
		                                  "m", 0),                     \
		                 0);                                           \
		body.hdr = &hdr;                                               \
		set_payload(&body, ART17__BODY__PAYLOAD_POLL);                 \
	} while (0)

	RESET();
	assert_int_equal(seal_open(&body), 0);

	/* Kind and payload disagree. */
	RESET();
	set_payload(&body, ART17__BODY__PAYLOAD_HELLO_REQ);
	assert_int_equal(seal_open(&body), A17_EPROTO);
	RESET();
	set_payload(&body, ART17__BODY__PAYLOAD__NOT_SET);
	assert_int_equal(seal_open(&body), A17_EPROTO);
	RESET();
	hdr.kind = ART17__MSG_KIND__MSG_UNSPECIFIED;
	set_payload(&body, ART17__BODY__PAYLOAD__NOT_SET);
	assert_int_equal(seal_open(&body), A17_EPROTO);
	RESET();
	hdr.kind = (Art17__MsgKind)99;
	assert_int_equal(seal_open(&body), A17_EPROTO);

	/* Version. */
	RESET();
	hdr.version = 2;
	assert_int_equal(seal_open(&body), A17_EPROTO);
	RESET();
	hdr.version = 0;
	assert_int_equal(seal_open(&body), A17_EPROTO);

	/* msg_id length. */
	RESET();
	hdr.msg_id.len = WIRE_MSGID_LEN - 1;
	assert_int_equal(seal_open(&body), A17_EPROTO);
	RESET();
	hdr.msg_id.len = WIRE_MSGID_LEN + 1;
	assert_int_equal(seal_open(&body), A17_EPROTO);
	RESET();
	hdr.msg_id.len = 0;
	assert_int_equal(seal_open(&body), A17_EPROTO);

	/* No header at all. */
	RESET();
	body.hdr = NULL;
	assert_int_equal(seal_open(&body), A17_EPROTO);

	/* A bad header under a bad signature is a bad signature. */
	RESET();
	hdr.version = 2;
	assert_int_equal(wire_seal(&body, key_b, &buf, &len), 0);
	assert_int_equal(open_ring(buf, len, &any, 0), A17_EBADSIG);
	free(buf);
	buf = NULL;
	/* And unsigned, once allowed, is checked just the same. */
	assert_int_equal(wire_seal(&body, NULL, &buf, &len), 0);
	assert_int_equal(open_ring(buf, len, &any, WIRE_F_ALLOW_UNSIGNED),
	                 A17_EPROTO);
	free(buf);
#undef RESET
}

static void
test_error(void **state)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	struct keyring r = ring_of(key_a);
	wire_msg m;
	int64_t before = wire_now_ms();

	(void)state;
	assert_int_equal(wire_error(key_a, "broker",
	                            ART17__ERR_CODE__ERR_REPLAY, "A17-W0203",
	                            "message id already seen", &buf, &len),
	                 0);
	assert_int_equal(wire_open(buf, len, 0, ring_fn, &r, 0, &m), 0);
	assert_ptr_equal(m.signer, key_a);
	assert_int_equal(m.body->hdr->kind, ART17__MSG_KIND__MSG_ERROR);
	assert_int_equal(m.body->hdr->version, WIRE_PROTO_VERSION);
	assert_string_equal(m.body->hdr->sender, "broker");
	assert_int_equal(m.body->hdr->msg_id.len, WIRE_MSGID_LEN);
	assert_true(m.body->hdr->time_ms >= before &&
	            m.body->hdr->time_ms <= wire_now_ms());
	assert_int_equal(m.body->payload_case, ART17__BODY__PAYLOAD_ERROR);
	assert_non_null(m.body->error);
	assert_int_equal(m.body->error->code, ART17__ERR_CODE__ERR_REPLAY);
	assert_string_equal(m.body->error->msg_code, "A17-W0203");
	assert_string_equal(m.body->error->detail, "message id already seen");
	wire_msg_fini(&m);
	free(buf);
	buf = NULL;

	/* NULL strings become empty ones; an unsigned error needs the flag. */
	assert_int_equal(wire_error(NULL, NULL, ART17__ERR_CODE__ERR_TOO_LARGE,
	                            NULL, NULL, &buf, &len),
	                 0);
	assert_int_equal(open_ring(buf, len, &r, 0), A17_EUNSIGNED);
	assert_int_equal(
	    wire_open(buf, len, 0, ring_fn, &r, WIRE_F_ALLOW_UNSIGNED, &m), 0);
	assert_null(m.signer);
	assert_string_equal(m.body->hdr->sender, "");
	assert_int_equal(m.body->error->code, ART17__ERR_CODE__ERR_TOO_LARGE);
	assert_string_equal(m.body->error->msg_code, "");
	assert_string_equal(m.body->error->detail, "");
	wire_msg_fini(&m);
	free(buf);
}

/*
 * WIRE_F_DEFER_VERIFY decodes without checking, and wire_verify then
 * refuses what wire_open would have refused: a tampered body, a key no
 * longer known, an unsigned message. A good one verifies once.
 */
static void
test_defer_verify(void **state)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	struct keyring r = ring_of(key_a), none = ring_of(NULL);
	Art17__Envelope *env;
	wire_msg m;

	(void)state;
	assert_int_equal(wire_error(key_a, "broker",
	                            ART17__ERR_CODE__ERR_REPLAY, "A17-W0203",
	                            "x", &buf, &len),
	                 0);
	assert_int_equal(
	    wire_open(buf, len, 0, ring_fn, &r, WIRE_F_DEFER_VERIFY, &m), 0);
	assert_int_equal(m.verified, 0);
	assert_int_equal(wire_verify(&m, ring_fn, &none), A17_EUNKNOWNKEY);
	assert_int_equal(m.verified, 0);
	assert_int_equal(wire_verify(&m, ring_fn, &r), 0);
	assert_int_equal(m.verified, 1);
	assert_int_equal(wire_verify(&m, NULL, NULL), 0); /* already done */
	wire_msg_fini(&m);
	/* without the flag it is checked at once */
	assert_int_equal(wire_open(buf, len, 0, ring_fn, &r, 0, &m), 0);
	assert_int_equal(m.verified, 1);
	wire_msg_fini(&m);

	/* tampered: opens when deferred, never verifies */
	env = art17__envelope__unpack(NULL, len, buf);
	assert_non_null(env);
	env->sig.data[0] ^= 0x01;
	art17__envelope__pack(env, buf);
	art17__envelope__free_unpacked(env, NULL);
	assert_int_equal(open_ring(buf, len, &r, 0), A17_EBADSIG);
	assert_int_equal(
	    wire_open(buf, len, 0, ring_fn, &r, WIRE_F_DEFER_VERIFY, &m), 0);
	assert_int_equal(wire_verify(&m, ring_fn, &r), A17_EBADSIG);
	assert_int_equal(m.verified, 0);
	wire_msg_fini(&m);
	free(buf);
	buf = NULL;

	/* unsigned: the flag does not let it through */
	assert_int_equal(wire_error(NULL, "broker", ART17__ERR_CODE__ERR_REPLAY,
	                            "A17-W0203", "x", &buf, &len),
	                 0);
	assert_int_equal(open_ring(buf, len, &r, WIRE_F_DEFER_VERIFY),
	                 A17_EUNSIGNED);
	free(buf);
}

/* A reply over WIRE_MAX_MSG opens only with WIRE_F_LOCAL (the admin
 * socket), and then only up to WIRE_MAX_LOCAL. */
static void
test_local_cap(void **state)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Envelope env = ART17__ENVELOPE__INIT;
	Art17__Error er = ART17__ERROR__INIT;
	Art17__Header hdr;
	uint8_t idbuf[WIRE_MSGID_LEN];
	size_t dlen = 2 * WIRE_MAX_MSG, blen, elen;
	char *detail;
	uint8_t *b, *e;
	wire_msg m;

	(void)state;
	detail = malloc(dlen + 1);
	assert_non_null(detail);
	memset(detail, 'x', dlen);
	detail[dlen] = '\0';
	er.detail = detail;
	assert_int_equal(wire_header_init(&hdr, idbuf,
	                                  ART17__MSG_KIND__MSG_ERROR, "broker",
	                                  0),
	                 0);
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_ERROR;
	body.error = &er;
	blen = art17__body__get_packed_size(&body);
	b = malloc(blen);
	assert_non_null(b);
	art17__body__pack(&body, b);
	env.body.data = b;
	env.body.len = blen;
	elen = art17__envelope__get_packed_size(&env);
	e = malloc(elen);
	assert_non_null(e);
	art17__envelope__pack(&env, e);

	assert_int_equal(wire_open(e, elen, WIRE_MAX_LOCAL, NULL, NULL,
	                           WIRE_F_ALLOW_UNSIGNED, &m),
	                 A17_ETOOBIG);
	assert_int_equal(wire_open(e, elen, WIRE_MAX_LOCAL, NULL, NULL,
	                           WIRE_F_ALLOW_UNSIGNED | WIRE_F_LOCAL, &m),
	                 0);
	assert_int_equal(strlen(m.body->error->detail), dlen);
	wire_msg_fini(&m);
	/* the caller's cap still holds */
	assert_int_equal(wire_open(e, elen, WIRE_MAX_MSG, NULL, NULL,
	                           WIRE_F_ALLOW_UNSIGNED | WIRE_F_LOCAL, &m),
	                 A17_ETOOBIG);
	free(e);
	free(b);
	free(detail);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defer_verify),
	    cmocka_unit_test(test_local_cap),
	    cmocka_unit_test(test_header_init),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_public_only_key),
	    cmocka_unit_test(test_oversized),
	    cmocka_unit_test(test_size_boundary),
	    cmocka_unit_test(test_empty_and_null),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_unsigned),
	    cmocka_unit_test(test_wrong_key),
	    cmocka_unit_test(test_tampered),
	    cmocka_unit_test(test_sig_before_parse),
	    cmocka_unit_test(test_kind_payload),
	    cmocka_unit_test(test_header_checks),
	    cmocka_unit_test(test_error),
	};

	return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}
