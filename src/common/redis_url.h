/* Redis connection URLs (`redis://[[user]:password@]host[:port][/db]`) and the percent-decoding
 * they need (common/percent.h). One parser for every Redis client of mcpbridge (the rate limiter, the shared state,
 * `mcpbridge doctor`), so they agree on what a URL means. */
#ifndef MB_REDIS_URL_H
#define MB_REDIS_URL_H

#include <stdbool.h>
#include <stddef.h>

struct addrinfo;

#define MB_REDIS_URL_HOST_MAX 256
#define MB_REDIS_URL_USER_MAX 256
#define MB_REDIS_URL_PASSWORD_MAX 512

struct mb_redis_url {
    char host[MB_REDIS_URL_HOST_MAX];         /* without brackets for IPv6 */
    char user[MB_REDIS_URL_USER_MAX];         /* "" = none (AUTH with the password alone) */
    char password[MB_REDIS_URL_PASSWORD_MAX]; /* "" = none; a secret: wipe it after use */
    int port;                                 /* 6379 when not given */
    int db;                                   /* 0 when not given */
};

/* Parses url ("redis://" in any case; "redis://secret@host" means a password alone; %XX escapes
 * in user and password; IPv6 hosts in brackets; no query or fragment). Returns 0, or -1 for
 * anything else (other schemes such as rediss://, a bad port, a db over 1000000, an empty host,
 * parts too long); *out is then unspecified (and wiped). */
int mb_redis_url_parse(const char *url, struct mb_redis_url *out);
/* Overwrites the password (and the rest) so it does not linger in memory. */
void mb_redis_url_wipe(struct mb_redis_url *u);

/* True when host is an IPv4 or IPv6 literal (connect without a lookup). */
bool mb_redis_host_is_literal(const char *host);

/* The address to connect to among getaddrinfo results (res may be NULL): the first IPv4 one,
 * else the first IPv6 one (Redis is often bound to 127.0.0.1 or a private IPv4 address while
 * "localhost" resolves to ::1 first), written as text into out (cap bytes, 46 is enough).
 * Returns false when there is none. */
bool mb_redis_pick_address(const struct addrinfo *res, char *out, size_t cap);

#endif
