/*
 * drill_report.c: the human half of a drill's report directory: charts
 * drawn by gnuplot (SVG) from data files written beside them, and
 * summary.md. Both read report.json's content, so that what people read
 * is what the cross-checks saw.
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include <jansson.h>

#include "drill.h"

#define PLEN 1200

static int
write_series(const char *path, const double *t, size_t n)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fprintf(f, "# t_s cumulative\n0 0\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%.3f %zu\n", t[i], i + 1);
	return fclose(f);
}

/* Runs script through gnuplot (also saved as script_path). 0 or -1. */
static int
gnuplot(const char *script_path, const char *script, char *err, size_t errlen)
{
	char cmd[PLEN + 64];
	FILE *f = fopen(script_path, "w");
	int st;

	if (f == NULL || fputs(script, f) < 0) {
		if (f)
			fclose(f);
		snprintf(err, errlen, "%s: cannot write", script_path);
		return -1;
	}
	fclose(f);
	snprintf(cmd, sizeof(cmd), "gnuplot '%s' 2>&1", script_path);
	st = system(cmd);
	if (st != 0) {
		snprintf(err, errlen,
		         "gnuplot failed on %s (status %d; is gnuplot-nox "
		         "installed? tools/install-deps.sh)",
		         script_path, st);
		return -1;
	}
	return 0;
}

/* Appends to buf (size len) like snprintf at its end. */
static void cat(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#include <stdarg.h>

static void
cat(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

int
drill_charts(const char *dir, json_t *report, const double *t_recv,
             size_t n_recv, const double *t_ack, size_t n_ack,
             const double *t_fb, size_t n_fb, char *err, size_t errlen)
{
	static char sc[65536];
	char p1[PLEN], p2[PLEN], p3[PLEN], gp[PLEN];
	json_t *steps = json_object_get(report, "steps");
	json_t *reqs = json_object_get(report, "requests");
	json_t *cats = json_object_get(report, "by_category");
	const char *title = json_string_value(
	    json_object_get(json_object_get(report, "scenario"), "name"));
	size_t i, nlat = 0;
	json_t *v;
	const char *k;
	FILE *f;

	/* 1. receipts and feedback over time */
	snprintf(p1, sizeof(p1), "%s/received.dat", dir);
	snprintf(p2, sizeof(p2), "%s/receipts.dat", dir);
	snprintf(p3, sizeof(p3), "%s/feedback.dat", dir);
	if (write_series(p1, t_recv, n_recv) != 0 ||
	    write_series(p2, t_ack, n_ack) != 0 ||
	    write_series(p3, t_fb, n_fb) != 0) {
		snprintf(err, errlen, "%s: cannot write the data files", dir);
		return -1;
	}
	sc[0] = '\0';
	cat(sc, sizeof(sc),
	    "set terminal svg size 1000,560 dynamic background rgb 'white' "
	    "font 'sans,12'\n"
	    "set output '%s/receipts.svg'\n"
	    "set title \"EXERCISE - %s: copies received, receipts confirmed "
	    "and feedback stored over time\"\n"
	    "set xlabel 'seconds since the scenario started'\n"
	    "set ylabel 'cumulative count'\n"
	    "set key right bottom box opaque\nset grid\nset yrange [0:*]\n"
	    "set offsets 0, graph 0.02, graph 0.12, 0\n",
	    dir, title ? title : "drill");
	for (i = 0, nlat = 0; i < json_array_size(steps); i++) {
		json_t *s = json_array_get(steps, i);
		const char *op = json_string_value(json_object_get(s, "op"));
		double t = json_real_value(json_object_get(s, "t_s"));

		if (op == NULL || strcmp(op, "wait") == 0 ||
		    strcmp(op, "end") == 0)
			continue;
		cat(sc, sizeof(sc),
		    "set arrow from %.3f, graph 0 to %.3f, graph 1 nohead "
		    "dt 3 lc rgb '#999999'\n"
		    "set label '%s' at %.3f, graph %.2f rotate by 90 right "
		    "font 'sans,9' tc rgb '#555555'\n",
		    t, t, op, t, 0.99 - 0.09 * (double)(nlat++ % 3));
	}
	cat(sc, sizeof(sc),
	    "plot '%s' using 1:2 with steps lw 2 title 'copies received "
	    "(agents)', \\\n"
	    "     '%s' using 1:2 with steps lw 2 title 'receipts confirmed "
	    "(durable at the broker)', \\\n"
	    "     '%s' using 1:2 with steps lw 2 title 'feedback stored'\n",
	    p1, p2, p3);
	snprintf(gp, sizeof(gp), "%s/receipts.gp", dir);
	if (gnuplot(gp, sc, err, errlen) != 0)
		return -1;

	nlat = 0;
	/* 2. latency percentiles per request */
	snprintf(p1, sizeof(p1), "%s/latency.dat", dir);
	if ((f = fopen(p1, "w")) == NULL) {
		snprintf(err, errlen, "%s: cannot write", p1);
		return -1;
	}
	fprintf(f, "# request delivery_p50 receipt_p50 receipt_p90 "
	           "receipt_p99 feedback_p50 (ms after issue)\n");
	for (i = 0; i < json_array_size(reqs); i++) {
		json_t *r = json_array_get(reqs, i);
		json_t *l = json_object_get(r, "latency_ms");
		json_t *d = json_object_get(l, "delivery");
		json_t *a = json_object_get(l, "receipt");
		json_t *fb = json_object_get(l, "feedback");

		if (json_is_true(json_object_get(r, "refused")) ||
		    json_integer_value(json_object_get(a, "n")) == 0)
			continue;
		fprintf(f, "\"%s\" %.1f %.1f %.1f %.1f %.1f\n",
		        json_string_value(json_object_get(r, "label")),
		        json_real_value(json_object_get(d, "p50")),
		        json_real_value(json_object_get(a, "p50")),
		        json_real_value(json_object_get(a, "p90")),
		        json_real_value(json_object_get(a, "p99")),
		        json_real_value(json_object_get(fb, "p50")));
		nlat++;
	}
	if (nlat == 0)
		fprintf(f, "\"none\" 0 0 0 0 0\n");
	fclose(f);
	sc[0] = '\0';
	cat(sc, sizeof(sc),
	    "set terminal svg size 1000,560 dynamic background rgb 'white' "
	    "font 'sans,12'\n"
	    "set output '%s/latency.svg'\n"
	    "set title \"EXERCISE - latency percentiles per request (ms after "
	    "issue)\"\n"
	    "set style data histograms\nset style histogram clustered gap 1\n"
	    "set style fill solid 0.8 border -1\nset boxwidth 0.9\n"
	    "set ylabel 'ms (log scale)'\nset logscale y\nset yrange [1:*]\n"
	    "set grid ytics\nset key left top\nset xtics rotate by -30\n"
	    "plot '%s' using ($2+1):xtic(1) title 'delivery p50', \\\n"
	    "     '' using ($3+1) title 'receipt p50', \\\n"
	    "     '' using ($4+1) title 'receipt p90', \\\n"
	    "     '' using ($5+1) title 'receipt p99', \\\n"
	    "     '' using ($6+1) title 'feedback p50'\n",
	    dir, p1);
	snprintf(gp, sizeof(gp), "%s/latency.gp", dir);
	if (gnuplot(gp, sc, err, errlen) != 0)
		return -1;

	/* 3. breakdown by member category */
	snprintf(p1, sizeof(p1), "%s/categories.dat", dir);
	if ((f = fopen(p1, "w")) == NULL) {
		snprintf(err, errlen, "%s: cannot write", p1);
		return -1;
	}
	fprintf(f, "# category acked_not_answered answered withdrawn "
	           "not_acked excluded\n");
	json_object_foreach(cats, k, v)
	{
		json_int_t copies =
		    json_integer_value(json_object_get(v, "copies"));
		json_int_t acked =
		    json_integer_value(json_object_get(v, "acked"));
		json_int_t ans =
		    json_integer_value(json_object_get(v, "answered"));
		json_int_t wd =
		    json_integer_value(json_object_get(v, "withdrawn"));
		json_int_t ex =
		    json_integer_value(json_object_get(v, "excluded"));

		fprintf(f, "\"%s\" %lld %lld %lld %lld %lld\n", k,
		        (long long)(acked - ans), (long long)ans, (long long)wd,
		        (long long)(copies - acked - wd), (long long)ex);
	}
	fclose(f);
	sc[0] = '\0';
	cat(sc, sizeof(sc),
	    "set terminal svg size 1000,560 dynamic background rgb 'white' "
	    "font 'sans,12'\n"
	    "set output '%s/categories.svg'\n"
	    "set title \"EXERCISE - copies by member category, all requests\"\n"
	    "set style data histograms\nset style histogram rowstacked\n"
	    "set style fill solid 0.8 border -1\nset boxwidth 0.6\n"
	    "set ylabel 'copies'\nset yrange [0:*]\nset grid ytics\n"
	    "set key outside right top\nset xtics rotate by -25\n"
	    "plot '%s' using 2:xtic(1) title 'acked (no feedback)' lc rgb "
	    "'#4e79a7', \\\n"
	    "     '' using 3 title 'answered (feedback)' lc rgb '#59a14f', \\\n"
	    "     '' using 4 title 'withdrawn (gate)' lc rgb '#f28e2b', \\\n"
	    "     '' using 5 title 'not acked' lc rgb '#e15759', \\\n"
	    "     '' using 6 title 'excluded at issue' lc rgb '#bab0ac'\n",
	    dir, p1);
	snprintf(gp, sizeof(gp), "%s/categories.gp", dir);
	if (gnuplot(gp, sc, err, errlen) != 0)
		return -1;
	return 3;
}

static json_int_t
ji(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static double
jr(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

static const char *
js(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

int
drill_summary_md(const char *dir, json_t *rep)
{
	char path[PLEN];
	json_t *run = json_object_get(rep, "run");
	json_t *sc = json_object_get(rep, "scenario");
	json_t *tot = json_object_get(rep, "totals");
	json_t *z = json_object_get(rep, "must_be_zero");
	json_t *ag = json_object_get(rep, "agents");
	json_t *rss = json_object_get(run, "peak_rss_kb");
	json_t *v;
	const char *k;
	size_t i;
	FILE *f;

	snprintf(path, sizeof(path), "%s/summary.md", dir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f,
	        "# EXERCISE - drill report: %s\n\n"
	        "> **EXERCISE.** Everything in this report comes from a "
	        "drill. The incidents and\n"
	        "> requests are marked EXERCISE at the broker, in every "
	        "copy and in every feedback.\n\n",
	        js(sc, "name"));
	if (js(sc, "description")[0])
		fprintf(f, "%s\n\n", js(sc, "description"));
	fprintf(f,
	        "| | |\n|---|---|\n"
	        "| started (UTC) | %s |\n"
	        "| agents | %lld in %lld simulator process(es) |\n"
	        "| wall time | %.1f s (registering %.1f s, connecting %.1f s, "
	        "scenario %.1f s) |\n"
	        "| peak RSS | broker %lld kB, simulator process %lld kB, "
	        "drill %lld kB |\n"
	        "| agents connected | %lld of %lld (%lld impostors: %lld "
	        "refused; %lld offline at the start) |\n\n",
	        js(run, "started_utc"), ji(run, "agents"), ji(run, "processes"),
	        jr(run, "wall_s"), jr(run, "register_s"), jr(run, "connect_s"),
	        jr(run, "scenario_s"), ji(rss, "broker"),
	        ji(rss, "simulator_process_max"), ji(rss, "drill"),
	        ji(ag, "connected"), ji(ag, "total"), ji(ag, "impostors"),
	        ji(ag, "impostors_refused"), ji(ag, "offline_at_start"));
	fprintf(f,
	        "## Must be zero\n\n"
	        "| count | value | meaning |\n|---|---:|---|\n"
	        "| lost | %lld | a receipt or feedback an agent saw confirmed "
	        "that the broker does not hold, or a copy the broker holds "
	        "as acked that no agent holds |\n"
	        "| duplicated | %lld | a request delivered to a member under "
	        "two sequence numbers, or feedback stored twice |\n"
	        "| gate violations | %lld | a cooperation request delivered "
	        "while neither the flag nor the member's consent could have "
	        "held, or a copy held by an agent that the broker withdrew |\n"
	        "| unmarked | %lld | a copy that reached an agent without the "
	        "EXERCISE marking, or reached an impostor |\n\n",
	        ji(z, "lost"), ji(z, "duplicated"), ji(z, "gate_violations"),
	        ji(z, "unmarked"));
	fprintf(f,
	        "## Totals (the broker's stored state)\n\n"
	        "| copies | delivered | acked | answered | withdrawn | "
	        "queued | excluded at issue | feedback stored |\n"
	        "|---:|---:|---:|---:|---:|---:|---:|---:|\n"
	        "| %lld | %lld | %lld | %lld | %lld | %lld | %lld | %lld |\n\n"
	        "Agents saw %lld copies, %lld receipts confirmed and %lld "
	        "feedback confirmed.\n\n",
	        ji(tot, "copies"), ji(tot, "delivered"), ji(tot, "acked"),
	        ji(tot, "answered"), ji(tot, "withdrawn"), ji(tot, "queued"),
	        ji(tot, "excluded"), ji(tot, "feedback_stored"),
	        ji(tot, "agents_received"),
	        ji(tot, "agents_receipts_confirmed"),
	        ji(tot, "agents_feedback_confirmed"));
	fprintf(f, "## Requests\n\n"
	           "| request | kind | incident | copies | excluded | acked | "
	           "answered | withdrawn | receipt p50 / p99 (ms) |\n"
	           "|---|---|---|---:|---:|---:|---:|---:|---|\n");
	json_array_foreach(json_object_get(rep, "requests"), i, v)
	{
		json_t *b = json_object_get(v, "broker");
		json_t *l = json_object_get(json_object_get(v, "latency_ms"),
		                            "receipt");

		if (json_is_true(json_object_get(v, "refused"))) {
			fprintf(
			    f,
			    "| %s (refused) | %s | %s | - | - | - | - | - | "
			    "%s |\n",
			    js(v, "label"), js(v, "kind"), js(v, "incident_id"),
			    js(v, "refusal"));
			continue;
		}
		fprintf(f,
		        "| %s `%s` EXERCISE | %s | %s | %lld | %lld | %lld | "
		        "%lld | %lld | %.0f / %.0f |\n",
		        js(v, "label"), js(v, "request_id"), js(v, "kind"),
		        js(v, "incident_id"), ji(b, "copies"),
		        ji(b, "excluded"), ji(b, "acked"),
		        ji(json_object_get(b, "states"), "answered"),
		        ji(json_object_get(b, "states"), "withdrawn"),
		        jr(l, "p50"), jr(l, "p99"));
	}
	fprintf(f, "\n## By member category\n\n"
	           "| category | members | copies | acked | answered | "
	           "withdrawn | excluded |\n"
	           "|---|---:|---:|---:|---:|---:|---:|\n");
	json_object_foreach(json_object_get(rep, "by_category"), k, v)
	    fprintf(f, "| %s | %lld | %lld | %lld | %lld | %lld | %lld |\n", k,
	            ji(v, "members"), ji(v, "copies"), ji(v, "acked"),
	            ji(v, "answered"), ji(v, "withdrawn"), ji(v, "excluded"));
	fprintf(f, "\n## Steps\n\n| t (s) | step | ok | what happened |\n"
	           "|---:|---|---|---|\n");
	json_array_foreach(json_object_get(rep, "steps"), i, v)
	    fprintf(f, "| %.1f | %s | %s | %s |\n", jr(v, "t_s"), js(v, "op"),
	            json_is_true(json_object_get(v, "ok")) ? "yes" : "**NO**",
	            js(v, "detail"));
	fprintf(f, "\n## Charts\n\n"
	           "![receipts and feedback over time](charts/receipts.svg)\n\n"
	           "![latency percentiles](charts/latency.svg)\n\n"
	           "![by member category](charts/categories.svg)\n\n"
	           "The numbers behind every chart are in `charts/*.dat`, "
	           "and all of them in `report.json`.\n");
	return fclose(f) == 0 ? 0 : -1;
}
