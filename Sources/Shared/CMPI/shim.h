#ifndef CMPI_SHIM_H
#define CMPI_SHIM_H
// Open MPI (Debian's libopenmpi-dev). Debian installs mpi.h outside the default include path;
// without pkgconf SwiftPM cannot find it, so fall back to the absolute path, as for HDF5.
#if __has_include(<mpi.h>)
#include <mpi.h>
#else
#include "/usr/lib/x86_64-linux-gnu/openmpi/include/mpi.h"
#endif

// Open MPI's handles are macros over the addresses of global objects, which Swift does not
// import. Wrap each one this project uses.
static inline MPI_Comm cmpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype cmpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype cmpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype cmpi_int32(void) { return MPI_INT; }
static inline MPI_Datatype cmpi_byte(void) { return MPI_BYTE; }
static inline MPI_Op cmpi_sum(void) { return MPI_SUM; }
static inline MPI_Op cmpi_min(void) { return MPI_MIN; }
static inline void *cmpi_in_place(void) { return MPI_IN_PLACE; }
static inline int cmpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
#endif
