// C helpers for what Swift cannot call directly: function-like macros and
// OSSL_PARAM arrays built from C string constants.
#ifndef COFFER_SHIMS_H
#define COFFER_SHIMS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

/// HKDF-SHA256 (extract then expand) into `out`. Returns 1 on success, 0 on failure.
int coffer_hkdf_sha256(EVP_KDF *kdf,
                       const uint8_t *ikm, size_t ikm_len,
                       const uint8_t *salt, size_t salt_len,
                       const uint8_t *info, size_t info_len,
                       uint8_t *out, size_t out_len);

/// Initialises an HMAC context for SHA-256 with `key`. Returns 1 on success.
int coffer_hmac_sha256_init(EVP_MAC_CTX *ctx, const uint8_t *key, size_t key_len);

/// scrypt (RFC 7914) into `out`. Returns 1 on success.
int coffer_scrypt(EVP_KDF *kdf,
                  const uint8_t *password, size_t password_len,
                  const uint8_t *salt, size_t salt_len,
                  uint64_t n, uint32_t r, uint32_t p, uint64_t maxmem,
                  uint8_t *out, size_t out_len);

/// `OPENSSL_free`, a macro in C.
void coffer_openssl_free(void *ptr);

/// Guards `length` bytes mapped read-only from a file at `start` against SIGBUS: when another
/// process truncates the file, an access past its new end would kill the process. While the
/// range is registered, a SIGBUS inside it maps a page of zeros over the faulting page, marks
/// the range as faulted and lets the access go on; the caller checks
/// `coffer_mapping_guard_faulted` before using what it read. Faults outside every registered
/// range go to the handler that was installed before (the default one kills the process).
/// Returns a slot number, or -1 when no slot is free or the handler cannot be installed.
int coffer_mapping_guard_register(const void *start, size_t length);

/// 1 when a SIGBUS was caught in the slot's range since it was registered, else 0.
int coffer_mapping_guard_faulted(int slot);

/// Ends the guard of a slot (call before unmapping its range).
void coffer_mapping_guard_unregister(int slot);

#endif
