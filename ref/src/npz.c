/*
 * npz.c - member lookup in stored (uncompressed) zip archives, as np.savez writes
 * them. The archive is in caller memory; every offset and size read from it is
 * checked against its length with overflow-safe arithmetic before use.
 * See ggdm/npy.h for the API and docs/formats.md for what is accepted and why.
 *
 * Layout used (APPNOTE.TXT 6.3): [local header + data]* central directory
 * [ZIP64 end record, ZIP64 locator] End of Central Directory record.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ggdm/bytes.h"
#include "ggdm/npy.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u

#define LOCAL_FIXED 30u
#define CENTRAL_FIXED 46u
#define EOCD_FIXED 22u
#define EOCD64_FIXED 56u
#define LOC64_FIXED 20u

typedef unsigned long long ull;

static ggdm_status fail(char *msg, ggdm_status st, const char *fmt, ...)
{
    va_list ap;
    if (msg) {
        va_start(ap, fmt);
        vsnprintf(msg, GGDM_NPY_MSG_LEN, fmt, ap);
        va_end(ap);
    }
    return st;
}

static void ok_msg(char *msg)
{
    if (msg) {
        msg[0] = '\0';
    }
}

/* A printable, truncated copy of a name for messages (non-printable bytes -> '?'). */
#define SHOWN_NAME 48
static const char *shown(char out[SHOWN_NAME], const uint8_t *s, uint64_t n)
{
    uint64_t i, k = n < SHOWN_NAME - 4 ? n : SHOWN_NAME - 4;
    for (i = 0; i < k; i++) {
        out[i] = (s[i] >= 0x20 && s[i] <= 0x7e) ? (char)s[i] : '?';
    }
    if (k < n) {
        out[k++] = '.';
        out[k++] = '.';
        out[k++] = '.';
    }
    out[k] = '\0';
    return out;
}

uint32_t ggdm_crc32(uint32_t crc, const uint8_t *p, uint64_t n)
{
    /* Reflected polynomial 0xEDB88320, four bits at a time. */
    static const uint32_t tab[16] = {
        0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u,
        0x4db26158u, 0x5005713cu, 0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
        0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu};
    uint64_t i;
    if (!p) {
        return crc;
    }
    crc = ~crc;
    for (i = 0; i < n; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ tab[crc & 15u];
        crc = (crc >> 4) ^ tab[crc & 15u];
    }
    return ~crc;
}

ggdm_status ggdm_npz_iter_init(const uint8_t *zip, uint64_t zip_len, ggdm_npz_iter *it,
                               char *msg)
{
    uint64_t pos, lowest, eocd = 0, end_of_cd, entries, cd_off, cd_size;
    uint32_t disk, cd_disk;
    uint64_t n_disk;
    int found = 0;

    if (!zip || !it) {
        return fail(msg, GGDM_ERR_ARG, "npz: null argument");
    }
    memset(it, 0, sizeof *it);
    if (zip_len < EOCD_FIXED) {
        return fail(msg, GGDM_ERR_FORMAT, "npz: %llu bytes is too short for a zip archive",
                    (ull)zip_len);
    }
    /* The EOCD record is the last 22 bytes plus a comment of up to 65535 bytes; take
     * the last candidate whose comment length reaches exactly to the end. */
    lowest = zip_len - EOCD_FIXED > 65535u ? zip_len - EOCD_FIXED - 65535u : 0;
    for (pos = zip_len - EOCD_FIXED + 1; pos-- > lowest;) {
        if (ggdm_le_load_u32(zip + pos) == SIG_EOCD &&
            (uint64_t)ggdm_le_load_u16(zip + pos + 20) == zip_len - pos - EOCD_FIXED) {
            eocd = pos;
            found = 1;
            break;
        }
    }
    if (!found) {
        return fail(msg, GGDM_ERR_FORMAT,
                    "npz: no End of Central Directory record (not a zip archive, or truncated)");
    }
    disk = ggdm_le_load_u16(zip + eocd + 4);
    cd_disk = ggdm_le_load_u16(zip + eocd + 6);
    n_disk = ggdm_le_load_u16(zip + eocd + 8);
    entries = ggdm_le_load_u16(zip + eocd + 10);
    cd_size = ggdm_le_load_u32(zip + eocd + 12);
    cd_off = ggdm_le_load_u32(zip + eocd + 16);
    end_of_cd = eocd;

    if (eocd >= LOC64_FIXED && ggdm_le_load_u32(zip + eocd - LOC64_FIXED) == SIG_LOC64) {
        const uint8_t *loc = zip + eocd - LOC64_FIXED;
        uint64_t rec = ggdm_le_load_u64(loc + 8), rec_size;
        uint64_t loc_off = eocd - LOC64_FIXED;
        if (ggdm_le_load_u32(loc + 4) != 0 || ggdm_le_load_u32(loc + 16) > 1) {
            return fail(msg, GGDM_ERR_UNSUPPORTED,
                        "npz: multi-disk (split) zip archives are not supported");
        }
        if (rec > loc_off || loc_off - rec < EOCD64_FIXED ||
            ggdm_le_load_u32(zip + rec) != SIG_EOCD64) {
            return fail(msg, GGDM_ERR_FORMAT,
                        "npz: ZIP64 locator points to offset %llu, where no ZIP64 end record is",
                        (ull)rec);
        }
        rec_size = ggdm_le_load_u64(zip + rec + 4);
        if (rec_size < EOCD64_FIXED - 12u || rec_size != loc_off - rec - 12u) {
            return fail(msg, GGDM_ERR_FORMAT,
                        "npz: ZIP64 end record size %llu does not reach the locator",
                        (ull)rec_size);
        }
        disk = ggdm_le_load_u32(zip + rec + 16);
        cd_disk = ggdm_le_load_u32(zip + rec + 20);
        n_disk = ggdm_le_load_u64(zip + rec + 24);
        entries = ggdm_le_load_u64(zip + rec + 32);
        cd_size = ggdm_le_load_u64(zip + rec + 40);
        cd_off = ggdm_le_load_u64(zip + rec + 48);
        end_of_cd = rec;
    }
    if (disk != 0 || cd_disk != 0) {
        return fail(msg, GGDM_ERR_UNSUPPORTED,
                    "npz: multi-disk (split) zip archives are not supported");
    }
    if (n_disk != entries) {
        return fail(msg, GGDM_ERR_FORMAT,
                    "npz: end record counts %llu entries on this disk but %llu in total",
                    (ull)n_disk, (ull)entries);
    }
    if (cd_off > end_of_cd || cd_size != end_of_cd - cd_off) {
        return fail(msg, GGDM_ERR_FORMAT,
                    "npz: central directory (offset %llu, size %llu) does not end where the end "
                    "record begins (offset %llu)",
                    (ull)cd_off, (ull)cd_size, (ull)end_of_cd);
    }
    if (entries > cd_size / CENTRAL_FIXED) {
        return fail(msg, GGDM_ERR_FORMAT,
                    "npz: %llu entries cannot fit in a central directory of %llu bytes",
                    (ull)entries, (ull)cd_size);
    }
    it->entries = entries;
    it->index = 0;
    it->cd_offset = cd_off;
    it->cd_size = cd_size;
    it->pos = cd_off;
    ok_msg(msg);
    return GGDM_OK;
}

ggdm_status ggdm_npz_iter_next(const uint8_t *zip, uint64_t zip_len, ggdm_npz_iter *it,
                               ggdm_npz_member *m, int *has, char *msg)
{
    uint64_t p, cd_end, nlen, elen, clen, csize, usize, lho, disk_start, e, e_end;
    uint64_t lnlen, lelen, data_off, idx;
    uint16_t flags, method;
    const uint8_t *c;
    char nm[SHOWN_NAME];

    if (!zip || !it || !m || !has) {
        return fail(msg, GGDM_ERR_ARG, "npz: null argument");
    }
    *has = 0;
    if (it->cd_size > zip_len || it->cd_offset > zip_len - it->cd_size ||
        it->pos < it->cd_offset || it->pos - it->cd_offset > it->cd_size ||
        it->index > it->entries) {
        return fail(msg, GGDM_ERR_ARG, "npz: iterator does not belong to this archive");
    }
    cd_end = it->cd_offset + it->cd_size;
    idx = it->index;
    if (idx == it->entries) {
        if (it->pos != cd_end) {
            return fail(msg, GGDM_ERR_FORMAT,
                        "npz: central directory has %llu bytes after its %llu entries",
                        (ull)(cd_end - it->pos), (ull)it->entries);
        }
        ok_msg(msg);
        return GGDM_OK;
    }
    p = it->pos;
    if (cd_end - p < CENTRAL_FIXED || ggdm_le_load_u32(zip + p) != SIG_CENTRAL) {
        return fail(msg, GGDM_ERR_FORMAT, "npz: central directory entry %llu at offset %llu is "
                    "missing or truncated", (ull)idx, (ull)p);
    }
    c = zip + p;
    flags = ggdm_le_load_u16(c + 8);
    method = ggdm_le_load_u16(c + 10);
    csize = ggdm_le_load_u32(c + 20);
    usize = ggdm_le_load_u32(c + 24);
    nlen = ggdm_le_load_u16(c + 28);
    elen = ggdm_le_load_u16(c + 30);
    clen = ggdm_le_load_u16(c + 32);
    disk_start = ggdm_le_load_u16(c + 34);
    lho = ggdm_le_load_u32(c + 42);
    if (cd_end - p - CENTRAL_FIXED < nlen + elen + clen) {
        return fail(msg, GGDM_ERR_FORMAT,
                    "npz: central directory entry %llu overruns the central directory",
                    (ull)idx);
    }
    if (nlen == 0) {
        return fail(msg, GGDM_ERR_FORMAT, "npz: central directory entry %llu has an empty name",
                    (ull)idx);
    }
    shown(nm, c + CENTRAL_FIXED, nlen);

    /* Extra fields; the ZIP64 one (id 1) holds, in order, exactly the fields that
     * are 0xFFFFFFFF (0xFFFF for the disk) in the fixed part. */
    e = p + CENTRAL_FIXED + nlen;
    e_end = e + elen;
    while (e_end - e >= 4u) {
        uint16_t id = ggdm_le_load_u16(zip + e);
        uint64_t sz = ggdm_le_load_u16(zip + e + 2), q, q_end;
        if (sz > e_end - e - 4u) {
            return fail(msg, GGDM_ERR_FORMAT, "npz: member '%s': extra field overruns its entry",
                        nm);
        }
        if (id == 0x0001u) {
            q = e + 4u;
            q_end = q + sz;
            if (usize == 0xffffffffu) {
                if (q_end - q < 8u) {
                    goto short_zip64;
                }
                usize = ggdm_le_load_u64(zip + q);
                q += 8u;
            }
            if (csize == 0xffffffffu) {
                if (q_end - q < 8u) {
                    goto short_zip64;
                }
                csize = ggdm_le_load_u64(zip + q);
                q += 8u;
            }
            if (lho == 0xffffffffu) {
                if (q_end - q < 8u) {
                    goto short_zip64;
                }
                lho = ggdm_le_load_u64(zip + q);
                q += 8u;
            }
            if (disk_start == 0xffffu) {
                if (q_end - q < 4u) {
                    goto short_zip64;
                }
                disk_start = ggdm_le_load_u32(zip + q);
            }
        }
        e += 4u + sz;
    }
    if (disk_start != 0) {
        return fail(msg, GGDM_ERR_UNSUPPORTED,
                    "npz: member '%s' starts on disk %llu (multi-disk archives are not supported)",
                    nm, (ull)disk_start);
    }

    /* Local header and data must lie before the central directory. */
    if (lho > it->cd_offset || it->cd_offset - lho < LOCAL_FIXED ||
        ggdm_le_load_u32(zip + lho) != SIG_LOCAL) {
        return fail(msg, GGDM_ERR_FORMAT, "npz: member '%s': no local header at offset %llu", nm,
                    (ull)lho);
    }
    lnlen = ggdm_le_load_u16(zip + lho + 26);
    lelen = ggdm_le_load_u16(zip + lho + 28);
    if (it->cd_offset - lho - LOCAL_FIXED < lnlen + lelen) {
        return fail(msg, GGDM_ERR_FORMAT, "npz: member '%s': local header overruns the archive",
                    nm);
    }
    data_off = lho + LOCAL_FIXED + lnlen + lelen;
    if (lnlen != nlen || memcmp(zip + lho + LOCAL_FIXED, c + CENTRAL_FIXED, (size_t)nlen) != 0) {
        return fail(msg, GGDM_ERR_FORMAT,
                    "npz: member '%s': local header name differs from the central directory", nm);
    }
    if (ggdm_le_load_u16(zip + lho + 8) != method) {
        return fail(msg, GGDM_ERR_FORMAT,
                    "npz: member '%s': local header method differs from the central directory",
                    nm);
    }
    if (csize > it->cd_offset - data_off) {
        return fail(msg, GGDM_ERR_FORMAT,
                    "npz: member '%s': %llu data bytes at offset %llu overrun the archive", nm,
                    (ull)csize, (ull)data_off);
    }
    if (method == 0 && csize != usize) {
        return fail(msg, GGDM_ERR_FORMAT,
                    "npz: stored member '%s' has compressed size %llu but size %llu", nm,
                    (ull)csize, (ull)usize);
    }

    m->index = idx;
    m->name_offset = p + CENTRAL_FIXED;
    m->name_len = nlen;
    m->data_offset = data_off;
    m->data_len = csize;
    m->uncompressed_len = usize;
    m->crc32 = ggdm_le_load_u32(c + 16);
    m->method = method;
    m->flags = flags;
    it->pos = p + CENTRAL_FIXED + nlen + elen + clen;
    it->index = idx + 1;
    *has = 1;
    ok_msg(msg);
    return GGDM_OK;

short_zip64:
    return fail(msg, GGDM_ERR_FORMAT, "npz: member '%s': ZIP64 extra field is too short", nm);
}

ggdm_status ggdm_npz_count(const uint8_t *zip, uint64_t zip_len, uint64_t *count, char *msg)
{
    ggdm_npz_iter it;
    ggdm_npz_member m;
    int has = 1;
    ggdm_status st;
    if (!count) {
        return fail(msg, GGDM_ERR_ARG, "npz: null argument");
    }
    *count = 0;
    st = ggdm_npz_iter_init(zip, zip_len, &it, msg);
    while (st == GGDM_OK && has) {
        st = ggdm_npz_iter_next(zip, zip_len, &it, &m, &has, msg);
    }
    if (st == GGDM_OK) {
        *count = it.entries;
    }
    return st;
}

ggdm_status ggdm_npz_find(const uint8_t *zip, uint64_t zip_len, const char *name,
                          uint64_t *member_offset, uint64_t *member_len, char *msg)
{
    ggdm_npz_iter it;
    ggdm_npz_member m, exact, with_npy, *hit;
    uint64_t n_exact = 0, n_npy = 0, n_hit, L;
    int has = 1;
    ggdm_status st;
    char nm[SHOWN_NAME];

    if (!zip || !name || !member_offset || !member_len) {
        return fail(msg, GGDM_ERR_ARG, "npz: null argument");
    }
    *member_offset = 0;
    *member_len = 0;
    L = strlen(name);
    if (L == 0) {
        return fail(msg, GGDM_ERR_ARG, "npz: empty member name");
    }
    memset(&exact, 0, sizeof exact);
    memset(&with_npy, 0, sizeof with_npy);
    st = ggdm_npz_iter_init(zip, zip_len, &it, msg);
    while (st == GGDM_OK) {
        st = ggdm_npz_iter_next(zip, zip_len, &it, &m, &has, msg);
        if (st != GGDM_OK || !has) {
            break;
        }
        if (m.name_len == L && memcmp(zip + m.name_offset, name, (size_t)L) == 0) {
            if (n_exact++ == 0) {
                exact = m;
            }
        } else if (m.name_len == L + 4u && memcmp(zip + m.name_offset, name, (size_t)L) == 0 &&
                   memcmp(zip + m.name_offset + L, ".npy", 4) == 0) {
            if (n_npy++ == 0) {
                with_npy = m;
            }
        }
    }
    if (st != GGDM_OK) {
        return st;
    }
    shown(nm, (const uint8_t *)name, L);
    if (n_exact > 0) {
        hit = &exact;
        n_hit = n_exact;
    } else {
        hit = &with_npy;
        n_hit = n_npy;
    }
    if (n_hit == 0) {
        return fail(msg, GGDM_ERR_ARG, "npz: no member '%s' (or '%s.npy') in the archive", nm,
                    nm);
    }
    shown(nm, zip + hit->name_offset, hit->name_len);
    if (n_hit > 1) {
        return fail(msg, GGDM_ERR_FORMAT, "npz: %llu members are named '%s' (ambiguous)",
                    (ull)n_hit, nm);
    }
    if (hit->flags & 1u) {
        return fail(msg, GGDM_ERR_UNSUPPORTED, "npz: member '%s' is encrypted", nm);
    }
    if (hit->method == 8u) {
        return fail(msg, GGDM_ERR_UNSUPPORTED,
                    "npz: member '%s' is compressed (deflate); save with np.savez, not "
                    "np.savez_compressed",
                    nm);
    }
    if (hit->method != 0u) {
        return fail(msg, GGDM_ERR_UNSUPPORTED,
                    "npz: member '%s' uses compression method %u; only stored (np.savez) is "
                    "supported",
                    nm, (unsigned)hit->method);
    }
    if (ggdm_crc32(0, zip + hit->data_offset, hit->data_len) != hit->crc32) {
        return fail(msg, GGDM_ERR_FORMAT, "npz: member '%s' fails its CRC-32 check (corrupted)",
                    nm);
    }
    *member_offset = hit->data_offset;
    *member_len = hit->data_len;
    ok_msg(msg);
    return GGDM_OK;
}
