/*
 * feedback.c: structured feedback validation. Pure functions: no I/O.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "feedback.h"

#define MAX_INDICATORS 1000
#define MAX_TEXT       (64 * 1024)
#define MAX_VALUE      2048

static const struct {
	Art17__IndicatorType t;
	const char *name;
} ind_names[] = {
    {ART17__INDICATOR_TYPE__IND_IPV4, "ipv4"},
    {ART17__INDICATOR_TYPE__IND_IPV6, "ipv6"},
    {ART17__INDICATOR_TYPE__IND_DOMAIN, "domain"},
    {ART17__INDICATOR_TYPE__IND_URL, "url"},
    {ART17__INDICATOR_TYPE__IND_SHA256, "sha256"},
    {ART17__INDICATOR_TYPE__IND_EMAIL, "email"},
    {ART17__INDICATOR_TYPE__IND_CVE, "cve"},
    {ART17__INDICATOR_TYPE__IND_MD5, "md5"},
    {ART17__INDICATOR_TYPE__IND_SHA1, "sha1"},
};

static const struct {
	Art17__FeedbackStatus s;
	const char *name;
} st_names[] = {
    {ART17__FEEDBACK_STATUS__FB_NOT_AFFECTED, "not-affected"},
    {ART17__FEEDBACK_STATUS__FB_INVESTIGATING, "investigating"},
    {ART17__FEEDBACK_STATUS__FB_AFFECTED, "affected"},
    {ART17__FEEDBACK_STATUS__FB_MITIGATED, "mitigated"},
    {ART17__FEEDBACK_STATUS__FB_DECLINED, "declined"},
};

const char *
fb_indicator_name(Art17__IndicatorType type)
{
	for (size_t i = 0; i < sizeof(ind_names) / sizeof(ind_names[0]); i++)
		if (ind_names[i].t == type)
			return ind_names[i].name;
	return NULL;
}

int
fb_indicator_parse(const char *name, Art17__IndicatorType *type)
{
	for (size_t i = 0; i < sizeof(ind_names) / sizeof(ind_names[0]); i++)
		if (strcmp(ind_names[i].name, name) == 0) {
			*type = ind_names[i].t;
			return 0;
		}
	return -1;
}

const char *
fb_status_name(Art17__FeedbackStatus s)
{
	for (size_t i = 0; i < sizeof(st_names) / sizeof(st_names[0]); i++)
		if (st_names[i].s == s)
			return st_names[i].name;
	return NULL;
}

int
fb_status_parse(const char *name, Art17__FeedbackStatus *s)
{
	for (size_t i = 0; i < sizeof(st_names) / sizeof(st_names[0]); i++)
		if (strcmp(st_names[i].name, name) == 0) {
			*s = st_names[i].s;
			return 0;
		}
	return -1;
}

static int
all_hex(const char *v, size_t n)
{
	if (strlen(v) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)v[i]))
			return 0;
	return 1;
}

/* RFC 1035-ish: labels of 1-63 of [A-Za-z0-9-], not starting or ending
 * with '-', at least two labels, total <= 253, last label not numeric. */
static int
domain_ok(const char *v)
{
	size_t n = strlen(v), lab = 0, labels = 0;
	int alpha_last = 0;

	if (n == 0 || n > 253 || v[0] == '.' || v[n - 1] == '.')
		return 0;
	for (size_t i = 0; i <= n; i++) {
		char c = v[i];

		if (c == '.' || c == '\0') {
			if (lab == 0 || v[i - 1] == '-')
				return 0;
			labels++;
			lab = 0;
			continue;
		}
		if (!(isalnum((unsigned char)c) || c == '-'))
			return 0;
		if (lab == 0) {
			if (c == '-')
				return 0;
			alpha_last = 0;
		}
		if (isalpha((unsigned char)c))
			alpha_last = 1;
		if (++lab > 63)
			return 0;
	}
	return labels >= 2 && alpha_last;
}

int
fb_indicator_valid(Art17__IndicatorType type, const char *v)
{
	unsigned char buf[16];
	const char *p;

	if (v == NULL || v[0] == '\0' || strlen(v) > MAX_VALUE)
		return -1;
	for (p = v; *p; p++)
		if ((unsigned char)*p < 0x21 || *p == 0x7f)
			return -1; /* no spaces or control characters */
	switch (type) {
	case ART17__INDICATOR_TYPE__IND_IPV4:
		return inet_pton(AF_INET, v, buf) == 1 ? 0 : -1;
	case ART17__INDICATOR_TYPE__IND_IPV6:
		return inet_pton(AF_INET6, v, buf) == 1 ? 0 : -1;
	case ART17__INDICATOR_TYPE__IND_DOMAIN:
		return domain_ok(v) ? 0 : -1;
	case ART17__INDICATOR_TYPE__IND_URL: {
		const char *host;
		char h[256];
		size_t hl;

		if (strncmp(v, "http://", 7) == 0)
			host = v + 7;
		else if (strncmp(v, "https://", 8) == 0)
			host = v + 8;
		else
			return -1;
		hl = strcspn(host, ":/?#");
		if (hl == 0 || hl >= sizeof(h))
			return -1;
		memcpy(h, host, hl);
		h[hl] = '\0';
		return (domain_ok(h) || inet_pton(AF_INET, h, buf) == 1) ? 0
		                                                         : -1;
	}
	case ART17__INDICATOR_TYPE__IND_SHA256:
		return all_hex(v, 64) ? 0 : -1;
	case ART17__INDICATOR_TYPE__IND_SHA1:
		return all_hex(v, 40) ? 0 : -1;
	case ART17__INDICATOR_TYPE__IND_MD5:
		return all_hex(v, 32) ? 0 : -1;
	case ART17__INDICATOR_TYPE__IND_EMAIL: {
		const char *at = strchr(v, '@');

		if (at == NULL || at == v || strchr(at + 1, '@') != NULL)
			return -1;
		return domain_ok(at + 1) ? 0 : -1;
	}
	case ART17__INDICATOR_TYPE__IND_CVE: {
		size_t n = strlen(v), i;

		/* CVE-YYYY-NNNN with four or more digits */
		if (n < 13 || strncmp(v, "CVE-", 4) != 0 || v[8] != '-')
			return -1;
		for (i = 4; i < 8; i++)
			if (!isdigit((unsigned char)v[i]))
				return -1;
		for (i = 9; i < n; i++)
			if (!isdigit((unsigned char)v[i]))
				return -1;
		return 0;
	}
	default:
		return -1;
	}
}

static int
fail(char *err, size_t errlen, const char *fmt, const char *a, size_t i)
{
	snprintf(err, errlen, fmt, a, i);
	return A17_EINVAL;
}

int
fb_validate(const Art17__Feedback *f, char *err, size_t errlen)
{
	if (f->request_id == NULL || f->request_id[0] == '\0')
		return fail(err, errlen, "request_id%s: required", "", 0);
	if (fb_status_name(f->status) == NULL)
		return fail(err, errlen,
		            "status%s: required: not-affected, investigating, "
		            "affected, mitigated or declined",
		            "", 0);
	if (f->status == ART17__FEEDBACK_STATUS__FB_DECLINED &&
	    (f->decline_reason == NULL || f->decline_reason[0] == '\0'))
		return fail(err, errlen,
		            "decline_reason%s: required when the status is "
		            "declined",
		            "", 0);
	if (f->n_indicators > MAX_INDICATORS)
		return fail(err, errlen, "indicators%s: more than %zu", "",
		            MAX_INDICATORS);
	for (size_t i = 0; i < f->n_indicators; i++) {
		const Art17__Indicator *in = f->indicators[i];
		const char *tn = fb_indicator_name(in->type);

		if (tn == NULL) {
			snprintf(err, errlen,
			         "indicators[%zu].type: unknown "
			         "type",
			         i);
			return A17_EINVAL;
		}
		if (fb_indicator_valid(in->type, in->value) != 0) {
			snprintf(err, errlen,
			         "indicators[%zu].value: not a valid %s", i,
			         tn);
			return A17_EINVAL;
		}
	}
	if (f->first_seen_ms < 0 || f->last_seen_ms < 0)
		return fail(err, errlen, "first_seen%s: before 1970", "", 0);
	if (f->first_seen_ms != 0 && f->last_seen_ms != 0 &&
	    f->last_seen_ms < f->first_seen_ms)
		return fail(err, errlen, "last_seen%s: earlier than first_seen",
		            "", 0);
	if ((f->impact && strlen(f->impact) > MAX_TEXT) ||
	    (f->text && strlen(f->text) > MAX_TEXT))
		return fail(err, errlen, "text%s: longer than %zu bytes", "",
		            MAX_TEXT);
	if (f->contact == NULL || f->contact[0] == '\0')
		return fail(err, errlen,
		            "contact%s: required: a registered staff id", "",
		            0);
	if (f->secrecy_wish == ART17__SECRET__SECRET_UNSPECIFIED)
		return fail(err, errlen,
		            "secrecy_wish%s: required: say whether any of it "
		            "should be designated secret (yes or no)",
		            "", 0);
	if (f->sharing_wish == ART17__SCOPE__SCOPE_UNSPECIFIED)
		return fail(err, errlen,
		            "sharing_wish%s: required: the scope the provider "
		            "wishes",
		            "", 0);
	return 0;
}

int
consult_validate(const Art17__Consultation *c, char *err, size_t errlen)
{
	char miss[256] = "";

	if (c->text == NULL || c->text[0] == '\0') {
		snprintf(err, errlen, "text: the report itself is required");
		return A17_EINVAL;
	}
	if (strlen(c->text) > MAX_TEXT) {
		snprintf(err, errlen, "text: longer than %d bytes", MAX_TEXT);
		return A17_EINVAL;
	}
	if (c->secrecy_wish == ART17__SECRET__SECRET_UNSPECIFIED)
		strcat(miss, ", secrecy_wish (should any of it be secret?)");
	if (c->sharing_scope == ART17__SCOPE__SCOPE_UNSPECIFIED)
		strcat(miss, ", sharing_scope (how widely may it be shared?)");
	if (c->coordination == ART17__COORDINATION__COORD_UNSPECIFIED)
		strcat(miss, ", coordination (is coordination beyond the "
		             "secretariat wanted?)");
	if (miss[0] != '\0') {
		snprintf(err, errlen,
		         "missing confirmation%s: %s (RULES Q22: all three are "
		         "confirmed before a report is taken)",
		         strchr(miss + 2, ',') ? "s" : "", miss + 2);
		return A17_EINVAL;
	}
	return 0;
}
