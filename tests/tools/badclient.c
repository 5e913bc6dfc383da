/*
 * a17-badclient: sends one kind of bad input to a broker's agent port and
 * reports what came back. Used by the integration tests to prove that bad
 * input gets an error (or the connection dropped) and changes nothing.
 *
 * usage: a17-badclient URL KEYDIR MODE [ARG...]
 *   KEYDIR is an agent's art17-pki directory (TLS cert, id.key, member id
 *   is the directory's last part). Exit 0 when the broker answered with an
 *   Error (printed as "error CODE MSGID") or dropped the connection
 *   ("dropped (...)"); 1 when it answered anything else; 2 on a usage
 *   error.
 *
 * The first modes send one message on a fresh connection. The others
 * first run the real handshake (HelloReq, Challenge signed by the broker,
 * Hello, Welcome) as the member on the same connection, then send the bad
 * message:
 *   hello                 the handshake only (for TLS refusals: a
 *                         certificate that must not get in)
 *   replay                the same signed Poll bytes twice
 *   cross-receipt REQID SEQ [HASH]
 *                         a signed receipt for a copy that belongs to
 *                         another member (HASH: 64 hex digits, default
 *                         zeros)
 *   feedback-unaddressed [REQID]
 *                         Feedback for a request never sent to us (REQID:
 *                         another member's request; default a made-up id)
 *   wrong-key-hello OTHER-KEYDIR
 *                         the handshake as this member, signed with the
 *                         key of the member in OTHER-KEYDIR
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>

#include "crypto.h"
#include "err.h"
#include "wire.h"

/* generous: a verdict (answered or dropped) must not depend on how
 * loaded the machine is while the TLS handshake runs */
#define TIMEO_MS 20000

static const char *modes =
    "garbage oversized huge unsigned unknown-key tampered wrong-member "
    "no-hello-poll no-hello-receipt bad-nonce\n"
    "after a real handshake: hello replay cross-receipt REQID SEQ [HASH] "
    "feedback-unaddressed [REQID] wrong-key-hello OTHER-KEYDIR";

enum { X_REPLY, X_DROPPED, X_BADREPLY };

static const char *member;
static a17_key *broker_key;
static nng_socket sock;
static int pipe_closed; /* the one connection went away */
static int aio_done;
static volatile sig_atomic_t exit_status;

/* nng_close can hang after the broker closed the pipe: keep the verdict */
static void
on_alarm(int sig)
{
	(void)sig;
	_exit(exit_status);
}

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

static void
pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)arg;
	if (ev == NNG_PIPE_EV_REM_POST)
		__atomic_store_n(&pipe_closed, 1, __ATOMIC_SEQ_CST);
}

static void
aio_cb(void *arg)
{
	(void)arg;
	__atomic_store_n(&aio_done, 1, __ATOMIC_SEQ_CST);
}

/*
 * Waits for aio; gives up at once when the connection is closed (there is
 * no reconnect, so no answer can come any more).
 */
static int
aio_finish(nng_aio *aio)
{
	while (!__atomic_load_n(&aio_done, __ATOMIC_SEQ_CST)) {
		if (__atomic_load_n(&pipe_closed, __ATOMIC_SEQ_CST)) {
			nng_aio_cancel(aio);
			break;
		}
		nng_msleep(10);
	}
	nng_aio_wait(aio);
	return nng_aio_result(aio);
}

static void
print_dropped(int sending, const char *step, int rv)
{
	const char *why = __atomic_load_n(&pipe_closed, __ATOMIC_SEQ_CST)
	                      ? "connection closed by the broker"
	                      : nng_strerror(rv);

	if (sending)
		printf("dropped (send%s%s: %s)\n", step ? " " : "",
		       step ? step : "", why);
	else if (step)
		printf("dropped (no answer to %s: %s)\n", step, why);
	else
		printf("dropped (%s)\n", why);
}

/*
 * Sends buf and opens the reply into *m (X_REPLY), or prints why not. STEP
 * names the message in the output, or is NULL.
 */
static int
xchg(const uint8_t *buf, size_t len, int timeout_ms, const char *step,
     wire_msg *m)
{
	nng_aio *aio;
	nng_msg *msg;
	int rv;

	if (nng_aio_alloc(&aio, aio_cb, NULL) != 0 ||
	    nng_msg_alloc(&msg, 0) != 0) {
		fprintf(stderr, "a17-badclient: out of memory\n");
		exit(2);
	}
	nng_msg_append(msg, buf, len);
	__atomic_store_n(&aio_done, 0, __ATOMIC_SEQ_CST);
	nng_aio_set_timeout(aio, TIMEO_MS);
	nng_aio_set_msg(aio, msg);
	nng_send_aio(sock, aio);
	if ((rv = aio_finish(aio)) != 0) {
		nng_msg_free(nng_aio_get_msg(aio));
		nng_aio_free(aio);
		print_dropped(1, step, rv);
		return X_DROPPED;
	}
	__atomic_store_n(&aio_done, 0, __ATOMIC_SEQ_CST);
	nng_aio_set_timeout(aio, timeout_ms);
	nng_recv_aio(sock, aio);
	if ((rv = aio_finish(aio)) != 0) {
		nng_aio_free(aio);
		print_dropped(0, step, rv);
		return X_DROPPED;
	}
	msg = nng_aio_get_msg(aio);
	nng_aio_free(aio);
	rv = wire_open(nng_msg_body(msg), nng_msg_len(msg), 0, broker_keyfn,
	               NULL, WIRE_F_ALLOW_UNSIGNED, m);
	nng_msg_free(msg);
	if (rv != 0) {
		printf("reply did not open: %s\n", a17_strerror(rv));
		return X_BADREPLY;
	}
	return X_REPLY;
}

/* Prints an opened reply; 0 for an Error, 1 for anything else. */
static int
report(wire_msg *m, const char *what)
{
	int rv = 1;

	if (m->body->payload_case == ART17__BODY__PAYLOAD_ERROR) {
		printf("%s%serror %d %s\n", what ? what : "", what ? ": " : "",
		       m->body->error->code, m->body->error->msg_code);
		rv = 0;
	} else {
		printf("%s%sunexpected reply kind %d\n", what ? what : "",
		       what ? ": " : "", m->body->hdr->kind);
	}
	wire_msg_fini(m);
	return rv;
}

/* Sends buf and reports the answer: the exit status. */
static int
send_report(const uint8_t *buf, size_t len, int timeout_ms, const char *what)
{
	wire_msg m;

	switch (xchg(buf, len, timeout_ms, what, &m)) {
	case X_REPLY:
		return report(&m, what);
	case X_DROPPED:
		return 0;
	default:
		return 1;
	}
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

/*
 * The real handshake as SENDER, signed with K. Returns -1 once welcomed
 * (*keepalive_ms set); otherwise prints what happened and returns the
 * exit status.
 */
static int
handshake(const char *sender, const a17_key *k, uint32_t *keepalive_ms)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__HelloReq hr = ART17__HELLO_REQ__INIT;
	Art17__Hello h = ART17__HELLO__INIT;
	uint8_t id[WIRE_MSGID_LEN], nonce[64];
	uint8_t *buf = NULL;
	size_t len = 0, nonce_len;
	wire_msg m;
	int rv;

	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_HELLO_REQ, sender, 0);
	hr.member_id = (char *)sender;
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_HELLO_REQ;
	body.hello_req = &hr;
	if (wire_seal(&body, k, &buf, &len) != 0)
		return 2;
	rv = xchg(buf, len, TIMEO_MS, "HelloReq", &m);
	free(buf);
	if (rv != X_REPLY)
		return rv == X_DROPPED ? 0 : 1;
	if (m.body->payload_case != ART17__BODY__PAYLOAD_CHALLENGE ||
	    m.signer == NULL || m.body->challenge->nonce.len > sizeof(nonce)) {
		if (m.body->payload_case == ART17__BODY__PAYLOAD_CHALLENGE)
			printf("challenge not signed by the broker\n");
		return report(&m, "answer to HelloReq");
	}
	nonce_len = m.body->challenge->nonce.len;
	memcpy(nonce, m.body->challenge->nonce.data, nonce_len);
	wire_msg_fini(&m);

	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_HELLO, sender, 0);
	h.member_id = (char *)sender;
	h.nonce.data = nonce;
	h.nonce.len = nonce_len;
	h.agent_version = "a17-badclient";
	body.payload_case = ART17__BODY__PAYLOAD_HELLO;
	body.hello = &h;
	if (wire_seal(&body, k, &buf, &len) != 0)
		return 2;
	rv = xchg(buf, len, TIMEO_MS, "Hello", &m);
	free(buf);
	if (rv != X_REPLY)
		return rv == X_DROPPED ? 0 : 1;
	if (m.body->payload_case != ART17__BODY__PAYLOAD_WELCOME ||
	    m.signer == NULL) {
		if (m.body->payload_case == ART17__BODY__PAYLOAD_WELCOME)
			printf("welcome not signed by the broker\n");
		return report(&m, "answer to Hello");
	}
	*keepalive_ms = m.body->welcome->keepalive_ms;
	wire_msg_fini(&m);
	return -1;
}

/* After the handshake: the same signed Poll twice. */
static int
mode_replay(const a17_key *k, uint32_t keepalive_ms)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__Poll p = ART17__POLL__INIT;
	uint8_t id[WIRE_MSGID_LEN];
	uint8_t *buf = NULL;
	size_t len = 0;
	wire_msg m;
	int rv;

	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_POLL, member, 0);
	/* a cursor past everything: the poll is only held, it takes no
	 * copy away from the member's real agent */
	p.cursor = UINT64_MAX;
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_POLL;
	body.poll = &p;
	if (wire_seal(&body, k, &buf, &len) != 0)
		return 2;
	/* held until the keep-alive runs out (or the real agent polls) */
	rv = xchg(buf, len, (int)keepalive_ms + TIMEO_MS, "first Poll", &m);
	if (rv != X_REPLY) {
		free(buf);
		printf("first poll was not answered\n");
		return 1;
	}
	if (m.body->payload_case != ART17__BODY__PAYLOAD_DELIVER) {
		free(buf);
		report(&m, "first poll");
		return 1;
	}
	wire_msg_fini(&m);
	printf("first poll: deliver; ");
	rv = send_report(buf, len, TIMEO_MS, "same bytes again");
	free(buf);
	return rv;
}

static int
unhex(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* After the handshake: a receipt for a copy that is not ours. */
static int
mode_cross_receipt(const a17_key *k, const char *reqid, const char *seq,
                   const char *hash)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__ReceiptBatch rb = ART17__RECEIPT_BATCH__INIT;
	Art17__ReceiptItem ri = ART17__RECEIPT_ITEM__INIT;
	Art17__ReceiptItem *rip = &ri;
	uint8_t id[WIRE_MSGID_LEN], h[A17_SHA256_LEN] = {0};
	uint8_t *buf = NULL;
	size_t len = 0;
	int rv;

	if (hash != NULL && unhex(hash, h, sizeof(h)) != 0) {
		fprintf(stderr, "a17-badclient: HASH is 64 hex digits\n");
		return 2;
	}
	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_RECEIPT, member, 0);
	ri.seq = strtoull(seq, NULL, 10);
	ri.request_id = (char *)reqid;
	ri.request_hash.data = h;
	ri.request_hash.len = sizeof(h);
	ri.stored_ms = wire_now_ms();
	rb.n_items = 1;
	rb.items = &rip;
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_RECEIPT;
	body.receipt = &rb;
	if (wire_seal(&body, k, &buf, &len) != 0)
		return 2;
	rv = send_report(buf, len, TIMEO_MS, NULL);
	free(buf);
	return rv;
}

/* After the handshake: Feedback on a request never addressed to us. */
static int
mode_feedback(const a17_key *k, const char *reqid)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__Feedback fb = ART17__FEEDBACK__INIT;
	uint8_t id[WIRE_MSGID_LEN];
	uint8_t *buf = NULL;
	size_t len = 0;
	int rv;

	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_FEEDBACK, member, 0);
	fb.request_id = (char *)(reqid ? reqid : "R999999-deadbeef");
	fb.version = 1;
	fb.status = ART17__FEEDBACK_STATUS__FB_NOT_AFFECTED;
	fb.text = "a17-badclient: feedback for a request never sent to us";
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_FEEDBACK;
	body.feedback = &fb;
	if (wire_seal(&body, k, &buf, &len) != 0)
		return 2;
	rv = send_report(buf, len, TIMEO_MS, NULL);
	free(buf);
	return rv;
}

static int
usage(void)
{
	fprintf(stderr,
	        "usage: a17-badclient URL KEYDIR MODE [ARG...]\nmodes: %s\n",
	        modes);
	return 2;
}

/* Builds the one message of a single-message mode into *buf. */
static int
build_simple(const char *mode, const a17_key *k, const a17_key *other,
             uint8_t **buf, size_t *len)
{
	if (strcmp(mode, "garbage") == 0) {
		*len = 300;
		if ((*buf = malloc(*len)) != NULL)
			crypto_random(*buf, *len);
	} else if (strcmp(mode, "oversized") == 0) {
		*len = WIRE_MAX_MSG + 1000; /* above the app cap, below nng's */
		*buf = calloc(1, *len);
	} else if (strcmp(mode, "huge") == 0) {
		*len = 4 * WIRE_MAX_MSG; /* above NNG_OPT_RECVMAXSZ */
		*buf = calloc(1, *len);
	} else if (strcmp(mode, "unsigned") == 0) {
		seal_kind(ART17__MSG_KIND__MSG_HELLO_REQ, member, NULL, buf,
		          len);
	} else if (strcmp(mode, "unknown-key") == 0) {
		seal_kind(ART17__MSG_KIND__MSG_HELLO_REQ, member, other, buf,
		          len);
	} else if (strcmp(mode, "tampered") == 0) {
		Art17__Envelope *env;

		if (seal_kind(ART17__MSG_KIND__MSG_HELLO_REQ, member, k, buf,
		              len) != 0 ||
		    (env = art17__envelope__unpack(NULL, *len, *buf)) == NULL)
			return -1;
		env->body.data[env->body.len - 1] ^= 0x01;
		free(*buf);
		*len = art17__envelope__get_packed_size(env);
		if ((*buf = malloc(*len)) != NULL)
			art17__envelope__pack(env, *buf);
		art17__envelope__free_unpacked(env, NULL);
	} else if (strcmp(mode, "wrong-member") == 0) {
		/* signed with our key, claiming to be someone else */
		seal_kind(ART17__MSG_KIND__MSG_HELLO_REQ, "someone-else", k,
		          buf, len);
	} else if (strcmp(mode, "no-hello-poll") == 0) {
		seal_kind(ART17__MSG_KIND__MSG_POLL, member, k, buf, len);
	} else if (strcmp(mode, "no-hello-receipt") == 0) {
		seal_kind(ART17__MSG_KIND__MSG_RECEIPT, member, k, buf, len);
	} else if (strcmp(mode, "bad-nonce") == 0) {
		seal_kind(ART17__MSG_KIND__MSG_HELLO, member, k, buf, len);
	} else {
		return 1; /* not a single-message mode */
	}
	return *buf == NULL ? -1 : 0;
}

int
main(int argc, char **argv)
{
	const char *url, *keydir, *mode;
	char path[4096];
	nng_dialer d;
	nng_tls_config *tls = NULL;
	a17_key *k = NULL, *other = NULL, *hk;
	uint8_t *buf = NULL;
	size_t len = 0;
	uint32_t keepalive_ms = 0;
	int nargs, rv;

	/* line-buffered: the verdict is read by the test even if the
	 * process ends abruptly */
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (argc < 4)
		return usage();
	url = argv[1];
	keydir = argv[2];
	mode = argv[3];
	nargs = argc - 4;
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

	rv = build_simple(mode, k, other, &buf, &len);
	if (rv < 0) {
		fprintf(stderr, "a17-badclient: cannot build message\n");
		return 2;
	}
	if (rv == 0 && nargs != 0)
		return usage();
	if (rv == 1) {
		/* a mode that says hello first */
		if (strcmp(mode, "hello") == 0 || strcmp(mode, "replay") == 0) {
			if (nargs != 0)
				return usage();
		} else if (strcmp(mode, "feedback-unaddressed") == 0) {
			if (nargs > 1)
				return usage();
		} else if (strcmp(mode, "cross-receipt") == 0) {
			if (nargs != 2 && nargs != 3)
				return usage();
		} else if (strcmp(mode, "wrong-key-hello") == 0) {
			if (nargs != 1)
				return usage();
			/* a key registered to another member */
			crypto_key_free(other);
			other = NULL;
			snprintf(path, sizeof(path), "%s/id.key", argv[4]);
			if (crypto_key_load(path, &other) != 0) {
				fprintf(stderr, "a17-badclient: keys in %s\n",
				        argv[4]);
				return 2;
			}
		} else {
			fprintf(stderr,
			        "a17-badclient: unknown mode %s\nmodes: %s\n",
			        mode, modes);
			return 2;
		}
	}

	nng_req0_open(&sock);
	nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, TIMEO_MS);
	nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, TIMEO_MS);
	nng_socket_set_ms(sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	/* one connection only: no reconnect and resend after a drop */
	nng_socket_set_ms(sock, NNG_OPT_RECONNMINT, 60000);
	nng_socket_set_ms(sock, NNG_OPT_RECONNMAXT, 60000);
	nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, 2 * WIRE_MAX_MSG);
	nng_pipe_notify(sock, NNG_PIPE_EV_REM_POST, pipe_cb, NULL);
	if (nng_dialer_create(&d, sock, url) != 0)
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
	if (buf != NULL) {
		rv = send_report(buf, len, TIMEO_MS, NULL);
		goto out;
	}

	hk = strcmp(mode, "wrong-key-hello") == 0 ? other : k;
	if ((rv = handshake(member, hk, &keepalive_ms)) >= 0)
		goto out;
	if (strcmp(mode, "hello") == 0) {
		printf("welcomed as %s\n", member);
		rv = 1;
	} else if (strcmp(mode, "wrong-key-hello") == 0) {
		printf("welcomed as %s with another member's key\n", member);
		rv = 1;
	} else if (strcmp(mode, "replay") == 0) {
		rv = mode_replay(k, keepalive_ms);
	} else if (strcmp(mode, "cross-receipt") == 0) {
		rv = mode_cross_receipt(k, argv[4], argv[5],
		                        nargs == 3 ? argv[6] : NULL);
	} else {
		rv = mode_feedback(k, nargs == 1 ? argv[4] : NULL);
	}
out:
	free(buf);
	/* the verdict is printed; closing must not turn it into a hang */
	fflush(stdout);
	exit_status = rv;
	signal(SIGALRM, on_alarm);
	alarm(3);
	nng_close(sock);
	if (tls)
		nng_tls_config_free(tls);
	crypto_key_free(k);
	crypto_key_free(other);
	crypto_key_free(broker_key);
	return rv;
}
