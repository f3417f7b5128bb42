/* PLACEHOLDER being replaced by the call_stats implementation (contract in call_stats.h). */
#include "observability/call_stats.h"

const char *mb_phase_name(enum mb_phase phase) { (void)phase; return NULL; }
const char *mb_call_outcome_name(enum mb_call_outcome outcome) { (void)outcome; return NULL; }
int mb_call_stats_method_index(const char *method) { (void)method; return MB_METHOD_COUNT - 1; }
struct mb_call_stats *mb_call_stats_create(const char *const *tool_names, size_t ntools) { (void)tool_names; (void)ntools; return NULL; }
void mb_call_stats_destroy(struct mb_call_stats *cs) { (void)cs; }
void mb_call_stats_count_method(struct mb_call_stats *cs, int method_index, bool ok) { (void)cs; (void)method_index; (void)ok; }
void mb_call_stats_record_phase(struct mb_call_stats *cs, enum mb_phase phase, uint64_t us) { (void)cs; (void)phase; (void)us; }
void mb_call_stats_record_tool(struct mb_call_stats *cs, size_t tool_index, enum mb_call_outcome outcome, uint64_t us, uint64_t bytes) { (void)cs; (void)tool_index; (void)outcome; (void)us; (void)bytes; }
void mb_call_stats_phase(const struct mb_call_stats *cs, enum mb_phase phase, struct mb_histogram *out) { (void)cs; (void)phase; *out = (struct mb_histogram){0}; }
uint64_t mb_call_stats_method_total(const struct mb_call_stats *cs, int method_index, bool ok) { (void)cs; (void)method_index; (void)ok; return 0; }
void mb_call_stats_tool_totals(const struct mb_call_stats *cs, uint64_t *calls, uint64_t *sum_us) { (void)cs; *calls = 0; *sum_us = 0; }
double mb_histogram_quantile(const struct mb_histogram *h, double q) { (void)h; (void)q; return 0; }
int mb_metrics_render_calls(const struct mb_call_stats *cs, struct mb_buf *out) { (void)cs; (void)out; return 0; }
