// The walk, its worker, the probe server and the caller: CHDF5Probe.h says why it runs apart.
#define _GNU_SOURCE
#include "CHDF5Probe.h"

#if __has_include(<hdf5.h>)
#include <hdf5.h>
#else
#include "/usr/include/hdf5/serial/hdf5.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// MARK: - The walk (runs in the walker process)

typedef struct {
    const char *object;                  // the object being walked, for messages
    char message[KD_PROBE_MESSAGE_SIZE];
} walk_state;

static void append(char *buffer, const char *text) {
    size_t used = strlen(buffer);
    size_t room = KD_PROBE_MESSAGE_SIZE - 1 - used;
    size_t n = strlen(text);
    memcpy(buffer + used, text, n < room ? n : room);
    buffer[used + (n < room ? n : room)] = 0;
}

static herr_t innermost_error(unsigned n, const H5E_error2_t *e, void *data) {
    if (n == 0 && e->desc) { append(data, " ("); append(data, e->desc); append(data, ")"); }
    return 0;
}

/// Records the first failure: "<what> '<name>' of '<object>'" and HDF5's innermost reason.
static herr_t fail(walk_state *s, const char *what, const char *name) {
    if (s->message[0]) return -1;
    append(s->message, what);
    if (name) { append(s->message, " '"); append(s->message, name); append(s->message, "'"); }
    if (s->object && s->object != name) {
        append(s->message, " of '");
        append(s->message, strcmp(s->object, ".") == 0 ? "/" : s->object);
        append(s->message, "'");
    }
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_error, s->message);
    return -1;
}

/// Reads an attribute's `count` elements of `type` into a fresh buffer and frees it again
/// (variable-length members included).
static herr_t read_values(hid_t attribute, hid_t type, hid_t space, hssize_t count) {
    hid_t memory = H5Tget_class(type) == H5T_STRING ? H5Tcopy(type) : H5Tget_native_type(type, H5T_DIR_ASCEND);
    if (memory < 0) return -1;
    size_t size = H5Tget_size(memory);
    void *buffer = calloc(count > 0 ? (size_t)count : 1, size > 0 ? size : 1);
    herr_t status = -1;
    if (buffer) {
        status = H5Aread(attribute, memory, buffer);
        if (status >= 0 && (H5Tis_variable_str(memory) > 0 || H5Tdetect_class(memory, H5T_VLEN) > 0))
            H5Dvlen_reclaim(memory, space, H5P_DEFAULT, buffer);
        free(buffer);
    }
    H5Tclose(memory);
    return status;
}

static herr_t walk_attribute(hid_t location, const char *name, const H5A_info_t *info, void *data) {
    (void)info;
    walk_state *s = data;
    hid_t a = H5Aopen(location, name, H5P_DEFAULT);
    if (a < 0) return fail(s, "cannot open attribute", name);
    hid_t type = H5Aget_type(a), space = H5Aget_space(a);
    herr_t status = 0;
    hssize_t count = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (type < 0 || count < 0 || count > (1 << 20)) {
        status = fail(s, "cannot read the type or size of attribute", name);
    } else if (H5Tget_class(type) == H5T_STRING && H5Tget_cset(type) != H5T_CSET_ASCII && H5Tget_cset(type) != H5T_CSET_UTF8) {
        status = fail(s, "found an unknown character set in attribute", name);
    } else if (read_values(a, type, space, count) < 0) {
        status = fail(s, "cannot read attribute", name);
    }
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    H5Aclose(a);
    return status;
}

/// A dataset's shape, type and chunk index (its values are left to the caller's read, which
/// fletcher32 guards: every dataset the pipeline writes carries it).
static herr_t walk_dataset(walk_state *s, hid_t d) {
    hid_t type = H5Dget_type(d), space = H5Dget_space(d), plist = H5Dget_create_plist(d);
    herr_t status = 0;
    hssize_t count = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (type < 0 || space < 0 || plist < 0 || count < 0 || H5Tget_size(type) == 0) {
        status = fail(s, "cannot read the type, shape or layout of dataset", s->object);
    } else {
        hsize_t chunks = 0;
        if (H5Pget_layout(plist) == H5D_CHUNKED && H5Dget_num_chunks(d, space, &chunks) < 0) {
            status = fail(s, "cannot walk the chunk index of dataset", s->object);
        }
    }
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    if (plist >= 0) H5Pclose(plist);
    return status;
}

static herr_t walk_object(hid_t file, const char *name, const H5O_info_t *info, void *data) {
    walk_state *s = data;
    s->object = name;
    hid_t o = H5Oopen(file, name, H5P_DEFAULT);
    if (o < 0) return fail(s, "cannot open object", name);
    hsize_t index = 0;
    herr_t status = H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_INC, &index, walk_attribute, s);
    if (status < 0) status = fail(s, "cannot list the attributes", NULL);  // keeps a walk_attribute message
    if (status >= 0 && info->type == H5O_TYPE_DATASET) status = walk_dataset(s, o);
    H5Oclose(o);
    return status;
}

/// Walks an open file; returns 0 when clean, 1 with `s->message` set.
static int walk_file(hid_t file, walk_state *s) {
    herr_t status = H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_INC, walk_object, s, H5O_INFO_ALL);
    if (status < 0) { s->object = NULL; fail(s, "cannot walk the objects of the file", NULL); }
    return status < 0 ? 1 : 0;
}

static int walk(const char *path, walk_state *s) {
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) { fail(s, "cannot open the file", NULL); return 1; }
    int code = walk_file(file, s);
    if (H5Fclose(file) < 0 && code == 0) { s->object = NULL; fail(s, "cannot close the file", NULL); code = 1; }
    return code;
}

/// Builds a small file in memory with what the pipeline writes (string and number attributes, a
/// group, a chunked, shuffled, compressed, fletcher32 dataset) and walks it in the server: the
/// dynamic linker then resolves HDF5's functions once, in the server, instead of in every
/// worker (measured: a third of a worker's time).
static void warm_up(void) {
    hid_t access = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(access, 1 << 16, 0);
    hid_t file = H5Fcreate("kd-probe-warm-up", H5F_ACC_TRUNC, H5P_DEFAULT, access);
    H5Pclose(access);
    if (file < 0) return;
    hsize_t dims[2] = { 64, 4 }, chunk[2] = { 16, 4 };
    hid_t space = H5Screate_simple(2, dims, NULL), scalar = H5Screate(H5S_SCALAR);
    hid_t create = H5Pcreate(H5P_DATASET_CREATE), links = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_chunk(create, 2, chunk);
    H5Pset_shuffle(create);
    H5Pset_deflate(create, 4);
    H5Pset_fletcher32(create);
    H5Pset_create_intermediate_group(links, 1);
    float values[64 * 4] = { 0 };
    hid_t d = H5Dcreate2(file, "group/values", H5T_IEEE_F32LE, space, links, create, H5P_DEFAULT);
    if (d >= 0) { H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values); H5Dclose(d); }
    hid_t text = H5Tcopy(H5T_C_S1);
    H5Tset_size(text, H5T_VARIABLE);
    H5Tset_cset(text, H5T_CSET_UTF8);
    const char *word = "warm";
    long long number = 1;
    hid_t a = H5Acreate2(file, "text", text, scalar, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) { H5Awrite(a, text, &word); H5Aclose(a); }
    a = H5Acreate2(file, "number", H5T_STD_I64LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) { H5Awrite(a, H5T_NATIVE_LLONG, &number); H5Aclose(a); }
    H5Tclose(text); H5Pclose(links); H5Pclose(create); H5Sclose(scalar); H5Sclose(space);
    walk_state s = { .object = NULL, .message = { 0 } };
    walk_file(file, &s);
    H5Fclose(file);
}

// MARK: - Processes: the caller, the server, the walker
//
// The caller talks to the server, the server to the walker, each over a socket pair: a request
// is a probe_request and the path, a reply a kd_probe_result. The walker walks one file per
// request in its own memory and stays for the next while files come back clean; after any
// other outcome it exits, and the server forks a fresh one from its own clean memory for the
// next file. The server never opens a file: it forwards, enforces the time limit, and turns a
// walker's death into a reply.

typedef struct { double seconds; uint32_t path_length; } probe_request;

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int send_all(int fd, const void *bytes, size_t n) {
    const char *p = bytes;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w; n -= (size_t)w;
    }
    return 0;
}

static int receive_all(int fd, void *bytes, size_t n) {
    char *p = bytes;
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r; n -= (size_t)r;
    }
    return 0;
}

/// Waits until `fd` is readable or `deadline` passes: 1 readable (or closed), 0 timed out.
static int wait_readable(int fd, double deadline) {
    for (;;) {
        double left = deadline - now_seconds();
        if (left <= 0) return 0;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int ready = poll(&p, 1, (int)(left * 1000) + 1);
        if (ready > 0 || (ready < 0 && errno != EINTR)) return 1;
    }
}

static int send_request(int fd, const probe_request *q, const char *path) {
    return send_all(fd, q, sizeof *q) == 0 && send_all(fd, path, q->path_length) == 0 ? 0 : -1;
}

/// Receives a request into `path` (PATH_SIZE bytes); -1 when the other side is gone.
enum { PATH_SIZE = 4097 };
static int receive_request(int fd, probe_request *q, char *path) {
    if (receive_all(fd, q, sizeof *q) != 0 || q->path_length >= PATH_SIZE) return -1;
    if (receive_all(fd, path, q->path_length) != 0) return -1;
    path[q->path_length] = 0;
    return 0;
}

/// The walker's life: walk, reply, and go on only while files come back clean.
static void run_walker(int fd) {
    probe_request q;
    char path[PATH_SIZE];
    while (receive_request(fd, &q, path) == 0) {
        kd_probe_result r = { 0 };
        walk_state s = { .object = NULL, .message = { 0 } };
        r.outcome = walk(path, &s) == 0 ? KD_PROBE_CLEAN : KD_PROBE_FAILED;
        memcpy(r.message, s.message, sizeof r.message);
        if (send_all(fd, &r, sizeof r) != 0 || r.outcome != KD_PROBE_CLEAN) break;
    }
    _exit(0);
}

typedef struct { pid_t pid; int fd; } child_process;

/// Forks a child that runs `body` on its end of a new socket pair.
static child_process fork_child(void (*body)(int)) {
    child_process c = { -1, -1 };
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return c;
    pid_t pid = fork();
    if (pid < 0) { close(fds[0]); close(fds[1]); return c; }
    if (pid == 0) { close(fds[0]); body(fds[1]); _exit(0); }
    close(fds[1]);
    c.pid = pid;
    c.fd = fds[0];
    return c;
}

/// Kills (when `kill_it`) and reaps a child; returns its wait status.
static int end_child(child_process *c, int kill_it) {
    int status = 0;
    if (c->pid > 0) {
        if (kill_it) kill(c->pid, SIGKILL);
        while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR) {}
    }
    if (c->fd >= 0) close(c->fd);
    c->pid = -1;
    c->fd = -1;
    return status;
}

/// One file through the walker, started first when none runs.
static void walk_in_walker(child_process *walker, const probe_request *q, const char *path, kd_probe_result *r) {
    memset(r, 0, sizeof *r);
    if (walker->pid < 0) *walker = fork_child(run_walker);
    if (walker->pid < 0) { r->error_number = errno; r->outcome = KD_PROBE_NOT_RUN; return; }
    if (send_request(walker->fd, q, path) != 0) {
        end_child(walker, 1);
        r->error_number = EPIPE;
        r->outcome = KD_PROBE_NOT_RUN;
        return;
    }
    if (!wait_readable(walker->fd, now_seconds() + q->seconds)) {
        end_child(walker, 1);
        r->outcome = KD_PROBE_TIMEOUT;
        return;
    }
    if (receive_all(walker->fd, r, sizeof *r) == 0) {
        if (r->outcome != KD_PROBE_CLEAN) end_child(walker, 0);  // it exits after any other outcome
        return;
    }
    int status = end_child(walker, 0);  // no reply: it died walking
    memset(r, 0, sizeof *r);
    if (WIFSIGNALED(status)) { r->signal_number = WTERMSIG(status); r->outcome = KD_PROBE_SIGNAL; return; }
    append(r->message, "ended the reading process without an answer");
    r->outcome = KD_PROBE_FAILED;
}

/// The server's life: one request, one walk, one reply, until the caller goes away.
static void run_server(int fd) {
    // Nothing of the caller's but the socket: an inherited flock (a run's .lock) or the write
    // end of a pipe someone reads to its end must not outlive the caller's own copy.
    int null = open("/dev/null", O_RDWR);
    for (int i = 0; i < 3; i++) dup2(null, i);
    if (dup2(fd, 3) != 3) _exit(3);
    close_range(4, ~0U, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    static const int defaults[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGCHLD };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) signal(defaults[i], SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    H5open();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    warm_up();
    child_process walker = fork_child(run_walker);
    probe_request q;
    char path[PATH_SIZE];
    while (receive_request(3, &q, path) == 0) {
        kd_probe_result r;
        walk_in_walker(&walker, &q, path, &r);
        if (send_all(3, &r, sizeof r) != 0) break;
    }
    end_child(&walker, 1);
    _exit(0);
}

static pthread_mutex_t server_lock = PTHREAD_MUTEX_INITIALIZER;
static child_process server = { -1, -1 };

int kd_hdf5_probe_start(void) {
    pthread_mutex_lock(&server_lock);
    if (server.pid < 0) server = fork_child(run_server);
    int e = server.pid < 0 ? errno : 0;
    pthread_mutex_unlock(&server_lock);
    return e;
}

/// One request to the server; -1 when it is gone. The server enforces `seconds` on the walker;
/// the margin here is for a server that is stuck itself (it is then stopped: TIMEOUT).
static int ask_server(const probe_request *q, const char *path, kd_probe_result *r) {
    if (send_request(server.fd, q, path) != 0) return -1;
    if (!wait_readable(server.fd, now_seconds() + q->seconds + 5)) {
        end_child(&server, 1);
        memset(r, 0, sizeof *r);
        r->outcome = KD_PROBE_TIMEOUT;
        return 0;
    }
    return receive_all(server.fd, r, sizeof *r);
}

kd_probe_outcome kd_hdf5_probe(const char *path, double seconds, kd_probe_result *r) {
    memset(r, 0, sizeof *r);
    probe_request q = { seconds, (uint32_t)strlen(path) };
    if (q.path_length >= PATH_SIZE) { r->error_number = ENAMETOOLONG; return r->outcome = KD_PROBE_NOT_RUN; }
    pthread_mutex_lock(&server_lock);
    // A server that died since the last probe (killed from outside) is started again, once.
    for (int attempt = 0; attempt < 2; attempt++) {
        if (server.pid < 0) server = fork_child(run_server);
        if (server.pid < 0) { r->error_number = errno; r->outcome = KD_PROBE_NOT_RUN; break; }
        if (ask_server(&q, path, r) == 0) break;
        end_child(&server, 1);
        memset(r, 0, sizeof *r);
        r->error_number = EPIPE;
        r->outcome = KD_PROBE_NOT_RUN;
    }
    pthread_mutex_unlock(&server_lock);
    r->message[KD_PROBE_MESSAGE_SIZE - 1] = 0;
    return r->outcome;
}
