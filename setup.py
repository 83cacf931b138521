"""The compiled per-post core, ``policy._core`` (everything else is in pyproject.toml).

Optional: where it cannot be compiled (no C compiler), the install goes on without it and the
engine runs its pure-Python path, which it says in ``policy --version``."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("policy._core", ["policy/_core.c"], optional=True,
                             extra_compile_args=["-O2", "-std=c99", "-Wall", "-Wextra", "-Werror=vla"])])
