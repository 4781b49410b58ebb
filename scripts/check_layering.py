#!/usr/bin/env python3
"""Fails when a gateway folder includes a header of a folder its CMake library does not link.

Usage: check_layering.py SOURCE_DIR name:dep,dep ...  (gateway/CMakeLists.txt passes one
argument per gateway_layer). A folder may include its own headers, common/, proto/ and those of
every folder it links, directly or through them. common/ and agent/ include nothing of gateway/.
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"gateway/([a-z_]+)/[^"]+"', re.M)


def main() -> int:
    root = pathlib.Path(sys.argv[1])
    uses = {}
    for spec in sys.argv[2:]:
        if not spec:
            continue
        name, _, deps = spec.partition(":")
        uses[name] = {d for d in deps.split(",") if d}

    def closure(name, seen=None):
        seen = set() if seen is None else seen
        for d in uses.get(name, ()):
            if d not in seen:
                seen.add(d)
                closure(d, seen)
        return seen

    problems = []
    for path in sorted(root.glob("gateway/*/*")) + sorted(root.glob("common/*")) + sorted(root.glob("agent/**/*")):
        if path.suffix not in (".h", ".cpp"):
            continue
        rel = path.relative_to(root)
        top = rel.parts[0]
        folder = rel.parts[1] if top == "gateway" else top
        allowed = closure(folder) | {folder} if top == "gateway" else set()
        if top == "gateway" and folder not in uses:
            problems.append(f"{rel}: gateway/{folder}/ has no gateway_layer() in gateway/CMakeLists.txt")
            continue
        for m in INCLUDE.finditer(path.read_text(errors="replace")):
            if m.group(1) not in allowed:
                line = path.read_text(errors="replace").count("\n", 0, m.start()) + 1
                problems.append(f"{rel}:{line}: includes gateway/{m.group(1)}/, which {folder}/ does not link "
                                f"(gateway/CMakeLists.txt: gateway_layer({folder} ...))")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"layering: {len(problems)} include(s) reach a folder the library does not link", file=sys.stderr)
        return 1
    print(f"layering: {len(uses)} gateway folders include only what they link")
    return 0


if __name__ == "__main__":
    sys.exit(main())
