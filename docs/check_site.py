"""Check the built documentation site as a reader meets it.

    python docs/check_site.py docs/_build/html            # links and anchors (make docs runs it)
    python docs/check_site.py docs/_build/html --browser  # and every page in headless Chromium

Links: every ``href`` and ``src`` of every page that points inside the site must name a file
that exists and, with a ``#fragment``, an element of that page with that id (Sphinx's
``linkcheck`` builder checks only the links that leave the site, and needs the network).
API pages: a class's page documents every public method, inherited ones included.

Browser (needs ``selenium`` and Chromium with its driver): every page loads without a
JavaScript error, shows a title and body text, and every image on it has decoded (its natural
width is not 0), so that the gallery's figures and the benchmark plots are really there.
The API pages must each document their object (a ``dl.py`` block).
"""

import argparse
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

#: Pages Sphinx writes for itself, which link to what search and the index build at runtime.
SKIPPED = {"search.html", "genindex.html", "py-modindex.html"}


class _Page(HTMLParser):
    """The ids of a page and the links it holds."""

    def __init__(self):
        super().__init__()
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        for name in ("href", "src"):
            if attrs.get(name):
                self.links.append(attrs[name])


def _parse(path):
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def broken_links(site):
    """``(page, link, why)`` for every link inside ``site`` that leads nowhere."""
    pages = {path: _parse(path) for path in site.rglob("*.html")}
    broken = []
    for path, page in pages.items():
        if path.name in SKIPPED or "_static" in path.parts:  # theme templates, not pages
            continue
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:")):
                continue  # leaves the site: linkcheck's business
            target, fragment = parts.path, parts.fragment  # a ?query names no file
            target_path = (path.parent / unquote(target)).resolve() if target else path
            if target_path.is_dir():
                target_path = target_path / "index.html"
            if not target_path.exists():
                broken.append((path, link, "no such file"))
            elif fragment and target_path.suffix == ".html":
                ids = pages.get(target_path)
                ids = ids.ids if ids is not None else _parse(target_path).ids
                if unquote(fragment) not in ids:
                    broken.append((path, link, f"no element with id {fragment!r}"))
    return broken


def undocumented_methods(site):
    """``(page, method)`` for every public method of a class that its API page lacks
    (inherited ones included: ``fit`` lives on the estimators' shared base)."""
    import importlib
    import inspect

    missing = []
    for path in sorted((site / "generated").glob("skautoint.*.html")):
        module_name, _, name = path.stem.rpartition(".")
        obj = getattr(importlib.import_module(module_name), name, None)
        if not inspect.isclass(obj):
            continue
        ids = _parse(path).ids
        for method, _ in inspect.getmembers(obj, callable):
            if (method.startswith("_") or method.endswith("_request") or inspect.isclass(_)
                    or method == "get_metadata_routing"
                    or any(method in vars(base) for base in (object, BaseException))):
                continue  # what conf.py leaves out: scikit-learn's routing, Python's own
            if f"{path.stem}.{method}" not in ids:
                missing.append((path, method))
    return missing


def browser_problems(site):
    """``(page, problem)`` for every page that does not render whole in headless Chromium."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    driver = webdriver.Chrome(options=options)
    problems = []
    try:
        for path in sorted(site.rglob("*.html")):
            if path.name in SKIPPED or {"_sources", "_static"} & set(path.parts):
                continue
            driver.get(path.resolve().as_uri())
            title = driver.title.strip()
            text = driver.execute_script("return document.body.innerText.length")
            broken = driver.execute_script(
                "return Array.from(document.images).filter("
                "i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
            errors = [entry["message"] for entry in driver.get_log("browser")
                      if entry["level"] == "SEVERE"]
            if not title or text < 200:
                problems.append((path, f"looks empty (title {title!r}, {text} characters)"))
            if broken:
                problems.append((path, f"images that did not load: {broken}"))
            if errors:
                problems.append((path, f"JavaScript errors: {errors}"))
            if "generated" in path.parts and not driver.find_elements("css selector", "dl.py"):
                problems.append((path, "an API page that documents no object"))
    finally:
        driver.quit()
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built HTML site, e.g. docs/_build/html")
    parser.add_argument("--browser", action="store_true", help="also render every page")
    args = parser.parse_args()
    n_pages = sum(1 for p in args.site.rglob("*.html") if "_static" not in p.parts)
    problems = [(page, f"{link}: {why}") for page, link, why in broken_links(args.site)]
    problems += [(page, f"the method {method} is not documented")
                 for page, method in undocumented_methods(args.site)]
    if args.browser:
        problems += browser_problems(args.site)
    for page, problem in problems:
        print(f"{page.relative_to(args.site)}: {problem}")
    print(f"{n_pages} pages checked{' in Chromium' if args.browser else ''}: "
          f"{len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
