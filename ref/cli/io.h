/*
 * Front-end file support (may allocate; the library never does): whole-file reads,
 * atomic writes (temporary file in the same folder, then rename), .npy arrays in host
 * memory, and uncompressed .npz archives.
 */
#ifndef GGDM_CLI_IO_H
#define GGDM_CLI_IO_H

#include <stddef.h>
#include <stdint.h>

#include "ggdm/npy.h"
#include "ggdm/status.h"

/* An n-dimensional array in host byte order, owned by the front end. */
typedef struct ggdm_array {
    ggdm_dtype dtype;
    int ndim;
    uint64_t shape[GGDM_NPY_MAX_DIMS];
    uint64_t count;
    void *data; /* count elements of dtype, host order (malloc'd) */
} ggdm_array;

const char *ggdm_dtype_name(ggdm_dtype dt);

/* Allocates a zeroed array; returns GGDM_ERR_ARG on bad shape, GGDM_ERR_IO when out of memory. */
ggdm_status ggdm_array_alloc(ggdm_array *a, ggdm_dtype dt, int ndim, const uint64_t *shape);
void ggdm_array_free(ggdm_array *a);
/* "(12, 200) float32" */
void ggdm_array_describe(const ggdm_array *a, char *buf, size_t cap);

/* Reads a whole file into a malloc'd buffer. err gets "PATH: reason". */
ggdm_status ggdm_io_read_file(const char *path, uint8_t **buf, uint64_t *len, char *err, size_t errcap);
/* Writes atomically: PATH.tmp.PID then rename; nothing is left behind on failure. */
ggdm_status ggdm_io_write_file(const char *path, const void *data, uint64_t len, char *err, size_t errcap);

/* Loads a .npy file (any accepted dtype, kept as stored). */
ggdm_status ggdm_io_load_npy(const char *path, ggdm_array *a, char *err, size_t errcap);
/* Serialises an array as .npy bytes (malloc'd) / writes it atomically. */
ggdm_status ggdm_io_npy_bytes(const ggdm_array *a, uint8_t **buf, uint64_t *len);
ggdm_status ggdm_io_save_npy(const char *path, const ggdm_array *a, char *err, size_t errcap);

/* 64-byte aligned memory for workspaces (free with free()); NULL when out of memory. */
void *ggdm_io_aligned_alloc(size_t bytes);
/* mkdir -p DIR: 0, or -1 with errno set. */
int ggdm_io_mkdirs(const char *dir);

/* Saves data (host order) of this dtype and shape as .npy, atomically. */
ggdm_status ggdm_io_save(const char *path, ggdm_dtype dt, int ndim, const uint64_t *shape, const void *data, char *err,
                         size_t errcap);

/*
 * Fault injection (tests of crash consistency). Every file operation of the front end
 * (creating, writing, syncing, closing, renaming, removing a file or folder) first calls
 * ggdm_io_fault_point. With GGDM_FAULT_AT=K in the environment the process kills itself
 * with SIGKILL at the K-th such operation, before performing it, as a crash or `kill -9`
 * would; GGDM_FAULT_TRACE=1 prints "ggdm-fault N OP PATH" for each operation to stderr,
 * so a test learns how many kill points a run has. Without them it costs one branch.
 */
void ggdm_io_fault_point(const char *op, const char *path);

/* fsync of a folder (makes its renames durable); 0 or -1. */
int ggdm_io_sync_dir(const char *dir);
/* rename(2) with a fault point; 0 or -1 with errno. */
int ggdm_io_rename(const char *from, const char *to);
/* Removes a file, or a folder and everything in it (rm -rf); missing is fine. 0 or -1. */
int ggdm_io_remove_tree(const char *path);
/* 1 when path exists (any type), 0 when not. */
int ggdm_io_exists(const char *path);
/* Whether a file can be created in dir (created if missing? no: dir must exist): probes
 * by creating and removing a temporary file. 0, or -1 with errno. */
int ggdm_io_probe_writable(const char *dir);

/* Bytes from a file shown in a message: printable ASCII kept, other bytes as '?', cut to fit
 * cap (cap >= 4) with "..." when longer. Returns out. */
const char *ggdm_io_shown(char *out, size_t cap, const void *s, uint64_t n);

/* Writes an uncompressed .npz (what np.savez writes) of n named arrays, atomically. */
ggdm_status ggdm_io_save_npz(const char *path, const char *const *names, const ggdm_array *arrays, int n,
                             char *err, size_t errcap);

/*
 * A file mapped read-only (mmap PROT_READ, MAP_PRIVATE): weights are converted straight
 * from the mapping into the caller's float32 array, never copied into memory first. An
 * empty file gives data NULL, len 0. Not a regular file (a folder, a device, a pipe) or a
 * file that cannot be mapped -> GGDM_ERR_IO, err "PATH: reason". The file must not shrink
 * while mapped (reading past its new end would raise SIGBUS): ggdm never modifies a file
 * in place (every write is a new file renamed over the old one), so a mapping stays valid.
 */
typedef struct ggdm_io_map {
    const uint8_t *data;
    uint64_t len;
} ggdm_io_map;
ggdm_status ggdm_io_map_file(const char *path, ggdm_io_map *m, char *err, size_t errcap);
/* Unmaps (a zeroed or already unmapped map is fine). */
void ggdm_io_unmap(ggdm_io_map *m);

#endif
