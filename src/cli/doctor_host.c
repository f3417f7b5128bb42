/* `mcpbridge doctor`: this machine (contract in doctor.h): the open-file limit, the listening
 * ports, and Redis (a PING over a plain socket, so the check needs no Redis library). */
#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/redis_url.h"
#include "cli/doctor.h"
#include "common/buf.h"

#define FD_SLACK          64 /* what the master adds: listening sockets, logs, the shared regions */
#define REDIS_TIMEOUT_MS  3000
#define HEALTH_TIMEOUT_MS 2000L

/* ---- open files */

static long long file_max(void)
{
    FILE *f = fopen("/proc/sys/fs/file-max", "r");
    long long v = -1;
    if (f) {
        if (fscanf(f, "%lld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

static void limit_text(rlim_t v, char *out, size_t cap)
{
    if (v == RLIM_INFINITY)
        snprintf(out, cap, "unlimited");
    else
        snprintf(out, cap, "%llu", (unsigned long long)v);
}

void mb_doctor_check_fd_limit(struct mb_doctor_report *r, const struct mb_config *cfg, int workers)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        mb_doctor_add(r, "fd_limit", MB_DOCTOR_WARNING, "check `ulimit -n` by hand",
                      "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
        return;
    }
    unsigned long long need =
        (unsigned long long)cfg->max_connections_per_worker + cfg->http_max_connections + FD_SLACK;
    char formula[256];
    snprintf(formula, sizeof formula,
             "max_connections_per_worker %u + runtime.http.limits.max_connections %u + %d for "
             "listening sockets, logs "
             "and shared memory",
             cfg->max_connections_per_worker, cfg->http_max_connections, FD_SLACK);
    bool hard_unlimited = rl.rlim_max == RLIM_INFINITY;
    char soft[32], hard[32];
    limit_text(rl.rlim_cur, soft, sizeof soft);
    limit_text(rl.rlim_max, hard, sizeof hard);
    if (!hard_unlimited && rl.rlim_max < need) {
        char fix[512];
        snprintf(fix, sizeof fix,
                 "raise the limit to at least %llu (ulimit -n %llu in the shell that starts it, "
                 "LimitNOFILE=%llu in "
                 "its systemd unit, --ulimit nofile=%llu for docker), or lower "
                 "runtime.server.max_connections_per_worker",
                 need, need, need, need);
        mb_doctor_add(r, "fd_limit", MB_DOCTOR_ERROR, fix,
                      "open-file limit %s (hard) is below the %llu each worker needs (%s): "
                      "accept() would fail with "
                      "EMFILE before the connection cap answers 503",
                      hard, need, formula);
    } else if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        mb_doctor_add(r, "fd_limit", MB_DOCTOR_OK, NULL,
                      "soft limit %s is below the %llu each worker needs (%s), but `mcpbridge "
                      "serve` raises it to the "
                      "hard limit %s at start",
                      soft, need, formula, hard);
    } else {
        mb_doctor_add(r, "fd_limit", MB_DOCTOR_OK, NULL,
                      "open-file limit %s covers the %llu each worker needs (%s)", soft, need,
                      formula);
    }
    long long system_max = file_max();
    unsigned long long total = need * (unsigned long long)(workers > 0 ? workers : 1);
    if (system_max > 0 && (unsigned long long)system_max < total)
        mb_doctor_add(
            r, "fd_limit.system", MB_DOCTOR_WARNING,
            "raise fs.file-max (sysctl -w fs.file-max=N) or lower max_connections_per_worker or "
            "the worker "
            "count",
            "fs.file-max %lld is below the %llu open files %d worker%s could hold together",
            system_max, total, workers, workers == 1 ? "" : "s");
}

/* ---- ports */

static size_t discard(char *data, size_t size, size_t n, void *userdata)
{
    (void)data;
    (void)userdata;
    return size * n;
}

/* True when something that answers GET /healthz with 200 (as mcpbridge does) listens at
 * host:port. */
static bool is_mcpbridge(const char *host, int port, bool tls)
{
    char url[512];
    bool v6 = strchr(host, ':') != NULL;
    snprintf(url, sizeof url, "%s://%s%s%s:%d/healthz", tls ? "https" : "http", v6 ? "[" : "", host,
             v6 ? "]" : "", port);
    CURL *curl = curl_easy_init();
    if (!curl)
        return false;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, HEALTH_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    /* Only identifies the program on our own port; nothing is sent but the GET. */
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    long status = 0;
    bool found = false;
    if (curl_easy_perform(curl) == CURLE_OK &&
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK)
        found = status == 200;
    curl_easy_cleanup(curl);
    return found;
}

/* Tries to bind host:port. Returns 0 when free, else the errno of bind (or of the lookup as
 * -EAI code in *gai). */
static int try_bind(const char *host, int port, int *gai)
{
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    *gai = getaddrinfo(host, service, &hints, &ai);
    if (*gai != 0)
        return EADDRNOTAVAIL;
    int err = EADDRNOTAVAIL;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        err = bind(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
        close(fd);
        if (err == 0 || err == EADDRINUSE || err == EACCES)
            break;
    }
    freeaddrinfo(ai);
    return err;
}

static void check_port(struct mb_doctor_report *r, const char *check, const char *what,
                       const char *host_in, int port, bool tls, const char *config_key)
{
    const char *host = host_in && *host_in ? host_in : "127.0.0.1";
    char plain[256];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
        snprintf(plain, sizeof plain, "%.*s", (int)(n - 2), host + 1);
    else
        snprintf(plain, sizeof plain, "%s", host);
    if (port == 0) {
        mb_doctor_add(r, check, MB_DOCTOR_OK, NULL,
                      "%s %s:0: the system picks a free port at start", what, plain);
        return;
    }
    int gai = 0;
    int err = try_bind(plain, port, &gai);
    char fix[512];
    if (err == 0) {
        mb_doctor_add(r, check, MB_DOCTOR_OK, NULL, "%s %s:%d is free", what, plain, port);
    } else if (err == EADDRINUSE) {
        if (is_mcpbridge(plain, port, tls)) {
            snprintf(
                fix, sizeof fix,
                "stop the running server before `mcpbridge serve` starts another, or reload it "
                "(kill -HUP) to apply a changed configuration");
            mb_doctor_add(r, check, MB_DOCTOR_WARNING, fix,
                          "%s %s:%d is in use by a running server that answers "
                          "/healthz (mcpbridge?)",
                          what, plain, port);
        } else {
            snprintf(fix, sizeof fix,
                     "stop the program that holds it (`ss -ltnp 'sport = :%d'` names it) or choose "
                     "another %s",
                     port, config_key);
            mb_doctor_add(r, check, MB_DOCTOR_ERROR, fix, "%s %s:%d is in use by another program",
                          what, plain, port);
        }
    } else if (err == EACCES) {
        snprintf(fix, sizeof fix,
                 "use a port above 1023 in %s, or let mcpbridge bind low ports "
                 "(setcap cap_net_bind_service=+ep, AmbientCapabilities= in systemd)",
                 config_key);
        mb_doctor_add(r, check, MB_DOCTOR_ERROR, fix, "%s %s:%d cannot be bound: permission denied",
                      what, plain, port);
    } else {
        snprintf(
            fix, sizeof fix,
            "set %s to an address of this machine (127.0.0.1, 0.0.0.0, or an interface's address)",
            strcmp(check, "listen_port") == 0 ? "runtime.server.transport.host"
                                              : "observability.metrics.host");
        mb_doctor_add(r, check, MB_DOCTOR_ERROR, fix, "%s %s:%d cannot be bound: %s", what, plain,
                      port, gai ? gai_strerror(gai) : strerror(err));
    }
}

void mb_doctor_check_ports(struct mb_doctor_report *r, const struct mb_config *cfg)
{
    bool tls = cfg->tls_certfile != NULL;
    check_port(r, "listen_port", "MCP listener", cfg->host, cfg->port, tls,
               "runtime.server.transport.port");
    if (cfg->observability.admin_port > 0)
        check_port(r, "admin_port", "admin listener", cfg->observability.admin_host,
                   cfg->observability.admin_port, tls, "observability.metrics.port");
}

/* ---- Redis */

/* Connects with a timeout. Returns the socket or -1 with errno set. */
static int connect_with_timeout(const char *host, int port, int timeout_ms, int *gai)
{
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    *gai = getaddrinfo(host, service, &hints, &ai);
    if (*gai != 0) {
        errno = EHOSTUNREACH;
        return -1;
    }
    int fd = -1, err = ECONNREFUSED;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            err = errno;
            close(fd);
            fd = -1;
            continue;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int so_error = 0;
        socklen_t len = sizeof so_error;
        if (poll(&pfd, 1, timeout_ms) != 1) {
            err = ETIMEDOUT;
        } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
            err = so_error ? so_error : errno;
        } else {
            break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0)
        errno = err;
    return fd;
}

/* Sends a command and reads one reply line into out. Returns 0 or -1 (errno set). */
static int redis_command(int fd, const char *cmd, size_t len, char *out, size_t cap)
{
    size_t sent = 0;
    while (sent < len) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        if (poll(&pfd, 1, REDIS_TIMEOUT_MS) != 1) {
            errno = ETIMEDOUT;
            return -1;
        }
        ssize_t n = send(fd, cmd + sent, len - sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (n > 0)
            sent += (size_t)n;
    }
    size_t got = 0;
    while (got + 1 < cap) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, REDIS_TIMEOUT_MS) != 1) {
            errno = ETIMEDOUT;
            return -1;
        }
        ssize_t n = recv(fd, out + got, cap - 1 - got, 0);
        if (n == 0) {
            errno = ECONNRESET;
            return -1;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
        out[got] = '\0';
        if (strstr(out, "\r\n"))
            break;
    }
    out[got] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

/* The RESP encoding of a command of 2 or 3 words. */
static int resp(struct mb_buf *b, const char *a, const char *c, const char *d)
{
    const char *words[3] = {a, c, d};
    int n = d ? 3 : c ? 2 : 1;
    if (mb_buf_printf(b, "*%d\r\n", n) != 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (mb_buf_printf(b, "$%zu\r\n", strlen(words[i])) != 0 ||
            mb_buf_append_str(b, words[i]) != 0 || mb_buf_append_str(b, "\r\n") != 0)
            return -1;
    return 0;
}

void mb_doctor_check_redis(struct mb_doctor_report *r, const struct mb_config *cfg)
{
    const char *url = cfg->security.redis.url;
    if (!url)
        return;
    struct mb_redis_url u;
    if (mb_redis_url_parse(url, &u) != 0) {
        mb_doctor_add(r, "redis", MB_DOCTOR_ERROR,
                      "write runtime.redis.url as redis://[[user]:password@]host[:port][/db]",
                      "runtime.redis.url cannot be read");
        return;
    }
    char where[300];
    snprintf(where, sizeof where, "%s%s:%d", u.password[0] ? "(password set) " : "", u.host,
             u.port);
    int gai = 0;
    int fd = connect_with_timeout(u.host, u.port, REDIS_TIMEOUT_MS, &gai);
    char fix[512];
    if (fd < 0) {
        snprintf(
            fix, sizeof fix,
            "start Redis at %s:%d or correct runtime.redis.url; until it answers, each instance "
            "limits rates on its own",
            u.host, u.port);
        mb_doctor_add(r, "redis", MB_DOCTOR_ERROR, fix, "cannot connect to Redis at %s: %s", where,
                      gai ? gai_strerror(gai) : strerror(errno));
        mb_redis_url_wipe(&u);
        return;
    }
    char reply[512] = "";
    struct mb_buf cmd;
    mb_buf_init(&cmd, 4096);
    int rc = 0;
    if (u.password[0]) {
        rc = resp(&cmd, "AUTH", u.user[0] ? u.user : u.password, u.user[0] ? u.password : NULL);
        if (rc == 0)
            rc = redis_command(fd, cmd.data, cmd.len, reply, sizeof reply);
        if (cmd.data)
            memset(cmd.data, 0, cmd.len); /* it held the password */
        mb_buf_reset(&cmd);
        if (rc == 0 && reply[0] == '-') {
            mb_doctor_add(
                r, "redis", MB_DOCTOR_ERROR,
                "correct the user and password in runtime.redis.url (use ${ENV} for the password)",
                "Redis at %s refused the credentials: %s", where, reply + 1);
            goto done;
        }
    }
    if (rc == 0 && resp(&cmd, "PING", NULL, NULL) == 0)
        rc = redis_command(fd, cmd.data, cmd.len, reply, sizeof reply);
    if (rc != 0) {
        mb_doctor_add(r, "redis", MB_DOCTOR_ERROR,
                      "check that runtime.redis.url points at a Redis server",
                      "Redis at %s did not answer PING: %s", where, strerror(errno));
    } else if (strcmp(reply, "+PONG") == 0) {
        mb_doctor_add(r, "redis", MB_DOCTOR_OK, NULL, "Redis at %s answered PING", where);
    } else if (strncmp(reply, "-NOAUTH", 7) == 0) {
        mb_doctor_add(r, "redis", MB_DOCTOR_ERROR,
                      "add the password to runtime.redis.url: redis://:PASSWORD@host:port (use "
                      "${ENV} for it)",
                      "Redis at %s requires a password", where);
    } else {
        mb_doctor_add(r, "redis", MB_DOCTOR_ERROR,
                      "check that runtime.redis.url points at a Redis server",
                      "Redis at %s answered PING with '%.80s'", where, reply);
    }
done:
    mb_buf_dispose(&cmd);
    close(fd);
    mb_redis_url_wipe(&u);
}
