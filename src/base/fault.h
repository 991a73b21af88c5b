/* Fault injection for the test suite (docs/testing.md): SHARDML_FAULT names
 * one fault; users never set it. */
#ifndef SHARDML_FAULT_H
#define SHARDML_FAULT_H

#include <stdlib.h>
#include <string.h>

/* Whether SHARDML_FAULT asks for this fault. */
static inline int sml_fault_injected(const char *name) {
  const char *fault = getenv("SHARDML_FAULT");
  return fault && strcmp(fault, name) == 0;
}

#endif
