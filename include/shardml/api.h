/* What every public header uses: the version, SHARDML_API on the functions
 * libshardml.so exports (it is built with hidden visibility, so internal
 * functions stay internal), and C linkage for C++ programs. */
#ifndef SHARDML_API_H
#define SHARDML_API_H

#include "shardml/version.h"

#if defined(__GNUC__) || defined(__clang__)
#define SHARDML_API __attribute__((visibility("default")))
#else
#define SHARDML_API
#endif

#ifdef __cplusplus
#define SHARDML_BEGIN_DECLS extern "C" {
#define SHARDML_END_DECLS }
#else
#define SHARDML_BEGIN_DECLS
#define SHARDML_END_DECLS
#endif

#endif
