/*
 * sha256: SHA-256 (FIPS 180-4) over memory and file descriptors, for
 * verifying checkpoint manifests without a crypto library.
 *
 * Nothing here allocates, locks or keeps global state: sha256_fd() is plain
 * read(2) calls, so it is safe in a child forked from a threaded process.
 */
#ifndef LLMCTL_SHA256_H
#define LLMCTL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32 /* digest bytes */
#define SHA256_HEXLEN 64 /* digest as lower-case hex, without NUL */

struct sha256 {
	uint32_t h[8];
	uint64_t nbytes; /* message length so far */
	uint8_t block[64];
	size_t nblock; /* bytes waiting in block */
};

void sha256_init(struct sha256 *);
void sha256_update(struct sha256 *, const void *, size_t);
void sha256_final(struct sha256 *, uint8_t[SHA256_LEN]);

/* One-shot digest of a buffer. */
void sha256_buf(const void *, size_t, uint8_t[SHA256_LEN]);

/* Lower-case hex into out, NUL-terminated (SHA256_HEXLEN + 1 bytes). */
void sha256_hex(const uint8_t[SHA256_LEN], char *out);

/*
 * Digest of everything read from fd until EOF, using buf (bufsize bytes) as
 * scratch; *nread gets the bytes read when not NULL. Returns 0, or -1 with
 * errno from read(2).
 */
int sha256_fd(
    int fd, void *buf, size_t bufsize, uint8_t[SHA256_LEN], uint64_t *nread);

#endif
