/* PLACEHOLDER being replaced by the capacity implementation (contract in capacity.h). */
#include "observability/capacity.h"

void mb_capacity_thresholds_default(struct mb_capacity_thresholds *t) { *t = (struct mb_capacity_thresholds){0.70, 300, 10.0, 0.80, 0, 0.80}; }
const char *mb_capacity_verdict_name(enum mb_capacity_verdict v) { (void)v; return "warming_up"; }
const char *mb_worker_profile_name(enum mb_worker_profile p) { (void)p; return "dev"; }
struct mb_capacity *mb_capacity_create(const struct mb_capacity_thresholds *t) { (void)t; return NULL; }
void mb_capacity_destroy(struct mb_capacity *c) { (void)c; }
void mb_capacity_set_thresholds(struct mb_capacity *c, const struct mb_capacity_thresholds *t) { (void)c; (void)t; }
void mb_capacity_sample(struct mb_capacity *c, const struct mb_capacity_input *in) { (void)c; (void)in; }
void mb_capacity_read(const struct mb_capacity *c, struct mb_capacity_snapshot *out) { (void)c; out->sampled_unix_ms = 0; out->verdict = MB_VERDICT_WARMING_UP; }
int mb_capacity_render_metrics(const struct mb_capacity_snapshot *s, struct mb_buf *out) { (void)s; (void)out; return 0; }
json_t *mb_capacity_to_json(const struct mb_capacity_snapshot *s) { (void)s; return json_object(); }
