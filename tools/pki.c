/*
 * pki.c: art17-pki, the offline tool that makes the private CA, the TLS
 * certificates (ECDSA P-256, since nng's mbedTLS 2.28 cannot use Ed25519
 * certificates), the Ed25519 identity keys and the X25519 sealing keys of
 * registered staff.
 *
 * Every file is PEM. Nothing existing is ever overwritten except the CRL
 * and revoked.txt, which revoke regenerates. New files are written to a
 * temporary name and linked into place, so a file is either whole or
 * absent; when a command fails, the files and directories it made are
 * removed again.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto.h"
#include "err.h"
#include "log.h"
#include "seal.h"

#ifndef PKI_VERSION
#define PKI_VERSION "0.1.0"
#endif

#define PKI_CA_DAYS    3650
#define PKI_LEAF_DAYS  825
#define PKI_MAX_DAYS   36500
#define PKI_CRL_DAYS   365
#define PKI_MAX_HOSTS  16
#define PKI_SKEW_SECS  300 /* default notBefore lag, for clock skew */
#define PKI_SERIAL_LEN 16
#define PKI_MAX_FILE   (1024 * 1024)
#define PKI_MAX_MADE   48

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

enum cert_kind { CERT_CA, CERT_SERVER, CERT_CLIENT };

struct cert_spec {
	enum cert_kind kind;
	const char *cn;
	EVP_PKEY *key;        /* subject public key */
	X509 *issuer;         /* NULL: self-signed */
	EVP_PKEY *issuer_key; /* signs the certificate */
	const char *san;      /* subjectAltName value, or NULL */
	int days;
	int nb_days_ago;
};

struct opts {
	const char *dir;
	const char *hosts[PKI_MAX_HOSTS];
	int nhosts;
	int days; /* 0: the command's default */
	int nb_days_ago;
	int have_nb;
};

/*
 * What this run has made, so a failure can take it back. Only paths this
 * process created go in here; nothing that existed before is touched.
 */
static struct {
	char path[PATH_MAX];
	int isdir;
} made[PKI_MAX_MADE];
static int nmade;

static void pki_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
pki_msg(const char *fmt, ...)
{
	va_list ap;

	fputs("art17-pki: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Reports an OpenSSL failure with its last reason, then drains the queue. */
static int
ossl_fail(const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char buf[256] = "unknown OpenSSL error";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	pki_msg("%s: %s", what, buf);
	return (a17_err_ossl());
}

static int path_fmt(char *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Formats a PATH_MAX path; a truncated path is an error, never used. */
static int
path_fmt(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= PATH_MAX) {
		pki_msg("path too long");
		return (A17_EINVAL);
	}
	return (0);
}

static void
made_add(const char *path, int isdir)
{
	if (nmade >= PKI_MAX_MADE)
		return;
	snprintf(made[nmade].path, sizeof(made[nmade].path), "%s", path);
	made[nmade].isdir = isdir;
	nmade++;
}

static void
made_rollback(void)
{
	while (nmade > 0) {
		nmade--;
		if (made[nmade].isdir)
			(void)rmdir(made[nmade].path);
		else
			(void)unlink(made[nmade].path);
	}
}

static void
made_commit(void)
{
	int i;

	for (i = 0; i < nmade; i++)
		if (!made[i].isdir)
			printf("created %s\n", made[i].path);
	nmade = 0;
}

static int
mkdir_one(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) == 0) {
		made_add(path, 1);
		/* The umask may have narrowed it; never widened beyond 0700. */
		if (chmod(path, 0700) != 0) {
			pki_msg("cannot chmod %s: %s", path, strerror(errno));
			return (a17_err_errno(errno));
		}
		return (0);
	}
	if (errno != EEXIST) {
		pki_msg("cannot create directory %s: %s", path,
		        strerror(errno));
		return (a17_err_errno(errno));
	}
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		pki_msg("%s exists and is not a directory", path);
		return (A17_EEXIST);
	}
	return (0);
}

/* mkdir -p with mode 0700; existing directories are left as they are. */
static int
mkdirs(const char *path)
{
	char buf[PATH_MAX];
	char *p;
	int rv;

	if ((rv = path_fmt(buf, "%s", path)) != 0)
		return (rv);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		rv = mkdir_one(buf);
		*p = '/';
		if (rv != 0)
			return (rv);
	}
	return (mkdir_one(buf));
}

static int
exists(const char *path)
{
	struct stat st;

	return (lstat(path, &st) == 0);
}

/* Writes data to a fresh temporary file next to path; fills tmp. */
static int
write_tmp(const char *path, const void *data, size_t len, mode_t mode,
          char *tmp)
{
	const char *slash = strrchr(path, '/');
	const unsigned char *p = data;
	int fd, rv;

	if (slash != NULL)
		rv = path_fmt(tmp, "%.*s/.%s.XXXXXX", (int)(slash - path), path,
		              slash + 1);
	else
		rv = path_fmt(tmp, ".%s.XXXXXX", path);
	if (rv != 0)
		return (rv);
	if ((fd = mkstemp(tmp)) < 0) {
		pki_msg("cannot create a temporary file for %s: %s", path,
		        strerror(errno));
		return (a17_err_errno(errno));
	}
	if (fchmod(fd, mode) != 0)
		goto fail;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	return (0);
fail:
	rv = errno;
	pki_msg("cannot write %s: %s", tmp, strerror(rv));
	if (fd >= 0)
		(void)close(fd);
	(void)unlink(tmp);
	return (a17_err_errno(rv));
}

/*
 * Creates path holding data with the given mode. Refuses (A17_EEXIST) when
 * path exists; link(2) makes that check and the creation one atomic step,
 * and readers never see a partly written file.
 */
static int
write_new(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	int rv, err;

	if ((rv = write_tmp(path, data, len, mode, tmp)) != 0)
		return (rv);
	if (link(tmp, path) != 0) {
		err = errno;
		(void)unlink(tmp);
		if (err == EEXIST)
			pki_msg("refusing to overwrite existing file %s", path);
		else
			pki_msg("cannot create %s: %s", path, strerror(err));
		return (a17_err_errno(err));
	}
	(void)unlink(tmp);
	made_add(path, 0);
	return (0);
}

/* Atomically replaces path (used only for the CRL and revoked.txt). */
static int
write_replace(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	int rv, err;

	if ((rv = write_tmp(path, data, len, mode, tmp)) != 0)
		return (rv);
	if (rename(tmp, path) != 0) {
		err = errno;
		(void)unlink(tmp);
		pki_msg("cannot replace %s: %s", path, strerror(err));
		return (a17_err_errno(err));
	}
	return (0);
}

/* Reads a whole (small) file; *bufp is NUL-terminated, free() it. */
static int
read_all(const char *path, char **bufp, size_t *lenp)
{
	FILE *f;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	int rv = 0;

	if ((f = fopen(path, "rb")) == NULL) {
		rv = a17_err_errno(errno);
		pki_msg("cannot open %s: %s", path, strerror(errno));
		return (rv);
	}
	for (;;) {
		if (cap - len < 4096 + 1) {
			char *nb;
			cap = cap ? cap * 2 : 8192;
			if (cap > PKI_MAX_FILE) {
				pki_msg("%s is too large", path);
				rv = A17_ETOOBIG;
				break;
			}
			if ((nb = realloc(buf, cap)) == NULL) {
				pki_msg("out of memory reading %s", path);
				rv = A17_ENOMEM;
				break;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0) {
			if (ferror(f)) {
				pki_msg("cannot read %s: %s", path,
				        strerror(errno));
				rv = A17_EIO;
			}
			break;
		}
	}
	(void)fclose(f);
	if (rv != 0) {
		free(buf);
		return (rv);
	}
	if (buf == NULL && (buf = malloc(1)) == NULL)
		return (A17_ENOMEM);
	buf[len] = '\0';
	*bufp = buf;
	if (lenp != NULL)
		*lenp = len;
	return (0);
}

static int
copy_new(const char *from, const char *to, mode_t mode)
{
	char *buf;
	size_t len;
	int rv;

	if ((rv = read_all(from, &buf, &len)) != 0)
		return (rv);
	rv = write_new(to, buf, len, mode);
	free(buf);
	return (rv);
}

static int
load_cert(const char *path, X509 **xp)
{
	FILE *f;
	X509 *x;

	if ((f = fopen(path, "r")) == NULL) {
		int rv = a17_err_errno(errno);
		pki_msg("cannot open %s: %s", path, strerror(errno));
		return (rv);
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	(void)fclose(f);
	if (x == NULL) {
		char what[PATH_MAX + 32];
		snprintf(what, sizeof(what), "cannot read certificate %s",
		         path);
		return (ossl_fail(what));
	}
	*xp = x;
	return (0);
}

static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return (-1);
}

/* Loads the CA's private key, refusing a file others can read. */
static int
load_ca_key(const char *path, EVP_PKEY **kp)
{
	struct stat st;
	FILE *f;
	EVP_PKEY *k;

	if ((f = fopen(path, "r")) == NULL) {
		int rv = a17_err_errno(errno);
		pki_msg("cannot open %s: %s", path, strerror(errno));
		return (rv);
	}
	if (fstat(fileno(f), &st) != 0 || (st.st_mode & 077) != 0) {
		pki_msg("%s is readable by group or others (mode %03o); "
		        "run chmod 600 on it",
		        path, (unsigned)(st.st_mode & 0777));
		(void)fclose(f);
		return (A17_EDENIED);
	}
	k = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	(void)fclose(f);
	if (k == NULL) {
		char what[PATH_MAX + 32];
		snprintf(what, sizeof(what), "cannot read private key %s",
		         path);
		return (ossl_fail(what));
	}
	*kp = k;
	return (0);
}

/* MEMBER and NAME: [A-Za-z0-9._-]{1,64}, not starting with '.'. */
static int
valid_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 1 || n > 64 || s[0] == '.')
		return (0);
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return (0);
	}
	return (1);
}

static int
is_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return (inet_pton(AF_INET, s, buf) == 1 ||
	        inet_pton(AF_INET6, s, buf) == 1);
}

/* A DNS name for a SAN entry; no commas, so no injected entries. */
static int
valid_host(const char *s)
{
	size_t i, n = strlen(s);

	if (is_ip(s))
		return (1);
	if (n < 1 || n > 253 || s[0] == '.' || s[0] == '-')
		return (0);
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-'))
			return (0);
	}
	return (1);
}

static int
gen_tls_key(EVP_PKEY **kp)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	if (k == NULL)
		return (ossl_fail("cannot generate ECDSA P-256 key"));
	*kp = k;
	return (0);
}

/* A random positive 16-byte serial whose first byte is never zero. */
static int
rand_serial(X509 *x)
{
	uint8_t b[PKI_SERIAL_LEN];
	BIGNUM *bn;
	int rv;

	if ((rv = crypto_random(b, sizeof(b))) != 0) {
		pki_msg("cannot get random bytes: %s", a17_strerror(rv));
		return (rv);
	}
	b[0] &= 0x7f;
	if (b[0] == 0)
		b[0] = 0x01;
	if ((bn = BN_bin2bn(b, sizeof(b), NULL)) == NULL)
		return (ossl_fail("cannot make serial"));
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		rv = ossl_fail("cannot set serial");
	BN_free(bn);
	return (rv);
}

/* Hex of an ASN.1 integer (as openssl prints it); OPENSSL_free it. */
static char *
serial_hex(const ASN1_INTEGER *ai)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
	char *s;

	if (bn == NULL)
		return (NULL);
	s = BN_bn2hex(bn);
	BN_free(bn);
	return (s);
}

static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ex;
	int ok;

	if ((ex = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL)
		return (ossl_fail(OBJ_nid2sn(nid)));
	ok = X509_add_ext(x, ex, -1);
	X509_EXTENSION_free(ex);
	if (!ok)
		return (ossl_fail(OBJ_nid2sn(nid)));
	return (0);
}

static int
set_name(X509_NAME *n, const char *cn)
{
	if (!X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
	                                (const unsigned char *)"art17", -1, -1,
	                                0) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	                                (const unsigned char *)cn, -1, -1, 0))
		return (ossl_fail("cannot build name"));
	return (0);
}

/* Builds and signs an X509v3 certificate (SHA-256) as spec describes. */
static int
make_cert(const struct cert_spec *s, X509 **xp)
{
	X509V3_CTX ctx;
	X509 *x;
	time_t now = time(NULL);
	long skew = s->nb_days_ago == 0 ? PKI_SKEW_SECS : 0;
	int rv;

	if ((x = X509_new()) == NULL)
		return (ossl_fail("cannot allocate certificate"));
	if (!X509_set_version(x, X509_VERSION_3)) {
		rv = ossl_fail("cannot set version");
		goto out;
	}
	if ((rv = rand_serial(x)) != 0)
		goto out;
	if ((rv = set_name(X509_get_subject_name(x), s->cn)) != 0)
		goto out;
	if (!X509_set_issuer_name(x, s->issuer != NULL
	                                 ? X509_get_subject_name(s->issuer)
	                                 : X509_get_subject_name(x))) {
		rv = ossl_fail("cannot set issuer");
		goto out;
	}
	if (X509_time_adj_ex(X509_getm_notBefore(x), -s->nb_days_ago, -skew,
	                     &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), s->days - s->nb_days_ago,
	                     -skew, &now) == NULL) {
		rv = ossl_fail("cannot set validity");
		goto out;
	}
	if (!X509_set_pubkey(x, s->key)) {
		rv = ossl_fail("cannot set public key");
		goto out;
	}

	X509V3_set_ctx(&ctx, s->issuer != NULL ? s->issuer : x, x, NULL, NULL,
	               0);
	switch (s->kind) {
	case CERT_CA:
		rv =
		    add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
		if (rv == 0)
			rv = add_ext(x, &ctx, NID_key_usage,
			             "critical,keyCertSign,cRLSign");
		break;
	case CERT_SERVER:
	case CERT_CLIENT:
		rv = add_ext(x, &ctx, NID_basic_constraints,
		             "critical,CA:FALSE");
		if (rv == 0)
			rv = add_ext(x, &ctx, NID_key_usage,
			             "critical,digitalSignature,keyAgreement");
		if (rv == 0)
			rv = add_ext(x, &ctx, NID_ext_key_usage,
			             s->kind == CERT_SERVER ? "serverAuth"
			                                    : "clientAuth");
		if (rv == 0 && s->san != NULL)
			rv = add_ext(x, &ctx, NID_subject_alt_name, s->san);
		break;
	}
	/* The subject key id must exist before a self-signed cert's AKID. */
	if (rv == 0)
		rv = add_ext(x, &ctx, NID_subject_key_identifier, "hash");
	if (rv == 0)
		rv = add_ext(x, &ctx, NID_authority_key_identifier,
		             "keyid:always");
	if (rv != 0)
		goto out;
	if (X509_sign(x, s->issuer_key, EVP_sha256()) <= 0) {
		rv = ossl_fail("cannot sign certificate");
		goto out;
	}
	*xp = x;
	return (0);
out:
	X509_free(x);
	return (rv);
}

/*
 * Builds a v2 CRL listing serials (hex strings), signed by the CA with
 * SHA-256, next update in PKI_CRL_DAYS. Revocation dates already in old
 * are kept, so regenerating does not move them.
 */
static int
make_crl(X509 *ca, EVP_PKEY *cakey, char **serials, int n, X509_CRL *old,
         X509_CRL **out)
{
	X509_CRL *crl;
	X509V3_CTX ctx;
	X509_EXTENSION *ex = NULL;
	ASN1_TIME *now_t = NULL, *next_t = NULL;
	ASN1_INTEGER *num = NULL;
	time_t now = time(NULL);
	int i, rv = 0;

	if ((crl = X509_CRL_new()) == NULL)
		return (ossl_fail("cannot allocate CRL"));
	now_t = ASN1_TIME_set(NULL, now);
	next_t = X509_time_adj_ex(NULL, PKI_CRL_DAYS, 0, &now);
	if (now_t == NULL || next_t == NULL || !X509_CRL_set_version(crl, 1) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) ||
	    !X509_CRL_set1_lastUpdate(crl, now_t) ||
	    !X509_CRL_set1_nextUpdate(crl, next_t)) {
		rv = ossl_fail("cannot build CRL");
		goto out;
	}
	for (i = 0; i < n; i++) {
		BIGNUM *bn = NULL;
		ASN1_INTEGER *sn = NULL;
		X509_REVOKED *r = NULL, *oldr = NULL;
		const ASN1_TIME *when = now_t;
		int ok;

		ok = BN_hex2bn(&bn, serials[i]) != 0 &&
		     (sn = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
		     (r = X509_REVOKED_new()) != NULL;
		if (ok && old != NULL &&
		    X509_CRL_get0_by_serial(old, &oldr, sn) == 1)
			when = X509_REVOKED_get0_revocationDate(oldr);
		ok = ok && X509_REVOKED_set_serialNumber(r, sn) &&
		     X509_REVOKED_set_revocationDate(r, (ASN1_TIME *)when) &&
		     X509_CRL_add0_revoked(crl, r);
		ASN1_INTEGER_free(sn);
		BN_free(bn);
		if (!ok) {
			X509_REVOKED_free(r);
			rv = ossl_fail("cannot add CRL entry");
			goto out;
		}
	}
	X509V3_set_ctx(&ctx, ca, NULL, NULL, crl, 0);
	ex = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
	                         "keyid:always");
	/* Time-based, so each regeneration has a larger number. */
	num = ASN1_INTEGER_new();
	if (ex == NULL || num == NULL || !X509_CRL_add_ext(crl, ex, -1) ||
	    !ASN1_INTEGER_set_int64(num, (int64_t)now) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0)) {
		rv = ossl_fail("cannot add CRL extensions");
		goto out;
	}
	if (!X509_CRL_sort(crl) ||
	    X509_CRL_sign(crl, cakey, EVP_sha256()) <= 0) {
		rv = ossl_fail("cannot sign CRL");
		goto out;
	}
out:
	ASN1_INTEGER_free(num);
	X509_EXTENSION_free(ex);
	ASN1_TIME_free(next_t);
	ASN1_TIME_free(now_t);
	if (rv != 0)
		X509_CRL_free(crl);
	else
		*out = crl;
	return (rv);
}

/* PEM of a certificate (public) into a memory BIO. */
static int
pem_cert(BIO *b, X509 *x)
{
	if (!PEM_write_bio_X509(b, x))
		return (ossl_fail("cannot encode certificate"));
	return (0);
}

static int
pem_key(BIO *b, EVP_PKEY *k)
{
	if (!PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL))
		return (ossl_fail("cannot encode private key"));
	return (0);
}

static int
write_bio(const char *path, BIO *b, mode_t mode)
{
	char *data;
	long len = BIO_get_mem_data(b, &data);

	if (len < 0)
		return (ossl_fail("cannot read memory buffer"));
	return (write_new(path, data, (size_t)len, mode));
}

/*
 * Writes DIR/tls.crt (0644), tls.key and tls.pem (cert then key, 0600).
 * Key material stays in secure-heap BIOs that are wiped on free.
 */
static int
write_tls_files(const char *dir, X509 *x, EVP_PKEY *k)
{
	char path[PATH_MAX];
	BIO *bc = BIO_new(BIO_s_mem());
	BIO *bk = BIO_new(BIO_s_secmem());
	BIO *bp = BIO_new(BIO_s_secmem());
	int rv;

	if (bc == NULL || bk == NULL || bp == NULL) {
		rv = ossl_fail("cannot allocate buffer");
		goto out;
	}
	if ((rv = pem_cert(bc, x)) != 0 || (rv = pem_key(bk, k)) != 0 ||
	    (rv = pem_cert(bp, x)) != 0 || (rv = pem_key(bp, k)) != 0)
		goto out;
	if ((rv = path_fmt(path, "%s/tls.crt", dir)) != 0 ||
	    (rv = write_bio(path, bc, 0644)) != 0)
		goto out;
	if ((rv = path_fmt(path, "%s/tls.key", dir)) != 0 ||
	    (rv = write_bio(path, bk, 0600)) != 0)
		goto out;
	if ((rv = path_fmt(path, "%s/tls.pem", dir)) != 0 ||
	    (rv = write_bio(path, bp, 0600)) != 0)
		goto out;
out:
	BIO_free(bp);
	BIO_free(bk);
	BIO_free(bc);
	return (rv);
}

/* Writes an Ed25519 key pair as PRIV (0600) and PUB; fills idhex. */
static int
write_ed25519(const char *priv, const char *pub, char *idhex)
{
	a17_key *k = NULL;
	int rv;

	if ((rv = crypto_key_generate(&k)) != 0) {
		pki_msg("cannot generate Ed25519 key: %s", a17_strerror(rv));
		return (rv);
	}
	if ((rv = crypto_key_save_private(k, priv)) != 0) {
		if (rv == A17_EEXIST)
			pki_msg("refusing to overwrite existing file %s", priv);
		else
			pki_msg("cannot write %s: %s", priv, a17_strerror(rv));
		goto out;
	}
	made_add(priv, 0);
	if ((rv = crypto_key_save_public(k, pub)) != 0) {
		if (rv == A17_EEXIST)
			pki_msg("refusing to overwrite existing file %s", pub);
		else
			pki_msg("cannot write %s: %s", pub, a17_strerror(rv));
		goto out;
	}
	made_add(pub, 0);
	crypto_hex(crypto_key_id(k), A17_KEYID_LEN, idhex);
out:
	crypto_key_free(k);
	return (rv);
}

static int
write_crl(const char *path, X509_CRL *crl, int replace)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int rv;

	if (b == NULL || !PEM_write_bio_X509_CRL(b, crl)) {
		BIO_free(b);
		return (ossl_fail("cannot encode CRL"));
	}
	len = BIO_get_mem_data(b, &data);
	if (replace)
		rv = write_replace(path, data, (size_t)len, 0644);
	else
		rv = write_new(path, data, (size_t)len, 0644);
	BIO_free(b);
	return (rv);
}

/* Refuses when any of the NULL-terminated paths exists. */
static int
refuse_existing(const char *const *paths, const char *hint)
{
	int i;

	for (i = 0; paths[i] != NULL; i++) {
		if (exists(paths[i])) {
			pki_msg("refusing to overwrite existing file %s%s",
			        paths[i], hint);
			return (A17_EEXIST);
		}
	}
	return (0);
}

static int
cmd_init(const struct opts *o)
{
	char ca_dir[PATH_MAX], br_dir[PATH_MAX], ag_dir[PATH_MAX],
	    co_dir[PATH_MAX];
	char ca_crt[PATH_MAX], ca_key[PATH_MAX], crl[PATH_MAX],
	    revoked[PATH_MAX];
	char br_crt[PATH_MAX], br_key[PATH_MAX], br_pem[PATH_MAX],
	    br_sign[PATH_MAX], br_pub[PATH_MAX], br_ca[PATH_MAX];
	char cn[64], idhex[2 * A17_KEYID_LEN + 1];
	char *san = NULL, *cahex = NULL;
	size_t san_len = 0;
	EVP_PKEY *cak = NULL, *brk = NULL;
	X509 *cax = NULL, *brx = NULL;
	X509_CRL *crlx = NULL;
	BIO *b = NULL;
	int days = o->days ? o->days : PKI_LEAF_DAYS;
	int i, rv;
	struct cert_spec cs;

	if ((rv = path_fmt(ca_dir, "%s/ca", o->dir)) != 0 ||
	    (rv = path_fmt(br_dir, "%s/broker", o->dir)) != 0 ||
	    (rv = path_fmt(ag_dir, "%s/agents", o->dir)) != 0 ||
	    (rv = path_fmt(co_dir, "%s/coordinators", o->dir)) != 0 ||
	    (rv = path_fmt(ca_crt, "%s/ca.crt", ca_dir)) != 0 ||
	    (rv = path_fmt(ca_key, "%s/ca.key", ca_dir)) != 0 ||
	    (rv = path_fmt(crl, "%s/crl.pem", ca_dir)) != 0 ||
	    (rv = path_fmt(revoked, "%s/revoked.txt", ca_dir)) != 0 ||
	    (rv = path_fmt(br_crt, "%s/tls.crt", br_dir)) != 0 ||
	    (rv = path_fmt(br_key, "%s/tls.key", br_dir)) != 0 ||
	    (rv = path_fmt(br_pem, "%s/tls.pem", br_dir)) != 0 ||
	    (rv = path_fmt(br_sign, "%s/sign.key", br_dir)) != 0 ||
	    (rv = path_fmt(br_pub, "%s/sign.pub", br_dir)) != 0 ||
	    (rv = path_fmt(br_ca, "%s/ca.crt", br_dir)) != 0)
		return (rv);
	{
		const char *const all[] = {ca_crt, ca_key, crl,    revoked,
		                           br_crt, br_key, br_pem, br_sign,
		                           br_pub, br_ca,  NULL};
		if ((rv = refuse_existing(all, " (already initialised?)")) != 0)
			return (rv);
	}

	/* subjectAltName: the loopback names plus every --host. */
	san_len = 64 + (size_t)o->nhosts * 260;
	if ((san = malloc(san_len)) == NULL)
		return (A17_ENOMEM);
	snprintf(san, san_len, "DNS:localhost,IP:127.0.0.1,IP:::1");
	for (i = 0; i < o->nhosts; i++) {
		size_t n = strlen(san);
		snprintf(san + n, san_len - n, ",%s:%s",
		         is_ip(o->hosts[i]) ? "IP" : "DNS", o->hosts[i]);
	}

	if ((rv = gen_tls_key(&cak)) != 0 || (rv = gen_tls_key(&brk)) != 0)
		goto out;
	/* A per-CA common name keeps two CAs apart in messages. */
	if ((rv = crypto_random((uint8_t *)cn, 4)) != 0)
		goto out;
	{
		char tag[9];
		crypto_hex((const uint8_t *)cn, 4, tag);
		snprintf(cn, sizeof(cn), "art17 CA %s", tag);
	}
	memset(&cs, 0, sizeof(cs));
	cs.kind = CERT_CA;
	cs.cn = cn;
	cs.key = cak;
	cs.issuer_key = cak;
	cs.days = days > PKI_CA_DAYS ? days : PKI_CA_DAYS;
	if ((rv = make_cert(&cs, &cax)) != 0)
		goto out;
	memset(&cs, 0, sizeof(cs));
	cs.kind = CERT_SERVER;
	cs.cn = "broker";
	cs.key = brk;
	cs.issuer = cax;
	cs.issuer_key = cak;
	cs.san = san;
	cs.days = days;
	if ((rv = make_cert(&cs, &brx)) != 0)
		goto out;
	if ((rv = make_crl(cax, cak, NULL, 0, NULL, &crlx)) != 0)
		goto out;

	if ((rv = mkdirs(ca_dir)) != 0 || (rv = mkdirs(br_dir)) != 0 ||
	    (rv = mkdirs(ag_dir)) != 0 || (rv = mkdirs(co_dir)) != 0)
		goto out;
	if ((b = BIO_new(BIO_s_secmem())) == NULL) {
		rv = ossl_fail("cannot allocate buffer");
		goto out;
	}
	/* The key first: if it cannot be written, no CA cert exists. */
	if ((rv = pem_key(b, cak)) != 0 || (rv = write_bio(ca_key, b, 0600)))
		goto out;
	(void)BIO_reset(b);
	if ((rv = pem_cert(b, cax)) != 0 || (rv = write_bio(ca_crt, b, 0644)))
		goto out;
	if ((rv = write_crl(crl, crlx, 0)) != 0 ||
	    (rv = write_new(revoked, "", 0, 0644)) != 0)
		goto out;
	if ((rv = write_tls_files(br_dir, brx, brk)) != 0)
		goto out;
	if ((rv = write_ed25519(br_sign, br_pub, idhex)) != 0)
		goto out;
	if ((rv = copy_new(ca_crt, br_ca, 0644)) != 0)
		goto out;

	cahex = serial_hex(X509_get0_serialNumber(cax));
	made_commit();
	printf("CA \"%s\" serial %s\n", cn, cahex ? cahex : "?");
	printf("broker certificate SAN %s\n", san);
	printf("broker signing key id %s\n", idhex);
out:
	if (rv != 0) {
		made_rollback();
		pki_msg("init failed; removed what it had made in %s", o->dir);
	}
	OPENSSL_free(cahex);
	BIO_free(b);
	X509_CRL_free(crlx);
	X509_free(brx);
	X509_free(cax);
	EVP_PKEY_free(brk);
	EVP_PKEY_free(cak);
	free(san);
	return (rv);
}

/* Loads the CA cert and key; says "run init" when there is no CA. */
static int
load_ca(const char *dir, X509 **xp, EVP_PKEY **kp)
{
	char crt[PATH_MAX], key[PATH_MAX];
	int rv;

	if ((rv = path_fmt(crt, "%s/ca/ca.crt", dir)) != 0 ||
	    (rv = path_fmt(key, "%s/ca/ca.key", dir)) != 0)
		return (rv);
	if (!exists(crt) || !exists(key)) {
		pki_msg("no CA in %s (missing %s); run art17-pki init first",
		        dir, exists(crt) ? key : crt);
		return (A17_ENOTFOUND);
	}
	if ((rv = load_cert(crt, xp)) != 0)
		return (rv);
	if ((rv = load_ca_key(key, kp)) != 0) {
		X509_free(*xp);
		*xp = NULL;
		return (rv);
	}
	if (X509_check_private_key(*xp, *kp) != 1) {
		pki_msg("%s does not match %s", key, crt);
		ERR_clear_error();
		X509_free(*xp);
		EVP_PKEY_free(*kp);
		*xp = NULL;
		*kp = NULL;
		return (A17_EINVAL);
	}
	return (0);
}

static int
cmd_agent(const struct opts *o, const char *member)
{
	char adir[PATH_MAX], crt[PATH_MAX], key[PATH_MAX], pem[PATH_MAX],
	    idk[PATH_MAX], idp[PATH_MAX], cacopy[PATH_MAX], bscopy[PATH_MAX],
	    ca_crt[PATH_MAX], br_pub[PATH_MAX], san[96];
	char idhex[2 * A17_KEYID_LEN + 1];
	char *shex = NULL;
	EVP_PKEY *cak = NULL, *k = NULL;
	X509 *cax = NULL, *x = NULL;
	struct cert_spec cs;
	int rv;

	if ((rv = path_fmt(adir, "%s/agents/%s", o->dir, member)) != 0 ||
	    (rv = path_fmt(crt, "%s/tls.crt", adir)) != 0 ||
	    (rv = path_fmt(key, "%s/tls.key", adir)) != 0 ||
	    (rv = path_fmt(pem, "%s/tls.pem", adir)) != 0 ||
	    (rv = path_fmt(idk, "%s/id.key", adir)) != 0 ||
	    (rv = path_fmt(idp, "%s/id.pub", adir)) != 0 ||
	    (rv = path_fmt(cacopy, "%s/ca.crt", adir)) != 0 ||
	    (rv = path_fmt(bscopy, "%s/broker-sign.pub", adir)) != 0 ||
	    (rv = path_fmt(ca_crt, "%s/ca/ca.crt", o->dir)) != 0 ||
	    (rv = path_fmt(br_pub, "%s/broker/sign.pub", o->dir)) != 0)
		return (rv);
	{
		const char *const all[] = {crt, key,    pem,    idk,
		                           idp, cacopy, bscopy, NULL};
		if ((rv = refuse_existing(all, " (agent already exists)")) != 0)
			return (rv);
	}
	if ((rv = load_ca(o->dir, &cax, &cak)) != 0)
		return (rv);
	if (!exists(br_pub)) {
		pki_msg("missing %s; run art17-pki init first", br_pub);
		rv = A17_ENOTFOUND;
		goto out;
	}
	if ((rv = gen_tls_key(&k)) != 0)
		goto out;
	snprintf(san, sizeof(san), "DNS:%s", member);
	memset(&cs, 0, sizeof(cs));
	cs.kind = CERT_CLIENT;
	cs.cn = member;
	cs.key = k;
	cs.issuer = cax;
	cs.issuer_key = cak;
	cs.san = san;
	cs.days = o->days ? o->days : PKI_LEAF_DAYS;
	cs.nb_days_ago = o->nb_days_ago;
	if ((rv = make_cert(&cs, &x)) != 0)
		goto out;
	if (ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(cax)) >
	    0)
		pki_msg("warning: the certificate outlives the CA (%s)",
		        ca_crt);

	if ((rv = mkdirs(adir)) != 0 ||
	    (rv = write_tls_files(adir, x, k)) != 0 ||
	    (rv = write_ed25519(idk, idp, idhex)) != 0 ||
	    (rv = copy_new(ca_crt, cacopy, 0644)) != 0 ||
	    (rv = copy_new(br_pub, bscopy, 0644)) != 0)
		goto out;

	shex = serial_hex(X509_get0_serialNumber(x));
	made_commit();
	printf("agent %s: certificate serial %s, identity key id %s\n", member,
	       shex ? shex : "?", idhex);
	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		printf("note: this certificate is already expired\n");
out:
	if (rv != 0) {
		made_rollback();
		pki_msg("agent %s failed; removed what it had made in %s",
		        member, adir);
	}
	OPENSSL_free(shex);
	X509_free(x);
	EVP_PKEY_free(k);
	X509_free(cax);
	EVP_PKEY_free(cak);
	return (rv);
}

static int
cmd_coordinator(const struct opts *o, const char *name)
{
	char cdir[PATH_MAX], idk[PATH_MAX], idp[PATH_MAX];
	char idhex[2 * A17_KEYID_LEN + 1];
	int rv;

	if ((rv = path_fmt(cdir, "%s/coordinators/%s", o->dir, name)) != 0 ||
	    (rv = path_fmt(idk, "%s/id.key", cdir)) != 0 ||
	    (rv = path_fmt(idp, "%s/id.pub", cdir)) != 0)
		return (rv);
	{
		const char *const all[] = {idk, idp, NULL};
		if ((rv = refuse_existing(
		         all, " (coordinator already exists)")) != 0)
			return (rv);
	}
	if ((rv = mkdirs(cdir)) != 0 ||
	    (rv = write_ed25519(idk, idp, idhex)) != 0) {
		made_rollback();
		return (rv);
	}
	made_commit();
	printf("coordinator %s: key id %s\n", name, idhex);
	return (0);
}

/*
 * Makes DIR/staff/NAME/seal.key (X25519, PKCS#8, 0600) and seal.pub (SPKI,
 * 0644) for one registered staff member's sealed content. The private key
 * is meant to be handed to that person and kept by them alone.
 */
static int
cmd_staff(const struct opts *o, const char *name)
{
	char sdir[PATH_MAX], sk[PATH_MAX], sp[PATH_MAX];
	char idhex[2 * A17_KEYID_LEN + 1];
	uint8_t pub[SEAL_PUB_LEN], h[A17_SHA256_LEN];
	seal_key *k = NULL;
	int rv;

	if ((rv = path_fmt(sdir, "%s/staff/%s", o->dir, name)) != 0 ||
	    (rv = path_fmt(sk, "%s/seal.key", sdir)) != 0 ||
	    (rv = path_fmt(sp, "%s/seal.pub", sdir)) != 0)
		return (rv);
	{
		const char *const all[] = {sk, sp, NULL};
		if ((rv = refuse_existing(all,
		                          " (staff key already exists)")) != 0)
			return (rv);
	}
	if ((rv = seal_key_generate(&k)) != 0) {
		pki_msg("cannot generate X25519 key: %s", a17_strerror(rv));
		return (rv);
	}
	if ((rv = mkdirs(sdir)) != 0)
		goto out;
	if ((rv = seal_key_save_private(k, sk)) != 0) {
		if (rv == A17_EEXIST)
			pki_msg("refusing to overwrite existing file %s", sk);
		else
			pki_msg("cannot write %s: %s", sk, a17_strerror(rv));
		goto out;
	}
	made_add(sk, 0);
	if ((rv = seal_key_save_public(k, sp)) != 0) {
		if (rv == A17_EEXIST)
			pki_msg("refusing to overwrite existing file %s", sp);
		else
			pki_msg("cannot write %s: %s", sp, a17_strerror(rv));
		goto out;
	}
	made_add(sp, 0);
	if ((rv = seal_key_raw_public(k, pub)) != 0 ||
	    (rv = crypto_sha256(pub, sizeof(pub), h)) != 0)
		goto out;
	crypto_hex(h, A17_KEYID_LEN, idhex);
	made_commit();
	printf("staff %s: X25519 sealing key id %s\n", name, idhex);
	printf("give %s to %s alone, and register %s with the broker\n", sk,
	       name, sp);
out:
	if (rv != 0) {
		made_rollback();
		pki_msg("staff %s failed; removed what it had made in %s", name,
		        sdir);
	}
	seal_key_free(k);
	return (rv);
}

/* Reads revoked.txt into an array of hex strings; a missing file is empty. */
static int
read_revoked(const char *path, char ***listp, int *np)
{
	char *buf = NULL, *line, *save = NULL;
	char **list = NULL;
	int n = 0, rv = 0;

	*listp = NULL;
	*np = 0;
	if (!exists(path))
		return (0);
	if ((rv = read_all(path, &buf, NULL)) != 0)
		return (rv);
	for (line = strtok_r(buf, "\r\n", &save); line != NULL;
	     line = strtok_r(NULL, "\r\n", &save)) {
		char **nl;
		size_t len = strlen(line);

		while (len > 0 &&
		       (line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (len > 2 * 20 ||
		    strspn(line, "0123456789abcdefABCDEF") != len) {
			pki_msg("%s: bad serial line \"%.40s\"", path, line);
			rv = A17_EMALFORMED;
			break;
		}
		if ((nl = realloc(list, sizeof(*list) * (size_t)(n + 1))) ==
		        NULL ||
		    (nl[n] = strdup(line)) == NULL) {
			if (nl != NULL)
				list = nl;
			rv = A17_ENOMEM;
			break;
		}
		list = nl;
		n++;
	}
	free(buf);
	if (rv != 0) {
		while (n > 0)
			free(list[--n]);
		free(list);
		return (rv);
	}
	*listp = list;
	*np = n;
	return (0);
}

static void
free_list(char **list, int n)
{
	while (n > 0)
		free(list[--n]);
	free(list);
}

/*
 * Moves an Ed25519 pair (priv may be NULL) into olddir as
 * <prefix>-<keyid>.key/.pub, never overwriting. Sets idhex to the key id.
 */
static int
retire_pair(const char *priv, const char *pub, const char *olddir,
            const char *prefix, char *idhex)
{
	char np[PATH_MAX], nk[PATH_MAX];
	a17_key *k = NULL;
	int rv;

	if ((rv = crypto_key_load(pub, &k)) != 0) {
		pki_msg("cannot read %s: %s", pub, a17_strerror(rv));
		return (rv);
	}
	crypto_hex(crypto_key_id(k), A17_KEYID_LEN, idhex);
	crypto_key_free(k);
	if ((rv = mkdirs(olddir)) != 0 ||
	    (rv = path_fmt(np, "%s/%s-%s.pub", olddir, prefix, idhex)) != 0 ||
	    (rv = path_fmt(nk, "%s/%s-%s.key", olddir, prefix, idhex)) != 0)
		return (rv);
	if (exists(np) || (priv != NULL && exists(nk))) {
		pki_msg("%s already holds a retired key %s", olddir, idhex);
		return (A17_EEXIST);
	}
	if (link(pub, np) != 0 || unlink(pub) != 0) {
		pki_msg("cannot retire %s: %s", pub, strerror(errno));
		return (a17_err_errno(errno));
	}
	if (priv != NULL && (link(priv, nk) != 0 || unlink(priv) != 0)) {
		pki_msg("cannot retire %s: %s", priv, strerror(errno));
		return (a17_err_errno(errno));
	}
	return (0);
}

/*
 * rotate-broker: a new broker signing key. The old pair moves to
 * broker/old/; every agent directory keeps the old public key in
 * broker-sign-old/ (to verify requests it stored earlier) and gets the
 * new broker-sign.pub.
 */
static int
cmd_rotate_broker(const struct opts *o)
{
	char bk[PATH_MAX], bp[PATH_MAX], old[PATH_MAX], oldid[64], newid[64];
	char adir[PATH_MAX];
	DIR *d;
	struct dirent *de;
	int rv, n = 0;

	if ((rv = path_fmt(bk, "%s/broker/sign.key", o->dir)) != 0 ||
	    (rv = path_fmt(bp, "%s/broker/sign.pub", o->dir)) != 0 ||
	    (rv = path_fmt(old, "%s/broker/old", o->dir)) != 0)
		return (rv);
	if ((rv = retire_pair(bk, bp, old, "sign", oldid)) != 0)
		return (rv);
	if ((rv = write_ed25519(bk, bp, newid)) != 0)
		return (rv);
	made_commit();
	if ((rv = path_fmt(adir, "%s/agents", o->dir)) != 0)
		return (rv);
	if ((d = opendir(adir)) != NULL) {
		char *pubpem = NULL;
		size_t len = 0;

		if ((rv = read_all(bp, &pubpem, &len)) != 0) {
			closedir(d);
			return (rv);
		}
		while ((de = readdir(d)) != NULL) {
			char cur[PATH_MAX], od[PATH_MAX];

			if (de->d_name[0] == '.')
				continue;
			if (path_fmt(cur, "%s/%s/broker-sign.pub", adir,
			             de->d_name) != 0 ||
			    path_fmt(od, "%s/%s/broker-sign-old", adir,
			             de->d_name) != 0 ||
			    !exists(cur))
				continue;
			if ((rv = retire_pair(NULL, cur, od, "broker",
			                      oldid)) != 0 ||
			    (rv = write_new(cur, pubpem, len, 0644)) != 0) {
				free(pubpem);
				closedir(d);
				return (rv);
			}
			made_commit();
			n++;
		}
		free(pubpem);
		closedir(d);
	}
	printf("broker signing key rotated: %s -> %s; %d agent director%s "
	       "updated\n",
	       oldid, newid, n, n == 1 ? "y" : "ies");
	printf("restart art17-broker, and give each member its new "
	       "agents/MEMBER/broker-sign.pub\n(keep broker-sign-old/: it "
	       "verifies requests stored before the rotation)\n");
	return (0);
}

/*
 * rotate-agent MEMBER: a new identity key for a member's agent. The old
 * pair moves to agents/MEMBER/old/; register the new public key with
 * `art17ctl member rekey`, which keeps the old one for old receipts.
 */
static int
cmd_rotate_agent(const struct opts *o, const char *member)
{
	char ik[PATH_MAX], ip[PATH_MAX], old[PATH_MAX], oldid[64], newid[64];
	int rv;

	if ((rv = path_fmt(ik, "%s/agents/%s/id.key", o->dir, member)) != 0 ||
	    (rv = path_fmt(ip, "%s/agents/%s/id.pub", o->dir, member)) != 0 ||
	    (rv = path_fmt(old, "%s/agents/%s/old", o->dir, member)) != 0)
		return (rv);
	if (!exists(ip)) {
		pki_msg("no agent %s in %s", member, o->dir);
		return (A17_ENOTFOUND);
	}
	if ((rv = retire_pair(ik, ip, old, "id", oldid)) != 0)
		return (rv);
	if ((rv = write_ed25519(ik, ip, newid)) != 0)
		return (rv);
	made_commit();
	printf("agent %s identity key rotated: %s -> %s\n", member, oldid,
	       newid);
	printf("register it: art17ctl member rekey %s --key %s\nthen restart "
	       "the agent\n",
	       member, ip);
	return (0);
}

static int
cmd_revoke(const struct opts *o, const char *member)
{
	char crt[PATH_MAX], revoked[PATH_MAX], crl[PATH_MAX];
	char **list = NULL, *shex = NULL, *text = NULL;
	EVP_PKEY *cak = NULL;
	X509 *cax = NULL, *x = NULL;
	X509_CRL *old = NULL, *newcrl = NULL;
	size_t tlen = 0;
	int n = 0, i, already = 0, rv;

	if ((rv = path_fmt(crt, "%s/agents/%s/tls.crt", o->dir, member)) != 0 ||
	    (rv = path_fmt(revoked, "%s/ca/revoked.txt", o->dir)) != 0 ||
	    (rv = path_fmt(crl, "%s/ca/crl.pem", o->dir)) != 0)
		return (rv);
	if ((rv = load_ca(o->dir, &cax, &cak)) != 0)
		return (rv);
	if (!exists(crt)) {
		pki_msg("no agent %s: %s does not exist", member, crt);
		rv = A17_ENOTFOUND;
		goto out;
	}
	if ((rv = load_cert(crt, &x)) != 0)
		goto out;
	if (X509_check_issued(cax, x) != X509_V_OK ||
	    X509_verify(x, X509_get0_pubkey(cax)) != 1) {
		ERR_clear_error();
		pki_msg("%s was not issued by this CA", crt);
		rv = A17_EINVAL;
		goto out;
	}
	if ((shex = serial_hex(X509_get0_serialNumber(x))) == NULL) {
		rv = ossl_fail("cannot read serial");
		goto out;
	}
	if ((rv = read_revoked(revoked, &list, &n)) != 0)
		goto out;
	for (i = 0; i < n; i++)
		if (strcasecmp(list[i], shex) == 0)
			already = 1;
	if (!already) {
		char **nl = realloc(list, sizeof(*list) * (size_t)(n + 1));
		if (nl == NULL || (nl[n] = strdup(shex)) == NULL) {
			if (nl != NULL)
				list = nl;
			rv = A17_ENOMEM;
			goto out;
		}
		list = nl;
		n++;
	}
	if (exists(crl)) {
		FILE *f = fopen(crl, "r");
		if (f != NULL) {
			old = PEM_read_X509_CRL(f, NULL, NULL, NULL);
			(void)fclose(f);
		}
		ERR_clear_error();
	}
	if ((rv = make_crl(cax, cak, list, n, old, &newcrl)) != 0)
		goto out;

	for (i = 0; i < n; i++)
		tlen += strlen(list[i]) + 1;
	if ((text = malloc(tlen + 1)) == NULL) {
		rv = A17_ENOMEM;
		goto out;
	}
	text[0] = '\0';
	for (i = 0, tlen = 0; i < n; i++)
		tlen += (size_t)sprintf(text + tlen, "%s\n", list[i]);
	/* revoked.txt first: if the CRL write fails, a rerun redoes it. */
	if ((rv = write_replace(revoked, text, tlen, 0644)) != 0)
		goto out;
	if ((rv = write_crl(crl, newcrl, 1)) != 0) {
		pki_msg("%s lists the serial but %s was not rewritten; "
		        "run revoke again",
		        revoked, crl);
		goto out;
	}
	if (already)
		printf("agent %s (serial %s) was already revoked; rewrote %s\n",
		       member, shex, crl);
	else
		printf("revoked agent %s (serial %s); rewrote %s\n", member,
		       shex, crl);
out:
	free(text);
	free_list(list, n);
	OPENSSL_free(shex);
	X509_CRL_free(newcrl);
	X509_CRL_free(old);
	X509_free(x);
	X509_free(cax);
	EVP_PKEY_free(cak);
	return (rv);
}

static void
print_time(const ASN1_TIME *t, char *buf, size_t len)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
}

/* One line about a certificate; marks it revoked when listed. */
static void
show_cert(const char *label, const char *path, char **revoked, int nrev)
{
	X509 *x = NULL;
	BIO *b;
	char when[32], *subj = NULL, *shex;
	const char *state = "";
	int i;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		printf("  %-12s (missing: %s)\n", label, path);
		return;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	(void)fclose(f);
	if (x == NULL) {
		ERR_clear_error();
		printf("  %-12s (unreadable: %s)\n", label, path);
		return;
	}
	if ((b = BIO_new(BIO_s_mem())) != NULL &&
	    X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
	                       XN_FLAG_RFC2253) >= 0 &&
	    BIO_write(b, "", 1) == 1)
		BIO_get_mem_data(b, &subj);
	shex = serial_hex(X509_get0_serialNumber(x));
	print_time(X509_get0_notAfter(x), when, sizeof(when));
	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		state = " EXPIRED";
	for (i = 0; shex != NULL && i < nrev; i++)
		if (strcasecmp(revoked[i], shex) == 0)
			state = " REVOKED";
	printf("  %-12s subject=%s serial=%s not-after=%s%s\n", label,
	       subj ? subj : "?", shex ? shex : "?", when, state);
	OPENSSL_free(shex);
	BIO_free(b);
	X509_free(x);
}

static void
show_key(const char *label, const char *path)
{
	a17_key *k = NULL;
	char hex[2 * A17_KEYID_LEN + 1];
	int rv;

	if (!exists(path)) {
		printf("  %-12s (missing: %s)\n", label, path);
		return;
	}
	if ((rv = crypto_key_load(path, &k)) != 0) {
		printf("  %-12s (unreadable: %s: %s)\n", label, path,
		       a17_strerror(rv));
		return;
	}
	printf("  %-12s Ed25519 key id %s\n", label,
	       crypto_hex(crypto_key_id(k), A17_KEYID_LEN, hex));
	crypto_key_free(k);
}

static int
skip_dot(const struct dirent *d)
{
	return (d->d_name[0] != '.');
}

/* Lists DIR/SUB/<name>; calls fn for each valid name. */
static void
show_each(const char *dir, const char *sub, const char *title,
          void (*fn)(const char *, const char *, char **, int), char **rev,
          int nrev)
{
	char path[PATH_MAX];
	struct dirent **ents;
	int i, n;

	if (path_fmt(path, "%s/%s", dir, sub) != 0)
		return;
	if ((n = scandir(path, &ents, skip_dot, alphasort)) < 0) {
		printf("%s: none (%s: %s)\n", title, path, strerror(errno));
		return;
	}
	printf("%s: %d\n", title, n);
	for (i = 0; i < n; i++) {
		char one[PATH_MAX];
		if (valid_name(ents[i]->d_name) &&
		    path_fmt(one, "%s/%s", path, ents[i]->d_name) == 0)
			fn(ents[i]->d_name, one, rev, nrev);
		free(ents[i]);
	}
	free(ents);
}

static void
show_agent(const char *name, const char *dir, char **rev, int nrev)
{
	char p[PATH_MAX];

	printf(" %s\n", name);
	if (path_fmt(p, "%s/tls.crt", dir) == 0)
		show_cert("tls.crt", p, rev, nrev);
	if (path_fmt(p, "%s/id.pub", dir) == 0)
		show_key("id.pub", p);
}

static void
show_coord(const char *name, const char *dir, char **rev, int nrev)
{
	char p[PATH_MAX];

	printf(" %s\n", name);
	if (path_fmt(p, "%s/id.pub", dir) == 0)
		show_key("id.pub", p);
}

static int
cmd_show(const struct opts *o)
{
	char p[PATH_MAX];
	char **rev = NULL;
	struct stat st;
	int nrev = 0, rv;

	if (stat(o->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		pki_msg("no PKI directory at %s", o->dir);
		return (A17_ENOTFOUND);
	}
	if ((rv = path_fmt(p, "%s/ca/revoked.txt", o->dir)) != 0)
		return (rv);
	if (read_revoked(p, &rev, &nrev) != 0)
		pki_msg("warning: ignoring unreadable %s", p);
	printf("PKI directory: %s\n", o->dir);
	printf("CA:\n");
	if (path_fmt(p, "%s/ca/ca.crt", o->dir) == 0)
		show_cert("ca.crt", p, NULL, 0);
	printf("  %-12s %d serial(s) revoked\n", "revoked.txt", nrev);
	printf("broker:\n");
	if (path_fmt(p, "%s/broker/tls.crt", o->dir) == 0)
		show_cert("tls.crt", p, rev, nrev);
	if (path_fmt(p, "%s/broker/sign.pub", o->dir) == 0)
		show_key("sign.pub", p);
	show_each(o->dir, "agents", "agents", show_agent, rev, nrev);
	show_each(o->dir, "coordinators", "coordinators", show_coord, rev,
	          nrev);
	free_list(rev, nrev);
	return (0);
}

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: art17-pki COMMAND [-d DIR] [OPTIONS] [ARG]\n"
	    "\n"
	    "Makes the art17 private CA, TLS certificates (ECDSA P-256, "
	    "SHA-256)\n"
	    "Ed25519 identity keys and X25519 staff sealing keys. Files are "
	    "PEM;\n"
	    "private keys are mode 0600; an existing file is never "
	    "overwritten\n"
	    "(revoke rewrites the CRL; rotate-* move old keys aside).\n"
	    "\n"
	    "commands:\n"
	    "  init [--host NAME]... [--days N]\n"
	    "      Make the CA, its empty CRL, the broker TLS certificate "
	    "(SAN\n"
	    "      localhost, 127.0.0.1, ::1 and each --host NAME) and the "
	    "broker\n"
	    "      Ed25519 signing key.\n"
	    "  agent [--days N] [--not-before-days-ago N] MEMBER\n"
	    "      Issue an agent TLS client certificate (SAN DNS:MEMBER) and "
	    "an\n"
	    "      Ed25519 identity key, with copies of ca.crt and the "
	    "broker's\n"
	    "      sign.pub.\n"
	    "  coordinator NAME\n"
	    "      Make an Ed25519 coordinator key.\n"
	    "  staff NAME\n"
	    "      Make an X25519 key pair for one registered staff member's "
	    "sealed\n"
	    "      content: staff/NAME/seal.key (private) and seal.pub. "
	    "seal.key\n"
	    "      belongs to that person alone: hand it over, keep no copy, "
	    "and\n"
	    "      register only seal.pub with the broker.\n"
	    "  rotate-broker\n"
	    "      New broker signing key; the old pair moves to broker/old/, "
	    "each\n"
	    "      agent directory gets the new broker-sign.pub and keeps the "
	    "old\n"
	    "      one in broker-sign-old/ (for requests stored before).\n"
	    "  rotate-agent MEMBER\n"
	    "      New identity key for MEMBER's agent; the old pair moves to\n"
	    "      agents/MEMBER/old/. Register it with art17ctl member "
	    "rekey.\n"
	    "  revoke MEMBER\n"
	    "      Add the agent certificate's serial to ca/revoked.txt and "
	    "re-sign\n"
	    "      ca/crl.pem (next update in %d days).\n"
	    "  show\n"
	    "      List the certificates (subject, serial, not-after) and key "
	    "ids\n"
	    "      (hex of the first 8 bytes of SHA-256 of the raw public "
	    "key).\n"
	    "\n"
	    "options:\n"
	    "  -d, --dir DIR      PKI directory (default $ART17_PKI, else "
	    "./pki)\n"
	    "  --host NAME        init: extra broker DNS name or IP address "
	    "(up to %d)\n"
	    "  --days N           init: broker certificate validity (default "
	    "%d);\n"
	    "                     the CA gets %d days or N if larger.\n"
	    "                     agent: certificate validity (default %d)\n"
	    "  --not-before-days-ago N\n"
	    "                     agent: start validity N days ago (default "
	    "0);\n"
	    "                     with --days 1 and N > 1 the certificate is "
	    "already\n"
	    "                     expired, for tests\n"
	    "  -v, --verbose      print OpenSSL error details\n"
	    "  -h, --help         print this help and exit\n"
	    "  -V, --version      print the version and exit\n"
	    "\n"
	    "MEMBER and NAME are 1-64 characters of [A-Za-z0-9._-], not "
	    "starting\n"
	    "with '.'.\n"
	    "\n"
	    "layout:\n"
	    "  DIR/ca/ca.crt ca.key crl.pem revoked.txt\n"
	    "  DIR/broker/tls.crt tls.key tls.pem sign.key sign.pub ca.crt\n"
	    "  DIR/agents/MEMBER/tls.crt tls.key tls.pem id.key id.pub ca.crt "
	    "broker-sign.pub\n"
	    "  DIR/coordinators/NAME/id.key id.pub\n"
	    "  DIR/staff/NAME/seal.key seal.pub\n"
	    "  (tls.pem holds the certificate then the key; directories are "
	    "0700)\n"
	    "\n"
	    "exit status: 0 success, 1 the operation failed (the message names "
	    "the\n"
	    "path), 2 usage error.\n",
	    PKI_CRL_DAYS, PKI_MAX_HOSTS, PKI_LEAF_DAYS, PKI_CA_DAYS,
	    PKI_LEAF_DAYS);
}

static int
parse_int(const char *opt, const char *s, int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		pki_msg("%s: expected a number from %d to %d, got \"%s\"", opt,
		        min, max, s);
		return (-1);
	}
	*out = (int)v;
	return (0);
}

enum { OPT_HOST = 256, OPT_DAYS, OPT_NB };

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"host", required_argument, NULL, OPT_HOST},
	    {"days", required_argument, NULL, OPT_DAYS},
	    {"not-before-days-ago", required_argument, NULL, OPT_NB},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct opts o;
	const char *cmd, *arg = NULL;
	int ch, nargs, rv, li;

	log_init(1, "art17-pki", LOG_LVL_WARN);
	memset(&o, 0, sizeof(o));
	o.dir = getenv("ART17_PKI");
	if (o.dir == NULL || o.dir[0] == '\0')
		o.dir = "./pki";

	if (argc < 2) {
		usage(stderr);
		return (EXIT_USAGE);
	}
	cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "help") == 0) {
		usage(stdout);
		return (EXIT_OK);
	}
	if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
		printf("art17-pki %s (%s)\n", PKI_VERSION,
		       OpenSSL_version(OPENSSL_VERSION));
		return (EXIT_OK);
	}
	if (strcmp(cmd, "init") != 0 && strcmp(cmd, "agent") != 0 &&
	    strcmp(cmd, "coordinator") != 0 && strcmp(cmd, "revoke") != 0 &&
	    strcmp(cmd, "staff") != 0 && strcmp(cmd, "show") != 0 &&
	    strcmp(cmd, "rotate-broker") != 0 &&
	    strcmp(cmd, "rotate-agent") != 0) {
		pki_msg("unknown command \"%s\"", cmd);
		usage(stderr);
		return (EXIT_USAGE);
	}

	/* Options follow the command; argv[1] plays argv[0] for getopt. */
	opterr = 0;
	optind = 1;
	for (;;) {
		li = -1;
		ch = getopt_long(argc - 1, argv + 1, ":d:vhV", longopts, &li);
		if (ch == -1)
			break;
		switch (ch) {
		case 'd':
			if (optarg[0] == '\0') {
				pki_msg("-d: empty directory name");
				return (EXIT_USAGE);
			}
			o.dir = optarg;
			break;
		case OPT_HOST:
			if (strcmp(cmd, "init") != 0)
				goto only;
			if (!valid_host(optarg)) {
				pki_msg("--host: \"%s\" is not a DNS name or "
				        "IP address",
				        optarg);
				return (EXIT_USAGE);
			}
			if (o.nhosts >= PKI_MAX_HOSTS) {
				pki_msg("--host: at most %d", PKI_MAX_HOSTS);
				return (EXIT_USAGE);
			}
			o.hosts[o.nhosts++] = optarg;
			break;
		case OPT_DAYS:
			if (strcmp(cmd, "init") != 0 &&
			    strcmp(cmd, "agent") != 0)
				goto only;
			if (parse_int("--days", optarg, 1, PKI_MAX_DAYS,
			              &o.days) != 0)
				return (EXIT_USAGE);
			break;
		case OPT_NB:
			if (strcmp(cmd, "agent") != 0)
				goto only;
			if (parse_int("--not-before-days-ago", optarg, 0,
			              PKI_MAX_DAYS, &o.nb_days_ago) != 0)
				return (EXIT_USAGE);
			o.have_nb = 1;
			break;
		case 'v':
			log_setverbose(LOG_LVL_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return (EXIT_OK);
		case 'V':
			printf("art17-pki %s\n", PKI_VERSION);
			return (EXIT_OK);
		case ':':
			/* argv + 1 was parsed: its optind - 1 is argv[optind].
			 */
			pki_msg("%s: option %s needs an argument", cmd,
			        argv[optind]);
			return (EXIT_USAGE);
		default:
			pki_msg("%s: unknown option %s", cmd, argv[optind]);
			usage(stderr);
			return (EXIT_USAGE);
		}
		continue;
	only:
		pki_msg("%s: option --%s does not apply to this command", cmd,
		        li >= 0 ? longopts[li].name : "?");
		return (EXIT_USAGE);
	}
	nargs = argc - 1 - optind;
	if (nargs > 0)
		arg = argv[1 + optind];

	if (strcmp(cmd, "init") == 0 || strcmp(cmd, "show") == 0 ||
	    strcmp(cmd, "rotate-broker") == 0) {
		if (nargs != 0) {
			pki_msg("%s takes no argument (got \"%s\")", cmd, arg);
			return (EXIT_USAGE);
		}
	} else {
		if (nargs != 1) {
			pki_msg("%s needs exactly one %s", cmd,
			        strcmp(cmd, "coordinator") == 0 ||
			                strcmp(cmd, "staff") == 0
			            ? "NAME"
			            : "MEMBER");
			return (EXIT_USAGE);
		}
		if (!valid_name(arg)) {
			pki_msg("invalid name \"%s\": use 1-64 characters of "
			        "[A-Za-z0-9._-], not starting with '.'",
			        arg);
			return (EXIT_USAGE);
		}
	}

	if (strcmp(cmd, "init") == 0)
		rv = cmd_init(&o);
	else if (strcmp(cmd, "agent") == 0)
		rv = cmd_agent(&o, arg);
	else if (strcmp(cmd, "coordinator") == 0)
		rv = cmd_coordinator(&o, arg);
	else if (strcmp(cmd, "revoke") == 0)
		rv = cmd_revoke(&o, arg);
	else if (strcmp(cmd, "staff") == 0)
		rv = cmd_staff(&o, arg);
	else if (strcmp(cmd, "rotate-broker") == 0)
		rv = cmd_rotate_broker(&o);
	else if (strcmp(cmd, "rotate-agent") == 0)
		rv = cmd_rotate_agent(&o, arg);
	else
		rv = cmd_show(&o);
	fflush(stdout);
	return (rv == 0 ? EXIT_OK : EXIT_FAIL);
}
