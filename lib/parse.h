/* Parsers for command-line values. Each returns 0 or -EINVAL/-ERANGE and
 * never accepts a partial parse ("4Gx", "", "-1", "1.5G"). */
#ifndef VMM_PARSE_H
#define VMM_PARSE_H

#include <stdint.h>

/* Parses a size: decimal digits with an optional binary suffix K, M, G or T
 * (case-insensitive, optionally followed by "iB" or "B"). A bare number is
 * multiplied by default_unit (1 for bytes, 1 << 20 for MiB). */
int parse_size(const char *s, uint64_t default_unit, uint64_t *out);

/* Parses a decimal unsigned integer in [min, max]. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
