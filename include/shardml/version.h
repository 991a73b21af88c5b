/* shardml's version: the one place it is written (CMakeLists.txt reads it). */
#ifndef SHARDML_VERSION_H
#define SHARDML_VERSION_H

#define SHARDML_VERSION_MAJOR 0
#define SHARDML_VERSION_MINOR 1
#define SHARDML_VERSION_PATCH 0
#define SHARDML_VERSION "0.1.0"
/* For comparisons: SHARDML_VERSION_NUMBER >= 100 means 0.1.0 or later. */
#define SHARDML_VERSION_NUMBER (SHARDML_VERSION_MAJOR * 10000 + SHARDML_VERSION_MINOR * 100 + SHARDML_VERSION_PATCH)

#endif
