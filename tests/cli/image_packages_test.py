#!/usr/bin/env python3
"""The runtime image's package list (compose/runtime-packages.txt) against what the binaries
really load: every library ldd resolves for each binary must belong to a listed package or to
one of their dependencies (apt-cache's closure, as apt-get install would pull it in), and every
directly linked (NEEDED) library to a listed package itself.
Usage: image_packages_test.py PACKAGE_LIST BINARY...   (exit 0 when the list holds, 1 otherwise)"""
import os
import subprocess
import sys


_owners = None


def package_of(path):
    """The Debian package owning a library, trying /lib and /usr/lib (merged /usr). Reads dpkg's
    file lists once (one `dpkg -S` per library took half a minute)."""
    global _owners
    if _owners is None:
        _owners = {}
        info = "/var/lib/dpkg/info"
        for name in os.listdir(info):
            if name.endswith(".list"):
                package = name[:-5].split(":")[0]
                with open(os.path.join(info, name), errors="replace") as f:
                    for line in f:
                        _owners.setdefault(line.rstrip("\n"), package)
    candidates = {path, os.path.realpath(path)}
    for c in list(candidates):
        candidates.add(c[4:] if c.startswith("/usr/lib/") else "/usr" + c if c.startswith("/lib/") else c)
    for c in sorted(candidates):
        if c in _owners:
            return _owners[c]
    return None


def libraries(binary):
    """soname -> resolved path, as ldd prints them; a library not found is an error by itself."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        if "=>" not in line:
            continue
        name, rest = (x.strip() for x in line.split("=>", 1))
        if rest.startswith("not found"):
            sys.exit(f"{binary}: {name} is not found on this machine")
        if rest.startswith("/"):
            found[name] = rest.split()[0]
    return found


def needed(binary):
    out = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]


def closure(packages):
    out = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                          "--no-breaks", "--no-replaces", "--no-enhances", "--no-pre-depends", *packages],
                         capture_output=True, text=True, check=True).stdout
    names = set(packages)
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Depends:") or line.startswith("PreDepends:"):
            names.add(line.split(":", 1)[1].strip().strip("<>").split(":")[0])
        elif line and not line.startswith(("|", "Depends", "PreDepends")) and ":" not in line:
            names.add(line.strip("<>"))
    return names


def main():
    listed = [x.strip() for x in open(sys.argv[1]) if x.strip() and not x.startswith("#")]
    reachable = closure(listed)
    problems = []
    for binary in sys.argv[2:]:
        before = len(problems)
        libs = libraries(binary)
        for soname, path in sorted(libs.items()):
            pkg = package_of(path)
            if pkg is None:
                problems.append(f"{os.path.basename(binary)}: {soname} ({path}) belongs to no Debian package")
            elif pkg not in reachable:
                problems.append(f"{os.path.basename(binary)}: {soname} comes from {pkg}, which the list does not pull in")
        for soname in needed(binary):
            pkg = package_of(libs[soname]) if soname in libs else None
            if pkg and pkg not in listed:
                problems.append(f"{os.path.basename(binary)} links {soname} directly: list {pkg} itself")
        if len(problems) == before:
            print(f"{os.path.basename(binary)}: {len(libs)} libraries, all inside the list's packages")
    if problems:
        print("compose/runtime-packages.txt is stale:\n  " + "\n  ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
