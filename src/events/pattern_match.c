/* pattern_match: decides whether one compiled pattern matches one event by walking the event
 * along each branch's path tree. It is the reference semantics: the multi-rule machine
 * (pattern_machine.c) must give the same answer for every event, and the tests check that it does.
 *
 * The meaning, for one branch (a conjunction of constraints on distinct paths):
 *   A leaf value of the event sits at a path and inside zero or more arrays. The branch matches
 *   when each constraint either takes a leaf value at its path that one of its operators accepts,
 *   or (when it has {"exists": false}) takes "absent", such that
 *   - no two values taken lie in different elements of the same array (Event Ruler's
 *     array-consistent matching: {"a": {"x": [1], "y": [2]}} does not match
 *     {"a": [{"x": 1}, {"y": 2}]}), and
 *   - for every constraint that took "absent", no leaf value at its path is visible: a value is
 *     hidden only when it lies in another element of an array from which a taken value was chosen.
 *     So {"exists": false} alone means "nowhere in the event", while
 *     {"a": {"x": [1], "y": [{"exists": false}]}} matches {"a": [{"x": 1, "y": 2}, {"x": 1}]}
 *     through the second element.
 *   Objects and empty arrays are not leaf values: {"exists": true} does not match them and
 *   {"exists": false} does.
 *
 * The walk computes, for each pattern-tree node and event node, two facts:
 *   P: the constraints below can be met with at least one value taken below this node;
 *   Z: they can all be met by "absent" with nothing taken below (so nothing below is hidden).
 * An array is P when some element is P (that element is then the chosen one), and Z when every
 * element is Z; an object combines its children (all must be P or Z, and P needs one P). When P
 * holds, Z no longer matters to anyone above, so the walk stops early there. The cost is linear
 * in the part of the event the pattern's paths reach. */
#include <string.h>

#include "events/pattern_internal.h"

typedef struct {
    bool p, z;
} pz;

static bool constraint_accepts(const sl_constraint *c, const json_t *j) {
    if (!c->nops) return false;
    sl_pv v;
    sl_pv_from_json(&v, j);
    for (size_t i = 0; i < c->nops; i++)
        if (sl_op_matches(&c->ops[i], &v)) return true;
    return false;
}

static pz eval(const sl_ptree *t, const json_t *e);

/* Combines the parts of a node: its own constraint and its children. */
static pz eval_node(const sl_ptree *t, const json_t *obj, pz self, bool has_self) {
    bool any_p = false, all_z = true;
    if (has_self) {
        if (!self.p && !self.z) return (pz){false, false};
        any_p |= self.p;
        all_z &= self.z;
    }
    for (size_t i = 0; i < t->nkids; i++) {
        const sl_ptree *k = &t->kids[i];
        pz r;
        if (obj) {
            r = eval(k, json_object_getn(obj, k->seg, k->seg_len));
        } else {
            r = (pz){false, k->all_absent_ok}; /* nothing below a scalar */
        }
        if (!r.p && !r.z) return (pz){false, false};
        any_p |= r.p;
        all_z &= r.z;
    }
    return any_p ? (pz){true, true} : (pz){false, all_z};
}

static pz eval(const sl_ptree *t, const json_t *e) {
    if (!e) return (pz){false, t->all_absent_ok};
    switch (json_typeof(e)) {
    case JSON_ARRAY: {
        bool all_z = t->all_absent_ok;
        size_t n = json_array_size(e);
        for (size_t i = 0; i < n; i++) {
            pz r = eval(t, json_array_get(e, i));
            if (r.p) return (pz){true, true};
            all_z &= r.z;
        }
        return (pz){false, all_z};
    }
    case JSON_OBJECT:
        /* a constraint ending on an object finds no leaf value here */
        return eval_node(t, e, (pz){false, t->con && t->con->absent_ok}, t->con != NULL);
    default:
        return eval_node(t, NULL, (pz){t->con && constraint_accepts(t->con, e), false},
                         t->con != NULL);
    }
}

static bool branch_matches(const sl_branch *b, const json_t *event) {
    if (!event || !json_is_object(event)) return b->root.all_absent_ok; /* no fields at all */
    pz r = eval_node(&b->root, event, (pz){false, false}, false);
    return r.p || r.z;
}

bool sl_pattern_match(const sl_pattern *p, const json_t *event) {
    if (!p) return false;
    for (size_t b = 0; b < p->nbranches; b++)
        if (branch_matches(&p->branches[b], event)) return true;
    return false;
}

bool sl_pattern_match_text(const sl_pattern *p, const char *event, size_t len) {
    json_error_t e;
    json_t *j = json_loadb(event, len, 0, &e);
    /* jansson refuses integers beyond 64 bits unless every integer is read as a real */
    if (!j && json_error_code(&e) == json_error_numeric_overflow)
        j = json_loadb(event, len, JSON_DECODE_INT_AS_REAL, &e);
    if (!j) return false;
    bool r = sl_pattern_match(p, j);
    json_decref(j);
    return r;
}
