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

#endif
