/* Prompts from assistant.prompts.dir: one Markdown file per prompt (<name>.md). Optional YAML
 * front matter between "---" lines gives title, description and arguments
 * ([{name, description, required}]); "{{argument}}" in the body is replaced by the argument's
 * value on prompts/get. Optional "messages:" in front matter gives several messages with
 * roles and content types (text, image from a file beside the prompt, embedded resource).
 * Loaded once before fork; immutable afterwards. The total size of all prompt files is capped
 * (assistant.prompts.max_total_bytes): going over fails start-up with a message naming the
 * total, the cap and the largest files. */
#ifndef MB_PROMPTS_H
#define MB_PROMPTS_H

#include <jansson.h>
#include <stddef.h>

#include "common/diag.h"

struct mb_prompt_set;

/* Loads every *.md in dir (not recursive). dir NULL -> an empty set. Returns NULL after adding
 * diagnostics (file:line for bad front matter) on failure. */
struct mb_prompt_set *mb_prompts_load(const char *dir, size_t max_total_bytes, struct mb_diags *diags);
void mb_prompts_destroy(struct mb_prompt_set *set);
size_t mb_prompts_count(const struct mb_prompt_set *set);
/* The prompts/list result object {"prompts":[...]} (new reference). */
json_t *mb_prompts_list(const struct mb_prompt_set *set);
/* The prompts/get result object {"description":..., "messages":[...]} in *result (new reference).
 * Returns 0; -ENOENT for an unknown prompt; -EINVAL when a required argument is missing or an
 * argument is not a string (msg says which). */
int mb_prompts_get(const struct mb_prompt_set *set, const char *name, const json_t *arguments,
                   json_t **result, char *msg, size_t msglen);
/* Completion values for a prompt argument: the argument's "enum"/"values" from front matter
 * that start with prefix (at most 100). Returns a new array (maybe empty), or NULL when the
 * prompt or argument is unknown. */
json_t *mb_prompts_complete(const struct mb_prompt_set *set, const char *name, const char *argument,
                            const char *prefix);

#endif
