#!/bin/sh
# What the seed's linkcd/s3downloader image does: download $S3_BUCKET/$S3_KEY into the edge
# device's data directory. Runs on the agent with the `host` driver (an image alias in the
# daemon's config maps the image name to this script); `aws` inside a Sluice task already
# reaches Sluice with the task's own credentials.
set -eu
echo "downloading $S3_BUCKET/$S3_KEY to $DOWNLOAD_DIR"
mkdir -p "$DOWNLOAD_DIR"
# a key containing "slow" lingers (the example kills the agent meanwhile)
case "$S3_KEY" in *slow*) sleep 30 ;; esac
aws s3 cp "$S3_BUCKET/$S3_KEY" "$DOWNLOAD_DIR/$S3_KEY"
echo "done"
