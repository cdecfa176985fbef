"""`python -m devstack bucket`, what the dev overlay's Job and compose run, against the real S3."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import Any

from botocore.exceptions import ClientError

from devstack.infra import Infra
from devstack.seaweed import s3_client


def run_bucket_command(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", "bucket"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_creates_the_bucket_once_and_again_is_fine(infra: Infra) -> None:
    name = f"t-{uuid.uuid4().hex[:16]}"
    client: Any = s3_client(infra.s3_endpoint_url, infra.access_key, infra.secret_key)
    env = {
        "S3_ENDPOINT_URL": infra.s3_endpoint_url,
        "S3_ACCESS_KEY": infra.access_key,
        "S3_SECRET_KEY": infra.secret_key,
        "S3_BUCKET": name,
    }
    try:
        first = run_bucket_command(env)
        assert first.returncode == 0, first.stderr
        client.head_bucket(Bucket=name)
        client.put_object(Bucket=name, Key="a/b.txt", Body=b"kept")
        second = run_bucket_command(env)  # the Job may run again: nothing is lost
        assert second.returncode == 0, second.stderr
        assert client.get_object(Bucket=name, Key="a/b.txt")["Body"].read() == b"kept"
    finally:
        try:
            client.delete_object(Bucket=name, Key="a/b.txt")
            client.delete_bucket(Bucket=name)
        except ClientError:
            pass


def test_bad_credentials_fail_with_a_reason(infra: Infra) -> None:
    result = run_bucket_command(
        {
            "S3_ENDPOINT_URL": infra.s3_endpoint_url,
            "S3_ACCESS_KEY": "nobody",
            "S3_SECRET_KEY": "wrong",
            "S3_BUCKET": f"t-{uuid.uuid4().hex[:16]}",
        }
    )
    assert result.returncode == 1
    assert "bucket" in result.stderr
