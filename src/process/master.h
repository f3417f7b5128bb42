/* The master process of `mcpbridge serve`: builds the runtime before forking, binds the
 * listening socket(s), forks N identical workers and then only supervises them: reaps with a
 * logged cause, restarts crashed workers with a crash-loop back-off, reloads on SIGHUP (a new
 * generation on the same sockets, the old one drains), shuts down on SIGTERM/SIGINT/SIGQUIT.
 * See docs/internals/process-model.md. */
#ifndef MB_MASTER_H
#define MB_MASTER_H

struct mb_serve_options {
    const char *config_path; /* NULL = the embedded demo config */
    int port_override;       /* --port, or -1 for none */
    const char *workers_arg; /* the --workers value, or NULL */
};

/* Runs the server until it is told to stop. Blocks SIGCHLD/SIGTERM/SIGINT/SIGHUP/SIGQUIT in
 * the calling process (it must be the only thread). Returns the process exit code: 0 after
 * an orderly SIGTERM/SIGINT shutdown, 1 when the first runtime does not build, the sockets
 * cannot be bound or after SIGQUIT (immediate shutdown), 2 on a bad worker count. opts is
 * borrowed for the whole run and must not be NULL. */
int mb_master_run(const struct mb_serve_options *opts);

#endif
