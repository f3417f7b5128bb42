/* The master process: a thin supervisor in the nginx mould. It builds the runtime (config,
 * catalog, shared memory) before forking so workers start at once and share those pages
 * copy-on-write, binds the listening socket(s) and keeps them open for its whole life, forks
 * one worker per slot and then only supervises. Its loop is poll(2) on a signalfd (all the
 * signals it handles are blocked, so there are no handlers at all) plus the workers' "ready"
 * pipes, with deadlines for restarts, reloads, shutdown and the capacity samples (a few small
 * /proc reads every observability.capacity.sample_interval_ms). A worker is identified by its
 * slot (0..N-1, its log tag and worker_id) and the generation of the runtime it was forked
 * with. The separate admin listener (observability.metrics.port), when configured, is one
 * plain socket every worker accepts on. */
#include "process/master.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "observability/call_stats.h"
#include "observability/capacity.h"
#include "observability/worker_stats.h"
#include "process/runtime.h"

#define LOGGER "process"
#define MB_READY_TIMEOUT_MS 10000u    /* a new generation must be ready within this */
#define MB_KILL_MARGIN_MS 2000u       /* added to shutdown_grace_ms before SIGKILL */
#define MB_CRASH_WINDOW_MS 10000u     /* more than MB_CRASH_LIMIT exits in this window ... */
#define MB_CRASH_LIMIT 5              /* ... starts the back-off */
#define MB_BACKOFF_FIRST_MS 1000u
#define MB_BACKOFF_MAX_MS 30000u
#define MB_STABLE_MS 60000u           /* a worker up this long clears its slot's history */
#define MB_LISTEN_BACKLOG 4096
#define MB_MAX_RETIRED 8

enum worker_state {
    W_STARTING, /* forked, ready byte not yet read */
    W_RUNNING,  /* ready, serving */
    W_DRAINING, /* sent SIGTERM (old generation or shutdown) */
    W_ABORTED,  /* a failed reload's worker, sent SIGKILL */
};

struct worker {
    pid_t pid;
    int slot;
    unsigned gen;
    int ready_fd; /* read end of its ready pipe while W_STARTING, else -1 */
    enum worker_state state;
    uint64_t started_ms;
    uint64_t term_ms; /* when it was sent SIGTERM, 0 if not */
};

struct slot {
    int fd;                            /* this slot's SO_REUSEPORT socket, or -1 (shared mode) */
    uint64_t deaths[MB_CRASH_LIMIT + 1]; /* ring of the last exit times */
    unsigned ndeaths;                  /* exits recorded since the last reset */
    unsigned backoff_ms;               /* 0 = not in a crash loop */
    uint64_t restart_at;               /* 0 = no restart pending */
};

struct master {
    const struct mb_serve_options *opts;
    pid_t pid;
    int sigfd;
    struct mb_runtime *rt;   /* the serving generation */
    struct mb_runtime *next; /* a reload waiting for its workers, or NULL */
    struct mb_runtime *retired[MB_MAX_RETIRED]; /* old generations still draining */
    unsigned nworkers;       /* the serving generation's worker count */
    unsigned next_nworkers;
    bool reuseport;
    int shared_fd;           /* shared mode: the one listening socket */
    char bound_host[256];    /* the address the sockets are bound to, as configured */
    int bound_port;          /* the actual port (after an ephemeral bind) */
    int admin_fd;            /* the separate admin listener (observability.metrics.port), or -1 */
    char admin_host[256];    /* its address and port, as first configured (a reload keeps them) */
    int admin_port;
    struct slot *slots;
    unsigned nslots;         /* allocated slots; reuseport: sockets open */
    struct worker *w;
    size_t nw, capw;
    bool announced;
    uint64_t announce_deadline;
    uint64_t next_sample_ms; /* the next capacity sample (0 = at once) */
    uint64_t reload_deadline;
    bool shutting_down;
    uint64_t shutdown_deadline;
    bool killed_all;
    int exit_code;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *sig_name(int sig)
{
    const char *n = sigabbrev_np(sig);
    return n ? n : "?";
}

/* Raises the open-file limit to its hard maximum: each worker needs one descriptor per client
 * connection (up to max_connections_per_worker), one per downstream connection and a few more.
 * Warns when even the hard limit is below that, since accept() would then fail with EMFILE
 * before the configured cap answers 503. */
static void raise_fd_limit(const struct mb_config *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t need = (rlim_t)cfg->max_connections_per_worker + cfg->http_max_connections + 64;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        mb_warn(LOGGER, "open-file limit %llu is below the %llu a worker needs for "
                "max_connections_per_worker=%u; raise it (ulimit -n, LimitNOFILE=) or lower the cap",
                (unsigned long long)rl.rlim_cur, (unsigned long long)need, cfg->max_connections_per_worker);
}

/* Names where the worker count came from, following mb_config_resolve_workers' precedence. */
static const char *workers_source(const struct mb_config *cfg, const char *cli)
{
    if (cli)
        return "--workers";
    const char *e = getenv("MCPBRIDGE_WORKERS");
    if (e && *e)
        return "MCPBRIDGE_WORKERS";
    e = getenv("UVICORN_WORKERS");
    if (e && *e)
        return "UVICORN_WORKERS";
    if (cfg->workers > 0)
        return "runtime.server.workers";
    return "default";
}

/* The configured host without IPv6 brackets, into out. */
static void plain_host(const char *host, char *out, size_t cap)
{
    if (!host || !*host)
        host = "127.0.0.1";
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
        snprintf(out, cap, "%.*s", (int)(n - 2), host + 1);
    else
        snprintf(out, cap, "%s", host);
}

/* Creates one non-blocking listening socket on host:port. Returns the fd, or -errno. */
static int open_listener(const char *host, int port, bool reuseport)
{
    char h[256], p[16];
    plain_host(host, h, sizeof h);
    snprintf(p, sizeof p, "%d", port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(h, p, &hints, &res);
    if (gai != 0) {
        mb_error(LOGGER, "cannot resolve listen host '%s': %s", h, gai_strerror(gai));
        return -EADDRNOTAVAIL;
    }
    int rc = -EADDRNOTAVAIL;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
            rc = -errno;
            close(fd);
            continue;
        }
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, MB_LISTEN_BACKLOG) != 0) {
            rc = -errno;
            close(fd);
            continue;
        }
        rc = fd;
        break;
    }
    freeaddrinfo(res);
    if (rc < 0)
        mb_error(LOGGER, "cannot listen on %s port %d: %s", h, port, strerror(-rc));
    return rc;
}

/* The port a listening socket is bound to, or -1. */
static int socket_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Grows the slot table to n entries (new slots have no socket yet). Returns 0 or -ENOMEM. */
static int ensure_slots(struct master *m, unsigned n)
{
    if (n <= m->nslots)
        return 0;
    struct slot *s = realloc(m->slots, n * sizeof *s);
    if (!s)
        return -ENOMEM;
    for (unsigned i = m->nslots; i < n; i++) {
        memset(&s[i], 0, sizeof s[i]);
        s[i].fd = -1;
    }
    m->slots = s;
    m->nslots = n;
    return 0;
}

/* Opens the sockets slots 0..n-1 need: one shared socket, or one SO_REUSEPORT socket per slot
 * that has none yet (all on the port of the first). Returns 0 or -errno. */
static int open_sockets(struct master *m, const char *host, int port, unsigned n)
{
    int rc = ensure_slots(m, n);
    if (rc < 0)
        return rc;
    if (!m->reuseport) {
        if (m->shared_fd < 0) {
            rc = open_listener(host, port, false);
            if (rc < 0)
                return rc;
            m->shared_fd = rc;
            m->bound_port = socket_port(rc);
        }
        return 0;
    }
    for (unsigned i = 0; i < n; i++) {
        if (m->slots[i].fd >= 0)
            continue;
        rc = open_listener(host, m->bound_port > 0 ? m->bound_port : port, true);
        if (rc < 0)
            return rc;
        m->slots[i].fd = rc;
        if (m->bound_port <= 0)
            m->bound_port = socket_port(rc);
    }
    return 0;
}

static int slot_fd(const struct master *m, int slot)
{
    return m->reuseport ? m->slots[slot].fd : m->shared_fd;
}

/* Runs in the child after fork: drops everything of the master's it must not keep, then
 * becomes worker `slot`. Never returns. */
static void become_worker(struct master *m, struct mb_runtime *rt, int slot, int ready_r,
                          int ready_w)
{
    close(ready_r);
    close(m->sigfd);
    for (size_t i = 0; i < m->nw; i++)
        if (m->w[i].ready_fd >= 0)
            close(m->w[i].ready_fd);
    for (unsigned i = 0; i < m->nslots; i++)
        if ((int)i != slot && m->slots[i].fd >= 0)
            close(m->slots[i].fd);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &sa, NULL); /* fails harmlessly on the signals glibc reserves */
    /* A peer that closed must not kill a worker writing to it. */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != m->pid) /* the master died before prctl */
        _exit(1);
    mb_log_set_worker(slot);
    int code = mb_worker_main(rt, slot, slot_fd(m, slot), m->admin_fd, ready_w);
    fflush(NULL);
    _exit(code);
}

/* Forks the worker of `slot` with runtime rt. Returns 0 or -errno (logged). */
static int spawn(struct master *m, struct mb_runtime *rt, int slot)
{
    if (m->nw == m->capw) {
        size_t cap = m->capw ? m->capw * 2 : 16;
        struct worker *w = realloc(m->w, cap * sizeof *w);
        if (!w) {
            mb_error(LOGGER, "cannot start worker %d: out of memory", slot);
            return -ENOMEM;
        }
        m->w = w;
        m->capw = cap;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        int e = errno;
        mb_error(LOGGER, "cannot start worker %d: pipe: %s", slot, strerror(e));
        return -e;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        mb_error(LOGGER, "cannot start worker %d: fork: %s", slot, strerror(e));
        return -e;
    }
    if (pid == 0)
        become_worker(m, rt, slot, p[0], p[1]);
    close(p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    struct worker *w = &m->w[m->nw++];
    memset(w, 0, sizeof *w);
    w->pid = pid;
    w->slot = slot;
    w->gen = rt->generation;
    w->ready_fd = p[0];
    w->state = W_STARTING;
    w->started_ms = now_ms();
    mb_debug(LOGGER, "worker %d (pid %d) started, generation %u", slot, (int)pid, w->gen);
    return 0;
}

static void send_signal(struct worker *w, int sig)
{
    if (kill(w->pid, sig) != 0 && errno != ESRCH)
        mb_warn(LOGGER, "cannot send SIG%s to worker %d (pid %d): %s", sig_name(sig), w->slot,
                (int)w->pid, strerror(errno));
}

static void term_worker(struct worker *w, uint64_t now)
{
    if (w->state == W_DRAINING || w->state == W_ABORTED)
        return;
    w->state = W_DRAINING;
    w->term_ms = now;
    send_signal(w, SIGTERM);
}

static void close_ready(struct worker *w)
{
    if (w->ready_fd >= 0)
        close(w->ready_fd);
    w->ready_fd = -1;
}

/* Announces the listening address once, when the first generation is ready or late. */
static void announce(struct master *m, bool all_ready)
{
    if (m->announced)
        return;
    m->announced = true;
    char h[256];
    plain_host(m->bound_host, h, sizeof h);
    bool v6 = strchr(h, ':') != NULL;
    if (!all_ready)
        mb_warn(LOGGER, "not every worker reported ready within %u s", MB_READY_TIMEOUT_MS / 1000);
    mb_info(LOGGER, "listening on http://%s%s%s:%d%s", v6 ? "[" : "", h, v6 ? "]" : "",
            m->bound_port, m->rt->config->path ? m->rt->config->path : "/mcp");
}

static bool generation_ready(const struct master *m, unsigned gen)
{
    for (size_t i = 0; i < m->nw; i++)
        if (m->w[i].gen == gen && m->w[i].state == W_STARTING)
            return false;
    return true;
}

static size_t generation_live(const struct master *m, unsigned gen)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nw; i++)
        n += m->w[i].gen == gen;
    return n;
}

/* Destroys the old runtimes whose workers have all exited. */
static void collect_retired(struct master *m)
{
    for (size_t i = 0; i < MB_MAX_RETIRED; i++) {
        struct mb_runtime *old = m->retired[i];
        if (old && generation_live(m, old->generation) == 0) {
            mb_info(LOGGER, "generation %u has drained", old->generation);
            mb_runtime_destroy(old);
            m->retired[i] = NULL;
        }
    }
}

/* Starts the shutdown. immediate: SIGKILL now (SIGQUIT, or a second SIGTERM/SIGINT). */
static void begin_shutdown(struct master *m, int sig, bool immediate)
{
    uint64_t now = now_ms();
    if (!m->shutting_down) {
        m->shutting_down = true;
        unsigned grace = m->rt->config->shutdown_grace_ms;
        m->shutdown_deadline = now + grace + MB_KILL_MARGIN_MS;
        mb_info(LOGGER, "received SIG%s, %s shutdown of %zu worker(s)", sig_name(sig),
                immediate ? "immediate" : "graceful", m->nw);
        /* Stop queueing new connections once the workers close theirs. */
        if (m->shared_fd >= 0)
            close(m->shared_fd);
        m->shared_fd = -1;
        if (m->admin_fd >= 0)
            close(m->admin_fd);
        m->admin_fd = -1;
        for (unsigned i = 0; i < m->nslots; i++) {
            if (m->slots[i].fd >= 0)
                close(m->slots[i].fd);
            m->slots[i].fd = -1;
            m->slots[i].restart_at = 0;
        }
        if (m->next)
            mb_info(LOGGER, "abandoning the reload to generation %u", m->next->generation);
        for (size_t i = 0; i < m->nw; i++)
            term_worker(&m->w[i], now);
    } else if (!immediate) {
        mb_info(LOGGER, "received SIG%s again, shutting down immediately", sig_name(sig));
        immediate = true;
    }
    if (immediate && !m->killed_all) {
        m->killed_all = true;
        m->exit_code = 1;
        for (size_t i = 0; i < m->nw; i++)
            send_signal(&m->w[i], SIGKILL);
    }
}

/* Kills a reload's new workers and drops its runtime; the serving generation stays. */
static void abort_reload(struct master *m, const char *why)
{
    mb_error(LOGGER, "reload failed, keeping generation %u: %s", m->rt->generation, why);
    unsigned gen = m->next->generation;
    for (size_t i = 0; i < m->nw; i++) {
        if (m->w[i].gen == gen && m->w[i].state != W_ABORTED) {
            m->w[i].state = W_ABORTED;
            close_ready(&m->w[i]);
            send_signal(&m->w[i], SIGKILL);
        }
    }
    mb_runtime_destroy(m->next);
    m->next = NULL;
    m->reload_deadline = 0;
}

/* Records an exit of the serving generation's worker in `slot` and schedules its restart. */
static void schedule_restart(struct master *m, int slot, uint64_t up_ms)
{
    struct slot *s = &m->slots[slot];
    uint64_t now = now_ms();
    if (up_ms >= MB_STABLE_MS) { /* it had been stable: forget the past */
        s->ndeaths = 0;
        s->backoff_ms = 0;
    }
    s->deaths[s->ndeaths % (MB_CRASH_LIMIT + 1)] = now;
    s->ndeaths++;
    /* The oldest of the last MB_CRASH_LIMIT+1 exits is the next ring entry. */
    bool loop = s->ndeaths > MB_CRASH_LIMIT &&
                now - s->deaths[s->ndeaths % (MB_CRASH_LIMIT + 1)] < MB_CRASH_WINDOW_MS;
    if (s->backoff_ms) {
        s->backoff_ms = s->backoff_ms * 2 > MB_BACKOFF_MAX_MS ? MB_BACKOFF_MAX_MS
                                                              : s->backoff_ms * 2;
    } else if (loop) {
        s->backoff_ms = MB_BACKOFF_FIRST_MS;
    }
    if (s->backoff_ms) {
        mb_warn(LOGGER, "worker %d keeps exiting (more than %d exits within %u s), restarting it in %u ms",
                slot, MB_CRASH_LIMIT, MB_CRASH_WINDOW_MS / 1000, s->backoff_ms);
        s->restart_at = now + s->backoff_ms;
    } else {
        s->restart_at = now; /* at once: the next loop turn */
    }
}

static void log_exit(const struct worker *w, int status, bool expected)
{
    enum mb_log_level lvl = expected ? MB_LOG_INFO : MB_LOG_ERROR;
    if (WIFEXITED(status)) {
        if (expected && WEXITSTATUS(status) != 0)
            lvl = MB_LOG_WARN;
        mb_log(lvl, LOGGER, "worker %d (pid %d) exited with status %d", w->slot, (int)w->pid,
               WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        mb_log(lvl, LOGGER, "worker %d (pid %d) killed by signal %d (SIG%s)%s", w->slot,
               (int)w->pid, sig, sig_name(sig), WCOREDUMP(status) ? ", core dumped" : "");
    }
}

/* Reaps every exited child and decides what each exit means. */
static void reap(struct master *m)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        size_t i = 0;
        while (i < m->nw && m->w[i].pid != pid)
            i++;
        if (i == m->nw)
            continue; /* not one of ours (cannot happen: we fork only workers) */
        struct worker w = m->w[i];
        close_ready(&m->w[i]);
        m->w[i] = m->w[--m->nw];
        uint64_t now = now_ms();
        if (m->shutting_down || w.state == W_DRAINING) {
            log_exit(&w, status, true);
        } else if (w.state == W_ABORTED) {
            mb_debug(LOGGER, "worker %d (pid %d) of the failed reload is gone", w.slot,
                     (int)w.pid);
        } else if (m->next && w.gen == m->next->generation) {
            log_exit(&w, status, false);
            abort_reload(m, "a new worker exited before it was ready");
        } else if (w.gen == m->rt->generation) {
            log_exit(&w, status, false);
            if (!m->announced && w.state == W_STARTING) {
                mb_error(LOGGER, "worker %d failed to start, stopping", w.slot);
                begin_shutdown(m, SIGTERM, false);
                m->exit_code = 1;
            } else if ((unsigned)w.slot < m->nworkers) {
                schedule_restart(m, w.slot, now - w.started_ms);
            }
        } else {
            log_exit(&w, status, true); /* an older generation not yet told to drain */
        }
    }
    collect_retired(m);
}

/* The new generation is ready: swap it in and let the old one drain. */
static void commit_reload(struct master *m)
{
    struct mb_runtime *old = m->rt;
    uint64_t now = now_ms();
    size_t r = 0;
    while (r < MB_MAX_RETIRED && m->retired[r])
        r++;
    if (r == MB_MAX_RETIRED) { /* cannot happen with the reload guard; be safe */
        abort_reload(m, "too many generations still draining");
        return;
    }
    /* Workers of older generations (including restarts of the old one) drain. */
    for (size_t i = 0; i < m->nw; i++)
        if (m->w[i].gen != m->next->generation)
            term_worker(&m->w[i], now);
    /* The shared region must outlive the runtime that created it: hand ownership over. */
    if (old->owns_shared && m->next->shared == old->shared) {
        old->owns_shared = false;
        m->next->owns_shared = true;
    }
    m->retired[r] = old;
    m->rt = m->next;
    m->next = NULL;
    m->reload_deadline = 0;
    m->nworkers = m->next_nworkers;
    for (unsigned i = 0; i < m->nslots; i++)
        m->slots[i].restart_at = 0;
    mb_runtime_apply_logging(m->rt);
    mb_runtime_audit_inventory(m->rt, "reload");
    mb_info(LOGGER, "reload complete: generation %u serving with %u worker(s), generation %u "
            "draining", m->rt->generation, m->nworkers, old->generation);
    collect_retired(m);
}

/* Whether a reload's config can run with the admin listener as it is: moving the admin routes
 * between the MCP listener and a listener of their own needs a restart (the reload is refused,
 * since half of it cannot be honoured); another address for the separate listener is only
 * warned about, like the MCP port. */
static bool admin_listener_kept(const struct master *m, const struct mb_config *next)
{
    const struct mb_observability_config *o = &next->observability;
    bool separate = m->admin_fd >= 0;
    if (separate != (o->admin_port != 0)) {
        mb_error(LOGGER, "reload failed, keeping generation %u: observability.metrics.port changed from %d to %d; "
                 "moving the admin routes %s the MCP listener needs a restart", m->rt->generation, m->admin_port,
                 o->admin_port, separate ? "onto" : "off");
        return false;
    }
    char oh[256], nh[256];
    plain_host(m->admin_host, oh, sizeof oh);
    plain_host(o->admin_host, nh, sizeof nh);
    if (separate && (strcmp(oh, nh) != 0 || o->admin_port != m->admin_port))
        mb_warn(LOGGER, "reload: the admin listener's address changed (%s port %d); that needs a restart, still "
                "listening on %s port %d", nh, o->admin_port, oh, m->admin_port);
    return true;
}

/* SIGHUP: build and validate a new runtime; if it is sound, fork its generation. */
static void begin_reload(struct master *m)
{
    if (m->shutting_down)
        return;
    if (m->next) {
        mb_warn(LOGGER, "reload to generation %u already in progress, ignoring SIGHUP",
                m->next->generation);
        return;
    }
    size_t r = 0;
    while (r < MB_MAX_RETIRED && m->retired[r])
        r++;
    if (r == MB_MAX_RETIRED) {
        mb_warn(LOGGER, "%d old generations are still draining, ignoring SIGHUP", MB_MAX_RETIRED);
        return;
    }
    mb_info(LOGGER, "received SIGHUP, reloading %s",
            m->opts->config_path ? m->opts->config_path : "the embedded config");
    struct mb_diags diags;
    mb_diags_init(&diags);
    struct mb_runtime *next = NULL;
    if (mb_runtime_build(m->opts->config_path, m->opts->port_override, m->rt, &next, &diags) != 0) {
        for (size_t i = 0; i < diags.count; i++) {
            const struct mb_diag *d = &diags.items[i];
            if (d->line > 0)
                mb_error(LOGGER, "reload failed, keeping generation %u: %s:%d: %s",
                         m->rt->generation, d->file ? d->file : "-", d->line, d->message);
            else
                mb_error(LOGGER, "reload failed, keeping generation %u: %s: %s",
                         m->rt->generation, d->file ? d->file : "-", d->message);
        }
        if (diags.count == 0)
            mb_error(LOGGER, "reload failed, keeping generation %u", m->rt->generation);
        mb_diags_dispose(&diags);
        return;
    }
    for (size_t i = 0; i < diags.count; i++) /* warnings of a valid build */
        mb_warn(LOGGER, "reload: %s:%d: %s", diags.items[i].file ? diags.items[i].file : "-",
                diags.items[i].line, diags.items[i].message);
    mb_diags_dispose(&diags);

    char err[256] = "";
    int n = mb_config_resolve_workers(next->config, m->opts->workers_arg, err, sizeof err);
    if (n < 1) {
        mb_error(LOGGER, "reload failed, keeping generation %u: %s", m->rt->generation,
                 err[0] ? err : "bad worker count");
        mb_runtime_destroy(next);
        return;
    }
    char oh[256], nh[256];
    plain_host(m->bound_host, oh, sizeof oh);
    plain_host(next->config->host, nh, sizeof nh);
    int nport = mb_runtime_port(next);
    if (strcmp(oh, nh) != 0 || (nport != 0 && nport != m->bound_port))
        mb_warn(LOGGER, "reload: the listening address changed (%s port %d); that needs a "
                "restart, still listening on %s port %d", nh, nport, oh, m->bound_port);
    if (!admin_listener_kept(m, next->config)) {
        mb_runtime_destroy(next);
        return;
    }
    unsigned count = (unsigned)n;
    if (m->reuseport && count < m->nslots) {
        mb_warn(LOGGER, "reload: %u SO_REUSEPORT sockets are open and cannot be closed without "
                "dropping queued connections; running %u workers instead of %u", m->nslots,
                m->nslots, count);
        count = m->nslots;
    }
    if (open_sockets(m, m->bound_host, m->bound_port, count) != 0) {
        mb_error(LOGGER, "reload failed, keeping generation %u: cannot open sockets for %u "
                 "workers", m->rt->generation, count);
        mb_runtime_destroy(next);
        return;
    }
    m->next = next;
    m->next_nworkers = count;
    m->reload_deadline = now_ms() + MB_READY_TIMEOUT_MS;
    mb_info(LOGGER, "starting generation %u: %u worker(s) (from %s)", next->generation, count,
            workers_source(next->config, m->opts->workers_arg));
    for (unsigned i = 0; i < count; i++) {
        if (spawn(m, next, (int)i) != 0) {
            abort_reload(m, "cannot fork the new workers");
            return;
        }
    }
}

/* Reads the ready byte of every starting worker whose pipe poll() flagged. */
static void on_ready(struct master *m, const struct pollfd *pfds, size_t npfd)
{
    for (size_t k = 1; k < npfd; k++) {
        if (!pfds[k].revents)
            continue;
        for (size_t i = 0; i < m->nw; i++) {
            struct worker *w = &m->w[i];
            if (w->ready_fd != pfds[k].fd)
                continue;
            char b;
            ssize_t got = read(w->ready_fd, &b, 1);
            if (got < 0 && (errno == EAGAIN || errno == EINTR))
                break;
            close_ready(w);
            if (got == 1) {
                if (w->state == W_STARTING)
                    w->state = W_RUNNING;
                mb_debug(LOGGER, "worker %d (pid %d) ready", w->slot, (int)w->pid);
            }
            /* EOF without a byte: it is exiting; SIGCHLD will tell. */
            break;
        }
    }
}

static uint64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One capacity sample (capacity.h): the live workers with their connections (from their
 * statistics slots, when the slot is theirs) and the serving generation's tools/call totals. */
static void sample_capacity(struct master *m)
{
    const struct mb_runtime *rt = m->rt;
    struct mb_capacity_worker workers[MB_CAPACITY_MAX_WORKERS];
    size_t n = 0;
    for (size_t i = 0; i < m->nw && n < MB_CAPACITY_MAX_WORKERS; i++) {
        const struct worker *w = &m->w[i];
        if (w->state == W_ABORTED)
            continue;
        struct mb_capacity_worker *cw = &workers[n++];
        memset(cw, 0, sizeof *cw);
        cw->id = w->slot;
        cw->pid = (int)w->pid;
        cw->connection_cap = rt->config->max_connections_per_worker;
        struct mb_worker_figures f;
        int pid = 0;
        if (mb_worker_stats_get(rt->worker_stats, w->slot, &f, &pid) && pid == (int)w->pid)
            cw->connections = f.connections_open;
    }
    struct mb_capacity_input in = {
        .now_unix_ms = unix_ms(), .proc_root = "/proc", .sys_root = "/sys", .master_pid = (int)m->pid,
        .nworkers = n, .workers = workers,
    };
    mb_call_stats_tool_totals(rt->call_stats, &in.tool_calls_total, &in.tool_call_us_total);
    mb_capacity_sample(rt->capacity, &in);
}

/* Runs the due deadlines; returns the poll timeout to the next one (-1 = none). */
static int run_timers(struct master *m)
{
    uint64_t now = now_ms();
    uint64_t next = UINT64_MAX;
    if (m->shutting_down) {
        if (!m->killed_all && now >= m->shutdown_deadline) {
            m->killed_all = true;
            for (size_t i = 0; i < m->nw; i++) {
                mb_warn(LOGGER, "worker %d (pid %d) still running %u ms after SIGTERM, "
                        "killing it (SIGKILL)", m->w[i].slot, (int)m->w[i].pid,
                        (unsigned)(now - m->w[i].term_ms));
                send_signal(&m->w[i], SIGKILL);
            }
        }
        if (!m->killed_all)
            next = m->shutdown_deadline;
    } else {
        for (unsigned i = 0; i < m->nworkers && i < m->nslots; i++) {
            struct slot *s = &m->slots[i];
            if (!s->restart_at)
                continue;
            if (now >= s->restart_at) {
                s->restart_at = 0;
                mb_info(LOGGER, "restarting worker %u", i);
                if (spawn(m, m->rt, (int)i) != 0)
                    s->restart_at = now + MB_BACKOFF_FIRST_MS;
            }
            if (s->restart_at && s->restart_at < next)
                next = s->restart_at;
        }
        if (m->next) {
            if (generation_ready(m, m->next->generation))
                commit_reload(m);
            else if (now >= m->reload_deadline)
                abort_reload(m, "the new workers did not report ready within 10 s");
            else if (m->reload_deadline < next)
                next = m->reload_deadline;
        }
        if (!m->announced) {
            if (generation_ready(m, m->rt->generation))
                announce(m, true);
            else if (now >= m->announce_deadline)
                announce(m, false);
            else if (m->announce_deadline < next)
                next = m->announce_deadline;
        }
        if (m->rt->capacity) {
            if (now >= m->next_sample_ms) {
                sample_capacity(m);
                m->next_sample_ms = now + m->rt->config->observability.sample_interval_ms;
            }
            if (m->next_sample_ms < next)
                next = m->next_sample_ms;
        }
    }
    if (next == UINT64_MAX)
        return -1;
    uint64_t d = next > now ? next - now : 0;
    return d > 60000 ? 60000 : (int)d;
}

/* Drains the signalfd into flags. */
static void read_signals(struct master *m, bool *chld, int *term, bool *hup, bool *quit)
{
    struct signalfd_siginfo si;
    while (read(m->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        switch ((int)si.ssi_signo) {
        case SIGCHLD: *chld = true; break;
        case SIGTERM:
        case SIGINT: *term = (int)si.ssi_signo; break;
        case SIGHUP: *hup = true; break;
        case SIGQUIT: *quit = true; break;
        default: break;
        }
    }
}

static int master_loop(struct master *m)
{
    struct pollfd *pfds = NULL, sig_only;
    size_t pcap = 0;
    int rc = 0;
    while (!(m->shutting_down && m->nw == 0)) {
        int timeout = run_timers(m);
        if (m->shutting_down && m->nw == 0)
            break;
        if (pcap < m->nw + 1) {
            struct pollfd *p = realloc(pfds, (m->nw + 16) * sizeof *p);
            if (p) {
                pfds = p;
                pcap = m->nw + 16;
            }
        }
        /* Out of memory: watch the signals only; readiness is then noticed late or never. */
        struct pollfd *set = pcap >= m->nw + 1 ? pfds : &sig_only;
        size_t cap = set == pfds ? pcap : 1;
        size_t npfd = 0;
        set[npfd++] = (struct pollfd){ .fd = m->sigfd, .events = POLLIN };
        for (size_t i = 0; i < m->nw && npfd < cap; i++)
            if (m->w[i].ready_fd >= 0)
                set[npfd++] = (struct pollfd){ .fd = m->w[i].ready_fd, .events = POLLIN };
        int n = poll(set, (nfds_t)npfd, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            mb_error(LOGGER, "poll: %s", strerror(errno));
            rc = -errno;
            break;
        }
        if (n == 0)
            continue;
        bool chld = false, hup = false, quit = false;
        int term = 0;
        if (set[0].revents)
            read_signals(m, &chld, &term, &hup, &quit);
        on_ready(m, set, npfd);
        if (chld)
            reap(m);
        if (quit)
            begin_shutdown(m, SIGQUIT, true);
        if (term)
            begin_shutdown(m, term, false);
        if (hup)
            begin_reload(m);
    }
    free(pfds);
    return rc;
}

/* Opens the separate admin listener when observability.metrics.port asks for one: a plain
 * socket (not one per worker) that every worker accepts on. Returns 0 or -1 (logged). */
static int open_admin_listener(struct master *m)
{
    const struct mb_observability_config *o = &m->rt->config->observability;
    if (!o->admin_port)
        return 0;
    if (o->admin_port == m->bound_port) {
        mb_error(LOGGER, "observability.metrics.port %d is the MCP listener's port (--port); choose another",
                 o->admin_port);
        return -1;
    }
    snprintf(m->admin_host, sizeof m->admin_host, "%s", o->admin_host);
    m->admin_port = o->admin_port;
    int fd = open_listener(m->admin_host, m->admin_port, false);
    if (fd < 0)
        return -1;
    m->admin_fd = fd;
    char h[256];
    plain_host(m->admin_host, h, sizeof h);
    bool v6 = strchr(h, ':') != NULL;
    mb_info(LOGGER, "admin routes (metrics, status page) on http%s://%s%s%s:%d", m->rt->tls ? "s" : "",
            v6 ? "[" : "", h, v6 ? "]" : "", m->admin_port);
    return 0;
}

/* One SO_REUSEPORT socket per slot unless MCPBRIDGE_LISTEN_MODE=shared asks for one shared
 * socket (the measurement behind the default is in docs/internals/process-model.md). */
static bool want_reuseport(void)
{
    const char *v = getenv("MCPBRIDGE_LISTEN_MODE");
    if (!v || !*v || strcmp(v, "reuseport") == 0)
        return true;
    if (strcmp(v, "shared") != 0)
        mb_warn(LOGGER, "MCPBRIDGE_LISTEN_MODE=%s is unknown (reuseport|shared), using reuseport",
                v);
    return strcmp(v, "shared") == 0 ? false : true;
}

int mb_master_run(const struct mb_serve_options *opts)
{
    struct master m;
    memset(&m, 0, sizeof m);
    m.opts = opts;
    m.pid = getpid();
    m.sigfd = -1;
    m.shared_fd = -1;
    m.admin_fd = -1;
    int code = 1;
    sigset_t mask, oldmask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGQUIT);
    /* Blocked before anything can start a thread, so no thread takes them. */
    sigprocmask(SIG_BLOCK, &mask, &oldmask);

    struct mb_diags diags;
    mb_diags_init(&diags);
    if (mb_runtime_build(opts->config_path, opts->port_override, NULL, &m.rt, &diags) != 0) {
        mb_diags_print(&diags, stderr);
        if (diags.count == 0)
            fprintf(stderr, "mcpbridge: cannot load %s\n",
                    opts->config_path ? opts->config_path : "the embedded config");
        mb_diags_dispose(&diags);
        goto done;
    }
    mb_diags_dispose(&diags);
    mb_runtime_apply_logging(m.rt);

    char err[256] = "";
    int n = mb_config_resolve_workers(m.rt->config, opts->workers_arg, err, sizeof err);
    if (n < 1) {
        fprintf(stderr, "mcpbridge: %s\n", err[0] ? err : "bad worker count");
        code = 2;
        goto done;
    }
    m.nworkers = (unsigned)n;
    raise_fd_limit(m.rt->config);
    m.reuseport = want_reuseport();
    snprintf(m.bound_host, sizeof m.bound_host, "%s",
             m.rt->config->host ? m.rt->config->host : "127.0.0.1");
    if (open_sockets(&m, m.bound_host, mb_runtime_port(m.rt), m.nworkers) != 0)
        goto done;
    if (open_admin_listener(&m) != 0)
        goto done;
    m.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (m.sigfd < 0) {
        mb_error(LOGGER, "signalfd: %s", strerror(errno));
        goto done;
    }
    mb_runtime_audit_inventory(m.rt, "start");
    mb_info(LOGGER, "starting %u worker(s) (from %s), generation %u, %s", m.nworkers,
            workers_source(m.rt->config, opts->workers_arg), m.rt->generation,
            m.reuseport ? "one SO_REUSEPORT socket per worker" : "one shared listening socket");
    m.announce_deadline = now_ms() + MB_READY_TIMEOUT_MS;
    for (unsigned i = 0; i < m.nworkers; i++) {
        if (spawn(&m, m.rt, (int)i) != 0) {
            begin_shutdown(&m, SIGTERM, false);
            m.exit_code = 1;
            break;
        }
    }
    if (master_loop(&m) != 0)
        m.exit_code = 1;
    code = m.exit_code;
    mb_info(LOGGER, "stopped (exit code %d)", code);

done:
    if (m.next)
        mb_runtime_destroy(m.next);
    for (size_t i = 0; i < MB_MAX_RETIRED; i++)
        if (m.retired[i]) {
            if (m.retired[i]->owns_shared && m.rt && m.rt->shared == m.retired[i]->shared) {
                m.retired[i]->owns_shared = false;
                m.rt->owns_shared = true;
            }
            mb_runtime_destroy(m.retired[i]);
        }
    if (m.rt)
        mb_runtime_destroy(m.rt);
    for (size_t i = 0; i < m.nw; i++)
        close_ready(&m.w[i]);
    free(m.w);
    for (unsigned i = 0; i < m.nslots; i++)
        if (m.slots[i].fd >= 0)
            close(m.slots[i].fd);
    free(m.slots);
    if (m.shared_fd >= 0)
        close(m.shared_fd);
    if (m.admin_fd >= 0)
        close(m.admin_fd);
    if (m.sigfd >= 0)
        close(m.sigfd);
    sigprocmask(SIG_SETMASK, &oldmask, NULL);
    return code;
}
