#define _POSIX_C_SOURCE 200809L
#include "progress.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 1024

static double now_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return (double)time(NULL);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int progress_wanted(void)
{
    const char *e = getenv("GGDM_PROGRESS");
    if (e && strcmp(e, "1") == 0)
        return 1;
    if (e && strcmp(e, "0") == 0)
        return 0;
    return isatty(2);
}

static int columns(void)
{
    const char *e = getenv("COLUMNS");
    long c = 80;
    if (e && *e) {
        char *end;
        long v = strtol(e, &end, 10);
        if (*end == '\0' && v > 0)
            c = v;
    }
    if (c < 20)
        c = 20;
    if (c > 500)
        c = 500;
    return (int)c;
}

/* Copies s into dst (cap bytes), control characters as spaces, so the line stays one line. */
static void copy_clean(char *dst, size_t cap, const char *s)
{
    size_t i = 0;
    if (cap == 0)
        return;
    if (s)
        for (; *s && i + 1 < cap; s++)
            dst[i++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? ' ' : *s;
    /* never end inside a UTF-8 sequence */
    if (s && *s) {
        while (i > 0 && ((unsigned char)dst[i - 1] & 0xC0) == 0x80)
            i--;
        if (i > 0 && ((unsigned char)dst[i - 1] & 0xC0) == 0xC0)
            i--;
    }
    dst[i] = '\0';
}

/* Display width: code points (not continuation bytes). */
static int text_width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

/* Cuts s to at most w code points. */
static void cut_to_width(char *s, int w)
{
    int n = 0;
    char *q;
    for (q = s; *q; q++) {
        if (((unsigned char)*q & 0xC0) != 0x80) {
            if (n == w) {
                *q = '\0';
                return;
            }
            n++;
        }
    }
}

static void fmt_duration(char *buf, size_t cap, double s)
{
    long t;
    if (!(s >= 0.0) || s > 359999999.0) {
        snprintf(buf, cap, "--:--");
        return;
    }
    t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, cap, "%02ld:%02ld", t / 60, t % 60);
}

static void fmt_number(char *buf, size_t cap, double v)
{
    if (v >= 99.95)
        snprintf(buf, cap, "%.0f", v);
    else if (v >= 9.995)
        snprintf(buf, cap, "%.1f", v);
    else
        snprintf(buf, cap, "%.2f", v);
}

static void draw(ggdm_progress *p)
{
    char line[LINE_MAX_BYTES], tail[256], num[32], el[24], left[24], bar[64];
    double t = now_s(), elapsed = t - p->t_start, rate;
    int cols = columns() - 1, w, barw, i;
    size_t len;

    elapsed = elapsed > 0.0 ? elapsed : 0.0;
    rate = (elapsed > 0.0 && p->done > 0) ? (double)p->done / elapsed : 0.0;

    /* " 48/100  48%  3.21 it/s  00:15<00:16  extra" */
    len = 0;
    if (p->total > 0) {
        uint64_t shown_done = p->done;
        double frac = (double)shown_done / (double)p->total;
        if (frac > 1.0)
            frac = 1.0;
        len = (size_t)snprintf(tail, sizeof tail, " %llu/%llu %3d%%", (unsigned long long)shown_done,
                               (unsigned long long)p->total, (int)floor(frac * 100.0));
    } else {
        len = (size_t)snprintf(tail, sizeof tail, " %llu", (unsigned long long)p->done);
    }
    if (rate <= 0.0)
        len += (size_t)snprintf(tail + len, sizeof tail - len, "  -- it/s");
    else if (rate >= 1.0) {
        fmt_number(num, sizeof num, rate);
        len += (size_t)snprintf(tail + len, sizeof tail - len, "  %s it/s", num);
    } else {
        fmt_number(num, sizeof num, 1.0 / rate);
        len += (size_t)snprintf(tail + len, sizeof tail - len, "  %s s/it", num);
    }
    fmt_duration(el, sizeof el, elapsed);
    if (p->total > 0) {
        if (p->done >= p->total)
            fmt_duration(left, sizeof left, 0.0);
        else if (rate > 0.0)
            fmt_duration(left, sizeof left, (double)(p->total - p->done) / rate);
        else
            snprintf(left, sizeof left, "--:--");
        len += (size_t)snprintf(tail + len, sizeof tail - len, "  %s<%s", el, left);
    } else {
        len += (size_t)snprintf(tail + len, sizeof tail - len, "  %s", el);
    }
    if (p->extra[0] && len < sizeof tail)
        snprintf(tail + len, sizeof tail - len, "  %s", p->extra);

    /* the bar takes what is left of the width, at most 30 columns; dropped below 6 */
    barw = cols - (p->label[0] ? text_width(p->label) + 1 : 0) - 2 - text_width(tail);
    if (barw > 30)
        barw = 30;
    bar[0] = '\0';
    if (p->total > 0 && barw >= 6) {
        double frac = (double)p->done / (double)p->total;
        int fill;
        frac = frac > 1.0 ? 1.0 : frac;
        fill = (int)floor(frac * barw);
        bar[0] = '[';
        for (i = 0; i < barw; i++)
            bar[1 + i] = i < fill ? '=' : (i == fill ? '>' : ' ');
        bar[1 + barw] = ']';
        bar[2 + barw] = '\0';
    }
    snprintf(line, sizeof line, "%s%s%s%s", p->label, p->label[0] ? " " : "", bar, tail);
    cut_to_width(line, cols);
    w = text_width(line);

    fputc('\r', stderr);
    fputs(line, stderr);
    for (i = w; i < p->width; i++)
        fputc(' ', stderr);
    fflush(stderr);
    p->width = w;
    p->shown = 1;
    p->t_drawn = t;
    p->drawn_done = p->done;
}

void ggdm_progress_start(ggdm_progress *p, const char *label, uint64_t total)
{
    memset(p, 0, sizeof *p);
    p->enabled = progress_wanted();
    copy_clean(p->label, sizeof p->label, label);
    p->total = total;
    p->t_start = now_s();
    if (p->enabled)
        draw(p);
}

void ggdm_progress_update(ggdm_progress *p, uint64_t done, const char *extra)
{
    p->done = done;
    if (extra)
        copy_clean(p->extra, sizeof p->extra, extra);
    if (!p->enabled)
        return;
    if (now_s() - p->t_drawn >= 0.1 || !p->shown ||
        (p->total > 0 && done >= p->total && p->drawn_done != done))
        draw(p);
}

void ggdm_progress_finish(ggdm_progress *p)
{
    if (!p->enabled)
        return;
    draw(p);
    fputc('\n', stderr);
    fflush(stderr);
    p->shown = 0;
    p->width = 0;
}

void ggdm_progress_clear(ggdm_progress *p)
{
    int i;
    if (!p->enabled || !p->shown)
        return;
    fputc('\r', stderr);
    for (i = 0; i < p->width; i++)
        fputc(' ', stderr);
    fputc('\r', stderr);
    fflush(stderr);
    p->shown = 0;
    p->width = 0;
}
