/*
 * err.h: art17's one error model.
 *
 * Every function returns int: 0 on success or a negative A17_E* code.
 * a17_strerror() names a code. There is exactly one mapping function for
 * each library's errors (LMDB, OpenSSL, nng, protobuf-c); everything else
 * calls those.
 */
#ifndef A17_ERR_H
#define A17_ERR_H

enum {
	A17_OK = 0,
	A17_ENOMEM = -1,       /* allocation failed */
	A17_EINVAL = -2,       /* bad argument or bad local input */
	A17_EIO = -3,          /* I/O error (file, disk) */
	A17_ENOTFOUND = -4,    /* key or record not found */
	A17_EEXIST = -5,       /* already exists (refused to overwrite) */
	A17_EMALFORMED = -6,   /* bytes did not decode */
	A17_ETOOBIG = -7,      /* over a size limit */
	A17_EBADSIG = -8,      /* signature did not verify */
	A17_EUNSIGNED = -9,    /* signature missing */
	A17_EUNKNOWNKEY = -10, /* signer's key not known */
	A17_ECRYPTO = -11,     /* OpenSSL failure */
	A17_ENET = -12,        /* nng transport failure */
	A17_ETIMEDOUT = -13,   /* timed out */
	A17_EMAPFULL = -14,    /* LMDB map full (handled inside store) */
	A17_ECORRUPT = -15,    /* stored data failed an integrity check */
	A17_EDENIED = -16,     /* refused by policy or permission */
	A17_EREPLAY = -17,     /* message id already seen */
	A17_ESTALE = -18,      /* outside the time window */
	A17_ECLOSED = -19,     /* object closed / shutting down */
	A17_EPROTO = -20,      /* peer broke the protocol */
	A17_EBUSY = -21,       /* resource busy / locked */
	A17_ENOSPC = -22,      /* disk full */
	A17_EINTERNAL = -23,   /* a bug: an invariant did not hold */
};

/* Returns a static, human-readable string for an A17_E* code. */
const char *a17_strerror(int rv);

/* The single mapping functions. Each takes the library's own code. */
int a17_err_mdb(int mdb_rc);
int a17_err_nng(int nng_rc);
int a17_err_errno(int err);

/*
 * Drains OpenSSL's error queue into the log at debug level and returns
 * A17_ECRYPTO. Call right after an EVP function failed.
 */
int a17_err_ossl(void);

/*
 * Fault injection for crash tests. If the environment variable
 * A17_CRASHPOINT equals `name` (or "name:N", the N-th time it is reached),
 * the process kills itself with SIGKILL at this point. Cheap when unset.
 */
void a17_crashpoint(const char *name);

/*
 * Fault injection for tests of what recovers from a fault we cannot
 * cause on demand (e.g. a stuck nng). Returns 1 if the environment
 * variable A17_FAULT equals `name`, else 0. Cheap when unset.
 */
int a17_fault(const char *name);

#endif
