"""Great Expectations data docs that render without internet access, and where the UI finds them.

GX's pages load Bootstrap, jQuery, bootstrap-table, Font Awesome and Vega from CDNs; offline they show as an
unstyled page with an empty results list (the tables are filled by those scripts). So:

- `fetch_assets` (at install time: `make install` → `sa gx-assets`; the Dockerfile at build time) downloads the exact
  npm packages those CDN URLs serve, from the npm registry, checks each tarball's sha512 against `ASSETS`, and keeps
  only the files the pages use under `<python environment>/share/sa-gx-assets` (no network needed after that);
- `localize_site` (after every docs build, `include.quality.validate`) copies them into the site as
  `static/vendor/…` and points every page's CDN URL at its local copy (relative links: the site can be served under
  any prefix — the Airflow UI's "GX Data Docs" page serves it at /gx-data-docs/).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from include.config import Settings, get_settings

VENDOR_DIR = "static/vendor"
REGISTRY = "https://registry.npmjs.org"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str  # the registry's sha512 of the tarball
    files: dict[str, str]  # path in the tarball (under package/) → path under the vendor dir

    @property
    def tarball(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name.split('/')[-1]}-{self.version}.tgz"


PACKAGES = (
    Package("jquery", "3.7.1",
            "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
            {"dist/jquery.min.js": "jquery/jquery.min.js"}),
    Package("bootstrap", "4.3.1",
            "sha512-rXqOmH1VilAt2DyPzluTi2blhk17bO7ef+zLLPlWvG494pDxcM234pJ8wTc/6R40UWizAIIMgxjvxZg5kmsbag==",
            {"dist/css/bootstrap.min.css": "bootstrap/bootstrap.min.css",
             "dist/js/bootstrap.min.js": "bootstrap/bootstrap.min.js"}),
    Package("popper.js", "1.12.9",
            "sha512-s0EEi9xiSCdqz9lV4IiVH5yIZnDX/U1t0tCjB+0jXx9jW8lrR7kOpVupiUg175ogqVoudpDXHF1p6dKATCHMeg==",
            {"dist/umd/popper.min.js": "popper/popper.min.js"}),
    Package("bootstrap-table", "1.19.1",
            "sha512-WvV+l1AI/C+zThaKmfHmi/IuayVNB0qdFyEhFx1jyZhO0oLtNJNANkCR3rvJf6Dkh72dsLElxpE/bzK9seEQLA==",
            {"dist/bootstrap-table.min.css": "bootstrap-table/bootstrap-table.min.css",
             "dist/bootstrap-table.min.js": "bootstrap-table/bootstrap-table.min.js",
             "dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
                 "bootstrap-table/bootstrap-table-filter-control.min.js",
             "dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
                 "bootstrap-table/bootstrap-table-filter-control.min.css"}),
    Package("@fortawesome/fontawesome-free", "6.6.0",
            "sha512-60G28ke/sXdtS9KZCpZSHHkCbdsOGEhIUGlwq6yhY74UpTiToIh8np7A8yphhM4BWsvNFtIvLpi4co+h9Mr9Ow==",
            {"css/all.min.css": "fontawesome/css/all.min.css",
             **{f"webfonts/{font}.woff2": f"fontawesome/webfonts/{font}.woff2"
                for font in ("fa-brands-400", "fa-regular-400", "fa-solid-900", "fa-v4compatibility")}}),
    Package("bootstrap-datepicker", "1.9.0",
            "sha512-9rYYbaVOheGYxjOr/+bJCmRPihfy+LkLSg4fIFMT9Od8WwWB/MB50w0JO1eBgKUMbb7PFHQD5uAfI3ArAxZRXA==",
            {"dist/css/bootstrap-datepicker.min.css": "bootstrap-datepicker/bootstrap-datepicker.min.css",
             "dist/js/bootstrap-datepicker.min.js": "bootstrap-datepicker/bootstrap-datepicker.min.js"}),
    Package("@forevolve/bootstrap-dark", "1.1.0",
            "sha512-A3ucpEpxPoTVO490lZZCfjPXxv832l7mm1IxX3bXyxvgwnPGXDLyh7dWrphXKO8YBAu3EswbBEu3VSW8NRMW3A==",
            {"dist/css/bootstrap-prefers-dark.css": "bootstrap-dark/bootstrap-prefers-dark.css"}),
    Package("vega", "5.33.0",
            "sha512-jNAGa7TxLojOpMMMrKMXXBos4K6AaLJbCgGDOw1YEkLRjUkh12pcf65J2lMSdEHjcEK47XXjKiOUVZ8L+MniBA==",
            {"build/vega.min.js": "vega/vega.min.js"}),
    Package("vega-lite", "5.23.0",
            "sha512-l4J6+AWE3DIjvovEoHl2LdtCUkfm4zs8Xxx7INwZEAv+XVb6kR6vIN1gt3t2gN2gs/y4DYTs/RPoTeYAuEg6mA==",
            {"build/vega-lite.min.js": "vega/vega-lite.min.js"}),
    Package("vega-embed", "6.29.0",
            "sha512-PmlshTLtLFLgWtF/b23T1OwX53AugJ9RZ3qPE2c01VFAbgt3/GSNI/etzA/GzdrkceXFma+FDHNXUppKuM0U6Q==",
            {"build/vega-embed.min.js": "vega/vega-embed.min.js"}),
)

# Every CDN URL GX's templates use (great_expectations/render/view/templates) → its local copy.
CDN_URLS = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/bootstrap.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper/popper.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table/bootstrap-table-filter-control.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "bootstrap-table/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table/bootstrap-table-filter-control.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fontawesome/css/all.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker/bootstrap-datepicker.min.js",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "bootstrap-dark/bootstrap-prefers-dark.css",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega/vega-embed.min.js",
}


class AssetsMissing(RuntimeError):
    pass


def assets_dir(settings: Settings) -> Path:
    """Installed with the Python environment (like the packages themselves): `<sys.prefix>/share/sa-gx-assets`."""
    del settings  # one per installation, whatever the local state directory
    return Path(sys.prefix) / "share" / "sa-gx-assets"


def site_dir(settings: Settings) -> Path:
    """The local GX data docs site (great_expectations.yml `data_docs_sites.local_site`)."""
    return settings.gx_root / "uncommitted" / "data_docs" / "local_site"


def _complete(target: Path) -> bool:
    return all((target / local).is_file() for p in PACKAGES for local in p.files.values())


def fetch_assets(settings: Settings | None = None) -> Path:
    """Download (once) and verify the packages the data docs pages use; returns the assets directory."""
    settings = settings or get_settings()
    target = assets_dir(settings)
    if _complete(target):
        return target
    for package in PACKAGES:
        with urllib.request.urlopen(package.tarball, timeout=120) as response:  # a fixed https URL
            data = response.read()
        algorithm, expected = package.integrity.split("-", 1)
        actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
        if actual != expected:
            raise AssetsMissing(f"{package.tarball}: {algorithm} {actual} does not match the pinned {expected}")
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member, local in package.files.items():
                extracted = tar.extractfile(f"package/{member}")
                if extracted is None:
                    raise AssetsMissing(f"{package.tarball}: no file package/{member}")
                path = target / local
                path.parent.mkdir(parents=True, exist_ok=True)
                staged = path.with_name(f".{path.name}.part")
                staged.write_bytes(extracted.read())
                os.replace(staged, path)
    return target


def localize_site(settings: Settings | None = None, *, written_since: float | None = None) -> int:
    """Copy the vendored assets into the site and point its pages at them; returns how many pages changed.

    `written_since` (a `time.time()`): only pages written since then — what one docs build rewrote — are read, so
    the work does not grow with the site's history. Without the assets (install skipped) the pages stay as GX wrote
    them (CDN links) and this says so."""
    settings = settings or get_settings()
    source, site = assets_dir(settings), site_dir(settings)
    if not site.is_dir():
        return 0
    if not _complete(source):
        raise AssetsMissing(f"GX data docs assets missing in {source}: run `sa gx-assets` (make install does)")
    vendor = site / VENDOR_DIR
    if not _complete(vendor):
        shutil.copytree(source, vendor, dirs_exist_ok=True)
    changed = 0
    for page in site.rglob("*.html"):
        if written_since is not None and page.stat().st_mtime < written_since:
            continue
        text = page.read_text(encoding="utf-8")
        if "https://" not in text:
            continue
        prefix = os.path.relpath(vendor, page.parent)
        new = text
        for url, local in CDN_URLS.items():
            new = new.replace(f'"{url}"', f'"{prefix}/{local}"').replace(f"'{url}'", f"'{prefix}/{local}'")
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed += 1
    return changed
