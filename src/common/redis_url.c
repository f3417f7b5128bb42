/* Redis URL parsing (contract in redis_url.h). */
#include "common/redis_url.h"
#include "common/percent.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <sys/socket.h>
#include <string.h>
#include <strings.h>

void mb_redis_url_wipe(struct mb_redis_url *u)
{
    if (u)
        OPENSSL_cleanse(u, sizeof *u);
}

static int parse(const char *url, struct mb_redis_url *u)
{
    static const char scheme[] = "redis://";
    memset(u, 0, sizeof *u);
    if (!url || strncasecmp(url, scheme, sizeof scheme - 1) != 0)
        return -1;
    const char *p = url + sizeof scheme - 1;
    const char *end = p + strcspn(p, "/?#");
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            if (mb_percent_decode(p, (size_t)(colon - p), u->user, sizeof u->user) != 0 ||
                mb_percent_decode(colon + 1, (size_t)(at - colon - 1), u->password, sizeof u->password) != 0)
                return -1;
        } else if (mb_percent_decode(p, (size_t)(at - p), u->password, sizeof u->password) != 0) {
            return -1; /* "redis://secret@host": the only part is the password */
        }
        p = at + 1;
    }
    const char *host_end, *port_start = NULL;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close)
            return -1;
        p++;
        host_end = close;
        if (close + 1 < end) {
            if (close[1] != ':')
                return -1;
            port_start = close + 2;
        }
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        host_end = colon ? colon : end;
        if (colon)
            port_start = colon + 1;
    }
    size_t hlen = (size_t)(host_end - p);
    if (hlen == 0 || hlen >= sizeof u->host)
        return -1;
    memcpy(u->host, p, hlen);
    u->host[hlen] = '\0';
    u->port = 6379;
    if (port_start) {
        long port = 0;
        if (port_start == end)
            return -1;
        for (const char *q = port_start; q < end; q++) {
            if (*q < '0' || *q > '9')
                return -1;
            port = port * 10 + (*q - '0');
            if (port > 65535)
                return -1;
        }
        if (port == 0)
            return -1;
        u->port = (int)port;
    }
    if (*end == '/') {
        const char *q = end + 1;
        long db = 0;
        for (; *q >= '0' && *q <= '9'; q++) {
            db = db * 10 + (*q - '0');
            if (db > 1000000)
                return -1;
        }
        if (*q != '\0')
            return -1;
        u->db = (int)db;
    } else if (*end != '\0') {
        return -1; /* no query or fragment options are understood */
    }
    return 0;
}

int mb_redis_url_parse(const char *url, struct mb_redis_url *out)
{
    int rc = parse(url, out);
    if (rc != 0)
        mb_redis_url_wipe(out);
    return rc;
}

bool mb_redis_host_is_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

bool mb_redis_pick_address(const struct addrinfo *res, char *out, size_t cap)
{
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
        if (ai->ai_family == AF_INET6 && !pick)
            pick = ai;
    }
    if (cap)
        out[0] = '\0';
    if (!pick)
        return false;
    const void *addr = pick->ai_family == AF_INET ? (const void *)&((const struct sockaddr_in *)pick->ai_addr)->sin_addr
                                                  : (const void *)&((const struct sockaddr_in6 *)pick->ai_addr)->sin6_addr;
    return inet_ntop(pick->ai_family, addr, out, (socklen_t)cap) != NULL;
}
