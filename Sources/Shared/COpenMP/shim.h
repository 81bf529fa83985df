#ifndef COPENMP_SHIM_H
#define COPENMP_SHIM_H
/* libgomp, the OpenMP runtime oneDNN 2.6 runs on (Debian's libdnnl2 links libgomp.so.1).
 * Swift code that runs on these threads shares one pool with oneDNN instead of competing with
 * its spinning workers. Declared here rather than through <omp.h>, which lives in GCC's private
 * include directory where Swift's clang does not look; libgcc-12-dev provides libgomp.so. */

/* What GCC emits for `#pragma omp parallel`: runs fn(data) on every thread of a new team
 * (num_threads 0: the default, OMP_NUM_THREADS or one per core) and returns when all are done.
 * Part of libgomp's ABI since GCC 4.9. */
void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
int omp_get_thread_num(void);
int omp_get_num_threads(void);
void omp_set_num_threads(int num_threads);
int omp_get_max_threads(void);
#endif
