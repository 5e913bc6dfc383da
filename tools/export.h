/*
 * export.h: members' structured feedback on one request, exported as
 * JSON, CSV (RFC 4180) or a STIX 2.1 bundle (art17ctl feedback export).
 *
 * The caller fetches the request (request_status) and every version of
 * every member's feedback (feedback_list) from the broker; this module
 * only renders and writes. JSON and STIX are built with jansson.
 *
 * Markings travel with every export:
 *  - the TLP: the request's own (RequestRecord.marking) unless a stricter
 *    one is asked for; an export never lowers it (export_tlp_resolve);
 *  - EXERCISE, when the request belongs to a drill: JSON "exercise": true
 *    and "marking": "EXERCISE"; CSV a first column "exercise" that says
 *    EXERCISE on every row; STIX "labels": ["EXERCISE"] on every SDO and
 *    SRO and a Note that says so.
 */
#ifndef A17_EXPORT_H
#define A17_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "art17.pb-c.h"

enum export_format {
	EXPORT_JSON = 1,
	EXPORT_CSV = 2,
	EXPORT_STIX = 3,
};

/* "json", "csv", "stix" -> the format; -1 when unknown. */
int export_format_parse(const char *s, enum export_format *f);

/*
 * The TLP an export carries. have: the request's TLP (TLP_UNSPECIFIED
 * when its record has none); want: the one asked for (TLP_UNSPECIFIED
 * when none was). Without either the default is TLP:AMBER. 0 and *out
 * set, or A17_EDENIED when want is less strict than have.
 */
int export_tlp_resolve(Art17__Tlp have, Art17__Tlp want, Art17__Tlp *out);

/* "TLP:AMBER+STRICT", ...; NULL for TLP_UNSPECIFIED. */
const char *export_tlp_name(Art17__Tlp t);

struct export_input {
	const Art17__RequestRecord *request;
	Art17__FeedbackEntry *const *feedback; /* sorted by member, version */
	size_t n_feedback;
	Art17__Tlp tlp; /* from export_tlp_resolve */
	int64_t now_ms; /* the export's time: created/modified in STIX */
};

/*
 * Renders in as fmt into a malloc'd, NUL-terminated buffer (*out, *outlen
 * without the NUL). 0, or an A17_E* code with err filled in.
 */
int export_render(const struct export_input *in, enum export_format fmt,
                  char **out, size_t *outlen, char *err, size_t errlen);

/*
 * Writes buf to path, or to stdout when path is NULL or "-". A file is
 * written beside path under a temporary name with mode 0600 and renamed
 * into place, so it is never seen half-written. 0, or an A17_E* code with
 * err filled in.
 */
int export_write(const char *path, const char *buf, size_t len, char *err,
                 size_t errlen);

#endif
