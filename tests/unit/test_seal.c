/*
 * test_seal.c: sealed content for secret items (DESIGN.md invariant 4):
 * round trips, addressing, tampering, truncation, AAD binding, key files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "err.h"
#include "seal.h"

static char tmpdir[] = "/tmp/a17-seal-XXXXXX";

static const uint8_t CONTENT[] =
    "victim: Example Corp; C2 198.51.100.7; do not share beyond staff";
static const uint8_t RID1[] = "req-0001";
static const uint8_t RID2[] = "req-0002";

#define NSTAFF 4
static const char *const IDS[NSTAFF] = {"staff-A", "staff-B", "staff-C",
                                        "staff-D"};

struct staff {
	seal_key *key[NSTAFF];
	uint8_t pub[NSTAFF][SEAL_PUB_LEN];
	seal_recipient r[NSTAFF];
};

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

static int
staff_setup(void **state)
{
	struct staff *st;
	int i;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return (-1);
	for (i = 0; i < NSTAFF; i++) {
		if (seal_key_generate(&st->key[i]) != 0 ||
		    seal_key_raw_public(st->key[i], st->pub[i]) != 0)
			return (-1);
		st->r[i].staff_id = IDS[i];
		st->r[i].x25519_pub = st->pub[i];
	}
	*state = st;
	return (0);
}

static int
staff_teardown(void **state)
{
	struct staff *st = *state;
	int i;

	for (i = 0; i < NSTAFF; i++)
		seal_key_free(st->key[i]);
	free(st);
	return (0);
}

/* Opens s as staff i and checks the content. */
static void
open_ok(const Art17__Sealed *s, const char *id, const seal_key *k,
        const uint8_t *aad, size_t aadlen, const uint8_t *want, size_t len)
{
	uint8_t *pt = NULL;
	size_t n = 99;

	assert_int_equal(seal_open(s, id, k, aad, aadlen, &pt, &n), 0);
	assert_non_null(pt);
	assert_int_equal(n, len);
	if (len > 0)
		assert_memory_equal(pt, want, len);
	seal_plaintext_free(pt, n);
}

/* Opening fails with rc and hands back nothing. */
static void
open_fails(const Art17__Sealed *s, const char *id, const seal_key *k,
           const uint8_t *aad, size_t aadlen, int rc)
{
	uint8_t *pt = (uint8_t *)"sentinel";
	size_t n = 99;

	assert_int_equal(seal_open(s, id, k, aad, aadlen, &pt, &n), rc);
	assert_null(pt);
	assert_int_equal(n, 0);
}

static void
check_shape(const Art17__Sealed *s, size_t len, size_t nkeys)
{
	size_t i;

	assert_int_equal(s->nonce.len, SEAL_IV_LEN);
	assert_int_equal(s->tag.len, SEAL_TAG_LEN);
	assert_int_equal(s->ciphertext.len, len);
	assert_int_equal(s->n_keys, nkeys);
	for (i = 0; i < nkeys; i++) {
		assert_string_equal(s->keys[i]->staff_id, IDS[i]);
		assert_int_equal(s->keys[i]->eph_pub.len, SEAL_PUB_LEN);
		assert_int_equal(s->keys[i]->nonce.len, SEAL_IV_LEN);
		assert_int_equal(s->keys[i]->wrapped.len, SEAL_CEK_LEN);
		assert_int_equal(s->keys[i]->tag.len, SEAL_TAG_LEN);
	}
	/* The ciphertext is not the plaintext. */
	if (len == sizeof(CONTENT))
		assert_memory_not_equal(s->ciphertext.data, CONTENT, len);
}

static void
test_roundtrip_one(void **state)
{
	struct staff *st = *state;
	Art17__Sealed *s = NULL;

	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), st->r, 1, &s),
	                 0);
	assert_non_null(s);
	check_shape(s, sizeof(CONTENT), 1);
	open_ok(s, IDS[0], st->key[0], RID1, sizeof(RID1), CONTENT,
	        sizeof(CONTENT));
	seal_free(s);
	seal_free(NULL);
}

static void
test_roundtrip_three(void **state)
{
	struct staff *st = *state;
	Art17__Sealed *s = NULL, *u;
	uint8_t *packed;
	size_t plen;
	int i;

	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), st->r, 3, &s),
	                 0);
	check_shape(s, sizeof(CONTENT), 3);
	for (i = 0; i < 3; i++)
		open_ok(s, IDS[i], st->key[i], RID1, sizeof(RID1), CONTENT,
		        sizeof(CONTENT));

	/* Through the wire format and back: each still opens. */
	plen = art17__sealed__get_packed_size(s);
	assert_non_null(packed = malloc(plen));
	assert_int_equal(art17__sealed__pack(s, packed), plen);
	assert_non_null(u = art17__sealed__unpack(NULL, plen, packed));
	for (i = 0; i < 3; i++)
		open_ok(u, IDS[i], st->key[i], RID1, sizeof(RID1), CONTENT,
		        sizeof(CONTENT));
	art17__sealed__free_unpacked(u, NULL);
	free(packed);
	seal_free(s);
}

static void
test_not_addressed(void **state)
{
	struct staff *st = *state;
	Art17__Sealed *s = NULL;

	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), st->r, 3, &s),
	                 0);
	/* staff-D has a key, but the item was not sealed to staff-D. */
	open_fails(s, IDS[3], st->key[3], RID1, sizeof(RID1), A17_ENOTFOUND);
	/* Ids match exactly, not by prefix. */
	open_fails(s, "staff-", st->key[0], RID1, sizeof(RID1), A17_ENOTFOUND);
	open_fails(s, "staff-AA", st->key[0], RID1, sizeof(RID1),
	           A17_ENOTFOUND);
	open_fails(s, "STAFF-A", st->key[0], RID1, sizeof(RID1), A17_ENOTFOUND);
	seal_free(s);
}

static void
test_wrong_key(void **state)
{
	struct staff *st = *state;
	Art17__Sealed *s = NULL;
	seal_key *pubonly = NULL;

	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), st->r, 2, &s),
	                 0);
	/* staff-A's entry, staff-B's private key: the unwrap tag fails. */
	open_fails(s, IDS[0], st->key[1], RID1, sizeof(RID1), A17_EBADSIG);
	open_fails(s, IDS[1], st->key[0], RID1, sizeof(RID1), A17_EBADSIG);
	/* An outsider's key. */
	open_fails(s, IDS[0], st->key[3], RID1, sizeof(RID1), A17_EBADSIG);
	/* A public key cannot open anything. */
	assert_int_equal(seal_key_from_raw(st->pub[0], SEAL_PUB_LEN, &pubonly),
	                 0);
	assert_int_equal(seal_key_has_private(pubonly), 0);
	open_fails(s, IDS[0], pubonly, RID1, sizeof(RID1), A17_EINVAL);
	seal_key_free(pubonly);
	seal_free(s);
}

/* Flips every bit of b in turn; each time opening as id fails with rc. */
static void
flip_each_bit(const Art17__Sealed *s, ProtobufCBinaryData *b, const char *id,
              const seal_key *k, int rc)
{
	size_t i;
	int bit;

	assert_true(b->len > 0);
	for (i = 0; i < b->len; i++) {
		for (bit = 0; bit < 8; bit++) {
			b->data[i] ^= (uint8_t)(1u << bit);
			open_fails(s, id, k, RID1, sizeof(RID1), rc);
			b->data[i] ^= (uint8_t)(1u << bit);
		}
	}
}

static void
test_tamper(void **state)
{
	struct staff *st = *state;
	Art17__Sealed *s = NULL;
	Art17__WrappedKey *w;
	char *saved;

	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), st->r, 2, &s),
	                 0);
	w = s->keys[0];
	flip_each_bit(s, &s->ciphertext, IDS[0], st->key[0], A17_EBADSIG);
	flip_each_bit(s, &s->tag, IDS[0], st->key[0], A17_EBADSIG);
	flip_each_bit(s, &s->nonce, IDS[0], st->key[0], A17_EBADSIG);
	flip_each_bit(s, &w->wrapped, IDS[0], st->key[0], A17_EBADSIG);
	flip_each_bit(s, &w->tag, IDS[0], st->key[0], A17_EBADSIG);
	flip_each_bit(s, &w->nonce, IDS[0], st->key[0], A17_EBADSIG);
	/*
	 * Every bit of eph_pub, the top bit that X25519 ignores included:
	 * eph_pub is in the HKDF salt.
	 */
	flip_each_bit(s, &w->eph_pub, IDS[0], st->key[0], A17_EBADSIG);
	/* Everything restored: both still open. */
	open_ok(s, IDS[0], st->key[0], RID1, sizeof(RID1), CONTENT,
	        sizeof(CONTENT));
	open_ok(s, IDS[1], st->key[1], RID1, sizeof(RID1), CONTENT,
	        sizeof(CONTENT));

	/* A zero eph_pub (a small-order point) is refused, not used. */
	{
		uint8_t keep[SEAL_PUB_LEN];
		memcpy(keep, w->eph_pub.data, SEAL_PUB_LEN);
		memset(w->eph_pub.data, 0, SEAL_PUB_LEN);
		open_fails(s, IDS[0], st->key[0], RID1, sizeof(RID1),
		           A17_EBADSIG);
		memcpy(w->eph_pub.data, keep, SEAL_PUB_LEN);
	}

	/*
	 * Re-addressing: staff-A's entry relabelled as staff-D. Even with
	 * staff-A's key it fails, since staff_id is bound in.
	 */
	saved = w->staff_id;
	w->staff_id = (char *)IDS[3];
	open_fails(s, IDS[3], st->key[0], RID1, sizeof(RID1), A17_EBADSIG);
	/* Two entries for one id are refused as malformed. */
	w->staff_id = (char *)IDS[1];
	open_fails(s, IDS[1], st->key[1], RID1, sizeof(RID1), A17_EMALFORMED);
	w->staff_id = saved;

	/* Swapping wrapped keys between the two entries. */
	{
		ProtobufCBinaryData t = s->keys[0]->wrapped;
		s->keys[0]->wrapped = s->keys[1]->wrapped;
		s->keys[1]->wrapped = t;
		open_fails(s, IDS[0], st->key[0], RID1, sizeof(RID1),
		           A17_EBADSIG);
		open_fails(s, IDS[1], st->key[1], RID1, sizeof(RID1),
		           A17_EBADSIG);
		s->keys[1]->wrapped = s->keys[0]->wrapped;
		s->keys[0]->wrapped = t;
	}
	open_ok(s, IDS[0], st->key[0], RID1, sizeof(RID1), CONTENT,
	        sizeof(CONTENT));
	seal_free(s);
}

/* A content key wrapped for one seal does not open another. */
static void
test_mix_seals(void **state)
{
	struct staff *st = *state;
	Art17__Sealed *a = NULL, *b = NULL;
	Art17__WrappedKey *t;

	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), st->r, 1, &a),
	                 0);
	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), st->r, 1, &b),
	                 0);
	t = a->keys[0];
	a->keys[0] = b->keys[0];
	b->keys[0] = t;
	open_fails(a, IDS[0], st->key[0], RID1, sizeof(RID1), A17_EBADSIG);
	open_fails(b, IDS[0], st->key[0], RID1, sizeof(RID1), A17_EBADSIG);
	seal_free(a);
	seal_free(b);
}

/*
 * Every shorter length of b, no data at all, and one byte longer: each
 * fails (rc_short, rc_long); b is restored afterwards.
 */
static void
truncate_field(const Art17__Sealed *s, ProtobufCBinaryData *b,
               const seal_key *k, int rc_short, int rc_long)
{
	ProtobufCBinaryData keep = *b;
	uint8_t *longer;
	size_t n;

	for (n = 0; n < keep.len; n++) {
		b->len = n;
		open_fails(s, IDS[0], k, RID1, sizeof(RID1), rc_short);
	}
	/* An empty field as protobuf-c decodes it: no data at all. */
	b->data = NULL;
	b->len = 0;
	open_fails(s, IDS[0], k, RID1, sizeof(RID1), rc_short);
	/* One byte too many. */
	assert_non_null(longer = malloc(keep.len + 1));
	memcpy(longer, keep.data, keep.len);
	longer[keep.len] = 0;
	b->data = longer;
	b->len = keep.len + 1;
	open_fails(s, IDS[0], k, RID1, sizeof(RID1), rc_long);
	free(longer);
	*b = keep;
}

static void
test_truncation(void **state)
{
	struct staff *st = *state;
	Art17__Sealed *s = NULL, *u;
	Art17__WrappedKey *w;
	seal_key *k = st->key[0];
	uint8_t *packed, *cut;
	size_t plen, n;

	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), st->r, 1, &s),
	                 0);
	w = s->keys[0];
	/* Fixed-length fields: any other length is malformed. */
	truncate_field(s, &s->nonce, k, A17_EMALFORMED, A17_EMALFORMED);
	truncate_field(s, &s->tag, k, A17_EMALFORMED, A17_EMALFORMED);
	truncate_field(s, &w->eph_pub, k, A17_EMALFORMED, A17_EMALFORMED);
	truncate_field(s, &w->nonce, k, A17_EMALFORMED, A17_EMALFORMED);
	truncate_field(s, &w->wrapped, k, A17_EMALFORMED, A17_EMALFORMED);
	truncate_field(s, &w->tag, k, A17_EMALFORMED, A17_EMALFORMED);
	/* The ciphertext has any length; a cut one fails the tag. */
	truncate_field(s, &s->ciphertext, k, A17_EBADSIG, A17_EBADSIG);
	open_ok(s, IDS[0], k, RID1, sizeof(RID1), CONTENT, sizeof(CONTENT));

	/*
	 * Every truncation of the packed message either does not decode or
	 * does not open; none yields plaintext.
	 */
	plen = art17__sealed__get_packed_size(s);
	assert_non_null(packed = malloc(plen));
	assert_int_equal(art17__sealed__pack(s, packed), plen);
	for (n = 0; n < plen; n++) {
		/* A private copy of exactly n bytes, so ASan sees overreads. */
		assert_non_null(cut = malloc(n > 0 ? n : 1));
		memcpy(cut, packed, n);
		u = art17__sealed__unpack(NULL, n, cut);
		if (u != NULL) {
			uint8_t *pt = NULL;
			size_t len = 0;
			int rv = seal_open(u, IDS[0], k, RID1, sizeof(RID1),
			                   &pt, &len);
			assert_true(rv == A17_ENOTFOUND ||
			            rv == A17_EMALFORMED || rv == A17_EBADSIG);
			assert_null(pt);
			art17__sealed__free_unpacked(u, NULL);
		}
		free(cut);
	}
	free(packed);
	seal_free(s);
}

static void
test_wrong_aad(void **state)
{
	struct staff *st = *state;
	Art17__Sealed *s = NULL;
	static const uint8_t longer[] = "req-0001\0x";

	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), st->r, 2, &s),
	                 0);
	/* The same blob under another request id. */
	open_fails(s, IDS[0], st->key[0], RID2, sizeof(RID2), A17_EBADSIG);
	open_fails(s, IDS[0], st->key[0], NULL, 0, A17_EBADSIG);
	open_fails(s, IDS[0], st->key[0], RID1, sizeof(RID1) - 1, A17_EBADSIG);
	open_fails(s, IDS[0], st->key[0], longer, sizeof(longer), A17_EBADSIG);
	open_ok(s, IDS[0], st->key[0], RID1, sizeof(RID1), CONTENT,
	        sizeof(CONTENT));
	seal_free(s);

	/* No AAD at all is allowed, and then any AAD is wrong. */
	assert_int_equal(
	    seal_content(CONTENT, sizeof(CONTENT), NULL, 0, st->r, 1, &s), 0);
	open_ok(s, IDS[0], st->key[0], NULL, 0, CONTENT, sizeof(CONTENT));
	open_fails(s, IDS[0], st->key[0], RID1, sizeof(RID1), A17_EBADSIG);
	seal_free(s);
}

static void
test_empty_content(void **state)
{
	struct staff *st = *state;
	Art17__Sealed *s = NULL;

	assert_int_equal(
	    seal_content(NULL, 0, RID1, sizeof(RID1), st->r, 2, &s), 0);
	check_shape(s, 0, 2);
	open_ok(s, IDS[0], st->key[0], RID1, sizeof(RID1), NULL, 0);
	open_ok(s, IDS[1], st->key[1], RID1, sizeof(RID1), NULL, 0);
	/* Still authenticated: the tag and the AAD are checked. */
	open_fails(s, IDS[0], st->key[0], RID2, sizeof(RID2), A17_EBADSIG);
	s->tag.data[0] ^= 1;
	open_fails(s, IDS[0], st->key[0], RID1, sizeof(RID1), A17_EBADSIG);
	s->tag.data[0] ^= 1;
	seal_free(s);

	/* A non-NULL pointer with length 0 is the same thing. */
	assert_int_equal(
	    seal_content(CONTENT, 0, RID1, sizeof(RID1), st->r, 1, &s), 0);
	open_ok(s, IDS[0], st->key[0], RID1, sizeof(RID1), NULL, 0);
	seal_free(s);
}

static void
test_fresh(void **state)
{
	struct staff *st = *state;
	Art17__Sealed *a = NULL, *b = NULL;

	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), st->r, 2, &a),
	                 0);
	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), st->r, 2, &b),
	                 0);
	assert_memory_not_equal(a->nonce.data, b->nonce.data, SEAL_IV_LEN);
	assert_memory_not_equal(a->ciphertext.data, b->ciphertext.data,
	                        sizeof(CONTENT));
	assert_memory_not_equal(a->tag.data, b->tag.data, SEAL_TAG_LEN);
	assert_memory_not_equal(a->keys[0]->eph_pub.data,
	                        b->keys[0]->eph_pub.data, SEAL_PUB_LEN);
	assert_memory_not_equal(a->keys[0]->wrapped.data,
	                        b->keys[0]->wrapped.data, SEAL_CEK_LEN);
	assert_memory_not_equal(a->keys[0]->nonce.data, b->keys[0]->nonce.data,
	                        SEAL_IV_LEN);
	/* Within one seal, each recipient has its own ephemeral key. */
	assert_memory_not_equal(a->keys[0]->eph_pub.data,
	                        a->keys[1]->eph_pub.data, SEAL_PUB_LEN);
	assert_memory_not_equal(a->keys[0]->wrapped.data,
	                        a->keys[1]->wrapped.data, SEAL_CEK_LEN);
	seal_free(a);
	seal_free(b);
}

static void
test_bad_args(void **state)
{
	struct staff *st = *state;
	Art17__Sealed dummy, *s = &dummy, *ok = NULL;
	seal_recipient r[2];
	uint8_t zero[SEAL_PUB_LEN] = {0}, *pt = NULL, *big;
	char longid[SEAL_MAX_STAFF_ID + 2];
	size_t n = 0;

	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';

	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), st->r, 1, NULL),
	                 A17_EINVAL);
	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), st->r, 0, &s),
	                 A17_EINVAL);
	assert_null(s);
	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), NULL, 1, &s),
	                 A17_EINVAL);
	assert_int_equal(
	    seal_content(NULL, 5, RID1, sizeof(RID1), st->r, 1, &s),
	    A17_EINVAL);
	assert_int_equal(
	    seal_content(CONTENT, sizeof(CONTENT), NULL, 5, st->r, 1, &s),
	    A17_EINVAL);

	/* Staff ids: present, non-empty, bounded, one entry per person. */
	r[0] = st->r[0];
	r[1] = st->r[1];
	r[1].staff_id = NULL;
	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), r, 2, &s),
	                 A17_EINVAL);
	r[1].staff_id = "";
	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), r, 2, &s),
	                 A17_EINVAL);
	r[1].staff_id = longid;
	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), r, 2, &s),
	                 A17_EINVAL);
	longid[SEAL_MAX_STAFF_ID] = '\0'; /* exactly the maximum is fine */
	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), r, 2, &ok),
	                 0);
	open_ok(ok, longid, st->key[1], RID1, sizeof(RID1), CONTENT,
	        sizeof(CONTENT));
	seal_free(ok);
	r[1].staff_id = IDS[0];
	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), r, 2, &s),
	                 A17_EINVAL);
	/* Public keys: present, and one X25519 accepts. */
	r[1] = st->r[1];
	r[1].x25519_pub = NULL;
	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), r, 2, &s),
	                 A17_EINVAL);
	r[1].x25519_pub = zero;
	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), r, 2, &s),
	                 A17_EINVAL);
	assert_null(s);

	/* Limits. */
	assert_non_null(big = calloc(1, SEAL_MAX_CONTENT + 1));
	assert_int_equal(seal_content(big, SEAL_MAX_CONTENT + 1, RID1,
	                              sizeof(RID1), st->r, 1, &s),
	                 A17_ETOOBIG);
	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), big,
	                              SEAL_MAX_AAD + 1, st->r, 1, &s),
	                 A17_ETOOBIG);
	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), st->r,
	                              SEAL_MAX_RECIPIENTS + 1, &s),
	                 A17_ETOOBIG);
	assert_null(s);
	/* The largest content round-trips. */
	big[0] = 1;
	big[SEAL_MAX_CONTENT - 1] = 2;
	assert_int_equal(seal_content(big, SEAL_MAX_CONTENT, RID1, sizeof(RID1),
	                              st->r, 1, &ok),
	                 0);
	open_ok(ok, IDS[0], st->key[0], RID1, sizeof(RID1), big,
	        SEAL_MAX_CONTENT);
	open_fails(ok, IDS[0], st->key[0], big, SEAL_MAX_AAD + 1, A17_ETOOBIG);
	seal_free(ok);
	free(big);

	/* seal_open arguments. */
	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), st->r, 1, &ok),
	                 0);
	open_fails(NULL, IDS[0], st->key[0], RID1, sizeof(RID1), A17_EINVAL);
	open_fails(ok, NULL, st->key[0], RID1, sizeof(RID1), A17_EINVAL);
	open_fails(ok, "", st->key[0], RID1, sizeof(RID1), A17_EINVAL);
	open_fails(ok, IDS[0], NULL, RID1, sizeof(RID1), A17_EINVAL);
	open_fails(ok, IDS[0], st->key[0], NULL, 3, A17_EINVAL);
	assert_int_equal(
	    seal_open(ok, IDS[0], st->key[0], RID1, sizeof(RID1), NULL, &n),
	    A17_EINVAL);
	assert_int_equal(
	    seal_open(ok, IDS[0], st->key[0], RID1, sizeof(RID1), &pt, NULL),
	    A17_EINVAL);
	assert_null(pt);
	seal_free(ok);
	seal_plaintext_free(NULL, 0);
}

static mode_t
file_mode(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return (sb.st_mode & 07777);
}

static void
test_keys(void **state)
{
	seal_key *k = NULL, *k2 = NULL, *kpriv = NULL, *kpub = NULL, *l = NULL;
	a17_key *ed = NULL;
	char ppriv[PATH_MAX], ppub[PATH_MAX], p[PATH_MAX];
	uint8_t a[SEAL_PUB_LEN], b[SEAL_PUB_LEN];
	seal_recipient r;
	Art17__Sealed *s = NULL;
	mode_t old;

	(void)state;
	tpath(ppriv, "seal.key");
	tpath(ppub, "seal.pub");
	assert_int_equal(seal_key_generate(&k), 0);
	assert_int_equal(seal_key_has_private(k), 1);
	assert_int_equal(seal_key_generate(NULL), A17_EINVAL);
	assert_int_equal(seal_key_has_private(NULL), 0);
	seal_key_free(NULL);

	/* The modes are exact whatever the umask. */
	old = umask(077);
	assert_int_equal(seal_key_save_private(k, ppriv), 0);
	assert_int_equal(seal_key_save_public(k, ppub), 0);
	umask(old);
	assert_int_equal(file_mode(ppriv), 0600);
	assert_int_equal(file_mode(ppub), 0644);

	assert_int_equal(seal_key_load(ppriv, &kpriv), 0);
	assert_int_equal(seal_key_has_private(kpriv), 1);
	assert_int_equal(seal_key_load(ppub, &kpub), 0);
	assert_int_equal(seal_key_has_private(kpub), 0);
	assert_int_equal(seal_key_raw_public(k, a), 0);
	assert_int_equal(seal_key_raw_public(kpriv, b), 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(seal_key_raw_public(kpub, b), 0);
	assert_memory_equal(a, b, sizeof(a));

	/* Sealed to the loaded public key, opened with the loaded private. */
	r.staff_id = "staff-A";
	r.x25519_pub = b;
	assert_int_equal(seal_content(CONTENT, sizeof(CONTENT), RID1,
	                              sizeof(RID1), &r, 1, &s),
	                 0);
	open_ok(s, "staff-A", kpriv, RID1, sizeof(RID1), CONTENT,
	        sizeof(CONTENT));
	seal_free(s);

	/* Never overwrites; the original stays. */
	assert_int_equal(seal_key_generate(&k2), 0);
	assert_int_equal(seal_key_save_private(k2, ppriv), A17_EEXIST);
	assert_int_equal(seal_key_save_public(k2, ppub), A17_EEXIST);
	assert_int_equal(seal_key_save_public(k2, ppriv), A17_EEXIST);
	assert_int_equal(seal_key_load(ppriv, &l), 0);
	assert_int_equal(seal_key_raw_public(l, b), 0);
	assert_memory_equal(a, b, sizeof(a));
	seal_key_free(l);
	l = NULL;

	/* A public-only key has no private part to save. */
	tpath(p, "nopriv.key");
	assert_int_equal(seal_key_save_private(kpub, p), A17_EINVAL);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(seal_key_save_private(k, "/nonexistent/dir/k"),
	                 A17_ENOTFOUND);
	assert_int_equal(seal_key_save_private(NULL, p), A17_EINVAL);
	assert_int_equal(seal_key_save_public(k, NULL), A17_EINVAL);

	/* A private key readable by group or others is refused. */
	assert_int_equal(chmod(ppriv, 0640), 0);
	assert_int_equal(seal_key_load(ppriv, &l), A17_EDENIED);
	assert_int_equal(chmod(ppriv, 0604), 0);
	assert_int_equal(seal_key_load(ppriv, &l), A17_EDENIED);
	assert_int_equal(chmod(ppriv, 0400), 0);
	assert_int_equal(seal_key_load(ppriv, &l), 0);
	seal_key_free(l);
	l = NULL;

	/* An Ed25519 identity key is not a sealing key. */
	assert_int_equal(crypto_key_generate(&ed), 0);
	tpath(p, "ed.key");
	assert_int_equal(crypto_key_save_private(ed, p), 0);
	assert_int_equal(seal_key_load(p, &l), A17_EINVAL);
	tpath(p, "ed.pub");
	assert_int_equal(crypto_key_save_public(ed, p), 0);
	assert_int_equal(seal_key_load(p, &l), A17_EINVAL);
	crypto_key_free(ed);
	/* Missing files, directories, bad arguments. */
	tpath(p, "missing.pem");
	assert_int_equal(seal_key_load(p, &l), A17_ENOTFOUND);
	assert_int_equal(seal_key_load(tmpdir, &l), A17_EINVAL);
	assert_int_equal(seal_key_load(NULL, &l), A17_EINVAL);
	assert_null(l);

	/* Raw public keys. */
	assert_int_equal(seal_key_from_raw(a, 31, &l), A17_EINVAL);
	assert_int_equal(seal_key_from_raw(NULL, 32, &l), A17_EINVAL);
	assert_null(l);
	assert_int_equal(seal_key_raw_public(NULL, b), A17_EINVAL);

	seal_key_free(k2);
	seal_key_free(kpub);
	seal_key_free(kpriv);
	seal_key_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_roundtrip_one, staff_setup,
	                                    staff_teardown),
	    cmocka_unit_test_setup_teardown(test_roundtrip_three, staff_setup,
	                                    staff_teardown),
	    cmocka_unit_test_setup_teardown(test_not_addressed, staff_setup,
	                                    staff_teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_key, staff_setup,
	                                    staff_teardown),
	    cmocka_unit_test_setup_teardown(test_tamper, staff_setup,
	                                    staff_teardown),
	    cmocka_unit_test_setup_teardown(test_mix_seals, staff_setup,
	                                    staff_teardown),
	    cmocka_unit_test_setup_teardown(test_truncation, staff_setup,
	                                    staff_teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_aad, staff_setup,
	                                    staff_teardown),
	    cmocka_unit_test_setup_teardown(test_empty_content, staff_setup,
	                                    staff_teardown),
	    cmocka_unit_test_setup_teardown(test_fresh, staff_setup,
	                                    staff_teardown),
	    cmocka_unit_test_setup_teardown(test_bad_args, staff_setup,
	                                    staff_teardown),
	    cmocka_unit_test(test_keys),
	};

	return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}
