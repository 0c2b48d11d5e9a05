"""The parts of the tunalloc Python package that must be code: the C
extensions. The metadata is in pyproject.toml; the version is TA_VERSION in
core/include/tunalloc.h, and the core's compiler flags and sources are the
Makefile's (core/flags.mk), so the package's core is built the way the C
library is.

The C core is compiled once, into tunalloc/libtunalloc_core.so.<major>
(a name import cannot mistake for a module, so help(tunalloc) does not
list it); the hook extension (tunalloc._hook) and the CFFI module
(tunalloc._ctl) both link against it with rpath $ORIGIN, so a process has
exactly one tunalloc heap whichever module touches it first.
"""
import glob
import os
import re
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.errors import CompileError
from setuptools.command.build_ext import build_ext

CORE_DIR = "core/src"
HEADER = "core/include/tunalloc.h"


def read_make_vars(path):
    """`NAME := words` lines of a makefile fragment."""
    out = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^(\w+)\s*:=\s*(.*)$", line.strip())
            if m:
                out[m.group(1)] = m.group(2).split()
    return out


def read_version():
    with open(HEADER) as f:
        return re.search(r'^#define TA_VERSION "([^"]+)"', f.read(), re.M).group(1)


FLAGS = read_make_vars("core/flags.mk")
VERSION = read_version()
CORE_LINK_NAME = "libtunalloc_core.so"
CORE_SONAME = CORE_LINK_NAME + "." + VERSION.split(".")[0]
RPATH = ["-Wl,-rpath,$ORIGIN"]


def core_sources():
    """Every library source of the core; the preload-only files define
    malloc itself and must stay out of a library loaded into Python."""
    preload_only = set(FLAGS["CORE_PRELOAD_ONLY"])
    return sorted(p for p in glob.glob(os.path.join(CORE_DIR, "*.c"))
                  if os.path.basename(p) not in preload_only)


def site_packages_rel():
    """site-packages relative to the prefix, where the .pth start-up hook
    must land for plain, --user, venv and editable installs alike."""
    purelib = sysconfig.get_paths()["purelib"]
    return os.path.relpath(purelib, sys.prefix)


class BuildExt(build_ext):
    """Builds the shared core first: linked under its plain name in the
    scratch tree for the extensions to link against, shipped under its
    soname next to them (the build tree, or the source tree for editable
    installs)."""

    def build_extensions(self):
        # An interpreter built with a run path (pyenv's) puts it into
        # LDSHARED; extensions do not link libpython, and a wheel must not
        # search the build machine's directories. Ours is $ORIGIN only.
        self.compiler.linker_so = [a for a in self.compiler.linker_so
                                   if not a.startswith("-Wl,-rpath")]
        out_dir = os.path.dirname(self.get_ext_fullpath("tunalloc._hook"))
        os.makedirs(out_dir, exist_ok=True)
        link_dir = self._build_core(out_dir)
        for ext in self.extensions:
            ext.library_dirs.append(link_dir)
        super().build_extensions()

    def _core_paths(self):
        """(built file, in-source file) of the core library; editable
        installs import from the source tree, so it is copied there too."""
        build_py = self.get_finalized_command("build_py")
        return (os.path.join(self.build_lib, "tunalloc", CORE_SONAME),
                os.path.join(build_py.get_package_dir("tunalloc"), CORE_SONAME))

    def copy_extensions_to_source(self):
        super().copy_extensions_to_source()
        built, in_source = self._core_paths()
        self.copy_file(built, in_source, level=self.verbose)

    def get_output_mapping(self):
        mapping = super().get_output_mapping()
        if self.inplace:
            built, in_source = self._core_paths()
            mapping[built] = in_source
        return mapping

    def get_outputs(self):
        outputs = super().get_outputs()
        if not self.inplace:
            outputs.append(self._core_paths()[0])
        return outputs

    def _compiler_takes(self, flag):
        """Whether the compiler takes flag: the Makefile's cc_takes, for
        CORE_LIB_CFLAGS (clang 14 has no -mtls-dialect=gnu2)."""
        probe_dir = os.path.join(self.build_temp, "probe")
        os.makedirs(probe_dir, exist_ok=True)
        src = os.path.join(probe_dir, "probe.c")
        with open(src, "w") as f:
            f.write("int x;\n")
        try:
            self.compiler.compile([src], output_dir=probe_dir, extra_postargs=[flag, "-Werror"])
        except CompileError:
            return False
        return True

    def _build_core(self, out_dir):
        lib_flags = [f for f in FLAGS["CORE_LIB_CFLAGS"] if self._compiler_takes(f)]
        objs = self.compiler.compile(
            core_sources(), output_dir=os.path.join(self.build_temp, "core"),
            include_dirs=["core/include", CORE_DIR],
            extra_postargs=FLAGS["CORE_CFLAGS"] + FLAGS["CORE_OPT"] + lib_flags)
        link_dir = os.path.join(self.build_temp, "core-link")
        linked = os.path.join(link_dir, CORE_LINK_NAME)
        self.compiler.link_shared_object(
            objs, linked, libraries=["pthread"],
            extra_postargs=["-Wl,-soname," + CORE_SONAME, "-Wl,-Bsymbolic-functions"])
        self.copy_file(linked, os.path.join(out_dir, CORE_SONAME), level=self.verbose)
        return link_dir


hook = Extension(
    "tunalloc._hook",
    sources=sorted(glob.glob("bindings/python/src/*.c")),
    depends=sorted(glob.glob("bindings/python/src/*.h")) + [HEADER],
    include_dirs=["core/include"],
    libraries=["tunalloc_core"],
    extra_compile_args=["-std=c11", "-fvisibility=hidden", "-Wall", "-Wextra",
                        "-Werror"],
    extra_link_args=RPATH,
)

setup(
    version=VERSION,
    ext_modules=[hook],
    cffi_modules=["bindings/python/build_ctl.py:ffibuilder"],
    data_files=[(site_packages_rel(), ["bindings/python/tunalloc_startup.pth"])],
    cmdclass={"build_ext": BuildExt},
    # Keep setuptools' scratch files apart from the Makefile's build/ tree.
    options={"build": {"build_base": "build/python/setuptools"}},
)
