/*
 * A one-line progress bar on stderr (front end), redrawn in place with '\r':
 *
 *   guidance [=========>          ]  48/100  48%  3.21 it/s  00:15<00:16  reward 3.21
 *
 * label, bar, done/total, rate (it/s, or s/it below one per second), elapsed<left, extra text.
 * Redraws at most 10 times a second (plus the first and the final state). Quiet unless stderr is a
 * terminal; GGDM_PROGRESS=1 forces it on (e.g. in tests or logs), GGDM_PROGRESS=0 off. The line
 * is cut to the terminal width (COLUMNS, default 80) so that it never wraps. Never writes stdout.
 */
#ifndef GGDM_CLI_PROGRESS_H
#define GGDM_CLI_PROGRESS_H

#include <stdint.h>

typedef struct ggdm_progress {
    int enabled;         /* drawing at all (terminal or GGDM_PROGRESS=1) */
    int shown;           /* a line is on screen, not yet ended by finish/clear */
    char label[48];
    char extra[96];      /* the last extra text */
    uint64_t total;      /* 0: unknown (no bar, no time left) */
    uint64_t done;
    double t_start;      /* monotonic seconds */
    double t_drawn;      /* when the line was last drawn */
    uint64_t drawn_done; /* done when it was last drawn */
    int width;           /* columns of the last line drawn, to blank what a shorter one leaves */
} ggdm_progress;

/* Starts a bar (label may be NULL) and draws it at 0. */
void ggdm_progress_start(ggdm_progress *p, const char *label, uint64_t total);
/* Records progress; redraws if 0.1 s have passed since the last draw or done reached total.
   extra (may be NULL: keep the previous one) is shown after the times, e.g. "reward 3.21". */
void ggdm_progress_update(ggdm_progress *p, uint64_t done, const char *extra);
/* Draws the final state and ends the line. */
void ggdm_progress_finish(ggdm_progress *p);
/* Blanks the line (before other stderr output); the next update draws it again. */
void ggdm_progress_clear(ggdm_progress *p);

#endif
