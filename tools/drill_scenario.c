/*
 * drill_scenario.c: reads a drill scenario (JSON, through jansson) into
 * a drill_scenario. Every error names the line (syntax) or the field
 * (meaning), e.g. "steps[3].op: unknown step 'fly'". See docs/drill.md.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "art17.pb-c.h"
#include "drill.h"

const char *const drill_fb_names[DRILL_FB_STATUSES] = {
    "not-affected", "investigating", "affected", "mitigated", "declined"};

static const struct {
	const char *name;
	int cat;
} cats[] = {
    {"national-gov", ART17__CATEGORY__CAT_NATIONAL_GOV},
    {"local-gov", ART17__CATEGORY__CAT_LOCAL_GOV},
    {"critical-infra", ART17__CATEGORY__CAT_CRITICAL_INFRA},
    {"edu-research", ART17__CATEGORY__CAT_EDU_RESEARCH},
    {"cyber-vendor", ART17__CATEGORY__CAT_CYBER_VENDOR},
    {"other", ART17__CATEGORY__CAT_OTHER},
};

static const struct {
	const char *name;
	drill_op op;
} ops[] = {
    {"declare", OP_DECLARE},
    {"flag", OP_FLAG},
    {"unflag", OP_UNFLAG},
    {"consent", OP_CONSENT},
    {"issue", OP_ISSUE},
    {"wait", OP_WAIT},
    {"online", OP_ONLINE},
    {"offline", OP_OFFLINE},
    {"kill_broker", OP_KILL_BROKER},
    {"restart_broker", OP_RESTART_BROKER},
    {"end", OP_END},
};

static const struct {
	const char *name;
	int tlp;
} tlps[] = {
    {"clear", ART17__TLP__TLP_CLEAR},
    {"green", ART17__TLP__TLP_GREEN},
    {"amber", ART17__TLP__TLP_AMBER},
    {"amber+strict", ART17__TLP__TLP_AMBER_STRICT},
    {"red", ART17__TLP__TLP_RED},
};

const char *
drill_op_name(drill_op op)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i].op == op)
			return ops[i].name;
	return "?";
}

const char *
drill_category_name(int cat)
{
	for (size_t i = 0; i < sizeof(cats) / sizeof(cats[0]); i++)
		if (cats[i].cat == cat)
			return cats[i].name;
	return "other";
}

int
drill_category_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(cats) / sizeof(cats[0]); i++)
		if (strcmp(cats[i].name, s) == 0)
			return cats[i].cat;
	return -1;
}

double
drill_dist_sample(const drill_dist *d, double r)
{
	double v, cap;

	switch (d->kind) {
	case DIST_UNIFORM:
		return d->a + (d->b - d->a) * r;
	case DIST_EXP:
		cap = d->b > 0 ? d->b : 10 * d->a;
		v = -d->a * log(1.0 - r);
		return v > cap ? cap : v;
	default:
		return d->a;
	}
}

/* ------------------------------------------------------------ errors */

struct pctx {
	char *err;
	size_t errlen;
	int failed;
};

static int fail(struct pctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct pctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	c->failed = 1;
	return -1;
}

/* Refuses keys of o that are not in allowed (a NULL-terminated list). */
static int
known_keys(struct pctx *c, const char *where, json_t *o,
           const char *const *allowed)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v)
	{
		size_t i;

		(void)v;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], k) == 0)
				break;
		if (allowed[i] == NULL)
			return fail(c, "%s.%s: unknown field", where, k);
	}
	return 0;
}

static int
get_str(struct pctx *c, const char *where, json_t *o, const char *key,
        char *out, size_t len, int required)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return required ? fail(c, "%s.%s: required", where, key) : 0;
	if (!json_is_string(v))
		return fail(c, "%s.%s: must be a string", where, key);
	if (json_string_length(v) >= len)
		return fail(c, "%s.%s: longer than %zu characters", where, key,
		            len - 1);
	snprintf(out, len, "%s", json_string_value(v));
	return 0;
}

static int
get_num(struct pctx *c, const char *where, json_t *o, const char *key,
        double *out, double lo, double hi)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_number(v))
		return fail(c, "%s.%s: must be a number", where, key);
	*out = json_number_value(v);
	if (!(*out >= lo && *out <= hi))
		return fail(c, "%s.%s: %g is out of range [%g, %g]", where, key,
		            *out, lo, hi);
	return 0;
}

static int
get_bool(struct pctx *c, const char *where, json_t *o, const char *key,
         int *out)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return fail(c, "%s.%s: must be true or false", where, key);
	*out = json_is_true(v);
	return 0;
}

/* A number (fixed) or {"dist": "fixed|uniform|exp", ...}, in ms. */
static int
get_dist(struct pctx *c, const char *where, json_t *o, const char *key,
         drill_dist *d)
{
	static const char *const keys[] = {"dist", "ms",   "min",
	                                   "max",  "mean", NULL};
	json_t *v = json_object_get(o, key);
	char w[96], kind[16] = "fixed";

	if (v == NULL)
		return 0;
	snprintf(w, sizeof(w), "%s.%s", where, key);
	memset(d, 0, sizeof(*d));
	if (json_is_number(v)) {
		d->a = json_number_value(v);
		if (d->a < 0 || d->a > 3600000)
			return fail(c, "%s: out of range [0, 3600000]", w);
		return 0;
	}
	if (!json_is_object(v))
		return fail(
		    c,
		    "%s: a number of ms, or {\"dist\": \"uniform\", "
		    "\"min\": ..., \"max\": ...} or {\"dist\": \"exp\", "
		    "\"mean\": ...}",
		    w);
	if (known_keys(c, w, v, keys) != 0 ||
	    get_str(c, w, v, "dist", kind, sizeof(kind), 0) != 0)
		return -1;
	if (strcmp(kind, "fixed") == 0) {
		d->kind = DIST_FIXED;
		if (json_object_get(v, "ms") == NULL)
			return fail(c, "%s.ms: required for dist fixed", w);
		return get_num(c, w, v, "ms", &d->a, 0, 3600000);
	}
	if (strcmp(kind, "uniform") == 0) {
		d->kind = DIST_UNIFORM;
		if (json_object_get(v, "min") == NULL ||
		    json_object_get(v, "max") == NULL)
			return fail(c, "%s: min and max are required", w);
		if (get_num(c, w, v, "min", &d->a, 0, 3600000) != 0 ||
		    get_num(c, w, v, "max", &d->b, 0, 3600000) != 0)
			return -1;
		if (d->b < d->a)
			return fail(c, "%s.max: smaller than min", w);
		return 0;
	}
	if (strcmp(kind, "exp") == 0) {
		d->kind = DIST_EXP;
		if (json_object_get(v, "mean") == NULL)
			return fail(c, "%s.mean: required for dist exp", w);
		return get_num(c, w, v, "mean", &d->a, 0, 3600000) != 0 ||
		               get_num(c, w, v, "max", &d->b, 0, 3600000) != 0
		           ? -1
		           : 0;
	}
	return fail(c, "%s.dist: '%s' is not fixed, uniform or exp", w, kind);
}

/* ------------------------------------------------------------ groups */

static int
parse_group(struct pctx *c, int i, json_t *o, drill_group *g)
{
	static const char *const keys[] = {
	    "name",    "share", "category", "ack_ms",   "feedback", "consent",
	    "offline", "flap",  "crash",    "impostor", NULL};
	static const char *const fbkeys[] = {"share", "delay_ms", "mix",
	                                     "on_shares", NULL};
	char w[64], cat[32] = "other";
	json_t *fb, *v;

	snprintf(w, sizeof(w), "groups[%d]", i);
	if (!json_is_object(o))
		return fail(c, "%s: must be an object", w);
	memset(g, 0, sizeof(*g));
	g->fb_mix[0] = 1; /* not-affected unless a mix says otherwise */
	if (known_keys(c, w, o, keys) != 0 ||
	    get_str(c, w, o, "name", g->name, sizeof(g->name), 1) != 0 ||
	    get_num(c, w, o, "share", &g->share, 0, 1) != 0 ||
	    get_str(c, w, o, "category", cat, sizeof(cat), 0) != 0 ||
	    get_dist(c, w, o, "ack_ms", &g->ack) != 0 ||
	    get_num(c, w, o, "consent", &g->consent, 0, 1) != 0 ||
	    get_bool(c, w, o, "offline", &g->offline) != 0 ||
	    get_bool(c, w, o, "impostor", &g->impostor) != 0)
		return -1;
	if (json_object_get(o, "share") == NULL)
		return fail(c, "%s.share: required (0 to 1)", w);
	if ((g->category = drill_category_parse(cat)) < 0)
		return fail(
		    c,
		    "%s.category: '%s' is not national-gov, local-gov, "
		    "critical-infra, edu-research, cyber-vendor or other",
		    w, cat);
	if ((fb = json_object_get(o, "feedback")) != NULL) {
		char fw[96];

		snprintf(fw, sizeof(fw), "%s.feedback", w);
		if (!json_is_object(fb))
			return fail(c, "%s: must be an object", fw);
		g->fb_share = 1;
		if (known_keys(c, fw, fb, fbkeys) != 0 ||
		    get_num(c, fw, fb, "share", &g->fb_share, 0, 1) != 0 ||
		    get_dist(c, fw, fb, "delay_ms", &g->fb_delay) != 0 ||
		    get_bool(c, fw, fb, "on_shares", &g->fb_shares) != 0)
			return -1;
		if ((v = json_object_get(fb, "mix")) != NULL) {
			const char *k;
			json_t *x;
			double sum = 0;

			if (!json_is_object(v))
				return fail(
				    c, "%s.mix: an object of status: weight",
				    fw);
			memset(g->fb_mix, 0, sizeof(g->fb_mix));
			json_object_foreach(v, k, x)
			{
				int s;

				for (s = 0; s < DRILL_FB_STATUSES; s++)
					if (strcmp(drill_fb_names[s], k) == 0)
						break;
				if (s == DRILL_FB_STATUSES)
					return fail(c,
					            "%s.mix.%s: not a feedback "
					            "status (not-affected, "
					            "investigating, affected, "
					            "mitigated, declined)",
					            fw, k);
				/*
				 * bounded: weights near DBL_MAX added up to
				 * infinity, and every agent drew "declined"
				 */
				if (!json_is_number(x) ||
				    json_number_value(x) < 0 ||
				    json_number_value(x) > DRILL_MAX_WEIGHT)
					return fail(c,
					            "%s.mix.%s: must be a "
					            "number in [0, %d]",
					            fw, k, DRILL_MAX_WEIGHT);
				g->fb_mix[s] = json_number_value(x);
				sum += g->fb_mix[s];
			}
			if (sum <= 0)
				return fail(c, "%s.mix: all weights are zero",
				            fw);
		}
	}
	if ((v = json_object_get(o, "flap")) != NULL) {
		static const char *const k2[] = {"every_s", "down_ms", NULL};
		char fw[96];
		double d = 500;

		snprintf(fw, sizeof(fw), "%s.flap", w);
		if (!json_is_object(v))
			return fail(c, "%s: must be an object", fw);
		if (known_keys(c, fw, v, k2) != 0 ||
		    get_num(c, fw, v, "every_s", &g->flap_every_s, 0.5,
		            86400) != 0 ||
		    get_num(c, fw, v, "down_ms", &d, 0, 600000) != 0)
			return -1;
		if (g->flap_every_s == 0)
			return fail(c, "%s.every_s: required", fw);
		g->flap_down_ms = (uint32_t)d;
	}
	if ((v = json_object_get(o, "crash")) != NULL) {
		static const char *const k2[] = {"at_s", "down_s", NULL};
		char fw[96];

		snprintf(fw, sizeof(fw), "%s.crash", w);
		if (!json_is_object(v))
			return fail(c, "%s: must be an object", fw);
		g->crash_down_s = 5;
		if (known_keys(c, fw, v, k2) != 0 ||
		    get_num(c, fw, v, "at_s", &g->crash_at_s, 0.001, 86400) !=
		        0 ||
		    get_num(c, fw, v, "down_s", &g->crash_down_s, 0, 86400) !=
		        0)
			return -1;
		if (g->crash_at_s == 0)
			return fail(c, "%s.at_s: required", fw);
	}
	return 0;
}

/* ------------------------------------------------------------ steps */

static int
find_group(const drill_scenario *sc, const char *name)
{
	for (int i = 0; i < sc->n_groups; i++)
		if (strcmp(sc->groups[i].name, name) == 0)
			return i;
	return -1;
}

static int
parse_step(struct pctx *c, drill_scenario *sc, int i, json_t *o,
           char labels[][DRILL_NAME_LEN], int *n_labels)
{
	static const char *const keys[] = {
	    "op",         "incident", "incident_id", "label",   "group",
	    "title",      "content",  "reason",      "real",    "action",
	    "kind",       "expect",   "tlp",         "seconds", "expires_s",
	    "deadline_s", "until",    "timeout_s",   "quiet_s", "comment",
	    NULL};
	drill_step *s = &sc->steps[sc->n_steps];
	char w[64], op[32] = "", tmp[32];
	size_t k;

	snprintf(w, sizeof(w), "steps[%d]", i);
	if (!json_is_object(o))
		return fail(c, "%s: must be an object", w);
	memset(s, 0, sizeof(*s));
	s->line = i;
	if (known_keys(c, w, o, keys) != 0 ||
	    get_str(c, w, o, "op", op, sizeof(op), 1) != 0)
		return -1;
	for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
		if (strcmp(ops[k].name, op) == 0)
			break;
	if (k == sizeof(ops) / sizeof(ops[0]))
		return fail(
		    c,
		    "%s.op: unknown step '%s' (declare, flag, unflag, "
		    "consent, issue, wait, online, offline, kill_broker, "
		    "restart_broker, end)",
		    w, op);
	s->op = ops[k].op;
	if (get_str(c, w, o, "incident", s->incident, sizeof(s->incident), 0) !=
	        0 ||
	    get_str(c, w, o, "incident_id", s->raw_incident,
	            sizeof(s->raw_incident), 0) != 0 ||
	    get_str(c, w, o, "label", s->label, sizeof(s->label), 0) != 0 ||
	    get_str(c, w, o, "group", s->group, sizeof(s->group), 0) != 0 ||
	    get_str(c, w, o, "title", s->title, sizeof(s->title), 0) != 0 ||
	    get_str(c, w, o, "content", s->text, sizeof(s->text), 0) != 0 ||
	    get_str(c, w, o, "reason", s->text, sizeof(s->text), 0) != 0 ||
	    get_bool(c, w, o, "real", &s->real) != 0)
		return -1;
	if (s->group[0] != '\0' && find_group(sc, s->group) < 0)
		return fail(c, "%s.group: no group named '%s'", w, s->group);
	switch (s->op) {
	case OP_DECLARE:
		if (s->incident[0] == '\0')
			return fail(c, "%s.incident: required (a label)", w);
		for (int j = 0; j < *n_labels; j++)
			if (strcmp(labels[j], s->incident) == 0)
				return fail(c,
				            "%s.incident: '%s' is declared "
				            "already",
				            w, s->incident);
		if (*n_labels == DRILL_MAX_INCIDENTS)
			return fail(c, "%s: more than %d incidents", w,
			            DRILL_MAX_INCIDENTS);
		snprintf(labels[(*n_labels)++], DRILL_NAME_LEN, "%s",
		         s->incident);
		if (s->title[0] == '\0') {
			char t[sizeof(s->title)];

			snprintf(t, sizeof(t), "Drill incident %s",
			         s->incident);
			memcpy(s->title, t, sizeof(t));
		}
		break;
	case OP_FLAG:
	case OP_UNFLAG:
	case OP_ISSUE: {
		int found = 0;

		if (s->op == OP_ISSUE && s->raw_incident[0] != '\0') {
			if (s->incident[0] != '\0')
				return fail(c,
				            "%s: incident and incident_id "
				            "exclude each other",
				            w);
			found = 1;
		}
		for (int j = 0; j < *n_labels && !found; j++)
			found = strcmp(labels[j], s->incident) == 0;
		if (!found)
			return fail(c,
			            "%s.incident: '%s' is not declared by an "
			            "earlier step",
			            w, s->incident);
		break;
	}
	default:
		break;
	}
	if (s->op == OP_FLAG) {
		s->seconds = 6 * 3600;
		if (get_num(c, w, o, "expires_s", &s->seconds, 1,
		            366.0 * 86400) != 0)
			return -1;
		if (s->text[0] == '\0')
			snprintf(s->text, sizeof(s->text),
			         "EXERCISE: large-scale attack (drill)");
	}
	if (s->op == OP_UNFLAG && s->text[0] == '\0')
		snprintf(s->text, sizeof(s->text), "EXERCISE: drill step");
	if (s->op == OP_CONSENT) {
		snprintf(tmp, sizeof(tmp), "grant");
		if (get_str(c, w, o, "action", tmp, sizeof(tmp), 0) != 0)
			return -1;
		if (strcmp(tmp, "grant") != 0 && strcmp(tmp, "revoke") != 0)
			return fail(c, "%s.action: '%s' is not grant or revoke",
			            w, tmp);
		s->grant = strcmp(tmp, "grant") == 0;
	}
	if (s->op == OP_ISSUE) {
		snprintf(tmp, sizeof(tmp), "cooperation");
		if (get_str(c, w, o, "kind", tmp, sizeof(tmp), 0) != 0)
			return -1;
		if (strcmp(tmp, "cooperation") != 0 &&
		    strcmp(tmp, "share") != 0)
			return fail(c,
			            "%s.kind: '%s' is not cooperation or share",
			            w, tmp);
		s->cooperation = strcmp(tmp, "cooperation") == 0;
		snprintf(tmp, sizeof(tmp), "issued");
		if (get_str(c, w, o, "expect", tmp, sizeof(tmp), 0) != 0)
			return -1;
		if (strcmp(tmp, "issued") != 0 && strcmp(tmp, "refused") != 0)
			return fail(c,
			            "%s.expect: '%s' is not issued or refused",
			            w, tmp);
		s->expect_refused = strcmp(tmp, "refused") == 0;
		snprintf(tmp, sizeof(tmp), "amber");
		if (get_str(c, w, o, "tlp", tmp, sizeof(tmp), 0) != 0)
			return -1;
		s->tlp = 0;
		for (k = 0; k < sizeof(tlps) / sizeof(tlps[0]); k++)
			if (strcmp(tlps[k].name, tmp) == 0)
				s->tlp = tlps[k].tlp;
		if (s->tlp == 0)
			return fail(c,
			            "%s.tlp: '%s' is not clear, green, amber, "
			            "amber+strict or red",
			            w, tmp);
		if (get_num(c, w, o, "deadline_s", &s->seconds, 0,
		            366.0 * 86400) != 0)
			return -1;
		if (s->label[0] == '\0')
			snprintf(s->label, sizeof(s->label), "r%d", i);
		if (s->title[0] == '\0') {
			char t[sizeof(s->title)];

			snprintf(t, sizeof(t), "Drill request %s", s->label);
			memcpy(s->title, t, sizeof(t));
		}
		if (s->text[0] == '\0')
			snprintf(s->text, sizeof(s->text),
			         "EXERCISE: please check your systems and "
			         "report what you find.");
	}
	if (s->op == OP_WAIT) {
		tmp[0] = '\0';
		if (get_str(c, w, o, "until", tmp, sizeof(tmp), 0) != 0)
			return -1;
		if (tmp[0] != '\0' && strcmp(tmp, "settled") != 0)
			return fail(c, "%s.until: '%s' is not settled", w, tmp);
		s->until_settled = tmp[0] != '\0';
		s->quiet_s = 3;
		if (s->until_settled) {
			s->seconds = 120;
			if (get_num(c, w, o, "timeout_s", &s->seconds, 1,
			            3600) != 0 ||
			    get_num(c, w, o, "quiet_s", &s->quiet_s, 0.5,
			            600) != 0)
				return -1;
		} else {
			if (json_object_get(o, "seconds") == NULL)
				return fail(c,
				            "%s: seconds, or until: "
				            "\"settled\", is required",
				            w);
			if (get_num(c, w, o, "seconds", &s->seconds, 0, 3600) !=
			    0)
				return -1;
		}
	}
	if ((s->op == OP_ONLINE || s->op == OP_OFFLINE) && s->group[0] == '\0')
		return fail(c, "%s.group: required", w);
	sc->n_steps++;
	return 0;
}

/*
 * Reads the scenario in root (from json_load*: NULL with je filled in
 * when the JSON did not parse; decref'd here), named path in messages.
 */
static int
scenario_read(json_t *root, const json_error_t *je, const char *path,
              drill_scenario *sc, char *err, size_t errlen)
{
	static const char *const keys[] = {"name",   "description", "agents",
	                                   "groups", "steps",       NULL};
	struct pctx c = {err, errlen, 0};
	char labels[DRILL_MAX_INCIDENTS][DRILL_NAME_LEN];
	int n_labels = 0;
	json_t *a;
	double agents = 100, total = 0;
	size_t i;
	int rv = -1;

	memset(sc, 0, sizeof(*sc));
	if (root == NULL) {
		if (je->line > 0)
			snprintf(err, errlen, "%s: line %d, column %d: %s",
			         path, je->line, je->column, je->text);
		else
			snprintf(err, errlen, "%s: %s", path, je->text);
		return -1;
	}
	if (!json_is_object(root)) {
		fail(&c, "top level: must be an object");
		goto out;
	}
	if (known_keys(&c, "top level", root, keys) != 0 ||
	    get_str(&c, "top level", root, "name", sc->name, sizeof(sc->name),
	            1) != 0 ||
	    get_str(&c, "top level", root, "description", sc->description,
	            sizeof(sc->description), 0) != 0 ||
	    get_num(&c, "top level", root, "agents", &agents, 1,
	            DRILL_MAX_AGENTS) != 0)
		goto out;
	sc->agents = (int)agents;
	a = json_object_get(root, "groups");
	if (a != NULL && !json_is_array(a)) {
		fail(&c, "groups: must be an array");
		goto out;
	}
	if (json_array_size(a) > DRILL_MAX_GROUPS) {
		fail(&c, "groups: more than %d", DRILL_MAX_GROUPS);
		goto out;
	}
	for (i = 0; i < json_array_size(a); i++) {
		drill_group *g = &sc->groups[sc->n_groups];

		if (parse_group(&c, (int)i, json_array_get(a, i), g) != 0)
			goto out;
		if (find_group(sc, g->name) >= 0) {
			fail(&c, "groups[%zu].name: '%s' is used twice", i,
			     g->name);
			goto out;
		}
		total += g->share;
		sc->n_groups++;
	}
	if (total > 1.000001) {
		fail(&c, "groups: the shares add up to %g, more than 1", total);
		goto out;
	}
	if (total < 0.999999) {
		/* the rest of the agents behave well */
		if (sc->n_groups == DRILL_MAX_GROUPS) {
			fail(&c, "groups: more than %d", DRILL_MAX_GROUPS);
			goto out;
		}
		drill_group *g = &sc->groups[sc->n_groups++];

		memset(g, 0, sizeof(*g));
		snprintf(g->name, sizeof(g->name), "rest");
		g->share = 1 - total;
		g->category = ART17__CATEGORY__CAT_OTHER;
		g->fb_mix[0] = 1;
	}
	a = json_object_get(root, "steps");
	if (!json_is_array(a) || json_array_size(a) == 0) {
		fail(&c, "steps: required, a non-empty array");
		goto out;
	}
	if (json_array_size(a) > DRILL_MAX_STEPS) {
		fail(&c, "steps: more than %d", DRILL_MAX_STEPS);
		goto out;
	}
	for (i = 0; i < json_array_size(a); i++)
		if (parse_step(&c, sc, (int)i, json_array_get(a, i), labels,
		               &n_labels) != 0)
			goto out;
	for (int s = 0, n = 0; s < sc->n_steps; s++)
		if (sc->steps[s].op == OP_ISSUE && ++n > DRILL_MAX_REQUESTS) {
			fail(&c, "steps[%d]: more than %d issue steps",
			     sc->steps[s].line, DRILL_MAX_REQUESTS);
			goto out;
		}
	rv = 0;
out:
	json_decref(root);
	return rv;
}

int
drill_scenario_load(const char *path, drill_scenario *sc, char *err,
                    size_t errlen)
{
	json_error_t je;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);

	return scenario_read(root, &je, path, sc, err, errlen);
}

int
drill_scenario_parse(const char *name, const void *buf, size_t len,
                     drill_scenario *sc, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root;

	/* jansson refuses a NULL buffer even when len is 0 */
	root = json_loadb(buf != NULL ? buf : "", len, JSON_REJECT_DUPLICATES,
	                  &je);
	return scenario_read(root, &je, name, sc, err, errlen);
}

json_t *
drill_scenario_json(const drill_scenario *sc)
{
	json_t *gs = json_array();

	for (int i = 0; i < sc->n_groups; i++) {
		const drill_group *g = &sc->groups[i];
		json_t *mix = json_object();

		for (int s = 0; s < DRILL_FB_STATUSES; s++)
			if (g->fb_mix[s] > 0)
				json_object_set_new(mix, drill_fb_names[s],
				                    json_real(g->fb_mix[s]));
		json_array_append_new(
		    gs,
		    json_pack("{s:s, s:f, s:i, s:s, s:f, s:f, s:o, s:f, "
		              "s:b, s:f, s:f, s:b}",
		              "name", g->name, "share", g->share, "agents",
		              g->count, "category",
		              drill_category_name(g->category),
		              "feedback_share", g->fb_share, "consent_share",
		              g->consent, "feedback_mix", mix, "flap_every_s",
		              g->flap_every_s, "offline_at_start", g->offline,
		              "crash_at_s", g->crash_at_s, "crash_down_s",
		              g->crash_down_s, "impostor", g->impostor));
	}
	return json_pack("{s:s, s:s, s:i, s:o, s:i}", "name", sc->name,
	                 "description", sc->description, "agents", sc->agents,
	                 "groups", gs, "steps", sc->n_steps);
}
