"""Layering guards that import-linter does not express.

- No cross-app import hidden inside a function: the layers are one-directional (pyproject's
  import-linter contract), so an import of another app belongs at module level, where the
  contract and readers see it. An import kept inside a function must name its cycle below.
- No module under apps/ or marketplace/ passes MAX_LINES lines; the ones still over are listed.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("apps", "marketplace")
MAX_LINES = 400

# (module path, imported module) pairs allowed inside a function, each with the cycle it avoids.
# Empty: every cross-app import is at module level.
FUNCTION_IMPORT_ALLOWED: set[tuple[str, str]] = set()

# Modules still over MAX_LINES.
# Empty: every module is under MAX_LINES.
TOO_LONG_ALLOWED: set[str] = set()


def _modules() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    )


def _own_app(path: Path) -> str | None:
    parts = path.relative_to(ROOT).parts
    return parts[1] if parts[0] == "apps" else None


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module]
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return []


def _function_imports_in(source: str, own_app: str | None) -> list[tuple[int, str]]:
    found = set()
    for func in ast.walk(ast.parse(source)):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(func):
            for module in _imported(node):
                parts = module.split(".")
                if parts[0] == "apps" and len(parts) > 1 and parts[1] != own_app:
                    found.add((node.lineno, module))
    return sorted(found)


def _function_imports(path: Path) -> list[tuple[int, str]]:
    return _function_imports_in(path.read_text(), _own_app(path))


def test_the_scan_sees_modules():
    modules = _modules()
    assert any(p.name == "services.py" or p.parent.name == "services" for p in modules)
    assert all("migrations" not in p.parts for p in modules)


def test_the_scan_finds_an_import_inside_a_function():
    source = (
        "from apps.orders.models import Order\n"
        "def f():\n"
        "    from apps.orders.models import OrderLine\n"
        "    from apps.payments.models import Payment\n"
        "    def g():\n"
        "        import apps.catalog.models\n"
    )
    assert _function_imports_in(source, "payments") == [(3, "apps.orders.models"), (6, "apps.catalog.models")]
    assert _function_imports_in(source, None)[1] == (4, "apps.payments.models")


def test_no_cross_app_import_inside_a_function():
    offenders = []
    for path in _modules():
        rel = path.relative_to(ROOT).as_posix()
        for lineno, module in _function_imports(path):
            if (rel, module) not in FUNCTION_IMPORT_ALLOWED:
                offenders.append(f"{rel}:{lineno} imports {module} inside a function")
    assert not offenders, "move these to module level (the layers are one-directional):\n" + "\n".join(offenders)


def test_the_function_import_allow_list_has_no_stale_entries():
    present = {(path.relative_to(ROOT).as_posix(), module) for path in _modules() for _, module in _function_imports(path)}
    stale = FUNCTION_IMPORT_ALLOWED - present
    assert not stale, f"no longer inside a function, drop from the allow-list: {stale}"


def test_no_module_passes_the_line_limit():
    lines = {path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines()) for path in _modules()}
    over = {rel: n for rel, n in lines.items() if n > MAX_LINES and rel not in TOO_LONG_ALLOWED}
    assert not over, f"split these modules (over {MAX_LINES} lines): {over}"


def test_the_line_limit_allow_list_has_no_stale_entries():
    stale = {rel for rel in TOO_LONG_ALLOWED
             if not (ROOT / rel).exists() or len((ROOT / rel).read_text().splitlines()) <= MAX_LINES}
    assert not stale, f"no longer over {MAX_LINES} lines (or gone), drop from the allow-list: {stale}"
