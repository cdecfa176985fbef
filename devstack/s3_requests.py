"""How many S3 requests SeaweedFS served for one bucket, from its own metrics
(``SeaweedFS_s3_request_total{bucket, code, type}``; it counts a HEAD as type GET)."""

from __future__ import annotations

import re
from collections import Counter

import httpx

_LINE = re.compile(r"^SeaweedFS_s3_request_total\{(?P<labels>[^}]*)\} (?P<value>[0-9.e+]+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def s3_requests(metrics_url: str, bucket: str) -> Counter[str]:
    """``{"GET": n, "PUT": n, ...}``: the requests SeaweedFS answered on ``bucket`` so far, any status."""
    counts: Counter[str] = Counter()
    for line in httpx.get(metrics_url, timeout=10).text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        if labels.get("bucket") == bucket:
            counts[labels.get("type", "?")] += int(float(match["value"]))
    return counts


def spent(before: Counter[str], after: Counter[str]) -> Counter[str]:
    """The requests between two readings."""
    return Counter({k: after[k] - before[k] for k in after if after[k] - before[k] > 0})
