/*
 * fuzz_cli: the command's option parsing and commands, in process: the input is a
 * command line, one argument per line (the first is the command: init, info, eps, vjp,
 * trace, loss-grad or diff), handed to the matching ggdm_cmd_* function (ref/cli/cmds.h).
 *
 * It runs in a private temporary folder holding small fixtures (a Unet1D of dim 4 and
 * length 8, inputs x/v/t, a NaN-carrying x, two traces): files are named relative to
 * it. No argument can reach outside it: '/' becomes '_' and ".." is defused; an output
 * (-o) that names a fixture is renamed; after each run everything but the fixtures is
 * removed. init always starts from a small configuration (the paper's default would
 * write 60 MB per run) and a configuration above 200k parameters is not run.
 * The commands' own output goes to /dev/null (sanitizer reports still reach stderr).
 *
 * Properties checked besides "no crash, no UB, no leak, no exit()":
 *   - the exit status is 0, 1 or 2, and --help/-h anywhere gives 0;
 *   - a failed command leaves no output file (nor NAME.tmp.PID) behind;
 *   - eps/vjp/init that succeed write what they were asked to.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "fuzz.h"
#include "ggdm/hostdev.h"
#include "ggdm/unet.h"
#include "io.h"
#include "weights.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_HAVE_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_HAVE_SANITIZER 1
#endif
#ifdef FUZZ_HAVE_SANITIZER
void __sanitizer_set_report_fd(void *fd);
#endif

/* 1 while the bug of fuzz/open-bugs/cli-read-directory is open (see the README there) */
#ifndef FUZZ_OPEN_BUG_READ_DIR
#define FUZZ_OPEN_BUG_READ_DIR 0
#endif

#define MAX_ARGS 48
#define MAX_ARG_LEN 256

static char sandbox[4096];
static int home_fd = -1, null_fd = -1, out_fd = -1, err_fd = -1;

static const char *const fixtures[] = {"w.safetensors", "wbad.safetensors", "x.npy", "x64.npy", "xnan.npy",
                                       "x3d.npy", "v.npy", "t.npy", "tbad.npy", "tr_a", "tr_b"};
#define N_FIXTURES (sizeof fixtures / sizeof fixtures[0])

static int is_fixture(const char *name)
{
    size_t i;
    for (i = 0; i < N_FIXTURES; i++)
        if (strcmp(name, fixtures[i]) == 0)
            return 1;
    return 0;
}

static void rm_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        if (d) {
            while ((e = readdir(d)) != NULL) {
                char sub[4096];
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                rm_tree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Removes everything in the sandbox but the fixtures; returns how many entries went. */
static int clean_sandbox(void)
{
    DIR *d = opendir(sandbox);
    struct dirent *e;
    int n = 0;
    FUZZ_CHECK(d != NULL);
    while ((e = readdir(d)) != NULL) {
        char p[4096];
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || is_fixture(e->d_name))
            continue;
        snprintf(p, sizeof p, "%s/%s", sandbox, e->d_name);
        rm_tree(p);
        n++;
    }
    closedir(d);
    return n;
}

static void remove_sandbox(void)
{
    if (sandbox[0])
        rm_tree(sandbox);
}

/* Runs a command with the sandbox as the working folder and its output silenced. */
static int run(int (*fn)(int, char **), int argc, char **argv)
{
    int rc;
    fflush(stdout);
    fflush(stderr);
    FUZZ_CHECK(chdir(sandbox) == 0);
    if (null_fd >= 0) {
        dup2(null_fd, 1);
        dup2(null_fd, 2);
    }
    rc = fn(argc, argv);
    fflush(stdout);
    fflush(stderr);
    if (null_fd >= 0) {
        dup2(out_fd, 1);
        dup2(err_fd, 2);
    }
    FUZZ_CHECK(fchdir(home_fd) == 0);
    return rc;
}

static void write_f32(const char *name, int ndim, uint64_t d0, uint64_t d1, uint64_t d2, float nan_at)
{
    ggdm_array a;
    uint64_t shape[3], i;
    char err[512];
    shape[0] = d0;
    shape[1] = d1;
    shape[2] = d2;
    FUZZ_CHECK(ggdm_array_alloc(&a, GGDM_DT_F32, ndim, shape) == GGDM_OK);
    for (i = 0; i < a.count; i++)
        ((float *)a.data)[i] = (float)((long)(i * 7 % 13) - 6) * 0.3f;
    if (nan_at >= 0)
        ((float *)a.data)[(uint64_t)nan_at] = ggdm_f32_from_bits(0x7fc00000u);
    FUZZ_CHECKF(ggdm_io_save_npy(name, &a, err, sizeof err) == GGDM_OK, "%s", err);
    ggdm_array_free(&a);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    char *init_args[] = {"init", "--dim", "4", "--dim-mults", "1,2", "--groups", "2", "--length", "8", "--heads", "1",
                         "--dim-head", "2", "--seed", "1", "-o", "w.safetensors", NULL};
    char *trace_a[] = {"trace", "-w", "w.safetensors", "-x", "x.npy", "-t", "3", "-o", "tr_a", NULL};
    char *trace_b[] = {"trace", "-w", "w.safetensors", "-x", "x64.npy", "-t", "4", "-o", "tr_b", NULL};
    (void)argc;
    (void)argv;
    snprintf(sandbox, sizeof sandbox, "%s/ggdm-fuzz-cli-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    FUZZ_CHECK(mkdtemp(sandbox) != NULL);
    atexit(remove_sandbox);
    home_fd = open(".", O_RDONLY);
    FUZZ_CHECK(home_fd >= 0);
    out_fd = dup(1);
    err_fd = dup(2);
    FUZZ_CHECK(out_fd >= 0 && err_fd >= 0);
#ifdef FUZZ_HAVE_SANITIZER
    __sanitizer_set_report_fd((void *)(intptr_t)err_fd);
#endif
    if (!getenv("FUZZ_CLI_VERBOSE"))
        null_fd = open("/dev/null", O_WRONLY);
    FUZZ_CHECK(chdir(sandbox) == 0);
    write_f32("x.npy", 2, 2, 8, 0, -1);
    write_f32("v.npy", 2, 2, 8, 0, -1);
    write_f32("xnan.npy", 2, 2, 8, 0, 11);
    write_f32("x3d.npy", 3, 2, 2, 4, -1);
    {
        ggdm_array a, b;
        uint64_t two = 2, i;
        char err[512];
        FUZZ_CHECK(ggdm_array_alloc(&a, GGDM_DT_F64, 2, (uint64_t[]){2, 8}) == GGDM_OK);
        for (i = 0; i < a.count; i++)
            ((double *)a.data)[i] = (double)i * 0.125 - 1.0;
        FUZZ_CHECK(ggdm_io_save_npy("x64.npy", &a, err, sizeof err) == GGDM_OK);
        FUZZ_CHECK(ggdm_io_save_npy("tbad.npy", &a, err, sizeof err) == GGDM_OK);
        ggdm_array_free(&a);
        FUZZ_CHECK(ggdm_array_alloc(&b, GGDM_DT_I64, 1, &two) == GGDM_OK);
        ((int64_t *)b.data)[0] = 1;
        ((int64_t *)b.data)[1] = 19;
        FUZZ_CHECK(ggdm_io_save_npy("t.npy", &b, err, sizeof err) == GGDM_OK);
        ggdm_array_free(&b);
    }
    FUZZ_CHECK(fchdir(home_fd) == 0);
    FUZZ_CHECK(run(ggdm_cmd_init, 17, init_args) == 0);
    FUZZ_CHECK(run(ggdm_cmd_trace, 9, trace_a) == 0);
    FUZZ_CHECK(run(ggdm_cmd_trace, 9, trace_b) == 0);
    {
        /* a truncated copy of the weights */
        char src[4096], dst[4096];
        uint8_t *buf;
        uint64_t len;
        char err[512];
        snprintf(src, sizeof src, "%s/w.safetensors", sandbox);
        snprintf(dst, sizeof dst, "%s/wbad.safetensors", sandbox);
        FUZZ_CHECK(ggdm_io_read_file(src, &buf, &len, err, sizeof err) == GGDM_OK);
        FUZZ_CHECK(ggdm_io_write_file(dst, buf, len / 2, err, sizeof err) == GGDM_OK);
        free(buf);
    }
    clean_sandbox();
    return 0;
}

/* Keeps an argument inside the sandbox: no '/', no "..". */
static void defuse(char *s)
{
    char *p;
    for (p = s; *p; p++)
        if (*p == '/')
            *p = '_';
    if (strstr(s, ".."))
        for (p = s; *p; p++)
            if (*p == '.')
                *p = '_';
}

/* Whether the configuration init would build (its defaults, then the options, parsed in
 * order as ggdm_cmd_init does) has more than 200k parameters. */
static int init_too_big(int argc, char **argv)
{
    static const char *const names[] = {"--dim", "--groups", "--length", "--heads", "--dim-head", "--dim-mults",
                                        "--seed", "-o"};
    ggdm_unet_cfg c;
    uint64_t n = 0;
    int i;
    ggdm_unet_cfg_default(&c);
    for (i = 1; i < argc; i++) {
        size_t k, l = 0;
        const char *val = NULL;
        for (k = 0; k < sizeof names / sizeof names[0]; k++) {
            l = strlen(names[k]);
            if (strncmp(argv[i], names[k], l) == 0 && argv[i][l] == '=') {
                val = argv[i] + l + 1;
                break;
            }
            if (strcmp(argv[i], names[k]) == 0) {
                if (i + 1 >= argc)
                    return 0; /* missing value: init fails */
                val = argv[++i];
                break;
            }
        }
        if (!val)
            return 0; /* help or an unknown option: init stops there */
        if (k == 5) {
            int nl = ggdm_cli_parse_mults(val, c.dim_mults, GGDM_UNET_MAX_LEVELS);
            if (nl < 1)
                return 0;
            c.n_levels = nl;
        } else if (k < 5) {
            char *end;
            long long v = strtoll(val, &end, 0);
            int iv = v > (1 << 24) ? (1 << 24) : v < -1 ? -1 : (int)v;
            if (end == val || *end)
                return 0;
            if (k == 0) c.dim = iv;
            if (k == 1) c.groups = iv;
            if (k == 2) c.length = iv;
            if (k == 3) c.heads = iv;
            if (k == 4) c.dim_head = iv;
        }
    }
    if (ggdm_unet_num_params(&c, &n) != GGDM_OK)
        return 0; /* init refuses it, quickly */
    return n > 200000 || c.length > 4096;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char store[MAX_ARGS + 24][MAX_ARG_LEN];
    char *argv[MAX_ARGS + 24];
    int argc = 0, rc, i;
    size_t pos = 0;
    const char *out = NULL;
    int (*fn)(int, char **) = NULL;
    struct stat sb;
    /* split into lines */
    while (pos < size && argc < MAX_ARGS) {
        size_t end = pos, l;
        while (end < size && data[end] != '\n')
            end++;
        l = end - pos < MAX_ARG_LEN - 1 ? end - pos : MAX_ARG_LEN - 1;
        memcpy(store[argc], data + pos, l);
        store[argc][l] = 0;
        argc++;
        pos = end + 1;
    }
    if (argc == 0)
        return 0;
    if (strcmp(store[0], "init") == 0)
        fn = ggdm_cmd_init;
    else if (strcmp(store[0], "info") == 0)
        fn = ggdm_cmd_info;
    else if (strcmp(store[0], "eps") == 0)
        fn = ggdm_cmd_eps;
    else if (strcmp(store[0], "vjp") == 0)
        fn = ggdm_cmd_vjp;
    else if (strcmp(store[0], "trace") == 0)
        fn = ggdm_cmd_trace;
    else if (strcmp(store[0], "loss-grad") == 0)
        fn = ggdm_cmd_loss_grad;
    else if (strcmp(store[0], "diff") == 0)
        fn = ggdm_cmd_diff;
    else
        return 0;
    for (i = 0; i < argc; i++) {
        defuse(store[i]);
        argv[i] = store[i];
    }
    /* the output (-o), found the way the commands parse: every option but --tensors and
     * --help takes a value; an output that names a fixture is renamed */
    for (i = 1; i < argc; i++) {
        static const char *const valued[] = {"-w", "-x", "-t", "--t-file", "-v", "-o", "--x0", "--noise", "--T",
                                             "--schedule", "--dim", "--groups", "--length", "--heads", "--dim-head",
                                             "--dim-mults", "--seed", "--rtol", "--atol"};
        char *o = NULL;
        size_t k;
        if (strncmp(argv[i], "-o=", 3) == 0)
            o = argv[i] + 3;
        for (k = 0; k < sizeof valued / sizeof valued[0] && !o; k++)
            if (strcmp(argv[i], valued[k]) == 0) {
                if (k == 5 && i + 1 < argc)
                    o = argv[i + 1];
                i++;
                break;
            }
        if (o && is_fixture(o)) {
            char tmp[MAX_ARG_LEN];
            snprintf(tmp, sizeof tmp, "new_%s", o);
            strcpy(o, tmp);
        }
        if (o)
            out = o;
    }
    if (fn == ggdm_cmd_init) {
        /* a small network unless the input says otherwise; nothing big */
        static char *small[] = {"--dim", "4", "--dim-mults", "1", "--groups", "1", "--length", "4", "--heads", "1",
                                "--dim-head", "2"};
        int k, ns = (int)(sizeof small / sizeof small[0]);
        for (k = argc - 1; k >= 1; k--)
            argv[k + ns] = argv[k];
        for (k = 0; k < ns; k++)
            argv[1 + k] = small[k];
        argc += ns;
        if (init_too_big(argc, argv))
            return 0;
    }
    argv[argc] = NULL;
    {
        char p[4096 + MAX_ARG_LEN + 8];
        snprintf(p, sizeof p, "%s/%s", sandbox, out ? out : "");
        if (out && stat(p, &sb) == 0)
            out = NULL; /* names something that exists ("." or a fixture folder): not checked */
    }
#if FUZZ_OPEN_BUG_READ_DIR
    /* open bug (fuzz/open-bugs/README.md): ggdm_io_read_file takes a folder's size from
     * ftell (LONG_MAX) and asks malloc for it; until it refuses non-regular files, folders
     * are only given where a folder belongs (diff's arguments, trace's -o) */
    if (fn != ggdm_cmd_diff)
        for (i = 1; i < argc; i++) {
            char p[4096 + MAX_ARG_LEN + 8];
            const char *a = strchr(argv[i], '=') ? strchr(argv[i], '=') + 1 : argv[i];
            snprintf(p, sizeof p, "%s/%s", sandbox, a);
            if (a[0] && stat(p, &sb) == 0 && S_ISDIR(sb.st_mode) &&
                !(fn == ggdm_cmd_trace && i > 1 && strcmp(argv[i - 1], "-o") == 0))
                return 0;
        }
#endif
    rc = run(fn, argc, argv);
    FUZZ_CHECKF(rc == 0 || rc == 1 || rc == 2, "exit status %d", rc);
    if (out && out[0] && fn != ggdm_cmd_info && fn != ggdm_cmd_diff) {
        char p[4096 + MAX_ARG_LEN + 8];
        int help = 0;
        for (i = 1; i < argc; i++)
            help = help || strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
        snprintf(p, sizeof p, "%s/%s", sandbox, out);
        if (rc != 0 && fn != ggdm_cmd_trace) /* a failure leaves no output (trace's folder may stay) */
            FUZZ_CHECKF(stat(p, &sb) != 0, "%s failed (exit %d) but left %s behind", argv[0], rc, out);
        if (rc == 0 && !help) /* a success wrote it */
            FUZZ_CHECKF(stat(p, &sb) == 0, "%s succeeded but did not write %s", argv[0], out);
    }
    if (rc != 0) { /* and no temporary file either */
        DIR *d = opendir(sandbox);
        struct dirent *e;
        FUZZ_CHECK(d != NULL);
        while ((e = readdir(d)) != NULL)
            FUZZ_CHECKF(strstr(e->d_name, ".tmp.") == NULL, "%s left the temporary file %s", argv[0], e->d_name);
        closedir(d);
    }
    clean_sandbox();
    return 0;
}
