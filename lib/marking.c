/*
 * marking.c: the onward-sharing rule (RULES Q21). Pure functions only.
 */
#include <string.h>

#include "marking.h"

static const char *const cat_names[MK_NCATEGORY] = {
    [MK_NATIONAL_GOV] = "national-gov",
    [MK_LOCAL_GOV] = "local-gov",
    [MK_CRITICAL_INFRA] = "critical-infra",
    [MK_EDU_RESEARCH] = "edu-research",
    [MK_ASSOCIATION] = "association",
    [MK_CYBER_VENDOR] = "cyber-vendor",
    [MK_OTHER] = "other",
};

const char *
mk_category_name(mk_category c)
{
	return (c >= 0 && c < MK_NCATEGORY) ? cat_names[c] : NULL;
}

int
mk_category_parse(const char *s, mk_category *c)
{
	for (int i = 0; i < MK_NCATEGORY; i++)
		if (strcmp(s, cat_names[i]) == 0) {
			*c = (mk_category)i;
			return 0;
		}
	return -1;
}

const char *
mk_scope_name(Art17__Scope s)
{
	switch (s) {
	case ART17__SCOPE__SCOPE_TF1_ONLY:
		return "task-force type-1 group only";
	case ART17__SCOPE__SCOPE_TASKFORCE:
		return "task-force members";
	case ART17__SCOPE__SCOPE_MEMBERS:
		return "council members";
	case ART17__SCOPE__SCOPE_MEMBERS_CONSTITUENTS:
		return "members plus constituents of mutual-aid bodies";
	case ART17__SCOPE__SCOPE_PUBLIC:
		return "public";
	default:
		return "unspecified";
	}
}

mk_verdict
mk_reshare(const Art17__Marking *m, mk_category to)
{
	mk_verdict v = {0, NULL};

	if (m == NULL || m->secret == ART17__SECRET__SECRET_UNSPECIFIED ||
	    m->scope == ART17__SCOPE__SCOPE_UNSPECIFIED || to < 0 ||
	    to >= MK_NCATEGORY) {
		v.rule = "the item's marking is incomplete: nothing is passed "
		         "on without an explicit secret flag and sharing scope";
		return v;
	}
	if (m->secret == ART17__SECRET__SECRET_YES) {
		v.rule =
		    "secret items travel only through the council system to "
		    "registered staff (RULES Q8, Q19)";
		return v;
	}
	if (m->tlp == ART17__TLP__TLP_RED) {
		v.rule = "TLP:RED: for the eyes and ears of individual "
		         "recipients only, no further disclosure";
		return v;
	}
	if (m->tlp == ART17__TLP__TLP_AMBER_STRICT) {
		v.rule = "TLP:AMBER+STRICT: only within the recipient's own "
		         "organisation";
		return v;
	}
	if (m->scope == ART17__SCOPE__SCOPE_PUBLIC) {
		v.allowed = 1;
		v.rule = "the sharing scope is public";
		return v;
	}
	if (m->scope != ART17__SCOPE__SCOPE_MEMBERS_CONSTITUENTS) {
		v.rule = "RULES Q21: a mutual-aid body may pass an item to its "
		         "constituents only when the sharing scope includes "
		         "constituents; this item's scope does not";
		return v;
	}
	switch (to) {
	case MK_NATIONAL_GOV:
	case MK_LOCAL_GOV:
	case MK_CRITICAL_INFRA:
	case MK_EDU_RESEARCH:
	case MK_ASSOCIATION:
		v.allowed = 1;
		v.rule =
		    "RULES Q21: the scope includes constituents of "
		    "mutual-aid bodies, and national-government bodies, "
		    "local governments, critical-infrastructure operators, "
		    "universities and research institutions, and "
		    "associations of these may receive it";
		return v;
	default:
		v.rule =
		    "RULES Q21: even when the scope includes constituents, "
		    "only national-government bodies, local governments, "
		    "critical-infrastructure operators, universities and "
		    "research institutions, or associations of these may "
		    "receive it";
		return v;
	}
}
