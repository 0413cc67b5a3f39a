/*
 * fuzz/replay_main.c - runs a fuzz harness without libFuzzer: every regular file of
 * the folders (and every file) named on the command line is read into an exactly
 * sized heap buffer and handed to LLVMFuzzerTestOneInput once, in sorted order.
 * CI builds each harness this way (with AddressSanitizer + UBSan) and replays the
 * seed corpora in fuzz/corpus/. A property violation or sanitizer report aborts;
 * otherwise it prints "replay NAME: N inputs, B bytes, ok".
 *
 *   build/fuzz-replay/fuzz_npy fuzz/corpus/npy [more folders or files]
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static unsigned long long n_inputs, n_bytes;

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    long sz;
    uint8_t *buf;
    if (!f) {
        fprintf(stderr, "replay: cannot open %s (%s)\n", path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "replay: cannot size %s\n", path);
        fclose(f);
        return -1;
    }
    /* exactly sz bytes (malloc(0) may return NULL: use 1 then), so that a read past the
     * end of the input is a heap overflow AddressSanitizer reports */
    buf = (uint8_t *)malloc(sz ? (size_t)sz : 1);
    if (!buf || (sz && fread(buf, 1, (size_t)sz, f) != (size_t)sz)) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    if (getenv("FUZZ_REPLAY_VERBOSE"))
        fprintf(stderr, "replay: %s (%ld bytes)\n", path, sz);
    LLVMFuzzerTestOneInput(buf, (size_t)sz);
    free(buf);
    n_inputs++;
    n_bytes += (unsigned long long)sz;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0, i;
    int rc = 0;
    if (!d) {
        fprintf(stderr, "replay: cannot open folder %s (%s)\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **nn;
            cap = cap ? 2 * cap : 64;
            nn = (char **)realloc(names, cap * sizeof *names);
            if (!nn) {
                rc = -1;
                break;
            }
            names = nn;
        }
        names[n] = (char *)malloc(strlen(dir) + strlen(e->d_name) + 2);
        if (!names[n]) {
            rc = -1;
            break;
        }
        sprintf(names[n], "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    for (i = 0; i < n; i++) {
        struct stat sb;
        if (rc == 0 && stat(names[i], &sb) == 0 && S_ISREG(sb.st_mode) && run_file(names[i]) != 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    int i, rc = 0;
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n(replays each input once through the harness)\n", name);
        return 2;
    }
    LLVMFuzzerInitialize(&argc, &argv);
    for (i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            rc = 1;
        } else if (S_ISDIR(sb.st_mode)) {
            if (run_dir(argv[i]) != 0)
                rc = 1;
        } else if (run_file(argv[i]) != 0) {
            rc = 1;
        }
    }
    printf("replay %s: %llu inputs, %llu bytes, %s\n", name, n_inputs, n_bytes, rc ? "FAILED" : "ok");
    return rc;
}
