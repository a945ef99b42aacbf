#!/usr/bin/env python3
"""Generate Tests/CofferS3Tests/Resources/sigv4_vectors.json: AWS Signature Version 4 for S3,
computed by botocore (not by Coffer), for CofferS3's signer to reproduce byte for byte.

Each case is signed by botocore.auth.S3SigV4Auth (Authorization header) or S3SigV4QueryAuth
(presigned URL) over a botocore.awsrequest.AWSRequest, with fixed credentials and a fixed time
(botocore.auth.get_current_datetime patched, as botocore's own tests freeze the clock). The path
is encoded as botocore's REST serializer encodes an S3 key (botocore.utils.percent_encode with
safe='/~'); query items go in request.params, which botocore encodes itself. Every input is
recorded with botocore's canonical request, string to sign, signed headers, signature, and the
headers it added (header signing) or the URL it made (presigning).

Checks made here before writing:
  - the four AWS documentation examples in the set reproduce the signatures AWS publishes;
  - a header-signed case gives the same signature when its query string is in the URL instead of
    request.params (botocore's two canonical-query paths agree);
  - a recorded payload hash is the SHA-256 of the recorded body.

Needs botocore (PyPI; made with 1.43.x). Usage: python3 scripts/make-sigv4-vectors.py [--check]
"""
import datetime
import hashlib
from unittest import mock

import botocore
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.utils import percent_encode, percent_encode_sequence

import vectorgen

OUT = vectorgen.resource("CofferS3Tests", "sigv4_vectors.json")

EMPTY = hashlib.sha256(b"").hexdigest()
UNSIGNED = "UNSIGNED-PAYLOAD"

# Fixed credentials: the AWS documentation's example key, a MinIO-style key pair, and temporary
# credentials whose token holds '+', '/' and '='.
AWS_DOC = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", None)
LOCAL = ("coffer-test", "c0ffer secret+/=~key", None)
TEMPORARY = ("ASIAIOSFODNN7EXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
             "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+token/with+slashes==")

AWS_DAY = 1369353600            # 2013-05-24T00:00:00Z, the AWS examples' time
LEAP_DAY = 1709210096           # 2024-02-29T12:34:56Z
FRACTION = 1738367999.75        # 2025-01-31T23:59:59.75Z: the fraction is dropped
LATE = 4102444799               # 2099-12-31T23:59:59Z

# The signatures the AWS documentation publishes for its examples (S3 API reference, "Signature
# Calculations for the Authorization Header" and "Authenticating Requests: Using Query Parameters").
PUBLISHED = {
    "aws-get-object": "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    "aws-get-bucket-lifecycle": "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
    "aws-list-objects": "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
    "aws-presigned-get": "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
}

AWS_HOST = "examplebucket.s3.amazonaws.com"
S3_HOST = "s3.eu-west-1.amazonaws.com"
UPLOAD_ID = "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"
TOKEN = "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="


def header(name, method, path, host=S3_HOST, **options):
    return dict(name=name, kind="header", method=method, path=path, host=host, **options)


def presign(name, method, path, expires, host=S3_HOST, **options):
    return dict(name=name, kind="presign", method=method, path=path, host=host, expires=expires, **options)


CASES = [
    # The AWS documentation's examples.
    header("aws-get-object", "GET", "/test.txt", host=AWS_HOST, headers=[("Range", "bytes=0-9")],
           credentials=AWS_DOC, date=AWS_DAY, region="us-east-1"),
    header("aws-get-bucket-lifecycle", "GET", "/", host=AWS_HOST, query=[("lifecycle", "")],
           credentials=AWS_DOC, date=AWS_DAY, region="us-east-1"),
    header("aws-list-objects", "GET", "/", host=AWS_HOST, query=[("max-keys", "2"), ("prefix", "J")],
           credentials=AWS_DOC, date=AWS_DAY, region="us-east-1"),
    # Methods and payloads.
    header("put-object-body", "PUT", "/coffer-bucket/objects/ab/cd.bin",
           headers=[("Content-Type", "application/octet-stream"), ("Content-Length", "13")], body="hello coffer\n"),
    header("put-object-unsigned-payload", "PUT", "/coffer-bucket/objects/ab/cd.bin",
           headers=[("Content-Length", "13")], body="hello coffer\n", unsigned=True),
    header("get-object-unsigned-payload", "GET", "/coffer-bucket/objects/ab/cd.bin", unsigned=True),
    header("delete-object-version", "DELETE", "/coffer-bucket/objects/ab/cd.bin",
           query=[("versionId", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo")]),
    header("head-object", "HEAD", "/coffer-bucket/objects/ab/cd.bin", headers=[("If-None-Match", '"abc123"')]),
    header("post-create-multipart-upload", "POST", "/coffer-bucket/big/object.bin", query=[("uploads", "")]),
    header("put-upload-part", "PUT", "/coffer-bucket/big/object.bin",
           query=[("partNumber", "1"), ("uploadId", UPLOAD_ID)], body="part one bytes", date=LEAP_DAY),
    header("post-complete-multipart-upload", "POST", "/coffer-bucket/big/object.bin",
           query=[("uploadId", UPLOAD_ID)], headers=[("Content-Type", "application/xml")],
           body="<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"e1\"</ETag></Part>"
                "</CompleteMultipartUpload>"),
    header("list-objects-v2", "GET", "/coffer-bucket",
           query=[("list-type", "2"), ("prefix", "a b"), ("continuation-token", TOKEN), ("delimiter", "/")]),
    # Object keys.
    header("key-with-spaces", "GET", "/coffer-bucket/my file  name.txt"),
    header("key-with-plus-and-equals", "GET", "/coffer-bucket/a+b=c&d.txt"),
    header("key-with-tilde", "GET", "/coffer-bucket/~user/file~1.txt"),
    header("key-unicode", "PUT", "/coffer-bucket/日本語/ファイル 😀.txt", body="unicode"),
    header("key-nfc", "GET", "/coffer-bucket/caf\u00e9.txt"),
    header("key-nfd", "GET", "/coffer-bucket/cafe\u0301.txt"),
    header("key-with-percent", "GET", "/coffer-bucket/100%/a%20b%2Fc.txt"),
    header("key-with-multiple-slashes", "GET", "/coffer-bucket//a///b/"),
    header("key-with-dot-segments", "GET", "/coffer-bucket/./a/../b"),
    header("key-with-reserved-characters", "GET", "/coffer-bucket/!$&'()*,;:@[]?#.txt"),
    # Query strings.
    header("query-empty-values", "GET", "/coffer-bucket/k", query=[("tagging", ""), ("acl", "")]),
    header("query-repeated-keys", "GET", "/coffer-bucket", query=[("tag", "b"), ("tag", "a"), ("tag", "a b")]),
    header("query-sorted-by-key-then-value", "GET", "/coffer-bucket", query=[("a-b", "1"), ("a", "2")]),
    header("query-special-characters", "GET", "/coffer-bucket",
           query=[("prefix", "日本/"), ("marker", "a+b%c=d&e"), ("encoding-type", "url")]),
    # Endpoints.
    header("port-8333", "PUT", "/coffer-bucket/objects/k", host="127.0.0.1", port=8333, scheme="http",
           body="seaweedfs", region="us-east-1", credentials=LOCAL),
    header("default-port-given", "GET", "/coffer-bucket/k", port=443),
    header("http-port-80-given", "GET", "/coffer-bucket/k", scheme="http", port=80, host="minio.local"),
    header("ipv6-host", "GET", "/coffer-bucket/k", scheme="http", host="[::1]", port=9000, credentials=LOCAL),
    header("custom-region", "GET", "/coffer-bucket/k", host="garage.internal", port=3900, scheme="http",
           region="garage", credentials=LOCAL),
    # Headers and credentials.
    header("range-header", "GET", "/coffer-bucket/objects/ab/cd.bin", headers=[("Range", "bytes=1024-2047")]),
    header("session-token", "GET", "/coffer-bucket/objects/ab/cd.bin", credentials=TEMPORARY),
    header("session-token-put", "PUT", "/coffer-bucket/objects/ab/cd.bin", credentials=TEMPORARY,
           body="temporary", headers=[("Content-Type", "text/plain")]),
    header("header-values-with-extra-spaces", "PUT", "/coffer-bucket/k", body="x",
           headers=[("X-Amz-Meta-Note", "  two   inner \t runs  "), ("Content-Type", " text/plain ;  charset=utf-8 ")]),
    header("repeated-header", "PUT", "/coffer-bucket/k", body="x",
           headers=[("x-amz-meta-list", "one"), ("X-Amz-Meta-List", "  two  "), ("x-amz-meta-a", "z")]),
    header("unsigned-headers-left-out", "PUT", "/coffer-bucket/k", body="x",
           headers=[("User-Agent", "coffer/1.0"), ("Expect", "100-continue"), ("Content-Length", "1")]),
    header("explicit-host-header", "GET", "/k", host="coffer-bucket.s3.eu-west-1.amazonaws.com",
           headers=[("Host", "coffer-bucket.s3.eu-west-1.amazonaws.com")]),
    header("storage-class-and-checksum", "PUT", "/coffer-bucket/k", body="checksummed",
           headers=[("x-amz-storage-class", "STANDARD_IA"), ("x-amz-checksum-sha256", "bm90IGEgcmVhbCBjaGVja3N1bQ=="),
                    ("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg==")]),
    header("fractional-seconds", "GET", "/coffer-bucket/k", date=FRACTION),
    header("far-future", "GET", "/coffer-bucket/k", date=LATE, region="ap-southeast-2"),
    # Presigned URLs.
    presign("aws-presigned-get", "GET", "/test.txt", 86400, host=AWS_HOST, credentials=AWS_DOC, date=AWS_DAY,
            region="us-east-1"),
    presign("presigned-get-unicode-key", "GET", "/coffer-bucket/日本語/a b+c.txt", 300),
    presign("presigned-put-with-header", "PUT", "/coffer-bucket/uploads/new.bin", 900,
            headers=[("Content-Type", "application/octet-stream")]),
    presign("presigned-get-session-token", "GET", "/coffer-bucket/k", 3600, credentials=TEMPORARY),
    presign("presigned-get-response-overrides", "GET", "/coffer-bucket/report.pdf", 600,
            query=[("response-content-disposition", 'attachment; filename="a b.pdf"'), ("versionId", "v1+v2/3")]),
    presign("presigned-put-part", "PUT", "/coffer-bucket/big/object.bin", 3600,
            query=[("partNumber", "7"), ("uploadId", UPLOAD_ID)]),
    presign("presigned-port-8333", "GET", "/coffer-bucket/objects/k", 60, host="127.0.0.1", port=8333,
            scheme="http", credentials=LOCAL, region="us-east-1"),
    presign("presigned-maximum-expiry", "GET", "/coffer-bucket/k", 604800, date=LEAP_DAY),
    presign("presigned-head", "HEAD", "/coffer-bucket/k", 1, date=FRACTION),
]


class Recording:
    """Keeps the canonical request, string to sign and signature botocore computes."""

    def string_to_sign(self, request, canonical_request):
        self.canonical_request = canonical_request
        self.sts = super().string_to_sign(request, canonical_request)
        return self.sts

    def signature(self, string_to_sign, request):
        self.sig = super().signature(string_to_sign, request)
        return self.sig


class HeaderSigner(Recording, botocore.auth.S3SigV4Auth):
    pass


class QuerySigner(Recording, botocore.auth.S3SigV4QueryAuth):
    pass


def origin(case):
    port = f":{case['port']}" if case.get("port") is not None else ""
    return f"{case.get('scheme', 'https')}://{case['host']}{port}"


def frozen(epoch):
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).replace(tzinfo=None)
    return mock.patch.object(botocore.auth, "get_current_datetime", return_value=moment)


def new_request(case, url, params):
    body = case.get("body")
    request = AWSRequest(method=case["method"], url=url, data=body.encode() if body is not None else None,
                         params=params)
    for name, value in case.get("headers", []):
        request.headers[name] = value       # HTTPHeaders appends, so a name may repeat
    if case.get("unsigned"):
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    return request


def sign_header(case, credentials, region):
    path_url = origin(case) + percent_encode(case["path"], safe="/~")
    query = case.get("query", [])
    with frozen(case["date"]):
        signer = HeaderSigner(credentials, "s3", region)
        request = new_request(case, path_url, list(query))
        before = {k.lower() for k in request.headers.keys()}
        signer.add_auth(request)
        # The same request with its query already in the URL (botocore's other canonical path).
        url = path_url + ("?" + percent_encode_sequence(query) if query else "")
        again = new_request(case, url, {})
        HeaderSigner(credentials, "s3", region).add_auth(again)
    assert again.headers["Authorization"] == request.headers["Authorization"], case["name"]
    added = {k.lower(): v for k, v in request.headers.items() if k.lower() not in before}
    host = signer.headers_to_sign(request)["host"]
    return signer, url, added, host


def sign_presigned(case, credentials, region):
    url = origin(case) + percent_encode(case["path"], safe="/~")
    with frozen(case["date"]):
        signer = QuerySigner(credentials, "s3", region, expires=case["expires"])
        request = new_request(case, url, dict(case.get("query", [])))
        signer.add_auth(request)
    return signer, request.url


def build_case(case):
    access, secret, token = case.get("credentials", AWS_DOC)
    region = case.get("region", "eu-west-1")
    case.setdefault("date", AWS_DAY)
    credentials = Credentials(access, secret, token)
    body = case.get("body")
    vector = {
        "name": case["name"], "kind": case["kind"], "method": case["method"],
        "scheme": case.get("scheme", "https"), "host": case["host"], "port": case.get("port"),
        "path": case["path"], "query": [list(p) for p in case.get("query", [])],
        "headers": [list(h) for h in case.get("headers", [])],
        "date": case["date"], "region": region,
        "accessKeyID": access, "secretAccessKey": secret, "sessionToken": token,
    }
    if case["kind"] == "header":
        signer, url, added, host = sign_header(case, credentials, region)
        payload = added["x-amz-content-sha256"]
        if body is not None and not case.get("unsigned"):
            assert payload == hashlib.sha256(body.encode()).hexdigest(), case["name"]
        vector.update(body=body, payloadHash=payload)
        expected = {"url": url, "hostHeader": host, "addedHeaders": added}
    else:
        signer, url = sign_presigned(case, credentials, region)
        vector["expires"] = case["expires"]
        expected = {"url": url}
    signature = signer.sig
    lines = signer.canonical_request.split("\n")
    expected.update(canonicalRequest=signer.canonical_request, stringToSign=signer.sts,
                    amzDate=signer.sts.split("\n")[1], signedHeaders=lines[-2], signature=signature)
    if case["name"] in PUBLISHED:
        assert signature == PUBLISHED[case["name"]], f"{case['name']}: botocore disagrees with AWS's example"
    return vector | {"expected": expected}


def build():
    vectors = [build_case(dict(case)) for case in CASES]
    names = [v["name"] for v in vectors]
    assert len(set(names)) == len(names), "duplicate case names"
    for vector in vectors:
        want = vector["expected"]["signature"]
        if vector["kind"] == "header":
            assert want in vector["expected"]["addedHeaders"]["authorization"], vector["name"]
        else:
            assert vector["expected"]["url"].endswith("&X-Amz-Signature=" + want), vector["name"]
    return {
        "source": "botocore " + botocore.__version__ + " (S3SigV4Auth, S3SigV4QueryAuth), made by "
                  "scripts/make-sigv4-vectors.py; paths encoded with botocore.utils.percent_encode(safe='/~')",
        "published": sorted(PUBLISHED),
        "vectors": vectors,
    }


def main():
    vectorgen.main([(OUT, build())], note=f": {len(CASES)} cases")


if __name__ == "__main__":
    main()
