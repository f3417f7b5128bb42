/* Implementation of log.h: a fixed table of per-logger levels and one formatted write(2) per
 * event, so lines from several worker processes never interleave mid-line. */
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MB_LOG_MAX_LOGGERS 32

static struct {
    enum mb_log_level level;
    bool json;
    int worker_id;
    size_t logger_count;
    struct { char name[32]; enum mb_log_level level; } loggers[MB_LOG_MAX_LOGGERS];
} log_state = { MB_LOG_INFO, false, -1, 0, {{{0}, 0}} };

void mb_log_setup(enum mb_log_level level, bool json)
{
    log_state.level = level;
    log_state.json = json;
}

void mb_log_set_worker(int worker_id)
{
    log_state.worker_id = worker_id;
}

int mb_log_set_logger_level(const char *logger, enum mb_log_level level)
{
    for (size_t i = 0; i < log_state.logger_count; i++) {
        if (strcmp(log_state.loggers[i].name, logger) == 0) {
            log_state.loggers[i].level = level;
            return 0;
        }
    }
    if (log_state.logger_count == MB_LOG_MAX_LOGGERS)
        return -ENOSPC;
    size_t i = log_state.logger_count++;
    snprintf(log_state.loggers[i].name, sizeof log_state.loggers[i].name, "%s", logger);
    log_state.loggers[i].level = level;
    return 0;
}

int mb_log_level_parse(const char *name)
{
    static const struct { const char *name; enum mb_log_level level; } names[] = {
        {"debug", MB_LOG_DEBUG}, {"info", MB_LOG_INFO}, {"warning", MB_LOG_WARN},
        {"warn", MB_LOG_WARN}, {"error", MB_LOG_ERROR}, {"critical", MB_LOG_ERROR},
        {"off", MB_LOG_OFF},
    };
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i].name) == 0)
            return (int)names[i].level;
    return -1;
}

bool mb_log_enabled(enum mb_log_level level, const char *logger)
{
    for (size_t i = 0; logger && i < log_state.logger_count; i++)
        if (strcmp(log_state.loggers[i].name, logger) == 0)
            return level >= log_state.loggers[i].level;
    return level >= log_state.level;
}

static const char *level_name(enum mb_log_level level)
{
    switch (level) {
    case MB_LOG_DEBUG: return "DEBUG";
    case MB_LOG_INFO: return "INFO";
    case MB_LOG_WARN: return "WARNING";
    case MB_LOG_ERROR: return "ERROR";
    default: return "OFF";
    }
}

/* Appends s as a JSON string body (without quotes) to out, escaping as needed. */
static size_t json_escape(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 7 < cap; p++) {
        if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p;
        } else if (*p < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", *p);
        } else {
            out[n++] = (char)*p;
        }
    }
    out[n] = '\0';
    return n;
}

/* The UTC time of now as "2026-11-24T10:00:00.123Z". */
static void stamp(char ts[40])
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t tl = strftime(ts, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, 40 - tl, ".%03dZ", (int)(tv.tv_usec / 1000));
}

/* "master" or "w<N>" for text lines. */
static void worker_tag(char *out, size_t cap)
{
    if (log_state.worker_id >= 0)
        snprintf(out, cap, "w%d", log_state.worker_id);
    else
        snprintf(out, cap, "master");
}

/* Writes the n bytes snprintf produced in line (cap bytes): a cut line still ends in '\n'. */
static void write_line(char *line, size_t cap, int n)
{
    if (n < 0)
        return;
    if ((size_t)n >= cap) {
        n = (int)cap - 1;
        line[n - 1] = '\n';
    }
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

void mb_log(enum mb_log_level level, const char *logger, const char *fmt, ...)
{
    if (!mb_log_enabled(level, logger))
        return;
    int saved_errno = errno;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    char ts[40];
    stamp(ts);

    char line[9000];
    int n;
    if (log_state.json) {
        char esc[8200];
        json_escape(esc, sizeof esc, msg);
        n = snprintf(line, sizeof line,
                     "{\"ts\":\"%s\",\"level\":\"%s\",\"logger\":\"%s\",\"pid\":%d,\"worker\":%d,\"msg\":\"%s\"}\n",
                     ts, level_name(level), logger ? logger : "main", (int)getpid(),
                     log_state.worker_id, esc);
    } else {
        char who[24];
        worker_tag(who, sizeof who);
        n = snprintf(line, sizeof line, "%s %s [%s] %s: %s\n", ts, level_name(level), who,
                     logger ? logger : "main", msg);
    }
    write_line(line, sizeof line, n);
    errno = saved_errno;
}

void mb_log_structured(enum mb_log_level level, const char *logger, const char *fields, size_t len)
{
    if (!mb_log_enabled(level, logger) || !fields)
        return;
    int saved_errno = errno;
    char ts[40];
    stamp(ts);
    if (len > MB_LOG_FIELDS_MAX)
        len = MB_LOG_FIELDS_MAX;  /* callers cap their fields; this only guards the line buffer */
    char line[MB_LOG_FIELDS_MAX + 256];
    int n;
    if (log_state.json) {
        n = snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"logger\":\"%s\",\"pid\":%d,\"worker\":%d%s%.*s}\n",
                     ts, level_name(level), logger ? logger : "main", (int)getpid(), log_state.worker_id,
                     len ? "," : "", (int)len, fields);
    } else {
        char who[24];
        worker_tag(who, sizeof who);
        n = snprintf(line, sizeof line, "%s %s [%s] %s: {\"ts\":\"%s\"%s%.*s}\n", ts, level_name(level), who,
                     logger ? logger : "main", ts, len ? "," : "", (int)len, fields);
    }
    write_line(line, sizeof line, n);
    errno = saved_errno;
}
