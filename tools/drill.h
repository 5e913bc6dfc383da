/*
 * drill.h: art17-drill, the drill simulator (docs/drill.md).
 *
 * drill.c runs the drill (broker, simulated agents in child processes,
 * the scenario's steps); drill_scenario.c parses a scenario file with
 * jansson; drill_report.c writes the report directory (report.json,
 * summary.md, gnuplot charts).
 */
#ifndef A17_DRILL_H
#define A17_DRILL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define DRILL_MAX_GROUPS    16
#define DRILL_MAX_STEPS     256
#define DRILL_MAX_INCIDENTS 16
#define DRILL_MAX_REQUESTS  64
#define DRILL_MAX_AGENTS    20000
#define DRILL_NAME_LEN      32
#define DRILL_MAX_WEIGHT    1000000 /* of one feedback status in a mix */

/* A distribution of milliseconds, sampled once per agent. */
typedef enum drill_dist_kind {
	DIST_FIXED = 0, /* a */
	DIST_UNIFORM,   /* a .. b */
	DIST_EXP,       /* mean a, capped at b (0 = 10 a) */
} drill_dist_kind;

typedef struct drill_dist {
	drill_dist_kind kind;
	double a, b;
} drill_dist;

/* Feedback statuses, in the order of Art17__FeedbackStatus 1..5. */
#define DRILL_FB_STATUSES 5
extern const char *const drill_fb_names[DRILL_FB_STATUSES];

/* A share of the agents that behaves alike. */
typedef struct drill_group {
	char name[DRILL_NAME_LEN];
	double share;    /* of the agents; the last group takes the rest */
	int category;    /* Art17__Category */
	drill_dist ack;  /* delay before the receipt */
	double fb_share; /* share of the group that sends feedback */
	drill_dist fb_delay;
	double fb_mix[DRILL_FB_STATUSES]; /* weights, not normalised */
	int fb_shares;                    /* feedback on shares too */
	double consent;                   /* share that consents (steps) */
	int offline;                      /* offline at the start */
	double flap_every_s;              /* 0 = no flapping */
	uint32_t flap_down_ms;
	double crash_at_s; /* 0 = no crash; after the scenario's start */
	double crash_down_s;
	int impostor; /* signs with a key that is not registered */
	/* filled by the drill */
	int first, count;
} drill_group;

typedef enum drill_op {
	OP_DECLARE = 1,
	OP_FLAG,
	OP_UNFLAG,
	OP_CONSENT,
	OP_ISSUE,
	OP_WAIT,
	OP_ONLINE,
	OP_OFFLINE,
	OP_KILL_BROKER,
	OP_RESTART_BROKER,
	OP_END,
} drill_op;

typedef struct drill_step {
	drill_op op;
	int line;                      /* index in "steps" */
	char incident[DRILL_NAME_LEN]; /* label (declare, flag, issue) */
	char raw_incident[64];         /* issue on a broker id instead */
	char label[DRILL_NAME_LEN];    /* issue: the request's label */
	char group[DRILL_NAME_LEN];    /* consent, online, offline; "" = all */
	char title[128];
	char text[256];  /* content, reason */
	int real;        /* declare: a real (non-exercise) control incident */
	int grant;       /* consent: 1 grant, 0 revoke */
	int cooperation; /* issue: 1 cooperation request, 0 share */
	int expect_refused; /* issue: the broker must refuse it */
	int tlp;            /* Art17__Tlp */
	double seconds;     /* wait: fixed; flag: expiry; issue: deadline */
	int until_settled;  /* wait until the counts stop moving */
	double quiet_s;
} drill_step;

typedef struct drill_scenario {
	char name[64];
	char description[512];
	int agents;
	int n_groups;
	drill_group groups[DRILL_MAX_GROUPS];
	int n_steps;
	drill_step steps[DRILL_MAX_STEPS];
} drill_scenario;

/*
 * Parses the scenario in path. 0, or -1 with err naming the line (JSON
 * syntax) or the field (e.g. "steps[3].op: unknown step 'fly'").
 */
int drill_scenario_load(const char *path, drill_scenario *sc, char *err,
                        size_t errlen);
/* The same over the len bytes at buf, named name (the fuzz harness). */
int drill_scenario_parse(const char *name, const void *buf, size_t len,
                         drill_scenario *sc, char *err, size_t errlen);

/* The scenario as JSON, for report.json (new reference). */
json_t *drill_scenario_json(const drill_scenario *sc);

const char *drill_op_name(drill_op op);
const char *drill_category_name(int cat);
int drill_category_parse(const char *s);

/* Samples d with r in [0, 1). */
double drill_dist_sample(const drill_dist *d, double r);

/*
 * Writes charts with gnuplot into dir/ from the report: receipts and
 * feedback over time, latency percentiles, and the category breakdown.
 * Data files go beside them. Returns the number of charts written, or
 * -1 when gnuplot failed or is missing.
 */
int drill_charts(const char *dir, json_t *report, const double *t_recv,
                 size_t n_recv, const double *t_ack, size_t n_ack,
                 const double *t_fb, size_t n_fb, char *err, size_t errlen);

/* Writes dir/summary.md from report.json's content. 0 or -1. */
int drill_summary_md(const char *dir, json_t *report);

#endif
