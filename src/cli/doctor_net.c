/* `mcpbridge doctor`: the servers mcpbridge talks to (contract in doctor.h). One blocking libcurl
 * probe per URL with short timeouts, reporting which step failed (DNS, TCP connect, TLS, HTTP)
 * since each has a different fix, and the server's Date header for the clock check. No
 * credential is ever sent: a token endpoint is asked with a plain GET, which is enough to see
 * that it answers. */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/jwk.h"
#include "cli/doctor.h"
#include "common/buf.h"

#define CONNECT_TIMEOUT_MS 3000L
#define TOTAL_TIMEOUT_MS   5000L
#define SKEW_WARNING_S     30

struct probe {
    long status; /* HTTP status, 0 when none */
    CURLcode res;
    char error[CURL_ERROR_SIZE];
    char ip[64]; /* the address connected to */
    long elapsed_ms;
    time_t date; /* the Date header, -1 when absent */
    time_t local_at_answer;
    bool want_body;
    struct mb_buf body;
};

struct tls_client {
    const char *cafile, *certfile, *keyfile, *key_password;
};

static size_t on_header(char *line, size_t size, size_t n, void *userdata)
{
    struct probe *p = userdata;
    size_t len = size * n;
    if (len > 5 && strncasecmp(line, "date:", 5) == 0 && len < 128) {
        char value[128];
        snprintf(value, sizeof value, "%.*s", (int)(len - 5), line + 5);
        value[strcspn(value, "\r\n")] = '\0';
        p->date = curl_getdate(value, NULL);
        p->local_at_answer = time(NULL);
    }
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
    struct probe *p = userdata;
    if (!p->want_body)
        return 0; /* the status line and headers are all we need: stop */
    return mb_buf_append(&p->body, data, size * n) == 0 ? size * n : 0;
}

/* GETs url. Returns true when an HTTP answer came (p->status set), whatever its status. */
static bool probe_url(const char *url, const struct tls_client *tls, bool want_body,
                      struct probe *p)
{
    memset(p, 0, sizeof *p);
    p->date = -1;
    p->want_body = want_body;
    mb_buf_init(&p->body, MB_JWKS_MAX_BYTES);
    CURL *curl = curl_easy_init();
    if (!curl) {
        p->res = CURLE_OUT_OF_MEMORY;
        snprintf(p->error, sizeof p->error, "libcurl could not start a transfer");
        return false;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, TOTAL_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, p->error);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mcpbridge-doctor");
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, p);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, p);
    if (tls) {
        if (tls->cafile)
            curl_easy_setopt(curl, CURLOPT_CAINFO, tls->cafile);
        if (tls->certfile)
            curl_easy_setopt(curl, CURLOPT_SSLCERT, tls->certfile);
        if (tls->keyfile)
            curl_easy_setopt(curl, CURLOPT_SSLKEY, tls->keyfile);
        if (tls->key_password)
            curl_easy_setopt(curl, CURLOPT_KEYPASSWD, tls->key_password);
    }
    p->res = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &p->status);
    char *ip = NULL;
    if (curl_easy_getinfo(curl, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip)
        snprintf(p->ip, sizeof p->ip, "%s", ip);
    curl_off_t us = 0;
    if (curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME_T, &us) == CURLE_OK)
        p->elapsed_ms = (long)(us / 1000);
    curl_easy_cleanup(curl);
    if (!p->error[0])
        snprintf(p->error, sizeof p->error, "%s", curl_easy_strerror(p->res));
    bool answered =
        p->status > 0 && (p->res == CURLE_OK || (p->res == CURLE_WRITE_ERROR && !want_body));
    return answered;
}

static void record_clock(struct mb_doctor_clocks *clocks, const char *source, const struct probe *p)
{
    if (!clocks || p->date < 0 || clocks->count == MB_DOCTOR_MAX_CLOCKS)
        return;
    snprintf(clocks->samples[clocks->count].source, sizeof clocks->samples[0].source, "%s", source);
    clocks->samples[clocks->count].skew_s = (long)difftime(p->date, p->local_at_answer);
    clocks->count++;
}

/* Adds the finding for a probe that got no HTTP answer: which step failed and what to do. */
static void unreachable(struct mb_doctor_report *r, const char *check, const char *url,
                        const char *config_key, const struct probe *p)
{
    char fix[768];
    const char *step;
    switch (p->res) {
    case CURLE_COULDNT_RESOLVE_HOST:
        step = "DNS: the host name does not resolve";
        snprintf(
            fix, sizeof fix,
            "correct the host in %s, or make it resolvable from this machine (DNS, /etc/hosts)",
            config_key);
        break;
    case CURLE_COULDNT_CONNECT:
        step = "TCP: the connection was refused or failed";
        snprintf(fix, sizeof fix,
                 "start the service at %s, or correct %s; check firewalls between this machine and "
                 "it",
                 url, config_key);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        step = "no answer in time";
        snprintf(fix, sizeof fix, "check that %s is up and that no firewall drops the connection",
                 url);
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        step = "TLS: the handshake failed";
        snprintf(fix, sizeof fix,
                 "for a private CA set runtime.http.tls.cafile to its certificate; check the "
                 "server's certificate name and dates");
        break;
    default:
        step = "the request failed";
        snprintf(fix, sizeof fix, "check %s (%s)", config_key, url);
        break;
    }
    mb_doctor_add(r, check, MB_DOCTOR_ERROR, fix, "%s: %s (%s)", url, step, p->error);
}

void mb_doctor_check_downstream(struct mb_doctor_report *r, const struct mb_config *cfg,
                                const char *base_url, struct mb_doctor_clocks *clocks)
{
    if (!base_url) {
        mb_doctor_add(
            r, "downstream", MB_DOCTOR_WARNING,
            "set api.openapi.base_url to the API's URL (or give the spec a servers entry)",
            "not checked: no base URL (neither api.openapi.base_url nor a usable servers entry in "
            "the spec)");
        return;
    }
    struct tls_client tls = {cfg->http_tls_cafile, cfg->http_tls_certfile, cfg->http_tls_keyfile,
                             cfg->http_tls_key_password};
    struct probe p;
    if (probe_url(base_url, &tls, false, &p)) {
        mb_doctor_add(r, "downstream", MB_DOCTOR_OK, NULL,
                      "%s: DNS and TCP connect to %s ok, GET answered HTTP %ld in %ld ms", base_url,
                      p.ip[0] ? p.ip : "?", p.status, p.elapsed_ms);
        record_clock(clocks, "downstream", &p);
    } else {
        unreachable(r, "downstream", base_url, "api.openapi.base_url", &p);
    }
    mb_buf_dispose(&p.body);
}

static void check_jwks(struct mb_doctor_report *r, const char *check, const char *uri,
                       const char *config_key, struct mb_doctor_clocks *clocks)
{
    struct probe p;
    if (!probe_url(uri, NULL, true, &p)) {
        unreachable(r, check, uri, config_key, &p);
        mb_buf_dispose(&p.body);
        return;
    }
    record_clock(clocks, check, &p);
    char fix[512];
    if (p.status != 200) {
        snprintf(fix, sizeof fix,
                 "%s must be the identity provider's JWKS URL (often .../.well-known/jwks.json or "
                 "the jwks_uri of its openid-configuration)",
                 config_key);
        mb_doctor_add(r, check, MB_DOCTOR_ERROR, fix, "%s answered HTTP %ld, not a key set", uri,
                      p.status);
        mb_buf_dispose(&p.body);
        return;
    }
    char why[256] = "";
    struct mb_jwk_set *set =
        mb_jwk_set_parse_jwks(p.body.data ? p.body.data : "", p.body.len, why, sizeof why);
    if (!set) {
        snprintf(
            fix, sizeof fix,
            "point %s at a JWKS document ({\"keys\": [...]}) with RSA (2048+ bits), P-256/P-384 "
            "or Ed25519 signing keys",
            config_key);
        mb_doctor_add(r, check, MB_DOCTOR_ERROR, fix, "%s is not a usable key set: %s", uri, why);
    } else {
        const struct mb_jwk_set_stats *st = mb_jwk_set_stats(set);
        if (st->rejected > 0)
            mb_doctor_add(r, check, MB_DOCTOR_WARNING,
                          "ask the identity provider's operator about the rejected keys",
                          "%s: %u usable key%s, %u rejected (%s)", uri, st->loaded,
                          st->loaded == 1 ? "" : "s", st->rejected, st->first_rejection);
        else
            mb_doctor_add(r, check, MB_DOCTOR_OK, NULL, "%s: %u usable signing key%s (%u listed)",
                          uri, st->loaded, st->loaded == 1 ? "" : "s", st->listed);
        mb_jwk_set_destroy(set);
    }
    mb_buf_dispose(&p.body);
}

static void check_token_endpoint(struct mb_doctor_report *r, const char *check, const char *url,
                                 const char *config_key, struct mb_doctor_clocks *clocks)
{
    struct probe p;
    if (probe_url(url, NULL, false, &p)) {
        mb_doctor_add(r, check, MB_DOCTOR_OK, NULL,
                      "%s answers (HTTP %ld to a GET without credentials; tokens are "
                      "asked for with POST)",
                      url, p.status);
        record_clock(clocks, check, &p);
    } else {
        unreachable(r, check, url, config_key, &p);
    }
    mb_buf_dispose(&p.body);
}

void mb_doctor_check_identity(struct mb_doctor_report *r, const struct mb_config *cfg,
                              struct mb_doctor_clocks *clocks)
{
    const struct mb_security_config *sec = &cfg->security;
    if (sec->auth_enabled && sec->sa.enabled && sec->sa.public_key_pem) {
        char why[256] = "";
        struct mb_jwk_set *set = mb_jwk_set_from_pem(
            sec->sa.public_key_pem, strlen(sec->sa.public_key_pem), why, sizeof why);
        if (set)
            mb_doctor_add(r, "service_account.public_key", MB_DOCTOR_OK, NULL,
                          "the service-account public key is a usable %s key",
                          mb_jwk_set_key(set, 0)->kty == MB_JWK_OKP  ? "Ed25519"
                          : mb_jwk_set_key(set, 0)->kty == MB_JWK_EC ? "EC"
                                                                     : "RSA");
        else
            mb_doctor_add(r, "service_account.public_key", MB_DOCTOR_ERROR,
                          "set security.authentication.service_account.public_key to the PEM "
                          "public key (or its path) "
                          "the service-account tokens are signed for",
                          "the service-account public key is not usable: %s", why);
        mb_jwk_set_destroy(set);
    }
    if (sec->auth_enabled && sec->sa.enabled && sec->sa.jwt.jwks_uri)
        check_jwks(r, "jwks.service_account", sec->sa.jwt.jwks_uri,
                   "security.authentication.service_account.jwks_uri", clocks);
    if (sec->auth_enabled && sec->user.enabled && sec->user.jwt.jwks_uri)
        check_jwks(r, "jwks.user_auth", sec->user.jwt.jwks_uri,
                   "security.authentication.user_auth.jwks_uri", clocks);
    if (sec->auth_enabled && sec->user.enabled && sec->user.exchange.enabled &&
        sec->user.exchange.token_url)
        check_token_endpoint(r, "token_endpoint.token_exchange", sec->user.exchange.token_url,
                             "security.authentication.user_auth.token_exchange.token_url", clocks);
    if (sec->downstream.client_credentials.enabled && sec->downstream.client_credentials.token_url)
        check_token_endpoint(r, "token_endpoint.client_credentials",
                             sec->downstream.client_credentials.token_url,
                             "security.downstream.client_credentials.token_url", clocks);
}

void mb_doctor_check_clock(struct mb_doctor_report *r, const struct mb_config *cfg,
                           const struct mb_doctor_clocks *clocks)
{
    if (clocks->count == 0) {
        mb_doctor_add(r, "clock_skew", MB_DOCTOR_OK, NULL,
                      "not measured: no server answered with a Date header");
        return;
    }
    struct mb_buf detail;
    mb_buf_init(&detail, 1024);
    long worst = 0;
    for (size_t i = 0; i < clocks->count; i++) {
        long s = clocks->samples[i].skew_s;
        if (labs(s) > labs(worst))
            worst = s;
        mb_buf_printf(&detail, "%s%s %+ld s", i ? ", " : "", clocks->samples[i].source, s);
    }
    unsigned leeway = cfg->security.sa.enabled ? cfg->security.sa.jwt.leeway_seconds
                                               : cfg->security.user.jwt.leeway_seconds;
    if (labs(worst) > SKEW_WARNING_S) {
        char fix[512];
        snprintf(fix, sizeof fix,
                 "synchronize this machine's clock (NTP: timedatectl set-ntp true, or chrony); JWT "
                 "expiry and not-before checks allow only leeway_seconds (%u s)",
                 leeway);
        mb_doctor_add(r, "clock_skew", MB_DOCTOR_WARNING, fix,
                      "the local clock is %ld s %s the servers' (Date headers: %s)", labs(worst),
                      worst > 0 ? "behind" : "ahead of", detail.data);
    } else {
        mb_doctor_add(r, "clock_skew", MB_DOCTOR_OK, NULL,
                      "within %ld s of the servers' clocks (Date headers: %s)", labs(worst),
                      detail.data);
    }
    mb_buf_dispose(&detail);
}
