#define _POSIX_C_SOURCE 200809L
#include "plot.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggdm/status.h"
#include "io.h"

/* ---- layout and style --------------------------------------------------------------------- */

#define PANEL_W 460.0      /* one panel, margins included */
#define PLOT_H 280.0       /* plot area height */
#define MARGIN_R 20.0
#define TICK_LEN 5.0
#define FS_TITLE 17.0
#define FS_PANEL 13.5
#define FS_LABEL 12.0
#define FS_TICK 11.0
#define FS_LEGEND 12.0
#define MAX_MARKERS 40     /* series with more points are drawn without markers */
#define MAX_TICKS 64

static const char *const palette[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

static const char *const font_family =
    "DejaVu Sans, Helvetica Neue, Helvetica, Arial, Liberation Sans, sans-serif";

/* ---- growing string buffer ---------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (b->oom)
        return;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        } else {
            size_t ncap = b->cap * 2 + (size_t)n + 4096;
            char *q = realloc(b->p, ncap);
            if (!q) {
                b->oom = 1;
                return;
            }
            b->p = q;
            b->cap = ncap;
        }
    }
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there are not one. */
static int utf8_seq(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        if (s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xEF && s[1] == 0xBF && (s[2] == 0xBE || s[2] == 0xBF))
            return 0; /* U+FFFE, U+FFFF: not XML characters */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        if (s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

/* Appends s as XML character data (also fine inside attribute values): markup characters
   escaped, control characters as spaces, bytes that are not UTF-8 as '?'. */
static void sb_text(sbuf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    while (*u) {
        int k = utf8_seq(u);
        if (k == 0) {
            sb_printf(b, "?");
            u++;
        } else if (k > 1) {
            sb_printf(b, "%.*s", k, (const char *)u);
            u += k;
        } else {
            switch (*u) {
            case '&': sb_printf(b, "&amp;"); break;
            case '<': sb_printf(b, "&lt;"); break;
            case '>': sb_printf(b, "&gt;"); break;
            case '"': sb_printf(b, "&quot;"); break;
            case '\'': sb_printf(b, "&apos;"); break;
            default: sb_printf(b, "%c", (*u < 0x20 || *u == 0x7f) ? ' ' : (char)*u);
            }
            u++;
        }
    }
}

/* Estimated width of s in pixels at font size fs (about 0.6 em a character). */
static double text_w(const char *s, double fs)
{
    double n = 0;
    if (s)
        for (; *s; s++)
            if (((unsigned char)*s & 0xC0) != 0x80)
                n += 1;
    return n * 0.6 * fs;
}

static int has_text(const char *s)
{
    return s && *s;
}

/* ---- axes ---------------------------------------------------------------------------------- */

typedef struct axis {
    int log;                /* positions are log10 of the values */
    double lo, hi;          /* range, in position space */
    int nt, nminor;
    double t[MAX_TICKS];    /* major ticks (position space) */
    char label[MAX_TICKS][32];
    double minor[4 * MAX_TICKS];
} axis;

/* 1, 2, 5 x 10^k at or above raw */
static double nice_step(double raw)
{
    double mag, norm;
    if (!(raw > 0.0) || !isfinite(raw))
        return 1.0;
    mag = pow(10.0, floor(log10(raw)));
    norm = raw / mag;
    if (norm < 1.5)
        return mag;
    if (norm < 3.0)
        return 2.0 * mag;
    if (norm < 7.0)
        return 5.0 * mag;
    return 10.0 * mag;
}

/* "%g" without "+" and leading zeros in the exponent: 1.5e+06 -> 1.5e6, 2e-05 -> 2e-5 */
static void fmt_g(char *buf, size_t cap, double v, int prec)
{
    char tmp[48], *e, *o;
    snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    e = strchr(tmp, 'e');
    if (e) {
        char *d = e + 1;
        o = e + 1;
        if (*d == '+')
            d++;
        else if (*d == '-')
            *o++ = *d++;
        while (*d == '0' && d[1])
            d++;
        memmove(o, d, strlen(d) + 1);
    }
    if (cap > 0) {
        size_t n = strlen(tmp);
        n = n < cap ? n : cap - 1;
        memcpy(buf, tmp, n);
        buf[n] = '\0';
    }
}

/* Labels of linear ticks with a common step: fixed decimals, or %g when they are huge or tiny. */
static void label_linear(axis *a, double step)
{
    double maxabs = 0.0;
    int i, d = (int)-floor(log10(step) + 1e-9);
    for (i = 0; i < a->nt; i++)
        if (fabs(a->t[i]) > maxabs)
            maxabs = fabs(a->t[i]);
    for (i = 0; i < a->nt; i++) {
        double v = a->t[i];
        if (v == 0.0)
            snprintf(a->label[i], sizeof a->label[i], "0");
        else if (maxabs >= 1e5 || d > 4) {
            int p = (int)floor(log10(fabs(v)) + 1e-9) - (int)floor(log10(step) + 1e-9) + 1;
            p = p < 1 ? 1 : p > 15 ? 15 : p;
            fmt_g(a->label[i], sizeof a->label[i], v, p);
        } else
            snprintf(a->label[i], sizeof a->label[i], "%.*f", d > 0 ? d : 0, v);
    }
}

/* Ticks k * step inside [lo, hi] (values); into a->t as positions (log10 if a->log). */
static void linear_ticks(axis *a, double lo, double hi, double step)
{
    double k, k0 = ceil(lo / step - 1e-9), k1 = floor(hi / step + 1e-9);
    a->nt = 0;
    for (k = k0; k <= k1 && a->nt < MAX_TICKS; k += 1.0) {
        double v = k * step;
        if (fabs(v) < step * 1e-9)
            v = 0.0;
        if (a->log) {
            if (!(v > 0.0))
                continue;
            a->t[a->nt++] = log10(v);
        } else
            a->t[a->nt++] = v;
    }
}

static void axis_linear(axis *a, double dmin, double dmax, int has_data, int integer)
{
    double pad, step;
    memset(a, 0, sizeof *a);
    if (!has_data) {
        dmin = 0.0;
        dmax = 1.0;
    }
    /* differences below 1e-9 of the values cannot be ticked (nor seen): a constant */
    if (dmax - dmin <= 1e-9 * fmax(fabs(dmin), fabs(dmax)))
        dmin = dmax = dmin / 2.0 + dmax / 2.0;
    if (dmin == dmax) {
        pad = fabs(dmin) * 0.1;
        if (pad == 0.0 || (integer && pad < 1.0))
            pad = 1.0;
    } else
        pad = 0.04 * 2.0 * (dmax / 2.0 - dmin / 2.0);
    a->lo = dmin - pad;
    a->hi = dmax + pad;
    if (a->lo < -DBL_MAX)
        a->lo = -DBL_MAX;
    if (a->hi > DBL_MAX)
        a->hi = DBL_MAX;
    step = nice_step(a->hi / 5.0 - a->lo / 5.0);
    if (integer && step < 1.0)
        step = 1.0;
    linear_ticks(a, a->lo, a->hi, step);
    label_linear(a, step);
}

static void axis_log(axis *a, double dmin, double dmax, int has_data)
{
    double l0, l1, pad, k, m;
    int i, nd, every;
    memset(a, 0, sizeof *a);
    a->log = 1;
    if (!has_data) {
        dmin = 1.0;
        dmax = 10.0;
    }
    if (dmax - dmin <= 1e-9 * dmax)
        dmin = dmax = dmin / 2.0 + dmax / 2.0;
    l0 = log10(dmin);
    l1 = log10(dmax);
    pad = l0 == l1 ? 0.5 : 0.04 * (l1 - l0);
    a->lo = l0 - pad;
    a->hi = l1 + pad;

    nd = (int)(floor(a->hi) - ceil(a->lo)) + 1; /* decades inside */
    if (nd >= 2) {
        every = (nd + 6) / 7;
        for (k = ceil(a->lo); k <= a->hi && a->nt < MAX_TICKS; k += 1.0) {
            if (fmod(k, (double)every) != 0.0)
                continue;
            a->t[a->nt] = k;
            fmt_g(a->label[a->nt], sizeof a->label[a->nt], pow(10.0, k), 6);
            a->nt++;
        }
        if (every == 1 && a->hi - a->lo <= 8.0)
            for (k = floor(a->lo); k <= a->hi; k += 1.0)
                for (m = 2.0; m <= 9.0; m += 1.0) {
                    double p = k + log10(m);
                    if (p > a->lo && p < a->hi && a->nminor < 4 * MAX_TICKS)
                        a->minor[a->nminor++] = p;
                }
        return;
    }
    /* under two decades: 1, 2, 5 x 10^k, or failing that 1..9 x 10^k, or linear nice ticks */
    {
        static const double m125[3] = {1.0, 2.0, 5.0};
        int pass;
        for (pass = 0; pass < 2; pass++) {
            a->nt = 0;
            for (k = floor(a->lo); k <= ceil(a->hi); k += 1.0)
                for (i = 0; i < (pass == 0 ? 3 : 9); i++) {
                    double mm = pass == 0 ? m125[i] : (double)(i + 1);
                    double p = k + log10(mm);
                    if (p >= a->lo && p <= a->hi && a->nt < MAX_TICKS) {
                        a->t[a->nt] = p;
                        fmt_g(a->label[a->nt], sizeof a->label[a->nt], mm * pow(10.0, k), 6);
                        a->nt++;
                    }
                }
            if (a->nt >= 3)
                return;
        }
        {
            double vlo = pow(10.0, a->lo), vhi = pow(10.0, a->hi);
            double step = nice_step((vhi - vlo) / 5.0);
            linear_ticks(a, vlo, vhi, step);
            for (i = 0; i < a->nt; i++) {
                double v = pow(10.0, a->t[i]);
                int p = (int)floor(log10(v) + 1e-9) - (int)floor(log10(step) + 1e-9) + 1;
                int d = (int)-floor(log10(step) + 1e-9);
                if (d >= 0 && d <= 4 && v < 1e5)
                    snprintf(a->label[i], sizeof a->label[i], "%.*f", d, v);
                else
                    fmt_g(a->label[i], sizeof a->label[i], v, p < 1 ? 1 : p > 15 ? 15 : p);
            }
        }
    }
}

/* position in pixels of value position v on an axis mapped to [p0, p1] */
static double axis_map(const axis *a, double v, double p0, double p1)
{
    double f = (v / 2.0 - a->lo / 2.0) / (a->hi / 2.0 - a->lo / 2.0);
    return p0 + f * (p1 - p0);
}

/* ---- the figure ---------------------------------------------------------------------------- */

typedef struct panel_geo {
    axis ax, ay;
    double x0, y0, w, h; /* plot area */
    double left;         /* panel's left edge */
    int has_data;
} panel_geo;

static double px_x(const ggdm_plot_series *s, size_t i)
{
    return s->x ? s->x[i] : (double)i;
}

/* the y position of point i, or NaN if it is not drawn */
static double pos_y(const ggdm_plot_series *s, size_t i, int log_y)
{
    double y = s->y[i];
    if (!isfinite(y) || !isfinite(px_x(s, i)))
        return NAN;
    if (log_y)
        return y > 0.0 ? log10(y) : NAN;
    return y;
}

static void set_err(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    if (!err || cap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

static void layout_panel(panel_geo *g, const ggdm_plot_panel *p)
{
    double xmin = HUGE_VAL, xmax = -HUGE_VAL, ymin = HUGE_VAL, ymax = -HUGE_VAL, lw = 0.0;
    int j, integer = 1;
    size_t i;
    g->has_data = 0;
    for (j = 0; j < p->nseries; j++) {
        const ggdm_plot_series *s = &p->series[j];
        for (i = 0; i < s->n; i++) {
            double x = px_x(s, i), y = pos_y(s, i, p->log_y);
            if (isnan(y))
                continue;
            y = s->y[i];
            g->has_data = 1;
            if (s->lo && s->hi && !p->log_y && isfinite(s->lo[i]) && isfinite(s->hi[i])) {
                ymin = s->lo[i] < ymin ? s->lo[i] : ymin;
                ymax = s->hi[i] > ymax ? s->hi[i] : ymax;
            }
            xmin = x < xmin ? x : xmin;
            xmax = x > xmax ? x : xmax;
            ymin = y < ymin ? y : ymin;
            ymax = y > ymax ? y : ymax;
            if (x != floor(x) || fabs(x) > 1e15)
                integer = 0;
        }
    }
    axis_linear(&g->ax, xmin, xmax, g->has_data, integer);
    if (p->log_y)
        axis_log(&g->ay, ymin, ymax, g->has_data);
    else
        axis_linear(&g->ay, ymin, ymax, g->has_data, 0);
    for (j = 0; j < g->ay.nt; j++)
        if (text_w(g->ay.label[j], FS_TICK) > lw)
            lw = text_w(g->ay.label[j], FS_TICK);
    g->x0 = (has_text(p->ylabel) ? 26.0 : 8.0) + lw + TICK_LEN + 6.0;
    g->x0 = g->x0 < 48.0 ? 48.0 : g->x0;
}

static void fmt_num(char *buf, size_t cap, double v)
{
    fmt_g(buf, cap, v, 6);
}

/* number of points drawn */
static size_t series_points(const ggdm_plot_series *s, int log_y)
{
    size_t i, n = 0;
    for (i = 0; i < s->n; i++)
        if (!isnan(pos_y(s, i, log_y)))
            n++;
    return n;
}

/* the spread lo .. hi: a band (one polygon per run of finite points) or error bars */
static void draw_spread(sbuf *b, const panel_geo *g, const ggdm_plot_series *s, const char *color)
{
    size_t i = 0, a, e;
    while (i < s->n) {
        while (i < s->n && !(isfinite(px_x(s, i)) && isfinite(s->lo[i]) && isfinite(s->hi[i])))
            i++;
        a = i;
        while (i < s->n && isfinite(px_x(s, i)) && isfinite(s->lo[i]) && isfinite(s->hi[i]))
            i++;
        if (i == a)
            break;
        if (s->bars) {
            for (e = a; e < i; e++) {
                double X = axis_map(&g->ax, px_x(s, e), g->x0, g->x0 + g->w);
                double Y0 = axis_map(&g->ay, s->lo[e], g->y0 + g->h, g->y0);
                double Y1 = axis_map(&g->ay, s->hi[e], g->y0 + g->h, g->y0);
                sb_printf(b, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" d=\"M%.2f,%.2f L%.2f,%.2f "
                             "M%.2f,%.2f L%.2f,%.2f M%.2f,%.2f L%.2f,%.2f\"/>\n",
                          color, X, Y0, X, Y1, X - 4, Y0, X + 4, Y0, X - 4, Y1, X + 4, Y1);
            }
            continue;
        }
        sb_printf(b, "<path fill=\"%s\" fill-opacity=\"0.2\" stroke=\"none\" d=\"", color);
        for (e = a; e < i; e++)
            sb_printf(b, "%s%.2f,%.2f", e == a ? "M" : " L", axis_map(&g->ax, px_x(s, e), g->x0, g->x0 + g->w),
                      axis_map(&g->ay, s->hi[e], g->y0 + g->h, g->y0));
        for (e = i; e-- > a;)
            sb_printf(b, " L%.2f,%.2f", axis_map(&g->ax, px_x(s, e), g->x0, g->x0 + g->w),
                      axis_map(&g->ay, s->lo[e], g->y0 + g->h, g->y0));
        sb_printf(b, " Z\"/>\n");
    }
}

static void draw_series(sbuf *b, const panel_geo *g, const ggdm_plot_series *s, int log_y,
                        const char *color, const char *dash)
{
    size_t i, npts = series_points(s, log_y);
    int pen = 0;
    double X = 0, Y = 0;
    if (npts == 0)
        return;
    if (s->lo && s->hi && !log_y)
        draw_spread(b, g, s, color);
    /* the line, broken at skipped points */
    sb_printf(b, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-linejoin=\"round\" "
                 "stroke-linecap=\"round\"%s%s%s d=\"",
              color, dash ? " stroke-dasharray=\"" : "", dash ? dash : "", dash ? "\"" : "");
    for (i = 0; i < s->n; i++) {
        double py = pos_y(s, i, log_y);
        if (isnan(py)) {
            pen = 0;
            continue;
        }
        X = axis_map(&g->ax, px_x(s, i), g->x0, g->x0 + g->w);
        Y = axis_map(&g->ay, py, g->y0 + g->h, g->y0);
        sb_printf(b, "%s%.2f,%.2f", pen ? " L" : (i ? " M" : "M"), X, Y);
        pen = 1;
    }
    sb_printf(b, "\"/>\n");
    /* markers (each with a tooltip) when there are few points; else only for isolated points */
    for (i = 0; i < s->n; i++) {
        double py = pos_y(s, i, log_y);
        int isolated;
        char xs[40], ys[40];
        if (isnan(py))
            continue;
        isolated = (i == 0 || isnan(pos_y(s, i - 1, log_y))) &&
                   (i + 1 == s->n || isnan(pos_y(s, i + 1, log_y)));
        if (npts > MAX_MARKERS && !isolated)
            continue;
        X = axis_map(&g->ax, px_x(s, i), g->x0, g->x0 + g->w);
        Y = axis_map(&g->ay, py, g->y0 + g->h, g->y0);
        fmt_num(xs, sizeof xs, px_x(s, i));
        fmt_num(ys, sizeof ys, s->y[i]);
        sb_printf(b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3.3\" fill=\"%s\" stroke=\"#fff\" "
                     "stroke-width=\"1\"><title>",
                  X, Y, color);
        if (has_text(s->name)) {
            sb_text(b, s->name);
            sb_printf(b, ": ");
        }
        sb_printf(b, "(%s, %s)</title></circle>\n", xs, ys);
    }
}

/* crisp 1-pixel lines: coordinates on half pixels */
static double crisp(double v)
{
    return floor(v) + 0.5;
}

static void draw_panel(sbuf *b, const panel_geo *g, const ggdm_plot_panel *p, const char *xlabel,
                       const int *colors, int any_title)
{
    int j;
    double x1 = g->x0 + g->w, y1 = g->y0 + g->h;
    (void)any_title;

    /* grid */
    sb_printf(b, "<g stroke-width=\"1\" shape-rendering=\"crispEdges\">\n");
    for (j = 0; j < g->ay.nminor; j++) {
        double y = crisp(axis_map(&g->ay, g->ay.minor[j], y1, g->y0));
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#f3f3f3\"/>\n",
                  g->x0, y, x1, y);
    }
    for (j = 0; j < g->ay.nt; j++) {
        double y = crisp(axis_map(&g->ay, g->ay.t[j], y1, g->y0));
        const char *c = (!g->ay.log && g->ay.t[j] == 0.0) ? "#bdbdbd" : "#e4e4e4";
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", g->x0,
                  y, x1, y, c);
    }
    for (j = 0; j < g->ax.nt; j++) {
        double x = crisp(axis_map(&g->ax, g->ax.t[j], g->x0, x1));
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", x,
                  g->y0, x, y1);
    }
    sb_printf(b, "</g>\n");

    /* data */
    for (j = 0; j < p->nseries; j++) {
        int c = colors[j];
        draw_series(b, g, &p->series[j], p->log_y, palette[c % 10],
                    c >= 10 ? ((c / 10) % 2 ? "7 4" : "2 3") : NULL);
    }
    if (!g->has_data)
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"%.1f\" "
                     "fill=\"#999\" font-style=\"italic\">no data</text>\n",
                  g->x0 + g->w / 2, g->y0 + g->h / 2, FS_LABEL);

    /* frame and ticks */
    sb_printf(b, "<g shape-rendering=\"crispEdges\" stroke=\"#8a8a8a\" stroke-width=\"1\">\n");
    sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\"/>\n",
              crisp(g->x0), crisp(g->y0), floor(x1) - floor(g->x0), floor(y1) - floor(g->y0));
    for (j = 0; j < g->ay.nt; j++) {
        double y = crisp(axis_map(&g->ay, g->ay.t[j], y1, g->y0));
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", crisp(g->x0) - TICK_LEN,
                  y, crisp(g->x0), y);
    }
    for (j = 0; j < g->ax.nt; j++) {
        double x = crisp(axis_map(&g->ax, g->ax.t[j], g->x0, x1));
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x, crisp(y1), x,
                  crisp(y1) + TICK_LEN);
    }
    sb_printf(b, "</g>\n");

    /* tick labels */
    sb_printf(b, "<g font-size=\"%.1f\" fill=\"#444\">\n", FS_TICK);
    for (j = 0; j < g->ay.nt; j++) {
        double y = axis_map(&g->ay, g->ay.t[j], y1, g->y0);
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", g->x0 - TICK_LEN - 4,
                  y + FS_TICK * 0.35);
        sb_text(b, g->ay.label[j]);
        sb_printf(b, "</text>\n");
    }
    for (j = 0; j < g->ax.nt; j++) {
        double x = axis_map(&g->ax, g->ax.t[j], g->x0, x1);
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x,
                  y1 + TICK_LEN + 4 + FS_TICK * 0.8);
        sb_text(b, g->ax.label[j]);
        sb_printf(b, "</text>\n");
    }
    sb_printf(b, "</g>\n");

    /* titles */
    if (has_text(p->title)) {
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"%.1f\" "
                     "font-weight=\"600\" fill=\"#222\">",
                  g->x0 + g->w / 2, g->y0 - 10, FS_PANEL);
        sb_text(b, p->title);
        if (p->log_y)
            sb_printf(b, "<tspan dx=\"6\" font-weight=\"normal\" fill=\"#777\" font-size=\"%.1f\">"
                         "(log scale)</tspan>",
                      FS_TICK);
        sb_printf(b, "</text>\n");
    }
    if (has_text(xlabel)) {
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"%.1f\" fill=\"#333\">",
                  g->x0 + g->w / 2, y1 + TICK_LEN + 4 + FS_TICK + 8 + FS_LABEL, FS_LABEL);
        sb_text(b, xlabel);
        sb_printf(b, "</text>\n");
    }
    if (has_text(p->ylabel)) {
        double cx = g->left + 8 + FS_LABEL * 0.8, cy = g->y0 + g->h / 2;
        sb_printf(b, "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" text-anchor=\"middle\" "
                     "font-size=\"%.1f\" fill=\"#333\">",
                  cx, cy, FS_LABEL);
        sb_text(b, p->ylabel);
        sb_printf(b, "</text>\n");
    }
}

int ggdm_plot_svg_string(const char *title, const char *xlabel, const ggdm_plot_panel *panels,
                         int npanels, char **svg, size_t *len, char *err, size_t errcap)
{
    panel_geo *geo = NULL;
    int *colors = NULL, *legend = NULL; /* colour of each series; first series of each colour */
    const char **names = NULL;
    int total = 0, ncolors = 0, nlegend = 0, i, j, k, rows, any_title = 0, rc = GGDM_OK;
    double W, H, panel_w, top, legend_top, row_w, maxrow;
    int *row_of = NULL, *marked = NULL; /* marked[c]: a series of colour c is drawn with markers */
    double *item_w = NULL;
    sbuf b = {NULL, 0, 0, 0};

    if (err && errcap)
        err[0] = '\0';
    if (!svg || !len) {
        set_err(err, errcap, "plot: no output buffer");
        return GGDM_ERR_ARG;
    }
    *svg = NULL;
    *len = 0;
    if (!panels || npanels < 1 || npanels > GGDM_PLOT_MAX_PANELS) {
        set_err(err, errcap, "plot: %d panels (1 to %d expected)", npanels, GGDM_PLOT_MAX_PANELS);
        return GGDM_ERR_ARG;
    }
    for (i = 0; i < npanels; i++) {
        if (panels[i].nseries < 0 || (panels[i].nseries > 0 && !panels[i].series) ||
            panels[i].nseries > 1000) {
            set_err(err, errcap, "plot: panel %d: bad series list", i + 1);
            return GGDM_ERR_ARG;
        }
        for (j = 0; j < panels[i].nseries; j++)
            if (panels[i].series[j].n > 0 && !panels[i].series[j].y) {
                set_err(err, errcap, "plot: panel %d, series %d: no y values", i + 1, j + 1);
                return GGDM_ERR_ARG;
            }
        total += panels[i].nseries;
        if (has_text(panels[i].title))
            any_title = 1;
    }

    geo = calloc((size_t)npanels, sizeof *geo);
    colors = calloc((size_t)total + 1, sizeof *colors);
    legend = calloc((size_t)total + 1, sizeof *legend);
    names = calloc((size_t)total + 1, sizeof *names);
    row_of = calloc((size_t)total + 1, sizeof *row_of);
    item_w = calloc((size_t)total + 1, sizeof *item_w);
    marked = calloc((size_t)total + 1, sizeof *marked);
    if (!geo || !colors || !legend || !names || !row_of || !item_w || !marked) {
        rc = GGDM_ERR_IO;
        set_err(err, errcap, "plot: out of memory");
        goto done;
    }

    /* colours follow names: the same series name has the same colour in every panel */
    for (i = 0, k = 0; i < npanels; i++)
        for (j = 0; j < panels[i].nseries; j++, k++) {
            const char *nm = panels[i].series[j].name;
            int c = -1, q;
            if (has_text(nm))
                for (q = 0; q < ncolors; q++)
                    if (names[q] && strcmp(names[q], nm) == 0)
                        c = q;
            if (c < 0) {
                c = ncolors++;
                names[c] = has_text(nm) ? nm : NULL;
                if (names[c])
                    legend[nlegend++] = c;
            }
            colors[k] = c;
            if (series_points(&panels[i].series[j], panels[i].log_y) <= MAX_MARKERS)
                marked[c] = 1;
        }

    /* sizes */
    panel_w = PANEL_W;
    if (has_text(title) && text_w(title, FS_TITLE) + 40 > panel_w * npanels)
        panel_w = (text_w(title, FS_TITLE) + 40) / npanels;
    W = panel_w * npanels;
    for (i = 0; i < npanels; i++) {
        layout_panel(&geo[i], &panels[i]);
        geo[i].left = panel_w * i;
        if (geo[i].x0 > panel_w * 0.45)
            geo[i].x0 = panel_w * 0.45; /* absurdly long tick labels: keep a plot area */
        geo[i].x0 += geo[i].left;
        geo[i].w = geo[i].left + panel_w - MARGIN_R - geo[i].x0;
    }
    /* legend rows */
    rows = 0;
    row_w = 0.0;
    maxrow = W - 40.0;
    for (i = 0; i < nlegend; i++) {
        item_w[i] = 30.0 + text_w(names[legend[i]], FS_LEGEND) * 0.93; /* mostly lower case */
        if (item_w[i] > maxrow)
            item_w[i] = maxrow;
        if (i == 0 || row_w + 22.0 + item_w[i] > maxrow) {
            rows++;
            row_w = item_w[i];
        } else
            row_w += 22.0 + item_w[i];
        row_of[i] = rows - 1;
    }
    top = has_text(title) ? 46.0 : 14.0;
    legend_top = top;
    top += rows * 22.0 + (rows ? 6.0 : 0.0);
    top += any_title ? 28.0 : 10.0;
    for (i = 0; i < npanels; i++) {
        geo[i].y0 = top;
        geo[i].h = PLOT_H;
    }
    H = top + PLOT_H + TICK_LEN + 4 + FS_TICK + (has_text(xlabel) ? 8 + FS_LABEL + 14 : 14);
    H = ceil(H);

    /* document */
    sb_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    sb_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                  "viewBox=\"0 0 %.0f %.0f\" font-family=\"%s\">\n",
              W, H, W, H, font_family);
    sb_printf(&b, "<title>");
    sb_text(&b, has_text(title) ? title : "ggdm plot");
    sb_printf(&b, "</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n");
    if (has_text(title)) {
        sb_printf(&b, "<text x=\"%.1f\" y=\"30\" text-anchor=\"middle\" font-size=\"%.1f\" "
                      "font-weight=\"bold\" fill=\"#111\">",
                  W / 2, FS_TITLE);
        sb_text(&b, title);
        sb_printf(&b, "</text>\n");
    }
    /* legend: rows centred under the title */
    for (k = 0, i = 0; k < rows; k++) {
        double rw = 0.0, x;
        int first = i;
        for (j = i; j < nlegend && row_of[j] == k; j++)
            rw += (j > first ? 22.0 : 0.0) + item_w[j];
        x = (W - rw) / 2;
        for (; i < nlegend && row_of[i] == k; i++) {
            int c = legend[i];
            double y = legend_top + 22.0 * k + 11.0;
            const char *dash = c >= 10 ? ((c / 10) % 2 ? " stroke-dasharray=\"7 4\"" : " stroke-dasharray=\"2 3\"") : "";
            sb_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                          "stroke-width=\"2.5\" stroke-linecap=\"round\"%s/>\n",
                      x + 1, y, x + 23, y, palette[c % 10], dash);
            if (marked[c])
                sb_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.3\" fill=\"%s\" stroke=\"#fff\" "
                              "stroke-width=\"1\"/>\n",
                          x + 12, y, palette[c % 10]);
            sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" fill=\"#333\">", x + 30,
                      y + FS_LEGEND * 0.35, FS_LEGEND);
            sb_text(&b, names[c]);
            sb_printf(&b, "</text>\n");
            x += item_w[i] + 22.0;
        }
    }
    for (i = 0, k = 0; i < npanels; i++) {
        sb_printf(&b, "<g>\n");
        draw_panel(&b, &geo[i], &panels[i], xlabel, colors + k, any_title);
        sb_printf(&b, "</g>\n");
        k += panels[i].nseries;
    }
    sb_printf(&b, "</svg>\n");
    if (b.oom) {
        rc = GGDM_ERR_IO;
        set_err(err, errcap, "plot: out of memory");
        free(b.p);
        goto done;
    }
    *svg = b.p;
    *len = b.len;

done:
    free(geo);
    free(colors);
    free(legend);
    free(names);
    free(row_of);
    free(item_w);
    free(marked);
    return rc;
}

int ggdm_plot_svg(const char *path, const char *title, const char *xlabel,
                  const ggdm_plot_panel *panels, int npanels, char *err, size_t errcap)
{
    char *svg;
    size_t len;
    int rc;
    if (!path || !*path) {
        set_err(err, errcap, "plot: no output path");
        return GGDM_ERR_ARG;
    }
    rc = ggdm_plot_svg_string(title, xlabel, panels, npanels, &svg, &len, err, errcap);
    if (rc != GGDM_OK)
        return rc;
    rc = (int)ggdm_io_write_file(path, svg, (uint64_t)len, err, errcap);
    free(svg);
    return rc;
}
