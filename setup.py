"""Builds the tunalloc Python package.

The C core is compiled once, into tunalloc/libtunalloc_core.so; the hook
extension (tunalloc._hook) and the CFFI control module (tunalloc._ctl) both
link against it with rpath $ORIGIN, so a process has exactly one tunalloc
heap whichever module touches it first.
"""
import glob
import os
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

CORE_DIR = "core/src"
PRELOAD_ONLY = {"preload.c", "jemalloc_compat.c"}
CORE_FLAGS = ["-std=c11", "-O2", "-fPIC", "-fvisibility=hidden",
              "-mtls-dialect=gnu2", "-fno-strict-aliasing", "-D_GNU_SOURCE",
              "-fno-semantic-interposition"]
CORE_LIB = "libtunalloc_core.so"
RPATH = ["-Wl,-rpath,$ORIGIN"]


def core_sources():
    """Every library source of the core; the preload-only files define
    malloc itself and must stay out of a library loaded into Python."""
    return sorted(p for p in glob.glob(os.path.join(CORE_DIR, "*.c"))
                  if os.path.basename(p) not in PRELOAD_ONLY)


def site_packages_rel():
    """site-packages relative to the prefix, where the .pth start-up hook
    must land for plain, --user, venv and editable installs alike."""
    purelib = sysconfig.get_paths()["purelib"]
    return os.path.relpath(purelib, sys.prefix)


class BuildExt(build_ext):
    """Builds the shared core first, next to where the extensions go (the
    build tree, or the source tree for editable installs)."""

    def build_extensions(self):
        out_dir = os.path.dirname(self.get_ext_fullpath("tunalloc._hook"))
        os.makedirs(out_dir, exist_ok=True)
        self._build_core(out_dir)
        for ext in self.extensions:
            ext.library_dirs.append(out_dir)
        super().build_extensions()

    def _core_paths(self):
        """(built file, in-source file) of the core library; editable
        installs import from the source tree, so it is copied there too."""
        build_py = self.get_finalized_command("build_py")
        return (os.path.join(self.build_lib, "tunalloc", CORE_LIB),
                os.path.join(build_py.get_package_dir("tunalloc"), CORE_LIB))

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

    def _build_core(self, out_dir):
        objs = self.compiler.compile(
            core_sources(), output_dir=os.path.join(self.build_temp, "core"),
            include_dirs=["core/include", CORE_DIR], extra_postargs=CORE_FLAGS)
        self.compiler.link_shared_object(
            objs, os.path.join(out_dir, CORE_LIB), libraries=["pthread"],
            extra_postargs=["-Wl,-soname," + CORE_LIB, "-Wl,-Bsymbolic-functions"])


hook = Extension(
    "tunalloc._hook",
    sources=sorted(glob.glob("bindings/python/src/*.c")),
    depends=sorted(glob.glob("bindings/python/src/*.h")) + ["core/include/tunalloc.h"],
    include_dirs=["core/include"],
    libraries=["tunalloc_core"],
    extra_compile_args=["-std=c11", "-fvisibility=hidden", "-Wall", "-Wextra",
                        "-Werror"],
    extra_link_args=RPATH,
)

setup(
    name="tunalloc",
    version="0.1.0",
    description="tunalloc as CPython's allocator, tunable from Python",
    long_description=open("docs/python.md").read() if os.path.exists("docs/python.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.8",
    package_dir={"": "bindings/python"},
    packages=["tunalloc"],
    package_data={"tunalloc": ["py.typed", "*.pyi"]},
    ext_modules=[hook],
    cffi_modules=["bindings/python/build_ctl.py:ffibuilder"],
    install_requires=["cffi>=1.15"],
    extras_require={"numpy": ["numpy>=1.22"], "prometheus": ["prometheus_client"]},
    data_files=[(site_packages_rel(), ["bindings/python/tunalloc_startup.pth"])],
    cmdclass={"build_ext": BuildExt},
    # Keep setuptools' scratch files apart from the Makefile's build/ tree.
    options={"build": {"build_base": "build/python/setuptools"}},
    zip_safe=False,
)
