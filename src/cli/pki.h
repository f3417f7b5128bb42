/* Key material for the management CLI, all through OpenSSL's EVP and X509 APIs (never the
 * openssl command): Ed25519 service-account key pairs and their RFC 7638 key ids, EdDSA JWT
 * signing, a self-signed development CA with server and client certificates (ECDSA P-256,
 * which every TLS client accepts), random hex secrets and base64url. Keys and certificates
 * travel as PEM text in memory; writing files (with their modes) is profile.h's job.
 * Every function that can fail returns NULL or -1 and puts a one-line reason in err (errlen
 * bytes at most, never NULL). Nothing here logs or prints a private key. */
#ifndef MB_CLI_PKI_H
#define MB_CLI_PKI_H

#include <jansson.h>
#include <openssl/types.h>
#include <stdbool.h>
#include <stddef.h>

#define MB_PKI_KEY_ID_LEN 43 /* base64url of a SHA-256 digest, without the NUL */

/* Fills out with 2*bytes lowercase hex digits of fresh randomness and a NUL (cap must be at least
 * 2*bytes+1). Returns 0, or -1 when the random generator fails or cap is too small. */
int mb_pki_random_hex(size_t bytes, char *out, size_t cap, char *err, size_t errlen);

/* base64url (RFC 4648 section 5) without padding of len bytes. Returns a heap string the caller
 * frees, or NULL when out of memory. */
char *mb_pki_base64url(const void *data, size_t len);

/* A new Ed25519 key pair; the caller frees it with EVP_PKEY_free. NULL on failure. */
EVP_PKEY *mb_pki_ed25519_generate(char *err, size_t errlen);

/* A new ECDSA P-256 key pair (for TLS certificates); caller frees. NULL on failure. */
EVP_PKEY *mb_pki_ec_generate(char *err, size_t errlen);

/* PEM text of the private key (PKCS#8, unencrypted) or of the public key (SubjectPublicKeyInfo,
 * "BEGIN PUBLIC KEY", the form service_account.public_key reads). Heap string the caller frees
 * (wipe private key text with mb_pki_free_secret), or NULL. */
char *mb_pki_private_key_pem(EVP_PKEY *key, char *err, size_t errlen);
char *mb_pki_public_key_pem(EVP_PKEY *key, char *err, size_t errlen);

/* Parses PEM text: a private key (any PKCS#8 or traditional form) or a public key. The caller
 * frees the key. NULL with the reason when the text holds no such key. */
EVP_PKEY *mb_pki_private_key_from_pem(const char *pem, size_t len, char *err, size_t errlen);
EVP_PKEY *mb_pki_public_key_from_pem(const char *pem, size_t len, char *err, size_t errlen);

/* True when both keys are the same public key (a private key counts as its public half). */
bool mb_pki_same_public_key(EVP_PKEY *a, EVP_PKEY *b);

/* The key id of an Ed25519 key: its RFC 7638 JWK thumbprint (SHA-256 over
 * {"crv":"Ed25519","kty":"OKP","x":...}, base64url), MB_PKI_KEY_ID_LEN characters and a NUL in
 * out (cap at least MB_PKI_KEY_ID_LEN + 1). Returns 0, or -1 for another key type. */
int mb_pki_key_id(EVP_PKEY *key, char *out, size_t cap, char *err, size_t errlen);

/* Signs claims (a JSON object, borrowed) as a compact JWS with alg EdDSA, typ JWT and kid (may be
 * NULL: no kid) using the Ed25519 private key. Returns the token (heap string, caller frees) or
 * NULL. */
char *mb_pki_jwt_sign_eddsa(EVP_PKEY *key, const char *kid, const json_t *claims, char *err,
                            size_t errlen);

/* Overwrites a NUL-terminated secret with zeros and frees it. NULL is fine. */
void mb_pki_free_secret(char *secret);

/* What a certificate is for. */
enum mb_pki_cert_kind {
    MB_PKI_CERT_CA,     /* self-signed; CA:TRUE, pathlen 0, keyCertSign and cRLSign */
    MB_PKI_CERT_SERVER, /* signed by the CA; serverAuth, the SAN entries given */
    MB_PKI_CERT_CLIENT, /* signed by the CA; clientAuth */
};

struct mb_pki_cert_request {
    enum mb_pki_cert_kind kind;
    const char *common_name;      /* subject CN, required */
    const char *organization;     /* subject O, may be NULL */
    unsigned days;                /* validity from now (one hour back-dated for clock skew) */
    const char *const *dns_names; /* SAN DNS entries, NULL-terminated list or NULL */
    const char *const
        *ip_addresses; /* SAN IP entries ("127.0.0.1", "::1"), NULL-terminated or NULL */
};

/* Issues a certificate for the public half of key, SHA-256 signed by issuer_key as issuer_cert
 * (both NULL for MB_PKI_CERT_CA: self-signed with key). Random 128-bit serial, version 3,
 * subject and authority key identifiers. Returns the certificate (caller frees with X509_free)
 * or NULL. */
X509 *mb_pki_issue_cert(const struct mb_pki_cert_request *req, EVP_PKEY *key, X509 *issuer_cert,
                        EVP_PKEY *issuer_key, char *err, size_t errlen);

/* PEM text of a certificate ("BEGIN CERTIFICATE"); heap string the caller frees, or NULL. */
char *mb_pki_cert_pem(X509 *cert, char *err, size_t errlen);

#endif
