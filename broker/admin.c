/*
 * admin.c: the coordinator endpoint, REP on ipc://<datadir>/admin.sock.
 *
 * Every request is an Envelope signed by a coordinator key found in
 * <pki>/coordinators/<name>/id.pub; the socket file is mode 0600. Replies
 * are unsigned (local socket). One thread serves requests in order.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "broker.h"
#include "gate.h"
#include "seal.h"
#include "err.h"
#include "log.h"
#include "wire.h"

#define STATEMENT_17_3                                                         \
	"This is a request for cooperation, such as the provision of "         \
	"information, under Article 17(3) of the Cybersecurity Basic Act, "    \
	"made in accordance with Article 23(1) of the Council Rules."

static pthread_t admin_thr;
static int admin_started;

static int
coord_keyfn(void *arg, const uint8_t *kid, size_t len, const a17_key **k)
{
	broker *b = arg;

	(void)len;
	for (size_t i = 0; i < b->n_coords; i++)
		if (memcmp(crypto_key_id(b->coords[i].key), kid,
		           A17_KEYID_LEN) == 0) {
			*k = b->coords[i].key;
			return 0;
		}
	return A17_EUNKNOWNKEY;
}

static const char *
coord_name(broker *b, const uint8_t *kid)
{
	for (size_t i = 0; i < b->n_coords; i++)
		if (memcmp(crypto_key_id(b->coords[i].key), kid,
		           A17_KEYID_LEN) == 0)
			return b->coords[i].name;
	return "?";
}

/* Loads every <pki>/coordinators/<name>/id.pub. */
static int
load_coordinators(broker *b)
{
	char dir[4096], path[4400];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/coordinators", b->cfg.pkidir);
	if ((d = opendir(dir)) == NULL) {
		log_warnx("no coordinators in %s: the admin endpoint will "
		          "refuse every command",
		          dir);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		a17_key *k;
		coordinator *n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/id.pub", dir, de->d_name);
		if (crypto_key_load(path, &k) != 0)
			continue;
		n = realloc(b->coords, (b->n_coords + 1) * sizeof(*n));
		if (n == NULL) {
			crypto_key_free(k);
			closedir(d);
			return A17_ENOMEM;
		}
		b->coords = n;
		b->coords[b->n_coords].name = strdup(de->d_name);
		b->coords[b->n_coords].key = k;
		b->n_coords++;
		log_info("coordinator %s loaded", de->d_name);
	}
	closedir(d);
	return 0;
}

static void
reply_error(Art17__AdminReply *r, int rv, const char *msgid, const char *det)
{
	switch (rv) {
	case A17_ENOTFOUND:
		r->code = ART17__ERR_CODE__ERR_NOT_FOUND;
		break;
	case A17_EEXIST:
		r->code = ART17__ERR_CODE__ERR_EXISTS;
		break;
	case A17_EINVAL:
		r->code = ART17__ERR_CODE__ERR_INVALID;
		break;
	case A17_EDENIED:
		r->code = ART17__ERR_CODE__ERR_REFUSED;
		break;
	default:
		r->code = ART17__ERR_CODE__ERR_INTERNAL;
		break;
	}
	r->msg_code = strdup(msgid);
	r->detail = strdup(det ? det : a17_strerror(rv));
}

/* ------------------------------------------------------------ members */

static int
list_members(broker *b, const char *only, Art17__AdminReply *r)
{
	store_txn t;
	store_iter it;
	MDB_val k, v;
	int rv;

	if ((rv = store_txn_begin(b->st, &t, 1)) != 0)
		return rv;
	if ((rv = store_iter_begin(&t, DB_MEMBERS, NULL, 0, &it)) != 0) {
		store_txn_abort(&t);
		return rv;
	}
	while ((rv = store_iter_next(&it, &k, &v)) == 1) {
		Art17__MemberRecord *m, **n;

		m = art17__member_record__unpack(NULL, v.mv_size, v.mv_data);
		if (m == NULL) {
			rv = A17_ECORRUPT;
			break;
		}
		if (only != NULL && strcmp(only, m->member_id) != 0) {
			art17__member_record__free_unpacked(m, NULL);
			continue;
		}
		n = realloc(r->members, (r->n_members + 1) * sizeof(*n));
		if (n == NULL) {
			art17__member_record__free_unpacked(m, NULL);
			rv = A17_ENOMEM;
			break;
		}
		r->members = n;
		r->members[r->n_members++] = m;
	}
	store_iter_end(&it);
	store_txn_abort(&t);
	if (rv < 0)
		return rv;
	if (only != NULL && r->n_members == 0)
		return A17_ENOTFOUND;
	return 0;
}

/* ------------------------------------------------------------ issuing */

typedef struct issue_op {
	Art17__RequestRecord rec;
	const char *coord;
	uint32_t *nos;
	uint64_t *seqs;
	size_t n;
	const char **ids;
	/* filled by apply: the gate's verdict per candidate */
	reg_verdict *verdicts;
	Art17__Sealed **sealed; /* secret items: one per candidate */
	size_t n_included;
} issue_op;

static void
put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/*
 * The gate decides recipient by recipient inside the same transaction
 * that stores the copies, so no consent or flag change can slip between
 * the decision and the commit. Every decision is audited. When nobody is
 * eligible nothing is stored but the audit entries.
 */
static int
apply_issue(store_txn *t, void *arg)
{
	issue_op *op = arg;
	int64_t now = op->rec.issued_ms;
	const char *rid = op->rec.request_id;
	uint8_t *buf, b8[8];
	size_t len;
	store_key k;
	int rv;

	op->n_included = 0;
	for (size_t i = 0; i < op->n; i++) {
		reg_verdict *v = &op->verdicts[i];

		if ((rv = reg_gate(t, op->rec.kind, op->rec.incident_id,
		                   op->rec.exercise, op->nos[i], now, v)) != 0)
			return rv;
		if (v->allow)
			op->n_included++;
		audit_append(
		    t, op->coord, v->allow ? "gate.allow" : "gate.deny",
		    op->ids[i], op->rec.exercise,
		    "request %s (%s) incident %s: %s: %s", rid,
		    op->rec.kind == ART17__ITEM_KIND__KIND_COOPERATION_REQUEST
		        ? "cooperation request"
		        : "information share",
		    op->rec.incident_id, gate_reason_code(v->reason),
		    gate_reason_text(v->reason));
	}
	if (op->n_included == 0) {
		audit_append(t, op->coord, "request.refused", rid,
		             op->rec.exercise,
		             "request %s refused: no member is eligible", rid);
		return t->rv;
	}
	op->rec.n_copies = (uint32_t)op->n_included;
	len = art17__request_record__get_packed_size(&op->rec);
	if ((buf = malloc(len)) == NULL)
		return A17_ENOMEM;
	art17__request_record__pack(&op->rec, buf);
	store_key_init(&k);
	store_key_u64(&k, op->rec.request_no);
	store_put(t, DB_REQUESTS, &k, buf, len);
	free(buf);
	store_key_init(&k);
	store_key_str(&k, rid);
	put_be64(b8, op->rec.request_no);
	store_put(t, DB_REQIDS, &k, b8, 8);
	if (op->rec.fingerprint.len == A17_SHA256_LEN) {
		store_key_init(&k);
		store_key_u8(&k, 1);
		store_key_bytes(&k, op->rec.fingerprint.data, A17_SHA256_LEN);
		store_put(t, DB_FPRINT, &k, rid, strlen(rid));
	}
	audit_append(t, op->coord, "request.issue", rid, op->rec.exercise,
	             "request %s \"%s\" issued for incident %s to %zu of %zu "
	             "members",
	             rid, op->rec.title, op->rec.incident_id, op->n_included,
	             op->n);

	for (size_t i = 0; i < op->n; i++) {
		Art17__DeliveryRecord d = ART17__DELIVERY_RECORD__INIT;
		Art17__Ground g = ART17__GROUND__INIT;
		reg_verdict *v = &op->verdicts[i];

		if (!v->allow)
			continue;
		d.request_no = op->rec.request_no;
		d.request_id = op->rec.request_id;
		d.state = ART17__DELIVERY_STATE__DS_QUEUED;
		d.queued_ms = now;
		d.member_id = (char *)op->ids[i];
		g.kind = v->ground;
		g.incident_id = op->rec.incident_id;
		g.declared_ms = v->declared_ms;
		g.consent_ref = v->consent_ref;
		d.ground = &g;
		d.sealed = op->sealed ? op->sealed[i] : NULL;
		reg_put_delivery(t, op->nos[i], op->seqs[i], &d);
		store_key_init(&k);
		store_key_u64(&k, op->rec.request_no);
		store_key_u32(&k, op->nos[i]);
		put_be64(b8, op->seqs[i]);
		store_put(t, DB_BYCOPY, &k, b8, 8);
	}
	return t->rv;
}

static Art17__CopyStatus *
copy_status_new(const char *mid, uint64_t seq, Art17__DeliveryState st,
                int64_t queued, const char *reason)
{
	Art17__CopyStatus *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	art17__copy_status__init(c);
	c->member_id = strdup(mid);
	c->seq = seq;
	c->state = st;
	c->queued_ms = queued;
	c->reason = strdup(reason ? reason : "");
	return c;
}

/*
 * Seals the content of a secret item once per candidate member, to that
 * member's staff who have a system account and are in force now. A
 * member with nobody to seal to makes the whole issue fail, named.
 */
static int
seal_for_members(broker *b, issue_op *op, const char *reqid,
                 const Art17__IssueRequest *in, char *err, size_t errlen)
{
	store_txn t;
	int64_t now = wire_now_ms();
	int rv;

	if ((op->sealed = calloc(op->n, sizeof(*op->sealed))) == NULL)
		return A17_ENOMEM;
	if ((rv = store_txn_begin(b->st, &t, 1)) != 0)
		return rv;
	for (size_t i = 0; i < op->n; i++) {
		staff_key *sk = NULL;
		seal_recipient *rc;
		size_t n = 0;

		if ((rv = staff_eligible(&t, op->nos[i], now, &sk, &n)) != 0)
			break;
		if (n == 0) {
			snprintf(
			    err, errlen,
			    "member %s has no registered staff with a system "
			    "account to seal secret content to; nothing was "
			    "sent",
			    op->ids[i]);
			free(sk);
			rv = A17_EDENIED;
			break;
		}
		if ((rc = calloc(n, sizeof(*rc))) == NULL) {
			free(sk);
			rv = A17_ENOMEM;
			break;
		}
		for (size_t j = 0; j < n; j++) {
			rc[j].staff_id = sk[j].staff_id;
			rc[j].x25519_pub = sk[j].pub;
		}
		rv = seal_content(in->content.data, in->content.len,
		                  (const uint8_t *)reqid, strlen(reqid), rc, n,
		                  &op->sealed[i]);
		free(rc);
		free(sk);
		if (rv != 0) {
			snprintf(err, errlen, "sealing for %s: %s", op->ids[i],
			         a17_strerror(rv));
			break;
		}
	}
	store_txn_abort(&t);
	return rv;
}

/* SHA-256 of the content, lower-cased, white space runs folded to one
 * space and trimmed at both ends. */
static void
content_fingerprint(const uint8_t *p, size_t n, uint8_t out[A17_SHA256_LEN])
{
	uint8_t *norm = malloc(n ? n : 1);
	size_t m = 0;
	int space = 0;

	if (norm == NULL) {
		crypto_sha256(p, n, out);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			space = m > 0;
			continue;
		}
		if (space)
			norm[m++] = ' ';
		space = 0;
		norm[m++] = (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
	}
	crypto_sha256(norm, m, out);
	free(norm);
}

/* Was this fingerprint shared before? Names the earlier request. */
static int
fingerprint_seen(broker *b, const uint8_t *fp, char *earlier, size_t len)
{
	store_txn t;
	store_key k;
	MDB_val v;
	int seen = 0;

	if (store_txn_begin(b->st, &t, 1) != 0)
		return 0;
	store_key_init(&k);
	store_key_u8(&k, 1);
	store_key_bytes(&k, fp, A17_SHA256_LEN);
	if (store_get(&t, DB_FPRINT, &k, &v) == 0) {
		snprintf(earlier, len, "%.*s", (int)v.mv_size,
		         (const char *)v.mv_data);
		seen = 1;
	}
	store_txn_abort(&t);
	return seen;
}

static int
issue(broker *b, const char *coord, Art17__IssueRequest *in,
      Art17__AdminReply *r, char *err, size_t errlen)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__Request req = ART17__REQUEST__INIT;
	Art17__Marking mk = ART17__MARKING__INIT;
	uint8_t id[WIRE_MSGID_LEN], rnd[4];
	char reqid[64], hex[9];
	issue_op op;
	uint8_t *env = NULL, *bbuf = NULL;
	size_t envlen, blen;
	uint8_t hash[A17_SHA256_LEN], fp[A17_SHA256_LEN];
	int rv;

	memset(&op, 0, sizeof(op));
	art17__request_record__init(&op.rec);
	if (in->kind != ART17__ITEM_KIND__KIND_COOPERATION_REQUEST &&
	    in->kind != ART17__ITEM_KIND__KIND_INFORMATION_SHARE) {
		snprintf(err, errlen, "kind must be cooperation or share");
		return A17_EINVAL;
	}
	if (in->marking == NULL ||
	    in->marking->secret == ART17__SECRET__SECRET_UNSPECIFIED) {
		snprintf(
		    err, errlen,
		    "the secret flag must be stated explicitly (yes or no)");
		return A17_EINVAL;
	}
	if (in->marking->tlp == ART17__TLP__TLP_UNSPECIFIED ||
	    in->marking->scope == ART17__SCOPE__SCOPE_UNSPECIFIED) {
		snprintf(err, errlen,
		         "a TLP label and a sharing scope are "
		         "required");
		return A17_EINVAL;
	}
	if (in->title == NULL || in->title[0] == '\0') {
		snprintf(err, errlen, "a title is required");
		return A17_EINVAL;
	}
	if (in->incident_id == NULL || in->incident_id[0] == '\0') {
		snprintf(err, errlen, "an incident id is required");
		return A17_EINVAL;
	}

	/* recipients */
	pthread_mutex_lock(&b->mtx);
	op.n = in->n_to ? in->n_to : b->n_members;
	op.nos = calloc(op.n ? op.n : 1, sizeof(*op.nos));
	op.seqs = calloc(op.n ? op.n : 1, sizeof(*op.seqs));
	op.ids = calloc(op.n ? op.n : 1, sizeof(*op.ids));
	rv = (op.nos && op.seqs && op.ids) ? 0 : A17_ENOMEM;
	for (size_t i = 0, j = 0; rv == 0 && i < op.n; i++) {
		member *m = NULL;

		if (in->n_to) {
			if ((m = db_member_by_id(b, in->to[i])) == NULL) {
				snprintf(err, errlen, "no member '%s'",
				         in->to[i]);
				rv = A17_ENOTFOUND;
				break;
			}
			if (m->reporter) {
				snprintf(err, errlen,
				         "'%s' is a registered reporter, not a "
				         "member: it cannot receive items",
				         in->to[i]);
				rv = A17_EDENIED;
				break;
			}
		} else {
			/* skip numbers reserved by a failed add, and
			 * reporters, who are not members */
			while (j < b->n_members && (b->members[j] == NULL ||
			                            b->members[j]->reporter))
				j++;
			if (j >= b->n_members) {
				op.n = i;
				break;
			}
			m = b->members[j++];
		}
		op.nos[i] = m->no;
		op.ids[i] = m->id;
		op.seqs[i] = m->next_seq++;
	}
	op.rec.request_no = b->next_request_no++;
	pthread_mutex_unlock(&b->mtx);
	if (rv != 0)
		goto out;
	if (op.n == 0) {
		snprintf(err, errlen,
		         "no member is registered: nobody to "
		         "send to");
		rv = A17_EDENIED;
		goto out;
	}

	crypto_random(rnd, sizeof(rnd));
	snprintf(reqid, sizeof(reqid), "R%06llu-%s",
	         (unsigned long long)op.rec.request_no,
	         crypto_hex(rnd, sizeof(rnd), hex));
	if (in->marking->secret == ART17__SECRET__SECRET_YES &&
	    (rv = seal_for_members(b, &op, reqid, in, err, errlen)) != 0)
		goto out;

	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_REQUEST, "broker",
	                 in->exercise);
	mk.tlp = in->marking->tlp;
	mk.secret = in->marking->secret;
	mk.scope = in->marking->scope;
	mk.revision = 1;
	req.request_id = reqid;
	req.kind = in->kind;
	req.incident_id = in->incident_id;
	req.exercise = in->exercise;
	req.marking = &mk;
	req.title = in->title;
	/* secret content never travels or rests in the clear: it is in the
	 * per-member sealed blobs only */
	if (in->marking->secret != ART17__SECRET__SECRET_YES)
		req.content = in->content;
	req.issued_ms = hdr.time_ms;
	req.deadline_ms = in->deadline_ms;
	req.issued_by = (char *)coord;
	if (in->kind == ART17__ITEM_KIND__KIND_COOPERATION_REQUEST) {
		req.statement = STATEMENT_17_3;
	} else {
		req.statement = "Information sharing. Any feedback is "
		                "voluntary.";
		req.feedback_voluntary = 1;
	}
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_REQUEST;
	body.request = &req;
	/* signed once for every recipient */
	blen = art17__body__get_packed_size(&body);
	if ((bbuf = malloc(blen)) == NULL) {
		rv = A17_ENOMEM;
		goto out;
	}
	art17__body__pack(&body, bbuf);
	crypto_sha256(bbuf, blen, hash);
	/* RULES Q17: no repeated sharing. The fingerprint is over the
	 * content with case and runs of white space folded; secret content
	 * is not fingerprinted (not even a hash of it rests on disk). */
	if (in->marking->secret != ART17__SECRET__SECRET_YES) {
		char earlier[64];

		content_fingerprint(in->content.data, in->content.len, fp);
		if (fingerprint_seen(b, fp, earlier, sizeof(earlier)) &&
		    !in->force) {
			snprintf(
			    err, errlen,
			    "this content was already shared as %s "
			    "(the same text, up to case and spacing); the "
			    "council does not re-share (RULES Q17). Nothing "
			    "was sent; repeat with --force to share it "
			    "again",
			    earlier);
			rv = A17_EEXIST;
			goto out;
		}
	}
	if ((rv = wire_seal_bytes(bbuf, blen, b->sign_key, &env, &envlen)) !=
	    0) {
		snprintf(err, errlen, "sealing the request: %s",
		         a17_strerror(rv));
		goto out;
	}
	for (size_t i = 0; op.sealed && i < op.n; i++) {
		size_t sz = art17__sealed__get_packed_size(op.sealed[i]);

		if (envlen + sz > WIRE_MAX_MSG - 64 * 1024) {
			snprintf(
			    err, errlen,
			    "the sealed item for %s is too large to deliver: "
			    "%zu bytes, the limit is %d",
			    op.ids[i], envlen + sz, WIRE_MAX_MSG - 64 * 1024);
			rv = A17_EINVAL;
			goto out;
		}
	}
	if (envlen > WIRE_MAX_MSG - 64 * 1024) {
		snprintf(
		    err, errlen,
		    "the request is too large to deliver: %zu bytes signed, "
		    "the limit is %d",
		    envlen, WIRE_MAX_MSG - 64 * 1024);
		rv = A17_EINVAL;
		goto out;
	}
	op.rec.request_id = reqid;
	op.rec.envelope.data = env;
	op.rec.envelope.len = envlen;
	op.rec.issued_ms = req.issued_ms;
	op.rec.n_copies = (uint32_t)op.n;
	op.rec.title = in->title;
	op.rec.kind = in->kind;
	op.rec.exercise = in->exercise;
	op.rec.body_hash.data = hash;
	op.rec.body_hash.len = sizeof(hash);
	op.rec.incident_id = in->incident_id;
	op.rec.deadline_ms = in->deadline_ms;
	op.rec.marking = &mk;
	if (in->marking->secret != ART17__SECRET__SECRET_YES) {
		op.rec.fingerprint.data = fp;
		op.rec.fingerprint.len = sizeof(fp);
	}

	op.coord = coord;
	op.verdicts = calloc(op.n, sizeof(*op.verdicts));
	if (op.verdicts == NULL) {
		rv = A17_ENOMEM;
		goto out;
	}
	if ((rv = store_writer_run(b->wr, apply_issue, &op)) != 0) {
		snprintf(err, errlen, "storing the request: %s",
		         a17_strerror(rv));
		goto out;
	}

	r->issued = calloc(1, sizeof(*r->issued));
	if (r->issued != NULL) {
		art17__issue_result__init(r->issued);
		r->issued->request_id = strdup(op.n_included ? reqid : "");
		r->issued->included = calloc(op.n, sizeof(void *));
		r->issued->excluded = calloc(op.n, sizeof(void *));
		for (size_t i = 0;
		     r->issued->included && r->issued->excluded && i < op.n;
		     i++) {
			reg_verdict *v = &op.verdicts[i];
			Art17__CopyStatus *c;
			char why[512];

			snprintf(why, sizeof(why), "%s: %s",
			         gate_reason_code(v->reason),
			         gate_reason_text(v->reason));
			c = copy_status_new(
			    op.ids[i], v->allow ? op.seqs[i] : 0,
			    v->allow ? ART17__DELIVERY_STATE__DS_QUEUED
			             : ART17__DELIVERY_STATE__DS_UNSPECIFIED,
			    req.issued_ms, why);
			if (c == NULL)
				break;
			if (v->allow)
				r->issued->included[r->issued->n_included++] =
				    c;
			else
				r->issued->excluded[r->issued->n_excluded++] =
				    c;
		}
	}
	if (op.n_included == 0) {
		snprintf(
		    err, errlen,
		    "nobody is eligible: no member may receive this %s (see "
		    "the excluded list); nothing was sent",
		    in->kind == ART17__ITEM_KIND__KIND_COOPERATION_REQUEST
		        ? "cooperation request"
		        : "information share");
		rv = A17_EDENIED;
		goto out;
	}
	log_info("request %s issued by %s to %zu of %zu members", reqid, coord,
	         op.n_included, op.n);

	/* the copies are durable: make them visible and wake held polls */
	pthread_mutex_lock(&b->mtx);
	for (size_t i = 0; i < op.n; i++) {
		member *m = b->members[op.nos[i]];

		if (op.verdicts[i].allow && m->last_seq < op.seqs[i])
			m->last_seq = op.seqs[i];
	}
	pthread_mutex_unlock(&b->mtx);
	net_kick_members(b, op.nos, op.n);
out:
	free(op.verdicts);
	for (size_t i = 0; op.sealed && i < op.n; i++)
		seal_free(op.sealed[i]);
	free(op.sealed);
	free(bbuf);
	free(env);
	free(op.nos);
	free(op.seqs);
	free((void *)op.ids);
	return rv;
}

/* ------------------------------------------------------------ status */

static int
lookup_request(store_txn *t, const char *reqid, uint64_t *no)
{
	store_key k;
	MDB_val v;
	int rv;

	store_key_init(&k);
	store_key_str(&k, reqid);
	if ((rv = store_get(t, DB_REQIDS, &k, &v)) != 0)
		return rv;
	if (v.mv_size != 8)
		return A17_ECORRUPT;
	*no = store_get_u64(v.mv_data);
	return 0;
}

static Art17__RequestRecord *
load_request(store_txn *t, uint64_t no)
{
	store_key k;
	MDB_val v;

	store_key_init(&k);
	store_key_u64(&k, no);
	if (store_get(t, DB_REQUESTS, &k, &v) != 0)
		return NULL;
	return art17__request_record__unpack(NULL, v.mv_size, v.mv_data);
}

static int
request_status(broker *b, const char *reqid, Art17__AdminReply *r)
{
	store_txn t;
	store_iter it;
	store_key p;
	MDB_val k, v;
	uint64_t no;
	int rv;

	if (reqid == NULL)
		return A17_EINVAL;
	if ((rv = store_txn_begin(b->st, &t, 1)) != 0)
		return rv;
	if ((rv = lookup_request(&t, reqid, &no)) != 0)
		goto out;
	if ((r->request = load_request(&t, no)) == NULL) {
		rv = A17_ECORRUPT;
		goto out;
	}
	/* the envelope is not needed by the CLI */
	free(r->request->envelope.data);
	r->request->envelope.data = NULL;
	r->request->envelope.len = 0;
	store_key_init(&p);
	store_key_u64(&p, no);
	if ((rv = store_iter_begin(&t, DB_BYCOPY, p.buf, p.len, &it)) != 0)
		goto out;
	while ((rv = store_iter_next(&it, &k, &v)) == 1) {
		uint32_t mno = store_get_u32((const uint8_t *)k.mv_data + 8);
		uint64_t seq = store_get_u64(v.mv_data);
		Art17__DeliveryRecord *d;
		Art17__CopyStatus *c, **n;
		store_key dk;
		MDB_val dv;

		db_delivery_key(&dk, mno, seq);
		if (store_get(&t, DB_DELIVERIES, &dk, &dv) != 0 ||
		    (d = art17__delivery_record__unpack(NULL, dv.mv_size,
		                                        dv.mv_data)) == NULL) {
			rv = A17_ECORRUPT;
			break;
		}
		c = calloc(1, sizeof(*c));
		n = realloc(r->copies, (r->n_copies + 1) * sizeof(*n));
		if (c == NULL || n == NULL) {
			free(c);
			if (n)
				r->copies = n;
			art17__delivery_record__free_unpacked(d, NULL);
			rv = A17_ENOMEM;
			break;
		}
		r->copies = n;
		art17__copy_status__init(c);
		c->member_id = strdup(d->member_id ? d->member_id : "");
		c->seq = seq;
		c->state = d->state;
		c->queued_ms = d->queued_ms;
		c->delivered_ms = d->delivered_ms;
		c->acked_ms = d->acked_ms;
		c->reason = strdup(d->reason ? d->reason : "");
		r->copies[r->n_copies++] = c;
		art17__delivery_record__free_unpacked(d, NULL);
	}
	store_iter_end(&it);
	if (rv > 0)
		rv = 0;
out:
	store_txn_abort(&t);
	return rv;
}

static int
request_list(broker *b, Art17__AdminReply *r)
{
	store_txn t;
	store_iter it;
	MDB_val k, v;
	int rv;

	if ((rv = store_txn_begin(b->st, &t, 1)) != 0)
		return rv;
	if ((rv = store_iter_begin(&t, DB_REQUESTS, NULL, 0, &it)) != 0) {
		store_txn_abort(&t);
		return rv;
	}
	while ((rv = store_iter_next(&it, &k, &v)) == 1) {
		Art17__RequestRecord *q, **n;

		q = art17__request_record__unpack(NULL, v.mv_size, v.mv_data);
		if (q == NULL) {
			rv = A17_ECORRUPT;
			break;
		}
		free(q->envelope.data);
		q->envelope.data = NULL;
		q->envelope.len = 0;
		n = realloc(r->requests, (r->n_requests + 1) * sizeof(*n));
		if (n == NULL) {
			art17__request_record__free_unpacked(q, NULL);
			rv = A17_ENOMEM;
			break;
		}
		r->requests = n;
		r->requests[r->n_requests++] = q;
	}
	store_iter_end(&it);
	store_txn_abort(&t);
	return rv < 0 ? rv : 0;
}

/* ------------------------------------------------------------ feedback */

static int
feedback_list(broker *b, const char *reqid, Art17__AdminReply *r)
{
	store_txn t;
	store_iter it;
	store_key p;
	MDB_val k, v;
	uint64_t no;
	int rv;

	if (reqid == NULL)
		return A17_EINVAL;
	if ((rv = store_txn_begin(b->st, &t, 1)) != 0)
		return rv;
	if ((rv = lookup_request(&t, reqid, &no)) != 0) {
		store_txn_abort(&t);
		return rv;
	}
	store_key_init(&p);
	store_key_u64(&p, no);
	if ((rv = store_iter_begin(&t, DB_FEEDBACK, p.buf, p.len, &it)) != 0) {
		store_txn_abort(&t);
		return rv;
	}
	while ((rv = store_iter_next(&it, &k, &v)) == 1) {
		uint32_t mno = store_get_u32((const uint8_t *)k.mv_data + 8);
		Art17__FeedbackEntry *e, **n;
		member *m;

		e = calloc(1, sizeof(*e));
		n = realloc(r->feedback, (r->n_feedback + 1) * sizeof(*n));
		if (e == NULL || n == NULL) {
			free(e);
			if (n)
				r->feedback = n;
			rv = A17_ENOMEM;
			break;
		}
		r->feedback = n;
		art17__feedback_entry__init(e);
		pthread_mutex_lock(&b->mtx);
		m = mno < b->n_members ? b->members[mno] : NULL;
		e->member_id = strdup(m ? m->id : "?");
		pthread_mutex_unlock(&b->mtx);
		e->feedback =
		    art17__feedback__unpack(NULL, v.mv_size, v.mv_data);
		r->feedback[r->n_feedback++] = e;
		if (e->feedback == NULL) {
			rv = A17_ECORRUPT;
			break;
		}
	}
	store_iter_end(&it);
	store_txn_abort(&t);
	return rv < 0 ? rv : 0;
}

/* ---------------------------------------------------- marking revisions */

typedef struct remark_op {
	const char *coord;
	Art17__MarkingRevision *in;
	uint64_t no;
	Art17__Marking newm;
	int exercise;
	uint8_t *env;  /* the signed revision, made once the new marking */
	size_t envlen; /* is known (inside apply: replay-safe) */
	uint32_t *nos; /* members holding a delivered copy */
	size_t n;
	char err[256];
} remark_op;

static int
apply_remark(store_txn *t, void *arg)
{
	remark_op *op = arg;
	Art17__RequestRecord *r;
	Art17__MarkingRevision mr = ART17__MARKING_REVISION__INIT;
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__Marking *old, *saved_m;
	ProtobufCBinaryData saved_env;
	uint8_t id[WIRE_MSGID_LEN], *buf;
	store_iter it;
	store_key k, p;
	MDB_val v, ck, cv;
	size_t len;
	int rv;

	free(op->env);
	op->env = NULL;
	op->n = 0;
	store_key_init(&k);
	store_key_u64(&k, op->no);
	if ((rv = store_get(t, DB_REQUESTS, &k, &v)) != 0)
		return rv;
	if ((r = art17__request_record__unpack(NULL, v.mv_size, v.mv_data)) ==
	    NULL)
		return A17_ECORRUPT;
	old = r->marking;
	art17__marking__init(&op->newm);
	op->newm.secret = old ? old->secret : ART17__SECRET__SECRET_NO;
	op->newm.tlp = op->in->marking && op->in->marking->tlp
	                   ? op->in->marking->tlp
	                   : (old ? old->tlp : ART17__TLP__TLP_AMBER);
	op->newm.scope = op->in->marking && op->in->marking->scope
	                     ? op->in->marking->scope
	                     : (old ? old->scope : ART17__SCOPE__SCOPE_MEMBERS);
	op->newm.revision = (old && old->revision ? old->revision : 1) + 1;
	op->exercise = r->exercise;
	/* the signed revision every holder of a copy receives */
	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_REVISION, "broker",
	                 r->exercise);
	mr.request_id = r->request_id;
	mr.marking = &op->newm;
	mr.reason = op->in->reason ? op->in->reason : "";
	mr.revised_by = (char *)op->coord;
	mr.revised_ms = wire_now_ms();
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_REVISION;
	body.revision = &mr;
	if ((rv = wire_seal(&body, a17b.sign_key, &op->env, &op->envlen)) !=
	    0) {
		art17__request_record__free_unpacked(r, NULL);
		return rv;
	}
	saved_m = r->marking;
	saved_env = r->revision_env;
	r->marking = &op->newm;
	r->revision_env.data = op->env;
	r->revision_env.len = op->envlen;
	len = art17__request_record__get_packed_size(r);
	if ((buf = malloc(len)) != NULL) {
		art17__request_record__pack(r, buf);
		store_put(t, DB_REQUESTS, &k, buf, len);
		free(buf);
	} else {
		t->rv = A17_ENOMEM;
	}
	r->marking = saved_m;
	r->revision_env = saved_env;
	audit_append(t, op->coord, "marking.revise", r->request_id, r->exercise,
	             "marking of %s revised to revision %u: TLP %d, scope "
	             "%d (was TLP %d, scope %d): %s",
	             r->request_id, op->newm.revision, op->newm.tlp,
	             op->newm.scope, old ? old->tlp : 0, old ? old->scope : 0,
	             mr.reason);
	/* who holds a copy now: they get the revision pushed */
	store_key_init(&p);
	store_key_u64(&p, op->no);
	if (store_iter_begin(t, DB_BYCOPY, p.buf, p.len, &it) == 0) {
		while (store_iter_next(&it, &ck, &cv) == 1) {
			uint32_t mno =
			    store_get_u32((const uint8_t *)ck.mv_data + 8);
			uint32_t *nn =
			    realloc(op->nos, (op->n + 1) * sizeof(*nn));

			if (nn == NULL)
				break;
			op->nos = nn;
			op->nos[op->n++] = mno;
		}
		store_iter_end(&it);
	}
	art17__request_record__free_unpacked(r, NULL);
	return t->rv;
}

static int
request_remark(broker *b, const char *coord, Art17__MarkingRevision *in,
               Art17__AdminReply *r, char *err, size_t errlen)
{
	remark_op op;
	store_txn t;
	int rv;

	memset(&op, 0, sizeof(op));
	if (in->marking == NULL ||
	    (in->marking->tlp == ART17__TLP__TLP_UNSPECIFIED &&
	     in->marking->scope == ART17__SCOPE__SCOPE_UNSPECIFIED)) {
		snprintf(err, errlen, "give a new TLP label or sharing scope");
		return A17_EINVAL;
	}
	if (in->marking->secret != ART17__SECRET__SECRET_UNSPECIFIED) {
		snprintf(err, errlen,
		         "the secret flag cannot be revised: "
		         "issue a new item instead");
		return A17_EINVAL;
	}
	if ((rv = store_txn_begin(b->st, &t, 1)) != 0)
		return rv;
	rv = lookup_request(&t, in->request_id ? in->request_id : "", &op.no);
	store_txn_abort(&t);
	if (rv != 0) {
		snprintf(err, errlen, "no request %s", in->request_id);
		return rv;
	}
	op.coord = coord;
	op.in = in;
	if ((rv = store_writer_run(b->wr, apply_remark, &op)) != 0) {
		snprintf(err, errlen, "revising %s: %s", in->request_id,
		         a17_strerror(rv));
		free(op.env);
		free(op.nos);
		return rv;
	}
	/* pushed with each holder's next Deliver; a copy not yet delivered
	 * carries it when it is (revision_env in the request record) */
	pthread_mutex_lock(&b->mtx);
	for (size_t i = 0; i < op.n; i++) {
		member *m =
		    op.nos[i] < b->n_members ? b->members[op.nos[i]] : NULL;
		revision *nr;
		uint8_t *copy;

		if (m == NULL || (copy = malloc(op.envlen)) == NULL)
			continue;
		memcpy(copy, op.env, op.envlen);
		if ((nr = realloc(m->rev, (m->n_rev + 1) * sizeof(*nr))) ==
		    NULL) {
			free(copy);
			continue;
		}
		m->rev = nr;
		m->rev[m->n_rev].env = copy;
		m->rev[m->n_rev].len = op.envlen;
		m->n_rev++;
	}
	pthread_mutex_unlock(&b->mtx);
	net_kick_members(b, op.nos, op.n);
	snprintf(err, errlen,
	         "marking of %s is now revision %u; pushed to %zu "
	         "recipients",
	         in->request_id, op.newm.revision, op.n);
	r->info = strdup(err);
	log_info("%s (by %s)", err, coord);
	free(op.env);
	free(op.nos);
	return 0;
}

/* ------------------------------------------------------- consultations */

static int
consult_list(broker *b, Art17__AdminReply *r)
{
	store_txn t;
	store_iter it;
	MDB_val k, v;
	int rv;

	if ((rv = store_txn_begin(b->st, &t, 1)) != 0)
		return rv;
	if ((rv = store_iter_begin(&t, DB_CONSULT, NULL, 0, &it)) == 0) {
		while ((rv = store_iter_next(&it, &k, &v)) == 1) {
			Art17__ConsultRecord *c, **n;

			c = art17__consult_record__unpack(NULL, v.mv_size,
			                                  v.mv_data);
			n = realloc(r->consults,
			            (r->n_consults + 1) * sizeof(*n));
			if (c == NULL || n == NULL) {
				if (c)
					art17__consult_record__free_unpacked(
					    c, NULL);
				if (n)
					r->consults = n;
				rv = A17_ENOMEM;
				break;
			}
			r->consults = n;
			r->consults[r->n_consults++] = c;
		}
		store_iter_end(&it);
	}
	store_txn_abort(&t);
	return rv < 0 ? rv : 0;
}

struct shared_op {
	uint64_t no;
	const char *rid;
	const char *coord;
};

static int
apply_consult_shared(store_txn *t, void *arg)
{
	struct shared_op *op = arg;
	Art17__ConsultRecord *c;
	store_key k;
	MDB_val v;
	uint8_t *buf;
	size_t len;

	store_key_init(&k);
	store_key_u64(&k, op->no);
	if (store_get(t, DB_CONSULT, &k, &v) != 0 ||
	    (c = art17__consult_record__unpack(NULL, v.mv_size, v.mv_data)) ==
	        NULL)
		return A17_ECORRUPT;
	{
		char *saved = c->shared_as;

		c->shared_as = (char *)op->rid;
		len = art17__consult_record__get_packed_size(c);
		if ((buf = malloc(len)) != NULL) {
			art17__consult_record__pack(c, buf);
			store_put(t, DB_CONSULT, &k, buf, len);
			free(buf);
		}
		c->shared_as = saved;
	}
	audit_append(t, op->coord, "consult.share", c->consult->consult_id, 0,
	             "consultation %s from %s triaged into information share "
	             "%s, with the provider's secrecy and scope wishes",
	             c->consult->consult_id, c->from_id, op->rid);
	art17__consult_record__free_unpacked(c, NULL);
	return t->rv;
}

static int issue(broker *b, const char *coord, Art17__IssueRequest *in,
                 Art17__AdminReply *r, char *err, size_t errlen);

/* Triage: a consultation becomes an information share, its provider's
 * wishes kept (secrecy wish -> secret flag, scope wish -> scope). */
static int
consult_share(broker *b, const char *coord, Art17__ConsultShare *cs,
              Art17__AdminReply *r, char *err, size_t errlen)
{
	Art17__IssueRequest in = ART17__ISSUE_REQUEST__INIT;
	Art17__Marking mk = ART17__MARKING__INIT;
	Art17__ConsultRecord *c = NULL;
	struct shared_op so;
	unsigned long long no = 0;
	store_txn t;
	store_key k;
	MDB_val v;
	int rv;

	if (cs->consult_id == NULL ||
	    sscanf(cs->consult_id, "C%llu", &no) != 1) {
		snprintf(err, errlen, "a consultation id looks like C000001");
		return A17_EINVAL;
	}
	if ((rv = store_txn_begin(b->st, &t, 1)) != 0)
		return rv;
	store_key_init(&k);
	store_key_u64(&k, no);
	if (store_get(&t, DB_CONSULT, &k, &v) == 0)
		c = art17__consult_record__unpack(NULL, v.mv_size, v.mv_data);
	store_txn_abort(&t);
	if (c == NULL) {
		snprintf(err, errlen, "no consultation %s", cs->consult_id);
		return A17_ENOTFOUND;
	}
	if (c->shared_as && c->shared_as[0]) {
		snprintf(err, errlen,
		         "consultation %s was already shared as %s",
		         cs->consult_id, c->shared_as);
		art17__consult_record__free_unpacked(c, NULL);
		return A17_EEXIST;
	}
	mk.tlp = cs->tlp ? cs->tlp : ART17__TLP__TLP_AMBER;
	mk.secret = c->consult->secrecy_wish;
	mk.scope = c->consult->sharing_scope;
	in.kind = ART17__ITEM_KIND__KIND_INFORMATION_SHARE;
	in.incident_id = cs->incident_id;
	in.title = cs->title;
	in.content.data = (uint8_t *)c->consult->text;
	in.content.len = strlen(c->consult->text);
	in.marking = &mk;
	rv = issue(b, coord, &in, r, err, errlen);
	if (rv == 0 && r->issued != NULL) {
		so.no = no;
		so.rid = r->issued->request_id;
		so.coord = coord;
		rv = store_writer_run(b->wr, apply_consult_shared, &so);
	}
	art17__consult_record__free_unpacked(c, NULL);
	return rv;
}

/* Frees what the handlers put in r (all heap, protobuf-c layout). */
static void
reply_fini(Art17__AdminReply *r)
{
	if (r->msg_code != protobuf_c_empty_string)
		free(r->msg_code);
	if (r->detail != protobuf_c_empty_string)
		free(r->detail);
	for (size_t i = 0; i < r->n_members; i++)
		art17__member_record__free_unpacked(r->members[i], NULL);
	free(r->members);
	reg_consent_free(r->consents, r->n_consents);
	if (r->consent_in_force)
		art17__consent_record__free_unpacked(r->consent_in_force, NULL);
	for (size_t i = 0; i < r->n_incidents; i++)
		art17__incident_record__free_unpacked(r->incidents[i], NULL);
	free(r->incidents);
	for (size_t i = 0; i < r->n_audit; i++)
		art17__audit_record__free_unpacked(r->audit[i], NULL);
	free(r->audit);
	for (size_t i = 0; i < r->n_staff; i++)
		art17__staff_record__free_unpacked(r->staff[i], NULL);
	free(r->staff);
	for (size_t i = 0; i < r->n_feedback; i++) {
		free(r->feedback[i]->member_id);
		if (r->feedback[i]->feedback)
			art17__feedback__free_unpacked(r->feedback[i]->feedback,
			                               NULL);
		free(r->feedback[i]);
	}
	free(r->feedback);
	for (size_t i = 0; i < r->n_consults; i++)
		art17__consult_record__free_unpacked(r->consults[i], NULL);
	free(r->consults);
	if (r->info != protobuf_c_empty_string)
		free(r->info);
	for (size_t i = 0; i < r->n_requests; i++)
		art17__request_record__free_unpacked(r->requests[i], NULL);
	free(r->requests);
	if (r->request)
		art17__request_record__free_unpacked(r->request, NULL);
	for (size_t i = 0; i < r->n_copies; i++) {
		free(r->copies[i]->member_id);
		free(r->copies[i]->reason);
		free(r->copies[i]);
	}
	free(r->copies);
	if (r->issued) {
		for (size_t i = 0; i < r->issued->n_included; i++) {
			free(r->issued->included[i]->member_id);
			free(r->issued->included[i]->reason);
			free(r->issued->included[i]);
		}
		free(r->issued->included);
		for (size_t i = 0; i < r->issued->n_excluded; i++) {
			free(r->issued->excluded[i]->member_id);
			free(r->issued->excluded[i]->reason);
			free(r->issued->excluded[i]);
		}
		free(r->issued->excluded);
		free(r->issued->request_id);
		free(r->issued);
	}
}

/*
 * Admin replies are unsigned and go only to the local ipc socket. A reply
 * listing 10,000 copies with their gate reasons (an issue, a status)
 * exceeds WIRE_MAX_MSG, which wire_seal enforces for the network; rather
 * than send nothing (the client would wait), pack it without that cap.
 */
static int
pack_large_reply(const Art17__Body *body, uint8_t **out, size_t *outlen)
{
	Art17__Envelope env = ART17__ENVELOPE__INIT;
	size_t blen = art17__body__get_packed_size(body), elen;
	uint8_t *b, *e;

	if ((b = malloc(blen ? blen : 1)) == NULL)
		return A17_ENOMEM;
	art17__body__pack(body, b);
	env.body.data = b;
	env.body.len = blen;
	elen = art17__envelope__get_packed_size(&env);
	if ((e = malloc(elen)) == NULL) {
		free(b);
		return A17_ENOMEM;
	}
	art17__envelope__pack(&env, e);
	free(b);
	*out = e;
	*outlen = elen;
	return 0;
}

static void
serve_one(broker *b, nng_msg *msg)
{
	Art17__AdminReply r = ART17__ADMIN_REPLY__INIT;
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	uint8_t id[WIRE_MSGID_LEN];
	char err[512] = "";
	wire_msg wm;
	uint8_t *out = NULL;
	size_t outlen = 0;
	const char *coord;
	Art17__AdminRequest *a;
	int rv;

	rv = wire_open(nng_msg_body(msg), nng_msg_len(msg), WIRE_MAX_MSG,
	               coord_keyfn, b, 0, &wm);
	nng_msg_free(msg);
	if (rv != 0) {
		log_reject("A17-W0301", "admin: %s", a17_strerror(rv));
		reply_error(&r, A17_EDENIED, "A17-W0301",
		            "admin command refused: not signed by a known "
		            "coordinator key");
		goto reply;
	}
	if (wm.body->payload_case != ART17__BODY__PAYLOAD_ADMIN) {
		reply_error(&r, A17_EINVAL, "A17-W0302",
		            "not an admin command");
		goto reply;
	}
	coord = coord_name(b, wm.key_id);
	a = wm.body->admin;
	switch (a->op_case) {
	case ART17__ADMIN_REQUEST__OP_MEMBER_ADD:
		rv = db_member_add(b, a->member_add, coord, err, sizeof(err));
		if (rv != 0)
			reply_error(&r, rv, "A17-E0310", err);
		else
			log_info("member %s added by %s",
			         a->member_add->member_id, coord);
		break;
	case ART17__ADMIN_REQUEST__OP_MEMBER_LIST:
		if ((rv = list_members(b, NULL, &r)) != 0)
			reply_error(&r, rv, "A17-E0311", NULL);
		break;
	case ART17__ADMIN_REQUEST__OP_MEMBER_SHOW:
		if ((rv = list_members(b, a->member_show->member_id, &r)) !=
		    0) {
			snprintf(err, sizeof(err), "no member '%s'",
			         a->member_show->member_id);
			reply_error(&r, rv, "A17-E0312", err);
		}
		break;
	case ART17__ADMIN_REQUEST__OP_REQUEST_ISSUE:
		rv = issue(b, coord, a->request_issue, &r, err, sizeof(err));
		if (rv != 0)
			reply_error(&r, rv, "A17-E0320", err);
		break;
	case ART17__ADMIN_REQUEST__OP_REQUEST_STATUS:
		rv = request_status(b, a->request_status->request_id, &r);
		if (rv != 0) {
			snprintf(err, sizeof(err), "request %s: %s",
			         a->request_status->request_id,
			         a17_strerror(rv));
			reply_error(&r, rv, "A17-E0321", err);
		}
		break;
	case ART17__ADMIN_REQUEST__OP_REQUEST_LIST:
		if ((rv = request_list(b, &r)) != 0)
			reply_error(&r, rv, "A17-E0322", NULL);
		break;
	case ART17__ADMIN_REQUEST__OP_CONSENT_GRANT:
	case ART17__ADMIN_REQUEST__OP_CONSENT_REVOKE:
	case ART17__ADMIN_REQUEST__OP_CONSENT_SHOW:
	case ART17__ADMIN_REQUEST__OP_INCIDENT_DECLARE:
	case ART17__ADMIN_REQUEST__OP_INCIDENT_FLAG:
	case ART17__ADMIN_REQUEST__OP_INCIDENT_CONFIRM:
	case ART17__ADMIN_REQUEST__OP_INCIDENT_UNFLAG:
	case ART17__ADMIN_REQUEST__OP_INCIDENT_CLOSE:
	case ART17__ADMIN_REQUEST__OP_INCIDENT_LIST:
	case ART17__ADMIN_REQUEST__OP_INCIDENT_SHOW:
	case ART17__ADMIN_REQUEST__OP_AUDIT_VERIFY:
	case ART17__ADMIN_REQUEST__OP_AUDIT_SHOW:
		rv = inc_admin(b, coord, a, &r, err, sizeof(err));
		if (rv != 0)
			reply_error(&r, rv, "A17-E0330", err);
		break;
	case ART17__ADMIN_REQUEST__OP_STAFF_CHANGE:
		rv = staff_apply(b, coord, a->staff_change, err, sizeof(err));
		if (rv != 0)
			reply_error(&r, rv, "A17-E0340", err);
		else
			r.info = strdup(err);
		break;
	case ART17__ADMIN_REQUEST__OP_REQUEST_REMARK:
		rv = request_remark(b, coord, a->request_remark, &r, err,
		                    sizeof(err));
		if (rv != 0)
			reply_error(&r, rv, "A17-E0324", err);
		break;
	case ART17__ADMIN_REQUEST__OP_CONSULT_LIST:
		if ((rv = consult_list(b, &r)) != 0)
			reply_error(&r, rv, "A17-E0350", NULL);
		break;
	case ART17__ADMIN_REQUEST__OP_CONSULT_SHARE:
		rv = consult_share(b, coord, a->consult_share, &r, err,
		                   sizeof(err));
		if (rv != 0)
			reply_error(&r, rv, "A17-E0351", err);
		break;
	case ART17__ADMIN_REQUEST__OP_FEEDBACK_LIST:
		rv = feedback_list(b, a->feedback_list->request_id, &r);
		if (rv != 0) {
			snprintf(err, sizeof(err), "request %s: %s",
			         a->feedback_list->request_id,
			         a17_strerror(rv));
			reply_error(&r, rv, "A17-E0323", err);
		}
		break;
	case ART17__ADMIN_REQUEST__OP_MEMBER_REKEY:
		rv = db_member_rekey(b, a->member_rekey->member_id,
		                     &a->member_rekey->id_pub, coord, err,
		                     sizeof(err));
		if (rv != 0)
			reply_error(&r, rv, "A17-E0313", err);
		else
			r.info = strdup(err);
		break;
	case ART17__ADMIN_REQUEST__OP_STAFF_LIST:
		rv = staff_list(b, a->staff_list->member_id, &r, err,
		                sizeof(err));
		if (rv != 0)
			reply_error(&r, rv, "A17-E0330", err);
		break;
	default:
		reply_error(&r, A17_EINVAL, "A17-W0303", "unknown command");
		break;
	}
reply:
	wire_msg_fini(&wm);
	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_ADMIN_REPLY, "broker",
	                 0);
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_ADMIN_REPLY;
	body.admin_reply = &r;
	rv = wire_seal(&body, NULL, &out, &outlen);
	if (rv == A17_ETOOBIG)
		rv = pack_large_reply(&body, &out, &outlen);
	if (rv == 0) {
		if (nng_msg_alloc(&msg, 0) == 0) {
			nng_msg_append(msg, out, outlen);
			if (nng_sendmsg(b->admin_sock, msg, 0) != 0)
				nng_msg_free(msg);
		}
		free(out);
	}
	reply_fini(&r);
}

static void *
admin_main(void *arg)
{
	broker *b = arg;
	nng_msg *msg;
	int rv;

	for (;;) {
		if ((rv = nng_recvmsg(b->admin_sock, &msg, 0)) != 0) {
			if (rv == NNG_ECLOSED)
				return NULL;
			continue;
		}
		serve_one(b, msg);
	}
}

int
admin_start(broker *b)
{
	char url[4200], path[4100];
	int rv;

	if ((rv = load_coordinators(b)) != 0)
		return rv;
	snprintf(path, sizeof(path), "%s/admin.sock", b->cfg.datadir);
	snprintf(url, sizeof(url), "ipc://%s", path);
	unlink(path);
	if ((rv = nng_rep0_open(&b->admin_sock)) != 0)
		return a17_err_nng(rv);
	nng_socket_set_size(b->admin_sock, NNG_OPT_RECVMAXSZ, WIRE_MAX_MSG);
	if ((rv = nng_listen(b->admin_sock, url, NULL, 0)) != 0) {
		log_warnx("admin: listen %s: %s", url, nng_strerror(rv));
		return a17_err_nng(rv);
	}
	chmod(path, 0600);
	if (pthread_create(&admin_thr, NULL, admin_main, b) != 0)
		return A17_ENOMEM;
	admin_started = 1;
	log_info("admin: listening on %s", url);
	return 0;
}

void
admin_stop(broker *b)
{
	nng_close(b->admin_sock);
	if (admin_started)
		pthread_join(admin_thr, NULL);
	for (size_t i = 0; i < b->n_coords; i++) {
		free(b->coords[i].name);
		crypto_key_free(b->coords[i].key);
	}
	free(b->coords);
}
