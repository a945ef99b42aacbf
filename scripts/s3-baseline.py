#!/usr/bin/env python3
"""The same bytes moved to and from the same S3 server with boto3, unencrypted: the baseline of
`coffer bench scale-out` (scripts/bench-scale-out.sh). Endpoint and credentials from the AWS_*
variables; path-style addressing. Prints JSON: median bytes per second of put_object and
get_object over REPETITIONS timed rounds (after one untimed)."""
import argparse
import json
import os
import statistics
import sys
import time

try:
    import boto3
    from botocore.config import Config
except ImportError:
    sys.exit("boto3 is not installed (pip install boto3)")

parser = argparse.ArgumentParser()
parser.add_argument("--size", type=int, required=True)
parser.add_argument("--repetitions", type=int, default=3)
parser.add_argument("--bucket", required=True)
args = parser.parse_args()

s3 = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"),
                  region_name=os.environ.get("AWS_REGION", "us-east-1"), config=Config(s3={"addressing_style": "path"}))
try:
    s3.create_bucket(Bucket=args.bucket)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
payload = os.urandom(args.size)
puts, gets = [], []
for round in range(args.repetitions + 1):
    start = time.perf_counter()
    s3.put_object(Bucket=args.bucket, Key="baseline", Body=payload)
    put = time.perf_counter() - start
    start = time.perf_counter()
    back = s3.get_object(Bucket=args.bucket, Key="baseline")["Body"].read()
    get = time.perf_counter() - start
    if back != payload:
        sys.exit("boto3 read back other bytes")
    if round > 0:
        puts.append(put)
        gets.append(get)
print(json.dumps({"size": args.size, "repetitions": args.repetitions, "boto3": boto3.__version__,
                  "putBytesPerSecond": args.size / statistics.median(puts), "getBytesPerSecond": args.size / statistics.median(gets),
                  "putSeconds": puts, "getSeconds": gets}))
