#!/usr/bin/env python3
"""The same bytes moved to and from the same S3 server with boto3, unencrypted: the baseline of
`coffer bench scale-out` (scripts/bench-scale-out.sh). Endpoint and credentials from the AWS_*
variables; path-style addressing. Prints JSON: median bytes per second of put_object and
get_object over REPETITIONS timed rounds (after one untimed); with --small-count N, also N
put_object and N get_object calls of 4 KiB objects at each of --small-callers (threads sharing
one client), as operations per second."""
import argparse
import json
import os
import statistics
import sys
import threading
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
parser.add_argument("--small-count", type=int, default=0)
parser.add_argument("--small-callers", default="1,16")
args = parser.parse_args()

s3 = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"),
                  region_name=os.environ.get("AWS_REGION", "us-east-1"), config=Config(s3={"addressing_style": "path"}, max_pool_connections=64))
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


def spread(callers, count, operation):
    """Runs operation(i) for i in 0..<count over `callers` threads; returns operations per second."""
    per = max(1, count // callers)
    failures = []

    def work(c):
        try:
            for i in range(per):
                operation(c * per + i)
        except Exception as error:  # reported after the threads end
            failures.append(error)
    threads = [threading.Thread(target=work, args=(c,)) for c in range(callers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if failures:
        sys.exit(f"boto3 failed: {failures[0]}")
    return per * callers / elapsed


small = []
small_payload = os.urandom(4096)
for callers in [int(c) for c in args.small_callers.split(",")] if args.small_count else []:
    prefix = f"small-{callers}/"

    def get(i):
        if s3.get_object(Bucket=args.bucket, Key=f"{prefix}{i}")["Body"].read() != small_payload:
            raise ValueError("boto3 read back other bytes")
    put_rate = spread(callers, args.small_count, lambda i: s3.put_object(Bucket=args.bucket, Key=f"{prefix}{i}", Body=small_payload))
    get_rate = spread(callers, args.small_count, get)
    small.append({"callers": callers, "putsPerSecond": put_rate, "getsPerSecond": get_rate})
print(json.dumps({"size": args.size, "repetitions": args.repetitions, "boto3": boto3.__version__,
                  "putBytesPerSecond": args.size / statistics.median(puts), "getBytesPerSecond": args.size / statistics.median(gets),
                  "putSeconds": puts, "getSeconds": gets, "small": small}))
