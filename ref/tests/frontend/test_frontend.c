/*
 * Tests of the front end's support modules (ref/cli/tb.c, plot.c, progress.c), built and run by
 * ci/test-frontend.sh from the repository root:
 *
 *   test_frontend [KEEP_DIR]
 *
 * Files go to a fresh temporary folder (removed at the end) or, given KEEP_DIR, there (kept:
 * the event files and demo.svg). Python (PYTHON, default python3) reads the event files back with
 * conformance/interop/read_tfevents.py and parses the SVGs with ref/tests/frontend/check_svg.py.
 * The last line is "frontend: N passed, M failed"; the exit status is 0 only if none failed.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ggdm/status.h"
#include "plot.h"
#include "progress.h"
#include "tb.h"

static int n_pass, n_fail;
static char tmpdir[512];
static const char *python;

static void check(int ok, const char *name, const char *fmt, ...)
{
    if (ok) {
        n_pass++;
        printf("frontend: ok: %s\n", name);
    } else {
        va_list ap;
        n_fail++;
        printf("frontend: FAIL: %s: ", name);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
    }
    fflush(stdout);
}

/* Runs cmd; its stdout (at most cap - 1 bytes) goes to out. Returns the exit status or -1. */
static int run_capture(const char *cmd, char *out, size_t cap)
{
    FILE *f = popen(cmd, "r");
    size_t n = 0, r;
    int st;
    if (!f)
        return -1;
    while (n + 1 < cap && (r = fread(out + n, 1, cap - 1 - n, f)) > 0)
        n += r;
    out[n] = '\0';
    while (fgetc(f) != EOF) {
    }
    st = pclose(f);
    return (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)(n < 0 ? 0 : n) + 1);
    if (buf && n >= 0 && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = '\0';
        if (len)
            *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* ---- CRC-32C ------------------------------------------------------------------------------- */

static void test_crc(void)
{
    uint8_t buf[32];
    int i, ok = 1;
    /* "123456789" and the iSCSI test vectors of RFC 3720, B.4 */
    ok &= ggdm_crc32c((const uint8_t *)"123456789", 9) == 0xE3069283u;
    check(ok, "crc32c(\"123456789\") == 0xE3069283", "got 0x%08X",
          (unsigned)ggdm_crc32c((const uint8_t *)"123456789", 9));
    ok = ggdm_crc32c((const uint8_t *)"", 0) == 0u && ggdm_crc32c((const uint8_t *)"a", 1) == 0xC1D04330u;
    check(ok, "crc32c of \"\" and \"a\"", "got 0x%08X 0x%08X", (unsigned)ggdm_crc32c(buf, 0),
          (unsigned)ggdm_crc32c((const uint8_t *)"a", 1));
    memset(buf, 0, 32);
    ok = ggdm_crc32c(buf, 32) == 0x8A9136AAu;
    memset(buf, 0xFF, 32);
    ok &= ggdm_crc32c(buf, 32) == 0x62A8AB43u;
    for (i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    ok &= ggdm_crc32c(buf, 32) == 0x46DD794Eu;
    for (i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    ok &= ggdm_crc32c(buf, 32) == 0x113FDB5Cu;
    check(ok, "crc32c RFC 3720 vectors (zeros, ones, incrementing, decrementing)", "mismatch");
    {
        uint32_t c = ggdm_crc32c((const uint8_t *)"123456789", 9);
        uint32_t m = (uint32_t)(((c >> 15) | (c << 17)) + 0xa282ead8u);
        check(ggdm_tb_masked_crc((const uint8_t *)"123456789", 9) == m, "masked crc32c", "0x%08X",
              (unsigned)ggdm_tb_masked_crc((const uint8_t *)"123456789", 9));
    }
}

/* ---- TensorBoard event files --------------------------------------------------------------- */

typedef struct scalar {
    const char *tag;
    int64_t step;
    double value;
} scalar;

/* Reads path back with read_tfevents.py; checks the version line and the scalars, in order. */
static int check_events(const char *path, const scalar *sc, int n, char *why, size_t whycap)
{
    char cmd[1200], out[16384], *line, *save = NULL;
    int rc, k = -1;
    snprintf(cmd, sizeof cmd, "PYTHONIOENCODING=utf-8 %s conformance/interop/read_tfevents.py '%s'", python, path);
    rc = run_capture(cmd, out, sizeof out);
    if (rc != 0) {
        snprintf(why, whycap, "read_tfevents.py exited %d", rc);
        return 0;
    }
    for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save), k++) {
        char *sp1, *sp2, *end;
        long long step;
        double v, want;
        if (k < 0) {
            if (strcmp(line, "file_version brain.Event:2") != 0) {
                snprintf(why, whycap, "first record is \"%s\"", line);
                return 0;
            }
            continue;
        }
        if (k >= n) {
            snprintf(why, whycap, "extra record \"%s\"", line);
            return 0;
        }
        sp1 = strchr(line, ' ');
        sp2 = strrchr(line, ' ');
        if (!sp1 || sp1 == sp2) {
            snprintf(why, whycap, "bad line \"%s\"", line);
            return 0;
        }
        *sp1 = *sp2 = '\0';
        step = strtoll(line, &end, 10);
        v = strtod(sp2 + 1, &end);
        want = (double)(float)sc[k].value;
        if (sc[k].value > 3.4028234663852886e38)
            want = HUGE_VAL;
        if (step != (long long)sc[k].step || strcmp(sp1 + 1, sc[k].tag) != 0 ||
            !(v == want || (isnan(v) && isnan(want)))) {
            snprintf(why, whycap, "record %d: got (%lld, %s, %s), expected (%lld, %s, %.9g)", k + 1, step,
                     sp1 + 1, sp2 + 1, (long long)sc[k].step, sc[k].tag, want);
            return 0;
        }
    }
    if (k != n) {
        snprintf(why, whycap, "%d scalars read back, expected %d", k < 0 ? 0 : k, n);
        return 0;
    }
    return 1;
}

static void test_tb(void)
{
    static const scalar sc[] = {
        {"reward/G", 0, 1.5},
        {"reward/G", 1, 3.21},
        {"reward/G_loss", 1, -2.75},
        {"off_support/G", 1, 0.0125},
        {"big/step", (int64_t)1 << 40, 1e-3},
        {"negative/step", -3, 42.0},
        {"r\xc3\xa9ward/\xce\xbb", 7, -0.0},
        {"special/nan", 8, NAN},
        {"special/inf", 9, -HUGE_VAL},
        {"special/overflow", 10, 1e300},
        {"special/tiny", 11, 1e-45},
    };
    const int n = (int)(sizeof sc / sizeof sc[0]);
    char dir[700], err[600], why[600], path[1200], pidpart[64];
    const char *base;
    ggdm_tb *tb, *tb2;
    int i, ok;

    snprintf(dir, sizeof dir, "%s/runs/sub", tmpdir);
    tb = ggdm_tb_open(dir, err, sizeof err);
    check(tb != NULL, "tb: opens a new event file, creating the folders", "%s", err);
    if (!tb)
        return;
    snprintf(path, sizeof path, "%s", ggdm_tb_path(tb));
    base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    snprintf(pidpart, sizeof pidpart, ".%ld.ggdm", (long)getpid());
    ok = strncmp(base, "events.out.tfevents.", 20) == 0 && strlen(base) > strlen(pidpart) &&
         strcmp(base + strlen(base) - strlen(pidpart), pidpart) == 0 && strncmp(path, dir, strlen(dir)) == 0;
    check(ok, "tb: file name events.out.tfevents.<secs>.<host>.<pid>.ggdm", "%s", path);

    ok = check_events(path, sc, 0, why, sizeof why);
    check(ok, "tb: a fresh file holds the file_version record", "%s", why);

    ok = 1;
    for (i = 0; i < n; i++)
        ok &= ggdm_tb_scalar(tb, sc[i].tag, sc[i].step, sc[i].value) == 0;
    check(ok, "tb: scalars written", "%s", ggdm_tb_error(tb));
    /* before close: every record must already be in the file (an interrupted run keeps its log) */
    ok = check_events(path, sc, n, why, sizeof why);
    check(ok, "tb: read back before close by read_tfevents.py (CRCs, steps, tags, values)", "%s", why);

    check(ggdm_tb_scalar(tb, "", 1, 1.0) == GGDM_ERR_ARG && ggdm_tb_scalar(tb, NULL, 1, 1.0) == GGDM_ERR_ARG &&
              strstr(ggdm_tb_error(tb), "tag") != NULL,
          "tb: empty tag refused", "%s", ggdm_tb_error(tb));

    /* a second writer in the same second gets another file */
    tb2 = ggdm_tb_open(dir, err, sizeof err);
    ok = tb2 && strcmp(ggdm_tb_path(tb2), path) != 0 && ggdm_tb_scalar(tb2, "x", 1, 2.0) == 0;
    check(ok, "tb: a second log in the same folder gets its own file", "%s", tb2 ? ggdm_tb_path(tb2) : err);
    if (tb2) {
        scalar one = {"x", 1, 2.0};
        ok = check_events(ggdm_tb_path(tb2), &one, 1, why, sizeof why);
        check(ok, "tb: second file read back", "%s", why);
    }
    ggdm_tb_close(tb2);
    ggdm_tb_close(tb);
    ggdm_tb_close(NULL);
    ok = check_events(path, sc, n, why, sizeof why);
    check(ok, "tb: read back after close", "%s", why);

    /* the reader is not a rubber stamp: one flipped data byte fails the CRC */
    {
        size_t len;
        char *raw = read_all(path, &len), cpath[1300], cmd[1500], out[4096];
        FILE *f;
        int rc = -1;
        snprintf(cpath, sizeof cpath, "%s/corrupt.tfevents", tmpdir);
        if (raw && len > 60 && (f = fopen(cpath, "wb")) != NULL) {
            raw[len - 10] ^= 0x01;
            fwrite(raw, 1, len, f);
            fclose(f);
            snprintf(cmd, sizeof cmd, "%s conformance/interop/read_tfevents.py '%s' 2>&1", python, cpath);
            rc = run_capture(cmd, out, sizeof out);
        }
        check(rc == 1 && strstr(out, "CRC") != NULL, "tb: read_tfevents.py rejects a corrupted record",
              "exit %d", rc);
        free(raw);
    }

    /* a folder that cannot be created */
    {
        char fpath[800];
        FILE *f;
        snprintf(fpath, sizeof fpath, "%s/plainfile", tmpdir);
        f = fopen(fpath, "w");
        if (f)
            fclose(f);
        err[0] = '\0';
        tb = ggdm_tb_open(fpath, err, sizeof err);
        check(tb == NULL && strstr(err, "plainfile") != NULL, "tb: a file in place of the folder is an error",
              "err \"%s\"", err);
        ggdm_tb_close(tb);
    }
}

/* ---- SVG plots ----------------------------------------------------------------------------- */

static int svg_check(const char *path, char *out, size_t cap)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "PYTHONIOENCODING=utf-8 %s ref/tests/frontend/check_svg.py '%s'", python, path);
    return run_capture(cmd, out, cap);
}

static void test_plot(void)
{
    enum { R = 12 };
    double rounds[R], g[R], gl[R], og[R], ogl[R];
    static char out[65536];
    char path[700], err[600];
    ggdm_plot_series s1[2], s2[2];
    ggdm_plot_panel pn[2];
    int i, rc;

    for (i = 0; i < R; i++) {
        double t = (double)(i + 1);
        rounds[i] = t;
        g[i] = 0.8 + 2.6 * (1.0 - exp(-t / 3.0)) + 0.05 * sin(3.0 * t);
        gl[i] = 0.8 + 2.1 * (1.0 - exp(-t / 4.0)) + 0.04 * cos(2.0 * t);
        og[i] = 0.004 * exp(0.55 * t);
        ogl[i] = 0.003 * (1.0 + 0.15 * t);
    }
    gl[5] = NAN; /* a missing round: the line breaks there */
    memset(s1, 0, sizeof s1);
    memset(s2, 0, sizeof s2);
    s1[0].name = "G";
    s1[0].x = rounds;
    s1[0].y = g;
    s1[0].n = R;
    s1[1].name = "G_loss";
    s1[1].x = rounds;
    s1[1].y = gl;
    s1[1].n = R;
    s2[0] = s1[0];
    s2[0].y = og;
    s2[1] = s1[1];
    s2[1].y = ogl;
    pn[0].title = "reward";
    pn[0].ylabel = "mean reward";
    pn[0].log_y = 0;
    pn[0].series = s1;
    pn[0].nseries = 2;
    pn[1].title = "off-support ratio";
    pn[1].ylabel = "ratio";
    pn[1].log_y = 1;
    pn[1].series = s2;
    pn[1].nseries = 2;

    snprintf(path, sizeof path, "%s/demo.svg", tmpdir);
    rc = ggdm_plot_svg(path, "Gradient guidance: G vs G_loss", "round", pn, 2, err, sizeof err);
    check(rc == 0 && file_exists(path), "plot: demo figure written", "%s", err);
    rc = svg_check(path, out, sizeof out);
    check(rc == 0, "plot: demo figure is well-formed SVG (xml.etree)", "check_svg.py exited %d", rc);
    check(strstr(out, "text G\n") && strstr(out, "text G_loss\n") && strstr(out, "text reward\n") &&
              strstr(out, "text off-support ratio(log scale)\n") && strstr(out, "text round\n") &&
              strstr(out, "text Gradient guidance: G vs G_loss\n") && strstr(out, "paths 4\n"),
          "plot: names, titles, labels and one line per series", "%s", out);
    check(strstr(out, "text 0.01\n") != NULL && strstr(out, "text 0.1\n") != NULL,
          "plot: log axis labelled by decades", "%s", out);

    /* hostile and degenerate input: markup in names, bytes that are not UTF-8, constant, empty and
       all-NaN series, a log panel with non-positive values, a panel without series */
    {
        double c[3] = {2.5, 2.5, 2.5}, nanv[3] = {NAN, HUGE_VAL, -HUGE_VAL}, neg[4] = {-1.0, 0.0, 1e-3, 1e4};
        double one[1] = {7.0}, onex[1] = {3.0};
        ggdm_plot_series hs[5];
        ggdm_plot_panel hp[3];
        memset(hs, 0, sizeof hs);
        memset(hp, 0, sizeof hp);
        hs[0].name = "a<b & \"c\" 'd'>";
        hs[0].y = c;
        hs[0].n = 3;
        hs[1].name = "bad\xff\xfe utf8 \x01";
        hs[1].y = nanv;
        hs[1].n = 3;
        hs[2].name = NULL;
        hs[2].y = NULL;
        hs[2].n = 0;
        hs[3].name = "neg";
        hs[3].y = neg;
        hs[3].n = 4;
        hs[4].name = "single";
        hs[4].x = onex;
        hs[4].y = one;
        hs[4].n = 1;
        hp[0].title = "constant & <empty>";
        hp[0].series = hs;
        hp[0].nseries = 3;
        hp[1].title = "log";
        hp[1].log_y = 1;
        hp[1].series = hs + 3;
        hp[1].nseries = 2;
        hp[2].title = NULL;
        hp[2].series = NULL;
        hp[2].nseries = 0;
        snprintf(path, sizeof path, "%s/hostile.svg", tmpdir);
        rc = ggdm_plot_svg(path, "t\xc3\xa9st <&>", NULL, hp, 3, err, sizeof err);
        check(rc == 0, "plot: degenerate input written", "%s", err);
        rc = svg_check(path, out, sizeof out);
        check(rc == 0 && strstr(out, "text a<b & \"c\" 'd'>\n") && strstr(out, "text t\xc3\xa9st <&>\n") &&
                  strstr(out, "text no data\n") && strstr(out, "text single\n"),
              "plot: degenerate input is well-formed, escaped, 'no data' shown", "exit %d: %s", rc, out);
        check(strstr(out, "text 2.5\n") != NULL, "plot: a constant series gets a range around its value",
              "%s", out);
    }

    /* spread: a band (one closed translucent path) or error bars; the range covers lo .. hi */
    {
        double m[3] = {1.0, 2.0, 3.0}, lo[3] = {0.5, 1.5, -7.0}, hi[3] = {1.5, 2.5, 13.0};
        ggdm_plot_series ss;
        ggdm_plot_panel sp;
        char *svg = NULL;
        size_t len = 0;
        memset(&ss, 0, sizeof ss);
        memset(&sp, 0, sizeof sp);
        ss.name = "mean";
        ss.y = m;
        ss.n = 3;
        ss.lo = lo;
        ss.hi = hi;
        sp.series = &ss;
        sp.nseries = 1;
        rc = ggdm_plot_svg_string("t", "x", &sp, 1, &svg, &len, err, sizeof err);
        check(rc == 0 && svg && strstr(svg, "fill-opacity=\"0.2\"") && strstr(svg, " Z\"") &&
                  strstr(svg, ">-5<") && strstr(svg, ">10<"),
              "plot: a spread band is drawn and the axis covers it (-7 .. 13)", "rc %d", rc);
        free(svg);
        svg = NULL;
        ss.bars = 1;
        rc = ggdm_plot_svg_string("t", "x", &sp, 1, &svg, &len, err, sizeof err);
        check(rc == 0 && svg && !strstr(svg, "fill-opacity=\"0.2\"") && strstr(svg, "stroke-width=\"1.5\""),
              "plot: error bars instead of a band", "rc %d", rc);
        free(svg);
    }

    /* bad arguments: refused with a message, nothing written */
    {
        ggdm_plot_series bs = {"x", NULL, NULL, 3, NULL, NULL, 0};
        ggdm_plot_panel bp = {"p", NULL, 0, NULL, 1};
        snprintf(path, sizeof path, "%s/bad.svg", tmpdir);
        err[0] = '\0';
        rc = ggdm_plot_svg(path, "t", "x", pn, 0, err, sizeof err);
        check(rc == GGDM_ERR_ARG && err[0] && !file_exists(path), "plot: zero panels refused", "rc %d", rc);
        err[0] = '\0';
        rc = ggdm_plot_svg(path, "t", "x", &bp, 1, err, sizeof err);
        check(rc == GGDM_ERR_ARG && err[0] && !file_exists(path), "plot: missing series refused", "rc %d", rc);
        bp.series = &bs;
        err[0] = '\0';
        rc = ggdm_plot_svg(path, "t", "x", &bp, 1, err, sizeof err);
        check(rc == GGDM_ERR_ARG && strstr(err, "y") && !file_exists(path), "plot: missing y values refused",
              "rc %d %s", rc, err);
        snprintf(path, sizeof path, "%s/no/such/dir/x.svg", tmpdir);
        err[0] = '\0';
        rc = ggdm_plot_svg(path, "t", "x", pn, 2, err, sizeof err);
        check(rc == GGDM_ERR_IO && strstr(err, "x.svg") != NULL, "plot: unwritable path is an I/O error",
              "rc %d %s", rc, err);
    }
}

/* ---- progress ------------------------------------------------------------------------------ */

/* Runs a short progress session with stderr and stdout redirected to files; returns stderr. */
static char *progress_session(const char *progress_env, const char *columns, int updates, size_t *outlen,
                              int *stdout_len)
{
    char epath[700], opath[700];
    int efd, ofd, saved2, saved1, i;
    ggdm_progress p;
    size_t olen = 0;
    char *o, *e;

    snprintf(epath, sizeof epath, "%s/progress.err", tmpdir);
    snprintf(opath, sizeof opath, "%s/progress.out", tmpdir);
    if (progress_env)
        setenv("GGDM_PROGRESS", progress_env, 1);
    else
        unsetenv("GGDM_PROGRESS");
    if (columns)
        setenv("COLUMNS", columns, 1);
    else
        unsetenv("COLUMNS");
    fflush(stdout);
    fflush(stderr);
    efd = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ofd = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    saved2 = dup(2);
    saved1 = dup(1);
    dup2(efd, 2);
    dup2(ofd, 1);

    ggdm_progress_start(&p, "guidance", (uint64_t)updates);
    for (i = 1; i <= updates; i++) {
        char extra[64];
        snprintf(extra, sizeof extra, "reward %.2f", 3.0 + 0.01 * i);
        ggdm_progress_update(&p, (uint64_t)i, extra);
    }
    ggdm_progress_finish(&p);

    fflush(stdout);
    fflush(stderr);
    dup2(saved2, 2);
    dup2(saved1, 1);
    close(saved2);
    close(saved1);
    close(efd);
    close(ofd);
    unsetenv("GGDM_PROGRESS");
    unsetenv("COLUMNS");
    o = read_all(opath, &olen);
    *stdout_len = o ? (int)olen : -1;
    free(o);
    e = read_all(epath, outlen);
    return e;
}

static int max_segment(const char *s)
{
    int m = 0, cur = 0;
    for (; *s; s++) {
        if (*s == '\r' || *s == '\n')
            cur = 0;
        else if (((unsigned char)*s & 0xC0) != 0x80 && ++cur > m)
            m = cur;
    }
    return m;
}

static void test_progress(void)
{
    size_t len = 0;
    int outlen = 0, redraws = 0;
    char *e;
    const char *q;

    e = progress_session(NULL, NULL, 50, &len, &outlen);
    check(e && len == 0 && outlen == 0, "progress: silent when stderr is not a terminal", "%d bytes", (int)len);
    free(e);

    e = progress_session("0", NULL, 50, &len, &outlen);
    check(e && len == 0 && outlen == 0, "progress: GGDM_PROGRESS=0 silences it", "%d bytes", (int)len);
    free(e);

    e = progress_session("1", NULL, 100000, &len, &outlen);
    check(e && len > 0 && outlen == 0, "progress: GGDM_PROGRESS=1 draws on stderr, never stdout",
          "stderr %d bytes, stdout %d bytes", (int)len, outlen);
    if (e) {
        for (q = e; *q; q++)
            redraws += *q == '\r';
        check(strstr(e, "guidance") && strstr(e, "100000/100000") && strstr(e, "100%") &&
                  strstr(e, "reward 1003.00") && strstr(e, "it/s") && e[0] == '\r' && e[len - 1] == '\n' &&
                  strchr(e, '\n') == e + len - 1,
              "progress: label, done/total, rate, extra, one line ended by finish", "\"%s\"", e);
        check(redraws >= 2 && redraws <= 12, "progress: throttled to ~10 redraws a second",
              "%d redraws for 100000 updates", redraws);
        check(max_segment(e) <= 79, "progress: fits 80 columns", "%d columns", max_segment(e));
    }
    free(e);

    e = progress_session("1", "40", 3, &len, &outlen);
    check(e && len > 0 && max_segment(e) <= 39, "progress: cut to COLUMNS", "\"%s\"", e ? e : "");
    free(e);
}

/* ---- main ---------------------------------------------------------------------------------- */

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    if (d) {
        while ((de = readdir(d)) != NULL) {
            char sub[1200];
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
            remove_tree(sub);
        }
        closedir(d);
        rmdir(path);
    } else
        unlink(path);
}

int main(int argc, char **argv)
{
    int keep = argc > 1;
    python = getenv("PYTHON") ? getenv("PYTHON") : "python3";
    if (keep) {
        snprintf(tmpdir, sizeof tmpdir, "%s", argv[1]);
        mkdir(tmpdir, 0777);
    } else {
        const char *t = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/ggdm-frontend.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmpdir)) {
            printf("frontend: cannot create a temporary folder: %s\n", strerror(errno));
            printf("frontend: 0 passed, 1 failed\n");
            return 1;
        }
    }
    test_crc();
    test_tb();
    test_plot();
    test_progress();
    if (!keep)
        remove_tree(tmpdir);
    printf("frontend: %d passed, %d failed\n", n_pass, n_fail);
    return n_fail == 0 ? 0 : 1;
}
