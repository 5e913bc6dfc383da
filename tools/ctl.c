/*
 * ctl.c: art17ctl, the coordinator's command-line client.
 *
 * Speaks the admin protocol to the broker over ipc://<DATADIR>/admin.sock:
 * one signed Body{AdminRequest} per REQ, one unsigned Body{AdminReply} back
 * (the ipc socket is guarded by its file mode). Everything the user types is
 * validated here before anything is sent, so a typo never reaches the
 * broker. See docs/art17ctl.md.
 *
 * Exit codes: 0 ok, 1 refused by the broker (or the audit log is broken),
 * 2 usage error, 3 cannot reach the broker or local setup error, 4 not
 * found, 5 wait timed out.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "crypto.h"
#include "err.h"
#include "log.h"
#include "wire.h"
#include "export.h"
#include "feedback.h"
#include "seal.h"

#define CTL_VERSION "0.1.0"

enum {
	CTL_EX_OK = 0,
	CTL_EX_REFUSED = 1,
	CTL_EX_USAGE = 2,
	CTL_EX_SETUP = 3,
	CTL_EX_NOTFOUND = 4,
	CTL_EX_WAIT = 5,
};

#define CTL_DEFAULT_DATA      "/var/lib/art17"
#define CTL_DEFAULT_PKI       "./pki"
#define CTL_DEFAULT_COORD     "coordinator"
#define CTL_DEFAULT_TIMEOUT_S 10
#define CTL_ID_MAX            64
#define CTL_TEXT_MAX          1024
#define CTL_CONTENT_MAX       (WIRE_MAX_MSG - 64 * 1024)
#define CTL_POLL_INTERVAL_MS  100
#define CTL_COOP_DEADLINE_MS  (24LL * 3600 * 1000)

struct ctl {
	const char *datadir;
	const char *pki;
	const char *coord;
	const char *keypath;
	char keybuf[PATH_MAX];
	int timeout_s;
	a17_key *key;
	nng_socket sock;
	bool open;
	char url[PATH_MAX + 16];
	/* called with a refusing AdminReply before its error line is printed */
	void (*on_refusal)(const Art17__AdminReply *r);
};

/* ------------------------------------------------------------ messages */

static void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
ctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("art17ctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Prints a usage error with a pointer to the command's help; returns 2. */
static int ctl_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
ctl_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("art17ctl: ", stderr);
	if (cmd != NULL)
		fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'art17ctl help%s%s'.\n", cmd ? " " : "",
	        cmd ? cmd : "");
	return CTL_EX_USAGE;
}

/* ------------------------------------------------------------ help */

static const char usage_main[] =
    "Usage: art17ctl [GLOBAL OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "The coordinator's client for the art17 broker's admin socket.\n"
    "\n"
    "Commands:\n"
    "  member add           register a member and its identity key\n"
    "  member list          list registered members\n"
    "  member show ID       show one member\n"
    "  member rekey ID      register a member agent's new identity key\n"
    "  consent grant M      record a member's written consent\n"
    "  consent revoke M     record the withdrawal of a member's consent\n"
    "  consent show M       a member's consent history and what is in force\n"
    "  incident declare     declare an incident (or an exercise)\n"
    "  incident flag ID     set or renew the large-scale flag\n"
    "  incident confirm ID  confirm a flag (second coordinator)\n"
    "  incident unflag ID   lift the large-scale flag\n"
    "  incident close ID    close an incident\n"
    "  incident list        list incidents\n"
    "  incident show ID     show one incident and its flag\n"
    "  request issue        issue a cooperation request or an information "
    "share\n"
    "  request status ID    show the delivery state of every copy of a "
    "request\n"
    "  request list         list issued requests\n"
    "  request remark ID    revise a request's TLP label or sharing scope\n"
    "  consult list         reports and consultations received (Q22)\n"
    "  consult share C      triage a consultation into an information share\n"
    "  audit verify         check the audit log's hash chain\n"
    "  audit show           show audit log entries\n"
    "  staff apply M        apply a staff change form (continue/abolish/new)\n"
    "  feedback list R      members' structured feedback on a request\n"
    "  feedback export R    export it as JSON, CSV or a STIX 2.1 bundle\n"
    "  staff list M         registered staff of a member, over time\n"
    "  help [COMMAND]       show help for a command\n"
    "\n"
    "Global options (before COMMAND):\n"
    "  -d, --data DIR          broker data directory (admin.sock lives "
    "here)\n"
    "                          [$ART17_DATA, else " CTL_DEFAULT_DATA "]\n"
    "  -p, --pki DIR           PKI directory [$ART17_PKI, else "
    "" CTL_DEFAULT_PKI "]\n"
    "  -u, --coordinator NAME  coordinator name [$ART17_COORDINATOR, else\n"
    "                          " CTL_DEFAULT_COORD "]\n"
    "  -K, --key FILE          coordinator private key [$ART17_COORD_KEY,\n"
    "                          else PKI/coordinators/NAME/id.key]\n"
    "  -t, --timeout SECONDS   wait this long for each reply (default 10)\n"
    "  -h, --help              show this help\n"
    "  -V, --version           show the version\n"
    "\n"
    "Exit codes:\n"
    "  0  success\n"
    "  1  refused by the broker; audit verify: the audit log is broken\n"
    "  2  usage error\n"
    "  3  cannot reach the broker, or local setup error (key file, input "
    "file)\n"
    "  4  not found\n"
    "  5  --wait-acked timed out\n";

static const char usage_member_add[] =
    "Usage: art17ctl member add --id ID --name NAME --key ID_PUB_PEM\n"
    "           [--class general|tf1|tf2]\n"
    "           [--category national-gov|local-gov|critical-infra|"
    "edu-research|\n"
    "                       cyber-vendor|other]\n"
    "           [--entity organisation|department|individual]\n"
    "           [--mutual-aid] [--parent ORG] [--poc POC] [--reporter]\n"
    "\n"
    "Registers a member. --key is the member's Ed25519 identity public key\n"
    "(PEM). Defaults: --class general, --category other, --entity\n"
    "organisation. A department needs --parent, the organisation it belongs\n"
    "to; the broker admits one department per organisation and refuses an\n"
    "individual (an individual cannot be a member).\n"
    "--reporter registers a non-member reporter (RULES Q22): its agent may\n"
    "send reports and consultations over the same protocol, but it is never\n"
    "a recipient of requests or shares.\n";

static const char usage_member_list[] =
    "Usage: art17ctl member list [--json]\n"
    "\n"
    "Lists registered members: id, name, entity, parent organisation,\n"
    "class, category, mutual aid and the key id (first 8 bytes of SHA-256\n"
    "of the identity key, hex).\n";

static const char usage_member_show[] =
    "Usage: art17ctl member show ID [--json]\n"
    "\n"
    "Shows one member in full.\n";

static const char usage_request_issue[] =
    "Usage: art17ctl request issue --kind cooperation|share --incident ID\n"
    "           --title TITLE (--content TEXT | --content-file FILE)\n"
    "           --secret yes|no\n"
    "           [--tlp clear|green|amber|amber+strict|red]\n"
    "           [--scope tf1-only|taskforce|members|members+constituents|"
    "public]\n"
    "           [--deadline DURATION] [--exercise] [--to M1,M2,...] "
    "[--force]\n"
    "           [--json]\n"
    "\n"
    "Issues a request. --secret is required: secrecy is always explicit.\n"
    "Defaults: --tlp amber, --scope members, --deadline 24h for "
    "cooperation\n"
    "and none for share. DURATION is a number with a unit s, m, h or d\n"
    "(30m, 2h, 3d). Without --to every registered member is addressed.\n"
    "Prints the request id, then the included members and, under\n"
    "\"excluded:\", every member left out and why. If the broker refuses the\n"
    "whole request (no member may receive it), the excluded members and\n"
    "their reasons go to stderr before the error, and the exit code is 1.\n"
    "Content that was shared before (the same indicators and text, up to\n"
    "case and spacing; RULES Q17) is refused with the earlier item's id;\n"
    "--force shares it again anyway. Secret items are not compared.\n";

static const char usage_request_status[] =
    "Usage: art17ctl request status ID [--json] [--wait-acked SECONDS]\n"
    "\n"
    "Shows every copy of request ID: member, sequence, state, queued,\n"
    "delivered and acked times (UTC) and reason (why a copy was withdrawn),\n"
    "then a count per state (\"5 copies: 2 acked, 1 withdrawn, 2 queued\").\n"
    "With --wait-acked, asks again every 100 ms until every copy is acked,\n"
    "accepted, answered or withdrawn; exits 5 if that has not happened\n"
    "within SECONDS.\n";

static const char usage_request_list[] =
    "Usage: art17ctl request list [--json]\n"
    "\n"
    "Lists issued requests.\n";

static const char usage_consent_grant[] =
    "Usage: art17ctl consent grant MEMBER --ref REF\n"
    "\n"
    "Records that MEMBER has consented in writing to cooperation requests\n"
    "(Article 17(3)). REF is required: the written consent's id and date,\n"
    "e.g. \"CSC-2026-041 2026-11-20\". It takes effect now.\n";

static const char usage_consent_revoke[] =
    "Usage: art17ctl consent revoke MEMBER --ref REF\n"
    "\n"
    "Records that MEMBER has withdrawn its consent. REF is required: the\n"
    "written withdrawal's id and date. It takes effect now.\n";

static const char usage_consent_show[] =
    "Usage: art17ctl consent show MEMBER [--at TIME] [--json]\n"
    "\n"
    "Shows MEMBER's consent history (time, grant or revoke, reference, who\n"
    "entered it, and whether via a coordinator or the member's agent), then\n"
    "which consent was in force at TIME. TIME is ISO-8601 UTC, e.g.\n"
    "2026-11-26T10:00:00Z, or \"now\" (the default).\n";

static const char usage_incident_declare[] =
    "Usage: art17ctl incident declare --title TITLE [--description TEXT]\n"
    "           [--exercise] [--id ID]\n"
    "\n"
    "Declares an incident and prints its id (first line). Without --id the\n"
    "broker assigns one. --exercise declares a drill: its requests are\n"
    "marked EXERCISE and never mix with real ones.\n";

static const char usage_incident_flag[] =
    "Usage: art17ctl incident flag ID --reason TEXT --expires DURATION\n"
    "\n"
    "Sets the large-scale flag on incident ID, or renews it. --reason and\n"
    "--expires are required; the flag expires DURATION from now (30m, 6h,\n"
    "2d; at most 366d). Where the broker enforces the two-person rule, a\n"
    "new flag stays pending until a second coordinator runs \"incident\n"
    "confirm\".\n";

static const char usage_incident_confirm[] =
    "Usage: art17ctl incident confirm ID\n"
    "\n"
    "Confirms the pending large-scale flag on incident ID. Must be run by a\n"
    "coordinator other than the one who set it (two-person rule).\n";

static const char usage_incident_unflag[] =
    "Usage: art17ctl incident unflag ID [--reason TEXT]\n"
    "\n"
    "Lifts the large-scale flag on incident ID.\n";

static const char usage_incident_close[] =
    "Usage: art17ctl incident close ID\n"
    "\n"
    "Closes incident ID; no request can be issued on it afterwards.\n";

static const char usage_incident_list[] =
    "Usage: art17ctl incident list [--json]\n"
    "\n"
    "Lists incidents: id, EXERCISE marking, state (open or closed), flag,\n"
    "declared at, declared by and title. The flag is one of: never, ACTIVE\n"
    "until T, PENDING confirmation until T, lifted at T by X, expired at T.\n";

static const char usage_incident_show[] =
    "Usage: art17ctl incident show ID [--json]\n"
    "\n"
    "Shows one incident in full, with its large-scale flag.\n";

static const char usage_audit_verify[] =
    "Usage: art17ctl audit verify\n"
    "\n"
    "Asks the broker to check the audit log's hash chain. Prints \"audit log\n"
    "intact: N entries\" and exits 0, or prints \"audit log BROKEN at entry\n"
    "N: ...\" to stderr and exits 1.\n";

static const char usage_audit_show[] =
    "Usage: art17ctl audit show [--from N] [--limit N] [--json]\n"
    "\n"
    "Shows audit log entries from sequence number N on (default: the first),\n"
    "at most --limit of them (default 0: all): seq, time, EXERCISE marking,\n"
    "actor, action, subject, the first 12 hex digits of the entry's hash and\n"
    "the detail. --json prints the full hashes.\n";

static const char usage_staff_apply[] =
    "Usage: art17ctl staff apply MEMBER --file FORM [--immediate | "
    "--effective TIME]\n"
    "\n"
    "Applies a staff change form for MEMBER (RULES Q13/Q14). FORM is JSON:\n"
    "  {\"entries\": [{\"action\": \"new\", \"staff_id\": \"s1\", "
    "\"name\": \"...\",\n"
    "                \"email\": \"...\", \"key\": \"seal.pub\", "
    "\"account\": true},\n"
    "               {\"action\": \"continue\", \"staff_id\": \"s2\", "
    "\"name\": \"corrected\"},\n"
    "               {\"action\": \"abolish\", \"staff_id\": \"s3\"}]}\n"
    "Each person is one entry with their own X25519 public key (made on "
    "their\n"
    "side by art17-pki staff); a key or e-mail address held by another "
    "entry is\n"
    "refused. \"account\": false registers a person who receives nothing "
    "through\n"
    "the system. Changes take effect after the broker's delay (default five\n"
    "business days), at --effective TIME, or at once with --immediate.\n";

static const char usage_staff_list[] =
    "Usage: art17ctl staff list MEMBER [--json]\n"
    "\n"
    "Shows every registered-staff entry of MEMBER as changed over time,\n"
    "including changes not yet in effect.\n";

static const char usage_member_rekey[] =
    "Usage: art17ctl member rekey ID --key ID_PUB_PEM\n"
    "\n"
    "Registers a member agent's new Ed25519 identity key (made by art17-pki\n"
    "rotate-agent). From now on only the new key is accepted; the old one is\n"
    "kept so that receipts it signed still verify (art17ctl audit verify).\n";

static const char usage_feedback_list[] =
    "Usage: art17ctl feedback list REQUEST_ID [--json]\n"
    "\n"
    "Every version of every member's structured feedback on a request, then\n"
    "an aggregate over each member's latest version: how many replied, how\n"
    "many are affected, and which indicators two or more members reported.\n";

static const char usage_feedback_export[] =
    "Usage: art17ctl feedback export REQUEST_ID --format json|csv|stix\n"
    "           [--out FILE] [--tlp clear|green|amber|amber+strict|red]\n"
    "\n"
    "Exports every version of every member's feedback on a request and the\n"
    "aggregate (members replied and affected, indicators two or more\n"
    "members reported), to stdout or to FILE (written whole, mode 0600).\n"
    "  json  one object; \"feedback\" holds the versions, \"aggregate\" the\n"
    "        aggregate over each member's latest version\n"
    "  csv   RFC 4180, CRLF, a header then one row per version; text that\n"
    "        a spreadsheet would run as a formula gets a leading '\n"
    "  stix  a STIX 2.1 bundle of each member's latest version: indicators\n"
    "        (a vulnerability for a CVE), sightings, one opinion per member\n"
    "        (affected strongly-agree, mitigated agree, investigating and\n"
    "        declined neutral, not-affected disagree) and a summary note\n"
    "Every export carries the request's TLP (STIX: the TLP 2.0 marking\n"
    "definition); --tlp may only make it stricter, and is the TLP when the\n"
    "request has none (default amber). An exercise's export is marked\n"
    "EXERCISE: JSON \"marking\": \"EXERCISE\", a first CSV column\n"
    "\"exercise\", STIX labels and note.\n";

static const char usage_request_remark[] =
    "Usage: art17ctl request remark ID [--tlp clear|green|amber|"
    "amber+strict|red]\n"
    "           [--scope tf1-only|taskforce|members|members+constituents|"
    "public]\n"
    "           --reason TEXT\n"
    "\n"
    "Revises the TLP label and/or the sharing scope of request ID. The\n"
    "revision is numbered, signed by the broker, written to the audit log\n"
    "and pushed to every member holding a copy; their agents show it and\n"
    "apply it to the onward-sharing check. The secret flag cannot be\n"
    "revised: issue a new item instead.\n";

static const char usage_consult_list[] =
    "Usage: art17ctl consult list [--json]\n"
    "\n"
    "Reports and consultations received from members and registered\n"
    "reporters (RULES Q22): id, sender, received time, the provider's three\n"
    "confirmations (secrecy wish, sharing scope, coordination wish), the\n"
    "text and, once triaged, the share it became.\n";

static const char usage_consult_share[] =
    "Usage: art17ctl consult share CONSULT_ID --incident ID --title TITLE\n"
    "           [--tlp clear|green|amber|amber+strict|red]\n"
    "\n"
    "Triages a consultation into an information share under incident ID.\n"
    "The provider's wishes are kept: the secrecy wish becomes the secret\n"
    "flag, the sharing scope the scope. --tlp defaults to amber. A\n"
    "consultation is shared at most once. Prints like 'request issue'.\n";

struct helpent {
	const char *name;
	const char *text;
};

static const struct helpent helps[] = {
    {"member add", usage_member_add},
    {"member list", usage_member_list},
    {"member show", usage_member_show},
    {"consent grant", usage_consent_grant},
    {"consent revoke", usage_consent_revoke},
    {"consent show", usage_consent_show},
    {"incident declare", usage_incident_declare},
    {"incident flag", usage_incident_flag},
    {"incident confirm", usage_incident_confirm},
    {"incident unflag", usage_incident_unflag},
    {"incident close", usage_incident_close},
    {"incident list", usage_incident_list},
    {"incident show", usage_incident_show},
    {"request issue", usage_request_issue},
    {"request status", usage_request_status},
    {"request list", usage_request_list},
    {"audit verify", usage_audit_verify},
    {"audit show", usage_audit_show},
    {"staff apply", usage_staff_apply},
    {"member rekey", usage_member_rekey},
    {"feedback list", usage_feedback_list},
    {"feedback export", usage_feedback_export},
    {"staff list", usage_staff_list},
    {"request remark", usage_request_remark},
    {"consult list", usage_consult_list},
    {"consult share", usage_consult_share},
    {NULL, NULL},
};

static int
cmd_help(int argc, char **argv)
{
	char name[64];
	bool any = false;
	size_t i;

	if (argc < 2) {
		fputs(usage_main, stdout);
		return CTL_EX_OK;
	}
	if (argc == 2)
		snprintf(name, sizeof(name), "%s", argv[1]);
	else if (argc == 3)
		snprintf(name, sizeof(name), "%s %s", argv[1], argv[2]);
	else
		return ctl_usage(NULL, "help takes at most two words");
	/* "help member" shows every member command. */
	for (i = 0; helps[i].name != NULL; i++) {
		size_t n = strlen(name);
		if (strcmp(helps[i].name, name) == 0 ||
		    (strncmp(helps[i].name, name, n) == 0 &&
		     helps[i].name[n] == ' ')) {
			if (any)
				fputc('\n', stdout);
			fputs(helps[i].text, stdout);
			any = true;
		}
	}
	if (!any)
		return ctl_usage(NULL, "no help for unknown command '%s'",
		                 name);
	return CTL_EX_OK;
}

/* ------------------------------------------------------------ words */

struct word {
	const char *w;
	int v;
};

static const struct word w_class[] = {
    {"general", ART17__MEMBER_CLASS__CLASS_GENERAL},
    {"tf1", ART17__MEMBER_CLASS__CLASS_TF1},
    {"tf2", ART17__MEMBER_CLASS__CLASS_TF2},
    {NULL, 0},
};

static const struct word w_category[] = {
    {"national-gov", ART17__CATEGORY__CAT_NATIONAL_GOV},
    {"local-gov", ART17__CATEGORY__CAT_LOCAL_GOV},
    {"critical-infra", ART17__CATEGORY__CAT_CRITICAL_INFRA},
    {"edu-research", ART17__CATEGORY__CAT_EDU_RESEARCH},
    {"cyber-vendor", ART17__CATEGORY__CAT_CYBER_VENDOR},
    {"other", ART17__CATEGORY__CAT_OTHER},
    {NULL, 0},
};

static const struct word w_entity[] = {
    {"organisation", ART17__ENTITY__ENTITY_ORGANISATION},
    {"department", ART17__ENTITY__ENTITY_DEPARTMENT},
    {"individual", ART17__ENTITY__ENTITY_INDIVIDUAL},
    {NULL, 0},
};

static const struct word w_via[] = {
    {"coordinator", ART17__CONSENT_VIA__VIA_COORDINATOR},
    {"agent", ART17__CONSENT_VIA__VIA_AGENT},
    {NULL, 0},
};

static const struct word w_kind[] = {
    {"cooperation", ART17__ITEM_KIND__KIND_COOPERATION_REQUEST},
    {"share", ART17__ITEM_KIND__KIND_INFORMATION_SHARE},
    {NULL, 0},
};

static const struct word w_tlp[] = {
    {"clear", ART17__TLP__TLP_CLEAR},
    {"green", ART17__TLP__TLP_GREEN},
    {"amber", ART17__TLP__TLP_AMBER},
    {"amber+strict", ART17__TLP__TLP_AMBER_STRICT},
    {"red", ART17__TLP__TLP_RED},
    {NULL, 0},
};

static const struct word w_secret[] = {
    {"yes", ART17__SECRET__SECRET_YES},
    {"no", ART17__SECRET__SECRET_NO},
    {NULL, 0},
};

static const struct word w_scope[] = {
    {"tf1-only", ART17__SCOPE__SCOPE_TF1_ONLY},
    {"taskforce", ART17__SCOPE__SCOPE_TASKFORCE},
    {"members", ART17__SCOPE__SCOPE_MEMBERS},
    {"members+constituents", ART17__SCOPE__SCOPE_MEMBERS_CONSTITUENTS},
    {"public", ART17__SCOPE__SCOPE_PUBLIC},
    {NULL, 0},
};

static const struct word w_state[] = {
    {"queued", ART17__DELIVERY_STATE__DS_QUEUED},
    {"delivered", ART17__DELIVERY_STATE__DS_DELIVERED},
    {"acked", ART17__DELIVERY_STATE__DS_ACKED},
    {"accepted", ART17__DELIVERY_STATE__DS_ACCEPTED},
    {"answered", ART17__DELIVERY_STATE__DS_ANSWERED},
    {"withdrawn", ART17__DELIVERY_STATE__DS_WITHDRAWN},
    {"overdue", ART17__DELIVERY_STATE__DS_OVERDUE},
    {NULL, 0},
};

/*
 * Looks word up in tab. On a miss prints the valid words and returns
 * CTL_EX_USAGE; on a hit stores the value in *v and returns 0.
 */
static int
word_parse(const char *cmd, const char *opt, const struct word *tab,
           const char *word, int *v)
{
	size_t i;

	for (i = 0; tab[i].w != NULL; i++) {
		if (strcmp(tab[i].w, word) == 0) {
			*v = tab[i].v;
			return 0;
		}
	}
	fprintf(stderr, "art17ctl: %s: invalid %s '%s'; valid:", cmd, opt,
	        word);
	for (i = 0; tab[i].w != NULL; i++)
		fprintf(stderr, "%s %s", i ? "," : "", tab[i].w);
	fputc('\n', stderr);
	return CTL_EX_USAGE;
}

/* The word for v, or "unspecified"/"unknown" for values not in tab. */
static const char *
word_name(const struct word *tab, int v)
{
	size_t i;

	if (v == 0)
		return "unspecified";
	for (i = 0; tab[i].w != NULL; i++)
		if (tab[i].v == v)
			return tab[i].w;
	return "unknown";
}

static const char *
errcode_name(Art17__ErrCode c)
{
	const ProtobufCEnumValue *ev;

	ev = protobuf_c_enum_descriptor_get_value(&art17__err_code__descriptor,
	                                          (int)c);
	return ev != NULL ? ev->name : "ERR_UNKNOWN";
}

/* ENTITY_UNSPECIFIED is treated as an organisation, and shown as one. */
static const char *
entity_name(int v)
{
	return v == ART17__ENTITY__ENTITY_UNSPECIFIED ? "organisation"
	                                              : word_name(w_entity, v);
}

/* ------------------------------------------------------------ checks */

/* Member ids: 1..64 bytes of [A-Za-z0-9._-]. */
static bool
id_ok(const char *s)
{
	size_t n = strlen(s);
	size_t i;

	if (n == 0 || n > CTL_ID_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-'))
			return false;
	}
	return true;
}

/* Free text: non-empty unless allow_empty, at most CTL_TEXT_MAX, no
 * control characters. */
static bool
text_ok(const char *s, bool allow_empty)
{
	size_t n = strlen(s);
	size_t i;

	if ((n == 0 && !allow_empty) || n > CTL_TEXT_MAX)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* Parses "30m", "2h", "3d", "45s" into milliseconds. */
static int
duration_parse(const char *s, int64_t *ms)
{
	char *end;
	long long n;
	int64_t unit;

	errno = 0;
	if (s[0] < '0' || s[0] > '9')
		return A17_EINVAL;
	n = strtoll(s, &end, 10);
	if (errno != 0 || end == s || n <= 0)
		return A17_EINVAL;
	if (strcmp(end, "s") == 0)
		unit = 1000;
	else if (strcmp(end, "m") == 0)
		unit = 60 * 1000;
	else if (strcmp(end, "h") == 0)
		unit = 3600 * 1000;
	else if (strcmp(end, "d") == 0)
		unit = 86400 * 1000;
	else
		return A17_EINVAL;
	/* a year is plenty for a response deadline */
	if (n > 366LL * 86400 * 1000 / unit)
		return A17_EINVAL;
	*ms = (int64_t)n * unit;
	return 0;
}

/* Parses a whole number of seconds in [lo, hi]. */
static int
seconds_parse(const char *s, long lo, long hi, long *out)
{
	char *end;
	long n;

	errno = 0;
	if (s[0] < '0' || s[0] > '9')
		return A17_EINVAL;
	n = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || n < lo || n > hi)
		return A17_EINVAL;
	*out = n;
	return 0;
}

/* Parses a whole number in [0, max]. */
static int
uint_parse(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long n;

	errno = 0;
	if (s[0] < '0' || s[0] > '9')
		return A17_EINVAL;
	n = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || n > max)
		return A17_EINVAL;
	*out = n;
	return 0;
}

/* Reads exactly n decimal digits. */
static int
digits_parse(const char *s, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return A17_EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/*
 * Parses an ISO-8601 UTC instant, 2026-11-26T10:00:00Z, optionally with
 * up to three digits of fractional seconds (...:00.250Z), into Unix ms.
 */
static int
iso_parse(const char *s, int64_t *ms)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30,
	                              31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, frac = 0, nf = 0;
	bool leap;
	const char *p;

	/* each test stops at the first mismatch, so a short s is safe */
	if (digits_parse(s, 4, &y) != 0 || s[4] != '-' ||
	    digits_parse(s + 5, 2, &mo) != 0 || s[7] != '-' ||
	    digits_parse(s + 8, 2, &d) != 0 || s[10] != 'T' ||
	    digits_parse(s + 11, 2, &h) != 0 || s[13] != ':' ||
	    digits_parse(s + 14, 2, &mi) != 0 || s[16] != ':' ||
	    digits_parse(s + 17, 2, &sec) != 0)
		return A17_EINVAL;
	p = s + 19;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9' && nf < 3; p++, nf++)
			frac = frac * 10 + (*p - '0');
		if (nf == 0)
			return A17_EINVAL;
		for (; nf < 3; nf++)
			frac *= 10;
	}
	if (strcmp(p, "Z") != 0)
		return A17_EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 ||
	    sec > 59)
		return A17_EINVAL;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d > mdays[mo - 1] + (mo == 2 && leap ? 1 : 0))
		return A17_EINVAL;
	*ms = (days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	       h * 3600 + mi * 60 + sec) *
	          1000 +
	      frac;
	/* 0 means "now" on the wire: the epoch itself cannot be asked for */
	return *ms > 0 ? 0 : A17_EINVAL;
}

/* Formats ms as 2024-05-01T12:34:56.789Z; empty for 0. */
static void
iso_ms(int64_t ms, char *buf, size_t len)
{
	struct tm tm;
	time_t t;
	unsigned frac;
	size_t n;

	buf[0] = '\0';
	if (ms <= 0)
		return;
	t = (time_t)(ms / 1000);
	frac = (unsigned)(ms % 1000);
	if (gmtime_r(&t, &tm) == NULL)
		return;
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0 || len - n < 6) {
		buf[0] = '\0';
		return;
	}
	buf[n++] = '.';
	buf[n++] = (char)('0' + frac / 100);
	buf[n++] = (char)('0' + frac / 10 % 10);
	buf[n++] = (char)('0' + frac % 10);
	buf[n++] = 'Z';
	buf[n] = '\0';
}

/* Hex of the first 8 bytes of SHA-256 over the raw key; "-" if absent. */
static void
keyid_hex(const ProtobufCBinaryData *pub, char out[2 * A17_KEYID_LEN + 1])
{
	uint8_t h[A17_SHA256_LEN];

	if (pub->len == 0 || crypto_sha256(pub->data, pub->len, h) != 0) {
		snprintf(out, 2 * A17_KEYID_LEN + 1, "-");
		return;
	}
	crypto_hex(h, A17_KEYID_LEN, out);
}

/* Hex of at most max bytes of b into out (2 * max + 1); "-" if empty. */
static void
bin_hex(const ProtobufCBinaryData *b, size_t max, char *out)
{
	if (b->len == 0) {
		strcpy(out, "-");
		return;
	}
	crypto_hex(b->data, b->len < max ? b->len : max, out);
}

/* Replaces control characters so text from the broker cannot forge
 * lines or drive the terminal. */
static void
text_clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* Writes s to f with control characters replaced. */
static void
put_clean(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s, f);
}

/* Reads a whole file into a malloc'd buffer, refusing more than max. */
static int
file_read(const char *path, size_t max, uint8_t **out, size_t *outlen)
{
	FILE *f;
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;
	int rv = 0;

	if ((f = fopen(path, "rb")) == NULL)
		return a17_err_errno(errno);
	for (;;) {
		size_t got;
		if (n == cap) {
			uint8_t *nb;
			if (cap > max) {
				rv = A17_ETOOBIG;
				break;
			}
			cap = cap ? cap * 2 : 65536;
			if ((nb = realloc(buf, cap + 1)) == NULL) {
				rv = A17_ENOMEM;
				break;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f))
				rv = A17_EIO;
			break;
		}
	}
	fclose(f);
	if (rv == 0 && n > max)
		rv = A17_ETOOBIG;
	if (rv != 0) {
		free(buf);
		return rv;
	}
	*out = buf;
	*outlen = n;
	return 0;
}

/* ------------------------------------------------------------ table */

/* An aligned plain-text table; cells are copied. */
#define TABLE_MAXCOLS 8

struct table {
	size_t ncols;
	size_t nrows;
	size_t cap;
	char **cells;
};

static void
table_init(struct table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols < TABLE_MAXCOLS ? ncols : TABLE_MAXCOLS;
}

static void
table_fini(struct table *t)
{
	size_t i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

/* Adds a row of t->ncols strings (NULL prints as empty). */
static int
table_row(struct table *t, ...)
{
	va_list ap;
	size_t i, base;
	int rv = 0;

	if (t->nrows == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		char **nc = realloc(t->cells, ncap * t->ncols * sizeof(char *));
		if (nc == NULL)
			return A17_ENOMEM;
		t->cells = nc;
		t->cap = ncap;
	}
	base = t->nrows * t->ncols;
	va_start(ap, t);
	for (i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);
		t->cells[base + i] = strdup(s ? s : "");
		if (t->cells[base + i] == NULL)
			rv = A17_ENOMEM;
		else
			text_clean(t->cells[base + i]);
	}
	va_end(ap);
	t->nrows++; /* freed by table_fini even on failure */
	return rv;
}

static void
table_print(const struct table *t, FILE *out)
{
	size_t w[TABLE_MAXCOLS] = {0};
	size_t r, c;

	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++) {
			size_t n = strlen(t->cells[r * t->ncols + c]);
			if (n > w[c])
				w[c] = n;
		}
	for (r = 0; r < t->nrows; r++) {
		size_t last = 0;

		/* no padding after the last non-empty cell of a row */
		for (c = 0; c < t->ncols; c++)
			if (t->cells[r * t->ncols + c][0] != '\0')
				last = c;
		for (c = 0; c <= last; c++) {
			const char *s = t->cells[r * t->ncols + c];
			if (c == last)
				fprintf(out, "%s", s);
			else
				fprintf(out, "%-*s  ", (int)w[c], s);
		}
		fputc('\n', out);
	}
}

/* ------------------------------------------------------------ json */

/* Prints j (stolen) indented; returns 0 or CTL_EX_SETUP on ENOMEM. */
static int
jout(json_t *j)
{
	char *s;

	if (j == NULL) {
		ctl_err("out of memory");
		return CTL_EX_SETUP;
	}
	s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (s == NULL) {
		ctl_err("out of memory");
		return CTL_EX_SETUP;
	}
	puts(s);
	free(s);
	return CTL_EX_OK;
}

static json_t *
jtime(int64_t ms)
{
	char buf[40];

	if (ms <= 0)
		return json_null();
	iso_ms(ms, buf, sizeof(buf));
	return json_string(buf);
}

/* Appends item to *a; on failure drops the whole array (*a = NULL, which
 * jout reports as out of memory). Takes item's reference either way. */
static void
jarray_add(json_t **a, json_t *item)
{
	if (*a == NULL) {
		json_decref(item);
		return;
	}
	/* append_new takes the item's reference even when it fails */
	if (json_array_append_new(*a, item) != 0) {
		json_decref(*a);
		*a = NULL;
	}
}

static json_t *
jmember(const Art17__MemberRecord *m)
{
	char kid[2 * A17_KEYID_LEN + 1];

	keyid_hex(&m->id_pub, kid);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:I, "
	                 "s:o}",
	                 "id", m->member_id, "name", m->name, "entity",
	                 entity_name(m->entity), "class",
	                 word_name(w_class, m->member_class), "category",
	                 word_name(w_category, m->category), "mutual_aid",
	                 m->mutual_aid, "parent_org", m->parent_org, "poc",
	                 m->poc, "key_id", kid, "member_no",
	                 (json_int_t)m->member_no, "created",
	                 jtime(m->created_ms));
}

/* "member" is the older name of "member_id", kept for scripts. */
static json_t *
jcopy_status(const Art17__CopyStatus *c)
{
	return json_pack("{s:s, s:I, s:s, s:o, s:o, s:o, s:s, s:s}",
	                 "member_id", c->member_id, "seq", (json_int_t)c->seq,
	                 "state", word_name(w_state, c->state), "queued",
	                 jtime(c->queued_ms), "delivered",
	                 jtime(c->delivered_ms), "acked", jtime(c->acked_ms),
	                 "reason", c->reason, "member", c->member_id);
}

static json_t *
jrequest(const Art17__RequestRecord *r)
{
	return json_pack("{s:s, s:I, s:s, s:s, s:b, s:o, s:I}", "request_id",
	                 r->request_id, "request_no", (json_int_t)r->request_no,
	                 "title", r->title, "kind", word_name(w_kind, r->kind),
	                 "exercise", r->exercise, "issued", jtime(r->issued_ms),
	                 "n_copies", (json_int_t)r->n_copies);
}

/* ------------------------------------------------------------ transport */

static int
ctl_keyfn(void *arg, const uint8_t *key_id, size_t len, const a17_key **k)
{
	/* Replies are unsigned; a signed one from an unknown key is refused. */
	(void)arg;
	(void)key_id;
	(void)len;
	*k = NULL;
	return A17_EUNKNOWNKEY;
}

/* Loads the coordinator key; returns 0 or CTL_EX_SETUP. */
static int
ctl_load_key(struct ctl *c)
{
	int rv;

	if (c->keypath == NULL) {
		int n = snprintf(c->keybuf, sizeof(c->keybuf),
		                 "%s/coordinators/%s/id.key", c->pki, c->coord);
		if (n < 0 || (size_t)n >= sizeof(c->keybuf)) {
			ctl_err("coordinator key path too long");
			return CTL_EX_SETUP;
		}
		c->keypath = c->keybuf;
	}
	if ((rv = crypto_key_load(c->keypath, &c->key)) != 0) {
		if (rv == A17_EDENIED)
			ctl_err("cannot load the coordinator key %s: %s (a "
			        "private key must not be readable by group or "
			        "others: chmod 600 it)",
			        c->keypath, a17_strerror(rv));
		else
			ctl_err("cannot load the coordinator key %s: %s (use "
			        "-K/--key FILE or ART17_COORD_KEY)",
			        c->keypath, a17_strerror(rv));
		return CTL_EX_SETUP;
	}
	if (!crypto_key_has_private(c->key)) {
		ctl_err("%s is a public key; the coordinator key must be "
		        "private",
		        c->keypath);
		return CTL_EX_SETUP;
	}
	return CTL_EX_OK;
}

/* Loads the key and dials the admin socket; returns 0 or CTL_EX_SETUP. */
static int
ctl_connect(struct ctl *c)
{
	int rv;

	if ((rv = ctl_load_key(c)) != 0)
		return rv;
	snprintf(c->url, sizeof(c->url), "ipc://%s/admin.sock", c->datadir);
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		ctl_err("cannot open a socket: %s", nng_strerror(rv));
		return CTL_EX_SETUP;
	}
	c->open = true;
	if ((rv = nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO,
	                            (nng_duration)c->timeout_s * 1000)) != 0 ||
	    (rv = nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO,
	                            (nng_duration)c->timeout_s * 1000)) != 0 ||
	    (rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ,
	                              WIRE_MAX_LOCAL)) != 0) {
		ctl_err("cannot set socket options: %s", nng_strerror(rv));
		return CTL_EX_SETUP;
	}
	if ((rv = nng_dial(c->sock, c->url, NULL, 0)) != 0) {
		ctl_err("cannot reach the broker at %s: %s (is art17-broker "
		        "running with -d %s?)",
		        c->url, nng_strerror(rv), c->datadir);
		return CTL_EX_SETUP;
	}
	return CTL_EX_OK;
}

static void
ctl_fini(struct ctl *c)
{
	if (c->open)
		nng_close(c->sock);
	c->open = false;
	crypto_key_free(c->key);
	c->key = NULL;
}

/*
 * Sends req and waits for the reply. On CTL_EX_OK *m holds the reply (the
 * caller calls wire_msg_fini) and *rep points into it. On a refusal prints
 * the broker's message and returns CTL_EX_REFUSED or CTL_EX_NOTFOUND; m is then
 * already finished. *rbuf receives the receive buffer, which m points into;
 * free it with nng_free(*rbuf, *rlen) after wire_msg_fini.
 */
static int
ctl_call(struct ctl *c, Art17__AdminRequest *req, wire_msg *m,
         Art17__AdminReply **rep, void **rbuf, size_t *rlen)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr = ART17__HEADER__INIT;
	uint8_t idbuf[WIRE_MSGID_LEN];
	uint8_t *out = NULL;
	size_t outlen = 0;
	void *in = NULL;
	size_t inlen = 0;
	Art17__ErrCode code;
	const char *mc, *detail;
	int rv;

	*rep = NULL;
	*rbuf = NULL;
	*rlen = 0;
	memset(m, 0, sizeof(*m));
	/* a fresh header (and msg_id) per request: the broker drops replays */
	if ((rv = wire_header_init(&hdr, idbuf, ART17__MSG_KIND__MSG_ADMIN,
	                           c->coord, 0)) == 0) {
		body.hdr = &hdr;
		body.payload_case = ART17__BODY__PAYLOAD_ADMIN;
		body.admin = req;
		rv = wire_seal(&body, c->key, &out, &outlen);
	}
	if (rv != 0) {
		ctl_err("cannot build the request: %s", a17_strerror(rv));
		return CTL_EX_SETUP;
	}
	rv = nng_send(c->sock, out, outlen, 0);
	free(out);
	if (rv != 0) {
		ctl_err("cannot send to the broker at %s: %s", c->url,
		        nng_strerror(rv));
		return CTL_EX_SETUP;
	}
	if ((rv = nng_recv(c->sock, &in, &inlen, NNG_FLAG_ALLOC)) != 0) {
		if (rv == NNG_ETIMEDOUT)
			ctl_err("no reply from the broker at %s within %d s",
			        c->url, c->timeout_s);
		else
			ctl_err("cannot receive from the broker at %s: %s",
			        c->url, nng_strerror(rv));
		return CTL_EX_SETUP;
	}
	/* replies come only over the local ipc socket; a large issue's
	 * reply lists every copy (broker/admin.c pack_large_reply) */
	if ((rv = wire_open(in, inlen, WIRE_MAX_LOCAL, ctl_keyfn, NULL,
	                    WIRE_F_ALLOW_UNSIGNED | WIRE_F_LOCAL, m)) != 0) {
		ctl_err("bad reply from the broker: %s", a17_strerror(rv));
		nng_free(in, inlen);
		return CTL_EX_SETUP;
	}
	switch (m->body->payload_case) {
	case ART17__BODY__PAYLOAD_ADMIN_REPLY:
		if (m->body->admin_reply == NULL)
			goto bad;
		code = m->body->admin_reply->code;
		mc = m->body->admin_reply->msg_code;
		detail = m->body->admin_reply->detail;
		break;
	case ART17__BODY__PAYLOAD_ERROR:
		/* the broker refused before it got to the admin op */
		if (m->body->error == NULL)
			goto bad;
		code = m->body->error->code;
		if (code == ART17__ERR_CODE__ERR_UNSPECIFIED)
			code = ART17__ERR_CODE__ERR_INTERNAL;
		mc = m->body->error->msg_code;
		detail = m->body->error->detail;
		break;
	default:
		goto bad;
	}
	if (code != ART17__ERR_CODE__ERR_UNSPECIFIED) {
		if (c->on_refusal != NULL &&
		    m->body->payload_case == ART17__BODY__PAYLOAD_ADMIN_REPLY)
			c->on_refusal(m->body->admin_reply);
		fprintf(stderr, "art17ctl: %s: %s\n",
		        (mc && mc[0]) ? mc : errcode_name(code),
		        (detail && detail[0]) ? detail : errcode_name(code));
		wire_msg_fini(m);
		nng_free(in, inlen);
		return code == ART17__ERR_CODE__ERR_NOT_FOUND ? CTL_EX_NOTFOUND
		                                              : CTL_EX_REFUSED;
	}
	*rep = m->body->admin_reply;
	*rbuf = in;
	*rlen = inlen;
	return CTL_EX_OK;
bad:
	ctl_err("unexpected reply from the broker (payload %d)",
	        (int)m->body->payload_case);
	wire_msg_fini(m);
	nng_free(in, inlen);
	return CTL_EX_SETUP;
}

/* A reply and the buffers behind it. */
struct reply {
	wire_msg m;
	void *buf;
	size_t len;
	Art17__AdminReply *r;
};

static int
reply_get(struct ctl *c, Art17__AdminRequest *req, struct reply *rp)
{
	int rv;

	memset(rp, 0, sizeof(*rp));
	if ((rv = ctl_connect(c)) != 0)
		return rv;
	return ctl_call(c, req, &rp->m, &rp->r, &rp->buf, &rp->len);
}

static void
reply_fini(struct reply *rp)
{
	if (rp->r != NULL)
		wire_msg_fini(&rp->m);
	if (rp->buf != NULL)
		nng_free(rp->buf, rp->len);
	memset(rp, 0, sizeof(*rp));
}

/* ------------------------------------------------------------ getopt */

/* Global options, to explain when one is given after the command. */
static const char *const globals[] = {
    "-d", "--data", "-p",        "--pki", "-u",        "--coordinator",
    "-K", "-t",     "--timeout", "-V",    "--version", NULL};

/*
 * Reports a getopt error for cmd. With opterr off and ':' leading the
 * short options, ':' is a missing argument and '?' an unknown option.
 */
static int
opt_error(const char *cmd, int ch, char **argv)
{
	const char *bad = argv[optind - 1];
	char sbuf[3];
	size_t i;

	/* a short option may sit inside a bundle: name it by itself */
	if (optopt > 0 && optopt < 128 && optopt != '?' &&
	    !(ch == ':' && strncmp(bad, "--", 2) == 0)) {
		snprintf(sbuf, sizeof(sbuf), "-%c", optopt);
		bad = sbuf;
	}
	if (ch == ':')
		return ctl_usage(cmd, "option '%s' needs an argument", bad);
	for (i = 0; cmd != NULL && globals[i] != NULL; i++)
		if (strcmp(bad, globals[i]) == 0)
			return ctl_usage(
			    cmd,
			    "unknown option '%s' (global options go before "
			    "the command)",
			    bad);
	return ctl_usage(cmd, "unknown option '%s'", bad);
}

static void
opt_reset(void)
{
	optind = 0; /* glibc: full re-initialisation */
	opterr = 0;
}

/* ------------------------------------------------------------ member */

static int
cmd_member_add(struct ctl *c, int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"id", required_argument, NULL, 'i'},
	    {"name", required_argument, NULL, 'n'},
	    {"key", required_argument, NULL, 'k'},
	    {"class", required_argument, NULL, 'c'},
	    {"category", required_argument, NULL, 'C'},
	    {"entity", required_argument, NULL, 'e'},
	    {"mutual-aid", no_argument, NULL, 'm'},
	    {"parent", required_argument, NULL, 'P'},
	    {"poc", required_argument, NULL, 'o'},
	    {"reporter", no_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "member add";
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__MemberRecord rec = ART17__MEMBER_RECORD__INIT;
	const char *id = NULL, *name = NULL, *keyfile = NULL;
	const char *parent = "", *poc = "";
	int cls = ART17__MEMBER_CLASS__CLASS_GENERAL;
	int cat = ART17__CATEGORY__CAT_OTHER;
	int entity = ART17__ENTITY__ENTITY_ORGANISATION;
	bool mutual = false, reporter = false;
	uint8_t pub[A17_PUBKEY_LEN];
	a17_key *mk = NULL;
	struct reply rp;
	int ch, rv;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'i':
			id = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'c':
			if ((rv = word_parse(cmd, "--class", w_class, optarg,
			                     &cls)) != 0)
				return rv;
			break;
		case 'C':
			if ((rv = word_parse(cmd, "--category", w_category,
			                     optarg, &cat)) != 0)
				return rv;
			break;
		case 'e':
			if ((rv = word_parse(cmd, "--entity", w_entity, optarg,
			                     &entity)) != 0)
				return rv;
			break;
		case 'm':
			mutual = true;
			break;
		case 'P':
			parent = optarg;
			break;
		case 'o':
			poc = optarg;
			break;
		case 'r':
			reporter = true;
			break;
		case 'h':
			fputs(usage_member_add, stdout);
			return CTL_EX_OK;
		default:
			return opt_error(cmd, ch, argv);
		}
	}
	if (optind < argc)
		return ctl_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (id == NULL)
		return ctl_usage(cmd, "--id is required");
	if (name == NULL)
		return ctl_usage(cmd, "--name is required");
	if (keyfile == NULL)
		return ctl_usage(cmd, "--key is required");
	if (!id_ok(id))
		return ctl_usage(
		    cmd,
		    "invalid --id '%s' (1-%d characters of A-Z a-z 0-9 . _ -)",
		    id, CTL_ID_MAX);
	if (!text_ok(name, false))
		return ctl_usage(cmd,
		                 "invalid --name (1-%d characters, no "
		                 "control characters)",
		                 CTL_TEXT_MAX);
	if (!text_ok(parent, true))
		return ctl_usage(cmd,
		                 "invalid --parent (at most %d "
		                 "characters, no control characters)",
		                 CTL_TEXT_MAX);
	if (!text_ok(poc, true))
		return ctl_usage(cmd,
		                 "invalid --poc (at most %d characters, "
		                 "no control characters)",
		                 CTL_TEXT_MAX);
	if (entity == ART17__ENTITY__ENTITY_DEPARTMENT && parent[0] == '\0')
		return ctl_usage(cmd, "--entity department needs --parent ORG "
		                      "(the organisation it belongs to)");

	if ((rv = crypto_key_load(keyfile, &mk)) != 0) {
		ctl_err("%s: cannot load the member key %s: %s", cmd, keyfile,
		        a17_strerror(rv));
		return CTL_EX_SETUP;
	}
	rv = crypto_key_raw_public(mk, pub);
	crypto_key_free(mk);
	if (rv != 0) {
		ctl_err("%s: cannot read the public key in %s: %s", cmd,
		        keyfile, a17_strerror(rv));
		return CTL_EX_SETUP;
	}

	rec.member_id = (char *)id;
	rec.name = (char *)name;
	rec.member_class = (Art17__MemberClass)cls;
	rec.category = (Art17__Category)cat;
	rec.mutual_aid = mutual;
	rec.entity = (Art17__Entity)entity;
	rec.parent_org = (char *)parent;
	rec.poc = (char *)poc;
	rec.reporter = reporter;
	rec.id_pub.data = pub;
	rec.id_pub.len = sizeof(pub);
	req.op_case = ART17__ADMIN_REQUEST__OP_MEMBER_ADD;
	req.member_add = &rec;
	if ((rv = reply_get(c, &req, &rp)) == 0)
		printf("%s %s added\n", reporter ? "reporter" : "member", id);
	reply_fini(&rp);
	return rv;
}

/* Parses "[ID] [--json]" for the simple commands; json NULL: no --json. */
static int
parse_simple(int argc, char **argv, const char *cmd, const char *usage,
             bool want_id, const char **id, bool *json)
{
	static const struct option lopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	if (json != NULL)
		*json = false;
	opt_reset();
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			if (json == NULL)
				return opt_error(cmd, '?', argv);
			*json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return -1;
		default:
			return opt_error(cmd, ch, argv);
		}
	}
	if (want_id) {
		if (optind >= argc)
			return ctl_usage(cmd, "missing ID");
		*id = argv[optind++];
	}
	if (optind < argc)
		return ctl_usage(cmd, "unexpected argument '%s'", argv[optind]);
	return 0;
}

static void
member_table(Art17__MemberRecord **ms, size_t n)
{
	struct table t;
	size_t i;

	table_init(&t, 8);
	table_row(&t, "ID", "NAME", "ENTITY", "PARENT", "CLASS", "CATEGORY",
	          "MUTUAL-AID", "KEY-ID");
	for (i = 0; i < n; i++) {
		char kid[2 * A17_KEYID_LEN + 1];
		keyid_hex(&ms[i]->id_pub, kid);
		table_row(&t, ms[i]->member_id, ms[i]->name,
		          entity_name(ms[i]->entity),
		          ms[i]->parent_org[0] ? ms[i]->parent_org : "-",
		          word_name(w_class, ms[i]->member_class),
		          word_name(w_category, ms[i]->category),
		          ms[i]->mutual_aid ? "yes" : "no", kid);
	}
	table_print(&t, stdout);
	table_fini(&t);
}

static int
cmd_member_list(struct ctl *c, int argc, char **argv)
{
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__MemberQuery q = ART17__MEMBER_QUERY__INIT;
	struct reply rp;
	bool json;
	size_t i;
	int rv;

	if ((rv = parse_simple(argc, argv, "member list", usage_member_list,
	                       false, NULL, &json)) != 0)
		return rv < 0 ? CTL_EX_OK : rv;
	req.op_case = ART17__ADMIN_REQUEST__OP_MEMBER_LIST;
	req.member_list = &q;
	if ((rv = reply_get(c, &req, &rp)) == 0) {
		if (json) {
			json_t *a = json_array();
			for (i = 0; i < rp.r->n_members; i++)
				jarray_add(&a, jmember(rp.r->members[i]));
			rv = jout(a);
		} else {
			member_table(rp.r->members, rp.r->n_members);
		}
	}
	reply_fini(&rp);
	return rv;
}

static int
cmd_member_show(struct ctl *c, int argc, char **argv)
{
	const char *cmd = "member show";
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__MemberQuery q = ART17__MEMBER_QUERY__INIT;
	const Art17__MemberRecord *m;
	const char *id = NULL;
	struct reply rp;
	bool json;
	int rv;

	if ((rv = parse_simple(argc, argv, cmd, usage_member_show, true, &id,
	                       &json)) != 0)
		return rv < 0 ? CTL_EX_OK : rv;
	if (!id_ok(id))
		return ctl_usage(cmd, "invalid member id '%s'", id);
	q.member_id = (char *)id;
	req.op_case = ART17__ADMIN_REQUEST__OP_MEMBER_SHOW;
	req.member_show = &q;
	if ((rv = reply_get(c, &req, &rp)) != 0)
		goto out;
	if (rp.r->n_members == 0) {
		ctl_err("ERR_NOT_FOUND: member %s", id);
		rv = CTL_EX_NOTFOUND;
		goto out;
	}
	m = rp.r->members[0];
	if (json) {
		rv = jout(jmember(m));
	} else {
		char kid[2 * A17_KEYID_LEN + 1], created[40];
		struct table t;
		char no[24], nseq[24];
		size_t i;

		keyid_hex(&m->id_pub, kid);
		iso_ms(m->created_ms, created, sizeof(created));
		snprintf(no, sizeof(no), "%" PRIu32, m->member_no);
		snprintf(nseq, sizeof(nseq), "%" PRIu64, m->next_seq);
		table_init(&t, 2);
		table_row(&t, "id:", m->member_id);
		table_row(&t, "name:", m->name);
		table_row(&t, "entity:", entity_name(m->entity));
		table_row(&t, "class:", word_name(w_class, m->member_class));
		table_row(&t, "category:", word_name(w_category, m->category));
		table_row(&t, "mutual-aid:", m->mutual_aid ? "yes" : "no");
		table_row(&t, "parent:", m->parent_org);
		table_row(&t, "poc:", m->poc);
		table_row(&t, "key-id:", kid);
		table_row(&t, "member-no:", no);
		table_row(&t, "created:", created);
		table_row(&t, "next-seq:", nseq);
		for (i = 0; i < m->n_old_keys; i++) {
			keyid_hex(&m->old_keys[i], kid);
			table_row(&t, "old-key-id:", kid);
		}
		table_print(&t, stdout);
		table_fini(&t);
	}
out:
	reply_fini(&rp);
	return rv;
}

/* ------------------------------------------------------------ request */

/* Splits "a,b,c" into ids; validates each. Caller frees *v (not items). */
static int
split_to(const char *cmd, char *s, char ***v, size_t *n)
{
	char **arr;
	size_t cnt = 1, i = 0;
	char *p;

	for (p = s; *p; p++)
		if (*p == ',')
			cnt++;
	if ((arr = calloc(cnt, sizeof(char *))) == NULL) {
		ctl_err("out of memory");
		return CTL_EX_SETUP;
	}
	/* strtok_r would skip empty items; walk by hand to refuse them */
	p = s;
	for (;;) {
		char *comma = strchr(p, ',');
		size_t j;
		if (comma != NULL)
			*comma = '\0';
		if (!id_ok(p)) {
			free(arr);
			return ctl_usage(
			    cmd,
			    "invalid member id '%s' in --to (1-%d characters "
			    "of A-Z a-z 0-9 . _ -)",
			    p, CTL_ID_MAX);
		}
		for (j = 0; j < i; j++)
			if (strcmp(arr[j], p) == 0) {
				free(arr);
				return ctl_usage(
				    cmd, "member '%s' named twice in --to", p);
			}
		arr[i++] = p;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*v = arr;
	*n = i;
	return 0;
}

/* "excluded:" and a member/reason table, if anyone was left out. */
static void
excluded_print(const Art17__IssueResult *ir, FILE *out)
{
	struct table t;
	size_t i;

	if (ir->n_excluded == 0)
		return;
	fprintf(out, "excluded:\n");
	table_init(&t, 2);
	for (i = 0; i < ir->n_excluded; i++)
		table_row(&t, ir->excluded[i]->member_id,
		          ir->excluded[i]->reason[0] ? ir->excluded[i]->reason
		                                     : "(no reason given)");
	table_print(&t, out);
	table_fini(&t);
}

static int
issue_print(const Art17__IssueResult *ir, bool json)
{
	size_t i;

	if (json) {
		json_t *j, *inc, *exc;

		inc = json_array();
		exc = json_array();
		for (i = 0; inc && i < ir->n_included; i++) {
			const Art17__CopyStatus *cs = ir->included[i];
			json_array_append_new(
			    inc,
			    json_pack("{s:s, s:I, s:s, s:s}", "member_id",
			              cs->member_id, "seq", (json_int_t)cs->seq,
			              "state", word_name(w_state, cs->state),
			              "member", cs->member_id));
		}
		for (i = 0; exc && i < ir->n_excluded; i++) {
			const Art17__CopyStatus *cs = ir->excluded[i];
			json_array_append_new(
			    exc, json_pack("{s:s, s:s, s:s}", "member_id",
			                   cs->member_id, "reason", cs->reason,
			                   "member", cs->member_id));
		}
		j = json_pack("{s:s, s:o, s:o}", "request_id", ir->request_id,
		              "included", inc, "excluded", exc);
		return jout(j);
	}
	printf("%s\n", ir->request_id);
	if (ir->n_included > 0) {
		struct table t;
		printf("included:\n");
		table_init(&t, 3);
		for (i = 0; i < ir->n_included; i++) {
			char seq[24];
			snprintf(seq, sizeof(seq), "%" PRIu64,
			         ir->included[i]->seq);
			table_row(&t, ir->included[i]->member_id,
			          word_name(w_state, ir->included[i]->state),
			          seq);
		}
		table_print(&t, stdout);
		table_fini(&t);
	}
	excluded_print(ir, stdout);
	return CTL_EX_OK;
}

/* A refused issue: say who was left out and why, before the error line. */
static void
issue_refused(const Art17__AdminReply *r)
{
	if (r != NULL && r->issued != NULL)
		excluded_print(r->issued, stderr);
}

static int
cmd_request_issue(struct ctl *c, int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"kind", required_argument, NULL, 'k'},
	    {"incident", required_argument, NULL, 'i'},
	    {"title", required_argument, NULL, 't'},
	    {"content", required_argument, NULL, 'c'},
	    {"content-file", required_argument, NULL, 'f'},
	    {"tlp", required_argument, NULL, 'T'},
	    {"secret", required_argument, NULL, 's'},
	    {"scope", required_argument, NULL, 'S'},
	    {"deadline", required_argument, NULL, 'D'},
	    {"exercise", no_argument, NULL, 'x'},
	    {"to", required_argument, NULL, 'o'},
	    {"force", no_argument, NULL, 'F'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "request issue";
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__IssueRequest ir = ART17__ISSUE_REQUEST__INIT;
	Art17__Marking mk = ART17__MARKING__INIT;
	const char *incident = NULL, *title = NULL, *content = NULL;
	const char *cfile = NULL, *deadline = NULL;
	char *to = NULL;
	int kind = 0, tlp = ART17__TLP__TLP_AMBER, secret = 0;
	int scope = ART17__SCOPE__SCOPE_MEMBERS;
	bool exercise = false, json = false, force = false;
	int64_t dl_ms = 0;
	uint8_t *cbuf = NULL;
	size_t clen = 0;
	char **tov = NULL;
	size_t ton = 0;
	struct reply rp;
	int ch, rv;

	memset(&rp, 0, sizeof(rp));
	opt_reset();
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			if ((rv = word_parse(cmd, "--kind", w_kind, optarg,
			                     &kind)) != 0)
				return rv;
			break;
		case 'i':
			incident = optarg;
			break;
		case 't':
			title = optarg;
			break;
		case 'c':
			content = optarg;
			break;
		case 'f':
			cfile = optarg;
			break;
		case 'T':
			if ((rv = word_parse(cmd, "--tlp", w_tlp, optarg,
			                     &tlp)) != 0)
				return rv;
			break;
		case 's':
			if ((rv = word_parse(cmd, "--secret", w_secret, optarg,
			                     &secret)) != 0)
				return rv;
			break;
		case 'S':
			if ((rv = word_parse(cmd, "--scope", w_scope, optarg,
			                     &scope)) != 0)
				return rv;
			break;
		case 'D':
			deadline = optarg;
			break;
		case 'x':
			exercise = true;
			break;
		case 'o':
			to = optarg;
			break;
		case 'F':
			force = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(usage_request_issue, stdout);
			return CTL_EX_OK;
		default:
			return opt_error(cmd, ch, argv);
		}
	}
	if (optind < argc)
		return ctl_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (kind == 0)
		return ctl_usage(cmd, "--kind is required (cooperation or "
		                      "share)");
	if (incident == NULL)
		return ctl_usage(cmd, "--incident is required");
	if (title == NULL)
		return ctl_usage(cmd, "--title is required");
	if (content == NULL && cfile == NULL)
		return ctl_usage(cmd, "--content or --content-file is "
		                      "required");
	if (content != NULL && cfile != NULL)
		return ctl_usage(cmd, "give --content or --content-file, not "
		                      "both");
	if (secret == 0)
		return ctl_usage(cmd, "--secret yes|no is required: secrecy "
		                      "is always explicit");
	if (!id_ok(incident))
		return ctl_usage(
		    cmd,
		    "invalid --incident '%s' (1-%d characters of A-Z a-z 0-9 "
		    ". _ -)",
		    incident, CTL_ID_MAX);
	if (!text_ok(title, false))
		return ctl_usage(cmd,
		                 "invalid --title (1-%d characters, no "
		                 "control characters)",
		                 CTL_TEXT_MAX);
	if (content != NULL &&
	    (content[0] == '\0' || strlen(content) > CTL_CONTENT_MAX))
		return ctl_usage(cmd, "--content must be 1-%d bytes",
		                 CTL_CONTENT_MAX);
	if (deadline != NULL) {
		if (duration_parse(deadline, &dl_ms) != 0)
			return ctl_usage(
			    cmd,
			    "invalid --deadline '%s' (a number with s, m, h "
			    "or d, e.g. 30m, 2h, 3d; at most 366d)",
			    deadline);
	} else if (kind == ART17__ITEM_KIND__KIND_COOPERATION_REQUEST) {
		dl_ms = CTL_COOP_DEADLINE_MS;
	}
	if (to != NULL && (rv = split_to(cmd, to, &tov, &ton)) != 0)
		return rv;

	if (cfile != NULL) {
		if ((rv = file_read(cfile, CTL_CONTENT_MAX, &cbuf, &clen)) !=
		    0) {
			ctl_err("%s: cannot read --content-file %s: %s%s", cmd,
			        cfile, a17_strerror(rv),
			        rv == A17_ETOOBIG ? " (limit 960 KiB)" : "");
			rv = CTL_EX_SETUP;
			goto out;
		}
		if (clen == 0) {
			rv =
			    ctl_usage(cmd, "--content-file %s is empty", cfile);
			goto out;
		}
	}

	mk.tlp = (Art17__Tlp)tlp;
	mk.secret = (Art17__Secret)secret;
	mk.scope = (Art17__Scope)scope;
	mk.revision = 1;
	ir.kind = (Art17__ItemKind)kind;
	ir.incident_id = (char *)incident;
	ir.title = (char *)title;
	if (cbuf != NULL) {
		ir.content.data = cbuf;
		ir.content.len = clen;
	} else {
		ir.content.data = (uint8_t *)content;
		ir.content.len = strlen(content);
	}
	ir.marking = &mk;
	ir.deadline_ms = dl_ms ? wire_now_ms() + dl_ms : 0;
	ir.exercise = exercise;
	ir.force = force;
	ir.n_to = ton;
	ir.to = tov;
	req.op_case = ART17__ADMIN_REQUEST__OP_REQUEST_ISSUE;
	req.request_issue = &ir;
	c->on_refusal = issue_refused;
	rv = reply_get(c, &req, &rp);
	c->on_refusal = NULL;
	if (rv != 0)
		goto out;
	if (rp.r->issued == NULL) {
		ctl_err("the broker's reply carries no issue result");
		rv = CTL_EX_SETUP;
		goto out;
	}
	rv = issue_print(rp.r->issued, json);
out:
	reply_fini(&rp);
	free(cbuf);
	free(tov);
	return rv;
}

static bool
state_final(Art17__DeliveryState s)
{
	return s == ART17__DELIVERY_STATE__DS_ACKED ||
	       s == ART17__DELIVERY_STATE__DS_ACCEPTED ||
	       s == ART17__DELIVERY_STATE__DS_ANSWERED ||
	       s == ART17__DELIVERY_STATE__DS_WITHDRAWN;
}

static size_t
count_final(const Art17__AdminReply *r)
{
	size_t i, n = 0;

	for (i = 0; i < r->n_copies; i++)
		if (state_final(r->copies[i]->state))
			n++;
	return n;
}

/*
 * "5 copies: 2 acked, 1 withdrawn, 2 queued": every state present is
 * counted, the settled ones first, then those still under way.
 */
static void
status_summary(const Art17__AdminReply *r, char *buf, size_t len)
{
	static const Art17__DeliveryState order[] = {
	    ART17__DELIVERY_STATE__DS_ACKED,
	    ART17__DELIVERY_STATE__DS_ACCEPTED,
	    ART17__DELIVERY_STATE__DS_ANSWERED,
	    ART17__DELIVERY_STATE__DS_WITHDRAWN,
	    ART17__DELIVERY_STATE__DS_QUEUED,
	    ART17__DELIVERY_STATE__DS_DELIVERED,
	    ART17__DELIVERY_STATE__DS_OVERDUE,
	};
	size_t cnt[8] = {0}, other = 0, i;
	size_t off;
	bool first = true;

	for (i = 0; i < r->n_copies; i++) {
		int s = r->copies[i]->state;
		if (s >= 1 && s <= 7)
			cnt[s]++;
		else
			other++;
	}
	off = (size_t)snprintf(buf, len, "%zu %s", r->n_copies,
	                       r->n_copies == 1 ? "copy" : "copies");
	for (i = 0; i < sizeof(order) / sizeof(order[0]) && off < len; i++) {
		size_t n = cnt[order[i]];
		if (n == 0)
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%zu %s",
		                        first ? ": " : ", ", n,
		                        word_name(w_state, order[i]));
		first = false;
	}
	if (other > 0 && off < len)
		snprintf(buf + off, len - off, "%s%zu unknown",
		         first ? ": " : ", ", other);
}

static int
status_print(const Art17__AdminReply *r, const char *id, bool json)
{
	char sum[256];
	size_t i;

	status_summary(r, sum, sizeof(sum));
	if (json) {
		json_t *cp = json_array();
		json_t *j;
		for (i = 0; cp && i < r->n_copies; i++)
			json_array_append_new(cp, jcopy_status(r->copies[i]));
		j = json_pack(
		    "{s:s, s:o, s:o, s:I, s:I, s:b, s:s}", "request_id",
		    r->request ? r->request->request_id : id, "request",
		    r->request ? jrequest(r->request) : json_null(), "copies",
		    cp, "n_copies", (json_int_t)r->n_copies, "n_done",
		    (json_int_t)count_final(r), "all_acked",
		    count_final(r) == r->n_copies, "summary", sum);
		return jout(j);
	}
	if (r->request != NULL) {
		char issued[40];
		iso_ms(r->request->issued_ms, issued, sizeof(issued));
		printf("request %s  %s%s  issued %s\n", r->request->request_id,
		       word_name(w_kind, r->request->kind),
		       r->request->exercise ? " (exercise)" : "", issued);
		printf("title: %s\n", r->request->title);
	} else {
		printf("request %s\n", id);
	}
	if (r->n_copies > 0) {
		struct table t;
		table_init(&t, 7);
		table_row(&t, "MEMBER", "SEQ", "STATE", "QUEUED", "DELIVERED",
		          "ACKED", "REASON");
		for (i = 0; i < r->n_copies; i++) {
			const Art17__CopyStatus *cs = r->copies[i];
			char seq[24], q[40], d[40], a[40];
			snprintf(seq, sizeof(seq), "%" PRIu64, cs->seq);
			iso_ms(cs->queued_ms, q, sizeof(q));
			iso_ms(cs->delivered_ms, d, sizeof(d));
			iso_ms(cs->acked_ms, a, sizeof(a));
			table_row(&t, cs->member_id, seq,
			          word_name(w_state, cs->state), q, d, a,
			          cs->reason);
		}
		table_print(&t, stdout);
		table_fini(&t);
	}
	printf("%s\n", sum);
	return CTL_EX_OK;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int
cmd_request_status(struct ctl *c, int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"wait-acked", required_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "request status";
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__StatusQuery q = ART17__STATUS_QUERY__INIT;
	const char *id;
	bool json = false;
	long wait_s = -1;
	int64_t until = 0;
	struct reply rp;
	int ch, rv;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = true;
			break;
		case 'w':
			if (seconds_parse(optarg, 0, 86400, &wait_s) != 0)
				return ctl_usage(
				    cmd,
				    "invalid --wait-acked '%s' (whole seconds, "
				    "0-86400)",
				    optarg);
			break;
		case 'h':
			fputs(usage_request_status, stdout);
			return CTL_EX_OK;
		default:
			return opt_error(cmd, ch, argv);
		}
	}
	if (optind >= argc)
		return ctl_usage(cmd, "missing request ID");
	id = argv[optind++];
	if (optind < argc)
		return ctl_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (!text_ok(id, false) || strlen(id) > CTL_ID_MAX * 2)
		return ctl_usage(cmd, "invalid request id '%s'", id);

	q.request_id = (char *)id;
	req.op_case = ART17__ADMIN_REQUEST__OP_REQUEST_STATUS;
	req.request_status = &q;
	if ((rv = ctl_connect(c)) != 0)
		return rv;
	if (wait_s >= 0)
		until = wire_now_ms() + (int64_t)wait_s * 1000;
	memset(&rp, 0, sizeof(rp));
	for (;;) {
		rv = ctl_call(c, &req, &rp.m, &rp.r, &rp.buf, &rp.len);
		if (rv != 0)
			return rv;
		if (wait_s < 0 || count_final(rp.r) == rp.r->n_copies)
			break;
		if (wire_now_ms() >= until) {
			status_print(rp.r, id, json);
			ctl_err("timed out after %ld s: %zu of %zu copies "
			        "acked, accepted, answered or withdrawn",
			        wait_s, count_final(rp.r), rp.r->n_copies);
			reply_fini(&rp);
			return CTL_EX_WAIT;
		}
		reply_fini(&rp);
		sleep_ms(CTL_POLL_INTERVAL_MS);
	}
	rv = status_print(rp.r, id, json);
	reply_fini(&rp);
	return rv;
}

static int
cmd_request_list(struct ctl *c, int argc, char **argv)
{
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__StatusQuery q = ART17__STATUS_QUERY__INIT;
	struct reply rp;
	bool json;
	size_t i;
	int rv;

	if ((rv = parse_simple(argc, argv, "request list", usage_request_list,
	                       false, NULL, &json)) != 0)
		return rv < 0 ? CTL_EX_OK : rv;
	req.op_case = ART17__ADMIN_REQUEST__OP_REQUEST_LIST;
	req.request_list = &q;
	if ((rv = reply_get(c, &req, &rp)) != 0)
		goto out;
	if (json) {
		json_t *a = json_array();
		for (i = 0; i < rp.r->n_requests; i++)
			jarray_add(&a, jrequest(rp.r->requests[i]));
		rv = jout(a);
	} else {
		struct table t;
		table_init(&t, 6);
		table_row(&t, "REQUEST", "KIND", "ISSUED", "COPIES", "EXERCISE",
		          "TITLE");
		for (i = 0; i < rp.r->n_requests; i++) {
			const Art17__RequestRecord *r = rp.r->requests[i];
			char issued[40], n[16];
			iso_ms(r->issued_ms, issued, sizeof(issued));
			snprintf(n, sizeof(n), "%" PRIu32, r->n_copies);
			table_row(&t, r->request_id, word_name(w_kind, r->kind),
			          issued, n, r->exercise ? "yes" : "no",
			          r->title);
		}
		table_print(&t, stdout);
		table_fini(&t);
	}
out:
	reply_fini(&rp);
	return rv;
}

/* ------------------------------------------------------------ outcome */

/* Prints the broker's outcome line, or the default if it sent none. */
static void info_print(const Art17__AdminReply *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
info_print(const Art17__AdminReply *r, const char *fmt, ...)
{
	va_list ap;

	if (r->info != NULL && r->info[0] != '\0') {
		put_clean(stdout, r->info);
	} else {
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	fputc('\n', stdout);
}

/* Parses "ID" plus the options in lopts (all with an argument, stored in
 * vals[i] by their index) for the incident and consent commands. */
static int
parse_id_opts(int argc, char **argv, const char *cmd, const char *usage,
              const struct option *lopts, const char **vals, const char **id)
{
	int ch, idx;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":h", lopts, &idx)) != -1) {
		switch (ch) {
		case 0:
			vals[idx] = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return -1;
		default:
			return opt_error(cmd, ch, argv);
		}
	}
	if (optind >= argc)
		return ctl_usage(
		    cmd, "missing %s",
		    strncmp(cmd, "consent", 7) == 0 ? "MEMBER" : "incident ID");
	*id = argv[optind++];
	if (optind < argc)
		return ctl_usage(cmd, "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* ------------------------------------------------------------ consent */

static json_t *
jconsent(const Art17__ConsentRecord *r)
{
	return json_pack("{s:I, s:o, s:s, s:s, s:s, s:s}", "no",
	                 (json_int_t)r->no, "time", jtime(r->time_ms), "action",
	                 r->grant ? "grant" : "revoke", "reference",
	                 r->reference, "by", r->by, "via",
	                 word_name(w_via, r->via));
}

static int
consent_change(struct ctl *c, int argc, char **argv, bool grant)
{
	/* flag NULL, val 0: getopt_long reports the index (parse_id_opts) */
	static const struct option lopts[] = {
	    {"ref", required_argument, NULL, 0},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = grant ? "consent grant" : "consent revoke";
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__ConsentChange cc = ART17__CONSENT_CHANGE__INIT;
	const char *vals[2] = {NULL, NULL};
	const char *member = NULL, *ref;
	struct reply rp;
	int rv;

	if ((rv = parse_id_opts(argc, argv, cmd,
	                        grant ? usage_consent_grant
	                              : usage_consent_revoke,
	                        lopts, vals, &member)) != 0)
		return rv < 0 ? CTL_EX_OK : rv;
	ref = vals[0];
	if (!id_ok(member))
		return ctl_usage(cmd, "invalid member id '%s'", member);
	if (ref == NULL)
		return ctl_usage(cmd,
		                 "--ref is required: the written consent's id "
		                 "and date, e.g. \"CSC-2026-041 2026-11-20\"");
	if (!text_ok(ref, false))
		return ctl_usage(cmd,
		                 "invalid --ref (1-%d characters, no control "
		                 "characters)",
		                 CTL_TEXT_MAX);

	cc.member_id = (char *)member;
	cc.grant = grant;
	cc.reference = (char *)ref;
	if (grant) {
		req.op_case = ART17__ADMIN_REQUEST__OP_CONSENT_GRANT;
		req.consent_grant = &cc;
	} else {
		req.op_case = ART17__ADMIN_REQUEST__OP_CONSENT_REVOKE;
		req.consent_revoke = &cc;
	}
	if ((rv = reply_get(c, &req, &rp)) == 0)
		info_print(rp.r, "consent %s for %s",
		           grant ? "granted" : "revoked", member);
	reply_fini(&rp);
	return rv;
}

static int
cmd_consent_grant(struct ctl *c, int argc, char **argv)
{
	return consent_change(c, argc, argv, true);
}

static int
cmd_consent_revoke(struct ctl *c, int argc, char **argv)
{
	return consent_change(c, argc, argv, false);
}

static int
cmd_consent_show(struct ctl *c, int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"at", required_argument, NULL, 'a'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "consent show";
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__ConsentQuery q = ART17__CONSENT_QUERY__INIT;
	const Art17__ConsentRecord *in;
	const char *member, *at = NULL;
	int64_t at_ms = 0;
	char when[40];
	bool json = false;
	struct reply rp;
	size_t i;
	int ch, rv;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			at = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(usage_consent_show, stdout);
			return CTL_EX_OK;
		default:
			return opt_error(cmd, ch, argv);
		}
	}
	if (optind >= argc)
		return ctl_usage(cmd, "missing MEMBER");
	member = argv[optind++];
	if (optind < argc)
		return ctl_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (!id_ok(member))
		return ctl_usage(cmd, "invalid member id '%s'", member);
	if (at != NULL && strcmp(at, "now") != 0 && iso_parse(at, &at_ms) != 0)
		return ctl_usage(cmd,
		                 "invalid --at '%s' (ISO-8601 UTC such as "
		                 "2026-11-26T10:00:00Z, or now)",
		                 at);

	q.member_id = (char *)member;
	q.at_ms = at_ms;
	req.op_case = ART17__ADMIN_REQUEST__OP_CONSENT_SHOW;
	req.consent_show = &q;
	if ((rv = reply_get(c, &req, &rp)) != 0)
		goto out;
	/* "now" is the broker's; ours is what a coordinator can read */
	iso_ms(at_ms ? at_ms : wire_now_ms(), when, sizeof(when));
	in = rp.r->consent_in_force;
	if (json) {
		json_t *h = json_array();
		for (i = 0; h && i < rp.r->n_consents; i++)
			if (json_array_append_new(
			        h, jconsent(rp.r->consents[i])) != 0) {
				json_decref(h);
				h = NULL;
			}
		rv = jout(h == NULL
		              ? NULL
		              : json_pack("{s:s, s:s, s:b, s:o, s:o}", "member",
		                          member, "at", when, "at_now",
		                          at_ms == 0, "history", h, "in_force",
		                          in ? jconsent(in) : json_null()));
		goto out;
	}
	if (rp.r->n_consents == 0) {
		printf("no consent recorded for %s\n", member);
	} else {
		struct table t;
		table_init(&t, 5);
		table_row(&t, "TIME", "ACTION", "REFERENCE", "BY", "VIA");
		for (i = 0; i < rp.r->n_consents; i++) {
			const Art17__ConsentRecord *r = rp.r->consents[i];
			char tm[40];
			iso_ms(r->time_ms, tm, sizeof(tm));
			table_row(&t, tm, r->grant ? "grant" : "revoke",
			          r->reference, r->by,
			          word_name(w_via, r->via));
		}
		table_print(&t, stdout);
		table_fini(&t);
	}
	printf("in force at %s%s: ", when, at_ms ? "" : " (now)");
	if (in != NULL) {
		char tm[40];
		iso_ms(in->time_ms, tm, sizeof(tm));
		put_clean(stdout, in->reference);
		printf(" (granted by ");
		put_clean(stdout, in->by);
		printf(" at %s)\n", tm);
	} else {
		printf("none\n");
	}
out:
	reply_fini(&rp);
	return rv;
}

/* ------------------------------------------------------------ incident */

enum flag_at {
	FLAG_NEVER = 0,
	FLAG_ACTIVE,
	FLAG_PENDING,
	FLAG_LIFTED,
	FLAG_EXPIRED,
};

static const char *const flag_words[] = {"never", "active", "pending", "lifted",
                                         "expired"};

/* The flag's state at now: the same rule as the broker's gate_flag_at. */
static enum flag_at
flag_at(const Art17__FlagState *f, int64_t now)
{
	if (f == NULL || !f->ever_set)
		return FLAG_NEVER;
	if (f->pending)
		return FLAG_PENDING;
	if (f->expired)
		return FLAG_EXPIRED;
	if (!f->active)
		return FLAG_LIFTED;
	if (f->expires_ms != 0 && now >= f->expires_ms)
		return FLAG_EXPIRED;
	return FLAG_ACTIVE;
}

/* "never", "ACTIVE until T", "PENDING confirmation until T",
 * "lifted at T by X", "expired at T". */
static void
flag_text(const Art17__FlagState *f, int64_t now, char *buf, size_t len)
{
	char t[40];

	switch (flag_at(f, now)) {
	case FLAG_NEVER:
		snprintf(buf, len, "never");
		break;
	case FLAG_ACTIVE:
		iso_ms(f->expires_ms, t, sizeof(t));
		snprintf(buf, len, "ACTIVE %s%s", t[0] ? "until " : "",
		         t[0] ? t : "(no expiry)");
		break;
	case FLAG_PENDING:
		iso_ms(f->pending_until_ms, t, sizeof(t));
		snprintf(buf, len, "PENDING confirmation%s%s",
		         t[0] ? " until " : "", t);
		break;
	case FLAG_LIFTED:
		iso_ms(f->lifted_ms, t, sizeof(t));
		snprintf(buf, len, "lifted%s%s%s%s", t[0] ? " at " : "", t,
		         f->lifted_by[0] ? " by " : "", f->lifted_by);
		break;
	case FLAG_EXPIRED:
		iso_ms(f->expires_ms, t, sizeof(t));
		snprintf(buf, len, "expired at %s", t);
		break;
	}
}

static json_t *
jflag(const Art17__FlagState *f, int64_t now)
{
	static const Art17__FlagState none = ART17__FLAG_STATE__INIT;
	char text[256];

	if (f == NULL)
		f = &none;
	flag_text(f, now, text, sizeof(text));
	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:o, s:o, s:o, s:s}",
	                 "state", flag_words[flag_at(f, now)], "summary", text,
	                 "reason", f->reason, "set", jtime(f->set_ms), "set_by",
	                 f->set_by, "confirmed_by", f->confirmed_by, "expires",
	                 jtime(f->expires_ms), "pending_until",
	                 jtime(f->pending_until_ms), "lifted",
	                 jtime(f->lifted_ms), "lifted_by", f->lifted_by);
}

static json_t *
jincident(const Art17__IncidentRecord *r, int64_t now)
{
	return json_pack("{s:s, s:b, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:s}",
	                 "id", r->incident_id, "exercise", r->exercise, "title",
	                 r->title, "description", r->description, "state",
	                 r->closed ? "closed" : "open", "flag",
	                 jflag(r->flag, now), "declared", jtime(r->declared_ms),
	                 "declared_by", r->declared_by, "closed",
	                 jtime(r->closed_ms), "closed_by", r->closed_by);
}

static int
cmd_incident_declare(struct ctl *c, int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"title", required_argument, NULL, 't'},
	    {"description", required_argument, NULL, 'd'},
	    {"exercise", no_argument, NULL, 'x'},
	    {"id", required_argument, NULL, 'i'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "incident declare";
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__IncidentDeclare d = ART17__INCIDENT_DECLARE__INIT;
	const Art17__IncidentRecord *inc;
	const char *title = NULL, *desc = "", *id = "";
	bool exercise = false;
	struct reply rp;
	int ch, rv;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			title = optarg;
			break;
		case 'd':
			desc = optarg;
			break;
		case 'x':
			exercise = true;
			break;
		case 'i':
			id = optarg;
			break;
		case 'h':
			fputs(usage_incident_declare, stdout);
			return CTL_EX_OK;
		default:
			return opt_error(cmd, ch, argv);
		}
	}
	if (optind < argc)
		return ctl_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (title == NULL)
		return ctl_usage(cmd, "--title is required");
	if (!text_ok(title, false))
		return ctl_usage(cmd,
		                 "invalid --title (1-%d characters, no "
		                 "control characters)",
		                 CTL_TEXT_MAX);
	if (!text_ok(desc, true))
		return ctl_usage(cmd,
		                 "invalid --description (at most %d "
		                 "characters, no control characters)",
		                 CTL_TEXT_MAX);
	if (id[0] != '\0' && !id_ok(id))
		return ctl_usage(
		    cmd,
		    "invalid --id '%s' (1-%d characters of A-Z a-z 0-9 . _ -)",
		    id, CTL_ID_MAX);

	d.incident_id = (char *)id;
	d.title = (char *)title;
	d.description = (char *)desc;
	d.exercise = exercise;
	req.op_case = ART17__ADMIN_REQUEST__OP_INCIDENT_DECLARE;
	req.incident_declare = &d;
	if ((rv = reply_get(c, &req, &rp)) != 0)
		goto out;
	if (rp.r->n_incidents == 0) {
		ctl_err("the broker's reply carries no incident");
		rv = CTL_EX_SETUP;
		goto out;
	}
	inc = rp.r->incidents[0];
	/* the id first, alone on its line, for scripts */
	put_clean(stdout, inc->incident_id);
	fputc('\n', stdout);
	if (inc->exercise)
		printf("*** EXERCISE *** this incident is a drill; requests on "
		       "it are marked EXERCISE\n");
	else if (exercise)
		ctl_err("warning: --exercise was asked for but the broker "
		        "recorded a real incident");
	if (rp.r->info[0] != '\0')
		info_print(rp.r, "%s", "");
out:
	reply_fini(&rp);
	return rv;
}

static int
cmd_incident_flag(struct ctl *c, int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"reason", required_argument, NULL, 0},
	    {"expires", required_argument, NULL, 0},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "incident flag";
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__FlagChange fc = ART17__FLAG_CHANGE__INIT;
	const char *vals[3] = {NULL, NULL, NULL};
	const char *id = NULL, *reason, *expires;
	int64_t dur;
	char until[40];
	struct reply rp;
	int rv;

	if ((rv = parse_id_opts(argc, argv, cmd, usage_incident_flag, lopts,
	                        vals, &id)) != 0)
		return rv < 0 ? CTL_EX_OK : rv;
	reason = vals[0];
	expires = vals[1];
	if (!id_ok(id))
		return ctl_usage(cmd, "invalid incident id '%s'", id);
	if (reason == NULL)
		return ctl_usage(cmd, "--reason is required");
	if (expires == NULL)
		return ctl_usage(cmd, "--expires is required (e.g. 30m, 6h, "
		                      "2d): a flag never stands open-ended");
	if (!text_ok(reason, false))
		return ctl_usage(cmd,
		                 "invalid --reason (1-%d characters, no "
		                 "control characters)",
		                 CTL_TEXT_MAX);
	if (duration_parse(expires, &dur) != 0)
		return ctl_usage(
		    cmd,
		    "invalid --expires '%s' (a number with s, m, h "
		    "or d, e.g. 30m, 6h, 2d; at most 366d)",
		    expires);

	fc.incident_id = (char *)id;
	fc.reason = (char *)reason;
	fc.expires_ms = wire_now_ms() + dur;
	iso_ms(fc.expires_ms, until, sizeof(until));
	req.op_case = ART17__ADMIN_REQUEST__OP_INCIDENT_FLAG;
	req.incident_flag = &fc;
	if ((rv = reply_get(c, &req, &rp)) == 0)
		info_print(rp.r, "large-scale flag set on %s until %s", id,
		           until);
	reply_fini(&rp);
	return rv;
}

static int
cmd_incident_confirm(struct ctl *c, int argc, char **argv)
{
	const char *cmd = "incident confirm";
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__FlagChange fc = ART17__FLAG_CHANGE__INIT;
	const char *id = NULL;
	struct reply rp;
	int rv;

	if ((rv = parse_simple(argc, argv, cmd, usage_incident_confirm, true,
	                       &id, NULL)) != 0)
		return rv < 0 ? CTL_EX_OK : rv;
	if (!id_ok(id))
		return ctl_usage(cmd, "invalid incident id '%s'", id);
	fc.incident_id = (char *)id;
	req.op_case = ART17__ADMIN_REQUEST__OP_INCIDENT_CONFIRM;
	req.incident_confirm = &fc;
	if ((rv = reply_get(c, &req, &rp)) == 0)
		info_print(rp.r, "large-scale flag on %s confirmed", id);
	reply_fini(&rp);
	return rv;
}

static int
cmd_incident_unflag(struct ctl *c, int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"reason", required_argument, NULL, 0},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "incident unflag";
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__FlagChange fc = ART17__FLAG_CHANGE__INIT;
	const char *vals[2] = {NULL, NULL};
	const char *id = NULL;
	struct reply rp;
	int rv;

	if ((rv = parse_id_opts(argc, argv, cmd, usage_incident_unflag, lopts,
	                        vals, &id)) != 0)
		return rv < 0 ? CTL_EX_OK : rv;
	if (!id_ok(id))
		return ctl_usage(cmd, "invalid incident id '%s'", id);
	if (vals[0] != NULL && !text_ok(vals[0], true))
		return ctl_usage(cmd,
		                 "invalid --reason (at most %d characters, no "
		                 "control characters)",
		                 CTL_TEXT_MAX);
	fc.incident_id = (char *)id;
	fc.reason = (char *)(vals[0] ? vals[0] : "");
	req.op_case = ART17__ADMIN_REQUEST__OP_INCIDENT_UNFLAG;
	req.incident_unflag = &fc;
	if ((rv = reply_get(c, &req, &rp)) == 0)
		info_print(rp.r, "large-scale flag on %s lifted", id);
	reply_fini(&rp);
	return rv;
}

static int
cmd_incident_close(struct ctl *c, int argc, char **argv)
{
	const char *cmd = "incident close";
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__IncidentQuery q = ART17__INCIDENT_QUERY__INIT;
	const char *id = NULL;
	struct reply rp;
	int rv;

	if ((rv = parse_simple(argc, argv, cmd, usage_incident_close, true, &id,
	                       NULL)) != 0)
		return rv < 0 ? CTL_EX_OK : rv;
	if (!id_ok(id))
		return ctl_usage(cmd, "invalid incident id '%s'", id);
	q.incident_id = (char *)id;
	req.op_case = ART17__ADMIN_REQUEST__OP_INCIDENT_CLOSE;
	req.incident_close = &q;
	if ((rv = reply_get(c, &req, &rp)) == 0)
		info_print(rp.r, "incident %s closed", id);
	reply_fini(&rp);
	return rv;
}

static int
cmd_incident_list(struct ctl *c, int argc, char **argv)
{
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__IncidentQuery q = ART17__INCIDENT_QUERY__INIT;
	int64_t now = wire_now_ms();
	struct reply rp;
	bool json;
	size_t i;
	int rv;

	if ((rv = parse_simple(argc, argv, "incident list", usage_incident_list,
	                       false, NULL, &json)) != 0)
		return rv < 0 ? CTL_EX_OK : rv;
	req.op_case = ART17__ADMIN_REQUEST__OP_INCIDENT_LIST;
	req.incident_list = &q;
	if ((rv = reply_get(c, &req, &rp)) != 0)
		goto out;
	if (json) {
		json_t *a = json_array();
		for (i = 0; i < rp.r->n_incidents; i++)
			jarray_add(&a, jincident(rp.r->incidents[i], now));
		rv = jout(a);
	} else {
		struct table t;
		table_init(&t, 7);
		table_row(&t, "INCIDENT", "EXERCISE", "STATE", "FLAG",
		          "DECLARED", "BY", "TITLE");
		for (i = 0; i < rp.r->n_incidents; i++) {
			const Art17__IncidentRecord *r = rp.r->incidents[i];
			char decl[40], flag[256];
			iso_ms(r->declared_ms, decl, sizeof(decl));
			flag_text(r->flag, now, flag, sizeof(flag));
			table_row(&t, r->incident_id,
			          r->exercise ? "EXERCISE" : "-",
			          r->closed ? "closed" : "open", flag, decl,
			          r->declared_by, r->title);
		}
		table_print(&t, stdout);
		table_fini(&t);
	}
out:
	reply_fini(&rp);
	return rv;
}

static int
cmd_incident_show(struct ctl *c, int argc, char **argv)
{
	const char *cmd = "incident show";
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__IncidentQuery q = ART17__INCIDENT_QUERY__INIT;
	const Art17__IncidentRecord *r;
	const Art17__FlagState *f;
	int64_t now = wire_now_ms();
	const char *id = NULL;
	char flag[256], tm[40];
	struct table t;
	struct reply rp;
	bool json;
	int rv;

	if ((rv = parse_simple(argc, argv, cmd, usage_incident_show, true, &id,
	                       &json)) != 0)
		return rv < 0 ? CTL_EX_OK : rv;
	if (!id_ok(id))
		return ctl_usage(cmd, "invalid incident id '%s'", id);
	q.incident_id = (char *)id;
	req.op_case = ART17__ADMIN_REQUEST__OP_INCIDENT_SHOW;
	req.incident_show = &q;
	if ((rv = reply_get(c, &req, &rp)) != 0)
		goto out;
	if (rp.r->n_incidents == 0) {
		ctl_err("ERR_NOT_FOUND: incident %s", id);
		rv = CTL_EX_NOTFOUND;
		goto out;
	}
	r = rp.r->incidents[0];
	if (json) {
		rv = jout(jincident(r, now));
		goto out;
	}
	f = r->flag;
	flag_text(f, now, flag, sizeof(flag));
	if (r->exercise)
		printf("*** EXERCISE ***\n");
	table_init(&t, 2);
	table_row(&t, "id:", r->incident_id);
	table_row(&t, "exercise:", r->exercise ? "EXERCISE (a drill)" : "no");
	table_row(&t, "title:", r->title);
	table_row(&t, "description:", r->description);
	table_row(&t, "state:", r->closed ? "closed" : "open");
	table_row(&t, "flag:", flag);
	if (f != NULL && f->ever_set) {
		table_row(&t, "flag-reason:", f->reason);
		iso_ms(f->set_ms, tm, sizeof(tm));
		table_row(&t, "flag-set:", tm);
		table_row(&t, "flag-set-by:", f->set_by);
		table_row(&t, "flag-confirmed-by:", f->confirmed_by);
		iso_ms(f->expires_ms, tm, sizeof(tm));
		table_row(&t, "flag-expires:", tm);
		if (f->pending) {
			iso_ms(f->pending_until_ms, tm, sizeof(tm));
			table_row(&t, "flag-pending-until:", tm);
		}
		if (f->lifted_ms != 0) {
			iso_ms(f->lifted_ms, tm, sizeof(tm));
			table_row(&t, "flag-lifted:", tm);
			table_row(&t, "flag-lifted-by:", f->lifted_by);
		}
	}
	iso_ms(r->declared_ms, tm, sizeof(tm));
	table_row(&t, "declared:", tm);
	table_row(&t, "declared-by:", r->declared_by);
	if (r->closed) {
		iso_ms(r->closed_ms, tm, sizeof(tm));
		table_row(&t, "closed:", tm);
		table_row(&t, "closed-by:", r->closed_by);
	}
	table_print(&t, stdout);
	table_fini(&t);
	if (r->exercise)
		printf("*** EXERCISE ***\n");
out:
	reply_fini(&rp);
	return rv;
}

/* ------------------------------------------------------------ audit */

/* Field names and order as in AuditRecord: scripts match on them. */
static json_t *
jaudit(const Art17__AuditRecord *a)
{
	char h[2 * A17_SHA256_LEN + 1], ph[2 * A17_SHA256_LEN + 1];

	bin_hex(&a->hash, A17_SHA256_LEN, h);
	bin_hex(&a->prev_hash, A17_SHA256_LEN, ph);
	return json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:b, s:o, s:s, s:s}",
	                 "seq", (json_int_t)a->seq, "time_ms",
	                 (json_int_t)a->time_ms, "actor", a->actor, "action",
	                 a->action, "subject", a->subject, "detail", a->detail,
	                 "exercise", a->exercise, "time", jtime(a->time_ms),
	                 "hash", h, "prev_hash", ph);
}

static int
cmd_audit_verify(struct ctl *c, int argc, char **argv)
{
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__AuditQuery q = ART17__AUDIT_QUERY__INIT;
	struct reply rp;
	int rv;

	if ((rv = parse_simple(argc, argv, "audit verify", usage_audit_verify,
	                       false, NULL, NULL)) != 0)
		return rv < 0 ? CTL_EX_OK : rv;
	req.op_case = ART17__ADMIN_REQUEST__OP_AUDIT_VERIFY;
	req.audit_verify = &q;
	if ((rv = reply_get(c, &req, &rp)) != 0)
		goto out;
	if (rp.r->audit_bad_seq != 0) {
		fprintf(stderr,
		        "art17ctl: audit log BROKEN at entry %" PRIu64 ": ",
		        rp.r->audit_bad_seq);
		put_clean(stderr, rp.r->info[0]
		                      ? rp.r->info
		                      : "(the broker gave no detail)");
		fputc('\n', stderr);
		rv = CTL_EX_REFUSED;
	} else {
		printf("audit log intact: %" PRIu64 " %s; %" PRIu64
		       " signed receipts verified\n",
		       rp.r->audit_count,
		       rp.r->audit_count == 1 ? "entry" : "entries",
		       rp.r->receipts_verified);
	}
out:
	reply_fini(&rp);
	return rv;
}

static int
cmd_audit_show(struct ctl *c, int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"from", required_argument, NULL, 'f'},
	    {"limit", required_argument, NULL, 'l'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "audit show";
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__AuditQuery q = ART17__AUDIT_QUERY__INIT;
	uint64_t from = 0, limit = 0;
	bool json = false;
	struct reply rp;
	size_t i;
	int ch, rv;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (uint_parse(optarg, UINT64_MAX, &from) != 0)
				return ctl_usage(
				    cmd,
				    "invalid --from '%s' (an entry "
				    "number, 1 is the first)",
				    optarg);
			break;
		case 'l':
			if (uint_parse(optarg, UINT32_MAX, &limit) != 0)
				return ctl_usage(
				    cmd,
				    "invalid --limit '%s' (a whole "
				    "number; 0 means all)",
				    optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(usage_audit_show, stdout);
			return CTL_EX_OK;
		default:
			return opt_error(cmd, ch, argv);
		}
	}
	if (optind < argc)
		return ctl_usage(cmd, "unexpected argument '%s'", argv[optind]);
	q.from_seq = from;
	q.limit = (uint32_t)limit;
	req.op_case = ART17__ADMIN_REQUEST__OP_AUDIT_SHOW;
	req.audit_show = &q;
	if ((rv = reply_get(c, &req, &rp)) != 0)
		goto out;
	if (json) {
		json_t *a = json_array();
		for (i = 0; i < rp.r->n_audit; i++)
			jarray_add(&a, jaudit(rp.r->audit[i]));
		rv = jout(a);
	} else {
		struct table t;
		table_init(&t, 8);
		table_row(&t, "SEQ", "TIME", "EXERCISE", "ACTOR", "ACTION",
		          "SUBJECT", "HASH", "DETAIL");
		for (i = 0; i < rp.r->n_audit; i++) {
			const Art17__AuditRecord *a = rp.r->audit[i];
			char seq[24], tm[40], h[13];
			snprintf(seq, sizeof(seq), "%" PRIu64, a->seq);
			iso_ms(a->time_ms, tm, sizeof(tm));
			bin_hex(&a->hash, 6, h);
			table_row(&t, seq, tm, a->exercise ? "EXERCISE" : "-",
			          a->actor, a->action, a->subject, h,
			          a->detail);
		}
		table_print(&t, stdout);
		table_fini(&t);
	}
out:
	reply_fini(&rp);
	return rv;
}

/* ------------------------------------------------------------ staff */

static const char *
staff_action_word(const char *w, Art17__StaffAction *a)
{
	if (strcmp(w, "new") == 0)
		*a = ART17__STAFF_ACTION__STAFF_NEW;
	else if (strcmp(w, "continue") == 0)
		*a = ART17__STAFF_ACTION__STAFF_CONTINUE;
	else if (strcmp(w, "abolish") == 0)
		*a = ART17__STAFF_ACTION__STAFF_ABOLISH;
	else
		return NULL;
	return w;
}

/*
 * Reads a change form (JSON, parsed with jansson):
 *   {"entries": [{"action": "new", "staff_id": "s1", "name": "...",
 *     "email": "...", "key": "path/to/seal.pub", "account": true}, ...]}
 * A relative key path is taken from the file's directory.
 */
static int
staff_form_read(const char *path, Art17__StaffChangeSet *cs, seal_key ***keys,
                size_t *nkeys)
{
	json_error_t je;
	json_t *root, *ents, *e;
	char dir[PATH_MAX], kp[PATH_MAX * 2];
	const char *slash = strrchr(path, '/');
	size_t i;

	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1,
	         slash ? path : ".");
	if ((root = json_load_file(path, 0, &je)) == NULL) {
		fprintf(stderr, "art17ctl: %s:%d:%d: %s\n", path, je.line,
		        je.column, je.text);
		return CTL_EX_USAGE;
	}
	ents = json_object_get(root, "entries");
	if (!json_is_array(ents) || json_array_size(ents) == 0) {
		fprintf(stderr,
		        "art17ctl: %s: \"entries\" must be a non-empty "
		        "array\n",
		        path);
		json_decref(root);
		return CTL_EX_USAGE;
	}
	cs->n_entries = json_array_size(ents);
	cs->entries = calloc(cs->n_entries, sizeof(*cs->entries));
	*keys = calloc(cs->n_entries, sizeof(**keys));
	*nkeys = cs->n_entries;
	if (cs->entries == NULL || *keys == NULL) {
		json_decref(root);
		return CTL_EX_SETUP;
	}
	json_array_foreach(ents, i, e)
	{
		Art17__StaffEntry *se = calloc(1, sizeof(*se));
		const char *act =
		    json_string_value(json_object_get(e, "action"));
		const char *id =
		    json_string_value(json_object_get(e, "staff_id"));
		const char *name =
		    json_string_value(json_object_get(e, "name"));
		const char *mail =
		    json_string_value(json_object_get(e, "email"));
		const char *key = json_string_value(json_object_get(e, "key"));
		json_t *acc = json_object_get(e, "account");
		Art17__StaffAction a;

		if (se == NULL) {
			json_decref(root);
			return CTL_EX_SETUP;
		}
		art17__staff_entry__init(se);
		cs->entries[i] = se;
		if (act == NULL || staff_action_word(act, &a) == NULL) {
			fprintf(stderr,
			        "art17ctl: %s: entry %zu: \"action\" must "
			        "be new, continue or abolish\n",
			        path, i + 1);
			json_decref(root);
			return CTL_EX_USAGE;
		}
		if (id == NULL || !id_ok(id)) {
			fprintf(stderr,
			        "art17ctl: %s: entry %zu: \"staff_id\" "
			        "is missing or not 1-64 of A-Z a-z 0-9 . _ -\n",
			        path, i + 1);
			json_decref(root);
			return CTL_EX_USAGE;
		}
		if (acc != NULL && !json_is_boolean(acc)) {
			fprintf(stderr,
			        "art17ctl: %s: entry %zu: \"account\" "
			        "must be true or false\n",
			        path, i + 1);
			json_decref(root);
			return CTL_EX_USAGE;
		}
		se->action = a;
		se->staff_id = strdup(id);
		se->name = strdup(name ? name : "");
		se->email = strdup(mail ? mail : "");
		se->account = acc ? json_is_true(acc) : 1;
		if (key != NULL) {
			uint8_t *pub = malloc(SEAL_PUB_LEN);
			int rv;

			if (key[0] == '/')
				snprintf(kp, sizeof(kp), "%s", key);
			else
				snprintf(kp, sizeof(kp), "%s/%s", dir, key);
			if (pub == NULL ||
			    (rv = seal_key_load(kp, &(*keys)[i])) != 0 ||
			    seal_key_raw_public((*keys)[i], pub) != 0) {
				fprintf(stderr,
				        "art17ctl: %s: entry %zu: key %s: "
				        "not an X25519 public key (make one "
				        "with art17-pki staff)\n",
				        path, i + 1, kp);
				free(pub);
				json_decref(root);
				return CTL_EX_USAGE;
			}
			se->x25519_pub.data = pub;
			se->x25519_pub.len = SEAL_PUB_LEN;
		}
	}
	json_decref(root);
	return 0;
}

static int
cmd_staff_apply(struct ctl *c, int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"file", required_argument, NULL, 'f'},
	    {"immediate", no_argument, NULL, 'i'},
	    {"effective", required_argument, NULL, 'e'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "staff apply", *file = NULL, *member;
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__StaffChangeSet cs = ART17__STAFF_CHANGE_SET__INIT;
	seal_key **keys = NULL;
	size_t nkeys = 0, i;
	struct reply rp;
	int64_t eff = 0;
	bool immediate = false;
	int ch, rv;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			file = optarg;
			break;
		case 'i':
			immediate = true;
			break;
		case 'e':
			if (iso_parse(optarg, &eff) != 0)
				return ctl_usage(
				    cmd,
				    "invalid --effective '%s' (ISO-8601 "
				    "UTC, e.g. 2026-12-01T09:00:00Z)",
				    optarg);
			break;
		case 'h':
			fputs(usage_staff_apply, stdout);
			return CTL_EX_OK;
		default:
			return opt_error(cmd, ch, argv);
		}
	}
	if (optind >= argc)
		return ctl_usage(cmd, "missing MEMBER");
	member = argv[optind++];
	if (optind < argc)
		return ctl_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (file == NULL)
		return ctl_usage(cmd, "--file FORM is required");
	if (immediate && eff != 0)
		return ctl_usage(cmd,
		                 "give --immediate or --effective, not both");
	cs.member_id = (char *)member;
	cs.immediate = immediate;
	cs.effective_ms = eff;
	if ((rv = staff_form_read(file, &cs, &keys, &nkeys)) != 0)
		goto out;
	req.op_case = ART17__ADMIN_REQUEST__OP_STAFF_CHANGE;
	req.staff_change = &cs;
	if ((rv = reply_get(c, &req, &rp)) == 0)
		info_print(rp.r, "staff change applied");
	reply_fini(&rp);
out:
	for (i = 0; i < cs.n_entries; i++) {
		if (cs.entries[i] == NULL)
			continue;
		free(cs.entries[i]->staff_id);
		free(cs.entries[i]->name);
		free(cs.entries[i]->email);
		free(cs.entries[i]->x25519_pub.data);
		free(cs.entries[i]);
	}
	free(cs.entries);
	for (i = 0; i < nkeys; i++)
		seal_key_free(keys[i]);
	free(keys);
	return rv;
}

static int
cmd_staff_list(struct ctl *c, int argc, char **argv)
{
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__MemberQuery q = ART17__MEMBER_QUERY__INIT;
	const char *id = NULL;
	bool json;
	struct reply rp;
	size_t i;
	int rv;

	if ((rv = parse_simple(argc, argv, "staff list", usage_staff_list, true,
	                       &id, &json)) != 0)
		return rv < 0 ? CTL_EX_OK : rv;
	q.member_id = (char *)id;
	req.op_case = ART17__ADMIN_REQUEST__OP_STAFF_LIST;
	req.staff_list = &q;
	if ((rv = reply_get(c, &req, &rp)) != 0)
		goto out;
	if (json) {
		json_t *a = json_array();

		for (i = 0; a && i < rp.r->n_staff; i++) {
			const Art17__StaffRecord *s = rp.r->staff[i];
			char eff[40], kid[17];

			iso_ms(s->effective_ms, eff, sizeof(eff));
			bin_hex(&s->x25519_pub, 8, kid);
			json_array_append_new(
			    a, json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:b, "
			                 "s:s, s:I, s:s}",
			                 "staff_id", s->staff_id, "member_id",
			                 s->member_id, "name", s->name, "email",
			                 s->email, "key", kid, "account",
			                 (int)s->account, "abolished",
			                 (int)s->abolished, "effective", eff,
			                 "effective_ms",
			                 (json_int_t)s->effective_ms,
			                 "changed_by", s->changed_by));
		}
		rv = jout(a);
	} else {
		struct table t;

		table_init(&t, 7);
		table_row(&t, "STAFF", "NAME", "EMAIL", "ACCOUNT", "STATE",
		          "EFFECTIVE", "BY");
		for (i = 0; i < rp.r->n_staff; i++) {
			const Art17__StaffRecord *s = rp.r->staff[i];
			char eff[40];

			iso_ms(s->effective_ms, eff, sizeof(eff));
			table_row(&t, s->staff_id, s->name, s->email,
			          s->account ? "yes" : "no",
			          s->abolished ? "abolished" : "registered",
			          eff, s->changed_by);
		}
		table_print(&t, stdout);
		table_fini(&t);
	}
out:
	reply_fini(&rp);
	return rv;
}

static int
cmd_member_rekey(struct ctl *c, int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "member rekey", *keyp = NULL, *id;
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__MemberRecord m = ART17__MEMBER_RECORD__INIT;
	uint8_t pub[A17_PUBKEY_LEN];
	a17_key *k = NULL;
	struct reply rp;
	int ch, rv;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			keyp = optarg;
			break;
		case 'h':
			fputs(usage_member_rekey, stdout);
			return CTL_EX_OK;
		default:
			return opt_error(cmd, ch, argv);
		}
	}
	if (optind >= argc)
		return ctl_usage(cmd, "missing ID");
	id = argv[optind++];
	if (optind < argc)
		return ctl_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (keyp == NULL)
		return ctl_usage(cmd, "--key ID_PUB_PEM is required");
	if ((rv = crypto_key_load(keyp, &k)) != 0 ||
	    crypto_key_raw_public(k, pub) != 0) {
		crypto_key_free(k);
		ctl_err("cannot read the key %s: %s", keyp,
		        a17_strerror(rv ? rv : A17_EINVAL));
		return CTL_EX_SETUP;
	}
	crypto_key_free(k);
	m.member_id = (char *)id;
	m.id_pub.data = pub;
	m.id_pub.len = sizeof(pub);
	req.op_case = ART17__ADMIN_REQUEST__OP_MEMBER_REKEY;
	req.member_rekey = &m;
	if ((rv = reply_get(c, &req, &rp)) == 0)
		info_print(rp.r, "identity key of %s rotated", id);
	reply_fini(&rp);
	return rv;
}

/* ------------------------------------------------------------ feedback */

static const char *
fb_scope_word(Art17__Scope s)
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
		return "?";
	}
}

/* The latest version per member: entries come sorted by member, version. */
static int
fb_is_latest(Art17__FeedbackEntry **e, size_t n, size_t i)
{
	return i + 1 == n || strcmp(e[i]->member_id, e[i + 1]->member_id) != 0;
}

static int
cmd_feedback_list(struct ctl *c, int argc, char **argv)
{
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__StatusQuery q = ART17__STATUS_QUERY__INIT;
	const char *id = NULL;
	bool json;
	struct reply rp;
	json_t *agg_ind;
	size_t i, j, members = 0, affected = 0;
	int rv;

	if ((rv = parse_simple(argc, argv, "feedback list", usage_feedback_list,
	                       true, &id, &json)) != 0)
		return rv < 0 ? CTL_EX_OK : rv;
	q.request_id = (char *)id;
	req.op_case = ART17__ADMIN_REQUEST__OP_FEEDBACK_LIST;
	req.feedback_list = &q;
	if ((rv = reply_get(c, &req, &rp)) != 0)
		goto out;
	/* aggregate: indicator "type:value" -> members reporting it */
	agg_ind = json_object();
	for (i = 0; i < rp.r->n_feedback; i++) {
		Art17__FeedbackEntry *e = rp.r->feedback[i];

		if (!fb_is_latest(rp.r->feedback, rp.r->n_feedback, i))
			continue;
		members++;
		if (e->feedback->status == ART17__FEEDBACK_STATUS__FB_AFFECTED)
			affected++;
		for (j = 0; j < e->feedback->n_indicators; j++) {
			char key[2100];
			json_t *arr;

			snprintf(
			    key, sizeof(key), "%s:%s",
			    fb_indicator_name(e->feedback->indicators[j]->type),
			    e->feedback->indicators[j]->value);
			if ((arr = json_object_get(agg_ind, key)) == NULL) {
				arr = json_array();
				json_object_set_new(agg_ind, key, arr);
			}
			json_array_append_new(arr, json_string(e->member_id));
		}
	}
	if (json) {
		json_t *o = json_object(), *a = json_array(),
		       *shared = json_array();
		const char *key;
		json_t *val;

		for (i = 0; i < rp.r->n_feedback; i++) {
			Art17__FeedbackEntry *e = rp.r->feedback[i];
			Art17__Feedback *f = e->feedback;
			json_t *inds = json_array();

			for (j = 0; j < f->n_indicators; j++)
				json_array_append_new(
				    inds, json_pack("{s:s, s:s}", "type",
				                    fb_indicator_name(
				                        f->indicators[j]->type),
				                    "value",
				                    f->indicators[j]->value));
			json_array_append_new(
			    a,
			    json_pack(
			        "{s:s, s:i, s:s, s:s, s:o, s:I, s:s, s:s, "
			        "s:s, s:b, s:b, s:s}",
			        "member_id", e->member_id, "version",
			        (int)f->version, "status",
			        fb_status_name(f->status), "contact",
			        f->contact, "indicators", inds, "count",
			        (json_int_t)f->count, "impact", f->impact,
			        "text", f->text, "sharing_wish",
			        fb_scope_word(f->sharing_wish), "secrecy_wish",
			        f->secrecy_wish == ART17__SECRET__SECRET_YES,
			        "voluntary", (int)f->voluntary,
			        "decline_reason", f->decline_reason));
		}
		json_object_foreach(agg_ind, key, val)
		{
			if (json_array_size(val) >= 2)
				json_array_append_new(
				    shared, json_pack("{s:s, s:O}", "indicator",
				                      key, "members", val));
		}
		json_object_set_new(o, "request_id", json_string(id));
		json_object_set_new(o, "feedback", a);
		json_object_set_new(
		    o, "aggregate",
		    json_pack("{s:I, s:I, s:o}", "members_replied",
		              (json_int_t)members, "members_affected",
		              (json_int_t)affected, "indicators_by_two_or_more",
		              shared));
		rv = jout(o);
	} else {
		struct table t;
		const char *key;
		json_t *val;
		int any = 0;

		table_init(&t, 7);
		table_row(&t, "MEMBER", "VERSION", "STATUS", "CONTACT",
		          "INDICATORS", "FEEDBACK", "TEXT");
		for (i = 0; i < rp.r->n_feedback; i++) {
			Art17__FeedbackEntry *e = rp.r->feedback[i];
			Art17__Feedback *f = e->feedback;
			char ver[16], nind[16];

			snprintf(ver, sizeof(ver), "%u", f->version);
			snprintf(nind, sizeof(nind), "%zu", f->n_indicators);
			table_row(&t, e->member_id, ver,
			          fb_status_name(f->status), f->contact, nind,
			          f->voluntary ? "voluntary" : "requested",
			          f->text);
		}
		table_print(&t, stdout);
		table_fini(&t);
		printf("%zu member%s replied, %zu affected\n", members,
		       members == 1 ? "" : "s", affected);
		json_object_foreach(agg_ind, key, val)
		{
			if (json_array_size(val) < 2)
				continue;
			if (!any++)
				printf("indicators reported by two or more "
				       "members:\n");
			printf("  %s (%zu members)\n", key,
			       json_array_size(val));
		}
	}
	json_decref(agg_ind);
out:
	reply_fini(&rp);
	return rv;
}

static int
cmd_feedback_export(struct ctl *c, int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"out", required_argument, NULL, 'o'},
	    {"tlp", required_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "feedback export";
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__StatusQuery q = ART17__STATUS_QUERY__INIT;
	struct export_input in;
	struct reply rs, rf;
	enum export_format fmt = 0;
	const char *id, *out = NULL;
	int ch, rv, want = ART17__TLP__TLP_UNSPECIFIED;
	Art17__Tlp have;
	char err[256], *buf = NULL;
	size_t len;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (export_format_parse(optarg, &fmt) != 0)
				return ctl_usage(
				    cmd,
				    "invalid --format '%s'; valid: "
				    "json, csv, stix",
				    optarg);
			break;
		case 'o':
			out = optarg;
			break;
		case 'T':
			if ((rv = word_parse(cmd, "--tlp", w_tlp, optarg,
			                     &want)) != 0)
				return rv;
			break;
		case 'h':
			fputs(usage_feedback_export, stdout);
			return CTL_EX_OK;
		default:
			return opt_error(cmd, ch, argv);
		}
	}
	if (optind >= argc)
		return ctl_usage(cmd, "missing request ID");
	id = argv[optind++];
	if (optind < argc)
		return ctl_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (!text_ok(id, false) || strlen(id) > CTL_ID_MAX * 2)
		return ctl_usage(cmd, "invalid request id '%s'", id);
	if (fmt == 0)
		return ctl_usage(cmd, "--format is required (json, csv, stix)");
	if (out != NULL && out[0] == '\0')
		return ctl_usage(cmd, "--out must not be empty");

	q.request_id = (char *)id;
	req.op_case = ART17__ADMIN_REQUEST__OP_REQUEST_STATUS;
	req.request_status = &q;
	memset(&rf, 0, sizeof(rf));
	if ((rv = reply_get(c, &req, &rs)) != 0)
		return rv;
	if (rs.r->request == NULL) {
		ctl_err("%s: the broker sent no record for %s", cmd, id);
		reply_fini(&rs);
		return CTL_EX_SETUP;
	}
	have = rs.r->request->marking ? rs.r->request->marking->tlp
	                              : ART17__TLP__TLP_UNSPECIFIED;
	memset(&in, 0, sizeof(in));
	if (export_tlp_resolve(have, (Art17__Tlp)want, &in.tlp) != 0) {
		reply_fini(&rs);
		return ctl_usage(cmd,
		                 "--tlp %s would lower the request's %s; an "
		                 "export may only be stricter",
		                 word_name(w_tlp, want), export_tlp_name(have));
	}
	req.op_case = ART17__ADMIN_REQUEST__OP_FEEDBACK_LIST;
	req.request_status = NULL;
	req.feedback_list = &q;
	/* the socket is open: ask again on it */
	if ((rv = ctl_call(c, &req, &rf.m, &rf.r, &rf.buf, &rf.len)) != 0) {
		reply_fini(&rs);
		return rv;
	}
	in.request = rs.r->request;
	in.feedback = rf.r->feedback;
	in.n_feedback = rf.r->n_feedback;
	in.now_ms = wire_now_ms();
	if (export_render(&in, fmt, &buf, &len, err, sizeof(err)) != 0 ||
	    export_write(out, buf, len, err, sizeof(err)) != 0) {
		ctl_err("%s: %s", cmd, err);
		rv = CTL_EX_SETUP;
	}
	free(buf);
	reply_fini(&rf);
	reply_fini(&rs);
	return rv;
}

/* ---------------------------------------------------- marking, Q22 */

static const struct word w_coord[] = {
    {"none", ART17__COORDINATION__COORD_NONE},
    {"check-others", ART17__COORDINATION__COORD_CHECK_OTHERS},
    {"notify-sender", ART17__COORDINATION__COORD_NOTIFY_SENDER},
    {"other", ART17__COORDINATION__COORD_OTHER},
    {NULL, 0},
};

static int
cmd_request_remark(struct ctl *c, int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"tlp", required_argument, NULL, 0},
	    {"scope", required_argument, NULL, 0},
	    {"reason", required_argument, NULL, 0},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "request remark";
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__MarkingRevision mr = ART17__MARKING_REVISION__INIT;
	Art17__Marking mk = ART17__MARKING__INIT;
	const char *vals[4] = {NULL, NULL, NULL, NULL};
	const char *id = NULL;
	int tlp = 0, scope = 0;
	struct reply rp;
	int rv;

	if ((rv = parse_id_opts(argc, argv, cmd, usage_request_remark, lopts,
	                        vals, &id)) != 0)
		return rv < 0 ? CTL_EX_OK : rv;
	if (vals[0] != NULL &&
	    (rv = word_parse(cmd, "--tlp", w_tlp, vals[0], &tlp)) != 0)
		return rv;
	if (vals[1] != NULL &&
	    (rv = word_parse(cmd, "--scope", w_scope, vals[1], &scope)) != 0)
		return rv;
	if (tlp == 0 && scope == 0)
		return ctl_usage(cmd, "give --tlp, --scope or both");
	if (vals[2] == NULL || !text_ok(vals[2], false))
		return ctl_usage(
		    cmd,
		    "--reason is required (1-%d characters, no "
		    "control characters): it goes to the audit log "
		    "and to the recipients",
		    CTL_TEXT_MAX);
	mk.tlp = (Art17__Tlp)tlp;
	mk.scope = (Art17__Scope)scope;
	mr.request_id = (char *)id;
	mr.marking = &mk;
	mr.reason = (char *)vals[2];
	req.op_case = ART17__ADMIN_REQUEST__OP_REQUEST_REMARK;
	req.request_remark = &mr;
	if ((rv = reply_get(c, &req, &rp)) == 0)
		info_print(rp.r, "marking of %s revised", id);
	reply_fini(&rp);
	return rv;
}

static json_t *
jconsult(const Art17__ConsultRecord *r)
{
	const Art17__Consultation *k = r->consult;

	return json_pack(
	    "{s:s, s:s, s:b, s:o, s:s, s:s, s:s, s:s, s:s, s:s?}", "consult_id",
	    k->consult_id, "from_id", r->from_id, "from_reporter",
	    r->from_reporter, "received", jtime(r->received_ms), "secrecy_wish",
	    word_name(w_secret, k->secrecy_wish), "sharing_scope",
	    word_name(w_scope, k->sharing_scope), "coordination",
	    word_name(w_coord, k->coordination), "coordination_detail",
	    k->coordination_detail, "text", k->text, "shared_as",
	    (r->shared_as && r->shared_as[0]) ? r->shared_as : NULL);
}

static int
cmd_consult_list(struct ctl *c, int argc, char **argv)
{
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__StatusQuery q = ART17__STATUS_QUERY__INIT;
	struct reply rp;
	bool json;
	size_t i;
	int rv;

	if ((rv = parse_simple(argc, argv, "consult list", usage_consult_list,
	                       false, NULL, &json)) != 0)
		return rv < 0 ? CTL_EX_OK : rv;
	req.op_case = ART17__ADMIN_REQUEST__OP_CONSULT_LIST;
	req.consult_list = &q;
	if ((rv = reply_get(c, &req, &rp)) != 0)
		goto out;
	for (i = 0; i < rp.r->n_consults; i++)
		if (rp.r->consults[i]->consult == NULL) {
			ctl_err("consult list: the broker sent a record "
			        "without its consultation");
			rv = CTL_EX_SETUP;
			goto out;
		}
	if (json) {
		json_t *a = json_array();
		for (i = 0; i < rp.r->n_consults; i++)
			jarray_add(&a, jconsult(rp.r->consults[i]));
		rv = jout(a);
	} else {
		struct table t;
		table_init(&t, 8);
		table_row(&t, "ID", "FROM", "RECEIVED", "SECRET", "SCOPE",
		          "COORDINATION", "SHARED-AS", "TEXT");
		for (i = 0; i < rp.r->n_consults; i++) {
			const Art17__ConsultRecord *r = rp.r->consults[i];
			char when[40], from[160];
			iso_ms(r->received_ms, when, sizeof(when));
			snprintf(from, sizeof(from), "%s%s", r->from_id,
			         r->from_reporter ? " (reporter)" : "");
			table_row(&t, r->consult->consult_id, from, when,
			          word_name(w_secret, r->consult->secrecy_wish),
			          word_name(w_scope, r->consult->sharing_scope),
			          word_name(w_coord, r->consult->coordination),
			          (r->shared_as && r->shared_as[0])
			              ? r->shared_as
			              : "-",
			          r->consult->text);
		}
		table_print(&t, stdout);
		table_fini(&t);
	}
out:
	reply_fini(&rp);
	return rv;
}

static int
cmd_consult_share(struct ctl *c, int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"incident", required_argument, NULL, 0},
	    {"title", required_argument, NULL, 0},
	    {"tlp", required_argument, NULL, 0},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "consult share";
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__ConsultShare cs = ART17__CONSULT_SHARE__INIT;
	const char *vals[5] = {NULL, NULL, NULL, NULL, NULL};
	const char *id = NULL;
	bool json = false;
	int tlp = ART17__TLP__TLP_AMBER, ch, idx;
	struct reply rp;
	int rv;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":h", lopts, &idx)) != -1) {
		switch (ch) {
		case 0:
			vals[idx] = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(usage_consult_share, stdout);
			return CTL_EX_OK;
		default:
			return opt_error(cmd, ch, argv);
		}
	}
	if (optind >= argc)
		return ctl_usage(cmd, "missing CONSULT_ID");
	id = argv[optind++];
	if (optind < argc)
		return ctl_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (vals[0] == NULL || !id_ok(vals[0]))
		return ctl_usage(cmd,
		                 "--incident ID is required (1-%d "
		                 "characters of A-Z a-z 0-9 . _ -)",
		                 CTL_ID_MAX);
	if (vals[1] == NULL || !text_ok(vals[1], false))
		return ctl_usage(cmd,
		                 "--title is required (1-%d characters, no "
		                 "control characters)",
		                 CTL_TEXT_MAX);
	if (vals[2] != NULL &&
	    (rv = word_parse(cmd, "--tlp", w_tlp, vals[2], &tlp)) != 0)
		return rv;
	cs.consult_id = (char *)id;
	cs.incident_id = (char *)vals[0];
	cs.title = (char *)vals[1];
	cs.tlp = (Art17__Tlp)tlp;
	req.op_case = ART17__ADMIN_REQUEST__OP_CONSULT_SHARE;
	req.consult_share = &cs;
	c->on_refusal = issue_refused;
	rv = reply_get(c, &req, &rp);
	c->on_refusal = NULL;
	if (rv == 0) {
		if (rp.r->issued == NULL) {
			ctl_err("the broker's reply carries no issue result");
			rv = CTL_EX_SETUP;
		} else {
			rv = issue_print(rp.r->issued, json);
		}
	}
	reply_fini(&rp);
	return rv;
}

/* ------------------------------------------------------------ main */

struct command {
	const char *group;
	const char *verb;
	int (*fn)(struct ctl *, int, char **);
};

static const struct command commands[] = {
    {"member", "add", cmd_member_add},
    {"member", "list", cmd_member_list},
    {"member", "show", cmd_member_show},
    {"member", "rekey", cmd_member_rekey},
    {"consent", "grant", cmd_consent_grant},
    {"consent", "revoke", cmd_consent_revoke},
    {"consent", "show", cmd_consent_show},
    {"incident", "declare", cmd_incident_declare},
    {"incident", "flag", cmd_incident_flag},
    {"incident", "confirm", cmd_incident_confirm},
    {"incident", "unflag", cmd_incident_unflag},
    {"incident", "close", cmd_incident_close},
    {"incident", "list", cmd_incident_list},
    {"incident", "show", cmd_incident_show},
    {"request", "issue", cmd_request_issue},
    {"request", "status", cmd_request_status},
    {"request", "list", cmd_request_list},
    {"audit", "verify", cmd_audit_verify},
    {"audit", "show", cmd_audit_show},
    {"staff", "apply", cmd_staff_apply},
    {"feedback", "list", cmd_feedback_list},
    {"feedback", "export", cmd_feedback_export},
    {"staff", "list", cmd_staff_list},
    {"request", "remark", cmd_request_remark},
    {"consult", "list", cmd_consult_list},
    {"consult", "share", cmd_consult_share},
    {NULL, NULL, NULL},
};

static const char *
env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return (v != NULL && v[0] != '\0') ? v : dflt;
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"pki", required_argument, NULL, 'p'},
	    {"coordinator", required_argument, NULL, 'u'},
	    {"key", required_argument, NULL, 'K'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct ctl c;
	const char *group, *verb;
	long tmo;
	size_t i;
	int ch, rv;
	bool group_known = false;

	memset(&c, 0, sizeof(c));
	c.datadir = env_or("ART17_DATA", CTL_DEFAULT_DATA);
	c.pki = env_or("ART17_PKI", CTL_DEFAULT_PKI);
	c.coord = env_or("ART17_COORDINATOR", CTL_DEFAULT_COORD);
	c.keypath = env_or("ART17_COORD_KEY", NULL);
	c.timeout_s = CTL_DEFAULT_TIMEOUT_S;
	log_init(1, "art17ctl", 0);

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:d:p:u:K:t:hV", lopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'd':
			c.datadir = optarg;
			break;
		case 'p':
			c.pki = optarg;
			break;
		case 'u':
			c.coord = optarg;
			break;
		case 'K':
			c.keypath = optarg;
			break;
		case 't':
			if (seconds_parse(optarg, 1, 3600, &tmo) != 0)
				return ctl_usage(
				    NULL,
				    "invalid --timeout '%s' (whole seconds, "
				    "1-3600)",
				    optarg);
			c.timeout_s = (int)tmo;
			break;
		case 'h':
			fputs(usage_main, stdout);
			return CTL_EX_OK;
		case 'V':
			printf("art17ctl " CTL_VERSION "\n");
			return CTL_EX_OK;
		default:
			return opt_error(NULL, ch, argv);
		}
	}
	if (c.datadir[0] == '\0')
		return ctl_usage(NULL, "--data must not be empty");
	if (!id_ok(c.coord))
		return ctl_usage(NULL, "invalid coordinator name '%s'",
		                 c.coord);
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		fputs(usage_main, stderr);
		return CTL_EX_USAGE;
	}
	group = argv[0];
	if (strcmp(group, "help") == 0)
		return cmd_help(argc, argv);
	if (argc < 2) {
		for (i = 0; commands[i].group != NULL; i++)
			if (strcmp(commands[i].group, group) == 0)
				return ctl_usage(group, "missing subcommand");
		return ctl_usage(NULL, "unknown command '%s'", group);
	}
	verb = argv[1];
	for (i = 0; commands[i].group != NULL; i++) {
		if (strcmp(commands[i].group, group) != 0)
			continue;
		group_known = true;
		if (strcmp(commands[i].verb, verb) == 0) {
			/* argv[0] of the subcommand is its verb */
			rv = commands[i].fn(&c, argc - 1, argv + 1);
			ctl_fini(&c);
			return rv;
		}
	}
	if (group_known)
		return ctl_usage(group, "unknown subcommand '%s'", verb);
	return ctl_usage(NULL, "unknown command '%s'", group);
}
