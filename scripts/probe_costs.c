// What the HDF5 probe's design rests on (Sources/Shared/CHDF5Probe/include/CHDF5Probe.h), measured:
// 1. a fork of the caller itself: the fork, and the page faults its copy-on-write pages cost
//    the caller afterwards, at a few process sizes;
// 2. one probe through the probe server's warm walker, on a given file.
// Build and run (make bench-load does):
//   gcc -O2 -ISources/Shared/CHDF5Probe/include scripts/probe_costs.c Sources/Shared/CHDF5Probe/probe.c \
//       -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5 -o /tmp/probe_costs && /tmp/probe_costs FILE.h5
#include "CHDF5Probe.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void fork_cost(size_t megabytes) {
    size_t bytes = megabytes << 20;
    char *memory = malloc(bytes);
    memset(memory, 1, bytes);
    enum { ROUNDS = 10 };
    double start = now();
    for (int i = 0; i < ROUNDS; i++) { pid_t c = fork(); if (c == 0) _exit(0); waitpid(c, NULL, 0); }
    double fork_only = (now() - start) / ROUNDS;
    start = now();
    for (int i = 0; i < ROUNDS; i++) { pid_t c = fork(); if (c == 0) _exit(0); waitpid(c, NULL, 0); memset(memory, 2, bytes); }
    double fork_then_write = (now() - start) / ROUNDS;
    start = now();
    for (int i = 0; i < ROUNDS; i++) memset(memory, 3, bytes);
    double write_only = (now() - start) / ROUNDS;
    printf("fork of a %4zu MB process: %6.2f ms; the caller's later writes to its memory: %6.1f ms more\n",
           megabytes, 1e3 * fork_only, 1e3 * (fork_then_write - write_only - fork_only));
    free(memory);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: probe_costs FILE.h5\n"); return 2; }
    kd_hdf5_probe_start();
    fork_cost(50);
    fork_cost(300);
    fork_cost(1000);
    kd_probe_result r;
    if (kd_hdf5_probe(argv[1], 5, &r) != KD_PROBE_CLEAN) { fprintf(stderr, "%s: not clean: %s\n", argv[1], r.message); return 1; }
    enum { PROBES = 200 };
    double start = now();
    for (int i = 0; i < PROBES; i++) kd_hdf5_probe(argv[1], 5, &r);
    printf("one probe of %s through the server's warm walker: %.3f ms\n", argv[1], 1e3 * (now() - start) / PROBES);
    return 0;
}
