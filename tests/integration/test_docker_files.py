# SPDX-License-Identifier: Apache-2.0
"""The Docker files checked without a Docker engine (none runs on the build machine): the
runtime stage of docker/Dockerfile must install the Debian package of every shared library the
built binary loads, the build stage the -dev package of every pkg-config module CMakeLists.txt
asks for, every COPY source must exist, and docker/compose.yaml must mount the config where the
image's CMD reads it. Uses the build tree's binary (GW_BUILD_DIR) and dpkg's file lists."""
import os
import re
import subprocess

import harness

SOURCE = os.environ.get("GW_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
DOCKERFILE = os.path.join(SOURCE, "docker", "Dockerfile")
COMPOSE = os.path.join(SOURCE, "docker", "compose.yaml")

# In debian:12-slim already (libc6), or a sanitizer/compiler runtime of a test build.
IN_BASE = {"libc6", "libgcc-s1"}
TOOLCHAIN = re.compile(r"^(libasan|libubsan|liblsan|libtsan|libclang|libllvm|libstdc\+\+)")


def dockerfile_stages():
    """The Dockerfile's stages as lists of logical lines (continuations joined)."""
    text = open(DOCKERFILE, encoding="utf-8").read().replace("\\\n", " ")
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("FROM "):
            stages.append([line])
        elif line and not line.startswith("#") and stages:
            stages[-1].append(line)
    return stages


def apt_packages(stage):
    pkgs = set()
    for line in stage:
        m = re.search(r"apt-get install (.*?)(&&|$)", line)
        if m:
            pkgs |= {w for w in m.group(1).split() if not w.startswith("-")}
    return pkgs


def owner(path):
    """The Debian package that ships path (tries the usr-merged spellings too)."""
    cands = [path, os.path.realpath(path)]
    cands += ["/usr" + p for p in list(cands) if not p.startswith("/usr/")]
    cands += [p[4:] for p in list(cands) if p.startswith("/usr/")]
    for p in cands:
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].strip()
    raise AssertionError("no Debian package ships %s" % path)


def test_runtime_stage_has_every_shared_library():
    gw = harness.binary("bridge", "lwm2m-gateway")
    runtime = apt_packages(dockerfile_stages()[-1])
    assert runtime, "no apt-get install in the runtime stage"
    out = subprocess.run(["ldd", gw], capture_output=True, text=True, check=True).stdout
    libs = [m.group(1) for m in re.finditer(r"=> (/\S+)", out)]
    assert len(libs) >= 8, "ldd listed only %r" % libs
    missing = []
    for lib in libs:
        pkg = owner(lib)
        if pkg in IN_BASE or TOOLCHAIN.match(pkg):
            continue
        if pkg not in runtime:
            missing.append("%s (%s)" % (pkg, os.path.basename(lib)))
    assert not missing, "runtime stage lacks: " + ", ".join(missing)


def test_build_stage_has_every_pkg_config_module():
    # the shipped layers' CMakeLists (tests/ is not built in the image)
    cmake = "".join(open(os.path.join(SOURCE, d, "CMakeLists.txt"), encoding="utf-8").read()
                    for d in ("", "lwm2m", "adapters", "config", "bridge"))
    modules = []
    for m in re.finditer(r"pkg_check_modules\(\w+ REQUIRED IMPORTED_TARGET ([^)]*)\)", cmake):
        modules += m.group(1).split()
    assert {"libmosquitto", "libmodbus", "libevent_extra"} <= set(modules), modules
    build = apt_packages(dockerfile_stages()[0])
    missing = []
    for mod in modules:
        pcdir = subprocess.run(["pkg-config", "--variable=pcfiledir", mod], capture_output=True,
                               text=True, check=True).stdout.strip()
        pkg = owner(os.path.join(pcdir, mod + ".pc"))
        if pkg not in build:
            missing.append("%s (for %s)" % (pkg, mod))
    assert not missing, "build stage lacks: " + ", ".join(missing)


def test_copy_sources_exist():
    copies = [line.split()[1:-1] for st in dockerfile_stages() for line in st
              if line.startswith("COPY ") and "--from=" not in line]
    assert copies, "no COPY in the Dockerfile"
    for srcs in copies:
        for s in srcs:
            assert os.path.exists(os.path.join(SOURCE, s)), "COPY source %s does not exist" % s


def test_compose_mounts_the_config_the_image_reads():
    cmd = [line for line in dockerfile_stages()[-1] if line.startswith("CMD ")]
    assert cmd, "the runtime stage has no CMD"
    conf = re.search(r'"-c", "([^"]+)"', cmd[0]).group(1)
    compose = open(COMPOSE, encoding="utf-8").read()
    assert re.search(r":%s(:ro)?\s" % re.escape(conf), compose), \
        "compose.yaml mounts nothing at %s" % conf
    workdir = [line.split()[1] for line in dockerfile_stages()[-1] if line.startswith("WORKDIR ")]
    assert workdir and re.search(r"gateway-state:%s\s" % re.escape(workdir[0]), compose), \
        "the state volume is not mounted at the image's WORKDIR %s" % workdir


if __name__ == "__main__":
    harness.run([
        test_runtime_stage_has_every_shared_library,
        test_build_stage_has_every_pkg_config_module,
        test_copy_sources_exist,
        test_compose_mounts_the_config_the_image_reads,
    ])
