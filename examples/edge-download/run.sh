#!/usr/bin/env bash
# edge-download: the "Step Functions with ECS Anywhere" seed, end to end on Sluice.
#   a trail selects the bucket → uploading demo1.txt raises a CloudTrail-shaped event → an
#   EventBridge rule starts the state machine → Pass extracts bucketName/fileKey → Choice lets
#   demo*.txt through → ecs:runTask.sync runs an EXTERNAL task on a `sluice agent` (a separate
#   process; in its own network namespace when EDGE_NETNS=1 and the machine allows) → the task
#   downloads the file into the agent's data directory → the execution SUCCEEDS.
# Then: other.txt ends without a task; killing the agent mid-task fails the execution the way
# ECS reports a lost instance; a restarted agent takes new work.
# Uses the daemon at AWS_ENDPOINT_URL when set (it must have been started with this example's
# image alias, see README.md), else starts its own on a free loopback port. Exit 0 only when
# every check held.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SLUICE=${SLUICE_BIN:-$ROOT/build/sluice}
AWS=/usr/bin/aws
[ -x "$AWS" ] || AWS=aws
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
WORK=$(mktemp -d /tmp/sluice-edge-XXXXXX)
DOWNLOADS=$WORK/edge-device/data
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # the task the killed agent left behind (its own process group) ends with the example
  pkill -f "$HERE/s3downloader.sh" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
say() { printf '\n== %s\n' "$*"; }
fail() { echo "edge-download: FAILED: $*" >&2; exit 1; }

# ---- the daemon ----
cat > "$WORK/sluice.json" <<EOF
{"image_aliases": {"linkcd/s3downloader:arm": {"image": "host", "entryPoint": ["$HERE/s3downloader.sh"]}}}
EOF
if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  ENDPOINT=http://127.0.0.1:$PORT
  SLUICE_AGENT_TIMEOUT_S=${SLUICE_AGENT_TIMEOUT_S:-4} "$SLUICE" serve --config "$WORK/sluice.json" \
    --data "$WORK/sluice-data" --listen "127.0.0.1:$PORT" 2>"$WORK/sluice.log" &
  pids+=($!)
  for _ in $(seq 200); do curl -fsS "$ENDPOINT/_sluice/health" >/dev/null 2>&1 && break; sleep 0.05; done
  curl -fsS "$ENDPOINT/_sluice/health" >/dev/null || fail "the daemon did not start (see $WORK/sluice.log)"
else
  ENDPOINT=$AWS_ENDPOINT_URL
fi
aws_() { "$AWS" --endpoint-url "$ENDPOINT" --output json "$@"; }
echo "Sluice at $ENDPOINT, work dir $WORK"

# ---- the edge device: a `sluice agent` ----
start_agent() {
  "$SLUICE" agent --endpoint "$ENDPOINT" --cluster edge --data "$WORK/edge-device/agent" \
    --name nanopi 2>>"$WORK/agent.log" &
  AGENT=$!
  pids+=($AGENT)
}

BUCKET=edge-demo-$$
say "1. bucket + trail (CloudTrail data events), ECS cluster, task definition, state machine, rule"
SM_ARN=$(ENDPOINT=$ENDPOINT BUCKET=$BUCKET DOWNLOADS=$DOWNLOADS "$HERE/deploy.sh")
echo "state machine $SM_ARN"

say "2. the edge device registers (sluice agent --cluster edge)"
start_agent
for _ in $(seq 100); do
  n=$(aws_ ecs list-container-instances --cluster edge --query 'length(containerInstanceArns)')
  [ "$n" -ge 1 ] && break; sleep 0.1
done
[ "$n" -ge 1 ] || fail "the agent did not register (see $WORK/agent.log)"

# the newest execution once there are $1 of them, waited until it ends; prints its ARN
wait_execution() {
  local want=$1 arn="" status=RUNNING
  for _ in $(seq 600); do
    arn=$(aws_ stepfunctions list-executions --state-machine-arn "$SM_ARN" \
      --query "length(executions) >= \`$want\` && executions[0].executionArn || ''" --output text)
    if [ -n "$arn" ] && [ "$arn" != "False" ] && [ "$arn" != "None" ]; then
      status=$(aws_ stepfunctions describe-execution --execution-arn "$arn" --query status --output text)
      [ "$status" != RUNNING ] && break
    fi
    sleep 0.1
  done
  echo "$arn"
}

say "3. upload demo1.txt: the edge device downloads it"
echo "hello edge $(date)" > "$WORK/demo1.txt"
aws_ s3 cp "$WORK/demo1.txt" "s3://$BUCKET/demo1.txt" >/dev/null
EXEC=$(wait_execution 1)
STATUS=$(aws_ stepfunctions describe-execution --execution-arn "$EXEC" --query status --output text)
[ "$STATUS" = SUCCEEDED ] || fail "demo1.txt: execution $EXEC is $STATUS"
cmp -s "$WORK/demo1.txt" "$DOWNLOADS/demo1.txt" || fail "demo1.txt was not downloaded to $DOWNLOADS"
aws_ stepfunctions describe-execution --execution-arn "$EXEC" --query output --output text |
  python3 -c 'import json,sys; t=json.load(sys.stdin); assert t["LastStatus"]=="STOPPED" and t["Containers"][0]["ExitCode"]==0, t; print("task", t["TaskArn"], "on", t["ContainerInstanceArn"])'
echo "history: $(aws_ stepfunctions get-execution-history --execution-arn "$EXEC" --query 'events[].type' --output text)"

say "4. upload other.txt: the Choice ends it without a task"
echo other > "$WORK/other.txt"
aws_ s3 cp "$WORK/other.txt" "s3://$BUCKET/other.txt" >/dev/null
EXEC=$(wait_execution 2)
STATUS=$(aws_ stepfunctions describe-execution --execution-arn "$EXEC" --query status --output text)
[ "$STATUS" = SUCCEEDED ] || fail "other.txt: execution is $STATUS"
if aws_ stepfunctions get-execution-history --execution-arn "$EXEC" --query 'events[].type' --output text | grep -q TaskScheduled; then
  fail "other.txt started a task"
fi
[ ! -e "$DOWNLOADS/other.txt" ] || fail "other.txt reached the edge device"

say "5. upload demo-slow.txt and kill the agent mid-task: the execution fails as for a lost instance"
echo slow > "$WORK/demo-slow.txt"
aws_ s3 cp "$WORK/demo-slow.txt" "s3://$BUCKET/demo-slow.txt" >/dev/null
for _ in $(seq 100); do
  n=$(aws_ ecs list-tasks --cluster edge --query 'length(taskArns)')
  [ "$n" -ge 1 ] && break; sleep 0.1
done
sleep 0.5
kill -9 "$AGENT"
EXEC=$(wait_execution 3)
read -r STATUS ERROR < <(aws_ stepfunctions describe-execution --execution-arn "$EXEC" --query '[status, error]' --output text)
[ "$STATUS" = FAILED ] && [ "$ERROR" = States.TaskFailed ] || fail "demo-slow.txt: $STATUS $ERROR"
aws_ stepfunctions describe-execution --execution-arn "$EXEC" --query cause --output text |
  python3 -c 'import json,sys; t=json.load(sys.stdin); assert t["StopCode"]=="TerminationNotice", t; print("stopped:", t["StoppedReason"])'

say "6. a restarted agent takes new work: demo2.txt"
start_agent
echo "second $(date)" > "$WORK/demo2.txt"
aws_ s3 cp "$WORK/demo2.txt" "s3://$BUCKET/demo2.txt" >/dev/null
EXEC=$(wait_execution 4)
STATUS=$(aws_ stepfunctions describe-execution --execution-arn "$EXEC" --query status --output text)
[ "$STATUS" = SUCCEEDED ] || fail "demo2.txt: execution is $STATUS"
cmp -s "$WORK/demo2.txt" "$DOWNLOADS/demo2.txt" || fail "demo2.txt was not downloaded"

say "edge-download: all checks passed"
