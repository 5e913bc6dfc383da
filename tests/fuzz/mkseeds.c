/*
 * mkseeds.c: writes the fuzz seed corpora (tests/fuzz/corpus/...): one
 * well-formed example of every wire message, every Body payload and every
 * stored record, each prefixed with the selector byte its harness reads.
 *
 *   a17-mkseeds OUTDIR     (writes OUTDIR/{envelope,message,record}/...)
 *
 * Run by hand when the schema changes; the corpora are committed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto.h"
#include "fuzz.h"
#include "seal.h"
#include "wire.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)data;
	(void)size;
	return (0);
}

static const char *outdir;

static void
put(const char *sub, const char *name, uint8_t sel, const uint8_t *b, size_t n)
{
	char fn[4096];
	FILE *f;

	snprintf(fn, sizeof(fn), "%s/%s", outdir, sub);
	mkdir(fn, 0755);
	snprintf(fn, sizeof(fn), "%s/%s/%s", outdir, sub, name);
	if ((f = fopen(fn, "wb")) == NULL) {
		perror(fn);
		exit(1);
	}
	fputc(sel, f);
	fwrite(b, 1, n, f);
	fclose(f);
}

static void
put_msg(const char *sub, const char *name, uint8_t sel,
        const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *b = malloc(n + 1);

	protobuf_c_message_pack(m, b);
	put(sub, name, sel, b, n);
	free(b);
}

/* The index of desc in a table, so the harness picks that type. */
static uint8_t
sel_of(const ProtobufCMessageDescriptor *const *tab, size_t n,
       const ProtobufCMessageDescriptor *d)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (tab[i] == d)
			return ((uint8_t)i);
	abort();
}

int
main(int argc, char **argv)
{
	static uint8_t msgid[WIRE_MSGID_LEN], nonce[32], hash[32];
	a17_key *k;
	seal_key *sk;
	Art17__Header hdr;
	Art17__Body body;
	Art17__Marking mk;
	Art17__Ground gr;
	Art17__Request req;
	Art17__Feedback fb;
	Art17__Indicator ind[3], *indp[3];
	Art17__Consultation co;
	Art17__ReceiptItem ri, *rip[1];
	Art17__ReceiptBatch rb;
	Art17__Copy cp, *cpp[1];
	Art17__CopyInfo ci;
	Art17__Deliver dl;
	Art17__Hello he;
	Art17__Poll po;
	Art17__Sealed *sealed = NULL;
	Art17__MemberRecord mr;
	Art17__RequestRecord rr;
	Art17__DeliveryRecord dr;
	Art17__InboxRecord ir;
	Art17__AuditRecord ar;
	Art17__ConsentRecord cr;
	Art17__IncidentRecord inc;
	Art17__FlagState fs;
	const ProtobufCMessageDescriptor *bd = &art17__body__descriptor;
	uint8_t *renv = NULL, *env = NULL, *bb;
	size_t renvlen = 0, envlen = 0, bn, i;
	uint8_t pub[SEAL_PUB_LEN];
	seal_recipient rcp;
	char name[128];

	if (argc != 2) {
		fprintf(stderr, "usage: a17-mkseeds OUTDIR\n");
		return (2);
	}
	outdir = argv[1];
	mkdir(outdir, 0755);
	if (crypto_key_generate(&k) != 0 || seal_key_generate(&sk) != 0)
		return (1);
	memset(nonce, 7, sizeof(nonce));
	memset(hash, 9, sizeof(hash));
	seal_key_raw_public(sk, pub);
	rcp.staff_id = "s1";
	rcp.x25519_pub = pub;

	art17__marking__init(&mk);
	mk.tlp = ART17__TLP__TLP_AMBER;
	mk.secret = ART17__SECRET__SECRET_NO;
	mk.scope = ART17__SCOPE__SCOPE_MEMBERS;
	mk.revision = 1;
	art17__ground__init(&gr);
	gr.kind = ART17__GROUND_KIND__GROUND_CONSENT;
	gr.incident_id = "INC-000001";
	gr.consent_ref = "C-1 2026-01-01";
	art17__request__init(&req);
	req.request_id = "R000001-0a0b0c0d";
	req.kind = ART17__ITEM_KIND__KIND_COOPERATION_REQUEST;
	req.incident_id = "INC-000001";
	req.marking = &mk;
	req.statement = "This is a request under Article 17(3).";
	req.title = "Check VPN gateways";
	req.content.data = (uint8_t *)"look at the logs";
	req.content.len = 16;
	req.issued_ms = 1700000000000;
	req.deadline_ms = 1700086400000;
	req.issued_by = "alice";
	art17__feedback__init(&fb);
	fb.request_id = req.request_id;
	fb.version = 1;
	fb.status = ART17__FEEDBACK_STATUS__FB_AFFECTED;
	for (i = 0; i < 3; i++) {
		art17__indicator__init(&ind[i]);
		indp[i] = &ind[i];
	}
	ind[0].type = ART17__INDICATOR_TYPE__IND_IPV4;
	ind[0].value = "192.0.2.1";
	ind[1].type = ART17__INDICATOR_TYPE__IND_DOMAIN;
	ind[1].value = "evil.example";
	ind[2].type = ART17__INDICATOR_TYPE__IND_SHA256;
	ind[2].value =
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	fb.n_indicators = 3;
	fb.indicators = indp;
	fb.count = 3;
	fb.impact = "two gateways";
	fb.text = "patched";
	fb.contact = "s1";
	fb.secrecy_wish = ART17__SECRET__SECRET_NO;
	fb.sharing_wish = ART17__SCOPE__SCOPE_MEMBERS;
	art17__consultation__init(&co);
	co.consult_id = "Q-1";
	co.reporter = "m1";
	co.text = "seen this?";
	co.secrecy_wish = ART17__SECRET__SECRET_NO;
	co.sharing_scope = ART17__SCOPE__SCOPE_TASKFORCE;
	co.coordination = ART17__COORDINATION__COORD_CHECK_OTHERS;
	art17__receipt_item__init(&ri);
	ri.seq = 1;
	ri.request_id = req.request_id;
	ri.request_hash.data = hash;
	ri.request_hash.len = 32;
	ri.stored_ms = 1700000000100;
	rip[0] = &ri;
	art17__receipt_batch__init(&rb);
	rb.n_items = 1;
	rb.items = rip;
	seal_content((const uint8_t *)"secret", 6, (const uint8_t *)"aad", 3,
	             &rcp, 1, &sealed);
	art17__hello__init(&he);
	he.member_id = "m1";
	he.nonce.data = nonce;
	he.nonce.len = 32;
	he.agent_version = "0.1.0";
	art17__poll__init(&po);
	po.cursor = 5;
	po.max_items = 64;

	/* the broker-signed request, as it travels inside a Deliver */
	art17__header__init(&hdr);
	wire_header_init(&hdr, msgid, ART17__MSG_KIND__MSG_REQUEST, "broker",
	                 0);
	art17__body__init(&body);
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_REQUEST;
	body.request = &req;
	wire_seal(&body, k, &renv, &renvlen);
	art17__copy_info__init(&ci);
	ci.member_id = "m1";
	ci.ground = &gr;
	ci.sealed = sealed;
	art17__copy__init(&cp);
	cp.seq = 1;
	cp.request_env.data = renv;
	cp.request_env.len = renvlen;
	cp.info = &ci;
	cpp[0] = &cp;
	art17__deliver__init(&dl);
	dl.n_copies = 1;
	dl.copies = cpp;
	dl.cursor = 1;

	/* one Body per kind: populated where we have an example above */
	for (i = 1; i <= 20; i++) {
		const ProtobufCFieldDescriptor *f;
		void *sub = NULL;
		int pc = wire_kind_payload((Art17__MsgKind)i);

		art17__body__init(&body);
		wire_header_init(&hdr, msgid, (Art17__MsgKind)i, "m1", 0);
		body.hdr = &hdr;
		body.payload_case = (Art17__Body__PayloadCase)pc;
		f = protobuf_c_message_descriptor_get_field(bd, (unsigned)pc);
		switch (pc) {
		case ART17__BODY__PAYLOAD_REQUEST:
			sub = &req;
			break;
		case ART17__BODY__PAYLOAD_FEEDBACK:
			sub = &fb;
			break;
		case ART17__BODY__PAYLOAD_CONSULT:
			sub = &co;
			break;
		case ART17__BODY__PAYLOAD_RECEIPT:
			sub = &rb;
			break;
		case ART17__BODY__PAYLOAD_DELIVER:
			sub = &dl;
			break;
		case ART17__BODY__PAYLOAD_HELLO:
			sub = &he;
			break;
		case ART17__BODY__PAYLOAD_POLL:
			sub = &po;
			break;
		default:
			sub = calloc(
			    1,
			    ((const ProtobufCMessageDescriptor *)f->descriptor)
			        ->sizeof_message);
			protobuf_c_message_init(f->descriptor, sub);
		}
		*(void **)((char *)&body + f->offset) = sub;
		bn = protobuf_c_message_get_packed_size(&body.base);
		bb = malloc(bn);
		protobuf_c_message_pack(&body.base, bb);
		snprintf(name, sizeof(name), "signed-%s", f->name);
		put("envelope", name, 2, bb, bn);
		wire_seal_bytes(bb, bn, NULL, &env, &envlen);
		snprintf(name, sizeof(name), "unsigned-%s", f->name);
		put("envelope", name, 0, env, envlen);
		free(env);
		wire_seal_bytes(bb, bn, k, &env, &envlen);
		snprintf(name, sizeof(name), "sig-%s", f->name);
		put("envelope", name, 1, env, envlen);
		free(env);
		snprintf(name, sizeof(name), "body-%s", f->name);
		put("message", name,
		    sel_of(fuzz_wire_msgs, FUZZ_NELEM(fuzz_wire_msgs), bd), bb,
		    bn);
		free(bb);
		snprintf(name, sizeof(name), "%s", f->name);
		put_msg("message", name,
		        sel_of(fuzz_wire_msgs, FUZZ_NELEM(fuzz_wire_msgs),
		               f->descriptor),
		        sub);
	}
	put_msg("message", "marking",
	        sel_of(fuzz_wire_msgs, FUZZ_NELEM(fuzz_wire_msgs),
	               &art17__marking__descriptor),
	        &mk.base);
	put_msg("message", "sealed",
	        sel_of(fuzz_wire_msgs, FUZZ_NELEM(fuzz_wire_msgs),
	               &art17__sealed__descriptor),
	        &sealed->base);
	put("message", "envelope",
	    sel_of(fuzz_wire_msgs, FUZZ_NELEM(fuzz_wire_msgs),
	           &art17__envelope__descriptor),
	    renv, renvlen);

	/* stored records */
#define REC(d) sel_of(fuzz_records, FUZZ_NELEM(fuzz_records), &(d))
	art17__member_record__init(&mr);
	mr.member_id = "m1";
	mr.name = "Member 1";
	mr.id_pub.data = nonce;
	mr.id_pub.len = 32;
	mr.member_no = 1;
	mr.next_seq = 2;
	put_msg("record", "member", REC(art17__member_record__descriptor),
	        &mr.base);
	art17__request_record__init(&rr);
	rr.envelope.data = renv;
	rr.envelope.len = renvlen;
	rr.body_hash.data = hash;
	rr.body_hash.len = 32;
	rr.marking = &mk;
	put_msg("record", "request", REC(art17__request_record__descriptor),
	        &rr.base);
	art17__delivery_record__init(&dr);
	dr.ground = &gr;
	dr.sealed = sealed;
	dr.deliveries = 1;
	put_msg("record", "delivery", REC(art17__delivery_record__descriptor),
	        &dr.base);
	art17__inbox_record__init(&ir);
	ir.ground = &gr;
	ir.member_id = "m1";
	ir.sealed = sealed;
	put_msg("record", "inbox", REC(art17__inbox_record__descriptor),
	        &ir.base);
	art17__audit_record__init(&ar);
	ar.actor = "alice";
	ar.action = "gate.allow";
	ar.subject = "m1";
	ar.detail = "consent C-1";
	ar.prev_hash.data = hash;
	ar.prev_hash.len = 32;
	ar.hash.data = hash;
	ar.hash.len = 32;
	put_msg("record", "audit", REC(art17__audit_record__descriptor),
	        &ar.base);
	art17__consent_record__init(&cr);
	cr.grant = 1;
	cr.reference = "C-1 2026-01-01";
	cr.by = "alice";
	cr.no = 1;
	put_msg("record", "consent", REC(art17__consent_record__descriptor),
	        &cr.base);
	art17__flag_state__init(&fs);
	fs.active = 1;
	fs.set_ms = 1700000000000;
	put_msg("record", "flag", REC(art17__flag_state__descriptor), &fs.base);
	art17__incident_record__init(&inc);
	put_msg("record", "incident", REC(art17__incident_record__descriptor),
	        &inc.base);
	put_msg("record", "feedback", REC(art17__feedback__descriptor),
	        &fb.base);
	for (i = 0; i < FUZZ_NELEM(fuzz_records); i++) {
		void *m = calloc(1, fuzz_records[i]->sizeof_message);
		protobuf_c_message_init(fuzz_records[i], m);
		snprintf(name, sizeof(name), "empty-%s",
		         fuzz_records[i]->short_name);
		put_msg("record", name, (uint8_t)i, m);
		free(m);
	}
	return (0);
}
