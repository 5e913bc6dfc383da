/* err.c: error codes and the one mapping function per library. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>
#include <nng/nng.h>
#include <openssl/err.h>

#include "err.h"
#include "log.h"

const char *
a17_strerror(int rv)
{
	switch (rv) {
	case A17_OK:
		return "success";
	case A17_ENOMEM:
		return "out of memory";
	case A17_EINVAL:
		return "invalid argument";
	case A17_EIO:
		return "input/output error";
	case A17_ENOTFOUND:
		return "not found";
	case A17_EEXIST:
		return "already exists";
	case A17_EMALFORMED:
		return "malformed message";
	case A17_ETOOBIG:
		return "message too large";
	case A17_EBADSIG:
		return "bad signature";
	case A17_EUNSIGNED:
		return "message not signed";
	case A17_EUNKNOWNKEY:
		return "unknown signing key";
	case A17_ECRYPTO:
		return "cryptographic operation failed";
	case A17_ENET:
		return "network error";
	case A17_ETIMEDOUT:
		return "timed out";
	case A17_EMAPFULL:
		return "database map full";
	case A17_ECORRUPT:
		return "stored data is corrupt";
	case A17_EDENIED:
		return "refused";
	case A17_EREPLAY:
		return "replayed message";
	case A17_ESTALE:
		return "stale message";
	case A17_ECLOSED:
		return "closed";
	case A17_EPROTO:
		return "protocol violation";
	case A17_EBUSY:
		return "busy";
	case A17_ENOSPC:
		return "no space left on device";
	case A17_EINTERNAL:
		return "internal error";
	}
	return "unknown error";
}

int
a17_err_mdb(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return A17_OK;
	case MDB_NOTFOUND:
		return A17_ENOTFOUND;
	case MDB_KEYEXIST:
		return A17_EEXIST;
	case MDB_MAP_FULL:
		return A17_EMAPFULL;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return A17_ECORRUPT;
	case MDB_READERS_FULL:
	case MDB_TXN_FULL:
	case MDB_CURSOR_FULL:
	case MDB_DBS_FULL:
		return A17_EBUSY;
	case MDB_BAD_VALSIZE:
		return A17_ETOOBIG;
	case ENOMEM:
		return A17_ENOMEM;
	case ENOSPC:
		return A17_ENOSPC;
	case EACCES:
	case EPERM:
		return A17_EDENIED;
	case ENOENT:
		return A17_ENOTFOUND;
	case EIO:
		return A17_EIO;
	case EINVAL:
		return A17_EINVAL;
	}
	return rc > 0 ? A17_EIO : A17_EINTERNAL;
}

int
a17_err_nng(int rc)
{
	switch (rc) {
	case 0:
		return A17_OK;
	case NNG_ENOMEM:
		return A17_ENOMEM;
	case NNG_EINVAL:
		return A17_EINVAL;
	case NNG_ETIMEDOUT:
		return A17_ETIMEDOUT;
	case NNG_ECLOSED:
	case NNG_ECANCELED:
		return A17_ECLOSED;
	case NNG_EMSGSIZE:
		return A17_ETOOBIG;
	case NNG_EPROTO:
		return A17_EPROTO;
	case NNG_EPERM:
	case NNG_EPEERAUTH:
	case NNG_ECRYPTO:
		return A17_EDENIED;
	case NNG_ENOENT:
		return A17_ENOTFOUND;
	case NNG_EBUSY:
	case NNG_EADDRINUSE:
		return A17_EBUSY;
	}
	return A17_ENET;
}

int
a17_err_errno(int err)
{
	switch (err) {
	case 0:
		return A17_OK;
	case ENOMEM:
		return A17_ENOMEM;
	case ENOENT:
		return A17_ENOTFOUND;
	case EEXIST:
		return A17_EEXIST;
	case EACCES:
	case EPERM:
		return A17_EDENIED;
	case ENOSPC:
	case EDQUOT:
		return A17_ENOSPC;
	case EINVAL:
		return A17_EINVAL;
	case ETIMEDOUT:
		return A17_ETIMEDOUT;
	}
	return A17_EIO;
}

static int
ossl_cb(const char *str, size_t len, void *u)
{
	(void)u;
	log_debug("openssl: %.*s", (int)len, str);
	return 1;
}

int
a17_err_ossl(void)
{
	ERR_print_errors_cb(ossl_cb, NULL);
	return A17_ECRYPTO;
}

static atomic_int crash_hits;

int
a17_fault(const char *name)
{
	const char *spec = getenv("A17_FAULT");

	return spec != NULL && strcmp(spec, name) == 0;
}

void
a17_crashpoint(const char *name)
{
	static const char *spec;
	static int inited;
	const char *colon;
	size_t n;
	int want = 1;

	if (!inited) {
		spec = getenv("A17_CRASHPOINT");
		inited = 1;
	}
	if (spec == NULL || spec[0] == '\0')
		return;
	colon = strchr(spec, ':');
	n = colon ? (size_t)(colon - spec) : strlen(spec);
	if (strlen(name) != n || strncmp(spec, name, n) != 0)
		return;
	if (colon)
		want = atoi(colon + 1);
	if (atomic_fetch_add(&crash_hits, 1) + 1 >= want) {
		log_warnx("crashpoint %s reached: SIGKILL", name);
		kill(getpid(), SIGKILL);
	}
}
