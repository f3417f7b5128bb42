/* Byte-level request assembly for the HTTP server, private to src/http.
 * A reader turns a byte stream into complete requests (headers and whole body) or an error
 * status, with every limit of struct mb_http_limits that concerns bytes enforced here:
 * header block -> 431, body (Content-Length up front or the decoded chunked total) -> 413,
 * unknown Expect -> 417, malformed HTTP -> 400. It knows nothing about sockets or timers, so
 * it can be unit-tested and fuzzed on plain buffers. It stops after each complete request so
 * that the caller can take it before feeding the rest (pipelining). */
#ifndef MB_HTTP_REQUEST_READER_INTERNAL_H
#define MB_HTTP_REQUEST_READER_INTERNAL_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "http/http_server.h"

/* More header fields than this in one request -> 431. */
#define MB_HTTP_MAX_HEADERS 100

enum mb_http_phase {
    MB_HTTP_PHASE_IDLE = 0,  /* between requests (only blank lines seen) */
    MB_HTTP_PHASE_HEADERS,   /* first byte of a request seen, header block incomplete */
    MB_HTTP_PHASE_BODY,      /* headers complete, body (or trailers) incomplete */
    MB_HTTP_PHASE_STOPPED,   /* after an error or an upgrade/CONNECT request: input is ignored */
};

enum mb_http_read_event {
    MB_HTTP_READ_ERROR = -1, /* see mb_http_reader_error() */
    MB_HTTP_READ_MORE = 0,   /* all input consumed, the request is not complete yet */
    MB_HTTP_READ_REQUEST = 1 /* a request is complete: take it with mb_http_reader_take() */
};

struct mb_http_field;

/* One complete request and its storage (one owner: the reader, then whoever took it). */
struct mb_http_parsed {
    struct mb_http_request req;     /* points into the storage below */
    struct mb_buf head;             /* target, names and values, path, query; NUL-separated */
    struct mb_buf body;             /* decoded body, capped at max_body_bytes */
    struct mb_http_field *fields;   /* offsets into head while parsing */
    struct mb_http_header *headers; /* resolved at the end of the header block */
    size_t nfields, capfields;
    size_t target_len;
};

struct mb_http_reader {
    http_parser parser;
    const struct mb_http_limits *limits; /* borrowed; must outlive the reader */
    struct mb_http_parsed *cur;          /* request being assembled, NULL when idle */
    size_t header_bytes;                 /* bytes of the current header block so far */
    size_t trailer_bytes;
    int phase;                           /* enum mb_http_phase */
    int error_status;                    /* 0, or the HTTP status of the error */
    const char *error_message;           /* static text naming the problem */
    bool in_value;                       /* last header callback was a value */
    bool complete;                       /* a request waits to be taken */
    bool expect_continue;                /* headers asked for 100-continue, no body seen yet */
    bool upgrade;                        /* the request switches protocol: stop after it */
};

/* Prepares a reader; limits is borrowed. Allocates nothing until the first request byte. */
void mb_http_reader_init(struct mb_http_reader *r, const struct mb_http_limits *limits);
/* Frees a partial request, if any, and stops the reader (STOPPED phase). It may be
 * initialised again afterwards. */
void mb_http_reader_dispose(struct mb_http_reader *r);
/* Feeds len bytes. Sets *consumed to the bytes used (less than len only when a request became
 * complete or on error). Returns an enum mb_http_read_event. After MB_HTTP_READ_REQUEST the
 * caller takes the request and feeds the rest; after an error every later call returns the
 * error again; in the STOPPED phase without error all input is consumed and ignored. */
int mb_http_reader_feed(struct mb_http_reader *r, const char *data, size_t len, size_t *consumed);
/* Hands over the complete request (caller frees with mb_http_parsed_free) and returns to the
 * idle phase (or STOPPED after an upgrade). Returns NULL when no request is complete. */
struct mb_http_parsed *mb_http_reader_take(struct mb_http_reader *r);
/* The current phase (enum mb_http_phase). */
int mb_http_reader_phase(const struct mb_http_reader *r);
/* True once when the current request asked for "100 Continue" and its declared body fits and
 * no body byte has been seen yet; the flag is cleared by the call. */
bool mb_http_reader_take_continue(struct mb_http_reader *r);
/* The error status (400, 413, 417, 431) or 0; *message (may be NULL) gets static text. */
int mb_http_reader_error(const struct mb_http_reader *r, const char **message);
/* Frees a request taken from a reader. NULL is ignored. */
void mb_http_parsed_free(struct mb_http_parsed *p);

#endif
