#!/bin/sh
# What the recipe's container (public.ecr.aws/x4e8a6b6/mazesolver:1.0.7) does, on the host:
# fetch the uploaded image named by BUCKET and KEY (the rule's input transformer puts them in the
# task's environment), process it, write output/output.jpg to the same bucket. `aws` is the
# wrapper Sluice puts first on every task's PATH, so it reaches the daemon that ran the task.
set -eu
: "${BUCKET:?BUCKET is not set (the EventBridge target passes it as a container override)}"
: "${KEY:?KEY is not set}"
echo "processing s3://$BUCKET/$KEY"
aws s3 cp --no-progress "s3://$BUCKET/$KEY" in.jpg
# The recipe's image solves the maze with a Python library; here ImageMagick draws it in charcoal.
convert in.jpg -charcoal 2 -quality 90 out.jpg
identify out.jpg
aws s3 cp --no-progress out.jpg "s3://$BUCKET/output/output.jpg"
echo "wrote s3://$BUCKET/output/output.jpg"
