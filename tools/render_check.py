"""Render one shipped template as a real step gives it, for each kind of organisation (a
district, a commune, a provincial department), and print the text: for template authors.

    python tools/render_check.py statements/initial-info [vi|en]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crisisflow.config import shipped
from crisisflow.render import Renderer
from tests.template_contexts import ORGANISATIONS, build, in_lang
from tests.test_templates import context_for


def main() -> None:
    name = sys.argv[1]
    langs = sys.argv[2:] or ["vi", "en"]
    renderer = Renderer([shipped("templates")])
    with tempfile.TemporaryDirectory() as folder:
        for organisation in ORGANISATIONS:
            contexts = build(Path(folder) / organisation, organisation)
            for lang in langs:
                parts = renderer.render(name, lang, in_lang(context_for(name, contexts), lang))
                print(f"===== {organisation} / {lang} =====")
                for block, text in parts.items():
                    print(f"--- {block} ---\n{text}")


if __name__ == "__main__":
    main()
