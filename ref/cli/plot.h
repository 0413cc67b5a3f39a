/*
 * SVG line plots (front end; allocates, writes one file atomically).
 *
 * One figure of side-by-side panels (e.g. "reward" and "off-support ratio" per round), each with
 * several named series of (x, y) points drawn as lines (with point markers when a series has at
 * most 40 points). A series keeps one colour in every panel (colours follow the name), and one
 * legend above the panels names them all. Axes get "nice" ticks (1, 2, 5 x 10^k; decades on a
 * logarithmic axis), grid lines and labels.
 *
 * Points whose x or y is NaN or infinite (or y <= 0 on a log axis) are skipped and break the line.
 * A constant series gets a range around its value; a panel without any finite point is drawn
 * empty, saying "no data".
 */
#ifndef GGDM_CLI_PLOT_H
#define GGDM_CLI_PLOT_H

#include <stddef.h>

typedef struct ggdm_plot_series {
    const char *name; /* legend text; NULL or "": not in the legend */
    const double *x;  /* n abscissae, or NULL for 0, 1, ..., n-1 */
    const double *y;  /* n ordinates (may be NULL when n == 0) */
    size_t n;
    /* optional spread: lo[i] .. hi[i] around each point (both or neither; NULL: none), drawn as a
     * translucent band in the series' colour, or as error bars when bars is nonzero */
    const double *lo, *hi;
    int bars;
} ggdm_plot_series;

typedef struct ggdm_plot_panel {
    const char *title;  /* above the panel; may be NULL */
    const char *ylabel; /* may be NULL */
    int log_y;          /* nonzero: logarithmic y axis */
    const ggdm_plot_series *series;
    int nseries;
} ggdm_plot_panel;

#define GGDM_PLOT_MAX_PANELS 16

/* Writes the figure to path (atomically, see ggdm_io_write_file). title and xlabel may be NULL.
   Returns 0, or a nonzero ggdm_status (GGDM_ERR_ARG: bad arguments; GGDM_ERR_IO: out of memory
   or the write failed) with the reason in err. */
int ggdm_plot_svg(const char *path, const char *title, const char *xlabel,
                  const ggdm_plot_panel *panels, int npanels, char *err, size_t errcap);

/* The same figure as a malloc'd, NUL-terminated SVG document (*len bytes without the NUL). */
int ggdm_plot_svg_string(const char *title, const char *xlabel, const ggdm_plot_panel *panels,
                         int npanels, char **svg, size_t *len, char *err, size_t errcap);

#endif
