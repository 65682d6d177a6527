/* asl: the Amazon States Language (JSONPath query language) parsed and validated into a compiled
 * state machine the engine runs without looking at JSON text again. Owns the definition grammar,
 * every validation rule and its InvalidDefinition message, and the Choice rule evaluator.
 * Pure: no I/O, no globals; a compiled machine is immutable and shared between threads.
 *
 * Validation messages follow Step Functions: each problem is one
 * "CODE: message at /States/Name/Field" diagnostic (codes SCHEMA_VALIDATION_FAILED,
 * MISSING_TRANSITION_TARGET — also used by AWS for an unreachable state: 'State "X" is not
 * reachable.' —, MISSING_END_STATE, INVALID_JSON_DESCRIPTION, DUPLICATE_STATE_NAME, ...);
 * sl_asl_compile joins them as "Invalid State Machine Definition: 'diag1, diag2'" (one pair of
 * quotes around the comma-separated list, a diagnostic without a location ending "at null") —
 * the text CreateStateMachine puts in its InvalidDefinition error, and
 * ValidateStateMachineDefinition lists one by one. */
#ifndef SL_ASL_H
#define SL_ASL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "states/jsonpath.h"
#include "states/payload.h"

typedef enum {
    SL_ASL_PASS,
    SL_ASL_TASK,
    SL_ASL_CHOICE,
    SL_ASL_WAIT,
    SL_ASL_SUCCEED,
    SL_ASL_FAIL,
    SL_ASL_PARALLEL,
    SL_ASL_MAP,
} sl_asl_type;

/* "Pass", "Task", ...: the prefix of history event types ("PassStateEntered"). */
const char *sl_asl_type_name(sl_asl_type t);

/* An optional path field (InputPath, OutputPath, ResultPath): absent means "$" (path NULL,
 * is_null false); JSON null means "discard" (is_null true). */
typedef struct {
    sl_jsonpath *path;
    bool is_null;
} sl_asl_path;

/* A field that is a literal or computed: e.g. Fail's Error / ErrorPath, Wait's Seconds /
 * SecondsPath, Task's TimeoutSeconds / TimeoutSecondsPath, Map's MaxConcurrency(Path).
 * ErrorPath/CausePath may be a path or an intrinsic call; the *SecondsPath fields are paths.
 * present false: neither field was given. */
typedef struct {
    bool present;
    json_t *literal;     /* the literal value, or NULL */
    sl_payload *dynamic; /* compiled from {"value.$": expr}; evaluate and take "value" */
} sl_asl_value;

typedef struct {
    char **errors; /* ErrorEquals, in order; "States.ALL" only alone and last */
    size_t nerrors;
    double interval_seconds;  /* default 1 */
    int max_attempts;         /* default 3; 0 never retries */
    double backoff_rate;      /* default 2.0, >= 1.0 */
    double max_delay_seconds; /* 0: none */
    bool jitter_full;         /* JitterStrategy "FULL" (default "NONE") */
} sl_asl_retrier;

typedef struct {
    char **errors;
    size_t nerrors;
    sl_asl_path result_path; /* default "$" (path NULL, is_null false) */
    int next;                /* state index */
} sl_asl_catcher;

typedef struct sl_asl_rule sl_asl_rule; /* a compiled Choice rule (And/Or/Not or a comparison) */

typedef struct {
    sl_asl_rule *rule;
    int next;
} sl_asl_choice;

typedef struct sl_asl_machine sl_asl_machine;

typedef struct {
    char *name;
    sl_asl_type type;
    int next; /* state index, or -1 when End (or a terminal type) */
    bool end;
    /* Some string of the state (keys and values, nested machines included) contains "$$":
     * only such a state can read the context object, so only it is given one. */
    bool uses_context;

    /* input/output processing (fields a type does not allow are rejected at compile time) */
    sl_asl_path input_path;
    sl_asl_path output_path;
    sl_asl_path result_path;
    sl_payload *parameters;      /* Parameters (Map: ItemSelector or Parameters), or NULL */
    sl_payload *result_selector; /* or NULL */
    json_t *result;              /* Pass: Result, or NULL */

    /* Task */
    char *resource;
    sl_asl_value timeout_seconds;   /* TimeoutSeconds / TimeoutSecondsPath (default 99999999) */
    sl_asl_value heartbeat_seconds; /* HeartbeatSeconds / HeartbeatSecondsPath */
    sl_asl_retrier *retriers;       /* Task, Parallel, Map */
    size_t nretriers;
    sl_asl_catcher *catchers;
    size_t ncatchers;

    /* Choice */
    sl_asl_choice *choices;
    size_t nchoices;
    int default_next; /* -1 when no Default */

    /* Wait: exactly one of the four */
    sl_asl_value wait_seconds;   /* Seconds / SecondsPath */
    sl_asl_value wait_timestamp; /* Timestamp / TimestampPath (RFC 3339 string) */

    /* Fail */
    sl_asl_value error; /* Error / ErrorPath */
    sl_asl_value cause; /* Cause / CausePath */

    /* Parallel */
    sl_asl_machine **branches;
    size_t nbranches;

    /* Map */
    sl_asl_machine *iterator;     /* ItemProcessor or Iterator */
    sl_asl_path items_path;       /* ItemsPath, default "$" */
    sl_asl_value max_concurrency; /* MaxConcurrency / MaxConcurrencyPath; 0 = unlimited */
    bool distributed;             /* ItemProcessor.ProcessorConfig.Mode == "DISTRIBUTED" */
    char *execution_type;         /* distributed: ProcessorConfig.ExecutionType, or NULL */
    json_t *item_reader;          /* ItemReader object as written (distributed Map), or NULL */
    sl_payload *item_reader_parameters;        /* ItemReader.Parameters compiled, or NULL */
    json_t *item_batcher;                      /* ItemBatcher as written, or NULL */
    sl_payload *item_batcher_input;            /* ItemBatcher.BatchInput compiled, or NULL */
    json_t *result_writer;                     /* ResultWriter as written, or NULL */
    sl_payload *result_writer_parameters;      /* ResultWriter.Parameters compiled, or NULL */
    sl_asl_value tolerated_failure_count;      /* ToleratedFailureCount(Path) */
    sl_asl_value tolerated_failure_percentage; /* ToleratedFailurePercentage(Path) */
    char *label;                               /* Label, or NULL */
} sl_asl_state;

struct sl_asl_machine {
    sl_asl_state *states;
    size_t nstates;
    int start;              /* StartAt */
    double timeout_seconds; /* TimeoutSeconds of the top-level machine, 0: none */
    char *comment;
};

/* Compiles a definition (JSON text). NULL with the joined diagnostics in err on any problem:
 * invalid JSON, schema errors (unknown or misplaced fields, wrong types), missing or unknown
 * transition targets, unreachable states, a state with no way to end, invalid paths, templates
 * or intrinsics, Choice rules with no comparison, Retry/Catch problems ("States.ALL" not last),
 * QueryLanguage other than JSONPath. Resources are not checked here (the engine knows which
 * integrations exist and calls sl_asl_check_resources). Transitions resolve within one
 * machine level (states inside Parallel branches and Map processors form their own scope), but
 * a state name may appear only once in the whole definition, nested machines included
 * (DUPLICATE_STATE_NAME), as in AWS. */
sl_asl_machine *sl_asl_compile(const char *definition, char *err, size_t errlen);

/* The same validation returning every diagnostic as an array of
 * {"code": "SCHEMA_VALIDATION_FAILED", "message": "...", "location": "/States/X/Next"}
 * (empty array when the definition is valid). For ValidateStateMachineDefinition. A diagnostic
 * AWS gives no location (MISSING_END_STATE, INVALID_JSON_DESCRIPTION) has no "location" key. */
json_t *sl_asl_diagnose(const char *definition);

void sl_asl_free(sl_asl_machine *m);

/* The index of the state called name in m (this level only), or -1. */
int sl_asl_find(const sl_asl_machine *m, const char *name);

/* Visits every Task state's Resource in m, its branches and its Map processors; stops and
 * returns the first non-zero return of fn. The engine uses it to refuse unknown resources. */
int sl_asl_each_task(const sl_asl_machine *m, int (*fn)(const sl_asl_state *st, void *ctx),
                     void *ctx);

/* Choice evaluation: the index of the next state for this input (the first matching choice,
 * else Default), or -1 with *error_name "States.NoChoiceMatched" and a cause when nothing
 * matches and there is no Default. A *Path comparison whose path matches nothing, or a
 * variable that matches nothing, is not an error for Is* tests (IsPresent false) and fails the
 * rule otherwise with "States.Runtime" ("Invalid path '$.x': The choice state's condition path
 * references an invalid value."). */
int sl_asl_choose(const sl_asl_state *choice, json_t *input, json_t *context,
                  const char **error_name, char *cause, size_t causelen);

/* Parses an ASL timestamp (RFC 3339 with an uppercase 'T', and 'Z' or a numeric offset; an
 * optional fraction of up to 9 digits) into seconds since the epoch and nanoseconds. Either out
 * pointer may be NULL. False when s is not such a timestamp. Used by TimestampEquals & co. and
 * for Wait's Timestamp / TimestampPath. */
bool sl_asl_timestamp_parse(const char *s, long long *epoch_seconds, long *nanos);

/* True when a Retry/Catch ErrorEquals list matches the error name: an exact name;
 * "States.ALL" matches every error except the terminal ones (States.Runtime and
 * States.DataLimitExceeded are never retried or caught by States.ALL — only by naming them,
 * and States.Runtime not even then, as AWS documents); "States.TaskFailed" matches every error
 * except States.Timeout (and the terminal ones). */
bool sl_asl_error_matches(char *const *errors, size_t nerrors, const char *error_name);

#endif
