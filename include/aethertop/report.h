/* report.h — the JSON documents the reference endpoints return (and our
 * stats document), built from core results. Shared by `--json`, exports and
 * the console's detail view. All strings pass through at_json_harden when
 * printed (at_report_print). */
#ifndef AETHERTOP_REPORT_H
#define AETHERTOP_REPORT_H

#include <cjson/cJSON.h>
#include "aethertop/snapshot.h"
#include "aethertop/query.h"
#include "aethertop/stats.h"
#include "aethertop/mapping.h"
#include "aethertop/insight.h"

/* One enriched list item (reference AdminListAffinitiesAdapter). */
cJSON *at_report_list_item(const at_snapshot *s, const at_affinity *a);
/* {"status":"ok","data":{"items":[...],"meta":{...},"matched_user_id":...}} */
cJSON *at_report_list(const at_snapshot *s, const at_selection *sel, int limit, int offset,
                      const char *matched_user_id);
/* The /affinity/{user} answer (deliberate difference: all the user's keys). */
cJSON *at_report_user_affinity(const at_snapshot *s, const at_user_info *u, const at_selection *sel);
cJSON *at_report_stats(const at_snapshot *s, const at_stats *st);
cJSON *at_report_config(void);
cJSON *at_report_mappings(const at_mapping_stats *m);
/* Prometheus text with the reference's metric names. malloc'd. */
char *at_report_metrics(const at_snapshot *s, const at_stats *st);
/* Prompt-cache effectiveness for one or more windows. */
cJSON *at_report_hits(const at_hits_report *const *reports, size_t n);
cJSON *at_report_ttl_advice(const at_ttl_advice *a);
/* {"detail": msg} like FastAPI's HTTPException body. */
cJSON *at_report_detail(const char *msg);

/* Print JSON (indented) hardened against control characters; frees nothing. */
char *at_report_print(const cJSON *doc);

/* JSON number or null for a double that may be NAN. */
cJSON *at_json_number_or_null(double v);
cJSON *at_json_string_or_null(const char *s);

#endif
