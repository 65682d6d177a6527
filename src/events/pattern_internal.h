/* pattern_internal: the compiled form of an event pattern, shared by the JSON reader
 * (pattern_json.c), the compiler (pattern_parse.c), the value predicates (pattern_value.c), the
 * single-pattern evaluator (pattern_match.c) and the multi-rule machine (pattern_machine.c,
 * pattern_index.c). Not a public header: nothing outside src/events/pattern* includes it.
 *
 * A compiled pattern is a list of branches (the "$or" expansion, in disjunctive normal form);
 * a branch is a list of constraints on distinct field paths; a constraint is a set of value
 * operators (any may match) plus absent_ok when {"exists": false} is among them. */
#ifndef SL_PATTERN_INTERNAL_H
#define SL_PATTERN_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events/pattern.h"

/* Numbers compare as integers counting millionths within +-5e9 (Event Ruler's ComparableNumber). */
#define SL_MICRO_LIMIT 5000000000000000LL

/* ---- JSON reader for patterns (keeps number text, positions, key order, duplicates) ---- */

typedef enum {
    SL_PJ_OBJECT,
    SL_PJ_ARRAY,
    SL_PJ_STRING,
    SL_PJ_NUMBER,
    SL_PJ_TRUE,
    SL_PJ_FALSE,
    SL_PJ_NULL
} sl_pj_type;

typedef struct {
    unsigned line, col; /* 1-based; col counts characters */
} sl_pj_pos;

typedef struct sl_pj sl_pj;
typedef struct {
    char *key;
    size_t key_len;
    sl_pj_pos key_end; /* just after the key's closing quote */
    sl_pj *value;
} sl_pj_member;

struct sl_pj {
    sl_pj_type type;
    sl_pj_pos end; /* just after the value's last character (Jackson's "current location") */
    char *str;     /* STRING: decoded UTF-8, NUL-terminated; NUMBER: the text as written */
    size_t len;
    sl_pj_member *members; /* OBJECT */
    sl_pj **items;         /* ARRAY */
    size_t n;
};

/* Parses text into a tree. On error returns NULL, sets *reason (static or in reason_buf) and
 * *pos to where the error was found. */
sl_pj *sl_pj_parse(const char *text, size_t len, const char **reason, char *reason_buf,
                   size_t reason_len, sl_pj_pos *pos);
void sl_pj_free(sl_pj *v);

/* ---- event values ---- */

typedef enum {
    SL_PV_STRING,
    SL_PV_NUMBER,
    SL_PV_TRUE,
    SL_PV_FALSE,
    SL_PV_NULL
} sl_pv_type;

typedef struct {
    sl_pv_type type;
    const char *s; /* STRING */
    size_t len;
    double d; /* NUMBER */
    bool is_int;
    long long i;
    bool comparable; /* within +-5e9; then compared in millionths (rounded) */
    int64_t micro;
} sl_pv;

/* j must be a string, number, true, false or null. */
void sl_pv_from_json(sl_pv *v, const json_t *j);
void sl_pv_set_real(sl_pv *v, double d);
void sl_pv_set_int(sl_pv *v, long long i);

/* ---- value operators ---- */

typedef enum {
    SL_OP_EXACT_STR, /* str; ip_len > 0 when the text is an IP literal */
    SL_OP_EXACT_NUM,
    SL_OP_TRUE,
    SL_OP_FALSE,
    SL_OP_NULL,
    SL_OP_EQ_IC,     /* str folded */
    SL_OP_PREFIX,    /* str */
    SL_OP_PREFIX_IC, /* str folded */
    SL_OP_SUFFIX,
    SL_OP_SUFFIX_IC,
    SL_OP_CIDR,
    SL_OP_NUMERIC,
    SL_OP_WILDCARD, /* globs[0] */
    SL_OP_AB_STR,   /* set */
    SL_OP_AB_NUM,   /* nums */
    SL_OP_AB_PREFIX,
    SL_OP_AB_SUFFIX,
    SL_OP_AB_IC,       /* set folded */
    SL_OP_AB_WILDCARD, /* globs */
    SL_OP_EXISTS,
    SL_OP_KIND_COUNT
} sl_op_kind;

typedef struct {
    char *s;
    size_t len;
} sl_bytes;

/* A wildcard: literal pieces separated by '*' (escapes already resolved). */
typedef struct {
    sl_bytes *segs;
    size_t nsegs; /* pieces; a pattern with k stars has k+1 pieces, some possibly empty */
} sl_glob;

typedef struct {
    sl_op_kind kind;
    sl_bytes str;
    int ip_len; /* EXACT_STR of an IP literal: 4 or 16 */
    unsigned char ip[16];
    /* EXACT_NUM */
    double d;
    bool is_int;
    long long i;
    bool comparable;
    int64_t micro;
    /* NUMERIC (micro units, bounds included unless open) */
    int64_t lo, hi;
    bool lo_open, hi_open;
    /* CIDR */
    int cidr_len;
    unsigned char cidr_lo[16], cidr_hi[16];
    /* anything-but sets */
    sl_bytes *set;
    size_t nset;
    int64_t *nums;
    size_t nnums;
    sl_glob *globs;
    size_t nglobs;
    sl_bytes key; /* canonical encoding: equal keys mean equal operators */
} sl_op;

/* Rank used to order a branch's constraints in the machine: the most selective first. */
int sl_op_rank(sl_op_kind k);
bool sl_op_matches(const sl_op *op, const sl_pv *v);
void sl_op_free(sl_op *op);
void sl_op_copy(sl_op *dst, const sl_op *src);
/* Fills op->key from the other fields. */
void sl_op_make_key(sl_op *op);
/* Sorts and deduplicates an anything-but set or number list. */
void sl_op_sort_set(sl_op *op);

/* Case folding used by every "equals-ignore-case": ASCII and the two-byte UTF-8 letters of Latin-1,
 * Greek and Cyrillic; the result has the same length. out holds n bytes. */
void sl_fold(const char *s, size_t n, char *out);
/* Parses an IP literal the way Event Ruler accepts one; returns 4, 16 or 0. */
int sl_ip_parse(const char *s, size_t n, unsigned char out[16]);
/* Looks like an IP literal (digits and dots, or hex digits and colons with at least one colon). */
bool sl_ip_shaped(const char *s, size_t n);
/* Millionths of a number written in JSON: 0 ok, 1 more than six decimals, 2 outside +-5e9. */
int sl_number_micro(const char *text, size_t n, int64_t *micro);
/* Parses a wildcard; returns NULL or an error message (in buf). */
const char *sl_glob_parse(const char *s, size_t n, sl_glob *g, char *buf, size_t buflen);
bool sl_glob_match(const sl_glob *g, const char *s, size_t n);
void sl_glob_free(sl_glob *g);

/* ---- compiled pattern ---- */

typedef struct {
    sl_bytes *segs; /* field path, outermost key first */
    size_t nsegs;
    sl_bytes path_key; /* canonical encoding of the path */
    sl_op *ops;        /* sorted by key, distinct */
    size_t nops;
    bool absent_ok; /* {"exists": false} is one of the alternatives */
    int rank;       /* max rank of its operators */
    sl_bytes key;   /* canonical: path, absent_ok, operators */
} sl_constraint;

/* Pattern tree of one branch, for the direct evaluator: one node per path step. */
typedef struct sl_ptree {
    const char *seg;
    size_t seg_len;
    struct sl_ptree *kids;
    size_t nkids;
    const sl_constraint *con; /* constraint on exactly this path, if any */
    bool all_absent_ok;       /* every constraint at or below here accepts absence */
} sl_ptree;

typedef struct {
    sl_constraint *cons; /* sorted by key; paths distinct */
    size_t ncons;
    sl_ptree root;
} sl_branch;

struct sl_pattern {
    sl_branch *branches;
    size_t nbranches;
};

/* Deep copy, paths trees rebuilt. */
sl_pattern *sl_pattern_clone(const sl_pattern *p);
void sl_constraint_free(sl_constraint *c);
void sl_constraint_copy(sl_constraint *dst, const sl_constraint *src);
/* Builds b->root from b->cons. */
void sl_branch_build_tree(sl_branch *b);
void sl_branch_free_tree(sl_ptree *t);

/* Appends a length-prefixed piece to a canonical key under construction. */
typedef struct {
    char *s;
    size_t len, cap;
} sl_keybuf;
void sl_keybuf_put(sl_keybuf *k, const void *p, size_t n);
void sl_keybuf_piece(sl_keybuf *k, const void *p, size_t n);

#endif
