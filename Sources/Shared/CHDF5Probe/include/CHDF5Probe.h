// Reads an HDF5 file whole in another process, so that a damaged file cannot take the caller
// down. Debian 12's HDF5 (1.10.8) trusts the structure it parses: a flipped byte in a global
// heap sent H5Aread out of bounds (SIGSEGV) or into an endless loop before any checksum of ours
// was looked at. The walk opens every object, reads every attribute and walks every dataset's
// chunk index (the values are left to the caller's read, which fletcher32 guards); the caller
// opens the file only when the walk came back clean.
//
// Where the walk runs: a probe server, forked once (by kd_hdf5_probe_start at a stage's start,
// while the process is small, or at the first probe), keeps a walker process that walks one file
// per request and stays while files come back clean; after a failure, a crash or a time-out the
// server forks a fresh walker from its own memory. The other designs, measured while choosing
// (2026-12-02, 2 cores of an AMD EPYC; BENCHMARKS.md has the figures that `make bench-load`
// measures again): a fork of the caller per file copies its page tables and leaves its pages
// copy-on-write, so every page it writes afterwards faults once (14 ms for the fork and 118 ms
// of faults in a 300 MB process); a helper executable took 10 ms a file to start, since
// Debian's HDF5 pulls in libcurl, GnuTLS and Kerberos; a fresh fork of the small server per
// file took 2.9 ms (the child faults HDF5's code and heap in again); the warm walker 0.6 ms.
//
// Why C: the caller runs threads (oneDNN's OpenMP team, Dispatch), and after fork only the
// forking thread exists in the child. So the server and its workers run nothing but this file,
// HDF5 and libc: no Swift runtime whose locks another thread might have held, the default
// handlers for fatal signals, no exit handlers (_exit). glibc keeps malloc usable after fork.
#ifndef KD_CHDF5PROBE_H
#define KD_CHDF5PROBE_H

typedef enum {
    KD_PROBE_CLEAN = 0,     ///< the walker read everything without an error
    KD_PROBE_FAILED = 1,    ///< HDF5 reported an error; `message` says where
    KD_PROBE_SIGNAL = 2,    ///< the walker died of signal `signal_number`
    KD_PROBE_TIMEOUT = 3,   ///< the walker did not finish within the limit and was killed
    KD_PROBE_NOT_RUN = 4,   ///< no server or walker could be started (errno in `error_number`)
} kd_probe_outcome;

enum { KD_PROBE_MESSAGE_SIZE = 512 };

typedef struct {
    kd_probe_outcome outcome;
    int signal_number;
    int error_number;
    /// For KD_PROBE_FAILED: what could not be read, with HDF5's innermost reason.
    char message[KD_PROBE_MESSAGE_SIZE];
} kd_probe_result;

/// Forks the probe server now, unless it runs already. Returns 0, or an errno value.
int kd_hdf5_probe_start(void);

/// Walks `path` in the probe server's walker (the server is started here if it is not running)
/// with a limit of `seconds`. Returns `result->outcome`. One probe at a time (a lock).
kd_probe_outcome kd_hdf5_probe(const char *path, double seconds, kd_probe_result *result);

#endif
