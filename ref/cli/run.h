/*
 * Run folders (front end): the lock that keeps a second process out, the run's record
 * (config.json), and checkpoints committed as one atomic step.
 *
 * A run folder holds
 *   .lock          held (fcntl write lock) while a process runs in the folder; the kernel
 *                  drops it when the process dies, however it dies
 *   config.json    the command line, every setting that changes the math, the inputs'
 *                  XXH3-64 hashes, the status ("running", "finished") and timings
 *   ckpt/CURRENT   the name of the committed checkpoint generation, written last
 *   ckpt/NAME/     that generation's files; anything else under ckpt/ is stale
 *
 * Committing a generation: its files are written (each fsynced) into ckpt/NAME.tmp/, the
 * folder is fsynced and renamed to ckpt/NAME, ckpt/ is fsynced, CURRENT is replaced
 * atomically (temporary file, fsync, rename, fsync of ckpt/), and only then is the previous
 * generation removed. A crash at any point leaves CURRENT naming a complete generation (or
 * no CURRENT: nothing committed yet); ggdm_ckpt_recover removes the rest.
 */
#ifndef GGDM_CLI_RUN_H
#define GGDM_CLI_RUN_H

#include <stddef.h>

#define GGDM_RUN_PATH_MAX 4096

/* Takes the folder's lock (creating the folder). 0, or -1 with a message in err: another
 * process holds it ("another ggdm (pid N) is running in DIR"), or the folder cannot be made. */
int ggdm_run_lock(const char *dir, int *fd, char *err, size_t errcap);
void ggdm_run_unlock(int *fd);

/* Removes stale temporary files (NAME.tmp.PID of a process that is gone, or of this one)
 * directly inside dir. Missing dir is fine. Returns how many were removed. */
int ggdm_run_clean_tmp(const char *dir);

/* ---- config.json */

/* A growing text buffer for writing JSON. */
typedef struct ggdm_json {
    char *buf;
    size_t len, cap;
    int need_comma, failed;
} ggdm_json;

void ggdm_json_begin(ggdm_json *j);                      /* "{" */
void ggdm_json_key(ggdm_json *j, const char *key);       /* "key": (then one value) */
void ggdm_json_str(ggdm_json *j, const char *key, const char *val); /* NULL val: null */
void ggdm_json_num(ggdm_json *j, const char *key, double val);      /* %.17g; NaN/inf: null */
void ggdm_json_int(ggdm_json *j, const char *key, long long val);
void ggdm_json_bool(ggdm_json *j, const char *key, int val);
void ggdm_json_raw(ggdm_json *j, const char *key, const char *json); /* an already formed value */
void ggdm_json_open(ggdm_json *j, const char *key, char bracket);   /* key: { or [ (key NULL in arrays) */
void ggdm_json_close(ggdm_json *j, char bracket);
/* Finishes ("}\n") and returns the text (owned by j), NULL when out of memory. */
const char *ggdm_json_end(ggdm_json *j);
void ggdm_json_free(ggdm_json *j);

/* What ggdm_run_read_config gets back from a config.json. */
#define GGDM_RUN_REC_MAX 64
typedef struct ggdm_run_record {
    char **argv; /* the "argv" array of strings (malloc'd; ggdm_run_record_free) */
    int argc;
    int n;                              /* top-level string members */
    char key[GGDM_RUN_REC_MAX][64];
    char val[GGDM_RUN_REC_MAX][512];
} ggdm_run_record;

/* Reads a run's config.json: its "argv" array and its top-level string members. 0; -1 when
 * the file is missing or malformed (err says which, and where). */
int ggdm_run_read_config(const char *path, ggdm_run_record *rec, char *err, size_t errcap);
/* A top-level string member ("" when absent). */
const char *ggdm_run_record_get(const ggdm_run_record *rec, const char *key);
void ggdm_run_record_free(ggdm_run_record *rec);

/* ---- checkpoints */

/*
 * Recovers ckdir (created if missing): reads CURRENT into current ("" if nothing was
 * committed) and removes everything else in ckdir except CURRENT, that generation, and the
 * names in keep (NULL-terminated, may be NULL). 0, or -1 with err.
 */
int ggdm_ckpt_recover(const char *ckdir, const char *const *keep, char *current, size_t cap, char *err,
                      size_t errcap);
/* Starts generation NAME: an empty ckdir/NAME.tmp/ whose path goes to gendir. 0 or -1. */
int ggdm_ckpt_begin(const char *ckdir, const char *name, char *gendir, size_t cap, char *err, size_t errcap);
/* Commits it (see above); prev is the generation it replaces ("" if none). 0 or -1. */
int ggdm_ckpt_commit(const char *ckdir, const char *name, const char *prev, char *err, size_t errcap);

/* Python's repr of a float ("0.2", "1.0", "1e-05"): the original's folder names use it. */
void ggdm_py_float_repr(double v, char *out, size_t cap);

#endif
