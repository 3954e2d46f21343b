"""The native kernels (chainrule/backend/native.c) are compiled here, through cffi's
setuptools integration; everything else about the package is in pyproject.toml. Without a
C compiler the build warns and goes on: chainrule then runs on its NumPy kernels."""

from setuptools import setup
from setuptools.command.build_ext import build_ext


class optional_build_ext(build_ext):
    """Build the extension if a compiler can; never fail the install over it."""

    def run(self):
        try:
            super().run()
        except Exception as e:  # no compiler, no Python headers ...
            self.warn(f"chainrule's native kernels were not built ({e}); NumPy kernels used")

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as e:
            self.warn(f"chainrule's native kernels were not built ({e}); NumPy kernels used")


setup(
    cffi_modules=["src/chainrule/backend/_build.py:ffibuilder"],
    cmdclass={"build_ext": optional_build_ext},
)
