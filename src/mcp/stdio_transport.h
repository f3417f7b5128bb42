/* MCP over stdio: newline-delimited JSON-RPC on stdin/stdout, driven by a libuv loop, with the
 * same core as the HTTP transport. Nothing but protocol messages is written to stdout; logs
 * go to stderr. runtime.max_request_bytes bounds a line (longer lines are answered with
 * -32600 and skipped). Output is queued with backpressure: reading stdin pauses while more
 * than 8 MiB wait to be written. */
#ifndef MB_STDIO_TRANSPORT_H
#define MB_STDIO_TRANSPORT_H

struct mb_runtime;

/* Serves one client on stdin/stdout until stdin closes and every request is answered.
 * Returns the process exit code (0 after a clean end of input). */
int mb_stdio_serve(struct mb_runtime *rt);

#endif
