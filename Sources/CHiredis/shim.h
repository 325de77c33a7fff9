#ifndef CHIREDIS_SHIM_H
#define CHIREDIS_SHIM_H
// Thin shim over Debian's libhiredis-dev 0.14 (blocking API only; no TLS, no cluster).
#include <hiredis/hiredis.h>
#include <sys/socket.h>
#include <sys/time.h>

/// Connects with a timeout given in milliseconds (avoids building a struct timeval in Swift).
static inline redisContext *chiredis_connect(const char *host, int port, long timeout_ms) {
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    return redisConnectWithTimeout(host, port, tv);
}

/// Sets the read/write timeout of a connected context, in milliseconds. Returns REDIS_OK / REDIS_ERR.
static inline int chiredis_set_timeout(redisContext *c, long timeout_ms) {
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    return redisSetTimeout(c, tv);
}

/// The context's error string (a char[128] array, awkward to read from Swift).
static inline const char *chiredis_errstr(const redisContext *c) { return c->errstr; }

/// Binary-safe command (argv + lengths); returns a redisReply* or NULL on a connection error.
static inline redisReply *chiredis_command_argv(redisContext *c, int argc, const char **argv, const size_t *lens) {
    return (redisReply *)redisCommandArgv(c, argc, argv, lens);
}

/// Queues a binary-safe command in the output buffer without sending it (pipelining); REDIS_OK / REDIS_ERR.
static inline int chiredis_append_argv(redisContext *c, int argc, const char **argv, const size_t *lens) {
    return redisAppendCommandArgv(c, argc, argv, lens);
}

/// Blocks for the next reply (a subscribed connection's message, or a pipelined command's reply; sends the
/// output buffer first). Returns NULL on a connection error.
static inline redisReply *chiredis_get_reply(redisContext *c) {
    void *reply = NULL;
    if (redisGetReply(c, &reply) != REDIS_OK) return NULL;
    return (redisReply *)reply;
}

/// Unblocks a thread sitting in a blocking read on this context (used to stop a subscriber).
static inline void chiredis_shutdown(redisContext *c) { shutdown(c->fd, SHUT_RDWR); }

#endif
