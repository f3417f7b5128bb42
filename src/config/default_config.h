/* The demo configuration embedded in the binary: what `mcpbridge serve` runs without --config
 * and what `make run` starts. It points at the demo OpenAPI document, prompts and resources
 * (paths relative to the base_dir given to mb_config_load_text) and at the local demo API on
 * http://127.0.0.1:8501. */
#ifndef MB_DEFAULT_CONFIG_H
#define MB_DEFAULT_CONFIG_H

/* JSON text, NUL-terminated; load it with mb_config_load_text(name, mb_default_config_text,
 * base_dir, ...) where base_dir holds demo/ (the source tree or the install prefix). */
extern const char mb_default_config_text[];

#endif
