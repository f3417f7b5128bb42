/* Implementation of token_fetch.h. The cache is a hash table of entries (fixed bucket count, a
 * power of two at least max_entries) threaded on an LRU list. An entry is FETCHING (an HTTP
 * request in flight, a list of waiting requests), READY (a token usable until until_ms, which is
 * the expiry minus the skew) or FAILED (a safe error message repeated until until_ms, the end of
 * the back-off). FETCHING entries are never evicted. Answers that need no HTTP request (cache
 * hits, remembered failures, refused input) are queued with their own copy of the result and
 * delivered by a zero timer, so no callback runs inside mb_token_fetch_get; when a request
 * completes, every waiter of its entry is delivered from the completion callback, from one
 * local copy of the token. Everything secret we hold (client secret, cached tokens, result
 * copies, the form body and Basic header while they are built) is wiped before it is freed;
 * upstream calls are marked sensitive so upstream wipes its copies too.
 *
 * With a shared cache attached, an entry about to send an HTTP request first asks the shared
 * cache (it stays FETCHING, so later requests coalesce on it as usual) and holds a wiped-later
 * copy of what the request needs (struct tf_pending) until the answer: a usable token there
 * makes it READY without a request, anything else sends the request. Values in the shared cache
 * are sealed with AES-256-GCM: version byte | nonce (12) | ciphertext of (expiry, unix ms, 8
 * bytes big endian | token) | tag (16), with the lookup key as associated data. */
#include "auth/token_fetch.h"

#include "common/base64.h"
#include "common/buf.h"
#include "common/log.h"
#include "upstream/upstream.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TF_DEFAULT_EXPIRES_IN 300u
#define TF_DEFAULT_SKEW 30u
#define TF_DEFAULT_TIMEOUT_MS 5000u
#define TF_DEFAULT_BACKOFF_MS 1000u
#define TF_DEFAULT_MAX_ENTRIES 1024u
#define TF_DEFAULT_MAX_RESPONSE (64u * 1024u)
#define TF_DEFAULT_MAX_SUBJECT (16u * 1024u)
#define TF_MAX_TOKEN (16u * 1024u)
#define TF_MAX_EXPIRES_IN (366u * 24u * 3600u)
#define TF_MAX_SEGMENTS 16
#define TF_ERR_MAX 160
#define TF_LOG_URL_MAX 200
#define TF_GRANT_EXCHANGE "urn:ietf:params:oauth:grant-type:token-exchange"
#define TF_SEAL_VERSION 1
#define TF_NONCE_LEN 12
#define TF_TAG_LEN 16
#define TF_SHARED_KEY_LEN 64            /* hex digits of the lookup key */

struct req_list {
    struct mb_token_request *head, *tail;
};

struct mb_token_request {
    struct mb_token_fetcher *f;
    struct req_list *list;              /* the list it is on, NULL when on none */
    struct mb_token_request *prev, *next;
    mb_token_cb cb;
    void *data;
    bool delivering;                    /* its callback is running */
    char *token;                        /* a queued success: our copy, wiped when freed */
    size_t token_len;
    char error[TF_ERR_MAX];             /* a queued failure */
};

enum entry_state { E_FETCHING, E_READY, E_FAILED };

/* What the HTTP request of an entry needs while the shared cache is asked first (our copies;
 * the subject is wiped when this is freed). */
struct tf_pending {
    enum mb_token_kind kind;
    char *subject;
    size_t subject_len;
    char *audience, *scope, *resource;
};

struct tf_entry {
    struct mb_token_fetcher *f;
    unsigned char key[32];
    enum mb_token_kind kind;
    enum entry_state state;
    struct tf_entry *hnext;             /* bucket chain */
    struct tf_entry *lprev, *lnext;     /* LRU list, most recent first */
    char *token;                        /* READY; wiped when freed */
    size_t token_len;
    uint64_t until_ms;                  /* READY: usable until; FAILED: back-off end */
    char error[TF_ERR_MAX];             /* FAILED */
    struct req_list waiters;            /* FETCHING */
    struct mb_upstream_call *call;      /* FETCHING */
    struct tf_pending *pending;         /* FETCHING: the shared cache is being asked */
    char shared_key[TF_SHARED_KEY_LEN + 1]; /* the lookup key in the shared cache ("" without one) */
};

struct mb_token_fetcher {
    uv_loop_t *loop;
    struct mb_upstream *up;
    struct mb_token_fetch_options opts;  /* strings are our own copies */
    char *path_copy;                     /* token_path split in place */
    const char *segments[TF_MAX_SEGMENTS];
    size_t nsegments;
    uv_timer_t defer;
    struct req_list queued;             /* answers waiting for the defer timer */
    struct req_list running;            /* queued answers being delivered now */
    struct req_list firing;             /* waiters of a completed entry being delivered now */
    struct tf_entry **buckets;
    size_t nbuckets;
    struct tf_entry *lru_head, *lru_tail;
    struct mb_token_stats stats;
    unsigned depth;
    bool destroy_requested;
    bool closed;
    const struct mb_token_shared_cache *shared;  /* NULL: no shared cache */
    void *shared_cache;
    unsigned char seal_key[32];          /* AES-256-GCM key for shared values; wiped at destroy */
    char log_url[TF_LOG_URL_MAX + 1];
};

/* --- small helpers ----------------------------------------------------------------------------- */

static void wipe_free(char *p, size_t len)
{
    if (!p)
        return;
    OPENSSL_cleanse(p, len);
    free(p);
}

static void wipe_free_str(char *p)
{
    if (p)
        wipe_free(p, strlen(p));
}

static void list_append(struct req_list *l, struct mb_token_request *r)
{
    r->list = l;
    r->next = NULL;
    r->prev = l->tail;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
}

static void list_remove(struct mb_token_request *r)
{
    struct req_list *l = r->list;
    if (!l)
        return;
    if (r->prev)
        r->prev->next = r->next;
    else
        l->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        l->tail = r->prev;
    r->prev = r->next = NULL;
    r->list = NULL;
}

/* Moves every request of from to the end of to. */
static void list_move_all(struct req_list *from, struct req_list *to)
{
    struct mb_token_request *r;
    while ((r = from->head)) {
        list_remove(r);
        list_append(to, r);
    }
}

static void request_free(struct mb_token_request *r)
{
    wipe_free(r->token, r->token_len);
    free(r);
}

static void redact_url(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url, "://");
    const char *host = p ? p + 3 : url;
    const char *end = host + strcspn(host, "/?#");
    const char *at = memchr(host, '@', (size_t)(end - host));
    size_t o = 0;
    if (p) {
        o = (size_t)(host - url);
        if (o >= cap)
            o = cap - 1;
        memcpy(out, url, o);
    }
    if (at)
        host = at + 1;
    size_t n = strcspn(host, "?#");
    if (n > cap - 1 - o)
        n = cap - 1 - o;
    memcpy(out + o, host, n);
    out[o + n] = '\0';
}

/* application/x-www-form-urlencoded (WHATWG): unreserved bytes as they are, space as '+'. */
static int form_encode(struct mb_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char enc[3];
        size_t n = 1;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '.' || c == '_' || c == '*') {
            enc[0] = (char)c;
        } else if (c == ' ') {
            enc[0] = '+';
        } else {
            enc[0] = '%';
            enc[1] = hex[c >> 4];
            enc[2] = hex[c & 15];
            n = 3;
        }
        int rc = mb_buf_append(b, enc, n);
        if (rc)
            return rc;
    }
    return 0;
}

static int form_field(struct mb_buf *b, const char *name, const char *value, size_t len)
{
    int rc = 0;
    if (b->len)
        rc = mb_buf_append(b, "&", 1);
    if (!rc)
        rc = mb_buf_append_str(b, name);
    if (!rc)
        rc = mb_buf_append(b, "=", 1);
    if (!rc)
        rc = form_encode(b, value, len);
    return rc;
}

static int form_opt(struct mb_buf *b, const char *name, const char *value)
{
    return value ? form_field(b, name, value, strlen(value)) : 0;
}

/* Wipes every string value of a parsed answer (tokens, refresh tokens, id tokens) before the
 * document is freed; jansson would free them as they are. */
static void wipe_json(json_t *j)
{
    if (json_is_string(j)) {
        OPENSSL_cleanse((char *)json_string_value(j), json_string_length(j));
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
            wipe_json(v);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
            wipe_json(v);
    }
}

/* An OAuth error code ("invalid_grant") is safe to repeat; anything else is dropped. */
static bool safe_code(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.'))
            return false;
    }
    return true;
}

/* A token goes into an HTTP header later: visible ASCII only (RFC 6750 b64token and JWTs). */
static bool token_usable(const char *s, size_t n)
{
    if (n == 0 || n > TF_MAX_TOKEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

/* --- cache ------------------------------------------------------------------------------------- */

static void hash_part(EVP_MD_CTX *ctx, const char *s, size_t len, bool present)
{
    unsigned char hdr[5] = {present ? 1 : 0, (unsigned char)(len >> 24), (unsigned char)(len >> 16),
                            (unsigned char)(len >> 8), (unsigned char)len};
    EVP_DigestUpdate(ctx, hdr, sizeof hdr);
    if (present && len)
        EVP_DigestUpdate(ctx, s, len);
}

static int make_key(enum mb_token_kind kind, const char *subject, size_t subject_len,
                    const char *audience, const char *scope, const char *resource,
                    unsigned char key[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    int rc = -ENOMEM;
    if (!ctx)
        return rc;
    unsigned char k = (unsigned char)kind;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        goto done;
    EVP_DigestUpdate(ctx, &k, 1);
    hash_part(ctx, subject, kind == MB_TOKEN_EXCHANGE ? subject_len : 0, kind == MB_TOKEN_EXCHANGE);
    hash_part(ctx, audience, audience ? strlen(audience) : 0, audience != NULL);
    hash_part(ctx, scope, scope ? strlen(scope) : 0, scope != NULL);
    hash_part(ctx, resource, resource ? strlen(resource) : 0, resource != NULL);
    if (EVP_DigestFinal_ex(ctx, key, &n) == 1 && n == 32)
        rc = 0;
done:
    EVP_MD_CTX_free(ctx);
    return rc;
}

static size_t bucket_of(const struct mb_token_fetcher *f, const unsigned char key[32])
{
    uint64_t h = 0;
    memcpy(&h, key, sizeof h);
    return (size_t)h & (f->nbuckets - 1);
}

static struct tf_entry *entry_find(struct mb_token_fetcher *f, const unsigned char key[32])
{
    for (struct tf_entry *e = f->buckets[bucket_of(f, key)]; e; e = e->hnext)
        if (memcmp(e->key, key, 32) == 0)
            return e;
    return NULL;
}

static void lru_unlink(struct mb_token_fetcher *f, struct tf_entry *e)
{
    if (e->lprev)
        e->lprev->lnext = e->lnext;
    else
        f->lru_head = e->lnext;
    if (e->lnext)
        e->lnext->lprev = e->lprev;
    else
        f->lru_tail = e->lprev;
    e->lprev = e->lnext = NULL;
}

static void lru_push(struct mb_token_fetcher *f, struct tf_entry *e)
{
    e->lprev = NULL;
    e->lnext = f->lru_head;
    if (f->lru_head)
        f->lru_head->lprev = e;
    else
        f->lru_tail = e;
    f->lru_head = e;
}

static void entry_clear_token(struct tf_entry *e)
{
    wipe_free(e->token, e->token_len);
    e->token = NULL;
    e->token_len = 0;
}

/* Unlinks and frees an entry that has no request in flight and nobody waiting. */
static void entry_remove(struct mb_token_fetcher *f, struct tf_entry *e)
{
    struct tf_entry **pp = &f->buckets[bucket_of(f, e->key)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    lru_unlink(f, e);
    entry_clear_token(e);
    OPENSSL_cleanse(e->key, sizeof e->key);
    OPENSSL_cleanse(e->shared_key, sizeof e->shared_key);
    free(e);
    f->stats.entries--;
}

static void evict(struct mb_token_fetcher *f)
{
    struct tf_entry *e = f->lru_tail;
    while (f->stats.entries > f->opts.max_entries && e) {
        struct tf_entry *prev = e->lprev;
        if (e->state != E_FETCHING) {
            entry_remove(f, e);
            f->stats.evictions++;
        }
        e = prev;
    }
}

static struct tf_entry *entry_new(struct mb_token_fetcher *f, const unsigned char key[32],
                                  enum mb_token_kind kind)
{
    struct tf_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->f = f;
    memcpy(e->key, key, 32);
    e->kind = kind;
    e->state = E_FETCHING;
    size_t b = bucket_of(f, key);
    e->hnext = f->buckets[b];
    f->buckets[b] = e;
    lru_push(f, e);
    f->stats.entries++;
    return e;
}

/* --- delivery ---------------------------------------------------------------------------------- */

static void finish_destroy(struct mb_token_fetcher *f);

static void enter(struct mb_token_fetcher *f)
{
    f->depth++;
}

static void leave(struct mb_token_fetcher *f)
{
    if (--f->depth == 0 && f->destroy_requested && !f->closed)
        finish_destroy(f);
}

/* Takes r off its list, runs its callback, frees it. */
static void deliver(struct mb_token_request *r, const char *token, size_t len, const char *error)
{
    list_remove(r);
    r->delivering = true;
    r->cb(r->data, error ? NULL : token, error ? 0 : len, error);
    request_free(r);
}

static void on_defer(uv_timer_t *t)
{
    struct mb_token_fetcher *f = t->data;
    enter(f);
    /* Only what was queued before this turn: answers queued by these callbacks wait for the
     * next one, so a callback that asks again cannot keep this loop turn going forever. */
    list_move_all(&f->queued, &f->running);
    struct mb_token_request *r;
    while ((r = f->running.head))
        deliver(r, r->token, r->token_len, r->token ? NULL : r->error);
    leave(f);
}

static void queue_answer(struct mb_token_fetcher *f, struct mb_token_request *r)
{
    list_append(&f->queued, r);
    if (!f->closed)
        uv_timer_start(&f->defer, on_defer, 0, 0);
}

/* Queues a failure for r (delivered from the loop). */
static void queue_error(struct mb_token_fetcher *f, struct mb_token_request *r, const char *msg)
{
    snprintf(r->error, sizeof r->error, "%s", msg);
    queue_answer(f, r);
}

/* Queues a success; returns -ENOMEM when the token cannot be copied. */
static int queue_token(struct mb_token_fetcher *f, struct mb_token_request *r, const char *token,
                       size_t len)
{
    r->token = malloc(len + 1);
    if (!r->token)
        return -ENOMEM;
    memcpy(r->token, token, len);
    r->token[len] = '\0';
    r->token_len = len;
    queue_answer(f, r);
    return 0;
}

/* --- the HTTP exchange ------------------------------------------------------------------------- */

static const char *kind_label(enum mb_token_kind kind)
{
    return kind == MB_TOKEN_EXCHANGE ? "token exchange failed" : "client credentials grant failed";
}

/* Finds the token by the configured path. *parent gets the object holding it (for expires_in). */
static json_t *path_lookup(const struct mb_token_fetcher *f, json_t *root, json_t **parent)
{
    json_t *cur = root;
    *parent = root;
    for (size_t i = 0; i < f->nsegments && cur; i++) {
        const char *seg = f->segments[i];
        *parent = cur;
        if (json_is_object(cur)) {
            cur = json_object_get(cur, seg);
        } else if (json_is_array(cur) && seg[0] >= '0' && seg[0] <= '9' && strlen(seg) <= 9 &&
                   strspn(seg, "0123456789") == strlen(seg)) {
            cur = json_array_get(cur, (size_t)strtoul(seg, NULL, 10));
        } else {
            cur = NULL;
        }
    }
    return cur;
}

static unsigned expires_of(json_t *obj)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, "expires_in") : NULL;
    double d = 0;
    if (json_is_integer(v)) {
        d = (double)json_integer_value(v);
    } else if (json_is_real(v)) {
        d = json_real_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = strlen(s);
        if (n > 0 && n <= 10 && strspn(s, "0123456789") == n)
            d = (double)strtoul(s, NULL, 10);
    }
    if (!(d >= 1))
        return 0;
    return d > TF_MAX_EXPIRES_IN ? TF_MAX_EXPIRES_IN : (unsigned)d;
}

/* Reads the answer. On success returns 0 with *token (malloc'd, the caller wipes it) and
 * *expires_in; otherwise writes a safe message to err. */
static int parse_answer(struct mb_token_fetcher *f, enum mb_token_kind kind,
                        const struct mb_upstream_response *resp, char **token, size_t *token_len,
                        unsigned *expires_in, char *err, size_t errcap)
{
    const char *what = kind_label(kind);
    json_t *root = NULL;
    int rc = -1;
    *token = NULL;
    if (resp->error == MB_UPSTREAM_ETIMEDOUT) {
        snprintf(err, errcap, "%s: the token endpoint timed out", what);
        goto done;
    }
    if (resp->error == MB_UPSTREAM_ETOOBIG) {
        snprintf(err, errcap, "%s: the token endpoint's answer is too large", what);
        goto done;
    }
    if (resp->error != MB_UPSTREAM_OK) {
        snprintf(err, errcap, "%s: the token endpoint is unreachable", what);
        goto done;
    }
    root = json_loadb(resp->body, resp->body_len, 0, NULL);
    if (resp->status < 200 || resp->status > 299) {
        json_t *code = json_is_object(root) ? json_object_get(root, "error") : NULL;
        const char *c = json_string_value(code);
        if (safe_code(c))
            snprintf(err, errcap, "%s: the token endpoint answered HTTP %ld (%s)", what, resp->status, c);
        else
            snprintf(err, errcap, "%s: the token endpoint answered HTTP %ld", what, resp->status);
        goto done;
    }
    if (!json_is_object(root)) {
        snprintf(err, errcap, "%s: the token endpoint's answer is not a JSON object", what);
        goto done;
    }
    json_t *parent = NULL;
    json_t *t = path_lookup(f, root, &parent);
    if (!json_is_string(t)) {
        snprintf(err, errcap, "%s: no token at '%s' in the answer", what, f->opts.token_path);
        goto done;
    }
    const char *tv = json_string_value(t);
    size_t tl = json_string_length(t);
    if (!token_usable(tv, tl)) {
        snprintf(err, errcap, "%s: the token at '%s' is not usable", what, f->opts.token_path);
        goto done;
    }
    *token = malloc(tl + 1);
    if (!*token) {
        snprintf(err, errcap, "%s: out of memory", what);
        goto done;
    }
    memcpy(*token, tv, tl);
    (*token)[tl] = '\0';
    *token_len = tl;
    unsigned e = expires_of(parent);
    if (!e && parent != root)
        e = expires_of(root);
    *expires_in = e ? e : f->opts.default_expires_in;
    rc = 0;
done:
    if (root) {
        wipe_json(root);
        json_decref(root);
    }
    return rc;
}

/* --- the shared cache --------------------------------------------------------------------------- */

static uint64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The lookup key: hex SHA-256 over a label, the token endpoint, the client id and the local
 * cache key, so two token endpoints (or clients) never share entries. 0 or -1. */
static int make_shared_key(const struct mb_token_fetcher *f, const unsigned char key[32],
                           char out[TF_SHARED_KEY_LEN + 1])
{
    static const char label[] = "mcpbridge token cache v1";
    const char *client = f->opts.client_id ? f->opts.client_id : "";
    unsigned char md[32];
    unsigned int n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, label, sizeof label) == 1 &&
             EVP_DigestUpdate(ctx, f->opts.token_url, strlen(f->opts.token_url) + 1) == 1 &&
             EVP_DigestUpdate(ctx, client, strlen(client) + 1) == 1 && EVP_DigestUpdate(ctx, key, 32) == 1 &&
             EVP_DigestFinal_ex(ctx, md, &n) == 1 && n == 32 ? 0 : -1;
    EVP_MD_CTX_free(ctx);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[TF_SHARED_KEY_LEN] = '\0';
    return rc;
}

/* Seals (expiry, token) for the shared cache under the fetcher's key with aad as associated
 * data. Returns the malloc'd blob and its length, or NULL. */
static unsigned char *seal(const struct mb_token_fetcher *f, const char *aad, const char *token, size_t len,
                           uint64_t expires_ms, size_t *out_len)
{
    size_t plain_len = 8 + len;
    size_t total = 1 + TF_NONCE_LEN + plain_len + TF_TAG_LEN;
    unsigned char *plain = malloc(plain_len), *blob = malloc(total);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, m = 0;
    bool ok = plain && blob && ctx;
    if (ok) {
        for (int i = 0; i < 8; i++)
            plain[i] = (unsigned char)(expires_ms >> (56 - 8 * i));
        memcpy(plain + 8, token, len);
        blob[0] = TF_SEAL_VERSION;
        unsigned char *nonce = blob + 1, *ct = blob + 1 + TF_NONCE_LEN;
        ok = RAND_bytes(nonce, TF_NONCE_LEN) == 1 &&
             EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, TF_NONCE_LEN, NULL) == 1 &&
             EVP_EncryptInit_ex(ctx, NULL, NULL, f->seal_key, nonce) == 1 &&
             EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
             EVP_EncryptUpdate(ctx, ct, &n, plain, (int)plain_len) == 1 &&
             EVP_EncryptFinal_ex(ctx, ct + n, &m) == 1 && (size_t)(n + m) == plain_len &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TF_TAG_LEN, ct + plain_len) == 1;
    }
    EVP_CIPHER_CTX_free(ctx);
    if (plain)
        wipe_free((char *)plain, plain_len);
    if (!ok) {
        free(blob);
        return NULL;
    }
    *out_len = total;
    return blob;
}

/* Opens a sealed value: 0 with *token (malloc'd, NUL-terminated, the caller wipes it) and
 * *expires_ms, or -1 (wrong version, length, key, associated data or a tampered byte). */
static int unseal(const struct mb_token_fetcher *f, const char *aad, const unsigned char *blob, size_t total,
                  char **token, size_t *token_len, uint64_t *expires_ms)
{
    *token = NULL;
    if (total < 1 + TF_NONCE_LEN + 8 + 1 + TF_TAG_LEN || total > 1 + TF_NONCE_LEN + 8 + TF_MAX_TOKEN + TF_TAG_LEN ||
        blob[0] != TF_SEAL_VERSION)
        return -1;
    size_t plain_len = total - 1 - TF_NONCE_LEN - TF_TAG_LEN;
    const unsigned char *nonce = blob + 1, *ct = blob + 1 + TF_NONCE_LEN;
    unsigned char tag[TF_TAG_LEN];
    memcpy(tag, ct + plain_len, TF_TAG_LEN);
    unsigned char *plain = malloc(plain_len + 1);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, m = 0;
    bool ok = plain && ctx && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, TF_NONCE_LEN, NULL) == 1 &&
              EVP_DecryptInit_ex(ctx, NULL, NULL, f->seal_key, nonce) == 1 &&
              EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
              EVP_DecryptUpdate(ctx, plain, &n, ct, (int)plain_len) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TF_TAG_LEN, tag) == 1 &&
              EVP_DecryptFinal_ex(ctx, plain + n, &m) == 1 && (size_t)(n + m) == plain_len;
    EVP_CIPHER_CTX_free(ctx);
    if (ok) {
        uint64_t e = 0;
        for (int i = 0; i < 8; i++)
            e = (e << 8) | plain[i];
        size_t tl = plain_len - 8;
        ok = token_usable((const char *)plain + 8, tl);
        if (ok) {
            memmove(plain, plain + 8, tl);
            plain[tl] = '\0';
            *token = (char *)plain;
            *token_len = tl;
            *expires_ms = e;
            plain = NULL;
        }
    }
    if (plain)
        wipe_free((char *)plain, plain_len + 1);
    return ok ? 0 : -1;
}

/* Puts a token obtained from the endpoint into the shared cache, for its life minus the skew
 * (the same margin the local cache keeps). */
static void shared_store(struct mb_token_fetcher *f, struct tf_entry *e, const char *token, size_t len,
                         uint64_t life_ms)
{
    uint64_t skew = (uint64_t)f->opts.skew_seconds * 1000u;
    if (!f->shared || !e->shared_key[0] || life_ms <= skew + 1000u)
        return;
    size_t blob_len = 0;
    unsigned char *blob = seal(f, e->shared_key, token, len, unix_ms() + life_ms, &blob_len);
    if (!blob)
        return;
    f->shared->set(f->shared_cache, e->shared_key, blob, blob_len, (unsigned)((life_ms - skew) / 1000u));
    f->stats.shared_stores++;
    free(blob); /* ciphertext: nothing to wipe */
}

static void pending_free(struct tf_pending *p)
{
    if (!p)
        return;
    wipe_free(p->subject, p->subject_len);
    free(p->audience);
    free(p->scope);
    free(p->resource);
    free(p);
}

static void on_http_done(void *data, const struct mb_upstream_response *resp)
{
    struct tf_entry *e = data;
    struct mb_token_fetcher *f = e->f;
    char err[TF_ERR_MAX];
    char *token = NULL;
    size_t token_len = 0;
    unsigned expires_in = 0;
    e->call = NULL;
    enter(f);
    uint64_t now = uv_now(f->loop);
    if (parse_answer(f, e->kind, resp, &token, &token_len, &expires_in, err, sizeof err) == 0) {
        uint64_t life = (uint64_t)expires_in * 1000u;
        uint64_t skew = (uint64_t)f->opts.skew_seconds * 1000u;
        e->token = malloc(token_len + 1);
        if (e->token) {
            memcpy(e->token, token, token_len + 1);
            e->token_len = token_len;
        }
        e->state = E_READY;
        e->until_ms = e->token && life > skew ? now + life - skew : now;  /* else: not reused */
        mb_debug("auth", "token endpoint %s: token obtained, valid %u s", f->log_url, expires_in);
        if (e->token)
            shared_store(f, e, token, token_len, life);
    } else {
        f->stats.failures++;
        e->state = E_FAILED;
        e->until_ms = now + f->opts.failure_backoff_ms;
        snprintf(e->error, sizeof e->error, "%s", err);
        mb_warn("auth", "token endpoint %s: %s", f->log_url, err);
    }
    list_move_all(&e->waiters, &f->firing);
    struct mb_token_request *r;
    while ((r = f->firing.head))
        deliver(r, token, token_len, token ? NULL : err);
    wipe_free(token, token_len);
    evict(f);
    leave(f);
}

/* Builds and starts the request for e. Returns 0 or a negative errno; err gets a safe message. */
static int start_http(struct mb_token_fetcher *f, struct tf_entry *e, enum mb_token_kind kind,
                      const char *subject, size_t subject_len, const char *audience, const char *scope,
                      const char *resource, char *err, size_t errcap)
{
    const struct mb_token_fetch_options *o = &f->opts;
    struct mb_buf form;
    char *basic = NULL, *auth_header = NULL, *pair = NULL;
    size_t auth_len = 0, pair_len = 0;
    int rc = -ENOMEM;
    const char *fields[] = {o->subject_token_type, o->requested_token_type, audience, scope, resource,
                            o->client_id, o->client_secret};
    size_t raw = subject_len;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        raw += fields[i] ? strlen(fields[i]) : 0;
    mb_buf_init(&form, 3 * raw + 512);  /* every byte may become %XX, plus the names */
    /* One allocation for the whole form: growing would leave copies of the subject behind. */
    if (mb_buf_reserve(&form, form.max) != 0)
        goto done;
    if (kind == MB_TOKEN_EXCHANGE) {
        if (form_opt(&form, "grant_type", TF_GRANT_EXCHANGE) ||
            form_field(&form, "subject_token", subject, subject_len) ||
            form_opt(&form, "subject_token_type", o->subject_token_type) ||
            form_opt(&form, "requested_token_type", o->requested_token_type))
            goto done;
    } else if (form_opt(&form, "grant_type", "client_credentials")) {
        goto done;
    }
    if (form_opt(&form, "audience", audience) || form_opt(&form, "scope", scope) ||
        form_opt(&form, "resource", resource))
        goto done;
    const char *headers[3] = {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json",
                              NULL};
    size_t nheaders = 2;
    if (o->client_id && o->client_auth == MB_TOKEN_AUTH_BASIC) {
        /* RFC 6749 2.3.1: both parts form-encoded, then joined by ':' and base64-encoded. */
        struct mb_buf p;
        mb_buf_init(&p, 3 * (strlen(o->client_id) + (o->client_secret ? strlen(o->client_secret) : 0)) + 2);
        if (mb_buf_reserve(&p, p.max) || form_encode(&p, o->client_id, strlen(o->client_id)) ||
            mb_buf_append(&p, ":", 1) ||
            (o->client_secret && form_encode(&p, o->client_secret, strlen(o->client_secret)))) {
            if (p.data)
                OPENSSL_cleanse(p.data, p.cap);
            mb_buf_dispose(&p);
            goto done;
        }
        pair_len = p.cap;
        pair = p.data;
        basic = mb_base64_encode(pair, p.len);
        if (!basic)
            goto done;
        auth_len = strlen(basic) + 32;
        auth_header = malloc(auth_len);
        if (!auth_header)
            goto done;
        snprintf(auth_header, auth_len, "Authorization: Basic %s", basic);
        headers[nheaders++] = auth_header;
    } else if (o->client_id) {
        if (form_opt(&form, "client_id", o->client_id))
            goto done;
        if (o->client_auth == MB_TOKEN_AUTH_POST && form_opt(&form, "client_secret", o->client_secret))
            goto done;
    }
    struct mb_upstream_request req = {
        .method = "POST",
        .url = o->token_url,
        .headers = headers,
        .header_count = nheaders,
        .body = form.data ? form.data : "",
        .body_len = form.len,
        .timeout_ms = o->timeout_ms,
        .max_response_bytes = o->max_response_bytes,
        .sensitive = true,
    };
    e->call = mb_upstream_start(f->up, &req, on_http_done, NULL, e);
    if (!e->call) {
        rc = -EIO;
        goto done;
    }
    f->stats.http_requests++;
    rc = 0;
done:
    if (rc == -ENOMEM)
        snprintf(err, errcap, "%s: out of memory", kind_label(kind));
    else if (rc)
        snprintf(err, errcap, "%s: could not send the request", kind_label(kind));
    if (form.data)
        OPENSSL_cleanse(form.data, form.cap);
    mb_buf_dispose(&form);
    if (pair) {
        OPENSSL_cleanse(pair, pair_len);
        free(pair);
    }
    wipe_free_str(basic);
    if (auth_header)
        wipe_free(auth_header, auth_len);
    return rc;
}

/* The shared cache answered for e (a miss: value NULL). A usable token makes e READY and
 * answers its waiters; anything else sends the HTTP request the lookup stood for. */
static void on_shared_answer(void *ctx, const void *value, size_t len, int error)
{
    struct tf_entry *e = ctx;
    struct mb_token_fetcher *f = e->f;
    struct tf_pending *p = e->pending;
    e->pending = NULL;
    enter(f);
    char *token = NULL;
    size_t token_len = 0;
    uint64_t expires_ms = 0, now_unix = unix_ms();
    uint64_t skew = (uint64_t)f->opts.skew_seconds * 1000u;
    if (!error && value && unseal(f, e->shared_key, value, len, &token, &token_len, &expires_ms) == 0 &&
        expires_ms > now_unix + skew) {
        f->stats.shared_hits++;
        e->token = token;
        e->token_len = token_len;
        e->state = E_READY;
        e->until_ms = uv_now(f->loop) + (expires_ms - now_unix) - skew;
        mb_debug("auth", "token endpoint %s: token found in the shared cache, valid %llu s", f->log_url,
                 (unsigned long long)((expires_ms - now_unix) / 1000u));
        list_move_all(&e->waiters, &f->firing);
        struct mb_token_request *r;
        while ((r = f->firing.head))
            deliver(r, e->token, e->token_len, NULL);
        pending_free(p);
        evict(f);
        leave(f);
        return;
    }
    if (token)
        wipe_free(token, token_len);
    if (value && !error)
        mb_debug("auth", "token endpoint %s: a shared-cache value did not open or is too old; fetching",
                 f->log_url);
    char msg[TF_ERR_MAX];
    if (start_http(f, e, p->kind, p->subject, p->subject_len, p->audience, p->scope, p->resource, msg,
                   sizeof msg) != 0) {
        f->stats.failures++;
        e->state = E_FAILED;
        e->until_ms = uv_now(f->loop) + f->opts.failure_backoff_ms;
        snprintf(e->error, sizeof e->error, "%s", msg);
        list_move_all(&e->waiters, &f->firing);
        struct mb_token_request *r;
        while ((r = f->firing.head))
            deliver(r, NULL, 0, msg);
    }
    pending_free(p);
    leave(f);
}

static int copy_str(const char *in, char **out)
{
    *out = in ? strdup(in) : NULL;
    return in && !*out ? -ENOMEM : 0;
}

/* Obtains a token for e (FETCHING, its first waiter queued): from the shared cache when there is
 * one (the answer comes later), else by the HTTP request at once. Returns 0, or what start_http
 * returns (err filled). */
static int begin_fetch(struct mb_token_fetcher *f, struct tf_entry *e, enum mb_token_kind kind,
                       const char *subject, size_t subject_len, const char *audience, const char *scope,
                       const char *resource, char *err, size_t errcap)
{
    if (f->shared && (e->shared_key[0] || make_shared_key(f, e->key, e->shared_key) == 0)) {
        struct tf_pending *p = calloc(1, sizeof *p);
        if (p) {
            p->kind = kind;
            p->subject_len = kind == MB_TOKEN_EXCHANGE ? subject_len : 0;
            p->subject = p->subject_len ? malloc(subject_len) : NULL;
            if (p->subject)
                memcpy(p->subject, subject, subject_len);
        }
        if (p && (!p->subject_len || p->subject) && copy_str(audience, &p->audience) == 0 &&
            copy_str(scope, &p->scope) == 0 && copy_str(resource, &p->resource) == 0) {
            e->pending = p;
            f->stats.shared_lookups++;
            if (f->shared->get(f->shared_cache, e->shared_key, on_shared_answer, e) == 0)
                return 0;
            e->pending = NULL; /* a miss at once */
        }
        pending_free(p);
    }
    return start_http(f, e, kind, subject, subject_len, audience, scope, resource, err, errcap);
}

/* --- public API -------------------------------------------------------------------------------- */

static int copy_opt(const char *in, const char **out)
{
    *out = NULL;
    if (!in)
        return 0;
    char *d = strdup(in);
    if (!d)
        return -ENOMEM;
    *out = d;
    return 0;
}

static void free_opts(struct mb_token_fetch_options *o)
{
    free((char *)o->token_url);
    free((char *)o->client_id);
    wipe_free_str((char *)o->client_secret);
    free((char *)o->subject_token_type);
    free((char *)o->requested_token_type);
    free((char *)o->audience);
    free((char *)o->scope);
    free((char *)o->resource);
    free((char *)o->token_path);
    memset(o, 0, sizeof *o);
}

static int split_path(struct mb_token_fetcher *f)
{
    f->path_copy = strdup(f->opts.token_path);
    if (!f->path_copy)
        return -ENOMEM;
    char *p = f->path_copy;
    for (;;) {
        char *dot = strchr(p, '.');
        if (dot)
            *dot = '\0';
        if (!*p || f->nsegments == TF_MAX_SEGMENTS)
            return -EINVAL;
        f->segments[f->nsegments++] = p;
        if (!dot)
            return 0;
        p = dot + 1;
    }
}

struct mb_token_fetcher *mb_token_fetcher_create(uv_loop_t *loop, struct mb_upstream *up,
                                                 const struct mb_token_fetch_options *opts)
{
    if (!loop || !up || !opts || !opts->token_url ||
        (strncmp(opts->token_url, "https://", 8) != 0 && strncmp(opts->token_url, "http://", 7) != 0) ||
        opts->client_auth > MB_TOKEN_AUTH_NONE)
        return NULL;
    struct mb_token_fetcher *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->loop = loop;
    f->up = up;
    struct mb_token_fetch_options *o = &f->opts;
    *o = *opts;
    const char *path = opts->token_path ? opts->token_path : "access_token";
    const char *stype = opts->subject_token_type ? opts->subject_token_type : MB_TOKEN_TYPE_ACCESS_TOKEN;
    if (copy_opt(opts->token_url, &o->token_url) || copy_opt(opts->client_id, &o->client_id) ||
        copy_opt(opts->client_secret, &o->client_secret) || copy_opt(stype, &o->subject_token_type) ||
        copy_opt(opts->requested_token_type, &o->requested_token_type) ||
        copy_opt(opts->audience, &o->audience) || copy_opt(opts->scope, &o->scope) ||
        copy_opt(opts->resource, &o->resource) || copy_opt(path, &o->token_path))
        goto fail;
    if (split_path(f) != 0)
        goto fail;
    if (!o->default_expires_in)
        o->default_expires_in = TF_DEFAULT_EXPIRES_IN;
    if (!o->skew_seconds)
        o->skew_seconds = TF_DEFAULT_SKEW;
    if (!o->timeout_ms)
        o->timeout_ms = TF_DEFAULT_TIMEOUT_MS;
    if (!o->failure_backoff_ms)
        o->failure_backoff_ms = TF_DEFAULT_BACKOFF_MS;
    if (!o->max_entries)
        o->max_entries = TF_DEFAULT_MAX_ENTRIES;
    if (!o->max_response_bytes)
        o->max_response_bytes = TF_DEFAULT_MAX_RESPONSE;
    if (!o->max_subject_bytes)
        o->max_subject_bytes = TF_DEFAULT_MAX_SUBJECT;
    f->nbuckets = 16;
    while (f->nbuckets < o->max_entries && f->nbuckets < ((size_t)1 << 24))
        f->nbuckets *= 2;
    f->buckets = calloc(f->nbuckets, sizeof *f->buckets);
    if (!f->buckets)
        goto fail;
    redact_url(o->token_url, f->log_url, sizeof f->log_url);
    if (uv_timer_init(loop, &f->defer) != 0)
        goto fail;
    f->defer.data = f;
    return f;
fail:
    free(f->buckets);
    free(f->path_copy);
    free_opts(o);
    free(f);
    return NULL;
}

static void on_defer_closed(uv_handle_t *h)
{
    struct mb_token_fetcher *f = h->data;
    OPENSSL_cleanse(f->seal_key, sizeof f->seal_key);
    free(f->buckets);
    free(f->path_copy);
    free_opts(&f->opts);
    free(f);
}

static void finish_destroy(struct mb_token_fetcher *f)
{
    static const char msg[] = "the token service is shutting down";
    struct req_list all = {0};
    f->depth++;
    for (struct tf_entry *e = f->lru_head; e; e = e->lnext) {
        if (e->call) {
            mb_upstream_cancel(e->call);
            e->call = NULL;
        }
        if (e->pending) {
            f->shared->forget(f->shared_cache, e);
            pending_free(e->pending);
            e->pending = NULL;
        }
        list_move_all(&e->waiters, &all);
    }
    list_move_all(&f->firing, &all);
    list_move_all(&f->running, &all);
    list_move_all(&f->queued, &all);
    struct mb_token_request *r;
    while ((r = all.head))
        deliver(r, NULL, 0, msg);
    f->depth--;
    while (f->lru_head)
        entry_remove(f, f->lru_head);
    f->closed = true;
    uv_timer_stop(&f->defer);
    uv_close((uv_handle_t *)&f->defer, on_defer_closed);
}

void mb_token_fetcher_destroy(struct mb_token_fetcher *f)
{
    if (!f || f->destroy_requested)
        return;
    f->destroy_requested = true;
    if (f->depth == 0)
        finish_destroy(f);
}

struct mb_token_request *mb_token_fetch_get(struct mb_token_fetcher *f, enum mb_token_kind kind,
                                            const char *subject, size_t subject_len,
                                            mb_token_cb cb, void *data)
{
    return mb_token_fetch_get_with(f, kind, subject, subject_len, NULL, cb, data);
}

struct mb_token_request *mb_token_fetch_get_with(struct mb_token_fetcher *f, enum mb_token_kind kind,
                                                 const char *subject, size_t subject_len,
                                                 const struct mb_token_params *params,
                                                 mb_token_cb cb, void *data)
{
    if (!f || !cb || f->destroy_requested ||
        (kind != MB_TOKEN_EXCHANGE && kind != MB_TOKEN_CLIENT_CREDENTIALS))
        return NULL;
    struct mb_token_request *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->f = f;
    r->cb = cb;
    r->data = data;
    f->stats.requests++;
    const char *audience = params && params->audience ? params->audience : f->opts.audience;
    const char *scope = params && params->scope ? params->scope : f->opts.scope;
    const char *resource = params && params->resource ? params->resource : f->opts.resource;
    char msg[TF_ERR_MAX];
    if (kind == MB_TOKEN_EXCHANGE && (!subject || subject_len == 0)) {
        snprintf(msg, sizeof msg, "%s: no subject token", kind_label(kind));
        queue_error(f, r, msg);
        return r;
    }
    if (kind == MB_TOKEN_EXCHANGE && subject_len > f->opts.max_subject_bytes) {
        snprintf(msg, sizeof msg, "%s: the subject token is too large", kind_label(kind));
        queue_error(f, r, msg);
        return r;
    }
    unsigned char key[32];
    if (make_key(kind, subject, subject_len, audience, scope, resource, key) != 0) {
        free(r);
        return NULL;
    }
    uint64_t now = uv_now(f->loop);
    struct tf_entry *e = entry_find(f, key);
    if (e) {
        lru_unlink(f, e);
        lru_push(f, e);
        if (e->state == E_READY && now < e->until_ms) {
            f->stats.hits++;
            if (queue_token(f, r, e->token, e->token_len) != 0) {
                free(r);
                return NULL;
            }
            return r;
        }
        if (e->state == E_FAILED && now < e->until_ms) {
            f->stats.failure_hits++;
            queue_error(f, r, e->error);
            return r;
        }
        if (e->state == E_FETCHING) {
            f->stats.coalesced++;
            list_append(&e->waiters, r);
            return r;
        }
        entry_clear_token(e);  /* expired token or back-off over: fetch again */
        e->state = E_FETCHING;
    } else {
        e = entry_new(f, key, kind);
        if (!e) {
            free(r);
            return NULL;
        }
        evict(f);
    }
    list_append(&e->waiters, r);
    if (begin_fetch(f, e, kind, subject, subject_len, audience, scope, resource, msg, sizeof msg) != 0) {
        /* Nobody else can be waiting on an entry that was just (re)armed: fail it like an
         * answer, so it is remembered for the back-off. */
        f->stats.failures++;
        e->state = E_FAILED;
        e->until_ms = now + f->opts.failure_backoff_ms;
        snprintf(e->error, sizeof e->error, "%s", msg);
        list_remove(r);
        queue_error(f, r, msg);
    }
    return r;
}

int mb_token_fetcher_set_shared_cache(struct mb_token_fetcher *f, const struct mb_token_shared_cache *ops,
                                      void *cache, const uint8_t key[32])
{
    if (!f || !ops || !ops->get || !ops->forget || !ops->set || !key || f->shared)
        return -EINVAL;
    f->shared = ops;
    f->shared_cache = cache;
    memcpy(f->seal_key, key, sizeof f->seal_key);
    return 0;
}

void mb_token_fetch_cancel(struct mb_token_request *req)
{
    if (!req || req->delivering)
        return;
    list_remove(req);
    request_free(req);
}

void mb_token_fetcher_stats(const struct mb_token_fetcher *f, struct mb_token_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (f)
        *out = f->stats;
}
