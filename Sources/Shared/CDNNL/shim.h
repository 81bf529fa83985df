#ifndef CDNNL_SHIM_H
#define CDNNL_SHIM_H
#include <dnnl.h>

/// `DNNL_MEMORY_ALLOCATE` is a cast macro that Swift does not import.
static inline void *cdnnl_memory_allocate(void) { return DNNL_MEMORY_ALLOCATE; }
/// `DNNL_MEMORY_NONE` likewise.
static inline void *cdnnl_memory_none(void) { return DNNL_MEMORY_NONE; }
#endif
