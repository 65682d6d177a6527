#!/usr/bin/env bash
# cookbook-fargate: the AWS Cookbook recipe "Launching a Fargate container task in response to an
# event", end to end on Sluice, with the recipe's own commands in the recipe's order:
#   a trail selects the bucket's input/ prefix → uploading maze.jpg raises an "AWS API Call via
#   CloudTrail" event → the rule's ECS target runs the task (FARGATE) with the bucket and key as
#   container overrides → the task processes the image and writes output/output.jpg.
# Then: output/output.jpg is a JPEG that differs from the input; an upload outside input/ starts
# no task; the recipe's clean-up commands all succeed. Exit 0 only when every check held.
#
# Uses the daemon at AWS_ENDPOINT_URL when set, else starts its own (build/sluice or $SLUICE_BIN)
# on a free loopback port with this example's config (the image alias). A daemon of your own does
# not have that alias unless you started it with this directory's sluice-config.json (EXAMPLE_DIR
# replaced, see README.md), so against one the task definition names the image "host" and runs
# process.sh directly; COOKBOOK_RECIPE_IMAGE=1 keeps the recipe's image name anyway.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SLUICE=${SLUICE_BIN:-$ROOT/build/sluice}
AWS=/usr/bin/aws
[ -x "$AWS" ] || AWS=aws
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_DEFAULT_REGION=$AWS_REGION AWS_PAGER=""
RECIPE_IMAGE=public.ecr.aws/x4e8a6b6/mazesolver:1.0.7
WORK=$(mktemp -d /tmp/sluice-cookbook-XXXXXX)
DAEMON=""
cleanup() {
  if [ -n "$DAEMON" ]; then kill "$DAEMON" 2>/dev/null || true; wait "$DAEMON" 2>/dev/null || true; fi
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
say() { printf '\n== %s\n' "$*"; }
fail() { echo "cookbook-fargate: FAILED: $*" >&2; exit 1; }
command -v convert >/dev/null && command -v identify >/dev/null ||
  fail "ImageMagick (convert, identify) is needed: apt-get install imagemagick"

# ---- the daemon ----
sed -e "s|EXAMPLE_DIR|$HERE|g" "$HERE/sluice-config.json" > "$WORK/sluice-config.json"
if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
  [ -x "$SLUICE" ] || fail "no daemon at $SLUICE (build it with make, or set SLUICE_BIN)"
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  ENDPOINT=http://127.0.0.1:$PORT
  LOG=${SLUICE_DAEMON_LOG_DIR:-$WORK}/cookbook-fargate-sluice.log
  "$SLUICE" serve --config "$WORK/sluice-config.json" --data "$WORK/sluice-data" \
    --listen "127.0.0.1:$PORT" 2>"$LOG" &
  DAEMON=$!
  for _ in $(seq 400); do curl -fsS "$ENDPOINT/_sluice/health" >/dev/null 2>&1 && break; sleep 0.05; done
  curl -fsS "$ENDPOINT/_sluice/health" >/dev/null || fail "the daemon did not start (see $LOG)"
  IMAGE=$RECIPE_IMAGE
else
  ENDPOINT=$AWS_ENDPOINT_URL
  if [ -n "${COOKBOOK_RECIPE_IMAGE:-}" ]; then IMAGE=$RECIPE_IMAGE; else IMAGE=host; fi
fi
aws() { "$AWS" --endpoint-url "$ENDPOINT" --output json "$@"; }
echo "Sluice at $ENDPOINT, work dir $WORK, container image $IMAGE"
cd "$WORK"
cp "$HERE"/policy1.json "$HERE"/policy2.json "$HERE"/targets-template.json .

# ---- preparation: what the recipe's CDK stack deploys ----
say "prep: buckets, trail, ECS cluster, task role, Fargate task definition (the recipe's CDK stack)"
BUCKET_NAME=aws-cookbook-recipe607-$$-$RANDOM
TRAIL_BUCKET=$BUCKET_NAME-cloud-trail
aws s3 mb "s3://$BUCKET_NAME" >/dev/null
aws s3 mb "s3://$TRAIL_BUCKET" >/dev/null
CLOUD_TRAIL_ARN=$(aws cloudtrail create-trail --name AWSCookbook607Trail --s3-bucket-name "$TRAIL_BUCKET" \
  --query TrailARN --output text)
aws cloudtrail start-logging --name "$CLOUD_TRAIL_ARN"
ECS_CLUSTER_ARN=$(aws ecs create-cluster --cluster-name AWS-Cookbook-EcsCluster \
  --query cluster.clusterArn --output text)
cat > task-role-trust.json <<'JSON'
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
  "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
JSON
cat > task-role-policy.json <<JSON
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*"],
  "Resource": ["arn:aws:s3:::$BUCKET_NAME/*"]}]}
JSON
TASK_ROLE_ARN=$(aws iam create-role --role-name AWSCookbook607TaskRole \
  --assume-role-policy-document file://task-role-trust.json --query Role.Arn --output text)
aws iam put-role-policy --role-name AWSCookbook607TaskRole --policy-name S3Access \
  --policy-document file://task-role-policy.json
AWS_ACCOUNT_ID=$(echo "$TASK_ROLE_ARN" | cut -d: -f5)
sed -e "s|AWS_ACCOUNT_ID|$AWS_ACCOUNT_ID|g" -e "s|AWS_REGION|$AWS_REGION|g" \
  -e "s|CONTAINER_IMAGE|$IMAGE|g" "$HERE/task-definition.json" > task-definition.json
if [ "$IMAGE" = host ]; then # a daemon without the alias: run process.sh directly
  python3 - "$HERE/process.sh" <<'PY'
import json, sys
td = json.load(open("task-definition.json"))
td["containerDefinitions"][0]["entryPoint"] = [sys.argv[1]]
json.dump(td, open("task-definition.json", "w"), indent=2)
PY
fi
TASK_DEFINITION_ARN=$(aws ecs register-task-definition --cli-input-json file://task-definition.json \
  --query taskDefinition.taskDefinitionArn --output text)
VPC_PRIVATE_SUBNETS=subnet-0123456789abcdef0     # accepted, not used: tasks share the host's network
VPC_DEFAULT_SECURITY_GROUP=sg-0123456789abcdef0
echo "bucket $BUCKET_NAME, trail $CLOUD_TRAIL_ARN"
echo "cluster $ECS_CLUSTER_ARN, task definition $TASK_DEFINITION_ARN"

# ---- the recipe's steps ----
say "1. CloudTrail data events for s3://$BUCKET_NAME/input/"
aws cloudtrail put-event-selectors --trail-name $CLOUD_TRAIL_ARN --event-selectors "[{ \"ReadWriteType\":
\"WriteOnly\", \"IncludeManagementEvents\":false, \"DataResources\": [{ \"Type\": \"AWS::S3::Object\",
\"Values\": [\"arn:aws:s3:::$BUCKET_NAME/input/\"] }], \"ExcludeManagementEventSources\": [] }]" >/dev/null

say "2. the rule's role (policy1.json)"
aws iam create-role --role-name AWSCookbook607RuleRole \
    --assume-role-policy-document file://policy1.json --query Role.Arn --output text

say "3-4. its permissions (policy2.json)"
aws iam put-role-policy --role-name AWSCookbook607RuleRole \
    --policy-name ECSRunTaskPermissionsForEvents \
    --policy-document file://policy2.json

say "5. the rule: S3 writes to the bucket, via CloudTrail"
aws events put-rule --name "AWSCookbookRule" --role-arn "arn:aws:iam::$AWS_ACCOUNT_ID:role/AWSCookbook607RuleRole" --event-pattern "{\"source\":[\"aws.s3\"],\"detail-type\":[\"AWS API Call via CloudTrail\"],\"detail\":{\"eventSource\":[\"s3.amazonaws.com\"],\"eventName\":[\"CopyObject\",\"PutObject\",\"CompleteMultipartUpload\"],\"requestParameters\":{\"bucketName\":[\"$BUCKET_NAME\"]}}}" \
  --query RuleArn --output text

say "6. targets.json from targets-template.json"
sed -e "s|AWS_ACCOUNT_ID|${AWS_ACCOUNT_ID}|g" \
    -e "s|AWS_REGION|${AWS_REGION}|g" \
    -e "s|ECSClusterARN|${ECS_CLUSTER_ARN}|g" \
    -e "s|TaskDefinitionARN|${TASK_DEFINITION_ARN}|g" \
    -e "s|VPCPrivateSubnets|${VPC_PRIVATE_SUBNETS}|g" \
    -e "s|VPCDefaultSecurityGroup|${VPC_DEFAULT_SECURITY_GROUP}|g" \
    targets-template.json > targets.json

say "7. the rule's target: the Fargate task"
FAILED=$(aws events put-targets --rule AWSCookbookRule \
    --targets file://targets.json --query FailedEntryCount --output text)
[ "$FAILED" = 0 ] || fail "put-targets: $FAILED failed entries"

say "8. the bucket is empty"
[ -z "$(aws s3 ls "s3://$BUCKET_NAME/")" ] || fail "the bucket is not empty"

say "9. upload maze.jpg under input/"
if [ -f "$HERE/maze.jpg" ]; then cp "$HERE/maze.jpg" maze.jpg; else
  convert -size 320x240 plasma:fractal -seed 607 maze.jpg 2>/dev/null || convert -size 320x240 plasma: maze.jpg
fi
identify maze.jpg
aws s3 cp maze.jpg s3://$BUCKET_NAME/input/maze.jpg
TASKS="[]"
for _ in $(seq 200); do
  TASKS=$(aws ecs list-tasks --cluster $ECS_CLUSTER_ARN --query taskArns)
  [ "$TASKS" != "[]" ] || TASKS=$(aws ecs list-tasks --cluster $ECS_CLUSTER_ARN --desired-status STOPPED --query taskArns)
  [ "$TASKS" != "[]" ] && break
  sleep 0.1
done
echo "aws ecs list-tasks: $TASKS"
[ "$TASKS" != "[]" ] || fail "the upload started no task"
TASK=$(echo "$TASKS" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0])')

say "validation: output/output.jpg"
for _ in $(seq 600); do
  STATUS=$(aws ecs describe-tasks --cluster $ECS_CLUSTER_ARN --tasks "$TASK" --query 'tasks[0].lastStatus' --output text)
  [ "$STATUS" = STOPPED ] && break
  sleep 0.1
done
aws ecs describe-tasks --cluster $ECS_CLUSTER_ARN --tasks "$TASK" --query 'tasks[0].{group:group,launchType:launchType,startedBy:startedBy,stopCode:stopCode,exitCode:containers[0].exitCode,env:overrides.containerOverrides[0].environment}'
EXIT=$(aws ecs describe-tasks --cluster $ECS_CLUSTER_ARN --tasks "$TASK" --query 'tasks[0].containers[0].exitCode' --output text)
echo "task log:"
aws logs filter-log-events --log-group-name /ecs/AWSCookbook607 --query 'events[].message' --output text | tr '\t' '\n' | sed 's/^/  | /'
[ "$STATUS" = STOPPED ] && [ "$EXIT" = 0 ] || fail "the task ended $STATUS with exit code $EXIT"
aws s3 ls s3://$BUCKET_NAME/output/
aws s3 cp s3://$BUCKET_NAME/output/output.jpg ./output.jpg
FORMAT=$(identify -format '%m %wx%h' output.jpg) || fail "output.jpg is not an image"
echo "output.jpg: $FORMAT"
case "$FORMAT" in JPEG\ *) ;; *) fail "output.jpg is $FORMAT, not a JPEG" ;; esac
! cmp -s maze.jpg output.jpg || fail "output.jpg is the input unchanged"

say "an upload outside input/ starts no task"
count() { aws ecs list-tasks --cluster $ECS_CLUSTER_ARN --desired-status "$1" --query 'length(taskArns)'; }
BEFORE=$(( $(count RUNNING) + $(count STOPPED) ))
aws s3 cp maze.jpg s3://$BUCKET_NAME/elsewhere/maze.jpg >/dev/null
sleep 3
AFTER=$(( $(count RUNNING) + $(count STOPPED) ))
[ "$AFTER" = "$BEFORE" ] || fail "$AFTER tasks after the upload outside input/ (before: $BEFORE)"
echo "no new task ($AFTER in the cluster)"

# ---- the recipe's clean-up ----
say "clean-up"
aws events remove-targets --rule AWSCookbookRule --ids AWSCookbookRuleID --query FailedEntryCount --output text | grep -qx 0 ||
  fail "remove-targets"
aws events delete-rule --name "AWSCookbookRule"
aws iam delete-role-policy --role-name AWSCookbook607RuleRole \
--policy-name ECSRunTaskPermissionsForEvents
aws iam delete-role --role-name AWSCookbook607RuleRole
aws cloudtrail stop-logging --name $CLOUD_TRAIL_ARN
# what `cdk destroy` removes
aws iam delete-role-policy --role-name AWSCookbook607TaskRole --policy-name S3Access
aws iam delete-role --role-name AWSCookbook607TaskRole
aws ecs deregister-task-definition --task-definition "$TASK_DEFINITION_ARN" >/dev/null
aws cloudtrail delete-trail --name "$CLOUD_TRAIL_ARN"
aws s3 rb --force "s3://$BUCKET_NAME" >/dev/null
aws s3 rb --force "s3://$TRAIL_BUCKET" >/dev/null
if aws iam get-role --role-name AWSCookbook607RuleRole >/dev/null 2>&1; then fail "the rule's role is still there"; fi

say "cookbook-fargate: all checks passed"
