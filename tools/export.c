/*
 * export.c: members' structured feedback exported as JSON, CSV or a STIX
 * 2.1 bundle. See export.h.
 *
 * The STIX bundle is the council's current picture: it is built from
 * each member's latest feedback version (JSON and CSV carry every
 * version). Its objects:
 *  - the TLP 2.0 marking-definition the export carries, verbatim as the
 *    TLP 2.0 extension (extension-definition--60a3c5c5-...) publishes it;
 *  - an identity for the council secretariat (created_by_ref of every
 *    other object) and one per member that replied;
 *  - one indicator per distinct indicator value (STIX patterning), or a
 *    vulnerability for a CVE, which no pattern can express;
 *  - one sighting per member and indicator it reported (count and
 *    first/last seen are the member's, which cover the whole report);
 *  - one opinion per member (mapping below);
 *  - one note summarising the request's feedback.
 * Every object but the marking-definition carries object_marking_refs
 * (the TLP) and, for a drill, "labels": ["EXERCISE"]; the published
 * marking-definition is left exactly as published.
 *
 * Opinion mapping (the opinion is on the request's concern, the note, and
 * on the indicators the member itself reported):
 *   affected       strongly-agree  it applies to us, we are hit
 *   mitigated      agree           it applied, we have dealt with it
 *   investigating  neutral         no conclusion yet
 *   declined       neutral         no assessment given (reason in the
 *                                  explanation)
 *   not-affected   disagree        it does not apply to us
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "err.h"
#include "export.h"
#include "feedback.h"

#define EXP_COUNCIL_NAME "art17 council secretariat"
#define EXP_TLP_EXT      "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
#define EXP_TLP_CREATED  "2022-10-01T00:00:00.000Z"
#define EXP_COUNT_MAX    999999999ULL /* STIX sighting count */
#define EXP_ID_LEN       96

/* ------------------------------------------------------------ words */

static const struct {
	Art17__Tlp t;
	const char *name; /* the marking-definition's name */
	const char *word; /* its tlp_2_0 value */
	const char *id;   /* its published id */
} tlps[] = {
    {ART17__TLP__TLP_CLEAR, "TLP:CLEAR", "clear",
     "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"},
    {ART17__TLP__TLP_GREEN, "TLP:GREEN", "green",
     "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"},
    {ART17__TLP__TLP_AMBER, "TLP:AMBER", "amber",
     "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"},
    {ART17__TLP__TLP_AMBER_STRICT, "TLP:AMBER+STRICT", "amber+strict",
     "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"},
    {ART17__TLP__TLP_RED, "TLP:RED", "red",
     "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"},
};

static int
tlp_index(Art17__Tlp t)
{
	for (size_t i = 0; i < sizeof(tlps) / sizeof(tlps[0]); i++)
		if (tlps[i].t == t)
			return (int)i;
	return -1;
}

const char *
export_tlp_name(Art17__Tlp t)
{
	int i = tlp_index(t);

	return i < 0 ? NULL : tlps[i].name;
}

int
export_tlp_resolve(Art17__Tlp have, Art17__Tlp want, Art17__Tlp *out)
{
	/* TLP_CLEAR < GREEN < AMBER < AMBER_STRICT < RED, by enum value */
	if (tlp_index(have) < 0)
		have = ART17__TLP__TLP_UNSPECIFIED;
	if (tlp_index(want) < 0)
		want = ART17__TLP__TLP_UNSPECIFIED;
	if (want == ART17__TLP__TLP_UNSPECIFIED)
		*out = have != ART17__TLP__TLP_UNSPECIFIED
		           ? have
		           : ART17__TLP__TLP_AMBER;
	else if (have != ART17__TLP__TLP_UNSPECIFIED && want < have)
		return A17_EDENIED;
	else
		*out = want;
	return 0;
}

int
export_format_parse(const char *s, enum export_format *f)
{
	if (strcmp(s, "json") == 0)
		*f = EXPORT_JSON;
	else if (strcmp(s, "csv") == 0)
		*f = EXPORT_CSV;
	else if (strcmp(s, "stix") == 0)
		*f = EXPORT_STIX;
	else
		return -1;
	return 0;
}

static const char *
scope_word(Art17__Scope s)
{
	switch (s) {
	case ART17__SCOPE__SCOPE_TF1_ONLY:
		return "tf1-only";
	case ART17__SCOPE__SCOPE_TASKFORCE:
		return "taskforce";
	case ART17__SCOPE__SCOPE_MEMBERS:
		return "members";
	case ART17__SCOPE__SCOPE_MEMBERS_CONSTITUENTS:
		return "members+constituents";
	case ART17__SCOPE__SCOPE_PUBLIC:
		return "public";
	default:
		return "unspecified";
	}
}

static const char *
kind_word(Art17__ItemKind k)
{
	switch (k) {
	case ART17__ITEM_KIND__KIND_COOPERATION_REQUEST:
		return "cooperation";
	case ART17__ITEM_KIND__KIND_INFORMATION_SHARE:
		return "share";
	default:
		return "unspecified";
	}
}

static const char *
status_word(Art17__FeedbackStatus s)
{
	const char *w = fb_status_name(s);

	return w ? w : "unspecified";
}

static const char *
ind_word(Art17__IndicatorType t)
{
	const char *w = fb_indicator_name(t);

	return w ? w : "unknown";
}

static const char *
opinion_word(Art17__FeedbackStatus s)
{
	switch (s) {
	case ART17__FEEDBACK_STATUS__FB_AFFECTED:
		return "strongly-agree";
	case ART17__FEEDBACK_STATUS__FB_MITIGATED:
		return "agree";
	case ART17__FEEDBACK_STATUS__FB_NOT_AFFECTED:
		return "disagree";
	default: /* investigating, declined */
		return "neutral";
	}
}

static const char *
nz(const char *s)
{
	return s ? s : "";
}

/* ------------------------------------------------------------ text */

/* s as valid UTF-8, every invalid byte replaced by U+FFFD; malloc'd. */
static char *
utf8_clean(const char *s)
{
	size_t n = strlen(s), i = 0, o = 0;
	char *out = malloc(n * 3 + 1);

	if (out == NULL)
		return NULL;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t len = 0, k;
		uint32_t cp = 0, min = 0;

		if (c < 0x80) {
			out[o++] = (char)c;
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			len = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, cp = c & 0x07, min = 0x10000;
		}
		if (len != 0 && i + len <= n) {
			for (k = 1; k < len; k++) {
				unsigned char d = (unsigned char)s[i + k];

				if ((d & 0xc0) != 0x80)
					break;
				cp = (cp << 6) | (d & 0x3f);
			}
			if (k == len && cp >= min && cp <= 0x10ffff &&
			    !(cp >= 0xd800 && cp <= 0xdfff)) {
				memcpy(out + o, s + i, len);
				o += len;
				i += len;
				continue;
			}
		}
		out[o++] = (char)0xef;
		out[o++] = (char)0xbf;
		out[o++] = (char)0xbd;
		i++;
	}
	out[o] = '\0';
	return out;
}

/* A JSON string for text from outside (a member, the coordinator). */
static json_t *
jstr(const char *s)
{
	json_t *j;
	char *c;

	if (s == NULL)
		return json_string("");
	if ((j = json_string(s)) != NULL)
		return j;
	if ((c = utf8_clean(s)) == NULL)
		return NULL;
	j = json_string(c);
	free(c);
	return j;
}

/* RFC 3339, UTC, milliseconds: 2026-11-26T01:00:00.000Z; "" for <= 0. */
static void
iso(int64_t ms, char buf[32])
{
	struct tm tm;
	time_t t;
	size_t n;

	buf[0] = '\0';
	if (ms <= 0)
		return;
	t = (time_t)(ms / 1000);
	if (gmtime_r(&t, &tm) == NULL)
		return;
	n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0 || n > 32 - 6) {
		buf[0] = '\0';
		return;
	}
	snprintf(buf + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

static json_t *
jtime(int64_t ms)
{
	char b[32];

	iso(ms, b);
	return b[0] ? json_string(b) : json_null();
}

static json_int_t
jcount(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)v;
}

/* ------------------------------------------------------------ aggregate */

/* One member's report of one indicator, in its latest version. */
struct report {
	Art17__IndicatorType type;
	const char *value;
	const Art17__FeedbackEntry *e;
};

/* A distinct indicator and the reports of it: r[first .. first + n). */
struct ind {
	size_t first, n;
	char id[EXP_ID_LEN];
};

struct agg {
	Art17__FeedbackEntry **fb; /* the well-formed entries */
	size_t nfb;
	bool *latest; /* per fb[i]: the member's latest version */
	size_t members, affected, secret_wish;
	struct report *r;
	size_t nr;
	struct ind *ind;
	size_t nind;
};

static int
report_cmp(const void *a, const void *b)
{
	const struct report *x = a, *y = b;
	int c;

	if ((c = strcmp(ind_word(x->type), ind_word(y->type))) != 0)
		return c;
	if ((c = strcmp(x->value, y->value)) != 0)
		return c;
	return strcmp(x->e->member_id, y->e->member_id);
}

static bool
same_ind(const struct report *x, const struct report *y)
{
	return x->type == y->type && strcmp(x->value, y->value) == 0;
}

static void
agg_free(struct agg *a)
{
	free(a->fb);
	free(a->latest);
	free(a->r);
	free(a->ind);
	memset(a, 0, sizeof(*a));
}

static int
agg_build(const struct export_input *in, struct agg *a)
{
	size_t i, j, cap = 0;

	memset(a, 0, sizeof(*a));
	a->fb = calloc(in->n_feedback + 1, sizeof(*a->fb));
	a->latest = calloc(in->n_feedback + 1, sizeof(*a->latest));
	if (a->fb == NULL || a->latest == NULL)
		goto oom;
	for (i = 0; i < in->n_feedback; i++) {
		Art17__FeedbackEntry *e = in->feedback[i];

		if (e != NULL && e->feedback != NULL && e->member_id != NULL)
			a->fb[a->nfb++] = e;
	}
	for (i = 0; i < a->nfb; i++) {
		const Art17__FeedbackEntry *e = a->fb[i];

		a->latest[i] = true;
		for (j = 0; j < a->nfb; j++) {
			const Art17__FeedbackEntry *o = a->fb[j];

			if (j == i || strcmp(o->member_id, e->member_id) != 0)
				continue;
			if (o->feedback->version > e->feedback->version ||
			    (o->feedback->version == e->feedback->version &&
			     j > i))
				a->latest[i] = false;
		}
		if (e->feedback->secrecy_wish == ART17__SECRET__SECRET_YES)
			a->secret_wish++;
		if (!a->latest[i])
			continue;
		a->members++;
		if (e->feedback->status == ART17__FEEDBACK_STATUS__FB_AFFECTED)
			a->affected++;
		cap += e->feedback->n_indicators;
	}
	a->r = calloc(cap + 1, sizeof(*a->r));
	a->ind = calloc(cap + 1, sizeof(*a->ind));
	if (a->r == NULL || a->ind == NULL)
		goto oom;
	for (i = 0; i < a->nfb; i++) {
		const Art17__Feedback *f = a->fb[i]->feedback;

		if (!a->latest[i])
			continue;
		for (j = 0; j < f->n_indicators; j++) {
			if (f->indicators[j] == NULL ||
			    f->indicators[j]->value == NULL)
				continue;
			a->r[a->nr].type = f->indicators[j]->type;
			a->r[a->nr].value = f->indicators[j]->value;
			a->r[a->nr].e = a->fb[i];
			a->nr++;
		}
	}
	qsort(a->r, a->nr, sizeof(*a->r), report_cmp);
	/* a member that listed one indicator twice reported it once */
	for (i = 0, j = 0; i < a->nr; i++)
		if (j == 0 || report_cmp(&a->r[j - 1], &a->r[i]) != 0)
			a->r[j++] = a->r[i];
	a->nr = j;
	for (i = 0; i < a->nr; i++) {
		if (i == 0 || !same_ind(&a->r[i - 1], &a->r[i])) {
			a->ind[a->nind].first = i;
			a->nind++;
		}
		a->ind[a->nind - 1].n++;
	}
	return 0;
oom:
	agg_free(a);
	return A17_ENOMEM;
}

/* "type:value" of report r, as JSON. */
static json_t *
jind(Art17__IndicatorType t, const char *value)
{
	char *s;
	json_t *j;

	if (asprintf(&s, "%s:%s", ind_word(t), value) < 0)
		return NULL;
	j = jstr(s);
	free(s);
	return j;
}

/* [{"indicator": "type:value", "members": [...]}] for two or more. */
static json_t *
jshared(const struct agg *a)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < a->nind; i++) {
		const struct ind *d = &a->ind[i];
		json_t *m = json_array();

		if (d->n < 2) {
			json_decref(m);
			continue;
		}
		for (size_t k = 0; k < d->n; k++)
			json_array_append_new(
			    m, jstr(a->r[d->first + k].e->member_id));
		if (json_array_append_new(arr,
		                          json_pack("{s:o, s:o}", "indicator",
		                                    jind(a->r[d->first].type,
		                                         a->r[d->first].value),
		                                    "members", m)) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* Renders j (stolen) to a malloc'd string; NULL on ENOMEM. */
static char *
jdump(json_t *j)
{
	char *s;

	if (j == NULL)
		return NULL;
	s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	return s;
}

/* ------------------------------------------------------------ json */

static json_t *
jversion(const Art17__FeedbackEntry *e, bool latest)
{
	const Art17__Feedback *f = e->feedback;
	json_t *inds = json_array();

	for (size_t j = 0; inds != NULL && j < f->n_indicators; j++)
		if (f->indicators[j] != NULL)
			json_array_append_new(
			    inds, jind(f->indicators[j]->type,
			               nz(f->indicators[j]->value)));
	return json_pack(
	    "{s:o, s:I, s:b, s:s, s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:o, "
	    "s:b, s:s, s:b}",
	    "member_id", jstr(e->member_id), "version", (json_int_t)f->version,
	    "latest", (int)latest, "status", status_word(f->status),
	    "decline_reason", jstr(f->decline_reason), "indicators", inds,
	    "count", jcount(f->count), "first_seen", jtime(f->first_seen_ms),
	    "last_seen", jtime(f->last_seen_ms), "impact", jstr(f->impact),
	    "text", jstr(f->text), "contact", jstr(f->contact), "secrecy_wish",
	    (int)(f->secrecy_wish == ART17__SECRET__SECRET_YES), "sharing_wish",
	    scope_word(f->sharing_wish), "voluntary", (int)f->voluntary);
}

static char *
render_json(const struct export_input *in, const struct agg *a)
{
	const Art17__RequestRecord *r = in->request;
	const Art17__Marking *m = r->marking;
	json_t *o = json_object(), *vs = json_array();
	size_t i;

	if (o == NULL || vs == NULL) {
		json_decref(o);
		json_decref(vs);
		return NULL;
	}
	json_object_set_new(o, "exercise", json_boolean(r->exercise));
	if (r->exercise)
		json_object_set_new(o, "marking", json_string("EXERCISE"));
	json_object_set_new(o, "tlp", json_string(export_tlp_name(in->tlp)));
	json_object_set_new(
	    o, "secret",
	    json_boolean(m != NULL && m->secret == ART17__SECRET__SECRET_YES));
	json_object_set_new(
	    o, "scope",
	    json_string(
	        scope_word(m ? m->scope : ART17__SCOPE__SCOPE_UNSPECIFIED)));
	json_object_set_new(o, "request_id", jstr(r->request_id));
	json_object_set_new(o, "title", jstr(r->title));
	json_object_set_new(o, "kind", json_string(kind_word(r->kind)));
	json_object_set_new(o, "incident_id", jstr(r->incident_id));
	json_object_set_new(o, "issued", jtime(r->issued_ms));
	json_object_set_new(o, "exported", jtime(in->now_ms));
	for (i = 0; i < a->nfb; i++)
		if (json_array_append_new(
		        vs, jversion(a->fb[i], a->latest[i])) != 0) {
			json_decref(vs);
			json_decref(o);
			return NULL;
		}
	json_object_set_new(o, "feedback", vs);
	if (json_object_set_new(
	        o, "aggregate",
	        json_pack("{s:I, s:I, s:I, s:o}", "members_replied",
	                  (json_int_t)a->members, "members_affected",
	                  (json_int_t)a->affected, "versions",
	                  (json_int_t)a->nfb, "indicators_by_two_or_more",
	                  jshared(a))) != 0) {
		json_decref(o);
		return NULL;
	}
	return jdump(o);
}

/* ------------------------------------------------------------ csv */

/*
 * One RFC 4180 field. Text from members that a spreadsheet would take
 * for a formula (leading = + - @ or a tab/CR) is prefixed with a quote
 * character, as OWASP advises against CSV injection.
 */
static void
csv_field(FILE *f, const char *s, bool text, bool first)
{
	char *c = utf8_clean(nz(s));
	const char *p = c ? c : "";
	bool quote;

	if (!first)
		fputc(',', f);
	quote = strpbrk(p, ",\"\r\n") != NULL;
	if (text && p[0] != '\0' && strchr("=+-@\t\r", p[0]) != NULL) {
		quote = true;
		fputs("\"'", f);
	} else if (quote) {
		fputc('"', f);
	}
	for (; *p; p++) {
		if (*p == '"' && quote)
			fputc('"', f);
		fputc(*p, f);
	}
	if (quote)
		fputc('"', f);
	free(c);
}

static const char *const csv_cols[] = {
    "exercise",
    "request_id",
    "member_id",
    "version",
    "latest",
    "status",
    "decline_reason",
    "indicators",
    "count",
    "first_seen",
    "last_seen",
    "impact",
    "text",
    "contact",
    "secrecy_wish",
    "sharing_wish",
    "voluntary",
    "tlp",
    "indicators_by_two_or_more",
    NULL,
};

/* Is (t, v) one of the indicators two or more members reported? */
static bool
ind_shared(const struct agg *a, Art17__IndicatorType t, const char *v)
{
	struct report key = {t, v, NULL};

	for (size_t i = 0; i < a->nind; i++)
		if (a->ind[i].n >= 2 && same_ind(&a->r[a->ind[i].first], &key))
			return true;
	return false;
}

/* Space-separated "type:value" of f's indicators (only shared ones). */
static char *
csv_inds(const struct agg *a, const Art17__Feedback *f, bool shared_only)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	bool any = false;

	if (m == NULL)
		return NULL;
	for (size_t j = 0; j < f->n_indicators; j++) {
		const Art17__Indicator *x = f->indicators[j];

		if (x == NULL || x->value == NULL)
			continue;
		if (shared_only && !ind_shared(a, x->type, x->value))
			continue;
		fprintf(m, "%s%s:%s", any ? " " : "", ind_word(x->type),
		        x->value);
		any = true;
	}
	if (fclose(m) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static char *
render_csv(const struct export_input *in, const struct agg *a)
{
	const Art17__RequestRecord *r = in->request;
	const char *ex = r->exercise ? "EXERCISE" : "";
	char *buf = NULL;
	size_t len = 0, i;
	FILE *m = open_memstream(&buf, &len);
	bool ok = true;

	if (m == NULL)
		return NULL;
	for (i = 0; csv_cols[i] != NULL; i++)
		csv_field(m, csv_cols[i], false, i == 0);
	fputs("\r\n", m);
	for (i = 0; i < a->nfb; i++) {
		const Art17__FeedbackEntry *e = a->fb[i];
		const Art17__Feedback *f = e->feedback;
		char ver[24], cnt[24], fs[32], ls[32];
		char *inds = csv_inds(a, f, false);
		char *shared = csv_inds(a, f, true);

		if (inds == NULL || shared == NULL) {
			ok = false;
		} else {
			snprintf(ver, sizeof(ver), "%u", f->version);
			snprintf(cnt, sizeof(cnt), "%llu",
			         (unsigned long long)f->count);
			iso(f->first_seen_ms, fs);
			iso(f->last_seen_ms, ls);
			csv_field(m, ex, false, true);
			csv_field(m, r->request_id, false, false);
			csv_field(m, e->member_id, false, false);
			csv_field(m, ver, false, false);
			csv_field(m, a->latest[i] ? "yes" : "no", false, false);
			csv_field(m, status_word(f->status), false, false);
			csv_field(m, f->decline_reason, true, false);
			csv_field(m, inds, false, false);
			csv_field(m, cnt, false, false);
			csv_field(m, fs, false, false);
			csv_field(m, ls, false, false);
			csv_field(m, f->impact, true, false);
			csv_field(m, f->text, true, false);
			csv_field(m, f->contact, true, false);
			csv_field(m,
			          f->secrecy_wish == ART17__SECRET__SECRET_YES
			              ? "yes"
			              : "no",
			          false, false);
			csv_field(m, scope_word(f->sharing_wish), false, false);
			csv_field(m, f->voluntary ? "yes" : "no", false, false);
			csv_field(m, export_tlp_name(in->tlp), false, false);
			csv_field(m, shared, false, false);
			fputs("\r\n", m);
		}
		free(inds);
		free(shared);
	}
	if (fclose(m) != 0 || !ok) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ------------------------------------------------------------ stix */

struct stix {
	const struct export_input *in;
	const struct agg *a;
	char now[32];
	const char *tlp_id;
	char council[EXP_ID_LEN];
	char note[EXP_ID_LEN];
	char (*member_ids)[EXP_ID_LEN]; /* per a->fb[i], latest only */
	json_t *objects;
	size_t left_out; /* indicators of a type STIX cannot express */
	bool failed;     /* out of memory, or RAND_bytes failed */
};

/* "<type>--<uuid v4>" from RAND_bytes. */
static int
stix_id(struct stix *s, const char *type, char out[EXP_ID_LEN])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1) {
		s->failed = true;
		out[0] = '\0';
		return A17_ECRYPTO;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, EXP_ID_LEN,
	         "%s--%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	         "%02x%02x%02x%02x%02x%02x",
	         type, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8],
	         b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

static void
put(struct stix *s, json_t *o, const char *key, json_t *v)
{
	if (o == NULL || v == NULL || json_object_set_new(o, key, v) != 0)
		s->failed = true;
}

static void
add(struct stix *s, json_t *arr, json_t *v)
{
	if (arr == NULL || v == NULL || json_array_append_new(arr, v) != 0)
		s->failed = true;
}

/* The common properties of an SDO or SRO. */
static json_t *
sdo(struct stix *s, const char *type, const char *id)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "type", type, "spec_version",
	                      "2.1", "id", id);

	if (strcmp(id, s->council) != 0)
		put(s, o, "created_by_ref", json_string(s->council));
	put(s, o, "created", json_string(s->now));
	put(s, o, "modified", json_string(s->now));
	put(s, o, "object_marking_refs", json_pack("[s]", s->tlp_id));
	if (s->in->request->exercise)
		put(s, o, "labels", json_pack("[s]", "EXERCISE"));
	return o;
}

static char *strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
strf(const char *fmt, ...)
{
	va_list ap;
	char *out;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&out, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : out;
}

/* jstr of a malloc'd string, which it frees. */
static json_t *
jown(char *s)
{
	json_t *j;

	if (s == NULL)
		return NULL;
	j = jstr(s);
	free(s);
	return j;
}

/* The object path a pattern compares; NULL for a type with none. */
static const char *
stix_path(Art17__IndicatorType t)
{
	switch (t) {
	case ART17__INDICATOR_TYPE__IND_IPV4:
		return "ipv4-addr:value";
	case ART17__INDICATOR_TYPE__IND_IPV6:
		return "ipv6-addr:value";
	case ART17__INDICATOR_TYPE__IND_DOMAIN:
		return "domain-name:value";
	case ART17__INDICATOR_TYPE__IND_URL:
		return "url:value";
	case ART17__INDICATOR_TYPE__IND_EMAIL:
		return "email-addr:value";
	case ART17__INDICATOR_TYPE__IND_SHA256:
		return "file:hashes.'SHA-256'";
	case ART17__INDICATOR_TYPE__IND_SHA1:
		return "file:hashes.'SHA-1'";
	case ART17__INDICATOR_TYPE__IND_MD5:
		return "file:hashes.MD5";
	default:
		return NULL;
	}
}

/* The STIX pattern for an indicator: value quoted, ' and \ escaped. */
static char *
stix_pattern(const char *path, const char *v)
{
	char *q, *out;
	size_t i, o = 0, n = strlen(v);

	if ((q = malloc(2 * n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (v[i] == '\'' || v[i] == '\\')
			q[o++] = '\\';
		q[o++] = v[i];
	}
	q[o] = '\0';
	out = strf("[%s = '%s']", path, q);
	free(q);
	return out;
}

/* CVE-YYYY-NNNN as the CVE list writes them (no leading zero past 4). */
static bool
cve_canonical(const char *v)
{
	size_t n = strlen(v);

	if (n < 13 || strncmp(v, "CVE-", 4) != 0 || v[8] != '-')
		return false;
	for (size_t i = 4; i < n; i++)
		if (i != 8 && (v[i] < '0' || v[i] > '9'))
			return false;
	return n == 13 || v[9] != '0';
}

static void
stix_marking(struct stix *s)
{
	int i = tlp_index(s->in->tlp);

	add(s, s->objects,
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:{s:s, s:s}}}", "type",
	              "marking-definition", "spec_version", "2.1", "id",
	              tlps[i].id, "created", EXP_TLP_CREATED, "name",
	              tlps[i].name, "extensions", EXP_TLP_EXT, "extension_type",
	              "property-extension", "tlp_2_0", tlps[i].word));
}

static void
stix_identities(struct stix *s)
{
	const struct agg *a = s->a;
	json_t *o;

	o = sdo(s, "identity", s->council);
	put(s, o, "name", json_string(EXP_COUNCIL_NAME));
	put(s, o, "identity_class", json_string("organization"));
	put(s, o, "description",
	    json_string("The secretariat that issued the request and "
	                "collected the members' feedback."));
	add(s, s->objects, o);
	for (size_t i = 0; i < a->nfb; i++) {
		if (!a->latest[i])
			continue;
		if (stix_id(s, "identity", s->member_ids[i]) != 0)
			return;
		o = sdo(s, "identity", s->member_ids[i]);
		put(s, o, "name", jstr(a->fb[i]->member_id));
		put(s, o, "identity_class", json_string("organization"));
		put(s, o, "roles", json_pack("[s]", "council member"));
		add(s, s->objects, o);
	}
}

/* The identity id of the member behind entry e (a latest entry). */
static const char *
member_id_of(const struct stix *s, const Art17__FeedbackEntry *e)
{
	for (size_t i = 0; i < s->a->nfb; i++)
		if (s->a->fb[i] == e)
			return s->member_ids[i];
	return "";
}

/* Indicators and vulnerabilities, then sightings; refs collects ids. */
static void
stix_indicators(struct stix *s, struct ind *ind, json_t *refs)
{
	const struct agg *a = s->a;
	const char *rid = nz(s->in->request->request_id);
	json_t *o;
	char sid[EXP_ID_LEN];

	for (size_t i = 0; i < a->nind && !s->failed; i++) {
		struct ind *d = &ind[i];
		const struct report *r0 = &a->r[d->first];
		int64_t from = 0;
		bool cve = r0->type == ART17__INDICATOR_TYPE__IND_CVE;
		const char *path = stix_path(r0->type);
		char vf[32];

		if (!cve && path == NULL) {
			/* a type STIX cannot express: left out, and said so */
			d->id[0] = '\0';
			s->left_out++;
			continue;
		}

		for (size_t k = 0; k < d->n; k++) {
			int64_t fs =
			    a->r[d->first + k].e->feedback->first_seen_ms;

			if (fs > 0 && (from == 0 || fs < from))
				from = fs;
		}
		if (from <= 0)
			from = s->in->request->issued_ms > 0
			           ? s->in->request->issued_ms
			           : s->in->now_ms;
		iso(from, vf);
		if (stix_id(s, cve ? "vulnerability" : "indicator", d->id) != 0)
			return;
		o = sdo(s, cve ? "vulnerability" : "indicator", d->id);
		if (cve) {
			put(s, o, "name", jstr(r0->value));
			if (cve_canonical(r0->value))
				put(s, o, "external_references",
				    json_pack("[{s:s, s:s}]", "source_name",
				              "cve", "external_id", r0->value));
		} else {
			put(s, o, "name",
			    jown(strf("%s %s", ind_word(r0->type), r0->value)));
			put(s, o, "indicator_types",
			    json_pack("[s]", "unknown"));
			put(s, o, "pattern",
			    jown(stix_pattern(path, r0->value)));
			put(s, o, "pattern_type", json_string("stix"));
			put(s, o, "pattern_version", json_string("2.1"));
			put(s, o, "valid_from", json_string(vf));
		}
		put(s, o, "description",
		    jown(strf("Reported by %zu member%s in feedback on "
		              "request %s.",
		              d->n, d->n == 1 ? "" : "s", rid)));
		add(s, s->objects, o);
		add(s, refs, json_string(d->id));
	}
	for (size_t i = 0; i < a->nind && !s->failed; i++) {
		if (ind[i].id[0] == '\0')
			continue;
		for (size_t k = 0; k < ind[i].n; k++) {
			const struct report *r = &a->r[ind[i].first + k];
			const Art17__Feedback *f = r->e->feedback;
			char t[32];

			if (stix_id(s, "sighting", sid) != 0)
				return;
			o = sdo(s, "sighting", sid);
			put(s, o, "sighting_of_ref", json_string(ind[i].id));
			put(s, o, "where_sighted_refs",
			    json_pack("[s]", member_id_of(s, r->e)));
			if (f->count > 0)
				put(s, o, "count",
				    json_integer(
				        (json_int_t)(f->count > EXP_COUNT_MAX
				                         ? EXP_COUNT_MAX
				                         : f->count)));
			iso(f->first_seen_ms, t);
			if (t[0])
				put(s, o, "first_seen", json_string(t));
			iso(f->last_seen_ms, t);
			if (t[0])
				put(s, o, "last_seen", json_string(t));
			put(s, o, "description",
			    jown(strf("%s, feedback version %u on request %s",
			              r->e->member_id, f->version, rid)));
			add(s, s->objects, o);
			add(s, refs, json_string(sid));
		}
	}
}

static char *
opinion_text(const Art17__FeedbackEntry *e)
{
	const Art17__Feedback *f = e->feedback;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (m == NULL)
		return NULL;
	fprintf(m, "%s: %s (feedback version %u%s)", e->member_id,
	        status_word(f->status), f->version,
	        f->voluntary ? ", voluntary" : "");
	if (f->decline_reason && f->decline_reason[0])
		fprintf(m, "\nDeclined: %s", f->decline_reason);
	if (f->impact && f->impact[0])
		fprintf(m, "\nImpact: %s", f->impact);
	if (f->text && f->text[0])
		fprintf(m, "\nText: %s", f->text);
	fprintf(m, "\nSecrecy wish: %s; sharing wish: %s; contact: %s",
	        f->secrecy_wish == ART17__SECRET__SECRET_YES ? "yes" : "no",
	        scope_word(f->sharing_wish), nz(f->contact));
	if (fclose(m) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void
stix_opinions(struct stix *s, const struct ind *ind, json_t *refs)
{
	const struct agg *a = s->a;
	char oid[EXP_ID_LEN];

	for (size_t i = 0; i < a->nfb && !s->failed; i++) {
		const Art17__FeedbackEntry *e = a->fb[i];
		json_t *o, *about;

		if (!a->latest[i])
			continue;
		if (stix_id(s, "opinion", oid) != 0)
			return;
		o = sdo(s, "opinion", oid);
		put(s, o, "opinion",
		    json_string(opinion_word(e->feedback->status)));
		put(s, o, "explanation", jown(opinion_text(e)));
		put(s, o, "authors", json_pack("[o]", jstr(e->member_id)));
		about = json_pack("[s]", s->note);
		for (size_t k = 0; k < a->nind; k++)
			for (size_t x = 0; x < ind[k].n; x++)
				if (a->r[ind[k].first + x].e == e &&
				    ind[k].id[0] != '\0')
					add(s, about, json_string(ind[k].id));
		put(s, o, "object_refs", about);
		add(s, s->objects, o);
		add(s, refs, json_string(oid));
	}
}

static void
stix_note(struct stix *s, json_t *refs)
{
	const Art17__RequestRecord *r = s->in->request;
	const struct agg *a = s->a;
	char *buf = NULL;
	size_t len = 0, shared = 0;
	FILE *m;
	json_t *o;

	if (json_array_size(refs) == 0)
		add(s, refs, json_string(s->council));
	if ((m = open_memstream(&buf, &len)) == NULL) {
		s->failed = true;
		return;
	}
	if (r->exercise)
		fputs("EXERCISE. This request belongs to a drill, not to a "
		      "real incident.\n",
		      m);
	fprintf(m, "Request %s (%s): %s\n", nz(r->request_id),
	        kind_word(r->kind), nz(r->title));
	if (r->incident_id && r->incident_id[0])
		fprintf(m, "Incident: %s\n", r->incident_id);
	fprintf(m, "Marking: %s\n", export_tlp_name(s->in->tlp));
	fprintf(m, "Feedback: %zu version%s from %zu member%s; %zu affected\n",
	        a->nfb, a->nfb == 1 ? "" : "s", a->members,
	        a->members == 1 ? "" : "s", a->affected);
	fputs("Indicators reported by two or more members:", m);
	for (size_t i = 0; i < a->nind; i++) {
		const struct report *r0 = &a->r[a->ind[i].first];

		if (a->ind[i].n < 2)
			continue;
		fprintf(m, "%s %s:%s (%zu members)", shared++ ? "," : "",
		        ind_word(r0->type), r0->value, a->ind[i].n);
	}
	fprintf(m, "%s\n", shared ? "" : " none");
	if (s->left_out)
		fprintf(m,
		        "%zu indicator%s of a type STIX cannot express left "
		        "out (see the JSON or CSV export)\n",
		        s->left_out, s->left_out == 1 ? "" : "s");
	if (a->secret_wish) {
		size_t k = 0;

		fputs("Members whose latest feedback asks for secrecy:", m);
		for (size_t i = 0; i < a->nfb; i++)
			if (a->latest[i] && a->fb[i]->feedback->secrecy_wish ==
			                        ART17__SECRET__SECRET_YES)
				fprintf(m, "%s %s", k++ ? "," : "",
				        a->fb[i]->member_id);
		fprintf(m, "%s\n", k ? "" : " none (earlier versions did)");
	}
	if (fclose(m) != 0) {
		free(buf);
		s->failed = true;
		return;
	}
	o = sdo(s, "note", s->note);
	put(s, o, "abstract",
	    jown(strf("%sFeedback on request %s: %zu member%s replied, %zu "
	              "affected",
	              r->exercise ? "EXERCISE: " : "", nz(r->request_id),
	              a->members, a->members == 1 ? "" : "s", a->affected)));
	put(s, o, "content", jown(buf));
	put(s, o, "authors", json_pack("[s]", EXP_COUNCIL_NAME));
	put(s, o, "external_references",
	    json_pack("[{s:s, s:o, s:o}]", "source_name", "art17",
	              "external_id", jstr(r->request_id), "description",
	              jstr(r->title)));
	put(s, o, "object_refs", json_incref(refs));
	add(s, s->objects, o);
}

static char *
render_stix(const struct export_input *in, const struct agg *a)
{
	struct stix s;
	struct ind *ind = NULL;
	json_t *refs = json_array(), *bundle;
	char bid[EXP_ID_LEN];
	char *out = NULL;

	memset(&s, 0, sizeof(s));
	s.in = in;
	s.a = a;
	s.tlp_id = tlps[tlp_index(in->tlp)].id;
	iso(in->now_ms, s.now);
	s.objects = json_array();
	s.member_ids = calloc(a->nfb + 1, sizeof(*s.member_ids));
	ind = calloc(a->nind + 1, sizeof(*ind));
	if (s.objects == NULL || s.member_ids == NULL || ind == NULL ||
	    refs == NULL || s.now[0] == '\0')
		goto out;
	memcpy(ind, a->ind, a->nind * sizeof(*ind));
	if (stix_id(&s, "bundle", bid) != 0 ||
	    stix_id(&s, "identity", s.council) != 0 ||
	    stix_id(&s, "note", s.note) != 0)
		goto out;
	stix_marking(&s);
	stix_identities(&s);
	stix_indicators(&s, ind, refs);
	stix_opinions(&s, ind, refs);
	stix_note(&s, refs);
	if (s.failed)
		goto out;
	bundle = json_pack("{s:s, s:s, s:O}", "type", "bundle", "id", bid,
	                   "objects", s.objects);
	out = jdump(bundle);
out:
	json_decref(refs);
	json_decref(s.objects);
	free(s.member_ids);
	free(ind);
	return out;
}

/* ------------------------------------------------------------ entry */

int
export_render(const struct export_input *in, enum export_format fmt, char **out,
              size_t *outlen, char *err, size_t errlen)
{
	struct agg a;
	char *s = NULL;
	int rv;

	*out = NULL;
	*outlen = 0;
	if (in->request == NULL || tlp_index(in->tlp) < 0) {
		snprintf(err, errlen, "no request record or no TLP to export");
		return A17_EINVAL;
	}
	if ((rv = agg_build(in, &a)) != 0) {
		snprintf(err, errlen, "out of memory");
		return rv;
	}
	switch (fmt) {
	case EXPORT_JSON:
		s = render_json(in, &a);
		break;
	case EXPORT_CSV:
		s = render_csv(in, &a);
		break;
	case EXPORT_STIX:
		s = render_stix(in, &a);
		break;
	default:
		agg_free(&a);
		snprintf(err, errlen, "unknown format");
		return A17_EINVAL;
	}
	agg_free(&a);
	if (s == NULL) {
		snprintf(err, errlen,
		         "cannot render the export (out of memory, or no "
		         "random bytes for STIX ids)");
		return A17_ENOMEM;
	}
	*out = s;
	*outlen = strlen(s);
	return 0;
}

int
export_write(const char *path, const char *buf, size_t len, char *err,
             size_t errlen)
{
	char *tmp = NULL;
	FILE *f;
	int fd, e;

	if (path == NULL || strcmp(path, "-") == 0) {
		if (fwrite(buf, 1, len, stdout) != len ||
		    (len > 0 && buf[len - 1] != '\n' &&
		     fputc('\n', stdout) == EOF) ||
		    fflush(stdout) != 0) {
			snprintf(err, errlen, "cannot write to stdout: %s",
			         strerror(errno));
			return A17_EIO;
		}
		return 0;
	}
	if ((tmp = strf("%s.XXXXXX", path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return A17_ENOMEM;
	}
	if ((fd = mkstemp(tmp)) < 0) { /* mode 0600 */
		e = errno;
		snprintf(err, errlen, "cannot create a file beside %s: %s",
		         path, strerror(e));
		free(tmp);
		return A17_EIO;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		e = errno;
		close(fd);
		goto fail;
	}
	if (fwrite(buf, 1, len, f) != len ||
	    (len > 0 && buf[len - 1] != '\n' && fputc('\n', f) == EOF) ||
	    fflush(f) != 0 || fsync(fileno(f)) != 0) {
		e = errno;
		fclose(f);
		goto fail;
	}
	if (fclose(f) != 0) {
		e = errno;
		goto fail;
	}
	if (rename(tmp, path) != 0) {
		e = errno;
		goto fail;
	}
	free(tmp);
	return 0;
fail:
	unlink(tmp);
	snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
	free(tmp);
	return A17_EIO;
}
