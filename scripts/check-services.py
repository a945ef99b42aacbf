#!/usr/bin/env python3
"""Checks the servers scripts/ci-services.sh started, from the variables it wrote: PostgreSQL
answers for both roles and keeps each out of the other's database (P2), and the S3 server
stores, serves a range of, and deletes an object, and refuses a bad signature."""
import os
import subprocess
import sys
import uuid

import boto3
import botocore.config
import botocore.exceptions

env = os.environ


def psql(url, password, sql):
    return subprocess.run(["psql", url, "-tAc", sql], env={**env, "PGPASSWORD": password}, capture_output=True, text=True)


def main():
    ok = psql(env["COFFER_TEST_POSTGRES_URL"], env["COFFER_TEST_POSTGRES_PASSWORD"], "select 1")
    assert ok.returncode == 0 and ok.stdout.strip() == "1", ok.stderr
    pii_db = env["COFFER_TEST_POSTGRES_PII_URL"].rsplit("/", 1)[1]
    crossed = psql(env["COFFER_TEST_POSTGRES_URL"].rsplit("/", 1)[0] + "/" + pii_db, env["COFFER_TEST_POSTGRES_PASSWORD"], "select 1")
    assert crossed.returncode != 0, "the content role reached the PII database"
    config = botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})

    def client(secret):
        return boto3.client("s3", endpoint_url=env["COFFER_TEST_S3_ENDPOINT"], region_name=env["COFFER_TEST_S3_REGION"],
                            aws_access_key_id=env["COFFER_TEST_S3_ACCESS_KEY_ID"], aws_secret_access_key=secret, config=config)

    s3 = client(env["COFFER_TEST_S3_SECRET_ACCESS_KEY"])
    bucket = "coffer-check-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a b/c", Body=b"0123456789")
    assert s3.get_object(Bucket=bucket, Key="a b/c", Range="bytes=2-5")["Body"].read() == b"2345"
    try:
        client("not-the-secret").get_object(Bucket=bucket, Key="a b/c")
        sys.exit("the S3 server accepted a bad signature")
    except botocore.exceptions.ClientError as error:
        assert error.response["Error"]["Code"] in ("SignatureDoesNotMatch", "AccessDenied", "InvalidAccessKeyId"), error.response
    s3.delete_object(Bucket=bucket, Key="a b/c")
    s3.delete_bucket(Bucket=bucket)
    print("ok   PostgreSQL (two roles, each kept out of the other's database) and S3 (put, range get, delete, bad signature refused)")


if __name__ == "__main__":
    main()
