/* Implementation of token_cache.h. Slots live in one array; a power-of-two bucket array holds
 * the head of each hash chain (slot indices, NIL-terminated), indexed by the first bytes of the
 * SHA-256 key; a doubly linked LRU list threads the used slots, unused ones sit on a free list.
 * Each entry's strings (subject, client id, scopes and their pointer array) are one heap block. */
#include "auth/token_cache.h"

#include "common/hmac.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

struct slot {
    uint8_t key[SHA256_DIGEST_LENGTH];
    int64_t expires_at;
    char *blob;            /* scope pointer array, then the strings */
    const char *subject;   /* into blob, or NULL */
    const char *client_id; /* into blob, or NULL */
    size_t scope_count;
    uint32_t next_hash; /* chain, or free list when unused */
    uint32_t prev_lru, next_lru;
};

struct mb_token_cache {
    size_t capacity;
    size_t count;
    int64_t max_ttl;
    size_t mask; /* buckets - 1 */
    uint32_t *buckets;
    struct slot *slots;
    uint32_t lru_head, lru_tail; /* head: most recently used */
    uint32_t free_head;
};

struct mb_token_cache *mb_token_cache_create(size_t capacity, unsigned max_ttl)
{
    if (capacity == 0)
        capacity = MB_TOKEN_CACHE_DEFAULT_CAPACITY;
    if (capacity > MB_TOKEN_CACHE_MAX_CAPACITY)
        return NULL;
    struct mb_token_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    size_t nb = 16;
    while (nb < capacity)
        nb <<= 1;
    c->capacity = capacity;
    c->max_ttl = max_ttl ? max_ttl : MB_TOKEN_CACHE_DEFAULT_TTL;
    c->mask = nb - 1;
    c->buckets = malloc(nb * sizeof *c->buckets);
    c->slots = calloc(capacity, sizeof *c->slots);
    if (!c->buckets || !c->slots) {
        mb_token_cache_destroy(c);
        return NULL;
    }
    mb_token_cache_clear(c);
    return c;
}

void mb_token_cache_clear(struct mb_token_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i <= c->mask; i++)
        c->buckets[i] = NIL;
    for (size_t i = 0; i < c->capacity; i++) {
        free(c->slots[i].blob);
        memset(&c->slots[i], 0, sizeof c->slots[i]);
        c->slots[i].next_hash = i + 1 < c->capacity ? (uint32_t)(i + 1) : NIL;
        c->slots[i].prev_lru = c->slots[i].next_lru = NIL;
    }
    c->free_head = 0;
    c->lru_head = c->lru_tail = NIL;
    c->count = 0;
}

void mb_token_cache_destroy(struct mb_token_cache *c)
{
    if (!c)
        return;
    if (c->slots)
        for (size_t i = 0; i < c->capacity; i++)
            free(c->slots[i].blob);
    free(c->slots);
    free(c->buckets);
    free(c);
}

size_t mb_token_cache_count(const struct mb_token_cache *c)
{
    return c ? c->count : 0;
}

size_t mb_token_cache_capacity(const struct mb_token_cache *c)
{
    return c ? c->capacity : 0;
}

static size_t bucket_of(const struct mb_token_cache *c, const uint8_t key[32])
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return (size_t)h & c->mask;
}

static void lru_unlink(struct mb_token_cache *c, uint32_t i)
{
    struct slot *s = &c->slots[i];
    if (s->prev_lru != NIL)
        c->slots[s->prev_lru].next_lru = s->next_lru;
    else
        c->lru_head = s->next_lru;
    if (s->next_lru != NIL)
        c->slots[s->next_lru].prev_lru = s->prev_lru;
    else
        c->lru_tail = s->prev_lru;
    s->prev_lru = s->next_lru = NIL;
}

static void lru_push_head(struct mb_token_cache *c, uint32_t i)
{
    struct slot *s = &c->slots[i];
    s->prev_lru = NIL;
    s->next_lru = c->lru_head;
    if (c->lru_head != NIL)
        c->slots[c->lru_head].prev_lru = i;
    c->lru_head = i;
    if (c->lru_tail == NIL)
        c->lru_tail = i;
}

/* Finds the slot of key; *prev receives its predecessor in the chain (NIL when first). */
static uint32_t find(const struct mb_token_cache *c, const uint8_t key[32], uint32_t *prev)
{
    uint32_t p = NIL;
    for (uint32_t i = c->buckets[bucket_of(c, key)]; i != NIL; p = i, i = c->slots[i].next_hash)
        if (CRYPTO_memcmp(c->slots[i].key, key, SHA256_DIGEST_LENGTH) == 0) {
            *prev = p;
            return i;
        }
    return NIL;
}

/* Unlinks slot i (predecessor prev in its chain) from chain and LRU and frees its strings. */
static void remove_slot(struct mb_token_cache *c, uint32_t i, uint32_t prev)
{
    struct slot *s = &c->slots[i];
    if (prev == NIL)
        c->buckets[bucket_of(c, s->key)] = s->next_hash;
    else
        c->slots[prev].next_hash = s->next_hash;
    lru_unlink(c, i);
    free(s->blob);
    memset(s, 0, sizeof *s);
    s->prev_lru = s->next_lru = NIL;
    s->next_hash = c->free_head;
    c->free_head = i;
    c->count--;
}

static void token_key(const char *token, size_t len, uint8_t key[32])
{
    mb_sha256(token, len, key);  /* no allocation per call (common/hmac.h) */
}

bool mb_token_cache_get(struct mb_token_cache *c, const char *token, size_t len, int64_t now,
                        struct mb_token_cache_entry *out)
{
    if (!c || !token)
        return false;
    uint8_t key[SHA256_DIGEST_LENGTH];
    token_key(token, len, key);
    uint32_t prev = NIL;
    uint32_t i = find(c, key, &prev);
    if (i == NIL)
        return false;
    struct slot *s = &c->slots[i];
    if (now >= s->expires_at) {
        remove_slot(c, i, prev);
        return false;
    }
    lru_unlink(c, i);
    lru_push_head(c, i);
    if (out) {
        out->subject = s->subject;
        out->client_id = s->client_id;
        out->scopes = (const char *const *)(void *)s->blob;
        out->scope_count = s->scope_count;
        out->expires_at = s->expires_at;
    }
    return true;
}

/* Builds the string block of an entry. Returns it (caller frees) or NULL with *rc set. */
static char *make_blob(const struct mb_token_cache_entry *v, const char **subject,
                       const char **client_id, int *rc)
{
    size_t n = v->scope_count * sizeof(char *);
    size_t strings = 0;
    if (v->scope_count > MB_JWT_MAX_SCOPES || (v->scope_count && !v->scopes)) {
        *rc = -EINVAL;
        return NULL;
    }
    if (v->subject)
        strings += strlen(v->subject) + 1;
    if (v->client_id)
        strings += strlen(v->client_id) + 1;
    for (size_t i = 0; i < v->scope_count; i++) {
        if (!v->scopes[i]) {
            *rc = -EINVAL;
            return NULL;
        }
        strings += strlen(v->scopes[i]) + 1;
        if (strings > MB_TOKEN_CACHE_MAX_VALUE_BYTES)
            break;
    }
    if (strings > MB_TOKEN_CACHE_MAX_VALUE_BYTES) {
        *rc = -E2BIG;
        return NULL;
    }
    char *blob = malloc(n + strings + 1);
    if (!blob) {
        *rc = -ENOMEM;
        return NULL;
    }
    const char **ptrs = (const char **)(void *)blob;
    char *p = blob + n;
    *subject = *client_id = NULL;
    if (v->subject) {
        size_t l = strlen(v->subject) + 1;
        *subject = memcpy(p, v->subject, l);
        p += l;
    }
    if (v->client_id) {
        size_t l = strlen(v->client_id) + 1;
        *client_id = memcpy(p, v->client_id, l);
        p += l;
    }
    for (size_t i = 0; i < v->scope_count; i++) {
        size_t l = strlen(v->scopes[i]) + 1;
        ptrs[i] = memcpy(p, v->scopes[i], l);
        p += l;
    }
    *rc = 0;
    return blob;
}

int mb_token_cache_put(struct mb_token_cache *c, const char *token, size_t len, int64_t now,
                       const struct mb_token_cache_entry *value)
{
    if (!c || !token || !value)
        return -EINVAL;
    int64_t expires = now > INT64_MAX - c->max_ttl ? INT64_MAX : now + c->max_ttl;
    if (value->expires_at > 0 && value->expires_at < expires)
        expires = value->expires_at;
    if (expires <= now)
        return -EINVAL;
    const char *subject, *client_id;
    int rc;
    char *blob = make_blob(value, &subject, &client_id, &rc);
    if (!blob)
        return rc;
    uint8_t key[SHA256_DIGEST_LENGTH];
    token_key(token, len, key);
    uint32_t prev = NIL;
    uint32_t i = find(c, key, &prev);
    if (i != NIL) {
        free(c->slots[i].blob);
        lru_unlink(c, i);
    } else {
        if (c->free_head == NIL) { /* full: evict the least recently used entry */
            uint32_t victim = c->lru_tail;
            uint32_t vprev = NIL;
            find(c, c->slots[victim].key, &vprev);
            remove_slot(c, victim, vprev);
        }
        i = c->free_head;
        struct slot *s = &c->slots[i];
        c->free_head = s->next_hash;
        memcpy(s->key, key, sizeof key);
        size_t b = bucket_of(c, key);
        s->next_hash = c->buckets[b];
        c->buckets[b] = i;
        c->count++;
    }
    struct slot *s = &c->slots[i];
    s->blob = blob;
    s->subject = subject;
    s->client_id = client_id;
    s->scope_count = value->scope_count;
    s->expires_at = expires;
    lru_push_head(c, i);
    return 0;
}

int mb_token_cache_put_claims(struct mb_token_cache *c, const char *token, size_t len, int64_t now,
                              const struct mb_jwt_claims *claims)
{
    if (!claims)
        return -EINVAL;
    struct mb_token_cache_entry v = {
        .subject = claims->subject,
        .client_id = claims->client_id,
        .scopes = claims->scopes,
        .scope_count = claims->scope_count,
        .expires_at = claims->expiry,
    };
    return mb_token_cache_put(c, token, len, now, &v);
}
