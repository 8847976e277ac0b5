"""The wheel ships the compiled message catalogues: build_py compiles each .po to .mo.

Without them a deploy is English everywhere (issue 33). Everything else is in
pyproject.toml; an editable install reads app/translations, which `make` compiles.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogues(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in Path("app/translations").glob("*/LC_MESSAGES/messages.po"):
            mo = Path(self.build_lib) / po.with_suffix(".mo")
            mo.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as source:
                catalog = read_po(source)
            with mo.open("wb") as target:
                write_mo(target, catalog, use_fuzzy=True)


setup(cmdclass={"build_py": BuildWithCatalogues})
