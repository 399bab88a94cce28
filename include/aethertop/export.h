/* export.h — writing what a list view shows to a file or stdout: CSV
 * (RFC 4180: fields quoted when they hold a comma, a quote, CR or LF,
 * quotes doubled, CRLF line ends) or JSON (an array of list items through
 * at_report_print). The fields are exactly at_report_list_item's, in its
 * order; API keys only ever in their masked form. Also the derived
 * Prometheus figures `aethertop metrics` adds. */
#ifndef AETHERTOP_EXPORT_H
#define AETHERTOP_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "aethertop/insight.h"
#include "aethertop/query.h"
#include "aethertop/snapshot.h"
#include "aethertop/stats.h"

typedef enum { AT_EXPORT_CSV, AT_EXPORT_JSON } at_export_format;

/* ".json" (any case) -> JSON, anything else -> CSV. */
at_export_format at_export_format_for(const char *path);

/* Append one CSV field to a growing buffer (*buf, *len, *cap), quoted per
 * RFC 4180 when needed. */
void at_csv_field(char **buf, size_t *len, size_t *cap, const char *field);
/* A text cell: as at_csv_field, with a leading ' when it starts with
 * = + - @ (or tab, CR), so a spreadsheet never runs it as a formula. */
void at_csv_text_field(char **buf, size_t *len, size_t *cap, const char *text);

/* Rows sel[from .. from+count) of s. terminal: the text goes to a
 * terminal, so control characters from the data are shown as visible
 * placeholders (at_text_sanitize) instead of written raw. Returns 0, or -1
 * when writing failed (errno set). */
int at_export_csv(FILE *f, const at_snapshot *s, const at_selection *sel, size_t from, size_t count,
                  bool terminal);
int at_export_json(FILE *f, const at_snapshot *s, const at_selection *sel, size_t from, size_t count);

/* Create `path` (never over an existing file; mode 0600) and write every
 * row of sel in the format its name asks for. Returns 0 or -1 with a
 * one-line reason in err (a partial file is removed). */
int at_export_file(const char *path, const at_snapshot *s, const at_selection *sel, char *err, size_t errlen);

/* Prometheus text of aethertop's derived figures (new names; the
 * reference's stay as at_report_metrics prints them): affinities created
 * per second over the last 60 s (from created_at), and, when `hits5m` is
 * given, prompt-cache figures from the usage table over 5 minutes (the
 * token hit rate only when the window had tokens).
 * malloc'd. */
char *at_metrics_derived(const at_snapshot *s, const at_stats *st, double now, const at_hits_report *hits5m);

#endif
