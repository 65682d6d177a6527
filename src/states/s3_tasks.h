/* s3_tasks: Step Functions' S3 integrations, calling the object store directly (no HTTP):
 * arn:aws:states:::aws-sdk:s3:<action> tasks, arn:aws:states:::s3:getObject / s3:putObject, and
 * a distributed Map's ItemReader (JSON, JSONL, CSV, manifest, ListObjectsV2) and ResultWriter.
 * Results use the SDK's shapes (PascalCase fields, as AWS returns them to a state machine);
 * failures carry the error names a state machine sees ("S3.NoSuchKeyException", ...). */
#ifndef SL_STATES_S3_TASKS_H
#define SL_STATES_S3_TASKS_H

#include <jansson.h>
#include <stdbool.h>

struct sl_states;

/* True when action (e.g. "getObject") is an aws-sdk:s3 action Sluice runs. */
bool sfn_s3_sdk_action_supported(const char *action);
/* True when action is an optimized s3 integration Sluice runs ("getObject", "putObject"). */
bool sfn_s3_action_supported(const char *action);

/* Runs one action with the task's Parameters. sdk: aws-sdk:s3 (true) or the optimized s3
 * integration (false). Returns the result, or NULL with *error and *cause set (malloc'd). */
json_t *sfn_s3_task(struct sl_states *s, bool sdk, const char *action, json_t *params, char **error,
                    char **cause);

/* A distributed Map's items: reader is the ItemReader as written, params its evaluated
 * Parameters. NULL with *error ("States.ItemReaderFailed") and *cause on failure. */
json_t *sfn_s3_read_items(struct sl_states *s, json_t *reader, json_t *params, char **error,
                          char **cause);

/* A distributed Map's ResultWriter: writes the results (array of {"Index","Status","Output" /
 * "Error","Cause"} per item) under Bucket/Prefix as AWS does (manifest.json, SUCCEEDED_n.json,
 * FAILED_n.json) and returns the ResultWriterDetails object. NULL with *error
 * ("States.ResultWriterFailed") and *cause on failure. */
json_t *sfn_s3_write_results(struct sl_states *s, json_t *params, const char *map_run_arn,
                             json_t *results, char **error, char **cause);

/* The pure item parser behind sfn_s3_read_items (and the fuzz target): data is an object's
 * bytes, config the ReaderConfig (InputType JSON | JSONL | CSV, CSVHeaderLocation FIRST_ROW |
 * GIVEN, CSVHeaders, CSVDelimiter COMMA | PIPE | SEMICOLON | SPACE | TAB, MaxItems,
 * ItemsPointer). Returns the items array, or NULL with a message in err. CSV follows AWS's
 * documented rules: fields are strings, quotes may enclose delimiters and newlines, "" and
 * backslash escapes, short rows padded with "", extra fields skipped, headers up to 10 KiB. */
json_t *sfn_items_parse(const char *data, size_t len, const json_t *config, char *err,
                        size_t errlen);

#endif
