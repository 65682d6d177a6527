/* conditions: HTTP request conditions as S3 applies them: the Range header, ETag lists
 * (If-Match / If-None-Match), and the RFC 7232 evaluation order of all four conditional
 * headers (also used with the x-amz-copy-source- prefix for copies). Pure functions. */
#ifndef SL_CONDITIONS_H
#define SL_CONDITIONS_H

#include <stdbool.h>
#include <stdint.h>

/* Parses a Range header against an object of size bytes. Returns 1 with the inclusive
 * [start, end], 0 when the header is to be ignored (absent, not bytes=, several ranges or
 * malformed: S3 then serves the whole object), -1 when unsatisfiable (416 InvalidRange). */
int s3_range_parse(const char *header, uint64_t size, uint64_t *start, uint64_t *end);

/* True when the comma-separated ETag list (quoted or not, W/ allowed, or "*") names etag. */
bool s3_etag_list_matches(const char *list, const char *etag);

typedef struct {
    const char *if_match, *if_none_match, *if_modified_since, *if_unmodified_since;
} s3_conditions;

/* 0 to go on, 412 (precondition failed) or 304 (not modified). Times compare at second
 * precision; unparseable dates are ignored, as S3 does. */
int s3_conditions_check(const s3_conditions *c, const char *etag, int64_t last_modified_ms);

#endif
