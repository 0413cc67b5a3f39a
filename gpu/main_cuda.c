/*
 * build/ggdm-cuda: the reference's command line (ref/cli, conformance) with the score network
 * on the GPU (gpu/backend_cuda.cu). Every command of build/ggdm works the same way; the network
 * runs on the CUDA backend, everything else (schedules, guidance, Adam, I/O) on the host.
 *
 *   ggdm-cuda [--mode exact|fast] [--tf32] COMMAND ARGS...   (the options may appear anywhere)
 *
 * exact (default): bit-identical to build/ggdm (`ggdm-cuda conformance` checks every golden
 * vector bit for bit); fast: cuBLAS for Conv1d and Linear, checked within the manifest's
 * tolerances; --tf32 (fast only) lets cuBLAS use TF32 tensor cores.
 * Exit status 3 when there is no usable CUDA device (callers treat it as "skipped").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_cuda.h"
#include "cmds.h"
#include "pool.h"
#include "runner.h"

/* No device for help and version (`ggdm-cuda --version`, `ggdm-cuda eps --help`). */
static int needs_device(int argc, char **argv)
{
    static const char *const hostonly[] = {"--help", "-h", "help", "--version", "version"};
    size_t k;
    int i;
    if (argc < 2)
        return 0;
    for (i = 1; i < argc; i++)
        for (k = 0; k < sizeof hostonly / sizeof hostonly[0]; k++)
            if (strcmp(argv[i], hostonly[k]) == 0 && (i == 1 || k < 2))
                return 0;
    return 1;
}

int main(int argc, char **argv)
{
    int mode = GGDM_CUDA_EXACT, tf32 = 0, i, n = 0, rc;
    const char *ms = NULL, *cerr;
    char **av = (char **)calloc((size_t)argc + 1, sizeof *av);
    char err[512];
    const ggdm_unet_backend *be = NULL;
    conf_impl impl;
    if (!av) {
        fprintf(stderr, "ggdm-cuda: out of memory\n");
        return 1;
    }
    av[n++] = argv[0];
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mode") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "ggdm-cuda: --mode needs a value: exact or fast\n");
                free(av);
                return 2;
            }
            ms = argv[++i];
        } else if (strncmp(argv[i], "--mode=", 7) == 0) {
            ms = argv[i] + 7;
        } else if (strcmp(argv[i], "--tf32") == 0) {
            tf32 = 1;
        } else {
            av[n++] = argv[i];
        }
    }
    av[n] = NULL;
    if (ms) {
        if (strcmp(ms, "exact") == 0) {
            mode = GGDM_CUDA_EXACT;
        } else if (strcmp(ms, "fast") == 0) {
            mode = GGDM_CUDA_FAST;
        } else {
            fprintf(stderr, "ggdm-cuda: unknown --mode '%s' (exact or fast)\n", ms);
            free(av);
            return 2;
        }
    }
    if (tf32 && mode != GGDM_CUDA_FAST) {
        fprintf(stderr, "ggdm-cuda: --tf32 needs --mode fast (exact mode never uses tensor cores)\n");
        free(av);
        return 2;
    }
    impl = conf_impl_ref;
    impl.name = mode == GGDM_CUDA_EXACT ? "cuda-exact" : tf32 ? "cuda-fast-tf32" : "cuda-fast";
    impl.exact = mode == GGDM_CUDA_EXACT;
    if (needs_device(n, av)) {
        rc = ggdm_cuda_backend_init(mode, tf32, &be, err, sizeof err);
        if (rc == GGDM_CUDA_NO_DEVICE) {
            fprintf(stderr, "ggdm-cuda: no CUDA device: %s\n", err);
            free(av);
            return 3;
        }
        if (rc != GGDM_CUDA_OK) {
            fprintf(stderr, "ggdm-cuda: cannot start the CUDA backend: %s\n", err);
            free(av);
            return 1;
        }
        if (getenv("GGDM_CUDA_VERBOSE"))
            fprintf(stderr, "ggdm-cuda: %s\n", ggdm_cuda_backend_describe());
        ggdm_cli_set_backend(be);
    }
    rc = ggdm_cli_main(n, av, &impl);
    if (be) {
        ggdm_cuda_backend_shutdown();
        if ((cerr = ggdm_cuda_backend_error()) != NULL) {
            fprintf(stderr, "ggdm-cuda: the CUDA backend failed (results after it are not valid): %s\n", cerr);
            if (rc == 0)
                rc = 1;
        }
    }
    free(av);
    return rc;
}
