#!/usr/bin/env python3
"""Writes large canned lists under WWW: /api/v1/secrets (COUNT Secrets of about 5 KB, every value
starting with the base64 of "secret", c2VjcmV0) and /api/v1/pods (pods of the same total size,
nothing to mask). Usage: make_lists.py WWW COUNT"""
import base64
import json
import os
import random
import sys

www, count = sys.argv[1], int(sys.argv[2])
os.makedirs(f"{www}/api/v1", exist_ok=True)
rnd = random.Random(7)


def value():
    return "c2VjcmV0" + base64.b64encode(rnd.randbytes(900)).decode()


with open(f"{www}/api/v1/secrets", "w") as f:
    f.write('{"kind":"SecretList","apiVersion":"v1","metadata":{"resourceVersion":"9"},"items":[')
    for i in range(count):
        s = {"metadata": {"name": f"s-{i}", "namespace": "big", "uid": f"00000000-0000-4000-8000-{i:012d}",
                          "resourceVersion": str(i + 10), "creationTimestamp": "2026-01-01T00:00:00Z"},
             "data": {f"k{j}": value() for j in range(4)}, "type": "Opaque"}
        f.write(("," if i else "") + json.dumps(s, separators=(",", ":")))
    f.write("]}\n")
size = os.path.getsize(f"{www}/api/v1/secrets")
with open(f"{www}/api/v1/pods", "w") as f:
    f.write('{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"9"},"items":[')
    i = 0
    while f.tell() < size:
        p = {"metadata": {"name": f"p-{i}", "namespace": "big", "labels": {"app": "x" * 4000}},
             "spec": {"containers": [{"name": "c", "image": "busybox", "env": [{"name": "A", "value": "b"}]}]}}
        f.write(("," if i else "") + json.dumps(p, separators=(",", ":")))
        i += 1
    f.write("]}\n")
