/*
 * art17-drill: runs a drill scenario against the real broker with many
 * simulated member agents, and writes a report directory.
 *
 *   art17-drill -s SCENARIO.json [-o REPORT_DIR] [-n AGENTS] [--keep] ...
 *
 * The broker is the real art17-broker in its own process, durable, on
 * tls+tcp:// on loopback with mutual TLS. The agents are simagent pools
 * (tools/simagent.c) in child processes of at most --per-proc agents each
 * (one descriptor per agent: the 20,000-descriptor limit is per process).
 * Every agent has its own Ed25519 identity key, registered as a member;
 * impostors sign with a key that is not the registered one.
 *
 * Everything the drill issues is EXERCISE: the incidents are declared
 * with --exercise semantics and every request is issued exercise = true.
 * See docs/drill.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "crypto.h"
#include "drill.h"
#include "err.h"
#include "simagent.h"
#include "wire.h"
#include "harness.h"

#define DRILL_VERSION   "art17-drill 0.1.0"
#define COORD_NAME      "drill"
#define AGENT_CERT_NAME "drill-sim"
#define STAFF_ID        "staff-1"
#define MAX_PROCS       16
#define PATH_LEN        1024
#define CONNECT_BURST   32 /* TLS handshakes in flight, all processes */
/*
 * The broker's own replies on the local admin socket: an issue to 10,000
 * members lists every copy and its gate reason, well over WIRE_MAX_MSG
 * (nng drops a message over RECVMAXSZ silently, and the call would wait).
 */
#define ADMIN_MAX_REPLY (64 * 1024 * 1024)

struct opts {
	const char *scenario;
	const char *out;
	const char *bin;
	int agents; /* 0 = the scenario's */
	int real;   /* real art17-agent members taking part */
	int per_proc;
	int burst; /* handshakes in flight at start; 0 = all; -1 = default */
	int keep;
	int quiet;
	unsigned seed;
};

/* One simulated member, as planned before the fork. */
struct agent_info {
	char member[24];
	int group;
	int consent;   /* consents when a consent step names its group */
	int feedback;  /* sends feedback */
	int fb_status; /* Art17__FeedbackStatus */
	uint32_t ack_ms, fb_delay_ms;
	a17_key *key;                /* what the simulated agent signs with */
	uint8_t pub[A17_PUBKEY_LEN]; /* what is registered */
};

/* Counters of one child process, in shared memory. */
struct child_stat {
	atomic_uint_fast64_t connected, welcomed, copies, receipts, feedback,
	    refused, errors, dups, up;
	atomic_int ready, done;
};

struct shm {
	atomic_int go, stop;
	atomic_int_fast64_t epoch_ns; /* the scenario's t = 0; 0 = not yet */
	atomic_int group_online[DRILL_MAX_GROUPS];
	struct child_stat ch[MAX_PROCS];
};

/* A timed event the gate check needs: [t0, t1] wall ms around the call. */
struct gevent {
	int64_t t0, t1, expires;
	int on; /* set / grant = 1, lift / revoke = 0 */
};

struct incident {
	char label[DRILL_NAME_LEN];
	char id[64];
	int real;
	struct gevent ev[32];
	int n_ev;
};

struct request {
	char label[DRILL_NAME_LEN];
	char id[64];
	char incident[64];
	int inc; /* index into g_inc, -1 = raw id */
	int cooperation;
	int refused;
	char refusal[256];
	double t_issue_s;
	int64_t issued_wall_ms;
	size_t n_included, n_excluded;
	json_t *excluded; /* [{member, reason}] */
};

static struct opts g_o;
static drill_scenario g_sc;
static struct agent_info *g_ag;
static int g_n, g_procs;
static struct shm *g_shm;
static pid_t g_child[MAX_PROCS];
#define OUT_LEN  512 /* the report directory; paths below it are longer */
#define WORK_LEN 576
#define SUB_LEN  640
static char g_outdir[OUT_LEN], g_work[WORK_LEN], g_pki[SUB_LEN];
static char g_data[SUB_LEN], g_blog[SUB_LEN], g_broker_bin[PATH_MAX + 64];
static char g_pki_bin[PATH_MAX + 64], g_listen[64], g_url[64];
static char g_agent_bin[PATH_MAX + 64];
#define MAX_REAL 8
static int g_real; /* real art17-agent processes */
static pid_t g_real_pid[MAX_REAL];
static pid_t g_broker = -1;
static struct incident g_inc[DRILL_MAX_INCIDENTS];
static int g_n_inc;
static struct request g_req[DRILL_MAX_REQUESTS];
static int g_n_req;
/* consent events per member (index by agent), only for drill members */
static struct gevent (*g_cev)[8];
static int *g_n_cev;
static json_t *g_steps_log;
static atomic_int g_cur_step;
static atomic_int g_progress_run;
static int64_t g_t_start_ns;

/* ------------------------------------------------------------ helpers */

static void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
msg(const char *fmt, ...)
{
	va_list ap;

	if (isatty(2) && atomic_load(&g_progress_run))
		fputs("\r\033[K", stderr);
	fputs("art17-drill: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static double
t_rel_s(void)
{
	int64_t e = atomic_load(&g_shm->epoch_ns);

	return e ? (double)(sim_now_ns() - e) / 1e9 : 0;
}

/* xorshift64*: reproducible per-agent choices (--seed). */
static uint64_t g_rng = 88172645463325252ULL;

static double
rnd(void)
{
	g_rng ^= g_rng >> 12;
	g_rng ^= g_rng << 25;
	g_rng ^= g_rng >> 27;
	return (double)((g_rng * 2685821657736338717ULL) >> 11) /
	       9007199254740992.0;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static int
run(char *const argv[])
{
	char log[PATH_LEN];
	pid_t pid;
	int status;

	snprintf(log, sizeof(log), "%s/pki.log", g_work);
	if ((pid = harness_spawn(argv, log, 1, NULL, NULL)) < 0)
		return -1;
	if (harness_wait_pid(pid, 60000, &status) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		msg("%s %s failed (see %s)", argv[0], argv[1], log);
		return -1;
	}
	return 0;
}

/* How many lines of path contain needle. */
static int
count_in_file(const char *path, const char *needle)
{
	char buf[8192];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(buf, sizeof(buf), f) != NULL)
		n += strstr(buf, needle) != NULL;
	fclose(f);
	return n;
}

/* Peak resident set of pid in kB (VmHWM), -1 if unknown. */
static long
peak_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* ------------------------------------------------------------ broker */

static int
broker_start(void)
{
	char *argv[16];
	char ka[] = "30000";
	int ai = 0, before = count_in_file(g_blog, "ready:");
	int64_t end = sim_now_ns() + 60LL * 1000000000;

	argv[ai++] = g_broker_bin;
	argv[ai++] = "-d";
	argv[ai++] = g_data;
	argv[ai++] = "-p";
	argv[ai++] = g_pki;
	argv[ai++] = "-l";
	argv[ai++] = g_listen;
	argv[ai++] = "--keepalive";
	argv[ai++] = ka;
	argv[ai] = NULL;
	if ((g_broker = harness_spawn(argv, g_blog, 1, NULL, NULL)) < 0) {
		msg("cannot start %s", g_broker_bin);
		return -1;
	}
	while (sim_now_ns() < end) {
		int status;

		if (count_in_file(g_blog, "ready:") > before)
			return 0;
		if (waitpid(g_broker, &status, WNOHANG) == g_broker) {
			g_broker = -1;
			msg("the broker exited during start-up (see %s)",
			    g_blog);
			return -1;
		}
		harness_sleep_ms(20);
	}
	msg("the broker was not ready after 60 s (see %s)", g_blog);
	return -1;
}

static void
broker_stop(int sig)
{
	int status;

	if (g_broker <= 0)
		return;
	kill(g_broker, sig);
	if (harness_wait_pid(g_broker, 20000, &status) != 0) {
		msg("the broker did not stop within 20 s: killing it");
		kill(g_broker, SIGKILL);
		waitpid(g_broker, &status, 0);
	}
	g_broker = -1;
}

/* ------------------------------------------------------------ admin */

static nng_socket g_admin;
static int g_admin_open;
static a17_key *g_coord;

/* An admin reply as unpacked by admin_call. */
typedef struct amsg {
	Art17__Envelope *env;
	Art17__Body *body;
} amsg;

static void
amsg_fini(amsg *m)
{
	if (m->body != NULL)
		art17__body__free_unpacked(m->body, NULL);
	if (m->env != NULL)
		art17__envelope__free_unpacked(m->env, NULL);
	m->body = NULL;
	m->env = NULL;
}
static int
admin_open(void)
{
	char url[PATH_LEN + 32];
	int rv;

	if (g_admin_open) {
		nng_close(g_admin);
		g_admin_open = 0;
	}
	snprintf(url, sizeof(url), "ipc://%s/admin.sock", g_data);
	if ((rv = nng_req0_open(&g_admin)) != 0) {
		msg("admin socket: %s", nng_strerror(rv));
		return -1;
	}
	g_admin_open =
	    1; /*
	        * Issuing to 10,000 members while they are all connected takes
	        * the broker a while: wait long, and never let REQ resend (its
	        * default resend after 60 s would issue the request twice).
	        */
	nng_socket_set_ms(g_admin, NNG_OPT_SENDTIMEO, 60000);
	nng_socket_set_ms(g_admin, NNG_OPT_RECVTIMEO, 900000);
	nng_socket_set_ms(g_admin, NNG_OPT_REQ_RESENDTIME,
	                  NNG_DURATION_INFINITE);
	nng_socket_set_size(g_admin, NNG_OPT_RECVMAXSZ, ADMIN_MAX_REPLY);
	if ((rv = nng_dial(g_admin, url, NULL, 0)) != 0) {
		msg("%s: %s", url, nng_strerror(rv));
		return -1;
	}
	return 0;
}

/*
 * Sends a coordinator-signed AdminRequest, as art17ctl does. 0 with the
 * reply in *m (amsg_fini it) and *rep; or -1 with err filled (the
 * broker's refusal, or what failed).
 */
static int
admin_call(Art17__AdminRequest *req, amsg *m, Art17__AdminReply **rep,
           char *err, size_t errlen)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	uint8_t id[WIRE_MSGID_LEN], *out;
	size_t outlen;
	nng_msg *nm;
	int rv;

	*rep = NULL;
	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_ADMIN, COORD_NAME, 0);
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_ADMIN;
	body.admin = req;
	if ((rv = wire_seal(&body, g_coord, &out, &outlen)) != 0) {
		snprintf(err, errlen, "sealing: %s", a17_strerror(rv));
		return -1;
	}
	rv = nng_send(g_admin, out, outlen, 0);
	free(out);
	if (rv == 0)
		rv = nng_recvmsg(g_admin, &nm, 0);
	if (rv != 0) {
		snprintf(err, errlen, "admin socket: %s", nng_strerror(rv));
		return -1;
	} /*
	   * The reply is unsigned (docs/protocol.md) and may exceed
	   * WIRE_MAX_MSG, which wire_open enforces: unpack it here, NULL-
	   * checking each step.
	   */
	memset(m, 0, sizeof(*m));
	m->env =
	    art17__envelope__unpack(NULL, nng_msg_len(nm), nng_msg_body(nm));
	nng_msg_free(nm);
	if (m->env != NULL)
		m->body = art17__body__unpack(NULL, m->env->body.len,
		                              m->env->body.data);
	if (m->env == NULL || m->body == NULL) {
		amsg_fini(m);
		snprintf(err, errlen, "admin reply: malformed");
		return -1;
	}
	if (m->body->payload_case == ART17__BODY__PAYLOAD_ERROR) {
		snprintf(err, errlen, "%s %s", m->body->error->msg_code,
		         m->body->error->detail);
		amsg_fini(m);
		return -1;
	}
	if (m->body->payload_case != ART17__BODY__PAYLOAD_ADMIN_REPLY ||
	    m->body->admin_reply == NULL) {
		snprintf(err, errlen, "unexpected admin reply");
		amsg_fini(m);
		return -1;
	}
	if (m->body->admin_reply->code != ART17__ERR_CODE__ERR_UNSPECIFIED) {
		const Art17__IssueResult *ir = m->body->admin_reply->issued;

		snprintf(err, errlen, "%s %s", m->body->admin_reply->msg_code,
		         m->body->admin_reply->detail);
		/* a refused issue names every member's gate reason */
		if (ir != NULL && ir->n_excluded > 0 &&
		    ir->excluded[0]->reason != NULL) {
			size_t used = strlen(err);

			snprintf(err + used, errlen - used,
			         " [%zu members excluded, e.g. %s: %s]",
			         ir->n_excluded, ir->excluded[0]->member_id,
			         ir->excluded[0]->reason);
		}
		amsg_fini(m);
		return -1;
	}
	*rep = m->body->admin_reply;
	return 0;
}

/* admin_call for requests whose reply carries nothing we need. */
static int
admin_do(Art17__AdminRequest *req, char *err, size_t errlen)
{
	Art17__AdminReply *rep;
	amsg m;

	if (admin_call(req, &m, &rep, err, errlen) != 0)
		return -1;
	amsg_fini(&m);
	return 0;
}

/*
 * Waits until the admin socket answers (a harmless incident list): a
 * broker that has just said "ready:" may still drop the first
 * connection while it starts up under load.
 */
static int
admin_ready(void)
{
	char err[512] = "";

	for (int i = 0; i < 100; i++) {
		Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
		Art17__IncidentQuery q = ART17__INCIDENT_QUERY__INIT;

		req.op_case = ART17__ADMIN_REQUEST__OP_INCIDENT_LIST;
		req.incident_list = &q;
		if (admin_do(&req, err, sizeof(err)) == 0)
			return 0;
		harness_sleep_ms(200);
		if (admin_open() != 0)
			break;
	}
	msg("the broker's admin socket does not answer: %s", err);
	return -1;
}

static int
register_member(const struct agent_info *a, char *err, size_t errlen)
{
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__MemberRecord rec = ART17__MEMBER_RECORD__INIT;
	char name[96];
	uint8_t pub[A17_PUBKEY_LEN];

	memcpy(pub, a->pub, sizeof(pub));
	snprintf(name, sizeof(name), "EXERCISE simulated member %s (%s)",
	         a->member, g_sc.groups[a->group].name);
	rec.member_id = (char *)a->member;
	rec.name = name;
	rec.member_class = ART17__MEMBER_CLASS__CLASS_GENERAL;
	rec.category = (Art17__Category)g_sc.groups[a->group].category;
	rec.id_pub.data = pub;
	rec.id_pub.len = sizeof(pub);
	req.op_case = ART17__ADMIN_REQUEST__OP_MEMBER_ADD;
	req.member_add = &rec;
	return admin_do(&req, err, errlen);
}

/* One registered staff member (no system account), for feedback. */
static int
register_staff(const struct agent_info *a, char *err, size_t errlen)
{
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__StaffChangeSet cs = ART17__STAFF_CHANGE_SET__INIT;
	Art17__StaffEntry e = ART17__STAFF_ENTRY__INIT, *ep[1] = {&e};
	uint8_t x[32];
	char email[64];

	crypto_random(x, sizeof(x));
	/* one person, one address (RULES Q10) */
	snprintf(email, sizeof(email), "staff-1@%s.example.invalid", a->member);
	e.action = ART17__STAFF_ACTION__STAFF_NEW;
	e.staff_id = STAFF_ID;
	e.name = "Drill Staff (EXERCISE)";
	e.email = email;
	e.x25519_pub.data = x;
	e.x25519_pub.len = sizeof(x);
	e.account = 0;
	cs.member_id = (char *)a->member;
	cs.entries = ep;
	cs.n_entries = 1;
	cs.immediate = 1;
	req.op_case = ART17__ADMIN_REQUEST__OP_STAFF_CHANGE;
	req.staff_change = &cs;
	return admin_do(&req, err, errlen);
}

/* ------------------------------------------------------------ real agents */

/*
 * Real art17-agent processes taking part in the drill as members
 * real-01 ...: their own keys and TLS certificates from art17-pki, their
 * own LMDB under work/. They receive what the gate lets through, like
 * any member, and must show it marked EXERCISE.
 */
static int
real_prepare(int i)
{
	char name[16];
	char *argv[] = {g_pki_bin, "agent", "-d", g_pki, name, NULL};

	snprintf(name, sizeof(name), "real-%02d", i + 1);
	return run(argv);
}

static int
real_register(int i, char *err, size_t errlen)
{
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__MemberRecord rec = ART17__MEMBER_RECORD__INIT;
	char path[PATH_LEN], id[16], name[96];
	uint8_t pub[A17_PUBKEY_LEN];
	a17_key *k = NULL;
	int rv;

	snprintf(id, sizeof(id), "real-%02d", i + 1);
	snprintf(path, sizeof(path), "%s/agents/%s/id.pub", g_pki, id);
	if ((rv = crypto_key_load(path, &k)) != 0 ||
	    crypto_key_raw_public(k, pub) != 0) {
		snprintf(err, errlen, "%s's id.pub: %s", id, a17_strerror(rv));
		crypto_key_free(k);
		return -1;
	}
	crypto_key_free(k);
	snprintf(name, sizeof(name), "Real art17-agent %s (drill participant)",
	         id);
	rec.member_id = id;
	rec.name = name;
	rec.member_class = ART17__MEMBER_CLASS__CLASS_GENERAL;
	rec.category = ART17__CATEGORY__CAT_OTHER;
	rec.id_pub.data = pub;
	rec.id_pub.len = sizeof(pub);
	req.op_case = ART17__ADMIN_REQUEST__OP_MEMBER_ADD;
	req.member_add = &rec;
	return admin_do(&req, err, errlen);
}

static int
real_start(int i)
{
	char id[16], dir[PATH_LEN], keys[PATH_LEN], log[PATH_LEN];
	char *argv[] = {g_agent_bin, "-d", dir,   "run", "-k",
	                keys,        "-c", g_url, NULL};
	int64_t end = sim_now_ns() + 60LL * 1000000000;
	char needle[64];

	snprintf(id, sizeof(id), "real-%02d", i + 1);
	snprintf(dir, sizeof(dir), "%s/agent-%s", g_work, id);
	snprintf(keys, sizeof(keys), "%s/agents/%s", g_pki, id);
	snprintf(log, sizeof(log), "%s/agent-%s.log", g_work, id);
	snprintf(needle, sizeof(needle), "connected as %s", id);
	if ((g_real_pid[i] = harness_spawn(argv, log, 1, NULL, NULL)) < 0)
		return -1;
	while (sim_now_ns() < end) {
		if (count_in_file(log, needle) > 0)
			return 0;
		harness_sleep_ms(100);
	}
	msg("real agent %s did not connect (see %s)", id, log);
	return -1;
}

static void
real_stop(void)
{
	for (int i = 0; i < g_real; i++) {
		int status;

		if (g_real_pid[i] <= 0)
			continue;
		kill(g_real_pid[i], SIGTERM);
		if (harness_wait_pid(g_real_pid[i], 15000, &status) != 0) {
			kill(g_real_pid[i], SIGKILL);
			waitpid(g_real_pid[i], &status, 0);
		}
		g_real_pid[i] = 0;
	}
}

/* What each real agent holds, from `art17-agent list --json`. */
static json_t *
real_report(json_int_t *unmarked)
{
	json_t *out = json_array();

	for (int i = 0; i < g_real; i++) {
		char cmd[PATH_MAX + PATH_LEN + 128], id[16];
		json_int_t held = 0, marked = 0;
		json_error_t je;
		json_t *list, *v;
		size_t k;
		FILE *p;

		snprintf(id, sizeof(id), "real-%02d", i + 1);
		snprintf(cmd, sizeof(cmd), "'%s' -d '%s/agent-%s' list --json",
		         g_agent_bin, g_work, id);
		if ((p = popen(cmd, "r")) == NULL)
			continue;
		list = json_loadf(p, 0, &je);
		pclose(p);
		json_array_foreach(list, k, v)
		{
			held++;
			marked +=
			    json_is_true(json_object_get(v, "exercise")) &&
			    json_is_string(
			        json_object_get(v, "marking_exercise"));
		}
		if (list == NULL)
			msg("art17-agent list for %s: %s", id, je.text);
		*unmarked += held - marked;
		json_array_append_new(
		    out, json_pack("{s:s, s:I, s:I, s:b}", "member", id,
		                   "copies_held", held, "marked_exercise",
		                   marked, "listed", list != NULL));
		json_decref(list);
	}
	return out;
}

/* ------------------------------------------------------------ children */

static int
pred_polling_all(const sim_counts *c, void *arg)
{
	(void)arg;
	(void)c;
	return 1;
}

static void
child_publish(struct child_stat *cs, sim_pool *pool, uint64_t up)
{
	sim_counts c;

	sim_pool_counts(pool, &c);
	atomic_store(&cs->connected, c.connected);
	atomic_store(&cs->welcomed, c.welcomed);
	atomic_store(&cs->copies, c.copies);
	atomic_store(&cs->receipts, c.receipts_ok);
	atomic_store(&cs->feedback, c.feedback_ok);
	atomic_store(&cs->refused, c.refused);
	atomic_store(&cs->errors, c.errors);
	atomic_store(&cs->dups, c.duplicates);
	atomic_store(&cs->up, up);
}

/*
 * The child's counters are published by a thread of their own, so that
 * a driver loop slowed by taking agents down (nng_dialer_close can take
 * a while on a busy machine) never looks like a drill that has settled.
 */
struct pub_arg {
	struct child_stat *cs;
	sim_pool *pool;
};
static atomic_uint_fast64_t g_child_up;

static void *
publisher(void *arg)
{
	struct pub_arg *pa = arg;

	while (!atomic_load(&g_shm->stop)) {
		child_publish(pa->cs, pa->pool, atomic_load(&g_child_up));
		harness_sleep_ms(50);
	}
	return NULL;
}

/* Is agent i of group g meant to be up at scenario time t (s)? */
static int
want_up(const drill_group *g, int64_t epoch, double t)
{
	if (!atomic_load(&g_shm->group_online[g - g_sc.groups]))
		return 0;
	if (epoch == 0)
		return 1;
	if (g->crash_at_s > 0 && t >= g->crash_at_s &&
	    t < g->crash_at_s + g->crash_down_s)
		return 0;
	if (g->flap_every_s > 0 && t >= g->flap_every_s &&
	    fmod(t, g->flap_every_s) * 1000.0 < g->flap_down_ms)
		return 0;
	return 1;
}

struct wr_arg {
	FILE *f;
	const char *member;
	int64_t epoch;
};

static double
rel_ms(int64_t ns, int64_t epoch)
{
	return ns == 0 ? -1 : (double)(ns - epoch) / 1e6;
}

static void
write_copy(void *arg, const sim_copy_rec *r)
{
	struct wr_arg *w = arg;

	fprintf(w->f, "C\t%s\t%s\t%llu\t%.3f\t%.3f\t%.3f\t%u\t%u\t%d\t%d\t%d\n",
	        w->member, r->request_id, (unsigned long long)r->seq,
	        rel_ms(r->t_deliver_ns, w->epoch),
	        rel_ms(r->t_receipt_ok_ns, w->epoch),
	        rel_ms(r->t_feedback_ok_ns, w->epoch), r->times, r->other_seqs,
	        r->exercise, r->kind, r->fb_status);
}

/* A child process: runs agents [lo, hi) until the parent says stop. */
static int
child_main(int ci, int lo, int hi)
{
	struct child_stat *cs = &g_shm->ch[ci];
	char path[PATH_LEN], ca[PATH_LEN], cert[PATH_LEN];
	nng_tls_config *tls = NULL;
	a17_key *bkey = NULL;
	sim_pool *pool = NULL;
	sim_cfg cfg;
	int n = hi - lo, rv;
	uint32_t burst = CONNECT_BURST / (uint32_t)g_procs;
	int *up, *queued;
	int64_t end;
	FILE *f;

	if (burst < 4)
		burst = 4;
	if (g_o.burst == 0) /* a storm: every agent dials at once */
		burst = UINT32_MAX;
	else if (g_o.burst > 0)
		burst = (uint32_t)(g_o.burst + g_procs - 1) / (uint32_t)g_procs;
	/* wait until the members are registered (or the drill gave up) */
	end = sim_now_ns() + 3600LL * 1000000000;
	while (!atomic_load(&g_shm->go) && !atomic_load(&g_shm->stop)) {
		if (sim_now_ns() > end || getppid() == 1)
			_exit(1);
		harness_sleep_ms(20);
	}
	if (atomic_load(&g_shm->stop))
		_exit(0);
	snprintf(path, sizeof(path), "%s/broker/sign.pub", g_pki);
	snprintf(ca, sizeof(ca), "%s/agents/%s/ca.crt", g_pki, AGENT_CERT_NAME);
	snprintf(cert, sizeof(cert), "%s/agents/%s/tls.pem", g_pki,
	         AGENT_CERT_NAME);
	if ((rv = crypto_key_load(path, &bkey)) != 0) {
		msg("%s: %s", path, a17_strerror(rv));
		_exit(1);
	}
	if ((rv = nng_tls_config_alloc(&tls, NNG_TLS_MODE_CLIENT)) != 0 ||
	    (rv = nng_tls_config_auth_mode(tls, NNG_TLS_AUTH_MODE_REQUIRED)) !=
	        0 ||
	    (rv = nng_tls_config_ca_file(tls, ca)) != 0 ||
	    (rv = nng_tls_config_cert_key_file(tls, cert, NULL)) != 0 ||
	    (rv = nng_tls_config_server_name(tls, "localhost")) != 0) {
		msg("agent TLS set-up: %s", nng_strerror(rv));
		_exit(1);
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.url = g_url;
	cfg.tls = tls;
	cfg.broker_key = bkey;
	cfg.retry_ms = 1000;
	if (sim_pool_create(&cfg, &pool) != 0)
		_exit(1);
	up = calloc((size_t)n, sizeof(int));
	queued = calloc((size_t)n, sizeof(int));
	if (up == NULL || queued == NULL)
		_exit(1);
	for (int i = lo; i < hi; i++) {
		struct agent_info *a = &g_ag[i];
		sim_behaviour b;

		memset(&b, 0, sizeof(b));
		b.ack_delay_ms = a->ack_ms;
		b.feedback = a->feedback;
		b.feedback_shares = g_sc.groups[a->group].fb_shares;
		b.feedback_delay_ms = a->fb_delay_ms;
		b.feedback_status = a->fb_status;
		b.feedback_contact = STAFF_ID;
		b.impostor = g_sc.groups[a->group].impostor;
		if (sim_agent_add(pool, a->member, a->key, &b, NULL) != 0)
			_exit(1);
		a->key = NULL;
	}
	(void)pred_polling_all;
	{
		static struct pub_arg pa;
		pthread_t pt;

		pa.cs = cs;
		pa.pool = pool;
		if (pthread_create(&pt, NULL, publisher, &pa) != 0)
			_exit(1);
		pthread_detach(pt);
	}
	atomic_store(&cs->ready, 1);
	for (;;) {
		int64_t epoch = atomic_load(&g_shm->epoch_ns);
		double t = epoch ? (double)(sim_now_ns() - epoch) / 1e9 : 0;
		sim_counts c;
		uint64_t nup = 0, pending;

		if (atomic_load(&g_shm->stop) || getppid() == 1)
			break;
		sim_pool_counts(pool, &c);
		for (int i = 0; i < n; i++) {
			const drill_group *g = &g_sc.groups[g_ag[lo + i].group];
			int w = want_up(g, epoch, t);

			if (atomic_load(&g_shm->stop))
				break;
			if (w && !up[i])
				queued[i] = 1;
			else if (!w && up[i]) {
				sim_agent_down(sim_pool_agent(pool, (size_t)i));
				up[i] = 0;
			} else if (!w)
				queued[i] = 0;
			nup += up[i];
		}
		/* pace the TLS handshakes: at most burst in flight */
		pending = nup - c.welcomed - c.refused;
		if (c.welcomed + c.refused > nup)
			pending = 0;
		for (int i = 0; i < n && pending < burst; i++) {
			if (!queued[i])
				continue;
			queued[i] = 0;
			if (sim_agent_start(sim_pool_agent(pool, (size_t)i)) ==
			    0) {
				up[i] = 1;
				nup++;
				pending++;
			}
		}
		atomic_store(&g_child_up, nup);
		harness_sleep_ms(20);
	}
	sim_pool_stop(pool);
	{
		int64_t epoch = atomic_load(&g_shm->epoch_ns);
		uint64_t nup = 0;

		for (int i = 0; i < n; i++)
			nup += up[i];
		child_publish(cs, pool, nup);
		snprintf(path, sizeof(path), "%s/sim-%d.tsv", g_work, ci);
		if ((f = fopen(path, "w")) == NULL)
			_exit(1);
		for (int i = 0; i < n; i++) {
			sim_agent *a = sim_pool_agent(pool, (size_t)i);
			sim_agent_stats st;
			struct wr_arg w = {f, sim_agent_member(a), epoch};

			sim_agent_get_stats(a, &st);
			fprintf(f,
			        "A\t%s\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t%"
			        "llu\t%s\n",
			        w.member, (unsigned long long)st.welcomes,
			        (unsigned long long)st.errors,
			        (unsigned long long)st.refused,
			        (unsigned long long)st.downs,
			        (unsigned long long)st.connect_retries,
			        (unsigned long long)st.copies,
			        (unsigned long long)st.duplicates,
			        st.last_error_text[0] ? st.last_error_text
			                              : "-");
			sim_agent_each_copy(a, write_copy, &w);
		}
		fclose(f);
	}
	atomic_store(&cs->done, 1);
	/* sockets are released by the exit (nng 1.5.2 can hang closing
	 * thousands of busy sockets: issues #1543, #1813) */
	_exit(0);
}

/* ------------------------------------------------------------ progress */

struct totals {
	uint64_t connected, welcomed, copies, receipts, feedback, refused,
	    errors, dups, up;
};

static void
sum_children(struct totals *t)
{
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < g_procs; i++) {
		struct child_stat *c = &g_shm->ch[i];

		t->connected += atomic_load(&c->connected);
		t->welcomed += atomic_load(&c->welcomed);
		t->copies += atomic_load(&c->copies);
		t->receipts += atomic_load(&c->receipts);
		t->feedback += atomic_load(&c->feedback);
		t->refused += atomic_load(&c->refused);
		t->errors += atomic_load(&c->errors);
		t->dups += atomic_load(&c->dups);
		t->up += atomic_load(&c->up);
	}
}

static size_t
expected_copies(void)
{
	size_t n = 0;

	for (int i = 0; i < g_n_req; i++)
		n += g_req[i].n_included;
	return n;
}

static void
progress_line(int final)
{
	struct totals t;
	size_t want = expected_copies();
	int width = 30, fill, step = atomic_load(&g_cur_step);
	char bar[64];
	double frac;

	sum_children(&t);
	frac = want ? (double)t.receipts / (double)want : 0;
	if (frac > 1)
		frac = 1;
	fill = (int)(frac * width + 0.5);
	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = '\0';
	fprintf(
	    stderr,
	    "%sEXERCISE [%s] t=%6.1fs step %d/%d %-14s online %llu/%d "
	    "delivered %llu acked %llu/%zu answered %llu%s",
	    isatty(2) ? "\r\033[K" : "", bar, t_rel_s(),
	    step < g_sc.n_steps ? step + 1 : g_sc.n_steps, g_sc.n_steps,
	    step < g_sc.n_steps ? drill_op_name(g_sc.steps[step].op) : "done",
	    (unsigned long long)t.welcomed, g_n, (unsigned long long)t.copies,
	    (unsigned long long)t.receipts, want,
	    (unsigned long long)t.feedback, isatty(2) && !final ? "" : "\n");
	fflush(stderr);
}

static void *
progress_thread(void *arg)
{
	int tick = 0;

	(void)arg;
	while (atomic_load(&g_progress_run)) {
		if (isatty(2) || tick % 20 == 0)
			progress_line(0);
		tick++;
		harness_sleep_ms(250);
	}
	return NULL;
}

/* ------------------------------------------------------------ steps */

static json_t *
step_log(const drill_step *s, int ok, const char *detail)
{
	json_t *j = json_pack("{s:i, s:s, s:f, s:b, s:s}", "index", s->line,
	                      "op", drill_op_name(s->op), "t_s", t_rel_s(),
	                      "ok", ok, "detail", detail ? detail : "");

	json_array_append(g_steps_log, j);
	json_decref(j);
	return j;
}

static struct incident *
find_inc(const char *label)
{
	for (int i = 0; i < g_n_inc; i++)
		if (strcmp(g_inc[i].label, label) == 0)
			return &g_inc[i];
	return NULL;
}

static int
step_declare(const drill_step *s, char *err, size_t errlen)
{
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__IncidentDeclare d = ART17__INCIDENT_DECLARE__INIT;
	Art17__AdminReply *rep;
	struct incident *inc = &g_inc[g_n_inc];
	char title[160];
	amsg m;

	snprintf(title, sizeof(title), "%s%s",
	         s->real ? "" : "EXERCISE: ", s->title);
	d.title = title;
	d.description = s->real ? "Control incident of a drill: real, so "
	                          "that the drill can show it cannot be mixed"
	                        : "Drill incident (art17-drill)";
	d.exercise = !s->real;
	req.op_case = ART17__ADMIN_REQUEST__OP_INCIDENT_DECLARE;
	req.incident_declare = &d;
	if (admin_call(&req, &m, &rep, err, errlen) != 0)
		return -1;
	memset(inc, 0, sizeof(*inc));
	snprintf(inc->label, sizeof(inc->label), "%s", s->incident);
	if (rep->n_incidents > 0 && rep->incidents[0]->incident_id)
		snprintf(inc->id, sizeof(inc->id), "%s",
		         rep->incidents[0]->incident_id);
	else if (rep->info != NULL)
		sscanf(rep->info, "%63s", inc->id);
	inc->real = s->real;
	amsg_fini(&m);
	if (inc->id[0] == '\0') {
		snprintf(err, errlen, "no incident id in the reply");
		return -1;
	}
	g_n_inc++;
	snprintf(err, errlen, "%s%s", inc->id, s->real ? " (real)" : "");
	return 0;
}

static int
step_flag(const drill_step *s, int on, char *err, size_t errlen)
{
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__FlagChange fc = ART17__FLAG_CHANGE__INIT;
	struct incident *inc = find_inc(s->incident);
	struct gevent *e;
	int rv;

	fc.incident_id = inc->id;
	fc.reason = (char *)s->text;
	if (on) {
		fc.expires_ms = wire_now_ms() + (int64_t)(s->seconds * 1000);
		req.op_case = ART17__ADMIN_REQUEST__OP_INCIDENT_FLAG;
		req.incident_flag = &fc;
	} else {
		req.op_case = ART17__ADMIN_REQUEST__OP_INCIDENT_UNFLAG;
		req.incident_unflag = &fc;
	}
	e = &inc->ev[inc->n_ev < 32 ? inc->n_ev : 31];
	e->t0 = wire_now_ms();
	rv = admin_do(&req, err, errlen);
	e->t1 = wire_now_ms();
	e->on = on;
	e->expires = fc.expires_ms;
	if (rv == 0 && inc->n_ev < 32)
		inc->n_ev++;
	if (rv == 0)
		snprintf(err, errlen, "%s %s", inc->id,
		         on ? "flagged large-scale" : "flag lifted");
	return rv;
}

static int
step_consent(const drill_step *s, char *err, size_t errlen)
{
	int n = 0, failed = 0;

	for (int i = 0; i < g_n; i++) {
		struct agent_info *a = &g_ag[i];
		Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
		Art17__ConsentChange cc = ART17__CONSENT_CHANGE__INIT;
		char ref[96], e2[256];
		struct gevent *e;

		if (!a->consent ||
		    (s->group[0] &&
		     strcmp(g_sc.groups[a->group].name, s->group) != 0))
			continue;
		snprintf(ref, sizeof(ref), "EXERCISE-CONSENT-%s", a->member);
		cc.member_id = a->member;
		cc.grant = s->grant;
		cc.reference = ref;
		if (s->grant) {
			req.op_case = ART17__ADMIN_REQUEST__OP_CONSENT_GRANT;
			req.consent_grant = &cc;
		} else {
			req.op_case = ART17__ADMIN_REQUEST__OP_CONSENT_REVOKE;
			req.consent_revoke = &cc;
		}
		e = &g_cev[i][g_n_cev[i] < 8 ? g_n_cev[i] : 7];
		e->t0 = wire_now_ms();
		if (admin_do(&req, e2, sizeof(e2)) != 0) {
			if (!failed)
				snprintf(err, errlen, "%s: %s", a->member, e2);
			failed++;
			continue;
		}
		e->t1 = wire_now_ms();
		e->on = s->grant;
		e->expires = INT64_MAX;
		if (g_n_cev[i] < 8)
			g_n_cev[i]++;
		n++;
	}
	if (failed)
		return -1;
	snprintf(err, errlen, "%d members %s consent", n,
	         s->grant ? "granted" : "revoked");
	return 0;
}

static int
step_issue(const drill_step *s, char *err, size_t errlen)
{
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__IssueRequest is = ART17__ISSUE_REQUEST__INIT;
	Art17__Marking mk = ART17__MARKING__INIT;
	Art17__AdminReply *rep;
	struct request *r = &g_req[g_n_req++];
	struct incident *inc = s->incident[0] ? find_inc(s->incident) : NULL;
	char title[160], content[300];
	amsg m;

	memset(r, 0, sizeof(*r));
	snprintf(r->label, sizeof(r->label), "%s", s->label);
	snprintf(r->incident, sizeof(r->incident), "%s",
	         inc ? inc->id : s->raw_incident);
	r->inc = inc ? (int)(inc - g_inc) : -1;
	r->cooperation = s->cooperation;
	snprintf(title, sizeof(title), "EXERCISE: %s", s->title);
	snprintf(content, sizeof(content), "EXERCISE EXERCISE EXERCISE\n%s",
	         s->text);
	is.kind = s->cooperation ? ART17__ITEM_KIND__KIND_COOPERATION_REQUEST
	                         : ART17__ITEM_KIND__KIND_INFORMATION_SHARE;
	is.incident_id = r->incident;
	is.title = title;
	is.content.data = (uint8_t *)content;
	is.content.len = strlen(content);
	is.exercise = 1; /* a drill request, always */
	is.force = 1;    /* the same text may be issued twice in a drill */
	mk.tlp = (Art17__Tlp)s->tlp;
	mk.secret = ART17__SECRET__SECRET_NO;
	mk.scope = ART17__SCOPE__SCOPE_MEMBERS;
	is.marking = &mk;
	if (s->seconds > 0)
		is.deadline_ms = wire_now_ms() + (int64_t)(s->seconds * 1000);
	req.op_case = ART17__ADMIN_REQUEST__OP_REQUEST_ISSUE;
	req.request_issue = &is;
	r->t_issue_s = t_rel_s();
	r->issued_wall_ms = wire_now_ms();
	r->excluded = json_array();
	if (admin_call(&req, &m, &rep, err, errlen) != 0) {
		r->refused = 1;
		snprintf(r->refusal, sizeof(r->refusal), "%s", err);
		if (s->expect_refused) {
			char tmp[300];

			snprintf(tmp, sizeof(tmp), "refused as expected: %s",
			         r->refusal);
			snprintf(err, errlen, "%s", tmp);
			return 0;
		}
		return -1;
	}
	if (rep->issued == NULL || rep->issued->request_id == NULL) {
		amsg_fini(&m);
		snprintf(err, errlen, "no request id in the reply");
		return -1;
	}
	snprintf(r->id, sizeof(r->id), "%s", rep->issued->request_id);
	r->n_included = rep->issued->n_included;
	r->n_excluded = rep->issued->n_excluded;
	for (size_t i = 0; i < rep->issued->n_excluded; i++) {
		const Art17__CopyStatus *c = rep->issued->excluded[i];

		json_array_append_new(r->excluded,
		                      json_pack("{s:s, s:s}", "member_id",
		                                c->member_id, "reason",
		                                c->reason ? c->reason : ""));
	}
	amsg_fini(&m);
	if (s->expect_refused) {
		snprintf(err, errlen,
		         "%s was issued to %zu members, but the scenario "
		         "expected a refusal",
		         r->id, r->n_included);
		return -1;
	}
	snprintf(err, errlen, "%s: %zu copies queued, %zu members excluded",
	         r->id, r->n_included, r->n_excluded);
	return 0;
}

static void
step_wait(const drill_step *s)
{
	int64_t end = sim_now_ns() + (int64_t)(s->seconds * 1e9);
	int64_t quiet_since = sim_now_ns();
	struct totals last, t;

	sum_children(&last);
	while (sim_now_ns() < end) {
		harness_sleep_ms(100);
		if (!s->until_settled)
			continue;
		sum_children(&t);
		if (t.copies != last.copies || t.receipts != last.receipts ||
		    t.feedback != last.feedback ||
		    t.welcomed != last.welcomed) {
			last = t;
			quiet_since = sim_now_ns();
		} else if (sim_now_ns() - quiet_since >
		           (int64_t)(s->quiet_s * 1e9)) {
			return;
		}
	}
}

static void
set_online(const drill_step *s, int on)
{
	for (int g = 0; g < g_sc.n_groups; g++)
		if (strcmp(g_sc.groups[g].name, s->group) == 0)
			atomic_store(&g_shm->group_online[g], on);
}

/* Runs every step; 0 when each did what the scenario said. */
static int
run_steps(void)
{
	int failures = 0;

	for (int i = 0; i < g_sc.n_steps; i++) {
		const drill_step *s = &g_sc.steps[i];
		char detail[512] = "";
		int rv = 0;

		atomic_store(&g_cur_step, i);
		switch (s->op) {
		case OP_DECLARE:
			rv = step_declare(s, detail, sizeof(detail));
			break;
		case OP_FLAG:
			rv = step_flag(s, 1, detail, sizeof(detail));
			break;
		case OP_UNFLAG:
			rv = step_flag(s, 0, detail, sizeof(detail));
			break;
		case OP_CONSENT:
			rv = step_consent(s, detail, sizeof(detail));
			break;
		case OP_ISSUE:
			rv = step_issue(s, detail, sizeof(detail));
			break;
		case OP_WAIT:
			step_wait(s);
			snprintf(detail, sizeof(detail), "%s",
			         s->until_settled ? "settled" : "waited");
			break;
		case OP_ONLINE:
		case OP_OFFLINE:
			set_online(s, s->op == OP_ONLINE);
			snprintf(detail, sizeof(detail), "group %s %s",
			         s->group,
			         s->op == OP_ONLINE ? "online" : "offline");
			break;
		case OP_KILL_BROKER:
			broker_stop(SIGKILL);
			snprintf(detail, sizeof(detail),
			         "broker killed (SIGKILL)");
			break;
		case OP_RESTART_BROKER:
			if (g_broker > 0)
				broker_stop(SIGTERM);
			rv = broker_start();
			if (rv == 0)
				rv = admin_open();
			if (rv == 0)
				rv = admin_ready();
			snprintf(detail, sizeof(detail), "%s",
			         rv == 0 ? "broker restarted on the same data"
			                 : "broker did not restart");
			break;
		case OP_END:
			step_log(s, 1, "end");
			return failures;
		}
		step_log(s, rv == 0, detail);
		if (rv != 0) {
			msg("step %d (%s) failed: %s", s->line,
			    drill_op_name(s->op), detail);
			failures++;
			if (s->op == OP_RESTART_BROKER || s->op == OP_DECLARE)
				return failures; /* nothing sensible follows */
		} else if (!g_o.quiet && !isatty(2)) {
			msg("t=%.1fs step %d %s: %s", t_rel_s(), s->line,
			    drill_op_name(s->op), detail);
		}
	}
	return failures;
}

/* ------------------------------------------------------------ report */

/* A copy as an agent reported it. */
struct acopy {
	int agent;
	char rid[64];
	uint64_t seq;
	double t_dl, t_ok, t_fb; /* ms after t = 0, -1 = never */
	unsigned times, other_seqs;
	int exercise, kind, fb_status;
};

static struct acopy *g_ac;
static size_t g_n_ac, g_cap_ac;
static json_t *g_agent_err; /* first errors, for the report */
static uint64_t g_a_welcomes0, g_a_errors, g_a_refused, g_a_downs, g_a_retries,
    g_a_never;

static int
member_index(const char *member)
{
	int i;

	if (sscanf(member, "drill-%d", &i) != 1 || i < 1 || i > g_n)
		return -1;
	return i - 1;
}

static int
read_results(void)
{
	char path[PATH_LEN], line[1024];

	g_agent_err = json_array();
	for (int c = 0; c < g_procs; c++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/sim-%d.tsv", g_work, c);
		if ((f = fopen(path, "r")) == NULL) {
			msg("%s: %s", path, strerror(errno));
			return -1;
		}
		while (fgets(line, sizeof(line), f) != NULL) {
			char *fld[16], *sp = NULL, *p;
			int nf = 0;

			line[strcspn(line, "\n")] = '\0';
			for (p = strtok_r(line, "\t", &sp); p && nf < 16;
			     p = strtok_r(NULL, "\t", &sp))
				fld[nf++] = p;
			if (nf == 10 && fld[0][0] == 'A') {
				unsigned long long w = strtoull(fld[2], 0, 10);
				unsigned long long e = strtoull(fld[3], 0, 10);

				g_a_errors += e;
				g_a_refused += strtoull(fld[4], 0, 10);
				g_a_downs += strtoull(fld[5], 0, 10);
				g_a_retries += strtoull(fld[6], 0, 10);
				g_a_welcomes0 += w;
				g_a_never += w == 0;
				if (e > 0 && json_array_size(g_agent_err) < 20)
					json_array_append_new(
					    g_agent_err,
					    json_pack("{s:s, s:I, s:s}",
					              "member", fld[1],
					              "errors", (json_int_t)e,
					              "last", fld[9]));
			} else if (nf == 12 && fld[0][0] == 'C') {
				struct acopy *a;

				if (g_n_ac == g_cap_ac) {
					size_t nc =
					    g_cap_ac ? 2 * g_cap_ac : 4096;
					struct acopy *na =
					    realloc(g_ac, nc * sizeof(*na));

					if (na == NULL) {
						fclose(f);
						return -1;
					}
					g_ac = na;
					g_cap_ac = nc;
				}
				a = &g_ac[g_n_ac++];
				a->agent = member_index(fld[1]);
				snprintf(a->rid, sizeof(a->rid), "%s", fld[2]);
				a->seq = strtoull(fld[3], 0, 10);
				a->t_dl = atof(fld[4]);
				a->t_ok = atof(fld[5]);
				a->t_fb = atof(fld[6]);
				a->times = (unsigned)atoi(fld[7]);
				a->other_seqs = (unsigned)atoi(fld[8]);
				a->exercise = atoi(fld[9]);
				a->kind = atoi(fld[10]);
				a->fb_status = atoi(fld[11]);
			}
		}
		fclose(f);
	}
	return 0;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* {n, p50, p90, p99, max} of v (sorted in place), nearest rank. */
static json_t *
pcts(double *v, size_t n)
{
	double q[3] = {0.5, 0.9, 0.99}, r[3] = {0, 0, 0};

	if (n == 0)
		return json_pack("{s:i}", "n", 0);
	qsort(v, n, sizeof(*v), cmp_d);
	for (int i = 0; i < 3; i++) {
		size_t k = (size_t)ceil(q[i] * (double)n);

		r[i] = v[(k < 1 ? 1 : k) - 1];
	}
	return json_pack("{s:I, s:f, s:f, s:f, s:f}", "n", (json_int_t)n, "p50",
	                 r[0], "p90", r[1], "p99", r[2], "max", v[n - 1]);
}

/* Could the flag of inc have been a ground at wall time d? */
static int
flag_possible(const struct incident *inc, int64_t d)
{
	int on = 0;
	int64_t exp = 0;

	for (int i = 0; i < inc->n_ev; i++) {
		const struct gevent *e = &inc->ev[i];

		if (e->t0 > d)
			break;
		if (e->on) {
			on = 1;
			exp = e->expires;
		} else if (e->t1 < d) {
			on = 0;
		}
	}
	return on && d <= exp + 1000;
}

static int
consent_possible(int agent, int64_t d)
{
	int on = 0;

	for (int i = 0; i < g_n_cev[agent] && i < 8; i++) {
		const struct gevent *e = &g_cev[agent][i];

		if (e->t0 > d)
			break;
		if (e->on)
			on = 1;
		else if (e->t1 < d)
			on = 0;
	}
	return on;
}

struct cat_row {
	int members;
	json_int_t copies, delivered, acked, answered, withdrawn, excluded,
	    feedback;
};

static const char *
state_name(int s)
{
	static const char *const n[] = {"unspecified", "queued",   "delivered",
	                                "acked",       "accepted", "answered",
	                                "withdrawn",   "overdue"};

	return s >= 0 && s < 8 ? n[s] : "unknown";
}

/*
 * Builds report.json from the broker's stored state (request status and
 * feedback list through the admin socket) and the agents' own records,
 * and cross-checks them: lost, duplicated and gate violations.
 */
static json_t *
build_report(double wall_s, double connect_s, double register_s,
             double scenario_s, json_t *rss, double **tl, size_t *ntl)
{
	json_t *reqs = json_array(), *incs = json_array(),
	       *cats = json_object();
	json_t *viol = json_array();
	struct cat_row crow[8];
	json_int_t lost = 0, dup = 0, gviol = 0, unmarked = 0, imp_copies = 0;
	json_int_t T[16] = {0};
	int64_t epoch_wall = 0;
	char err[512];
	struct totals tt;

	memset(crow, 0, sizeof(crow));
	for (int i = 0; i < g_n; i++)
		crow[g_sc.groups[g_ag[i].group].category & 7].members++;
	for (int i = 0; i < g_n_inc; i++)
		json_array_append_new(
		    incs,
		    json_pack("{s:s, s:s, s:b, s:s}", "label", g_inc[i].label,
		              "incident_id", g_inc[i].id, "exercise",
		              !g_inc[i].real, "marking",
		              g_inc[i].real ? "REAL (control)" : "EXERCISE"));
	(void)epoch_wall;
	for (int ri = 0; ri < g_n_req; ri++) {
		struct request *r = &g_req[ri];
		Art17__AdminRequest q = ART17__ADMIN_REQUEST__INIT;
		Art17__StatusQuery sq = ART17__STATUS_QUERY__INIT;
		Art17__AdminReply *rep;
		amsg m, fm;
		json_int_t st[8] = {0}, delivered = 0, acked = 0, nfb = 0;
		json_int_t a_recv = 0, a_ok = 0, a_fb = 0;
		json_int_t re_copies = 0, re_dl = 0, re_ack = 0;
		double *ldl, *lok, *lfb;
		size_t ndl = 0, nok = 0, nfbl = 0;
		unsigned char *fbm = NULL; /* members with feedback stored */
		unsigned char *held = NULL;
		int exercise = 0, have_fl = 0;
		json_t *jr;

		if (r->refused) {
			json_array_append_new(
			    reqs,
			    json_pack("{s:s, s:s, s:s, s:b, s:s, s:f}", "label",
			              r->label, "incident_id", r->incident,
			              "kind",
			              r->cooperation ? "cooperation" : "share",
			              "refused", 1, "refusal", r->refusal,
			              "issued_t_s", r->t_issue_s));
			continue;
		}
		sq.request_id = r->id;
		q.op_case = ART17__ADMIN_REQUEST__OP_REQUEST_STATUS;
		q.request_status = &sq;
		if (admin_call(&q, &m, &rep, err, sizeof(err)) != 0) {
			msg("status of %s: %s", r->id, err);
			continue;
		}
		exercise = rep->request ? rep->request->exercise : 0;
		q.op_case = ART17__ADMIN_REQUEST__OP_FEEDBACK_LIST;
		q.feedback_list = &sq;
		fbm = calloc((size_t)g_n + 1, 1);
		held = calloc((size_t)g_n + 1, 1);
		{
			Art17__AdminReply *frep;

			if (admin_call(&q, &fm, &frep, err, sizeof(err)) == 0) {
				have_fl = 1;
				for (size_t i = 0; i < frep->n_feedback; i++) {
					int ai = member_index(
					    frep->feedback[i]->member_id);

					nfb++;
					if (ai >= 0) {
						if (fbm[ai])
							dup++; /* twice */
						fbm[ai] = 1;
					}
				}
				amsg_fini(&fm);
			} else {
				msg("feedback of %s: %s", r->id, err);
			}
		}
		ldl = calloc(g_n_ac + 1, sizeof(double));
		lok = calloc(g_n_ac + 1, sizeof(double));
		lfb = calloc(g_n_ac + 1, sizeof(double));
		/* the agents' side */
		for (size_t i = 0; i < g_n_ac; i++) {
			struct acopy *a = &g_ac[i];

			if (strcmp(a->rid, r->id) != 0 || a->agent < 0)
				continue;
			held[a->agent] = 1;
			a_recv++;
			if (a->other_seqs > 0)
				dup += a->other_seqs;
			if (!a->exercise)
				unmarked++;
			if (g_sc.groups[g_ag[a->agent].group].impostor)
				imp_copies++;
			if (a->t_dl >= 0)
				ldl[ndl++] = a->t_dl - r->t_issue_s * 1000;
			if (a->t_ok >= 0) {
				a_ok++;
				lok[nok++] = a->t_ok - r->t_issue_s * 1000;
			}
			if (a->t_fb >= 0) {
				a_fb++;
				lfb[nfbl++] = a->t_fb - r->t_issue_s * 1000;
				if (have_fl && !fbm[a->agent]) {
					lost++; /* confirmed, not stored */
					json_array_append_new(
					    viol,
					    json_pack("{s:s, s:s, s:s}", "kind",
					              "lost-feedback", "member",
					              g_ag[a->agent].member,
					              "request_id", r->id));
				}
			}
		}
		/* the broker's side, copy by copy */
		for (size_t i = 0; i < rep->n_copies; i++) {
			const Art17__CopyStatus *c = rep->copies[i];
			int ai = member_index(c->member_id);
			int s = (int)c->state;
			struct cat_row *cr;
			int holds = 0;
			if (s >= 0 && s < 8)
				st[s]++;
			delivered += c->delivered_ms != 0;
			acked += c->acked_ms != 0;
			if (ai < 0) { /* a real agent taking part */
				re_copies++;
				re_dl += c->delivered_ms != 0;
				re_ack += c->acked_ms != 0;
				continue;
			}
			cr = &crow[g_sc.groups[g_ag[ai].group].category & 7];
			cr->copies++;
			cr->withdrawn +=
			    s == ART17__DELIVERY_STATE__DS_WITHDRAWN;
			cr->answered += s == ART17__DELIVERY_STATE__DS_ANSWERED;
			cr->delivered += c->delivered_ms != 0;
			cr->acked += c->acked_ms != 0;
			holds = held[ai];
			/* a receipt the agent saw confirmed must be stored */
			for (size_t j = 0; j < g_n_ac; j++)
				if (g_ac[j].agent == ai &&
				    strcmp(g_ac[j].rid, r->id) == 0 &&
				    g_ac[j].t_ok >= 0 && c->acked_ms == 0) {
					lost++;
					json_array_append_new(
					    viol,
					    json_pack("{s:s, s:s, s:s}", "kind",
					              "lost-receipt", "member",
					              c->member_id,
					              "request_id", r->id));
				}
			if (c->acked_ms != 0 && !holds &&
			    !g_sc.groups[g_ag[ai].group].impostor) {
				lost++;
				json_array_append_new(
				    viol, json_pack("{s:s, s:s, s:s}", "kind",
				                    "lost-copy", "member",
				                    c->member_id, "request_id",
				                    r->id));
			}
			if (holds &&
			    (c->delivered_ms == 0 ||
			     s == ART17__DELIVERY_STATE__DS_WITHDRAWN)) {
				gviol++;
				json_array_append_new(
				    viol, json_pack("{s:s, s:s, s:s}", "kind",
				                    "held-not-delivered",
				                    "member", c->member_id,
				                    "request_id", r->id));
			}
			if (r->cooperation && c->delivered_ms != 0 &&
			    !(r->inc >= 0 &&
			      flag_possible(&g_inc[r->inc], c->delivered_ms)) &&
			    !consent_possible(ai, c->delivered_ms)) {
				gviol++;
				json_array_append_new(
				    viol,
				    json_pack("{s:s, s:s, s:s, s:I}", "kind",
				              "no-ground-at-delivery", "member",
				              c->member_id, "request_id", r->id,
				              "delivered_ms",
				              (json_int_t)c->delivered_ms));
			}
		}
		if (!exercise) {
			gviol += (json_int_t)rep->n_copies;
			json_array_append_new(viol,
			                      json_pack("{s:s, s:s}", "kind",
			                                "request-not-exercise",
			                                "request_id", r->id));
		}
		for (size_t i = 0; i < json_array_size(r->excluded); i++) {
			int ai = member_index(json_string_value(json_object_get(
			    json_array_get(r->excluded, i), "member_id")));

			if (ai >= 0)
				crow[g_sc.groups[g_ag[ai].group].category & 7]
				    .excluded++;
		}
		for (size_t i = 0; i < g_n_ac; i++)
			if (g_ac[i].t_fb >= 0 &&
			    strcmp(g_ac[i].rid, r->id) == 0)
				crow[g_sc.groups[g_ag[g_ac[i].agent].group]
				         .category &
				     7]
				    .feedback++;
		{
			json_t *states = json_object();

			for (int s = 1; s < 8; s++)
				json_object_set_new(states, state_name(s),
				                    json_integer(st[s]));
			jr = json_pack(
			    "{s:s, s:s, s:s, s:s, s:b, s:s, s:b, s:f, "
			    "s:{s:I, s:I, s:I, s:I, s:I, s:o}, "
			    "s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}, "
			    "s:{s:o, s:o, s:o}, s:o}",
			    "label", r->label, "request_id", r->id,
			    "incident_id", r->incident, "kind",
			    r->cooperation ? "cooperation" : "share",
			    "exercise", exercise, "marking",
			    exercise ? "EXERCISE" : "REAL", "refused", 0,
			    "issued_t_s", r->t_issue_s, "broker", "copies",
			    (json_int_t)rep->n_copies, "excluded",
			    (json_int_t)r->n_excluded, "delivered", delivered,
			    "acked", acked, "feedback", nfb, "states", states,
			    "agents", "received", a_recv, "receipts_confirmed",
			    a_ok, "feedback_confirmed", a_fb, "real_agents",
			    "copies", re_copies, "delivered", re_dl, "acked",
			    re_ack, "latency_ms", "delivery", pcts(ldl, ndl),
			    "receipt", pcts(lok, nok), "feedback",
			    pcts(lfb, nfbl), "excluded_members",
			    json_incref(r->excluded));
		}
		json_array_append_new(reqs, jr);
		T[0] += (json_int_t)rep->n_copies;
		T[1] += delivered;
		T[2] += acked;
		T[3] += st[ART17__DELIVERY_STATE__DS_ANSWERED];
		T[4] += st[ART17__DELIVERY_STATE__DS_WITHDRAWN];
		T[5] += (json_int_t)r->n_excluded;
		T[6] += nfb;
		T[7] += a_recv;
		T[8] += a_ok;
		T[9] += a_fb;
		T[10] += st[ART17__DELIVERY_STATE__DS_QUEUED];
		T[11] += st[ART17__DELIVERY_STATE__DS_OVERDUE];
		amsg_fini(&m);
		free(ldl);
		free(lok);
		free(lfb);
		free(fbm);
		free(held);
	}
	/* time lines for the chart: every agent-side event */
	tl[0] = calloc(g_n_ac + 1, sizeof(double));
	tl[1] = calloc(g_n_ac + 1, sizeof(double));
	tl[2] = calloc(g_n_ac + 1, sizeof(double));
	ntl[0] = ntl[1] = ntl[2] = 0;
	for (size_t i = 0; i < g_n_ac; i++) {
		if (g_ac[i].t_dl >= 0)
			tl[0][ntl[0]++] = g_ac[i].t_dl / 1000.0;
		if (g_ac[i].t_ok >= 0)
			tl[1][ntl[1]++] = g_ac[i].t_ok / 1000.0;
		if (g_ac[i].t_fb >= 0)
			tl[2][ntl[2]++] = g_ac[i].t_fb / 1000.0;
	}
	for (int k = 0; k < 3; k++)
		qsort(tl[k], ntl[k], sizeof(double), cmp_d);
	for (int c = 1; c < 7; c++) {
		struct cat_row *cr = &crow[c];

		if (cr->members == 0)
			continue;
		json_object_set_new(
		    cats, drill_category_name(c),
		    json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		              "members", cr->members, "copies", cr->copies,
		              "delivered", cr->delivered, "acked", cr->acked,
		              "answered", cr->answered, "withdrawn",
		              cr->withdrawn, "excluded", cr->excluded,
		              "feedback_confirmed", cr->feedback));
	}
	sum_children(&tt);
	{
		json_t *jreal = real_report(&unmarked);
		int n_imp = 0, n_off = 0;
		char started[64];
		time_t now = time(NULL) - (time_t)wall_s;
		struct tm tmv;

		for (int g = 0; g < g_sc.n_groups; g++) {
			if (g_sc.groups[g].impostor)
				n_imp += g_sc.groups[g].count;
			if (g_sc.groups[g].offline)
				n_off += g_sc.groups[g].count;
		}
		gmtime_r(&now, &tmv);
		strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", &tmv);
		return json_pack(
		    "{s:s, s:s, s:o, "
		    "s:{s:i, s:i, s:i, s:s, s:f, s:f, s:f, s:f, s:o}, "
		    "s:{s:s, s:s, s:s, s:s}, s:o, s:o, s:o, "
		    "s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		    "s:I}, s:o, "
		    "s:{s:i, s:I, s:I, s:i, s:I, s:i, s:I, s:I, s:I, s:I, "
		    "s:o}, "
		    "s:{s:I, s:I, s:I, s:I}, s:o, s:o}",
		    "marking", "EXERCISE", "generator", DRILL_VERSION,
		    "scenario", drill_scenario_json(&g_sc), "run", "agents",
		    g_n, "processes", g_procs, "per_process", g_o.per_proc,
		    "started_utc", started, "wall_s", wall_s, "register_s",
		    register_s, "connect_s", connect_s, "scenario_s",
		    scenario_s, "peak_rss_kb", rss, "broker", "data", g_data,
		    "pki", g_pki, "coordinator", COORD_NAME, "log", g_blog,
		    "incidents", incs, "steps", json_incref(g_steps_log),
		    "requests", reqs, "totals", "copies", T[0], "delivered",
		    T[1], "acked", T[2], "answered", T[3], "withdrawn", T[4],
		    "excluded", T[5], "feedback_stored", T[6], "queued", T[10],
		    "overdue", T[11], "agents_received", T[7],
		    "agents_receipts_confirmed", T[8],
		    "agents_feedback_confirmed", T[9], "by_category", cats,
		    "agents", "total", g_n, "connected",
		    (json_int_t)g_n - (json_int_t)g_a_never, "never_connected",
		    (json_int_t)g_a_never, "impostors", n_imp,
		    "impostors_refused", (json_int_t)g_a_refused,
		    "offline_at_start", n_off, "taken_down",
		    (json_int_t)g_a_downs, "errors", (json_int_t)g_a_errors,
		    "connect_retries", (json_int_t)g_a_retries,
		    "duplicates_seen", (json_int_t)tt.dups, "first_errors",
		    g_agent_err, "must_be_zero", "lost", lost, "duplicated",
		    dup, "gate_violations", gviol, "unmarked",
		    unmarked + imp_copies, "violations", viol, "real_agents",
		    jreal);
	}
}

/* ------------------------------------------------------------ main */

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: art17-drill -s SCENARIO.json [-o REPORT_DIR] [-n "
	        "AGENTS] [--per-proc N]\n"
	        "                   [--connect-burst N] [--real-agents N]\n"
	        "                   [--bin DIR] [--seed N] [--keep] [-q] "
	        "[--check]\n"
	        "\n"
	        "Runs a drill (EXERCISE) with the real broker and N simulated "
	        "member agents\n"
	        "over mutual TLS on loopback, following the scenario, and "
	        "writes a report\n"
	        "directory: report.json, summary.md and charts/*.svg. See "
	        "docs/drill.md.\n"
	        "\n"
	        "  -s, --scenario F  the scenario (JSON)\n"
	        "  -o, --out DIR     the report directory (default "
	        "drill-report-YYYYmmdd-HHMMSS)\n"
	        "  -n, --agents N    override the scenario's number of "
	        "agents\n"
	        "  --per-proc N      agents per simulator process (default "
	        "2500)\n"
	        "  --connect-burst N TLS handshakes in flight while the agents "
	        "first connect\n"
	        "                    (default %d; 0 = every agent at once)\n"
	        "  --real-agents N   also run N real art17-agent members "
	        "(real-01, ...; at most 8)\n"
	        "  --bin DIR         where art17-broker and art17-pki are "
	        "(default: this build)\n"
	        "  --seed N          seed for the per-agent choices "
	        "(default 1)\n"
	        "  --keep            keep DIR/work (PKI, broker data, logs) "
	        "for inspection\n"
	        "  --check           only check the scenario and exit\n"
	        "  -q, --quiet       no progress bar\n"
	        "\n"
	        "Exit status: 0 the drill ran and every must-be-zero count is "
	        "zero; 1 a step\n"
	        "failed or a count is not zero; 2 usage or scenario error.\n",
	        CONNECT_BURST);
}

static int
find_bins(void)
{
	char exe[PATH_MAX], *slash;
	ssize_t n;

	if (g_o.bin != NULL) {
		snprintf(g_broker_bin, sizeof(g_broker_bin),
		         "%s/broker/art17-broker", g_o.bin);
		if (access(g_broker_bin, X_OK) != 0)
			snprintf(g_broker_bin, sizeof(g_broker_bin),
			         "%s/art17-broker", g_o.bin);
		snprintf(g_pki_bin, sizeof(g_pki_bin), "%s/tools/art17-pki",
		         g_o.bin);
		if (access(g_pki_bin, X_OK) != 0)
			snprintf(g_pki_bin, sizeof(g_pki_bin), "%s/art17-pki",
			         g_o.bin);
	} else {
		if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) < 0)
			return -1;
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL)
			*slash = '\0';
		snprintf(g_broker_bin, sizeof(g_broker_bin),
		         "%s/../broker/art17-broker", exe);
		snprintf(g_pki_bin, sizeof(g_pki_bin), "%s/art17-pki", exe);
	}
	snprintf(g_agent_bin, sizeof(g_agent_bin), "%s", g_broker_bin);
	{
		char *b = strstr(g_agent_bin, "broker/art17-broker");

		if (b != NULL)
			snprintf(
			    b, sizeof(g_agent_bin) - (size_t)(b - g_agent_bin),
			    "agent/art17-agent");
		else
			g_agent_bin[0] = '\0';
	}
	if (g_o.real > 0 && access(g_agent_bin, X_OK) != 0) {
		msg("--real-agents: cannot find art17-agent next to the "
		    "broker");
		return -1;
	}
	if (access(g_broker_bin, X_OK) != 0 || access(g_pki_bin, X_OK) != 0) {
		msg("cannot find art17-broker and art17-pki (use --bin)");
		return -1;
	}
	return 0;
}

/* Plans every agent: group, key, behaviour. */
static int
plan_agents(void)
{
	int next = 0;

	if ((g_ag = calloc((size_t)g_n, sizeof(*g_ag))) == NULL ||
	    (g_cev = calloc((size_t)g_n, sizeof(*g_cev))) == NULL ||
	    (g_n_cev = calloc((size_t)g_n, sizeof(int))) == NULL)
		return -1;
	for (int gi = 0; gi < g_sc.n_groups; gi++) {
		drill_group *g = &g_sc.groups[gi];
		int cnt = gi == g_sc.n_groups - 1
		              ? g_n - next
		              : (int)floor(g->share * g_n + 0.5);
		int n_cons, n_fb;

		if (cnt > g_n - next)
			cnt = g_n - next;
		g->first = next;
		g->count = cnt;
		n_cons = (int)floor(g->consent * cnt + 0.5);
		n_fb = (int)floor(g->fb_share * cnt + 0.5);
		for (int k = 0; k < cnt; k++) {
			struct agent_info *a = &g_ag[next + k];
			double w = 0, x;

			snprintf(a->member, sizeof(a->member), "drill-%05d",
			         next + k + 1);
			a->group = gi;
			a->consent = k < n_cons;
			a->feedback = k >= cnt - n_fb && !g->impostor;
			a->ack_ms = (uint32_t)drill_dist_sample(&g->ack, rnd());
			a->fb_delay_ms =
			    (uint32_t)drill_dist_sample(&g->fb_delay, rnd());
			for (int s = 0; s < DRILL_FB_STATUSES; s++)
				w += g->fb_mix[s];
			x = rnd() * w;
			a->fb_status = DRILL_FB_STATUSES;
			for (int s = 0; s < DRILL_FB_STATUSES; s++) {
				if (x < g->fb_mix[s]) {
					a->fb_status = s + 1;
					break;
				}
				x -= g->fb_mix[s];
			}
			if (crypto_key_generate(&a->key) != 0)
				return -1;
			if (g->impostor) {
				a17_key *reg;

				if (crypto_key_generate(&reg) != 0)
					return -1;
				crypto_key_raw_public(reg, a->pub);
				crypto_key_free(reg);
			} else {
				crypto_key_raw_public(a->key, a->pub);
			}
		}
		next += cnt;
	}
	return 0;
}

/* Frees what main holds, so that LeakSanitizer sees a clean exit. */
static void
cleanup(double **tl)
{
	for (int i = 0; i < g_n_req; i++)
		json_decref(g_req[i].excluded);
	for (int i = 0; i < 3; i++)
		free(tl[i]);
	json_decref(g_steps_log);
	free(g_ac);
	free(g_ag);
	free(g_cev);
	free(g_n_cev);
	crypto_key_free(g_coord);
	if (g_admin_open)
		nng_close(g_admin);
	g_admin_open = 0;
}

static void
stop_children(void)
{
	atomic_store(&g_shm->stop, 1);
	for (int i = 0; i < g_procs; i++) {
		int status;

		if (g_child[i] <= 0)
			continue;
		if (harness_wait_pid(g_child[i], 120000, &status) != 0) {
			msg("simulator process %d did not stop: killing it", i);
			kill(g_child[i], SIGKILL);
			waitpid(g_child[i], &status, 0);
		}
		g_child[i] = 0;
	}
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"scenario", required_argument, NULL, 's'},
	    {"out", required_argument, NULL, 'o'},
	    {"agents", required_argument, NULL, 'n'},
	    {"per-proc", required_argument, NULL, 'P'},
	    {"connect-burst", required_argument, NULL, 'C'},
	    {"real-agents", required_argument, NULL, 'R'},
	    {"bin", required_argument, NULL, 'B'},
	    {"seed", required_argument, NULL, 'S'},
	    {"keep", no_argument, NULL, 'k'},
	    {"check", no_argument, NULL, 'c'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0}};
	char err[512], path[PATH_LEN + 64];
	int ch, check = 0, failures = 0, rv = 1;
	int64_t t0, t_reg, t_conn, t_scen, t_end;
	json_t *report = NULL, *rss;
	double *tl[3] = {NULL, NULL, NULL};
	size_t ntl[3] = {0, 0, 0};
	pthread_t pth;
	struct rlimit rl;
	long broker_rss = -1, child_rss = 0, drill_rss;

	memset(&g_o, 0, sizeof(g_o));
	g_o.per_proc = 2500;
	g_o.burst = -1;
	g_o.seed = 1;
	while ((ch = getopt_long(argc, argv, "s:o:n:qhV", lo, NULL)) != -1) {
		switch (ch) {
		case 's':
			g_o.scenario = optarg;
			break;
		case 'o':
			g_o.out = optarg;
			break;
		case 'n':
			g_o.agents = atoi(optarg);
			break;
		case 'P':
			g_o.per_proc = atoi(optarg);
			break;
		case 'C':
			g_o.burst = atoi(optarg);
			break;
		case 'R':
			g_o.real = atoi(optarg);
			break;
		case 'B':
			g_o.bin = optarg;
			break;
		case 'S':
			g_o.seed = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'k':
			g_o.keep = 1;
			break;
		case 'c':
			check = 1;
			break;
		case 'q':
			g_o.quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			puts(DRILL_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (g_o.scenario == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (drill_scenario_load(g_o.scenario, &g_sc, err, sizeof(err)) != 0) {
		fprintf(stderr, "art17-drill: %s: %s\n", g_o.scenario, err);
		return 2;
	}
	g_n = g_o.agents > 0 ? g_o.agents : g_sc.agents;
	if (g_n < 1 || g_n > DRILL_MAX_AGENTS || g_o.per_proc < 1 ||
	    g_o.per_proc > 5000 || g_o.real < 0 || g_o.real > MAX_REAL ||
	    g_o.burst < -1) {
		fprintf(stderr,
		        "art17-drill: agents 1..%d, --per-proc 1..5000, "
		        "--connect-burst 0 or more, --real-agents 0..%d\n",
		        DRILL_MAX_AGENTS, MAX_REAL);
		return 2;
	}
	g_real = g_o.real;
	g_procs = (g_n + g_o.per_proc - 1) / g_o.per_proc;
	if (g_procs > MAX_PROCS) {
		fprintf(stderr, "art17-drill: more than %d processes needed\n",
		        MAX_PROCS);
		return 2;
	}
	if (check) {
		printf("%s: ok: %d agents in %d groups, %d steps\n",
		       g_o.scenario, g_n, g_sc.n_groups, g_sc.n_steps);
		return 0;
	}
	g_rng ^= (uint64_t)g_o.seed * 0x9E3779B97F4A7C15ULL;
	if (find_bins() != 0)
		return 1;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	t0 = sim_now_ns();
	g_t_start_ns = t0;

	/* the report directory, and the work directory inside it */
	if (g_o.out != NULL) {
		snprintf(g_outdir, sizeof(g_outdir), "%s", g_o.out);
	} else {
		time_t now = time(NULL);
		struct tm tmv;

		localtime_r(&now, &tmv);
		strftime(g_outdir, sizeof(g_outdir),
		         "drill-report-%Y%m%d-%H%M%S", &tmv);
	}
	mkdir(g_outdir, 0755);
	{
		char rp[PATH_MAX];

		if (realpath(g_outdir, rp) == NULL ||
		    strlen(rp) >= sizeof(g_outdir)) {
			msg("%s: %s", g_outdir,
			    errno ? strerror(errno) : "path too long");
			return 1;
		}
		memcpy(g_outdir, rp, strlen(rp) + 1);
	}
	snprintf(g_work, sizeof(g_work), "%s/work", g_outdir);
	nftw(g_work, rm_one, 32, FTW_DEPTH | FTW_PHYS);
	if (mkdir(g_work, 0700) != 0) {
		msg("%s: %s", g_work, strerror(errno));
		return 1;
	}
	snprintf(g_pki, sizeof(g_pki), "%s/pki", g_work);
	snprintf(g_data, sizeof(g_data), "%s/data", g_work);
	snprintf(g_blog, sizeof(g_blog), "%s/broker.log", g_work);
	{
		int port = harness_free_port();

		snprintf(g_listen, sizeof(g_listen), "tls+tcp://127.0.0.1:%d",
		         port);
		snprintf(g_url, sizeof(g_url), "tls+tcp://localhost:%d", port);
	}
	msg("EXERCISE drill '%s': %d agents in %d process(es); report in %s",
	    g_sc.name, g_n, g_procs, g_outdir);

	/* keys: the council PKI, the coordinator, one shared agent TLS
	 * certificate (members prove who they are with their own key) */
	{
		char *a1[] = {g_pki_bin, "init", "-d", g_pki, NULL};
		char *a2[] = {g_pki_bin, "coordinator", "-d",
		              g_pki,     COORD_NAME,    NULL};
		char *a3[] = {g_pki_bin, "agent",         "-d",
		              g_pki,     AGENT_CERT_NAME, NULL};
		if (run(a1) != 0 || run(a2) != 0 || run(a3) != 0)
			return 1;
		for (int i = 0; i < g_real; i++)
			if (real_prepare(i) != 0)
				return 1;
	}
	snprintf(path, sizeof(path), "%s/coordinators/%s/id.key", g_pki,
	         COORD_NAME);
	if (crypto_key_load(path, &g_coord) != 0) {
		msg("cannot load %s", path);
		return 1;
	}
	if (plan_agents() != 0) {
		msg("planning the agents: out of memory or key failure");
		return 1;
	}
	g_shm = mmap(NULL, sizeof(*g_shm), PROT_READ | PROT_WRITE,
	             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g_shm == MAP_FAILED) {
		msg("mmap: %s", strerror(errno));
		return 1;
	}
	memset(g_shm, 0, sizeof(*g_shm));
	for (int g = 0; g < g_sc.n_groups; g++)
		atomic_store(&g_shm->group_online[g], !g_sc.groups[g].offline);
	/* the simulator processes, forked before nng starts any thread */
	fflush(stdout);
	fflush(stderr);
	for (int c = 0; c < g_procs; c++) {
		int lo_i = c * g_o.per_proc;
		int hi_i =
		    lo_i + g_o.per_proc > g_n ? g_n : lo_i + g_o.per_proc;
		pid_t pid = fork();

		if (pid < 0) {
			msg("fork: %s", strerror(errno));
			stop_children();
			return 1;
		}
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			child_main(c, lo_i, hi_i);
			_exit(1);
		}
		g_child[c] = pid;
	}
	for (int i = 0; i < g_n; i++) { /* the children own them now */
		crypto_key_free(g_ag[i].key);
		g_ag[i].key = NULL;
	}
	g_steps_log = json_array();
	if (broker_start() != 0 || admin_open() != 0 || admin_ready() != 0) {
		stop_children();
		return 1;
	}
	/* members (and one staff member each for those giving feedback) */
	for (int i = 0; i < g_n; i++) {
		if (register_member(&g_ag[i], err, sizeof(err)) != 0 ||
		    (g_ag[i].feedback &&
		     register_staff(&g_ag[i], err, sizeof(err)) != 0)) {
			msg("registering %s: %s", g_ag[i].member, err);
			goto fail;
		}
		if (!g_o.quiet && i > 0 && i % 1000 == 0)
			msg("%d of %d members registered", i, g_n);
	}
	for (int i = 0; i < g_real; i++)
		if (real_register(i, err, sizeof(err)) != 0) {
			msg("registering real-%02d: %s", i + 1, err);
			goto fail;
		}
	t_reg = sim_now_ns();
	/* the real agents connect first: with --connect-burst 0 they are the
	 * members already online when the simulated ones storm in */
	for (int i = 0; i < g_real; i++)
		if (real_start(i) != 0)
			goto fail;
	atomic_store(&g_shm->go, 1);
	/* wait until the agents meant to be online are (bounded) */
	{
		uint64_t want = 0, imp = 0;
		int64_t end = sim_now_ns() + (120LL + g_n / 10) * 1000000000;
		int64_t last_msg = 0;

		for (int g = 0; g < g_sc.n_groups; g++)
			if (!g_sc.groups[g].offline) {
				if (g_sc.groups[g].impostor)
					imp += (uint64_t)g_sc.groups[g].count;
				else
					want += (uint64_t)g_sc.groups[g].count;
			}
		for (;;) {
			struct totals t;

			sum_children(&t);
			if (t.welcomed >= want && t.refused >= imp)
				break;
			if (sim_now_ns() > end) {
				msg("only %llu of %llu agents connected after "
				    "%lld s; going on",
				    (unsigned long long)t.welcomed,
				    (unsigned long long)want,
				    (long long)(120 + g_n / 10));
				break;
			}
			if (!g_o.quiet &&
			    sim_now_ns() - last_msg > 5000000000LL) {
				msg("connecting: %llu of %llu agents online "
				    "(TLS, paced)",
				    (unsigned long long)t.welcomed,
				    (unsigned long long)want);
				last_msg = sim_now_ns();
			}
			harness_sleep_ms(100);
		}
	}
	t_conn = sim_now_ns();
	atomic_store(&g_shm->epoch_ns, sim_now_ns());
	if (!g_o.quiet) {
		atomic_store(&g_progress_run, 1);
		pthread_create(&pth, NULL, progress_thread, NULL);
	}
	failures = run_steps();
	if (!g_o.quiet) {
		atomic_store(&g_progress_run, 0);
		pthread_join(pth, NULL);
		progress_line(1);
	}
	t_scen = sim_now_ns();
	if (g_broker <= 0 &&
	    (broker_start() != 0 || admin_open() != 0 || admin_ready() != 0)) {
		msg("the broker is down at the end and does not restart");
		goto fail;
	}
	for (int c = 0; c < g_procs; c++) {
		long kb = peak_rss_kb(g_child[c]);

		if (kb > child_rss)
			child_rss = kb;
	}
	broker_rss = peak_rss_kb(g_broker);
	stop_children();
	real_stop();
	if (read_results() != 0)
		goto fail;
	drill_rss = peak_rss_kb(getpid());
	rss = json_pack("{s:I, s:I, s:I}", "broker", (json_int_t)broker_rss,
	                "simulator_process_max", (json_int_t)child_rss, "drill",
	                (json_int_t)drill_rss);
	t_end = sim_now_ns();
	report = build_report((double)(t_end - t0) / 1e9,
	                      (double)(t_conn - t_reg) / 1e9,
	                      (double)(t_reg - t0) / 1e9,
	                      (double)(t_scen - t_conn) / 1e9, rss, tl, ntl);
	broker_stop(SIGTERM);
	{
		char cdir[PATH_LEN + 16];
		json_t *charts = json_array();
		int nc;

		snprintf(cdir, sizeof(cdir), "%s/charts", g_outdir);
		mkdir(cdir, 0755);
		nc = drill_charts(cdir, report, tl[0], ntl[0], tl[1], ntl[1],
		                  tl[2], ntl[2], err, sizeof(err));
		if (nc < 0) {
			msg("charts: %s", err);
			failures++;
		} else {
			json_array_append_new(
			    charts, json_string("charts/receipts.svg"));
			json_array_append_new(
			    charts, json_string("charts/latency.svg"));
			json_array_append_new(
			    charts, json_string("charts/categories.svg"));
		}
		json_object_set_new(report, "charts", charts);
	}
	json_object_set_new(report, "step_failures", json_integer(failures));
	snprintf(path, sizeof(path), "%s/report.json", g_outdir);
	if (json_dump_file(report, path, JSON_INDENT(2) | JSON_SORT_KEYS) !=
	    0) {
		msg("%s: cannot write", path);
		goto fail;
	}
	if (drill_summary_md(g_outdir, report) != 0) {
		msg("summary.md: cannot write");
		goto fail;
	}
	{
		json_t *z = json_object_get(report, "must_be_zero");
		json_int_t lost =
		    json_integer_value(json_object_get(z, "lost"));
		json_int_t dup =
		    json_integer_value(json_object_get(z, "duplicated"));
		json_int_t gv =
		    json_integer_value(json_object_get(z, "gate_violations"));
		json_int_t um =
		    json_integer_value(json_object_get(z, "unmarked"));

		printf("EXERCISE drill '%s': %d agents, %.1f s; lost %lld, "
		       "duplicated %lld, gate violations %lld, unmarked "
		       "%lld; step failures %d\n",
		       g_sc.name, g_n, (double)(t_end - t0) / 1e9,
		       (long long)lost, (long long)dup, (long long)gv,
		       (long long)um, failures);
		printf("report: %s/summary.md\n", g_outdir);
		rv = (lost || dup || gv || um || failures) ? 1 : 0;
	}
	if (!g_o.keep)
		nftw(g_work, rm_one, 32, FTW_DEPTH | FTW_PHYS);
	json_decref(report);
	cleanup(tl);
	return rv;
fail:
	real_stop();
	if (g_progress_run) {
		atomic_store(&g_progress_run, 0);
		pthread_join(pth, NULL);
	}
	stop_children();
	broker_stop(SIGTERM);
	msg("failed; the work directory %s is kept", g_work);
	return 1;
}
