/*
 * marking.h: the onward-sharing rule (RULES Q21) as a pure function.
 *
 * A member that is a mutual-aid body (ISAC, CEPTOAR) may pass an item on
 * to its own constituents only when the item's sharing scope says so
 * ("members and constituents of mutual-aid bodies", or public), and then
 * only to constituents that are national-government bodies, local
 * governments, critical-infrastructure operators, universities and
 * research institutions, or associations of these. Secret items and
 * TLP:RED / TLP:AMBER+STRICT items never leave the member this way.
 */
#ifndef A17_MARKING_H
#define A17_MARKING_H

#include "art17.pb-c.h"

/* The kinds of constituent an item could be passed on to. */
typedef enum mk_category {
	MK_NATIONAL_GOV = 0,
	MK_LOCAL_GOV,
	MK_CRITICAL_INFRA,
	MK_EDU_RESEARCH,
	MK_ASSOCIATION, /* an association of the four above */
	MK_CYBER_VENDOR,
	MK_OTHER,
	MK_NCATEGORY
} mk_category;

typedef struct mk_verdict {
	int allowed;
	const char *rule; /* the rule that decided, in words, citing Q21 */
} mk_verdict;

mk_verdict mk_reshare(const Art17__Marking *m, mk_category to);

/* "national-gov", ... and back (-1 when unknown). */
const char *mk_category_name(mk_category c);
int mk_category_parse(const char *s, mk_category *c);
const char *mk_scope_name(Art17__Scope s);

#endif
