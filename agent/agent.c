/*
 * art17-agent: the member-side daemon and the staff's view of what
 * arrived. `run` keeps the connection to the broker; `list` and `show`
 * read the agent's own store (LMDB allows that while the daemon runs).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "agent.h"
#include "conf.h"
#include "feedback.h"
#include "marking.h"
#include "seal.h"
#include "err.h"
#include "log.h"
#include "wire.h"

#define A17_VERSION "0.1.0"

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: art17-agent [-f CONFIG] [-n] [-d DATADIR] COMMAND "
	    "[options]\n"
	    "\n"
	    "commands:\n"
	    "  run -k KEYDIR [-m MEMBER] [-c URL] [--insecure] [--nosync]\n"
	    "        connect to the broker, store what arrives, send "
	    "receipts\n"
	    "  list [--json]      requests in the inbox, each once, oldest "
	    "first\n"
	    "  show ID [--json]   one request in full, with its Article "
	    "17(3) statement\n"
	    "  read ID --staff STAFF --key SEALKEY\n"
	    "                     open secret content with your own key "
	    "(from art17-pki\n"
	    "                     staff); the opening is recorded and "
	    "reported\n"
	    "  feedback ID --status S --contact STAFF --secrecy yes|no "
	    "--sharing SCOPE\n"
	    "           [--indicator TYPE:VALUE]... [--count N] "
	    "[--first-seen T] [--last-seen T]\n"
	    "           [--impact TEXT] [--text TEXT] [--decline-reason "
	    "TEXT]\n"
	    "                     structured feedback (S: not-affected, "
	    "investigating,\n"
	    "                     affected, mitigated, declined); each call "
	    "is a new version\n"
	    "  reshare-check ID --to-category CAT\n"
	    "                     may this member (a mutual-aid body) pass "
	    "the item on to a\n"
	    "                     constituent of category CAT? answers "
	    "ALLOWED (exit 0) or\n"
	    "                     DENIED (exit 3) and cites the rule (RULES "
	    "Q21)\n"
	    "  export ID --to-category CAT [--out FILE]\n"
	    "                     the item as JSON for a constituent of "
	    "category CAT, only\n"
	    "                     when reshare-check allows it (else exit "
	    "3, nothing written)\n"
	    "  consult --text T --secrecy yes|no --scope SCOPE --coordination "
	    "C [--detail D]\n"
	    "                     report or consult (RULES Q22); C: none, "
	    "check-others,\n"
	    "                     notify-sender, other\n"
	    "  accept ID --person NAME\n"
	    "                     record that NAME at the member has read "
	    "it; the broker\n"
	    "                     is told (state accepted)\n"
	    "  consent grant|revoke --ref REF\n"
	    "                     grant or revoke this member's consent to "
	    "Article 17(3)\n"
	    "                     requests, signed with the member's key\n"
	    "\n"
	    "options:\n"
	    "  -f, --config FILE  read FILE first (art17-agent.conf(5)); "
	    "flags override it\n"
	    "  -n, --check        check the configuration file and exit\n"
	    "      --syslog       (run) log to syslog instead of stderr\n"
	    "  -d, --data DIR     the agent's data directory (default "
	    "$ART17_AGENT_DATA or\n"
	    "                     /var/lib/art17-agent)\n"
	    "  -k, --keys DIR     this member's directory from art17-pki "
	    "(tls.pem, ca.crt,\n"
	    "                     id.key, broker-sign.pub)\n"
	    "  -m, --member ID    member id (default: the last part of "
	    "KEYDIR)\n"
	    "  -c, --connect URL  broker (default tls+tcp://127.0.0.1:7017)\n"
	    "      --server-name NAME  DNS name in the broker's certificate "
	    "(default: the\n"
	    "                     URL's host; localhost for a loopback "
	    "address)\n"
	    "      --insecure     allow plain tcp:// (loopback only)\n"
	    "      --nosync       do not fsync (drills and tests only)\n"
	    "      --stall-exit S exit with status 75 (to be started again) "
	    "when there has\n"
	    "                     been no session for S seconds and nng has "
	    "not tried to\n"
	    "                     connect once in that time (default 900; 0 "
	    "off)\n"
	    "      --user NAME    when started as root, run as NAME once the "
	    "keys,\n"
	    "                     store and socket are open\n"
	    "  -v, --verbose      more logging\n"
	    "  -h, --help, -V, --version\n"
	    "\n"
	    "Exit status: 0 success, 1 failure, 2 usage error, 3 denied "
	    "(reshare-check),\n4 not found, 75 nng stopped connecting (run: "
	    "--stall-exit), 78 configuration error.\n");
}

/* The marking in force: the latest revision pushed, else the original. */
#define CUR_MK(r, q) ((r)->marking != NULL ? (r)->marking : (q)->marking)

static const char *
kind_name(Art17__ItemKind k)
{
	switch (k) {
	case ART17__ITEM_KIND__KIND_COOPERATION_REQUEST:
		return "cooperation-request";
	case ART17__ITEM_KIND__KIND_INFORMATION_SHARE:
		return "information-share";
	default:
		return "unknown";
	}
}

static const char *
tlp_name(const Art17__Marking *m)
{
	static const char *n[] = {"?",         "TLP:CLEAR",        "TLP:GREEN",
	                          "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"};

	if (m == NULL || m->tlp < 0 || m->tlp > 5)
		return "?";
	return n[m->tlp];
}

static const char *
tlp_meaning(const Art17__Marking *m)
{
	switch (m ? m->tlp : 0) {
	case ART17__TLP__TLP_CLEAR:
		return "Recipients can spread this to the world; there is no "
		       "limit on disclosure.";
	case ART17__TLP__TLP_GREEN:
		return "Recipients can spread this within their community, but "
		       "not via publicly accessible channels.";
	case ART17__TLP__TLP_AMBER:
		return "Limited disclosure: recipients can only spread this on "
		       "a need-to-know basis within their organisation and its "
		       "clients.";
	case ART17__TLP__TLP_AMBER_STRICT:
		return "Limited disclosure: recipients can only spread this on "
		       "a need-to-know basis within their organisation.";
	case ART17__TLP__TLP_RED:
		return "For the eyes and ears of individual recipients only, "
		       "no further disclosure.";
	default:
		return "unmarked";
	}
}

static const char *
scope_name(const Art17__Marking *m)
{
	switch (m ? m->scope : 0) {
	case ART17__SCOPE__SCOPE_TF1_ONLY:
		return "task-force type-1 group only";
	case ART17__SCOPE__SCOPE_TASKFORCE:
		return "task-force members";
	case ART17__SCOPE__SCOPE_MEMBERS:
		return "council members";
	case ART17__SCOPE__SCOPE_MEMBERS_CONSTITUENTS:
		return "members and constituents of mutual-aid bodies";
	case ART17__SCOPE__SCOPE_PUBLIC:
		return "public";
	default:
		return "unspecified";
	}
}

static const char *
fmt_time(int64_t ms, char *buf, size_t len)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	gmtime_r(&s, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/*
 * The stored envelope was verified when it arrived. Reading it back for
 * display, the payload is decoded from the stored bytes without a key;
 * the store itself is private to the agent (mode 0700).
 */
static Art17__Request *
stored_request(const Art17__InboxRecord *r, Art17__Body **bodyp)
{
	Art17__Envelope *env;
	Art17__Body *b;

	env = art17__envelope__unpack(NULL, r->request_env.len,
	                              r->request_env.data);
	if (env == NULL)
		return NULL;
	b = art17__body__unpack(NULL, env->body.len, env->body.data);
	art17__envelope__free_unpacked(env, NULL);
	if (b == NULL || b->payload_case != ART17__BODY__PAYLOAD_REQUEST) {
		if (b)
			art17__body__free_unpacked(b, NULL);
		return NULL;
	}
	*bodyp = b;
	return b->request;
}

static char *
ground_text(const Art17__InboxRecord *r, const Art17__Request *q, char *buf,
            size_t len)
{
	char t[32];

	if (q->kind != ART17__ITEM_KIND__KIND_COOPERATION_REQUEST) {
		snprintf(buf, len,
		         "none needed (information share; feedback "
		         "is voluntary)");
		return buf;
	}
	if (r->ground == NULL) {
		snprintf(buf, len, "not stated");
		return buf;
	}
	switch (r->ground->kind) {
	case ART17__GROUND_KIND__GROUND_LARGE_SCALE:
		snprintf(buf, len, "large-scale declaration, incident %s, %s",
		         r->ground->incident_id,
		         fmt_time(r->ground->declared_ms, t, sizeof(t)));
		break;
	case ART17__GROUND_KIND__GROUND_CONSENT:
		snprintf(buf, len, "consent %s", r->ground->consent_ref);
		break;
	default:
		snprintf(buf, len, "not stated");
		break;
	}
	return buf;
}

static json_t *
request_json(const Art17__InboxRecord *r, const Art17__Request *q, int full)
{
	char g[512], t1[32], t2[32];
	json_t *o = json_object();

	json_object_set_new(o, "request_id", json_string(q->request_id));
	json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
	json_object_set_new(o, "kind", json_string(kind_name(q->kind)));
	json_object_set_new(o, "exercise", json_boolean(q->exercise));
	if (q->exercise)
		json_object_set_new(o, "marking_exercise",
		                    json_string("EXERCISE"));
	json_object_set_new(o, "incident_id", json_string(q->incident_id));
	json_object_set_new(o, "title", json_string(q->title));
	json_object_set_new(o, "tlp", json_string(tlp_name(CUR_MK(r, q))));
	json_object_set_new(
	    o, "secret",
	    json_boolean(CUR_MK(r, q) &&
	                 CUR_MK(r, q)->secret == ART17__SECRET__SECRET_YES));
	json_object_set_new(o, "scope", json_string(scope_name(CUR_MK(r, q))));
	json_object_set_new(
	    o, "stored", json_string(fmt_time(r->stored_ms, t1, sizeof(t1))));
	json_object_set_new(
	    o, "deadline",
	    json_string(fmt_time(q->deadline_ms, t2, sizeof(t2))));
	json_object_set_new(o, "statement", json_string(q->statement));
	json_object_set_new(o, "ground",
	                    json_string(ground_text(r, q, g, sizeof(g))));
	json_object_set_new(o, "feedback_voluntary",
	                    json_boolean(q->feedback_voluntary));
	if (full) {
		json_object_set_new(o, "tlp_meaning",
		                    json_string(tlp_meaning(CUR_MK(r, q))));
		json_object_set_new(o, "issued_by", json_string(q->issued_by));
		json_object_set_new(o, "content",
		                    json_stringn((const char *)q->content.data,
		                                 q->content.len));
	}
	return o;
}

static int
cmd_list(store *s, int as_json)
{
	store_txn t;
	store_iter it;
	MDB_val k, v;
	json_t *arr = as_json ? json_array() : NULL;
	int rv, n = 0;

	if ((rv = store_txn_begin(s, &t, 1)) != 0)
		return rv;
	if ((rv = store_iter_begin(&t, ADB_BYSEQ, NULL, 0, &it)) != 0) {
		store_txn_abort(&t);
		return rv;
	}
	if (!as_json)
		printf("%-6s %-22s %-9s %-20s %-16s %s\n", "SEQ", "REQUEST",
		       "MARK", "KIND", "TLP", "TITLE");
	while ((rv = store_iter_next(&it, &k, &v)) == 1) {
		Art17__InboxRecord *r;
		Art17__Request *q;
		Art17__Body *b = NULL;
		store_key ik;
		MDB_val iv;
		char id[128];

		snprintf(id, sizeof(id), "%.*s", (int)v.mv_size,
		         (const char *)v.mv_data);
		store_key_init(&ik);
		store_key_str(&ik, id);
		if (store_get(&t, ADB_INBOX, &ik, &iv) != 0)
			continue;
		r = art17__inbox_record__unpack(NULL, iv.mv_size, iv.mv_data);
		if (r == NULL)
			continue;
		if ((q = stored_request(r, &b)) != NULL) {
			n++;
			if (as_json)
				json_array_append_new(arr,
				                      request_json(r, q, 0));
			else
				printf("%-6llu %-22s %-9s %-20s %-16s %s\n",
				       (unsigned long long)r->seq,
				       q->request_id,
				       q->exercise ? "EXERCISE" : "-",
				       kind_name(q->kind),
				       tlp_name(CUR_MK(r, q)), q->title);
			art17__body__free_unpacked(b, NULL);
		}
		art17__inbox_record__free_unpacked(r, NULL);
	}
	store_iter_end(&it);
	store_txn_abort(&t);
	if (as_json) {
		char *out = json_dumps(arr, JSON_INDENT(2));

		puts(out ? out : "[]");
		free(out);
		json_decref(arr);
	} else {
		printf("%d request%s\n", n, n == 1 ? "" : "s");
	}
	return rv < 0 ? rv : 0;
}

static int
cmd_show(store *s, const char *id, int as_json)
{
	store_txn t;
	store_key k;
	MDB_val v;
	Art17__InboxRecord *r;
	Art17__Request *q;
	Art17__Body *b = NULL;
	char g[512], t1[32], t2[32];
	int rv;

	if ((rv = store_txn_begin(s, &t, 1)) != 0)
		return rv;
	store_key_init(&k);
	store_key_str(&k, id);
	if ((rv = store_get(&t, ADB_INBOX, &k, &v)) != 0) {
		store_txn_abort(&t);
		return rv;
	}
	r = art17__inbox_record__unpack(NULL, v.mv_size, v.mv_data);
	store_txn_abort(&t);
	if (r == NULL || (q = stored_request(r, &b)) == NULL) {
		if (r)
			art17__inbox_record__free_unpacked(r, NULL);
		return A17_ECORRUPT;
	}
	if (as_json) {
		json_t *o = request_json(r, q, 1);
		char *out = json_dumps(o, JSON_INDENT(2));

		puts(out ? out : "{}");
		free(out);
		json_decref(o);
	} else {
		if (q->exercise)
			printf("*** EXERCISE *** EXERCISE *** EXERCISE ***\n");
		printf("Request:   %s (seq %llu)\n", q->request_id,
		       (unsigned long long)r->seq);
		printf("Kind:      %s\n", kind_name(q->kind));
		printf("Statement: %s\n", q->statement);
		printf("Ground:    %s\n", ground_text(r, q, g, sizeof(g)));
		printf("Incident:  %s\n", q->incident_id);
		printf("Title:     %s\n", q->title);
		printf("Marking:   %s, secret: %s, scope: %s\n",
		       tlp_name(CUR_MK(r, q)),
		       CUR_MK(r, q) &&
		               CUR_MK(r, q)->secret == ART17__SECRET__SECRET_YES
		           ? "yes"
		           : "no",
		       scope_name(CUR_MK(r, q)));
		printf("           %s\n", tlp_meaning(CUR_MK(r, q)));
		if (r->marking != NULL)
			printf(
			    "           (revised by the secretariat: marking "
			    "revision %u)\n",
			    r->marking->revision);
		printf("Issued by: %s\n", q->issued_by);
		printf("Stored:    %s\n",
		       fmt_time(r->stored_ms, t1, sizeof(t1)));
		printf("Deadline:  %s\n",
		       fmt_time(q->deadline_ms, t2, sizeof(t2)));
		printf("Feedback:  %s\n",
		       q->feedback_voluntary ? "voluntary" : "requested");
		if (r->sealed != NULL)
			printf(
			    "\nSECRET: the content is sealed to %zu registered "
			    "staff member%s;\nopen it with: art17-agent read "
			    "%s --staff STAFF --key SEALKEY\n",
			    r->sealed->n_keys,
			    r->sealed->n_keys == 1 ? "" : "s", q->request_id);
		else
			printf("\n%.*s\n", (int)q->content.len,
			       (const char *)q->content.data);
		for (size_t i = 0; i < r->n_reads; i++)
			printf("Opened by: %s at %s\n", r->reads[i]->staff_id,
			       fmt_time(r->reads[i]->read_ms, t1, sizeof(t1)));
		if (q->exercise)
			printf("*** EXERCISE *** EXERCISE *** EXERCISE ***\n");
	}
	art17__body__free_unpacked(b, NULL);
	art17__inbox_record__free_unpacked(r, NULL);
	return 0;
}

static int
iso_to_ms(const char *s, int64_t *ms)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	*ms = (int64_t)timegm(&tm) * 1000;
	return 0;
}

static int
scope_parse(const char *w, Art17__Scope *sc)
{
	static const struct {
		const char *w;
		Art17__Scope s;
	} t[] = {
	    {"tf1-only", ART17__SCOPE__SCOPE_TF1_ONLY},
	    {"taskforce", ART17__SCOPE__SCOPE_TASKFORCE},
	    {"members", ART17__SCOPE__SCOPE_MEMBERS},
	    {"members+constituents", ART17__SCOPE__SCOPE_MEMBERS_CONSTITUENTS},
	    {"public", ART17__SCOPE__SCOPE_PUBLIC},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(t[i].w, w) == 0) {
			*sc = t[i].s;
			return 0;
		}
	return -1;
}

/*
 * art17-agent feedback ID ...: structured feedback from the member's
 * staff. Checked here (the same rules as the broker's), then queued; the
 * running agent signs it and sends it.
 */
static int
cmd_feedback(const char *datadir, int argc, char **argv)
{
	static const struct option fo[] = {
	    {"status", required_argument, NULL, 's'},
	    {"indicator", required_argument, NULL, 'i'},
	    {"count", required_argument, NULL, 'n'},
	    {"first-seen", required_argument, NULL, 'f'},
	    {"last-seen", required_argument, NULL, 'l'},
	    {"impact", required_argument, NULL, 'I'},
	    {"text", required_argument, NULL, 't'},
	    {"contact", required_argument, NULL, 'c'},
	    {"secrecy", required_argument, NULL, 'S'},
	    {"sharing", required_argument, NULL, 'H'},
	    {"decline-reason", required_argument, NULL, 'D'},
	    {NULL, 0, NULL, 0},
	};
	Art17__Feedback f = ART17__FEEDBACK__INIT;
	Art17__Indicator ind[64], *indp[64];
	char err[512];
	store *st;
	int c, rv;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", fo, NULL)) != -1) {
		switch (c) {
		case 's':
			if (fb_status_parse(optarg, &f.status) != 0) {
				fprintf(stderr,
				        "art17-agent: --status: one of "
				        "not-affected, investigating, "
				        "affected, mitigated, declined\n");
				return 2;
			}
			break;
		case 'i': {
			char *colon = strchr(optarg, ':');
			Art17__IndicatorType ty;

			if (f.n_indicators == 64) {
				fprintf(stderr, "art17-agent: at most 64 "
				                "--indicator\n");
				return 2;
			}
			if (colon == NULL) {
				fprintf(stderr,
				        "art17-agent: --indicator "
				        "TYPE:VALUE, e.g. ipv4:192.0.2.7\n");
				return 2;
			}
			*colon = '\0';
			if (fb_indicator_parse(optarg, &ty) != 0) {
				fprintf(
				    stderr,
				    "art17-agent: --indicator: unknown "
				    "type '%s' (ipv4 ipv6 domain url sha256 "
				    "sha1 md5 email cve)\n",
				    optarg);
				return 2;
			}
			art17__indicator__init(&ind[f.n_indicators]);
			ind[f.n_indicators].type = ty;
			ind[f.n_indicators].value = colon + 1;
			indp[f.n_indicators] = &ind[f.n_indicators];
			f.n_indicators++;
			f.indicators = indp;
			break;
		}
		case 'n':
			f.count = strtoull(optarg, NULL, 10);
			break;
		case 'f':
		case 'l':
			if (iso_to_ms(optarg, c == 'f'
			                          ? &f.first_seen_ms
			                          : &f.last_seen_ms) != 0) {
				fprintf(stderr,
				        "art17-agent: --%s: ISO-8601 UTC, "
				        "e.g. 2026-11-26T10:00:00Z\n",
				        c == 'f' ? "first-seen" : "last-seen");
				return 2;
			}
			break;
		case 'I':
			f.impact = optarg;
			break;
		case 't':
			f.text = optarg;
			break;
		case 'c':
			f.contact = optarg;
			break;
		case 'S':
			if (strcmp(optarg, "yes") == 0)
				f.secrecy_wish = ART17__SECRET__SECRET_YES;
			else if (strcmp(optarg, "no") == 0)
				f.secrecy_wish = ART17__SECRET__SECRET_NO;
			else {
				fprintf(stderr,
				        "art17-agent: --secrecy yes or no\n");
				return 2;
			}
			break;
		case 'H':
			if (scope_parse(optarg, &f.sharing_wish) != 0) {
				fprintf(stderr,
				        "art17-agent: --sharing: tf1-only, "
				        "taskforce, members, "
				        "members+constituents or public\n");
				return 2;
			}
			break;
		case 'D':
			f.decline_reason = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "art17-agent: feedback needs one request id\n");
		return 2;
	}
	f.request_id = argv[optind];
	f.version = 1; /* set when queued */
	if (fb_validate(&f, err, sizeof(err)) != 0) {
		fprintf(stderr, "art17-agent: feedback refused: %s\n", err);
		return 2;
	}
	if ((rv = inbox_open(datadir, 0, &st)) != 0) {
		fprintf(stderr, "art17-agent: inbox in %s: %s\n", datadir,
		        a17_strerror(rv));
		return 1;
	}
	rv = outbox_feedback(st, &f);
	store_close(st);
	if (rv == A17_ENOTFOUND) {
		fprintf(stderr, "art17-agent: no request %s here\n",
		        f.request_id);
		return 4;
	}
	if (rv != 0) {
		fprintf(stderr, "art17-agent: %s\n", a17_strerror(rv));
		return 1;
	}
	printf("feedback version %u on %s queued; the running agent signs it "
	       "and sends it\n",
	       f.version, f.request_id);
	return 0;
}

/*
 * art17-agent consult: a report or consultation to the secretariat
 * (RULES Q22), from a member or a registered non-member reporter. The
 * three confirmations are required before it is queued.
 */
static int
cmd_consult(const char *datadir, int argc, char **argv)
{
	static const struct option co[] = {
	    {"text", required_argument, NULL, 't'},
	    {"secrecy", required_argument, NULL, 'S'},
	    {"scope", required_argument, NULL, 'H'},
	    {"coordination", required_argument, NULL, 'C'},
	    {"detail", required_argument, NULL, 'D'},
	    {NULL, 0, NULL, 0},
	};
	static const struct {
		const char *w;
		Art17__Coordination c;
	} coords[] = {
	    {"none", ART17__COORDINATION__COORD_NONE},
	    {"check-others", ART17__COORDINATION__COORD_CHECK_OTHERS},
	    {"notify-sender", ART17__COORDINATION__COORD_NOTIFY_SENDER},
	    {"other", ART17__COORDINATION__COORD_OTHER},
	};
	Art17__Consultation c = ART17__CONSULTATION__INIT;
	char err[512];
	store *st;
	int ch, rv;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", co, NULL)) != -1) {
		switch (ch) {
		case 't':
			c.text = optarg;
			break;
		case 'S':
			if (strcmp(optarg, "yes") == 0)
				c.secrecy_wish = ART17__SECRET__SECRET_YES;
			else if (strcmp(optarg, "no") == 0)
				c.secrecy_wish = ART17__SECRET__SECRET_NO;
			else {
				fprintf(stderr, "art17-agent: --secrecy yes or "
				                "no\n");
				return 2;
			}
			break;
		case 'H':
			if (scope_parse(optarg, &c.sharing_scope) != 0) {
				fprintf(stderr,
				        "art17-agent: --scope: tf1-only, "
				        "taskforce, members, "
				        "members+constituents or public\n");
				return 2;
			}
			break;
		case 'C': {
			size_t i;

			for (i = 0; i < sizeof(coords) / sizeof(coords[0]); i++)
				if (strcmp(optarg, coords[i].w) == 0)
					c.coordination = coords[i].c;
			if (c.coordination ==
			    ART17__COORDINATION__COORD_UNSPECIFIED) {
				fprintf(
				    stderr,
				    "art17-agent: --coordination: none, "
				    "check-others, notify-sender or other\n");
				return 2;
			}
			break;
		}
		case 'D':
			c.coordination_detail = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "art17-agent: consult takes options only\n");
		return 2;
	}
	if (consult_validate(&c, err, sizeof(err)) != 0) {
		fprintf(stderr, "art17-agent: consultation refused: %s\n", err);
		return 2;
	}
	if ((rv = inbox_open(datadir, 0, &st)) != 0) {
		fprintf(stderr, "art17-agent: inbox in %s: %s\n", datadir,
		        a17_strerror(rv));
		return 1;
	}
	rv = outbox_consult(st, &c);
	store_close(st);
	if (rv != 0) {
		fprintf(stderr, "art17-agent: %s\n", a17_strerror(rv));
		return 1;
	}
	printf("consultation queued; the running agent signs it and sends it "
	       "(its id appears in the agent's log)\n");
	return 0;
}

/*
 * export: hands an item on to a constituent, as JSON (jansson), only when
 * the onward-sharing rule (RULES Q21) allows it for the constituent's
 * category; otherwise nothing is written and the rule is cited. Secret
 * items are always denied by that rule, so sealed content never leaves.
 */
static int
export_item(const Art17__InboxRecord *r, const Art17__Request *q,
            const char *to_cat, mk_verdict vd, const char *out)
{
	const Art17__Marking *m = CUR_MK(r, q);
	json_t *o;
	char *txt;
	FILE *f = stdout;
	int rv = 0;

	if (!vd.allowed) {
		fprintf(stderr,
		        "art17-agent: export of %s to a %s constituent DENIED\n"
		        "  rule: %s\n",
		        q->request_id, to_cat, vd.rule);
		return 3;
	}
	o = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s%, s:{s:s, s:s, s:i}, s:s, "
	    "s:s}",
	    "request_id", q->request_id, "kind", kind_name(q->kind),
	    "incident_id", q->incident_id, "title", q->title, "content",
	    q->content.data ? (const char *)q->content.data : "",
	    q->content.len, "marking", "tlp", tlp_name(m), "scope",
	    scope_name(m), "revision", (int)(m != NULL ? m->revision : 1),
	    "to_category", to_cat, "rule", vd.rule);
	if (o != NULL && q->exercise)
		json_object_set_new(o, "exercise", json_string("EXERCISE"));
	if (o == NULL ||
	    (txt = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
		json_decref(o);
		fprintf(stderr, "art17-agent: export: the item's text is not "
		                "valid UTF-8 or memory ran out\n");
		return 1;
	}
	json_decref(o);
	if (out != NULL && (f = fopen(out, "wx")) == NULL) {
		fprintf(stderr, "art17-agent: export: %s: %s\n", out,
		        strerror(errno));
		free(txt);
		return 1;
	}
	if (fprintf(f, "%s\n", txt) < 0 || (f != stdout && fclose(f) != 0)) {
		fprintf(stderr, "art17-agent: export: writing %s failed\n",
		        out ? out : "stdout");
		rv = 1;
	} else if (f == stdout && fflush(stdout) != 0) {
		rv = 1;
	}
	free(txt);
	return rv;
}

int
main(int argc, char **argv)
{
	static const struct option gopts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"config", required_argument, NULL, 'f'},
	    {"check", no_argument, NULL, 'n'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	static const struct option ropts[] = {
	    {"keys", required_argument, NULL, 'k'},
	    {"member", required_argument, NULL, 'm'},
	    {"connect", required_argument, NULL, 'c'},
	    {"insecure", no_argument, NULL, 'I'},
	    {"server-name", required_argument, NULL, 'S'},
	    {"nosync", no_argument, NULL, 'N'},
	    {"json", no_argument, NULL, 'j'},
	    {"person", required_argument, NULL, 'P'},
	    {"user", required_argument, NULL, 'U'},
	    {"to-category", required_argument, NULL, 'C'},
	    {"staff", required_argument, NULL, 'T'},
	    {"key", required_argument, NULL, 'K'},
	    {"ref", required_argument, NULL, 'R'},
	    {"out", required_argument, NULL, 'O'},
	    {"syslog", no_argument, NULL, 'L'},
	    {"stall-exit", required_argument, NULL, 'W'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	agent_cfg cfg;
	const char *to_cat = NULL, *out = NULL;
	const char *cmd, *person = NULL, *ref = NULL, *staff = NULL,
	                 *sealkey = NULL;
	store *st = NULL;
	const char *conffile = NULL, *data_flag = NULL;
	conf_file *cf = NULL;
	int c, verbose = LOG_LVL_INFO, as_json = 0, rv, check = 0, nv = 0;

	memset(&cfg, 0, sizeof(cfg));
	cfg.datadir = getenv("ART17_AGENT_DATA") ? getenv("ART17_AGENT_DATA")
	                                         : "/var/lib/art17-agent";
	cfg.url = "tls+tcp://127.0.0.1:7017";
	cfg.verbose = LOG_LVL_INFO;
	cfg.hook_timeout_s = 10;
	cfg.stall_exit_s = 900;

	while ((c = getopt_long(argc, argv, "+d:f:nvhV", gopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			data_flag = optarg;
			break;
		case 'f':
			conffile = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			nv++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("art17-agent %s\n", A17_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* the file first, then the flags over it */
	if (conffile != NULL) {
		int errors = config_agent_read(conffile, &cfg, &cf);

		conf_free_at_exit(cf);
		if (errors > 0) {
			fprintf(stderr, "art17-agent: %s: %d error%s\n",
			        conffile, errors, errors == 1 ? "" : "s");
			return CONF_EXIT;
		}
	}
	if (check) {
		if (conffile == NULL) {
			fprintf(stderr, "art17-agent: -n needs -f CONFIG\n");
			return 2;
		}
		printf("art17-agent: configuration OK\n");
		return 0;
	}
	if (data_flag != NULL)
		cfg.datadir = data_flag;
	verbose = cfg.verbose + nv;
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	if (strcmp(cmd, "feedback") == 0)
		return cmd_feedback(cfg.datadir, argc, argv);
	if (strcmp(cmd, "consult") == 0)
		return cmd_consult(cfg.datadir, argc, argv);
	optind = 0; /* 0: glibc re-reads the option string's mode */
	while ((c = getopt_long(argc, argv, "k:m:c:d:vh", ropts, NULL)) != -1) {
		switch (c) {
		case 'k':
			cfg.keydir = optarg;
			break;
		case 'm':
			cfg.member = optarg;
			break;
		case 'c':
			cfg.url = optarg;
			break;
		case 'd':
			cfg.datadir = optarg;
			break;
		case 'I':
			cfg.insecure = 1;
			break;
		case 'S':
			cfg.server_name = optarg;
			break;
		case 'P':
			person = optarg;
			break;
		case 'U':
			cfg.run_as = optarg;
			break;
		case 'C':
			to_cat = optarg;
			break;
		case 'T':
			staff = optarg;
			break;
		case 'K':
			sealkey = optarg;
			break;
		case 'R':
			ref = optarg;
			break;
		case 'O':
			out = optarg;
			break;
		case 'N':
			cfg.nosync = 1;
			break;
		case 'j':
			as_json = 1;
			break;
		case 'L':
			cfg.use_syslog = 1;
			break;
		case 'W':
			if (conf_parse_int(optarg, 0, 86400,
			                   &cfg.stall_exit_s) != 0) {
				fprintf(stderr,
				        "art17-agent: --stall-exit: "
				        "give 0 (off) to 86400 seconds\n");
				return 2;
			}
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	log_init(!(cfg.use_syslog && strcmp(cmd, "run") == 0), "art17-agent",
	         verbose);

	if (strcmp(cmd, "run") == 0) {
		if (optind != argc || cfg.keydir == NULL) {
			fprintf(stderr, "art17-agent: run needs -k KEYDIR\n");
			return 2;
		}
		if (cfg.member == NULL) {
			const char *s = strrchr(cfg.keydir, '/');
			static char mem[128];
			size_t n;

			s = s ? s + 1 : cfg.keydir;
			if (*s == '\0') {
				fprintf(stderr,
				        "art17-agent: give -m MEMBER\n");
				return 2;
			}
			n = strlen(s);
			snprintf(mem, sizeof(mem), "%.*s", (int)n, s);
			cfg.member = mem;
		}
		return link_run(&cfg);
	}
	if (strcmp(cmd, "list") == 0 || strcmp(cmd, "show") == 0) {
		const char *id = NULL;

		if (strcmp(cmd, "show") == 0) {
			if (optind + 1 != argc) {
				fprintf(
				    stderr,
				    "art17-agent: show needs one request id\n");
				return 2;
			}
			id = argv[optind];
		} else if (optind != argc) {
			usage(stderr);
			return 2;
		}
		if ((rv = inbox_open(cfg.datadir, 0, &st)) != 0) {
			fprintf(stderr, "art17-agent: inbox in %s: %s\n",
			        cfg.datadir, a17_strerror(rv));
			return 1;
		}
		rv = id ? cmd_show(st, id, as_json) : cmd_list(st, as_json);
		store_close(st);
		if (rv == A17_ENOTFOUND) {
			fprintf(stderr, "art17-agent: no request %s\n", id);
			return 4;
		}
		if (rv != 0) {
			fprintf(stderr, "art17-agent: %s\n", a17_strerror(rv));
			return 1;
		}
		return 0;
	}
	if (strcmp(cmd, "reshare-check") == 0 || strcmp(cmd, "export") == 0) {
		int exp = cmd[0] == 'e';
		store_txn t;
		store_key k;
		MDB_val v;
		Art17__InboxRecord *r = NULL;
		Art17__Body *b = NULL;
		Art17__Request *q = NULL;
		mk_category cat;
		mk_verdict vd;

		if (optind + 1 != argc || to_cat == NULL) {
			fprintf(stderr,
			        "art17-agent: %s ID --to-category CAT%s\n", cmd,
			        exp ? " [--out FILE]" : "");
			return 2;
		}
		if (mk_category_parse(to_cat, &cat) != 0) {
			fprintf(stderr,
			        "art17-agent: --to-category: national-gov, "
			        "local-gov, critical-infra, edu-research, "
			        "association, cyber-vendor or other\n");
			return 2;
		}
		if ((rv = inbox_open(cfg.datadir, 0, &st)) != 0 ||
		    (rv = store_txn_begin(st, &t, 1)) != 0) {
			fprintf(stderr, "art17-agent: inbox in %s: %s\n",
			        cfg.datadir, a17_strerror(rv));
			return 1;
		}
		store_key_init(&k);
		store_key_str(&k, argv[optind]);
		if (store_get(&t, ADB_INBOX, &k, &v) == 0 &&
		    (r = art17__inbox_record__unpack(NULL, v.mv_size,
		                                     v.mv_data)) != NULL)
			q = stored_request(r, &b);
		store_txn_abort(&t);
		store_close(st);
		if (q == NULL) {
			if (r)
				art17__inbox_record__free_unpacked(r, NULL);
			fprintf(stderr, "art17-agent: no request %s\n",
			        argv[optind]);
			return 4;
		}
		vd = mk_reshare(CUR_MK(r, q), cat);
		if (exp) {
			rv = export_item(r, q, to_cat, vd, out);
			art17__body__free_unpacked(b, NULL);
			art17__inbox_record__free_unpacked(r, NULL);
			return rv;
		}
		printf("%s: passing %s (%s, secret %s, scope: %s) on to a "
		       "%s constituent\n  rule: %s\n",
		       vd.allowed ? "ALLOWED" : "DENIED", q->request_id,
		       tlp_name(CUR_MK(r, q)),
		       CUR_MK(r, q) &&
		               CUR_MK(r, q)->secret == ART17__SECRET__SECRET_YES
		           ? "yes"
		           : "no",
		       scope_name(CUR_MK(r, q)), to_cat, vd.rule);
		art17__body__free_unpacked(b, NULL);
		art17__inbox_record__free_unpacked(r, NULL);
		return vd.allowed ? 0 : 3;
	}
	if (strcmp(cmd, "read") == 0) {
		uint8_t *pt;
		size_t len;

		if (optind + 1 != argc || staff == NULL || sealkey == NULL) {
			fprintf(stderr, "art17-agent: read needs a request id, "
			                "--staff STAFF and --key SEALKEY\n");
			return 2;
		}
		if ((rv = inbox_open(cfg.datadir, 0, &st)) != 0) {
			fprintf(stderr, "art17-agent: inbox in %s: %s\n",
			        cfg.datadir, a17_strerror(rv));
			return 1;
		}
		rv = inbox_read_sealed(st, argv[optind], staff, sealkey, &pt,
		                       &len);
		store_close(st);
		switch (rv) {
		case 0:
			fwrite(pt, 1, len, stdout);
			if (len > 0 && pt[len - 1] != '\n')
				fputc('\n', stdout);
			seal_plaintext_free(pt, len);
			return 0;
		case A17_ENOTFOUND:
			fprintf(stderr,
			        "art17-agent: %s: no such request here, or its "
			        "content was not sealed to staff %s\n",
			        argv[optind], staff);
			return 4;
		case A17_EINVAL:
			fprintf(stderr,
			        "art17-agent: %s is not secret: use "
			        "show\n",
			        argv[optind]);
			return 1;
		default:
			fprintf(stderr,
			        "art17-agent: cannot open %s as %s: %s (is "
			        "this your own key?)\n",
			        argv[optind], staff, a17_strerror(rv));
			return 1;
		}
	}
	if (strcmp(cmd, "accept") == 0) {
		const char *prev;

		if (optind + 1 != argc || person == NULL) {
			fprintf(stderr,
			        "art17-agent: accept needs a request id "
			        "and --person NAME\n");
			return 2;
		}
		if ((rv = inbox_open(cfg.datadir, 0, &st)) != 0) {
			fprintf(stderr, "art17-agent: inbox in %s: %s\n",
			        cfg.datadir, a17_strerror(rv));
			return 1;
		}
		rv = inbox_accept(st, argv[optind], person, &prev);
		store_close(st);
		if (rv == A17_ENOTFOUND) {
			fprintf(stderr, "art17-agent: no request %s\n",
			        argv[optind]);
			return 4;
		}
		if (rv == A17_EEXIST) {
			printf("%s was already accepted by %s\n", argv[optind],
			       prev);
			return 0;
		}
		if (rv != 0) {
			fprintf(stderr, "art17-agent: %s\n", a17_strerror(rv));
			return 1;
		}
		printf("%s accepted by %s; the broker will be told\n",
		       argv[optind], person);
		return 0;
	}
	if (strcmp(cmd, "consent") == 0) {
		int grant;

		if (optind + 1 != argc || ref == NULL ||
		    (strcmp(argv[optind], "grant") != 0 &&
		     strcmp(argv[optind], "revoke") != 0)) {
			fprintf(stderr, "art17-agent: consent grant|revoke "
			                "--ref REF -m MEMBER\n");
			return 2;
		}
		if (cfg.member == NULL && cfg.keydir != NULL) {
			const char *sl = strrchr(cfg.keydir, '/');

			cfg.member = sl ? sl + 1 : cfg.keydir;
		}
		if (cfg.member == NULL) {
			fprintf(stderr, "art17-agent: consent needs -m MEMBER "
			                "(or -k KEYDIR)\n");
			return 2;
		}
		grant = strcmp(argv[optind], "grant") == 0;
		if ((rv = inbox_open(cfg.datadir, 0, &st)) != 0) {
			fprintf(stderr, "art17-agent: inbox in %s: %s\n",
			        cfg.datadir, a17_strerror(rv));
			return 1;
		}
		rv = outbox_consent(st, cfg.member, grant, ref);
		store_close(st);
		if (rv != 0) {
			fprintf(stderr, "art17-agent: %s\n", a17_strerror(rv));
			return 1;
		}
		printf("consent %s for %s queued; the running agent signs it "
		       "and sends it to the broker\n",
		       grant ? "grant" : "revocation", cfg.member);
		return 0;
	}
	fprintf(stderr, "art17-agent: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
