/* Implementation of session.h.
 * Id layout before base64url (40 bytes): version(1) | protocol index(1) | issued(8, big
 * endian) | random(14) | HMAC-SHA256 of the first 24 bytes, truncated to 16. */
#include "mcp/session.h"

#include "common/hmac.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define ID_VERSION 1
#define ID_RAW_LEN 40
#define ID_SIGNED_LEN 24
#define ID_MAC_LEN 16
#define PROBE_WINDOW 16

/* One shared slot: key 0 = empty. state: bit 0 = ended; bits 8..15 = log level + 1. */
struct shared_slot {
    _Atomic uint64_t key;
    _Atomic uint64_t expires;
    _Atomic uint32_t state;
    uint32_t pad;
};

struct cancel_entry {
    _Atomic uint64_t seq;       /* 0 = never written; else the sequence number it holds */
    _Atomic uint64_t session_key;
    _Atomic uint64_t id_hash;
};

struct mb_shared {
    size_t mapped_bytes;
    size_t mask;
    _Atomic uint64_t cancel_seq;                  /* newest posted sequence number */
    struct cancel_entry cancels[MB_CANCEL_RING];
    struct shared_slot slots[];
};

struct mb_shared *mb_shared_create(size_t slot_count)
{
    size_t n = 1024;
    while (n < slot_count && n < ((size_t)1 << 24))
        n <<= 1;
    size_t bytes = sizeof(struct mb_shared) + n * sizeof(struct shared_slot);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    struct mb_shared *shared = p; /* anonymous mappings are zero-filled: every slot empty */
    shared->mapped_bytes = bytes;
    shared->mask = n - 1;
    return shared;
}

void mb_shared_destroy(struct mb_shared *shared)
{
    if (shared)
        munmap(shared, shared->mapped_bytes);
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64url_encode(const uint8_t *in, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (i + 1 < len)
            out[o++] = b64url[(v >> 6) & 63];
        if (i + 2 < len)
            out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
    return o;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Decodes exactly out_len bytes from a length that must match; returns 0 or -1. */
static int b64url_decode_exact(const char *in, size_t len, uint8_t *out, size_t out_len)
{
    if (len != (out_len * 4 + 2) / 3)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o < out_len)
                out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* Canonical form only: the unused low bits of the last character must be zero, so one
     * id has exactly one spelling. */
    if (bits && (acc & ((1u << bits) - 1)) != 0)
        return -1;
    return o == out_len ? 0 : -1;
}

static void compute_mac(const uint8_t key[32], const uint8_t *data, uint8_t mac[ID_MAC_LEN])
{
    uint8_t full[MB_HMAC_SHA256_LEN];
    mb_hmac_sha256(key, 32, data, ID_SIGNED_LEN, full);  /* on failure all zero: no id verifies */
    memcpy(mac, full, ID_MAC_LEN);
}

static uint64_t key_of(const uint8_t raw[ID_RAW_LEN])
{
    /* The MAC is uniformly distributed: its first 8 bytes make a good table key. */
    uint64_t k;
    memcpy(&k, raw + ID_SIGNED_LEN, sizeof k);
    return k ? k : 1;
}

int mb_session_issue(const uint8_t key[32], int protocol_index, char out[MB_SESSION_ID_MAX],
                     struct mb_session_info *info)
{
    uint8_t raw[ID_RAW_LEN];
    uint64_t now = (uint64_t)time(NULL);
    raw[0] = ID_VERSION;
    raw[1] = (uint8_t)protocol_index;
    for (int i = 0; i < 8; i++)
        raw[2 + i] = (uint8_t)(now >> (56 - 8 * i));
    if (RAND_bytes(raw + 10, 14) != 1)
        return -EIO;
    compute_mac(key, raw, raw + ID_SIGNED_LEN);
    b64url_encode(raw, sizeof raw, out);
    if (info) {
        info->key = key_of(raw);
        info->issued = now;
        info->protocol_index = protocol_index;
    }
    return 0;
}

static const struct shared_slot *find_slot(const struct mb_shared *shared, uint64_t key)
{
    for (size_t i = 0; i < PROBE_WINDOW; i++) {
        const struct shared_slot *s = &shared->slots[(key + i) & shared->mask];
        if (atomic_load(&s->key) == key)
            return s;
    }
    return NULL;
}

enum mb_session_status mb_session_check(const uint8_t key[32], const struct mb_shared *shared,
                                        const char *id, size_t len, unsigned ttl,
                                        struct mb_session_info *info)
{
    uint8_t raw[ID_RAW_LEN];
    if (!id || b64url_decode_exact(id, len, raw, sizeof raw) || raw[0] != ID_VERSION)
        return MB_SESSION_MALFORMED;
    uint8_t mac[ID_MAC_LEN];
    compute_mac(key, raw, mac);
    if (CRYPTO_memcmp(mac, raw + ID_SIGNED_LEN, ID_MAC_LEN) != 0)
        return MB_SESSION_FORGED;
    uint64_t issued = 0;
    for (int i = 0; i < 8; i++)
        issued = (issued << 8) | raw[2 + i];
    if (info) {
        info->key = key_of(raw);
        info->issued = issued;
        info->protocol_index = raw[1];
    }
    uint64_t now = (uint64_t)time(NULL);
    if (ttl && now > issued + ttl)
        return MB_SESSION_EXPIRED;
    if (shared) {
        const struct shared_slot *s = find_slot(shared, key_of(raw));
        if (s && (atomic_load(&s->state) & 1u))
            return MB_SESSION_ENDED;
    }
    return MB_SESSION_VALID;
}

/* Finds or claims the slot for key and applies (state & ~clear) | set. */
static void update_slot(struct mb_shared *shared, uint64_t key, uint64_t expires, uint32_t clear,
                        uint32_t set)
{
    if (!shared)
        return;
    uint64_t now = (uint64_t)time(NULL);
    struct shared_slot *victim = NULL;
    for (size_t i = 0; i < PROBE_WINDOW; i++) {
        struct shared_slot *s = &shared->slots[(key + i) & shared->mask];
        uint64_t k = atomic_load(&s->key);
        if (k == key) {
            victim = s;
            goto apply;
        }
        if (k == 0 || atomic_load(&s->expires) < now) {
            if (atomic_compare_exchange_strong(&s->key, &k, key)) {
                atomic_store(&s->state, 0);
                victim = s;
                goto apply;
            }
        }
        if (!victim || atomic_load(&s->expires) < atomic_load(&victim->expires))
            victim = s;
    }
    /* Window full of live entries: replace the one closest to expiry. */
    atomic_store(&victim->key, key);
    atomic_store(&victim->state, 0);
apply:
    atomic_store(&victim->expires, expires);
    uint32_t old = atomic_load(&victim->state);
    while (!atomic_compare_exchange_weak(&victim->state, &old, (old & ~clear) | set))
        ;
}

uint64_t mb_session_expires(const struct mb_session_info *info, unsigned ttl)
{
    return info->issued + (ttl ? ttl : 86400u);
}

void mb_session_end(struct mb_shared *shared, const struct mb_session_info *info, unsigned ttl)
{
    mb_session_end_key(shared, info->key, mb_session_expires(info, ttl));
}

void mb_session_end_key(struct mb_shared *shared, uint64_t key, uint64_t expires)
{
    if (key)
        update_slot(shared, key, expires, 0, 1u);
}

void mb_session_set_log_level(struct mb_shared *shared, const struct mb_session_info *info,
                              unsigned ttl, int level)
{
    mb_session_set_log_level_key(shared, info->key, mb_session_expires(info, ttl), level);
}

void mb_session_set_log_level_key(struct mb_shared *shared, uint64_t key, uint64_t expires, int level)
{
    if (level < 0 || level > 7 || !key)
        return;
    update_slot(shared, key, expires, 0xff00u, (uint32_t)(level + 1) << 8);
}

int mb_session_log_level(const struct mb_shared *shared, const struct mb_session_info *info)
{
    if (!shared)
        return -1;
    const struct shared_slot *s = find_slot(shared, info->key);
    if (!s)
        return -1;
    uint32_t v = (atomic_load(&s->state) >> 8) & 0xffu;
    return v ? (int)v - 1 : -1;
}

uint64_t mb_hash64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

void mb_shared_cancel_post(struct mb_shared *shared, uint64_t session_key, uint64_t id_hash)
{
    if (!shared)
        return;
    uint64_t seq = atomic_fetch_add(&shared->cancel_seq, 1) + 1;
    struct cancel_entry *e = &shared->cancels[seq % MB_CANCEL_RING];
    atomic_store(&e->seq, 0); /* readers skip the entry while it is being written */
    atomic_store(&e->session_key, session_key);
    atomic_store(&e->id_hash, id_hash);
    atomic_store(&e->seq, seq);
}

uint64_t mb_shared_cancel_head(const struct mb_shared *shared)
{
    return shared ? atomic_load(&shared->cancel_seq) : 0;
}

void mb_shared_cancel_poll(const struct mb_shared *shared, uint64_t *cursor,
                           void (*cb)(void *data, uint64_t session_key, uint64_t id_hash), void *data)
{
    if (!shared)
        return;
    uint64_t head = atomic_load(&shared->cancel_seq);
    uint64_t from = *cursor + 1;
    if (head >= MB_CANCEL_RING && from < head - MB_CANCEL_RING + 1)
        from = head - MB_CANCEL_RING + 1; /* fell behind: the oldest are gone */
    for (uint64_t seq = from; seq <= head; seq++) {
        const struct cancel_entry *e = &shared->cancels[seq % MB_CANCEL_RING];
        if (atomic_load(&e->seq) != seq)
            continue; /* overwritten or still being written */
        uint64_t key = atomic_load(&e->session_key);
        uint64_t hash = atomic_load(&e->id_hash);
        if (atomic_load(&e->seq) == seq)
            cb(data, key, hash);
    }
    *cursor = head;
}
