/*
 * feedback.h: validation of structured feedback, as a pure function.
 *
 * The agent checks before it sends and the broker checks again before it
 * stores. An error names the field ("indicators[2].value: ...").
 */
#ifndef A17_FEEDBACK_H
#define A17_FEEDBACK_H

#include <stddef.h>

#include "art17.pb-c.h"

/* 0 when f is well-formed; else A17_EINVAL and err names the field. */
int fb_validate(const Art17__Feedback *f, char *err, size_t errlen);

/* Checks one indicator value for its type; 0 when valid. */
int fb_indicator_valid(Art17__IndicatorType type, const char *value);

/* "ipv4", "sha256", ... and back; -1/NULL when unknown. */
const char *fb_indicator_name(Art17__IndicatorType type);
int fb_indicator_parse(const char *name, Art17__IndicatorType *type);

const char *fb_status_name(Art17__FeedbackStatus s);
int fb_status_parse(const char *name, Art17__FeedbackStatus *s);

/*
 * A report or consultation (RULES Q22) must carry three confirmations:
 * the provider's secrecy wish, the sharing scope, and whether
 * coordination beyond the secretariat is wanted. 0 when complete; else
 * A17_EINVAL and err names every one that is missing.
 */
int consult_validate(const Art17__Consultation *c, char *err, size_t errlen);

#endif
