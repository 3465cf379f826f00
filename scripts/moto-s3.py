#!/usr/bin/env python3
"""moto's S3 on loopback, for the offsite tests: a second S3 implementation beside s3s-fs,
so one server's quirks do not shape the client. Signatures are checked (moto's IAM auth
on from the first request), with one user whose access key is the one given and who may do
anything; the bucket given exists. Prints `PORT <n>` once it listens on 127.0.0.1, then
serves until stdin closes or it is killed.

Run with the venv `make soak` makes: target/moto/bin/python scripts/moto-s3.py
    --access-key AK --secret-key SK --bucket NAME
"""
import argparse
import json
import sys

from moto import settings
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.s3.models import s3_backends

ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-key", required=True)
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--region", default="us-east-1")
    a = ap.parse_args()

    iam = iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
    iam.create_user(a.region, "offsite-tests")
    iam.put_user_policy("offsite-tests", "all", json.dumps(ALLOW_ALL))
    key = iam.create_access_key("offsite-tests")
    # moto makes up a key; the tests sign with theirs.
    del iam.access_keys[key.physical_resource_id]
    key.access_key_id = a.access_key
    key.secret_access_key = a.secret_key
    iam.access_keys[key.physical_resource_id] = key
    s3_backends[DEFAULT_ACCOUNT_ID]["aws"].create_bucket(a.bucket, a.region)
    # Every request from now on is authenticated: a wrong secret is refused.
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    print(f"PORT {server.get_host_and_port()[1]}", flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
