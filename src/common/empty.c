/* Placeholder translation unit for a module whose sources are not written yet. */
typedef int mb_empty_translation_unit;
