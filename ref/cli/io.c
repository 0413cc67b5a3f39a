#define _POSIX_C_SOURCE 200809L
#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ggdm/bytes.h"

const char *ggdm_dtype_name(ggdm_dtype dt)
{
    switch (dt) {
    case GGDM_DT_F32: return "float32";
    case GGDM_DT_F64: return "float64";
    case GGDM_DT_I64: return "int64";
    case GGDM_DT_U32: return "uint32";
    }
    return "?";
}

ggdm_status ggdm_array_alloc(ggdm_array *a, ggdm_dtype dt, int ndim, const uint64_t *shape)
{
    uint64_t count = 1;
    int i;
    memset(a, 0, sizeof *a);
    if (ndim < 0 || ndim > GGDM_NPY_MAX_DIMS || ggdm_dtype_size(dt) == 0)
        return GGDM_ERR_ARG;
    for (i = 0; i < ndim; i++) {
        if (shape[i] != 0 && count > UINT64_MAX / shape[i])
            return GGDM_ERR_ARG;
        count *= shape[i];
        a->shape[i] = shape[i];
    }
    if (count > (uint64_t)(SIZE_MAX / 8))
        return GGDM_ERR_ARG;
    a->dtype = dt;
    a->ndim = ndim;
    a->count = count;
    a->data = calloc(count ? (size_t)count : 1, ggdm_dtype_size(dt));
    return a->data ? GGDM_OK : GGDM_ERR_IO;
}

void ggdm_array_free(ggdm_array *a)
{
    if (a) {
        free(a->data);
        a->data = NULL;
        a->count = 0;
    }
}

void ggdm_array_describe(const ggdm_array *a, char *buf, size_t cap)
{
    size_t used;
    int i;
    if (cap == 0)
        return;
    used = (size_t)snprintf(buf, cap, "(");
    for (i = 0; i < a->ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%llu", i ? ", " : "",
                                 (unsigned long long)a->shape[i]);
    if (used < cap)
        snprintf(buf + used, cap - used, "%s) %s", a->ndim == 1 ? "," : "", ggdm_dtype_name(a->dtype));
}

ggdm_status ggdm_io_read_file(const char *path, uint8_t **buf, uint64_t *len, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    struct stat sb;
    long sz;
    uint8_t *p;
    *buf = NULL;
    *len = 0;
    if (!f) {
        snprintf(err, errcap, "%s: cannot open (%s)", path, strerror(errno));
        return GGDM_ERR_IO;
    }
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) { /* a folder's "size" is LONG_MAX */
        snprintf(err, errcap, "%s: not a regular file", path);
        fclose(f);
        return GGDM_ERR_IO;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        snprintf(err, errcap, "%s: cannot determine the size (not a regular file?)", path);
        fclose(f);
        return GGDM_ERR_IO;
    }
    p = (uint8_t *)malloc(sz ? (size_t)sz : 1);
    if (!p) {
        snprintf(err, errcap, "%s: out of memory reading %ld bytes", path, sz);
        fclose(f);
        return GGDM_ERR_IO;
    }
    if (sz && fread(p, 1, (size_t)sz, f) != (size_t)sz) {
        snprintf(err, errcap, "%s: read error", path);
        free(p);
        fclose(f);
        return GGDM_ERR_IO;
    }
    fclose(f);
    *buf = p;
    *len = (uint64_t)sz;
    return GGDM_OK;
}

ggdm_status ggdm_io_write_file(const char *path, const void *data, uint64_t len, char *err, size_t errcap)
{
    size_t n = strlen(path);
    char *tmp = (char *)malloc(n + 32);
    FILE *f;
    int ok;
    if (!tmp) {
        snprintf(err, errcap, "%s: out of memory", path);
        return GGDM_ERR_IO;
    }
    {
        /* a device or a pipe (/dev/null, /dev/stdout) is written in place: renaming the
         * temporary file over it would replace it (as root, /dev/null itself) */
        struct stat sb;
        if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) {
            free(tmp);
            f = fopen(path, "wb");
            ok = f && (len == 0 || fwrite(data, 1, (size_t)len, f) == (size_t)len);
            ok = f && (fclose(f) == 0) && ok;
            if (!ok) {
                snprintf(err, errcap, "%s: write failed (%s)", path, strerror(errno));
                return GGDM_ERR_IO;
            }
            return GGDM_OK;
        }
    }
    snprintf(tmp, n + 32, "%s.tmp.%ld", path, (long)getpid());
    ggdm_io_fault_point("create", tmp);
    f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, errcap, "%s: cannot create (%s)", tmp, strerror(errno));
        free(tmp);
        return GGDM_ERR_IO;
    }
    ggdm_io_fault_point("write", tmp);
    ok = (len == 0 || fwrite(data, 1, (size_t)len, f) == (size_t)len);
    ok = (fflush(f) == 0) && ok;
    ggdm_io_fault_point("fsync", tmp);
    ok = (fsync(fileno(f)) == 0 || errno == EINVAL) && ok;
    ok = (fclose(f) == 0) && ok;
    if (!ok || ggdm_io_rename(tmp, path) != 0) {
        snprintf(err, errcap, "%s: write failed (%s); nothing was written", path, strerror(errno));
        remove(tmp);
        free(tmp);
        return GGDM_ERR_IO;
    }
    free(tmp);
    return GGDM_OK;
}

ggdm_status ggdm_io_load_npy(const char *path, ggdm_array *a, char *err, size_t errcap)
{
    uint8_t *buf;
    uint64_t len;
    ggdm_npy_info info;
    ggdm_status st;
    memset(a, 0, sizeof *a);
    st = ggdm_io_read_file(path, &buf, &len, err, errcap);
    if (st != GGDM_OK)
        return st;
    st = ggdm_npy_parse(buf, len, len, &info);
    if (st != GGDM_OK) {
        snprintf(err, errcap, "%s: %s", path, info.msg);
        free(buf);
        return st;
    }
    st = ggdm_array_alloc(a, info.dtype, info.ndim, info.shape);
    if (st != GGDM_OK) {
        snprintf(err, errcap, "%s: cannot hold %llu elements in memory", path, (unsigned long long)info.count);
        free(buf);
        return st;
    }
    switch (info.dtype) {
    case GGDM_DT_F32: st = ggdm_npy_decode_f32(&info, buf + info.header_bytes, (float *)a->data, a->count); break;
    case GGDM_DT_F64: st = ggdm_npy_decode_f64(&info, buf + info.header_bytes, (double *)a->data, a->count); break;
    case GGDM_DT_I64: st = ggdm_npy_decode_i64(&info, buf + info.header_bytes, (int64_t *)a->data, a->count); break;
    case GGDM_DT_U32: st = ggdm_npy_decode_u32(&info, buf + info.header_bytes, (uint32_t *)a->data, a->count); break;
    }
    free(buf);
    if (st != GGDM_OK) {
        snprintf(err, errcap, "%s: %s", path, info.msg);
        ggdm_array_free(a);
    }
    return st;
}

ggdm_status ggdm_io_npy_bytes(const ggdm_array *a, uint8_t **out, uint64_t *out_len)
{
    uint8_t hdr[GGDM_NPY_WRITE_HEADER_MAX];
    uint64_t hlen = 0, dlen = a->count * ggdm_dtype_size(a->dtype);
    uint8_t *buf;
    ggdm_status st = ggdm_npy_header_write(a->dtype, a->ndim, a->shape, hdr, sizeof hdr, &hlen);
    if (st != GGDM_OK)
        return st;
    buf = (uint8_t *)malloc((size_t)(hlen + dlen) + 1);
    if (!buf)
        return GGDM_ERR_IO;
    memcpy(buf, hdr, (size_t)hlen);
    switch (a->dtype) {
    case GGDM_DT_F32: ggdm_npy_encode_f32((const float *)a->data, a->count, buf + hlen); break;
    case GGDM_DT_F64: ggdm_npy_encode_f64((const double *)a->data, a->count, buf + hlen); break;
    case GGDM_DT_I64: ggdm_npy_encode_i64((const int64_t *)a->data, a->count, buf + hlen); break;
    case GGDM_DT_U32: ggdm_npy_encode_u32((const uint32_t *)a->data, a->count, buf + hlen); break;
    }
    *out = buf;
    *out_len = hlen + dlen;
    return GGDM_OK;
}

ggdm_status ggdm_io_save_npy(const char *path, const ggdm_array *a, char *err, size_t errcap)
{
    uint8_t *buf;
    uint64_t len;
    ggdm_status st = ggdm_io_npy_bytes(a, &buf, &len);
    if (st != GGDM_OK) {
        snprintf(err, errcap, "%s: cannot encode the array (%s)", path, ggdm_status_str(st));
        return st;
    }
    st = ggdm_io_write_file(path, buf, len, err, errcap);
    free(buf);
    return st;
}

void *ggdm_io_aligned_alloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0)
        return NULL;
    return p;
}

const char *ggdm_io_shown(char *out, size_t cap, const void *s, uint64_t n)
{
    const uint8_t *b = (const uint8_t *)s;
    uint64_t i, k = n < cap - 4 ? n : cap - 4;
    for (i = 0; i < k; i++)
        out[i] = (b[i] >= 0x20 && b[i] <= 0x7e) ? (char)b[i] : '?';
    if (k < n) {
        out[k++] = '.';
        out[k++] = '.';
        out[k++] = '.';
    }
    out[k] = '\0';
    return out;
}

void ggdm_io_fault_point(const char *op, const char *path)
{
    static long count = 0, at = -1;
    static int trace = -1;
    if (trace < 0) {
        const char *a = getenv("GGDM_FAULT_AT"), *t = getenv("GGDM_FAULT_TRACE");
        at = a && *a ? strtol(a, NULL, 10) : 0;
        trace = t && t[0] == '1';
    }
    if (at <= 0 && !trace)
        return;
    count++;
    if (trace)
        fprintf(stderr, "ggdm-fault %ld %s %s\n", count, op, path);
    if (count == at) {
        fflush(NULL);
        kill(getpid(), SIGKILL);
        _exit(137); /* not reached */
    }
}

int ggdm_io_sync_dir(const char *dir)
{
    int fd, r;
    ggdm_io_fault_point("fsync-dir", dir);
    fd = open(dir, O_RDONLY);
    if (fd < 0)
        return -1;
    r = fsync(fd);
    close(fd);
    return (r == 0 || errno == EINVAL) ? 0 : -1;
}

int ggdm_io_rename(const char *from, const char *to)
{
    ggdm_io_fault_point("rename", to);
    return rename(from, to);
}

int ggdm_io_exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

int ggdm_io_remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        int ok = d != NULL;
        while (ok && (e = readdir(d)) != NULL) {
            size_t n;
            char *sub;
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            n = strlen(path) + strlen(e->d_name) + 2;
            sub = (char *)malloc(n);
            ok = sub != NULL;
            if (ok) {
                snprintf(sub, n, "%s/%s", path, e->d_name);
                ok = ggdm_io_remove_tree(sub) == 0;
                free(sub);
            }
        }
        if (d)
            closedir(d);
        if (!ok)
            return -1;
        ggdm_io_fault_point("rmdir", path);
        return rmdir(path);
    }
    ggdm_io_fault_point("unlink", path);
    return unlink(path);
}

int ggdm_io_probe_writable(const char *dir)
{
    char p[4096];
    int fd;
    if (snprintf(p, sizeof p, "%s/.ggdm-probe.%ld", dir, (long)getpid()) >= (int)sizeof p) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0)
        return -1;
    close(fd);
    unlink(p);
    return 0;
}

int ggdm_io_mkdirs(const char *dir)
{
    char buf[4096];
    char *p;
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (!ggdm_io_exists(buf))
                ggdm_io_fault_point("mkdir", buf);
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    if (!ggdm_io_exists(buf))
        ggdm_io_fault_point("mkdir", buf);
    return (mkdir(buf, 0777) == 0 || errno == EEXIST) ? 0 : -1;
}

ggdm_status ggdm_io_save(const char *path, ggdm_dtype dt, int ndim, const uint64_t *shape, const void *data, char *err,
                         size_t errcap)
{
    ggdm_array a;
    int d;
    memset(&a, 0, sizeof a);
    a.dtype = dt;
    a.ndim = ndim;
    a.count = 1;
    for (d = 0; d < ndim; d++) {
        a.shape[d] = shape[d];
        a.count *= shape[d];
    }
    a.data = (void *)data;
    return ggdm_io_save_npy(path, &a, err, errcap);
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    ggdm_le_store_u32(p, v);
}

ggdm_status ggdm_io_save_npz(const char *path, const char *const *names, const ggdm_array *arrays, int n,
                             char *err, size_t errcap)
{
    /* A zip of stored (method 0) members "NAME.npy"; sizes below 4 GiB (no ZIP64). */
    uint8_t **blobs = (uint8_t **)calloc((size_t)n + 1, sizeof *blobs);
    uint64_t *lens = (uint64_t *)calloc((size_t)n + 1, sizeof *lens);
    uint64_t total = 22, off = 0, cd_start, cd_len = 0;
    uint8_t *zip = NULL, *p;
    ggdm_status st = GGDM_OK;
    int i;
    if (!blobs || !lens) {
        st = GGDM_ERR_IO;
        snprintf(err, errcap, "%s: out of memory", path);
        goto done;
    }
    for (i = 0; i < n; i++) {
        size_t nl = strlen(names[i]) + 4;
        st = ggdm_io_npy_bytes(&arrays[i], &blobs[i], &lens[i]);
        if (st != GGDM_OK || lens[i] >= 0xFFFFFFFFull) {
            snprintf(err, errcap, "%s: cannot encode member %s", path, names[i]);
            st = st != GGDM_OK ? st : GGDM_ERR_UNSUPPORTED;
            goto done;
        }
        total += 30 + nl + lens[i] + 46 + nl;
    }
    if (total >= 0xFFFFFFFFull) {
        snprintf(err, errcap, "%s: archive over 4 GiB is not supported", path);
        st = GGDM_ERR_UNSUPPORTED;
        goto done;
    }
    zip = (uint8_t *)calloc((size_t)total, 1);
    if (!zip) {
        st = GGDM_ERR_IO;
        snprintf(err, errcap, "%s: out of memory", path);
        goto done;
    }
    p = zip;
    for (i = 0; i < n; i++) { /* local headers + data */
        size_t nl = strlen(names[i]);
        uint32_t crc = ggdm_crc32(0, blobs[i], lens[i]);
        put32(p, 0x04034b50u); put16(p + 4, 20); put16(p + 6, 0); put16(p + 8, 0);
        put16(p + 10, 0); put16(p + 12, 0x21); /* 1980-01-01 00:00 */
        put32(p + 14, crc); put32(p + 18, (uint32_t)lens[i]); put32(p + 22, (uint32_t)lens[i]);
        put16(p + 26, (uint32_t)(nl + 4)); put16(p + 28, 0);
        memcpy(p + 30, names[i], nl);
        memcpy(p + 30 + nl, ".npy", 4);
        memcpy(p + 34 + nl, blobs[i], (size_t)lens[i]);
        p += 34 + nl + lens[i];
    }
    cd_start = (uint64_t)(p - zip);
    for (i = 0; i < n; i++) { /* central directory */
        size_t nl = strlen(names[i]);
        uint32_t crc = ggdm_crc32(0, blobs[i], lens[i]);
        put32(p, 0x02014b50u); put16(p + 4, 20); put16(p + 6, 20); put16(p + 8, 0); put16(p + 10, 0);
        put16(p + 12, 0); put16(p + 14, 0x21);
        put32(p + 16, crc); put32(p + 20, (uint32_t)lens[i]); put32(p + 24, (uint32_t)lens[i]);
        put16(p + 28, (uint32_t)(nl + 4)); put16(p + 30, 0); put16(p + 32, 0); put16(p + 34, 0);
        put16(p + 36, 0); put32(p + 38, 0); put32(p + 42, (uint32_t)off);
        memcpy(p + 46, names[i], nl);
        memcpy(p + 46 + nl, ".npy", 4);
        off += 34 + nl + lens[i];
        p += 50 + nl;
        cd_len += 50 + nl;
    }
    put32(p, 0x06054b50u); put16(p + 4, 0); put16(p + 6, 0); put16(p + 8, (uint32_t)n);
    put16(p + 10, (uint32_t)n); put32(p + 12, (uint32_t)cd_len); put32(p + 16, (uint32_t)cd_start);
    put16(p + 20, 0);
    p += 22;
    st = ggdm_io_write_file(path, zip, (uint64_t)(p - zip), err, errcap);
done:
    if (blobs)
        for (i = 0; i < n; i++)
            free(blobs[i]);
    free(blobs);
    free(lens);
    free(zip);
    return st;
}

ggdm_status ggdm_io_map_file(const char *path, ggdm_io_map *m, char *err, size_t errcap)
{
    int fd;
    struct stat sb;
    void *p;
    if (!m || !path)
        return GGDM_ERR_ARG;
    m->data = NULL;
    m->len = 0;
    fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(err, errcap, "%s: cannot open (%s)", path, strerror(errno));
        return GGDM_ERR_IO;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, errcap, "%s: not a regular file", path);
        close(fd);
        return GGDM_ERR_IO;
    }
    if (sb.st_size == 0) {
        close(fd);
        return GGDM_OK;
    }
    if ((uint64_t)sb.st_size > (uint64_t)(size_t)-1) {
        snprintf(err, errcap, "%s: %llu bytes do not fit in this machine's address space", path,
                 (unsigned long long)sb.st_size);
        close(fd);
        return GGDM_ERR_IO;
    }
    p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        snprintf(err, errcap, "%s: cannot map (%s)", path, strerror(errno));
        return GGDM_ERR_IO;
    }
    m->data = (const uint8_t *)p;
    m->len = (uint64_t)sb.st_size;
    return GGDM_OK;
}

void ggdm_io_unmap(ggdm_io_map *m)
{
    if (!m)
        return;
    if (m->data && m->len)
        munmap((void *)(uintptr_t)m->data, (size_t)m->len);
    m->data = NULL;
    m->len = 0;
}
