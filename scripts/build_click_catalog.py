"""Compile ikou/catalog/click.ja.yaml into the gettext catalogue click reads (`make generated`)."""

from importlib import resources

from ikou.i18n import click_catalog_mo

target = resources.files("ikou.catalog").joinpath("locale", "ja", "LC_MESSAGES", "messages.mo")
with open(str(target), "wb") as fh:
    fh.write(click_catalog_mo())
print(f"wrote {target}")
