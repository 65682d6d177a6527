#!/usr/bin/env bash
# Deploys the edge-download pipeline on the Sluice at $ENDPOINT (a bucket $BUCKET with a trail
# selecting it, the ECS cluster "edge" and the s3downloader task definition downloading into
# $DOWNLOADS, the state machine, the rule). Prints the state machine's ARN. Used by run.sh and
# by `make run`.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
: "${ENDPOINT:?}" "${BUCKET:?}" "${DOWNLOADS:?}"
AWS=/usr/bin/aws
[ -x "$AWS" ] || AWS=aws
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
aws_() { "$AWS" --endpoint-url "$ENDPOINT" --output json "$@"; }

aws_ s3 mb "s3://$BUCKET" >/dev/null
aws_ cloudtrail create-trail --name "$BUCKET-trail" --s3-bucket-name "$BUCKET" >/dev/null
aws_ cloudtrail put-event-selectors --trail-name "$BUCKET-trail" --event-selectors \
  "[{\"ReadWriteType\": \"WriteOnly\", \"IncludeManagementEvents\": false, \"DataResources\": [{\"Type\": \"AWS::S3::Object\", \"Values\": [\"arn:aws:s3:::$BUCKET/\"]}]}]" >/dev/null
aws_ cloudtrail start-logging --name "$BUCKET-trail"
CLUSTER_ARN=$(aws_ ecs create-cluster --cluster-name edge --query cluster.clusterArn --output text)
sed "s|DOWNLOAD_DIR_PATH|$DOWNLOADS|" "$HERE/ecs-task-definition.json" > "$TMP/task-definition.json"
TD_ARN=$(aws_ ecs register-task-definition --cli-input-json "file://$TMP/task-definition.json" \
  --query taskDefinition.taskDefinitionArn --output text)
sed -e "s|CLUSTER_ARN|$CLUSTER_ARN|" -e "s|TASK_DEFINITION_ARN|$TD_ARN|" \
  "$HERE/state-machine-definition.json" > "$TMP/definition.json"
SM_ARN=$(aws_ stepfunctions create-state-machine --name "edge-download-$BUCKET" \
  --definition "file://$TMP/definition.json" \
  --role-arn arn:aws:iam::000000000000:role/edge-sfn --query stateMachineArn --output text)
sed "s|BUCKET_NAME|$BUCKET|" "$HERE/event-pattern.json" > "$TMP/pattern.json"
aws_ events put-rule --name "$BUCKET-upload" --event-pattern "file://$TMP/pattern.json" >/dev/null
aws_ events put-targets --rule "$BUCKET-upload" --targets \
  "Id=sfn,Arn=$SM_ARN,RoleArn=arn:aws:iam::000000000000:role/edge-events" >/dev/null
echo "$SM_ARN"
