/* Structured logging to stderr for every process of mcpbridge.
 * One line per event, text ("2026-11-23T21:00:00.123Z INFO http: message") or JSON
 * ({"ts":..,"level":..,"logger":..,"pid":..,"msg":..}). Per-logger levels come from
 * observability.logging.loggers. Never pass secrets or payloads as arguments: callers mask. */
#ifndef MB_LOG_H
#define MB_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum mb_log_level { MB_LOG_DEBUG = 10, MB_LOG_INFO = 20, MB_LOG_WARN = 30, MB_LOG_ERROR = 40, MB_LOG_OFF = 100 };

/* Sets the default level and the output format; safe to call again (after a reload). */
void mb_log_setup(enum mb_log_level level, bool json);
/* Sets the level of one named logger ("audit", "http", ...); at most 32 loggers; returns 0 or -ENOSPC. */
int mb_log_set_logger_level(const char *logger, enum mb_log_level level);
/* Parses "DEBUG"/"INFO"/"WARNING"/"WARN"/"ERROR"/"CRITICAL"/"OFF" (any case). Returns -1 when unknown. */
int mb_log_level_parse(const char *name);
/* True when a message of this level from this logger would be written. */
bool mb_log_enabled(enum mb_log_level level, const char *logger);
/* Writes one event. The message is truncated at 4 KiB. */
void mb_log(enum mb_log_level level, const char *logger, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Longest fields text mb_log_structured writes (longer is cut; callers stay below it). */
#define MB_LOG_FIELDS_MAX 16384
/* Writes one event whose content is JSON members: fields is `"k":v,...` (valid JSON object
 * members without the braces, len bytes). JSON format: merged into the line's object next to
 * ts/level/logger/pid/worker, so log pipelines index them. Text format: the usual prefix, then
 * the members as one JSON object that starts with "ts". Used by audit events. */
void mb_log_structured(enum mb_log_level level, const char *logger, const char *fields, size_t len);
/* Tags every later line with a worker number (-1 = master). */
void mb_log_set_worker(int worker_id);

#define mb_debug(logger, ...) do { if (mb_log_enabled(MB_LOG_DEBUG, logger)) mb_log(MB_LOG_DEBUG, logger, __VA_ARGS__); } while (0)
#define mb_info(logger, ...) mb_log(MB_LOG_INFO, logger, __VA_ARGS__)
#define mb_warn(logger, ...) mb_log(MB_LOG_WARN, logger, __VA_ARGS__)
#define mb_error(logger, ...) mb_log(MB_LOG_ERROR, logger, __VA_ARGS__)

#endif
