"""The ES module graph of pwa/js, read once at start-up, so each page can ask for every module
it will import at once (`<link rel="modulepreload">`) instead of finding them one level at a
time: on a slow link a chain four imports deep costs four round trips before the form works.

Only static imports are followed (`import … from './x.js'`, `import './x.js'`,
`export … from './x.js'`); a dynamic `import()` is loaded when, and if, the code asks for it.
"""

import posixpath
import re
from pathlib import Path

# A static import or re-export: the specifier after `from` (or after a bare `import`), at the
# start of a statement. Comments and strings rarely hold such a line in our own modules, and a
# wrongly listed module would only be preloaded, never run.
_STATIC_IMPORT = re.compile(
    r"""^\s*(?:import|export)\s(?:[^'";]*?\sfrom\s*)?['"](?P<specifier>[^'"]+)['"]""",
    re.MULTILINE,
)


def static_imports(source: str) -> list[str]:
    return [match["specifier"] for match in _STATIC_IMPORT.finditer(source)]


class ModuleGraph:
    """Who imports whom among the modules under `root` (names relative to it, e.g. 'js/app.js')."""

    def __init__(self, root: Path, folder: str = "js"):
        self.root = root
        self.edges: dict[str, list[str]] = {}
        for path in sorted((root / folder).rglob("*.js")):
            name = path.relative_to(root).as_posix()
            self.edges[name] = [
                target
                for specifier in static_imports(path.read_text(encoding="utf-8"))
                if (target := self._resolve(name, specifier)) is not None
            ]

    def _resolve(self, importer: str, specifier: str) -> str | None:
        """A relative specifier as a name under the root; anything else is not ours."""
        if not specifier.startswith(("./", "../")):
            return None
        target = posixpath.normpath(posixpath.join(posixpath.dirname(importer), specifier))
        return None if target.startswith("../") else target

    def closure(self, entries: list[str]) -> list[str]:
        """The entries and everything they import, however deep: each once, importers first."""
        seen: dict[str, None] = {}
        pending = list(entries)
        while pending:
            name = pending.pop(0)
            if name in seen or name not in self.edges:
                continue
            seen[name] = None
            pending.extend(self.edges[name])
        return list(seen)
