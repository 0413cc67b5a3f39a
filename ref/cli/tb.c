#define _POSIX_C_SOURCE 200809L
#include "tb.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "ggdm/status.h"
#include "io.h"

struct ggdm_tb {
    int fd;
    char *path;
    char error[512];
};

/* ---- CRC-32C ------------------------------------------------------------------------------ */

static uint32_t crc_table[256];
static int crc_table_ready;

static void crc_init(void)
{
    uint32_t i, c;
    int k;
    for (i = 0; i < 256; i++) {
        c = i;
        for (k = 0; k < 8; k++)
            c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
    crc_table_ready = 1;
}

uint32_t ggdm_crc32c(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    size_t i;
    if (!crc_table_ready)
        crc_init();
    for (i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

uint32_t ggdm_tb_masked_crc(const uint8_t *p, size_t n)
{
    uint32_t c = ggdm_crc32c(p, n);
    return (uint32_t)(((c >> 15) | (c << 17)) + 0xa282ead8u);
}

/* ---- protobuf encoding -------------------------------------------------------------------- */

static size_t put_varint(uint8_t *b, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80u) {
        b[n++] = (uint8_t)(v | 0x80u);
        v >>= 7;
    }
    b[n++] = (uint8_t)v;
    return n;
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80u) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t put_le(uint8_t *b, uint64_t v, int bytes)
{
    int i;
    for (i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return (size_t)bytes;
}

static size_t put_double(uint8_t *b, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return put_le(b, u, 8);
}

static size_t put_float(uint8_t *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return put_le(b, u, 4);
}

/* key = field number << 3 | wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32) */
#define PB_KEY(field, wt) ((uint8_t)(((field) << 3) | (wt)))

static double wall_time_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return (double)time(NULL);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- files -------------------------------------------------------------------------------- */

static void set_err(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    if (!err || cap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* mkdir -p */
static int make_dirs(const char *dir, char *err, size_t errcap)
{
    size_t len = strlen(dir), i;
    char *p = malloc(len + 1);
    struct stat st;
    if (!p) {
        set_err(err, errcap, "%s: out of memory", dir);
        return -1;
    }
    memcpy(p, dir, len + 1);
    for (i = 1; i <= len; i++) {
        if (p[i] == '/' || p[i] == '\0') {
            char saved = p[i];
            if (p[i - 1] == '/')
                continue;
            p[i] = '\0';
            if (!ggdm_io_exists(p))
                ggdm_io_fault_point("mkdir", p);
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                set_err(err, errcap, "%s: cannot create folder: %s", p, strerror(errno));
                free(p);
                return -1;
            }
            p[i] = saved;
        }
    }
    free(p);
    if (stat(dir, &st) != 0) {
        set_err(err, errcap, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        set_err(err, errcap, "%s: not a folder", dir);
        return -1;
    }
    return 0;
}

static int write_all(int fd, const uint8_t *b, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        b += (size_t)w;
        n -= (size_t)w;
    }
    return 0;
}

/* Frames data (len bytes at rec + 12) as one TFRecord in rec[0 .. len + 16) and writes it. */
static int write_record(ggdm_tb *tb, uint8_t *rec, size_t len)
{
    uint32_t c;
    put_le(rec, (uint64_t)len, 8);
    c = ggdm_tb_masked_crc(rec, 8);
    put_le(rec + 8, c, 4);
    c = ggdm_tb_masked_crc(rec + 12, len);
    put_le(rec + 12 + len, c, 4);
    ggdm_io_fault_point("write", tb->path);
    if (write_all(tb->fd, rec, len + 16) != 0) {
        snprintf(tb->error, sizeof tb->error, "%s: write failed: %s", tb->path, strerror(errno));
        return GGDM_ERR_IO;
    }
    return 0;
}

static void clean_host(char *h)
{
    char *s;
    for (s = h; *s; s++)
        if (*s == '/' || *s == '\\' || (unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
            *s = '_';
    if (!*h)
        strcpy(h, "localhost");
}

ggdm_tb *ggdm_tb_open(const char *dir, char *err, size_t errcap)
{
    static const char version[] = "brain.Event:2";
    char host[256];
    ggdm_tb *tb;
    size_t cap, k;
    double wt;
    int attempt;
    uint8_t rec[64];

    if (err && errcap)
        err[0] = '\0';
    if (!dir || !*dir) {
        set_err(err, errcap, "TensorBoard log folder: empty name");
        return NULL;
    }
    if (make_dirs(dir, err, errcap) != 0)
        return NULL;
    if (gethostname(host, sizeof host) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    clean_host(host);

    tb = calloc(1, sizeof *tb);
    cap = strlen(dir) + strlen(host) + 96;
    if (!tb || !(tb->path = malloc(cap))) {
        free(tb);
        set_err(err, errcap, "%s: out of memory", dir);
        return NULL;
    }
    wt = wall_time_now();
    tb->fd = -1;
    for (attempt = 1; attempt <= 1000 && tb->fd < 0; attempt++) {
        int n = snprintf(tb->path, cap, "%s%sevents.out.tfevents.%lld.%s.%ld.ggdm", dir,
                         dir[strlen(dir) - 1] == '/' ? "" : "/", (long long)time(NULL), host,
                         (long)getpid());
        if (attempt > 1)
            snprintf(tb->path + n, cap - (size_t)n, ".%d", attempt);
        ggdm_io_fault_point("create", tb->path);
        tb->fd = open(tb->path, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (tb->fd < 0 && errno != EEXIST)
            break;
    }
    if (tb->fd < 0) {
        set_err(err, errcap, "%s: cannot create: %s", tb->path, strerror(errno));
        free(tb->path);
        free(tb);
        return NULL;
    }

    /* Event{wall_time: 1, file_version: 3} */
    k = 12;
    rec[k++] = PB_KEY(1, 1);
    k += put_double(rec + k, wt);
    rec[k++] = PB_KEY(3, 2);
    k += put_varint(rec + k, sizeof version - 1);
    memcpy(rec + k, version, sizeof version - 1);
    k += sizeof version - 1;
    if (write_record(tb, rec, k - 12) != 0) {
        set_err(err, errcap, "%s", tb->error);
        close(tb->fd);
        unlink(tb->path);
        free(tb->path);
        free(tb);
        return NULL;
    }
    return tb;
}

int ggdm_tb_scalar(ggdm_tb *tb, const char *tag, int64_t step, double value)
{
    size_t tlen, vlen, slen, elen, k;
    uint8_t *rec;
    int rc;

    if (!tb)
        return GGDM_ERR_ARG;
    if (!tag || !*tag) {
        snprintf(tb->error, sizeof tb->error, "%s: empty scalar tag", tb->path);
        return GGDM_ERR_ARG;
    }
    tlen = strlen(tag);
    if (tlen > ((size_t)1 << 20)) {
        snprintf(tb->error, sizeof tb->error, "%s: scalar tag longer than 1 MiB", tb->path);
        return GGDM_ERR_ARG;
    }
    vlen = 1 + varint_len(tlen) + tlen + 1 + 4;                      /* Value */
    slen = 1 + varint_len(vlen) + vlen;                              /* Summary */
    elen = 1 + 8 + 1 + varint_len((uint64_t)step) + 1 + varint_len(slen) + slen; /* Event */
    rec = malloc(elen + 16);
    if (!rec) {
        snprintf(tb->error, sizeof tb->error, "%s: out of memory", tb->path);
        return GGDM_ERR_IO;
    }
    k = 12;
    rec[k++] = PB_KEY(1, 1); /* Event.wall_time */
    k += put_double(rec + k, wall_time_now());
    rec[k++] = PB_KEY(2, 0); /* Event.step (int64: two's complement varint) */
    k += put_varint(rec + k, (uint64_t)step);
    rec[k++] = PB_KEY(5, 2); /* Event.summary */
    k += put_varint(rec + k, slen);
    rec[k++] = PB_KEY(1, 2); /* Summary.value */
    k += put_varint(rec + k, vlen);
    rec[k++] = PB_KEY(1, 2); /* Value.tag */
    k += put_varint(rec + k, tlen);
    memcpy(rec + k, tag, tlen);
    k += tlen;
    rec[k++] = PB_KEY(2, 5); /* Value.simple_value */
    /* out-of-range double -> float conversion is undefined in C: saturate to infinity */
    k += put_float(rec + k, value > FLT_MAX ? HUGE_VALF : value < -FLT_MAX ? -HUGE_VALF : (float)value);
    rc = write_record(tb, rec, k - 12);
    free(rec);
    return rc;
}

const char *ggdm_tb_path(const ggdm_tb *tb)
{
    return tb ? tb->path : "";
}

const char *ggdm_tb_error(const ggdm_tb *tb)
{
    return tb ? tb->error : "";
}

void ggdm_tb_close(ggdm_tb *tb)
{
    if (!tb)
        return;
    if (tb->fd >= 0)
        close(tb->fd);
    free(tb->path);
    free(tb);
}
