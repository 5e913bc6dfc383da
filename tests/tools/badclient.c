/*
 * a17-badclient: sends one kind of bad input to a broker's agent port and
 * reports what came back. Used by the integration tests to prove that bad
 * input gets an error (or the connection dropped) and changes nothing.
 *
 * usage: a17-badclient URL KEYDIR MODE
 *   KEYDIR is an agent's art17-pki directory (TLS cert, id.key, member id
 *   is the directory's last part). Exit 0 when the broker answered with an
 *   Error (printed as "error CODE MSGID") or dropped the connection
 *   ("dropped"); 1 when it answered anything else; 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "crypto.h"
#include "err.h"
#include "wire.h"

static const char *modes =
    "garbage oversized huge unsigned unknown-key tampered wrong-member "
    "no-hello-poll no-hello-receipt bad-nonce";

static const char *member;
static a17_key *broker_key;

static int
broker_keyfn(void *arg, const uint8_t *kid, size_t len, const a17_key **k)
{
	(void)arg;
	(void)len;
	if (memcmp(kid, crypto_key_id(broker_key), A17_KEYID_LEN) != 0)
		return A17_EUNKNOWNKEY;
	*k = broker_key;
	return 0;
}

static int
seal_kind(Art17__MsgKind kind, const char *sender, const a17_key *k,
          uint8_t **out, size_t *len)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__HelloReq hr = ART17__HELLO_REQ__INIT;
	Art17__Hello h = ART17__HELLO__INIT;
	Art17__Poll p = ART17__POLL__INIT;
	Art17__ReceiptBatch rb = ART17__RECEIPT_BATCH__INIT;
	Art17__ReceiptItem ri = ART17__RECEIPT_ITEM__INIT;
	Art17__ReceiptItem *rip = &ri;
	uint8_t id[WIRE_MSGID_LEN], nonce[32] = {0};

	wire_header_init(&hdr, id, kind, sender, 0);
	body.hdr = &hdr;
	switch (kind) {
	case ART17__MSG_KIND__MSG_HELLO_REQ:
		hr.member_id = (char *)sender;
		body.payload_case = ART17__BODY__PAYLOAD_HELLO_REQ;
		body.hello_req = &hr;
		break;
	case ART17__MSG_KIND__MSG_HELLO:
		h.member_id = (char *)sender;
		h.nonce.data = nonce;
		h.nonce.len = sizeof(nonce);
		body.payload_case = ART17__BODY__PAYLOAD_HELLO;
		body.hello = &h;
		break;
	case ART17__MSG_KIND__MSG_POLL:
		body.payload_case = ART17__BODY__PAYLOAD_POLL;
		body.poll = &p;
		break;
	default:
		ri.seq = 1;
		ri.request_id = "R000001-00000000";
		rb.n_items = 1;
		rb.items = &rip;
		body.payload_case = ART17__BODY__PAYLOAD_RECEIPT;
		body.receipt = &rb;
		break;
	}
	return wire_seal(&body, k, out, len);
}

int
main(int argc, char **argv)
{
	const char *url, *keydir, *mode;
	char path[4096];
	nng_socket s;
	nng_dialer d;
	nng_tls_config *tls = NULL;
	nng_msg *msg;
	a17_key *k = NULL, *other = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rv;

	if (argc != 4) {
		fprintf(stderr,
		        "usage: a17-badclient URL KEYDIR MODE\nmodes: %s\n",
		        modes);
		return 2;
	}
	url = argv[1];
	keydir = argv[2];
	mode = argv[3];
	member = strrchr(keydir, '/') ? strrchr(keydir, '/') + 1 : keydir;
	snprintf(path, sizeof(path), "%s/id.key", keydir);
	if (crypto_key_load(path, &k) != 0 ||
	    crypto_key_generate(&other) != 0) {
		fprintf(stderr, "a17-badclient: keys in %s\n", keydir);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/broker-sign.pub", keydir);
	if (crypto_key_load(path, &broker_key) != 0) {
		fprintf(stderr, "a17-badclient: keys in %s\n", keydir);
		return 2;
	}

	if (strcmp(mode, "garbage") == 0) {
		len = 300;
		buf = malloc(len);
		crypto_random(buf, len);
	} else if (strcmp(mode, "oversized") == 0) {
		len = WIRE_MAX_MSG + 1000; /* above the app cap, below nng's */
		buf = calloc(1, len);
	} else if (strcmp(mode, "huge") == 0) {
		len = 4 * WIRE_MAX_MSG; /* above NNG_OPT_RECVMAXSZ */
		buf = calloc(1, len);
	} else if (strcmp(mode, "unsigned") == 0) {
		rv = seal_kind(ART17__MSG_KIND__MSG_HELLO_REQ, member, NULL,
		               &buf, &len);
	} else if (strcmp(mode, "unknown-key") == 0) {
		rv = seal_kind(ART17__MSG_KIND__MSG_HELLO_REQ, member, other,
		               &buf, &len);
	} else if (strcmp(mode, "tampered") == 0) {
		Art17__Envelope *env;

		rv = seal_kind(ART17__MSG_KIND__MSG_HELLO_REQ, member, k, &buf,
		               &len);
		env = art17__envelope__unpack(NULL, len, buf);
		env->body.data[env->body.len - 1] ^= 0x01;
		free(buf);
		len = art17__envelope__get_packed_size(env);
		buf = malloc(len);
		art17__envelope__pack(env, buf);
		art17__envelope__free_unpacked(env, NULL);
	} else if (strcmp(mode, "wrong-member") == 0) {
		/* signed with our key, claiming to be someone else */
		rv = seal_kind(ART17__MSG_KIND__MSG_HELLO_REQ, "someone-else",
		               k, &buf, &len);
	} else if (strcmp(mode, "no-hello-poll") == 0) {
		rv =
		    seal_kind(ART17__MSG_KIND__MSG_POLL, member, k, &buf, &len);
	} else if (strcmp(mode, "no-hello-receipt") == 0) {
		rv = seal_kind(ART17__MSG_KIND__MSG_RECEIPT, member, k, &buf,
		               &len);
	} else if (strcmp(mode, "bad-nonce") == 0) {
		rv = seal_kind(ART17__MSG_KIND__MSG_HELLO, member, k, &buf,
		               &len);
	} else {
		fprintf(stderr, "a17-badclient: unknown mode %s\nmodes: %s\n",
		        mode, modes);
		return 2;
	}
	if (buf == NULL) {
		fprintf(stderr, "a17-badclient: cannot build message\n");
		return 2;
	}

	nng_req0_open(&s);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 5000);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 2 * WIRE_MAX_MSG);
	if (nng_dialer_create(&d, s, url) != 0)
		return 2;
	if (strncmp(url, "tls+tcp://", 10) == 0) {
		nng_tls_config_alloc(&tls, NNG_TLS_MODE_CLIENT);
		snprintf(path, sizeof(path), "%s/ca.crt", keydir);
		nng_tls_config_ca_file(tls, path);
		snprintf(path, sizeof(path), "%s/tls.pem", keydir);
		nng_tls_config_cert_key_file(tls, path, NULL);
		nng_tls_config_server_name(tls, "localhost");
		nng_tls_config_auth_mode(tls, NNG_TLS_AUTH_MODE_REQUIRED);
		nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, tls);
	}
	if ((rv = nng_dialer_start(d, 0)) != 0) {
		printf("dropped (dial: %s)\n", nng_strerror(rv));
		rv = 0;
		goto out;
	}
	nng_msg_alloc(&msg, 0);
	nng_msg_append(msg, buf, len);
	if ((rv = nng_sendmsg(s, msg, 0)) != 0) {
		nng_msg_free(msg);
		printf("dropped (send: %s)\n", nng_strerror(rv));
		rv = 0;
		goto out;
	}
	if ((rv = nng_recvmsg(s, &msg, 0)) != 0) {
		printf("dropped (%s)\n", nng_strerror(rv));
		rv = 0;
		goto out;
	}
	{
		wire_msg m;

		rv = wire_open(nng_msg_body(msg), nng_msg_len(msg), 0,
		               broker_keyfn, NULL, WIRE_F_ALLOW_UNSIGNED, &m);
		nng_msg_free(msg);
		if (rv != 0)
			printf("reply did not open: %s\n", a17_strerror(rv));
		if (rv == 0 &&
		    m.body->payload_case == ART17__BODY__PAYLOAD_ERROR) {
			printf("error %d %s\n", m.body->error->code,
			       m.body->error->msg_code);
			wire_msg_fini(&m);
			rv = 0;
		} else {
			if (rv == 0)
				printf("unexpected reply kind %d\n",
				       m.body->hdr->kind);
			wire_msg_fini(&m);
			rv = 1;
		}
	}
out:
	free(buf);
	nng_close(s);
	if (tls)
		nng_tls_config_free(tls);
	crypto_key_free(k);
	crypto_key_free(other);
	crypto_key_free(broker_key);
	return rv;
}
