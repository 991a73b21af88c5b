/* Non-cryptographic hashes shared by the RNG, the dataset checksum, the
 * checkpoint checksum and search signatures. */
#ifndef SHARDML_HASH_H
#define SHARDML_HASH_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64's finaliser: a good 64-bit bit mixer. */
uint64_t sml_mix64(uint64_t z);

/* FNV-1a, 64-bit: start from SML_FNV1A_INIT, feed byte ranges in order. */
#define SML_FNV1A_INIT 0xcbf29ce484222325ull
uint64_t sml_fnv1a(uint64_t h, const void *data, size_t n);

#endif
