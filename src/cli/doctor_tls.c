/* `mcpbridge doctor`: TLS files (contract in doctor.h). Reads the files the way the server will
 * (PEM through OpenSSL), and reports what an operator needs before a handshake fails in
 * production: which certificate it is, whether the key belongs to it, how long it stays valid,
 * and whether the CA file holds certificates at all. */
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/doctor.h"

#define EXPIRY_WARNING_DAYS 30

/* The name of a certificate field as one line ("CN=api.example.com, O=Example"). */
static void name_text(const X509_NAME *name, char *out, size_t cap)
{
    out[0] = '\0';
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return;
    if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        int n = BIO_read(b, out, (int)cap - 1);
        out[n > 0 ? n : 0] = '\0';
    }
    BIO_free(b);
}

/* "2026-05-01 12:00:00 UTC" */
static void time_text(const ASN1_TIME *t, char *out, size_t cap)
{
    struct tm tm;
    if (ASN1_TIME_to_tm(t, &tm) == 1)
        strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
    else
        snprintf(out, cap, "(unreadable date)");
}

/* The OpenSSL error queue's last reason, or fallback; clears the queue. */
static const char *ssl_reason(const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return reason ? reason : fallback;
}

/* Opens path for reading; on failure adds an error finding for check and returns NULL. */
static BIO *open_file(struct mb_doctor_report *r, const char *check, const char *what,
                      const char *path, const char *config_key)
{
    BIO *b = BIO_new_file(path, "rb");
    if (!b) {
        int err = errno;
        ERR_clear_error();
        char fix[512];
        snprintf(fix, sizeof fix,
                 "make %s readable by the user mcpbridge runs as, or correct the path in %s", path,
                 config_key);
        mb_doctor_add(r, check, MB_DOCTOR_ERROR, fix, "cannot read the %s %s: %s", what, path,
                      err ? strerror(err) : "unknown error");
    }
    return b;
}

/* Reads the certificate file: returns its first certificate (the leaf) and the number of
 * certificates in *count, or NULL after adding an error finding. */
static X509 *load_certificate(struct mb_doctor_report *r, const struct mb_doctor_tls_files *f,
                              const char *check, size_t *count)
{
    BIO *b = open_file(r, check, "certificate", f->certfile, f->config_key);
    if (!b)
        return NULL;
    X509 *leaf = NULL, *next;
    *count = 0;
    while ((next = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (!leaf)
            leaf = next;
        else
            X509_free(next);
        (*count)++;
    }
    ERR_clear_error(); /* the read that ends the loop leaves "no start line" */
    BIO_free(b);
    if (!leaf) {
        char fix[512];
        snprintf(fix, sizeof fix,
                 "%s must hold PEM certificates (-----BEGIN CERTIFICATE-----), the server's first, "
                 "then its intermediates; convert DER with `openssl x509 -inform der -in FILE -out "
                 "FILE.pem`",
                 f->certfile);
        mb_doctor_add(r, check, MB_DOCTOR_ERROR, fix, "%s holds no PEM certificate", f->certfile);
    }
    return leaf;
}

static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

/* Reads the private key (with key_password when set). Returns it or NULL after adding a finding. */
static EVP_PKEY *load_key(struct mb_doctor_report *r, const struct mb_doctor_tls_files *f,
                          const char *check)
{
    BIO *b = open_file(r, check, "private key", f->keyfile, f->config_key);
    if (!b)
        return NULL;
    EVP_PKEY *key = f->key_password
                        ? PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)f->key_password)
                        : PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
    const char *reason = key ? NULL : ssl_reason("not a PEM private key");
    BIO_free(b);
    if (!key) {
        char fix[512];
        bool encrypted = reason && (strstr(reason, "bad decrypt") || strstr(reason, "password") ||
                                    strstr(reason, "problems getting"));
        if (encrypted && !f->key_password)
            snprintf(fix, sizeof fix,
                     "the key is encrypted: %s (decrypt it with `openssl pkey -in KEY -out "
                     "KEY.plain`%s)",
                     f->keyfile,
                     strcmp(f->name, "downstream_tls") == 0
                         ? ", or set runtime.http.tls.key_password"
                         : "");
        else
            snprintf(fix, sizeof fix,
                     "%s must hold the PEM private key (-----BEGIN PRIVATE KEY-----) of the "
                     "certificate%s",
                     f->keyfile, f->key_password ? "; check the key password" : "");
        mb_doctor_add(r, check, MB_DOCTOR_ERROR, fix, "cannot read the private key %s: %s",
                      f->keyfile, reason);
    }
    return key;
}

static void check_expiry(struct mb_doctor_report *r, const struct mb_doctor_tls_files *f,
                         X509 *cert)
{
    char check[64], until[64], from[64], fix[512];
    snprintf(check, sizeof check, "%s.expiry", f->name);
    const ASN1_TIME *not_after = X509_get0_notAfter(cert);
    const ASN1_TIME *not_before = X509_get0_notBefore(cert);
    time_text(not_after, until, sizeof until);
    time_text(not_before, from, sizeof from);
    snprintf(fix, sizeof fix, "renew %s (and reload mcpbridge: kill -HUP, or restart)",
             f->certfile);
    int days = 0, secs = 0;
    if (X509_cmp_current_time(not_before) > 0) {
        mb_doctor_add(r, check, MB_DOCTOR_ERROR,
                      "check this machine's clock, or issue a certificate valid from now",
                      "%s is not valid before %s", f->certfile, from);
    } else if (X509_cmp_current_time(not_after) < 0) {
        mb_doctor_add(r, check, MB_DOCTOR_ERROR, fix, "%s expired on %s", f->certfile, until);
    } else if (ASN1_TIME_diff(&days, &secs, NULL, not_after) == 1 && days < EXPIRY_WARNING_DAYS) {
        mb_doctor_add(r, check, MB_DOCTOR_WARNING, fix, "%s expires in %d day%s (%s)", f->certfile,
                      days, days == 1 ? "" : "s", until);
    } else {
        mb_doctor_add(r, check, MB_DOCTOR_OK, NULL, "%s is valid until %s (%d days)", f->certfile,
                      until, days);
    }
}

static void check_certificate_and_key(struct mb_doctor_report *r,
                                      const struct mb_doctor_tls_files *f)
{
    char check[64];
    snprintf(check, sizeof check, "%s.certificate", f->name);
    size_t chain = 0;
    X509 *cert = load_certificate(r, f, check, &chain);
    if (cert) {
        char subject[256], issuer[256];
        name_text(X509_get_subject_name(cert), subject, sizeof subject);
        name_text(X509_get_issuer_name(cert), issuer, sizeof issuer);
        mb_doctor_add(
            r, check, MB_DOCTOR_OK, NULL, "%s: %s, issued by %s%s (%zu certificate%s in the file)",
            f->certfile, subject[0] ? subject : "(no subject)", issuer[0] ? issuer : "(no issuer)",
            strcmp(subject, issuer) == 0 ? " (self-signed)" : "", chain, chain == 1 ? "" : "s");
        check_expiry(r, f, cert);
    }
    if (f->keyfile) {
        snprintf(check, sizeof check, "%s.key", f->name);
        EVP_PKEY *key = load_key(r, f, check);
        if (key && cert) {
            if (X509_check_private_key(cert, key) == 1) {
                mb_doctor_add(r, check, MB_DOCTOR_OK, NULL, "%s matches the certificate",
                              f->keyfile);
            } else {
                char fix[512];
                snprintf(fix, sizeof fix,
                         "use the key the certificate was issued for, or issue a certificate for "
                         "this key (%s.certfile and keyfile must belong together)",
                         f->config_key);
                mb_doctor_add(r, check, MB_DOCTOR_ERROR, fix,
                              "%s does not belong to the certificate %s", f->keyfile, f->certfile);
            }
            ERR_clear_error();
        } else if (key) {
            mb_doctor_add(r, check, MB_DOCTOR_OK, NULL, "%s is a readable private key", f->keyfile);
        }
        EVP_PKEY_free(key);
    }
    X509_free(cert);
}

static void check_ca(struct mb_doctor_report *r, const struct mb_doctor_tls_files *f)
{
    char check[64], fix[512];
    snprintf(check, sizeof check, "%s.ca", f->name);
    BIO *b = open_file(r, check, f->cafile_role, f->cafile, f->config_key);
    if (!b)
        return;
    STACK_OF(X509_INFO) *infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
    BIO_free(b);
    size_t certs = 0, expired = 0;
    for (int i = 0; infos && i < sk_X509_INFO_num(infos); i++) {
        X509_INFO *info = sk_X509_INFO_value(infos, i);
        if (info->x509) {
            certs++;
            if (X509_cmp_current_time(X509_get0_notAfter(info->x509)) < 0)
                expired++;
        }
    }
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    ERR_clear_error();
    if (certs == 0) {
        snprintf(fix, sizeof fix,
                 "%s must hold one or more PEM CA certificates (-----BEGIN CERTIFICATE-----)",
                 f->cafile);
        mb_doctor_add(r, check, MB_DOCTOR_ERROR, fix, "the %s file %s holds no PEM certificate",
                      f->cafile_role, f->cafile);
    } else if (expired == certs) {
        snprintf(fix, sizeof fix, "replace %s with the current CA certificate(s)", f->cafile);
        mb_doctor_add(r, check, MB_DOCTOR_ERROR, fix,
                      "every certificate of the %s file %s has expired (%zu)", f->cafile_role,
                      f->cafile, certs);
    } else if (expired > 0) {
        snprintf(fix, sizeof fix, "remove the expired certificates from %s", f->cafile);
        mb_doctor_add(r, check, MB_DOCTOR_WARNING, fix,
                      "the %s file %s holds %zu certificates, %zu of them expired", f->cafile_role,
                      f->cafile, certs, expired);
    } else {
        mb_doctor_add(r, check, MB_DOCTOR_OK, NULL, "the %s file %s holds %zu certificate%s",
                      f->cafile_role, f->cafile, certs, certs == 1 ? "" : "s");
    }
}

void mb_doctor_check_tls(struct mb_doctor_report *r, const struct mb_doctor_tls_files *f)
{
    if (f->certfile)
        check_certificate_and_key(r, f);
    if (f->cafile)
        check_ca(r, f);
}
